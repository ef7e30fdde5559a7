//! cgroup limits from `--memory`, `--memory-swap`, `--cpus`, `--cpu-shares`, `--cpuset-cpus`
//! and `--pids-limit`, with Docker's semantics and messages.

use berth_proto::node::v1::Resources;
use oci_spec::runtime::{LinuxCpu, LinuxMemory, LinuxPids, LinuxResources};

use super::cpuset::{format_cpus, parse_cpus};
use super::devices::cgroup_rules;
use super::SpecError;

/// The CFS period `--cpus` is expressed in, in microseconds (Docker's).
const CPU_PERIOD_US: u64 = 100_000;
/// The smallest quota the kernel accepts, in microseconds.
const MIN_CPU_QUOTA_US: i64 = 1_000;
/// Docker's lower bound for `--memory`.
const MIN_MEMORY: i64 = 6 * 1024 * 1024;
const MIN_CPU_SHARES: u64 = 2;
const MAX_CPU_SHARES: u64 = 262_144;

/// What the host offers, for range checks.
#[derive(Debug, Clone)]
pub struct HostCpus {
    /// CPUs the daemon may run on (Docker's NumCPU).
    pub count: usize,
    /// Online CPU numbers.
    pub online: Vec<u32>,
}

impl HostCpus {
    /// Reads the daemon's affinity and `/sys/devices/system/cpu/online`.
    pub fn probe() -> Result<Self, SpecError> {
        let text = std::fs::read_to_string("/sys/devices/system/cpu/online").map_err(|source| {
            SpecError::Io {
                context: "reading /sys/devices/system/cpu/online".into(),
                source,
            }
        })?;
        let online = parse_cpus(text.trim()).map_err(|_| {
            SpecError::Invalid(format!("unreadable online CPU list {:?}", text.trim()))
        })?;
        let count = nix::sched::sched_getaffinity(nix::unistd::Pid::from_raw(0))
            .map(|set| {
                (0..nix::sched::CpuSet::count())
                    .filter(|cpu| set.is_set(*cpu).unwrap_or(false))
                    .count()
            })
            .unwrap_or(online.len());
        Ok(HostCpus { count, online })
    }
}

/// The container's cgroup resources, including its device rules.
pub fn linux_resources(
    resources: Option<&Resources>,
    privileged: bool,
    host: &HostCpus,
) -> Result<LinuxResources, SpecError> {
    let mut out = LinuxResources::default();
    out.set_devices(Some(cgroup_rules(privileged)));
    let Some(resources) = resources else {
        return Ok(out);
    };
    out.set_memory(memory(resources.memory, resources.memory_swap)?)
        .set_cpu(cpu(resources, host)?)
        .set_pids(pids(resources.pids_limit));
    Ok(out)
}

fn memory(limit: i64, swap: i64) -> Result<Option<LinuxMemory>, SpecError> {
    if limit < 0 {
        return Err(SpecError::Invalid(format!(
            "invalid memory limit {limit}: must not be negative"
        )));
    }
    if swap < -1 {
        return Err(SpecError::Invalid(format!(
            "invalid memory-swap limit {swap}: a size, or -1 for unlimited swap"
        )));
    }
    if limit == 0 {
        if swap > 0 {
            return Err(SpecError::Invalid(
                "a memory-swap limit needs a memory limit too".into(),
            ));
        }
        return Ok(None);
    }
    if limit < MIN_MEMORY {
        return Err(SpecError::Invalid(
            "minimum memory limit allowed is 6MB".into(),
        ));
    }
    let swap = match swap {
        0 => limit
            .checked_mul(2)
            .ok_or_else(|| SpecError::Invalid(format!("memory limit {limit} is too large")))?,
        -1 => -1,
        swap if swap < limit => {
            return Err(SpecError::Invalid(format!(
                "memory-swap limit {swap} must be at least the memory limit {limit}"
            )))
        }
        swap => swap,
    };
    let mut memory = LinuxMemory::default();
    memory.set_limit(Some(limit)).set_swap(Some(swap));
    Ok(Some(memory))
}

fn cpu(resources: &Resources, host: &HostCpus) -> Result<Option<LinuxCpu>, SpecError> {
    let mut cpu = LinuxCpu::default();
    let mut any = false;
    if resources.nano_cpus != 0 {
        let range_err = || {
            SpecError::Invalid(format!(
                "Range of CPUs is from 0.01 to {n}.00, as there are only {n} CPUs available",
                n = host.count
            ))
        };
        let max = i64::try_from(host.count).map_err(|_| range_err())? * 1_000_000_000;
        if resources.nano_cpus < 0 || resources.nano_cpus > max {
            return Err(range_err());
        }
        // nano_cpus ≤ count·1e9, so the product stays far below i64::MAX.
        let quota = resources.nano_cpus * CPU_PERIOD_US as i64 / 1_000_000_000;
        if quota < MIN_CPU_QUOTA_US {
            return Err(range_err());
        }
        cpu.set_quota(Some(quota)).set_period(Some(CPU_PERIOD_US));
        any = true;
    }
    if resources.cpu_shares != 0 {
        let shares = u64::try_from(resources.cpu_shares).map_err(|_| {
            SpecError::Invalid(format!(
                "invalid CPU shares ({}): value must be a positive integer",
                resources.cpu_shares
            ))
        })?;
        cpu.set_shares(Some(shares.clamp(MIN_CPU_SHARES, MAX_CPU_SHARES)));
        any = true;
    }
    if !resources.cpuset_cpus.is_empty() {
        let requested = parse_cpus(&resources.cpuset_cpus)?;
        if requested.iter().any(|c| !host.online.contains(c)) {
            return Err(SpecError::Invalid(format!(
                "Requested CPUs are not available - requested {}, available: {}",
                resources.cpuset_cpus,
                format_cpus(&host.online)
            )));
        }
        cpu.set_cpus(Some(resources.cpuset_cpus.clone()));
        any = true;
    }
    Ok(any.then_some(cpu))
}

/// Unset or 0: no limit entry; negative: unlimited (-1), as Docker normalises it.
fn pids(limit: Option<i64>) -> Option<LinuxPids> {
    let limit = limit.filter(|l| *l != 0)?;
    let mut pids = LinuxPids::default();
    pids.set_limit(limit.max(-1));
    Some(pids)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn host() -> HostCpus {
        HostCpus {
            count: 2,
            online: vec![0, 1],
        }
    }

    fn build(resources: Resources) -> Result<LinuxResources, SpecError> {
        linux_resources(Some(&resources), false, &host())
    }

    const MB: i64 = 1024 * 1024;

    #[test]
    fn no_resources_means_only_device_rules() {
        let out = linux_resources(None, false, &host()).unwrap();
        assert!(out.devices().is_some());
        assert!(out.memory().is_none() && out.cpu().is_none() && out.pids().is_none());
        let out = build(Resources::default()).unwrap();
        assert!(out.memory().is_none() && out.cpu().is_none() && out.pids().is_none());
    }

    #[test]
    fn memory_swap_follows_docker() {
        let mem = |memory, memory_swap| {
            build(Resources {
                memory,
                memory_swap,
                ..Default::default()
            })
            .map(|r| r.memory().as_ref().map(|m| (m.limit(), m.swap())))
        };
        assert_eq!(
            mem(64 * MB, 0).unwrap(),
            Some((Some(64 * MB), Some(128 * MB)))
        );
        assert_eq!(mem(64 * MB, -1).unwrap(), Some((Some(64 * MB), Some(-1))));
        assert_eq!(
            mem(64 * MB, 100 * MB).unwrap(),
            Some((Some(64 * MB), Some(100 * MB)))
        );
        assert_eq!(
            mem(64 * MB, 64 * MB).unwrap(),
            Some((Some(64 * MB), Some(64 * MB)))
        );
        assert_eq!(mem(0, -1).unwrap(), None);
        for (memory, swap, message) in [
            (
                64 * MB,
                32 * MB,
                "memory-swap limit 33554432 must be at least the memory limit 67108864",
            ),
            (0, 64 * MB, "a memory-swap limit needs a memory limit too"),
            (-5, 0, "invalid memory limit -5: must not be negative"),
            (MB, 0, "minimum memory limit allowed is 6MB"),
            (
                64 * MB,
                -2,
                "invalid memory-swap limit -2: a size, or -1 for unlimited swap",
            ),
            (i64::MAX, 0, "memory limit 9223372036854775807 is too large"),
        ] {
            assert_eq!(mem(memory, swap).unwrap_err().to_string(), message);
        }
    }

    #[test]
    fn cpus_become_quota_over_period() {
        let out = build(Resources {
            nano_cpus: 1_500_000_000,
            ..Default::default()
        })
        .unwrap();
        let cpu = out.cpu().as_ref().unwrap();
        assert_eq!((cpu.quota(), cpu.period()), (Some(150_000), Some(100_000)));
        let min = build(Resources {
            nano_cpus: 10_000_000,
            ..Default::default()
        })
        .unwrap();
        assert_eq!(min.cpu().as_ref().unwrap().quota(), Some(1_000));
    }

    #[test]
    fn cpus_out_of_range_are_errors() {
        for nano_cpus in [-1, 1, 9_999_999, 2_000_000_001, i64::MAX, i64::MIN] {
            let err = build(Resources {
                nano_cpus,
                ..Default::default()
            })
            .unwrap_err();
            assert_eq!(
                err.to_string(),
                "Range of CPUs is from 0.01 to 2.00, as there are only 2 CPUs available",
                "{nano_cpus}"
            );
        }
    }

    #[test]
    fn shares_are_clamped_and_negative_is_an_error() {
        let shares = |cpu_shares| {
            build(Resources {
                cpu_shares,
                ..Default::default()
            })
            .map(|r| r.cpu().as_ref().and_then(|c| c.shares()))
        };
        assert_eq!(shares(1).unwrap(), Some(2));
        assert_eq!(shares(512).unwrap(), Some(512));
        assert_eq!(shares(1 << 20).unwrap(), Some(262_144));
        assert_eq!(
            shares(-3).unwrap_err().to_string(),
            "invalid CPU shares (-3): value must be a positive integer"
        );
    }

    #[test]
    fn cpuset_must_be_online() {
        let set = |cpuset: &str| {
            build(Resources {
                cpuset_cpus: cpuset.into(),
                ..Default::default()
            })
        };
        assert_eq!(
            set("0-1")
                .unwrap()
                .cpu()
                .as_ref()
                .unwrap()
                .cpus()
                .as_deref(),
            Some("0-1")
        );
        assert_eq!(
            set("0-3").unwrap_err().to_string(),
            "Requested CPUs are not available - requested 0-3, available: 0-1"
        );
        assert!(set("1-0").is_err());
        assert!(set("a").is_err());
    }

    #[test]
    fn pids_limits() {
        let pids = |pids_limit| {
            build(Resources {
                pids_limit,
                ..Default::default()
            })
            .unwrap()
            .pids()
            .as_ref()
            .map(|p| p.limit())
        };
        assert_eq!(pids(None), None);
        assert_eq!(pids(Some(0)), None);
        assert_eq!(pids(Some(100)), Some(100));
        assert_eq!(pids(Some(-1)), Some(-1));
        assert_eq!(pids(Some(-7)), Some(-1));
    }

    #[test]
    fn probe_reads_this_host() {
        let host = HostCpus::probe().unwrap();
        assert!(host.count >= 1);
        assert!(host.online.contains(&0));
    }
}
