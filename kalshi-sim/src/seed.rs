//! The series, events and markets the simulator starts with.
//!
//! Two series, three events, six open markets: enough for a quickstart,
//! filters and pagination. The static description lives here; what trading
//! changes (quotes, volume, status, result) is filled in from the engine
//! when a market is read (see [`Activity`]).

use rust_decimal::Decimal;
use serde_json::{Value, json};

use crate::api::{count, dollars, rfc3339};

/// When the seeded series, events and markets were listed and last edited
/// (2026-11-01T00:00:00Z), in ms since the epoch.
pub(crate) const LISTED_MS: i64 = 1_793_491_200_000;

/// When a market added without a close time closes (2027-12-31T00:00:00Z).
const DEFAULT_CLOSE_MS: i64 = 1_830_211_200_000;

/// A seeded market's static description.
#[derive(Debug, Clone)]
pub(crate) struct MarketSeed {
    pub ticker: String,
    pub event_ticker: String,
    pub series_ticker: String,
    pub title: String,
    /// When trading ends, ms since the epoch (the `close_time` filters).
    pub close_ms: i64,
}

/// A new event for [`Simulator::add_event`](crate::Simulator::add_event).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventSpec {
    /// The event's ticker, e.g. `KXRAIN-27JAN01`.
    pub ticker: String,
    /// Its series; listed on first use.
    pub series_ticker: String,
    /// What it asks.
    pub title: String,
}

impl EventSpec {
    /// An event of `series_ticker`.
    pub fn new(ticker: &str, series_ticker: &str, title: &str) -> Self {
        Self {
            ticker: ticker.to_owned(),
            series_ticker: series_ticker.to_owned(),
            title: title.to_owned(),
        }
    }
}

/// A new market for [`Simulator::add_market`](crate::Simulator::add_market).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MarketSpec {
    /// The market's ticker, e.g. `KXRAIN-27JAN01-YES`.
    pub ticker: String,
    /// Its event, which must be listed.
    pub event_ticker: String,
    /// The outcome it trades.
    pub title: String,
}

impl MarketSpec {
    /// A market of `event_ticker`.
    pub fn new(ticker: &str, event_ticker: &str, title: &str) -> Self {
        Self {
            ticker: ticker.to_owned(),
            event_ticker: event_ticker.to_owned(),
            title: title.to_owned(),
        }
    }
}

/// Everything listed by the public market endpoints.
#[derive(Debug, Clone, Default)]
pub(crate) struct Catalog {
    pub series: Vec<(String, String, String)>,
    pub events: Vec<(String, String, String)>,
    pub markets: Vec<MarketSeed>,
}

impl Catalog {
    pub fn seeded() -> Self {
        let series = vec![
            (
                "KXTEST".to_owned(),
                "Test markets".to_owned(),
                "Science and Technology".to_owned(),
            ),
            (
                "KXHIGHNY".to_owned(),
                "Highest temperature in NYC".to_owned(),
                "Climate and Weather".to_owned(),
            ),
        ];
        let events = vec![
            (
                "KXTEST-26DEC31".to_owned(),
                "KXTEST".to_owned(),
                "Will the test pass by Dec 31?".to_owned(),
            ),
            (
                "KXTEST-27JUN30".to_owned(),
                "KXTEST".to_owned(),
                "Will the test pass by Jun 30?".to_owned(),
            ),
            (
                "KXHIGHNY-26NOV30".to_owned(),
                "KXHIGHNY".to_owned(),
                "Highest temperature in NYC on Nov 30".to_owned(),
            ),
        ];
        // Each event closes on its own date so the close-time filters have
        // something to tell apart; all of them lie ahead of the seed date.
        let close_ms = |event: &str| match event {
            "KXTEST-26DEC31" => 1_798_675_200_000, // 2026-12-31
            "KXTEST-27JUN30" => 1_814_313_600_000, // 2027-06-30
            _ => DEFAULT_CLOSE_MS,
        };
        let market = |ticker: &str, event: &str, series: &str, title: &str| MarketSeed {
            ticker: ticker.to_owned(),
            event_ticker: event.to_owned(),
            series_ticker: series.to_owned(),
            title: title.to_owned(),
            close_ms: close_ms(event),
        };
        let markets = vec![
            market(
                "KXTEST-26DEC31-YES",
                "KXTEST-26DEC31",
                "KXTEST",
                "The test passes by Dec 31",
            ),
            market(
                "KXTEST-27JUN30-YES",
                "KXTEST-27JUN30",
                "KXTEST",
                "The test passes by Jun 30",
            ),
            market(
                "KXHIGHNY-26NOV30-B40",
                "KXHIGHNY-26NOV30",
                "KXHIGHNY",
                "40° or below",
            ),
            market(
                "KXHIGHNY-26NOV30-B45",
                "KXHIGHNY-26NOV30",
                "KXHIGHNY",
                "41° to 45°",
            ),
            market(
                "KXHIGHNY-26NOV30-B50",
                "KXHIGHNY-26NOV30",
                "KXHIGHNY",
                "46° to 50°",
            ),
            market(
                "KXHIGHNY-26NOV30-T50",
                "KXHIGHNY-26NOV30",
                "KXHIGHNY",
                "Above 50°",
            ),
        ];
        Self {
            series,
            events,
            markets,
        }
    }

    pub fn market_tickers(&self) -> Vec<String> {
        self.markets.iter().map(|m| m.ticker.clone()).collect()
    }

    /// Lists an event, and its series when that is new.
    pub fn add_event(&mut self, event: EventSpec) -> Result<(), String> {
        check_ticker(&event.ticker)?;
        check_ticker(&event.series_ticker)?;
        if self.events.iter().any(|(t, _, _)| *t == event.ticker) {
            return Err(format!("event {} is already listed", event.ticker));
        }
        if !self
            .series
            .iter()
            .any(|(t, _, _)| *t == event.series_ticker)
        {
            self.series.push((
                event.series_ticker.clone(),
                event.series_ticker.clone(),
                "Simulated".to_owned(),
            ));
        }
        self.events
            .push((event.ticker, event.series_ticker, event.title));
        Ok(())
    }

    /// Lists a market of a listed event.
    pub fn add_market(&mut self, market: MarketSpec) -> Result<(), String> {
        check_ticker(&market.ticker)?;
        if self.market(&market.ticker).is_some() {
            return Err(format!("market {} is already listed", market.ticker));
        }
        let series = self
            .events
            .iter()
            .find(|(t, _, _)| *t == market.event_ticker)
            .map(|(_, series, _)| series.clone())
            .ok_or_else(|| format!("event {} is not listed", market.event_ticker))?;
        self.markets.push(MarketSeed {
            ticker: market.ticker,
            event_ticker: market.event_ticker,
            series_ticker: series,
            title: market.title,
            close_ms: DEFAULT_CLOSE_MS,
        });
        Ok(())
    }

    pub fn market(&self, ticker: &str) -> Option<&MarketSeed> {
        self.markets.iter().find(|m| m.ticker == ticker)
    }

    /// The spec's `Series` object. Its `fee_type` and `fee_multiplier` are
    /// what the engine charges in the series' markets
    /// ([`api::fee_schedule`](crate::api::fee_schedule)).
    pub fn series_json(&self, ticker: &str) -> Option<Value> {
        let (ticker, title, category) = self.series.iter().find(|(t, _, _)| t == ticker)?;
        Some(json!({
            "ticker": ticker, "frequency": "daily", "title": title, "category": category,
            "categories": [category], "tags": series_tags(ticker), "settlement_sources": [],
            "contract_url": "https://kalshi.com", "contract_terms_url": "https://kalshi.com",
            "fee_type": "quadratic", "fee_multiplier": 1.0, "additional_prohibitions": [],
            "last_updated_ts": rfc3339(LISTED_MS), "exchange_index": 0
        }))
    }

    /// The spec's `EventData` object.
    pub fn event_json(&self, ticker: &str) -> Option<Value> {
        let (ticker, series, title) = self.events.iter().find(|(t, _, _)| t == ticker)?;
        let mut json = json!({
            "event_ticker": ticker, "series_ticker": series, "sub_title": "", "title": title,
            "collateral_return_type": "", "mutually_exclusive": false, "settlement_sources": [],
            "last_updated_ts": rfc3339(LISTED_MS), "exchange_index": 0
        });
        if let Some((fee_type, multiplier)) = event_fee_override(ticker) {
            json["fee_type_override"] = json!(fee_type);
            json["fee_multiplier_override"] = json!(multiplier);
        }
        Some(json)
    }

    /// The markets of an event, in listing order.
    pub fn event_markets(&self, event_ticker: &str) -> impl Iterator<Item = &MarketSeed> {
        self.markets
            .iter()
            .filter(move |m| m.event_ticker == event_ticker)
    }
}

/// The subjects a series is tagged with (`Series.tags`, and the tags per
/// category of `GET /search/tags_by_categories`).
pub(crate) fn series_tags(ticker: &str) -> Vec<&'static str> {
    match ticker {
        "KXTEST" => vec!["Testing"],
        "KXHIGHNY" => vec!["Temperature", "New York"],
        _ => vec!["Simulated"],
    }
}

/// An event's fee override (`fee_type`, `fee_multiplier`): the NYC
/// temperature event has one, set to what its series charges, so that the
/// fee the engine takes (from the series) is the fee either way.
pub(crate) fn event_fee_override(ticker: &str) -> Option<(&'static str, f64)> {
    (ticker == "KXHIGHNY-26NOV30").then_some(("quadratic", 1.0))
}

/// What trading has done to a market: the live part of its `Market` object.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Activity {
    /// The spec's `Market.status`.
    pub status: &'static str,
    /// `yes`, `no`, or empty while unresolved.
    pub result: &'static str,
    /// Best YES bid and ask: (price, size).
    pub best_bid: Option<(Decimal, Decimal)>,
    pub best_ask: Option<(Decimal, Decimal)>,
    pub last_price: Option<Decimal>,
    /// Best bid, best ask and last price a day ago.
    pub previous_bid: Option<Decimal>,
    pub previous_ask: Option<Decimal>,
    pub previous_price: Option<Decimal>,
    pub volume: Decimal,
    pub volume_24h: Decimal,
    pub open_interest: Decimal,
    /// When it settled, ms since the epoch.
    pub settled_ms: Option<i64>,
}

/// The spec's `Market` object. A side without orders quotes as Kalshi
/// does: bid 0, ask 1, size 0.
pub(crate) fn market_json(seed: &MarketSeed, live: &Activity) -> Value {
    let (bid, bid_size) = live.best_bid.unwrap_or((Decimal::ZERO, Decimal::ZERO));
    let (ask, ask_size) = live.best_ask.unwrap_or((Decimal::ONE, Decimal::ZERO));
    let price = |p: Option<Decimal>| dollars(p.unwrap_or_default());
    let listed = rfc3339(LISTED_MS);
    let close = rfc3339(seed.close_ms);
    let mut json = json!({
        "ticker": seed.ticker, "event_ticker": seed.event_ticker, "market_type": "binary",
        "title": seed.title, "yes_sub_title": seed.title, "no_sub_title": seed.title,
        "created_time": listed, "updated_time": listed, "open_time": listed, "close_time": close,
        "latest_expiration_time": close, "settlement_timer_seconds": 300,
        "status": live.status, "notional_value_dollars": "1.0000",
        "yes_bid_dollars": dollars(bid), "yes_bid_size_fp": count(bid_size),
        "yes_ask_dollars": dollars(ask), "yes_ask_size_fp": count(ask_size),
        "no_bid_dollars": dollars(Decimal::ONE - ask), "no_ask_dollars": dollars(Decimal::ONE - bid),
        "last_price_dollars": price(live.last_price),
        "previous_yes_bid_dollars": price(live.previous_bid),
        "previous_yes_ask_dollars": dollars(live.previous_ask.unwrap_or(Decimal::ONE)),
        "previous_price_dollars": price(live.previous_price),
        "volume_fp": count(live.volume), "volume_24h_fp": count(live.volume_24h),
        "open_interest_fp": count(live.open_interest),
        "result": live.result, "can_close_early": true, "expiration_value": "",
        "rules_primary": "Simulated market: resolves however the test wants.", "rules_secondary": "",
        "price_level_structure": "linear_cent",
        "price_ranges": [{"start": "0.0000", "end": "1.0000", "step": "0.0100"}],
        "settlement_bounds_type": "default", "exchange_index": 0
    });
    match live.result {
        "yes" => json["settlement_value_dollars"] = json!("1.0000"),
        "no" => json["settlement_value_dollars"] = json!("0.0000"),
        _ => {}
    }
    if let Some(settled) = live.settled_ms {
        json["settlement_ts"] = json!(rfc3339(settled));
    }
    json
}

/// Tickers go into URL paths: printable ASCII without `/`, `?`, `#` or
/// spaces, at most 200 characters (the spec's limit for tickers).
fn check_ticker(ticker: &str) -> Result<(), String> {
    let fine = !ticker.is_empty()
        && ticker.len() <= 200
        && ticker
            .bytes()
            .all(|b| b.is_ascii_graphic() && !matches!(b, b'/' | b'?' | b'#' | b'%'));
    if fine {
        Ok(())
    } else {
        Err(format!("{ticker:?} is not a usable ticker"))
    }
}
