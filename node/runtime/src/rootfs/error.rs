//! The errors of rootfs setup; every message names the path or mount concerned.

use std::path::PathBuf;

use nix::errno::Errno;

use super::options::UnsupportedOption;
use super::resolve::ResolveError;

#[derive(Debug, thiserror::Error)]
pub enum RootfsError {
    /// A path could not be resolved inside the container root.
    #[error("{what} {path} {cause}")]
    Resolve {
        what: &'static str,
        path: PathBuf,
        cause: ResolveError,
    },

    /// A mount(2) call failed.
    #[error("mounting {what} on {dest}: {errno}")]
    Mount {
        what: String,
        dest: PathBuf,
        errno: Errno,
    },

    /// A remount or propagation change of an existing mount failed.
    #[error("changing the mount at {dest} ({what}): {errno}")]
    Remount {
        what: &'static str,
        dest: PathBuf,
        errno: Errno,
    },

    /// proc and sysfs go only on a plain directory, never through a symlink or onto a file.
    #[error("refusing to mount {fstype} on {dest}: it is not a plain directory")]
    NotPlainDirectory { fstype: String, dest: PathBuf },

    /// Bind mounts onto procfs or sysfs could overwrite kernel interfaces.
    #[error("refusing to bind-mount {from} onto {dest}: the target is on {fs}")]
    KernelFsTarget {
        from: PathBuf,
        dest: PathBuf,
        fs: &'static str,
    },

    /// A mount entry that cannot be carried out as written.
    #[error("mount {dest}: {reason}")]
    InvalidMount { dest: PathBuf, reason: String },

    /// A mount option Berth recognises but does not implement.
    #[error("mount {dest}: {cause}")]
    Option {
        dest: PathBuf,
        cause: UnsupportedOption,
    },

    /// `linux.rootfsPropagation` has an unknown value.
    #[error("linux.rootfsPropagation {value:?} is not one of private, rprivate, slave, rslave, shared, rshared, unbindable, runbindable")]
    Propagation { value: String },

    /// The container's `/dev/null` must be the real null device before it is bound over files.
    #[error("refusing to mask {path}: /dev/null in the container is not the character device 1:3")]
    FakeDevNull { path: PathBuf },

    /// A device node could not be created.
    #[error("device {path}: {step}: {errno}")]
    Device {
        path: PathBuf,
        step: &'static str,
        errno: Errno,
    },

    /// A `linux.devices` entry that cannot be created.
    #[error("device {path}: {reason}")]
    InvalidDevice { path: PathBuf, reason: String },

    /// A `linux.sysctl` entry that is refused or could not be written.
    #[error("sysctl {key}: {reason}")]
    Sysctl { key: String, reason: String },

    /// Entering the new root failed.
    #[error("entering the root {rootfs}: {step}: {errno}")]
    Pivot {
        rootfs: PathBuf,
        step: &'static str,
        errno: Errno,
    },

    /// Another syscall on a named path failed.
    #[error("{step} {path}: {errno}")]
    Sys {
        step: &'static str,
        path: PathBuf,
        errno: Errno,
    },
}

impl RootfsError {
    pub(crate) fn resolve(
        what: &'static str,
        path: impl Into<PathBuf>,
        cause: ResolveError,
    ) -> Self {
        RootfsError::Resolve {
            what,
            path: path.into(),
            cause,
        }
    }

    pub(crate) fn sys(step: &'static str, path: impl Into<PathBuf>, errno: Errno) -> Self {
        RootfsError::Sys {
            step,
            path: path.into(),
            errno,
        }
    }
}
