//! The test containers' cgroups as the host sees them, on cgroup v1 (hybrid or legacy) and v2:
//! finding them, reading the limits the runtime wrote, and removing what a failed test left.

use std::fs;
use std::path::{Path, PathBuf};
use std::thread::sleep;
use std::time::{Duration, Instant};

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

use crate::error::{FixtureError, Result};
use crate::ids::CGROUP_PARENT;
use crate::mounts::{mount_table, MountEntry};

/// Where the host keeps its cgroup filesystems.
const CGROUP_ROOT: &str = "/sys/fs/cgroup";

/// How the host's cgroups are laid out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CgroupLayout {
    /// cgroup v2 only, mounted at `/sys/fs/cgroup`.
    Unified,
    /// cgroup v1 controllers under `/sys/fs/cgroup/<controller>` (maybe plus an empty v2).
    Legacy,
}

/// All cgroup and cgroup2 mounts of the caller, each hierarchy once.
fn cgroup_mounts() -> Result<Vec<MountEntry>> {
    let mut mounts: Vec<MountEntry> = mount_table("self")?
        .into_iter()
        .filter(|m| m.fs_type == "cgroup" || m.fs_type == "cgroup2")
        .collect();
    mounts.dedup_by(|a, b| a.mount_point == b.mount_point);
    Ok(mounts)
}

/// Whether the host runs cgroup v2 only or v1 controllers.
pub fn layout() -> Result<CgroupLayout> {
    let unified = cgroup_mounts()?
        .iter()
        .any(|m| m.fs_type == "cgroup2" && m.mount_point == Path::new(CGROUP_ROOT));
    Ok(if unified {
        CgroupLayout::Unified
    } else {
        CgroupLayout::Legacy
    })
}

/// `cgroups_path` (absolute, as in the spec) below a hierarchy's mount point.
fn below(mount_point: &Path, cgroups_path: &str) -> PathBuf {
    mount_point.join(cgroups_path.trim_start_matches('/'))
}

/// Every directory that exists for `cgroups_path`, in any hierarchy.
pub fn existing_dirs(cgroups_path: &str) -> Result<Vec<PathBuf>> {
    Ok(cgroup_mounts()?
        .iter()
        .map(|m| below(&m.mount_point, cgroups_path))
        .filter(|dir| dir.is_dir())
        .collect())
}

/// The directory holding `controller`'s files for `cgroups_path`.
pub fn controller_dir(controller: &str, cgroups_path: &str) -> Result<PathBuf> {
    if layout()? == CgroupLayout::Unified {
        return Ok(below(Path::new(CGROUP_ROOT), cgroups_path));
    }
    cgroup_mounts()?
        .iter()
        .find(|m| m.fs_type == "cgroup" && m.super_options.iter().any(|o| o == controller))
        .map(|m| below(&m.mount_point, cgroups_path))
        .ok_or_else(|| FixtureError::Unexpected(format!("no cgroup v1 {controller} hierarchy")))
}

/// Reads one cgroup file, trimmed.
pub fn read_file(dir: &Path, file: &str) -> Result<String> {
    let path = dir.join(file);
    fs::read_to_string(&path)
        .map(|s| s.trim().to_owned())
        .map_err(FixtureError::io(format!("reading {}", path.display())))
}

/// Parses a limit file: a number, or `max` (v2) for no limit.
fn parse_limit(text: &str) -> Result<Option<u64>> {
    if text == "max" {
        return Ok(None);
    }
    text.parse()
        .map(Some)
        .map_err(|_| FixtureError::Unexpected(format!("not a cgroup limit: {text:?}")))
}

/// The memory limit in bytes the host applies to `cgroups_path` (`None` when unlimited).
pub fn memory_limit(cgroups_path: &str) -> Result<Option<u64>> {
    let dir = controller_dir("memory", cgroups_path)?;
    let file = match layout()? {
        CgroupLayout::Unified => "memory.max",
        CgroupLayout::Legacy => "memory.limit_in_bytes",
    };
    let limit = parse_limit(&read_file(&dir, file)?)?;
    // v1 shows "no limit" as a huge page-aligned number rather than `max`.
    Ok(limit.filter(|&l| l < i64::MAX as u64 / 2))
}

/// The pids limit of `cgroups_path` (`None` when unlimited).
pub fn pids_limit(cgroups_path: &str) -> Result<Option<u64>> {
    parse_limit(&read_file(
        &controller_dir("pids", cgroups_path)?,
        "pids.max",
    )?)
}

/// How many tasks `cgroups_path` holds right now.
pub fn pids_current(cgroups_path: &str) -> Result<u64> {
    let text = read_file(&controller_dir("pids", cgroups_path)?, "pids.current")?;
    text.parse()
        .map_err(|_| FixtureError::Unexpected(format!("pids.current is {text:?}")))
}

/// Whether the freezer says `cgroups_path` is frozen.
pub fn is_frozen(cgroups_path: &str) -> Result<bool> {
    Ok(match layout()? {
        CgroupLayout::Unified => {
            let dir = controller_dir("freezer", cgroups_path)?;
            read_file(&dir, "cgroup.events")?
                .lines()
                .any(|l| l.trim() == "frozen 1")
        }
        CgroupLayout::Legacy => {
            read_file(&controller_dir("freezer", cgroups_path)?, "freezer.state")? == "FROZEN"
        }
    })
}

/// The value of `key` in a flat-keyed cgroup file (`key value` lines).
fn keyed_counter(dir: &Path, file: &str, key: &str) -> Result<u64> {
    let text = read_file(dir, file)?;
    text.lines()
        .find_map(|line| {
            let (k, v) = line.split_once(' ')?;
            (k == key).then(|| v.trim().parse().ok()).flatten()
        })
        .ok_or_else(|| FixtureError::Unexpected(format!("no {key} in {file}: {text:?}")))
}

/// How many times the OOM killer killed a task of `cgroups_path`.
pub fn oom_kills(cgroups_path: &str) -> Result<u64> {
    let dir = controller_dir("memory", cgroups_path)?;
    match layout()? {
        CgroupLayout::Unified => keyed_counter(&dir, "memory.events", "oom_kill"),
        CgroupLayout::Legacy => keyed_counter(&dir, "memory.oom_control", "oom_kill"),
    }
}

/// How many forks the pids controller refused in `cgroups_path`.
pub fn pids_refused(cgroups_path: &str) -> Result<u64> {
    keyed_counter(&controller_dir("pids", cgroups_path)?, "pids.events", "max")
}

/// The processes the pids controller counts in `cgroups_path` (not its children).
pub fn processes(cgroups_path: &str) -> Result<Vec<i32>> {
    Ok(procs(&controller_dir("pids", cgroups_path)?))
}

/// The pids in one cgroup directory (not its children).
fn procs(dir: &Path) -> Vec<i32> {
    fs::read_to_string(dir.join("cgroup.procs"))
        .unwrap_or_default()
        .lines()
        .filter_map(|l| l.trim().parse().ok())
        .collect()
}

/// `dir` and all directories below it, deepest first.
fn subtree(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    if let Ok(entries) = fs::read_dir(dir) {
        for entry in entries.flatten() {
            if entry.file_type().map(|t| t.is_dir()).unwrap_or(false) {
                out.extend(subtree(&entry.path()));
            }
        }
    }
    out.push(dir.to_path_buf());
    out
}

/// Kills every process in `cgroups_path` and removes its directories in all hierarchies, then
/// the shared test parent if it became empty. A frozen cgroup is thawed first so that SIGKILL
/// can be delivered.
pub fn remove(cgroups_path: &str) -> Result<()> {
    let dirs = existing_dirs(cgroups_path)?;
    for dir in &dirs {
        // Thawing is best effort: the file only exists in the freezer (v1) or on v2.
        let _ = fs::write(dir.join("freezer.state"), "THAWED");
        let _ = fs::write(dir.join("cgroup.freeze"), "0");
    }
    let deadline = Instant::now() + Duration::from_secs(10);
    for dir in &dirs {
        for sub in subtree(dir) {
            loop {
                let pids = procs(&sub);
                for pid in &pids {
                    // The process may already be gone; that is what we want.
                    let _ = kill(Pid::from_raw(*pid), Signal::SIGKILL);
                }
                match fs::remove_dir(&sub) {
                    Ok(()) => break,
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => break,
                    Err(e) if Instant::now() > deadline => {
                        return Err(FixtureError::Io {
                            what: format!("removing cgroup {}", sub.display()),
                            source: e,
                        })
                    }
                    Err(_) => sleep(Duration::from_millis(20)),
                }
            }
        }
    }
    for mount in cgroup_mounts()? {
        // Fails harmlessly while other test containers still live under the parent.
        let _ = fs::remove_dir(mount.mount_point.join(CGROUP_PARENT));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_parse_numbers_and_max() {
        assert_eq!(parse_limit("max").unwrap(), None);
        assert_eq!(parse_limit("67108864").unwrap(), Some(67108864));
        assert!(parse_limit("lots").is_err());
    }

    #[test]
    fn paths_are_joined_below_the_mount_point() {
        assert_eq!(
            below(Path::new("/sys/fs/cgroup/memory"), "/berth-test/x"),
            PathBuf::from("/sys/fs/cgroup/memory/berth-test/x")
        );
    }
}
