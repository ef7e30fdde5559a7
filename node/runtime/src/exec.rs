//! `exec`: a new process inside a running container's namespaces and cgroup.

use nix::unistd::setsid;
use oci_spec::runtime::Process;
use std::convert::Infallible;
use std::os::fd::OwnedFd;
use std::path::PathBuf;

use crate::console;
use crate::error::{Context, Result, RuntimeError};
use crate::init::{finish_and_exec, prepare_process};
use crate::namespaces::NamespacePlan;
use crate::seccomp::{self, SeccompProgram};
use crate::spawn::{spawn, unexpected, IdMaps};
use crate::state::Status;
use crate::sync::{Message, SyncSocket};
use crate::tty::{console_pair, receive_master};
use crate::wait::SignalRelay;
use crate::{write_pid_file, Runtime};

/// How to run a process in an existing container.
#[derive(Debug, Clone)]
pub struct ExecOptions {
    pub process: Process,
    pub console_socket: Option<PathBuf>,
    pub pid_file: Option<PathBuf>,
    /// Return once the process runs instead of waiting for it.
    pub detach: bool,
    pub preserve_fds: u32,
}

impl Runtime {
    /// Runs `opts.process` in container `id`. Returns its exit code, or 0 when detached.
    pub fn exec(&self, id: &str, opts: &ExecOptions) -> Result<i32> {
        let container = self.store.load(id)?;
        container.require("exec into", |s| {
            s == Status::Running || s == Status::Created
        })?;
        let spec = container.spec()?;
        let seccomp = spec
            .linux()
            .as_ref()
            .and_then(|l| l.seccomp().as_ref())
            .map(seccomp::compile)
            .transpose()?;
        let plan = NamespacePlan::join_process(container.record.pid)?;
        let cgroup = container.cgroup()?;
        let relay = if opts.detach {
            None
        } else {
            Some(SignalRelay::install()?)
        };
        // A foreground terminal without a console socket is relayed through our own stdio.
        let (console, ours) = match (&opts.console_socket, &relay) {
            (Some(path), _) => (Some(console::connect(path)?), None),
            (None, Some(_)) if opts.process.terminal().unwrap_or(false) => {
                let (ours, theirs) = console_pair()?;
                (Some(theirs), Some(ours))
            }
            (None, _) => (None, None),
        };
        let spawned = spawn(
            &plan,
            &IdMaps::default(),
            |mid| Ok(cgroup.add_task(mid)?),
            |sock| -> Infallible {
                exec_main(sock, &opts.process, console, seccomp, opts.preserve_fds)
            },
        )?;
        match spawned.sock.expect("finishing set-up")? {
            Message::Ready => {}
            other => return Err(unexpected(&other)),
        }
        // The socket closes on a successful execve; a message means it failed.
        if let Some(Message::Error(msg)) = spawned.sock.recv()? {
            return Err(RuntimeError::Init(msg));
        }
        if let Some(path) = &opts.pid_file {
            write_pid_file(path, spawned.pid)?;
        }
        let master = ours.as_ref().map(receive_master).transpose()?.flatten();
        match relay {
            Some(relay) => relay.wait_for(spawned.pid, master),
            None => Ok(0),
        }
    }
}

fn exec_main(
    sock: SyncSocket,
    process: &Process,
    console: Option<OwnedFd>,
    seccomp: Option<SeccompProgram>,
    preserve_fds: u32,
) -> ! {
    let result = (|| -> Result<std::convert::Infallible> {
        if let Some(socket) = &console {
            setsid().context(|| "setsid".into())?;
            console::setup_pty(socket, process.console_size())?;
        }
        let program = prepare_process(process, seccomp.as_ref(), preserve_fds)?;
        sock.send(&Message::Ready)?;
        finish_and_exec(process, &program, seccomp.as_ref())
    })();
    let err = match result {
        Ok(never) => match never {},
        Err(err) => err,
    };
    sock.report(&err);
    // SAFETY: _exit skips destructors and atexit handlers that belong to the runtime.
    unsafe { libc::_exit(127) }
}
