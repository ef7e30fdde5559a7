//! ImageService handlers: PushImage and LoginRegistry.

use berth_proto::node::v1::*;
use tokio::sync::mpsc;
use tonic::{Response, Status};

use super::{images::ImageApi, streams::BoxStream, transfer::transfer_stream};

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
