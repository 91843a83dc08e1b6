//! The account around the orders: the resting orders' value, transfers
//! between subaccounts and their netting setting, deposits and withdrawals,
//! API limits and usage levels, the target balance allocation, and API keys.
//!
//! Cash lives in the matching engine: a subaccount transfer moves it there
//! ([`Engine::transfer`](crate::engine::Engine::transfer)), so balances
//! show it at once. Deposits and withdrawals are the funding the test
//! harness does (an account's starting cash, [`Simulator::deposit`]):
//! the simulator has no bank, so each is an `applied` ACH transfer.
//!
//! [`Simulator::deposit`]: crate::Simulator::deposit

mod api_keys;
mod usage;

use std::collections::HashMap;

use rust_decimal::Decimal;
use serde_json::{Value, json};

use crate::State;
use crate::api::{dollars, ok, paginate_with};
use crate::engine::{OrderStatus, Owner, Reject};
use crate::http::{Answer, ApiErr, Call};

pub(crate) use api_keys::authorize;

/// What these operations keep between requests.
#[derive(Debug, Default)]
pub(crate) struct Store {
    last_id: u64,
    /// Transfers between subaccounts, oldest first.
    transfers: Vec<SubaccountTransfer>,
    /// Netting per (user, subaccount); absent is off.
    netting: HashMap<(String, u32), bool>,
    /// Deposits (positive) and withdrawals (negative), oldest first.
    cash_movements: Vec<CashMovement>,
    /// Target balance allocation per user.
    allocations: HashMap<String, Allocation>,
    /// Keys made through the API, and their restrictions.
    keys: api_keys::Keys,
    /// Usage levels and the simulator's rate limits.
    usage: usage::Usage,
}

#[derive(Debug, Clone)]
struct SubaccountTransfer {
    id: String,
    user: String,
    client_transfer_id: String,
    from: u32,
    to: u32,
    cents: i64,
    created_ms: i64,
}

#[derive(Debug, Clone)]
struct CashMovement {
    id: String,
    user: String,
    /// Positive: a deposit; negative: a withdrawal.
    cents: i64,
    created_ms: i64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Allocation {
    /// (exchange index, percent).
    targets: Vec<(u64, u64)>,
    reservation: String,
}

impl Default for Allocation {
    /// Everything on the simulator's one exchange index, reserving the
    /// summed margin of resting orders (Kalshi's default).
    fn default() -> Self {
        Self {
            targets: vec![(0, 100)],
            reservation: "sum".to_owned(),
        }
    }
}

impl Store {
    fn next_id(&mut self, prefix: &str) -> String {
        self.last_id += 1;
        format!("{prefix}-{}", self.last_id)
    }

    /// Records the harness funding an account: `dollars` > 0 is a deposit,
    /// < 0 a withdrawal (whole cents, rounded).
    pub(crate) fn record_funding(&mut self, user: &str, dollars: Decimal, now_ms: i64) {
        let cents = i64::try_from((dollars * Decimal::ONE_HUNDRED).round()).unwrap_or(0);
        if cents != 0 {
            let id = self.next_id(if cents > 0 { "deposit" } else { "withdrawal" });
            self.cash_movements.push(CashMovement {
                id,
                user: user.to_owned(),
                cents,
                created_ms: now_ms,
            });
        }
    }

    /// The rate limits the simulator enforces, tokens per second (read,
    /// write), if it was configured with any.
    pub(crate) fn set_rate_limit(&mut self, limit: Option<(u32, u32)>) {
        self.usage.set_rate_limit(limit);
    }
}

/// Runs the handler of one of these operations, or `None` for another one.
/// The perps API budget (`/account/limits/perps`): the simulator meters
/// margin requests with the same buckets, so it reports the same numbers.
pub(crate) fn perps_limits(state: &State, call: &Call) -> Answer {
    usage::limits(state, call)
}

pub(crate) fn dispatch(state: &mut State, call: &Call) -> Option<Answer> {
    let answer = match call.operation.name {
        "get_portfolio_resting_order_total_value" => resting_value(state, call),
        "apply_subaccount_transfer" => transfer(state, call),
        "get_subaccount_transfers" => transfers(state, call),
        "get_subaccount_netting" => netting(state, call),
        "update_subaccount_netting" => set_netting(state, call),
        "get_deposits" => cash_movements(state, call, true),
        "get_withdrawals" => cash_movements(state, call, false),
        "get_target_balance_allocation" => allocation(state, call),
        "set_target_balance_allocation" => set_allocation(state, call),
        "get_account_api_limits" => usage::limits(state, call),
        "get_account_endpoint_costs" => usage::endpoint_costs(),
        "get_account_api_usage_level_volume_progress" => usage::volume_progress(state, call),
        "upgrade_account_api_usage_level" => usage::upgrade(state, call),
        "get_api_keys" => api_keys::list(state, call),
        "create_api_key" => api_keys::create(state, call),
        "generate_api_key" => api_keys::generate(state, call),
        "delete_api_key" => api_keys::delete(state, call),
        _ => return None,
    };
    Some(answer)
}

/// A subaccount transfer's `amount_cents`: a positive integer.
pub(crate) fn amount_cents(body: &Value) -> Result<i64, ApiErr> {
    body["amount_cents"]
        .as_i64()
        .filter(|c| *c > 0)
        .ok_or_else(|| {
            bad(
                "invalid_parameters",
                "`amount_cents` must be a positive integer",
            )
        })
}

fn bad(code: &str, message: &str) -> ApiErr {
    ApiErr::bad_request(code, message)
}

/// The subaccounts a user has (the primary always).
fn subaccounts_of(state: &State, user: &str) -> Vec<u32> {
    state
        .subaccounts
        .get(user)
        .cloned()
        .unwrap_or_else(|| vec![0])
}

/// A subaccount number from the body that the user has.
fn own_subaccount(state: &State, call: &Call, field: &str) -> Result<u32, ApiErr> {
    let number = call.body()[field]
        .as_u64()
        .filter(|n| *n <= 63)
        .and_then(|n| u32::try_from(n).ok())
        .ok_or_else(|| bad("invalid_subaccount", &format!("`{field}` must be 0 to 63")))?;
    if !subaccounts_of(state, call.user()).contains(&number) {
        return Err(bad(
            "invalid_subaccount",
            &format!("subaccount {number} does not exist"),
        ));
    }
    Ok(number)
}

/// What the user's resting orders hold, over every subaccount: the cost of
/// their remaining count at their limit price.
fn resting_value(state: &State, call: &Call) -> Answer {
    let total: Decimal = state
        .engine
        .orders_of(call.user())
        .into_iter()
        .filter(|o| o.status == OrderStatus::Resting)
        .map(|o| o.side.unit_cost(o.price) * o.remaining_count)
        .sum();
    let cents = i64::try_from((total * Decimal::ONE_HUNDRED).round()).unwrap_or(i64::MAX);
    ok(json!({
        "total_resting_order_value": cents,
        "resting_order_value_breakdown": [{ "exchange_index": 0, "balance": dollars(total) }]
    }))
}

// ---------------------------------------------------------------------------
// Subaccount transfers and netting
// ---------------------------------------------------------------------------

/// Moves cash between two subaccounts of the caller, once per
/// `client_transfer_id` (a repeat is refused with 409 and moves nothing).
fn transfer(state: &mut State, call: &Call) -> Answer {
    let body = call.body();
    let client_transfer_id = body["client_transfer_id"]
        .as_str()
        .filter(|id| uuid::Uuid::parse_str(id).is_ok())
        .ok_or_else(|| bad("invalid_parameters", "`client_transfer_id` must be a UUID"))?
        .to_owned();
    let from = own_subaccount(state, call, "from_subaccount")?;
    let to = own_subaccount(state, call, "to_subaccount")?;
    if from == to {
        return Err(bad(
            "invalid_parameters",
            "from_subaccount and to_subaccount are the same",
        ));
    }
    if !matches!(body["exchange_index"].as_i64(), None | Some(0)) {
        return Err(bad(
            "invalid_exchange_index",
            "the simulator runs exchange index 0",
        ));
    }
    let cents = amount_cents(body)?;
    let user = call.user().to_owned();
    let store = &state.account;
    if store
        .transfers
        .iter()
        .any(|t| t.user == user && t.client_transfer_id == client_transfer_id)
    {
        return Err(ApiErr::new(
            409,
            "duplicate_client_transfer_id",
            "a transfer with this client_transfer_id was already applied",
        ));
    }
    let owner = |subaccount| Owner {
        user_id: user.clone(),
        subaccount,
    };
    state
        .engine
        .transfer(&owner(from), &owner(to), Decimal::new(cents, 2))
        .map_err(|error| match error {
            Reject::InsufficientBalance { .. } => bad("insufficient_balance", &error.message()),
            other => bad(other.code(), &other.message()),
        })?;
    let id = state.account.next_id("subaccount-transfer");
    state.account.transfers.push(SubaccountTransfer {
        id,
        user,
        client_transfer_id,
        from,
        to,
        cents,
        created_ms: call.now_ms,
    });
    ok(json!({}))
}

fn transfers(state: &State, call: &Call) -> Answer {
    let newest_first: Vec<Value> = state
        .account
        .transfers
        .iter()
        .rev()
        .filter(|t| t.user == call.user())
        .map(|t| {
            json!({
                "transfer_id": t.id, "from_subaccount": t.from, "to_subaccount": t.to,
                "amount_cents": t.cents, "created_ts": t.created_ms.div_euclid(1000), "exchange_index": 0
            })
        })
        .collect();
    let (page, cursor) = paginate_with(newest_first, call, 100, 1000)?;
    ok(with_cursor(json!({ "transfers": page }), cursor))
}

/// Adds `cursor` to a list body when there is a next page.
fn with_cursor(mut body: Value, cursor: String) -> Value {
    if !cursor.is_empty() {
        body["cursor"] = json!(cursor);
    }
    body
}

/// The netting setting of each subaccount. It is stored and reported; it
/// changes no margin in the simulator, because none of its events has a
/// collateral-return type (`collateral_return_type` is empty), which is
/// what netting applies to. A YES and a NO of the same market always net,
/// whatever the setting (see the engine's ledger).
fn netting(state: &State, call: &Call) -> Answer {
    let configs: Vec<Value> = subaccounts_of(state, call.user())
        .into_iter()
        .map(|n| {
            let enabled = state
                .account
                .netting
                .get(&(call.user().to_owned(), n))
                .copied()
                .unwrap_or(false);
            json!({ "subaccount_number": n, "enabled": enabled, "exchange_index": 0 })
        })
        .collect();
    ok(json!({ "netting_configs": configs }))
}

fn set_netting(state: &mut State, call: &Call) -> Answer {
    let number = own_subaccount(state, call, "subaccount_number")?;
    let enabled = call.body()["enabled"]
        .as_bool()
        .ok_or_else(|| bad("invalid_parameters", "`enabled` must be a boolean"))?;
    state
        .account
        .netting
        .insert((call.user().to_owned(), number), enabled);
    Ok((200, None))
}

// ---------------------------------------------------------------------------
// Deposits and withdrawals
// ---------------------------------------------------------------------------

fn cash_movements(state: &State, call: &Call, deposits: bool) -> Answer {
    let newest_first: Vec<Value> = state
        .account
        .cash_movements
        .iter()
        .rev()
        .filter(|m| m.user == call.user() && (m.cents > 0) == deposits)
        .map(|m| {
            let ts = m.created_ms.div_euclid(1000);
            json!({
                "id": m.id, "status": "applied", "type": "ach", "amount_cents": m.cents.saturating_abs(),
                "fee_cents": 0, "created_ts": ts, "finalized_ts": ts
            })
        })
        .collect();
    let (page, cursor) = paginate_with(newest_first, call, 100, 500)?;
    let key = if deposits { "deposits" } else { "withdrawals" };
    ok(with_cursor(json!({ key: page }), cursor))
}

// ---------------------------------------------------------------------------
// Target balance allocation
// ---------------------------------------------------------------------------

fn allocation_json(allocation: &Allocation) -> Value {
    let targets: Vec<Value> = allocation
        .targets
        .iter()
        .map(|(index, percent)| json!({ "exchange_index": index, "percent": percent }))
        .collect();
    json!({ "allocations": targets, "resting_margin_reservation": allocation.reservation })
}

fn allocation(state: &State, call: &Call) -> Answer {
    let stored = state.account.allocations.get(call.user());
    ok(allocation_json(&stored.cloned().unwrap_or_default()))
}

/// Stores the allocation: each exchange index once, percents of 0–100
/// adding up to 100. The simulator runs one exchange index (0), so its
/// sweeps have nowhere else to go and the setting moves no cash.
fn set_allocation(state: &mut State, call: &Call) -> Answer {
    let body = call.body();
    let items = body["allocations"]
        .as_array()
        .filter(|a| !a.is_empty() && a.len() <= 101)
        .ok_or_else(|| {
            bad(
                "invalid_parameters",
                "`allocations` must hold 1 to 101 entries",
            )
        })?;
    let mut targets = Vec::with_capacity(items.len());
    for item in items {
        let index = item["exchange_index"].as_u64();
        let percent = item["percent"].as_u64().filter(|p| *p <= 100);
        let (Some(index), Some(percent)) = (index, percent) else {
            return Err(bad(
                "invalid_parameters",
                "each allocation needs an exchange_index ≥ 0 and a percent of 0 to 100",
            ));
        };
        if index != 0 {
            return Err(bad(
                "invalid_exchange_index",
                &format!("unknown exchange index {index}"),
            ));
        }
        if targets.iter().any(|(i, _)| *i == index) {
            return Err(bad("invalid_parameters", "an exchange index appears twice"));
        }
        targets.push((index, percent));
    }
    if targets.iter().map(|(_, p)| p).sum::<u64>() != 100 {
        return Err(bad("invalid_parameters", "the percents must add up to 100"));
    }
    let reservation = match body["resting_margin_reservation"].as_str() {
        None => "sum",
        Some(r @ ("none" | "max" | "sum")) => r,
        Some(_) => {
            return Err(bad(
                "invalid_parameters",
                "`resting_margin_reservation` must be none, max or sum",
            ));
        }
    };
    let allocation = Allocation {
        targets,
        reservation: reservation.to_owned(),
    };
    state
        .account
        .allocations
        .insert(call.user().to_owned(), allocation);
    ok(json!({}))
}
