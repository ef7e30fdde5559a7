//! berthd + berthctl: the container lifecycle a Docker user drives from the command line.

// Tests may unwrap (project rule); clippy only knows that inside #[test] functions, not in
// the helpers of an integration test crate.
#![allow(clippy::unwrap_used)]

use berth_tests::daemon::{eventually, unix_time_in, BUSYBOX};
use berth_tests::Daemon;

fn status(d: &Daemon, name: &str) -> String {
    d.ok(&["inspect", "-f", "{{.State.Status}}", name])
}

#[test]
fn run_prints_output_and_exits_with_the_containers_code() {
    let d = Daemon::with_busybox().unwrap();
    let out = d.ctl(&["run", "--rm", BUSYBOX, "echo", "hello"]);
    out.assert_success();
    assert_eq!(out.stdout, "hello\n");
    d.ctl(&["run", "--rm", BUSYBOX, "sh", "-c", "echo oops >&2; exit 3"])
        .assert_code(3);
    // A signal's exit code: SIGTERM to a process that is not PID 1 in its namespace.
    let killed = d.ctl(&[
        "run",
        "--rm",
        "--init",
        BUSYBOX,
        "sh",
        "-c",
        "kill -TERM $$; sleep 5",
    ]);
    killed.assert_code(143);
    // --rm removed all three.
    assert_eq!(d.ok(&["ps", "-aq"]), "");
}

#[test]
fn run_separates_stdout_and_stderr() {
    let d = Daemon::with_busybox().unwrap();
    let out = d.ctl(&["run", "--rm", BUSYBOX, "sh", "-c", "echo out; echo err >&2"]);
    out.assert_success();
    assert_eq!(out.stdout, "out\n");
    assert!(out.stderr.contains("err\n"), "{out:?}");
}

#[test]
fn run_exit_codes_126_and_127() {
    let d = Daemon::with_busybox().unwrap();
    let missing = d.ctl(&["run", "--rm", BUSYBOX, "/no/such/binary"]);
    missing.assert_code(127);
    assert!(missing.stderr.starts_with("Error"), "{missing:?}");
    let not_exec = d.ctl(&["run", "--rm", BUSYBOX, "/etc/passwd"]);
    not_exec.assert_code(126);
}

#[test]
fn detached_lifecycle_stop_start_restart_pause_rm() {
    let d = Daemon::with_busybox().unwrap();
    let id = d.ok(&["run", "-d", "--name", "web", BUSYBOX, "sleep", "1000"]);
    assert_eq!(id.len(), 64, "run -d prints the full ID: {id}");
    assert!(id.chars().all(|c| c.is_ascii_hexdigit()));
    assert_eq!(status(&d, "web"), "running");
    assert_eq!(status(&d, &id[..12]), "running", "ID prefixes work");

    d.ok(&["pause", "web"]);
    assert_eq!(status(&d, "web"), "paused");
    d.ok(&["unpause", "web"]);
    assert_eq!(status(&d, "web"), "running");

    d.ok(&["stop", "-t", "1", "web"]);
    assert_eq!(status(&d, "web"), "exited");
    // sleep is PID 1 of its namespace, so SIGTERM has no default action there: the stop
    // timeout ends with SIGKILL, and the exit code is 137, as with Docker.
    assert_eq!(
        d.ok(&["inspect", "-f", "{{.State.ExitCode}}", "web"]),
        "137"
    );

    d.ok(&["start", "web"]);
    assert_eq!(status(&d, "web"), "running");
    let pid_before = d.ok(&["inspect", "-f", "{{.State.Pid}}", "web"]);
    d.ok(&["restart", "-t", "1", "web"]);
    assert_eq!(status(&d, "web"), "running");
    assert_ne!(
        d.ok(&["inspect", "-f", "{{.State.Pid}}", "web"]),
        pid_before
    );

    d.ok(&["kill", "web"]);
    eventually("web to exit after kill", || status(&d, "web") == "exited");
    assert_eq!(
        d.ok(&["inspect", "-f", "{{.State.ExitCode}}", "web"]),
        "137"
    );
    d.ok(&["rm", "web"]);
    assert!(!d.ctl(&["inspect", "web"]).status.success());
}

#[test]
fn create_then_start_and_wait() {
    let d = Daemon::with_busybox().unwrap();
    let id = d.ok(&["create", "--name", "job", BUSYBOX, "sh", "-c", "exit 7"]);
    assert_eq!(id.len(), 64);
    assert_eq!(status(&d, "job"), "created");
    d.ok(&["start", "job"]);
    assert_eq!(d.ok(&["wait", "job"]), "7");
    assert_eq!(status(&d, "job"), "exited");
    let out = d.ctl(&["start", "-a", "job"]);
    out.assert_code(7);
}

#[test]
fn generated_names_and_rename() {
    let d = Daemon::with_busybox().unwrap();
    let id = d.ok(&["create", BUSYBOX, "true"]);
    let name = d.ok(&["inspect", "-f", "{{.Name}}", &id]);
    let name = name.trim_start_matches('/');
    let (adjective, surname) = name.split_once('_').expect("adjective_surname");
    assert!(!adjective.is_empty() && !surname.is_empty(), "{name}");
    d.ok(&["rename", name, "renamed"]);
    assert_eq!(d.ok(&["inspect", "-f", "{{.Name}}", &id]), "/renamed");
    d.ok(&["rm", "renamed"]);
}

#[test]
fn ps_lists_filters_and_formats() {
    let d = Daemon::with_busybox().unwrap();
    d.ok(&[
        "run", "-d", "--name", "up", "-l", "tier=web", BUSYBOX, "sleep", "1000",
    ]);
    d.ok(&["run", "--name", "done", BUSYBOX, "true"]);
    let running = d.ok(&["ps", "--format", "{{.Names}}"]);
    assert_eq!(running, "up");
    let all = d.ok(&["ps", "-a", "--format", "{{.Names}} {{.State}}"]);
    assert!(
        all.contains("up running") && all.contains("done exited"),
        "{all}"
    );
    let table = d.ok(&["ps", "-a"]);
    let header = table.lines().next().unwrap();
    for column in [
        "CONTAINER ID",
        "IMAGE",
        "COMMAND",
        "CREATED",
        "STATUS",
        "PORTS",
        "NAMES",
    ] {
        assert!(header.contains(column), "{header}");
    }
    assert!(table.contains("Up "), "{table}");
    assert!(table.contains("Exited (0)"), "{table}");
    let filtered = d.ok(&["ps", "-a", "-q", "-f", "label=tier=web"]);
    assert_eq!(filtered.lines().count(), 1);
    let exited = d.ok(&[
        "ps",
        "-a",
        "--filter",
        "status=exited",
        "--format",
        "{{.Names}}",
    ]);
    assert_eq!(exited, "done");
    let latest = d.ok(&["ps", "-l", "--format", "{{.Names}}"]);
    assert_eq!(latest, "done");
    let json = d.ok(&["ps", "-a", "--format", "json"]);
    for line in json.lines() {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        assert!(v["ID"].is_string() && v["Names"].is_string(), "{v}");
    }
}

#[test]
fn inspect_has_dockers_field_names() {
    let d = Daemon::with_busybox().unwrap();
    d.ok(&[
        "run",
        "-d",
        "--name",
        "insp",
        "-e",
        "FOO=bar",
        "-w",
        "/tmp",
        "-h",
        "boxhost",
        "--restart",
        "on-failure:3",
        "-m",
        "64m",
        BUSYBOX,
        "sleep",
        "1000",
    ]);
    let raw = d.ok(&["inspect", "insp"]);
    let v: serde_json::Value = serde_json::from_str(&raw).unwrap();
    let c = &v[0];
    assert_eq!(c["Name"], "/insp");
    assert_eq!(c["State"]["Status"], "running");
    assert_eq!(c["State"]["Running"], true);
    assert!(c["State"]["Pid"].as_i64().unwrap() > 0);
    assert_eq!(c["Path"], "sleep");
    assert_eq!(c["Args"][0], "1000");
    assert!(c["Image"].as_str().unwrap().starts_with("sha256:"));
    assert_eq!(c["Config"]["Hostname"], "boxhost");
    assert_eq!(c["Config"]["WorkingDir"], "/tmp");
    assert!(c["Config"]["Env"]
        .as_array()
        .unwrap()
        .iter()
        .any(|e| e == "FOO=bar"));
    assert_eq!(c["HostConfig"]["RestartPolicy"]["Name"], "on-failure");
    assert_eq!(c["HostConfig"]["RestartPolicy"]["MaximumRetryCount"], 3);
    assert_eq!(c["HostConfig"]["Memory"], 64 * 1024 * 1024);
    assert_eq!(c["RestartCount"], 0);
    for key in ["Id", "Created", "Mounts", "NetworkSettings"] {
        assert!(!c[key].is_null(), "missing {key}");
    }
    let hostname = d.ok(&["exec", "insp", "hostname"]);
    assert_eq!(hostname, "boxhost");
}

#[test]
fn logs_tail_timestamps_and_follow() {
    let d = Daemon::with_busybox().unwrap();
    d.ok(&[
        "run",
        "--name",
        "lg",
        BUSYBOX,
        "sh",
        "-c",
        "for i in 1 2 3 4 5; do echo line$i; done; echo bad >&2",
    ]);
    let all = d.ctl(&["logs", "lg"]);
    all.assert_success();
    assert_eq!(all.stdout, "line1\nline2\nline3\nline4\nline5\n");
    assert_eq!(all.stderr, "bad\n");
    let tail = d.ctl(&["logs", "--tail", "2", "lg"]);
    assert_eq!(
        tail.stdout, "line5\n",
        "the last 2 entries are line5 and bad: {tail:?}"
    );
    let stamped = d.ok(&["logs", "-t", "lg"]);
    let first = stamped.lines().next().unwrap();
    let (stamp, text) = first.split_once(' ').unwrap();
    assert!(stamp.contains('T') && stamp.ends_with('Z'), "{first}");
    assert_eq!(text, "line1");
    let future = d.ctl(&["logs", "--since", "2999-01-01T00:00:00Z", "lg"]);
    assert_eq!(future.stdout, "");

    d.ok(&[
        "run",
        "-d",
        "--name",
        "fl",
        BUSYBOX,
        "sh",
        "-c",
        "echo first; sleep 2; echo second",
    ]);
    let followed = d.ctl(&["logs", "-f", "fl"]);
    followed.assert_success();
    assert_eq!(followed.stdout, "first\nsecond\n");
}

#[test]
fn exec_runs_in_the_container_and_reports_its_code() {
    let d = Daemon::with_busybox().unwrap();
    d.ok(&["run", "-d", "--name", "ex", BUSYBOX, "sleep", "1000"]);
    let out = d.ok(&[
        "exec",
        "-e",
        "X=1",
        "-w",
        "/etc",
        "ex",
        "sh",
        "-c",
        "echo $X $(pwd) $(id -u)",
    ]);
    assert_eq!(out, "1 /etc 0");
    d.ctl(&["exec", "ex", "sh", "-c", "exit 5"]).assert_code(5);
    let stdin = d.ctl_stdin(&["exec", "-i", "ex", "cat"], b"piped\n");
    assert_eq!(stdin.stdout, "piped\n");
    d.ok(&[
        "exec",
        "-d",
        "ex",
        "sh",
        "-c",
        "sleep 1; touch /tmp/detached",
    ]);
    eventually("the detached exec to finish", || {
        d.ctl(&["exec", "ex", "test", "-f", "/tmp/detached"])
            .status
            .success()
    });
    let user = d.ok(&["exec", "-u", "65534", "ex", "id", "-u"]);
    assert_eq!(user, "65534");
}

#[test]
fn run_with_stdin_and_attach() {
    let d = Daemon::with_busybox().unwrap();
    let out = d.ctl_stdin(
        &[
            "run",
            "--rm",
            "-i",
            BUSYBOX,
            "sh",
            "-c",
            "read x; echo got $x",
        ],
        b"value\n",
    );
    out.assert_success();
    assert_eq!(out.stdout, "got value\n");

    d.ok(&[
        "run",
        "-d",
        "--name",
        "at",
        BUSYBOX,
        "sh",
        "-c",
        "sleep 2; echo late; exit 4",
    ]);
    let attached = d.ctl(&["attach", "at"]);
    assert_eq!(attached.stdout, "late\n");
    attached.assert_code(4);
}

#[test]
fn top_stats_and_update() {
    let d = Daemon::with_busybox().unwrap();
    d.ok(&[
        "run", "-d", "--name", "tp", "-m", "64m", BUSYBOX, "sleep", "1000",
    ]);
    let top = d.ok(&["top", "tp"]);
    assert!(top.lines().next().unwrap().contains("PID"), "{top}");
    assert!(top.contains("sleep 1000"), "{top}");
    let stats = d.ok(&[
        "stats",
        "--no-stream",
        "--format",
        "{{.Name}} {{.MemUsage}} {{.PIDs}}",
        "tp",
    ]);
    assert!(stats.starts_with("tp "), "{stats}");
    assert!(stats.contains("/ 64MiB"), "{stats}");
    assert!(stats.ends_with(" 1"), "{stats}");
    d.ok(&["update", "-m", "128m", "tp"]);
    assert_eq!(
        d.ok(&["inspect", "-f", "{{.HostConfig.Memory}}", "tp"]),
        (128 * 1024 * 1024).to_string()
    );
    let stats = d.ok(&["stats", "--no-stream", "--format", "{{.MemUsage}}", "tp"]);
    assert!(stats.contains("/ 128MiB"), "{stats}");
}

#[test]
fn cp_and_export_import_round_trip() {
    let d = Daemon::with_busybox().unwrap();
    d.ok(&["run", "-d", "--name", "cp", BUSYBOX, "sleep", "1000"]);
    let src = d.scratch().join("hello.txt");
    std::fs::write(&src, "from host\n").unwrap();
    d.ok(&["cp", &src.to_string_lossy(), "cp:/tmp/"]);
    assert_eq!(d.ok(&["exec", "cp", "cat", "/tmp/hello.txt"]), "from host");
    d.ok(&[
        "exec",
        "cp",
        "sh",
        "-c",
        "echo from container > /tmp/back.txt",
    ]);
    let dst = d.scratch().join("back.txt");
    d.ok(&["cp", "cp:/tmp/back.txt", &dst.to_string_lossy()]);
    assert_eq!(std::fs::read_to_string(&dst).unwrap(), "from container\n");

    let tar = d.scratch().join("export.tar");
    d.ok(&["export", "-o", &tar.to_string_lossy(), "cp"]);
    d.ok(&["import", &tar.to_string_lossy(), "exported:v1"]);
    let out = d.ok(&["run", "--rm", "exported:v1", "cat", "/tmp/back.txt"]);
    assert_eq!(out, "from container");
}

#[test]
fn prune_removes_only_stopped_containers() {
    let d = Daemon::with_busybox().unwrap();
    d.ok(&["run", "-d", "--name", "keep", BUSYBOX, "sleep", "1000"]);
    d.ok(&["run", "--name", "gone", BUSYBOX, "true"]);
    let out = d.ok(&["container", "prune", "-f"]);
    assert!(out.contains("Total reclaimed space"), "{out}");
    assert_eq!(d.ok(&["ps", "-a", "--format", "{{.Names}}"]), "keep");
}

#[test]
fn events_stream_records_the_lifecycle() {
    let d = Daemon::with_busybox().unwrap();
    d.ok(&["run", "--name", "ev", BUSYBOX, "true"]);
    d.ok(&["rm", "ev"]);
    let until = unix_time_in(1);
    let events = d.ok(&[
        "events",
        "--since",
        "1970-01-01T00:00:00Z",
        "--until",
        &until,
        "--filter",
        "container=ev",
        "--format",
        "{{.Action}}",
    ]);
    let actions: Vec<&str> = events.lines().collect();
    for expected in ["create", "start", "die", "destroy"] {
        assert!(actions.contains(&expected), "{actions:?}");
    }
}

#[test]
fn version_info_and_disk_usage() {
    let d = Daemon::with_busybox().unwrap();
    let version = d.ok(&["version"]);
    assert!(version.contains("Server"), "{version}");
    let info = d.ok(&["info"]);
    assert!(
        info.contains("Containers:") && info.contains("Images: 1"),
        "{info}"
    );
    let df = d.ok(&["system", "df"]);
    assert!(df.contains("Images") && df.contains("Containers"), "{df}");
}
