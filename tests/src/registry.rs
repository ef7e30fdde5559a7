//! A real registry for the pull and push tests: Debian's `docker-registry` (the CNCF
//! distribution registry) on a free loopback port with its storage in a temporary directory,
//! optionally behind htpasswd basic auth, seeded with images by Debian's `skopeo`. Dropping it
//! kills the registry.

use std::fs;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use tempfile::TempDir;

use crate::error::{FixtureError, Result};
use crate::oci_layout::{samples, Blob, Compression, Image, OciLayout};
use crate::wait::{wait_until, SETTLE_TIMEOUT};

/// The registry binary (Debian package `docker-registry`); `BERTH_TEST_REGISTRY` overrides it.
fn registry_binary() -> PathBuf {
    std::env::var_os("BERTH_TEST_REGISTRY")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/usr/bin/docker-registry"))
}

/// A user name and password.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Login {
    /// The user.
    pub username: String,
    /// The password.
    pub password: String,
}

impl Login {
    /// A login.
    pub fn new(username: &str, password: &str) -> Self {
        Self {
            username: username.to_owned(),
            password: password.to_owned(),
        }
    }

    fn colon_joined(&self) -> String {
        format!("{}:{}", self.username, self.password)
    }
}

/// A running `docker-registry`.
pub struct Registry {
    dir: TempDir,
    child: Option<Child>,
    port: u16,
    login: Option<Login>,
}

impl Registry {
    /// Starts a registry that anyone may pull from and push to.
    pub fn start() -> Result<Self> {
        Self::launch(None)
    }

    /// Starts a registry that demands HTTP basic auth as `login` (htpasswd, bcrypt).
    pub fn start_with_auth(login: Login) -> Result<Self> {
        Self::launch(Some(login))
    }

    fn launch(login: Option<Login>) -> Result<Self> {
        let dir = tempfile::Builder::new()
            .prefix("berth-registry-")
            .tempdir()
            .map_err(FixtureError::io("creating the registry directory"))?;
        if let Some(login) = &login {
            write_htpasswd(&dir.path().join("htpasswd"), login)?;
        }
        let mut registry = Self {
            dir,
            child: None,
            port: 0,
            login,
        };
        // A free port can be taken between probing and binding: try a few.
        let mut last_error = None;
        for _ in 0..5 {
            match registry.spawn() {
                Ok(()) => return Ok(registry),
                Err(err) => last_error = Some(err),
            }
        }
        Err(last_error.unwrap_or_else(|| FixtureError::Unexpected("no registry".into())))
    }

    fn spawn(&mut self) -> Result<()> {
        self.stop();
        self.port = free_port()?;
        let config = self.dir.path().join("config.yml");
        fs::write(&config, self.config_yaml()).map_err(FixtureError::io("writing config.yml"))?;
        let log = fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.log_path())
            .map_err(FixtureError::io("opening registry.log"))?;
        let log_err = log
            .try_clone()
            .map_err(FixtureError::io("cloning the log"))?;
        let binary = registry_binary();
        let child = Command::new(&binary)
            .arg("serve")
            .arg(&config)
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(log_err)
            .spawn()
            .map_err(FixtureError::io(format!(
                "starting {} (install docker-registry)",
                binary.display()
            )))?;
        self.child = Some(child);
        let host = self.host();
        wait_until(SETTLE_TIMEOUT, "the registry to answer /v2/", || {
            if let Some(child) = self.child.as_mut() {
                if let Ok(Some(status)) = child.try_wait() {
                    return Err(FixtureError::Unexpected(format!(
                        "docker-registry exited with {status}:\n{}",
                        self.log()
                    )));
                }
            }
            Ok(matches!(http_status(&host, "GET", "/v2/"), Ok(200 | 401)).then_some(()))
        })
    }

    fn config_yaml(&self) -> String {
        let storage = self.dir.path().join("storage");
        let auth = match self.login {
            Some(_) => format!(
                "auth:\n  htpasswd:\n    realm: berth-test\n    path: {}\n",
                self.dir.path().join("htpasswd").display()
            ),
            None => String::new(),
        };
        format!(
            "version: 0.1\n\
             log:\n  level: info\n  accesslog:\n    disabled: false\n\
             storage:\n  filesystem:\n    rootdirectory: {}\n  delete:\n    enabled: true\n\
             http:\n  addr: 127.0.0.1:{}\n\
             {auth}",
            storage.display(),
            self.port
        )
    }

    /// `127.0.0.1:PORT`: the registry part of references to it.
    pub fn host(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// `127.0.0.1:PORT/<path>`: a reference to a repository (and tag or digest) in it.
    pub fn reference(&self, path: &str) -> String {
        format!("{}/{path}", self.host())
    }

    fn log_path(&self) -> PathBuf {
        self.dir.path().join("registry.log")
    }

    /// The registry's log so far, access log included (request lines with their queries,
    /// such as `?mount=…&from=…`).
    pub fn log(&self) -> String {
        fs::read_to_string(self.log_path()).unwrap_or_default()
    }

    /// A scratch directory private to this registry.
    pub fn scratch(&self) -> PathBuf {
        self.dir.path().join("scratch")
    }

    fn skopeo(&self) -> Command {
        let mut command = Command::new("skopeo");
        command.arg("--insecure-policy");
        command
    }

    /// `skopeo copy EXTRA SOURCE docker://HOST/dest` (EXTRA: `--all`, `--format v2s2`, …),
    /// with this registry's credentials.
    pub fn skopeo_push(&self, source: &str, dest: &str, extra: &[&str]) -> Result<()> {
        let mut command = self.skopeo();
        command
            .args(["copy", "--dest-tls-verify=false"])
            .args(extra);
        if let Some(login) = &self.login {
            command.arg("--dest-creds").arg(login.colon_joined());
        }
        command
            .arg(source)
            .arg(format!("docker://{}", self.reference(dest)));
        run(command).map(drop)
    }

    /// Copies `path` (`repo:tag` or `repo@digest`) out of the registry into the OCI layout
    /// `dir` as `tag`.
    pub fn skopeo_pull(&self, path: &str, dir: &Path, tag: &str) -> Result<()> {
        // skopeo creates the layout directory but not its parents.
        if let Some(parent) = dir.parent() {
            std::fs::create_dir_all(parent)
                .map_err(FixtureError::io(format!("creating {}", parent.display())))?;
        }
        let mut command = self.skopeo();
        // Keep uncompressed layers as they are, so every blob keeps its digest.
        command.args([
            "copy",
            "--src-tls-verify=false",
            "--dest-oci-accept-uncompressed-layers",
        ]);
        if let Some(login) = &self.login {
            command.arg("--src-creds").arg(login.colon_joined());
        }
        command
            .arg(format!("docker://{}", self.reference(path)))
            .arg(format!("oci:{}:{tag}", dir.display()));
        run(command).map(drop)
    }

    /// `skopeo inspect EXTRA docker://HOST/path` (for example `--raw`, or `--raw --config`);
    /// returns stdout.
    pub fn skopeo_inspect(&self, path: &str, extra: &[&str]) -> Result<String> {
        let mut command = self.skopeo();
        command.args(["inspect", "--tls-verify=false"]);
        if let Some(login) = &self.login {
            command.arg("--creds").arg(login.colon_joined());
        }
        command
            .args(extra)
            .arg(format!("docker://{}", self.reference(path)));
        run(command)
    }

    /// Builds an OCI layout with `image` tagged `tag` and copies it to `dest` (`repo:tag`).
    pub fn seed_image(&self, image: &Image, dest: &str) -> Result<()> {
        let mut layout = OciLayout::create(&self.fresh_layout_dir()?)?;
        layout.add_image(image, "seed")?;
        self.skopeo_push(&layout.skopeo_ref("seed"), dest, &[])
    }

    /// Builds an OCI layout with an index over `images` and copies all of it to `dest`.
    pub fn seed_index(&self, images: &[&Image], dest: &str) -> Result<Blob> {
        let mut layout = OciLayout::create(&self.fresh_layout_dir()?)?;
        let index = layout.add_index(images, "seed")?;
        self.skopeo_push(&layout.skopeo_ref("seed"), dest, &["--all"])?;
        Ok(index)
    }

    /// Like [`Registry::seed_index`], but skopeo converts it to a Docker schema 2 manifest
    /// list of Docker schema 2 manifests (new digests: read them back with skopeo).
    pub fn seed_docker_list(&self, images: &[&Image], dest: &str) -> Result<()> {
        let mut layout = OciLayout::create(&self.fresh_layout_dir()?)?;
        layout.add_index(images, "seed")?;
        self.skopeo_push(
            &layout.skopeo_ref("seed"),
            dest,
            &["--all", "--format", "v2s2"],
        )
    }

    fn fresh_layout_dir(&self) -> Result<PathBuf> {
        let scratch = self.scratch();
        fs::create_dir_all(&scratch).map_err(FixtureError::io("creating scratch/"))?;
        let dir = tempfile::Builder::new()
            .prefix("layout-")
            .tempdir_in(&scratch)
            .map_err(FixtureError::io("creating a layout directory"))?;
        Ok(dir.keep())
    }

    /// Seeds the sample images of [`samples`]: `busybox:latest` (gzip), `multi:latest` (an
    /// amd64 + arm64 OCI index), `docker:latest` (the same two as a Docker schema 2 manifest
    /// list) and `zstd:latest` (busybox with a zstd layer).
    pub fn seed_samples(&self) -> Result<Seeded> {
        let scratch = self.scratch();
        let busybox = samples::busybox(&scratch, Compression::Gzip)?;
        self.seed_image(&busybox, "busybox:latest")?;
        let (amd64, arm64) = samples::multi_platform(&scratch)?;
        let index = self.seed_index(&[&amd64, &arm64], "multi:latest")?;
        self.seed_docker_list(&[&amd64, &arm64], "docker:latest")?;
        let zstd = samples::busybox(&scratch, Compression::Zstd)?;
        self.seed_image(&zstd, "zstd:latest")?;
        Ok(Seeded {
            busybox,
            amd64,
            arm64,
            index,
            zstd,
        })
    }

    fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        self.stop();
    }
}

/// What [`Registry::seed_samples`] put in the registry.
#[derive(Debug, Clone)]
pub struct Seeded {
    /// `busybox:latest`.
    pub busybox: Image,
    /// The linux/amd64 image of `multi:latest`.
    pub amd64: Image,
    /// The linux/arm64 image of `multi:latest`.
    pub arm64: Image,
    /// The index `multi:latest` names.
    pub index: Blob,
    /// `zstd:latest`.
    pub zstd: Image,
}

fn write_htpasswd(path: &Path, login: &Login) -> Result<()> {
    let mut command = Command::new("htpasswd");
    command.args(["-Bbn", &login.username, &login.password]);
    let line = run(command)?;
    fs::write(path, line).map_err(FixtureError::io("writing htpasswd"))
}

/// Runs `command`; returns its stdout, or fails with its stderr.
fn run(mut command: Command) -> Result<String> {
    let description = format!("{command:?}");
    let out = command
        .stdin(Stdio::null())
        .output()
        .map_err(FixtureError::io(format!("running {description}")))?;
    if !out.status.success() {
        return Err(FixtureError::Unexpected(format!(
            "{description} exited with {}: {}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        )));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// A loopback port nothing listens on right now.
pub fn free_port() -> Result<u16> {
    let listener =
        TcpListener::bind("127.0.0.1:0").map_err(FixtureError::io("probing for a free port"))?;
    let addr = listener
        .local_addr()
        .map_err(FixtureError::io("reading the probe's port"))?;
    Ok(addr.port())
}

/// The status code of `METHOD path` on `host` (HTTP/1.1, no body, connection closed).
pub fn http_status(host: &str, method: &str, path: &str) -> std::io::Result<u16> {
    let response = http_request(host, &format!("{method} {path}"), &[])?;
    Ok(response.status)
}

/// A response read by [`http_request`].
#[derive(Debug, Clone)]
pub struct HttpResponse {
    /// The status code.
    pub status: u16,
    /// Header lines as (lower-case name, value).
    pub headers: Vec<(String, String)>,
    /// Everything after the header, until the server closed the connection.
    pub body: Vec<u8>,
}

impl HttpResponse {
    /// The first header named `name` (lower case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// Sends `<request_line> HTTP/1.1` with `headers` to `host` and reads the whole response (the
/// connection is closed by `Connection: close`). Enough of a client to probe the fixtures.
pub fn http_request(
    host: &str,
    request_line: &str,
    headers: &[(&str, &str)],
) -> std::io::Result<HttpResponse> {
    let mut stream = TcpStream::connect(host)?;
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    let mut request = format!("{request_line} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n");
    for (name, value) in headers {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    request.push_str("\r\n");
    stream.write_all(request.as_bytes())?;
    let mut raw = Vec::new();
    // A server that dies mid-body resets the connection: keep what arrived.
    if let Err(err) = stream.read_to_end(&mut raw) {
        if raw.is_empty() {
            return Err(err);
        }
    }
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or_else(|| std::io::Error::other("no HTTP header in the response"))?;
    let head = String::from_utf8_lossy(&raw[..split]).into_owned();
    let mut lines = head.lines();
    let status = lines
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| std::io::Error::other(format!("bad status line in {head:?}")))?;
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    Ok(HttpResponse {
        status,
        headers,
        body: raw[split + 4..].to_vec(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    #[test]
    fn seeds_samples_that_skopeo_reads_back() {
        let registry = Registry::start().unwrap();
        let seeded = registry.seed_samples().unwrap();

        let raw = registry
            .skopeo_inspect("busybox:latest", &["--raw", "--config"])
            .unwrap();
        let config: Value = serde_json::from_str(&raw).unwrap();
        assert_eq!(
            config["rootfs"]["diff_ids"][0],
            seeded.busybox.layers[0].diff_id.as_str()
        );

        let index_raw = registry.skopeo_inspect("multi:latest", &["--raw"]).unwrap();
        // `--raw` prints the bytes as stored: their digest is the index digest.
        assert_eq!(
            crate::oci_layout::sha256_digest(index_raw.as_bytes()),
            seeded.index.digest
        );
        let index: Value = serde_json::from_str(&index_raw).unwrap();
        let arches: Vec<&str> = index["manifests"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["platform"]["architecture"].as_str().unwrap())
            .collect();
        assert_eq!(arches, ["amd64", "arm64"]);
        let arm = registry
            .skopeo_inspect(
                &format!("multi@{}", seeded.arm64.manifest.digest),
                &["--raw", "--config"],
            )
            .unwrap();
        assert!(arm.contains(&seeded.arm64.layers[1].diff_id), "{arm}");

        let list: Value = serde_json::from_str(
            &registry
                .skopeo_inspect("docker:latest", &["--raw"])
                .unwrap(),
        )
        .unwrap();
        assert_eq!(
            list["mediaType"],
            "application/vnd.docker.distribution.manifest.list.v2+json"
        );
        assert_eq!(
            list["manifests"][0]["mediaType"],
            "application/vnd.docker.distribution.manifest.v2+json"
        );

        let zstd: Value =
            serde_json::from_str(&registry.skopeo_inspect("zstd:latest", &["--raw"]).unwrap())
                .unwrap();
        assert_eq!(
            zstd["layers"][0]["mediaType"],
            "application/vnd.oci.image.layer.v1.tar+zstd"
        );
        assert_eq!(
            zstd["layers"][0]["digest"],
            seeded.zstd.layers[0].blob.digest.as_str()
        );

        let out = registry.scratch().join("out");
        registry.skopeo_pull("busybox:latest", &out, "x").unwrap();
        assert!(out.join("index.json").exists());
    }

    #[test]
    fn auth_registry_refuses_anonymous_and_takes_its_login() {
        let login = Login::new("berth", "s3cret");
        let registry = Registry::start_with_auth(login).unwrap();
        assert_eq!(http_status(&registry.host(), "GET", "/v2/").unwrap(), 401);
        let layer = crate::oci_layout::Layer::from_tar(
            &crate::oci_layout::tar_of_files(&[("f", b"x")]).unwrap(),
            Compression::Gzip,
        )
        .unwrap();
        let image = Image::build(vec![layer], crate::oci_layout::Platform::AMD64, &["true"]);
        registry.seed_image(&image, "private:v1").unwrap();
        let raw = registry.skopeo_inspect("private:v1", &["--raw"]).unwrap();
        assert!(raw.contains(&image.config.digest), "{raw}");
        let log = registry.log();
        assert!(log.contains("PUT /v2/private/manifests/v1"), "{log}");
    }
}
