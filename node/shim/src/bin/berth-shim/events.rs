//! The event loop: one poll over the signalfd, the listening socket, the container's stdio,
//! the clients and the exec sessions. Nothing here blocks except poll itself and the runtime
//! calls requests make.

use std::os::fd::{AsFd, BorrowedFd};
use std::time::{Duration, Instant};

use berth_shim::logs::LogStream;
use berth_shim::protocol::FrameKind;
use chrono::Utc;
use nix::errno::Errno;
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};

use crate::conn::{Conn, Received, Role};
use crate::shim::Shim;
use crate::stdio;

/// How long the shim must be quiet after a request before it releases the memory the
/// request's code took (see `footprint`).
const IDLE_AFTER: Duration = Duration::from_millis(500);

/// Connections beyond this are refused, so clients cannot grow the shim without bound.
const MAX_CONNS: usize = 64;

/// What a polled fd belongs to.
#[derive(Debug, Clone, Copy)]
enum Token {
    Signals,
    Listener,
    MainOutput(usize),
    MainInput,
    Conn(u64),
    ExecOutput(u64, usize),
    ExecInput(u64),
}

impl Shim {
    /// Serves until the container is gone and its clients are answered.
    pub fn run(mut self) {
        while !self.done() {
            let ready = self.wait_for_events();
            if ready.is_empty() && std::mem::take(&mut self.handled_request) {
                // Quiet after real work: drop the pages only that work needed.
                if let Err(err) = crate::footprint::release_code() {
                    tracing::debug!("{err:#}");
                }
            }
            for (token, events) in ready {
                self.dispatch(token, events);
            }
            if let Some(code) = self.main_exit.take() {
                self.finish(code);
            }
            self.conns.retain(|_, conn| !conn.finished());
        }
    }

    fn wait_for_events<'a>(&'a self) -> Vec<(Token, PollFlags)> {
        let mut tokens = Vec::new();
        let mut fds = Vec::new();
        let mut add = |token: Token, fd: BorrowedFd<'a>, flags: PollFlags| {
            tokens.push(token);
            fds.push(PollFd::new(fd, flags));
        };
        let input = PollFlags::POLLIN;
        add(Token::Signals, self.signals.as_fd(), input);
        if let Some(listener) = &self.listener {
            add(Token::Listener, listener.as_fd(), input);
        }
        for (index, output) in self.outputs.iter().enumerate() {
            add(Token::MainOutput(index), output.fd(), input);
        }
        if let Some(main_input) = self.input.as_ref().filter(|i| i.has_pending()) {
            add(Token::MainInput, main_input.fd(), PollFlags::POLLOUT);
        }
        for (id, conn) in &self.conns {
            let mut flags = PollFlags::empty();
            if self.may_read(conn) {
                flags |= PollFlags::POLLIN;
            }
            if conn.wants_write() {
                flags |= PollFlags::POLLOUT;
            }
            add(Token::Conn(*id), conn.stream.as_fd(), flags);
        }
        for session in &self.execs {
            // Output waits while its client is slow; with no client it is read and dropped.
            let client_has_room = session
                .conn
                .and_then(|id| self.conns.get(&id))
                .is_none_or(|conn| conn.has_room_for(self.buf.len()));
            if client_has_room {
                for (index, output) in session.outputs.iter().enumerate() {
                    add(Token::ExecOutput(session.id, index), output.fd(), input);
                }
            }
            if let Some(exec_input) = session.input.as_ref().filter(|i| i.has_pending()) {
                add(
                    Token::ExecInput(session.id),
                    exec_input.fd(),
                    PollFlags::POLLOUT,
                );
            }
        }
        let mut wake_in = self
            .deadline
            .map(|deadline| deadline.saturating_duration_since(Instant::now()));
        if self.handled_request {
            wake_in = Some(wake_in.map_or(IDLE_AFTER, |left| left.min(IDLE_AFTER)));
        }
        let timeout = wake_in.map_or(PollTimeout::NONE, |left| {
            PollTimeout::try_from(left).unwrap_or(PollTimeout::MAX)
        });
        match poll(&mut fds, timeout) {
            Ok(_) | Err(Errno::EINTR) => {}
            Err(err) => {
                tracing::error!("poll: {err}");
                return Vec::new();
            }
        }
        tokens
            .into_iter()
            .zip(
                fds.iter()
                    .map(|fd| fd.revents().unwrap_or(PollFlags::empty())),
            )
            .filter(|(_, events)| !events.is_empty())
            .collect()
    }

    /// Whether to read from a client now: not while the stdin it feeds is full.
    fn may_read(&self, conn: &Conn) -> bool {
        let target = match conn.role {
            Role::Attach(_) => self.input.as_ref(),
            Role::Exec(id) => self
                .execs
                .iter()
                .find(|s| s.id == id)
                .and_then(|s| s.input.as_ref()),
            _ => None,
        };
        target.is_none_or(|input| input.has_room())
    }

    fn dispatch(&mut self, token: Token, events: PollFlags) {
        match token {
            Token::Signals => self.reap(),
            Token::Listener => self.accept(),
            Token::MainOutput(index) => {
                self.read_main_output(index);
            }
            Token::MainInput => {
                if let Some(main_input) = &mut self.input {
                    if main_input.flush().is_err() || main_input.finished() {
                        self.input = None;
                    }
                }
            }
            Token::Conn(id) => self.serve_conn(id, events),
            Token::ExecOutput(id, index) => self.read_exec_output(id, index),
            Token::ExecInput(id) => self.flush_exec_input(id),
        }
    }

    /// Reaps every exited child: the main process, exec sessions, and orphans that reached
    /// us as subreaper.
    fn reap(&mut self) {
        while let Ok(Some(_)) = self.signals.read_signal() {}
        loop {
            let (pid, code) = match waitpid(None, Some(WaitPidFlag::WNOHANG)) {
                Ok(WaitStatus::Exited(pid, code)) => (pid, code),
                Ok(WaitStatus::Signaled(pid, signal, _)) => (pid, 128 + signal as i32),
                Ok(WaitStatus::StillAlive) | Err(Errno::ECHILD) => return,
                Err(Errno::EINTR) | Ok(_) => continue,
                Err(err) => {
                    tracing::error!("waitpid: {err}");
                    return;
                }
            };
            if pid == self.pid && self.exit.is_none() {
                self.main_exit = Some(code);
            } else {
                self.exec_exited(pid, code);
            }
        }
    }

    pub fn accept(&mut self) {
        let Some(listener) = &self.listener else {
            return;
        };
        while let Ok((stream, _)) = listener.accept() {
            if self.conns.len() >= MAX_CONNS {
                tracing::warn!("too many clients; refusing one");
                continue;
            }
            match Conn::new(stream) {
                Ok(conn) => {
                    self.conns.insert(self.next_conn, conn);
                    self.next_conn += 1;
                }
                Err(err) => tracing::warn!("accepting a client: {err}"),
            }
        }
    }

    /// Reads one chunk of the main process's output into the log and the attached clients;
    /// false once nothing more is ready.
    pub fn read_main_output(&mut self, index: usize) -> bool {
        let Some((stream, n)) = stdio::read_chunk(&mut self.outputs, index, &mut self.buf) else {
            return false;
        };
        let data = &self.buf[..n];
        if let Err(err) = self.log.write(stream, Utc::now(), data) {
            tracing::warn!("writing the log: {err}");
        }
        let kind = FrameKind::from(stream);
        self.conns.retain(|_, conn| {
            let Role::Attach(options) = conn.role else {
                return true;
            };
            let wanted = match stream {
                LogStream::Stdout => options.stdout,
                LogStream::Stderr => options.stderr,
            };
            if !wanted {
                return true;
            }
            // A client that cannot keep up is dropped; the log has everything.
            if !conn.has_room_for(n) {
                tracing::warn!("dropping a slow attach client");
                return false;
            }
            conn.send(kind, data);
            true
        });
        true
    }

    fn serve_conn(&mut self, id: u64, events: PollFlags) {
        let Some(conn) = self.conns.get_mut(&id) else {
            return;
        };
        if events.contains(PollFlags::POLLOUT) && conn.flush().is_err() {
            self.disconnect(id);
            return;
        }
        if !events.intersects(PollFlags::POLLIN | PollFlags::POLLHUP | PollFlags::POLLERR) {
            return;
        }
        let closed = matches!(conn.receive(&mut self.buf), Received::Closed);
        loop {
            let Some(conn) = self.conns.get_mut(&id) else {
                return;
            };
            match conn.next_frame() {
                Ok(Some(frame)) => self.handle_frame(id, frame),
                Ok(None) => break,
                Err(err) => {
                    tracing::warn!("client sent garbage: {err}");
                    self.disconnect(id);
                    return;
                }
            }
        }
        if closed {
            self.disconnect(id);
        }
    }

    /// A client went away. An exec session's process keeps running without it.
    fn disconnect(&mut self, id: u64) {
        if let Some(conn) = self.conns.remove(&id) {
            if let Role::Exec(exec) = conn.role {
                if let Some(session) = self.execs.iter_mut().find(|s| s.id == exec) {
                    session.conn = None;
                }
            }
        }
    }
}
