//! The spec's `mounts`, in order, each onto a target resolved in-root (SECURITY.md 18, 23).

use std::ffi::OsStr;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::Path;

use nix::errno::Errno;
use nix::fcntl::OFlag;
use nix::mount::MsFlags;
use nix::sys::stat::SFlag;
use nix::sys::statfs::{self, PROC_SUPER_MAGIC, SYSFS_MAGIC};
use oci_spec::runtime::Mount;

use super::cgroup;
use super::fdmount::{self, Source};
use super::options::{MountOptions, UnsupportedOption};
use super::resolve::{Create, Last, Root};
use super::RootfsError;
use crate::sys::{self, fd_path};

/// Performs every mount of the spec, in order.
pub(crate) fn mount_all(root: &Root, mounts: &[Mount]) -> Result<(), RootfsError> {
    mounts.iter().try_for_each(|m| mount_one(root, m))
}

fn mount_one(root: &Root, m: &Mount) -> Result<(), RootfsError> {
    let dest = m.destination();
    if m.uid_mappings().is_some() || m.gid_mappings().is_some() {
        return Err(RootfsError::Option {
            dest: dest.clone(),
            cause: UnsupportedOption {
                option: "uidMappings/gidMappings".to_owned(),
                reason: "idmapped mounts are not implemented",
            },
        });
    }
    let opts =
        MountOptions::parse(m.options().as_deref().unwrap_or_default()).map_err(|cause| {
            RootfsError::Option {
                dest: dest.clone(),
                cause,
            }
        })?;
    let fstype = m.typ().as_deref().unwrap_or_default();
    if opts.is_bind() || fstype == "bind" {
        return bind(root, m, &opts);
    }
    match fstype {
        "" => Err(RootfsError::InvalidMount {
            dest: dest.clone(),
            reason: "has neither a filesystem type nor a bind option".to_owned(),
        }),
        "cgroup" => cgroup::mount(root, dest, &opts),
        "proc" | "sysfs" => filesystem(root, m, fstype, &opts, Last::NoFollow),
        _ => filesystem(root, m, fstype, &opts, Last::Follow),
    }
}

/// Mounts a filesystem (`proc`, `tmpfs`, `devpts`, `mqueue`, ...) on the destination.
/// proc and sysfs (`Last::NoFollow`) must land on a plain directory: a symlink or file there is
/// refused rather than followed.
fn filesystem(
    root: &Root,
    m: &Mount,
    fstype: &str,
    opts: &MountOptions,
    last: Last,
) -> Result<(), RootfsError> {
    let dest = m.destination();
    let target = target(root, dest, Create::Dir, last)?;
    if last == Last::NoFollow {
        let kind = sys::file_type(target.as_fd())
            .map_err(|e| RootfsError::sys("inspecting mount destination", dest, e))?;
        if kind != SFlag::S_IFDIR {
            return Err(RootfsError::NotPlainDirectory {
                fstype: fstype.to_owned(),
                dest: dest.clone(),
            });
        }
    }
    let source = m
        .source()
        .as_deref()
        .map_or(OsStr::new(fstype), Path::as_os_str);
    let flags = match read_only_later(m, opts) {
        Some(_) => opts.flags - MsFlags::MS_RDONLY,
        None => opts.flags,
    };
    fdmount::mount_on(
        Source::Name(source),
        target.as_fd(),
        Some(fstype),
        flags,
        opts.data(),
    )
    .map_err(|errno| RootfsError::Mount {
        what: fstype.to_owned(),
        dest: dest.clone(),
        errno,
    })?;
    after_mount(root, dest, opts, None)
}

/// A read-only tmpfs is mounted read-write first, so that later mounts can create their
/// destinations inside it, and made read-only by [`finish_read_only`] after the pivot (as runc
/// does). Returns the flags to remount it with.
fn read_only_later(m: &Mount, opts: &MountOptions) -> Option<MsFlags> {
    let deferred = m.typ().as_deref() == Some("tmpfs")
        && !opts.is_bind()
        && opts.flags.contains(MsFlags::MS_RDONLY);
    deferred.then_some(opts.flags)
}

/// Remounts read-only the tmpfs mounts that [`read_only_later`] left writable.
pub(crate) fn finish_read_only(root: &Root, mounts: &[Mount]) -> Result<(), RootfsError> {
    for m in mounts {
        let Ok(opts) = MountOptions::parse(m.options().as_deref().unwrap_or_default()) else {
            continue;
        };
        if let Some(flags) = read_only_later(m, &opts) {
            let dest = m.destination();
            let top = target(root, dest, Create::Nothing, Last::Follow)?;
            fdmount::remount_fd(top.as_fd(), flags).map_err(|errno| RootfsError::Remount {
                what: "read-only tmpfs",
                dest: dest.clone(),
                errno,
            })?;
        }
    }
    Ok(())
}

/// Bind-mounts the host source onto the destination, creating a directory or an empty file
/// there to match the source, then applies the per-mount flags with a remount.
fn bind(root: &Root, m: &Mount, opts: &MountOptions) -> Result<(), RootfsError> {
    let dest = m.destination();
    let source = m
        .source()
        .as_deref()
        .ok_or_else(|| RootfsError::InvalidMount {
            dest: dest.clone(),
            reason: "bind mount has no source".to_owned(),
        })?;
    let src = sys::open_host(source, OFlag::empty())
        .map_err(|e| RootfsError::sys("opening bind source", source, e))?;
    let src_kind = sys::file_type(src.as_fd())
        .map_err(|e| RootfsError::sys("inspecting bind source", source, e))?;
    let create = if src_kind == SFlag::S_IFDIR {
        Create::Dir
    } else {
        Create::File
    };
    let target = target(root, dest, create, Last::Follow)?;
    let on_kernel_fs = kernel_fs(target.as_fd())
        .map_err(|e| RootfsError::sys("inspecting mount destination", dest, e))?;
    if let Some(fs) = on_kernel_fs {
        return Err(RootfsError::KernelFsTarget {
            from: source.to_path_buf(),
            dest: dest.clone(),
            fs,
        });
    }
    fdmount::bind(src.as_fd(), target.as_fd(), opts.is_recursive_bind()).map_err(|errno| {
        RootfsError::Mount {
            what: format!("bind {}", source.display()),
            dest: dest.clone(),
            errno,
        }
    })?;
    after_mount(root, dest, opts, opts.bind_remount_flags())
}

/// Resolves a mount destination in-root; the container root itself is not a valid target
/// (root.path decides it, and later lookups would not see a mount over it).
pub(super) fn target(
    root: &Root,
    dest: &Path,
    create: Create,
    last: Last,
) -> Result<OwnedFd, RootfsError> {
    let fd = root
        .resolve(dest, create, last)
        .map_err(|cause| RootfsError::resolve("mount destination", dest, cause))?;
    let is_root = root
        .is_root(fd.as_fd())
        .map_err(|e| RootfsError::sys("inspecting mount destination", dest, e))?;
    if is_root {
        return Err(RootfsError::InvalidMount {
            dest: dest.to_path_buf(),
            reason: "the container root itself cannot be a mount destination".to_owned(),
        });
    }
    Ok(fd)
}

/// Applies what must follow mount(2) on the new mount: a flags remount (for binds), the
/// propagation options and the recursive attributes. The destination is resolved again because
/// the descriptor used for mounting still refers to the directory underneath the new mount.
pub(super) fn after_mount(
    root: &Root,
    dest: &Path,
    opts: &MountOptions,
    remount: Option<MsFlags>,
) -> Result<(), RootfsError> {
    if remount.is_none() && !opts.has_post_mount_changes() {
        return Ok(());
    }
    let top = target(root, dest, Create::Nothing, Last::Follow)?;
    let failed = |what: &'static str| {
        move |errno| RootfsError::Remount {
            what,
            dest: dest.to_path_buf(),
            errno,
        }
    };
    if let Some(flags) = remount {
        fdmount::remount_fd(top.as_fd(), flags).map_err(failed("remount with its flags"))?;
    }
    for flag in &opts.propagation {
        fdmount::set_propagation(&fd_path(top.as_fd()), *flag).map_err(failed("propagation"))?;
    }
    if opts.recursive_set != 0 || opts.recursive_clear != 0 {
        fdmount::setattr_recursive(top.as_fd(), opts.recursive_set, opts.recursive_clear)
            .map_err(failed("recursive attributes"))?;
    }
    Ok(())
}

/// The name of the kernel filesystem `fd` is on, when it is procfs or sysfs.
fn kernel_fs(fd: BorrowedFd<'_>) -> Result<Option<&'static str>, Errno> {
    let fs_type = statfs::fstatfs(fd)?.filesystem_type();
    Ok(if fs_type == PROC_SUPER_MAGIC {
        Some("procfs")
    } else if fs_type == SYSFS_MAGIC {
        Some("sysfs")
    } else {
        None
    })
}
