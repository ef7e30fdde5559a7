//! Pushing images to registries and checking logins (PushImage, LoginRegistry).

use berth_image::registry::{Credentials, LoginOutcome, ProgressSink, PushOutcome, PushRequest};
use berth_image::Reference;

use super::ImageManager;
use crate::error::DomainResult;

impl ImageManager {
    /// Pushes the image tagged `reference` to its registry, reporting per-blob progress.
    pub async fn push(
        &self,
        reference: &str,
        credentials: Credentials,
        progress: ProgressSink,
    ) -> DomainResult<PushOutcome> {
        let reference = Reference::parse(reference)?;
        let request = PushRequest {
            reference: reference.clone(),
            credentials,
        };
        let outcome = self
            .ctx
            .registry
            .push(&self.ctx.images, request, progress)
            .await?;
        let name = reference.to_string();
        self.emit(&name, "push", &name).await?;
        Ok(outcome)
    }

    /// Checks `credentials` against `registry` (empty: Docker Hub).
    pub async fn login(
        &self,
        registry: &str,
        credentials: &Credentials,
    ) -> DomainResult<LoginOutcome> {
        Ok(self.ctx.registry.login(registry, credentials).await?)
    }
}
