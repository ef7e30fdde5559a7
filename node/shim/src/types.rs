//! The plain data the daemon and the shim exchange: the shim's configuration, and the values
//! its requests take and return.

use std::path::PathBuf;

use berth_image::overlay::OverlayMount;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::ExitRecord;

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

/// Where the container is in its life, as its shim sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ShimStatus {
    /// Created, waiting for `start`.
    Created,
    /// The main process runs.
    Running,
    /// Frozen by `pause`.
    Paused,
    /// The main process exited; the shim is finishing up.
    Exited,
}

/// What a shim says about itself: the daemon asks this when it reconnects after a restart.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShimInfo {
    /// The container ID.
    pub id: String,
    /// The shim's PID.
    pub shim_pid: u32,
    /// The container's init PID on the host.
    pub container_pid: u32,
    /// The container's state.
    pub status: ShimStatus,
    /// When the main process started, once started.
    pub started_at: Option<DateTime<Utc>>,
    /// How the main process ended, once it has.
    pub exit: Option<ExitRecord>,
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
