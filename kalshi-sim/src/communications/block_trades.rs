//! Block trades: a price and size agreed between two named accounts, then
//! executed once both have accepted.
//!
//! The proposer is the buyer or the seller and accepts by proposing; the
//! other party accepts with `POST .../accept`, which executes the trade.
//! The buyer buys YES at the price and the seller sells YES (is long NO at
//! `1 − price`). `maker_side` names whose order rests first (`yes`: the
//! buyer's, `no`: the seller's); the other party's order then takes it
//! through the matching engine (see [`super::execution`]), so the trade is
//! in both accounts' fills and positions. A proposal is `pending` until it
//! executes (`executed`), nothing traded (`failed`), or its expiration
//! passes (`expired`).

use rust_decimal::Decimal;
use serde_json::{Value, json};

use super::{
    MAX_CONTRACTS, Store, account_of, execution, invalid, next_id, not_found, tradable_market,
};
use crate::State;
use crate::api::{ok, rfc3339};
use crate::engine::{Owner, Side};
use crate::http::{Answer, ApiErr, Call};

/// Centi-cents in a dollar: prices are sent as integers of 1/10000 dollar.
const CENTI_CENTS: i64 = 10_000;
/// Centicounts in a contract.
const CENTICOUNTS: i64 = 100;

/// One side of a block trade.
#[derive(Debug, Clone)]
struct Party {
    user: String,
    /// The account the proposal names for this party, if any.
    subaccount: Option<u32>,
    subtrader: Option<String>,
    accepted_ms: Option<i64>,
}

impl Party {
    fn from_body(body: &Value, role: &str) -> Result<Self, ApiErr> {
        let user = body[format!("{role}_user_id")]
            .as_str()
            .filter(|u| !u.is_empty())
            .ok_or_else(|| {
                ApiErr::bad_request(
                    "missing_parameters",
                    &format!("`{role}_user_id` is required"),
                )
            })?;
        let subaccount = match &body[format!("{role}_subaccount")] {
            Value::Null => None,
            value => Some(
                value
                    .as_u64()
                    .and_then(|n| u32::try_from(n).ok())
                    .filter(|n| *n <= 63)
                    .ok_or_else(|| invalid(&format!("`{role}_subaccount` must be 0 to 63")))?,
            ),
        };
        let subtrader = body[format!("{role}_subtrader_id")]
            .as_str()
            .filter(|s| !s.is_empty())
            .map(str::to_owned);
        Ok(Self {
            user: user.to_owned(),
            subaccount,
            subtrader,
            accepted_ms: None,
        })
    }

    /// The account that trades for this party.
    fn account(&self, state: &State) -> Result<Owner, ApiErr> {
        account_of(
            state,
            &self.user,
            self.subaccount,
            self.subtrader.as_deref(),
        )
    }
}

/// A block trade proposal between two accounts.
#[derive(Debug, Clone)]
pub(super) struct Proposal {
    id: String,
    proposer: String,
    buyer: Party,
    seller: Party,
    market_ticker: String,
    price_centi_cents: i64,
    centicount: i64,
    /// True when the buyer (the YES side) is the maker.
    buyer_makes: bool,
    expiration_ms: i64,
    /// `pending`, `executed` or `failed`; `expired` is read off the clock.
    status: &'static str,
    created_ms: i64,
    updated_ms: i64,
    executed_ms: Option<i64>,
    buyer_order_id: Option<String>,
    seller_order_id: Option<String>,
}

impl Proposal {
    fn status(&self, now_ms: i64) -> &'static str {
        if self.status == "pending" && now_ms >= self.expiration_ms {
            "expired"
        } else {
            self.status
        }
    }

    fn involves(&self, user: &str) -> bool {
        self.buyer.user == user || self.seller.user == user
    }

    fn price(&self) -> Decimal {
        Decimal::new(self.price_centi_cents, 4)
    }

    fn count(&self) -> Decimal {
        Decimal::new(self.centicount, 2)
    }
}

fn integer(body: &Value, field: &str, range: std::ops::RangeInclusive<i64>) -> Result<i64, ApiErr> {
    body[field]
        .as_i64()
        .filter(|n| range.contains(n))
        .ok_or_else(|| {
            invalid(&format!(
                "`{field}` must be an integer from {} to {}",
                range.start(),
                range.end()
            ))
        })
}

fn known_user(state: &State, user: &str) -> Result<(), ApiErr> {
    if state.subaccounts.contains_key(user) {
        Ok(())
    } else {
        Err(ApiErr::bad_request(
            "user_not_found",
            &format!("no user {user}"),
        ))
    }
}

pub(super) fn propose(state: &mut State, call: &Call) -> Answer {
    let body = call.body();
    let me = call.user();
    let mut buyer = Party::from_body(body, "buyer")?;
    let mut seller = Party::from_body(body, "seller")?;
    if buyer.user != me && seller.user != me {
        return Err(ApiErr::new(
            403,
            "forbidden",
            "the proposer must be the buyer or the seller",
        ));
    }
    for party in [&buyer, &seller] {
        known_user(state, &party.user)?;
    }
    if buyer.account(state)?.user_id == seller.account(state)?.user_id {
        return Err(invalid(
            "the buyer and the seller must be different traders",
        ));
    }
    let ticker = body["market_ticker"]
        .as_str()
        .filter(|t| !t.is_empty())
        .ok_or_else(|| ApiErr::bad_request("missing_parameters", "`market_ticker` is required"))?
        .to_owned();
    tradable_market(state, &ticker)?;
    let price_centi_cents = integer(body, "price_centi_cents", 1..=CENTI_CENTS - 1)?;
    let centicount = integer(body, "centicount", 1..=MAX_CONTRACTS * CENTICOUNTS)?;
    let buyer_makes = match body["maker_side"].as_str() {
        Some("yes") => true,
        Some("no") => false,
        _ => return Err(invalid("maker_side must be yes or no")),
    };
    let expiration_ms = body["expiration_ts"]
        .as_str()
        .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
        .map(|t| t.timestamp_millis())
        .ok_or_else(|| invalid("`expiration_ts` must be an RFC 3339 date-time"))?;
    if expiration_ms <= call.now_ms {
        return Err(invalid("`expiration_ts` is in the past"));
    }
    let now = call.now_ms;
    // Proposing is the proposer's acceptance.
    for party in [&mut buyer, &mut seller] {
        if party.user == me {
            party.accepted_ms = Some(now);
        }
    }
    let store: &mut Store = &mut state.communications;
    let id = next_id(store);
    store.proposals.insert(
        id.clone(),
        Proposal {
            id: id.clone(),
            proposer: me.to_owned(),
            buyer,
            seller,
            market_ticker: ticker,
            price_centi_cents,
            centicount,
            buyer_makes,
            expiration_ms,
            status: "pending",
            created_ms: now,
            updated_ms: now,
            executed_ms: None,
            buyer_order_id: None,
            seller_order_id: None,
        },
    );
    Ok((201, Some(json!({ "block_trade_proposal_id": id }))))
}

/// The proposal as `viewer` sees it: the other party's identity stays
/// hidden, as Kalshi documents.
fn proposal_json(proposal: &Proposal, viewer: &str, now_ms: i64) -> Value {
    let shown = |party: &Party| {
        if party.user == viewer {
            (
                party.user.clone(),
                party.subtrader.clone().unwrap_or_default(),
            )
        } else {
            (String::new(), String::new())
        }
    };
    let (buyer, buyer_subtrader) = shown(&proposal.buyer);
    let (seller, seller_subtrader) = shown(&proposal.seller);
    let mut json = json!({
        "id": proposal.id, "proposer_user_id": proposal.proposer,
        "buyer_user_id": buyer, "buyer_subtrader_id": buyer_subtrader,
        "seller_user_id": seller, "seller_subtrader_id": seller_subtrader,
        "market_ticker": proposal.market_ticker, "price_centi_cents": proposal.price_centi_cents,
        "centicount": proposal.centicount, "maker_side": if proposal.buyer_makes { "yes" } else { "no" },
        "expiration_ts": rfc3339(proposal.expiration_ms), "status": proposal.status(now_ms),
        "created_ts": rfc3339(proposal.created_ms), "updated_ts": rfc3339(proposal.updated_ms),
        "buyer_accepted": proposal.buyer.accepted_ms.is_some(),
        "seller_accepted": proposal.seller.accepted_ms.is_some()
    });
    let stamps = [
        ("buyer_accepted_ts", proposal.buyer.accepted_ms),
        ("seller_accepted_ts", proposal.seller.accepted_ms),
        ("executed_ts", proposal.executed_ms),
    ];
    for (field, stamp) in stamps {
        if let Some(ms) = stamp {
            json[field] = json!(rfc3339(ms));
        }
    }
    let orders = [
        ("buyer_order_id", &proposal.buyer, &proposal.buyer_order_id),
        (
            "seller_order_id",
            &proposal.seller,
            &proposal.seller_order_id,
        ),
    ];
    for (field, party, order) in orders {
        if let (Some(id), true) = (order, party.user == viewer) {
            json[field] = json!(id);
        }
    }
    json
}

pub(super) fn list(state: &mut State, call: &Call) -> Answer {
    let me = call.user();
    let now = call.now_ms;
    let status = call.query("status").filter(|s| !s.is_empty());
    if let Some(status) = status
        && !["pending", "executed", "expired", "failed"].contains(&status)
    {
        return Err(invalid(&format!("unknown block trade status {status:?}")));
    }
    let market = call.query("market_ticker").filter(|t| !t.is_empty());
    let mut proposals: Vec<&Proposal> = state
        .communications
        .proposals
        .values()
        .filter(|p| p.involves(me))
        .filter(|p| status.is_none_or(|s| s == p.status(now)))
        .filter(|p| market.is_none_or(|m| m == p.market_ticker))
        .collect();
    proposals.sort_by(|a, b| (b.created_ms, &b.id).cmp(&(a.created_ms, &a.id)));
    let json: Vec<Value> = proposals
        .into_iter()
        .map(|p| proposal_json(p, me, now))
        .collect();
    let (page, cursor) = crate::api::paginate_with(json, call, 100, 100)?;
    ok(json!({ "block_trade_proposals": page, "cursor": cursor }))
}

pub(super) fn accept(state: &mut State, call: &Call) -> Answer {
    let me = call.user();
    let now = call.now_ms;
    let body = call.body();
    let subaccount = crate::api::body_subaccount(body)?;
    let subtrader = body["subtrader_id"]
        .as_str()
        .filter(|s| !s.is_empty())
        .map(str::to_owned);
    let mut proposal = state
        .communications
        .proposals
        .get(call.param("block_trade_proposal_id"))
        .filter(|p| p.involves(me))
        .cloned()
        .ok_or_else(|| not_found("block trade proposal"))?;
    match proposal.status(now) {
        "pending" => {}
        other => {
            return Err(ApiErr::bad_request(
                "block_trade_not_pending",
                &format!("the proposal is {other}"),
            ));
        }
    }
    let party = if proposal.buyer.user == me && proposal.buyer.accepted_ms.is_none() {
        &mut proposal.buyer
    } else if proposal.seller.user == me && proposal.seller.accepted_ms.is_none() {
        &mut proposal.seller
    } else {
        return Err(ApiErr::bad_request(
            "already_accepted",
            "you already accepted this proposal",
        ));
    };
    choose_account(party, subaccount, subtrader)?;
    party.account(state)?;
    party.accepted_ms = Some(now);
    proposal.updated_ms = now;
    execute(state, &mut proposal, now)?;
    state
        .communications
        .proposals
        .insert(proposal.id.clone(), proposal);
    Ok((204, None))
}

/// The accepting party names its account now, unless the proposal did.
fn choose_account(
    party: &mut Party,
    subaccount: Option<u32>,
    subtrader: Option<String>,
) -> Result<(), ApiErr> {
    if subaccount.is_some() && subtrader.is_some() {
        return Err(invalid("give either a subaccount or a subtrader_id"));
    }
    let named = party.subaccount.is_some() || party.subtrader.is_some();
    let differs = (subaccount.is_some() && subaccount != party.subaccount)
        || (subtrader.is_some() && subtrader != party.subtrader);
    if named && differs {
        return Err(invalid(
            "the proposal names another account for you; accept as that account",
        ));
    }
    if !named {
        party.subaccount = subaccount;
        party.subtrader = subtrader;
    }
    Ok(())
}

/// Trades the proposal once both parties accepted.
fn execute(state: &mut State, proposal: &mut Proposal, now_ms: i64) -> Result<(), ApiErr> {
    if proposal.buyer.accepted_ms.is_none() || proposal.seller.accepted_ms.is_none() {
        return Ok(());
    }
    let buyer = execution::Leg::new(proposal.buyer.account(state)?, Side::Bid, "the buyer");
    let seller = execution::Leg::new(proposal.seller.account(state)?, Side::Ask, "the seller");
    let (maker, taker) = if proposal.buyer_makes {
        (buyer, seller)
    } else {
        (seller, buyer)
    };
    let crossing = execution::Crossing {
        ticker: proposal.market_ticker.clone(),
        maker,
        taker,
        price: proposal.price(),
        count: proposal.count(),
        maker_post_only: false,
        maker_keeps_remainder: false,
        taker_keeps_remainder: false,
        client_order_prefix: format!("block-{}", proposal.id),
    };
    let executed = execution::cross(&mut state.engine, &crossing)?;
    let (buyer_order, seller_order) = if proposal.buyer_makes {
        (executed.maker_order_id, executed.taker_order_id)
    } else {
        (executed.taker_order_id, executed.maker_order_id)
    };
    proposal.buyer_order_id = Some(buyer_order);
    proposal.seller_order_id = Some(seller_order);
    if executed.filled.is_zero() {
        proposal.status = "failed";
    } else {
        proposal.status = "executed";
        proposal.executed_ms = Some(now_ms);
    }
    Ok(())
}
