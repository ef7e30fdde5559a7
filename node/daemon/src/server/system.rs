//! SystemService: thin handlers over the system domain.

use std::sync::Arc;

use berth_proto::node::v1::{
    system_service_server::SystemService, GetDiskUsageRequest, GetDiskUsageResponse,
    GetInfoRequest, GetInfoResponse, GetVersionRequest, GetVersionResponse, PruneSystemRequest,
    PruneSystemResponse, SubscribeEventsRequest, SubscribeEventsResponse,
};
use tokio_stream::{wrappers::ReceiverStream, StreamExt};
use tonic::{Request, Response, Status};

use super::{image_maintenance::delete_item, streams::BoxStream, Api};
use crate::system::SystemManager;

/// The SystemService implementation.
pub struct SystemApi {
    system: Arc<SystemManager>,
}

impl SystemApi {
    pub(super) fn new(api: &Api) -> Self {
        Self {
            system: Arc::clone(&api.system),
        }
    }
}

#[tonic::async_trait]
impl SystemService for SystemApi {
    async fn get_version(
        &self,
        _request: Request<GetVersionRequest>,
    ) -> Result<Response<GetVersionResponse>, Status> {
        Ok(Response::new(self.system.version()))
    }

    async fn get_info(
        &self,
        _request: Request<GetInfoRequest>,
    ) -> Result<Response<GetInfoResponse>, Status> {
        Ok(Response::new(self.system.info().await?))
    }

    type SubscribeEventsStream = BoxStream<SubscribeEventsResponse>;

    async fn subscribe_events(
        &self,
        request: Request<SubscribeEventsRequest>,
    ) -> Result<Response<Self::SubscribeEventsStream>, Status> {
        let rx = self.system.subscribe(request.into_inner()).await?;
        let stream =
            ReceiverStream::new(rx).map(|event| Ok(SubscribeEventsResponse { event: Some(event) }));
        Ok(Response::new(Box::pin(stream)))
    }

    async fn get_disk_usage(
        &self,
        _request: Request<GetDiskUsageRequest>,
    ) -> Result<Response<GetDiskUsageResponse>, Status> {
        Ok(Response::new(self.system.disk_usage().await?))
    }

    async fn prune_system(
        &self,
        request: Request<PruneSystemRequest>,
    ) -> Result<Response<PruneSystemResponse>, Status> {
        let req = request.into_inner();
        let (containers, images, space_reclaimed) =
            self.system.prune(req.all, &req.filters).await?;
        Ok(Response::new(PruneSystemResponse {
            containers_deleted: containers,
            images_deleted: images.into_iter().map(delete_item).collect(),
            space_reclaimed,
        }))
    }
}
