//! `--security-opt` and the paths hidden from unprivileged containers (SECURITY.md items 20, 21).

use super::SpecError;

/// Hidden and read-only paths (SECURITY.md item 21): one list with the runtime's.
pub use berth_runtime::spec::{MASKED_PATHS, READONLY_PATHS};

/// What the security options ask for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SecurityOpts {
    /// `no_new_privs`: on unless `no-new-privileges:false`.
    pub no_new_privileges: bool,
    /// `seccomp=unconfined`: no seccomp filter.
    pub seccomp_unconfined: bool,
}

impl Default for SecurityOpts {
    fn default() -> Self {
        SecurityOpts {
            no_new_privileges: true,
            seccomp_unconfined: false,
        }
    }
}

/// Parses `no-new-privileges[:true|false]` (also with `=`) and `seccomp=unconfined`; later
/// options override earlier ones; anything else is an error.
pub fn parse_security_opts(opts: &[String]) -> Result<SecurityOpts, SpecError> {
    let mut parsed = SecurityOpts::default();
    for opt in opts {
        let (key, value) = match opt.split_once(['=', ':']) {
            Some((key, value)) => (key, Some(value)),
            None => (opt.as_str(), None),
        };
        match (key, value) {
            ("no-new-privileges", None) => parsed.no_new_privileges = true,
            ("no-new-privileges", Some(value)) => {
                parsed.no_new_privileges = match value {
                    "true" => true,
                    "false" => false,
                    _ => {
                        return Err(SpecError::Invalid(format!(
                            "invalid --security-opt {opt:?}: no-new-privileges takes true or false"
                        )))
                    }
                }
            }
            ("seccomp", Some("unconfined")) => parsed.seccomp_unconfined = true,
            ("seccomp", _) => {
                return Err(SpecError::Invalid(format!(
                    "invalid --security-opt {opt:?}: custom seccomp profiles are not supported \
                     yet (only seccomp=unconfined)"
                )))
            }
            _ => {
                return Err(SpecError::Invalid(format!(
                    "invalid --security-opt {opt:?}: expected no-new-privileges[:true|false] or \
                     seccomp=unconfined"
                )))
            }
        }
    }
    Ok(parsed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn parse(opts: &[&str]) -> Result<SecurityOpts, SpecError> {
        parse_security_opts(&opts.iter().map(|s| s.to_string()).collect::<Vec<_>>())
    }

    #[test]
    fn defaults_are_locked_down() {
        assert_eq!(parse(&[]).unwrap(), SecurityOpts::default());
        assert!(parse(&[]).unwrap().no_new_privileges);
    }

    #[test]
    fn no_new_privileges_forms() {
        for (opt, want) in [
            ("no-new-privileges", true),
            ("no-new-privileges:true", true),
            ("no-new-privileges=true", true),
            ("no-new-privileges:false", false),
            ("no-new-privileges=false", false),
        ] {
            assert_eq!(parse(&[opt]).unwrap().no_new_privileges, want, "{opt}");
        }
        // The last one wins.
        let opts = parse(&["no-new-privileges:false", "no-new-privileges"]).unwrap();
        assert!(opts.no_new_privileges);
    }

    #[test]
    fn seccomp_unconfined() {
        assert!(parse(&["seccomp=unconfined"]).unwrap().seccomp_unconfined);
        assert!(parse(&["seccomp:unconfined"]).unwrap().seccomp_unconfined);
        let err = parse(&["seccomp=/etc/profile.json"]).unwrap_err();
        assert!(err.to_string().contains("not supported yet"), "{err}");
    }

    #[test]
    fn unknown_options_are_errors() {
        for bad in [
            "apparmor=unconfined",
            "label=disable",
            "no-new-privileges:maybe",
            "no-new-privileges=",
            "",
            "NO-NEW-PRIVILEGES",
        ] {
            let err = parse(&[bad]).unwrap_err().to_string();
            assert!(err.starts_with("invalid --security-opt"), "{bad}: {err}");
        }
    }

    proptest! {
        #[test]
        fn parser_never_panics(opts in proptest::collection::vec("\\PC{0,30}", 0..4)) {
            let _ = parse_security_opts(&opts);
        }
    }
}
