//! The runtime's error type. Every variant renders as one line naming the object at fault.

use std::io;
use std::path::PathBuf;

use crate::cgroups::CgroupError;
use crate::rootfs::RootfsError;
use crate::seccomp::SeccompError;

#[derive(Debug, thiserror::Error)]
pub enum RuntimeError {
    #[error("invalid container id {id:?}: {reason}")]
    InvalidId { id: String, reason: String },
    #[error("container {0:?} already exists")]
    AlreadyExists(String),
    #[error("container {0:?} does not exist")]
    NotFound(String),
    #[error("cannot {action} container {id:?}: it is {status}")]
    WrongState {
        id: String,
        action: &'static str,
        status: String,
    },
    #[error("invalid signal {0:?}")]
    InvalidSignal(String),
    #[error("bundle {}: {reason}", path.display())]
    Bundle { path: PathBuf, reason: String },
    #[error("invalid config: {0}")]
    InvalidConfig(String),
    #[error("{context}: {source}")]
    Sys { context: String, source: nix::Error },
    #[error("{context}: {source}")]
    Io { context: String, source: io::Error },
    /// Boxed: libcgroups' errors are large, and every result carries this type.
    #[error("cgroup: {0}")]
    Cgroup(Box<CgroupError>),
    #[error("rootfs: {0}")]
    Rootfs(#[from] RootfsError),
    #[error("seccomp: {0}")]
    Seccomp(#[from] SeccompError),
    #[error("{0}")]
    Init(String),
    #[error("{kind} hook {}: {reason}", path.display())]
    Hook {
        kind: &'static str,
        path: PathBuf,
        reason: String,
    },
}

impl From<CgroupError> for RuntimeError {
    fn from(err: CgroupError) -> Self {
        RuntimeError::Cgroup(Box::new(err))
    }
}

/// Attaches a human description of the failed step to low-level errors.
pub trait Context<T> {
    fn context(self, what: impl FnOnce() -> String) -> Result<T, RuntimeError>;
}

impl<T> Context<T> for nix::Result<T> {
    fn context(self, what: impl FnOnce() -> String) -> Result<T, RuntimeError> {
        self.map_err(|source| RuntimeError::Sys {
            context: what(),
            source,
        })
    }
}

impl<T> Context<T> for io::Result<T> {
    fn context(self, what: impl FnOnce() -> String) -> Result<T, RuntimeError> {
        self.map_err(|source| RuntimeError::Io {
            context: what(),
            source,
        })
    }
}

pub type Result<T, E = RuntimeError> = std::result::Result<T, E>;
