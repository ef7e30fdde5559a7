//! Unpacked layers: `snapshots/<n>/`, one per chain ID, shared by every image that has it.
//!
//! Short numeric names keep overlayfs's `lowerdir=` option short enough for many layers. A
//! layer is unpacked into `snapshots/<n>.tmp`, checked against its diff ID, synced and renamed;
//! anything in `snapshots/` that the index does not know is a leftover and is removed on open.

use std::collections::HashSet;
use std::fs;
use std::io::{self, Read};
use std::os::fd::AsRawFd;
use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::content::{read_dir, remove_path};
use crate::tar_reader::{Limits, TarReader};
use crate::unpack::{self, Options};
use crate::ImageError;

pub(crate) struct Snapshots {
    dir: PathBuf,
}

impl Snapshots {
    pub(crate) fn open(root: &Path) -> Result<Self, ImageError> {
        let dir = root.join("snapshots");
        fs::create_dir_all(&dir)
            .map_err(|e| ImageError::io(format!("creating {}", dir.display()), e))?;
        Ok(Snapshots { dir })
    }

    /// Where snapshot `n` lives.
    pub(crate) fn path(&self, n: u64) -> PathBuf {
        self.dir.join(n.to_string())
    }

    /// Removes every entry that is not one of the `known` snapshot numbers (half-unpacked
    /// layers, and snapshots whose removal was interrupted).
    pub(crate) fn remove_unknown(&self, known: &HashSet<u64>) -> Result<(), ImageError> {
        for path in read_dir(&self.dir)? {
            let number = path
                .file_name()
                .and_then(|n| n.to_str())
                .and_then(|n| n.parse::<u64>().ok());
            if !number.is_some_and(|n| known.contains(&n)) {
                remove_path(&path)?;
            }
        }
        Ok(())
    }

    /// Unpacks the layer `blob` (an uncompressed tar) into snapshot `n`, verifying that its
    /// digest is `diff_id`. Returns the bytes of file data. On any failure nothing is left.
    pub(crate) fn unpack(&self, n: u64, blob: impl Read, diff_id: &str) -> Result<u64, ImageError> {
        let tmp = self.dir.join(format!("{n}.tmp"));
        let result = self.unpack_into(&tmp, blob, diff_id);
        let result = result.and_then(|size| {
            fs::rename(&tmp, self.path(n))
                .map_err(|e| ImageError::io(format!("renaming {}", tmp.display()), e))?;
            Ok(size)
        });
        if result.is_err() {
            // The error is what matters; a leftover would also go on the next open.
            let _ = remove_path(&tmp);
        }
        result
    }

    fn unpack_into(&self, tmp: &Path, blob: impl Read, diff_id: &str) -> Result<u64, ImageError> {
        remove_path(tmp)?;
        fs::DirBuilder::new()
            .mode(0o755)
            .create(tmp)
            .map_err(|e| ImageError::io(format!("creating {}", tmp.display()), e))?;
        let root = pathrs::Root::open(tmp)
            .map_err(|e| ImageError::pathrs(format!("opening {}", tmp.display()), e))?;
        let mut hashed = Hashing {
            inner: blob,
            hasher: Sha256::new(),
        };
        let mut tar = TarReader::new(&mut hashed, Limits::default());
        let options = Options {
            overlay_whiteouts: true,
            no_overwrite_dir_non_dir: false,
        };
        let summary = unpack::unpack(&root, Path::new("/"), &mut tar, options)?;
        tar.drain()?;
        let actual = format!("sha256:{}", hex::encode(hashed.hasher.finalize()));
        if actual != diff_id {
            return Err(ImageError::Corrupt(format!(
                "layer diff ID mismatch: expected {diff_id}, got {actual}"
            )));
        }
        // Durable before the rename and the index commit make it visible.
        let dir = fs::File::open(tmp)
            .map_err(|e| ImageError::io(format!("opening {}", tmp.display()), e))?;
        nix::unistd::syncfs(dir.as_raw_fd())
            .map_err(|e| ImageError::sys(format!("syncing {}", tmp.display()), e))?;
        Ok(summary.file_bytes)
    }

    /// Deletes snapshot `n`.
    pub(crate) fn remove(&self, n: u64) -> Result<(), ImageError> {
        remove_path(&self.path(n))
    }
}

/// Hashes what passes through.
struct Hashing<R> {
    inner: R,
    hasher: Sha256,
}

impl<R: Read> Read for Hashing<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hasher.update(&buf[..n]);
        Ok(n)
    }
}
