//! The container lifecycle driven through the command line: signals, exec, pause and resume,
//! delete, the OCI lifecycle rules, exit statuses and the state document.

// Tests may unwrap (project rule); clippy only knows that inside #[test] functions, not in
// the helpers of an integration test crate.
#![allow(clippy::unwrap_used)]

use std::fs;
use std::path::Path;
use std::time::Duration;

use berth_tests::procfs::{namespace_of, run_state, NAMESPACE_LINKS};
use berth_tests::wait::{wait_for_file, wait_until, SETTLE_TIMEOUT};
use berth_tests::{cgroup, Bundle, TestEnv};
use oci_spec::runtime::LinuxNamespaceType;
use serde_json::json;

/// Force-deletes the container and checks that nothing is left.
fn teardown(env: &TestEnv, bundle: &Bundle) {
    env.call(&["delete", "--force", bundle.id()])
        .unwrap()
        .assert_success();
    env.assert_nothing_left(bundle);
}

#[test]
fn kill_delivers_signals_by_name_and_number() {
    let env = TestEnv::new().unwrap();
    let mut bundle = env.bundle("kill").unwrap();
    // PID 1 only receives signals it handles, so the traps are what makes delivery visible.
    bundle.shell(
        "trap 'echo usr1 >> /tmp/signals' USR1; \
         trap 'echo term >> /tmp/signals; exit 0' TERM; \
         echo ready > /tmp/ready; while :; do sleep 0.1; done",
    );
    env.create_and_start(&bundle).unwrap();
    let rootfs = bundle.rootfs();
    wait_for_file(&rootfs.join("tmp/ready"), SETTLE_TIMEOUT).unwrap();

    env.call(&["kill", bundle.id(), "USR1"])
        .unwrap()
        .assert_success();
    assert_eq!(
        wait_for_file(&rootfs.join("tmp/signals"), SETTLE_TIMEOUT).unwrap(),
        "usr1\n"
    );
    env.call(&["kill", bundle.id(), "15"])
        .unwrap()
        .assert_success();
    env.wait_for_status(bundle.id(), "stopped").unwrap();
    assert_eq!(
        fs::read_to_string(rootfs.join("tmp/signals")).unwrap(),
        "usr1\nterm\n"
    );
    env.call(&["delete", bundle.id()]).unwrap().assert_success();
    env.assert_nothing_left(&bundle);
}

#[test]
fn kill_all_reaches_every_process() {
    let env = TestEnv::new().unwrap();
    let mut bundle = env.bundle("killall").unwrap();
    bundle.shell("sleep 1000 & sleep 1000 & echo ready > /tmp/ready; wait");
    env.create_and_start(&bundle).unwrap();
    wait_for_file(&bundle.rootfs().join("tmp/ready"), SETTLE_TIMEOUT).unwrap();
    let cgroups_path = bundle.cgroups_path();
    assert_eq!(cgroup::processes(&cgroups_path).unwrap().len(), 3);

    env.call(&["kill", "--all", bundle.id(), "KILL"])
        .unwrap()
        .assert_success();
    env.wait_for_status(bundle.id(), "stopped").unwrap();
    wait_until(SETTLE_TIMEOUT, "the cgroup to empty", || {
        Ok(cgroup::processes(&cgroups_path)?.is_empty().then_some(()))
    })
    .unwrap();
    env.call(&["delete", bundle.id()]).unwrap().assert_success();
    env.assert_nothing_left(&bundle);
}

/// Runs `exec -d --pid-file` and returns the host pid of the exec'd process.
fn exec_detached(env: &TestEnv, id: &str, args: &[&str]) -> i32 {
    let pid_file = env.scratch().join(format!("exec-{}.pid", args.join("-")));
    let pid_arg = pid_file.to_string_lossy().into_owned();
    let mut command = vec!["exec", "-d", "--pid-file", &pid_arg, id];
    command.extend_from_slice(args);
    env.call(&command).unwrap().assert_success();
    fs::read_to_string(&pid_file)
        .unwrap()
        .trim()
        .parse()
        .unwrap()
}

#[test]
fn exec_joins_all_namespaces_and_the_cgroup() {
    let env = TestEnv::new().unwrap();
    let mut bundle = env.bundle("execns").unwrap();
    bundle.args(&["sleep", "1000"]);
    let init = env.create_and_start(&bundle).unwrap().pid;
    let joined = exec_detached(&env, bundle.id(), &["sleep", "999"]);

    for kind in NAMESPACE_LINKS.into_iter().chain(["user"]) {
        assert_eq!(
            namespace_of(joined, kind).unwrap(),
            namespace_of(init, kind).unwrap(),
            "{kind} namespace of the exec'd process"
        );
    }
    let me = i32::try_from(std::process::id()).unwrap();
    for kind in NAMESPACE_LINKS {
        assert_ne!(
            namespace_of(init, kind).unwrap(),
            namespace_of(me, kind).unwrap(),
            "the container shares the host's {kind} namespace"
        );
    }
    let members = cgroup::processes(&bundle.cgroups_path()).unwrap();
    assert!(members.contains(&joined), "{joined} not in {members:?}");

    // Seen from inside, too: same hostname and a pid in the container's numbering.
    let out = env
        .call(&["exec", bundle.id(), "sh", "-c", "hostname; ps -o pid,args"])
        .unwrap();
    out.assert_success();
    assert!(out.stdout.starts_with("berth-test\n"), "{}", out.stdout);
    assert!(
        out.stdout
            .lines()
            .any(|l| l.split_whitespace().collect::<Vec<_>>() == ["1", "sleep", "1000"]),
        "init is not pid 1 for the exec'd process:\n{}",
        out.stdout
    );
    teardown(&env, &bundle);
}

#[test]
fn exec_returns_the_process_status() {
    let env = TestEnv::new().unwrap();
    let mut bundle = env.bundle("execrc").unwrap();
    bundle.args(&["sleep", "1000"]);
    env.create_and_start(&bundle).unwrap();
    let id = bundle.id();

    env.call(&["exec", id, "true"]).unwrap().assert_code(0);
    env.call(&["exec", id, "sh", "-c", "exit 3"])
        .unwrap()
        .assert_code(3);
    // Killed by SIGTERM: 128 + 15.
    env.call(&["exec", id, "sh", "-c", "kill -TERM $$"])
        .unwrap()
        .assert_code(143);
    teardown(&env, &bundle);
}

#[test]
fn exec_applies_cwd_env_and_user() {
    let env = TestEnv::new().unwrap();
    let mut bundle = env.bundle("execopts").unwrap();
    bundle.args(&["sleep", "1000"]);
    env.create_and_start(&bundle).unwrap();

    let out = env
        .call(&[
            "exec",
            "--cwd",
            "/tmp",
            "--env",
            "BERTH_EXEC=yes",
            "--user",
            "65534:65534",
            bundle.id(),
            "sh",
            "-c",
            "pwd; echo $BERTH_EXEC; id -u; id -g",
        ])
        .unwrap();
    out.assert_success();
    assert_eq!(out.stdout, "/tmp\nyes\n65534\n65534\n");

    // A minimal process document: what a caller of `exec --process` writes.
    let process = json!({
        "args": ["sh", "-c", "echo from-$((40+2))"],
        "cwd": "/",
        "env": ["PATH=/bin"],
        "user": { "uid": 0, "gid": 0 },
    });
    let process_file = env.scratch().join("process.json");
    fs::write(&process_file, process.to_string()).unwrap();
    let out = env
        .call(&[
            "exec",
            "--process",
            &process_file.to_string_lossy(),
            bundle.id(),
        ])
        .unwrap();
    out.assert_success();
    assert_eq!(out.stdout, "from-42\n");
    teardown(&env, &bundle);
}

/// The last number a counting loop appended. Appends are single writes, so a loop frozen
/// mid-iteration leaves whole lines; the last newline-terminated one is the count.
fn counter(path: &Path) -> u64 {
    wait_until(SETTLE_TIMEOUT, "a readable counter", || {
        let text = fs::read_to_string(path).unwrap_or_default();
        let complete = text.rsplit_once('\n').map_or("", |(done, _)| done);
        Ok(complete.rsplit('\n').next().and_then(|l| l.parse().ok()))
    })
    .unwrap()
}

#[test]
fn pause_freezes_and_resume_thaws() {
    let env = TestEnv::new().unwrap();
    let mut bundle = env.bundle("pause").unwrap();
    bundle.shell("i=0; while :; do i=$((i+1)); echo $i >> /tmp/counter; done");
    let pid = env.create_and_start(&bundle).unwrap().pid;
    let count = bundle.rootfs().join("tmp/counter");
    let cgroups_path = bundle.cgroups_path();
    counter(&count);

    env.call(&["pause", bundle.id()]).unwrap().assert_success();
    assert_eq!(env.state(bundle.id()).unwrap().status, "paused");
    assert!(cgroup::is_frozen(&cgroups_path).unwrap());
    let state = run_state(pid).unwrap();
    assert!(
        matches!(state, 'D' | 'S' | 'T' | 't'),
        "a frozen busy loop shows state {state}"
    );
    let frozen_at = counter(&count);
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(counter(&count), frozen_at, "the loop ran while paused");

    env.call(&["resume", bundle.id()]).unwrap().assert_success();
    assert_eq!(env.state(bundle.id()).unwrap().status, "running");
    assert!(!cgroup::is_frozen(&cgroups_path).unwrap());
    wait_until(SETTLE_TIMEOUT, "the loop to run again", || {
        Ok((counter(&count) > frozen_at).then_some(()))
    })
    .unwrap();
    teardown(&env, &bundle);
}

#[test]
fn delete_leaves_no_cgroup_mount_process_or_state() {
    let env = TestEnv::new().unwrap();

    // A running container, force-deleted. Before that, the leftover check must see it: this
    // proves the check looks in the right places.
    let mut running = env.bundle("delrun").unwrap();
    running.args(&["sleep", "1000"]);
    env.create_and_start(&running).unwrap();
    let alive = env.leftovers(&running).unwrap();
    for what in ["state entry", "cgroup", "process"] {
        assert!(
            alive.iter().any(|l| l.starts_with(what)),
            "no {what} found for a live container: {alive:?}"
        );
    }
    teardown(&env, &running);

    // A container that exited by itself, deleted without --force.
    let mut stopped = env.bundle("delstop").unwrap();
    stopped.args(&["true"]);
    env.create_and_start(&stopped).unwrap();
    env.wait_for_status(stopped.id(), "stopped").unwrap();
    env.call(&["delete", stopped.id()])
        .unwrap()
        .assert_success();
    env.assert_nothing_left(&stopped);

    // A created container that never started.
    let created = env.bundle("delcreated").unwrap();
    env.create(&created).unwrap().assert_success();
    teardown(&env, &created);
}

#[test]
fn lifecycle_follows_the_oci_rules() {
    let env = TestEnv::new().unwrap();
    let mut bundle = env.bundle("rules").unwrap();
    bundle.args(&["sleep", "1000"]);
    let id = bundle.id();

    env.create(&bundle).unwrap().assert_success();
    let created = env.state(id).unwrap();
    assert_eq!(created.status, "created");
    assert!(created.pid > 0);
    if env.runtime().is_berth() {
        // The OCI spec: deleting a container that is not stopped is an error without effect
        // (runc 1.1 deletes created containers).
        env.call(&["delete", id]).unwrap().assert_clean_failure();
        assert_eq!(env.state(id).unwrap().status, "created");
    }

    env.call(&["start", id]).unwrap().assert_success();
    assert_eq!(env.state(id).unwrap().status, "running");

    // start on a running container
    env.call(&["start", id]).unwrap().assert_clean_failure();
    // delete on a running container without --force
    env.call(&["delete", id]).unwrap().assert_clean_failure();
    let still = env.state(id).unwrap();
    assert_eq!((still.status.as_str(), still.pid), ("running", created.pid));

    env.call(&["kill", id, "KILL"]).unwrap().assert_success();
    env.wait_for_status(id, "stopped").unwrap();
    // start on a stopped container
    env.call(&["start", id]).unwrap().assert_clean_failure();
    env.call(&["delete", id]).unwrap().assert_success();
    env.call(&["state", id]).unwrap().assert_clean_failure();
    env.assert_nothing_left(&bundle);
}

#[test]
fn run_exits_with_the_container_status() {
    let env = TestEnv::new().unwrap();

    let mut bundle = env.bundle("run7").unwrap();
    bundle.shell("exit 7");
    env.run(&bundle).unwrap().assert_code(7);
    env.assert_nothing_left(&bundle);

    let mut bundle = env.bundle("run0").unwrap();
    bundle.args(&["true"]);
    env.run(&bundle).unwrap().assert_code(0);
    env.assert_nothing_left(&bundle);

    // SIGKILL from outside: 128 + 9.
    let mut bundle = env.bundle("runkill").unwrap();
    bundle.args(&["sleep", "1000"]);
    bundle.write().unwrap();
    let dir = bundle.dir().to_string_lossy().into_owned();
    let run = env.spawn(&["run", "--bundle", &dir, bundle.id()]).unwrap();
    env.wait_for_status(bundle.id(), "running").unwrap();
    env.call(&["kill", bundle.id(), "KILL"])
        .unwrap()
        .assert_success();
    run.finish(SETTLE_TIMEOUT).unwrap().assert_code(137);
    env.assert_nothing_left(&bundle);

    // Without a pid namespace the init may die of its own SIGTERM: 128 + 15.
    let mut bundle = env.bundle("runterm").unwrap();
    bundle.shell("kill -TERM $$");
    let linux = bundle.spec_mut().linux_mut().as_mut().unwrap();
    let namespaces = linux.namespaces().clone().unwrap();
    linux.set_namespaces(Some(
        namespaces
            .into_iter()
            .filter(|n| n.typ() != LinuxNamespaceType::Pid)
            .collect(),
    ));
    env.run(&bundle).unwrap().assert_code(143);
    env.assert_nothing_left(&bundle);
}

#[test]
fn state_reports_the_oci_fields() {
    let env = TestEnv::new().unwrap();
    let mut bundle = env.bundle("state").unwrap();
    bundle
        .annotation("org.berth.test", "state-fields")
        .args(&["sleep", "1000"]);
    env.create(&bundle).unwrap().assert_success();

    let state = env.state(bundle.id()).unwrap();
    let json = &state.json;
    assert!(
        json["ociVersion"]
            .as_str()
            .is_some_and(|v| v.starts_with("1.")),
        "{json}"
    );
    assert_eq!(json["id"], bundle.id());
    assert_eq!(state.status, "created");
    assert!(state.pid > 0 && Path::new(&format!("/proc/{}", state.pid)).exists());
    assert_eq!(
        fs::canonicalize(&state.bundle).unwrap(),
        fs::canonicalize(bundle.dir()).unwrap()
    );
    assert_eq!(json["annotations"]["org.berth.test"], "state-fields");

    env.call(&["start", bundle.id()]).unwrap().assert_success();
    let running = env.state(bundle.id()).unwrap();
    assert_eq!(
        (running.status.as_str(), running.pid),
        ("running", state.pid)
    );
    env.call(&["kill", bundle.id(), "KILL"])
        .unwrap()
        .assert_success();
    let stopped = env.wait_for_status(bundle.id(), "stopped").unwrap();
    assert_eq!(stopped.json["id"], bundle.id());
    teardown(&env, &bundle);
}

/// Regression: a frozen init cannot die, so `delete --force` of a paused container must thaw
/// it after the SIGKILL instead of waiting for a death that never comes.
#[test]
fn delete_force_removes_a_paused_container() {
    let env = TestEnv::new().unwrap();
    let mut bundle = env.bundle("delpaused").unwrap();
    bundle.args(&["sleep", "1000"]);
    env.create_and_start(&bundle).unwrap();
    env.call(&["pause", bundle.id()]).unwrap().assert_success();
    assert_eq!(env.state(bundle.id()).unwrap().status, "paused");
    env.call(&["delete", "--force", bundle.id()])
        .unwrap()
        .assert_success();
    env.assert_nothing_left(&bundle);
}
