//! Save, load, history and prune through berthd and berthctl, with skopeo as the outside
//! tool: Berth's save output is read by skopeo as a docker-archive and an oci-archive, and
//! archives skopeo writes from an OCI layout load into Berth with the same image ID.

// Tests may unwrap (project rule); clippy only knows that inside #[test] functions, not in
// the helpers of an integration test crate.
#![allow(clippy::unwrap_used)]

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use berth_tests::daemon::{busybox_tar, BUSYBOX};
use berth_tests::runtime::sibling_binary;
use berth_tests::Daemon;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

fn digest(bytes: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(bytes)))
}

/// Runs skopeo (with an accept-anything policy: these are local files), asserting success.
fn skopeo(args: &[&str]) -> String {
    let out = Command::new("skopeo")
        .arg("--insecure-policy")
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "skopeo {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// Runs a shell pipeline with `$CTL` set to `berthctl -H <daemon>`.
fn pipeline(d: &Daemon, script: &str) -> String {
    let ctl = format!(
        "{} -H {}",
        sibling_binary("berthctl").unwrap().display(),
        d.host()
    );
    let out = Command::new("sh")
        .arg("-c")
        .arg(script)
        .env("CTL", ctl)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{script}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn path(p: &Path) -> String {
    p.to_string_lossy().into_owned()
}

/// The store's directories hold nothing (no image, blob, snapshot or ingest).
fn assert_store_empty(d: &Daemon) {
    assert_eq!(d.ok(&["images", "-qa"]), "");
    for dir in ["snapshots", "content/blobs/sha256", "content/ingest"] {
        let names: Vec<_> = fs::read_dir(d.root().join(dir)).unwrap().collect();
        assert!(names.is_empty(), "{dir} is not empty: {names:?}");
    }
}

/// A busybox OCI image layout made by hand (one uncompressed layer); returns its directory
/// and the config digest (the image ID).
fn busybox_layout(d: &Daemon) -> (PathBuf, String) {
    let layer = fs::read(busybox_tar(&d.scratch()).unwrap()).unwrap();
    let config = serde_json::to_vec(&json!({
        "created": "2024-05-06T07:08:09Z",
        "architecture": oci_spec::image::Arch::default().to_string(),
        "os": "linux",
        "config": {"Cmd": ["sh"], "Env": ["PATH=/bin"]},
        "rootfs": {"type": "layers", "diff_ids": [digest(&layer)]},
        "history": [{"created": "2024-05-06T07:08:09Z", "created_by": "ADD busybox /"}],
    }))
    .unwrap();
    let manifest = serde_json::to_vec(&json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                   "digest": digest(&config), "size": config.len()},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar",
                    "digest": digest(&layer), "size": layer.len()}],
    }))
    .unwrap();
    let dir = d.scratch().join("layout");
    let blobs = dir.join("blobs/sha256");
    fs::create_dir_all(&blobs).unwrap();
    for blob in [&layer, &config, &manifest] {
        let name = digest(blob).replace("sha256:", "");
        fs::write(blobs.join(name), blob).unwrap();
    }
    fs::write(dir.join("oci-layout"), r#"{"imageLayoutVersion":"1.0.0"}"#).unwrap();
    let index = json!({"schemaVersion": 2, "manifests": [{
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "digest": digest(&manifest), "size": manifest.len(),
        "annotations": {"org.opencontainers.image.ref.name": "latest"},
    }]});
    fs::write(dir.join("index.json"), index.to_string()).unwrap();
    (dir, digest(&config))
}

#[test]
fn save_then_load_keeps_ids_and_tags_and_skopeo_reads_the_archive() {
    let d = Daemon::with_busybox().unwrap();
    let id = d.ok(&["image", "inspect", "-f", "{{.Id}}", BUSYBOX]);
    d.ok(&["tag", BUSYBOX, "localhost:5000/tools/box:v2"]);
    let tar = d.scratch().join("saved.tar");
    d.ok(&[
        "save",
        "-o",
        &path(&tar),
        BUSYBOX,
        "localhost:5000/tools/box:v2",
    ]);

    // skopeo reads it both ways, and sees the same config.
    let docker: Value = serde_json::from_str(&skopeo(&[
        "inspect",
        "--config",
        &format!("docker-archive:{}:busybox:latest", path(&tar)),
    ]))
    .unwrap();
    assert_eq!(docker["rootfs"]["type"], "layers");
    let oci: Value = serde_json::from_str(&skopeo(&[
        "inspect",
        &format!("oci-archive:{}:v2", path(&tar)),
    ]))
    .unwrap();
    assert_eq!(oci["Layers"].as_array().unwrap().len(), 1);
    let raw_config = skopeo(&[
        "inspect",
        "--raw",
        "--config",
        &format!("oci-archive:{}:v2", path(&tar)),
    ]);
    assert_eq!(digest(raw_config.as_bytes()), id);

    d.ok(&["rmi", BUSYBOX, "localhost:5000/tools/box:v2"]);
    assert_store_empty(&d);
    let loaded = d.ok(&["load", "-i", &path(&tar)]);
    assert_eq!(
        loaded,
        "Loaded image: busybox:latest\nLoaded image: localhost:5000/tools/box:v2"
    );
    assert_eq!(d.ok(&["image", "inspect", "-f", "{{.Id}}", BUSYBOX]), id);
    assert_eq!(
        d.ok(&["run", "--rm", "localhost:5000/tools/box:v2", "echo", "hi"]),
        "hi"
    );

    // By ID, through pipes: no tag travels.
    let out = pipeline(
        &d,
        &format!(
            "$CTL save {id} > {0}/by-id.tar && $CTL rmi busybox localhost:5000/tools/box:v2 \
             > /dev/null && $CTL load < {0}/by-id.tar",
            path(&d.scratch())
        ),
    );
    assert_eq!(out.trim(), format!("Loaded image ID: {id}"));
    let listed = d.ok(&["images", "--format", "{{.Repository}}:{{.Tag}}"]);
    assert_eq!(listed, "<none>:<none>");
    // A terminal on stdout is refused, as in Docker (`script` gives the command a pty).
    let ctl = format!(
        "{} -H {} save busybox",
        sibling_binary("berthctl").unwrap().display(),
        d.host()
    );
    let out = Command::new("script")
        .args(["-qec", &ctl, "/dev/null"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(125));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains(
            "Error: cowardly refusing to save to a terminal. Use the -o flag or redirect"
        ),
        "{text}"
    );
    // Unknown images fail before anything is written.
    let missing = d.ctl(&["save", "-o", &path(&d.scratch().join("x.tar")), "nope:1"]);
    missing.assert_code(125);
    assert!(missing.stderr.contains("No such image"), "{missing:?}");
    assert!(!d.scratch().join("x.tar").exists());
}

#[test]
fn archives_written_by_skopeo_load_with_the_same_id() {
    let d = Daemon::start().unwrap();
    let (layout, id) = busybox_layout(&d);
    let source = format!("oci:{}:latest", path(&layout));
    let docker_archive = d.scratch().join("docker.tar");
    skopeo(&[
        "copy",
        &source,
        &format!("docker-archive:{}:skopeo/busybox:v1", path(&docker_archive)),
    ]);
    let oci_archive = d.scratch().join("oci.tar");
    skopeo(&[
        "copy",
        &source,
        &format!("oci-archive:{}:busybox:oci", path(&oci_archive)),
    ]);

    let out = d.ok(&["load", "-i", &path(&docker_archive)]);
    assert_eq!(out, "Loaded image: skopeo/busybox:v1");
    assert_eq!(
        d.ok(&["image", "inspect", "-f", "{{.Id}}", "skopeo/busybox:v1"]),
        id
    );
    let out = d.ctl_stdin(&["load", "-q"], &fs::read(&oci_archive).unwrap());
    out.assert_success();
    assert_eq!(out.stdout.trim(), "Loaded image: busybox:oci");
    assert_eq!(
        d.ok(&["image", "inspect", "-f", "{{.Id}}", "busybox:oci"]),
        id
    );
    assert_eq!(
        d.ok(&["run", "--rm", "busybox:oci", "echo", "from skopeo"]),
        "from skopeo"
    );
    let history = d.ok(&[
        "history",
        "--no-trunc",
        "--format",
        "{{.ID}} {{.CreatedBy}}",
        "busybox:oci",
    ]);
    assert_eq!(history, format!("{id} ADD busybox /"));
}

#[test]
fn history_rmi_and_prune_follow_docker() {
    let d = Daemon::with_busybox().unwrap();
    let id = d.ok(&["image", "inspect", "-f", "{{.Id}}", BUSYBOX]);
    let history = d.ok(&["history", BUSYBOX]);
    let lines: Vec<&str> = history.lines().collect();
    assert!(
        lines[0].starts_with("IMAGE")
            && lines[0].contains("CREATED BY")
            && lines[0].ends_with("COMMENT"),
        "{history}"
    );
    assert!(lines[1].starts_with(&id[7..19]), "{history}");
    assert_eq!(d.ok(&["history", "-q", BUSYBOX]), &id[7..19]);
    let raw = d.ok(&["history", "--human=false", "--format", "{{.Size}}", BUSYBOX]);
    assert!(raw.parse::<u64>().unwrap() > 500_000, "{raw}");

    // A second, untagged image: dangling. The prompt declines without "y".
    d.import_busybox("other:1");
    d.ok(&["run", "--name", "user", BUSYBOX, "true"]);
    d.ok(&["tag", "other:1", "other:2"]);
    d.ok(&["rmi", "other:1"]);
    let declined = d.ctl_stdin(&["image", "prune"], b"n\n");
    declined.assert_success();
    assert!(declined
        .stdout
        .contains("WARNING! This will remove all dangling images."));
    assert!(!declined.stdout.contains("Total reclaimed space"));
    // An untagged import (same layer, new config) is dangling.
    let tar = busybox_tar(&d.scratch()).unwrap();
    let dangling = d.ok(&["import", &path(&tar)]);
    assert_eq!(
        d.ok(&["images", "-q", "--filter", "dangling=true", "--no-trunc"]),
        dangling
    );
    let pruned = d.ctl_stdin(&["image", "prune"], b"y\n");
    pruned.assert_success();
    assert!(
        pruned.stdout.contains(&format!("deleted: {dangling}")),
        "{pruned:?}"
    );
    assert!(
        pruned.stdout.contains("Total reclaimed space:"),
        "{pruned:?}"
    );
    assert_eq!(d.ok(&["images", "-q", "--filter", "dangling=true"]), "");

    // In use: rmi refuses, -f only untags; prune -a keeps it.
    let refused = d.ctl(&["rmi", BUSYBOX]);
    assert!(
        refused.assert_clean_failure().contains("container"),
        "{refused:?}"
    );
    let pruned = d.ok(&["image", "prune", "-a", "-f"]);
    assert!(pruned.contains("untagged: other:2"), "{pruned}");
    assert!(!pruned.contains(&id), "{pruned}");
    assert_eq!(d.ok(&["images", "-q", "--no-trunc"]), id);

    // system prune: the stopped container, then its image.
    let pruned = d.ok(&["system", "prune", "-a", "-f"]);
    assert!(pruned.starts_with("Deleted Containers:\n"), "{pruned}");
    assert!(pruned.contains(&format!("deleted: {id}")), "{pruned}");
    assert!(pruned.ends_with("B"), "{pruned}");
    assert_store_empty(&d);
}

#[test]
fn images_filters_digests_and_export_import_pipes() {
    let d = Daemon::with_busybox().unwrap();
    d.ok(&["tag", BUSYBOX, "localhost:5000/team/app:v1"]);
    let by_glob = d.ok(&[
        "images",
        "--format",
        "{{.Repository}}:{{.Tag}}",
        "--filter",
        "reference=busy*",
    ]);
    assert_eq!(by_glob, "busybox:latest");
    let full = d.ok(&[
        "images",
        "--format",
        "{{.Repository}}",
        "--filter",
        "reference=localhost:5000/team/*",
    ]);
    assert_eq!(full, "localhost:5000/team/app");
    let digests = d.ok(&["images", "--digests"]);
    assert!(
        digests.lines().next().unwrap().contains("DIGEST"),
        "{digests}"
    );
    let inspect: Value = serde_json::from_str(&d.ok(&["image", "inspect", BUSYBOX])).unwrap();
    for key in ["RepoTags", "RepoDigests", "Config", "RootFS", "Size"] {
        assert!(inspect[0].get(key).is_some(), "{key} missing: {inspect}");
    }
    // system df counts the unpacked layer once, at its real size.
    let df = d.ok(&[
        "system",
        "df",
        "--format",
        "{{.Type}} {{.TotalCount}} {{.Size}}",
    ]);
    let size: u64 = d
        .ok(&["image", "inspect", "-f", "{{.Size}}", BUSYBOX])
        .parse()
        .unwrap();
    assert!(size > 500_000, "{size}");
    let first = df.lines().next().unwrap();
    assert!(
        first.starts_with("Images 1 ") && !first.ends_with(" 0B"),
        "{df}"
    );

    d.ok(&[
        "run",
        "--name",
        "src",
        BUSYBOX,
        "sh",
        "-c",
        "echo exported > /marker",
    ]);
    pipeline(&d, "$CTL export src | $CTL import - piped:v1 > /dev/null");
    assert_eq!(
        d.ok(&["run", "--rm", "piped:v1", "cat", "/marker"]),
        "exported"
    );
}

#[test]
fn bad_archives_fail_cleanly_and_keep_nothing() {
    let d = Daemon::start().unwrap();
    let (layout, _) = busybox_layout(&d);
    let archive = d.scratch().join("good.tar");
    skopeo(&[
        "copy",
        &format!("oci:{}:latest", path(&layout)),
        &format!("oci-archive:{}:x:1", path(&archive)),
    ]);
    let good = fs::read(&archive).unwrap();

    // The layout with one byte of the layer blob flipped, tarred: the blob no longer matches
    // its name (DATA_LOSS).
    let layer_path = fs::read_dir(layout.join("blobs/sha256"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .max_by_key(|p| fs::metadata(p).unwrap().len())
        .unwrap();
    let mut layer = fs::read(&layer_path).unwrap();
    let middle = layer.len() / 2;
    layer[middle] ^= 0x20;
    fs::write(&layer_path, layer).unwrap();
    let tarred = d.scratch().join("corrupt.tar");
    let status = Command::new("tar")
        .arg("-C")
        .arg(&layout)
        .arg("-cf")
        .arg(&tarred)
        .arg(".")
        .status()
        .unwrap();
    assert!(status.success());
    let corrupt = fs::read(&tarred).unwrap();
    let out = d.ctl_stdin(&["load"], &corrupt);
    out.assert_code(125);
    let message = out.assert_clean_failure();
    assert!(message.contains("does not match its digest"), "{message}");
    assert_store_empty(&d);

    // Truncated.
    let out = d.ctl_stdin(&["load"], &good[..good.len() / 2]);
    out.assert_code(125);
    assert!(out.assert_clean_failure().contains("truncated"), "{out:?}");
    assert_store_empty(&d);

    // Not an image archive.
    let out = d.ctl_stdin(
        &["load"],
        &fs::read(busybox_tar(&d.scratch()).unwrap()).unwrap(),
    );
    out.assert_code(125);
    assert!(out
        .assert_clean_failure()
        .contains("neither index.json nor manifest.json"));
    assert_store_empty(&d);

    // And after all that, the good one loads.
    d.ok(&["load", "-i", &path(&archive)]);
    assert_eq!(d.ok(&["run", "--rm", "x:1", "echo", "ok"]), "ok");
}

/// `tar -C dir -cf out .`
fn tar_dir(dir: &Path, out: &Path) {
    let status = Command::new("tar")
        .args(["--numeric-owner", "-C"])
        .arg(dir)
        .arg("-cf")
        .arg(out)
        .arg(".")
        .status()
        .unwrap();
    assert!(status.success());
}

#[test]
fn a_container_runs_on_an_image_with_121_layers() {
    let d = Daemon::start().unwrap();
    let scratch = d.scratch();
    let mut layers = vec![fs::read(busybox_tar(&scratch).unwrap()).unwrap()];
    for i in 0..120 {
        let dir = scratch.join(format!("layer-{i}"));
        fs::create_dir_all(dir.join("layers")).unwrap();
        fs::write(
            dir.join("layers").join(i.to_string()),
            format!("layer {i}\n"),
        )
        .unwrap();
        let out = scratch.join(format!("layer-{i}.tar"));
        tar_dir(&dir, &out);
        layers.push(fs::read(&out).unwrap());
    }
    let config = serde_json::to_vec(&json!({
        "architecture": oci_spec::image::Arch::default().to_string(),
        "os": "linux",
        "config": {"Env": ["PATH=/bin"]},
        "rootfs": {"type": "layers", "diff_ids": layers.iter().map(|l| digest(l)).collect::<Vec<_>>()},
    }))
    .unwrap();
    let manifest = serde_json::to_vec(&json!({
        "schemaVersion": 2,
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                   "digest": digest(&config), "size": config.len()},
        "layers": layers.iter().map(|l| json!({
            "mediaType": "application/vnd.oci.image.layer.v1.tar",
            "digest": digest(l), "size": l.len()})).collect::<Vec<_>>(),
    }))
    .unwrap();
    let layout = scratch.join("tall");
    let blobs = layout.join("blobs/sha256");
    fs::create_dir_all(&blobs).unwrap();
    for blob in layers.iter().chain([&config, &manifest]) {
        fs::write(blobs.join(&digest(blob)[7..]), blob).unwrap();
    }
    fs::write(
        layout.join("oci-layout"),
        r#"{"imageLayoutVersion":"1.0.0"}"#,
    )
    .unwrap();
    let index = json!({"schemaVersion": 2, "manifests": [{
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "digest": digest(&manifest), "size": manifest.len(),
        "annotations": {"io.containerd.image.name": "docker.io/library/tall:1"},
    }]});
    fs::write(layout.join("index.json"), index.to_string()).unwrap();
    let archive = scratch.join("tall.tar");
    tar_dir(&layout, &archive);

    assert_eq!(
        d.ok(&["load", "-i", &path(&archive)]),
        "Loaded image: tall:1"
    );
    let snapshots = d.root().join("snapshots");
    let classic: usize = (1..=121)
        .map(|n| snapshots.join(n.to_string()).as_os_str().len() + 1)
        .sum();
    assert!(
        classic > 4096,
        "lowerdir= must not fit one page here: {classic}"
    );
    let out = d.ok(&[
        "run",
        "--rm",
        "tall:1",
        "sh",
        "-c",
        "cat /layers/0 /layers/119; ls /layers | wc -l",
    ]);
    assert_eq!(out, "layer 0\nlayer 119\n120");
}
