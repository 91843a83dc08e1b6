//! Kalshi-style token buckets per API key, returning 429 when empty.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Instant;

/// Tokens one request costs (batch items each cost this).
pub(crate) const COST: f64 = 10.0;

pub(crate) struct Limits {
    read: f64,
    write: f64,
    buckets: Mutex<HashMap<(String, bool), (f64, Instant)>>,
    /// Requests refused per key: what a client's own limiter should keep at 0.
    refused: Mutex<HashMap<String, u64>>,
}

impl Limits {
    pub fn new(read: u32, write: u32) -> Self {
        Self {
            read: f64::from(read),
            write: f64::from(write),
            buckets: Mutex::new(HashMap::new()),
            refused: Mutex::new(HashMap::new()),
        }
    }

    /// Takes `tokens` from the key's read or write bucket; `false` when it
    /// holds too few (the request must be refused, not executed).
    pub fn take(&self, key: &str, is_read: bool, tokens: f64) -> bool {
        let rate = if is_read { self.read } else { self.write };
        let mut buckets = self.buckets.lock().unwrap_or_else(|p| p.into_inner());
        let now = Instant::now();
        let (level, last) = buckets
            .entry((key.to_owned(), is_read))
            .or_insert((rate, now));
        *level = (*level + rate * now.duration_since(*last).as_secs_f64()).min(rate);
        *last = now;
        if *level >= tokens {
            *level -= tokens;
            true
        } else {
            drop(buckets);
            let mut refused = self.refused.lock().unwrap_or_else(|p| p.into_inner());
            *refused.entry(key.to_owned()).or_insert(0) += 1;
            false
        }
    }
}

impl Limits {
    /// Requests refused so far, by API key id.
    pub fn refusals(&self) -> HashMap<String, u64> {
        self.refused
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }
}
