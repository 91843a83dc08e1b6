//! Moving funds within an account: between the event-contract and the
//! margined exchange instances and between subaccounts
//! (`/portfolio/intra_exchange_instance_transfer*`), with Kalshi's
//! duplicate prevention by `client_transfer_id`; and the FCM position
//! transfer, which Kalshi answers 400 until it enables it for an FCM.
//!
//! The simulator runs one shard (0) of each instance. Event-contract funds
//! are the matching engine's cash; the margined instance is a wallet per
//! user kept here, so a transfer moves money without creating or losing any.

use rust_decimal::Decimal;
use serde_json::{Value, json};

use crate::State;
use crate::engine::Owner;
use crate::http::{Answer, ApiErr, Call};

/// Transfers (the margined wallets are the margin exchange's cash).
#[derive(Debug, Default)]
pub(crate) struct Transfers {
    last_id: u64,
    /// Every accepted transfer, oldest first.
    done: Vec<Transfer>,
}

#[derive(Debug, Clone)]
struct Transfer {
    id: String,
    user: String,
    client_transfer_id: Option<String>,
    source: &'static str,
    destination: &'static str,
    amount: Decimal,
    created_ms: i64,
}

/// One side of a transfer.
#[derive(Debug, Clone, Copy)]
struct Side {
    instance: &'static str,
    subaccount: u32,
}

/// Runs the handler of a transfer operation, or `None` for another one.
pub(crate) fn dispatch(state: &mut State, call: &Call) -> Option<Answer> {
    let answer = match call.operation.name {
        "intra_exchange_instance_transfer" => transfer(state, call),
        "get_intra_exchange_instance_transfers" => list(state, call),
        "get_intra_exchange_instance_transfer" => get(state, call),
        "create_fcm_position_transfer" => Err(ApiErr::bad_request(
            "position_transfer_not_enabled",
            "FCM position transfers are not enabled for this account",
        )),
        _ => return None,
    };
    Some(answer)
}

fn instance(body: &Value, field: &str) -> Result<&'static str, ApiErr> {
    match body[field].as_str() {
        Some("event_contract") => Ok("event_contract"),
        Some("margined") => Ok("margined"),
        _ => Err(ApiErr::bad_request(
            "invalid_parameters",
            &format!("`{field}` must be event_contract or margined"),
        )),
    }
}

/// A shard or subaccount number from the body: absent is 0.
fn small_int(body: &Value, field: &str, max: u64) -> Result<u32, ApiErr> {
    match &body[field] {
        Value::Null => Ok(0),
        value => value
            .as_u64()
            .filter(|n| *n <= max)
            .and_then(|n| u32::try_from(n).ok())
            .ok_or_else(|| {
                ApiErr::bad_request(
                    "invalid_parameters",
                    &format!("`{field}` must be 0 to {max}"),
                )
            }),
    }
}

fn side(state: &State, user: &str, body: &Value, prefix: &str) -> Result<Side, ApiErr> {
    let instance = instance(body, prefix)?;
    if small_int(body, &format!("{prefix}_exchange_shard"), 100)? != 0 {
        return Err(ApiErr::bad_request(
            "invalid_exchange_shard",
            "the simulator runs shard 0 of each exchange instance",
        ));
    }
    let subaccount = small_int(body, &format!("{prefix}_subaccount"), 63)?;
    if subaccount != 0 && instance != "event_contract" {
        return Err(ApiErr::bad_request(
            "invalid_subaccount",
            "subaccounts are only supported for event contract to event contract transfers",
        ));
    }
    let exists = state
        .subaccounts
        .get(user)
        .is_some_and(|numbers| numbers.contains(&subaccount));
    if !exists {
        return Err(ApiErr::bad_request(
            "invalid_subaccount",
            &format!("subaccount {subaccount} does not exist"),
        ));
    }
    Ok(Side {
        instance,
        subaccount,
    })
}

fn transfer(state: &mut State, call: &Call) -> Answer {
    let body = call.body.clone().unwrap_or(Value::Null);
    let user = call.user.clone().unwrap_or_default();
    let (from, to) = (
        side(state, &user, &body, "source")?,
        side(state, &user, &body, "destination")?,
    );
    if from.instance == to.instance && from.subaccount == to.subaccount {
        return Err(ApiErr::bad_request(
            "invalid_parameters",
            "source and destination are the same",
        ));
    }
    let centicents = body["amount"].as_i64().filter(|n| *n > 0).ok_or_else(|| {
        ApiErr::bad_request("invalid_parameters", "`amount` must be a positive integer")
    })?;
    let amount = Decimal::new(centicents, 4);
    let client_transfer_id = match &body["client_transfer_id"] {
        Value::Null => None,
        Value::String(id) if uuid::Uuid::parse_str(id).is_ok() => Some(id.clone()),
        _ => {
            return Err(ApiErr::bad_request(
                "invalid_parameters",
                "`client_transfer_id` must be a UUID",
            ));
        }
    };
    if client_transfer_id.is_some() && (from.subaccount != 0 || to.subaccount != 0) {
        return Err(ApiErr::bad_request(
            "invalid_parameters",
            "client_transfer_id is only supported for primary accounts",
        ));
    }
    let store = &state.transfers;
    if let Some(id) = &client_transfer_id
        && store.done.iter().any(|t| {
            t.user == user && t.source == from.instance && t.client_transfer_id.as_ref() == Some(id)
        })
    {
        return Err(ApiErr::new(
            409,
            "duplicate_client_transfer_id",
            "a transfer with this client_transfer_id was already accepted",
        ));
    }
    debit(state, &user, from, amount)?;
    credit(state, &user, to, amount);
    let store = &mut state.transfers;
    store.last_id += 1;
    let id = format!("transfer-{}", store.last_id);
    store.done.push(Transfer {
        id: id.clone(),
        user,
        client_transfer_id,
        source: from.instance,
        destination: to.instance,
        amount,
        created_ms: call.now_ms,
    });
    Ok((200, Some(json!({ "transfer_id": id }))))
}

fn debit(state: &mut State, user: &str, side: Side, amount: Decimal) -> Result<(), ApiErr> {
    let short = |available: Decimal| {
        ApiErr::bad_request(
            "insufficient_balance",
            &format!("transfer of {amount} exceeds the available {available}"),
        )
    };
    if side.instance == "margined" {
        // What the margin exchange can spare: cash beyond margin in use.
        let owner = Owner {
            user_id: user.to_owned(),
            subaccount: 0,
        };
        let free = state.margin.withdrawable(&owner);
        if free < amount {
            return Err(short(free));
        }
        state.margin.deposit(&owner, -amount);
        return Ok(());
    }
    let owner = Owner {
        user_id: user.to_owned(),
        subaccount: side.subaccount,
    };
    let available = state.engine.available(&owner);
    if available < amount {
        return Err(short(available));
    }
    state.engine.deposit(&owner, -amount);
    Ok(())
}

fn credit(state: &mut State, user: &str, side: Side, amount: Decimal) {
    if side.instance == "margined" {
        let owner = Owner {
            user_id: user.to_owned(),
            subaccount: 0,
        };
        state.margin.deposit(&owner, amount);
        return;
    }
    let owner = Owner {
        user_id: user.to_owned(),
        subaccount: side.subaccount,
    };
    state.engine.deposit(&owner, amount);
}

fn transfer_json(transfer: &Transfer) -> Value {
    let mut json = json!({
        "transfer_id": transfer.id, "source": transfer.source, "destination": transfer.destination,
        "source_exchange_shard": 0, "destination_exchange_shard": 0,
        "amount": crate::api::dollars(transfer.amount), "status": "complete",
        "created_ts": transfer.created_ms / 1000
    });
    if let Some(id) = &transfer.client_transfer_id {
        json["client_transfer_id"] = json!(id);
    }
    json
}

fn list(state: &mut State, call: &Call) -> Answer {
    let user = call.user.clone().unwrap_or_default();
    let newest_first: Vec<Value> = state
        .transfers
        .done
        .iter()
        .rev()
        .filter(|t| t.user == user)
        .map(transfer_json)
        .collect();
    let (page, cursor) = crate::api::paginate_with(newest_first, call, 100, 1000)?;
    let mut json = json!({ "transfers": page });
    if !cursor.is_empty() {
        json["cursor"] = json!(cursor);
    }
    Ok((200, Some(json)))
}

fn get(state: &mut State, call: &Call) -> Answer {
    let user = call.user.clone().unwrap_or_default();
    let id = call.params.get("transfer_id").map_or("", String::as_str);
    let transfer = state
        .transfers
        .done
        .iter()
        .find(|t| t.id == id && t.user == user)
        .ok_or_else(|| ApiErr::new(404, "not_found", "transfer not found"))?;
    Ok((200, Some(json!({ "transfer": transfer_json(transfer) }))))
}
