//! Series, events and markets: the seeded catalog with what trading did to
//! it, and every filter the spec declares on their lists.
//!
//! Markets that settled before the historical cutoff are archived: they are
//! only served by `/historical/markets*` (see [`history`]),
//! so the live lists and `GET /markets/{ticker}` leave them out. Events and
//! series stay listed whatever their age, as on Kalshi.

use std::collections::HashMap;

use rust_decimal::Decimal;
use serde_json::{Value, json};

use super::tape::{self, Tape};
use super::{bool_query, history, int_query, invalid, list_query};
use crate::State;
use crate::api::{count, ok, paginate, paginate_with};
use crate::engine::{MarketState, Outcome, Side};
use crate::http::{Answer, ApiErr, Call};
use crate::seed::{self, Activity, LISTED_MS, MarketSeed};

const DAY_MS: i64 = 86_400_000;

/// What trading did to a market, as of `now_ms`.
fn activity(state: &State, seed: &MarketSeed, now_ms: i64) -> Activity {
    let engine_state = state.engine.market_state(&seed.ticker);
    let (status, result) = match engine_state {
        Some(MarketState::Open) => ("active", ""),
        Some(MarketState::Closed) => ("closed", ""),
        Some(MarketState::Settled(Outcome::Yes)) => ("finalized", "yes"),
        Some(MarketState::Settled(Outcome::No)) => ("finalized", "no"),
        None => ("inactive", ""),
    };
    let (bids, asks) = state.engine.book(&seed.ticker).unwrap_or_default();
    let tape = Tape::of(state, &seed.ticker);
    let day_ago = now_ms.saturating_sub(DAY_MS);
    Activity {
        status,
        result,
        best_bid: bids.first().copied(),
        best_ask: asks.first().copied(),
        last_price: tape.last_price(i64::MAX),
        previous_bid: tape.best(Side::Bid, day_ago),
        previous_ask: tape.best(Side::Ask, day_ago),
        previous_price: tape.last_price(day_ago),
        volume: tape.volume(i64::MIN, i64::MAX),
        volume_24h: tape.volume(day_ago, i64::MAX),
        open_interest: state.engine.open_interest(&seed.ticker),
        settled_ms: tape.settled_ms(),
    }
}

/// The spec's `Market` of a listed market; a market of a multivariate
/// collection (a combo) names its collection and legs.
pub(crate) fn market_json(state: &State, seed: &MarketSeed, now_ms: i64) -> Value {
    let mut json = seed::market_json(seed, &activity(state, seed, now_ms));
    if let Some((collection, legs)) = crate::catalog::combo_legs(state, &seed.ticker) {
        json["mve_collection_ticker"] = json!(collection);
        json["mve_selected_legs"] = legs;
    }
    json
}

/// Whether a market belongs to a multivariate collection.
pub(super) fn is_combo(state: &State, ticker: &str) -> bool {
    crate::catalog::combo_legs(state, ticker).is_some()
}

/// Contracts traded per series.
fn series_volumes(state: &State) -> HashMap<&str, Decimal> {
    let mut volumes: HashMap<&str, Decimal> = HashMap::new();
    for trade in tape::all_trades(state) {
        if let Some(market) = state.catalog.market(&trade.ticker) {
            *volumes.entry(market.series_ticker.as_str()).or_default() += trade.count;
        }
    }
    volumes
}

/// A series with the optional parts its request asked for.
fn series_with_extras(
    state: &State,
    call: &Call,
    ticker: &str,
    volumes: &HashMap<&str, Decimal>,
) -> Result<Option<Value>, ApiErr> {
    let Some(mut series) = state.catalog.series_json(ticker) else {
        return Ok(None);
    };
    if bool_query(call, "include_volume")? == Some(true) {
        let volume = volumes.get(ticker).copied().unwrap_or_default();
        series["volume_fp"] = json!(count(volume));
    }
    if bool_query(call, "include_product_metadata")? == Some(true) {
        series["product_metadata"] = json!({ "simulated": true });
    }
    Ok(Some(series))
}

/// Seconds since the epoch of the seeded listing time.
fn listed_s() -> i64 {
    LISTED_MS / 1000
}

pub(super) fn series_list(state: &State, call: &Call) -> Answer {
    let category = call.query("category");
    let tags = list_query(call, "tags");
    let updated_after = int_query(call, "min_updated_ts")?;
    let volumes = series_volumes(state);
    let mut series = Vec::new();
    for (ticker, _, series_category) in &state.catalog.series {
        let tagged = seed::series_tags(ticker);
        let wanted = category.is_none_or(|c| c == series_category)
            && tags
                .as_ref()
                .is_none_or(|want| want.iter().any(|t| tagged.contains(t)))
            && updated_after.is_none_or(|after| listed_s() > after);
        if wanted && let Some(json) = series_with_extras(state, call, ticker, &volumes)? {
            series.push(json);
        }
    }
    ok(json!({ "series": series }))
}

pub(super) fn series(state: &State, call: &Call) -> Answer {
    let volumes = series_volumes(state);
    let series = series_with_extras(state, call, call.param("series_ticker"), &volumes)?
        .ok_or_else(|| ApiErr::new(404, "not_found", "no such series"))?;
    ok(json!({ "series": series }))
}

/// The live (not archived) markets of an event, as JSON.
fn event_markets(state: &State, event: &str, now_ms: i64) -> Vec<Value> {
    state
        .catalog
        .event_markets(event)
        .filter(|m| !history::is_archived_market(state, &m.ticker, now_ms))
        .map(|m| market_json(state, m, now_ms))
        .collect()
}

/// An event's status, from its markets: open while one trades, settled
/// once all settled, closed in between, unopened without markets.
fn event_status(state: &State, event: &str) -> &'static str {
    let states: Vec<Option<MarketState>> = state
        .catalog
        .event_markets(event)
        .map(|m| state.engine.market_state(&m.ticker))
        .collect();
    if states.is_empty() {
        "unopened"
    } else if states.contains(&Some(MarketState::Open)) {
        "open"
    } else if states
        .iter()
        .all(|s| matches!(s, Some(MarketState::Settled(_))))
    {
        "settled"
    } else {
        "closed"
    }
}

fn check_event_status(status: Option<&str>) -> Result<(), ApiErr> {
    match status {
        None | Some("unopened" | "open" | "closed" | "settled") => Ok(()),
        Some(_) => Err(invalid("status", "unopened, open, closed or settled")),
    }
}

pub(super) fn events(state: &State, call: &Call) -> Answer {
    let series = call.query("series_ticker");
    let status = call.query("status");
    check_event_status(status)?;
    let tickers = list_query(call, "tickers");
    let closes_after = int_query(call, "min_close_ts")?;
    let updated_after = int_query(call, "min_updated_ts")?;
    let nested = bool_query(call, "with_nested_markets")? == Some(true);
    let milestones = bool_query(call, "with_milestones")? == Some(true);
    let events: Vec<Value> = state
        .catalog
        .events
        .iter()
        .map(|(ticker, s, _)| (ticker.as_str(), s.as_str()))
        .filter(|(_, s)| series.is_none_or(|want| want == *s))
        .filter(|(t, _)| tickers.as_ref().is_none_or(|want| want.contains(t)))
        .filter(|(t, _)| status.is_none_or(|want| want == event_status(state, t)))
        .filter(|(t, _)| {
            closes_after.is_none_or(|after| {
                state
                    .catalog
                    .event_markets(t)
                    .any(|m| m.close_ms.div_euclid(1000) > after)
            })
        })
        .filter(|_| updated_after.is_none_or(|after| listed_s() > after))
        .filter_map(|(t, _)| {
            let mut event = state.catalog.event_json(t)?;
            if nested {
                event["markets"] = json!(event_markets(state, t, call.now_ms));
            }
            Some(event)
        })
        .collect();
    let (page, cursor) = paginate_with(events, call, 200, 200)?;
    let mut body = json!({ "events": page, "cursor": cursor });
    if milestones {
        // The simulator's events are tied to no milestone.
        body["milestones"] = json!([]);
    }
    ok(body)
}

pub(super) fn event(state: &State, call: &Call) -> Answer {
    let ticker = call.param("event_ticker");
    let mut event = state
        .catalog
        .event_json(ticker)
        .ok_or_else(|| ApiErr::new(404, "not_found", "no such event"))?;
    let exclude = bool_query(call, "exclude_markets")? == Some(true);
    let nested = bool_query(call, "with_nested_markets")? == Some(true);
    if exclude && nested {
        return Err(ApiErr::bad_request(
            "invalid_parameters",
            "exclude_markets cannot be combined with with_nested_markets=true",
        ));
    }
    if exclude {
        return ok(json!({ "event": event, "markets": [] }));
    }
    let markets = event_markets(state, ticker, call.now_ms);
    if nested {
        event["markets"] = json!(markets);
    }
    ok(json!({ "event": event, "markets": markets }))
}

/// The market filters of `GET /markets`, checked once per request.
struct MarketFilter<'a> {
    event: Option<&'a str>,
    series: Option<&'a str>,
    tickers: Option<Vec<&'a str>>,
    status: Option<&'a str>,
    /// Lower and upper bounds in seconds: created, updated, close, settled.
    bounds: [(Option<i64>, Option<i64>); 4],
    /// `mve_filter`: `Some(true)` combos only, `Some(false)` no combos.
    combos: Option<bool>,
}

impl<'a> MarketFilter<'a> {
    fn of(call: &'a Call) -> Result<Self, ApiErr> {
        let status = call.query("status");
        if let Some(s) = status
            && !["unopened", "open", "paused", "closed", "settled"].contains(&s)
        {
            return Err(invalid(
                "status",
                "unopened, open, paused, closed or settled",
            ));
        }
        let combos = match call.query("mve_filter") {
            None => None,
            Some("only") => Some(true),
            Some("exclude") => Some(false),
            Some(_) => return Err(invalid("mve_filter", "only or exclude")),
        };
        let pair = |name: &str| -> Result<(Option<i64>, Option<i64>), ApiErr> {
            Ok((
                int_query(call, &format!("min_{name}_ts"))?,
                int_query(call, &format!("max_{name}_ts"))?,
            ))
        };
        Ok(Self {
            event: call.query("event_ticker"),
            series: call.query("series_ticker"),
            tickers: list_query(call, "tickers"),
            status,
            bounds: [
                pair("created")?,
                pair("updated")?,
                pair("close")?,
                pair("settled")?,
            ],
            combos,
        })
    }

    fn admits(&self, state: &State, market: &MarketSeed) -> bool {
        let engine_state = state.engine.market_state(&market.ticker);
        let status = match engine_state {
            Some(MarketState::Open) => "open",
            Some(MarketState::Closed) => "closed",
            Some(MarketState::Settled(_)) => "settled",
            None => "unopened",
        };
        let settled_s = tape::settled_ms(state, &market.ticker).map(|ms| ms.div_euclid(1000));
        let times = [
            Some(listed_s()),
            Some(listed_s()),
            Some(market.close_ms.div_euclid(1000)),
            settled_s,
        ];
        // Kalshi's bounds: created, updated, settled after the minimum and
        // before (or at) the maximum; closing likewise.
        let within = self.bounds.iter().zip(times).all(|((min, max), at)| {
            (min.is_none() && max.is_none())
                || at.is_some_and(|at| min.is_none_or(|m| at > m) && max.is_none_or(|m| at <= m))
        });
        self.combos
            .is_none_or(|combos| combos == is_combo(state, &market.ticker))
            && within
            && self.event.is_none_or(|e| e == market.event_ticker)
            && self.series.is_none_or(|s| s == market.series_ticker)
            && self
                .tickers
                .as_ref()
                .is_none_or(|t| t.contains(&market.ticker.as_str()))
            && self.status.is_none_or(|s| s == status)
    }
}

pub(super) fn markets(state: &State, call: &Call) -> Answer {
    let filter = MarketFilter::of(call)?;
    let markets: Vec<Value> = state
        .catalog
        .markets
        .iter()
        .filter(|m| !history::is_archived_market(state, &m.ticker, call.now_ms))
        .filter(|m| filter.admits(state, m))
        .map(|m| market_json(state, m, call.now_ms))
        .collect();
    let (page, cursor) = paginate(markets, call)?;
    ok(json!({ "markets": page, "cursor": cursor }))
}

pub(super) fn market(state: &State, call: &Call) -> Answer {
    let ticker = call.param("ticker");
    let seed = state
        .catalog
        .market(ticker)
        .filter(|m| !history::is_archived_market(state, &m.ticker, call.now_ms))
        .ok_or_else(|| ApiErr::new(404, "not_found", "no such market"))?;
    ok(json!({ "market": market_json(state, seed, call.now_ms) }))
}
