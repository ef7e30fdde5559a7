//! The flags `run` and `create` share, and their translation into a CreateContainerRequest.
//! Every value is checked here, before any RPC.

use crate::parse::{
    cpus::parse_nano_cpus,
    cpuset::parse_cpuset,
    env::{parse_env_file, resolve_env},
    mount::{parse_mount, parse_tmpfs, parse_volume},
    restart::parse_restart_policy,
    signal::parse_signal,
    size::parse_bytes,
    ulimit::parse_ulimit,
};
use berth_proto::node::v1::{
    ContainerConfig, CreateContainerRequest, HostConfig, LogConfig, Resources, RestartPolicyName,
};
use clap::{ArgAction, Args};
use std::collections::HashMap;
use std::net::IpAddr;
use std::path::PathBuf;

/// The flags of `run` and `create`.
#[derive(Args, Debug, Default)]
pub struct ContainerFlags {
    /// Print help.
    #[arg(long, action = ArgAction::Help)]
    help: Option<bool>,

    /// Keep STDIN open even if not attached.
    #[arg(short = 'i', long, help_heading = "Lifecycle")]
    pub interactive: bool,
    /// Allocate a pseudo-TTY.
    #[arg(short = 't', long, help_heading = "Lifecycle")]
    pub tty: bool,
    /// Automatically remove the container when it exits.
    #[arg(long, help_heading = "Lifecycle")]
    pub rm: bool,
    /// Assign a name to the container.
    #[arg(long, help_heading = "Lifecycle")]
    pub name: Option<String>,
    /// Container host name.
    #[arg(short = 'h', long, help_heading = "Lifecycle")]
    pub hostname: Option<String>,
    /// Set meta data on a container (KEY=VALUE or KEY).
    #[arg(
        short = 'l',
        long = "label",
        value_name = "LABEL",
        help_heading = "Lifecycle"
    )]
    pub labels: Vec<String>,
    /// Restart policy: no, on-failure[:max-retries], always, unless-stopped.
    #[arg(long, help_heading = "Lifecycle")]
    pub restart: Option<String>,
    /// Run an init inside the container that forwards signals and reaps processes.
    #[arg(long, help_heading = "Lifecycle")]
    pub init: bool,
    /// Pull image before running: "always", "missing", "never".
    #[arg(long, default_value = "missing", help_heading = "Lifecycle")]
    pub pull: String,

    /// Set environment variables (KEY=VALUE, or KEY to pass the caller's value).
    #[arg(
        short = 'e',
        long = "env",
        value_name = "ENV",
        help_heading = "Process"
    )]
    pub env: Vec<String>,
    /// Read in a file of environment variables.
    #[arg(long = "env-file", value_name = "FILE", help_heading = "Process")]
    pub env_files: Vec<PathBuf>,
    /// Working directory inside the container.
    #[arg(short = 'w', long, help_heading = "Process")]
    pub workdir: Option<String>,
    /// Username or UID (format: <name|uid>[:<group|gid>]).
    #[arg(short = 'u', long, help_heading = "Process")]
    pub user: Option<String>,
    /// Overwrite the default ENTRYPOINT of the image.
    #[arg(long, help_heading = "Process")]
    pub entrypoint: Option<String>,
    /// Signal to stop the container.
    #[arg(long, help_heading = "Process")]
    pub stop_signal: Option<String>,
    /// Timeout (in seconds) to stop a container.
    #[arg(long, allow_negative_numbers = true, help_heading = "Process")]
    pub stop_timeout: Option<i32>,

    /// Memory limit (e.g. 512m, 1g).
    #[arg(short = 'm', long, help_heading = "Resources")]
    pub memory: Option<String>,
    /// Swap limit equal to memory plus swap: '-1' to enable unlimited swap.
    #[arg(long, allow_hyphen_values = true, help_heading = "Resources")]
    pub memory_swap: Option<String>,
    /// Number of CPUs.
    #[arg(long, allow_hyphen_values = true, help_heading = "Resources")]
    pub cpus: Option<String>,
    /// CPU shares (relative weight).
    #[arg(
        short = 'c',
        long,
        allow_negative_numbers = true,
        help_heading = "Resources"
    )]
    pub cpu_shares: Option<i64>,
    /// CPUs in which to allow execution (0-3, 0,1).
    #[arg(long, help_heading = "Resources")]
    pub cpuset_cpus: Option<String>,
    /// Tune container pids limit (set -1 for unlimited).
    #[arg(long, allow_negative_numbers = true, help_heading = "Resources")]
    pub pids_limit: Option<i64>,
    /// Ulimit options (name=soft[:hard]).
    #[arg(long = "ulimit", value_name = "ULIMIT", help_heading = "Resources")]
    pub ulimits: Vec<String>,

    /// Mount the container's root filesystem as read only.
    #[arg(long, help_heading = "Security")]
    pub read_only: bool,
    /// Give extended privileges to this container.
    #[arg(long, help_heading = "Security")]
    pub privileged: bool,
    /// Add Linux capabilities.
    #[arg(long, value_name = "CAP", help_heading = "Security")]
    pub cap_add: Vec<String>,
    /// Drop Linux capabilities.
    #[arg(long, value_name = "CAP", help_heading = "Security")]
    pub cap_drop: Vec<String>,
    /// Security options: no-new-privileges[:true|false], seccomp=unconfined.
    #[arg(long, value_name = "OPT", help_heading = "Security")]
    pub security_opt: Vec<String>,

    /// Bind mount a volume (/host/path:/container/path[:ro]).
    #[arg(
        short = 'v',
        long = "volume",
        value_name = "VOLUME",
        help_heading = "Storage"
    )]
    pub volumes: Vec<String>,
    /// Attach a filesystem mount (type=bind|tmpfs,source=…,target=…,readonly).
    #[arg(long = "mount", value_name = "MOUNT", help_heading = "Storage")]
    pub mounts: Vec<String>,
    /// Mount a tmpfs directory (/path[:options]).
    #[arg(long, value_name = "TMPFS", help_heading = "Storage")]
    pub tmpfs: Vec<String>,

    /// Connect a container to a network: none or host.
    #[arg(long, alias = "net", help_heading = "Networking")]
    pub network: Option<String>,
    /// Add network-scoped alias for the container.
    #[arg(long, value_name = "ALIAS", help_heading = "Networking")]
    pub network_alias: Vec<String>,
    /// Publish a container's port(s) to the host.
    #[arg(short = 'p', long, value_name = "PORT", help_heading = "Networking")]
    pub publish: Vec<String>,
    /// Publish all exposed ports to random ports.
    #[arg(short = 'P', long, help_heading = "Networking")]
    pub publish_all: bool,
    /// Add a custom host-to-IP mapping (host:ip).
    #[arg(long, value_name = "HOST:IP", help_heading = "Networking")]
    pub add_host: Vec<String>,
    /// Set custom DNS servers.
    #[arg(long, value_name = "IP", help_heading = "Networking")]
    pub dns: Vec<String>,

    /// Logging driver for the container (only json-file).
    #[arg(long, help_heading = "Logging")]
    pub log_driver: Option<String>,
    /// Log driver options (max-size=10m, max-file=3).
    #[arg(long, value_name = "OPT", help_heading = "Logging")]
    pub log_opt: Vec<String>,

    /// The image to run.
    pub image: String,
    /// The command and its arguments.
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    pub command: Vec<String>,
}

/// When `run`/`create` may pull the image.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PullPolicy {
    /// Pull only when the image is missing.
    Missing,
    /// Always pull.
    Always,
    /// Never pull.
    Never,
}

impl ContainerFlags {
    /// The `--pull` policy.
    pub fn pull_policy(&self) -> Result<PullPolicy, String> {
        match self.pull.as_str() {
            "missing" => Ok(PullPolicy::Missing),
            "always" => Ok(PullPolicy::Always),
            "never" => Ok(PullPolicy::Never),
            other => Err(format!(
                "invalid pull option: '{other}': must be one of \"always\", \"missing\" or \"never\""
            )),
        }
    }

    /// Builds the request, checking every flag. `lookup` reads the caller's environment;
    /// relative `-v` sources (`./data:/data`) are taken from `cwd`.
    pub fn to_request(
        &self,
        lookup: impl Fn(&str) -> Option<String>,
        cwd: &std::path::Path,
    ) -> Result<CreateContainerRequest, String> {
        self.pull_policy()?;
        self.refuse_unsupported_networking()?;
        let mut env = Vec::new();
        for path in &self.env_files {
            let content = std::fs::read_to_string(path)
                .map_err(|e| format!("open {}: {e}", path.display()))?;
            env.extend(
                parse_env_file(&content, &lookup)
                    .map_err(|e| format!("{}: {e}", path.display()))?,
            );
        }
        env.extend(
            self.env
                .iter()
                .filter_map(|item| resolve_env(item, &lookup)),
        );
        let restart_policy = self
            .restart
            .as_deref()
            .map(parse_restart_policy)
            .transpose()?;
        if self.rm
            && restart_policy
                .as_ref()
                .is_some_and(|p| p.name() != RestartPolicyName::No)
        {
            return Err("Conflicting options: cannot specify both --restart and --rm".into());
        }
        let config = ContainerConfig {
            image: self.image.clone(),
            hostname: self.hostname.clone().unwrap_or_default(),
            user: self.user.clone().unwrap_or_default(),
            env,
            cmd: self.command.clone(),
            entrypoint: self
                .entrypoint
                .iter()
                .filter(|e| !e.is_empty())
                .cloned()
                .collect(),
            entrypoint_set: self.entrypoint.is_some(),
            working_dir: self.workdir.clone().unwrap_or_default(),
            labels: parse_labels(&self.labels),
            stop_signal: self
                .stop_signal
                .as_deref()
                .map(parse_signal)
                .transpose()?
                .unwrap_or_default(),
            stop_timeout: self.stop_timeout,
            tty: self.tty,
            open_stdin: self.interactive,
            ..ContainerConfig::default()
        };
        if let Some(workdir) = &self.workdir {
            if !workdir.starts_with('/') {
                return Err(format!(
                    "the working directory '{workdir}' is invalid, it needs to be an absolute path"
                ));
            }
        }
        let mut mounts = Vec::new();
        for volume in &self.volumes {
            mounts.push(parse_volume(&absolute_source(volume, cwd)?)?);
        }
        for mount in &self.mounts {
            mounts.push(parse_mount(mount)?);
        }
        for tmpfs in &self.tmpfs {
            mounts.push(parse_tmpfs(tmpfs)?);
        }
        let host_config = HostConfig {
            resources: Some(self.resources()?),
            restart_policy,
            auto_remove: self.rm,
            privileged: self.privileged,
            read_only_rootfs: self.read_only,
            cap_add: self
                .cap_add
                .iter()
                .map(|c| normalize_capability(c))
                .collect(),
            cap_drop: self
                .cap_drop
                .iter()
                .map(|c| normalize_capability(c))
                .collect(),
            security_opt: self
                .security_opt
                .iter()
                .map(|o| parse_security_opt(o))
                .collect::<Result<_, _>>()?,
            network_mode: self.network.clone().unwrap_or_default(),
            mounts,
            init: self.init,
            log_config: self.log_config()?,
            extra_hosts: self
                .add_host
                .iter()
                .map(|h| parse_extra_host(h))
                .collect::<Result<_, _>>()?,
            dns: self
                .dns
                .iter()
                .map(|d| {
                    d.parse::<IpAddr>()
                        .map(|ip| ip.to_string())
                        .map_err(|_| format!("{d} is not an ip address"))
                })
                .collect::<Result<_, _>>()?,
        };
        Ok(CreateContainerRequest {
            name: self.name.clone().unwrap_or_default(),
            config: Some(config),
            host_config: Some(host_config),
        })
    }

    fn refuse_unsupported_networking(&self) -> Result<(), String> {
        let unsupported = |flag: &str| {
            Err(format!(
                "{flag} is not supported yet: networking beyond none and host arrives later"
            ))
        };
        if !self.publish.is_empty() {
            return unsupported("-p/--publish");
        }
        if self.publish_all {
            return unsupported("-P/--publish-all");
        }
        if !self.network_alias.is_empty() {
            return unsupported("--network-alias");
        }
        Ok(())
    }

    fn resources(&self) -> Result<Resources, String> {
        let memory = self
            .memory
            .as_deref()
            .map(|m| {
                parse_bytes(m)
                    .map_err(|e| format!("invalid argument \"{m}\" for \"-m, --memory\" flag: {e}"))
            })
            .transpose()?
            .unwrap_or(0);
        let memory_swap = match self.memory_swap.as_deref() {
            None => 0,
            Some("-1") => -1,
            Some(swap) => parse_bytes(swap).map_err(|e| {
                format!("invalid argument \"{swap}\" for \"--memory-swap\" flag: {e}")
            })?,
        };
        if memory_swap != 0 && memory == 0 {
            return Err(
                "You should always set the Memory limit when using Memoryswap limit".into(),
            );
        }
        if memory_swap > 0 && memory_swap < memory {
            return Err("Minimum memoryswap limit should be larger than memory limit".into());
        }
        let nano_cpus = self
            .cpus
            .as_deref()
            .map(parse_nano_cpus)
            .transpose()?
            .unwrap_or(0);
        if let Some(shares) = self.cpu_shares {
            if shares < 0 {
                return Err(format!("invalid argument \"{shares}\" for \"-c, --cpu-shares\" flag: must not be negative"));
            }
        }
        let cpuset_cpus = self
            .cpuset_cpus
            .as_deref()
            .map(parse_cpuset)
            .transpose()?
            .unwrap_or_default();
        let ulimits = self
            .ulimits
            .iter()
            .map(|u| parse_ulimit(u))
            .collect::<Result<_, _>>()?;
        Ok(Resources {
            memory,
            memory_swap,
            nano_cpus,
            cpu_shares: self.cpu_shares.unwrap_or(0),
            cpuset_cpus,
            pids_limit: self.pids_limit,
            ulimits,
        })
    }

    fn log_config(&self) -> Result<Option<LogConfig>, String> {
        if let Some(driver) = self.log_driver.as_deref().filter(|d| *d != "json-file") {
            return Err(format!(
                "logging driver '{driver}' is not supported: only json-file exists"
            ));
        }
        if self.log_opt.is_empty() && self.log_driver.is_none() {
            return Ok(None);
        }
        let mut config = HashMap::new();
        for option in &self.log_opt {
            let (key, value) = option
                .split_once('=')
                .ok_or_else(|| format!("invalid log opt '{option}': expected key=value"))?;
            match key {
                "max-size" => {
                    parse_bytes(value).map_err(|e| format!("invalid log opt max-size: {e}"))?;
                }
                "max-file" => {
                    value
                        .parse::<u32>()
                        .ok()
                        .filter(|n| *n > 0)
                        .ok_or_else(|| {
                            format!(
                                "invalid log opt max-file '{value}': must be a positive integer"
                            )
                        })?;
                }
                _ => return Err(format!("unknown log opt '{key}' for json-file log driver")),
            }
            config.insert(key.to_string(), value.to_string());
        }
        Ok(Some(LogConfig {
            r#type: "json-file".into(),
            config,
        }))
    }
}

/// `-v ./data:/data` binds `$PWD/data`, as Docker's CLI does for sources starting with `.`.
fn absolute_source(spec: &str, cwd: &std::path::Path) -> Result<String, String> {
    if !spec.starts_with('.') {
        return Ok(spec.to_string());
    }
    let (source, rest) = spec.split_once(':').unwrap_or((spec, ""));
    if source != "." && source != ".." && !source.starts_with("./") && !source.starts_with("../") {
        return Ok(spec.to_string());
    }
    let joined = cwd.join(source);
    let absolute = joined
        .to_str()
        .ok_or_else(|| format!("invalid volume specification: '{spec}'"))?;
    Ok(if spec.contains(':') {
        format!("{absolute}:{rest}")
    } else {
        absolute.to_string()
    })
}

fn parse_labels(labels: &[String]) -> HashMap<String, String> {
    labels
        .iter()
        .map(|label| match label.split_once('=') {
            Some((key, value)) => (key.to_string(), value.to_string()),
            None => (label.clone(), String::new()),
        })
        .collect()
}

/// `net_admin`, `CAP_NET_ADMIN` and `NET_ADMIN` all mean `NET_ADMIN`.
fn normalize_capability(capability: &str) -> String {
    let upper = capability.to_ascii_uppercase();
    upper.strip_prefix("CAP_").unwrap_or(&upper).to_string()
}

/// `no-new-privileges[:|=true|false]` and `seccomp=unconfined`.
fn parse_security_opt(option: &str) -> Result<String, String> {
    let (key, value) = option
        .split_once(['=', ':'])
        .map_or((option, None), |(k, v)| (k, Some(v)));
    match (key, value) {
        ("no-new-privileges", None | Some("true")) => Ok("no-new-privileges:true".into()),
        ("no-new-privileges", Some("false")) => Ok("no-new-privileges:false".into()),
        ("seccomp", Some("unconfined")) => Ok("seccomp=unconfined".into()),
        ("seccomp", Some(_)) => {
            Err("custom seccomp profiles are not supported yet: only seccomp=unconfined".into())
        }
        _ => Err(format!("invalid --security-opt: {option}")),
    }
}

/// `host:ip` (or Docker's `host=ip`); `host-gateway` needs the bridge and is refused for now.
fn parse_extra_host(entry: &str) -> Result<String, String> {
    let (host, ip) = entry
        .split_once('=')
        .or_else(|| entry.split_once(':'))
        .ok_or_else(|| {
            format!("invalid argument \"{entry}\" for \"--add-host\" flag: expected host:ip")
        })?;
    if host.is_empty() || ip.parse::<IpAddr>().is_err() {
        return Err(format!(
            "invalid argument \"{entry}\" for \"--add-host\" flag: invalid IP address {ip}"
        ));
    }
    Ok(format!("{host}:{ip}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use berth_proto::node::v1::MountType;
    use clap::Parser;
    use proptest::prelude::*;

    #[derive(Parser)]
    #[command(disable_help_flag = true)]
    struct Harness {
        #[command(flatten)]
        flags: ContainerFlags,
    }

    fn flags(args: &[&str]) -> ContainerFlags {
        Harness::try_parse_from(std::iter::once("run").chain(args.iter().copied()))
            .unwrap()
            .flags
    }

    fn request(args: &[&str]) -> Result<CreateContainerRequest, String> {
        flags(args).to_request(
            |name| (name == "HOME").then(|| "/root".into()),
            std::path::Path::new("/work"),
        )
    }

    #[test]
    fn full_translation() {
        let r = request(&[
            "-it",
            "--rm",
            "--name",
            "web",
            "-h",
            "box",
            "-l",
            "a=1",
            "-l",
            "b",
            "--init",
            "-e",
            "X=1",
            "-e",
            "HOME",
            "-e",
            "UNSET",
            "-w",
            "/srv",
            "-u",
            "1000:1000",
            "--entrypoint",
            "/bin/sh",
            "--stop-signal",
            "HUP",
            "--stop-timeout",
            "3",
            "-m",
            "512m",
            "--memory-swap",
            "1g",
            "--cpus",
            "1.5",
            "--cpu-shares",
            "512",
            "--cpuset-cpus",
            "0-1",
            "--pids-limit",
            "50",
            "--ulimit",
            "nofile=1024:2048",
            "--read-only",
            "--cap-add",
            "net_admin",
            "--cap-drop",
            "CAP_CHOWN",
            "--security-opt",
            "no-new-privileges",
            "-v",
            "/srv:/data:ro",
            "--tmpfs",
            "/run:size=1m",
            "--mount",
            "type=tmpfs,target=/t",
            "--network",
            "host",
            "--add-host",
            "db:10.0.0.2",
            "--dns",
            "1.1.1.1",
            "--log-opt",
            "max-size=1m",
            "--log-opt",
            "max-file=2",
            "busybox",
            "sh",
            "-c",
            "echo hi",
        ])
        .unwrap();
        assert_eq!(r.name, "web");
        let config = r.config.unwrap();
        assert_eq!(config.image, "busybox");
        assert_eq!(config.cmd, ["sh", "-c", "echo hi"]);
        assert_eq!(config.env, ["X=1", "HOME=/root"]);
        assert_eq!((config.tty, config.open_stdin), (true, true));
        assert_eq!(config.entrypoint, ["/bin/sh"]);
        assert!(config.entrypoint_set);
        assert_eq!(config.stop_signal, "SIGHUP");
        assert_eq!(config.stop_timeout, Some(3));
        assert_eq!(config.labels.get("b").map(String::as_str), Some(""));
        assert_eq!(
            (
                config.hostname.as_str(),
                config.user.as_str(),
                config.working_dir.as_str()
            ),
            ("box", "1000:1000", "/srv")
        );
        let host = r.host_config.unwrap();
        let res = host.resources.clone().unwrap();
        assert_eq!(
            (res.memory, res.memory_swap, res.nano_cpus, res.cpu_shares),
            (512 << 20, 1 << 30, 1_500_000_000, 512)
        );
        assert_eq!(
            (res.cpuset_cpus.as_str(), res.pids_limit),
            ("0-1", Some(50))
        );
        assert_eq!(res.ulimits[0].hard, 2048);
        assert!(host.auto_remove && host.read_only_rootfs && host.init && !host.privileged);
        assert_eq!(host.cap_add, ["NET_ADMIN"]);
        assert_eq!(host.cap_drop, ["CHOWN"]);
        assert_eq!(host.security_opt, ["no-new-privileges:true"]);
        assert_eq!(host.network_mode, "host");
        assert_eq!(
            host.mounts.iter().map(|m| m.r#type()).collect::<Vec<_>>(),
            [MountType::Bind, MountType::Tmpfs, MountType::Tmpfs]
        );
        assert_eq!(host.extra_hosts, ["db:10.0.0.2"]);
        assert_eq!(host.dns, ["1.1.1.1"]);
        let log = host.log_config.unwrap();
        assert_eq!(log.config.get("max-file").map(String::as_str), Some("2"));
    }

    #[test]
    fn command_after_image_keeps_its_flags() {
        let f = flags(&["busybox", "ls", "-la", "--rm"]);
        assert_eq!(f.command, ["ls", "-la", "--rm"]);
        assert!(!f.rm);
    }

    #[test]
    fn relative_bind_sources_use_the_working_directory() {
        let host = request(&["-v", "./data:/data:ro", "-v", "../up:/up", "b"])
            .unwrap()
            .host_config
            .unwrap();
        assert_eq!(host.mounts[0].source, "/work/./data");
        assert!(host.mounts[0].read_only);
        assert_eq!(host.mounts[1].source, "/work/../up");
        assert_eq!(
            absolute_source(".hidden:/x", std::path::Path::new("/w")).unwrap(),
            ".hidden:/x"
        );
    }

    #[test]
    fn empty_entrypoint_overrides() {
        let config = request(&["--entrypoint", "", "busybox"])
            .unwrap()
            .config
            .unwrap();
        assert!(config.entrypoint.is_empty() && config.entrypoint_set);
        let config = request(&["busybox"]).unwrap().config.unwrap();
        assert!(!config.entrypoint_set);
    }

    #[test]
    fn bad_values_are_refused() {
        let cases: &[(&[&str], &str)] = &[
            (
                &["-m", "12x", "b"],
                "invalid argument \"12x\" for \"-m, --memory\" flag: invalid size: '12x'",
            ),
            (
                &["--cpus", "0", "b"],
                "invalid argument \"0\" for \"--cpus\" flag",
            ),
            (
                &["--memory-swap", "1g", "b"],
                "You should always set the Memory limit",
            ),
            (
                &["-m", "1g", "--memory-swap", "512m", "b"],
                "Minimum memoryswap",
            ),
            (&["--restart", "always", "--rm", "b"], "Conflicting options"),
            (&["--restart", "sometimes", "b"], "invalid restart policy"),
            (&["--stop-signal", "FOO", "b"], "invalid signal: FOO"),
            (&["--ulimit", "nofile=10:5", "b"], "ulimit soft limit"),
            (&["-v", "data:/data", "b"], "volumes are not supported yet"),
            (&["-p", "80:80", "b"], "-p/--publish is not supported yet"),
            (&["-P", "b"], "-P/--publish-all is not supported yet"),
            (
                &["--network-alias", "x", "b"],
                "--network-alias is not supported yet",
            ),
            (&["--add-host", "db:nope", "b"], "invalid IP address"),
            (&["--dns", "x", "b"], "x is not an ip address"),
            (&["--pull", "sometimes", "b"], "invalid pull option"),
            (&["--log-opt", "colour=red", "b"], "unknown log opt"),
            (
                &["--log-driver", "syslog", "b"],
                "logging driver 'syslog' is not supported",
            ),
            (
                &["--security-opt", "apparmor=x", "b"],
                "invalid --security-opt",
            ),
            (&["-w", "rel", "b"], "needs to be an absolute path"),
            (
                &["--cpuset-cpus", "3-1", "b"],
                "invalid value 3-1 for cpuset cpus",
            ),
            (&["--cpu-shares", "-1", "b"], "must not be negative"),
        ];
        for (args, expected) in cases {
            let error = request(args).unwrap_err();
            assert!(error.contains(expected), "{args:?}: {error}");
        }
    }

    #[test]
    fn env_file_is_read() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("env");
        std::fs::write(&path, "# c\nA=1\nHOME\n").unwrap();
        let path = path.to_str().unwrap();
        let config = request(&["--env-file", path, "-e", "B=2", "b"])
            .unwrap()
            .config
            .unwrap();
        assert_eq!(config.env, ["A=1", "HOME=/root", "B=2"]);
        assert!(request(&["--env-file", "/nonexistent/env", "b"])
            .unwrap_err()
            .contains("/nonexistent/env"));
    }

    proptest! {
        #[test]
        fn extra_hosts_never_panic(text in "\\PC{0,30}") {
            let _ = parse_extra_host(&text);
            let _ = parse_security_opt(&text);
        }

        #[test]
        fn memory_round_trips(megabytes in 6i64..100_000) {
            let arg = format!("{megabytes}m");
            let r = request(&["-m", &arg, "b"]).unwrap();
            prop_assert_eq!(r.host_config.unwrap().resources.unwrap().memory, megabytes << 20);
        }
    }
}
