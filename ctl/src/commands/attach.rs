//! `attach`, and the attach-then-start flow of `run` and `start -a`.

use super::resolve::get_container;
use crate::client::Clients;
use crate::error::Failure;
use crate::session::{self, terminal, SessionEnd, SessionOptions};
use anyhow::Result;
use berth_proto::node::v1::{
    attach_container_request, AttachContainerRequest, AttachContainerResponse, AttachStart,
    ContainerStatus, KillContainerRequest, WaitCondition, WaitContainerRequest,
};
use clap::{ArgAction, Args};
use tokio::signal::unix::{signal, SignalKind};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Code, Response, Status, Streaming};

/// `attach [OPTIONS] CONTAINER`.
#[derive(Args)]
pub struct AttachArgs {
    /// Do not attach STDIN.
    #[arg(long)]
    no_stdin: bool,
    /// Proxy all received signals to the process (without a TTY).
    #[arg(long, default_value_t = true, action = ArgAction::Set, num_args = 0..=1, require_equals = true, default_missing_value = "true")]
    sig_proxy: bool,
    /// The container.
    container: String,
}

/// Attaches to a running container until it exits or the user detaches.
pub async fn attach(clients: &Clients, args: AttachArgs) -> Result<i32> {
    let container = get_container(clients, &args.container).await?;
    let state = container.state.clone().unwrap_or_default();
    match state.status() {
        ContainerStatus::Running | ContainerStatus::Restarting => {}
        ContainerStatus::Paused => {
            return Err(
                Failure::new("You cannot attach to a paused container, unpause it first").into(),
            )
        }
        _ => {
            return Err(
                Failure::new("You cannot attach to a stopped container, start it first").into(),
            )
        }
    }
    let config = container.config.clone().unwrap_or_default();
    let options = SessionOptions {
        tty: config.tty,
        stdin: config.open_stdin && !args.no_stdin,
    };
    check_tty(options)?;
    let pending = PendingAttach::begin(clients, &container.id, options, false);
    let end = pending.session(clients, args.sig_proxy).await?;
    finish(clients, &container.id, end).await
}

/// `-t` with `-i` needs a terminal on stdin, as in Docker.
pub fn check_tty(options: SessionOptions) -> Result<()> {
    if options.tty && options.stdin && !terminal::stdin_is_terminal() {
        return Err(Failure::new("the input device is not a TTY").into());
    }
    Ok(())
}

/// An attach stream opened before the container starts, so no output is missed.
pub struct PendingAttach {
    id: String,
    options: SessionOptions,
    replay_on_retry: bool,
    requests: mpsc::Sender<AttachContainerRequest>,
    call: JoinHandle<Result<Response<Streaming<AttachContainerResponse>>, Status>>,
}

impl PendingAttach {
    /// Opens the attach stream in the background, before the start: the daemon holds the
    /// start until the stream is attached, so no output is missed. `fresh` says the container
    /// never ran, so that a retry after the start may replay its whole log.
    pub fn begin(
        clients: &Clients,
        id: &str,
        options: SessionOptions,
        fresh: bool,
    ) -> PendingAttach {
        let (requests, call) = open(clients, id, options, false);
        PendingAttach {
            id: id.to_string(),
            options,
            replay_on_retry: fresh,
            requests,
            call,
        }
    }

    /// Gives up the stream (the start failed).
    pub fn abort(self) {
        self.call.abort();
    }

    /// Runs the session. A daemon that cannot attach before the start refuses with
    /// FAILED_PRECONDITION; the stream is then opened again now that the container runs.
    /// With `sig_proxy` and no TTY, the signals berthctl receives go to the container.
    pub async fn session(self, clients: &Clients, sig_proxy: bool) -> Result<SessionEnd> {
        let (requests, responses) = match self.call.await? {
            Ok(response) => (self.requests, response.into_inner()),
            Err(status) if status.code() == Code::FailedPrecondition => {
                let (requests, call) = open(clients, &self.id, self.options, self.replay_on_retry);
                (requests, call.await??.into_inner())
            }
            Err(status) => return Err(status.into()),
        };
        if self.options.tty {
            // Again now that the process exists: a resize sent before the start may be lost.
            if let Some(size) = terminal::size() {
                let _ = requests.send(session::StdioRequest::resize(size)).await;
            }
        }
        let proxy = (sig_proxy && !self.options.tty)
            .then(|| tokio::spawn(proxy_signals(clients.clone(), self.id.clone())));
        let end = session::run(requests, responses, self.options).await;
        if let Some(proxy) = proxy {
            proxy.abort();
        }
        end
    }
}

/// A request stream (start and the initial size already queued) and the call's task.
type OpenAttach = (
    mpsc::Sender<AttachContainerRequest>,
    JoinHandle<Result<Response<Streaming<AttachContainerResponse>>, Status>>,
);

/// Starts an AttachContainer call; `logs` replays the log first.
fn open(clients: &Clients, id: &str, options: SessionOptions, logs: bool) -> OpenAttach {
    let (requests, receiver) = mpsc::channel(64);
    let start = AttachStart {
        id: id.to_string(),
        stdin: options.stdin,
        stdout: true,
        stderr: true,
        logs,
    };
    // The channel is empty and its receiver alive, so these cannot fail.
    let _ = requests.try_send(AttachContainerRequest {
        request: Some(attach_container_request::Request::Start(start)),
    });
    if options.tty {
        if let Some(size) = terminal::size() {
            let _ = requests.try_send(session::StdioRequest::resize(size));
        }
    }
    let mut client = clients.containers();
    let call =
        tokio::spawn(async move { client.attach_container(ReceiverStream::new(receiver)).await });
    (requests, call)
}

/// The signals `run`, `start -a` and `attach` forward, as Docker's sig-proxy does for the
/// usual ones (a TTY session sends Ctrl-C as a byte instead).
const PROXIED_SIGNALS: &[(SignalKind, &str)] = &[
    (SignalKind::interrupt(), "SIGINT"),
    (SignalKind::terminate(), "SIGTERM"),
    (SignalKind::hangup(), "SIGHUP"),
    (SignalKind::quit(), "SIGQUIT"),
    (SignalKind::user_defined1(), "SIGUSR1"),
    (SignalKind::user_defined2(), "SIGUSR2"),
];

/// Forwards each proxied signal to the container until aborted.
async fn proxy_signals(clients: Clients, id: String) {
    let (sender, mut received) = mpsc::channel::<&'static str>(8);
    for (kind, name) in PROXIED_SIGNALS {
        let Ok(mut stream) = signal(*kind) else {
            continue;
        };
        let sender = sender.clone();
        tokio::spawn(async move {
            while stream.recv().await.is_some() {
                if sender.send(name).await.is_err() {
                    return;
                }
            }
        });
    }
    drop(sender);
    while let Some(name) = received.recv().await {
        let request = KillContainerRequest {
            id: id.clone(),
            signal: name.to_string(),
        };
        if let Err(status) = clients.containers().kill_container(request).await {
            eprintln!(
                "Error: forwarding {name}: {}",
                crate::error::status_message(&status)
            );
        }
    }
}

/// The exit code after a session: the process's, 0 after a detach, else what WaitContainer says.
pub async fn finish(clients: &Clients, id: &str, end: SessionEnd) -> Result<i32> {
    match end {
        SessionEnd::Detached => Ok(0),
        SessionEnd::Exited(status) => {
            if !status.error.is_empty() {
                eprintln!("Error: {}", status.error);
            }
            Ok(status.exit_code)
        }
        SessionEnd::Closed => {
            let waited = clients
                .containers()
                .wait_container(WaitContainerRequest {
                    id: id.to_string(),
                    condition: WaitCondition::NotRunning as i32,
                })
                .await?
                .into_inner();
            if !waited.error.is_empty() {
                eprintln!("Error: {}", waited.error);
            }
            Ok(waited.exit_code)
        }
    }
}
