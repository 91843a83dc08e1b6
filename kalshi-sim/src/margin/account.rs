//! What a margin account arranges around its orders: numbered
//! subaccounts and transfers between them, order groups, amending and
//! decreasing orders, and exit triggers (brackets and trailing stops) that
//! close a position when the mark crosses their level.
//!
//! Isolated and cross triggers behave alike here: the simulator keeps one
//! margin pool per subaccount, so "isolated" only names where a trigger
//! is listed.

use rust_decimal::Decimal;
use serde_json::{Value, json};

use super::{Exchange, MAX_PRICE, Placed, Status, bad, count_field, decimal, money, price_field};
use crate::State;
use crate::api::{count, ok, rfc3339};
use crate::engine::Owner;
use crate::http::{Answer, ApiErr, Call};

/// A margin order group: orders placed in it are canceled together when it
/// is triggered, by hand or when its fills reach its limit.
#[derive(Debug, Clone)]
pub(crate) struct Group {
    owner: Owner,
    limit: Option<Decimal>,
    matched: Decimal,
    triggered: bool,
}

/// An exit trigger on a position.
#[derive(Debug, Clone)]
pub(crate) struct Trigger {
    id: String,
    owner: Owner,
    ticker: String,
    isolated: bool,
    trailing: bool,
    status: &'static str,
    reason: Option<&'static str>,
    leg: Option<&'static str>,
    triggered_order_id: Option<String>,
    anchor_order_id: Option<String>,
    client_trigger_id: Option<String>,
    stop_loss: Option<Decimal>,
    take_profit: Option<Decimal>,
    trail_amount: Option<Decimal>,
    trail_bps: Option<u32>,
    watermark: Option<Decimal>,
    /// The position's direction when the trigger armed (long: `true`).
    long: Option<bool>,
    /// Contracts to close; `None`: the whole position.
    count: Option<Decimal>,
    filled: Decimal,
    created_ms: i64,
    updated_ms: i64,
}

fn not_found(what: &str) -> ApiErr {
    ApiErr::new(404, "not_found", &format!("{what} not found"))
}

impl Exchange {
    // -------------------------------------------------------------------
    // Order groups
    // -------------------------------------------------------------------

    /// The group an order names, checked: it must be the owner's and not
    /// triggered.
    pub(super) fn group_for_order(
        &self,
        owner: &Owner,
        body: &Value,
    ) -> Result<Option<String>, ApiErr> {
        let Some(id) = body["order_group_id"].as_str().filter(|s| !s.is_empty()) else {
            return Ok(None);
        };
        let group = self
            .groups
            .get(id)
            .filter(|g| g.owner == *owner)
            .ok_or_else(|| bad("order_group_not_found", "order group not found"))?;
        if group.triggered {
            return Err(bad(
                "order_group_triggered",
                "the order group was triggered and takes no orders until reset",
            ));
        }
        Ok(Some(id.to_owned()))
    }

    pub(super) fn count_group_fill(&mut self, id: &str, size: Decimal) {
        if let Some(group) = self.groups.get_mut(id) {
            group.matched += size;
        }
    }

    /// Triggers every group whose fills reached its limit.
    pub(super) fn trigger_full_groups(&mut self, now_ms: i64) {
        let full: Vec<String> = self
            .groups
            .iter()
            .filter(|(_, g)| !g.triggered && g.limit.is_some_and(|l| g.matched >= l))
            .map(|(id, _)| id.clone())
            .collect();
        for id in full {
            self.trigger_group(&id, now_ms);
        }
    }

    /// An `order_group_updates` message for the group's user.
    fn group_event(&mut self, id: &str, event: &str, now_ms: i64) {
        let Some(group) = self.groups.get(id) else {
            return;
        };
        let mut msg = json!({"event_type": event, "order_group_id": id, "ts_ms": now_ms});
        if let (Some(limit), "created" | "limit_updated") = (group.limit, event) {
            msg["contracts_limit_fp"] = count(limit).into();
        }
        let user = group.owner.user_id.clone();
        self.push(
            crate::feed::Topic::MarginOrderGroupUpdates,
            "order_group_updates",
            "",
            Some(&user),
            msg,
        );
    }

    fn trigger_group(&mut self, id: &str, now_ms: i64) {
        if let Some(group) = self.groups.get_mut(id) {
            group.triggered = true;
        }
        self.group_event(id, "triggered", now_ms);
        self.cancel_group_orders(id, now_ms);
    }

    fn cancel_group_orders(&mut self, id: &str, now_ms: i64) {
        let members: Vec<usize> = self
            .orders
            .iter()
            .enumerate()
            .filter(|(_, o)| o.status == Status::Resting && o.order_group_id.as_deref() == Some(id))
            .map(|(i, _)| i)
            .collect();
        for index in members {
            self.cancel_index(index, "MarginCancel", now_ms);
        }
    }

    // -------------------------------------------------------------------
    // Amend and decrease
    // -------------------------------------------------------------------

    /// Sets a resting order's price and total count (fills included). A
    /// new price or a larger count loses its place in the queue and may
    /// trade at once.
    pub(super) fn amend(
        &mut self,
        index: usize,
        body: &Value,
        now_ms: i64,
    ) -> Result<Placed, ApiErr> {
        let order = &self.orders[index];
        let bid = match body["side"].as_str() {
            Some("bid") => true,
            Some("ask") => false,
            _ => return Err(bad("invalid_parameters", "`side` must be bid or ask")),
        };
        if bid != order.bid {
            return Err(bad("invalid_amend", "an amend cannot change the side"));
        }
        if let Some(ticker) = body["ticker"].as_str().filter(|t| !t.is_empty())
            && ticker != order.ticker
        {
            return Err(bad("invalid_amend", "an amend cannot change the market"));
        }
        let market = &self.markets[&order.ticker];
        let price = price_field(body, "price", market.tick)?;
        let total = count_field(body, "count", false)?;
        if total <= order.filled {
            return Err(bad("invalid_amend", "count must exceed the filled count"));
        }
        let remaining = total - order.filled;
        // More notional at risk needs margin, as a new order does.
        let scale = market.contract_size * market.initial_rate;
        let added = (remaining * price - order.remaining * order.price) * scale;
        let available = self.available(&order.owner);
        if !order.reduce_only && added > Decimal::ZERO && added > available {
            return Err(bad(
                "insufficient_balance",
                &format!("the amend needs ${added} more margin, ${available} is available"),
            ));
        }
        let keeps_place = price == order.price && remaining <= order.remaining;
        let (ticker, old_price, old_remaining) =
            (order.ticker.clone(), order.price, order.remaining);
        if let Some(id) = body["updated_client_order_id"]
            .as_str()
            .filter(|s| !s.is_empty())
        {
            self.orders[index].client_order_id = id.to_owned();
        }
        self.clock += 1;
        if keeps_place {
            let order = &mut self.orders[index];
            order.remaining = remaining;
            order.reason = "Amend";
            order.updated_ms = now_ms;
            self.delta(&ticker, bid, price, remaining - old_remaining, now_ms);
            self.user_order(index);
            return Ok(Placed {
                order: index,
                filled: Decimal::ZERO,
                notional: Decimal::ZERO,
                fees: Decimal::ZERO,
            });
        }
        self.books
            .entry(ticker.clone())
            .or_default()
            .remove(bid, old_price, index);
        self.delta(&ticker, bid, old_price, -old_remaining, now_ms);
        let order = &mut self.orders[index];
        order.price = price;
        order.remaining = remaining;
        order.reason = "Amend";
        order.updated_ms = now_ms;
        let placed = self.match_order(index, now_ms);
        let order = &self.orders[index];
        if order.status == Status::Resting && !order.remaining.is_zero() {
            let left = order.remaining;
            self.books
                .entry(ticker.clone())
                .or_default()
                .rest(bid, price, index);
            self.delta(&ticker, bid, price, left, now_ms);
        } else if order.remaining.is_zero() && order.status == Status::Resting {
            self.orders[index].status = Status::Executed;
        }
        self.user_order(index);
        self.ticker(&ticker, now_ms);
        self.trigger_full_groups(now_ms);
        Ok(placed)
    }

    /// Lowers a resting order's remaining count (to zero: canceled).
    pub(super) fn decrease(
        &mut self,
        index: usize,
        body: &Value,
        now_ms: i64,
    ) -> Result<(), ApiErr> {
        let order = &self.orders[index];
        let target = match (&body["reduce_by"], &body["reduce_to"]) {
            (Value::String(_), Value::Null) => {
                order.remaining - count_field(body, "reduce_by", false)?.min(order.remaining)
            }
            (Value::Null, Value::String(_)) => count_field(body, "reduce_to", true)?,
            _ => {
                return Err(bad(
                    "invalid_decrease",
                    "exactly one of reduce_by and reduce_to is required",
                ));
            }
        };
        if target >= order.remaining {
            return Err(bad(
                "invalid_decrease",
                "a decrease must leave between zero and less than the remaining count",
            ));
        }
        if target.is_zero() {
            self.cancel_index(index, "Decrease", now_ms);
            return Ok(());
        }
        let (ticker, bid, price, before) = (
            order.ticker.clone(),
            order.bid,
            order.price,
            order.remaining,
        );
        let order = &mut self.orders[index];
        order.remaining = target;
        order.reason = "Decrease";
        order.updated_ms = now_ms;
        self.clock += 1;
        self.delta(&ticker, bid, price, target - before, now_ms);
        self.user_order(index);
        self.ticker(&ticker, now_ms);
        Ok(())
    }

    // -------------------------------------------------------------------
    // Exit triggers
    // -------------------------------------------------------------------

    /// Fires every armed trigger whose level the mark has crossed, until
    /// none fires (a firing order moves the mark).
    pub(crate) fn settle_triggers(&mut self, now_ms: i64) {
        for _ in 0..64 {
            if !self.fire_one(now_ms) {
                return;
            }
        }
    }

    /// Arms pending triggers, ends those without a position, fires the
    /// first that crossed; whether one fired.
    fn fire_one(&mut self, now_ms: i64) -> bool {
        for i in 0..self.triggers.len() {
            let t = &self.triggers[i];
            if t.status == "pending_on_entry" {
                let filled = t
                    .anchor_order_id
                    .as_ref()
                    .and_then(|id| self.by_id.get(id))
                    .map_or(Decimal::ZERO, |o| self.orders[*o].filled);
                if filled.is_zero() {
                    continue;
                }
                let t = &mut self.triggers[i];
                t.status = "active";
                t.count = Some(filled);
                t.updated_ms = now_ms;
            }
            let t = &self.triggers[i];
            if t.status != "active" {
                continue;
            }
            let held = self.position(&t.owner, &t.ticker);
            let long = held > Decimal::ZERO;
            let ended = if held.is_zero() {
                Some("position_closed")
            } else if t.long.is_some_and(|was| was != long) {
                // Its legs were set for the other direction.
                Some("position_flipped")
            } else {
                None
            };
            if let Some(reason) = ended {
                let t = &mut self.triggers[i];
                t.status = "canceled";
                t.reason = Some(reason);
                t.updated_ms = now_ms;
                continue;
            }
            self.triggers[i].long = Some(long);
            let market = &self.markets[&self.triggers[i].ticker];
            let (mark, tick) = (market.mark, market.tick);
            let leg = self.crossed(i, mark, long);
            if let Some(leg) = leg {
                self.fire(i, leg, held, mark, tick, now_ms);
                return true;
            }
        }
        false
    }

    /// Which leg of trigger `i` the mark has crossed (trailing stops first
    /// move their watermark).
    fn crossed(&mut self, i: usize, mark: Decimal, long: bool) -> Option<&'static str> {
        let t = &mut self.triggers[i];
        if t.trailing {
            let wm = t.watermark.get_or_insert(mark);
            *wm = if long {
                (*wm).max(mark)
            } else {
                (*wm).min(mark)
            };
            let stop = trailing_stop(t, long)?;
            let hit = if long { mark <= stop } else { mark >= stop };
            return hit.then_some("stop_loss");
        }
        let below = |level: Option<Decimal>| level.is_some_and(|l| mark <= l);
        let above = |level: Option<Decimal>| level.is_some_and(|l| mark >= l);
        if (long && below(t.stop_loss)) || (!long && above(t.stop_loss)) {
            Some("stop_loss")
        } else if (long && above(t.take_profit)) || (!long && below(t.take_profit)) {
            Some("take_profit")
        } else {
            None
        }
    }

    /// Closes the trigger's contracts with a reduce-only immediate-or-cancel
    /// order at the most aggressive price.
    fn fire(
        &mut self,
        i: usize,
        leg: &'static str,
        held: Decimal,
        mark: Decimal,
        tick: Decimal,
        now_ms: i64,
    ) {
        let t = &self.triggers[i];
        let size = t.count.unwrap_or(held.abs()).min(held.abs()) - t.filled;
        let bid = held < Decimal::ZERO;
        let price = if bid {
            ((mark * Decimal::TEN).min(MAX_PRICE) / tick).floor() * tick
        } else {
            tick
        };
        let body = json!({
            "ticker": t.ticker, "client_order_id": format!("exit-{}-{}", t.id, now_ms),
            "side": if bid { "bid" } else { "ask" }, "count": count(size.max(Decimal::ZERO)),
            "price": money(price), "time_in_force": "immediate_or_cancel",
            "self_trade_prevention_type": "taker_at_cross", "reduce_only": true,
        });
        let owner = t.owner.clone();
        let placed = self.place(owner, &body, now_ms);
        let t = &mut self.triggers[i];
        t.leg = Some(leg);
        t.updated_ms = now_ms;
        match placed {
            Ok(placed) => {
                t.triggered_order_id = Some(self.orders[placed.order].order_id.clone());
                t.filled += placed.filled;
                let done = placed.filled >= size;
                t.status = if done { "filled" } else { "failed" };
                t.reason = (!done).then_some("order_rejected");
            }
            Err(_) => {
                t.status = "failed";
                t.reason = Some("order_rejected");
            }
        }
    }
}

fn trailing_stop(t: &Trigger, long: bool) -> Option<Decimal> {
    let wm = t.watermark?;
    let offset = match (t.trail_amount, t.trail_bps) {
        (Some(amount), _) => amount,
        (None, Some(bps)) => wm * Decimal::from(bps) / Decimal::from(10_000),
        (None, None) => return None,
    };
    Some(if long { wm - offset } else { wm + offset })
}

fn trigger_json(exchange: &Exchange, t: &Trigger) -> Value {
    let held = exchange.position(&t.owner, &t.ticker).abs();
    let mut value = json!({
        "id": t.id, "ticker": t.ticker, "kind": if t.trailing { "trailing" } else { "bracket" },
        "status": t.status, "count": count(t.count.unwrap_or(held)),
        "filled_count": count(t.filled), "created_time": rfc3339(t.created_ms),
        "updated_time": rfc3339(t.updated_ms),
    });
    let mut put = |key: &str, v: Option<Value>| {
        if let Some(v) = v {
            value[key] = v;
        }
    };
    put("status_reason", t.reason.map(Into::into));
    put("triggered_leg", t.leg.map(Into::into));
    put(
        "triggered_order_id",
        t.triggered_order_id.clone().map(Into::into),
    );
    put("anchor_order_id", t.anchor_order_id.clone().map(Into::into));
    put(
        "client_trigger_id",
        t.client_trigger_id.clone().map(Into::into),
    );
    put("stop_loss_price", t.stop_loss.map(|p| money(p).into()));
    put("take_profit_price", t.take_profit.map(|p| money(p).into()));
    put("trail_amount", t.trail_amount.map(|p| money(p).into()));
    put("trail_bps", t.trail_bps.map(Into::into));
    put("watermark_price", t.watermark.map(|p| money(p).into()));
    let long = exchange.position(&t.owner, &t.ticker) >= Decimal::ZERO;
    put(
        "effective_stop_price",
        trailing_stop(t, long).map(|p| money(p).into()),
    );
    value
}

// ---------------------------------------------------------------------------
// REST
// ---------------------------------------------------------------------------

pub(super) fn dispatch(state: &mut State, call: &Call) -> Option<Answer> {
    let answer = match call.operation.name {
        "amend_margin_order" => amend(state, call),
        "decrease_margin_order" => decrease(state, call),
        "create_margin_subaccount" => create_subaccount(state, call),
        "apply_margin_subaccount_transfer" => subaccount_transfer(state, call),
        "create_margin_order_group" => create_group(state, call),
        "get_margin_order_groups" => groups(state, call),
        "get_margin_order_group" => group(state, call),
        "delete_margin_order_group" => delete_group(state, call),
        "reset_margin_order_group" => reset_group(state, call),
        "trigger_margin_order_group" => trigger_group(state, call),
        "update_margin_order_group_limit" => group_limit(state, call),
        "set_isolated_margin_exit_trigger" => set_trigger(state, call, true),
        "set_cross_margin_exit_trigger" => set_trigger(state, call, false),
        "get_isolated_margin_exit_triggers" => list_triggers(state, call, true),
        "get_cross_margin_exit_triggers" => list_triggers(state, call, false),
        "delete_isolated_margin_exit_trigger" => delete_triggers(state, call, true),
        "delete_cross_margin_exit_trigger" => delete_triggers(state, call, false),
        "delete_cross_margin_exit_trigger_by_id" => delete_trigger(state, call),
        "update_cross_margin_exit_trigger" => update_trigger(state, call),
        _ => return None,
    };
    Some(answer)
}

/// The owner a margin request acts for: its `subaccount` (query, else 0),
/// which must exist.
pub(super) fn margin_owner(
    state: &State,
    call: &Call,
    subaccount: Option<u32>,
) -> Result<Owner, ApiErr> {
    let owner = call.owner(subaccount);
    let known = owner.subaccount == 0
        || state
            .margin
            .subaccounts
            .get(&owner.user_id)
            .is_some_and(|s| s.contains(&owner.subaccount));
    if known {
        Ok(owner)
    } else {
        Err(bad(
            "invalid_subaccount",
            &format!("margin subaccount {} does not exist", owner.subaccount),
        ))
    }
}

fn live_order(state: &State, call: &Call) -> Result<usize, ApiErr> {
    let subaccount = call.query_subaccount()?.unwrap_or(0);
    let (index, order) = super::rest::own_order(state, call)?;
    if order.owner.subaccount != subaccount || order.status != Status::Resting {
        return Err(not_found("order"));
    }
    Ok(index)
}

fn amend(state: &mut State, call: &Call) -> Answer {
    let index = live_order(state, call)?;
    let placed = state.margin.amend(index, call.body(), call.now_ms)?;
    ok(super::rest::placed_json(&state.margin, &placed))
}

fn decrease(state: &mut State, call: &Call) -> Answer {
    let index = live_order(state, call)?;
    state.margin.decrease(index, call.body(), call.now_ms)?;
    let o = &state.margin.orders[index];
    ok(json!({
        "order_id": o.order_id, "client_order_id": o.client_order_id,
        "remaining_count": count(o.remaining),
    }))
}

fn create_subaccount(state: &mut State, call: &Call) -> Answer {
    let numbers = state
        .margin
        .subaccounts
        .entry(call.user().to_owned())
        .or_default();
    let next = numbers.last().copied().unwrap_or(0) + 1;
    if next > 63 {
        return Err(bad("subaccount_limit", "at most 63 margin subaccounts"));
    }
    numbers.push(next);
    Ok((201, Some(json!({ "subaccount_number": next }))))
}

fn subaccount_transfer(state: &mut State, call: &Call) -> Answer {
    let body = call.body();
    let number = |field: &str| {
        body[field]
            .as_u64()
            .and_then(|n| u32::try_from(n).ok())
            .ok_or_else(|| {
                bad(
                    "invalid_parameters",
                    &format!("`{field}` must be a subaccount number"),
                )
            })
    };
    let from = margin_owner(state, call, Some(number("from_subaccount")?))?;
    let to = margin_owner(state, call, Some(number("to_subaccount")?))?;
    let cents = crate::account::amount_cents(body)?;
    let id = body["client_transfer_id"]
        .as_str()
        .filter(|s| !s.is_empty())
        .ok_or_else(|| bad("missing_parameters", "`client_transfer_id` is required"))?;
    let key = (call.user().to_owned(), id.to_owned());
    if state.margin.transfer_ids.contains(&key) {
        return Err(ApiErr::new(
            400,
            "duplicate_client_transfer_id",
            "this transfer was already applied",
        ));
    }
    let amount = Decimal::new(cents, 2);
    let free = state.margin.withdrawable(&from);
    if free < amount {
        return Err(bad(
            "insufficient_balance",
            &format!("the transfer needs ${amount}, ${free} is free"),
        ));
    }
    state.margin.deposit(&from, -amount);
    state.margin.deposit(&to, amount);
    state.margin.transfer_ids.insert(key);
    ok(json!({}))
}

fn own_group<'a>(state: &'a State, call: &Call) -> Result<(&'a String, &'a Group), ApiErr> {
    let id = call.param("order_group_id");
    state
        .margin
        .groups
        .get_key_value(id)
        .filter(|(_, g)| g.owner.user_id == call.user())
        .ok_or_else(|| ApiErr::new(404, "order_group_not_found", "order group not found"))
}

fn limit_of(body: &Value) -> Result<Option<Decimal>, ApiErr> {
    let limit = match (&body["contracts_limit_fp"], &body["contracts_limit"]) {
        (Value::String(_), _) => count_field(body, "contracts_limit_fp", false)?,
        (Value::Null, Value::Number(n)) => n
            .as_u64()
            .filter(|n| (1..=1_000_000_000).contains(n))
            .map(Decimal::from)
            .ok_or_else(|| {
                bad(
                    "invalid_parameters",
                    "`contracts_limit` must be a positive integer",
                )
            })?,
        (Value::Null, Value::Null) => return Ok(None),
        _ => {
            return Err(bad(
                "invalid_parameters",
                "`contracts_limit` must be an integer",
            ));
        }
    };
    Ok(Some(limit))
}

fn create_group(state: &mut State, call: &Call) -> Answer {
    let body = call.body();
    let owner = margin_owner(state, call, crate::api::body_subaccount(body)?)?;
    let limit = limit_of(body)?;
    let id = state.margin.id("margin-group");
    let subaccount = owner.subaccount;
    state.margin.groups.insert(
        id.clone(),
        Group {
            owner,
            limit,
            matched: Decimal::ZERO,
            triggered: false,
        },
    );
    state.margin.group_event(&id, "created", call.now_ms);
    Ok((
        201,
        Some(json!({ "order_group_id": id, "subaccount": subaccount })),
    ))
}

fn group_json(id: &str, g: &Group) -> Value {
    let mut value = json!({ "id": id, "is_auto_cancel_enabled": g.triggered });
    if let Some(limit) = g.limit {
        value["contracts_limit_fp"] = count(limit).into();
    }
    value
}

fn groups(state: &mut State, call: &Call) -> Answer {
    let subaccount = call.query_subaccount()?;
    let list: Vec<Value> = state
        .margin
        .groups
        .iter()
        .filter(|(_, g)| {
            g.owner.user_id == call.user() && subaccount.is_none_or(|s| s == g.owner.subaccount)
        })
        .map(|(id, g)| group_json(id, g))
        .collect();
    ok(json!({ "order_groups": list }))
}

fn group(state: &mut State, call: &Call) -> Answer {
    let (id, g) = own_group(state, call)?;
    let orders: Vec<Value> = state
        .margin
        .orders
        .iter()
        .filter(|o| o.order_group_id.as_deref() == Some(id.as_str()) && o.status == Status::Resting)
        .map(|o| o.order_id.clone().into())
        .collect();
    let mut value = group_json(id, g);
    value.as_object_mut().expect("an object").remove("id");
    value["orders"] = orders.into();
    ok(value)
}

fn delete_group(state: &mut State, call: &Call) -> Answer {
    let id = own_group(state, call)?.0.clone();
    state.margin.cancel_group_orders(&id, call.now_ms);
    state.margin.group_event(&id, "deleted", call.now_ms);
    state.margin.groups.remove(&id);
    ok(json!({}))
}

fn reset_group(state: &mut State, call: &Call) -> Answer {
    let id = own_group(state, call)?.0.clone();
    if let Some(g) = state.margin.groups.get_mut(&id) {
        g.triggered = false;
        g.matched = Decimal::ZERO;
    }
    state.margin.group_event(&id, "reset", call.now_ms);
    ok(json!({}))
}

fn trigger_group(state: &mut State, call: &Call) -> Answer {
    let id = own_group(state, call)?.0.clone();
    state.margin.trigger_group(&id, call.now_ms);
    ok(json!({}))
}

fn group_limit(state: &mut State, call: &Call) -> Answer {
    let id = own_group(state, call)?.0.clone();
    let limit = limit_of(call.body())?
        .ok_or_else(|| bad("missing_parameters", "`contracts_limit_fp` is required"))?;
    if let Some(g) = state.margin.groups.get_mut(&id) {
        g.limit = Some(limit);
    }
    state.margin.group_event(&id, "limit_updated", call.now_ms);
    state.margin.trigger_full_groups(call.now_ms);
    ok(json!({}))
}

fn optional_price(body: &Value, field: &str) -> Result<Option<Decimal>, ApiErr> {
    match &body[field] {
        Value::Null => Ok(None),
        _ => decimal(body, field)
            .ok()
            .filter(|p| *p > Decimal::ZERO && *p <= MAX_PRICE)
            .map(Some)
            .ok_or_else(|| {
                bad(
                    "invalid_parameters",
                    &format!("`{field}` must be a positive price"),
                )
            }),
    }
}

fn set_trigger(state: &mut State, call: &Call, isolated: bool) -> Answer {
    let ticker = call.param("ticker").to_owned();
    if !state.margin.has_market(&ticker) {
        return Err(ApiErr::new(
            404,
            "market_not_found",
            &format!("margin market {ticker} not found"),
        ));
    }
    let owner = trigger_owner(state, call, isolated)?;
    let body = call.body();
    let stop_loss = optional_price(body, "stop_loss_price")?;
    let take_profit = optional_price(body, "take_profit_price")?;
    let trail_amount = optional_price(body, "trail_amount")?;
    let trail_bps = match &body["trail_bps"] {
        Value::Null => None,
        v => Some(
            v.as_u64()
                .and_then(|b| u32::try_from(b).ok())
                .filter(|b| (1..10_000).contains(b))
                .ok_or_else(|| bad("invalid_parameters", "`trail_bps` must be 1 to 9999"))?,
        ),
    };
    let trailing = match body["kind"].as_str() {
        Some("trailing") => true,
        Some("bracket") => false,
        None => trail_amount.is_some() || trail_bps.is_some(),
        Some(_) => {
            return Err(bad(
                "invalid_parameters",
                "`kind` must be bracket or trailing",
            ));
        }
    };
    let complete = if trailing {
        trail_amount.is_some() != trail_bps.is_some()
    } else {
        stop_loss.is_some() || take_profit.is_some()
    };
    if !complete {
        return Err(bad(
            "invalid_parameters",
            "a bracket needs a stop-loss or take-profit price; a trailing stop one of trail_amount and trail_bps",
        ));
    }
    let anchor = body["anchor_order_id"]
        .as_str()
        .filter(|s| !s.is_empty())
        .map(str::to_owned);
    if let Some(anchor) = &anchor {
        let index = state.margin.by_id.get(anchor);
        if index.is_none_or(|i| state.margin.orders[*i].owner != owner) {
            return Err(not_found("anchor order"));
        }
    }
    let count = match &body["count"] {
        Value::Null => None,
        _ => Some(count_field(body, "count", false)?)
            .filter(|c| c.fract().is_zero())
            .map(Some)
            .ok_or_else(|| {
                bad(
                    "invalid_parameters",
                    "`count` must be a whole number of contracts",
                )
            })?,
    };
    if anchor.is_some() && count.is_some() {
        return Err(bad(
            "invalid_parameters",
            "an anchored trigger takes its count from the anchor order",
        ));
    }
    if anchor.is_none() && state.margin.position(&owner, &ticker).is_zero() {
        return Err(bad("no_position", "there is no position to protect"));
    }
    // A repeated `client_trigger_id` answers the trigger it made: a retry
    // makes no second one.
    let client_trigger_id = body["client_trigger_id"].as_str().filter(|s| !s.is_empty());
    if let Some(id) = client_trigger_id
        && let Some(t) =
            state.margin.triggers.iter().find(|t| {
                t.owner == owner && t.client_trigger_id.as_deref() == Some(id) && is_live(t)
            })
    {
        return ok(trigger_json(&state.margin, t));
    }
    if isolated {
        // One isolated trigger per kind: a new one replaces the old.
        for t in &mut state.margin.triggers {
            if t.isolated
                && t.owner == owner
                && t.ticker == ticker
                && t.trailing == trailing
                && is_live(t)
            {
                t.status = "canceled";
                t.reason = Some("user_canceled");
                t.updated_ms = call.now_ms;
            }
        }
    }
    let id = state.margin.id("margin-trigger");
    let trigger = Trigger {
        id,
        owner,
        ticker,
        isolated,
        trailing,
        status: if anchor.is_some() {
            "pending_on_entry"
        } else {
            "active"
        },
        reason: None,
        leg: None,
        triggered_order_id: None,
        anchor_order_id: anchor,
        client_trigger_id: client_trigger_id.map(str::to_owned),
        stop_loss,
        take_profit,
        trail_amount,
        trail_bps,
        watermark: None,
        long: None,
        count,
        filled: Decimal::ZERO,
        created_ms: call.now_ms,
        updated_ms: call.now_ms,
    };
    state.margin.triggers.push(trigger);
    state.margin.settle_triggers(call.now_ms);
    let t = state.margin.triggers.last().expect("just pushed");
    ok(trigger_json(&state.margin, t))
}

/// The owner of a trigger request: isolated triggers live on the primary
/// account; cross triggers on the `subaccount` of the query.
fn trigger_owner(state: &State, call: &Call, isolated: bool) -> Result<Owner, ApiErr> {
    let subaccount = if isolated {
        None
    } else {
        call.query_subaccount()?
    };
    margin_owner(state, call, subaccount)
}

fn is_live(t: &Trigger) -> bool {
    matches!(t.status, "active" | "pending_on_entry")
}

fn matching<'a>(
    state: &'a State,
    call: &'a Call,
    isolated: bool,
) -> Result<impl Iterator<Item = usize> + 'a, ApiErr> {
    let owner = trigger_owner(state, call, isolated)?;
    let ticker = call.param("ticker");
    let kind = call.query("kind");
    Ok(state
        .margin
        .triggers
        .iter()
        .enumerate()
        .filter_map(move |(i, t)| {
            let kind_name = if t.trailing { "trailing" } else { "bracket" };
            (t.isolated == isolated
                && t.owner == owner
                && t.ticker == ticker
                && t.reason != Some("user_canceled")
                && kind.is_none_or(|k| k == kind_name))
            .then_some(i)
        }))
}

fn list_triggers(state: &mut State, call: &Call, isolated: bool) -> Answer {
    let list: Vec<Value> = matching(state, call, isolated)?
        .map(|i| trigger_json(&state.margin, &state.margin.triggers[i]))
        .collect();
    ok(json!({ "exit_triggers": list }))
}

fn cancel_triggers(state: &mut State, indexes: &[usize], now_ms: i64) {
    for i in indexes {
        let t = &mut state.margin.triggers[*i];
        if is_live(t) {
            t.status = "canceled";
            t.reason = Some("user_canceled");
            t.updated_ms = now_ms;
        }
    }
}

fn delete_triggers(state: &mut State, call: &Call, isolated: bool) -> Answer {
    let live: Vec<usize> = matching(state, call, isolated)?
        .filter(|i| is_live(&state.margin.triggers[*i]))
        .collect();
    cancel_triggers(state, &live, call.now_ms);
    Ok((204, None))
}

fn by_id(state: &State, call: &Call) -> Result<usize, ApiErr> {
    let id = call.param("trigger_id");
    matching(state, call, false)?
        .find(|i| state.margin.triggers[*i].id == id)
        .ok_or_else(|| not_found("exit trigger"))
}

fn delete_trigger(state: &mut State, call: &Call) -> Answer {
    let i = by_id(state, call)?;
    cancel_triggers(state, &[i], call.now_ms);
    Ok((204, None))
}

fn update_trigger(state: &mut State, call: &Call) -> Answer {
    let i = by_id(state, call)?;
    let body = call.body();
    let (stop_loss, take_profit) = (
        optional_price(body, "stop_loss_price")?,
        optional_price(body, "take_profit_price")?,
    );
    let t = &mut state.margin.triggers[i];
    if t.trailing || !is_live(t) {
        return Err(bad(
            "invalid_parameters",
            "only a live bracket can be updated",
        ));
    }
    if stop_loss.is_none() && take_profit.is_none() {
        return Err(bad(
            "missing_parameters",
            "a stop-loss or take-profit price is required",
        ));
    }
    // A leg the request omits is cleared (the document says so).
    t.stop_loss = stop_loss;
    t.take_profit = take_profit;
    t.updated_ms = call.now_ms;
    state.margin.settle_triggers(call.now_ms);
    ok(trigger_json(&state.margin, &state.margin.triggers[i]))
}
