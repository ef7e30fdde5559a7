//! Reading process facts from `/proc`: the `status` fields the tests check (capabilities,
//! NoNewPrivs, run state) and namespace identities. The parsers also read `/proc/self/status`
//! text printed from inside a container.

use std::fs;

use crate::error::{FixtureError, Result};

/// The value of `field` (e.g. `CapEff`) in `/proc/<pid>/status` text.
pub fn status_field<'a>(status: &'a str, field: &str) -> Option<&'a str> {
    status.lines().find_map(|line| {
        let (name, value) = line.split_once(':')?;
        (name == field).then(|| value.trim())
    })
}

/// A capability set field (`CapInh`, `CapPrm`, `CapEff`, `CapBnd`, `CapAmb`) as a bitmask.
pub fn capability_mask(status: &str, field: &str) -> Result<u64> {
    let hex = status_field(status, field)
        .ok_or_else(|| FixtureError::Unexpected(format!("no {field} in status:\n{status}")))?;
    u64::from_str_radix(hex, 16)
        .map_err(|_| FixtureError::Unexpected(format!("{field} is not hex: {hex:?}")))
}

/// `/proc/<pid>/status` of a host process.
pub fn read_status(pid: i32) -> Result<String> {
    let path = format!("/proc/{pid}/status");
    fs::read_to_string(&path).map_err(FixtureError::io(format!("reading {path}")))
}

/// The one-letter run state of a host process (`R`, `S`, `D`, `T`, `Z`, ...).
pub fn run_state(pid: i32) -> Result<char> {
    let status = read_status(pid)?;
    status_field(&status, "State")
        .and_then(|s| s.chars().next())
        .ok_or_else(|| FixtureError::Unexpected(format!("no State for pid {pid}")))
}

/// The namespace kinds a container can have, as named under `/proc/<pid>/ns`.
pub const NAMESPACE_LINKS: [&str; 6] = ["pid", "mnt", "uts", "ipc", "net", "cgroup"];

/// The identity of a namespace of a host process, e.g. `net:[4026532281]`.
pub fn namespace_of(pid: i32, kind: &str) -> Result<String> {
    let path = format!("/proc/{pid}/ns/{kind}");
    fs::read_link(&path)
        .map(|p| p.to_string_lossy().into_owned())
        .map_err(FixtureError::io(format!("reading {path}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    const STATUS: &str = "Name:\tsh\nState:\tS (sleeping)\nCapInh:\t0000000000000000\n\
                          CapEff:\t00000000a80425fb\nNoNewPrivs:\t1\n";

    #[test]
    fn reads_fields_and_masks() {
        assert_eq!(status_field(STATUS, "NoNewPrivs"), Some("1"));
        assert_eq!(status_field(STATUS, "Cap"), None);
        assert_eq!(capability_mask(STATUS, "CapEff").unwrap(), 0xa804_25fb);
        assert_eq!(capability_mask(STATUS, "CapInh").unwrap(), 0);
        assert!(capability_mask(STATUS, "CapAmb").is_err());
    }

    #[test]
    fn own_namespaces_are_readable() {
        let me = i32::try_from(std::process::id()).unwrap();
        assert!(namespace_of(me, "net").unwrap().starts_with("net:["));
        assert!(matches!(run_state(me).unwrap(), 'R' | 'S'));
    }
}
