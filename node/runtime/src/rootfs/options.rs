//! Parsing of OCI mount `options` into mount(2) flags, propagation changes, recursive
//! `mount_setattr` attributes and the filesystem data string, with runc's vocabulary.

use nix::mount::MsFlags;

/// `MS_NOSYMFOLLOW` (Linux 5.10), which nix 0.29 does not name.
const MS_NOSYMFOLLOW: MsFlags = MsFlags::from_bits_retain(libc::MS_NOSYMFOLLOW);

/// What one option does.
enum Effect {
    Set(MsFlags),
    Clear(MsFlags),
    Propagation(MsFlags),
    /// A recursive attribute applied to the whole mount tree with `mount_setattr`.
    SetRecursive(u64),
    ClearRecursive(u64),
    /// Accepted and deliberately ignored (with a warning).
    Ignore,
}

/// Every option name `effect` understands, as the `features` document lists them.
pub const OPTION_NAMES: [&str; 62] = [
    "defaults",
    "ro",
    "rw",
    "nosuid",
    "suid",
    "nodev",
    "dev",
    "noexec",
    "exec",
    "sync",
    "async",
    "dirsync",
    "remount",
    "mand",
    "nomand",
    "noatime",
    "atime",
    "nodiratime",
    "diratime",
    "relatime",
    "norelatime",
    "strictatime",
    "nostrictatime",
    "lazytime",
    "nolazytime",
    "iversion",
    "noiversion",
    "acl",
    "noacl",
    "silent",
    "loud",
    "nosymfollow",
    "symfollow",
    "bind",
    "rbind",
    "private",
    "rprivate",
    "shared",
    "rshared",
    "slave",
    "rslave",
    "unbindable",
    "runbindable",
    "rro",
    "rrw",
    "rnosuid",
    "rsuid",
    "rnodev",
    "rdev",
    "rnoexec",
    "rexec",
    "rnodiratime",
    "rdiratime",
    "rrelatime",
    "rnorelatime",
    "rnoatime",
    "ratime",
    "rstrictatime",
    "rnostrictatime",
    "rnosymfollow",
    "rsymfollow",
    "tmpcopyup",
];

fn effect(option: &str) -> Option<Effect> {
    use Effect::*;
    let ms = |f| Some(Set(f));
    let clear = |f| Some(Clear(f));
    match option {
        "defaults" => ms(MsFlags::empty()),
        "ro" => ms(MsFlags::MS_RDONLY),
        "rw" => clear(MsFlags::MS_RDONLY),
        "nosuid" => ms(MsFlags::MS_NOSUID),
        "suid" => clear(MsFlags::MS_NOSUID),
        "nodev" => ms(MsFlags::MS_NODEV),
        "dev" => clear(MsFlags::MS_NODEV),
        "noexec" => ms(MsFlags::MS_NOEXEC),
        "exec" => clear(MsFlags::MS_NOEXEC),
        "sync" => ms(MsFlags::MS_SYNCHRONOUS),
        "async" => clear(MsFlags::MS_SYNCHRONOUS),
        "dirsync" => ms(MsFlags::MS_DIRSYNC),
        "remount" => ms(MsFlags::MS_REMOUNT),
        "mand" => ms(MsFlags::MS_MANDLOCK),
        "nomand" => clear(MsFlags::MS_MANDLOCK),
        "noatime" => ms(MsFlags::MS_NOATIME),
        "atime" => clear(MsFlags::MS_NOATIME),
        "nodiratime" => ms(MsFlags::MS_NODIRATIME),
        "diratime" => clear(MsFlags::MS_NODIRATIME),
        "relatime" => ms(MsFlags::MS_RELATIME),
        "norelatime" => clear(MsFlags::MS_RELATIME),
        "strictatime" => ms(MsFlags::MS_STRICTATIME),
        "nostrictatime" => clear(MsFlags::MS_STRICTATIME),
        "lazytime" => ms(MsFlags::MS_LAZYTIME),
        "nolazytime" => clear(MsFlags::MS_LAZYTIME),
        "iversion" => ms(MsFlags::MS_I_VERSION),
        "noiversion" => clear(MsFlags::MS_I_VERSION),
        "acl" => ms(MsFlags::MS_POSIXACL),
        "noacl" => clear(MsFlags::MS_POSIXACL),
        "silent" => ms(MsFlags::MS_SILENT),
        "loud" => clear(MsFlags::MS_SILENT),
        "nosymfollow" => ms(MS_NOSYMFOLLOW),
        "symfollow" => clear(MS_NOSYMFOLLOW),
        "bind" => ms(MsFlags::MS_BIND),
        "rbind" => ms(MsFlags::MS_BIND | MsFlags::MS_REC),
        "private" => Some(Propagation(MsFlags::MS_PRIVATE)),
        "rprivate" => Some(Propagation(MsFlags::MS_PRIVATE | MsFlags::MS_REC)),
        "shared" => Some(Propagation(MsFlags::MS_SHARED)),
        "rshared" => Some(Propagation(MsFlags::MS_SHARED | MsFlags::MS_REC)),
        "slave" => Some(Propagation(MsFlags::MS_SLAVE)),
        "rslave" => Some(Propagation(MsFlags::MS_SLAVE | MsFlags::MS_REC)),
        "unbindable" => Some(Propagation(MsFlags::MS_UNBINDABLE)),
        "runbindable" => Some(Propagation(MsFlags::MS_UNBINDABLE | MsFlags::MS_REC)),
        "rro" => Some(SetRecursive(libc::MOUNT_ATTR_RDONLY)),
        "rrw" => Some(ClearRecursive(libc::MOUNT_ATTR_RDONLY)),
        "rnosuid" => Some(SetRecursive(libc::MOUNT_ATTR_NOSUID)),
        "rsuid" => Some(ClearRecursive(libc::MOUNT_ATTR_NOSUID)),
        "rnodev" => Some(SetRecursive(libc::MOUNT_ATTR_NODEV)),
        "rdev" => Some(ClearRecursive(libc::MOUNT_ATTR_NODEV)),
        "rnoexec" => Some(SetRecursive(libc::MOUNT_ATTR_NOEXEC)),
        "rexec" => Some(ClearRecursive(libc::MOUNT_ATTR_NOEXEC)),
        "rnodiratime" => Some(SetRecursive(libc::MOUNT_ATTR_NODIRATIME)),
        "rdiratime" => Some(ClearRecursive(libc::MOUNT_ATTR_NODIRATIME)),
        "rrelatime" => Some(SetRecursive(libc::MOUNT_ATTR_RELATIME)),
        "rnorelatime" => Some(ClearRecursive(libc::MOUNT_ATTR_RELATIME)),
        "rnoatime" => Some(SetRecursive(libc::MOUNT_ATTR_NOATIME)),
        "ratime" => Some(ClearRecursive(libc::MOUNT_ATTR_NOATIME)),
        "rstrictatime" => Some(SetRecursive(libc::MOUNT_ATTR_STRICTATIME)),
        "rnostrictatime" => Some(ClearRecursive(libc::MOUNT_ATTR_STRICTATIME)),
        "rnosymfollow" => Some(SetRecursive(libc::MOUNT_ATTR_NOSYMFOLLOW)),
        "rsymfollow" => Some(ClearRecursive(libc::MOUNT_ATTR_NOSYMFOLLOW)),
        // runc's copy-up of image content into a tmpfs; Berth prepares content itself.
        "tmpcopyup" => Some(Ignore),
        _ => None,
    }
}

/// An option Berth recognises but cannot honour.
#[derive(Debug, thiserror::Error)]
#[error("option {option:?} is not supported: {reason}")]
pub struct UnsupportedOption {
    pub option: String,
    pub reason: &'static str,
}

/// Parsed OCI mount options.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct MountOptions {
    /// Flags for mount(2), in option order (a later `rw` clears an earlier `ro`).
    pub flags: MsFlags,
    /// Propagation changes, applied one by one after the mount.
    pub propagation: Vec<MsFlags>,
    /// `mount_setattr` attributes to set and clear on the whole new mount tree.
    pub recursive_set: u64,
    pub recursive_clear: u64,
    /// Unrecognised options, passed to the filesystem as data (e.g. `mode=755,size=65536k`).
    pub data: String,
}

impl MountOptions {
    pub(crate) fn parse<S: AsRef<str>>(options: &[S]) -> Result<Self, UnsupportedOption> {
        let mut parsed = MountOptions {
            flags: MsFlags::empty(),
            propagation: Vec::new(),
            recursive_set: 0,
            recursive_clear: 0,
            data: String::new(),
        };
        let mut data = Vec::new();
        for option in options.iter().map(AsRef::as_ref) {
            match effect(option) {
                Some(Effect::Set(f)) => parsed.flags.insert(f),
                Some(Effect::Clear(f)) => parsed.flags.remove(f),
                Some(Effect::Propagation(f)) => parsed.propagation.push(f),
                Some(Effect::SetRecursive(attr)) => {
                    parsed.recursive_set |= attr;
                    // mount_setattr(2): an access-time mode must also clear MOUNT_ATTR__ATIME.
                    if attr & libc::MOUNT_ATTR__ATIME == attr {
                        parsed.recursive_clear |= libc::MOUNT_ATTR__ATIME;
                    }
                }
                Some(Effect::ClearRecursive(attr)) => parsed.recursive_clear |= attr,
                Some(Effect::Ignore) => {
                    tracing::warn!(option, "ignoring mount option");
                }
                None if option == "idmap" || option == "ridmap" => {
                    return Err(UnsupportedOption {
                        option: option.to_owned(),
                        reason: "idmapped mounts are not implemented",
                    })
                }
                None => data.push(option),
            }
        }
        parsed.data = data.join(",");
        Ok(parsed)
    }

    /// True for `bind`/`rbind`.
    pub(crate) fn is_bind(&self) -> bool {
        self.flags.contains(MsFlags::MS_BIND)
    }

    /// True for `rbind`.
    pub(crate) fn is_recursive_bind(&self) -> bool {
        self.flags.contains(MsFlags::MS_BIND | MsFlags::MS_REC)
    }

    /// The per-mount flags a bind mount must be remounted with, if any: a bind ignores
    /// everything but `MS_BIND | MS_REC` on its first mount(2).
    pub(crate) fn bind_remount_flags(&self) -> Option<MsFlags> {
        let flags = self.flags - (MsFlags::MS_BIND | MsFlags::MS_REC | MsFlags::MS_REMOUNT);
        (!flags.is_empty()).then_some(flags)
    }

    /// The data string, or `None` when empty.
    pub(crate) fn data(&self) -> Option<&str> {
        (!self.data.is_empty()).then_some(self.data.as_str())
    }

    /// Whether anything must happen after the mount(2) itself.
    pub(crate) fn has_post_mount_changes(&self) -> bool {
        !self.propagation.is_empty() || self.recursive_set != 0 || self.recursive_clear != 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    proptest::proptest! {
        /// Any option list parses without panicking, and the last of `ro`/`rw` decides.
        #[test]
        fn last_ro_or_rw_wins(options in proptest::collection::vec("ro|rw|nosuid|[a-z=,0-9]{0,12}", 0..12)) {
            if let Ok(parsed) = MountOptions::parse(&options) {
                let last = options.iter().rev().find(|o| *o == "ro" || *o == "rw");
                let readonly = parsed.flags.contains(MsFlags::MS_RDONLY);
                proptest::prop_assert_eq!(readonly, last.is_some_and(|o| o == "ro"));
            }
        }
    }

    #[test]
    fn every_listed_option_is_understood() {
        for name in OPTION_NAMES {
            assert!(effect(name).is_some(), "{name}");
        }
    }

    #[test]
    fn flags_data_and_order() {
        let o = MountOptions::parse(&[
            "nosuid",
            "ro",
            "strictatime",
            "mode=755",
            "rw",
            "size=65536k",
        ])
        .unwrap();
        assert_eq!(o.flags, MsFlags::MS_NOSUID | MsFlags::MS_STRICTATIME);
        assert_eq!(o.data(), Some("mode=755,size=65536k"));
        assert!(!o.is_bind());
    }

    #[test]
    fn bind_and_remount_flags() {
        let o = MountOptions::parse(&["rbind", "ro", "nodev", "rprivate"]).unwrap();
        assert!(o.is_bind() && o.is_recursive_bind());
        assert_eq!(
            o.bind_remount_flags(),
            Some(MsFlags::MS_RDONLY | MsFlags::MS_NODEV)
        );
        assert_eq!(o.propagation, vec![MsFlags::MS_PRIVATE | MsFlags::MS_REC]);
        assert_eq!(o.data(), None);
        let plain = MountOptions::parse(&["bind"]).unwrap();
        assert!(plain.is_bind() && !plain.is_recursive_bind());
        assert_eq!(plain.bind_remount_flags(), None);
        assert!(!plain.has_post_mount_changes());
    }

    #[test]
    fn recursive_attributes() {
        let o = MountOptions::parse(&["rbind", "rro", "rnoatime", "rsuid"]).unwrap();
        assert_eq!(
            o.recursive_set,
            libc::MOUNT_ATTR_RDONLY | libc::MOUNT_ATTR_NOATIME
        );
        assert_eq!(
            o.recursive_clear,
            libc::MOUNT_ATTR__ATIME | libc::MOUNT_ATTR_NOSUID
        );
        assert!(o.has_post_mount_changes());
    }

    #[test]
    fn all_propagation_modes() {
        let names = [
            "private",
            "rprivate",
            "shared",
            "rshared",
            "slave",
            "rslave",
            "unbindable",
            "runbindable",
        ];
        let o = MountOptions::parse(&names).unwrap();
        assert_eq!(o.propagation.len(), names.len());
        assert!(o.flags.is_empty());
    }

    #[test]
    fn idmap_is_refused_by_name() {
        let err = MountOptions::parse(&["rbind", "idmap"]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "option \"idmap\" is not supported: idmapped mounts are not implemented"
        );
    }
}
