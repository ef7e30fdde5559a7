//! Berth's shim (API contract; bodies land with the shim work).
//!
//! `berth-shim` is one small single-threaded process per container, detached from berthd. It
//! mounts the container's rootfs, creates the container through the runtime, owns its stdio,
//! writes its log, reaps it, records the exit status atomically and serves a 0600 unix socket.
//! This library is the daemon's side: launching a shim, talking to its socket, and reading the
//! files it writes.

use std::path::{Path, PathBuf};

use berth_image::overlay::OverlayMount;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// Why a shim operation failed.
#[derive(Debug, thiserror::Error)]
pub enum ShimError {
    /// The shim is not running (its socket is gone or refuses connections).
    #[error("shim of container {0} is not running")]
    NotRunning(String),
    /// The shim or the runtime refused the request; the message says why.
    #[error("{0}")]
    Failed(String),
    /// An invalid request (for example an exec into a stopped container).
    #[error("{0}")]
    InvalidArgument(String),
    /// Talking to the shim or reading its files failed.
    #[error("{context}: {source}")]
    Io {
        /// What was being done.
        context: String,
        /// The cause.
        source: std::io::Error,
    },
}

/// Which OCI runtime the shim drives.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum RuntimeChoice {
    /// berth-runtime's library, in-process.
    Builtin,
    /// A runc-compatible binary at this path.
    Binary(PathBuf),
}

/// Where and how much log to keep.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogOptions {
    /// The current log file; rotated files get `.1`, `.2`, … appended.
    pub path: PathBuf,
    /// Rotate when the current file would exceed this many bytes.
    pub max_size: u64,
    /// Keep at most this many files, the current one included.
    pub max_files: u32,
}

/// Everything a shim needs to run one container once.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShimConfig {
    /// The container ID.
    pub id: String,
    /// The OCI bundle directory (holds `config.json`).
    pub bundle: PathBuf,
    /// The container's rootfs. The daemon mounts it before `launch` (the shim mounts it if it is
    /// not mounted); the shim unmounts it once the container is gone.
    pub rootfs: Option<OverlayMount>,
    /// The socket to serve (mode 0600).
    pub socket: PathBuf,
    /// The log.
    pub log: LogOptions,
    /// Where to write the [`ExitRecord`] atomically.
    pub exit_file: PathBuf,
    /// The runtime.
    pub runtime: RuntimeChoice,
    /// The runtime's state directory (`--root`).
    pub runtime_root: PathBuf,
    /// The main process has a terminal.
    pub tty: bool,
    /// The main process's stdin stays open for attach.
    pub open_stdin: bool,
}

/// What `launch` reports once the container is created.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Launched {
    /// The shim's PID.
    pub shim_pid: u32,
    /// The container's init PID on the host.
    pub container_pid: u32,
}

/// Starts a detached shim for `config` and returns once it has created (not started) the
/// container, or with the runtime's error after cleaning up.
pub async fn launch(_shim_binary: &Path, _config: &ShimConfig) -> Result<Launched, ShimError> {
    unimplemented!("contract")
}

/// How the main process ended, as the shim records it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExitRecord {
    /// The exit code, 128+N when killed by signal N.
    pub exit_code: i32,
    /// The kernel's OOM killer killed a process of the container.
    pub oom_killed: bool,
    /// When the process started.
    pub started_at: Option<DateTime<Utc>>,
    /// When it ended.
    pub finished_at: DateTime<Utc>,
}

impl ExitRecord {
    /// Reads the record a shim wrote, `None` if there is none.
    pub fn read(_path: &Path) -> Result<Option<Self>, ShimError> {
        unimplemented!("contract")
    }
}

/// A terminal size.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct WinSize {
    /// Columns.
    pub width: u16,
    /// Rows.
    pub height: u16,
}

/// Resource usage read from the container's cgroup.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CgroupStats {
    /// Total CPU time in nanoseconds.
    pub cpu_usage_ns: u64,
    /// Memory in use without page cache, in bytes.
    pub memory_usage: u64,
    /// The memory limit, 0 if unlimited.
    pub memory_limit: u64,
    /// Number of processes.
    pub pids: u64,
    /// Bytes read from block devices.
    pub block_read: u64,
    /// Bytes written to block devices.
    pub block_write: u64,
}

/// A process to exec in the running container.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExecSpec {
    /// The process, built by the daemon from the container's spec and the request.
    pub process: oci_spec::runtime::Process,
    /// Forward stdin.
    pub stdin: bool,
}

/// Which streams an attach wants.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AttachOptions {
    /// Forward stdin to the main process.
    pub stdin: bool,
    /// Receive stdout.
    pub stdout: bool,
    /// Receive stderr.
    pub stderr: bool,
}

/// One event of an attach or exec session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IoEvent {
    /// Bytes on stdout (or the terminal).
    Stdout(Vec<u8>),
    /// Bytes on stderr.
    Stderr(Vec<u8>),
    /// The process exited with this code; the last event.
    Exit(i32),
}

/// The sending half of an attach or exec session.
pub struct IoSender {
    _private: (),
}

impl IoSender {
    /// Writes to the process's stdin.
    pub async fn stdin(&mut self, _data: &[u8]) -> Result<(), ShimError> {
        unimplemented!("contract")
    }

    /// Closes the process's stdin.
    pub async fn close_stdin(&mut self) -> Result<(), ShimError> {
        unimplemented!("contract")
    }

    /// Resizes the process's terminal.
    pub async fn resize(&mut self, _size: WinSize) -> Result<(), ShimError> {
        unimplemented!("contract")
    }
}

/// The receiving half of an attach or exec session.
pub struct IoReceiver {
    _private: (),
}

impl IoReceiver {
    /// The next event; `None` once the shim closed the session.
    pub async fn next(&mut self) -> Result<Option<IoEvent>, ShimError> {
        unimplemented!("contract")
    }
}

/// A client of one shim's socket. Each call opens its own connection, so calls may run
/// concurrently.
#[derive(Debug, Clone)]
pub struct ShimClient {
    _socket: PathBuf,
}

impl ShimClient {
    /// A client for the shim serving `socket`.
    pub fn new(socket: impl Into<PathBuf>) -> Self {
        Self {
            _socket: socket.into(),
        }
    }

    /// Starts the created container; returns the main process's PID.
    pub async fn start(&self) -> Result<u32, ShimError> {
        unimplemented!("contract")
    }

    /// Blocks until the main process has exited and the shim has recorded it.
    pub async fn wait(&self) -> Result<ExitRecord, ShimError> {
        unimplemented!("contract")
    }

    /// Sends a signal to the main process, or to every process with `all`.
    pub async fn signal(&self, _signal: i32, _all: bool) -> Result<(), ShimError> {
        unimplemented!("contract")
    }

    /// Freezes the container.
    pub async fn pause(&self) -> Result<(), ShimError> {
        unimplemented!("contract")
    }

    /// Thaws the container.
    pub async fn resume(&self) -> Result<(), ShimError> {
        unimplemented!("contract")
    }

    /// The host PIDs of the container's processes.
    pub async fn pids(&self) -> Result<Vec<i32>, ShimError> {
        unimplemented!("contract")
    }

    /// Reads the container's cgroup usage.
    pub async fn stats(&self) -> Result<CgroupStats, ShimError> {
        unimplemented!("contract")
    }

    /// Applies new cgroup limits to the running container.
    pub async fn update(
        &self,
        _resources: &oci_spec::runtime::LinuxResources,
    ) -> Result<(), ShimError> {
        unimplemented!("contract")
    }

    /// Resizes the main process's terminal.
    pub async fn resize(&self, _size: WinSize) -> Result<(), ShimError> {
        unimplemented!("contract")
    }

    /// Attaches to the main process's stdio.
    pub async fn attach(
        &self,
        _options: AttachOptions,
    ) -> Result<(IoSender, IoReceiver), ShimError> {
        unimplemented!("contract")
    }

    /// Runs a process in the container. The process keeps running if the session is dropped.
    pub async fn exec(&self, _spec: &ExecSpec) -> Result<(IoSender, IoReceiver), ShimError> {
        unimplemented!("contract")
    }
}

/// The container log (Docker's json-file format: one `{"log","stream","time"}` object per line).
pub mod logs {
    use std::path::Path;

    use chrono::{DateTime, Utc};

    use crate::ShimError;

    /// Which stream a log entry came from.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub enum LogStream {
        /// Standard output (and a terminal's output).
        Stdout,
        /// Standard error.
        Stderr,
    }

    /// One log entry.
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct LogEntry {
        /// Its stream.
        pub stream: LogStream,
        /// When the shim read it.
        pub time: DateTime<Utc>,
        /// The bytes, normally one line with its newline.
        pub data: Vec<u8>,
    }

    /// Which entries to read.
    #[derive(Debug, Clone, Copy, Default)]
    pub struct ReadOptions {
        /// Only the last N entries.
        pub tail: Option<u64>,
        /// Only entries at or after this time.
        pub since: Option<DateTime<Utc>>,
        /// Only entries before this time.
        pub until: Option<DateTime<Utc>>,
    }

    /// Reads the entries of the current and rotated files, oldest first.
    pub fn read(_path: &Path, _options: &ReadOptions) -> Result<Vec<LogEntry>, ShimError> {
        unimplemented!("contract")
    }

    /// Follows a log from its current end, across rotations.
    pub struct Follower {
        _private: (),
    }

    impl Follower {
        /// Starts following `path` from its current end.
        pub fn new(_path: &Path) -> Result<Self, ShimError> {
            unimplemented!("contract")
        }

        /// The entries written since the last call (may be empty).
        pub fn poll(&mut self) -> Result<Vec<LogEntry>, ShimError> {
            unimplemented!("contract")
        }
    }
}
