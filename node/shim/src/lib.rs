//! Berth's shim.
//!
//! `berth-shim` is one small single-threaded process per container, detached from berthd. It
//! mounts the container's rootfs, creates the container through the runtime, owns its stdio,
//! writes its log, reaps it, records the exit status atomically and serves a 0600 unix socket.
//! This library is the daemon's side: launching a shim ([`launch`]), talking to its socket
//! ([`ShimClient`]), and reading the files it writes ([`ExitRecord`], [`logs`]). The wire
//! protocol ([`protocol`]) and the log writer are shared with the shim binary.

mod client;
mod error;
mod exit;
mod launch;
pub mod logs;
pub mod protocol;
mod types;

pub use client::{IoEvent, IoReceiver, IoSender, ShimClient};
pub use error::ShimError;
pub use exit::ExitRecord;
pub use launch::{launch, Readiness, CONFIG_FILE, SHIM_LOG_FILE};
pub use types::{
    AttachOptions, CgroupStats, ExecSpec, Launched, LogOptions, RuntimeChoice, ShimConfig,
    ShimInfo, ShimStatus, WinSize,
};
