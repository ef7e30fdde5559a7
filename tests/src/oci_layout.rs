//! Images Berth did not make, built byte by byte: compressed layers, OCI configs and manifests,
//! multi-platform indexes, written as an OCI image layout directory that `skopeo copy oci:DIR`
//! reads. The fake registry serves the same [`Blob`]s and manifests directly.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use crate::daemon::busybox_tar;
use crate::error::{FixtureError, Result};

/// OCI media types the fixtures write.
pub mod media {
    /// An OCI image manifest.
    pub const MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
    /// An OCI image index.
    pub const INDEX: &str = "application/vnd.oci.image.index.v1+json";
    /// An OCI image config.
    pub const CONFIG: &str = "application/vnd.oci.image.config.v1+json";
    /// A gzip-compressed layer.
    pub const LAYER_GZIP: &str = "application/vnd.oci.image.layer.v1.tar+gzip";
    /// A zstd-compressed layer.
    pub const LAYER_ZSTD: &str = "application/vnd.oci.image.layer.v1.tar+zstd";
    /// An uncompressed layer.
    pub const LAYER_TAR: &str = "application/vnd.oci.image.layer.v1.tar";
}

/// `sha256:<hex>` of `bytes`.
pub fn sha256_digest(bytes: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(bytes)))
}

/// Content with its digest and media type.
#[derive(Debug, Clone)]
pub struct Blob {
    /// The media type its descriptor carries.
    pub media_type: String,
    /// `sha256:…` of `bytes`.
    pub digest: String,
    /// The content.
    pub bytes: Vec<u8>,
}

impl Blob {
    /// Wraps `bytes`, computing the digest.
    pub fn new(media_type: &str, bytes: Vec<u8>) -> Self {
        Self {
            media_type: media_type.to_owned(),
            digest: sha256_digest(&bytes),
            bytes,
        }
    }

    /// The OCI descriptor of this blob.
    pub fn descriptor(&self) -> Value {
        json!({"mediaType": self.media_type, "digest": self.digest, "size": self.bytes.len()})
    }
}

/// How a layer's tar is compressed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    /// `tar+gzip`.
    Gzip,
    /// `tar+zstd`.
    Zstd,
    /// Plain `tar`.
    None,
}

/// A compressed layer and the digest of its uncompressed tar (the config's `diff_id`).
#[derive(Debug, Clone)]
pub struct Layer {
    /// The compressed blob.
    pub blob: Blob,
    /// `sha256:…` of the uncompressed tar.
    pub diff_id: String,
}

impl Layer {
    /// Compresses `tar` into a layer.
    pub fn from_tar(tar: &[u8], compression: Compression) -> Result<Self> {
        let (media_type, bytes) = match compression {
            Compression::Gzip => {
                let mut enc =
                    flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
                enc.write_all(tar).map_err(FixtureError::io("gzip"))?;
                (
                    media::LAYER_GZIP,
                    enc.finish().map_err(FixtureError::io("gzip"))?,
                )
            }
            Compression::Zstd => (
                media::LAYER_ZSTD,
                zstd::encode_all(tar, 3).map_err(FixtureError::io("zstd"))?,
            ),
            Compression::None => (media::LAYER_TAR, tar.to_vec()),
        };
        Ok(Self {
            blob: Blob::new(media_type, bytes),
            diff_id: sha256_digest(tar),
        })
    }
}

/// A tar of regular files (`path`, `content`), mode 0644, parents added as needed.
pub fn tar_of_files(files: &[(&str, &[u8])]) -> Result<Vec<u8>> {
    let mut builder = tar::Builder::new(Vec::new());
    let mut dirs: Vec<String> = Vec::new();
    for (path, content) in files {
        let parts: Vec<&str> = path.split('/').collect();
        for depth in 1..parts.len() {
            let dir = format!("{}/", parts[..depth].join("/"));
            if !dirs.contains(&dir) {
                let mut header = tar::Header::new_gnu();
                header.set_entry_type(tar::EntryType::Directory);
                header.set_mode(0o755);
                header.set_size(0);
                builder
                    .append_data(&mut header, &dir, std::io::empty())
                    .map_err(FixtureError::io("tar: directory"))?;
                dirs.push(dir);
            }
        }
        let mut header = tar::Header::new_gnu();
        header.set_mode(0o644);
        header.set_size(content.len() as u64);
        builder
            .append_data(&mut header, path, *content)
            .map_err(FixtureError::io("tar: file"))?;
    }
    builder
        .into_inner()
        .map_err(FixtureError::io("tar: finish"))
}

/// A tar entry written as is, without the checks `tar::Builder` applies to names: for layers
/// that try to escape their root.
#[derive(Debug, Clone, Copy)]
pub enum RawEntry<'a> {
    /// A regular file with content.
    File(&'a str, &'a [u8]),
    /// A directory.
    Dir(&'a str),
    /// A symlink: name, target.
    Symlink(&'a str, &'a str),
    /// A hardlink: name, target.
    Hardlink(&'a str, &'a str),
}

/// A tar of `entries` with their names and link targets exactly as given (at most 100 bytes).
pub fn raw_tar(entries: &[RawEntry<'_>]) -> Result<Vec<u8>> {
    let mut builder = tar::Builder::new(Vec::new());
    for entry in entries {
        let mut header = tar::Header::new_old();
        let (name, link, kind, data): (&str, &str, tar::EntryType, &[u8]) = match *entry {
            RawEntry::File(name, data) => (name, "", tar::EntryType::Regular, data),
            RawEntry::Dir(name) => (name, "", tar::EntryType::Directory, &[]),
            RawEntry::Symlink(name, target) => (name, target, tar::EntryType::Symlink, &[]),
            RawEntry::Hardlink(name, target) => (name, target, tar::EntryType::Link, &[]),
        };
        let old = header.as_old_mut();
        if name.len() > old.name.len() || link.len() > old.linkname.len() {
            return Err(FixtureError::Unexpected(format!(
                "raw tar name too long: {name}"
            )));
        }
        old.name[..name.len()].copy_from_slice(name.as_bytes());
        old.linkname[..link.len()].copy_from_slice(link.as_bytes());
        header.set_entry_type(kind);
        header.set_mode(if kind == tar::EntryType::Directory {
            0o755
        } else {
            0o644
        });
        header.set_size(data.len() as u64);
        header.set_cksum();
        builder
            .append(&header, data)
            .map_err(FixtureError::io("raw tar entry"))?;
    }
    builder
        .into_inner()
        .map_err(FixtureError::io("raw tar: finish"))
}

/// The busybox root filesystem as a tar (built once per `scratch` directory).
pub fn busybox_rootfs_tar(scratch: &Path) -> Result<Vec<u8>> {
    fs::create_dir_all(scratch).map_err(FixtureError::io("creating the scratch directory"))?;
    let path = busybox_tar(scratch)?;
    fs::read(&path).map_err(FixtureError::io(format!("reading {}", path.display())))
}

/// An OS and architecture, as in an index entry and a config.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Platform {
    /// `linux`.
    pub os: &'static str,
    /// `amd64`, `arm64`, ….
    pub architecture: &'static str,
    /// `v8`, or empty.
    pub variant: &'static str,
}

impl Platform {
    /// linux/amd64.
    pub const AMD64: Self = Self {
        os: "linux",
        architecture: "amd64",
        variant: "",
    };
    /// linux/arm64/v8.
    pub const ARM64: Self = Self {
        os: "linux",
        architecture: "arm64",
        variant: "v8",
    };

    fn json(&self) -> Value {
        let mut value = json!({"os": self.os, "architecture": self.architecture});
        if !self.variant.is_empty() {
            value["variant"] = json!(self.variant);
        }
        value
    }
}

/// One image: its layers, config and manifest, all as blobs.
#[derive(Debug, Clone)]
pub struct Image {
    /// The layers, bottom first.
    pub layers: Vec<Layer>,
    /// The config; its digest is the image ID.
    pub config: Blob,
    /// The manifest.
    pub manifest: Blob,
    /// The platform recorded in the config.
    pub platform: Platform,
}

impl Image {
    /// An image of `layers` for `platform` whose default command is `cmd`.
    pub fn build(layers: Vec<Layer>, platform: Platform, cmd: &[&str]) -> Self {
        let diff_ids: Vec<&str> = layers.iter().map(|l| l.diff_id.as_str()).collect();
        Self::build_with_diff_ids(layers.clone(), platform, cmd, &diff_ids)
    }

    /// Like [`Image::build`] but with the config claiming `diff_ids` (tests of a lying config).
    pub fn build_with_diff_ids(
        layers: Vec<Layer>,
        platform: Platform,
        cmd: &[&str],
        diff_ids: &[&str],
    ) -> Self {
        let mut config = platform.json();
        config["created"] = json!("2026-01-01T00:00:00Z");
        config["config"] = json!({"Cmd": cmd, "Env": ["PATH=/bin"]});
        config["rootfs"] = json!({"type": "layers", "diff_ids": diff_ids});
        config["history"] = json!(layers
            .iter()
            .map(|_| json!({"created_by": "berth-tests oci_layout"}))
            .collect::<Vec<_>>());
        let config = Blob::new(media::CONFIG, to_bytes(&config));
        let manifest = json!({
            "schemaVersion": 2,
            "mediaType": media::MANIFEST,
            "config": config.descriptor(),
            "layers": layers.iter().map(|l| l.blob.descriptor()).collect::<Vec<_>>(),
        });
        Self {
            manifest: Blob::new(media::MANIFEST, to_bytes(&manifest)),
            config,
            layers,
            platform,
        }
    }

    /// The image's diff_ids, bottom first.
    pub fn diff_ids(&self) -> Vec<String> {
        self.layers.iter().map(|l| l.diff_id.clone()).collect()
    }

    /// Every blob the manifest refers to (config and layers).
    pub fn blobs(&self) -> Vec<&Blob> {
        std::iter::once(&self.config)
            .chain(self.layers.iter().map(|l| &l.blob))
            .collect()
    }

    /// The index entry for this image's manifest, with its platform.
    pub fn index_entry(&self) -> Value {
        let mut entry = self.manifest.descriptor();
        entry["platform"] = self.platform.json();
        entry
    }
}

/// An OCI image index over `images`.
pub fn index_of(images: &[&Image]) -> Blob {
    let index = json!({
        "schemaVersion": 2,
        "mediaType": media::INDEX,
        "manifests": images.iter().map(|i| i.index_entry()).collect::<Vec<_>>(),
    });
    Blob::new(media::INDEX, to_bytes(&index))
}

fn to_bytes(value: &Value) -> Vec<u8> {
    // Serialising a `Value` cannot fail: its keys are strings.
    serde_json::to_vec(value).expect("a serde_json::Value always serialises")
}

/// An OCI image layout directory (`oci-layout`, `index.json`, `blobs/sha256/`).
#[derive(Debug)]
pub struct OciLayout {
    dir: PathBuf,
    refs: Vec<Value>,
}

impl OciLayout {
    /// Creates an empty layout in `dir` (made if missing).
    pub fn create(dir: &Path) -> Result<Self> {
        fs::create_dir_all(dir.join("blobs/sha256"))
            .map_err(FixtureError::io(format!("creating {}", dir.display())))?;
        fs::write(dir.join("oci-layout"), br#"{"imageLayoutVersion":"1.0.0"}"#)
            .map_err(FixtureError::io("writing oci-layout"))?;
        let layout = Self {
            dir: dir.to_owned(),
            refs: Vec::new(),
        };
        layout.write_index()?;
        Ok(layout)
    }

    /// `oci:DIR:tag`, as skopeo names a tagged manifest of this layout.
    pub fn skopeo_ref(&self, tag: &str) -> String {
        format!("oci:{}:{tag}", self.dir.display())
    }

    /// Stores a blob.
    pub fn put_blob(&self, blob: &Blob) -> Result<()> {
        let hex = blob.digest.trim_start_matches("sha256:");
        fs::write(self.dir.join("blobs/sha256").join(hex), &blob.bytes)
            .map_err(FixtureError::io(format!("writing blob {}", blob.digest)))
    }

    /// Stores an image's blobs and names its manifest `tag`.
    pub fn add_image(&mut self, image: &Image, tag: &str) -> Result<()> {
        for blob in image.blobs() {
            self.put_blob(blob)?;
        }
        self.put_blob(&image.manifest)?;
        self.add_ref(image.manifest.descriptor(), tag)
    }

    /// Stores a multi-platform index over `images` (and their blobs) and names it `tag`.
    /// Returns the index blob.
    pub fn add_index(&mut self, images: &[&Image], tag: &str) -> Result<Blob> {
        for image in images {
            for blob in image.blobs() {
                self.put_blob(blob)?;
            }
            self.put_blob(&image.manifest)?;
        }
        let index = index_of(images);
        self.put_blob(&index)?;
        self.add_ref(index.descriptor(), tag)?;
        Ok(index)
    }

    fn add_ref(&mut self, mut descriptor: Value, tag: &str) -> Result<()> {
        descriptor["annotations"] = json!({"org.opencontainers.image.ref.name": tag});
        self.refs.push(descriptor);
        self.write_index()
    }

    fn write_index(&self) -> Result<()> {
        let index = json!({"schemaVersion": 2, "manifests": self.refs});
        fs::write(self.dir.join("index.json"), to_bytes(&index))
            .map_err(FixtureError::io("writing index.json"))
    }
}

/// The test images the registry fixtures seed, built once per `scratch` directory.
pub mod samples {
    use super::*;

    /// What `busybox` images print: their command is `echo <marker>`.
    pub const BUSYBOX_MARKER: &str = "hello from a skopeo-seeded busybox";

    /// busybox (one gzip layer, linux/amd64) whose command echoes [`BUSYBOX_MARKER`].
    pub fn busybox(scratch: &Path, compression: Compression) -> Result<Image> {
        let tar = busybox_rootfs_tar(scratch)?;
        let layer = Layer::from_tar(&tar, compression)?;
        Ok(Image::build(
            vec![layer],
            Platform::AMD64,
            &["echo", BUSYBOX_MARKER],
        ))
    }

    /// A linux/amd64 and a linux/arm64 image: busybox plus a top layer with `/platform`
    /// naming the architecture, so a test tells by diff_ids (or by running amd64) which was
    /// pulled.
    pub fn multi_platform(scratch: &Path) -> Result<(Image, Image)> {
        let base = Layer::from_tar(&busybox_rootfs_tar(scratch)?, Compression::Gzip)?;
        let image = |platform: Platform| -> Result<Image> {
            let marker = format!("{}\n", platform.architecture);
            let top = Layer::from_tar(
                &tar_of_files(&[("platform", marker.as_bytes())])?,
                Compression::Gzip,
            )?;
            Ok(Image::build(
                vec![base.clone(), top],
                platform,
                &["cat", "/platform"],
            ))
        };
        Ok((image(Platform::AMD64)?, image(Platform::ARM64)?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layers_decompress_to_their_diff_id() {
        let tar = tar_of_files(&[("a/b", b"hello")]).unwrap();
        for compression in [Compression::Gzip, Compression::Zstd, Compression::None] {
            let layer = Layer::from_tar(&tar, compression).unwrap();
            let plain = match compression {
                Compression::Gzip => {
                    let mut out = Vec::new();
                    std::io::Read::read_to_end(
                        &mut flate2::read::GzDecoder::new(&layer.blob.bytes[..]),
                        &mut out,
                    )
                    .unwrap();
                    out
                }
                Compression::Zstd => zstd::decode_all(&layer.blob.bytes[..]).unwrap(),
                Compression::None => layer.blob.bytes.clone(),
            };
            assert_eq!(sha256_digest(&plain), layer.diff_id);
            assert_eq!(layer.blob.digest, sha256_digest(&layer.blob.bytes));
        }
    }

    #[test]
    fn raw_tar_keeps_names_as_given() {
        let tar = raw_tar(&[
            RawEntry::File("../escape", b"x"),
            RawEntry::Symlink("link", "/etc"),
            RawEntry::Hardlink("hard", "/etc/passwd"),
            RawEntry::Dir("d/"),
        ])
        .unwrap();
        let mut archive = tar::Archive::new(&tar[..]);
        let names: Vec<(String, Option<String>)> = archive
            .entries()
            .unwrap()
            .map(|e| {
                let e = e.unwrap();
                let raw = String::from_utf8(e.path_bytes().to_vec()).unwrap();
                let link = e
                    .link_name_bytes()
                    .map(|l| String::from_utf8(l.to_vec()).unwrap());
                (raw, link)
            })
            .collect();
        assert_eq!(names[0], ("../escape".into(), None));
        assert_eq!(names[1], ("link".into(), Some("/etc".into())));
        assert_eq!(names[2], ("hard".into(), Some("/etc/passwd".into())));
        assert_eq!(names[3], ("d/".into(), None));
    }

    #[test]
    fn layout_has_the_index_and_blobs() {
        let dir = tempfile::tempdir().unwrap();
        let layer =
            Layer::from_tar(&tar_of_files(&[("x", b"1")]).unwrap(), Compression::Gzip).unwrap();
        let amd = Image::build(vec![layer.clone()], Platform::AMD64, &["true"]);
        let arm = Image::build(vec![layer], Platform::ARM64, &["true"]);
        let mut layout = OciLayout::create(&dir.path().join("l")).unwrap();
        layout.add_image(&amd, "one").unwrap();
        let index = layout.add_index(&[&amd, &arm], "multi").unwrap();
        let top: Value =
            serde_json::from_slice(&fs::read(dir.path().join("l/index.json")).unwrap()).unwrap();
        assert_eq!(top["manifests"].as_array().unwrap().len(), 2);
        assert_eq!(top["manifests"][1]["digest"], index.digest.as_str());
        let stored: Value = serde_json::from_slice(
            &fs::read(
                dir.path()
                    .join("l/blobs/sha256")
                    .join(index.digest.trim_start_matches("sha256:")),
            )
            .unwrap(),
        )
        .unwrap();
        assert_eq!(stored["manifests"][1]["platform"]["architecture"], "arm64");
        assert_ne!(amd.config.digest, arm.config.digest);
    }
}
