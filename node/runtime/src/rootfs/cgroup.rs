//! The `cgroup` mount type. The container is expected to have its own cgroup namespace, so a
//! fresh cgroup mount shows the container's cgroup as the root (SECURITY.md 21).
//!
//! - cgroup v2 host: one `cgroup2` mount.
//! - cgroup v1 or hybrid host: as runc does, a tmpfs at the destination and one `cgroup` mount
//!   per v1 hierarchy the host has under /sys/fs/cgroup, named like the host's directory
//!   (`cpu,cpuacct`), with a symlink per controller of a co-mounted hierarchy (`cpu`).
//!
//! `ro` makes every one of those mounts, the tmpfs included, read-only.

use std::collections::BTreeSet;
use std::ffi::OsStr;
use std::os::fd::{AsFd, AsRawFd};
use std::path::{Path, PathBuf};

use nix::errno::Errno;
use nix::mount::MsFlags;
use nix::sys::statfs::{self, CGROUP2_SUPER_MAGIC};
use nix::unistd;

use super::fdmount::{self, Source};
use super::mountinfo::{self, MountInfo};
use super::mounts::{after_mount, target};
use super::options::MountOptions;
use super::resolve::{Create, Last, Root};
use super::RootfsError;
use crate::sys;

/// Where the host's cgroup hierarchies are mounted.
const HOST_CGROUP_ROOT: &str = "/sys/fs/cgroup";

/// Flags runc uses for the v1 tmpfs and hierarchies.
const V1_FLAGS: MsFlags = MsFlags::MS_NOSUID
    .union(MsFlags::MS_NODEV)
    .union(MsFlags::MS_NOEXEC);

pub(crate) fn mount(root: &Root, dest: &Path, opts: &MountOptions) -> Result<(), RootfsError> {
    let host = statfs::statfs(HOST_CGROUP_ROOT)
        .map_err(|e| RootfsError::sys("inspecting the host cgroup mount", HOST_CGROUP_ROOT, e))?;
    if host.filesystem_type() == CGROUP2_SUPER_MAGIC {
        mount_v2(root, dest, opts)
    } else {
        mount_v1(root, dest, opts)
    }
}

fn mount_v2(root: &Root, dest: &Path, opts: &MountOptions) -> Result<(), RootfsError> {
    let target = target(root, dest, Create::Dir, Last::Follow)?;
    fdmount::mount_on(
        Source::Name(OsStr::new("cgroup2")),
        target.as_fd(),
        Some("cgroup2"),
        opts.flags,
        opts.data(),
    )
    .map_err(|errno| mount_error("cgroup2", dest, errno))?;
    after_mount(root, dest, opts, None)
}

fn mount_v1(root: &Root, dest: &Path, opts: &MountOptions) -> Result<(), RootfsError> {
    let mounts =
        mountinfo::read().map_err(|e| RootfsError::sys("reading", "/proc/self/mountinfo", e))?;
    let enabled = std::fs::read_to_string("/proc/cgroups")
        .map_err(|e| RootfsError::sys("reading", "/proc/cgroups", sys::io_errno(&e)))?;
    let hierarchies = v1_hierarchies(&mounts, &enabled_controllers(&enabled));

    let tmpfs = target(root, dest, Create::Dir, Last::Follow)?;
    fdmount::mount_on(
        Source::Name(OsStr::new("tmpfs")),
        tmpfs.as_fd(),
        Some("tmpfs"),
        V1_FLAGS,
        Some("mode=755"),
    )
    .map_err(|errno| mount_error("tmpfs for cgroup v1", dest, errno))?;
    let dir = target(root, dest, Create::Nothing, Last::Follow)?;

    let read_only = opts.flags & MsFlags::MS_RDONLY;
    for h in &hierarchies {
        let sub = dest.join(&h.dir);
        // Resolved through the new tmpfs, where nothing can be a symlink yet.
        let fd = root
            .resolve(&sub, Create::Dir, Last::NoFollow)
            .map_err(|cause| RootfsError::resolve("mount destination", &sub, cause))?;
        fdmount::mount_on(
            Source::Name(OsStr::new("cgroup")),
            fd.as_fd(),
            Some("cgroup"),
            V1_FLAGS | read_only,
            Some(&h.data),
        )
        .map_err(|errno| mount_error(&format!("cgroup ({})", h.data), &sub, errno))?;
        for alias in h.aliases() {
            match unistd::symlinkat(h.dir.as_str(), Some(dir.as_raw_fd()), alias) {
                Ok(()) | Err(Errno::EEXIST) => {}
                Err(e) => {
                    return Err(RootfsError::sys(
                        "creating cgroup link",
                        dest.join(alias),
                        e,
                    ))
                }
            }
        }
    }
    if !read_only.is_empty() {
        fdmount::remount_fd(dir.as_fd(), V1_FLAGS | MsFlags::MS_RDONLY).map_err(|errno| {
            RootfsError::Remount {
                what: "read-only cgroup tmpfs",
                dest: dest.to_path_buf(),
                errno,
            }
        })?;
    }
    after_mount(root, dest, opts, None)
}

/// A host cgroup v1 hierarchy.
#[derive(Debug, PartialEq, Eq)]
struct Hierarchy {
    /// Directory name under /sys/fs/cgroup, e.g. `cpu,cpuacct` or `systemd`.
    dir: String,
    /// Mount data selecting the hierarchy, e.g. `cpu,cpuacct` or `name=systemd`.
    data: String,
}

impl Hierarchy {
    /// The controllers of a co-mounted hierarchy, each of which gets a symlink to it.
    fn aliases(&self) -> impl Iterator<Item = &str> {
        let comounted = self.dir.contains(',');
        self.dir.split(',').filter(move |_| comounted)
    }
}

/// The v1 hierarchies mounted directly under the host's /sys/fs/cgroup, once each.
fn v1_hierarchies(mounts: &[MountInfo], enabled: &BTreeSet<String>) -> Vec<Hierarchy> {
    let mut seen = BTreeSet::new();
    mounts
        .iter()
        .filter(|m| {
            m.fs_type == "cgroup" && m.mount_point.parent() == Some(Path::new(HOST_CGROUP_ROOT))
        })
        .filter_map(|m| {
            let dir = m.mount_point.file_name()?.to_str()?.to_owned();
            let data: Vec<&str> = m
                .super_options
                .iter()
                .map(String::as_str)
                .filter(|o| enabled.contains(*o) || o.starts_with("name="))
                .collect();
            (!data.is_empty() && seen.insert(dir.clone())).then(|| Hierarchy {
                dir,
                data: data.join(","),
            })
        })
        .collect()
}

/// Controller names marked enabled in /proc/cgroups.
fn enabled_controllers(proc_cgroups: &str) -> BTreeSet<String> {
    proc_cgroups
        .lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| {
            let fields: Vec<&str> = l.split_whitespace().collect();
            (fields.get(3) == Some(&"1")).then(|| fields[0].to_owned())
        })
        .collect()
}

fn mount_error(what: &str, dest: &Path, errno: Errno) -> RootfsError {
    RootfsError::Mount {
        what: what.to_owned(),
        dest: PathBuf::from(dest),
        errno,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PROC_CGROUPS: &str = "\
#subsys_name\thierarchy\tnum_cgroups\tenabled
cpuset\t3\t2\t1
cpu\t1\t2\t1
cpuacct\t1\t2\t1
memory\t4\t38\t1
net_cls\t0\t2\t1
rdma\t0\t1\t0
";

    const MOUNTINFO: &str = "\
31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
32 31 0:29 / /sys/fs/cgroup/cpu,cpuacct rw,relatime - cgroup cgroup rw,cpu,cpuacct
33 31 0:31 / /sys/fs/cgroup/cpuset rw,relatime - cgroup cgroup rw,noprefix,cpuset,clone_children
34 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,xattr,name=systemd
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
42 27 0:32 / /srv/memory-again rw,relatime - cgroup cgroup rw,memory
43 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
";

    #[test]
    fn enabled_controllers_from_proc_cgroups() {
        let enabled = enabled_controllers(PROC_CGROUPS);
        assert!(enabled.contains("cpu") && enabled.contains("net_cls"));
        assert!(!enabled.contains("rdma") && !enabled.contains("#subsys_name"));
    }

    #[test]
    fn hierarchies_like_runc() {
        let found = v1_hierarchies(
            &mountinfo::parse(MOUNTINFO),
            &enabled_controllers(PROC_CGROUPS),
        );
        let pairs: Vec<(&str, &str)> = found
            .iter()
            .map(|h| (h.dir.as_str(), h.data.as_str()))
            .collect();
        assert_eq!(
            pairs,
            vec![
                ("cpu,cpuacct", "cpu,cpuacct"),
                ("cpuset", "cpuset"),
                ("memory", "memory"),
                ("systemd", "name=systemd"),
            ]
        );
        assert_eq!(
            found[0].aliases().collect::<Vec<_>>(),
            vec!["cpu", "cpuacct"]
        );
        assert_eq!(found[2].aliases().count(), 0);
    }
}
