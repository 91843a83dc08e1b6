//! Order groups: a contracts limit shared by their orders, triggered when fills exceed it (`/portfolio/order_groups*`).
//!
//! The engine keeps the groups (limit, rolling 15-second window, triggered
//! state; see [`OrderGroup`]) and enforces them when orders are placed and
//! filled; this module reads the requests and answers in the spec's
//! shapes. Every change streams on `order_group_updates` by itself: the
//! feed publishes the engine's group events after the request.
//!
//! A group belongs to one subaccount of its user and only that
//! subaccount's orders join it. `is_auto_cancel_enabled` reports the
//! triggered state: while it is on, the group cancels (refuses) its orders.

use rust_decimal::Decimal;
use serde_json::{Value, json};

use crate::State;
use crate::api::{body_subaccount, count, ok};
use crate::engine::{OrderGroup, Reject};
use crate::http::{Answer, ApiErr, Call};

/// The largest contracts limit Kalshi accepts (whole contracts, from 1).
const MAX_LIMIT: i64 = 1_000_000;

/// What these operations keep between requests.
#[derive(Debug)]
pub(crate) struct Store {
    /// How many groups a user may hold at once (Kalshi: 100,000).
    max_groups_per_user: usize,
}

impl Default for Store {
    fn default() -> Self {
        Self {
            max_groups_per_user: 100_000,
        }
    }
}

/// Runs the handler of one of these operations, or `None` for another one.
pub(crate) fn dispatch(state: &mut State, call: &Call) -> Option<Answer> {
    let answer = match call.operation.name {
        "create_order_group" => create(state, call),
        "get_order_groups" => list(state, call),
        "get_order_group" => get(state, call),
        "delete_order_group" => delete(state, call),
        "reset_order_group" => reset(state, call),
        "trigger_order_group" => trigger(state, call),
        "update_order_group_limit" => update_limit(state, call),
        _ => return None,
    };
    Some(answer)
}

fn create(state: &mut State, call: &Call) -> Answer {
    let body = call.body();
    check_shard(body["exchange_index"].as_i64(), &body["exchange_index"])?;
    let limit = contracts_limit(body)?;
    let owner = call.owner(body_subaccount(body)?);
    if state.engine.order_groups_of(call.user()).len() >= state.order_groups.max_groups_per_user {
        return Err(ApiErr::bad_request(
            "order_group_limit_reached",
            "a user holds at most 100,000 order groups at a time",
        ));
    }
    let group = state
        .engine
        .create_order_group(&owner, limit)
        .map_err(refused)?;
    let answer = json!({
        "order_group_id": group.id, "subaccount": owner.subaccount, "exchange_index": 0
    });
    Ok((201, Some(answer)))
}

/// The user's groups, of one subaccount or of all.
fn list(state: &State, call: &Call) -> Answer {
    let subaccount = call.query_subaccount()?;
    let groups: Vec<Value> = state
        .engine
        .order_groups_of(call.user())
        .into_iter()
        .filter(|g| subaccount.is_none_or(|s| s == g.owner.subaccount))
        .map(group_json)
        .collect();
    ok(json!({ "order_groups": groups }))
}

/// One group and the ids of every order placed in it.
fn get(state: &State, call: &Call) -> Answer {
    let subaccount = call.query_subaccount()?;
    let group = state
        .engine
        .order_group(call.param("order_group_id"))
        .filter(|g| g.owner.user_id == call.user())
        .filter(|g| subaccount.is_none_or(|s| s == g.owner.subaccount))
        .ok_or_else(|| not_found(call.param("order_group_id")))?;
    let orders: Vec<&str> = state
        .engine
        .orders_in_group(&group.id)
        .iter()
        .map(|o| o.order_id.as_str())
        .collect();
    ok(json!({
        "is_auto_cancel_enabled": group.triggered, "contracts_limit_fp": count(group.limit),
        "orders": orders, "exchange_index": 0
    }))
}

/// Cancels the group's resting orders and removes it.
fn delete(state: &mut State, call: &Call) -> Answer {
    let owner = call.owner(query_shard_and_subaccount(call)?);
    state
        .engine
        .delete_order_group(&owner, call.param("order_group_id"))
        .map_err(refused)?;
    ok(json!({}))
}

/// Zeroes the matched contracts and lets the group take orders again.
fn reset(state: &mut State, call: &Call) -> Answer {
    let owner = call.owner(query_shard_and_subaccount(call)?);
    state
        .engine
        .reset_order_group(&owner, call.param("order_group_id"))
        .map_err(refused)?;
    ok(json!({}))
}

/// Cancels the group's resting orders and refuses new ones until reset.
fn trigger(state: &mut State, call: &Call) -> Answer {
    let owner = call.owner(query_shard_and_subaccount(call)?);
    state
        .engine
        .trigger_order_group(&owner, call.param("order_group_id"))
        .map_err(refused)?;
    ok(json!({}))
}

/// Sets a new limit; one below what the group matched in the window
/// triggers it.
fn update_limit(state: &mut State, call: &Call) -> Answer {
    let owner = call.owner(query_shard_and_subaccount(call)?);
    let limit = contracts_limit(call.body())?;
    state
        .engine
        .set_order_group_limit(&owner, call.param("order_group_id"), limit)
        .map_err(refused)?;
    ok(json!({}))
}

fn group_json(group: &OrderGroup) -> Value {
    json!({
        "id": group.id, "contracts_limit_fp": count(group.limit),
        "is_auto_cancel_enabled": group.triggered, "exchange_index": 0
    })
}

/// `contracts_limit` and/or `contracts_limit_fp` (they must agree): whole
/// contracts from 1 to 1,000,000, as Kalshi documents.
fn contracts_limit(body: &Value) -> Result<Decimal, ApiErr> {
    let invalid = || {
        ApiErr::bad_request(
            "invalid_parameters",
            &format!("the contracts limit must be a whole number from 1 to {MAX_LIMIT}"),
        )
    };
    let in_range = |limit: &Decimal| {
        limit.fract().is_zero() && *limit >= Decimal::ONE && *limit <= Decimal::from(MAX_LIMIT)
    };
    let whole = match &body["contracts_limit"] {
        Value::Null => None,
        value => Some(
            value
                .as_i64()
                .map(Decimal::from)
                .filter(in_range)
                .ok_or_else(invalid)?,
        ),
    };
    let fixed = match &body["contracts_limit_fp"] {
        Value::Null => None,
        value => Some(
            value
                .as_str()
                .and_then(|text| text.parse::<Decimal>().ok())
                .filter(in_range)
                .ok_or_else(invalid)?,
        ),
    };
    match (whole, fixed) {
        (Some(a), Some(b)) if a != b => Err(ApiErr::bad_request(
            "invalid_parameters",
            "contracts_limit and contracts_limit_fp must match",
        )),
        (Some(limit), _) | (None, Some(limit)) => Ok(limit),
        (None, None) => Err(ApiErr::bad_request(
            "missing_parameters",
            "contracts_limit or contracts_limit_fp is required",
        )),
    }
}

/// The simulator runs shard 0 only.
fn check_shard(index: Option<i64>, raw: &Value) -> Result<(), ApiErr> {
    match (index, raw) {
        (None, Value::Null) | (Some(0), _) => Ok(()),
        _ => Err(ApiErr::bad_request(
            "invalid_exchange_index",
            &format!("unknown exchange index {raw}"),
        )),
    }
}

/// `exchange_index` (shard 0 only) and `subaccount` of a query.
fn query_shard_and_subaccount(call: &Call) -> Result<Option<u32>, ApiErr> {
    if let Some(index) = call.query("exchange_index") {
        let raw = Value::String(index.to_owned());
        check_shard(index.parse::<i64>().ok(), &raw)?;
    }
    call.query_subaccount()
}

fn not_found(id: &str) -> ApiErr {
    ApiErr::new(404, "not_found", &format!("order group {id} not found"))
}

fn refused(error: Reject) -> ApiErr {
    match error {
        Reject::UnknownOrderGroup(id) => not_found(&id),
        other => ApiErr::bad_request(other.code(), &other.message()),
    }
}
