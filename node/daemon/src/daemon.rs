//! Startup and shutdown: directories, stores, recovery, the server, signals.

use std::{future::Future, sync::Arc};

use berth_image::{registry::Registry, ImageStore};
use berth_store::{Store, DEFAULT_EVENT_HISTORY};

use crate::{
    config::Config,
    container::ContainerManager,
    context::Context,
    events::EventBus,
    fsutil,
    images::ImageManager,
    paths::Paths,
    server::{self, Api, ServeError},
    system::SystemManager,
};

/// Why the daemon stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum DaemonError {
    /// A directory cannot be prepared.
    #[error("preparing {path}: {source}")]
    Directory {
        /// The directory.
        path: String,
        /// The cause.
        source: std::io::Error,
    },
    /// The metadata store cannot be opened.
    #[error(transparent)]
    Store(#[from] berth_store::StoreError),
    /// The image store cannot be opened.
    #[error("image store: {0}")]
    Images(#[from] berth_image::ImageError),
    /// Loading or recovering containers failed.
    #[error("containers: {0}")]
    Containers(#[from] crate::error::DomainError),
    /// Serving failed.
    #[error(transparent)]
    Serve(#[from] ServeError),
}

/// Runs the daemon until `shutdown` resolves. Containers keep running afterwards: their
/// shims are detached.
pub async fn run(config: Config, shutdown: impl Future<Output = ()>) -> Result<(), DaemonError> {
    let paths = Paths {
        root: config.root.clone(),
        exec_root: config.exec_root.clone(),
    };
    for (dir, mode) in [
        (&paths.root, 0o700),
        (&paths.exec_root, 0o700),
        (&paths.containers(), 0o700),
        (&paths.shims(), 0o700),
        (&paths.runtime_root(), 0o700),
    ] {
        fsutil::private_dir(dir, mode).map_err(|source| DaemonError::Directory {
            path: dir.display().to_string(),
            source,
        })?;
    }
    // Bind first: a second daemon on the same socket fails before touching any state.
    let mut listeners = Vec::new();
    for endpoint in &config.hosts {
        listeners.push(server::bind(endpoint, config.tls.as_ref()).await?);
    }
    let store = Arc::new(Store::open(&paths.database(), DEFAULT_EVENT_HISTORY)?);
    let images = Arc::new(ImageStore::open(&paths.root, store.database())?);
    let ctx = Arc::new(Context {
        events: EventBus::new(Arc::clone(&store)),
        paths,
        store,
        images,
        registry: Registry::new(config.registry.clone()),
        runtime: config.runtime.clone(),
        shim: config.shim.clone(),
        cgroup_parent: config.cgroup_parent.clone(),
    });
    let containers = ContainerManager::load(Arc::clone(&ctx))?;
    containers.recover().await?;
    let image_manager = Arc::new(ImageManager::new(Arc::clone(&ctx), Arc::clone(&containers)));
    let system = Arc::new(SystemManager::new(
        Arc::clone(&ctx),
        Arc::clone(&containers),
        Arc::clone(&image_manager),
    ));
    let api = Api {
        containers,
        images: image_manager,
        system,
    };
    for endpoint in &config.hosts {
        tracing::info!(%endpoint, runtime = %config.runtime.name, "berthd listening");
    }
    server::serve(api, listeners, shutdown).await?;
    Ok(())
}

/// Installs the SIGTERM and SIGINT handlers now (before the socket exists, so no signal is
/// missed) and returns a future that resolves on the first of them.
pub fn termination_signal() -> std::io::Result<impl Future<Output = ()>> {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = signal(SignalKind::terminate())?;
    let mut int = signal(SignalKind::interrupt())?;
    Ok(async move {
        tokio::select! {
            _ = term.recv() => tracing::info!("SIGTERM received"),
            _ = int.recv() => tracing::info!("SIGINT received"),
        }
    })
}
