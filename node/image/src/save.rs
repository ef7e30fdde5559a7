//! `docker save`: images as one tar that is at once a Docker archive (`manifest.json`, read by
//! `docker load` and skopeo's `docker-archive:`) and an OCI image layout (`oci-layout`,
//! `index.json`, `blobs/sha256/`, read by `oci-archive:` tools and Docker 25+). Both describe
//! the same stored blobs, written once each and streamed from the content store.

use std::collections::HashSet;
use std::io::{self, Read, Write};

use serde_json::{json, Map, Value};
use tar::{Builder, EntryType, Header};

use crate::index::{ImageRecord, View};
use crate::store::{familiar, resolve, Named};
use crate::{ImageError, ImageStore, Reference};

/// The OCI annotation with the tag (`latest`).
pub(crate) const REF_NAME: &str = "org.opencontainers.image.ref.name";
/// containerd's (and Docker 25's) annotation with the full image name.
pub(crate) const IMAGE_NAME: &str = "io.containerd.image.name";
/// The largest manifest or config document read into memory.
pub(crate) const MAX_DOCUMENT: u64 = 4 << 20;

const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";

/// One image to save and the normalised tags to keep with it.
struct Saved {
    record: ImageRecord,
    tags: Vec<String>,
}

impl ImageStore {
    /// Writes the images `references` name (tags, IDs or ID prefixes) to `out` as one tar. An
    /// image named by a tag keeps that tag; one named by ID is saved untagged.
    pub fn save(&self, references: &[String], out: &mut dyn Write) -> Result<(), ImageError> {
        let saved = saved_images(&View::load(&self.db)?, references)?;
        let mtime = saved
            .iter()
            .filter_map(|s| s.record.created)
            .map(|c| u64::try_from(c.timestamp()).unwrap_or(0))
            .max()
            .unwrap_or(0);
        let mut writer = ArchiveWriter {
            builder: Builder::new(out),
            mtime,
        };
        writer.directory("blobs/")?;
        writer.directory("blobs/sha256/")?;
        let mut written = HashSet::new();
        for blob in saved.iter().flat_map(|s| s.record.blobs()) {
            if written.insert(blob.clone()) {
                self.write_blob(&mut writer, blob)?;
            }
        }
        writer.file("oci-layout", br#"{"imageLayoutVersion":"1.0.0"}"#)?;
        let index = self.oci_index(&saved)?;
        writer.file("index.json", &encode(&index)?)?;
        writer.file("manifest.json", &encode(&docker_manifest(&saved))?)?;
        writer
            .builder
            .into_inner()
            .and_then(|out| out.flush())
            .map_err(|e| ImageError::io("writing the archive", e))
    }

    /// The IDs of the images `save` would write for `references`, in order; the same errors
    /// as `save` (so a caller can check the names before it starts streaming).
    pub fn save_ids(&self, references: &[String]) -> Result<Vec<String>, ImageError> {
        let saved = saved_images(&View::load(&self.db)?, references)?;
        Ok(saved.into_iter().map(|s| s.record.id).collect())
    }

    /// Streams one stored blob into the archive as `blobs/sha256/<hex>`.
    fn write_blob(&self, writer: &mut ArchiveWriter<'_>, digest: &str) -> Result<(), ImageError> {
        let file = self.content.open_blob(digest)?;
        let size = file
            .metadata()
            .map_err(|e| ImageError::io(format!("reading blob {digest}"), e))?
            .len();
        // A blob cut short underneath us must not shift the archive: pad to the header size.
        let data = file.take(size).chain(io::repeat(0)).take(size);
        writer.entry(&blob_path(digest), size, data)
    }

    /// `index.json`: one descriptor per tag (one without annotations for an untagged image).
    fn oci_index(&self, saved: &[Saved]) -> Result<Value, ImageError> {
        let mut manifests = Vec::new();
        for s in saved {
            let (media_type, size) = self.manifest_kind(&s.record.manifest_digest)?;
            let descriptor = json!({
                "mediaType": media_type,
                "digest": s.record.manifest_digest,
                "size": size,
            });
            if s.tags.is_empty() {
                manifests.push(descriptor.clone());
            }
            for tag in &s.tags {
                let mut tagged = descriptor.clone();
                let mut annotations = Map::new();
                annotations.insert(IMAGE_NAME.into(), Value::from(tag.as_str()));
                if let Some(t) = Reference::parse(tag)
                    .ok()
                    .and_then(|r| r.tag().map(String::from))
                {
                    annotations.insert(REF_NAME.into(), Value::from(t));
                }
                tagged["annotations"] = Value::Object(annotations);
                manifests.push(tagged);
            }
        }
        Ok(json!({
            "schemaVersion": 2,
            "mediaType": OCI_INDEX,
            "manifests": manifests,
        }))
    }

    /// A stored manifest's media type (OCI when it does not say) and size.
    fn manifest_kind(&self, digest: &str) -> Result<(String, u64), ImageError> {
        let bytes = self.read_document(digest)?;
        let media_type = serde_json::from_slice::<Value>(&bytes)
            .ok()
            .and_then(|v| v.get("mediaType").and_then(Value::as_str).map(String::from))
            .unwrap_or_else(|| OCI_MANIFEST.to_string());
        Ok((media_type, bytes.len() as u64))
    }

    /// A stored JSON document (manifest, config), at most [`MAX_DOCUMENT`] bytes.
    pub(crate) fn read_document(&self, digest: &str) -> Result<Vec<u8>, ImageError> {
        let mut bytes = Vec::new();
        self.content
            .open_blob(digest)?
            .take(MAX_DOCUMENT + 1)
            .read_to_end(&mut bytes)
            .map_err(|e| ImageError::io(format!("reading blob {digest}"), e))?;
        if bytes.len() as u64 > MAX_DOCUMENT {
            return Err(ImageError::invalid(format!(
                "document {digest} exceeds {MAX_DOCUMENT} bytes"
            )));
        }
        Ok(bytes)
    }
}

/// The images to save, each once, with the tags `references` name.
fn saved_images(view: &View, references: &[String]) -> Result<Vec<Saved>, ImageError> {
    if references.is_empty() {
        return Err(ImageError::invalid("no images to save"));
    }
    let mut saved: Vec<Saved> = Vec::new();
    for reference in references {
        for (record, tag) in named_images(view, reference)? {
            match saved.iter_mut().find(|s| s.record.id == record.id) {
                Some(s) => s.tags.extend(tag.filter(|t| !s.tags.contains(t))),
                None => saved.push(Saved {
                    record: record.clone(),
                    tags: tag.into_iter().collect(),
                }),
            }
        }
    }
    Ok(saved)
}

/// The images `input` names, each with the tag to keep. As in Docker, a repository name
/// without a tag (`busybox`) names every tagged image of that repository; when it has none, the
/// input resolves like any other (`busybox:latest`, an ID prefix).
fn named_images<'v>(
    view: &'v View,
    input: &str,
) -> Result<Vec<(&'v ImageRecord, Option<String>)>, ImageError> {
    let name_only = !input.contains('@')
        && !input
            .rsplit('/')
            .next()
            .is_some_and(|last| last.contains(':'));
    if let Some(repository) = Reference::parse(input).ok().filter(|_| name_only) {
        let name = repository.name();
        let mut tagged: Vec<(&ImageRecord, Option<String>)> = view
            .tags
            .iter()
            .filter(|(tag, _)| Reference::parse(tag).is_ok_and(|r| r.name() == name))
            .filter_map(|(tag, id)| view.image(id).map(|record| (record, Some(tag.clone()))))
            .collect();
        if !tagged.is_empty() {
            tagged.sort_by(|a, b| a.1.cmp(&b.1));
            return Ok(tagged);
        }
    }
    let (record, named) = resolve(view, input)?;
    let tag = match named {
        Named::Reference(r) => Some(r.to_string()),
        Named::Id => None,
    };
    Ok(vec![(record, tag)])
}

/// `manifest.json`, Docker's description of the same images (familiar tags, null when none).
fn docker_manifest(saved: &[Saved]) -> Value {
    let entries: Vec<Value> = saved
        .iter()
        .map(|s| {
            let tags: Vec<String> = s.tags.iter().map(|t| familiar(t)).collect();
            json!({
                "Config": blob_path(&s.record.id),
                "RepoTags": if tags.is_empty() { Value::Null } else { json!(tags) },
                "Layers": s.record.layers.iter().map(|l| blob_path(l)).collect::<Vec<_>>(),
            })
        })
        .collect();
    Value::Array(entries)
}

/// `blobs/sha256/<hex>` for `sha256:<hex>`.
pub(crate) fn blob_path(digest: &str) -> String {
    format!("blobs/{}", digest.replacen(':', "/", 1))
}

fn encode(value: &Value) -> Result<Vec<u8>, ImageError> {
    serde_json::to_vec(value).map_err(|e| ImageError::invalid(format!("encoding JSON: {e}")))
}

/// Appends entries with fixed ownership, modes and time.
struct ArchiveWriter<'w> {
    builder: Builder<&'w mut dyn Write>,
    mtime: u64,
}

impl ArchiveWriter<'_> {
    fn header(&self, kind: EntryType, mode: u32, size: u64) -> Header {
        let mut header = Header::new_ustar();
        header.set_entry_type(kind);
        header.set_mode(mode);
        header.set_uid(0);
        header.set_gid(0);
        header.set_mtime(self.mtime);
        header.set_size(size);
        header
    }

    fn directory(&mut self, name: &str) -> Result<(), ImageError> {
        let mut header = self.header(EntryType::Directory, 0o755, 0);
        self.builder
            .append_data(&mut header, name, io::empty())
            .map_err(|e| ImageError::io("writing the archive", e))
    }

    fn file(&mut self, name: &str, bytes: &[u8]) -> Result<(), ImageError> {
        self.entry(name, bytes.len() as u64, bytes)
    }

    fn entry(&mut self, name: &str, size: u64, data: impl Read) -> Result<(), ImageError> {
        let mut header = self.header(EntryType::Regular, 0o644, size);
        self.builder
            .append_data(&mut header, name, data)
            .map_err(|e| ImageError::io(format!("writing {name} to the archive"), e))
    }
}
