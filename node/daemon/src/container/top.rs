//! TopContainer: the container's processes from /proc.

use berth_proto::node::v1::ContainerProcess;

use super::{lifecycle, ContainerManager};
use crate::{context::blocking, error::DomainResult, time};

impl ContainerManager {
    /// The processes of a running container, by PID.
    pub async fn top(&self, query: &str) -> DomainResult<Vec<ContainerProcess>> {
        let entry = self.lookup(query)?;
        lifecycle::require_running(&entry, "top")?;
        let mut pids = self.shim(&entry.id).pids().await?;
        pids.sort_unstable();
        blocking("reading /proc", move || {
            let clock = clock_ticks();
            let boot = boot_time();
            Ok(pids
                .into_iter()
                .filter_map(|pid| read_process(pid, clock, boot))
                .collect())
        })
        .await
    }
}

fn clock_ticks() -> u64 {
    nix::unistd::sysconf(nix::unistd::SysconfVar::CLK_TCK)
        .ok()
        .flatten()
        .and_then(|t| u64::try_from(t).ok())
        .filter(|t| *t > 0)
        .unwrap_or(100)
}

/// Boot time in seconds since the epoch, from /proc/stat.
fn boot_time() -> i64 {
    std::fs::read_to_string("/proc/stat")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("btime "))
                .and_then(|v| v.trim().parse().ok())
        })
        .unwrap_or(0)
}

/// The fields of /proc/<pid>/stat after the command (which may contain spaces and parens).
struct Stat {
    state: String,
    ppid: i32,
    cpu_ticks: u64,
    start_ticks: u64,
}

fn parse_stat(text: &str) -> Option<Stat> {
    let rest = &text[text.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // After the command: state(0) ppid(1) ... utime(11) stime(12) ... starttime(19).
    Some(Stat {
        state: (*fields.first()?).to_owned(),
        ppid: fields.get(1)?.parse().ok()?,
        cpu_ticks: fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?,
        start_ticks: fields.get(19)?.parse().ok()?,
    })
}

fn read_process(pid: i32, clock: u64, boot: i64) -> Option<ContainerProcess> {
    let dir = std::path::PathBuf::from(format!("/proc/{pid}"));
    let stat = parse_stat(&std::fs::read_to_string(dir.join("stat")).ok()?)?;
    let uid = std::fs::read_to_string(dir.join("status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("Uid:"))
                .and_then(|v| v.split_whitespace().next()?.parse().ok())
        })
        .unwrap_or(0);
    let cmdline = std::fs::read(dir.join("cmdline")).unwrap_or_default();
    let command = cmdline
        .split(|b| *b == 0)
        .filter(|part| !part.is_empty())
        .map(String::from_utf8_lossy)
        .collect::<Vec<_>>()
        .join(" ");
    let started_ns = i128::from(boot) * 1_000_000_000
        + i128::from(stat.start_ticks) * 1_000_000_000 / i128::from(clock);
    let started = chrono::DateTime::from_timestamp(
        i64::try_from(started_ns / 1_000_000_000).unwrap_or(0),
        u32::try_from(started_ns % 1_000_000_000).unwrap_or(0),
    );
    Some(ContainerProcess {
        pid,
        ppid: stat.ppid,
        uid,
        state: stat.state,
        started_at: started.map(time::to_timestamp),
        cpu_time_ns: stat.cpu_ticks.saturating_mul(1_000_000_000 / clock),
        command,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_parsing_survives_odd_command_names() {
        let text =
            "42 (my (odd) cmd) S 7 42 42 0 -1 4194560 100 0 0 0 15 5 0 0 20 0 1 0 12345 1000 10";
        let s = parse_stat(text).unwrap();
        assert_eq!(s.state, "S");
        assert_eq!(s.ppid, 7);
        assert_eq!(s.cpu_ticks, 20);
        assert_eq!(s.start_ticks, 12345);
        assert!(parse_stat("garbage").is_none());
    }

    #[test]
    fn our_own_process_reads_back() {
        let me = i32::try_from(std::process::id()).unwrap();
        let p = read_process(me, clock_ticks(), boot_time()).unwrap();
        assert_eq!(p.pid, me);
        assert!(!p.command.is_empty());
        assert!(p.started_at.is_some());
    }
}
