//! The container's mounts: Docker's default set, the per-container `/etc/hosts`,
//! `/etc/hostname` and `/etc/resolv.conf`, then the user's bind and tmpfs mounts (checked:
//! absolute targets without `..`, never on procfs or sysfs (SECURITY.md item 23), no duplicates,
//! existing bind sources). A user mount replaces any default mount at or under its target.

use std::path::PathBuf;

use berth_proto::node::v1::{Mount as UserMount, MountType};
use oci_spec::runtime::Mount;

use super::paths::{clean_absolute, is_within};
use super::{HostFiles, SpecError};

/// Mount options that may appear in a user mount's option list whatever its type.
const FLAG_OPTIONS: [&str; 6] = ["nosuid", "suid", "nodev", "dev", "noexec", "exec"];
const PROPAGATIONS: [&str; 6] = [
    "private", "rprivate", "shared", "rshared", "slave", "rslave",
];
/// Filesystem trees no user mount may cover.
const FORBIDDEN_TARGETS: [&str; 2] = ["/proc", "/sys"];
/// tmpfs options carrying a value.
const TMPFS_VALUE_OPTIONS: [&str; 5] = ["size", "mode", "nr_inodes", "uid", "gid"];

/// The mounts and the rootfs propagation some of them need.
#[derive(Debug)]
pub struct MountPlan {
    pub mounts: Vec<Mount>,
    /// Set when a bind asks for shared or slave propagation, which the rootfs must allow.
    pub rootfs_propagation: Option<String>,
}

fn mount(destination: &str, typ: &str, source: &str, options: &[&str]) -> Mount {
    let mut m = Mount::default();
    m.set_destination(PathBuf::from(destination))
        .set_typ(Some(typ.to_owned()))
        .set_source(Some(PathBuf::from(source)))
        .set_options(Some(options.iter().map(|o| o.to_string()).collect()));
    m
}

/// Docker's defaults; `/sys` and the cgroup tree are writable only when privileged.
fn default_mounts(privileged: bool) -> Vec<Mount> {
    let ro = if privileged { "rw" } else { "ro" };
    vec![
        mount("/proc", "proc", "proc", &["nosuid", "noexec", "nodev"]),
        mount(
            "/dev",
            "tmpfs",
            "tmpfs",
            &["nosuid", "strictatime", "mode=755", "size=65536k"],
        ),
        mount(
            "/dev/pts",
            "devpts",
            "devpts",
            &[
                "nosuid",
                "noexec",
                "newinstance",
                "ptmxmode=0666",
                "mode=0620",
                "gid=5",
            ],
        ),
        mount("/sys", "sysfs", "sysfs", &["nosuid", "noexec", "nodev", ro]),
        mount(
            "/sys/fs/cgroup",
            "cgroup",
            "cgroup",
            &["nosuid", "noexec", "nodev", "relatime", ro],
        ),
        mount(
            "/dev/mqueue",
            "mqueue",
            "mqueue",
            &["nosuid", "noexec", "nodev"],
        ),
        mount(
            "/dev/shm",
            "tmpfs",
            "shm",
            &["nosuid", "noexec", "nodev", "mode=1777", "size=67108864"],
        ),
    ]
}

/// The per-container host files, bound read-write like Docker's (even with `--read-only`).
fn host_file_mounts(files: &HostFiles<'_>) -> Vec<Mount> {
    [
        ("/etc/hosts", files.hosts),
        ("/etc/hostname", files.hostname),
        ("/etc/resolv.conf", files.resolv_conf),
    ]
    .into_iter()
    .map(|(destination, source)| {
        let mut m = mount(destination, "bind", "", &["rbind", "rprivate"]);
        m.set_source(Some(source.to_path_buf()));
        m
    })
    .collect()
}

/// All mounts of the container, parents before children.
pub fn container_mounts(
    user: &[UserMount],
    files: &HostFiles<'_>,
    privileged: bool,
) -> Result<MountPlan, SpecError> {
    let mut rootfs_propagation = None;
    let mut targets: Vec<String> = Vec::new();
    let mut extra = Vec::new();
    for requested in user {
        let (converted, propagation) = user_mount(requested)?;
        let target = converted.destination().to_string_lossy().into_owned();
        if targets.contains(&target) {
            return Err(SpecError::Invalid(format!(
                "duplicate mount point: {target}"
            )));
        }
        rootfs_propagation = merge_propagation(rootfs_propagation, propagation);
        targets.push(target);
        extra.push(converted);
    }
    let covered = |m: &Mount| {
        let destination = m.destination().to_string_lossy();
        targets.iter().any(|t| is_within(&destination, t))
    };
    let mut mounts: Vec<Mount> = default_mounts(privileged)
        .into_iter()
        .filter(|m| !covered(m))
        .collect();
    let mut later: Vec<Mount> = host_file_mounts(files)
        .into_iter()
        .filter(|m| !covered(m))
        .chain(extra)
        .collect();
    // Stable: among equally deep targets the given order stays.
    later.sort_by_key(|m| m.destination().components().count());
    mounts.extend(later);
    Ok(MountPlan {
        mounts,
        rootfs_propagation,
    })
}

/// Shared wins over slave: the rootfs must propagate at least as much as any bind.
fn merge_propagation(current: Option<String>, bind: Option<&str>) -> Option<String> {
    let wanted = match bind {
        Some("shared" | "rshared") => "shared",
        Some("slave" | "rslave") => "rslave",
        _ => return current,
    };
    match current.as_deref() {
        Some("shared") => current,
        _ => Some(wanted.to_owned()),
    }
}

/// One user mount, and the propagation it asks for.
fn user_mount(m: &UserMount) -> Result<(Mount, Option<&str>), SpecError> {
    let target = clean_absolute(&m.target, "mount target")?;
    if target == "/" {
        return Err(SpecError::Invalid("mount target / is not allowed".into()));
    }
    if let Some(fs) = FORBIDDEN_TARGETS.iter().find(|fs| is_within(&target, fs)) {
        return Err(SpecError::Invalid(format!(
            "mount target {target} is not allowed: nothing may be mounted on {fs}"
        )));
    }
    match MountType::try_from(m.r#type) {
        Ok(MountType::Bind) => bind_mount(m, target),
        Ok(MountType::Tmpfs) => Ok((tmpfs_mount(m, target)?, None)),
        Ok(MountType::Volume) => Err(SpecError::Unsupported(
            "named volumes are not supported yet".into(),
        )),
        Ok(MountType::Unspecified) | Err(_) => Err(SpecError::Invalid(format!(
            "mount {target}: the mount type must be bind or tmpfs"
        ))),
    }
}

fn bind_mount(m: &UserMount, target: String) -> Result<(Mount, Option<&str>), SpecError> {
    if m.tmpfs_size != 0 || m.tmpfs_mode != 0 {
        return Err(SpecError::Invalid(format!(
            "mount {target}: tmpfs size and mode apply to tmpfs mounts only"
        )));
    }
    let source = clean_absolute(&m.source, "bind source")?;
    match std::fs::metadata(&source) {
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(SpecError::MissingBindSource(source))
        }
        Err(source_err) => {
            return Err(SpecError::Io {
                context: format!("checking bind source {source}"),
                source: source_err,
            })
        }
    }
    let mut recursive = "rbind";
    let mut propagation = None;
    let mut flags = Vec::new();
    let mut read_only = m.read_only;
    for option in &m.options {
        match option.as_str() {
            "bind" | "rbind" => recursive = if option == "bind" { "bind" } else { "rbind" },
            "ro" => read_only = true,
            "rw" if m.read_only => return Err(contradiction(&target)),
            "rw" => {}
            p if PROPAGATIONS.contains(&p) => {
                if propagation.replace(p).is_some() {
                    return Err(SpecError::Invalid(format!(
                        "mount {target}: more than one propagation option"
                    )));
                }
            }
            f if FLAG_OPTIONS.contains(&f) => flags.push(f),
            other => {
                return Err(SpecError::Invalid(format!(
                    "mount {target}: invalid bind mount option {other:?}"
                )))
            }
        }
    }
    let mut options = vec![recursive, propagation.unwrap_or("rprivate")];
    options.extend(flags);
    if read_only {
        options.push("ro");
    }
    let mut out = mount(&target, "bind", "", &options);
    out.set_source(Some(PathBuf::from(source)));
    Ok((out, propagation))
}

fn tmpfs_mount(m: &UserMount, target: String) -> Result<Mount, SpecError> {
    if !m.source.is_empty() {
        return Err(SpecError::Invalid(format!(
            "mount {target}: a tmpfs mount takes no source"
        )));
    }
    let mut options: Vec<String> = Vec::new();
    let mut set_flag = |name: &str, off: &str| {
        options.retain(|o| o != off);
        if !options.iter().any(|o| o == name) {
            options.push(name.to_owned());
        }
    };
    // Docker's defaults, which the options below may lift.
    for default in ["noexec", "nosuid", "nodev"] {
        set_flag(default, "");
    }
    let mut values: Vec<(String, String)> = Vec::new();
    if m.tmpfs_size < 0 {
        return Err(SpecError::Invalid(format!(
            "mount {target}: invalid tmpfs size {}",
            m.tmpfs_size
        )));
    }
    if m.tmpfs_size > 0 {
        values.push(("size".into(), m.tmpfs_size.to_string()));
    }
    if m.tmpfs_mode > 0o7777 {
        return Err(SpecError::Invalid(format!(
            "mount {target}: invalid tmpfs mode {:o}",
            m.tmpfs_mode
        )));
    }
    let mode = if m.tmpfs_mode == 0 {
        0o1777
    } else {
        m.tmpfs_mode
    };
    values.push(("mode".into(), format!("{mode:o}")));
    let mut read_only = m.read_only;
    for option in &m.options {
        let opposite = |flag: &str| match flag {
            "exec" => "noexec",
            "noexec" => "exec",
            "suid" => "nosuid",
            "nosuid" => "suid",
            "dev" => "nodev",
            _ => "dev",
        };
        match option.split_once('=') {
            None if FLAG_OPTIONS.contains(&option.as_str()) => {
                set_flag(option, opposite(option));
            }
            None if option == "ro" => read_only = true,
            None if option == "rw" && m.read_only => return Err(contradiction(&target)),
            None if option == "rw" => {}
            Some((key, value)) if TMPFS_VALUE_OPTIONS.contains(&key) => {
                tmpfs_value(&target, key, value)?;
                if key == "size" && m.tmpfs_size > 0 {
                    return Err(SpecError::Invalid(format!(
                        "mount {target}: the tmpfs size is given twice"
                    )));
                }
                values.retain(|(k, _)| k != key);
                values.push((key.to_owned(), value.to_owned()));
            }
            _ => {
                return Err(SpecError::Invalid(format!(
                    "mount {target}: invalid tmpfs option {option:?}"
                )))
            }
        }
    }
    options.extend(values.into_iter().map(|(k, v)| format!("{k}={v}")));
    if read_only {
        options.push("ro".into());
    }
    let refs: Vec<&str> = options.iter().map(String::as_str).collect();
    Ok(mount(&target, "tmpfs", "tmpfs", &refs))
}

fn contradiction(target: &str) -> SpecError {
    SpecError::Invalid(format!(
        "mount {target}: option rw contradicts the read-only setting"
    ))
}

/// `size=64m`, `mode=1700`, `nr_inodes=1k`, `uid=0`, `gid=0`: digits, with a unit suffix for
/// sizes; nothing that could smuggle another option in.
fn tmpfs_value(target: &str, key: &str, value: &str) -> Result<(), SpecError> {
    let ok = match key {
        "mode" => {
            !value.is_empty()
                && value.len() <= 4
                && value.bytes().all(|b| (b'0'..=b'7').contains(&b))
        }
        "uid" | "gid" => super::userdb::parse_id(value).is_some(),
        _ => {
            let digits = value.trim_end_matches(['k', 'K', 'm', 'M', 'g', 'G', '%']);
            !digits.is_empty()
                && digits.bytes().all(|b| b.is_ascii_digit())
                && value.len() - digits.len() <= 1
        }
    };
    if ok {
        Ok(())
    } else {
        Err(SpecError::Invalid(format!(
            "mount {target}: invalid tmpfs option {key}={value:?}"
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn files() -> HostFiles<'static> {
        HostFiles {
            hosts: Path::new("/run/c/hosts"),
            hostname: Path::new("/run/c/hostname"),
            resolv_conf: Path::new("/run/c/resolv.conf"),
        }
    }

    fn bind(source: &str, target: &str, options: &[&str]) -> UserMount {
        UserMount {
            r#type: MountType::Bind as i32,
            source: source.into(),
            target: target.into(),
            options: options.iter().map(|o| o.to_string()).collect(),
            ..Default::default()
        }
    }

    fn tmpfs(target: &str, size: i64, mode: u32, options: &[&str]) -> UserMount {
        UserMount {
            r#type: MountType::Tmpfs as i32,
            target: target.into(),
            tmpfs_size: size,
            tmpfs_mode: mode,
            options: options.iter().map(|o| o.to_string()).collect(),
            ..Default::default()
        }
    }

    fn plan(user: &[UserMount]) -> Result<MountPlan, SpecError> {
        container_mounts(user, &files(), false)
    }

    fn find<'a>(plan: &'a MountPlan, destination: &str) -> &'a Mount {
        plan.mounts
            .iter()
            .find(|m| m.destination() == Path::new(destination))
            .unwrap_or_else(|| panic!("no mount on {destination}"))
    }

    fn options(m: &Mount) -> Vec<&str> {
        m.options()
            .as_ref()
            .unwrap()
            .iter()
            .map(String::as_str)
            .collect()
    }

    #[test]
    fn defaults_and_host_files() {
        let plan = plan(&[]).unwrap();
        let destinations: Vec<_> = plan
            .mounts
            .iter()
            .map(|m| m.destination().to_string_lossy().into_owned())
            .collect();
        assert_eq!(
            destinations,
            [
                "/proc",
                "/dev",
                "/dev/pts",
                "/sys",
                "/sys/fs/cgroup",
                "/dev/mqueue",
                "/dev/shm",
                "/etc/hosts",
                "/etc/hostname",
                "/etc/resolv.conf"
            ]
        );
        assert!(options(find(&plan, "/sys")).contains(&"ro"));
        assert!(options(find(&plan, "/sys/fs/cgroup")).contains(&"ro"));
        assert!(options(find(&plan, "/dev/shm")).contains(&"size=67108864"));
        let hosts = find(&plan, "/etc/hosts");
        assert_eq!(hosts.source().as_deref(), Some(Path::new("/run/c/hosts")));
        assert!(!options(hosts).contains(&"ro"));
        assert!(plan.rootfs_propagation.is_none());
    }

    #[test]
    fn privileged_sys_is_writable() {
        let plan = container_mounts(&[], &files(), true).unwrap();
        assert!(!options(find(&plan, "/sys")).contains(&"ro"));
    }

    #[test]
    fn bind_mounts() {
        let dir = tempfile::tempdir().unwrap();
        let src = dir.path().to_str().unwrap();
        let plan = plan(&[bind(src, "/data/", &["rshared", "nosuid"])]).unwrap();
        let data = find(&plan, "/data");
        assert_eq!(data.typ().as_deref(), Some("bind"));
        assert_eq!(options(data), ["rbind", "rshared", "nosuid"]);
        assert_eq!(plan.rootfs_propagation.as_deref(), Some("shared"));

        let mut ro = bind(src, "/ro", &["bind"]);
        ro.read_only = true;
        let plan = super::container_mounts(&[ro], &files(), false).unwrap();
        assert_eq!(options(find(&plan, "/ro")), ["bind", "rprivate", "ro"]);
    }

    #[test]
    fn missing_bind_source() {
        let err = plan(&[bind("/nonexistent/berth-src", "/x", &[])]).unwrap_err();
        assert!(matches!(err, SpecError::MissingBindSource(_)));
        assert_eq!(
            err.to_string(),
            "invalid mount config: bind source path does not exist: /nonexistent/berth-src"
        );
    }

    #[test]
    fn bad_targets_and_sources() {
        let dir = tempfile::tempdir().unwrap();
        let src = dir.path().to_str().unwrap();
        for (m, message) in [
            (
                bind(src, "data", &[]),
                "mount target \"data\" is not an absolute path",
            ),
            (
                bind(src, "/a/../etc", &[]),
                "mount target \"/a/../etc\" must not contain '..'",
            ),
            (bind(src, "/", &[]), "mount target / is not allowed"),
            (
                bind(src, "/proc/sys", &[]),
                "mount target /proc/sys is not allowed: nothing may be mounted on /proc",
            ),
            (
                bind(src, "//sys", &[]),
                "mount target /sys is not allowed: nothing may be mounted on /sys",
            ),
            (
                bind("rel", "/x", &[]),
                "bind source \"rel\" is not an absolute path",
            ),
            (
                bind(src, "/x", &["z"]),
                "mount /x: invalid bind mount option \"z\"",
            ),
            (
                bind(src, "/x", &["shared", "slave"]),
                "mount /x: more than one propagation option",
            ),
            (
                UserMount {
                    r#type: MountType::Volume as i32,
                    source: "data".into(),
                    target: "/x".into(),
                    ..Default::default()
                },
                "named volumes are not supported yet",
            ),
            (
                UserMount {
                    target: "/x".into(),
                    ..Default::default()
                },
                "mount /x: the mount type must be bind or tmpfs",
            ),
        ] {
            assert_eq!(plan(&[m]).unwrap_err().to_string(), message);
        }
        // /procfs is not /proc.
        assert!(plan(&[bind(src, "/procfs", &[])]).is_ok());
    }

    #[test]
    fn duplicate_targets_are_rejected() {
        let err = plan(&[tmpfs("/t", 0, 0, &[]), tmpfs("/t/", 0, 0, &[])]).unwrap_err();
        assert_eq!(err.to_string(), "duplicate mount point: /t");
    }

    #[test]
    fn tmpfs_mounts() {
        let plan = plan(&[
            tmpfs("/run", 1 << 20, 0o700, &["exec"]),
            tmpfs("/cache", 0, 0, &["size=64m", "ro"]),
        ])
        .unwrap();
        assert_eq!(
            options(find(&plan, "/run")),
            ["nosuid", "nodev", "exec", "size=1048576", "mode=700"]
        );
        assert_eq!(
            options(find(&plan, "/cache")),
            ["noexec", "nosuid", "nodev", "mode=1777", "size=64m", "ro"]
        );
        for (m, message) in [
            (tmpfs("/t", -1, 0, &[]), "mount /t: invalid tmpfs size -1"),
            (
                tmpfs("/t", 0, 0o17777, &[]),
                "mount /t: invalid tmpfs mode 17777",
            ),
            (
                tmpfs("/t", 0, 0, &["size=1m,uid=0"]),
                "mount /t: invalid tmpfs option size=\"1m,uid=0\"",
            ),
            (
                tmpfs("/t", 0, 0, &["mode=888"]),
                "mount /t: invalid tmpfs option mode=\"888\"",
            ),
            (
                tmpfs("/t", 5, 0, &["size=1m"]),
                "mount /t: the tmpfs size is given twice",
            ),
            (
                tmpfs("/t", 0, 0, &["rbind"]),
                "mount /t: invalid tmpfs option \"rbind\"",
            ),
        ] {
            assert_eq!(
                super::container_mounts(&[m], &files(), false)
                    .unwrap_err()
                    .to_string(),
                message
            );
        }
        let mut ro = tmpfs("/t", 0, 0, &["rw"]);
        ro.read_only = true;
        assert_eq!(
            super::container_mounts(&[ro], &files(), false)
                .unwrap_err()
                .to_string(),
            "mount /t: option rw contradicts the read-only setting"
        );
        let mut sourced = tmpfs("/t", 0, 0, &[]);
        sourced.source = "/host".into();
        assert!(super::container_mounts(&[sourced], &files(), false).is_err());
    }

    #[test]
    fn user_mounts_replace_defaults_and_sort_by_depth() {
        let dir = tempfile::tempdir().unwrap();
        let src = dir.path().to_str().unwrap();
        let plan = plan(&[
            bind(src, "/etc/hosts", &[]),
            tmpfs("/dev/shm", 1 << 20, 0, &[]),
            bind(src, "/a/b", &[]),
            bind(src, "/a", &[]),
        ])
        .unwrap();
        let shm: Vec<_> = plan
            .mounts
            .iter()
            .filter(|m| m.destination() == Path::new("/dev/shm"))
            .collect();
        assert_eq!(shm.len(), 1);
        assert!(options(shm[0]).contains(&"size=1048576"));
        let hosts = find(&plan, "/etc/hosts");
        assert_eq!(hosts.source().as_deref(), Some(dir.path()));
        let position = |d: &str| {
            plan.mounts
                .iter()
                .position(|m| m.destination() == Path::new(d))
                .unwrap()
        };
        assert!(position("/a") < position("/a/b"));
        assert!(position("/a") < position("/etc/hostname"));

        // A user /dev drops every default below it.
        let plan = super::container_mounts(&[tmpfs("/dev", 0, 0, &[])], &files(), false).unwrap();
        let under_dev = plan
            .mounts
            .iter()
            .filter(|m| m.destination().starts_with("/dev"))
            .count();
        assert_eq!(under_dev, 1);
    }
}
