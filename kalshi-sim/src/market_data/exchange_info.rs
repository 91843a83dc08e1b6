//! What the simulator has no live source for, answered from small seeded
//! data that agrees with the catalog: the trading schedule, fee changes,
//! event images and colours, forecast percentiles, tags and sport filters.

use serde_json::{Map, Value, json};

use super::{bool_query, invalid, list_query, required_int};
use crate::State;
use crate::api::{ok, paginate, rfc3339};
use crate::http::{Answer, ApiErr, Call};
use crate::seed::{self, LISTED_MS};

/// The simulator trades around the clock: every day is one session, and
/// no maintenance is planned (`GET /exchange/status` always says active).
pub(super) fn schedule() -> Answer {
    // "24:00" would be truer, but clients parse these as times of day.
    let day = json!([{ "open_time": "00:00", "close_time": "23:59" }]);
    ok(json!({
        "schedule": {
            "standard_hours": [{
                "start_time": rfc3339(LISTED_MS), "end_time": "2099-12-31T00:00:00.000Z",
                "monday": day, "tuesday": day, "wednesday": day, "thursday": day,
                "friday": day, "saturday": day, "sunday": day
            }],
            "maintenance_windows": []
        }
    }))
}

/// A past fee change: the day the seeded series moved to the fee the
/// simulator charges in them (quadratic, multiplier 1: see `Series`). None
/// is scheduled ahead, so the default list (upcoming changes only) is empty.
const FEE_CHANGE_MS: i64 = LISTED_MS - 30 * 86_400_000;

pub(super) fn series_fee_changes(state: &State, call: &Call) -> Answer {
    let series = call.query("series_ticker");
    let historical = bool_query(call, "show_historical")? == Some(true);
    let changes: Vec<Value> = state
        .catalog
        .series
        .iter()
        .map(|(ticker, _, _)| ticker.as_str())
        .filter(|t| ["KXTEST", "KXHIGHNY"].contains(t))
        .filter(|t| series.is_none_or(|s| s == *t))
        .filter(|_| historical || FEE_CHANGE_MS > call.now_ms)
        .map(|t| {
            json!({
                "id": format!("fee-change-{t}"), "series_ticker": t, "fee_type": "quadratic",
                "fee_multiplier": 1.0, "scheduled_ts": rfc3339(FEE_CHANGE_MS)
            })
        })
        .collect();
    ok(json!({ "series_fee_change_arr": changes }))
}

/// The change that gave each event its fee override (see
/// [`seed::event_fee_override`]), in the past.
pub(super) fn event_fee_changes(state: &State, call: &Call) -> Answer {
    let event = call.query("event_ticker");
    let changes: Vec<Value> = state
        .catalog
        .events
        .iter()
        .filter(|(ticker, _, _)| event.is_none_or(|e| e == ticker))
        .filter_map(|(ticker, series, _)| {
            let (fee_type, multiplier) = seed::event_fee_override(ticker)?;
            Some(json!({
                "id": format!("fee-change-{ticker}"), "event_ticker": ticker, "series_ticker": series,
                "fee_type_override": fee_type, "fee_multiplier_override": multiplier,
                "scheduled_ts": rfc3339(FEE_CHANGE_MS)
            }))
        })
        .collect();
    let (page, cursor) = paginate(changes, call)?;
    ok(json!({ "event_fee_changes": page, "cursor": cursor }))
}

/// Colours handed to an event's markets in turn.
const COLOURS: [&str; 6] = [
    "#0B8A4D", "#2563EB", "#D97706", "#DC2626", "#7C3AED", "#0891B2",
];

pub(super) fn event_metadata(state: &State, call: &Call) -> Answer {
    let event = call.param("event_ticker");
    state
        .catalog
        .event_json(event)
        .ok_or_else(|| ApiErr::new(404, "not_found", "no such event"))?;
    let markets: Vec<Value> = state
        .catalog
        .event_markets(event)
        .zip(COLOURS.iter().cycle())
        .map(|(m, colour)| {
            json!({
                "market_ticker": m.ticker, "color_code": colour,
                "image_url": format!("/images/markets/{}.png", m.ticker)
            })
        })
        .collect();
    ok(json!({
        "image_url": format!("/images/events/{event}.png"),
        "featured_image_url": format!("/images/events/{event}-featured.png"),
        "settlement_sources": [], "market_details": markets
    }))
}

/// The most forecast points one response carries.
const MAX_FORECAST_POINTS: i64 = 1_000;

/// A forecast per period end in the range (the latest
/// [`MAX_FORECAST_POINTS`]): a steady distribution around 45, the
/// percentile `p` (of 10 000) at `45 + 20 × (p / 10 000 − 0.5)`.
pub(super) fn forecast(state: &State, call: &Call) -> Answer {
    let event = call.param("ticker");
    let listed = state
        .catalog
        .events
        .iter()
        .any(|(t, series, _)| t == event && series == call.param("series_ticker"));
    if !listed {
        return Err(ApiErr::new(
            404,
            "not_found",
            "no such event in this series",
        ));
    }
    let percentiles = percentiles(call)?;
    let (start, end) = (
        required_int(call, "start_ts")?,
        required_int(call, "end_ts")?,
    );
    let minutes = required_int(call, "period_interval")?;
    // 0 stands for 5-second periods.
    let period_s = match minutes {
        0 => 5,
        1 | 60 | 1440 => minutes * 60,
        _ => return Err(invalid("period_interval", "0, 1, 60 or 1440")),
    };
    if start > end {
        return Err(invalid("start_ts", "at most end_ts"));
    }
    let last = end.div_euclid(period_s);
    let first = start
        .div_euclid(period_s)
        .saturating_add(i64::from(start.rem_euclid(period_s) != 0))
        .max(last.saturating_sub(MAX_FORECAST_POINTS - 1));
    let history: Vec<Value> = (first..=last)
        .map(|n| {
            let points: Vec<Value> = percentiles.iter().map(|p| percentile_json(*p)).collect();
            json!({
                "event_ticker": event, "end_period_ts": n.saturating_mul(period_s),
                "period_interval": minutes, "percentile_points": points
            })
        })
        .collect();
    ok(json!({ "forecast_history": history }))
}

/// `percentiles`: 1 to 10 values of 0–9999.
fn percentiles(call: &Call) -> Result<Vec<i64>, ApiErr> {
    let values = list_query(call, "percentiles").unwrap_or_default();
    let parsed: Option<Vec<i64>> = values
        .iter()
        .map(|v| v.parse::<i64>().ok().filter(|p| (0..=9999).contains(p)))
        .collect();
    parsed
        .filter(|p| (1..=10).contains(&p.len()))
        .ok_or_else(|| invalid("percentiles", "1 to 10 integers from 0 to 9999"))
}

fn percentile_json(percentile: i64) -> Value {
    // Exact in f64: percentile ≤ 9999.
    let raw = 45.0 + 20.0 * (percentile as f64 / 10_000.0 - 0.5);
    let rounded = (raw * 10.0).round() / 10.0;
    json!({
        "percentile": percentile, "raw_numerical_forecast": raw,
        "numerical_forecast": rounded, "formatted_forecast": format!("{rounded:.1}°F")
    })
}

/// Each category of the catalog with the tags of its series.
pub(super) fn tags_by_categories(state: &State) -> Answer {
    let mut categories: Map<String, Value> = Map::new();
    for (ticker, _, category) in &state.catalog.series {
        let entry = categories
            .entry(category.clone())
            .or_insert_with(|| json!([]));
        if let Value::Array(tags) = entry {
            for tag in seed::series_tags(ticker) {
                if !tags.iter().any(|t| t == tag) {
                    tags.push(json!(tag));
                }
            }
        }
    }
    ok(json!({ "tags_by_categories": categories }))
}

/// The sports Kalshi's search offers; the simulator lists no sports
/// markets, so these only feed a bot's filter UI.
pub(super) fn filters_by_sport() -> Answer {
    let sport = |scopes: &[&str], competitions: &[&str]| {
        let competitions: Map<String, Value> = competitions
            .iter()
            .map(|c| ((*c).to_owned(), json!({ "scopes": scopes })))
            .collect();
        json!({ "scopes": scopes, "competitions": competitions })
    };
    ok(json!({
        "filters_by_sports": {
            "Football": sport(&["Games", "Futures"], &["Pro Football", "College Football"]),
            "Basketball": sport(&["Games", "Futures"], &["Pro Basketball"]),
            "Baseball": sport(&["Games"], &["Pro Baseball"])
        },
        "sport_ordering": ["Football", "Basketball", "Baseball"]
    }))
}
