//! RFQ batches (spec 3.34.0): quotes requested on several markets at once,
//! quoted by makers as a whole and accepted all or nothing.
//!
//! The store keeps batches, their child RFQs and the makers' batch quotes,
//! and moves them through Kalshi's states: a batch is `open` until it is
//! accepted or closed; a batch quote is `open`, `accepted` when the creator
//! takes it, `confirmed` when its maker confirms, `cancelled` when withdrawn,
//! replaced or its batch closes. Execution of confirmed children as trades is
//! not modelled: a confirmed batch stays `accepted`.

use std::collections::BTreeMap;

use rust_decimal::Decimal;
use serde_json::{Value, json};

use crate::State;
use crate::http::{Answer, ApiErr, Call};

/// Children per batch, as Kalshi documents.
const CHILDREN: std::ops::RangeInclusive<usize> = 2..=57;
/// Open batches one user may have.
const MAX_OPEN: usize = 2;
/// Page size limits of the list.
const DEFAULT_LIMIT: usize = 20;

/// Every RFQ batch and batch quote of the exchange.
#[derive(Debug, Default)]
pub(crate) struct RfqBatches {
    last_id: u64,
    batches: BTreeMap<String, Batch>,
    quotes: BTreeMap<String, BatchQuote>,
}

#[derive(Debug, Clone)]
struct Batch {
    id: String,
    creator: String,
    subaccount: u32,
    client_batch_id: Option<String>,
    status: &'static str,
    close_reason: Option<&'static str>,
    created_ms: i64,
    updated_ms: i64,
    accepted_side: Option<String>,
    children: Vec<Child>,
}

#[derive(Debug, Clone)]
struct Child {
    rfq_id: String,
    market_ticker: String,
    contracts: Decimal,
}

#[derive(Debug, Clone)]
struct BatchQuote {
    id: String,
    batch_id: String,
    maker: String,
    subaccount: u32,
    status: &'static str,
    created_ms: i64,
    updated_ms: i64,
    rest_remainder: bool,
    post_only: bool,
    /// (rfq id, yes bid, no bid), one per child.
    bids: Vec<(String, Decimal, Decimal)>,
    /// Children this quote won on acceptance.
    won: Vec<String>,
}

/// Runs the handler of an RFQ-batch operation, or `None` for another one.
pub(crate) fn dispatch(state: &mut State, call: &Call) -> Option<Answer> {
    let answer = match call.operation.name {
        "get_rfq_batches" => list(state, call),
        "create_rfq_batch" => create(state, call),
        "get_rfq_batch" => get(state, call),
        "delete_rfq_batch" => delete(state, call),
        "get_rfq_batch_best_quotes" => best_quotes(state, call),
        "accept_rfq_batch" => accept(state, call),
        "get_rfq_batch_quotes" => quotes(state, call),
        "create_rfq_batch_quote" => create_quote(state, call),
        "delete_rfq_batch_quote" => delete_quote(state, call),
        "confirm_rfq_batch_quote" => confirm_quote(state, call),
        _ => return None,
    };
    Some(answer)
}

fn next_id(store: &mut RfqBatches) -> String {
    store.last_id += 1;
    let mut bytes = [0u8; 16];
    bytes[..6].copy_from_slice(&store.last_id.to_be_bytes()[2..]);
    bytes[6] = 0xb; // a different namespace from the engine's ids
    uuid::Builder::from_random_bytes(bytes)
        .into_uuid()
        .to_string()
}

fn user(call: &Call) -> String {
    call.user.clone().unwrap_or_default()
}

fn not_found(what: &str) -> ApiErr {
    ApiErr::new(404, "not_found", &format!("{what} not found"))
}

fn invalid(message: &str) -> ApiErr {
    ApiErr::bad_request("invalid_parameters", message)
}

fn count_field(value: &Value, field: &str) -> Result<Option<Decimal>, ApiErr> {
    match &value[field] {
        Value::Null => Ok(None),
        Value::String(text) => text
            .parse::<Decimal>()
            .ok()
            .filter(|d| *d > Decimal::ZERO && d.normalize().scale() <= 2)
            .map(Some)
            .ok_or_else(|| invalid(&format!("`{field}` must be a positive count"))),
        _ => Err(invalid(&format!("`{field}` must be a decimal string"))),
    }
}

fn price_field(value: &Value, field: &str) -> Result<Decimal, ApiErr> {
    value[field]
        .as_str()
        .and_then(|t| t.parse::<Decimal>().ok())
        .filter(|d| *d >= Decimal::ZERO && *d < Decimal::ONE && d.normalize().scale() <= 4)
        .ok_or_else(|| invalid(&format!("`{field}` must be a price in [0, 1)")))
}

fn batch<'a>(state: &'a State, call: &Call) -> Result<&'a Batch, ApiErr> {
    state
        .rfq_batches
        .batches
        .get(call.params.get("rfq_batch_id").map_or("", String::as_str))
        .ok_or_else(|| not_found("RFQ batch"))
}

// ---------------------------------------------------------------------------
// JSON
// ---------------------------------------------------------------------------

fn batch_json(batch: &Batch) -> Value {
    let rfqs: Vec<Value> = batch
        .children
        .iter()
        .map(|child| {
            json!({
                "id": child.rfq_id, "creator_id": crate::api::comms_id(&batch.creator),
                "market_ticker": child.market_ticker,
                "contracts_fp": crate::api::count(child.contracts),
                "status": if batch.status == "closed" { "closed" } else { "open" },
                "created_ts": crate::api::rfc3339(batch.created_ms),
                "updated_ts": crate::api::rfc3339(batch.updated_ms),
                "rest_remainder": false, "creator_user_id": batch.creator,
                "creator_subaccount": batch.subaccount
            })
        })
        .collect();
    let mut json = json!({
        "id": batch.id, "creator_id": crate::api::comms_id(&batch.creator), "status": batch.status,
        "created_ts": crate::api::rfc3339(batch.created_ms),
        "updated_ts": crate::api::rfc3339(batch.updated_ms), "rfqs": rfqs,
        "creator_user_id": batch.creator, "creator_subaccount": batch.subaccount
    });
    if let Some(reason) = batch.close_reason {
        json["close_reason"] = json!(reason);
        json["closed_ts"] = json!(crate::api::rfc3339(batch.updated_ms));
    }
    if batch.accepted_side.is_some() {
        json["accepted_ts"] = json!(crate::api::rfc3339(batch.updated_ms));
    }
    if let Some(id) = &batch.client_batch_id {
        json["client_batch_id"] = json!(id);
    }
    json
}

/// One child quote in the shape of `Quote`.
fn child_quote_json(batch: &Batch, quote: &BatchQuote, rfq_id: &str) -> Option<Value> {
    let child = batch.children.iter().find(|c| c.rfq_id == rfq_id)?;
    let (_, yes, no) = quote.bids.iter().find(|(id, _, _)| id == rfq_id)?;
    let status = match quote.status {
        "confirmed" => "confirmed",
        "accepted" => "accepted",
        "cancelled" => "cancelled",
        _ => "open",
    };
    let mut json = json!({
        "id": format!("{}-{}", quote.id, rfq_id), "rfq_id": rfq_id,
        "creator_id": crate::api::comms_id(&quote.maker),
        "rfq_creator_id": crate::api::comms_id(&batch.creator),
        "market_ticker": child.market_ticker, "contracts_fp": crate::api::count(child.contracts),
        "yes_bid_dollars": crate::api::dollars(*yes), "no_bid_dollars": crate::api::dollars(*no),
        "created_ts": crate::api::rfc3339(quote.created_ms), "updated_ts": crate::api::rfc3339(quote.updated_ms),
        "status": status, "rest_remainder": quote.rest_remainder, "post_only": quote.post_only,
        "creator_user_id": quote.maker, "creator_subaccount": quote.subaccount
    });
    if let Some(side) = &batch.accepted_side
        && quote.won.iter().any(|w| w == rfq_id)
    {
        json["accepted_side"] = json!(side);
    }
    Some(json)
}

fn batch_quote_json(batch: &Batch, quote: &BatchQuote) -> Value {
    let shown: Vec<&str> = if quote.won.is_empty() {
        quote.bids.iter().map(|(id, _, _)| id.as_str()).collect()
    } else {
        quote.won.iter().map(String::as_str).collect()
    };
    let quotes: Vec<Value> = shown
        .iter()
        .filter_map(|id| child_quote_json(batch, quote, id))
        .collect();
    let mut json = json!({
        "id": quote.id, "rfq_batch_id": batch.id, "creator_id": crate::api::comms_id(&quote.maker),
        "rfq_creator_id": crate::api::comms_id(&batch.creator), "status": quote.status,
        "created_ts": crate::api::rfc3339(quote.created_ms), "updated_ts": crate::api::rfc3339(quote.updated_ms),
        "quotes": quotes, "rest_remainder": quote.rest_remainder, "post_only": quote.post_only,
        "creator_user_id": quote.maker, "creator_subaccount": quote.subaccount
    });
    if let Some(side) = &batch.accepted_side
        && !quote.won.is_empty()
    {
        json["accepted_side"] = json!(side);
    }
    json
}

// ---------------------------------------------------------------------------
// Batches
// ---------------------------------------------------------------------------

fn list(state: &mut State, call: &Call) -> Answer {
    let status = call
        .query
        .iter()
        .find(|(k, _)| k == "status")
        .map(|(_, v)| v.as_str());
    if let Some(status) = status
        && !["open", "accepted", "closed"].contains(&status)
    {
        return Err(invalid(&format!("unknown status {status:?}")));
    }
    let only_own = call
        .query
        .iter()
        .any(|(k, v)| k == "user_filter" && v == "self");
    let subaccount = crate::api::query_subaccount(call)?;
    let me = user(call);
    let mut batches: Vec<&Batch> = state
        .rfq_batches
        .batches
        .values()
        .filter(|b| status.is_none_or(|s| s == b.status))
        .filter(|b| !only_own || b.creator == me)
        .filter(|b| subaccount.is_none_or(|s| b.creator == me && b.subaccount == s))
        .collect();
    // Most recently updated first.
    batches.sort_by(|a, b| b.updated_ms.cmp(&a.updated_ms).then(b.id.cmp(&a.id)));
    let json: Vec<Value> = batches.into_iter().map(batch_json).collect();
    let (page, cursor) = crate::api::paginate_with(json, call, DEFAULT_LIMIT, 20)?;
    Ok((200, Some(json!({ "rfq_batches": page, "cursor": cursor }))))
}

fn create(state: &mut State, call: &Call) -> Answer {
    let body = call.body.clone().unwrap_or(Value::Null);
    let me = user(call);
    let children = body["children"]
        .as_array()
        .ok_or_else(|| ApiErr::bad_request("missing_parameters", "`children` is required"))?;
    if !CHILDREN.contains(&children.len()) {
        return Err(invalid("a batch has 2 to 57 children"));
    }
    if body["rest_remainder"].as_bool() == Some(true) {
        return Err(invalid("rest_remainder must be false for an RFQ batch"));
    }
    let default_size = count_field(&body, "contracts_fp")?;
    if default_size.is_some() && !body["target_cost_dollars"].is_null() {
        return Err(invalid(
            "give at most one of contracts_fp and target_cost_dollars",
        ));
    }
    let mut parsed = Vec::with_capacity(children.len());
    for child in children {
        let ticker = child["market_ticker"].as_str().filter(|t| !t.is_empty());
        let Some(ticker) = ticker else {
            return Err(invalid(
                "each child names an existing market by market_ticker (the simulator has no combo collections)",
            ));
        };
        if state.catalog.market(ticker).is_none() {
            return Err(ApiErr::new(
                404,
                "market_not_found",
                &format!("no market {ticker}"),
            ));
        }
        let contracts = count_field(child, "contracts_fp")?
            .or(default_size)
            .ok_or_else(|| {
                invalid("size every child by contracts_fp, on the child or the batch")
            })?;
        parsed.push((ticker.to_owned(), contracts));
    }
    let mut tickers: Vec<&str> = parsed.iter().map(|(t, _)| t.as_str()).collect();
    tickers.sort_unstable();
    tickers.dedup();
    if tickers.len() != parsed.len() {
        return Err(invalid("children must be distinct markets"));
    }
    let subaccount = crate::api::body_subaccount(&body)?.unwrap_or(0);
    let client_batch_id = body["client_batch_id"].as_str().map(str::to_owned);
    let store = &mut state.rfq_batches;
    if let Some(key) = &client_batch_id
        && store
            .batches
            .values()
            .any(|b| b.creator == me && b.client_batch_id.as_ref() == Some(key))
    {
        return Err(ApiErr::new(
            409,
            "duplicate_client_batch_id",
            "client_batch_id was used before",
        ));
    }
    let mut open: Vec<String> = store
        .batches
        .values()
        .filter(|b| b.creator == me && b.status == "open")
        .map(|b| b.id.clone())
        .collect();
    if open.len() >= MAX_OPEN {
        if body["replace_existing"].as_bool() != Some(true) {
            return Err(ApiErr::new(
                409,
                "too_many_open_rfq_batches",
                "at most 2 open RFQ batches",
            ));
        }
        // Oldest first: ids grow with creation.
        open.sort();
        for id in &open[..=open.len() - MAX_OPEN] {
            close(store, id, "replaced", call.now_ms);
        }
    }
    let id = next_id(store);
    let children = parsed
        .into_iter()
        .map(|(market_ticker, contracts)| Child {
            rfq_id: next_id(store),
            market_ticker,
            contracts,
        })
        .collect();
    let batch = Batch {
        id: id.clone(),
        creator: me,
        subaccount,
        client_batch_id,
        status: "open",
        close_reason: None,
        created_ms: call.now_ms,
        updated_ms: call.now_ms,
        accepted_side: None,
        children,
    };
    let json = batch_json(&batch);
    store.batches.insert(id, batch);
    Ok((201, Some(json!({ "rfq_batch": json }))))
}

fn get(state: &mut State, call: &Call) -> Answer {
    Ok((
        200,
        Some(json!({ "rfq_batch": batch_json(batch(state, call)?) })),
    ))
}

/// Closes a batch and cancels the open quotes on it.
fn close(store: &mut RfqBatches, id: &str, reason: &'static str, now_ms: i64) {
    if let Some(batch) = store.batches.get_mut(id) {
        batch.status = "closed";
        batch.close_reason = Some(reason);
        batch.updated_ms = now_ms;
    }
    for quote in store.quotes.values_mut().filter(|q| q.batch_id == id) {
        if quote.status == "open" {
            quote.status = "cancelled";
            quote.updated_ms = now_ms;
        }
    }
}

fn delete(state: &mut State, call: &Call) -> Answer {
    let found = batch(state, call)?;
    if found.creator != user(call) {
        return Err(not_found("RFQ batch"));
    }
    match found.status {
        "open" => {}
        "accepted" => return Err(invalid("an accepted RFQ batch cannot be closed")),
        _ => return Err(invalid("the RFQ batch is already closed")),
    }
    let id = found.id.clone();
    close(&mut state.rfq_batches, &id, "cancelled", call.now_ms);
    Ok((204, None))
}

/// A bid and the batch quote that offers it.
type Bid = Option<(Decimal, String)>;

/// The best open (YES, NO) bid of each child, across makers, with the quote
/// that offers it (earliest wins ties).
fn best_bids(store: &RfqBatches, batch: &Batch) -> Vec<(Bid, Bid)> {
    let mut open: Vec<&BatchQuote> = store
        .quotes
        .values()
        .filter(|q| q.batch_id == batch.id && q.status == "open")
        .collect();
    open.sort_by_key(|q| q.updated_ms);
    batch
        .children
        .iter()
        .map(|child| {
            let mut best: (Bid, Bid) = (None, None);
            for quote in &open {
                let Some((_, yes, no)) = quote.bids.iter().find(|(id, _, _)| *id == child.rfq_id)
                else {
                    continue;
                };
                for (bid, slot) in [(*yes, &mut best.0), (*no, &mut best.1)] {
                    let better = bid > Decimal::ZERO && slot.as_ref().is_none_or(|(b, _)| bid > *b);
                    if better {
                        *slot = Some((bid, quote.id.clone()));
                    }
                }
            }
            best
        })
        .collect()
}

fn best_quotes(state: &mut State, call: &Call) -> Answer {
    let found = batch(state, call)?;
    if found.creator != user(call) {
        return Err(ApiErr::new(
            403,
            "forbidden",
            "only the batch creator reads its best quotes",
        ));
    }
    let bids = if found.status == "open" {
        best_bids(&state.rfq_batches, found)
    } else {
        vec![(None, None); found.children.len()]
    };
    let version = state
        .rfq_batches
        .quotes
        .values()
        .filter(|q| q.batch_id == found.id)
        .count();
    let rfqs: Vec<Value> = found
        .children
        .iter()
        .zip(&bids)
        .map(|(child, (yes, no))| {
            let mut json = json!({"rfq_id": child.rfq_id, "market_ticker": child.market_ticker});
            if let Some((bid, _)) = yes {
                json["yes_bid_dollars"] = json!(crate::api::dollars(*bid));
                json["yes_contracts_offered_fp"] = json!(crate::api::count(child.contracts));
            }
            if let Some((bid, _)) = no {
                json["no_bid_dollars"] = json!(crate::api::dollars(*bid));
                json["no_contracts_offered_fp"] = json!(crate::api::count(child.contracts));
            }
            json
        })
        .collect();
    let best = json!({
        "rfq_batch_id": found.id, "status": found.status, "version": version,
        "yes_complete": bids.iter().all(|(y, _)| y.is_some()),
        "no_complete": bids.iter().all(|(_, n)| n.is_some()),
        "rfqs": rfqs, "updated_ts": crate::api::rfc3339(found.updated_ms)
    });
    Ok((200, Some(json!({ "best_quotes": best }))))
}

fn accept(state: &mut State, call: &Call) -> Answer {
    let body = call.body.clone().unwrap_or(Value::Null);
    let found = batch(state, call)?.clone();
    if found.creator != user(call) {
        return Err(ApiErr::new(
            403,
            "forbidden",
            "only the batch creator accepts it",
        ));
    }
    if found.status != "open" {
        return Err(ApiErr::new(
            409,
            "rfq_batch_not_open",
            "the RFQ batch is not open",
        ));
    }
    let side = match body["accepted_side"].as_str() {
        Some(side @ ("yes" | "no")) => side.to_owned(),
        _ => return Err(invalid("accepted_side must be yes or no")),
    };
    let min_bids = body["min_bids"]
        .as_array()
        .ok_or_else(|| ApiErr::bad_request("missing_parameters", "`min_bids` is required"))?;
    let mut limits = BTreeMap::new();
    for entry in min_bids {
        let rfq_id = entry["rfq_id"].as_str().unwrap_or_default().to_owned();
        limits.insert(rfq_id, price_field(entry, "bid_dollars")?);
    }
    if limits.len() != found.children.len()
        || found
            .children
            .iter()
            .any(|c| !limits.contains_key(&c.rfq_id))
    {
        return Err(invalid("min_bids needs exactly one entry per child"));
    }
    let bids = best_bids(&state.rfq_batches, &found);
    let mut winners = Vec::with_capacity(bids.len());
    for (child, (yes, no)) in found.children.iter().zip(bids) {
        let best = if side == "yes" { yes } else { no };
        match best {
            Some((bid, quote_id)) if bid >= limits[&child.rfq_id] => {
                winners.push((child.rfq_id.clone(), quote_id));
            }
            _ => {
                return Err(ApiErr::new(
                    409,
                    "rfq_batch_quotes_changed",
                    &format!("child {} has no bid at or above its min_bid", child.rfq_id),
                ));
            }
        }
    }
    let store = &mut state.rfq_batches;
    for (rfq_id, quote_id) in &winners {
        if let Some(quote) = store.quotes.get_mut(quote_id) {
            quote.won.push(rfq_id.clone());
        }
    }
    for quote in store
        .quotes
        .values_mut()
        .filter(|q| q.batch_id == found.id && q.status == "open")
    {
        quote.status = if quote.won.is_empty() {
            "cancelled"
        } else {
            "accepted"
        };
        quote.updated_ms = call.now_ms;
    }
    let batch = store.batches.get_mut(&found.id).expect("found above");
    batch.status = "accepted";
    batch.accepted_side = Some(side.clone());
    batch.updated_ms = call.now_ms;
    let batch = batch.clone();
    let quotes: Vec<Value> = winners
        .iter()
        .filter_map(|(rfq_id, quote_id)| child_quote_json(&batch, &store.quotes[quote_id], rfq_id))
        .collect();
    Ok((
        200,
        Some(json!({ "accepted_side": side, "quotes": quotes })),
    ))
}

// ---------------------------------------------------------------------------
// Batch quotes
// ---------------------------------------------------------------------------

fn quotes(state: &mut State, call: &Call) -> Answer {
    let found = batch(state, call)?;
    let me = user(call);
    let visible: Vec<Value> = state
        .rfq_batches
        .quotes
        .values()
        .filter(|q| q.batch_id == found.id)
        .filter(|q| q.maker == me || (found.creator == me && !q.won.is_empty()))
        .map(|q| batch_quote_json(found, q))
        .collect();
    Ok((200, Some(json!({ "batch_quotes": visible }))))
}

fn create_quote(state: &mut State, call: &Call) -> Answer {
    let body = call.body.clone().unwrap_or(Value::Null);
    let found = batch(state, call)?.clone();
    let me = user(call);
    if found.creator == me {
        return Err(invalid("you cannot quote your own RFQ batch"));
    }
    if found.status != "open" {
        return Err(ApiErr::new(
            409,
            "rfq_batch_not_open",
            "the RFQ batch is not open",
        ));
    }
    let rest_remainder = body["rest_remainder"]
        .as_bool()
        .ok_or_else(|| ApiErr::bad_request("missing_parameters", "`rest_remainder` is required"))?;
    let entries = body["quotes"]
        .as_array()
        .ok_or_else(|| ApiErr::bad_request("missing_parameters", "`quotes` is required"))?;
    let mut bids = Vec::with_capacity(entries.len());
    for entry in entries {
        let rfq_id = entry["rfq_id"].as_str().unwrap_or_default().to_owned();
        let (yes, no) = (
            price_field(entry, "yes_bid")?,
            price_field(entry, "no_bid")?,
        );
        if yes + no >= Decimal::ONE {
            return Err(invalid("yes_bid + no_bid must be below 1"));
        }
        bids.push((rfq_id, yes, no));
    }
    let mut quoted: Vec<&str> = bids.iter().map(|(id, _, _)| id.as_str()).collect();
    quoted.sort_unstable();
    let mut children: Vec<&str> = found.children.iter().map(|c| c.rfq_id.as_str()).collect();
    children.sort_unstable();
    if quoted != children {
        return Err(invalid("quote every child of the batch exactly once"));
    }
    let subaccount = crate::api::body_subaccount(&body)?.unwrap_or(0);
    let store = &mut state.rfq_batches;
    // A new batch quote replaces the maker's previous one on this batch.
    for previous in store
        .quotes
        .values_mut()
        .filter(|q| q.batch_id == found.id && q.maker == me && q.status == "open")
    {
        previous.status = "cancelled";
        previous.updated_ms = call.now_ms;
    }
    let id = next_id(store);
    store.quotes.insert(
        id.clone(),
        BatchQuote {
            id: id.clone(),
            batch_id: found.id.clone(),
            maker: me,
            subaccount,
            status: "open",
            created_ms: call.now_ms,
            updated_ms: call.now_ms,
            rest_remainder,
            post_only: body["post_only"].as_bool().unwrap_or(false),
            bids,
            won: Vec::new(),
        },
    );
    if let Some(batch) = store.batches.get_mut(&found.id) {
        batch.updated_ms = call.now_ms;
    }
    Ok((201, Some(json!({ "id": id }))))
}

/// The caller's own batch quote named in the path.
fn own_quote<'a>(state: &'a mut State, call: &Call) -> Result<&'a mut BatchQuote, ApiErr> {
    let batch_id = call.params.get("rfq_batch_id").cloned().unwrap_or_default();
    let quote_id = call
        .params
        .get("batch_quote_id")
        .cloned()
        .unwrap_or_default();
    let me = user(call);
    state
        .rfq_batches
        .quotes
        .get_mut(&quote_id)
        .filter(|q| q.batch_id == batch_id && q.maker == me)
        .ok_or_else(|| not_found("batch quote"))
}

fn delete_quote(state: &mut State, call: &Call) -> Answer {
    let now = call.now_ms;
    let quote = own_quote(state, call)?;
    if quote.status != "open" {
        return Err(invalid("only an open batch quote can be withdrawn"));
    }
    quote.status = "cancelled";
    quote.updated_ms = now;
    Ok((204, None))
}

fn confirm_quote(state: &mut State, call: &Call) -> Answer {
    let now = call.now_ms;
    let quote = own_quote(state, call)?;
    if quote.status != "accepted" {
        return Err(ApiErr::new(
            409,
            "batch_quote_not_accepted",
            "the batch quote was not accepted",
        ));
    }
    quote.status = "confirmed";
    quote.updated_ms = now;
    Ok((204, None))
}
