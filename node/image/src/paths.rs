//! Lexical checks on untrusted paths (image config values and tar entry names).

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::path::PathBuf;

/// An image config path (`WorkingDir`, a volume): absolute, no `..`, cleaned of `.`, empty
/// components and trailing slashes (SECURITY.md item 10).
pub(crate) fn absolute_clean(path: &str) -> Result<String, String> {
    if path.is_empty() {
        return Err("empty path".into());
    }
    if !path.starts_with('/') {
        return Err(format!("path {path:?} must be absolute"));
    }
    if path.contains('\0') {
        return Err(format!("path {path:?} contains a NUL byte"));
    }
    let mut clean = String::new();
    for component in path.split('/') {
        match component {
            "" | "." => {}
            ".." => return Err(format!("path {path:?} must not contain ..")),
            name => {
                clean.push('/');
                clean.push_str(name);
            }
        }
    }
    if clean.is_empty() {
        clean.push('/');
    }
    Ok(clean)
}

/// A tar entry name as a path relative to the extraction root: leading `/` and `./` are
/// dropped (absolute names are contained, like GNU tar does), `..` anywhere is rejected.
/// An empty result names the root itself.
pub(crate) fn entry_path(name: &[u8]) -> Result<PathBuf, String> {
    if name.contains(&0) {
        return Err(format!("entry name {:?} contains a NUL byte", lossy(name)));
    }
    let mut clean = PathBuf::new();
    for component in name.split(|b| *b == b'/') {
        match component {
            b"" | b"." => {}
            b".." => {
                return Err(format!("entry name {:?} contains ..", lossy(name)));
            }
            part => clean.push(OsStr::from_bytes(part)),
        }
    }
    Ok(clean)
}

/// Bytes as text for messages.
pub(crate) fn lossy(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_paths() {
        assert_eq!(absolute_clean("/").unwrap(), "/");
        assert_eq!(absolute_clean("//a/./b//").unwrap(), "/a/b");
        assert!(absolute_clean("").is_err());
        assert!(absolute_clean("a").is_err());
        assert!(absolute_clean("/a/../b").is_err());
        assert!(absolute_clean("/a\0").is_err());
    }

    #[test]
    fn entry_names() {
        assert_eq!(
            entry_path(b"./etc/passwd").unwrap(),
            PathBuf::from("etc/passwd")
        );
        assert_eq!(entry_path(b"/etc/x").unwrap(), PathBuf::from("etc/x"));
        assert_eq!(entry_path(b"./").unwrap(), PathBuf::new());
        assert!(entry_path(b"../x").is_err());
        assert!(entry_path(b"a/../../x").is_err());
        assert!(entry_path(b"a/..").is_err());
    }
}
