//! Writing the log: entries per line, rotated by size.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::OpenOptionsExt;

use chrono::{DateTime, Utc};

use super::{files, line, LogStream};
use crate::LogOptions;

/// A line longer than this is written in pieces, so one endless line cannot grow the shim's
/// memory (Docker splits at 16 KiB too).
const MAX_LINE: usize = 16 * 1024;

/// Appends a container's output to its log, one entry per line, rotating by size.
#[derive(Debug)]
pub struct LogWriter {
    options: LogOptions,
    file: File,
    size: u64,
    /// Each stream's unfinished last line.
    partial: [Vec<u8>; 2],
    encoded: Vec<u8>,
}

impl LogWriter {
    /// Opens (or creates, mode 0640) the current file for appending.
    pub fn open(options: &LogOptions) -> io::Result<Self> {
        let file = open_current(options)?;
        let size = file.metadata()?.len();
        Ok(Self {
            options: options.clone(),
            file,
            size,
            partial: [Vec::new(), Vec::new()],
            encoded: Vec::new(),
        })
    }

    /// Logs `data` read from `stream` at `time`: each complete line becomes an entry, the
    /// rest waits for its end.
    pub fn write(&mut self, stream: LogStream, time: DateTime<Utc>, data: &[u8]) -> io::Result<()> {
        let index = stream as usize;
        let mut rest = data;
        while !rest.is_empty() {
            let take = rest
                .iter()
                .position(|b| *b == b'\n')
                .map(|i| i + 1)
                .unwrap_or(rest.len());
            let (chunk, tail) = rest.split_at(take);
            rest = tail;
            self.partial[index].extend_from_slice(chunk);
            if chunk.ends_with(b"\n") || self.partial[index].len() >= MAX_LINE {
                let entry = std::mem::take(&mut self.partial[index]);
                self.append(stream, time, &entry)?;
            }
        }
        Ok(())
    }

    /// Logs the unfinished lines, at the end of the output.
    pub fn flush_partial(&mut self, time: DateTime<Utc>) -> io::Result<()> {
        for stream in [LogStream::Stdout, LogStream::Stderr] {
            let entry = std::mem::take(&mut self.partial[stream as usize]);
            if !entry.is_empty() {
                self.append(stream, time, &entry)?;
            }
        }
        Ok(())
    }

    fn append(&mut self, stream: LogStream, time: DateTime<Utc>, data: &[u8]) -> io::Result<()> {
        self.encoded.clear();
        line::encode(stream, time, data, &mut self.encoded);
        let len = self.encoded.len() as u64;
        if self.size > 0 && self.size + len > self.options.max_size {
            self.rotate()?;
        }
        self.file.write_all(&self.encoded)?;
        self.size += len;
        if self.encoded.capacity() > 2 * MAX_LINE {
            self.encoded = Vec::new();
        }
        Ok(())
    }

    /// Shifts `.N-1` to `.N` … the current file to `.1` and starts an empty current file; with
    /// a single file allowed, empties the current one.
    fn rotate(&mut self) -> io::Result<()> {
        let path = &self.options.path;
        let keep = self.options.max_files.max(1);
        if keep == 1 {
            self.file.set_len(0)?;
            self.size = 0;
            return Ok(());
        }
        for n in (1..keep).rev() {
            let from = if n == 1 {
                path.clone()
            } else {
                files::rotated(path, n - 1)
            };
            match fs::rename(&from, files::rotated(path, n)) {
                Err(err) if err.kind() != io::ErrorKind::NotFound => return Err(err),
                _ => {}
            }
        }
        self.file = open_current(&self.options)?;
        self.size = 0;
        Ok(())
    }
}

fn open_current(options: &LogOptions) -> io::Result<File> {
    OpenOptions::new()
        .create(true)
        .append(true)
        .mode(0o640)
        .open(&options.path)
}

#[cfg(test)]
mod tests {
    use super::super::{read, ReadOptions};
    use super::*;

    fn options(dir: &std::path::Path, max_size: u64, max_files: u32) -> LogOptions {
        LogOptions {
            path: dir.join("container.log"),
            max_size,
            max_files,
        }
    }

    /// Writes `line 0\n` to `line {count - 1}\n` to stdout.
    fn write_numbered_lines(writer: &mut LogWriter, count: usize) {
        for i in 0..count {
            writer
                .write(
                    LogStream::Stdout,
                    Utc::now(),
                    format!("line {i}\n").as_bytes(),
                )
                .unwrap();
        }
    }

    #[test]
    fn splits_lines_and_keeps_partial_ones() {
        let dir = tempfile::tempdir().unwrap();
        let opts = options(dir.path(), 1 << 20, 3);
        let mut writer = LogWriter::open(&opts).unwrap();
        let now = Utc::now();
        writer.write(LogStream::Stdout, now, b"one\ntw").unwrap();
        writer.write(LogStream::Stderr, now, b"err\n").unwrap();
        writer.write(LogStream::Stdout, now, b"o\nthree").unwrap();
        writer.flush_partial(now).unwrap();
        let entries = read(&opts.path, &ReadOptions::default()).unwrap();
        let got: Vec<(LogStream, &[u8])> = entries
            .iter()
            .map(|e| (e.stream, e.data.as_slice()))
            .collect();
        assert_eq!(
            got,
            [
                (LogStream::Stdout, &b"one\n"[..]),
                (LogStream::Stderr, b"err\n"),
                (LogStream::Stdout, b"two\n"),
                (LogStream::Stdout, b"three"),
            ]
        );
    }

    #[test]
    fn rotates_by_size_and_keeps_max_files() {
        let dir = tempfile::tempdir().unwrap();
        let opts = options(dir.path(), 400, 3);
        let mut writer = LogWriter::open(&opts).unwrap();
        write_numbered_lines(&mut writer, 100);
        assert!(files::rotated(&opts.path, 2).exists());
        assert!(!files::rotated(&opts.path, 3).exists());
        for file in files::existing_oldest_first(&opts.path) {
            assert!(
                fs::metadata(&file).unwrap().len() <= 400,
                "{file:?} too big"
            );
        }
        let entries = read(&opts.path, &ReadOptions::default()).unwrap();
        let last = entries.last().unwrap();
        assert_eq!(last.data, b"line 99\n");
        // Consecutive across the three files: nothing lost in between.
        let first: usize = String::from_utf8_lossy(&entries[0].data)[5..]
            .trim()
            .parse()
            .unwrap();
        assert_eq!(entries.len(), 100 - first);
    }

    #[test]
    fn a_single_file_is_emptied_instead_of_rotated() {
        let dir = tempfile::tempdir().unwrap();
        let opts = options(dir.path(), 300, 1);
        let mut writer = LogWriter::open(&opts).unwrap();
        write_numbered_lines(&mut writer, 50);
        assert!(!files::rotated(&opts.path, 1).exists());
        assert!(fs::metadata(&opts.path).unwrap().len() <= 300);
    }
}
