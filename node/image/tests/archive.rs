//! `archive::{stat_in_root, pack, unpack_into}` (`docker cp`, `export`), as root: paths are
//! resolved in-root, symlinks are stored as symlinks and never followed out of the root.

#![allow(clippy::unwrap_used)]

mod common;

use std::collections::BTreeMap;
use std::fs;
use std::os::unix::fs::{symlink, FileTypeExt, MetadataExt, PermissionsExt};
use std::path::Path;

use berth_image::archive::{self, PathInfo};
use berth_image::ImageError;
use common::{is_root, tree};
use nix::sys::stat::{Mode, SFlag};
use tempfile::TempDir;

/// A small root filesystem with the kinds of entries a container has.
fn sample_root() -> TempDir {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    fs::create_dir_all(root.join("dir/sub")).unwrap();
    fs::create_dir_all(root.join("etc")).unwrap();
    fs::write(root.join("etc/passwd"), "inside\n").unwrap();
    fs::write(root.join("dir/file"), "content").unwrap();
    fs::set_permissions(root.join("dir/file"), fs::Permissions::from_mode(0o640)).unwrap();
    nix::unistd::chown(&root.join("dir/file"), Some(1000.into()), Some(1001.into())).unwrap();
    fs::write(root.join("dir/sub/a"), "linked").unwrap();
    fs::hard_link(root.join("dir/sub/a"), root.join("dir/sub/b")).unwrap();
    symlink("/etc", root.join("esc")).unwrap();
    symlink("../../../../..", root.join("dir/up")).unwrap();
    nix::unistd::mkfifo(&root.join("dir/pipe"), Mode::from_bits_truncate(0o600)).unwrap();
    dir
}

/// name → (entry type, link target, data) of every entry.
fn entries(tar: &[u8]) -> BTreeMap<String, (tar::EntryType, String, Vec<u8>)> {
    let mut archive = tar::Archive::new(tar);
    archive
        .entries()
        .unwrap()
        .map(|e| {
            let mut e = e.unwrap();
            let name = e.path().unwrap().to_string_lossy().into_owned();
            let link = e
                .link_name()
                .unwrap()
                .map(|l| l.to_string_lossy().into_owned())
                .unwrap_or_default();
            let kind = e.header().entry_type();
            let mut data = Vec::new();
            std::io::Read::read_to_end(&mut e, &mut data).unwrap();
            (name, (kind, link, data))
        })
        .collect()
}

fn pack(root: &Path, path: &str) -> Result<Vec<u8>, ImageError> {
    let mut out = Vec::new();
    archive::pack(root, path, &mut out)?;
    Ok(out)
}

#[test]
fn export_packs_the_whole_root_without_following_symlinks() {
    if !is_root() {
        return;
    }
    let root = sample_root();
    let all = entries(&pack(root.path(), "/").unwrap());
    let names: Vec<&str> = all.keys().map(String::as_str).collect();
    assert_eq!(
        names,
        [
            "dir/",
            "dir/file",
            "dir/pipe",
            "dir/sub/",
            "dir/sub/a",
            "dir/sub/b",
            "dir/up",
            "esc",
            "etc/",
            "etc/passwd"
        ]
    );
    assert_eq!(
        all["esc"],
        (tar::EntryType::Symlink, "/etc".into(), Vec::new())
    );
    assert_eq!(all["dir/up"].1, "../../../../..");
    assert_eq!(all["dir/file"].2, b"content");
    assert_eq!(all["etc/passwd"].2, b"inside\n");
    assert_eq!(all["dir/pipe"].0, tar::EntryType::Fifo);
    // The second name of a hardlinked file is a link to the first.
    assert_eq!(
        all["dir/sub/b"],
        (tar::EntryType::Link, "dir/sub/a".into(), Vec::new())
    );
}

#[test]
fn cp_names_entries_from_the_base_name() {
    if !is_root() {
        return;
    }
    let root = sample_root();
    let dir = entries(&pack(root.path(), "/dir/").unwrap());
    assert!(
        dir.keys().all(|k| k.starts_with("dir/")),
        "{:?}",
        dir.keys()
    );
    assert!(dir.contains_key("dir/sub/a"));
    let file = entries(&pack(root.path(), "dir/file").unwrap());
    assert_eq!(file.keys().collect::<Vec<_>>(), ["file"]);
    // A symlink is archived as itself...
    let link = entries(&pack(root.path(), "/esc").unwrap());
    assert_eq!(
        link["esc"],
        (tar::EntryType::Symlink, "/etc".into(), Vec::new())
    );
    // ...and a path through it resolves inside the root, never to the host's /etc.
    let through = entries(&pack(root.path(), "/esc/passwd").unwrap());
    assert_eq!(through["passwd"].2, b"inside\n");
    let clamped = entries(&pack(root.path(), "/dir/up/etc/passwd").unwrap());
    assert_eq!(clamped["passwd"].2, b"inside\n");
    let err = pack(root.path(), "/esc/shadow").unwrap_err();
    assert!(
        matches!(&err, ImageError::Io { source, .. } if source.raw_os_error() == Some(libc::ENOENT)),
        "{err:?}"
    );
}

#[test]
fn stat_in_root_does_not_follow_the_last_component() {
    if !is_root() {
        return;
    }
    let root = sample_root();
    let esc = archive::stat_in_root(root.path(), "/esc").unwrap();
    assert_eq!(esc.name, "esc");
    assert_eq!(esc.mode & SFlag::S_IFMT.bits(), SFlag::S_IFLNK.bits());
    assert_eq!(esc.link_target, "/etc");
    let file = archive::stat_in_root(root.path(), "/../../dir/file").unwrap();
    let meta = fs::metadata(root.path().join("dir/file")).unwrap();
    assert_eq!(
        file,
        PathInfo {
            name: "file".into(),
            size: 7,
            mode: meta.mode(),
            mtime: meta.mtime(),
            link_target: String::new(),
        }
    );
    assert_eq!(archive::stat_in_root(root.path(), "/").unwrap().name, "/");
    let passwd = archive::stat_in_root(root.path(), "/esc/passwd").unwrap();
    assert_eq!(passwd.size, 7);
    assert!(archive::stat_in_root(root.path(), "/missing").is_err());
}

#[test]
fn pack_then_unpack_round_trips() {
    if !is_root() {
        return;
    }
    let root = sample_root();
    let tar = pack(root.path(), "/").unwrap();
    let copy = tempfile::tempdir().unwrap();
    archive::unpack_into(copy.path(), "/", &mut tar.as_slice(), false).unwrap();
    assert_eq!(tree(copy.path()), tree(root.path()));
    let file = fs::metadata(copy.path().join("dir/file")).unwrap();
    assert_eq!(
        (file.mode() & 0o7777, file.uid(), file.gid()),
        (0o640, 1000, 1001)
    );
    assert_eq!(
        fs::read_link(copy.path().join("esc")).unwrap(),
        Path::new("/etc")
    );
    assert!(fs::symlink_metadata(copy.path().join("dir/pipe"))
        .unwrap()
        .file_type()
        .is_fifo());
    let (a, b) = (
        fs::metadata(copy.path().join("dir/sub/a")).unwrap(),
        fs::metadata(copy.path().join("dir/sub/b")).unwrap(),
    );
    assert_eq!(a.ino(), b.ino());
}

#[test]
fn unpack_into_resolves_the_destination_in_root() {
    if !is_root() {
        return;
    }
    let root = sample_root();
    let tar = pack(root.path(), "/dir/file").unwrap();
    // Into a directory reached through an absolute symlink: the root's /etc, not the host's.
    let host_etc_before = fs::read_dir("/etc").unwrap().count();
    archive::unpack_into(root.path(), "/esc", &mut tar.as_slice(), false).unwrap();
    assert_eq!(fs::read(root.path().join("etc/file")).unwrap(), b"content");
    assert_eq!(fs::read_dir("/etc").unwrap().count(), host_etc_before);
    archive::unpack_into(root.path(), "/dir/sub", &mut tar.as_slice(), false).unwrap();
    assert!(root.path().join("dir/sub/file").is_file());
    let err =
        archive::unpack_into(root.path(), "/dir/file", &mut tar.as_slice(), false).unwrap_err();
    assert!(
        matches!(&err, ImageError::Io { source, .. } if source.raw_os_error() == Some(libc::ENOTDIR)),
        "{err:?}"
    );
    let err =
        archive::unpack_into(root.path(), "/nowhere", &mut tar.as_slice(), false).unwrap_err();
    assert!(
        matches!(&err, ImageError::Io { source, .. } if source.raw_os_error() == Some(libc::ENOENT)),
        "{err:?}"
    );
}
