//! The image store end to end, as root: import of a busybox rootfs, lookups, tags, shared
//! snapshots, removal, overlay mounts, rejection of corrupt archives and crash leftovers.

#![allow(clippy::unwrap_used)]

mod common;

use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;

use berth_image::overlay::{self, OverlayMount};
use berth_image::{DeleteItem, ImageError, ImportOptions, Reference};
use common::{busybox_rootfs, gzip, is_root, tar_of, RawTar, TestStore};

fn options(tag: &str, message: &str) -> ImportOptions {
    ImportOptions {
        reference: Some(Reference::parse(tag).unwrap()),
        message: message.to_string(),
        changes: Vec::new(),
    }
}

fn untagged() -> ImportOptions {
    ImportOptions::default()
}

/// Unmounts on drop, so a failing assertion leaves no mount behind.
struct Mounted<'a>(&'a Path);

impl Drop for Mounted<'_> {
    fn drop(&mut self) {
        overlay::unmount(self.0).unwrap();
    }
}

#[test]
fn import_get_layers_and_overlay_mount() {
    if !is_root() {
        return;
    }
    let t = TestStore::new();
    let work = tempfile::tempdir().unwrap();
    let rootfs = busybox_rootfs(work.path());
    let tar = tar_of(&rootfs);
    let mut opts = options("busybox", "built from the host busybox");
    opts.changes = vec![
        r#"CMD ["sh"]"#.into(),
        "ENV PATH=/bin".into(),
        "WORKDIR /root".into(),
        "LABEL origin=test".into(),
    ];
    let image = t.store.import(&mut tar.as_slice(), &opts).unwrap();

    assert!(image.id.starts_with("sha256:") && image.id.len() == 71);
    assert_eq!(image.repo_tags, ["docker.io/library/busybox:latest"]);
    assert_eq!(image.os, "linux");
    assert_eq!(
        image.architecture,
        oci_spec::image::Arch::default().to_string()
    );
    assert_eq!(image.comment, "built from the host busybox");
    assert_eq!(image.config.cmd, ["sh"]);
    assert_eq!(image.config.env, ["PATH=/bin"]);
    assert_eq!(image.config.working_dir, "/root");
    assert_eq!(image.config.labels.get("origin").unwrap(), "test");
    assert_eq!(image.diff_ids.len(), 1);
    let busybox_size = fs::metadata("/bin/busybox").unwrap().len();
    assert!(
        image.size >= busybox_size,
        "{} < {busybox_size}",
        image.size
    );

    // The layer blob is the tar itself; its digest is the diff ID.
    let hex = |d: &str| d.trim_start_matches("sha256:").to_string();
    let layer_blob = t
        .root()
        .join("content/blobs/sha256")
        .join(hex(&image.diff_ids[0]));
    assert_eq!(fs::read(&layer_blob).unwrap(), tar);

    // Config and manifest are real OCI documents in the content store.
    let config: oci_spec::image::ImageConfiguration = serde_json::from_slice(
        &fs::read(t.root().join("content/blobs/sha256").join(hex(&image.id))).unwrap(),
    )
    .unwrap();
    assert_eq!(config.rootfs().diff_ids(), &image.diff_ids);
    assert_eq!(
        config.config().as_ref().unwrap().cmd().as_ref().unwrap(),
        &["sh"]
    );
    let history = config.history().as_ref().unwrap();
    assert_eq!(
        history[0].comment().as_deref(),
        Some("built from the host busybox")
    );
    let manifest: oci_spec::image::ImageManifest = serde_json::from_slice(
        &fs::read(
            t.root()
                .join("content/blobs/sha256")
                .join(hex(&image.manifest_digest)),
        )
        .unwrap(),
    )
    .unwrap();
    assert_eq!(manifest.config().digest().to_string(), image.id);
    assert_eq!(
        manifest.config().media_type().to_string(),
        "application/vnd.oci.image.config.v1+json"
    );
    assert_eq!(manifest.layers()[0].digest().to_string(), image.diff_ids[0]);
    assert_eq!(manifest.layers()[0].size(), tar.len() as u64);
    assert_eq!(
        manifest.layers()[0].media_type().to_string(),
        "application/vnd.oci.image.layer.v1.tar"
    );

    // Every way of naming it finds it.
    let bare = hex(&image.id);
    for name in [
        "busybox",
        "busybox:latest",
        "docker.io/library/busybox:latest",
        image.id.as_str(),
        bare.as_str(),
        &bare[..12],
        &bare[..1],
        &format!("sha256:{}", &bare[..5]),
    ] {
        assert_eq!(t.store.get(name).unwrap().id, image.id, "{name}");
    }
    assert!(matches!(
        t.store.get("busybox:other"),
        Err(ImageError::NotFound(_))
    ));
    assert!(matches!(
        t.store.get("nothing"),
        Err(ImageError::NotFound(_))
    ));
    assert!(matches!(
        t.store.get("sha256:zz"),
        Err(ImageError::NotFound(_))
    ));
    assert_eq!(t.store.list().unwrap(), vec![image.clone()]);

    // One snapshot with the busybox tree, owned and moded as in the tar.
    let layers = t.store.layer_dirs(&image.id).unwrap();
    assert_eq!(layers.len(), 1);
    assert!(layers[0].starts_with(t.root().join("snapshots")));
    let unpacked = fs::metadata(layers[0].join("bin/busybox")).unwrap();
    assert_eq!(unpacked.len(), busybox_size);
    assert_eq!(
        unpacked.permissions().mode() & 0o7777,
        fs::metadata("/bin/busybox").unwrap().permissions().mode() & 0o7777
    );
    assert_eq!(
        fs::read_link(layers[0].join("bin/sh")).unwrap(),
        Path::new("busybox")
    );

    // Overlay: the layer below, a writable upper on top.
    let upper = work.path().join("upper");
    let target = work.path().join("rootfs");
    let mount = OverlayMount {
        lowers: layers.clone(),
        upper: upper.clone(),
        work: work.path().join("work"),
        target: target.clone(),
    };
    mount.mount().unwrap();
    {
        let _mounted = Mounted(&target);
        assert_eq!(
            fs::metadata(target.join("bin/busybox")).unwrap().len(),
            busybox_size
        );
        fs::write(target.join("etc/hostname"), "box\n").unwrap();
        fs::remove_file(target.join("etc/group")).unwrap();
        assert_eq!(fs::read(upper.join("etc/hostname")).unwrap(), b"box\n");
        // The shared layer is untouched; the deletion is a whiteout in the upper layer.
        assert!(layers[0].join("etc/group").exists());
        assert!(!layers[0].join("etc/hostname").exists());
        let whiteout = fs::symlink_metadata(upper.join("etc/group")).unwrap();
        assert_eq!(whiteout.rdev(), 0);
    }
    assert!(!target.join("bin/busybox").exists());
    // Unmounting what is not mounted is fine.
    overlay::unmount(&target).unwrap();
    overlay::unmount(&work.path().join("missing")).unwrap();
}

#[test]
fn overlay_without_layers_mounts_an_empty_lower() {
    if !is_root() {
        return;
    }
    let work = tempfile::tempdir().unwrap();
    let target = work.path().join("rootfs");
    let mount = OverlayMount {
        lowers: Vec::new(),
        upper: work.path().join("upper"),
        work: work.path().join("work"),
        target: target.clone(),
    };
    mount.mount().unwrap();
    let _mounted = Mounted(&target);
    fs::write(target.join("f"), "x").unwrap();
    assert!(work.path().join("upper/f").exists());
}

#[test]
fn gzip_and_plain_imports_share_one_snapshot_until_the_last_removal() {
    if !is_root() {
        return;
    }
    let t = TestStore::new();
    let work = tempfile::tempdir().unwrap();
    let tar = tar_of(&busybox_rootfs(work.path()));
    let a = t
        .store
        .import(&mut tar.as_slice(), &options("a", "plain"))
        .unwrap();
    let b = t
        .store
        .import(&mut gzip(&tar).as_slice(), &options("b", "gzip"))
        .unwrap();
    assert_ne!(a.id, b.id);
    assert_eq!(a.diff_ids, b.diff_ids);
    let layers = t.store.layer_dirs("a").unwrap();
    assert_eq!(layers, t.store.layer_dirs("b").unwrap());
    assert_eq!(t.names("snapshots").len(), 1);

    let usage = t.store.usage().unwrap();
    assert_eq!(usage.layers_size, a.size);
    assert!(usage.content_size > tar.len() as u64);
    assert_eq!(usage.images.len(), 2);
    assert!(usage
        .images
        .iter()
        .all(|(_, size, shared)| *size == a.size && *shared == a.size));

    // Newest first.
    let listed: Vec<String> = t.store.list().unwrap().into_iter().map(|i| i.id).collect();
    assert_eq!(listed, [b.id.clone(), a.id.clone()]);

    let items = t.store.remove("a", false, &|_| false).unwrap();
    assert_eq!(
        items,
        [
            DeleteItem::Untagged("a:latest".into()),
            DeleteItem::Deleted(a.id.clone())
        ]
    );
    assert!(
        layers[0].join("bin/busybox").exists(),
        "b still uses the layer"
    );
    let hex = |d: &str| d.trim_start_matches("sha256:").to_string();
    assert!(t
        .names("content/blobs/sha256")
        .contains(&hex(&b.diff_ids[0])));
    assert!(!t.names("content/blobs/sha256").contains(&hex(&a.id)));

    let items = t.store.remove(&b.id, false, &|_| false).unwrap();
    assert_eq!(
        items,
        [
            DeleteItem::Untagged("b:latest".into()),
            DeleteItem::Deleted(b.id.clone()),
            DeleteItem::Deleted(b.diff_ids[0].clone()),
        ]
    );
    t.assert_empty();
}

#[test]
fn tags_and_removal_rules() {
    if !is_root() {
        return;
    }
    let t = TestStore::new();
    let tar = RawTar::new().file("hello", b"hi").finish();
    let image = t
        .store
        .import(&mut tar.as_slice(), &options("app:1", ""))
        .unwrap();
    assert_eq!(image.comment, "Imported from -");
    let tagged = t
        .store
        .tag("app:1", &Reference::parse("app:2").unwrap())
        .unwrap();
    assert_eq!(
        tagged.repo_tags,
        ["docker.io/library/app:1", "docker.io/library/app:2"]
    );
    assert!(matches!(
        t.store.tag(
            &image.id,
            &Reference::parse(&format!("app@{}", image.id)).unwrap()
        ),
        Err(ImageError::InvalidArgument(_))
    ));
    assert!(matches!(
        t.store.tag("missing", &Reference::parse("x").unwrap()),
        Err(ImageError::NotFound(_))
    ));

    // Removing one of several tags only untags, even while a container uses the image.
    let items = t.store.remove("app:2", false, &|_| true).unwrap();
    assert_eq!(items, [DeleteItem::Untagged("app:2".into())]);
    assert_eq!(
        t.store.get(&image.id).unwrap().repo_tags,
        ["docker.io/library/app:1"]
    );

    // The last tag of an image in use: refused without force, only untagged with it.
    assert!(matches!(
        t.store.remove("app:1", false, &|_| true),
        Err(ImageError::InUse(_))
    ));
    assert!(matches!(
        t.store.remove(&image.id, false, &|_| true),
        Err(ImageError::InUse(_))
    ));
    let items = t.store.remove("app:1", true, &|id| id == image.id).unwrap();
    assert_eq!(items, [DeleteItem::Untagged("app:1".into())]);
    let dangling = t.store.get(&image.id).unwrap();
    assert!(dangling.repo_tags.is_empty());

    // By ID, tags in two repositories need force.
    t.store
        .tag(&image.id, &Reference::parse("one").unwrap())
        .unwrap();
    t.store
        .tag(&image.id, &Reference::parse("two").unwrap())
        .unwrap();
    assert!(matches!(
        t.store.remove(&image.id, false, &|_| false),
        Err(ImageError::InUse(_))
    ));
    let items = t.store.remove(&image.id[7..19], true, &|_| false).unwrap();
    assert_eq!(
        items[..2],
        [
            DeleteItem::Untagged("one:latest".into()),
            DeleteItem::Untagged("two:latest".into())
        ]
    );
    assert_eq!(items[2], DeleteItem::Deleted(image.id.clone()));
    assert!(matches!(
        t.store.remove(&image.id, false, &|_| false),
        Err(ImageError::NotFound(_))
    ));
    t.assert_empty();
}

#[test]
fn one_character_prefixes_can_be_ambiguous() {
    if !is_root() {
        return;
    }
    let t = TestStore::new();
    let empty = RawTar::new().finish();
    // 17 images: two of them must share a first hex digit.
    let ids: Vec<String> = (0..17)
        .map(|i| {
            t.store
                .import(
                    &mut empty.as_slice(),
                    &ImportOptions {
                        message: format!("image {i}"),
                        ..untagged()
                    },
                )
                .unwrap()
                .id
        })
        .collect();
    assert_eq!(t.names("snapshots").len(), 1, "the empty layer is shared");
    let first = |id: &String| id.as_bytes()[7];
    let shared = ids
        .iter()
        .find(|a| ids.iter().filter(|b| first(b) == first(a)).count() > 1)
        .unwrap();
    let prefix = (first(shared) as char).to_string();
    assert!(matches!(
        t.store.get(&prefix),
        Err(ImageError::Ambiguous(_))
    ));
    assert!(matches!(
        t.store.remove(&prefix, false, &|_| false),
        Err(ImageError::Ambiguous(_))
    ));
    for id in &ids {
        t.store.remove(id, false, &|_| false).unwrap();
    }
    t.assert_empty();
}

#[test]
fn corrupt_archives_keep_nothing() {
    if !is_root() {
        return;
    }
    let t = TestStore::new();
    let work = tempfile::tempdir().unwrap();
    let tar = tar_of(&busybox_rootfs(work.path()));
    let mut bad_checksum = tar.clone();
    bad_checksum[100] ^= 0xff;
    let mut bad_gzip = gzip(&tar);
    let middle = bad_gzip.len() / 2;
    bad_gzip[middle] ^= 0xff;
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("empty", Vec::new()),
        ("garbage", b"this is not a tar archive at all".repeat(40)),
        ("truncated mid-file", tar[..tar.len() / 2].to_vec()),
        ("truncated at a header", tar[..512].to_vec()),
        ("no end marker", tar[..tar.len() - 1024].to_vec()),
        ("bad checksum", bad_checksum),
        ("truncated gzip", gzip(&tar)[..200].to_vec()),
        ("corrupt gzip", bad_gzip),
        (
            "dotdot entry",
            RawTar::new()
                .file("ok", b"1")
                .file("../escape", b"x")
                .finish(),
        ),
    ];
    for (what, data) in cases {
        let err = t
            .store
            .import(&mut data.as_slice(), &options("broken", what))
            .unwrap_err();
        assert!(
            matches!(err, ImageError::InvalidArgument(_)),
            "{what}: {err:?}"
        );
        t.assert_empty();
        assert!(
            matches!(t.store.get("broken"), Err(ImageError::NotFound(_))),
            "{what}"
        );
    }
    // A good import after all that still works, and a bad one beside it keeps the good one.
    t.store
        .import(&mut tar.as_slice(), &options("good", ""))
        .unwrap();
    let bad = RawTar::new().file("a", b"1").finish();
    t.store
        .import(&mut bad[..700].as_ref(), &untagged())
        .unwrap_err();
    assert_eq!(t.store.list().unwrap().len(), 1);
    assert_eq!(t.names("snapshots").len(), 1);
}

#[test]
fn bad_changes_and_references_are_rejected_before_any_work() {
    if !is_root() {
        return;
    }
    let t = TestStore::new();
    let tar = RawTar::new().file("a", b"1").finish();
    for change in [
        "WORKDIR relative",
        "VOLUME /a/../b",
        "USER 4294967295",
        "RUN rm -rf /",
        "EXPOSE 0",
    ] {
        let opts = ImportOptions {
            changes: vec![change.into()],
            ..untagged()
        };
        let err = t.store.import(&mut tar.as_slice(), &opts).unwrap_err();
        assert!(
            matches!(err, ImageError::InvalidArgument(_)),
            "{change}: {err:?}"
        );
    }
    let digest_ref = format!("x@sha256:{}", "a".repeat(64));
    let opts = ImportOptions {
        reference: Some(Reference::parse(&digest_ref).unwrap()),
        ..untagged()
    };
    assert!(matches!(
        t.store.import(&mut tar.as_slice(), &opts),
        Err(ImageError::InvalidArgument(_))
    ));
    t.assert_empty();
}

#[test]
fn reopen_removes_leftovers_and_keeps_images() {
    if !is_root() {
        return;
    }
    let mut t = TestStore::new();
    let tar = RawTar::new()
        .dir("etc", 0o755)
        .file("etc/motd", b"hello")
        .finish();
    let image = t
        .store
        .import(&mut tar.as_slice(), &options("kept", ""))
        .unwrap();
    let snapshots_before = t.names("snapshots");
    let blobs_before = t.names("content/blobs/sha256");
    // What crashes leave: an ingest in flight, a half-unpacked layer, a snapshot and a blob
    // the index never recorded.
    fs::write(t.root().join("content/ingest/123-0"), "partial").unwrap();
    fs::create_dir_all(t.root().join("snapshots/77.tmp/etc")).unwrap();
    fs::create_dir_all(t.root().join("snapshots/78/usr")).unwrap();
    fs::write(
        t.root().join("content/blobs/sha256").join("ab".repeat(32)),
        "orphan",
    )
    .unwrap();
    t.reopen();
    assert_eq!(t.names("content/ingest"), Vec::<String>::new());
    assert_eq!(t.names("snapshots"), snapshots_before);
    assert_eq!(t.names("content/blobs/sha256"), blobs_before);
    let layers = t.store.layer_dirs("kept").unwrap();
    assert_eq!(fs::read(layers[0].join("etc/motd")).unwrap(), b"hello");
    assert_eq!(t.store.get("kept").unwrap(), image);
}

#[test]
fn concurrent_imports_share_the_store() {
    if !is_root() {
        return;
    }
    let t = TestStore::new();
    let work = tempfile::tempdir().unwrap();
    let tar = tar_of(&busybox_rootfs(work.path()));
    let ids: Vec<String> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..4)
            .map(|i| {
                let (store, tar) = (&t.store, &tar);
                s.spawn(move || {
                    let opts = options(&format!("c{i}"), &format!("import {i}"));
                    store.import(&mut tar.as_slice(), &opts).unwrap().id
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    assert_eq!(t.store.list().unwrap().len(), 4);
    assert_eq!(t.names("snapshots").len(), 1, "one layer, unpacked once");
    for id in &ids {
        t.store.remove(id, false, &|_| false).unwrap();
    }
    t.assert_empty();
}
