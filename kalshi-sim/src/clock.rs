//! The exchange clock: the real time, moved forward on request.
//!
//! Order expirations, timestamps in responses and settlement times read
//! this clock; request signatures are checked against the real time, since
//! that is what clients sign with.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Real time plus an offset that tests (or the control API) advance.
#[derive(Debug, Default)]
pub(crate) struct Clock {
    offset_ms: i64,
}

impl Clock {
    /// The exchange time, milliseconds since the Unix epoch.
    pub fn now_ms(&self) -> i64 {
        real_now_ms().saturating_add(self.offset_ms)
    }

    /// Moves the clock forward by `by` (saturating; it never goes back).
    pub fn advance(&mut self, by: Duration) {
        let ms = i64::try_from(by.as_millis()).unwrap_or(i64::MAX);
        self.offset_ms = self.offset_ms.saturating_add(ms);
    }
}

/// The real time, milliseconds since the Unix epoch.
pub(crate) fn real_now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn advancing_moves_the_clock_and_never_overflows() {
        let mut clock = Clock::default();
        let before = clock.now_ms();
        clock.advance(Duration::from_secs(3600));
        assert!(clock.now_ms() - before >= 3_600_000);
        clock.advance(Duration::MAX);
        clock.advance(Duration::MAX);
        assert_eq!(clock.now_ms(), i64::MAX);
    }
}
