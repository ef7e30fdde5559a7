//! Sealed self-exec (CVE-2019-5736): before the runtime enters a container it re-executes
//! itself from a sealed, anonymous memfd copy. A process inside the container that opens
//! `/proc/<pid>/exe` then reaches an immutable copy, never the host binary.

use nix::errno::Errno;
use nix::fcntl::{fcntl, FcntlArg, SealFlag};
use nix::sys::memfd::{memfd_create, MemFdCreateFlag};
use nix::unistd::fexecve;
use std::ffi::CString;
use std::fs::File;
use std::io;
use std::os::fd::AsRawFd;
use std::os::unix::ffi::OsStringExt;

use crate::error::{Context, Result};

/// Every seal: no writes, no resizing, no further seal changes.
fn required_seals() -> SealFlag {
    SealFlag::F_SEAL_SEAL | SealFlag::F_SEAL_SHRINK | SealFlag::F_SEAL_GROW | SealFlag::F_SEAL_WRITE
}

/// True when the running executable is a memfd carrying all the required seals.
pub fn is_sealed() -> bool {
    let Ok(exe) = File::open("/proc/self/exe") else {
        return false;
    };
    fcntl(exe.as_raw_fd(), FcntlArg::F_GET_SEALS)
        .map(|bits| SealFlag::from_bits_truncate(bits).contains(required_seals()))
        .unwrap_or(false)
}

/// Re-executes the current command line from a sealed copy unless already running from one.
/// Returns only when already sealed.
pub fn ensure_sealed() -> Result<()> {
    if is_sealed() {
        return Ok(());
    }
    let memfd = create_memfd()?;
    let mut copy = File::from(memfd);
    let mut exe = File::open("/proc/self/exe").context(|| "opening /proc/self/exe".into())?;
    io::copy(&mut exe, &mut copy).context(|| "copying the runtime binary".into())?;
    fcntl(copy.as_raw_fd(), FcntlArg::F_ADD_SEALS(required_seals()))
        .context(|| "sealing the runtime copy".into())?;
    let args = to_cstrings(std::env::args_os().map(|a| a.into_vec()));
    let env = to_cstrings(std::env::vars_os().map(|(k, v)| {
        let mut kv = k.into_vec();
        kv.push(b'=');
        kv.extend(v.into_vec());
        kv
    }));
    let err = fexecve(copy.as_raw_fd(), &args, &env).unwrap_err();
    Err(err).context(|| "re-executing the sealed runtime".into())
}

fn create_memfd() -> Result<std::os::fd::OwnedFd> {
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
