//! The content store: blobs named by their sha256 digest (SECURITY.md item 7).
//!
//! A blob is written to a temporary file in `content/ingest/`, hashed as it streams, checked
//! against the expected size and digest, fsynced and only then renamed into
//! `content/blobs/sha256/<hex>`. A blob that does not check out is deleted, so every file in
//! `blobs/` is exactly what its name says.

use std::fs::{self, File};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use sha2::{Digest, Sha256};

use crate::reference::parse_digest;
use crate::ImageError;

/// What the caller knows about a blob before writing it.
#[derive(Debug, Clone, Default)]
pub(crate) struct Expected<'a> {
    pub digest: Option<&'a str>,
    pub size: Option<u64>,
}

/// A stored blob: its digest and size.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Blob {
    pub digest: String,
    pub size: u64,
}

pub(crate) struct ContentStore {
    blobs: PathBuf,
    ingest: PathBuf,
    counter: AtomicU64,
}

impl ContentStore {
    /// Creates `content/blobs/sha256` and `content/ingest` under `root`, and removes what
    /// interrupted ingests left behind.
    pub(crate) fn open(root: &Path) -> Result<Self, ImageError> {
        let blobs = root.join("content/blobs/sha256");
        let ingest = root.join("content/ingest");
        for dir in [&blobs, &ingest] {
            fs::create_dir_all(dir)
                .map_err(|e| ImageError::io(format!("creating {}", dir.display()), e))?;
        }
        for leftover in read_dir(&ingest)? {
            remove_path(&leftover)?;
        }
        Ok(ContentStore {
            blobs,
            ingest,
            counter: AtomicU64::new(0),
        })
    }

    /// Starts writing a blob.
    pub(crate) fn ingest(&self) -> Result<Ingest<'_>, ImageError> {
        let n = self.counter.fetch_add(1, Ordering::Relaxed);
        let path = self.ingest.join(format!("{}-{n}", std::process::id()));
        let file = File::options()
            .write(true)
            .create_new(true)
            .open(&path)
            .map_err(|e| ImageError::io(format!("creating {}", path.display()), e))?;
        Ok(Ingest {
            store: self,
            file,
            path,
            hasher: Sha256::new(),
            size: 0,
        })
    }

    /// Stores `bytes` as a blob.
    pub(crate) fn write(&self, bytes: &[u8], expected: Expected<'_>) -> Result<Blob, ImageError> {
        let mut ingest = self.ingest()?;
        ingest
            .write_all(bytes)
            .map_err(|e| ImageError::io("writing a blob", e))?;
        ingest.commit(expected)
    }

    /// Where the blob with `digest` lives (it may not exist).
    pub(crate) fn path(&self, digest: &str) -> Result<PathBuf, ImageError> {
        let digest = parse_digest(digest).map_err(ImageError::invalid)?;
        Ok(self.blobs.join(&digest["sha256:".len()..]))
    }

    /// Refuses to start writing `bytes` when the store's filesystem has less than that free
    /// (SECURITY.md item 6), rather than filling the disk and failing halfway.
    pub(crate) fn ensure_free_space(&self, bytes: u64) -> Result<(), ImageError> {
        let stat = nix::sys::statvfs::statvfs(&self.blobs).map_err(|e| {
            ImageError::sys(
                format!("checking free space of {}", self.blobs.display()),
                e,
            )
        })?;
        #[allow(clippy::unnecessary_cast)] // the field types differ between targets
        let free = stat.blocks_available() as u64 * stat.fragment_size() as u64;
        if free < bytes {
            return Err(ImageError::NoSpace(format!(
                "not enough disk space: {bytes} bytes needed, {free} free in {}",
                self.blobs.display()
            )));
        }
        Ok(())
    }

    pub(crate) fn open_blob(&self, digest: &str) -> Result<File, ImageError> {
        let path = self.path(digest)?;
        File::open(&path).map_err(|e| ImageError::io(format!("opening blob {digest}"), e))
    }

    /// The size of a stored blob; 0 when it is missing.
    pub(crate) fn size(&self, digest: &str) -> u64 {
        self.path(digest)
            .ok()
            .and_then(|p| fs::symlink_metadata(p).ok())
            .map_or(0, |m| m.len())
    }

    /// Deletes a blob; a missing one is fine.
    pub(crate) fn delete(&self, digest: &str) -> Result<(), ImageError> {
        match fs::remove_file(self.path(digest)?) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => {
                Err(ImageError::io(format!("deleting blob {digest}"), e))
            }
            _ => Ok(()),
        }
    }

    /// Every stored blob.
    pub(crate) fn list(&self) -> Result<Vec<Blob>, ImageError> {
        let mut blobs = Vec::new();
        for path in read_dir(&self.blobs)? {
            let name = path
                .file_name()
                .and_then(|n| n.to_str())
                .unwrap_or_default();
            let size = fs::symlink_metadata(&path)
                .map_err(|e| ImageError::io(format!("reading {}", path.display()), e))?
                .len();
            blobs.push(Blob {
                digest: format!("sha256:{name}"),
                size,
            });
        }
        Ok(blobs)
    }
}

/// A blob being written; dropped without [`Ingest::commit`], it leaves nothing behind.
pub(crate) struct Ingest<'s> {
    store: &'s ContentStore,
    file: File,
    path: PathBuf,
    hasher: Sha256,
    size: u64,
}

impl Write for Ingest<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.file.write(buf)?;
        self.hasher.update(&buf[..n]);
        self.size += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.file.flush()
    }
}

impl Ingest<'_> {
    /// Verifies, syncs and renames the blob into place.
    pub(crate) fn commit(mut self, expected: Expected<'_>) -> Result<Blob, ImageError> {
        let digest = format!("sha256:{}", hex::encode(self.hasher.clone().finalize()));
        if let Some(want) = expected.size {
            if want != self.size {
                return Err(ImageError::invalid(format!(
                    "blob size mismatch: expected {want} bytes, got {}",
                    self.size
                )));
            }
        }
        if let Some(want) = expected.digest {
            if want != digest {
                return Err(ImageError::invalid(format!(
                    "blob digest mismatch: expected {want}, got {digest}"
                )));
            }
        }
        self.file
            .sync_all()
            .map_err(|e| ImageError::io("syncing a blob", e))?;
        let target = self.store.path(&digest)?;
        fs::rename(&self.path, &target)
            .map_err(|e| ImageError::io(format!("storing blob {digest}"), e))?;
        // Renamed away: nothing left for Drop to remove.
        self.path = PathBuf::new();
        File::open(&self.store.blobs)
            .and_then(|dir| dir.sync_all())
            .map_err(|e| ImageError::io("syncing the blob directory", e))?;
        Ok(Blob {
            digest,
            size: self.size,
        })
    }
}

impl Drop for Ingest<'_> {
    fn drop(&mut self) {
        if !self.path.as_os_str().is_empty() {
            // Best effort: a leftover is also removed on the next open.
            let _ = fs::remove_file(&self.path);
        }
    }
}

/// The entries of a directory, as paths.
pub(crate) fn read_dir(dir: &Path) -> Result<Vec<PathBuf>, ImageError> {
    let context = || format!("listing {}", dir.display());
    fs::read_dir(dir)
        .map_err(|e| ImageError::io(context(), e))?
        .map(|entry| {
            entry
                .map(|e| e.path())
                .map_err(|e| ImageError::io(context(), e))
        })
        .collect()
}

/// Removes a file or a whole directory tree (our own paths only).
pub(crate) fn remove_path(path: &Path) -> Result<(), ImageError> {
    let result = match fs::symlink_metadata(path) {
        Ok(meta) if meta.is_dir() => fs::remove_dir_all(path),
        Ok(_) => fs::remove_file(path),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e),
    };
    result.map_err(|e| ImageError::io(format!("removing {}", path.display()), e))
}

#[cfg(test)]
mod tests {
    use super::*;

    const EMPTY_SHA256: &str =
        "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

    fn store() -> (tempfile::TempDir, ContentStore) {
        let dir = tempfile::tempdir().unwrap();
        let store = ContentStore::open(dir.path()).unwrap();
        (dir, store)
    }

    #[test]
    fn writes_larger_than_the_free_space_are_refused_up_front() {
        let (_dir, store) = store();
        store.ensure_free_space(4096).unwrap();
        let err = store.ensure_free_space(u64::MAX).unwrap_err();
        assert!(matches!(err, ImageError::NoSpace(_)), "{err}");
        assert!(err.to_string().contains("not enough disk space"), "{err}");
    }

    fn files(dir: &Path) -> usize {
        fs::read_dir(dir).unwrap().count()
    }

    #[test]
    fn verified_blobs_are_stored_under_their_digest() {
        let (dir, store) = store();
        let blob = store
            .write(
                b"",
                Expected {
                    digest: Some(EMPTY_SHA256),
                    size: Some(0),
                },
            )
            .unwrap();
        assert_eq!(
            blob,
            Blob {
                digest: EMPTY_SHA256.into(),
                size: 0
            }
        );
        assert!(dir
            .path()
            .join(EMPTY_SHA256.replace("sha256:", "content/blobs/sha256/"))
            .is_file());
        assert_eq!(store.list().unwrap(), vec![blob]);
        store.delete(EMPTY_SHA256).unwrap();
        store.delete(EMPTY_SHA256).unwrap();
        assert!(store.list().unwrap().is_empty());
    }

    #[test]
    fn mismatches_keep_nothing() {
        let (dir, store) = store();
        let wrong = format!("sha256:{}", "0".repeat(64));
        let err = store
            .write(
                b"data",
                Expected {
                    digest: Some(&wrong),
                    size: None,
                },
            )
            .unwrap_err();
        assert!(err.to_string().contains("digest mismatch"), "{err}");
        let err = store
            .write(
                b"data",
                Expected {
                    digest: None,
                    size: Some(3),
                },
            )
            .unwrap_err();
        assert!(err.to_string().contains("size mismatch"), "{err}");
        // An ingest abandoned halfway is removed too.
        let mut ingest = store.ingest().unwrap();
        ingest.write_all(b"partial").unwrap();
        drop(ingest);
        assert_eq!(files(&dir.path().join("content/blobs/sha256")), 0);
        assert_eq!(files(&dir.path().join("content/ingest")), 0);
        assert!(store.path("sha256:short").is_err());
        assert!(store.path("md5:abc").is_err());
    }

    #[test]
    fn open_removes_interrupted_ingests() {
        let (dir, store) = store();
        let mut ingest = store.ingest().unwrap();
        ingest.write_all(b"in flight").unwrap();
        // A crash: the temporary file stays behind.
        std::mem::forget(ingest);
        fs::create_dir(dir.path().join("content/ingest/dir-leftover")).unwrap();
        assert_eq!(files(&dir.path().join("content/ingest")), 2);
        ContentStore::open(dir.path()).unwrap();
        assert_eq!(files(&dir.path().join("content/ingest")), 0);
    }
}
