//! An interactive stdio session over an Attach or Exec stream: output frames to stdout/stderr,
//! stdin (with Ctrl-P Ctrl-Q detach on a terminal), close at EOF, terminal resizes, and the final
//! exit status.

pub mod detach;
pub mod terminal;

use anyhow::Result;
use berth_proto::node::v1::{
    attach_container_request, attach_container_response, exec_container_request,
    exec_container_response, AttachContainerRequest, AttachContainerResponse, ExecContainerRequest,
    ExecContainerResponse, ExitStatus, OutputFrame, Stream, TerminalSize,
};
use detach::{DetachFilter, Typed};
use std::io::Read;
use tokio::io::AsyncWriteExt;
use tokio::sync::mpsc;
use tonic::Streaming;

/// The client messages both Attach and Exec streams carry.
pub trait StdioRequest: Send + 'static {
    /// Bytes for the process's stdin.
    fn stdin(data: Vec<u8>) -> Self;
    /// The end of stdin.
    fn close_stdin() -> Self;
    /// A new terminal size.
    fn resize(size: TerminalSize) -> Self;
}

/// A server message of an Attach or Exec stream.
pub enum StdioEvent {
    /// Output of the process.
    Output(OutputFrame),
    /// The process exited.
    Exit(ExitStatus),
}

/// The server messages both Attach and Exec streams carry.
pub trait StdioResponse {
    /// What the message says; `None` for an empty message.
    fn into_event(self) -> Option<StdioEvent>;
}

impl StdioRequest for AttachContainerRequest {
    fn stdin(data: Vec<u8>) -> Self {
        Self {
            request: Some(attach_container_request::Request::Stdin(data)),
        }
    }
    fn close_stdin() -> Self {
        Self {
            request: Some(attach_container_request::Request::CloseStdin(true)),
        }
    }
    fn resize(size: TerminalSize) -> Self {
        Self {
            request: Some(attach_container_request::Request::Resize(size)),
        }
    }
}

impl StdioRequest for ExecContainerRequest {
    fn stdin(data: Vec<u8>) -> Self {
        Self {
            request: Some(exec_container_request::Request::Stdin(data)),
        }
    }
    fn close_stdin() -> Self {
        Self {
            request: Some(exec_container_request::Request::CloseStdin(true)),
        }
    }
    fn resize(size: TerminalSize) -> Self {
        Self {
            request: Some(exec_container_request::Request::Resize(size)),
        }
    }
}

impl StdioResponse for AttachContainerResponse {
    fn into_event(self) -> Option<StdioEvent> {
        match self.response? {
            attach_container_response::Response::Output(frame) => Some(StdioEvent::Output(frame)),
            attach_container_response::Response::Exit(status) => Some(StdioEvent::Exit(status)),
        }
    }
}

impl StdioResponse for ExecContainerResponse {
    fn into_event(self) -> Option<StdioEvent> {
        match self.response? {
            exec_container_response::Response::Output(frame) => Some(StdioEvent::Output(frame)),
            exec_container_response::Response::Exit(status) => Some(StdioEvent::Exit(status)),
        }
    }
}

/// How a session ended.
#[derive(Debug)]
pub enum SessionEnd {
    /// The process exited.
    Exited(ExitStatus),
    /// The user typed Ctrl-P Ctrl-Q; the process keeps running.
    Detached,
    /// The server ended the stream without an exit status.
    Closed,
}

/// What the session forwards from the local side.
#[derive(Debug, Clone, Copy)]
pub struct SessionOptions {
    /// The process has a terminal: raw mode and resizes.
    pub tty: bool,
    /// Forward stdin (then close it at EOF).
    pub stdin: bool,
}

/// Runs the session until the process exits, the user detaches or the stream ends.
/// `requests` feeds the request stream whose first message (start) was already sent.
pub async fn run<Req: StdioRequest, Resp: StdioResponse>(
    requests: mpsc::Sender<Req>,
    mut responses: Streaming<Resp>,
    options: SessionOptions,
) -> Result<SessionEnd> {
    let _raw = if options.tty && options.stdin {
        terminal::RawMode::enable()?
    } else {
        None
    };
    let (detached_tx, mut detached_rx) = mpsc::channel::<()>(1);
    if options.stdin {
        forward_stdin(requests.clone(), detached_tx);
    }
    if options.tty {
        tokio::spawn(forward_resizes(requests.clone()));
    }
    let mut stdout = tokio::io::stdout();
    let mut stderr = tokio::io::stderr();
    loop {
        tokio::select! {
            Some(()) = detached_rx.recv() => return Ok(SessionEnd::Detached),
            message = responses.message() => match message?.map(StdioResponse::into_event) {
                None => return Ok(SessionEnd::Closed),
                Some(None) => {}
                Some(Some(StdioEvent::Exit(status))) => return Ok(SessionEnd::Exited(status)),
                Some(Some(StdioEvent::Output(frame))) => {
                    if frame.stream() == Stream::Stderr {
                        write_out(&mut stderr, &frame.data).await;
                    } else {
                        write_out(&mut stdout, &frame.data).await;
                    }
                }
            },
        }
    }
}

/// Writes output, ignoring a reader that went away (`| head`): the process keeps its output.
async fn write_out(out: &mut (impl AsyncWriteExt + Unpin), data: &[u8]) {
    if out.write_all(data).await.is_ok() {
        let _ = out.flush().await;
    }
}

/// Reads stdin on a thread of its own (a blocking read cannot be cancelled) and forwards it.
/// On a terminal, Ctrl-P Ctrl-Q detaches instead of being forwarded.
fn forward_stdin<Req: StdioRequest>(requests: mpsc::Sender<Req>, detached: mpsc::Sender<()>) {
    let watch_detach = terminal::stdin_is_terminal();
    std::thread::spawn(move || {
        let mut filter = DetachFilter::default();
        let mut stdin = std::io::stdin().lock();
        let mut buffer = vec![0u8; 32 * 1024];
        loop {
            let read = match stdin.read(&mut buffer) {
                Ok(0) | Err(_) => {
                    let _ = requests.blocking_send(Req::close_stdin());
                    return;
                }
                Ok(read) => &buffer[..read],
            };
            let typed = if watch_detach {
                filter.feed(read)
            } else {
                Typed::Forward(read.to_vec())
            };
            let (bytes, detach) = match typed {
                Typed::Forward(bytes) => (bytes, false),
                Typed::Detach(bytes) => (bytes, true),
            };
            if !bytes.is_empty() && requests.blocking_send(Req::stdin(bytes)).is_err() {
                return;
            }
            if detach {
                let _ = detached.blocking_send(());
                return;
            }
        }
    });
}

/// Sends the terminal's size whenever it changes (SIGWINCH).
async fn forward_resizes<Req: StdioRequest>(requests: mpsc::Sender<Req>) {
    let Ok(mut winch) =
        tokio::signal::unix::signal(tokio::signal::unix::SignalKind::window_change())
    else {
        return;
    };
    while winch.recv().await.is_some() {
        if let Some(size) = terminal::size() {
            if requests.send(Req::resize(size)).await.is_err() {
                return;
            }
        }
    }
}
