//! The same shim driving an external runc-compatible runtime through its command line.

// Tests may unwrap (project rule); clippy only knows that inside #[test] functions, not in
// the helpers of an integration test crate.
#![allow(clippy::unwrap_used)]

mod common;

use berth_shim::{AttachOptions, ExecSpec, ShimStatus, WinSize};
use common::{collect, read_until, Container};
use oci_spec::runtime::{LinuxMemoryBuilder, LinuxResourcesBuilder};

#[tokio::test]
async fn runc_runs_the_lifecycle() {
    let c = Container::new("runc", &["sh", "-c", "echo out; echo err >&2; sleep 1000"]).with_runc();
    let launched = c.launch().await.unwrap();
    let client = c.client();
    let waiter = c.start().await;
    assert_eq!(client.info().await.unwrap().status, ShimStatus::Running);

    let mut process = c.spec.process().clone().unwrap();
    process.set_args(Some(vec![
        "sh".into(),
        "-c".into(),
        "echo exec; exit 3".into(),
    ]));
    let (_s, mut receiver) = client
        .exec(&ExecSpec {
            process: process.clone(),
            stdin: false,
        })
        .await
        .unwrap();
    assert_eq!(
        collect(&mut receiver).await,
        ("exec\n".into(), String::new(), Some(3))
    );

    process.set_args(Some(vec![
        "sh".into(),
        "-c".into(),
        "read x; stty size".into(),
    ]));
    process.set_terminal(Some(true));
    let (mut sender, mut receiver) = client
        .exec(&ExecSpec {
            process,
            stdin: true,
        })
        .await
        .unwrap();
    sender
        .resize(WinSize {
            width: 80,
            height: 24,
        })
        .await
        .unwrap();
    sender.stdin(b"\r").await.unwrap();
    let (out, _, code) = collect(&mut receiver).await;
    assert!(out.contains("24 80"), "{out:?}");
    assert_eq!(code, Some(0), "{out:?}");

    let pids = client.pids().await.unwrap();
    assert!(pids.contains(&(launched.container_pid as i32)), "{pids:?}");
    let resources = LinuxResourcesBuilder::default()
        .memory(
            LinuxMemoryBuilder::default()
                .limit(64i64 << 20)
                .build()
                .unwrap(),
        )
        .build()
        .unwrap();
    client.update(&resources).await.unwrap();
    assert_eq!(client.stats().await.unwrap().memory_limit, 64 << 20);
    client.pause().await.unwrap();
    client.resume().await.unwrap();

    client.signal(9, false).await.unwrap();
    let record = waiter.await.unwrap();
    assert_eq!(record.exit_code, 137);
    assert_eq!(c.log_text(), ("out\n".into(), "err\n".into()));
    c.assert_cleaned_up().await;
}

#[tokio::test]
async fn runc_with_a_terminal_and_its_errors() {
    let mut c = Container::new("runctty", &["sh", "-c", "read x; echo got $x"])
        .with_runc()
        .with_tty();
    c.config.open_stdin = true;
    c.launch().await.unwrap();
    let (mut sender, mut receiver) = c
        .client()
        .attach(AttachOptions {
            stdin: true,
            stdout: true,
            stderr: true,
        })
        .await
        .unwrap();
    let waiter = c.start().await;
    sender.stdin(b"hi\r").await.unwrap();
    read_until(&mut receiver, "got hi").await;
    assert_eq!(waiter.await.unwrap().exit_code, 0);

    let c = Container::new("runcbad", &["/no/such/program"]).with_runc();
    let err = c.launch().await.unwrap_err();
    assert!(err.to_string().contains("/no/such/program"), "{err}");
    assert!(!c.config.socket.exists());
}
