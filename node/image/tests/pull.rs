//! Pulls from a real `docker-registry` seeded by `skopeo` with images Berth did not make.

#![allow(clippy::unwrap_used)]

mod registry;

use std::sync::Arc;

use berth_image::registry::{
    Credentials, LayerProgress, LayerState, Platform, PullOutcome, PullRequest, Registry,
    RegistryConfig,
};
use berth_image::{ImageError, ImageStore, Reference};
use registry::{Compress, Layer, Layout, TestRegistry};

struct Store {
    dir: tempfile::TempDir,
    images: Arc<ImageStore>,
}

fn store() -> Store {
    let dir = tempfile::tempdir().unwrap();
    let db = Arc::new(redb::Database::create(dir.path().join("db")).unwrap());
    let images = Arc::new(ImageStore::open(dir.path(), db).unwrap());
    Store { dir, images }
}

fn request(reference: &str, platform: Option<&str>) -> PullRequest {
    PullRequest {
        reference: Reference::parse(reference).unwrap(),
        credentials: Credentials::default(),
        platform: platform.map(|p| Platform::parse(p).unwrap()),
    }
}

async fn pull(
    registry: &Registry,
    store: &Store,
    request: PullRequest,
) -> (Result<PullOutcome, ImageError>, Vec<LayerProgress>) {
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let result = registry.pull(&store.images, request, tx).await;
    let mut events = Vec::new();
    while let Ok(e) = rx.try_recv() {
        events.push(e);
    }
    (result, events)
}

fn final_states(events: &[LayerProgress]) -> Vec<(String, LayerState)> {
    let mut last: Vec<(String, LayerState)> = Vec::new();
    for e in events {
        match last.iter_mut().find(|(d, _)| *d == e.digest) {
            Some(entry) => entry.1 = e.state,
            None => last.push((e.digest.clone(), e.state)),
        }
    }
    last
}

fn files_in(dir: &std::path::Path) -> usize {
    std::fs::read_dir(dir).map_or(0, |d| d.count())
}

#[tokio::test(flavor = "multi_thread")]
async fn pull_by_tag_and_digest_with_gzip_and_zstd_layers() {
    let registry = TestRegistry::start();
    let mut layout = Layout::new();
    let built = layout.image(
        "amd64",
        &[
            Layer::busybox(),
            Layer::files(&[("etc/motd", b"hello from zstd\n", 0o644)], Compress::Zstd),
            Layer::files(&[("etc/plain", b"plain\n", 0o644)], Compress::None),
        ],
        &["/bin/busybox", "cat", "/etc/motd"],
    );
    layout.tag(&built.descriptor, "v1");
    registry.seed(&layout, "v1", "app");
    let store = store();
    let client = Registry::new(RegistryConfig::default());
    let reference = format!("{}/app:v1", registry.host);

    let (result, events) = pull(&client, &store, request(&reference, None)).await;
    let outcome = result.unwrap();
    assert_eq!(
        outcome.image.id, built.config_digest,
        "the ID is the config digest"
    );
    assert!(!outcome.up_to_date);
    assert_eq!(outcome.image.repo_tags, std::slice::from_ref(&reference));
    let manifest_digest = registry.manifest_digest("app", "v1");
    let manifest_digest = manifest_digest.as_str();
    assert_eq!(outcome.digest, manifest_digest);
    assert_eq!(
        outcome.image.repo_digests,
        [format!("{}/app@{manifest_digest}", registry.host)]
    );
    assert_eq!(
        outcome.image.config.cmd,
        ["/bin/busybox", "cat", "/etc/motd"]
    );
    let states = final_states(&events);
    assert_eq!(states.len(), 3, "{events:?}");
    assert!(
        states.iter().all(|(_, s)| *s == LayerState::Complete),
        "{states:?}"
    );
    let dirs = store.images.layer_dirs(&outcome.image.id).unwrap();
    assert_eq!(dirs.len(), 3);
    assert_eq!(
        std::fs::read(dirs[1].join("etc/motd")).unwrap(),
        b"hello from zstd\n"
    );
    assert_eq!(
        std::fs::read(dirs[2].join("bin/busybox")).unwrap(),
        std::fs::read("/bin/busybox").unwrap()
    );

    // Again: nothing to do.
    let (result, events) = pull(&client, &store, request(&reference, None)).await;
    let again = result.unwrap();
    assert!(again.up_to_date);
    assert_eq!(again.image.id, outcome.image.id);
    assert!(final_states(&events)
        .iter()
        .all(|(_, s)| *s == LayerState::AlreadyExists));

    // By digest: the same image, no new tag.
    let by_digest = format!("{}/app@{manifest_digest}", registry.host);
    let (result, _) = pull(&client, &store, request(&by_digest, None)).await;
    let pinned = result.unwrap();
    assert_eq!(pinned.image.id, outcome.image.id);
    assert!(pinned.up_to_date);
    assert_eq!(store.images.get(&by_digest).unwrap().id, outcome.image.id);

    // For another platform: refused, as the image is for amd64 only.
    let (result, _) = pull(&client, &store, request(&reference, Some("linux/s390x"))).await;
    let err = result.unwrap_err();
    assert!(matches!(err, ImageError::NotFound(_)), "{err}");
    assert!(
        err.to_string()
            .contains("wanted linux/s390x, actual: linux/amd64"),
        "{err}"
    );

    // A digest the registry does not have, and a tag it does not have.
    let missing = format!("{}/app@sha256:{}", registry.host, "0".repeat(64));
    let (result, _) = pull(&client, &store, request(&missing, None)).await;
    assert!(matches!(result, Err(ImageError::NotFound(_))), "{result:?}");
    let (result, _) = pull(
        &client,
        &store,
        request(&format!("{}/app:nope", registry.host), None),
    )
    .await;
    assert!(matches!(result, Err(ImageError::NotFound(_))), "{result:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn basic_auth_registries_take_the_right_password_only() {
    let registry = TestRegistry::with_basic_auth("berth", "s3cret");
    let mut layout = Layout::new();
    let built = layout.image(
        "amd64",
        &[Layer::files(&[("etc/a", b"a", 0o644)], Compress::Gzip)],
        &["/a"],
    );
    layout.tag(&built.descriptor, "v1");
    registry.seed_as(&layout, "v1", "private", Some("berth:s3cret"));
    let client = Registry::new(RegistryConfig::default());
    let reference = format!("{}/private:v1", registry.host);
    let with = |password: &str| {
        let mut r = request(&reference, None);
        r.credentials = Credentials {
            username: "berth".into(),
            password: password.into(),
            ..Credentials::default()
        };
        r
    };

    let store = store();
    let (result, _) = pull(&client, &store, with("wrong")).await;
    let err = result.unwrap_err();
    assert!(matches!(err, ImageError::Unauthenticated(_)), "{err}");
    assert!(err.to_string().contains("unauthorized"), "{err}");
    let (result, _) = pull(&client, &store, request(&reference, None)).await;
    let err = result.unwrap_err();
    assert!(matches!(err, ImageError::Unauthenticated(_)), "{err}");
    assert!(store.images.list().unwrap().is_empty());

    let (result, _) = pull(&client, &store, with("s3cret")).await;
    assert_eq!(result.unwrap().image.id, built.config_digest);
}

#[tokio::test(flavor = "multi_thread")]
async fn layers_present_are_skipped_and_missing_blobs_fetched() {
    let registry = TestRegistry::start();
    let mut layout = Layout::new();
    let base = Layer::busybox();
    let v1 = layout.image("amd64", &[Layer::busybox()], &["/bin/busybox"]);
    let v2 = layout.image(
        "amd64",
        &[
            base,
            Layer::files(&[("etc/v2", b"2", 0o644)], Compress::Gzip),
        ],
        &["/bin/busybox"],
    );
    layout.tag(&v1.descriptor, "v1");
    layout.tag(&v2.descriptor, "v2");
    registry.seed(&layout, "v1", "app");
    registry.seed(&layout, "v2", "app");
    let store = store();
    let client = Registry::new(RegistryConfig::default());
    let (result, _) = pull(
        &client,
        &store,
        request(&format!("{}/app:v1", registry.host), None),
    )
    .await;
    result.unwrap();
    let (result, events) = pull(
        &client,
        &store,
        request(&format!("{}/app:v2", registry.host), None),
    )
    .await;
    let v2_image = result.unwrap();
    assert_eq!(v2_image.image.id, v2.config_digest);
    let states = final_states(&events);
    assert_eq!(
        states,
        [
            (v2.layer_digests[0].clone(), LayerState::AlreadyExists),
            (v2.layer_digests[1].clone(), LayerState::Complete)
        ]
    );
    assert_eq!(
        store.images.layer_dirs(&v2_image.image.id).unwrap().len(),
        2
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_present_snapshot_without_its_blob_downloads_only_the_blob() {
    let registry = TestRegistry::start();
    let mut layout = Layout::new();
    let built = layout.image("amd64", &[Layer::busybox()], &["/bin/busybox"]);
    layout.tag(&built.descriptor, "v1");
    registry.seed(&layout, "v1", "app");
    let store = store();
    // An import of the same tar: its snapshot has the same chain ID, its blob is the tar.
    let imported = store
        .images
        .import(
            &mut &Layer::busybox().tar[..],
            &berth_image::ImportOptions::default(),
        )
        .unwrap();
    let snapshots = files_in(&store.dir.path().join("snapshots"));
    let client = Registry::new(RegistryConfig::default());
    let (result, events) = pull(
        &client,
        &store,
        request(&format!("{}/app:v1", registry.host), None),
    )
    .await;
    let outcome = result.unwrap();
    assert_eq!(outcome.image.diff_ids, imported.diff_ids);
    assert_eq!(
        final_states(&events),
        [(built.layer_digests[0].clone(), LayerState::Complete)]
    );
    assert_eq!(
        files_in(&store.dir.path().join("snapshots")),
        snapshots,
        "no new snapshot"
    );
    let blob = store.dir.path().join(format!(
        "content/blobs/sha256/{}",
        &built.layer_digests[0]["sha256:".len()..]
    ));
    assert!(
        blob.is_file(),
        "the compressed blob is stored for save and push"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn concurrent_pulls_share_downloads() {
    let registry = TestRegistry::start();
    let mut layout = Layout::new();
    let built = layout.image(
        "amd64",
        &[
            Layer::noise("data/a", 24 << 20, 1, Compress::Gzip),
            Layer::noise("data/b", 24 << 20, 2, Compress::Zstd),
        ],
        &["/bin/true"],
    );
    layout.tag(&built.descriptor, "big");
    registry.seed(&layout, "big", "big");
    let store = store();
    let client = Registry::new(RegistryConfig::default());
    let reference = format!("{}/big:big", registry.host);
    let ((first, first_events), (second, second_events)) = tokio::join!(
        pull(&client, &store, request(&reference, None)),
        pull(&client, &store, request(&reference, None)),
    );
    let (first, second) = (first.unwrap(), second.unwrap());
    assert_eq!(first.image.id, built.config_digest);
    assert_eq!(second.image.id, built.config_digest);
    // Each layer downloaded once: the other pull followed it as Shared, then Complete.
    let mut shared: Vec<&str> = first_events
        .iter()
        .chain(&second_events)
        .filter(|e| e.state == LayerState::Shared)
        .map(|e| e.digest.as_str())
        .collect();
    shared.sort();
    shared.dedup();
    assert_eq!(shared.len(), 2, "{first_events:?} {second_events:?}");
    for events in [&first_events, &second_events] {
        assert!(final_states(events)
            .iter()
            .all(|(_, s)| *s == LayerState::Complete));
    }
    // One snapshot per layer, one blob each for the layers, config and manifest.
    assert_eq!(files_in(&store.dir.path().join("snapshots")), 2);
    assert_eq!(files_in(&store.dir.path().join("content/blobs/sha256")), 4);
    assert_eq!(files_in(&store.dir.path().join("content/ingest")), 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn multi_platform_indexes_resolve_to_the_requested_platform() {
    let registry = TestRegistry::start();
    let mut layout = Layout::new();
    let amd64 = layout.image("amd64", &[Layer::busybox()], &["amd64"]);
    let arm64 = layout.image(
        "arm64",
        &[Layer::files(
            &[("etc/arch", b"arm64", 0o644)],
            Compress::Zstd,
        )],
        &["arm64"],
    );
    let mut arm64_v8 = arm64.descriptor.clone();
    arm64_v8["platform"]["variant"] = "v8".into();
    let arm64 = registry::Built {
        descriptor: arm64_v8,
        ..arm64
    };
    let index = layout.index(&[&amd64, &arm64]);
    layout.tag(&index, "multi");
    registry.seed(&layout, "multi", "multi");
    let client = Registry::new(RegistryConfig::default());
    let reference = format!("{}/multi:multi", registry.host);

    let store_arm = store();
    let (result, _) = pull(
        &client,
        &store_arm,
        request(&reference, Some("linux/arm64")),
    )
    .await;
    let outcome = result.unwrap();
    assert_eq!(outcome.image.id, arm64.config_digest);
    assert_eq!(outcome.image.architecture, "arm64");
    assert_eq!(
        outcome.digest,
        index["digest"].as_str().unwrap(),
        "the index digest"
    );

    if Platform::host().architecture == "amd64" {
        let store_host = store();
        let (result, _) = pull(&client, &store_host, request(&reference, None)).await;
        assert_eq!(result.unwrap().image.id, amd64.config_digest);
    }

    let store_none = store();
    let (result, _) = pull(
        &client,
        &store_none,
        request(&reference, Some("linux/s390x")),
    )
    .await;
    let err = result.unwrap_err();
    assert!(matches!(err, ImageError::NotFound(_)), "{err}");
    assert!(
        err.to_string()
            .contains("no matching manifest for linux/s390x in the manifest list entries"),
        "{err}"
    );
    assert_eq!(
        files_in(&store_none.dir.path().join("content/blobs/sha256")),
        0
    );
}

/// A registry double for what a real registry will not do on purpose: redirect blobs to
/// another host, send wrong or truncated bodies, serve malformed manifests.
mod fake {
    use std::collections::HashMap;
    use std::net::SocketAddr;
    use std::sync::{Arc, Mutex};

    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpListener;

    /// An answer to one request.
    #[derive(Clone)]
    pub enum Reply {
        Body {
            content_type: String,
            body: Vec<u8>,
        },
        /// Says `Content-Length` of the whole body, sends half, hangs up.
        Truncated(Vec<u8>),
        Redirect(String),
        Status(u16, &'static str),
        /// 401 with this `WWW-Authenticate` challenge.
        Challenge(String),
        /// A body sent after a pause.
        Slow(Vec<u8>),
    }

    /// A request's path and `Authorization` header.
    pub type Request = (String, Option<String>);

    /// A server on 127.0.0.1 answering `routes` by path (anything else: 404), recording
    /// each request's path and `Authorization` header.
    pub struct Server {
        pub addr: SocketAddr,
        seen: Arc<Mutex<Vec<Request>>>,
    }

    impl Server {
        pub async fn start(routes: HashMap<String, Reply>) -> Self {
            let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
            let addr = listener.local_addr().unwrap();
            let seen = Arc::new(Mutex::new(Vec::new()));
            let record = Arc::clone(&seen);
            let routes = Arc::new(routes);
            tokio::spawn(async move {
                while let Ok((mut conn, _)) = listener.accept().await {
                    let routes = Arc::clone(&routes);
                    let record = Arc::clone(&record);
                    tokio::spawn(async move {
                        let mut head = Vec::new();
                        let mut byte = [0u8; 1];
                        while !head.ends_with(b"\r\n\r\n") {
                            if conn.read(&mut byte).await.unwrap_or(0) == 0 {
                                return;
                            }
                            head.push(byte[0]);
                        }
                        let head = String::from_utf8_lossy(&head).to_string();
                        let path = head.split(' ').nth(1).unwrap_or("").to_string();
                        let auth = head
                            .lines()
                            .find(|l| l.to_lowercase().starts_with("authorization:"))
                            .map(|l| l["authorization:".len()..].trim().to_string());
                        record.lock().unwrap().push((path.clone(), auth));
                        let route = path.split('?').next().unwrap_or_default();
                        let reply = routes
                            .get(route)
                            .cloned()
                            .unwrap_or(Reply::Status(404, r#"{"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown"}]}"#));
                        let response = match reply {
                            Reply::Body { content_type, body } => {
                                let mut r = format!(
                                    "HTTP/1.1 200 OK\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                                    body.len()
                                )
                                .into_bytes();
                                r.extend_from_slice(&body);
                                r
                            }
                            Reply::Slow(body) => {
                                tokio::time::sleep(std::time::Duration::from_millis(500)).await;
                                let mut r = format!(
                                    "HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                                    body.len()
                                )
                                .into_bytes();
                                r.extend_from_slice(&body);
                                r
                            }
                            Reply::Truncated(body) => {
                                let mut r = format!(
                                    "HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                                    body.len()
                                )
                                .into_bytes();
                                r.extend_from_slice(&body[..body.len() / 2]);
                                r
                            }
                            Reply::Redirect(to) => format!(
                                "HTTP/1.1 307 Temporary Redirect\r\nLocation: {to}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                            )
                            .into_bytes(),
                            Reply::Challenge(challenge) => format!(
                                "HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: {challenge}\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{{}}"
                            )
                            .into_bytes(),
                            Reply::Status(401, body) => format!(
                                "HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Basic realm=\"fake\"\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                                body.len()
                            )
                            .into_bytes(),
                            Reply::Status(code, body) => format!(
                                "HTTP/1.1 {code} Status\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                                body.len()
                            )
                            .into_bytes(),
                        };
                        let _ = conn.write_all(&response).await;
                        let _ = conn.shutdown().await;
                    });
                }
            });
            Server { addr, seen }
        }

        /// Every request so far.
        pub fn all(&self) -> Vec<Request> {
            self.seen.lock().unwrap().clone()
        }

        /// The `Authorization` headers of the requests whose path contains `part`.
        pub fn requests(&self, part: &str) -> Vec<Option<String>> {
            self.seen
                .lock()
                .unwrap()
                .iter()
                .filter(|(p, _)| p.contains(part))
                .map(|(_, a)| a.clone())
                .collect()
        }
    }
}

/// A one-layer image as a registry serves it: manifest, config and layer bodies by path.
struct Served {
    manifest: Vec<u8>,
    config: Vec<u8>,
    config_digest: String,
    layer: Vec<u8>,
    layer_digest: String,
}

impl Served {
    fn new(layer_media_type: &str, diff_id: Option<&str>) -> Self {
        let tar = Layer::files(&[("etc/hello", b"hello\n", 0o644)], Compress::None).tar;
        let layer = if layer_media_type.ends_with("gzip") {
            let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
            std::io::Write::write_all(&mut gz, &tar).unwrap();
            gz.finish().unwrap()
        } else {
            tar.clone()
        };
        let diff_id = diff_id.map_or_else(|| registry::sha256(&tar), str::to_string);
        let config = serde_json::to_vec(&serde_json::json!({
            "architecture": "amd64", "os": "linux",
            "rootfs": {"type": "layers", "diff_ids": [diff_id]}
        }))
        .unwrap();
        let config_digest = registry::sha256(&config);
        let layer_digest = registry::sha256(&layer);
        let manifest = serde_json::to_vec(&serde_json::json!({
            "schemaVersion": 2,
            "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
            "config": {"mediaType": "application/vnd.docker.container.image.v1+json", "digest": config_digest, "size": config.len()},
            "layers": [{"mediaType": layer_media_type, "digest": layer_digest, "size": layer.len()}]
        }))
        .unwrap();
        Served {
            manifest,
            config,
            config_digest,
            layer,
            layer_digest,
        }
    }

    fn gzip() -> Self {
        Self::new("application/vnd.docker.image.rootfs.diff.tar.gzip", None)
    }

    /// Routes serving it as `app:v1`, with `layer` as the layer's reply.
    fn routes(&self, layer: fake::Reply) -> std::collections::HashMap<String, fake::Reply> {
        let body = |content_type: &str, body: &[u8]| fake::Reply::Body {
            content_type: content_type.to_string(),
            body: body.to_vec(),
        };
        std::collections::HashMap::from([
            (
                "/v2/".to_string(),
                fake::Reply::Body {
                    content_type: "application/json".into(),
                    body: b"{}".to_vec(),
                },
            ),
            (
                "/v2/app/manifests/v1".to_string(),
                body(
                    "application/vnd.docker.distribution.manifest.v2+json",
                    &self.manifest,
                ),
            ),
            (
                format!("/v2/app/blobs/{}", self.config_digest),
                body("application/octet-stream", &self.config),
            ),
            (format!("/v2/app/blobs/{}", self.layer_digest), layer),
        ])
    }

    fn layer_body(&self) -> fake::Reply {
        fake::Reply::Body {
            content_type: "application/octet-stream".into(),
            body: self.layer.clone(),
        }
    }
}

/// Asserts that a failed pull left nothing: no image, blob, snapshot or ingest.
fn assert_nothing_kept(store: &Store) {
    assert!(store.images.list().unwrap().is_empty());
    for dir in ["content/blobs/sha256", "content/ingest", "snapshots"] {
        assert_eq!(files_in(&store.dir.path().join(dir)), 0, "{dir}");
    }
}

async fn pull_from(
    server: &fake::Server,
    credentials: Credentials,
) -> (Store, Result<PullOutcome, ImageError>) {
    let store = store();
    let client = Registry::new(RegistryConfig::default());
    let mut request = request(&format!("{}/app:v1", server.addr), None);
    request.credentials = credentials;
    let (result, _) = pull(&client, &store, request).await;
    (store, result)
}

#[tokio::test(flavor = "multi_thread")]
async fn blob_redirects_are_followed_without_the_credentials() {
    let served = Served::gzip();
    let storage = fake::Server::start(std::collections::HashMap::from([(
        "/layer".to_string(),
        served.layer_body(),
    )]))
    .await;
    let mut routes = served.routes(fake::Reply::Redirect(format!(
        "http://{}/layer",
        storage.addr
    )));
    // Basic auth: the registry challenges, the client then sends credentials everywhere.
    routes.insert("/v2/".into(), fake::Reply::Status(401, "{}"));
    let registry = fake::Server::start(routes).await;
    let credentials = Credentials {
        username: "user".into(),
        password: "secret".into(),
        ..Credentials::default()
    };
    let (store, result) = pull_from(&registry, credentials).await;
    let outcome = result.unwrap();
    assert_eq!(outcome.image.id, served.config_digest);
    let to_registry = registry.requests(&served.layer_digest);
    assert!(
        !to_registry.is_empty()
            && to_registry
                .iter()
                .all(|a| a.as_deref().is_some_and(|a| a.starts_with("Basic "))),
        "{to_registry:?}"
    );
    assert_eq!(
        storage.requests("/layer"),
        [None],
        "no credentials for another host"
    );
    let dirs = store.images.layer_dirs(&outcome.image.id).unwrap();
    assert_eq!(
        std::fs::read(dirs[0].join("etc/hello")).unwrap(),
        b"hello\n"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn bearer_tokens_come_from_the_token_endpoint_with_the_pull_scope() {
    let served = Served::gzip();
    let auth = fake::Server::start(std::collections::HashMap::from([(
        "/token".to_string(),
        fake::Reply::Body {
            content_type: "application/json".into(),
            body: br#"{"token":"t0ken"}"#.to_vec(),
        },
    )]))
    .await;
    let mut routes = served.routes(served.layer_body());
    routes.insert(
        "/v2/".into(),
        fake::Reply::Challenge(format!(
            r#"Bearer realm="http://{}/token",service="fake""#,
            auth.addr
        )),
    );
    let registry = fake::Server::start(routes).await;
    let credentials = Credentials {
        username: "user".into(),
        password: "secret".into(),
        ..Credentials::default()
    };
    let (_store, result) = pull_from(&registry, credentials).await;
    assert_eq!(result.unwrap().image.id, served.config_digest);
    let token_requests = auth.all();
    assert!(
        !token_requests.is_empty()
            && token_requests.iter().all(|(path, auth)| path
                .contains("scope=repository%3Aapp%3Apull")
                && path.contains("service=fake")
                && auth.as_deref().is_some_and(|a| a.starts_with("Basic "))),
        "{token_requests:?}"
    );
    for part in ["/manifests/", "/blobs/"] {
        let sent = registry.requests(part);
        assert!(
            !sent.is_empty() && sent.iter().all(|a| a.as_deref() == Some("Bearer t0ken")),
            "{part}: {sent:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn docker_manifest_lists_resolve_arm_variants() {
    let served = Served::gzip();
    let entry = |arch: &str, variant: &str, digest: &str, size: usize| {
        serde_json::json!({
            "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
            "digest": digest, "size": size,
            "platform": {"architecture": arch, "os": "linux", "variant": variant}
        })
    };
    let other = format!("sha256:{}", "9".repeat(64));
    let list = serde_json::to_vec(&serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.docker.distribution.manifest.list.v2+json",
        "manifests": [
            entry("arm", "v5", &other, 10),
            entry("arm", "v6", &registry::sha256(&served.manifest), served.manifest.len()),
            entry("amd64", "", &other, 10),
        ]
    }))
    .unwrap();
    let mut routes = served.routes(served.layer_body());
    routes.insert(
        format!("/v2/app/manifests/{}", registry::sha256(&served.manifest)),
        fake::Reply::Body {
            content_type: "application/vnd.docker.distribution.manifest.v2+json".into(),
            body: served.manifest.clone(),
        },
    );
    routes.insert(
        "/v2/app/manifests/v1".into(),
        fake::Reply::Body {
            content_type: "application/vnd.docker.distribution.manifest.list.v2+json".into(),
            body: list.clone(),
        },
    );
    let server = fake::Server::start(routes).await;
    let store = store();
    let client = Registry::new(RegistryConfig::default());
    let reference = format!("{}/app:v1", server.addr);
    // arm/v7 runs v6 (preferred over v5).
    let (result, _) = pull(&client, &store, request(&reference, Some("linux/arm/v7"))).await;
    let outcome = result.unwrap();
    assert_eq!(outcome.image.id, served.config_digest);
    assert_eq!(outcome.digest, registry::sha256(&list));
    assert!(server.requests(&other).is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn uncompressed_layers_pull() {
    let served = Served::new("application/vnd.docker.image.rootfs.diff.tar", None);
    let server = fake::Server::start(served.routes(served.layer_body())).await;
    let (store, result) = pull_from(&server, Credentials::default()).await;
    let outcome = result.unwrap();
    let dirs = store.images.layer_dirs(&outcome.image.id).unwrap();
    assert_eq!(
        std::fs::read(dirs[0].join("etc/hello")).unwrap(),
        b"hello\n"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_blob_that_does_not_match_its_digest_keeps_nothing() {
    let served = Served::gzip();
    let mut wrong = served.layer.clone();
    let last = wrong.len() - 1;
    wrong[last] ^= 0xff;
    let server = fake::Server::start(served.routes(fake::Reply::Body {
        content_type: "application/octet-stream".into(),
        body: wrong,
    }))
    .await;
    let (store, result) = pull_from(&server, Credentials::default()).await;
    let err = result.unwrap_err();
    assert!(matches!(err, ImageError::Corrupt(_)), "{err}");
    assert_nothing_kept(&store);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_blob_longer_than_its_manifest_says_keeps_nothing() {
    let served = Served::gzip();
    let mut longer = served.layer.clone();
    longer.extend_from_slice(&[0u8; 4096]);
    let server = fake::Server::start(served.routes(fake::Reply::Body {
        content_type: "application/octet-stream".into(),
        body: longer,
    }))
    .await;
    let (store, result) = pull_from(&server, Credentials::default()).await;
    let err = result.unwrap_err();
    assert!(matches!(err, ImageError::Corrupt(_)), "{err}");
    assert_nothing_kept(&store);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_failed_shared_download_fails_every_pull_waiting_for_it() {
    let served = Served::gzip();
    let mut wrong = served.layer.clone();
    wrong[10] ^= 0xff;
    let server = fake::Server::start(served.routes(fake::Reply::Slow(wrong))).await;
    let store = store();
    let client = Registry::new(RegistryConfig::default());
    let reference = format!("{}/app:v1", server.addr);
    let ((first, first_events), (second, second_events)) = tokio::join!(
        pull(&client, &store, request(&reference, None)),
        pull(&client, &store, request(&reference, None)),
    );
    for result in [first, second] {
        let err = result.unwrap_err();
        assert!(matches!(err, ImageError::Corrupt(_)), "{err}");
    }
    assert!(
        first_events
            .iter()
            .chain(&second_events)
            .any(|e| e.state == LayerState::Shared),
        "one download, shared"
    );
    assert_eq!(server.requests(&served.layer_digest).len(), 1);
    assert_nothing_kept(&store);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_layer_that_does_not_match_its_diff_id_keeps_nothing() {
    let wrong = format!("sha256:{}", "1".repeat(64));
    let served = Served::new(
        "application/vnd.docker.image.rootfs.diff.tar.gzip",
        Some(&wrong),
    );
    let server = fake::Server::start(served.routes(served.layer_body())).await;
    let (store, result) = pull_from(&server, Credentials::default()).await;
    let err = result.unwrap_err();
    assert!(matches!(err, ImageError::Corrupt(_)), "{err}");
    assert!(err.to_string().contains("diff ID"), "{err}");
    assert_nothing_kept(&store);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_registry_dying_mid_blob_keeps_nothing() {
    let served = Served::gzip();
    let server =
        fake::Server::start(served.routes(fake::Reply::Truncated(served.layer.clone()))).await;
    let (store, result) = pull_from(&server, Credentials::default()).await;
    let err = result.unwrap_err();
    assert!(
        matches!(err, ImageError::Unavailable(_) | ImageError::Corrupt(_)),
        "{err}"
    );
    assert_nothing_kept(&store);
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_manifests_and_media_types_are_refused_before_any_download() {
    let served = Served::gzip();
    // Served with the document's own media type as Content-Type (or Docker's when it has none).
    let reply_as = |content_type: &str, body: Vec<u8>| fake::Reply::Body {
        content_type: content_type.into(),
        body,
    };
    let manifest_reply = |body: Vec<u8>| {
        let declared = serde_json::from_slice::<serde_json::Value>(&body)
            .ok()
            .and_then(|v| v["mediaType"].as_str().map(str::to_string));
        reply_as(
            declared
                .as_deref()
                .unwrap_or("application/vnd.docker.distribution.manifest.v2+json"),
            body,
        )
    };
    let mut mixed: serde_json::Value = serde_json::from_slice(&served.manifest).unwrap();
    mixed["manifests"] = serde_json::json!([]);
    let mut unknown = mixed.clone();
    unknown.as_object_mut().unwrap().remove("manifests");
    unknown["mediaType"] = "application/vnd.example.thing.v1+json".into();
    let unknown_layer = Served::new("application/vnd.example.layer.v1.tar+lz4", None);
    let cases = [
        (manifest_reply(serde_json::to_vec(&mixed).unwrap()), "mixes"),
        (
            manifest_reply(serde_json::to_vec(&unknown).unwrap()),
            "unsupported manifest media type",
        ),
        (
            manifest_reply(unknown_layer.manifest.clone()),
            "unsupported layer media type",
        ),
        (manifest_reply(b"{not json".to_vec()), "invalid manifest"),
        (
            reply_as(
                "application/vnd.oci.image.index.v1+json",
                served.manifest.clone(),
            ),
            "does not match its content type",
        ),
    ];
    for (reply, message) in cases {
        let mut routes = served.routes(served.layer_body());
        routes.insert("/v2/app/manifests/v1".into(), reply);
        let server = fake::Server::start(routes).await;
        let (store, result) = pull_from(&server, Credentials::default()).await;
        let err = result.unwrap_err();
        assert!(err.to_string().contains(message), "{err}");
        match message {
            "mixes" | "invalid manifest" | "does not match its content type" => {
                assert!(matches!(err, ImageError::InvalidArgument(_)), "{err}")
            }
            _ => assert!(matches!(err, ImageError::Unsupported(_)), "{err}"),
        }
        assert!(
            server.requests("/blobs/").is_empty(),
            "nothing downloaded for {message}"
        );
        assert_nothing_kept(&store);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn refused_credentials_are_unauthenticated() {
    let served = Served::gzip();
    let mut routes = served.routes(served.layer_body());
    routes.insert("/v2/".into(), fake::Reply::Status(401, "{}"));
    routes.insert(
        "/v2/app/manifests/v1".into(),
        fake::Reply::Status(
            401,
            r#"{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}"#,
        ),
    );
    let server = fake::Server::start(routes).await;
    let credentials = Credentials {
        username: "user".into(),
        password: "wrong".into(),
        ..Credentials::default()
    };
    let (store, result) = pull_from(&server, credentials).await;
    let err = result.unwrap_err();
    assert!(matches!(err, ImageError::Unauthenticated(_)), "{err}");
    assert_nothing_kept(&store);
}
