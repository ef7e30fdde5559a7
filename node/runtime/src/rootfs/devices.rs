//! Device nodes and the standard `/dev` links, created in-root.

use std::os::fd::{AsFd, AsRawFd, BorrowedFd};
use std::path::{Path, PathBuf};

use nix::errno::Errno;
use nix::fcntl::{AtFlags, OFlag};
use nix::sys::stat::{self, Mode, SFlag};
use nix::unistd::{self, Gid, Uid, UnlinkatFlags};
use oci_spec::runtime::{LinuxDevice, LinuxDeviceType, Mount};

use super::fdmount;
use super::options::MountOptions;
use super::resolve::{Create, Last, Root};
use super::RootfsError;
use crate::sys;

/// The devices every container gets (runtime-spec "Default Devices"), as (path, major, minor).
const DEFAULT_DEVICES: [(&str, u64, u64); 6] = [
    ("/dev/null", 1, 3),
    ("/dev/zero", 1, 5),
    ("/dev/full", 1, 7),
    ("/dev/random", 1, 8),
    ("/dev/urandom", 1, 9),
    ("/dev/tty", 5, 0),
];

/// The `/dev` symlinks every container gets, as (target, name in /dev).
const DEV_LINKS: [(&str, &str); 4] = [
    ("/proc/self/fd", "fd"),
    ("/proc/self/fd/0", "stdin"),
    ("/proc/self/fd/1", "stdout"),
    ("/proc/self/fd/2", "stderr"),
];

/// Whether Berth must populate `/dev`: not when the spec bind-mounts a whole `/dev`.
pub(crate) fn needs_dev_setup(mounts: &[Mount]) -> bool {
    !mounts.iter().any(|m| {
        let is_bind = m.typ().as_deref() == Some("bind")
            || m.options()
                .as_deref()
                .is_some_and(|o| MountOptions::parse(o).is_ok_and(|o| o.is_bind()));
        is_bind
            && m.destination()
                .components()
                .eq(Path::new("/dev").components())
    })
}

/// One node to create.
#[derive(Debug, PartialEq, Eq)]
struct Node {
    path: PathBuf,
    kind: SFlag,
    major: u64,
    minor: u64,
    perm: Mode,
    uid: u32,
    gid: u32,
}

impl Node {
    fn from_spec(d: &LinuxDevice) -> Result<Self, RootfsError> {
        let invalid = |reason: &str| RootfsError::InvalidDevice {
            path: d.path().clone(),
            reason: reason.to_owned(),
        };
        let kind = match d.typ() {
            LinuxDeviceType::C | LinuxDeviceType::U => SFlag::S_IFCHR,
            LinuxDeviceType::B => SFlag::S_IFBLK,
            LinuxDeviceType::P => SFlag::S_IFIFO,
            LinuxDeviceType::A => return Err(invalid("type \"a\" names no single device node")),
        };
        let number = |n: i64| u64::try_from(n).map_err(|_| invalid("negative device number"));
        Ok(Node {
            path: d.path().clone(),
            kind,
            major: number(d.major())?,
            minor: number(d.minor())?,
            perm: Mode::from_bits_truncate(d.file_mode().unwrap_or(0o666)),
            uid: d.uid().unwrap_or(0),
            gid: d.gid().unwrap_or(0),
        })
    }

    fn default_device((path, major, minor): (&str, u64, u64)) -> Self {
        Node {
            path: PathBuf::from(path),
            kind: SFlag::S_IFCHR,
            major,
            minor,
            perm: Mode::from_bits_truncate(0o666),
            uid: 0,
            gid: 0,
        }
    }
}

/// Creates `linux.devices` and then the default devices the spec does not already list.
pub(crate) fn create_devices(root: &Root, spec_devices: &[LinuxDevice]) -> Result<(), RootfsError> {
    let mut nodes = spec_devices
        .iter()
        .map(Node::from_spec)
        .collect::<Result<Vec<_>, _>>()?;
    for default in DEFAULT_DEVICES {
        if !nodes.iter().any(|n| n.path == Path::new(default.0)) {
            nodes.push(Node::default_device(default));
        }
    }
    nodes.iter().try_for_each(|n| create_node(root, n))
}

/// mknod in-root; an existing entry is left alone (the image or a bind provides it). Where
/// mknod is not permitted (in a user namespace) the host's node is bind-mounted instead.
fn create_node(root: &Root, node: &Node) -> Result<(), RootfsError> {
    let fail = |step| {
        move |errno| RootfsError::Device {
            path: node.path.clone(),
            step,
            errno,
        }
    };
    let (dir, name) = root
        .parent_of(&node.path)
        .map_err(|cause| RootfsError::resolve("device", &node.path, cause))?;
    // The spec's fileMode is exact, so the umask must not apply.
    let umask = stat::umask(Mode::empty());
    let made = stat::mknodat(
        Some(dir.as_raw_fd()),
        name.as_os_str(),
        node.kind,
        node.perm,
        stat::makedev(node.major, node.minor),
    );
    stat::umask(umask);
    match made {
        Ok(()) => unistd::fchownat(
            Some(dir.as_raw_fd()),
            name.as_os_str(),
            Some(Uid::from_raw(node.uid)),
            Some(Gid::from_raw(node.gid)),
            AtFlags::AT_SYMLINK_NOFOLLOW,
        )
        .map_err(fail("chown")),
        Err(Errno::EEXIST) => Ok(()),
        Err(Errno::EPERM) if node.kind != SFlag::S_IFIFO => {
            bind_host_node(dir.as_fd(), &name, node)
        }
        Err(errno) => Err(fail("mknod")(errno)),
    }
}

/// Bind-mounts the host's node at the same path over an empty file, after checking that the
/// host node is the device the spec asks for.
fn bind_host_node(
    dir: BorrowedFd<'_>,
    name: &std::ffi::OsStr,
    node: &Node,
) -> Result<(), RootfsError> {
    let fail = |step| {
        move |errno| RootfsError::Device {
            path: node.path.clone(),
            step,
            errno,
        }
    };
    let host =
        sys::open_host(&node.path, OFlag::empty()).map_err(fail("opening the host device"))?;
    let st = sys::fstat(host.as_fd()).map_err(fail("inspecting the host device"))?;
    let host_kind = SFlag::from_bits_truncate(st.st_mode & SFlag::S_IFMT.bits());
    if host_kind != node.kind
        || (stat::major(st.st_rdev), stat::minor(st.st_rdev)) != (node.major, node.minor)
    {
        return Err(RootfsError::InvalidDevice {
            path: node.path.clone(),
            reason: "mknod is not permitted and the host's node at that path is a different device"
                .to_owned(),
        });
    }
    let created = sys::open_at(
        dir,
        name,
        OFlag::O_CREAT | OFlag::O_EXCL | OFlag::O_WRONLY | OFlag::O_NOFOLLOW,
        Mode::empty(),
    );
    match created {
        Ok(_) | Err(Errno::EEXIST) => {}
        Err(errno) => return Err(fail("creating the bind target")(errno)),
    }
    let target = sys::open_at(dir, name, OFlag::O_PATH | OFlag::O_NOFOLLOW, Mode::empty())
        .map_err(fail("opening the bind target"))?;
    if sys::file_type(target.as_fd()).map_err(fail("inspecting the bind target"))? != SFlag::S_IFREG
    {
        return Err(RootfsError::InvalidDevice {
            path: node.path.clone(),
            reason: "the bind target exists and is not a regular file".to_owned(),
        });
    }
    fdmount::bind(host.as_fd(), target.as_fd(), false).map_err(|errno| RootfsError::Mount {
        what: format!("host device {}", node.path.display()),
        dest: node.path.clone(),
        errno,
    })
}

/// Creates `/dev/fd`, `/dev/std{in,out,err}`, `/dev/core` (when the kernel has /proc/kcore)
/// and makes `/dev/ptmx` point at the container's own devpts instance.
pub(crate) fn create_links(root: &Root) -> Result<(), RootfsError> {
    let dev = root
        .resolve(Path::new("/dev"), Create::Dir, Last::Follow)
        .map_err(|cause| RootfsError::resolve("directory", "/dev", cause))?;
    let kcore = Path::new("/proc/kcore")
        .exists()
        .then_some(("/proc/kcore", "core"));
    for (target, name) in DEV_LINKS.into_iter().chain(kcore) {
        match unistd::symlinkat(target, Some(dev.as_raw_fd()), name) {
            Ok(()) | Err(Errno::EEXIST) => {}
            Err(e) => {
                return Err(RootfsError::sys(
                    "creating link",
                    Path::new("/dev").join(name),
                    e,
                ))
            }
        }
    }
    match unistd::unlinkat(Some(dev.as_raw_fd()), "ptmx", UnlinkatFlags::NoRemoveDir) {
        Ok(()) | Err(Errno::ENOENT) => {}
        Err(e) => return Err(RootfsError::sys("removing", "/dev/ptmx", e)),
    }
    unistd::symlinkat("pts/ptmx", Some(dev.as_raw_fd()), "ptmx")
        .map_err(|e| RootfsError::sys("creating link", "/dev/ptmx", e))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn device(json: &str) -> LinuxDevice {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn spec_devices_convert() {
        let n = Node::from_spec(&device(
            r#"{"path":"/dev/fuse","type":"c","major":10,"minor":229,"fileMode":384,"uid":1,"gid":2}"#,
        ))
        .unwrap();
        assert_eq!(
            n,
            Node {
                path: PathBuf::from("/dev/fuse"),
                kind: SFlag::S_IFCHR,
                major: 10,
                minor: 229,
                perm: Mode::from_bits_truncate(0o600),
                uid: 1,
                gid: 2,
            }
        );
        let fifo = Node::from_spec(&device(r#"{"path":"/dev/f","type":"p"}"#)).unwrap();
        assert_eq!((fifo.kind, fifo.perm.bits()), (SFlag::S_IFIFO, 0o666));
        let err = Node::from_spec(&device(r#"{"path":"/dev/x","type":"a"}"#)).unwrap_err();
        assert!(
            err.to_string().starts_with("device /dev/x: type \"a\""),
            "{err}"
        );
        let err =
            Node::from_spec(&device(r#"{"path":"/dev/x","type":"b","major":-1}"#)).unwrap_err();
        assert!(err.to_string().contains("negative"), "{err}");
    }

    #[test]
    fn dev_setup_skipped_only_for_a_bind_of_dev() {
        let mounts = |json: &str| -> Vec<Mount> { serde_json::from_str(json).unwrap() };
        assert!(needs_dev_setup(&mounts(
            r#"[{"destination":"/dev","type":"tmpfs","source":"tmpfs"}]"#
        )));
        assert!(!needs_dev_setup(&mounts(
            r#"[{"destination":"/dev/","type":"none","source":"/dev","options":["rbind"]}]"#
        )));
        assert!(!needs_dev_setup(&mounts(
            r#"[{"destination":"/dev","type":"bind","source":"/dev"}]"#
        )));
    }
}
