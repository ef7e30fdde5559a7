//! The berthctl binary without a daemon: usage errors, flag checks that must fail before any
//! RPC, help, completions and the message when no daemon listens.

use std::process::{Command, Output};

/// Runs berthctl against a socket nobody listens on.
fn berthctl(args: &[&str]) -> Output {
    let dir = std::env::temp_dir().join(format!("berthctl-cli-test-{}", std::process::id()));
    Command::new(env!("CARGO_BIN_EXE_berthctl"))
        .args(args)
        .env(
            "BERTH_HOST",
            format!("unix://{}/absent.sock", dir.display()),
        )
        .output()
        .expect("berthctl runs")
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[test]
fn bad_values_fail_with_125_before_any_rpc() {
    let cases: &[(&[&str], &str)] = &[
        (
            &["run", "-m", "12x", "busybox"],
            "Error: invalid argument \"12x\" for \"-m, --memory\" flag: invalid size: '12x'",
        ),
        (
            &["run", "--cpus", "0", "busybox"],
            "Error: invalid argument \"0\" for \"--cpus\" flag",
        ),
        (
            &["create", "--restart", "sometimes", "busybox"],
            "Error: invalid restart policy 'sometimes'",
        ),
        (
            &["run", "-v", "data:/data", "busybox"],
            "Error: volumes are not supported yet",
        ),
        (
            &["run", "-p", "8080:80", "busybox"],
            "Error: -p/--publish is not supported yet",
        ),
        (
            &["run", "--ulimit", "nofile=2:1", "busybox"],
            "Error: ulimit soft limit must be less than or equal to hard limit",
        ),
        (
            &["kill", "-s", "BOGUS", "web"],
            "Error: invalid signal: BOGUS",
        ),
        (
            &["run", "--rm", "--restart", "always", "busybox"],
            "Error: Conflicting options",
        ),
    ];
    for (args, expected) in cases {
        let output = berthctl(args);
        assert_eq!(output.status.code(), Some(125), "{args:?}");
        assert!(
            stderr(&output).starts_with(expected),
            "{args:?}: {}",
            stderr(&output)
        );
    }
}

#[test]
fn usage_errors_exit_125() {
    let output = berthctl(&["run"]);
    assert_eq!(output.status.code(), Some(125));
    let output = berthctl(&["ps", "--bogus"]);
    assert_eq!(output.status.code(), Some(125));
}

#[test]
fn no_daemon_is_one_clear_line() {
    let output = berthctl(&["ps"]);
    assert_eq!(output.status.code(), Some(125));
    let message = stderr(&output);
    assert!(
        message.starts_with("Error: Cannot connect to the berth daemon at unix://"),
        "{message}"
    );
    assert_eq!(message.lines().count(), 1);
}

#[test]
fn help_everywhere() {
    for args in [
        &["--help"][..],
        &["run", "--help"],
        &["create", "--help"],
        &["container", "ls", "--help"],
        &["ps", "-h"],
        &["image", "inspect", "--help"],
        &["system", "df", "--help"],
        &["exec", "--help"],
    ] {
        let output = berthctl(args);
        assert_eq!(output.status.code(), Some(0), "{args:?}");
        assert!(
            String::from_utf8_lossy(&output.stdout).contains("Usage: berthctl"),
            "{args:?}"
        );
    }
    // `run -h` is the hostname, as in Docker: it wants a value, not help.
    assert_eq!(berthctl(&["run", "-h"]).status.code(), Some(125));
}

#[test]
fn completions() {
    for shell in ["bash", "zsh", "fish"] {
        let output = berthctl(&["completion", shell]);
        assert_eq!(output.status.code(), Some(0));
        assert!(
            String::from_utf8_lossy(&output.stdout).contains("berthctl"),
            "{shell}"
        );
    }
    assert_eq!(berthctl(&["completion", "tcsh"]).status.code(), Some(125));
}
