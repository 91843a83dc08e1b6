//! One rate budget for a fleet: the limiter's buckets kept in a real
//! `redis-server` (`kalshi_tests::redis`), shared by several limiters,
//! several OS processes, and hosts whose clocks disagree.
//!
//! Bucket levels are read straight from Redis (`HGET ... units`, millionths
//! of a token) where the arithmetic is the point, so those checks do not
//! depend on timing.

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use kalshi_client::rate_limit::{
    Bucket, BucketSpec, LimiterStats, OnUnavailable, RateLimiter, RateLimits, RedisStore,
    StoreError, StoreKind,
};
use kalshi_client::{Client, Credentials, Error, Execute};
use kalshi_sim::{Account, SimConfig, Simulator};
use kalshi_tests::keys::TestKey;
use kalshi_tests::redis::RedisServer;
use serde_json::{Value, json};

fn spec(refill_per_sec: u32, capacity: u32) -> BucketSpec {
    BucketSpec {
        refill_per_sec,
        capacity,
    }
}

/// Read and write buckets of `rate` tokens per second holding one second,
/// spent in full (no reserve), so the arithmetic below is exact.
fn limits(rate: u32) -> RateLimits {
    RateLimits::new(spec(rate, rate), spec(rate, rate)).with_reserve(0)
}

fn store(redis: &RedisServer) -> RedisStore {
    RedisStore::open(&redis.url()).unwrap()
}

/// A budget name no other test uses.
fn scope(test: &str) -> String {
    format!("test/{test}-{}", uuid::Uuid::new_v4())
}

/// A bucket's level in Redis, in tokens (`None` when the key is absent).
fn level(redis: &RedisServer, scope: &str, bucket: &str) -> Option<f64> {
    let reply = redis.command(&format!("HGET kalshi:ratelimit:{{{scope}}}:{bucket} units"));
    let mut lines = reply.lines();
    match lines.next()? {
        "$-1" => None,
        _ => lines.next()?.parse::<f64>().ok().map(|units| units / 1e6),
    }
}

/// Successful calls of a command Redis has served, from `INFO
/// commandstats` (an `EVALSHA` answered `NOSCRIPT` is a failed call).
fn calls(redis: &RedisServer, command: &str) -> u64 {
    let info = redis.command("INFO commandstats");
    let Some(fields) = info
        .lines()
        .find_map(|line| line.strip_prefix(&format!("cmdstat_{command}:")))
    else {
        return 0;
    };
    let field = |name: &str| {
        fields
            .split(',')
            .find_map(|pair| pair.strip_prefix(&format!("{name}=")))
            .map_or(0, |n| n.trim().parse::<u64>().unwrap())
    };
    field("calls") - field("failed_calls") - field("rejected_calls")
}

/// Checks that no prefix of the grants spent more than the budget earned:
/// the i-th grant (1-based) came no sooner than `(i * cost - start) / rate`
/// seconds after `t0`.
fn assert_within_budget(grants: &[Duration], cost: u32, rate: u32, start_tokens: u32) {
    let mut grants = grants.to_vec();
    grants.sort();
    for (i, at) in grants.iter().enumerate() {
        let spent = f64::from(cost) * (i as f64 + 1.0);
        let earliest = (spent - f64::from(start_tokens)) / f64::from(rate);
        // 2 ms for the timer and the two clocks' rates.
        assert!(
            at.as_secs_f64() + 0.002 >= earliest,
            "grant {} at {at:?}, before the budget allowed it ({earliest:.3} s)",
            i + 1
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_acquirers_on_several_connections_never_overspend() {
    let redis = RedisServer::start();
    let scope = scope("atomic");
    // Four limiters, four connections: four processes' worth of acquirers.
    let limiters: Vec<_> = (0..4)
        .map(|_| RateLimiter::shared(limits(1000), store(&redis), &scope))
        .collect();
    let evals_before = calls(&redis, "evalsha") + calls(&redis, "eval");
    let t0 = Instant::now();
    let grants = Arc::new(Mutex::new(Vec::new()));
    let mut tasks = Vec::new();
    for n in 0..160 {
        let (limiter, grants) = (limiters[n % 4].clone(), grants.clone());
        tasks.push(tokio::spawn(async move {
            limiter.acquire_tokens(Bucket::Read, 10).await.unwrap();
            grants.lock().unwrap().push(t0.elapsed());
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    let grants = grants.lock().unwrap().clone();
    assert_eq!(grants.len(), 160);
    // A budget Redis has never seen starts empty: 1,600 tokens at 1,000/s.
    assert_within_budget(&grants, 10, 1000, 0);
    // One script run per acquisition: nobody polled.
    let evals = calls(&redis, "evalsha") + calls(&redis, "eval") - evals_before;
    assert_eq!(evals, 160, "script calls");
    let stats: Vec<LimiterStats> = limiters.iter().map(RateLimiter::stats).collect();
    assert_eq!(
        stats.iter().map(|s| s.shared_acquisitions).sum::<u64>(),
        160
    );
    assert!(
        stats
            .iter()
            .all(|s| s.store == StoreKind::Redis && s.store_errors == 0)
    );
    // Everything spent, nothing left over, nothing given twice.
    let left = level(&redis, &scope, "read").unwrap();
    assert!(left <= 10.0, "level after the run: {left}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn waiters_are_served_in_the_order_they_reached_redis() {
    let redis = RedisServer::start();
    let scope = scope("order");
    let first = RateLimiter::shared(limits(100), store(&redis), &scope);
    let second = RateLimiter::shared(limits(100), store(&redis), &scope);
    let t0 = Instant::now();
    // A large request first (50 tokens of an empty 100/s budget: 0.5 s),
    // then a small one on another connection: it queues behind, it does
    // not slip ahead.
    let large = tokio::spawn(async move {
        first.acquire_tokens(Bucket::Read, 50).await.unwrap();
        t0.elapsed()
    });
    tokio::time::sleep(Duration::from_millis(50)).await;
    second.acquire_tokens(Bucket::Read, 10).await.unwrap();
    let small = t0.elapsed();
    let large = large.await.unwrap();
    assert!(large >= Duration::from_millis(495), "{large:?}");
    assert!(small >= Duration::from_millis(595), "{small:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hosts_with_skewed_clocks_draw_on_one_timeline() {
    let redis = RedisServer::start();
    let scope = scope("skew");
    let ahead = RateLimiter::shared(
        limits(500),
        store(&redis).local_clock_offset_for_tests(30_000),
        &scope,
    );
    let behind = RateLimiter::shared(
        limits(500),
        store(&redis).local_clock_offset_for_tests(-45_000),
        &scope,
    );
    let t0 = Instant::now();
    let grants = Arc::new(Mutex::new(Vec::new()));
    let mut tasks = Vec::new();
    for n in 0..60 {
        let limiter = if n % 2 == 0 { &ahead } else { &behind }.clone();
        let grants = grants.clone();
        tasks.push(tokio::spawn(async move {
            limiter.acquire_tokens(Bucket::Write, 10).await.unwrap();
            grants.lock().unwrap().push(t0.elapsed());
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    assert_within_budget(&grants.lock().unwrap(), 10, 500, 0);
    // The skew was real to each host: it shows in the stats, as the Redis
    // server's clock minus the host's.
    let offset = |limiter: &RateLimiter| limiter.stats().store_clock_offset_ms.unwrap();
    assert!(
        (offset(&ahead) + 30_000).abs() < 2_000,
        "{}",
        offset(&ahead)
    );
    assert!(
        (offset(&behind) - 45_000).abs() < 2_000,
        "{}",
        offset(&behind)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_is_billed_per_item() {
    let redis = RedisServer::start();
    let scope = scope("batch");
    // A slow refill (1 token/s) keeps the arithmetic exact, and the marker
    // of a budget in use makes it start full (1,000 tokens), as after an
    // idle expiry.
    let limits = RateLimits::new(spec(1, 1000), spec(1, 1000))
        .with_reserve(0)
        .with_operation_cost("batch_cancel_orders_v2", 2);
    for bucket in ["read", "write"] {
        redis.command(&format!("SET kalshi:ratelimit:{{{scope}}}:{bucket}:seen 1"));
    }
    let limiter = RateLimiter::shared(limits, store(&redis), &scope);
    limiter
        .acquire("batch_create_orders_v2", "POST", 20)
        .await
        .unwrap();
    let after_create = level(&redis, &scope, "write").unwrap();
    assert!(
        (800.0..801.0).contains(&after_create),
        "20 x 10 taken: {after_create}"
    );
    limiter
        .acquire("batch_cancel_orders_v2", "DELETE", 20)
        .await
        .unwrap();
    let after_cancel = level(&redis, &scope, "write").unwrap();
    assert!(
        (760.0..761.0).contains(&after_cancel),
        "20 x 2 taken: {after_cancel}"
    );
    limiter.acquire("get_markets", "GET", 1).await.unwrap();
    assert!(level(&redis, &scope, "read").unwrap() >= 990.0);
    assert!(
        level(&redis, &scope, "write").unwrap() < 761.0,
        "reads go to their own bucket"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn limits_loaded_from_the_account_apply_to_the_shared_budget() {
    let redis = RedisServer::start();
    let sim = Simulator::start(
        SimConfig::new()
            .account(Account::with_public_key(
                "alice",
                "alice-key",
                TestKey::ed25519().public_key(),
            ))
            .rate_limit(300, 150),
    )
    .await
    .unwrap();
    let client = Client::builder()
        .base_url(sim.base_url())
        .credentials(Credentials::from_pem("alice-key", &TestKey::ed25519().pem).unwrap())
        .rate_limit_tier(kalshi_client::Tier::Prime)
        .shared_rate_limits(store(&redis))
        .build()
        .unwrap();
    // The budget is named after the exchange (host and port here) and the key.
    let addr = sim.base_url();
    let host = addr
        .trim_start_matches("http://")
        .split('/')
        .next()
        .unwrap()
        .to_owned();
    let scope = format!("{host}/alice-key");
    redis.command(&format!("SET kalshi:ratelimit:{{{scope}}}:read:seen 1")); // start full
    let limits = client.load_rate_limits().await.unwrap();
    assert_eq!(limits.spec(Bucket::Read), spec(300, 300));
    client.portfolio().balance().send().await.unwrap();
    // The account's 300-token bucket, less the reserve (10), less this read:
    // the Prime tier's 4,000 no longer applies.
    let level = level(&redis, &scope, "read").unwrap();
    assert!((280.0..280.5).contains(&level), "{level}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idle_budget_expires_full_but_a_restart_starts_it_empty() {
    let mut redis = RedisServer::start();
    let scope = scope("restart");
    let store = store(&redis).idle_expiry(Duration::from_millis(100));
    let limiter = RateLimiter::shared(limits(100), store, &scope);
    limiter.acquire_tokens(Bucket::Read, 10).await.unwrap();
    assert!(
        level(&redis, &scope, "read").unwrap() < 0.0,
        "first use starts empty"
    );

    // Idle: refilled (about 1.1 s), then expired 100 ms later.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(level(&redis, &scope, "read"), None, "expired");
    limiter.acquire_tokens(Bucket::Read, 10).await.unwrap();
    let after_idle = level(&redis, &scope, "read").unwrap();
    assert!(
        after_idle > 89.0,
        "an expired budget is full again: {after_idle}"
    );

    // A restart loses everything, marker included: the exchange's bucket may
    // be spent, so the budget starts empty rather than granting a burst.
    redis.start_again();
    limiter.acquire_tokens(Bucket::Read, 10).await.unwrap();
    let after_restart = level(&redis, &scope, "read").unwrap();
    assert!(after_restart < 0.0, "after a restart: {after_restart}");
    // Each bucket has its own marker: the read just used does not make the
    // write bucket start full after the restart.
    limiter.acquire_tokens(Bucket::Write, 10).await.unwrap();
    let write = level(&redis, &scope, "write").unwrap();
    assert!(write < 0.0, "the write bucket after a restart: {write}");
    let stats = limiter.stats();
    assert!(stats.store_errors >= 1, "the restart was seen: {stats:?}");
    assert_eq!(stats.fallbacks, 0, "waited, did not fall back: {stats:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_store_refuses_the_request_after_the_bound() {
    let redis = RedisServer::start();
    let port = redis.port();
    drop(redis);
    let unreachable = RedisStore::open(&format!("redis://127.0.0.1:{port}/"))
        .unwrap()
        .timeout(Duration::from_millis(50))
        .on_unavailable(OnUnavailable::wait_up_to(Duration::from_millis(300)));
    let sim = Simulator::start(SimConfig::new().account(Account::with_public_key(
        "alice",
        "alice-key",
        TestKey::ed25519().public_key(),
    )))
    .await
    .unwrap();
    let client = Client::builder()
        .base_url(sim.base_url())
        .credentials(Credentials::from_pem("alice-key", &TestKey::ed25519().pem).unwrap())
        .rate_limits(limits(100))
        .shared_rate_limits(unreachable)
        .build()
        .unwrap();
    let error = client.portfolio().balance().send().await.unwrap_err();
    match &error {
        Error::RateBudgetUnavailable {
            operation,
            source: StoreError::Unavailable { waited, .. },
        } => {
            assert_eq!(*operation, "get_balance");
            assert!(*waited <= Duration::from_millis(300), "{waited:?}");
        }
        other => panic!("{other:?}"),
    }
    assert!(!error.may_have_executed());
    assert!(error.to_string().contains("not sent"), "{error}");
    assert!(sim.journal().is_empty(), "nothing reached the exchange");
    let stats = client.rate_limiter().unwrap().stats();
    assert!(
        stats.store_errors >= 2,
        "retried before giving up: {stats:?}"
    );
    assert_eq!(stats.acquisitions, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_local_share_stands_in_while_redis_is_down_and_is_charged_back() {
    let mut redis = RedisServer::start();
    let scope = scope("fallback");
    let store = store(&redis)
        .timeout(Duration::from_millis(50))
        .on_unavailable(OnUnavailable::local_share(0.5).unwrap());
    let limiter = RateLimiter::shared(limits(100), store, &scope);
    limiter.acquire_tokens(Bucket::Read, 10).await.unwrap();
    redis.stop();
    // The switch is told in `tracing`: captured on this thread, where the
    // acquisitions below run.
    let log = Log::default();
    let _guard = tracing::subscriber::set_default(
        tracing_subscriber::fmt()
            .with_ansi(false)
            .with_writer(log.clone())
            .finish(),
    );

    // Half the budget (50 tokens/s), starting empty: 30 tokens take 0.6 s.
    let started = Instant::now();
    for _ in 0..3 {
        limiter.acquire_tokens(Bucket::Read, 10).await.unwrap();
    }
    assert!(
        started.elapsed() >= Duration::from_millis(590),
        "{:?}",
        started.elapsed()
    );
    let stats = limiter.stats();
    assert!(stats.in_fallback, "{stats:?}");
    assert_eq!(
        (stats.fallbacks, stats.fallback_acquisitions),
        (1, 3),
        "{stats:?}"
    );
    let text = log.text();
    assert!(
        text.contains("WARN") && text.contains("spending a local share"),
        "{text}"
    );

    // Back up (empty, after a restart); the next probe finds it, charges the
    // 30 tokens spent locally, then takes this request's 10.
    redis.start_again();
    tokio::time::sleep(Duration::from_millis(1100)).await;
    limiter.acquire_tokens(Bucket::Read, 10).await.unwrap();
    let stats = limiter.stats();
    assert!(!stats.in_fallback, "{stats:?}");
    assert_eq!(stats.shared_acquisitions, 2, "{stats:?}");
    let level = level(&redis, &scope, "read").unwrap();
    assert!(
        (-41.0..-38.0).contains(&level),
        "30 charged back + 10 taken: {level}"
    );
    assert!(log.text().contains("reachable again"), "{}", log.text());
}

/// Formatted `tracing` output, kept for assertions.
#[derive(Clone, Default)]
struct Log(Arc<Mutex<Vec<u8>>>);

impl Log {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

impl std::io::Write for Log {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Log {
    type Writer = Log;

    fn make_writer(&'a self) -> Log {
        self.clone()
    }
}

#[test]
fn the_store_never_shows_a_password() {
    let store = RedisStore::open("redis://:hunter2-secret@127.0.0.1:6390/3").unwrap();
    let debug = format!("{store:?}");
    assert!(!debug.contains("hunter2"), "{debug}");
    assert!(
        debug.contains("127.0.0.1:6390") && debug.contains("db: 3"),
        "{debug}"
    );
    assert!(matches!(
        RedisStore::open("http://nope"),
        Err(StoreError::InvalidUrl { .. })
    ));
    for share in [0.0, -0.5, 1.5, f64::NAN] {
        assert!(
            matches!(
                OnUnavailable::local_share(share),
                Err(StoreError::InvalidShare(_))
            ),
            "{share}"
        );
    }
}

#[tokio::test]
async fn a_shared_budget_needs_limits_and_a_key() {
    let redis_url = "redis://127.0.0.1:1/";
    let without_limits = Client::builder()
        .base_url("http://127.0.0.1:1/trade-api/v2")
        .credentials(Credentials::from_pem("k", &TestKey::ed25519().pem).unwrap())
        .shared_rate_limits(RedisStore::open(redis_url).unwrap())
        .build();
    assert!(matches!(without_limits, Err(Error::Config { .. })));
    let without_key = Client::builder()
        .base_url("http://127.0.0.1:1/trade-api/v2")
        .rate_limits(limits(10))
        .shared_rate_limits(RedisStore::open(redis_url).unwrap())
        .build();
    let error = without_key.err().unwrap();
    assert!(error.to_string().contains("credentials"), "{error}");
}

// --- several OS processes against the simulator -----------------------------

/// Tokens per second the simulator allows the key (reads; a read costs 10).
const FLEET_RATE: u32 = 300;
const FLEET_SECONDS: u64 = 6;

/// Each worker is this test binary again, running [`fleet_worker`].
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fleet_of_processes_shares_one_budget_without_a_429() {
    let offsets = [0_i64, 7_000, -4_000];
    let run = run_fleet(true, &offsets).await;
    println!(
        "fleet: {} requests, budget {}: {:?}",
        run.done, run.budget, run.results
    );
    assert_eq!(run.refused, 0, "429s from the exchange: {:?}", run.results);
    assert!(
        run.done as f64 >= 0.9 * run.budget,
        "{} requests, budget {}: {:?}",
        run.done,
        run.budget,
        run.results
    );
    for (result, offset) in run.results.iter().zip(offsets) {
        assert_eq!(result["errors"], 0, "{result}");
        assert_eq!(result["fallbacks"], 0, "{result}");
        let seen = result["clock_offset_ms"].as_i64().unwrap();
        assert!((seen + offset).abs() < 2_000, "{result}");
    }
}

/// The control: the same fleet with a budget per process overruns the key's
/// and collects 429s, so the test above measures the sharing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fleet_with_a_budget_per_process_is_refused() {
    let run = run_fleet(false, &[0, 0, 0]).await;
    println!(
        "fleet without sharing: {} requests, budget {}, {} refused",
        run.done, run.budget, run.refused
    );
    assert!(run.refused > 0, "{:?}", run.results);
}

struct FleetRun {
    done: u64,
    budget: f64,
    refused: u64,
    results: Vec<Value>,
}

/// Three worker processes against one simulator key, with the shared
/// budget or each with its own in memory.
async fn run_fleet(shared: bool, offsets: &[i64]) -> FleetRun {
    let redis = RedisServer::start();
    let sim = Simulator::start(
        SimConfig::new()
            .account(Account::with_public_key(
                "fleet",
                "fleet-key",
                TestKey::ed25519().public_key(),
            ))
            .rate_limit(FLEET_RATE, FLEET_RATE)
            .control_api(true),
    )
    .await
    .unwrap();
    let mut workers: Vec<_> = offsets
        .iter()
        .map(|offset| {
            let config = json!({
                "base_url": sim.base_url(),
                "redis": shared.then(|| redis.url()),
                "rate": FLEET_RATE,
                "seconds": FLEET_SECONDS,
                "clock_offset_ms": offset,
                // Test keys are made per process: the worker signs with this one.
                "key_pem": TestKey::ed25519().pem,
            });
            Command::new(std::env::current_exe().unwrap())
                .args(["--exact", "fleet::fleet_worker", "--ignored", "--nocapture"])
                .env("KALSHI_FLEET_WORKER", config.to_string())
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .stderr(Stdio::inherit())
                .spawn()
                .expect("start a worker process")
        })
        .collect();
    // Everyone connected and ready; then all go at once.
    let mut outputs: Vec<_> = workers
        .iter_mut()
        .map(|w| BufReader::new(w.stdout.take().unwrap()).lines())
        .collect();
    for lines in &mut outputs {
        wait_for(lines, "FLEET-READY");
    }
    for worker in &mut workers {
        writeln!(worker.stdin.as_mut().unwrap(), "go").unwrap();
    }
    let results: Vec<Value> = outputs
        .iter_mut()
        .map(|lines| serde_json::from_str(&wait_for(lines, "FLEET-RESULT ")).unwrap())
        .collect();
    for worker in &mut workers {
        assert!(worker.wait().unwrap().success());
    }
    let audit = crate::support::sim_control(&sim, "audit").await;
    FleetRun {
        done: results
            .iter()
            .map(|r| r["requests"].as_u64().unwrap())
            .sum(),
        // The budget over the run: FLEET_RATE tokens/s, 10 per read.
        budget: f64::from(FLEET_RATE) / 10.0 * FLEET_SECONDS as f64,
        refused: audit["rate_limited"]["fleet-key"].as_u64().unwrap_or(0),
        results,
    }
}

fn wait_for(lines: &mut impl Iterator<Item = std::io::Result<String>>, prefix: &str) -> String {
    for line in lines {
        let line = line.expect("worker output");
        if let Some(rest) = line.strip_prefix(prefix) {
            return rest.to_owned();
        }
    }
    panic!("a worker ended before printing {prefix}");
}

/// One process of the fleet: a client with the shared budget that reads
/// its balance from 4 tasks for the given seconds after the parent's "go".
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a worker process of a_fleet_of_processes_shares_one_budget_without_a_429"]
async fn fleet_worker() {
    let Ok(config) = std::env::var("KALSHI_FLEET_WORKER") else {
        return;
    };
    let config: Value = serde_json::from_str(&config).unwrap();
    let rate = u32::try_from(config["rate"].as_u64().unwrap()).unwrap();
    let mut builder = Client::builder()
        .base_url(config["base_url"].as_str().unwrap())
        .credentials(
            Credentials::from_pem("fleet-key", config["key_pem"].as_str().unwrap()).unwrap(),
        )
        .rate_limits(RateLimits::new(spec(rate, rate), spec(rate, rate)));
    if let Some(url) = config["redis"].as_str() {
        let store = RedisStore::open(url)
            .unwrap()
            .local_clock_offset_for_tests(config["clock_offset_ms"].as_i64().unwrap());
        builder = builder.shared_rate_limits(store);
    }
    let client = builder.build().unwrap();
    println!("FLEET-READY");
    let mut go = String::new();
    std::io::stdin().read_line(&mut go).unwrap();
    let deadline = Instant::now() + Duration::from_secs(config["seconds"].as_u64().unwrap());
    let counts = Arc::new(Mutex::new((0_u64, 0_u64)));
    let tasks: Vec<_> = (0..4)
        .map(|_| {
            let (client, counts) = (client.clone(), counts.clone());
            tokio::spawn(async move {
                while Instant::now() < deadline {
                    let result = client.portfolio().balance().send().await;
                    if let Err(error) = &result {
                        // The first failure says why; later ones repeat it.
                        if counts.lock().unwrap().1 == 0 {
                            eprintln!("fleet worker: {error}");
                        }
                    }
                    let ok = result.is_ok();
                    if Instant::now() <= deadline {
                        let mut counts = counts.lock().unwrap();
                        if ok { counts.0 += 1 } else { counts.1 += 1 }
                    }
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap();
    }
    let (requests, errors) = *counts.lock().unwrap();
    let stats = client.rate_limiter().unwrap().stats();
    println!(
        "FLEET-RESULT {}",
        json!({
            "requests": requests,
            "errors": errors,
            "fallbacks": stats.fallbacks,
            "clock_offset_ms": stats.store_clock_offset_ms,
        })
    );
}

/// The script answers a repeated call id with its first answer: an
/// acquisition whose answer was lost (a timeout) and that is retried takes
/// its tokens once.
#[test]
fn a_retried_call_takes_its_tokens_once() {
    let redis = RedisServer::start();
    let script = include_str!("../../kalshi-client/src/rate_limit/acquire.lua");
    let keys = ["t:{s}:read", "t:{s}:read:seen", "t:{s}:call:1"];
    // 100 tokens/s, capacity 100, take 10, idle 60 s; the bucket starts
    // empty (never seen), so the first take waits 0.1 s.
    let first = redis.eval(script, &keys, &["100", "100", "10", "60000"]);
    let again = redis.eval(script, &keys, &["100", "100", "10", "60000"]);
    assert_eq!(first, again, "the same answer, not a second take");
    let units: f64 = redis
        .command("HGET t:{s}:read units")
        .lines()
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    assert!((-10e6..-9e6).contains(&units), "taken once: {units}");
    let other = ["t:{s}:read", "t:{s}:read:seen", "t:{s}:call:2"];
    let second = redis.eval(script, &other, &["100", "100", "10", "60000"]);
    assert_ne!(second, first, "a new call id takes again");
}
