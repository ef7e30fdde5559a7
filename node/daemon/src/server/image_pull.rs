//! ImageService handlers: PullImage.

use std::sync::Arc;

use berth_proto::node::v1::{
    pull_image_response, PullImageRequest, PullImageResponse, PullImageResult,
};
use tokio::sync::mpsc;
use tonic::{Response, Status};

use super::{
    images::{to_proto, ImageApi},
    streams::BoxStream,
    transfer::transfer_stream,
};

/// Streams per-layer progress, then the result. The pull runs to its end even when the client
/// goes away (another pull may be sharing its downloads).
pub(super) async fn pull(
    api: &ImageApi,
    request: PullImageRequest,
) -> Result<Response<BoxStream<PullImageResponse>>, Status> {
    let images = Arc::clone(&api.images);
    let (progress, updates) = mpsc::unbounded_channel();
    let work = async move { images.pull(request, progress).await };
    let stream = transfer_stream(
        work,
        updates,
        |p| PullImageResponse {
            response: Some(pull_image_response::Response::Progress(p)),
        },
        |outcome| PullImageResponse {
            response: Some(pull_image_response::Response::Result(PullImageResult {
                image: Some(to_proto(outcome.image)),
                digest: outcome.digest,
                up_to_date: outcome.up_to_date,
            })),
        },
    );
    Ok(Response::new(stream))
}
