//! The image commands of the berthd issue: import, images, tag, rmi, image inspect.

// Tests may unwrap (project rule); clippy only knows that inside #[test] functions, not in
// the helpers of an integration test crate.
#![allow(clippy::unwrap_used)]

use berth_tests::daemon::{busybox_tar, BUSYBOX};
use berth_tests::Daemon;

#[test]
fn import_inspect_tag_and_remove() {
    let d = Daemon::start().unwrap();
    let id = d.import_busybox(BUSYBOX);
    assert!(id.starts_with("sha256:") && id.len() == 71, "{id}");
    let raw = d.ok(&["image", "inspect", BUSYBOX]);
    let v: serde_json::Value = serde_json::from_str(&raw).unwrap();
    let image = &v[0];
    assert_eq!(image["Id"], id.as_str());
    assert_eq!(image["RepoTags"][0], "busybox:latest");
    assert_eq!(image["Os"], "linux");
    assert_eq!(image["RootFS"]["Type"], "layers");
    assert_eq!(image["RootFS"]["Layers"].as_array().unwrap().len(), 1);
    assert!(image["Size"].as_u64().unwrap() > 500_000);

    d.ok(&["tag", BUSYBOX, "mybox:v2"]);
    let listed = d.ok(&["images", "--format", "{{.Repository}}:{{.Tag}} {{.ID}}"]);
    let short = &id["sha256:".len().."sha256:".len() + 12];
    assert!(
        listed.contains(&format!("busybox:latest {short}")),
        "{listed}"
    );
    assert!(listed.contains(&format!("mybox:v2 {short}")), "{listed}");
    assert_eq!(
        d.ok(&["images", "-q"]).lines().count(),
        1,
        "one image, two tags"
    );
    let table = d.ok(&["images"]);
    assert!(table.starts_with("REPOSITORY"), "{table}");

    // The image is in use: rmi by ID refuses, untagging one name works.
    d.ok(&["create", "--name", "user", "mybox:v2", "true"]);
    let refused = d.ctl(&["rmi", short]);
    refused.assert_code(125);
    let untagged = d.ok(&["rmi", "mybox:v2"]);
    assert!(untagged.contains("Untagged: mybox:v2"), "{untagged}");
    d.ok(&["rm", "user"]);
    let deleted = d.ok(&["rmi", BUSYBOX]);
    assert!(deleted.contains("Deleted: sha256:"), "{deleted}");
    assert_eq!(d.ok(&["images", "-q"]), "");
    let snapshots = std::fs::read_dir(d.root().join("snapshots"))
        .unwrap()
        .count();
    assert_eq!(snapshots, 0, "the layer went with the image");
}

#[test]
fn import_from_stdin_with_changes_and_the_same_layer_twice() {
    let d = Daemon::start().unwrap();
    let tar = std::fs::read(busybox_tar(&d.scratch()).unwrap()).unwrap();
    let out = d.ctl_stdin(
        &[
            "import",
            "-c",
            "CMD [\"echo\", \"from cmd\"]",
            "-c",
            "ENV GREETING=hi",
            "-m",
            "imported",
            "-",
            "conf:v1",
        ],
        &tar,
    );
    out.assert_success();
    assert!(out.stdout.trim().starts_with("sha256:"), "{out:?}");
    assert_eq!(d.ok(&["run", "--rm", "conf:v1"]), "from cmd");
    assert_eq!(
        d.ok(&["run", "--rm", "conf:v1", "sh", "-c", "echo $GREETING"]),
        "hi"
    );
    // A second import of the same rootfs shares the unpacked layer.
    d.import_busybox("plain:v1");
    let snapshots = std::fs::read_dir(d.root().join("snapshots"))
        .unwrap()
        .count();
    assert_eq!(snapshots, 1, "one shared snapshot");
}
