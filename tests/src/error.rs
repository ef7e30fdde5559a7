//! The one error type of the fixtures: every fixture step names what it was doing.

use std::path::PathBuf;

/// A fixture could not be prepared or a runtime command could not be driven.
#[derive(thiserror::Error)]
pub enum FixtureError {
    /// A filesystem or process operation failed.
    #[error("{what}: {source}")]
    Io {
        what: String,
        #[source]
        source: std::io::Error,
    },
    /// A system call made through nix failed.
    #[error("{what}: {source}")]
    Sys {
        what: String,
        #[source]
        source: nix::Error,
    },
    /// The runtime binary under test does not exist.
    #[error(
        "runtime binary {0} not found: run `cargo build --workspace` first, \
         or set BERTH_TEST_RUNTIME to a runc-compatible runtime"
    )]
    RuntimeMissing(PathBuf),
    /// A runtime command did not finish in time (it was killed).
    #[error("`{command}` did not finish within {seconds}s")]
    Timeout { command: String, seconds: u64 },
    /// The OCI spec could not be built or serialised.
    #[error("OCI spec: {0}")]
    Spec(#[from] oci_spec::OciSpecError),
    /// JSON produced or consumed by a fixture was invalid.
    #[error("{what}: {source}")]
    Json {
        what: String,
        #[source]
        source: serde_json::Error,
    },
    /// Something the fixture expected of the host or the runtime was not there.
    #[error("{0}")]
    Unexpected(String),
}

/// Tests `unwrap()` fixture results, which prints `Debug`: make that the readable message.
impl std::fmt::Debug for FixtureError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Display::fmt(self, f)
    }
}

impl FixtureError {
    /// Wraps an I/O error with what the fixture was doing.
    pub fn io(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> Self {
        let what = what.into();
        move |source| Self::Io { what, source }
    }

    /// Wraps a nix error with what the fixture was doing.
    pub fn sys(what: impl Into<String>) -> impl FnOnce(nix::Error) -> Self {
        let what = what.into();
        move |source| Self::Sys { what, source }
    }

    /// Wraps a JSON error with what the fixture was doing.
    pub fn json(what: impl Into<String>) -> impl FnOnce(serde_json::Error) -> Self {
        let what = what.into();
        move |source| Self::Json { what, source }
    }
}

/// The fixtures' result type.
pub type Result<T> = std::result::Result<T, FixtureError>;
