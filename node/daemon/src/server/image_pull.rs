//! ImageService handlers: PullImage.

use std::sync::Arc;

use berth_image::registry::{LayerProgress, LayerState};
use berth_proto::node::v1::{
    self as proto, pull_image_response, PullImageRequest, PullImageResponse, PullImageResult,
};
use tokio::sync::mpsc;
use tonic::{Response, Status};

use super::{
    images::{to_proto, ImageApi},
    streams::{self, BoxStream},
};

/// Streams per-layer progress, then the result. The pull runs on its own task: a client that
/// goes away does not stop it (another pull may be sharing its downloads).
pub(super) async fn pull(
    api: &ImageApi,
    request: PullImageRequest,
) -> Result<Response<BoxStream<PullImageResponse>>, Status> {
    let (progress_tx, mut progress_rx) = mpsc::unbounded_channel();
    let (tx, rx) = mpsc::channel(64);
    let images = Arc::clone(&api.images);
    let mut pull = tokio::spawn(async move { images.pull(request, progress_tx).await });
    tokio::spawn(async move {
        let outcome = loop {
            tokio::select! {
                Some(progress) = progress_rx.recv() => {
                    // A closed stream only means nobody watches; keep draining.
                    let _ = tx.send(Ok(progress_message(progress))).await;
                }
                outcome = &mut pull => break outcome,
            }
        };
        while let Ok(progress) = progress_rx.try_recv() {
            let _ = tx.send(Ok(progress_message(progress))).await;
        }
        let last = match outcome {
            Ok(Ok(outcome)) => Ok(PullImageResponse {
                response: Some(pull_image_response::Response::Result(PullImageResult {
                    image: Some(to_proto(outcome.image)),
                    digest: outcome.digest,
                    up_to_date: outcome.up_to_date,
                })),
            }),
            Ok(Err(e)) => Err(Status::from(e)),
            Err(e) => Err(Status::internal(format!("the pull failed: {e}"))),
        };
        let _ = tx.send(last).await;
    });
    Ok(Response::new(streams::from_channel(rx)))
}

fn progress_message(p: LayerProgress) -> PullImageResponse {
    PullImageResponse {
        response: Some(pull_image_response::Response::Progress(layer_progress(p))),
    }
}

/// The API form of a layer's progress (shared with PushImage).
pub(super) fn layer_progress(p: LayerProgress) -> proto::LayerProgress {
    let state = match p.state {
        LayerState::Waiting => proto::LayerState::Waiting,
        LayerState::Transferring => proto::LayerState::Transferring,
        LayerState::Verifying => proto::LayerState::Verifying,
        LayerState::Complete => proto::LayerState::Complete,
        LayerState::AlreadyExists => proto::LayerState::AlreadyExists,
        LayerState::Mounted => proto::LayerState::Mounted,
        LayerState::Shared => proto::LayerState::Shared,
    };
    proto::LayerProgress {
        digest: p.digest,
        state: state as i32,
        current: i64::try_from(p.current).unwrap_or(i64::MAX),
        total: i64::try_from(p.total).unwrap_or(i64::MAX),
    }
}
