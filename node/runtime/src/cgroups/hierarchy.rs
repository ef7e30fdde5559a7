//! Where the cgroup filesystems are mounted, and where the runtime itself sits in them.
//!
//! Everything here is read once per command from `/proc/self/{mountinfo,cgroup}`; libcgroups'
//! own lookups re-read and re-verify mountinfo for every controller, which costs about 0.5 ms.

use std::ffi::OsString;
use std::os::unix::ffi::OsStringExt;
use std::path::{Path, PathBuf};

use libcgroups::common::{CgroupSetup, DEFAULT_CGROUP_ROOT};

use super::CgroupError;

/// The cgroup v1 controllers the kernel knows; a v1 mount carrying any of them is a hierarchy
/// the container may live in (named hierarchies such as `name=systemd` carry none).
const V1_CONTROLLERS: &[&str] = &[
    "cpu",
    "cpuacct",
    "cpuset",
    "memory",
    "devices",
    "freezer",
    "blkio",
    "pids",
    "hugetlb",
    "perf_event",
    "net_cls",
    "net_prio",
    "rdma",
    "misc",
];

/// The cgroup layout of the host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Hierarchy {
    /// cgroup v1 (legacy or hybrid): one mount per set of controllers.
    V1(Vec<V1Mount>),
    /// cgroup v2: one unified tree mounted at `root`.
    V2 { root: PathBuf },
}

/// One cgroup v1 hierarchy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct V1Mount {
    pub(super) path: PathBuf,
    pub(super) controllers: Vec<String>,
}

impl Hierarchy {
    /// Detects the host's layout. A hybrid host is driven through its v1 controllers, since
    /// its unified hierarchy has none.
    pub(super) fn detect() -> Result<Self, CgroupError> {
        match libcgroups::common::get_cgroup_setup()? {
            CgroupSetup::Unified => Ok(Self::V2 {
                root: PathBuf::from(DEFAULT_CGROUP_ROOT),
            }),
            CgroupSetup::Legacy | CgroupSetup::Hybrid => {
                let mounts = v1_mounts(&read_proc("/proc/self/mountinfo")?);
                if mounts.is_empty() {
                    return Err(CgroupError::NoHierarchy);
                }
                Ok(Self::V1(mounts))
            }
        }
    }

    /// The directory of cgroup `path` (absolute, relative to the cgroup root) in every
    /// hierarchy, in mount order.
    pub(super) fn dirs(&self, path: &Path) -> Vec<PathBuf> {
        let relative = path.strip_prefix("/").unwrap_or(path);
        match self {
            Self::V1(mounts) => mounts.iter().map(|m| m.path.join(relative)).collect(),
            Self::V2 { root } => vec![root.join(relative)],
        }
    }

    /// The directory of cgroup `path` in the hierarchy holding `controller` (on v2, the one
    /// unified directory), or `None` when no v1 hierarchy has that controller.
    pub(super) fn dir_of(&self, controller: &str, path: &Path) -> Option<PathBuf> {
        let relative = path.strip_prefix("/").unwrap_or(path);
        match self {
            Self::V1(mounts) => mounts
                .iter()
                .find(|m| m.controllers.iter().any(|c| c == controller))
                .map(|m| m.path.join(relative)),
            Self::V2 { root } => Some(root.join(relative)),
        }
    }

    /// The cgroup under which a relative `cgroupsPath` is placed: the runtime's own, as runc
    /// does. On v2 it is the parent of the runtime's cgroup, because a cgroup holding
    /// processes cannot enable controllers for its children. On v1 Berth keeps one path for
    /// every hierarchy so that the state file records a single path; it takes the runtime's
    /// cgroup from the unified (hybrid) or `name=systemd` line, or from the controller lines
    /// when they all agree. (runc instead nests per hierarchy.)
    pub(super) fn parent_for_relative(&self) -> Result<PathBuf, CgroupError> {
        own_cgroup_parent(self, &read_proc("/proc/self/cgroup")?)
    }
}

fn read_proc(path: &'static str) -> Result<String, CgroupError> {
    std::fs::read_to_string(path).map_err(|source| CgroupError::ReadProc { path, source })
}

/// Parses mountinfo into the cgroup v1 hierarchies, keeping the first mount of each.
fn v1_mounts(mountinfo: &str) -> Vec<V1Mount> {
    let mut mounts: Vec<V1Mount> = Vec::new();
    for line in mountinfo.lines() {
        // "id parent maj:min root mount-point options [optional...] - fstype source super-options"
        let Some((left, right)) = line.split_once(" - ") else {
            continue;
        };
        let mut right = right.split(' ');
        if right.next() != Some("cgroup") {
            continue;
        }
        let Some(super_options) = right.nth(1) else {
            continue;
        };
        let Some(mount_point) = left.split(' ').nth(4) else {
            continue;
        };
        let controllers: Vec<String> = super_options
            .split(',')
            .filter(|o| V1_CONTROLLERS.contains(o))
            .map(str::to_owned)
            .collect();
        let seen = controllers
            .iter()
            .any(|c| mounts.iter().any(|m| m.controllers.contains(c)));
        if !controllers.is_empty() && !seen {
            mounts.push(V1Mount {
                path: unescape_mountinfo(mount_point),
                controllers,
            });
        }
    }
    mounts
}

/// Undoes mountinfo's octal escapes (`\040` for a space and so on).
fn unescape_mountinfo(field: &str) -> PathBuf {
    let bytes = field.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let escaped = bytes
            .get(i + 1..i + 4)
            .filter(|d| bytes[i] == b'\\' && d.iter().all(|b| (b'0'..=b'7').contains(b)))
            .and_then(|d| {
                let value = d.iter().fold(0u32, |acc, b| acc * 8 + u32::from(b - b'0'));
                u8::try_from(value).ok()
            });
        match escaped {
            Some(byte) => {
                out.push(byte);
                i += 4;
            }
            None => {
                out.push(bytes[i]);
                i += 1;
            }
        }
    }
    PathBuf::from(OsString::from_vec(out))
}

/// See [`Hierarchy::parent_for_relative`]; `proc_cgroup` is the content of /proc/self/cgroup.
fn own_cgroup_parent(hierarchy: &Hierarchy, proc_cgroup: &str) -> Result<PathBuf, CgroupError> {
    // Each line is "hierarchy-id:controller,list:path".
    let entries: Vec<(&str, &str)> = proc_cgroup
        .lines()
        .filter_map(|l| {
            let (_, rest) = l.split_once(':')?;
            rest.split_once(':')
        })
        .collect();
    let unified = entries.iter().find(|(c, _)| c.is_empty()).map(|e| e.1);
    match hierarchy {
        Hierarchy::V2 { .. } => {
            let own = unified.ok_or_else(|| {
                CgroupError::NoParent("/proc/self/cgroup has no cgroup v2 entry".into())
            })?;
            Ok(Path::new(own).parent().unwrap_or(Path::new("/")).into())
        }
        Hierarchy::V1(mounts) => {
            let systemd = entries
                .iter()
                .find(|(c, _)| *c == "name=systemd")
                .map(|e| e.1);
            if let Some(own) = unified.or(systemd) {
                return Ok(own.into());
            }
            let mut controller_paths = entries
                .iter()
                .filter(|(list, _)| {
                    list.split(',')
                        .any(|c| mounts.iter().any(|m| m.controllers.iter().any(|x| x == c)))
                })
                .map(|e| e.1);
            let first = controller_paths.next().ok_or_else(|| {
                CgroupError::NoParent("/proc/self/cgroup lists no mounted controller".into())
            })?;
            if let Some(other) = controller_paths.find(|p| *p != first) {
                return Err(CgroupError::NoParent(format!(
                    "the runtime sits in different v1 cgroups ({first} and {other}); \
                     give an absolute cgroupsPath"
                )));
            }
            Ok(first.into())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HYBRID_MOUNTINFO: &str = "\
31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
32 31 0:29 / /sys/fs/cgroup/cpu,cpuacct rw,relatime shared:9 - cgroup cgroup rw,cpu,cpuacct
35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
36 31 0:33 / /sys/fs/cgroup/my\\040devices rw,relatime - cgroup cgroup rw,devices
40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,xattr,name=systemd
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
90 35 0:32 / /mnt/memory-again rw,relatime - cgroup cgroup rw,memory
";

    fn hybrid() -> Hierarchy {
        Hierarchy::V1(v1_mounts(HYBRID_MOUNTINFO))
    }

    #[test]
    fn v1_mounts_keep_controller_hierarchies_once() {
        let Hierarchy::V1(mounts) = hybrid() else {
            unreachable!()
        };
        let summary: Vec<(&Path, Vec<&str>)> = mounts
            .iter()
            .map(|m| {
                (
                    m.path.as_path(),
                    m.controllers.iter().map(String::as_str).collect(),
                )
            })
            .collect();
        assert_eq!(
            summary,
            vec![
                (
                    Path::new("/sys/fs/cgroup/cpu,cpuacct"),
                    vec!["cpu", "cpuacct"]
                ),
                (Path::new("/sys/fs/cgroup/memory"), vec!["memory"]),
                (Path::new("/sys/fs/cgroup/my devices"), vec!["devices"]),
            ]
        );
    }

    #[test]
    fn dirs_join_the_path_under_every_hierarchy() {
        let h = hybrid();
        let path = Path::new("/berth/c1");
        assert_eq!(
            h.dirs(path),
            vec![
                PathBuf::from("/sys/fs/cgroup/cpu,cpuacct/berth/c1"),
                PathBuf::from("/sys/fs/cgroup/memory/berth/c1"),
                PathBuf::from("/sys/fs/cgroup/my devices/berth/c1"),
            ]
        );
        assert_eq!(
            h.dir_of("cpuacct", path),
            Some(PathBuf::from("/sys/fs/cgroup/cpu,cpuacct/berth/c1"))
        );
        assert_eq!(h.dir_of("freezer", path), None);
        let v2 = Hierarchy::V2 {
            root: "/sys/fs/cgroup".into(),
        };
        assert_eq!(
            v2.dir_of("memory", path),
            Some(PathBuf::from("/sys/fs/cgroup/berth/c1"))
        );
    }

    #[test]
    fn relative_paths_go_under_the_parent_of_the_runtime_cgroup_on_v2() {
        let v2 = Hierarchy::V2 {
            root: "/sys/fs/cgroup".into(),
        };
        let parent = own_cgroup_parent(&v2, "0::/system.slice/berthd.service\n").unwrap();
        assert_eq!(parent, Path::new("/system.slice"));
        assert_eq!(own_cgroup_parent(&v2, "0::/\n").unwrap(), Path::new("/"));
        assert!(matches!(
            own_cgroup_parent(&v2, "4:memory:/x\n"),
            Err(CgroupError::NoParent(_))
        ));
    }

    #[test]
    fn relative_paths_on_v1_follow_the_unified_or_systemd_line_or_agreeing_controllers() {
        let h = hybrid();
        let hybrid_cgroup =
            "9:name=systemd:/user.slice/s1\n4:memory:/x\n1:cpu,cpuacct:/\n0::/user.slice/s2\n";
        assert_eq!(
            own_cgroup_parent(&h, hybrid_cgroup).unwrap(),
            Path::new("/user.slice/s2")
        );
        let legacy_systemd = "9:name=systemd:/user.slice/s1\n4:memory:/x\n";
        assert_eq!(
            own_cgroup_parent(&h, legacy_systemd).unwrap(),
            Path::new("/user.slice/s1")
        );
        let agreeing = "5:devices:/docker/abc\n4:memory:/docker/abc\n1:cpu,cpuacct:/docker/abc\n";
        assert_eq!(
            own_cgroup_parent(&h, agreeing).unwrap(),
            Path::new("/docker/abc")
        );
        let split = "4:memory:/x\n1:cpu,cpuacct:/y\n";
        let err = own_cgroup_parent(&h, split).unwrap_err().to_string();
        assert!(err.contains("absolute cgroupsPath"), "{err}");
    }
}
