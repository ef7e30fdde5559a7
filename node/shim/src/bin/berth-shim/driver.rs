//! The OCI runtime behind the shim: berth-runtime's library in-process, or a runc-compatible
//! binary driven through its command line.

use std::fs;
use std::io::Write;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd, RawFd};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::{anyhow, bail, Context, Result};
use berth_runtime::{CreateOptions, ExecOptions, Runtime};
use nix::fcntl::{fcntl, FcntlArg};
use nix::sys::signal::Signal;
use nix::unistd::{dup2, Pid};
use oci_spec::runtime::{LinuxResources, Process};

/// The three fds a container process gets as stdin, stdout and stderr.
#[derive(Debug)]
pub struct ProcessStdio {
    pub stdin: OwnedFd,
    pub stdout: OwnedFd,
    pub stderr: OwnedFd,
}

/// How to reach a container's runtime.
#[derive(Debug)]
pub enum Driver {
    Builtin(Runtime),
    Binary { path: PathBuf, root: PathBuf },
}

impl Driver {
    /// Creates container `id` from `bundle`, its init on `stdio` (or a terminal sent to
    /// `console`), and returns the init's host PID.
    pub fn create(
        &self,
        id: &str,
        bundle: &Path,
        stdio: &ProcessStdio,
        console: Option<&Path>,
    ) -> Result<Pid> {
        match self {
            Driver::Builtin(runtime) => {
                let options = CreateOptions {
                    bundle: bundle.to_owned(),
                    console_socket: console.map(Path::to_owned),
                    ..CreateOptions::default()
                };
                let container = with_stdio(stdio, || runtime.create(id, &options))??;
                Ok(Pid::from_raw(container.record.pid))
            }
            Driver::Binary { .. } => {
                let pid_file = bundle.join("init.pid");
                let mut args = vec![
                    "create".into(),
                    "--bundle".into(),
                    bundle.display().to_string(),
                    "--pid-file".into(),
                    pid_file.display().to_string(),
                ];
                if let Some(console) = console {
                    args.extend(["--console-socket".into(), console.display().to_string()]);
                }
                args.push(id.into());
                self.run_cli(&args, Some(stdio), None)?;
                take_pid_file(&pid_file)
            }
        }
    }

    pub fn start(&self, id: &str) -> Result<()> {
        match self {
            Driver::Builtin(runtime) => Ok(runtime.start(id)?),
            Driver::Binary { .. } => self.run_cli(&["start", id], None, None).map(drop),
        }
    }

    pub fn kill(&self, id: &str, signal: Signal, all: bool) -> Result<()> {
        match self {
            Driver::Builtin(runtime) => Ok(runtime.kill(id, signal, all)?),
            Driver::Binary { .. } => {
                let number = (signal as i32).to_string();
                let mut args = vec!["kill"];
                if all {
                    args.push("--all");
                }
                args.extend([id, number.as_str()]);
                self.run_cli(&args, None, None).map(drop)
            }
        }
    }

    /// Removes the container, killing whatever still runs in it.
    pub fn delete(&self, id: &str) -> Result<()> {
        match self {
            Driver::Builtin(runtime) => Ok(runtime.delete(id, true)?),
            Driver::Binary { .. } => self
                .run_cli(&["delete", "--force", id], None, None)
                .map(drop),
        }
    }

    pub fn pause(&self, id: &str) -> Result<()> {
        match self {
            Driver::Builtin(runtime) => Ok(runtime.pause(id)?),
            Driver::Binary { .. } => self.run_cli(&["pause", id], None, None).map(drop),
        }
    }

    pub fn resume(&self, id: &str) -> Result<()> {
        match self {
            Driver::Builtin(runtime) => Ok(runtime.resume(id)?),
            Driver::Binary { .. } => self.run_cli(&["resume", id], None, None).map(drop),
        }
    }

    /// Host PIDs of the container's processes.
    pub fn pids(&self, id: &str) -> Result<Vec<i32>> {
        match self {
            Driver::Builtin(runtime) => {
                Ok(runtime.pids(id)?.into_iter().map(Pid::as_raw).collect())
            }
            Driver::Binary { .. } => {
                let out = self.run_cli(&["ps", "--format", "json", id], None, None)?;
                serde_json::from_slice::<Option<Vec<i32>>>(&out)
                    .map(Option::unwrap_or_default)
                    .context("parsing the runtime's ps output")
            }
        }
    }

    pub fn update(&self, id: &str, resources: &LinuxResources) -> Result<()> {
        match self {
            Driver::Builtin(runtime) => Ok(runtime.update(id, resources)?),
            Driver::Binary { .. } => {
                let json = serde_json::to_vec(resources)?;
                self.run_cli(&["update", "--resources", "-", id], None, Some(&json))
                    .map(drop)
            }
        }
    }

    /// Runs `process` in container `id` on `stdio` (or a terminal sent to `console`), without
    /// waiting for it; returns its host PID. `scratch` is a directory for the runtime's files.
    pub fn exec(
        &self,
        id: &str,
        process: &Process,
        stdio: &ProcessStdio,
        console: Option<&Path>,
        scratch: &Path,
    ) -> Result<Pid> {
        let pid_file = scratch.join("exec.pid");
        match self {
            Driver::Builtin(runtime) => {
                let options = ExecOptions {
                    process: process.clone(),
                    console_socket: console.map(Path::to_owned),
                    pid_file: Some(pid_file.clone()),
                    detach: true,
                    preserve_fds: 0,
                };
                with_stdio(stdio, || runtime.exec(id, &options))??;
            }
            Driver::Binary { .. } => {
                let process_file = scratch.join("exec-process.json");
                fs::write(&process_file, serde_json::to_vec(process)?)
                    .with_context(|| format!("writing {}", process_file.display()))?;
                let mut args = vec![
                    "exec".into(),
                    "--process".into(),
                    process_file.display().to_string(),
                    "--detach".into(),
                    "--pid-file".into(),
                    pid_file.display().to_string(),
                ];
                if let Some(console) = console {
                    args.extend(["--console-socket".into(), console.display().to_string()]);
                }
                args.push(id.into());
                let result = self.run_cli(&args, Some(stdio), None);
                let _ = fs::remove_file(&process_file);
                result?;
            }
        }
        take_pid_file(&pid_file)
    }

    /// Runs `<binary> --root R --log L --log-format json ARGS`, on `stdio` if given (else on
    /// /dev/null with stdout captured), feeding `input` to stdin. Returns stdout; a failure
    /// carries the runtime's logged error.
    fn run_cli<S: AsRef<str>>(
        &self,
        args: &[S],
        stdio: Option<&ProcessStdio>,
        input: Option<&[u8]>,
    ) -> Result<Vec<u8>> {
        let Driver::Binary { path, root } = self else {
            bail!("not a runtime binary");
        };
        let log = root.join(format!("shim-{}.log", std::process::id()));
        let _ = fs::remove_file(&log);
        let mut command = Command::new(path);
        command
            .arg("--root")
            .arg(root)
            .arg("--log")
            .arg(&log)
            .args(["--log-format", "json"])
            .args(args.iter().map(AsRef::as_ref));
        match stdio {
            Some(stdio) => {
                command
                    .stdin(Stdio::from(stdio.stdin.try_clone()?))
                    .stdout(Stdio::from(stdio.stdout.try_clone()?))
                    .stderr(Stdio::from(stdio.stderr.try_clone()?));
            }
            None => {
                command
                    .stdin(if input.is_some() {
                        Stdio::piped()
                    } else {
                        Stdio::null()
                    })
                    .stdout(Stdio::piped())
                    .stderr(Stdio::piped());
            }
        }
        let mut child = command
            .spawn()
            .with_context(|| format!("running {}", path.display()))?;
        if let (Some(input), Some(mut stdin)) = (input, child.stdin.take()) {
            stdin.write_all(input).context("writing to the runtime")?;
        }
        let output = child.wait_with_output()?;
        let logged = fs::read_to_string(&log).unwrap_or_default();
        let _ = fs::remove_file(&log);
        if output.status.success() {
            return Ok(output.stdout);
        }
        let mut message = logged_errors(&logged);
        if message.is_empty() {
            message = String::from_utf8_lossy(&output.stderr).trim().to_owned();
        }
        let verb = args.first().map_or("", AsRef::as_ref);
        Err(anyhow!(
            "{} {verb} failed ({}): {message}",
            path.display(),
            output.status
        ))
    }
}

/// The `msg` of every error record in a runc-style JSON log.
fn logged_errors(log: &str) -> String {
    log.lines()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .filter(|record| record["level"] == "error")
        .filter_map(|record| record["msg"].as_str().map(str::to_owned))
        .collect::<Vec<_>>()
        .join("; ")
}

fn take_pid_file(path: &Path) -> Result<Pid> {
    let text = fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let _ = fs::remove_file(path);
    let pid: i32 = text
        .trim()
        .parse()
        .with_context(|| format!("bad pid {text:?} in {}", path.display()))?;
    Ok(Pid::from_raw(pid))
}

/// Runs `f` with our stdin, stdout and stderr replaced by `stdio`: the builtin runtime's
/// container processes inherit them from us. Ours are restored afterwards.
fn with_stdio<T>(stdio: &ProcessStdio, f: impl FnOnce() -> T) -> Result<T> {
    let targets = [
        stdio.stdin.as_fd(),
        stdio.stdout.as_fd(),
        stdio.stderr.as_fd(),
    ];
    let mut saved = Vec::with_capacity(3);
    for fd in 0..3 {
        saved.push(save_fd(fd)?);
    }
    let result = targets
        .iter()
        .zip(0..)
        .try_for_each(|(from, to)| dup2(from.as_raw_fd(), to).map(drop))
        .context("setting up the process's stdio")
        .map(|()| f());
    for (fd, to) in saved.iter().zip(0..) {
        dup2(fd.as_raw_fd(), to).context("restoring the shim's stdio")?;
    }
    result
}

/// A close-on-exec duplicate of `fd`, above the stdio range.
fn save_fd(fd: RawFd) -> Result<OwnedFd> {
    // SAFETY: fds 0 to 2 stay open for the shim's whole life; borrowed only to duplicate.
    let borrowed = unsafe { BorrowedFd::borrow_raw(fd) };
    let dup = fcntl(borrowed.as_raw_fd(), FcntlArg::F_DUPFD_CLOEXEC(3))
        .with_context(|| format!("saving fd {fd}"))?;
    // SAFETY: F_DUPFD_CLOEXEC just returned this new fd; nothing else owns it.
    Ok(unsafe { <OwnedFd as std::os::fd::FromRawFd>::from_raw_fd(dup) })
}
