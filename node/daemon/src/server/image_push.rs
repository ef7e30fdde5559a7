//! ImageService handlers: PushImage and LoginRegistry.

use berth_proto::node::v1::*;
use tonic::{Response, Status};

use super::{images::ImageApi, streams::BoxStream};

pub(super) async fn push(
    api: &ImageApi,
    request: PushImageRequest,
) -> Result<Response<BoxStream<PushImageResponse>>, Status> {
    let _ = (api, request);
    unimplemented!("contract")
}

pub(super) async fn login(
    api: &ImageApi,
    request: LoginRegistryRequest,
) -> Result<Response<LoginRegistryResponse>, Status> {
    let _ = (api, request);
    unimplemented!("contract")
}
