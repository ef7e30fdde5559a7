//! ImageService: thin handlers over the image domain.

use std::sync::Arc;

use berth_proto::node::v1::{
    image_service_server::ImageService, import_image_request, GetImageHistoryRequest,
    GetImageHistoryResponse, GetImageRequest, GetImageResponse, Image, ImageConfig,
    ImportImageRequest, ImportImageResponse, ListImagesRequest, ListImagesResponse,
    LoadImagesRequest, LoadImagesResponse, LoginRegistryRequest, LoginRegistryResponse,
    PruneImagesRequest, PruneImagesResponse, PullImageRequest, PullImageResponse, PushImageRequest,
    PushImageResponse, RemoveImageRequest, RemoveImageResponse, RootFs, SaveImagesRequest,
    SaveImagesResponse, TagImageRequest, TagImageResponse,
};
use tokio::sync::mpsc;
use tonic::{Request, Response, Status, Streaming};

use super::{image_archive, image_maintenance, image_pull, image_push, streams::BoxStream, Api};
use crate::{images::ImageManager, stream_io::CHUNK, time};

/// The ImageService implementation.
pub struct ImageApi {
    pub(super) images: Arc<ImageManager>,
}

impl ImageApi {
    pub(super) fn new(api: &Api) -> Self {
        Self {
            images: Arc::clone(&api.images),
        }
    }
}

/// The API form of a stored image.
pub fn to_proto(i: berth_image::Image) -> Image {
    Image {
        id: i.id,
        repo_tags: i.repo_tags,
        repo_digests: i.repo_digests,
        created: i.created.map(time::to_timestamp),
        architecture: i.architecture,
        os: i.os,
        size: i64::try_from(i.size).unwrap_or(i64::MAX),
        config: Some(ImageConfig {
            user: i.config.user,
            env: i.config.env,
            entrypoint: i.config.entrypoint,
            cmd: i.config.cmd,
            working_dir: i.config.working_dir,
            labels: i.config.labels.into_iter().collect(),
            stop_signal: i.config.stop_signal,
            exposed_ports: i.config.exposed_ports,
            volumes: i.config.volumes,
        }),
        root_fs: Some(RootFs {
            r#type: "layers".to_owned(),
            diff_ids: i.diff_ids,
        }),
        manifest_digest: i.manifest_digest,
        author: i.author,
        comment: i.comment,
    }
}

#[tonic::async_trait]
impl ImageService for ImageApi {
    async fn import_image(
        &self,
        request: Request<Streaming<ImportImageRequest>>,
    ) -> Result<Response<ImportImageResponse>, Status> {
        let mut inbound = request.into_inner();
        let header = match inbound.message().await? {
            Some(ImportImageRequest {
                request: Some(import_image_request::Request::Header(header)),
            }) => header,
            _ => return Err(Status::invalid_argument("the first message must be header")),
        };
        let (tx, rx) = mpsc::channel(4);
        let pump = tokio::spawn(async move {
            while let Some(message) = inbound.message().await? {
                if let Some(import_image_request::Request::Chunk(chunk)) = message.request {
                    if chunk.len() > CHUNK {
                        return Err(Status::invalid_argument("a chunk exceeds 1 MiB"));
                    }
                    if tx.send(chunk).await.is_err() {
                        break;
                    }
                }
            }
            Ok(())
        });
        let result = self.images.import(header, rx).await;
        pump.await.map_err(|e| Status::internal(e.to_string()))??;
        let image = result?;
        Ok(Response::new(ImportImageResponse {
            image: Some(to_proto(image)),
        }))
    }

    async fn list_images(
        &self,
        request: Request<ListImagesRequest>,
    ) -> Result<Response<ListImagesResponse>, Status> {
        let (images, next_page_token) = self.images.list(request.get_ref()).await?;
        Ok(Response::new(ListImagesResponse {
            images: images.into_iter().map(to_proto).collect(),
            next_page_token,
        }))
    }

    async fn get_image(
        &self,
        request: Request<GetImageRequest>,
    ) -> Result<Response<GetImageResponse>, Status> {
        let image = self.images.get(&request.get_ref().reference).await?;
        Ok(Response::new(GetImageResponse {
            image: Some(to_proto(image)),
        }))
    }

    async fn remove_image(
        &self,
        request: Request<RemoveImageRequest>,
    ) -> Result<Response<RemoveImageResponse>, Status> {
        let req = request.into_inner();
        let items = self.images.remove(&req.reference, req.force).await?;
        Ok(Response::new(RemoveImageResponse {
            items: items
                .into_iter()
                .map(image_maintenance::delete_item)
                .collect(),
        }))
    }

    async fn tag_image(
        &self,
        request: Request<TagImageRequest>,
    ) -> Result<Response<TagImageResponse>, Status> {
        let req = request.into_inner();
        self.images.tag(&req.source, &req.target).await?;
        Ok(Response::new(TagImageResponse {}))
    }

    type PullImageStream = BoxStream<PullImageResponse>;

    async fn pull_image(
        &self,
        request: Request<PullImageRequest>,
    ) -> Result<Response<Self::PullImageStream>, Status> {
        image_pull::pull(self, request.into_inner()).await
    }

    type PushImageStream = BoxStream<PushImageResponse>;

    async fn push_image(
        &self,
        request: Request<PushImageRequest>,
    ) -> Result<Response<Self::PushImageStream>, Status> {
        image_push::push(self, request.into_inner()).await
    }

    async fn login_registry(
        &self,
        request: Request<LoginRegistryRequest>,
    ) -> Result<Response<LoginRegistryResponse>, Status> {
        image_push::login(self, request.into_inner()).await
    }

    type SaveImagesStream = BoxStream<SaveImagesResponse>;

    async fn save_images(
        &self,
        request: Request<SaveImagesRequest>,
    ) -> Result<Response<Self::SaveImagesStream>, Status> {
        image_archive::save(self, request.into_inner()).await
    }

    async fn load_images(
        &self,
        request: Request<Streaming<LoadImagesRequest>>,
    ) -> Result<Response<LoadImagesResponse>, Status> {
        image_archive::load(self, request.into_inner()).await
    }

    async fn get_image_history(
        &self,
        request: Request<GetImageHistoryRequest>,
    ) -> Result<Response<GetImageHistoryResponse>, Status> {
        image_maintenance::history(self, request.into_inner()).await
    }

    async fn prune_images(
        &self,
        request: Request<PruneImagesRequest>,
    ) -> Result<Response<PruneImagesResponse>, Status> {
        image_maintenance::prune(self, request.into_inner()).await
    }
}
