//! ImageService handlers: GetImageHistory and PruneImages.

use berth_proto::node::v1::*;
use tonic::{Response, Status};

use super::images::ImageApi;

pub(super) async fn history(
    api: &ImageApi,
    request: GetImageHistoryRequest,
) -> Result<Response<GetImageHistoryResponse>, Status> {
    let _ = (api, request);
    unimplemented!("contract")
}

pub(super) async fn prune(
    api: &ImageApi,
    request: PruneImagesRequest,
) -> Result<Response<PruneImagesResponse>, Status> {
    let _ = (api, request);
    unimplemented!("contract")
}
