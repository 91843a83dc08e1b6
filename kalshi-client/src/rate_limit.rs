//! Optional client-side token buckets that keep a bot inside its Kalshi API
//! tier instead of collecting `429 Too Many Requests`.
//!
//! Kalshi meters every API key with two token buckets: a READ bucket charged
//! by `GET` requests and a WRITE bucket charged by everything else. Each
//! request deducts its endpoint's cost (10 tokens unless the endpoint is
//! listed by `GET /account/endpoint_costs`), and batch endpoints are billed
//! per item. A [`RateLimiter`] mirrors those buckets locally so a request
//! waits for budget *before* it is sent, rather than being refused after a
//! round trip.
//!
//! Limits come from one of three places, from least to most exact:
//!
//! * [`RateLimits::for_tier`]: the published budget of a [`Tier`], every
//!   endpoint charged the default cost (conservative for cheap endpoints);
//! * [`RateLimits::new`] plus [`RateLimits::with_operation_cost`]: numbers
//!   chosen by hand, e.g. a fraction of the tier when several processes share
//!   one key;
//! * [`RateLimits::from_account`]: the account's own `GET /account/limits`
//!   and `GET /account/endpoint_costs` answers, applied to a running limiter
//!   with [`RateLimiter::set_limits`].
//!
//! A limiter in memory only sees the requests that go through it: one
//! limiter (and its clones) per API key per process. It starts with full
//! buckets, as an idle key's server-side buckets are; a process restarted in
//! the middle of a burst may therefore still see a few `429`s, which Kalshi
//! did not execute and which are safe to retry. Several processes sharing
//! one key share one budget through Redis instead (`RateLimiter::shared`,
//! feature `redis`).

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

#[cfg(feature = "redis")]
mod redis_store;
#[cfg(feature = "redis")]
pub use redis_store::{OnUnavailable, RedisStore};

use kalshi_gen::types::{
    EndpointTokenCost, GetAccountApiLimitsResponse, GetAccountEndpointCostsResponse,
};
use tokio::sync::Notify;
use tokio::time::Instant;

/// The token cost Kalshi charges an endpoint it does not list otherwise.
pub const DEFAULT_COST: u32 = 10;

/// A Kalshi API usage tier with a published budget.
///
/// Kalshi also names tiers this crate has no numbers for (for example
/// Expert and Prestige); for those, load the limits from the account with
/// [`RateLimits::from_account`]. The enum is `non_exhaustive` so they can be
/// added without a breaking change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Tier {
    /// 200 read / 100 write tokens per second.
    Basic,
    /// 300 read / 300 write tokens per second.
    Advanced,
    /// 1000 read / 1000 write tokens per second.
    Premier,
    /// 2000 read / 2000 write tokens per second.
    Paragon,
    /// 4000 read / 4000 write tokens per second.
    Prime,
}

impl Tier {
    /// Every tier, in increasing budget order, so callers and error messages
    /// can enumerate them.
    pub const ALL: [Tier; 5] = [
        Tier::Basic,
        Tier::Advanced,
        Tier::Premier,
        Tier::Paragon,
        Tier::Prime,
    ];

    /// The lowercase name Kalshi uses for the tier (`usage_tier`).
    pub fn as_str(self) -> &'static str {
        match self {
            Tier::Basic => "basic",
            Tier::Advanced => "advanced",
            Tier::Premier => "premier",
            Tier::Paragon => "paragon",
            Tier::Prime => "prime",
        }
    }

    /// Refill rates (read, write) in tokens per second, as published.
    fn budget(self) -> (u32, u32) {
        match self {
            Tier::Basic => (200, 100),
            Tier::Advanced => (300, 300),
            Tier::Premier => (1000, 1000),
            Tier::Paragon => (2000, 2000),
            Tier::Prime => (4000, 4000),
        }
    }

    /// Seconds of budget the write bucket holds: one at Basic, two above, as
    /// the spec's `BucketLimit` documents ("write buckets at non-Basic tiers
    /// hold two seconds of budget"). `load_rate_limits` reads the real
    /// capacity from the account.
    fn write_burst_seconds(self) -> u32 {
        match self {
            Tier::Basic => 1,
            _ => 2,
        }
    }
}

impl fmt::Display for Tier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Tier {
    type Err = RateLimitError;

    /// Parses a tier name case-insensitively (`"Prime"`, `"prime"`,
    /// `"PRIME"`), because Kalshi's documentation capitalises the names while
    /// its API returns them in lowercase.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let name = s.trim();
        Tier::ALL
            .into_iter()
            .find(|tier| tier.as_str().eq_ignore_ascii_case(name))
            .ok_or_else(|| RateLimitError::UnknownTier(s.to_owned()))
    }
}

/// Which of an API key's two token buckets a request is charged to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Bucket {
    /// Charged by `GET` requests.
    Read,
    /// Charged by every other method (`POST`, `PUT`, `DELETE`, ...).
    Write,
}

impl fmt::Display for Bucket {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Bucket::Read => "read",
            Bucket::Write => "write",
        })
    }
}

/// The size and speed of one token bucket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BucketSpec {
    /// Tokens added per second, continuously.
    pub refill_per_sec: u32,
    /// The most tokens the bucket holds: the burst an idle client may spend
    /// at once.
    pub capacity: u32,
}

/// What a [`RateLimiter`] enforces: both buckets and what each operation
/// costs.
///
/// Costs are keyed by the generated client's method name (the `name` of a
/// [`kalshi_gen::Operation`], e.g. `"cancel_order_v2"`), which is what the
/// request hooks receive, so no path matching happens per request.
#[derive(Debug, Clone, PartialEq)]
pub struct RateLimits {
    read: BucketSpec,
    write: BucketSpec,
    default_cost: u32,
    costs: BTreeMap<String, u32>,
    /// Capacity held back (see [`RateLimits::with_reserve`]); `None`: one
    /// default-cost request.
    reserve: Option<u32>,
}

impl RateLimits {
    /// The published budget of `tier`, every operation charged
    /// [`DEFAULT_COST`].
    ///
    /// Charging the default everywhere over-bills the cheaper endpoints
    /// (cancels, single reads), which only costs throughput; use
    /// [`from_account`](Self::from_account) for exact costs.
    pub fn for_tier(tier: Tier) -> Self {
        let (read, write) = tier.budget();
        Self::new(
            BucketSpec {
                refill_per_sec: read,
                capacity: read,
            },
            BucketSpec {
                refill_per_sec: write,
                capacity: write.saturating_mul(tier.write_burst_seconds()),
            },
        )
    }

    /// Limits given by numbers, every operation charged [`DEFAULT_COST`].
    ///
    /// A refill rate of zero would make any wait infinite, so it is raised to
    /// one token per second.
    pub fn new(read: BucketSpec, write: BucketSpec) -> Self {
        Self {
            read: sanitize(read),
            write: sanitize(write),
            default_cost: DEFAULT_COST,
            costs: BTreeMap::new(),
            reserve: None,
        }
    }

    /// Holds back `tokens` of each bucket's capacity (at most half of it);
    /// by default, one default-cost request's worth. See why at
    /// [`RateLimiter`]: `0` spends the published burst in full, at the risk
    /// of a 429 whenever requests reach the exchange unevenly spaced.
    pub fn with_reserve(mut self, tokens: u32) -> Self {
        self.reserve = Some(tokens);
        self
    }

    /// Charges `cost` tokens to operations without an override of their own.
    pub fn with_default_cost(mut self, cost: u32) -> Self {
        self.default_cost = cost;
        self
    }

    /// Charges `cost` tokens (per item, for batches) to `operation`, a
    /// generated method name such as `"cancel_order_v2"`.
    ///
    /// An unknown name is kept (the table may be newer than the bindings) but
    /// logged, since it is usually a typo that would silently bill the
    /// default.
    pub fn with_operation_cost(mut self, operation: &str, cost: u32) -> Self {
        if kalshi_gen::Operation::find(operation).is_none() {
            tracing::warn!(operation, "rate-limit cost set for an unknown operation");
        }
        self.costs.insert(operation.to_owned(), cost);
        self
    }

    /// Limits read from the account's `GET /account/limits` and
    /// `GET /account/endpoint_costs` answers.
    ///
    /// Each listed endpoint is matched to the generated operations by method
    /// and path (with or without the `/trade-api/v2` prefix, parameters
    /// written `{name}` or `:name`); endpoints these bindings do not know are
    /// ignored, as they can never be called through this client.
    ///
    /// # Errors
    ///
    /// [`RateLimitError::InvalidBucket`] for a refill rate or capacity that
    /// is not positive or does not fit a `u32`, and
    /// [`RateLimitError::InvalidCost`] for a negative or oversized cost:
    /// either means the answer cannot be trusted to pace requests.
    pub fn from_account(
        limits: &GetAccountApiLimitsResponse,
        costs: &GetAccountEndpointCostsResponse,
    ) -> Result<Self, RateLimitError> {
        let read = bucket_spec(
            Bucket::Read,
            limits.read.refill_rate,
            limits.read.bucket_capacity,
        )?;
        let write = bucket_spec(
            Bucket::Write,
            limits.write.refill_rate,
            limits.write.bucket_capacity,
        )?;
        let default_cost = cost_value("default", costs.default_cost)?;
        let mut out = Self::new(read, write).with_default_cost(default_cost);
        for endpoint in &costs.endpoint_costs {
            out.apply_endpoint_cost(endpoint)?;
        }
        tracing::debug!(tier = %limits.usage_tier, ?out, "loaded account rate limits");
        Ok(out)
    }

    /// Limits from the numbers of a limits answer, `(refill_rate,
    /// bucket_capacity)` per bucket, every operation charged
    /// [`DEFAULT_COST`]: for `GET /account/limits/perps`, whose document
    /// lists no endpoint costs.
    ///
    /// # Errors
    ///
    /// [`RateLimitError::InvalidBucket`] as for
    /// [`from_account`](Self::from_account).
    pub fn from_buckets(read: (i64, i64), write: (i64, i64)) -> Result<Self, RateLimitError> {
        Ok(Self::new(
            bucket_spec(Bucket::Read, read.0, read.1)?,
            bucket_spec(Bucket::Write, write.0, write.1)?,
        ))
    }

    /// Records one `endpoint_costs` entry against every operation it names.
    fn apply_endpoint_cost(&mut self, endpoint: &EndpointTokenCost) -> Result<(), RateLimitError> {
        let label = format!("{} {}", endpoint.method, endpoint.path);
        let cost = cost_value(&label, endpoint.cost)?;
        let names = operations_for(&endpoint.method, &endpoint.path);
        if names.is_empty() {
            tracing::debug!(endpoint = %label, cost, "endpoint cost matches no known operation");
        }
        for name in names {
            self.costs.insert(name.to_owned(), cost);
        }
        Ok(())
    }

    /// The bucket the limiter actually keeps: the published refill rate,
    /// with one default-cost request's worth of the capacity held back (at
    /// most half of it).
    ///
    /// Why: the exchange meters requests when they arrive, not when they
    /// were admitted here, and the time in between varies. A client that
    /// spends its whole budget would, after any jitter, show the exchange
    /// two requests closer together than it paced them, and earn a 429.
    /// With the reserve, the exchange's bucket stays at least one request
    /// fuller than this one, which absorbs jitter up to `cost / rate`
    /// (50 ms for Basic reads). The long-run rate is unchanged.
    fn paced(&self, bucket: Bucket) -> BucketSpec {
        let spec = self.spec(bucket);
        let reserve = self
            .reserve
            .unwrap_or(self.default_cost)
            .min(spec.capacity / 2);
        BucketSpec {
            refill_per_sec: spec.refill_per_sec,
            capacity: spec.capacity - reserve,
        }
    }

    /// Tokens one call (or one batch item) of `operation` costs.
    pub fn cost(&self, operation: &str) -> u32 {
        self.costs
            .get(operation)
            .copied()
            .unwrap_or(self.default_cost)
    }

    /// Tokens charged to operations without an override.
    pub fn default_cost(&self) -> u32 {
        self.default_cost
    }

    /// The bucket settings for `bucket`.
    pub fn spec(&self, bucket: Bucket) -> BucketSpec {
        match bucket {
            Bucket::Read => self.read,
            Bucket::Write => self.write,
        }
    }

    /// The bucket a request with this HTTP method is charged to: `GET` reads,
    /// anything else writes. Accepts `&str` and `&reqwest::Method`.
    pub fn bucket_for_method(method: impl AsRef<str>) -> Bucket {
        if method.as_ref().eq_ignore_ascii_case("GET") {
            Bucket::Read
        } else {
            Bucket::Write
        }
    }
}

/// Raises a zero refill rate to one token per second (see [`RateLimits::new`]).
fn sanitize(spec: BucketSpec) -> BucketSpec {
    BucketSpec {
        refill_per_sec: spec.refill_per_sec.max(1),
        capacity: spec.capacity,
    }
}

/// Validates one bucket of a `GET /account/limits` answer.
fn bucket_spec(
    bucket: Bucket,
    refill_rate: i64,
    capacity: i64,
) -> Result<BucketSpec, RateLimitError> {
    let positive = |field: &'static str, value: i64| {
        u32::try_from(value)
            .ok()
            .filter(|v| *v > 0)
            .ok_or(RateLimitError::InvalidBucket {
                bucket,
                field,
                value,
            })
    };
    Ok(BucketSpec {
        refill_per_sec: positive("refill_rate", refill_rate)?,
        capacity: positive("bucket_capacity", capacity)?,
    })
}

/// Validates a token cost: zero is allowed (a free endpoint), negative is not.
fn cost_value(endpoint: &str, value: i64) -> Result<u32, RateLimitError> {
    u32::try_from(value).map_err(|_| RateLimitError::InvalidCost {
        endpoint: endpoint.to_owned(),
        value,
    })
}

/// Names of the generated operations with this method and route.
fn operations_for(method: &str, path: &str) -> Vec<&'static str> {
    let wanted = normalize_path(path);
    kalshi_gen::OPERATIONS
        .iter()
        .filter(|op| op.method.eq_ignore_ascii_case(method.trim()))
        .filter(|op| normalize_path(op.path) == wanted)
        .map(|op| op.name)
        .collect()
}

/// Reduces a route to a comparable form: no scheme, host, query,
/// `/trade-api/v2` prefix or trailing slash, and every path parameter
/// (`{order_id}`, `:order_id`) written `{}`.
fn normalize_path(path: &str) -> String {
    let path = path.split(['?', '#']).next().unwrap_or_default().trim();
    let path = match path.split_once("://") {
        Some((_, rest)) => rest.find('/').map_or("", |i| &rest[i..]),
        None => path,
    };
    let path = path.trim_start_matches('/');
    let path = match path.strip_prefix("trade-api/v2") {
        Some(rest) if rest.is_empty() || rest.starts_with('/') => rest,
        _ => path,
    };
    let mut out = String::with_capacity(path.len() + 1);
    for segment in path.split('/').filter(|s| !s.is_empty()) {
        out.push('/');
        out.push_str(if is_parameter(segment) { "{}" } else { segment });
    }
    out
}

/// Whether a path segment is a parameter placeholder.
fn is_parameter(segment: &str) -> bool {
    segment.starts_with(':') || (segment.starts_with('{') && segment.ends_with('}'))
}

/// Why rate limits could not be built.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum RateLimitError {
    /// A tier name this crate has no budget for.
    UnknownTier(String),
    /// A bucket number that is not positive or does not fit a `u32`.
    InvalidBucket {
        /// The bucket concerned.
        bucket: Bucket,
        /// The response field (`refill_rate` or `bucket_capacity`).
        field: &'static str,
        /// The value received.
        value: i64,
    },
    /// A token cost that is negative or does not fit a `u32`.
    InvalidCost {
        /// `"default"` or the endpoint as `"METHOD /path"`.
        endpoint: String,
        /// The value received.
        value: i64,
    },
}

impl fmt::Display for RateLimitError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RateLimitError::UnknownTier(name) => {
                let valid: Vec<_> = Tier::ALL.iter().map(|t| t.as_str()).collect();
                write!(
                    f,
                    "unknown API tier {name:?}; expected one of: {}",
                    valid.join(", ")
                )
            }
            RateLimitError::InvalidBucket {
                bucket,
                field,
                value,
            } => write!(
                f,
                "invalid {bucket} bucket {field} {value}: must be positive"
            ),
            RateLimitError::InvalidCost { endpoint, value } => {
                write!(f, "invalid token cost {value} for {endpoint}: must be >= 0")
            }
        }
    }
}

impl std::error::Error for RateLimitError {}

/// Why a shared rate budget could not be used.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum StoreError {
    /// The store's URL could not be parsed.
    InvalidUrl {
        /// The parser's complaint.
        message: String,
    },
    /// A local share outside `(0, 1]`.
    InvalidShare(f64),
    /// The store did not answer within the configured bound; the request
    /// was not sent.
    Unavailable {
        /// How long the limiter tried.
        waited: Duration,
        /// The last failure.
        reason: String,
    },
}

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StoreError::InvalidUrl { message } => {
                write!(f, "invalid rate-limit store URL: {message}")
            }
            StoreError::InvalidShare(share) => {
                write!(
                    f,
                    "invalid local share {share}: must be above 0 and at most 1"
                )
            }
            StoreError::Unavailable { waited, reason } => write!(
                f,
                "rate-limit store unavailable for {waited:?} ({reason}); the request was not sent"
            ),
        }
    }
}

impl std::error::Error for StoreError {}

/// Where a limiter keeps its buckets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum StoreKind {
    /// In this process's memory.
    Memory,
    /// In Redis, shared with every process using the same key there.
    Redis,
}

/// What a [`RateLimiter`] has done, for metrics and for seeing a fallback.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct LimiterStats {
    /// Where the buckets are kept.
    pub store: StoreKind,
    /// Requests admitted, by any path.
    pub acquisitions: u64,
    /// Requests admitted by the shared store.
    pub shared_acquisitions: u64,
    /// Requests admitted by the local share while the store was unavailable.
    pub fallback_acquisitions: u64,
    /// Store calls that failed or timed out.
    pub store_errors: u64,
    /// Times the limiter switched to its local share.
    pub fallbacks: u64,
    /// Whether it is spending its local share now.
    pub in_fallback: bool,
    /// The store server's clock minus this host's, in milliseconds, as last
    /// measured; informational (the budget is timed by the server alone).
    pub store_clock_offset_ms: Option<i64>,
}

/// Tokens are counted in billionths so refills are exact integers: a bucket
/// refilling `r` tokens per second gains exactly `r` units per nanosecond.
const UNITS_PER_TOKEN: i128 = 1_000_000_000;

/// The mutable level of one bucket.
#[derive(Debug)]
struct Level {
    spec: BucketSpec,
    /// Current tokens, in [`UNITS_PER_TOKEN`]ths; negative after an
    /// oversized request (see [`RateLimiter::acquire_tokens`]).
    units: i128,
    /// When `units` was last brought up to date.
    updated: Instant,
}

impl Level {
    /// A full bucket.
    fn full(spec: BucketSpec, now: Instant) -> Self {
        Self {
            spec,
            units: capacity_units(spec),
            updated: now,
        }
    }

    /// Adds the tokens earned since the last update, up to capacity.
    fn refill(&mut self, now: Instant) {
        let elapsed = now.saturating_duration_since(self.updated).as_nanos();
        let elapsed = i128::try_from(elapsed).unwrap_or(i128::MAX);
        let earned = elapsed.saturating_mul(i128::from(self.spec.refill_per_sec));
        self.units = self
            .units
            .saturating_add(earned)
            .min(capacity_units(self.spec));
        self.updated = now;
    }

    /// Deducts `tokens` if the bucket can pay now; otherwise says how long
    /// until it can. A request larger than the capacity can pay once the
    /// bucket is full.
    fn try_take(&mut self, now: Instant, tokens: u32) -> Result<(), Duration> {
        self.refill(now);
        let cost = i128::from(tokens) * UNITS_PER_TOKEN;
        let needed = cost.min(capacity_units(self.spec));
        if self.units >= needed {
            self.units -= cost;
            return Ok(());
        }
        let rate = i128::from(self.spec.refill_per_sec.max(1));
        let nanos = (needed - self.units + rate - 1) / rate;
        Err(Duration::from_nanos(
            u64::try_from(nanos).unwrap_or(u64::MAX),
        ))
    }

    /// Switches to `spec`, keeping the tokens already earned (at most the
    /// new capacity).
    fn respec(&mut self, spec: BucketSpec, now: Instant) {
        self.refill(now);
        self.spec = spec;
        self.units = self.units.min(capacity_units(spec));
    }

    /// Current tokens as a float, for metrics.
    fn tokens(&self) -> f64 {
        self.units as f64 / UNITS_PER_TOKEN as f64
    }
}

/// A bucket's capacity in units.
fn capacity_units(spec: BucketSpec) -> i128 {
    i128::from(spec.capacity) * UNITS_PER_TOKEN
}

/// One bucket: its level and the queue of requests waiting for it.
#[derive(Debug)]
struct TokenBucket {
    /// Held by the request at the head of the queue while it waits; tokio's
    /// mutex grants it in arrival order, which makes the bucket FIFO-fair.
    queue: tokio::sync::Mutex<()>,
    level: Mutex<Level>,
    /// Wakes the head of the queue when the limits change under it.
    changed: Notify,
}

impl TokenBucket {
    fn new(spec: BucketSpec, now: Instant) -> Self {
        Self {
            queue: tokio::sync::Mutex::new(()),
            level: Mutex::new(Level::full(spec, now)),
            changed: Notify::new(),
        }
    }

    /// A bucket holding nothing yet.
    #[cfg(feature = "redis")]
    fn empty(spec: BucketSpec, now: Instant) -> Self {
        let bucket = Self::new(spec, now);
        bucket.reset_empty(now);
        bucket
    }

    /// Empties the bucket (a fallback budget starts with nothing spendable,
    /// since the shared one may be spent already).
    #[cfg(feature = "redis")]
    fn reset_empty(&self, now: Instant) {
        let mut level = self.level();
        level.units = 0;
        level.updated = now;
    }

    /// Switches to `spec` if it differs from the current one.
    #[cfg(feature = "redis")]
    fn respec_if_changed(&self, spec: BucketSpec) {
        if self.level().spec != spec {
            self.respec(spec);
        }
    }

    /// The level; poisoning is ignored because every update leaves it valid.
    fn level(&self) -> MutexGuard<'_, Level> {
        self.level.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Waits for a turn, then for the tokens, then deducts them.
    ///
    /// Nothing is deducted before the final, synchronous `try_take`, so
    /// dropping the future at any `await` loses no tokens, and dropping the
    /// queue guard hands the turn to the next waiter.
    async fn acquire(&self, tokens: u32) {
        let _turn = self.queue.lock().await;
        loop {
            let changed = self.changed.notified();
            let wait = match self.level().try_take(Instant::now(), tokens) {
                Ok(()) => return,
                Err(wait) => wait,
            };
            // Re-check on timeout or when `set_limits` changed the bucket.
            let _ = tokio::time::timeout(wait, changed).await;
        }
    }

    fn respec(&self, spec: BucketSpec) {
        self.level().respec(spec, Instant::now());
        self.changed.notify_waiters();
    }

    fn available(&self) -> f64 {
        let mut level = self.level();
        level.refill(Instant::now());
        level.tokens()
    }
}

/// State shared by every clone of a [`RateLimiter`].
struct Shared {
    limits: Mutex<RateLimits>,
    read: TokenBucket,
    write: TokenBucket,
    acquisitions: AtomicU64,
    /// Where the buckets live when not in memory.
    #[cfg(feature = "redis")]
    store: Option<Arc<redis_store::SharedBudget>>,
}

/// Client-side READ and WRITE token buckets for one API key.
///
/// Cloning is cheap (an `Arc`) and every clone draws on the same budget, so
/// one limiter can pace all the tasks of a bot. Waiters on a bucket are
/// served in arrival order, so a large batch is not starved by a stream of
/// small requests, and the two buckets are independent, so waiting writes
/// never delay reads.
///
/// Each bucket keeps the published refill rate but holds back one
/// default-cost request's worth of its capacity
/// ([`RateLimits::with_reserve`] changes that). The exchange meters a
/// request when it arrives, not when it was admitted here, and the time in
/// between varies; a client spending its whole budget would now and then
/// show the exchange two requests closer together than it paced them, and
/// earn a 429. With the reserve the exchange's bucket stays a request
/// fuller than this one, which absorbs jitter up to cost / rate (50 ms for
/// Basic reads). The long-run rate is unchanged.
#[derive(Clone)]
pub struct RateLimiter {
    shared: Arc<Shared>,
}

impl RateLimiter {
    /// A limiter enforcing `limits` in memory, both buckets starting full.
    pub fn new(limits: RateLimits) -> Self {
        let now = Instant::now();
        let shared = Shared {
            read: TokenBucket::new(limits.paced(Bucket::Read), now),
            write: TokenBucket::new(limits.paced(Bucket::Write), now),
            limits: Mutex::new(limits),
            acquisitions: AtomicU64::new(0),
            #[cfg(feature = "redis")]
            store: None,
        };
        Self {
            shared: Arc::new(shared),
        }
    }

    /// A limiter enforcing `limits` with buckets kept in `store`, shared by
    /// every process that uses the same store and `scope`: name the
    /// environment and the API key id in it (as
    /// [`ClientBuilder::shared_rate_limits`](crate::ClientBuilder::shared_rate_limits)
    /// does), never the private key. Every process should use the same
    /// limits. A budget Redis has never seen (or lost in a restart) starts
    /// empty, not full, since the exchange's may be spent.
    #[cfg(feature = "redis")]
    pub fn shared(limits: RateLimits, store: RedisStore, scope: &str) -> Self {
        let mut limiter = Self::new(limits);
        tracing::info!(?store, scope, "rate limits shared through Redis");
        let shared = Arc::get_mut(&mut limiter.shared).expect("a new limiter has no clones");
        shared.store = Some(Arc::new(store.budget(scope)));
        limiter
    }

    fn settings(&self) -> MutexGuard<'_, RateLimits> {
        self.shared
            .limits
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    fn bucket(&self, bucket: Bucket) -> &TokenBucket {
        match bucket {
            Bucket::Read => &self.shared.read,
            Bucket::Write => &self.shared.write,
        }
    }

    /// The limits currently enforced.
    pub fn limits(&self) -> RateLimits {
        self.settings().clone()
    }

    /// Replaces the limits, e.g. once they have been loaded from the account.
    ///
    /// Tokens already earned are kept, capped at the new capacity, rather
    /// than refilled: a limiter that only guessed its budget must not grant
    /// a burst the server may not. A request already waiting is woken to
    /// re-check against the new rate; its token count, computed from the
    /// costs in force when it called, does not change.
    pub fn set_limits(&self, limits: RateLimits) {
        let mut current = self.settings();
        self.shared.read.respec(limits.paced(Bucket::Read));
        self.shared.write.respec(limits.paced(Bucket::Write));
        *current = limits;
    }

    /// Waits until the bucket for `method` can pay for `items` calls of
    /// `operation` (a generated method name such as `"batch_create_orders_v2"`),
    /// then deducts the cost. `items` is the number of orders in a batch and
    /// `1` otherwise; `0` is treated as `1`, since an empty batch is still a
    /// request.
    ///
    /// # Errors
    ///
    /// Only with a shared store: [`StoreError::Unavailable`] when it could
    /// not be reached within the bound of `OnUnavailable::wait_up_to`.
    pub async fn acquire(
        &self,
        operation: &str,
        method: &str,
        items: u32,
    ) -> Result<(), StoreError> {
        let per_item = self.settings().cost(operation);
        let tokens = per_item.saturating_mul(items.max(1));
        let bucket = RateLimits::bucket_for_method(method);
        self.acquire_tokens(bucket, tokens).await
    }

    /// Waits until `bucket` holds `tokens`, then deducts them.
    ///
    /// Waiters are served first come, first served. A request costing more
    /// than the bucket's capacity could never be paid in full, so it proceeds
    /// as soon as the bucket is full and leaves it in debt (negative); the
    /// debt is repaid before anyone else proceeds, so the long-run rate still
    /// matches the budget. A zero-token request returns at once without
    /// queueing. Dropping the future while it waits loses no tokens.
    ///
    /// With a shared store, the order is that of arrival at Redis, and a
    /// dropped waiter's reservation is given back.
    ///
    /// # Errors
    ///
    /// As [`acquire`](Self::acquire).
    pub async fn acquire_tokens(&self, bucket: Bucket, tokens: u32) -> Result<(), StoreError> {
        if tokens == 0 {
            return Ok(());
        }
        #[cfg(feature = "redis")]
        if let Some(store) = &self.shared.store {
            let specs = {
                let limits = self.settings();
                [limits.paced(Bucket::Read), limits.paced(Bucket::Write)]
            };
            store.acquire(bucket, specs, tokens).await?;
            self.shared.acquisitions.fetch_add(1, Ordering::Relaxed);
            return Ok(());
        }
        self.bucket(bucket).acquire(tokens).await;
        self.shared.acquisitions.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }

    /// What the limiter has done so far.
    pub fn stats(&self) -> LimiterStats {
        let acquisitions = self.shared.acquisitions.load(Ordering::Relaxed);
        #[cfg(feature = "redis")]
        if let Some(store) = &self.shared.store {
            return store.stats(acquisitions);
        }
        LimiterStats {
            store: StoreKind::Memory,
            acquisitions,
            shared_acquisitions: 0,
            fallback_acquisitions: 0,
            store_errors: 0,
            fallbacks: 0,
            in_fallback: false,
            store_clock_offset_ms: None,
        }
    }

    /// Tokens in this process's `bucket` right now, after refill (negative
    /// while an oversized request is being repaid). For tests and metrics:
    /// it does not queue and reserves nothing. With a shared store, the
    /// shared level lives in Redis and this is the unused in-memory bucket.
    pub fn available(&self, bucket: Bucket) -> f64 {
        self.bucket(bucket).available()
    }
}

impl fmt::Debug for RateLimiter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RateLimiter")
            .field("limits", &*self.settings())
            .field("read_available", &self.available(Bucket::Read))
            .field("write_available", &self.available(Bucket::Write))
            .field("stats", &self.stats())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::task::yield_now;

    fn spec(refill_per_sec: u32, capacity: u32) -> BucketSpec {
        BucketSpec {
            refill_per_sec,
            capacity,
        }
    }

    /// Basic's budget with the whole burst spendable, so the arithmetic
    /// below is the bucket's own.
    fn basic() -> RateLimiter {
        RateLimiter::new(RateLimits::for_tier(Tier::Basic).with_reserve(0))
    }

    #[tokio::test(start_paused = true)]
    async fn one_request_of_capacity_is_held_back_by_default() {
        let limiter = RateLimiter::new(RateLimits::for_tier(Tier::Basic));
        assert_eq!(limiter.available(Bucket::Read), 190.0);
        assert_eq!(limiter.available(Bucket::Write), 90.0);
        assert_eq!(
            limiter.limits().spec(Bucket::Read),
            spec(200, 200),
            "the published limits are still what it reports"
        );
        let start = Instant::now();
        for _ in 0..19 {
            limiter.acquire("get_markets", "GET", 1).await.unwrap();
        }
        assert_eq!(start.elapsed(), Duration::ZERO);
        // The long-run rate is the published one: 10 tokens per 50 ms.
        for _ in 0..4 {
            limiter.acquire("get_markets", "GET", 1).await.unwrap();
        }
        assert_eq!(start.elapsed(), Duration::from_millis(200));
        // Never more than half: a tiny bucket keeps half its burst.
        let tiny = RateLimiter::new(RateLimits::new(spec(10, 4), spec(10, 4)));
        assert_eq!(tiny.available(Bucket::Read), 2.0);
    }

    const LIMITS_JSON: &str = r#"{
        "usage_tier": "advanced",
        "read": {"refill_rate": 300, "bucket_capacity": 300},
        "write": {"refill_rate": 300, "bucket_capacity": 600},
        "grants": [{"exchange_instance": "event_contract", "level": "advanced", "source": "manual"}]
    }"#;

    const COSTS_JSON: &str = r#"{
        "default_cost": 10,
        "endpoint_costs": [
            {"method": "DELETE", "path": "/trade-api/v2/portfolio/events/orders/{order_id}", "cost": 2},
            {"method": "GET", "path": "/portfolio/orders/:order_id", "cost": 2},
            {"method": "DELETE", "path": "/trade-api/v2/portfolio/events/orders/batched", "cost": 2},
            {"method": "delete", "path": "portfolio/events/orders/", "cost": 2},
            {"method": "POST", "path": "/trade-api/v2/account/api_usage_level/upgrade", "cost": 30},
            {"method": "GET", "path": "/trade-api/v2/not/an/endpoint/{id}", "cost": 1}
        ]
    }"#;

    fn account(limits: &str, costs: &str) -> Result<RateLimits, RateLimitError> {
        let limits: GetAccountApiLimitsResponse = serde_json::from_str(limits).unwrap();
        let costs: GetAccountEndpointCostsResponse = serde_json::from_str(costs).unwrap();
        RateLimits::from_account(&limits, &costs)
    }

    #[test]
    fn tier_table_matches_published_budgets() {
        let expected = [
            (Tier::Basic, spec(200, 200), spec(100, 100)),
            (Tier::Advanced, spec(300, 300), spec(300, 600)),
            (Tier::Premier, spec(1000, 1000), spec(1000, 2000)),
            (Tier::Paragon, spec(2000, 2000), spec(2000, 4000)),
            (Tier::Prime, spec(4000, 4000), spec(4000, 8000)),
        ];
        for (tier, read, write) in expected {
            let limits = RateLimits::for_tier(tier);
            assert_eq!(limits.spec(Bucket::Read), read, "{tier} read");
            assert_eq!(limits.spec(Bucket::Write), write, "{tier} write");
            assert_eq!(limits.default_cost(), DEFAULT_COST);
        }
    }

    #[test]
    fn tier_parses_case_insensitively() {
        assert_eq!("basic".parse::<Tier>(), Ok(Tier::Basic));
        assert_eq!("Advanced".parse::<Tier>(), Ok(Tier::Advanced));
        assert_eq!("PREMIER".parse::<Tier>(), Ok(Tier::Premier));
        assert_eq!(" paragon ".parse::<Tier>(), Ok(Tier::Paragon));
        assert_eq!("pRiMe".parse::<Tier>(), Ok(Tier::Prime));
        for tier in Tier::ALL {
            assert_eq!(tier.to_string().parse::<Tier>(), Ok(tier));
        }
    }

    #[test]
    fn bad_tier_name_lists_valid_names() {
        let err = "gold".parse::<Tier>().unwrap_err();
        assert_eq!(err, RateLimitError::UnknownTier("gold".into()));
        let message = err.to_string();
        assert!(message.contains("gold"), "{message}");
        for tier in Tier::ALL {
            assert!(message.contains(tier.as_str()), "{message}");
        }
    }

    #[test]
    fn bucket_follows_method() {
        assert_eq!(RateLimits::bucket_for_method("GET"), Bucket::Read);
        assert_eq!(RateLimits::bucket_for_method("get"), Bucket::Read);
        assert_eq!(
            RateLimits::bucket_for_method(&reqwest::Method::GET),
            Bucket::Read
        );
        for method in ["POST", "PUT", "DELETE", "PATCH"] {
            assert_eq!(RateLimits::bucket_for_method(method), Bucket::Write);
        }
        assert_eq!(
            RateLimits::bucket_for_method(reqwest::Method::DELETE),
            Bucket::Write
        );
    }

    #[test]
    fn operation_cost_overrides_default() {
        let limits = RateLimits::for_tier(Tier::Basic);
        assert_eq!(limits.cost("create_order_v2"), 10);
        let limits = limits
            .with_default_cost(5)
            .with_operation_cost("cancel_order_v2", 2);
        assert_eq!(limits.cost("cancel_order_v2"), 2);
        assert_eq!(limits.cost("create_order_v2"), 5);
        assert_eq!(limits.cost("no_such_operation"), 5);
    }

    #[test]
    fn zero_refill_is_raised_to_one() {
        let limits = RateLimits::new(spec(0, 10), spec(5, 0));
        assert_eq!(limits.spec(Bucket::Read), spec(1, 10));
        assert_eq!(limits.spec(Bucket::Write), spec(5, 0));
    }

    #[test]
    fn from_account_maps_endpoints_to_operations() {
        let limits = account(LIMITS_JSON, COSTS_JSON).unwrap();
        assert_eq!(limits.spec(Bucket::Read), spec(300, 300));
        assert_eq!(limits.spec(Bucket::Write), spec(300, 600));
        assert_eq!(limits.default_cost(), 10);
        assert_eq!(limits.cost("cancel_order_v2"), 2);
        assert_eq!(limits.cost("get_order"), 2);
        assert_eq!(limits.cost("batch_cancel_orders_v2"), 2);
        assert_eq!(limits.cost("cancel_all_orders"), 2);
        assert_eq!(limits.cost("upgrade_account_api_usage_level"), 30);
        // Same path, other method / sibling path: untouched.
        assert_eq!(limits.cost("get_orders"), 10);
        assert_eq!(limits.cost("batch_create_orders_v2"), 10);
        // The unknown endpoint added nothing.
        assert_eq!(limits.costs.len(), 5, "{:?}", limits.costs);
    }

    #[test]
    fn from_account_rejects_invalid_numbers() {
        let zero_refill = LIMITS_JSON.replace(
            r#""refill_rate": 300, "bucket_capacity": 600"#,
            r#""refill_rate": 0, "bucket_capacity": 600"#,
        );
        let err = account(&zero_refill, COSTS_JSON).unwrap_err();
        assert_eq!(
            err,
            RateLimitError::InvalidBucket {
                bucket: Bucket::Write,
                field: "refill_rate",
                value: 0
            }
        );
        let negative_capacity = LIMITS_JSON.replace("300}", "-1}");
        assert!(matches!(
            account(&negative_capacity, COSTS_JSON),
            Err(RateLimitError::InvalidBucket {
                field: "bucket_capacity",
                ..
            })
        ));
        let huge = LIMITS_JSON.replace(
            r#""refill_rate": 300, "bucket_capacity": 300"#,
            r#""refill_rate": 5000000000, "bucket_capacity": 300"#,
        );
        assert!(account(&huge, COSTS_JSON).is_err());
        let negative_cost = COSTS_JSON.replace(r#""cost": 30"#, r#""cost": -30"#);
        let err = account(LIMITS_JSON, &negative_cost).unwrap_err();
        assert!(matches!(
            err,
            RateLimitError::InvalidCost { value: -30, .. }
        ));
        assert!(err.to_string().contains("upgrade"), "{err}");
        let negative_default = COSTS_JSON.replace(r#""default_cost": 10"#, r#""default_cost": -1"#);
        assert!(account(LIMITS_JSON, &negative_default).is_err());
    }

    #[test]
    fn paths_normalize_prefix_templates_and_colons() {
        let want = "/portfolio/orders/{}";
        assert_eq!(normalize_path("/portfolio/orders/{order_id}"), want);
        assert_eq!(normalize_path("/trade-api/v2/portfolio/orders/:id"), want);
        assert_eq!(normalize_path("trade-api/v2/portfolio/orders/{x}/"), want);
        assert_eq!(
            normalize_path(
                "https://api.elections.kalshi.com/trade-api/v2/portfolio/orders/{x}?a=1"
            ),
            want
        );
        assert_eq!(normalize_path("/trade-api/v2x/a"), "/trade-api/v2x/a");
    }

    #[tokio::test(start_paused = true)]
    async fn full_bucket_passes_capacity_over_cost_then_waits_cost_over_refill() {
        let limiter = basic(); // read: 200 tokens, 200/s; cost 10
        let start = Instant::now();
        for _ in 0..20 {
            limiter.acquire("get_markets", "GET", 1).await.unwrap();
        }
        assert_eq!(start.elapsed(), Duration::ZERO);
        assert_eq!(limiter.available(Bucket::Read), 0.0);
        limiter.acquire("get_markets", "GET", 1).await.unwrap();
        assert_eq!(start.elapsed(), Duration::from_millis(50)); // 10 / 200 s
    }

    #[tokio::test(start_paused = true)]
    async fn batch_is_billed_per_item() {
        let limits = RateLimits::for_tier(Tier::Advanced)
            .with_operation_cost("batch_cancel_orders_v2", 2)
            .with_reserve(0);
        let limiter = RateLimiter::new(limits);
        limiter
            .acquire("batch_create_orders_v2", "POST", 20)
            .await
            .unwrap();
        assert_eq!(limiter.available(Bucket::Write), 600.0 - 200.0);
        limiter
            .acquire("batch_cancel_orders_v2", "DELETE", 20)
            .await
            .unwrap();
        assert_eq!(limiter.available(Bucket::Write), 400.0 - 40.0);
        limiter.acquire("create_order_v2", "POST", 0).await.unwrap(); // 0 items = 1
        assert_eq!(limiter.available(Bucket::Write), 350.0);
        assert_eq!(limiter.available(Bucket::Read), 300.0);
    }

    #[tokio::test(start_paused = true)]
    async fn oversized_request_waits_for_full_bucket_then_goes_into_debt() {
        let limiter = basic(); // write: 100 tokens, 100/s
        let start = Instant::now();
        limiter.acquire_tokens(Bucket::Write, 50).await.unwrap();
        limiter.acquire_tokens(Bucket::Write, 250).await.unwrap();
        assert_eq!(start.elapsed(), Duration::from_millis(500)); // refill to full
        assert_eq!(limiter.available(Bucket::Write), -150.0);
        limiter.acquire_tokens(Bucket::Write, 10).await.unwrap();
        assert_eq!(start.elapsed(), Duration::from_millis(500 + 1600));
    }

    #[tokio::test(start_paused = true)]
    async fn clones_share_one_budget() {
        let limiter = basic();
        let clone = limiter.clone();
        let start = Instant::now();
        limiter.acquire_tokens(Bucket::Read, 100).await.unwrap();
        clone.acquire_tokens(Bucket::Read, 100).await.unwrap();
        assert_eq!(start.elapsed(), Duration::ZERO);
        assert_eq!(limiter.available(Bucket::Read), 0.0);
        clone.acquire_tokens(Bucket::Read, 20).await.unwrap();
        assert_eq!(start.elapsed(), Duration::from_millis(100));
    }

    #[tokio::test(start_paused = true)]
    async fn waiters_are_served_in_arrival_order() {
        let limiter = basic(); // write: 100 tokens, 100/s
        limiter.acquire_tokens(Bucket::Write, 90).await.unwrap(); // 10 left
        let start = Instant::now();
        let order = Arc::new(Mutex::new(Vec::new()));
        let spawn = |name: &'static str, tokens: u32| {
            let (limiter, order) = (limiter.clone(), order.clone());
            tokio::spawn(async move {
                limiter.acquire_tokens(Bucket::Write, tokens).await.unwrap();
                order.lock().unwrap().push((name, start.elapsed()));
            })
        };
        let mut tasks = vec![spawn("large", 100)];
        yield_now().await; // the large request is now queued first
        for name in ["small1", "small2", "small3"] {
            tasks.push(spawn(name, 10));
            yield_now().await;
        }
        for task in tasks {
            task.await.unwrap();
        }
        let order = order.lock().unwrap().clone();
        let ms = Duration::from_millis;
        assert_eq!(
            order,
            [
                ("large", ms(900)),
                ("small1", ms(1000)),
                ("small2", ms(1100)),
                ("small3", ms(1200)),
            ]
        );
    }

    #[tokio::test(start_paused = true)]
    async fn waiting_write_does_not_delay_reads() {
        let limiter = basic();
        limiter.acquire_tokens(Bucket::Write, 100).await.unwrap();
        let start = Instant::now();
        let writer = {
            let limiter = limiter.clone();
            tokio::spawn(
                async move { limiter.acquire("create_order_v2", "POST", 1).await.unwrap() },
            )
        };
        yield_now().await;
        limiter.acquire("get_markets", "GET", 1).await.unwrap();
        assert_eq!(start.elapsed(), Duration::ZERO);
        writer.await.unwrap();
        assert_eq!(start.elapsed(), Duration::from_millis(100));
    }

    #[tokio::test(start_paused = true)]
    async fn dropped_waiter_loses_no_tokens_and_frees_the_queue() {
        let limiter = basic(); // write: 100 tokens, 100/s
        limiter.acquire_tokens(Bucket::Write, 100).await.unwrap();
        let start = Instant::now();
        let timed_out = tokio::time::timeout(
            Duration::from_millis(300),
            limiter.acquire_tokens(Bucket::Write, 50),
        )
        .await;
        assert!(timed_out.is_err());
        assert_eq!(limiter.available(Bucket::Write), 30.0);

        // An aborted head of the queue hands its turn to the next waiter.
        let big = {
            let limiter = limiter.clone();
            tokio::spawn(async move { limiter.acquire_tokens(Bucket::Write, 100).await.unwrap() })
        };
        yield_now().await;
        let small = {
            let limiter = limiter.clone();
            tokio::spawn(async move { limiter.acquire_tokens(Bucket::Write, 40).await.unwrap() })
        };
        yield_now().await;
        big.abort();
        small.await.unwrap();
        assert_eq!(start.elapsed(), Duration::from_millis(400));
        assert_eq!(limiter.available(Bucket::Write), 0.0);
    }

    #[tokio::test(start_paused = true)]
    async fn set_limits_keeps_tokens_and_wakes_the_waiter() {
        let limiter = basic();
        limiter.acquire_tokens(Bucket::Write, 100).await.unwrap();
        let start = Instant::now();
        let waiter = {
            let limiter = limiter.clone();
            tokio::spawn(async move { limiter.acquire_tokens(Bucket::Write, 100).await.unwrap() })
        };
        yield_now().await;
        tokio::time::advance(Duration::from_millis(10)).await; // 1 token earned
        let prime = RateLimits::for_tier(Tier::Prime).with_operation_cost("get_order", 2);
        limiter.set_limits(prime.clone());
        assert_eq!(limiter.limits(), prime);
        assert_eq!(limiter.available(Bucket::Write), 1.0); // kept, not refilled
        assert_eq!(limiter.available(Bucket::Read), 200.0); // capped by old level
        waiter.await.unwrap();
        // 99 more tokens at 4000/s: 24.75 ms, rounded up to the timer's 1 ms.
        assert!(
            start.elapsed() < Duration::from_millis(40),
            "{:?}",
            start.elapsed()
        );
    }

    #[test]
    fn limiter_is_send_sync_and_debug() {
        fn send_sync<T: Send + Sync + Clone>() {}
        fn send<F: Send>(_: &F) {}
        send_sync::<RateLimiter>();
        let limiter = RateLimiter::new(RateLimits::for_tier(Tier::Basic));
        send(&limiter.acquire("get_markets", "GET", 1));
        let debug = format!("{limiter:?}");
        assert!(debug.contains("read_available"), "{debug}");
    }

    #[test]
    fn error_messages_name_the_problem() {
        let err = RateLimitError::InvalidBucket {
            bucket: Bucket::Read,
            field: "refill_rate",
            value: -5,
        };
        assert_eq!(
            err.to_string(),
            "invalid read bucket refill_rate -5: must be positive"
        );
    }
}
