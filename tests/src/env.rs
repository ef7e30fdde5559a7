//! One test's world: the runtime under test, a private `--root` state directory, bundles in a
//! temporary directory, and a drop guard that force-deletes every container the test made and
//! removes their cgroups and any stray mounts, even when the test fails.

use std::cell::RefCell;
use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Mutex, MutexGuard, PoisonError};

use serde_json::Value;
use tempfile::TempDir;

use crate::bundle::Bundle;
use crate::cgroup;
use crate::command::{run_captured, spawn_captured, CmdOutput, Spawned, DEFAULT_TIMEOUT};
use crate::error::{FixtureError, Result};
use crate::ids::{cgroups_path_for, unique_id};
use crate::mounts::{detach_mounts_under, mounts_involving};
use crate::runtime::Runtime;
use crate::wait::{wait_until, SETTLE_TIMEOUT};

/// Serialises the tests of one test binary: they share the host's cgroups, mounts and only two
/// CPUs, and a fork bomb or an OOM test must not disturb its neighbours.
static HOST_STATE: Mutex<()> = Mutex::new(());

/// A container's `state` output.
#[derive(Debug, Clone)]
pub struct ContainerState {
    /// The whole JSON document.
    pub json: Value,
    /// `status`: creating, created, running, paused or stopped.
    pub status: String,
    /// `pid` of the container's init on the host (0 once stopped).
    pub pid: i32,
    /// `bundle`.
    pub bundle: PathBuf,
}

impl ContainerState {
    fn parse(text: &str) -> Result<Self> {
        let json: Value =
            serde_json::from_str(text).map_err(FixtureError::json(format!("state {text:?}")))?;
        Ok(Self {
            status: json["status"].as_str().unwrap_or_default().to_owned(),
            pid: json["pid"]
                .as_i64()
                .and_then(|p| i32::try_from(p).ok())
                .unwrap_or(0),
            bundle: PathBuf::from(json["bundle"].as_str().unwrap_or_default()),
            json,
        })
    }
}

/// A test's private world; dropping it cleans up.
pub struct TestEnv {
    runtime: Runtime,
    dir: TempDir,
    /// (id, cgroupsPath) of every container this test may have made.
    tracked: RefCell<Vec<(String, String)>>,
    _serial: MutexGuard<'static, ()>,
}

impl TestEnv {
    /// Takes the host-state lock, checks for root and finds the runtime.
    pub fn new() -> Result<Self> {
        let serial = HOST_STATE.lock().unwrap_or_else(PoisonError::into_inner);
        if !nix::unistd::geteuid().is_root() {
            return Err(FixtureError::Unexpected(
                "the end-to-end tests create containers and must run as root".into(),
            ));
        }
        let runtime = Runtime::locate()?;
        let dir = tempfile::Builder::new()
            .prefix("berth-test-")
            .tempdir()
            .map_err(FixtureError::io("creating the test directory"))?;
        for sub in ["state", "bundles", "out"] {
            fs::create_dir(dir.path().join(sub))
                .map_err(FixtureError::io(format!("creating {sub}/")))?;
        }
        Ok(Self {
            runtime,
            dir,
            tracked: RefCell::new(Vec::new()),
            _serial: serial,
        })
    }

    /// The runtime under test.
    pub fn runtime(&self) -> &Runtime {
        &self.runtime
    }

    /// The `--root` state directory given to every command.
    pub fn state_root(&self) -> PathBuf {
        self.dir.path().join("state")
    }

    /// A scratch directory private to this test (outside any bundle).
    pub fn scratch(&self) -> &Path {
        self.dir.path()
    }

    /// Makes sure the guard cleans up `id` and `cgroups_path` when the test ends.
    pub fn track(&self, id: &str, cgroups_path: &str) {
        self.tracked
            .borrow_mut()
            .push((id.to_owned(), cgroups_path.to_owned()));
    }

    /// A fresh busybox bundle with a unique id and cgroup, cleaned up with the test.
    pub fn bundle(&self, label: &str) -> Result<Bundle> {
        let id = unique_id(label);
        let cgroups_path = cgroups_path_for(&id);
        self.track(&id, &cgroups_path);
        Bundle::create(
            &self.dir.path().join("bundles").join(&id),
            &id,
            &cgroups_path,
        )
    }

    /// `runtime --root <state> <args>`, not yet started.
    pub fn command(&self, args: &[&str]) -> Command {
        let mut command = Command::new(self.runtime.binary());
        command.arg("--root").arg(self.state_root()).args(args);
        command
    }

    /// Runs the runtime with `args` to completion.
    pub fn call(&self, args: &[&str]) -> Result<CmdOutput> {
        self.finish(self.command(args))
    }

    /// Runs a prepared [`Self::command`] (e.g. with a working directory) to completion.
    pub fn finish(&self, command: Command) -> Result<CmdOutput> {
        run_captured(command, &self.dir.path().join("out"), DEFAULT_TIMEOUT)
    }

    /// Starts the runtime with `args` in the background.
    pub fn spawn(&self, args: &[&str]) -> Result<Spawned> {
        spawn_captured(self.command(args), &self.dir.path().join("out"))
    }

    /// Writes the bundle's config and runs `create --bundle <dir> <id>`.
    pub fn create(&self, bundle: &Bundle) -> Result<CmdOutput> {
        bundle.write()?;
        let dir = bundle.dir().to_string_lossy().into_owned();
        self.call(&["create", "--bundle", &dir, bundle.id()])
    }

    /// `create` then `start`, failing unless both succeed.
    pub fn create_and_start(&self, bundle: &Bundle) -> Result<ContainerState> {
        self.create(bundle)?.assert_success();
        self.call(&["start", bundle.id()])?.assert_success();
        self.state(bundle.id())
    }

    /// Writes the bundle's config and runs `run --bundle <dir> <id>` in the foreground.
    pub fn run(&self, bundle: &Bundle) -> Result<CmdOutput> {
        bundle.write()?;
        let dir = bundle.dir().to_string_lossy().into_owned();
        self.call(&["run", "--bundle", &dir, bundle.id()])
    }

    /// Parsed `state <id>`.
    pub fn state(&self, id: &str) -> Result<ContainerState> {
        let out = self.call(&["state", id])?;
        if !out.status.success() {
            return Err(FixtureError::Unexpected(format!(
                "state {id} failed: {}",
                out.stderr
            )));
        }
        ContainerState::parse(&out.stdout)
    }

    /// Polls `state` until the status is `status`.
    pub fn wait_for_status(&self, id: &str, status: &str) -> Result<ContainerState> {
        // `state` may fail while a backgrounded `run` is still creating the container.
        wait_until(SETTLE_TIMEOUT, &format!("{id} to be {status}"), || {
            Ok(self.state(id).ok().filter(|s| s.status == status))
        })
    }

    /// Everything the container `bundle` may have left on the host: state entries under
    /// `--root` mentioning its id, its cgroup directories, mounts of or under the bundle, and
    /// processes whose root is the bundle's rootfs.
    pub fn leftovers(&self, bundle: &Bundle) -> Result<Vec<String>> {
        self.leftovers_of(bundle.id(), &bundle.cgroups_path(), bundle.dir())
    }

    /// [`Self::leftovers`] for a container given by its parts.
    pub fn leftovers_of(
        &self,
        id: &str,
        cgroups_path: &str,
        bundle_dir: &Path,
    ) -> Result<Vec<String>> {
        let mut found = Vec::new();
        if let Ok(entries) = fs::read_dir(self.state_root()) {
            for entry in entries.flatten() {
                if entry.file_name().to_string_lossy().contains(id) {
                    found.push(format!("state entry {}", entry.path().display()));
                }
            }
        }
        for dir in cgroup::existing_dirs(cgroups_path)? {
            found.push(format!("cgroup {}", dir.display()));
        }
        for mount in mounts_involving(bundle_dir)? {
            found.push(format!(
                "mount {} (of {})",
                mount.mount_point.display(),
                mount.root.display()
            ));
        }
        for pid in processes_rooted_in(&bundle_dir.join("rootfs"))? {
            found.push(format!("process {pid} rooted in the bundle"));
        }
        Ok(found)
    }

    /// Panics if `bundle`'s container left anything behind.
    pub fn assert_nothing_left(&self, bundle: &Bundle) {
        let left = self
            .leftovers(bundle)
            .expect("listing leftovers reads only /proc and /sys");
        assert!(left.is_empty(), "left behind: {left:#?}");
    }
}

/// Host pids whose root directory is `rootfs` (compared by device and inode, since the path
/// of a root in another mount namespace is not printable from here).
pub fn processes_rooted_in(rootfs: &Path) -> Result<Vec<i32>> {
    let Ok(target) = fs::metadata(rootfs) else {
        return Ok(Vec::new());
    };
    let mut pids = Vec::new();
    let entries = fs::read_dir("/proc").map_err(FixtureError::io("listing /proc"))?;
    for entry in entries.flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<i32>() else {
            continue;
        };
        // Processes may exit while we look; those are simply not leftovers.
        if let Ok(root) = fs::metadata(entry.path().join("root")) {
            if root.dev() == target.dev() && root.ino() == target.ino() {
                pids.push(pid);
            }
        }
    }
    Ok(pids)
}

impl Drop for TestEnv {
    fn drop(&mut self) {
        for (id, cgroups_path) in self.tracked.borrow().iter() {
            // Best effort: most containers were already deleted by the test itself.
            let _ = self.call(&["delete", "--force", id]);
            if let Err(e) = cgroup::remove(cgroups_path) {
                eprintln!("cleanup of {id}: {e}");
            }
        }
        if let Err(e) = detach_mounts_under(self.dir.path()) {
            eprintln!("cleanup of {}: {e}", self.dir.path().display());
        }
    }
}
