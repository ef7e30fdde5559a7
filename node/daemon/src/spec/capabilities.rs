//! The process's capabilities: Docker's default set adjusted by `--cap-add`/`--cap-drop`
//! (names with or without `CAP_`, any case, or `ALL`), or every capability the kernel knows
//! for `--privileged`. The inheritable and ambient sets stay empty (SECURITY.md item 19).

use std::collections::HashSet;

use berth_runtime::spec::DEFAULT_CAPABILITIES;
use oci_spec::runtime::{Capability, LinuxCapabilities};
use serde::de::value::{Error as ValueError, StrDeserializer};
use serde::Deserialize;

use super::SpecError;

/// Every capability, indexed by its number in `<linux/capability.h>`.
const ALL_CAPABILITIES: [Capability; 41] = [
    Capability::Chown,
    Capability::DacOverride,
    Capability::DacReadSearch,
    Capability::Fowner,
    Capability::Fsetid,
    Capability::Kill,
    Capability::Setgid,
    Capability::Setuid,
    Capability::Setpcap,
    Capability::LinuxImmutable,
    Capability::NetBindService,
    Capability::NetBroadcast,
    Capability::NetAdmin,
    Capability::NetRaw,
    Capability::IpcLock,
    Capability::IpcOwner,
    Capability::SysModule,
    Capability::SysRawio,
    Capability::SysChroot,
    Capability::SysPtrace,
    Capability::SysPacct,
    Capability::SysAdmin,
    Capability::SysBoot,
    Capability::SysNice,
    Capability::SysResource,
    Capability::SysTime,
    Capability::SysTtyConfig,
    Capability::Mknod,
    Capability::Lease,
    Capability::AuditWrite,
    Capability::AuditControl,
    Capability::Setfcap,
    Capability::MacOverride,
    Capability::MacAdmin,
    Capability::Syslog,
    Capability::WakeAlarm,
    Capability::BlockSuspend,
    Capability::AuditRead,
    Capability::Perfmon,
    Capability::Bpf,
    Capability::CheckpointRestore,
];

/// The capabilities this kernel knows (`/proc/sys/kernel/cap_last_cap`); all of them if that
/// file cannot be read.
fn known() -> &'static [Capability] {
    let last = std::fs::read_to_string("/proc/sys/kernel/cap_last_cap")
        .ok()
        .and_then(|text| text.trim().parse::<usize>().ok())
        .unwrap_or(ALL_CAPABILITIES.len() - 1);
    &ALL_CAPABILITIES[..=last.min(ALL_CAPABILITIES.len() - 1)]
}

/// The daemon's bounding set as a bit mask (bit N: capability N), from `/proc/self/status`.
fn own_bounding_mask() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            let line = status.lines().find_map(|l| l.strip_prefix("CapBnd:"))?;
            u64::from_str_radix(line.trim(), 16).ok()
        })
        .unwrap_or(u64::MAX)
}

/// The capabilities a container can get here: known to the kernel and in the daemon's own
/// bounding set (a daemon inside a restricted container cannot grant more), in kernel order.
pub fn supported() -> Vec<Capability> {
    let mask = own_bounding_mask();
    known()
        .iter()
        .enumerate()
        .filter(|(bit, _)| mask & (1u64 << bit) != 0)
        .map(|(_, cap)| *cap)
        .collect()
}

/// A `--cap-add`/`--cap-drop` entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CapName {
    All,
    One(Capability),
}

/// Parses `name`: `ALL`, or a capability with or without `CAP_`, in any case.
pub fn parse_cap_name(name: &str) -> Result<CapName, SpecError> {
    let upper = name.to_ascii_uppercase();
    if upper == "ALL" {
        return Ok(CapName::All);
    }
    let bare = upper.strip_prefix("CAP_").unwrap_or(&upper);
    let unknown = || SpecError::Invalid(format!("unknown capability: \"CAP_{bare}\""));
    // oci-spec's parser would also strip a second `CAP_`; `CAP_CAP_X` is no capability.
    if bare.starts_with("CAP_") || bare.is_empty() {
        return Err(unknown());
    }
    let cap =
        Capability::deserialize(StrDeserializer::<ValueError>::new(bare)).map_err(|_| unknown())?;
    if !known().contains(&cap) {
        return Err(unknown());
    }
    Ok(CapName::One(cap))
}

/// The capability set of the container's processes, in kernel order (Docker's rules: `ALL` in
/// cap_add wins over everything but the explicit drops; `ALL` in cap_drop keeps only cap_add).
pub fn container_capabilities(
    privileged: bool,
    cap_add: &[String],
    cap_drop: &[String],
) -> Result<Vec<Capability>, SpecError> {
    let add = parse_names(cap_add)?;
    let drop = parse_names(cap_drop)?;
    let available = supported();
    if privileged {
        return Ok(available);
    }
    for name in &add {
        if let CapName::One(cap) = name {
            if !available.contains(cap) {
                return Err(SpecError::Invalid(format!(
                    "capability {} is not available: the daemon itself does not hold it",
                    cap_name(*cap)
                )));
            }
        }
    }
    let listed = |names: &[CapName], cap: Capability| names.contains(&CapName::One(cap));
    let keep = |cap: Capability| -> bool {
        if add.contains(&CapName::All) {
            !listed(&drop, cap)
        } else if drop.contains(&CapName::All) {
            listed(&add, cap)
        } else {
            listed(&add, cap) || (DEFAULT_CAPABILITIES.contains(&cap) && !listed(&drop, cap))
        }
    };
    Ok(available.into_iter().filter(|cap| keep(*cap)).collect())
}

/// `CAP_SYS_ADMIN` and so on, as the OCI spec spells it.
fn cap_name(cap: Capability) -> String {
    serde_json::to_value(cap)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_else(|| format!("{cap:?}"))
}

fn parse_names(names: &[String]) -> Result<Vec<CapName>, SpecError> {
    names.iter().map(|name| parse_cap_name(name)).collect()
}

/// The sets of a process running as `uid`: the bounding set is `caps`; the effective and
/// permitted sets are too for root, and empty for other users, as `execve` would leave them
/// (Docker's rule since CVE-2022-24769). Inheritable and ambient stay empty.
pub fn linux_capabilities(caps: &[Capability], uid: u32) -> LinuxCapabilities {
    let set: HashSet<Capability> = caps.iter().copied().collect();
    let granted = if uid == 0 {
        set.clone()
    } else {
        HashSet::new()
    };
    let mut out = LinuxCapabilities::default();
    out.set_bounding(Some(set))
        .set_effective(Some(granted.clone()))
        .set_permitted(Some(granted))
        .set_inheritable(Some(HashSet::new()))
        .set_ambient(Some(HashSet::new()));
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn names(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn names_parse_with_or_without_prefix_in_any_case() {
        for name in ["NET_ADMIN", "net_admin", "CAP_NET_ADMIN", "cap_Net_Admin"] {
            assert_eq!(
                parse_cap_name(name).unwrap(),
                CapName::One(Capability::NetAdmin)
            );
        }
        assert_eq!(parse_cap_name("all").unwrap(), CapName::All);
    }

    #[test]
    fn unknown_names_are_errors() {
        assert_eq!(
            parse_cap_name("cap_foo").unwrap_err().to_string(),
            "unknown capability: \"CAP_FOO\""
        );
        for bad in ["", "CAP_", "CAP_CAP_CHOWN", "CAP_ALL", " CHOWN"] {
            assert!(parse_cap_name(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn table_is_in_kernel_order() {
        // Spot checks against <linux/capability.h>.
        assert_eq!(ALL_CAPABILITIES[0], Capability::Chown);
        assert_eq!(ALL_CAPABILITIES[21], Capability::SysAdmin);
        assert_eq!(ALL_CAPABILITIES[27], Capability::Mknod);
        assert_eq!(ALL_CAPABILITIES[31], Capability::Setfcap);
        assert_eq!(ALL_CAPABILITIES[40], Capability::CheckpointRestore);
        let unique: HashSet<_> = ALL_CAPABILITIES.iter().collect();
        assert_eq!(unique.len(), ALL_CAPABILITIES.len());
    }

    #[test]
    fn default_set_is_dockers() {
        let caps = container_capabilities(false, &[], &[]).unwrap();
        let expected: HashSet<_> = DEFAULT_CAPABILITIES.into_iter().collect();
        assert_eq!(caps.into_iter().collect::<HashSet<_>>(), expected);
    }

    #[test]
    fn add_and_drop_adjust_the_default() {
        let caps =
            container_capabilities(false, &names(&["net_admin"]), &names(&["CAP_CHOWN"])).unwrap();
        assert!(caps.contains(&Capability::NetAdmin));
        assert!(!caps.contains(&Capability::Chown));
        assert!(caps.contains(&Capability::Kill));
    }

    #[test]
    fn drop_all_keeps_only_added() {
        let caps = container_capabilities(false, &names(&["KILL"]), &names(&["ALL"])).unwrap();
        assert_eq!(caps, [Capability::Kill]);
        assert!(container_capabilities(false, &[], &names(&["all"]))
            .unwrap()
            .is_empty());
    }

    #[test]
    fn add_all_keeps_everything_but_dropped() {
        let caps = container_capabilities(false, &names(&["ALL"]), &names(&["SYS_ADMIN"])).unwrap();
        assert!(!caps.contains(&Capability::SysAdmin));
        let expected = supported().len() - usize::from(supported().contains(&Capability::SysAdmin));
        assert_eq!(caps.len(), expected);
    }

    #[test]
    fn privileged_gets_every_supported_capability() {
        let caps = container_capabilities(true, &[], &names(&["ALL"])).unwrap();
        assert_eq!(caps, supported());
        assert!(caps.len() >= DEFAULT_CAPABILITIES.len());
    }

    #[test]
    fn supported_is_within_the_daemons_bounding_set() {
        let mask = own_bounding_mask();
        for cap in supported() {
            let bit = ALL_CAPABILITIES.iter().position(|c| *c == cap).unwrap();
            assert!(mask & (1 << bit) != 0, "{cap:?}");
        }
        // Adding one the daemon lacks is refused by name.
        if let Some(missing) = known().iter().find(|c| !supported().contains(c)) {
            let name = cap_name(*missing);
            let err = container_capabilities(false, std::slice::from_ref(&name), &[]).unwrap_err();
            assert!(err.to_string().contains(&name), "{err}");
        }
    }

    #[test]
    fn bad_names_fail_even_when_privileged() {
        assert!(container_capabilities(true, &names(&["BOGUS"]), &[]).is_err());
    }

    #[test]
    fn inheritable_and_ambient_are_empty() {
        let caps = linux_capabilities(&[Capability::Chown], 0);
        assert!(caps.inheritable().as_ref().unwrap().is_empty());
        assert!(caps.ambient().as_ref().unwrap().is_empty());
        assert_eq!(caps.bounding().as_ref().unwrap().len(), 1);
        assert_eq!(caps.effective().as_ref().unwrap().len(), 1);
    }

    #[test]
    fn non_root_users_keep_only_the_bounding_set() {
        let caps = linux_capabilities(&[Capability::Chown], 1000);
        assert_eq!(caps.bounding().as_ref().unwrap().len(), 1);
        assert!(caps.effective().as_ref().unwrap().is_empty());
        assert!(caps.permitted().as_ref().unwrap().is_empty());
    }

    proptest! {
        #[test]
        fn parser_never_panics(name in "\\PC{0,30}") {
            let _ = parse_cap_name(&name);
        }

        #[test]
        fn every_known_capability_round_trips(index in 0usize..41, lower in any::<bool>(), prefix in any::<bool>()) {
            prop_assume!(index < known().len());
            let cap = known()[index];
            let mut name = cap_name(cap);
            if !prefix { name = name.trim_start_matches("CAP_").to_owned(); }
            if lower { name = name.to_lowercase(); }
            prop_assert_eq!(parse_cap_name(&name).unwrap(), CapName::One(cap));
        }
    }
}
