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
    let shared = first_events
        .iter()
        .chain(&second_events)
        .filter(|e| e.state == LayerState::Shared)
        .count();
    assert_eq!(shared, 2, "{first_events:?} {second_events:?}");
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
