//! What happened in one market over time, rebuilt from the engine's public
//! reads: its trades, the best bid and ask at any instant, its open
//! interest, and when it settled.
//!
//! The engine keeps every order with its creation and last-update time, so
//! an order that is no longer resting was on the book from `created_ts_ms`
//! until `last_update_ts_ms`, and a resting one since `created_ts_ms`. An
//! amended order is taken at its current price for its whole life: the
//! engine keeps no price history. Orders are found through the users the
//! exchange knows (API keys, subaccounts, anyone who traded), so an order
//! that a test placed for an unknown trader through
//! [`Simulator::with_engine`](crate::Simulator::with_engine) and that never
//! traded is missing from the quote history (it is in the live book).

use std::collections::{BTreeSet, HashMap};

use rust_decimal::Decimal;

use crate::State;
use crate::engine::{Fill, MarketState, OrderStatus, Owner, Side};

/// One order's time on the book.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Quote {
    side: Side,
    price: Decimal,
    from_ms: i64,
    /// `None` while it rests.
    until_ms: Option<i64>,
}

/// A market's history.
#[derive(Debug, Clone)]
pub(crate) struct Tape<'a> {
    /// Taker fills, one per trade, oldest first.
    trades: Vec<&'a Fill>,
    quotes: Vec<Quote>,
    /// (time, open interest from then on), oldest first.
    open_interest: Vec<(i64, Decimal)>,
    settled_ms: Option<i64>,
}

/// Every trade of the exchange (the taker's fill of each), oldest first.
pub(crate) fn all_trades(state: &State) -> impl DoubleEndedIterator<Item = &Fill> {
    state.engine.fills_since(0).iter().filter(|f| f.is_taker)
}

/// When a market settled: the time of its settlement payouts, or when the
/// simulator first saw it settled (nobody held a position to pay).
pub(crate) fn settled_ms(state: &State, ticker: &str) -> Option<i64> {
    if !matches!(
        state.engine.market_state(ticker),
        Some(MarketState::Settled(_))
    ) {
        return None;
    }
    state
        .engine
        .settlements_since(0)
        .iter()
        .rev()
        .find(|s| s.ticker == ticker)
        .map(|s| s.ts_ms)
        .or_else(|| state.market_data.seen_settled(ticker))
}

impl<'a> Tape<'a> {
    /// Everything the engine can tell about `ticker`.
    pub(crate) fn of(state: &'a State, ticker: &str) -> Self {
        let trades: Vec<&Fill> = all_trades(state).filter(|f| f.ticker == ticker).collect();
        let settled_ms = settled_ms(state, ticker);
        Self {
            quotes: quotes(state, ticker),
            open_interest: open_interest(state, ticker, settled_ms),
            trades,
            settled_ms,
        }
    }

    /// The trades, oldest first.
    pub(crate) fn trades(&self) -> &[&'a Fill] {
        &self.trades
    }

    pub(crate) fn settled_ms(&self) -> Option<i64> {
        self.settled_ms
    }

    /// The best price on `side` at `at_ms` (orders placed at exactly
    /// `at_ms` count, orders gone at exactly `at_ms` do not).
    pub(crate) fn best(&self, side: Side, at_ms: i64) -> Option<Decimal> {
        let live = self.quotes.iter().filter(|q| {
            q.side == side && q.from_ms <= at_ms && q.until_ms.is_none_or(|until| at_ms < until)
        });
        match side {
            Side::Bid => live.map(|q| q.price).max(),
            Side::Ask => live.map(|q| q.price).min(),
        }
    }

    /// Every instant the book's best prices may have changed.
    pub(crate) fn quote_changes(&self) -> BTreeSet<i64> {
        self.quotes
            .iter()
            .flat_map(|q| std::iter::once(q.from_ms).chain(q.until_ms))
            .collect()
    }

    /// The price of the last trade at or before `at_ms`.
    pub(crate) fn last_price(&self, at_ms: i64) -> Option<Decimal> {
        self.trades
            .iter()
            .rev()
            .find(|t| t.ts_ms <= at_ms)
            .map(|t| t.price)
    }

    /// Contracts traded in `(after_ms, until_ms]`.
    pub(crate) fn volume(&self, after_ms: i64, until_ms: i64) -> Decimal {
        self.trades
            .iter()
            .filter(|t| after_ms < t.ts_ms && t.ts_ms <= until_ms)
            .map(|t| t.count)
            .sum()
    }

    /// Contract pairs held at `at_ms`.
    pub(crate) fn open_interest(&self, at_ms: i64) -> Decimal {
        self.open_interest
            .iter()
            .rev()
            .find(|(ts, _)| *ts <= at_ms)
            .map_or(Decimal::ZERO, |(_, oi)| *oi)
    }
}

/// Users whose orders the engine can list: key holders, subaccount owners
/// and everyone who traded.
fn known_users(state: &State) -> BTreeSet<&str> {
    let mut users: BTreeSet<&str> = state.keys.values().map(|(u, _)| u.as_str()).collect();
    users.extend(state.subaccounts.keys().map(String::as_str));
    users.extend(
        state
            .engine
            .fills_since(0)
            .iter()
            .map(|f| f.owner.user_id.as_str()),
    );
    users
}

fn quotes(state: &State, ticker: &str) -> Vec<Quote> {
    known_users(state)
        .into_iter()
        .flat_map(|user| state.engine.orders_of(user))
        .filter(|o| o.ticker == ticker)
        .map(|o| Quote {
            side: o.side,
            price: o.price,
            from_ms: o.created_ts_ms,
            until_ms: (o.status != OrderStatus::Resting).then_some(o.last_update_ts_ms),
        })
        // An order that never rested (it filled or was canceled at once).
        .filter(|q| q.until_ms.is_none_or(|until| until > q.from_ms))
        .collect()
}

/// Replays the market's fills: open interest is the YES held over all
/// owners (each YES held is matched by a NO), back to 0 at settlement.
fn open_interest(state: &State, ticker: &str, settled_ms: Option<i64>) -> Vec<(i64, Decimal)> {
    let mut positions: HashMap<&Owner, Decimal> = HashMap::new();
    let mut total = Decimal::ZERO;
    let mut steps = Vec::new();
    for fill in state
        .engine
        .fills_since(0)
        .iter()
        .filter(|f| f.ticker == ticker)
    {
        let position = positions.entry(&fill.owner).or_default();
        let before = (*position).max(Decimal::ZERO);
        *position += match fill.side {
            Side::Bid => fill.count,
            Side::Ask => -fill.count,
        };
        total += (*position).max(Decimal::ZERO) - before;
        steps.push((fill.ts_ms, total));
    }
    if let Some(settled) = settled_ms {
        steps.push((settled, Decimal::ZERO));
    }
    // Stable: fills at the same instant keep their order.
    steps.sort_by_key(|(ts, _)| *ts);
    steps
}
