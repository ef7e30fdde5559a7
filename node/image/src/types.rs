//! The store's public data types.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};

use crate::Reference;

/// The container defaults an image carries.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ImageConfig {
    /// The default user.
    pub user: String,
    /// `KEY=VALUE` entries.
    pub env: Vec<String>,
    /// The entrypoint.
    pub entrypoint: Vec<String>,
    /// The command.
    pub cmd: Vec<String>,
    /// The working directory.
    pub working_dir: String,
    /// Labels.
    pub labels: BTreeMap<String, String>,
    /// The stop signal.
    pub stop_signal: String,
    /// Exposed ports such as `80/tcp`.
    pub exposed_ports: Vec<String>,
    /// Declared volume paths.
    pub volumes: Vec<String>,
}

/// An image in the store.
#[derive(Debug, Clone, PartialEq)]
pub struct Image {
    /// The config digest, `sha256:<hex>`.
    pub id: String,
    /// Normalised tags (`docker.io/library/busybox:latest`).
    pub repo_tags: Vec<String>,
    /// `repo@sha256:…` digests.
    pub repo_digests: Vec<String>,
    /// When the image was created.
    pub created: Option<DateTime<Utc>>,
    /// For example `amd64`.
    pub architecture: String,
    /// For example `linux`.
    pub os: String,
    /// Bytes of the unpacked layers.
    pub size: u64,
    /// Container defaults.
    pub config: ImageConfig,
    /// Layer diff IDs, bottom first.
    pub diff_ids: Vec<String>,
    /// The manifest's digest.
    pub manifest_digest: String,
    /// The author.
    pub author: String,
    /// The comment (import message).
    pub comment: String,
}

/// How `import` names and configures the new image.
#[derive(Debug, Clone, Default)]
pub struct ImportOptions {
    /// The tag to give it, if any.
    pub reference: Option<Reference>,
    /// Stored as the history comment.
    pub message: String,
    /// Dockerfile-style changes: `CMD`, `ENTRYPOINT`, `ENV`, `WORKDIR`, `USER`, `LABEL`,
    /// `EXPOSE`, `STOPSIGNAL`, `VOLUME`.
    pub changes: Vec<String>,
}

/// One step of a removal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeleteItem {
    /// A tag was removed (in its familiar form, `busybox:latest`).
    Untagged(String),
    /// An image (its ID) or layer (its chain ID) was deleted.
    Deleted(String),
}

/// Disk use of the store.
#[derive(Debug, Clone, Default)]
pub struct StoreUsage {
    /// Bytes of all unpacked snapshots, each counted once.
    pub layers_size: u64,
    /// Bytes of the content store.
    pub content_size: u64,
    /// Per image: (image ID, size, bytes shared with other images).
    pub images: Vec<(String, u64, u64)>,
}
