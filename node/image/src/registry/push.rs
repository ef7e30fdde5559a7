//! Push: the stored manifest, config and layers of a tagged image go to its registry as they
//! are stored, so the manifest digest and the image ID stay the same.
//!
//! Each blob is skipped when the registry has it, mounted from another repository of the same
//! registry when the image came from one, and otherwise uploaded from the content store: small
//! blobs in one PUT, big ones streamed in chunks.

use std::sync::Arc;

use bytes::Bytes;
use futures::{stream, StreamExt, TryStreamExt};
use oci_client::errors::OciDistributionError;
use oci_client::RegistryOperation;
use serde::Deserialize;
use tokio::io::AsyncReadExt;

use super::client::{api_host, connect_for_push, map_error, oci_reference, registry_auth};
use super::{LayerProgress, LayerState, ProgressSink, PushOutcome, PushRequest, RegistryConfig};
use crate::{ImageError, ImageStore, Reference};

/// Blobs from this size on are uploaded in chunks, streamed from disk.
const CHUNKED_FROM: u64 = 8 << 20;
/// How much of a blob is read from disk at a time while streaming it.
const READ_SIZE: usize = 1 << 20;
/// The media type of a manifest that does not say (OCI allows leaving it out).
const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";

/// The fields of a stored image manifest a push needs.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Manifest {
    media_type: Option<String>,
    config: BlobRef,
    layers: Vec<BlobRef>,
}

#[derive(Deserialize, Clone)]
struct BlobRef {
    digest: String,
    size: u64,
}

/// One push, with everything its blob uploads share.
struct Push<'a> {
    client: oci_client::Client,
    store: &'a ImageStore,
    target: oci_client::Reference,
    /// Other repositories of the same registry that hold the image (mount sources).
    sources: Vec<oci_client::Reference>,
    progress: ProgressSink,
    /// The config blob, pushed like a layer but not reported: Docker lists layers only.
    config_digest: String,
    what: String,
}

/// Pushes the image tagged `request.reference` (see the module comment).
pub(super) async fn push(
    config: &RegistryConfig,
    store: &Arc<ImageStore>,
    request: PushRequest,
    progress: ProgressSink,
) -> Result<PushOutcome, ImageError> {
    let reference = &request.reference;
    if reference.digest().is_some() {
        return Err(ImageError::invalid(format!(
            "cannot push a digest reference: {reference}"
        )));
    }
    let tag = reference.tag().unwrap_or("latest").to_string();
    let tagged = format!("{}:{tag}", reference.name());
    let image = store.get(&tagged).map_err(|e| match e {
        ImageError::NotFound(_) => {
            ImageError::NotFound(format!("{}:{tag}", reference.familiar_name()))
        }
        other => other,
    })?;
    let manifest_bytes = read_blob(store, &image.manifest_digest).await?;
    let manifest: Manifest = serde_json::from_slice(&manifest_bytes).map_err(|e| {
        ImageError::Corrupt(format!(
            "stored manifest {} of {tagged}: {e}",
            image.manifest_digest
        ))
    })?;
    let media_type = manifest
        .media_type
        .clone()
        .unwrap_or_else(|| OCI_MANIFEST.to_string());

    let what = format!("pushing {}", reference.familiar());
    let target = oci_reference(reference);
    let client = connect_for_push(config, reference.domain());
    let auth = registry_auth(&request.credentials)?;
    client
        .auth(&target, &auth, RegistryOperation::Push)
        .await
        .map_err(|e| map_error(&what, e))?;
    let push = Push {
        client,
        store,
        sources: mount_sources(reference, image.repo_tags.iter().chain(&image.repo_digests)),
        target,
        progress,
        config_digest: manifest.config.digest.clone(),
        what,
    };

    let blobs: Vec<BlobRef> = manifest
        .layers
        .iter()
        .chain(std::iter::once(&manifest.config))
        .cloned()
        .collect();
    for blob in &blobs {
        push.report(blob, LayerState::Waiting, 0);
    }
    // Collected first: a lazy `map` closure here makes the future not provably `Send`.
    let uploads: Vec<_> = blobs.iter().map(|blob| push.blob(blob)).collect();
    stream::iter(uploads)
        .buffer_unordered(config.max_concurrent_uploads.max(1))
        .try_collect::<Vec<()>>()
        .await?;

    let content_type = media_type.parse().map_err(|_| {
        ImageError::Corrupt(format!(
            "stored manifest has a bad media type {media_type:?}"
        ))
    })?;
    let size = manifest_bytes.len() as u64;
    push.client
        .push_manifest_raw(&push.target, manifest_bytes, content_type)
        .await
        .map_err(|e| map_error(&push.what, e))?;
    let digest = image.manifest_digest.clone();
    store.add_repo_digest(&image.id, &format!("{}@{digest}", reference.name()))?;
    Ok(PushOutcome { tag, digest, size })
}

impl Push<'_> {
    /// Gets one blob into the target repository.
    async fn blob(&self, blob: &BlobRef) -> Result<(), ImageError> {
        let exists = self
            .client
            .blob_exists(&self.target, &blob.digest)
            .await
            .map_err(|e| map_error(&self.what, e))?;
        if exists {
            self.report(blob, LayerState::AlreadyExists, blob.size);
            return Ok(());
        }
        for source in &self.sources {
            // A registry that cannot or will not mount answers otherwise (202 opens an upload
            // session instead); the blob is then uploaded.
            if self
                .client
                .mount_blob(&self.target, source, &blob.digest)
                .await
                .is_ok()
            {
                self.report(blob, LayerState::Mounted, blob.size);
                return Ok(());
            }
        }
        self.upload(blob).await?;
        self.report(blob, LayerState::Complete, blob.size);
        Ok(())
    }

    /// Uploads a blob from the content store.
    async fn upload(&self, blob: &BlobRef) -> Result<(), ImageError> {
        self.report(blob, LayerState::Transferring, 0);
        if blob.size < CHUNKED_FROM {
            let bytes = read_blob(self.store, &blob.digest).await?;
            self.client
                .push_blob(&self.target, bytes, &blob.digest)
                .await
                .map_err(|e| map_error(&self.what, e))?;
            return Ok(());
        }
        let path = self.store.content.path(&blob.digest)?;
        let file = tokio::fs::File::open(&path)
            .await
            .map_err(|e| ImageError::io(format!("opening blob {}", blob.digest), e))?;
        let sink = (blob.digest != self.config_digest).then(|| self.progress.clone());
        let chunks = file_chunks(file, blob.clone(), sink);
        let pushed = self
            .client
            .push_blob_stream_chunked(&self.target, chunks)
            .await
            .map_err(|e| map_error(&self.what, e))?;
        if pushed.blob_digest != blob.digest {
            return Err(ImageError::Corrupt(format!(
                "{}: blob {} changed on disk (sent {})",
                self.what, blob.digest, pushed.blob_digest
            )));
        }
        Ok(())
    }

    fn report(&self, blob: &BlobRef, state: LayerState, current: u64) {
        if blob.digest == self.config_digest {
            return;
        }
        // A client that went away does not stop the push.
        let _ = self.progress.send(LayerProgress {
            digest: blob.digest.clone(),
            state,
            current,
            total: blob.size,
        });
    }
}

/// A blob file as a stream of chunks, reporting the bytes read as transferred to `progress`.
fn file_chunks(
    file: tokio::fs::File,
    blob: BlobRef,
    progress: Option<ProgressSink>,
) -> impl futures::Stream<Item = Result<Bytes, OciDistributionError>> + Send + 'static {
    stream::try_unfold((file, 0u64), move |(mut file, sent)| {
        let progress = progress.clone();
        let blob = blob.clone();
        async move {
            let mut buf = vec![0; READ_SIZE];
            let n = file.read(&mut buf).await?;
            if n == 0 {
                return Ok(None);
            }
            buf.truncate(n);
            let sent = sent + n as u64;
            if let Some(progress) = &progress {
                let _ = progress.send(LayerProgress {
                    digest: blob.digest,
                    state: LayerState::Transferring,
                    current: sent,
                    total: blob.size,
                });
            }
            Ok(Some((Bytes::from(buf), (file, sent))))
        }
    })
}

/// The other repositories of `target`'s registry that hold the image, from its names.
fn mount_sources<'n>(
    target: &Reference,
    names: impl Iterator<Item = &'n String>,
) -> Vec<oci_client::Reference> {
    let mut repositories: Vec<String> = names
        .filter_map(|name| Reference::parse(name).ok())
        .filter(|r| r.domain() == target.domain() && r.path() != target.path())
        .map(|r| r.path().to_string())
        .collect();
    repositories.sort();
    repositories.dedup();
    repositories
        .into_iter()
        .map(|repository| {
            oci_client::Reference::with_tag(
                api_host(target.domain()).to_string(),
                repository,
                "latest".to_string(),
            )
        })
        .collect()
}

async fn read_blob(store: &ImageStore, digest: &str) -> Result<Vec<u8>, ImageError> {
    let path = store.content.path(digest)?;
    tokio::fs::read(&path)
        .await
        .map_err(|e| ImageError::io(format!("reading blob {digest}"), e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mount_sources_are_other_repositories_of_the_same_registry() {
        let target = Reference::parse("127.0.0.1:5000/app:v2").unwrap();
        let names = [
            "127.0.0.1:5000/app:v1".to_string(),
            "127.0.0.1:5000/base:latest".to_string(),
            format!("127.0.0.1:5000/base@sha256:{}", "a".repeat(64)),
            "127.0.0.1:5001/other:latest".to_string(),
            "docker.io/library/busybox:latest".to_string(),
        ];
        let sources = mount_sources(&target, names.iter());
        let repos: Vec<&str> = sources.iter().map(|r| r.repository()).collect();
        assert_eq!(repos, ["base"]);
        assert_eq!(sources[0].registry(), "127.0.0.1:5000");
    }
}
