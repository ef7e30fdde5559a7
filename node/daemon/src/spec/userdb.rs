//! The container's user database (`/etc/passwd`, `/etc/group`), read in-root with a size cap
//! (SECURITY.md item 11): an image's `/etc/passwd -> /host/file` symlink resolves inside the
//! rootfs, a FIFO or device cannot block or flood the daemon, and malformed lines are skipped
//! rather than read as id 0.

use std::fs::File;
use std::io::Read;
use std::path::Path;

use pathrs::error::ErrorKind;
use pathrs::flags::OpenFlags;
use pathrs::Root;

use super::SpecError;

/// The largest id accepted anywhere (runc's and Docker's bound).
pub const MAX_ID: u32 = i32::MAX as u32;

/// The most bytes read from either file.
const MAX_FILE_BYTES: u64 = 1 << 20;

/// One `/etc/passwd` line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PasswdEntry {
    pub name: String,
    pub uid: u32,
    pub gid: u32,
    pub home: String,
}

/// One `/etc/group` line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupEntry {
    pub name: String,
    pub gid: u32,
    pub members: Vec<String>,
}

/// Both files of one rootfs; a missing file reads as empty.
#[derive(Debug, Default)]
pub struct UserDb {
    pub passwd: Vec<PasswdEntry>,
    pub groups: Vec<GroupEntry>,
}

impl UserDb {
    /// Reads `/etc/passwd` and `/etc/group` inside `rootfs`.
    pub fn load(rootfs: &Path) -> Result<Self, SpecError> {
        let root = Root::open(rootfs).map_err(|e| SpecError::Io {
            context: format!("opening rootfs {}", rootfs.display()),
            source: std::io::Error::other(e),
        })?;
        Ok(UserDb {
            passwd: read_in_root(&root, "/etc/passwd")?
                .map(|text| parse_passwd(&text))
                .unwrap_or_default(),
            groups: read_in_root(&root, "/etc/group")?
                .map(|text| parse_group(&text))
                .unwrap_or_default(),
        })
    }

    pub fn user_by_name(&self, name: &str) -> Option<&PasswdEntry> {
        self.passwd.iter().find(|e| e.name == name)
    }

    pub fn user_by_uid(&self, uid: u32) -> Option<&PasswdEntry> {
        self.passwd.iter().find(|e| e.uid == uid)
    }

    pub fn group_by_name(&self, name: &str) -> Option<&GroupEntry> {
        self.groups.iter().find(|e| e.name == name)
    }

    /// The gids of the groups listing `user` as a member, in file order, without repeats.
    pub fn supplementary_gids(&self, user: &str) -> Vec<u32> {
        let mut gids = Vec::new();
        for group in &self.groups {
            if group.members.iter().any(|m| m == user) && !gids.contains(&group.gid) {
                gids.push(group.gid);
            }
        }
        gids
    }
}

/// The text of `path` in `root`, or `None` when it does not exist.
fn read_in_root(root: &Root, path: &str) -> Result<Option<String>, SpecError> {
    let io_err = |source| SpecError::Io {
        context: format!("reading {path} in the container"),
        source,
    };
    // O_NONBLOCK: opening a FIFO must not wait for a writer; it is refused below anyway.
    let flags = OpenFlags::O_RDONLY | OpenFlags::O_NONBLOCK | OpenFlags::O_CLOEXEC;
    let file: File = match root.open_subpath(path, flags) {
        Ok(file) => file,
        Err(e) if e.kind() == ErrorKind::OsError(Some(libc::ENOENT)) => return Ok(None),
        Err(e) => return Err(io_err(std::io::Error::other(e))),
    };
    if !file.metadata().map_err(io_err)?.is_file() {
        return Err(SpecError::Invalid(format!(
            "{path} in the container is not a regular file"
        )));
    }
    let mut bytes = Vec::new();
    file.take(MAX_FILE_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(io_err)?;
    if bytes.len() as u64 > MAX_FILE_BYTES {
        return Err(SpecError::Invalid(format!(
            "{path} in the container is larger than {MAX_FILE_BYTES} bytes"
        )));
    }
    Ok(Some(String::from_utf8_lossy(&bytes).into_owned()))
}

/// Parses an id field; anything but a plain decimal within range is no id at all.
pub fn parse_id(field: &str) -> Option<u32> {
    if field.is_empty() || !field.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    field.parse::<u32>().ok().filter(|id| *id <= MAX_ID)
}

/// Meaningful lines split on `:`; comments, blanks and NIS `+`/`-` lines are skipped.
fn records(text: &str) -> impl Iterator<Item = Vec<&str>> {
    text.lines()
        .map(str::trim)
        .filter(|line| !line.is_empty() && !line.starts_with(['#', '+', '-']))
        .map(|line| line.split(':').collect())
}

pub fn parse_passwd(text: &str) -> Vec<PasswdEntry> {
    records(text)
        .filter_map(|fields| {
            let [name, _password, uid, gid, _gecos, home, ..] = fields.as_slice() else {
                return None;
            };
            Some(PasswdEntry {
                name: (*name).to_owned(),
                uid: parse_id(uid)?,
                gid: parse_id(gid)?,
                home: (*home).to_owned(),
            })
        })
        .filter(|entry| !entry.name.is_empty())
        .collect()
}

pub fn parse_group(text: &str) -> Vec<GroupEntry> {
    records(text)
        .filter_map(|fields| {
            let [name, _password, gid, rest @ ..] = fields.as_slice() else {
                return None;
            };
            let members = rest.first().map_or_else(Vec::new, |list| {
                list.split(',')
                    .map(str::trim)
                    .filter(|m| !m.is_empty())
                    .map(str::to_owned)
                    .collect()
            });
            Some(GroupEntry {
                name: (*name).to_owned(),
                gid: parse_id(gid)?,
                members,
            })
        })
        .filter(|entry| !entry.name.is_empty())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    #[test]
    fn parses_passwd_skipping_malformed_lines() {
        let text = "root:x:0:0:root:/root:/bin/sh\n\
                    # comment\n\
                    \n\
                    +nis\n\
                    bad:x:abc:0::/bad:/bin/sh\n\
                    neg:x:-1:0::/neg:/bin/sh\n\
                    big:x:4294967296:0::/big:/bin/sh\n\
                    short:x:5\n\
                    app:x:1000:1001:App:/home/app:/bin/sh\n";
        let entries = parse_passwd(text);
        let names: Vec<_> = entries.iter().map(|e| e.name.as_str()).collect();
        assert_eq!(names, ["root", "app"]);
        assert_eq!(
            entries[1],
            PasswdEntry {
                name: "app".into(),
                uid: 1000,
                gid: 1001,
                home: "/home/app".into()
            }
        );
    }

    #[test]
    fn parses_groups_and_members() {
        let groups = parse_group("root:x:0:\nwheel:x:10:app, ops\nbroken:x:\ndocker:x:999:app\n");
        assert_eq!(groups.len(), 3);
        assert_eq!(groups[1].members, ["app", "ops"]);
        let db = UserDb {
            passwd: Vec::new(),
            groups,
        };
        assert_eq!(db.supplementary_gids("app"), [10, 999]);
        assert!(db.supplementary_gids("root").is_empty());
    }

    #[test]
    fn ids_are_range_checked() {
        assert_eq!(parse_id("0"), Some(0));
        assert_eq!(parse_id("2147483647"), Some(MAX_ID));
        assert_eq!(parse_id("2147483648"), None);
        assert_eq!(parse_id("+1"), None);
        assert_eq!(parse_id(""), None);
    }

    #[test]
    fn missing_files_read_as_empty() {
        let dir = tempfile::tempdir().unwrap();
        let db = UserDb::load(dir.path()).unwrap();
        assert!(db.passwd.is_empty() && db.groups.is_empty());
    }

    #[test]
    fn absolute_symlink_resolves_inside_the_rootfs() {
        // A host file the image points at: must never be read.
        let host = tempfile::tempdir().unwrap();
        let host_file = host.path().join("passwd");
        std::fs::write(&host_file, "evil:x:0:0::/:/bin/sh\n").unwrap();
        let rootfs = tempfile::tempdir().unwrap();
        std::fs::create_dir(rootfs.path().join("etc")).unwrap();
        symlink(&host_file, rootfs.path().join("etc/passwd")).unwrap();

        // Nothing at that path inside the rootfs: no users at all.
        let db = UserDb::load(rootfs.path()).unwrap();
        assert!(db.user_by_name("evil").is_none());

        // The same path inside the rootfs is what gets read.
        let inside = rootfs.path().join(host_file.strip_prefix("/").unwrap());
        std::fs::create_dir_all(inside.parent().unwrap()).unwrap();
        std::fs::write(&inside, "app:x:1000:1000::/home/app:/bin/sh\n").unwrap();
        let db = UserDb::load(rootfs.path()).unwrap();
        assert!(db.user_by_name("evil").is_none());
        assert_eq!(db.user_by_name("app").unwrap().uid, 1000);
    }

    #[test]
    fn dotdot_symlink_stays_in_root() {
        let rootfs = tempfile::tempdir().unwrap();
        std::fs::create_dir(rootfs.path().join("etc")).unwrap();
        symlink(
            "../../../../../../etc/passwd",
            rootfs.path().join("etc/group"),
        )
        .unwrap();
        // Clamped at the rootfs: resolves to the rootfs's own (missing) /etc/passwd.
        let db = UserDb::load(rootfs.path()).unwrap();
        assert!(db.groups.is_empty());
    }

    #[test]
    fn refuses_fifos_and_oversized_files() {
        let rootfs = tempfile::tempdir().unwrap();
        std::fs::create_dir(rootfs.path().join("etc")).unwrap();
        nix::unistd::mkfifo(
            &rootfs.path().join("etc/passwd"),
            nix::sys::stat::Mode::from_bits_truncate(0o644),
        )
        .unwrap();
        let err = UserDb::load(rootfs.path()).unwrap_err();
        assert_eq!(
            err.to_string(),
            "/etc/passwd in the container is not a regular file"
        );

        std::fs::remove_file(rootfs.path().join("etc/passwd")).unwrap();
        let huge = "x".repeat(MAX_FILE_BYTES as usize + 1);
        std::fs::write(rootfs.path().join("etc/group"), huge).unwrap();
        let err = UserDb::load(rootfs.path()).unwrap_err();
        assert!(err.to_string().contains("larger than"), "{err}");
    }
}
