//! The container log (Docker's json-file format: one `{"log","stream","time"}` object per line).

mod files;
mod follow;
mod line;
mod writer;

use std::collections::VecDeque;
use std::fs;
use std::io::{self, BufRead, BufReader};
use std::path::Path;

use chrono::{DateTime, Utc};

use crate::ShimError;

pub use follow::Follower;
pub use writer::LogWriter;

/// Which stream a log entry came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogStream {
    /// Standard output (and a terminal's output).
    Stdout,
    /// Standard error.
    Stderr,
}

/// One log entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogEntry {
    /// Its stream.
    pub stream: LogStream,
    /// When the shim read it.
    pub time: DateTime<Utc>,
    /// The bytes, normally one line with its newline.
    pub data: Vec<u8>,
}

/// Which entries to read.
#[derive(Debug, Clone, Copy, Default)]
pub struct ReadOptions {
    /// Only the last N entries.
    pub tail: Option<u64>,
    /// Only entries at or after this time.
    pub since: Option<DateTime<Utc>>,
    /// Only entries before this time.
    pub until: Option<DateTime<Utc>>,
}

impl ReadOptions {
    fn wants(&self, entry: &LogEntry) -> bool {
        self.since.is_none_or(|since| entry.time >= since)
            && self.until.is_none_or(|until| entry.time < until)
    }
}

/// Reads the entries of the current and rotated files, oldest first.
pub fn read(path: &Path, options: &ReadOptions) -> Result<Vec<LogEntry>, ShimError> {
    let mut entries = Vec::new();
    read_each(path, options, |entry| {
        entries.push(entry);
        true
    })?;
    Ok(entries)
}

/// Streams the wanted entries, oldest first, to `emit` until it returns false. Memory stays
/// bounded whatever the log's size: files are read line by line, and `tail` keeps only the
/// last N entries.
pub fn read_each(
    path: &Path,
    options: &ReadOptions,
    mut emit: impl FnMut(LogEntry) -> bool,
) -> Result<(), ShimError> {
    let Some(tail) = options.tail else {
        scan(path, options, &mut emit)?;
        return Ok(());
    };
    let keep = usize::try_from(tail).unwrap_or(usize::MAX);
    let mut last = VecDeque::new();
    if keep > 0 {
        scan(path, options, |entry| {
            if last.len() == keep {
                last.pop_front();
            }
            last.push_back(entry);
            true
        })?;
    }
    for entry in last {
        if !emit(entry) {
            break;
        }
    }
    Ok(())
}

/// Decodes every wanted entry of every file, oldest first, until `emit` returns false.
fn scan(
    path: &Path,
    options: &ReadOptions,
    mut emit: impl FnMut(LogEntry) -> bool,
) -> Result<(), ShimError> {
    for file in files::existing_oldest_first(path) {
        let reader = match fs::File::open(&file) {
            Ok(f) => BufReader::new(f),
            // Rotated away (or never written) while we looked.
            Err(err) if err.kind() == io::ErrorKind::NotFound => continue,
            Err(err) => return Err(ShimError::io(format!("reading {}", file.display()))(err)),
        };
        for line in reader.split(b'\n') {
            let line = line.map_err(ShimError::io(format!("reading {}", file.display())))?;
            let Some(entry) = line::decode(&line).filter(|e| options.wants(e)) else {
                continue;
            };
            if !emit(entry) {
                return Ok(());
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use chrono::TimeDelta;

    use super::*;
    use crate::LogOptions;

    #[test]
    fn tail_since_and_until_span_rotated_files() {
        let dir = tempfile::tempdir().unwrap();
        let opts = LogOptions {
            path: dir.path().join("c.log"),
            max_size: 300,
            max_files: 5,
        };
        let mut writer = LogWriter::open(&opts).unwrap();
        let start = Utc::now();
        for i in 0..30i64 {
            let time = start + TimeDelta::seconds(i);
            writer
                .write(LogStream::Stdout, time, format!("line {i}\n").as_bytes())
                .unwrap();
        }
        assert!(
            files::rotated(&opts.path, 2).exists(),
            "test needs rotated files"
        );
        let text = |entries: Vec<LogEntry>| -> Vec<String> {
            entries
                .into_iter()
                .map(|e| String::from_utf8(e.data).unwrap().trim().to_owned())
                .collect()
        };
        let tail = read(
            &opts.path,
            &ReadOptions {
                tail: Some(7),
                ..ReadOptions::default()
            },
        )
        .unwrap();
        assert_eq!(
            text(tail),
            (23..30).map(|i| format!("line {i}")).collect::<Vec<_>>()
        );
        let window = read(
            &opts.path,
            &ReadOptions {
                since: Some(start + TimeDelta::seconds(20)),
                until: Some(start + TimeDelta::seconds(22)),
                tail: None,
            },
        )
        .unwrap();
        assert_eq!(text(window), ["line 20", "line 21"]);
        assert!(
            read(&dir.path().join("missing.log"), &ReadOptions::default())
                .unwrap()
                .is_empty()
        );
    }
}
