//! The shim's memory footprint: an idle shim's resident set stays within 2 MiB (release
//! build; run with `BERTH_TEST_SHIM=target/release/berth-shim` to check it from a debug test).

// Tests may unwrap (project rule); clippy only knows that inside #[test] functions, not in
// the helpers of an integration test crate.
#![allow(clippy::unwrap_used)]

mod common;

use std::time::Duration;

use common::Container;

/// Resident memory of `pid` in KiB, from /proc.
fn vm_rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap()
}

#[tokio::test]
async fn an_idle_shim_stays_small() {
    let c = Container::new("rss", &["sh", "-c", "echo hello; sleep 1000"]);
    let launched = c.launch().await.unwrap();
    let waiter = c.start().await;
    let client = c.client();
    client.stats().await.unwrap();
    client.pids().await.unwrap();
    // Once quiet for half a second, the shim drops the pages only start-up needed.
    tokio::time::sleep(Duration::from_millis(800)).await;
    let rss = vm_rss_kib(launched.shim_pid);
    eprintln!("idle shim VmRSS: {rss} KiB");
    client.signal(9, true).await.unwrap();
    assert_eq!(waiter.await.unwrap().exit_code, 137);
    // A debug binary's relocated data alone is several MiB.
    let release = std::env::var_os("BERTH_TEST_SHIM").is_some() || !cfg!(debug_assertions);
    let limit = if release { 2048 } else { 16 * 1024 };
    assert!(rss <= limit, "shim VmRSS {rss} KiB exceeds {limit} KiB");
}
