//! A test-only registry for the cases a real one never produces: a small HTTP/1.1 server on
//! loopback that serves the v2 pull API (manifests and blobs, by tag or digest) for the content a
//! test gives it, and misbehaves on request: wrong or truncated blob bytes, dying mid-blob,
//! redirecting blob downloads to a second "storage" port, bearer-token auth with a token
//! endpoint. Every request is recorded so tests can check what a client asked for.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::thread::{self, JoinHandle};
use std::time::Duration;

use base64::Engine;

use crate::error::{FixtureError, Result};
use crate::oci_layout::{index_of, sha256_digest, Blob, Image};
use crate::registry::Login;

/// The `service` of the bearer challenge.
pub const SERVICE: &str = "fake-registry";
/// The message the token endpoint refuses bad credentials with.
pub const BAD_CREDENTIALS_MESSAGE: &str = "fake-registry: incorrect username or password";

/// How a blob download goes wrong.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BlobFault {
    /// The right length, but one byte flipped: the digest does not match.
    WrongBytes,
    /// `Content-Length` announces the whole blob, half is sent, then the connection closes.
    Truncated,
    /// `Content-Length` announces and the body carries only the first half (a response that
    /// looks complete, with content that does not match the digest or size).
    Short,
    /// Half the blob is sent, then the whole server dies: the connection closes and every
    /// later connection is refused.
    Die,
}

/// One request the fake registry received.
#[derive(Debug, Clone)]
pub struct RecordedRequest {
    /// `GET`, `HEAD`, ….
    pub method: String,
    /// The path with its query string.
    pub target: String,
    /// Header lines as (lower-case name, value).
    pub headers: Vec<(String, String)>,
    /// Which listener got it: false for the registry, true for the blob storage.
    pub storage: bool,
}

impl RecordedRequest {
    /// The first header named `name` (lower case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

#[derive(Debug, Clone)]
struct Manifest {
    media_type: String,
    digest: String,
    bytes: Vec<u8>,
}

#[derive(Default)]
struct State {
    /// Keyed by (repository, tag or digest).
    manifests: HashMap<(String, String), Manifest>,
    blobs: HashMap<String, Vec<u8>>,
    faults: HashMap<String, BlobFault>,
    redirect_blobs: bool,
    bearer: Option<Login>,
    requests: Vec<RecordedRequest>,
}

struct Shared {
    state: Mutex<State>,
    dead: AtomicBool,
    registry_addr: SocketAddr,
    storage_addr: SocketAddr,
}

impl Shared {
    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// A running fake registry. Dropping it stops its listeners.
pub struct FakeRegistry {
    shared: Arc<Shared>,
    listeners: Vec<JoinHandle<()>>,
}

impl FakeRegistry {
    /// Starts the registry and its blob storage on two free loopback ports.
    pub fn start() -> Result<Self> {
        let bind = || {
            let listener = TcpListener::bind("127.0.0.1:0")
                .map_err(FixtureError::io("binding the fake registry"))?;
            listener
                .set_nonblocking(true)
                .map_err(FixtureError::io("making the listener non-blocking"))?;
            let addr = listener
                .local_addr()
                .map_err(FixtureError::io("reading the fake registry's address"))?;
            Ok::<_, FixtureError>((listener, addr))
        };
        let (registry, registry_addr) = bind()?;
        let (storage, storage_addr) = bind()?;
        let shared = Arc::new(Shared {
            state: Mutex::new(State::default()),
            dead: AtomicBool::new(false),
            registry_addr,
            storage_addr,
        });
        let listeners = vec![
            spawn_listener(registry, Arc::clone(&shared), false),
            spawn_listener(storage, Arc::clone(&shared), true),
        ];
        Ok(Self { shared, listeners })
    }

    /// `127.0.0.1:PORT`, the registry part of references to it.
    pub fn host(&self) -> String {
        self.shared.registry_addr.to_string()
    }

    /// `127.0.0.1:PORT/<path>`.
    pub fn reference(&self, path: &str) -> String {
        format!("{}/{path}", self.host())
    }

    /// The blob storage's `127.0.0.1:PORT`, where redirected blob downloads go.
    pub fn storage_host(&self) -> String {
        self.shared.storage_addr.to_string()
    }

    /// Serves `bytes` as a manifest of `repo` under `tag` (and under its digest) with
    /// `media_type` as Content-Type. Returns its digest.
    pub fn add_manifest(&self, repo: &str, tag: &str, media_type: &str, bytes: &[u8]) -> String {
        let manifest = Manifest {
            media_type: media_type.to_owned(),
            digest: sha256_digest(bytes),
            bytes: bytes.to_vec(),
        };
        let digest = manifest.digest.clone();
        let mut state = self.shared.state();
        state
            .manifests
            .insert((repo.to_owned(), digest.clone()), manifest.clone());
        state
            .manifests
            .insert((repo.to_owned(), tag.to_owned()), manifest);
        digest
    }

    /// Serves a blob (of any repository).
    pub fn add_blob(&self, blob: &Blob) {
        self.shared
            .state()
            .blobs
            .insert(blob.digest.clone(), blob.bytes.clone());
    }

    /// Serves `image` (manifest and blobs) as `repo:tag`. Returns the manifest digest.
    pub fn add_image(&self, repo: &str, tag: &str, image: &Image) -> String {
        self.add_image_blobs(image);
        self.add_manifest(repo, tag, &image.manifest.media_type, &image.manifest.bytes)
    }

    /// Serves an index over `images` (their manifests reachable by digest) as `repo:tag`.
    /// Returns the index digest.
    pub fn add_index(&self, repo: &str, tag: &str, images: &[&Image]) -> String {
        for image in images {
            self.add_image_blobs(image);
            let manifest = &image.manifest;
            self.add_manifest(
                repo,
                &manifest.digest,
                &manifest.media_type,
                &manifest.bytes,
            );
        }
        let index = index_of(images);
        self.add_manifest(repo, tag, &index.media_type, &index.bytes)
    }

    fn add_image_blobs(&self, image: &Image) {
        for blob in image.blobs() {
            self.add_blob(blob);
        }
    }

    /// Makes downloads of the blob `digest` go wrong as `fault` says.
    pub fn set_fault(&self, digest: &str, fault: BlobFault) {
        self.shared.state().faults.insert(digest.to_owned(), fault);
    }

    /// Answers blob GETs with a 307 to the storage port, as registries backed by object
    /// storage do.
    pub fn redirect_blobs(&self) {
        self.shared.state().redirect_blobs = true;
    }

    /// Demands a bearer token for everything under `/v2/`, issued by `/token` to `login`
    /// (HTTP basic) for the scopes asked.
    pub fn require_bearer(&self, login: Login) {
        self.shared.state().bearer = Some(login);
    }

    /// The token endpoint's URL (the challenge's realm).
    pub fn realm(&self) -> String {
        format!("http://{}/token", self.host())
    }

    /// Every request so far, in order.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.shared.state().requests.clone()
    }

    /// Whether a [`BlobFault::Die`] has killed the server.
    pub fn is_dead(&self) -> bool {
        self.shared.dead.load(Ordering::SeqCst)
    }
}

impl Drop for FakeRegistry {
    fn drop(&mut self) {
        self.shared.dead.store(true, Ordering::SeqCst);
        for listener in self.listeners.drain(..) {
            let _ = listener.join();
        }
    }
}

/// Accepts connections until the server dies; each connection gets a thread.
fn spawn_listener(listener: TcpListener, shared: Arc<Shared>, storage: bool) -> JoinHandle<()> {
    thread::spawn(move || {
        while !shared.dead.load(Ordering::SeqCst) {
            match listener.accept() {
                Ok((stream, _)) => {
                    let shared = Arc::clone(&shared);
                    thread::spawn(move || serve_connection(stream, &shared, storage));
                }
                Err(_) => thread::sleep(Duration::from_millis(5)),
            }
        }
        // Dropping the listener closes the port: later connections are refused.
    })
}

/// What to do with the connection after a response.
enum After {
    KeepAlive,
    Close,
}

/// Serves requests on one connection (keep-alive) until the client or a fault closes it.
fn serve_connection(stream: TcpStream, shared: &Shared, storage: bool) {
    let _ = stream.set_nonblocking(false);
    let _ = stream.set_read_timeout(Some(Duration::from_secs(30)));
    let Ok(read_half) = stream.try_clone() else {
        return;
    };
    let mut reader = BufReader::new(read_half);
    let mut writer = stream;
    while !shared.dead.load(Ordering::SeqCst) {
        let Some(request) = read_request(&mut reader, storage) else {
            return;
        };
        // A dead server answers nothing, not even on connections a client kept alive.
        if shared.dead.load(Ordering::SeqCst) {
            return;
        }
        let wants_close = request
            .header("connection")
            .is_some_and(|v| v.eq_ignore_ascii_case("close"));
        shared.state().requests.push(request.clone());
        match respond(&request, shared, &mut writer) {
            Ok(After::KeepAlive) if !wants_close => {}
            _ => return,
        }
    }
}

/// Reads one request head (and skips its body). `None` when the connection ends.
fn read_request(reader: &mut impl BufRead, storage: bool) -> Option<RecordedRequest> {
    let mut line = String::new();
    if reader.read_line(&mut line).ok()? == 0 {
        return None;
    }
    let mut parts = line.split_whitespace();
    let method = parts.next()?.to_owned();
    let target = parts.next()?.to_owned();
    let mut headers = Vec::new();
    loop {
        let mut header = String::new();
        if reader.read_line(&mut header).ok()? == 0 {
            return None;
        }
        let header = header.trim_end();
        if header.is_empty() {
            break;
        }
        if let Some((name, value)) = header.split_once(':') {
            headers.push((name.trim().to_ascii_lowercase(), value.trim().to_owned()));
        }
    }
    let request = RecordedRequest {
        method,
        target,
        headers,
        storage,
    };
    let body_len: u64 = request
        .header("content-length")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    std::io::copy(&mut reader.take(body_len), &mut std::io::sink()).ok()?;
    Some(request)
}

/// A response about to be written.
struct Response {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Response {
    fn new(status: u16) -> Self {
        Self {
            status,
            headers: Vec::new(),
            body: Vec::new(),
        }
    }

    fn header(mut self, name: &str, value: impl Into<String>) -> Self {
        self.headers.push((name.to_owned(), value.into()));
        self
    }

    fn json(self, body: serde_json::Value) -> Self {
        let mut response = self.header("Content-Type", "application/json");
        response.body = body.to_string().into_bytes();
        response
    }

    fn error(status: u16, code: &str, message: &str) -> Self {
        Self::new(status).json(serde_json::json!({
            "errors": [{"code": code, "message": message, "detail": null}]
        }))
    }

    fn head(&self, content_length: usize) -> Vec<u8> {
        let reason = match self.status {
            200 => "OK",
            307 => "Temporary Redirect",
            401 => "Unauthorized",
            404 => "Not Found",
            _ => "Status",
        };
        let mut head = format!("HTTP/1.1 {} {reason}\r\n", self.status);
        for (name, value) in &self.headers {
            head.push_str(&format!("{name}: {value}\r\n"));
        }
        head.push_str(&format!("Content-Length: {content_length}\r\n\r\n"));
        head.into_bytes()
    }
}

fn respond(
    request: &RecordedRequest,
    shared: &Shared,
    out: &mut TcpStream,
) -> std::io::Result<After> {
    let head_only = request.method == "HEAD";
    let (path, query) = request
        .target
        .split_once('?')
        .unwrap_or((request.target.as_str(), ""));
    if request.storage {
        let digest = path.trim_start_matches("/storage/");
        return send_blob(shared, digest, head_only, out);
    }
    if path == "/token" {
        return write(out, token(request, query, shared), head_only);
    }
    let Some(api) = path.strip_prefix("/v2/") else {
        return write(
            out,
            Response::error(404, "NOT_FOUND", "no such endpoint"),
            head_only,
        );
    };
    if let Some(challenge) = bearer_challenge(request, api, shared) {
        return write(out, challenge, head_only);
    }
    if api.is_empty() {
        return write(
            out,
            Response::new(200).json(serde_json::json!({})),
            head_only,
        );
    }
    if let Some((repo, reference)) = api.rsplit_once("/manifests/") {
        let manifest = shared
            .state()
            .manifests
            .get(&(repo.to_owned(), reference.to_owned()))
            .cloned();
        let response = match manifest {
            Some(m) => {
                let mut response = Response::new(200)
                    .header("Content-Type", m.media_type)
                    .header("Docker-Content-Digest", m.digest);
                response.body = m.bytes;
                response
            }
            None => Response::error(404, "MANIFEST_UNKNOWN", "manifest unknown"),
        };
        return write(out, response, head_only);
    }
    if let Some((_, digest)) = api.rsplit_once("/blobs/") {
        if shared.state().redirect_blobs && !head_only {
            let location = format!(
                "http://{}/storage/{digest}?signature=fake",
                shared.storage_addr
            );
            return write(out, Response::new(307).header("Location", location), false);
        }
        return send_blob(shared, digest, head_only, out);
    }
    write(
        out,
        Response::error(404, "NOT_FOUND", "no such endpoint"),
        head_only,
    )
}

/// The 401 for a request without the right bearer token, when bearer auth is on.
fn bearer_challenge(request: &RecordedRequest, api: &str, shared: &Shared) -> Option<Response> {
    let login = shared.state().bearer.clone()?;
    if request.header("authorization") == Some(format!("Bearer {}", token_for(&login)).as_str()) {
        return None;
    }
    let repo = ["/manifests/", "/blobs/"]
        .iter()
        .find_map(|sep| api.rsplit_once(sep).map(|(repo, _)| repo));
    let mut challenge = format!(
        "Bearer realm=\"http://{}/token\",service=\"{SERVICE}\"",
        shared.registry_addr
    );
    if let Some(repo) = repo {
        challenge.push_str(&format!(",scope=\"repository:{repo}:pull\""));
    }
    Some(
        Response::error(401, "UNAUTHORIZED", "authentication required")
            .header("WWW-Authenticate", challenge),
    )
}

/// The token `/token` issues to `login`.
fn token_for(login: &Login) -> String {
    format!("token-of-{}", login.username)
}

/// The token endpoint: HTTP basic credentials in, `{"token": …}` out.
fn token(request: &RecordedRequest, query: &str, shared: &Shared) -> Response {
    let Some(login) = shared.state().bearer.clone() else {
        return Response::error(404, "NOT_FOUND", "no token endpoint");
    };
    let expected = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD
            .encode(format!("{}:{}", login.username, login.password))
    );
    if request.header("authorization") != Some(expected.as_str()) {
        return Response::error(401, "UNAUTHORIZED", BAD_CREDENTIALS_MESSAGE);
    }
    if !query.contains(&format!("service={SERVICE}")) {
        return Response::error(400, "DENIED", "the token request names no service");
    }
    let token = token_for(&login);
    Response::new(200).json(serde_json::json!({
        "token": token, "access_token": token, "expires_in": 300
    }))
}

fn send_blob(
    shared: &Shared,
    digest: &str,
    head_only: bool,
    out: &mut TcpStream,
) -> std::io::Result<After> {
    let (bytes, fault) = {
        let state = shared.state();
        (
            state.blobs.get(digest).cloned(),
            state.faults.get(digest).copied(),
        )
    };
    let Some(mut bytes) = bytes else {
        return write(
            out,
            Response::error(404, "BLOB_UNKNOWN", "blob unknown"),
            head_only,
        );
    };
    let response = Response::new(200)
        .header("Content-Type", "application/octet-stream")
        .header("Docker-Content-Digest", digest);
    if head_only {
        out.write_all(&response.head(bytes.len()))?;
        return Ok(After::KeepAlive);
    }
    let half = bytes.len() / 2;
    match fault {
        None => {
            out.write_all(&response.head(bytes.len()))?;
            out.write_all(&bytes)?;
            Ok(After::KeepAlive)
        }
        Some(BlobFault::WrongBytes) => {
            if let Some(last) = bytes.last_mut() {
                *last ^= 0xff;
            }
            out.write_all(&response.head(bytes.len()))?;
            out.write_all(&bytes)?;
            Ok(After::KeepAlive)
        }
        Some(BlobFault::Short) => {
            out.write_all(&response.head(half))?;
            out.write_all(&bytes[..half])?;
            Ok(After::KeepAlive)
        }
        Some(BlobFault::Truncated) => {
            out.write_all(&response.head(bytes.len()))?;
            out.write_all(&bytes[..half])?;
            out.flush()?;
            Ok(After::Close)
        }
        Some(BlobFault::Die) => {
            out.write_all(&response.head(bytes.len()))?;
            out.write_all(&bytes[..half])?;
            out.flush()?;
            shared.dead.store(true, Ordering::SeqCst);
            let _ = out.shutdown(std::net::Shutdown::Both);
            Ok(After::Close)
        }
    }
}

fn write(out: &mut TcpStream, response: Response, head_only: bool) -> std::io::Result<After> {
    out.write_all(&response.head(response.body.len()))?;
    if !head_only {
        out.write_all(&response.body)?;
    }
    Ok(After::KeepAlive)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::oci_layout::{tar_of_files, Compression, Layer, Platform};
    use crate::registry::http_request;

    fn small_image(arch: Platform) -> Image {
        let layer = Layer::from_tar(
            &tar_of_files(&[("hello", b"hello world, a small layer")]).unwrap(),
            Compression::Gzip,
        )
        .unwrap();
        Image::build(vec![layer], arch, &["true"])
    }

    fn get(host: &str, target: &str, headers: &[(&str, &str)]) -> crate::registry::HttpResponse {
        http_request(host, &format!("GET {target}"), headers).unwrap()
    }

    #[test]
    fn serves_manifests_and_blobs_and_records_requests() {
        let fake = FakeRegistry::start().unwrap();
        let image = small_image(Platform::AMD64);
        let digest = fake.add_image("app", "v1", &image);
        assert_eq!(digest, image.manifest.digest);
        let by_tag = get(&fake.host(), "/v2/app/manifests/v1", &[]);
        assert_eq!(by_tag.status, 200);
        assert_eq!(by_tag.body, image.manifest.bytes);
        assert_eq!(
            by_tag.header("content-type"),
            Some(image.manifest.media_type.as_str())
        );
        assert_eq!(
            by_tag.header("docker-content-digest"),
            Some(digest.as_str())
        );
        let layer = &image.layers[0].blob;
        let blob = get(
            &fake.host(),
            &format!("/v2/app/blobs/{}", layer.digest),
            &[],
        );
        assert_eq!(sha256_digest(&blob.body), layer.digest);
        assert_eq!(get(&fake.host(), "/v2/app/manifests/nope", &[]).status, 404);
        let targets: Vec<String> = fake.requests().into_iter().map(|r| r.target).collect();
        assert_eq!(targets[0], "/v2/app/manifests/v1");
        assert_eq!(targets.len(), 3);

        let amd = small_image(Platform::AMD64);
        let arm = small_image(Platform::ARM64);
        let index = fake.add_index("multi", "latest", &[&amd, &arm]);
        let served = get(&fake.host(), "/v2/multi/manifests/latest", &[]);
        assert_eq!(sha256_digest(&served.body), index);
        let arm_manifest = get(
            &fake.host(),
            &format!("/v2/multi/manifests/{}", arm.manifest.digest),
            &[],
        );
        assert_eq!(arm_manifest.body, arm.manifest.bytes);
    }

    #[test]
    fn blob_faults_do_what_they_say() {
        let fake = FakeRegistry::start().unwrap();
        let image = small_image(Platform::AMD64);
        fake.add_image("app", "v1", &image);
        let layer = image.layers[0].blob.clone();
        let target = format!("/v2/app/blobs/{}", layer.digest);

        fake.set_fault(&layer.digest, BlobFault::WrongBytes);
        let wrong = get(&fake.host(), &target, &[]);
        assert_eq!(wrong.body.len(), layer.bytes.len());
        assert_ne!(sha256_digest(&wrong.body), layer.digest);

        fake.set_fault(&layer.digest, BlobFault::Short);
        let short = get(&fake.host(), &target, &[]);
        assert_eq!(
            short.header("content-length").unwrap(),
            (layer.bytes.len() / 2).to_string()
        );
        assert_eq!(short.body.len(), layer.bytes.len() / 2);

        fake.set_fault(&layer.digest, BlobFault::Truncated);
        let truncated = get(&fake.host(), &target, &[]);
        assert_eq!(
            truncated.header("content-length").unwrap(),
            layer.bytes.len().to_string()
        );
        assert_eq!(truncated.body.len(), layer.bytes.len() / 2);
        assert!(!fake.is_dead());

        fake.set_fault(&layer.digest, BlobFault::Die);
        let died = get(&fake.host(), &target, &[]);
        assert_eq!(died.body.len(), layer.bytes.len() / 2);
        assert!(fake.is_dead());
        thread::sleep(Duration::from_millis(50));
        assert!(
            TcpStream::connect(fake.host()).is_err(),
            "the port is closed"
        );
    }

    #[test]
    fn redirects_blobs_to_storage() {
        let fake = FakeRegistry::start().unwrap();
        let image = small_image(Platform::AMD64);
        fake.add_image("app", "v1", &image);
        fake.redirect_blobs();
        let layer = &image.layers[0].blob;
        let redirect = get(
            &fake.host(),
            &format!("/v2/app/blobs/{}", layer.digest),
            &[],
        );
        assert_eq!(redirect.status, 307);
        let location = redirect.header("location").unwrap();
        let rest = location.strip_prefix("http://").unwrap();
        let (host, target) = rest.split_at(rest.find('/').unwrap());
        assert_eq!(host, fake.storage_host());
        let blob = get(host, target, &[]);
        assert_eq!(blob.body, layer.bytes);
        assert!(fake.requests().last().unwrap().storage);
    }

    /// `skopeo copy docker://FAKE/path oci:DIR`: a real client against the fake.
    fn skopeo_copy(fake: &FakeRegistry, path: &str, creds: Option<&str>) -> std::process::Output {
        let dir = tempfile::tempdir().unwrap();
        let mut command = std::process::Command::new("skopeo");
        command.args(["--insecure-policy", "copy", "--src-tls-verify=false"]);
        if let Some(creds) = creds {
            command.args(["--src-creds", creds]);
        }
        command
            .arg(format!("docker://{}", fake.reference(path)))
            .arg(format!("oci:{}:x", dir.path().join("out").display()));
        command.output().unwrap()
    }

    #[test]
    fn skopeo_pulls_through_redirects_and_bearer_auth() {
        let fake = FakeRegistry::start().unwrap();
        let amd = small_image(Platform::AMD64);
        let arm = small_image(Platform::ARM64);
        fake.add_index("team/app", "v1", &[&amd, &arm]);
        fake.redirect_blobs();
        fake.require_bearer(Login::new("alice", "pw"));

        let out = skopeo_copy(&fake, "team/app:v1", Some("alice:pw"));
        assert!(out.status.success(), "{out:?}");
        let requests = fake.requests();
        let token = requests
            .iter()
            .find(|r| r.target.starts_with("/token") && r.header("authorization").is_some())
            .unwrap();
        assert!(
            token
                .target
                .contains("scope=repository%3Ateam%2Fapp%3Apull")
                || token.target.contains("scope=repository:team/app:pull"),
            "{}",
            token.target
        );
        let layer = &amd.layers[0].blob.digest;
        assert!(
            requests
                .iter()
                .any(|r| r.storage && r.method == "GET" && r.target.contains(layer.as_str())),
            "the layer came from storage: {requests:?}"
        );

        let refused = skopeo_copy(&fake, "team/app:v1", Some("alice:wrong"));
        assert!(!refused.status.success());
        let stderr = String::from_utf8_lossy(&refused.stderr);
        assert!(
            stderr.contains("401") || stderr.contains("unauthorized"),
            "{stderr}"
        );
    }

    #[test]
    fn skopeo_refuses_a_blob_with_wrong_bytes() {
        let fake = FakeRegistry::start().unwrap();
        let image = small_image(Platform::AMD64);
        fake.add_image("app", "v1", &image);
        fake.set_fault(&image.layers[0].blob.digest, BlobFault::WrongBytes);
        let out = skopeo_copy(&fake, "app:v1", None);
        assert!(!out.status.success(), "{out:?}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            stderr.to_lowercase().contains("digest did not match"),
            "{stderr}"
        );
    }

    #[test]
    fn bearer_auth_challenges_and_issues_tokens() {
        let fake = FakeRegistry::start().unwrap();
        let image = small_image(Platform::AMD64);
        fake.add_image("team/app", "v1", &image);
        fake.require_bearer(Login::new("alice", "pw"));

        let challenged = get(&fake.host(), "/v2/team/app/manifests/v1", &[]);
        assert_eq!(challenged.status, 401);
        let challenge = challenged.header("www-authenticate").unwrap();
        assert_eq!(
            challenge,
            format!(
                "Bearer realm=\"{}\",service=\"{SERVICE}\",scope=\"repository:team/app:pull\"",
                fake.realm()
            )
        );

        let token_target = format!("/token?service={SERVICE}&scope=repository:team/app:pull");
        let basic = |user: &str, pw: &str| {
            format!(
                "Basic {}",
                base64::engine::general_purpose::STANDARD.encode(format!("{user}:{pw}"))
            )
        };
        let refused = get(
            &fake.host(),
            &token_target,
            &[("Authorization", &basic("alice", "wrong"))],
        );
        assert_eq!(refused.status, 401);
        assert!(String::from_utf8_lossy(&refused.body).contains(BAD_CREDENTIALS_MESSAGE));

        let issued = get(
            &fake.host(),
            &token_target,
            &[("Authorization", &basic("alice", "pw"))],
        );
        assert_eq!(issued.status, 200);
        let token: serde_json::Value = serde_json::from_slice(&issued.body).unwrap();
        let bearer = format!("Bearer {}", token["token"].as_str().unwrap());
        let manifest = get(
            &fake.host(),
            "/v2/team/app/manifests/v1",
            &[("Authorization", &bearer)],
        );
        assert_eq!(manifest.status, 200);
        let token_request = fake
            .requests()
            .into_iter()
            .find(|r| {
                r.target.starts_with("/token")
                    && r.header("authorization") == Some(basic("alice", "pw").as_str())
            })
            .unwrap();
        assert!(token_request
            .target
            .contains("scope=repository:team/app:pull"));
    }
}
