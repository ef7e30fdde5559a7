//! Container ID validation: IDs become directory and cgroup names, so they must be inert.

use crate::error::RuntimeError;

/// Longest accepted ID; keeps state paths well under socket and path limits.
const MAX_ID_LEN: usize = 1024;

/// Accepts IDs made of `[A-Za-z0-9_+.-]`, not starting with a dot (so never `.` or `..`).
pub fn validate_id(id: &str) -> Result<(), RuntimeError> {
    let bad = |why: &str| RuntimeError::InvalidId {
        id: id.to_owned(),
        reason: why.to_owned(),
    };
    if id.is_empty() {
        return Err(bad("it is empty"));
    }
    if id.len() > MAX_ID_LEN {
        return Err(bad("it is too long"));
    }
    if id.starts_with('.') {
        return Err(bad("it starts with '.'"));
    }
    if let Some(c) = id
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '_' | '+' | '-' | '.')))
    {
        return Err(bad(&format!("it contains {c:?}")));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn accepts_ordinary_ids() {
        for id in ["web", "a1", "my_container-2", "x.y", "abc+def"] {
            validate_id(id).unwrap();
        }
    }

    #[test]
    fn rejects_path_like_ids() {
        for id in ["", ".", "..", "a/b", "../x", "a b", ".hidden", "a\0b"] {
            assert!(validate_id(id).is_err(), "{id:?} accepted");
        }
    }

    proptest! {
        #[test]
        fn accepted_ids_are_single_safe_path_components(id in "\\PC{0,40}") {
            if validate_id(&id).is_ok() {
                prop_assert!(!id.contains('/'));
                prop_assert!(id != "." && id != "..");
                prop_assert!(!id.is_empty());
            }
        }
    }
}
