//! Kalshi-style token buckets per API key, returning 429 when empty.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::time::Instant;

use serde_json::{Value, json};

/// Tokens one request costs (batch items each cost this).
pub(crate) const COST: f64 = 10.0;

/// How many refusals the audit describes one by one (the latest); the
/// counts by key cover all of them.
const LOGGED: usize = 1_000;

pub(crate) struct Limits {
    read: f64,
    write: f64,
    buckets: Mutex<HashMap<(String, bool), (f64, Instant)>>,
    /// Requests refused per key: what a client's own limiter should keep at 0.
    refused: Mutex<HashMap<String, u64>>,
    /// The latest refusals, oldest first.
    log: Mutex<VecDeque<Refusal>>,
}

/// One refused request, as the audit shows it: enough to tell a client's
/// pacing error (how early the request came) from a burst.
struct Refusal {
    at_ms: i64,
    key: String,
    method: String,
    path: String,
    /// How much sooner the request arrived than the bucket could pay for
    /// it: the refill time of the tokens it lacked.
    early_ms: f64,
}

impl Limits {
    pub fn new(read: u32, write: u32) -> Self {
        Self {
            read: f64::from(read),
            write: f64::from(write),
            buckets: Mutex::new(HashMap::new()),
            refused: Mutex::new(HashMap::new()),
            log: Mutex::new(VecDeque::new()),
        }
    }

    /// Takes `tokens` from the key's read bucket (for a `GET`) or write
    /// bucket as it was when the request `arrived`; `false` when it held
    /// too few (the request must be refused, not executed).
    ///
    /// As of arrival, as an exchange's gateway meters, not as of the
    /// moment the request is processed: requests whose arrival was stamped
    /// before a busy moment of the simulator (its state locked while a
    /// market settles or the audit is read) would otherwise all be metered
    /// at once, closer together than they came. (A stall of every worker
    /// thread still delays the stamps themselves.) A request metered after
    /// a later arrival gets no refill for the time between (a little
    /// strict, never lax).
    pub fn take(&self, key: &str, method: &str, path: &str, tokens: f64, arrived: Instant) -> bool {
        let is_read = method == "GET";
        let rate = if is_read { self.read } else { self.write };
        let mut buckets = self.buckets.lock().unwrap_or_else(|p| p.into_inner());
        let (level, last) = buckets
            .entry((key.to_owned(), is_read))
            .or_insert((rate, arrived));
        if arrived > *last {
            *level = (*level + rate * (arrived - *last).as_secs_f64()).min(rate);
            *last = arrived;
        }
        if *level >= tokens {
            *level -= tokens;
            return true;
        }
        // The level is as of `last`, which a request metered out of order
        // arrived before: it came that much earlier still.
        let before_last = last.saturating_duration_since(arrived).as_secs_f64();
        let early_ms = ((tokens - *level) / rate + before_last) * 1000.0;
        drop(buckets);
        let mut refused = self.refused.lock().unwrap_or_else(|p| p.into_inner());
        *refused.entry(key.to_owned()).or_insert(0) += 1;
        drop(refused);
        let mut log = self.log.lock().unwrap_or_else(|p| p.into_inner());
        if log.len() == LOGGED {
            log.pop_front();
        }
        log.push_back(Refusal {
            at_ms: crate::clock::real_now_ms(),
            key: key.to_owned(),
            method: method.to_owned(),
            path: path.to_owned(),
            early_ms,
        });
        false
    }

    /// Requests refused so far, by API key id.
    pub fn refusals(&self) -> HashMap<String, u64> {
        self.refused
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// The latest refusals (up to [`LOGGED`]), oldest first: when each was
    /// metered (Unix milliseconds, the machine's clock), whose, what, and
    /// how early it arrived.
    pub fn refusal_log(&self) -> Vec<Value> {
        let log = self.log.lock().unwrap_or_else(|p| p.into_inner());
        log.iter()
            .map(|r| {
                json!({
                    "at_ms": r.at_ms,
                    "key": r.key,
                    "method": r.method,
                    "path": r.path,
                    "early_ms": (r.early_ms * 10.0).round() / 10.0,
                })
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    /// One 10-token read a second, a burst of one.
    fn limits() -> Limits {
        Limits::new(10, 10)
    }

    #[test]
    fn requests_are_metered_as_of_their_arrival() {
        let limits = limits();
        let start = Instant::now();
        let second = start + Duration::from_secs(1);
        // A second apart on arrival, metered back to back (the second
        // queued behind a busy moment): both within budget.
        assert!(limits.take("k", "GET", "/a", COST, start));
        assert!(limits.take("k", "GET", "/a", COST, second));
        // A third arriving with the second is refused, 1 s early.
        assert!(!limits.take("k", "GET", "/a", COST, second));
        assert_eq!(limits.refusals()["k"], 1);
        assert_eq!(limits.refusal_log()[0]["early_ms"], 1000.0);
    }

    #[test]
    fn a_request_metered_after_a_later_arrival_gets_no_refill() {
        let limits = limits();
        let start = Instant::now();
        assert!(limits.take("k", "GET", "/a", COST, start + Duration::from_secs(2)));
        // Arrived earlier than the one just metered: the bucket is not
        // refilled backwards, so it is refused, 2 s early (1 s before the
        // other, which emptied the bucket for the next second).
        assert!(!limits.take("k", "GET", "/a", COST, start + Duration::from_secs(1)));
        assert_eq!(limits.refusal_log()[0]["early_ms"], 2000.0);
        // Writes are a bucket of their own.
        assert!(limits.take("k", "POST", "/a", COST, start));
    }
}
