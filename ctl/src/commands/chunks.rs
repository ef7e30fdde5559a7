//! Moving byte streams in chunks of at most 1 MiB: uploads (import, cp to a container) and
//! downloads (export, cp from a container).

use anyhow::Result;
use std::future::Future;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;

/// The largest chunk sent in one message.
pub const CHUNK_SIZE: usize = 1024 * 1024;

/// Where an upload's bytes come from, one chunk of at most CHUNK_SIZE bytes at a time.
pub trait ChunkSource {
    /// The next chunk; `None` at the end.
    fn next_chunk(&mut self) -> impl Future<Output = std::io::Result<Option<Vec<u8>>>>;
}

/// Chunks read from an async reader.
pub struct ReaderChunks<R>(pub R);

impl<R: AsyncRead + Unpin> ChunkSource for ReaderChunks<R> {
    async fn next_chunk(&mut self) -> std::io::Result<Option<Vec<u8>>> {
        let data = read_chunk(&mut self.0).await?;
        Ok((!data.is_empty()).then_some(data))
    }
}

/// What a `ChunkWriter` sends to its `WriterChunks`.
enum Piece {
    Data(Vec<u8>),
    End,
    Failed(std::io::Error),
}

/// Chunks produced by a `ChunkWriter` on a blocking thread. The stream ends only at the
/// writer's explicit `finish`: a writer that stopped any other way fails the upload.
pub struct WriterChunks(mpsc::Receiver<Piece>);

impl ChunkSource for WriterChunks {
    async fn next_chunk(&mut self) -> std::io::Result<Option<Vec<u8>>> {
        match self.0.recv().await {
            Some(Piece::Data(data)) => Ok(Some(data)),
            Some(Piece::End) => Ok(None),
            Some(Piece::Failed(error)) => Err(error),
            None => Err(std::io::Error::new(
                std::io::ErrorKind::UnexpectedEof,
                "the archive ended early",
            )),
        }
    }
}

/// Runs a client-streaming call fed with `header` and then the source's chunks. A read error
/// cancels the call, so the daemon never mistakes a truncated input for a complete one.
pub async fn upload<Req, Resp, Call, Fut>(
    mut source: impl ChunkSource,
    header: Req,
    chunk: impl Fn(Vec<u8>) -> Req,
    call: Call,
) -> Result<Resp>
where
    Call: FnOnce(ReceiverStream<Req>) -> Fut,
    Fut: Future<Output = Result<tonic::Response<Resp>, tonic::Status>>,
{
    let (sender, receiver) = mpsc::channel(4);
    let feed = async move {
        sender.send(header).await.ok();
        while let Some(data) = source.next_chunk().await? {
            if sender.send(chunk(data)).await.is_err() {
                // The call ended early; its own result says why.
                break;
            }
        }
        anyhow::Ok(())
    };
    let call = async { Ok(call(ReceiverStream::new(receiver)).await?) };
    let ((), response) = tokio::try_join!(feed, call)?;
    Ok(response.into_inner())
}

/// A blocking writer (for `tar::Builder` on a blocking thread) that sends full chunks to an
/// upload's `WriterChunks`.
pub struct ChunkWriter {
    buffer: Vec<u8>,
    sender: mpsc::Sender<Piece>,
}

/// Reports why a `ChunkWriter`'s producer failed, even after the writer itself is gone.
pub struct FailureReporter(mpsc::Sender<Piece>);

impl FailureReporter {
    /// Fails the upload with this error.
    pub fn report(self, error: std::io::Error) {
        let _ = self.0.blocking_send(Piece::Failed(error));
    }
}

impl ChunkWriter {
    /// A writer and the source that receives its chunks.
    pub fn new() -> (ChunkWriter, WriterChunks) {
        let (sender, receiver) = mpsc::channel(4);
        (
            ChunkWriter {
                buffer: Vec::with_capacity(CHUNK_SIZE),
                sender,
            },
            WriterChunks(receiver),
        )
    }

    /// A handle to fail the upload with the producer's error.
    pub fn failure_reporter(&self) -> FailureReporter {
        FailureReporter(self.sender.clone())
    }

    fn send(&self, piece: Piece) -> std::io::Result<()> {
        self.sender
            .blocking_send(piece)
            .map_err(|_| std::io::Error::new(std::io::ErrorKind::BrokenPipe, "the upload ended"))
    }

    fn send_buffer(&mut self) -> std::io::Result<()> {
        if self.buffer.is_empty() {
            return Ok(());
        }
        let full = std::mem::replace(&mut self.buffer, Vec::with_capacity(CHUNK_SIZE));
        self.send(Piece::Data(full))
    }

    /// Sends the last partial chunk and ends the stream.
    pub fn finish(mut self) -> std::io::Result<()> {
        self.send_buffer()?;
        self.send(Piece::End)
    }
}

impl std::io::Write for ChunkWriter {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        let room = CHUNK_SIZE - self.buffer.len();
        let taken = data.len().min(room);
        self.buffer.extend_from_slice(&data[..taken]);
        if self.buffer.len() == CHUNK_SIZE {
            self.send_buffer()?;
        }
        Ok(taken)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Reads up to CHUNK_SIZE bytes, fewer only at the end of the input.
async fn read_chunk(input: &mut (impl AsyncRead + Unpin)) -> std::io::Result<Vec<u8>> {
    let mut data = Vec::with_capacity(CHUNK_SIZE);
    while data.len() < CHUNK_SIZE {
        let remaining = CHUNK_SIZE - data.len();
        if (&mut *input)
            .take(remaining as u64)
            .read_buf(&mut data)
            .await?
            == 0
        {
            break;
        }
    }
    Ok(data)
}

/// Writes every chunk of a server stream to `output`.
pub async fn download<M>(
    mut stream: tonic::Streaming<M>,
    mut output: impl AsyncWrite + Unpin,
    data: impl Fn(M) -> Option<Vec<u8>>,
) -> Result<()> {
    while let Some(message) = stream.message().await? {
        if let Some(bytes) = data(message) {
            output.write_all(&bytes).await?;
        }
    }
    output.flush().await?;
    Ok(())
}

/// Docker's refusal to write an archive to a terminal when no output file is given.
pub fn refuse_terminal_stdout(path: Option<&std::path::Path>) -> Result<()> {
    use std::io::IsTerminal;
    if path.is_none() && std::io::stdout().is_terminal() {
        return Err(crate::error::Failure::new(
            "cowardly refusing to save to a terminal. Use the -o flag or redirect",
        )
        .into());
    }
    Ok(())
}

/// Writes a server stream to `path` (through `<path>.partial`, renamed at the end, so a failed
/// download leaves no partial file), or to stdout without a path.
pub async fn download_to<M>(
    stream: tonic::Streaming<M>,
    path: Option<&std::path::Path>,
    data: impl Fn(M) -> Option<Vec<u8>>,
) -> Result<()> {
    let Some(path) = path else {
        return download(stream, tokio::io::stdout(), data).await;
    };
    let mut partial = path.as_os_str().to_owned();
    partial.push(".partial");
    let partial = std::path::PathBuf::from(partial);
    let file = tokio::fs::File::create(&partial).await.map_err(|e| {
        crate::error::Failure::new(format!("failed to create {}: {e}", partial.display()))
    })?;
    if let Err(error) = download(stream, file, data).await {
        let _ = tokio::fs::remove_file(&partial).await;
        return Err(error);
    }
    tokio::fs::rename(&partial, path).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn writer_sends_full_chunks() {
        use std::io::Write;
        let (mut writer, mut chunks) = ChunkWriter::new();
        let producer = std::thread::spawn(move || {
            writer.write_all(&vec![1u8; CHUNK_SIZE + 5]).unwrap();
            writer.finish().unwrap();
        });
        let mut sizes = Vec::new();
        while let Some(chunk) = chunks.next_chunk().await.unwrap() {
            sizes.push(chunk.len());
        }
        producer.join().unwrap();
        assert_eq!(sizes, [CHUNK_SIZE, 5]);
    }

    #[tokio::test]
    async fn a_writer_dropped_unfinished_fails_the_upload() {
        let (mut writer, mut chunks) = ChunkWriter::new();
        let producer = std::thread::spawn(move || {
            use std::io::Write;
            writer.write_all(b"partial").unwrap();
        });
        producer.join().unwrap();
        assert!(chunks.next_chunk().await.is_err());
    }

    #[tokio::test]
    async fn chunks_are_full_until_the_end() {
        let input = vec![7u8; CHUNK_SIZE * 2 + 10];
        let mut reader = input.as_slice();
        assert_eq!(read_chunk(&mut reader).await.unwrap().len(), CHUNK_SIZE);
        assert_eq!(read_chunk(&mut reader).await.unwrap().len(), CHUNK_SIZE);
        assert_eq!(read_chunk(&mut reader).await.unwrap().len(), 10);
        assert!(read_chunk(&mut reader).await.unwrap().is_empty());
    }
}
