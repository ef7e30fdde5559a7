//! mount(2) onto resolved handles: the target (and a bind source) is always an `O_PATH`
//! descriptor, reached through `/proc/self/fd/N`, never a path looked up again by name.

use std::ffi::OsStr;
use std::os::fd::{AsRawFd, BorrowedFd};
use std::path::Path;

use nix::errno::Errno;
use nix::mount::{self, MsFlags};
use nix::sys::statvfs::{self, FsFlags};

use crate::sys::fd_path;

/// Where a mount comes from.
#[derive(Clone, Copy)]
pub(crate) enum Source<'a> {
    /// A filesystem source name such as `proc` or `tmpfs`.
    Name(&'a OsStr),
    /// An already-opened object to bind (bind sources, devices, `/dev/null`).
    Fd(BorrowedFd<'a>),
}

/// mount(2) onto the object behind `target`.
pub(crate) fn mount_on(
    source: Source<'_>,
    target: BorrowedFd<'_>,
    fstype: Option<&str>,
    flags: MsFlags,
    data: Option<&str>,
) -> Result<(), Errno> {
    let source_path;
    let source: &OsStr = match source {
        Source::Name(name) => name,
        Source::Fd(fd) => {
            source_path = fd_path(fd);
            source_path.as_os_str()
        }
    };
    mount::mount(Some(source), &fd_path(target), fstype, flags, data)
}

/// Bind-mounts `source` onto `target` (`MS_REC` when `recursive`).
pub(crate) fn bind(
    source: BorrowedFd<'_>,
    target: BorrowedFd<'_>,
    recursive: bool,
) -> Result<(), Errno> {
    let rec = if recursive {
        MsFlags::MS_REC
    } else {
        MsFlags::empty()
    };
    mount_on(
        Source::Fd(source),
        target,
        None,
        MsFlags::MS_BIND | rec,
        None,
    )
}

/// Changes the per-mount flags of the bind mount at `target` to `flags`
/// (`MS_REMOUNT | MS_BIND`). If the kernel refuses because some flags are locked (a mount
/// inherited into a user namespace keeps its `nosuid`/`nodev`/`noexec`/`ro`/atime flags), the
/// mount's current flags are added and the remount is retried, as runc does.
pub(crate) fn remount(target: &Path, flags: MsFlags) -> Result<(), Errno> {
    let flags = (flags - MsFlags::MS_REC) | MsFlags::MS_REMOUNT | MsFlags::MS_BIND;
    match mount::mount(None::<&str>, target, None::<&str>, flags, None::<&str>) {
        Err(Errno::EPERM) => {
            let current = ms_flags(statvfs::statvfs(target)?.flags());
            mount::mount(
                None::<&str>,
                target,
                None::<&str>,
                flags | current,
                None::<&str>,
            )
        }
        other => other,
    }
}

/// [`remount`] of the mount behind a resolved handle.
pub(crate) fn remount_fd(target: BorrowedFd<'_>, flags: MsFlags) -> Result<(), Errno> {
    remount(&fd_path(target), flags)
}

/// Changes the propagation type of the mount at `target` (one of `MS_SHARED`, `MS_PRIVATE`,
/// `MS_SLAVE`, `MS_UNBINDABLE`, optionally with `MS_REC`).
pub(crate) fn set_propagation(target: &Path, flag: MsFlags) -> Result<(), Errno> {
    mount::mount(None::<&str>, target, None::<&str>, flag, None::<&str>)
}

/// `mount_setattr(target, "", AT_EMPTY_PATH | AT_RECURSIVE)`: sets and clears `MOUNT_ATTR_*`
/// on the whole mount tree at `target`, submounts included (Linux 5.12).
pub(crate) fn setattr_recursive(target: BorrowedFd<'_>, set: u64, clear: u64) -> Result<(), Errno> {
    let attr = libc::mount_attr {
        attr_set: set,
        attr_clr: clear,
        propagation: 0,
        userns_fd: 0,
    };
    // SAFETY: the path is a valid NUL-terminated empty string, `attr` is a fully initialised
    // `mount_attr` that outlives the call, and its exact size is passed.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_mount_setattr,
            target.as_raw_fd(),
            c"".as_ptr(),
            libc::AT_EMPTY_PATH | libc::AT_RECURSIVE,
            &attr as *const libc::mount_attr,
            std::mem::size_of::<libc::mount_attr>(),
        )
    };
    Errno::result(rc).map(drop)
}

/// The statvfs flags that are also per-mount mount(2) flags (the values coincide).
fn ms_flags(st: FsFlags) -> MsFlags {
    let map = [
        (FsFlags::ST_RDONLY, MsFlags::MS_RDONLY),
        (FsFlags::ST_NOSUID, MsFlags::MS_NOSUID),
        (FsFlags::ST_NODEV, MsFlags::MS_NODEV),
        (FsFlags::ST_NOEXEC, MsFlags::MS_NOEXEC),
        (FsFlags::ST_NOATIME, MsFlags::MS_NOATIME),
        (FsFlags::ST_NODIRATIME, MsFlags::MS_NODIRATIME),
        (FsFlags::ST_RELATIME, MsFlags::MS_RELATIME),
    ];
    map.iter()
        .filter(|(s, _)| st.contains(*s))
        .fold(MsFlags::empty(), |acc, (_, m)| acc | *m)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statvfs_flags_map_to_mount_flags() {
        assert_eq!(
            ms_flags(FsFlags::ST_RDONLY | FsFlags::ST_NODEV | FsFlags::ST_SYNCHRONOUS),
            MsFlags::MS_RDONLY | MsFlags::MS_NODEV
        );
        assert_eq!(ms_flags(FsFlags::empty()), MsFlags::empty());
    }
}
