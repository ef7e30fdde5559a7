//! Forking a container process. The runtime forks an intermediate process that enters the
//! namespaces; it forks the real container process (so a new pid namespace applies to it)
//! and exits. The runtime places the intermediate in the cgroup before any namespace is
//! created, so the cgroup namespace is rooted at the container's cgroup.

use nix::errno::Errno;
use nix::fcntl::OFlag;
use nix::sys::signal::{kill, Signal};
use nix::sys::wait::waitpid;
use nix::unistd::{fork, pipe2, read, ForkResult, Pid};
use oci_spec::runtime::LinuxIdMapping;
use std::convert::Infallible;
use std::fs;
use std::os::fd::{AsRawFd, OwnedFd};

use crate::error::{Context, Result, RuntimeError};
use crate::namespaces::NamespacePlan;
use crate::sync::{Message, SyncSocket};

/// The uid and gid maps of a new user namespace.
#[derive(Debug, Default)]
pub struct IdMaps<'a> {
    pub uids: &'a [LinuxIdMapping],
    pub gids: &'a [LinuxIdMapping],
}

impl IdMaps<'_> {
    fn write(&self, pid: Pid) -> Result<()> {
        write_map(pid, "uid_map", self.uids)?;
        write_map(pid, "gid_map", self.gids)
    }
}

fn write_map(pid: Pid, file: &str, maps: &[LinuxIdMapping]) -> Result<()> {
    let text: String = maps
        .iter()
        .map(|m| format!("{} {} {}\n", m.container_id(), m.host_id(), m.size()))
        .collect();
    fs::write(format!("/proc/{pid}/{file}"), text).context(|| format!("writing {file}"))
}

/// A forked container process and the runtime's end of its sync socket.
#[derive(Debug)]
pub struct Spawned {
    pub pid: Pid,
    pub sock: SyncSocket,
}

/// Forks the container process: `place` runs in the runtime with the intermediate's pid
/// (cgroup placement), and `child` runs in the container process and must never return
/// (it execs or exits).
pub fn spawn(
    plan: &NamespacePlan,
    maps: &IdMaps<'_>,
    place: impl FnOnce(Pid) -> Result<()>,
    child: impl FnOnce(SyncSocket) -> Infallible,
) -> Result<Spawned> {
    let (ours, theirs) = SyncSocket::pair()?;
    // SAFETY: the runtime is single-threaded, so the child may run arbitrary code.
    match unsafe { fork() }.context(|| "forking".into())? {
        ForkResult::Child => {
            drop(ours);
            intermediate(plan, theirs, child)
        }
        ForkResult::Parent { child: mid } => {
            drop(theirs);
            let result = drive_intermediate(mid, &ours, plan, maps, place);
            if result.is_err() {
                let _ = kill(mid, Signal::SIGKILL);
            }
            let _ = waitpid(mid, None);
            result.map(|pid| Spawned { pid, sock: ours })
        }
    }
}

fn drive_intermediate(
    mid: Pid,
    sock: &SyncSocket,
    plan: &NamespacePlan,
    maps: &IdMaps<'_>,
    place: impl FnOnce(Pid) -> Result<()>,
) -> Result<Pid> {
    place(mid)?;
    if plan.creates_user() {
        match sock.expect("creating its user namespace")? {
            Message::NeedIdMaps => maps.write(mid)?,
            other => return Err(unexpected(&other)),
        }
    }
    sock.send(&Message::Proceed)?;
    match sock.expect("forking")? {
        Message::ChildPid(pid) => Ok(Pid::from_raw(pid)),
        other => Err(unexpected(&other)),
    }
}

pub fn unexpected(msg: &Message) -> RuntimeError {
    RuntimeError::Init(format!(
        "unexpected message from container process: {msg:?}"
    ))
}

fn intermediate(
    plan: &NamespacePlan,
    sock: SyncSocket,
    child: impl FnOnce(SyncSocket) -> Infallible,
) -> ! {
    let result = (|| -> Result<(ForkResult, (OwnedFd, OwnedFd))> {
        plan.join_user()?;
        plan.unshare_user()?;
        if plan.creates_user() {
            sock.send(&Message::NeedIdMaps)?;
        }
        match sock.expect("placement")? {
            Message::Proceed => {}
            other => return Err(unexpected(&other)),
        }
        plan.enter_rest()?;
        // The child shares our end of the socket: it must not speak before ChildPid is sent,
        // so it waits for this pipe to close, which happens when we exit.
        let gate = pipe2(OFlag::O_CLOEXEC).context(|| "creating a pipe".into())?;
        // SAFETY: this process is a single-threaded fork of the single-threaded runtime.
        let forked = unsafe { fork() }.context(|| "forking container process".into())?;
        Ok((forked, gate))
    })();
    match result {
        Ok((ForkResult::Child, (gate, opener))) => {
            drop(opener);
            let mut byte = [0u8; 1];
            while let Err(Errno::EINTR) = read(gate.as_raw_fd(), &mut byte) {}
            drop(gate);
            match child(sock) {}
        }
        Ok((ForkResult::Parent { child }, _gate)) => {
            let code = i32::from(sock.send(&Message::ChildPid(child.as_raw())).is_err());
            // SAFETY: _exit skips atexit handlers and buffered I/O meant for the runtime.
            unsafe { libc::_exit(code) }
        }
        Err(err) => {
            sock.report(&err);
            // SAFETY: as above.
            unsafe { libc::_exit(1) }
        }
    }
}
