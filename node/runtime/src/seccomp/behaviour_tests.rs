//! Real kernel behaviour: install compiled programs in forked children and make syscalls.
//!
//! The test harness is multithreaded, so between `fork` and `_exit` a child only makes raw
//! syscalls and never allocates: everything it needs is prepared before forking. A child reports
//! through its exit status: 0 when every check passed, otherwise the number of the failed check.

use std::ffi::CString;

use nix::sys::signal::Signal;
use nix::sys::wait::{waitpid, WaitStatus};
use nix::unistd::{fork, ForkResult};
use oci_spec::runtime::{Capability, LinuxSeccomp};

use super::docker_profile::tests::DOCKER_CAPS;
use super::{arch, compile, docker_default_profile, SeccompProgram};

/// Exit status of a child whose filter could not be installed.
const INSTALL_FAILED: i32 = 200;

/// Forks, installs `program` in the child (after no_new_privs, like the runtime), runs `body`
/// and exits with its result. Returns how the child ended.
fn in_filtered_child(program: &SeccompProgram, body: impl Fn() -> i32) -> WaitStatus {
    // SAFETY: the child only makes async-signal-safe calls (setrlimit, prctl, seccomp, raw
    // syscalls, execv, _exit) and does not allocate, so the harness's other threads cannot
    // have left it a lock it needs.
    match unsafe { fork() }.unwrap() {
        ForkResult::Child => {
            let no_core_dumps = libc::rlimit {
                rlim_cur: 0,
                rlim_max: 0,
            };
            // SAFETY: plain syscalls on valid arguments.
            let no_new_privs = unsafe {
                libc::setrlimit(libc::RLIMIT_CORE, &no_core_dumps);
                libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)
            };
            let code = if no_new_privs == 0 && program.install().is_ok() {
                body()
            } else {
                INSTALL_FAILED
            };
            // SAFETY: _exit ends the child without running the parent's atexit handlers.
            unsafe { libc::_exit(code) }
        }
        ForkResult::Parent { child } => waitpid(child, None).unwrap(),
    }
}

fn spec(json: &str) -> LinuxSeccomp {
    serde_json::from_str(json).unwrap()
}

fn nr(name: &str) -> libc::c_long {
    libc::c_long::from(arch::syscall_number(name).unwrap())
}

/// errno of a raw syscall's result, 0 if it succeeded.
fn errno_of(result: libc::c_long) -> i32 {
    if result == -1 {
        nix::errno::Errno::last_raw()
    } else {
        0
    }
}

/// Returns the number of the first failed check, or 0.
fn first_failure(checks: &[bool]) -> i32 {
    checks
        .iter()
        .position(|ok| !ok)
        .map_or(0, |index| index as i32 + 1)
}

/// Runs `/bin/busybox true`; only returns (with `failure`) if execv fails.
fn exec_true(argv: &[*const libc::c_char; 3], failure: i32) -> i32 {
    // SAFETY: argv is a null-terminated array of pointers to live C strings.
    unsafe { libc::execv(argv[0], argv.as_ptr()) };
    failure
}

fn assert_exited(status: WaitStatus, code: i32) {
    assert!(
        matches!(status, WaitStatus::Exited(_, c) if c == code),
        "{status:?}, expected exit {code}"
    );
}

fn assert_sigsys(status: WaitStatus) {
    assert!(
        matches!(status, WaitStatus::Signaled(_, Signal::SIGSYS, _)),
        "{status:?}, expected SIGSYS"
    );
}

#[test]
fn errno_rule_returns_the_configured_errno() {
    let dir = tempfile::tempdir().unwrap();
    let blocked = dir.path().join("blocked");
    let path = CString::new(blocked.to_str().unwrap()).unwrap();
    let program = compile(&spec(
        r#"{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
            {"names": ["mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 99}]}"#,
    ))
    .unwrap();
    let status = in_filtered_child(&program, || {
        // SAFETY: raw syscall with a live C string.
        errno_of(unsafe { libc::syscall(libc::SYS_mkdirat, libc::AT_FDCWD, path.as_ptr(), 0o755) })
    });
    assert_exited(status, 99);
    assert!(!blocked.exists());
}

#[test]
fn argument_filters_compare_all_64_bits() {
    // dup3(1000, >= 2000, _) gets EBADFD; umask with every owner bit set gets ENOTSOCK.
    let program = compile(&spec(
        r#"{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
            {"names": ["dup3"], "action": "SCMP_ACT_ERRNO", "errnoRet": 77, "args": [
                {"index": 0, "value": 1000, "op": "SCMP_CMP_EQ"},
                {"index": 1, "value": 2000, "op": "SCMP_CMP_GE"}]},
            {"names": ["umask"], "action": "SCMP_ACT_ERRNO", "errnoRet": 88, "args": [
                {"index": 0, "value": 448, "valueTwo": 448, "op": "SCMP_CMP_MASKED_EQ"}]}]}"#,
    ))
    .unwrap();
    let status = in_filtered_child(&program, || {
        // SAFETY: raw syscalls on plain integers; dup3 on a closed fd only fails.
        let dup3 =
            |old: u64, new: u64| errno_of(unsafe { libc::syscall(libc::SYS_dup3, old, new, 0) });
        // SAFETY: as above.
        let umask = |mask: u64| errno_of(unsafe { libc::syscall(libc::SYS_umask, mask) });
        first_failure(&[
            dup3(1000, 2000) == 77,
            dup3(1000, 5000) == 77,
            // The filter lets it through; the kernel reports the closed fd.
            dup3(1000, 1999) == libc::EBADF,
            // The kernel truncates fds to 32 bits, the filter does not: no match.
            dup3(1000 | 1 << 32, 2000) == libc::EBADF,
            umask(0o022) == 0,
            umask(0o700) == 88,
            umask(0o755) == 88,
            umask(0o600) == 0,
        ])
    });
    assert_exited(status, 0);
}

#[test]
fn kill_and_trap_actions_end_the_process_with_sigsys() {
    for action in [
        "SCMP_ACT_KILL",
        "SCMP_ACT_KILL_THREAD",
        "SCMP_ACT_KILL_PROCESS",
        "SCMP_ACT_TRAP",
    ] {
        let program = compile(&spec(&format!(
            r#"{{"defaultAction": "SCMP_ACT_ALLOW",
                "syscalls": [{{"names": ["getppid"], "action": "{action}"}}]}}"#
        )))
        .unwrap();
        let status = in_filtered_child(&program, || {
            // SAFETY: getppid has no arguments.
            unsafe { libc::syscall(libc::SYS_getppid) };
            1
        });
        assert_sigsys(status);
    }
}

#[test]
fn default_action_applies_to_unlisted_syscalls() {
    // futex_waitv is listed so that getppid is below the highest listed syscall (no ENOSYS stub).
    let program = compile(&spec(
        r#"{"defaultAction": "SCMP_ACT_KILL_PROCESS", "syscalls": [
            {"names": ["getpid", "exit_group", "futex_waitv"], "action": "SCMP_ACT_ALLOW"}]}"#,
    ))
    .unwrap();
    let status = in_filtered_child(&program, || {
        // SAFETY: argument-less syscalls.
        unsafe {
            libc::syscall(libc::SYS_getpid);
            libc::syscall(libc::SYS_getppid);
        }
        1
    });
    assert_sigsys(status);
}

#[test]
fn syscalls_newer_than_the_profile_get_enosys() {
    let program = compile(&spec(
        r#"{"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [
            {"names": ["exit_group", "close_range"], "action": "SCMP_ACT_ALLOW"}]}"#,
    ))
    .unwrap();
    let (older, newer) = (nr("getppid"), nr("futex_waitv"));
    assert!(older < nr("close_range") && nr("close_range") < newer);
    let status = in_filtered_child(&program, || {
        // SAFETY: getppid takes no arguments; futex_waitv never runs (and would only read a
        // null pointer, failing with EFAULT/EINVAL).
        let older = errno_of(unsafe { libc::syscall(older) });
        // SAFETY: as above.
        let newer = errno_of(unsafe { libc::syscall(newer, 0, 0, 0, 0, 0) });
        first_failure(&[older == libc::EPERM, newer == libc::ENOSYS])
    });
    assert_exited(status, 0);
}

#[test]
fn default_allow_profile_with_flags_runs_a_program() {
    let busybox = CString::new("/bin/busybox").unwrap();
    let true_ = CString::new("true").unwrap();
    let argv = [busybox.as_ptr(), true_.as_ptr(), std::ptr::null()];
    let program = compile(&spec(
        r#"{"defaultAction": "SCMP_ACT_ALLOW", "flags": ["SECCOMP_FILTER_FLAG_LOG",
            "SECCOMP_FILTER_FLAG_SPEC_ALLOW", "SECCOMP_FILTER_FLAG_TSYNC"]}"#,
    ))
    .unwrap();
    assert_exited(in_filtered_child(&program, || exec_true(&argv, 1)), 0);
}

#[test]
fn docker_profile_blocks_namespaces_and_keyrings_but_runs_programs() {
    let busybox = CString::new("/bin/busybox").unwrap();
    let true_ = CString::new("true").unwrap();
    let argv = [busybox.as_ptr(), true_.as_ptr(), std::ptr::null()];
    let program = compile(&docker_default_profile(DOCKER_CAPS)).unwrap();
    let (clone3, io_uring_setup, userfaultfd) =
        (nr("clone3"), nr("io_uring_setup"), nr("userfaultfd"));
    let status = in_filtered_child(&program, || {
        // SAFETY: raw syscalls with integer arguments and null pointers; the blocked ones never
        // reach the kernel, the allowed ones (socket, personality, getpid) are harmless.
        let call = |nr: libc::c_long, a: libc::c_long, b: libc::c_long| unsafe {
            libc::syscall(nr, a, b, 0, 0, 0, 0)
        };
        let eperm = |nr, a, b| errno_of(call(nr, a, b)) == libc::EPERM;
        let unix_socket = call(
            libc::SYS_socket,
            libc::AF_UNIX.into(),
            libc::SOCK_STREAM.into(),
        );
        let checks = [
            eperm(libc::SYS_unshare, libc::CLONE_NEWUTS.into(), 0),
            eperm(libc::SYS_keyctl, 0, -3), // KEYCTL_GET_KEYRING_ID, KEY_SPEC_SESSION_KEYRING
            eperm(libc::SYS_add_key, 0, 0),
            eperm(libc::SYS_mount, 0, 0),
            eperm(libc::SYS_setns, 0, libc::CLONE_NEWNET.into()),
            eperm(
                libc::SYS_clone,
                (libc::CLONE_NEWNS | libc::SIGCHLD).into(),
                0,
            ),
            errno_of(call(clone3, 0, 0)) == libc::ENOSYS,
            eperm(
                libc::SYS_socket,
                libc::AF_VSOCK.into(),
                libc::SOCK_STREAM.into(),
            ),
            unix_socket >= 0,
            call(libc::SYS_personality, 0xffff_ffff, 0) >= 0,
            eperm(libc::SYS_personality, libc::ADDR_NO_RANDOMIZE.into(), 0),
            eperm(io_uring_setup, 1, 0),
            eperm(userfaultfd, 0, 0),
            eperm(libc::SYS_bpf, 0, 0),
            call(libc::SYS_getpid, 0, 0) > 0,
        ];
        match first_failure(&checks) {
            0 => exec_true(&argv, checks.len() as i32 + 1),
            failed => failed,
        }
    });
    assert_exited(status, 0);
}

#[test]
fn docker_profile_with_sys_admin_allows_unshare_and_clone3() {
    let mut caps = DOCKER_CAPS.to_vec();
    caps.push(Capability::SysAdmin);
    let program = compile(&docker_default_profile(&caps)).unwrap();
    let clone3 = nr("clone3");
    let status = in_filtered_child(&program, || {
        // SAFETY: unshare only affects this child; clone3 with a null, zero-sized argument is
        // refused by the kernel with EINVAL before creating anything.
        let unshare = errno_of(unsafe { libc::syscall(libc::SYS_unshare, libc::CLONE_NEWUTS) });
        // SAFETY: as above.
        let clone3 = errno_of(unsafe { libc::syscall(clone3, 0, 0) });
        first_failure(&[unshare == 0, clone3 == libc::EINVAL])
    });
    assert_exited(status, 0);
}

#[cfg(target_arch = "x86_64")]
mod foreign_abi {
    use super::*;

    /// getpid through the i386 entry point (`int 0x80`, i386 syscall 20).
    fn i386_getpid() -> i32 {
        let result: i64;
        // SAFETY: int 0x80 from 64-bit code runs an i386 syscall; getpid takes no arguments.
        // The kernel may clobber r8-r11.
        unsafe {
            std::arch::asm!("int 0x80", inlateout("rax") 20i64 => result,
                out("r8") _, out("r9") _, out("r10") _, out("r11") _, options(nostack));
        }
        i32::from(result <= 0)
    }

    #[test]
    fn x32_and_i386_syscalls_are_killed() {
        let allow_all = compile(&spec(r#"{"defaultAction": "SCMP_ACT_ALLOW"}"#)).unwrap();
        let x32_getpid = libc::SYS_getpid | 0x4000_0000;
        let status = in_filtered_child(&allow_all, || {
            // SAFETY: argument-less syscall.
            unsafe { libc::syscall(x32_getpid) };
            1
        });
        assert_sigsys(status);

        // Kernels can be built or booted without i386 emulation: check it works unfiltered.
        // SAFETY: the child only runs int 0x80 and _exit.
        let unfiltered = match unsafe { fork() }.unwrap() {
            // SAFETY: _exit is always safe to call; it does not return.
            ForkResult::Child => unsafe { libc::_exit(i386_getpid()) },
            ForkResult::Parent { child } => waitpid(child, None).unwrap(),
        };
        if !matches!(unfiltered, WaitStatus::Exited(_, 0)) {
            eprintln!("no i386 emulation ({unfiltered:?}); skipping the int 0x80 check");
            return;
        }
        assert_sigsys(in_filtered_child(&allow_all, i386_getpid));
    }
}
