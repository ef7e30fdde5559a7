//! Resolves an OCI seccomp section into per-syscall rules for the native architecture.

use std::collections::BTreeMap;

use oci_spec::runtime::{LinuxSeccomp, LinuxSeccompAction, LinuxSeccompOperator, LinuxSyscall};
use seccompiler::{SeccompAction, SeccompCmpOp};

use super::{arch, SeccompError};

/// What the BPF program must decide, with syscall names already resolved to numbers.
#[derive(Debug)]
pub(super) struct Policy {
    /// Kernel return value for syscalls no rule matches.
    pub default_action: u32,
    /// Rules per syscall number, in evaluation order: highest-precedence action first, and
    /// nothing after a rule without conditions.
    pub syscalls: BTreeMap<u32, Vec<Rule>>,
    /// Syscalls numbered above this get ENOSYS instead of the default action.
    pub enosys_above: Option<u32>,
}

/// One alternative for a syscall: all conditions must hold for `action` to apply.
#[derive(Debug, Clone)]
pub(super) struct Rule {
    pub action: u32,
    pub conditions: Vec<Condition>,
}

/// `args[index] <op> value`, compared as unsigned 64-bit integers.
#[derive(Debug, Clone)]
pub(super) struct Condition {
    pub index: u8,
    pub op: SeccompCmpOp,
    pub value: u64,
}

/// Largest syscall argument index.
const MAX_ARG_INDEX: u8 = 5;

impl Policy {
    pub(super) fn from_spec(spec: &LinuxSeccomp) -> Result<Self, SeccompError> {
        if spec.listener_path().is_some() {
            return Err(SeccompError::ListenerUnsupported);
        }
        let default_action = return_value(spec.default_action(), spec.default_errno_ret())?;
        let mut syscalls: BTreeMap<u32, Vec<Rule>> = BTreeMap::new();
        let mut highest_named = None;
        let mut unknown = Vec::new();
        for entry in spec.syscalls().iter().flatten() {
            let action = return_value(entry.action(), entry.errno_ret())?;
            let rules = rules_of(entry, action)?;
            for name in entry.names() {
                let Some(nr) = arch::syscall_number(name) else {
                    unknown.push(name.as_str());
                    continue;
                };
                highest_named = highest_named.max(Some(nr));
                // Like runc: a rule that does what the default does is a no-op.
                if action != default_action {
                    syscalls
                        .entry(nr)
                        .or_default()
                        .extend(rules.iter().cloned());
                }
            }
        }
        if !unknown.is_empty() {
            unknown.sort_unstable();
            unknown.dedup();
            tracing::debug!(syscalls = ?unknown, "seccomp: skipping syscalls unknown on this architecture");
        }
        for rules in syscalls.values_mut() {
            rules.sort_by_key(|rule| precedence(rule.action));
            if let Some(catch_all) = rules.iter().position(|rule| rule.conditions.is_empty()) {
                rules.truncate(catch_all + 1);
            }
        }
        let enosys_above = highest_named.filter(|_| wants_enosys_stub(default_action));
        Ok(Policy {
            default_action,
            syscalls,
            enosys_above,
        })
    }
}

/// The kernel return value (action | data) of an OCI action.
fn return_value(action: LinuxSeccompAction, errno_ret: Option<u32>) -> Result<u32, SeccompError> {
    let data = || match errno_ret {
        None => Ok(libc::EPERM as u32),
        Some(value) if value <= 0xffff => Ok(value),
        Some(value) => Err(SeccompError::ReturnValueOutOfRange(value)),
    };
    let action = match action {
        LinuxSeccompAction::ScmpActKill | LinuxSeccompAction::ScmpActKillThread => {
            SeccompAction::KillThread
        }
        LinuxSeccompAction::ScmpActKillProcess => SeccompAction::KillProcess,
        LinuxSeccompAction::ScmpActTrap => SeccompAction::Trap,
        LinuxSeccompAction::ScmpActErrno => SeccompAction::Errno(data()?),
        LinuxSeccompAction::ScmpActTrace => SeccompAction::Trace(data()?),
        LinuxSeccompAction::ScmpActLog => SeccompAction::Log,
        LinuxSeccompAction::ScmpActAllow => SeccompAction::Allow,
        LinuxSeccompAction::ScmpActNotify => return Err(SeccompError::NotifyUnsupported),
    };
    Ok(u32::from(action))
}

/// Sort key putting the action the kernel ranks highest first (it compares the action bits as
/// signed integers, smallest wins: KILL_PROCESS < KILL_THREAD < TRAP < ERRNO < TRACE < LOG < ALLOW).
fn precedence(return_value: u32) -> i32 {
    (return_value & libc::SECCOMP_RET_ACTION_FULL) as i32
}

/// runc's -ENOSYS stub is only worth it when unknown syscalls would otherwise be blocked.
fn wants_enosys_stub(default_action: u32) -> bool {
    let permissive = matches!(
        default_action & libc::SECCOMP_RET_ACTION_FULL,
        libc::SECCOMP_RET_ALLOW | libc::SECCOMP_RET_LOG | libc::SECCOMP_RET_TRACE
    );
    !permissive && default_action != u32::from(SeccompAction::Errno(libc::ENOSYS as u32))
}

/// The rules one OCI entry contributes to each syscall it names. Its arguments are ANDed,
/// unless an index repeats: then, like runc, each argument is a rule of its own (ORed).
fn rules_of(entry: &LinuxSyscall, action: u32) -> Result<Vec<Rule>, SeccompError> {
    let conditions = entry
        .args()
        .iter()
        .flatten()
        .map(|arg| {
            let index = u8::try_from(arg.index())
                .ok()
                .filter(|index| *index <= MAX_ARG_INDEX)
                .ok_or_else(|| SeccompError::ArgIndexOutOfRange {
                    syscalls: entry.names().join(","),
                    index: arg.index(),
                })?;
            let (op, value) = match arg.op() {
                LinuxSeccompOperator::ScmpCmpNe => (SeccompCmpOp::Ne, arg.value()),
                LinuxSeccompOperator::ScmpCmpLt => (SeccompCmpOp::Lt, arg.value()),
                LinuxSeccompOperator::ScmpCmpLe => (SeccompCmpOp::Le, arg.value()),
                LinuxSeccompOperator::ScmpCmpEq => (SeccompCmpOp::Eq, arg.value()),
                LinuxSeccompOperator::ScmpCmpGe => (SeccompCmpOp::Ge, arg.value()),
                LinuxSeccompOperator::ScmpCmpGt => (SeccompCmpOp::Gt, arg.value()),
                // OCI: `value` is the mask, `valueTwo` what the masked argument must equal.
                LinuxSeccompOperator::ScmpCmpMaskedEq => (
                    SeccompCmpOp::MaskedEq(arg.value()),
                    arg.value_two().unwrap_or(0),
                ),
            };
            Ok(Condition { index, op, value })
        })
        .collect::<Result<Vec<_>, SeccompError>>()?;
    let mut seen = [false; MAX_ARG_INDEX as usize + 1];
    let index_repeats = conditions
        .iter()
        .any(|condition| std::mem::replace(&mut seen[usize::from(condition.index)], true));
    Ok(if index_repeats {
        conditions
            .into_iter()
            .map(|condition| Rule {
                action,
                conditions: vec![condition],
            })
            .collect()
    } else {
        vec![Rule { action, conditions }]
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use oci_spec::runtime::{LinuxSeccompArgBuilder, LinuxSeccompBuilder, LinuxSyscallBuilder};

    fn arg(
        index: usize,
        value: u64,
        op: LinuxSeccompOperator,
    ) -> oci_spec::runtime::LinuxSeccompArg {
        LinuxSeccompArgBuilder::default()
            .index(index)
            .value(value)
            .op(op)
            .build()
            .unwrap()
    }

    fn policy(syscalls: Vec<LinuxSyscall>) -> Policy {
        let spec = LinuxSeccompBuilder::default()
            .default_action(LinuxSeccompAction::ScmpActErrno)
            .syscalls(syscalls)
            .build()
            .unwrap();
        Policy::from_spec(&spec).unwrap()
    }

    fn entry(
        names: &[&str],
        action: LinuxSeccompAction,
        args: Vec<oci_spec::runtime::LinuxSeccompArg>,
    ) -> LinuxSyscall {
        LinuxSyscallBuilder::default()
            .names(
                names
                    .iter()
                    .map(|name| name.to_string())
                    .collect::<Vec<_>>(),
            )
            .action(action)
            .args(args)
            .build()
            .unwrap()
    }

    fn nr(name: &str) -> u32 {
        arch::syscall_number(name).unwrap()
    }

    #[test]
    fn distinct_indexes_are_anded_repeated_indexes_are_ored() {
        let anded = policy(vec![entry(
            &["dup3"],
            LinuxSeccompAction::ScmpActAllow,
            vec![
                arg(0, 1, LinuxSeccompOperator::ScmpCmpEq),
                arg(1, 2, LinuxSeccompOperator::ScmpCmpEq),
            ],
        )]);
        assert_eq!(anded.syscalls[&nr("dup3")].len(), 1);
        assert_eq!(anded.syscalls[&nr("dup3")][0].conditions.len(), 2);

        let ored = policy(vec![entry(
            &["dup3"],
            LinuxSeccompAction::ScmpActAllow,
            vec![
                arg(0, 1, LinuxSeccompOperator::ScmpCmpEq),
                arg(0, 2, LinuxSeccompOperator::ScmpCmpEq),
            ],
        )]);
        assert_eq!(ored.syscalls[&nr("dup3")].len(), 2);
    }

    #[test]
    fn rules_are_ordered_by_precedence_and_cut_after_a_catch_all() {
        let eq = |value| vec![arg(0, value, LinuxSeccompOperator::ScmpCmpEq)];
        let policy = policy(vec![
            entry(&["dup"], LinuxSeccompAction::ScmpActAllow, vec![]),
            entry(&["dup"], LinuxSeccompAction::ScmpActKillProcess, eq(7)),
            entry(&["dup"], LinuxSeccompAction::ScmpActTrap, vec![]),
            entry(&["dup"], LinuxSeccompAction::ScmpActLog, eq(8)),
        ]);
        let actions: Vec<u32> = policy.syscalls[&nr("dup")]
            .iter()
            .map(|rule| rule.action)
            .collect();
        assert_eq!(
            actions,
            [
                u32::from(SeccompAction::KillProcess),
                u32::from(SeccompAction::Trap)
            ],
            "LOG and ALLOW rank below the unconditional TRAP and can never apply"
        );
    }

    #[test]
    fn rules_with_the_default_action_are_dropped() {
        let policy = policy(vec![
            entry(&["dup"], LinuxSeccompAction::ScmpActErrno, vec![]),
            entry(&["dup2"], LinuxSeccompAction::ScmpActAllow, vec![]),
        ]);
        assert!(!policy.syscalls.contains_key(&nr("dup")));
        assert_eq!(policy.enosys_above, Some(nr("dup").max(nr("dup2"))));
    }

    #[test]
    fn enosys_stub_only_when_the_default_blocks() {
        let blocking = u32::from(SeccompAction::Errno(libc::EPERM as u32));
        assert!(wants_enosys_stub(blocking));
        assert!(wants_enosys_stub(u32::from(SeccompAction::KillProcess)));
        assert!(!wants_enosys_stub(u32::from(SeccompAction::Allow)));
        assert!(!wants_enosys_stub(u32::from(SeccompAction::Log)));
        assert!(!wants_enosys_stub(u32::from(SeccompAction::Trace(1))));
        assert!(!wants_enosys_stub(u32::from(SeccompAction::Errno(
            libc::ENOSYS as u32
        ))));
    }

    #[test]
    fn masked_eq_takes_the_mask_from_value_and_the_datum_from_value_two() {
        let masked = LinuxSeccompArgBuilder::default()
            .index(0usize)
            .value(0xff00u64)
            .value_two(0x1200u64)
            .op(LinuxSeccompOperator::ScmpCmpMaskedEq)
            .build()
            .unwrap();
        let policy = policy(vec![entry(
            &["dup"],
            LinuxSeccompAction::ScmpActAllow,
            vec![masked],
        )]);
        let condition = &policy.syscalls[&nr("dup")][0].conditions[0];
        assert_eq!(condition.op, SeccompCmpOp::MaskedEq(0xff00));
        assert_eq!(condition.value, 0x1200);
    }
}
