//! Concurrent signed requests on every core (`bash tests/bench/load.sh`, see
//! `BENCHMARKS.md`).
//!
//! ```text
//! load_bench run --base-url URL --key-id ID --key PEM [--seconds 10] [--concurrency 64]
//! load_bench sign --key PEM [--seconds 3]
//! ```
//!
//! `run` drives `GET /portfolio/balance` (signed, the cheapest request the
//! exchange must authenticate) from `--concurrency` tasks on a multi-thread
//! runtime with one worker per core this process may use, for `--seconds`
//! after a one-second warm-up, and prints one JSON line: requests completed,
//! errors, seconds, and the process's CPU time. `sign` computes signatures
//! over that request's message on one thread for `--seconds` and prints the
//! rate: the most one core can sign, from which the physical limit of a run
//! is cores x rate.

use std::error::Error;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use kalshi_client::{Client, Credentials, Execute};
use serde_json::json;

type Result<T> = std::result::Result<T, Box<dyn Error>>;

const BALANCE_PATH: &str = "/trade-api/v2/portfolio/balance";

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let flag = |name: &str| -> Option<&str> {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1))
            .map(String::as_str)
    };
    let number = |name: &str, default: u64| -> Result<u64> {
        Ok(flag(name).map(str::parse).transpose()?.unwrap_or(default))
    };
    let pem = std::fs::read_to_string(flag("--key").ok_or("--key PEM")?)?;
    match args.first().map(String::as_str) {
        Some("sign") => sign(&pem, number("--seconds", 3)?),
        Some("run") => {
            let base_url = flag("--base-url").ok_or("--base-url URL")?.to_owned();
            let key_id = flag("--key-id").ok_or("--key-id ID")?.to_owned();
            let credentials = Credentials::from_pem(key_id, &pem)?;
            let cores = std::thread::available_parallelism().map_or(1, usize::from);
            tokio::runtime::Builder::new_multi_thread()
                .worker_threads(cores)
                .enable_all()
                .build()?
                .block_on(run(
                    &base_url,
                    credentials,
                    number("--seconds", 10)?,
                    number("--concurrency", 64)? as usize,
                    cores,
                ))
        }
        _ => Err("usage: load_bench run --base-url URL --key-id ID --key PEM | load_bench sign --key PEM".into()),
    }
}

fn sign(pem: &str, seconds: u64) -> Result<()> {
    let credentials = Credentials::from_pem("bench", pem)?;
    let started = Instant::now();
    let mut count = 0_u64;
    while started.elapsed() < Duration::from_secs(seconds) {
        for _ in 0..50 {
            let timestamp = 1_700_000_000_000 + count;
            std::hint::black_box(credentials.sign(timestamp, "GET", BALANCE_PATH)?);
            count += 1;
        }
    }
    let elapsed = started.elapsed().as_secs_f64();
    println!(
        "{}",
        json!({"signatures": count, "seconds": elapsed, "per_second": count as f64 / elapsed})
    );
    Ok(())
}

async fn run(
    base_url: &str,
    credentials: Credentials,
    seconds: u64,
    concurrency: usize,
    cores: usize,
) -> Result<()> {
    let client = Client::builder()
        .base_url(base_url)
        .credentials(credentials)
        .build()?;
    let counting = Arc::new(AtomicBool::new(false));
    let stop = Arc::new(AtomicBool::new(false));
    let (done, failed) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
    let reported = Arc::new(AtomicBool::new(false));
    let mut tasks = Vec::new();
    for _ in 0..concurrency {
        let (client, counting, stop) = (client.clone(), counting.clone(), stop.clone());
        let (done, failed, reported) = (done.clone(), failed.clone(), reported.clone());
        tasks.push(tokio::spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                let result = client.portfolio().balance().send().await;
                if let Err(error) = &result {
                    // The first failure says why a run has errors; later ones repeat it.
                    if !reported.swap(true, Ordering::Relaxed) {
                        eprintln!("first error: {error}");
                    }
                }
                let ok = result.is_ok();
                if counting.load(Ordering::Relaxed) {
                    let counter = if ok { &done } else { &failed };
                    counter.fetch_add(1, Ordering::Relaxed);
                }
            }
        }));
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    let cpu_before = process_cpu_ns();
    let started = Instant::now();
    counting.store(true, Ordering::Relaxed);
    tokio::time::sleep(Duration::from_secs(seconds)).await;
    counting.store(false, Ordering::Relaxed);
    let elapsed = started.elapsed().as_secs_f64();
    let cpu = process_cpu_ns() - cpu_before;
    stop.store(true, Ordering::Relaxed);
    for task in tasks {
        task.await?;
    }
    let requests = done.load(Ordering::Relaxed);
    println!(
        "{}",
        json!({
            "requests": requests,
            "errors": failed.load(Ordering::Relaxed),
            "seconds": elapsed,
            "per_second": requests as f64 / elapsed,
            "cpu_seconds": cpu as f64 / 1e9,
            "cores": cores,
            "concurrency": concurrency,
        })
    );
    Ok(())
}

/// CPU time of this process, every thread, from `/proc` (the workspace
/// forbids the `unsafe` a `clock_gettime` call needs).
fn process_cpu_ns() -> u64 {
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else {
        return 0;
    };
    tasks
        .flatten()
        .filter_map(|task| std::fs::read_to_string(task.path().join("schedstat")).ok())
        .filter_map(|line| line.split_whitespace().next()?.parse::<u64>().ok())
        .sum()
}
