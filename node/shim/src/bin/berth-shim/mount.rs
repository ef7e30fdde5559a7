//! The container's rootfs mount: mounted through berth-image when the daemon has not done it,
//! unmounted by the shim once the container is gone.

use std::os::unix::fs::MetadataExt;
use std::path::Path;

use anyhow::{Context, Result};
use berth_image::overlay::OverlayMount;
use nix::errno::Errno;
use nix::mount::{umount2, MntFlags};

/// Mounts `rootfs` unless something is mounted there already; returns whether it mounted.
pub fn ensure_mounted(rootfs: &OverlayMount) -> Result<bool> {
    if is_mount_point(&rootfs.target) {
        return Ok(false);
    }
    rootfs
        .mount()
        .with_context(|| format!("mounting the rootfs at {}", rootfs.target.display()))?;
    Ok(true)
}

/// Unmounts `target` if it is mounted (lazily, should something still hold it).
pub fn unmount(target: &Path) -> Result<()> {
    if !is_mount_point(target) {
        return Ok(());
    }
    match umount2(target, MntFlags::MNT_DETACH) {
        Ok(()) | Err(Errno::EINVAL | Errno::ENOENT) => Ok(()),
        Err(err) => Err(err).with_context(|| format!("unmounting {}", target.display())),
    }
}

/// A directory on a different device than its parent is a mount point (overlayfs always has
/// its own device number).
fn is_mount_point(path: &Path) -> bool {
    let (Ok(dir), Some(parent)) = (std::fs::symlink_metadata(path), path.parent()) else {
        return false;
    };
    std::fs::metadata(parent).is_ok_and(|p| p.dev() != dir.dev())
}
