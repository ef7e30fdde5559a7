//! The parts of a process that come straight from the request: command, environment, working
//! directory and user record.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use oci_spec::runtime::User;
use pathrs::Root;

use super::paths::clean_absolute;
use super::user::ResolvedUser;
use super::SpecError;

/// `PATH` when neither the image nor the user sets one (Docker's).
pub const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// The umask of container processes (runc's and Docker's).
const UMASK: u32 = 0o022;

/// `entrypoint` followed by `cmd` (the caller merged the image's already).
pub fn command(entrypoint: &[String], cmd: &[String]) -> Result<Vec<String>, SpecError> {
    let args: Vec<String> = entrypoint.iter().chain(cmd).cloned().collect();
    check_args(args)
}

/// `args` if it names a program and no argument holds a NUL byte.
pub fn check_args(args: Vec<String>) -> Result<Vec<String>, SpecError> {
    if args.is_empty() {
        return Err(SpecError::Invalid("no command specified".into()));
    }
    if args.iter().any(|a| a.contains('\0')) {
        return Err(SpecError::Invalid(
            "command arguments must not contain NUL bytes".into(),
        ));
    }
    Ok(args)
}

/// The name of `KEY=VALUE` (all of an entry without `=`).
fn env_key(entry: &str) -> &str {
    entry.split_once('=').map_or(entry, |(key, _)| key)
}

/// `base` with `overrides` applied: an entry replaces the one with the same key in place, or
/// is appended (Docker's ReplaceOrAppendEnvValues).
pub fn merge_env(base: &[String], overrides: &[String]) -> Result<Vec<String>, SpecError> {
    let mut env: Vec<String> = base.to_vec();
    for entry in overrides {
        let key = env_key(entry);
        if key.is_empty() || entry.contains('\0') {
            return Err(SpecError::Invalid(format!(
                "invalid environment variable {entry:?}: expected KEY=VALUE"
            )));
        }
        match env.iter_mut().find(|e| env_key(e) == key) {
            Some(existing) => existing.clone_from(entry),
            None => env.push(entry.clone()),
        }
    }
    Ok(env)
}

/// Whether `env` sets `key`.
pub fn has_env(env: &[String], key: &str) -> bool {
    env.iter().any(|e| env_key(e) == key)
}

/// The main process's environment: `PATH`, `HOSTNAME` and (with a TTY) `TERM` as defaults
/// under the configured variables, then `HOME` of the user unless set.
pub fn container_env(
    configured: &[String],
    hostname: &str,
    tty: bool,
    home: &str,
) -> Result<Vec<String>, SpecError> {
    let mut base = vec![
        format!("PATH={DEFAULT_PATH}"),
        format!("HOSTNAME={hostname}"),
    ];
    if tty {
        base.push("TERM=xterm".into());
    }
    let mut env = merge_env(&base, configured)?;
    if !has_env(&env, "HOME") {
        env.push(format!("HOME={home}"));
    }
    Ok(env)
}

/// The working directory: clean and absolute, `/` when empty.
pub fn working_dir(dir: &str) -> Result<String, SpecError> {
    if dir.is_empty() {
        return Ok("/".into());
    }
    clean_absolute(dir, "working directory")
}

/// Creates the working directory in `rootfs` if it is missing, in-root, as Docker does.
pub fn ensure_working_dir(rootfs: &Path, cwd: &str) -> Result<(), SpecError> {
    let io_err = |source| SpecError::Io {
        context: format!("creating working directory {cwd} in the container"),
        source,
    };
    let root = Root::open(rootfs).map_err(|e| io_err(std::io::Error::other(e)))?;
    root.mkdir_all(cwd, &std::fs::Permissions::from_mode(0o755))
        .map_err(|e| io_err(std::io::Error::other(e)))?;
    Ok(())
}

/// The OCI user record: ids, exact supplementary groups and Docker's umask.
pub fn oci_user(user: &ResolvedUser) -> User {
    let mut out = User::default();
    out.set_uid(user.uid)
        .set_gid(user.gid)
        .set_additional_gids(Some(user.additional_gids.clone()))
        .set_umask(Some(UMASK));
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn strings(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn command_joins_entrypoint_and_cmd() {
        let args = command(&strings(&["/entry"]), &strings(&["a", "b"])).unwrap();
        assert_eq!(args, ["/entry", "a", "b"]);
        assert_eq!(
            command(&[], &[]).unwrap_err().to_string(),
            "no command specified"
        );
        assert!(command(&[], &strings(&["a\0b"])).is_err());
    }

    #[test]
    fn env_defaults_and_overrides() {
        let env = container_env(&strings(&["A=1", "HOSTNAME=mine"]), "abc", true, "/root").unwrap();
        assert_eq!(
            env,
            [
                format!("PATH={DEFAULT_PATH}"),
                "HOSTNAME=mine".into(),
                "TERM=xterm".into(),
                "A=1".into(),
                "HOME=/root".into(),
            ]
        );
        let env =
            container_env(&strings(&["PATH=/bin", "HOME=/h"]), "abc", false, "/root").unwrap();
        assert_eq!(env, ["PATH=/bin", "HOSTNAME=abc", "HOME=/h"]);
    }

    #[test]
    fn merge_replaces_in_place() {
        let env = merge_env(
            &strings(&["A=1", "B=2"]),
            &strings(&["B=3", "C=4", "A=5", "D"]),
        )
        .unwrap();
        assert_eq!(env, ["A=5", "B=3", "C=4", "D"]);
        for bad in ["=x", "", "A=\0"] {
            assert!(merge_env(&[], &strings(&[bad])).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn working_dir_rules() {
        assert_eq!(working_dir("").unwrap(), "/");
        assert_eq!(working_dir("/app/").unwrap(), "/app");
        assert_eq!(
            working_dir("app").unwrap_err().to_string(),
            "working directory \"app\" is not an absolute path"
        );
        assert!(working_dir("/app/../..").is_err());
    }

    #[test]
    fn working_dir_is_created_in_root() {
        let rootfs = tempfile::tempdir().unwrap();
        // An absolute symlink on the way must stay inside the rootfs.
        let outside = tempfile::tempdir().unwrap();
        std::os::unix::fs::symlink(outside.path(), rootfs.path().join("app")).unwrap();
        // Dangling in-root: refused rather than followed to the host.
        assert!(ensure_working_dir(rootfs.path(), "/app/data").is_err());
        assert!(!outside.path().join("data").exists());
        // Once the link's target exists in-root, the directory is made there.
        let inside = rootfs
            .path()
            .join(outside.path().strip_prefix("/").unwrap());
        std::fs::create_dir_all(&inside).unwrap();
        ensure_working_dir(rootfs.path(), "/app/data").unwrap();
        assert!(inside.join("data").is_dir());
        assert!(!outside.path().join("data").exists());
        // Existing directories are fine.
        ensure_working_dir(rootfs.path(), "/").unwrap();
    }

    proptest! {
        #[test]
        fn merge_never_panics_and_keys_stay_unique(
            base in proptest::collection::vec("[A-C]=[0-9]", 0..4),
            overrides in proptest::collection::vec("\\PC{0,6}", 0..4),
        ) {
            let base = merge_env(&[], &base).unwrap();
            if let Ok(env) = merge_env(&base, &overrides) {
                let mut keys: Vec<_> = env.iter().map(|e| env_key(e)).collect();
                let total = keys.len();
                keys.sort_unstable();
                keys.dedup();
                prop_assert_eq!(keys.len(), total);
            }
        }
    }
}
