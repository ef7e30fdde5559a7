//! RemoveContainer and the removal shared by auto-remove and prune.

use std::{sync::Arc, time::Duration};

use berth_proto::node::v1::ContainerStatus;
use nix::sys::signal::Signal;

use super::{container_event, entry::Entry, lifecycle, set_status, status, ContainerManager};
use crate::{
    context::blocking,
    error::{DomainError, DomainResult},
};

/// How long a forced removal waits for the killed container to exit.
const KILL_WAIT: Duration = Duration::from_secs(30);

impl ContainerManager {
    /// Removes a container; a running one only with `force` (it is killed first).
    pub async fn remove(self: &Arc<Self>, query: &str, force: bool) -> DomainResult<()> {
        let entry = self.lookup(query)?;
        self.remove_entry(&entry, force).await
    }

    /// Removes the container behind `entry`.
    pub(super) async fn remove_entry(
        self: &Arc<Self>,
        entry: &Arc<Entry>,
        force: bool,
    ) -> DomainResult<()> {
        let _op = entry.op.lock().await;
        if entry.watch().borrow().removed {
            return Err(DomainError::NotFound(format!(
                "No such container: {}",
                entry.id
            )));
        }
        let current = entry.status();
        if status::is_active(current) {
            if !force {
                let what = if current == ContainerStatus::Paused {
                    "container is paused"
                } else {
                    "container is running"
                };
                return Err(DomainError::FailedPrecondition(format!(
                    "cannot remove container \"/{}\": {what}: stop the container before removing or force remove",
                    entry.name()
                )));
            }
            self.commit(entry, false, |c| {
                c.state.get_or_insert_with(Default::default).stopped_by_user = true;
                Vec::new()
            })
            .await?;
            if current != ContainerStatus::Restarting {
                let client = self.shim(&entry.id);
                match client.signal(Signal::SIGKILL as i32, true).await {
                    Ok(()) | Err(berth_shim::ShimError::NotRunning(_)) => {}
                    Err(e) => return Err(e.into()),
                }
                if !lifecycle::wait_inactive(entry, Some(KILL_WAIT)).await {
                    return Err(DomainError::Internal(format!(
                        "container {} did not exit after SIGKILL",
                        entry.id
                    )));
                }
            }
        }
        self.commit(entry, false, |c| {
            set_status(c, ContainerStatus::Removing);
            Vec::new()
        })
        .await?;
        let ctx = Arc::clone(&self.ctx);
        let record = entry.snapshot();
        blocking("removing the container", move || {
            let paths = ctx.paths.container(&record.id);
            berth_image::overlay::unmount(&paths.rootfs())?;
            match std::fs::remove_dir_all(paths.dir()) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => {
                    return Err(DomainError::internal(
                        format!("removing {}", paths.dir().display()),
                        e,
                    ))
                }
            }
            let _ = std::fs::remove_file(&paths.socket);
            let mut batch = ctx.store.write()?;
            batch.remove_container(&record.id)?;
            batch.append_event(&container_event(&record, "destroy", &[]))?;
            ctx.events.commit(batch)
        })
        .await?;
        self.forget(&entry.id);
        entry.set_removed();
        Ok(())
    }
}
