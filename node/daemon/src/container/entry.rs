//! One container in memory: its record, the lock that serialises its lifecycle operations,
//! and the notifications waiters and attachers need.

use std::{
    sync::{Arc, Mutex, PoisonError},
    time::Duration,
};

use berth_proto::node::v1::{Container, ContainerStatus};
use tokio::sync::watch;

use super::{restart::Backoff, status};

/// What changes over a container's life, for waiters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Progress {
    /// Bumped on every record change.
    pub version: u64,
    /// How many runs have ended.
    pub exits: u64,
    /// A shim of the current run is up (launched, not yet exited).
    pub shim_up: bool,
    /// Attachers waiting for the next launch.
    pub pending_attaches: u64,
    /// The container is gone.
    pub removed: bool,
}

/// A container known to the daemon.
pub struct Entry {
    /// The full ID.
    pub id: String,
    record: Mutex<Container>,
    /// Serialises start, stop, restart, remove and temporary rootfs mounts.
    pub op: Arc<tokio::sync::Mutex<()>>,
    /// Serialises read-modify-persist of the record.
    pub commit: tokio::sync::Mutex<()>,
    progress: watch::Sender<Progress>,
    /// The restart policy's backoff.
    pub backoff: Mutex<Backoff>,
}

impl Entry {
    /// Wraps a stored record.
    pub fn new(record: Container) -> Arc<Self> {
        Arc::new(Self {
            id: record.id.clone(),
            record: Mutex::new(record),
            op: Arc::new(tokio::sync::Mutex::new(())),
            commit: tokio::sync::Mutex::new(()),
            progress: watch::Sender::new(Progress::default()),
            backoff: Mutex::new(Backoff::default()),
        })
    }

    /// A copy of the record.
    pub fn snapshot(&self) -> Container {
        self.record
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// The status now.
    pub fn status(&self) -> ContainerStatus {
        status::of(&self.record.lock().unwrap_or_else(PoisonError::into_inner))
    }

    /// The name now.
    pub fn name(&self) -> String {
        self.record
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .name
            .clone()
    }

    /// Replaces the record (after it was persisted) and wakes waiters.
    pub fn set(&self, record: Container, exited: bool) {
        *self.record.lock().unwrap_or_else(PoisonError::into_inner) = record;
        self.progress.send_modify(|p| {
            p.version += 1;
            if exited {
                p.exits += 1;
                p.shim_up = false;
            }
        });
    }

    /// Marks the container removed and wakes waiters.
    pub fn set_removed(&self) {
        self.progress.send_modify(|p| {
            p.version += 1;
            p.removed = true;
        });
    }

    /// A receiver of progress.
    pub fn watch(&self) -> watch::Receiver<Progress> {
        self.progress.subscribe()
    }

    /// Announces a launched shim to attachers.
    pub fn launched(&self) {
        self.progress.send_modify(|p| p.shim_up = true);
    }

    /// Registers an attacher that waits for the shim of the next (or a starting) run; a start
    /// waits for registered attachers. Dropping the guard unregisters.
    pub fn register_attach(self: &Arc<Self>) -> AttachGuard {
        self.progress.send_modify(|p| p.pending_attaches += 1);
        AttachGuard {
            entry: Arc::clone(self),
        }
    }

    /// Waits (at most `limit`) until no attacher waits for a launch, so a start does not run
    /// the process before its attachers are connected.
    pub async fn attachers_connected(&self, limit: Duration) {
        let mut rx = self.watch();
        let _ = tokio::time::timeout(limit, rx.wait_for(|p| p.pending_attaches == 0)).await;
    }

    /// Waits until `done` holds for the progress, or the entry is dropped.
    pub async fn wait_for(&self, done: impl FnMut(&Progress) -> bool) {
        let mut rx = self.watch();
        let _ = rx.wait_for(done).await;
    }
}

/// An attacher waiting for the next shim launch.
pub struct AttachGuard {
    entry: Arc<Entry>,
}

impl AttachGuard {
    /// Waits until a shim is up; false if the container was removed first.
    pub async fn launched(&self) -> bool {
        let mut rx = self.entry.watch();
        let launched = rx
            .wait_for(|p| p.shim_up || p.removed)
            .await
            .is_ok_and(|p| !p.removed);
        launched
    }
}

impl Drop for AttachGuard {
    fn drop(&mut self) {
        self.entry
            .progress
            .send_modify(|p| p.pending_attaches = p.pending_attaches.saturating_sub(1));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_start_waits_for_registered_attachers_until_they_connect() {
        let entry = Entry::new(Container {
            id: "abc".into(),
            ..Container::default()
        });
        let guard = entry.register_attach();
        let waiter = tokio::spawn({
            let entry = Arc::clone(&entry);
            async move { entry.attachers_connected(Duration::from_secs(30)).await }
        });
        entry.launched();
        assert!(guard.launched().await);
        assert!(!waiter.is_finished());
        drop(guard);
        tokio::time::timeout(Duration::from_secs(5), waiter)
            .await
            .unwrap()
            .unwrap();
    }

    #[tokio::test]
    async fn removal_releases_attachers() {
        let entry = Entry::new(Container::default());
        let guard = entry.register_attach();
        entry.set_removed();
        assert!(!guard.launched().await);
    }
}
