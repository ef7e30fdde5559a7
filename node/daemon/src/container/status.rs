//! Container statuses as Docker names them.

use berth_proto::node::v1::{Container, ContainerStatus};

/// The status of a container record.
pub fn of(c: &Container) -> ContainerStatus {
    c.state
        .as_ref()
        .and_then(|s| ContainerStatus::try_from(s.status).ok())
        .unwrap_or(ContainerStatus::Unspecified)
}

/// Whether the container has a live main process (or is about to, when restarting).
pub fn is_active(status: ContainerStatus) -> bool {
    matches!(
        status,
        ContainerStatus::Running | ContainerStatus::Paused | ContainerStatus::Restarting
    )
}
