//! Docker's default seccomp profile (moby `profiles/seccomp/default.json`), as a table.
//!
//! Default action ERRNO(EPERM); an allow list; argument filters for `socket`, `personality` and
//! `clone`; groups unlocked by capabilities. Names a given architecture lacks (32-bit variants,
//! other architectures' syscalls) are dropped when the profile is built, so compiling it warns
//! about nothing. Never allowed, whatever the capabilities (SECURITY.md item 20; privileged
//! containers run without seccomp instead): keyctl, add_key, request_key, userfaultfd, kexec_*,
//! io_uring_* (moby removed io_uring in 2023). bpf, perf_event_open, unshare and mount need
//! CAP_SYS_ADMIN (or CAP_BPF / CAP_PERFMON for the first two), as in moby.

use oci_spec::runtime::{
    Capability, LinuxSeccomp, LinuxSeccompAction, LinuxSeccompArg, LinuxSeccompArgBuilder,
    LinuxSeccompOperator, LinuxSyscall,
};

use super::arch;

/// Docker's profile for a container holding `caps`.
pub fn docker_default_profile(caps: &[Capability]) -> LinuxSeccomp {
    let syscalls: Vec<LinuxSyscall> = GROUPS
        .iter()
        .filter(|group| group.when.holds(caps))
        .filter_map(Group::to_oci)
        .collect();
    let mut profile = LinuxSeccomp::default();
    profile
        .set_default_action(LinuxSeccompAction::ScmpActErrno)
        .set_default_errno_ret(Some(libc::EPERM as u32))
        .set_architectures(arch::OCI_ARCH.map(|native| vec![native]))
        .set_syscalls(Some(syscalls));
    profile
}

/// Syscalls sharing an action, argument filter and capability condition.
struct Group {
    when: When,
    names: &'static [&'static str],
    action: LinuxSeccompAction,
    errno_ret: Option<u32>,
    args: &'static [Arg],
}

/// Which containers a group applies to.
enum When {
    Always,
    Has(Capability),
    Lacks(Capability),
}

/// One argument comparison, as in the OCI spec.
struct Arg {
    index: usize,
    value: u64,
    value_two: Option<u64>,
    op: LinuxSeccompOperator,
}

impl When {
    fn holds(&self, caps: &[Capability]) -> bool {
        match self {
            When::Always => true,
            When::Has(cap) => caps.contains(cap),
            When::Lacks(cap) => !caps.contains(cap),
        }
    }
}

impl Group {
    /// The OCI entry for the syscalls of this group the host has, if any.
    fn to_oci(&self) -> Option<LinuxSyscall> {
        let names: Vec<String> = self
            .names
            .iter()
            .filter(|name| arch::syscall_number(name).is_some())
            .map(|name| name.to_string())
            .collect();
        if names.is_empty() {
            return None;
        }
        let args = self.args.iter().map(Arg::to_oci).collect::<Vec<_>>();
        let mut syscall = LinuxSyscall::default();
        syscall
            .set_names(names)
            .set_action(self.action)
            .set_errno_ret(self.errno_ret)
            .set_args((!args.is_empty()).then_some(args));
        Some(syscall)
    }
}

impl Arg {
    fn to_oci(&self) -> LinuxSeccompArg {
        let arg = LinuxSeccompArgBuilder::default()
            .index(self.index)
            .value(self.value)
            .op(self.op);
        let arg = match self.value_two {
            Some(value_two) => arg.value_two(value_two),
            None => arg,
        };
        arg.build()
            .expect("every LinuxSeccompArg field has a default")
    }
}

const ALLOW: LinuxSeccompAction = LinuxSeccompAction::ScmpActAllow;

const fn allow(when: When, names: &'static [&'static str]) -> Group {
    Group {
        when,
        names,
        action: ALLOW,
        errno_ret: None,
        args: &[],
    }
}

const fn allow_if(names: &'static [&'static str], args: &'static [Arg]) -> Group {
    Group {
        when: When::Always,
        names,
        action: ALLOW,
        errno_ret: None,
        args,
    }
}

const fn arg0(op: LinuxSeccompOperator, value: u64) -> Arg {
    Arg {
        index: 0,
        value,
        value_two: None,
        op,
    }
}

/// AF_VSOCK: Docker keeps containers off the host's vsock.
const AF_VSOCK: u64 = 40;

/// CLONE_NEWNS | CLONE_NEWCGROUP | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWUSER | CLONE_NEWPID |
/// CLONE_NEWNET: `clone` may not create namespaces without CAP_SYS_ADMIN.
const CLONE_NAMESPACE_FLAGS: u64 = 0x7e02_0000;

/// personality(2) values Docker allows: PER_LINUX, PER_LINUX32, UNAME26, UNAME26|PER_LINUX32,
/// and 0xffffffff, which only queries the current persona.
const PERSONALITIES: [&[Arg]; 5] = [
    &[arg0(LinuxSeccompOperator::ScmpCmpEq, 0x0)],
    &[arg0(LinuxSeccompOperator::ScmpCmpEq, 0x8)],
    &[arg0(LinuxSeccompOperator::ScmpCmpEq, 0x2_0000)],
    &[arg0(LinuxSeccompOperator::ScmpCmpEq, 0x2_0008)],
    &[arg0(LinuxSeccompOperator::ScmpCmpEq, 0xffff_ffff)],
];

// One group per line of thought; rustfmt would put every syscall name on its own line.
#[rustfmt::skip]
const GROUPS: &[Group] = &[
    allow(When::Always, &[
        "accept", "accept4", "access", "adjtimex", "alarm", "bind", "brk", "cachestat", "capget",
        "capset", "chdir", "chmod", "chown", "chown32", "clock_adjtime", "clock_adjtime64",
        "clock_getres", "clock_getres_time64", "clock_gettime", "clock_gettime64",
        "clock_nanosleep", "clock_nanosleep_time64", "close", "close_range", "connect",
        "copy_file_range", "creat", "dup", "dup2", "dup3", "epoll_create", "epoll_create1",
        "epoll_ctl", "epoll_ctl_old", "epoll_pwait", "epoll_pwait2", "epoll_wait",
        "epoll_wait_old", "eventfd", "eventfd2", "execve", "execveat", "exit", "exit_group",
        "faccessat", "faccessat2", "fadvise64", "fadvise64_64", "fallocate", "fanotify_mark",
        "fchdir", "fchmod", "fchmodat", "fchmodat2", "fchown", "fchown32", "fchownat", "fcntl",
        "fcntl64", "fdatasync", "fgetxattr", "flistxattr", "flock", "fork", "fremovexattr",
        "fsetxattr", "fstat", "fstat64", "fstatat64", "fstatfs", "fstatfs64", "fsync",
        "ftruncate", "ftruncate64", "futex", "futex_requeue", "futex_time64", "futex_wait",
        "futex_waitv", "futex_wake", "futimesat", "getcpu", "getcwd", "getdents", "getdents64",
        "getegid", "getegid32", "geteuid", "geteuid32", "getgid", "getgid32", "getgroups",
        "getgroups32", "getitimer", "getpeername", "getpgid", "getpgrp", "getpid", "getppid",
        "getpriority", "getrandom", "getresgid", "getresgid32", "getresuid", "getresuid32",
        "getrlimit", "get_robust_list", "getrusage", "getsid", "getsockname", "getsockopt",
        "get_thread_area", "gettid", "gettimeofday", "getuid", "getuid32", "getxattr",
        "getxattrat", "inotify_add_watch", "inotify_init", "inotify_init1", "inotify_rm_watch",
        "io_cancel", "ioctl", "io_destroy", "io_getevents", "io_pgetevents",
        "io_pgetevents_time64", "ioprio_get", "ioprio_set", "io_setup", "io_submit", "ipc",
        "kill", "landlock_add_rule", "landlock_create_ruleset", "landlock_restrict_self",
        "lchown", "lchown32", "lgetxattr", "link", "linkat", "listen", "listmount", "listxattr",
        "listxattrat", "llistxattr", "_llseek", "lremovexattr", "lseek", "lsetxattr", "lstat",
        "lstat64", "madvise", "map_shadow_stack", "membarrier", "memfd_create", "memfd_secret",
        "mincore", "mkdir", "mkdirat", "mknod", "mknodat", "mlock", "mlock2", "mlockall",
        "mmap", "mmap2", "mprotect", "mq_getsetattr", "mq_notify", "mq_open", "mq_timedreceive",
        "mq_timedreceive_time64", "mq_timedsend", "mq_timedsend_time64", "mq_unlink", "mremap",
        "mseal", "msgctl", "msgget", "msgrcv", "msgsnd", "msync", "munlock", "munlockall",
        "munmap", "name_to_handle_at", "nanosleep", "newfstatat", "_newselect", "open",
        "openat", "openat2", "pause", "pidfd_open", "pidfd_send_signal", "pipe", "pipe2",
        "pkey_alloc", "pkey_free", "pkey_mprotect", "poll", "ppoll", "ppoll_time64", "prctl",
        "pread64", "preadv", "preadv2", "prlimit64", "process_mrelease", "pselect6",
        "pselect6_time64", "pwrite64", "pwritev", "pwritev2", "read", "readahead", "readlink",
        "readlinkat", "readv", "recv", "recvfrom", "recvmmsg", "recvmmsg_time64", "recvmsg",
        "remap_file_pages", "removexattr", "removexattrat", "rename", "renameat", "renameat2",
        "restart_syscall", "rmdir", "rseq", "rt_sigaction", "rt_sigpending", "rt_sigprocmask",
        "rt_sigqueueinfo", "rt_sigreturn", "rt_sigsuspend", "rt_sigtimedwait",
        "rt_sigtimedwait_time64", "rt_tgsigqueueinfo", "sched_getaffinity", "sched_getattr",
        "sched_getparam", "sched_get_priority_max", "sched_get_priority_min",
        "sched_getscheduler", "sched_rr_get_interval", "sched_rr_get_interval_time64",
        "sched_setaffinity", "sched_setattr", "sched_setparam", "sched_setscheduler",
        "sched_yield", "seccomp", "select", "semctl", "semget", "semop", "semtimedop",
        "semtimedop_time64", "send", "sendfile", "sendfile64", "sendmmsg", "sendmsg", "sendto",
        "setfsgid", "setfsgid32", "setfsuid", "setfsuid32", "setgid", "setgid32", "setgroups",
        "setgroups32", "setitimer", "setpgid", "setpriority", "setregid", "setregid32",
        "setresgid", "setresgid32", "setresuid", "setresuid32", "setreuid", "setreuid32",
        "setrlimit", "set_robust_list", "setsid", "setsockopt", "set_thread_area",
        "set_tid_address", "setuid", "setuid32", "setxattr", "setxattrat", "shmat", "shmctl",
        "shmdt", "shmget", "shutdown", "sigaltstack", "signalfd", "signalfd4", "sigprocmask",
        "sigreturn", "socketcall", "socketpair", "splice", "stat", "stat64", "statfs",
        "statfs64", "statmount", "statx", "symlink", "symlinkat", "sync", "sync_file_range",
        "syncfs", "sysinfo", "tee", "tgkill", "time", "timer_create", "timer_delete",
        "timer_getoverrun", "timer_gettime", "timer_gettime64", "timer_settime",
        "timer_settime64", "timerfd_create", "timerfd_gettime", "timerfd_gettime64",
        "timerfd_settime", "timerfd_settime64", "times", "tkill", "truncate", "truncate64",
        "ugetrlimit", "umask", "uname", "unlink", "unlinkat", "uretprobe", "utime", "utimensat",
        "utimensat_time64", "utimes", "vfork", "vmsplice", "wait4", "waitid", "waitpid",
        "write", "writev",
    ]),
    // moby allows these on kernels >= 4.8, where ptrace can no longer bypass seccomp.
    allow(When::Always, &["process_vm_readv", "process_vm_writev", "ptrace"]),
    allow_if(&["socket"], &[arg0(LinuxSeccompOperator::ScmpCmpNe, AF_VSOCK)]),
    allow_if(&["personality"], PERSONALITIES[0]),
    allow_if(&["personality"], PERSONALITIES[1]),
    allow_if(&["personality"], PERSONALITIES[2]),
    allow_if(&["personality"], PERSONALITIES[3]),
    allow_if(&["personality"], PERSONALITIES[4]),
    // Architecture-specific: each exists on only some architectures.
    allow(When::Always, &[
        "arch_prctl", "modify_ldt", "arm_fadvise64_64", "arm_sync_file_range",
        "sync_file_range2", "breakpoint", "cacheflush", "set_tls", "riscv_flush_icache",
    ]),
    allow(When::Has(Capability::DacReadSearch), &["open_by_handle_at"]),
    allow(When::Has(Capability::SysAdmin), &[
        "bpf", "clone", "clone3", "fanotify_init", "fsconfig", "fsmount", "fsopen", "fspick",
        "lookup_dcookie", "mount", "mount_setattr", "move_mount", "open_tree", "perf_event_open",
        "quotactl", "quotactl_fd", "setdomainname", "sethostname", "setns", "syslog", "umount",
        "umount2", "unshare",
    ]),
    Group {
        when: When::Lacks(Capability::SysAdmin),
        names: &["clone"],
        action: ALLOW,
        errno_ret: None,
        args: &[Arg {
            index: 0,
            value: CLONE_NAMESPACE_FLAGS,
            value_two: Some(0),
            op: LinuxSeccompOperator::ScmpCmpMaskedEq,
        }],
    },
    // clone3's flags live in memory seccomp cannot read: ENOSYS makes libc fall back to clone.
    Group {
        when: When::Lacks(Capability::SysAdmin),
        names: &["clone3"],
        action: LinuxSeccompAction::ScmpActErrno,
        errno_ret: Some(libc::ENOSYS as u32),
        args: &[],
    },
    allow(When::Has(Capability::SysBoot), &["reboot"]),
    allow(When::Has(Capability::SysChroot), &["chroot"]),
    allow(When::Has(Capability::SysModule), &["delete_module", "init_module", "finit_module"]),
    allow(When::Has(Capability::SysPacct), &["acct"]),
    allow(When::Has(Capability::SysPtrace), &[
        "kcmp", "pidfd_getfd", "process_madvise", "process_vm_readv", "process_vm_writev",
        "ptrace",
    ]),
    allow(When::Has(Capability::SysRawio), &["iopl", "ioperm"]),
    allow(When::Has(Capability::SysTime), &[
        "settimeofday", "stime", "clock_settime", "clock_settime64",
    ]),
    allow(When::Has(Capability::SysTtyConfig), &["vhangup"]),
    allow(When::Has(Capability::SysNice), &[
        "get_mempolicy", "mbind", "set_mempolicy", "set_mempolicy_home_node",
    ]),
    allow(When::Has(Capability::Syslog), &["syslog"]),
    allow(When::Has(Capability::Bpf), &["bpf"]),
    allow(When::Has(Capability::Perfmon), &["perf_event_open"]),
];

#[cfg(test)]
pub(super) mod tests {
    use super::*;

    /// Docker's default capability set.
    pub(in crate::seccomp) const DOCKER_CAPS: &[Capability] = &crate::spec::DEFAULT_CAPABILITIES;

    fn allowed_unconditionally(profile: &LinuxSeccomp) -> Vec<String> {
        profile
            .syscalls()
            .iter()
            .flatten()
            .filter(|entry| entry.action() == ALLOW && entry.args().is_none())
            .flat_map(|entry| entry.names().clone())
            .collect()
    }

    #[test]
    fn dangerous_syscalls_stay_blocked_even_with_every_capability() {
        let every_cap: Vec<Capability> = GROUPS
            .iter()
            .filter_map(|group| match &group.when {
                When::Has(cap) => Some(*cap),
                _ => None,
            })
            .collect();
        for caps in [DOCKER_CAPS, every_cap.as_slice()] {
            let profile = docker_default_profile(caps);
            let named: Vec<&String> = profile
                .syscalls()
                .iter()
                .flatten()
                .flat_map(|entry| entry.names())
                .collect();
            for name in [
                "keyctl",
                "add_key",
                "request_key",
                "userfaultfd",
                "kexec_load",
                "kexec_file_load",
                "io_uring_setup",
                "io_uring_enter",
                "io_uring_register",
            ] {
                assert!(!named.iter().any(|named| *named == name), "{name} named");
            }
        }
    }

    #[test]
    fn sys_admin_unlocks_namespaces_and_mounts() {
        let without = allowed_unconditionally(&docker_default_profile(DOCKER_CAPS));
        let mut caps = DOCKER_CAPS.to_vec();
        caps.push(Capability::SysAdmin);
        let with = allowed_unconditionally(&docker_default_profile(&caps));
        for name in [
            "mount",
            "umount2",
            "setns",
            "unshare",
            "bpf",
            "perf_event_open",
            "clone",
        ] {
            assert!(
                !without.iter().any(|allowed| allowed == name),
                "{name} allowed"
            );
            assert!(
                with.iter().any(|allowed| allowed == name),
                "{name} not allowed"
            );
        }
    }

    #[test]
    fn only_names_of_this_architecture_are_listed() {
        let profile = docker_default_profile(DOCKER_CAPS);
        for entry in profile.syscalls().iter().flatten() {
            for name in entry.names() {
                assert!(arch::syscall_number(name).is_some(), "{name}");
            }
        }
        assert!(allowed_unconditionally(&profile)
            .iter()
            .any(|name| name == "execve"));
    }
}
