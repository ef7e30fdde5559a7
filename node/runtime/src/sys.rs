//! Fd-owning wrappers over the few open/`*at` syscalls that nix 0.29 exposes with raw fds.

use std::ffi::OsStr;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};
use std::path::{Path, PathBuf};

use nix::errno::Errno;
use nix::fcntl::{self, OFlag};
use nix::sys::stat::{self, FileStat, Mode, SFlag};

/// Takes ownership of a descriptor that a successful open call just returned.
pub(crate) fn take(fd: RawFd) -> OwnedFd {
    // SAFETY: every caller passes the fresh descriptor returned by a successful open-like
    // syscall; nothing else owns or will close it.
    unsafe { OwnedFd::from_raw_fd(fd) }
}

/// `openat(dir, name, flags | O_CLOEXEC, mode)`.
pub(crate) fn open_at(
    dir: BorrowedFd<'_>,
    name: &OsStr,
    flags: OFlag,
    mode: Mode,
) -> Result<OwnedFd, Errno> {
    fcntl::openat(Some(dir.as_raw_fd()), name, flags | OFlag::O_CLOEXEC, mode).map(take)
}

/// `openat2(dir, path, how)`; `O_CLOEXEC` is always added.
pub(crate) fn open_beneath(
    dir: BorrowedFd<'_>,
    path: &Path,
    flags: OFlag,
    resolve: fcntl::ResolveFlag,
) -> Result<OwnedFd, Errno> {
    let how = fcntl::OpenHow::new()
        .flags(flags | OFlag::O_CLOEXEC)
        .resolve(resolve);
    fcntl::openat2(dir.as_raw_fd(), path, how).map(take)
}

/// Opens a trusted host path (bundle rootfs, bind source, host device) as an `O_PATH` handle.
pub(crate) fn open_host(path: &Path, flags: OFlag) -> Result<OwnedFd, Errno> {
    fcntl::open(
        path,
        flags | OFlag::O_PATH | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .map(take)
}

/// `fstat` on a borrowed descriptor.
pub(crate) fn fstat(fd: BorrowedFd<'_>) -> Result<FileStat, Errno> {
    stat::fstat(fd.as_raw_fd())
}

/// The file type bits (`S_IFMT`) of what `fd` refers to.
pub(crate) fn file_type(fd: BorrowedFd<'_>) -> Result<SFlag, Errno> {
    fstat(fd).map(|st| SFlag::from_bits_truncate(st.st_mode & SFlag::S_IFMT.bits()))
}

/// The magic-link path through which the kernel reaches exactly the object behind `fd`.
/// Mounting onto it (instead of onto a path by name) is how a resolved target stays resolved.
pub(crate) fn fd_path(fd: BorrowedFd<'_>) -> PathBuf {
    PathBuf::from(format!("/proc/self/fd/{}", fd.as_raw_fd()))
}

/// The errno behind an `io::Error` from std (`EIO` if it carries none).
pub(crate) fn io_errno(e: &std::io::Error) -> Errno {
    e.raw_os_error().map_or(Errno::EIO, Errno::from_raw)
}
