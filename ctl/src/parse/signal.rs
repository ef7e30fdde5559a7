//! Signal names and numbers as `kill -s`, `--stop-signal` and `stop -s` take them.

/// Linux signal names (without `SIG`) and numbers.
const SIGNALS: &[(&str, u8)] = &[
    ("HUP", 1),
    ("INT", 2),
    ("QUIT", 3),
    ("ILL", 4),
    ("TRAP", 5),
    ("ABRT", 6),
    ("IOT", 6),
    ("BUS", 7),
    ("FPE", 8),
    ("KILL", 9),
    ("USR1", 10),
    ("SEGV", 11),
    ("USR2", 12),
    ("PIPE", 13),
    ("ALRM", 14),
    ("TERM", 15),
    ("STKFLT", 16),
    ("CHLD", 17),
    ("CONT", 18),
    ("STOP", 19),
    ("TSTP", 20),
    ("TTIN", 21),
    ("TTOU", 22),
    ("URG", 23),
    ("XCPU", 24),
    ("XFSZ", 25),
    ("VTALRM", 26),
    ("PROF", 27),
    ("WINCH", 28),
    ("IO", 29),
    ("POLL", 29),
    ("PWR", 30),
    ("SYS", 31),
];
const RTMIN: u8 = 34;
const RTMAX: u8 = 64;

/// Validates a signal (`KILL`, `SIGKILL`, `sigkill`, `9`, `RTMIN+3`) and returns its canonical
/// form: `SIGNAME` when it has a name, else its number.
pub fn parse_signal(text: &str) -> Result<String, String> {
    let invalid = || format!("invalid signal: {text}");
    if let Ok(number) = text.parse::<u8>() {
        if number == 0 || number > RTMAX {
            return Err(invalid());
        }
        return Ok(SIGNALS
            .iter()
            .find(|(_, n)| *n == number)
            .map_or_else(|| number.to_string(), |(name, _)| format!("SIG{name}")));
    }
    let upper = text.to_ascii_uppercase();
    let name = upper.strip_prefix("SIG").unwrap_or(&upper);
    if SIGNALS.iter().any(|(n, _)| *n == name) {
        return Ok(format!("SIG{name}"));
    }
    realtime_number(name)
        .map(|n| n.to_string())
        .ok_or_else(invalid)
}

/// `RTMIN`, `RTMIN+n`, `RTMAX`, `RTMAX-n`.
fn realtime_number(name: &str) -> Option<u8> {
    let (rest, sign) = if let Some(rest) = name.strip_prefix("RTMIN") {
        (rest, '+')
    } else {
        (name.strip_prefix("RTMAX")?, '-')
    };
    let offset: u8 = if rest.is_empty() {
        0
    } else {
        let digits = rest.strip_prefix(sign)?;
        if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        digits.parse().ok()?
    };
    let number = if sign == '+' {
        RTMIN.checked_add(offset)?
    } else {
        RTMAX.checked_sub(offset)?
    };
    (RTMIN..=RTMAX).contains(&number).then_some(number)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn names_and_numbers() {
        assert_eq!(parse_signal("KILL").unwrap(), "SIGKILL");
        assert_eq!(parse_signal("SIGKILL").unwrap(), "SIGKILL");
        assert_eq!(parse_signal("sigterm").unwrap(), "SIGTERM");
        assert_eq!(parse_signal("hup").unwrap(), "SIGHUP");
        assert_eq!(parse_signal("9").unwrap(), "SIGKILL");
        assert_eq!(parse_signal("40").unwrap(), "40");
        assert_eq!(parse_signal("RTMIN").unwrap(), "34");
        assert_eq!(parse_signal("SIGRTMIN+2").unwrap(), "36");
        assert_eq!(parse_signal("RTMAX-1").unwrap(), "63");
    }

    #[test]
    fn unknown_signals() {
        for bad in [
            "", "0", "65", "300", "FOO", "SIG", "RTMIN+31", "RTMAX-31", "RTMIN-1", "RTMAXX", "-9",
            "RTMIN++1", "RTMIN+",
        ] {
            assert!(parse_signal(bad).is_err(), "{bad} accepted");
        }
        assert_eq!(parse_signal("FOO").unwrap_err(), "invalid signal: FOO");
    }

    proptest! {
        #[test]
        fn never_panics(text in "\\PC{0,16}") {
            let _ = parse_signal(&text);
        }

        #[test]
        fn every_number_is_valid(n in 1u8..=64) {
            let canonical = parse_signal(&n.to_string()).unwrap();
            prop_assert_eq!(parse_signal(&canonical).unwrap(), canonical);
        }
    }
}
