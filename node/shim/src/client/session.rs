//! The two halves of an attach or exec session.

use tokio::io::AsyncWriteExt;
use tokio::net::unix::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::UnixStream;

use super::read_frame;
use crate::protocol::{self, FrameKind};
use crate::{ShimError, WinSize};

/// One event of an attach or exec session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IoEvent {
    /// Bytes on stdout (or the terminal).
    Stdout(Vec<u8>),
    /// Bytes on stderr.
    Stderr(Vec<u8>),
    /// The process exited with this code; the last event.
    Exit(i32),
}

/// The sending half of an attach or exec session.
#[derive(Debug)]
pub struct IoSender {
    stream: OwnedWriteHalf,
    name: String,
}

impl IoSender {
    /// Writes to the process's stdin.
    pub async fn stdin(&mut self, data: &[u8]) -> Result<(), ShimError> {
        for chunk in data.chunks(protocol::MAX_PAYLOAD) {
            self.send(FrameKind::Stdin, chunk).await?;
        }
        Ok(())
    }

    /// Closes the process's stdin.
    pub async fn close_stdin(&mut self) -> Result<(), ShimError> {
        self.send(FrameKind::CloseStdin, &[]).await
    }

    /// Resizes the process's terminal.
    pub async fn resize(&mut self, size: WinSize) -> Result<(), ShimError> {
        let mut frame = Vec::new();
        protocol::encode_json(FrameKind::Resize, &size, &mut frame);
        self.write(&frame).await
    }

    async fn send(&mut self, kind: FrameKind, payload: &[u8]) -> Result<(), ShimError> {
        let mut frame = Vec::with_capacity(protocol::HEADER_LEN + payload.len());
        protocol::encode(kind, payload, &mut frame);
        self.write(&frame).await
    }

    async fn write(&mut self, frame: &[u8]) -> Result<(), ShimError> {
        self.stream
            .write_all(frame)
            .await
            .map_err(|_| ShimError::NotRunning(self.name.clone()))
    }
}

/// The receiving half of an attach or exec session.
#[derive(Debug)]
pub struct IoReceiver {
    stream: OwnedReadHalf,
    name: String,
    finished: bool,
}

impl IoReceiver {
    /// The next event; `None` once the shim closed the session.
    pub async fn next(&mut self) -> Result<Option<IoEvent>, ShimError> {
        if self.finished {
            return Ok(None);
        }
        let frame = read_frame(&mut self.stream)
            .await
            .map_err(ShimError::io(format!(
                "reading the session of {}",
                self.name
            )))?;
        let Some((kind, payload)) = frame else {
            self.finished = true;
            return Ok(None);
        };
        match kind {
            FrameKind::Stdout => Ok(Some(IoEvent::Stdout(payload))),
            FrameKind::Stderr => Ok(Some(IoEvent::Stderr(payload))),
            FrameKind::Exit => {
                self.finished = true;
                let code = payload
                    .first_chunk::<4>()
                    .map(|b| i32::from_be_bytes(*b))
                    .ok_or_else(|| ShimError::Failed("shim protocol: short exit frame".into()))?;
                Ok(Some(IoEvent::Exit(code)))
            }
            other => Err(ShimError::Failed(format!(
                "shim protocol: unexpected {other:?} frame in a session"
            ))),
        }
    }
}

pub(super) fn split(stream: UnixStream, name: String) -> (IoSender, IoReceiver) {
    let (read, write) = stream.into_split();
    (
        IoSender {
            stream: write,
            name: name.clone(),
        },
        IoReceiver {
            stream: read,
            name,
            finished: false,
        },
    )
}
