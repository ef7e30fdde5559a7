//! Attach, exec, events, copy and export through a real berthd.
#![allow(clippy::unwrap_used)]

mod common;

use std::time::Duration;

use berth_proto::node::v1::{
    attach_container_request, attach_container_response, copy_from_container_response,
    exec_container_request, exec_container_response, AttachContainerRequest,
    AttachContainerResponse, AttachStart, ContainerConfig, CopyFromContainerRequest,
    CreateContainerRequest, ExecContainerRequest, ExecStart, ExportContainerRequest,
    StartContainerRequest, StopContainerRequest, StreamContainerStatsRequest,
    SubscribeEventsRequest, TopContainerRequest,
};
use common::TestDaemon;
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;

fn create(name: &str, cmd: &[&str], open_stdin: bool) -> CreateContainerRequest {
    CreateContainerRequest {
        name: name.into(),
        config: Some(ContainerConfig {
            image: "busybox".into(),
            cmd: cmd.iter().map(|s| (*s).to_owned()).collect(),
            open_stdin,
            ..ContainerConfig::default()
        }),
        host_config: None,
    }
}

#[tokio::test]
async fn attach_before_start_sees_all_output_and_feeds_stdin() {
    let daemon = TestDaemon::start();
    daemon.import_busybox().await;
    let mut c = daemon.containers().await;
    c.create_container(create(
        "cat",
        &["sh", "-c", "echo first; cat; exit 4"],
        true,
    ))
    .await
    .unwrap();

    let (tx, rx) = mpsc::channel(8);
    tx.send(AttachContainerRequest {
        request: Some(attach_container_request::Request::Start(AttachStart {
            id: "cat".into(),
            stdin: true,
            stdout: true,
            stderr: true,
            logs: false,
        })),
    })
    .await
    .unwrap();
    let mut attach_client = c.clone();
    let attach = tokio::spawn(async move {
        attach_client
            .attach_container(ReceiverStream::new(rx))
            .await
            .map(tonic::Response::into_inner)
    });
    // Give the attach time to register before the start.
    tokio::time::sleep(Duration::from_millis(300)).await;
    c.start_container(StartContainerRequest { id: "cat".into() })
        .await
        .unwrap_or_else(|e| panic!("{e}\n{}", daemon.log()));
    let mut output = attach.await.unwrap().unwrap();
    let mut text = String::new();
    let mut exit = None;
    let mut stdin_sent = false;
    while let Some(message) = tokio::time::timeout(Duration::from_secs(20), output.message())
        .await
        .unwrap()
        .unwrap()
    {
        match message.response.unwrap() {
            attach_container_response::Response::Output(frame) => {
                text.push_str(&String::from_utf8_lossy(&frame.data));
            }
            attach_container_response::Response::Exit(status) => exit = Some(status.exit_code),
        }
        // Interactive, like a user at a terminal: answer the prompt, then end the input once
        // the echo came back.
        if text == "first\n" && !stdin_sent {
            stdin_sent = true;
            let data = attach_container_request::Request::Stdin(b"from stdin\n".to_vec());
            tx.send(AttachContainerRequest {
                request: Some(data),
            })
            .await
            .unwrap();
        }
        if text.ends_with("from stdin\n") {
            let close = attach_container_request::Request::CloseStdin(true);
            tx.send(AttachContainerRequest {
                request: Some(close),
            })
            .await
            .unwrap();
        }
    }
    assert_eq!(text, "first\nfrom stdin\n");
    assert_eq!(exit, Some(4));
}

#[tokio::test]
async fn exec_top_stats_copy_export_and_events() {
    let daemon = TestDaemon::start();
    daemon.import_busybox().await;
    let mut system = daemon.system().await;
    let since = prost_types::Timestamp::from(std::time::SystemTime::now());
    let mut c = daemon.containers().await;
    c.create_container(create(
        "box",
        &["sh", "-c", "echo data > /marker; exec sleep 1000"],
        false,
    ))
    .await
    .unwrap();
    c.start_container(StartContainerRequest { id: "box".into() })
        .await
        .unwrap();

    let start = ExecContainerRequest {
        request: Some(exec_container_request::Request::Start(ExecStart {
            id: "box".into(),
            cmd: vec!["sh".into(), "-c".into(), "echo in-exec; exit 5".into()],
            ..ExecStart::default()
        })),
    };
    let mut exec = c
        .exec_container(tokio_stream::iter([start]))
        .await
        .unwrap()
        .into_inner();
    let mut text = String::new();
    let mut exit = None;
    while let Some(m) = exec.message().await.unwrap() {
        match m.response.unwrap() {
            exec_container_response::Response::Output(f) => {
                text.push_str(&String::from_utf8_lossy(&f.data))
            }
            exec_container_response::Response::Exit(s) => exit = Some(s.exit_code),
        }
    }
    assert_eq!((text.as_str(), exit), ("in-exec\n", Some(5)));

    let top = c
        .top_container(TopContainerRequest { id: "box".into() })
        .await
        .unwrap()
        .into_inner();
    assert!(
        top.processes
            .iter()
            .any(|p| p.command.contains("sleep 1000")),
        "{top:?}"
    );

    let mut stats = c
        .stream_container_stats(StreamContainerStatsRequest {
            id: "box".into(),
            stream: false,
        })
        .await
        .unwrap()
        .into_inner();
    let sample = stats.message().await.unwrap().unwrap();
    assert_eq!(sample.stats.len(), 1);
    assert!(
        sample.stats[0].memory_limit > 0 && sample.stats[0].pids >= 1,
        "{sample:?}"
    );
    assert!(stats.message().await.unwrap().is_none());

    // Give the shell time to write the marker, then copy it out.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let mut copy = c
        .copy_from_container(CopyFromContainerRequest {
            id: "box".into(),
            path: "/marker".into(),
        })
        .await
        .unwrap()
        .into_inner();
    let mut tar = Vec::new();
    let mut stat = None;
    while let Some(m) = copy.message().await.unwrap() {
        match m.response.unwrap() {
            copy_from_container_response::Response::Stat(s) => stat = Some(s),
            copy_from_container_response::Response::Chunk(data) => tar.extend(data),
        }
    }
    assert_eq!(stat.unwrap().name, "marker");
    assert!(tar.windows(5).any(|w| w == b"data\n"));

    c.stop_container(StopContainerRequest {
        id: "box".into(),
        timeout_seconds: Some(1),
        signal: String::new(),
    })
    .await
    .unwrap();
    // Export of a stopped container mounts its rootfs for the copy only.
    let mut export = c
        .export_container(ExportContainerRequest { id: "box".into() })
        .await
        .unwrap()
        .into_inner();
    let mut size = 0;
    let mut found = false;
    while let Some(m) = export.message().await.unwrap() {
        assert!(m.chunk.len() <= 1024 * 1024);
        found |= m.chunk.windows(6).any(|w| w == b"marker");
        size += m.chunk.len();
    }
    assert!(size > 100_000 && found);
    let mounts = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    assert!(!mounts.contains(&daemon.root().to_string_lossy().into_owned()));

    let until = prost_types::Timestamp::from(std::time::SystemTime::now());
    let mut events = system
        .subscribe_events(SubscribeEventsRequest {
            since: Some(since),
            until: Some(until),
            filters: vec![berth_proto::node::v1::Filter {
                key: "container".into(),
                value: "box".into(),
            }],
        })
        .await
        .unwrap()
        .into_inner();
    let mut actions = Vec::new();
    while let Some(e) = events.message().await.unwrap() {
        actions.push(e.event.unwrap().action);
    }
    for expected in [
        "create",
        "start",
        "exec_create",
        "exec_start",
        "exec_die",
        "kill",
        "die",
        "stop",
    ] {
        assert!(
            actions.iter().any(|a| a == expected),
            "{expected} in {actions:?}"
        );
    }
}

#[tokio::test]
async fn attaching_to_an_exited_container_replays_its_log_or_waits_for_its_start() {
    let daemon = TestDaemon::start();
    daemon.import_busybox().await;
    let mut c = daemon.containers().await;
    c.create_container(create("quick", &["sh", "-c", "echo done; exit 6"], false))
        .await
        .unwrap();
    c.start_container(StartContainerRequest { id: "quick".into() })
        .await
        .unwrap();
    c.wait_container(berth_proto::node::v1::WaitContainerRequest {
        id: "quick".into(),
        condition: 0,
    })
    .await
    .unwrap();
    let attach = |logs: bool| AttachContainerRequest {
        request: Some(attach_container_request::Request::Start(AttachStart {
            id: "quick".into(),
            stdin: false,
            stdout: true,
            stderr: true,
            logs,
        })),
    };
    let replay = c
        .attach_container(tokio_stream::iter([attach(true)]))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(drain(replay).await, ("done\n".to_owned(), Some(6)));

    // Without `logs`, the attach waits for the next start (`start -a`) and sees that run.
    let next_run = c
        .attach_container(tokio_stream::iter([attach(false)]))
        .await
        .unwrap()
        .into_inner();
    c.start_container(StartContainerRequest { id: "quick".into() })
        .await
        .unwrap();
    assert_eq!(drain(next_run).await, ("done\n".to_owned(), Some(6)));
}

/// The text and the exit code of an attach stream.
async fn drain(mut stream: tonic::Streaming<AttachContainerResponse>) -> (String, Option<i32>) {
    let mut text = String::new();
    let mut exit = None;
    while let Some(message) = stream.message().await.unwrap() {
        match message.response.unwrap() {
            attach_container_response::Response::Output(f) => {
                text.push_str(&String::from_utf8_lossy(&f.data));
            }
            attach_container_response::Response::Exit(s) => exit = Some(s.exit_code),
        }
    }
    (text, exit)
}
