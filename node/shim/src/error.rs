//! The error every shim operation returns.

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

impl ShimError {
    /// An `Io` error with its context, for `map_err`.
    pub(crate) fn io(context: impl Into<String>) -> impl FnOnce(std::io::Error) -> Self {
        let context = context.into();
        move |source| ShimError::Io { context, source }
    }
}
