//! Property tests: run by a small BPF interpreter, the compiled program decides every syscall
//! exactly as a direct reading of the OCI spec does; compiling arbitrary input never panics.

use oci_spec::runtime::{
    LinuxSeccomp, LinuxSeccompAction, LinuxSeccompArg, LinuxSeccompArgBuilder,
    LinuxSeccompFilterFlag, LinuxSeccompOperator, LinuxSyscall,
};
use proptest::prelude::*;
use seccompiler::sock_filter;

use super::bpf::{ALU_AND_K, JMP_JA, JMP_JEQ_K, JMP_JGE_K, JMP_JGT_K, JMP_JSET_K, LD_W_ABS, RET_K};
use super::{arch, compile};

/// struct seccomp_data, as the kernel hands it to the filter.
#[derive(Debug, Clone)]
struct SeccompData {
    nr: u32,
    arch: u32,
    args: [u64; 6],
}

impl SeccompData {
    fn bytes(&self) -> [u8; 64] {
        let mut bytes = [0; 64];
        bytes[0..4].copy_from_slice(&self.nr.to_ne_bytes());
        bytes[4..8].copy_from_slice(&self.arch.to_ne_bytes());
        // 8..16 is the instruction pointer, which no rule looks at.
        for (i, arg) in self.args.iter().enumerate() {
            bytes[16 + 8 * i..24 + 8 * i].copy_from_slice(&arg.to_ne_bytes());
        }
        bytes
    }
}

/// Classic-BPF interpreter for the opcodes the compiler emits. Panics on anything the kernel's
/// checker would refuse (unknown opcode, jump or load out of range).
fn run(program: &[sock_filter], data: &SeccompData) -> u32 {
    let bytes = data.bytes();
    let mut acc = 0u32;
    let mut pc = 0;
    loop {
        let insn = &program[pc];
        pc += 1;
        let test = |holds: bool| usize::from(if holds { insn.jt } else { insn.jf });
        match insn.code {
            LD_W_ABS => {
                let at = insn.k as usize;
                acc = u32::from_ne_bytes(bytes[at..at + 4].try_into().unwrap());
            }
            ALU_AND_K => acc &= insn.k,
            JMP_JA => pc += insn.k as usize,
            JMP_JEQ_K => pc += test(acc == insn.k),
            JMP_JGT_K => pc += test(acc > insn.k),
            JMP_JGE_K => pc += test(acc >= insn.k),
            JMP_JSET_K => pc += test(acc & insn.k != 0),
            RET_K => return insn.k,
            code => panic!("unexpected opcode {code:#x}"),
        }
    }
}

// Kernel return values (linux/seccomp.h), written out independently of the compiler.
const KILL_PROCESS: u32 = 0x8000_0000;
const ERRNO: u32 = 0x0005_0000;

fn return_value(action: LinuxSeccompAction, errno_ret: Option<u32>) -> u32 {
    let data = errno_ret.unwrap_or(1);
    match action {
        LinuxSeccompAction::ScmpActKill | LinuxSeccompAction::ScmpActKillThread => 0,
        LinuxSeccompAction::ScmpActKillProcess => KILL_PROCESS,
        LinuxSeccompAction::ScmpActTrap => 0x0003_0000,
        LinuxSeccompAction::ScmpActErrno => ERRNO | data,
        LinuxSeccompAction::ScmpActTrace => 0x7ff0_0000 | data,
        LinuxSeccompAction::ScmpActLog => 0x7ffc_0000,
        LinuxSeccompAction::ScmpActAllow => 0x7fff_0000,
        LinuxSeccompAction::ScmpActNotify => unreachable!("not generated"),
    }
}

fn arg_holds(arg: &LinuxSeccompArg, value: u64) -> bool {
    match arg.op() {
        LinuxSeccompOperator::ScmpCmpNe => value != arg.value(),
        LinuxSeccompOperator::ScmpCmpLt => value < arg.value(),
        LinuxSeccompOperator::ScmpCmpLe => value <= arg.value(),
        LinuxSeccompOperator::ScmpCmpEq => value == arg.value(),
        LinuxSeccompOperator::ScmpCmpGe => value >= arg.value(),
        LinuxSeccompOperator::ScmpCmpGt => value > arg.value(),
        LinuxSeccompOperator::ScmpCmpMaskedEq => {
            value & arg.value() == arg.value_two().unwrap_or(0)
        }
    }
}

/// Whether an entry's arguments accept the call: all of them, or any of them if an index repeats.
fn entry_holds(entry: &LinuxSyscall, args: &[u64; 6]) -> bool {
    let entry_args = entry.args().as_deref().unwrap_or_default();
    let mut indexes: Vec<usize> = entry_args.iter().map(|arg| arg.index()).collect();
    indexes.sort_unstable();
    indexes.dedup();
    let holds = |arg: &LinuxSeccompArg| arg_holds(arg, args[arg.index()]);
    if entry_args.is_empty() {
        true
    } else if indexes.len() == entry_args.len() {
        entry_args.iter().all(holds)
    } else {
        entry_args.iter().any(holds)
    }
}

/// What the kernel should answer, read straight from the spec.
fn expected(spec: &LinuxSeccomp, data: &SeccompData) -> u32 {
    if Some(data.arch) != arch::AUDIT_ARCH
        || arch::X32_SYSCALL_BIT.is_some_and(|bit| data.nr & bit != 0)
    {
        return KILL_PROCESS;
    }
    let default = return_value(spec.default_action(), spec.default_errno_ret());
    let entries = spec.syscalls().as_deref().unwrap_or_default();
    let names_nr = |entry: &LinuxSyscall| {
        entry
            .names()
            .iter()
            .any(|name| arch::syscall_number(name) == Some(data.nr))
    };
    // The kernel's precedence: the action bits compared as signed integers, smallest wins.
    let rank = |value: u32| (value & 0xffff_0000) as i32;
    let mut decision: Option<u32> = None;
    for entry in entries {
        let action = return_value(entry.action(), entry.errno_ret());
        if action != default
            && names_nr(entry)
            && entry_holds(entry, &data.args)
            && decision.is_none_or(|best| rank(action) < rank(best))
        {
            decision = Some(action);
        }
    }
    if let Some(action) = decision {
        return action;
    }
    let highest = entries
        .iter()
        .flat_map(|entry| entry.names())
        .filter_map(|name| arch::syscall_number(name))
        .max();
    let permissive = matches!(
        default & 0xffff_0000,
        0x7fff_0000 | 0x7ffc_0000 | 0x7ff0_0000
    );
    let enosys = ERRNO | libc::ENOSYS as u32;
    match highest {
        Some(highest) if !permissive && default != enosys && data.nr > highest => enosys,
        _ => default,
    }
}

/// Names the generated specs use: real syscalls plus ones no architecture has.
const NAMES: &[&str] = &[
    "read",
    "write",
    "dup",
    "dup3",
    "umask",
    "getpid",
    "mkdirat",
    "clone",
    "socket",
    "exit_group",
    "futex_waitv",
    "chown32",
    "not_a_syscall",
];

/// Few names and no catch-all rules, so that each name gets many rules and long jumps.
const FEW_NAMES: &[&str] = &["dup3", "umask"];

/// Values near the interesting edges: 32-bit halves equal, borders, all ones.
const EDGES: &[u64] = &[
    0,
    1,
    2,
    0x7e02_0000,
    0xffff_fffe,
    0xffff_ffff,
    0x1_0000_0000,
    0x1_0000_0001,
    0x1_ffff_ffff,
    u64::MAX - 1,
    u64::MAX,
];

fn value() -> impl Strategy<Value = u64> {
    prop_oneof![3 => proptest::sample::select(EDGES), 1 => any::<u64>()]
}

fn action(valid: bool) -> impl Strategy<Value = LinuxSeccompAction> {
    let mut actions = vec![
        LinuxSeccompAction::ScmpActKill,
        LinuxSeccompAction::ScmpActKillThread,
        LinuxSeccompAction::ScmpActKillProcess,
        LinuxSeccompAction::ScmpActTrap,
        LinuxSeccompAction::ScmpActErrno,
        LinuxSeccompAction::ScmpActErrno,
        LinuxSeccompAction::ScmpActTrace,
        LinuxSeccompAction::ScmpActLog,
        LinuxSeccompAction::ScmpActAllow,
        LinuxSeccompAction::ScmpActAllow,
    ];
    if !valid {
        actions.push(LinuxSeccompAction::ScmpActNotify);
    }
    proptest::sample::select(actions)
}

fn op() -> impl Strategy<Value = LinuxSeccompOperator> {
    proptest::sample::select(vec![
        LinuxSeccompOperator::ScmpCmpNe,
        LinuxSeccompOperator::ScmpCmpLt,
        LinuxSeccompOperator::ScmpCmpLe,
        LinuxSeccompOperator::ScmpCmpEq,
        LinuxSeccompOperator::ScmpCmpGe,
        LinuxSeccompOperator::ScmpCmpGt,
        LinuxSeccompOperator::ScmpCmpMaskedEq,
    ])
}

/// Errno/trace data: small values (the errnos used in practice) or, if `valid` is false, any u32.
fn errno_ret(valid: bool) -> BoxedStrategy<Option<u32>> {
    let data = if valid {
        (0..=0xffffu32).boxed()
    } else {
        any::<u32>().boxed()
    };
    proptest::option::of(prop_oneof![3 => 1..=133u32, 1 => data]).boxed()
}

fn seccomp_arg(max_index: usize) -> impl Strategy<Value = LinuxSeccompArg> {
    (0..=max_index, value(), proptest::option::of(value()), op()).prop_map(
        |(index, value, value_two, op)| {
            let arg = LinuxSeccompArgBuilder::default()
                .index(index)
                .value(value)
                .op(op);
            match value_two {
                Some(value_two) => arg.value_two(value_two),
                None => arg,
            }
            .build()
            .unwrap()
        },
    )
}

fn syscall_entry(
    valid: bool,
    names: &'static [&'static str],
    min_args: usize,
) -> impl Strategy<Value = LinuxSyscall> {
    let max_index = if valid { 5 } else { 7 };
    (
        proptest::sample::subsequence(names, 1..=names.len().min(3)),
        action(valid),
        errno_ret(valid),
        proptest::collection::vec(seccomp_arg(max_index), min_args..=6),
    )
        .prop_map(|(names, action, errno_ret, args)| {
            let mut entry = LinuxSyscall::default();
            entry
                .set_names(names.iter().map(|name| name.to_string()).collect())
                .set_action(action)
                .set_errno_ret(errno_ret)
                .set_args((!args.is_empty()).then_some(args));
            entry
        })
}

/// Specs with up to `max_entries` entries naming `names`, each with at least `min_args` arguments.
fn spec(
    valid: bool,
    names: &'static [&'static str],
    max_entries: usize,
    min_args: usize,
) -> impl Strategy<Value = LinuxSeccomp> {
    (
        action(valid),
        errno_ret(valid),
        proptest::collection::vec(syscall_entry(valid, names, min_args), 0..=max_entries),
    )
        .prop_map(|(default_action, default_errno_ret, syscalls)| {
            let mut spec = LinuxSeccomp::default();
            spec.set_default_action(default_action)
                .set_default_errno_ret(default_errno_ret)
                .set_syscalls(Some(syscalls));
            spec
        })
}

/// Syscalls to evaluate: mostly ones the spec's names resolve to, with argument values at and
/// around the spec's constants, plus foreign architectures and x32 numbers.
fn call(names: &[&str]) -> impl Strategy<Value = SeccompData> {
    let known: Vec<u32> = names
        .iter()
        .filter_map(|name| arch::syscall_number(name))
        .collect();
    let nr = prop_oneof![
        6 => proptest::sample::select(known),
        1 => 0..1000u32,
        1 => any::<u32>(),
    ];
    let arg = (value(), -1i64..=1).prop_map(|(value, delta)| value.wrapping_add_signed(delta));
    let arch = prop_oneof![
        9 => Just(arch::AUDIT_ARCH.unwrap()),
        1 => Just(0x4000_0003u32), // AUDIT_ARCH_I386
    ];
    (nr, arch, proptest::array::uniform6(arg)).prop_map(|(nr, arch, args)| SeccompData {
        nr,
        arch,
        args,
    })
}

fn check_decisions(spec: &LinuxSeccomp, calls: &[SeccompData]) -> Result<(), TestCaseError> {
    let program = match compile(spec) {
        Ok(program) => program,
        // Dozens of entries with six conditions can exceed the kernel's limit; nothing else may.
        Err(super::SeccompError::ProgramTooLarge(_)) => return Ok(()),
        Err(error) => panic!("valid spec rejected: {error}"),
    };
    for call in calls {
        prop_assert_eq!(
            run(&program.filter, call),
            expected(spec, call),
            "{:?}",
            call
        );
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn program_decides_like_the_spec(
        spec in spec(true, NAMES, 40, 0),
        calls in proptest::collection::vec(call(NAMES), 64),
    ) {
        check_decisions(&spec, &calls)?;
    }

    #[test]
    fn long_rule_chains_decide_like_the_spec(
        spec in spec(true, FEW_NAMES, 30, 1),
        calls in proptest::collection::vec(call(FEW_NAMES), 64),
    ) {
        check_decisions(&spec, &calls)?;
    }

    #[test]
    fn compile_never_panics(
        spec in spec(false, NAMES, 60, 0),
        flags in proptest::collection::vec(proptest::sample::select(vec![
            LinuxSeccompFilterFlag::SeccompFilterFlagLog,
            LinuxSeccompFilterFlag::SeccompFilterFlagTsync,
            LinuxSeccompFilterFlag::SeccompFilterFlagSpecAllow,
            LinuxSeccompFilterFlag::SeccompFilterFlagWaitKillableRecv,
        ]), 0..3),
        listener in proptest::option::weighted(0.1, Just(std::path::PathBuf::from("/run/agent.sock"))),
        call in call(NAMES),
    ) {
        let mut spec = spec;
        spec.set_flags(Some(flags)).set_listener_path(listener);
        if let Ok(program) = compile(&spec) {
            prop_assert!(program.instruction_count() <= 4096);
            run(&program.filter, &call);
        }
    }
}
