//! Requests for quotes, quotes and block trades between accounts, with their
//! lifecycle (`/communications/*`).
//!
//! # RFQs and quotes
//!
//! An RFQ asks every other account for a price on one market and size. It is
//! `open` until its creator deletes it or one of its quotes executes; then it
//! is `closed`. RFQs are broadcast, so every account lists and reads them
//! (the creator's private fields only to the creator, the creator's
//! communications id hidden behind Kalshi's placeholder when
//! `obscure_creator_id` asked for it, until a quote executes).
//!
//! A quote is private between its maker and the RFQ's creator. It carries
//! two bids: the maker buys YES at `yes_bid` and NO at `no_bid` (0 declines
//! that side; together they stay below $1, as for RFQ batches). The creator
//! accepts one side, which names the bid it takes: `accepted_side = yes`
//! sells YES to the maker at `yes_bid` (the creator ends up long NO at
//! `1 − yes_bid`), `no` sells NO at `no_bid` (the creator ends up long YES
//! at `1 − no_bid`). One quote per RFQ may be accepted at a time. The maker
//! then confirms, and the trade executes at once (Kalshi waits for an
//! execution timer; the simulator has no timer, so `confirmed` is passed
//! through within the confirm request and the quote reads `executed`).
//!
//! Execution goes through the matching engine like any order (see
//! [`execution`]): the maker's order rests at the quote price, then the
//! creator's immediate-or-cancel order trades against it, so fills,
//! positions and cash are the engine's own. As on Kalshi, these orders are
//! on the public book: a better resting price is taken first.
//!
//! # Block trades
//!
//! See [`block_trades`].

mod block_trades;
mod execution;

use std::collections::BTreeMap;

use rust_decimal::Decimal;
use serde_json::{Value, json};

use crate::State;
use crate::api::{comms_id, count, dollars, ok, rfc3339};
use crate::engine::{MarketState, Owner, Side};
use crate::http::{Answer, ApiErr, Call};

/// What other users see instead of an obscured creator's communications id:
/// the SHA-256 of empty input, as Kalshi documents.
const OBSCURED_ID: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
/// Open RFQs one user may have.
const MAX_OPEN_RFQS: usize = 100;
/// The largest size accepted, far above any real RFQ; keeps price × size
/// arithmetic far from `Decimal`'s limits.
const MAX_CONTRACTS: i64 = 1_000_000_000;

/// RFQs, quotes and block trade proposals of the whole exchange.
#[derive(Debug, Default)]
pub(crate) struct Store {
    last_id: u64,
    rfqs: BTreeMap<String, Rfq>,
    quotes: BTreeMap<String, Quote>,
    proposals: BTreeMap<String, block_trades::Proposal>,
}

#[derive(Debug, Clone)]
struct Rfq {
    id: String,
    /// The authenticated user who created it.
    creator: String,
    /// Whose cash and position trade: the creator's subaccount, or one of
    /// its FCM subtraders.
    account: Owner,
    market_ticker: String,
    size: Size,
    rest_remainder: bool,
    obscure_creator: bool,
    open: bool,
    cancellation_reason: Option<&'static str>,
    executed: bool,
    created_ms: i64,
    updated_ms: i64,
    closed_ms: Option<i64>,
}

/// How an RFQ is sized.
#[derive(Debug, Clone, Copy)]
enum Size {
    Contracts(Decimal),
    /// Dollars the creator spends; `bool`: the cost excludes fees.
    TargetCost(Decimal, bool),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum QuoteStatus {
    Open,
    Accepted,
    Confirmed,
    Executed,
    Cancelled,
}

impl QuoteStatus {
    fn word(self) -> &'static str {
        match self {
            QuoteStatus::Open => "open",
            QuoteStatus::Accepted => "accepted",
            QuoteStatus::Confirmed => "confirmed",
            QuoteStatus::Executed => "executed",
            QuoteStatus::Cancelled => "cancelled",
        }
    }

    fn parse(text: &str) -> Result<Self, ApiErr> {
        [
            QuoteStatus::Open,
            QuoteStatus::Accepted,
            QuoteStatus::Confirmed,
            QuoteStatus::Executed,
            QuoteStatus::Cancelled,
        ]
        .into_iter()
        .find(|s| s.word() == text)
        .ok_or_else(|| invalid(&format!("unknown quote status {text:?}")))
    }
}

/// The side of a quote an RFQ creator takes (see the module docs).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Taken {
    Yes,
    No,
}

#[derive(Debug, Clone)]
struct Quote {
    id: String,
    rfq_id: String,
    maker: String,
    account: Owner,
    yes_bid: Decimal,
    no_bid: Decimal,
    rest_remainder: bool,
    post_only: bool,
    status: QuoteStatus,
    accepted_side: Option<Taken>,
    cancellation_reason: Option<&'static str>,
    created_ms: i64,
    updated_ms: i64,
    accepted_ms: Option<i64>,
    confirmed_ms: Option<i64>,
    executed_ms: Option<i64>,
    cancelled_ms: Option<i64>,
    maker_order_id: Option<String>,
    creator_order_id: Option<String>,
}

impl Quote {
    fn cancel(&mut self, reason: &'static str, now_ms: i64) {
        self.status = QuoteStatus::Cancelled;
        self.cancellation_reason = Some(reason);
        self.cancelled_ms = Some(now_ms);
        self.updated_ms = now_ms;
    }

    /// The maker's bid on `side`, 0 when declined.
    fn bid(&self, side: Taken) -> Decimal {
        match side {
            Taken::Yes => self.yes_bid,
            Taken::No => self.no_bid,
        }
    }
}

/// Runs the handler of one of these operations, or `None` for another one.
pub(crate) fn dispatch(state: &mut State, call: &Call) -> Option<Answer> {
    let answer = match call.operation.name {
        "create_rfq" => create_rfq(state, call),
        "get_rf_qs" => list_rfqs(state, call),
        "get_rfq" => get_rfq(state, call),
        "delete_rfq" => delete_rfq(state, call),
        "create_quote" => create_quote(state, call),
        "get_quotes" => list_quotes(state, call),
        "get_quote" | "get_rfq_quote" => get_quote(state, call),
        "delete_quote" | "delete_rfq_quote" => delete_quote(state, call),
        "accept_quote" | "accept_rfq_quote" => accept_quote(state, call),
        "confirm_quote" | "confirm_rfq_quote" => confirm_quote(state, call),
        "propose_block_trade" => block_trades::propose(state, call),
        "accept_block_trade_proposal" => block_trades::accept(state, call),
        "get_block_trade_proposals" => block_trades::list(state, call),
        _ => return None,
    };
    Some(answer)
}

// ---------------------------------------------------------------------------
// Shared helpers
// ---------------------------------------------------------------------------

/// A new id shaped as a UUID v4, from a counter (ids sort in creation order
/// within their length, and tests are reproducible).
fn next_id(store: &mut Store) -> String {
    store.last_id += 1;
    let mut bytes = [0u8; 16];
    bytes[..6].copy_from_slice(&store.last_id.to_be_bytes()[2..]);
    bytes[6] = 0xc; // a namespace apart from the engine's and the batches' ids
    uuid::Builder::from_random_bytes(bytes)
        .into_uuid()
        .to_string()
}

fn invalid(message: &str) -> ApiErr {
    ApiErr::bad_request("invalid_parameters", message)
}

fn not_found(what: &str) -> ApiErr {
    ApiErr::new(404, "not_found", &format!("{what} not found"))
}

/// An id from the path or query: Kalshi answers 400 for one that is not a
/// UUID.
fn uuid_param<'a>(call: &'a Call, name: &str) -> Result<&'a str, ApiErr> {
    let id = call.param(name);
    uuid::Uuid::parse_str(id)
        .map(|_| id)
        .map_err(|_| invalid(&format!("`{name}` must be a UUID")))
}

/// A price field: a decimal string in [0, 1) with at most 4 places.
fn bid_field(body: &Value, field: &str) -> Result<Decimal, ApiErr> {
    body[field]
        .as_str()
        .and_then(|t| t.parse::<Decimal>().ok())
        .filter(|d| *d >= Decimal::ZERO && *d < Decimal::ONE && d.normalize().scale() <= 4)
        .ok_or_else(|| invalid(&format!("`{field}` must be a dollar price in [0, 1)")))
}

/// A positive contract count with at most 2 places, within range.
fn contracts(value: Decimal, field: &str) -> Result<Decimal, ApiErr> {
    let fine = value > Decimal::ZERO
        && value.normalize().scale() <= 2
        && value <= Decimal::from(MAX_CONTRACTS);
    if fine {
        Ok(value)
    } else {
        Err(invalid(&format!(
            "`{field}` must be a positive count with at most 2 decimal places"
        )))
    }
}

/// `value` rounded down to whole cents of a contract.
fn floor_count(value: Decimal) -> Decimal {
    value.round_dp_with_strategy(2, rust_decimal::RoundingStrategy::ToZero)
}

/// The account an FCM member or a direct member trades for: a subtrader
/// of the caller, or a subaccount (never both).
fn account_of(
    state: &State,
    user: &str,
    subaccount: Option<u32>,
    subtrader: Option<&str>,
) -> Result<Owner, ApiErr> {
    match (subaccount, subtrader.filter(|s| !s.is_empty())) {
        (Some(_), Some(_)) => Err(invalid("give either a subaccount or a subtrader_id")),
        (_, Some(subtrader)) if crate::catalog::is_subtrader_of(state, user, subtrader) => {
            Ok(Owner {
                user_id: subtrader.to_owned(),
                subaccount: 0,
            })
        }
        (_, Some(subtrader)) => Err(invalid(&format!(
            "{subtrader} is not one of your FCM subtraders"
        ))),
        (subaccount, None) => Ok(Owner {
            user_id: user.to_owned(),
            subaccount: subaccount.unwrap_or(0),
        }),
    }
}

/// The market must be listed and trading.
fn tradable_market(state: &State, ticker: &str) -> Result<(), ApiErr> {
    if state.catalog.market(ticker).is_none() {
        return Err(ApiErr::bad_request(
            "market_not_found",
            &format!("no market {ticker}"),
        ));
    }
    if state.engine.market_state(ticker) != Some(MarketState::Open) {
        return Err(ApiErr::bad_request(
            "market_closed",
            &format!("market {ticker} is not open for trading"),
        ));
    }
    Ok(())
}

/// `min_ts` / `max_ts`: Unix seconds.
fn seconds_param(call: &Call, name: &str) -> Result<Option<i64>, ApiErr> {
    call.query(name)
        .map(|text| {
            text.parse::<i64>()
                .map_err(|_| invalid(&format!("`{name}` must be Unix seconds")))
        })
        .transpose()
}

/// `user_filter` and its kin take only `self`.
fn self_filter(call: &Call, name: &str) -> Result<bool, ApiErr> {
    match call.query(name) {
        None | Some("") => Ok(false),
        Some("self") => Ok(true),
        Some(other) => Err(invalid(&format!("`{name}` takes only self, not {other:?}"))),
    }
}

// ---------------------------------------------------------------------------
// JSON
// ---------------------------------------------------------------------------

/// The creator's communications id as `viewer` may see it.
fn creator_id_for(rfq: &Rfq, viewer: &str) -> String {
    if rfq.obscure_creator && !rfq.executed && rfq.creator != viewer {
        OBSCURED_ID.to_owned()
    } else {
        comms_id(&rfq.creator)
    }
}

fn rfq_json(state: &State, rfq: &Rfq, viewer: &str) -> Value {
    let contracts = match rfq.size {
        Size::Contracts(n) => n,
        Size::TargetCost(..) => Decimal::ZERO,
    };
    let mut json = json!({
        "id": rfq.id, "creator_id": creator_id_for(rfq, viewer), "market_ticker": rfq.market_ticker,
        "contracts_fp": count(contracts), "status": if rfq.open { "open" } else { "closed" },
        "created_ts": rfc3339(rfq.created_ms), "updated_ts": rfc3339(rfq.updated_ms),
        "rest_remainder": rfq.rest_remainder
    });
    if let Size::TargetCost(cost, excludes_fees) = rfq.size {
        json["target_cost_dollars"] = json!(dollars(cost));
        json["target_cost_excludes_fees"] = json!(excludes_fees);
    }
    if let Some(reason) = rfq.cancellation_reason {
        json["cancellation_reason"] = json!(reason);
    }
    if let (Some(closed), false) = (rfq.closed_ms, rfq.executed) {
        json["cancelled_ts"] = json!(rfc3339(closed));
    }
    if rfq.creator == viewer {
        json["creator_user_id"] = json!(rfq.creator);
        json["creator_subaccount"] = json!(rfq.account.subaccount);
    }
    if let Some((collection, legs)) = crate::catalog::combo_legs(state, &rfq.market_ticker) {
        json["mve_collection_ticker"] = json!(collection);
        json["mve_selected_legs"] = legs;
    }
    json
}

/// Contracts the quote offers on `side`: the RFQ's size, or what its target
/// cost buys at the price the creator pays on that side; `None` when the
/// maker declined the side.
fn offered(rfq: &Rfq, quote: &Quote, side: Taken) -> Option<Decimal> {
    let bid = quote.bid(side);
    if bid.is_zero() {
        return None;
    }
    Some(match rfq.size {
        Size::Contracts(n) => n,
        // The creator pays the complement of the bid it takes.
        Size::TargetCost(cost, _) => floor_count(cost / (Decimal::ONE - bid)),
    })
}

fn quote_json(rfq: &Rfq, quote: &Quote, viewer: &str) -> Value {
    let is_maker = quote.maker == viewer;
    let is_creator = rfq.creator == viewer;
    // The counterparty of an executed quote learns the creator's id.
    let creator_id = if quote.status == QuoteStatus::Executed && is_maker {
        comms_id(&rfq.creator)
    } else {
        creator_id_for(rfq, viewer)
    };
    let size = match rfq.size {
        Size::Contracts(n) => n,
        Size::TargetCost(..) => Decimal::ZERO,
    };
    let mut json = json!({
        "id": quote.id, "rfq_id": rfq.id, "creator_id": comms_id(&quote.maker), "rfq_creator_id": creator_id,
        "market_ticker": rfq.market_ticker, "contracts_fp": count(size),
        "yes_bid_dollars": dollars(quote.yes_bid), "no_bid_dollars": dollars(quote.no_bid),
        "created_ts": rfc3339(quote.created_ms), "updated_ts": rfc3339(quote.updated_ms),
        "status": quote.status.word(), "rest_remainder": quote.rest_remainder
    });
    let stamps = [
        ("accepted_ts", quote.accepted_ms),
        ("confirmed_ts", quote.confirmed_ms),
        ("executed_ts", quote.executed_ms),
        ("cancelled_ts", quote.cancelled_ms),
    ];
    for (field, stamp) in stamps {
        if let Some(ms) = stamp {
            json[field] = json!(rfc3339(ms));
        }
    }
    if let Some(side) = quote.accepted_side {
        json["accepted_side"] = json!(if side == Taken::Yes { "yes" } else { "no" });
    }
    if let Some(reason) = quote.cancellation_reason {
        json["cancellation_reason"] = json!(reason);
    }
    for (field, side) in [
        ("yes_contracts_fp", Taken::Yes),
        ("no_contracts_fp", Taken::No),
    ] {
        if let Some(n) = offered(rfq, quote, side) {
            json[field] = json!(count(n));
        }
    }
    if let Size::TargetCost(cost, excludes_fees) = rfq.size {
        json["rfq_target_cost_dollars"] = json!(dollars(cost));
        json["target_cost_excludes_fees"] = json!(excludes_fees);
    }
    if is_maker {
        json["post_only"] = json!(quote.post_only);
        json["creator_user_id"] = json!(quote.maker);
        json["creator_subaccount"] = json!(quote.account.subaccount);
        if let Some(id) = &quote.maker_order_id {
            json["creator_order_id"] = json!(id);
        }
    }
    if is_creator {
        json["rfq_creator_user_id"] = json!(rfq.creator);
        json["rfq_creator_subaccount"] = json!(rfq.account.subaccount);
        if let Some(id) = &quote.creator_order_id {
            json["rfq_creator_order_id"] = json!(id);
        }
    }
    json
}

// ---------------------------------------------------------------------------
// RFQs
// ---------------------------------------------------------------------------

/// `contracts` / `contracts_fp` (which must agree) or a target cost.
fn rfq_size(body: &Value) -> Result<Size, ApiErr> {
    let whole = match &body["contracts"] {
        Value::Null => None,
        value => Some(
            value
                .as_i64()
                .map(Decimal::from)
                .ok_or_else(|| invalid("`contracts` must be an integer"))?,
        ),
    };
    let fixed = match &body["contracts_fp"] {
        Value::Null => None,
        value => Some(
            value
                .as_str()
                .and_then(|t| t.parse::<Decimal>().ok())
                .ok_or_else(|| invalid("`contracts_fp` must be a decimal string"))?,
        ),
    };
    let cost = match (
        &body["target_cost_dollars"],
        &body["target_cost_centi_cents"],
    ) {
        (Value::Null, Value::Null) => None,
        (Value::String(text), Value::Null) => Some(text.parse::<Decimal>().ok()),
        (Value::Null, Value::Number(n)) => Some(n.as_i64().map(|c| Decimal::new(c, 4))),
        _ => return Err(invalid("give one target cost, in dollars")),
    };
    let excludes_fees = body["target_cost_excludes_fees"].as_bool();
    let contracts_given = match (whole, fixed) {
        (Some(a), Some(b)) if a != b => {
            return Err(invalid("`contracts` and `contracts_fp` must match"));
        }
        (a, b) => a.or(b),
    };
    match (contracts_given, cost) {
        (Some(n), None) if excludes_fees.is_none() => {
            Ok(Size::Contracts(contracts(n, "contracts_fp")?))
        }
        (Some(_), None) => Err(invalid(
            "target_cost_excludes_fees is only valid with a target cost",
        )),
        (None, Some(cost)) => {
            let cost = cost
                .filter(|c| {
                    *c > Decimal::ZERO
                        && c.normalize().scale() <= 6
                        && *c <= Decimal::from(MAX_CONTRACTS)
                })
                .ok_or_else(|| invalid("the target cost must be a positive dollar amount"))?;
            Ok(Size::TargetCost(cost, excludes_fees.unwrap_or(false)))
        }
        (Some(_), Some(_)) => Err(invalid("give contracts or a target cost, not both")),
        (None, None) => Err(ApiErr::bad_request(
            "missing_parameters",
            "give contracts_fp or target_cost_dollars",
        )),
    }
}

fn create_rfq(state: &mut State, call: &Call) -> Answer {
    let body = call.body();
    let me = call.user().to_owned();
    let ticker = body["market_ticker"]
        .as_str()
        .filter(|t| !t.is_empty())
        .ok_or_else(|| ApiErr::bad_request("missing_parameters", "`market_ticker` is required"))?
        .to_owned();
    let rest_remainder = body["rest_remainder"]
        .as_bool()
        .ok_or_else(|| ApiErr::bad_request("missing_parameters", "`rest_remainder` is required"))?;
    let size = rfq_size(body)?;
    let account = account_of(
        state,
        &me,
        crate::api::body_subaccount(body)?,
        body["subtrader_id"].as_str(),
    )?;
    tradable_market(state, &ticker)?;
    let now = call.now_ms;
    let store = &mut state.communications;
    if body["replace_existing"].as_bool() == Some(true) {
        let replaced: Vec<String> = store
            .rfqs
            .values()
            .filter(|r| r.open && r.creator == me && r.market_ticker == ticker)
            .map(|r| r.id.clone())
            .collect();
        for id in replaced {
            close_rfq(store, &id, "replaced", now);
        }
    }
    let open = store
        .rfqs
        .values()
        .filter(|r| r.open && r.creator == me)
        .count();
    if open >= MAX_OPEN_RFQS {
        return Err(ApiErr::new(
            409,
            "too_many_open_rfqs",
            "at most 100 RFQs may be open at a time",
        ));
    }
    let id = next_id(store);
    store.rfqs.insert(
        id.clone(),
        Rfq {
            id: id.clone(),
            creator: me,
            account,
            market_ticker: ticker,
            size,
            rest_remainder,
            obscure_creator: body["obscure_creator_id"].as_bool().unwrap_or(false),
            open: true,
            cancellation_reason: None,
            executed: false,
            created_ms: now,
            updated_ms: now,
            closed_ms: None,
        },
    );
    Ok((201, Some(json!({ "id": id }))))
}

/// Closes an RFQ; its quotes still in play are cancelled.
fn close_rfq(store: &mut Store, id: &str, reason: &'static str, now_ms: i64) {
    if let Some(rfq) = store.rfqs.get_mut(id) {
        rfq.open = false;
        rfq.cancellation_reason = Some(reason);
        rfq.closed_ms = Some(now_ms);
        rfq.updated_ms = now_ms;
    }
    let live = [QuoteStatus::Open, QuoteStatus::Accepted];
    for quote in store
        .quotes
        .values_mut()
        .filter(|q| q.rfq_id == id && live.contains(&q.status))
    {
        quote.cancel("rfq_closed", now_ms);
    }
}

fn list_rfqs(state: &mut State, call: &Call) -> Answer {
    let me = call.user();
    let open = match call.query("status") {
        None | Some("") => None,
        Some("open") => Some(true),
        Some("closed") => Some(false),
        Some(other) => return Err(invalid(&format!("unknown RFQ status {other:?}"))),
    };
    let only_mine = self_filter(call, "user_filter")?;
    let creator = call.query("creator_user_id").filter(|c| !c.is_empty());
    let market = call.query("market_ticker").filter(|t| !t.is_empty());
    let event = call.query("event_ticker").filter(|t| !t.is_empty());
    let subaccount = call.query_subaccount()?;
    let mut rfqs: Vec<&Rfq> = state
        .communications
        .rfqs
        .values()
        .filter(|r| open.is_none_or(|o| o == r.open))
        .filter(|r| !only_mine || r.creator == me)
        .filter(|r| creator.is_none_or(|c| c == r.creator))
        .filter(|r| market.is_none_or(|m| m == r.market_ticker))
        .filter(|r| {
            event.is_none_or(|e| {
                state
                    .catalog
                    .market(&r.market_ticker)
                    .is_some_and(|m| m.event_ticker == e)
            })
        })
        .filter(|r| subaccount.is_none_or(|s| r.creator == me && r.account.subaccount == s))
        .collect();
    // Newest first; ids grow with creation.
    rfqs.sort_by(|a, b| (b.created_ms, &b.id).cmp(&(a.created_ms, &a.id)));
    let json: Vec<Value> = rfqs.into_iter().map(|r| rfq_json(state, r, me)).collect();
    let (page, cursor) = crate::api::paginate_with(json, call, 100, 100)?;
    ok(json!({ "rfqs": page, "cursor": cursor }))
}

fn rfq<'a>(state: &'a State, call: &Call) -> Result<&'a Rfq, ApiErr> {
    let id = uuid_param(call, "rfq_id")?;
    state
        .communications
        .rfqs
        .get(id)
        .ok_or_else(|| not_found("RFQ"))
}

fn get_rfq(state: &mut State, call: &Call) -> Answer {
    let found = rfq(state, call)?;
    ok(json!({ "rfq": rfq_json(state, found, call.user()) }))
}

fn delete_rfq(state: &mut State, call: &Call) -> Answer {
    let found = rfq(state, call)?;
    // Another user's RFQ is not theirs to delete: as if it did not exist.
    if found.creator != call.user() {
        return Err(not_found("RFQ"));
    }
    if !found.open {
        return Err(ApiErr::bad_request(
            "rfq_not_open",
            "the RFQ is already closed",
        ));
    }
    let id = found.id.clone();
    close_rfq(&mut state.communications, &id, "deleted", call.now_ms);
    Ok((204, None))
}

// ---------------------------------------------------------------------------
// Quotes
// ---------------------------------------------------------------------------

fn create_quote(state: &mut State, call: &Call) -> Answer {
    let body = call.body();
    let me = call.user().to_owned();
    let rfq_id = body["rfq_id"]
        .as_str()
        .ok_or_else(|| ApiErr::bad_request("missing_parameters", "`rfq_id` is required"))?;
    if uuid::Uuid::parse_str(rfq_id).is_err() {
        return Err(invalid("`rfq_id` must be a UUID"));
    }
    let (yes_bid, no_bid) = (bid_field(body, "yes_bid")?, bid_field(body, "no_bid")?);
    if yes_bid.is_zero() && no_bid.is_zero() {
        return Err(invalid(
            "quote at least one side: yes_bid and no_bid are both 0",
        ));
    }
    if yes_bid + no_bid >= Decimal::ONE {
        return Err(invalid("yes_bid + no_bid must be below 1"));
    }
    let rest_remainder = body["rest_remainder"]
        .as_bool()
        .ok_or_else(|| ApiErr::bad_request("missing_parameters", "`rest_remainder` is required"))?;
    let account = account_of(state, &me, crate::api::body_subaccount(body)?, None)?;
    // create_quote has no 404: an unknown RFQ is a bad request.
    let found = state
        .communications
        .rfqs
        .get(rfq_id)
        .ok_or_else(|| ApiErr::bad_request("rfq_not_found", "no RFQ with this id"))?;
    if found.creator == me {
        return Err(invalid("you cannot quote your own RFQ"));
    }
    if !found.open {
        return Err(ApiErr::bad_request("rfq_not_open", "the RFQ is closed"));
    }
    let rfq_id = found.id.clone();
    let now = call.now_ms;
    let store = &mut state.communications;
    // A new quote replaces the maker's open one on the same RFQ.
    for previous in store
        .quotes
        .values_mut()
        .filter(|q| q.rfq_id == rfq_id && q.maker == me && q.status == QuoteStatus::Open)
    {
        previous.cancel("replaced", now);
    }
    let id = next_id(store);
    store.quotes.insert(
        id.clone(),
        Quote {
            id: id.clone(),
            rfq_id,
            maker: me,
            account,
            yes_bid,
            no_bid,
            rest_remainder,
            post_only: body["post_only"].as_bool().unwrap_or(false),
            status: QuoteStatus::Open,
            accepted_side: None,
            cancellation_reason: None,
            created_ms: now,
            updated_ms: now,
            accepted_ms: None,
            confirmed_ms: None,
            executed_ms: None,
            cancelled_ms: None,
            maker_order_id: None,
            creator_order_id: None,
        },
    );
    Ok((201, Some(json!({ "id": id }))))
}

/// Whether `viewer` takes part in the quote: its maker or the RFQ's creator.
fn party(rfq: &Rfq, quote: &Quote, viewer: &str) -> bool {
    quote.maker == viewer || rfq.creator == viewer
}

fn list_quotes(state: &mut State, call: &Call) -> Answer {
    let me = call.user();
    let status = call
        .query("status")
        .filter(|s| !s.is_empty())
        .map(QuoteStatus::parse)
        .transpose()?;
    let rfq_id = call.query("rfq_id").filter(|r| !r.is_empty());
    if rfq_id.is_some_and(|id| uuid::Uuid::parse_str(id).is_err()) {
        return Err(invalid("`rfq_id` must be a UUID"));
    }
    let mine = self_filter(call, "user_filter")?;
    let on_my_rfqs = self_filter(call, "rfq_user_filter")?;
    let maker = call
        .query("quote_creator_user_id")
        .filter(|u| !u.is_empty());
    let rfq_creator = call.query("rfq_creator_user_id").filter(|u| !u.is_empty());
    let subtrader = call
        .query("rfq_creator_subtrader_id")
        .filter(|u| !u.is_empty());
    let (min_ts, max_ts) = (
        seconds_param(call, "min_ts")?,
        seconds_param(call, "max_ts")?,
    );
    let store = &state.communications;
    let mut rows: Vec<(&Rfq, &Quote)> = store
        .quotes
        .values()
        .filter_map(|q| store.rfqs.get(&q.rfq_id).map(|r| (r, q)))
        .filter(|(r, q)| party(r, q, me))
        .filter(|(_, q)| status.is_none_or(|s| s == q.status))
        .filter(|(r, _)| rfq_id.is_none_or(|id| id == r.id))
        .filter(|(_, q)| !mine || q.maker == me)
        .filter(|(r, _)| !on_my_rfqs || r.creator == me)
        .filter(|(_, q)| maker.is_none_or(|m| m == q.maker))
        .filter(|(r, _)| rfq_creator.is_none_or(|c| c == r.creator))
        .filter(|(r, _)| subtrader.is_none_or(|s| s == r.account.user_id))
        .filter(|(_, q)| min_ts.is_none_or(|t| q.updated_ms / 1000 >= t))
        .filter(|(_, q)| max_ts.is_none_or(|t| q.updated_ms / 1000 <= t))
        .collect();
    rows.sort_by(|(_, a), (_, b)| (b.created_ms, &b.id).cmp(&(a.created_ms, &a.id)));
    let json: Vec<Value> = rows
        .into_iter()
        .map(|(r, q)| quote_json(r, q, me))
        .collect();
    let (page, cursor) = crate::api::paginate_with(json, call, 500, 500)?;
    ok(json!({ "quotes": page, "cursor": cursor }))
}

/// The quote in the path, seen by a party to it; through the RFQ-scoped
/// path the quote must belong to that RFQ.
fn visible_quote<'a>(state: &'a State, call: &Call) -> Result<(&'a Rfq, &'a Quote), ApiErr> {
    let quote_id = uuid_param(call, "quote_id")?;
    let scoped = call.params.contains_key("rfq_id");
    let rfq_id = if scoped {
        Some(uuid_param(call, "rfq_id")?)
    } else {
        None
    };
    let store = &state.communications;
    store
        .quotes
        .get(quote_id)
        .filter(|q| rfq_id.is_none_or(|r| r == q.rfq_id))
        .and_then(|q| store.rfqs.get(&q.rfq_id).map(|r| (r, q)))
        .filter(|(r, q)| party(r, q, call.user()))
        .ok_or_else(|| not_found("quote"))
}

fn get_quote(state: &mut State, call: &Call) -> Answer {
    let (rfq, quote) = visible_quote(state, call)?;
    ok(json!({ "quote": quote_json(rfq, quote, call.user()) }))
}

fn quote_mut<'a>(state: &'a mut State, id: &str) -> Result<&'a mut Quote, ApiErr> {
    state
        .communications
        .quotes
        .get_mut(id)
        .ok_or_else(|| not_found("quote"))
}

fn delete_quote(state: &mut State, call: &Call) -> Answer {
    let (_, quote) = visible_quote(state, call)?;
    if quote.maker != call.user() {
        return Err(invalid("only the quote's maker can withdraw it"));
    }
    if !matches!(quote.status, QuoteStatus::Open | QuoteStatus::Accepted) {
        return Err(ApiErr::bad_request(
            "quote_not_open",
            "only an open or accepted quote can be withdrawn",
        ));
    }
    let id = quote.id.clone();
    quote_mut(state, &id)?.cancel("deleted", call.now_ms);
    Ok((204, None))
}

fn accept_quote(state: &mut State, call: &Call) -> Answer {
    let side = match call.body()["accepted_side"].as_str() {
        Some("yes") => Taken::Yes,
        Some("no") => Taken::No,
        Some(other) => {
            return Err(invalid(&format!(
                "accepted_side {other:?} is not yes or no"
            )));
        }
        None => {
            return Err(ApiErr::bad_request(
                "missing_parameters",
                "`accepted_side` is required",
            ));
        }
    };
    let (rfq, quote) = visible_quote(state, call)?;
    if rfq.creator != call.user() {
        return Err(invalid("only the RFQ's creator can accept its quotes"));
    }
    if !rfq.open {
        return Err(ApiErr::bad_request("rfq_not_open", "the RFQ is closed"));
    }
    if quote.status != QuoteStatus::Open {
        return Err(ApiErr::bad_request(
            "quote_not_open",
            &format!("the quote is {}", quote.status.word()),
        ));
    }
    match offered(rfq, quote, side) {
        None => return Err(invalid("the maker declined this side (its bid is 0)")),
        Some(n) if n.is_zero() => return Err(invalid("the target cost buys no contract")),
        Some(_) => {}
    }
    let busy = state.communications.quotes.values().any(|q| {
        q.rfq_id == rfq.id && matches!(q.status, QuoteStatus::Accepted | QuoteStatus::Confirmed)
    });
    if busy {
        return Err(ApiErr::bad_request(
            "rfq_quote_already_accepted",
            "another quote on this RFQ is accepted and awaits its maker",
        ));
    }
    let id = quote.id.clone();
    let now = call.now_ms;
    let quote = quote_mut(state, &id)?;
    quote.status = QuoteStatus::Accepted;
    quote.accepted_side = Some(side);
    quote.accepted_ms = Some(now);
    quote.updated_ms = now;
    Ok((204, None))
}

fn confirm_quote(state: &mut State, call: &Call) -> Answer {
    let (rfq, quote) = visible_quote(state, call)?;
    if quote.maker != call.user() {
        return Err(invalid("only the quote's maker can confirm it"));
    }
    if quote.status != QuoteStatus::Accepted {
        return Err(ApiErr::bad_request(
            "quote_not_accepted",
            &format!("the quote is {}, not accepted", quote.status.word()),
        ));
    }
    let (rfq, quote) = (rfq.clone(), quote.clone());
    let side = quote.accepted_side.unwrap_or(Taken::Yes);
    let size = offered(&rfq, &quote, side).unwrap_or_default();
    // Taking the YES bid: the maker buys YES at it, the creator sells YES.
    // Taking the NO bid: the maker buys NO, i.e. sells YES at 1 − no_bid.
    let (price, maker_side) = match side {
        Taken::Yes => (quote.yes_bid, Side::Bid),
        Taken::No => (Decimal::ONE - quote.no_bid, Side::Ask),
    };
    let crossing = execution::Crossing {
        ticker: rfq.market_ticker.clone(),
        maker: execution::Leg::new(quote.account.clone(), maker_side, "the quote's maker"),
        taker: execution::Leg::new(
            rfq.account.clone(),
            maker_side.opposite(),
            "the RFQ's creator",
        ),
        price,
        count: size,
        maker_post_only: quote.post_only,
        maker_keeps_remainder: quote.rest_remainder,
        taker_keeps_remainder: rfq.rest_remainder,
        client_order_prefix: format!("quote-{}", quote.id),
    };
    let executed = execution::cross(&mut state.engine, &crossing)?;
    let now = call.now_ms;
    let stored = quote_mut(state, &quote.id)?;
    stored.confirmed_ms = Some(now);
    stored.updated_ms = now;
    stored.maker_order_id = Some(executed.maker_order_id);
    stored.creator_order_id = Some(executed.taker_order_id);
    if executed.filled.is_zero() {
        // Nothing traded (self-trade prevention, say): the RFQ stays open.
        stored.cancel("execution_failed", now);
        return Ok((204, None));
    }
    stored.status = QuoteStatus::Executed;
    stored.executed_ms = Some(now);
    let store = &mut state.communications;
    close_rfq(store, &rfq.id, "executed", now);
    if let Some(rfq) = store.rfqs.get_mut(&rfq.id) {
        rfq.executed = true;
    }
    Ok((204, None))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_come_from_contracts_or_a_target_cost() {
        let size = rfq_size(&json!({"contracts": 5, "contracts_fp": "5.00"})).unwrap();
        assert!(matches!(size, Size::Contracts(n) if n == Decimal::from(5)));
        assert!(rfq_size(&json!({"contracts": 5, "contracts_fp": "4"})).is_err());
        assert!(rfq_size(&json!({"contracts_fp": "0.001"})).is_err());
        assert!(rfq_size(&json!({"contracts_fp": "1e40"})).is_err());
        assert!(rfq_size(&json!({})).is_err());
        let cost = rfq_size(&json!({"target_cost_centi_cents": 25_000})).unwrap();
        assert!(matches!(cost, Size::TargetCost(c, false) if c == Decimal::new(25, 1)));
        assert!(rfq_size(&json!({"contracts": 1, "target_cost_dollars": "1.00"})).is_err());
        assert!(rfq_size(&json!({"contracts": 1, "target_cost_excludes_fees": true})).is_err());
    }

    #[test]
    fn a_target_cost_buys_whole_cents_of_contracts_at_the_complement() {
        let rfq = Rfq {
            id: String::new(),
            creator: "a".into(),
            account: Owner {
                user_id: "a".into(),
                subaccount: 0,
            },
            market_ticker: String::new(),
            size: Size::TargetCost(Decimal::from(10), false),
            rest_remainder: false,
            obscure_creator: false,
            open: true,
            cancellation_reason: None,
            executed: false,
            created_ms: 0,
            updated_ms: 0,
            closed_ms: None,
        };
        let quote = Quote {
            id: String::new(),
            rfq_id: String::new(),
            maker: "b".into(),
            account: rfq.account.clone(),
            yes_bid: "0.70".parse().unwrap(),
            no_bid: Decimal::ZERO,
            rest_remainder: false,
            post_only: false,
            status: QuoteStatus::Open,
            accepted_side: None,
            cancellation_reason: None,
            created_ms: 0,
            updated_ms: 0,
            accepted_ms: None,
            confirmed_ms: None,
            executed_ms: None,
            cancelled_ms: None,
            maker_order_id: None,
            creator_order_id: None,
        };
        // $10 at $0.30 a contract.
        assert_eq!(
            offered(&rfq, &quote, Taken::Yes),
            Some("33.33".parse().unwrap())
        );
        assert_eq!(offered(&rfq, &quote, Taken::No), None);
    }
}
