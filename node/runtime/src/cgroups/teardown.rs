//! Removing a container's cgroup directories. The usual case (the container has exited) is one
//! rmdir per hierarchy; only a busy cgroup pays for killing and waiting.

use std::collections::BTreeSet;
use std::io::ErrorKind;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use libcgroups::common::WrappedIoError;
use nix::sys::signal::{kill, Signal};

use super::CgroupError;

/// How long killed processes get to leave their cgroup before `remove` gives up.
const REMOVE_TIMEOUT: Duration = Duration::from_secs(5);
/// The longest pause between two rmdir attempts.
const MAX_BACKOFF: Duration = Duration::from_millis(20);

/// Removes every directory that is empty of processes and child cgroups; returns the others.
/// Missing directories are fine.
pub(super) fn remove_idle(dirs: Vec<PathBuf>) -> Result<Vec<PathBuf>, CgroupError> {
    let mut busy = Vec::new();
    for dir in dirs {
        match std::fs::remove_dir(&dir) {
            Ok(()) => {}
            Err(err) if err.kind() == ErrorKind::NotFound => {}
            Err(err) if is_busy(&err) => busy.push(dir),
            Err(err) => return Err(WrappedIoError::Other { err, path: dir }.into()),
        }
    }
    Ok(busy)
}

/// SIGKILLs every process in the cgroups at `dirs` and their child cgroups.
pub(super) fn kill_listed(dirs: &[PathBuf]) -> Result<(), CgroupError> {
    let mut pids = BTreeSet::new();
    for dir in dirs.iter().filter(|d| d.exists()) {
        pids.extend(libcgroups::common::get_all_pids(dir)?);
    }
    for pid in pids {
        // It may have exited meanwhile; that is what we want anyway.
        let _ = kill(pid, Signal::SIGKILL);
    }
    Ok(())
}

/// Removes each directory with its child cgroups, waiting for killed processes to leave.
pub(super) fn remove_trees(dirs: &[PathBuf]) -> Result<(), CgroupError> {
    let deadline = Instant::now() + REMOVE_TIMEOUT;
    dirs.iter().try_for_each(|dir| remove_tree(dir, deadline))
}

fn remove_tree(dir: &Path, deadline: Instant) -> Result<(), CgroupError> {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(err) if err.kind() == ErrorKind::NotFound => return Ok(()),
        Err(err) => {
            return Err(WrappedIoError::Read {
                err,
                path: dir.into(),
            }
            .into())
        }
    };
    for entry in entries {
        let entry = entry.map_err(|err| WrappedIoError::Read {
            err,
            path: dir.into(),
        })?;
        // Only child cgroups are directories; the rest are control files.
        if entry.file_type().is_ok_and(|t| t.is_dir()) {
            remove_tree(&entry.path(), deadline)?;
        }
    }
    let mut backoff = Duration::from_millis(1);
    loop {
        match std::fs::remove_dir(dir) {
            Ok(()) => return Ok(()),
            Err(err) if err.kind() == ErrorKind::NotFound => return Ok(()),
            Err(err) if is_busy(&err) && Instant::now() < deadline => {
                std::thread::sleep(backoff);
                backoff = (backoff * 2).min(MAX_BACKOFF);
            }
            Err(err) if is_busy(&err) => {
                return Err(CgroupError::Busy {
                    path: dir.into(),
                    waited: REMOVE_TIMEOUT,
                })
            }
            Err(err) => {
                return Err(WrappedIoError::Other {
                    err,
                    path: dir.into(),
                }
                .into())
            }
        }
    }
}

/// rmdir on a cgroup with processes or children fails with EBUSY (ENOTEMPTY on some kernels).
fn is_busy(err: &std::io::Error) -> bool {
    matches!(err.raw_os_error(), Some(libc::EBUSY | libc::ENOTEMPTY))
}
