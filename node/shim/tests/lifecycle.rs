//! Launch, start, wait, signals and the log, through a real shim on a busybox container.

// Tests may unwrap (project rule); clippy only knows that inside #[test] functions, not in
// the helpers of an integration test crate.
#![allow(clippy::unwrap_used)]

mod common;

use std::time::Duration;

use berth_shim::logs::{self, ReadOptions};
use berth_shim::{ExitRecord, ShimError, ShimStatus};
use common::{wait_for_log, Container};

#[tokio::test]
async fn exit_code_and_output_reach_the_record_and_the_log() {
    let c = Container::new("exit", &["sh", "-c", "echo out; echo err >&2; exit 3"]);
    let launched = c.launch().await.unwrap();
    let client = c.client();
    let info = client.info().await.unwrap();
    assert_eq!(info.status, ShimStatus::Created);
    assert_eq!(info.container_pid, launched.container_pid);
    assert_eq!(info.shim_pid, launched.shim_pid);
    let waiter = tokio::spawn({
        let client = client.clone();
        async move { client.wait().await.unwrap() }
    });
    tokio::task::yield_now().await;
    assert_eq!(client.start().await.unwrap(), launched.container_pid);
    let record = waiter.await.unwrap();
    assert_eq!(record.exit_code, 3);
    assert!(!record.oom_killed);
    assert!(record.started_at.unwrap() <= record.finished_at);
    assert_eq!(c.log_text(), ("out\n".into(), "err\n".into()));
    c.assert_cleaned_up().await;
    assert_eq!(ExitRecord::read(&c.config.exit_file).unwrap(), Some(record));
    assert!(matches!(client.info().await, Err(ShimError::NotRunning(_))));
}

#[tokio::test]
async fn signals_reach_the_main_process_and_every_process() {
    let c = Container::new(
        "signal",
        &[
            "sh",
            "-c",
            "trap 'exit 42' TERM; echo ready; while :; do sleep 0.05; done",
        ],
    );
    c.launch().await.unwrap();
    let client = c.client();
    let waiter = c.start().await;
    wait_for_log(&c, "ready").await;
    client.signal(15, false).await.unwrap();
    assert_eq!(waiter.await.unwrap().exit_code, 42);
    c.assert_cleaned_up().await;

    let c = Container::new("kill", &["sleep", "1000"]);
    c.launch().await.unwrap();
    let client = c.client();
    let waiter = c.start().await;
    assert!(matches!(
        client.signal(999, false).await,
        Err(ShimError::InvalidArgument(_))
    ));
    client.signal(9, true).await.unwrap();
    assert_eq!(waiter.await.unwrap().exit_code, 137);
}

#[tokio::test]
async fn the_log_rotates_by_size() {
    let mut c = Container::new(
        "rotate",
        &[
            "sh",
            "-c",
            "i=0; while [ $i -lt 3000 ]; do echo line $i; i=$((i+1)); done",
        ],
    );
    c.config.log.max_size = 8 * 1024;
    c.config.log.max_files = 3;
    c.launch().await.unwrap();
    let waiter = c.start().await;
    assert_eq!(waiter.await.unwrap().exit_code, 0);
    let path = &c.config.log.path;
    let rotated = |n: u32| std::path::PathBuf::from(format!("{}.{n}", path.display()));
    assert!(rotated(2).exists(), "no second rotated file");
    assert!(!rotated(3).exists(), "more files than max_files");
    for file in [path.clone(), rotated(1), rotated(2)] {
        assert!(std::fs::metadata(&file).unwrap().len() <= 8 * 1024);
    }
    let entries = logs::read(path, &ReadOptions::default()).unwrap();
    assert_eq!(entries.last().unwrap().data, b"line 2999\n");
    let tail = logs::read(
        path,
        &ReadOptions {
            tail: Some(2),
            ..ReadOptions::default()
        },
    )
    .unwrap();
    assert_eq!(tail[0].data, b"line 2998\n");
}

#[tokio::test]
async fn a_failed_create_reports_the_runtime_error_and_leaves_nothing() {
    let c = Container::new("fail", &["/no/such/program"]);
    let err = c.launch().await.unwrap_err();
    assert!(
        err.to_string().contains("/no/such/program"),
        "unexpected error: {err}"
    );
    assert!(!c.config.socket.exists());
    assert!(!c.config.runtime_root.join(&c.config.id).exists());
    let cgroup = format!("/sys/fs/cgroup/memory/berth-shim-tests/{}", c.config.id);
    assert!(!std::path::Path::new(&cgroup).exists(), "cgroup left");
}

#[tokio::test]
async fn pause_resume_pids_and_stats() {
    let c = Container::new("ctl", &["sh", "-c", "sleep 1000 & wait"]);
    let launched = c.launch().await.unwrap();
    let client = c.client();
    let waiter = c.start().await;
    let mut pids = Vec::new();
    for _ in 0..100 {
        pids = client.pids().await.unwrap();
        if pids.len() == 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(pids.len(), 2, "{pids:?}");
    assert!(pids.contains(&(launched.container_pid as i32)));
    let stats = client.stats().await.unwrap();
    assert_eq!(stats.pids, 2);
    assert!(stats.cpu_usage_ns > 0);
    assert!(stats.memory_usage > 0);
    client.pause().await.unwrap();
    assert_eq!(client.info().await.unwrap().status, ShimStatus::Paused);
    client.resume().await.unwrap();
    assert!(matches!(
        client.resume().await,
        Err(ShimError::InvalidArgument(_))
    ));
    client.signal(9, true).await.unwrap();
    assert_eq!(waiter.await.unwrap().exit_code, 137);
}
