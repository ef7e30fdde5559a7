//! `--init`: a minimal PID 1 for containers whose program does not reap or forward signals.
//! With the annotation `berth.init` = `true`, the container's init forks right before exec:
//! the child execs the user's program, the parent stays PID 1, forwards every signal to it,
//! reaps every process that reaches it, and exits with the program's status (128+N when
//! killed by signal N). It is the runtime's own code, already in memory: nothing has to exist
//! in the container's filesystem.

use nix::errno::Errno;
use nix::sys::signal::{kill, sigprocmask, SigSet, SigmaskHow, Signal};
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use nix::unistd::{fork, ForkResult, Pid};
use oci_spec::runtime::Spec;

use crate::error::{Context, Result};
use crate::seccomp::SeccompProgram;

/// The annotation that asks for the init.
pub const ANNOTATION: &str = "berth.init";

/// Whether the spec asks for the init.
pub fn wanted(spec: &Spec) -> bool {
    spec.annotations()
        .as_ref()
        .and_then(|a| a.get(ANNOTATION))
        .is_some_and(|v| v == "true")
}

/// Forks the user's process and returns in it; the caller goes on to exec. The parent never
/// returns: it supervises the child under `late_filter` too (the seccomp filter the child
/// installs right before exec), so PID 1 is never less confined than the program.
pub fn fork_program(late_filter: Option<&SeccompProgram>) -> Result<()> {
    // Blocked from before the fork, so no signal is lost; the child's exec path resets the
    // mask (see `process::exec`).
    sigprocmask(SigmaskHow::SIG_SETMASK, Some(&SigSet::all()), None)
        .context(|| "blocking signals for the init".into())?;
    // SAFETY: the container's init is single-threaded.
    match unsafe { fork() }.context(|| "forking the container's program".into())? {
        ForkResult::Child => Ok(()),
        ForkResult::Parent { child } => {
            if let Some(filter) = late_filter {
                if filter.install().is_err() {
                    // Refuse to run unconfined; the program dies with us.
                    // SAFETY: _exit ends the process without running destructors.
                    unsafe { libc::_exit(127) }
                }
            }
            supervise(child)
        }
    }
}

/// Forwards signals to `child` and reaps until it exits, then exits with its status.
fn supervise(child: Pid) -> ! {
    // Descriptors the runtime left us (sync socket, exec fifo) have no use here.
    // SAFETY: close_range only closes descriptors; none above stdio is used from here on.
    unsafe { libc::close_range(3, u32::MAX, 0) };
    let all = SigSet::all();
    loop {
        let Ok(signal) = all.wait() else {
            continue;
        };
        if signal != Signal::SIGCHLD {
            // The child may be gone already; its exit is about to be reaped.
            let _ = kill(child, signal);
            continue;
        }
        if let Some(code) = reap(child) {
            // SAFETY: _exit ends PID 1, and with it the container, with the program's status.
            unsafe { libc::_exit(code) }
        }
    }
}

/// Reaps every exited process; returns the exit code once `child` is among them.
fn reap(child: Pid) -> Option<i32> {
    let mut code = None;
    loop {
        match waitpid(None, Some(WaitPidFlag::WNOHANG)) {
            Ok(WaitStatus::Exited(pid, status)) if pid == child => code = Some(status),
            Ok(WaitStatus::Signaled(pid, signal, _)) if pid == child => {
                code = Some(128 + signal as i32)
            }
            Ok(WaitStatus::StillAlive) | Err(Errno::ECHILD) => return code,
            Err(Errno::EINTR) | Ok(_) => {}
            Err(_) => return code,
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    #[test]
    fn only_the_true_annotation_asks_for_the_init() {
        let mut spec = Spec::default();
        assert!(!wanted(&spec));
        for (value, expected) in [("true", true), ("false", false), ("1", false)] {
            spec.set_annotations(Some(HashMap::from([(ANNOTATION.into(), value.into())])));
            assert_eq!(wanted(&spec), expected, "{value}");
        }
    }
}
