//! Mounting a container's root filesystem.

use std::fs;
use std::path::{Path, PathBuf};

use nix::errno::Errno;
use nix::mount::{self, MntFlags, MsFlags};

use crate::ImageError;

/// An overlay mount: image layers below, the container's writable layer on top.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct OverlayMount {
    /// Layer directories, top first.
    pub lowers: Vec<PathBuf>,
    /// The writable layer.
    pub upper: PathBuf,
    /// overlayfs's work directory (same filesystem as `upper`).
    pub work: PathBuf,
    /// Where to mount.
    pub target: PathBuf,
}

impl OverlayMount {
    /// Mounts it (creating upper, work and target if missing). An image without layers gets
    /// an empty lower directory next to `work` (`<work>.empty`), since overlayfs needs one.
    pub fn mount(&self) -> Result<(), ImageError> {
        let mut lowers = self.lowers.clone();
        if lowers.is_empty() {
            let mut empty = self.work.clone().into_os_string();
            empty.push(".empty");
            lowers.push(PathBuf::from(empty));
        }
        for dir in
            lowers
                .iter()
                .skip(self.lowers.len())
                .chain([&self.upper, &self.work, &self.target])
        {
            fs::create_dir_all(dir)
                .map_err(|e| ImageError::io(format!("creating {}", dir.display()), e))?;
        }
        let lowerdir = lowers
            .iter()
            .map(|p| option_path(p))
            .collect::<Result<Vec<_>, _>>()?
            .join(":");
        let options = format!(
            "lowerdir={lowerdir},upperdir={},workdir={}",
            option_path(&self.upper)?,
            option_path(&self.work)?
        );
        if options.len() < MAX_OPTIONS {
            return mount::mount(
                Some("overlay"),
                &self.target,
                Some("overlay"),
                MsFlags::empty(),
                Some(options.as_str()),
            )
            .map_err(|e| {
                ImageError::sys(format!("mounting overlay on {}", self.target.display()), e)
            });
        }
        // Too many layers for one page of options: pass each lower directory on its own.
        new_api::mount(&lowers, &self.upper, &self.work, &self.target).map_err(|e| {
            ImageError::sys(
                format!(
                    "mounting overlay with {} layers on {} (needs Linux 6.8 or later)",
                    lowers.len(),
                    self.target.display()
                ),
                e,
            )
        })
    }
}

/// The kernel copies mount options into one page, NUL included.
const MAX_OPTIONS: usize = 4096;

/// The mount API of Linux 5.2+ (`fsopen`, `fsconfig`, `fsmount`, `move_mount`), with overlayfs's
/// `lowerdir+` (Linux 6.8+), which takes one lower directory per call and so has no limit on
/// the total length of the layer paths.
mod new_api {
    use std::ffi::{CStr, CString};
    use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
    use std::os::unix::ffi::OsStrExt;
    use std::path::{Path, PathBuf};

    use nix::errno::Errno;

    // Kernel ABI values (include/uapi/linux/mount.h).
    const FSOPEN_CLOEXEC: libc::c_uint = 0x1;
    const FSCONFIG_SET_STRING: libc::c_uint = 1;
    const FSCONFIG_CMD_CREATE: libc::c_uint = 6;
    const FSMOUNT_CLOEXEC: libc::c_uint = 0x1;
    const MOVE_MOUNT_F_EMPTY_PATH: libc::c_uint = 0x4;

    /// Mounts overlayfs with `lowers` (top first) on `target`.
    pub(super) fn mount(
        lowers: &[PathBuf],
        upper: &Path,
        work: &Path,
        target: &Path,
    ) -> Result<(), Errno> {
        let fs = fsopen(c"overlay")?;
        for lower in lowers {
            set_string(&fs, c"lowerdir+", lower)?;
        }
        set_string(&fs, c"upperdir", upper)?;
        set_string(&fs, c"workdir", work)?;
        // SAFETY: fsconfig with a valid fs context fd and null key/value, as CMD_CREATE wants.
        let created = unsafe {
            libc::syscall(
                libc::SYS_fsconfig,
                fs.as_raw_fd(),
                FSCONFIG_CMD_CREATE,
                std::ptr::null::<libc::c_char>(),
                std::ptr::null::<libc::c_void>(),
                0,
            )
        };
        Errno::result(created)?;
        // SAFETY: fsmount on the created context fd; no pointers involved.
        let mounted =
            unsafe { libc::syscall(libc::SYS_fsmount, fs.as_raw_fd(), FSMOUNT_CLOEXEC, 0) };
        let mounted = owned(mounted)?;
        let target = c_path(target)?;
        // SAFETY: move_mount from the detached mount fd (empty path) to `target`, a valid
        // NUL-terminated path that outlives the call.
        let moved = unsafe {
            libc::syscall(
                libc::SYS_move_mount,
                mounted.as_raw_fd(),
                c"".as_ptr(),
                libc::AT_FDCWD,
                target.as_ptr(),
                MOVE_MOUNT_F_EMPTY_PATH,
            )
        };
        Errno::result(moved).map(drop)
    }

    fn fsopen(name: &CStr) -> Result<OwnedFd, Errno> {
        // SAFETY: `name` is a valid NUL-terminated string for the duration of the call.
        owned(unsafe { libc::syscall(libc::SYS_fsopen, name.as_ptr(), FSOPEN_CLOEXEC) })
    }

    fn set_string(fs: &OwnedFd, key: &CStr, value: &Path) -> Result<(), Errno> {
        let value = c_path(value)?;
        // SAFETY: key and value are valid NUL-terminated strings that outlive the call.
        let result = unsafe {
            libc::syscall(
                libc::SYS_fsconfig,
                fs.as_raw_fd(),
                FSCONFIG_SET_STRING,
                key.as_ptr(),
                value.as_ptr(),
                0,
            )
        };
        Errno::result(result).map(drop)
    }

    fn c_path(path: &Path) -> Result<CString, Errno> {
        CString::new(path.as_os_str().as_bytes()).map_err(|_| Errno::EINVAL)
    }

    /// A syscall's returned descriptor, owned.
    fn owned(result: libc::c_long) -> Result<OwnedFd, Errno> {
        let fd = Errno::result(result)?;
        let fd = i32::try_from(fd).map_err(|_| Errno::EBADF)?;
        // SAFETY: the syscall succeeded and returned a new descriptor that nothing else owns.
        Ok(unsafe { OwnedFd::from_raw_fd(fd) })
    }
}

/// A path as it may appear in overlayfs options, where `,` and `:` are separators.
fn option_path(path: &Path) -> Result<String, ImageError> {
    let text = path
        .to_str()
        .filter(|s| !s.contains([',', ':', '\\']))
        .ok_or_else(|| {
            ImageError::invalid(format!(
                "overlay path {} must be UTF-8 without ',', ':' or '\\'",
                path.display()
            ))
        })?;
    Ok(text.to_string())
}

/// Unmounts `target` if something is mounted there (lazily if busy).
pub fn unmount(target: &Path) -> Result<(), ImageError> {
    let context = || format!("unmounting {}", target.display());
    match mount::umount2(target, MntFlags::UMOUNT_NOFOLLOW) {
        Ok(()) => Ok(()),
        // Not a mount point, or not there at all: nothing to do.
        Err(Errno::EINVAL | Errno::ENOENT) => Ok(()),
        Err(Errno::EBUSY) => {
            mount::umount2(target, MntFlags::MNT_DETACH | MntFlags::UMOUNT_NOFOLLOW)
                .map_err(|e| ImageError::sys(context(), e))
        }
        Err(e) => Err(ImageError::sys(context(), e)),
    }
}
