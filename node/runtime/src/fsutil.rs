//! Small filesystem helpers: atomic file replacement, shared by the runtime's state store,
//! the shim's exit record and the daemon's bundle files.

use std::fs::{self, File};
use std::io::{self, Write};
use std::path::Path;

/// Writes `data` to `path` atomically: temp file in the same directory, then rename. A
/// crash of the writer leaves either the old content or the new, never a torn file.
///
/// There is deliberately no fsync: this is runtime state (under /run), describing processes
/// that a power loss ends anyway, and fsync would cost milliseconds on every container start.
pub fn write_atomic(path: &Path, data: &[u8]) -> io::Result<()> {
    replace_file(path, data, false)
}

/// Like [`write_atomic`], with fsyncs of the file and its directory so that the rename is
/// only visible once the content is on disk: for records that must survive a power loss.
pub fn write_durably(path: &Path, data: &[u8]) -> io::Result<()> {
    replace_file(path, data, true)
}

fn replace_file(path: &Path, data: &[u8], durable: bool) -> io::Result<()> {
    let dir = path
        .parent()
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "path has no parent"))?;
    let name = path
        .file_name()
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "path has no file name"))?;
    let tmp = dir.join(format!(".{}.tmp", name.to_string_lossy()));
    let result = (|| {
        let mut file = File::create(&tmp)?;
        file.write_all(data)?;
        if durable {
            file.sync_all()?;
        }
        fs::rename(&tmp, path)?;
        if durable {
            File::open(dir)?.sync_all()?;
        }
        Ok(())
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replaces_content_and_leaves_no_temp_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.json");
        write_atomic(&path, b"old").unwrap();
        write_atomic(&path, b"new").unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"new");
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1);
        write_durably(&path, b"durable").unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"durable");
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1);
    }
}
