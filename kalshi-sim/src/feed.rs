//! What the exchange publishes on its streams.
//!
//! After every exchange action (a request, a test control) the feed asks
//! the engine what it touched, diffs the touched books against what it
//! published before, and turns the difference, the new fills and
//! settlements, the changed orders, positions, tickers and market states
//! into [`Update`]s for every WebSocket session. It runs under the state
//! lock, so every session sees the same updates in the same order, and a
//! snapshot taken under the lock includes exactly the updates published
//! before it.
//!
//! One action is one tick of the exchange clock: its deltas share a clock,
//! and a market's clock is the clock of the last action that changed its
//! book (so clocks skip values and are not comparable across markets, as
//! Kalshi documents).

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

use rust_decimal::Decimal;
use serde_json::{Value, json};
use tokio::sync::mpsc;

use crate::api::{count, dollars, rfc3339};
use crate::engine::{
    Engine, Fill, GroupEvent, GroupEventKind, MarketState, Order, OrderStatus, Outcome, Owner, Side,
};

/// The channel an update belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Topic {
    Orderbook,
    Ticker,
    Trade,
    Fill,
    UserOrders,
    MarketPositions,
    Lifecycle,
    OrderGroupUpdates,
    /// The margin exchange's channels (`/trade-api/ws/v2/margin`).
    MarginOrderbook,
    MarginTicker,
    MarginTrade,
    MarginFill,
    MarginUserOrders,
    MarginOrderGroupUpdates,
}

/// One message for the sessions, before its `sid` and `seq`.
#[derive(Debug)]
pub(crate) struct Update {
    pub topic: Topic,
    /// The message `type`.
    pub kind: &'static str,
    pub market: String,
    /// The account it is private to, if any.
    pub user: Option<String>,
    /// The exchange clock of an order book delta (0 otherwise).
    pub clock: u64,
    /// The `msg` object, serialized once.
    pub msg: String,
}

/// A published book: YES bids and NO bids, price -> contracts.
#[derive(Debug, Default)]
struct Ladders {
    yes: BTreeMap<Decimal, Decimal>,
    no: BTreeMap<Decimal, Decimal>,
    clock: u64,
}

/// What a `ticker` message last said about a market.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
struct TickerState {
    last_price: Decimal,
    last_size: Decimal,
    volume: Decimal,
    dollar_volume: Decimal,
    open_interest: Decimal,
    bid: (Decimal, Decimal),
    ask: (Decimal, Decimal),
}

/// The publishing side of the streams.
#[derive(Debug, Default)]
pub(crate) struct Feed {
    clock: u64,
    books: HashMap<String, Ladders>,
    tickers: HashMap<String, TickerState>,
    states: HashMap<String, MarketState>,
    fills_seen: usize,
    settlements_seen: usize,
    subscribers: Vec<mpsc::UnboundedSender<Arc<Update>>>,
}

impl Feed {
    /// A feed that takes the engine's current markets as already known.
    pub fn new(engine: &mut Engine) -> Self {
        engine.take_touched();
        Self {
            states: engine
                .markets()
                .map(|(ticker, state)| (ticker.to_owned(), state))
                .collect(),
            fills_seen: engine.fills_since(0).len(),
            settlements_seen: engine.settlements_since(0).len(),
            ..Self::default()
        }
    }

    /// A new session's stream of updates.
    pub fn subscribe(&mut self) -> mpsc::UnboundedReceiver<Arc<Update>> {
        let (tx, rx) = mpsc::unbounded_channel();
        self.subscribers.push(tx);
        rx
    }

    /// The `msg` of an `orderbook_snapshot` of `ticker` as published so far,
    /// and its clock.
    pub fn snapshot(&self, ticker: &str) -> (u64, String) {
        let empty = Ladders::default();
        let book = self.books.get(ticker).unwrap_or(&empty);
        let levels = |ladder: &BTreeMap<Decimal, Decimal>| -> Vec<Value> {
            ladder
                .iter()
                .map(|(p, c)| json!([dollars(*p), count(*c)]))
                .collect()
        };
        let mut msg = json!({
            "market_ticker": ticker, "market_id": market_id(ticker), "clock": book.clock,
        });
        // Kalshi leaves a side out when it has no levels.
        if !book.yes.is_empty() {
            msg["yes_dollars_fp"] = levels(&book.yes).into();
        }
        if !book.no.is_empty() {
            msg["no_dollars_fp"] = levels(&book.no).into();
        }
        (book.clock, msg.to_string())
    }

    /// Publishes what the last action changed.
    pub fn publish(&mut self, engine: &mut Engine) {
        let touched = engine.take_touched();
        let fills = engine.fills_since(self.fills_seen).to_vec();
        let settlements = engine.settlements_since(self.settlements_seen).to_vec();
        if touched.markets.is_empty()
            && touched.orders.is_empty()
            && touched.groups.is_empty()
            && fills.is_empty()
            && settlements.is_empty()
        {
            return;
        }
        self.fills_seen += fills.len();
        self.settlements_seen += settlements.len();
        self.clock += 1;
        let now_ms = engine.now_ms();
        let mut updates = Vec::new();
        for ticker in &touched.markets {
            self.book_deltas(engine, ticker, now_ms, &mut updates);
        }
        updates.extend(fills.iter().filter(|f| f.is_taker).map(trade));
        let mut positions: BTreeSet<(Owner, String)> = BTreeSet::new();
        for (fill, post_position) in fills.iter().zip(post_positions(engine, &fills)) {
            updates.push(fill_update(engine, fill, post_position));
            positions.insert((fill.owner.clone(), fill.ticker.clone()));
        }
        for settlement in &settlements {
            positions.insert((settlement.owner.clone(), settlement.ticker.clone()));
        }
        for id in &touched.orders {
            if let Some(order) = engine.order(id) {
                updates.push(user_order(order));
            }
        }
        for (owner, ticker) in &positions {
            updates.push(position(engine, owner, ticker));
        }
        let mut markets: BTreeSet<&String> = fills.iter().map(|f| &f.ticker).collect();
        markets.extend(&touched.markets);
        for ticker in markets {
            if let Some(update) = self.ticker(engine, ticker, &fills, now_ms) {
                updates.push(update);
            }
        }
        for ticker in &touched.markets {
            self.lifecycle(engine, ticker, now_ms, &mut updates);
        }
        updates.extend(touched.groups.iter().map(order_group_update));
        self.send(updates);
    }

    pub(crate) fn send(&mut self, updates: Vec<Update>) {
        for update in updates {
            let update = Arc::new(update);
            self.subscribers
                .retain(|tx| tx.send(Arc::clone(&update)).is_ok());
        }
    }

    /// The deltas that take the published book of `ticker` to the engine's.
    fn book_deltas(&mut self, engine: &Engine, ticker: &str, now_ms: i64, out: &mut Vec<Update>) {
        let Some((bids, asks)) = engine.book(ticker) else {
            return;
        };
        let yes: BTreeMap<Decimal, Decimal> = bids.into_iter().collect();
        let no: BTreeMap<Decimal, Decimal> = asks
            .into_iter()
            .map(|(p, c)| (Decimal::ONE - p, c))
            .collect();
        let clock = self.clock;
        let book = self.books.entry(ticker.to_owned()).or_default();
        let before = out.len();
        for (side, old, new) in [("yes", &book.yes, &yes), ("no", &book.no, &no)] {
            let prices: BTreeSet<&Decimal> = old.keys().chain(new.keys()).collect();
            for price in prices {
                let delta = new.get(price).copied().unwrap_or_default()
                    - old.get(price).copied().unwrap_or_default();
                if delta.is_zero() {
                    continue;
                }
                let msg = json!({
                    "market_ticker": ticker, "market_id": market_id(ticker), "clock": clock,
                    "price_dollars": dollars(*price), "delta_fp": count(delta), "side": side,
                    "ts_ms": now_ms,
                });
                out.push(Update {
                    topic: Topic::Orderbook,
                    kind: "orderbook_delta",
                    market: ticker.to_owned(),
                    user: None,
                    clock,
                    msg: msg.to_string(),
                });
            }
        }
        if out.len() > before {
            book.clock = clock;
        }
        book.yes = yes;
        book.no = no;
    }

    /// A `ticker` message when anything it reports changed.
    fn ticker(
        &mut self,
        engine: &Engine,
        ticker: &str,
        fills: &[Fill],
        now_ms: i64,
    ) -> Option<Update> {
        let (bids, asks) = engine.book(ticker)?;
        let old = self.tickers.get(ticker).cloned().unwrap_or_default();
        let mut state = old.clone();
        for fill in fills.iter().filter(|f| f.is_taker && f.ticker == ticker) {
            state.last_price = fill.price;
            state.last_size = fill.count;
            state.volume += fill.count;
            state.dollar_volume += fill.price * fill.count;
        }
        state.open_interest = engine.open_interest(ticker);
        state.bid = bids.first().copied().unwrap_or_default();
        state.ask = asks
            .first()
            .copied()
            .unwrap_or((Decimal::ONE, Decimal::ZERO));
        if state == old && self.tickers.contains_key(ticker) {
            return None;
        }
        self.tickers.insert(ticker.to_owned(), state.clone());
        let whole = |d: Decimal| i64::try_from(d.trunc()).unwrap_or(i64::MAX);
        let msg = json!({
            "market_id": market_id(ticker), "market_ticker": ticker,
            "price_dollars": dollars(state.last_price),
            "yes_bid_dollars": dollars(state.bid.0), "yes_ask_dollars": dollars(state.ask.0),
            "yes_bid_size_fp": count(state.bid.1), "yes_ask_size_fp": count(state.ask.1),
            "volume_fp": count(state.volume), "open_interest_fp": count(state.open_interest),
            "dollar_volume": whole(state.dollar_volume),
            "dollar_open_interest": whole(state.open_interest),
            "last_trade_size_fp": count(state.last_size),
            "ts": now_ms / 1000, "ts_ms": now_ms, "time": rfc3339(now_ms),
        });
        Some(Update {
            topic: Topic::Ticker,
            kind: "ticker",
            market: ticker.to_owned(),
            user: None,
            clock: 0,
            msg: msg.to_string(),
        })
    }

    /// `market_lifecycle_v2` messages for a market whose state changed.
    fn lifecycle(&mut self, engine: &Engine, ticker: &str, now_ms: i64, out: &mut Vec<Update>) {
        let Some(state) = engine.market_state(ticker) else {
            return;
        };
        let old = self.states.insert(ticker.to_owned(), state);
        if old == Some(state) {
            return;
        }
        let seconds = now_ms / 1000;
        let mut event = |kind: &str, extra: Value| {
            let mut msg = json!({"market_ticker": ticker, "event_type": kind});
            if let (Some(msg), Value::Object(extra)) = (msg.as_object_mut(), extra) {
                msg.extend(extra);
            }
            out.push(Update {
                topic: Topic::Lifecycle,
                kind: "market_lifecycle_v2",
                market: ticker.to_owned(),
                user: None,
                clock: 0,
                msg: msg.to_string(),
            });
        };
        match (old, state) {
            (None, _) => event(
                "created",
                json!({"exchange_index": 0, "open_ts": seconds, "is_deactivated": state != MarketState::Open}),
            ),
            (_, MarketState::Open) => event("activated", json!({"is_deactivated": false})),
            (_, MarketState::Closed) => event("deactivated", json!({"is_deactivated": true})),
            (_, MarketState::Settled(outcome)) => {
                let (result, value) = match outcome {
                    Outcome::Yes => ("yes", "1.0000"),
                    Outcome::No => ("no", "0.0000"),
                };
                event(
                    "determined",
                    json!({"determination_ts": seconds, "result": result, "settlement_value": value}),
                );
                event("settled", json!({"settled_ts": seconds}));
            }
        }
    }
}

/// Positions right after each fill, for fills of one action (the engine
/// only knows the position after all of them).
fn post_positions(engine: &Engine, fills: &[Fill]) -> Vec<Decimal> {
    let mut after: HashMap<(&Owner, &str), Decimal> = HashMap::new();
    let mut out = vec![Decimal::ZERO; fills.len()];
    for (i, fill) in fills.iter().enumerate().rev() {
        let key = (&fill.owner, fill.ticker.as_str());
        let position = *after
            .entry(key)
            .or_insert_with(|| engine.position(&fill.owner, &fill.ticker));
        out[i] = position;
        let signed = match fill.side {
            Side::Bid => fill.count,
            Side::Ask => -fill.count,
        };
        after.insert(key, position - signed);
    }
    out
}

fn outcome_side(side: Side) -> (&'static str, &'static str) {
    // (outcome side, book side): a YES ask is a NO purchase.
    match side {
        Side::Bid => ("yes", "bid"),
        Side::Ask => ("no", "ask"),
    }
}

fn trade(taker: &Fill) -> Update {
    let (outcome, book) = outcome_side(taker.side);
    let msg = json!({
        "trade_id": taker.trade_id, "market_ticker": taker.ticker,
        "yes_price_dollars": dollars(taker.price), "no_price_dollars": dollars(Decimal::ONE - taker.price),
        "count_fp": count(taker.count), "taker_side": outcome, "taker_outcome_side": outcome,
        "taker_book_side": book, "is_block_trade": false,
        "ts": taker.ts_ms / 1000, "ts_ms": taker.ts_ms,
    });
    Update {
        topic: Topic::Trade,
        kind: "trade",
        market: taker.ticker.clone(),
        user: None,
        clock: 0,
        msg: msg.to_string(),
    }
}

fn fill_update(engine: &Engine, fill: &Fill, post_position: Decimal) -> Update {
    let (outcome, book) = outcome_side(fill.side);
    let mut msg = json!({
        "trade_id": fill.trade_id, "order_id": fill.order_id, "market_ticker": fill.ticker,
        "exchange_index": 0, "is_taker": fill.is_taker, "side": outcome,
        "yes_price_dollars": dollars(fill.price), "count_fp": count(fill.count),
        "fee_cost": dollars(fill.fee), "action": "buy", "outcome_side": outcome,
        "book_side": book, "purchased_side": outcome, "ts": fill.ts_ms / 1000, "ts_ms": fill.ts_ms,
        "post_position_fp": count(post_position), "subaccount": fill.owner.subaccount,
    });
    if let Some(order) = engine.order(&fill.order_id) {
        msg["client_order_id"] = order.client_order_id.clone().into();
    }
    Update {
        topic: Topic::Fill,
        kind: "fill",
        market: fill.ticker.clone(),
        user: Some(fill.owner.user_id.clone()),
        clock: 0,
        msg: msg.to_string(),
    }
}

fn user_order(order: &Order) -> Update {
    let (outcome, book) = outcome_side(order.side);
    let status = match order.status {
        OrderStatus::Resting => "resting",
        OrderStatus::Canceled => "canceled",
        OrderStatus::Executed => "executed",
    };
    let stp = match order.self_trade_prevention {
        crate::engine::SelfTradePrevention::TakerAtCross => "taker_at_cross",
        crate::engine::SelfTradePrevention::Maker => "maker",
    };
    let mut msg = json!({
        "order_id": order.order_id, "user_id": user_uuid(&order.owner.user_id), "ticker": order.ticker,
        "exchange_index": 0, "status": status, "side": outcome, "is_yes": order.side == Side::Bid,
        "outcome_side": outcome, "book_side": book, "yes_price_dollars": dollars(order.price),
        "fill_count_fp": count(order.fill_count), "remaining_count_fp": count(order.remaining_count),
        "initial_count_fp": count(order.initial_count),
        "taker_fill_cost_dollars": dollars(order.taker_fill_cost),
        "maker_fill_cost_dollars": dollars(order.maker_fill_cost),
        "taker_fees_dollars": dollars(order.taker_fees), "maker_fees_dollars": dollars(order.maker_fees),
        "client_order_id": order.client_order_id, "self_trade_prevention_type": stp,
        "created_time": rfc3339(order.created_ts_ms), "created_ts_ms": order.created_ts_ms,
        "last_update_time": rfc3339(order.last_update_ts_ms),
        "last_updated_ts_ms": order.last_update_ts_ms, "subaccount_number": order.owner.subaccount,
    });
    if let Some(group) = &order.order_group_id {
        msg["order_group_id"] = group.clone().into();
    }
    if let Some(expiration) = order.expiration_ts {
        msg["expiration_time"] = rfc3339(expiration.saturating_mul(1000)).into();
        msg["expiration_ts_ms"] = expiration.saturating_mul(1000).into();
    }
    Update {
        topic: Topic::UserOrders,
        kind: "user_order",
        market: order.ticker.clone(),
        user: Some(order.owner.user_id.clone()),
        clock: 0,
        msg: msg.to_string(),
    }
}

fn position(engine: &Engine, owner: &Owner, ticker: &str) -> Update {
    let summary = engine.position_summary(owner, ticker);
    let msg = json!({
        "user_id": owner.user_id, "market_ticker": ticker, "position_fp": count(summary.position),
        "position_cost_dollars": dollars(summary.cost), "realized_pnl_dollars": dollars(summary.realized),
        "fees_paid_dollars": dollars(summary.fees_paid), "position_fee_cost_dollars": dollars(summary.fee_cost),
        "volume_fp": count(summary.volume), "subaccount": owner.subaccount,
    });
    Update {
        topic: Topic::MarketPositions,
        kind: "market_position",
        market: ticker.to_owned(),
        user: Some(owner.user_id.clone()),
        clock: 0,
        msg: msg.to_string(),
    }
}

/// An `order_group_updates` message, private to the group's user. It
/// names no market: Kalshi's channel ignores market specifications.
fn order_group_update(event: &GroupEvent) -> Update {
    let kind = match event.kind {
        GroupEventKind::Created => "created",
        GroupEventKind::Triggered => "triggered",
        GroupEventKind::Reset => "reset",
        GroupEventKind::Deleted => "deleted",
        GroupEventKind::LimitUpdated => "limit_updated",
    };
    let mut msg =
        json!({"event_type": kind, "order_group_id": event.group_id, "ts_ms": event.ts_ms});
    if matches!(
        event.kind,
        GroupEventKind::Created | GroupEventKind::LimitUpdated
    ) {
        msg["contracts_limit_fp"] = count(event.limit).into();
    }
    Update {
        topic: Topic::OrderGroupUpdates,
        kind: "order_group_updates",
        market: String::new(),
        user: Some(event.owner.user_id.clone()),
        clock: 0,
        msg: msg.to_string(),
    }
}

/// A stable UUID for a name that is not one (the simulator's tickers and
/// user names; Kalshi's streams carry UUIDs there).
pub(crate) fn stable_uuid(namespace: &str, name: &str) -> String {
    use sha2::Digest;
    if let Ok(uuid) = uuid::Uuid::parse_str(name) {
        return uuid.to_string();
    }
    let digest = sha2::Sha256::digest(format!("{namespace}:{name}").as_bytes());
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    uuid::Builder::from_random_bytes(bytes)
        .into_uuid()
        .to_string()
}

/// The market id the streams report for a ticker.
pub(crate) fn market_id(ticker: &str) -> String {
    stable_uuid("market", ticker)
}

/// The user id `user_order` messages report (a UUID on Kalshi).
pub(crate) fn user_uuid(user: &str) -> String {
    stable_uuid("user", user)
}
