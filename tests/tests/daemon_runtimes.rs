//! berthd driving an external runc-compatible runtime binary (`--runtime runc`) through the
//! same shim, instead of berth-runtime in-process.

// Tests may unwrap (project rule); clippy only knows that inside #[test] functions, not in
// the helpers of an integration test crate.
#![allow(clippy::unwrap_used)]

use berth_tests::daemon::BUSYBOX;
use berth_tests::Daemon;

#[test]
fn runc_runs_execs_and_reports_exit_codes() {
    assert!(
        std::path::Path::new("/usr/sbin/runc").exists(),
        "install Debian's runc (deploy/deps.sh does)"
    );
    let d = Daemon::start_with(&["--runtime", "runc"]).unwrap();
    d.import_busybox(BUSYBOX);
    let out = d.ctl(&["run", "--rm", BUSYBOX, "sh", "-c", "echo via runc; exit 3"]);
    out.assert_code(3);
    assert_eq!(out.stdout, "via runc\n");
    d.ok(&[
        "run", "-d", "--name", "r1", "-m", "32m", BUSYBOX, "sleep", "1000",
    ]);
    assert_eq!(d.ok(&["exec", "r1", "echo", "exec ok"]), "exec ok");
    let stats = d.ok(&["stats", "--no-stream", "--format", "{{.MemUsage}}", "r1"]);
    assert!(stats.contains("/ 32MiB"), "{stats}");
    d.ok(&["pause", "r1"]);
    assert_eq!(
        d.ok(&["inspect", "-f", "{{.State.Status}}", "r1"]),
        "paused"
    );
    d.ok(&["unpause", "r1"]);
    d.ok(&["kill", "r1"]);
    assert_eq!(d.ok(&["wait", "r1"]), "137");
}
