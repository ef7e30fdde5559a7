//! Exit codes and the one-line `Error: …` messages.

use std::fmt;
use tonic::{Code, Status};

/// Exit code of a daemon or CLI failure, as Docker uses it.
pub const EXIT_FAILURE: i32 = 125;

/// A failure with a specific exit code. An empty message means it was reported already.
#[derive(Debug)]
pub struct Failure {
    /// The process's exit code.
    pub code: i32,
    /// What to print after `Error: `.
    pub message: String,
}

impl Failure {
    /// A failure with exit code 125.
    pub fn new(message: impl Into<String>) -> Failure {
        Failure {
            code: EXIT_FAILURE,
            message: message.into(),
        }
    }

    /// A failure whose messages were already printed.
    pub fn reported() -> Failure {
        Failure {
            code: EXIT_FAILURE,
            message: String::new(),
        }
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Failure {}

/// The exit code a daemon puts on a failed StartContainer (126 or 127) in this metadata key.
const EXIT_CODE_KEY: &str = "berth-exit-code";

/// The exit code `run`/`start` report for a failed StartContainer: 126 (cannot invoke) or 127
/// (not found) when the daemon says so, else 125.
pub fn start_failure(status: &Status) -> Failure {
    let code = status
        .metadata()
        .get(EXIT_CODE_KEY)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.trim().parse::<i32>().ok())
        .filter(|code| matches!(code, 126 | 127))
        .unwrap_or(EXIT_FAILURE);
    Failure {
        code,
        message: status_message(status),
    }
}

/// The message of a status: the daemon's own words.
pub fn status_message(status: &Status) -> String {
    if status.message().is_empty() {
        format!("{:?}", status.code())
    } else {
        status.message().to_string()
    }
}

/// The exit code and message for an error that ends the command.
pub fn describe(error: &anyhow::Error, host: &str) -> (i32, String) {
    if let Some(failure) = error.downcast_ref::<Failure>() {
        return (failure.code, failure.message.clone());
    }
    if let Some(status) = error.downcast_ref::<Status>() {
        // A transport failure carries its cause; an UNAVAILABLE sent by the daemon does not.
        if status.code() == Code::Unavailable && std::error::Error::source(status).is_some() {
            return (
                EXIT_FAILURE,
                format!(
                    "Cannot connect to the berth daemon at {host}. Is berthd running? ({})",
                    status_message(status)
                ),
            );
        }
        return (EXIT_FAILURE, status_message(status));
    }
    (EXIT_FAILURE, format!("{error:#}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exit_code_from_metadata() {
        let mut status =
            Status::failed_precondition("exec: \"nope\": executable file not found in $PATH");
        assert_eq!(start_failure(&status).code, 125);
        status
            .metadata_mut()
            .insert(EXIT_CODE_KEY, "127".parse().unwrap());
        let failure = start_failure(&status);
        assert_eq!(
            (failure.code, failure.message.as_str()),
            (127, "exec: \"nope\": executable file not found in $PATH")
        );
        let mut status = Status::permission_denied("denied");
        status
            .metadata_mut()
            .insert(EXIT_CODE_KEY, "126".parse().unwrap());
        assert_eq!(start_failure(&status).code, 126);
        let mut status = Status::internal("odd");
        status
            .metadata_mut()
            .insert(EXIT_CODE_KEY, "3".parse().unwrap());
        assert_eq!(start_failure(&status).code, 125);
    }

    #[test]
    fn describing_errors() {
        let error = anyhow::Error::new(Status::not_found("No such container: x"));
        assert_eq!(
            describe(&error, "unix:///s"),
            (125, "No such container: x".to_string())
        );
        let error = anyhow::Error::new(Failure {
            code: 127,
            message: "m".into(),
        });
        assert_eq!(describe(&error, "unix:///s"), (127, "m".to_string()));
        // An UNAVAILABLE the daemon sent itself is its own message, not a connection failure.
        let error = anyhow::Error::new(Status::unavailable("the shim is gone"));
        assert_eq!(describe(&error, "unix:///s").1, "the shim is gone");
    }
}
