//! The shim is detached from whoever launched it: it outlives its launcher (as containers
//! outlive a killed berthd), and it is nobody's child but init's.

// Tests may unwrap (project rule); clippy only knows that inside #[test] functions, not in
// the helpers of an integration test crate.
#![allow(clippy::unwrap_used)]

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use berth_shim::{launch, ShimConfig, ShimStatus};
use common::{shim_binary, wait_for_log, Container};

const HELPER_ENV: &str = "BERTH_SHIM_TEST_LAUNCHER_CONFIG";

/// Run by `the_shim_survives_its_launcher` in a child process: launches a shim, says so,
/// and waits to be killed.
#[tokio::test]
#[ignore = "helper process of the_shim_survives_its_launcher"]
async fn launcher_helper() {
    let Some(path) = std::env::var_os(HELPER_ENV) else {
        return;
    };
    let config: ShimConfig = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
    let launched = launch(&shim_binary(), &config).await.unwrap();
    println!("launched {}", launched.shim_pid);
    tokio::time::sleep(std::time::Duration::from_secs(3600)).await;
}

fn status_field(pid: u32, field: &str) -> String {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap()
        .lines()
        .find_map(|l| l.strip_prefix(field).map(|v| v.trim().to_owned()))
        .unwrap()
}

#[tokio::test]
async fn the_shim_survives_its_launcher() {
    let c = Container::new("survive", &["sh", "-c", "echo alive; sleep 1000"]);
    c.write_spec();
    let config_path = c.dir.path().join("launcher-config.json");
    std::fs::write(&config_path, serde_json::to_vec(&c.config).unwrap()).unwrap();
    let mut launcher = Command::new(std::env::current_exe().unwrap())
        .args(["--ignored", "--exact", "launcher_helper", "--nocapture"])
        .env(HELPER_ENV, &config_path)
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(launcher.stdout.take().unwrap()).lines();
    let shim_pid: u32 = loop {
        let line = lines
            .next()
            .expect("the launcher died before launching")
            .unwrap();
        if let Some(pid) = line.strip_prefix("launched ") {
            break pid.parse().unwrap();
        }
    };
    launcher.kill().unwrap();
    launcher.wait().unwrap();

    // Not the launcher's child, and in a session of its own.
    assert_ne!(status_field(shim_pid, "PPid:"), launcher.id().to_string());
    let stat = std::fs::read_to_string(format!("/proc/{shim_pid}/stat")).unwrap();
    let after_comm = &stat[stat.rfind(')').unwrap() + 2..];
    let session: u32 = after_comm.split(' ').nth(3).unwrap().parse().unwrap();
    assert_eq!(session, shim_pid, "the shim should lead its own session");

    let client = c.client();
    assert_eq!(client.info().await.unwrap().status, ShimStatus::Created);
    let waiter = c.start().await;
    wait_for_log(&c, "alive").await;
    client.signal(9, true).await.unwrap();
    assert_eq!(waiter.await.unwrap().exit_code, 137);
    assert_eq!(c.log_text().0, "alive\n");
    c.assert_cleaned_up().await;
}
