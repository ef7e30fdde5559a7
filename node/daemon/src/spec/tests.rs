//! Whole specs: what `build_spec` and `exec_process` produce from typical and bad settings.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use berth_proto::node::v1::{
    ContainerConfig, ExecStart, HostConfig, Mount as UserMount, MountType, Resources, TerminalSize,
    Ulimit,
};
use berth_runtime::spec::DEFAULT_CAPABILITIES;
use oci_spec::runtime::{
    Capability, LinuxNamespaceType, LinuxSeccompAction, PosixRlimitType, Spec,
};
use tempfile::TempDir;

use super::*;

const ID: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

/// A rootfs with a user database, and the three host files.
pub struct Fixture {
    pub dir: TempDir,
}

impl Fixture {
    pub fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let etc = dir.path().join("rootfs/etc");
        std::fs::create_dir_all(&etc).unwrap();
        std::fs::write(
            etc.join("passwd"),
            "root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000:App:/home/app:/bin/sh\n",
        )
        .unwrap();
        std::fs::write(
            etc.join("group"),
            "root:x:0:\napp:x:1000:\nwheel:x:10:app\n",
        )
        .unwrap();
        for name in ["hosts", "hostname", "resolv.conf"] {
            std::fs::write(dir.path().join(name), "").unwrap();
        }
        Fixture { dir }
    }

    pub fn rootfs(&self) -> PathBuf {
        self.dir.path().join("rootfs")
    }

    pub fn file(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    pub fn build(&self, config: &ContainerConfig, host: &HostConfig) -> Result<Spec, SpecError> {
        self.build_with_id(ID, config, host)
    }

    pub fn build_with_id(
        &self,
        id: &str,
        config: &ContainerConfig,
        host: &HostConfig,
    ) -> Result<Spec, SpecError> {
        let (hosts, hostname, resolv) = (
            self.file("hosts"),
            self.file("hostname"),
            self.file("resolv.conf"),
        );
        let rootfs = self.rootfs();
        build_spec(&SpecInputs {
            id,
            config,
            host,
            rootfs: &rootfs,
            host_files: HostFiles {
                hosts: &hosts,
                hostname: &hostname,
                resolv_conf: &resolv,
            },
        })
    }
}

pub fn config(cmd: &[&str]) -> ContainerConfig {
    ContainerConfig {
        cmd: cmd.iter().map(|s| s.to_string()).collect(),
        ..Default::default()
    }
}

fn strings(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| s.to_string()).collect()
}

fn process(spec: &Spec) -> &oci_spec::runtime::Process {
    spec.process().as_ref().unwrap()
}

fn linux(spec: &Spec) -> &oci_spec::runtime::Linux {
    spec.linux().as_ref().unwrap()
}

fn effective(spec: &Spec) -> HashSet<Capability> {
    process(spec)
        .capabilities()
        .as_ref()
        .unwrap()
        .effective()
        .clone()
        .unwrap()
}

fn env_value<'a>(env: &'a [String], key: &str) -> Option<&'a str> {
    env.iter()
        .find_map(|e| e.strip_prefix(key)?.strip_prefix('='))
}

#[test]
fn default_spec_has_dockers_settings() {
    let fx = Fixture::new();
    let spec = fx
        .build(&config(&["sh", "-c", "true"]), &HostConfig::default())
        .unwrap();
    let p = process(&spec);
    assert_eq!(p.args().as_deref().unwrap(), ["sh", "-c", "true"]);
    let env = p.env().as_deref().unwrap();
    assert_eq!(env_value(env, "PATH"), Some(DEFAULT_PATH));
    assert_eq!(env_value(env, "HOSTNAME"), Some("0123456789ab"));
    assert_eq!(env_value(env, "HOME"), Some("/root"));
    assert_eq!(env_value(env, "TERM"), None);
    assert_eq!(p.cwd(), Path::new("/"));
    assert_eq!(p.terminal(), Some(false));
    assert_eq!((p.user().uid(), p.user().gid()), (0, 0));
    assert_eq!(p.user().additional_gids().as_deref(), Some(&[][..]));
    assert_eq!(p.no_new_privileges(), Some(true));
    assert_eq!(p.oom_score_adj(), None);
    let caps = p.capabilities().as_ref().unwrap();
    assert!(caps.inheritable().as_ref().unwrap().is_empty());
    assert_eq!(effective(&spec), DEFAULT_CAPABILITIES.into_iter().collect());
    let nofile = p
        .rlimits()
        .as_ref()
        .unwrap()
        .iter()
        .find(|l| l.typ() == PosixRlimitType::RlimitNofile)
        .unwrap();
    let host_hard = nix::sys::resource::getrlimit(nix::sys::resource::Resource::RLIMIT_NOFILE)
        .unwrap()
        .1;
    assert_eq!(nofile.hard(), host_hard.min(1_048_576));

    assert_eq!(spec.hostname().as_deref(), Some("0123456789ab"));
    assert_eq!(spec.domainname(), &None);
    let root = spec.root().as_ref().unwrap();
    assert_eq!(
        (root.path().as_path(), root.readonly()),
        (Path::new("rootfs"), Some(false))
    );
    assert!(spec.annotations().as_ref().unwrap().is_empty());

    let l = linux(&spec);
    let types: HashSet<_> = l
        .namespaces()
        .as_ref()
        .unwrap()
        .iter()
        .map(|n| n.typ())
        .collect();
    for typ in [
        LinuxNamespaceType::Pid,
        LinuxNamespaceType::Ipc,
        LinuxNamespaceType::Uts,
        LinuxNamespaceType::Mount,
        LinuxNamespaceType::Cgroup,
        LinuxNamespaceType::Network,
    ] {
        assert!(types.contains(&typ), "{typ:?}");
    }
    assert!(!types.contains(&LinuxNamespaceType::User));
    assert_eq!(
        l.cgroups_path().as_deref(),
        Some(Path::new(&format!("/berth/{ID}")))
    );
    assert!(l
        .masked_paths()
        .as_ref()
        .unwrap()
        .iter()
        .any(|p| p == "/proc/kcore"));
    assert!(l
        .readonly_paths()
        .as_ref()
        .unwrap()
        .iter()
        .any(|p| p == "/proc/sys"));
    let seccomp = l.seccomp().as_ref().unwrap();
    assert_eq!(seccomp.default_action(), LinuxSeccompAction::ScmpActErrno);
    let devices = l.resources().as_ref().unwrap().devices().as_ref().unwrap();
    assert!(!devices[0].allow());
    assert!(l.sysctl().is_none());
    assert!(l.devices().is_none());

    // What the runtime will read back.
    let json = serde_json::to_string(&spec).unwrap();
    let back: Spec = serde_json::from_str(&json).unwrap();
    assert_eq!(back, spec);
}

#[test]
fn user_is_resolved_in_the_rootfs() {
    let fx = Fixture::new();
    let mut cfg = config(&["id"]);
    cfg.user = "app".into();
    let spec = fx.build(&cfg, &HostConfig::default()).unwrap();
    let user = process(&spec).user();
    assert_eq!((user.uid(), user.gid()), (1000, 1000));
    assert_eq!(user.additional_gids().as_deref(), Some(&[10][..]));
    let env = process(&spec).env().as_deref().unwrap();
    assert_eq!(env_value(env, "HOME"), Some("/home/app"));
    // Not root: the bounding set only, as execve would leave it.
    assert!(effective(&spec).is_empty());
    let caps = process(&spec).capabilities().as_ref().unwrap();
    assert_eq!(
        caps.bounding().as_ref().unwrap().len(),
        DEFAULT_CAPABILITIES.len()
    );

    cfg.user = "ghost".into();
    assert_eq!(
        fx.build(&cfg, &HostConfig::default())
            .unwrap_err()
            .to_string(),
        "unable to find user ghost: no matching entries in passwd file"
    );
}

#[test]
fn passwd_symlink_to_a_host_file_is_read_in_root() {
    let fx = Fixture::new();
    // The host file says `evil` is root; the rootfs's copy at the same path says 4000.
    let host_file = fx.file("host-passwd");
    std::fs::write(&host_file, "evil:x:0:0::/:/bin/sh\n").unwrap();
    let passwd = fx.rootfs().join("etc/passwd");
    std::fs::remove_file(&passwd).unwrap();
    std::os::unix::fs::symlink(&host_file, &passwd).unwrap();
    let mut cfg = config(&["id"]);
    cfg.user = "evil".into();
    assert!(fx.build(&cfg, &HostConfig::default()).is_err());

    let in_root = fx.rootfs().join(host_file.strip_prefix("/").unwrap());
    std::fs::create_dir_all(in_root.parent().unwrap()).unwrap();
    std::fs::write(&in_root, "evil:x:4000:4000::/:/bin/sh\n").unwrap();
    let spec = fx.build(&cfg, &HostConfig::default()).unwrap();
    assert_eq!(process(&spec).user().uid(), 4000);
}

#[test]
fn entrypoint_env_tty_cwd_and_names() {
    let fx = Fixture::new();
    let cfg = ContainerConfig {
        entrypoint: strings(&["/bin/entry"]),
        cmd: strings(&["arg"]),
        env: strings(&["PATH=/opt/bin", "A=1"]),
        tty: true,
        working_dir: "/srv/app".into(),
        hostname: "web".into(),
        domainname: "example.org".into(),
        ..Default::default()
    };
    let spec = fx.build(&cfg, &HostConfig::default()).unwrap();
    let p = process(&spec);
    assert_eq!(p.args().as_deref().unwrap(), ["/bin/entry", "arg"]);
    let env = p.env().as_deref().unwrap();
    assert_eq!(env_value(env, "PATH"), Some("/opt/bin"));
    assert_eq!(env_value(env, "TERM"), Some("xterm"));
    assert_eq!(env_value(env, "HOSTNAME"), Some("web"));
    assert_eq!(p.terminal(), Some(true));
    assert_eq!(p.cwd(), Path::new("/srv/app"));
    assert!(
        fx.rootfs().join("srv/app").is_dir(),
        "the working directory is created"
    );
    assert_eq!(spec.hostname().as_deref(), Some("web"));
    assert_eq!(spec.domainname().as_deref(), Some("example.org"));
}

#[test]
fn privileged_gets_everything() {
    let fx = Fixture::new();
    let host = HostConfig {
        privileged: true,
        ..Default::default()
    };
    let spec = fx.build(&config(&["sh"]), &host).unwrap();
    assert!(effective(&spec).contains(&Capability::SysAdmin));
    let l = linux(&spec);
    assert!(l.seccomp().is_none());
    assert!(l.masked_paths().is_none() && l.readonly_paths().is_none());
    assert!(!l.devices().as_ref().unwrap().is_empty());
    let rules = l.resources().as_ref().unwrap().devices().as_ref().unwrap();
    assert!(rules.len() == 1 && rules[0].allow());
}

#[test]
fn security_options() {
    let fx = Fixture::new();
    let host = HostConfig {
        security_opt: strings(&["no-new-privileges:false", "seccomp=unconfined"]),
        cap_add: strings(&["sys_ptrace"]),
        cap_drop: strings(&["CAP_NET_RAW"]),
        ..Default::default()
    };
    let spec = fx.build(&config(&["sh"]), &host).unwrap();
    assert_eq!(process(&spec).no_new_privileges(), Some(false));
    assert!(linux(&spec).seccomp().is_none());
    let caps = effective(&spec);
    assert!(caps.contains(&Capability::SysPtrace) && !caps.contains(&Capability::NetRaw));

    let bad = HostConfig {
        security_opt: strings(&["apparmor=unconfined"]),
        ..Default::default()
    };
    assert!(fx.build(&config(&["sh"]), &bad).is_err());
    let bad = HostConfig {
        cap_add: strings(&["CAP_NOPE"]),
        ..Default::default()
    };
    assert_eq!(
        fx.build(&config(&["sh"]), &bad).unwrap_err().to_string(),
        "unknown capability: \"CAP_NOPE\""
    );
}

#[test]
fn host_network_and_unsupported_modes() {
    let fx = Fixture::new();
    let host = HostConfig {
        network_mode: "host".into(),
        ..Default::default()
    };
    let spec = fx.build(&config(&["sh"]), &host).unwrap();
    assert!(linux(&spec)
        .namespaces()
        .as_ref()
        .unwrap()
        .iter()
        .all(|n| n.typ() != LinuxNamespaceType::Network));
    let bridge = HostConfig {
        network_mode: "bridge".into(),
        ..Default::default()
    };
    assert_eq!(
        fx.build(&config(&["sh"]), &bridge).unwrap_err().to_string(),
        "network mode bridge is not supported yet"
    );
}

#[test]
fn read_only_init_resources_and_mounts() {
    let fx = Fixture::new();
    let data = fx.file("data");
    std::fs::create_dir(&data).unwrap();
    let host = HostConfig {
        read_only_rootfs: true,
        init: true,
        resources: Some(Resources {
            memory: 64 << 20,
            pids_limit: Some(50),
            ulimits: vec![Ulimit {
                name: "nproc".into(),
                soft: 10,
                hard: 20,
            }],
            ..Default::default()
        }),
        mounts: vec![UserMount {
            r#type: MountType::Bind as i32,
            source: data.to_string_lossy().into_owned(),
            target: "/data".into(),
            read_only: true,
            ..Default::default()
        }],
        ..Default::default()
    };
    let spec = fx.build(&config(&["sh"]), &host).unwrap();
    assert_eq!(spec.root().as_ref().unwrap().readonly(), Some(true));
    assert_eq!(
        spec.annotations()
            .as_ref()
            .unwrap()
            .get(INIT_ANNOTATION)
            .map(String::as_str),
        Some("true")
    );
    let resources = linux(&spec).resources().as_ref().unwrap();
    assert_eq!(resources.memory().as_ref().unwrap().swap(), Some(128 << 20));
    assert_eq!(resources.pids().as_ref().unwrap().limit(), 50);
    assert!(process(&spec)
        .rlimits()
        .as_ref()
        .unwrap()
        .iter()
        .any(|l| l.typ() == PosixRlimitType::RlimitNproc && (l.soft(), l.hard()) == (10, 20)));
    let mount = spec
        .mounts()
        .as_ref()
        .unwrap()
        .iter()
        .find(|m| m.destination() == Path::new("/data"))
        .unwrap();
    assert!(mount.options().as_ref().unwrap().iter().any(|o| o == "ro"));
}

#[test]
fn bad_inputs_are_one_line_errors() {
    let fx = Fixture::new();
    let cases: Vec<(ContainerConfig, HostConfig, &str)> = vec![
        (config(&[]), HostConfig::default(), "no command specified"),
        (
            ContainerConfig {
                working_dir: "rel".into(),
                ..config(&["sh"])
            },
            HostConfig::default(),
            "working directory \"rel\" is not an absolute path",
        ),
        (
            ContainerConfig {
                user: "99999999999".into(),
                ..config(&["sh"])
            },
            HostConfig::default(),
            "invalid user \"99999999999\": user id 99999999999 is out of range (0-2147483647)",
        ),
        (
            config(&["sh"]),
            HostConfig {
                resources: Some(Resources {
                    nano_cpus: -1,
                    ..Default::default()
                }),
                ..Default::default()
            },
            "Range of CPUs is from 0.01 to",
        ),
        (
            config(&["sh"]),
            HostConfig {
                mounts: vec![UserMount {
                    r#type: MountType::Bind as i32,
                    source: "/nonexistent/x".into(),
                    target: "/x".into(),
                    ..Default::default()
                }],
                ..Default::default()
            },
            "invalid mount config: bind source path does not exist: /nonexistent/x",
        ),
        (
            config(&["sh"]),
            HostConfig {
                resources: Some(Resources {
                    ulimits: vec![Ulimit {
                        name: "nofile".into(),
                        soft: 1,
                        hard: -1,
                    }],
                    ..Default::default()
                }),
                ..Default::default()
            },
            "ulimit nofile: hard limit -1 is above the host's hard limit",
        ),
    ];
    for (cfg, host, message) in cases {
        let err = fx.build(&cfg, &host).unwrap_err().to_string();
        assert!(
            err.starts_with(message),
            "{err:?} should start with {message:?}"
        );
        assert!(!err.contains('\n'));
    }
    // Bad input leaves no working directory behind.
    let cfg = ContainerConfig {
        working_dir: "/never".into(),
        ..config(&["sh"])
    };
    let host = HostConfig {
        network_mode: "bridge".into(),
        ..Default::default()
    };
    assert!(fx.build(&cfg, &host).is_err());
    assert!(!fx.rootfs().join("never").exists());
}

fn exec_request(cmd: &[&str]) -> ExecStart {
    ExecStart {
        id: ID.into(),
        cmd: strings(cmd),
        ..Default::default()
    }
}

#[test]
fn exec_inherits_and_overrides() {
    let fx = Fixture::new();
    let cfg = ContainerConfig {
        env: strings(&["A=1", "B=2"]),
        working_dir: "/srv".into(),
        ..config(&["sh"])
    };
    let container = fx.build(&cfg, &HostConfig::default()).unwrap();

    let plain = exec_process(&container, &exec_request(&["ls"]), &fx.rootfs()).unwrap();
    assert_eq!(plain.args().as_deref().unwrap(), ["ls"]);
    assert_eq!(plain.cwd(), Path::new("/srv"));
    assert_eq!(plain.user(), process(&container).user());
    assert_eq!(plain.terminal(), Some(false));
    assert_eq!(plain.capabilities(), process(&container).capabilities());
    assert_eq!(plain.rlimits(), process(&container).rlimits());
    assert_eq!(plain.no_new_privileges(), Some(true));
    assert_eq!(plain.env(), process(&container).env());

    let request = ExecStart {
        env: strings(&["B=3", "C=4"]),
        working_dir: "/tmp".into(),
        user: "app".into(),
        tty: true,
        privileged: true,
        size: Some(TerminalSize {
            width: 80,
            height: 24,
        }),
        ..exec_request(&["id"])
    };
    let p = exec_process(&container, &request, &fx.rootfs()).unwrap();
    let env = p.env().as_deref().unwrap();
    assert_eq!(env_value(env, "A"), Some("1"));
    assert_eq!(env_value(env, "B"), Some("3"));
    assert_eq!(env_value(env, "C"), Some("4"));
    assert_eq!(env_value(env, "TERM"), Some("xterm"));
    assert_eq!(env_value(env, "HOME"), Some("/home/app"));
    assert_eq!(p.cwd(), Path::new("/tmp"));
    assert_eq!((p.user().uid(), p.user().gid()), (1000, 1000));
    assert_eq!(p.terminal(), Some(true));
    let size = p.console_size().unwrap();
    assert_eq!((size.width(), size.height()), (80, 24));
    assert!(p
        .capabilities()
        .as_ref()
        .unwrap()
        .bounding()
        .as_ref()
        .unwrap()
        .contains(&Capability::SysAdmin));
    assert!(p
        .capabilities()
        .as_ref()
        .unwrap()
        .effective()
        .as_ref()
        .unwrap()
        .is_empty());
}

#[test]
fn exec_bad_input() {
    let fx = Fixture::new();
    let container = fx.build(&config(&["sh"]), &HostConfig::default()).unwrap();
    let rootfs = fx.rootfs();
    assert_eq!(
        exec_process(&container, &exec_request(&[]), &rootfs)
            .unwrap_err()
            .to_string(),
        "no command specified"
    );
    let ghost = ExecStart {
        user: "ghost".into(),
        ..exec_request(&["id"])
    };
    assert!(exec_process(&container, &ghost, &rootfs).is_err());
    let relative = ExecStart {
        working_dir: "tmp".into(),
        ..exec_request(&["id"])
    };
    assert!(exec_process(&container, &relative, &rootfs).is_err());
    let bad_env = ExecStart {
        env: strings(&["=x"]),
        ..exec_request(&["id"])
    };
    assert!(exec_process(&container, &bad_env, &rootfs).is_err());
}
