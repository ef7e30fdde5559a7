//! Fixtures shared by the store's integration tests: a store on a tempdir, a busybox rootfs,
//! and a raw tar writer that can express the malformed entries the unpacker must refuse.
#![allow(dead_code, clippy::unwrap_used)]

use std::fs;
use std::io::Write;
use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use berth_image::ImageStore;
use tar::{EntryType, Header};
use tempfile::TempDir;

/// True as root; otherwise says the test is skipped (they need mknod, chown, mount).
pub fn is_root() -> bool {
    let root = nix::unistd::geteuid().is_root();
    if !root {
        eprintln!("skipped: needs root");
    }
    root
}

/// A store rooted in a fresh tempdir.
pub struct TestStore {
    pub dir: TempDir,
    pub db: Arc<redb::Database>,
    pub store: ImageStore,
}

impl TestStore {
    pub fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let db = Arc::new(redb::Database::create(dir.path().join("meta.redb")).unwrap());
        let store = ImageStore::open(dir.path(), db.clone()).unwrap();
        TestStore { dir, db, store }
    }

    pub fn root(&self) -> &Path {
        self.dir.path()
    }

    /// Reopens the store on the same root and database.
    pub fn reopen(&mut self) {
        self.store = ImageStore::open(self.dir.path(), self.db.clone()).unwrap();
    }

    /// Names in a store directory such as `snapshots` or `content/blobs/sha256`.
    pub fn names(&self, sub: &str) -> Vec<String> {
        let mut names: Vec<String> = fs::read_dir(self.root().join(sub))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }

    /// Asserts that the store holds nothing at all.
    pub fn assert_empty(&self) {
        assert!(self.store.list().unwrap().is_empty());
        assert_eq!(self.names("snapshots"), Vec::<String>::new());
        assert_eq!(self.names("content/blobs/sha256"), Vec::<String>::new());
        assert_eq!(self.names("content/ingest"), Vec::<String>::new());
    }
}

/// A busybox root filesystem: the static binary, a few applet links, /etc files, /tmp.
pub fn busybox_rootfs(parent: &Path) -> PathBuf {
    let root = parent.join("busybox-rootfs");
    for dir in ["bin", "etc", "tmp", "root"] {
        fs::create_dir_all(root.join(dir)).unwrap();
    }
    fs::copy("/bin/busybox", root.join("bin/busybox")).unwrap();
    for applet in ["sh", "echo", "ls", "cat", "true"] {
        symlink("busybox", root.join("bin").join(applet)).unwrap();
    }
    fs::write(root.join("etc/passwd"), "root:x:0:0:root:/root:/bin/sh\n").unwrap();
    fs::write(root.join("etc/group"), "root:x:0:\n").unwrap();
    root
}

/// A tar of a directory's contents (symlinks kept as symlinks).
pub fn tar_of(dir: &Path) -> Vec<u8> {
    let mut builder = tar::Builder::new(Vec::new());
    builder.follow_symlinks(false);
    builder.append_dir_all(".", dir).unwrap();
    builder.into_inner().unwrap()
}

pub fn gzip(data: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    encoder.write_all(data).unwrap();
    encoder.finish().unwrap()
}

/// Writes tar entries with arbitrary raw names and link targets (`..`, absolute paths),
/// which `tar::Builder` refuses to produce.
#[derive(Default)]
pub struct RawTar {
    data: Vec<u8>,
}

impl RawTar {
    pub fn new() -> Self {
        Self::default()
    }

    fn header(name: &[u8], kind: EntryType, link: &[u8], size: u64, mode: u32) -> Header {
        let mut header = Header::new_gnu();
        header.as_old_mut().name[..name.len()].copy_from_slice(name);
        header.as_old_mut().linkname[..link.len()].copy_from_slice(link);
        header.set_entry_type(kind);
        header.set_size(size);
        header.set_mode(mode);
        header.set_mtime(1_600_000_000);
        header.set_uid(0);
        header.set_gid(0);
        header
    }

    pub fn push(&mut self, mut header: Header, body: &[u8]) -> &mut Self {
        header.set_cksum();
        self.data.extend_from_slice(header.as_bytes());
        self.data.extend_from_slice(body);
        let pad = (512 - body.len() % 512) % 512;
        self.data.extend(std::iter::repeat_n(0, pad));
        self
    }

    pub fn file(&mut self, name: &str, body: &[u8]) -> &mut Self {
        let header = Self::header(
            name.as_bytes(),
            EntryType::Regular,
            b"",
            body.len() as u64,
            0o644,
        );
        self.push(header, body)
    }

    pub fn file_with(
        &mut self,
        name: &str,
        body: &[u8],
        edit: impl FnOnce(&mut Header),
    ) -> &mut Self {
        let mut header = Self::header(
            name.as_bytes(),
            EntryType::Regular,
            b"",
            body.len() as u64,
            0o644,
        );
        edit(&mut header);
        self.push(header, body)
    }

    pub fn dir(&mut self, name: &str, mode: u32) -> &mut Self {
        let header = Self::header(name.as_bytes(), EntryType::Directory, b"", 0, mode);
        self.push(header, b"")
    }

    pub fn symlink(&mut self, name: &str, target: &str) -> &mut Self {
        let header = Self::header(
            name.as_bytes(),
            EntryType::Symlink,
            target.as_bytes(),
            0,
            0o777,
        );
        self.push(header, b"")
    }

    pub fn hardlink(&mut self, name: &str, target: &str) -> &mut Self {
        let header = Self::header(
            name.as_bytes(),
            EntryType::Link,
            target.as_bytes(),
            0,
            0o644,
        );
        self.push(header, b"")
    }

    pub fn finish(&self) -> Vec<u8> {
        let mut data = self.data.clone();
        data.extend(std::iter::repeat_n(0, 1024));
        data
    }
}

/// The entries of a directory tree, relative, sorted (`a`, `a/b`, ...).
pub fn tree(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in fs::read_dir(&d).unwrap() {
            let path = entry.unwrap().path();
            out.push(
                path.strip_prefix(dir)
                    .unwrap()
                    .to_string_lossy()
                    .into_owned(),
            );
            if fs::symlink_metadata(&path).unwrap().is_dir() {
                stack.push(path);
            }
        }
    }
    out.sort();
    out
}
