//! A pull: reference → manifest (→ the platform's manifest when it is an index) → config →
//! layers, each streamed into the store, then one commit that records the image. Until that
//! commit every failure removes what this pull wrote.

use std::collections::HashSet;
use std::sync::{Arc, OnceLock};

use futures::future::{join_all, FutureExt};
use oci_client::manifest::OciDescriptor;
use oci_client::secrets::RegistryAuth;
use oci_client::RegistryOperation;
use sha2::{Digest, Sha256};
use tokio::sync::Semaphore;

use super::client::{connect, map_error, oci_reference, registry_auth};
use super::downloads::{
    blocking, stalled, stream_error, Joined, LayerJob, Lease, Outcome, Unpack, STALL_TIMEOUT,
};
use super::manifest::{self, Descriptor, ImageManifest, ParsedManifest};
use super::manifest_fetch::fetch_manifest;
use super::platform;
use super::{
    LayerProgress, LayerState, Platform, ProgressSink, PullOutcome, PullRequest, Registry,
};
use crate::content::Expected;
use crate::index::{ImageRecord, View};
use crate::layers::{image_record, Compression, LayerSnapshot};
use crate::{ImageError, ImageStore, Reference};

/// The largest image config accepted.
const MAX_CONFIG_BYTES: u64 = 16 * 1024 * 1024;
const CONFIG_MEDIA_TYPES: &[&str] = &[
    "application/vnd.oci.image.config.v1+json",
    "application/vnd.docker.container.image.v1+json",
];

/// One pull in progress.
struct Pull<'r> {
    registry: &'r Registry,
    store: Arc<ImageStore>,
    client: oci_client::Client,
    image: oci_client::Reference,
    auth: RegistryAuth,
    /// The token the registry's token endpoint issued, for requests made without oci-client.
    bearer: OnceLock<String>,
    progress: ProgressSink,
    what: String,
}

/// What this pull wrote before its commit, for the rollback.
#[derive(Default)]
struct Written {
    blobs: Vec<String>,
    /// (layer blob digest, snapshot directory).
    snapshots: Vec<(String, u64)>,
}

/// What the reference resolved to: the image manifest and its config, verified.
struct Resolved {
    /// The digest of the manifest or index the reference names.
    top_digest: String,
    manifest_bytes: bytes::Bytes,
    manifest_digest: String,
    manifest: ImageManifest,
    config: Vec<u8>,
}

pub(super) async fn pull(
    registry: &Registry,
    store: &Arc<ImageStore>,
    request: PullRequest,
    progress: ProgressSink,
) -> Result<PullOutcome, ImageError> {
    let reference = &request.reference;
    let pull = Pull {
        registry,
        store: Arc::clone(store),
        client: connect(&registry.config, reference.domain()),
        image: oci_reference(reference),
        auth: registry_auth(&request.credentials)?,
        bearer: OnceLock::new(),
        progress,
        what: format!("pulling {}", reference.familiar()),
    };
    let resolved = pull.resolve(&request).await?;
    let layer_digests: Vec<String> = resolved
        .manifest
        .layers
        .iter()
        .map(|l| l.digest.clone())
        .collect();
    let record = image_record(
        &resolved.manifest_digest,
        &layer_digests,
        &resolved.manifest.config.digest,
        &resolved.config,
    )?;
    // Docker tags what was pulled by tag; a digest pull only records the repo digest.
    let tags: Vec<String> = match reference.digest() {
        None => vec![reference.to_string()],
        Some(_) => Vec::new(),
    };
    let repo_digest = format!("{}@{}", reference.name(), resolved.top_digest);

    let mut lease = registry.downloads.lease();
    for blob in record.blobs() {
        lease.add(blob);
    }
    let view = load_view(store).await?;
    let up_to_date = view.image(&record.id).is_some_and(|image| {
        if tags.is_empty() {
            image.repo_digests.contains(&repo_digest)
        } else {
            tags.iter().all(|t| {
                view.tags
                    .iter()
                    .any(|(tag, id)| tag == t && *id == image.id)
            })
        }
    });
    let mut written = Written::default();
    let result = async {
        let layers = pull.fetch(&view, &record, &resolved, &mut written).await?;
        let store = Arc::clone(store);
        let record = record.clone();
        blocking(move || store.commit_image(&record, &layers, &tags, Some(&repo_digest))).await
    }
    .await;
    if let Err(e) = result {
        pull.roll_back(lease, written).await;
        return Err(e);
    }
    lease.release();
    let store = Arc::clone(store);
    let image = blocking(move || store.get(&record.id)).await?;
    Ok(PullOutcome {
        image,
        digest: resolved.top_digest,
        up_to_date,
    })
}

/// Refuses configs and layers Berth cannot use before anything is downloaded.
fn check_media_types(manifest: &ImageManifest) -> Result<(), ImageError> {
    if !CONFIG_MEDIA_TYPES.contains(&manifest.config.media_type.as_str()) {
        return Err(ImageError::Unsupported(format!(
            "unsupported image config media type {:?} (not a container image)",
            manifest.config.media_type
        )));
    }
    for layer in &manifest.layers {
        Compression::from_media_type(&layer.media_type)?;
    }
    Ok(())
}

/// A single-platform image pulled for a given platform must be for it, as in Docker (an
/// index entry was chosen for it already).
fn check_platform(
    reference: &Reference,
    config: &[u8],
    wanted: &Platform,
) -> Result<(), ImageError> {
    #[derive(serde::Deserialize)]
    struct ConfigPlatform {
        os: String,
        architecture: String,
    }
    let actual: ConfigPlatform = serde_json::from_slice(config)
        .map_err(|e| ImageError::invalid(format!("invalid image config: {e}")))?;
    let actual = Platform {
        os: actual.os,
        architecture: actual.architecture,
        variant: None,
    }
    .normalized();
    let wanted = wanted.normalized();
    if actual.os == wanted.os && actual.architecture == wanted.architecture {
        return Ok(());
    }
    Err(ImageError::NotFound(format!(
        "image with reference {} was found but does not match the specified platform: \
         wanted {wanted}, actual: {actual}",
        reference.familiar()
    )))
}

async fn load_view(store: &Arc<ImageStore>) -> Result<View, ImageError> {
    let store = Arc::clone(store);
    blocking(move || View::load(&store.db)).await
}

fn sha256(bytes: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(bytes)))
}

impl Pull<'_> {
    fn report(&self, digest: &str, state: LayerState, current: u64, total: u64) {
        // A client that went away does not stop the pull.
        let _ = self.progress.send(LayerProgress {
            digest: digest.to_string(),
            state,
            current,
            total,
        });
    }

    /// The manifest the reference names (by digest: that exact one), the platform's entry
    /// when it is an index, and the config.
    async fn resolve(&self, request: &PullRequest) -> Result<Resolved, ImageError> {
        // Authenticating up front surfaces the token endpoint's own refusal message; later
        // requests reuse the token.
        let token = self
            .client
            .auth(&self.image, &self.auth, RegistryOperation::Pull)
            .await
            .map_err(|e| map_error(&self.what, e))?;
        if let Some(token) = token {
            let _ = self.bearer.set(token);
        }
        let (top_bytes, top_digest, content_type) = self.manifest(&self.image).await?;
        if let Some(wanted) = request.reference.digest() {
            if wanted != top_digest {
                return Err(ImageError::Corrupt(format!(
                    "{}: the registry sent manifest {top_digest} for {wanted}",
                    self.what
                )));
            }
        }
        let (manifest_bytes, manifest_digest, manifest) =
            match manifest::parse(&top_bytes, content_type.as_deref())? {
                ParsedManifest::Image(m) => (top_bytes, top_digest.clone(), m),
                ParsedManifest::Index(index) => {
                    let wanted = request.platform.clone().unwrap_or_else(Platform::host);
                    let entry = platform::select(&index.manifests, &wanted)?;
                    self.platform_manifest(entry).await?
                }
            };
        check_media_types(&manifest)?;
        let config = self.config(&manifest.config).await?;
        let from_index = manifest_digest != top_digest;
        if let (Some(wanted), false) = (&request.platform, from_index) {
            check_platform(&request.reference, &config, wanted)?;
        }
        Ok(Resolved {
            top_digest,
            manifest_bytes,
            manifest_digest,
            manifest,
            config,
        })
    }

    /// Stores manifest, config and layers unless the store has the image already; returns
    /// the layers' snapshots.
    async fn fetch(
        &self,
        view: &View,
        record: &ImageRecord,
        resolved: &Resolved,
        written: &mut Written,
    ) -> Result<Vec<LayerSnapshot>, ImageError> {
        let layers = &resolved.manifest.layers;
        if view.image(&record.id).is_some() {
            return self.present_layers(view, record, layers);
        }
        written.blobs.push(resolved.manifest_digest.clone());
        self.store_blob(&resolved.manifest_bytes, &resolved.manifest_digest)
            .await?;
        written.blobs.push(record.id.clone());
        self.store_blob(&resolved.config, &record.id).await?;
        self.layers(view, record, layers, written).await
    }

    /// A manifest's bytes, their digest (computed here, whatever the registry says) and the
    /// Content-Type the registry sent.
    async fn manifest(
        &self,
        image: &oci_client::Reference,
    ) -> Result<(bytes::Bytes, String, Option<String>), ImageError> {
        let fetch = fetch_manifest(
            &self.registry.config,
            image,
            &self.auth,
            self.bearer.get().map(String::as_str),
            &self.what,
        );
        let fetched = tokio::time::timeout(STALL_TIMEOUT, fetch)
            .await
            .map_err(|_| stalled(&self.what, image.digest().unwrap_or("its manifest")))??;
        let digest = sha256(&fetched.bytes);
        Ok((fetched.bytes, digest, fetched.content_type))
    }

    /// The image manifest an index entry points at, checked against the entry.
    async fn platform_manifest(
        &self,
        entry: &Descriptor,
    ) -> Result<(bytes::Bytes, String, ImageManifest), ImageError> {
        let (bytes, digest, content_type) = self
            .manifest(&self.image.clone_with_digest(entry.digest.clone()))
            .await?;
        if digest != entry.digest || bytes.len() as u64 != entry.size {
            return Err(ImageError::Corrupt(format!(
                "{}: manifest {} does not match its index entry (got {digest}, {} bytes)",
                self.what,
                entry.digest,
                bytes.len()
            )));
        }
        // The document must agree with the Content-Type, and both with the index entry.
        let parsed = manifest::parse(&bytes, content_type.as_deref())?;
        if let ParsedManifest::Image(m) = &parsed {
            if m.media_type != entry.media_type {
                return Err(ImageError::invalid(format!(
                    "{}: manifest {} is a {} but its index entry says {}",
                    self.what, entry.digest, m.media_type, entry.media_type
                )));
            }
        }
        match parsed {
            ParsedManifest::Image(m) => Ok((bytes, digest, m)),
            ParsedManifest::Index(_) => Err(ImageError::invalid(format!(
                "{}: index entry {} is an index, not an image manifest",
                self.what, entry.digest
            ))),
        }
    }

    /// The config blob's bytes, verified.
    async fn config(&self, descriptor: &Descriptor) -> Result<Vec<u8>, ImageError> {
        use futures::StreamExt;
        if descriptor.size > MAX_CONFIG_BYTES {
            return Err(ImageError::invalid(format!(
                "{}: the image config is {} bytes, more than the limit of {MAX_CONFIG_BYTES}",
                self.what, descriptor.size
            )));
        }
        let oci = OciDescriptor {
            media_type: descriptor.media_type.clone(),
            digest: descriptor.digest.clone(),
            size: i64::try_from(descriptor.size).unwrap_or(i64::MAX),
            ..OciDescriptor::default()
        };
        let mut stream = self
            .client
            .pull_blob_stream(&self.image, &oci)
            .await
            .map_err(|e| map_error(&self.what, e))?
            .stream;
        let mut bytes = Vec::new();
        loop {
            let next = tokio::time::timeout(STALL_TIMEOUT, stream.next())
                .await
                .map_err(|_| stalled(&self.what, &descriptor.digest))?;
            let Some(chunk) = next else { break };
            let chunk = chunk.map_err(|e| stream_error(&self.what, &descriptor.digest, &e))?;
            bytes.extend_from_slice(&chunk);
            if bytes.len() as u64 > descriptor.size {
                break;
            }
        }
        if bytes.len() as u64 != descriptor.size || sha256(&bytes) != descriptor.digest {
            return Err(ImageError::Corrupt(format!(
                "{}: config {} does not match its digest or size",
                self.what, descriptor.digest
            )));
        }
        Ok(bytes)
    }

    async fn store_blob(&self, bytes: &[u8], digest: &str) -> Result<(), ImageError> {
        let store = Arc::clone(&self.store);
        let bytes = bytes.to_vec();
        let digest = digest.to_string();
        blocking(move || {
            store.content.write(
                &bytes,
                Expected {
                    digest: Some(&digest),
                    size: None,
                },
            )
        })
        .await?;
        Ok(())
    }

    /// The layers of an image the store has already.
    fn present_layers(
        &self,
        view: &View,
        record: &ImageRecord,
        layers: &[Descriptor],
    ) -> Result<Vec<LayerSnapshot>, ImageError> {
        let mut snapshots = Vec::new();
        for (chain_id, layer) in record.chain_ids.iter().zip(layers) {
            let snapshot = view.snapshot(chain_id).cloned().ok_or_else(|| {
                ImageError::Unavailable(format!(
                    "layer {chain_id} was removed while in use; try again"
                ))
            })?;
            self.report(&layer.digest, LayerState::AlreadyExists, 0, layer.size);
            snapshots.push(LayerSnapshot {
                chain_id: chain_id.clone(),
                snapshot,
                created: false,
            });
        }
        Ok(snapshots)
    }

    /// Downloads, shares or skips each layer, `max_concurrent_downloads` at a time. Waits for
    /// all of them even after a failure, so that the rollback sees everything written.
    async fn layers(
        &self,
        view: &View,
        record: &ImageRecord,
        layers: &[Descriptor],
        written: &mut Written,
    ) -> Result<Vec<LayerSnapshot>, ImageError> {
        let slots = Semaphore::new(self.registry.config.max_concurrent_downloads.max(1));
        let mut jobs = Vec::new();
        // The blob plus its unpacked copy take at least twice the compressed size.
        let mut needed = 0u64;
        for (i, layer) in layers.iter().enumerate() {
            let chain_id = record.chain_ids[i].clone();
            let existing = view.snapshot(&chain_id).cloned();
            let blob_present = self.store.content.path(&layer.digest)?.exists();
            let compression = Compression::from_media_type(&layer.media_type)?;
            if let (Some(snapshot), true) = (&existing, blob_present) {
                self.report(&layer.digest, LayerState::AlreadyExists, 0, layer.size);
                jobs.push(
                    futures::future::ready(Ok((
                        LayerSnapshot {
                            chain_id,
                            snapshot: snapshot.clone(),
                            created: false,
                        },
                        false,
                    )))
                    .boxed(),
                );
                continue;
            }
            needed = needed.saturating_add(layer.size.saturating_mul(2));
            self.report(&layer.digest, LayerState::Waiting, 0, layer.size);
            let unpack = Unpack {
                chain_id,
                diff_id: record.diff_ids[i].clone(),
                compression,
                existing,
            };
            jobs.push(
                self.layer(layer.clone(), unpack, blob_present, &slots)
                    .boxed(),
            );
        }
        self.store.content.ensure_free_space(needed)?;
        let results = join_all(jobs).await;
        let mut snapshots = Vec::new();
        let mut failure = None;
        for (result, layer) in results.into_iter().zip(layers) {
            match result {
                Ok((snapshot, fetched)) => {
                    if fetched {
                        written.blobs.push(layer.digest.clone());
                    }
                    if snapshot.created {
                        written
                            .snapshots
                            .push((layer.digest.clone(), snapshot.snapshot.dir));
                    }
                    snapshots.push(snapshot);
                }
                Err(e) => {
                    failure.get_or_insert(e);
                }
            }
        }
        match failure {
            Some(e) => Err(e),
            None => Ok(snapshots),
        }
    }

    /// One missing layer: unpacked from its stored blob, or downloaded (shared with any
    /// concurrent pull of the same layer). Returns the snapshot and whether the blob was
    /// downloaded.
    async fn layer(
        &self,
        layer: Descriptor,
        unpack: Unpack,
        blob_present: bool,
        slots: &Semaphore,
    ) -> Result<(LayerSnapshot, bool), ImageError> {
        let _slot = slots
            .acquire()
            .await
            .map_err(|_| ImageError::Unavailable("the download queue closed".to_string()))?;
        if blob_present {
            // Only the snapshot is missing: unpack the stored blob.
            self.report(&layer.digest, LayerState::Verifying, 0, layer.size);
            let store = Arc::clone(&self.store);
            let digest = layer.digest.clone();
            let snapshot = blocking(move || {
                store.snapshot_from_blob(
                    &unpack.chain_id,
                    &unpack.diff_id,
                    &digest,
                    unpack.compression,
                )
            })
            .await?;
            self.report(&layer.digest, LayerState::Complete, layer.size, layer.size);
            return Ok((snapshot, false));
        }
        let key = format!(
            "{} {} {}",
            layer.digest,
            unpack.chain_id,
            unpack.existing.is_none()
        );
        let joined = self.registry.downloads.join(key, |received| {
            LayerJob {
                store: Arc::clone(&self.store),
                client: self.client.clone(),
                image: self.image.clone(),
                layer: layer.clone(),
                unpack,
                progress: self.progress.clone(),
                received,
                what: self.what.clone(),
            }
            .run()
            .boxed()
        });
        let outcome = if joined.shared {
            self.follow(&layer, joined).await
        } else {
            joined.outcome.await
        };
        let snapshot = outcome.map_err(|e| duplicate(&e))?;
        self.report(&layer.digest, LayerState::Complete, layer.size, layer.size);
        Ok((snapshot, true))
    }

    /// Waits for a download another pull started, reporting its bytes as `Shared`.
    async fn follow(&self, layer: &Descriptor, joined: Joined) -> Outcome {
        let Joined {
            outcome,
            mut received,
            ..
        } = joined;
        self.report(
            &layer.digest,
            LayerState::Shared,
            *received.borrow(),
            layer.size,
        );
        let mut outcome = std::pin::pin!(outcome);
        loop {
            tokio::select! {
                result = &mut outcome => return result,
                changed = received.changed() => match changed {
                    Ok(()) => {
                        let current = *received.borrow_and_update();
                        self.report(&layer.digest, LayerState::Shared, current, layer.size);
                    }
                    // The download finished: its outcome is ready.
                    Err(_) => return outcome.await,
                },
            }
        }
    }

    /// Deletes what this pull wrote that no other pull holds and the index does not know.
    async fn roll_back(&self, lease: Lease, written: Written) {
        let free = lease.release();
        let store = Arc::clone(&self.store);
        // Best effort: what stays is unreferenced garbage that the next start collects.
        let _ = blocking(move || {
            let known: HashSet<u64> = View::load(&store.db)?
                .snapshots
                .iter()
                .map(|(_, s)| s.dir)
                .collect();
            let dirs: Vec<u64> = written
                .snapshots
                .iter()
                .filter(|(blob, dir)| free.contains(blob) && !known.contains(dir))
                .map(|(_, dir)| *dir)
                .collect();
            let blobs: Vec<String> = written
                .blobs
                .into_iter()
                .filter(|b| free.contains(b))
                .collect();
            store.roll_back(&dirs, &blobs);
            Ok(())
        })
        .await;
    }
}

/// A shared download's error, for each pull that waited for it.
fn duplicate(error: &ImageError) -> ImageError {
    match error {
        ImageError::NotFound(m) => ImageError::NotFound(m.clone()),
        ImageError::Ambiguous(m) => ImageError::Ambiguous(m.clone()),
        ImageError::InvalidArgument(m) => ImageError::InvalidArgument(m.clone()),
        ImageError::InUse(m) => ImageError::InUse(m.clone()),
        ImageError::Io { context, source } => ImageError::Io {
            context: context.clone(),
            source: std::io::Error::new(source.kind(), source.to_string()),
        },
        ImageError::Corrupt(m) => ImageError::Corrupt(m.clone()),
        ImageError::Unauthenticated(m) => ImageError::Unauthenticated(m.clone()),
        ImageError::PermissionDenied(m) => ImageError::PermissionDenied(m.clone()),
        ImageError::Unavailable(m) => ImageError::Unavailable(m.clone()),
        ImageError::Unsupported(m) => ImageError::Unsupported(m.clone()),
        ImageError::NoSpace(m) => ImageError::NoSpace(m.clone()),
        ImageError::Database(m) => ImageError::Database(m.clone()),
    }
}
