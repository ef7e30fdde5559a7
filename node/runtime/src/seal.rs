//! Sealed self-exec (CVE-2019-5736): before the runtime enters a container it re-executes
//! itself from a copy that nothing can write to, so a process inside the container that opens
//! `/proc/<pid>/exe` never reaches the host binary.
//!
//! The preferred copy costs nothing: the binary seen through a private, detached, lower-only
//! overlayfs mount. Such an overlay has no upper layer, so no remount can ever make a write
//! reach the host file. Where overlayfs or the mount API is unavailable (no privilege, old
//! kernel), the binary is copied into a memfd and sealed against writes and resizing.

use nix::errno::Errno;
use nix::fcntl::{fcntl, AtFlags, FcntlArg, OFlag, SealFlag};
use nix::sys::memfd::{memfd_create, MemFdCreateFlag};
use nix::sys::stat::Mode;
use nix::sys::statfs::{fstatfs, OVERLAYFS_SUPER_MAGIC};
use nix::sys::statvfs::{fstatvfs, FsFlags};
use nix::unistd::execveat;
use std::ffi::{CStr, CString};
use std::fs::File;
use std::io;
use std::os::fd::{AsFd, AsRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStringExt;
use std::path::Path;

use crate::error::{Context, Result, RuntimeError};
use crate::sys;

/// Every seal a memfd copy carries: no writes, no resizing, no further seal changes.
fn required_seals() -> SealFlag {
    SealFlag::F_SEAL_SEAL | SealFlag::F_SEAL_SHRINK | SealFlag::F_SEAL_GROW | SealFlag::F_SEAL_WRITE
}

/// True when `exe` is a fully sealed memfd or lives on a read-only overlayfs.
pub fn is_sealed_file(exe: &File) -> bool {
    let sealed_memfd = fcntl(exe.as_raw_fd(), FcntlArg::F_GET_SEALS)
        .is_ok_and(|bits| SealFlag::from_bits_truncate(bits).contains(required_seals()));
    let readonly_overlay = fstatfs(exe)
        .is_ok_and(|fs| fs.filesystem_type() == OVERLAYFS_SUPER_MAGIC)
        && fstatvfs(exe).is_ok_and(|vfs| vfs.flags().contains(FsFlags::ST_RDONLY));
    sealed_memfd || readonly_overlay
}

fn is_sealed() -> bool {
    File::open("/proc/self/exe").is_ok_and(|exe| is_sealed_file(&exe))
}

/// Re-executes the current command line from a sealed view of the binary unless already
/// running from one; `scratch` is an existing directory the overlay may use as its empty
/// bottom layer. Returns only when already sealed.
pub fn ensure_sealed(scratch: &Path) -> Result<()> {
    if is_sealed() {
        return Ok(());
    }
    let exe = match overlay_view(scratch) {
        Ok(fd) => fd,
        Err(err) => {
            tracing::debug!("overlay seal unavailable ({err}); copying into a memfd");
            memfd_copy()?
        }
    };
    let args = to_cstrings(std::env::args_os().map(|a| a.into_vec()));
    let env = to_cstrings(std::env::vars_os().map(|(k, v)| {
        let mut kv = k.into_vec();
        kv.push(b'=');
        kv.extend(v.into_vec());
        kv
    }));
    let err = match execveat(
        Some(exe.as_raw_fd()),
        c"",
        &args,
        &env,
        AtFlags::AT_EMPTY_PATH,
    ) {
        Err(err) => err,
        Ok(never) => match never {},
    };
    Err(err).context(|| "re-executing the sealed runtime".into())
}

/// The running binary seen through a detached overlayfs whose lower layers are the binary's
/// directory and `scratch`. Overlayfs needs two lower layers to run without an upper one.
pub fn overlay_view(scratch: &Path) -> Result<OwnedFd> {
    let exe = std::fs::read_link("/proc/self/exe").context(|| "reading /proc/self/exe".into())?;
    let (Some(dir), Some(name)) = (exe.parent(), exe.file_name()) else {
        return Err(RuntimeError::Init(format!(
            "odd executable path {}",
            exe.display()
        )));
    };
    let fs = fsopen(c"overlay")?;
    let lower = format!("{}:{}", escape_lowerdir(dir), escape_lowerdir(scratch));
    fsconfig_string(&fs, c"lowerdir", &lower)?;
    // Only to avoid kernel log noise when the layers sit on different filesystems.
    let _ = fsconfig_string(&fs, c"xino", "off");
    fsconfig_create(&fs)?;
    let mnt = fsmount(&fs)?;
    sys::open_at(mnt.as_fd(), name, OFlag::O_PATH, Mode::empty())
        .context(|| "opening the runtime through its overlay".into())
}

/// Overlayfs separates lower layers with ':' and escapes with '\\'.
fn escape_lowerdir(path: &Path) -> String {
    path.to_string_lossy()
        .replace('\\', "\\\\")
        .replace(':', "\\:")
}

fn syscall_fd(ret: libc::c_long, what: &str) -> Result<OwnedFd> {
    if ret < 0 {
        return Err(Errno::last()).context(|| what.into());
    }
    let fd = RawFd::try_from(ret).map_err(|_| RuntimeError::Init(format!("{what}: bad fd")))?;
    Ok(sys::take(fd))
}

fn fsopen(fs_type: &CStr) -> Result<OwnedFd> {
    const FSOPEN_CLOEXEC: libc::c_uint = 1;
    // SAFETY: fsopen reads the NUL-terminated name and returns a new fd or -1.
    let ret = unsafe { libc::syscall(libc::SYS_fsopen, fs_type.as_ptr(), FSOPEN_CLOEXEC) };
    syscall_fd(ret, "fsopen(overlay)")
}

fn fsconfig_string(fs: &OwnedFd, key: &CStr, value: &str) -> Result<()> {
    const FSCONFIG_SET_STRING: libc::c_uint = 1;
    let value = CString::new(value)
        .map_err(|_| RuntimeError::Init("overlay option contains NUL".into()))?;
    // SAFETY: fsconfig reads the two NUL-terminated strings; both outlive the call.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_fsconfig,
            fs.as_raw_fd(),
            FSCONFIG_SET_STRING,
            key.as_ptr(),
            value.as_ptr(),
            0,
        )
    };
    Errno::result(ret)
        .map(drop)
        .context(|| format!("fsconfig {key:?}"))
}

fn fsconfig_create(fs: &OwnedFd) -> Result<()> {
    const FSCONFIG_CMD_CREATE: libc::c_uint = 6;
    // SAFETY: the create command takes no pointers.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_fsconfig,
            fs.as_raw_fd(),
            FSCONFIG_CMD_CREATE,
            std::ptr::null::<libc::c_char>(),
            std::ptr::null::<libc::c_char>(),
            0,
        )
    };
    Errno::result(ret)
        .map(drop)
        .context(|| "creating the overlay".into())
}

fn fsmount(fs: &OwnedFd) -> Result<OwnedFd> {
    const FSMOUNT_CLOEXEC: libc::c_uint = 1;
    const MOUNT_ATTR_NOSUID: libc::c_uint = 0x2;
    const MOUNT_ATTR_NODEV: libc::c_uint = 0x4;
    // SAFETY: fsmount takes only integers and returns a new fd or -1.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_fsmount,
            fs.as_raw_fd(),
            FSMOUNT_CLOEXEC,
            MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV,
        )
    };
    syscall_fd(ret, "fsmount(overlay)")
}

/// The running binary copied into a memfd with every write seal set.
pub fn memfd_copy() -> Result<OwnedFd> {
    let memfd = create_memfd()?;
    let mut copy = File::from(memfd);
    let mut exe = File::open("/proc/self/exe").context(|| "opening /proc/self/exe".into())?;
    io::copy(&mut exe, &mut copy).context(|| "copying the runtime binary".into())?;
    fcntl(copy.as_raw_fd(), FcntlArg::F_ADD_SEALS(required_seals()))
        .context(|| "sealing the runtime copy".into())?;
    Ok(copy.into())
}

fn create_memfd() -> Result<OwnedFd> {
    // MFD_EXEC (Linux 6.3+) keeps the copy executable when vm.memfd_noexec asks otherwise.
    const MFD_EXEC: libc::c_uint = 0x10;
    let name = c"berth-runtime";
    let base = MemFdCreateFlag::MFD_CLOEXEC | MemFdCreateFlag::MFD_ALLOW_SEALING;
    match memfd_create(name, base | MemFdCreateFlag::from_bits_retain(MFD_EXEC)) {
        Err(Errno::EINVAL) => memfd_create(name, base),
        other => other,
    }
    .context(|| "creating the sealed runtime copy".into())
}

fn to_cstrings(items: impl Iterator<Item = Vec<u8>>) -> Vec<CString> {
    // Arguments and environment strings from the kernel never contain NUL bytes.
    items.filter_map(|bytes| CString::new(bytes).ok()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;
    use std::os::unix::fs::MetadataExt;

    /// Reopens an O_PATH handle for reading, as `/proc/<pid>/exe` would be opened.
    fn reopen(fd: &OwnedFd, flags: libc::c_int) -> io::Result<File> {
        std::fs::OpenOptions::new()
            .read(flags == libc::O_RDONLY)
            .write(flags == libc::O_WRONLY)
            .open(format!("/proc/self/fd/{}", fd.as_raw_fd()))
    }

    #[test]
    fn memfd_copy_is_sealed_and_identical() {
        let copy = memfd_copy().unwrap();
        let file = reopen(&copy, libc::O_RDONLY).unwrap();
        assert!(is_sealed_file(&file));
        let original = std::fs::read("/proc/self/exe").unwrap();
        assert_eq!(
            std::fs::read(format!("/proc/self/fd/{}", copy.as_raw_fd())).unwrap(),
            original
        );
        let mut writable = File::from(copy);
        assert!(
            writable.write_all(b"x").is_err(),
            "the sealed copy took a write"
        );
    }

    #[test]
    fn overlay_view_is_read_only_and_not_the_host_file() {
        let scratch = tempfile::tempdir().unwrap();
        let view = overlay_view(scratch.path()).unwrap();
        let file = reopen(&view, libc::O_RDONLY).unwrap();
        assert!(is_sealed_file(&file));
        let host = std::fs::metadata("/proc/self/exe").unwrap();
        let seen = file.metadata().unwrap();
        assert_ne!((seen.dev(), seen.ino()), (host.dev(), host.ino()));
        assert_eq!(seen.len(), host.len());
        let err = reopen(&view, libc::O_WRONLY).unwrap_err();
        assert_eq!(err.raw_os_error(), Some(libc::EROFS), "{err}");
    }

    #[test]
    fn lowerdir_separators_are_escaped() {
        assert_eq!(escape_lowerdir(Path::new("/a:b\\c")), "/a\\:b\\\\c");
    }
}
