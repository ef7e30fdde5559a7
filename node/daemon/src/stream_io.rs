//! Blocking `Read`/`Write` adapters over bounded channels, so blocking tar code can consume a
//! client stream or feed a server stream chunk by chunk. A closed other side ends the I/O with
//! an error, which stops the blocking work.

use std::io::{self, Read, Write};

use tokio::sync::mpsc;

use crate::error::{DomainError, DomainResult};

/// The largest chunk sent in one message.
pub const CHUNK: usize = 1024 * 1024;

/// Reads the chunks a channel delivers, in order; end of file when the sender is done.
pub struct ChunkReader {
    rx: mpsc::Receiver<Vec<u8>>,
    current: Vec<u8>,
    offset: usize,
}

impl ChunkReader {
    /// A reader over `rx`. Use it only from a blocking thread.
    pub fn new(rx: mpsc::Receiver<Vec<u8>>) -> Self {
        Self {
            rx,
            current: Vec::new(),
            offset: 0,
        }
    }
}

impl Read for ChunkReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        while self.offset == self.current.len() {
            match self.rx.blocking_recv() {
                Some(chunk) => {
                    self.current = chunk;
                    self.offset = 0;
                }
                None => return Ok(0),
            }
        }
        let n = buf.len().min(self.current.len() - self.offset);
        buf[..n].copy_from_slice(&self.current[self.offset..self.offset + n]);
        self.offset += n;
        Ok(n)
    }
}

/// Collects written bytes into chunks of at most [`CHUNK`] and sends them.
pub struct ChunkWriter<T> {
    tx: mpsc::Sender<T>,
    wrap: fn(Vec<u8>) -> T,
    buffer: Vec<u8>,
}

impl<T> ChunkWriter<T> {
    /// A writer sending `wrap(chunk)` on `tx`. Use it only from a blocking thread.
    pub fn new(tx: mpsc::Sender<T>, wrap: fn(Vec<u8>) -> T) -> Self {
        Self {
            tx,
            wrap,
            buffer: Vec::with_capacity(CHUNK),
        }
    }

    fn send(&mut self) -> io::Result<()> {
        if self.buffer.is_empty() {
            return Ok(());
        }
        let chunk = std::mem::replace(&mut self.buffer, Vec::with_capacity(CHUNK));
        self.tx
            .blocking_send((self.wrap)(chunk))
            .map_err(|_| io::Error::new(io::ErrorKind::BrokenPipe, "the client went away"))
    }
}

impl<T> Write for ChunkWriter<T> {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        let n = data.len().min(CHUNK - self.buffer.len());
        self.buffer.extend_from_slice(&data[..n]);
        if self.buffer.len() == CHUNK {
            self.send()?;
        }
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.send()
    }
}

/// Runs `write` on a blocking thread into a writer that streams its bytes as chunks of at most
/// `CHUNK`, `buffer` chunks ahead of a slow client. A failure ends the stream with its error.
pub fn stream_blocking<F>(buffer: usize, write: F) -> mpsc::Receiver<DomainResult<Vec<u8>>>
where
    F: FnOnce(&mut dyn Write) -> DomainResult<()> + Send + 'static,
{
    let (tx, rx) = mpsc::channel(buffer);
    tokio::task::spawn_blocking(move || {
        let mut out = ChunkWriter::new(tx.clone(), Ok);
        let result = write(&mut out).and_then(|()| {
            out.flush()
                .map_err(|e| DomainError::internal("sending the archive", e))
        });
        if let Err(e) = result {
            let _ = tx.blocking_send(Err(e));
        }
    });
    rx
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_reader_concatenates_chunks() {
        let (tx, rx) = mpsc::channel(4);
        tx.blocking_send(b"hello ".to_vec()).unwrap();
        tx.blocking_send(Vec::new()).unwrap();
        tx.blocking_send(b"world".to_vec()).unwrap();
        drop(tx);
        let mut out = String::new();
        ChunkReader::new(rx).read_to_string(&mut out).unwrap();
        assert_eq!(out, "hello world");
    }

    #[test]
    fn the_writer_sends_bounded_chunks_and_fails_when_the_receiver_is_gone() {
        let (tx, mut rx) = mpsc::channel(8);
        let mut w = ChunkWriter::new(tx, |v| v);
        w.write_all(&vec![7u8; CHUNK + 10]).unwrap();
        w.flush().unwrap();
        assert_eq!(rx.blocking_recv().unwrap().len(), CHUNK);
        assert_eq!(rx.blocking_recv().unwrap().len(), 10);
        drop(rx);
        w.write_all(b"x").unwrap();
        assert!(w.flush().is_err());
    }
}
