//! Seeded reference data: milestones, structured targets, multivariate
//! event collections, incentive programs, live data and game stats, weather
//! indices, and the FCM endpoints.
//!
//! The simulator has no data provider behind these, so each is a small,
//! fixed, plausible set defined here, consistent between its list and get
//! endpoints and tied to the seeded catalog: milestones and incentive
//! programs name seeded events and markets, live data belongs to seeded
//! milestones, the weather series behind the NYC temperature event is the
//! weather index's own. What requests create (markets in multivariate
//! collections, FCM subtraders and their settings) is stored and listed.
//! Seeds that name events or markets the catalog does not list (a simulator
//! started [`empty`](crate::SimConfig::empty)) are left out.

mod fcm;
mod milestones;
mod multivariate;
mod weather;

use std::collections::BTreeMap;

use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::State;
use crate::api::ok;
use crate::http::{Answer, ApiErr, Call};

pub(crate) use fcm::is_subtrader_of;
pub(crate) use multivariate::combo_legs;

/// What these operations keep between requests.
#[derive(Debug, Default)]
pub(crate) struct Store {
    /// FCM subtraders by id.
    subtraders: BTreeMap<String, fcm::Subtrader>,
    /// Markets created in multivariate collections, by market ticker.
    combos: BTreeMap<String, multivariate::Combo>,
}

/// Runs the handler of one of these operations, or `None` for another one.
pub(crate) fn dispatch(state: &mut State, call: &Call) -> Option<Answer> {
    let answer = match call.operation.name {
        "get_milestone" => milestones::get(state, call),
        "get_milestones" => milestones::list(state, call),
        "get_live_data" | "get_live_data_by_milestone" => milestones::live_data(state, call),
        "get_live_datas" => milestones::live_datas(state, call),
        "get_game_stats" => milestones::game_stats(state, call),
        "get_event_live_data" => milestones::event_live_data(state, call),
        "get_weather_index" => weather::index(call),
        "get_weather_index_calibrations" => weather::calibrations(call),
        "get_structured_target" => structured_target(call),
        "get_structured_targets" => structured_targets(call),
        "get_incentive_programs" => incentive_programs(state, call),
        "get_multivariate_event_collection" => multivariate::get(state, call),
        "get_multivariate_event_collections" => multivariate::list(state, call),
        "create_market_in_multivariate_event_collection" => multivariate::create(state, call),
        "get_multivariate_events" => multivariate::events(state, call),
        "create_fcm_subtrader" => fcm::create(state, call),
        "list_fcm_subtraders" => fcm::list(state, call),
        "get_fcm_fills" => fcm::fills(state, call),
        "get_fcm_orders" => fcm::orders(state, call),
        "get_fcm_positions" => fcm::positions(state, call),
        "get_fcm_event_contract_daily_cap" => fcm::daily_cap(state, call),
        "update_fcm_event_contract_daily_cap" => fcm::set_daily_cap(state, call),
        "delete_fcm_event_contract_daily_cap" => fcm::delete_daily_cap(state, call),
        "get_fcm_subtrader_blocked_categories" => fcm::blocked_categories(state, call),
        "update_fcm_subtrader_blocked_categories" => fcm::block_category(state, call),
        _ => return None,
    };
    Some(answer)
}

// ---------------------------------------------------------------------------
// Shared helpers
// ---------------------------------------------------------------------------

fn invalid(message: &str) -> ApiErr {
    ApiErr::bad_request("invalid_parameters", message)
}

fn not_found(what: &str) -> ApiErr {
    ApiErr::new(404, "not_found", &format!("{what} not found"))
}

/// A UUID-shaped id derived from `seed`: the same every run, so a listed
/// item can be fetched by the id a previous run printed.
fn stable_uuid(seed: &str) -> String {
    let digest = Sha256::digest(seed.as_bytes());
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    uuid::Builder::from_random_bytes(bytes)
        .into_uuid()
        .to_string()
}

/// Milliseconds since the epoch of a fixed RFC 3339 time written here.
fn ms(text: &str) -> i64 {
    chrono::DateTime::parse_from_rfc3339(text).map_or(0, |t| t.timestamp_millis())
}

/// A boolean query parameter; absent is `false`.
fn flag(call: &Call, name: &str) -> Result<bool, ApiErr> {
    match call.query(name) {
        None | Some("" | "false") => Ok(false),
        Some("true") => Ok(true),
        Some(other) => Err(invalid(&format!(
            "`{name}` must be true or false, not {other:?}"
        ))),
    }
}

/// An integer query parameter.
fn int_param(call: &Call, name: &str) -> Result<Option<i64>, ApiErr> {
    call.query(name)
        .filter(|t| !t.is_empty())
        .map(|t| {
            t.parse::<i64>()
                .map_err(|_| invalid(&format!("`{name}` must be an integer")))
        })
        .transpose()
}

/// Every value of a repeated query parameter (`?ids=a&ids=b`).
fn all_values<'a>(call: &'a Call, name: &str) -> Vec<&'a str> {
    call.query
        .iter()
        .filter(|(k, v)| k == name && !v.is_empty())
        .map(|(_, v)| v.as_str())
        .collect()
}

/// One page of `items` for a list whose page size is the query parameter
/// `size_name`; the cursor is the offset, as the market lists use.
fn page<T>(
    items: Vec<T>,
    call: &Call,
    size_name: &str,
    default: usize,
    max: usize,
) -> Result<(Vec<T>, String), ApiErr> {
    let offset = match call.query("cursor").filter(|c| !c.is_empty()) {
        None => 0,
        Some(cursor) => cursor
            .strip_prefix("sim-")
            .and_then(|n| n.parse::<usize>().ok())
            .ok_or_else(|| ApiErr::bad_request("invalid_cursor", "unknown cursor"))?,
    };
    let size = match call.query(size_name) {
        None => default,
        Some(text) => text
            .parse::<usize>()
            .ok()
            .filter(|n| (1..=max).contains(n))
            .ok_or_else(|| invalid(&format!("`{size_name}` must be 1 to {max}")))?,
    };
    let total = items.len();
    let page: Vec<T> = items.into_iter().skip(offset).take(size).collect();
    let next = match offset.checked_add(size) {
        Some(end) if end < total => format!("sim-{end}"),
        _ => String::new(),
    };
    Ok((page, next))
}

// ---------------------------------------------------------------------------
// Structured targets
// ---------------------------------------------------------------------------

/// (seed key, name, type, details, source id), last updated together.
const TARGETS: &[(&str, &str, &str, &str, &str)] = &[
    (
        "target-sims",
        "Simulated City Sims",
        "basketball_team",
        r#"{"league": "NBA", "conference": "Western", "division": "Pacific", "abbreviation": "SIM"}"#,
        "sr:competitor:9001",
    ),
    (
        "target-testers",
        "Test Town Testers",
        "football_team",
        r#"{"league": "NFL", "conference": "NFC", "division": "NFC North", "abbreviation": "TST"}"#,
        "sr:competitor:9002",
    ),
    (
        "target-player-one",
        "Sam Simulator",
        "basketball_player",
        r#"{"league": "NBA", "team": "Simulated City Sims", "position": "G"}"#,
        "sr:player:9101",
    ),
    (
        "target-golfer",
        "Pat Putter",
        "golf_player",
        r#"{"tour": "PGA", "leagues": ["PGA", "LIV"]}"#,
        "sr:player:9201",
    ),
];

const TARGETS_UPDATED: &str = "2026-11-01T00:00:00Z";

fn target_json(entry: &(&str, &str, &str, &str, &str)) -> Value {
    let (key, name, kind, details, source) = *entry;
    let details: Value = serde_json::from_str(details).unwrap_or_else(|_| json!({}));
    json!({
        "id": stable_uuid(key), "name": name, "type": kind, "details": details,
        "source_id": source, "source_ids": {"sportradar": source},
        "last_updated_ts": TARGETS_UPDATED
    })
}

/// Whether a target's details name `competition` as its league,
/// conference, division or tour, or among its leagues.
fn in_competition(target: &Value, competition: &str) -> bool {
    let details = &target["details"];
    let named = ["league", "conference", "division", "tour"]
        .iter()
        .any(|field| details[field].as_str() == Some(competition));
    let listed = details["leagues"]
        .as_array()
        .is_some_and(|leagues| leagues.iter().any(|l| l.as_str() == Some(competition)));
    named || listed
}

fn structured_targets(call: &Call) -> Answer {
    let ids = all_values(call, "ids");
    if ids.len() > 2000 {
        return Err(invalid("at most 2000 ids"));
    }
    let kind = call.query("type").filter(|t| !t.is_empty());
    let competition = call.query("competition").filter(|c| !c.is_empty());
    let targets: Vec<Value> = TARGETS
        .iter()
        .map(target_json)
        .filter(|t| ids.is_empty() || ids.iter().any(|id| t["id"] == *id))
        .filter(|t| kind.is_none_or(|k| t["type"] == k))
        .filter(|t| competition.is_none_or(|c| in_competition(t, c)))
        .collect();
    let (page, cursor) = page(targets, call, "page_size", 100, 2000)?;
    ok(json!({ "structured_targets": page, "cursor": cursor }))
}

fn structured_target(call: &Call) -> Answer {
    let id = call.param("structured_target_id");
    let target = TARGETS
        .iter()
        .map(target_json)
        .find(|t| t["id"] == id)
        .ok_or_else(|| not_found("structured target"))?;
    ok(json!({ "structured_target": target }))
}

// ---------------------------------------------------------------------------
// Incentive programs
// ---------------------------------------------------------------------------

/// An incentive program on a seeded market.
struct Incentive {
    key: &'static str,
    market: &'static str,
    kind: &'static str,
    description: &'static str,
    start: &'static str,
    end: &'static str,
    /// Centi-cents for the period.
    reward: i64,
    paid_out: bool,
}

const INCENTIVES: &[Incentive] = &[
    Incentive {
        key: "incentive-test-liquidity",
        market: "KXTEST-26DEC31-YES",
        kind: "liquidity",
        description: "Liquidity rewards for resting orders near the best price",
        start: "2026-11-01T00:00:00Z",
        end: "2027-12-31T00:00:00Z",
        reward: 50_000_000,
        paid_out: false,
    },
    Incentive {
        key: "incentive-highny-volume",
        market: "KXHIGHNY-26NOV30-B45",
        kind: "volume",
        description: "Volume rewards on the NYC temperature markets",
        start: "2026-10-01T00:00:00Z",
        end: "2026-11-30T00:00:00Z",
        reward: 10_000_000,
        paid_out: true,
    },
    Incentive {
        key: "incentive-highny-liquidity",
        market: "KXHIGHNY-26NOV30-T50",
        kind: "liquidity",
        description: "Liquidity rewards for resting orders near the best price",
        start: "2026-09-01T00:00:00Z",
        end: "2026-10-31T00:00:00Z",
        reward: 5_000_000,
        paid_out: false,
    },
    Incentive {
        key: "incentive-june-volume",
        market: "KXTEST-27JUN30-YES",
        kind: "volume",
        description: "Volume rewards in the week before the June deadline",
        start: "2027-06-23T00:00:00Z",
        end: "2027-06-30T00:00:00Z",
        reward: 2_500_000,
        paid_out: false,
    },
];

impl Incentive {
    /// `paid_out` once paid; otherwise by the clock.
    fn status(&self, now_ms: i64) -> &'static str {
        if self.paid_out {
            "paid_out"
        } else if now_ms < ms(self.start) {
            "upcoming"
        } else if now_ms < ms(self.end) {
            "active"
        } else {
            "closed"
        }
    }

    fn json(&self) -> Value {
        let liquidity = self.kind == "liquidity";
        json!({
            "id": stable_uuid(self.key), "market_id": stable_uuid(self.market),
            "market_ticker": self.market, "incentive_type": self.kind,
            "incentive_description": self.description, "start_date": self.start, "end_date": self.end,
            "period_reward": self.reward, "paid_out": self.paid_out,
            "discount_factor_bps": if liquidity { json!(5000) } else { Value::Null },
            "target_size_fp": if liquidity { json!("100.00") } else { Value::Null },
            "max_reward_per_account": Value::Null
        })
    }
}

fn incentive_programs(state: &mut State, call: &Call) -> Answer {
    let status = match call.query("status").unwrap_or("all") {
        "all" | "" => None,
        s @ ("active" | "upcoming" | "closed" | "paid_out") => Some(s),
        other => return Err(invalid(&format!("unknown incentive status {other:?}"))),
    };
    let kind = match call.query("type").unwrap_or("all") {
        "all" | "" => None,
        k @ ("liquidity" | "volume" | "margin_maker_volume" | "margin_taker_volume") => Some(k),
        other => return Err(invalid(&format!("unknown incentive type {other:?}"))),
    };
    let description = call.query("incentive_description");
    let programs: Vec<Value> = INCENTIVES
        .iter()
        .filter(|p| state.catalog.market(p.market).is_some())
        .filter(|p| status.is_none_or(|s| s == p.status(call.now_ms)))
        .filter(|p| kind.is_none_or(|k| k == p.kind))
        .filter(|p| description.is_none_or(|d| d == p.description))
        .map(Incentive::json)
        .collect();
    let (page, cursor) = page(programs, call, "limit", 100, 10_000)?;
    let mut body = json!({ "incentive_programs": page });
    if !cursor.is_empty() {
        body["next_cursor"] = json!(cursor);
    }
    ok(body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stable_ids_are_uuids_and_stable() {
        let id = stable_uuid("x");
        assert_eq!(id, stable_uuid("x"));
        assert_ne!(id, stable_uuid("y"));
        assert!(uuid::Uuid::parse_str(&id).is_ok());
    }

    #[test]
    fn incentive_status_follows_the_clock_unless_paid() {
        let program = &INCENTIVES[0];
        assert_eq!(program.status(ms("2026-10-01T00:00:00Z")), "upcoming");
        assert_eq!(program.status(ms("2026-12-01T00:00:00Z")), "active");
        assert_eq!(program.status(ms("2028-01-01T00:00:00Z")), "closed");
        assert_eq!(INCENTIVES[1].status(0), "paid_out");
    }

    #[test]
    fn competition_matches_any_level_or_listed_league() {
        let golfer = target_json(&TARGETS[3]);
        assert!(in_competition(&golfer, "LIV"));
        assert!(in_competition(&golfer, "PGA"));
        assert!(!in_competition(&golfer, "NBA"));
        let team = target_json(&TARGETS[1]);
        assert!(in_competition(&team, "NFC North"));
    }
}
