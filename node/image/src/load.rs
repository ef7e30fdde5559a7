//! `docker load`: images from a tar made by `docker save` (the legacy form with
//! `<dir>/layer.tar`, and Docker 25+'s OCI-layout form), skopeo's `docker-archive:` and
//! `oci-archive:`, or any OCI image layout tar (nested indexes resolved to the host platform).
//!
//! The tar streams once: every regular file is hashed into the content store as it arrives
//! (files named `blobs/sha256/<hex>` must match their name), small JSON documents stay in
//! memory. After the end of the archive the manifests are resolved, every referenced blob is
//! checked against its descriptor, and each image is unpacked and committed in archive order.
//! Any failure removes everything the load wrote, images it committed included.

use std::collections::HashMap;
use std::io::{Read, Write};

use serde::Deserialize;
use serde_json::{json, Value};

use crate::content::{Blob, Expected};
use crate::layers::{chain_ids, image_record, Compression};
use crate::paths::{entry_path, lossy};
use crate::reference::parse_digest;
use crate::save::{blob_path, IMAGE_NAME, MAX_DOCUMENT, REF_NAME};
use crate::tar_reader::{read_error, Kind, Limits, TarReader};
use crate::{Image, ImageError, ImageStore, Reference};

/// Entries one archive may hold.
const MAX_ENTRIES: u64 = 100_000;
/// How deep indexes may nest.
const MAX_INDEX_DEPTH: usize = 4;
/// How many links a member name may go through.
const MAX_LINK_HOPS: usize = 8;

const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
const DOCKER_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";
const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";

/// An image `load` stored.
#[derive(Debug, Clone)]
pub struct LoadedImage {
    /// The image as stored.
    pub image: Image,
    /// The normalised tags the archive gave it; empty when it had none.
    pub tags: Vec<String>,
}

/// What an archive member became.
enum Member {
    /// A regular file, stored as a blob.
    Blob(Blob),
    /// A small JSON document kept in memory (`manifest.json`, legacy configs).
    Document(Vec<u8>),
    /// A symlink or hardlink to another member (legacy archives share `layer.tar` files).
    Link(String),
}

/// One image to commit: its manifest, config and layers, all in the content store.
struct Plan {
    manifest: String,
    config: String,
    config_bytes: Vec<u8>,
    layers: Vec<(String, Compression)>,
    tags: Vec<String>,
}

/// What the load wrote, for the rollback.
#[derive(Default)]
struct Written {
    blobs: Vec<String>,
    snapshots: Vec<u64>,
    /// Images this load created (committed as new).
    images: Vec<String>,
}

impl ImageStore {
    /// Loads every image of the archive and tags it as the archive says.
    pub fn load(&self, input: &mut dyn Read) -> Result<Vec<LoadedImage>, ImageError> {
        let mut written = Written::default();
        let result = self.load_tracked(input, &mut written);
        if result.is_err() {
            for id in &written.images {
                // Created by this load: its own deletion path takes the tags, snapshots and
                // blobs with it.
                let _ = self.remove(id, true, &|_| false);
            }
        }
        // Blobs no image ended up using (legacy metadata, other platforms, or everything after
        // a failure) go now.
        self.roll_back(&written.snapshots, &written.blobs);
        result
    }

    fn load_tracked(
        &self,
        input: &mut dyn Read,
        written: &mut Written,
    ) -> Result<Vec<LoadedImage>, ImageError> {
        let mut archive = Archive::default();
        self.read_archive(input, &mut archive, written)?;
        let plans = archive.plans(self, written)?;
        if plans.is_empty() {
            return Err(ImageError::invalid("the archive contains no images"));
        }
        let mut loaded = Vec::with_capacity(plans.len());
        for plan in plans {
            let id = self.commit_plan(&plan, written)?;
            loaded.push(LoadedImage {
                image: self.get(&id)?,
                tags: plan.tags,
            });
        }
        Ok(loaded)
    }

    /// Streams the tar: regular files into the content store, documents into memory.
    fn read_archive(
        &self,
        input: &mut dyn Read,
        archive: &mut Archive,
        written: &mut Written,
    ) -> Result<(), ImageError> {
        let limits = Limits {
            entries: MAX_ENTRIES,
            ..Limits::default()
        };
        let mut tar = TarReader::new(input, limits);
        while let Some(entry) = tar.next_entry()? {
            let name = member_name(&entry.name)?;
            match entry.kind {
                Kind::File if is_document(&name) => {
                    if entry.size > MAX_DOCUMENT {
                        return Err(ImageError::invalid(format!(
                            "archive member {name} exceeds {MAX_DOCUMENT} bytes"
                        )));
                    }
                    let mut bytes = Vec::new();
                    tar.data().read_to_end(&mut bytes).map_err(read_error)?;
                    archive.members.insert(name, Member::Document(bytes));
                }
                Kind::File if is_legacy_metadata(&name) => {}
                Kind::File => {
                    let mut ingest = self.content.ingest()?;
                    std::io::copy(&mut tar.data(), &mut ingest).map_err(read_error)?;
                    ingest
                        .flush()
                        .map_err(|e| ImageError::io("writing a blob", e))?;
                    let blob = ingest.commit(Expected::default())?;
                    written.blobs.push(blob.digest.clone());
                    if let Some(named) = named_digest(&name) {
                        if named != blob.digest {
                            return Err(ImageError::Corrupt(format!(
                                "archive member {name} does not match its digest: got {}",
                                blob.digest
                            )));
                        }
                    }
                    archive.members.insert(name, Member::Blob(blob));
                }
                Kind::Symlink => {
                    let target = symlink_target(&name, &entry.link)?;
                    archive.members.insert(name, Member::Link(target));
                }
                Kind::Hardlink => {
                    let target = member_name(&entry.link)?;
                    archive.members.insert(name, Member::Link(target));
                }
                Kind::Dir => {}
                Kind::Char | Kind::Block | Kind::Fifo => {
                    return Err(ImageError::invalid(format!(
                        "archive member {name} is a device or fifo"
                    )))
                }
            }
        }
        Ok(())
    }

    /// Unpacks the plan's layers and records the image with its tags; returns its ID.
    fn commit_plan(&self, plan: &Plan, written: &mut Written) -> Result<String, ImageError> {
        let layer_digests: Vec<String> = plan.layers.iter().map(|(d, _)| d.clone()).collect();
        let record = image_record(
            &plan.manifest,
            &layer_digests,
            &plan.config,
            &plan.config_bytes,
        )?;
        let chains = chain_ids(&record.diff_ids);
        let mut layers = Vec::with_capacity(chains.len());
        for (((blob, compression), chain), diff_id) in
            plan.layers.iter().zip(&chains).zip(&record.diff_ids)
        {
            let layer = self.snapshot_from_blob(chain, diff_id, blob, *compression)?;
            if layer.created {
                written.snapshots.push(layer.snapshot.dir);
            }
            layers.push(layer);
        }
        if self.commit_image(&record, &layers, &plan.tags, None)? {
            written.images.push(record.id.clone());
        }
        // Committed (or dropped as redundant by the commit): no longer this load's to remove.
        written
            .snapshots
            .retain(|dir| !layers.iter().any(|l| l.created && l.snapshot.dir == *dir));
        Ok(record.id)
    }

    /// Sniffs how a legacy `layer.tar` blob is compressed (Docker writes them plain or gzip).
    fn sniff_compression(&self, digest: &str) -> Result<Compression, ImageError> {
        let mut magic = Vec::with_capacity(4);
        self.content
            .open_blob(digest)?
            .take(4)
            .read_to_end(&mut magic)
            .map_err(|e| ImageError::io(format!("reading blob {digest}"), e))?;
        Ok(if magic.starts_with(&[0x1f, 0x8b]) {
            Compression::Gzip
        } else if magic.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
            Compression::Zstd
        } else {
            Compression::None
        })
    }
}

/// The members of an archive, by cleaned name.
#[derive(Default)]
struct Archive {
    members: HashMap<String, Member>,
}

impl Archive {
    /// The images to commit, in archive order: from `index.json` when there is one (OCI
    /// layouts, Docker 25+, Berth), else from Docker's `manifest.json`.
    fn plans(&self, store: &ImageStore, written: &mut Written) -> Result<Vec<Plan>, ImageError> {
        let docker: Vec<DockerEntry> = match self.document("manifest.json")? {
            Some(bytes) => serde_json::from_slice(&bytes)
                .map_err(|e| ImageError::invalid(format!("invalid manifest.json: {e}")))?,
            None => Vec::new(),
        };
        let mut plans: Vec<Plan> = Vec::new();
        if let Some(bytes) = self.document("index.json")? {
            let index = parse_index(&bytes, "index.json")?;
            for descriptor in &index.manifests {
                let manifest = self.pick_manifest(store, descriptor, 0)?;
                let mut plan = self.oci_plan(store, &manifest)?;
                plan.tags = descriptor_tags(descriptor)?;
                // manifest.json may name images the index leaves untagged.
                for entry in &docker {
                    if self.resolve(&entry.config)?.digest() == Some(plan.config.as_str()) {
                        plan.tags
                            .extend(normalise_tags(entry.repo_tags.as_deref())?);
                    }
                }
                merge(&mut plans, plan);
            }
        } else if !docker.is_empty() {
            for entry in &docker {
                let plan = self.docker_plan(store, entry, written)?;
                merge(&mut plans, plan);
            }
        } else {
            return Err(ImageError::invalid(
                "invalid image archive: neither index.json nor manifest.json found",
            ));
        }
        for plan in &mut plans {
            plan.tags.sort();
            plan.tags.dedup();
        }
        Ok(plans)
    }

    /// The image manifest a descriptor leads to, through nested indexes (host platform).
    fn pick_manifest(
        &self,
        store: &ImageStore,
        descriptor: &Descriptor,
        depth: usize,
    ) -> Result<Descriptor, ImageError> {
        match descriptor.media_type.as_str() {
            OCI_MANIFEST | DOCKER_MANIFEST => return Ok(descriptor.clone()),
            OCI_INDEX | DOCKER_LIST => {}
            "" => {}
            other => {
                return Err(ImageError::Unsupported(format!(
                    "unsupported manifest media type {other:?}"
                )))
            }
        }
        let bytes = self.verified_document(store, descriptor)?;
        let kind = document_kind(&bytes, &descriptor.digest)?;
        if kind == DocumentKind::Manifest {
            return Ok(descriptor.clone());
        }
        if depth >= MAX_INDEX_DEPTH {
            return Err(ImageError::invalid(format!(
                "indexes nest deeper than {MAX_INDEX_DEPTH} levels"
            )));
        }
        let index = parse_index(&bytes, &descriptor.digest)?;
        let (os, arch) = host_platform();
        let chosen = index
            .manifests
            .iter()
            .find(|d| {
                d.platform
                    .as_ref()
                    .is_some_and(|p| p.os == os && p.architecture == arch)
            })
            .ok_or_else(|| {
                ImageError::invalid(format!(
                    "index {} in the archive has no manifest for {os}/{arch}",
                    descriptor.digest
                ))
            })?;
        self.pick_manifest(store, chosen, depth + 1)
    }

    /// The plan of an OCI (or Docker schema 2) manifest stored in the archive's blobs.
    fn oci_plan(&self, store: &ImageStore, descriptor: &Descriptor) -> Result<Plan, ImageError> {
        let bytes = self.verified_document(store, descriptor)?;
        if document_kind(&bytes, &descriptor.digest)? != DocumentKind::Manifest {
            return Err(ImageError::invalid(format!(
                "{} is not an image manifest",
                descriptor.digest
            )));
        }
        let manifest: ManifestDoc = serde_json::from_slice(&bytes).map_err(|e| {
            ImageError::invalid(format!("invalid manifest {}: {e}", descriptor.digest))
        })?;
        let config_bytes = self.verified_document(store, &manifest.config)?;
        let mut layers = Vec::with_capacity(manifest.layers.len());
        for layer in &manifest.layers {
            self.verified_blob(layer)?;
            layers.push((
                layer.digest.clone(),
                Compression::from_media_type(&layer.media_type)?,
            ));
        }
        Ok(Plan {
            manifest: descriptor.digest.clone(),
            config: manifest.config.digest.clone(),
            config_bytes,
            layers,
            tags: Vec::new(),
        })
    }

    /// The plan of a `manifest.json` entry: the config and layers by path, and an OCI
    /// manifest written for them (compression sniffed, as Docker does).
    fn docker_plan(
        &self,
        store: &ImageStore,
        entry: &DockerEntry,
        written: &mut Written,
    ) -> Result<Plan, ImageError> {
        let (config, config_bytes) = match self.resolve(&entry.config)? {
            Member::Document(bytes) => {
                let blob = store.content.write(bytes, Expected::default())?;
                written.blobs.push(blob.digest.clone());
                (blob, bytes.clone())
            }
            Member::Blob(blob) => (blob.clone(), store.read_document(&blob.digest)?),
            Member::Link(_) => {
                return Err(ImageError::invalid(format!(
                    "{} is a dangling link",
                    entry.config
                )))
            }
        };
        let mut layers = Vec::with_capacity(entry.layers.len());
        let mut descriptors = Vec::with_capacity(entry.layers.len());
        for path in &entry.layers {
            let Member::Blob(blob) = self.resolve(path)? else {
                return Err(ImageError::invalid(format!(
                    "layer {path} of manifest.json is not a file"
                )));
            };
            let compression = store.sniff_compression(&blob.digest)?;
            descriptors.push(json!({
                "mediaType": layer_media_type(compression),
                "digest": blob.digest,
                "size": blob.size,
            }));
            layers.push((blob.digest.clone(), compression));
        }
        let manifest = json!({
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "config": {
                "mediaType": "application/vnd.oci.image.config.v1+json",
                "digest": config.digest,
                "size": config.size,
            },
            "layers": descriptors,
        });
        let manifest_bytes = serde_json::to_vec(&manifest)
            .map_err(|e| ImageError::invalid(format!("encoding a manifest: {e}")))?;
        let manifest = store.content.write(&manifest_bytes, Expected::default())?;
        written.blobs.push(manifest.digest.clone());
        Ok(Plan {
            manifest: manifest.digest,
            config: config.digest,
            config_bytes,
            layers,
            tags: normalise_tags(entry.repo_tags.as_deref())?,
        })
    }

    /// A document at the top of the archive, if present.
    fn document(&self, name: &str) -> Result<Option<Vec<u8>>, ImageError> {
        match self.members.get(name) {
            None => Ok(None),
            Some(_) => match self.resolve(name)? {
                Member::Document(bytes) => Ok(Some(bytes.clone())),
                _ => Err(ImageError::invalid(format!(
                    "{name} is not a JSON document"
                ))),
            },
        }
    }

    /// The member a name leads to, through links.
    fn resolve(&self, name: &str) -> Result<&Member, ImageError> {
        let mut current = member_name(name.as_bytes())?;
        for _ in 0..=MAX_LINK_HOPS {
            match self.members.get(&current) {
                None => {
                    return Err(ImageError::invalid(format!(
                        "the archive lacks {current} (referenced as {name})"
                    )))
                }
                Some(Member::Link(target)) => current = target.clone(),
                Some(member) => return Ok(member),
            }
        }
        Err(ImageError::invalid(format!(
            "archive member {name} goes through more than {MAX_LINK_HOPS} links"
        )))
    }

    /// The stored blob a descriptor names, checked against its size.
    fn verified_blob(&self, descriptor: &Descriptor) -> Result<Blob, ImageError> {
        let digest = parse_digest(&descriptor.digest).map_err(|e| {
            ImageError::invalid(format!("descriptor digest {:?}: {e}", descriptor.digest))
        })?;
        let blob = match self.resolve(&blob_path(&digest))? {
            Member::Blob(blob) => blob.clone(),
            _ => {
                return Err(ImageError::invalid(format!(
                    "blob {digest} is not a regular file"
                )))
            }
        };
        if blob.digest != digest {
            // A link under blobs/ to a member with other content.
            return Err(ImageError::Corrupt(format!(
                "blob {digest} does not match its digest: got {}",
                blob.digest
            )));
        }
        if blob.size != descriptor.size {
            return Err(ImageError::Corrupt(format!(
                "blob {digest} has {} bytes, its descriptor says {}",
                blob.size, descriptor.size
            )));
        }
        Ok(blob)
    }

    /// A manifest, index or config the descriptor names, verified and read.
    fn verified_document(
        &self,
        store: &ImageStore,
        descriptor: &Descriptor,
    ) -> Result<Vec<u8>, ImageError> {
        let blob = self.verified_blob(descriptor)?;
        store.read_document(&blob.digest)
    }
}

impl Member {
    fn digest(&self) -> Option<&str> {
        match self {
            Member::Blob(blob) => Some(&blob.digest),
            _ => None,
        }
    }
}

/// Adds a plan, or its tags to an earlier plan of the same manifest.
fn merge(plans: &mut Vec<Plan>, plan: Plan) {
    match plans.iter_mut().find(|p| p.manifest == plan.manifest) {
        Some(existing) => existing.tags.extend(plan.tags),
        None => plans.push(plan),
    }
}

/// A member name, cleaned (`./a` is `a`); `..` and absolute names are refused.
fn member_name(raw: &[u8]) -> Result<String, ImageError> {
    let unsafe_name =
        || ImageError::invalid(format!("unsafe archive member name {:?}", lossy(raw)));
    if raw.starts_with(b"/") {
        return Err(unsafe_name());
    }
    let path = entry_path(raw).map_err(|_| unsafe_name())?;
    path.to_str().map(String::from).ok_or_else(unsafe_name)
}

/// A symlink's target as a member name, resolved lexically from the link's directory; it must
/// stay inside the archive.
fn symlink_target(name: &str, target: &[u8]) -> Result<String, ImageError> {
    let escape = || {
        ImageError::invalid(format!(
            "archive member {name} links outside the archive ({:?})",
            lossy(target)
        ))
    };
    if target.starts_with(b"/") {
        return Err(escape());
    }
    let mut parts: Vec<&str> = name.split('/').collect();
    parts.pop();
    let target = std::str::from_utf8(target).map_err(|_| escape())?;
    for part in target.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                parts.pop().ok_or_else(escape)?;
            }
            other => parts.push(other),
        }
    }
    Ok(parts.join("/"))
}

/// Top-level JSON files are small documents kept in memory.
fn is_document(name: &str) -> bool {
    !name.contains('/')
        && (name.ends_with(".json") || name == "oci-layout" || name == "repositories")
}

/// Per-layer metadata of legacy archives, which nothing needs.
fn is_legacy_metadata(name: &str) -> bool {
    name.ends_with("/json") || name.ends_with("/VERSION")
}

/// `sha256:<hex>` for a member named `blobs/sha256/<hex>`.
fn named_digest(name: &str) -> Option<String> {
    let digest = name.strip_prefix("blobs/")?.replacen('/', ":", 1);
    parse_digest(&digest).ok()
}

fn layer_media_type(compression: Compression) -> &'static str {
    match compression {
        Compression::None => "application/vnd.oci.image.layer.v1.tar",
        Compression::Gzip => "application/vnd.oci.image.layer.v1.tar+gzip",
        Compression::Zstd => "application/vnd.oci.image.layer.v1.tar+zstd",
    }
}

/// The host's platform in OCI terms.
fn host_platform() -> (&'static str, String) {
    ("linux", oci_spec::image::Arch::default().to_string())
}

/// The tags an index descriptor carries: containerd's full name, or an OCI `ref.name` that is
/// a full reference. A bare `ref.name` (`latest`) names no repository, so it is no tag.
fn descriptor_tags(descriptor: &Descriptor) -> Result<Vec<String>, ImageError> {
    let annotations = &descriptor.annotations;
    let name = annotations
        .get(IMAGE_NAME)
        .or_else(|| annotations.get(REF_NAME).filter(|r| r.contains([':', '/'])));
    normalise_tags(name.map(std::slice::from_ref))
}

/// Tags as stored (`docker.io/library/busybox:latest`); digest references are no tags.
fn normalise_tags(tags: Option<&[String]>) -> Result<Vec<String>, ImageError> {
    let mut out = Vec::new();
    for tag in tags.unwrap_or_default() {
        let reference = Reference::parse(tag)
            .map_err(|e| ImageError::invalid(format!("invalid tag {tag:?} in the archive: {e}")))?;
        if reference.digest().is_none() {
            out.push(reference.to_string());
        }
    }
    Ok(out)
}

#[derive(Debug, PartialEq, Eq)]
enum DocumentKind {
    Index,
    Manifest,
}

/// Whether a document is an index or a manifest; one with both kinds of fields is refused
/// (SECURITY.md item 8).
fn document_kind(bytes: &[u8], what: &str) -> Result<DocumentKind, ImageError> {
    let value: Value = serde_json::from_slice(bytes)
        .map_err(|e| ImageError::invalid(format!("invalid JSON in {what}: {e}")))?;
    let has = |key: &str| value.get(key).is_some();
    match (has("manifests"), has("config") || has("layers")) {
        (true, true) => Err(ImageError::invalid(format!(
            "{what} mixes index and manifest fields"
        ))),
        (true, false) => Ok(DocumentKind::Index),
        (false, true) => Ok(DocumentKind::Manifest),
        (false, false) => Err(ImageError::invalid(format!(
            "{what} is neither an index nor a manifest"
        ))),
    }
}

fn parse_index(bytes: &[u8], what: &str) -> Result<IndexDoc, ImageError> {
    if document_kind(bytes, what)? != DocumentKind::Index {
        return Err(ImageError::invalid(format!("{what} is not an index")));
    }
    serde_json::from_slice(bytes).map_err(|e| ImageError::invalid(format!("invalid {what}: {e}")))
}

/// An OCI descriptor (the fields Berth uses).
#[derive(Debug, Clone, Deserialize)]
struct Descriptor {
    #[serde(rename = "mediaType", default)]
    media_type: String,
    digest: String,
    size: u64,
    #[serde(default)]
    platform: Option<PlatformDoc>,
    #[serde(default)]
    annotations: HashMap<String, String>,
}

#[derive(Debug, Clone, Deserialize)]
struct PlatformDoc {
    os: String,
    architecture: String,
}

#[derive(Deserialize)]
struct IndexDoc {
    manifests: Vec<Descriptor>,
}

#[derive(Deserialize)]
struct ManifestDoc {
    config: Descriptor,
    layers: Vec<Descriptor>,
}

/// One entry of Docker's `manifest.json`.
#[derive(Deserialize)]
struct DockerEntry {
    #[serde(rename = "Config")]
    config: String,
    #[serde(rename = "RepoTags", default)]
    repo_tags: Option<Vec<String>>,
    #[serde(rename = "Layers")]
    layers: Vec<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn member_names_stay_inside_the_archive() {
        assert_eq!(member_name(b"./a/layer.tar").unwrap(), "a/layer.tar");
        assert!(member_name(b"/etc/passwd").is_err());
        assert!(member_name(b"a/../../x").is_err());
        assert_eq!(
            symlink_target("b/layer.tar", b"../a/layer.tar").unwrap(),
            "a/layer.tar"
        );
        assert!(symlink_target("b/layer.tar", b"../../x").is_err());
        assert!(symlink_target("b/layer.tar", b"/etc/shadow").is_err());
    }

    #[test]
    fn documents_mixing_index_and_manifest_fields_are_refused() {
        let mixed = br#"{"manifests":[],"layers":[]}"#;
        assert!(document_kind(mixed, "x").is_err());
        assert_eq!(
            document_kind(br#"{"manifests":[]}"#, "x").unwrap(),
            DocumentKind::Index
        );
    }

    #[test]
    fn bare_ref_names_are_no_tags() {
        let descriptor = |annotations: &[(&str, &str)]| Descriptor {
            media_type: OCI_MANIFEST.into(),
            digest: String::new(),
            size: 0,
            platform: None,
            annotations: annotations
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        };
        assert!(descriptor_tags(&descriptor(&[(REF_NAME, "latest")]))
            .unwrap()
            .is_empty());
        assert_eq!(
            descriptor_tags(&descriptor(&[(REF_NAME, "busybox:1.36")])).unwrap(),
            ["docker.io/library/busybox:1.36"]
        );
        assert_eq!(
            descriptor_tags(&descriptor(&[
                (REF_NAME, "v1"),
                (IMAGE_NAME, "host:5000/app:v1")
            ]))
            .unwrap(),
            ["host:5000/app:v1"]
        );
    }
}
