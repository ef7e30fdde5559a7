//! Conversions between protobuf timestamps and chrono times.

use chrono::{DateTime, Utc};
use prost_types::Timestamp;

/// Now, as a protobuf timestamp.
pub fn now() -> Timestamp {
    to_timestamp(Utc::now())
}

/// A chrono time as a protobuf timestamp.
pub fn to_timestamp(t: DateTime<Utc>) -> Timestamp {
    Timestamp {
        seconds: t.timestamp(),
        // `timestamp_subsec_nanos` is below 2e9 (leap seconds), which fits in i32.
        nanos: i32::try_from(t.timestamp_subsec_nanos()).unwrap_or(999_999_999),
    }
}

/// A protobuf timestamp as a chrono time; `None` for unset or out-of-range values.
pub fn from_timestamp(ts: Option<&Timestamp>) -> Option<DateTime<Utc>> {
    let ts = ts?;
    DateTime::from_timestamp(ts.seconds, u32::try_from(ts.nanos).ok()?)
}

/// Nanoseconds since the epoch of a timestamp (0 when unset), for ordering.
pub fn nanos(ts: Option<&Timestamp>) -> i128 {
    ts.map_or(0, |ts| {
        i128::from(ts.seconds) * 1_000_000_000 + i128::from(ts.nanos)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_round_trip() {
        let t = DateTime::from_timestamp(1_700_000_000, 123_456_789).unwrap();
        let ts = to_timestamp(t);
        assert_eq!(from_timestamp(Some(&ts)), Some(t));
        assert_eq!(nanos(Some(&ts)), 1_700_000_000_123_456_789);
        assert_eq!(from_timestamp(None), None);
    }
}
