//! Emits the classic-BPF program deciding a [`Policy`].
//!
//! Layout: architecture check, foreign-ABI check, optional ENOSYS stub, then one block per
//! syscall (`if nr == N { rules...; return default }`) and a final `return default`. Every block
//! ends in a return, so the syscall number only has to be loaded once. Lengths are computed before
//! emitting, so every jump is known when it is written.

use seccompiler::{sock_filter, SeccompAction, SeccompCmpOp};

use super::arch;
use super::policy::{Condition, Policy, Rule};
use super::SeccompError;

/// Kernel limit on the length of one seccomp program (BPF_MAXINSNS).
const MAX_INSTRUCTIONS: usize = 4096;

// Opcodes, from linux/bpf_common.h.
pub(super) const LD_W_ABS: u16 = 0x20; // BPF_LD (0) | BPF_W (0) | BPF_ABS
pub(super) const ALU_AND_K: u16 = 0x04 | 0x50; // BPF_ALU | BPF_AND | BPF_K (0)
pub(super) const JMP_JA: u16 = 0x05; // BPF_JMP | BPF_JA
pub(super) const JMP_JEQ_K: u16 = 0x05 | 0x10; // BPF_JMP | BPF_JEQ | BPF_K
pub(super) const JMP_JGT_K: u16 = 0x05 | 0x20;
pub(super) const JMP_JGE_K: u16 = 0x05 | 0x30;
pub(super) const JMP_JSET_K: u16 = 0x05 | 0x40;
pub(super) const RET_K: u16 = 0x06;

// Offsets in struct seccomp_data { int nr; u32 arch; u64 instruction_pointer; u64 args[6]; }.
const NR_OFFSET: u32 = 0;
const ARCH_OFFSET: u32 = 4;
const ARGS_OFFSET: u32 = 16;

/// Compiles `policy` into a program the kernel accepts.
pub(super) fn emit(policy: &Policy) -> Result<Vec<sock_filter>, SeccompError> {
    let audit_arch =
        arch::AUDIT_ARCH.ok_or(SeccompError::UnsupportedArch(std::env::consts::ARCH))?;
    let length = program_len(policy);
    if length > MAX_INSTRUCTIONS {
        return Err(SeccompError::ProgramTooLarge(length));
    }
    let foreign_abi = u32::from(SeccompAction::KillProcess);
    let mut program = Program(Vec::with_capacity(length));
    program.stmt(LD_W_ABS, ARCH_OFFSET);
    program.jump(JMP_JEQ_K, audit_arch, 1, 0);
    program.stmt(RET_K, foreign_abi);
    program.stmt(LD_W_ABS, NR_OFFSET);
    if let Some(x32_bit) = arch::X32_SYSCALL_BIT {
        program.jump(JMP_JSET_K, x32_bit, 0, 1);
        program.stmt(RET_K, foreign_abi);
    }
    if let Some(highest) = policy.enosys_above {
        program.jump(JMP_JGT_K, highest, 0, 1);
        program.stmt(RET_K, u32::from(SeccompAction::Errno(libc::ENOSYS as u32)));
    }
    for (&nr, rules) in &policy.syscalls {
        let body = body_len(rules);
        match u8::try_from(body) {
            Ok(skip) => program.jump(JMP_JEQ_K, nr, 0, skip),
            Err(_) => {
                program.jump(JMP_JEQ_K, nr, 1, 0);
                program.stmt(
                    JMP_JA,
                    u32::try_from(body).expect("body fits the 4096 limit"),
                );
            }
        }
        for rule in rules {
            emit_rule(&mut program, rule);
        }
        if !ends_with_catch_all(rules) {
            program.stmt(RET_K, policy.default_action);
        }
    }
    program.stmt(RET_K, policy.default_action);
    debug_assert_eq!(program.0.len(), length);
    Ok(program.0)
}

/// A program under construction.
struct Program(Vec<sock_filter>);

impl Program {
    fn stmt(&mut self, code: u16, k: u32) {
        self.0.push(sock_filter {
            code,
            jt: 0,
            jf: 0,
            k,
        });
    }

    /// Conditional jump with relative offsets.
    fn jump(&mut self, code: u16, k: u32, jt: u8, jf: u8) {
        self.0.push(sock_filter { code, jt, jf, k });
    }

    /// Position of the instruction after the next one emitted, i.e. "fall through".
    fn next(&self) -> usize {
        self.0.len() + 1
    }

    /// Conditional jump to absolute positions at or after [`Program::next`].
    fn jump_to(&mut self, code: u16, k: u32, jt: usize, jf: usize) {
        let next = self.next();
        let offset = |target: usize| {
            u8::try_from(target - next)
                .expect("jumps stay inside one rule, at most 37 instructions")
        };
        self.jump(code, k, offset(jt), offset(jf));
    }
}

fn program_len(policy: &Policy) -> usize {
    let header = 4 + 2 * usize::from(arch::X32_SYSCALL_BIT.is_some());
    let stub = 2 * usize::from(policy.enosys_above.is_some());
    let blocks: usize = policy
        .syscalls
        .values()
        .map(|rules| {
            let body = body_len(rules);
            let dispatch = if body <= usize::from(u8::MAX) { 1 } else { 2 };
            dispatch + body
        })
        .sum();
    header + stub + blocks + 1
}

fn ends_with_catch_all(rules: &[Rule]) -> bool {
    rules.last().is_some_and(|rule| rule.conditions.is_empty())
}

fn body_len(rules: &[Rule]) -> usize {
    let rules_len: usize = rules.iter().map(rule_len).sum();
    rules_len + usize::from(!ends_with_catch_all(rules))
}

fn rule_len(rule: &Rule) -> usize {
    rule.conditions
        .iter()
        .map(|condition| condition_len(&condition.op))
        .sum::<usize>()
        + 1
}

fn condition_len(op: &SeccompCmpOp) -> usize {
    match op {
        SeccompCmpOp::Eq | SeccompCmpOp::Ne => 4,
        SeccompCmpOp::Gt | SeccompCmpOp::Ge | SeccompCmpOp::Lt | SeccompCmpOp::Le => 5,
        SeccompCmpOp::MaskedEq(_) => 6,
    }
}

/// Conditions, then the rule's return; a failed condition jumps to whatever follows the rule.
fn emit_rule(program: &mut Program, rule: &Rule) {
    let next_rule = program.0.len() + rule_len(rule);
    for condition in &rule.conditions {
        emit_condition(program, condition, next_rule);
    }
    program.stmt(RET_K, rule.action);
}

/// 64-bit unsigned comparison of one argument, as two 32-bit halves: continue after the
/// condition if it holds, jump to `fail` otherwise.
fn emit_condition(program: &mut Program, condition: &Condition, fail: usize) {
    let pass = program.0.len() + condition_len(&condition.op);
    let (hi_offset, lo_offset) = arg_offsets(condition.index);
    let (hi, lo) = halves(condition.value);
    program.stmt(LD_W_ABS, hi_offset);
    match condition.op {
        SeccompCmpOp::Eq => {
            program.jump_to(JMP_JEQ_K, hi, program.next(), fail);
            program.stmt(LD_W_ABS, lo_offset);
            program.jump_to(JMP_JEQ_K, lo, pass, fail);
        }
        SeccompCmpOp::Ne => {
            program.jump_to(JMP_JEQ_K, hi, program.next(), pass);
            program.stmt(LD_W_ABS, lo_offset);
            program.jump_to(JMP_JEQ_K, lo, fail, pass);
        }
        SeccompCmpOp::Gt | SeccompCmpOp::Ge => {
            // High half greater: holds; equal: decided by the low half; smaller: fails.
            program.jump_to(JMP_JGT_K, hi, pass, program.next());
            program.jump_to(JMP_JEQ_K, hi, program.next(), fail);
            program.stmt(LD_W_ABS, lo_offset);
            let code = if condition.op == SeccompCmpOp::Gt {
                JMP_JGT_K
            } else {
                JMP_JGE_K
            };
            program.jump_to(code, lo, pass, fail);
        }
        SeccompCmpOp::Lt | SeccompCmpOp::Le => {
            // The negations of Ge and Gt.
            program.jump_to(JMP_JGT_K, hi, fail, program.next());
            program.jump_to(JMP_JEQ_K, hi, program.next(), pass);
            program.stmt(LD_W_ABS, lo_offset);
            let code = if condition.op == SeccompCmpOp::Lt {
                JMP_JGE_K
            } else {
                JMP_JGT_K
            };
            program.jump_to(code, lo, fail, pass);
        }
        SeccompCmpOp::MaskedEq(mask) => {
            let (mask_hi, mask_lo) = halves(mask);
            program.stmt(ALU_AND_K, mask_hi);
            program.jump_to(JMP_JEQ_K, hi, program.next(), fail);
            program.stmt(LD_W_ABS, lo_offset);
            program.stmt(ALU_AND_K, mask_lo);
            program.jump_to(JMP_JEQ_K, lo, pass, fail);
        }
    }
}

/// Offsets of the high and low 32-bit words of `args[index]` in seccomp_data.
fn arg_offsets(index: u8) -> (u32, u32) {
    let arg = ARGS_OFFSET + 8 * u32::from(index);
    if cfg!(target_endian = "little") {
        (arg + 4, arg)
    } else {
        (arg, arg + 4)
    }
}

fn halves(value: u64) -> (u32, u32) {
    ((value >> 32) as u32, value as u32)
}
