//! ImageService handlers: PullImage.

use berth_proto::node::v1::*;
use tonic::{Response, Status};

use super::{images::ImageApi, streams::BoxStream};

pub(super) async fn pull(
    api: &ImageApi,
    request: PullImageRequest,
) -> Result<Response<BoxStream<PullImageResponse>>, Status> {
    let _ = (api, request);
    unimplemented!("contract")
}
