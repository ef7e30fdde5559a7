//! Pulls from a registry that misbehaves (the fake registry of the fixtures): each failure has
//! its gRPC code, and leaves the store exactly as it was — no blob, ingest, snapshot or image
//! of the failed pull. Also the unusual-but-valid: blob redirects and bearer-token auth.

// Tests may unwrap (project rule); clippy only knows that inside #[test] functions, not in
// the helpers of an integration test crate.
#![allow(clippy::unwrap_used)]

use berth_proto::node::v1::{PullImageRequest, RegistryAuth};
use berth_tests::fake_registry::{BlobFault, BAD_CREDENTIALS_MESSAGE, SERVICE};
use berth_tests::oci_layout::{
    media, raw_tar, samples, tar_of_files, Compression, Image, Layer, Platform, RawEntry,
};
use berth_tests::registry::Login;
use berth_tests::registry_client::{auth_of, pull, Pulled, StoreFingerprint};
use berth_tests::wait::wait_until;
use berth_tests::{Daemon, FakeRegistry};
use std::time::Duration;
use tonic::Code;

/// A two-layer image of small files: the bottom layer pulls fine, so a failure on the top one
/// shows that the bottom one is rolled back.
fn two_layer_image() -> Image {
    let bottom = Layer::from_tar(
        &tar_of_files(&[("bottom/one", b"the first layer\n")]).unwrap(),
        Compression::Gzip,
    )
    .unwrap();
    let top = Layer::from_tar(
        &tar_of_files(&[("top/two", &b"the second layer\n".repeat(4096))]).unwrap(),
        Compression::Gzip,
    )
    .unwrap();
    Image::build(vec![bottom, top], Platform::AMD64, &["true"])
}

/// A daemon with busybox imported, so that "unchanged" covers a store with content.
fn daemon() -> Daemon {
    Daemon::with_busybox().unwrap()
}

fn request(reference: String, auth: Option<RegistryAuth>) -> PullImageRequest {
    PullImageRequest {
        reference,
        auth,
        ..Default::default()
    }
}

/// Pulls `reference`, expects one of `codes`, and checks the store did not change.
fn fails_cleanly(d: &Daemon, pull_request: PullImageRequest, codes: &[Code]) -> tonic::Status {
    let before = StoreFingerprint::of(d);
    let status = pull(d, pull_request).unwrap_err();
    assert!(
        codes.contains(&status.code()),
        "expected {codes:?}, got {status:?}"
    );
    assert!(!status.message().is_empty(), "{status:?}");
    assert_store_is(d, &before);
    status
}

/// Asserts the store returns to `before` (allowing a moment for cancelled transfers to end).
fn assert_store_is(d: &Daemon, before: &StoreFingerprint) {
    let settled = wait_until(Duration::from_secs(5), "the store to settle", || {
        Ok((StoreFingerprint::of(d) == *before).then_some(()))
    });
    if settled.is_err() {
        assert_eq!(
            StoreFingerprint::of(d),
            *before,
            "the failed pull left something"
        );
    }
}

fn pulls(d: &Daemon, pull_request: PullImageRequest) -> Pulled {
    pull(d, pull_request).unwrap_or_else(|status| panic!("pull failed: {status:?}\n{}", d.log()))
}

#[test]
fn blob_bytes_that_do_not_match_the_digest_are_data_loss() {
    let fake = FakeRegistry::start().unwrap();
    let image = two_layer_image();
    fake.add_image("app", "v1", &image);
    fake.set_fault(&image.layers[1].blob.digest, BlobFault::WrongBytes);
    let d = daemon();
    fails_cleanly(
        &d,
        request(fake.reference("app:v1"), None),
        &[Code::DataLoss],
    );

    // The CLI says it in one line, exit 125.
    let out = d.ctl(&["pull", &fake.reference("app:v1")]);
    out.assert_code(125);
    out.assert_clean_failure();
}

#[test]
fn a_config_that_does_not_match_its_digest_is_data_loss() {
    let fake = FakeRegistry::start().unwrap();
    let image = two_layer_image();
    fake.add_image("app", "v1", &image);
    fake.set_fault(&image.config.digest, BlobFault::WrongBytes);
    let d = daemon();
    fails_cleanly(
        &d,
        request(fake.reference("app:v1"), None),
        &[Code::DataLoss],
    );
}

#[test]
fn a_layer_that_does_not_match_its_diff_id_is_data_loss() {
    let fake = FakeRegistry::start().unwrap();
    let honest = two_layer_image();
    let lie = format!("sha256:{}", "0".repeat(64));
    let image = Image::build_with_diff_ids(
        honest.layers.clone(),
        Platform::AMD64,
        &["true"],
        &[&honest.layers[0].diff_id, &lie],
    );
    fake.add_image("app", "v1", &image);
    let d = daemon();
    let status = fails_cleanly(
        &d,
        request(fake.reference("app:v1"), None),
        &[Code::DataLoss],
    );
    assert!(status.message().contains("diff"), "{status:?}");
}

#[test]
fn a_short_blob_is_data_loss() {
    let fake = FakeRegistry::start().unwrap();
    let image = two_layer_image();
    fake.add_image("app", "v1", &image);
    fake.set_fault(&image.layers[1].blob.digest, BlobFault::Short);
    let d = daemon();
    fails_cleanly(
        &d,
        request(fake.reference("app:v1"), None),
        &[Code::DataLoss],
    );
}

#[test]
fn a_truncated_download_fails() {
    let fake = FakeRegistry::start().unwrap();
    let image = two_layer_image();
    fake.add_image("app", "v1", &image);
    fake.set_fault(&image.layers[1].blob.digest, BlobFault::Truncated);
    let d = daemon();
    // The connection closes before Content-Length bytes: lost content (DATA_LOSS), or a
    // transfer that failed midway (UNAVAILABLE), as the proto describes both.
    fails_cleanly(
        &d,
        request(fake.reference("app:v1"), None),
        &[Code::DataLoss, Code::Unavailable],
    );
}

#[test]
fn a_registry_that_dies_mid_blob_is_unavailable() {
    let fake = FakeRegistry::start().unwrap();
    let image = two_layer_image();
    fake.add_image("app", "v1", &image);
    fake.set_fault(&image.layers[1].blob.digest, BlobFault::Die);
    let d = daemon();
    fails_cleanly(
        &d,
        request(fake.reference("app:v1"), None),
        &[Code::Unavailable],
    );
    assert!(fake.is_dead());
}

#[test]
fn a_registry_that_is_not_there_is_unavailable() {
    let port = berth_tests::registry::free_port().unwrap();
    let d = daemon();
    fails_cleanly(
        &d,
        request(format!("127.0.0.1:{port}/app:v1"), None),
        &[Code::Unavailable],
    );
}

#[test]
fn a_manifest_with_index_and_image_fields_is_refused() {
    let fake = FakeRegistry::start().unwrap();
    let image = two_layer_image();
    fake.add_image("app", "v1", &image);
    let mut mixed: serde_json::Value = serde_json::from_slice(&image.manifest.bytes).unwrap();
    mixed["manifests"] = serde_json::json!([image.index_entry()]);
    let bytes = serde_json::to_vec(&mixed).unwrap();
    fake.add_manifest("app", "mixed", media::MANIFEST, &bytes);
    fake.add_manifest("app", "mixed-index", media::INDEX, &bytes);
    let d = daemon();
    for tag in ["app:mixed", "app:mixed-index"] {
        fails_cleanly(
            &d,
            request(fake.reference(tag), None),
            &[Code::InvalidArgument, Code::DataLoss],
        );
    }
}

#[test]
fn an_unknown_layer_media_type_is_unimplemented() {
    let fake = FakeRegistry::start().unwrap();
    let mut layers = two_layer_image().layers;
    layers[1].blob.media_type = "application/vnd.example.layer.v1.tar+lz4".into();
    let image = Image::build(layers, Platform::AMD64, &["true"]);
    fake.add_image("app", "v1", &image);
    let d = daemon();
    let status = fails_cleanly(
        &d,
        request(fake.reference("app:v1"), None),
        &[Code::Unimplemented],
    );
    assert!(status.message().contains("lz4"), "{status:?}");
}

#[test]
fn an_unknown_manifest_media_type_is_unimplemented() {
    let fake = FakeRegistry::start().unwrap();
    let image = two_layer_image();
    fake.add_image("app", "v1", &image);
    let unknown = "application/vnd.example.manifest.v9+json";
    let mut manifest: serde_json::Value = serde_json::from_slice(&image.manifest.bytes).unwrap();
    manifest["mediaType"] = serde_json::json!(unknown);
    fake.add_manifest(
        "app",
        "v9",
        unknown,
        &serde_json::to_vec(&manifest).unwrap(),
    );
    // Docker's schema 1, which nothing should produce any more.
    let schema1 = serde_json::json!({
        "schemaVersion": 1, "name": "app", "tag": "old", "architecture": "amd64",
        "fsLayers": [{"blobSum": image.layers[0].blob.digest}],
        "history": [{"v1Compatibility": "{}"}],
    });
    fake.add_manifest(
        "app",
        "old",
        "application/vnd.docker.distribution.manifest.v1+prettyjws",
        &serde_json::to_vec(&schema1).unwrap(),
    );
    let d = daemon();
    for tag in ["app:v9", "app:old"] {
        fails_cleanly(
            &d,
            request(fake.reference(tag), None),
            &[Code::Unimplemented],
        );
    }
}

#[test]
fn uncompressed_layers_pull_and_run() {
    let fake = FakeRegistry::start().unwrap();
    let d = daemon();
    let busybox = samples::busybox(&d.scratch(), Compression::Gzip).unwrap();
    let plain = Layer::from_tar(
        &tar_of_files(&[("plain/hello", b"from a plain tar layer\n")]).unwrap(),
        Compression::None,
    )
    .unwrap();
    assert_eq!(plain.blob.media_type, media::LAYER_TAR);
    let image = Image::build(
        vec![busybox.layers[0].clone(), plain],
        Platform::AMD64,
        &["cat", "/plain/hello"],
    );
    fake.add_image("plain", "v1", &image);
    let pulled = pulls(&d, request(fake.reference("plain:v1"), None));
    assert_eq!(pulled.result.image.unwrap().id, image.config.digest);
    assert_eq!(
        d.ok(&["run", "--rm", &fake.reference("plain:v1")]),
        "from a plain tar layer"
    );
}

#[test]
fn an_unknown_tag_or_repository_is_not_found() {
    let fake = FakeRegistry::start().unwrap();
    fake.add_image("app", "v1", &two_layer_image());
    let d = daemon();
    fails_cleanly(
        &d,
        request(fake.reference("app:v2"), None),
        &[Code::NotFound],
    );
    fails_cleanly(
        &d,
        request(fake.reference("nothing:v1"), None),
        &[Code::NotFound],
    );
    let missing = format!("app@sha256:{}", "1".repeat(64));
    fails_cleanly(
        &d,
        request(fake.reference(&missing), None),
        &[Code::NotFound],
    );
    let out = d.ctl(&["pull", &fake.reference("app:v2")]);
    out.assert_code(125);
    out.assert_clean_failure();
}

#[test]
fn redirected_blob_downloads_succeed() {
    let fake = FakeRegistry::start().unwrap();
    let image = two_layer_image();
    fake.add_image("app", "v1", &image);
    fake.redirect_blobs();
    let d = daemon();
    let pulled = pulls(&d, request(fake.reference("app:v1"), None));
    assert_eq!(pulled.result.image.unwrap().id, image.config.digest);
    let from_storage: Vec<String> = fake
        .requests()
        .into_iter()
        .filter(|r| r.storage && r.method == "GET")
        .map(|r| r.target)
        .collect();
    for layer in &image.layers {
        assert!(
            from_storage.iter().any(|t| t.contains(&layer.blob.digest)),
            "{} not fetched from storage: {from_storage:?}",
            layer.blob.digest
        );
    }
    // The image has no binaries: read the layer's file through a created container.
    let id = d.ok(&["create", &fake.reference("app:v1"), "true"]);
    let tar = d.ok(&["cp", &format!("{id}:/bottom/one"), "-"]);
    assert!(tar.contains("the first layer"), "{tar}");
}

#[test]
fn bearer_token_auth_with_scopes() {
    let fake = FakeRegistry::start().unwrap();
    let image = two_layer_image();
    fake.add_image("team/app", "v1", &image);
    let login = Login::new("alice", "open sesame");
    fake.require_bearer(login.clone());
    let d = daemon();
    let reference = fake.reference("team/app:v1");

    fails_cleanly(
        &d,
        request(reference.clone(), None),
        &[Code::Unauthenticated],
    );
    let wrong = Login::new("alice", "wrong");
    let status = fails_cleanly(
        &d,
        request(reference.clone(), Some(auth_of(&wrong))),
        &[Code::Unauthenticated],
    );
    assert!(
        status.message().contains(BAD_CREDENTIALS_MESSAGE),
        "the registry's message: {status:?}"
    );

    let pulled = pulls(&d, request(reference, Some(auth_of(&login))));
    assert_eq!(pulled.result.image.unwrap().id, image.config.digest);
    let requests = fake.requests();
    let token = requests
        .iter()
        .rfind(|r| r.target.starts_with("/token"))
        .unwrap();
    assert!(
        token
            .target
            .contains("scope=repository%3Ateam%2Fapp%3Apull")
            || token.target.contains("scope=repository:team/app:pull"),
        "{}",
        token.target
    );
    assert!(
        token.target.contains(&format!("service={SERVICE}")),
        "{}",
        token.target
    );
    assert!(token.header("authorization").unwrap().starts_with("Basic "));
    let bearer = requests
        .iter()
        .filter(|r| r.target.starts_with("/v2/team/app/"))
        .rev()
        .find_map(|r| r.header("authorization"))
        .unwrap();
    assert_eq!(bearer, "Bearer token-of-alice");
}

#[test]
fn layers_that_try_to_escape_change_nothing_outside() {
    let victim = tempfile::Builder::new()
        .prefix("berth-victim-")
        .tempdir_in("/tmp")
        .unwrap();
    std::fs::write(victim.path().join("victim"), "original").unwrap();
    let v = victim
        .path()
        .to_str()
        .unwrap()
        .trim_start_matches('/')
        .to_owned();
    let up = "../../../../../../../../..";
    let dotdot = format!("{up}/{v}/dotdot");
    let absolute = format!("/{v}/absolute");
    let through = "link/through-symlink".to_owned();
    let victim_abs = format!("/{v}/victim");
    let victim_rel = format!("{up}/{v}/victim");
    let whiteout_up = format!("{up}/{v}/.wh.victim");
    let cases: Vec<(&str, Vec<RawEntry<'_>>)> = vec![
        ("dotdot", vec![RawEntry::File(&dotdot, b"escaped")]),
        ("absolute", vec![RawEntry::File(&absolute, b"escaped")]),
        (
            "symlink",
            vec![
                RawEntry::Symlink("link", &absolute[..absolute.len() - "/absolute".len()]),
                RawEntry::File(&through, b"escaped"),
            ],
        ),
        (
            "hardlink-absolute",
            vec![RawEntry::Hardlink("hard", &victim_abs)],
        ),
        (
            "hardlink-dotdot",
            vec![RawEntry::Hardlink("hard", &victim_rel)],
        ),
        ("whiteout-dotdot", vec![RawEntry::File(&whiteout_up, b"")]),
        (
            "whiteout-of-dotdot",
            vec![RawEntry::Dir("sub/"), RawEntry::File("sub/.wh...", b"")],
        ),
    ];
    // `..` and hardlinks out of the root are refused outright.
    let refused = [
        "dotdot",
        "hardlink-absolute",
        "hardlink-dotdot",
        "whiteout-dotdot",
    ];
    let fake = FakeRegistry::start().unwrap();
    let d = daemon();
    for (name, entries) in cases {
        let layer = Layer::from_tar(&raw_tar(&entries).unwrap(), Compression::Gzip).unwrap();
        let image = Image::build(vec![layer], Platform::AMD64, &["true"]);
        fake.add_image("evil", name, &image);
        let before = StoreFingerprint::of(&d);
        let outcome = pull(&d, request(fake.reference(&format!("evil:{name}")), None));
        let mut outside: Vec<String> = std::fs::read_dir(victim.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        outside.sort();
        assert_eq!(
            outside,
            ["victim"],
            "{name}: something escaped ({outcome:?})"
        );
        assert_eq!(
            std::fs::read_to_string(victim.path().join("victim")).unwrap(),
            "original",
            "{name}"
        );
        match outcome {
            Err(status) => {
                if refused.contains(&name) {
                    assert!(
                        matches!(status.code(), Code::InvalidArgument | Code::DataLoss),
                        "{name}: {status:?}"
                    );
                }
                assert_store_is(&d, &before);
            }
            // Absolute names and symlinks may be contained in the snapshot instead.
            Ok(_) => assert!(!refused.contains(&name), "{name}: an escape was accepted"),
        }
    }
}

#[test]
fn a_pull_larger_than_the_free_space_is_refused_before_downloading() {
    let fake = FakeRegistry::start().unwrap();
    // 16 KiB of incompressible bytes.
    let mut state = 0x2545_f491_4f6c_dd1du64;
    let noise: Vec<u8> = (0..16 * 1024)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state as u8
        })
        .collect();
    let layer = Layer::from_tar(
        &tar_of_files(&[("noise", &noise)]).unwrap(),
        Compression::Gzip,
    )
    .unwrap();
    let image = Image::build(vec![layer], Platform::AMD64, &["true"]);
    fake.add_image("big", "v1", &image);
    let d = Daemon::start().unwrap();
    // The content store on a 16 KiB filesystem: room for the manifest and config, not more.
    let content = d.root().join("content");
    nix::mount::mount(
        Some("tmpfs"),
        &content,
        Some("tmpfs"),
        nix::mount::MsFlags::empty(),
        Some("size=16k"),
    )
    .unwrap();
    for dir in ["blobs/sha256", "ingest"] {
        std::fs::create_dir_all(content.join(dir)).unwrap();
    }
    let status = fails_cleanly(
        &d,
        request(fake.reference("big:v1"), None),
        &[Code::ResourceExhausted],
    );
    nix::mount::umount(&content).unwrap();
    assert!(
        status.message().contains("not enough disk space"),
        "{status:?}"
    );
    let layer_fetched = fake
        .requests()
        .iter()
        .any(|r| r.target.contains(&image.layers[0].blob.digest));
    assert!(!layer_fetched, "the layer was downloaded anyway");
}
