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
        mount::mount(
            Some("overlay"),
            &self.target,
            Some("overlay"),
            MsFlags::empty(),
            Some(options.as_str()),
        )
        .map_err(|e| ImageError::sys(format!("mounting overlay on {}", self.target.display()), e))
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
