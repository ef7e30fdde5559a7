//! Loading a program with seccomp(2).

use nix::errno::Errno;
use oci_spec::runtime::LinuxSeccompFilterFlag;
use seccompiler::sock_filter;

use super::SeccompError;

/// The `seccomp(2)` flags for the spec's `flags`.
pub(super) fn flags(spec_flags: &[LinuxSeccompFilterFlag]) -> Result<libc::c_ulong, SeccompError> {
    spec_flags.iter().try_fold(0, |flags, flag| {
        let bit = match flag {
            LinuxSeccompFilterFlag::SeccompFilterFlagLog => libc::SECCOMP_FILTER_FLAG_LOG,
            LinuxSeccompFilterFlag::SeccompFilterFlagTsync => libc::SECCOMP_FILTER_FLAG_TSYNC,
            LinuxSeccompFilterFlag::SeccompFilterFlagSpecAllow => {
                libc::SECCOMP_FILTER_FLAG_SPEC_ALLOW
            }
            // Only valid together with a notification listener, which is not supported.
            LinuxSeccompFilterFlag::SeccompFilterFlagWaitKillableRecv => {
                return Err(SeccompError::UnsupportedFlag(*flag));
            }
        };
        Ok(flags | bit)
    })
}

/// `seccomp(SECCOMP_SET_MODE_FILTER, flags, program)`, without allocating. Unlike seccompiler's
/// `apply_filter`, it neither forces `no_new_privs` (CAP_SYS_ADMIN suffices) nor drops flags.
pub(super) fn load(filter: &[sock_filter], flags: libc::c_ulong) -> Result<(), SeccompError> {
    let program = libc::sock_fprog {
        len: u16::try_from(filter.len())
            .map_err(|_| SeccompError::ProgramTooLarge(filter.len()))?,
        // The kernel only reads through this pointer.
        filter: filter.as_ptr().cast::<libc::sock_filter>().cast_mut(),
    };
    // SAFETY: seccompiler's sock_filter is #[repr(C)] with the fields of the kernel's struct
    // sock_filter (u16, u8, u8, u32), so the cast pointer addresses `len` valid instructions.
    // The kernel copies the program during the call; `program` and `filter` outlive it.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_seccomp,
            libc::c_ulong::from(libc::SECCOMP_SET_MODE_FILTER),
            flags,
            &program as *const libc::sock_fprog,
        )
    };
    match rc {
        0 => Ok(()),
        -1 => Err(SeccompError::Install(Errno::last())),
        // With TSYNC, a positive result is the thread that could not be synchronized.
        thread => Err(SeccompError::ThreadSync(thread)),
    }
}
