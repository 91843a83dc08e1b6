//! The endpoints: each operation the simulator implements, as a function
//! from the parsed request to a status and a body shaped like the spec's.

use rust_decimal::Decimal;
use serde_json::{Value, json};

use crate::State;
use crate::engine::{self, Decrease, NewOrder, Order, Owner, Reject, Side};
use crate::http::{Answer, ApiErr, Call};
use crate::seed;

/// Page size when a list request names none (Kalshi's default).
const DEFAULT_LIMIT: usize = 100;

/// Runs the handler of `call.operation`.
pub(crate) fn dispatch(state: &mut State, call: &Call) -> Answer {
    let handled = crate::rfq_batches::dispatch(state, call)
        .or_else(|| crate::transfers::dispatch(state, call));
    if let Some(answer) = handled {
        return answer;
    }
    match call.operation.name {
        "get_exchange_status" => ok(json!({"exchange_active": true, "trading_active": true})),
        "get_user_data_timestamp" => ok(json!({"as_of_time": rfc3339(call.now_ms)})),
        "get_series_list" => series_list(state),
        "get_series" => series(state, call),
        "get_events" => events(state, call),
        "get_event" => event(state, call),
        "get_markets" => markets(state, call),
        "get_market" => market(state, call),
        "get_market_orderbook" => orderbook(state, call),
        "get_balance" => balance(state, call),
        "get_positions" => positions(state, call),
        "get_fills" => fills(state, call),
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
            404,
            "not_found",
            &format!("{other} is not implemented by the simulator"),
        )),
    }
}

fn ok(body: Value) -> Answer {
    Ok((200, Some(body)))
}

// ---------------------------------------------------------------------------
// Request helpers
// ---------------------------------------------------------------------------

impl Call {
    fn query(&self, name: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    fn param(&self, name: &str) -> &str {
        self.params.get(name).map_or("", String::as_str)
    }

    fn user(&self) -> &str {
        self.user.as_deref().unwrap_or_default()
    }

    fn body(&self) -> &Value {
        self.body.as_ref().unwrap_or(&Value::Null)
    }

    /// `subaccount` from the query: `None` when absent.
    fn query_subaccount(&self) -> Result<Option<u32>, ApiErr> {
        self.query("subaccount").map(parse_subaccount).transpose()
    }

    fn owner(&self, subaccount: Option<u32>) -> Owner {
        Owner {
            user_id: self.user().to_owned(),
            subaccount: subaccount.unwrap_or(0),
        }
    }

    fn limit(&self, default: usize, max: usize) -> Result<usize, ApiErr> {
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
fn paginate<T>(items: Vec<T>, call: &Call) -> Result<(Vec<T>, String), ApiErr> {
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

fn order_json(order: &Order) -> Value {
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
        "taker_fees_dollars": dollars(Decimal::ZERO), "maker_fees_dollars": dollars(Decimal::ZERO),
        "created_time": rfc3339(order.created_ts_ms), "last_update_time": rfc3339(order.last_update_ts_ms),
        "self_trade_prevention_type": stp, "subaccount_number": order.owner.subaccount, "exchange_index": 0
    });
    if let Some(group) = &order.order_group_id {
        json["order_group_id"] = json!(group);
    }
    if let Some(expiration) = order.expiration_ts {
        json["expiration_time"] = json!(rfc3339(expiration * 1000));
    }
    json
}

fn fill_json(fill: &engine::Fill) -> Value {
    let (book_side, outcome_side, action) = side_words(fill.side);
    json!({
        "fill_id": fill.fill_id, "trade_id": fill.trade_id, "order_id": fill.order_id, "exchange_index": 0,
        "ticker": fill.ticker, "market_ticker": fill.ticker, "side": outcome_side, "action": action,
        "outcome_side": outcome_side, "book_side": book_side, "count_fp": count(fill.count),
        "yes_price_dollars": dollars(fill.price), "no_price_dollars": dollars(Decimal::ONE - fill.price),
        "is_taker": fill.is_taker, "fee_cost": dollars(Decimal::ZERO), "created_time": rfc3339(fill.ts_ms),
        "ts": fill.ts_ms / 1000, "subaccount_number": fill.owner.subaccount
    })
}

fn market_json(state: &State, seed: &seed::MarketSeed) -> Value {
    let (bids, asks) = state.engine.book(&seed.ticker).unwrap_or_default();
    let best =
        |levels: &[(Decimal, Decimal)]| levels.first().map(|(p, c)| (dollars(*p), count(*c)));
    seed::market_json(seed, best(&bids), best(&asks), "0.00")
}

// ---------------------------------------------------------------------------
// Market data
// ---------------------------------------------------------------------------

fn series_list(state: &State) -> Answer {
    let series: Vec<Value> = state
        .catalog
        .series
        .iter()
        .filter_map(|(t, _, _)| state.catalog.series_json(t))
        .collect();
    ok(json!({ "series": series }))
}

fn series(state: &State, call: &Call) -> Answer {
    let series = state
        .catalog
        .series_json(call.param("series_ticker"))
        .ok_or_else(|| ApiErr::new(404, "not_found", "no such series"))?;
    ok(json!({ "series": series }))
}

fn events(state: &State, call: &Call) -> Answer {
    let series = call.query("series_ticker");
    let events: Vec<Value> = state
        .catalog
        .events
        .iter()
        .filter(|(_, s, _)| series.is_none_or(|want| want == s))
        .filter_map(|(t, _, _)| state.catalog.event_json(t))
        .collect();
    let (page, cursor) = paginate(events, call)?;
    ok(json!({ "events": page, "cursor": cursor }))
}

fn event(state: &State, call: &Call) -> Answer {
    let ticker = call.param("event_ticker");
    let event = state
        .catalog
        .event_json(ticker)
        .ok_or_else(|| ApiErr::new(404, "not_found", "no such event"))?;
    let flag = |name| call.query(name) == Some("true");
    if flag("exclude_markets") && flag("with_nested_markets") {
        return Err(ApiErr::bad_request(
            "invalid_parameters",
            "exclude_markets cannot be combined with with_nested_markets=true",
        ));
    }
    if flag("exclude_markets") {
        return ok(json!({ "event": event, "markets": [] }));
    }
    let markets: Vec<Value> = state
        .catalog
        .markets
        .iter()
        .filter(|m| m.event_ticker == ticker)
        .map(|m| market_json(state, m))
        .collect();
    ok(json!({ "event": event, "markets": markets }))
}

fn markets(state: &State, call: &Call) -> Answer {
    let event = call.query("event_ticker");
    let series = call.query("series_ticker");
    let tickers: Option<Vec<&str>> = call.query("tickers").map(|t| t.split(',').collect());
    let markets: Vec<Value> = state
        .catalog
        .markets
        .iter()
        .filter(|m| event.is_none_or(|e| e == m.event_ticker))
        .filter(|m| series.is_none_or(|s| s == m.series_ticker))
        .filter(|m| {
            tickers
                .as_ref()
                .is_none_or(|t| t.contains(&m.ticker.as_str()))
        })
        .map(|m| market_json(state, m))
        .collect();
    let (page, cursor) = paginate(markets, call)?;
    ok(json!({ "markets": page, "cursor": cursor }))
}

fn market(state: &State, call: &Call) -> Answer {
    let seed = state
        .catalog
        .market(call.param("ticker"))
        .ok_or_else(|| ApiErr::new(404, "not_found", "no such market"))?;
    ok(json!({ "market": market_json(state, seed) }))
}

fn orderbook(state: &State, call: &Call) -> Answer {
    let ticker = call.param("ticker");
    let (bids, asks) = state
        .engine
        .book(ticker)
        .ok_or_else(|| ApiErr::new(404, "not_found", "no such market"))?;
    // YES bids as YES levels; YES asks are NO bids at 1 - price.
    let yes: Vec<Value> = bids
        .iter()
        .rev()
        .map(|(p, c)| json!([dollars(*p), count(*c)]))
        .collect();
    let no: Vec<Value> = asks
        .iter()
        .rev()
        .map(|(p, c)| json!([dollars(Decimal::ONE - *p), count(*c)]))
        .collect();
    ok(json!({ "orderbook_fp": { "yes_dollars": yes, "no_dollars": no } }))
}

// ---------------------------------------------------------------------------
// Portfolio
// ---------------------------------------------------------------------------

fn balance(state: &State, call: &Call) -> Answer {
    let owner = call.owner(call.query_subaccount()?);
    // Kalshi's `balance` is what can be spent: cash not held by resting orders.
    let balance = state.engine.available(&owner);
    let cents = (balance * Decimal::from(100)).trunc();
    let cents = i64::try_from(cents).unwrap_or_default();
    ok(json!({
        "balance": cents, "balance_dollars": dollars(balance), "portfolio_value": cents,
        "updated_ts": call.now_ms / 1000
    }))
}

fn positions(state: &State, call: &Call) -> Answer {
    let owner = call.owner(call.query_subaccount()?);
    let ticker = call.query("ticker");
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
    let rows: Vec<Value> = state
        .engine
        .positions(&owner)
        .into_iter()
        .filter(|(t, _, _, _)| ticker.is_none_or(|want| want == t))
        .filter(|(t, _, _, _)| {
            let settled = matches!(
                state.engine.market_state(t),
                Some(engine::MarketState::Settled(_))
            );
            wanted.is_none_or(|want| want == settled)
        })
        .map(|(ticker, position, traded, exposure)| {
            json!({
                "ticker": ticker, "exchange_index": 0, "total_traded_dollars": dollars(traded),
                "position_fp": count(position), "market_exposure_dollars": dollars(exposure),
                "realized_pnl_dollars": dollars(Decimal::ZERO), "fees_paid_dollars": dollars(Decimal::ZERO),
                "last_updated_ts": rfc3339(call.now_ms)
            })
        })
        .collect();
    let (page, cursor) = paginate(rows, call)?;
    ok(json!({ "market_positions": page, "event_positions": [], "cursor": cursor }))
}

fn fills(state: &State, call: &Call) -> Answer {
    let subaccount = call.query_subaccount()?;
    let ticker = call.query("ticker");
    let order_id = call.query("order_id");
    let fills: Vec<Value> = state
        .engine
        .fills_of(call.user())
        .into_iter()
        .filter(|f| subaccount.is_none_or(|s| s == f.owner.subaccount))
        .filter(|f| ticker.is_none_or(|t| t == f.ticker))
        .filter(|f| order_id.is_none_or(|o| o == f.order_id))
        .map(fill_json)
        .collect();
    let (page, cursor) = paginate(fills, call)?;
    ok(json!({ "fills": page, "cursor": cursor }))
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
    let numbers = state
        .subaccounts
        .get(call.user())
        .cloned()
        .unwrap_or_else(|| vec![0]);
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
    let event = call.query("event_ticker");
    let status = call.query("status");
    let min_ts = call.query("min_ts").and_then(|t| t.parse::<i64>().ok());
    let max_ts = call.query("max_ts").and_then(|t| t.parse::<i64>().ok());
    let orders: Vec<Value> = state
        .engine
        .orders_of(call.user())
        .into_iter()
        .filter(|o| subaccount.is_none_or(|s| s == o.owner.subaccount))
        .filter(|o| ticker.is_none_or(|t| t == o.ticker))
        .filter(|o| {
            event.is_none_or(|e| {
                state
                    .catalog
                    .market(&o.ticker)
                    .is_some_and(|m| m.event_ticker == e)
            })
        })
        .filter(|o| status.is_none_or(|s| s == status_word(o.status)))
        .filter(|o| min_ts.is_none_or(|t| o.created_ts_ms / 1000 >= t))
        .filter(|o| max_ts.is_none_or(|t| o.created_ts_ms / 1000 <= t))
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

/// Reads a V2 create body into an engine order.
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
    Ok(NewOrder {
        owner: Owner {
            user_id: user.to_owned(),
            subaccount: body_subaccount(body)?.unwrap_or(0),
        },
        ticker: ticker.to_owned(),
        side,
        price: decimal(body, "price")?,
        count: decimal(body, "count")?,
        client_order_id: body["client_order_id"]
            .as_str()
            .map_or_else(|| uuid::Uuid::new_v4().to_string(), str::to_owned),
        time_in_force,
        self_trade_prevention,
        post_only: body["post_only"].as_bool().unwrap_or(false),
        reduce_only: body["reduce_only"].as_bool().unwrap_or(false),
        order_group_id: body["order_group_id"].as_str().map(str::to_owned),
        expiration_ts: body["expiration_time"].as_i64(),
    })
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
        json["average_fill_price"] = json!(dollars((cost / filled).round_dp(4)));
        json["average_fee_paid"] = json!(dollars(Decimal::ZERO));
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
            let client_order_id = body["client_order_id"].clone();
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
    let side = book_side(body)?;
    let placed = state
        .engine
        .amend(
            &owner,
            order_id,
            side,
            decimal(body, "price")?,
            decimal(body, "count")?,
        )
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
