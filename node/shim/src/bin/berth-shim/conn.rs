//! One client connection: frames in, frames out, with a bounded outgoing buffer.

use std::io::{self, Read, Write};
use std::os::unix::net::UnixStream;

use berth_shim::protocol::{self, Frame, FrameDecoder, FrameKind, Reply};
use berth_shim::AttachOptions;

/// A client whose unsent output would exceed this is too slow: attach clients are dropped,
/// exec processes wait (their output is only read while their client has room).
pub const OUTPUT_LIMIT: usize = 256 * 1024;

/// What a connection is for, once its request is known.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// Its request has not arrived yet.
    New,
    /// Waits for the main process's exit.
    Waiting,
    /// Attached to the main process.
    Attach(AttachOptions),
    /// Carries exec session `id`.
    Exec(u64),
    /// Done: closes once its output is sent.
    Closing,
}

#[derive(Debug)]
pub struct Conn {
    pub stream: UnixStream,
    pub role: Role,
    decoder: FrameDecoder,
    out: Vec<u8>,
}

/// What reading a connection gave.
pub enum Received {
    /// Bytes (maybe frames) arrived, or none were ready.
    Open,
    /// The client is gone.
    Closed,
}

impl Conn {
    pub fn new(stream: UnixStream) -> io::Result<Self> {
        stream.set_nonblocking(true)?;
        Ok(Self {
            stream,
            role: Role::New,
            decoder: FrameDecoder::default(),
            out: Vec::new(),
        })
    }

    /// Whether `len` more bytes of output fit under the limit.
    pub fn has_room_for(&self, len: usize) -> bool {
        self.out.len() + len <= OUTPUT_LIMIT
    }

    pub fn wants_write(&self) -> bool {
        !self.out.is_empty()
    }

    /// Done and everything sent.
    pub fn finished(&self) -> bool {
        self.role == Role::Closing && self.out.is_empty()
    }

    pub fn send(&mut self, kind: FrameKind, payload: &[u8]) {
        protocol::encode(kind, payload, &mut self.out);
    }

    pub fn send_reply(&mut self, reply: &Reply) {
        protocol::encode_json(FrameKind::Reply, reply, &mut self.out);
    }

    pub fn send_exit(&mut self, code: i32) {
        self.send(FrameKind::Exit, &code.to_be_bytes());
        self.role = Role::Closing;
    }

    /// Reads what the client sent into the frame decoder.
    pub fn receive(&mut self, buf: &mut [u8]) -> Received {
        while self.decoder.wants_more() {
            match self.stream.read(buf) {
                Ok(0) => return Received::Closed,
                Ok(n) => self.decoder.push(&buf[..n]),
                Err(err) if err.kind() == io::ErrorKind::WouldBlock => break,
                Err(err) if err.kind() == io::ErrorKind::Interrupted => continue,
                Err(_) => return Received::Closed,
            }
        }
        Received::Open
    }

    /// The next complete frame received; a malformed stream is an error.
    pub fn next_frame(&mut self) -> Result<Option<Frame>, berth_shim::ShimError> {
        self.decoder.next_frame()
    }

    /// Sends what the socket takes now; an error means the client is gone.
    pub fn flush(&mut self) -> io::Result<()> {
        while !self.out.is_empty() {
            match self.stream.write(&self.out) {
                Ok(n) => {
                    self.out.drain(..n);
                }
                Err(err) if err.kind() == io::ErrorKind::WouldBlock => break,
                Err(err) if err.kind() == io::ErrorKind::Interrupted => continue,
                Err(err) => return Err(err),
            }
        }
        if self.out.is_empty() && self.out.capacity() > 64 * 1024 {
            self.out = Vec::new();
        }
        Ok(())
    }
}
