//! Bad input: each case gets a one-line `Error: …` from berthctl, exit code 125, and leaves no
//! trace (no container, no name, no directory, no image).

// Tests may unwrap (project rule); clippy only knows that inside #[test] functions, not in
// the helpers of an integration test crate.
#![allow(clippy::unwrap_used)]

use berth_tests::daemon::BUSYBOX;
use berth_tests::Daemon;

/// Asserts a clean 125 failure whose message mentions `needle`.
fn fails_with(d: &Daemon, args: &[&str], needle: &str) {
    let out = d.ctl(args);
    out.assert_code(125);
    let line = out.stderr.trim();
    assert!(line.starts_with("Error"), "{args:?}: {out:?}");
    assert_eq!(line.lines().count(), 1, "one line: {args:?}: {out:?}");
    assert!(
        line.to_lowercase().contains(&needle.to_lowercase()),
        "{args:?}: expected {needle:?} in {line:?}"
    );
}

fn container_dirs(d: &Daemon) -> usize {
    std::fs::read_dir(d.root().join("containers"))
        .map(|entries| entries.count())
        .unwrap_or(0)
}

fn assert_no_trace(d: &Daemon, containers_before: usize) {
    assert_eq!(d.ok(&["ps", "-aq"]).lines().count(), containers_before);
    assert_eq!(container_dirs(d), containers_before);
}

#[test]
fn unknown_image() {
    let d = Daemon::with_busybox().unwrap();
    fails_with(
        &d,
        &["run", "--pull", "never", "no-such-image", "true"],
        "no such image",
    );
    fails_with(
        &d,
        &["create", "--pull", "never", "no-such-image:v9"],
        "no such image",
    );
    assert_no_trace(&d, 0);
}

#[test]
fn duplicate_name_and_name_with_slash() {
    let d = Daemon::with_busybox().unwrap();
    d.ok(&["create", "--name", "dup", BUSYBOX, "true"]);
    fails_with(
        &d,
        &["create", "--name", "dup", BUSYBOX, "true"],
        "already in use",
    );
    fails_with(
        &d,
        &["create", "--name", "a/b", BUSYBOX, "true"],
        "invalid container name",
    );
    fails_with(&d, &["rename", "dup", "x/y"], "invalid container name");
    assert_no_trace(&d, 1);
}

#[test]
fn rm_running_without_force_and_start_running() {
    let d = Daemon::with_busybox().unwrap();
    d.ok(&["run", "-d", "--name", "busy", BUSYBOX, "sleep", "1000"]);
    fails_with(&d, &["rm", "busy"], "running");
    fails_with(&d, &["start", "busy"], "already running");
    assert_eq!(
        d.ok(&["inspect", "-f", "{{.State.Status}}", "busy"]),
        "running"
    );
    d.ok(&["rm", "-f", "busy"]);
    assert_no_trace(&d, 0);
}

#[test]
fn missing_bind_source() {
    let d = Daemon::with_busybox().unwrap();
    fails_with(
        &d,
        &["run", "-v", "/no/such/dir:/data", BUSYBOX, "true"],
        "bind source path does not exist",
    );
    fails_with(
        &d,
        &[
            "create",
            "--mount",
            "type=bind,source=/no/such,target=/x",
            BUSYBOX,
            "true",
        ],
        "does not exist",
    );
    assert_no_trace(&d, 0);
}

#[test]
fn bad_memory_and_cpus() {
    let d = Daemon::with_busybox().unwrap();
    fails_with(&d, &["run", "-m", "12zz", BUSYBOX, "true"], "invalid");
    fails_with(&d, &["run", "--cpus", "0", BUSYBOX, "true"], "cpus");
    fails_with(&d, &["run", "--cpus", "abc", BUSYBOX, "true"], "invalid");
    assert_no_trace(&d, 0);
}

#[test]
fn unknown_signal() {
    let d = Daemon::with_busybox().unwrap();
    d.ok(&["run", "-d", "--name", "sig", BUSYBOX, "sleep", "1000"]);
    fails_with(&d, &["kill", "-s", "SIGNOPE", "sig"], "signal");
    assert_eq!(
        d.ok(&["inspect", "-f", "{{.State.Status}}", "sig"]),
        "running"
    );
}

#[test]
fn exec_into_a_stopped_container() {
    let d = Daemon::with_busybox().unwrap();
    d.ok(&["create", "--name", "cold", BUSYBOX, "true"]);
    fails_with(&d, &["exec", "cold", "true"], "not running");
    d.ok(&["start", "cold"]);
    d.ok(&["wait", "cold"]);
    fails_with(&d, &["exec", "cold", "true"], "not running");
}

#[test]
fn corrupt_import_tar() {
    let d = Daemon::with_busybox().unwrap();
    let images_before = d.ok(&["images", "-q"]);
    let blobs_before = count_files(&d.root().join("content"));
    let bad = d.scratch().join("bad.tar");
    // A tar header with a broken checksum, then garbage.
    let mut junk = vec![b'x'; 512];
    junk.extend_from_slice(&[0u8; 100]);
    std::fs::write(&bad, &junk).unwrap();
    fails_with(&d, &["import", &bad.to_string_lossy(), "broken:v1"], "tar");
    // A truncated tar: the real one cut in the middle of a file.
    let good = std::fs::read(berth_tests::daemon::busybox_tar(&d.scratch()).unwrap()).unwrap();
    let cut = d.scratch().join("cut.tar");
    std::fs::write(&cut, &good[..good.len() / 2]).unwrap();
    fails_with(&d, &["import", &cut.to_string_lossy(), "broken:v2"], "tar");
    assert_eq!(d.ok(&["images", "-q"]), images_before);
    assert_eq!(count_files(&d.root().join("content")), blobs_before);
    fails_with(&d, &["image", "inspect", "broken:v1"], "no such image");
}

fn count_files(dir: &std::path::Path) -> usize {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    entries
        .flatten()
        .map(|e| {
            if e.path().is_dir() {
                count_files(&e.path())
            } else {
                1
            }
        })
        .sum()
}

#[test]
fn unknown_container_everywhere() {
    let d = Daemon::with_busybox().unwrap();
    for args in [
        vec!["start", "ghost"],
        vec!["stop", "ghost"],
        vec!["rm", "ghost"],
        vec!["logs", "ghost"],
        vec!["exec", "ghost", "true"],
    ] {
        fails_with(&d, &args, "no such container");
    }
    // `inspect` looks for any kind of object, as Docker's does.
    fails_with(&d, &["inspect", "ghost"], "no such object");
}
