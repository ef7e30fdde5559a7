//! Compiling: the Docker profile, input errors, skipped names, architectures.

use oci_spec::runtime::{Capability, LinuxSeccomp, LinuxSeccompFilterFlag};

use super::docker_profile::tests::DOCKER_CAPS;
use super::{compile, docker_default_profile, SeccompError};

fn spec(json: &str) -> LinuxSeccomp {
    serde_json::from_str(json).unwrap()
}

#[test]
fn docker_profile_compiles_for_every_capability_set() {
    let mut caps = DOCKER_CAPS.to_vec();
    for extra in [Capability::SysAdmin, Capability::SysPtrace, Capability::Bpf] {
        caps.push(extra);
        let program = compile(&docker_default_profile(&caps)).unwrap();
        assert!(
            program.instruction_count() > 300,
            "{}",
            program.instruction_count()
        );
    }
}

#[test]
fn notify_is_rejected() {
    let default_notify = spec(r#"{"defaultAction": "SCMP_ACT_NOTIFY"}"#);
    assert!(matches!(
        compile(&default_notify),
        Err(SeccompError::NotifyUnsupported)
    ));
    let rule_notify = spec(
        r#"{"defaultAction": "SCMP_ACT_ALLOW",
            "syscalls": [{"names": ["mkdirat"], "action": "SCMP_ACT_NOTIFY"}]}"#,
    );
    assert!(matches!(
        compile(&rule_notify),
        Err(SeccompError::NotifyUnsupported)
    ));
    let listener = spec(r#"{"defaultAction": "SCMP_ACT_ALLOW", "listenerPath": "/run/agent"}"#);
    assert!(matches!(
        compile(&listener),
        Err(SeccompError::ListenerUnsupported)
    ));
    let killable = spec(
        r#"{"defaultAction": "SCMP_ACT_ALLOW", "flags": ["SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV"]}"#,
    );
    assert!(matches!(
        compile(&killable),
        Err(SeccompError::UnsupportedFlag(
            LinuxSeccompFilterFlag::SeccompFilterFlagWaitKillableRecv
        ))
    ));
}

#[test]
fn argument_index_above_five_is_rejected_even_for_unknown_syscalls() {
    for name in ["mkdirat", "not_a_syscall"] {
        let bad = spec(&format!(
            r#"{{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{{"names": ["{name}"],
                "action": "SCMP_ACT_ERRNO", "args": [{{"index": 6, "value": 1, "op": "SCMP_CMP_EQ"}}]}}]}}"#
        ));
        let error = compile(&bad).unwrap_err();
        assert!(
            matches!(error, SeccompError::ArgIndexOutOfRange { index: 6, .. }),
            "{error}"
        );
        assert!(error.to_string().contains(name), "{error}");
    }
}

#[test]
fn bad_operator_is_rejected_when_parsing() {
    let parsed = serde_json::from_str::<LinuxSeccomp>(
        r#"{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["mkdirat"],
            "action": "SCMP_ACT_ERRNO", "args": [{"index": 0, "value": 1, "op": "SCMP_CMP_FOO"}]}]}"#,
    );
    assert!(parsed.unwrap_err().to_string().contains("SCMP_CMP_FOO"));
}

#[test]
fn errno_must_fit_the_return_data() {
    let too_big = spec(r#"{"defaultAction": "SCMP_ACT_ERRNO", "defaultErrnoRet": 65536}"#);
    assert!(matches!(
        compile(&too_big),
        Err(SeccompError::ReturnValueOutOfRange(65536))
    ));
    let fits = spec(r#"{"defaultAction": "SCMP_ACT_ERRNO", "defaultErrnoRet": 65535}"#);
    assert!(compile(&fits).is_ok());
}

#[test]
fn unknown_syscalls_are_skipped() {
    let with_unknown = spec(
        r#"{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
            {"names": ["not_a_syscall", "mkdirat", "chown32"], "action": "SCMP_ACT_ERRNO"},
            {"names": ["also_not_a_syscall"], "action": "SCMP_ACT_KILL"}]}"#,
    );
    let without = spec(
        r#"{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
            {"names": ["mkdirat"], "action": "SCMP_ACT_ERRNO"}]}"#,
    );
    assert_eq!(compile(&with_unknown).unwrap(), compile(&without).unwrap());
}

#[test]
fn architectures_do_not_change_the_native_program() {
    let rules = r#""syscalls": [{"names": ["mkdirat"], "action": "SCMP_ACT_ERRNO"}]"#;
    let none = compile(&spec(&format!(
        r#"{{"defaultAction": "SCMP_ACT_ALLOW", {rules}}}"#
    )));
    for architectures in [
        r#"["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"]"#,
        r#"["SCMP_ARCH_AARCH64", "SCMP_ARCH_ARM"]"#,
        r#"["SCMP_ARCH_S390X"]"#,
    ] {
        let listed = compile(&spec(&format!(
            r#"{{"defaultAction": "SCMP_ACT_ALLOW", "architectures": {architectures}, {rules}}}"#
        )));
        assert_eq!(listed.unwrap(), *none.as_ref().unwrap());
    }
}

#[test]
fn flags_map_to_seccomp_flags() {
    let flagged = spec(
        r#"{"defaultAction": "SCMP_ACT_ALLOW", "flags": ["SECCOMP_FILTER_FLAG_LOG",
            "SECCOMP_FILTER_FLAG_SPEC_ALLOW", "SECCOMP_FILTER_FLAG_TSYNC"]}"#,
    );
    assert_eq!(
        compile(&flagged).unwrap().flags,
        libc::SECCOMP_FILTER_FLAG_LOG
            | libc::SECCOMP_FILTER_FLAG_SPEC_ALLOW
            | libc::SECCOMP_FILTER_FLAG_TSYNC
    );
}

#[test]
fn oversized_program_is_rejected() {
    let rule = r#"{"names": ["dup3"], "action": "SCMP_ACT_ERRNO", "args": [
        {"index": 0, "value": 1, "op": "SCMP_CMP_GT"}, {"index": 1, "value": 2, "op": "SCMP_CMP_GT"},
        {"index": 2, "value": 3, "op": "SCMP_CMP_GT"}]}"#;
    let rules = vec![rule; 300].join(",");
    let huge = spec(&format!(
        r#"{{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{rules}]}}"#
    ));
    assert!(matches!(compile(&huge), Err(SeccompError::ProgramTooLarge(len)) if len > 4096));
}
