//! Multivariate event collections (combos) and the markets created in them.
//!
//! Three seeded collections combine the seeded events: two open, one
//! closed. Creating a market in an open collection from a valid selection
//! of legs lists a new event (in the collection's series) and a new market
//! in the catalog, with an open book: it then trades, streams and reads like
//! any market. The same selection always names the same event and market,
//! so creating it again returns them unchanged.

use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use super::{flag, invalid, ms, not_found};
use crate::State;
use crate::api::ok;
use crate::http::{Answer, ApiErr, Call};
use crate::seed::{EventSpec, MarketSpec};

/// A seeded collection.
struct Collection {
    ticker: &'static str,
    series: &'static str,
    title: &'static str,
    description: &'static str,
    open: &'static str,
    close: &'static str,
    /// (event, only its YES side may be used, most markets from it).
    events: &'static [(&'static str, bool, Option<u32>)],
    ordered: bool,
    single_market_per_event: bool,
    all_yes: bool,
    size: (u32, u32),
}

const COLLECTIONS: &[Collection] = &[
    Collection {
        ticker: "KXMVETEST",
        series: "KXMVETEST",
        title: "Test deadline parlays",
        description: "Combine the December and June test deadlines",
        open: "2026-11-01T00:00:00Z",
        close: "2030-12-31T00:00:00Z",
        events: &[
            ("KXTEST-26DEC31", false, Some(1)),
            ("KXTEST-27JUN30", false, Some(1)),
        ],
        ordered: false,
        single_market_per_event: true,
        all_yes: false,
        size: (2, 2),
    },
    Collection {
        ticker: "KXMVEHIGHNY",
        series: "KXMVEHIGHNY",
        title: "NYC temperature combos",
        description: "A temperature bracket for Nov 30 with the December test deadline",
        open: "2026-11-01T00:00:00Z",
        close: "2030-12-31T00:00:00Z",
        events: &[
            ("KXHIGHNY-26NOV30", true, Some(1)),
            ("KXTEST-26DEC31", false, Some(1)),
        ],
        ordered: false,
        single_market_per_event: true,
        all_yes: false,
        size: (2, 2),
    },
    Collection {
        ticker: "KXMVEOLDTEST",
        series: "KXMVETEST",
        title: "Test deadline parlays (first season)",
        description: "Closed: the first season of test parlays",
        open: "2026-01-01T00:00:00Z",
        close: "2026-06-30T00:00:00Z",
        events: &[
            ("KXTEST-26DEC31", true, Some(1)),
            ("KXTEST-27JUN30", true, Some(1)),
        ],
        ordered: true,
        single_market_per_event: true,
        all_yes: true,
        size: (2, 2),
    },
];

/// A market created in a collection.
#[derive(Debug, Clone)]
pub(super) struct Combo {
    /// Creation order.
    seq: usize,
    collection: &'static str,
    series: &'static str,
    event_ticker: String,
    /// (event, market, side) in the collection's order.
    legs: Vec<(String, String, String)>,
}

impl Collection {
    fn status(&self, now_ms: i64) -> &'static str {
        if now_ms < ms(self.open) {
            "unopened"
        } else if now_ms < ms(self.close) {
            "open"
        } else {
            "closed"
        }
    }

    fn json(&self) -> Value {
        let events: Vec<Value> = self
            .events
            .iter()
            .map(|(ticker, yes_only, size_max)| {
                json!({
                    "ticker": ticker, "is_yes_only": yes_only, "size_max": size_max,
                    "size_min": Value::Null, "active_quoters": []
                })
            })
            .collect();
        let tickers: Vec<&str> = self.events.iter().map(|(t, _, _)| *t).collect();
        json!({
            "collection_ticker": self.ticker, "series_ticker": self.series, "exchange_index": 0,
            "title": self.title, "description": self.description,
            "open_date": self.open, "close_date": self.close,
            "associated_events": events, "associated_event_tickers": tickers,
            "is_ordered": self.ordered, "is_single_market_per_event": self.single_market_per_event,
            "is_all_yes": self.all_yes, "size_min": self.size.0, "size_max": self.size.1,
            "functional_description": "The combo resolves YES when every selected leg resolves to its selected side.",
            "price_level_structure": "linear_cent",
            "price_ranges": [{"start": "0.0000", "end": "1.0000", "step": "0.0100"}]
        })
    }
}

/// The collections whose events the catalog lists.
fn seeded(state: &State) -> impl Iterator<Item = &'static Collection> + '_ {
    COLLECTIONS.iter().filter(|c| {
        c.events
            .iter()
            .all(|(e, _, _)| state.catalog.event_json(e).is_some())
    })
}

fn collection(state: &State, ticker: &str) -> Option<&'static Collection> {
    seeded(state).find(|c| c.ticker == ticker)
}

pub(super) fn get(state: &mut State, call: &Call) -> Answer {
    let found = collection(state, call.param("collection_ticker"))
        .ok_or_else(|| not_found("multivariate event collection"))?;
    ok(json!({ "multivariate_contract": found.json() }))
}

pub(super) fn list(state: &mut State, call: &Call) -> Answer {
    let status = match call.query("status").filter(|s| !s.is_empty()) {
        None => None,
        Some(s @ ("unopened" | "open" | "closed")) => Some(s),
        Some(other) => return Err(invalid(&format!("unknown collection status {other:?}"))),
    };
    let event = call
        .query("associated_event_ticker")
        .filter(|e| !e.is_empty());
    let series = call.query("series_ticker").filter(|s| !s.is_empty());
    let found: Vec<Value> = seeded(state)
        .filter(|c| status.is_none_or(|s| s == c.status(call.now_ms)))
        .filter(|c| event.is_none_or(|e| c.events.iter().any(|(t, _, _)| *t == e)))
        .filter(|c| series.is_none_or(|s| s == c.series))
        .map(Collection::json)
        .collect();
    let (page, cursor) = crate::api::paginate_with(found, call, 100, 200)?;
    ok(json!({ "multivariate_contracts": page, "cursor": cursor }))
}

// ---------------------------------------------------------------------------
// Creating markets
// ---------------------------------------------------------------------------

/// The selected legs, checked against the collection's rules, in the order
/// that names the market (sorted unless the collection is ordered).
fn legs(
    state: &State,
    found: &Collection,
    body: &Value,
) -> Result<Vec<(String, String, String)>, ApiErr> {
    let selected = body["selected_markets"].as_array().ok_or_else(|| {
        ApiErr::bad_request("missing_parameters", "`selected_markets` is required")
    })?;
    let (min, max) = found.size;
    if !(min as usize..=max as usize).contains(&selected.len()) {
        return Err(invalid(&format!("select {min} to {max} markets")));
    }
    let mut legs = Vec::with_capacity(selected.len());
    for entry in selected {
        let field = |name: &str| entry[name].as_str().filter(|t| !t.is_empty());
        let (Some(event), Some(market), Some(side)) =
            (field("event_ticker"), field("market_ticker"), field("side"))
        else {
            return Err(invalid(
                "each selected market needs market_ticker, event_ticker and side",
            ));
        };
        let Some((_, yes_only, _)) = found.events.iter().find(|(e, _, _)| *e == event) else {
            return Err(invalid(&format!("{event} is not in this collection")));
        };
        if !matches!(side, "yes" | "no") {
            return Err(invalid("side must be yes or no"));
        }
        if (*yes_only || found.all_yes) && side != "yes" {
            return Err(invalid(&format!(
                "only the yes side of {event} may be used"
            )));
        }
        if state
            .catalog
            .market(market)
            .is_none_or(|m| m.event_ticker != event)
        {
            return Err(invalid(&format!("{market} is not a market of {event}")));
        }
        legs.push((event.to_owned(), market.to_owned(), side.to_owned()));
    }
    let mut events: Vec<&str> = legs.iter().map(|(e, _, _)| e.as_str()).collect();
    events.sort_unstable();
    let before = events.len();
    events.dedup();
    if found.single_market_per_event && events.len() != before {
        return Err(invalid("select at most one market per event"));
    }
    let mut markets: Vec<&str> = legs.iter().map(|(_, m, _)| m.as_str()).collect();
    markets.sort_unstable();
    markets.dedup();
    if markets.len() != legs.len() {
        return Err(invalid("each market may be selected once"));
    }
    if !found.ordered {
        legs.sort();
    }
    Ok(legs)
}

/// The event and market tickers a selection names: a digest of it.
fn tickers(found: &Collection, legs: &[(String, String, String)]) -> (String, String) {
    let mut hasher = Sha256::new();
    hasher.update(found.ticker.as_bytes());
    for (event, market, side) in legs {
        hasher.update(format!("|{event}|{market}|{side}").as_bytes());
    }
    let hex: String = hasher
        .finalize()
        .iter()
        .take(8)
        .map(|b| format!("{b:02X}"))
        .collect();
    let event = format!("{}-S{}", found.series, &hex[..10]);
    let market = format!("{event}-{}", &hex[10..]);
    (event, market)
}

fn legs_json(legs: &[(String, String, String)]) -> Value {
    let legs: Vec<Value> = legs
        .iter()
        .map(|(event, market, side)| {
            json!({"event_ticker": event, "market_ticker": market, "side": side})
        })
        .collect();
    json!(legs)
}

/// A combo market's collection and legs, for the RFQ and market JSON.
pub(crate) fn combo_legs(state: &State, market_ticker: &str) -> Option<(String, Value)> {
    let combo = state.reference.combos.get(market_ticker)?;
    Some((combo.collection.to_owned(), legs_json(&combo.legs)))
}

pub(super) fn create(state: &mut State, call: &Call) -> Answer {
    // This operation has no 404: an unknown collection is a bad request.
    let found = collection(state, call.param("collection_ticker")).ok_or_else(|| {
        ApiErr::bad_request(
            "collection_not_found",
            "no such multivariate event collection",
        )
    })?;
    if found.status(call.now_ms) != "open" {
        return Err(ApiErr::bad_request(
            "collection_not_open",
            "the collection is not open",
        ));
    }
    let body = call.body();
    let legs = legs(state, found, body)?;
    let (event_ticker, market_ticker) = tickers(found, &legs);
    if !state.reference.combos.contains_key(&market_ticker) {
        let title: Vec<String> = legs
            .iter()
            .map(|(_, market, side)| format!("{side} {market}"))
            .collect();
        let title = title.join(", ");
        state
            .catalog
            .add_event(EventSpec::new(&event_ticker, found.series, &title))
            .map_err(|e| invalid(&e))?;
        state
            .add_market(MarketSpec::new(&market_ticker, &event_ticker, &title))
            .map_err(|e| invalid(&e))?;
        state.reference.combos.insert(
            market_ticker.clone(),
            Combo {
                seq: state.reference.combos.len(),
                collection: found.ticker,
                series: found.series,
                event_ticker: event_ticker.clone(),
                legs,
            },
        );
    }
    let mut json = json!({ "event_ticker": event_ticker, "market_ticker": market_ticker });
    if body["with_market_payload"].as_bool() == Some(true)
        && let Some(market) = market_payload(state, &market_ticker, call.now_ms)
    {
        json["market"] = market;
    }
    ok(json)
}

/// Runs another operation of the simulator and returns its body, so the
/// markets and events here read exactly as the market endpoints show them.
fn read(
    state: &mut State,
    name: &str,
    params: &[(&str, &str)],
    query: &[(&str, &str)],
    now_ms: i64,
) -> Option<Value> {
    let call = Call {
        operation: kalshi_gen::Operation::find(name)?,
        user: None,
        params: params
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect(),
        query: query
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect(),
        body: None,
        now_ms,
    };
    match crate::api::dispatch(state, &call) {
        Ok((200, Some(body))) => Some(body),
        _ => None,
    }
}

/// A combo market as `GET /markets/{ticker}` shows it, with its legs.
fn market_payload(state: &mut State, ticker: &str, now_ms: i64) -> Option<Value> {
    let mut market =
        read(state, "get_market", &[("ticker", ticker)], &[], now_ms)?["market"].take();
    with_legs(state, &mut market);
    Some(market)
}

fn with_legs(state: &State, market: &mut Value) {
    let legs = market["ticker"]
        .as_str()
        .and_then(|ticker| combo_legs(state, ticker));
    if let Some((collection, legs)) = legs {
        market["mve_collection_ticker"] = json!(collection);
        market["mve_selected_legs"] = legs;
    }
}

pub(super) fn events(state: &mut State, call: &Call) -> Answer {
    let series = call.query("series_ticker").filter(|s| !s.is_empty());
    let collection = call.query("collection_ticker").filter(|c| !c.is_empty());
    if series.is_some() && collection.is_some() {
        return Err(invalid(
            "collection_ticker cannot be combined with series_ticker",
        ));
    }
    let tickers: Option<Vec<&str>> = call
        .query("tickers")
        .filter(|t| !t.is_empty())
        .map(|t| t.split(',').map(str::trim).collect());
    let nested = flag(call, "with_nested_markets")?;
    let combos: Vec<Combo> = state
        .reference
        .combos
        .values()
        .filter(|c| series.is_none_or(|s| s == c.series))
        .filter(|c| collection.is_none_or(|t| t == c.collection))
        .filter(|c| {
            tickers
                .as_ref()
                .is_none_or(|t| t.contains(&c.event_ticker.as_str()))
        })
        .cloned()
        .collect();
    let mut combos = combos;
    combos.sort_by_key(|c| c.seq);
    let (page, cursor) = crate::api::paginate_with(combos, call, 100, 200)?;
    let mut events = Vec::with_capacity(page.len());
    for combo in page {
        let Some(mut body) = read(
            state,
            "get_event",
            &[("event_ticker", &combo.event_ticker)],
            &[],
            call.now_ms,
        ) else {
            continue;
        };
        let mut event = body["event"].take();
        if nested {
            let mut markets = body["markets"].take();
            for market in markets.as_array_mut().into_iter().flatten() {
                with_legs(state, market);
            }
            event["markets"] = markets;
        }
        events.push(event);
    }
    ok(json!({ "events": events, "cursor": cursor }))
}
