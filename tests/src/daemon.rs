//! One test's berthd: a real daemon on a private `--root`, `--exec-root` and socket, driven
//! through `berthctl` and the gRPC API. Dropping it removes every container it ran, stops the
//! daemon, kills any shim left behind and unmounts whatever is still mounted under its root.

use std::fs;
use std::os::unix::fs::FileTypeExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Mutex, MutexGuard, PoisonError};

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use tempfile::TempDir;

use crate::command::{run_captured, spawn_captured_with_stdin, CmdOutput, DEFAULT_TIMEOUT};
use crate::error::{FixtureError, Result};
use crate::ids::run_prefix;
use crate::mounts::detach_mounts_under;
use crate::rootfs::build_busybox_rootfs;
use crate::runtime::sibling_binary;
use crate::wait::{wait_until, SETTLE_TIMEOUT};

/// Serialises the daemon tests of one test binary: two cores, shared cgroups and mounts.
static DAEMONS: Mutex<()> = Mutex::new(());

/// The reference the busybox test image is imported as.
pub const BUSYBOX: &str = "busybox";

/// A running test daemon.
pub struct Daemon {
    dir: TempDir,
    child: Option<Child>,
    extra_args: Vec<String>,
    _serial: MutexGuard<'static, ()>,
}

impl Daemon {
    /// Starts berthd on fresh temporary directories and waits until it serves.
    pub fn start() -> Result<Self> {
        Self::start_with(&[])
    }

    /// Like [`Daemon::start`], with extra berthd flags (for example `--runtime runc`).
    pub fn start_with(extra_args: &[&str]) -> Result<Self> {
        let serial = DAEMONS.lock().unwrap_or_else(PoisonError::into_inner);
        if !nix::unistd::geteuid().is_root() {
            return Err(FixtureError::Unexpected(
                "the end-to-end tests run containers and must run as root".into(),
            ));
        }
        let dir = tempfile::Builder::new()
            .prefix("berth-d-")
            .tempdir()
            .map_err(FixtureError::io("creating the daemon directory"))?;
        let mut daemon = Self {
            dir,
            child: None,
            extra_args: extra_args.iter().map(|a| (*a).to_owned()).collect(),
            _serial: serial,
        };
        daemon.spawn()?;
        Ok(daemon)
    }

    /// The persistent state directory (`--root`).
    pub fn root(&self) -> PathBuf {
        self.dir.path().join("root")
    }

    /// The runtime state directory (`--exec-root`).
    pub fn exec_root(&self) -> PathBuf {
        self.dir.path().join("run")
    }

    /// The daemon's socket.
    pub fn socket(&self) -> PathBuf {
        self.exec_root().join("berthd.sock")
    }

    /// `unix://…` for `-H`.
    pub fn host(&self) -> String {
        format!("unix://{}", self.socket().display())
    }

    /// A scratch directory private to this test.
    pub fn scratch(&self) -> PathBuf {
        self.dir.path().join("scratch")
    }

    /// The daemon's PID.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// The cgroup parent the daemon puts containers under, unique to this run.
    pub fn cgroup_parent() -> String {
        format!("/{}-berthd", run_prefix())
    }

    fn spawn(&mut self) -> Result<()> {
        fs::create_dir_all(self.scratch()).map_err(FixtureError::io("creating scratch/"))?;
        let log = fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.path().join("berthd.log"))
            .map_err(FixtureError::io("opening berthd.log"))?;
        let log_err = log
            .try_clone()
            .map_err(FixtureError::io("cloning berthd.log"))?;
        let child = Command::new(sibling_binary("berthd")?)
            .arg("--root")
            .arg(self.root())
            .arg("--exec-root")
            .arg(self.exec_root())
            .arg("-H")
            .arg(self.host())
            .arg("--cgroup-parent")
            .arg(Self::cgroup_parent())
            .arg("--log-level")
            .arg("debug")
            .args(&self.extra_args)
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(log_err)
            .spawn()
            .map_err(FixtureError::io("starting berthd"))?;
        self.child = Some(child);
        let socket = self.socket();
        wait_until(SETTLE_TIMEOUT, "berthd to listen", || {
            let listening = fs::metadata(&socket).is_ok_and(|m| m.file_type().is_socket())
                && self
                    .try_ctl(&["version"])
                    .is_ok_and(|out| out.status.success());
            Ok(listening.then_some(()))
        })
        .map_err(|err| FixtureError::Unexpected(format!("{err}\n{}", self.log())))
    }

    /// The daemon's log so far.
    pub fn log(&self) -> String {
        fs::read_to_string(self.dir.path().join("berthd.log")).unwrap_or_default()
    }

    /// Kills the daemon with SIGKILL, as a crash would, leaving its shims running.
    pub fn kill9(&mut self) -> Result<()> {
        if let Some(mut child) = self.child.take() {
            child.kill().map_err(FixtureError::io("killing berthd"))?;
            child.wait().map_err(FixtureError::io("reaping berthd"))?;
        }
        Ok(())
    }

    /// Stops the daemon with SIGTERM and waits for it to exit.
    pub fn terminate(&mut self) -> Result<()> {
        if let Some(mut child) = self.child.take() {
            let pid = Pid::from_raw(i32::try_from(child.id()).unwrap_or(i32::MAX));
            kill(pid, Signal::SIGTERM).map_err(FixtureError::sys("SIGTERM berthd"))?;
            child.wait().map_err(FixtureError::io("reaping berthd"))?;
        }
        Ok(())
    }

    /// Starts the daemon again on the same directories (after `kill9` or `terminate`).
    pub fn restart(&mut self) -> Result<()> {
        self.kill9()?;
        self.spawn()
    }

    fn ctl_command(&self, args: &[&str]) -> Result<Command> {
        let mut command = Command::new(sibling_binary("berthctl")?);
        command.arg("-H").arg(self.host()).args(args);
        Ok(command)
    }

    fn try_ctl(&self, args: &[&str]) -> Result<CmdOutput> {
        let capture = self.dir.path().join("out");
        fs::create_dir_all(&capture).map_err(FixtureError::io("creating out/"))?;
        run_captured(self.ctl_command(args)?, &capture, DEFAULT_TIMEOUT)
    }

    /// Runs `berthctl -H <this daemon> ARGS` with stdin closed.
    pub fn ctl(&self, args: &[&str]) -> CmdOutput {
        self.try_ctl(args)
            .unwrap_or_else(|err| panic!("berthctl {args:?}: {err}"))
    }

    /// Runs berthctl with `input` on its stdin.
    pub fn ctl_stdin(&self, args: &[&str], input: &[u8]) -> CmdOutput {
        let input_path = self.scratch().join("stdin");
        fs::write(&input_path, input).unwrap_or_else(|err| panic!("writing stdin: {err}"));
        let command = self
            .ctl_command(args)
            .unwrap_or_else(|err| panic!("berthctl {args:?}: {err}"));
        let file = fs::File::open(&input_path).unwrap_or_else(|err| panic!("stdin: {err}"));
        spawn_captured_with_stdin(command, file.into(), &self.dir.path().join("out"))
            .and_then(|spawned| spawned.finish(DEFAULT_TIMEOUT))
            .unwrap_or_else(|err| panic!("berthctl {args:?}: {err}"))
    }

    /// `berthctl ARGS`, asserting success; returns trimmed stdout.
    pub fn ok(&self, args: &[&str]) -> String {
        let out = self.ctl(args);
        out.assert_success();
        out.stdout.trim().to_owned()
    }

    /// Builds a busybox rootfs tar and imports it as `reference`; returns the image ID.
    pub fn import_busybox(&self, reference: &str) -> String {
        let tar = busybox_tar(&self.scratch()).unwrap_or_else(|err| panic!("{err}"));
        self.ok(&["import", &tar.to_string_lossy(), reference]);
        self.ok(&["image", "inspect", "-f", "{{.Id}}", reference])
    }

    /// A daemon with the busybox image imported as [`BUSYBOX`].
    pub fn with_busybox() -> Result<Self> {
        let daemon = Self::start()?;
        daemon.import_busybox(BUSYBOX);
        Ok(daemon)
    }

    /// PIDs of live processes whose command line mentions this daemon's directories (shims).
    pub fn leftover_processes(&self) -> Vec<i32> {
        let marker = self.dir.path().to_string_lossy().into_owned();
        let own = std::process::id();
        let Ok(entries) = fs::read_dir("/proc") else {
            return Vec::new();
        };
        entries
            .flatten()
            .filter_map(|e| e.file_name().to_str()?.parse::<i32>().ok())
            .filter(|pid| u32::try_from(*pid).is_ok_and(|p| p != own))
            .filter(|pid| {
                fs::read(format!("/proc/{pid}/cmdline"))
                    .map(|raw| String::from_utf8_lossy(&raw).contains(&marker))
                    .unwrap_or(false)
            })
            .collect()
    }

    fn clean_up(&mut self) {
        if self.child.is_some() {
            let ids = self.try_ctl(&["ps", "-aq", "--no-trunc"]).ok();
            for id in ids.iter().flat_map(|out| out.stdout.lines()) {
                let _ = self.try_ctl(&["rm", "-f", id.trim()]);
            }
        }
        let _ = self.terminate();
        for pid in self.leftover_processes() {
            let _ = kill(Pid::from_raw(pid), Signal::SIGKILL);
        }
        let _ = detach_mounts_under(self.dir.path());
        remove_cgroups(&Self::cgroup_parent());
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        self.clean_up();
    }
}

/// Removes the test cgroup parent (and any child a crashed test left) in every hierarchy.
fn remove_cgroups(parent: &str) {
    let Ok(hierarchies) = fs::read_dir("/sys/fs/cgroup") else {
        return;
    };
    let mut roots: Vec<PathBuf> = hierarchies.flatten().map(|e| e.path()).collect();
    roots.push(PathBuf::from("/sys/fs/cgroup"));
    for root in roots {
        let dir = root.join(parent.trim_start_matches('/'));
        if let Ok(children) = fs::read_dir(&dir) {
            for child in children.flatten().filter(|c| c.path().is_dir()) {
                let _ = fs::remove_dir(child.path());
            }
        }
        let _ = fs::remove_dir(&dir);
    }
}

/// Writes `dir/busybox.tar`, a tar of a busybox root filesystem, once per directory.
pub fn busybox_tar(dir: &Path) -> Result<PathBuf> {
    let tar = dir.join("busybox.tar");
    if tar.exists() {
        return Ok(tar);
    }
    let rootfs = dir.join("busybox-rootfs");
    build_busybox_rootfs(&rootfs)?;
    let status = Command::new("tar")
        .arg("-C")
        .arg(&rootfs)
        .args(["--numeric-owner", "-cf"])
        .arg(&tar)
        .arg(".")
        .status()
        .map_err(FixtureError::io("running tar"))?;
    if !status.success() {
        return Err(FixtureError::Unexpected(format!(
            "tar exited with {status}"
        )));
    }
    fs::remove_dir_all(&rootfs).map_err(FixtureError::io("removing the busybox rootfs"))?;
    Ok(tar)
}

/// Waits until `probe` holds, polling; panics with `what` after the settle timeout.
pub fn eventually(what: &str, mut probe: impl FnMut() -> bool) {
    wait_until(SETTLE_TIMEOUT, what, || Ok(probe().then_some(())))
        .unwrap_or_else(|err| panic!("{err}"));
}

/// The Unix time `seconds` from now, as `events --until` takes it.
pub fn unix_time_in(seconds: u64) -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or_default();
    (now + seconds).to_string()
}
