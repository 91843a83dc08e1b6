//! Public market data: series, events and markets with their live quotes,
//! order books, trades, candlesticks, the historical tier, the exchange
//! schedule, fee changes, event metadata, forecasts, tags and sport filters.
//!
//! Everything trading-related is read from the matching engine: a trade is
//! the taker's fill of each engine trade, candlesticks aggregate those
//! trades and the book's history ([`tape`]), and a market's status, volume
//! and open interest come from the same engine. What the simulator has no
//! source for (fee schedules, images, forecasts, sports) is small seeded
//! data in [`exchange_info`].

mod candles;
mod exchange_info;
pub(crate) mod history;
mod listings;
mod tape;

use std::collections::HashMap;

use rust_decimal::Decimal;
use serde_json::{Value, json};

use crate::State;
use crate::api::{count, dollars, ok, paginate, rfc3339};
use crate::engine::{Fill, MarketState, Side};
use crate::http::{Answer, ApiErr, Call};

pub(crate) use listings::market_json;

/// What these operations keep between requests.
#[derive(Debug, Default)]
pub(crate) struct Store {
    /// When the simulator first saw each settled market settled: the
    /// settlement time of a market nobody held a position in.
    settled_seen: HashMap<String, i64>,
}

impl Store {
    pub(crate) fn seen_settled(&self, ticker: &str) -> Option<i64> {
        self.settled_seen.get(ticker).copied()
    }
}

/// Runs the handler of one of these operations, or `None` for another one.
pub(crate) fn dispatch(state: &mut State, call: &Call) -> Option<Answer> {
    observe_settlements(state, call.now_ms);
    let answer = match call.operation.name {
        "get_series_list" => listings::series_list(state, call),
        "get_series" => listings::series(state, call),
        "get_events" => listings::events(state, call),
        "get_event" => listings::event(state, call),
        "get_markets" => listings::markets(state, call),
        "get_market" => listings::market(state, call),
        "get_market_orderbook" => orderbook(state, call),
        "get_market_orderbooks" => orderbooks(state, call),
        "get_trades" => trades(state, call, false),
        "get_trades_historical" => trades(state, call, true),
        "get_market_candlesticks" => candles::market(state, call),
        "batch_get_market_candlesticks" => candles::batch(state, call),
        "get_market_candlesticks_by_event" => candles::event(state, call),
        "get_market_candlesticks_historical" => candles::historical(state, call),
        "get_historical_cutoff" => history::cutoff(call),
        "get_historical_markets" => history::markets(state, call),
        "get_historical_market" => history::market(state, call),
        "get_historical_orders" => history::orders(state, call),
        "get_fills_historical" => history::fills(state, call),
        "get_historical_positions" => history::positions(state, call),
        "get_exchange_schedule" => exchange_info::schedule(),
        "get_series_fee_changes" => exchange_info::series_fee_changes(state, call),
        "get_event_fee_changes" => exchange_info::event_fee_changes(state, call),
        "get_event_metadata" => exchange_info::event_metadata(state, call),
        "get_event_forecast_percentiles_history" => exchange_info::forecast(state, call),
        "get_tags_for_series_categories" => exchange_info::tags_by_categories(state),
        "get_filters_for_sports" => exchange_info::filters_by_sport(),
        _ => return None,
    };
    Some(answer)
}

/// Notes the first time each market is seen settled.
fn observe_settlements(state: &mut State, now_ms: i64) {
    let State {
        engine,
        market_data,
        ..
    } = state;
    for (ticker, market) in engine.markets() {
        if matches!(market, MarketState::Settled(_))
            && !market_data.settled_seen.contains_key(ticker)
        {
            market_data.settled_seen.insert(ticker.to_owned(), now_ms);
        }
    }
}

// ---------------------------------------------------------------------------
// Query parameters
// ---------------------------------------------------------------------------

fn invalid(name: &str, what: &str) -> ApiErr {
    ApiErr::bad_request("invalid_parameters", &format!("`{name}` must be {what}"))
}

/// An integer query parameter, `None` when absent.
pub(crate) fn int_query(call: &Call, name: &str) -> Result<Option<i64>, ApiErr> {
    call.query(name)
        .map(|text| text.parse::<i64>().map_err(|_| invalid(name, "an integer")))
        .transpose()
}

/// A required integer query parameter.
pub(crate) fn required_int(call: &Call, name: &str) -> Result<i64, ApiErr> {
    int_query(call, name)?
        .ok_or_else(|| ApiErr::bad_request("missing_parameters", &format!("`{name}` is required")))
}

/// A boolean query parameter, `None` when absent.
pub(crate) fn bool_query(call: &Call, name: &str) -> Result<Option<bool>, ApiErr> {
    call.query(name)
        .map(|text| match text {
            "true" => Ok(true),
            "false" => Ok(false),
            _ => Err(invalid(name, "true or false")),
        })
        .transpose()
}

/// Every value of a list parameter, repeated (`a=1&a=2`) or comma-separated
/// (`a=1,2`); `None` when absent or empty (no filter).
pub(crate) fn list_query<'a>(call: &'a Call, name: &str) -> Option<Vec<&'a str>> {
    let values: Vec<&str> = call
        .query
        .iter()
        .filter(|(key, _)| key == name)
        .flat_map(|(_, value)| value.split(','))
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .collect();
    (!values.is_empty()).then_some(values)
}

/// The `min_ts` / `max_ts` filter: Unix seconds, both inclusive.
#[derive(Debug, Clone, Copy)]
pub(crate) struct TsRange {
    min: Option<i64>,
    max: Option<i64>,
}

impl TsRange {
    pub(crate) fn of(call: &Call) -> Result<Self, ApiErr> {
        Ok(Self {
            min: int_query(call, "min_ts")?,
            max: int_query(call, "max_ts")?,
        })
    }

    /// Whether the instant `ms` (milliseconds) is in the range.
    pub(crate) fn holds(&self, ms: i64) -> bool {
        let seconds = ms.div_euclid(1000);
        self.min.is_none_or(|m| seconds >= m) && self.max.is_none_or(|m| seconds <= m)
    }
}

// ---------------------------------------------------------------------------
// Order books
// ---------------------------------------------------------------------------

/// The spec's `OrderbookCountFp`: YES bids as YES levels and YES asks as NO
/// bids at `1 − price`, each ascending by price, so the best level is the
/// last; `depth` keeps the best `depth` levels of each side (0: all).
fn book_json(state: &State, ticker: &str, depth: usize) -> Option<Value> {
    let (bids, asks) = state.engine.book(ticker)?;
    let side = |levels: Vec<(Decimal, String)>| -> Vec<Value> {
        let keep = if depth == 0 { levels.len() } else { depth };
        let skip = levels.len().saturating_sub(keep);
        levels
            .into_iter()
            .skip(skip)
            .map(|(p, c)| json!([dollars(p), c]))
            .collect()
    };
    let yes = bids.iter().rev().map(|(p, c)| (*p, count(*c))).collect();
    let no = asks
        .iter()
        .rev()
        .map(|(p, c)| (Decimal::ONE - *p, count(*c)))
        .collect();
    Some(json!({ "yes_dollars": side(yes), "no_dollars": side(no) }))
}

fn orderbook(state: &State, call: &Call) -> Answer {
    // Kalshi: 0 or negative means every level; the spec allows up to 100.
    let depth = match int_query(call, "depth")? {
        None => 0,
        Some(d) if d <= 0 => 0,
        Some(d) => usize::try_from(d)
            .ok()
            .filter(|d| *d <= 100)
            .ok_or_else(|| invalid("depth", "at most 100"))?,
    };
    let book = book_json(state, call.param("ticker"), depth)
        .ok_or_else(|| ApiErr::new(404, "not_found", "no such market"))?;
    ok(json!({ "orderbook_fp": book }))
}

fn orderbooks(state: &State, call: &Call) -> Answer {
    let tickers = list_query(call, "tickers").unwrap_or_default();
    if tickers.is_empty() || tickers.len() > 100 {
        return Err(invalid("tickers", "1 to 100 market tickers"));
    }
    let books = tickers
        .iter()
        .map(|ticker| {
            let book = book_json(state, ticker, 0).ok_or_else(|| {
                ApiErr::bad_request("market_not_found", &format!("no market {ticker}"))
            })?;
            Ok(json!({ "ticker": ticker, "orderbook_fp": book }))
        })
        .collect::<Result<Vec<Value>, ApiErr>>()?;
    ok(json!({ "orderbooks": books }))
}

// ---------------------------------------------------------------------------
// Trades
// ---------------------------------------------------------------------------

/// The spec's `Trade`, from the taker's fill: the taker's side is the
/// trade's direction.
fn trade_json(fill: &Fill) -> Value {
    let (outcome, book) = match fill.side {
        Side::Bid => ("yes", "bid"),
        Side::Ask => ("no", "ask"),
    };
    json!({
        "trade_id": fill.trade_id, "ticker": fill.ticker, "count_fp": count(fill.count),
        "yes_price_dollars": dollars(fill.price), "no_price_dollars": dollars(Decimal::ONE - fill.price),
        "taker_side": outcome, "taker_outcome_side": outcome, "taker_book_side": book,
        "created_time": rfc3339(fill.ts_ms), "is_block_trade": false
    })
}

/// Trades newest first: the live ones (at or after the historical cutoff)
/// or the historical ones (before it). Every engine trade matched on the
/// book, so none is a block trade.
fn trades(state: &State, call: &Call, historical: bool) -> Answer {
    let ticker = call.query("ticker");
    let range = TsRange::of(call)?;
    let block = bool_query(call, "is_block_trade")?;
    let cutoff = history::cutoff_ms(call.now_ms);
    let trades: Vec<Value> = tape::all_trades(state)
        .rev()
        .filter(|f| (f.ts_ms < cutoff) == historical)
        .filter(|f| ticker.is_none_or(|t| t == f.ticker))
        .filter(|f| range.holds(f.ts_ms))
        .filter(|_| block != Some(true))
        .map(trade_json)
        .collect();
    let (page, cursor) = paginate(trades, call)?;
    ok(json!({ "trades": page, "cursor": cursor }))
}
