//! Fixtures for registry tests: a real `docker-registry` on a loopback port, and OCI layouts
//! (built here from /bin/busybox) that `skopeo` copies into it.

#![allow(dead_code, clippy::unwrap_used)]

use std::io::Write;
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use sha2::{Digest, Sha256};

/// Debian's distribution registry on 127.0.0.1, killed on drop.
pub struct TestRegistry {
    child: Child,
    /// `127.0.0.1:PORT`.
    pub host: String,
    _dir: tempfile::TempDir,
}

impl TestRegistry {
    pub fn start() -> Self {
        Self::start_with(None)
    }

    /// A registry that wants HTTP basic auth as `user`:`password` (htpasswd, bcrypt).
    pub fn with_basic_auth(user: &str, password: &str) -> Self {
        Self::start_with(Some((user, password)))
    }

    fn start_with(basic_auth: Option<(&str, &str)>) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let mut auth = String::new();
        if let Some((user, password)) = basic_auth {
            let output = Command::new("htpasswd")
                .args(["-Bbn", user, password])
                .output()
                .expect("htpasswd (apache2-utils) is installed");
            assert!(output.status.success(), "htpasswd failed");
            let file = dir.path().join("htpasswd");
            std::fs::write(&file, output.stdout).unwrap();
            auth = format!(
                "auth:\n  htpasswd:\n    realm: berth-test\n    path: {}\n",
                file.display()
            );
        }
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let host = format!("127.0.0.1:{port}");
        let config = dir.path().join("config.yml");
        std::fs::write(
            &config,
            format!(
                "version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n    rootdirectory: {}\n  delete:\n    enabled: true\nhttp:\n  addr: {host}\n{auth}",
                dir.path().join("data").display()
            ),
        )
        .unwrap();
        let child = Command::new("docker-registry")
            .arg("serve")
            .arg(&config)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("docker-registry is installed");
        let deadline = Instant::now() + Duration::from_secs(10);
        while TcpStream::connect(&host).is_err() {
            assert!(Instant::now() < deadline, "docker-registry did not start");
            std::thread::sleep(Duration::from_millis(50));
        }
        TestRegistry {
            child,
            host,
            _dir: dir,
        }
    }

    /// Copies `layout`'s `tag` (all platforms) to `repo:tag` in this registry.
    pub fn seed(&self, layout: &Layout, tag: &str, repo: &str) {
        self.seed_as(layout, tag, repo, None);
    }

    /// `seed` with `user:password` for a registry that wants them.
    pub fn seed_as(&self, layout: &Layout, tag: &str, repo: &str, creds: Option<&str>) {
        let status = Command::new("skopeo")
            .args(["copy", "--all", "--quiet", "--dest-tls-verify=false"])
            .args(creds.map(|c| format!("--dest-creds={c}")))
            .arg(format!("oci:{}:{tag}", layout.dir.path().display()))
            .arg(format!("docker://{}/{repo}:{tag}", self.host))
            .status()
            .unwrap();
        assert!(status.success(), "skopeo copy failed");
    }

    /// The digest of the manifest `repo:tag` as stored (skopeo may have rewritten it, for
    /// example compressing uncompressed layers).
    pub fn manifest_digest(&self, repo: &str, tag: &str) -> String {
        let output = Command::new("skopeo")
            .args(["inspect", "--raw", "--tls-verify=false"])
            .arg(format!("docker://{}/{repo}:{tag}", self.host))
            .output()
            .unwrap();
        assert!(output.status.success(), "skopeo inspect failed");
        sha256(&output.stdout)
    }
}

impl Drop for TestRegistry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn sha256(bytes: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(bytes)))
}

/// How a layer is compressed in the layout.
#[derive(Clone, Copy)]
pub enum Compress {
    Gzip,
    Zstd,
    None,
}

/// A layer: its uncompressed tar, and how it is stored.
pub struct Layer {
    pub tar: Vec<u8>,
    pub compress: Compress,
}

impl Layer {
    /// A tar of `files` (`path`, contents, mode), with parent directories.
    pub fn files(files: &[(&str, &[u8], u32)], compress: Compress) -> Self {
        let mut builder = tar::Builder::new(Vec::new());
        let mut dirs = std::collections::BTreeSet::new();
        for (path, _, _) in files {
            let mut p = Path::new(path).parent();
            while let Some(d) = p.filter(|d| !d.as_os_str().is_empty()) {
                dirs.insert(d.to_path_buf());
                p = d.parent();
            }
        }
        for dir in dirs {
            let mut header = tar::Header::new_gnu();
            header.set_entry_type(tar::EntryType::Directory);
            header.set_mode(0o755);
            header.set_size(0);
            builder
                .append_data(&mut header, format!("{}/", dir.display()), &[][..])
                .unwrap();
        }
        for (path, data, mode) in files {
            let mut header = tar::Header::new_gnu();
            header.set_mode(*mode);
            header.set_size(data.len() as u64);
            builder.append_data(&mut header, path, *data).unwrap();
        }
        Layer {
            tar: builder.into_inner().unwrap(),
            compress,
        }
    }

    /// /bin/busybox, gzip-compressed.
    pub fn busybox() -> Self {
        let busybox = std::fs::read("/bin/busybox").unwrap();
        Self::files(&[("bin/busybox", &busybox, 0o755)], Compress::Gzip)
    }

    /// `size` bytes of incompressible data in `name`.
    pub fn noise(name: &str, size: usize, seed: u64, compress: Compress) -> Self {
        let mut data = Vec::with_capacity(size);
        let mut x = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        while data.len() < size {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            data.extend_from_slice(&x.to_le_bytes());
        }
        data.truncate(size);
        Self::files(&[(name, &data, 0o644)], compress)
    }

    fn blob(&self) -> (Vec<u8>, &'static str) {
        match self.compress {
            Compress::Gzip => {
                let mut enc =
                    flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
                enc.write_all(&self.tar).unwrap();
                (
                    enc.finish().unwrap(),
                    "application/vnd.oci.image.layer.v1.tar+gzip",
                )
            }
            Compress::Zstd => (
                zstd::encode_all(&self.tar[..], 1).unwrap(),
                "application/vnd.oci.image.layer.v1.tar+zstd",
            ),
            Compress::None => (self.tar.clone(), "application/vnd.oci.image.layer.v1.tar"),
        }
    }
}

/// An OCI image layout in a temporary directory.
pub struct Layout {
    pub dir: tempfile::TempDir,
    refs: Vec<Value>,
}

/// What an image in a layout is made of.
pub struct Built {
    /// Descriptor of its manifest.
    pub descriptor: Value,
    /// The config digest: the image ID.
    pub config_digest: String,
    pub layer_digests: Vec<String>,
}

impl Layout {
    pub fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("blobs/sha256")).unwrap();
        std::fs::write(
            dir.path().join("oci-layout"),
            r#"{"imageLayoutVersion":"1.0.0"}"#,
        )
        .unwrap();
        Layout {
            dir,
            refs: Vec::new(),
        }
    }

    pub fn blob(&self, bytes: &[u8]) -> String {
        let digest = sha256(bytes);
        let path: PathBuf = self
            .dir
            .path()
            .join("blobs/sha256")
            .join(&digest["sha256:".len()..]);
        std::fs::write(path, bytes).unwrap();
        digest
    }

    /// Adds an image for `arch` with `layers`; returns its manifest descriptor.
    pub fn image(&self, arch: &str, layers: &[Layer], cmd: &[&str]) -> Built {
        let mut layer_descriptors = Vec::new();
        let mut diff_ids = Vec::new();
        let mut layer_digests = Vec::new();
        for layer in layers {
            let (blob, media_type) = layer.blob();
            let digest = self.blob(&blob);
            diff_ids.push(sha256(&layer.tar));
            layer_digests.push(digest.clone());
            layer_descriptors
                .push(json!({"mediaType": media_type, "digest": digest, "size": blob.len()}));
        }
        let config = serde_json::to_vec(&json!({
            "architecture": arch,
            "os": "linux",
            "created": "2026-01-01T00:00:00Z",
            "config": {"Cmd": cmd, "Env": ["PATH=/bin"]},
            "rootfs": {"type": "layers", "diff_ids": diff_ids},
            "history": [{"created": "2026-01-01T00:00:00Z", "created_by": "berth test"}]
        }))
        .unwrap();
        let config_digest = self.blob(&config);
        let manifest = serde_json::to_vec(&json!({
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": config_digest, "size": config.len()},
            "layers": layer_descriptors
        }))
        .unwrap();
        let digest = self.blob(&manifest);
        Built {
            descriptor: json!({
                "mediaType": "application/vnd.oci.image.manifest.v1+json",
                "digest": digest,
                "size": manifest.len(),
                "platform": {"architecture": arch, "os": "linux"}
            }),
            config_digest,
            layer_digests,
        }
    }

    /// Adds an index of `images`; returns its descriptor.
    pub fn index(&self, images: &[&Built]) -> Value {
        let index = serde_json::to_vec(&json!({
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.index.v1+json",
            "manifests": images.iter().map(|b| b.descriptor.clone()).collect::<Vec<_>>()
        }))
        .unwrap();
        let digest = self.blob(&index);
        json!({"mediaType": "application/vnd.oci.image.index.v1+json", "digest": digest, "size": index.len()})
    }

    /// Names `descriptor` `tag` in index.json.
    pub fn tag(&mut self, descriptor: &Value, tag: &str) {
        let mut d = descriptor.clone();
        d["annotations"] = json!({"org.opencontainers.image.ref.name": tag});
        self.refs.push(d);
        std::fs::write(
            self.dir.path().join("index.json"),
            serde_json::to_vec(&json!({"schemaVersion": 2, "manifests": self.refs})).unwrap(),
        )
        .unwrap();
    }
}
