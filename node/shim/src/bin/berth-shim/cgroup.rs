//! The container's cgroup as the shim reads it: usage for `stats` and the OOM-kill counter,
//! on cgroup v1 (one directory per controller) and v2 (one directory).

use std::ffi::OsString;
use std::fs;
use std::os::unix::ffi::OsStringExt;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use berth_shim::CgroupStats;
use nix::unistd::Pid;

/// A v1 memory limit this large means "no limit" (the kernel's page-rounded i64::MAX).
const V1_UNLIMITED: u64 = 1 << 62;

/// The directories of one process's cgroup.
#[derive(Debug, Default)]
pub struct CgroupFiles {
    memory: Option<PathBuf>,
    cpuacct: Option<PathBuf>,
    pids: Option<PathBuf>,
    blkio: Option<PathBuf>,
    /// The cgroup v2 directory (on a hybrid host it has no controllers).
    unified: Option<PathBuf>,
}

impl CgroupFiles {
    /// Finds the cgroup of `pid` from `/proc/<pid>/cgroup` and the cgroup mounts.
    pub fn of_process(pid: Pid) -> Result<Self> {
        let membership = fs::read_to_string(format!("/proc/{pid}/cgroup"))
            .with_context(|| format!("reading the cgroup of {pid}"))?;
        let mountinfo =
            fs::read_to_string("/proc/self/mountinfo").context("reading the mount table")?;
        let mounts = CgroupMounts::parse(&mountinfo);
        let mut files = CgroupFiles::default();
        for line in membership.lines() {
            let mut parts = line.splitn(3, ':');
            let (Some(_), Some(controllers), Some(path)) =
                (parts.next(), parts.next(), parts.next())
            else {
                continue;
            };
            let relative = path.trim_start_matches('/');
            if controllers.is_empty() {
                files.unified = mounts.unified.as_ref().map(|m| m.join(relative));
                continue;
            }
            for controller in controllers.split(',') {
                let slot = match controller {
                    "memory" => &mut files.memory,
                    "cpuacct" => &mut files.cpuacct,
                    "pids" => &mut files.pids,
                    "blkio" => &mut files.blkio,
                    _ => continue,
                };
                *slot = mounts.v1_mount(controller).map(|m| m.join(relative));
            }
        }
        Ok(files)
    }

    /// How many times the OOM killer killed a process of the cgroup.
    pub fn oom_kills(&self) -> u64 {
        let v1 = self
            .memory
            .as_deref()
            .and_then(|dir| keyed(&read(dir, "memory.oom_control")?, "oom_kill"));
        v1.or_else(|| {
            keyed(
                &read(self.unified.as_deref()?, "memory.events")?,
                "oom_kill",
            )
        })
        .unwrap_or(0)
    }

    /// Current usage. Files the kernel lacks count as zero.
    pub fn stats(&self) -> CgroupStats {
        let mut stats = CgroupStats::default();
        let v2 = self.unified.as_deref();
        if let Some(dir) = &self.cpuacct {
            stats.cpu_usage_ns = number(dir, "cpuacct.usage").unwrap_or(0);
        } else if let Some(usec) = v2.and_then(|d| keyed(&read(d, "cpu.stat")?, "usage_usec")) {
            stats.cpu_usage_ns = usec.saturating_mul(1000);
        }
        if let Some(dir) = &self.memory {
            let usage = number(dir, "memory.usage_in_bytes").unwrap_or(0);
            let inactive = read(dir, "memory.stat")
                .and_then(|s| keyed(&s, "total_inactive_file"))
                .unwrap_or(0);
            stats.memory_usage = usage.saturating_sub(inactive);
            stats.memory_limit = number(dir, "memory.limit_in_bytes")
                .filter(|limit| *limit < V1_UNLIMITED)
                .unwrap_or(0);
        } else if let Some(dir) = v2 {
            let usage = number(dir, "memory.current").unwrap_or(0);
            let inactive = read(dir, "memory.stat")
                .and_then(|s| keyed(&s, "inactive_file"))
                .unwrap_or(0);
            stats.memory_usage = usage.saturating_sub(inactive);
            // "max" does not parse: unlimited.
            stats.memory_limit = number(dir, "memory.max").unwrap_or(0);
        }
        let pids_dir = self.pids.as_deref().or(v2);
        stats.pids = pids_dir
            .and_then(|d| number(d, "pids.current"))
            .or_else(|| {
                let procs = read(pids_dir.or(self.memory.as_deref())?, "cgroup.procs")?;
                Some(procs.lines().count() as u64)
            })
            .unwrap_or(0);
        let (read_bytes, write_bytes) = match &self.blkio {
            Some(dir) => read(dir, "blkio.throttle.io_service_bytes_recursive")
                .or_else(|| read(dir, "blkio.io_service_bytes_recursive"))
                .map_or((0, 0), |s| blkio_v1_bytes(&s)),
            None => v2
                .and_then(|d| read(d, "io.stat"))
                .map_or((0, 0), |s| io_v2_bytes(&s)),
        };
        stats.block_read = read_bytes;
        stats.block_write = write_bytes;
        stats
    }
}

/// Where the cgroup hierarchies are mounted.
struct CgroupMounts {
    /// (super options, mount point) of each v1 hierarchy.
    v1: Vec<(String, PathBuf)>,
    unified: Option<PathBuf>,
}

impl CgroupMounts {
    fn parse(mountinfo: &str) -> Self {
        let mut mounts = CgroupMounts {
            v1: Vec::new(),
            unified: None,
        };
        for line in mountinfo.lines() {
            // id parent dev root mountpoint options [optional...] - fstype source superoptions
            let Some((left, right)) = line.split_once(" - ") else {
                continue;
            };
            let mount_point = left.split(' ').nth(4).map(unescape);
            let mut right = right.split(' ');
            let (Some(fstype), Some(_), Some(options)) = (right.next(), right.next(), right.next())
            else {
                continue;
            };
            let Some(mount_point) = mount_point else {
                continue;
            };
            match fstype {
                "cgroup2" if mounts.unified.is_none() => mounts.unified = Some(mount_point),
                "cgroup" => mounts.v1.push((options.to_owned(), mount_point)),
                _ => {}
            }
        }
        mounts
    }

    fn v1_mount(&self, controller: &str) -> Option<&Path> {
        self.v1
            .iter()
            .find(|(options, _)| options.split(',').any(|o| o == controller))
            .map(|(_, point)| point.as_path())
    }
}

/// Undoes mountinfo's octal escapes (`\040` for a space).
fn unescape(field: &str) -> PathBuf {
    let mut out = Vec::with_capacity(field.len());
    let bytes = field.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        let octal = bytes
            .get(i + 1..i + 4)
            .and_then(|d| u8::from_str_radix(std::str::from_utf8(d).ok()?, 8).ok());
        match (bytes[i], octal) {
            (b'\\', Some(byte)) => {
                out.push(byte);
                i += 4;
            }
            (byte, _) => {
                out.push(byte);
                i += 1;
            }
        }
    }
    PathBuf::from(OsString::from_vec(out))
}

fn read(dir: &Path, file: &str) -> Option<String> {
    fs::read_to_string(dir.join(file)).ok()
}

fn number(dir: &Path, file: &str) -> Option<u64> {
    read(dir, file)?.trim().parse().ok()
}

/// The value of `key` in a `key value` per line file.
fn keyed(text: &str, key: &str) -> Option<u64> {
    text.lines().find_map(|line| {
        let (k, v) = line.split_once(' ')?;
        (k == key).then(|| v.trim().parse().ok()).flatten()
    })
}

/// Sums the `Read` and `Write` lines of a v1 `io_service_bytes` file.
fn blkio_v1_bytes(text: &str) -> (u64, u64) {
    let mut totals = (0u64, 0u64);
    for line in text.lines() {
        let mut fields = line.split_whitespace();
        let (Some(_device), Some(op), Some(value)) = (fields.next(), fields.next(), fields.next())
        else {
            continue;
        };
        let value: u64 = value.parse().unwrap_or(0);
        match op {
            "Read" => totals.0 += value,
            "Write" => totals.1 += value,
            _ => {}
        }
    }
    totals
}

/// Sums `rbytes` and `wbytes` over the devices of a v2 `io.stat`.
fn io_v2_bytes(text: &str) -> (u64, u64) {
    let mut totals = (0u64, 0u64);
    for pair in text.split_whitespace() {
        let Some((key, value)) = pair.split_once('=') else {
            continue;
        };
        let value: u64 = value.parse().unwrap_or(0);
        match key {
            "rbytes" => totals.0 += value,
            "wbytes" => totals.1 += value,
            _ => {}
        }
    }
    totals
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_kernel_formats() {
        assert_eq!(
            keyed("oom_kill_disable 0\nunder_oom 0\noom_kill 3\n", "oom_kill"),
            Some(3)
        );
        assert_eq!(keyed("low 0\noom 1\noom_kill 2\n", "oom_kill"), Some(2));
        assert_eq!(
            blkio_v1_bytes("8:0 Read 4096\n8:0 Write 100\n8:16 Read 4\n8:0 Total 4200\nTotal 1\n"),
            (4100, 100)
        );
        assert_eq!(
            io_v2_bytes("8:0 rbytes=10 wbytes=20 rios=1 wios=2\n8:16 rbytes=5 wbytes=0\n"),
            (15, 20)
        );
        let mounts = CgroupMounts::parse(
            "30 25 0:26 / /sys/fs/cgroup/unified rw - cgroup2 cgroup2 rw,nsdelegate\n\
             34 25 0:30 / /sys/fs/cgroup/memory rw,nosuid - cgroup cgroup rw,memory\n\
             35 25 0:31 / /sys/fs/cgroup/cpu\\040acct rw - cgroup cgroup rw,cpu,cpuacct\n",
        );
        assert_eq!(
            mounts.unified.as_deref(),
            Some(Path::new("/sys/fs/cgroup/unified"))
        );
        assert_eq!(
            mounts.v1_mount("memory"),
            Some(Path::new("/sys/fs/cgroup/memory"))
        );
        assert_eq!(
            mounts.v1_mount("cpuacct"),
            Some(Path::new("/sys/fs/cgroup/cpu acct"))
        );
        assert_eq!(mounts.v1_mount("pids"), None);
    }

    #[test]
    fn finds_our_own_cgroup() {
        let files = CgroupFiles::of_process(Pid::this()).unwrap();
        assert!(files.memory.is_some() || files.unified.is_some());
        // Our own cgroup has processes: us.
        assert!(files.stats().pids >= 1 || files.pids.is_none());
    }
}
