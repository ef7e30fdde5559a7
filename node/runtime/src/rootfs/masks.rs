//! `linux.maskedPaths` and `linux.readonlyPaths` (SECURITY.md 18, 21), applied after the pivot
//! so that paths are resolved in the container's final view.

use std::ffi::OsStr;
use std::os::fd::{AsFd, OwnedFd};
use std::path::Path;

use nix::mount::MsFlags;
use nix::sys::stat::{self, SFlag};

use super::fdmount::{self, Source};
use super::resolve::{Create, Last, Root};
use super::RootfsError;
use crate::sys;

/// Hides each existing path: a read-only empty tmpfs over a directory, the container's
/// `/dev/null` over anything else. Missing paths are skipped.
pub(crate) fn mask_paths<S: AsRef<str>>(root: &Root, paths: &[S]) -> Result<(), RootfsError> {
    let mut dev_null = None;
    for path in paths.iter().map(|p| Path::new(p.as_ref())) {
        let Some(target) = existing(root, "masked path", path)? else {
            continue;
        };
        let kind = sys::file_type(target.as_fd())
            .map_err(|e| RootfsError::sys("inspecting masked path", path, e))?;
        let (what, mounted) = if kind == SFlag::S_IFDIR {
            let empty = fdmount::mount_on(
                Source::Name(OsStr::new("tmpfs")),
                target.as_fd(),
                Some("tmpfs"),
                MsFlags::MS_RDONLY,
                None,
            );
            ("read-only tmpfs", empty)
        } else {
            let null = match &dev_null {
                Some(null) => null,
                None => dev_null.insert(verified_dev_null(root, path)?),
            };
            (
                "/dev/null",
                fdmount::bind(null.as_fd(), target.as_fd(), false),
            )
        };
        mounted.map_err(|errno| RootfsError::Mount {
            what: what.to_owned(),
            dest: path.to_path_buf(),
            errno,
        })?;
    }
    Ok(())
}

/// Makes each existing path read-only, submounts included: a recursive bind onto itself, then
/// `MOUNT_ATTR_RDONLY` on the whole new mount tree. Missing paths are skipped.
pub(crate) fn make_readonly<S: AsRef<str>>(root: &Root, paths: &[S]) -> Result<(), RootfsError> {
    for path in paths.iter().map(|p| Path::new(p.as_ref())) {
        let Some(target) = existing(root, "read-only path", path)? else {
            continue;
        };
        fdmount::bind(target.as_fd(), target.as_fd(), true).map_err(|errno| {
            RootfsError::Mount {
                what: "a bind of itself".to_owned(),
                dest: path.to_path_buf(),
                errno,
            }
        })?;
        let Some(top) = existing(root, "read-only path", path)? else {
            continue;
        };
        fdmount::setattr_recursive(top.as_fd(), libc::MOUNT_ATTR_RDONLY, 0).map_err(|errno| {
            RootfsError::Remount {
                what: "read-only",
                dest: path.to_path_buf(),
                errno,
            }
        })?;
    }
    Ok(())
}

/// Resolves `path` in-root, or `None` when it does not exist.
fn existing(root: &Root, what: &'static str, path: &Path) -> Result<Option<OwnedFd>, RootfsError> {
    match root.resolve(path, Create::Nothing, Last::Follow) {
        Ok(fd) => Ok(Some(fd)),
        Err(e) if e.is_not_found() => Ok(None),
        Err(cause) => Err(RootfsError::resolve(what, path, cause)),
    }
}

/// The container's `/dev/null`, checked to be the character device 1:3; a file or another
/// device planted there would otherwise be bound over the masked paths (SECURITY.md 18).
fn verified_dev_null(root: &Root, masking: &Path) -> Result<OwnedFd, RootfsError> {
    let null = root
        .resolve(Path::new("/dev/null"), Create::Nothing, Last::NoFollow)
        .map_err(|cause| RootfsError::resolve("device", "/dev/null", cause))?;
    let st =
        sys::fstat(null.as_fd()).map_err(|e| RootfsError::sys("inspecting", "/dev/null", e))?;
    let is_char = st.st_mode & SFlag::S_IFMT.bits() == SFlag::S_IFCHR.bits();
    if is_char && (stat::major(st.st_rdev), stat::minor(st.st_rdev)) == (1, 3) {
        Ok(null)
    } else {
        Err(RootfsError::FakeDevNull {
            path: masking.to_path_buf(),
        })
    }
}
