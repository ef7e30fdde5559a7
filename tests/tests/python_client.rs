//! The Python example (tests/python/berth_example.py) generates stubs from proto/ with
//! grpcio-tools, runs a container through the API and reads its logs stream.

// Tests may unwrap (project rule); clippy only knows that inside #[test] functions, not in
// the helpers of an integration test crate.
#![allow(clippy::unwrap_used)]

use std::path::PathBuf;
use std::process::Command;

use berth_tests::daemon::BUSYBOX;
use berth_tests::Daemon;

/// The interpreter with grpcio: `BERTH_TEST_PYTHON`, or the venv `deploy/deps.sh` makes.
fn python() -> PathBuf {
    std::env::var_os("BERTH_TEST_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("python/.venv/bin/python3")
        })
}

#[test]
fn python_client_runs_a_container_and_reads_its_logs() {
    let python = python();
    assert!(
        python.exists(),
        "{} is missing: run deploy/deps.sh (it makes the venv with tests/python/requirements.txt)",
        python.display()
    );
    let d = Daemon::with_busybox().unwrap();
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("python/berth_example.py");
    let out = Command::new(python)
        .arg(script)
        .arg("--socket")
        .arg(d.socket())
        .arg("--image")
        .arg(BUSYBOX)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "stdout: {stdout}\nstderr: {stderr}");
    assert!(stdout.contains("stdout hello from python\n"), "{stdout}");
    assert!(stdout.contains("stderr oops\n"), "{stdout}");
    assert_eq!(
        d.ok(&["ps", "-aq"]),
        "",
        "the example removed its container"
    );
}
