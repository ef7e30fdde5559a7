//! In-root path resolution (SECURITY.md items 18 and 23).
//!
//! A path is walked one component at a time from an `O_PATH` handle on the container root.
//! Every step is `openat(parent, name, O_PATH | O_NOFOLLOW)` with a single plain name, so the
//! kernel never follows a symlink or a `..` on our behalf; symlinks are read and interpreted here:
//!
//! - an absolute symlink target restarts from the container root (never the host's `/`);
//! - a `..` written in the requested path is clamped at the root, like `RESOLVE_IN_ROOT`;
//! - a `..` that comes from a symlink target and would climb above the root is an attack on the
//!   mount target (CVE-2021-30465 style) and is rejected with [`ResolveError::Escapes`];
//! - procfs symlinks (including magic links such as `/proc/self/fd/N`) are never followed.
//!
//! `..` pops a descriptor from the stack of directories already opened instead of asking the
//! kernel for the parent, so a directory renamed away concurrently cannot take the walk outside
//! the root. The returned descriptor is what callers mount onto, via [`crate::sys::fd_path`].

use std::collections::VecDeque;
use std::ffi::{OsStr, OsString};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Component, Path, PathBuf};

use nix::errno::Errno;
use nix::fcntl::{self, OFlag};
use nix::sys::stat::{self as nix_stat, Mode, SFlag};
use nix::sys::statfs::{self, PROC_SUPER_MAGIC};

use crate::sys;

/// The kernel's own limit on symlinks followed during one lookup.
const MAX_SYMLINKS: usize = 40;

/// Why a path could not be resolved in-root. Messages continue "`<what> <path>`", as in
/// "mount destination /x escapes the container root through symlink ...".
#[derive(Debug, thiserror::Error)]
pub enum ResolveError {
    /// A symlink's `..` would climb above the container root.
    #[error("escapes the container root through symlink {link} -> {target}")]
    Escapes { link: PathBuf, target: PathBuf },
    /// More than 40 symlinks (the kernel's limit) were followed.
    #[error("has too many levels of symbolic links")]
    TooManyLinks,
    /// The walk reached a symlink on procfs; such links may be magic and are never followed.
    #[error("goes through the procfs link {link}, which is not followed")]
    ProcfsLink { link: PathBuf },
    /// The path has no final name (it is `/` or ends in `..`) where one is required.
    #[error("does not name a file")]
    NoFinalName,
    /// A syscall failed at the given in-root location.
    #[error("could not be resolved at {at}: {errno}")]
    Sys { at: PathBuf, errno: Errno },
}

impl ResolveError {
    /// True when some component does not exist (callers skip optional paths then).
    pub fn is_not_found(&self) -> bool {
        matches!(
            self,
            ResolveError::Sys {
                errno: Errno::ENOENT,
                ..
            }
        )
    }
}

/// What to create when a component is missing. Missing intermediate directories are created
/// whenever this is not [`Create::Nothing`]; the variant decides the kind of the final one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Create {
    Nothing,
    Dir,
    File,
}

/// Whether a symlink in the final position is followed or returned as itself.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Last {
    Follow,
    NoFollow,
}

/// An `O_PATH` handle on a directory that acts as `/` for every lookup made through it.
pub(crate) struct Root {
    fd: OwnedFd,
}

impl Root {
    /// Opens the directory at a trusted host path as the root for in-root lookups.
    pub(crate) fn open(path: &Path) -> Result<Self, Errno> {
        sys::open_host(path, OFlag::O_DIRECTORY).map(|fd| Root { fd })
    }

    /// Resolves `path` in-root and returns an `O_PATH` descriptor for it.
    pub(crate) fn resolve(
        &self,
        path: &Path,
        create: Create,
        last: Last,
    ) -> Result<OwnedFd, ResolveError> {
        Walk::new(self.fd.as_fd(), create, last).run(path)
    }

    /// Whether `fd` refers to this root directory itself.
    pub(crate) fn is_root(&self, fd: BorrowedFd<'_>) -> Result<bool, Errno> {
        let (a, b) = (sys::fstat(self.fd.as_fd())?, sys::fstat(fd)?);
        Ok((a.st_dev, a.st_ino) == (b.st_dev, b.st_ino))
    }

    /// Resolves (and creates) the parent directory of `path`; returns it with the final name,
    /// for syscalls such as `mknodat` and `symlinkat` that create the last component themselves.
    pub(crate) fn parent_of(&self, path: &Path) -> Result<(OwnedFd, OsString), ResolveError> {
        let Some(Component::Normal(name)) = path.components().next_back() else {
            return Err(ResolveError::NoFinalName);
        };
        let parent = path.parent().unwrap_or(Path::new("/"));
        let dir = self.resolve(parent, Create::Dir, Last::Follow)?;
        Ok((dir, name.to_os_string()))
    }
}

/// Where a queued component came from: the requested path, or the target of the n-th link.
#[derive(Clone, Copy)]
enum Origin {
    Request,
    Link(usize),
}

struct Walk<'r> {
    root: BorrowedFd<'r>,
    create: Create,
    last: Last,
    /// Directories entered below the root, with their names (for messages).
    dirs: Vec<(OwnedFd, OsString)>,
    /// Symlinks followed so far: (in-root path of the link, its target).
    links: Vec<(PathBuf, PathBuf)>,
}

impl<'r> Walk<'r> {
    fn new(root: BorrowedFd<'r>, create: Create, last: Last) -> Self {
        Walk {
            root,
            create,
            last,
            dirs: Vec::new(),
            links: Vec::new(),
        }
    }

    fn run(mut self, path: &Path) -> Result<OwnedFd, ResolveError> {
        let mut queue = VecDeque::new();
        for name in names(path) {
            queue.push_back((name, Origin::Request));
        }
        while let Some((name, origin)) = queue.pop_front() {
            if name == ".." {
                self.up(origin)?;
                continue;
            }
            if name == "." {
                self.check_current_is_dir()?;
                continue;
            }
            let is_last = queue.is_empty();
            let fd = self.open_component(&name, is_last)?;
            let is_link =
                sys::file_type(fd.as_fd()).map_err(|e| self.error(&name, e))? == SFlag::S_IFLNK;
            if is_link && (!is_last || self.last == Last::Follow) {
                let (link, target) = self.read_link(&fd, &name)?;
                if target.is_absolute() {
                    self.dirs.clear();
                }
                for part in names(&target).into_iter().rev() {
                    queue.push_front((part, Origin::Link(link)));
                }
                continue;
            }
            if is_last {
                return Ok(fd);
            }
            self.dirs.push((fd, name));
        }
        // The path ended on a directory already entered (a trailing `..` or followed link).
        match self.dirs.pop() {
            Some((fd, _)) => Ok(fd),
            None => sys::open_at(self.root, OsStr::new("."), OFlag::O_PATH, Mode::empty()).map_err(
                |errno| ResolveError::Sys {
                    at: PathBuf::from("/"),
                    errno,
                },
            ),
        }
    }

    fn current(&self) -> BorrowedFd<'_> {
        self.dirs.last().map_or(self.root, |(fd, _)| fd.as_fd())
    }

    /// The in-root path of `name` inside the current directory.
    fn here(&self, name: &OsStr) -> PathBuf {
        let mut path = PathBuf::from("/");
        path.extend(self.dirs.iter().map(|(_, n)| n));
        path.push(name);
        path
    }

    fn error(&self, name: &OsStr, errno: Errno) -> ResolveError {
        ResolveError::Sys {
            at: self.here(name),
            errno,
        }
    }

    /// `.` only asserts that the walk is in a directory (so `file/.` fails like in the kernel).
    fn check_current_is_dir(&self) -> Result<(), ResolveError> {
        let kind = sys::file_type(self.current()).map_err(|e| self.error(OsStr::new("."), e))?;
        if kind == SFlag::S_IFDIR {
            Ok(())
        } else {
            Err(self.error(OsStr::new("."), Errno::ENOTDIR))
        }
    }

    fn up(&mut self, origin: Origin) -> Result<(), ResolveError> {
        if self.dirs.pop().is_some() {
            return Ok(());
        }
        match origin {
            // A `..` the caller wrote is clamped at the root, like RESOLVE_IN_ROOT.
            Origin::Request => Ok(()),
            Origin::Link(i) => {
                let (link, target) = self.links[i].clone();
                Err(ResolveError::Escapes { link, target })
            }
        }
    }

    fn open_component(&self, name: &OsStr, is_last: bool) -> Result<OwnedFd, ResolveError> {
        let dir = self.current();
        let flags = OFlag::O_PATH | OFlag::O_NOFOLLOW;
        match sys::open_at(dir, name, flags, Mode::empty()) {
            Err(Errno::ENOENT) if self.create != Create::Nothing => {
                let kind = if is_last { self.create } else { Create::Dir };
                self.create_missing(dir, name, kind)
                    .map_err(|e| self.error(name, e))?;
                sys::open_at(dir, name, flags, Mode::empty()).map_err(|e| self.error(name, e))
            }
            other => other.map_err(|e| self.error(name, e)),
        }
    }

    /// Creates a missing component; losing a creation race to someone else is fine because the
    /// caller re-opens it with `O_NOFOLLOW` and treats whatever is there like any other entry.
    fn create_missing(&self, dir: BorrowedFd<'_>, name: &OsStr, kind: Create) -> Result<(), Errno> {
        let created = match kind {
            Create::Nothing => Err(Errno::ENOENT),
            Create::Dir => {
                nix_stat::mkdirat(Some(dir.as_raw_fd()), name, Mode::from_bits_truncate(0o755))
            }
            Create::File => sys::open_at(
                dir,
                name,
                OFlag::O_CREAT | OFlag::O_EXCL | OFlag::O_WRONLY | OFlag::O_NOFOLLOW,
                Mode::from_bits_truncate(0o644),
            )
            .map(drop),
        };
        match created {
            Err(Errno::EEXIST) => Ok(()),
            other => other,
        }
    }

    /// Reads the symlink `fd` (named `name` in the current directory) and records it; returns
    /// its index in `links` and its target.
    fn read_link(&mut self, fd: &OwnedFd, name: &OsStr) -> Result<(usize, PathBuf), ResolveError> {
        let link = self.here(name);
        if self.links.len() >= MAX_SYMLINKS {
            return Err(ResolveError::TooManyLinks);
        }
        let on_procfs = statfs::fstatfs(fd)
            .map_err(|e| self.error(name, e))?
            .filesystem_type()
            == PROC_SUPER_MAGIC;
        if on_procfs {
            return Err(ResolveError::ProcfsLink { link });
        }
        let target =
            fcntl::readlinkat(Some(fd.as_raw_fd()), "").map_err(|e| self.error(name, e))?;
        if target.is_empty() {
            return Err(self.error(name, Errno::ENOENT));
        }
        let target = PathBuf::from(target);
        self.links.push((link, target.clone()));
        Ok((self.links.len() - 1, target))
    }
}

/// The components of `path` as names: empty ones are dropped, `.` and `..` are kept, and a
/// trailing slash becomes a final `.` (the path must then name a directory).
fn names(path: &Path) -> Vec<OsString> {
    let bytes = path.as_os_str().as_bytes();
    let mut names: Vec<OsString> = bytes
        .split(|b| *b == b'/')
        .filter(|n| !n.is_empty())
        .map(|n| OsStr::from_bytes(n).to_os_string())
        .collect();
    if bytes.len() > 1 && bytes.ends_with(b"/") {
        names.push(OsString::from("."));
    }
    names
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    fn host_path(fd: &OwnedFd) -> PathBuf {
        std::fs::read_link(sys::fd_path(fd.as_fd())).unwrap()
    }

    fn setup() -> (tempfile::TempDir, PathBuf, Root) {
        let dir = tempfile::tempdir().unwrap();
        let root_path = dir.path().join("root");
        std::fs::create_dir_all(root_path.join("a/b")).unwrap();
        std::fs::write(root_path.join("a/file"), b"x").unwrap();
        std::fs::create_dir(dir.path().join("outside")).unwrap();
        let root_path = root_path.canonicalize().unwrap();
        let root = Root::open(&root_path).unwrap();
        (dir, root_path, root)
    }

    fn follow(root: &Root, path: &str) -> Result<OwnedFd, ResolveError> {
        root.resolve(Path::new(path), Create::Nothing, Last::Follow)
    }

    #[test]
    fn plain_paths_resolve_inside() {
        let (_d, root_path, root) = setup();
        assert_eq!(
            host_path(&follow(&root, "/a/b").unwrap()),
            root_path.join("a/b")
        );
        assert_eq!(
            host_path(&follow(&root, "a/./b/").unwrap()),
            root_path.join("a/b")
        );
        assert_eq!(host_path(&follow(&root, "/").unwrap()), root_path);
    }

    #[test]
    fn requested_dotdot_is_clamped_at_the_root() {
        let (_d, root_path, root) = setup();
        let fd = follow(&root, "/../../a/../../a/b/../..").unwrap();
        assert_eq!(host_path(&fd), root_path);
        assert_eq!(
            host_path(&follow(&root, "/../../a/./b/../").unwrap()),
            root_path.join("a")
        );
        assert!(follow(&root, "/../outside").unwrap_err().is_not_found());
    }

    #[test]
    fn absolute_symlinks_stay_inside() {
        let (dir, root_path, root) = setup();
        symlink("/a/b", root_path.join("abs")).unwrap();
        symlink("/", root_path.join("a/to-root")).unwrap();
        symlink(dir.path().join("outside"), root_path.join("host-abs")).unwrap();
        assert_eq!(
            host_path(&follow(&root, "/abs").unwrap()),
            root_path.join("a/b")
        );
        assert_eq!(
            host_path(&follow(&root, "/a/to-root/a").unwrap()),
            root_path.join("a")
        );
        // The host path is looked up inside the root, where it does not exist.
        assert!(follow(&root, "/host-abs").unwrap_err().is_not_found());
    }

    #[test]
    fn symlink_climbing_above_the_root_is_rejected() {
        let (_d, root_path, root) = setup();
        symlink("../outside", root_path.join("esc")).unwrap();
        symlink("../../../outside", root_path.join("a/b/deep")).unwrap();
        symlink("../a/b", root_path.join("a/sibling")).unwrap();
        for path in ["/esc", "/esc/x", "/a/b/deep", "/a/b/deep/x"] {
            let err = follow(&root, path).unwrap_err();
            assert!(matches!(err, ResolveError::Escapes { .. }), "{path}: {err}");
            assert!(err.to_string().starts_with("escapes the container root"));
        }
        // Relative links that stay inside are fine.
        assert_eq!(
            host_path(&follow(&root, "/a/sibling").unwrap()),
            root_path.join("a/b")
        );
        // Creation through an escaping link creates nothing anywhere.
        let err = root
            .resolve(Path::new("/esc/new"), Create::Dir, Last::Follow)
            .unwrap_err();
        assert!(matches!(err, ResolveError::Escapes { .. }));
        assert!(!root_path.join("outside").exists());
        assert!(!root_path.parent().unwrap().join("outside/new").exists());
    }

    #[test]
    fn final_symlink_is_returned_when_not_followed() {
        let (_d, root_path, root) = setup();
        symlink("/a", root_path.join("link")).unwrap();
        let fd = root
            .resolve(Path::new("/link"), Create::Nothing, Last::NoFollow)
            .unwrap();
        assert_eq!(sys::file_type(fd.as_fd()).unwrap(), SFlag::S_IFLNK);
    }

    #[test]
    fn creates_missing_dirs_and_files_in_root() {
        let (_d, root_path, root) = setup();
        symlink("/made", root_path.join("dangling")).unwrap();
        let fd = root
            .resolve(Path::new("/dangling/x/y"), Create::Dir, Last::Follow)
            .unwrap();
        assert_eq!(host_path(&fd), root_path.join("made/x/y"));
        let fd = root
            .resolve(Path::new("/new/dir/file"), Create::File, Last::Follow)
            .unwrap();
        assert_eq!(host_path(&fd), root_path.join("new/dir/file"));
        assert!(root_path.join("new/dir/file").is_file());
        let (dir, name) = root.parent_of(Path::new("/p/q/node")).unwrap();
        assert_eq!(host_path(&dir), root_path.join("p/q"));
        assert_eq!(name, "node");
        assert!(matches!(
            root.parent_of(Path::new("/a/..")),
            Err(ResolveError::NoFinalName)
        ));
    }

    #[test]
    fn symlink_loops_are_bounded() {
        let (_d, root_path, root) = setup();
        symlink("loop2", root_path.join("loop1")).unwrap();
        symlink("loop1", root_path.join("loop2")).unwrap();
        assert!(matches!(
            follow(&root, "/loop1"),
            Err(ResolveError::TooManyLinks)
        ));
    }

    #[test]
    fn intermediate_file_is_not_a_directory() {
        let (_d, _root_path, root) = setup();
        let err = follow(&root, "/a/file/x").unwrap_err();
        assert!(
            matches!(
                err,
                ResolveError::Sys {
                    errno: Errno::ENOTDIR,
                    ..
                }
            ),
            "{err}"
        );
        assert!(err.to_string().contains("/a/file/x"), "{err}");
    }

    #[test]
    fn procfs_links_are_not_followed() {
        let root = Root::open(Path::new("/")).unwrap();
        let err = follow(&root, "/proc/self/cwd").unwrap_err();
        assert!(matches!(err, ResolveError::ProcfsLink { .. }), "{err}");
    }

    mod properties {
        use super::*;
        use proptest::prelude::*;

        fn component() -> impl Strategy<Value = &'static str> {
            prop::sample::select(vec!["a", "b", "c", "..", ".", "l1", "l2", "l3"])
        }

        fn rel_path(max: usize) -> impl Strategy<Value = String> {
            prop::collection::vec(component(), 0..max).prop_map(|c| c.join("/"))
        }

        fn link_target() -> impl Strategy<Value = String> {
            (any::<bool>(), rel_path(5)).prop_map(|(abs, p)| if abs { format!("/{p}") } else { p })
        }

        /// Lexical model of "`..` is clamped at the root" for symlink-free paths.
        fn clamp(path: &str) -> PathBuf {
            let mut stack: Vec<&str> = Vec::new();
            for c in path.split('/') {
                match c {
                    "" | "." => {}
                    ".." => {
                        stack.pop();
                    }
                    name => stack.push(name),
                }
            }
            stack.iter().collect()
        }

        proptest! {
            /// Requested `..` never leaves the root: with creation on, the result is exactly
            /// the lexically clamped path below the root.
            #[test]
            fn dotdot_is_clamped(path in prop::collection::vec(
                prop::sample::select(vec!["a", "b", "..", "."]), 0..12)) {
                let (_d, root_path, root) = setup();
                let path = format!("/{}", path.join("/"));
                let fd = root.resolve(Path::new(&path), Create::Dir, Last::Follow).unwrap();
                prop_assert_eq!(host_path(&fd), root_path.join(clamp(&path)));
            }

            /// With arbitrary symlinks in the tree, resolution either lands inside the root on
            /// the same inode the kernel's RESOLVE_IN_ROOT finds, or fails; it fails with
            /// `Escapes` only where a link climbs, and otherwise agrees with the kernel's errno.
            #[test]
            fn symlinks_never_escape(
                links in prop::collection::vec((prop::sample::select(vec![
                    "l1", "a/l2", "a/b/l3", "c/l1"]), link_target()), 0..4),
                path in rel_path(8),
            ) {
                let (_d, root_path, root) = setup();
                std::fs::create_dir(root_path.join("c")).unwrap();
                for (at, target) in &links {
                    let _ = symlink(target, root_path.join(at));
                }
                let path = format!("/{path}");
                let ours = follow(&root, &path);
                let kernel = sys::open_beneath(
                    root.fd.as_fd(),
                    Path::new(&path),
                    OFlag::O_PATH,
                    fcntl::ResolveFlag::RESOLVE_IN_ROOT | fcntl::ResolveFlag::RESOLVE_NO_MAGICLINKS,
                );
                match ours {
                    Ok(fd) => {
                        prop_assert!(host_path(&fd).starts_with(&root_path));
                        let k = kernel.expect("kernel resolution failed where ours succeeded");
                        let (a, b) = (sys::fstat(fd.as_fd()).unwrap(), sys::fstat(k.as_fd()).unwrap());
                        prop_assert_eq!((a.st_dev, a.st_ino), (b.st_dev, b.st_ino));
                    }
                    Err(ResolveError::Escapes { .. }) => {}
                    Err(ResolveError::TooManyLinks) => prop_assert_eq!(kernel.err(), Some(Errno::ELOOP)),
                    Err(ResolveError::Sys { errno, .. }) => prop_assert_eq!(kernel.err(), Some(errno)),
                    Err(e) => prop_assert!(false, "unexpected error {}", e),
                }
                // Creating along the same path never writes outside the root.
                if let Ok(fd) = root.resolve(Path::new(&path), Create::Dir, Last::Follow) {
                    prop_assert!(host_path(&fd).starts_with(&root_path));
                }
                let outside = root_path.parent().unwrap().join("outside");
                prop_assert_eq!(std::fs::read_dir(outside).unwrap().count(), 0);
            }
        }
    }
}
