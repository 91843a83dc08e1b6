//! The series, events and markets the simulator starts with.
//!
//! Two series, three events, six open markets: enough for a quickstart,
//! filters and pagination. Market quotes are filled in from the live book
//! when a market is read.

use serde_json::{Value, json};

/// A seeded market's static description.
#[derive(Debug, Clone)]
pub(crate) struct MarketSeed {
    pub ticker: String,
    pub event_ticker: String,
    pub series_ticker: String,
    pub title: String,
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
        let market = |ticker: &str, event: &str, series: &str, title: &str| MarketSeed {
            ticker: ticker.to_owned(),
            event_ticker: event.to_owned(),
            series_ticker: series.to_owned(),
            title: title.to_owned(),
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
        });
        Ok(())
    }

    pub fn market(&self, ticker: &str) -> Option<&MarketSeed> {
        self.markets.iter().find(|m| m.ticker == ticker)
    }

    /// The spec's `Series` object.
    pub fn series_json(&self, ticker: &str) -> Option<Value> {
        let (ticker, title, category) = self.series.iter().find(|(t, _, _)| t == ticker)?;
        Some(json!({
            "ticker": ticker, "frequency": "daily", "title": title, "category": category,
            "categories": [category], "tags": ["simulator"], "settlement_sources": [],
            "contract_url": "https://kalshi.com", "contract_terms_url": "https://kalshi.com",
            "fee_type": "quadratic", "fee_multiplier": 1.0, "additional_prohibitions": []
        }))
    }

    /// The spec's `EventData` object.
    pub fn event_json(&self, ticker: &str) -> Option<Value> {
        let (ticker, series, title) = self.events.iter().find(|(t, _, _)| t == ticker)?;
        Some(json!({
            "event_ticker": ticker, "series_ticker": series, "sub_title": "", "title": title,
            "collateral_return_type": "", "mutually_exclusive": false, "settlement_sources": []
        }))
    }
}

/// The spec's `Market` object, with quotes from the book: best bid and ask
/// (price, size) on the YES side, if any.
pub(crate) fn market_json(
    seed: &MarketSeed,
    best_bid: Option<(String, String)>,
    best_ask: Option<(String, String)>,
    volume: &str,
) -> Value {
    let (bid, bid_size) = best_bid.unwrap_or_else(|| ("0.0000".to_owned(), "0.00".to_owned()));
    let (ask, ask_size) = best_ask.unwrap_or_else(|| ("1.0000".to_owned(), "0.00".to_owned()));
    let complement = |p: &str| {
        let value: rust_decimal::Decimal = p.parse().unwrap_or_default();
        format!("{:.4}", rust_decimal::Decimal::ONE - value)
    };
    json!({
        "ticker": seed.ticker, "event_ticker": seed.event_ticker, "market_type": "binary",
        "title": seed.title, "yes_sub_title": seed.title, "no_sub_title": seed.title,
        "created_time": "2026-11-01T00:00:00Z", "updated_time": "2026-11-01T00:00:00Z",
        "open_time": "2026-11-01T00:00:00Z", "close_time": "2027-12-31T00:00:00Z",
        "latest_expiration_time": "2027-12-31T00:00:00Z", "settlement_timer_seconds": 300,
        "status": "active", "notional_value_dollars": "1.0000",
        "yes_bid_dollars": bid, "yes_bid_size_fp": bid_size, "yes_ask_dollars": ask, "yes_ask_size_fp": ask_size,
        "no_bid_dollars": complement(&ask), "no_ask_dollars": complement(&bid),
        "last_price_dollars": "0.0000", "previous_yes_bid_dollars": "0.0000",
        "previous_yes_ask_dollars": "0.0000", "previous_price_dollars": "0.0000",
        "volume_fp": volume, "volume_24h_fp": volume, "open_interest_fp": "0.00",
        "result": "", "can_close_early": true, "expiration_value": "",
        "rules_primary": "Simulated market: resolves however the test wants.", "rules_secondary": "",
        "price_level_structure": "linear_cent",
        "price_ranges": [{"start": "0.0000", "end": "1.0000", "step": "0.0100"}],
        "settlement_bounds_type": "default"
    })
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
