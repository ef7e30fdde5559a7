//! ImageService handlers: SaveImages and LoadImages.

use berth_proto::node::v1::*;
use tokio::sync::mpsc;
use tokio_stream::{wrappers::ReceiverStream, StreamExt};
use tonic::{Response, Status, Streaming};

use super::{
    images::{to_proto, ImageApi},
    streams::BoxStream,
};
use crate::stream_io::CHUNK;

pub(super) async fn save(
    api: &ImageApi,
    request: SaveImagesRequest,
) -> Result<Response<BoxStream<SaveImagesResponse>>, Status> {
    let chunks = api.images.save(request.references).await?;
    let stream = ReceiverStream::new(chunks).map(|chunk| {
        chunk
            .map(|chunk| SaveImagesResponse { chunk })
            .map_err(Status::from)
    });
    Ok(Response::new(Box::pin(stream)))
}

pub(super) async fn load(
    api: &ImageApi,
    mut request: Streaming<LoadImagesRequest>,
) -> Result<Response<LoadImagesResponse>, Status> {
    let (tx, rx) = mpsc::channel(4);
    // A failed or oversized client stream drops the sender early: the loader then sees a
    // truncated archive and rolls back, and the pump's own error is what the client gets.
    let pump = tokio::spawn(async move {
        while let Some(LoadImagesRequest { chunk }) = request.message().await? {
            if chunk.len() > CHUNK {
                return Err(Status::invalid_argument("a chunk exceeds 1 MiB"));
            }
            if tx.send(chunk).await.is_err() {
                break;
            }
        }
        Ok(())
    });
    let result = api.images.load(rx).await;
    pump.await.map_err(|e| Status::internal(e.to_string()))??;
    let images = result?
        .into_iter()
        .map(|loaded| LoadedImage {
            image: Some(to_proto(loaded.image)),
            tags: loaded.tags,
        })
        .collect();
    Ok(Response::new(LoadImagesResponse { images }))
}
