//! Parts of `config.json` beyond the default spec: hooks, user namespaces, rlimits, sysctl.

use std::fs;

use std::time::Duration;

use berth_tests::wait::wait_for_file;
use berth_tests::TestEnv;
use serde_json::{json, Value};

/// A hook that stores the state JSON it receives on stdin at `path`.
fn recording_hook(path: &str) -> Value {
    json!({ "path": "/bin/sh", "args": ["sh", "-c", format!("cat > {path}")], "timeout": 10 })
}

/// Runs `script` in a container whose spec `edit` changed; checks that it succeeds and leaves
/// nothing behind, and returns its stdout.
fn run_edited(env: &TestEnv, label: &str, script: &str, edit: impl FnOnce(&mut Value)) -> String {
    let mut bundle = env.bundle(label).expect("writing the bundle");
    bundle.shell(script);
    bundle.edit_json(edit).expect("editing the spec");
    let out = env.run(&bundle).expect("running the runtime");
    out.assert_success();
    env.assert_nothing_left(&bundle);
    out.stdout
}

/// Creates a container whose spec `edit` broke; checks that `create` fails cleanly and leaves
/// nothing behind, and returns the error line.
fn refused_edit(env: &TestEnv, label: &str, edit: impl FnOnce(&mut Value)) -> String {
    let mut bundle = env.bundle(label).expect("writing the bundle");
    bundle.edit_json(edit).expect("editing the spec");
    let line = env
        .create(&bundle)
        .expect("running the runtime")
        .assert_clean_failure();
    env.assert_nothing_left(&bundle);
    line
}

/// False, with a note, when the runtime under test is runc 1.1, which ignores `setting`.
fn honoured_by_runtime(env: &TestEnv, setting: &str) -> bool {
    let berth = env.runtime().is_berth();
    if !berth {
        eprintln!("skipped: runc 1.1 ignores {setting}");
    }
    berth
}

fn read_state(path: &std::path::Path) -> Value {
    let text = fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}: {text:?}", path.display()))
}

#[test]
fn every_hook_runs_with_the_state_on_stdin() {
    let env = TestEnv::new().unwrap();
    let mut bundle = env.bundle("hooks").unwrap();
    let dir = env.scratch().join("hooks");
    fs::create_dir(&dir).unwrap();
    let host = |kind: &str| dir.join(format!("{kind}.json")).display().to_string();
    let (pre, runtime, container, post_start, post_stop) = (
        host("prestart"),
        host("createRuntime"),
        host("createContainer"),
        host("poststart"),
        host("poststop"),
    );
    bundle.args(&["sleep", "1000"]);
    bundle
        .edit_json(|spec| {
            spec["hooks"] = json!({
                "prestart": [recording_hook(&pre)],
                "createRuntime": [recording_hook(&runtime)],
                // Before pivot_root the container's mount namespace still shows host paths.
                "createContainer": [recording_hook(&container)],
                // After pivot_root: a path inside the container's root filesystem.
                "startContainer": [recording_hook("/tmp/startContainer.json")],
                "poststart": [recording_hook(&post_start)],
                "poststop": [recording_hook(&post_stop)],
            });
        })
        .unwrap();

    let state = env.create_and_start(&bundle).unwrap();
    for path in [&pre, &runtime, &container] {
        let hook_state = read_state(path.as_ref());
        assert_eq!(hook_state["id"], bundle.id(), "{path}");
        if env.runtime().is_berth() {
            // runc 1.1 reports other statuses, and createContainer sees pid 1.
            assert_eq!(hook_state["pid"], state.pid, "{path}");
            assert_eq!(hook_state["status"], "creating", "{path}");
        }
    }
    let inside = bundle.rootfs().join("tmp/startContainer.json");
    wait_for_file(&inside, Duration::from_secs(10)).unwrap();
    assert_eq!(read_state(&inside)["id"], bundle.id());
    let started = read_state(post_start.as_ref());
    assert_eq!(started["id"], bundle.id());
    if env.runtime().is_berth() {
        // runc 1.1 still says "created" here.
        assert_eq!(started["status"], "running");
    }

    env.call(&["kill", bundle.id(), "KILL"])
        .unwrap()
        .assert_success();
    env.wait_for_status(bundle.id(), "stopped").unwrap();
    env.call(&["delete", bundle.id()]).unwrap().assert_success();
    let stopped = read_state(post_stop.as_ref());
    assert_eq!(stopped["id"], bundle.id());
    assert_eq!(stopped["status"], "stopped");
    env.assert_nothing_left(&bundle);
}

#[test]
fn failing_create_hook_fails_create_and_leaves_nothing() {
    let env = TestEnv::new().unwrap();
    let line = refused_edit(&env, "badhook", |spec| {
        spec["hooks"] = json!({ "createRuntime": [{ "path": "/bin/false" }] });
    });
    if env.runtime().is_berth() {
        assert!(line.contains("createRuntime"), "{line}");
    }
}

#[test]
fn user_namespace_maps_container_root_to_an_unprivileged_host_id() {
    let env = TestEnv::new().unwrap();
    let script = "id -u; cat /proc/self/uid_map /proc/self/gid_map";
    let out = run_edited(&env, "userns", script, |spec| {
        let linux = &mut spec["linux"];
        linux["namespaces"]
            .as_array_mut()
            .unwrap()
            .push(json!({ "type": "user" }));
        let map = json!([{ "containerID": 0, "hostID": 200000, "size": 65536 }]);
        linux["uidMappings"] = map.clone();
        linux["gidMappings"] = map;
    });
    let lines: Vec<Vec<&str>> = out
        .lines()
        .map(|l| l.split_whitespace().collect())
        .collect();
    assert_eq!(lines[0], ["0"]);
    assert_eq!(lines[1], ["0", "200000", "65536"]);
    assert_eq!(lines[2], ["0", "200000", "65536"]);
}

#[test]
fn rlimits_apply_and_one_above_the_host_hard_limit_is_named() {
    let env = TestEnv::new().unwrap();
    let out = run_edited(&env, "rlimit", "ulimit -n; ulimit -Hn", |spec| {
        spec["process"]["rlimits"] = json!([{ "type": "RLIMIT_NOFILE", "soft": 321, "hard": 654 }]);
    });
    assert_eq!(out, "321\n654\n");

    // fs.nr_open caps RLIMIT_NOFILE even for root.
    let nr_open: u64 = fs::read_to_string("/proc/sys/fs/nr_open")
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    let line = refused_edit(&env, "rlimit-high", |spec| {
        spec["process"]["rlimits"] = json!([{
            "type": "RLIMIT_NOFILE", "soft": nr_open + 1, "hard": nr_open + 1
        }]);
    });
    if env.runtime().is_berth() {
        assert!(line.contains("RLIMIT_NOFILE"), "{line}");
    }
}

#[test]
fn namespaced_sysctls_apply_and_host_wide_ones_are_refused() {
    let env = TestEnv::new().unwrap();
    let script = "cat /proc/sys/kernel/shmmni /proc/sys/net/ipv4/ip_forward";
    let out = run_edited(&env, "sysctl", script, |spec| {
        spec["linux"]["sysctl"] = json!({ "kernel.shmmni": "1234", "net.ipv4.ip_forward": "1" });
    });
    assert_eq!(out, "1234\n1\n");
    refused_edit(&env, "sysctl-host", |spec| {
        spec["linux"]["sysctl"] = json!({ "vm.swappiness": "10" });
    });
}

#[test]
fn a_namespace_with_a_path_is_joined() {
    let env = TestEnv::new().unwrap();
    let mut first = env.bundle("nsowner").unwrap();
    first.args(&["sleep", "1000"]);
    let owner = env.create_and_start(&first).unwrap();

    let mut second = env.bundle("nsjoiner").unwrap();
    second.shell("readlink /proc/self/ns/net; readlink /proc/self/ns/uts; hostname");
    let (net, uts) = (
        format!("/proc/{}/ns/net", owner.pid),
        format!("/proc/{}/ns/uts", owner.pid),
    );
    second
        .edit_json(|spec| {
            for ns in spec["linux"]["namespaces"].as_array_mut().unwrap() {
                match ns["type"].as_str() {
                    Some("network") => ns["path"] = json!(net),
                    Some("uts") => ns["path"] = json!(uts),
                    _ => {}
                }
            }
            // A joined UTS namespace keeps the owner's name.
            spec.as_object_mut().unwrap().remove("hostname");
        })
        .unwrap();
    let out = env.run(&second).unwrap();
    out.assert_success();
    let owner_hostname = env.call(&["exec", first.id(), "hostname"]).unwrap();
    owner_hostname.assert_success();
    let expected = format!(
        "{}\n{}\n{}",
        fs::read_link(&net).unwrap().display(),
        fs::read_link(&uts).unwrap().display(),
        owner_hostname.stdout,
    );
    assert_eq!(out.stdout, expected);

    env.call(&["delete", "--force", first.id()])
        .unwrap()
        .assert_success();
    env.assert_nothing_left(&first);
    env.assert_nothing_left(&second);
}

#[test]
fn no_pivot_runs_the_container_in_a_moved_root() {
    let env = TestEnv::new().unwrap();
    let mut bundle = env.bundle("nopivot").unwrap();
    bundle.shell("echo pid=$$; ls /; cat /proc/kcore 2>/dev/null | wc -c");
    bundle.write().unwrap();
    let dir = bundle.dir().to_string_lossy().into_owned();
    let out = env
        .call(&["run", "--no-pivot", "--bundle", &dir, bundle.id()])
        .unwrap();
    out.assert_success();
    assert!(out.stdout.starts_with("pid=1\n"), "{}", out.stdout);
    assert!(out.stdout.ends_with("0\n"), "{}", out.stdout);
    env.assert_nothing_left(&bundle);
}

/// Regression: the runtime's own last syscalls before execve (close_range among them) must not
/// depend on the container's seccomp profile allowing them.
#[test]
fn a_seccomp_profile_applies_and_need_not_allow_the_runtimes_own_syscalls() {
    let env = TestEnv::new().unwrap();
    let mut bundle = env.bundle("seccomp").unwrap();
    bundle.shell("mkdir /tmp/made 2>/dev/null && echo made || echo blocked");
    bundle
        .edit_json(|spec| {
            spec["linux"]["seccomp"] = json!({
                "defaultAction": "SCMP_ACT_ALLOW",
                "architectures": ["SCMP_ARCH_X86_64"],
                "syscalls": [
                    { "names": ["close_range"], "action": "SCMP_ACT_ERRNO", "errnoRet": 38 },
                    { "names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO" }
                ]
            });
        })
        .unwrap();
    let out = env.run(&bundle).unwrap();
    out.assert_success();
    assert_eq!(out.stdout, "blocked\n");
    env.assert_nothing_left(&bundle);
}

#[test]
fn a_time_namespace_gets_its_clock_offsets() {
    let env = TestEnv::new().unwrap();
    if !std::path::Path::new("/proc/self/ns/time").exists() || !env.runtime().is_berth() {
        eprintln!("skipped: no time namespaces in the kernel or in runc 1.1");
        return;
    }
    let mut bundle = env.bundle("timens").unwrap();
    bundle.shell("cat /proc/self/timens_offsets");
    bundle
        .edit_json(|spec| {
            let linux = &mut spec["linux"];
            linux["namespaces"]
                .as_array_mut()
                .unwrap()
                .push(json!({ "type": "time" }));
            linux["timeOffsets"] = json!({ "boottime": { "secs": 86400, "nanosecs": 7 } });
        })
        .unwrap();
    let out = env.run(&bundle).unwrap();
    out.assert_success();
    let boottime: Vec<&str> = out
        .stdout
        .lines()
        .find(|l| l.starts_with("boottime"))
        .unwrap_or_else(|| panic!("no boottime line in {:?}", out.stdout))
        .split_whitespace()
        .collect();
    assert_eq!(boottime, ["boottime", "86400", "7"]);
    env.assert_nothing_left(&bundle);
}

#[test]
fn a_relative_bind_source_is_relative_to_the_bundle() {
    let env = TestEnv::new().unwrap();
    let mut bundle = env.bundle("relbind").unwrap();
    fs::create_dir(bundle.dir().join("shared")).unwrap();
    fs::write(bundle.dir().join("shared/greeting"), "from the bundle\n").unwrap();
    bundle.shell("cat /data/greeting; echo x > /data/new 2>/dev/null || echo read-only");
    bundle
        .edit_json(|spec| {
            spec["mounts"].as_array_mut().unwrap().push(json!({
                "destination": "/data", "type": "bind", "source": "shared",
                "options": ["rbind", "ro"]
            }));
        })
        .unwrap();
    // Run from elsewhere: the runtime's own working directory must not matter.
    let dir = bundle.dir().to_string_lossy().into_owned();
    bundle.write().unwrap();
    let mut command = env.command(&["run", "--bundle", &dir, bundle.id()]);
    command.current_dir("/");
    let out = env.finish(command).unwrap();
    out.assert_success();
    assert_eq!(out.stdout, "from the bundle\nread-only\n");
    env.assert_nothing_left(&bundle);
}

#[test]
fn the_linux32_personality_is_applied() {
    let env = TestEnv::new().unwrap();
    if !honoured_by_runtime(&env, "linux.personality") {
        return;
    }
    let machine = run_edited(&env, "personality", "uname -m", |spec| {
        spec["linux"]["personality"] = json!({ "domain": "LINUX32" });
    });
    if std::env::consts::ARCH == "x86_64" {
        assert_eq!(machine, "i686\n");
    }
}

#[test]
fn the_io_priority_is_applied() {
    let env = TestEnv::new().unwrap();
    if !honoured_by_runtime(&env, "process.ioPriority") {
        return;
    }
    let out = run_edited(&env, "ioprio", "ionice -p $$", |spec| {
        spec["process"]["ioPriority"] = json!({ "class": "IOPRIO_CLASS_BE", "priority": 6 });
    });
    assert_eq!(out, "best-effort: prio 6\n");
}

/// Regression: an unbindable rootfsPropagation made the rootfs self-bind fail with EINVAL.
#[test]
fn every_rootfs_propagation_mode_starts() {
    let env = TestEnv::new().unwrap();
    let modes = [
        "shared",
        "slave",
        "private",
        "unbindable",
        "rslave",
        "rprivate",
    ];
    for mode in modes {
        if mode == "unbindable" && !env.runtime().is_berth() {
            continue; // runc 1.1 has this very bug.
        }
        let out = run_edited(&env, &format!("prop-{mode}"), "echo pid=$$", |spec| {
            spec["linux"]["rootfsPropagation"] = json!(mode);
        });
        assert_eq!(out, "pid=1\n", "{mode}");
    }
}

#[test]
fn the_scheduler_policy_is_applied() {
    let env = TestEnv::new().unwrap();
    if !honoured_by_runtime(&env, "process.scheduler") {
        return;
    }
    // /proc/<pid>/stat field 19 is the nice value, field 41 the policy (3 is SCHED_BATCH).
    let out = run_edited(&env, "sched", "cut -d' ' -f19,41 /proc/$$/stat", |spec| {
        spec["process"]["scheduler"] = json!({ "policy": "SCHED_BATCH", "nice": 7 });
    });
    assert_eq!(out, "7 3\n");
}
