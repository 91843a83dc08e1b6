//! The endpoints: each operation the simulator implements, as a function
//! from the parsed request to a status and a body shaped like the spec's.

use rust_decimal::Decimal;
use serde_json::{Value, json};

use crate::State;
use crate::engine::{self, Decrease, NewOrder, Order, Owner, Reject, Side};
use crate::http::{Answer, ApiErr, Call};

/// Page size when a list request names none (Kalshi's default).
const DEFAULT_LIMIT: usize = 100;

/// Runs the handler of `call.operation`.
pub(crate) fn dispatch(state: &mut State, call: &Call) -> Answer {
    let handled = crate::rfq_batches::dispatch(state, call)
        .or_else(|| crate::transfers::dispatch(state, call))
        .or_else(|| crate::order_groups::dispatch(state, call))
        .or_else(|| crate::market_data::dispatch(state, call))
        .or_else(|| crate::account::dispatch(state, call))
        .or_else(|| crate::communications::dispatch(state, call))
        .or_else(|| crate::catalog::dispatch(state, call))
        .or_else(|| crate::margin::dispatch(state, call));
    if let Some(answer) = handled {
        return answer;
    }
    match call.operation.name {
        "get_exchange_status" => ok(json!({"exchange_active": true, "trading_active": true})),
        "get_user_data_timestamp" => ok(json!({"as_of_time": rfc3339(call.now_ms)})),
        "get_balance" => balance(state, call),
        "get_positions" => positions(state, call),
        "get_fills" => fills(state, call),
        "get_settlements" => settlements(state, call),
        "get_orders" => orders(state, call),
        "get_order" => order(state, call),
        "get_order_queue_positions" => queue_positions(state, call),
        "get_order_queue_position" => queue_position(state, call),
        "create_order_v2" => create(state, call),
        "batch_create_orders_v2" => batch_create(state, call),
        "cancel_order_v2" => cancel(state, call),
        "batch_cancel_orders_v2" => batch_cancel(state, call),
        "cancel_all_orders" => cancel_all(state, call),
        "amend_order_v2" => amend(state, call),
        "decrease_order_v2" => decrease(state, call),
        "get_subaccount_balances" => subaccount_balances(state, call),
        "create_subaccount" => create_subaccount(state, call),
        "get_communications_id" => ok(json!({ "communications_id": comms_id(call.user()) })),
        other => Err(ApiErr::new(
            501,
            NOT_IMPLEMENTED,
            &format!("{other} is not implemented by the simulator"),
        )),
    }
}

/// The error code of an operation without a handler; a test makes sure no
/// operation of the spec answers it.
pub(crate) const NOT_IMPLEMENTED: &str = "not_implemented";

pub(crate) fn ok(body: Value) -> Answer {
    Ok((200, Some(body)))
}

// ---------------------------------------------------------------------------
// Request helpers
// ---------------------------------------------------------------------------

impl Call {
    pub(crate) fn query(&self, name: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    pub(crate) fn param(&self, name: &str) -> &str {
        self.params.get(name).map_or("", String::as_str)
    }

    pub(crate) fn user(&self) -> &str {
        self.user.as_deref().unwrap_or_default()
    }

    pub(crate) fn body(&self) -> &Value {
        self.body.as_ref().unwrap_or(&Value::Null)
    }

    /// `subaccount` from the query: `None` when absent.
    pub(crate) fn query_subaccount(&self) -> Result<Option<u32>, ApiErr> {
        self.query("subaccount").map(parse_subaccount).transpose()
    }

    pub(crate) fn owner(&self, subaccount: Option<u32>) -> Owner {
        Owner {
            user_id: self.user().to_owned(),
            subaccount: subaccount.unwrap_or(0),
        }
    }

    pub(crate) fn limit(&self, default: usize, max: usize) -> Result<usize, ApiErr> {
        match self.query("limit") {
            None => Ok(default),
            Some(text) => text
                .parse::<usize>()
                .ok()
                .filter(|n| (1..=max).contains(n))
                .ok_or_else(|| {
                    ApiErr::bad_request("invalid_parameters", &format!("limit must be 1 to {max}"))
                }),
        }
    }
}

/// `subaccount` from the query of `call`: `None` when absent.
pub(crate) fn query_subaccount(call: &Call) -> Result<Option<u32>, ApiErr> {
    call.query_subaccount()
}

/// The public communications id the simulator gives a user.
pub(crate) fn comms_id(user: &str) -> String {
    format!("comms-{user}")
}

fn parse_subaccount(text: &str) -> Result<u32, ApiErr> {
    text.parse::<u32>()
        .ok()
        .filter(|n| *n <= 63)
        .ok_or_else(|| ApiErr::bad_request("invalid_subaccount", "subaccount must be 0 to 63"))
}

pub(crate) fn body_subaccount(value: &Value) -> Result<Option<u32>, ApiErr> {
    match &value["subaccount"] {
        Value::Null => Ok(None),
        Value::Number(n) => n
            .as_u64()
            .and_then(|n| u32::try_from(n).ok())
            .filter(|n| *n <= 63)
            .map(Some)
            .ok_or_else(|| ApiErr::bad_request("invalid_subaccount", "subaccount must be 0 to 63")),
        _ => Err(ApiErr::bad_request(
            "invalid_subaccount",
            "subaccount must be an integer",
        )),
    }
}

/// The simulator runs one exchange shard: index 0, or -1 (route by ticker)
/// which requires the market ticker.
fn check_exchange_index(index: Option<i64>, market_ticker: Option<&str>) -> Result<(), ApiErr> {
    match (index, market_ticker) {
        (None | Some(0), _) => Ok(()),
        (Some(-1), Some(ticker)) if !ticker.is_empty() => Ok(()),
        (Some(-1), _) => Err(ApiErr::bad_request(
            "missing_market_ticker",
            "exchange_index -1 requires market_ticker",
        )),
        (Some(other), _) => Err(ApiErr::bad_request(
            "invalid_exchange_index",
            &format!("unknown exchange index {other}"),
        )),
    }
}

fn decimal(value: &Value, field: &str) -> Result<Decimal, ApiErr> {
    value[field]
        .as_str()
        .and_then(|s| s.parse::<Decimal>().ok())
        .ok_or_else(|| {
            ApiErr::bad_request(
                "invalid_parameters",
                &format!("`{field}` must be a decimal string"),
            )
        })
}

fn text<'a>(value: &'a Value, field: &str) -> Result<&'a str, ApiErr> {
    value[field]
        .as_str()
        .filter(|s| !s.is_empty())
        .ok_or_else(|| ApiErr::bad_request("missing_parameters", &format!("`{field}` is required")))
}

fn reject(error: Reject) -> ApiErr {
    let status = match error {
        Reject::NotFound => 404,
        Reject::DuplicateClientOrderId => 409,
        _ => 400,
    };
    ApiErr::new(status, error.code(), &error.message())
}

/// One page of `items` from the offset in `cursor`, and the next cursor
/// (empty on the last page). The cursor holds only the offset: filters must
/// be sent again with every page, as on Kalshi.
pub(crate) fn paginate<T>(items: Vec<T>, call: &Call) -> Result<(Vec<T>, String), ApiErr> {
    paginate_with(items, call, DEFAULT_LIMIT, 1000)
}

/// [`paginate`] for a list with its own default and maximum page size.
pub(crate) fn paginate_with<T>(
    items: Vec<T>,
    call: &Call,
    default_limit: usize,
    max_limit: usize,
) -> Result<(Vec<T>, String), ApiErr> {
    let offset = match call.query("cursor").filter(|c| !c.is_empty()) {
        None => 0,
        Some(cursor) => cursor
            .strip_prefix("sim-")
            .and_then(|n| n.parse::<usize>().ok())
            .ok_or_else(|| ApiErr::bad_request("invalid_cursor", "unknown cursor"))?,
    };
    let limit = call.limit(default_limit, max_limit)?;
    let total = items.len();
    let page: Vec<T> = items.into_iter().skip(offset).take(limit).collect();
    let next = if offset + limit < total {
        format!("sim-{}", offset + limit)
    } else {
        String::new()
    };
    Ok((page, next))
}

// ---------------------------------------------------------------------------
// JSON in the spec's shapes
// ---------------------------------------------------------------------------

pub(crate) fn dollars(value: Decimal) -> String {
    let scale = value.scale().max(4) as usize;
    format!("{value:.scale$}")
}

pub(crate) fn count(value: Decimal) -> String {
    format!("{value:.2}")
}

pub(crate) fn rfc3339(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .unwrap_or_default()
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

fn side_words(side: Side) -> (&'static str, &'static str, &'static str) {
    // (book_side, outcome_side, deprecated action on the outcome side)
    match side {
        Side::Bid => ("bid", "yes", "buy"),
        Side::Ask => ("ask", "no", "buy"),
    }
}

fn status_word(status: engine::OrderStatus) -> &'static str {
    match status {
        engine::OrderStatus::Resting => "resting",
        engine::OrderStatus::Canceled => "canceled",
        engine::OrderStatus::Executed => "executed",
    }
}

pub(crate) fn order_json(order: &Order) -> Value {
    let (book_side, outcome_side, action) = side_words(order.side);
    let stp = match order.self_trade_prevention {
        engine::SelfTradePrevention::TakerAtCross => "taker_at_cross",
        engine::SelfTradePrevention::Maker => "maker",
    };
    let mut json = json!({
        "order_id": order.order_id, "user_id": order.owner.user_id, "client_order_id": order.client_order_id,
        "ticker": order.ticker, "side": outcome_side, "action": action,
        "outcome_side": outcome_side, "book_side": book_side, "type": "limit", "status": status_word(order.status),
        "yes_price_dollars": dollars(order.price), "no_price_dollars": dollars(Decimal::ONE - order.price),
        "fill_count_fp": count(order.fill_count), "remaining_count_fp": count(order.remaining_count),
        "initial_count_fp": count(order.initial_count),
        "taker_fill_cost_dollars": dollars(order.taker_fill_cost), "maker_fill_cost_dollars": dollars(order.maker_fill_cost),
        "taker_fees_dollars": dollars(order.taker_fees), "maker_fees_dollars": dollars(order.maker_fees),
        "created_time": rfc3339(order.created_ts_ms), "last_update_time": rfc3339(order.last_update_ts_ms),
        "self_trade_prevention_type": stp, "subaccount_number": order.owner.subaccount, "exchange_index": 0
    });
    if let Some(group) = &order.order_group_id {
        json["order_group_id"] = json!(group);
    }
    if let Some(expiration) = order.expiration_ts {
        json["expiration_time"] = json!(rfc3339(expiration.saturating_mul(1000)));
    }
    json
}

pub(crate) fn fill_json(fill: &engine::Fill) -> Value {
    let (book_side, outcome_side, action) = side_words(fill.side);
    json!({
        "fill_id": fill.fill_id, "trade_id": fill.trade_id, "order_id": fill.order_id, "exchange_index": 0,
        "ticker": fill.ticker, "market_ticker": fill.ticker, "side": outcome_side, "action": action,
        "outcome_side": outcome_side, "book_side": book_side, "count_fp": count(fill.count),
        "yes_price_dollars": dollars(fill.price), "no_price_dollars": dollars(Decimal::ONE - fill.price),
        "is_taker": fill.is_taker, "fee_cost": dollars(fill.fee), "created_time": rfc3339(fill.ts_ms),
        "ts": fill.ts_ms / 1000, "subaccount_number": fill.owner.subaccount
    })
}

// ---------------------------------------------------------------------------
// Portfolio
// ---------------------------------------------------------------------------

fn balance(state: &State, call: &Call) -> Answer {
    let owner = call.owner(call.query_subaccount()?);
    // Kalshi's `balance` is what can be spent: cash not held by resting orders.
    let balance = state.engine.available(&owner);
    let cents = whole_cents(balance);
    ok(json!({
        "balance": cents, "balance_dollars": dollars(balance), "portfolio_value": cents,
        "updated_ts": call.now_ms / 1000
    }))
}

fn positions(state: &State, call: &Call) -> Answer {
    let owner = call.owner(call.query_subaccount()?);
    let ticker = call.query("ticker");
    let event = call.query("event_ticker");
    // Kalshi's default is the unsettled positions only.
    let wanted = match call.query("settlement_status").unwrap_or("unsettled") {
        "all" => None,
        "settled" => Some(true),
        "unsettled" => Some(false),
        other => {
            return Err(ApiErr::bad_request(
                "invalid_parameters",
                &format!("settlement_status {other:?} is not all, settled or unsettled"),
            ));
        }
    };
    let (need_position, need_traded) = count_filter(call)?;
    let shard = exchange_filter(call)?;
    let rows: Vec<(String, Decimal, Decimal, Decimal)> = state
        .engine
        .positions(&owner)
        .into_iter()
        .filter(|_| shard)
        .filter(|(t, _, _, _)| ticker.is_none_or(|want| want == t))
        .filter(|(t, _, _, _)| event.is_none_or(|e| event_of(state, t) == Some(e)))
        .filter(|(_, position, traded, _)| {
            (!need_position || !position.is_zero()) && (!need_traded || !traded.is_zero())
        })
        .filter(|(t, _, _, _)| {
            let settled = matches!(
                state.engine.market_state(t),
                Some(engine::MarketState::Settled(_))
            );
            wanted.is_none_or(|want| want == settled)
        })
        .collect();
    // Per event: the sums of its markets' rows.
    let mut events: std::collections::BTreeMap<&str, [Decimal; 5]> = Default::default();
    for (ticker, _, traded, exposure) in &rows {
        let summary = state.engine.position_summary(&owner, ticker);
        let sums = events
            .entry(event_of(state, ticker).unwrap_or_default())
            .or_default();
        for (sum, value) in sums.iter_mut().zip([
            *traded,
            summary.volume,
            *exposure,
            summary.realized,
            summary.fees_paid,
        ]) {
            *sum += value;
        }
    }
    let event_positions: Vec<Value> = events
        .into_iter()
        .map(|(event, [traded, volume, exposure, realized, fees])| {
            json!({
                "event_ticker": event, "total_cost_dollars": dollars(traded),
                "total_cost_shares_fp": count(volume), "event_exposure_dollars": dollars(exposure),
                "realized_pnl_dollars": dollars(realized), "fees_paid_dollars": dollars(fees)
            })
        })
        .collect();
    let market_positions: Vec<Value> = rows
        .into_iter()
        .map(|(ticker, position, traded, exposure)| {
            let summary = state.engine.position_summary(&owner, &ticker);
            json!({
                "ticker": ticker, "exchange_index": 0, "total_traded_dollars": dollars(traded),
                "position_fp": count(position), "market_exposure_dollars": dollars(exposure),
                "realized_pnl_dollars": dollars(summary.realized), "fees_paid_dollars": dollars(summary.fees_paid),
                "last_updated_ts": rfc3339(summary.updated_ms)
            })
        })
        .collect();
    let (page, cursor) = paginate(market_positions, call)?;
    ok(json!({ "market_positions": page, "event_positions": event_positions, "cursor": cursor }))
}

/// `count_filter`: (position must be non-zero, total traded must be).
fn count_filter(call: &Call) -> Result<(bool, bool), ApiErr> {
    let mut wanted = (false, false);
    for field in call.query("count_filter").unwrap_or("").split(',') {
        match field.trim() {
            "" => {}
            "position" => wanted.0 = true,
            "total_traded" => wanted.1 = true,
            other => {
                return Err(ApiErr::bad_request(
                    "invalid_parameters",
                    &format!("count_filter {other:?} is not position or total_traded"),
                ));
            }
        }
    }
    Ok(wanted)
}

/// The exchange_index filter of a list: whether the simulator's one
/// shard (0) is wanted.
fn exchange_filter(call: &Call) -> Result<bool, ApiErr> {
    Ok(query_i64(call, "exchange_index")?.is_none_or(|index| index == 0))
}

/// An integer query parameter, refused when it is not one.
fn query_i64(call: &Call, name: &str) -> Result<Option<i64>, ApiErr> {
    call.query(name)
        .map(|text| {
            text.parse::<i64>().map_err(|_| {
                ApiErr::bad_request(
                    "invalid_parameters",
                    &format!("`{name}` must be an integer"),
                )
            })
        })
        .transpose()
}

/// `min_ts` and `max_ts` (Unix seconds): whether `ms` lies between them.
fn in_time_range(call: &Call) -> Result<impl Fn(i64) -> bool, ApiErr> {
    let (min, max) = (query_i64(call, "min_ts")?, query_i64(call, "max_ts")?);
    Ok(move |ms: i64| {
        let seconds = ms.div_euclid(1000);
        min.is_none_or(|t| seconds >= t) && max.is_none_or(|t| seconds <= t)
    })
}

/// The event of a listed market.
fn event_of<'a>(state: &'a State, ticker: &str) -> Option<&'a str> {
    state
        .catalog
        .market(ticker)
        .map(|m| m.event_ticker.as_str())
}

/// Dollars as whole cents (the legacy integer fields), truncated.
fn whole_cents(value: Decimal) -> i64 {
    value
        .checked_mul(Decimal::ONE_HUNDRED)
        .and_then(|cents| i64::try_from(cents.trunc()).ok())
        .unwrap_or(if value.is_sign_negative() {
            i64::MIN
        } else {
            i64::MAX
        })
}

fn fills(state: &State, call: &Call) -> Answer {
    let subaccount = call.query_subaccount()?;
    // A comma-separated list of markets (at most 100).
    let tickers: Option<Vec<&str>> = call.query("ticker").map(|t| t.split(',').collect());
    if tickers.as_ref().is_some_and(|t| t.len() > 100) {
        return Err(ApiErr::bad_request(
            "invalid_parameters",
            "ticker takes at most 100 markets",
        ));
    }
    let order_id = call.query("order_id");
    let in_range = in_time_range(call)?;
    let shard = exchange_filter(call)?;
    let fills: Vec<Value> = state
        .engine
        .fills_of(call.user())
        .into_iter()
        // Older fills live in the historical tier only.
        .filter(|f| !crate::market_data::history::is_archived_fill(f, call.now_ms))
        .filter(|_| shard)
        .filter(|f| subaccount.is_none_or(|s| s == f.owner.subaccount))
        .filter(|f| {
            tickers
                .as_ref()
                .is_none_or(|t| t.contains(&f.ticker.as_str()))
        })
        .filter(|f| order_id.is_none_or(|o| o == f.order_id))
        .filter(|f| in_range(f.ts_ms))
        .map(fill_json)
        .collect();
    let (page, cursor) = paginate(fills, call)?;
    ok(json!({ "fills": page, "cursor": cursor }))
}

/// The user's settlements, newest first: what each settled position paid,
/// what it had cost and the fees paid trading the market.
fn settlements(state: &State, call: &Call) -> Answer {
    let subaccount = call.query_subaccount()?;
    let ticker = call.query("ticker");
    let event = call.query("event_ticker");
    let in_range = in_time_range(call)?;
    let rows: Vec<Value> = state
        .engine
        .settlements_of(call.user())
        .into_iter()
        .rev()
        .filter(|s| subaccount.is_none_or(|n| n == s.owner.subaccount))
        .filter(|s| ticker.is_none_or(|t| t == s.ticker))
        .filter(|s| event.is_none_or(|e| event_of(state, &s.ticker) == Some(e)))
        .filter(|s| in_range(s.ts_ms))
        .map(|s| settlement_json(state, s))
        .collect();
    let (page, cursor) = paginate(rows, call)?;
    ok(json!({ "settlements": page, "cursor": cursor }))
}

fn settlement_json(state: &State, settlement: &engine::Settlement) -> Value {
    let (result, value) = match settlement.result {
        engine::Outcome::Yes => ("yes", 100),
        engine::Outcome::No => ("no", 0),
    };
    // The cost basis is the open position's: YES or NO, never both.
    let cost_of = |held: Decimal| {
        if held.is_zero() {
            Decimal::ZERO
        } else {
            settlement.cost
        }
    };
    json!({
        "ticker": settlement.ticker, "exchange_index": 0,
        "event_ticker": event_of(state, &settlement.ticker).unwrap_or_default(),
        "market_result": result, "value": value,
        "yes_count_fp": count(settlement.yes_count), "yes_total_cost_dollars": dollars(cost_of(settlement.yes_count)),
        "no_count_fp": count(settlement.no_count), "no_total_cost_dollars": dollars(cost_of(settlement.no_count)),
        "revenue": whole_cents(settlement.revenue), "fee_cost": dollars(settlement.fee_cost),
        "settled_time": rfc3339(settlement.ts_ms)
    })
}

/// Numbers the next subaccount, 1 to 63.
fn create_subaccount(state: &mut State, call: &Call) -> Answer {
    let numbers = state
        .subaccounts
        .entry(call.user().to_owned())
        .or_insert_with(|| vec![0]);
    let next = numbers.iter().max().map_or(1, |n| n + 1);
    if next > 63 {
        return Err(ApiErr::bad_request(
            "subaccount_limit_reached",
            "an account has at most 63 subaccounts",
        ));
    }
    numbers.push(next);
    Ok((201, Some(json!({ "subaccount_number": next }))))
}

fn subaccount_balances(state: &State, call: &Call) -> Answer {
    // Set only for a key restricted to one subaccount (see `authorize`).
    let locked = call.query_subaccount()?;
    let numbers: Vec<u32> = state
        .subaccounts
        .get(call.user())
        .cloned()
        .unwrap_or_else(|| vec![0])
        .into_iter()
        .filter(|n| locked.is_none_or(|locked| locked == *n))
        .collect();
    let balances: Vec<Value> = numbers
        .iter()
        .map(|n| {
            let balance = state.engine.balance(&call.owner(Some(*n)));
            json!({"subaccount_number": n, "exchange_index": 0, "balance": dollars(balance), "updated_ts": call.now_ms / 1000})
        })
        .collect();
    ok(json!({ "subaccount_balances": balances }))
}

// ---------------------------------------------------------------------------
// Orders: reads
// ---------------------------------------------------------------------------

fn orders(state: &State, call: &Call) -> Answer {
    let subaccount = call.query_subaccount()?;
    let ticker = call.query("ticker");
    // A comma-separated list of events (at most 100).
    let events: Option<Vec<&str>> = call.query("event_ticker").map(|e| e.split(',').collect());
    if events.as_ref().is_some_and(|e| e.len() > 100) {
        return Err(ApiErr::bad_request(
            "invalid_parameters",
            "event_ticker takes at most 100 events",
        ));
    }
    let status = call.query("status");
    let in_range = in_time_range(call)?;
    let shard = exchange_filter(call)?;
    let orders: Vec<Value> = state
        .engine
        .orders_of(call.user())
        .into_iter()
        // Orders done before the cutoff live in the historical tier only.
        .filter(|o| !crate::market_data::history::is_archived_order(o, call.now_ms))
        .filter(|_| shard)
        .filter(|o| subaccount.is_none_or(|s| s == o.owner.subaccount))
        .filter(|o| ticker.is_none_or(|t| t == o.ticker))
        .filter(|o| {
            events.as_ref().is_none_or(|wanted| {
                event_of(state, &o.ticker).is_some_and(|e| wanted.contains(&e))
            })
        })
        .filter(|o| status.is_none_or(|s| s == status_word(o.status)))
        .filter(|o| in_range(o.created_ts_ms))
        .map(order_json)
        .collect();
    let (page, cursor) = paginate(orders, call)?;
    ok(json!({ "orders": page, "cursor": cursor }))
}

fn own_order<'a>(state: &'a State, call: &Call) -> Result<&'a Order, ApiErr> {
    state
        .engine
        .order(call.param("order_id"))
        .filter(|o| o.owner.user_id == call.user())
        .ok_or_else(|| ApiErr::new(404, "not_found", "order not found"))
}

fn order(state: &State, call: &Call) -> Answer {
    ok(json!({ "order": order_json(own_order(state, call)?) }))
}

fn queue_position(state: &State, call: &Call) -> Answer {
    let order = own_order(state, call)?;
    let position = state
        .engine
        .queue_position(&order.order_id)
        .ok_or_else(|| ApiErr::bad_request("order_not_resting", "the order is not resting"))?;
    ok(json!({ "queue_position_fp": count(position) }))
}

fn queue_positions(state: &State, call: &Call) -> Answer {
    let subaccount = call.query_subaccount()?;
    let markets: Option<Vec<&str>> = call.query("market_tickers").map(|t| t.split(',').collect());
    let event = call.query("event_ticker");
    if markets.is_none() && event.is_none() {
        return Err(ApiErr::bad_request(
            "missing_parameters",
            "market_tickers or event_ticker is required",
        ));
    }
    let positions: Vec<Value> = state
        .engine
        .orders_of(call.user())
        .into_iter()
        .filter(|o| o.status == engine::OrderStatus::Resting)
        .filter(|o| subaccount.is_none_or(|s| s == o.owner.subaccount))
        .filter(|o| markets.as_ref().is_none_or(|m| m.contains(&o.ticker.as_str())))
        .filter(|o| event.is_none_or(|e| state.catalog.market(&o.ticker).is_some_and(|m| m.event_ticker == e)))
        .filter_map(|o| {
            let position = state.engine.queue_position(&o.order_id)?;
            Some(json!({"order_id": o.order_id, "market_ticker": o.ticker, "queue_position_fp": count(position)}))
        })
        .collect();
    ok(json!({ "queue_positions": positions }))
}

// ---------------------------------------------------------------------------
// Orders: writes
// ---------------------------------------------------------------------------

/// The V2 `side`: a side of the YES book.
fn book_side(body: &Value) -> Result<Side, ApiErr> {
    match text(body, "side")? {
        "bid" => Ok(Side::Bid),
        "ask" => Ok(Side::Ask),
        other => Err(ApiErr::bad_request(
            "invalid_parameters",
            &format!("side {other:?} is not bid or ask"),
        )),
    }
}

/// Reads a V2 create body into an engine order, refusing what the spec
/// forbids: an expiration with `immediate_or_cancel` or `fill_or_kill`
/// (an expiring order is `good_till_canceled` with `expiration_time`), and
/// `reduce_only` unless `immediate_or_cancel`.
fn new_order(user: &str, body: &Value) -> Result<NewOrder, ApiErr> {
    let side = book_side(body)?;
    let time_in_force = match body["time_in_force"]
        .as_str()
        .unwrap_or("good_till_canceled")
    {
        "good_till_canceled" => engine::TimeInForce::GoodTillCanceled,
        "immediate_or_cancel" => engine::TimeInForce::ImmediateOrCancel,
        "fill_or_kill" => engine::TimeInForce::FillOrKill,
        other => {
            return Err(ApiErr::bad_request(
                "invalid_parameters",
                &format!("time_in_force {other:?}"),
            ));
        }
    };
    let self_trade_prevention = match text(body, "self_trade_prevention_type")? {
        "taker_at_cross" => engine::SelfTradePrevention::TakerAtCross,
        "maker" => engine::SelfTradePrevention::Maker,
        other => {
            return Err(ApiErr::bad_request(
                "invalid_parameters",
                &format!("self_trade_prevention_type {other:?}"),
            ));
        }
    };
    let ticker = text(body, "ticker")?;
    check_exchange_index(body["exchange_index"].as_i64(), Some(ticker))?;
    let expiration_ts = expiration(body)?.filter(|ts| *ts != 0);
    if expiration_ts.is_some() && time_in_force != engine::TimeInForce::GoodTillCanceled {
        return Err(ApiErr::bad_request(
            "invalid_parameters",
            "expiration_time needs time_in_force good_till_canceled",
        ));
    }
    let reduce_only = flag(body, "reduce_only")?;
    if reduce_only && time_in_force != engine::TimeInForce::ImmediateOrCancel {
        return Err(ApiErr::bad_request(
            "invalid_parameters",
            "reduce_only orders must be immediate_or_cancel",
        ));
    }
    flag(body, "cancel_order_on_pause")?;
    Ok(NewOrder {
        owner: Owner {
            user_id: user.to_owned(),
            subaccount: body_subaccount(body)?.unwrap_or(0),
        },
        ticker: ticker.to_owned(),
        side,
        price: decimal(body, "price")?,
        count: decimal(body, "count")?,
        client_order_id: optional_text(body, "client_order_id")?
            .map_or_else(|| uuid::Uuid::new_v4().to_string(), str::to_owned),
        time_in_force,
        self_trade_prevention,
        post_only: flag(body, "post_only")?,
        reduce_only,
        order_group_id: optional_text(body, "order_group_id")?
            .filter(|id| !id.is_empty())
            .map(str::to_owned),
        expiration_ts,
    })
}

/// The latest expiration accepted (9999-12-31T23:59:59Z): every one has a
/// date, and none comes near overflowing when turned into milliseconds.
const MAX_EXPIRATION_S: i64 = 253_402_300_799;

/// `expiration_time` (Unix seconds, 0 meaning none) when given.
fn expiration(body: &Value) -> Result<Option<i64>, ApiErr> {
    match &body["expiration_time"] {
        Value::Null => Ok(None),
        value => value
            .as_i64()
            .filter(|ts| (0..=MAX_EXPIRATION_S).contains(ts))
            .map(Some)
            .ok_or_else(|| {
                ApiErr::bad_request(
                    "invalid_parameters",
                    &format!("expiration_time must be Unix seconds from 0 to {MAX_EXPIRATION_S}"),
                )
            }),
    }
}

/// A boolean body field, false when absent.
fn flag(body: &Value, field: &str) -> Result<bool, ApiErr> {
    match &body[field] {
        Value::Null => Ok(false),
        Value::Bool(on) => Ok(*on),
        _ => Err(ApiErr::bad_request(
            "invalid_parameters",
            &format!("`{field}` must be a boolean"),
        )),
    }
}

/// A string body field when given.
fn optional_text<'a>(body: &'a Value, field: &str) -> Result<Option<&'a str>, ApiErr> {
    match &body[field] {
        Value::Null => Ok(None),
        Value::String(text) => Ok(Some(text)),
        _ => Err(ApiErr::bad_request(
            "invalid_parameters",
            &format!("`{field}` must be a string"),
        )),
    }
}

/// The fees Kalshi charges in a market: its series' `fee_type` and
/// `fee_multiplier` as the API reports them, or its event's
/// `fee_type_override` (with `fee_multiplier_override`) when it has one, so
/// what a bot reads is what it pays; free for a market without a readable
/// schedule. The simulator sets it on the engine when it lists a market.
pub(crate) fn fee_schedule(catalog: &crate::seed::Catalog, ticker: &str) -> engine::FeeSchedule {
    let Some(market) = catalog.market(ticker) else {
        return engine::FeeSchedule::FREE;
    };
    let series = catalog
        .series_json(&market.series_ticker)
        .unwrap_or_default();
    let event = catalog.event_json(&market.event_ticker).unwrap_or_default();
    let (fee_type, multiplier) = match event["fee_type_override"].as_str() {
        Some(fee_type) => (Some(fee_type), &event["fee_multiplier_override"]),
        None => (series["fee_type"].as_str(), &series["fee_multiplier"]),
    };
    fee_type
        .zip(multiplier.as_f64())
        .and_then(|(fee_type, multiplier)| {
            let multiplier = Decimal::try_from(multiplier).ok()?.round_dp(6);
            engine::FeeSchedule::kalshi(fee_type, multiplier)
        })
        .unwrap_or(engine::FeeSchedule::FREE)
}

/// The create response: what filled now and what rests.
fn placed_json(placed: &engine::Placed) -> Value {
    let order = &placed.order;
    let own: Vec<&engine::Fill> = placed
        .fills
        .iter()
        .filter(|f| f.order_id == order.order_id)
        .collect();
    let filled: Decimal = own.iter().map(|f| f.count).sum();
    let mut json = json!({
        "order_id": order.order_id, "client_order_id": order.client_order_id,
        "fill_count": count(order.fill_count), "remaining_count": count(order.remaining_count), "ts_ms": order.last_update_ts_ms
    });
    if filled > Decimal::ZERO {
        let cost: Decimal = own.iter().map(|f| f.price * f.count).sum();
        let fees: Decimal = own.iter().map(|f| f.fee).sum();
        json["average_fill_price"] = json!(dollars((cost / filled).round_dp(4)));
        json["average_fee_paid"] = json!(dollars((fees / filled).round_dp(4)));
    }
    json
}

fn create(state: &mut State, call: &Call) -> Answer {
    let order = new_order(call.user(), call.body())?;
    let placed = state.engine.place(order).map_err(reject)?;
    Ok((201, Some(placed_json(&placed))))
}

fn batch_create(state: &mut State, call: &Call) -> Answer {
    let orders = call.body()["orders"]
        .as_array()
        .ok_or_else(|| ApiErr::bad_request("missing_parameters", "`orders` is required"))?;
    let entries: Vec<Value> = orders
        .iter()
        .map(|body| {
            // Echoed only when it is a string: the response schema allows
            // nothing else, whatever the request sent.
            let client_order_id = body["client_order_id"]
                .as_str()
                .map_or(Value::Null, |id| Value::String(id.to_owned()));
            match new_order(call.user(), body).and_then(|o| state.engine.place(o).map_err(reject)) {
                Ok(placed) => placed_json(&placed),
                Err(error) => json!({
                    "client_order_id": client_order_id,
                    "error": {"code": error.code, "message": error.message}
                }),
            }
        })
        .collect();
    Ok((201, Some(json!({ "orders": entries }))))
}

fn cancel_json(order: &Order, reduced_by: Decimal, now_ms: i64) -> Value {
    json!({"order_id": order.order_id, "client_order_id": order.client_order_id, "reduced_by": count(reduced_by), "ts_ms": now_ms})
}

fn cancel(state: &mut State, call: &Call) -> Answer {
    let index = call
        .query("exchange_index")
        .map(|i| i.parse::<i64>().unwrap_or(i64::MIN));
    check_exchange_index(index, call.query("market_ticker"))?;
    let owner = call.owner(call.query_subaccount()?);
    let (order, reduced_by) = state
        .engine
        .cancel(&owner, call.param("order_id"))
        .map_err(reject)?;
    ok(cancel_json(&order, reduced_by, call.now_ms))
}

fn batch_cancel(state: &mut State, call: &Call) -> Answer {
    let orders = call.body()["orders"]
        .as_array()
        .ok_or_else(|| ApiErr::bad_request("missing_parameters", "`orders` is required"))?;
    let mut entries = Vec::with_capacity(orders.len());
    for entry in orders {
        let order_id = text(entry, "order_id")?;
        check_exchange_index(
            entry["exchange_index"].as_i64(),
            entry["market_ticker"].as_str(),
        )?;
        let owner = call.owner(body_subaccount(entry)?);
        entries.push(match state.engine.cancel(&owner, order_id) {
            Ok((order, reduced_by)) => cancel_json(&order, reduced_by, call.now_ms),
            Err(error) => {
                let error = reject(error);
                json!({"order_id": order_id, "reduced_by": "0.00", "error": {"code": error.code, "message": error.message}})
            }
        });
    }
    ok(json!({ "orders": entries }))
}

fn cancel_all(state: &mut State, call: &Call) -> Answer {
    let subaccount = call.query_subaccount()?;
    state.engine.cancel_all(call.user(), subaccount);
    Ok((204, None))
}

/// Amends price and total count, and the expiration (`expiration_time`:
/// absent keeps it, 0 removes it) and client order id
/// (`updated_client_order_id`) when given.
fn amend(state: &mut State, call: &Call) -> Answer {
    let body = call.body();
    check_exchange_index(body["exchange_index"].as_i64(), body["ticker"].as_str())?;
    let owner = call.owner(call.query_subaccount()?);
    let order_id = call.param("order_id");
    let existing = state
        .engine
        .order(order_id)
        .filter(|o| o.owner == owner)
        .ok_or_else(|| reject(Reject::NotFound))?;
    if existing.ticker != text(body, "ticker")? {
        return Err(ApiErr::bad_request(
            "invalid_amend",
            "the ticker does not match the order",
        ));
    }
    if optional_text(body, "client_order_id")?.is_some_and(|id| id != existing.client_order_id) {
        return Err(ApiErr::bad_request(
            "invalid_amend",
            "client_order_id does not match the order",
        ));
    }
    let change = engine::Amend {
        side: book_side(body)?,
        price: decimal(body, "price")?,
        count: decimal(body, "count")?,
        expiration_ts: expiration(body)?.map(|ts| Some(ts).filter(|ts| *ts != 0)),
        client_order_id: optional_text(body, "updated_client_order_id")?
            .filter(|id| !id.is_empty())
            .map(str::to_owned),
    };
    let placed = state
        .engine
        .amend_order(&owner, order_id, change)
        .map_err(reject)?;
    ok(placed_json(&placed))
}

fn decrease(state: &mut State, call: &Call) -> Answer {
    let body = call.body();
    check_exchange_index(
        body["exchange_index"].as_i64(),
        body["market_ticker"].as_str(),
    )?;
    let by = body.get("reduce_by").filter(|v| !v.is_null());
    let to = body.get("reduce_to").filter(|v| !v.is_null());
    let decrease = match (by, to) {
        (Some(_), None) => Decrease::By(decimal(body, "reduce_by")?),
        (None, Some(_)) => Decrease::To(decimal(body, "reduce_to")?),
        _ => {
            return Err(ApiErr::bad_request(
                "invalid_parameters",
                "exactly one of reduce_by and reduce_to is required",
            ));
        }
    };
    let owner = call.owner(call.query_subaccount()?);
    let order = state
        .engine
        .decrease(&owner, call.param("order_id"), decrease)
        .map_err(reject)?;
    ok(json!({
        "order_id": order.order_id, "client_order_id": order.client_order_id,
        "remaining_count": count(order.remaining_count), "ts_ms": call.now_ms
    }))
}
