//! ImageService handlers: PushImage and LoginRegistry.

use std::future::Future;

use berth_image::registry;
use berth_proto::node::v1::*;
use tokio::sync::mpsc;
use tonic::{Response, Status};

use super::{
    image_pull::layer_progress,
    images::ImageApi,
    streams::{self, BoxStream},
};
use crate::error::DomainResult;

pub(super) async fn push(
    api: &ImageApi,
    request: PushImageRequest,
) -> Result<Response<BoxStream<PushImageResponse>>, Status> {
    let images = std::sync::Arc::clone(&api.images);
    let (progress, updates) = mpsc::unbounded_channel();
    let work = async move { images.push(request, progress).await };
    let stream = transfer_stream(
        work,
        updates,
        |p| PushImageResponse {
            response: Some(push_image_response::Response::Progress(p)),
        },
        |outcome| PushImageResponse {
            response: Some(push_image_response::Response::Result(PushImageResult {
                tag: outcome.tag,
                digest: outcome.digest,
                size: i64::try_from(outcome.size).unwrap_or(i64::MAX),
            })),
        },
    );
    Ok(Response::new(stream))
}

pub(super) async fn login(
    api: &ImageApi,
    request: LoginRegistryRequest,
) -> Result<Response<LoginRegistryResponse>, Status> {
    let outcome = api.images.login(request).await?;
    Ok(Response::new(LoginRegistryResponse {
        status: outcome.status,
        identity_token: outcome.identity_token,
    }))
}

/// Runs a transfer that reports progress into `updates`' sender, as a response stream: its
/// progress messages, then one message with its outcome (or its error). The transfer runs to
/// its end even when the client goes away, so that nothing is left half done.
pub(super) fn transfer_stream<T, O>(
    work: impl Future<Output = DomainResult<O>> + Send + 'static,
    mut updates: mpsc::UnboundedReceiver<registry::LayerProgress>,
    on_progress: impl Fn(LayerProgress) -> T + Send + 'static,
    on_outcome: impl FnOnce(O) -> T + Send + 'static,
) -> BoxStream<T>
where
    T: Send + 'static,
    O: Send + 'static,
{
    let (tx, rx) = mpsc::channel(64);
    let progress_tx = tx.clone();
    tokio::spawn(async move {
        let forward = async move {
            while let Some(p) = updates.recv().await {
                // A client that went away does not stop the transfer.
                let _ = progress_tx.send(Ok(on_progress(layer_progress(p)))).await;
            }
        };
        // The work drops its progress sender when it ends, which ends `forward`.
        let (outcome, ()) = tokio::join!(work, forward);
        let _ = tx.send(outcome.map(on_outcome)).await;
    });
    streams::from_domain(rx)
}
