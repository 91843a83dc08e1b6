//! The Rust side of the stream benchmark (`bash tests/bench/stream_compare.sh`,
//! see `BENCHMARKS.md`).
//!
//! ```text
//! cargo build --release -p kalshi-client --example stream_bench
//! stream_bench record FILE [--orders 100000] [--markets 10]
//! stream_bench replay FILE [--rounds 5] [--passes 1]
//! stream_bench latency [--samples 5000]
//! ```
//!
//! `record` runs random order flow on the simulator while a `StreamSession`
//! keeps the books, checks that they end equal to the exchange's, and
//! writes every order book frame the simulator sent, one per line.
//!
//! `replay` decodes and applies those frames `--rounds` times with
//! [`BookReplay`] (decode, `seq` check, apply: the session's own rules) and
//! prints one JSON line: the frame count, the seconds of each round per pass
//! over the frames and the final books, which `stream_compare.py` checks
//! against kalshi-sdk's. A round makes `--passes` passes, each from fresh
//! books, so that a timed round can last as long as kalshi-sdk's one pass.
//!
//! `latency` places or cancels one resting order at a time on the simulator
//! and measures, for each, the time until the session delivers the
//! resulting delta, by which point its book shows it; it prints the
//! percentiles in microseconds.

use std::collections::BTreeMap;
use std::error::Error;
use std::time::{Duration, Instant};

use kalshi_client::stream::{BookReplay, Event, OrderBook, StreamSession, Subscription};
use kalshi_client::{Client, Credentials};
use kalshi_gen::stream::ServerMessage;
use kalshi_sim::engine::{Owner, SelfTradePrevention, Side, TimeInForce};
use kalshi_sim::{Account, ApiKey, Direction, MarketSpec, SimConfig, Simulator};
use rust_decimal::Decimal;
use serde_json::{Value, json};

type Result<T> = std::result::Result<T, Box<dyn Error>>;

/// The seeded event the benchmark's markets are listed under.
const EVENT: &str = "KXTEST-26DEC31";

#[tokio::main]
async fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let flag = |name: &str, default: usize| -> Result<usize> {
        match args.iter().position(|a| a == name) {
            Some(i) => Ok(args.get(i + 1).ok_or("a flag needs a value")?.parse()?),
            None => Ok(default),
        }
    };
    match args.first().map(String::as_str) {
        Some("record") => {
            let file = args.get(1).ok_or("record FILE")?;
            record(file, flag("--orders", 100_000)?, flag("--markets", 10)?).await
        }
        Some("replay") => {
            let file = args.get(1).ok_or("replay FILE")?;
            replay(file, flag("--rounds", 5)?, flag("--passes", 1)?.max(1))
        }
        Some("latency") => latency(flag("--samples", 5_000)?).await,
        _ => Err("usage: stream_bench record FILE | replay FILE | latency".into()),
    }
}

/// A simulator with two funded traders and `markets` fresh markets, and a
/// session of a third account subscribed to their books.
async fn setup(markets: usize, record: bool) -> Result<(Simulator, StreamSession, Vec<String>)> {
    let key = ApiKey::ed25519("watcher-key");
    let rich = Decimal::from(1_000_000_000);
    let config = SimConfig::new()
        .record_streams(record)
        .account(Account::new("watcher", &key))
        .account(Account::new("maker-a", &ApiKey::ed25519("a")).balance(rich))
        .account(Account::new("maker-b", &ApiKey::ed25519("b")).balance(rich));
    let sim = Simulator::start(config).await?;
    let tickers: Vec<String> = (0..markets).map(|i| format!("{EVENT}-B{i:03}")).collect();
    for ticker in &tickers {
        sim.add_market(MarketSpec::new(ticker, EVENT, "bench"))?;
    }
    let client = Client::builder()
        .base_url(sim.base_url())
        .credentials(Credentials::from_pem(key.key_id(), key.private_key_pem())?)
        .build()?;
    // Deep enough that the recording never makes the consumer lag.
    let session = client.stream().buffer(1 << 22).connect().await?;
    session
        .subscribe(Subscription::orderbook(tickers.clone()))
        .await?;
    Ok((sim, session, tickers))
}

fn order(
    owner: &str,
    ticker: &str,
    side: Side,
    price: Decimal,
    count: u32,
    id: u64,
) -> kalshi_sim::engine::NewOrder {
    kalshi_sim::engine::NewOrder {
        owner: Owner {
            user_id: owner.to_owned(),
            subaccount: 0,
        },
        ticker: ticker.to_owned(),
        side,
        price,
        count: Decimal::from(count),
        client_order_id: format!("bench-{id}"),
        time_in_force: TimeInForce::GoodTillCanceled,
        self_trade_prevention: SelfTradePrevention::TakerAtCross,
        post_only: false,
        reduce_only: false,
        order_group_id: None,
        expiration_ts: None,
    }
}

async fn record(file: &str, orders: usize, markets: usize) -> Result<()> {
    let (sim, mut session, tickers) = setup(markets, true).await?;
    let mut rng = fastrand::Rng::with_seed(20_261_202);
    let mut resting: Vec<(String, String)> = Vec::new();
    for id in 0..orders as u64 {
        let ticker = &tickers[rng.usize(..tickers.len())];
        let owner = if rng.bool() { "maker-a" } else { "maker-b" };
        let roll = rng.u8(..100);
        sim.with_engine(|engine| {
            if roll < 10 && !resting.is_empty() {
                let (owner, order_id) = resting.swap_remove(rng.usize(..resting.len()));
                let owner = Owner {
                    user_id: owner,
                    subaccount: 0,
                };
                let _ = engine.cancel(&owner, &order_id);
                return;
            }
            // Passive orders rest up to 30 cents from the middle; one in
            // six crosses it and trades.
            let side = if rng.bool() { Side::Bid } else { Side::Ask };
            let offset = if roll < 25 {
                -i64::from(rng.u8(1..8))
            } else {
                i64::from(rng.u8(1..31))
            };
            let cents = match side {
                Side::Bid => 50 - offset,
                Side::Ask => 50 + offset,
            };
            let price = Decimal::new(cents.clamp(1, 99), 2);
            let placed = engine.place(order(owner, ticker, side, price, rng.u32(1..20), id));
            if let Ok(placed) = placed
                && !placed.order.remaining_count.is_zero()
            {
                resting.push((owner.to_owned(), placed.order.order_id));
            }
        });
    }
    // The session has every frame once its books equal the exchange's.
    let deadline = Instant::now() + Duration::from_secs(120);
    while !tickers
        .iter()
        .all(|t| matches_engine(&sim, session.book(t).as_ref(), t))
    {
        if Instant::now() > deadline {
            return Err("the session's books never matched the exchange's".into());
        }
        let _ = tokio::time::timeout(Duration::from_millis(5), session.next_event()).await;
    }
    let frames: Vec<String> = sim
        .stream_journal()
        .into_iter()
        .filter(|f| f.direction == Direction::Sent)
        .map(|f| f.text)
        .filter(|t| t.starts_with(r#"{"type":"orderbook_"#))
        .collect();
    std::fs::write(file, frames.join("\n") + "\n")?;
    let stats = session.stats();
    println!(
        "{}",
        json!({"frames": frames.len(), "markets": markets, "orders": orders,
               "session_frames": stats.frames, "gaps": stats.gaps})
    );
    Ok(())
}

fn matches_engine(sim: &Simulator, book: Option<&OrderBook>, ticker: &str) -> bool {
    let Some(book) = book else { return false };
    let (bids, asks) = sim.with_engine(|e| e.book(ticker)).unwrap_or_default();
    let yes: Vec<(Decimal, Decimal)> = book
        .bids(usize::MAX)
        .iter()
        .map(|l| (l.price.value(), l.count.value()))
        .collect();
    let asks_local: Vec<(Decimal, Decimal)> = book
        .asks(usize::MAX)
        .iter()
        .map(|l| (l.price.value(), l.count.value()))
        .collect();
    !book.is_stale() && yes == bids && asks_local == asks
}

fn replay(file: &str, rounds: usize, passes: usize) -> Result<()> {
    let text = std::fs::read_to_string(file)?;
    let frames: Vec<&str> = text.lines().collect();
    let mut seconds = Vec::new();
    let mut last = BookReplay::new();
    for _ in 0..rounds {
        let started = Instant::now();
        for _ in 0..passes {
            let mut books = BookReplay::new();
            for frame in &frames {
                books.apply_frame(frame)?;
            }
            last = books;
        }
        seconds.push(started.elapsed().as_secs_f64() / passes as f64);
    }
    let ladder = |levels: Vec<kalshi_gen::PriceLevel>| -> Vec<Value> {
        levels
            .iter()
            .rev()
            .map(|l| {
                json!([
                    l.price.value().normalize().to_string(),
                    l.count.value().normalize().to_string()
                ])
            })
            .collect()
    };
    let books: BTreeMap<&str, Value> = last
        .books()
        .map(|b| {
            let yes = ladder(b.bids(usize::MAX));
            let no = ladder(b.no_bids(usize::MAX));
            (b.market(), json!({"yes": yes, "no": no}))
        })
        .collect();
    println!(
        "{}",
        json!({"frames": frames.len(), "seconds": seconds, "books": books})
    );
    Ok(())
}

async fn latency(samples: usize) -> Result<()> {
    let (sim, mut session, tickers) = setup(1, false).await?;
    let ticker = &tickers[0];
    let warmup = samples / 10;
    let mut micros = Vec::with_capacity(samples);
    let mut rng = fastrand::Rng::with_seed(7);
    let mut resting: Option<String> = None;
    for id in 0..(samples + warmup) as u64 {
        let started = Instant::now();
        // One change per action: a bid rests (nothing to cross), or goes.
        sim.with_engine(|engine| match resting.take() {
            Some(order_id) => {
                let owner = Owner {
                    user_id: "maker-a".into(),
                    subaccount: 0,
                };
                let _ = engine.cancel(&owner, &order_id);
            }
            None => {
                let price = Decimal::new(rng.i64(1..50), 2);
                let placed = engine.place(order("maker-a", ticker, Side::Bid, price, 1, id));
                resting = placed.ok().map(|p| p.order.order_id);
            }
        });
        loop {
            match session.next_event().await {
                Some(Event::Message {
                    message: ServerMessage::OrderbookDelta(_),
                    ..
                }) => break,
                Some(_) => continue,
                None => return Err("the stream ended".into()),
            }
        }
        if id as usize >= warmup {
            micros.push(started.elapsed().as_secs_f64() * 1e6);
        }
    }
    micros.sort_by(f64::total_cmp);
    let at = |q: f64| micros[((micros.len() - 1) as f64 * q).round() as usize];
    let mean = micros.iter().sum::<f64>() / micros.len() as f64;
    println!(
        "{}",
        json!({"samples": micros.len(), "p50_us": at(0.5), "p90_us": at(0.9), "p99_us": at(0.99), "mean_us": mean})
    );
    Ok(())
}
