//! `docker inspect`'s view of a container.

use super::{mount_type_name, status_name};
use crate::output::humanize::rfc3339_nano;
use crate::parse::restart::restart_policy_name;
use berth_proto::node::v1::{Container, ContainerStatus, MountType};
use serde::Serialize;
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;

/// A container as `docker inspect` prints it.
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct InspectContainer {
    id: String,
    created: String,
    path: String,
    args: Vec<String>,
    state: State,
    image: String,
    resolv_conf_path: String,
    hostname_path: String,
    hosts_path: String,
    log_path: String,
    name: String,
    restart_count: i32,
    driver: String,
    platform: &'static str,
    host_config: HostConfig,
    mounts: Vec<MountPoint>,
    config: Config,
    network_settings: Value,
    #[serde(skip_serializing_if = "Option::is_none")]
    size_rw: Option<i64>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct State {
    status: &'static str,
    running: bool,
    paused: bool,
    restarting: bool,
    #[serde(rename = "OOMKilled")]
    oom_killed: bool,
    dead: bool,
    pid: i32,
    exit_code: i32,
    error: String,
    started_at: String,
    finished_at: String,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct HostConfig {
    binds: Option<Vec<String>>,
    log_config: Value,
    network_mode: String,
    restart_policy: Value,
    auto_remove: bool,
    cap_add: Option<Vec<String>>,
    cap_drop: Option<Vec<String>>,
    dns: Vec<String>,
    extra_hosts: Option<Vec<String>>,
    privileged: bool,
    readonly_rootfs: bool,
    security_opt: Option<Vec<String>>,
    tmpfs: Option<BTreeMap<String, String>>,
    runtime: String,
    cpu_shares: i64,
    memory: i64,
    nano_cpus: i64,
    cpuset_cpus: String,
    memory_swap: i64,
    pids_limit: Option<i64>,
    ulimits: Vec<Value>,
    init: Option<bool>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct MountPoint {
    r#type: &'static str,
    source: String,
    destination: String,
    mode: &'static str,
    #[serde(rename = "RW")]
    rw: bool,
    propagation: String,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct Config {
    hostname: String,
    domainname: String,
    user: String,
    attach_stdin: bool,
    attach_stdout: bool,
    attach_stderr: bool,
    tty: bool,
    open_stdin: bool,
    stdin_once: bool,
    env: Option<Vec<String>>,
    cmd: Option<Vec<String>>,
    image: String,
    working_dir: String,
    entrypoint: Option<Vec<String>>,
    labels: BTreeMap<String, String>,
    #[serde(skip_serializing_if = "String::is_empty")]
    stop_signal: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    stop_timeout: Option<i32>,
}

fn non_empty(items: &[String]) -> Option<Vec<String>> {
    (!items.is_empty()).then(|| items.to_vec())
}

/// Builds the inspect view of a container.
pub fn inspect(container: &Container) -> InspectContainer {
    let state = container.state.clone().unwrap_or_default();
    let status = state.status();
    let config = container.config.clone().unwrap_or_default();
    let host = container.host_config.clone().unwrap_or_default();
    let resources = host.resources.clone().unwrap_or_default();
    let restart = host.restart_policy.unwrap_or_default();
    let log = host.log_config.clone().unwrap_or_default();
    let network_mode = if host.network_mode.is_empty() {
        "none".to_string()
    } else {
        host.network_mode.clone()
    };
    let binds: Vec<String> = host
        .mounts
        .iter()
        .filter(|m| m.r#type() == MountType::Bind)
        .map(|m| {
            format!(
                "{}:{}{}",
                m.source,
                m.target,
                if m.read_only { ":ro" } else { "" }
            )
        })
        .collect();
    let tmpfs: BTreeMap<String, String> = host
        .mounts
        .iter()
        .filter(|m| m.r#type() == MountType::Tmpfs)
        .map(|m| (m.target.clone(), m.options.join(",")))
        .collect();
    InspectContainer {
        id: container.id.clone(),
        created: rfc3339_nano(container.created.as_ref()),
        path: container.path.clone(),
        args: container.args.clone(),
        state: State {
            status: status_name(status),
            running: matches!(status, ContainerStatus::Running | ContainerStatus::Paused),
            paused: status == ContainerStatus::Paused,
            restarting: status == ContainerStatus::Restarting,
            oom_killed: state.oom_killed,
            dead: status == ContainerStatus::Dead,
            pid: state.pid,
            exit_code: state.exit_code,
            error: state.error.clone(),
            started_at: rfc3339_nano(state.started_at.as_ref()),
            finished_at: rfc3339_nano(state.finished_at.as_ref()),
        },
        image: container.image_id.clone(),
        resolv_conf_path: container.resolv_conf_path.clone(),
        hostname_path: container.hostname_path.clone(),
        hosts_path: container.hosts_path.clone(),
        log_path: container.log_path.clone(),
        name: format!("/{}", container.name),
        restart_count: container.restart_count,
        driver: container.driver.clone(),
        platform: "linux",
        host_config: HostConfig {
            binds: non_empty(&binds),
            log_config: json!({
                "Type": if log.r#type.is_empty() { "json-file" } else { log.r#type.as_str() },
                "Config": log.config,
            }),
            network_mode: network_mode.clone(),
            restart_policy: json!({
                "Name": restart_policy_name(restart.name()),
                "MaximumRetryCount": restart.maximum_retry_count,
            }),
            auto_remove: host.auto_remove,
            cap_add: non_empty(&host.cap_add),
            cap_drop: non_empty(&host.cap_drop),
            dns: host.dns.clone(),
            extra_hosts: non_empty(&host.extra_hosts),
            privileged: host.privileged,
            readonly_rootfs: host.read_only_rootfs,
            security_opt: non_empty(&host.security_opt),
            tmpfs: (!tmpfs.is_empty()).then_some(tmpfs),
            runtime: container.runtime.clone(),
            cpu_shares: resources.cpu_shares,
            memory: resources.memory,
            nano_cpus: resources.nano_cpus,
            cpuset_cpus: resources.cpuset_cpus.clone(),
            memory_swap: resources.memory_swap,
            pids_limit: resources.pids_limit.filter(|limit| *limit != 0),
            ulimits: resources
                .ulimits
                .iter()
                .map(|u| json!({"Name": u.name, "Soft": u.soft, "Hard": u.hard}))
                .collect(),
            init: host.init.then_some(true),
        },
        mounts: container
            .mounts
            .iter()
            .map(|m| MountPoint {
                r#type: mount_type_name(m.r#type()),
                source: m.source.clone(),
                destination: m.destination.clone(),
                mode: if m.rw { "" } else { "ro" },
                rw: m.rw,
                propagation: m.propagation.clone(),
            })
            .collect(),
        config: Config {
            hostname: config.hostname.clone(),
            domainname: config.domainname.clone(),
            user: config.user.clone(),
            attach_stdin: config.open_stdin,
            attach_stdout: true,
            attach_stderr: true,
            tty: config.tty,
            open_stdin: config.open_stdin,
            stdin_once: config.open_stdin,
            env: non_empty(&config.env),
            cmd: non_empty(&config.cmd),
            image: config.image.clone(),
            working_dir: config.working_dir.clone(),
            entrypoint: if config.entrypoint.is_empty() && !config.entrypoint_set {
                None
            } else {
                Some(config.entrypoint.clone())
            },
            labels: config.labels.clone().into_iter().collect(),
            stop_signal: config.stop_signal.clone(),
            stop_timeout: config.stop_timeout,
        },
        network_settings: network_settings(container, &network_mode),
        size_rw: container.size_rw,
    }
}

fn network_settings(container: &Container, mode: &str) -> Value {
    let sandbox_key = container
        .network_settings
        .as_ref()
        .map(|n| n.sandbox_key.clone())
        .unwrap_or_default();
    let mut networks = Map::new();
    networks.insert(
        mode.to_string(),
        json!({"NetworkID": "", "EndpointID": "", "Gateway": "", "IPAddress": "", "IPPrefixLen": 0, "MacAddress": ""}),
    );
    json!({
        "Bridge": "",
        "SandboxKey": sandbox_key,
        "Ports": {},
        "Gateway": "",
        "IPAddress": "",
        "IPPrefixLen": 0,
        "MacAddress": "",
        "Networks": networks,
    })
}

#[cfg(test)]
pub(crate) mod tests_support {
    use super::*;
    use berth_proto::node::v1::{
        ContainerConfig, ContainerState, HostConfig as ProtoHostConfig, Mount,
        MountPoint as ProtoMountPoint, Resources, RestartPolicy, RestartPolicyName,
    };
    use prost_types::Timestamp;

    pub fn sample() -> Container {
        Container {
            id: "bd1849b4d12f5a33929206d04fb581ec01b30d4c91b15ca36cbe4195f48d470a".into(),
            name: "refctr".into(),
            created: Some(Timestamp {
                seconds: 1_795_866_129,
                nanos: 944_093_865,
            }),
            path: "sleep".into(),
            args: vec!["1000".into()],
            image_id: "sha256:3142".into(),
            config: Some(ContainerConfig {
                image: "bb:1".into(),
                hostname: "refhost".into(),
                env: vec!["FOO=bar".into()],
                cmd: vec!["sleep".into(), "1000".into()],
                labels: [("app".to_string(), "demo".to_string())].into(),
                working_dir: "/tmp".into(),
                ..Default::default()
            }),
            host_config: Some(ProtoHostConfig {
                resources: Some(Resources {
                    memory: 64 << 20,
                    nano_cpus: 500_000_000,
                    pids_limit: Some(50),
                    ..Default::default()
                }),
                restart_policy: Some(RestartPolicy {
                    name: RestartPolicyName::OnFailure as i32,
                    maximum_retry_count: 3,
                }),
                mounts: vec![
                    Mount {
                        r#type: MountType::Bind as i32,
                        source: "/srv/data".into(),
                        target: "/data".into(),
                        read_only: true,
                        ..Default::default()
                    },
                    Mount {
                        r#type: MountType::Tmpfs as i32,
                        target: "/scratch".into(),
                        ..Default::default()
                    },
                ],
                ..Default::default()
            }),
            state: Some(ContainerState {
                status: ContainerStatus::Running as i32,
                pid: 25358,
                started_at: Some(Timestamp {
                    seconds: 1_795_866_130,
                    nanos: 135_042_553,
                }),
                ..Default::default()
            }),
            mounts: vec![ProtoMountPoint {
                r#type: MountType::Bind as i32,
                source: "/srv/data".into(),
                destination: "/data".into(),
                rw: false,
                propagation: "rprivate".into(),
            }],
            driver: "overlay2".into(),
            ..Default::default()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::tests_support::sample;
    use super::*;
    use crate::output::template::Template;

    #[test]
    fn docker_field_names() {
        let value = serde_json::to_value(inspect(&sample())).unwrap();
        let field = |template: &str| Template::parse(template).unwrap().render(&value).unwrap();
        assert_eq!(field("{{.Name}}"), "/refctr");
        assert_eq!(field("{{.State.Status}}"), "running");
        assert_eq!(
            field("{{.State.Running}} {{.State.Pid}} {{.State.OOMKilled}}"),
            "true 25358 false"
        );
        assert_eq!(field("{{.Created}}"), "2026-11-28T11:42:09.944093865Z");
        assert_eq!(field("{{.State.FinishedAt}}"), "0001-01-01T00:00:00Z");
        assert_eq!(
            field("{{.Config.Image}} {{.Config.Hostname}} {{.Config.WorkingDir}}"),
            "bb:1 refhost /tmp"
        );
        assert_eq!(
            field("{{json .Config.Entrypoint}} {{json .Config.Cmd}}"),
            r#"null ["sleep","1000"]"#
        );
        assert_eq!(field("{{index .Config.Labels \"app\"}}"), "demo");
        assert_eq!(
            field("{{.HostConfig.Memory}} {{.HostConfig.NanoCpus}} {{.HostConfig.PidsLimit}}"),
            "67108864 500000000 50"
        );
        assert_eq!(field("{{.HostConfig.RestartPolicy.Name}}:{{.HostConfig.RestartPolicy.MaximumRetryCount}}"), "on-failure:3");
        assert_eq!(
            field("{{json .HostConfig.Binds}} {{json .HostConfig.Tmpfs}}"),
            r#"["/srv/data:/data:ro"] {"/scratch":""}"#
        );
        assert_eq!(
            field(
                "{{range .Mounts}}{{.Type}} {{.Source}} {{.Destination}} {{.RW}} {{.Mode}}{{end}}"
            ),
            "bind /srv/data /data false ro"
        );
        assert_eq!(
            field("{{.HostConfig.NetworkMode}} {{.Driver}}"),
            "none overlay2"
        );
    }
}
