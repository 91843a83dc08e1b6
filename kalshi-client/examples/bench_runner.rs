//! The Rust side of the comparison with the Python SDKs
//! (`bash tests/bench/compare.sh`, see `BENCHMARKS.md`).
//!
//! ```text
//! cargo build --release -p kalshi-client --example bench_runner --features rsa
//! bench_runner serve --dir DIR [--orders 100]
//! bench_runner client --base-url URL --key-id ID --key PEM [--backend aws-lc|rust-crypto]
//!                     --ticker TICKER --markets FILE
//! ```
//!
//! `serve` starts one exchange simulator with an RSA-2048 account and an
//! Ed25519 account, writes both private keys and a 1000-market `GetMarkets`
//! page into `DIR`, rests `--orders` bids on each account, prints one JSON
//! line describing all that, and serves until its standard input closes.
//!
//! `client` is a long-lived runner: it reads one command per line on
//! standard input, `{"op": "balance", "n": 20}`, runs the operation `n`
//! times, and answers with one JSON line: `{"op", "n", "wall_ns": [one per
//! call], "cpu_ns": CPU time of the whole batch}`. The Python runners in
//! `tests/bench/` speak the same protocol. CPU time is the process's, summed
//! over its threads from `/proc/self/task/*/schedstat` (nanoseconds; the
//! workspace forbids the `unsafe` a direct `clock_gettime` would need).

use std::error::Error;
use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use kalshi_client::generated::types::GetMarketsResponse;
use kalshi_client::order::{NewOrder, Price, Quantity};
use kalshi_client::{Client, Credentials, Execute, RsaBackend};
use kalshi_sim::{Account, ApiKey, SimConfig, Simulator};
use serde_json::{Value, json};

#[path = "../../tests/bench/fixtures.rs"]
mod fixtures;

type Result<T> = std::result::Result<T, Box<dyn Error>>;

/// The market every order of the comparison is placed in.
const TICKER: &str = "KXTEST-26DEC31-YES";
/// What is signed by the `sign` operation: the path of `GET /portfolio/balance`.
const BALANCE_PATH: &str = "/trade-api/v2/portfolio/balance";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("serve") => serve(&args[1..]),
        Some("client") => client(&args[1..]),
        _ => Err("usage: bench_runner serve --dir DIR | bench_runner client --base-url URL --key-id ID --key PEM [--backend aws-lc|rust-crypto] --ticker T --markets FILE".into()),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("bench_runner: {error}");
            ExitCode::FAILURE
        }
    }
}

/// The value after `--name`, if given.
fn flag<'a>(args: &'a [String], name: &str) -> Option<&'a str> {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .map(String::as_str)
}

fn required<'a>(args: &'a [String], name: &str) -> Result<&'a str> {
    flag(args, name).ok_or_else(|| format!("{name} is required").into())
}

// ---------------------------------------------------------------------------
// serve
// ---------------------------------------------------------------------------

fn serve(args: &[String]) -> Result<()> {
    let dir = PathBuf::from(required(args, "--dir")?);
    let resting: usize = flag(args, "--orders").unwrap_or("100").parse()?;
    std::fs::create_dir_all(&dir)?;
    let keys = [
        ("rsa", "bench-rsa", ApiKey::rsa("bench-rsa-key")),
        (
            "ed25519",
            "bench-ed25519",
            ApiKey::ed25519("bench-ed25519-key"),
        ),
    ];
    let mut config = SimConfig::new();
    let mut described = serde_json::Map::new();
    for (kind, user, key) in &keys {
        let pem = dir.join(format!("{kind}.pem"));
        std::fs::write(&pem, key.private_key_pem())?;
        config = config.account(Account::new(user, key));
        described.insert(
            (*kind).to_owned(),
            json!({"key_id": key.key_id(), "pem": pem.display().to_string()}),
        );
    }
    let markets = dir.join("markets-1000.json");
    std::fs::write(&markets, fixtures::markets_page(1000))?;

    // The simulator gets one worker thread: it never competes with itself
    // for the second core, which the client under test uses.
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()?;
    let sim = runtime.block_on(Simulator::start(config))?;
    let base_url = sim.base_url();
    runtime.block_on(async {
        for (_, _, key) in &keys {
            let client = Client::builder()
                .base_url(&base_url)
                .credentials(Credentials::from_pem(key.key_id(), key.private_key_pem())?)
                .build()?;
            for _ in 0..resting {
                let order =
                    NewOrder::buy_yes(TICKER, Quantity::contracts(1)?, "0.02".parse::<Price>()?);
                client.orders().create(&order).send().await?;
            }
        }
        Ok::<_, Box<dyn Error>>(())
    })?;
    let ready = json!({
        "base_url": base_url,
        "ticker": TICKER,
        "resting_orders": resting,
        "markets": markets.display().to_string(),
        "keys": described,
    });
    let mut stdout = std::io::stdout().lock();
    writeln!(stdout, "{ready}")?;
    stdout.flush()?;
    drop(stdout);
    // Serve until the driver closes our standard input.
    let mut line = String::new();
    while std::io::stdin().read_line(&mut line)? > 0 {
        line.clear();
    }
    drop(sim);
    Ok(())
}

// ---------------------------------------------------------------------------
// client
// ---------------------------------------------------------------------------

struct Runner {
    client: Client,
    credentials: Credentials,
    ticker: String,
    markets: Vec<u8>,
}

fn client(args: &[String]) -> Result<()> {
    let base_url = required(args, "--base-url")?;
    let key_id = required(args, "--key-id")?;
    let pem = std::fs::read_to_string(required(args, "--key")?)?;
    // Reassigned only when the `rsa` feature offers a second backend.
    #[cfg_attr(not(feature = "rsa"), allow(unused_mut))]
    let mut credentials = Credentials::from_pem(key_id, &pem)?;
    match flag(args, "--backend").unwrap_or("aws-lc") {
        "aws-lc" => {}
        #[cfg(feature = "rsa")]
        "rust-crypto" => credentials = credentials.with_rsa_backend(RsaBackend::RustCrypto),
        other => return Err(format!("unknown --backend {other}").into()),
    }
    if credentials
        .rsa_backend()
        .is_some_and(|b| b != RsaBackend::AwsLc)
    {
        eprintln!("signing RSA with {:?}", credentials.rsa_backend());
    }
    let client = Client::builder()
        .base_url(base_url)
        .credentials(credentials.clone())
        .build()?;
    let runner = Runner {
        client,
        credentials,
        ticker: required(args, "--ticker")?.to_owned(),
        markets: std::fs::read(required(args, "--markets")?)?,
    };
    // Everything the client does runs on this one thread.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let mut stdout = std::io::stdout().lock();
    writeln!(
        stdout,
        "{}",
        json!({"ready": true, "client": "kalshi-client (Rust)", "key": format!("{:?}", runner.credentials.kind())})
    )?;
    stdout.flush()?;
    for line in std::io::stdin().lock().lines() {
        let line = line?;
        if line.trim().is_empty() {
            continue;
        }
        let command: Value = serde_json::from_str(&line)?;
        let op = command["op"].as_str().unwrap_or_default().to_owned();
        let n = command["n"].as_u64().unwrap_or(1) as usize;
        let answer = match runtime.block_on(runner.batch(&op, n)) {
            Ok((wall_ns, cpu_ns)) => {
                json!({"op": op, "n": n, "wall_ns": wall_ns, "cpu_ns": cpu_ns})
            }
            Err(error) => json!({"op": op, "error": error.to_string()}),
        };
        writeln!(stdout, "{answer}")?;
        stdout.flush()?;
    }
    Ok(())
}

impl Runner {
    /// Runs `op` `n` times: wall time of each call, CPU time of the batch.
    async fn batch(&self, op: &str, n: usize) -> Result<(Vec<u64>, u64)> {
        let mut wall = Vec::with_capacity(n);
        let cpu_before = process_cpu_ns()?;
        for _ in 0..n {
            let started = Instant::now();
            self.call(op).await?;
            wall.push(u64::try_from(started.elapsed().as_nanos())?);
        }
        let cpu = process_cpu_ns()?.saturating_sub(cpu_before);
        Ok((wall, cpu))
    }

    async fn call(&self, op: &str) -> Result<()> {
        match op {
            "status" => {
                self.client.exchange().status().send().await?;
            }
            "balance" => {
                self.client.portfolio().balance().send().await?;
            }
            "orders" => {
                let page = self
                    .client
                    .orders()
                    .list()
                    .status("resting")
                    .limit(100)
                    .send()
                    .await?;
                if page.orders.is_empty() {
                    return Err("no resting orders listed".into());
                }
            }
            "create_cancel" => {
                let order = NewOrder::buy_yes(
                    &self.ticker,
                    Quantity::contracts(1)?,
                    "0.03".parse::<Price>()?,
                );
                let placed = self.client.orders().create(&order).send().await?;
                self.client
                    .orders()
                    .cancel(placed.order_id.as_str())
                    .send()
                    .await?;
            }
            "sign" => {
                let signed = self.credentials.sign(now_ms(), "GET", BALANCE_PATH)?;
                std::hint::black_box(signed);
            }
            "decode_markets" => {
                let page: GetMarketsResponse = serde_json::from_slice(&self.markets)?;
                if page.markets.len() != 1000 {
                    return Err(format!("decoded {} markets", page.markets.len()).into());
                }
                std::hint::black_box(page);
            }
            other => return Err(format!("unknown op {other}").into()),
        }
        Ok(())
    }
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// CPU time of this process in nanoseconds: the first field of each
/// thread's `/proc/self/task/TID/schedstat` (time spent running).
///
/// The kernel brings a running thread's figure up to date only when it is
/// scheduled or at a timer tick (every few milliseconds), so this thread
/// yields first: `sched_yield` updates its runtime, and the figure read is
/// exact rather than up to a tick old.
fn process_cpu_ns() -> Result<u64> {
    std::thread::yield_now();
    let mut total = 0;
    for entry in std::fs::read_dir("/proc/self/task")? {
        total += thread_cpu_ns(&entry?.path().join("schedstat"))?;
    }
    Ok(total)
}

fn thread_cpu_ns(schedstat: &Path) -> Result<u64> {
    let text = std::fs::read_to_string(schedstat)?;
    let first = text.split_whitespace().next().ok_or("empty schedstat")?;
    Ok(first.parse()?)
}
