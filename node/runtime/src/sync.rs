//! The message channel between the runtime and the processes it forks. A SEQPACKET socket
//! keeps message boundaries, and end-of-file tells the runtime that a child exec'd or died.

use nix::sys::socket::{recv, send, socketpair, AddressFamily, MsgFlags, SockFlag, SockType};
use serde::{Deserialize, Serialize};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};

use crate::error::{Context, Result, RuntimeError};

/// Largest message; state JSON and error texts are far smaller.
const MAX_MESSAGE: usize = 64 * 1024;

#[derive(Debug, Serialize, Deserialize)]
pub enum Message {
    /// Intermediate -> runtime: a user namespace exists, write its id maps.
    NeedIdMaps,
    /// Runtime -> intermediate: cgroup placement (and id maps) done, go on.
    Proceed,
    /// Intermediate -> runtime: host pid of the container process.
    ChildPid(i32),
    /// Init -> runtime: namespaces and mounts are ready; run the runtime-namespace hooks.
    NamespacesReady,
    /// Runtime -> init: hooks ran; here is the state JSON for the container hooks.
    HooksDone(String),
    /// Child -> runtime: set-up finished.
    Ready,
    /// Child -> runtime: set-up failed.
    Error(String),
}

#[derive(Debug)]
pub struct SyncSocket(OwnedFd);

impl SyncSocket {
    pub fn pair() -> Result<(SyncSocket, SyncSocket)> {
        let (a, b) = socketpair(
            AddressFamily::Unix,
            SockType::SeqPacket,
            None,
            SockFlag::SOCK_CLOEXEC,
        )
        .context(|| "creating sync socket".into())?;
        Ok((SyncSocket(a), SyncSocket(b)))
    }

    pub fn send(&self, msg: &Message) -> Result<()> {
        let data = serde_json::to_vec(msg).map_err(|e| RuntimeError::Init(e.to_string()))?;
        send(self.0.as_raw_fd(), &data, MsgFlags::MSG_NOSIGNAL)
            .context(|| "sending to sync socket".into())?;
        Ok(())
    }

    /// The next message, or `None` once the other side closed (exec'd or exited).
    pub fn recv(&self) -> Result<Option<Message>> {
        let mut buf = vec![0u8; MAX_MESSAGE];
        let n = loop {
            match recv(self.0.as_raw_fd(), &mut buf, MsgFlags::empty()) {
                Err(nix::errno::Errno::EINTR) => continue,
                other => break other.context(|| "reading sync socket".into())?,
            }
        };
        if n == 0 {
            return Ok(None);
        }
        serde_json::from_slice(&buf[..n])
            .map(Some)
            .map_err(|e| RuntimeError::Init(format!("bad sync message: {e}")))
    }

    /// Receives a message and fails on errors reported by the child or an early close.
    pub fn expect(&self, what: &str) -> Result<Message> {
        match self.recv()? {
            Some(Message::Error(msg)) => Err(RuntimeError::Init(msg)),
            Some(msg) => Ok(msg),
            None => Err(RuntimeError::Init(format!(
                "container process exited before {what}"
            ))),
        }
    }

    /// Reports a failure to the runtime or, once `create` has returned and nobody reads the
    /// socket any more, to the container's stderr.
    pub fn report(&self, err: &RuntimeError) {
        if self.send(&Message::Error(err.to_string())).is_err() {
            eprintln!("berth-runtime: {err}");
        }
    }
}

impl AsFd for SyncSocket {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.0.as_fd()
    }
}
