//! When a failed request is sent again, and how long to wait first.
//!
//! Reads are retried on transient statuses and connection errors. Writes are
//! retried only when the exchange provably did not execute them: after a 429
//! (Kalshi documents that a rate-limited request was not executed), after a
//! connection that failed before any byte was sent, and after an HTTP/2
//! server refused the request's stream before answering it. A write that
//! timed out or got a 5xx is never resent: the order may exist.

use std::time::Duration;

use reqwest::StatusCode;
use reqwest::header::{HeaderMap, RETRY_AFTER};

/// Statuses on which a read is retried.
const RETRYABLE_READ: [u16; 7] = [408, 425, 429, 500, 502, 503, 504];

/// How many times to try, and how to back off between tries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetryPolicy {
    max_attempts: u32,
    initial_backoff: Duration,
    max_backoff: Duration,
    budget: Duration,
}

impl Default for RetryPolicy {
    /// Four attempts, backoff from 100 ms doubling up to 5 s, at most 30 s in
    /// all: enough to ride out a brief 503 without hiding a real outage.
    fn default() -> Self {
        Self {
            max_attempts: 4,
            initial_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_secs(5),
            budget: Duration::from_secs(30),
        }
    }
}

impl RetryPolicy {
    /// Never retry.
    pub fn none() -> Self {
        Self {
            max_attempts: 1,
            ..Self::default()
        }
    }

    /// At most `attempts` tries in all (1 = no retries; 0 is treated as 1).
    pub fn with_max_attempts(mut self, attempts: u32) -> Self {
        self.max_attempts = attempts.max(1);
        self
    }

    /// Exponential backoff starting at `initial`, capped at `max`.
    pub fn with_backoff(mut self, initial: Duration, max: Duration) -> Self {
        self.initial_backoff = initial;
        self.max_backoff = max.max(initial);
        self
    }

    /// No retry starts once `budget` has elapsed since the first attempt.
    pub fn with_budget(mut self, budget: Duration) -> Self {
        self.budget = budget;
        self
    }

    /// Tries in all.
    pub fn max_attempts(&self) -> u32 {
        self.max_attempts
    }

    /// The wait before retry number `retry` (1-based): `Retry-After` when the
    /// server sent one, else full jitter: uniform in `[0, min(max, initial * 2^(retry-1))]`.
    pub(crate) fn backoff(&self, retry: u32, retry_after: Option<Duration>) -> Duration {
        if let Some(wait) = retry_after {
            return wait;
        }
        let exp = self
            .initial_backoff
            .saturating_mul(1u32 << retry.saturating_sub(1).min(20));
        let cap = exp.min(self.max_backoff);
        cap.mul_f64(fastrand::f64())
    }

    /// Whether another attempt fits: attempts left and the wait ends within
    /// the budget.
    pub(crate) fn allows(&self, attempts_made: u32, elapsed: Duration, wait: Duration) -> bool {
        attempts_made < self.max_attempts && elapsed + wait <= self.budget
    }
}

/// Whether a response with `status` may be retried.
pub(crate) fn is_retryable_status(is_read: bool, status: StatusCode) -> bool {
    if is_read {
        RETRYABLE_READ.contains(&status.as_u16())
    } else {
        // A 429 was not executed; any other answer to a write may have been.
        status == StatusCode::TOO_MANY_REQUESTS
    }
}

/// Whether a failed request may be retried: any read; a write only when it
/// provably did not reach the exchange (the connection was never
/// established, or an HTTP/2 server refused its stream).
pub(crate) fn is_retryable_error(is_read: bool, error: &reqwest::Error) -> bool {
    is_read || error.is_connect() || is_protocol_refusal(error)
}

/// Whether an HTTP/2 server refused the request's stream
/// (`RST_STREAM` with `REFUSED_STREAM`) before answering it: RFC 9113,
/// section 8.7, says such a request was not processed, so it is safe to
/// retry, writes included. The client this crate builds turns reqwest's own
/// retry of refusals off (its spare copy of every request cost each request
/// about 1 k instructions, and this crate keeps a spare already), so this
/// crate's retry takes them over.
///
/// A refusal while the answer's body is read (the headers came) is not
/// one: the request was answered. Nor is a `GOAWAY` with `NO_ERROR`, which
/// h2 reports only for streams above the server's last processed one, but
/// which hyper can also hand a request whose headers it has already queued
/// to be sent.
pub(crate) fn is_protocol_refusal(error: &reqwest::Error) -> bool {
    if error.is_body() || error.is_decode() {
        return false;
    }
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        if let Some(h2) = cause.downcast_ref::<h2::Error>() {
            return h2.is_remote()
                && h2.is_reset()
                && h2.reason() == Some(h2::Reason::REFUSED_STREAM);
        }
        source = cause.source();
    }
    false
}

/// `Retry-After` as seconds or an HTTP date.
pub(crate) fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let value = headers.get(RETRY_AFTER)?.to_str().ok()?.trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let when = httpdate::parse_http_date(value).ok()?;
    Some(
        when.duration_since(std::time::SystemTime::now())
            .unwrap_or(Duration::ZERO),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_retry_on_transient_statuses_only() {
        for status in [408, 425, 429, 500, 502, 503, 504] {
            assert!(
                is_retryable_status(true, StatusCode::from_u16(status).unwrap()),
                "{status}"
            );
        }
        for status in [400, 401, 403, 404, 409, 410, 501] {
            assert!(
                !is_retryable_status(true, StatusCode::from_u16(status).unwrap()),
                "{status}"
            );
        }
    }

    #[test]
    fn writes_retry_only_after_a_429() {
        assert!(is_retryable_status(false, StatusCode::TOO_MANY_REQUESTS));
        for status in [408, 425, 500, 502, 503, 504] {
            assert!(
                !is_retryable_status(false, StatusCode::from_u16(status).unwrap()),
                "{status}"
            );
        }
    }

    #[test]
    fn backoff_is_jittered_below_the_exponential_cap() {
        let policy = RetryPolicy::default()
            .with_backoff(Duration::from_millis(100), Duration::from_millis(350));
        for _ in 0..200 {
            assert!(policy.backoff(1, None) <= Duration::from_millis(100));
            assert!(policy.backoff(2, None) <= Duration::from_millis(200));
            assert!(policy.backoff(9, None) <= Duration::from_millis(350));
        }
        let spread: std::collections::HashSet<_> =
            (0..50).map(|_| policy.backoff(3, None)).collect();
        assert!(spread.len() > 10, "no jitter");
    }

    #[test]
    fn retry_after_wins_and_parses_both_forms() {
        let policy = RetryPolicy::default();
        assert_eq!(
            policy.backoff(1, Some(Duration::from_secs(2))),
            Duration::from_secs(2)
        );
        let mut headers = HeaderMap::new();
        headers.insert(RETRY_AFTER, "3".parse().unwrap());
        assert_eq!(retry_after(&headers), Some(Duration::from_secs(3)));
        let later = std::time::SystemTime::now() + Duration::from_secs(120);
        headers.insert(RETRY_AFTER, httpdate::fmt_http_date(later).parse().unwrap());
        let wait = retry_after(&headers).unwrap();
        assert!(
            wait > Duration::from_secs(100) && wait <= Duration::from_secs(120),
            "{wait:?}"
        );
    }

    #[test]
    fn attempts_and_budget_bound_retries() {
        let policy = RetryPolicy::default()
            .with_max_attempts(3)
            .with_budget(Duration::from_secs(1));
        assert!(policy.allows(1, Duration::ZERO, Duration::ZERO));
        assert!(!policy.allows(3, Duration::ZERO, Duration::ZERO));
        assert!(!policy.allows(1, Duration::from_millis(900), Duration::from_millis(200)));
        assert_eq!(RetryPolicy::none().max_attempts(), 1);
    }
}
