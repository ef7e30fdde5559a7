//! The task that waits for a run to end, records the exit, and applies the restart policy and
//! auto-removal.

use std::{future::Future, pin::Pin, sync::Arc, time::Duration};

use berth_proto::node::v1::ContainerStatus;
use berth_shim::{ExitRecord, ShimClient};
use chrono::Utc;

use super::{
    container_event, entry::Entry, lifecycle::StartReason, restart, set_status, ContainerManager,
};
use crate::{error::DomainResult, time};

/// How long to look for the exit record of a shim that went away without answering `wait`.
const EXIT_RECORD_PATIENCE: Duration = Duration::from_secs(2);

impl ContainerManager {
    /// Waits for the current run of `entry` to end and settles it.
    pub(super) async fn monitor(self: Arc<Self>, entry: Arc<Entry>, client: ShimClient) {
        let exit = match client.wait().await {
            Ok(record) => record,
            Err(e) => {
                tracing::debug!(container = %entry.id, error = %e, "shim wait failed; reading the exit record");
                self.exit_record_of_gone_shim(&entry).await
            }
        };
        if let Err(e) = self.settle_exit(&entry, exit, true).await {
            tracing::error!(container = %entry.id, error = %e, "recording the exit");
        }
    }

    /// The exit record a shim left, or a synthetic one when there is none.
    pub(super) async fn exit_record_of_gone_shim(&self, entry: &Entry) -> ExitRecord {
        let path = self.ctx.paths.container(&entry.id).exit_file();
        let deadline = tokio::time::Instant::now() + EXIT_RECORD_PATIENCE;
        loop {
            if let Ok(Some(record)) = ExitRecord::read(&path) {
                return record;
            }
            if tokio::time::Instant::now() >= deadline {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        tracing::warn!(container = %entry.id, "shim exited without an exit record");
        ExitRecord {
            exit_code: 255,
            oom_killed: false,
            started_at: None,
            finished_at: Utc::now(),
        }
    }

    /// Records the exit (`die`, `oom`), then restarts or removes per the container's settings
    /// (with `apply_policy`).
    pub(super) async fn settle_exit(
        self: &Arc<Self>,
        entry: &Arc<Entry>,
        exit: ExitRecord,
        apply_policy: bool,
    ) -> DomainResult<()> {
        let before = entry.snapshot();
        let state = before.state.clone().unwrap_or_default();
        let host = before.host_config.clone().unwrap_or_default();
        let restarting = apply_policy
            && restart::should_restart(
                host.restart_policy.as_ref(),
                exit.exit_code,
                before.restart_count,
                state.stopped_by_user,
            );
        let uptime = time::from_timestamp(state.started_at.as_ref())
            .map(|started| exit.finished_at.signed_duration_since(started))
            .and_then(|d| d.to_std().ok())
            .unwrap_or_default();
        self.commit(entry, true, |c| {
            let state = c.state.get_or_insert_with(Default::default);
            state.status = if restarting {
                ContainerStatus::Restarting
            } else {
                ContainerStatus::Exited
            }
            .into();
            state.pid = 0;
            state.exit_code = exit.exit_code;
            state.oom_killed = exit.oom_killed;
            state.finished_at = Some(time::to_timestamp(exit.finished_at));
            let mut events = Vec::new();
            if exit.oom_killed {
                events.push(container_event(c, "oom", &[]));
            }
            events.push(container_event(
                c,
                "die",
                &[("exitCode", exit.exit_code.to_string())],
            ));
            events
        })
        .await?;
        if restarting {
            let delay = entry
                .backoff
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .after_run(uptime);
            let manager = Arc::clone(self);
            let entry = Arc::clone(entry);
            tokio::spawn(manager.restart_after(entry, delay));
        } else if apply_policy && host.auto_remove {
            if let Err(e) = self.remove_entry(entry, true).await {
                tracing::debug!(container = %entry.id, error = %e, "auto-remove");
            }
        }
        Ok(())
    }

    /// Starts a restarting container after its backoff, unless it was stopped or removed.
    /// (Boxed: it closes the start → monitor → restart cycle of futures.)
    fn restart_after(
        self: Arc<Self>,
        entry: Arc<Entry>,
        delay: Duration,
    ) -> Pin<Box<dyn Future<Output = ()> + Send>> {
        Box::pin(async move { self.restart_after_backoff(entry, delay).await })
    }

    async fn restart_after_backoff(self: Arc<Self>, entry: Arc<Entry>, delay: Duration) {
        tokio::time::sleep(delay).await;
        let _op = entry.op.lock().await;
        if entry.watch().borrow().removed || entry.status() != ContainerStatus::Restarting {
            return;
        }
        if let Err(e) = self.start_locked(&entry, StartReason::Policy).await {
            tracing::warn!(container = %entry.id, error = %e, "restart policy could not start the container");
            let settled = self
                .commit(&entry, false, |c| {
                    set_status(c, ContainerStatus::Exited);
                    Vec::new()
                })
                .await;
            if let Err(e) = settled {
                tracing::error!(container = %entry.id, error = %e, "recording a failed restart");
            }
        }
    }
}
