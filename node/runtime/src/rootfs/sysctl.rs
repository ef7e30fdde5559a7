//! `linux.sysctl`: only keys that are namespaced, and only when the container has the namespace
//! that makes them so; anything else would change the host. Written via the container's own
//! /proc/sys.

use std::collections::HashMap;
use std::io::Write;
use std::os::fd::AsFd;
use std::path::{Path, PathBuf};

use nix::fcntl::{OFlag, ResolveFlag};
use nix::sys::statfs::{self, PROC_SUPER_MAGIC};
use oci_spec::runtime::{LinuxNamespace, LinuxNamespaceType};

use super::resolve::{Create, Last, Root};
use super::RootfsError;
use crate::sys;

/// IPC-namespaced keys under `kernel.` (besides `fs.mqueue.*`), as runc allows them.
const IPC_KERNEL_KEYS: [&str; 8] = [
    "msgmax",
    "msgmnb",
    "msgmni",
    "sem",
    "shmall",
    "shmmax",
    "shmmni",
    "shm_rmid_forced",
];

/// A validated key: its path below /proc/sys.
#[derive(Debug, PartialEq, Eq)]
struct Key(PathBuf);

/// Checks every key before anything is written; returns them in a stable order.
fn validate<'a>(
    sysctls: &'a HashMap<String, String>,
    namespaces: &[LinuxNamespace],
) -> Result<Vec<(&'a str, Key, &'a str)>, RootfsError> {
    let mut keys: Vec<_> = sysctls.iter().collect();
    keys.sort();
    keys.into_iter()
        .map(|(key, value)| Ok((key.as_str(), parse_key(key, namespaces)?, value.as_str())))
        .collect()
}

/// Splits a key on `/` when it has one (sysctl(8): then dots belong to names, as in
/// `net/ipv4/conf/eth0.100/forwarding`), otherwise on `.`, and checks it is namespaced.
fn parse_key(key: &str, namespaces: &[LinuxNamespace]) -> Result<Key, RootfsError> {
    let refuse = |reason: String| RootfsError::Sysctl {
        key: key.to_owned(),
        reason,
    };
    let separator = if key.contains('/') { '/' } else { '.' };
    let parts: Vec<&str> = key.split(separator).collect();
    if parts
        .iter()
        .any(|p| p.is_empty() || *p == "." || *p == "..")
    {
        return Err(refuse("is not a valid key".to_owned()));
    }
    let needs = match parts.as_slice() {
        ["kernel", name] if IPC_KERNEL_KEYS.contains(name) => LinuxNamespaceType::Ipc,
        ["fs", "mqueue", _, ..] => LinuxNamespaceType::Ipc,
        ["net", _, ..] => LinuxNamespaceType::Network,
        ["kernel", "hostname" | "domainname"] => LinuxNamespaceType::Uts,
        _ => {
            return Err(refuse(
                "is not namespaced; setting it would change the host".to_owned(),
            ))
        }
    };
    if !namespaces.iter().any(|ns| ns.typ() == needs) {
        return Err(refuse(format!(
            "needs the container to have its own {needs} namespace"
        )));
    }
    Ok(Key(parts.iter().collect()))
}

/// Validates all keys, then writes each value to the container's /proc/sys.
pub(crate) fn apply(
    root: &Root,
    sysctls: &HashMap<String, String>,
    namespaces: &[LinuxNamespace],
) -> Result<(), RootfsError> {
    let entries = validate(sysctls, namespaces)?;
    if entries.is_empty() {
        return Ok(());
    }
    let proc_sys = root
        .resolve(Path::new("/proc/sys"), Create::Nothing, Last::NoFollow)
        .map_err(|cause| RootfsError::resolve("sysctl directory", "/proc/sys", cause))?;
    let on_proc = statfs::fstatfs(&proc_sys)
        .map_err(|e| RootfsError::sys("inspecting", "/proc/sys", e))?
        .filesystem_type()
        == PROC_SUPER_MAGIC;
    if !on_proc {
        return Err(RootfsError::Sysctl {
            key: entries[0].0.to_owned(),
            reason: "/proc/sys in the container is not procfs (is /proc mounted?)".to_owned(),
        });
    }
    for (key, Key(path), value) in entries {
        let fail = |what: &str, e: &dyn std::fmt::Display| RootfsError::Sysctl {
            key: key.to_owned(),
            reason: format!("{what} /proc/sys/{}: {e}", path.display()),
        };
        let resolve = ResolveFlag::RESOLVE_BENEATH
            | ResolveFlag::RESOLVE_NO_SYMLINKS
            | ResolveFlag::RESOLVE_NO_XDEV;
        let fd = sys::open_beneath(proc_sys.as_fd(), &path, OFlag::O_WRONLY, resolve)
            .map_err(|e| fail("opening", &e))?;
        std::fs::File::from(fd)
            .write_all(value.as_bytes())
            .map_err(|e| fail(&format!("writing {value:?} to"), &e))?;
    }
    Ok(())
}

/// Validation alone, so that a bad key fails before the pivot.
pub(crate) fn check(
    sysctls: &HashMap<String, String>,
    namespaces: &[LinuxNamespace],
) -> Result<(), RootfsError> {
    validate(sysctls, namespaces).map(drop)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn namespaces(types: &str) -> Vec<LinuxNamespace> {
        serde_json::from_str(types).unwrap()
    }

    #[test]
    fn namespaced_keys_with_their_namespace() {
        let ns = namespaces(r#"[{"type":"ipc"},{"type":"network"},{"type":"uts"}]"#);
        let ok = |k| parse_key(k, &ns).unwrap().0;
        assert_eq!(ok("kernel.shmmax"), Path::new("kernel/shmmax"));
        assert_eq!(ok("fs.mqueue.msg_max"), Path::new("fs/mqueue/msg_max"));
        assert_eq!(ok("net.ipv4.ip_forward"), Path::new("net/ipv4/ip_forward"));
        assert_eq!(
            ok("net/ipv4/conf/eth0.100/forwarding"),
            Path::new("net/ipv4/conf/eth0.100/forwarding")
        );
        assert_eq!(ok("kernel.hostname"), Path::new("kernel/hostname"));
    }

    #[test]
    fn host_wide_and_malformed_keys_are_refused() {
        let ns = namespaces(r#"[{"type":"ipc"},{"type":"network"},{"type":"uts"}]"#);
        for key in [
            "kernel.pid_max",
            "vm.overcommit_memory",
            "kernel.shmmax.x",
            "fs.file-max",
            "net",
        ] {
            let err = parse_key(key, &ns).unwrap_err().to_string();
            assert_eq!(
                err,
                format!("sysctl {key}: is not namespaced; setting it would change the host")
            );
        }
        for key in ["net/../../etc/passwd", "net..ipv4", "net.ipv4."] {
            let err = parse_key(key, &ns).unwrap_err().to_string();
            assert!(err.ends_with("is not a valid key"), "{err}");
        }
    }

    #[test]
    fn keys_need_the_matching_namespace() {
        let ns = namespaces(r#"[{"type":"pid"},{"type":"mount"}]"#);
        let err = |k| parse_key(k, &ns).unwrap_err().to_string();
        assert_eq!(
            err("net.ipv4.ip_forward"),
            "sysctl net.ipv4.ip_forward: needs the container to have its own net namespace"
        );
        assert!(err("kernel.msgmax").ends_with("own ipc namespace"));
        assert!(err("kernel.domainname").ends_with("own uts namespace"));
        // A joined namespace (with a path) counts too.
        let joined = namespaces(r#"[{"type":"network","path":"/run/netns/x"}]"#);
        assert!(parse_key("net.core.somaxconn", &joined).is_ok());
    }

    #[test]
    fn validation_is_ordered_and_all_or_nothing() {
        let ns = namespaces(r#"[{"type":"ipc"}]"#);
        let sysctls: HashMap<String, String> = [("kernel.shmmni", "1"), ("kernel.msgmax", "2")]
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect();
        let keys: Vec<&str> = validate(&sysctls, &ns)
            .unwrap()
            .into_iter()
            .map(|e| e.0)
            .collect();
        assert_eq!(keys, vec!["kernel.msgmax", "kernel.shmmni"]);
        let mut bad = sysctls.clone();
        bad.insert("vm.swappiness".to_owned(), "0".to_owned());
        assert!(check(&bad, &ns).is_err());
    }
}
