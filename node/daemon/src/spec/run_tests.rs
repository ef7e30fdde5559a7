//! Specs proven by running them: each test builds a spec for a busybox bundle, writes it as
//! `config.json` and runs it with the `berth-runtime` binary (`cargo build -p berth-runtime`
//! first; `BERTH_TEST_RUNTIME` picks another runtime), then checks what the container saw.

use std::path::Path;

use berth_proto::node::v1::{
    ContainerConfig, ExecStart, HostConfig, Mount as UserMount, MountType, Resources, Ulimit,
};
use berth_tests::{Bundle, CmdOutput, TestEnv};

use super::*;

/// A bundle whose config.json is `build_spec`'s output for `config` and `host`.
fn bundle(env: &TestEnv, config: &ContainerConfig, host: &HostConfig) -> Result<Bundle, SpecError> {
    let mut bundle = env
        .bundle("spec")
        .expect("the busybox bundle fixture builds");
    let id = bundle.id().to_owned();
    env.track(&id, &cgroups_path(&id));
    let files = env.scratch().join(format!("{id}-files"));
    std::fs::create_dir(&files).expect("the scratch directory is writable");
    std::fs::write(files.join("hosts"), "127.0.0.1\tlocalhost\n").expect("scratch is writable");
    std::fs::write(files.join("hostname"), "spec-host\n").expect("scratch is writable");
    std::fs::write(files.join("resolv.conf"), "nameserver 192.0.2.53\n")
        .expect("scratch is writable");
    let rootfs = bundle.rootfs();
    let spec = build_spec(&SpecInputs {
        id: &id,
        config,
        host,
        rootfs: &rootfs,
        host_files: HostFiles {
            hosts: &files.join("hosts"),
            hostname: &files.join("hostname"),
            resolv_conf: &files.join("resolv.conf"),
        },
    })?;
    *bundle.spec_mut() = spec;
    Ok(bundle)
}

fn shell(script: &str) -> ContainerConfig {
    ContainerConfig {
        cmd: vec!["sh".into(), "-c".into(), script.into()],
        ..Default::default()
    }
}

/// Runs the container to completion; panics unless it exits 0.
fn run(env: &TestEnv, config: &ContainerConfig, host: &HostConfig) -> CmdOutput {
    let bundle = bundle(env, config, host).expect("the spec builds");
    let out = env.run(&bundle).expect("the runtime runs");
    out.assert_success();
    out
}

/// The value after `key` on the line starting with it.
fn field<'a>(text: &'a str, key: &str) -> &'a str {
    text.lines()
        .find_map(|line| line.strip_prefix(key))
        .map_or("", str::trim)
}

#[test]
fn default_container_is_dockers() {
    let env = TestEnv::new().unwrap();
    let script = "id; echo host=$(hostname); echo nofile=$(ulimit -n); \
                  grep -E '^(CapEff|CapInh|NoNewPrivs|Seccomp):' /proc/self/status; \
                  echo home=$HOME; echo path=$PATH; echo lo=$(cat /sys/class/net/lo/flags); \
                  echo nets=$(ls /sys/class/net); cat /etc/resolv.conf; \
                  touch /rootfs-write && echo rootfs=rw";
    let out = run(&env, &shell(script), &HostConfig::default());
    let text = &out.stdout;
    assert!(text.contains("uid=0(root) gid=0(root)"), "{text}");
    let hard = nix::sys::resource::getrlimit(nix::sys::resource::Resource::RLIMIT_NOFILE)
        .unwrap()
        .1;
    assert_eq!(field(text, "nofile="), hard.min(1_048_576).to_string());
    assert_eq!(field(text, "CapEff:"), "00000000a80425fb");
    assert_eq!(field(text, "CapInh:"), "0000000000000000");
    assert_eq!(field(text, "NoNewPrivs:"), "1");
    assert_eq!(field(text, "Seccomp:"), "2");
    assert_eq!(field(text, "home="), "/root");
    assert_eq!(field(text, "path="), DEFAULT_PATH);
    // IFF_UP | IFF_LOOPBACK | IFF_RUNNING: the runtime brought lo up in the new namespace.
    assert_eq!(field(text, "lo="), "0x9");
    assert_eq!(field(text, "nets="), "lo");
    assert_eq!(field(text, "nameserver"), "192.0.2.53");
    assert_eq!(field(text, "rootfs="), "rw");
    let host = field(text, "host=");
    assert_eq!(host.len(), 12, "{text}");
}

#[test]
fn user_read_only_rootfs_and_mounts() {
    let env = TestEnv::new().unwrap();
    let data = env.scratch().join("data");
    std::fs::create_dir(&data).unwrap();
    std::fs::write(data.join("hello"), "from the host\n").unwrap();
    let config = ContainerConfig {
        user: "nobody".into(),
        working_dir: "/work".into(),
        hostname: "spec-test".into(),
        ..shell(
            "id; pwd; echo host=$(hostname); cat /data/hello; \
             touch /rootfs-write 2>/dev/null || echo rootfs=ro; \
             touch /data/x 2>/dev/null || echo bind=ro; \
             touch /scratch/x && echo tmpfs=rw; \
             grep ' /scratch ' /proc/self/mounts",
        )
    };
    let host = HostConfig {
        read_only_rootfs: true,
        mounts: vec![
            UserMount {
                r#type: MountType::Bind as i32,
                source: data.to_string_lossy().into_owned(),
                target: "/data".into(),
                read_only: true,
                ..Default::default()
            },
            UserMount {
                r#type: MountType::Tmpfs as i32,
                target: "/scratch".into(),
                tmpfs_size: 1 << 20,
                ..Default::default()
            },
        ],
        ..Default::default()
    };
    let out = run(&env, &config, &host);
    let text = &out.stdout;
    assert!(
        text.contains("uid=65534(nobody) gid=65534(nogroup)"),
        "{text}"
    );
    assert!(text.contains("\n/work\n"), "{text}");
    assert_eq!(field(text, "host="), "spec-test");
    assert!(text.contains("from the host"), "{text}");
    assert_eq!(field(text, "rootfs="), "ro");
    assert_eq!(field(text, "bind="), "ro");
    assert_eq!(field(text, "tmpfs="), "rw");
    let scratch = text.lines().find(|l| l.contains(" /scratch ")).unwrap();
    for option in ["nosuid", "nodev", "noexec", "size=1024k"] {
        assert!(scratch.contains(option), "{scratch}");
    }
}

#[test]
fn resources_and_ulimits_reach_the_cgroup() {
    let env = TestEnv::new().unwrap();
    let host = HostConfig {
        resources: Some(Resources {
            memory: 64 << 20,
            pids_limit: Some(50),
            ulimits: vec![Ulimit {
                name: "nofile".into(),
                soft: 256,
                hard: 512,
            }],
            ..Default::default()
        }),
        ..Default::default()
    };
    let script = "echo soft=$(ulimit -Sn) hard=$(ulimit -Hn); \
                  echo mem=$(cat /sys/fs/cgroup/memory/memory.limit_in_bytes 2>/dev/null \
                             || cat /sys/fs/cgroup/memory.max); \
                  echo pids=$(cat /sys/fs/cgroup/pids/pids.max 2>/dev/null \
                              || cat /sys/fs/cgroup/pids.max)";
    let out = run(&env, &shell(script), &host);
    let text = &out.stdout;
    assert!(text.contains("soft=256 hard=512"), "{text}");
    assert_eq!(field(text, "mem="), (64u64 << 20).to_string());
    assert_eq!(field(text, "pids="), "50");
}

#[test]
fn privileged_and_cap_changes() {
    let env = TestEnv::new().unwrap();
    let script = "grep -E '^(CapEff|Seccomp|NoNewPrivs):' /proc/self/status";
    let privileged = HostConfig {
        privileged: true,
        ..Default::default()
    };
    let out = run(&env, &shell(script), &privileged);
    // Everything the daemon itself holds.
    let ours = std::fs::read_to_string("/proc/self/status").unwrap();
    assert_eq!(field(&out.stdout, "CapEff:"), field(&ours, "CapBnd:"));
    assert_eq!(field(&out.stdout, "Seccomp:"), "0");

    let adjusted = HostConfig {
        cap_add: vec!["net_admin".into()],
        cap_drop: vec!["CAP_CHOWN".into()],
        security_opt: vec![
            "no-new-privileges:false".into(),
            "seccomp=unconfined".into(),
        ],
        ..Default::default()
    };
    let out = run(&env, &shell(script), &adjusted);
    // Docker's mask, plus NET_ADMIN (bit 12), minus CHOWN (bit 0).
    assert_eq!(
        field(&out.stdout, "CapEff:"),
        format!("{:016x}", (0xa804_25fb_u64 | 1 << 12) & !1)
    );
    assert_eq!(field(&out.stdout, "Seccomp:"), "0");
    assert_eq!(field(&out.stdout, "NoNewPrivs:"), "0");
}

#[test]
fn host_network_shares_the_hosts_interfaces() {
    let env = TestEnv::new().unwrap();
    let host = HostConfig {
        network_mode: "host".into(),
        ..Default::default()
    };
    let out = run(&env, &shell("readlink /proc/self/ns/net"), &host);
    let ours = std::fs::read_link("/proc/self/ns/net").unwrap();
    assert_eq!(out.stdout.trim(), ours.to_string_lossy());
}

#[test]
fn exec_process_runs_in_a_running_container() {
    let env = TestEnv::new().unwrap();
    let config = ContainerConfig {
        env: vec!["A=1".into()],
        ..shell("sleep 30")
    };
    let mut bundle = bundle(&env, &config, &HostConfig::default()).unwrap();
    let spec = bundle.spec_mut().clone();
    env.create_and_start(&bundle).unwrap();
    let request = ExecStart {
        cmd: vec![
            "sh".into(),
            "-c".into(),
            "id; pwd; echo A=$A B=$B; grep CapEff /proc/self/status".into(),
        ],
        env: vec!["B=2".into()],
        user: "nobody".into(),
        working_dir: "/tmp".into(),
        ..Default::default()
    };
    let process = exec_process(&spec, &request, &bundle.rootfs()).unwrap();
    let process_json = env.scratch().join("process.json");
    std::fs::write(&process_json, serde_json::to_string(&process).unwrap()).unwrap();
    let out = env
        .call(&["exec", "--process", &path_str(&process_json), bundle.id()])
        .unwrap();
    out.assert_success();
    let text = &out.stdout;
    assert!(
        text.contains("uid=65534(nobody) gid=65534(nogroup)"),
        "{text}"
    );
    assert!(text.contains("\n/tmp\n"), "{text}");
    assert!(text.contains("A=1 B=2"), "{text}");
    // Not root: only the bounding set, as after execve.
    assert_eq!(field(text, "CapEff:"), "0000000000000000");
    env.call(&["delete", "--force", bundle.id()])
        .unwrap()
        .assert_success();
}

fn path_str(path: &Path) -> String {
    path.to_string_lossy().into_owned()
}
