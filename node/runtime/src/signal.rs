//! Signal names and numbers as `kill` accepts them (`KILL`, `SIGKILL`, `9`).

use nix::sys::signal::Signal;
use std::str::FromStr;

use crate::error::RuntimeError;

/// Parses a signal given by name (with or without `SIG`, any case) or number.
pub fn parse_signal(text: &str) -> Result<Signal, RuntimeError> {
    let bad = || RuntimeError::InvalidSignal(text.to_owned());
    if let Ok(num) = text.parse::<i32>() {
        return Signal::try_from(num).map_err(|_| bad());
    }
    let upper = text.to_ascii_uppercase();
    let name = if upper.starts_with("SIG") {
        upper
    } else {
        format!("SIG{upper}")
    };
    Signal::from_str(&name).map_err(|_| bad())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_names_and_numbers() {
        assert_eq!(parse_signal("KILL").unwrap(), Signal::SIGKILL);
        assert_eq!(parse_signal("sigterm").unwrap(), Signal::SIGTERM);
        assert_eq!(parse_signal("SIGUSR1").unwrap(), Signal::SIGUSR1);
        assert_eq!(parse_signal("15").unwrap(), Signal::SIGTERM);
    }

    proptest::proptest! {
        /// Every signal parses back from its name, its short name and its number.
        #[test]
        fn names_and_numbers_round_trip(index in 0usize..31) {
            let signal = Signal::iterator().nth(index).unwrap();
            proptest::prop_assert_eq!(parse_signal(signal.as_str()).unwrap(), signal);
            proptest::prop_assert_eq!(parse_signal(&signal.as_str()[3..]).unwrap(), signal);
            proptest::prop_assert_eq!(parse_signal(&(signal as i32).to_string()).unwrap(), signal);
        }

        #[test]
        fn never_panics(text in "\\PC{0,20}") {
            let _ = parse_signal(&text);
        }
    }

    #[test]
    fn rejects_unknown_signals() {
        for s in ["", "FOO", "SIG", "0", "999", "-1"] {
            assert!(parse_signal(s).is_err(), "{s:?} accepted");
        }
    }
}
