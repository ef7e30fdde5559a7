//! Builds image archives the way other tools write them: OCI layouts (with nested indexes)
//! and Docker's legacy `docker save` form, from layer tars made in the test.
#![allow(dead_code, clippy::unwrap_used)]

use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use super::common::{gzip, RawTar};

pub fn digest(bytes: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(bytes)))
}

pub fn hex_of(digest: &str) -> &str {
    digest.strip_prefix("sha256:").unwrap()
}

/// One image: its config, manifest and layer blobs.
#[derive(Clone)]
pub struct Built {
    pub config: Vec<u8>,
    pub manifest: Vec<u8>,
    /// (digest, bytes) of the layer blobs, bottom first.
    pub layers: Vec<(String, Vec<u8>)>,
}

impl Built {
    pub fn id(&self) -> String {
        digest(&self.config)
    }

    pub fn manifest_digest(&self) -> String {
        digest(&self.manifest)
    }

    /// Every blob: manifest, config, layers.
    pub fn blobs(&self) -> Vec<(String, Vec<u8>)> {
        let mut blobs = vec![
            (self.manifest_digest(), self.manifest.clone()),
            (self.id(), self.config.clone()),
        ];
        blobs.extend(self.layers.iter().cloned());
        blobs
    }
}

/// A layer tar holding one file.
pub fn layer_with(path: &str, body: &[u8]) -> Vec<u8> {
    let mut tar = RawTar::new();
    if let Some((dir, _)) = path.rsplit_once('/') {
        tar.dir(dir, 0o755);
    }
    tar.file(path, body).finish()
}

/// An image of these uncompressed layer tars (gzip-compressed blobs when `gzipped`), with a
/// history that has an empty-layer step on top. `diff_ids` overrides the config's.
pub fn image(tars: &[Vec<u8>], gzipped: bool, diff_ids: Option<Vec<String>>) -> Built {
    let diff_ids = diff_ids.unwrap_or_else(|| tars.iter().map(|t| digest(t)).collect());
    let mut history: Vec<Value> = (0..tars.len())
        .map(|i| json!({"created": "2024-01-02T03:04:05Z", "created_by": format!("RUN step {i}")}))
        .collect();
    history.push(json!({
        "created": "2024-01-02T03:04:06Z",
        "created_by": "CMD [\"sh\"]",
        "comment": "config only",
        "empty_layer": true
    }));
    let config = serde_json::to_vec(&json!({
        "created": "2024-01-02T03:04:06Z",
        "architecture": oci_spec::image::Arch::default().to_string(),
        "os": "linux",
        "config": {"Cmd": ["sh"], "Env": ["PATH=/bin"]},
        "rootfs": {"type": "layers", "diff_ids": diff_ids},
        "history": history,
    }))
    .unwrap();
    let layers: Vec<(String, Vec<u8>)> = tars
        .iter()
        .map(|t| {
            let blob = if gzipped { gzip(t) } else { t.clone() };
            (digest(&blob), blob)
        })
        .collect();
    let media = if gzipped {
        "application/vnd.oci.image.layer.v1.tar+gzip"
    } else {
        "application/vnd.oci.image.layer.v1.tar"
    };
    let manifest = serde_json::to_vec(&json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {
            "mediaType": "application/vnd.oci.image.config.v1+json",
            "digest": digest(&config),
            "size": config.len(),
        },
        "layers": layers.iter().map(|(d, b)| json!({
            "mediaType": media, "digest": d, "size": b.len(),
        })).collect::<Vec<_>>(),
    }))
    .unwrap();
    Built {
        config,
        manifest,
        layers,
    }
}

/// A manifest descriptor, optionally with a `ref.name` annotation.
pub fn descriptor(built: &Built, ref_name: Option<&str>) -> Value {
    let mut d = json!({
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "digest": built.manifest_digest(),
        "size": built.manifest.len(),
    });
    if let Some(name) = ref_name {
        d["annotations"] = json!({"org.opencontainers.image.ref.name": name});
    }
    d
}

/// An OCI layout tar: `index.json` lists `manifests`, `blobs` are written once each.
pub fn oci_tar(manifests: Vec<Value>, blobs: &[(String, Vec<u8>)]) -> Vec<u8> {
    let mut tar = RawTar::new();
    tar.file("oci-layout", br#"{"imageLayoutVersion":"1.0.0"}"#);
    let index = serde_json::to_vec(&json!({"schemaVersion": 2, "manifests": manifests})).unwrap();
    tar.file("index.json", &index);
    tar.dir("blobs/", 0o755).dir("blobs/sha256/", 0o755);
    let mut seen = std::collections::HashSet::new();
    for (d, bytes) in blobs {
        if seen.insert(d.clone()) {
            tar.file(&format!("blobs/sha256/{}", hex_of(d)), bytes);
        }
    }
    tar.finish()
}

/// Docker's legacy `docker save` form: `<id>.json` configs, `<n>/layer.tar` (a repeated layer
/// is a symlink to the first copy, as Docker writes it), `manifest.json` with `RepoTags`.
pub fn legacy_tar(built: &Built, tags: &[&str]) -> Vec<u8> {
    let mut tar = RawTar::new();
    let config_name = format!("{}.json", hex_of(&built.id()));
    tar.file(&config_name, &built.config);
    let mut paths = Vec::new();
    let mut first: std::collections::HashMap<String, String> = Default::default();
    for (i, (d, bytes)) in built.layers.iter().enumerate() {
        let dir = format!("{i:02}{}", &hex_of(d)[..8]);
        let path = format!("{dir}/layer.tar");
        tar.dir(&dir, 0o755);
        tar.file(&format!("{dir}/VERSION"), b"1.0");
        tar.file(&format!("{dir}/json"), b"{}");
        match first.get(d) {
            Some(original) => {
                tar.symlink(&path, &format!("../{original}"));
            }
            None => {
                tar.file(&path, bytes);
                first.insert(d.clone(), path.clone());
            }
        }
        paths.push(path);
    }
    let manifest = serde_json::to_vec(&json!([{
        "Config": config_name,
        "RepoTags": tags,
        "Layers": paths,
    }]))
    .unwrap();
    tar.file("manifest.json", &manifest);
    tar.file("repositories", b"{}");
    tar.finish()
}
