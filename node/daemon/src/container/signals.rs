//! Signal names and numbers as users give them (`KILL`, `SIGKILL`, `9`).

use nix::sys::signal::Signal;

use crate::error::{DomainError, DomainResult};

/// Parses a signal; an empty string is `default`.
pub fn parse(value: &str, default: Signal) -> DomainResult<Signal> {
    let value = value.trim();
    if value.is_empty() {
        return Ok(default);
    }
    let invalid = || DomainError::InvalidArgument(format!("invalid signal: {value}"));
    if let Ok(number) = value.parse::<i32>() {
        return Signal::try_from(number).map_err(|_| invalid());
    }
    let upper = value.to_ascii_uppercase();
    let name = if upper.starts_with("SIG") {
        upper
    } else {
        format!("SIG{upper}")
    };
    name.parse::<Signal>().map_err(|_| invalid())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_with_and_without_prefix_and_numbers() {
        assert_eq!(parse("KILL", Signal::SIGTERM).unwrap(), Signal::SIGKILL);
        assert_eq!(parse("sigkill", Signal::SIGTERM).unwrap(), Signal::SIGKILL);
        assert_eq!(parse("SIGHUP", Signal::SIGTERM).unwrap(), Signal::SIGHUP);
        assert_eq!(parse("15", Signal::SIGKILL).unwrap(), Signal::SIGTERM);
        assert_eq!(parse("", Signal::SIGKILL).unwrap(), Signal::SIGKILL);
    }

    #[test]
    fn unknown_signals_are_invalid() {
        for bad in ["FOO", "SIGFOO", "0", "999", "-9", "KILL9"] {
            let err = parse(bad, Signal::SIGTERM).unwrap_err();
            assert!(matches!(err, DomainError::InvalidArgument(_)), "{bad}");
        }
    }
}
