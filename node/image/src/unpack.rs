//! The hardened tar unpacker (SECURITY.md items 1-6), shared by layer snapshots and
//! `docker cp`.
//!
//! Every entry's parent directory is resolved (and created) inside the root by pathrs
//! (`openat2(RESOLVE_IN_ROOT)` or its emulation), so `..` and symlinks, absolute ones
//! included, can never lead outside it. The entry itself is then created with one `*at` call
//! on that parent descriptor, and its metadata is set through the same descriptor without
//! following symlinks.

use std::ffi::OsStr;
use std::io::{Read, Write};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use nix::errno::Errno;
use nix::fcntl::{AtFlags, OFlag};
use nix::sys::stat::{self, Mode, SFlag};
use nix::unistd::{self, UnlinkatFlags};
use pathrs::Root;

use crate::fsops;
use crate::paths::{self, lossy};
use crate::tar_reader::{read_error, Entry, Kind, TarReader};
use crate::ImageError;

/// Overlayfs marks a directory opaque with this xattr.
const OPAQUE_XATTR: &[u8] = b"trusted.overlay.opaque";
/// Overlay metadata is ours to write; an archive never sets it.
const OVERLAY_XATTR_PREFIX: &[u8] = b"trusted.overlay.";
const WHITEOUT_PREFIX: &[u8] = b".wh.";
/// `.wh..wh.` prefixes AUFS metadata; `.wh..wh..opq` is the opaque marker.
const WHITEOUT_META_PREFIX: &[u8] = b".wh..wh.";
const WHITEOUT_OPAQUE: &[u8] = b".wh..wh..opq";

/// How to unpack.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Options {
    /// Convert AUFS-style whiteouts to overlayfs ones (image layers).
    pub overlay_whiteouts: bool,
    /// Refuse to replace a directory with a non-directory or the reverse (`docker cp`).
    pub no_overwrite_dir_non_dir: bool,
}

/// Totals of an unpack.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Summary {
    /// Bytes of regular file data written.
    pub file_bytes: u64,
}

/// Extracts every entry of `tar` under `base` (an in-root path) of `root`.
pub(crate) fn unpack<R: Read>(
    root: &Root,
    base: &Path,
    tar: &mut TarReader<R>,
    options: Options,
) -> Result<Summary, ImageError> {
    let mut unpacker = Unpacker {
        root,
        base,
        options,
        summary: Summary::default(),
        dir_times: Vec::new(),
    };
    while let Some(entry) = tar.next_entry()? {
        unpacker.entry(&entry, tar)?;
    }
    unpacker.restore_dir_times()?;
    Ok(unpacker.summary)
}

struct Unpacker<'a> {
    root: &'a Root,
    base: &'a Path,
    options: Options,
    summary: Summary,
    /// Directory mtimes, set last because creating children changes them.
    dir_times: Vec<(PathBuf, (i64, u32))>,
}

impl Unpacker<'_> {
    fn entry<R: Read>(&mut self, entry: &Entry, tar: &mut TarReader<R>) -> Result<(), ImageError> {
        let rel = paths::entry_path(&entry.name).map_err(ImageError::invalid)?;
        let full = self.base.join(&rel);
        let Some(name) = rel.file_name() else {
            return self.root_entry(entry);
        };
        let parent_path = full.parent().unwrap_or(self.base);
        if self.options.overlay_whiteouts && name.as_bytes().starts_with(WHITEOUT_PREFIX) {
            return self.whiteout(entry, parent_path, name);
        }
        let ctx = EntryCtx { entry };
        let parent = self
            .root
            .mkdir_all(parent_path, &std::fs::Permissions::from_mode(0o755))
            .map_err(|e| ctx.pathrs(e))?;
        let parent = parent.as_fd();
        if self.clear_way(&ctx, parent, name, &full)? {
            // A directory entry over an existing directory only updates its metadata.
            return self.dir_metadata(&ctx, parent, name, &full);
        }
        match entry.kind {
            Kind::File => self.file(&ctx, parent, name, tar),
            Kind::Dir => {
                stat::mkdirat(
                    Some(parent.as_raw_fd()),
                    name,
                    Mode::from_bits_truncate(0o700),
                )
                .map_err(|e| ctx.sys(e))?;
                self.dir_metadata(&ctx, parent, name, &full)
            }
            Kind::Symlink => {
                unistd::symlinkat(
                    OsStr::from_bytes(&entry.link),
                    Some(parent.as_raw_fd()),
                    name,
                )
                .map_err(|e| ctx.sys(e))?;
                self.node_metadata(&ctx, parent, name, false)
            }
            Kind::Hardlink => self.hardlink(&ctx, parent, name, &full),
            Kind::Char | Kind::Block | Kind::Fifo => {
                let kind = match entry.kind {
                    Kind::Char => SFlag::S_IFCHR,
                    Kind::Block => SFlag::S_IFBLK,
                    _ => SFlag::S_IFIFO,
                };
                let dev = stat::makedev(entry.dev_major.into(), entry.dev_minor.into());
                stat::mknodat(
                    Some(parent.as_raw_fd()),
                    name,
                    kind,
                    Mode::from_bits_truncate(0o600),
                    dev,
                )
                .map_err(|e| ctx.sys(e))?;
                self.node_metadata(&ctx, parent, name, true)
            }
        }
    }

    /// The archive's `./` entry: it can only describe the base directory itself.
    fn root_entry(&mut self, entry: &Entry) -> Result<(), ImageError> {
        let ctx = EntryCtx { entry };
        if entry.kind != Kind::Dir {
            return Err(ctx.invalid("names the extraction root but is not a directory"));
        }
        let handle = self.root.resolve(self.base).map_err(|e| ctx.pathrs(e))?;
        let dir = fsops::reopen_dir(handle.as_fd()).map_err(|e| ctx.sys(e))?;
        self.apply_open_metadata(&ctx, dir.as_fd())?;
        self.dir_times.push((self.base.to_path_buf(), entry.mtime));
        Ok(())
    }

    /// Removes whatever is in the way of the entry. True when the entry is a directory and a
    /// directory is already there (it is kept, so its contents merge).
    fn clear_way(
        &self,
        ctx: &EntryCtx<'_>,
        parent: BorrowedFd<'_>,
        name: &OsStr,
        full: &Path,
    ) -> Result<bool, ImageError> {
        let Some(existing) = fsops::stat_at(parent, name).map_err(|e| ctx.sys(e))? else {
            return Ok(false);
        };
        let existing_is_dir = fsops::file_type(existing.st_mode) == SFlag::S_IFDIR;
        let entry_is_dir = ctx.entry.kind == Kind::Dir;
        if existing_is_dir && entry_is_dir {
            return Ok(true);
        }
        if self.options.no_overwrite_dir_non_dir && existing_is_dir != entry_is_dir {
            return Err(ctx.invalid(if existing_is_dir {
                "would replace a directory with a non-directory"
            } else {
                "would replace a non-directory with a directory"
            }));
        }
        if ctx.entry.kind == Kind::Hardlink && self.link_target(ctx)? == full {
            return Ok(false);
        }
        if existing_is_dir {
            self.root.remove_all(full).map_err(|e| ctx.pathrs(e))?;
        } else {
            unistd::unlinkat(Some(parent.as_raw_fd()), name, UnlinkatFlags::NoRemoveDir)
                .map_err(|e| ctx.sys(e))?;
        }
        Ok(false)
    }

    fn file<R: Read>(
        &mut self,
        ctx: &EntryCtx<'_>,
        parent: BorrowedFd<'_>,
        name: &OsStr,
        tar: &mut TarReader<R>,
    ) -> Result<(), ImageError> {
        let fd = fsops::open_at(
            parent,
            name,
            OFlag::O_CREAT | OFlag::O_EXCL | OFlag::O_WRONLY,
            Mode::from_bits_truncate(0o600),
        )
        .map_err(|e| ctx.sys(e))?;
        check_free_space(ctx, fd.as_fd())?;
        let mut file = std::fs::File::from(fd);
        let mut data = tar.data();
        let mut buf = vec![0u8; 128 * 1024];
        let mut written = 0u64;
        loop {
            let n = match data.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(read_error(e)),
            };
            file.write_all(&buf[..n])
                .map_err(|e| ImageError::io(format!("writing {}", ctx.name()), e))?;
            written += n as u64;
        }
        self.summary.file_bytes += written;
        self.apply_open_metadata(ctx, file.as_fd())?;
        stat::futimens(
            file.as_raw_fd(),
            &fsops::timespec(ctx.entry.mtime),
            &fsops::timespec(ctx.entry.mtime),
        )
        .map_err(|e| ctx.sys(e))
    }

    /// Owner, mode and xattrs of a directory, whose mtime is set at the end.
    fn dir_metadata(
        &mut self,
        ctx: &EntryCtx<'_>,
        parent: BorrowedFd<'_>,
        name: &OsStr,
        full: &Path,
    ) -> Result<(), ImageError> {
        let dir = fsops::open_at(
            parent,
            name,
            OFlag::O_RDONLY | OFlag::O_DIRECTORY,
            Mode::empty(),
        )
        .map_err(|e| ctx.sys(e))?;
        self.apply_open_metadata(ctx, dir.as_fd())?;
        self.dir_times.push((full.to_path_buf(), ctx.entry.mtime));
        Ok(())
    }

    /// Owner, then mode (chown clears setuid bits), then xattrs, on an open file or directory.
    fn apply_open_metadata(
        &self,
        ctx: &EntryCtx<'_>,
        fd: BorrowedFd<'_>,
    ) -> Result<(), ImageError> {
        let entry = ctx.entry;
        unistd::fchown(
            fd.as_raw_fd(),
            Some(entry.uid.into()),
            Some(entry.gid.into()),
        )
        .map_err(|e| ctx.sys(e))?;
        stat::fchmod(fd.as_raw_fd(), Mode::from_bits_truncate(entry.mode))
            .map_err(|e| ctx.sys(e))?;
        for (xattr, value) in wanted_xattrs(entry) {
            tolerate_unsupported(fsops::set_xattr_fd(fd, xattr, value)).map_err(|e| ctx.sys(e))?;
        }
        Ok(())
    }

    /// Metadata of a symlink or special file, by name in its parent, never following it.
    fn node_metadata(
        &self,
        ctx: &EntryCtx<'_>,
        parent: BorrowedFd<'_>,
        name: &OsStr,
        chmod: bool,
    ) -> Result<(), ImageError> {
        let entry = ctx.entry;
        fsops::chown_at(parent, name, entry.uid, entry.gid).map_err(|e| ctx.sys(e))?;
        if chmod {
            fsops::chmod_at(parent, name, entry.mode).map_err(|e| ctx.sys(e))?;
        }
        for (xattr, value) in wanted_xattrs(entry) {
            tolerate_unsupported(fsops::set_xattr_at(parent, name, xattr, value))
                .map_err(|e| ctx.sys(e))?;
        }
        fsops::times_at(parent, name, entry.mtime).map_err(|e| ctx.sys(e))
    }

    /// The in-root path a hardlink entry points at; absolute targets and `..` are refused.
    fn link_target(&self, ctx: &EntryCtx<'_>) -> Result<PathBuf, ImageError> {
        if ctx.entry.link.starts_with(b"/") {
            return Err(ctx.invalid("is a hardlink to an absolute path"));
        }
        let target = paths::entry_path(&ctx.entry.link).map_err(|e| ctx.invalid(&e))?;
        if target.as_os_str().is_empty() {
            return Err(ctx.invalid("is a hardlink to the extraction root"));
        }
        Ok(self.base.join(target))
    }

    /// `linkat` from the target's resolved parent to ours, without following the target.
    fn hardlink(
        &mut self,
        ctx: &EntryCtx<'_>,
        parent: BorrowedFd<'_>,
        name: &OsStr,
        full: &Path,
    ) -> Result<(), ImageError> {
        let target = self.link_target(ctx)?;
        if target == full {
            return Ok(());
        }
        let (Some(target_parent), Some(target_name)) = (target.parent(), target.file_name()) else {
            return Err(ctx.invalid("is a hardlink without a target name"));
        };
        let source = self
            .root
            .resolve(target_parent)
            .map_err(|e| ctx.pathrs(e))?;
        unistd::linkat(
            Some(source.as_fd().as_raw_fd()),
            target_name,
            Some(parent.as_raw_fd()),
            name,
            AtFlags::empty(),
        )
        .map_err(|e| match e {
            Errno::EPERM => ctx.invalid("is a hardlink to a directory or another special target"),
            e => ctx.sys(e),
        })
    }

    /// `.wh.<name>` becomes a 0:0 character device `<name>`; `.wh..wh..opq` marks the
    /// directory opaque; other AUFS metadata is dropped. Nothing named `.wh.*` is created.
    fn whiteout(
        &mut self,
        entry: &Entry,
        parent_path: &Path,
        name: &OsStr,
    ) -> Result<(), ImageError> {
        let ctx = EntryCtx { entry };
        let name = name.as_bytes();
        let target = &name[WHITEOUT_PREFIX.len()..];
        let is_opaque = name == WHITEOUT_OPAQUE;
        if !is_opaque && name.starts_with(WHITEOUT_META_PREFIX) {
            return Ok(());
        }
        if !is_opaque && matches!(target, b"" | b"." | b"..") {
            return Err(ctx.invalid("is a whiteout of the root or of .."));
        }
        let parent = self
            .root
            .mkdir_all(parent_path, &std::fs::Permissions::from_mode(0o755))
            .map_err(|e| ctx.pathrs(e))?;
        if is_opaque {
            let dir = fsops::reopen_dir(parent.as_fd()).map_err(|e| ctx.sys(e))?;
            return fsops::set_xattr_fd(dir.as_fd(), OPAQUE_XATTR, b"y").map_err(|e| ctx.sys(e));
        }
        let target = OsStr::from_bytes(target);
        if fsops::stat_at(parent.as_fd(), target)
            .map_err(|e| ctx.sys(e))?
            .is_some()
        {
            self.root
                .remove_all(parent_path.join(target))
                .map_err(|e| ctx.pathrs(e))?;
        }
        let dev = stat::makedev(0, 0);
        stat::mknodat(
            Some(parent.as_fd().as_raw_fd()),
            target,
            SFlag::S_IFCHR,
            Mode::empty(),
            dev,
        )
        .map_err(|e| ctx.sys(e))?;
        fsops::chown_at(parent.as_fd(), target, entry.uid, entry.gid).map_err(|e| ctx.sys(e))
    }

    /// Sets directory mtimes, deepest last-created first, without following symlinks.
    fn restore_dir_times(&mut self) -> Result<(), ImageError> {
        for (path, mtime) in self.dir_times.iter().rev() {
            let context = || format!("setting the mtime of {}", path.display());
            let handle = match self.root.resolve_nofollow(path) {
                Ok(handle) => handle,
                // Replaced or removed by a later entry.
                Err(_) => continue,
            };
            let st = fsops::fstat(handle.as_fd()).map_err(|e| ImageError::sys(context(), e))?;
            if fsops::file_type(st.st_mode) == SFlag::S_IFDIR {
                fsops::times_of(handle.as_fd(), *mtime)
                    .map_err(|e| ImageError::sys(context(), e))?;
            }
        }
        Ok(())
    }
}

/// Xattrs to restore: everything but overlayfs's own.
fn wanted_xattrs(entry: &Entry) -> impl Iterator<Item = (&[u8], &[u8])> {
    entry
        .xattrs
        .iter()
        .filter(|(name, _)| !name.starts_with(OVERLAY_XATTR_PREFIX))
        .map(|(name, value)| (name.as_slice(), value.as_slice()))
}

/// A filesystem without support for an xattr namespace just does not get it.
fn tolerate_unsupported(result: Result<(), Errno>) -> Result<(), Errno> {
    match result {
        Err(Errno::EOPNOTSUPP) => Ok(()),
        other => other,
    }
}

/// Fails early when the file cannot fit (SECURITY.md item 6).
fn check_free_space(ctx: &EntryCtx<'_>, fd: BorrowedFd<'_>) -> Result<(), ImageError> {
    let vfs = nix::sys::statvfs::fstatvfs(fd).map_err(|e| ctx.sys(e))?;
    let free = vfs.blocks_available().saturating_mul(vfs.fragment_size());
    if ctx.entry.size > free {
        return Err(ImageError::sys(
            format!(
                "extracting {} ({} bytes, {free} free)",
                ctx.name(),
                ctx.entry.size
            ),
            Errno::ENOSPC,
        ));
    }
    Ok(())
}

/// Error construction for one entry.
struct EntryCtx<'e> {
    entry: &'e Entry,
}

impl EntryCtx<'_> {
    fn name(&self) -> String {
        format!("{:?}", lossy(&self.entry.name))
    }

    fn invalid(&self, reason: &str) -> ImageError {
        ImageError::invalid(format!("tar entry {} {reason}", self.name()))
    }

    /// Errors caused by the archive's own shape (a file where a directory must be, a missing
    /// link target, a loop) are the input's fault; the rest are I/O failures.
    fn sys(&self, errno: Errno) -> ImageError {
        match errno {
            Errno::ENOTDIR
            | Errno::EISDIR
            | Errno::EEXIST
            | Errno::ENOENT
            | Errno::ELOOP
            | Errno::EXDEV
            | Errno::EMLINK
            | Errno::ENAMETOOLONG
            | Errno::EINVAL
            | Errno::ENOTEMPTY => ImageError::invalid(format!(
                "cannot extract tar entry {}: {}",
                self.name(),
                errno.desc()
            )),
            _ => ImageError::sys(format!("extracting tar entry {}", self.name()), errno),
        }
    }

    fn pathrs(&self, err: pathrs::error::Error) -> ImageError {
        match err.kind() {
            pathrs::error::ErrorKind::OsError(Some(errno)) => self.sys(Errno::from_raw(errno)),
            _ => ImageError::invalid(format!("cannot extract tar entry {}: {err}", self.name())),
        }
    }
}
