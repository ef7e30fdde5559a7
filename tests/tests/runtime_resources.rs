//! Cgroup limits, seen from the host and felt from inside: the memory limit is written and a
//! memory hog is OOM-killed, the pids limit stops forks and a fork bomb.

use std::time::{Duration, Instant};

use berth_tests::cgroup;
use berth_tests::TestEnv;

const MIB: i64 = 1024 * 1024;

/// Reads the memory limit from inside, on v2 or v1.
const READ_LIMIT_INSIDE: &str = "cat /sys/fs/cgroup/memory.max 2>/dev/null \
                                 || cat /sys/fs/cgroup/memory/memory.limit_in_bytes";

#[test]
fn memory_limit_is_in_the_cgroup() {
    let env = TestEnv::new().unwrap();
    let mut bundle = env.bundle("memlimit").unwrap();
    bundle
        .memory(64 * MIB, 64 * MIB)
        .unwrap()
        .args(&["sleep", "1000"]);
    env.create_and_start(&bundle).unwrap();

    let from_host = cgroup::memory_limit(&bundle.cgroups_path()).unwrap();
    assert_eq!(from_host, Some(64 * 1024 * 1024));
    let inside = env
        .call(&["exec", bundle.id(), "sh", "-c", READ_LIMIT_INSIDE])
        .unwrap();
    inside.assert_success();
    assert_eq!(inside.stdout.trim(), "67108864");

    env.call(&["delete", "--force", bundle.id()])
        .unwrap()
        .assert_success();
    env.assert_nothing_left(&bundle);
}

/// `dd` with a 256 MiB block size allocates and fills a 256 MiB buffer: a real hog.
const HOG: [&str; 5] = ["dd", "if=/dev/zero", "of=/dev/null", "bs=256M", "count=1"];

#[test]
fn memory_hog_is_oom_killed_with_137() {
    let env = TestEnv::new().unwrap();
    // swap == limit: no swap to escape into.
    let mut bundle = env.bundle("oom").unwrap();
    bundle.memory(32 * MIB, 32 * MIB).unwrap().args(&HOG);
    env.run(&bundle).unwrap().assert_code(137);
    env.assert_nothing_left(&bundle);

    // The same hog again, stopped but not yet deleted, to ask the kernel who killed it.
    let mut bundle = env.bundle("oomcount").unwrap();
    bundle.memory(32 * MIB, 32 * MIB).unwrap().args(&HOG);
    env.create_and_start(&bundle).unwrap();
    env.wait_for_status(bundle.id(), "stopped").unwrap();
    assert!(cgroup::oom_kills(&bundle.cgroups_path()).unwrap() >= 1);
    env.call(&["delete", bundle.id()]).unwrap().assert_success();
    env.assert_nothing_left(&bundle);
}

#[test]
fn pids_limit_stops_forks() {
    let env = TestEnv::new().unwrap();
    let mut bundle = env.bundle("pids").unwrap();
    // Start up to 40 sleepers, recording the count after each fork (`echo` is a builtin and
    // needs no fork). busybox sh gives up at the first refused fork, which stops the container.
    bundle.pids_limit(16).unwrap().shell(
        "i=0; while [ $i -lt 40 ]; do sleep 1000 & i=$((i+1)); echo $i > /tmp/started; done; \
         echo all > /tmp/started",
    );
    env.create_and_start(&bundle).unwrap();
    env.wait_for_status(bundle.id(), "stopped").unwrap();

    // The shell plus 15 sleepers fill the 16 pids.
    let started = std::fs::read_to_string(bundle.rootfs().join("tmp/started")).unwrap();
    assert_eq!(started.trim(), "15");
    let cgroups_path = bundle.cgroups_path();
    assert_eq!(cgroup::pids_limit(&cgroups_path).unwrap(), Some(16));
    assert!(cgroup::pids_refused(&cgroups_path).unwrap() >= 1);

    env.call(&["delete", bundle.id()]).unwrap().assert_success();
    env.assert_nothing_left(&bundle);
}

#[test]
fn fork_bomb_stops_at_the_pids_limit() {
    let env = TestEnv::new().unwrap();
    let mut bundle = env.bundle("forkbomb").unwrap();
    bundle
        .pids_limit(32)
        .unwrap()
        .shell("bomb() { bomb | bomb & }; bomb; exec sleep 1000");
    env.create_and_start(&bundle).unwrap();
    let cgroups_path = bundle.cgroups_path();

    // Watch the bomb for three seconds: it hits the limit and never passes it.
    let mut peak = 0;
    let until = Instant::now() + Duration::from_secs(3);
    while Instant::now() < until {
        let current = cgroup::pids_current(&cgroups_path).unwrap();
        assert!(current <= 32, "{current} tasks under a limit of 32");
        peak = peak.max(current);
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(
        cgroup::pids_refused(&cgroups_path).unwrap() > 0,
        "the bomb never hit the limit (peak {peak})"
    );

    // The runtime can still take the bombed container down.
    env.call(&["delete", "--force", bundle.id()])
        .unwrap()
        .assert_success();
    env.assert_nothing_left(&bundle);
}
