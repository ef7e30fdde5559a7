//! `process.scheduler`: the scheduling policy and attributes, set with sched_setattr(2).

use nix::errno::Errno;
use oci_spec::runtime::{LinuxSchedulerFlag, LinuxSchedulerPolicy, Scheduler};

use crate::error::{Context, Result};

/// The kernel's `struct sched_attr` (include/uapi/linux/sched/types.h), version 1.
#[repr(C)]
#[derive(Debug, Default)]
struct SchedAttr {
    size: u32,
    policy: u32,
    flags: u64,
    nice: i32,
    priority: u32,
    runtime: u64,
    deadline: u64,
    period: u64,
    util_min: u32,
    util_max: u32,
}

fn policy_number(policy: LinuxSchedulerPolicy) -> u32 {
    match policy {
        LinuxSchedulerPolicy::SchedOther => 0,
        LinuxSchedulerPolicy::SchedFifo => 1,
        LinuxSchedulerPolicy::SchedRr => 2,
        LinuxSchedulerPolicy::SchedBatch => 3,
        LinuxSchedulerPolicy::SchedIso => 4,
        LinuxSchedulerPolicy::SchedIdle => 5,
        LinuxSchedulerPolicy::SchedDeadline => 6,
    }
}

fn flag_bit(flag: LinuxSchedulerFlag) -> u64 {
    match flag {
        LinuxSchedulerFlag::SchedResetOnFork => 0x01,
        LinuxSchedulerFlag::SchedFlagReclaim => 0x02,
        LinuxSchedulerFlag::SchedFlagDLOverrun => 0x04,
        LinuxSchedulerFlag::SchedFlagKeepPolicy => 0x08,
        LinuxSchedulerFlag::SchedFlagKeepParams => 0x10,
        LinuxSchedulerFlag::SchedFlagUtilClampMin => 0x20,
        LinuxSchedulerFlag::SchedFlagUtilClampMax => 0x40,
    }
}

fn attr(scheduler: &Scheduler) -> SchedAttr {
    SchedAttr {
        size: u32::try_from(std::mem::size_of::<SchedAttr>()).unwrap_or(u32::MAX),
        policy: policy_number(*scheduler.policy()),
        flags: scheduler
            .flags()
            .iter()
            .flatten()
            .fold(0, |bits, flag| bits | flag_bit(*flag)),
        nice: scheduler.nice().unwrap_or(0),
        priority: scheduler
            .priority()
            .and_then(|p| u32::try_from(p).ok())
            .unwrap_or(0),
        runtime: scheduler.runtime().unwrap_or(0),
        deadline: scheduler.deadline().unwrap_or(0),
        period: scheduler.period().unwrap_or(0),
        ..SchedAttr::default()
    }
}

/// Applies `scheduler` to the calling process.
pub fn set_scheduler(scheduler: Option<&Scheduler>) -> Result<()> {
    let Some(scheduler) = scheduler else {
        return Ok(());
    };
    let attr = attr(scheduler);
    // SAFETY: the kernel reads `attr.size` bytes from a valid, initialised struct sched_attr.
    let rc = unsafe { libc::syscall(libc::SYS_sched_setattr, 0, &attr as *const SchedAttr, 0) };
    Errno::result(rc)
        .map(drop)
        .context(|| format!("setting scheduler {}", scheduler.policy()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use oci_spec::runtime::SchedulerBuilder;

    #[test]
    fn attributes_follow_the_kernel_layout() {
        assert_eq!(std::mem::size_of::<SchedAttr>(), 56);
        let scheduler = SchedulerBuilder::default()
            .policy(LinuxSchedulerPolicy::SchedBatch)
            .nice(5)
            .flags(vec![LinuxSchedulerFlag::SchedResetOnFork])
            .build()
            .unwrap();
        let attr = attr(&scheduler);
        assert_eq!((attr.policy, attr.nice, attr.flags), (3, 5, 1));
    }
}
