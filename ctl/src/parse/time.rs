//! Times for `--since`/`--until`: Go durations (`10m`, `1h30m`), RFC 3339 timestamps, dates and
//! Unix timestamps, as Docker accepts them.

use chrono::{DateTime, Local, NaiveDate, NaiveDateTime, TimeZone, Utc};
use std::time::Duration;

/// Parses a Go duration such as `300ms`, `1.5h` or `2h45m`.
pub fn parse_go_duration(text: &str) -> Result<Duration, String> {
    let invalid = || format!("invalid duration: \"{text}\"");
    let body = text.strip_prefix('+').unwrap_or(text);
    if body == "0" {
        return Ok(Duration::ZERO);
    }
    if body.is_empty() {
        return Err(invalid());
    }
    let mut rest = body;
    let mut total_nanos: f64 = 0.0;
    while !rest.is_empty() {
        let number_end = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .ok_or_else(invalid)?;
        let (number, tail) = rest.split_at(number_end);
        if number.is_empty() || number == "." {
            return Err(invalid());
        }
        let value: f64 = number.parse().map_err(|_| invalid())?;
        let unit_end = tail
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(tail.len());
        let (unit, tail) = tail.split_at(unit_end);
        let nanos_per_unit = match unit {
            "ns" => 1.0,
            "us" | "µs" | "μs" => 1e3,
            "ms" => 1e6,
            "s" => 1e9,
            "m" => 60e9,
            "h" => 3600e9,
            _ => return Err(invalid()),
        };
        total_nanos += value * nanos_per_unit;
        rest = tail;
    }
    if !total_nanos.is_finite() || total_nanos > u64::MAX as f64 {
        return Err(invalid());
    }
    Ok(Duration::from_nanos(total_nanos as u64))
}

/// Parses a point in time relative to `now`: a duration means that long before `now`.
pub fn parse_timestamp(text: &str, now: DateTime<Utc>) -> Result<DateTime<Utc>, String> {
    // "0" is a Unix timestamp, not a zero duration, as in Docker.
    if let Some(ago) = (text != "0")
        .then(|| parse_go_duration(text).ok())
        .flatten()
    {
        let ago = chrono::Duration::from_std(ago).map_err(|_| format!("invalid time: {text}"))?;
        return now
            .checked_sub_signed(ago)
            .ok_or_else(|| format!("invalid time: {text}"));
    }
    if let Ok(time) = DateTime::parse_from_rfc3339(text) {
        return Ok(time.with_timezone(&Utc));
    }
    let local = |naive: NaiveDateTime| {
        Local
            .from_local_datetime(&naive)
            .earliest()
            .map(|t| t.with_timezone(&Utc))
    };
    for format in ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%dT%H:%M"] {
        if let Some(time) = NaiveDateTime::parse_from_str(text, format)
            .ok()
            .and_then(local)
        {
            return Ok(time);
        }
    }
    if let Some(time) = NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .ok()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .and_then(local)
    {
        return Ok(time);
    }
    parse_unix(text).ok_or_else(|| format!("invalid time: {text}"))
}

/// `1700000000` or `1700000000.5`.
fn parse_unix(text: &str) -> Option<DateTime<Utc>> {
    let (seconds, fraction) = text.split_once('.').unwrap_or((text, ""));
    if seconds.is_empty()
        || !seconds.bytes().all(|b| b.is_ascii_digit())
        || fraction.len() > 9
        || !fraction.bytes().all(|b| b.is_ascii_digit())
    {
        return None;
    }
    let nanos: u32 = if fraction.is_empty() {
        0
    } else {
        format!("{fraction:0<9}").parse().ok()?
    };
    DateTime::from_timestamp(seconds.parse().ok()?, nanos)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn go_durations() {
        assert_eq!(parse_go_duration("10m"), Ok(Duration::from_secs(600)));
        assert_eq!(parse_go_duration("1h30m"), Ok(Duration::from_secs(5400)));
        assert_eq!(parse_go_duration("1.5s"), Ok(Duration::from_millis(1500)));
        assert_eq!(parse_go_duration("300ms"), Ok(Duration::from_millis(300)));
        assert_eq!(parse_go_duration("2us"), Ok(Duration::from_micros(2)));
        assert_eq!(parse_go_duration("0"), Ok(Duration::ZERO));
        for bad in ["", "10", "m", "1x", "-1s", "1.2.3s", ".s", "1h 2m"] {
            assert!(parse_go_duration(bad).is_err(), "{bad} accepted");
        }
    }

    #[test]
    fn timestamps() {
        let now = DateTime::parse_from_rfc3339("2024-05-01T12:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        assert_eq!(
            parse_timestamp("10m", now).unwrap().to_rfc3339(),
            "2024-05-01T11:50:00+00:00"
        );
        // Docker reads "0" as the epoch, never as "zero ago".
        assert_eq!(parse_timestamp("0", now).unwrap().timestamp(), 0);
        assert_eq!(
            parse_timestamp("2024-01-02T03:04:05.5Z", now)
                .unwrap()
                .timestamp_millis(),
            1_704_164_645_500
        );
        assert_eq!(
            parse_timestamp("1700000000", now).unwrap().timestamp(),
            1_700_000_000
        );
        assert_eq!(
            parse_timestamp("1700000000.25", now)
                .unwrap()
                .timestamp_subsec_millis(),
            250
        );
        assert!(parse_timestamp("2024-01-02", now).is_ok());
        assert!(parse_timestamp("2024-01-02T03:04", now).is_ok());
        assert!(parse_timestamp("yesterday", now).is_err());
    }

    proptest! {
        #[test]
        fn never_panics(text in "\\PC{0,24}") {
            let _ = parse_go_duration(&text);
            let _ = parse_timestamp(&text, Utc::now());
        }

        #[test]
        fn whole_seconds(n in 0u64..10_000_000) {
            prop_assert_eq!(parse_go_duration(&format!("{n}s")), Ok(Duration::from_secs(n)));
        }
    }
}
