//! The margin exchange's reference data, all derived from the simulator's
//! own state: risk and fee parameters (the model's rates), funding rates
//! (those a test applied), candlesticks (from the trades), notional usage
//! and risk (from the positions). FCM operations are refused: no account
//! of the simulator is a futures commission merchant.

use std::collections::BTreeMap;

use rust_decimal::Decimal;
use rust_decimal::prelude::ToPrimitive;
use serde_json::{Value, json};

use super::{Exchange, TAKER_FEE_RATE, bad, money};
use crate::State;
use crate::api::{count, ok, rfc3339};
use crate::http::{Answer, ApiErr, Call};

/// The notional value risk limit every simulated account has.
const NOTIONAL_LIMIT: i64 = 1_000_000;

pub(super) fn dispatch(state: &mut State, call: &Call) -> Option<Answer> {
    let answer = match call.operation.name {
        "get_margin_risk_parameters" => risk_parameters(state),
        "get_margin_fee_tiers" => fee_tiers(state),
        "get_margin_fee_tier_rates" => ok(json!({ "fee_tier_rates": [{
            "fee_schedule": "self_clearing_members", "tier": 1,
            "maker_fee_rate": 0.0, "taker_fee_rate": float(TAKER_FEE_RATE),
        }]})),
        "get_margin_historical_funding_rates" => funding_rates(state, call),
        "get_margin_funding_rate_estimate" => estimate(state, call),
        // The simulator has no index price to take a premium against.
        "get_margin_premium_index" => {
            required_market(state, call, "ticker").map(|_| (200, Some(json!({ "points": [] }))))
        }
        "get_margin_market_candlesticks" => candlesticks(state, call),
        // No corporate action is ever scheduled on the simulator.
        "get_margin_corporate_actions" => ok(json!({ "corporate_actions": [] })),
        "get_margin_notional_risk_limit" => notional(state, call),
        "get_margin_risk" => risk(state, call),
        "create_margin_fcm_subtrader"
        | "get_fcm_subtrader_risk_controls"
        | "update_fcm_subtrader_risk_controls"
        | "delete_fcm_subtrader_risk_controls"
        | "update_fcm_notional_risk_limit"
        | "delete_fcm_notional_risk_limit" => Err(ApiErr::new(
            403,
            "fcm_only",
            "only futures commission merchants may manage subtraders and their limits",
        )),
        _ => return None,
    };
    Some(answer)
}

fn float(value: Decimal) -> f64 {
    value.to_f64().unwrap_or_default()
}

fn required_market<'a>(state: &'a State, call: &Call, field: &str) -> Result<&'a str, ApiErr> {
    let ticker = call
        .query(field)
        .filter(|t| !t.is_empty())
        .ok_or_else(|| bad("missing_parameters", &format!("`{field}` is required")))?;
    state
        .margin
        .markets
        .get_key_value(ticker)
        .map(|(t, _)| t.as_str())
        .ok_or_else(|| {
            ApiErr::new(
                400,
                "market_not_found",
                &format!("margin market {ticker} not found"),
            )
        })
}

fn risk_parameters(state: &State) -> Answer {
    let multipliers: BTreeMap<&String, f64> = state
        .margin
        .markets
        .iter()
        .map(|(t, m)| (t, float(m.initial_rate / m.maintenance_rate)))
        .collect();
    ok(json!({
        "liquidation_margin_ratio_threshold": 1.0,
        "queue_entry_margin_ratio_threshold": 1.0,
        "initial_margin_multiplier": multipliers,
    }))
}

fn fee_tiers(state: &State) -> Answer {
    let rates = |rate: f64| -> BTreeMap<&String, f64> {
        state.margin.markets.keys().map(|t| (t, rate)).collect()
    };
    ok(json!({ "maker_fee_rates": rates(0.0), "taker_fee_rates": rates(float(TAKER_FEE_RATE)) }))
}

/// `start_ts` / `end_ts` (Unix seconds) of a query, if given.
fn seconds(call: &Call, name: &str) -> Result<Option<i64>, ApiErr> {
    call.query(name)
        .map(|v| {
            v.parse::<i64>().map_err(|_| {
                bad(
                    "invalid_parameters",
                    &format!("`{name}` must be an integer"),
                )
            })
        })
        .transpose()
}

fn funding_rates(state: &mut State, call: &Call) -> Answer {
    let (start, end) = (seconds(call, "start_ts")?, seconds(call, "end_ts")?);
    let ticker = call.query("ticker").filter(|t| !t.is_empty());
    // One rate per market and time, however many positions paid it.
    let mut seen = std::collections::BTreeSet::new();
    let list: Vec<Value> = state
        .margin
        .funding
        .iter()
        .filter(|f| ticker.is_none_or(|t| t == f.ticker))
        .filter(|f| {
            let s = f.ts_ms.div_euclid(1000);
            start.is_none_or(|x| s >= x) && end.is_none_or(|x| s <= x)
        })
        .filter(|f| seen.insert((f.ticker.clone(), f.ts_ms)))
        .map(|f| {
            json!({
                "market_ticker": f.ticker, "funding_time": rfc3339(f.ts_ms),
                "funding_rate": float(f.rate), "mark_price": money(f.mark),
            })
        })
        .collect();
    ok(json!({ "funding_rates": list }))
}

fn estimate(state: &mut State, call: &Call) -> Answer {
    let ticker = required_market(state, call, "ticker")?.to_owned();
    let mark = state.margin.markets[&ticker].mark;
    // Funding happens when a test applies it; the next hour is shown.
    let next = (call.now_ms.div_euclid(3_600_000) + 1) * 3_600_000;
    ok(json!({
        "market_ticker": ticker, "computed_time": rfc3339(call.now_ms), "funding_rate": 0.0,
        "mark_price": money(mark), "next_funding_time": rfc3339(next),
    }))
}

fn candlesticks(state: &mut State, call: &Call) -> Answer {
    let ticker = call.param("ticker").to_owned();
    let exchange = &state.margin;
    if !exchange.has_market(&ticker) {
        return Err(ApiErr::new(
            404,
            "market_not_found",
            &format!("margin market {ticker} not found"),
        ));
    }
    let (start, end) = (seconds(call, "start_ts")?, seconds(call, "end_ts")?);
    let (Some(start), Some(end)) = (start, end) else {
        return Err(bad(
            "missing_parameters",
            "`start_ts` and `end_ts` are required",
        ));
    };
    let period = match call.query("period_interval") {
        Some("1") => 60,
        Some("60") => 3_600,
        Some("1440") => 86_400,
        _ => {
            return Err(bad(
                "invalid_parameters",
                "`period_interval` must be 1, 60 or 1440",
            ));
        }
    };
    let mut candles: BTreeMap<i64, Vec<&super::Trade>> = BTreeMap::new();
    for trade in exchange.trades.iter().filter(|t| t.ticker == ticker) {
        let end_ts = (trade.ts_ms.div_euclid(1000) / period + 1) * period;
        if (start..=end).contains(&end_ts) {
            candles.entry(end_ts).or_default().push(trade);
        }
    }
    let mut previous: Option<Decimal> = None;
    let list: Vec<Value> = candles
        .into_iter()
        .map(|(end_ts, trades)| candle(exchange, end_ts, &trades, &mut previous))
        .collect();
    ok(json!({ "ticker": ticker, "candlesticks": list }))
}

/// One candlestick of `trades` (oldest first); bid and ask are the top of
/// the book right after each trade.
fn candle(
    exchange: &Exchange,
    end_ts: i64,
    trades: &[&super::Trade],
    previous: &mut Option<Decimal>,
) -> Value {
    let ohlc = |values: Vec<Decimal>| {
        json!({
            "open": money(values[0]), "close": money(values[values.len() - 1]),
            "low": money(values.iter().copied().fold(values[0], Decimal::min)),
            "high": money(values.iter().copied().fold(values[0], Decimal::max)),
        })
    };
    let prices: Vec<Decimal> = trades.iter().map(|t| t.price).collect();
    let mut price = ohlc(prices.clone());
    let volume: Decimal = trades.iter().map(|t| t.count).sum();
    let notional: Decimal = trades.iter().map(|t| t.count * t.price).sum();
    price["mean"] = money(notional / volume).into();
    price["previous"] = previous.map_or(Value::Null, |p| money(p).into());
    *previous = prices.last().copied();
    let bids = trades.iter().map(|t| t.top.0).collect();
    let asks = trades.iter().map(|t| t.top.1).collect();
    let ticker = &trades[0].ticker;
    let m = &exchange.markets[ticker];
    let oi = exchange.open_interest(ticker);
    json!({
        "end_period_ts": end_ts, "bid": ohlc(bids), "ask": ohlc(asks), "price": price,
        "volume": count(volume), "volume_notional_value_dollars": money(notional * m.contract_size),
        "open_interest": count(oi),
        "open_interest_notional_value_dollars": money(oi * m.mark * m.contract_size),
    })
}

/// Each market's notional (|position| × mark × contract size) over every
/// subaccount of the caller.
fn usage(exchange: &Exchange, user: &str) -> BTreeMap<String, Decimal> {
    let mut usage = BTreeMap::new();
    for ((owner, ticker), p) in &exchange.positions {
        if owner.user_id == user && !p.lots.is_empty() {
            let m = &exchange.markets[ticker];
            *usage.entry(ticker.clone()).or_default() += p.size().abs() * m.mark * m.contract_size;
        }
    }
    usage
}

fn notional(state: &mut State, call: &Call) -> Answer {
    let usage = usage(&state.margin, call.user());
    let total: Decimal = usage.values().copied().sum();
    let by_market: BTreeMap<&String, String> = usage.iter().map(|(t, u)| (t, money(*u))).collect();
    let limit = money(Decimal::from(NOTIONAL_LIMIT));
    ok(json!({
        "default_notional_value_risk_limit": limit,
        "notional_value_risk_limits_by_market_ticker": {},
        "total_current_usage": money(total),
        "current_usage_by_market_ticker": by_market,
    }))
}

fn risk(state: &mut State, call: &Call) -> Answer {
    let exchange = &state.margin;
    let mut total_notional = Decimal::ZERO;
    let mut total_maintenance = Decimal::ZERO;
    let mut rows = Vec::new();
    for ((owner, ticker), p) in &exchange.positions {
        if owner.user_id != call.user() || p.lots.is_empty() {
            continue;
        }
        let m = &exchange.markets[ticker];
        let notional = p.size().abs() * m.mark * m.contract_size;
        let maintenance = notional * m.maintenance_rate;
        total_notional += notional;
        total_maintenance += maintenance;
        rows.push(json!({
            "subaccount": owner.subaccount, "market_ticker": ticker, "position": count(p.size()),
            "mark_price": money(m.mark), "position_notional": money(notional),
            "maintenance_margin_required": money(maintenance), "is_portfolio": false,
        }));
    }
    let equity: Decimal = exchange
        .cash
        .keys()
        .filter(|o| o.user_id == call.user())
        .map(|o| exchange.equity(o))
        .sum();
    let leverage = (equity > Decimal::ZERO).then(|| float(total_notional / equity));
    ok(json!({
        "account_leverage": leverage, "total_position_notional": money(total_notional),
        "total_maintenance_margin": money(total_maintenance), "positions": rows,
    }))
}
