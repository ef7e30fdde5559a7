//! Multi-layer images: chain IDs, layer compression by media type, unpacking stored blobs into
//! shared snapshots, and the one commit that records an image (used by import, pull and load).

use std::io::{BufReader, Read};

use flate2::read::MultiGzDecoder;
use redb::ReadableTable;
use sha2::{Digest, Sha256};

use crate::index::{
    self, ImageRecord, SnapshotRecord, View, COUNTERS, IMAGES, NEXT_SNAPSHOT, SNAPSHOTS, TAGS,
};
use chrono::{DateTime, Utc};
use oci_spec::image::{Config, ImageConfiguration};

use crate::{ImageConfig, ImageError, ImageStore};

/// The chain IDs of a stack of layers, bottom first (OCI image spec: `ChainID(L0) =
/// DiffID(L0)`, `ChainID(Ln) = sha256(ChainID(Ln-1) + " " + DiffID(Ln))`).
pub(crate) fn chain_ids(diff_ids: &[String]) -> Vec<String> {
    let mut chains: Vec<String> = Vec::with_capacity(diff_ids.len());
    for diff_id in diff_ids {
        let chain = match chains.last() {
            None => diff_id.clone(),
            Some(parent) => format!(
                "sha256:{}",
                hex::encode(Sha256::digest(format!("{parent} {diff_id}")))
            ),
        };
        chains.push(chain);
    }
    chains
}

/// How a layer blob is compressed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Compression {
    None,
    Gzip,
    Zstd,
}

impl Compression {
    /// From a layer media type (OCI and Docker, including the non-distributable ones).
    /// `ImageError::Unsupported` for anything that is not a layer tar.
    pub(crate) fn from_media_type(media_type: &str) -> Result<Self, ImageError> {
        match media_type {
            "application/vnd.oci.image.layer.v1.tar"
            | "application/vnd.oci.image.layer.nondistributable.v1.tar"
            | "application/vnd.docker.image.rootfs.diff.tar" => Ok(Compression::None),
            "application/vnd.oci.image.layer.v1.tar+gzip"
            | "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip"
            | "application/vnd.docker.image.rootfs.diff.tar.gzip"
            | "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip" => Ok(Compression::Gzip),
            "application/vnd.oci.image.layer.v1.tar+zstd"
            | "application/vnd.oci.image.layer.nondistributable.v1.tar+zstd"
            | "application/vnd.docker.image.rootfs.diff.tar.zstd" => Ok(Compression::Zstd),
            other => Err(ImageError::Unsupported(format!(
                "unsupported layer media type {other:?}"
            ))),
        }
    }

    /// A reader of the uncompressed tar.
    pub(crate) fn reader<'a>(
        self,
        compressed: impl Read + 'a,
    ) -> Result<Box<dyn Read + 'a>, ImageError> {
        Ok(match self {
            Compression::None => Box::new(compressed),
            Compression::Gzip => Box::new(MultiGzDecoder::new(compressed)),
            Compression::Zstd => Box::new(
                zstd::stream::read::Decoder::new(compressed)
                    .map_err(|e| ImageError::io("starting zstd decompression", e))?,
            ),
        })
    }
}

/// One layer of an image about to be committed.
#[derive(Debug, Clone)]
pub(crate) struct LayerSnapshot {
    /// The snapshot key.
    pub chain_id: String,
    /// The snapshot (refs as found; `commit` counts the new image's reference).
    pub snapshot: SnapshotRecord,
    /// True when this operation unpacked it (so a rollback deletes it).
    pub created: bool,
}

impl ImageStore {
    /// Reserves a snapshot directory number.
    pub(crate) fn allocate_snapshot(&self) -> Result<u64, ImageError> {
        let txn = self.db.begin_write()?;
        let n = {
            let mut counters = txn.open_table(COUNTERS)?;
            let n = counters.get(NEXT_SNAPSHOT)?.map_or(1, |v| v.value());
            counters.insert(NEXT_SNAPSHOT, n + 1)?;
            n
        };
        txn.commit()?;
        Ok(n)
    }

    /// The snapshot of `chain_id`: the existing one, or a new one unpacked from the stored blob
    /// `blob_digest` (compressed as `compression`), verified against `diff_id`.
    pub(crate) fn snapshot_from_blob(
        &self,
        chain_id: &str,
        diff_id: &str,
        blob_digest: &str,
        compression: Compression,
    ) -> Result<LayerSnapshot, ImageError> {
        if let Some(snapshot) = View::load(&self.db)?.snapshot(chain_id).cloned() {
            return Ok(LayerSnapshot {
                chain_id: chain_id.to_string(),
                snapshot,
                created: false,
            });
        }
        let dir = self.allocate_snapshot()?;
        let blob = BufReader::with_capacity(256 * 1024, self.content.open_blob(blob_digest)?);
        let size = self
            .snapshots
            .unpack(dir, compression.reader(blob)?, diff_id)?;
        Ok(LayerSnapshot {
            chain_id: chain_id.to_string(),
            snapshot: SnapshotRecord {
                dir,
                diff_id: diff_id.to_string(),
                size,
                refs: 0,
            },
            created: true,
        })
    }

    /// Records `record` (unless an image with its ID exists), counts its reference on each
    /// layer's snapshot, adds `repo_digest` to its repo digests and points `tags` (normalised
    /// references) at it: one transaction under the write lock. A snapshot this operation
    /// unpacked while another one committed the same chain is dropped in favour of the
    /// committed one. A shared snapshot that was removed meanwhile fails the commit
    /// (`ImageError::Unavailable`, retryable). Returns true when the image is new.
    pub(crate) fn commit_image(
        &self,
        record: &ImageRecord,
        layers: &[LayerSnapshot],
        tags: &[String],
        repo_digest: Option<&str>,
    ) -> Result<bool, ImageError> {
        let _guard = self.lock();
        let txn = self.db.begin_write()?;
        let mut redundant: Vec<u64> = Vec::new();
        let new = {
            let mut images = txn.open_table(IMAGES)?;
            let existing = images
                .get(record.id.as_str())?
                .map(|v| index::decode::<ImageRecord>(v.value()))
                .transpose()?;
            let new = existing.is_none();
            let mut stored = existing.unwrap_or_else(|| record.clone());
            let mut snapshots = txn.open_table(SNAPSHOTS)?;
            for layer in layers {
                let current = snapshots
                    .get(layer.chain_id.as_str())?
                    .map(|v| index::decode::<SnapshotRecord>(v.value()))
                    .transpose()?;
                let mut snapshot = match (current, layer.created) {
                    (Some(current), created) => {
                        // Another pull may have committed this very snapshot (a shared
                        // download): only a different directory is redundant.
                        if created && current.dir != layer.snapshot.dir {
                            redundant.push(layer.snapshot.dir);
                        }
                        current
                    }
                    (None, true) => layer.snapshot.clone(),
                    (None, false) => {
                        return Err(ImageError::Unavailable(format!(
                            "layer {} was removed while in use; try again",
                            layer.chain_id
                        )))
                    }
                };
                if new {
                    snapshot.refs += 1;
                    snapshots.insert(
                        layer.chain_id.as_str(),
                        index::encode(&snapshot)?.as_slice(),
                    )?;
                }
            }
            if let Some(digest) = repo_digest {
                if !stored.repo_digests.iter().any(|d| d == digest) {
                    stored.repo_digests.push(digest.to_string());
                }
            }
            images.insert(record.id.as_str(), index::encode(&stored)?.as_slice())?;
            let mut tag_table = txn.open_table(TAGS)?;
            for tag in tags {
                tag_table.insert(tag.as_str(), record.id.as_str())?;
            }
            new
        };
        txn.commit()?;
        // Unreferenced now; a failure leaves garbage for the next open, not an inconsistency.
        for dir in redundant {
            let _ = self.snapshots.remove(dir);
        }
        Ok(new)
    }

    /// Deletes what a failed operation wrote: the snapshot directories it unpacked, and those
    /// of `blobs` that no image references.
    pub(crate) fn roll_back(&self, snapshot_dirs: &[u64], blobs: &[String]) {
        // Best effort: the caller reports its own error, and anything left here is
        // unreferenced garbage that the next open collects.
        for dir in snapshot_dirs {
            let _ = self.snapshots.remove(*dir);
        }
        let Ok(view) = View::load(&self.db) else {
            return;
        };
        let referenced = view.referenced_blobs();
        for blob in blobs.iter().filter(|b| !referenced.contains(*b)) {
            let _ = self.content.delete(blob);
        }
    }
}

/// An image record from a manifest's digest and layers and the bytes of its config (the image
/// ID is the config's digest). `ImageError::InvalidArgument` for a malformed config or one whose
/// diff IDs do not match the layers.
pub(crate) fn image_record(
    manifest_digest: &str,
    layer_digests: &[String],
    config_digest: &str,
    config: &[u8],
) -> Result<ImageRecord, ImageError> {
    let parsed: ImageConfiguration = serde_json::from_slice(config)
        .map_err(|e| ImageError::invalid(format!("invalid image config {config_digest}: {e}")))?;
    let diff_ids = parsed.rootfs().diff_ids().clone();
    if diff_ids.len() != layer_digests.len() {
        return Err(ImageError::invalid(format!(
            "image config {config_digest} lists {} layers but the manifest has {}",
            diff_ids.len(),
            layer_digests.len()
        )));
    }
    let created = parsed
        .created()
        .as_deref()
        .and_then(|c| DateTime::parse_from_rfc3339(c).ok())
        .map(|c| c.with_timezone(&Utc));
    let config = parsed
        .config()
        .as_ref()
        .map(runtime_defaults)
        .unwrap_or_default();
    check_config_paths(config_digest, &config)?;
    let comment = parsed
        .history()
        .as_ref()
        .and_then(|h| h.last())
        .and_then(|h| h.comment().clone())
        .unwrap_or_default();
    Ok(ImageRecord {
        id: config_digest.to_string(),
        manifest_digest: manifest_digest.to_string(),
        layers: layer_digests.to_vec(),
        chain_ids: chain_ids(&diff_ids),
        diff_ids,
        created,
        architecture: parsed.architecture().to_string(),
        os: parsed.os().to_string(),
        author: parsed.author().clone().unwrap_or_default(),
        comment,
        config: parsed
            .config()
            .as_ref()
            .map(runtime_defaults)
            .unwrap_or_default(),
        repo_digests: Vec::new(),
    })
}

/// Refuses config paths that could point anywhere but where they say (SECURITY.md item 10):
/// a working directory or volume that is relative or has a `..` component, or an empty volume.
fn check_config_paths(config_digest: &str, config: &ImageConfig) -> Result<(), ImageError> {
    let bad = |path: &str| {
        !path.starts_with('/')
            || std::path::Path::new(path)
                .components()
                .any(|c| matches!(c, std::path::Component::ParentDir))
    };
    if !config.working_dir.is_empty() && bad(&config.working_dir) {
        return Err(ImageError::invalid(format!(
            "image config {config_digest}: working directory {:?} must be an absolute path \
             without ..",
            config.working_dir
        )));
    }
    if let Some(volume) = config.volumes.iter().find(|v| bad(v)) {
        return Err(ImageError::invalid(format!(
            "image config {config_digest}: volume {volume:?} must be an absolute path without .."
        )));
    }
    Ok(())
}

/// The container defaults of an OCI runtime config.
fn runtime_defaults(config: &Config) -> ImageConfig {
    ImageConfig {
        user: config.user().clone().unwrap_or_default(),
        env: config.env().clone().unwrap_or_default(),
        entrypoint: config.entrypoint().clone().unwrap_or_default(),
        cmd: config.cmd().clone().unwrap_or_default(),
        working_dir: config.working_dir().clone().unwrap_or_default(),
        labels: config
            .labels()
            .clone()
            .unwrap_or_default()
            .into_iter()
            .collect(),
        stop_signal: config.stop_signal().clone().unwrap_or_default(),
        exposed_ports: config.exposed_ports().clone().unwrap_or_default(),
        volumes: config.volumes().clone().unwrap_or_default(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chain_ids_follow_the_oci_formula() {
        let a = format!("sha256:{}", "a".repeat(64));
        let b = format!("sha256:{}", "b".repeat(64));
        let chains = chain_ids(&[a.clone(), b.clone()]);
        assert_eq!(chains[0], a);
        let expected = format!("sha256:{}", hex::encode(Sha256::digest(format!("{a} {b}"))));
        assert_eq!(chains[1], expected);
    }

    #[test]
    fn layer_media_types_map_to_compressions() {
        let gzip =
            Compression::from_media_type("application/vnd.docker.image.rootfs.diff.tar.gzip");
        assert_eq!(gzip.unwrap(), Compression::Gzip);
        let zstd = Compression::from_media_type("application/vnd.oci.image.layer.v1.tar+zstd");
        assert_eq!(zstd.unwrap(), Compression::Zstd);
        let plain = Compression::from_media_type("application/vnd.oci.image.layer.v1.tar");
        assert_eq!(plain.unwrap(), Compression::None);
        let helm =
            Compression::from_media_type("application/vnd.cncf.helm.chart.content.v1.tar+gzip");
        assert!(matches!(helm, Err(ImageError::Unsupported(_))));
    }

    #[test]
    fn config_paths_that_could_escape_are_refused() {
        let with = |config: &str| {
            format!(
                r#"{{"architecture":"amd64","os":"linux","config":{config},
                   "rootfs":{{"type":"layers","diff_ids":[]}}}}"#
            )
        };
        for config in [
            r#"{"WorkingDir":"../x"}"#,
            r#"{"WorkingDir":"/a/../../x"}"#,
            r#"{"WorkingDir":"relative"}"#,
            r#"{"Volumes":{"":{}}}"#,
            r#"{"Volumes":{"/data/../../etc":{}}}"#,
        ] {
            let err = image_record("sha256:m", &[], "sha256:c", with(config).as_bytes());
            assert!(
                matches!(err, Err(ImageError::InvalidArgument(_))),
                "{config}"
            );
        }
        let ok = image_record(
            "sha256:m",
            &[],
            "sha256:c",
            with(r#"{"WorkingDir":"/srv","Volumes":{"/data":{}}}"#).as_bytes(),
        )
        .unwrap();
        assert_eq!(ok.config.working_dir, "/srv");
        assert_eq!(ok.config.volumes, vec!["/data".to_string()]);
    }

    #[test]
    fn a_config_with_the_wrong_number_of_diff_ids_is_refused() {
        let config =
            br#"{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}"#;
        let err = image_record("sha256:m", &["sha256:l".to_string()], "sha256:c", config);
        assert!(matches!(err, Err(ImageError::InvalidArgument(_))));
    }
}
