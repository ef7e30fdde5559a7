//! Making the prepared rootfs the process's `/`.

use std::os::fd::{AsRawFd, OwnedFd};
use std::path::Path;

use nix::errno::Errno;
use nix::fcntl::OFlag;
use nix::mount::{self, MntFlags, MsFlags};
use nix::unistd;

use super::fdmount;
use super::mountinfo;
use super::RootfsError;
use crate::sys;

/// Enters `rootfs` (a mount point: `prepare` bound it onto itself) and leaves cwd at the new `/`.
///
/// The normal way is runc's `pivot_root(".", ".")` from inside the new root: the old root ends
/// up mounted on top of the new one, is made `rslave` (so that detaching it cannot propagate to
/// the host) and is lazily unmounted, leaving no path to the host's tree.
///
/// Fallback: when `no_pivot` is set, or pivot_root fails with `EINVAL` because the current root
/// cannot be pivoted away from (the initramfs/ramfs root of a diskless boot), the rootfs is moved
/// over `/` with `MS_MOVE` and the process `chroot`s into it. This is weaker: the host's mounts
/// stay in the namespace underneath, and a process with `CAP_SYS_CHROOT` can escape a chroot. As
/// runc does, the host's full procfs and sysfs mounts are first detached (or covered with an
/// empty tmpfs where that is not permitted), so that they cannot be reached from the container.
pub(crate) fn enter(rootfs: &Path, no_pivot: bool) -> Result<(), RootfsError> {
    let fail = |step| {
        move |errno| RootfsError::Pivot {
            rootfs: rootfs.to_path_buf(),
            step,
            errno,
        }
    };
    let new_root: OwnedFd =
        sys::open_host(rootfs, OFlag::O_DIRECTORY).map_err(fail("opening the rootfs"))?;
    unistd::fchdir(new_root.as_raw_fd()).map_err(fail("chdir"))?;
    if !no_pivot {
        match unistd::pivot_root(".", ".") {
            Ok(()) => return detach_old_root().map_err(fail("detaching the old root")),
            Err(Errno::EINVAL) => {
                tracing::warn!(rootfs = %rootfs.display(), "pivot_root is impossible here (EINVAL); using MS_MOVE and chroot");
            }
            Err(errno) => return Err(fail("pivot_root")(errno)),
        }
    }
    hide_host_kernel_mounts(rootfs)?;
    mount::mount(Some("."), "/", None::<&str>, MsFlags::MS_MOVE, None::<&str>)
        .map_err(fail("moving the rootfs over /"))?;
    unistd::chroot(".").map_err(fail("chroot"))?;
    unistd::chdir("/").map_err(fail("chdir /"))
}

/// After `pivot_root(".", ".")` the old root is stacked on ".": unmount it from there.
fn detach_old_root() -> Result<(), Errno> {
    fdmount::set_propagation(Path::new("."), MsFlags::MS_SLAVE | MsFlags::MS_REC)?;
    mount::umount2(".", MntFlags::MNT_DETACH)?;
    unistd::chdir("/")
}

/// Detaches every whole-filesystem procfs or sysfs mount outside the rootfs (covering it with
/// a tmpfs where unmounting is not permitted), as runc does before `MS_MOVE`.
fn hide_host_kernel_mounts(rootfs: &Path) -> Result<(), RootfsError> {
    let mounts =
        mountinfo::read().map_err(|e| RootfsError::sys("reading", "/proc/self/mountinfo", e))?;
    let host_kernel_mounts = mounts.iter().filter(|m| {
        (m.fs_type == "proc" || m.fs_type == "sysfs")
            && m.root == Path::new("/")
            && !m.mount_point.starts_with(rootfs)
    });
    for m in host_kernel_mounts {
        let point = m.mount_point.as_path();
        let fail = |step| move |errno| RootfsError::sys(step, point, errno);
        match fdmount::set_propagation(point, MsFlags::MS_SLAVE | MsFlags::MS_REC) {
            // Already gone with a parent detached earlier.
            Err(Errno::ENOENT) => continue,
            other => other.map_err(fail("making rslave before hiding"))?,
        }
        match mount::umount2(point, MntFlags::MNT_DETACH) {
            Err(Errno::EINVAL | Errno::EPERM) => mount::mount(
                Some("tmpfs"),
                point,
                Some("tmpfs"),
                MsFlags::empty(),
                None::<&str>,
            )
            .map_err(fail("covering with tmpfs"))?,
            other => other.map_err(fail("detaching"))?,
        }
    }
    Ok(())
}
