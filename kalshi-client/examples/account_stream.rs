//! Your account, live: fills, orders and positions over the WebSocket, with
//! what an outage hides recovered over REST.
//!
//! ```text
//! cargo run -p kalshi-client --example account_stream
//! KALSHI_ENV=demo cargo run -p kalshi-client --example account_stream
//! ```
//!
//! With no Kalshi credentials it runs on the local exchange simulator: a
//! simulated trader offers contracts, the example buys some and rests and
//! cancels bids, and three seconds in the simulator silences the stream;
//! the session notices, reconnects and recovers what it missed. At the end
//! it checks its picture of the account against REST. With credentials and
//! `KALSHI_ENV=demo` (or `prod` and `--production`) it only watches your
//! account until Ctrl-C, placing nothing.

use std::collections::BTreeMap;
use std::time::Duration;

use futures_util::TryStreamExt;
use kalshi_client::prelude::*;
use kalshi_client::stream::{Event, Subscription};
use kalshi_gen::stream::ServerMessage;
use kalshi_sim::engine::{NewOrder as SimOrder, Owner, SelfTradePrevention, Side, TimeInForce};
use kalshi_sim::{Account as SimAccount, ApiKey, Simulator, StreamFault};
use rust_decimal::Decimal;

mod common;

/// The simulator's market the example trades.
const SIM_MARKET: &str = "KXTEST-26DEC31-YES";

#[tokio::main]
async fn main() -> Result<(), Report> {
    let venue = common::connect().await?;
    let seconds: u64 = flag("--seconds").map_or(Ok(8), |s| s.parse())?;
    let mut stream = venue
        .client
        .stream()
        .recover_fills(true)
        .recover_orders(true)
        .recover_positions(true);
    if venue.simulator.is_some() {
        // The example's trading keeps the account channels busy, so a
        // link silent this long is dead. (Kalshi pings every 10 s, and an
        // account can be quiet for long: keep the default 30 s there.)
        stream = stream.heartbeat_timeout(Duration::from_millis(1500));
    }
    let mut session = stream.connect().await?;
    for subscription in [
        Subscription::fills(),
        Subscription::user_orders(),
        Subscription::market_positions(),
    ] {
        session.subscribe(subscription).await?;
    }

    let mut account = Account::default();
    let mut trader = venue.simulator.as_ref().map(Trader::start);
    let mut step = tokio::time::interval(Duration::from_millis(300));
    let outage = tokio::time::sleep(Duration::from_secs(3));
    let stop = tokio::time::sleep(Duration::from_secs(seconds));
    tokio::pin!(outage, stop);
    let mut silenced = false;
    loop {
        tokio::select! {
            event = session.next_event() => match event {
                Some(event) => account.note(event),
                None => break,
            },
            _ = step.tick(), if trader.is_some() => {
                if let (Some(trader), Some(sim)) = (trader.as_mut(), venue.simulator.as_ref()) {
                    trader.step(sim, &venue.client).await?;
                }
            }
            () = &mut outage, if !silenced && venue.simulator.is_some() => {
                silenced = true;
                if let Some(sim) = &venue.simulator {
                    println!("-- the simulator silences the stream; trading goes on");
                    sim.inject_stream(StreamFault::Silence);
                }
            }
            () = &mut stop, if venue.simulator.is_some() => break,
            _ = tokio::signal::ctrl_c() => break,
        }
    }
    // What is already on its way (the outage's recovery is long over).
    let drained = tokio::time::sleep(Duration::from_secs(1));
    tokio::pin!(drained);
    loop {
        tokio::select! {
            Some(event) = session.next_event() => account.note(event),
            () = &mut drained => break,
        }
    }
    session.close().await;
    account.compare_with_rest(&venue.client).await
}

/// The value after `name` on the command line.
fn flag(name: &str) -> Option<String> {
    let args: Vec<String> = std::env::args().collect();
    let at = args.iter().position(|a| a == name)?;
    args.get(at + 1).cloned()
}

/// The account as the stream and its recoveries delivered it: each fill
/// once, each order's and each position's last state.
#[derive(Default)]
struct Account {
    /// Fills by trade and order id (a trade between two of your
    /// subaccounts is two fills).
    fills: BTreeMap<(String, String), Decimal>,
    /// Each order's status and remaining count.
    orders: BTreeMap<String, (String, Decimal)>,
    /// Each position's size, by subaccount and market.
    positions: BTreeMap<(u32, String), Decimal>,
}

impl Account {
    fn note(&mut self, event: Event) {
        match event {
            Event::Message { message, .. } => match message {
                ServerMessage::Fill(fill) => {
                    let f = &fill.msg;
                    println!(
                        "fill: {} {} at {} in {}",
                        f.count_fp, f.outcome_side, f.yes_price_dollars, f.market_ticker
                    );
                    let key = (f.trade_id.to_string(), f.order_id.to_string());
                    self.fills.insert(key, f.count_fp.value());
                }
                ServerMessage::UserOrder(update) => {
                    let o = &update.msg;
                    let state = (o.status.to_string(), o.remaining_count_fp.value());
                    println!("order {}: {} ({} left)", o.order_id, state.0, state.1);
                    self.orders.insert(o.order_id.to_string(), state);
                }
                ServerMessage::MarketPosition(update) => {
                    let p = &update.msg;
                    let subaccount = u32::try_from(p.subaccount.unwrap_or(0)).unwrap_or(0);
                    println!("position in {}: {}", p.market_ticker, p.position_fp);
                    let key = (subaccount, p.market_ticker.to_string());
                    self.positions.insert(key, p.position_fp.value());
                }
                _ => {}
            },
            Event::FillsRecovered { fills, .. } => {
                println!("recovered over REST: {} fills the outage hid", fills.len());
                for f in fills {
                    let key = (f.trade_id, f.order_id);
                    self.fills.insert(key, f.count_fp.value());
                }
            }
            Event::OrdersRecovered { orders, .. } => {
                println!("recovered over REST: {} order states", orders.len());
                for o in orders {
                    let state = (o.status.to_string(), o.remaining_count_fp.value());
                    self.orders.insert(canonical(&o.order_id), state);
                }
            }
            Event::PositionsRecovered { positions, .. } => {
                println!("recovered over REST: {} positions", positions.len());
                for p in positions {
                    let key = (p.subaccount, p.position.ticker.clone());
                    self.positions.insert(key, p.position.position_fp.value());
                }
            }
            // The documented cue: this window is not recovered; read it
            // over REST yourself (here the final check below does).
            Event::FillRecoveryFailed { error, .. }
            | Event::OrderRecoveryFailed { error, .. }
            | Event::PositionRecoveryFailed { error, .. } => {
                println!("a recovery failed ({error}): reconcile over REST");
            }
            Event::Disconnected { reason, .. } => println!("-- disconnected: {reason}"),
            Event::Resubscribed { .. } => println!("-- subscribed again"),
            _ => {}
        }
    }

    /// Prints how the delivered account compares with what REST lists; an
    /// error when they differ.
    async fn compare_with_rest(&self, client: &Client) -> Result<(), Report> {
        let fills: Vec<_> = client
            .portfolio()
            .fills()
            .stream(None)
            .try_collect()
            .await?;
        let positions = client.portfolio().positions().send().await?;
        let held: BTreeMap<_, _> = positions
            .market_positions
            .iter()
            .map(|p| ((0, p.ticker.clone()), p.position_fp.value()))
            .collect();
        let streamed: BTreeMap<_, _> = self
            .positions
            .iter()
            .filter(|((subaccount, _), size)| *subaccount == 0 && !size.is_zero())
            .map(|(key, size)| (key.clone(), *size))
            .collect();
        let held: BTreeMap<_, _> = held.into_iter().filter(|(_, s)| !s.is_zero()).collect();
        println!(
            "\nfills: {} delivered, {} listed by REST; orders seen: {}; \
             positions (primary account): {}",
            self.fills.len(),
            fills.len(),
            self.orders.len(),
            if streamed == held {
                "as REST lists them"
            } else {
                "not as REST lists them"
            }
        );
        if self.fills.len() != fills.len() || streamed != held {
            return Err(Report::msg("the stream's account differs from REST's"));
        }
        Ok(())
    }
}

/// An order id as the stream spells it (REST may drop the dashes).
fn canonical(id: &str) -> String {
    uuid::Uuid::parse_str(id).map_or_else(|_| id.to_owned(), |u| u.to_string())
}

/// On the simulator: a trader offering contracts the example buys, and
/// bids the example rests and cancels.
struct Trader {
    offers: u64,
    resting: Vec<String>,
    rng: fastrand::Rng,
}

impl Trader {
    fn start(sim: &Simulator) -> Self {
        sim.add_account(&SimAccount::new("maker", &ApiKey::ed25519("maker")));
        Self {
            offers: 0,
            resting: Vec::new(),
            rng: fastrand::Rng::with_seed(7),
        }
    }

    /// The maker offers five contracts (placed in the simulator directly);
    /// the example takes some over REST, and rests or cancels a bid.
    async fn step(&mut self, sim: &Simulator, client: &Client) -> Result<(), Report> {
        let price = Decimal::new(self.rng.i64(40..60), 2);
        self.offers += 1;
        let offer = SimOrder {
            owner: Owner {
                user_id: "maker".to_owned(),
                subaccount: 0,
            },
            ticker: SIM_MARKET.to_owned(),
            side: Side::Ask,
            price,
            count: Decimal::from(5),
            client_order_id: format!("maker-{}", self.offers),
            time_in_force: TimeInForce::GoodTillCanceled,
            self_trade_prevention: SelfTradePrevention::TakerAtCross,
            post_only: false,
            reduce_only: false,
            order_group_id: None,
            expiration_ts: None,
        };
        let _ = sim.with_engine(|engine| engine.place(offer));
        let take = Quantity::contracts(self.rng.u32(1..4))?;
        let buy = NewOrder::buy_yes(SIM_MARKET, take, Price::new(price)?);
        client.orders().create(&buy).send().await?;
        if self.rng.bool() {
            let bid = NewOrder::buy_yes(SIM_MARKET, take, Price::new(Decimal::new(10, 2))?);
            self.resting
                .push(client.orders().create(&bid).send().await?.order_id);
        } else if let Some(id) = self.resting.pop() {
            client.orders().cancel(CancelOrder::new(id)).send().await?;
        }
        Ok(())
    }
}
