//! Startup recovery: reconnect to live shims, settle containers whose shims are gone, remove
//! leftovers, then start the containers their restart policy wants running.

use std::{collections::HashSet, sync::Arc};

use berth_proto::node::v1::ContainerStatus;

use super::{entry::Entry, lifecycle::StartReason, restart, rootfs, set_status, ContainerManager};
use crate::{context::blocking, error::DomainResult};

impl ContainerManager {
    /// Settles every container after a daemon (re)start.
    pub async fn recover(self: &Arc<Self>) -> DomainResult<()> {
        self.remove_orphan_dirs().await?;
        for entry in self.entries() {
            match entry.status() {
                ContainerStatus::Running | ContainerStatus::Paused => {
                    self.reconnect_or_settle(&entry).await;
                }
                ContainerStatus::Restarting => {
                    self.settle_restarting(&entry).await;
                }
                ContainerStatus::Removing => {
                    if let Err(e) = self.remove_entry(&entry, true).await {
                        tracing::warn!(container = %entry.id, error = %e, "finishing an interrupted removal");
                    }
                }
                _ => {}
            }
        }
        for entry in self.entries() {
            let c = entry.snapshot();
            let state = c.state.clone().unwrap_or_default();
            let policy = c
                .host_config
                .as_ref()
                .and_then(|h| h.restart_policy.as_ref());
            let ever_started = state.started_at.is_some();
            if entry.status() == ContainerStatus::Exited
                && ever_started
                && restart::starts_with_daemon(policy, state.stopped_by_user)
            {
                let _op = entry.op.lock().await;
                if let Err(e) = self.start_locked(&entry, StartReason::Policy).await {
                    tracing::warn!(container = %entry.id, error = %e, "starting per restart policy");
                }
            }
        }
        Ok(())
    }

    /// A live shim gets a new monitor; a dead one's exit record is read and its leftovers
    /// removed.
    async fn reconnect_or_settle(self: &Arc<Self>, entry: &Arc<Entry>) {
        let client = self.shim(&entry.id);
        if client.pids().await.is_ok() {
            tracing::info!(container = %entry.id, "reconnected to the running container's shim");
            entry.launched();
            tokio::spawn(Arc::clone(self).monitor(Arc::clone(entry), client));
            return;
        }
        let exit = self.exit_record_of_gone_shim(entry).await;
        rootfs::clean_up_after_shim(&self.ctx, &entry.snapshot()).await;
        tracing::info!(container = %entry.id, exit_code = exit.exit_code, "container exited while the daemon was down");
        if let Err(e) = self.settle_exit(entry, exit, false).await {
            tracing::error!(container = %entry.id, error = %e, "recording the exit");
        }
        let auto_remove = entry.snapshot().host_config.is_some_and(|h| h.auto_remove);
        if auto_remove {
            if let Err(e) = self.remove_entry(entry, true).await {
                tracing::warn!(container = %entry.id, error = %e, "auto-remove");
            }
        }
    }

    /// A container that was waiting for its restart backoff is simply exited now (the policy
    /// pass starts it again).
    async fn settle_restarting(&self, entry: &Arc<Entry>) {
        rootfs::clean_up_after_shim(&self.ctx, &entry.snapshot()).await;
        let settled = self
            .commit(entry, false, |c| {
                set_status(c, ContainerStatus::Exited);
                Vec::new()
            })
            .await;
        if let Err(e) = settled {
            tracing::error!(container = %entry.id, error = %e, "settling a restarting container");
        }
    }

    /// Removes container directories without a record (a create or remove interrupted by a
    /// crash), unmounting their rootfs first.
    async fn remove_orphan_dirs(&self) -> DomainResult<()> {
        let known: HashSet<String> = self.entries().iter().map(|e| e.id.clone()).collect();
        let dir = self.ctx.paths.containers();
        blocking("removing orphaned container directories", move || {
            let Ok(listing) = std::fs::read_dir(&dir) else {
                return Ok(());
            };
            for item in listing.flatten() {
                let name = item.file_name().to_string_lossy().into_owned();
                if known.contains(&name) {
                    continue;
                }
                let path = item.path();
                tracing::info!(dir = %path.display(), "removing an orphaned container directory");
                berth_image::overlay::unmount(&path.join("rootfs"))?;
                if let Err(e) = std::fs::remove_dir_all(&path) {
                    tracing::warn!(dir = %path.display(), error = %e, "removing orphan");
                }
            }
            Ok(())
        })
        .await
    }
}
