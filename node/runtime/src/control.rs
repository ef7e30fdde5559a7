//! Operations on existing containers: state, list, kill, pause, resume, ps and delete.

use nix::errno::Errno;
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use oci_spec::runtime::LinuxResources;
use std::fs;
use std::thread::sleep;
use std::time::{Duration, Instant};

use crate::error::{Context, Result, RuntimeError};
use crate::hooks::run_hooks_logged;
use crate::state::{Container, Status};
use crate::Runtime;

/// How long `delete` waits for a killed container to die.
const DEATH_TIMEOUT: Duration = Duration::from_secs(10);

impl Runtime {
    /// The container and its current status.
    pub fn state(&self, id: &str) -> Result<(Container, Status)> {
        let container = self.store.load(id)?;
        let status = container.status();
        Ok((container, status))
    }

    /// Every container with its status.
    pub fn list(&self) -> Result<Vec<(Container, Status)>> {
        Ok(self
            .store
            .list()?
            .into_iter()
            .map(|c| {
                let status = c.status();
                (c, status)
            })
            .collect())
    }

    /// Sends `signal` to the init, or with `all` to every process of the container.
    pub fn kill(&self, id: &str, signal: Signal, all: bool) -> Result<()> {
        let container = self.store.load(id)?;
        let status = container.require("kill", Status::can_kill)?;
        if all {
            let cgroup = container.cgroup()?;
            for pid in cgroup.pids()? {
                send(pid, signal)?;
            }
            // Frozen processes only act on SIGKILL once thawed.
            if status == Status::Paused && signal == Signal::SIGKILL {
                cgroup.thaw()?;
            }
        } else {
            send(Pid::from_raw(container.record.pid), signal)?;
        }
        Ok(())
    }

    pub fn pause(&self, id: &str) -> Result<()> {
        let container = self.store.load(id)?;
        container.require("pause", Status::can_pause)?;
        Ok(container.cgroup()?.freeze()?)
    }

    pub fn resume(&self, id: &str) -> Result<()> {
        let container = self.store.load(id)?;
        container.require("resume", Status::can_resume)?;
        Ok(container.cgroup()?.thaw()?)
    }

    /// Applies new cgroup limits (those set in `resources`) to a live container.
    pub fn update(&self, id: &str, resources: &LinuxResources) -> Result<()> {
        let container = self.store.load(id)?;
        container.require("update", Status::can_kill)?;
        Ok(container.cgroup()?.update(resources)?)
    }

    /// Host pids of the container's processes.
    pub fn pids(&self, id: &str) -> Result<Vec<Pid>> {
        let container = self.store.load(id)?;
        if container.status() == Status::Stopped {
            return Ok(Vec::new());
        }
        Ok(container.cgroup()?.pids()?)
    }

    /// Removes a stopped (or never started) container. `force` first kills a running one.
    /// Deleting a missing container with `force` succeeds, as with runc.
    pub fn delete(&self, id: &str, force: bool) -> Result<()> {
        let container = match self.store.load(id) {
            Err(RuntimeError::NotFound(_)) if force => return Ok(()),
            other => other?,
        };
        let status = container.status();
        if !(force || status.can_delete()) {
            return Err(RuntimeError::WrongState {
                id: id.to_owned(),
                action: "delete",
                status: format!("{status} (use --force)"),
            });
        }
        let cgroup = container.cgroup()?;
        if status != Status::Stopped {
            send(Pid::from_raw(container.record.pid), Signal::SIGKILL)?;
            // A frozen init only dies once thawed.
            if status == Status::Paused {
                cgroup.thaw()?;
            }
            await_death(&container)?;
        }
        cgroup.remove()?;
        let spec = container.spec()?;
        let state = container.record.state_json(Status::Stopped);
        run_hooks_logged(
            "poststop",
            spec.hooks().as_ref().and_then(|h| h.poststop().as_ref()),
            &state,
        );
        fs::remove_dir_all(&container.dir).context(|| format!("removing state of {id:?}"))
    }
}

fn send(pid: Pid, signal: Signal) -> Result<()> {
    match kill(pid, signal) {
        Ok(()) | Err(Errno::ESRCH) => Ok(()),
        Err(e) => Err(e).context(|| format!("sending {signal} to {pid}")),
    }
}

fn await_death(container: &Container) -> Result<()> {
    let deadline = Instant::now() + DEATH_TIMEOUT;
    let mut pause = Duration::from_micros(100);
    while container.is_alive() {
        if Instant::now() >= deadline {
            return Err(RuntimeError::Init(format!(
                "container {:?} did not die after SIGKILL",
                container.id()
            )));
        }
        sleep(pause);
        pause = (pause * 2).min(Duration::from_millis(10));
    }
    Ok(())
}
