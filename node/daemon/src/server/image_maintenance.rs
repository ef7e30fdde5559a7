//! ImageService handlers: GetImageHistory and PruneImages.

use berth_image::DeleteItem;
use berth_proto::node::v1::*;
use tonic::{Response, Status};

use super::images::ImageApi;
use crate::time;

pub(super) async fn history(
    api: &ImageApi,
    request: GetImageHistoryRequest,
) -> Result<Response<GetImageHistoryResponse>, Status> {
    let history = api
        .images
        .history(&request.reference)
        .await?
        .into_iter()
        .map(|h| ImageHistoryEntry {
            id: h.id,
            created: h.created.map(time::to_timestamp),
            created_by: h.created_by,
            size: i64::try_from(h.size).unwrap_or(i64::MAX),
            comment: h.comment,
            tags: h.tags,
            empty_layer: h.empty_layer,
        })
        .collect();
    Ok(Response::new(GetImageHistoryResponse { history }))
}

pub(super) async fn prune(
    api: &ImageApi,
    request: PruneImagesRequest,
) -> Result<Response<PruneImagesResponse>, Status> {
    let report = api.images.prune(request.all, &request.filters).await?;
    Ok(Response::new(PruneImagesResponse {
        items: report.items.into_iter().map(delete_item).collect(),
        space_reclaimed: report.space_reclaimed,
    }))
}

/// The API form of one removal step.
pub(super) fn delete_item(item: DeleteItem) -> ImageDeleteItem {
    match item {
        DeleteItem::Untagged(tag) => ImageDeleteItem {
            untagged: tag,
            deleted: String::new(),
        },
        DeleteItem::Deleted(id) => ImageDeleteItem {
            untagged: String::new(),
            deleted: id,
        },
    }
}
