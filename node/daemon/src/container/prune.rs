//! PruneContainers: removes stopped containers that match the filters.

use std::sync::Arc;

use berth_proto::node::v1::Filter;

use super::{filters::ContainerFilter, status, ContainerManager};
use crate::error::DomainResult;

/// The keys PruneContainers accepts.
const PRUNE_FILTERS: &[&str] = &["label", "until"];

impl ContainerManager {
    /// Removes every stopped matching container; returns their IDs and the bytes freed.
    pub async fn prune(self: &Arc<Self>, filters: &[Filter]) -> DomainResult<(Vec<String>, u64)> {
        let filter = ContainerFilter::parse(filters, PRUNE_FILTERS, self.as_ref())?;
        let mut deleted = Vec::new();
        let mut reclaimed = 0u64;
        for entry in self.entries() {
            let c = entry.snapshot();
            if status::is_active(status::of(&c)) || !filter.matches(&c) {
                continue;
            }
            let size = self.size_rw(&c.id).await.unwrap_or(0);
            match self.remove_entry(&entry, false).await {
                Ok(()) => {
                    deleted.push(c.id);
                    reclaimed += u64::try_from(size).unwrap_or(0);
                }
                Err(e) => tracing::debug!(container = %c.id, error = %e, "prune skipped"),
            }
        }
        Ok((deleted, reclaimed))
    }
}
