//! The default `config.json` written by `spec`: runc's layout with Docker's security
//! defaults (SECURITY.md items 19 to 22).

use oci_spec::runtime::{
    Capability, LinuxCapabilitiesBuilder, LinuxDeviceCgroupBuilder, LinuxResourcesBuilder,
    PosixRlimitBuilder, PosixRlimitType, Spec,
};
use std::collections::HashSet;

use crate::error::{Result, RuntimeError};
use crate::seccomp::docker_default_profile;

/// Docker's default capability set.
pub const DEFAULT_CAPABILITIES: [Capability; 14] = [
    Capability::Chown,
    Capability::DacOverride,
    Capability::Fsetid,
    Capability::Fowner,
    Capability::Mknod,
    Capability::NetRaw,
    Capability::Setgid,
    Capability::Setuid,
    Capability::Setfcap,
    Capability::Setpcap,
    Capability::NetBindService,
    Capability::SysChroot,
    Capability::Kill,
    Capability::AuditWrite,
];

/// Paths hidden from an unprivileged container (SECURITY.md item 21): oci-spec's defaults
/// plus `/proc/interrupts` and `/sys/devices/virtual/powercap`.
pub const MASKED_PATHS: [&str; 12] = [
    "/proc/acpi",
    "/proc/asound",
    "/proc/kcore",
    "/proc/keys",
    "/proc/latency_stats",
    "/proc/timer_list",
    "/proc/timer_stats",
    "/proc/sched_debug",
    "/proc/scsi",
    "/proc/interrupts",
    "/sys/firmware",
    "/sys/devices/virtual/powercap",
];

/// Paths read-only in an unprivileged container (SECURITY.md item 21).
pub const READONLY_PATHS: [&str; 5] = [
    "/proc/bus",
    "/proc/fs",
    "/proc/irq",
    "/proc/sys",
    "/proc/sysrq-trigger",
];

/// The spec `berth-runtime spec` writes: `sh` in `rootfs/`, every namespace but user,
/// Docker's capabilities, masked paths and seccomp profile, and no_new_privs.
pub fn default_spec() -> Result<Spec> {
    let build_err = |e: oci_spec::OciSpecError| RuntimeError::InvalidConfig(e.to_string());
    let mut spec = Spec::default();
    spec.set_version(crate::OCI_VERSION.to_owned());
    spec.set_hostname(Some("berth".to_owned()));
    let caps: HashSet<Capability> = DEFAULT_CAPABILITIES.into_iter().collect();
    if let Some(process) = spec.process_mut() {
        process.set_terminal(Some(false));
        process.set_no_new_privileges(Some(true));
        process.set_capabilities(Some(
            LinuxCapabilitiesBuilder::default()
                .bounding(caps.clone())
                .effective(caps.clone())
                .permitted(caps.clone())
                // The builder would otherwise fill these from oci-spec's runc-like defaults.
                .inheritable(HashSet::new())
                .ambient(HashSet::new())
                .build()
                .map_err(build_err)?,
        ));
        process.set_rlimits(Some(vec![PosixRlimitBuilder::default()
            .typ(PosixRlimitType::RlimitNofile)
            .hard(1024u64)
            .soft(1024u64)
            .build()
            .map_err(build_err)?]));
    }
    if let Some(linux) = spec.linux_mut() {
        let mut masked = linux.masked_paths().clone().unwrap_or_default();
        // oci-spec's defaults first, then the ones of ours it lacks.
        for path in MASKED_PATHS {
            if !masked.iter().any(|m| m == path) {
                masked.push(path.to_owned());
            }
        }
        linux.set_masked_paths(Some(masked));
        let deny_all = LinuxDeviceCgroupBuilder::default()
            .allow(false)
            .access("rwm")
            .build()
            .map_err(build_err)?;
        linux.set_resources(Some(
            LinuxResourcesBuilder::default()
                .devices(vec![deny_all])
                .build()
                .map_err(build_err)?,
        ));
        let caps: Vec<Capability> = DEFAULT_CAPABILITIES.to_vec();
        linux.set_seccomp(Some(docker_default_profile(&caps)));
    }
    Ok(spec)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_spec_is_locked_down() {
        let spec = default_spec().unwrap();
        let process = spec.process().as_ref().unwrap();
        assert_eq!(process.no_new_privileges(), Some(true));
        let caps = process.capabilities().as_ref().unwrap();
        assert!(caps.inheritable().as_ref().is_none_or(|c| c.is_empty()));
        assert!(caps.ambient().as_ref().is_none_or(|c| c.is_empty()));
        assert!(!caps
            .bounding()
            .as_ref()
            .unwrap()
            .contains(&Capability::SysAdmin));
        let linux = spec.linux().as_ref().unwrap();
        let masked = linux.masked_paths().as_ref().unwrap();
        assert!(masked.iter().any(|p| p == "/proc/kcore"));
        assert!(masked.iter().any(|p| p == "/sys/devices/virtual/powercap"));
        assert!(linux.seccomp().is_some());
        // The written spec parses back.
        let json = serde_json::to_string(&spec).unwrap();
        let _: Spec = serde_json::from_str(&json).unwrap();
    }
}
