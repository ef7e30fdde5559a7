//! ImageService handlers: SaveImages and LoadImages.

use berth_proto::node::v1::*;
use tonic::{Response, Status, Streaming};

use super::{images::ImageApi, streams::BoxStream};

pub(super) async fn save(
    api: &ImageApi,
    request: SaveImagesRequest,
) -> Result<Response<BoxStream<SaveImagesResponse>>, Status> {
    let _ = (api, request);
    unimplemented!("contract")
}

pub(super) async fn load(
    api: &ImageApi,
    request: Streaming<LoadImagesRequest>,
) -> Result<Response<LoadImagesResponse>, Status> {
    let _ = (api, request);
    unimplemented!("contract")
}
