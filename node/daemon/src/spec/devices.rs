//! Devices: the device cgroup allow-list of unprivileged containers (SECURITY.md item 22; the
//! runtime creates the standard nodes itself) and, for `--privileged`, every host device.

use std::fs;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::Path;

use oci_spec::runtime::{LinuxDevice, LinuxDeviceCgroup, LinuxDeviceType};

use berth_runtime::cgroups::device_rule;

use super::SpecError;

/// Character devices every container may use: null, zero, full, random, urandom, tty,
/// console, ptmx, and every pts (minor `None`).
const ALLOWED_CHAR_DEVICES: [(i64, Option<i64>); 9] = [
    (1, Some(3)),
    (1, Some(5)),
    (1, Some(7)),
    (1, Some(8)),
    (1, Some(9)),
    (5, Some(0)),
    (5, Some(1)),
    (5, Some(2)),
    (136, None),
];

/// Host `/dev` directories that are per-container mounts or tooling state, not devices.
const SKIPPED_DIRS: [&str; 7] = ["pts", "shm", "fd", "mqueue", ".lxc", ".lxd-mounts", ".udev"];

/// The device cgroup rules: deny by default, then the allow-list plus mknod of anything
/// (creating a node is harmless when opening it is denied); or everything when privileged.
pub fn cgroup_rules(privileged: bool) -> Vec<LinuxDeviceCgroup> {
    if privileged {
        return vec![device_rule(true, LinuxDeviceType::A, None, None, "rwm")];
    }
    let mut rules = vec![
        device_rule(false, LinuxDeviceType::A, None, None, "rwm"),
        device_rule(true, LinuxDeviceType::C, None, None, "m"),
        device_rule(true, LinuxDeviceType::B, None, None, "m"),
    ];
    rules.extend(
        ALLOWED_CHAR_DEVICES.iter().map(|(major, minor)| {
            device_rule(true, LinuxDeviceType::C, Some(*major), *minor, "rwm")
        }),
    );
    rules
}

/// Every character and block device under the host's `/dev`, for privileged containers.
pub fn host_devices() -> Result<Vec<LinuxDevice>, SpecError> {
    let mut devices = Vec::new();
    collect_devices(Path::new("/dev"), &mut devices).map_err(|source| SpecError::Io {
        context: "listing host devices under /dev".into(),
        source,
    })?;
    devices.sort_by(|a, b| a.path().cmp(b.path()));
    Ok(devices)
}

fn collect_devices(dir: &Path, out: &mut Vec<LinuxDevice>) -> std::io::Result<()> {
    for entry in fs::read_dir(dir)? {
        // Devices come and go (udev); one that vanished while listing is simply not there.
        let Ok(entry) = entry else { continue };
        let Ok(meta) = entry.path().symlink_metadata() else {
            continue;
        };
        let name = entry.file_name();
        let file_type = meta.file_type();
        let typ = if file_type.is_dir() {
            if !SKIPPED_DIRS.iter().any(|skip| name == *skip) {
                collect_devices(&entry.path(), out)?;
            }
            continue;
        } else if file_type.is_char_device() {
            LinuxDeviceType::C
        } else if file_type.is_block_device() {
            LinuxDeviceType::B
        } else {
            continue;
        };
        // The container's console is its own pty, set up by the runtime.
        if name == "console" && dir == Path::new("/dev") {
            continue;
        }
        let mut device = LinuxDevice::default();
        device
            .set_path(entry.path())
            .set_typ(typ)
            .set_major(libc::major(meta.rdev()) as i64)
            .set_minor(libc::minor(meta.rdev()) as i64)
            .set_file_mode(Some(meta.mode() & 0o7777))
            .set_uid(Some(meta.uid()))
            .set_gid(Some(meta.gid()));
        out.push(device);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn allowed(rules: &[LinuxDeviceCgroup], major: i64, minor: i64) -> bool {
        // The last matching rule decides, as in the kernel's device cgroup.
        rules
            .iter()
            .rfind(|r| {
                matches!(r.typ(), Some(LinuxDeviceType::C | LinuxDeviceType::A))
                    && r.access().as_deref().is_some_and(|a| a.contains('r'))
                    && r.major().is_none_or(|m| m == major)
                    && r.minor().is_none_or(|m| m == minor)
            })
            .is_some_and(|r| r.allow())
    }

    #[test]
    fn unprivileged_allow_list() {
        let rules = cgroup_rules(false);
        assert!(!rules[0].allow(), "deny everything first");
        for (major, minor) in [
            (1, 3),
            (1, 5),
            (1, 7),
            (1, 8),
            (1, 9),
            (5, 0),
            (5, 1),
            (5, 2),
            (136, 4),
        ] {
            assert!(allowed(&rules, major, minor), "{major}:{minor}");
        }
        // fuse, kmsg, mem, a disk.
        for (major, minor) in [(10, 229), (1, 11), (1, 1), (8, 0)] {
            assert!(!allowed(&rules, major, minor), "{major}:{minor}");
        }
    }

    #[test]
    fn privileged_allows_everything() {
        let rules = cgroup_rules(true);
        assert_eq!(rules.len(), 1);
        assert!(allowed(&rules, 10, 229));
    }

    #[test]
    fn host_devices_include_null_and_skip_pts() {
        let devices = host_devices().unwrap();
        let null = devices
            .iter()
            .find(|d| d.path() == Path::new("/dev/null"))
            .unwrap();
        assert_eq!(
            (null.typ(), null.major(), null.minor()),
            (LinuxDeviceType::C, 1, 3)
        );
        assert!(devices.iter().all(|d| !d.path().starts_with("/dev/pts")));
        assert!(devices
            .iter()
            .all(|d| d.path() != Path::new("/dev/console")));
    }
}
