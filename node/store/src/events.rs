//! Event keys: time-ordered and unique.

use std::time::{SystemTime, UNIX_EPOCH};

/// How many events the daemon keeps by default.
pub const DEFAULT_EVENT_HISTORY: u64 = 10_000;

/// The key of a stored event: nanoseconds since the epoch in the high bits and a sequence in
/// the low 32 bits, so events at the same nanosecond keep their order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct EventKey(pub u128);

impl EventKey {
    /// The smallest key of events at or after `time`.
    pub fn first_at(time: SystemTime) -> Self {
        let nanos = time.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_nanos());
        Self(nanos << 32)
    }

    /// The key for an event at `time` that follows `last`.
    pub(crate) fn next(last: Self, time: SystemTime) -> Self {
        Self(Self::first_at(time).0.max(last.0 + 1))
    }
}

/// The time of a prost timestamp (the epoch when unset or negative).
pub(crate) fn timestamp_time(ts: Option<&prost_types::Timestamp>) -> SystemTime {
    ts.and_then(|ts| {
        let secs = u64::try_from(ts.seconds).ok()?;
        let nanos = u32::try_from(ts.nanos).ok()?;
        UNIX_EPOCH.checked_add(std::time::Duration::new(secs, nanos))
    })
    .unwrap_or(UNIX_EPOCH)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn keys_strictly_increase_even_when_the_clock_repeats() {
        let t = UNIX_EPOCH + Duration::from_secs(1000);
        let a = EventKey::next(EventKey(0), t);
        let b = EventKey::next(a, t);
        let c = EventKey::next(b, t - Duration::from_secs(1));
        assert!(a < b && b < c);
        assert_eq!(a, EventKey::first_at(t));
    }

    #[test]
    fn later_times_sort_after_earlier_ones() {
        let t = UNIX_EPOCH + Duration::from_secs(1000);
        let a = EventKey::next(EventKey(0), t);
        let b = EventKey::next(a, t + Duration::from_nanos(1));
        assert!(b > a);
        assert!(EventKey::first_at(t + Duration::from_nanos(1)) <= b);
    }
}
