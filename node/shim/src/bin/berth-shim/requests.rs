//! Answering clients: the request that opens a connection, and the data frames of attach and
//! exec sessions.

use anyhow::{anyhow, Context};
use berth_shim::protocol::{ErrorKind, Frame, FrameKind, Payload, Reply, ReplyError, Request};
use berth_shim::{ShimInfo, ShimStatus, WinSize};
use chrono::Utc;
use nix::sys::signal::Signal;

use crate::conn::Role;
use crate::shim::Shim;
use crate::stdio::Input;
use crate::terminal;

fn failed(err: anyhow::Error) -> ReplyError {
    ReplyError {
        kind: ErrorKind::Failed,
        message: format!("{err:#}"),
    }
}

pub fn invalid(message: impl Into<String>) -> ReplyError {
    ReplyError {
        kind: ErrorKind::InvalidArgument,
        message: message.into(),
    }
}

impl Shim {
    pub fn handle_frame(&mut self, id: u64, frame: Frame) {
        let Some(conn) = self.conns.get(&id) else {
            return;
        };
        match (conn.role, frame.kind) {
            (Role::New, FrameKind::Request) => {
                match serde_json::from_slice::<Request>(&frame.payload) {
                    Ok(request) => self.handle_request(id, request),
                    Err(err) => self.reply(id, Err(invalid(format!("bad request: {err}")))),
                }
            }
            (Role::Attach(options), kind) => {
                let stdin_allowed = options.stdin && self.config.open_stdin;
                match kind {
                    FrameKind::Stdin if stdin_allowed => {
                        if let Some(input) = &mut self.input {
                            input.push(&frame.payload);
                        }
                    }
                    // `close` closes at once, or once the pending input is written.
                    FrameKind::CloseStdin
                        if stdin_allowed && self.input.as_mut().is_some_and(Input::close) =>
                    {
                        self.input = None;
                    }
                    FrameKind::Resize => {
                        if let Ok(size) = serde_json::from_slice::<WinSize>(&frame.payload) {
                            if let Err(err) = self.resize_main(size) {
                                tracing::debug!("attach resize: {}", err.message);
                            }
                        }
                    }
                    _ => {}
                }
            }
            (Role::Exec(exec), kind) => self.exec_frame(exec, kind, &frame.payload),
            // Nothing else is expected; stray frames are ignored.
            _ => {}
        }
    }

    fn reply(&mut self, id: u64, reply: Reply) {
        if let Some(conn) = self.conns.get_mut(&id) {
            conn.send_reply(&reply);
            conn.role = Role::Closing;
        }
    }

    fn handle_request(&mut self, id: u64, request: Request) {
        self.handled_request = true;
        let reply = match request {
            Request::Info => Ok(Payload::Info(self.info())),
            Request::Start => self.start(),
            Request::Wait => match &self.exit {
                Some(record) => Ok(Payload::Exit(record.clone())),
                None => {
                    if let Some(conn) = self.conns.get_mut(&id) {
                        conn.role = Role::Waiting;
                    }
                    return;
                }
            },
            Request::Signal { signal, all } => self.signal(signal, all),
            Request::Pause => self.running("pause").and_then(|()| {
                self.driver.pause(&self.config.id).map_err(failed)?;
                self.status = ShimStatus::Paused;
                Ok(Payload::Done)
            }),
            Request::Resume => self.resume(),
            Request::Pids => self.alive("list the processes of").and_then(|()| {
                self.driver
                    .pids(&self.config.id)
                    .map(Payload::Pids)
                    .map_err(failed)
            }),
            Request::Stats => self
                .alive("read the stats of")
                .map(|()| Payload::Stats(self.cgroup.stats())),
            Request::Update { resources } => self.alive("update").and_then(|()| {
                self.driver
                    .update(&self.config.id, &resources)
                    .map(|()| Payload::Done)
                    .map_err(failed)
            }),
            Request::Resize { size } => self.resize_main(size).map(|()| Payload::Done),
            Request::Attach { options } => {
                let exited = self.exit.as_ref().map(|record| record.exit_code);
                if let Some(conn) = self.conns.get_mut(&id) {
                    conn.send_reply(&Ok(Payload::Done));
                    conn.role = Role::Attach(options);
                    if let Some(code) = exited {
                        conn.send_exit(code);
                    }
                }
                return;
            }
            Request::Exec { spec } => {
                match self.start_exec(id, &spec) {
                    Ok(pid) => {
                        if let Some(conn) = self.conns.get_mut(&id) {
                            conn.send_reply(&Ok(Payload::Pid(pid)));
                        }
                    }
                    Err(err) => self.reply(id, Err(err)),
                }
                return;
            }
        };
        self.reply(id, reply);
    }

    fn info(&self) -> ShimInfo {
        ShimInfo {
            id: self.config.id.clone(),
            shim_pid: std::process::id(),
            container_pid: self.pid.as_raw().unsigned_abs(),
            status: self.status,
            started_at: self.started_at,
            exit: self.exit.clone(),
        }
    }

    fn start(&mut self) -> Reply {
        if self.status != ShimStatus::Created {
            return Err(invalid(format!(
                "container {} is already started",
                self.config.id
            )));
        }
        self.driver.start(&self.config.id).map_err(failed)?;
        self.status = ShimStatus::Running;
        self.started_at = Some(Utc::now());
        Ok(Payload::Pid(self.pid.as_raw().unsigned_abs()))
    }

    fn resume(&mut self) -> Reply {
        if self.status != ShimStatus::Paused || self.exit.is_some() {
            return Err(invalid(format!(
                "container {} is not paused",
                self.config.id
            )));
        }
        self.driver.resume(&self.config.id).map_err(failed)?;
        self.status = ShimStatus::Running;
        Ok(Payload::Done)
    }

    fn signal(&mut self, number: i32, all: bool) -> Reply {
        self.alive("signal")?;
        let signal =
            Signal::try_from(number).map_err(|_| invalid(format!("unknown signal {number}")))?;
        self.driver
            .kill(&self.config.id, signal, all)
            .map(|()| Payload::Done)
            .map_err(failed)
    }

    /// Refuses `action` unless the container's process is still there.
    fn alive(&self, action: &str) -> Result<(), ReplyError> {
        if self.exit.is_some() || self.main_exit.is_some() {
            return Err(invalid(format!(
                "cannot {action} container {}: it is not running",
                self.config.id
            )));
        }
        Ok(())
    }

    /// Refuses `action` unless the main process runs (started, not paused, not exited).
    pub fn running(&self, action: &str) -> Result<(), ReplyError> {
        self.alive(action)?;
        if self.status != ShimStatus::Running {
            return Err(invalid(format!(
                "cannot {action} container {}: it is {}",
                self.config.id,
                match self.status {
                    ShimStatus::Created => "not started",
                    ShimStatus::Paused => "paused",
                    _ => "not running",
                }
            )));
        }
        Ok(())
    }

    fn resize_main(&mut self, size: WinSize) -> Result<(), ReplyError> {
        let master = self
            .input
            .as_ref()
            .filter(|i| i.is_terminal)
            .ok_or_else(|| invalid(format!("container {} has no terminal", self.config.id)))?;
        terminal::resize(master.fd(), size)
            .context("resizing")
            .map_err(|err| failed(anyhow!(err)))
    }
}
