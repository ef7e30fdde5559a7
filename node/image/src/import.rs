//! `docker import`: a root filesystem tar becomes a one-layer OCI image.
//!
//! The (decompressed) tar is streamed into the content store while hashed; that verified blob
//! is what gets unpacked, with its diff ID checked again on the way. Config and manifest are
//! real OCI documents stored as blobs. Until the index commit, every failure removes what the
//! import wrote: no blob, snapshot or tag of a rejected archive survives.

use std::io::{BufRead, BufReader, Read, Write};
use std::str::FromStr;

use chrono::{SecondsFormat, Utc};
use flate2::read::MultiGzDecoder;
use oci_spec::image::{
    Arch, Config, Descriptor, Digest, History, ImageConfiguration, ImageManifestBuilder, MediaType,
    Os, RootFs,
};

use crate::content::{Blob, Expected};
use crate::index::{ImageRecord, SnapshotRecord, View};
use crate::layers::LayerSnapshot;
use crate::tar_reader::{read_error, Limits};
use crate::{changes, Image, ImageConfig, ImageError, ImageStore, ImportOptions};

const GZIP_MAGIC: &[u8] = &[0x1f, 0x8b];

/// What an import wrote before its index commit, for the rollback.
#[derive(Default)]
struct Written {
    blobs: Vec<String>,
    snapshot: Option<u64>,
}

impl ImageStore {
    /// Builds a one-layer OCI image from a root filesystem tar (plain or gzip), stores its
    /// layer, config and manifest as verified blobs, unpacks the layer and tags it.
    pub fn import(&self, tar: &mut dyn Read, options: &ImportOptions) -> Result<Image, ImageError> {
        if let Some(reference) = &options.reference {
            if reference.digest().is_some() {
                return Err(ImageError::invalid(format!(
                    "cannot tag an import with a digest reference: {reference}"
                )));
            }
        }
        let mut config = ImageConfig::default();
        changes::apply(&mut config, &options.changes)?;
        let mut written = Written::default();
        let id = match self.import_locked(tar, options, config, &mut written) {
            Ok(id) => id,
            Err(e) => {
                self.roll_back(written.snapshot.as_slice(), &written.blobs);
                return Err(e);
            }
        };
        self.get(&id)
    }

    fn import_locked(
        &self,
        tar: &mut dyn Read,
        options: &ImportOptions,
        config: ImageConfig,
        written: &mut Written,
    ) -> Result<String, ImageError> {
        let layer = self.ingest_layer(tar)?;
        written.blobs.push(layer.digest.clone());
        let diff_id = layer.digest.clone();
        // One layer: its chain ID is its diff ID.
        let chain_id = diff_id.clone();
        let existing = View::load(&self.db)?.snapshot(&chain_id).cloned();
        let snapshot = match existing {
            Some(snapshot) => snapshot,
            None => {
                let dir = self.allocate_snapshot()?;
                let blob =
                    BufReader::with_capacity(256 * 1024, self.content.open_blob(&layer.digest)?);
                let size = self.snapshots.unpack(dir, blob, &diff_id)?;
                written.snapshot = Some(dir);
                SnapshotRecord {
                    dir,
                    diff_id: diff_id.clone(),
                    size,
                    refs: 0,
                }
            }
        };

        let created = Utc::now();
        let comment = if options.message.is_empty() {
            "Imported from -".to_string()
        } else {
            options.message.clone()
        };
        let arch = Arch::default();
        let oci_config = oci_configuration(&config, &diff_id, created, &comment, arch.clone());
        let config_bytes = serde_json::to_vec(&oci_config)
            .map_err(|e| ImageError::invalid(format!("encoding the image config: {e}")))?;
        let config_blob = self.content.write(&config_bytes, Expected::default())?;
        written.blobs.push(config_blob.digest.clone());
        let manifest_bytes = manifest(&config_blob, &layer)?;
        let manifest_blob = self.content.write(&manifest_bytes, Expected::default())?;
        written.blobs.push(manifest_blob.digest.clone());

        let record = ImageRecord {
            id: config_blob.digest.clone(),
            manifest_digest: manifest_blob.digest,
            layers: vec![layer.digest],
            diff_ids: vec![diff_id],
            chain_ids: vec![chain_id.clone()],
            created: Some(created),
            architecture: arch.to_string(),
            os: Os::Linux.to_string(),
            author: String::new(),
            comment,
            config,
            repo_digests: Vec::new(),
        };
        let layer = LayerSnapshot {
            chain_id,
            snapshot,
            created: written.snapshot.is_some(),
        };
        let tags: Vec<String> = options.reference.iter().map(|r| r.to_string()).collect();
        self.commit_image(&record, &[layer], &tags, None)?;
        Ok(record.id)
    }

    /// Streams the decompressed archive into a blob (capped like any unpack).
    fn ingest_layer(&self, tar: &mut dyn Read) -> Result<Blob, ImageError> {
        let mut input = BufReader::with_capacity(256 * 1024, tar);
        let is_gzip = input
            .fill_buf()
            .map_err(read_error)?
            .starts_with(GZIP_MAGIC);
        let mut decoded: Box<dyn Read + '_> = if is_gzip {
            Box::new(MultiGzDecoder::new(input))
        } else {
            Box::new(input)
        };
        let limit = Limits::default().total_bytes;
        let mut ingest = self.content.ingest()?;
        let mut buf = vec![0u8; 256 * 1024];
        let mut total = 0u64;
        loop {
            let n = match decoded.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(read_error(e)),
            };
            total += n as u64;
            if total > limit {
                return Err(ImageError::invalid(format!(
                    "invalid tar archive: larger than the limit of {limit} bytes"
                )));
            }
            ingest
                .write_all(&buf[..n])
                .map_err(|e| ImageError::io("writing the layer blob", e))?;
        }
        ingest.commit(Expected::default())
    }
}

/// The OCI image config of an imported image.
fn oci_configuration(
    config: &ImageConfig,
    diff_id: &str,
    created: chrono::DateTime<Utc>,
    comment: &str,
    arch: Arch,
) -> ImageConfiguration {
    let created = created.to_rfc3339_opts(SecondsFormat::Nanos, true);
    let non_empty = |v: &Vec<String>| (!v.is_empty()).then(|| v.clone());
    let text = |s: &String| (!s.is_empty()).then(|| s.clone());
    let mut runtime = Config::default();
    runtime.set_user(text(&config.user));
    runtime.set_env(non_empty(&config.env));
    runtime.set_entrypoint(non_empty(&config.entrypoint));
    runtime.set_cmd(non_empty(&config.cmd));
    runtime.set_working_dir(text(&config.working_dir));
    runtime.set_labels(
        (!config.labels.is_empty()).then(|| config.labels.clone().into_iter().collect()),
    );
    runtime.set_stop_signal(text(&config.stop_signal));
    runtime.set_exposed_ports(non_empty(&config.exposed_ports));
    runtime.set_volumes(non_empty(&config.volumes));
    let mut rootfs = RootFs::default();
    rootfs.set_diff_ids(vec![diff_id.to_string()]);
    let mut history = History::default();
    history.set_created(Some(created.clone()));
    history.set_comment(Some(comment.to_string()));
    let mut image = ImageConfiguration::default();
    image.set_created(Some(created));
    image.set_architecture(arch);
    image.set_os(Os::Linux);
    image.set_config(Some(runtime));
    image.set_rootfs(rootfs);
    image.set_history(Some(vec![history]));
    image
}

/// The OCI manifest of a one-layer image.
fn manifest(config: &Blob, layer: &Blob) -> Result<Vec<u8>, ImageError> {
    let digest =
        |d: &str| Digest::from_str(d).map_err(|e| ImageError::invalid(format!("digest {d}: {e}")));
    let manifest = ImageManifestBuilder::default()
        .schema_version(2u32)
        .media_type(MediaType::ImageManifest)
        .config(Descriptor::new(
            MediaType::ImageConfig,
            config.size,
            digest(&config.digest)?,
        ))
        .layers(vec![Descriptor::new(
            MediaType::ImageLayer,
            layer.size,
            digest(&layer.digest)?,
        )])
        .build()
        .map_err(|e| ImageError::invalid(format!("building the manifest: {e}")))?;
    serde_json::to_vec(&manifest)
        .map_err(|e| ImageError::invalid(format!("encoding the manifest: {e}")))
}
