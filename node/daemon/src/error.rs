//! The domain's error: what went wrong, classified once. `server::status` turns it into a gRPC
//! status; every lower-level error is classified here, in one place.

use berth_image::ImageError;
use berth_shim::ShimError;
use berth_store::StoreError;

use crate::spec::SpecError;

/// Why a daemon operation failed. The message names the object, Docker-style.
#[derive(Debug, thiserror::Error)]
pub enum DomainError {
    /// The object does not exist.
    #[error("{0}")]
    NotFound(String),
    /// The object (or its name) already exists.
    #[error("{0}")]
    AlreadyExists(String),
    /// The request is malformed.
    #[error("{0}")]
    InvalidArgument(String),
    /// The object's state forbids the operation.
    #[error("{0}")]
    FailedPrecondition(String),
    /// A needed component (a shim, the runtime) is not reachable.
    #[error("{0}")]
    Unavailable(String),
    /// Content is corrupt: it does not match its digest, or a transfer ended early.
    #[error("{0}")]
    DataLoss(String),
    /// The host lacks a resource, such as disk space.
    #[error("{0}")]
    ResourceExhausted(String),
    /// A registry refused the credentials.
    #[error("{0}")]
    Unauthenticated(String),
    /// A registry denied access, or plain HTTP is not allowed for it.
    #[error("{0}")]
    PermissionDenied(String),
    /// The operation is not available yet.
    #[error("{0}")]
    Unimplemented(String),
    /// The container's command cannot be found (127) or executed (126).
    #[error("{message}")]
    CannotRun {
        /// The runtime's message.
        message: String,
        /// 126 or 127, as a shell reports it.
        exit_code: i32,
    },
    /// Anything else: the daemon or the host failed.
    #[error("{0}")]
    Internal(String),
}

/// Shorthand for domain results.
pub type DomainResult<T> = Result<T, DomainError>;

impl DomainError {
    /// An internal error with context.
    pub fn internal(context: impl std::fmt::Display, cause: impl std::fmt::Display) -> Self {
        Self::Internal(format!("{context}: {cause}"))
    }
}

impl From<StoreError> for DomainError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NameInUse { name, id } => Self::AlreadyExists(format!(
                "Conflict. The container name \"/{name}\" is already in use by container \"{id}\". \
                 You have to remove (or rename) that container to be able to reuse that name."
            )),
            StoreError::IdInUse(id) => {
                Self::AlreadyExists(format!("container {id} already exists"))
            }
            StoreError::NotFound(id) => Self::NotFound(format!("No such container: {id}")),
            other => Self::Internal(other.to_string()),
        }
    }
}

impl From<ImageError> for DomainError {
    fn from(e: ImageError) -> Self {
        match e {
            ImageError::NotFound(r) => Self::NotFound(format!("No such image: {r}")),
            ImageError::Ambiguous(p) => {
                Self::InvalidArgument(format!("multiple images found with provided prefix: {p}"))
            }
            ImageError::InvalidArgument(m) => Self::InvalidArgument(m),
            ImageError::InUse(m) => Self::FailedPrecondition(m),
            ImageError::Corrupt(m) => Self::DataLoss(m),
            ImageError::Unauthenticated(m) => Self::Unauthenticated(m),
            ImageError::PermissionDenied(m) => Self::PermissionDenied(m),
            ImageError::Unavailable(m) => Self::Unavailable(m),
            ImageError::Unsupported(m) => Self::Unimplemented(m),
            ImageError::NoSpace(m) => Self::ResourceExhausted(m),
            other => Self::Internal(other.to_string()),
        }
    }
}

impl From<SpecError> for DomainError {
    fn from(e: SpecError) -> Self {
        match e {
            SpecError::Invalid(_) | SpecError::MissingBindSource(_) => {
                Self::InvalidArgument(e.to_string())
            }
            SpecError::Unsupported(m) => Self::Unimplemented(m),
            SpecError::Io { .. } => Self::Internal(e.to_string()),
        }
    }
}

impl From<ShimError> for DomainError {
    fn from(e: ShimError) -> Self {
        match e {
            ShimError::NotRunning(_) => Self::Unavailable(e.to_string()),
            ShimError::InvalidArgument(m) => Self::InvalidArgument(m),
            ShimError::Failed(m) => match cannot_run_code(&m) {
                Some(exit_code) => Self::CannotRun {
                    message: m,
                    exit_code,
                },
                None => Self::Internal(m),
            },
            ShimError::Io { .. } => Self::Internal(e.to_string()),
        }
    }
}

/// Whether a runtime error says the command could not be found (127) or not executed (126),
/// judged by the runtime's message as Docker does.
pub fn cannot_run_code(message: &str) -> Option<i32> {
    let lower = message.to_ascii_lowercase();
    if lower.contains("permission denied") || lower.contains("is a directory") {
        Some(126)
    } else if lower.contains("not found") || lower.contains("no such file or directory") {
        Some(127)
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runtime_messages_map_to_shell_exit_codes() {
        assert_eq!(
            cannot_run_code("executable file \"nope\" not found in $PATH"),
            Some(127)
        );
        assert_eq!(cannot_run_code("exec /etc: Permission denied"), Some(126));
        assert_eq!(cannot_run_code("cgroup: device busy"), None);
    }

    #[test]
    fn store_conflicts_name_the_owner() {
        let e = DomainError::from(StoreError::NameInUse {
            name: "web".into(),
            id: "abc".into(),
        });
        assert!(matches!(e, DomainError::AlreadyExists(_)));
        assert!(e.to_string().starts_with(
            "Conflict. The container name \"/web\" is already in use by container \"abc\""
        ));
    }

    #[test]
    fn shim_failures_with_a_missing_command_carry_127() {
        let e = DomainError::from(ShimError::Failed(
            "executable file \"nope\" not found in $PATH".into(),
        ));
        assert!(matches!(e, DomainError::CannotRun { exit_code: 127, .. }));
        let e = DomainError::from(ShimError::NotRunning("abc".into()));
        assert!(matches!(e, DomainError::Unavailable(_)));
    }
}
