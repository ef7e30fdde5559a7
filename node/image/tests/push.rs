//! `Registry::push` and `Registry::login` against Debian's `docker-registry` on a loopback
//! port (anonymous, and with htpasswd basic auth), checked with skopeo; Bearer logins against
//! a test-only token endpoint.

#![allow(clippy::unwrap_used)]

mod common;
mod registry;

use std::fs;
use std::net::TcpListener;
use std::path::Path;
use std::process::Command;
use std::sync::Arc;

use berth_image::registry::{
    Credentials, LayerProgress, LayerState, PushOutcome, PushRequest, Registry, RegistryConfig,
};
use berth_image::{Image, ImageError, ImageStore, ImportOptions, Reference};
use common::{busybox_rootfs, is_root, tar_of, TestStore};
use registry::TestRegistry;

const USER: &str = "berth";
const PASSWORD: &str = "s3cret-pw";

/// Imports a busybox rootfs (plus `extra` bytes in /data, to make the layer big) as `name`.
fn import(store: &ImageStore, name: &str, extra: usize) -> Image {
    let work = tempfile::tempdir().unwrap();
    let root = busybox_rootfs(work.path());
    if extra > 0 {
        // Incompressible bytes, so the layer stays big whatever the encoding.
        let mut data = vec![0u8; extra];
        let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
        for b in &mut data {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            *b = x as u8;
        }
        fs::write(root.join("data"), data).unwrap();
    }
    let tar = tar_of(&root);
    let options = ImportOptions {
        reference: Some(Reference::parse(name).unwrap()),
        ..ImportOptions::default()
    };
    store.import(&mut tar.as_slice(), &options).unwrap()
}

fn credentials(password: &str) -> Credentials {
    Credentials {
        username: USER.into(),
        password: password.into(),
        ..Credentials::default()
    }
}

/// Pushes `name`; returns the outcome and the final state of each blob.
async fn push(
    store: &Arc<ImageStore>,
    name: &str,
    credentials: Credentials,
) -> (Result<PushOutcome, ImageError>, Vec<(String, LayerState)>) {
    let registry = Registry::new(RegistryConfig::default());
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<LayerProgress>();
    let request = PushRequest {
        reference: Reference::parse(name).unwrap(),
        credentials,
    };
    let outcome = registry.push(store, request, tx).await;
    let mut last: Vec<(String, LayerState)> = Vec::new();
    while let Some(p) = rx.recv().await {
        match last.iter_mut().find(|(d, _)| *d == p.digest) {
            Some(entry) => entry.1 = p.state,
            None => last.push((p.digest, p.state)),
        }
    }
    (outcome, last)
}

fn states(blobs: &[(String, LayerState)]) -> Vec<LayerState> {
    blobs.iter().map(|(_, s)| *s).collect()
}

fn skopeo(args: &[&str]) -> String {
    let output = Command::new("skopeo").args(args).output().unwrap();
    assert!(
        output.status.success(),
        "skopeo {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap()
}

/// The config digest of the image skopeo copied into the OCI layout `dir`.
fn copied_config_digest(dir: &Path) -> String {
    let blob = |digest: &str| -> serde_json::Value {
        let hex = digest.strip_prefix("sha256:").unwrap();
        serde_json::from_slice(&fs::read(dir.join("blobs/sha256").join(hex)).unwrap()).unwrap()
    };
    let index: serde_json::Value =
        serde_json::from_slice(&fs::read(dir.join("index.json")).unwrap()).unwrap();
    let manifest = blob(index["manifests"][0]["digest"].as_str().unwrap());
    manifest["config"]["digest"].as_str().unwrap().to_string()
}

#[tokio::test(flavor = "multi_thread")]
async fn push_uploads_then_finds_existing_blobs_then_mounts_across_repositories() {
    if !is_root() {
        return;
    }
    let registry = TestRegistry::start();
    let test = TestStore::new();
    let store = Arc::new(test.store);
    let name = format!("{}/berth/busybox:v1", registry.host);
    let image = import(&store, &name, 0);

    let (outcome, blobs) = push(&store, &name, Credentials::default()).await;
    let outcome = outcome.unwrap();
    assert_eq!(outcome.tag, "v1");
    assert_eq!(outcome.digest, image.manifest_digest);
    assert_eq!(
        blobs.len(),
        1,
        "the layer (the config is not reported, as in Docker)"
    );
    assert_eq!(states(&blobs), [LayerState::Complete]);

    let inspect: serde_json::Value = serde_json::from_str(&skopeo(&[
        "inspect",
        "--tls-verify=false",
        &format!("docker://{name}"),
    ]))
    .unwrap();
    assert_eq!(inspect["Digest"], outcome.digest.as_str());
    let out = tempfile::tempdir().unwrap();
    let layout = out.path().join("layout");
    skopeo(&[
        "copy",
        "--src-tls-verify=false",
        &format!("docker://{name}"),
        &format!("oci:{}:v1", layout.display()),
    ]);
    assert_eq!(copied_config_digest(&layout), image.id, "same image ID");

    let pinned = format!("{}/berth/busybox@{}", registry.host, outcome.digest);
    assert_eq!(store.get(&image.id).unwrap().repo_digests, [pinned]);

    let (again, blobs) = push(&store, &name, Credentials::default()).await;
    assert_eq!(again.unwrap().digest, outcome.digest);
    assert_eq!(states(&blobs), [LayerState::AlreadyExists]);

    let other = format!("{}/berth/other:v2", registry.host);
    store
        .tag(&name, &Reference::parse(&other).unwrap())
        .unwrap();
    let (mounted, blobs) = push(&store, &other, Credentials::default()).await;
    assert_eq!(mounted.unwrap().digest, outcome.digest);
    assert_eq!(states(&blobs), [LayerState::Mounted]);
    skopeo(&[
        "inspect",
        "--tls-verify=false",
        &format!("docker://{other}"),
    ]);
}

#[tokio::test(flavor = "multi_thread")]
async fn big_layers_stream_up_in_chunks() {
    if !is_root() {
        return;
    }
    let registry = TestRegistry::start();
    let test = TestStore::new();
    let store = Arc::new(test.store);
    let name = format!("{}/big:latest", registry.host);
    let image = import(&store, &name, 12 << 20);

    let (outcome, blobs) = push(&store, &name, Credentials::default()).await;
    assert_eq!(outcome.unwrap().digest, image.manifest_digest);
    assert_eq!(states(&blobs), [LayerState::Complete]);
    // skopeo checks every blob's digest on the way out.
    let out = tempfile::tempdir().unwrap();
    let layout = out.path().join("layout");
    skopeo(&[
        "copy",
        "--src-tls-verify=false",
        &format!("docker://{name}"),
        &format!("oci:{}:latest", layout.display()),
    ]);
    assert_eq!(copied_config_digest(&layout), image.id);
}

#[tokio::test(flavor = "multi_thread")]
async fn basic_auth_registry_checks_logins_and_pushes() {
    if !is_root() {
        return;
    }
    let registry = TestRegistry::with_basic_auth(USER, PASSWORD);
    let client = Registry::new(RegistryConfig::default());

    let ok = client
        .login(&registry.host, &credentials(PASSWORD))
        .await
        .unwrap();
    assert_eq!(ok.status, "Login Succeeded");
    let wrong = client
        .login(&registry.host, &credentials("wrong"))
        .await
        .unwrap_err();
    assert!(
        matches!(&wrong, ImageError::Unauthenticated(m)
            if m.contains("401 Unauthorized") && m.contains("authentication required")),
        "{wrong:?}"
    );

    let test = TestStore::new();
    let store = Arc::new(test.store);
    let name = format!("{}/private/busybox:v1", registry.host);
    let image = import(&store, &name, 0);
    let (anonymous, _) = push(&store, &name, Credentials::default()).await;
    assert!(
        matches!(anonymous, Err(ImageError::Unauthenticated(_))),
        "{anonymous:?}"
    );
    let (denied, _) = push(&store, &name, credentials("wrong")).await;
    assert!(
        matches!(denied, Err(ImageError::Unauthenticated(_))),
        "{denied:?}"
    );
    let (pushed, _) = push(&store, &name, credentials(PASSWORD)).await;
    assert_eq!(pushed.unwrap().digest, image.manifest_digest);
    let inspect = skopeo(&[
        "inspect",
        "--tls-verify=false",
        &format!("--creds={USER}:{PASSWORD}"),
        &format!("docker://{name}"),
    ]);
    assert!(inspect.contains(&image.manifest_digest));
}

#[tokio::test(flavor = "multi_thread")]
async fn pushing_an_untagged_name_is_not_found() {
    let test = TestStore::new();
    let store = Arc::new(test.store);
    let (outcome, blobs) = push(&store, "127.0.0.1:1/nothing:v1", Credentials::default()).await;
    assert!(
        matches!(&outcome, Err(ImageError::NotFound(m)) if m.contains("127.0.0.1:1/nothing")),
        "{outcome:?}"
    );
    assert!(blobs.is_empty());
}

/// A token-auth registry's login side, test-only: `/v2/` challenges with Bearer, `/token`
/// trades the right basic credentials for a token, and `/v2/` accepts that token.
fn start_token_registry() -> String {
    use base64::Engine;
    use std::io::{BufRead, BufReader, Write};
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let host = listener.local_addr().unwrap().to_string();
    let realm = format!("http://{host}/token");
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { return };
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut request_line = String::new();
            reader.read_line(&mut request_line).unwrap();
            let mut authorization = String::new();
            loop {
                let mut line = String::new();
                reader.read_line(&mut line).unwrap();
                if line.trim().is_empty() {
                    break;
                }
                if let Some((name, value)) = line.split_once(':') {
                    if name.eq_ignore_ascii_case("authorization") {
                        authorization = value.trim().to_string();
                    }
                }
            }
            let path = request_line.split(' ').nth(1).unwrap_or_default();
            let basic = format!(
                "Basic {}",
                base64::engine::general_purpose::STANDARD.encode(format!("{USER}:{PASSWORD}"))
            );
            let (status, headers, body) = if path.starts_with("/token") {
                if authorization == basic {
                    ("200 OK", String::new(), r#"{"token":"t0ken"}"#.to_string())
                } else {
                    (
                        "401 Unauthorized",
                        String::new(),
                        r#"{"details":"incorrect username or password"}"#.to_string(),
                    )
                }
            } else if authorization == "Bearer t0ken" {
                ("200 OK", String::new(), "{}".to_string())
            } else {
                (
                    "401 Unauthorized",
                    format!("WWW-Authenticate: Bearer realm=\"{realm}\",service=\"test\"\r\n"),
                    r#"{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}"#
                        .to_string(),
                )
            };
            let _ = write!(
                stream,
                "HTTP/1.1 {status}\r\n{headers}Content-Type: application/json\r\n\
                 Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    host
}

#[tokio::test(flavor = "multi_thread")]
async fn bearer_login_trades_credentials_for_a_token() {
    let host = start_token_registry();
    let client = Registry::new(RegistryConfig::default());
    let ok = client.login(&host, &credentials(PASSWORD)).await.unwrap();
    assert_eq!(ok.status, "Login Succeeded");
    let wrong = client
        .login(&host, &credentials("wrong"))
        .await
        .unwrap_err();
    assert!(
        matches!(&wrong, ImageError::Unauthenticated(m) if m.contains("incorrect username or password")),
        "{wrong:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn pulled_docker_images_push_back_unchanged() {
    if !is_root() {
        return;
    }
    let source = TestRegistry::start();
    let target = TestRegistry::start();
    // A Docker schema 2 image with a gzip layer, made by skopeo from a Berth import.
    let seed = TestStore::new();
    let seed_store = Arc::new(seed.store);
    let oci = format!("{}/seed:v1", source.host);
    import(&seed_store, &oci, 0);
    push(&seed_store, &oci, Credentials::default())
        .await
        .0
        .unwrap();
    let docker = format!("{}/docker/app:v1", source.host);
    skopeo(&[
        "copy",
        "--src-tls-verify=false",
        "--dest-tls-verify=false",
        "--format=v2s2",
        "--dest-compress",
        &format!("docker://{oci}"),
        &format!("docker://{docker}"),
    ]);
    let raw = skopeo(&[
        "inspect",
        "--raw",
        "--tls-verify=false",
        &format!("docker://{docker}"),
    ]);
    assert!(
        raw.contains("application/vnd.docker.distribution.manifest.v2+json"),
        "{raw}"
    );
    assert!(raw.contains("tar.gzip"), "{raw}");

    let test = TestStore::new();
    let store = Arc::new(test.store);
    let registry = Registry::new(RegistryConfig::default());
    let (tx, _rx) = tokio::sync::mpsc::unbounded_channel();
    let pulled = registry
        .pull(
            &store,
            berth_image::registry::PullRequest {
                reference: Reference::parse(&docker).unwrap(),
                credentials: Credentials::default(),
                platform: None,
            },
            tx,
        )
        .await
        .unwrap();

    // Another repository of the same registry: mounted from the one it was pulled from.
    let sibling = format!("{}/docker/copy:v1", source.host);
    store
        .tag(&docker, &Reference::parse(&sibling).unwrap())
        .unwrap();
    let (outcome, blobs) = push(&store, &sibling, Credentials::default()).await;
    assert_eq!(outcome.unwrap().digest, pulled.digest);
    assert_eq!(states(&blobs), [LayerState::Mounted]);

    // Another registry: uploaded, byte for byte (same manifest digest, same image ID).
    let elsewhere = format!("{}/moved:v1", target.host);
    store
        .tag(&docker, &Reference::parse(&elsewhere).unwrap())
        .unwrap();
    let (outcome, blobs) = push(&store, &elsewhere, Credentials::default()).await;
    assert_eq!(outcome.unwrap().digest, pulled.digest);
    assert_eq!(states(&blobs), [LayerState::Complete]);
    let inspect: serde_json::Value = serde_json::from_str(&skopeo(&[
        "inspect",
        "--tls-verify=false",
        &format!("docker://{elsewhere}"),
    ]))
    .unwrap();
    assert_eq!(inspect["Digest"], pulled.digest.as_str());
    let out = tempfile::tempdir().unwrap();
    let layout = out.path().join("layout");
    skopeo(&[
        "copy",
        "--src-tls-verify=false",
        &format!("docker://{elsewhere}"),
        &format!("oci:{}:v1", layout.display()),
    ]);
    assert_eq!(copied_config_digest(&layout), pulled.image.id);
}
