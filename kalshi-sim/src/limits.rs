//! Kalshi-style token buckets per API key, returning 429 when empty.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

/// Tokens one request costs (batch items each cost this).
pub(crate) const COST: f64 = 10.0;

/// How many refusals the audit describes one by one (the latest); the
/// counts by key cover all of them.
const LOGGED: usize = 1_000;

/// How long a bucket remembers each request it paid for, so that a
/// request metered after a later one (requests are processed in parallel,
/// and wait for the exchange's lock in any order) is still metered in the
/// order they arrived. One that arrived before what the bucket remembers
/// is metered as of the last moment it forgot: an approximation, for
/// waits on the lock longer than any the soak has seen.
const REORDER_WINDOW: Duration = Duration::from_secs(2);

pub(crate) struct Limits {
    read: f64,
    write: f64,
    buckets: Mutex<HashMap<(String, bool), Bucket>>,
    /// Requests refused per key: what a client's own limiter should keep at 0.
    refused: Mutex<HashMap<String, u64>>,
    /// The latest refusals, oldest first.
    log: Mutex<VecDeque<Refusal>>,
}

/// A token bucket of `rate` tokens that refills `rate` a second, metering
/// requests in the order they arrived whatever the order they are metered
/// in: its level as of `since`, and the requests it paid for that arrived
/// after (within [`REORDER_WINDOW`] of the newest), in order of arrival.
struct Bucket {
    level: f64,
    since: Instant,
    paid: VecDeque<(Instant, f64)>,
}

impl Bucket {
    /// Full as of one window before `at`, so that a request metered
    /// second but arriving first is still metered in its place.
    fn full(rate: f64, at: Instant) -> Self {
        Self {
            level: rate,
            since: at.checked_sub(REORDER_WINDOW).unwrap_or(at),
            paid: VecDeque::new(),
        }
    }

    /// Pays `tokens` for a request that arrived at `arrived` if the
    /// bucket, replayed in order of arrival with it, never runs short.
    /// Otherwise nothing changes, and the answer is how early it came, in
    /// ms: the refill time of the tokens the replay lacked where it first
    /// ran short (at this request, or at a later one it had paid for
    /// already), plus how long before the bucket's memory it arrived.
    fn pay(&mut self, rate: f64, tokens: f64, arrived: Instant) -> Result<(), f64> {
        let at = arrived.max(self.since);
        let position = self.paid.partition_point(|&(t, _)| t <= at);
        let request = (at, tokens);
        let replay = self
            .paid
            .iter()
            .take(position)
            .chain(std::iter::once(&request))
            .chain(self.paid.iter().skip(position));
        let (mut level, mut last) = (self.level, self.since);
        for &(t, cost) in replay {
            level = (level + rate * (t - last).as_secs_f64()).min(rate) - cost;
            last = t;
            if level < 0.0 {
                return Err((-level / rate + (at - arrived).as_secs_f64()) * 1000.0);
            }
        }
        self.paid.insert(position, request);
        let newest = last;
        self.forget_before(rate, newest - REORDER_WINDOW.min(newest - self.since));
        Ok(())
    }

    /// Folds the requests that arrived before `horizon` into the level.
    fn forget_before(&mut self, rate: f64, horizon: Instant) {
        while let Some(&(t, cost)) = self.paid.front() {
            if t >= horizon {
                break;
            }
            self.level = (self.level + rate * (t - self.since).as_secs_f64()).min(rate) - cost;
            self.since = t;
            self.paid.pop_front();
        }
    }
}

/// One refused request, as the audit shows it: enough to tell a client's
/// pacing error (how early the request came) from a burst.
struct Refusal {
    at_ms: i64,
    key: String,
    method: String,
    path: String,
    /// How early it came: the refill time of the tokens its bucket lacked,
    /// replayed in order of arrival, where it first ran short (see
    /// `Bucket::pay`).
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
    /// moment the request is processed: requests run in parallel and wait
    /// for the exchange's lock in any order, so a bucket meters them in the
    /// order they arrived (within [`REORDER_WINDOW`]), and a busy moment
    /// of the simulator does not bring them to the bucket closer together
    /// than they came.
    pub fn take(&self, key: &str, method: &str, path: &str, tokens: f64, arrived: Instant) -> bool {
        let is_read = method == "GET";
        let rate = if is_read { self.read } else { self.write };
        let mut buckets = self.buckets.lock().unwrap_or_else(|p| p.into_inner());
        let paid = buckets
            .entry((key.to_owned(), is_read))
            .or_insert_with(|| Bucket::full(rate, arrived))
            .pay(rate, tokens, arrived);
        drop(buckets);
        let Err(early_ms) = paid else {
            return true;
        };
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

    /// Moments `n` ms after the first call.
    fn clock() -> impl Fn(u64) -> Instant {
        let start = Instant::now();
        move |n| start + Duration::from_millis(n)
    }

    /// A read of key `k` that arrived `at`: whether it was paid for.
    fn read(limits: &Limits, at: Instant) -> bool {
        limits.take("k", "GET", "/a", COST, at)
    }

    #[test]
    fn requests_are_metered_as_of_their_arrival() {
        let (limits, ms) = (limits(), clock());
        let (start, second) = (ms(0), ms(1_000));
        // A second apart on arrival, metered back to back (the second
        // queued behind a busy moment): both within budget.
        assert!(read(&limits, start));
        assert!(read(&limits, second));
        // A third arriving with the second is refused, 1 s early.
        assert!(!read(&limits, second));
        assert_eq!(limits.refusals()["k"], 1);
        assert_eq!(limits.refusal_log()[0]["early_ms"], 1000.0);
    }

    #[test]
    fn requests_metered_out_of_order_are_metered_in_the_order_they_arrived() {
        let (limits, ms) = (limits(), clock());
        // A second apart on arrival, metered the later first (both waited
        // for the exchange's lock): both within budget.
        assert!(read(&limits, ms(1_000)));
        assert!(read(&limits, ms(0)));
        // One arriving between them finds half a request in the bucket:
        // refused, half a second early, as it would have been in order.
        assert!(!read(&limits, ms(500)));
        assert_eq!(limits.refusal_log()[0]["early_ms"], 500.0);
        // Half a second after the later one, the bucket has half of a
        // request: refused, half a second early; a second after, paid.
        assert!(!read(&limits, ms(1_500)));
        assert_eq!(limits.refusal_log()[1]["early_ms"], 500.0);
        assert!(read(&limits, ms(2_000)));
        // Writes are a bucket of their own.
        assert!(limits.take("k", "POST", "/a", COST, ms(0)));
        assert_eq!(limits.refusals()["k"], 2);
    }

    #[test]
    fn a_request_paid_already_is_not_made_short_by_an_earlier_one() {
        let (limits, ms) = (limits(), clock());
        assert!(read(&limits, ms(0)));
        assert!(read(&limits, ms(1_500)));
        // Arriving at 1 s it fits by itself, but the one at 1.5 s was paid
        // already and would then lack half a second of refill: refused.
        assert!(!read(&limits, ms(1_000)));
        assert_eq!(limits.refusal_log()[0]["early_ms"], 500.0);
    }

    #[test]
    fn a_request_older_than_the_window_is_metered_as_of_its_start() {
        let (limits, ms) = (limits(), clock());
        for n in 0..5 {
            assert!(read(&limits, ms(n * 1_000)));
        }
        // The bucket remembers the requests of the last two seconds and
        // its level before them (as of 1 s, spent): one arriving at 0.5 s
        // is metered as of 1 s, refused, and counted 1.5 s early (a full
        // request's refill, and the half second before 1 s).
        assert!(!read(&limits, ms(500)));
        assert_eq!(limits.refusal_log()[0]["early_ms"], 1500.0);
    }

    #[test]
    fn a_bucket_remembers_only_its_window() {
        // 10 requests a second, paid one by one at that pace for ten
        // minutes: the bucket holds the last two seconds' requests alone.
        let (rate, ms) = (100.0, clock());
        let mut bucket = Bucket::full(rate, ms(0));
        for n in 0..6_000 {
            assert_eq!(bucket.pay(rate, COST, ms(100 * n)), Ok(()), "request {n}");
            assert!(bucket.paid.len() <= 21, "{} remembered", bucket.paid.len());
        }
        let newest = ms(100 * 5_999);
        assert!(newest - bucket.since <= REORDER_WINDOW + Duration::from_millis(100));
    }
}
