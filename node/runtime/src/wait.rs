//! Waiting for a container process in the foreground (`run`, `exec`): signals the runtime
//! receives are relayed to the process, and when the process has a pty the runtime's own
//! terminal is connected to it.

use nix::errno::Errno;
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sys::signal::{kill, sigprocmask, SigSet, SigmaskHow, Signal};
use nix::sys::signalfd::{SfdFlags, SignalFd};
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use nix::unistd::Pid;
use std::os::fd::{AsFd, OwnedFd};

use crate::error::{Context, Result, RuntimeError};
use crate::tty::PtyRelay;

/// Signals the runtime blocks and relays; faults must stay deliverable to the runtime itself.
fn relayed_signals() -> SigSet {
    let mut set = SigSet::all();
    for fault in [
        Signal::SIGSEGV,
        Signal::SIGBUS,
        Signal::SIGILL,
        Signal::SIGFPE,
        Signal::SIGTRAP,
        Signal::SIGSYS,
    ] {
        set.remove(fault);
    }
    set
}

/// Blocks the relayed signals from now on; create the relay before forking, so no signal
/// or child exit can slip past. Forked children restore the mask before they exec.
#[derive(Debug)]
pub struct SignalRelay {
    signals: SignalFd,
}

impl SignalRelay {
    pub fn install() -> Result<Self> {
        let set = relayed_signals();
        sigprocmask(SigmaskHow::SIG_BLOCK, Some(&set), None)
            .context(|| "blocking signals".into())?;
        nix::sys::prctl::set_child_subreaper(true)
            .context(|| "becoming a child subreaper".into())?;
        let signals = SignalFd::with_flags(&set, SfdFlags::SFD_CLOEXEC | SfdFlags::SFD_NONBLOCK)
            .context(|| "creating signalfd".into())?;
        Ok(SignalRelay { signals })
    }

    /// Relays signals (and, given a pty master, terminal I/O) to `pid` until it exits;
    /// returns its exit code, or 128+N when it was killed by signal N. Other orphans that
    /// reach us are reaped on the way.
    pub fn wait_for(&self, pid: Pid, pty: Option<OwnedFd>) -> Result<i32> {
        let mut relay = pty.map(PtyRelay::new).transpose()?;
        loop {
            if let Some(code) = reap(pid)? {
                if let Some(relay) = relay.as_mut() {
                    relay.drain();
                }
                return Ok(code);
            }
            let mut fds = vec![PollFd::new(self.signals.as_fd(), PollFlags::POLLIN)];
            if let Some(relay) = &relay {
                fds.extend(relay.poll_fds());
            }
            match poll(&mut fds, PollTimeout::NONE) {
                Ok(_) | Err(Errno::EINTR) => {}
                Err(e) => return Err(e).context(|| "polling".into()),
            }
            let ready: Vec<bool> = fds
                .iter()
                .map(|fd| fd.revents().is_some_and(|r| !r.is_empty()))
                .collect();
            drop(fds);
            if ready.first() == Some(&true) {
                self.relay_signals(pid, relay.as_ref())?;
            }
            if let Some(relay) = relay.as_mut() {
                relay.pump(&ready[1..]);
            }
        }
    }

    fn relay_signals(&self, pid: Pid, relay: Option<&PtyRelay>) -> Result<()> {
        while let Some(info) = self
            .signals
            .read_signal()
            .context(|| "reading signalfd".into())?
        {
            let Ok(signal) = Signal::try_from(info.ssi_signo as i32) else {
                continue;
            };
            match signal {
                Signal::SIGCHLD => {}
                Signal::SIGWINCH if relay.is_some() => {
                    if let Some(relay) = relay {
                        relay.copy_window_size();
                    }
                }
                _ => match kill(pid, signal) {
                    Ok(()) | Err(Errno::ESRCH) => {}
                    Err(e) => return Err(e).context(|| format!("relaying {signal}")),
                },
            }
        }
        Ok(())
    }
}

/// Reaps every exited child; returns `pid`'s exit code once it is among them.
fn reap(pid: Pid) -> Result<Option<i32>> {
    loop {
        match waitpid(None, Some(WaitPidFlag::WNOHANG)) {
            Ok(WaitStatus::Exited(p, code)) if p == pid => return Ok(Some(code)),
            Ok(WaitStatus::Signaled(p, sig, _)) if p == pid => return Ok(Some(128 + sig as i32)),
            Ok(WaitStatus::StillAlive) => return Ok(None),
            Ok(_) => continue,
            Err(Errno::ECHILD) => {
                return Err(RuntimeError::Init(format!(
                    "process {pid} is not a child of the runtime"
                )))
            }
            Err(Errno::EINTR) => continue,
            Err(e) => return Err(e).context(|| "waiting for the container".into()),
        }
    }
}
