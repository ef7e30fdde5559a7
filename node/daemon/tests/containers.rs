//! The container lifecycle through the gRPC API of a real berthd, with real shims.
#![allow(clippy::unwrap_used)]

mod common;

use std::time::Duration;

use berth_proto::node::v1::{
    ContainerConfig, ContainerStatus, CreateContainerRequest, GetContainerRequest, HostConfig,
    KillContainerRequest, ListContainersRequest, Mount, MountType, RemoveContainerRequest,
    Resources, StartContainerRequest, StopContainerRequest, StreamContainerLogsRequest,
    WaitCondition, WaitContainerRequest,
};
use common::TestDaemon;
use tonic::Code;

fn config(cmd: &[&str]) -> ContainerConfig {
    ContainerConfig {
        image: "busybox".into(),
        cmd: cmd.iter().map(|s| (*s).to_owned()).collect(),
        ..ContainerConfig::default()
    }
}

fn create_request(name: &str, cmd: &[&str]) -> CreateContainerRequest {
    CreateContainerRequest {
        name: name.into(),
        config: Some(config(cmd)),
        host_config: None,
    }
}

async fn status_of(
    client: &mut berth_proto::node::v1::container_service_client::ContainerServiceClient<
        tonic::transport::Channel,
    >,
    id: &str,
) -> (ContainerStatus, i32) {
    let c = client
        .get_container(GetContainerRequest {
            id: id.into(),
            size: false,
        })
        .await
        .unwrap()
        .into_inner()
        .container
        .unwrap();
    let state = c.state.unwrap();
    (
        ContainerStatus::try_from(state.status).unwrap(),
        state.exit_code,
    )
}

#[tokio::test]
async fn run_to_exit_then_read_logs_and_remove() {
    let daemon = TestDaemon::start();
    daemon.import_busybox().await;
    let mut c = daemon.containers().await;
    let id = c
        .create_container(create_request(
            "hello",
            &["sh", "-c", "echo out; echo err >&2; exit 3"],
        ))
        .await
        .unwrap()
        .into_inner()
        .id;
    assert_eq!(id.len(), 64);
    assert_eq!(status_of(&mut c, "hello").await.0, ContainerStatus::Created);
    c.start_container(StartContainerRequest { id: id[..8].into() })
        .await
        .unwrap_or_else(|e| panic!("{e}\n{}", daemon.log()));
    let waited = c
        .wait_container(WaitContainerRequest {
            id: "hello".into(),
            condition: WaitCondition::NotRunning.into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(waited.exit_code, 3);
    assert_eq!(status_of(&mut c, &id).await, (ContainerStatus::Exited, 3));

    let mut logs = c
        .stream_container_logs(StreamContainerLogsRequest {
            id: id.clone(),
            ..StreamContainerLogsRequest::default()
        })
        .await
        .unwrap()
        .into_inner();
    let mut lines = Vec::new();
    while let Some(entry) = logs.message().await.unwrap() {
        lines.push((entry.stream, String::from_utf8(entry.data).unwrap()));
    }
    assert!(lines.contains(&(2, "out\n".to_owned())), "{lines:?}");
    assert!(lines.contains(&(3, "err\n".to_owned())), "{lines:?}");

    c.remove_container(RemoveContainerRequest {
        id: id.clone(),
        ..RemoveContainerRequest::default()
    })
    .await
    .unwrap();
    let err = c
        .get_container(GetContainerRequest {
            id: id.clone(),
            size: false,
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::NotFound);
    assert!(!daemon.root().join("containers").join(&id).exists());
}

#[tokio::test]
async fn bad_input_gets_precise_codes_and_leaves_no_trace() {
    let daemon = TestDaemon::start();
    daemon.import_busybox().await;
    let mut c = daemon.containers().await;
    let count =
        |root: std::path::PathBuf| std::fs::read_dir(root.join("containers")).unwrap().count();

    let unknown = c
        .create_container(CreateContainerRequest {
            config: Some(ContainerConfig {
                image: "nope".into(),
                ..config(&["true"])
            }),
            ..create_request("", &[])
        })
        .await
        .unwrap_err();
    assert_eq!(unknown.code(), Code::NotFound, "{unknown:?}");

    let slash = c
        .create_container(create_request("a/b", &["true"]))
        .await
        .unwrap_err();
    assert_eq!(slash.code(), Code::InvalidArgument);

    let missing_bind = c
        .create_container(CreateContainerRequest {
            host_config: Some(HostConfig {
                mounts: vec![Mount {
                    r#type: MountType::Bind.into(),
                    source: "/nonexistent/berth-test".into(),
                    target: "/data".into(),
                    ..Mount::default()
                }],
                ..HostConfig::default()
            }),
            ..create_request("bind", &["true"])
        })
        .await
        .unwrap_err();
    assert_eq!(
        missing_bind.code(),
        Code::InvalidArgument,
        "{missing_bind:?}"
    );

    let bad_cpus = c
        .create_container(CreateContainerRequest {
            host_config: Some(HostConfig {
                resources: Some(Resources {
                    nano_cpus: -1,
                    ..Resources::default()
                }),
                ..HostConfig::default()
            }),
            ..create_request("cpus", &["true"])
        })
        .await
        .unwrap_err();
    assert_eq!(bad_cpus.code(), Code::InvalidArgument);
    assert_eq!(count(daemon.root()), 0, "a refused create left a directory");
    let none = c
        .list_containers(ListContainersRequest {
            all: true,
            ..ListContainersRequest::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert!(none.containers.is_empty());

    let id = c
        .create_container(create_request("web", &["sleep", "1000"]))
        .await
        .unwrap()
        .into_inner()
        .id;
    let dup = c
        .create_container(create_request("web", &["true"]))
        .await
        .unwrap_err();
    assert_eq!(dup.code(), Code::AlreadyExists);
    assert!(dup.message().contains(&id), "{}", dup.message());

    c.start_container(StartContainerRequest { id: "web".into() })
        .await
        .unwrap_or_else(|e| panic!("{e}\n{}", daemon.log()));
    let again = c
        .start_container(StartContainerRequest { id: "web".into() })
        .await
        .unwrap_err();
    assert_eq!(again.code(), Code::FailedPrecondition);
    assert!(again.message().contains("already running"));

    let rm = c
        .remove_container(RemoveContainerRequest {
            id: "web".into(),
            ..RemoveContainerRequest::default()
        })
        .await
        .unwrap_err();
    assert_eq!(rm.code(), Code::FailedPrecondition);
    assert!(
        rm.message().contains("container is running"),
        "{}",
        rm.message()
    );

    let signal = c
        .kill_container(KillContainerRequest {
            id: "web".into(),
            signal: "SIGNOPE".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(signal.code(), Code::InvalidArgument);

    c.stop_container(StopContainerRequest {
        id: "web".into(),
        timeout_seconds: Some(1),
        signal: String::new(),
    })
    .await
    .unwrap();
    let (status, code) = status_of(&mut c, "web").await;
    assert_eq!(status, ContainerStatus::Exited);
    assert!(code == 143 || code == 137, "{code}");

    let exec = daemon_exec(&mut c, "web").await.unwrap_err();
    assert_eq!(exec.code(), Code::FailedPrecondition);

    let missing = c
        .create_container(create_request("nocmd", &["/no/such/binary"]))
        .await
        .unwrap()
        .into_inner()
        .id;
    let start = c
        .start_container(StartContainerRequest { id: missing })
        .await
        .unwrap_err();
    let code = start
        .metadata()
        .get("berth-exit-code")
        .map(|v| v.to_str().unwrap().to_owned());
    assert_eq!(code.as_deref(), Some("127"), "{start:?}");

    let not_executable = c
        .create_container(create_request("noexec", &["/etc/passwd"]))
        .await
        .unwrap()
        .into_inner()
        .id;
    let start = c
        .start_container(StartContainerRequest { id: not_executable })
        .await
        .unwrap_err();
    let code = start
        .metadata()
        .get("berth-exit-code")
        .map(|v| v.to_str().unwrap().to_owned());
    assert_eq!(code.as_deref(), Some("126"), "{start:?}");
    let mounts = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    assert!(!mounts.contains(&daemon.root().to_string_lossy().into_owned()));
}

async fn daemon_exec(
    c: &mut berth_proto::node::v1::container_service_client::ContainerServiceClient<
        tonic::transport::Channel,
    >,
    id: &str,
) -> Result<(), tonic::Status> {
    use berth_proto::node::v1::{exec_container_request, ExecContainerRequest, ExecStart};
    let start = ExecContainerRequest {
        request: Some(exec_container_request::Request::Start(ExecStart {
            id: id.into(),
            cmd: vec!["true".into()],
            ..ExecStart::default()
        })),
    };
    c.exec_container(tokio_stream::iter([start]))
        .await
        .map(|_| ())
}

#[tokio::test]
async fn running_containers_survive_a_daemon_crash_and_exits_are_settled() {
    let mut daemon = TestDaemon::start();
    daemon.import_busybox().await;
    let mut c = daemon.containers().await;
    for (name, cmd) in [
        ("long", &["sleep", "1000"][..]),
        ("short", &["sh", "-c", "sleep 2; exit 7"][..]),
    ] {
        c.create_container(create_request(name, cmd)).await.unwrap();
        c.start_container(StartContainerRequest { id: name.into() })
            .await
            .unwrap_or_else(|e| panic!("{e}\n{}", daemon.log()));
    }
    daemon.kill9();
    tokio::time::sleep(Duration::from_secs(3)).await;
    daemon.restart_after_kill();
    let mut c = daemon.containers().await;
    assert_eq!(status_of(&mut c, "long").await.0, ContainerStatus::Running);
    assert_eq!(
        status_of(&mut c, "short").await,
        (ContainerStatus::Exited, 7)
    );
    c.stop_container(StopContainerRequest {
        id: "long".into(),
        timeout_seconds: Some(1),
        signal: String::new(),
    })
    .await
    .unwrap();
    assert_eq!(status_of(&mut c, "long").await.0, ContainerStatus::Exited);
}

#[tokio::test]
async fn logs_follow_until_the_container_stops_and_tail_limits() {
    let daemon = TestDaemon::start();
    daemon.import_busybox().await;
    let mut c = daemon.containers().await;
    c.create_container(create_request(
        "ticker",
        &["sh", "-c", "for i in 1 2 3 4; do echo $i; sleep 0.3; done"],
    ))
    .await
    .unwrap();
    c.start_container(StartContainerRequest {
        id: "ticker".into(),
    })
    .await
    .unwrap();
    let mut follow = c
        .stream_container_logs(StreamContainerLogsRequest {
            id: "ticker".into(),
            follow: true,
            ..StreamContainerLogsRequest::default()
        })
        .await
        .unwrap()
        .into_inner();
    let mut seen = String::new();
    while let Some(entry) = tokio::time::timeout(Duration::from_secs(20), follow.message())
        .await
        .expect("the follow ends when the container stops")
        .unwrap()
    {
        seen.push_str(&String::from_utf8_lossy(&entry.data));
    }
    assert_eq!(seen, "1\n2\n3\n4\n");

    let mut tail = c
        .stream_container_logs(StreamContainerLogsRequest {
            id: "ticker".into(),
            tail: Some(2),
            ..StreamContainerLogsRequest::default()
        })
        .await
        .unwrap()
        .into_inner();
    let mut last = String::new();
    while let Some(entry) = tail.message().await.unwrap() {
        last.push_str(&String::from_utf8_lossy(&entry.data));
    }
    assert_eq!(last, "3\n4\n");
}
