//! Property test of the unpacker, as root: random archives of files, directories, symlinks
//! and hardlinks with hostile names and targets never change anything outside the target,
//! whether extracted with `unpack_into` or imported as a layer.

#![allow(clippy::unwrap_used)]

mod common;

use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::sync::Arc;

use berth_image::{archive, ImageStore, ImportOptions};
use common::{is_root, tree, RawTar};
use proptest::prelude::*;

#[derive(Debug, Clone)]
enum Op {
    File(String),
    Dir(String),
    Symlink(String, String),
    Hardlink(String, String),
}

fn name() -> impl Strategy<Value = String> {
    let part = prop::sample::select(vec!["a", "b", "..", ".", "etc", ".wh.a", ".wh..wh..opq"]);
    (any::<bool>(), prop::collection::vec(part, 1..4)).prop_map(|(absolute, parts)| {
        format!("{}{}", if absolute { "/" } else { "" }, parts.join("/"))
    })
}

/// Link targets, `@` standing for the sandbox's `outside` directory.
fn target() -> impl Strategy<Value = String> {
    prop_oneof![
        name(),
        prop::sample::select(vec![
            "/",
            "..",
            "../..",
            "@",
            "@/secret",
            "../outside",
            "../outside/secret"
        ])
        .prop_map(String::from),
    ]
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        name().prop_map(Op::File),
        name().prop_map(Op::Dir),
        (name(), target()).prop_map(|(n, t)| Op::Symlink(n, t)),
        (name(), target()).prop_map(|(n, t)| Op::Hardlink(n, t)),
    ]
}

fn build(ops: &[Op], outside: &str) -> Vec<u8> {
    let mut tar = RawTar::new();
    for op in ops {
        match op {
            Op::File(n) => tar.file(n, b"pwned"),
            Op::Dir(n) => tar.dir(n, 0o777),
            Op::Symlink(n, t) => tar.symlink(n, &t.replace('@', outside)),
            Op::Hardlink(n, t) => tar.hardlink(n, &t.replace('@', outside)),
        };
    }
    tar.finish()
}

fn assert_outside_untouched(sandbox: &Path) {
    let outside: Vec<String> = tree(sandbox)
        .into_iter()
        .filter(|p| !p.starts_with("root") && !p.starts_with("store"))
        .collect();
    assert_eq!(outside, ["outside", "outside/secret"]);
    let secret = fs::metadata(sandbox.join("outside/secret")).unwrap();
    assert_eq!(fs::read(sandbox.join("outside/secret")).unwrap(), b"secret");
    assert_eq!((secret.nlink(), secret.mode() & 0o7777), (1, 0o600));
}

/// The store holds only its own files: the index, content, and numbered snapshots.
fn assert_store_contained(store: &Path) {
    for path in tree(store) {
        let mut parts = path.split('/');
        let ok = match (parts.next(), parts.next()) {
            (Some("meta.redb"), None) | (Some("content"), _) | (Some("snapshots"), None) => true,
            (Some("snapshots"), Some(n)) => n.parse::<u64>().is_ok(),
            _ => false,
        };
        assert!(ok, "unexpected store path {path}");
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn nothing_escapes(ops in prop::collection::vec(op(), 1..10)) {
        if !is_root() {
            return Ok(());
        }
        let sandbox = tempfile::tempdir().unwrap();
        let base = sandbox.path();
        for dir in ["root", "outside", "store"] {
            fs::create_dir(base.join(dir)).unwrap();
        }
        fs::write(base.join("outside/secret"), "secret").unwrap();
        fs::set_permissions(base.join("outside/secret"), std::os::unix::fs::PermissionsExt::from_mode(0o600)).unwrap();
        let tar = build(&ops, base.join("outside").to_str().unwrap());

        let _ = archive::unpack_into(&base.join("root"), "/", &mut tar.as_slice(), false);
        assert_outside_untouched(base);

        let db = Arc::new(redb::Database::create(base.join("store/meta.redb")).unwrap());
        let store = ImageStore::open(&base.join("store"), db).unwrap();
        let _ = store.import(&mut tar.as_slice(), &ImportOptions::default());
        assert_outside_untouched(base);
        assert_store_contained(&base.join("store"));
    }
}
