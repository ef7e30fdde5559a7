//! Tar streams in and out of a root filesystem, resolved in-root (`docker cp`, `export`).
//!
//! `pack` resolves the requested path inside the root without following its last component,
//! then walks directories through `O_NOFOLLOW` descriptors: a symlink is stored as a symlink
//! and never entered, so nothing outside the root is ever read. `unpack_into` is the hardened
//! layer unpacker, without whiteout conversion.

use std::collections::HashMap;
use std::ffi::{OsStr, OsString};
use std::io::{self, Read, Write};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Component, Path, PathBuf};

use nix::dir::Dir;
use nix::fcntl::{self, OFlag};
use nix::sys::stat::{FileStat, Mode, SFlag};
use pathrs::Root;
use tar::{Builder, EntryType, Header};

use crate::fsops;
use crate::tar_reader::{Limits, TarReader};
use crate::unpack::{self, Options};
use crate::ImageError;

/// The file capability xattr, the one Docker carries in `cp` and `export` archives.
const CAPABILITY_XATTR: &str = "security.capability";

/// What a path inside a root is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PathInfo {
    /// The base name.
    pub name: String,
    /// Size in bytes.
    pub size: u64,
    /// `st_mode`, file type included.
    pub mode: u32,
    /// Modification time, seconds since the epoch.
    pub mtime: i64,
    /// The link target, for a symlink.
    pub link_target: String,
}

/// Stats `path` resolved inside `root` without following its last component.
pub fn stat_in_root(root: &Path, path: &str) -> Result<PathInfo, ImageError> {
    let handle = open_root(root)?
        .resolve_nofollow(path)
        .map_err(|e| ImageError::pathrs(format!("resolving {path}"), e))?;
    let st =
        fsops::fstat(handle.as_fd()).map_err(|e| ImageError::sys(format!("stat {path}"), e))?;
    let link_target = if fsops::file_type(st.st_mode) == SFlag::S_IFLNK {
        read_link(handle.as_fd()).map_err(|e| ImageError::sys(format!("readlink {path}"), e))?
    } else {
        OsString::new()
    };
    Ok(PathInfo {
        name: base_name(path).map_or_else(|| "/".to_string(), |n| n.to_string_lossy().into_owned()),
        size: u64::try_from(st.st_size).unwrap_or(0),
        mode: st.st_mode,
        mtime: st.st_mtime,
        link_target: link_target.to_string_lossy().into_owned(),
    })
}

/// Writes `path` (resolved inside `root`) as a tar whose entries are named from the path's
/// base name (`docker cp` semantics). `path == "/"` writes the whole root with relative
/// names (`export`).
pub fn pack(root: &Path, path: &str, out: &mut dyn Write) -> Result<(), ImageError> {
    let handle = open_root(root)?
        .resolve_nofollow(path)
        .map_err(|e| ImageError::pathrs(format!("resolving {path}"), e))?;
    let mut packer = Packer {
        builder: Builder::new(out),
        hardlinks: HashMap::new(),
    };
    let st =
        fsops::fstat(handle.as_fd()).map_err(|e| ImageError::sys(format!("stat {path}"), e))?;
    let is_dir = fsops::file_type(st.st_mode) == SFlag::S_IFDIR;
    let open = || {
        handle
            .reopen(pathrs::flags::OpenFlags::O_RDONLY | pathrs::flags::OpenFlags::O_NONBLOCK)
            .map(OwnedFd::from)
            .map_err(|e| ImageError::pathrs(format!("opening {path}"), e))
    };
    let link_target =
        || read_link(handle.as_fd()).map_err(|e| ImageError::sys(format!("readlink {path}"), e));
    match base_name(path) {
        None => packer.walk(handle.as_fd(), PathBuf::new())?,
        Some(name) => {
            let name = PathBuf::from(name);
            packer.write_entry(&st, &name, open, link_target)?;
            if is_dir {
                packer.walk(handle.as_fd(), name)?;
            }
        }
    }
    packer
        .builder
        .finish()
        .map_err(|e| ImageError::io("writing the archive", e))
}

/// Extracts a tar into the directory `dir` (resolved inside `root`), refusing entries that
/// would leave the root.
pub fn unpack_into(
    root: &Path,
    dir: &str,
    tar: &mut dyn Read,
    no_overwrite_dir_non_dir: bool,
) -> Result<(), ImageError> {
    let root = open_root(root)?;
    let target = root
        .resolve(dir)
        .map_err(|e| ImageError::pathrs(format!("resolving {dir}"), e))?;
    let st = fsops::fstat(target.as_fd()).map_err(|e| ImageError::sys(format!("stat {dir}"), e))?;
    if fsops::file_type(st.st_mode) != SFlag::S_IFDIR {
        return Err(ImageError::sys(
            format!("extracting into {dir}"),
            nix::errno::Errno::ENOTDIR,
        ));
    }
    let mut reader = TarReader::new(tar, Limits::default());
    let options = Options {
        overlay_whiteouts: false,
        no_overwrite_dir_non_dir,
    };
    unpack::unpack(&root, Path::new(dir), &mut reader, options).map(drop)
}

fn open_root(root: &Path) -> Result<Root, ImageError> {
    Root::open(root).map_err(|e| ImageError::pathrs(format!("opening {}", root.display()), e))
}

/// The last name of `path`, or `None` when it names the root (`/`, `a/..`).
fn base_name(path: &str) -> Option<&OsStr> {
    let mut depth = 0usize;
    let mut last = None;
    for component in Path::new(path).components() {
        match component {
            Component::Normal(name) => {
                depth += 1;
                last = Some(name);
            }
            Component::ParentDir => {
                depth = depth.saturating_sub(1);
                last = None;
            }
            _ => {}
        }
    }
    if depth == 0 {
        None
    } else {
        last
    }
}

fn read_link(fd: BorrowedFd<'_>) -> Result<OsString, nix::errno::Errno> {
    fcntl::readlinkat(Some(fd.as_raw_fd()), "")
}

struct Packer<'w> {
    builder: Builder<&'w mut dyn Write>,
    /// (dev, ino) of multiply-linked files already written → their archive name.
    hardlinks: HashMap<(u64, u64), PathBuf>,
}

/// A directory being walked: its descriptor, archive name, and children still to visit.
struct Frame {
    dir: OwnedFd,
    name: PathBuf,
    children: Vec<OsString>,
}

impl Packer<'_> {
    /// Writes the contents of the directory `dir` under the archive name `prefix`, depth first
    /// with an explicit stack (a hostile tree cannot exhaust ours).
    fn walk(&mut self, dir: BorrowedFd<'_>, prefix: PathBuf) -> Result<(), ImageError> {
        let top = fsops::reopen_dir(dir).map_err(|e| ImageError::sys("opening a directory", e))?;
        let mut stack = vec![frame(top, prefix)?];
        while let Some(current) = stack.last_mut() {
            let Some(child) = current.children.pop() else {
                stack.pop();
                continue;
            };
            let name = current.name.join(&child);
            let parent = current.dir.as_fd();
            let st = match fsops::stat_at(parent, &child) {
                Ok(Some(st)) => st,
                // Removed while we walk (a running container): skip it.
                Ok(None) => continue,
                Err(e) => return Err(ImageError::sys(format!("stat {}", name.display()), e)),
            };
            let kind = fsops::file_type(st.st_mode);
            let open = || {
                fsops::open_regular(parent, &child)
                    .map_err(|e| ImageError::sys(format!("opening {}", name.display()), e))
            };
            let link_target = || {
                fcntl::readlinkat(Some(parent.as_raw_fd()), child.as_os_str())
                    .map_err(|e| ImageError::sys(format!("readlink {}", name.display()), e))
            };
            self.write_entry(&st, &name, open, link_target)?;
            if kind == SFlag::S_IFDIR {
                let fd = fsops::open_at(
                    parent,
                    &child,
                    OFlag::O_RDONLY | OFlag::O_DIRECTORY,
                    Mode::empty(),
                )
                .map_err(|e| ImageError::sys(format!("opening {}", name.display()), e))?;
                stack.push(frame(fd, name)?);
            }
        }
        Ok(())
    }

    /// Appends one object; `open` and `link_target` are only called for files and symlinks.
    fn write_entry(
        &mut self,
        st: &FileStat,
        name: &Path,
        open: impl FnOnce() -> Result<OwnedFd, ImageError>,
        link_target: impl FnOnce() -> Result<OsString, ImageError>,
    ) -> Result<(), ImageError> {
        let fail =
            |e: nix::errno::Errno| ImageError::sys(format!("archiving {}", name.display()), e);
        let write_fail = |e: io::Error| ImageError::io(format!("archiving {}", name.display()), e);
        let mut header = Header::new_gnu();
        header.set_mode(st.st_mode & 0o7777);
        header.set_uid(u64::from(st.st_uid));
        header.set_gid(u64::from(st.st_gid));
        header.set_mtime(u64::try_from(st.st_mtime).unwrap_or(0));
        header.set_size(0);
        let kind = fsops::file_type(st.st_mode);
        match kind {
            SFlag::S_IFDIR => {
                header.set_entry_type(EntryType::Directory);
                let mut dir_name = name.as_os_str().to_os_string();
                dir_name.push("/");
                self.builder
                    .append_data(&mut header, Path::new(&dir_name), io::empty())
                    .map_err(write_fail)
            }
            SFlag::S_IFLNK => {
                header.set_entry_type(EntryType::Symlink);
                let target = link_target()?;
                self.builder
                    .append_link(&mut header, name, Path::new(&target))
                    .map_err(write_fail)
            }
            SFlag::S_IFREG => {
                let key = (st.st_dev, st.st_ino);
                if st.st_nlink > 1 {
                    if let Some(first) = self.hardlinks.get(&key) {
                        header.set_entry_type(EntryType::Link);
                        let first = first.clone();
                        return self
                            .builder
                            .append_link(&mut header, name, &first)
                            .map_err(write_fail);
                    }
                    self.hardlinks.insert(key, name.to_path_buf());
                }
                let fd = open()?;
                // Swapped for a device or fifo since the stat: never read those from the host.
                if fsops::fstat(fd.as_fd())
                    .map(|s| fsops::file_type(s.st_mode))
                    .map_err(fail)?
                    != SFlag::S_IFREG
                {
                    return Err(fail(nix::errno::Errno::EAGAIN));
                }
                if let Some(caps) =
                    fsops::get_xattr_fd(fd.as_fd(), CAPABILITY_XATTR).map_err(fail)?
                {
                    let key = format!("SCHILY.xattr.{CAPABILITY_XATTR}");
                    self.builder
                        .append_pax_extensions([(key.as_str(), caps.as_slice())])
                        .map_err(write_fail)?;
                }
                let size = u64::try_from(st.st_size).unwrap_or(0);
                header.set_entry_type(EntryType::Regular);
                header.set_size(size);
                // A file that changes while it is read is cut or zero-padded to the size in
                // its header, so the archive stays well-formed.
                let file = std::fs::File::from(fd);
                let data = file.take(size).chain(io::repeat(0)).take(size);
                self.builder
                    .append_data(&mut header, name, data)
                    .map_err(write_fail)
            }
            SFlag::S_IFCHR | SFlag::S_IFBLK | SFlag::S_IFIFO => {
                header.set_entry_type(match kind {
                    SFlag::S_IFCHR => EntryType::Char,
                    SFlag::S_IFBLK => EntryType::Block,
                    _ => EntryType::Fifo,
                });
                if kind != SFlag::S_IFIFO {
                    let (major, minor) = (
                        nix::sys::stat::major(st.st_rdev),
                        nix::sys::stat::minor(st.st_rdev),
                    );
                    let device =
                        |v: u64| u32::try_from(v).map_err(|_| fail(nix::errno::Errno::EOVERFLOW));
                    header
                        .set_device_major(device(major)?)
                        .map_err(write_fail)?;
                    header
                        .set_device_minor(device(minor)?)
                        .map_err(write_fail)?;
                }
                self.builder
                    .append_data(&mut header, name, io::empty())
                    .map_err(write_fail)
            }
            // Sockets have no archive form.
            _ => Ok(()),
        }
    }
}

/// Reads a directory's children (sorted, so archives are reproducible; popped from the end).
fn frame(dir: OwnedFd, name: PathBuf) -> Result<Frame, ImageError> {
    let context = || format!("listing {}", name.display());
    let mut stream = Dir::openat(
        Some(dir.as_raw_fd()),
        ".",
        OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .map_err(|e| ImageError::sys(context(), e))?;
    let mut children = Vec::new();
    for entry in stream.iter() {
        let entry = entry.map_err(|e| ImageError::sys(context(), e))?;
        let child = OsStr::from_bytes(entry.file_name().to_bytes());
        if child != "." && child != ".." {
            children.push(child.to_os_string());
        }
    }
    children.sort_by(|a, b| b.cmp(a));
    Ok(Frame {
        dir,
        name,
        children,
    })
}
