//! Cgroup limits, the OOM killer, live updates, and the `--init` PID 1.

// Tests may unwrap (project rule); clippy only knows that inside #[test] functions, not in
// the helpers of an integration test crate.
#![allow(clippy::unwrap_used)]

mod common;

use std::collections::HashMap;
use std::time::Duration;

use berth_shim::ExecSpec;
use common::{collect, Container};
use oci_spec::runtime::{LinuxMemoryBuilder, LinuxResourcesBuilder};

fn limit_memory(c: &mut Container, bytes: i64) {
    let linux = c.spec.linux_mut().as_mut().unwrap();
    let mut resources = linux.resources().clone().unwrap_or_default();
    resources.set_memory(Some(
        LinuxMemoryBuilder::default()
            .limit(bytes)
            .swap(bytes)
            .build()
            .unwrap(),
    ));
    linux.set_resources(Some(resources));
}

#[tokio::test]
async fn the_oom_killer_is_recorded() {
    // The shell (the main process) reads 64 MiB into a variable.
    let mut c = Container::new(
        "oom",
        &[
            "sh",
            "-c",
            "x=$(head -c 67108864 /dev/zero | tr '\\0' a); echo ${#x}",
        ],
    );
    limit_memory(&mut c, 8 << 20);
    c.launch().await.unwrap();
    let record = c.start().await.await.unwrap();
    assert_eq!(record.exit_code, 137, "{:?}", c.log_text());
    assert!(record.oom_killed);

    let c = Container::new("nooom", &["sleep", "1000"]);
    c.launch().await.unwrap();
    let waiter = c.start().await;
    c.client().signal(9, false).await.unwrap();
    let record = waiter.await.unwrap();
    assert_eq!(record.exit_code, 137);
    assert!(!record.oom_killed, "a plain SIGKILL is no OOM kill");
}

#[tokio::test]
async fn limits_change_on_a_running_container() {
    let c = Container::new("update", &["sleep", "1000"]);
    c.launch().await.unwrap();
    let client = c.client();
    let waiter = c.start().await;
    assert_eq!(client.stats().await.unwrap().memory_limit, 0);
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
    client.signal(9, true).await.unwrap();
    waiter.await.unwrap();
}

#[tokio::test]
async fn the_init_reaps_orphans_and_forwards_signals() {
    let mut c = Container::new(
        "init",
        &[
            "sh",
            "-c",
            "trap 'echo term; exit 5' TERM; echo pid=$$; (sleep 0.1 &); \
             while :; do sleep 0.05; done",
        ],
    );
    c.spec.set_annotations(Some(HashMap::from([(
        berth_runtime::pid1::ANNOTATION.to_owned(),
        "true".to_owned(),
    )])));
    c.launch().await.unwrap();
    let client = c.client();
    let waiter = c.start().await;
    // The orphaned sleep has exited by then; only the init can have reaped it.
    tokio::time::sleep(Duration::from_millis(600)).await;
    let mut process = c.spec.process().clone().unwrap();
    process.set_args(Some(vec!["ps".into(), "-o".into(), "pid,stat,comm".into()]));
    let (_s, mut receiver) = client
        .exec(&ExecSpec {
            process,
            stdin: false,
        })
        .await
        .unwrap();
    let (ps, _, code) = collect(&mut receiver).await;
    assert_eq!(code, Some(0));
    let zombies: Vec<&str> = ps.lines().filter(|l| l.contains(" Z")).collect();
    assert!(zombies.is_empty(), "zombies left:\n{ps}");
    assert!(
        ps.lines()
            .any(|l| l.trim_start().starts_with("2 ") && l.ends_with("sh")),
        "the program should be PID 2 under the init:\n{ps}"
    );
    client.signal(15, false).await.unwrap();
    assert_eq!(waiter.await.unwrap().exit_code, 5);
    assert_eq!(c.log_text().0, "pid=2\nterm\n");
}
