//! ExecContainer: another process in a running container.

use std::sync::Arc;

use berth_proto::node::v1::{ContainerStatus, ExecStart};
use berth_shim::{ExecSpec, IoEvent, IoReceiver, IoSender, WinSize};

use super::{container_event, rootfs, ContainerManager};
use crate::{
    context::{blocking, Context},
    error::{DomainError, DomainResult},
    spec,
};

/// An exec session.
pub struct ExecSession {
    /// The process's stdin and terminal.
    pub input: IoSender,
    /// What the process writes, then its exit status.
    pub output: ExecOutput,
}

/// The output half of an exec session.
pub struct ExecOutput {
    output: IoReceiver,
    ctx: Arc<Context>,
    container: berth_proto::node::v1::Container,
    exec_id: String,
}

impl ExecOutput {
    /// The next output; ends with `Exit` (which emits `exec_die`), then `None`.
    pub async fn next(&mut self) -> DomainResult<Option<IoEvent>> {
        let event = self.output.next().await?;
        if let Some(IoEvent::Exit(code)) = &event {
            let die = container_event(
                &self.container,
                "exec_die",
                &[
                    ("execID", self.exec_id.clone()),
                    ("exitCode", code.to_string()),
                ],
            );
            self.ctx.events.emit(die).await?;
        }
        Ok(event)
    }
}

impl ContainerManager {
    /// Starts a process in a running container.
    pub async fn exec(&self, start: ExecStart) -> DomainResult<ExecSession> {
        if start.cmd.is_empty() || start.cmd[0].is_empty() {
            return Err(DomainError::InvalidArgument(
                "No exec command specified".to_owned(),
            ));
        }
        let entry = self.lookup(&start.id)?;
        match entry.status() {
            ContainerStatus::Running => {}
            ContainerStatus::Paused => {
                return Err(DomainError::FailedPrecondition(format!(
                    "Container {} is paused, unpause the container before exec",
                    entry.id
                )))
            }
            _ => {
                return Err(DomainError::FailedPrecondition(format!(
                    "Container {} is not running",
                    entry.id
                )))
            }
        }
        let ctx = Arc::clone(&self.ctx);
        let id = entry.id.clone();
        let request = start.clone();
        let process = blocking("building the exec process", move || {
            let container_spec = rootfs::read_spec(&ctx, &id)?;
            let root = ctx.paths.container(&id).rootfs();
            Ok(spec::exec_process(&container_spec, &request, &root)?)
        })
        .await?;
        let exec_id = super::ids::new_id();
        let container = entry.snapshot();
        let command = start.cmd.join(" ");
        self.ctx
            .events
            .emit(container_event(
                &container,
                "exec_create",
                &[
                    ("execID", exec_id.clone()),
                    ("exec_command", command.clone()),
                ],
            ))
            .await?;
        let client = self.shim(&entry.id);
        let (mut input, output) = client
            .exec(&ExecSpec {
                process,
                stdin: start.stdin,
            })
            .await?;
        if let Some(size) = start.size.filter(|_| start.tty) {
            input
                .resize(WinSize {
                    width: u16::try_from(size.width).unwrap_or(u16::MAX),
                    height: u16::try_from(size.height).unwrap_or(u16::MAX),
                })
                .await?;
        }
        self.ctx
            .events
            .emit(container_event(
                &container,
                "exec_start",
                &[("execID", exec_id.clone()), ("exec_command", command)],
            ))
            .await?;
        Ok(ExecSession {
            input,
            output: ExecOutput {
                output,
                ctx: Arc::clone(&self.ctx),
                container,
                exec_id,
            },
        })
    }
}
