//! Registries: pull, push and login over the OCI distribution API (registry v2).
//!
//! Transport, auth challenges and tokens come from `oci-client`; manifests are parsed and
//! verified here, and layers stream from the wire through the digest check and decompression
//! straight into the unpacker (no full temporary copy).

mod client;
mod downloads;
mod login;
pub mod manifest;
mod manifest_fetch;
mod platform;
mod pull;
mod push;

use std::sync::Arc;

use crate::{Image, ImageError, ImageStore, Reference};

/// How berthd talks to registries (daemon configuration).
#[derive(Debug, Clone)]
pub struct RegistryConfig {
    /// Registries (`host[:port]`) reachable over plain HTTP. `localhost` and 127.0.0.0/8 are
    /// always allowed, as in Docker.
    pub insecure_registries: Vec<String>,
    /// Layers downloaded at once per pull.
    pub max_concurrent_downloads: usize,
    /// Blobs uploaded at once per push.
    pub max_concurrent_uploads: usize,
}

impl Default for RegistryConfig {
    fn default() -> Self {
        RegistryConfig {
            insecure_registries: Vec::new(),
            max_concurrent_downloads: 3,
            max_concurrent_uploads: 5,
        }
    }
}

/// Credentials for one registry, from the client, per request. Never written to disk.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Credentials {
    /// User name (HTTP basic, or basic credentials for the token endpoint).
    pub username: String,
    /// Password or access token.
    pub password: String,
    /// OAuth2 refresh token (`identitytoken`).
    pub identity_token: String,
    /// Bearer token sent as is (`registrytoken`).
    pub registry_token: String,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Secrets never reach logs.
        f.debug_struct("Credentials")
            .field("username", &self.username)
            .finish_non_exhaustive()
    }
}

/// A platform, `os/arch[/variant]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Platform {
    /// For example `linux`.
    pub os: String,
    /// For example `amd64`, `arm64`.
    pub architecture: String,
    /// For example `v7` for `arm`.
    pub variant: Option<String>,
}

/// What is happening to one layer or blob.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LayerState {
    /// Queued for a transfer slot.
    Waiting,
    /// Bytes are moving (downloaded and unpacked as they arrive, or uploaded).
    Transferring,
    /// Digests are being checked and the layer committed.
    Verifying,
    /// Pulled and unpacked, or pushed.
    Complete,
    /// Already in the store, or already in the registry.
    AlreadyExists,
    /// Pushed by a cross-repository mount.
    Mounted,
    /// Another pull is downloading the same blob; this one waits for it.
    Shared,
}

/// Progress of one layer or blob.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LayerProgress {
    /// The blob's digest.
    pub digest: String,
    /// What is happening.
    pub state: LayerState,
    /// Bytes moved so far (as on the wire).
    pub current: u64,
    /// The blob's size from the manifest.
    pub total: u64,
}

/// Where progress goes. A closed receiver (a client that went away) does not stop the work.
pub type ProgressSink = tokio::sync::mpsc::UnboundedSender<LayerProgress>;

/// A pull.
#[derive(Debug, Clone)]
pub struct PullRequest {
    /// What to pull; no tag means `latest`.
    pub reference: Reference,
    /// Credentials for its registry.
    pub credentials: Credentials,
    /// The platform to pick from an index; `None`: the host's.
    pub platform: Option<Platform>,
}

/// What a pull did.
#[derive(Debug, Clone)]
pub struct PullOutcome {
    /// The image, as stored.
    pub image: Image,
    /// The digest of the manifest or index the reference resolved to.
    pub digest: String,
    /// Nothing changed: the store had the image under this reference already.
    pub up_to_date: bool,
}

/// A push.
#[derive(Debug, Clone)]
pub struct PushRequest {
    /// The tag to push; no tag means `latest`.
    pub reference: Reference,
    /// Credentials for its registry.
    pub credentials: Credentials,
}

/// What a push did.
#[derive(Debug, Clone)]
pub struct PushOutcome {
    /// The tag pushed (`v1`).
    pub tag: String,
    /// The manifest's digest.
    pub digest: String,
    /// The manifest's size in bytes.
    pub size: u64,
}

/// What a login returned.
#[derive(Debug, Clone)]
pub struct LoginOutcome {
    /// `Login Succeeded`.
    pub status: String,
    /// A token the registry issued to store instead of the password; usually empty.
    pub identity_token: String,
}

/// The registry client of one daemon: configuration plus the downloads in flight, so that
/// concurrent pulls of the same blob share one download.
pub struct Registry {
    config: RegistryConfig,
    downloads: Arc<downloads::Downloads>,
}

impl Registry {
    /// A client with `config`.
    pub fn new(config: RegistryConfig) -> Self {
        Registry {
            config,
            downloads: Arc::default(),
        }
    }

    /// Pulls `request.reference` into `store`, reporting per-layer progress.
    pub async fn pull(
        &self,
        store: &Arc<ImageStore>,
        request: PullRequest,
        progress: ProgressSink,
    ) -> Result<PullOutcome, ImageError> {
        pull::pull(self, store, request, progress).await
    }

    /// Pushes the image tagged `request.reference` to its registry, reporting progress.
    pub async fn push(
        &self,
        store: &Arc<ImageStore>,
        request: PushRequest,
        progress: ProgressSink,
    ) -> Result<PushOutcome, ImageError> {
        push::push(&self.config, store, request, progress).await
    }

    /// Checks `credentials` against `registry` (`host[:port]`; empty: Docker Hub).
    pub async fn login(
        &self,
        registry: &str,
        credentials: &Credentials,
    ) -> Result<LoginOutcome, ImageError> {
        login::login(&self.config, registry, credentials).await
    }
}
