//! Save and load, as root: Berth's save is both a Docker archive and an OCI layout, loads of
//! OCI layouts (nested indexes), Docker's legacy form, round trips with identical IDs,
//! history, and bad archives that must leave nothing behind.

#![allow(clippy::unwrap_used)]

mod common;
mod layout;

use std::collections::BTreeMap;
use std::fs;
use std::io::Read;

use berth_image::{ImageError, ImportOptions, Reference};
use common::{busybox_rootfs, is_root, tar_of, RawTar, TestStore};
use layout::{descriptor, digest, image, layer_with, legacy_tar, oci_tar, Built};
use serde_json::{json, Value};

/// The regular files of a tar, by name.
fn files(tar: &[u8]) -> BTreeMap<String, Vec<u8>> {
    let mut archive = tar::Archive::new(tar);
    let mut out = BTreeMap::new();
    for entry in archive.entries().unwrap() {
        let mut entry = entry.unwrap();
        if entry.header().entry_type() == tar::EntryType::Regular {
            let name = entry.path().unwrap().to_string_lossy().into_owned();
            let mut body = Vec::new();
            entry.read_to_end(&mut body).unwrap();
            out.insert(name, body);
        }
    }
    out
}

fn three_layers() -> Built {
    image(
        &[
            layer_with("etc/one", b"1"),
            layer_with("etc/two", b"22"),
            layer_with("usr/three", b"333"),
        ],
        true,
        None,
    )
}

fn load(t: &TestStore, tar: &[u8]) -> Result<Vec<berth_image::LoadedImage>, ImageError> {
    t.store.load(&mut &tar[..])
}

#[test]
fn save_writes_a_docker_archive_and_an_oci_layout_that_load_back_identically() {
    if !is_root() {
        return;
    }
    let t = TestStore::new();
    let work = tempfile::tempdir().unwrap();
    let rootfs = busybox_rootfs(work.path());
    let options = ImportOptions {
        reference: Some(Reference::parse("busybox:latest").unwrap()),
        ..Default::default()
    };
    let busybox = t
        .store
        .import(&mut tar_of(&rootfs).as_slice(), &options)
        .unwrap();
    let built = three_layers();
    let tar = oci_tar(
        vec![descriptor(&built, Some("host:5000/app:v1"))],
        &built.blobs(),
    );
    let loaded = load(&t, &tar).unwrap();
    assert_eq!(loaded.len(), 1);
    assert_eq!(loaded[0].image.id, built.id());
    assert_eq!(loaded[0].tags, ["host:5000/app:v1"]);
    t.store
        .tag(&built.id(), &Reference::parse("app:extra").unwrap())
        .unwrap();

    let mut saved = Vec::new();
    let names = ["busybox".to_string(), "host:5000/app:v1".to_string()];
    t.store.save(&names, &mut saved).unwrap();
    let entries = files(&saved);
    assert_eq!(
        entries["oci-layout"],
        br#"{"imageLayoutVersion":"1.0.0"}"#.to_vec()
    );
    for blob in built.blobs() {
        let name = format!("blobs/sha256/{}", layout::hex_of(&blob.0));
        assert_eq!(entries[&name], blob.1, "{name}");
    }
    let manifest: Value = serde_json::from_slice(&entries["manifest.json"]).unwrap();
    assert_eq!(manifest[0]["RepoTags"], json!(["busybox:latest"]));
    assert_eq!(
        manifest[0]["Config"],
        format!("blobs/sha256/{}", layout::hex_of(&busybox.id))
    );
    assert_eq!(manifest[1]["RepoTags"], json!(["host:5000/app:v1"]));
    assert_eq!(manifest[1]["Layers"].as_array().unwrap().len(), 3);
    let index: Value = serde_json::from_slice(&entries["index.json"]).unwrap();
    let annotations = &index["manifests"][1]["annotations"];
    assert_eq!(annotations["org.opencontainers.image.ref.name"], "v1");
    assert_eq!(annotations["io.containerd.image.name"], "host:5000/app:v1");
    assert_eq!(index["manifests"][1]["digest"], built.manifest_digest());

    // Into an empty store: the same IDs, the tags that were saved (not app:extra).
    let other = TestStore::new();
    let loaded = load(&other, &saved).unwrap();
    let ids: Vec<&str> = loaded.iter().map(|l| l.image.id.as_str()).collect();
    assert_eq!(ids, [busybox.id.as_str(), built.id().as_str()]);
    assert_eq!(
        other.store.get("busybox").unwrap().repo_tags,
        ["docker.io/library/busybox:latest"]
    );
    assert_eq!(
        other.store.get(&built.id()).unwrap().repo_tags,
        ["host:5000/app:v1"]
    );
    let layers = other.store.layer_dirs("host:5000/app:v1").unwrap();
    assert_eq!(fs::read(layers[0].join("usr/three")).unwrap(), b"333");
    assert_eq!(fs::read(layers[2].join("etc/one")).unwrap(), b"1");
    let bin = other.store.layer_dirs("busybox").unwrap()[0].join("bin/busybox");
    assert_eq!(fs::read(bin).unwrap(), fs::read("/bin/busybox").unwrap());
    // Loading again changes nothing and keeps no extra blobs.
    let blobs = other.names("content/blobs/sha256");
    load(&other, &saved).unwrap();
    assert_eq!(other.names("content/blobs/sha256"), blobs);
    assert_eq!(other.names("content/ingest"), Vec::<String>::new());
}

#[test]
fn save_by_id_keeps_no_tag() {
    if !is_root() {
        return;
    }
    let t = TestStore::new();
    let built = three_layers();
    load(
        &t,
        &oci_tar(vec![descriptor(&built, Some("app:v1"))], &built.blobs()),
    )
    .unwrap();
    let mut saved = Vec::new();
    t.store
        .save(&[built.id()[..19].to_string()], &mut saved)
        .unwrap();
    let entries = files(&saved);
    let manifest: Value = serde_json::from_slice(&entries["manifest.json"]).unwrap();
    assert_eq!(manifest[0]["RepoTags"], Value::Null);
    let index: Value = serde_json::from_slice(&entries["index.json"]).unwrap();
    assert!(index["manifests"][0].get("annotations").is_none());
    let other = TestStore::new();
    let loaded = load(&other, &saved).unwrap();
    assert_eq!(loaded[0].image.id, built.id());
    assert!(loaded[0].image.repo_tags.is_empty());
    assert!(matches!(
        t.store.save(&["nope".to_string()], &mut Vec::new()),
        Err(ImageError::NotFound(_))
    ));
}

#[test]
fn save_of_a_repository_name_keeps_all_its_tags() {
    if !is_root() {
        return;
    }
    let t = TestStore::new();
    let one = image(&[layer_with("etc/1", b"1")], true, None);
    let two = image(&[layer_with("etc/2", b"2")], true, None);
    load(
        &t,
        &oci_tar(vec![descriptor(&one, Some("app:v1"))], &one.blobs()),
    )
    .unwrap();
    load(
        &t,
        &oci_tar(vec![descriptor(&two, Some("app:v2"))], &two.blobs()),
    )
    .unwrap();
    t.store
        .tag("app:v2", &Reference::parse("other:v2").unwrap())
        .unwrap();
    let mut saved = Vec::new();
    t.store.save(&["app".to_string()], &mut saved).unwrap();
    let manifest: Value = serde_json::from_slice(&files(&saved)["manifest.json"]).unwrap();
    assert_eq!(manifest[0]["RepoTags"], json!(["app:v1"]));
    assert_eq!(manifest[1]["RepoTags"], json!(["app:v2"]));
    assert_eq!(manifest.as_array().unwrap().len(), 2);
}

#[test]
fn legacy_docker_save_archives_load_with_shared_layer_files() {
    if !is_root() {
        return;
    }
    let t = TestStore::new();
    // The same layer twice: Docker writes the second layer.tar as a symlink to the first.
    let same = layer_with("etc/same", b"x");
    let built = image(
        &[same.clone(), layer_with("etc/b", b"b"), same],
        false,
        None,
    );
    let tar = legacy_tar(&built, &["legacy:1"]);
    let loaded = load(&t, &tar).unwrap();
    assert_eq!(loaded[0].image.id, built.id());
    assert_eq!(loaded[0].tags, ["docker.io/library/legacy:1"]);
    assert_eq!(t.store.layer_dirs("legacy:1").unwrap().len(), 3);
    // gzip-compressed layer.tar files are sniffed.
    let gz = image(&[layer_with("etc/gz", b"gz")], true, None);
    let loaded = load(&t, &legacy_tar(&gz, &["legacy:gz"])).unwrap();
    assert_eq!(loaded[0].image.id, gz.id());
    let dir = &t.store.layer_dirs("legacy:gz").unwrap()[0];
    assert_eq!(fs::read(dir.join("etc/gz")).unwrap(), b"gz");
}

#[test]
fn nested_indexes_resolve_to_the_host_platform() {
    if !is_root() {
        return;
    }
    let t = TestStore::new();
    let host = three_layers();
    let arch = oci_spec::image::Arch::default().to_string();
    let other_arch = if arch == "arm64" { "amd64" } else { "arm64" };
    // The other platform's blobs are not in the archive: they are never needed.
    let foreign = image(&[layer_with("etc/foreign", b"f")], true, None);
    let inner = serde_json::to_vec(&json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": [
            {"mediaType": "application/vnd.oci.image.manifest.v1+json",
             "digest": foreign.manifest_digest(), "size": foreign.manifest.len(),
             "platform": {"os": "linux", "architecture": other_arch}},
            {"mediaType": "application/vnd.oci.image.manifest.v1+json",
             "digest": host.manifest_digest(), "size": host.manifest.len(),
             "platform": {"os": "linux", "architecture": arch}},
        ],
    }))
    .unwrap();
    let mut blobs = host.blobs();
    blobs.push((digest(&inner), inner.clone()));
    let top = json!({
        "mediaType": "application/vnd.oci.image.index.v1+json",
        "digest": digest(&inner),
        "size": inner.len(),
        "annotations": {"io.containerd.image.name": "docker.io/library/multi:1"},
    });
    let loaded = load(&t, &oci_tar(vec![top], &blobs)).unwrap();
    assert_eq!(loaded[0].image.id, host.id());
    assert_eq!(t.store.get("multi:1").unwrap().id, host.id());
    // The index blob is not kept: no image references it.
    assert!(!t
        .names("content/blobs/sha256")
        .contains(&layout::hex_of(&digest(&inner)).to_string()));
}

#[test]
fn history_lists_steps_newest_first_with_layer_sizes() {
    if !is_root() {
        return;
    }
    let t = TestStore::new();
    let built = three_layers();
    load(
        &t,
        &oci_tar(vec![descriptor(&built, Some("app:v1"))], &built.blobs()),
    )
    .unwrap();
    let history = t.store.history("app:v1").unwrap();
    assert_eq!(history.len(), 4);
    assert_eq!(history[0].id, built.id());
    assert_eq!(history[0].tags, ["docker.io/library/app:v1"]);
    assert!(history[0].empty_layer);
    assert_eq!(history[0].size, 0);
    assert_eq!(history[0].comment, "config only");
    assert_eq!(history[1].created_by, "RUN step 2");
    assert_eq!(history[1].size, 3);
    assert_eq!(history[3].size, 1);
    assert!(history[1..]
        .iter()
        .all(|h| h.id.is_empty() && h.tags.is_empty()));
    assert_eq!(
        history[3].created.unwrap().to_rfc3339(),
        "2024-01-02T03:04:05+00:00"
    );
}

/// Asserts that a bad archive failed as expected and left nothing.
fn refused(t: &TestStore, tar: &[u8], check: impl Fn(&ImageError) -> bool) {
    let err = load(t, tar).unwrap_err();
    assert!(check(&err), "unexpected error: {err:?}");
    t.assert_empty();
}

#[test]
fn blobs_that_do_not_match_their_digest_or_size_are_data_loss() {
    if !is_root() {
        return;
    }
    let t = TestStore::new();
    let built = three_layers();
    let mut blobs = built.blobs();
    blobs[3].1 = layout::layer_with("etc/evil", b"evil");
    let tar = oci_tar(vec![descriptor(&built, Some("app:v1"))], &blobs);
    refused(
        &t,
        &tar,
        |e| matches!(e, ImageError::Corrupt(m) if m.contains("does not match its digest")),
    );
    // Right bytes, wrong size in the descriptor.
    let mut wrong_size = descriptor(&built, Some("app:v1"));
    wrong_size["size"] = json!(built.manifest.len() + 1);
    let tar = oci_tar(vec![wrong_size], &built.blobs());
    refused(
        &t,
        &tar,
        |e| matches!(e, ImageError::Corrupt(m) if m.contains("bytes")),
    );
}

#[test]
fn a_layer_that_does_not_match_its_diff_id_keeps_nothing() {
    if !is_root() {
        return;
    }
    let t = TestStore::new();
    let good = three_layers();
    let tars = [layer_with("etc/a", b"a"), layer_with("etc/b", b"b")];
    let wrong = vec![digest(&tars[0]), digest(b"something else")];
    let bad = image(&tars, true, Some(wrong));
    // The first image commits, the second fails: the load takes the first back too.
    let mut blobs = good.blobs();
    blobs.extend(bad.blobs());
    let tar = oci_tar(
        vec![
            descriptor(&good, Some("good:1")),
            descriptor(&bad, Some("bad:1")),
        ],
        &blobs,
    );
    refused(
        &t,
        &tar,
        |e| matches!(e, ImageError::Corrupt(m) if m.contains("diff ID mismatch")),
    );
}

#[test]
fn unsafe_names_truncation_and_malformed_documents_are_refused() {
    if !is_root() {
        return;
    }
    let t = TestStore::new();
    let built = three_layers();
    let good = oci_tar(vec![descriptor(&built, Some("app:v1"))], &built.blobs());
    let invalid = |e: &ImageError| matches!(e, ImageError::InvalidArgument(_));
    for name in ["../escape", "/etc/passwd", "blobs/../../x"] {
        let tar = RawTar::new().file(name, b"x").finish();
        refused(&t, &tar, |e| {
            invalid(e) && e.to_string().contains("unsafe archive member name")
        });
    }
    let tar = RawTar::new()
        .symlink("index.json", "../../etc/passwd")
        .finish();
    refused(&t, &tar, |e| {
        invalid(e) && e.to_string().contains("outside")
    });
    // Cut inside the last layer blob, and without the end-of-archive marker.
    refused(&t, &good[..good.len() - 1536], invalid);
    refused(&t, &good[..good.len() / 2], invalid);
    let mixed = serde_json::to_vec(&json!({
        "schemaVersion": 2, "manifests": [], "layers": [], "config": {}
    }))
    .unwrap();
    let tar = oci_tar(
        vec![json!({
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "digest": digest(&mixed), "size": mixed.len(),
        })],
        &[(digest(&mixed), mixed.clone())],
    );
    refused(&t, &tar, |e| {
        e.to_string().contains("mixes index and manifest")
    });
    let tar = RawTar::new().file("hello.txt", b"hi").finish();
    refused(&t, &tar, |e| e.to_string().contains("neither index.json"));
    // A layer media type Berth cannot unpack.
    let mut manifest: Value = serde_json::from_slice(&built.manifest).unwrap();
    manifest["layers"][0]["mediaType"] =
        json!("application/vnd.cncf.helm.chart.content.v1.tar+gzip");
    let manifest = serde_json::to_vec(&manifest).unwrap();
    let mut blobs = built.blobs();
    blobs[0] = (digest(&manifest), manifest.clone());
    let tar = oci_tar(
        vec![json!({
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "digest": digest(&manifest), "size": manifest.len(),
        })],
        &blobs,
    );
    refused(&t, &tar, |e| matches!(e, ImageError::Unsupported(_)));
}
