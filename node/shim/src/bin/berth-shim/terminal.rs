//! Terminals: receiving a pty master through a console socket (runc's protocol, which
//! berth-runtime speaks too) and resizing it.

use std::io::IoSliceMut;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::UnixListener;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use berth_shim::WinSize;
use nix::pty::Winsize;
use nix::sys::socket::{recvmsg, ControlMessageOwned, MsgFlags};

nix::ioctl_write_ptr_bad!(tiocswinsz, libc::TIOCSWINSZ, Winsize);

/// A listening socket the runtime sends a new terminal's master to; removed on drop.
#[derive(Debug)]
pub struct ConsoleSocket {
    listener: UnixListener,
    path: PathBuf,
}

impl ConsoleSocket {
    /// Listens at `path` (mode 0600), replacing a stale socket.
    pub fn bind(path: &Path) -> Result<Self> {
        let _ = std::fs::remove_file(path);
        let listener =
            UnixListener::bind(path).with_context(|| format!("binding {}", path.display()))?;
        let socket = Self {
            listener,
            path: path.to_owned(),
        };
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))
            .with_context(|| format!("restricting {}", path.display()))?;
        socket
            .listener
            .set_nonblocking(true)
            .context("making the console socket non-blocking")?;
        Ok(socket)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The master the runtime sent while creating the process. The runtime has connected and
    /// sent it by the time it returns, so nothing here waits.
    pub fn receive_master(&self) -> Result<OwnedFd> {
        let (stream, _) = self
            .listener
            .accept()
            .context("the runtime sent no terminal to the console socket")?;
        stream
            .set_nonblocking(false)
            .context("reading the console socket")?;
        let mut name = [0u8; 256];
        let mut iov = [IoSliceMut::new(&mut name)];
        let mut space = nix::cmsg_space!([std::os::fd::RawFd; 1]);
        let msg = recvmsg::<()>(
            stream.as_raw_fd(),
            &mut iov,
            Some(&mut space),
            MsgFlags::MSG_CMSG_CLOEXEC,
        )
        .context("receiving the terminal master")?;
        for cmsg in msg.cmsgs().context("reading the terminal message")? {
            if let ControlMessageOwned::ScmRights(fds) = cmsg {
                let mut owned = fds.into_iter().map(|fd| {
                    // SAFETY: SCM_RIGHTS just installed these fds in our table; we own them.
                    unsafe { OwnedFd::from_raw_fd(fd) }
                });
                if let Some(master) = owned.next() {
                    return Ok(master);
                }
            }
        }
        bail!("the console socket message carried no terminal")
    }
}

impl Drop for ConsoleSocket {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// Sets the size of the terminal whose master is `master`.
pub fn resize(master: BorrowedFd<'_>, size: WinSize) -> Result<()> {
    let ws = Winsize {
        ws_row: size.height,
        ws_col: size.width,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    // SAFETY: TIOCSWINSZ reads one Winsize from the valid reference.
    unsafe { tiocswinsz(master.as_raw_fd(), &ws) }.context("resizing the terminal")?;
    Ok(())
}
