//! Candlesticks: a market's tape cut into periods.
//!
//! A period of `P` seconds ending at `E` (a multiple of `P` since the epoch)
//! holds what happened in `(E − P, E]`. Only periods in which something
//! happened (a trade, a change of the book's best prices, the settlement)
//! have a candlestick, as on Kalshi, where `include_latest_before_start`
//! exists to carry the last one forward.
//!
//! * `yes_bid` / `yes_ask`: the best bid and ask at the period's start
//!   (open), end (close) and extremes; an empty side quotes 0 (bid) and 1
//!   (ask), as markets do.
//! * `price`: the trades' first, highest, lowest and last YES price and
//!   their volume-weighted mean; absent without trades. `previous` is the
//!   last trade price before the period.
//! * `volume`: contracts traded in the period; `open_interest`: contract
//!   pairs held at its end.

use rust_decimal::Decimal;
use serde_json::{Value, json};

use super::tape::Tape;
use super::{bool_query, history, invalid, list_query, required_int};
use crate::State;
use crate::api::{count, dollars, ok};
use crate::engine::Side;
use crate::http::{Answer, ApiErr, Call};

/// The most candlesticks one response carries (Kalshi's batch limit).
pub(crate) const MAX_CANDLES: usize = 10_000;

/// The requested range, in seconds since the epoch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Window {
    pub start_s: i64,
    pub end_s: i64,
    pub period_s: i64,
}

/// Open, high, low and close of a best price.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Ohlc {
    pub open: Decimal,
    pub high: Decimal,
    pub low: Decimal,
    pub close: Decimal,
}

/// What the trades of a period did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Prices {
    pub ohlc: Ohlc,
    pub mean: Decimal,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Candle {
    pub end_s: i64,
    pub bid: Ohlc,
    pub ask: Ohlc,
    /// `None` without trades.
    pub price: Option<Prices>,
    pub previous: Option<Decimal>,
    pub volume: Decimal,
    pub open_interest: Decimal,
}

/// The end of the period holding the instant `ms`.
pub(crate) fn period_end(ms: i64, period_s: i64) -> i64 {
    let period_ms = period_s.saturating_mul(1000).max(1);
    let whole = ms.div_euclid(period_ms);
    let partial = i64::from(ms.rem_euclid(period_ms) != 0);
    whole.saturating_add(partial).saturating_mul(period_s)
}

/// The market's candlesticks ending within the window, oldest first (at
/// most [`MAX_CANDLES`]); with `latest_before_start`, preceded by the last
/// one before the window carried to the window's first period boundary.
pub(crate) fn candles(tape: &Tape<'_>, window: Window, latest_before_start: bool) -> Vec<Candle> {
    let ends = activity(tape, window.period_s);
    let mut out: Vec<Candle> = ends
        .iter()
        .filter(|end| (window.start_s..=window.end_s).contains(end))
        .take(MAX_CANDLES)
        .map(|end| candle(tape, *end, window.period_s))
        .collect();
    let before = ends.iter().rev().find(|end| **end < window.start_s);
    if let (true, Some(before)) = (latest_before_start, before) {
        let carried = carry(
            &candle(tape, *before, window.period_s),
            period_end(window.start_s.saturating_mul(1000), window.period_s),
        );
        if out.first().is_none_or(|first| first.end_s != carried.end_s) {
            out.insert(0, carried);
            out.truncate(MAX_CANDLES);
        }
    }
    out
}

/// Ends of the periods in which something happened, ascending.
fn activity(tape: &Tape<'_>, period_s: i64) -> Vec<i64> {
    let mut instants = tape.quote_changes();
    instants.extend(tape.trades().iter().map(|t| t.ts_ms));
    instants.extend(tape.settled_ms());
    let ends: std::collections::BTreeSet<i64> = instants
        .into_iter()
        .map(|ms| period_end(ms, period_s))
        .collect();
    ends.into_iter().collect()
}

fn candle(tape: &Tape<'_>, end_s: i64, period_s: i64) -> Candle {
    let end_ms = end_s.saturating_mul(1000);
    let start_ms = end_s.saturating_sub(period_s).saturating_mul(1000);
    let mut instants: Vec<i64> = tape
        .quote_changes()
        .range(start_ms.saturating_add(1)..=end_ms)
        .copied()
        .collect();
    instants.insert(0, start_ms);
    instants.push(end_ms);
    let book = |side: Side, empty: Decimal| {
        let values: Vec<Decimal> = instants
            .iter()
            .map(|at| tape.best(side, *at).unwrap_or(empty))
            .collect();
        ohlc(&values).unwrap_or(Ohlc {
            open: empty,
            high: empty,
            low: empty,
            close: empty,
        })
    };
    let trades: Vec<(Decimal, Decimal)> = tape
        .trades()
        .iter()
        .filter(|t| start_ms < t.ts_ms && t.ts_ms <= end_ms)
        .map(|t| (t.price, t.count))
        .collect();
    Candle {
        end_s,
        bid: book(Side::Bid, Decimal::ZERO),
        ask: book(Side::Ask, Decimal::ONE),
        price: prices(&trades),
        previous: tape.last_price(start_ms),
        volume: trades.iter().map(|(_, c)| *c).sum(),
        open_interest: tape.open_interest(end_ms),
    }
}

fn ohlc(values: &[Decimal]) -> Option<Ohlc> {
    Some(Ohlc {
        open: *values.first()?,
        high: values.iter().copied().max()?,
        low: values.iter().copied().min()?,
        close: *values.last()?,
    })
}

/// OHLC and volume-weighted mean of `(price, count)` trades.
fn prices(trades: &[(Decimal, Decimal)]) -> Option<Prices> {
    let prices: Vec<Decimal> = trades.iter().map(|(p, _)| *p).collect();
    let volume: Decimal = trades.iter().map(|(_, c)| *c).sum();
    let notional: Decimal = trades.iter().map(|(p, c)| p * c).sum();
    let mean = notional.checked_div(volume)?.round_dp(6).normalize();
    Some(Prices {
        ohlc: ohlc(&prices)?,
        mean,
    })
}

/// Kalshi's synthetic first candlestick: the real one's closing state at a
/// later period end, without trades.
fn carry(real: &Candle, end_s: i64) -> Candle {
    let flat = |o: &Ohlc| Ohlc {
        open: o.close,
        high: o.close,
        low: o.close,
        close: o.close,
    };
    Candle {
        end_s,
        bid: flat(&real.bid),
        ask: flat(&real.ask),
        price: None,
        previous: real.price.map(|p| p.ohlc.close).or(real.previous),
        volume: Decimal::ZERO,
        open_interest: real.open_interest,
    }
}

/// The spec's `MarketCandlestick`. Price fields without a value are left
/// out: the spec's nullable markers sit beside a `$ref`, where validators
/// ignore them.
pub(crate) fn live_json(candle: &Candle) -> Value {
    let book = |o: &Ohlc| {
        json!({
            "open_dollars": dollars(o.open), "high_dollars": dollars(o.high),
            "low_dollars": dollars(o.low), "close_dollars": dollars(o.close)
        })
    };
    let mut price = match candle.price {
        Some(p) => json!({
            "open_dollars": dollars(p.ohlc.open), "high_dollars": dollars(p.ohlc.high),
            "low_dollars": dollars(p.ohlc.low), "close_dollars": dollars(p.ohlc.close),
            "mean_dollars": dollars(p.mean), "min_dollars": dollars(p.ohlc.low),
            "max_dollars": dollars(p.ohlc.high)
        }),
        None => json!({}),
    };
    if let Some(previous) = candle.previous {
        price["previous_dollars"] = json!(dollars(previous));
    }
    json!({
        "end_period_ts": candle.end_s, "yes_bid": book(&candle.bid), "yes_ask": book(&candle.ask),
        "price": price, "volume_fp": count(candle.volume),
        "open_interest_fp": count(candle.open_interest)
    })
}

/// The spec's `MarketCandlestickHistorical`: every price field present,
/// `null` when there is no value.
pub(crate) fn historical_json(candle: &Candle) -> Value {
    let book = |o: &Ohlc| {
        json!({
            "open": dollars(o.open), "high": dollars(o.high),
            "low": dollars(o.low), "close": dollars(o.close)
        })
    };
    let field = |value: Option<Decimal>| value.map_or(Value::Null, |v| json!(dollars(v)));
    let p = candle.price;
    json!({
        "end_period_ts": candle.end_s, "yes_bid": book(&candle.bid), "yes_ask": book(&candle.ask),
        "price": {
            "open": field(p.map(|p| p.ohlc.open)), "high": field(p.map(|p| p.ohlc.high)),
            "low": field(p.map(|p| p.ohlc.low)), "close": field(p.map(|p| p.ohlc.close)),
            "mean": field(p.map(|p| p.mean)), "previous": field(candle.previous)
        },
        "volume": count(candle.volume), "open_interest": count(candle.open_interest)
    })
}

// ---------------------------------------------------------------------------
// Handlers
// ---------------------------------------------------------------------------

/// The longest period `GET /markets/candlesticks` accepts, in minutes (a
/// year); the other endpoints take 1, 60 or 1440.
const MAX_PERIOD_MINUTES: i64 = 525_600;

/// `start_ts`, `end_ts` and `period_interval` (minutes, one of `periods`,
/// or any up to a year when `periods` is empty).
fn window(call: &Call, periods: &[i64]) -> Result<Window, ApiErr> {
    let start_s = required_int(call, "start_ts")?;
    let end_s = required_int(call, "end_ts")?;
    let minutes = required_int(call, "period_interval")?;
    let allowed = if periods.is_empty() {
        (1..=MAX_PERIOD_MINUTES).contains(&minutes)
    } else {
        periods.contains(&minutes)
    };
    if !allowed {
        return Err(invalid("period_interval", "1, 60 or 1440 (minutes)"));
    }
    if start_s > end_s {
        return Err(invalid("start_ts", "at most end_ts"));
    }
    Ok(Window {
        start_s,
        end_s,
        period_s: minutes * 60,
    })
}

/// Live candlesticks of a market, empty for an archived one (those are on
/// `/historical/markets/{ticker}/candlesticks`).
fn live_candles(
    state: &State,
    ticker: &str,
    window: Window,
    carry: bool,
    now_ms: i64,
) -> Vec<Candle> {
    if history::is_archived_market(state, ticker, now_ms) {
        return Vec::new();
    }
    candles(&Tape::of(state, ticker), window, carry)
}

pub(super) fn market(state: &State, call: &Call) -> Answer {
    let ticker = call.param("ticker");
    state
        .catalog
        .market(ticker)
        .filter(|m| m.series_ticker == call.param("series_ticker"))
        .filter(|m| !history::is_archived_market(state, &m.ticker, call.now_ms))
        .ok_or_else(|| ApiErr::new(404, "not_found", "no such market in this series"))?;
    let window = window(call, &[1, 60, 1440])?;
    let carry = bool_query(call, "include_latest_before_start")? == Some(true);
    let candles: Vec<Value> = live_candles(state, ticker, window, carry, call.now_ms)
        .iter()
        .map(live_json)
        .collect();
    ok(json!({ "ticker": ticker, "candlesticks": candles }))
}

pub(super) fn batch(state: &State, call: &Call) -> Answer {
    let tickers = list_query(call, "market_tickers").unwrap_or_default();
    if tickers.is_empty() || tickers.len() > 100 {
        return Err(invalid("market_tickers", "1 to 100 market tickers"));
    }
    if let Some(unknown) = tickers.iter().find(|t| state.catalog.market(t).is_none()) {
        return Err(ApiErr::bad_request(
            "market_not_found",
            &format!("no market {unknown}"),
        ));
    }
    let window = window(call, &[])?;
    let carry = bool_query(call, "include_latest_before_start")? == Some(true);
    let mut budget = MAX_CANDLES;
    let markets: Vec<Value> = tickers
        .iter()
        .map(|ticker| {
            let mut candles = live_candles(state, ticker, window, carry, call.now_ms);
            candles.truncate(budget);
            budget -= candles.len();
            let candles: Vec<Value> = candles.iter().map(live_json).collect();
            json!({ "market_ticker": ticker, "candlesticks": candles })
        })
        .collect();
    ok(json!({ "markets": markets }))
}

pub(super) fn event(state: &State, call: &Call) -> Answer {
    let event = call.param("ticker");
    let listed = state
        .catalog
        .events
        .iter()
        .any(|(t, series, _)| t == event && series == call.param("series_ticker"));
    if !listed {
        return Err(ApiErr::new(
            404,
            "not_found",
            "no such event in this series",
        ));
    }
    let window = window(call, &[1, 60, 1440])?;
    let tickers: Vec<&str> = state
        .catalog
        .event_markets(event)
        .map(|m| m.ticker.as_str())
        .collect();
    let mut per_market: Vec<Vec<Candle>> = tickers
        .iter()
        .map(|t| live_candles(state, t, window, false, call.now_ms))
        .collect();
    let adjusted_end = fit(&mut per_market).unwrap_or(window.end_s);
    let candles: Vec<Vec<Value>> = per_market
        .iter()
        .map(|c| c.iter().map(live_json).collect())
        .collect();
    ok(json!({
        "market_tickers": tickers, "market_candlesticks": candles, "adjusted_end_ts": adjusted_end
    }))
}

/// Cuts every market's candlesticks at one end time so that together they
/// hold at most [`MAX_CANDLES`]; the new end when something was cut.
fn fit(per_market: &mut [Vec<Candle>]) -> Option<i64> {
    let mut ends: Vec<i64> = per_market.iter().flatten().map(|c| c.end_s).collect();
    if ends.len() <= MAX_CANDLES {
        return None;
    }
    ends.sort_unstable();
    // Ties at the cut go too, so that the count stays within the limit.
    let mut keep = MAX_CANDLES;
    while keep > 0 && ends[keep] == ends[keep - 1] {
        keep -= 1;
    }
    let end = if keep == 0 { i64::MIN } else { ends[keep - 1] };
    for candles in per_market.iter_mut() {
        candles.retain(|c| c.end_s <= end);
    }
    Some(end)
}

pub(super) fn historical(state: &State, call: &Call) -> Answer {
    let ticker = history::archived_ticker(state, call)?;
    let window = window(call, &[1, 60, 1440])?;
    let candles: Vec<Value> = candles(&Tape::of(state, ticker), window, false)
        .iter()
        .map(historical_json)
        .collect();
    ok(json!({ "ticker": ticker, "candlesticks": candles }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::{NewOrder, Owner, SelfTradePrevention, TimeInForce};
    use crate::{Account, ApiKey, Shared, SimConfig};

    fn dec(text: &str) -> Decimal {
        text.parse().unwrap()
    }

    fn order(user: &str, side: Side, price: &str, count: u32) -> NewOrder {
        NewOrder {
            owner: Owner {
                user_id: user.to_owned(),
                subaccount: 0,
            },
            ticker: "KXTEST-26DEC31-YES".to_owned(),
            side,
            price: dec(price),
            count: Decimal::from(count),
            client_order_id: uuid::Uuid::new_v4().to_string(),
            time_in_force: TimeInForce::GoodTillCanceled,
            self_trade_prevention: SelfTradePrevention::TakerAtCross,
            post_only: false,
            reduce_only: false,
            order_group_id: None,
            expiration_ts: None,
        }
    }

    #[test]
    fn period_ends_are_inclusive_multiples_of_the_period() {
        assert_eq!(period_end(60_000, 60), 60);
        assert_eq!(period_end(60_001, 60), 120);
        assert_eq!(period_end(1, 60), 60);
        assert_eq!(period_end(0, 60), 0);
        assert_eq!(period_end(-1, 60), 0);
        // No overflow at the edges of time.
        assert!(period_end(i64::MAX, 86_400) > 0);
        assert!(period_end(i64::MIN, 86_400) < 0);
    }

    #[test]
    fn a_candle_aggregates_the_trades_and_the_book_of_its_period() {
        let config = SimConfig::new()
            .account(Account::new("alice", &ApiKey::ed25519("a")))
            .account(Account::new("bob", &ApiKey::ed25519("b")));
        let shared = Shared::new(&config);
        let mut state = shared.state();
        let engine = &mut state.engine;
        // Minute ending at 120 s: alice bids, bob sells into it twice.
        engine.set_time_ms(61_000);
        engine.place(order("alice", Side::Bid, "0.40", 10)).unwrap();
        engine.set_time_ms(70_000);
        engine.place(order("bob", Side::Ask, "0.40", 4)).unwrap();
        engine.set_time_ms(80_000);
        engine.place(order("alice", Side::Bid, "0.45", 5)).unwrap();
        engine.set_time_ms(90_000);
        engine.place(order("bob", Side::Ask, "0.45", 5)).unwrap();
        // Next minute: an ask rests, no trade.
        engine.set_time_ms(150_000);
        engine.place(order("bob", Side::Ask, "0.60", 1)).unwrap();
        let tape = Tape::of(&state, "KXTEST-26DEC31-YES");
        let window = Window {
            start_s: 0,
            end_s: 1_000,
            period_s: 60,
        };
        let got = candles(&tape, window, false);
        assert_eq!(got.len(), 2, "{got:?}");
        let first = got[0];
        assert_eq!(first.end_s, 120);
        let price = first.price.unwrap();
        assert_eq!(
            (
                price.ohlc.open,
                price.ohlc.high,
                price.ohlc.low,
                price.ohlc.close
            ),
            (dec("0.40"), dec("0.45"), dec("0.40"), dec("0.45"))
        );
        // (4 × 0.40 + 5 × 0.45) / 9
        assert_eq!(price.mean, dec("0.427778"));
        assert_eq!(first.volume, dec("9"));
        assert_eq!(first.open_interest, dec("9"));
        assert_eq!(first.previous, None);
        // No bid at the start, 0.40 after, 0.45 briefly, 0.40 (6 left) at the end.
        assert_eq!(
            (
                first.bid.open,
                first.bid.high,
                first.bid.low,
                first.bid.close
            ),
            (dec("0"), dec("0.45"), dec("0"), dec("0.40"))
        );
        assert_eq!(first.ask.close, Decimal::ONE);
        let second = got[1];
        assert_eq!(second.end_s, 180);
        assert_eq!(second.price, None);
        assert_eq!(second.previous, Some(dec("0.45")));
        assert_eq!(
            (second.ask.open, second.ask.close),
            (Decimal::ONE, dec("0.60"))
        );
        assert_eq!(second.volume, Decimal::ZERO);

        // Only the later period in range, the earlier one carried forward.
        let later = Window {
            start_s: 130,
            ..window
        };
        let got = candles(&tape, later, true);
        assert_eq!(got.len(), 1, "the carried candle would duplicate: {got:?}");
        assert_eq!(got[0].end_s, 180);
        let got = candles(
            &tape,
            Window {
                start_s: 121,
                end_s: 121,
                period_s: 60,
            },
            true,
        );
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].end_s, 180);
        assert_eq!(got[0].previous, Some(dec("0.45")));
        assert_eq!(got[0].price, None);
    }
}
