//! Wall-clock time as Unix seconds and milliseconds, and back: the one place jbproxy turns `SystemTime` into the
//! numbers JWT claims, quota resets and the fake upstream speak. A clock before 1970 reads as 0.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Seconds since the Unix epoch, now.
pub fn now_secs() -> i64 {
    secs(SystemTime::now())
}

/// Seconds since the Unix epoch, now, unsigned: the `created` fields of the API faces.
pub fn now_secs_unsigned() -> u64 {
    u64::try_from(now_secs()).unwrap_or(0)
}

/// Milliseconds since the Unix epoch, now.
pub fn now_ms() -> i64 {
    millis(SystemTime::now())
}

/// `at` in seconds since the Unix epoch.
pub fn secs(at: SystemTime) -> i64 {
    at.duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// `at` in milliseconds since the Unix epoch.
pub fn millis(at: SystemTime) -> i64 {
    at.duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// The moment `ms` milliseconds after the epoch; a negative count is the epoch itself.
pub fn from_millis(ms: i64) -> SystemTime {
    UNIX_EPOCH + Duration::from_millis(u64::try_from(ms).unwrap_or(0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_clamps() {
        let at = UNIX_EPOCH + Duration::from_millis(1_767_225_600_123);
        assert_eq!(millis(at), 1_767_225_600_123);
        assert_eq!(secs(at), 1_767_225_600);
        assert_eq!(from_millis(millis(at)), at);
        assert_eq!(from_millis(-5), UNIX_EPOCH);
        assert_eq!(secs(UNIX_EPOCH - Duration::from_secs(1)), 0);
        assert!((now_ms() / 1000 - now_secs()).abs() <= 1);
    }
}
