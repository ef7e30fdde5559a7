//! Restart policies, auto-removal, pause/resume, rename and update through a real berthd.
#![allow(clippy::unwrap_used)]

mod common;

use std::time::{Duration, Instant};

use berth_proto::node::v1::{
    container_service_client::ContainerServiceClient, Container, ContainerConfig, ContainerStatus,
    CreateContainerRequest, GetContainerRequest, HostConfig, PauseContainerRequest,
    RenameContainerRequest, Resources, RestartPolicy, RestartPolicyName, ResumeContainerRequest,
    StartContainerRequest, StopContainerRequest, UpdateContainerRequest, WaitCondition,
    WaitContainerRequest,
};
use common::TestDaemon;
use tonic::{transport::Channel, Code};

fn create(name: &str, cmd: &[&str], host: HostConfig) -> CreateContainerRequest {
    CreateContainerRequest {
        name: name.into(),
        config: Some(ContainerConfig {
            image: "busybox".into(),
            cmd: cmd.iter().map(|s| (*s).to_owned()).collect(),
            ..ContainerConfig::default()
        }),
        host_config: Some(host),
    }
}

async fn get(
    c: &mut ContainerServiceClient<Channel>,
    id: &str,
) -> Result<Container, tonic::Status> {
    Ok(c.get_container(GetContainerRequest {
        id: id.into(),
        size: false,
    })
    .await?
    .into_inner()
    .container
    .unwrap())
}

fn status(c: &Container) -> ContainerStatus {
    ContainerStatus::try_from(c.state.as_ref().unwrap().status).unwrap()
}

async fn eventually(what: &str, mut probe: impl AsyncFnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !probe().await {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn on_failure_restarts_up_to_its_limit_and_a_stop_is_remembered() {
    let mut daemon = TestDaemon::start();
    daemon.import_busybox().await;
    let mut c = daemon.containers().await;
    let on_failure = HostConfig {
        restart_policy: Some(RestartPolicy {
            name: RestartPolicyName::OnFailure.into(),
            maximum_retry_count: 2,
        }),
        ..HostConfig::default()
    };
    c.create_container(create("flaky", &["sh", "-c", "exit 9"], on_failure))
        .await
        .unwrap();
    c.start_container(StartContainerRequest { id: "flaky".into() })
        .await
        .unwrap();
    eventually("two restarts", async || {
        let f = get(&mut c, "flaky").await.unwrap();
        f.restart_count == 2 && status(&f) == ContainerStatus::Exited
    })
    .await;
    assert_eq!(
        get(&mut c, "flaky").await.unwrap().state.unwrap().exit_code,
        9
    );

    let always = HostConfig {
        restart_policy: Some(RestartPolicy {
            name: RestartPolicyName::Always.into(),
            maximum_retry_count: 0,
        }),
        ..HostConfig::default()
    };
    c.create_container(create("keeper", &["sleep", "1000"], always.clone()))
        .await
        .unwrap();
    c.start_container(StartContainerRequest {
        id: "keeper".into(),
    })
    .await
    .unwrap();
    c.create_container(create("stopped", &["sleep", "1000"], always))
        .await
        .unwrap();
    c.start_container(StartContainerRequest {
        id: "stopped".into(),
    })
    .await
    .unwrap();
    c.stop_container(StopContainerRequest {
        id: "stopped".into(),
        timeout_seconds: Some(0),
        signal: String::new(),
    })
    .await
    .unwrap();
    assert!(
        get(&mut c, "stopped")
            .await
            .unwrap()
            .state
            .unwrap()
            .stopped_by_user
    );

    // A crash and a kill of the container while the daemon is down: `always` brings it back,
    // the manual stop is remembered.
    let pid = get(&mut c, "keeper").await.unwrap().state.unwrap().pid;
    daemon.kill9();
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(pid),
        nix::sys::signal::Signal::SIGKILL,
    )
    .unwrap();
    tokio::time::sleep(Duration::from_millis(500)).await;
    daemon.restart_after_kill();
    let mut c = daemon.containers().await;
    let keeper = get(&mut c, "keeper").await.unwrap();
    assert_eq!(
        status(&keeper),
        ContainerStatus::Running,
        "{}",
        daemon.log()
    );
    assert_ne!(keeper.state.unwrap().pid, pid);
    assert_eq!(
        status(&get(&mut c, "stopped").await.unwrap()),
        ContainerStatus::Exited
    );
}

#[tokio::test]
async fn auto_remove_pause_rename_and_update() {
    let daemon = TestDaemon::start();
    daemon.import_busybox().await;
    let mut c = daemon.containers().await;

    let rm = HostConfig {
        auto_remove: true,
        ..HostConfig::default()
    };
    let id = c
        .create_container(create("gone", &["true"], rm))
        .await
        .unwrap()
        .into_inner()
        .id;
    c.start_container(StartContainerRequest { id: id.clone() })
        .await
        .unwrap();
    c.wait_container(WaitContainerRequest {
        id: id.clone(),
        condition: WaitCondition::Removed.into(),
    })
    .await
    .unwrap();
    assert_eq!(get(&mut c, &id).await.unwrap_err().code(), Code::NotFound);

    c.create_container(create("sleeper", &["sleep", "1000"], HostConfig::default()))
        .await
        .unwrap();
    c.start_container(StartContainerRequest {
        id: "sleeper".into(),
    })
    .await
    .unwrap();
    c.pause_container(PauseContainerRequest {
        id: "sleeper".into(),
    })
    .await
    .unwrap();
    assert_eq!(
        status(&get(&mut c, "sleeper").await.unwrap()),
        ContainerStatus::Paused
    );
    let again = c
        .pause_container(PauseContainerRequest {
            id: "sleeper".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(again.code(), Code::FailedPrecondition);
    c.resume_container(ResumeContainerRequest {
        id: "sleeper".into(),
    })
    .await
    .unwrap();
    assert_eq!(
        status(&get(&mut c, "sleeper").await.unwrap()),
        ContainerStatus::Running
    );

    c.rename_container(RenameContainerRequest {
        id: "sleeper".into(),
        new_name: "dozer".into(),
    })
    .await
    .unwrap();
    assert_eq!(get(&mut c, "dozer").await.unwrap().name, "dozer");
    assert_eq!(
        get(&mut c, "sleeper").await.unwrap_err().code(),
        Code::NotFound
    );
    let bad = c
        .rename_container(RenameContainerRequest {
            id: "dozer".into(),
            new_name: "a/b".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(bad.code(), Code::InvalidArgument);

    c.update_container(UpdateContainerRequest {
        id: "dozer".into(),
        resources: Some(Resources {
            memory: 64 << 20,
            ..Resources::default()
        }),
        restart_policy: None,
    })
    .await
    .unwrap_or_else(|e| panic!("{e}\n{}", daemon.log()));
    let stored = get(&mut c, "dozer").await.unwrap();
    assert_eq!(
        stored.host_config.unwrap().resources.unwrap().memory,
        64 << 20
    );
    let limit =
        berth_tests::cgroup::memory_limit(&format!("{}/{}", daemon.cgroup_parent(), stored.id))
            .unwrap();
    assert_eq!(limit, Some(64 << 20));
}

#[tokio::test]
async fn prune_removes_stopped_matching_containers_and_disk_usage_counts_them() {
    use berth_proto::node::v1::{Filter, GetDiskUsageRequest, PruneContainersRequest};
    let daemon = TestDaemon::start();
    daemon.import_busybox().await;
    let mut c = daemon.containers().await;
    let labelled = |name: &str, cmd: &[&str], label: &str| {
        let mut req = create(name, cmd, HostConfig::default());
        req.config
            .as_mut()
            .unwrap()
            .labels
            .insert("tier".into(), label.into());
        req
    };
    for (name, cmd, label) in [
        (
            "old",
            &["sh", "-c", "head -c 100000 /dev/zero > /blob"][..],
            "batch",
        ),
        ("keep", &["true"][..], "web"),
        ("live", &["sleep", "1000"][..], "batch"),
    ] {
        c.create_container(labelled(name, cmd, label))
            .await
            .unwrap();
        c.start_container(StartContainerRequest { id: name.into() })
            .await
            .unwrap();
    }
    for name in ["old", "keep"] {
        c.wait_container(WaitContainerRequest {
            id: name.into(),
            condition: WaitCondition::NotRunning.into(),
        })
        .await
        .unwrap();
    }
    let usage = daemon
        .system()
        .await
        .get_disk_usage(GetDiskUsageRequest {})
        .await
        .unwrap()
        .into_inner();
    let old = usage.containers.iter().find(|u| u.name == "old").unwrap();
    assert!(old.size_rw >= 100_000, "{old:?}");
    assert_eq!(usage.images.len(), 1);
    assert_eq!(usage.images[0].containers, 3);

    let pruned = c
        .prune_containers(PruneContainersRequest {
            filters: vec![Filter {
                key: "label".into(),
                value: "tier=batch".into(),
            }],
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(pruned.deleted.len(), 1);
    assert!(pruned.space_reclaimed >= 100_000);
    assert_eq!(get(&mut c, "old").await.unwrap_err().code(), Code::NotFound);
    get(&mut c, "keep").await.unwrap();
    assert_eq!(
        status(&get(&mut c, "live").await.unwrap()),
        ContainerStatus::Running
    );
}
