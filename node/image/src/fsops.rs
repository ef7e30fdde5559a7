//! Fd-relative filesystem calls. Every call names at most one component relative to a
//! directory descriptor and never follows a symlink in that component, so a resolved parent
//! stays the place where the operation lands (SECURITY.md item 4).

use std::ffi::{CString, OsStr};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::path::PathBuf;

use nix::errno::Errno;
use nix::fcntl::{self, AtFlags, OFlag};
use nix::sys::stat::{self, FileStat, Mode, SFlag};
use nix::sys::time::TimeSpec;

/// Takes ownership of a descriptor that a successful open call just returned.
fn take(fd: RawFd) -> OwnedFd {
    // SAFETY: every caller passes the fresh descriptor returned by a successful open-like
    // syscall; nothing else owns or will close it.
    unsafe { OwnedFd::from_raw_fd(fd) }
}

/// `openat(dir, name, flags | O_NOFOLLOW | O_CLOEXEC, mode)`.
pub(crate) fn open_at(
    dir: BorrowedFd<'_>,
    name: &OsStr,
    flags: OFlag,
    mode: Mode,
) -> Result<OwnedFd, Errno> {
    fcntl::openat(
        Some(dir.as_raw_fd()),
        name,
        flags | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
        mode,
    )
    .map(take)
}

/// Opens `name` in `dir` for reading only if it is a regular file: it is pinned with `O_PATH`
/// and checked first, so a name swapped for a device or fifo is never opened (opening a
/// device can act on it).
pub(crate) fn open_regular(dir: BorrowedFd<'_>, name: &OsStr) -> Result<OwnedFd, Errno> {
    let pinned = open_at(dir, name, OFlag::O_PATH, Mode::empty())?;
    if file_type(fstat(pinned.as_fd())?.st_mode) != SFlag::S_IFREG {
        return Err(Errno::EINVAL);
    }
    fcntl::open(
        &proc_fd(pinned.as_fd()),
        OFlag::O_RDONLY | OFlag::O_NOCTTY | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .map(take)
}

/// Opens the directory `fd` refers to (possibly an `O_PATH` handle) for reading.
pub(crate) fn reopen_dir(fd: BorrowedFd<'_>) -> Result<OwnedFd, Errno> {
    open_at(
        fd,
        OsStr::new("."),
        OFlag::O_RDONLY | OFlag::O_DIRECTORY,
        Mode::empty(),
    )
}

/// The magic link through which the kernel reaches exactly the object behind `fd`.
pub(crate) fn proc_fd(fd: BorrowedFd<'_>) -> PathBuf {
    PathBuf::from(format!("/proc/self/fd/{}", fd.as_raw_fd()))
}

/// `fstatat(dir, name, AT_SYMLINK_NOFOLLOW)`; `None` when it does not exist.
pub(crate) fn stat_at(dir: BorrowedFd<'_>, name: &OsStr) -> Result<Option<FileStat>, Errno> {
    match stat::fstatat(Some(dir.as_raw_fd()), name, AtFlags::AT_SYMLINK_NOFOLLOW) {
        Ok(st) => Ok(Some(st)),
        Err(Errno::ENOENT) => Ok(None),
        Err(e) => Err(e),
    }
}

/// `fstat` of a descriptor (`O_PATH` ones included).
pub(crate) fn fstat(fd: BorrowedFd<'_>) -> Result<FileStat, Errno> {
    stat::fstat(fd.as_raw_fd())
}

/// The file type bits of a `st_mode`.
pub(crate) fn file_type(mode: u32) -> SFlag {
    SFlag::from_bits_truncate(mode & SFlag::S_IFMT.bits())
}

/// A tar mtime as a `TimeSpec`.
pub(crate) fn timespec((secs, nanos): (i64, u32)) -> TimeSpec {
    TimeSpec::new(secs, i64::from(nanos))
}

/// `fchownat(dir, name, uid, gid, AT_SYMLINK_NOFOLLOW)`.
pub(crate) fn chown_at(dir: BorrowedFd<'_>, name: &OsStr, uid: u32, gid: u32) -> Result<(), Errno> {
    nix::unistd::fchownat(
        Some(dir.as_raw_fd()),
        name,
        Some(uid.into()),
        Some(gid.into()),
        AtFlags::AT_SYMLINK_NOFOLLOW,
    )
}

/// `utimensat(dir, name, AT_SYMLINK_NOFOLLOW)` with atime = mtime.
pub(crate) fn times_at(dir: BorrowedFd<'_>, name: &OsStr, mtime: (i64, u32)) -> Result<(), Errno> {
    let t = timespec(mtime);
    stat::utimensat(
        Some(dir.as_raw_fd()),
        name,
        &t,
        &t,
        stat::UtimensatFlags::NoFollowSymlink,
    )
}

/// Sets the times of exactly the object behind an `O_PATH` handle.
pub(crate) fn times_of(fd: BorrowedFd<'_>, mtime: (i64, u32)) -> Result<(), Errno> {
    let t = timespec(mtime);
    stat::utimensat(
        None,
        &proc_fd(fd),
        &t,
        &t,
        stat::UtimensatFlags::FollowSymlink,
    )
}

/// Changes the mode of `name` in `dir`, which must not be a symlink (Linux cannot chmod
/// those, and following one is what must never happen).
pub(crate) fn chmod_at(dir: BorrowedFd<'_>, name: &OsStr, mode: u32) -> Result<(), Errno> {
    let fd = open_at(dir, name, OFlag::O_PATH, Mode::empty())?;
    if file_type(fstat(fd.as_fd())?.st_mode) == SFlag::S_IFLNK {
        return Err(Errno::ELOOP);
    }
    stat::fchmodat(
        None,
        &proc_fd(fd.as_fd()),
        Mode::from_bits_truncate(mode),
        stat::FchmodatFlags::FollowSymlink,
    )
}

/// `fsetxattr` on an open descriptor.
pub(crate) fn set_xattr_fd(fd: BorrowedFd<'_>, name: &[u8], value: &[u8]) -> Result<(), Errno> {
    let name = CString::new(name).map_err(|_| Errno::EINVAL)?;
    // SAFETY: `name` is NUL-terminated, `value` is valid for `value.len()` bytes, and `fd` is
    // an open descriptor borrowed for the duration of the call.
    let rc = unsafe {
        libc::fsetxattr(
            fd.as_raw_fd(),
            name.as_ptr(),
            value.as_ptr().cast(),
            value.len(),
            0,
        )
    };
    Errno::result(rc).map(drop)
}

/// `lsetxattr` on `name` inside `dir` (the symlink itself, never its target).
pub(crate) fn set_xattr_at(
    dir: BorrowedFd<'_>,
    name: &OsStr,
    xattr: &[u8],
    value: &[u8],
) -> Result<(), Errno> {
    let path =
        CString::new(proc_fd(dir).join(name).as_os_str().as_bytes()).map_err(|_| Errno::EINVAL)?;
    let xattr = CString::new(xattr).map_err(|_| Errno::EINVAL)?;
    // SAFETY: both strings are NUL-terminated and `value` is valid for `value.len()` bytes.
    let rc = unsafe {
        libc::lsetxattr(
            path.as_ptr(),
            xattr.as_ptr(),
            value.as_ptr().cast(),
            value.len(),
            0,
        )
    };
    Errno::result(rc).map(drop)
}

/// `fgetxattr`; `None` when the attribute is absent or unsupported.
pub(crate) fn get_xattr_fd(fd: BorrowedFd<'_>, name: &str) -> Result<Option<Vec<u8>>, Errno> {
    let name = CString::new(name).map_err(|_| Errno::EINVAL)?;
    let mut buf = vec![0u8; 4096];
    // SAFETY: `name` is NUL-terminated and `buf` is writable for `buf.len()` bytes.
    let rc = unsafe {
        libc::fgetxattr(
            fd.as_raw_fd(),
            name.as_ptr(),
            buf.as_mut_ptr().cast(),
            buf.len(),
        )
    };
    match Errno::result(rc) {
        Ok(n) => {
            buf.truncate(usize::try_from(n).unwrap_or(0));
            Ok(Some(buf))
        }
        Err(Errno::ENODATA | Errno::EOPNOTSUPP) => Ok(None),
        Err(e) => Err(e),
    }
}
