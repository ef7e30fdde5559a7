//! `--cpuset-cpus 0-2,4`: a cpuset list.

/// Checks a cpuset list (`0`, `0-3`, `0,2-4`) and returns it unchanged.
pub fn parse_cpuset(text: &str) -> Result<String, String> {
    let invalid = || format!("invalid value {text} for cpuset cpus");
    for range in text.split(',') {
        let (low, high) = range.split_once('-').unwrap_or((range, range));
        let number = |s: &str| -> Result<u32, String> {
            if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
                return Err(invalid());
            }
            s.parse().map_err(|_| invalid())
        };
        if number(low)? > number(high)? {
            return Err(invalid());
        }
    }
    Ok(text.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn lists() {
        for good in ["0", "0-1", "0,2-4,7", "10-10"] {
            assert_eq!(parse_cpuset(good).as_deref(), Ok(good));
        }
        for bad in ["", "a", "1-", "-1", "3-1", "0,,1", "0-1-2", " 1"] {
            assert!(parse_cpuset(bad).is_err(), "{bad} accepted");
        }
    }

    proptest! {
        #[test]
        fn never_panics(text in "\\PC{0,16}") {
            let _ = parse_cpuset(&text);
        }
    }
}
