//! The default `config.json` of the test bundles, built with oci-spec's builders: what
//! `runc spec` writes, hardened as SECURITY.md asks (Docker's bounding set, its masked and
//! read-only paths, no_new_privs) and with a unique cgroup.

use std::collections::HashSet;

use oci_spec::runtime::{
    get_default_mounts, Capability, LinuxBuilder, LinuxCapabilitiesBuilder,
    LinuxDeviceCgroupBuilder, LinuxNamespaceBuilder, LinuxNamespaceType, LinuxResourcesBuilder,
    PosixRlimitBuilder, PosixRlimitType, ProcessBuilder, RootBuilder, Spec, SpecBuilder,
    UserBuilder,
};

use crate::error::Result;

/// The OCI version written into the test specs.
pub const OCI_VERSION: &str = "1.0.2";

/// Docker's default bounding set (SECURITY.md item 19).
pub use berth_runtime::spec::DEFAULT_CAPABILITIES as DOCKER_CAPABILITIES;

/// The bitmask `/proc/self/status` shows for [`DOCKER_CAPABILITIES`] (bits 0, 1, 3, 4, 5, 6,
/// 7, 8, 10, 13, 18, 27, 29, 31).
pub const DOCKER_CAPABILITY_MASK: u64 = 0x0000_0000_a804_25fb;

/// Masked and read-only paths (SECURITY.md item 21).
pub use berth_runtime::spec::{MASKED_PATHS, READONLY_PATHS};

/// The namespaces every test container gets.
pub const NAMESPACES: [LinuxNamespaceType; 6] = [
    LinuxNamespaceType::Pid,
    LinuxNamespaceType::Network,
    LinuxNamespaceType::Ipc,
    LinuxNamespaceType::Uts,
    LinuxNamespaceType::Mount,
    LinuxNamespaceType::Cgroup,
];

/// The hostname of the default spec.
pub const DEFAULT_HOSTNAME: &str = "berth-test";

/// The runc-style default spec for a busybox bundle whose rootfs is `./rootfs`, running `sh`.
pub fn default_spec(cgroups_path: &str) -> Result<Spec> {
    let caps: HashSet<Capability> = DOCKER_CAPABILITIES.into_iter().collect();
    let mut capabilities = LinuxCapabilitiesBuilder::default()
        .bounding(caps.clone())
        .effective(caps.clone())
        .permitted(caps)
        .build()?;
    // The builder starts from oci-spec's Default, which fills the inheritable and ambient
    // sets; like `runc spec`, leave them out.
    capabilities.set_inheritable(None);
    capabilities.set_ambient(None);
    let process = ProcessBuilder::default()
        .terminal(false)
        .user(UserBuilder::default().uid(0u32).gid(0u32).build()?)
        .args(vec!["sh".to_owned()])
        .env(vec![
            "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin".to_owned(),
            "TERM=xterm".to_owned(),
        ])
        .cwd("/")
        .capabilities(capabilities)
        .rlimits(vec![PosixRlimitBuilder::default()
            .typ(PosixRlimitType::RlimitNofile)
            .hard(1024u64)
            .soft(1024u64)
            .build()?])
        .no_new_privileges(true)
        .build()?;

    let namespaces = NAMESPACES
        .into_iter()
        .map(|typ| LinuxNamespaceBuilder::default().typ(typ).build())
        .collect::<std::result::Result<Vec<_>, _>>()?;
    let deny_all_devices = LinuxDeviceCgroupBuilder::default()
        .allow(false)
        .access("rwm")
        .build()?;
    let linux = LinuxBuilder::default()
        .namespaces(namespaces)
        .cgroups_path(cgroups_path)
        .resources(
            LinuxResourcesBuilder::default()
                .devices(vec![deny_all_devices])
                .build()?,
        )
        .masked_paths(MASKED_PATHS.map(String::from).to_vec())
        .readonly_paths(READONLY_PATHS.map(String::from).to_vec())
        .build()?;

    Ok(SpecBuilder::default()
        .version(OCI_VERSION)
        .root(
            RootBuilder::default()
                .path("rootfs")
                .readonly(false)
                .build()?,
        )
        .process(process)
        .hostname(DEFAULT_HOSTNAME)
        // oci-spec's default mounts are runc's: proc, /dev tmpfs, devpts, shm, mqueue,
        // read-only sysfs and a read-only cgroup mount.
        .mounts(get_default_mounts())
        .linux(linux)
        .build()?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_spec_round_trips_through_json() {
        let spec = default_spec("/berth-test/x").unwrap();
        let json = serde_json::to_string(&spec).unwrap();
        let back: Spec = serde_json::from_str(&json).unwrap();
        assert_eq!(back, spec);
        let value: serde_json::Value = serde_json::from_str(&json).unwrap();
        assert_eq!(value["linux"]["cgroupsPath"], "/berth-test/x");
        assert_eq!(value["process"]["noNewPrivileges"], true);
        assert!(value["process"]["capabilities"]
            .get("inheritable")
            .is_none());
        assert_eq!(value["linux"]["namespaces"].as_array().unwrap().len(), 6);
    }
}
