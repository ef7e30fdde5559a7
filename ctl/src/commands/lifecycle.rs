//! start, stop, kill, restart, pause, unpause, rm, rename, wait and update.

use super::attach::{check_tty, finish, PendingAttach};
use super::resolve::{for_each, get_container};
use crate::client::Clients;
use crate::error::{start_failure, Failure};
use crate::parse::{
    cpus::parse_nano_cpus, cpuset::parse_cpuset, restart::parse_restart_policy,
    signal::parse_signal, size::parse_bytes,
};
use crate::session::SessionOptions;
use anyhow::Result;
use berth_proto::node::v1::{
    KillContainerRequest, PauseContainerRequest, RemoveContainerRequest, RenameContainerRequest,
    Resources, RestartContainerRequest, ResumeContainerRequest, StartContainerRequest,
    StopContainerRequest, UpdateContainerRequest, WaitCondition, WaitContainerRequest,
};
use clap::Args;

/// `start [OPTIONS] CONTAINER [CONTAINER...]`.
#[derive(Args)]
pub struct StartArgs {
    /// Attach STDOUT/STDERR and forward signals.
    #[arg(short = 'a', long)]
    attach: bool,
    /// Attach container's STDIN.
    #[arg(short = 'i', long)]
    interactive: bool,
    /// The containers.
    #[arg(required = true)]
    containers: Vec<String>,
}

/// Starts containers; with `-a` attaches to the one container and exits with its code.
pub async fn start(clients: &Clients, args: StartArgs) -> Result<i32> {
    if !(args.attach || args.interactive) {
        return for_each(&args.containers, true, |id| async move {
            clients
                .containers()
                .start_container(StartContainerRequest { id })
                .await
                .map(drop)
        })
        .await;
    }
    let [reference] = args.containers.as_slice() else {
        return Err(Failure::new("you cannot start and attach multiple containers at once").into());
    };
    let container = get_container(clients, reference).await?;
    let config = container.config.clone().unwrap_or_default();
    let options = SessionOptions {
        tty: config.tty,
        stdin: args.interactive && config.open_stdin,
    };
    check_tty(options)?;
    let pending = PendingAttach::begin(clients, &container.id, options, false);
    let started = clients
        .containers()
        .start_container(StartContainerRequest {
            id: container.id.clone(),
        })
        .await;
    if let Err(status) = started {
        pending.abort();
        return Err(start_failure(&status).into());
    }
    let end = pending.session(clients, true).await?;
    finish(clients, &container.id, end).await
}

/// `stop [OPTIONS] CONTAINER [CONTAINER...]`.
#[derive(Args)]
pub struct StopArgs {
    /// Seconds to wait before killing the container.
    #[arg(
        short = 't',
        long = "time",
        alias = "timeout",
        allow_negative_numbers = true
    )]
    time: Option<i32>,
    /// Signal to send to the container.
    #[arg(short = 's', long)]
    signal: Option<String>,
    /// The containers.
    #[arg(required = true)]
    containers: Vec<String>,
}

/// Stops containers.
pub async fn stop(clients: &Clients, args: StopArgs) -> Result<i32> {
    let signal = args
        .signal
        .as_deref()
        .map(parse_signal)
        .transpose()
        .map_err(Failure::new)?
        .unwrap_or_default();
    for_each(&args.containers, true, |id| {
        let signal = signal.clone();
        async move {
            clients
                .containers()
                .stop_container(StopContainerRequest {
                    id,
                    timeout_seconds: args.time,
                    signal,
                })
                .await
                .map(drop)
        }
    })
    .await
}

/// `kill [OPTIONS] CONTAINER [CONTAINER...]`.
#[derive(Args)]
pub struct KillArgs {
    /// Signal to send to the container.
    #[arg(short = 's', long, default_value = "KILL")]
    signal: String,
    /// The containers.
    #[arg(required = true)]
    containers: Vec<String>,
}

/// Sends a signal to containers.
pub async fn kill(clients: &Clients, args: KillArgs) -> Result<i32> {
    let signal = parse_signal(&args.signal).map_err(Failure::new)?;
    for_each(&args.containers, true, |id| {
        let signal = signal.clone();
        async move {
            clients
                .containers()
                .kill_container(KillContainerRequest { id, signal })
                .await
                .map(drop)
        }
    })
    .await
}

/// `restart [OPTIONS] CONTAINER [CONTAINER...]`.
#[derive(Args)]
pub struct RestartArgs {
    /// Seconds to wait before killing the container.
    #[arg(
        short = 't',
        long = "time",
        alias = "timeout",
        allow_negative_numbers = true
    )]
    time: Option<i32>,
    /// The containers.
    #[arg(required = true)]
    containers: Vec<String>,
}

/// Restarts containers.
pub async fn restart(clients: &Clients, args: RestartArgs) -> Result<i32> {
    for_each(&args.containers, true, |id| async move {
        clients
            .containers()
            .restart_container(RestartContainerRequest {
                id,
                timeout_seconds: args.time,
            })
            .await
            .map(drop)
    })
    .await
}

/// `pause CONTAINER [CONTAINER...]` and `unpause CONTAINER [CONTAINER...]`.
#[derive(Args)]
pub struct ContainersArgs {
    /// The containers.
    #[arg(required = true)]
    containers: Vec<String>,
}

/// Freezes containers.
pub async fn pause(clients: &Clients, args: ContainersArgs) -> Result<i32> {
    for_each(&args.containers, true, |id| async move {
        clients
            .containers()
            .pause_container(PauseContainerRequest { id })
            .await
            .map(drop)
    })
    .await
}

/// Thaws containers.
pub async fn unpause(clients: &Clients, args: ContainersArgs) -> Result<i32> {
    for_each(&args.containers, true, |id| async move {
        clients
            .containers()
            .resume_container(ResumeContainerRequest { id })
            .await
            .map(drop)
    })
    .await
}

/// `rm [OPTIONS] CONTAINER [CONTAINER...]`.
#[derive(Args)]
pub struct RmArgs {
    /// Force the removal of a running container (uses SIGKILL).
    #[arg(short = 'f', long)]
    force: bool,
    /// Remove anonymous volumes associated with the container.
    #[arg(short = 'v', long)]
    volumes: bool,
    /// The containers.
    #[arg(required = true)]
    containers: Vec<String>,
}

/// Removes containers.
pub async fn rm(clients: &Clients, args: RmArgs) -> Result<i32> {
    for_each(&args.containers, true, |id| async move {
        clients
            .containers()
            .remove_container(RemoveContainerRequest {
                id,
                force: args.force,
                remove_volumes: args.volumes,
            })
            .await
            .map(drop)
    })
    .await
}

/// `rename CONTAINER NEW_NAME`.
#[derive(Args)]
pub struct RenameArgs {
    /// The container.
    container: String,
    /// Its new name.
    new_name: String,
}

/// Renames a container.
pub async fn rename(clients: &Clients, args: RenameArgs) -> Result<i32> {
    clients
        .containers()
        .rename_container(RenameContainerRequest {
            id: args.container,
            new_name: args.new_name,
        })
        .await?;
    Ok(0)
}

/// `wait CONTAINER [CONTAINER...]`.
#[derive(Args)]
pub struct WaitArgs {
    /// The containers.
    #[arg(required = true)]
    containers: Vec<String>,
}

/// Waits for containers to stop and prints their exit codes.
pub async fn wait(clients: &Clients, args: WaitArgs) -> Result<i32> {
    for_each(&args.containers, false, |id| async move {
        let response = clients
            .containers()
            .wait_container(WaitContainerRequest {
                id,
                condition: WaitCondition::NotRunning as i32,
            })
            .await?
            .into_inner();
        println!("{}", response.exit_code);
        Ok(())
    })
    .await
}

/// `update [OPTIONS] CONTAINER [CONTAINER...]`.
#[derive(Args)]
pub struct UpdateArgs {
    /// Memory limit.
    #[arg(short = 'm', long)]
    memory: Option<String>,
    /// Swap limit equal to memory plus swap: -1 to enable unlimited swap.
    #[arg(long, allow_hyphen_values = true)]
    memory_swap: Option<String>,
    /// Number of CPUs.
    #[arg(long)]
    cpus: Option<String>,
    /// CPU shares (relative weight).
    #[arg(short = 'c', long)]
    cpu_shares: Option<i64>,
    /// CPUs in which to allow execution (0-3, 0,1).
    #[arg(long)]
    cpuset_cpus: Option<String>,
    /// Tune container pids limit (set -1 for unlimited).
    #[arg(long, allow_negative_numbers = true)]
    pids_limit: Option<i64>,
    /// Restart policy to apply when a container exits.
    #[arg(long)]
    restart: Option<String>,
    /// The containers.
    #[arg(required = true)]
    containers: Vec<String>,
}

impl UpdateArgs {
    fn resources(&self) -> Result<Resources, String> {
        let size = |flag: &str, value: &Option<String>| -> Result<i64, String> {
            match value.as_deref() {
                None => Ok(0),
                Some("-1") if flag == "--memory-swap" => Ok(-1),
                Some(text) => parse_bytes(text)
                    .map_err(|e| format!("invalid argument \"{text}\" for \"{flag}\" flag: {e}")),
            }
        };
        Ok(Resources {
            memory: size("-m, --memory", &self.memory)?,
            memory_swap: size("--memory-swap", &self.memory_swap)?,
            nano_cpus: self
                .cpus
                .as_deref()
                .map(parse_nano_cpus)
                .transpose()?
                .unwrap_or(0),
            cpu_shares: self.cpu_shares.unwrap_or(0),
            cpuset_cpus: self
                .cpuset_cpus
                .as_deref()
                .map(parse_cpuset)
                .transpose()?
                .unwrap_or_default(),
            pids_limit: self.pids_limit,
            ulimits: Vec::new(),
        })
    }
}

/// Changes resource limits or the restart policy.
pub async fn update(clients: &Clients, args: UpdateArgs) -> Result<i32> {
    let resources = args.resources().map_err(Failure::new)?;
    let restart_policy = args
        .restart
        .as_deref()
        .map(parse_restart_policy)
        .transpose()
        .map_err(Failure::new)?;
    for_each(&args.containers, true, |id| {
        let request = UpdateContainerRequest {
            id,
            resources: Some(resources.clone()),
            restart_policy,
        };
        async move {
            let response = clients
                .containers()
                .update_container(request)
                .await?
                .into_inner();
            for warning in response.warnings {
                eprintln!("WARNING: {warning}");
            }
            Ok(())
        }
    })
    .await
}
