//! AttachContainer: the main process's stdio.
//!
//! Attaching to a container that is not running waits for its next start, and the start waits
//! for such attachers to connect before it lets the process run, so `run` without `-d` and
//! `start -a` see all output from the first byte. With `logs`, a stopped container's attach
//! replays its log and ends with its exit status: a client whose attach arrived only after a
//! quick container already exited still gets everything.

use std::{sync::Arc, time::Duration};

use berth_proto::node::v1::{AttachStart, ContainerStatus};
use berth_shim::{
    logs::{LogEntry, LogStream, ReadOptions},
    AttachOptions, IoEvent, IoReceiver, IoSender, ShimError,
};
use tokio::sync::mpsc;

use super::{
    container_event,
    entry::{AttachGuard, Entry},
    lifecycle, logs, status, ContainerManager,
};
use crate::error::{DomainError, DomainResult};

/// How long to wait for the exit status after the shim closed the session.
const EXIT_PATIENCE: Duration = Duration::from_secs(30);

/// An attach session.
pub struct AttachSession {
    /// Log entries to send first, when `logs` was asked.
    pub replay: Option<mpsc::Receiver<DomainResult<LogEntry>>>,
    /// The process's stdin and terminal; `None` for a stopped container's log replay.
    pub input: Option<IoSender>,
    /// What the process writes, then its exit status.
    pub output: AttachOutput,
}

/// The output half of an attach session.
pub struct AttachOutput {
    output: Option<IoReceiver>,
    entry: Arc<Entry>,
    done: bool,
}

impl AttachOutput {
    /// The next output; ends with `Exit`, then `None`.
    pub async fn next(&mut self) -> DomainResult<Option<IoEvent>> {
        if self.done {
            return Ok(None);
        }
        let event = match &mut self.output {
            Some(output) => output.next().await?,
            None => None,
        };
        match event {
            Some(IoEvent::Exit(code)) => {
                self.done = true;
                Ok(Some(IoEvent::Exit(code)))
            }
            Some(event) => Ok(Some(event)),
            None => {
                // The shim closed the session without a status: take it from the record.
                self.done = true;
                lifecycle::wait_inactive(&self.entry, Some(EXIT_PATIENCE)).await;
                let state = self.entry.snapshot().state.unwrap_or_default();
                Ok(Some(IoEvent::Exit(state.exit_code)))
            }
        }
    }
}

/// An attach that passed validation and may still wait for the container's next start.
pub struct PendingAttach {
    manager: Arc<ContainerManager>,
    entry: Arc<Entry>,
    start: AttachStart,
    /// Held while waiting for a launch, so a start waits for this attacher.
    guard: Option<AttachGuard>,
}

impl ContainerManager {
    /// Checks an attach request at once (unknown container, stdin not open, a state that
    /// cannot be attached to). The returned attach connects later, so a gRPC client gets its
    /// response stream before the container starts.
    pub fn begin_attach(self: &Arc<Self>, start: AttachStart) -> DomainResult<PendingAttach> {
        let entry = self.lookup(&start.id)?;
        let config = entry.snapshot().config.unwrap_or_default();
        if start.stdin && !config.open_stdin {
            return Err(DomainError::FailedPrecondition(format!(
                "cannot attach stdin to container {}: it was not created with stdin open (-i)",
                entry.id
            )));
        }
        let guard = match entry.status() {
            ContainerStatus::Created | ContainerStatus::Restarting => Some(entry.register_attach()),
            // Without `logs`, a stopped container's attach waits for its next start (`start -a`).
            ContainerStatus::Exited | ContainerStatus::Dead if !start.logs => {
                Some(entry.register_attach())
            }
            ContainerStatus::Running
            | ContainerStatus::Paused
            | ContainerStatus::Exited
            | ContainerStatus::Dead => None,
            other => {
                return Err(DomainError::FailedPrecondition(format!(
                    "cannot attach to container {}: it is {}",
                    entry.id,
                    other.docker_name()
                )))
            }
        };
        Ok(PendingAttach {
            manager: Arc::clone(self),
            entry,
            start,
            guard,
        })
    }
}

impl PendingAttach {
    /// Connects to the shim (after the container's start, for a created one).
    pub async fn connect(self) -> DomainResult<AttachSession> {
        let PendingAttach {
            manager,
            entry,
            start,
            guard,
        } = self;
        let options = AttachOptions {
            stdin: start.stdin,
            stdout: start.stdout,
            stderr: start.stderr,
        };
        let client = manager.shim(&entry.id);
        let connected = match guard {
            Some(guard) => {
                if !guard.launched().await {
                    return Err(DomainError::NotFound(format!(
                        "No such container: {}",
                        start.id
                    )));
                }
                client.attach(options).await
            }
            None if status::is_active(entry.status()) => client.attach(options).await,
            None => Err(ShimError::NotRunning(entry.id.clone())),
        };
        let (input, output) = match connected {
            Ok((input, output)) => (Some(input), Some(output)),
            // The run ended before the attach: only its log is left.
            Err(ShimError::NotRunning(_)) if start.logs && !status::is_active(entry.status()) => {
                (None, None)
            }
            Err(ShimError::NotRunning(_)) if !status::is_active(entry.status()) => {
                return Err(DomainError::FailedPrecondition(
                    "You cannot attach to a stopped container, start it first".to_owned(),
                ))
            }
            Err(e) => return Err(e.into()),
        };
        let replay = start.logs.then(|| {
            let path = manager.ctx.paths.container(&entry.id).log();
            let (stdout, stderr) = (start.stdout, start.stderr);
            logs::stored_entries(path, ReadOptions::default(), move |e| match e.stream {
                LogStream::Stdout => stdout,
                LogStream::Stderr => stderr,
            })
        });
        let c = entry.snapshot();
        manager
            .ctx
            .events
            .emit(container_event(&c, "attach", &[]))
            .await?;
        Ok(AttachSession {
            replay,
            input,
            output: AttachOutput {
                output,
                entry,
                done: false,
            },
        })
    }
}
