//! Reading `/proc/self/mountinfo` (proc(5)), for the few decisions that depend on the mount
//! table: the rootfs's parent propagation, the host's cgroup v1 hierarchies, and the mounts to
//! hide before the `MS_MOVE` fallback.

use std::ffi::OsString;
use std::os::unix::ffi::OsStringExt;
use std::path::{Path, PathBuf};

use nix::errno::Errno;

/// One line of mountinfo (only the fields Berth uses).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct MountInfo {
    /// The path inside the filesystem that is mounted (`/` for a whole filesystem).
    pub root: PathBuf,
    pub mount_point: PathBuf,
    /// Optional fields such as `shared:1` or `master:2`.
    pub optional: Vec<String>,
    pub fs_type: String,
    pub super_options: Vec<String>,
}

impl MountInfo {
    pub(crate) fn is_shared(&self) -> bool {
        self.optional.iter().any(|f| f.starts_with("shared:"))
    }
}

/// Reads the calling process's mount table.
pub(crate) fn read() -> Result<Vec<MountInfo>, Errno> {
    let text =
        std::fs::read_to_string("/proc/self/mountinfo").map_err(|e| crate::sys::io_errno(&e))?;
    Ok(parse(&text))
}

/// Parses mountinfo text; malformed lines (never produced by the kernel) are skipped.
pub(crate) fn parse(text: &str) -> Vec<MountInfo> {
    text.lines().filter_map(parse_line).collect()
}

fn parse_line(line: &str) -> Option<MountInfo> {
    let fields: Vec<&str> = line.split(' ').collect();
    let separator = fields.iter().position(|f| *f == "-")?;
    if separator < 6 || fields.len() < separator + 4 {
        return None;
    }
    Some(MountInfo {
        root: unescape(fields[3]),
        mount_point: unescape(fields[4]),
        optional: fields[6..separator].iter().map(|s| s.to_string()).collect(),
        fs_type: fields[separator + 1].to_owned(),
        super_options: fields[separator + 3]
            .split(',')
            .map(str::to_owned)
            .collect(),
    })
}

/// Undoes the kernel's octal escaping of space, tab, newline and backslash (`\040` etc.).
fn unescape(field: &str) -> PathBuf {
    let bytes = field.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let octal = bytes
            .get(i + 1..i + 4)
            .filter(|d| bytes[i] == b'\\' && d.iter().all(|c| (b'0'..=b'7').contains(c)));
        match octal {
            Some(d) => {
                out.push(
                    d.iter()
                        .fold(0u8, |acc, c| acc.wrapping_mul(8) + (c - b'0')),
                );
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

/// The mount that contains `path`: the last-listed mount whose mount point is the longest
/// prefix of it (later entries are mounted on top of earlier ones).
pub(crate) fn containing<'a>(mounts: &'a [MountInfo], path: &Path) -> Option<&'a MountInfo> {
    mounts
        .iter()
        .filter(|m| path.starts_with(&m.mount_point))
        .max_by_key(|m| m.mount_point.components().count())
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = "\
22 27 0:21 / /proc rw,relatime - proc proc rw
27 1 254:0 / / rw,relatime shared:1 - ext4 /dev/vda rw,discard
31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime master:5 - cgroup cgroup rw,name=systemd
50 27 254:0 /srv/a\\040b /mnt/with\\040space rw shared:7 master:2 - ext4 /dev/vda rw
51 27 0:40 / /mnt rw - tmpfs tmpfs rw
52 27 0:41 / /mnt rw - tmpfs tmpfs rw
garbage line
";

    proptest::proptest! {
        /// mountinfo text from the kernel is trusted, but the parser must still never panic.
        #[test]
        fn never_panics(text in "\\PC{0,300}") {
            let _ = parse(&text);
        }
    }

    #[test]
    fn parses_fields_and_escapes() {
        let mounts = parse(SAMPLE);
        assert_eq!(mounts.len(), 7);
        let m = &mounts[4];
        assert_eq!(m.root, Path::new("/srv/a b"));
        assert_eq!(m.mount_point, Path::new("/mnt/with space"));
        assert_eq!(m.optional, vec!["shared:7", "master:2"]);
        assert!(m.is_shared());
        assert_eq!(mounts[3].fs_type, "cgroup");
        assert_eq!(mounts[3].super_options, vec!["rw", "name=systemd"]);
        assert!(!mounts[3].is_shared());
        assert_eq!(unescape("a\\134b\\011"), Path::new("a\\b\t"));
        assert_eq!(unescape("trailing\\04"), Path::new("trailing\\04"));
    }

    #[test]
    fn containing_mount_is_longest_and_topmost() {
        let mounts = parse(SAMPLE);
        let m = containing(&mounts, Path::new("/sys/fs/cgroup/systemd/x")).unwrap();
        assert_eq!(m.mount_point, Path::new("/sys/fs/cgroup/systemd"));
        assert_eq!(
            containing(&mounts, Path::new("/var/lib")).unwrap().fs_type,
            "ext4"
        );
        // Two mounts on /mnt: the later one is on top.
        let top = containing(&mounts, Path::new("/mnt/x")).unwrap();
        assert_eq!(top.super_options, vec!["rw"]);
        assert!(std::ptr::eq(top, &mounts[6]));
    }

    #[test]
    fn reads_own_mount_table() {
        let mounts = read().unwrap();
        assert!(containing(&mounts, Path::new("/")).is_some());
    }
}
