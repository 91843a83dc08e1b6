//! A live order book and your fills, in the terminal.
//!
//! ```text
//! cargo run -p kalshi-client --example stream_orderbook
//! KALSHI_ENV=demo cargo run -p kalshi-client --example stream_orderbook -- --market TICKER
//! ```
//!
//! With no Kalshi credentials it runs on the local exchange simulator, with
//! simulated traders moving the book and trading against two quotes of
//! yours, so fills come in; it stops after `--seconds` (default 15). With
//! credentials and `KALSHI_ENV=demo` (or `prod` and `--production`) it only
//! watches: the book of `--market` and your fills, until Ctrl-C, placing
//! nothing.

use std::io::{IsTerminal, Write};
use std::time::Duration;

use kalshi_client::prelude::*;
use kalshi_client::stream::{Event, OrderBook, StreamSession, Subscription};
use kalshi_gen::stream::ServerMessage;
use kalshi_sim::engine::{NewOrder as SimOrder, Owner, SelfTradePrevention, Side, TimeInForce};
use kalshi_sim::{Account, ApiKey, Simulator};
use rust_decimal::Decimal;

mod common;

/// The simulator's market the example watches.
const SIM_MARKET: &str = "KXTEST-26DEC31-YES";
/// How many price levels each side shows.
const DEPTH: usize = 8;

#[tokio::main]
async fn main() -> Result<(), Report> {
    let venue = common::connect().await?;
    let market = match (&venue.simulator, flag("--market")) {
        (_, Some(market)) => market,
        (Some(_), None) => SIM_MARKET.to_owned(),
        (None, None) => return Err(Report::msg("on Kalshi, name the market: --market TICKER")),
    };
    let seconds: u64 = flag("--seconds").map_or(Ok(15), |s| s.parse())?;

    // Fills missed while the link was down come over REST once it is back.
    let mut session = venue.client.stream().recover_fills(true).connect().await?;
    session
        .subscribe(Subscription::orderbook([market.as_str()]))
        .await?;
    session.subscribe(Subscription::fills()).await?;

    let mut flow = venue
        .simulator
        .as_ref()
        .map(|sim| Flow::start(sim, &market));
    let mut screen = Screen::new(market.clone());
    let mut redraw = tokio::time::interval(Duration::from_millis(250));
    let mut step = tokio::time::interval(Duration::from_millis(40));
    let stop = tokio::time::sleep(Duration::from_secs(seconds));
    tokio::pin!(stop);
    loop {
        tokio::select! {
            event = session.next_event() => match event {
                Some(event) => screen.note(event),
                None => break,
            },
            _ = step.tick(), if flow.is_some() => {
                if let (Some(flow), Some(sim)) = (flow.as_mut(), venue.simulator.as_ref()) {
                    flow.step(sim);
                }
            }
            _ = redraw.tick() => screen.draw(&session)?,
            () = &mut stop, if venue.simulator.is_some() => break,
            _ = tokio::signal::ctrl_c() => break,
        }
    }
    screen.draw(&session)?;
    session.close().await;
    Ok(())
}

/// The value after `name` on the command line.
fn flag(name: &str) -> Option<String> {
    let args: Vec<String> = std::env::args().collect();
    let at = args.iter().position(|a| a == name)?;
    args.get(at + 1).cloned()
}

/// Simulated traders on the simulator: two of them move the book around a
/// drifting price; a third keeps a bid and an offer of the example's own
/// account near the middle, so their fills stream in.
struct Flow {
    market: String,
    rng: fastrand::Rng,
    mid: i64,
    resting: Vec<(String, String)>,
    next_id: u64,
}

impl Flow {
    fn start(sim: &Simulator, market: &str) -> Self {
        for trader in ["flow-a", "flow-b"] {
            sim.add_account(&Account::new(trader, &ApiKey::ed25519(trader)));
        }
        Self {
            market: market.to_owned(),
            rng: fastrand::Rng::with_seed(2026),
            mid: 50,
            resting: Vec::new(),
            next_id: 0,
        }
    }

    fn order(&mut self, user: &str, side: Side, cents: i64, count: u32) -> SimOrder {
        self.next_id += 1;
        SimOrder {
            owner: Owner {
                user_id: user.to_owned(),
                subaccount: 0,
            },
            ticker: self.market.clone(),
            side,
            price: Decimal::new(cents.clamp(1, 99), 2),
            count: Decimal::from(count),
            client_order_id: format!("flow-{}", self.next_id),
            time_in_force: TimeInForce::GoodTillCanceled,
            self_trade_prevention: SelfTradePrevention::TakerAtCross,
            post_only: false,
            reduce_only: false,
            order_group_id: None,
            expiration_ts: None,
        }
    }

    fn step(&mut self, sim: &Simulator) {
        self.mid = (self.mid + self.rng.i64(-1..=1)).clamp(20, 80);
        let user = if self.rng.bool() { "flow-a" } else { "flow-b" };
        let side = if self.rng.bool() {
            Side::Bid
        } else {
            Side::Ask
        };
        let roll = self.rng.u8(..10);
        let away = if roll < 2 {
            -self.rng.i64(0..3)
        } else {
            self.rng.i64(1..10)
        };
        let cents = match side {
            Side::Bid => self.mid - away,
            Side::Ask => self.mid + away,
        };
        let count = self.rng.u32(1..25);
        let order = self.order(user, side, cents, count);
        // The example's own quotes, a cent either side of the middle,
        // renewed now and then.
        let quotes = (self.rng.u8(..8) == 0).then(|| {
            let mid = self.mid;
            [
                self.order("example", Side::Bid, mid - 1, 3),
                self.order("example", Side::Ask, mid + 1, 3),
            ]
        });
        let cancel = (self.resting.len() > 40).then(|| self.resting.remove(0));
        let placed = sim.with_engine(|engine| {
            if let Some((user, id)) = cancel {
                let owner = Owner {
                    user_id: user,
                    subaccount: 0,
                };
                let _ = engine.cancel(&owner, &id);
            }
            for quote in quotes.into_iter().flatten() {
                let _ = engine.place(quote);
            }
            engine.place(order).ok()
        });
        if let Some(placed) = placed
            && !placed.order.remaining_count.is_zero()
        {
            self.resting
                .push((placed.order.owner.user_id, placed.order.order_id));
        }
    }
}

/// What the terminal shows.
struct Screen {
    market: String,
    fills: Vec<String>,
    notes: Vec<String>,
    terminal: bool,
}

impl Screen {
    fn new(market: String) -> Self {
        Self {
            market,
            fills: Vec::new(),
            notes: Vec::new(),
            terminal: std::io::stdout().is_terminal(),
        }
    }

    fn note(&mut self, event: Event) {
        let line = match event {
            Event::Message {
                message: ServerMessage::Fill(fill),
                ..
            } => {
                let f = &fill.msg;
                self.fills.push(format!(
                    "{} {} {} at {} ({}), position now {}",
                    if f.is_taker { "took  " } else { "filled" },
                    f.count_fp,
                    f.outcome_side,
                    f.yes_price_dollars,
                    f.market_ticker.as_str(),
                    f.post_position_fp
                ));
                return;
            }
            Event::FillsRecovered { fills, .. } => {
                for f in fills {
                    self.fills.push(format!(
                        "recovered {} {} at {} ({}) over REST",
                        f.count_fp, f.outcome_side, f.yes_price_dollars, f.ticker
                    ));
                }
                return;
            }
            Event::Message { .. } | Event::Lagged { .. } => return,
            other => format!("{other:?}"),
        };
        self.notes.push(line);
    }

    fn draw(&self, session: &StreamSession) -> std::io::Result<()> {
        let mut out = String::new();
        if self.terminal {
            out.push_str("\x1b[2J\x1b[H");
        }
        match session.book(&self.market) {
            Some(book) => render_book(&mut out, &book),
            None => out.push_str(&format!(
                "{}: waiting for the first snapshot\n",
                self.market
            )),
        }
        let stats = session.stats();
        out.push_str(&format!(
            "\nframes {}  gaps {}  resyncs {}  reconnects {}\n",
            stats.frames, stats.gaps, stats.resyncs, stats.reconnects
        ));
        out.push_str("\nyour fills (latest last):\n");
        for fill in self.fills.iter().rev().take(6).rev() {
            out.push_str(&format!("  {fill}\n"));
        }
        for note in self.notes.iter().rev().take(3).rev() {
            out.push_str(&format!("  event: {note}\n"));
        }
        let mut stdout = std::io::stdout().lock();
        stdout.write_all(out.as_bytes())?;
        stdout.flush()
    }
}

/// The YES book: offers above, bids below, best prices in the middle.
fn render_book(out: &mut String, book: &OrderBook) {
    let state = if book.is_stale() {
        "STALE (resyncing)"
    } else {
        "live"
    };
    out.push_str(&format!(
        "{}  clock {}  {state}\n\n      price   contracts\n",
        book.market(),
        book.clock()
    ));
    let bar = |count: Decimal| "#".repeat(count.round().try_into().unwrap_or(0_usize).min(40));
    for level in book.asks(DEPTH).iter().rev() {
        out.push_str(&format!(
            "  ask {}  {:>9}  {}\n",
            level.price,
            level.count.to_string(),
            bar(level.count.value())
        ));
    }
    match (book.mid(), book.spread()) {
        (Some(mid), Some(spread)) => {
            out.push_str(&format!("  --- mid {mid:.4}  spread {spread:.4} ---\n"))
        }
        _ => out.push_str("  --- one side empty ---\n"),
    }
    for level in book.bids(DEPTH) {
        out.push_str(&format!(
            "  bid {}  {:>9}  {}\n",
            level.price,
            level.count.to_string(),
            bar(level.count.value())
        ));
    }
}
