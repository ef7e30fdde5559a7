//! Restart survival and restart policies: containers outlive berthd, and berthd settles what
//! happened while it was down.

// Tests may unwrap (project rule); clippy only knows that inside #[test] functions, not in
// the helpers of an integration test crate.
#![allow(clippy::unwrap_used)]

use std::path::Path;

use berth_tests::daemon::{eventually, BUSYBOX};
use berth_tests::mounts::mounts_under;
use berth_tests::Daemon;

fn status(d: &Daemon, name: &str) -> String {
    d.ok(&["inspect", "-f", "{{.State.Status}}", name])
}

#[test]
fn containers_survive_kill_9_of_the_daemon() {
    let mut d = Daemon::with_busybox().unwrap();
    d.ok(&[
        "run",
        "-d",
        "--name",
        "longrun",
        BUSYBOX,
        "sh",
        "-c",
        "while true; do echo tick; sleep 1; done",
    ]);
    d.ok(&[
        "run",
        "-d",
        "--name",
        "shortrun",
        BUSYBOX,
        "sh",
        "-c",
        "sleep 3; exit 42",
    ]);
    let pid = d.ok(&["inspect", "-f", "{{.State.Pid}}", "longrun"]);

    d.kill9().unwrap();
    // shortrun exits while the daemon is down.
    std::thread::sleep(std::time::Duration::from_secs(5));
    assert!(
        Path::new(&format!("/proc/{pid}")).exists(),
        "the container died with the daemon"
    );
    d.restart().unwrap();

    assert_eq!(status(&d, "longrun"), "running");
    assert_eq!(d.ok(&["inspect", "-f", "{{.State.Pid}}", "longrun"]), pid);
    assert_eq!(status(&d, "shortrun"), "exited");
    assert_eq!(
        d.ok(&["inspect", "-f", "{{.State.ExitCode}}", "shortrun"]),
        "42"
    );

    let ps = d.ok(&["ps", "--format", "{{.Names}}"]);
    assert_eq!(ps, "longrun");
    assert_eq!(
        d.ok(&["exec", "longrun", "echo", "still here"]),
        "still here"
    );
    assert!(d.ok(&["logs", "--tail", "1", "longrun"]).contains("tick"));
    d.ok(&["stop", "-t", "1", "longrun"]);
    assert_eq!(status(&d, "longrun"), "exited");
    assert!(!Path::new(&format!("/proc/{pid}")).exists());
    // No rootfs stays mounted once nothing runs.
    let mounted = mounts_under(&d.root()).unwrap();
    assert!(mounted.is_empty(), "leaked mounts: {mounted:?}");
}

#[test]
fn logs_follow_and_attach_work_after_a_daemon_restart() {
    let mut d = Daemon::with_busybox().unwrap();
    d.ok(&[
        "run",
        "-d",
        "--name",
        "talker",
        BUSYBOX,
        "sh",
        "-c",
        "sleep 4; echo after; exit 9",
    ]);
    d.restart().unwrap();
    let followed = d.ctl(&["logs", "-f", "talker"]);
    followed.assert_success();
    assert_eq!(followed.stdout, "after\n");
    assert_eq!(d.ok(&["wait", "talker"]), "9");
}

#[test]
fn restart_policy_always_restarts_with_backoff() {
    let d = Daemon::with_busybox().unwrap();
    d.ok(&[
        "run",
        "-d",
        "--name",
        "flappy",
        "--restart",
        "always",
        BUSYBOX,
        "sh",
        "-c",
        "exit 1",
    ]);
    eventually("three restarts", || {
        d.ok(&["inspect", "-f", "{{.RestartCount}}", "flappy"])
            .parse::<u32>()
            .unwrap_or(0)
            >= 3
    });
    d.ok(&["stop", "flappy"]);
    let count = d.ok(&["inspect", "-f", "{{.RestartCount}}", "flappy"]);
    std::thread::sleep(std::time::Duration::from_secs(2));
    assert_eq!(
        d.ok(&["inspect", "-f", "{{.RestartCount}}", "flappy"]),
        count,
        "stop ends restarts"
    );
    assert_eq!(status(&d, "flappy"), "exited");
}

#[test]
fn restart_policy_on_failure_respects_the_maximum() {
    let d = Daemon::with_busybox().unwrap();
    d.ok(&[
        "run",
        "-d",
        "--name",
        "fails",
        "--restart",
        "on-failure:2",
        BUSYBOX,
        "sh",
        "-c",
        "exit 3",
    ]);
    eventually("the retries to run out", || {
        status(&d, "fails") == "exited"
            && d.ok(&["inspect", "-f", "{{.RestartCount}}", "fails"]) == "2"
    });
    std::thread::sleep(std::time::Duration::from_secs(2));
    assert_eq!(d.ok(&["inspect", "-f", "{{.RestartCount}}", "fails"]), "2");
    d.ok(&[
        "run",
        "-d",
        "--name",
        "fine",
        "--restart",
        "on-failure",
        BUSYBOX,
        "true",
    ]);
    eventually("fine to exit", || status(&d, "fine") == "exited");
    assert_eq!(d.ok(&["inspect", "-f", "{{.RestartCount}}", "fine"]), "0");
}

#[test]
fn unless_stopped_remembers_a_manual_stop_across_restarts() {
    let mut d = Daemon::with_busybox().unwrap();
    d.ok(&[
        "run",
        "-d",
        "--name",
        "manual",
        "--restart",
        "unless-stopped",
        BUSYBOX,
        "sleep",
        "1000",
    ]);
    d.ok(&[
        "run",
        "-d",
        "--name",
        "auto",
        "--restart",
        "always",
        BUSYBOX,
        "sleep",
        "1000",
    ]);
    d.ok(&["stop", "-t", "1", "manual"]);
    // Simulate a host reboot for `auto`: its process dies while the daemon is down.
    let auto_pid = d.ok(&["inspect", "-f", "{{.State.Pid}}", "auto"]);
    d.kill9().unwrap();
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(auto_pid.parse().unwrap()),
        nix::sys::signal::Signal::SIGKILL,
    )
    .unwrap();
    std::thread::sleep(std::time::Duration::from_secs(1));
    d.restart().unwrap();
    eventually("auto to be restarted", || status(&d, "auto") == "running");
    assert_eq!(status(&d, "manual"), "exited");
}
