//! The hardened unpacker, as root (SECURITY.md items 1-6): every escape attempt leaves nothing
//! outside the target, whiteouts become overlayfs whiteouts, and metadata is kept as root
//! keeps it. Each case goes through both `archive::unpack_into` (`docker cp`) and `import`
//! (a layer snapshot).

#![allow(clippy::unwrap_used)]

mod common;

use std::fs;
use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use berth_image::{archive, ImageError, ImportOptions};
use common::{is_root, tree, RawTar, TestStore};
use tempfile::TempDir;

/// A target root with a sibling `outside` directory holding one file.
struct Sandbox {
    dir: TempDir,
}

impl Sandbox {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        fs::create_dir(dir.path().join("root")).unwrap();
        fs::create_dir(dir.path().join("outside")).unwrap();
        fs::write(dir.path().join("outside/secret"), "secret").unwrap();
        fs::set_permissions(
            dir.path().join("outside"),
            fs::Permissions::from_mode(0o755),
        )
        .unwrap();
        Sandbox { dir }
    }

    fn root(&self) -> PathBuf {
        self.dir.path().join("root")
    }

    fn outside(&self) -> PathBuf {
        self.dir.path().join("outside")
    }

    /// Nothing changed outside the root: the tempdir holds only `root` and `outside`, and
    /// `outside` holds only its untouched secret.
    fn assert_nothing_outside(&self) {
        assert_eq!(
            tree(self.dir.path())
                .into_iter()
                .filter(|p| !p.starts_with("root"))
                .collect::<Vec<_>>(),
            ["outside", "outside/secret"]
        );
        let secret = fs::metadata(self.outside().join("secret")).unwrap();
        assert_eq!(fs::read(self.outside().join("secret")).unwrap(), b"secret");
        assert_eq!(
            (secret.nlink(), secret.uid(), secret.mode() & 0o7777),
            (1, 0, 0o644)
        );
        assert_eq!(fs::metadata(self.outside()).unwrap().mode() & 0o7777, 0o755);
    }

    fn unpack(&self, tar: &[u8]) -> Result<(), ImageError> {
        archive::unpack_into(&self.root(), "/", &mut &tar[..], false)
    }
}

/// Imports `tar` as a layer; returns the snapshot directory on success.
fn import(store: &TestStore, tar: &[u8]) -> Result<PathBuf, ImageError> {
    let image = store
        .store
        .import(&mut &tar[..], &ImportOptions::default())?;
    Ok(store.store.layer_dirs(&image.id).unwrap().remove(0))
}

/// Runs `tar` through both paths (into `sandbox`'s root, then into a fresh store), checking that nothing outside is touched either way.
fn both(sandbox: &Sandbox, tar: &[u8], check: impl Fn(Result<&Path, &ImageError>)) {
    let result = sandbox.unpack(tar);
    let root = sandbox.root();
    check(result.as_ref().map(|_| root.as_path()));
    sandbox.assert_nothing_outside();

    let store = TestStore::new();
    let result = import(&store, tar);
    check(result.as_ref().map(PathBuf::as_path));
    sandbox.assert_nothing_outside();
    if result.is_err() {
        store.assert_empty();
    }
}

fn rejected(result: Result<&Path, &ImageError>) -> String {
    match result {
        Err(ImageError::InvalidArgument(m)) => m.clone(),
        other => panic!("expected InvalidArgument, got {other:?}"),
    }
}

#[test]
fn dotdot_entries_are_rejected() {
    if !is_root() {
        return;
    }
    for name in ["../x", "../../outside/secret", "a/../../x", "./.."] {
        let tar = RawTar::new().file("ok", b"1").file(name, b"pwned").finish();
        both(&Sandbox::new(), &tar, |r| {
            assert!(rejected(r).contains(".."), "{name}")
        });
    }
}

#[test]
fn absolute_entries_are_contained() {
    if !is_root() {
        return;
    }
    let unique = format!("berth-escape-test-{}", std::process::id());
    let tar = RawTar::new().file(&format!("/etc/{unique}"), b"x").finish();
    both(&Sandbox::new(), &tar, |r| {
        let root = r.unwrap();
        assert_eq!(fs::read(root.join("etc").join(&unique)).unwrap(), b"x");
    });
    assert!(!Path::new("/etc").join(&unique).exists());
}

#[test]
fn writes_through_symlinks_stay_in_root() {
    if !is_root() {
        return;
    }
    let sandbox = Sandbox::new();
    let outside = sandbox.outside();
    let outside = outside.to_str().unwrap();
    let outside_in_root = outside.trim_start_matches('/');
    let unique = format!("berth-shadow-{}", std::process::id());
    let tar = RawTar::new()
        .symlink("etc", "/")
        .file(&format!("etc/{unique}"), b"root-relative")
        .dir(outside_in_root, 0o755)
        .symlink("abs", outside)
        .file("abs/pwned", b"x")
        .dir("abs/newdir", 0o777)
        .symlink("up", "../../../..")
        .file("up/climbed", b"y")
        .dir("outside", 0o755)
        .symlink("deep/link", "../../outside")
        .file("deep/link/pwned", b"z")
        .finish();
    both(&sandbox, &tar, |r| {
        let root = r.unwrap();
        // `etc -> /` means the root of the target; absolute targets are relative to it.
        assert_eq!(fs::read(root.join(&unique)).unwrap(), b"root-relative");
        let inside_abs = root.join(outside_in_root);
        assert_eq!(fs::read(inside_abs.join("pwned")).unwrap(), b"x");
        assert!(inside_abs.join("newdir").is_dir());
        // `..` is clamped at the root.
        assert_eq!(fs::read(root.join("climbed")).unwrap(), b"y");
        assert_eq!(fs::read(root.join("outside/pwned")).unwrap(), b"z");
        // The links themselves are kept as they were written.
        assert_eq!(fs::read_link(root.join("etc")).unwrap(), Path::new("/"));
    });
    assert!(!Path::new("/").join(&unique).exists());

    // A link whose in-root target does not exist is not written through at all.
    let fresh = Sandbox::new();
    let tar = RawTar::new()
        .symlink("dangling", fresh.outside().to_str().unwrap())
        .file("dangling/pwned", b"x")
        .finish();
    both(&fresh, &tar, |r| {
        rejected(r);
    });
}

#[test]
fn entries_replace_symlinks_instead_of_following_them() {
    if !is_root() {
        return;
    }
    let sandbox = Sandbox::new();
    let secret = sandbox.outside().join("secret");
    let outside = sandbox.outside();
    // A file, a directory and a special file named like an existing symlink to the outside
    // replace the link; chmod/chown/utimes never reach the link's target.
    let tar = RawTar::new()
        .symlink("f", secret.to_str().unwrap())
        .file_with("f", b"new", |h| {
            h.set_mode(0o4777);
            h.set_uid(1234);
        })
        .symlink("d", outside.to_str().unwrap())
        .dir("d", 0o777)
        .finish();
    both(&sandbox, &tar, |r| {
        let root = r.unwrap();
        let f = fs::symlink_metadata(root.join("f")).unwrap();
        assert!(f.is_file());
        assert_eq!((f.mode() & 0o7777, f.uid()), (0o4777, 1234));
        assert!(fs::symlink_metadata(root.join("d")).unwrap().is_dir());
    });
}

#[test]
fn hardlinks_to_outside_or_absolute_targets_are_rejected() {
    if !is_root() {
        return;
    }
    let sandbox = Sandbox::new();
    let secret = sandbox.outside().join("secret");
    let cases = [
        RawTar::new().hardlink("hl", "../outside/secret").finish(),
        RawTar::new()
            .hardlink("hl", secret.to_str().unwrap())
            .finish(),
        RawTar::new().hardlink("hl", "/etc/passwd").finish(),
        // Through a symlink to the host root: resolved in-root, where there is no such file.
        RawTar::new()
            .symlink("host", "/")
            .hardlink("hl", "host/etc/passwd")
            .finish(),
        RawTar::new()
            .symlink("out", sandbox.outside().to_str().unwrap())
            .hardlink("hl", "out/secret")
            .finish(),
        // Directories cannot be hardlinked.
        RawTar::new().dir("d", 0o755).hardlink("hl", "d").finish(),
    ];
    for tar in cases {
        both(&sandbox, &tar, |r| {
            rejected(r);
        });
    }
    // An in-root hardlink works, and shares the inode.
    let tar = RawTar::new().file("a", b"data").hardlink("b", "a").finish();
    both(&Sandbox::new(), &tar, |r| {
        let root = r.unwrap();
        let (a, b) = (
            fs::metadata(root.join("a")).unwrap(),
            fs::metadata(root.join("b")).unwrap(),
        );
        assert_eq!((a.ino(), a.nlink()), (b.ino(), 2));
    });
}

#[test]
fn whiteouts_become_overlay_whiteouts_and_bad_ones_are_rejected() {
    if !is_root() {
        return;
    }
    let store = TestStore::new();
    let tar = RawTar::new()
        .dir("dir", 0o755)
        .file("dir/.wh.gone", b"")
        .dir("opaque", 0o755)
        .file("opaque/.wh..wh..opq", b"")
        .file("opaque/kept", b"k")
        .file(".wh..wh.plnk", b"")
        .file(".wh.top", b"")
        .finish();
    let layer = import(&store, &tar).unwrap();
    let gone = fs::symlink_metadata(layer.join("dir/gone")).unwrap();
    assert!(gone.file_type().is_char_device());
    assert_eq!(gone.rdev(), 0);
    assert!(fs::symlink_metadata(layer.join("top"))
        .unwrap()
        .file_type()
        .is_char_device());
    let opaque = xattr(&layer.join("opaque"), "trusted.overlay.opaque");
    assert_eq!(opaque.as_deref(), Some(&b"y"[..]));
    assert_eq!(fs::read(layer.join("opaque/kept")).unwrap(), b"k");
    // No whiteout is ever extracted as a real file.
    assert!(
        tree(&layer).iter().all(|p| !p.contains(".wh.")),
        "{:?}",
        tree(&layer)
    );

    for bad in ["dir/.wh...", ".wh.", "a/.wh.", "../.wh.x", "a/../.wh.b"] {
        let tar = RawTar::new().dir("a", 0o755).file(bad, b"").finish();
        let err = import(&store, &tar).unwrap_err();
        assert!(
            matches!(err, ImageError::InvalidArgument(_)),
            "{bad}: {err:?}"
        );
    }
    // `docker cp` extracts such names as plain files: no overlay semantics there.
    let sandbox = Sandbox::new();
    sandbox
        .unpack(&RawTar::new().file(".wh.x", b"plain").finish())
        .unwrap();
    assert_eq!(fs::read(sandbox.root().join(".wh.x")).unwrap(), b"plain");
}

#[test]
fn metadata_is_kept_as_root_keeps_it() {
    if !is_root() {
        return;
    }
    let mut builder = tar::Builder::new(Vec::new());
    let mut header = tar::Header::new_gnu();
    header.set_entry_type(tar::EntryType::Directory);
    header.set_mode(0o1770);
    header.set_uid(100);
    header.set_gid(200);
    header.set_mtime(1_000_000_000);
    header.set_size(0);
    builder
        .append_data(&mut header, "dir/", std::io::empty())
        .unwrap();
    builder
        .append_pax_extensions([
            ("SCHILY.xattr.user.origin", &b"layer"[..]),
            ("SCHILY.xattr.trusted.overlay.redirect", &b"/x"[..]),
        ])
        .unwrap();
    let mut header = tar::Header::new_gnu();
    header.set_entry_type(tar::EntryType::Regular);
    header.set_mode(0o6755);
    header.set_uid(4242);
    header.set_gid(4343);
    header.set_mtime(1_234_567_890);
    header.set_size(5);
    builder
        .append_data(&mut header, "dir/tool", &b"hello"[..])
        .unwrap();
    let mut header = tar::Header::new_gnu();
    header.set_entry_type(tar::EntryType::Symlink);
    header.set_mode(0o777);
    header.set_uid(7);
    header.set_gid(8);
    header.set_mtime(1_111_111_111);
    header.set_size(0);
    builder
        .append_link(&mut header, "dir/link", "/nowhere")
        .unwrap();
    let mut header = tar::Header::new_gnu();
    header.set_entry_type(tar::EntryType::Fifo);
    header.set_mode(0o640);
    header.set_uid(9);
    header.set_gid(10);
    header.set_mtime(1_222_222_222);
    header.set_size(0);
    builder
        .append_data(&mut header, "dir/pipe", std::io::empty())
        .unwrap();
    let tar = builder.into_inner().unwrap();

    both(&Sandbox::new(), &tar, |r| {
        let root = r.unwrap();
        let dir = fs::metadata(root.join("dir")).unwrap();
        assert_eq!(
            (dir.mode() & 0o7777, dir.uid(), dir.gid(), dir.mtime()),
            (0o1770, 100, 200, 1_000_000_000)
        );
        let tool = fs::metadata(root.join("dir/tool")).unwrap();
        assert_eq!(
            (tool.mode() & 0o7777, tool.uid(), tool.gid(), tool.mtime()),
            (0o6755, 4242, 4343, 1_234_567_890)
        );
        assert_eq!(
            xattr(&root.join("dir/tool"), "user.origin").as_deref(),
            Some(&b"layer"[..])
        );
        // Overlay metadata is never taken from an archive.
        assert_eq!(
            xattr(&root.join("dir/tool"), "trusted.overlay.redirect"),
            None
        );
        let link = fs::symlink_metadata(root.join("dir/link")).unwrap();
        assert_eq!(
            (link.uid(), link.gid(), link.mtime()),
            (7, 8, 1_111_111_111)
        );
        let pipe = fs::symlink_metadata(root.join("dir/pipe")).unwrap();
        assert!(pipe.file_type().is_fifo());
        assert_eq!(
            (pipe.mode() & 0o7777, pipe.uid(), pipe.mtime()),
            (0o640, 9, 1_222_222_222)
        );
    });
}

#[test]
fn cp_refuses_to_swap_directories_and_files_when_asked() {
    if !is_root() {
        return;
    }
    let sandbox = Sandbox::new();
    fs::create_dir(sandbox.root().join("d")).unwrap();
    fs::write(sandbox.root().join("f"), "f").unwrap();
    let file_over_dir = RawTar::new().file("d", b"x").finish();
    let dir_over_file = RawTar::new().dir("f", 0o755).finish();
    for tar in [&file_over_dir, &dir_over_file] {
        let err = archive::unpack_into(&sandbox.root(), "/", &mut &tar[..], true).unwrap_err();
        assert!(matches!(err, ImageError::InvalidArgument(_)), "{err:?}");
    }
    assert!(sandbox.root().join("d").is_dir());
    // Without the flag, the entry replaces what is there.
    archive::unpack_into(&sandbox.root(), "/", &mut &file_over_dir[..], false).unwrap();
    assert!(sandbox.root().join("d").is_file());
    sandbox.assert_nothing_outside();
}

/// `lgetxattr`, or `None` when absent.
fn xattr(path: &Path, name: &str) -> Option<Vec<u8>> {
    use std::ffi::CString;
    use std::os::unix::ffi::OsStrExt;
    let path = CString::new(path.as_os_str().as_bytes()).unwrap();
    let name = CString::new(name).unwrap();
    let mut buf = vec![0u8; 256];
    // SAFETY: both strings are NUL-terminated; `buf` is writable for its length.
    let n = unsafe {
        libc::lgetxattr(
            path.as_ptr(),
            name.as_ptr(),
            buf.as_mut_ptr().cast(),
            buf.len(),
        )
    };
    if n < 0 {
        return None;
    }
    buf.truncate(n as usize);
    Some(buf)
}
