//! The wire protocol of the shim's socket.
//!
//! Every message is a frame: a 4-byte big-endian payload length, a 1-byte kind, the payload.
//! A connection starts with one `Request` frame (JSON [`Request`]) answered by one `Reply`
//! frame (JSON `Result<Payload, ReplyError>`). Most connections end there. `Attach` and `Exec`
//! connections go on carrying data frames: `Stdin`, `CloseStdin` and `Resize` (JSON
//! [`WinSize`]) towards the shim, `Stdout`, `Stderr` and finally `Exit` (4-byte big-endian
//! exit code) back.

use serde::{Deserialize, Serialize};

use crate::logs::LogStream;
use crate::{AttachOptions, CgroupStats, ExecSpec, ExitRecord, ShimError, ShimInfo, WinSize};

/// The largest payload either side accepts; stdio chunks are far smaller.
pub const MAX_PAYLOAD: usize = 256 * 1024;

/// Length and kind.
pub const HEADER_LEN: usize = 5;

/// What a frame carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum FrameKind {
    /// A JSON [`Request`], the first frame from the client.
    Request = 1,
    /// The JSON answer to it.
    Reply = 2,
    /// Bytes for the process's stdin.
    Stdin = 3,
    /// Close the process's stdin.
    CloseStdin = 4,
    /// A JSON [`WinSize`] for the process's terminal.
    Resize = 5,
    /// Bytes the process wrote to stdout (or its terminal).
    Stdout = 6,
    /// Bytes the process wrote to stderr.
    Stderr = 7,
    /// The process's exit code; the last frame.
    Exit = 8,
}

impl From<LogStream> for FrameKind {
    /// The frame that carries output of this stream.
    fn from(stream: LogStream) -> Self {
        match stream {
            LogStream::Stdout => FrameKind::Stdout,
            LogStream::Stderr => FrameKind::Stderr,
        }
    }
}

impl FrameKind {
    fn from_byte(byte: u8) -> Option<Self> {
        use FrameKind::*;
        [
            Request, Reply, Stdin, CloseStdin, Resize, Stdout, Stderr, Exit,
        ]
        .into_iter()
        .find(|kind| *kind as u8 == byte)
    }
}

/// One decoded frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    /// Its kind.
    pub kind: FrameKind,
    /// Its payload.
    pub payload: Vec<u8>,
}

/// What a client asks the shim.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "op")]
pub enum Request {
    /// Who the shim is and where the container stands.
    Info,
    /// Start the created container.
    Start,
    /// Answer once the main process has exited and the shim has recorded it.
    Wait,
    /// Send a signal to the main process, or every process with `all`.
    Signal {
        /// The signal number.
        signal: i32,
        /// Every process of the container.
        all: bool,
    },
    /// Freeze the container.
    Pause,
    /// Thaw it.
    Resume,
    /// The host PIDs of its processes.
    Pids,
    /// Its cgroup usage.
    Stats,
    /// New cgroup limits.
    Update {
        /// The limits.
        resources: Box<oci_spec::runtime::LinuxResources>,
    },
    /// Resize the main process's terminal.
    Resize {
        /// The new size.
        size: WinSize,
    },
    /// Attach to the main process's stdio; the connection then carries data frames.
    Attach {
        /// Which streams.
        options: AttachOptions,
    },
    /// Run a process in the container; the connection then carries its stdio.
    Exec {
        /// The process.
        spec: Box<ExecSpec>,
    },
}

/// A successful answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Payload {
    /// Done, nothing to return.
    Done,
    /// A process ID (the main process for `Start`, the new process for `Exec`).
    Pid(u32),
    /// The exit record, for `Wait`.
    Exit(ExitRecord),
    /// Host PIDs.
    Pids(Vec<i32>),
    /// Cgroup usage.
    Stats(CgroupStats),
    /// The shim's info.
    Info(ShimInfo),
}

/// Which [`ShimError`] a refused request becomes on the client.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorKind {
    /// [`ShimError::Failed`].
    Failed,
    /// [`ShimError::InvalidArgument`].
    InvalidArgument,
}

/// A refused request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReplyError {
    /// Its kind.
    pub kind: ErrorKind,
    /// Why.
    pub message: String,
}

impl From<ReplyError> for ShimError {
    fn from(err: ReplyError) -> Self {
        match err.kind {
            ErrorKind::Failed => ShimError::Failed(err.message),
            ErrorKind::InvalidArgument => ShimError::InvalidArgument(err.message),
        }
    }
}

/// The answer to a request.
pub type Reply = Result<Payload, ReplyError>;

/// Appends one frame to `out`.
pub fn encode(kind: FrameKind, payload: &[u8], out: &mut Vec<u8>) {
    // Payloads are bounded by MAX_PAYLOAD, far below u32::MAX.
    let len = u32::try_from(payload.len()).unwrap_or(u32::MAX);
    out.extend_from_slice(&len.to_be_bytes());
    out.push(kind as u8);
    out.extend_from_slice(payload);
}

/// Appends a JSON frame to `out`.
pub fn encode_json(kind: FrameKind, value: &impl Serialize, out: &mut Vec<u8>) {
    // Serialising these plain structs cannot fail: no maps with non-string keys, no I/O.
    let json = serde_json::to_vec(value).unwrap_or_default();
    encode(kind, &json, out);
}

/// Parses a frame header: the kind and the payload length.
pub fn parse_header(header: &[u8; HEADER_LEN]) -> Result<(FrameKind, usize), ShimError> {
    let len = u32::from_be_bytes([header[0], header[1], header[2], header[3]]) as usize;
    if len > MAX_PAYLOAD {
        return Err(ShimError::Failed(format!(
            "shim protocol: frame of {len} bytes is too large"
        )));
    }
    let kind = FrameKind::from_byte(header[4]).ok_or_else(|| {
        ShimError::Failed(format!("shim protocol: unknown frame kind {}", header[4]))
    })?;
    Ok((kind, len))
}

/// Reassembles frames from bytes read off a non-blocking socket.
#[derive(Debug, Default)]
pub struct FrameDecoder {
    buf: Vec<u8>,
}

impl FrameDecoder {
    /// Whether the buffer holds less than one maximal frame, so reading more is bounded.
    pub fn wants_more(&self) -> bool {
        self.buf.len() < HEADER_LEN + MAX_PAYLOAD
    }

    /// Adds bytes read from the peer.
    pub fn push(&mut self, bytes: &[u8]) {
        self.buf.extend_from_slice(bytes);
    }

    /// The next complete frame, if any.
    pub fn next_frame(&mut self) -> Result<Option<Frame>, ShimError> {
        let Some(header) = self.buf.first_chunk::<HEADER_LEN>() else {
            return Ok(None);
        };
        let (kind, len) = parse_header(header)?;
        if self.buf.len() < HEADER_LEN + len {
            return Ok(None);
        }
        let payload = self.buf[HEADER_LEN..HEADER_LEN + len].to_vec();
        self.buf.drain(..HEADER_LEN + len);
        if self.buf.is_empty() {
            // Give back the memory a large frame took.
            self.buf = Vec::new();
        }
        Ok(Some(Frame { kind, payload }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_survive_arbitrary_splits() {
        let mut wire = Vec::new();
        encode_json(
            FrameKind::Request,
            &Request::Signal {
                signal: 15,
                all: true,
            },
            &mut wire,
        );
        encode(FrameKind::Stdin, b"hello", &mut wire);
        encode(FrameKind::CloseStdin, b"", &mut wire);
        for split in 0..wire.len() {
            let mut decoder = FrameDecoder::default();
            let mut frames = Vec::new();
            for part in [&wire[..split], &wire[split..]] {
                decoder.push(part);
                while let Some(frame) = decoder.next_frame().unwrap() {
                    frames.push(frame);
                }
            }
            assert_eq!(frames.len(), 3);
            let request: Request = serde_json::from_slice(&frames[0].payload).unwrap();
            assert_eq!(
                request,
                Request::Signal {
                    signal: 15,
                    all: true
                }
            );
            assert_eq!(frames[1].payload, b"hello");
            assert_eq!(frames[2].kind, FrameKind::CloseStdin);
        }
    }

    #[test]
    fn oversized_and_unknown_frames_are_refused() {
        let mut decoder = FrameDecoder::default();
        decoder.push(&[0xff, 0xff, 0xff, 0xff, 1]);
        assert!(decoder.next_frame().is_err());
        let mut decoder = FrameDecoder::default();
        decoder.push(&[0, 0, 0, 0, 99]);
        assert!(decoder.next_frame().is_err());
    }
}
