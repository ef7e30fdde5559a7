//! Seccomp: compiles an OCI `linux.seccomp` section into one classic-BPF program and installs it.
//!
//! # Why one hand-emitted program rather than stacked seccompiler filters
//!
//! A `seccompiler::SeccompFilter` has a single match action, while an OCI profile gives every rule
//! its own action (ALLOW, ERRNO with different errnos, KILL, TRACE, ...). Stacking one filter per
//! action would reproduce the per-syscall outcome (the kernel keeps the highest-precedence result
//! of all filters), but the first filter installed already applies to the `seccomp(2)` calls that
//! install the others, so a profile that denies `seccomp` could not be loaded, and every syscall
//! would run through several programs. So `bpf.rs` emits a single program itself, reusing
//! seccompiler's instruction type ([`seccompiler::sock_filter`]), return-value encoding
//! ([`seccompiler::SeccompAction`]) and comparison operators ([`seccompiler::SeccompCmpOp`]).
//!
//! # Semantics (runc + libseccomp compatible)
//!
//! * Only the native architecture is compiled. Syscalls from another ABI (i386 `int 0x80`, x32,
//!   AArch32) hit the "bad architecture" action, `KILL_PROCESS`, whatever `architectures` says.
//! * Rules for the same syscall are ORed; the arguments of one rule are ANDed, except that a rule
//!   naming the same argument index twice has its arguments ORed (runc's compatibility rule).
//! * When several rules match, the action the kernel ranks highest wins (KILL_PROCESS >
//!   KILL_THREAD > TRAP > ERRNO > TRACE > LOG > ALLOW), ties going to the rule listed first.
//!   Rules whose action equals the default action are dropped, as runc does.
//! * Unknown syscall names are skipped with a warning. When the default action blocks, syscalls
//!   numbered above every syscall the profile names get `ENOSYS` (runc's stub), so that libc
//!   falls back from syscalls newer than the profile instead of failing with `EPERM`.
//! * `SCMP_ACT_NOTIFY`, `listenerPath` and `SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV` (which only
//!   makes sense with a listener) are rejected.

mod arch;
mod bpf;
mod docker_profile;
mod install;
mod policy;

#[cfg(test)]
mod behaviour_tests;
#[cfg(test)]
mod compile_tests;
#[cfg(test)]
mod model_tests;

use oci_spec::runtime::{LinuxSeccomp, LinuxSeccompFilterFlag};
use seccompiler::sock_filter;

pub use docker_profile::docker_default_profile;

/// Why a seccomp profile could not be compiled or installed.
#[derive(Debug, thiserror::Error)]
pub enum SeccompError {
    #[error("seccomp action SCMP_ACT_NOTIFY is not supported (berth has no seccomp agent)")]
    NotifyUnsupported,
    #[error("seccomp listenerPath is not supported (berth has no seccomp agent)")]
    ListenerUnsupported,
    #[error("seccomp flag {0} is not supported")]
    UnsupportedFlag(LinuxSeccompFilterFlag),
    #[error("seccomp rule for {syscalls}: argument index {index} is out of range (0..=5)")]
    ArgIndexOutOfRange { syscalls: String, index: usize },
    #[error("seccomp errno/trace return value {0} does not fit in 16 bits")]
    ReturnValueOutOfRange(u32),
    #[error("seccomp program needs {0} instructions, more than the kernel limit of 4096")]
    ProgramTooLarge(usize),
    #[error("seccomp is not supported on the {0} architecture")]
    UnsupportedArch(&'static str),
    #[error("seccomp(SECCOMP_SET_MODE_FILTER) failed: {0}")]
    Install(#[source] nix::errno::Errno),
    #[error("seccomp TSYNC failed: thread {0} could not be synchronized")]
    ThreadSync(libc::c_long),
}

/// A compiled seccomp-BPF program and the `seccomp(2)` flags to install it with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeccompProgram {
    filter: Vec<sock_filter>,
    flags: libc::c_ulong,
}

/// Compiles `spec` for the host architecture.
pub fn compile(spec: &LinuxSeccomp) -> Result<SeccompProgram, SeccompError> {
    let flags = install::flags(spec.flags().as_deref().unwrap_or_default())?;
    let policy = policy::Policy::from_spec(spec)?;
    let filter = bpf::emit(&policy)?;
    Ok(SeccompProgram { filter, flags })
}

impl SeccompProgram {
    /// Installs the program on the calling thread (all threads with TSYNC). The caller must have
    /// set `no_new_privs` or hold CAP_SYS_ADMIN. Does not allocate, so it is safe after `fork`.
    pub fn install(&self) -> Result<(), SeccompError> {
        install::load(&self.filter, self.flags)
    }

    /// Number of BPF instructions, for logs and diagnostics.
    pub fn instruction_count(&self) -> usize {
        self.filter.len()
    }
}
