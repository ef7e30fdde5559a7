//! The daemon's side of a shim's socket: one connection per call, so calls run concurrently.

mod session;

use std::io;
use std::path::{Path, PathBuf};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::UnixStream;

use crate::protocol::{self, FrameKind, Payload, Reply, Request, HEADER_LEN};
use crate::{AttachOptions, CgroupStats, ExecSpec, ExitRecord, ShimError, ShimInfo, WinSize};

pub use session::{IoEvent, IoReceiver, IoSender};

/// A client of one shim's socket. Each call opens its own connection, so calls may run
/// concurrently.
#[derive(Debug, Clone)]
pub struct ShimClient {
    socket: PathBuf,
}

impl ShimClient {
    /// A client for the shim serving `socket`.
    pub fn new(socket: impl Into<PathBuf>) -> Self {
        Self {
            socket: socket.into(),
        }
    }

    /// Who the shim is and where its container stands; fails with
    /// [`ShimError::NotRunning`] when no shim serves the socket.
    pub async fn info(&self) -> Result<ShimInfo, ShimError> {
        match self.call(&Request::Info).await? {
            Payload::Info(info) => Ok(info),
            other => Err(unexpected(&other)),
        }
    }

    /// Starts the created container; returns the main process's PID.
    pub async fn start(&self) -> Result<u32, ShimError> {
        match self.call(&Request::Start).await? {
            Payload::Pid(pid) => Ok(pid),
            other => Err(unexpected(&other)),
        }
    }

    /// Blocks until the main process has exited and the shim has recorded it.
    pub async fn wait(&self) -> Result<ExitRecord, ShimError> {
        match self.call(&Request::Wait).await? {
            Payload::Exit(record) => Ok(record),
            other => Err(unexpected(&other)),
        }
    }

    /// Sends a signal to the main process, or to every process with `all`.
    pub async fn signal(&self, signal: i32, all: bool) -> Result<(), ShimError> {
        self.call_done(&Request::Signal { signal, all }).await
    }

    /// Freezes the container.
    pub async fn pause(&self) -> Result<(), ShimError> {
        self.call_done(&Request::Pause).await
    }

    /// Thaws the container.
    pub async fn resume(&self) -> Result<(), ShimError> {
        self.call_done(&Request::Resume).await
    }

    /// The host PIDs of the container's processes.
    pub async fn pids(&self) -> Result<Vec<i32>, ShimError> {
        match self.call(&Request::Pids).await? {
            Payload::Pids(pids) => Ok(pids),
            other => Err(unexpected(&other)),
        }
    }

    /// Reads the container's cgroup usage.
    pub async fn stats(&self) -> Result<CgroupStats, ShimError> {
        match self.call(&Request::Stats).await? {
            Payload::Stats(stats) => Ok(stats),
            other => Err(unexpected(&other)),
        }
    }

    /// Applies new cgroup limits to the running container.
    pub async fn update(
        &self,
        resources: &oci_spec::runtime::LinuxResources,
    ) -> Result<(), ShimError> {
        self.call_done(&Request::Update {
            resources: Box::new(resources.clone()),
        })
        .await
    }

    /// Resizes the main process's terminal.
    pub async fn resize(&self, size: WinSize) -> Result<(), ShimError> {
        self.call_done(&Request::Resize { size }).await
    }

    /// Attaches to the main process's stdio.
    pub async fn attach(
        &self,
        options: AttachOptions,
    ) -> Result<(IoSender, IoReceiver), ShimError> {
        let (stream, _) = self.open(&Request::Attach { options }).await?;
        Ok(session::split(stream, self.name()))
    }

    /// Runs a process in the container. The process keeps running if the session is dropped.
    pub async fn exec(&self, spec: &ExecSpec) -> Result<(IoSender, IoReceiver), ShimError> {
        let (stream, _) = self
            .open(&Request::Exec {
                spec: Box::new(spec.clone()),
            })
            .await?;
        Ok(session::split(stream, self.name()))
    }

    /// The container's name as errors show it: the socket's file stem (its ID).
    fn name(&self) -> String {
        container_name(&self.socket)
    }

    async fn call_done(&self, request: &Request) -> Result<(), ShimError> {
        match self.call(request).await? {
            Payload::Done => Ok(()),
            other => Err(unexpected(&other)),
        }
    }

    async fn call(&self, request: &Request) -> Result<Payload, ShimError> {
        self.open(request).await.map(|(_, payload)| payload)
    }

    /// Connects, sends `request` and reads the reply; the stream stays open for sessions.
    async fn open(&self, request: &Request) -> Result<(UnixStream, Payload), ShimError> {
        let mut stream = UnixStream::connect(&self.socket)
            .await
            .map_err(|err| self.connect_error(err))?;
        let mut frame = Vec::new();
        protocol::encode_json(FrameKind::Request, request, &mut frame);
        stream
            .write_all(&frame)
            .await
            .map_err(|err| self.lost(err))?;
        let (kind, payload) = read_frame(&mut stream)
            .await
            .map_err(|err| self.lost(err))?
            .ok_or_else(|| ShimError::NotRunning(self.name()))?;
        if kind != FrameKind::Reply {
            return Err(ShimError::Failed(format!(
                "shim protocol: expected a reply, got {kind:?}"
            )));
        }
        let reply: Reply = serde_json::from_slice(&payload)
            .map_err(|err| ShimError::Failed(format!("shim protocol: bad reply: {err}")))?;
        Ok((stream, reply?))
    }

    fn connect_error(&self, err: io::Error) -> ShimError {
        match err.kind() {
            io::ErrorKind::NotFound | io::ErrorKind::ConnectionRefused => {
                ShimError::NotRunning(self.name())
            }
            _ => ShimError::Io {
                context: format!("connecting to {}", self.socket.display()),
                source: err,
            },
        }
    }

    /// A connection that broke mid-call: the shim went away.
    fn lost(&self, err: io::Error) -> ShimError {
        match err.kind() {
            io::ErrorKind::BrokenPipe
            | io::ErrorKind::ConnectionReset
            | io::ErrorKind::UnexpectedEof => ShimError::NotRunning(self.name()),
            _ => ShimError::Io {
                context: format!("talking to {}", self.socket.display()),
                source: err,
            },
        }
    }
}

fn container_name(socket: &Path) -> String {
    socket.file_stem().map_or_else(
        || socket.display().to_string(),
        |s| s.to_string_lossy().into_owned(),
    )
}

fn unexpected(payload: &Payload) -> ShimError {
    ShimError::Failed(format!("shim protocol: unexpected reply {payload:?}"))
}

/// Reads one frame; `None` on a clean end of stream before its header.
async fn read_frame(
    stream: &mut (impl AsyncReadExt + Unpin),
) -> io::Result<Option<(FrameKind, Vec<u8>)>> {
    let mut header = [0u8; HEADER_LEN];
    let mut filled = 0;
    while filled < HEADER_LEN {
        let n = stream.read(&mut header[filled..]).await?;
        if n == 0 {
            return if filled == 0 {
                Ok(None)
            } else {
                Err(io::ErrorKind::UnexpectedEof.into())
            };
        }
        filled += n;
    }
    let (kind, len) = protocol::parse_header(&header)
        .map_err(|err| io::Error::new(io::ErrorKind::InvalidData, err.to_string()))?;
    let mut payload = vec![0u8; len];
    stream.read_exact(&mut payload).await?;
    Ok(Some((kind, payload)))
}
