//! `exec`: run a command in a running container.

use super::attach::{check_tty, finish};
use crate::client::Clients;
use crate::error::{start_failure, Failure};
use crate::parse::env::resolve_env;
use crate::session::{self, terminal, SessionEnd, SessionOptions};
use anyhow::Result;
use berth_proto::node::v1::{exec_container_request, ExecContainerRequest, ExecStart};
use clap::Args;
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tonic::Status;

/// `exec [OPTIONS] CONTAINER COMMAND [ARG...]`.
#[derive(Args)]
pub struct ExecArgs {
    /// Detached mode: run command in the background.
    #[arg(short = 'd', long)]
    detach: bool,
    /// Keep STDIN open even if not attached.
    #[arg(short = 'i', long)]
    interactive: bool,
    /// Allocate a pseudo-TTY.
    #[arg(short = 't', long)]
    tty: bool,
    /// Set environment variables.
    #[arg(short = 'e', long = "env", value_name = "ENV")]
    env: Vec<String>,
    /// Working directory inside the container.
    #[arg(short = 'w', long)]
    workdir: Option<String>,
    /// Username or UID (format: <name|uid>[:<group|gid>]).
    #[arg(short = 'u', long)]
    user: Option<String>,
    /// Give extended privileges to the command.
    #[arg(long)]
    privileged: bool,
    /// The container.
    container: String,
    /// The command and its arguments.
    #[arg(required = true, trailing_var_arg = true, allow_hyphen_values = true)]
    command: Vec<String>,
}

/// Runs the command and exits with its code.
pub async fn exec(clients: &Clients, args: ExecArgs) -> Result<i32> {
    let options = SessionOptions {
        tty: args.tty,
        stdin: args.interactive && !args.detach,
    };
    if !args.detach {
        check_tty(options)?;
    }
    if let Some(workdir) = args.workdir.as_deref().filter(|w| !w.starts_with('/')) {
        return Err(Failure::new(format!(
            "the working directory '{workdir}' is invalid, it needs to be an absolute path"
        ))
        .into());
    }
    let start = ExecStart {
        id: args.container.clone(),
        cmd: args.command,
        env: args
            .env
            .iter()
            .filter_map(|item| resolve_env(item, |name| std::env::var(name).ok()))
            .collect(),
        working_dir: args.workdir.unwrap_or_default(),
        user: args.user.unwrap_or_default(),
        tty: args.tty,
        stdin: options.stdin,
        detach: args.detach,
        privileged: args.privileged,
        size: if args.tty { terminal::size() } else { None },
    };
    let (requests, receiver) = mpsc::channel(64);
    // The channel is empty and its receiver alive.
    let _ = requests.try_send(ExecContainerRequest {
        request: Some(exec_container_request::Request::Start(start)),
    });
    // An exec that cannot start fails like `run`: 126/127 when the daemon says so.
    let responses = clients
        .containers()
        .exec_container(ReceiverStream::new(receiver))
        .await
        .map_err(|status| start_failure(&status))?
        .into_inner();
    let end = session::run(requests, responses, options)
        .await
        .map_err(|error| match error.downcast::<Status>() {
            Ok(status) => start_failure(&status).into(),
            Err(error) => error,
        })?;
    match end {
        SessionEnd::Closed if args.detach => Ok(0),
        // The exec's own exit code, not the container's: an exec has no WaitContainer.
        SessionEnd::Closed => {
            Err(Failure::new("the exec stream ended without an exit status").into())
        }
        end => finish(clients, &args.container, end).await,
    }
}
