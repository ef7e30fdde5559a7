//! What every domain operation needs: directories, stores, events and the runtime settings.

use std::{path::PathBuf, sync::Arc};

use berth_image::{registry::Registry, ImageStore};
use berth_store::Store;

use crate::{
    config::RuntimeSetting,
    error::{DomainError, DomainResult},
    events::EventBus,
    paths::Paths,
};

/// Shared daemon state.
pub struct Context {
    /// The directories.
    pub paths: Paths,
    /// The metadata store.
    pub store: Arc<Store>,
    /// The image store.
    pub images: Arc<ImageStore>,
    /// The registry client (shares downloads between concurrent pulls).
    pub registry: Registry,
    /// The event bus.
    pub events: EventBus,
    /// The OCI runtime.
    pub runtime: RuntimeSetting,
    /// The shim executable.
    pub shim: PathBuf,
    /// The cgroup holding the containers' cgroups.
    pub cgroup_parent: String,
}

/// Runs blocking work (disk, database, mounts) off the async threads.
pub async fn blocking<T, F>(what: &'static str, f: F) -> DomainResult<T>
where
    F: FnOnce() -> DomainResult<T> + Send + 'static,
    T: Send + 'static,
{
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| DomainError::internal(what, e))?
}
