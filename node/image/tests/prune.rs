//! Prune and removal by reference counts, as root: dangling images go, shared layers and
//! blobs stay until their last image goes, images in use are kept, the bytes reclaimed are
//! what left the disk; and what an interrupted pull leaves is collected when the store opens.

#![allow(clippy::unwrap_used)]

mod common;
mod layout;

use std::fs;

use berth_image::{DeleteItem, Reference};
use common::{is_root, TestStore};
use layout::{descriptor, hex_of, image, layer_with, oci_tar, Built};

fn load(t: &TestStore, built: &Built, tag: Option<&str>) {
    let tar = oci_tar(vec![descriptor(built, tag)], &built.blobs());
    t.store.load(&mut tar.as_slice()).unwrap();
}

fn disk_bytes(t: &TestStore) -> u64 {
    let blobs: u64 = t
        .names("content/blobs/sha256")
        .iter()
        .map(|n| {
            fs::metadata(t.root().join("content/blobs/sha256").join(n))
                .unwrap()
                .len()
        })
        .sum();
    blobs
}

#[test]
fn prune_removes_dangling_images_and_keeps_shared_layers() {
    if !is_root() {
        return;
    }
    let t = TestStore::new();
    let base = layer_with("etc/base", b"shared base layer");
    let tagged = image(&[base.clone(), layer_with("etc/a", b"a")], true, None);
    let dangling = image(&[base, layer_with("etc/b", b"bbbb")], true, None);
    load(&t, &tagged, Some("app:1"));
    load(&t, &dangling, None);
    let blobs_before = disk_bytes(&t);

    let report = t.store.prune(false, &|_| true, &|_| false).unwrap();
    assert!(report.items.contains(&DeleteItem::Deleted(dangling.id())));
    assert!(!report.items.contains(&DeleteItem::Deleted(tagged.id())));
    // Its own top layer goes; the shared base stays with app:1.
    let layers: Vec<_> = report
        .items
        .iter()
        .filter(|i| matches!(i, DeleteItem::Deleted(d) if *d != dangling.id()))
        .collect();
    assert_eq!(layers.len(), 1);
    let freed_blobs = blobs_before - disk_bytes(&t);
    assert_eq!(report.space_reclaimed, freed_blobs + 4);
    let dirs = t.store.layer_dirs("app:1").unwrap();
    assert_eq!(
        fs::read(dirs[1].join("etc/base")).unwrap(),
        b"shared base layer"
    );
    assert!(t
        .names("content/blobs/sha256")
        .contains(&hex_of(&tagged.layers[0].0).to_string()));

    // Nothing dangling is left: a second prune does nothing.
    let again = t.store.prune(false, &|_| true, &|_| false).unwrap();
    assert!(again.items.is_empty() && again.space_reclaimed == 0);

    // `all` spares images in use and those the filter rejects.
    let other = image(&[layer_with("etc/o", b"o")], true, None);
    load(&t, &other, Some("other:1"));
    let used = tagged.id();
    let report = t
        .store
        .prune(true, &|_| true, &|id: &str| id == used)
        .unwrap();
    assert_eq!(
        report.items[..2],
        [
            DeleteItem::Untagged("other:1".into()),
            DeleteItem::Deleted(other.id())
        ]
    );
    assert_eq!(t.store.list().unwrap().len(), 1);
    let report = t.store.prune(true, &|_| false, &|_| false).unwrap();
    assert!(report.items.is_empty());
    let report = t.store.prune(true, &|_| true, &|_| false).unwrap();
    assert!(report.items.contains(&DeleteItem::Deleted(tagged.id())));
    t.assert_empty();
}

#[test]
fn rmi_removes_only_layers_no_other_image_uses() {
    if !is_root() {
        return;
    }
    let t = TestStore::new();
    let base = layer_with("etc/base", b"base");
    let one = image(&[base.clone(), layer_with("etc/1", b"1")], true, None);
    let two = image(&[base, layer_with("etc/2", b"2")], true, None);
    load(&t, &one, Some("one:1"));
    load(&t, &two, Some("two:1"));
    assert_eq!(t.names("snapshots").len(), 3);
    // In use: refused, then untagged only with force.
    let in_use = |id: &str| id == one.id();
    assert!(t.store.remove("one:1", false, &in_use).is_err());
    let items = t.store.remove("one:1", true, &in_use).unwrap();
    assert_eq!(items, [DeleteItem::Untagged("one:1".into())]);
    assert_eq!(t.store.get(&one.id()).unwrap().repo_tags.len(), 0);
    let items = t.store.remove(&one.id(), false, &|_| false).unwrap();
    assert_eq!(items.len(), 2, "the image and its own top layer: {items:?}");
    assert_eq!(t.names("snapshots").len(), 2);
    let dirs = t.store.layer_dirs("two:1").unwrap();
    assert_eq!(fs::read(dirs[1].join("etc/base")).unwrap(), b"base");
    t.store
        .tag("two:1", &Reference::parse("two:2").unwrap())
        .unwrap();
    t.store.remove("two:1", false, &|_| false).unwrap();
    t.store.remove("two:2", false, &|_| false).unwrap();
    t.assert_empty();
}

#[test]
fn open_collects_what_an_interrupted_pull_left() {
    if !is_root() {
        return;
    }
    let mut t = TestStore::new();
    let kept = image(&[layer_with("etc/k", b"k")], true, None);
    load(&t, &kept, Some("kept:1"));
    let snapshots = t.names("snapshots");
    let blobs = t.names("content/blobs/sha256");
    // A pull killed mid-way: a blob half downloaded, a layer verified but never committed,
    // and a layer half unpacked.
    fs::write(t.root().join("content/ingest/4242-7"), b"half a layer").unwrap();
    let orphan = layer_with("etc/orphan", b"o");
    let orphan_digest = layout::digest(&orphan);
    fs::write(
        t.root()
            .join("content/blobs/sha256")
            .join(hex_of(&orphan_digest)),
        &orphan,
    )
    .unwrap();
    fs::create_dir_all(t.root().join("snapshots/999.tmp/etc")).unwrap();
    fs::write(t.root().join("snapshots/999.tmp/etc/x"), b"x").unwrap();
    t.reopen();
    assert_eq!(t.names("content/ingest"), Vec::<String>::new());
    assert_eq!(t.names("content/blobs/sha256"), blobs);
    assert_eq!(t.names("snapshots"), snapshots);
    assert_eq!(t.store.get("kept:1").unwrap().id, kept.id());
}
