//! The files of one log: the current one and its rotated predecessors `.1` (newest) to `.N`.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

/// The `n`th rotated file of `path` (`n` ≥ 1).
pub fn rotated(path: &Path, n: u32) -> PathBuf {
    let mut name = OsString::from(path.as_os_str());
    name.push(format!(".{n}"));
    PathBuf::from(name)
}

/// The log's existing files, oldest first, ending with the current one.
pub fn existing_oldest_first(path: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = (1..)
        .map(|n| rotated(path, n))
        .take_while(|file| file.exists())
        .collect();
    files.reverse();
    files.push(path.to_path_buf());
    files
}
