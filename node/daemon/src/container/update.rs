//! UpdateContainer and RenameContainer.

use berth_proto::node::v1::{ContainerStatus, Resources, RestartPolicy};

use super::{container_event, ids, restart, ContainerManager};
use crate::{
    context::blocking,
    error::{DomainError, DomainResult},
    spec,
};

impl ContainerManager {
    /// Changes limits (live when running) and the restart policy.
    pub async fn update(
        &self,
        query: &str,
        resources: Option<Resources>,
        policy: Option<RestartPolicy>,
    ) -> DomainResult<Vec<String>> {
        let entry = self.lookup(query)?;
        let _op = entry.op.lock().await;
        let mut updated = entry.snapshot();
        let host = updated.host_config.get_or_insert_with(Default::default);
        let mut limits = None;
        if let Some(new) = &resources {
            let current = host.resources.get_or_insert_with(Default::default);
            merge_resources(current, new);
            let merged = current.clone();
            limits = Some(
                blocking("checking the new limits", move || {
                    Ok(spec::live_limits(&merged)?)
                })
                .await?,
            );
        }
        if let Some(policy) = policy {
            restart::validate(Some(&policy), host.auto_remove)?;
            host.restart_policy = Some(policy);
        }
        let running = matches!(
            entry.status(),
            ContainerStatus::Running | ContainerStatus::Paused
        );
        if let Some(limits) = limits.filter(|_| running) {
            self.shim(&entry.id).update(&limits).await?;
        }
        let new_host = updated.host_config.clone();
        self.commit(&entry, false, |c| {
            c.host_config = new_host;
            vec![container_event(c, "update", &[])]
        })
        .await?;
        Ok(Vec::new())
    }

    /// Gives a container a new, unused name.
    pub async fn rename(&self, query: &str, new_name: &str) -> DomainResult<()> {
        let new_name = new_name.strip_prefix('/').unwrap_or(new_name);
        ids::validate_name(new_name)?;
        let entry = self.lookup(query)?;
        let old = entry.name();
        if old == new_name {
            return Err(DomainError::InvalidArgument(
                "Renaming a container with the same name as its current name".to_owned(),
            ));
        }
        let new_name = new_name.to_owned();
        self.commit(&entry, false, |c| {
            c.name = new_name;
            vec![container_event(
                c,
                "rename",
                &[("oldName", format!("/{old}"))],
            )]
        })
        .await?;
        Ok(())
    }
}

/// Applies the non-zero fields of `new` to `current`.
fn merge_resources(current: &mut Resources, new: &Resources) {
    if new.memory != 0 {
        current.memory = new.memory;
    }
    if new.memory_swap != 0 {
        current.memory_swap = new.memory_swap;
    }
    if new.nano_cpus != 0 {
        current.nano_cpus = new.nano_cpus;
    }
    if new.cpu_shares != 0 {
        current.cpu_shares = new.cpu_shares;
    }
    if !new.cpuset_cpus.is_empty() {
        current.cpuset_cpus.clone_from(&new.cpuset_cpus);
    }
    if new.pids_limit.is_some_and(|p| p != 0) {
        current.pids_limit = new.pids_limit;
    }
    if !new.ulimits.is_empty() {
        current.ulimits.clone_from(&new.ulimits);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_given_fields_change() {
        let mut current = Resources {
            memory: 100 << 20,
            cpu_shares: 512,
            pids_limit: Some(50),
            ..Resources::default()
        };
        merge_resources(
            &mut current,
            &Resources {
                memory: 200 << 20,
                nano_cpus: 500_000_000,
                ..Resources::default()
            },
        );
        assert_eq!(current.memory, 200 << 20);
        assert_eq!(current.nano_cpus, 500_000_000);
        assert_eq!(current.cpu_shares, 512);
        assert_eq!(current.pids_limit, Some(50));
    }
}
