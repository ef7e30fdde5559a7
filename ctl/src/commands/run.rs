//! `run`: create, attach, start, stream, and exit with the container's code.

use super::attach::{check_tty, finish, PendingAttach};
use super::container_flags::ContainerFlags;
use super::create::create_container;
use crate::client::Clients;
use crate::error::start_failure;
use crate::session::{SessionEnd, SessionOptions};
use anyhow::Result;
use berth_proto::node::v1::{
    RemoveContainerRequest, StartContainerRequest, WaitCondition, WaitContainerRequest,
};
use clap::{ArgAction, Args};
use tonic::Code;

/// `run [OPTIONS] IMAGE [COMMAND] [ARG...]`.
#[derive(Args)]
pub struct RunArgs {
    /// Run container in background and print container ID.
    #[arg(short = 'd', long, help_heading = "Lifecycle")]
    detach: bool,
    /// Proxy received signals to the process (without a TTY).
    #[arg(long, default_value_t = true, action = ArgAction::Set, num_args = 0..=1, require_equals = true, default_missing_value = "true", help_heading = "Lifecycle")]
    sig_proxy: bool,
    #[command(flatten)]
    flags: ContainerFlags,
}

/// Runs a container; returns the container's exit code (125/126/127 when it could not run).
pub async fn run(clients: &Clients, args: RunArgs) -> Result<i32> {
    let flags = &args.flags;
    let options = SessionOptions {
        tty: flags.tty,
        stdin: flags.interactive,
    };
    if !args.detach {
        check_tty(options)?;
    }
    let id = create_container(clients, flags).await?;
    if args.detach {
        start(clients, &id, flags.rm).await?;
        println!("{id}");
        return Ok(0);
    }
    let pending = PendingAttach::begin(clients, &id, options, true);
    if let Err(error) = start(clients, &id, flags.rm).await {
        pending.abort();
        return Err(error);
    }
    let end = pending.session(clients, args.sig_proxy).await?;
    let detached = matches!(end, SessionEnd::Detached);
    let code = finish(clients, &id, end).await?;
    if flags.rm && !detached {
        // Like Docker's CLI: when `run --rm` returns, the container is gone.
        let removed = WaitContainerRequest {
            id,
            condition: WaitCondition::Removed as i32,
        };
        match clients.containers().wait_container(removed).await {
            Err(status) if status.code() != Code::NotFound => return Err(status.into()),
            _ => {}
        }
    }
    Ok(code)
}

/// Starts the container; a failure carries the daemon's 126/127 and removes an `--rm` container.
async fn start(clients: &Clients, id: &str, auto_remove: bool) -> Result<()> {
    let result = clients
        .containers()
        .start_container(StartContainerRequest { id: id.to_string() })
        .await;
    let Err(status) = result else { return Ok(()) };
    if auto_remove {
        // Best effort: the start error is what the user needs to see.
        let _ = clients
            .containers()
            .remove_container(RemoveContainerRequest {
                id: id.to_string(),
                force: true,
                remove_volumes: true,
            })
            .await;
    }
    Err(start_failure(&status).into())
}
