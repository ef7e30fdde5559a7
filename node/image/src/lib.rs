//! Berth's image store (API contract; bodies land with the image-store work).
//!
//! Layout under the daemon's root: `content/blobs/sha256/<hex>` (verified blobs),
//! `content/ingest/` (in-flight writes), `snapshots/<n>/` (one unpacked layer each, shared by
//! every image that has the same chain). The image index (references, images, snapshots) lives
//! in tables of the daemon's redb database.

use std::{
    io::Read,
    path::{Path, PathBuf},
    sync::Arc,
};

use chrono::{DateTime, Utc};

/// Why an image-store operation failed.
#[derive(Debug, thiserror::Error)]
pub enum ImageError {
    /// No image matches the reference, ID or prefix.
    #[error("no such image: {0}")]
    NotFound(String),
    /// An ID prefix matches more than one image.
    #[error("ambiguous image ID prefix {0}")]
    Ambiguous(String),
    /// A malformed reference, archive, config change or path.
    #[error("{0}")]
    InvalidArgument(String),
    /// The image is in use (removal without force).
    #[error("{0}")]
    InUse(String),
    /// A filesystem or database failure.
    #[error("{context}: {source}")]
    Io {
        /// What was being done.
        context: String,
        /// The cause.
        source: std::io::Error,
    },
    /// The metadata database failed.
    #[error("image index: {0}")]
    Database(String),
}

/// A normalised image reference such as `docker.io/library/busybox:latest`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Reference {
    _private: (),
}

impl Reference {
    /// Parses and normalises a reference as Docker does (`busybox` →
    /// `docker.io/library/busybox:latest`).
    pub fn parse(_input: &str) -> Result<Self, ImageError> {
        unimplemented!("contract")
    }
}

/// The container defaults an image carries.
#[derive(Debug, Clone, Default, PartialEq)]
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
    pub labels: std::collections::BTreeMap<String, String>,
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
    /// A tag was removed.
    Untagged(String),
    /// An image or layer was deleted.
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

/// The image store.
pub struct ImageStore {
    _root: PathBuf,
    _db: Arc<redb::Database>,
}

impl ImageStore {
    /// Opens the store under `root` (the daemon's `--root`), creating its directories and
    /// tables, and removes leftovers of interrupted ingests and unpacks.
    pub fn open(_root: &Path, _db: Arc<redb::Database>) -> Result<Self, ImageError> {
        unimplemented!("contract")
    }

    /// Builds a one-layer OCI image from a root filesystem tar (plain or gzip), stores its
    /// layer, config and manifest as verified blobs, unpacks the layer and tags it.
    pub fn import(
        &self,
        _tar: &mut dyn Read,
        _options: &ImportOptions,
    ) -> Result<Image, ImageError> {
        unimplemented!("contract")
    }

    /// Finds an image by reference, full ID (`sha256:…`), bare hex ID or unique ID prefix.
    pub fn get(&self, _reference: &str) -> Result<Image, ImageError> {
        unimplemented!("contract")
    }

    /// Every image, newest first.
    pub fn list(&self) -> Result<Vec<Image>, ImageError> {
        unimplemented!("contract")
    }

    /// Points `target` at the image `source` resolves to.
    pub fn tag(&self, _source: &str, _target: &Reference) -> Result<Image, ImageError> {
        unimplemented!("contract")
    }

    /// Untags (`reference` is a tag) or removes an image, and deletes layers and blobs no
    /// other image uses. `in_use(image_id)` says whether a container uses an image: such an
    /// image is only untagged, and only with `force`.
    pub fn remove(
        &self,
        _reference: &str,
        _force: bool,
        _in_use: &dyn Fn(&str) -> bool,
    ) -> Result<Vec<DeleteItem>, ImageError> {
        unimplemented!("contract")
    }

    /// The unpacked layer directories of an image, top layer first (overlayfs lowerdir order).
    pub fn layer_dirs(&self, _image_id: &str) -> Result<Vec<PathBuf>, ImageError> {
        unimplemented!("contract")
    }

    /// Disk use of layers and blobs.
    pub fn usage(&self) -> Result<StoreUsage, ImageError> {
        unimplemented!("contract")
    }
}

/// Mounting a container's root filesystem.
pub mod overlay {
    use std::path::{Path, PathBuf};

    use crate::ImageError;

    /// An overlay mount: image layers below, the container's writable layer on top.
    #[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
    pub struct OverlayMount {
        /// Layer directories, top first.
        pub lowers: Vec<PathBuf>,
        /// The writable layer.
        pub upper: PathBuf,
        /// overlayfs's work directory (same filesystem as `upper`).
        pub work: PathBuf,
        /// Where to mount.
        pub target: PathBuf,
    }

    impl OverlayMount {
        /// Mounts it (creating upper, work and target if missing).
        pub fn mount(&self) -> Result<(), ImageError> {
            unimplemented!("contract")
        }
    }

    /// Unmounts `target` if something is mounted there (lazily if busy).
    pub fn unmount(_target: &Path) -> Result<(), ImageError> {
        unimplemented!("contract")
    }
}

/// Tar streams in and out of a root filesystem, resolved in-root.
pub mod archive {
    use std::{
        io::{Read, Write},
        path::Path,
    };

    use crate::ImageError;

    /// What a path inside a root is.
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct PathInfo {
        /// The base name.
        pub name: String,
        /// Size in bytes.
        pub size: u64,
        /// `st_mode`, file type included.
        pub mode: u32,
        /// Modification time, seconds since the epoch.
        pub mtime: i64,
        /// The link target, for a symlink.
        pub link_target: String,
    }

    /// Stats `path` resolved inside `root` without following its last component.
    pub fn stat_in_root(_root: &Path, _path: &str) -> Result<PathInfo, ImageError> {
        unimplemented!("contract")
    }

    /// Writes `path` (resolved inside `root`) as a tar whose entries are named from the path's
    /// base name (`docker cp` semantics). `path == "/"` writes the whole root with relative
    /// names (`export`).
    pub fn pack(_root: &Path, _path: &str, _out: &mut dyn Write) -> Result<(), ImageError> {
        unimplemented!("contract")
    }

    /// Extracts a tar into the directory `dir` (resolved inside `root`), refusing entries that
    /// would leave the root.
    pub fn unpack_into(
        _root: &Path,
        _dir: &str,
        _tar: &mut dyn Read,
        _no_overwrite_dir_non_dir: bool,
    ) -> Result<(), ImageError> {
        unimplemented!("contract")
    }
}
