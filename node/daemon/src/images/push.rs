//! Pushing images to registries and checking logins (PushImage, LoginRegistry).

use berth_image::registry::{LoginOutcome, ProgressSink, PushOutcome, PushRequest};
use berth_image::Reference;
use berth_proto::node::v1::{LoginRegistryRequest, PushImageRequest};

use super::{pull::credentials, ImageManager};
use crate::error::DomainResult;

impl ImageManager {
    /// Pushes the image tagged `request.reference` to its registry, reporting per-layer
    /// progress to `progress`, and emits a `push` event.
    pub async fn push(
        &self,
        request: PushImageRequest,
        progress: ProgressSink,
    ) -> DomainResult<PushOutcome> {
        let reference = Reference::parse(&request.reference)?;
        let push = PushRequest {
            reference: reference.clone(),
            credentials: request.auth.map(credentials).unwrap_or_default(),
        };
        let outcome = self
            .ctx
            .registry
            .push(&self.ctx.images, push, progress)
            .await?;
        // As for pulls: the actor is the reference pushed, the name its repository.
        self.emit(&reference.familiar(), "push", &reference.familiar_name())
            .await?;
        Ok(outcome)
    }

    /// Checks the request's credentials against its registry (empty: Docker Hub).
    pub async fn login(&self, request: LoginRegistryRequest) -> DomainResult<LoginOutcome> {
        let credentials = request.auth.map(credentials).unwrap_or_default();
        Ok(self
            .ctx
            .registry
            .login(&request.registry, &credentials)
            .await?)
    }
}
