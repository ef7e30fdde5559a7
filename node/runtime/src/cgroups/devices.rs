//! The device allow list (SECURITY.md #22): deny everything, then the spec's rules in order,
//! then the devices every container needs (null, zero, full, random, urandom, tty, console,
//! ptmx, pts, and mknod of any node). Defaults come last, as in runc, so a spec cannot lock the
//! container out of /dev/null.
//!
//! Berth keeps this list itself because libcgroups always appends its own defaults, which also
//! open /dev/net/tun. On v1 the list is written to devices.deny/allow after libcgroups; on v2
//! libcgroups' eBPF program builder compiles it and the program replaces libcgroups' own.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::path::Path;

use libcgroups::common::WrappedIoError;
use libcgroups::v2::devices::bpf::{prog, BpfError};
use libcgroups::v2::devices::emulator::Emulator;
use libcgroups::v2::devices::program::Program;
use oci_spec::runtime::{LinuxDeviceCgroup, LinuxDeviceType};

use super::CgroupError;

/// Any major or minor number.
const ANY: Option<i64> = None;

/// The devices every container may use: (type, major, minor, access).
const DEFAULT_ALLOWED: &[(LinuxDeviceType, Option<i64>, Option<i64>, &str)] = &[
    (LinuxDeviceType::C, ANY, ANY, "m"),
    (LinuxDeviceType::B, ANY, ANY, "m"),
    (LinuxDeviceType::C, Some(1), Some(3), "rwm"), // null
    (LinuxDeviceType::C, Some(1), Some(5), "rwm"), // zero
    (LinuxDeviceType::C, Some(1), Some(7), "rwm"), // full
    (LinuxDeviceType::C, Some(1), Some(8), "rwm"), // random
    (LinuxDeviceType::C, Some(1), Some(9), "rwm"), // urandom
    (LinuxDeviceType::C, Some(5), Some(0), "rwm"), // tty
    (LinuxDeviceType::C, Some(5), Some(1), "rwm"), // console
    (LinuxDeviceType::C, Some(5), Some(2), "rwm"), // ptmx
    (LinuxDeviceType::C, Some(136), ANY, "rwm"),   // pts
];

/// The full rule list for the container, spec rules checked and normalised.
pub(super) fn rules(spec: &[LinuxDeviceCgroup]) -> Result<Vec<LinuxDeviceCgroup>, CgroupError> {
    let deny_all = device_rule(false, LinuxDeviceType::A, ANY, ANY, "rwm");
    let defaults = DEFAULT_ALLOWED
        .iter()
        .map(|&(typ, major, minor, access)| device_rule(true, typ, major, minor, access));
    let spec = spec.iter().map(normalised).collect::<Result<Vec<_>, _>>()?;
    Ok(std::iter::once(deny_all)
        .chain(spec)
        .chain(defaults)
        .collect())
}

/// One device cgroup rule; `None` major or minor is the wildcard.
pub fn device_rule(
    allow: bool,
    typ: LinuxDeviceType,
    major: Option<i64>,
    minor: Option<i64>,
    access: &str,
) -> LinuxDeviceCgroup {
    let mut rule = LinuxDeviceCgroup::default();
    rule.set_allow(allow);
    rule.set_typ(Some(typ));
    rule.set_major(major);
    rule.set_minor(minor);
    rule.set_access(Some(access.to_owned()));
    rule
}

/// Checks a spec rule as runc does, and spells wildcards one way (`None`, never -1).
fn normalised(spec: &LinuxDeviceCgroup) -> Result<LinuxDeviceCgroup, CgroupError> {
    let invalid = |reason| CgroupError::InvalidDeviceRule {
        rule: spec.to_string(),
        reason,
    };
    let typ = spec.typ().unwrap_or(LinuxDeviceType::A);
    if !matches!(
        typ,
        LinuxDeviceType::A | LinuxDeviceType::B | LinuxDeviceType::C
    ) {
        return Err(invalid("the type must be a, b or c"));
    }
    let access = spec.access().as_deref().unwrap_or_default();
    if access.is_empty() || !access.chars().all(|c| matches!(c, 'r' | 'w' | 'm')) {
        return Err(invalid("the access must be a non-empty mix of r, w and m"));
    }
    let number = |n: Option<i64>| n.filter(|n| *n >= 0);
    Ok(device_rule(
        spec.allow(),
        typ,
        number(spec.major()),
        number(spec.minor()),
        access,
    ))
}

/// cgroup v1: replaces the devices cgroup's list with `rules` (the first denies everything,
/// which also clears whatever was there).
pub(super) fn apply_v1(dir: &Path, rules: &[LinuxDeviceCgroup]) -> Result<(), CgroupError> {
    let open = |name: &str| {
        let path = dir.join(name);
        OpenOptions::new()
            .write(true)
            .open(&path)
            .map_err(|err| WrappedIoError::Open { err, path })
    };
    let mut allow = open("devices.allow")?;
    let mut deny = open("devices.deny")?;
    for rule in rules {
        let (file, name) = if rule.allow() {
            (&mut allow, "devices.allow")
        } else {
            (&mut deny, "devices.deny")
        };
        // One write per rule: the kernel parses each write as one entry.
        let data = rule.to_string();
        file.write_all(data.as_bytes())
            .map_err(|err| WrappedIoError::Write {
                err,
                path: dir.join(name),
                data,
            })?;
    }
    Ok(())
}

/// cgroup v2: compiles `rules` into a device eBPF program and makes it the only one attached
/// to the cgroup at `dir`.
pub(super) fn apply_v2(dir: &Path, rules: &[LinuxDeviceCgroup]) -> Result<(), CgroupError> {
    let mut emulator = Emulator::with_default_allow(false);
    emulator.add_rules(rules);
    let program = Program::from_rules(&emulator.rules, emulator.default_allow)?;
    let program = load(program.bytecodes())?;

    let cgroup = File::open(dir).map_err(|err| WrappedIoError::Open {
        err,
        path: dir.to_path_buf(),
    })?;
    let bpf = |op: &'static str| move |source: BpfError| CgroupError::Bpf { op, source };
    let previous: Vec<OwnedFd> = prog::query(cgroup.as_raw_fd())
        .map_err(bpf("list the device programs of"))?
        .into_iter()
        .map(|info| owned(info.fd))
        .collect();
    prog::attach(program.as_raw_fd(), cgroup.as_raw_fd())
        .map_err(bpf("attach the device program to"))?;
    for old in &previous {
        prog::detach2(old.as_raw_fd(), cgroup.as_raw_fd())
            .map_err(bpf("detach an old device program from"))?;
    }
    Ok(())
}

/// Loads the program. Kernels before 5.11 charge BPF memory to RLIMIT_MEMLOCK, so on EPERM the
/// limit is raised once (as libcgroups does) and the load retried.
fn load(bytecode: &[u8]) -> Result<OwnedFd, CgroupError> {
    // libcgroups hands this pointer to the kernel as a C string, so it must end in NUL.
    const LICENSE: &str = "Apache-2.0\0";
    let fd = match prog::load(LICENSE, bytecode) {
        Err(BpfError::Errno(errno)) if errno.0 == libc::EPERM => {
            prog::bump_memlock_rlimit().map_err(|source| CgroupError::Bpf {
                op: "raise RLIMIT_MEMLOCK for",
                source,
            })?;
            prog::load(LICENSE, bytecode)
        }
        loaded => loaded,
    }
    .map_err(|source| CgroupError::Bpf {
        op: "load the device program for",
        source,
    })?;
    Ok(owned(fd))
}

fn owned(fd: RawFd) -> OwnedFd {
    // SAFETY: `fd` was just returned by bpf(2) through libcgroups (a loaded program, or one
    // opened by id in `query`); libcgroups keeps no copy, so this is its only owner.
    unsafe { OwnedFd::from_raw_fd(fd) }
}

#[cfg(test)]
mod tests {
    use oci_spec::runtime::LinuxDeviceCgroupBuilder;

    use super::*;

    fn spec_rule(typ: &str, major: i64, minor: i64, access: &str) -> LinuxDeviceCgroup {
        let rule = LinuxDeviceCgroupBuilder::default()
            .allow(true)
            .typ(typ.parse::<LinuxDeviceType>().unwrap())
            .major(major)
            .minor(minor);
        let rule = if access.is_empty() {
            rule
        } else {
            rule.access(access)
        };
        rule.build().unwrap()
    }

    #[test]
    fn the_list_denies_first_then_spec_then_defaults() {
        let fuse = spec_rule("c", 10, 229, "rw");
        let list: Vec<String> = rules(&[fuse])
            .unwrap()
            .iter()
            .map(|r| r.to_string())
            .collect();
        assert_eq!(list[0], "a *:* rwm");
        assert_eq!(list[1], "c 10:229 rw");
        assert_eq!(
            list[2..],
            [
                "c *:* m",
                "b *:* m",
                "c 1:3 rwm",
                "c 1:5 rwm",
                "c 1:7 rwm",
                "c 1:8 rwm",
                "c 1:9 rwm",
                "c 5:0 rwm",
                "c 5:1 rwm",
                "c 5:2 rwm",
                "c 136:* rwm",
            ]
        );
        assert!(
            !list.iter().any(|r| r.contains("10:200")),
            "no tun by default"
        );
    }

    #[test]
    fn negative_numbers_are_wildcards() {
        let list = rules(&[spec_rule("b", -1, -1, "r")]).unwrap();
        assert_eq!(list[1].to_string(), "b *:* r");
    }

    #[test]
    fn malformed_rules_are_refused() {
        for (rule, reason) in [
            (spec_rule("c", 1, 3, ""), "access"),
            (spec_rule("c", 1, 3, "rwx"), "access"),
            (spec_rule("p", 1, 3, "rw"), "type"),
            (spec_rule("u", 1, 3, "rw"), "type"),
        ] {
            let err = rules(&[rule]).unwrap_err().to_string();
            assert!(err.contains(reason), "{err}");
        }
    }
}
