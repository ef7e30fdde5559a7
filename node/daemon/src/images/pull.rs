//! Pulling images from registries (PullImage, `run --pull`).

use berth_image::registry::{Credentials, Platform, ProgressSink, PullOutcome, PullRequest};
use berth_image::{ImageError, Reference};
use berth_proto::node::v1::{PullImageRequest, RegistryAuth};

use super::ImageManager;
use crate::error::{DomainError, DomainResult};

impl ImageManager {
    /// Pulls an image from its registry, reporting per-layer progress to `progress`, and
    /// emits a `pull` event.
    pub async fn pull(
        &self,
        request: PullImageRequest,
        progress: ProgressSink,
    ) -> DomainResult<PullOutcome> {
        let reference = Reference::parse(&request.reference)?;
        let platform = match request.platform.as_str() {
            "" => None,
            p => Some(Platform::parse(p)?),
        };
        let pull = PullRequest {
            reference: reference.clone(),
            credentials: request.auth.map(credentials).unwrap_or_default(),
            platform,
        };
        let outcome = self
            .ctx
            .registry
            .pull(&self.ctx.images, pull, progress)
            .await
            .map_err(pull_error)?;
        // As Docker: the actor is the reference pulled, the name its repository.
        self.emit(&reference.familiar(), "pull", &reference.familiar_name())
            .await?;
        Ok(outcome)
    }
}

/// The library form of the request's credentials.
pub(super) fn credentials(auth: RegistryAuth) -> Credentials {
    Credentials {
        username: auth.username,
        password: auth.password,
        identity_token: auth.identity_token,
        registry_token: auth.registry_token,
    }
}

/// A registry's "not found" is about a manifest or platform, not a local image: no
/// `No such image` prefix.
fn pull_error(e: ImageError) -> DomainError {
    match e {
        ImageError::NotFound(m) => DomainError::NotFound(m),
        other => other.into(),
    }
}
