//! Following a log as it grows, across rotations.

use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use super::{files, line, LogEntry};
use crate::ShimError;

/// The most bytes one poll reads, so a chatty container cannot make one poll's entries
/// arbitrarily large (the next poll goes on where this one stopped).
const POLL_LIMIT: u64 = 1 << 20;

/// Follows a log from its current end, across rotations.
pub struct Follower {
    path: PathBuf,
    /// The file being read; after a rotation it is the renamed old file until drained.
    file: Option<File>,
    inode: u64,
    offset: u64,
    /// A line read without its newline yet.
    partial: Vec<u8>,
}

impl Follower {
    /// Starts following `path` from its current end.
    pub fn new(path: &Path) -> Result<Self, ShimError> {
        let mut follower = Self {
            path: path.to_path_buf(),
            file: None,
            inode: 0,
            offset: 0,
            partial: Vec::new(),
        };
        if let Some(file) = follower.open_current()? {
            let meta = file
                .metadata()
                .map_err(ShimError::io(format!("reading {}", path.display())))?;
            follower.inode = meta.ino();
            follower.offset = meta.len();
            follower.file = Some(file);
        }
        Ok(follower)
    }

    /// The entries written since the last call (may be empty).
    pub fn poll(&mut self) -> Result<Vec<LogEntry>, ShimError> {
        let mut entries = Vec::new();
        if !self.read_new(&mut entries)? {
            return Ok(entries);
        }
        // Ours was rotated away when another file sits at the path: it is fully read now,
        // so go on with the file written after it, until the current one.
        while let Some(file) = self.successor()? {
            self.inode = file
                .metadata()
                .map_err(ShimError::io(format!("reading {}", self.path.display())))?
                .ino();
            self.file = Some(file);
            self.offset = 0;
            self.partial.clear();
            if !self.read_new(&mut entries)? {
                break;
            }
        }
        Ok(entries)
    }

    /// The file written after ours: the next newer rotated file, or the current one. `None`
    /// while ours is still the current file.
    fn successor(&self) -> Result<Option<File>, ShimError> {
        let inode_of = |path: &Path| std::fs::metadata(path).ok().map(|m| m.ino());
        if self.file.is_none() {
            return self.open_current();
        }
        if inode_of(&self.path) == Some(self.inode) {
            return Ok(None);
        }
        // Where ours went: `.k` means `.k-1` (or the current file for `.1`) came next.
        let position = (1..)
            .map(|n| (n, files::rotated(&self.path, n)))
            .take_while(|(_, file)| file.exists())
            .find(|(_, file)| inode_of(file) == Some(self.inode))
            .map(|(n, _)| n);
        let next = match position {
            Some(n) if n > 1 => files::rotated(&self.path, n - 1),
            _ => self.path.clone(),
        };
        match File::open(&next) {
            Ok(file) => Ok(Some(file)),
            Err(err) if err.kind() == io::ErrorKind::NotFound => self.open_current(),
            Err(err) => Err(ShimError::io(format!("opening {}", next.display()))(err)),
        }
    }

    fn open_current(&self) -> Result<Option<File>, ShimError> {
        match File::open(&self.path) {
            Ok(file) => Ok(Some(file)),
            Err(err) if err.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(err) => Err(ShimError::io(format!("opening {}", self.path.display()))(
                err,
            )),
        }
    }

    /// Reads what was appended, at most [`POLL_LIMIT`] bytes; true once at the file's end.
    fn read_new(&mut self, entries: &mut Vec<LogEntry>) -> Result<bool, ShimError> {
        let Some(file) = self.file.as_mut() else {
            return Ok(true);
        };
        let context = || format!("reading {}", self.path.display());
        let len = file.metadata().map_err(ShimError::io(context()))?.len();
        if len < self.offset {
            // Emptied in place (a log with a single file).
            self.offset = 0;
            self.partial.clear();
        }
        file.seek(SeekFrom::Start(self.offset))
            .map_err(ShimError::io(context()))?;
        let mut data = Vec::new();
        let read = file
            .take(POLL_LIMIT)
            .read_to_end(&mut data)
            .map_err(ShimError::io(context()))?;
        self.offset += read as u64;
        let at_end = self.offset >= len;
        let mut rest = data.as_slice();
        while let Some(end) = rest.iter().position(|b| *b == b'\n') {
            self.partial.extend_from_slice(&rest[..end]);
            rest = &rest[end + 1..];
            if let Some(entry) = line::decode(&self.partial) {
                entries.push(entry);
            }
            self.partial.clear();
        }
        self.partial.extend_from_slice(rest);
        Ok(at_end)
    }
}

#[cfg(test)]
mod tests {
    use chrono::Utc;

    use super::*;
    use crate::logs::{LogStream, LogWriter};
    use crate::LogOptions;

    #[test]
    fn follows_across_rotations_without_loss() {
        let dir = tempfile::tempdir().unwrap();
        let opts = LogOptions {
            path: dir.path().join("c.log"),
            max_size: 200,
            max_files: 3,
        };
        let mut writer = LogWriter::open(&opts).unwrap();
        writer
            .write(LogStream::Stdout, Utc::now(), b"before\n")
            .unwrap();
        let mut follower = Follower::new(&opts.path).unwrap();
        let mut seen = Vec::new();
        for i in 0..40 {
            writer
                .write(
                    LogStream::Stdout,
                    Utc::now(),
                    format!("line {i}\n").as_bytes(),
                )
                .unwrap();
            // Poll every few lines, so that some polls straddle a rotation.
            if i % 3 == 0 {
                seen.extend(follower.poll().unwrap());
            }
        }
        seen.extend(follower.poll().unwrap());
        let lines: Vec<String> = seen
            .into_iter()
            .map(|e| String::from_utf8(e.data).unwrap())
            .collect();
        let expected: Vec<String> = (0..40).map(|i| format!("line {i}\n")).collect();
        assert_eq!(lines, expected);
    }

    #[test]
    fn waits_for_a_log_that_does_not_exist_yet() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("later.log");
        let mut follower = Follower::new(&path).unwrap();
        assert!(follower.poll().unwrap().is_empty());
        let opts = LogOptions {
            path: path.clone(),
            max_size: 1 << 20,
            max_files: 1,
        };
        let mut writer = LogWriter::open(&opts).unwrap();
        writer
            .write(LogStream::Stderr, Utc::now(), b"hello\n")
            .unwrap();
        let entries = follower.poll().unwrap();
        assert_eq!(entries.len(), 1);
        assert_eq!(entries[0].stream, LogStream::Stderr);
    }
}
