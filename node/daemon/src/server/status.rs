//! The one mapping from domain errors to gRPC statuses.

use tonic::{metadata::MetadataValue, Code, Status};

use crate::error::DomainError;

/// The trailer that carries the exit code a CLI should use when a command cannot run.
pub const EXIT_CODE_TRAILER: &str = "berth-exit-code";

impl From<DomainError> for Status {
    fn from(e: DomainError) -> Self {
        let message = e.to_string();
        match e {
            DomainError::NotFound(_) => Status::new(Code::NotFound, message),
            DomainError::AlreadyExists(_) => Status::new(Code::AlreadyExists, message),
            DomainError::InvalidArgument(_) => Status::new(Code::InvalidArgument, message),
            DomainError::FailedPrecondition(_) => Status::new(Code::FailedPrecondition, message),
            DomainError::Unavailable(_) => Status::new(Code::Unavailable, message),
            DomainError::Unimplemented(_) => Status::new(Code::Unimplemented, message),
            DomainError::DataLoss(_) => Status::new(Code::DataLoss, message),
            DomainError::ResourceExhausted(_) => Status::new(Code::ResourceExhausted, message),
            DomainError::Unauthenticated(_) => Status::new(Code::Unauthenticated, message),
            DomainError::PermissionDenied(_) => Status::new(Code::PermissionDenied, message),
            DomainError::CannotRun { exit_code, .. } => {
                let mut status = Status::new(Code::InvalidArgument, message);
                status
                    .metadata_mut()
                    .insert(EXIT_CODE_TRAILER, MetadataValue::from(exit_code));
                status
            }
            DomainError::Internal(_) => Status::new(Code::Internal, message),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_kind_gets_its_code_and_keeps_the_message() {
        let cases = [
            (
                DomainError::NotFound("No such container: x".into()),
                Code::NotFound,
            ),
            (
                DomainError::AlreadyExists("dup".into()),
                Code::AlreadyExists,
            ),
            (
                DomainError::InvalidArgument("bad".into()),
                Code::InvalidArgument,
            ),
            (
                DomainError::FailedPrecondition("running".into()),
                Code::FailedPrecondition,
            ),
            (DomainError::Unavailable("gone".into()), Code::Unavailable),
            (
                DomainError::Unimplemented("later".into()),
                Code::Unimplemented,
            ),
            (DomainError::DataLoss("digest".into()), Code::DataLoss),
            (
                DomainError::ResourceExhausted("disk".into()),
                Code::ResourceExhausted,
            ),
            (
                DomainError::Unauthenticated("denied".into()),
                Code::Unauthenticated,
            ),
            (
                DomainError::PermissionDenied("http".into()),
                Code::PermissionDenied,
            ),
            (DomainError::Internal("oops".into()), Code::Internal),
        ];
        for (error, code) in cases {
            let message = error.to_string();
            let status = Status::from(error);
            assert_eq!(status.code(), code);
            assert_eq!(status.message(), message);
        }
    }

    #[test]
    fn a_command_that_cannot_run_carries_its_exit_code() {
        let status = Status::from(DomainError::CannotRun {
            message: "executable file \"nope\" not found in $PATH".into(),
            exit_code: 127,
        });
        assert_eq!(status.code(), Code::InvalidArgument);
        let value = status.metadata().get(EXIT_CODE_TRAILER).unwrap();
        assert_eq!(value.to_str().unwrap(), "127");
    }
}
