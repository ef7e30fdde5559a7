//! Start, stop, kill, restart, pause and resume.

use std::{sync::Arc, time::Duration};

use berth_proto::node::v1::ContainerStatus;
use berth_shim::{ShimClient, ShimError};
use nix::sys::signal::Signal;

use super::{container_event, entry::Entry, rootfs, set_status, signals, status, ContainerManager};
use crate::{
    context::blocking,
    error::{DomainError, DomainResult},
    time,
};

/// How long a start waits for attachers that registered before it.
const ATTACH_GRACE: Duration = Duration::from_secs(5);
/// How long to wait for the exit after SIGKILL.
const KILL_GRACE: Duration = Duration::from_secs(30);
/// The default seconds between the stop signal and SIGKILL.
const DEFAULT_STOP_TIMEOUT: i32 = 10;

/// Why a container is started.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum StartReason {
    /// The user asked.
    User,
    /// Its restart policy (after an exit, or when the daemon starts).
    Policy,
}

impl ContainerManager {
    /// The shim client of a container.
    pub(super) fn shim(&self, id: &str) -> ShimClient {
        ShimClient::new(self.ctx.paths.container(id).socket)
    }

    /// Starts a created or exited container.
    pub async fn start(self: &Arc<Self>, query: &str) -> DomainResult<()> {
        let entry = self.lookup(query)?;
        let _op = entry.op.lock().await;
        match entry.status() {
            ContainerStatus::Running | ContainerStatus::Paused => {
                Err(DomainError::FailedPrecondition(format!(
                    "container {} is already running",
                    entry.id
                )))
            }
            ContainerStatus::Restarting => Err(DomainError::FailedPrecondition(format!(
                "container {} is restarting: stop it first",
                entry.id
            ))),
            ContainerStatus::Removing | ContainerStatus::Dead => {
                Err(DomainError::FailedPrecondition(format!(
                    "container {} is marked for removal and cannot be started",
                    entry.id
                )))
            }
            _ => self.start_locked(&entry, StartReason::User).await,
        }
    }

    /// Starts the container; the caller holds its operation lock.
    pub(super) async fn start_locked(
        self: &Arc<Self>,
        entry: &Arc<Entry>,
        reason: StartReason,
    ) -> DomainResult<()> {
        let record = entry.snapshot();
        let ctx = Arc::clone(&self.ctx);
        let prepared = blocking("preparing the container", move || {
            rootfs::prepare_run(&ctx, &record)
        })
        .await;
        let shim_config = match prepared {
            Ok(config) => config,
            Err(e) => return Err(self.record_start_failure(entry, e).await),
        };
        if let Err(e) = berth_shim::launch(&self.ctx.shim, &shim_config).await {
            let target = self.ctx.paths.container(&entry.id).rootfs();
            let _ = blocking("unmounting the rootfs", move || {
                Ok(berth_image::overlay::unmount(&target)?)
            })
            .await;
            return Err(self.record_start_failure(entry, e.into()).await);
        }
        entry.launched();
        entry.attachers_connected(ATTACH_GRACE).await;
        let client = self.shim(&entry.id);
        let pid = match client.start().await {
            Ok(pid) => pid,
            Err(e) => {
                // The created container must not linger: kill it; the monitor settles it.
                let _ = client.signal(Signal::SIGKILL as i32, true).await;
                tokio::spawn(Arc::clone(self).monitor(Arc::clone(entry), client));
                return Err(self.record_start_failure(entry, e.into()).await);
            }
        };
        self.commit(entry, false, |c| {
            let state = c.state.get_or_insert_with(Default::default);
            state.status = ContainerStatus::Running.into();
            state.pid = i32::try_from(pid).unwrap_or(0);
            state.exit_code = 0;
            state.oom_killed = false;
            state.error.clear();
            state.started_at = Some(time::now());
            state.finished_at = None;
            state.stopped_by_user = false;
            if reason == StartReason::Policy {
                c.restart_count += 1;
            }
            vec![container_event(c, "start", &[])]
        })
        .await?;
        tokio::spawn(Arc::clone(self).monitor(Arc::clone(entry), client));
        Ok(())
    }

    /// Records why a start failed (Docker keeps the message and the shell's exit code).
    async fn record_start_failure(&self, entry: &Entry, error: DomainError) -> DomainError {
        let message = error.to_string();
        let exit_code = match &error {
            DomainError::CannotRun { exit_code, .. } => *exit_code,
            _ => 128,
        };
        let stored = self
            .commit(entry, false, |c| {
                let state = c.state.get_or_insert_with(Default::default);
                state.error = message;
                state.exit_code = exit_code;
                if status::is_active(status::of(c)) {
                    set_status(c, ContainerStatus::Exited);
                }
                Vec::new()
            })
            .await;
        if let Err(e) = stored {
            tracing::warn!(container = %entry.id, error = %e, "recording a failed start");
        }
        error
    }

    /// Stops a container: its stop signal, then SIGKILL after the timeout.
    pub async fn stop(
        self: &Arc<Self>,
        query: &str,
        timeout: Option<i32>,
        signal: &str,
    ) -> DomainResult<()> {
        let entry = self.lookup(query)?;
        let config = entry.snapshot().config.unwrap_or_default();
        let signal = if signal.is_empty() {
            config.stop_signal.as_str()
        } else {
            signal
        };
        let signal = signals::parse(signal, Signal::SIGTERM)?;
        let timeout = timeout
            .or(config.stop_timeout)
            .unwrap_or(DEFAULT_STOP_TIMEOUT);
        let _op = entry.op.lock().await;
        self.stop_locked(&entry, signal, timeout).await
    }

    /// Stops the container; the caller holds its operation lock. A stopped container is left
    /// alone; a restarting one stays stopped.
    pub(super) async fn stop_locked(
        &self,
        entry: &Entry,
        signal: Signal,
        timeout_secs: i32,
    ) -> DomainResult<()> {
        let status = entry.status();
        if status == ContainerStatus::Restarting {
            self.commit(entry, false, |c| {
                set_status(c, ContainerStatus::Exited);
                c.state.get_or_insert_with(Default::default).stopped_by_user = true;
                vec![container_event(c, "stop", &[])]
            })
            .await?;
            return Ok(());
        }
        if !matches!(status, ContainerStatus::Running | ContainerStatus::Paused) {
            return Ok(());
        }
        self.commit(entry, false, |c| {
            c.state.get_or_insert_with(Default::default).stopped_by_user = true;
            vec![container_event(
                c,
                "kill",
                &[("signal", (signal as i32).to_string())],
            )]
        })
        .await?;
        let client = self.shim(&entry.id);
        tolerate_gone(client.signal(signal as i32, false).await)?;
        if status == ContainerStatus::Paused {
            tolerate_gone(client.resume().await)?;
        }
        let patience = u64::try_from(timeout_secs).ok().map(Duration::from_secs);
        if !wait_inactive(entry, patience).await {
            let c = entry.snapshot();
            self.commit(entry, false, |_| {
                vec![container_event(
                    &c,
                    "kill",
                    &[("signal", (Signal::SIGKILL as i32).to_string())],
                )]
            })
            .await?;
            tolerate_gone(client.signal(Signal::SIGKILL as i32, true).await)?;
            if !wait_inactive(entry, Some(KILL_GRACE)).await {
                return Err(DomainError::Internal(format!(
                    "container {} did not exit after SIGKILL",
                    entry.id
                )));
            }
        }
        let c = entry.snapshot();
        self.ctx.events.emit(container_event(&c, "stop", &[])).await
    }

    /// Sends a signal to the main process.
    pub async fn kill(&self, query: &str, signal: &str) -> DomainResult<()> {
        let entry = self.lookup(query)?;
        let signal = signals::parse(signal, Signal::SIGKILL)?;
        require_running(&entry, "kill")?;
        let config = entry.snapshot().config.unwrap_or_default();
        let stop_signal = signals::parse(&config.stop_signal, Signal::SIGTERM)?;
        let manual_stop = signal == Signal::SIGKILL || signal == stop_signal;
        self.commit(&entry, false, |c| {
            if manual_stop {
                c.state.get_or_insert_with(Default::default).stopped_by_user = true;
            }
            vec![container_event(
                c,
                "kill",
                &[("signal", (signal as i32).to_string())],
            )]
        })
        .await?;
        Ok(self
            .shim(&entry.id)
            .signal(signal as i32, signal == Signal::SIGKILL)
            .await?)
    }

    /// Stops (if running) and starts a container.
    pub async fn restart(self: &Arc<Self>, query: &str, timeout: Option<i32>) -> DomainResult<()> {
        let entry = self.lookup(query)?;
        let config = entry.snapshot().config.unwrap_or_default();
        let signal = signals::parse(&config.stop_signal, Signal::SIGTERM)?;
        let timeout = timeout
            .or(config.stop_timeout)
            .unwrap_or(DEFAULT_STOP_TIMEOUT);
        let _op = entry.op.lock().await;
        self.stop_locked(&entry, signal, timeout).await?;
        self.start_locked(&entry, StartReason::User).await?;
        let c = entry.snapshot();
        self.ctx
            .events
            .emit(container_event(&c, "restart", &[]))
            .await
    }

    /// Freezes a running container.
    pub async fn pause(&self, query: &str) -> DomainResult<()> {
        let entry = self.lookup(query)?;
        let _op = entry.op.lock().await;
        match entry.status() {
            ContainerStatus::Paused => {
                return Err(DomainError::FailedPrecondition(format!(
                    "Container {} is already paused",
                    entry.id
                )))
            }
            ContainerStatus::Running => {}
            _ => {
                return Err(DomainError::FailedPrecondition(format!(
                    "Container {} is not running",
                    entry.id
                )))
            }
        }
        self.shim(&entry.id).pause().await?;
        self.commit(&entry, false, |c| {
            set_status(c, ContainerStatus::Paused);
            vec![container_event(c, "pause", &[])]
        })
        .await?;
        Ok(())
    }

    /// Thaws a paused container.
    pub async fn resume(&self, query: &str) -> DomainResult<()> {
        let entry = self.lookup(query)?;
        let _op = entry.op.lock().await;
        if entry.status() != ContainerStatus::Paused {
            return Err(DomainError::FailedPrecondition(format!(
                "Container {} is not paused",
                entry.id
            )));
        }
        self.shim(&entry.id).resume().await?;
        self.commit(&entry, false, |c| {
            set_status(c, ContainerStatus::Running);
            vec![container_event(c, "unpause", &[])]
        })
        .await?;
        Ok(())
    }
}

/// Fails unless the container is running or paused.
pub(super) fn require_running(entry: &Entry, _what: &str) -> DomainResult<()> {
    match entry.status() {
        ContainerStatus::Running | ContainerStatus::Paused => Ok(()),
        _ => Err(DomainError::FailedPrecondition(format!(
            "Container {} is not running",
            entry.id
        ))),
    }
}

/// A shim that is already gone has nothing left to signal: its exit is being settled.
fn tolerate_gone(result: Result<(), ShimError>) -> DomainResult<()> {
    match result {
        Ok(()) | Err(ShimError::NotRunning(_)) => Ok(()),
        Err(e) => Err(e.into()),
    }
}

/// Waits until the container is no longer running, at most `limit` (forever with `None`);
/// true if it stopped.
pub(super) async fn wait_inactive(entry: &Entry, limit: Option<Duration>) -> bool {
    let stopped = entry.wait_for(|p| {
        p.removed
            || !matches!(
                entry.status(),
                ContainerStatus::Running | ContainerStatus::Paused
            )
    });
    match limit {
        Some(limit) => tokio::time::timeout(limit, stopped).await.is_ok(),
        None => {
            stopped.await;
            true
        }
    }
}
