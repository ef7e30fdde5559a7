//! `linux.rootfsPropagation`, done the runc way: before the container's mounts, the whole tree
//! becomes `rslave` (or the requested mode) so nothing we mount reaches the host, and the
//! rootfs's parent mount is made private when shared so pivot_root can work. The requested mode
//! is applied to the new `/` again after the pivot (unless it is a private one), because only
//! then does it concern the container's root rather than a copy of the host's.

use std::path::Path;

use nix::mount::MsFlags;

use super::fdmount;
use super::mountinfo;
use super::RootfsError;

/// Parses the spec value; `None` (or empty) means unset.
pub(crate) fn parse(value: Option<&str>) -> Result<Option<MsFlags>, RootfsError> {
    let rec = MsFlags::MS_REC;
    let flags = match value.unwrap_or_default() {
        "" => return Ok(None),
        "private" => MsFlags::MS_PRIVATE,
        "rprivate" => MsFlags::MS_PRIVATE | rec,
        "slave" => MsFlags::MS_SLAVE,
        "rslave" => MsFlags::MS_SLAVE | rec,
        "shared" => MsFlags::MS_SHARED,
        "rshared" => MsFlags::MS_SHARED | rec,
        "unbindable" => MsFlags::MS_UNBINDABLE,
        "runbindable" => MsFlags::MS_UNBINDABLE | rec,
        other => {
            return Err(RootfsError::Propagation {
                value: other.to_owned(),
            })
        }
    };
    Ok(Some(flags))
}

/// Cuts the container's mount namespace off from the host's before anything is mounted.
pub(crate) fn isolate(rootfs: &Path, requested: Option<MsFlags>) -> Result<(), RootfsError> {
    let flags = match requested {
        // An unbindable rootfs could not be bind-mounted onto itself; `finish` applies it
        // after the pivot, and until then private keeps the host out.
        Some(flags) if flags.contains(MsFlags::MS_UNBINDABLE) => {
            (flags - MsFlags::MS_UNBINDABLE) | MsFlags::MS_PRIVATE
        }
        Some(flags) => flags,
        None => MsFlags::MS_SLAVE | MsFlags::MS_REC,
    };
    fdmount::set_propagation(Path::new("/"), flags).map_err(|errno| RootfsError::Remount {
        what: "root propagation",
        dest: "/".into(),
        errno,
    })?;
    let mounts =
        mountinfo::read().map_err(|e| RootfsError::sys("reading", "/proc/self/mountinfo", e))?;
    if let Some(parent) = mountinfo::containing(&mounts, rootfs).filter(|m| m.is_shared()) {
        fdmount::set_propagation(&parent.mount_point, MsFlags::MS_PRIVATE).map_err(|errno| {
            RootfsError::Remount {
                what: "private propagation of the rootfs's parent",
                dest: parent.mount_point.clone(),
                errno,
            }
        })?;
    }
    Ok(())
}

/// Applies the requested mode to the container's `/` after the pivot.
pub(crate) fn finish(requested: Option<MsFlags>) -> Result<(), RootfsError> {
    match requested {
        Some(flags) if !flags.contains(MsFlags::MS_PRIVATE) => {
            fdmount::set_propagation(Path::new("/"), flags).map_err(|errno| RootfsError::Remount {
                what: "linux.rootfsPropagation",
                dest: "/".into(),
                errno,
            })
        }
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_all_modes() {
        assert_eq!(parse(None).unwrap(), None);
        assert_eq!(parse(Some("")).unwrap(), None);
        assert_eq!(
            parse(Some("rslave")).unwrap(),
            Some(MsFlags::MS_SLAVE | MsFlags::MS_REC)
        );
        assert_eq!(parse(Some("shared")).unwrap(), Some(MsFlags::MS_SHARED));
        assert_eq!(
            parse(Some("runbindable")).unwrap(),
            Some(MsFlags::MS_UNBINDABLE | MsFlags::MS_REC)
        );
        let err = parse(Some("rsharedd")).unwrap_err().to_string();
        assert!(
            err.starts_with("linux.rootfsPropagation \"rsharedd\" is not one of"),
            "{err}"
        );
    }
}
