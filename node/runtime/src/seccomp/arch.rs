//! The host architecture as seccomp sees it.

use oci_spec::runtime::Arch;

// AUDIT_ARCH_* from linux/audit.h: ELF machine | __AUDIT_ARCH_64BIT | __AUDIT_ARCH_LE.
const AUDIT_ARCH_64BIT_LE: u32 = 0x8000_0000 | 0x4000_0000;

/// `AUDIT_ARCH_*` value the kernel reports for native syscalls, `None` if unsupported.
#[cfg(target_arch = "x86_64")]
pub(super) const AUDIT_ARCH: Option<u32> = Some(62 | AUDIT_ARCH_64BIT_LE);
#[cfg(target_arch = "aarch64")]
pub(super) const AUDIT_ARCH: Option<u32> = Some(183 | AUDIT_ARCH_64BIT_LE);
#[cfg(target_arch = "riscv64")]
pub(super) const AUDIT_ARCH: Option<u32> = Some(243 | AUDIT_ARCH_64BIT_LE);
#[cfg(not(any(
    target_arch = "x86_64",
    target_arch = "aarch64",
    target_arch = "riscv64"
)))]
pub(super) const AUDIT_ARCH: Option<u32> = None;

/// The OCI name of the native architecture, for generated profiles.
#[cfg(target_arch = "x86_64")]
pub(super) const OCI_ARCH: Option<Arch> = Some(Arch::ScmpArchX86_64);
#[cfg(target_arch = "aarch64")]
pub(super) const OCI_ARCH: Option<Arch> = Some(Arch::ScmpArchAarch64);
#[cfg(target_arch = "riscv64")]
pub(super) const OCI_ARCH: Option<Arch> = Some(Arch::ScmpArchRiscv64);
#[cfg(not(any(
    target_arch = "x86_64",
    target_arch = "aarch64",
    target_arch = "riscv64"
)))]
pub(super) const OCI_ARCH: Option<Arch> = None;

/// On x86_64, x32-ABI syscalls share AUDIT_ARCH_X86_64 and are told apart by this bit of the
/// syscall number; they must be treated as a foreign ABI.
pub(super) const X32_SYSCALL_BIT: Option<u32> = if cfg!(target_arch = "x86_64") {
    Some(0x4000_0000)
} else {
    None
};

/// Native syscall number for `name`, `None` if this architecture has no such syscall.
pub(super) fn syscall_number(name: &str) -> Option<u32> {
    let sysno: syscalls::Sysno = name.parse().ok()?;
    u32::try_from(sysno.id()).ok()
}
