//! An image with 120 layers under a long store path: overlayfs's classic `lowerdir=` option
//! would exceed a page, so the mount must pass the layers one by one, and still show the
//! right file from the right layer.

#![allow(clippy::unwrap_used)]

mod common;
mod layout;

use std::fs;
use std::sync::Arc;

use berth_image::overlay::{self, OverlayMount};
use berth_image::ImageStore;
use common::{is_root, RawTar};
use layout::{descriptor, image, oci_tar};

const LAYERS: usize = 120;

#[test]
fn an_image_with_120_layers_loads_and_mounts() {
    if !is_root() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let root = dir
        .path()
        .join("a-store-root-with-a-rather-long-name-".repeat(2));
    fs::create_dir_all(&root).unwrap();
    let db = Arc::new(redb::Database::create(root.join("meta.redb")).unwrap());
    let store = ImageStore::open(&root, db).unwrap();

    // Layer i adds `layers/<i>` and rewrites `etc/top`; layer 1 deletes layer 0's `etc/gone`.
    let tars: Vec<Vec<u8>> = (0..LAYERS)
        .map(|i| {
            let mut tar = RawTar::new();
            tar.dir("layers", 0o755).dir("etc", 0o755);
            tar.file(&format!("layers/{i}"), i.to_string().as_bytes());
            tar.file("etc/top", format!("layer {i}").as_bytes());
            match i {
                0 => tar.file("etc/gone", b"bye"),
                1 => tar.file("etc/.wh.gone", b""),
                _ => &mut tar,
            };
            tar.finish()
        })
        .collect();
    let built = image(&tars, true, None);
    let archive = oci_tar(vec![descriptor(&built, Some("tall:1"))], &built.blobs());
    let loaded = store.load(&mut archive.as_slice()).unwrap();
    assert_eq!(loaded[0].image.diff_ids.len(), LAYERS);

    let lowers = store.layer_dirs("tall:1").unwrap();
    assert_eq!(lowers.len(), LAYERS);
    let classic: usize = lowers.iter().map(|p| p.as_os_str().len() + 1).sum();
    assert!(classic > 4096, "the test must overflow one page: {classic}");
    let mount = OverlayMount {
        lowers,
        upper: dir.path().join("upper"),
        work: dir.path().join("work"),
        target: dir.path().join("merged"),
    };
    mount.mount().unwrap();
    let merged = &mount.target;
    let result = std::panic::catch_unwind(|| {
        for i in [0, 1, 60, LAYERS - 1] {
            let body = fs::read_to_string(merged.join(format!("layers/{i}"))).unwrap();
            assert_eq!(body, i.to_string());
        }
        assert_eq!(
            fs::read_to_string(merged.join("etc/top")).unwrap(),
            format!("layer {}", LAYERS - 1)
        );
        assert!(!merged.join("etc/gone").exists());
        assert_eq!(fs::read_dir(merged.join("layers")).unwrap().count(), LAYERS);
        // Writes go to the upper layer.
        fs::write(merged.join("etc/new"), "rw").unwrap();
        assert_eq!(fs::read(mount.upper.join("etc/new")).unwrap(), b"rw");
    });
    overlay::unmount(merged).unwrap();
    result.unwrap();
}
