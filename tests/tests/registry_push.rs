//! `berthctl push` and PushImage to Debian's docker-registry, checked by skopeo: what the
//! registry stores, copying it back out, the import → push → rmi → pull → run round trip, and
//! cross-repository blob mounts.

// Tests may unwrap (project rule); clippy only knows that inside #[test] functions, not in
// the helpers of an integration test crate.
#![allow(clippy::unwrap_used)]

use berth_proto::node::v1::{LayerState, PushImageRequest};
use berth_tests::oci_layout::sha256_digest;
use berth_tests::registry_client::push;
use berth_tests::{Daemon, Registry};
use serde_json::Value;

fn json(raw: &str) -> Value {
    serde_json::from_str(raw).unwrap()
}

fn diff_ids(d: &Daemon, reference: &str) -> Vec<String> {
    let raw = d.ok(&[
        "image",
        "inspect",
        "-f",
        "{{json .RootFS.Layers}}",
        reference,
    ]);
    serde_json::from_str(&raw).unwrap()
}

#[test]
fn pushed_image_reads_back_with_skopeo() {
    let registry = Registry::start().unwrap();
    let d = Daemon::start().unwrap();
    let reference = registry.reference("pushed/busybox:v1");
    let id = d.import_busybox(&reference);

    let out = d.ok(&["push", &reference]);
    let manifest_raw = registry
        .skopeo_inspect("pushed/busybox:v1", &["--raw"])
        .unwrap();
    let manifest_digest = sha256_digest(manifest_raw.as_bytes());
    assert!(
        out.contains(&format!(
            "v1: digest: {manifest_digest} size: {}",
            manifest_raw.len()
        )),
        "{out}"
    );
    let manifest = json(&manifest_raw);
    assert_eq!(
        manifest["config"]["digest"],
        id.as_str(),
        "the config is the image ID"
    );
    let config = json(
        &registry
            .skopeo_inspect("pushed/busybox:v1", &["--raw", "--config"])
            .unwrap(),
    );
    let pushed_diff_ids: Vec<String> =
        serde_json::from_value(config["rootfs"]["diff_ids"].clone()).unwrap();
    assert_eq!(pushed_diff_ids, diff_ids(&d, &reference));
    let inspected = json(&registry.skopeo_inspect("pushed/busybox:v1", &[]).unwrap());
    assert_eq!(inspected["Os"], "linux");
    assert_eq!(inspected["Digest"], manifest_digest.as_str());

    // Copied back out, every blob matches its digest.
    let out_dir = registry.scratch().join("copied");
    registry
        .skopeo_pull("pushed/busybox:v1", &out_dir, "v1")
        .unwrap();
    let layers = manifest["layers"].as_array().unwrap();
    assert_eq!(layers.len(), 1);
    for descriptor in layers.iter().chain([&manifest["config"]]) {
        let digest = descriptor["digest"].as_str().unwrap();
        let bytes = std::fs::read(
            out_dir
                .join("blobs/sha256")
                .join(digest.trim_start_matches("sha256:")),
        )
        .unwrap();
        assert_eq!(sha256_digest(&bytes), digest);
        assert_eq!(bytes.len() as u64, descriptor["size"].as_u64().unwrap());
    }

    // The manifest digest is now one of the image's repo digests.
    let digests = d.ok(&[
        "image",
        "inspect",
        "-f",
        "{{json .RepoDigests}}",
        &reference,
    ]);
    assert!(digests.contains(&manifest_digest), "{digests}");

    // Pushing again uploads nothing.
    let (progress, result) = push(
        &d,
        PushImageRequest {
            reference: reference.clone(),
            ..Default::default()
        },
    )
    .unwrap();
    assert_eq!(result.digest, manifest_digest);
    assert!(
        progress
            .iter()
            .filter(|p| p.state() != LayerState::Waiting)
            .all(|p| p.state() == LayerState::AlreadyExists),
        "{progress:?}"
    );
}

#[test]
fn import_push_rmi_pull_run_round_trip() {
    let registry = Registry::start().unwrap();
    let d = Daemon::start().unwrap();
    let reference = registry.reference("roundtrip:v1");
    let id = d.import_busybox(&reference);
    let before = d.ok(&[
        "run",
        "--rm",
        &reference,
        "sh",
        "-c",
        "echo round trip; ls /bin | wc -l",
    ]);
    d.ok(&["push", &reference]);
    d.ok(&["rmi", &reference]);
    assert_eq!(d.ok(&["images", "-q"]), "");
    let snapshots = std::fs::read_dir(d.root().join("snapshots"))
        .unwrap()
        .count();
    assert_eq!(snapshots, 0);

    d.ok(&["pull", &reference]);
    let pulled = d.ok(&["image", "inspect", "-f", "{{.Id}}", &reference]);
    assert_eq!(pulled, id, "the same image ID after push and pull");
    let after = d.ok(&[
        "run",
        "--rm",
        &reference,
        "sh",
        "-c",
        "echo round trip; ls /bin | wc -l",
    ]);
    assert_eq!(after, before);
}

#[test]
fn second_repository_mounts_the_layers() {
    let registry = Registry::start().unwrap();
    let d = Daemon::start().unwrap();
    let first = registry.reference("first:v1");
    let second = registry.reference("second:v1");
    d.import_busybox(&first);
    d.ok(&["push", &first]);
    let layer = json(&registry.skopeo_inspect("first:v1", &["--raw"]).unwrap())["layers"][0]
        ["digest"]
        .as_str()
        .unwrap()
        .to_owned();

    d.ok(&["tag", &first, &second]);
    let (progress, _) = push(
        &d,
        PushImageRequest {
            reference: second.clone(),
            ..Default::default()
        },
    )
    .unwrap();
    assert!(
        progress
            .iter()
            .any(|p| p.digest == layer && p.state() == LayerState::Mounted),
        "{progress:?}"
    );
    let log = registry.log();
    // Query digests are percent-encoded in the log (`sha256%3A…`): match the hex part. The
    // config blob is mounted too, so look for the layer's line.
    let layer_hex = layer.trim_start_matches("sha256:");
    let mount = log
        .lines()
        .find(|l| {
            l.contains("POST /v2/second/blobs/uploads/")
                && l.contains("mount=")
                && l.contains(layer_hex)
        })
        .unwrap_or_else(|| panic!("no mount request for the layer in the registry log:\n{log}"));
    assert!(mount.contains("from=first"), "{mount}");
    assert!(
        !log.lines()
            .any(|l| l.contains("PUT /v2/second/blobs/uploads/") && l.contains(layer_hex)),
        "the layer was uploaded again:\n{log}"
    );
    registry.skopeo_inspect("second:v1", &[]).unwrap();
}

#[test]
fn push_errors() {
    let registry = Registry::start().unwrap();
    let d = Daemon::start().unwrap();
    // An image that is not in the store.
    let out = d.ctl(&["push", &registry.reference("missing:v1")]);
    out.assert_code(125);
    out.assert_clean_failure();
    let status = push(
        &d,
        PushImageRequest {
            reference: registry.reference("missing:v1"),
            ..Default::default()
        },
    )
    .unwrap_err();
    assert_eq!(status.code(), tonic::Code::NotFound, "{status:?}");

    // A registry that is not there.
    let gone = format!(
        "127.0.0.1:{}/app:v1",
        berth_tests::registry::free_port().unwrap()
    );
    d.import_busybox(&gone);
    let status = push(
        &d,
        PushImageRequest {
            reference: gone,
            ..Default::default()
        },
    )
    .unwrap_err();
    assert_eq!(status.code(), tonic::Code::Unavailable, "{status:?}");
}
