//! Docker's human-readable times, sizes and truncation (go-units and the CLI's formatter).

use chrono::{DateTime, SecondsFormat, Utc};
use prost_types::Timestamp;
use std::time::Duration;

/// How Docker prints a zero time.
pub const ZERO_TIME: &str = "0001-01-01T00:00:00Z";

/// go-units' `HumanDuration`: "Less than a second", "5 seconds", "About a minute", "2 hours"…
pub fn human_duration(elapsed: Duration) -> String {
    let seconds = elapsed.as_secs();
    let hours_f = elapsed.as_secs_f64() / 3600.0;
    let minutes = seconds / 60;
    let hours = (hours_f + 0.5) as u64;
    if seconds < 1 {
        "Less than a second".to_string()
    } else if seconds == 1 {
        "1 second".to_string()
    } else if seconds < 60 {
        format!("{seconds} seconds")
    } else if minutes == 1 {
        "About a minute".to_string()
    } else if minutes < 60 {
        format!("{minutes} minutes")
    } else if hours == 1 {
        "About an hour".to_string()
    } else if hours < 48 {
        format!("{hours} hours")
    } else if hours < 24 * 7 * 2 {
        format!("{} days", hours / 24)
    } else if hours < 24 * 30 * 2 {
        format!("{} weeks", hours / 24 / 7)
    } else if hours < 24 * 365 * 2 {
        format!("{} months", hours / 24 / 30)
    } else {
        format!("{} years", (hours_f / 24.0 / 365.0) as u64)
    }
}

/// `human_duration` of the time since `then`, plus " ago".
pub fn ago(then: DateTime<Utc>, now: DateTime<Utc>) -> String {
    format!("{} ago", human_duration(since(then, now)))
}

/// The time from `then` to `now`, zero if `then` is in the future.
pub fn since(then: DateTime<Utc>, now: DateTime<Utc>) -> Duration {
    (now - then).to_std().unwrap_or(Duration::ZERO)
}

/// go-units' `HumanSizeWithPrecision`: decimal units (`kB`, `MB`…), `precision` significant
/// digits, as in Docker's `SIZE` columns (`1.98MB`).
pub fn human_size(bytes: f64, precision: usize) -> String {
    scaled(
        bytes,
        1000.0,
        &["B", "kB", "MB", "GB", "TB", "PB", "EB", "ZB", "YB"],
        precision,
    )
}

/// go-units' `BytesSize`: binary units (`KiB`, `MiB`…), 4 significant digits (`1.5MiB`).
pub fn bytes_size(bytes: f64) -> String {
    scaled(
        bytes,
        1024.0,
        &["B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB", "ZiB", "YiB"],
        4,
    )
}

fn scaled(mut size: f64, base: f64, units: &[&str], precision: usize) -> String {
    let mut unit = 0;
    while size >= base && unit < units.len() - 1 {
        size /= base;
        unit += 1;
    }
    format!("{}{}", format_g(size, precision), units[unit])
}

/// Go's `%.{precision}g`: shortest of %e and %f with `precision` significant digits, trailing
/// zeros removed.
pub fn format_g(value: f64, precision: usize) -> String {
    let precision = precision.max(1);
    if value == 0.0 || !value.is_finite() {
        return if value.is_finite() {
            "0".to_string()
        } else {
            value.to_string()
        };
    }
    let scientific = format!("{:.*e}", precision - 1, value);
    let (mantissa, exponent) = scientific.split_once('e').unwrap_or((&scientific, "0"));
    let exponent: i32 = exponent.parse().unwrap_or(0);
    if exponent < -4 || exponent >= precision as i32 {
        let sign = if exponent < 0 { '-' } else { '+' };
        format!("{}e{sign}{:02}", trim_zeros(mantissa), exponent.abs())
    } else {
        let decimals = (precision as i32 - 1 - exponent).max(0) as usize;
        trim_zeros(&format!("{value:.decimals$}")).to_string()
    }
}

fn trim_zeros(number: &str) -> &str {
    if number.contains('.') {
        number.trim_end_matches('0').trim_end_matches('.')
    } else {
        number
    }
}

/// A protobuf timestamp as a UTC time; `None` when unset or zero.
pub fn to_datetime(timestamp: Option<&Timestamp>) -> Option<DateTime<Utc>> {
    let t = timestamp?;
    if t.seconds == 0 && t.nanos == 0 {
        return None;
    }
    DateTime::from_timestamp(t.seconds, u32::try_from(t.nanos).ok()?)
}

/// A UTC time as a protobuf timestamp.
pub fn to_timestamp(time: DateTime<Utc>) -> Timestamp {
    Timestamp {
        seconds: time.timestamp(),
        nanos: i32::try_from(time.timestamp_subsec_nanos()).unwrap_or(0),
    }
}

/// Go's RFC3339Nano (trailing zeros of the fraction dropped); Docker's zero time when unset.
pub fn rfc3339_nano(timestamp: Option<&Timestamp>) -> String {
    match to_datetime(timestamp) {
        None => ZERO_TIME.to_string(),
        Some(time) => {
            let text = time.to_rfc3339_opts(SecondsFormat::Nanos, true);
            match text.rsplit_once('.') {
                Some((whole, fraction)) => {
                    let digits = fraction.trim_end_matches('Z').trim_end_matches('0');
                    if digits.is_empty() {
                        format!("{whole}Z")
                    } else {
                        format!("{whole}.{digits}Z")
                    }
                }
                None => text,
            }
        }
    }
}

/// Docker's fixed-width RFC 3339 time with nanoseconds, as `logs -t` and `events` print it:
/// `2024-01-01T00:00:00.000000000Z`.
pub fn rfc3339_nano_fixed(timestamp: Option<&Timestamp>) -> String {
    to_datetime(timestamp)
        .map(|t| t.format("%Y-%m-%dT%H:%M:%S%.9fZ").to_string())
        .unwrap_or_else(|| "0001-01-01T00:00:00.000000000Z".to_string())
}

/// Go's `time.Time.String()` in UTC without the fraction, as `CreatedAt` columns show it:
/// `2024-01-01 10:00:00 +0000 UTC`.
pub fn go_time_string(time: DateTime<Utc>) -> String {
    time.format("%Y-%m-%d %H:%M:%S +0000 UTC").to_string()
}

/// Docker's `Ellipsis`: at most `width` characters, the last one `…` when cut.
pub fn ellipsis(text: &str, width: usize) -> String {
    if text.chars().count() <= width {
        return text.to_string();
    }
    if width == 0 {
        return String::new();
    }
    let mut cut: String = text.chars().take(width - 1).collect();
    cut.push('…');
    cut
}

/// The first 12 hex digits of an ID, without any `sha256:` prefix.
pub fn short_id(id: &str) -> &str {
    let hex = id.strip_prefix("sha256:").unwrap_or(id);
    hex.get(..12).unwrap_or(hex)
}

/// Go's `strconv.Quote`: double quotes, with `"`, `\` and control characters escaped.
pub fn go_quote(text: &str) -> String {
    let mut quoted = String::with_capacity(text.len() + 2);
    quoted.push('"');
    for c in text.chars() {
        match c {
            '"' => quoted.push_str("\\\""),
            '\\' => quoted.push_str("\\\\"),
            '\n' => quoted.push_str("\\n"),
            '\t' => quoted.push_str("\\t"),
            '\r' => quoted.push_str("\\r"),
            '\x07' => quoted.push_str("\\a"),
            '\x08' => quoted.push_str("\\b"),
            '\x0c' => quoted.push_str("\\f"),
            '\x0b' => quoted.push_str("\\v"),
            c if (c as u32) < 0x20 || c == '\x7f' => {
                quoted.push_str(&format!("\\x{:02x}", c as u32))
            }
            c => quoted.push(c),
        }
    }
    quoted.push('"');
    quoted
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn durations_like_go_units() {
        let d = Duration::from_secs;
        assert_eq!(
            human_duration(Duration::from_millis(400)),
            "Less than a second"
        );
        assert_eq!(human_duration(d(1)), "1 second");
        assert_eq!(human_duration(d(5)), "5 seconds");
        assert_eq!(human_duration(d(60)), "About a minute");
        assert_eq!(human_duration(d(119)), "About a minute");
        assert_eq!(human_duration(d(120)), "2 minutes");
        assert_eq!(human_duration(d(3599)), "59 minutes");
        assert_eq!(human_duration(d(3600)), "About an hour");
        assert_eq!(human_duration(d(2 * 3600)), "2 hours");
        assert_eq!(human_duration(d(47 * 3600)), "47 hours");
        assert_eq!(human_duration(d(3 * 86400)), "3 days");
        assert_eq!(human_duration(d(20 * 86400)), "2 weeks");
        assert_eq!(human_duration(d(90 * 86400)), "3 months");
        assert_eq!(human_duration(d(3 * 365 * 86400)), "3 years");
    }

    #[test]
    fn sizes_like_go_units() {
        assert_eq!(human_size(1_984_230.0, 3), "1.98MB");
        assert_eq!(human_size(1_984_230.0, 4), "1.984MB");
        assert_eq!(human_size(4_260_000.0, 3), "4.26MB");
        assert_eq!(human_size(0.0, 3), "0B");
        assert_eq!(human_size(512.0, 3), "512B");
        assert_eq!(human_size(1000.0, 3), "1kB");
        assert_eq!(human_size(999_999.0, 3), "1e+03kB");
        assert_eq!(bytes_size(1_274_000.0), "1.215MiB");
        assert_eq!(bytes_size(64.0 * 1024.0 * 1024.0), "64MiB");
        assert_eq!(bytes_size(1536.0), "1.5KiB");
        assert_eq!(format_g(0.000012345, 3), "1.23e-05");
        assert_eq!(format_g(123.0, 2), "1.2e+02");
    }

    #[test]
    fn times() {
        let t = |seconds, nanos| Timestamp { seconds, nanos };
        assert_eq!(rfc3339_nano(None), ZERO_TIME);
        assert_eq!(rfc3339_nano(Some(&t(0, 0))), ZERO_TIME);
        assert_eq!(
            rfc3339_nano(Some(&t(1_795_866_129, 944_093_865))),
            "2026-11-28T11:42:09.944093865Z"
        );
        assert_eq!(
            rfc3339_nano(Some(&t(1_795_866_129, 500_000_000))),
            "2026-11-28T11:42:09.5Z"
        );
        assert_eq!(
            rfc3339_nano(Some(&t(1_795_866_129, 0))),
            "2026-11-28T11:42:09Z"
        );
        assert_eq!(
            rfc3339_nano_fixed(Some(&t(1_795_866_129, 5_000))),
            "2026-11-28T11:42:09.000005000Z"
        );
        let time = DateTime::from_timestamp(1_795_865_879, 0).unwrap();
        assert_eq!(go_time_string(time), "2026-11-28 11:37:59 +0000 UTC");
    }

    #[test]
    fn truncation_and_quoting() {
        assert_eq!(ellipsis("sleep 1000", 20), "sleep 1000");
        assert_eq!(
            ellipsis("sh -c 'while true; do echo hi; done'", 20),
            "sh -c 'while true; …"
        );
        assert_eq!(
            ellipsis("sh -c 'while true; do echo hi; done'", 20)
                .chars()
                .count(),
            20
        );
        assert_eq!(
            short_id("sha256:31424862214b766e2955637926f5"),
            "31424862214b"
        );
        assert_eq!(short_id("abc"), "abc");
        assert_eq!(go_quote("echo \"hi\"\n"), r#""echo \"hi\"\n""#);
    }

    proptest! {
        #[test]
        fn sizes_never_panic(bytes in any::<f64>(), precision in 0usize..10) {
            let _ = human_size(bytes, precision);
            let _ = bytes_size(bytes);
        }

        #[test]
        fn ellipsis_respects_width(text in "\\PC{0,40}", width in 0usize..30) {
            prop_assert!(ellipsis(&text, width).chars().count() <= width.max(text.chars().count().min(width)));
        }

        #[test]
        fn durations_never_panic(secs in any::<u64>()) {
            let _ = human_duration(Duration::from_secs(secs));
        }
    }
}
