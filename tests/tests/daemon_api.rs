//! The gRPC API driven directly, as programs in other languages drive it: health, reflection,
//! status codes, streams, pagination, and clients that vanish mid-stream.

// Tests may unwrap (project rule); clippy only knows that inside #[test] functions, not in
// the helpers of an integration test crate.
#![allow(clippy::unwrap_used)]

use berth_proto::node::v1::{
    attach_container_request, container_service_client::ContainerServiceClient,
    image_service_client::ImageServiceClient, system_service_client::SystemServiceClient,
    AttachContainerRequest, AttachStart, ContainerConfig, CreateContainerRequest,
    GetContainerRequest, GetImageRequest, HostConfig, KillContainerRequest, ListContainersRequest,
    RemoveContainerRequest, StartContainerRequest, StreamContainerLogsRequest,
    SubscribeEventsRequest, WaitContainerRequest,
};
use berth_proto::transport::connect_unix;
use berth_tests::daemon::BUSYBOX;
use berth_tests::Daemon;
use tokio_stream::StreamExt;
use tonic::transport::Channel;
use tonic::Code;

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

async fn channel(d: &Daemon) -> Channel {
    connect_unix(d.socket()).await.unwrap()
}

fn create_request(name: &str, cmd: &[&str]) -> CreateContainerRequest {
    CreateContainerRequest {
        name: name.into(),
        config: Some(ContainerConfig {
            image: BUSYBOX.into(),
            cmd: cmd.iter().map(|s| (*s).to_owned()).collect(),
            ..Default::default()
        }),
        host_config: Some(HostConfig::default()),
    }
}

#[test]
fn health_and_reflection_v1_and_v1alpha() {
    let d = Daemon::start().unwrap();
    runtime().block_on(async {
        let ch = channel(&d).await;
        let mut health = tonic_health::pb::health_client::HealthClient::new(ch.clone());
        let reply = health
            .check(tonic_health::pb::HealthCheckRequest {
                service: String::new(),
            })
            .await
            .unwrap()
            .into_inner();
        assert_eq!(
            reply.status(),
            tonic_health::pb::health_check_response::ServingStatus::Serving
        );
        let reply = health
            .check(tonic_health::pb::HealthCheckRequest {
                service: "berth.node.v1.ContainerService".into(),
            })
            .await
            .unwrap()
            .into_inner();
        assert_eq!(
            reply.status(),
            tonic_health::pb::health_check_response::ServingStatus::Serving
        );

        use tonic_reflection::pb::v1::{
            server_reflection_client::ServerReflectionClient,
            server_reflection_request::MessageRequest, server_reflection_response::MessageResponse,
            ServerReflectionRequest,
        };
        let mut reflection = ServerReflectionClient::new(ch.clone());
        let request = ServerReflectionRequest {
            host: String::new(),
            message_request: Some(MessageRequest::ListServices(String::new())),
        };
        let mut replies = reflection
            .server_reflection_info(tokio_stream::once(request))
            .await
            .unwrap()
            .into_inner();
        let reply = replies.next().await.unwrap().unwrap();
        let Some(MessageResponse::ListServicesResponse(list)) = reply.message_response else {
            panic!("unexpected reflection reply");
        };
        let names: Vec<String> = list.service.into_iter().map(|s| s.name).collect();
        for service in [
            "berth.node.v1.ContainerService",
            "berth.node.v1.ImageService",
            "berth.node.v1.SystemService",
        ] {
            assert!(names.iter().any(|n| n == service), "{names:?}");
        }

        use tonic_reflection::pb::v1alpha::{
            server_reflection_client::ServerReflectionClient as AlphaClient,
            server_reflection_request::MessageRequest as AlphaRequest,
            server_reflection_response::MessageResponse as AlphaResponse,
            ServerReflectionRequest as AlphaReflectionRequest,
        };
        let mut alpha = AlphaClient::new(ch);
        let request = AlphaReflectionRequest {
            host: String::new(),
            message_request: Some(AlphaRequest::FileContainingSymbol(
                "berth.node.v1.ContainerService".into(),
            )),
        };
        let mut replies = alpha
            .server_reflection_info(tokio_stream::once(request))
            .await
            .unwrap()
            .into_inner();
        let reply = replies.next().await.unwrap().unwrap();
        assert!(matches!(
            reply.message_response,
            Some(AlphaResponse::FileDescriptorResponse(_))
        ));
    });
}

#[test]
fn status_codes_are_precise() {
    let d = Daemon::with_busybox().unwrap();
    runtime().block_on(async {
        let ch = channel(&d).await;
        let mut containers = ContainerServiceClient::new(ch.clone());
        let mut images = ImageServiceClient::new(ch);
        let missing = containers
            .get_container(GetContainerRequest {
                id: "nope".into(),
                size: false,
            })
            .await
            .unwrap_err();
        assert_eq!(missing.code(), Code::NotFound);
        assert!(missing.message().contains("nope"), "{missing:?}");
        let missing_image = images
            .get_image(GetImageRequest {
                reference: "ghost:1".into(),
            })
            .await
            .unwrap_err();
        assert_eq!(missing_image.code(), Code::NotFound);

        let id = containers
            .create_container(create_request("api", &["sleep", "1000"]))
            .await
            .unwrap()
            .into_inner()
            .id;
        let dup = containers
            .create_container(create_request("api", &["true"]))
            .await
            .unwrap_err();
        assert_eq!(dup.code(), Code::AlreadyExists);
        let bad_name = containers
            .create_container(create_request("a/b", &["true"]))
            .await
            .unwrap_err();
        assert_eq!(bad_name.code(), Code::InvalidArgument);

        containers
            .start_container(StartContainerRequest { id: id.clone() })
            .await
            .unwrap();
        let again = containers
            .start_container(StartContainerRequest { id: id.clone() })
            .await
            .unwrap_err();
        assert_eq!(again.code(), Code::FailedPrecondition);
        let busy = containers
            .remove_container(RemoveContainerRequest {
                id: id.clone(),
                force: false,
                remove_volumes: false,
            })
            .await
            .unwrap_err();
        assert_eq!(busy.code(), Code::FailedPrecondition);
        let bad_signal = containers
            .kill_container(KillContainerRequest {
                id: id.clone(),
                signal: "SIGNOPE".into(),
            })
            .await
            .unwrap_err();
        assert_eq!(bad_signal.code(), Code::InvalidArgument);
        containers
            .remove_container(RemoveContainerRequest {
                id,
                force: true,
                remove_volumes: false,
            })
            .await
            .unwrap();
    });
}

#[test]
fn list_is_paginated() {
    let d = Daemon::with_busybox().unwrap();
    runtime().block_on(async {
        let mut containers = ContainerServiceClient::new(channel(&d).await);
        for i in 0..5 {
            containers
                .create_container(create_request(&format!("page{i}"), &["true"]))
                .await
                .unwrap();
        }
        let mut seen = Vec::new();
        let mut token = String::new();
        loop {
            let page = containers
                .list_containers(ListContainersRequest {
                    all: true,
                    page_size: 2,
                    page_token: token.clone(),
                    ..Default::default()
                })
                .await
                .unwrap()
                .into_inner();
            assert!(page.containers.len() <= 2);
            seen.extend(page.containers.into_iter().map(|c| c.name));
            if page.next_page_token.is_empty() {
                break;
            }
            token = page.next_page_token;
        }
        assert_eq!(
            seen,
            ["page4", "page3", "page2", "page1", "page0"],
            "newest first"
        );
    });
}

#[test]
fn attach_and_logs_streams_and_wait() {
    let d = Daemon::with_busybox().unwrap();
    runtime().block_on(async {
        let mut containers = ContainerServiceClient::new(channel(&d).await);
        let id = containers
            .create_container(create_request(
                "streams",
                &["sh", "-c", "echo out; echo err >&2; exit 6"],
            ))
            .await
            .unwrap()
            .into_inner()
            .id;
        let start = AttachContainerRequest {
            request: Some(attach_container_request::Request::Start(AttachStart {
                id: id.clone(),
                stdin: false,
                stdout: true,
                stderr: true,
                logs: false,
            })),
        };
        let mut attach = containers
            .attach_container(tokio_stream::once(start))
            .await
            .unwrap()
            .into_inner();
        containers
            .start_container(StartContainerRequest { id: id.clone() })
            .await
            .unwrap();
        let (mut stdout, mut stderr, mut code) = (Vec::new(), Vec::new(), None);
        while let Some(msg) = attach.next().await {
            use berth_proto::node::v1::{attach_container_response::Response, Stream};
            match msg.unwrap().response {
                Some(Response::Output(frame)) if frame.stream() == Stream::Stdout => {
                    stdout.extend(frame.data)
                }
                Some(Response::Output(frame)) => stderr.extend(frame.data),
                Some(Response::Exit(exit)) => code = Some(exit.exit_code),
                None => {}
            }
        }
        assert_eq!(stdout, b"out\n");
        assert_eq!(stderr, b"err\n");
        assert_eq!(code, Some(6));
        let waited = containers
            .wait_container(WaitContainerRequest {
                id: id.clone(),
                condition: 0,
            })
            .await
            .unwrap()
            .into_inner();
        assert_eq!(waited.exit_code, 6);
        let mut logs = containers
            .stream_container_logs(StreamContainerLogsRequest {
                id,
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner();
        let mut entries = Vec::new();
        while let Some(entry) = logs.next().await {
            let entry = entry.unwrap();
            assert!(entry.time.is_some());
            entries.push((entry.stream, entry.data));
        }
        assert_eq!(entries.len(), 2, "{entries:?}");
    });
}

#[test]
fn clients_that_vanish_mid_stream_cost_nothing() {
    let d = Daemon::with_busybox().unwrap();
    d.ok(&[
        "run",
        "-d",
        "--name",
        "chatty",
        BUSYBOX,
        "sh",
        "-c",
        "while true; do echo spam; done",
    ]);
    let rss_before = rss_kib(d.pid().unwrap());
    runtime().block_on(async {
        for _ in 0..20 {
            let mut containers = ContainerServiceClient::new(channel(&d).await);
            let mut logs = containers
                .stream_container_logs(StreamContainerLogsRequest {
                    id: "chatty".into(),
                    follow: true,
                    ..Default::default()
                })
                .await
                .unwrap()
                .into_inner();
            let _ = logs.next().await;
            let mut events = SystemServiceClient::new(channel(&d).await)
                .subscribe_events(SubscribeEventsRequest::default())
                .await
                .unwrap()
                .into_inner();
            drop(logs);
            let _ = tokio::time::timeout(std::time::Duration::from_millis(10), events.next()).await;
        }
    });
    std::thread::sleep(std::time::Duration::from_secs(2));
    let rss_after = rss_kib(d.pid().unwrap());
    // The daemon still answers, and did not keep the abandoned streams' buffers.
    d.ok(&["ps"]);
    assert!(
        rss_after < rss_before + 32 * 1024,
        "RSS grew from {rss_before} to {rss_after} KiB"
    );
    d.ok(&["rm", "-f", "chatty"]);
}

fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap()
}
