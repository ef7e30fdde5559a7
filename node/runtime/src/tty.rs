//! Connecting the runtime's own stdin/stdout to a container pty, for `run` and `exec -t`
//! in the foreground without `--console-socket` (as runc does).

use nix::errno::Errno;
use nix::fcntl::{fcntl, FcntlArg, OFlag};
use nix::poll::{PollFd, PollFlags};
use nix::pty::Winsize;
use nix::sys::socket::{
    recvmsg, socketpair, AddressFamily, ControlMessageOwned, MsgFlags, SockFlag, SockType,
};
use nix::sys::termios::{cfmakeraw, tcgetattr, tcsetattr, SetArg, Termios};
use nix::unistd::{read, write};
use std::io::IoSliceMut;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd};

use crate::console::set_window_size;
use crate::error::{Context, Result};

nix::ioctl_read_bad!(get_window_size, libc::TIOCGWINSZ, Winsize);

/// A private console socket: the container process sends its pty master to one end and
/// the runtime receives it from the other.
pub fn console_pair() -> Result<(OwnedFd, OwnedFd)> {
    socketpair(
        AddressFamily::Unix,
        SockType::Stream,
        None,
        SockFlag::SOCK_CLOEXEC,
    )
    .context(|| "creating console socket pair".into())
}

/// Takes the pty master sent over `sock`, if one was sent.
pub fn receive_master(sock: &OwnedFd) -> Result<Option<OwnedFd>> {
    let mut name = [0u8; 256];
    let mut iov = [IoSliceMut::new(&mut name)];
    let mut space = nix::cmsg_space!([std::os::fd::RawFd; 1]);
    let msg = match recvmsg::<()>(
        sock.as_raw_fd(),
        &mut iov,
        Some(&mut space),
        MsgFlags::MSG_DONTWAIT | MsgFlags::MSG_CMSG_CLOEXEC,
    ) {
        Ok(msg) => msg,
        Err(Errno::EAGAIN) => return Ok(None),
        Err(e) => return Err(e).context(|| "receiving the pty master".into()),
    };
    for cmsg in msg
        .cmsgs()
        .context(|| "reading the pty master message".into())?
    {
        if let ControlMessageOwned::ScmRights(fds) = cmsg {
            if let Some(fd) = fds.first() {
                // SAFETY: SCM_RIGHTS just installed this fd in our table; we own it now.
                return Ok(Some(unsafe { OwnedFd::from_raw_fd(*fd) }));
            }
        }
    }
    Ok(None)
}

/// Shuttles bytes between stdin/stdout and a pty master; puts a terminal stdin in raw
/// mode for the duration and restores it on drop.
#[derive(Debug)]
pub struct PtyRelay {
    master: OwnedFd,
    saved: Option<Termios>,
    stdin_open: bool,
    master_open: bool,
}

fn stdin() -> BorrowedFd<'static> {
    // SAFETY: fd 0 stays open for the life of the process; we never close it.
    unsafe { BorrowedFd::borrow_raw(libc::STDIN_FILENO) }
}

impl PtyRelay {
    pub fn new(master: OwnedFd) -> Result<Self> {
        let flags = fcntl(master.as_raw_fd(), FcntlArg::F_GETFL).context(|| "pty flags".into())?;
        fcntl(
            master.as_raw_fd(),
            FcntlArg::F_SETFL(OFlag::from_bits_truncate(flags) | OFlag::O_NONBLOCK),
        )
        .context(|| "pty flags".into())?;
        let saved = tcgetattr(stdin()).ok();
        if let Some(saved) = &saved {
            let mut raw = saved.clone();
            cfmakeraw(&mut raw);
            tcsetattr(stdin(), SetArg::TCSANOW, &raw).context(|| "raw terminal mode".into())?;
        }
        let relay = PtyRelay {
            master,
            saved,
            stdin_open: true,
            master_open: true,
        };
        relay.copy_window_size();
        Ok(relay)
    }

    /// The fds to poll, in the order `pump` expects their readiness.
    pub fn poll_fds(&self) -> Vec<PollFd<'_>> {
        let wanted = |open: bool| {
            if open {
                PollFlags::POLLIN
            } else {
                PollFlags::empty()
            }
        };
        vec![
            PollFd::new(stdin(), wanted(self.stdin_open)),
            PollFd::new(self.master.as_fd(), wanted(self.master_open)),
        ]
    }

    /// Moves whatever is ready: `ready[0]` for stdin, `ready[1]` for the master.
    pub fn pump(&mut self, ready: &[bool]) {
        if ready.first() == Some(&true) && self.stdin_open {
            self.stdin_open = copy(stdin(), self.master.as_fd()).is_some();
        }
        if ready.get(1) == Some(&true) && self.master_open {
            self.master_open = copy(self.master.as_fd(), std::io::stdout().as_fd()).is_some();
        }
    }

    /// Flushes the container's last output after it exited.
    pub fn drain(&mut self) {
        while self.master_open && copy(self.master.as_fd(), std::io::stdout().as_fd()) == Some(true)
        {
        }
    }

    /// Gives the container terminal the size of ours.
    pub fn copy_window_size(&self) {
        let mut ws = Winsize {
            ws_row: 0,
            ws_col: 0,
            ws_xpixel: 0,
            ws_ypixel: 0,
        };
        // SAFETY: TIOCGWINSZ writes one Winsize into the valid pointer.
        if unsafe { get_window_size(stdin().as_raw_fd(), &mut ws) }.is_ok() {
            let _ = set_window_size(self.master.as_fd(), &ws);
        }
    }
}

/// Copies one chunk: `Some(true)` after moving bytes, `Some(false)` when nothing is
/// waiting, `None` once the source is finished (EOF, or EIO from a pty whose slave closed).
fn copy(from: BorrowedFd<'_>, to: BorrowedFd<'_>) -> Option<bool> {
    let mut buf = [0u8; 8192];
    let n = match read(from.as_raw_fd(), &mut buf) {
        Ok(0) => return None,
        Ok(n) => n,
        Err(Errno::EINTR | Errno::EAGAIN) => return Some(false),
        Err(_) => return None,
    };
    let mut rest = &buf[..n];
    while !rest.is_empty() {
        match write(to, rest) {
            Ok(written) => rest = &rest[written..],
            Err(Errno::EINTR | Errno::EAGAIN) => continue,
            Err(_) => return None,
        }
    }
    Some(true)
}

impl Drop for PtyRelay {
    fn drop(&mut self) {
        if let Some(saved) = &self.saved {
            let _ = tcsetattr(stdin(), SetArg::TCSANOW, saved);
        }
    }
}
