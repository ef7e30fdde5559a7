//! What a container sees from inside: Docker's default isolation, and the flags that adjust it.

// Tests may unwrap (project rule); clippy only knows that inside #[test] functions, not in
// the helpers of an integration test crate.
#![allow(clippy::unwrap_used)]

use berth_tests::daemon::{unix_time_in, BUSYBOX};
use berth_tests::Daemon;

fn run(d: &Daemon, args: &[&str]) -> String {
    let mut full = vec!["run", "--rm"];
    full.extend_from_slice(args);
    d.ok(&full)
}

fn status_field(status: &str, field: &str) -> String {
    status
        .lines()
        .find_map(|l| l.strip_prefix(&format!("{field}:")))
        .map(|v| v.trim().to_owned())
        .unwrap_or_default()
}

#[test]
fn default_isolation() {
    let d = Daemon::with_busybox().unwrap();
    let status = run(&d, &[BUSYBOX, "cat", "/proc/self/status"]);
    // Docker's 14 default capabilities, nothing inheritable, no_new_privs, seccomp filtering.
    assert_eq!(status_field(&status, "CapBnd"), "00000000a80425fb");
    assert_eq!(status_field(&status, "CapInh"), "0000000000000000");
    assert_eq!(status_field(&status, "NoNewPrivs"), "1");
    assert_eq!(status_field(&status, "Seccomp"), "2");
    // PID 1 is the command, in its own PID namespace.
    assert_eq!(run(&d, &[BUSYBOX, "sh", "-c", "echo $$"]), "1");
    // Network none: only loopback, and it is up.
    let links = run(&d, &[BUSYBOX, "ls", "/sys/class/net"]);
    assert_eq!(links, "lo");
    let lo = run(&d, &[BUSYBOX, "cat", "/sys/class/net/lo/flags"]);
    assert_eq!(
        i64::from_str_radix(lo.trim_start_matches("0x"), 16).unwrap() & 1,
        1,
        "lo is up"
    );
    // Masked and read-only paths.
    // /proc/keys exists on every kernel with keys support; masked, it reads as /dev/null.
    assert_eq!(run(&d, &[BUSYBOX, "sh", "-c", "wc -c < /proc/keys"]), "0");
    let sysrq = d.ctl(&[
        "run",
        "--rm",
        BUSYBOX,
        "sh",
        "-c",
        "echo h > /proc/sysrq-trigger",
    ]);
    assert_ne!(sysrq.code(), Some(0));
    let sys_write = d.ctl(&["run", "--rm", BUSYBOX, "touch", "/sys/fs/x"]);
    assert_ne!(sys_write.code(), Some(0));
    // Blocked syscalls: unshare and mount fail.
    let unshare = d.ctl(&["run", "--rm", BUSYBOX, "unshare", "-m", "true"]);
    assert_ne!(unshare.code(), Some(0));
    // Per-container host files.
    let hostname = run(&d, &["-h", "iso", BUSYBOX, "cat", "/etc/hostname"]);
    assert_eq!(hostname, "iso");
    let hosts = run(&d, &["-h", "iso", BUSYBOX, "cat", "/etc/hosts"]);
    assert!(hosts.contains("127.0.0.1\tlocalhost"), "{hosts}");
    run(&d, &[BUSYBOX, "test", "-f", "/etc/resolv.conf"]);
}

#[test]
fn default_rlimits_stay_within_the_hosts_hard_limits() {
    let d = Daemon::with_busybox().unwrap();
    let (_, host_hard) =
        nix::sys::resource::getrlimit(nix::sys::resource::Resource::RLIMIT_NOFILE).unwrap();
    let inside: u64 = run(&d, &[BUSYBOX, "sh", "-c", "ulimit -Hn"])
        .parse()
        .unwrap();
    assert!(
        inside <= host_hard,
        "hard nofile {inside} > host's {host_hard}"
    );
    let custom = run(
        &d,
        &[
            "--ulimit",
            "nofile=512:1024",
            BUSYBOX,
            "sh",
            "-c",
            "ulimit -Sn; ulimit -Hn",
        ],
    );
    assert_eq!(custom, "512\n1024");
}

#[test]
fn capabilities_privileged_and_security_opts() {
    let d = Daemon::with_busybox().unwrap();
    let dropped = run(
        &d,
        &[
            "--cap-drop",
            "ALL",
            "--cap-add",
            "NET_RAW",
            BUSYBOX,
            "cat",
            "/proc/self/status",
        ],
    );
    assert_eq!(status_field(&dropped, "CapBnd"), "0000000000002000");
    let chown = d.ctl(&[
        "run",
        "--rm",
        "--cap-drop",
        "CHOWN",
        BUSYBOX,
        "chown",
        "65534",
        "/tmp",
    ]);
    assert_ne!(chown.code(), Some(0));
    let privileged = run(&d, &["--privileged", BUSYBOX, "cat", "/proc/self/status"]);
    assert_eq!(status_field(&privileged, "Seccomp"), "0");
    assert_ne!(status_field(&privileged, "CapBnd"), "00000000a80425fb");
    let nnp = run(
        &d,
        &[
            "--security-opt",
            "no-new-privileges=false",
            BUSYBOX,
            "cat",
            "/proc/self/status",
        ],
    );
    assert_eq!(status_field(&nnp, "NoNewPrivs"), "0");
    let unconfined = run(
        &d,
        &[
            "--security-opt",
            "seccomp=unconfined",
            BUSYBOX,
            "cat",
            "/proc/self/status",
        ],
    );
    assert_eq!(status_field(&unconfined, "Seccomp"), "0");
}

#[test]
fn read_only_rootfs_bind_mounts_and_tmpfs() {
    let d = Daemon::with_busybox().unwrap();
    let ro = d.ctl(&["run", "--rm", "--read-only", BUSYBOX, "touch", "/newfile"]);
    assert_ne!(ro.code(), Some(0));
    let host_dir = d.scratch().join("shared");
    std::fs::create_dir_all(&host_dir).unwrap();
    std::fs::write(host_dir.join("in.txt"), "host data").unwrap();
    let bind = format!("{}:/data", host_dir.display());
    let out = run(
        &d,
        &[
            "-v",
            &bind,
            BUSYBOX,
            "sh",
            "-c",
            "cat /data/in.txt; echo written > /data/out.txt",
        ],
    );
    assert_eq!(out, "host data");
    assert_eq!(
        std::fs::read_to_string(host_dir.join("out.txt")).unwrap(),
        "written\n"
    );
    let ro_bind = format!("{}:/data:ro", host_dir.display());
    let denied = d.ctl(&["run", "--rm", "-v", &ro_bind, BUSYBOX, "touch", "/data/x"]);
    assert_ne!(denied.code(), Some(0));
    let mount = format!("type=bind,source={},target=/m,readonly", host_dir.display());
    assert_eq!(
        run(&d, &["--mount", &mount, BUSYBOX, "cat", "/m/in.txt"]),
        "host data"
    );
    let tmpfs = run(
        &d,
        &[
            "--read-only",
            "--tmpfs",
            "/scratch:size=1m",
            BUSYBOX,
            "sh",
            "-c",
            "touch /scratch/ok && grep /scratch /proc/mounts",
        ],
    );
    assert!(
        tmpfs.contains("tmpfs") && tmpfs.contains("size=1024k"),
        "{tmpfs}"
    );
    let mount_tmpfs = run(
        &d,
        &[
            "--mount",
            "type=tmpfs,target=/t,tmpfs-size=2m",
            BUSYBOX,
            "grep",
            "/t ",
            "/proc/mounts",
        ],
    );
    assert!(mount_tmpfs.contains("size=2048k"), "{mount_tmpfs}");
}

#[test]
fn host_network_and_user() {
    let d = Daemon::with_busybox().unwrap();
    let host_links = std::fs::read_dir("/sys/class/net").unwrap().count();
    let links = run(&d, &["--network", "host", BUSYBOX, "ls", "/sys/class/net"]);
    assert_eq!(links.lines().count(), host_links);
    assert_eq!(
        run(
            &d,
            &["-u", "65534:65534", BUSYBOX, "sh", "-c", "id -u; id -g"]
        ),
        "65534\n65534"
    );
    assert_eq!(run(&d, &["-u", "nobody", BUSYBOX, "id", "-u"]), "65534");
}

#[test]
fn init_reaps_zombies_and_forwards_signals() {
    let d = Daemon::with_busybox().unwrap();
    // With --init, the command is not PID 1.
    assert_ne!(run(&d, &["--init", BUSYBOX, "sh", "-c", "echo $$"]), "1");
    d.ok(&[
        "run", "-d", "--init", "--name", "inited", BUSYBOX, "sleep", "1000",
    ]);
    d.ok(&["stop", "-t", "5", "inited"]);
    // SIGTERM reached sleep through the init: exit 143 without waiting for the SIGKILL.
    assert_eq!(
        d.ok(&["inspect", "-f", "{{.State.ExitCode}}", "inited"]),
        "143"
    );
}

#[test]
fn oom_kill_is_reported() {
    let d = Daemon::with_busybox().unwrap();
    let out = d.ctl(&[
        "run",
        "--name",
        "hog",
        "-m",
        "16m",
        "--memory-swap",
        "16m",
        BUSYBOX,
        "sh",
        "-c",
        "x=a; while true; do x=$x$x; done",
    ]);
    out.assert_code(137);
    assert_eq!(
        d.ok(&["inspect", "-f", "{{.State.OOMKilled}}", "hog"]),
        "true"
    );
    assert_eq!(
        d.ok(&["inspect", "-f", "{{.State.ExitCode}}", "hog"]),
        "137"
    );
    let until = unix_time_in(1);
    let events = d.ok(&[
        "events",
        "--since",
        "0",
        "--until",
        &until,
        "--filter",
        "event=oom",
        "--format",
        "{{.Action}}",
    ]);
    assert!(events.contains("oom"), "{events}");
}

#[test]
fn pids_limit_and_cpus() {
    let d = Daemon::with_busybox().unwrap();
    let fork = d.ctl(&[
        "run",
        "--rm",
        "--pids-limit",
        "5",
        BUSYBOX,
        "sh",
        "-c",
        "for i in 1 2 3 4 5 6 7 8; do sleep 5 & done; wait",
    ]);
    assert!(
        fork.stderr.contains("fork") || fork.stderr.contains("Resource"),
        "{fork:?}"
    );
    d.ok(&[
        "run",
        "-d",
        "--name",
        "cpu",
        "--cpus",
        "0.5",
        "--cpu-shares",
        "512",
        BUSYBOX,
        "sleep",
        "1000",
    ]);
    assert_eq!(
        d.ok(&["inspect", "-f", "{{.HostConfig.NanoCpus}}", "cpu"]),
        "500000000"
    );
}
