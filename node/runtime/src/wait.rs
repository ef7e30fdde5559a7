//! Waiting for a container process while relaying the signals the runtime receives, so
//! `run` and `exec` in the foreground behave like the process itself.

use nix::errno::Errno;
use nix::sys::signal::{kill, sigprocmask, SigSet, SigmaskHow, Signal};
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use nix::unistd::Pid;

use crate::error::{Context, Result, RuntimeError};

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
    set: SigSet,
}

impl SignalRelay {
    pub fn install() -> Result<Self> {
        let set = relayed_signals();
        sigprocmask(SigmaskHow::SIG_BLOCK, Some(&set), None)
            .context(|| "blocking signals".into())?;
        nix::sys::prctl::set_child_subreaper(true)
            .context(|| "becoming a child subreaper".into())?;
        Ok(SignalRelay { set })
    }

    /// Relays signals to `pid` until it exits; returns its exit code, or 128+N when it was
    /// killed by signal N. Other orphans that reach us are reaped on the way.
    pub fn wait_for(&self, pid: Pid) -> Result<i32> {
        loop {
            if let Some(code) = reap(pid)? {
                return Ok(code);
            }
            let signal = self.set.wait().context(|| "waiting for signals".into())?;
            if signal != Signal::SIGCHLD {
                match kill(pid, signal) {
                    Ok(()) | Err(Errno::ESRCH) => {}
                    Err(e) => return Err(e).context(|| format!("relaying {signal}")),
                }
            }
        }
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
