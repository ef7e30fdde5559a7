//! The receiving end of `--console-socket`: a Unix listener that accepts the runtime's
//! connection and takes the pty master out of an SCM_RIGHTS message, as runc's callers do.

use std::fs::File;
use std::io::{IoSliceMut, Read, Write};
use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::net::UnixListener;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sys::socket::{recvmsg, ControlMessageOwned, MsgFlags};

use crate::error::{FixtureError, Result};

/// A listening console socket.
#[derive(Debug)]
pub struct ConsoleSocket {
    listener: UnixListener,
    path: PathBuf,
}

/// Waits until `fd` is readable, or fails after `timeout`.
fn wait_readable(fd: &impl AsFd, timeout: Duration, what: &str) -> Result<()> {
    let millis = u16::try_from(timeout.as_millis()).unwrap_or(u16::MAX);
    let mut fds = [PollFd::new(fd.as_fd(), PollFlags::POLLIN)];
    let ready = poll(&mut fds, PollTimeout::from(millis)).map_err(FixtureError::sys(what))?;
    if ready == 0 {
        return Err(FixtureError::Unexpected(format!("{what}: timed out")));
    }
    Ok(())
}

impl ConsoleSocket {
    /// Listens on `path` (which must not exist).
    pub fn bind(path: &Path) -> Result<Self> {
        let listener = UnixListener::bind(path)
            .map_err(FixtureError::io(format!("binding {}", path.display())))?;
        Ok(Self {
            listener,
            path: path.to_path_buf(),
        })
    }

    /// The socket path to pass as `--console-socket`.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Accepts the runtime's connection and returns the pty master it sends.
    pub fn receive_master(&self, timeout: Duration) -> Result<Pty> {
        wait_readable(
            &self.listener,
            timeout,
            "waiting for the runtime to connect",
        )?;
        let (stream, _) = self
            .listener
            .accept()
            .map_err(FixtureError::io("accepting the console connection"))?;
        wait_readable(&stream, timeout, "waiting for the pty master")?;

        // runc sends the terminal's name as the payload; we only need the descriptor.
        let mut name = [0u8; 4096];
        let mut iov = [IoSliceMut::new(&mut name)];
        let mut space = nix::cmsg_space!([RawFd; 1]);
        let msg = recvmsg::<()>(
            stream.as_raw_fd(),
            &mut iov,
            Some(&mut space),
            MsgFlags::MSG_CMSG_CLOEXEC,
        )
        .map_err(FixtureError::sys("receiving the pty master"))?;
        let fd = msg
            .cmsgs()
            .map_err(FixtureError::sys("reading control messages"))?
            .find_map(|cmsg| match cmsg {
                ControlMessageOwned::ScmRights(fds) => fds.first().copied(),
                _ => None,
            })
            .ok_or_else(|| FixtureError::Unexpected("no SCM_RIGHTS descriptor received".into()))?;
        // SAFETY: the kernel installed `fd` in our table for this SCM_RIGHTS message; nothing
        // else refers to it, so the OwnedFd becomes its only owner.
        let owned = unsafe { OwnedFd::from_raw_fd(fd) };
        Ok(Pty {
            master: File::from(owned),
        })
    }
}

/// The master side of a container's terminal.
#[derive(Debug)]
pub struct Pty {
    master: File,
}

impl Pty {
    /// Types `text` into the terminal.
    pub fn send(&mut self, text: &str) -> Result<()> {
        self.master
            .write_all(text.as_bytes())
            .map_err(FixtureError::io("writing to the pty"))
    }

    /// Reads terminal output until it contains `needle`; returns everything read.
    pub fn read_until(&mut self, needle: &str, timeout: Duration) -> Result<String> {
        let deadline = Instant::now() + timeout;
        let mut seen = String::new();
        while !seen.contains(needle) {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(FixtureError::Unexpected(format!(
                    "pty output never contained {needle:?}; got {seen:?}"
                )));
            }
            wait_readable(&self.master, left, "reading the pty")?;
            let mut buf = [0u8; 4096];
            let n = self
                .master
                .read(&mut buf)
                .map_err(FixtureError::io(format!("reading the pty (got {seen:?})")))?;
            if n == 0 {
                return Err(FixtureError::Unexpected(format!(
                    "pty closed before {needle:?}; got {seen:?}"
                )));
            }
            seen.push_str(&String::from_utf8_lossy(&buf[..n]));
        }
        Ok(seen)
    }
}
