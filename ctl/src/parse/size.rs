//! Byte sizes as Docker writes them: `512m`, `1g`, `1.5GiB`, `1024` (binary units).

/// Parses a size with an optional binary unit (`b`, `k`, `m`, `g`, `t`, `p`, optionally followed
/// by `i` and/or `b`, any case) into bytes, as Docker's `RAMInBytes` does.
pub fn parse_bytes(text: &str) -> Result<i64, String> {
    let invalid = || format!("invalid size: '{text}'");
    let digits_end = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(digits_end);
    if number.is_empty() || number.starts_with('.') || number.ends_with('.') {
        return Err(invalid());
    }
    let unit = unit.strip_prefix(' ').unwrap_or(unit).to_ascii_lowercase();
    let (letter, rest) = match unit.chars().next() {
        Some(c @ ('k' | 'm' | 'g' | 't' | 'p')) => (Some(c), &unit[1..]),
        _ => (None, unit.as_str()),
    };
    if !matches!(rest, "" | "b" | "i" | "ib") {
        return Err(invalid());
    }
    let exponent = match letter {
        None => 0,
        Some('k') => 1,
        Some('m') => 2,
        Some('g') => 3,
        Some('t') => 4,
        Some(_) => 5,
    };
    let multiplier = 1024f64.powi(exponent);
    let value: f64 = number.parse().map_err(|_| invalid())?;
    let bytes = value * multiplier;
    if !bytes.is_finite() || bytes >= i64::MAX as f64 {
        return Err(invalid());
    }
    Ok(bytes as i64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn units_are_binary() {
        assert_eq!(parse_bytes("512m"), Ok(512 * 1024 * 1024));
        assert_eq!(parse_bytes("1g"), Ok(1 << 30));
        assert_eq!(parse_bytes("1G"), Ok(1 << 30));
        assert_eq!(parse_bytes("1GiB"), Ok(1 << 30));
        assert_eq!(parse_bytes("1gb"), Ok(1 << 30));
        assert_eq!(parse_bytes("64k"), Ok(65536));
        assert_eq!(parse_bytes("100"), Ok(100));
        assert_eq!(parse_bytes("100b"), Ok(100));
        assert_eq!(parse_bytes("1.5k"), Ok(1536));
        assert_eq!(parse_bytes("2 m"), Ok(2 << 20));
    }

    #[test]
    fn garbage_is_refused() {
        for bad in [
            "", "m", "-1", "12x", "1.2.3m", "1mm", "1bb", ".5m", "5.m", "1  ", "1e3", "1ki b",
            "1bi", "1x",
        ] {
            assert!(parse_bytes(bad).is_err(), "{bad} accepted");
        }
        assert_eq!(parse_bytes("12x"), Err("invalid size: '12x'".to_string()));
    }

    proptest! {
        #[test]
        fn never_panics(text in "\\PC{0,12}") {
            let _ = parse_bytes(&text);
        }

        #[test]
        fn round_trips_whole_units(n in 0i64..1_000_000, unit in 0usize..4) {
            let (suffix, factor) = [("", 1i64), ("k", 1 << 10), ("m", 1 << 20), ("g", 1 << 30)][unit];
            prop_assert_eq!(parse_bytes(&format!("{n}{suffix}")), Ok(n * factor));
        }
    }
}
