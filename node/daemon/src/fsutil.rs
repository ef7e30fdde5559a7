//! Small filesystem helpers: atomic writes and private directories.

use std::{
    fs, io,
    os::unix::fs::{DirBuilderExt, PermissionsExt},
    path::Path,
};

/// Writes `data` to `path` atomically and durably: a temporary file in the same directory,
/// fsync, rename, fsync of the directory.
pub use berth_runtime::fsutil::write_durably as write_atomic;

/// Creates `dir` (and parents) and sets its mode, also when it already existed.
pub fn private_dir(dir: &Path, mode: u32) -> io::Result<()> {
    fs::DirBuilder::new()
        .recursive(true)
        .mode(mode)
        .create(dir)?;
    fs::set_permissions(dir, fs::Permissions::from_mode(mode))
}

/// The bytes used by the files under `dir`, without following symlinks or crossing into
/// other filesystems' mountpoints below it; 0 if it does not exist.
pub fn disk_usage(dir: &Path) -> u64 {
    use std::os::unix::fs::MetadataExt;
    let Ok(top) = fs::symlink_metadata(dir) else {
        return 0;
    };
    let device = top.dev();
    let mut total = 0;
    let mut stack = vec![dir.to_owned()];
    while let Some(current) = stack.pop() {
        let Ok(entries) = fs::read_dir(&current) else {
            continue;
        };
        for entry in entries.flatten() {
            let Ok(meta) = entry.metadata() else { continue };
            if meta.dev() != device {
                continue;
            }
            if meta.is_dir() {
                stack.push(entry.path());
            } else {
                total += meta.len();
            }
        }
    }
    total
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn atomic_write_replaces_the_file_and_leaves_no_temp() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.json");
        write_atomic(&path, b"one").unwrap();
        write_atomic(&path, b"two").unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"two");
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[test]
    fn disk_usage_counts_files_below() {
        let dir = tempfile::tempdir().unwrap();
        fs::create_dir(dir.path().join("a")).unwrap();
        fs::write(dir.path().join("a/f"), [0u8; 100]).unwrap();
        fs::write(dir.path().join("g"), [0u8; 23]).unwrap();
        assert_eq!(disk_usage(dir.path()), 123);
        assert_eq!(disk_usage(&dir.path().join("missing")), 0);
    }
}
