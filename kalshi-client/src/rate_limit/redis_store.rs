//! One API key's token buckets kept in Redis, so that every process pointing
//! at the same Redis draws from one budget (feature `redis`).
//!
//! Each acquisition is one Lua script (`acquire.lua`), which Redis runs
//! atomically, timed by the Redis server's clock: hosts whose clocks
//! disagree still share one timeline, and two of them can never spend the
//! same token. A take is a reservation: the script deducts the tokens at
//! once (the level may go negative) and answers how long to wait, so
//! callers are served in the order they reached Redis and nobody polls.
//!
//! When Redis cannot be reached in time, the store does what
//! [`OnUnavailable`] says: wait and retry up to a bound, then fail the
//! request with [`StoreError::Unavailable`] (nothing is sent), or spend a
//! local budget of a configured share of the key's, charged back to the
//! shared buckets once Redis answers again. Never unlimited.

use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use ::redis::aio::MultiplexedConnection;
use ::redis::{AsyncConnectionConfig, Client as RedisClient, Script};
use tokio::time::Instant;

use super::{Bucket, BucketSpec, LimiterStats, StoreError, StoreKind, TokenBucket};

/// What a store does while Redis cannot be reached (or answers too slowly).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct OnUnavailable(Policy);

#[derive(Debug, Clone, Copy, PartialEq)]
enum Policy {
    Wait(Duration),
    LocalShare(f64),
}

impl OnUnavailable {
    /// Retry Redis, backing off, for at most `bound`; then the request fails
    /// with [`StoreError::Unavailable`] before anything is sent. The default,
    /// with 5 seconds.
    pub fn wait_up_to(bound: Duration) -> Self {
        Self(Policy::Wait(bound))
    }

    /// Spend a local budget of `share` (0 < share ≤ 1) of the key's rate and
    /// capacity, starting empty, until Redis answers again; the tokens spent
    /// meanwhile are then charged to the shared buckets. Redis is asked
    /// again once a second, by one request, which waits up to the store's
    /// timeout for the answer. Give each process of a fleet a share so the
    /// shares add up to at most 1.
    ///
    /// # Errors
    ///
    /// [`StoreError::InvalidShare`] outside `(0, 1]`.
    pub fn local_share(share: f64) -> Result<Self, StoreError> {
        if share > 0.0 && share <= 1.0 {
            Ok(Self(Policy::LocalShare(share)))
        } else {
            Err(StoreError::InvalidShare(share))
        }
    }
}

impl Default for OnUnavailable {
    fn default() -> Self {
        Self::wait_up_to(Duration::from_secs(5))
    }
}

/// Where a fleet's shared buckets live: a Redis server, how long to wait
/// for it, and what to do without it. Give it to
/// [`ClientBuilder::shared_rate_limits`](crate::ClientBuilder::shared_rate_limits),
/// which scopes it to the client's environment and API key id, or to
/// [`RateLimiter::shared`](super::RateLimiter::shared).
///
/// `Debug` shows the server's address, never a password in its URL.
#[derive(Clone)]
pub struct RedisStore {
    client: RedisClient,
    timeout: Duration,
    idle: Duration,
    on_unavailable: OnUnavailable,
    prefix: String,
    clock_offset_ms: i64,
}

impl RedisStore {
    /// A store on the Redis at `url` (`redis://[:password@]host[:port][/db]`,
    /// or `rediss://` for TLS where redis-rs is built with it). Nothing is
    /// connected yet: the first request connects, and reconnects after a
    /// failure.
    ///
    /// # Errors
    ///
    /// [`StoreError::InvalidUrl`] when the URL cannot be parsed.
    pub fn open(url: &str) -> Result<Self, StoreError> {
        let client = RedisClient::open(url).map_err(|error| StoreError::InvalidUrl {
            message: error.to_string(),
        })?;
        Ok(Self {
            client,
            timeout: Duration::from_millis(250),
            idle: Duration::from_secs(60),
            on_unavailable: OnUnavailable::default(),
            prefix: "kalshi:ratelimit".to_owned(),
            clock_offset_ms: 0,
        })
    }

    /// What to do when Redis cannot be reached (default:
    /// [`OnUnavailable::wait_up_to`] 5 s).
    pub fn on_unavailable(mut self, policy: OnUnavailable) -> Self {
        self.on_unavailable = policy;
        self
    }

    /// How long one connection attempt or one script call may take before
    /// Redis counts as unavailable (default 250 ms).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// How long a bucket that has refilled is kept before Redis expires it
    /// (default 60 s). A bucket that expired while idle is full again, so
    /// this only bounds the memory of budgets no longer used.
    pub fn idle_expiry(mut self, idle: Duration) -> Self {
        // Redis needs a positive expiry, and one that fits its integers.
        self.idle = idle.clamp(Duration::from_millis(1), Duration::from_secs(86_400));
        self
    }

    /// The start of every key this store writes (default
    /// `kalshi:ratelimit`), e.g. to share one Redis between unrelated fleets.
    pub fn key_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = prefix.into();
        self
    }

    /// Pretends this host's clock is `millis` off: only the clock-offset
    /// figure in [`LimiterStats`](super::LimiterStats) reads the local wall
    /// clock, so tests use this to show that skewed hosts still share one
    /// budget.
    #[doc(hidden)]
    pub fn local_clock_offset_for_tests(mut self, millis: i64) -> Self {
        self.clock_offset_ms = millis;
        self
    }

    /// Binds the store to one budget: `scope` names the environment and API
    /// key (never the private key).
    pub(super) fn budget(self, scope: &str) -> SharedBudget {
        // The hash tag `{scope}` keeps a budget's keys in one slot, as a
        // script touching several keys would need under Redis Cluster (the
        // connection here is to one node: Cluster is not supported yet).
        let base = format!("{}:{{{scope}}}", self.prefix);
        SharedBudget {
            keys: [format!("{base}:read"), format!("{base}:write")],
            seen: [format!("{base}:read:seen"), format!("{base}:write:seen")],
            base,
            script: Script::new(include_str!("acquire.lua")),
            connection: tokio::sync::Mutex::new(None),
            generation: AtomicU64::new(0),
            fallback: Fallback::new(),
            counters: Counters::default(),
            store: self,
        }
    }
}

impl fmt::Debug for RedisStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let info = self.client.get_connection_info();
        f.debug_struct("RedisStore")
            .field("addr", &info.addr().to_string())
            .field("db", &info.redis_settings().db())
            .field("timeout", &self.timeout)
            .field("idle_expiry", &self.idle)
            .field("on_unavailable", &self.on_unavailable)
            .field("key_prefix", &self.prefix)
            .finish()
    }
}

/// How often a store that fell back to its local share asks Redis again.
const PROBE_INTERVAL: Duration = Duration::from_secs(1);

/// The store bound to one budget, shared by every clone of a limiter.
pub(super) struct SharedBudget {
    store: RedisStore,
    base: String,
    keys: [String; 2],
    /// Per bucket: after a restart, the first bucket used must not mark the
    /// other as seen (it would start full).
    seen: [String; 2],
    script: Script,
    /// The connection and its generation, so a failure forgets only the
    /// connection it happened on.
    connection: tokio::sync::Mutex<Option<(u64, MultiplexedConnection)>>,
    generation: AtomicU64,
    fallback: Fallback,
    counters: Counters,
}

/// The local buckets used while Redis is unavailable, and what they spent.
struct Fallback {
    active: AtomicBool,
    next_probe: Mutex<Instant>,
    read: TokenBucket,
    write: TokenBucket,
    spent: [AtomicU64; 2],
}

impl Fallback {
    fn new() -> Self {
        let now = Instant::now();
        let none = BucketSpec {
            refill_per_sec: 1,
            capacity: 0,
        };
        Self {
            active: AtomicBool::new(false),
            next_probe: Mutex::new(now),
            read: TokenBucket::empty(none, now),
            write: TokenBucket::empty(none, now),
            spent: [AtomicU64::new(0), AtomicU64::new(0)],
        }
    }

    fn bucket(&self, bucket: Bucket) -> &TokenBucket {
        match bucket {
            Bucket::Read => &self.read,
            Bucket::Write => &self.write,
        }
    }

    /// Whether this call should go to Redis: always when not fallen back,
    /// and once per [`PROBE_INTERVAL`] when fallen back.
    fn should_try_redis(&self) -> bool {
        if !self.active.load(Ordering::Acquire) {
            return true;
        }
        let mut next = self
            .next_probe
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let now = Instant::now();
        if now < *next {
            return false;
        }
        *next = now + PROBE_INTERVAL;
        true
    }
}

#[derive(Default)]
struct Counters {
    shared: AtomicU64,
    local: AtomicU64,
    errors: AtomicU64,
    fallbacks: AtomicU64,
    /// Server clock minus this host's, in ms, at the last answer.
    offset_ms: AtomicI64,
}

fn index(bucket: Bucket) -> usize {
    match bucket {
        Bucket::Read => 0,
        Bucket::Write => 1,
    }
}

impl SharedBudget {
    /// Waits until `bucket` can pay `tokens`, then returns. `specs` are
    /// both buckets' current settings (read, write): a recovery charges
    /// either.
    pub(super) async fn acquire(
        self: &Arc<Self>,
        bucket: Bucket,
        specs: [BucketSpec; 2],
        tokens: u32,
    ) -> Result<(), StoreError> {
        let spec = specs[index(bucket)];
        let started = Instant::now();
        let mut backoff = Duration::from_millis(25);
        // One id for every attempt: a script that ran but whose answer was
        // lost is answered again, not run twice.
        let call = uuid::Uuid::new_v4();
        loop {
            if !self.fallback.should_try_redis() {
                return self.acquire_locally(bucket, specs, tokens).await;
            }
            match self.reserve(bucket, spec, i64::from(tokens), call).await {
                Ok(reserved) => {
                    self.recovered(specs).await;
                    self.counters.shared.fetch_add(1, Ordering::Relaxed);
                    self.wait_for(bucket, spec, tokens, reserved).await;
                    return Ok(());
                }
                Err(reason) => {
                    self.counters.errors.fetch_add(1, Ordering::Relaxed);
                    match self.store.on_unavailable.0 {
                        Policy::LocalShare(share) => {
                            self.fall_back(share, &reason);
                            return self.acquire_locally(bucket, specs, tokens).await;
                        }
                        Policy::Wait(bound) => {
                            let waited = started.elapsed();
                            if waited + backoff > bound {
                                tracing::warn!(%reason, ?waited, "rate-limit store unavailable; request refused");
                                return Err(StoreError::Unavailable { waited, reason });
                            }
                            tracing::debug!(%reason, ?backoff, "rate-limit store unavailable; retrying");
                            tokio::time::sleep(backoff).await;
                            backoff = (backoff * 2).min(Duration::from_secs(1));
                        }
                    }
                }
            }
        }
    }

    /// Sleeps out a reservation. If the caller gives up first, the tokens
    /// are given back so the callers queued behind it move up.
    async fn wait_for(
        self: &Arc<Self>,
        bucket: Bucket,
        spec: BucketSpec,
        tokens: u32,
        wait: Duration,
    ) {
        if wait.is_zero() {
            return;
        }
        let mut refund = Refund {
            budget: Some(self.clone()),
            bucket,
            spec,
            tokens,
        };
        tokio::time::sleep(wait).await;
        refund.budget = None;
    }

    /// One run of the script: takes `tokens` (gives back when negative).
    /// Answers how long the caller must wait before its request may go.
    async fn reserve(
        &self,
        bucket: Bucket,
        spec: BucketSpec,
        tokens: i64,
        call: uuid::Uuid,
    ) -> Result<Duration, String> {
        // Connecting has its own deadline (the connection's config), so a
        // slow handshake is not cut short by the script's.
        let (generation, mut connection) = self.connection().await.map_err(|e| e.to_string())?;
        let sent_at = self.local_micros();
        let mut invocation = self.script.prepare_invoke();
        invocation
            .key(&self.keys[index(bucket)])
            .key(&self.seen[index(bucket)])
            .key(format!("{}:call:{call}", self.base))
            .arg(spec.refill_per_sec)
            .arg(spec.capacity)
            .arg(tokens)
            .arg(u64::try_from(self.store.idle.as_millis()).unwrap_or(86_400_000));
        let run = invocation.invoke_async::<Vec<i64>>(&mut connection);
        let answer = match tokio::time::timeout(self.store.timeout, run).await {
            Ok(Ok(answer)) => answer,
            Ok(Err(error)) => {
                self.forget_connection(generation).await;
                return Err(error.to_string());
            }
            Err(_) => {
                self.forget_connection(generation).await;
                return Err(format!("no answer within {:?}", self.store.timeout));
            }
        };
        let [wait, server_micros, _level] = answer[..] else {
            return Err(format!("unexpected script answer {answer:?}"));
        };
        let local = (sent_at + self.local_micros()) / 2;
        self.counters
            .offset_ms
            .store((server_micros - local) / 1000, Ordering::Relaxed);
        Ok(Duration::from_micros(u64::try_from(wait).unwrap_or(0)))
    }

    async fn connection(&self) -> Result<(u64, MultiplexedConnection), ::redis::RedisError> {
        let mut slot = self.connection.lock().await;
        if let Some((generation, connection)) = &*slot {
            return Ok((*generation, connection.clone()));
        }
        let config = AsyncConnectionConfig::new()
            .set_connection_timeout(Some(self.store.timeout))
            .set_response_timeout(Some(self.store.timeout));
        let connection = self
            .store
            .client
            .get_multiplexed_async_connection_with_config(&config)
            .await?;
        let generation = self.generation.fetch_add(1, Ordering::Relaxed) + 1;
        *slot = Some((generation, connection.clone()));
        Ok((generation, connection))
    }

    /// Drops the connection a call failed on, so the next call reconnects;
    /// a newer one another task made meanwhile is kept.
    async fn forget_connection(&self, generation: u64) {
        let mut slot = self.connection.lock().await;
        if slot
            .as_ref()
            .is_some_and(|(current, _)| *current == generation)
        {
            *slot = None;
        }
    }

    /// This host's wall clock in µs, with the test offset.
    fn local_micros(&self) -> i64 {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_micros()).unwrap_or(i64::MAX));
        now.saturating_add(self.store.clock_offset_ms.saturating_mul(1000))
    }

    /// Switches to the local share (once per outage), starting it empty:
    /// the shared budget may be spent already.
    fn fall_back(&self, share: f64, reason: &str) {
        if self.fallback.active.swap(true, Ordering::AcqRel) {
            return;
        }
        let now = Instant::now();
        *self
            .fallback
            .next_probe
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = now + PROBE_INTERVAL;
        self.counters.fallbacks.fetch_add(1, Ordering::Relaxed);
        tracing::warn!(%reason, share, "rate-limit store unavailable; spending a local share of the budget");
        for bucket in [Bucket::Read, Bucket::Write] {
            self.fallback.bucket(bucket).reset_empty(now);
        }
    }

    async fn acquire_locally(
        self: &Arc<Self>,
        bucket: Bucket,
        specs: [BucketSpec; 2],
        tokens: u32,
    ) -> Result<(), StoreError> {
        let share = match self.store.on_unavailable.0 {
            Policy::LocalShare(share) => share,
            Policy::Wait(_) => 1.0,
        };
        let local = self.fallback.bucket(bucket);
        local.respec_if_changed(scaled(specs[index(bucket)], share));
        local.acquire(tokens).await;
        self.fallback.spent[index(bucket)].fetch_add(u64::from(tokens), Ordering::AcqRel);
        self.counters.local.fetch_add(1, Ordering::Relaxed);
        // Admitted locally after a recovery already charged the rest: this
        // one is charged on its own.
        if !self.fallback.active.load(Ordering::Acquire) {
            self.charge_spent(specs).await;
        }
        Ok(())
    }

    /// After Redis answered: leaves the fallback, if in it, and charges the
    /// shared buckets what was spent locally meanwhile.
    async fn recovered(self: &Arc<Self>, specs: [BucketSpec; 2]) {
        if !self.fallback.active.swap(false, Ordering::AcqRel) {
            return;
        }
        let charged = self.charge_spent(specs).await;
        tracing::info!(
            read_tokens = charged[0],
            write_tokens = charged[1],
            "rate-limit store reachable again; local spending charged to the shared budget"
        );
    }

    /// Charges the tokens spent locally to the shared buckets, in a task of
    /// its own so a caller that gives up cannot cut it short. What cannot be
    /// charged is kept for the next try, and the limiter falls back again.
    async fn charge_spent(self: &Arc<Self>, specs: [BucketSpec; 2]) -> [u64; 2] {
        let budget = self.clone();
        let task = tokio::spawn(async move {
            let mut charged = [0_u64; 2];
            for bucket in [Bucket::Read, Bucket::Write] {
                let i = index(bucket);
                let spent = budget.fallback.spent[i].swap(0, Ordering::AcqRel);
                if spent == 0 {
                    continue;
                }
                let tokens = i64::try_from(spent).unwrap_or(i64::MAX);
                match budget
                    .reserve(bucket, specs[i], tokens, uuid::Uuid::new_v4())
                    .await
                {
                    Ok(_) => charged[i] = spent,
                    Err(reason) => {
                        budget.fallback.spent[i].fetch_add(spent, Ordering::AcqRel);
                        if let Policy::LocalShare(share) = budget.store.on_unavailable.0 {
                            budget.fall_back(share, &reason);
                        }
                    }
                }
            }
            charged
        });
        task.await.unwrap_or_default()
    }

    pub(super) fn stats(&self, acquisitions: u64) -> LimiterStats {
        let shared = self.counters.shared.load(Ordering::Relaxed);
        LimiterStats {
            store: StoreKind::Redis,
            acquisitions,
            shared_acquisitions: shared,
            fallback_acquisitions: self.counters.local.load(Ordering::Relaxed),
            store_errors: self.counters.errors.load(Ordering::Relaxed),
            fallbacks: self.counters.fallbacks.load(Ordering::Relaxed),
            in_fallback: self.fallback.active.load(Ordering::Relaxed),
            // Measured with every answer; meaningless before the first.
            store_clock_offset_ms: (shared > 0)
                .then(|| self.counters.offset_ms.load(Ordering::Relaxed)),
        }
    }
}

fn scaled(spec: BucketSpec, share: f64) -> BucketSpec {
    // Truncation is the point: a share never rounds up past its part.
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    let part = |value: u32| (f64::from(value) * share) as u32;
    // At least one token of capacity: a bucket of none would admit any
    // request at once (it "can pay" the capped need of zero).
    BucketSpec {
        refill_per_sec: part(spec.refill_per_sec).max(1),
        capacity: part(spec.capacity).max(1),
    }
}

/// Gives a reservation back if its waiter is dropped before its turn.
struct Refund {
    budget: Option<Arc<SharedBudget>>,
    bucket: Bucket,
    spec: BucketSpec,
    tokens: u32,
}

impl Drop for Refund {
    fn drop(&mut self) {
        let Some(budget) = self.budget.take() else {
            return;
        };
        let (bucket, spec, tokens) = (self.bucket, self.spec, self.tokens);
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(async move {
                let _ = budget
                    .reserve(bucket, spec, -i64::from(tokens), uuid::Uuid::new_v4())
                    .await;
            });
        }
    }
}
