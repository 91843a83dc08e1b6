//! The margin exchange's REST operations on markets, orders and the
//! portfolio.

use rust_decimal::Decimal;
use serde_json::{Value, json};

use super::book::Book;
use super::{Exchange, Market, Order, Placed, Status, bad, money, side_name};
use crate::State;
use crate::api::{count, ok, rfc3339};
use crate::feed::user_uuid;
use crate::http::{Answer, ApiErr, Call};

// ---------------------------------------------------------------------------
// REST
// ---------------------------------------------------------------------------

/// Answers the margin operations the simulator models.
pub(crate) fn dispatch(state: &mut State, call: &Call) -> Option<Answer> {
    if let Some(answer) = super::account::dispatch(state, call) {
        return Some(answer);
    }
    if let Some(answer) = super::reference::dispatch(state, call) {
        return Some(answer);
    }
    let answer = match call.operation.name {
        "get_margin_exchange_status" => ok(json!({
            "exchange_active": true, "trading_active": true, "intra_exchange_transfers_active": true,
        })),
        "get_margin_enabled" => ok(json!({ "enabled": true })),
        "get_perps_account_api_limits" => crate::account::perps_limits(state, call),
        "get_margin_markets" => markets(state, call),
        "get_margin_market" => market(state, call),
        "get_margin_market_orderbook" => orderbook(state, call),
        "get_margin_market_orderbooks" => orderbooks(state, call),
        "create_margin_order" => create(state, call),
        "get_margin_order" => order(state, call),
        "get_margin_orders" => orders(state, call),
        "cancel_margin_order" => cancel(state, call),
        "cancel_all_margin_orders" => cancel_all(state, call),
        "get_margin_fills" => fills(state, call),
        "get_margin_trades" => trades(state, call),
        "get_margin_positions" => positions(state, call),
        "get_margin_balance" => balance(state, call),
        "get_margin_funding_history" => funding_history(state, call),
        _ => return None,
    };
    Some(answer)
}

fn market_json(exchange: &Exchange, m: &Market, now_ms: i64) -> Value {
    let (bid, bid_size) = exchange.top(&m.ticker, true);
    let (ask, ask_size) = exchange.top(&m.ticker, false);
    let oi = exchange.open_interest(&m.ticker);
    let mark = json!({ "price": money(m.mark), "ts_ms": m.mark_ms.max(now_ms) });
    json!({
        "market_id": crate::feed::market_id(&m.ticker), "ticker": m.ticker, "title": m.title,
        "market_version": 1, "exchange_index": 0, "contract_size": format!("{:.6}", m.contract_size),
        "underlying_multiplier": "1", "tick_size": money(m.tick), "status": "active",
        "fractional_trading_enabled": true,
        "leverage_estimate": 10.0,
        "price": money(m.last_price), "volume": count(m.volume),
        "volume_notional_value_dollars": money(m.volume_notional),
        "open_interest": count(oi),
        "open_interest_notional_value_dollars": money(oi * m.mark * m.contract_size),
        "volume_24h": count(m.volume), "volume_24h_notional_value_dollars": money(m.volume_notional),
        "bid": money(bid), "bid_size_fp": count(bid_size), "ask": money(ask), "ask_size_fp": count(ask_size),
        "settlement_mark_price": mark, "liquidation_mark_price": mark,
        "schedule": null, "funding_deadband": 0.0, "funding_cap": 0.0, "funding_limit_unit": "percentage",
        "halt_sources": [], "funding_invalid_premium_handling": "dampen",
    })
}

fn markets(state: &mut State, call: &Call) -> Answer {
    let status = call.query("status");
    let exchange = &state.margin;
    let list: Vec<Value> = exchange
        .markets
        .values()
        .filter(|_| status.is_none_or(|s| s == "active"))
        .map(|m| market_json(exchange, m, call.now_ms))
        .collect();
    ok(json!({ "markets": list }))
}

fn find_market<'a>(exchange: &'a Exchange, ticker: &str) -> Result<&'a Market, ApiErr> {
    exchange.markets.get(ticker).ok_or_else(|| {
        ApiErr::new(
            404,
            "market_not_found",
            &format!("margin market {ticker} not found"),
        )
    })
}

fn market(state: &mut State, call: &Call) -> Answer {
    let m = find_market(&state.margin, call.param("ticker"))?;
    ok(json!({ "market": market_json(&state.margin, m, call.now_ms) }))
}

fn book_json(exchange: &Exchange, ticker: &str, depth: usize) -> Value {
    let empty = Book::default();
    let book = exchange.books.get(ticker).unwrap_or(&empty);
    let mut bids = exchange.levels(book.bids());
    let mut asks = exchange.levels(book.asks());
    bids.truncate(depth);
    asks.truncate(depth);
    json!({ "bids": bids, "asks": asks })
}

fn depth(call: &Call) -> Result<usize, ApiErr> {
    match call.query("depth") {
        None => Ok(usize::MAX),
        Some(text) => match text.parse::<usize>() {
            Ok(0) => Ok(usize::MAX),
            Ok(n) => Ok(n),
            Err(_) => Err(bad(
                "invalid_parameters",
                "`depth` must be a non-negative integer",
            )),
        },
    }
}

fn orderbook(state: &mut State, call: &Call) -> Answer {
    let ticker = call.param("ticker");
    find_market(&state.margin, ticker)?;
    ok(json!({ "orderbook": book_json(&state.margin, ticker, depth(call)?) }))
}

fn orderbooks(state: &mut State, call: &Call) -> Answer {
    let tickers: Vec<&str> = call
        .query
        .iter()
        .filter(|(k, _)| k == "tickers")
        .flat_map(|(_, v)| v.split(','))
        .filter(|t| !t.is_empty())
        .collect();
    if tickers.is_empty() {
        return Err(bad("missing_parameters", "`tickers` is required"));
    }
    let mut list = Vec::new();
    for ticker in tickers {
        find_market(&state.margin, ticker)?;
        list.push(
            json!({ "ticker": ticker, "orderbook": book_json(&state.margin, ticker, usize::MAX) }),
        );
    }
    ok(json!({ "orderbooks": list }))
}

fn create(state: &mut State, call: &Call) -> Answer {
    let subaccount = crate::api::body_subaccount(call.body())?;
    let owner = super::account::margin_owner(state, call, subaccount)?;
    let placed = state.margin.place(owner, call.body(), call.now_ms)?;
    Ok((201, Some(placed_json(&state.margin, &placed))))
}

/// What an order that may have traded answers: its counts and, when it
/// filled, the average price and fee of those fills.
pub(super) fn placed_json(exchange: &Exchange, placed: &Placed) -> Value {
    let order = &exchange.orders[placed.order];
    let mut body = json!({
        "order_id": order.order_id, "client_order_id": order.client_order_id,
        "fill_count": count(placed.filled), "remaining_count": count(order.remaining),
    });
    if !placed.filled.is_zero() {
        let contract_size = exchange.markets[&order.ticker].contract_size;
        let average = (placed.notional / (placed.filled * contract_size)).round_dp(6);
        body["average_fill_price"] = money(average).into();
        body["average_fee_paid"] = money((placed.fees / placed.filled).round_dp(6)).into();
    }
    body
}

pub(super) fn order_json(o: &Order) -> Value {
    let mut value = json!({
        "order_id": o.order_id, "user_id": user_uuid(&o.owner.user_id),
        "client_order_id": o.client_order_id, "ticker": o.ticker, "side": side_name(o.bid),
        "last_update_reason": o.reason, "price": money(o.price),
        "fill_count": count(o.filled), "remaining_count": count(o.remaining),
        "expiration_time": null, "created_time": rfc3339(o.created_ms),
        "last_update_time": rfc3339(o.updated_ms), "self_trade_prevention_type": o.stp,
        "cancel_order_on_pause": o.cancel_on_pause, "order_source": "user",
    });
    if let Some(group) = &o.order_group_id {
        value["order_group_id"] = group.clone().into();
    }
    value
}

pub(super) fn own_order<'a>(state: &'a State, call: &Call) -> Result<(usize, &'a Order), ApiErr> {
    let id = call.param("order_id");
    state
        .margin
        .by_id
        .get(id)
        .map(|i| (*i, &state.margin.orders[*i]))
        .filter(|(_, o)| o.owner.user_id == call.user())
        .ok_or_else(|| ApiErr::new(404, "not_found", "order not found"))
}

fn order(state: &mut State, call: &Call) -> Answer {
    let (_, order) = own_order(state, call)?;
    ok(json!({ "order": order_json(order) }))
}

fn status_name(status: Status) -> &'static str {
    match status {
        Status::Resting => "resting",
        Status::Canceled => "canceled",
        Status::Executed => "executed",
    }
}

fn in_window(call: &Call, ts_ms: i64) -> Result<bool, ApiErr> {
    let bound = |name: &str| -> Result<Option<i64>, ApiErr> {
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
    };
    let seconds = ts_ms.div_euclid(1000);
    Ok(bound("min_ts")?.is_none_or(|min| seconds >= min)
        && bound("max_ts")?.is_none_or(|max| seconds <= max))
}

fn orders(state: &mut State, call: &Call) -> Answer {
    let subaccount = call.query_subaccount()?;
    let mut list = Vec::new();
    for o in state.margin.orders.iter().rev() {
        let keep = o.owner.user_id == call.user()
            && subaccount.is_none_or(|s| s == o.owner.subaccount)
            && call
                .query("ticker")
                .is_none_or(|t| t.is_empty() || t == o.ticker)
            && call
                .query("status")
                .is_none_or(|s| s == status_name(o.status))
            && in_window(call, o.created_ms)?;
        if keep {
            list.push(order_json(o));
        }
    }
    let (page, cursor) = crate::api::paginate_with(list, call, 10_000, 10_000)?;
    ok(json!({ "orders": page, "cursor": cursor }))
}

fn cancel(state: &mut State, call: &Call) -> Answer {
    let subaccount = call.query_subaccount()?.unwrap_or(0);
    let (index, order) = own_order(state, call)?;
    if order.owner.subaccount != subaccount || order.status != Status::Resting {
        return Err(ApiErr::new(404, "not_found", "order not found"));
    }
    let reduced = state
        .margin
        .cancel_index(index, "MarginCancel", call.now_ms);
    let order = &state.margin.orders[index];
    ok(json!({
        "order_id": order.order_id, "client_order_id": order.client_order_id,
        "reduced_by": count(reduced),
    }))
}

fn cancel_all(state: &mut State, call: &Call) -> Answer {
    let subaccount = call.query_subaccount()?;
    let live: Vec<usize> = state
        .margin
        .orders
        .iter()
        .enumerate()
        .filter(|(_, o)| {
            o.status == Status::Resting
                && o.owner.user_id == call.user()
                && subaccount.is_none_or(|s| s == o.owner.subaccount)
        })
        .map(|(i, _)| i)
        .collect();
    for index in live {
        state
            .margin
            .cancel_index(index, "MarginCancel", call.now_ms);
    }
    Ok((204, None))
}

fn fills(state: &mut State, call: &Call) -> Answer {
    let subaccount = call.query_subaccount()?;
    let mut list = Vec::new();
    for f in state.margin.fills.iter().rev() {
        if f.owner.user_id == call.user()
            && subaccount.is_none_or(|s| s == f.owner.subaccount)
            && in_window(call, f.ts_ms)?
        {
            list.push(json!({
                "fill_id": f.fill_id, "order_id": f.order_id, "is_taker": f.is_taker,
                "side": side_name(f.bid), "count": count(f.count), "created_time": rfc3339(f.ts_ms),
                "ticker": f.ticker, "price": money(f.price), "entry_price": money(f.entry_price),
                "fees": money(f.fee), "realized_pnl": money(f.realized), "order_source": "user",
            }));
        }
    }
    let (page, cursor) = crate::api::paginate(list, call)?;
    ok(json!({ "fills": page, "cursor": cursor }))
}

fn trades(state: &mut State, call: &Call) -> Answer {
    let mut list = Vec::new();
    for t in state.margin.trades.iter().rev() {
        if call
            .query("ticker")
            .is_none_or(|x| x.is_empty() || x == t.ticker)
            && in_window(call, t.ts_ms)?
        {
            list.push(json!({
                "trade_id": t.trade_id, "ticker": t.ticker, "count": count(t.count),
                "price": money(t.price), "created_time": rfc3339(t.ts_ms),
                "taker_side": side_name(t.taker_bid),
            }));
        }
    }
    let (page, cursor) = crate::api::paginate(list, call)?;
    ok(json!({ "trades": page, "cursor": cursor }))
}

fn positions(state: &mut State, call: &Call) -> Answer {
    let subaccount = call.query_subaccount()?;
    let exchange = &state.margin;
    let list: Vec<Value> = exchange
        .positions
        .iter()
        .filter(|((o, t), p)| {
            o.user_id == call.user()
                && subaccount.is_none_or(|s| s == o.subaccount)
                && call.query("ticker").is_none_or(|x| x.is_empty() || x == t)
                && !p.lots.is_empty()
        })
        .map(|((o, t), p)| {
            let m = &exchange.markets[t];
            let unrealized = (p.size() * m.mark - p.cost()) * m.contract_size;
            let margin = p.size().abs() * m.mark * m.contract_size * m.initial_rate;
            json!({
                "subaccount": o.subaccount, "market_ticker": t, "position": count(p.size()),
                "entry_price": money(p.entry_price()), "unrealized_pnl": money(unrealized),
                "margin_used": money(margin), "fees": money(p.fees), "roe": null,
                "is_portfolio": false,
            })
        })
        .collect();
    ok(json!({ "positions": list }))
}

fn balance(state: &mut State, call: &Call) -> Answer {
    let exchange = &state.margin;
    let mut subaccounts: Vec<u32> = exchange
        .cash
        .keys()
        .chain(exchange.positions.keys().map(|(o, _)| o))
        .filter(|o| o.user_id == call.user())
        .map(|o| o.subaccount)
        .collect();
    subaccounts.push(0);
    subaccounts.sort_unstable();
    subaccounts.dedup();
    let rows: Vec<Value> = subaccounts
        .into_iter()
        .map(|subaccount| {
            let owner = call.owner(Some(subaccount));
            let value: Decimal = exchange
                .owner_positions(&owner)
                .map(|(t, p)| {
                    let m = &exchange.markets[t];
                    p.size() * m.mark * m.contract_size
                })
                .sum();
            json!({
                "subaccount": subaccount, "position_value": money(value),
                "account_equity": money(exchange.equity(&owner)),
                "maintenance_margin": money(exchange.maintenance_margin(&owner)),
                "initial_margin": money(exchange.initial_margin(&owner)),
                "resting_orders_margin": money(exchange.resting_margin(&owner)),
                "available_balance": money(exchange.available(&owner)),
            })
        })
        .collect();
    let settled = exchange.cash(&call.owner(Some(0)));
    ok(json!({ "subaccount_balances": rows, "settled_funds": money(settled) }))
}

/// A required `YYYY-MM-DD` query date.
fn date(call: &Call, name: &str) -> Result<chrono::NaiveDate, ApiErr> {
    call.query(name)
        .and_then(|text| chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d").ok())
        .ok_or_else(|| {
            bad(
                "invalid_parameters",
                &format!("`{name}` must be a YYYY-MM-DD date"),
            )
        })
}

fn funding_history(state: &mut State, call: &Call) -> Answer {
    let subaccount = call.query_subaccount()?;
    let (start, end) = (date(call, "start_date")?, date(call, "end_date")?);
    let day = |ms: i64| {
        chrono::DateTime::from_timestamp_millis(ms)
            .unwrap_or_default()
            .date_naive()
    };
    let list: Vec<Value> = state
        .margin
        .funding
        .iter()
        .filter(|f| {
            f.owner.user_id == call.user()
                && subaccount.is_none_or(|s| s == f.owner.subaccount)
                && call
                    .query("ticker")
                    .is_none_or(|x| x.is_empty() || x == f.ticker)
                && (start..=end).contains(&day(f.ts_ms))
        })
        .map(|f| {
            use rust_decimal::prelude::ToPrimitive;
            json!({
                "market_ticker": f.ticker, "funding_time": rfc3339(f.ts_ms),
                "funding_rate": f.rate.to_f64().unwrap_or_default(), "mark_price": money(f.mark),
                "funding_amount": money(f.amount), "quantity": count(f.quantity),
                "subaccount_number": f.owner.subaccount,
            })
        })
        .collect();
    ok(json!({ "funding_history": list }))
}
