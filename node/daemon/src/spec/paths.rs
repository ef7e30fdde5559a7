//! Validation of the container-side paths a user gives (working directory, mount targets):
//! absolute, and never climbing with `..` (SECURITY.md item 10).

use std::path::{Component, Path};

use super::SpecError;

/// `path` in its clean form (`//a/./b/` becomes `/a/b`), or an error naming it as `what`.
pub fn clean_absolute(path: &str, what: &str) -> Result<String, SpecError> {
    if path.contains('\0') {
        return Err(SpecError::Invalid(format!(
            "{what} {path:?} contains a NUL byte"
        )));
    }
    if !path.starts_with('/') {
        return Err(SpecError::Invalid(format!(
            "{what} {path:?} is not an absolute path"
        )));
    }
    let mut clean = String::new();
    for component in Path::new(path).components() {
        match component {
            Component::RootDir | Component::CurDir => {}
            Component::Normal(name) => {
                clean.push('/');
                clean.push_str(&name.to_string_lossy());
            }
            Component::ParentDir | Component::Prefix(_) => {
                return Err(SpecError::Invalid(format!(
                    "{what} {path:?} must not contain '..'"
                )));
            }
        }
    }
    if clean.is_empty() {
        clean.push('/');
    }
    Ok(clean)
}

/// Whether `path` (clean and absolute) is `dir` or below it.
pub fn is_within(path: &str, dir: &str) -> bool {
    path == dir
        || path
            .strip_prefix(dir)
            .is_some_and(|rest| rest.starts_with('/'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cleans_redundant_separators_and_dots() {
        assert_eq!(clean_absolute("/", "p").unwrap(), "/");
        assert_eq!(clean_absolute("//a/./b/", "p").unwrap(), "/a/b");
        assert_eq!(clean_absolute("/a b/c", "p").unwrap(), "/a b/c");
    }

    #[test]
    fn rejects_relative_dotdot_and_nul() {
        for bad in ["", "a/b", "./a", "/a/../b", "/..", "/a/\0"] {
            let err = clean_absolute(bad, "working directory").unwrap_err();
            assert!(err.to_string().starts_with("working directory"), "{err}");
        }
    }

    #[test]
    fn within_matches_whole_components() {
        assert!(is_within("/proc", "/proc"));
        assert!(is_within("/proc/sys", "/proc"));
        assert!(!is_within("/procfs", "/proc"));
        assert!(!is_within("/", "/proc"));
    }
}
