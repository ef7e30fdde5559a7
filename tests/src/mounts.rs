//! Reading `/proc/<pid>/mountinfo`, to prove that no mount leaks onto the host and to detach
//! whatever a broken runtime left under a test directory.

use std::fs;
use std::path::{Path, PathBuf};

use nix::mount::{umount2, MntFlags};

use crate::error::{FixtureError, Result};

/// One line of mountinfo.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MountEntry {
    /// The root of the mount within its filesystem.
    pub root: PathBuf,
    /// Where it is mounted, as seen by the reading process.
    pub mount_point: PathBuf,
    /// Per-mount options (`ro`, `nosuid`, ...).
    pub options: Vec<String>,
    /// The filesystem type (`proc`, `tmpfs`, `cgroup2`, ...).
    pub fs_type: String,
    /// The mount source (device or pseudo-name).
    pub source: String,
    /// Per-superblock options; for cgroup v1 they name the controllers (`rw,memory`).
    pub super_options: Vec<String>,
}

impl MountEntry {
    /// Whether the mount is read-only.
    pub fn is_read_only(&self) -> bool {
        self.options.iter().any(|o| o == "ro")
    }
}

/// Undoes the octal escapes (`\040` for a space) the kernel uses in mountinfo paths.
fn unescape(field: &str) -> String {
    let bytes = field.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let octal = bytes.get(i + 1..i + 4).and_then(|digits| {
            std::str::from_utf8(digits)
                .ok()
                .and_then(|d| u8::from_str_radix(d, 8).ok())
        });
        match (bytes[i], octal) {
            (b'\\', Some(byte)) => {
                out.push(byte);
                i += 4;
            }
            (byte, _) => {
                out.push(byte);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Parses one mountinfo line; `None` for a line that does not have mountinfo's shape.
fn parse_line(line: &str) -> Option<MountEntry> {
    let (left, right) = line.split_once(" - ")?;
    let left: Vec<&str> = left.split(' ').collect();
    let mut right = right.split(' ');
    Some(MountEntry {
        root: PathBuf::from(unescape(left.get(3)?)),
        mount_point: PathBuf::from(unescape(left.get(4)?)),
        options: left.get(5)?.split(',').map(str::to_owned).collect(),
        fs_type: right.next()?.to_owned(),
        source: unescape(right.next()?),
        super_options: right
            .next()
            .map(|o| o.split(',').map(str::to_owned).collect())
            .unwrap_or_default(),
    })
}

/// Parses mountinfo text, e.g. printed by `cat /proc/self/mountinfo` inside a container.
pub fn parse_mountinfo(text: &str) -> Vec<MountEntry> {
    text.lines().filter_map(parse_line).collect()
}

/// The mount table of `pid` (`"self"` for the caller).
pub fn mount_table(pid: &str) -> Result<Vec<MountEntry>> {
    let path = format!("/proc/{pid}/mountinfo");
    let text = fs::read_to_string(&path).map_err(FixtureError::io(format!("reading {path}")))?;
    Ok(parse_mountinfo(&text))
}

/// The caller's mounts at or below `dir`, deepest first.
pub fn mounts_under(dir: &Path) -> Result<Vec<MountEntry>> {
    let mut found: Vec<MountEntry> = mount_table("self")?
        .into_iter()
        .filter(|m| m.mount_point.starts_with(dir))
        .collect();
    found.sort_by_key(|m| std::cmp::Reverse(m.mount_point.components().count()));
    Ok(found)
}

/// The caller's mounts that involve `dir`: mounted at or below it, or bind mounts of it (or
/// of something inside it) elsewhere, recognised by `dir`'s unique final name in the mount's
/// root, since that root is relative to its own filesystem.
pub fn mounts_involving(dir: &Path) -> Result<Vec<MountEntry>> {
    let name = dir.file_name();
    Ok(mount_table("self")?
        .into_iter()
        .filter(|m| {
            m.mount_point.starts_with(dir) || name.is_some_and(|n| m.root.iter().any(|c| c == n))
        })
        .collect())
}

/// Lazily detaches every mount at or below `dir`, so that removing `dir` can never descend into
/// a host directory that a broken runtime bind-mounted there.
pub fn detach_mounts_under(dir: &Path) -> Result<()> {
    for mount in mounts_under(dir)? {
        umount2(&mount.mount_point, MntFlags::MNT_DETACH).map_err(FixtureError::sys(format!(
            "detaching leftover mount {}",
            mount.mount_point.display()
        )))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_a_line_with_optional_fields_and_escapes() {
        let line = "36 35 98:0 /mnt1 /mnt/my\\040dir rw,noatime master:1 shared:2 - ext3 /dev/root rw,errors=continue";
        let entry = parse_line(line).unwrap();
        assert_eq!(entry.root, PathBuf::from("/mnt1"));
        assert_eq!(entry.mount_point, PathBuf::from("/mnt/my dir"));
        assert_eq!(entry.options, vec!["rw", "noatime"]);
        assert_eq!(entry.fs_type, "ext3");
        assert_eq!(entry.source, "/dev/root");
        assert_eq!(entry.super_options, vec!["rw", "errors=continue"]);
        assert!(!entry.is_read_only());
    }

    #[test]
    fn rejects_a_line_without_separator() {
        assert_eq!(parse_line("36 35 98:0 / /x rw"), None);
    }

    #[test]
    fn finds_a_bind_mount_of_a_directory_elsewhere_and_detaches_it() {
        use nix::mount::{mount, MsFlags};
        let tmp = tempfile::tempdir().unwrap();
        let bundle = tmp.path().join("bundle-unique-name");
        let elsewhere = tmp.path().join("elsewhere");
        std::fs::create_dir_all(bundle.join("rootfs")).unwrap();
        std::fs::create_dir(&elsewhere).unwrap();
        mount(
            Some(&bundle.join("rootfs")),
            &elsewhere,
            None::<&str>,
            MsFlags::MS_BIND,
            None::<&str>,
        )
        .unwrap();
        let found = mounts_involving(&bundle).unwrap();
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].mount_point, elsewhere);
        detach_mounts_under(tmp.path()).unwrap();
        assert!(mounts_involving(&bundle).unwrap().is_empty());
    }

    #[test]
    fn own_mount_table_has_a_root() {
        let table = mount_table("self").unwrap();
        assert!(table.iter().any(|m| m.mount_point == Path::new("/")));
    }
}
