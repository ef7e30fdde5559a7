//! `create`, `start` and `run`.

use chrono::Utc;
use nix::fcntl::OFlag;
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sys::signal::{kill, Signal};
use nix::sys::stat::{fchmodat, FchmodatFlags, Mode};
use nix::unistd::{mkfifo, read, Pid};
use std::convert::Infallible;
use std::fs;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::os::unix::fs::OpenOptionsExt;
use std::path::PathBuf;

use crate::bundle::Bundle;
use crate::cgroups::ContainerCgroup;
use crate::console;
use crate::error::{Context, Result, RuntimeError};
use crate::hooks::{run_hooks, run_hooks_logged};
use crate::init::{init_main, InitConfig};
use crate::namespaces::NamespacePlan;
use crate::procfs::ProcStat;
use crate::seccomp;
use crate::spawn::{spawn, unexpected, IdMaps, Spawned};
use crate::state::{Container, Record, Status};
use crate::sync::Message;
use crate::sys;
use crate::tty::{console_pair, receive_master};
use crate::wait::SignalRelay;
use crate::{write_pid_file, Runtime};

/// Options of `create` (and `run`).
#[derive(Debug, Clone, Default)]
pub struct CreateOptions {
    pub bundle: PathBuf,
    pub pid_file: Option<PathBuf>,
    pub console_socket: Option<PathBuf>,
    /// Use MS_MOVE + chroot instead of pivot_root (for ramfs roots).
    pub no_pivot: bool,
    /// Pass fds 3..3+N through to the container process.
    pub preserve_fds: u32,
}

/// Undoes a partial `create`: kills the container process and removes its cgroup.
struct Rollback<'a> {
    cgroup: &'a ContainerCgroup,
    pid: Option<Pid>,
    armed: bool,
}

impl Drop for Rollback<'_> {
    fn drop(&mut self) {
        if !self.armed {
            return;
        }
        if let Some(pid) = self.pid {
            let _ = kill(pid, Signal::SIGKILL);
        }
        if let Err(err) = self.cgroup.remove() {
            tracing::warn!("rolling back cgroup: {err}");
        }
    }
}

impl Runtime {
    /// Creates container `id` from a bundle and leaves it waiting for `start`.
    pub fn create(&self, id: &str, opts: &CreateOptions) -> Result<Container> {
        let console = opts
            .console_socket
            .as_deref()
            .map(console::connect)
            .transpose()?;
        self.create_with_console(id, opts, console)
    }

    fn create_with_console(
        &self,
        id: &str,
        opts: &CreateOptions,
        console: Option<OwnedFd>,
    ) -> Result<Container> {
        let reservation = self.store.reserve(id)?;
        let bundle = Bundle::load(&opts.bundle)?;
        let spec = &bundle.spec;
        let linux = spec
            .linux()
            .as_ref()
            .ok_or_else(|| RuntimeError::InvalidConfig("no linux section".into()))?;
        reservation.save_spec(spec)?;
        let plan = NamespacePlan::from_spec(
            linux.namespaces().as_deref().unwrap_or_default(),
            linux.time_offsets().as_ref(),
        )?;
        let seccomp = linux.seccomp().as_ref().map(seccomp::compile).transpose()?;
        let fifo = make_fifo(&reservation.fifo_path())?;
        let cgroup = ContainerCgroup::new(linux.cgroups_path().as_deref(), id)?;
        let mut rollback = Rollback {
            cgroup: &cgroup,
            pid: None,
            armed: true,
        };

        let hooks = spec.hooks().as_ref();
        let runtime_hooks = hooks.is_some_and(|h| {
            h.prestart().as_ref().is_some_and(|v| !v.is_empty())
                || h.create_runtime().as_ref().is_some_and(|v| !v.is_empty())
        });
        let maps = IdMaps {
            uids: linux.uid_mappings().as_deref().unwrap_or_default(),
            gids: linux.gid_mappings().as_deref().unwrap_or_default(),
        };
        let init = InitConfig {
            spec,
            bundle: &bundle.path,
            rootfs: &bundle.rootfs,
            plan: &plan,
            fifo,
            console,
            seccomp,
            no_pivot: opts.no_pivot,
            preserve_fds: opts.preserve_fds,
            runtime_hooks,
        };
        let Spawned { pid, sock } = spawn(
            &plan,
            &maps,
            |mid| Ok(cgroup.apply(mid, linux.resources().as_ref())?),
            |sock| -> Infallible { init_main(sock, init) },
        )?;
        rollback.pid = Some(pid);
        let start_time = ProcStat::read(pid.as_raw())
            .ok_or_else(|| RuntimeError::Init("container process exited during set-up".into()))?
            .start_time;
        let record = Record {
            id: id.to_owned(),
            pid: pid.as_raw(),
            init_start_time: start_time,
            bundle: bundle.path.clone(),
            rootfs: bundle.rootfs.clone(),
            cgroup_path: cgroup.path().to_owned(),
            created: Utc::now(),
            annotations: spec.annotations().clone().unwrap_or_default(),
        };
        loop {
            match sock.expect("finishing set-up")? {
                Message::NamespacesReady => {
                    let state = record.state_json(Status::Creating);
                    run_hooks(
                        "prestart",
                        hooks.and_then(|h| h.prestart().as_ref()),
                        &state,
                    )?;
                    run_hooks(
                        "createRuntime",
                        hooks.and_then(|h| h.create_runtime().as_ref()),
                        &state,
                    )?;
                    sock.send(&Message::HooksDone(String::from_utf8_lossy(&state).into()))?;
                }
                Message::Ready => break,
                other => return Err(unexpected(&other)),
            }
        }
        if let Some(path) = &opts.pid_file {
            write_pid_file(path, pid)?;
        }
        let container = reservation.commit(record)?;
        rollback.armed = false;
        Ok(container)
    }

    /// Lets a created container run its process.
    pub fn start(&self, id: &str) -> Result<()> {
        let container = self.store.load(id)?;
        container.require("start", Status::can_start)?;
        release_init(&container)?;
        fs::remove_file(container.fifo_path()).context(|| "removing exec fifo".into())?;
        let spec = container.spec()?;
        let state = container.record.state_json(Status::Running);
        run_hooks_logged(
            "poststart",
            spec.hooks().as_ref().and_then(|h| h.poststart().as_ref()),
            &state,
        );
        Ok(())
    }

    /// `create` + `start`; unless detached, waits for the container, deletes it and
    /// returns its exit code.
    pub fn run(&self, id: &str, opts: &CreateOptions, detach: bool) -> Result<i32> {
        if detach {
            self.create(id, opts)?;
            return self.start(id).map(|()| 0);
        }
        let relay = SignalRelay::install()?;
        // Without a console socket a terminal is relayed through our own stdio.
        let (container, console) = match &opts.console_socket {
            Some(_) => (self.create(id, opts)?, None),
            None => {
                let (ours, theirs) = console_pair()?;
                (
                    self.create_with_console(id, opts, Some(theirs))?,
                    Some(ours),
                )
            }
        };
        let master = console.as_ref().map(receive_master).transpose()?.flatten();
        if let Err(err) = self.start(id) {
            let _ = self.delete(id, true);
            return Err(err);
        }
        let code = relay.wait_for(Pid::from_raw(container.record.pid), master);
        self.delete(id, true)?;
        code
    }
}

/// Creates `exec.fifo` writable by any container user and returns an O_PATH handle to it.
fn make_fifo(path: &std::path::Path) -> Result<OwnedFd> {
    mkfifo(path, Mode::empty()).context(|| "creating exec fifo".into())?;
    // Set the mode explicitly: umask would narrow it, and a non-root init must write.
    fchmodat(
        None,
        path,
        Mode::from_bits_truncate(0o622),
        FchmodatFlags::FollowSymlink,
    )
    .context(|| "setting exec fifo mode".into())?;
    sys::open_host(path, OFlag::empty()).context(|| "opening exec fifo".into())
}

/// Opens the fifo for reading, which unblocks the init, and waits for its go-byte.
fn release_init(container: &Container) -> Result<()> {
    // Non-blocking: the open must not wait for a writer that may have died.
    let fd: OwnedFd = fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(container.fifo_path())
        .context(|| "opening exec fifo".into())?
        .into();
    loop {
        let mut fds = [PollFd::new(fd.as_fd(), PollFlags::POLLIN)];
        let ready =
            poll(&mut fds, PollTimeout::from(100u16)).context(|| "polling exec fifo".into());
        match ready {
            Ok(0)
            | Err(RuntimeError::Sys {
                source: nix::errno::Errno::EINTR,
                ..
            }) => {
                if !container.is_alive() {
                    return Err(RuntimeError::Init(
                        "container process exited before start".into(),
                    ));
                }
            }
            Ok(_) => {
                let mut byte = [0u8; 1];
                return match read(fd.as_raw_fd(), &mut byte) {
                    Ok(1) => Ok(()),
                    _ => Err(RuntimeError::Init(
                        "container process exited before start".into(),
                    )),
                };
            }
            Err(e) => return Err(e),
        }
    }
}
