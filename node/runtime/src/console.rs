//! Terminals: the container's pty is created inside the container (from its own devpts) and
//! its master is handed to the caller over `--console-socket` with SCM_RIGHTS, as runc does.

use nix::fcntl::OFlag;
use nix::pty::{grantpt, posix_openpt, ptsname_r, unlockpt, Winsize};
use nix::sys::socket::{sendmsg, ControlMessage, MsgFlags};
use nix::unistd::dup2;
use oci_spec::runtime::Box as ConsoleSize;
use std::io::IoSlice;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};

use crate::error::{Context, Result};

nix::ioctl_write_int_bad!(set_controlling_tty, libc::TIOCSCTTY);
nix::ioctl_write_ptr_bad!(tiocswinsz, libc::TIOCSWINSZ, Winsize);

/// Sets the size of the terminal behind `fd`.
pub fn set_window_size(fd: BorrowedFd<'_>, size: &Winsize) -> nix::Result<()> {
    // SAFETY: TIOCSWINSZ reads one Winsize from the valid reference.
    unsafe { tiocswinsz(fd.as_raw_fd(), size) }.map(drop)
}

/// Connects to the caller's console socket; done by the runtime before forking.
pub fn connect(path: &Path) -> Result<OwnedFd> {
    let stream = UnixStream::connect(path)
        .context(|| format!("connecting to console socket {}", path.display()))?;
    Ok(stream.into())
}

/// In the container process (a session leader): opens a pty, sends the master over
/// `socket`, and makes the slave the controlling terminal and stdio. Returns the slave path.
pub fn setup_pty(socket: &OwnedFd, size: Option<ConsoleSize>) -> Result<PathBuf> {
    let master = posix_openpt(OFlag::O_RDWR | OFlag::O_NOCTTY | OFlag::O_CLOEXEC)
        .context(|| "opening /dev/ptmx".into())?;
    grantpt(&master).context(|| "grantpt".into())?;
    unlockpt(&master).context(|| "unlockpt".into())?;
    let slave_path = PathBuf::from(ptsname_r(&master).context(|| "ptsname".into())?);
    if let Some(size) = size {
        let ws = Winsize {
            ws_row: u16::try_from(size.height()).unwrap_or(u16::MAX),
            ws_col: u16::try_from(size.width()).unwrap_or(u16::MAX),
            ws_xpixel: 0,
            ws_ypixel: 0,
        };
        set_window_size(master.as_fd(), &ws).context(|| "setting the window size".into())?;
    }
    let slave = nix::fcntl::open(
        &slave_path,
        OFlag::O_RDWR | OFlag::O_CLOEXEC,
        nix::sys::stat::Mode::empty(),
    )
    .context(|| format!("opening {}", slave_path.display()))?;
    let name = slave_path.as_os_str().as_encoded_bytes();
    let fds = [master.as_raw_fd()];
    sendmsg::<()>(
        socket.as_raw_fd(),
        &[IoSlice::new(name)],
        &[ControlMessage::ScmRights(&fds)],
        MsgFlags::empty(),
        None,
    )
    .context(|| "sending the pty master to the console socket".into())?;
    // SAFETY: TIOCSCTTY takes an int argument and touches no memory.
    unsafe { set_controlling_tty(slave, 0) }
        .context(|| "making the pty the controlling terminal".into())?;
    for target in 0..=2 {
        dup2(slave, target).context(|| "attaching stdio to the pty".into())?;
    }
    nix::unistd::close(slave).context(|| "closing the pty slave".into())?;
    Ok(slave_path)
}
