//! The container's filesystem view, set up by the container's init process: single-threaded,
//! already in its new mount namespace (and possibly a new user namespace), before execve.
//!
//! The caller runs [`prepare`], then the createContainer hooks, then [`pivot_and_finish`], and,
//! for `process.terminal`, [`bind_console`]. Every path inside the container is resolved in-root
//! (see the `resolve` module) and every mount goes onto the resolved handle, never onto a path
//! by name.

mod cgroup;
mod devices;
mod error;
mod fdmount;
mod masks;
mod mountinfo;
mod mounts;
mod options;
mod pivot;
mod propagation;
mod resolve;
mod sysctl;

use crate::sys;

#[cfg(test)]
mod privileged_tests;

use std::os::fd::AsFd;
use std::path::{Path, PathBuf};

use nix::mount::MsFlags;
use nix::sys::stat::SFlag;
use nix::unistd;
use oci_spec::runtime::{Linux, Spec};

pub use error::RootfsError;
pub use options::{UnsupportedOption, OPTION_NAMES as MOUNT_OPTIONS};
pub use resolve::ResolveError;

use fdmount::remount;
use resolve::{Create, Last, Root};

/// Before pivot: make mount propagation private/slave (per `linux.rootfsPropagation`), bind the
/// rootfs onto itself, perform `spec.mounts()` in order, create devices and `/dev` links.
/// `rootfs` is the absolute host path of the bundle's `root.path`. Relative bind sources are
/// resolved against the current directory, which the caller sets to the bundle.
pub fn prepare(spec: &Spec, rootfs: &Path) -> Result<(), RootfsError> {
    let rootfs = canonical(rootfs)?;
    let linux = spec.linux().as_ref();
    let requested = propagation::parse(linux.and_then(|l| l.rootfs_propagation().as_deref()))?;
    propagation::isolate(&rootfs, requested)?;
    nix::mount::mount(
        Some(&rootfs),
        &rootfs,
        None::<&str>,
        MsFlags::MS_BIND | MsFlags::MS_REC,
        None::<&str>,
    )
    .map_err(|errno| RootfsError::Mount {
        what: "the rootfs onto itself".to_owned(),
        dest: rootfs.clone(),
        errno,
    })?;
    // Opened after the self-bind so that lookups go through the new mount.
    let root = Root::open(&rootfs).map_err(|e| RootfsError::sys("opening rootfs", &rootfs, e))?;
    let spec_mounts = spec.mounts().as_deref().unwrap_or_default();
    mounts::mount_all(&root, spec_mounts)?;
    if devices::needs_dev_setup(spec_mounts) {
        let spec_devices = linux.and_then(|l| l.devices().as_deref());
        devices::create_devices(&root, spec_devices.unwrap_or_default())?;
        devices::create_links(&root)?;
    }
    Ok(())
}

/// pivot_root into `rootfs` (or, when `no_pivot` is true or pivot_root is impossible, e.g. on
/// ramfs/initramfs, the `MS_MOVE` + chroot fallback documented in the `pivot` module), then:
/// apply `linux.sysctl`, make read-only tmpfs mounts read-only (they stay writable during
/// `prepare` so that nested mounts can be created), remount root read-only if `root.readonly`,
/// mask `linux.maskedPaths`,
/// make `linux.readonlyPaths` read-only, apply the final `rootfsPropagation`.
/// Afterwards cwd is `/`.
pub fn pivot_and_finish(spec: &Spec, rootfs: &Path, no_pivot: bool) -> Result<(), RootfsError> {
    let rootfs = canonical(rootfs)?;
    let linux = spec.linux().as_ref();
    let list = |get: fn(&Linux) -> &Option<Vec<String>>| {
        linux.and_then(|l| get(l).as_deref()).unwrap_or_default()
    };
    let namespaces = linux
        .and_then(|l| l.namespaces().as_deref())
        .unwrap_or_default();
    let sysctls = linux.and_then(|l| l.sysctl().as_ref());
    let requested = propagation::parse(linux.and_then(|l| l.rootfs_propagation().as_deref()))?;
    if let Some(sysctls) = sysctls {
        sysctl::check(sysctls, namespaces)?;
    }

    pivot::enter(&rootfs, no_pivot)?;
    let root = Root::open(Path::new("/")).map_err(|e| RootfsError::sys("opening", "/", e))?;
    if let Some(sysctls) = sysctls {
        sysctl::apply(&root, sysctls, namespaces)?;
    }
    mounts::finish_read_only(&root, spec.mounts().as_deref().unwrap_or_default())?;
    if spec.root().as_ref().and_then(|r| r.readonly()) == Some(true) {
        remount(Path::new("/"), MsFlags::MS_RDONLY).map_err(|errno| RootfsError::Remount {
            what: "read-only root",
            dest: "/".into(),
            errno,
        })?;
    }
    masks::mask_paths(&root, list(Linux::masked_paths))?;
    masks::make_readonly(&root, list(Linux::readonly_paths))?;
    propagation::finish(requested)?;
    unistd::chdir("/").map_err(|e| RootfsError::sys("chdir", "/", e))
}

/// After pivot, when `process.terminal`: bind-mount the pty slave (path inside the container,
/// e.g. `/dev/pts/0`) over `/dev/console`, creating the target file if needed.
pub fn bind_console(slave: &Path) -> Result<(), RootfsError> {
    let root = Root::open(Path::new("/")).map_err(|e| RootfsError::sys("opening", "/", e))?;
    let pty = root
        .resolve(slave, Create::Nothing, Last::Follow)
        .map_err(|cause| RootfsError::resolve("console", slave, cause))?;
    let kind = sys::file_type(pty.as_fd()).map_err(|e| RootfsError::sys("inspecting", slave, e))?;
    if kind != SFlag::S_IFCHR {
        return Err(RootfsError::InvalidDevice {
            path: slave.to_path_buf(),
            reason: "the console source is not a character device".to_owned(),
        });
    }
    let console = Path::new("/dev/console");
    let target = root
        .resolve(console, Create::File, Last::Follow)
        .map_err(|cause| RootfsError::resolve("console", console, cause))?;
    fdmount::bind(pty.as_fd(), target.as_fd(), false).map_err(|errno| RootfsError::Mount {
        what: format!("the pty {}", slave.display()),
        dest: console.to_path_buf(),
        errno,
    })
}

fn canonical(rootfs: &Path) -> Result<PathBuf, RootfsError> {
    std::fs::canonicalize(rootfs)
        .map_err(|e| RootfsError::sys("resolving rootfs", rootfs, sys::io_errno(&e)))
}
