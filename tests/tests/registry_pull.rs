//! `berthctl pull` and PullImage against Debian's docker-registry, seeded by skopeo with images
//! Berth did not make: tags and digests, image IDs, multi-platform indexes, zstd layers,
//! concurrent pulls, and `run` pulling a missing image.

// Tests may unwrap (project rule); clippy only knows that inside #[test] functions, not in
// the helpers of an integration test crate.
#![allow(clippy::unwrap_used)]

use berth_proto::node::v1::PullImageRequest;
use berth_tests::oci_layout::samples::BUSYBOX_MARKER;
use berth_tests::oci_layout::sha256_digest;
use berth_tests::registry::Seeded;
use berth_tests::registry_client::{pull, pull_ref};
use berth_tests::{Daemon, Registry};
use serde_json::Value;

fn seeded_registry() -> (Registry, Seeded) {
    let registry = Registry::start().unwrap();
    let seeded = registry.seed_samples().unwrap();
    (registry, seeded)
}

fn inspect(d: &Daemon, reference: &str) -> Value {
    let raw = d.ok(&["image", "inspect", reference]);
    let v: Value = serde_json::from_str(&raw).unwrap();
    v[0].clone()
}

fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .map(|a| a.iter().map(|s| s.as_str().unwrap().to_owned()).collect())
        .unwrap_or_default()
}

/// The config digest of `path` as skopeo reads the registry's manifest.
fn skopeo_config_digest(registry: &Registry, path: &str) -> String {
    let manifest: Value =
        serde_json::from_str(&registry.skopeo_inspect(path, &["--raw"]).unwrap()).unwrap();
    manifest["config"]["digest"].as_str().unwrap().to_owned()
}

#[test]
fn pull_by_tag_then_by_digest() {
    let (registry, seeded) = seeded_registry();
    let d = Daemon::start().unwrap();
    let reference = registry.reference("busybox:latest");

    let out = d.ok(&["pull", &reference]);
    let manifest_digest = &seeded.busybox.manifest.digest;
    assert!(out.contains(&format!("Digest: {manifest_digest}")), "{out}");
    assert!(out.contains("Downloaded newer image"), "{out}");
    assert_eq!(out.lines().last().unwrap(), reference, "{out}");

    let image = inspect(&d, &reference);
    // The image ID is the config digest, as the registry (read by skopeo) has it.
    assert_eq!(
        image["Id"],
        skopeo_config_digest(&registry, "busybox:latest").as_str()
    );
    assert_eq!(image["Id"], seeded.busybox.config.digest.as_str());
    assert_eq!(strings(&image["RepoTags"]), [reference.as_str()]);
    assert_eq!(
        strings(&image["RepoDigests"]),
        [registry.reference(&format!("busybox@{manifest_digest}"))]
    );
    assert_eq!(
        strings(&image["RootFS"]["Layers"]),
        seeded.busybox.diff_ids()
    );
    let digests = d.ok(&["images", "--digests", "--format", "{{.Digest}}"]);
    assert_eq!(digests, *manifest_digest);

    assert_eq!(d.ok(&["run", "--rm", &reference]), BUSYBOX_MARKER);

    // Pulling again changes nothing.
    let again = d.ok(&["pull", &reference]);
    assert!(again.contains("Image is up to date"), "{again}");
    let pulled = pull_ref(&d, &reference).unwrap();
    assert!(pulled.result.up_to_date);
    assert_eq!(pulled.result.digest, *manifest_digest);

    // By digest: the amd64 manifest of the index, untagged, known by its repo digest.
    let amd64 = &seeded.amd64.manifest.digest;
    let by_digest = registry.reference(&format!("multi@{amd64}"));
    let out = d.ok(&["pull", &by_digest]);
    assert!(out.contains(&format!("Digest: {amd64}")), "{out}");
    let image = inspect(&d, &by_digest);
    assert_eq!(image["Id"], seeded.amd64.config.digest.as_str());
    assert_eq!(strings(&image["RepoTags"]), Vec::<String>::new());
    assert_eq!(strings(&image["RepoDigests"]), [by_digest.as_str()]);
    assert_eq!(d.ok(&["run", "--rm", &by_digest]), "amd64");
}

#[test]
fn platform_picks_the_index_entry() {
    let (registry, seeded) = seeded_registry();
    let d = Daemon::start().unwrap();
    let reference = registry.reference("multi:latest");

    let pulled = pull_ref(&d, &reference).unwrap();
    assert_eq!(
        pulled.result.digest, seeded.index.digest,
        "the index digest"
    );
    let image = pulled.result.image.unwrap();
    assert_eq!(image.id, seeded.amd64.config.digest, "the host's platform");
    assert_eq!(image.architecture, "amd64");
    assert_eq!(image.root_fs.unwrap().diff_ids, seeded.amd64.diff_ids());
    assert_eq!(
        strings(&inspect(&d, &reference)["RepoDigests"]),
        [registry.reference(&format!("multi@{}", seeded.index.digest))]
    );
    assert_eq!(d.ok(&["run", "--rm", &reference]), "amd64");

    // The arm64 entry: the tag moves to it (it need not run here).
    let out = d.ok(&["pull", "--platform", "linux/arm64", &reference]);
    assert!(
        out.contains(&format!("Digest: {}", seeded.index.digest)),
        "{out}"
    );
    let image = inspect(&d, &reference);
    assert_eq!(image["Id"], seeded.arm64.config.digest.as_str());
    assert_eq!(image["Architecture"], "arm64");
    assert_eq!(strings(&image["RootFS"]["Layers"]), seeded.arm64.diff_ids());
    // The two share the busybox layer: one more snapshot, for the arm64 top layer.
    let snapshots = std::fs::read_dir(d.root().join("snapshots"))
        .unwrap()
        .count();
    assert_eq!(snapshots, 3, "busybox + amd64 top + arm64 top");

    let bad = pull(
        &d,
        PullImageRequest {
            reference: reference.clone(),
            platform: "linux/s390x".into(),
            ..Default::default()
        },
    )
    .unwrap_err();
    // No entry for the platform: nothing to pull (Docker: "no matching manifest").
    assert!(
        matches!(
            bad.code(),
            tonic::Code::NotFound | tonic::Code::InvalidArgument
        ),
        "{bad:?}"
    );
    assert!(bad.message().contains("s390x"), "{bad:?}");
    let malformed = pull(
        &d,
        PullImageRequest {
            reference,
            platform: "not a platform/".into(),
            ..Default::default()
        },
    )
    .unwrap_err();
    assert_eq!(
        malformed.code(),
        tonic::Code::InvalidArgument,
        "{malformed:?}"
    );
}

#[test]
fn docker_schema2_manifest_list_pulls_and_runs() {
    let (registry, seeded) = seeded_registry();
    let d = Daemon::start().unwrap();
    let list_raw = registry
        .skopeo_inspect("docker:latest", &["--raw"])
        .unwrap();
    let list: Value = serde_json::from_str(&list_raw).unwrap();
    let amd64_entry = list["manifests"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["platform"]["architecture"] == "amd64")
        .unwrap();
    let amd64_digest = amd64_entry["digest"].as_str().unwrap();
    let config_digest = skopeo_config_digest(&registry, &format!("docker@{amd64_digest}"));

    let pulled = pull_ref(&d, &registry.reference("docker:latest")).unwrap();
    assert_eq!(pulled.result.digest, sha256_digest(list_raw.as_bytes()));
    let image = pulled.result.image.unwrap();
    assert_eq!(
        image.id, config_digest,
        "the ID is the Docker config's digest"
    );
    assert_eq!(image.root_fs.unwrap().diff_ids, seeded.amd64.diff_ids());
    assert_eq!(
        d.ok(&["run", "--rm", &registry.reference("docker:latest")]),
        "amd64"
    );
}

#[test]
fn zstd_layer_pulls_and_runs() {
    let (registry, seeded) = seeded_registry();
    let d = Daemon::start().unwrap();
    let reference = registry.reference("zstd:latest");
    let pulled = pull_ref(&d, &reference).unwrap();
    let image = pulled.result.image.unwrap();
    assert_eq!(image.id, seeded.zstd.config.digest);
    assert_eq!(image.root_fs.unwrap().diff_ids, seeded.zstd.diff_ids());
    assert!(
        pulled
            .progress
            .iter()
            .any(|p| p.digest == seeded.zstd.layers[0].blob.digest),
        "progress names the zstd layer: {:?}",
        pulled.progress
    );
    assert_eq!(d.ok(&["run", "--rm", &reference]), BUSYBOX_MARKER);
}

#[test]
fn concurrent_pulls_share_one_download() {
    let (registry, seeded) = seeded_registry();
    let d = Daemon::start().unwrap();
    let reference = registry.reference("busybox:latest");
    let results: Vec<_> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..2)
            .map(|_| scope.spawn(|| pull_ref(&d, &reference)))
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    for result in &results {
        let pulled = result.as_ref().unwrap();
        assert_eq!(
            pulled.result.image.as_ref().unwrap().id,
            seeded.busybox.config.digest
        );
    }
    let layer = &seeded.busybox.layers[0].blob.digest;
    let downloads = registry
        .log()
        .lines()
        .filter(|l| l.contains(&format!("\"GET /v2/busybox/blobs/{layer}")))
        .count();
    assert_eq!(
        downloads,
        1,
        "one download of the layer:\n{}",
        registry.log()
    );
    let snapshots = std::fs::read_dir(d.root().join("snapshots"))
        .unwrap()
        .count();
    assert_eq!(snapshots, 1);
    assert_eq!(d.ok(&["images", "-q"]).lines().count(), 1);
}

#[test]
fn run_pulls_a_missing_image_quietly_on_stdout() {
    let (registry, _seeded) = seeded_registry();
    let d = Daemon::start().unwrap();
    let reference = registry.reference("busybox:latest");

    let never = d.ctl(&["run", "--rm", "--pull", "never", &reference]);
    never.assert_code(125);
    never.assert_clean_failure();

    let out = d.ctl(&["run", "--rm", &reference]);
    out.assert_success();
    assert_eq!(
        out.stdout,
        format!("{BUSYBOX_MARKER}\n"),
        "stdout is the container's"
    );
    assert!(
        out.stderr
            .contains(&format!("Unable to find image '{reference}' locally")),
        "{}",
        out.stderr
    );

    // Present now: no pull, nothing on stderr.
    let out = d.ctl(&["run", "--rm", "--pull", "missing", &reference]);
    out.assert_success();
    assert_eq!(out.stderr, "");
    assert_eq!(out.stdout, format!("{BUSYBOX_MARKER}\n"));

    // `always` pulls again, up to date, and still keeps stdout clean.
    let out = d.ctl(&["run", "--rm", "--pull", "always", &reference]);
    out.assert_success();
    assert_eq!(out.stdout, format!("{BUSYBOX_MARKER}\n"));
}

#[test]
fn pull_of_a_bad_reference_is_invalid_argument() {
    let d = Daemon::start().unwrap();
    let out = d.ctl(&["pull", "Not/A/Valid:Reference:"]);
    out.assert_code(125);
    let line = out.assert_clean_failure();
    assert!(line.starts_with("Error"), "{line}");
    // As in Docker, an upper-case first component is a registry host; an upper-case
    // repository path is the error.
    let status = pull_ref(&d, "127.0.0.1:1/UPPER/case").unwrap_err();
    assert_eq!(status.code(), tonic::Code::InvalidArgument, "{status:?}");
}
