//! The test controls over HTTP, for clients in any language.
//!
//! Enabled with [`SimConfig::control_api`](crate::SimConfig::control_api)
//! (the `kalshi-sim` binary turns it on) and answered only to loopback
//! peers, whatever address the simulator listens on. Requests and answers
//! are JSON; errors have Kalshi's error body shape. None of it is signed:
//! it is the test harness, not a trader.
//!
//! | request | body | effect |
//! |---|---|---|
//! | `GET /_sim/health` | | `{"ok": true, "now_ms": ...}` |
//! | `POST /_sim/accounts` | `{"user_id", "key_id", "public_key_pem", "balance_dollars"?}` | accepts a key (RSA or Ed25519 SPKI PEM) and funds the account ($10,000 unless given) |
//! | `POST /_sim/deposit` | `{"user_id", "subaccount"?, "amount_dollars"}` | adds cash (negative: withdraws) |
//! | `POST /_sim/events` | `{"ticker", "series_ticker", "title"}` | lists an event (and its series) |
//! | `POST /_sim/markets` | `{"ticker", "event_ticker", "title"}` | lists a market and opens its book |
//! | `POST /_sim/market_state` | `{"ticker", "state": "open" \| "closed" \| "settled_yes" \| "settled_no"}` | opens, closes or settles a market |
//! | `POST /_sim/clock/advance` | `{"ms"}` | moves the exchange clock forward |
//! | `POST /_sim/faults` | `{"fault", "times"?, "status"?, "delay_ms"?, "path"?}` | queues a fault for the next requests (only those whose path ends with `path`, when given) |
//! | `DELETE /_sim/faults` | | drops the faults not yet applied (`{"cleared": n}`) |
//! | `GET /_sim/journal` | | every request received, in order |
//! | `GET /_sim/audit` | | the money (`deposited`, `cash`, `open_interest`, `fees`, dollars), 429s of the rate limits by key (`rate_limited`) and the latest 1,000 one by one (`refusals`: `at_ms`, `key`, `method`, `path`, and `early_ms`, how early it came: the refill time of the tokens its bucket, replayed in order of arrival, lacked), and every `(user_id, client_order_id)` with its number of orders |
//! | `GET /_sim/ledger` | | the money alone (`deposited`, `cash`, `open_interest`, `fees`), without the audit's list of every order |
//! | `GET /_sim/stream_sessions` | | `{"sessions": [ids]}`, the open WebSocket sessions |
//! | `POST /_sim/stream_faults` | `{"fault", "session"?, "ms"?}` | a stream fault for one session or all (`{"applied": n}`) |
//! | `POST /_sim/subscription_refusals` | `{"times", "code"}` | refuses the next `times` subscriptions with error `code` (default 10), on sessions open now or later |
//! | `POST /_sim/margin/mark` | `{"ticker", "price"}` | sets a margin market's mark price (exit triggers watch it) |
//! | `POST /_sim/margin/funding` | `{"ticker", "rate"}` | applies one funding payment at the mark (`{"paid": n}` positions) |
//!
//! Faults: `status` (answers `status` without executing), `rate_limited`,
//! `drop_connection`, `delay` (`delay_ms`, then executes), `lose_response`,
//! `truncated_body`, `malformed_json`, `no_content` (the last four execute
//! the request first).
//!
//! Stream faults: `drop_connection`, `skip_seq`, `repeat_seq`, `delay`
//! (`ms`), `silence`, `unknown_message`, `malformed_frame`,
//! `refuse_subscription` (see [`StreamFault`]).

use std::net::SocketAddr;
use std::time::Duration;

use rust_decimal::Decimal;
use serde_json::{Value, json};

use crate::engine::{MarketState, Outcome, Owner};
use crate::http::ApiErr;
use crate::{Account, EventSpec, Fault, MarketSpec, PublicKey, Shared, StreamFault};

/// The path prefix of the control API.
pub const PREFIX: &str = "/_sim/";

/// Answers one control request.
pub(crate) fn handle(
    shared: &Shared,
    peer: SocketAddr,
    method: &str,
    path: &str,
    body: &[u8],
) -> Result<Value, ApiErr> {
    if !shared.control_api {
        return Err(ApiErr::new(404, "not_found", "the control API is off"));
    }
    if !peer.ip().is_loopback() {
        return Err(ApiErr::new(
            403,
            "forbidden",
            "the control API answers loopback peers only",
        ));
    }
    let body: Value = if body.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(body).map_err(|e| {
            ApiErr::bad_request("invalid_json", &format!("the body is not JSON: {e}"))
        })?
    };
    let route = path.strip_prefix(PREFIX).unwrap_or_default();
    match (method, route) {
        ("GET", "health") => Ok(json!({"ok": true, "now_ms": shared.state().clock.now_ms()})),
        ("POST", "accounts") => add_account(shared, &body),
        ("POST", "deposit") => deposit(shared, &body),
        ("POST", "events") => {
            let event = EventSpec::new(
                text(&body, "ticker")?,
                text(&body, "series_ticker")?,
                text(&body, "title")?,
            );
            shared.state().catalog.add_event(event).map_err(refused)?;
            Ok(json!({"ok": true}))
        }
        ("POST", "markets") => {
            let market = MarketSpec::new(
                text(&body, "ticker")?,
                text(&body, "event_ticker")?,
                text(&body, "title")?,
            );
            shared.state().add_market(market).map_err(refused)?;
            Ok(json!({"ok": true}))
        }
        ("POST", "market_state") => market_state(shared, &body),
        ("POST", "clock/advance") => {
            let ms = body["ms"]
                .as_u64()
                .ok_or_else(|| invalid("`ms` must be a non-negative integer"))?;
            let mut state = shared.state();
            state.clock.advance(Duration::from_millis(ms));
            Ok(json!({"now_ms": state.clock.now_ms()}))
        }
        ("GET", "stream_sessions") => Ok(json!({"sessions": shared.sessions.ids()})),
        ("POST", "stream_faults") => {
            let session = body["session"].as_u64();
            let applied = shared.sessions.inject(session, &stream_fault(&body)?);
            Ok(json!({"applied": applied}))
        }
        ("POST", "subscription_refusals") => {
            let times = body["times"]
                .as_u64()
                .filter(|times| *times <= 10_000)
                .ok_or_else(|| invalid("`times` must be 0 to 10000"))?;
            let code = match &body["code"] {
                Value::Null => 10,
                code => code
                    .as_i64()
                    .filter(|code| (1..=1_000).contains(code))
                    .ok_or_else(|| invalid("`code` must be 1 to 1000"))?,
            };
            shared
                .sessions
                .refuse_next(usize::try_from(times).unwrap_or(0), code);
            Ok(json!({"ok": true}))
        }
        ("POST", "faults") => {
            let times = body["times"].as_u64().unwrap_or(1);
            let times = usize::try_from(times.min(10_000)).unwrap_or(1);
            shared
                .faults
                .push(fault(&body)?, times, body["path"].as_str());
            Ok(json!({"ok": true}))
        }
        ("GET", "audit") => Ok(audit(shared)),
        ("GET", "ledger") => Ok(ledger(&shared.state().engine)),
        ("POST", "margin/mark") => margin_mark(shared, &body),
        ("POST", "margin/funding") => margin_funding(shared, &body),
        ("DELETE", "faults") => Ok(json!({"cleared": shared.faults.clear()})),
        ("GET", "journal") => {
            let entries: Vec<Value> = shared
                .faults
                .journal()
                .into_iter()
                .map(|e| {
                    json!({"method": e.method, "path": e.path, "query": e.query,
                           "status": e.status, "fault": e.fault.map(|f| format!("{f:?}"))})
                })
                .collect();
            Ok(json!({"journal": entries}))
        }
        _ => Err(ApiErr::new(404, "not_found", "no such control endpoint")),
    }
}

/// The money: what a soak checks after every settlement. Cheap, unlike
/// the audit, whose list of every order holds the exchange's state locked
/// for tens of milliseconds once it has tens of thousands.
fn ledger(engine: &crate::engine::Engine) -> Value {
    let ledger = engine.ledger();
    json!({
        "deposited": ledger.deposited.to_string(),
        "cash": ledger.cash.to_string(),
        "open_interest": ledger.open_interest.to_string(),
        "fees": ledger.fees.to_string(),
    })
}

/// What a soak checks its invariants against: the exchange's own figures.
fn audit(shared: &Shared) -> Value {
    let state = shared.state();
    let mut audit = ledger(&state.engine);
    let ids = state.engine.client_order_ids();
    drop(state);
    let orders: Vec<Value> = ids
        .into_iter()
        .map(|((user, id), count)| json!([user, id, count]))
        .collect();
    let rate_limited = shared
        .limits
        .as_ref()
        .map(|limits| limits.refusals())
        .unwrap_or_default();
    let refusals = shared
        .limits
        .as_ref()
        .map(|limits| limits.refusal_log())
        .unwrap_or_default();
    audit["rate_limited"] = json!(rate_limited);
    audit["refusals"] = json!(refusals);
    audit["orders"] = json!(orders);
    audit
}

fn text<'a>(body: &'a Value, field: &str) -> Result<&'a str, ApiErr> {
    body[field]
        .as_str()
        .filter(|s| !s.is_empty())
        .ok_or_else(|| invalid(&format!("`{field}` is required")))
}

fn dollars(body: &Value, field: &str) -> Result<Option<Decimal>, ApiErr> {
    match &body[field] {
        Value::Null => Ok(None),
        Value::String(text) => text
            .parse::<Decimal>()
            .map(Some)
            .map_err(|_| invalid(&format!("`{field}` must be a decimal string"))),
        _ => Err(invalid(&format!("`{field}` must be a decimal string"))),
    }
}

fn invalid(message: &str) -> ApiErr {
    ApiErr::bad_request("invalid_parameters", message)
}

fn refused(message: String) -> ApiErr {
    ApiErr::bad_request("refused", &message)
}

fn margin_mark(shared: &Shared, body: &Value) -> Result<Value, ApiErr> {
    let price = dollars(body, "price")?.ok_or_else(|| invalid("`price` is required"))?;
    let ticker = text(body, "ticker")?;
    shared
        .state()
        .set_margin_mark(ticker, price)
        .map_err(refused)?;
    Ok(json!({"ok": true}))
}

fn margin_funding(shared: &Shared, body: &Value) -> Result<Value, ApiErr> {
    let rate = dollars(body, "rate")?.ok_or_else(|| invalid("`rate` is required"))?;
    let ticker = text(body, "ticker")?;
    let paid = shared
        .state()
        .apply_margin_funding(ticker, rate)
        .map_err(refused)?;
    Ok(json!({"paid": paid}))
}

fn add_account(shared: &Shared, body: &Value) -> Result<Value, ApiErr> {
    let public_key = PublicKey::from_pem(text(body, "public_key_pem")?).map_err(refused)?;
    let mut account =
        Account::with_public_key(text(body, "user_id")?, text(body, "key_id")?, public_key);
    if let Some(balance) = dollars(body, "balance_dollars")? {
        account = account.balance(balance);
    }
    shared.state().add_account(&account);
    Ok(json!({"ok": true}))
}

fn deposit(shared: &Shared, body: &Value) -> Result<Value, ApiErr> {
    let amount =
        dollars(body, "amount_dollars")?.ok_or_else(|| invalid("`amount_dollars` is required"))?;
    let subaccount = match body["subaccount"].as_u64() {
        None => 0,
        Some(n) if n <= 63 => u32::try_from(n).unwrap_or(0),
        Some(_) => return Err(invalid("`subaccount` must be 0 to 63")),
    };
    let owner = Owner {
        user_id: text(body, "user_id")?.to_owned(),
        subaccount,
    };
    let mut state = shared.state();
    state.engine.deposit(&owner, amount);
    let now = state.clock.now_ms();
    state.account.record_funding(&owner.user_id, amount, now);
    let numbers = state
        .subaccounts
        .entry(owner.user_id.clone())
        .or_insert_with(|| vec![0]);
    if !numbers.contains(&subaccount) {
        numbers.push(subaccount);
    }
    Ok(json!({"balance_dollars": state.engine.balance(&owner).to_string()}))
}

fn market_state(shared: &Shared, body: &Value) -> Result<Value, ApiErr> {
    let state = match text(body, "state")? {
        "open" => MarketState::Open,
        "closed" => MarketState::Closed,
        "settled_yes" => MarketState::Settled(Outcome::Yes),
        "settled_no" => MarketState::Settled(Outcome::No),
        other => return Err(invalid(&format!("unknown state {other:?}"))),
    };
    let mut guard = shared.state();
    let changed = guard.engine.set_market_state(text(body, "ticker")?, state);
    guard.publish();
    changed.map_err(|e| refused(e.message()))?;
    Ok(json!({"ok": true}))
}

fn stream_fault(body: &Value) -> Result<StreamFault, ApiErr> {
    Ok(match text(body, "fault")? {
        "drop_connection" => StreamFault::DropConnection,
        "skip_seq" => StreamFault::SkipSeq,
        "repeat_seq" => StreamFault::RepeatSeq,
        "delay" => StreamFault::Delay(Duration::from_millis(
            body["ms"]
                .as_u64()
                .ok_or_else(|| invalid("`ms` must be a non-negative integer"))?,
        )),
        "silence" => StreamFault::Silence,
        "unknown_message" => StreamFault::UnknownMessage,
        "malformed_frame" => StreamFault::MalformedFrame,
        "refuse_subscription" => StreamFault::RefuseSubscription,
        other => return Err(invalid(&format!("unknown stream fault {other:?}"))),
    })
}

fn fault(body: &Value) -> Result<Fault, ApiErr> {
    Ok(match text(body, "fault")? {
        "status" => {
            let status = body["status"]
                .as_u64()
                .and_then(|s| u16::try_from(s).ok())
                .filter(|s| (400..=599).contains(s))
                .ok_or_else(|| invalid("`status` must be 400 to 599"))?;
            Fault::Status(status)
        }
        "rate_limited" => Fault::RateLimited,
        "drop_connection" => Fault::DropConnection,
        "delay" => {
            let ms = body["delay_ms"]
                .as_u64()
                .filter(|ms| *ms <= 600_000)
                .ok_or_else(|| invalid("`delay_ms` must be 0 to 600000"))?;
            Fault::Delay(Duration::from_millis(ms))
        }
        "lose_response" => Fault::LoseResponse,
        "truncated_body" => Fault::TruncatedBody,
        "malformed_json" => Fault::MalformedJson,
        "no_content" => Fault::NoContent,
        other => return Err(invalid(&format!("unknown fault {other:?}"))),
    })
}
