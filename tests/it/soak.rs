//! The fault soak: bots trade at random against the simulator, in its own
//! process, while faults are injected at random into their requests, into
//! a market-data stream and into their own account streams, and the
//! invariants a trading program relies on are checked continuously and at
//! the end.
//!
//! It is `#[ignore]`d in the normal run because it measures this process
//! (memory, descriptors, tasks): `cargo xtask ci` runs it alone for a
//! minute, `cargo xtask soak --minutes M --bots K` for longer. Settings come
//! from the environment: `KALSHI_SOAK_SECONDS` (60), `KALSHI_SOAK_BOTS` (4),
//! `KALSHI_SOAK_SEED` (the time), `KALSHI_SOAK_REPORT` (a file for the
//! Markdown report; it is printed either way), `KALSHI_SOAK_RESERVE` (the
//! tokens each client's rate limiter holds back of its burst, to study the
//! simulator's 429s; unset, the client's default).
//!
//! Invariants:
//! - one order per `client_order_id` on the exchange, and every create whose
//!   answer was lost is settled by `Orders::reconcile`: found, or placed
//!   then, once;
//! - a create that failed with `may_have_executed() == false` left no order;
//!   every order the exchange holds is one a bot knows it placed;
//! - money is conserved exactly: cash + open interest + fees = deposits,
//!   after every round of settlements, and the bots' balances read over
//!   REST add up to the exchange's cash;
//! - every failure is an `Error` of a kind a fault explains (no
//!   `InvalidRequest`, `Config` or key errors);
//! - memory, descriptors and live tasks are flat after warm-up;
//! - the simulator's own rate limits refuse nothing: the client-side
//!   limiter, loaded from `/account/limits`, keeps each key under budget;
//! - the stream's local books equal the exchange's once the faults stop;
//! - each bot's own account stream (fills, orders and positions, with
//!   recovery on: its REST reads meet the REST faults) then equals what
//!   REST lists: every fill once, every order's and position's last state
//!   (a kind whose recovery reported a failure is left out for that bot,
//!   as the event tells a program to reconcile it; see `soak/account.rs`).

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use kalshi_client::order::{CancelOrder, NewOrder, Price, Quantity, Subaccount};
use kalshi_client::resources::Reconciled;
use kalshi_client::stream::{Event, StreamSession, Subscription};
use kalshi_client::{Client, Credentials, Error, Execute, Tier};
use kalshi_tests::keys::TestKey;

mod account;
use rust_decimal::Decimal;
use serde_json::{Value, json};

/// Subaccounts each bot trades from (0 is the primary).
const SUBACCOUNTS: u32 = 3;
/// Markets open at any time.
const MARKETS: usize = 4;
/// What each bot's subaccounts start with.
const FUNDING: &str = "2000";
/// Requests per second per key the simulator allows (reads, writes).
const RATE_LIMIT: (u32, u32) = (100, 50);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "measures the whole process: run alone by `cargo xtask ci` and `cargo xtask soak`"]
async fn soak() {
    let settings = Settings::from_env();
    let report = run(&settings).await;
    let text = report.markdown(&settings);
    println!("{text}");
    if let Ok(path) = std::env::var("KALSHI_SOAK_REPORT") {
        std::fs::write(&path, &text).expect("write the soak report");
    }
    assert!(
        report.violations.is_empty(),
        "invariants broken:\n{}",
        report.violations.join("\n")
    );
}

struct Settings {
    duration: Duration,
    bots: usize,
    seed: u64,
    reserve: Option<u32>,
}

impl Settings {
    fn from_env() -> Self {
        let number = |name: &str, default: u64| {
            std::env::var(name)
                .ok()
                .and_then(|v| v.parse().ok())
                .unwrap_or(default)
        };
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(1, |d| d.as_secs());
        Self {
            duration: Duration::from_secs(number("KALSHI_SOAK_SECONDS", 60)),
            bots: number("KALSHI_SOAK_BOTS", 4).max(1) as usize,
            seed: number("KALSHI_SOAK_SEED", now),
            reserve: std::env::var("KALSHI_SOAK_RESERVE")
                .ok()
                .and_then(|v| v.parse().ok()),
        }
    }
}

// --- the simulator, in its own process --------------------------------------

/// The `kalshi-sim` binary of this build, killed on drop.
struct SimProcess {
    child: Child,
    base_url: String,
    origin: String,
    http: reqwest::Client,
    _dir: TempDir,
}

impl SimProcess {
    /// Starts the binary next to this test binary's profile directory
    /// (`cargo test --workspace --all-targets` and `cargo xtask soak`
    /// build it).
    fn start(monitor: &TestKey) -> Self {
        let exe = std::env::current_exe().expect("the test binary's path");
        let profile_dir = exe
            .parent()
            .and_then(|deps| deps.parent())
            .expect("target/<profile>/deps");
        let binary = profile_dir.join(format!("kalshi-sim{}", std::env::consts::EXE_SUFFIX));
        assert!(
            binary.exists(),
            "{} is missing: build it with `cargo build -p kalshi-sim` (same profile)",
            binary.display()
        );
        let dir = TempDir::new();
        let key_file = dir.0.join("monitor.pub.pem");
        std::fs::write(&key_file, monitor.public_pem()).expect("write the monitor's key");
        let (read, write) = RATE_LIMIT;
        let mut child = Command::new(&binary)
            .args(["--port", "0", "--empty", "--key-id", "soak-monitor"])
            .arg("--public-key")
            .arg(&key_file)
            .args(["--rate-limit", &format!("{read},{write}")])
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start kalshi-sim");
        let stdout = child.stdout.take().expect("piped stdout");
        let mut lines = BufReader::new(stdout).lines();
        let mut base_url = None;
        for line in lines.by_ref() {
            let line = line.expect("read kalshi-sim's output");
            if let Some(url) = line.strip_prefix("Kalshi simulator listening on ") {
                base_url = Some(url.trim().to_owned());
                break;
            }
        }
        // Keep reading: the simulator writes more, and a closed pipe would
        // end it.
        std::thread::spawn(move || lines.for_each(drop));
        let base_url = base_url.expect("kalshi-sim printed its address");
        let origin = base_url
            .split("/trade-api")
            .next()
            .unwrap_or_default()
            .to_owned();
        Self {
            child,
            base_url,
            origin,
            http: reqwest::Client::new(),
            _dir: dir,
        }
    }

    /// One test-control request (`/_sim/...`).
    async fn control(&self, method: &str, path: &str, body: Value) -> Value {
        let url = format!("{}/_sim/{path}", self.origin);
        let request = match method {
            "GET" => self.http.get(url),
            "DELETE" => self.http.delete(url),
            _ => self.http.post(url).json(&body),
        };
        let response = request.send().await.expect("the control API answers");
        let status = response.status();
        let value: Value = response.json().await.expect("control answers are JSON");
        assert!(status.is_success(), "control {path}: {status} {value}");
        value
    }
}

impl Drop for SimProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A private directory removed on drop.
struct TempDir(std::path::PathBuf);

impl TempDir {
    fn new() -> Self {
        let dir = std::env::temp_dir().join(format!("kalshi-soak-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir(&dir).expect("create a temporary directory");
        Self(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

// --- what the bots record ---------------------------------------------------

/// Everything observed, shared by the bots and the checks.
#[derive(Default)]
struct Log {
    requests: u64,
    /// Failed calls by error kind.
    errors: BTreeMap<&'static str, u64>,
    /// `NotFound` errors by operation: which calls met orders or markets
    /// that were gone.
    not_found: BTreeMap<&'static str, u64>,
    /// Creates whose outcome was unknown, by how they were settled.
    unknown_outcomes: BTreeMap<&'static str, u64>,
    /// (user, client_order_id) of every order a bot knows exists.
    placed: BTreeSet<(String, String)>,
    /// (user, client_order_id) of creates that failed provably unexecuted.
    refused: BTreeSet<(String, String)>,
    /// Orders placed or found twice for one intent.
    doubles: Vec<String>,
    /// Problems seen while running.
    violations: Vec<String>,
}

impl Log {
    /// Bytes of live heap the record of placed orders holds per order,
    /// measured by copying it (call once the bots have stopped).
    fn record_bytes(&self) -> f64 {
        if self.placed.is_empty() {
            return 0.0;
        }
        let before = crate::heap::live_bytes();
        let copy = self.placed.clone();
        let held = crate::heap::live_bytes().saturating_sub(before);
        drop(copy);
        held as f64 / self.placed.len() as f64
    }

    fn error(&mut self, error: &Error) {
        let kind = kind(error);
        *self.errors.entry(kind).or_insert(0) += 1;
        if let Error::NotFound(api) = error {
            *self.not_found.entry(api.operation).or_insert(0) += 1;
        }
        if matches!(
            kind,
            "InvalidRequest" | "Config" | "Key" | "MissingCredentials"
        ) {
            self.violations
                .push(format!("an error no fault explains: {error}"));
        }
    }
}

/// The variant of an error, for counting.
fn kind(error: &Error) -> &'static str {
    match error {
        Error::InvalidRequest { .. } => "InvalidRequest",
        Error::Config { .. } => "Config",
        Error::MissingCredentials { .. } => "MissingCredentials",
        Error::Key(_) => "Key",
        Error::BadRequest(_) => "BadRequest",
        Error::Auth { .. } => "Auth",
        Error::NotFound(_) => "NotFound",
        Error::Conflict(_) => "Conflict",
        Error::Gone(_) => "Gone",
        Error::RateLimited(_) => "RateLimited",
        Error::Server(_) => "Server",
        Error::UnexpectedStatus(_) => "UnexpectedStatus",
        Error::Timeout { .. } => "Timeout",
        Error::Transport { .. } => "Transport",
        Error::Decode { .. } => "Decode",
        Error::ProtocolViolation { .. } => "ProtocolViolation",
        _ => "other",
    }
}

type Shared<T> = Arc<Mutex<T>>;

fn lock<T>(shared: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    shared.lock().unwrap_or_else(|p| p.into_inner())
}

// --- the run -------------------------------------------------------------------

struct Report {
    elapsed: Duration,
    log: Log,
    faults: BTreeMap<String, u64>,
    stream_faults: BTreeMap<String, u64>,
    settlements: u64,
    ledger_checks: u64,
    samples: Vec<Sample>,
    stream: String,
    /// What the account watchers saw.
    accounts: String,
    violations: Vec<String>,
}

#[derive(Clone, Copy)]
struct Sample {
    at: Duration,
    rss_kb: u64,
    /// Bytes allocated and not freed (`heap`), in kB.
    heap_kb: u64,
    /// The harness's records (part of the heap): placed orders (entries),
    /// and the bytes of the account watchers' views.
    records: [u64; 2],
    /// What the account streams' sessions hold to deliver each fill, order
    /// and position once, all together (bounded: not discounted).
    remembered: u64,
    fds: u64,
    tasks: u64,
}

async fn run(settings: &Settings) -> Report {
    let started = Instant::now();
    let started_at = std::time::SystemTime::now();
    let monitor_key = TestKey::ed25519();
    let sim = Arc::new(SimProcess::start(monitor_key));
    let markets = Arc::new(RwLock::new(Vec::new()));
    for n in 0..MARKETS {
        let ticker = list_market(&sim, n).await;
        markets.write().unwrap().push(ticker);
    }
    let bots = setup_bots(&sim, settings.bots, settings.reserve).await;
    let log: Shared<Log> = Arc::default();
    let deadline = Instant::now() + settings.duration;

    let monitor = start_monitor(&sim, monitor_key, &markets).await;
    let watchers = account::start(&bots).await;
    let sampler = tokio::spawn(sample_resources(
        deadline,
        log.clone(),
        watchers.records.clone(),
        watchers.remembered.clone(),
    ));
    let faults = tokio::spawn(inject_faults(sim.clone(), deadline, settings.seed));
    let stream_faults = tokio::spawn(inject_stream_faults(sim.clone(), deadline, settings.seed));
    let exchange = tokio::spawn(run_exchange(
        sim.clone(),
        markets.clone(),
        deadline,
        settings.seed,
    ));
    let mut handles = Vec::new();
    for (n, bot) in bots.iter().enumerate() {
        handles.push(tokio::spawn(trade(
            bot.clone(),
            markets.clone(),
            log.clone(),
            deadline,
            settings.seed.wrapping_add(n as u64 * 7919),
        )));
    }
    for handle in handles {
        handle.await.expect("a bot panicked");
    }
    let faults = faults.await.expect("the fault injector");
    let stream_faults = stream_faults.await.expect("the stream fault injector");
    let (settlements, ledger_checks, mut violations) = exchange.await.expect("the exchange task");
    let samples = sampler.await.expect("the sampler");

    // Quiet now: every request has returned; the faults still queued are
    // dropped. Resting
    // orders are canceled so that REST balances, which leave out the cash
    // they hold, can be added up.
    sim.control("DELETE", "faults", json!({})).await;
    for bot in &bots {
        retry(|| bot.client.orders().cancel_all().send()).await;
    }
    let mut log = std::mem::take(&mut *lock(&log));
    violations.append(&mut log.violations);
    let (stream, stream_violations) = finish_monitor(monitor, &sim, &markets).await;
    violations.extend(stream_violations);
    let accounts = account::finish(watchers).await;
    violations.extend(accounts.violations.iter().cloned());
    let record_bytes = [log.record_bytes(), 1.0];
    let audit = sim.control("GET", "audit", json!({})).await;
    violations.extend(check_orders(&audit, &log));
    violations.extend(check_ledger(&audit));
    violations.extend(check_rest_balances(&sim, &bots, &audit).await);
    violations.extend(check_rate_limits(&audit, started_at));
    violations.extend(check_flat(&samples, record_bytes, bots.len() as u64));
    Report {
        elapsed: started.elapsed(),
        log,
        faults,
        stream_faults,
        settlements,
        ledger_checks,
        samples,
        stream,
        accounts: accounts.summary,
        violations,
    }
}

/// Lists event `n` and its one market; returns the market's ticker.
async fn list_market(sim: &SimProcess, n: usize) -> String {
    let event = format!("KXSOAK-{n:05}");
    let ticker = format!("{event}-YES");
    sim.control(
        "POST",
        "events",
        json!({"ticker": event, "series_ticker": "KXSOAK", "title": "Soak"}),
    )
    .await;
    sim.control(
        "POST",
        "markets",
        json!({"ticker": ticker, "event_ticker": event, "title": "Soak market"}),
    )
    .await;
    ticker
}

#[derive(Clone)]
struct Bot {
    user: String,
    client: Client,
}

/// Accounts with both key types, funded subaccounts, and clients that
/// hold themselves to the limits the exchange reports.
async fn setup_bots(sim: &SimProcess, count: usize, reserve: Option<u32>) -> Vec<Bot> {
    let mut bots = Vec::new();
    for n in 0..count {
        let key = if n % 2 == 0 {
            TestKey::rsa()
        } else {
            TestKey::ed25519()
        };
        let user = format!("soak-bot-{n}");
        let key_id = format!("soak-key-{n}");
        sim.control(
            "POST",
            "accounts",
            json!({"user_id": user, "key_id": key_id, "public_key_pem": key.public_pem(),
                   "balance_dollars": FUNDING}),
        )
        .await;
        for subaccount in 1..SUBACCOUNTS {
            sim.control(
                "POST",
                "deposit",
                json!({"user_id": user, "subaccount": subaccount, "amount_dollars": FUNDING}),
            )
            .await;
        }
        let client = Client::builder()
            .base_url(sim.base_url.clone())
            .credentials(Credentials::from_pem(key_id, &key.pem).expect("a test key loads"))
            .request_timeout(Duration::from_secs(1))
            .rate_limit_tier(Tier::Basic)
            .build()
            .expect("a client");
        // Before any fault: the limits every request is then held to.
        let limits = client.load_rate_limits().await.expect("limits load");
        if let (Some(tokens), Some(limiter)) = (reserve, client.rate_limiter()) {
            limiter.set_limits(limits.with_reserve(tokens));
        }
        bots.push(Bot { user, client });
    }
    bots
}

/// One bot: orders, cancels and reads at random until the deadline.
async fn trade(
    bot: Bot,
    markets: Arc<RwLock<Vec<String>>>,
    log: Shared<Log>,
    deadline: Instant,
    seed: u64,
) {
    let mut rng = fastrand::Rng::with_seed(seed);
    let mut resting: Vec<(String, u32, String)> = Vec::new();
    while Instant::now() < deadline {
        let ticker = {
            let open = markets.read().unwrap();
            open[rng.usize(..open.len())].clone()
        };
        let subaccount = rng.u32(..SUBACCOUNTS);
        lock(&log).requests += 1;
        let action = rng.u8(..10);
        if matches!(action, 5..=6) {
            // A settled market's orders are gone from the exchange: forget
            // them instead of canceling them (404s), so the list holds only
            // open markets' orders and does not grow with the run.
            let open = markets.read().unwrap();
            resting.retain(|(_, _, ticker)| open.contains(ticker));
        }
        match action {
            0..=4 => {
                if let Some(id) = place(&bot, &ticker, subaccount, &mut rng, &log).await {
                    resting.push((id, subaccount, ticker));
                }
            }
            5..=6 if !resting.is_empty() => {
                let (id, subaccount, ticker) = resting.swap_remove(rng.usize(..resting.len()));
                let cancel = CancelOrder::new(id.as_str())
                    .subaccount(Subaccount::new(subaccount).expect("0-63"))
                    .route(kalshi_client::order::ExchangeRoute::ByTicker(ticker));
                if let Err(error) = bot.client.orders().cancel(cancel).send().await {
                    lock(&log).error(&error);
                }
            }
            7 => record(&log, bot.client.portfolio().balance().send().await),
            8 => record(&log, bot.client.markets().orderbook(&ticker).send().await),
            _ => record(&log, bot.client.orders().list().limit(50).send().await),
        }
    }
}

fn record<T>(log: &Shared<Log>, result: Result<T, Error>) {
    if let Err(error) = result {
        lock(log).error(&error);
    }
}

/// Places one random order; settles an unknown outcome. Returns the order
/// id when the order exists.
async fn place(
    bot: &Bot,
    ticker: &str,
    subaccount: u32,
    rng: &mut fastrand::Rng,
    log: &Shared<Log>,
) -> Option<String> {
    let price = Price::new(Decimal::new(i64::from(rng.u32(30..=70)), 2)).expect("a valid price");
    let count = Quantity::contracts(rng.u32(1..=5)).expect("a valid count");
    let order = if rng.bool() {
        NewOrder::buy_yes(ticker, count, price)
    } else {
        NewOrder::buy_no(ticker, count, price)
    }
    .subaccount(Subaccount::new(subaccount).expect("0-63"));
    let key = (bot.user.clone(), order.id().to_owned());
    match bot.client.orders().create(&order).send().await {
        Ok(placed) => {
            note_placed(log, key);
            Some(placed.order_id)
        }
        Err(error) if error.may_have_executed() => {
            lock(log).error(&error);
            reconcile(bot, &order, key, log).await
        }
        Err(error) => {
            let mut log = lock(log);
            log.error(&error);
            log.refused.insert(key);
            None
        }
    }
}

fn note_placed(log: &Shared<Log>, key: (String, String)) {
    let mut log = lock(log);
    if !log.placed.insert(key.clone()) {
        log.doubles.push(format!("{key:?} placed twice"));
    }
}

/// Settles an unknown outcome with the client's helper, retrying it while
/// its own calls meet faults (each try is as safe as the first).
async fn reconcile(
    bot: &Bot,
    order: &NewOrder,
    key: (String, String),
    log: &Shared<Log>,
) -> Option<String> {
    for _ in 0..20 {
        match bot.client.orders().reconcile(order, 200).await {
            Ok(settled) => {
                let how = match settled {
                    Reconciled::Found(_) => "found by reconcile",
                    Reconciled::Placed(_) => "absent, placed once by reconcile",
                    Reconciled::NotPlaced(_) => "absent, refused when resent",
                    _ => "other",
                };
                *lock(log).unknown_outcomes.entry(how).or_insert(0) += 1;
                let Some(id) = settled.order_id() else {
                    lock(log).refused.insert(key);
                    return None;
                };
                note_placed(log, key);
                return Some(id.to_owned());
            }
            Err(error) => {
                // A refusal proves the exchange did not place it now; the
                // first attempt may still exist, so look again.
                lock(log).error(&error);
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
    let mut log = lock(log);
    *log.unknown_outcomes
        .entry("unresolved after 20 tries")
        .or_insert(0) += 1;
    log.violations.push(format!(
        "{key:?}: outcome still unknown after 20 reconciles"
    ));
    None
}

// --- faults -------------------------------------------------------------------

/// Queues a random REST fault every 100-400 ms (about one request in six
/// meets one); returns counts by kind.
async fn inject_faults(
    sim: Arc<SimProcess>,
    deadline: Instant,
    seed: u64,
) -> BTreeMap<String, u64> {
    let mut rng = fastrand::Rng::with_seed(seed ^ 0xfa17);
    let mut counts = BTreeMap::new();
    while Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(rng.u64(100..400))).await;
        let fault = match rng.u8(..9) {
            0 => json!({"fault": "status", "status": 500}),
            1 => json!({"fault": "status", "status": 503}),
            2 => json!({"fault": "rate_limited"}),
            3 => json!({"fault": "drop_connection"}),
            4 => json!({"fault": "delay", "delay_ms": rng.u64(100..2500)}),
            5 => json!({"fault": "lose_response"}),
            6 => json!({"fault": "truncated_body"}),
            7 => json!({"fault": "malformed_json"}),
            _ => json!({"fault": "no_content"}),
        };
        let name = match (&fault["fault"], &fault["status"]) {
            (Value::String(f), Value::Number(s)) => format!("{f} {s}"),
            (Value::String(f), _) => f.clone(),
            _ => unreachable!(),
        };
        sim.control("POST", "faults", fault).await;
        *counts.entry(name).or_insert(0) += 1;
    }
    counts
}

/// A random stream fault on every session every 0.5-2 s.
async fn inject_stream_faults(
    sim: Arc<SimProcess>,
    deadline: Instant,
    seed: u64,
) -> BTreeMap<String, u64> {
    let mut rng = fastrand::Rng::with_seed(seed ^ 0x57ea);
    let mut counts = BTreeMap::new();
    while Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(rng.u64(500..2000))).await;
        let fault = *rng
            .choice(&[
                "drop_connection",
                "skip_seq",
                "repeat_seq",
                "delay",
                "unknown_message",
                "malformed_frame",
            ])
            .expect("not empty");
        let applied = sim
            .control("POST", "stream_faults", json!({"fault": fault, "ms": 300}))
            .await;
        if applied["applied"].as_u64().unwrap_or(0) > 0 {
            *counts.entry(fault.to_owned()).or_insert(0) += 1;
        }
    }
    counts
}

/// The exchange's own life: every few seconds a market settles and a new
/// one lists, and the books are checked to balance.
async fn run_exchange(
    sim: Arc<SimProcess>,
    markets: Arc<RwLock<Vec<String>>>,
    deadline: Instant,
    seed: u64,
) -> (u64, u64, Vec<String>) {
    let mut rng = fastrand::Rng::with_seed(seed ^ 0xe8);
    let (mut settlements, mut checks, mut violations) = (0, 0, Vec::new());
    let mut next = MARKETS;
    while Instant::now() + Duration::from_secs(5) < deadline {
        tokio::time::sleep(Duration::from_secs(4)).await;
        let fresh = list_market(&sim, next).await;
        next += 1;
        let settled = {
            let mut open = markets.write().unwrap();
            let at = rng.usize(..open.len());
            std::mem::replace(&mut open[at], fresh)
        };
        let state = if rng.bool() {
            "settled_yes"
        } else {
            "settled_no"
        };
        sim.control(
            "POST",
            "market_state",
            json!({"ticker": settled, "state": state}),
        )
        .await;
        settlements += 1;
        // The ledger alone: the audit lists every order, under the
        // exchange's lock, and would stall it every 4 s late in a run.
        violations.extend(check_ledger(&sim.control("GET", "ledger", json!({})).await));
        checks += 1;
    }
    (settlements, checks, violations)
}

// --- resources ----------------------------------------------------------------

async fn sample_resources(
    deadline: Instant,
    log: Shared<Log>,
    watched: Arc<AtomicI64>,
    remembered: Arc<Vec<AtomicU64>>,
) -> Vec<Sample> {
    let started = Instant::now();
    let mut samples = Vec::new();
    loop {
        let records = [
            lock(&log).placed.len() as u64,
            watched.load(Ordering::Relaxed).max(0).cast_unsigned(),
        ];
        let remembered = remembered.iter().map(|r| r.load(Ordering::Relaxed)).sum();
        samples.push(sample(started.elapsed(), records, remembered));
        if Instant::now() >= deadline {
            return samples;
        }
        tokio::time::sleep(Duration::from_secs(2)).await;
    }
}

fn sample(at: Duration, records: [u64; 2], remembered: u64) -> Sample {
    // Resident memory counts what the program holds, not the freed pages
    // the allocator would otherwise keep (tens of MB over half an hour,
    // RELIABILITY.md).
    crate::heap::release_free_pages();
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let rss_kb = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0);
    let fds = std::fs::read_dir("/proc/self/fd").map_or(0, |d| d.count() as u64);
    let tasks = tokio::runtime::Handle::current()
        .metrics()
        .num_alive_tasks() as u64;
    Sample {
        at,
        rss_kb,
        heap_kb: (crate::heap::live_bytes() / 1024) as u64,
        records,
        remembered,
        fds,
        tasks,
    }
}

/// After a warm-up (the first quarter), the last third of the samples may
/// not exceed the highs of the middle part by more than noise. The live
/// heap and resident memory are checked without the harness's own records
/// (`record_bytes` per unit of each: the placed orders' bytes per order,
/// estimated by a copy; the account views' bytes, counted as they change),
/// which grow with every order by design: what is left is the clients',
/// the sessions' (their recovery memory included) and the bots' memory,
/// held to 1 MB of growth where resident memory, which also holds what the
/// allocator keeps in use for its own reasons (freed pages it has not
/// returned are returned before each sample), gets 16 MB. Live tasks get
/// 16 and `sessions` x 4 more: each account stream may have three
/// recoveries (and their retries) in flight at a sample, all of them at
/// once after the reconnect a stream fault causes.
fn check_flat(samples: &[Sample], record_bytes: [f64; 2], sessions: u64) -> Vec<String> {
    if samples.len() < 8 {
        return Vec::new();
    }
    let warm = samples.len() / 4;
    let split = warm + (samples.len() - warm) / 3;
    let (middle, last) = (
        &samples[warm..split],
        &samples[samples.len() - (samples.len() - warm) / 3..],
    );
    let record_kb = |s: &Sample| {
        let record_bytes: f64 = s
            .records
            .iter()
            .zip(record_bytes)
            .map(|(&n, bytes)| n as f64 * bytes)
            .sum();
        (record_bytes / 1024.0) as u64
    };
    let heap_kb = |s: &Sample| s.heap_kb.saturating_sub(record_kb(s));
    let rss_kb = |s: &Sample| s.rss_kb.saturating_sub(record_kb(s));
    type Measure<'a> = &'a dyn Fn(&Sample) -> u64;
    let checks: [(&str, Measure, u64); 4] = [
        ("RSS less the harness's record (kB)", &rss_kb, 16 * 1024),
        ("live heap less the harness's record (kB)", &heap_kb, 1024),
        ("open descriptors", &|s| s.fds, 16),
        ("live tasks", &|s| s.tasks, 16 + 4 * sessions),
    ];
    let mut violations = Vec::new();
    for (what, f, slack) in checks {
        let high = |part: &[Sample]| {
            part.iter()
                .map(|s| (f(s), s.at.as_secs()))
                .max()
                .unwrap_or_default()
        };
        // The medians tell a trend from a spike.
        let median = |part: &[Sample]| {
            let mut values: Vec<u64> = part.iter().map(f).collect();
            values.sort_unstable();
            values.get(values.len() / 2).copied().unwrap_or(0)
        };
        let ((before, at_before), (after, at_after)) = (high(middle), high(last));
        if after > before + slack.max(before / 10) {
            violations.push(format!(
                "{what} grew after warm-up: {before} -> {after} (highs at {at_before} s and \
                 {at_after} s; medians {} -> {})",
                median(middle),
                median(last)
            ));
        }
    }
    violations
}

// --- the end checks -------------------------------------------------------------

fn dollars(value: &Value) -> Decimal {
    value
        .as_str()
        .and_then(|v| v.parse().ok())
        .expect("an amount in dollars")
}

/// cash + open interest + fees == deposits, exactly.
fn check_ledger(audit: &Value) -> Vec<String> {
    let [deposited, cash, open_interest, fees] =
        ["deposited", "cash", "open_interest", "fees"].map(|f| dollars(&audit[f]));
    if cash + open_interest + fees == deposited {
        Vec::new()
    } else {
        vec![format!(
            "money not conserved: cash {cash} + open interest {open_interest} + fees {fees} != deposited {deposited}"
        )]
    }
}

/// One order per client order id; every order known to its bot; no order
/// for a create refused as unexecuted.
fn check_orders(audit: &Value, log: &Log) -> Vec<String> {
    let mut violations = log.doubles.clone();
    let mut on_exchange = BTreeSet::new();
    for entry in audit["orders"].as_array().expect("orders") {
        let user = entry[0].as_str().unwrap_or_default().to_owned();
        let id = entry[1].as_str().unwrap_or_default().to_owned();
        if entry[2].as_u64() != Some(1) {
            violations.push(format!("{user} {id}: {} orders", entry[2]));
        }
        on_exchange.insert((user, id));
    }
    for key in on_exchange.difference(&log.placed) {
        violations.push(format!(
            "{key:?} is on the exchange but its bot never learned so"
        ));
    }
    for key in log.placed.difference(&on_exchange) {
        violations.push(format!(
            "{key:?} was reported placed but is not on the exchange"
        ));
    }
    for key in log.refused.intersection(&on_exchange) {
        violations.push(format!(
            "{key:?} failed with may_have_executed() == false, yet it executed"
        ));
    }
    violations
}

/// The balances the bots read over REST add up to the exchange's cash.
async fn check_rest_balances(sim: &SimProcess, bots: &[Bot], audit: &Value) -> Vec<String> {
    let mut total = Decimal::ZERO;
    for bot in bots {
        for subaccount in 0..SUBACCOUNTS {
            let balance = retry(|| {
                bot.client
                    .portfolio()
                    .balance()
                    .subaccount(subaccount)
                    .send()
            })
            .await;
            total += balance.balance_dollars.value();
        }
    }
    let monitor = monitor_client(sim, TestKey::ed25519());
    total += retry(|| monitor.portfolio().balance().send())
        .await
        .balance_dollars
        .value();
    let exchange_cash = dollars(&audit["cash"]);
    if total == exchange_cash {
        Vec::new()
    } else {
        vec![format!(
            "REST balances add up to {total}, the exchange holds {exchange_cash}"
        )]
    }
}

/// `call`'s value once the faults have stopped (some may still be queued).
async fn retry<T, F, Fut>(call: F) -> T
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = Result<T, Error>>,
{
    attempts(call)
        .await
        .unwrap_or_else(|e| panic!("a read failed 10 times in a row after the faults: {e:?}"))
}

/// `call`'s value, or its last error after 10 tries 50 ms to 1 s apart:
/// for reads made while faults are injected, on top of the client's own
/// retries (an answer that does not decode is not retried there).
async fn attempts<T, F, Fut>(call: F) -> Result<T, Error>
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = Result<T, Error>>,
{
    let mut wait = Duration::from_millis(50);
    let mut tries = 1;
    loop {
        match call().await {
            Ok(value) => return Ok(value),
            Err(error) if tries == 10 => return Err(error),
            Err(_) => {}
        }
        tokio::time::sleep(wait).await;
        wait = (wait * 2).min(Duration::from_secs(1));
        tries += 1;
    }
}

fn check_rate_limits(audit: &Value, started_at: std::time::SystemTime) -> Vec<String> {
    let refused: HashMap<String, u64> =
        serde_json::from_value(audit["rate_limited"].clone()).unwrap_or_default();
    let started_ms = started_at
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64);
    let refusals = audit["refusals"].as_array().cloned().unwrap_or_default();
    // Only API keys: unsigned requests (public market data) share the
    // simulator's "anonymous" bucket, which Kalshi keys by address, not by
    // key, and no client's limiter is meant to govern across processes.
    refused
        .into_iter()
        .filter(|(key, n)| *n > 0 && key != "anonymous")
        .map(|(key, n)| {
            // When, what, and how early (more than the reserve's refill
            // time: jitter the reserve did not absorb; far more: a burst).
            let each: Vec<String> = refusals
                .iter()
                .filter(|r| r["key"] == key.as_str())
                .map(|r| {
                    let at = (r["at_ms"].as_i64().unwrap_or(0) - started_ms) as f64 / 1000.0;
                    format!(
                        "{at:.1} s {} {} {} ms early",
                        r["method"].as_str().unwrap_or("?"),
                        r["path"].as_str().unwrap_or("?"),
                        r["early_ms"]
                    )
                })
                .collect();
            // The simulator describes only its latest 1,000 refusals.
            let listed = if each.len() as u64 == n {
                String::new()
            } else {
                format!(" ({} of them listed)", each.len())
            };
            format!(
                "the simulator's rate limit refused {n} requests of {key}{listed}: {}",
                each.join("; ")
            )
        })
        .collect()
}

// --- the stream -------------------------------------------------------------------

/// The monitor's task (which hands back its session and event counts) and
/// the switch that stops it.
type Monitor = (
    tokio::task::JoinHandle<(StreamSession, BTreeMap<&'static str, u64>)>,
    tokio::sync::oneshot::Sender<()>,
);

/// A session keeping the books of every market, drained in the background.
async fn start_monitor(
    sim: &SimProcess,
    key: &TestKey,
    markets: &Arc<RwLock<Vec<String>>>,
) -> Monitor {
    let client = monitor_client(sim, key);
    let session = client
        .stream()
        .heartbeat_timeout(Duration::from_secs(2))
        .reconnect_backoff(Duration::from_millis(50), Duration::from_millis(500))
        .connect()
        .await
        .expect("the monitor connects");
    let tickers = markets.read().unwrap().clone();
    let books = session
        .subscribe(Subscription::orderbook(tickers))
        .await
        .expect("subscribe to the books");
    let (stop, mut stopped) = tokio::sync::oneshot::channel();
    let markets = markets.clone();
    let handle = tokio::spawn(async move {
        let mut session = session;
        let mut counts = BTreeMap::new();
        let mut known: BTreeSet<String> = markets.read().unwrap().iter().cloned().collect();
        loop {
            tokio::select! {
                _ = &mut stopped => return (session, counts),
                event = session.next_event() => {
                    let Some(event) = event else { return (session, counts) };
                    *counts.entry(event_kind(&event)).or_insert(0) += 1;
                }
                _ = tokio::time::sleep(Duration::from_millis(250)) => {}
            }
            let open: BTreeSet<String> = markets.read().unwrap().iter().cloned().collect();
            let new: Vec<String> = open.difference(&known).cloned().collect();
            if !new.is_empty() && session.add_markets(books, new.clone()).await.is_ok() {
                known.extend(new);
            }
            // Settled markets leave the subscription, as a bot would let
            // them go: the monitor's state stays the size of the open set.
            let gone: Vec<String> = known.difference(&open).cloned().collect();
            if !gone.is_empty() && session.delete_markets(books, gone).await.is_ok() {
                known.retain(|ticker| open.contains(ticker));
            }
        }
    });
    (handle, stop)
}

fn monitor_client(sim: &SimProcess, key: &TestKey) -> Client {
    Client::builder()
        .base_url(sim.base_url.clone())
        .credentials(Credentials::from_pem("soak-monitor", &key.pem).expect("a test key loads"))
        .build()
        .expect("a client")
}

fn event_kind(event: &Event) -> &'static str {
    match event {
        Event::Message { .. } => "message",
        Event::Connected { .. } => "connected",
        Event::Disconnected { .. } => "disconnected",
        Event::Reconnecting { .. } => "reconnecting",
        Event::Resubscribed { .. } => "resubscribed",
        Event::Gap { .. } => "gap",
        Event::BookResynced { .. } => "book resynced",
        Event::ServerError { .. } => "server error",
        Event::Undecodable { .. } => "undecodable",
        Event::Unmatched { .. } => "unmatched",
        Event::Lagged { .. } => "lagged",
        Event::Overflow => "overflow",
        _ => "other",
    }
}

/// Stops the monitor and waits for its books to equal the exchange's.
async fn finish_monitor(
    monitor: Monitor,
    sim: &SimProcess,
    markets: &Arc<RwLock<Vec<String>>>,
) -> (String, Vec<String>) {
    let (handle, stop) = monitor;
    let _ = stop.send(());
    let (mut session, counts) = handle.await.expect("the monitor task");
    let rest = monitor_client(sim, TestKey::ed25519());
    let tickers = markets.read().unwrap().clone();
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut mismatched = tickers.clone();
    while !mismatched.is_empty() && Instant::now() < deadline {
        let _ = tokio::time::timeout(Duration::from_millis(100), session.next_event()).await;
        let mut still = Vec::new();
        for ticker in &mismatched {
            if !book_matches(&session, &rest, ticker).await {
                still.push(ticker.clone());
            }
        }
        mismatched = still;
    }
    let stats = session.stats();
    let summary = format!(
        "{} frames, {} gaps, {} resyncs, {} reconnects, {} undecodable; events: {counts:?}",
        stats.frames, stats.gaps, stats.resyncs, stats.reconnects, stats.undecodable
    );
    session.close().await;
    let violations = mismatched
        .into_iter()
        .map(|t| format!("the stream's book of {t} never matched the exchange's"))
        .collect();
    (summary, violations)
}

async fn book_matches(session: &StreamSession, rest: &Client, ticker: &str) -> bool {
    let Some(local) = session.book(ticker) else {
        return false;
    };
    let Ok(remote) = rest.markets().orderbook(ticker).send().await else {
        return false;
    };
    let ladder = |levels: &[kalshi_client::generated::PriceLevel]| -> Vec<(Decimal, Decimal)> {
        let mut v: Vec<_> = levels
            .iter()
            .map(|l| (l.price.value(), l.count.value()))
            .collect();
        v.sort();
        v
    };
    !local.is_stale()
        && ladder(&local.bids(usize::MAX)) == ladder(&remote.orderbook_fp.yes_dollars)
        && ladder(&local.no_bids(usize::MAX)) == ladder(&remote.orderbook_fp.no_dollars)
}

// --- the report -------------------------------------------------------------------

impl Report {
    fn markdown(&self, settings: &Settings) -> String {
        use std::fmt::Write as _;
        let mut out = String::new();
        let _ = writeln!(
            out,
            "## Soak: {} bots, {:.0} s (seed {})\n",
            settings.bots,
            self.elapsed.as_secs_f64(),
            settings.seed
        );
        let _ = writeln!(out, "- bot calls: {}", self.log.requests);
        let _ = writeln!(out, "- REST faults injected: {}", fmt_counts(&self.faults));
        let _ = writeln!(
            out,
            "- stream faults injected: {}",
            fmt_counts(&self.stream_faults)
        );
        let _ = writeln!(out, "- errors by kind: {}", fmt_counts(&self.log.errors));
        let _ = writeln!(
            out,
            "- `NotFound` by operation: {}",
            fmt_counts(&self.log.not_found)
        );
        let _ = writeln!(
            out,
            "- creates with an unknown outcome: {}",
            fmt_counts(&self.log.unknown_outcomes)
        );
        let _ = writeln!(out, "- orders placed: {}", self.log.placed.len());
        let held = self.log.record_bytes() * self.log.placed.len() as f64;
        let _ = writeln!(
            out,
            "- live heap held by the harness's record of placed orders: {:.1} MB",
            held / (1024.0 * 1024.0)
        );
        let _ = writeln!(
            out,
            "- creates refused unexecuted (`may_have_executed() == false`): {}",
            self.log.refused.len()
        );
        let _ = writeln!(
            out,
            "- settlements: {}, ledger checks (cash + open interest + fees = deposits): {}",
            self.settlements, self.ledger_checks
        );
        let _ = writeln!(out, "- market-data stream: {}", self.stream);
        let _ = writeln!(out, "- account streams:\n{}", self.accounts);
        let _ = writeln!(
            out,
            "- invariants broken: {}\n",
            if self.violations.is_empty() {
                "none".to_owned()
            } else {
                self.violations.len().to_string()
            }
        );
        let _ = writeln!(
            out,
            "| at (s) | RSS (MB) | live heap (MB) | orders placed | account views (MB) | \
             sessions remember | descriptors | live tasks |"
        );
        let _ = writeln!(out, "|---:|---:|---:|---:|---:|---:|---:|---:|");
        let step = (self.samples.len() / 12).max(1);
        for s in self.samples.iter().step_by(step) {
            let _ = writeln!(
                out,
                "| {:.0} | {:.1} | {:.1} | {} | {:.1} | {} | {} | {} |",
                s.at.as_secs_f64(),
                s.rss_kb as f64 / 1024.0,
                s.heap_kb as f64 / 1024.0,
                s.records[0],
                s.records[1] as f64 / (1024.0 * 1024.0),
                s.remembered,
                s.fds,
                s.tasks
            );
        }
        out
    }
}

fn fmt_counts<K: std::fmt::Display>(counts: &BTreeMap<K, u64>) -> String {
    let total: u64 = counts.values().sum();
    let parts: Vec<String> = counts.iter().map(|(k, n)| format!("{k} {n}")).collect();
    format!("{total} ({})", parts.join(", "))
}

/// The memory check discounts the harness's record of placed orders,
/// which grows by design, and still catches a leak of 200 kB every sample.
#[test]
fn the_heap_check_tells_the_record_from_a_leak() {
    let series = |leak_kb: u64| -> Vec<Sample> {
        (0..16_u64)
            .map(|i| Sample {
                at: Duration::from_secs(2 * i),
                // 10,000 orders a sample at 100 bytes each, and the leak.
                rss_kb: 40_000 + i * 10_000 * 100 / 1024 + i * leak_kb,
                heap_kb: 3_000 + i * 10_000 * 100 / 1024 + i * leak_kb,
                records: [i * 10_000, 0],
                remembered: 0,
                fds: 30,
                tasks: 50,
            })
            .collect()
    };
    assert_eq!(
        check_flat(&series(0), [100.0, 0.0], 0),
        Vec::<String>::new()
    );
    // Counted as the clients' memory, the record alone would fail it (the
    // heap's 1 MB slack; resident memory has 16 MB).
    let undiscounted = check_flat(&series(0), [0.0, 0.0], 0);
    assert_eq!(undiscounted.len(), 1, "{undiscounted:?}");
    let leak = check_flat(&series(200), [100.0, 0.0], 0);
    assert_eq!(leak.len(), 1, "{leak:?}");
    assert!(
        leak[0].starts_with("live heap less the harness's record"),
        "{leak:?}"
    );
    // A leak of 4 MB a sample breaks resident memory's slack too.
    let big = check_flat(&series(4096), [100.0, 0.0], 0);
    assert_eq!(big.len(), 2, "{big:?}");
    assert!(
        big[0].starts_with("RSS less the harness's record"),
        "{big:?}"
    );
}
