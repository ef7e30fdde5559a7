//! Running a command with a deadline and its output captured in files. Files rather than pipes:
//! a container started by `create` inherits the runtime's stdout and stderr and may keep them
//! open long after the runtime exits, which would block a pipe reader forever.

use std::fs::{self, File};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::thread::sleep;
use std::time::{Duration, Instant};

use crate::error::{FixtureError, Result};

/// The default deadline of a runtime command: generous, timing is the benchmark's job.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(60);

/// What a finished command did.
#[derive(Debug, Clone)]
pub struct CmdOutput {
    /// The command line, for messages.
    pub command: String,
    /// How it exited.
    pub status: ExitStatus,
    /// Everything written to stdout (also by a container that inherited it, so far).
    pub stdout: String,
    /// Everything written to stderr.
    pub stderr: String,
}

impl CmdOutput {
    /// The exit code, or `None` if the command itself was killed by a signal.
    pub fn code(&self) -> Option<i32> {
        self.status.code()
    }

    fn describe(&self) -> String {
        format!(
            "`{}` exited with {:?}\n--- stdout ---\n{}\n--- stderr ---\n{}",
            self.command,
            self.code(),
            self.stdout,
            self.stderr
        )
    }

    /// Panics unless the command exited 0.
    pub fn assert_success(&self) -> &Self {
        assert!(
            self.status.success(),
            "expected success: {}",
            self.describe()
        );
        self
    }

    /// Panics unless the command exited with `code`.
    pub fn assert_code(&self, code: i32) -> &Self {
        assert_eq!(self.code(), Some(code), "{}", self.describe());
        self
    }

    /// Panics unless the command failed the way a runtime must fail on bad input: a non-zero
    /// exit code and exactly one non-empty line on stderr. Returns that line.
    pub fn assert_clean_failure(&self) -> String {
        let code = self.code();
        assert!(
            matches!(code, Some(c) if c != 0),
            "expected a non-zero exit: {}",
            self.describe()
        );
        let lines: Vec<&str> = self
            .stderr
            .lines()
            .filter(|l| !l.trim().is_empty())
            .collect();
        assert_eq!(
            lines.len(),
            1,
            "expected one error line: {}",
            self.describe()
        );
        lines[0].to_owned()
    }
}

/// A command running in the background with its output going to files.
#[derive(Debug)]
pub struct Spawned {
    command: String,
    child: Child,
    stdout: PathBuf,
    stderr: PathBuf,
}

impl Spawned {
    /// Waits up to `timeout` for the command; kills it and fails if it is still running.
    pub fn finish(mut self, timeout: Duration) -> Result<CmdOutput> {
        let deadline = Instant::now() + timeout;
        let status = loop {
            if let Some(status) = self
                .child
                .try_wait()
                .map_err(FixtureError::io(format!("waiting for `{}`", self.command)))?
            {
                break status;
            }
            if Instant::now() > deadline {
                // Best effort: the command is wedged, and we report that below.
                let _ = self.child.kill();
                let _ = self.child.wait();
                return Err(FixtureError::Timeout {
                    command: self.command,
                    seconds: timeout.as_secs(),
                });
            }
            sleep(Duration::from_millis(5));
        };
        Ok(CmdOutput {
            stdout: read_capture(&self.stdout)?,
            stderr: read_capture(&self.stderr)?,
            command: self.command,
            status,
        })
    }
}

fn read_capture(path: &Path) -> Result<String> {
    let bytes = fs::read(path).map_err(FixtureError::io(format!("reading {}", path.display())))?;
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}

/// Starts `command` with stdin from /dev/null and stdout/stderr captured in fresh files under
/// `capture_dir`.
pub fn spawn_captured(command: Command, capture_dir: &Path) -> Result<Spawned> {
    spawn_captured_with_stdin(command, Stdio::null(), capture_dir)
}

/// Like [`spawn_captured`], with the given stdin.
pub fn spawn_captured_with_stdin(
    mut command: Command,
    stdin: Stdio,
    capture_dir: &Path,
) -> Result<Spawned> {
    static SEQ: AtomicU32 = AtomicU32::new(0);
    let n = SEQ.fetch_add(1, Ordering::Relaxed);
    let stdout = capture_dir.join(format!("cmd-{n}.out"));
    let stderr = capture_dir.join(format!("cmd-{n}.err"));
    let out_file = File::create(&stdout).map_err(FixtureError::io("creating capture file"))?;
    let err_file = File::create(&stderr).map_err(FixtureError::io("creating capture file"))?;
    let description = describe(&command);
    let child = command
        .stdin(stdin)
        .stdout(out_file)
        .stderr(err_file)
        .spawn()
        .map_err(FixtureError::io(format!("starting `{description}`")))?;
    Ok(Spawned {
        command: description,
        child,
        stdout,
        stderr,
    })
}

/// Runs `command` to completion within `timeout`.
pub fn run_captured(command: Command, capture_dir: &Path, timeout: Duration) -> Result<CmdOutput> {
    spawn_captured(command, capture_dir)?.finish(timeout)
}

fn describe(command: &Command) -> String {
    std::iter::once(command.get_program())
        .chain(command.get_args())
        .map(|a| a.to_string_lossy().into_owned())
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sh(script: &str) -> Command {
        let mut c = Command::new("/bin/sh");
        c.args(["-c", script]);
        c
    }

    #[test]
    fn captures_output_and_code() {
        let dir = tempfile::tempdir().unwrap();
        let out = run_captured(
            sh("echo out; echo err >&2; exit 3"),
            dir.path(),
            DEFAULT_TIMEOUT,
        )
        .unwrap();
        assert_eq!(out.code(), Some(3));
        assert_eq!(out.stdout, "out\n");
        assert_eq!(out.assert_clean_failure(), "err");
    }

    #[test]
    fn kills_a_command_past_its_deadline() {
        let dir = tempfile::tempdir().unwrap();
        let err = run_captured(sh("sleep 30"), dir.path(), Duration::from_millis(200)).unwrap_err();
        assert!(matches!(err, FixtureError::Timeout { .. }), "{err}");
    }

    #[test]
    #[should_panic(expected = "expected one error line")]
    fn two_error_lines_are_not_a_clean_failure() {
        let dir = tempfile::tempdir().unwrap();
        let out = run_captured(
            sh("echo a >&2; echo b >&2; exit 1"),
            dir.path(),
            DEFAULT_TIMEOUT,
        )
        .unwrap();
        out.assert_clean_failure();
    }
}
