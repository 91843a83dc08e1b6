//! What one rate-limit acquisition costs, in memory and with the buckets in
//! Redis (`bash tests/bench/limiter.sh`, see `BENCHMARKS.md`; needs
//! `--features redis`).
//!
//! ```text
//! limiter_bench [REDIS_URL]
//! ```
//!
//! Each store gets a budget too large to ever wait (the cost of the
//! bookkeeping, not of pacing), then: N acquisitions one after another
//! (latency of one), and 64 tasks acquiring for 3 seconds on a
//! multi-thread runtime (throughput). Prints one JSON line per store.

#[cfg(feature = "redis")]
fn main() -> Result<(), Box<dyn std::error::Error>> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(bench::run(std::env::args().nth(1)))
}

#[cfg(not(feature = "redis"))]
fn main() {
    eprintln!("limiter_bench compares the Redis store: build it with --features redis");
}

#[cfg(feature = "redis")]
mod bench {
    use std::error::Error;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::time::{Duration, Instant};

    use kalshi_client::rate_limit::{Bucket, BucketSpec, RateLimiter, RateLimits, RedisStore};
    use serde_json::json;

    pub async fn run(redis: Option<String>) -> Result<(), Box<dyn Error>> {
        let huge = BucketSpec {
            refill_per_sec: u32::MAX / 2,
            capacity: u32::MAX / 2,
        };
        let limits = RateLimits::new(huge, huge);
        measure("memory", RateLimiter::new(limits.clone()), 1_000_000).await?;
        if let Some(url) = redis {
            let scope = format!("bench/{}", std::process::id());
            let limiter = RateLimiter::shared(limits, RedisStore::open(&url)?, &scope);
            measure("redis", limiter, 20_000).await?;
        }
        Ok(())
    }

    async fn measure(
        store: &str,
        limiter: RateLimiter,
        sequential: u32,
    ) -> Result<(), Box<dyn Error>> {
        for _ in 0..1_000 {
            limiter.acquire_tokens(Bucket::Read, 1).await?; // warm-up, and the script loaded
        }
        let started = Instant::now();
        for _ in 0..sequential {
            limiter.acquire_tokens(Bucket::Read, 1).await?;
        }
        let one = started.elapsed().as_secs_f64() / f64::from(sequential);

        let done = Arc::new(AtomicU64::new(0));
        let deadline = Instant::now() + Duration::from_secs(3);
        let tasks: Vec<_> = (0..64)
            .map(|_| {
                let (limiter, done) = (limiter.clone(), done.clone());
                tokio::spawn(async move {
                    while Instant::now() < deadline {
                        limiter
                            .acquire_tokens(Bucket::Read, 1)
                            .await
                            .expect("acquire");
                        done.fetch_add(1, Ordering::Relaxed);
                    }
                })
            })
            .collect();
        for task in tasks {
            task.await?;
        }
        let stats = limiter.stats();
        println!(
            "{}",
            json!({
                "store": store,
                "sequential_ns_per_acquisition": one * 1e9,
                "concurrent_acquisitions_per_second": done.load(Ordering::Relaxed) as f64 / 3.0,
                "store_errors": stats.store_errors,
            })
        );
        Ok(())
    }
}
