//! The gRPC server: the three Berth services plus health and reflection (v1 and v1alpha) on
//! every endpoint, with a tracing span per request.

mod containers;
mod image_archive;
mod image_maintenance;
mod image_pull;
mod image_push;
mod images;
mod listen;
pub mod status;
mod streams;
mod system;
mod transfer;

use std::{
    future::Future,
    sync::{
        atomic::{AtomicU64, Ordering},
        Arc,
    },
    time::Duration,
};

use berth_proto::node::v1::{
    container_service_server::ContainerServiceServer, image_service_server::ImageServiceServer,
    system_service_server::SystemServiceServer, FILE_DESCRIPTOR_SET,
};
use tokio::sync::watch;
use tonic::transport::server::Router;
use tonic_health::{server::HealthReporter, ServingStatus};

pub use listen::{bind, Listener, ServeError};

use crate::{container::ContainerManager, images::ImageManager, system::SystemManager};

/// The services' names, as health reports them.
const SERVICE_NAMES: [&str; 3] = [
    "berth.node.v1.ContainerService",
    "berth.node.v1.ImageService",
    "berth.node.v1.SystemService",
];

/// How long a graceful shutdown waits for open requests (follows, attaches) to finish.
const DRAIN: Duration = Duration::from_secs(5);

/// The domain behind the API.
#[derive(Clone)]
pub struct Api {
    /// Containers.
    pub containers: Arc<ContainerManager>,
    /// Images.
    pub images: Arc<ImageManager>,
    /// System.
    pub system: Arc<SystemManager>,
}

/// Health of the server as a whole and of each service.
#[derive(Clone)]
pub struct Health {
    reporter: HealthReporter,
}

impl Health {
    /// Marks every service as serving or not.
    pub async fn set(&self, serving: bool) {
        let status = if serving {
            ServingStatus::Serving
        } else {
            ServingStatus::NotServing
        };
        self.reporter.set_service_status("", status).await;
        for name in SERVICE_NAMES {
            self.reporter.set_service_status(name, status).await;
        }
    }
}

fn router(
    api: &Api,
    health: tonic_health::pb::health_server::HealthServer<
        impl tonic_health::pb::health_server::Health,
    >,
    tls: Option<tonic::transport::ServerTlsConfig>,
) -> Result<Router, ServeError> {
    static REQUESTS: AtomicU64 = AtomicU64::new(0);
    let reflection_v1 = tonic_reflection::server::Builder::configure()
        .register_encoded_file_descriptor_set(FILE_DESCRIPTOR_SET)
        .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
        .build_v1()
        .map_err(|e| ServeError::Reflection(e.to_string()))?;
    let reflection_v1alpha = tonic_reflection::server::Builder::configure()
        .register_encoded_file_descriptor_set(FILE_DESCRIPTOR_SET)
        .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
        .build_v1alpha()
        .map_err(|e| ServeError::Reflection(e.to_string()))?;
    let mut builder = tonic::transport::Server::builder();
    if let Some(tls) = tls {
        builder = builder.tls_config(tls)?;
    }
    Ok(builder
        .trace_fn(|request| {
            let id = REQUESTS.fetch_add(1, Ordering::Relaxed);
            tracing::info_span!(
                "request",
                request_id = id,
                method = %request.uri().path(),
                container = tracing::field::Empty,
            )
        })
        .add_service(health)
        .add_service(reflection_v1)
        .add_service(reflection_v1alpha)
        .add_service(ContainerServiceServer::new(containers::ContainerApi::new(
            api,
        )))
        .add_service(ImageServiceServer::new(images::ImageApi::new(api)))
        .add_service(SystemServiceServer::new(system::SystemApi::new(api))))
}

/// Serves the API on every listener until `shutdown` resolves; health turns NOT_SERVING
/// first, and open requests get a short grace period.
pub async fn serve(
    api: Api,
    listeners: Vec<Listener>,
    shutdown: impl Future<Output = ()>,
) -> Result<(), ServeError> {
    let (reporter, health_service) = tonic_health::server::health_reporter();
    let health = Health { reporter };
    health.set(true).await;
    let (stop_tx, stop_rx) = watch::channel(false);
    let mut servers = tokio::task::JoinSet::new();
    for listener in listeners {
        let router = router(&api, health_service.clone(), listener.tls())?;
        let mut stop = stop_rx.clone();
        let signal = async move {
            let _ = stop.wait_for(|s| *s).await;
        };
        servers.spawn(listener.serve(router, signal));
    }
    tokio::select! {
        () = shutdown => {}
        Some(result) = servers.join_next() => {
            // A listener failed on its own: stop the others too.
            health.set(false).await;
            let _ = stop_tx.send(true);
            return result.map_err(|e| ServeError::Task(e.to_string()))?;
        }
    }
    tracing::info!("shutting down");
    health.set(false).await;
    let _ = stop_tx.send(true);
    let drained = tokio::time::timeout(DRAIN, async {
        while let Some(result) = servers.join_next().await {
            if let Ok(Err(e)) = result {
                tracing::warn!(error = %e, "listener ended with an error");
            }
        }
    })
    .await;
    if drained.is_err() {
        tracing::info!("open requests did not finish in time; closing them");
        servers.abort_all();
    }
    Ok(())
}

/// Records the container a request is about on the request's span.
fn record_container(id: &str) {
    tracing::Span::current().record("container", id);
}
