//! `--cpus 1.5`: a decimal number of CPUs, converted exactly to nano-CPUs.

const NANOS_PER_CPU: i64 = 1_000_000_000;

/// Parses a positive decimal CPU count into units of 1e-9 CPUs without rounding errors.
pub fn parse_nano_cpus(text: &str) -> Result<i64, String> {
    let invalid =
        || format!("invalid argument \"{text}\" for \"--cpus\" flag: not a number of CPUs");
    let (whole, fraction) = text.split_once('.').unwrap_or((text, ""));
    let all_digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if (whole.is_empty() && fraction.is_empty()) || !all_digits(whole) || !all_digits(fraction) {
        return Err(invalid());
    }
    if fraction.len() > 9 {
        return Err(format!(
            "invalid argument \"{text}\" for \"--cpus\" flag: value is too precise"
        ));
    }
    let whole: i64 = if whole.is_empty() {
        0
    } else {
        whole.parse().map_err(|_| invalid())?
    };
    let fraction_nanos: i64 = if fraction.is_empty() {
        0
    } else {
        format!("{fraction:0<9}").parse().map_err(|_| invalid())?
    };
    let nanos = whole
        .checked_mul(NANOS_PER_CPU)
        .and_then(|n| n.checked_add(fraction_nanos))
        .ok_or_else(invalid)?;
    if nanos == 0 {
        return Err(format!("invalid argument \"{text}\" for \"--cpus\" flag: the number of CPUs must be greater than 0"));
    }
    Ok(nanos)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn decimals_are_exact() {
        assert_eq!(parse_nano_cpus("1.5"), Ok(1_500_000_000));
        assert_eq!(parse_nano_cpus("2"), Ok(2_000_000_000));
        assert_eq!(parse_nano_cpus("0.1"), Ok(100_000_000));
        assert_eq!(parse_nano_cpus(".25"), Ok(250_000_000));
        assert_eq!(parse_nano_cpus("0.000000001"), Ok(1));
    }

    #[test]
    fn zero_negative_and_garbage_are_refused() {
        for bad in [
            "0",
            "0.0",
            "-1",
            "",
            ".",
            "1.2.3",
            "abc",
            "1e3",
            "0.0000000001",
            "99999999999999",
        ] {
            assert!(parse_nano_cpus(bad).is_err(), "{bad} accepted");
        }
    }

    proptest! {
        #[test]
        fn never_panics(text in "\\PC{0,24}") {
            let _ = parse_nano_cpus(&text);
        }

        #[test]
        fn matches_integer_arithmetic(whole in 0i64..1000, frac in 0i64..1_000_000_000) {
            prop_assume!(whole > 0 || frac > 0);
            prop_assert_eq!(parse_nano_cpus(&format!("{whole}.{frac:09}")), Ok(whole * NANOS_PER_CPU + frac));
        }
    }
}
