//! The container's init process: from a fresh fork inside the new namespaces to the user's
//! program. It reports set-up errors to the runtime, then waits on the exec fifo until
//! `start` opens it.

use nix::fcntl::OFlag;
use nix::sys::stat::Mode;
use nix::unistd::{sethostname, setresgid, setresuid, setsid, write, Gid, Uid};
use oci_spec::runtime::{LinuxNamespaceType, Process, Spec};
use std::ffi::OsStr;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::path::{Path, PathBuf};

use crate::console;
use crate::error::{Context, Result, RuntimeError};
use crate::hooks::run_hooks;
use crate::namespaces::NamespacePlan;
use crate::pid1;
use crate::process::{
    apply_capabilities, apply_rlimits, enter_cwd, exec, find_executable, limit_bounding_set,
    mark_fds_cloexec, set_io_priority, set_oom_score_adj, set_personality, switch_user,
};
use crate::rootfs;
use crate::sched::set_scheduler;
use crate::seccomp::SeccompProgram;
use crate::spawn::unexpected;
use crate::sync::{Message, SyncSocket};
use crate::sys;

/// Everything the init needs, prepared by the runtime before forking.
#[derive(Debug)]
pub struct InitConfig<'a> {
    pub spec: &'a Spec,
    /// The bundle directory: relative mount sources are relative to it.
    pub bundle: &'a Path,
    pub rootfs: &'a Path,
    pub plan: &'a NamespacePlan,
    /// `exec.fifo`, opened O_PATH so it survives pivot_root.
    pub fifo: OwnedFd,
    pub console: Option<OwnedFd>,
    pub seccomp: Option<SeccompProgram>,
    pub no_pivot: bool,
    pub preserve_fds: u32,
    /// Whether the runtime must be asked to run prestart/createRuntime hooks.
    pub runtime_hooks: bool,
}

/// Entry point of the forked init; never returns.
pub fn init_main(sock: SyncSocket, cfg: InitConfig<'_>) -> ! {
    let err = match run(&sock, cfg) {
        Ok(never) => match never {},
        Err(err) => err,
    };
    sock.report(&err);
    // SAFETY: _exit skips destructors and atexit handlers that belong to the runtime.
    unsafe { libc::_exit(1) }
}

fn run(sock: &SyncSocket, cfg: InitConfig<'_>) -> Result<std::convert::Infallible> {
    let spec = cfg.spec;
    let process = spec
        .process()
        .as_ref()
        .ok_or_else(|| RuntimeError::InvalidConfig("no process".into()))?;
    setsid().context(|| "setsid".into())?;
    if cfg.plan.creates_user() {
        setresgid(Gid::from_raw(0), Gid::from_raw(0), Gid::from_raw(0))
            .context(|| "becoming root in the user namespace".into())?;
        setresuid(Uid::from_raw(0), Uid::from_raw(0), Uid::from_raw(0))
            .context(|| "becoming root in the user namespace".into())?;
    }
    if !(cfg.plan.creates(LinuxNamespaceType::Mount) || cfg.plan.joins(LinuxNamespaceType::Mount)) {
        return Err(RuntimeError::InvalidConfig(
            "a new mount namespace is required".into(),
        ));
    }
    crate::loopback::bring_up_if_new(cfg.plan)?;
    // Only this child changes directory; the caller's working directory is left alone.
    nix::unistd::chdir(cfg.bundle)
        .context(|| format!("entering bundle {}", cfg.bundle.display()))?;
    rootfs::prepare(spec, cfg.rootfs)?;
    set_names(spec, cfg.plan)?;
    let state = if cfg.runtime_hooks {
        sock.send(&Message::NamespacesReady)?;
        match sock.expect("its hooks ran")? {
            Message::HooksDone(state) => state,
            other => return Err(unexpected(&other)),
        }
    } else {
        String::new()
    };
    let hooks = spec.hooks().as_ref();
    run_hooks(
        "createContainer",
        hooks.and_then(|h| h.create_container().as_ref()),
        state.as_bytes(),
    )?;
    // Our own fd table, reachable after pivot_root even if the container has no /proc.
    let fd_dir = sys::open_host(Path::new("/proc/self/fd"), OFlag::O_DIRECTORY)
        .context(|| "opening /proc/self/fd".into())?;
    rootfs::pivot_and_finish(spec, cfg.rootfs, cfg.no_pivot)?;
    if process.terminal().unwrap_or(false) {
        let socket = cfg.console.as_ref().ok_or_else(|| {
            RuntimeError::InvalidConfig("process.terminal needs --console-socket".into())
        })?;
        let slave = console::setup_pty(socket, process.console_size())?;
        rootfs::bind_console(&slave)?;
    }
    set_personality(spec.linux().as_ref().and_then(|l| l.personality().as_ref()))?;
    let program = prepare_process(process, cfg.seccomp.as_ref(), cfg.preserve_fds)?;
    sock.send(&Message::Ready)?;

    wait_for_start(&fd_dir, &cfg.fifo)?;
    run_hooks(
        "startContainer",
        hooks.and_then(|h| h.start_container().as_ref()),
        state.as_bytes(),
    )?;
    if pid1::wanted(spec) {
        let late_filter = cfg.seccomp.as_ref().filter(|_| no_new_privs(process));
        pid1::fork_program(late_filter)?;
    }
    finish_and_exec(process, &program, cfg.seccomp.as_ref())
}

fn set_names(spec: &Spec, plan: &NamespacePlan) -> Result<()> {
    if !plan.creates(LinuxNamespaceType::Uts) {
        return Ok(());
    }
    if let Some(name) = spec.hostname() {
        sethostname(name).context(|| format!("setting hostname {name:?}"))?;
    }
    if let Some(name) = spec.domainname() {
        std::fs::write("/proc/sys/kernel/domainname", name)
            .context(|| format!("setting domainname {name:?}"))?;
    }
    Ok(())
}

/// Applies every process attribute that can fail, so `create` reports the failure, and
/// returns the resolved executable. Shared with `exec`.
pub fn prepare_process(
    process: &Process,
    seccomp: Option<&SeccompProgram>,
    preserve_fds: u32,
) -> Result<PathBuf> {
    mark_fds_cloexec(preserve_fds)?;
    set_oom_score_adj(process.oom_score_adj())?;
    set_io_priority(*process.io_priority())?;
    set_scheduler(process.scheduler().as_ref())?;
    apply_rlimits(process.rlimits().as_deref().unwrap_or_default())?;
    enter_cwd(process.cwd())?;
    let env = process.env().as_deref().unwrap_or_default();
    let args = process.args().as_deref().unwrap_or_default();
    let program = find_executable(args.first().map_or("", String::as_str), env)?;
    let caps = process.capabilities().as_ref();
    limit_bounding_set(caps)?;
    if !no_new_privs(process) {
        // Without no_new_privs, installing a filter needs CAP_SYS_ADMIN, so do it now.
        if let Some(filter) = seccomp {
            filter.install()?;
        }
    }
    switch_user(process.user(), caps.is_some())?;
    apply_capabilities(caps)?;
    if no_new_privs(process) {
        nix::sys::prctl::set_no_new_privs().context(|| "setting no_new_privs".into())?;
    }
    Ok(program)
}

fn no_new_privs(process: &Process) -> bool {
    process.no_new_privileges().unwrap_or(false)
}

/// Blocks until `start` opens the fifo for reading, then tells it we are going.
fn wait_for_start(fd_dir: &OwnedFd, fifo: &OwnedFd) -> Result<()> {
    let fifo_name = fifo.as_raw_fd().to_string();
    let writer = sys::open_at(
        fd_dir.as_fd(),
        OsStr::new(&fifo_name),
        OFlag::O_WRONLY,
        Mode::empty(),
    )
    .context(|| "opening exec fifo".into())?;
    write(&writer, b"0").context(|| "writing exec fifo".into())?;
    Ok(())
}

/// Last step of both init and `exec`: the late seccomp filter, then execve.
pub fn finish_and_exec(
    process: &Process,
    program: &Path,
    seccomp: Option<&SeccompProgram>,
) -> Result<std::convert::Infallible> {
    if no_new_privs(process) {
        if let Some(filter) = seccomp {
            filter.install()?;
        }
    }
    let env = process.env().as_deref().unwrap_or_default();
    let args = process.args().as_deref().unwrap_or_default();
    Err(exec(program, args, env))
}
