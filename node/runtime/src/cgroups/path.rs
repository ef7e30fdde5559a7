//! Turning `linux.cgroupsPath` into the container's cgroup path, and checking stored ones.
//!
//! A resolved path is absolute, relative to the cgroup root, and names a cgroup below the root:
//! `remove` kills whatever is inside, so the root or a path escaping it with `..` must never
//! get this far.

use std::path::{Component, Path, PathBuf};

use super::CgroupError;

/// Where a container goes when the spec gives no `cgroupsPath`: `berth/<id>`, relative.
const DEFAULT_PARENT: &str = "berth";

/// Resolves the requested `cgroupsPath` (`None` or empty: `berth/<id>`). A relative path is
/// joined to `parent_for_relative()`, which is only consulted for relative paths.
pub(super) fn resolve(
    requested: Option<&Path>,
    id: &str,
    parent_for_relative: impl FnOnce() -> Result<PathBuf, CgroupError>,
) -> Result<PathBuf, CgroupError> {
    let requested = match requested.filter(|p| !p.as_os_str().is_empty()) {
        Some(path) => path.to_path_buf(),
        None => {
            check_id(id)?;
            Path::new(DEFAULT_PARENT).join(id)
        }
    };
    let below = normal_components(&requested)?;
    let resolved = if requested.is_absolute() {
        Path::new("/").join(below)
    } else {
        parent_for_relative()?.join(below)
    };
    check_stored(&resolved)?;
    Ok(resolved)
}

/// Checks a path read back from a container's state file.
pub(super) fn check_stored(path: &Path) -> Result<(), CgroupError> {
    if !path.is_absolute() {
        return Err(invalid(path, "a stored cgroup path must be absolute"));
    }
    normal_components(path).map(drop)
}

/// The path's named components; refuses `..` and a path naming the cgroup root itself.
fn normal_components(path: &Path) -> Result<PathBuf, CgroupError> {
    let mut below = PathBuf::new();
    for component in path.components() {
        match component {
            Component::Normal(name) => below.push(name),
            Component::RootDir | Component::CurDir => {}
            Component::ParentDir => return Err(invalid(path, "it must not contain \"..\"")),
            Component::Prefix(_) => return Err(invalid(path, "it is not a Unix path")),
        }
    }
    if below.as_os_str().is_empty() {
        return Err(invalid(path, "it names the cgroup root"));
    }
    Ok(below)
}

fn check_id(id: &str) -> Result<(), CgroupError> {
    let bad = id.is_empty() || id == "." || id == ".." || id.contains(['/', '\0']);
    if bad {
        return Err(CgroupError::InvalidId(id.to_owned()));
    }
    Ok(())
}

fn invalid(path: &Path, reason: &'static str) -> CgroupError {
    CgroupError::InvalidPath {
        path: path.to_path_buf(),
        reason,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parent() -> Result<PathBuf, CgroupError> {
        Ok(PathBuf::from("/user.slice/session-1.scope"))
    }

    fn unreachable_parent() -> Result<PathBuf, CgroupError> {
        panic!("an absolute path must not look up the runtime's cgroup")
    }

    #[test]
    fn absolute_paths_are_relative_to_the_cgroup_root() {
        let resolved = resolve(Some(Path::new("/a/./b/")), "c1", unreachable_parent).unwrap();
        assert_eq!(resolved, Path::new("/a/b"));
    }

    #[test]
    fn relative_paths_and_the_default_go_under_the_runtime_cgroup() {
        let resolved = resolve(Some(Path::new("pods/p1")), "c1", parent).unwrap();
        assert_eq!(resolved, Path::new("/user.slice/session-1.scope/pods/p1"));
        for none in [None, Some(Path::new(""))] {
            let resolved = resolve(none, "c1", parent).unwrap();
            assert_eq!(resolved, Path::new("/user.slice/session-1.scope/berth/c1"));
        }
    }

    #[test]
    fn dot_dot_is_refused_with_a_clear_message() {
        for bad in ["../escape", "/a/../../b", "a/.."] {
            let err = resolve(Some(Path::new(bad)), "c1", parent).unwrap_err();
            assert!(
                matches!(err, CgroupError::InvalidPath { .. }),
                "{bad}: {err}"
            );
            assert_eq!(
                err.to_string(),
                format!("invalid cgroupsPath {bad:?}: it must not contain \"..\"")
            );
        }
    }

    #[test]
    fn the_cgroup_root_is_refused() {
        for root in ["/", "/.", "//"] {
            let err = resolve(Some(Path::new(root)), "c1", parent).unwrap_err();
            assert!(err.to_string().contains("names the cgroup root"), "{err}");
        }
        assert!(check_stored(Path::new("/")).is_err());
    }

    #[test]
    fn bad_ids_are_refused_for_the_default_path() {
        for id in ["", ".", "..", "a/b", "a\0b"] {
            let err = resolve(None, id, parent).unwrap_err();
            assert!(matches!(err, CgroupError::InvalidId(_)), "{id:?}: {err}");
        }
    }

    #[test]
    fn stored_paths_must_be_absolute_and_below_the_root() {
        assert!(check_stored(Path::new("/berth/c1")).is_ok());
        assert!(check_stored(Path::new("berth/c1")).is_err());
        assert!(check_stored(Path::new("/berth/../..")).is_err());
    }
}
