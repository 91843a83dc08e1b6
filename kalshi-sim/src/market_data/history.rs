//! The historical tier: what is older than the historical cutoff is served
//! only by `/historical/*`, what is newer only by the live endpoints.
//!
//! Kalshi keeps about three months of live data and moves the cutoff
//! forward regularly. The simulator's cutoff is midnight UTC of the
//! exchange clock's day, minus [`LIVE_DAYS`] days: the same for every
//! record kind (trades and fills by fill time, orders by the time they were
//! canceled or fully executed, markets and positions by settlement time).
//! A test reaches the historical tier by moving the clock forward
//! ([`Simulator::advance_clock`](crate::Simulator::advance_clock)).
//!
//! The order and fill reads of `/portfolio` should drop what
//! [`is_archived_order`] and [`is_archived_fill`] say is archived, so that a
//! record is in exactly one tier.

use std::collections::BTreeMap;

use rust_decimal::Decimal;
use serde_json::{Value, json};

use super::{TsRange, list_query, tape};
use crate::State;
use crate::api::{count, dollars, ok, paginate, rfc3339};
use crate::engine::{Fill, Order, OrderStatus};
use crate::http::{Answer, ApiErr, Call};

/// Days of live data before the cutoff.
pub(crate) const LIVE_DAYS: i64 = 90;

const DAY_MS: i64 = 86_400_000;

/// The historical cutoff at exchange time `now_ms`.
pub(crate) fn cutoff_ms(now_ms: i64) -> i64 {
    now_ms
        .div_euclid(DAY_MS)
        .saturating_mul(DAY_MS)
        .saturating_sub(LIVE_DAYS * DAY_MS)
}

/// Whether a market settled before the cutoff.
pub(crate) fn is_archived_market(state: &State, ticker: &str, now_ms: i64) -> bool {
    tape::settled_ms(state, ticker).is_some_and(|settled| settled < cutoff_ms(now_ms))
}

/// Whether a fill (or the trade it belongs to) is older than the cutoff.
pub(crate) fn is_archived_fill(fill: &Fill, now_ms: i64) -> bool {
    fill.ts_ms < cutoff_ms(now_ms)
}

/// Whether an order was canceled or fully executed before the cutoff.
/// Resting orders are always live.
pub(crate) fn is_archived_order(order: &Order, now_ms: i64) -> bool {
    order.status != OrderStatus::Resting && order.last_update_ts_ms < cutoff_ms(now_ms)
}

pub(super) fn cutoff(call: &Call) -> Answer {
    let cutoff = rfc3339(cutoff_ms(call.now_ms));
    ok(json!({
        "market_settled_ts": cutoff, "trades_created_ts": cutoff,
        "orders_updated_ts": cutoff, "market_positions_last_updated_ts": cutoff
    }))
}

fn archived_market_seed<'a>(
    state: &'a State,
    call: &Call,
) -> Result<&'a crate::seed::MarketSeed, ApiErr> {
    state
        .catalog
        .market(call.param("ticker"))
        .filter(|m| is_archived_market(state, &m.ticker, call.now_ms))
        .ok_or_else(|| ApiErr::new(404, "not_found", "no such market in the historical archive"))
}

pub(super) fn market(state: &State, call: &Call) -> Answer {
    let seed = archived_market_seed(state, call)?;
    ok(json!({ "market": super::market_json(state, seed, call.now_ms) }))
}

pub(super) fn markets(state: &State, call: &Call) -> Answer {
    let no_combos = match call.query("mve_filter") {
        None => false,
        Some("exclude") => true,
        Some(_) => {
            return Err(ApiErr::bad_request(
                "invalid_parameters",
                "`mve_filter` must be exclude",
            ));
        }
    };
    let tickers = list_query(call, "tickers");
    let event = call.query("event_ticker");
    let series = call.query("series_ticker");
    let markets: Vec<Value> = state
        .catalog
        .markets
        .iter()
        .filter(|m| is_archived_market(state, &m.ticker, call.now_ms))
        .filter(|m| {
            tickers
                .as_ref()
                .is_none_or(|t| t.contains(&m.ticker.as_str()))
        })
        .filter(|m| event.is_none_or(|e| e == m.event_ticker))
        .filter(|m| series.is_none_or(|s| s == m.series_ticker))
        .filter(|m| !(no_combos && super::listings::is_combo(state, &m.ticker)))
        .map(|m| super::market_json(state, m, call.now_ms))
        .collect();
    let (page, cursor) = paginate(markets, call)?;
    ok(json!({ "markets": page, "cursor": cursor }))
}

/// The archived market of the path, for its historical candlesticks.
pub(super) fn archived_ticker<'a>(state: &State, call: &'a Call) -> Result<&'a str, ApiErr> {
    archived_market_seed(state, call)?;
    Ok(call.param("ticker"))
}

pub(super) fn orders(state: &State, call: &Call) -> Answer {
    let subaccount = call.query_subaccount()?;
    let ticker = call.query("ticker");
    let range = TsRange::of(call)?;
    let orders: Vec<Value> = state
        .engine
        .orders_of(call.user())
        .into_iter()
        .filter(|o| is_archived_order(o, call.now_ms))
        .filter(|o| subaccount.is_none_or(|s| s == o.owner.subaccount))
        .filter(|o| ticker.is_none_or(|t| t == o.ticker))
        .filter(|o| range.holds(o.created_ts_ms))
        .map(crate::api::order_json)
        .collect();
    let (page, cursor) = paginate(orders, call)?;
    ok(json!({ "orders": page, "cursor": cursor }))
}

pub(super) fn fills(state: &State, call: &Call) -> Answer {
    let subaccount = call.query_subaccount()?;
    let ticker = call.query("ticker");
    let range = TsRange::of(call)?;
    let fills: Vec<Value> = state
        .engine
        .fills_of(call.user())
        .into_iter()
        .filter(|f| is_archived_fill(f, call.now_ms))
        .filter(|f| subaccount.is_none_or(|s| s == f.owner.subaccount))
        .filter(|f| ticker.is_none_or(|t| t == f.ticker))
        .filter(|f| range.holds(f.ts_ms))
        .map(crate::api::fill_json)
        .collect();
    let (page, cursor) = paginate(fills, call)?;
    ok(json!({ "fills": page, "cursor": cursor }))
}

/// One archived position: the market, its event and what it came to.
struct Archived {
    ticker: String,
    event: String,
    summary: crate::engine::PositionSummary,
    settled_ms: i64,
}

/// Positions in markets archived before the cutoff, of one subaccount
/// (the primary unless named).
pub(super) fn positions(state: &State, call: &Call) -> Answer {
    let owner = call.owner(call.query_subaccount()?);
    let ticker = call.query("ticker");
    let event = call.query("event_ticker");
    let cutoff = cutoff_ms(call.now_ms);
    let rows: Vec<Archived> = state
        .engine
        .positions(&owner)
        .into_iter()
        .filter_map(|(t, _, _, _)| {
            let settled_ms = tape::settled_ms(state, &t).filter(|s| *s < cutoff)?;
            let event = state.catalog.market(&t)?.event_ticker.clone();
            Some(Archived {
                summary: state.engine.position_summary(&owner, &t),
                ticker: t,
                event,
                settled_ms,
            })
        })
        .filter(|r| ticker.is_none_or(|t| t == r.ticker))
        .filter(|r| event.is_none_or(|e| e == r.event))
        .collect();
    let events = event_positions(&rows);
    let markets: Vec<Value> = rows.iter().map(market_position_json).collect();
    let (page, cursor) = paginate(markets, call)?;
    ok(json!({ "market_positions": page, "event_positions": events, "cursor": cursor }))
}

fn market_position_json(row: &Archived) -> Value {
    let s = &row.summary;
    json!({
        "ticker": row.ticker, "exchange_index": 0, "total_traded_dollars": dollars(s.traded),
        "position_fp": count(s.position), "market_exposure_dollars": dollars(s.cost),
        "realized_pnl_dollars": dollars(s.realized), "fees_paid_dollars": dollars(s.fees_paid),
        "last_updated_ts": rfc3339(row.settled_ms)
    })
}

/// The spec's `EventPosition`s: the market rows summed per event.
fn event_positions(rows: &[Archived]) -> Vec<Value> {
    let mut per_event: BTreeMap<&str, [Decimal; 5]> = BTreeMap::new();
    for row in rows {
        let sums = per_event.entry(row.event.as_str()).or_default();
        let s = &row.summary;
        let values = [s.traded, s.volume, s.cost, s.realized, s.fees_paid];
        for (sum, value) in sums.iter_mut().zip(values) {
            *sum += value;
        }
    }
    per_event
        .into_iter()
        .map(|(event, [traded, volume, cost, realized, fees])| {
            json!({
                "event_ticker": event, "total_cost_dollars": dollars(traded),
                "total_cost_shares_fp": count(volume), "event_exposure_dollars": dollars(cost),
                "realized_pnl_dollars": dollars(realized), "fees_paid_dollars": dollars(fees)
            })
        })
        .collect()
}
