//! The crate's error type and conversions from the libraries underneath.

/// Why an image-store operation failed.
#[derive(Debug, thiserror::Error)]
pub enum ImageError {
    /// No image matches the reference, ID or prefix.
    #[error("no such image: {0}")]
    NotFound(String),
    /// An ID prefix matches more than one image.
    #[error("ambiguous image ID prefix {0}")]
    Ambiguous(String),
    /// A malformed reference, archive, config change or path.
    #[error("{0}")]
    InvalidArgument(String),
    /// The image is in use (removal without force).
    #[error("{0}")]
    InUse(String),
    /// A filesystem or database failure.
    #[error("{context}: {source}")]
    Io {
        /// What was being done.
        context: String,
        /// The cause.
        source: std::io::Error,
    },
    /// Content does not match its digest, size or diff ID, or a transfer ended early.
    #[error("{0}")]
    Corrupt(String),
    /// The registry refused the credentials.
    #[error("{0}")]
    Unauthenticated(String),
    /// Not allowed: the registry denied access, or plain HTTP to a registry that is not
    /// configured as insecure.
    #[error("{0}")]
    PermissionDenied(String),
    /// The registry cannot be reached, or failed mid-transfer.
    #[error("{0}")]
    Unavailable(String),
    /// The store's filesystem lacks the space an operation needs.
    #[error("{0}")]
    NoSpace(String),
    /// A media type or manifest form Berth does not handle.
    #[error("{0}")]
    Unsupported(String),
    /// The metadata database failed.
    #[error("image index: {0}")]
    Database(String),
}

impl ImageError {
    /// An I/O failure while doing `context`.
    pub(crate) fn io(context: impl Into<String>, source: std::io::Error) -> Self {
        ImageError::Io {
            context: context.into(),
            source,
        }
    }

    /// A failed syscall while doing `context`.
    pub(crate) fn sys(context: impl Into<String>, errno: nix::errno::Errno) -> Self {
        Self::io(context, std::io::Error::from_raw_os_error(errno as i32))
    }

    /// A failed in-root operation while doing `context`.
    pub(crate) fn pathrs(context: impl Into<String>, err: pathrs::error::Error) -> Self {
        Self::io(context, pathrs_io(err))
    }

    /// A malformed input.
    pub(crate) fn invalid(message: impl Into<String>) -> Self {
        ImageError::InvalidArgument(message.into())
    }
}

/// pathrs errors as `io::Error`, keeping the errno when there is one so callers can match it.
fn pathrs_io(err: pathrs::error::Error) -> std::io::Error {
    match err.kind() {
        pathrs::error::ErrorKind::OsError(Some(errno)) => std::io::Error::from_raw_os_error(errno),
        _ => std::io::Error::other(err.to_string()),
    }
}

macro_rules! db_error {
    ($($ty:ty),*) => {$(
        impl From<$ty> for ImageError {
            fn from(err: $ty) -> Self {
                ImageError::Database(err.to_string())
            }
        }
    )*};
}

db_error!(
    redb::TransactionError,
    redb::TableError,
    redb::StorageError,
    redb::CommitError
);
