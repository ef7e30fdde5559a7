//! AttachContainer: the main process's stdio. Attaching to a created (or restarting)
//! container waits for its next start; the start waits for such attachers to connect before
//! it lets the process run, so `run` without `-d` sees all output from the first byte.

use std::{sync::Arc, time::Duration};

use berth_proto::node::v1::{AttachStart, ContainerStatus};
use berth_shim::{
    logs::{self, LogEntry, ReadOptions},
    AttachOptions, IoEvent, IoReceiver, IoSender,
};

use super::{container_event, entry::Entry, lifecycle, ContainerManager};
use crate::{
    context::blocking,
    error::{DomainError, DomainResult},
};

/// How long to wait for the exit status after the shim closed the session.
const EXIT_PATIENCE: Duration = Duration::from_secs(30);

/// An attach session.
pub struct AttachSession {
    /// Log entries to send first (`logs` was asked).
    pub replay: Vec<LogEntry>,
    /// The process's stdin and terminal.
    pub input: IoSender,
    /// What the process writes, then its exit status.
    pub output: AttachOutput,
}

/// The output half of an attach session.
pub struct AttachOutput {
    output: IoReceiver,
    entry: Arc<Entry>,
    done: bool,
}

impl AttachOutput {
    /// The next output; ends with `Exit`, then `None`.
    pub async fn next(&mut self) -> DomainResult<Option<IoEvent>> {
        if self.done {
            return Ok(None);
        }
        match self.output.next().await? {
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

impl ContainerManager {
    /// Attaches to a container's main process.
    pub async fn attach(&self, start: &AttachStart) -> DomainResult<AttachSession> {
        let entry = self.lookup(&start.id)?;
        let config = entry.snapshot().config.unwrap_or_default();
        if start.stdin && !config.open_stdin {
            return Err(DomainError::FailedPrecondition(format!(
                "cannot attach stdin to container {}: it was not created with stdin open (-i)",
                entry.id
            )));
        }
        let options = AttachOptions {
            stdin: start.stdin,
            stdout: start.stdout,
            stderr: start.stderr,
        };
        let client = self.shim(&entry.id);
        let (input, output) = match entry.status() {
            ContainerStatus::Running | ContainerStatus::Paused => client.attach(options).await?,
            ContainerStatus::Created | ContainerStatus::Exited | ContainerStatus::Restarting => {
                let guard = entry.register_attach();
                if !guard.launched().await {
                    return Err(DomainError::NotFound(format!(
                        "No such container: {}",
                        start.id
                    )));
                }
                let session = client.attach(options).await?;
                drop(guard);
                session
            }
            other => {
                return Err(DomainError::FailedPrecondition(format!(
                    "cannot attach to container {}: it is {}",
                    entry.id,
                    super::status::name(other)
                )))
            }
        };
        let replay = if start.logs {
            let path = self.ctx.paths.container(&entry.id).log();
            blocking("reading the log", move || {
                Ok(logs::read(&path, &ReadOptions::default())?)
            })
            .await?
            .into_iter()
            .filter(|e| match e.stream {
                logs::LogStream::Stdout => start.stdout,
                logs::LogStream::Stderr => start.stderr,
            })
            .collect()
        } else {
            Vec::new()
        };
        let c = entry.snapshot();
        self.ctx
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
