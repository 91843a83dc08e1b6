//! FCM members: subtraders, their orders, fills and positions, daily caps
//! and blocked categories.
//!
//! Every account may act as an FCM member. A subtrader `{fcm}_{suffix}` is
//! an account of its own in the engine (user id = subtrader id, subaccount
//! 0): fund it with [`Simulator::deposit`](crate::Simulator::deposit), trade
//! for it through RFQs and block trades (`subtrader_id`), or place its
//! orders with [`Simulator::with_engine`](crate::Simulator::with_engine).
//! The FCM reads are the portfolio reads of its subtraders, so they agree
//! with them. Caps and blocked categories are stored and reported; the
//! simulator has no subtrader-bound API keys, the only sessions Kalshi
//! enforces them on, so they restrict nothing.

use std::collections::{BTreeSet, HashMap};

use chrono::{Datelike, NaiveDate, TimeZone, Utc, Weekday};
use rust_decimal::Decimal;
use serde_json::{Value, json};

use super::{int_param, invalid, not_found};
use crate::State;
use crate::api::{count, dollars, ok, rfc3339};
use crate::engine::{Fill, OrderStatus, Owner, Side};
use crate::http::{Answer, ApiErr, Call};

/// A subtrader of an FCM member.
#[derive(Debug, Clone)]
pub(super) struct Subtrader {
    id: String,
    fcm: String,
    daily_cap: Option<Decimal>,
    blocked: BTreeSet<String>,
}

/// Whether `subtrader` is one of `fcm`'s subtraders.
pub(crate) fn is_subtrader_of(state: &State, fcm: &str, subtrader: &str) -> bool {
    state
        .reference
        .subtraders
        .get(subtrader)
        .is_some_and(|s| s.fcm == fcm)
}

fn owner(subtrader: &str) -> Owner {
    Owner {
        user_id: subtrader.to_owned(),
        subaccount: 0,
    }
}

/// The caller's subtrader `id`: 404 when there is none, 403 when it is
/// another FCM's (`unknown` is the status for none where the operation has
/// no 404).
fn own<'a>(state: &'a State, call: &Call, id: &str, unknown: u16) -> Result<&'a Subtrader, ApiErr> {
    match state.reference.subtraders.get(id) {
        Some(s) if s.fcm == call.user() => Ok(s),
        Some(_) => Err(ApiErr::new(
            403,
            "forbidden",
            "the subtrader belongs to another FCM",
        )),
        None if unknown == 404 => Err(not_found("subtrader")),
        None => Err(ApiErr::new(
            unknown,
            "forbidden",
            "no such subtrader of yours",
        )),
    }
}

/// `subtrader_id` from the query or the body; required (the simulator has
/// no subtrader-bound keys to default it from).
fn subtrader_id(call: &Call, from_body: bool) -> Result<&str, ApiErr> {
    let id = if from_body {
        call.body()["subtrader_id"].as_str()
    } else {
        call.query("subtrader_id")
    };
    id.filter(|s| !s.is_empty())
        .ok_or_else(|| ApiErr::bad_request("missing_parameters", "`subtrader_id` is required"))
}

pub(super) fn create(state: &mut State, call: &Call) -> Answer {
    let suffix = call.body()["subtrader_suffix"].as_str().unwrap_or_default();
    let fine =
        (1..=16).contains(&suffix.len()) && suffix.bytes().all(|b| b.is_ascii_alphanumeric());
    if !fine {
        return Err(invalid(
            "subtrader_suffix must be 1 to 16 ASCII letters or digits",
        ));
    }
    let id = format!("{}_{suffix}", call.user());
    if state.reference.subtraders.contains_key(&id) {
        return Err(ApiErr::new(
            409,
            "subtrader_already_exists",
            &format!("{id} already exists"),
        ));
    }
    state.reference.subtraders.insert(
        id.clone(),
        Subtrader {
            id: id.clone(),
            fcm: call.user().to_owned(),
            daily_cap: None,
            blocked: BTreeSet::new(),
        },
    );
    Ok((201, Some(json!({ "subtrader_id": id }))))
}

fn mine<'a>(state: &'a State, call: &Call) -> Vec<&'a Subtrader> {
    state
        .reference
        .subtraders
        .values()
        .filter(|s| s.fcm == call.user())
        .collect()
}

pub(super) fn list(state: &mut State, call: &Call) -> Answer {
    let subtraders: Vec<Value> = mine(state, call)
        .into_iter()
        .map(|s| {
            json!({
                "subtrader_id": s.id, "exchange_indices": [0], "trading_blocked": false,
                "fcm_trading_blocked": false, "propagation_pending": false
            })
        })
        .collect();
    ok(json!({ "subtraders": subtraders }))
}

// ---------------------------------------------------------------------------
// Fills, orders, positions
// ---------------------------------------------------------------------------

fn outcome(side: Side) -> &'static str {
    match side {
        Side::Bid => "yes",
        Side::Ask => "no",
    }
}

/// Every trade one of the caller's subtraders took part in, newest first,
/// with the sides the FCM owns filled in.
pub(super) fn fills(state: &mut State, call: &Call) -> Answer {
    let (min_ts, max_ts) = (int_param(call, "min_ts")?, int_param(call, "max_ts")?);
    let ids: BTreeSet<String> = mine(state, call).iter().map(|s| s.id.clone()).collect();
    let all = state.engine.fills_since(0);
    let owned = |f: &Fill| ids.contains(&f.owner.user_id);
    let makers: HashMap<&str, &Fill> = all
        .iter()
        .filter(|f| !f.is_taker)
        .map(|f| (f.trade_id.as_str(), f))
        .collect();
    let mut rows = Vec::new();
    // One row per trade, from its taker's side.
    for taker in all.iter().rev().filter(|f| f.is_taker) {
        let maker = makers.get(taker.trade_id.as_str()).copied();
        if !owned(taker) && !maker.is_some_and(owned) {
            continue;
        }
        let seconds = taker.ts_ms / 1000;
        if min_ts.is_some_and(|t| seconds < t) || max_ts.is_some_and(|t| seconds > t) {
            continue;
        }
        let ours = if owned(taker) {
            taker
        } else {
            maker.unwrap_or(taker)
        };
        let mut json = json!({
            "fill_id": ours.fill_id, "exchange_index": 0, "ticker": taker.ticker,
            "taker_outcome_side": outcome(taker.side), "count_fp": count(taker.count),
            "yes_price_dollars": dollars(taker.price), "created_time": rfc3339(taker.ts_ms)
        });
        for (role, fill) in [("taker", Some(taker)), ("maker", maker)] {
            if let Some(fill) = fill.filter(|f| owned(f)) {
                json[format!("{role}_order_id")] = json!(fill.order_id);
                json[format!("{role}_subtrader_id")] = json!(fill.owner.user_id);
                json[format!("{role}_fee_cost")] = json!(dollars(Decimal::ZERO));
            }
        }
        rows.push(json);
    }
    let (page, cursor) = crate::api::paginate_with(rows, call, 100, 1000)?;
    ok(json!({ "fills": page, "cursor": cursor }))
}

/// Every row of a portfolio list read as `user` (all its pages), and the
/// first page's whole body.
fn portfolio(
    state: &mut State,
    call: &Call,
    name: &str,
    user: &str,
    query: &[(&str, &str)],
    key: &str,
) -> Result<(Vec<Value>, Value), ApiErr> {
    let operation = kalshi_gen::Operation::find(name)
        .ok_or_else(|| ApiErr::new(500, "internal", "unknown operation"))?;
    let (mut rows, mut first, mut cursor) = (Vec::new(), None, String::new());
    loop {
        let mut pairs: Vec<(String, String)> = query
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        pairs.push(("limit".to_owned(), "1000".to_owned()));
        if !cursor.is_empty() {
            pairs.push(("cursor".to_owned(), cursor.clone()));
        }
        let read = Call {
            operation,
            user: Some(user.to_owned()),
            params: std::collections::HashMap::new(),
            query: pairs,
            body: None,
            now_ms: call.now_ms,
        };
        let (_, body) = crate::api::dispatch(state, &read)?;
        let mut body = body.unwrap_or_default();
        rows.extend(
            body[key]
                .as_array_mut()
                .map(std::mem::take)
                .unwrap_or_default(),
        );
        let next = body["cursor"].as_str().unwrap_or_default().to_owned();
        first.get_or_insert(body);
        if next.is_empty() || next == cursor {
            break;
        }
        cursor = next;
    }
    Ok((rows, first.unwrap_or_default()))
}

/// The query parameters a portfolio list takes as they are.
fn passed<'a>(call: &'a Call, names: &[&'a str]) -> Vec<(&'a str, &'a str)> {
    names
        .iter()
        .filter_map(|name| call.query(name).map(|v| (*name, v)))
        .collect()
}

pub(super) fn orders(state: &mut State, call: &Call) -> Answer {
    let client_ids: Option<Vec<&str>> = call
        .query("client_order_ids")
        .filter(|c| !c.is_empty())
        .map(|c| {
            c.split(',')
                .map(str::trim)
                .filter(|c| !c.is_empty())
                .collect()
        });
    if client_ids.as_ref().is_some_and(|ids| ids.len() > 100) {
        return Err(invalid("at most 100 client_order_ids"));
    }
    let subtraders: Vec<String> = match call.query("subtrader_id").filter(|s| !s.is_empty()) {
        Some(id) => vec![own(state, call, id, 404)?.id.clone()],
        None if client_ids.is_some() => mine(state, call).iter().map(|s| s.id.clone()).collect(),
        None => {
            return Err(ApiErr::bad_request(
                "missing_parameters",
                "give subtrader_id or client_order_ids",
            ));
        }
    };
    int_param(call, "min_ts")?;
    int_param(call, "max_ts")?;
    if let Some(status) = call.query("status")
        && !["resting", "canceled", "executed"].contains(&status)
    {
        return Err(invalid(&format!("unknown order status {status:?}")));
    }
    call.limit(100, 1000)?;
    let query = passed(
        call,
        &["ticker", "event_ticker", "status", "min_ts", "max_ts"],
    );
    let day_ago = rfc3339(call.now_ms.saturating_sub(86_400_000));
    let mut rows = Vec::new();
    for id in &subtraders {
        let (orders, _) = portfolio(state, call, "get_orders", id, &query, "orders")?;
        rows.extend(orders.into_iter().filter(|o| {
            // Client order ids are searched among the last day's orders.
            client_ids.as_ref().is_none_or(|ids| {
                ids.iter().any(|c| o["client_order_id"] == *c)
                    && o["created_time"]
                        .as_str()
                        .is_some_and(|t| t >= day_ago.as_str())
            })
        }));
    }
    rows.sort_by(|a, b| {
        let key = |o: &Value| (o["created_time"].to_string(), o["order_id"].to_string());
        key(b).cmp(&key(a))
    });
    let (page, cursor) = crate::api::paginate_with(rows, call, 100, 1000)?;
    ok(json!({ "orders": page, "cursor": cursor }))
}

/// Whether a position row has a non-zero value in one of `fields`.
fn counts(state: &State, subtrader: &str, row: &Value, fields: &[&str]) -> bool {
    let nonzero = |field: &str| {
        row[field]
            .as_str()
            .and_then(|v| v.parse::<Decimal>().ok())
            .is_some_and(|v| !v.is_zero())
    };
    fields.iter().any(|field| match *field {
        "position" => nonzero("position_fp"),
        "total_traded" => nonzero("total_traded_dollars"),
        _ => state.engine.orders_of(subtrader).iter().any(|o| {
            o.status == OrderStatus::Resting && row["ticker"].as_str() == Some(o.ticker.as_str())
        }),
    })
}

pub(super) fn positions(state: &mut State, call: &Call) -> Answer {
    let id = own(state, call, subtrader_id(call, false)?, 404)?
        .id
        .clone();
    let fields: Vec<&str> = call
        .query("count_filter")
        .filter(|c| !c.is_empty())
        .map(|c| c.split(',').map(str::trim).collect())
        .unwrap_or_default();
    if let Some(field) = fields
        .iter()
        .find(|f| !["position", "total_traded", "resting_order_count"].contains(f))
    {
        return Err(invalid(&format!("unknown count_filter field {field:?}")));
    }
    call.limit(100, 1000)?;
    let event = call.query("event_ticker").filter(|e| !e.is_empty());
    let query = passed(call, &["ticker", "settlement_status"]);
    let (rows, first) = portfolio(
        state,
        call,
        "get_positions",
        &id,
        &query,
        "market_positions",
    )?;
    let in_event = |ticker: Option<&str>| {
        event.is_none_or(|e| {
            ticker
                .and_then(|t| state.catalog.market(t))
                .is_some_and(|m| m.event_ticker == e)
        })
    };
    let rows: Vec<Value> = rows
        .into_iter()
        .filter(|row| in_event(row["ticker"].as_str()))
        .filter(|row| fields.is_empty() || counts(state, &id, row, &fields))
        .collect();
    let events: Vec<Value> = first["event_positions"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|e| event.is_none_or(|want| e["event_ticker"] == want))
        .cloned()
        .collect();
    let (page, cursor) = crate::api::paginate_with(rows, call, 100, 1000)?;
    ok(json!({ "market_positions": page, "event_positions": events, "cursor": cursor }))
}

// ---------------------------------------------------------------------------
// Daily caps
// ---------------------------------------------------------------------------

/// Hours New York is behind UTC at `at`: 4 in daylight saving time (second
/// Sunday of March, 2:00 local, to first Sunday of November, 2:00 local),
/// 5 otherwise.
fn new_york_offset_hours(at: chrono::DateTime<Utc>) -> i64 {
    let year = at.year();
    let switch = |month, nth, utc_hour| {
        NaiveDate::from_weekday_of_month_opt(year, month, Weekday::Sun, nth)
            .and_then(|d| d.and_hms_opt(utc_hour, 0, 0))
            .map(|t| Utc.from_utc_datetime(&t))
    };
    match (switch(3, 2, 7), switch(11, 1, 6)) {
        (Some(start), Some(end)) if at >= start && at < end => 4,
        _ => 5,
    }
}

/// The New York date of `now_ms` and when that day started (ms).
fn new_york_day(now_ms: i64) -> (String, i64) {
    let now = chrono::DateTime::from_timestamp_millis(now_ms).unwrap_or_default();
    let offset = new_york_offset_hours(now);
    let local = now - chrono::Duration::hours(offset);
    let date = local.date_naive();
    let start = date
        .and_hms_opt(0, 0, 0)
        .map_or(0, |t| t.and_utc().timestamp_millis() + offset * 3_600_000);
    (date.format("%Y-%m-%d").to_string(), start)
}

pub(super) fn daily_cap(state: &mut State, call: &Call) -> Answer {
    let subtrader = own(state, call, subtrader_id(call, false)?, 404)?;
    let limit = subtrader.daily_cap.ok_or_else(|| not_found("daily cap"))?;
    let owner = owner(&subtrader.id);
    let (date, day_start) = new_york_day(call.now_ms);
    // Premium deployed by today's fills, and reserved by resting orders.
    let executed: Decimal = state
        .engine
        .fills_of(&subtrader.id)
        .into_iter()
        .filter(|f| f.ts_ms >= day_start)
        .map(|f| f.side.unit_cost(f.price) * f.count)
        .sum();
    let resting: Decimal = state
        .engine
        .orders_of(&subtrader.id)
        .into_iter()
        .filter(|o| o.status == OrderStatus::Resting && o.owner == owner)
        .map(|o| o.side.unit_cost(o.price) * o.remaining_count)
        .sum();
    ok(json!({
        "subtrader_id": subtrader.id, "limit": dollars(limit),
        "executed_utilization": dollars(executed), "resting_order_utilization": dollars(resting),
        "pending_order_utilization": dollars(Decimal::ZERO), "cap_date": date
    }))
}

pub(super) fn set_daily_cap(state: &mut State, call: &Call) -> Answer {
    let id = own(state, call, subtrader_id(call, true)?, 404)?.id.clone();
    let limit = call.body()["limit"]
        .as_str()
        .and_then(|t| t.parse::<Decimal>().ok())
        .filter(|d| {
            *d >= Decimal::ZERO
                && d.normalize().scale() <= 6
                && *d <= Decimal::from(1_000_000_000_000_i64)
        })
        .ok_or_else(|| invalid("`limit` must be a dollar amount of at least 0"))?;
    if let Some(subtrader) = state.reference.subtraders.get_mut(&id) {
        subtrader.daily_cap = Some(limit);
    }
    ok(json!({}))
}

pub(super) fn delete_daily_cap(state: &mut State, call: &Call) -> Answer {
    let id = own(state, call, subtrader_id(call, false)?, 404)?
        .id
        .clone();
    let subtrader = state
        .reference
        .subtraders
        .get_mut(&id)
        .ok_or_else(|| not_found("subtrader"))?;
    subtrader
        .daily_cap
        .take()
        .ok_or_else(|| not_found("daily cap"))?;
    ok(json!({}))
}

// ---------------------------------------------------------------------------
// Blocked categories
// ---------------------------------------------------------------------------

pub(super) fn blocked_categories(state: &mut State, call: &Call) -> Answer {
    // This read has no 404: an unknown subtrader is not the caller's.
    let subtrader = own(state, call, subtrader_id(call, false)?, 403)?;
    ok(json!({ "categories": subtrader.blocked }))
}

pub(super) fn block_category(state: &mut State, call: &Call) -> Answer {
    let id = own(state, call, subtrader_id(call, true)?, 404)?.id.clone();
    let body = call.body();
    let category = body["category"]
        .as_str()
        .filter(|c| (1..=100).contains(&c.chars().count()))
        .ok_or_else(|| invalid("`category` must be 1 to 100 characters"))?
        .to_owned();
    let blocked = body["blocked"]
        .as_bool()
        .ok_or_else(|| ApiErr::bad_request("missing_parameters", "`blocked` is required"))?;
    let subtrader = state
        .reference
        .subtraders
        .get_mut(&id)
        .ok_or_else(|| not_found("subtrader"))?;
    if blocked {
        subtrader.blocked.insert(category);
    } else {
        subtrader.blocked.remove(&category);
    }
    ok(json!({ "categories": subtrader.blocked }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn new_york_days_follow_daylight_saving() {
        let at = |text: &str| {
            chrono::DateTime::parse_from_rfc3339(text)
                .unwrap()
                .timestamp_millis()
        };
        // 03:00 UTC on Dec 2 is still Dec 1 in New York (UTC-5).
        let (date, start) = new_york_day(at("2026-12-02T03:00:00Z"));
        assert_eq!(date, "2026-12-01");
        assert_eq!(start, at("2026-12-01T05:00:00Z"));
        // In July, New York is UTC-4.
        let (date, start) = new_york_day(at("2026-07-04T12:00:00Z"));
        assert_eq!(date, "2026-07-04");
        assert_eq!(start, at("2026-07-04T04:00:00Z"));
    }
}
