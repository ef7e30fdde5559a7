//! `--user` (`uid`, `uid:gid`, `name`, `name:group`) resolved against the container's own user
//! database, with runc's rules: a numeric user with a passwd entry takes its primary group,
//! home and supplementary groups; an explicit group replaces the primary group and drops the
//! supplementary ones; an unknown name is an error, never uid 0 (SECURITY.md items 10, 11).

use std::path::Path;

use super::userdb::{parse_id, UserDb, MAX_ID};
use super::SpecError;

/// A user or group as written: a number or a name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Id {
    Number(u32),
    Name(String),
}

/// The credentials and home of the process.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResolvedUser {
    pub uid: u32,
    pub gid: u32,
    /// Set exactly with setgroups (possibly empty).
    pub additional_gids: Vec<u32>,
    pub home: String,
}

/// Splits and checks a non-empty user spec, without looking anything up.
pub fn parse_user_spec(spec: &str) -> Result<(Id, Option<Id>), SpecError> {
    let (user, group) = match spec.split_once(':') {
        Some((user, group)) => (user, Some(group)),
        None => (spec, None),
    };
    let user = parse_part(spec, user, "user")?;
    let group = group.map(|g| parse_part(spec, g, "group")).transpose()?;
    Ok((user, group))
}

fn parse_part(spec: &str, part: &str, what: &str) -> Result<Id, SpecError> {
    if part.is_empty() || part.contains(':') || part.contains(char::is_whitespace) {
        return Err(SpecError::Invalid(format!(
            "invalid user {spec:?}: expected uid, uid:gid, name or name:group"
        )));
    }
    if part.bytes().all(|b| b.is_ascii_digit()) {
        return parse_id(part).map(Id::Number).ok_or_else(|| {
            SpecError::Invalid(format!(
                "invalid user {spec:?}: {what} id {part} is out of range (0-{MAX_ID})"
            ))
        });
    }
    Ok(Id::Name(part.to_owned()))
}

/// Resolves `spec` (empty: root) in `rootfs`.
pub fn resolve_user(spec: &str, rootfs: &Path) -> Result<ResolvedUser, SpecError> {
    let db = UserDb::load(rootfs)?;
    let (user, group) = if spec.is_empty() {
        (Id::Number(0), None)
    } else {
        parse_user_spec(spec)?
    };
    resolve_in(&db, &user, group.as_ref())
}

/// [`resolve_user`] against an already loaded database.
pub fn resolve_in(db: &UserDb, user: &Id, group: Option<&Id>) -> Result<ResolvedUser, SpecError> {
    let (uid, entry) = match user {
        Id::Number(uid) => (*uid, db.user_by_uid(*uid)),
        Id::Name(name) => {
            let entry = db.user_by_name(name).ok_or_else(|| {
                SpecError::Invalid(format!(
                    "unable to find user {name}: no matching entries in passwd file"
                ))
            })?;
            (entry.uid, Some(entry))
        }
    };
    let mut resolved = ResolvedUser {
        uid,
        gid: entry.map_or(0, |e| e.gid),
        additional_gids: Vec::new(),
        home: entry
            .map(|e| e.home.as_str())
            .filter(|home| !home.is_empty())
            .unwrap_or("/")
            .to_owned(),
    };
    match group {
        Some(Id::Number(gid)) => resolved.gid = *gid,
        Some(Id::Name(name)) => {
            resolved.gid = db
                .group_by_name(name)
                .ok_or_else(|| {
                    SpecError::Invalid(format!(
                        "unable to find group {name}: no matching entries in group file"
                    ))
                })?
                .gid;
        }
        None => {
            if let Some(entry) = entry {
                resolved.additional_gids = db.supplementary_gids(&entry.name);
            }
        }
    }
    Ok(resolved)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::userdb::{parse_group, parse_passwd};
    use proptest::prelude::*;

    fn db() -> UserDb {
        UserDb {
            passwd: parse_passwd(
                "root:x:0:0:root:/root:/bin/sh\n\
                 app:x:1000:1000:App:/home/app:/bin/sh\n\
                 nohome:x:1001:1001:::/bin/sh\n",
            ),
            groups: parse_group("root:x:0:\napp:x:1000:\nwheel:x:10:app\naudio:x:29:app,root\n"),
        }
    }

    fn resolve(spec: &str) -> Result<ResolvedUser, SpecError> {
        let (user, group) = if spec.is_empty() {
            (Id::Number(0), None)
        } else {
            parse_user_spec(spec)?
        };
        resolve_in(&db(), &user, group.as_ref())
    }

    fn user(uid: u32, gid: u32, groups: &[u32], home: &str) -> ResolvedUser {
        ResolvedUser {
            uid,
            gid,
            additional_gids: groups.to_vec(),
            home: home.into(),
        }
    }

    #[test]
    fn default_is_root_with_its_groups() {
        assert_eq!(resolve("").unwrap(), user(0, 0, &[29], "/root"));
    }

    #[test]
    fn name_takes_primary_group_home_and_memberships() {
        assert_eq!(
            resolve("app").unwrap(),
            user(1000, 1000, &[10, 29], "/home/app")
        );
    }

    #[test]
    fn numeric_uid_with_entry_behaves_like_its_name() {
        assert_eq!(
            resolve("1000").unwrap(),
            user(1000, 1000, &[10, 29], "/home/app")
        );
    }

    #[test]
    fn numeric_uid_without_entry_gets_gid_0_and_slash() {
        assert_eq!(resolve("4242").unwrap(), user(4242, 0, &[], "/"));
        assert_eq!(resolve("4242:77").unwrap(), user(4242, 77, &[], "/"));
    }

    #[test]
    fn explicit_group_replaces_primary_and_drops_supplementary() {
        assert_eq!(
            resolve("app:wheel").unwrap(),
            user(1000, 10, &[], "/home/app")
        );
        assert_eq!(resolve("app:5").unwrap(), user(1000, 5, &[], "/home/app"));
        assert_eq!(resolve("0:audio").unwrap(), user(0, 29, &[], "/root"));
    }

    #[test]
    fn empty_home_falls_back_to_slash() {
        assert_eq!(resolve("nohome").unwrap().home, "/");
    }

    #[test]
    fn unknown_names_are_errors_never_root() {
        assert_eq!(
            resolve("ghost").unwrap_err().to_string(),
            "unable to find user ghost: no matching entries in passwd file"
        );
        assert_eq!(
            resolve("app:ghosts").unwrap_err().to_string(),
            "unable to find group ghosts: no matching entries in group file"
        );
        // Negative numbers are names, and no such user exists.
        assert!(resolve("-1").is_err());
    }

    #[test]
    fn out_of_range_and_malformed_specs_are_errors() {
        assert_eq!(
            resolve("4294967296").unwrap_err().to_string(),
            "invalid user \"4294967296\": user id 4294967296 is out of range (0-2147483647)"
        );
        assert!(resolve("2147483648").is_err());
        assert!(resolve("1:2147483648").is_err());
        for bad in [":", "app:", ":app", "a:b:c", "a b"] {
            assert!(resolve(bad).is_err(), "{bad:?}");
        }
    }

    proptest! {
        #[test]
        fn parser_never_panics_and_never_invents_root(spec in "\\PC{0,40}") {
            if let Ok(resolved) = resolve(&spec) {
                // Root only when asked for by number, by the name root, or by default.
                if resolved.uid == 0 {
                    let user = spec.split(':').next().unwrap_or_default();
                    prop_assert!(spec.is_empty() || user == "root" || user.trim_start_matches('0').is_empty());
                }
            }
        }

        #[test]
        fn numeric_specs_round_trip(uid in 0u32..=MAX_ID, gid in 0u32..=MAX_ID) {
            let (u, g) = parse_user_spec(&format!("{uid}:{gid}")).unwrap();
            prop_assert_eq!(u, Id::Number(uid));
            prop_assert_eq!(g, Some(Id::Number(gid)));
        }
    }
}
