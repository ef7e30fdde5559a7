//! Exec sessions: extra processes run in the container through the runtime, each with its
//! own stdio (pipes or a terminal) streamed to the client that asked, and a final exit code.

use std::fs;

use berth_shim::protocol::{FrameKind, ReplyError};
use berth_shim::{ExecSpec, WinSize};
use nix::unistd::Pid;

use crate::conn::Role;
use crate::requests::invalid;
use crate::shim::{sibling, Shim};
use crate::stdio::{self, Input, Output};
use crate::terminal::{self, ConsoleSocket};

#[derive(Debug)]
pub struct ExecSession {
    pub id: u64,
    pub pid: Pid,
    pub input: Option<Input>,
    pub outputs: Vec<Output>,
    /// Its client, while connected.
    pub conn: Option<u64>,
}

impl Shim {
    /// Runs the process of `spec` for connection `conn`; returns its host PID.
    pub fn start_exec(&mut self, conn: u64, spec: &ExecSpec) -> Result<u32, ReplyError> {
        self.running("exec into")?;
        let id = self.next_exec;
        self.next_exec += 1;
        let scratch = scratch_dir(&self.config.bundle, id);
        fs::create_dir_all(&scratch)
            .map_err(|err| invalid(format!("creating {}: {err}", scratch.display())))?;
        let result = self.spawn_exec(id, spec, &scratch);
        let _ = fs::remove_dir_all(&scratch);
        let (pid, input, outputs) = result.map_err(|err| ReplyError {
            kind: berth_shim::protocol::ErrorKind::Failed,
            message: format!("exec in container {}: {err:#}", self.config.id),
        })?;
        self.execs.push(ExecSession {
            id,
            pid,
            input,
            outputs,
            conn: Some(conn),
        });
        if let Some(conn) = self.conns.get_mut(&conn) {
            conn.role = Role::Exec(id);
        }
        Ok(pid.as_raw().unsigned_abs())
    }

    fn spawn_exec(
        &self,
        id: u64,
        spec: &ExecSpec,
        scratch: &std::path::Path,
    ) -> anyhow::Result<(Pid, Option<Input>, Vec<Output>)> {
        let container = &self.config.id;
        if spec.process.terminal().unwrap_or(false) {
            let console = ConsoleSocket::bind(&sibling(&self.config.socket, &format!("exec{id}")))?;
            let null = stdio::null_stdio()?;
            let pid = self.driver.exec(
                container,
                &spec.process,
                &null,
                Some(console.path()),
                scratch,
            )?;
            let (input, output) = stdio::terminal(console.receive_master()?)?;
            Ok((pid, Some(input), vec![output]))
        } else {
            let pipes = stdio::pipes(spec.stdin)?;
            let pid = self
                .driver
                .exec(container, &spec.process, &pipes.process, None, scratch)?;
            Ok((pid, pipes.input, pipes.outputs))
        }
    }

    pub fn exec_frame(&mut self, exec: u64, kind: FrameKind, payload: &[u8]) {
        let Some(session) = self.execs.iter_mut().find(|s| s.id == exec) else {
            return;
        };
        match kind {
            FrameKind::Stdin => {
                if let Some(input) = &mut session.input {
                    input.push(payload);
                }
            }
            // `close` closes at once, or once the pending input is written.
            FrameKind::CloseStdin if session.input.as_mut().is_some_and(Input::close) => {
                session.input = None;
            }
            FrameKind::Resize => {
                let size = serde_json::from_slice::<WinSize>(payload);
                let master = session.input.as_ref().filter(|i| i.is_terminal);
                if let (Ok(size), Some(master)) = (size, master) {
                    if let Err(err) = terminal::resize(master.fd(), size) {
                        tracing::debug!("exec resize: {err:#}");
                    }
                }
            }
            _ => {}
        }
    }

    pub fn flush_exec_input(&mut self, exec: u64) {
        if let Some(session) = self.execs.iter_mut().find(|s| s.id == exec) {
            if session
                .input
                .as_mut()
                .is_some_and(|i| i.flush().is_err() || i.finished())
            {
                session.input = None;
            }
        }
    }

    /// Forwards one chunk of an exec's output to its client (or drops it without one).
    pub fn read_exec_output(&mut self, exec: u64, index: usize) {
        while self.forward_exec_output(exec, index, false) {}
    }

    /// One read; true if data moved and more may follow. `draining` ignores the client's
    /// buffer limit, for the last output of an exited process (bounded by the pipe size).
    fn forward_exec_output(&mut self, exec: u64, index: usize, draining: bool) -> bool {
        let Some(session) = self.execs.iter_mut().find(|s| s.id == exec) else {
            return false;
        };
        let Some((stream, n)) = stdio::read_chunk(&mut session.outputs, index, &mut self.buf)
        else {
            return false;
        };
        let Some(conn) = session.conn.and_then(|id| self.conns.get_mut(&id)) else {
            return true;
        };
        conn.send(FrameKind::from(stream), &self.buf[..n]);
        draining || conn.has_room_for(self.buf.len())
    }

    /// An exec'd process (or an orphan) exited: send its last output and its code.
    pub fn exec_exited(&mut self, pid: Pid, code: i32) {
        let Some(position) = self.execs.iter().position(|s| s.pid == pid) else {
            return;
        };
        let exec = self.execs[position].id;
        for index in (0..self.execs[position].outputs.len()).rev() {
            while self.forward_exec_output(exec, index, true) {}
        }
        let session = self.execs.remove(position);
        if let Some(conn) = session.conn.and_then(|id| self.conns.get_mut(&id)) {
            conn.send_exit(code);
        }
    }
}

/// Where the runtime's files for exec `id` go while it starts.
fn scratch_dir(bundle: &std::path::Path, id: u64) -> std::path::PathBuf {
    bundle.join(format!(".exec-{id}"))
}
