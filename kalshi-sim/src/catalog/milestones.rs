//! Milestones (games and races behind events), their live data and game
//! stats, and the live data of events.
//!
//! Four seeded milestones: a scheduled football game and a finished
//! basketball game tied to the seeded test events, a finished hockey match
//! and an election without live data. The NYC temperature event's live data
//! is the NYC weather index over its day (see [`super::weather`]).

use serde_json::{Value, json};

use super::{all_values, flag, int_param, invalid, ms, not_found, page, stable_uuid, weather};
use crate::State;
use crate::api::ok;
use crate::http::{Answer, ApiErr, Call};

/// A seeded milestone.
struct Milestone {
    key: &'static str,
    category: &'static str,
    kind: &'static str,
    competition: &'static str,
    title: &'static str,
    start: &'static str,
    end: Option<&'static str>,
    /// Related events; the first ones, up to `primary`, decide it.
    related: &'static [&'static str],
    primary: usize,
    source_id: Option<&'static str>,
    updated: &'static str,
    /// Game status in the live data, when there is live data.
    live: Option<Live>,
}

/// A game's live state.
struct Live {
    status: &'static str,
    home: (&'static str, u32),
    away: (&'static str, u32),
    period: u32,
    clock: &'static str,
    /// Scoring plays per period: (period, minute, team, points).
    plays: &'static [(u32, &'static str, &'static str, u32)],
}

const MILESTONES: &[Milestone] = &[
    Milestone {
        key: "milestone-football",
        category: "Sports",
        kind: "football_game",
        competition: "Pro Football",
        title: "Test Town Testers at Simulated City Sims",
        start: "2026-12-31T18:00:00Z",
        end: Some("2026-12-31T21:30:00Z"),
        related: &["KXTEST-26DEC31"],
        primary: 1,
        source_id: Some("sr:sport_event:50001"),
        updated: "2026-11-01T00:00:00Z",
        live: Some(Live {
            status: "scheduled",
            home: ("Simulated City Sims", 0),
            away: ("Test Town Testers", 0),
            period: 0,
            clock: "15:00",
            plays: &[],
        }),
    },
    Milestone {
        key: "milestone-basketball",
        category: "Sports",
        kind: "basketball_game",
        competition: "Pro Basketball (M)",
        title: "Simulated City Sims at Test Town Testers",
        start: "2026-11-30T00:30:00Z",
        end: Some("2026-11-30T03:00:00Z"),
        related: &["KXTEST-27JUN30", "KXTEST-26DEC31"],
        primary: 1,
        source_id: Some("sr:sport_event:50002"),
        updated: "2026-11-30T03:05:00Z",
        live: Some(Live {
            status: "final",
            home: ("Test Town Testers", 9),
            away: ("Simulated City Sims", 7),
            period: 4,
            clock: "0:00",
            plays: &[
                (1, "10:12", "home", 3),
                (1, "4:40", "away", 2),
                (2, "8:03", "away", 3),
                (3, "6:55", "home", 2),
                (4, "1:10", "away", 2),
                (4, "0:08", "home", 4),
            ],
        }),
    },
    Milestone {
        key: "milestone-hockey",
        category: "Sports",
        kind: "hockey_match",
        competition: "Pro Hockey",
        title: "Pucks at Skaters",
        start: "2026-11-29T00:00:00Z",
        end: Some("2026-11-29T02:40:00Z"),
        related: &[],
        primary: 0,
        source_id: Some("sr:sport_event:50003"),
        updated: "2026-11-29T02:45:00Z",
        live: Some(Live {
            status: "final",
            home: ("Skaters", 3),
            away: ("Pucks", 2),
            period: 3,
            clock: "0:00",
            plays: &[
                (1, "12:30", "home", 1),
                (2, "5:02", "away", 1),
                (2, "17:45", "home", 1),
                (3, "3:10", "away", 1),
                (3, "19:01", "home", 1),
            ],
        }),
    },
    Milestone {
        key: "milestone-election",
        category: "Elections",
        kind: "political_race",
        competition: "",
        title: "Simulated City mayoral race",
        start: "2027-11-02T11:00:00Z",
        end: None,
        related: &[],
        primary: 0,
        source_id: None,
        updated: "2026-11-01T00:00:00Z",
        live: None,
    },
];

/// Sports whose live data carries player statistics.
const PLAYER_STATS: &[&str] = &["football_game", "basketball_game"];

/// The milestones whose events the catalog lists.
fn seeded(state: &State) -> impl Iterator<Item = &'static Milestone> + '_ {
    MILESTONES.iter().filter(|m| {
        m.related
            .iter()
            .all(|e| state.catalog.event_json(e).is_some())
    })
}

fn by_id(state: &State, id: &str) -> Option<&'static Milestone> {
    seeded(state).find(|m| stable_uuid(m.key) == id)
}

fn milestone_json(m: &Milestone) -> Value {
    let mut details = json!({});
    if !m.competition.is_empty() {
        details["competition"] = json!(m.competition);
    }
    if let Some(live) = &m.live {
        details["status"] = json!(live.status);
    }
    let mut json = json!({
        "id": stable_uuid(m.key), "category": m.category, "type": m.kind, "start_date": m.start,
        "end_date": m.end, "related_event_tickers": m.related, "title": m.title,
        "notification_message": format!("{} starts soon", m.title), "details": details,
        "primary_event_tickers": m.related.get(..m.primary).unwrap_or_default(),
        "last_updated_ts": m.updated, "source_id": m.source_id
    });
    if let Some(source) = m.source_id {
        json["source_ids"] = json!({ "sportradar": source });
    }
    json
}

pub(super) fn get(state: &mut State, call: &Call) -> Answer {
    let milestone =
        by_id(state, call.param("milestone_id")).ok_or_else(|| not_found("milestone"))?;
    ok(json!({ "milestone": milestone_json(milestone) }))
}

pub(super) fn list(state: &mut State, call: &Call) -> Answer {
    if call.query("limit").is_none() {
        return Err(ApiErr::bad_request(
            "missing_parameters",
            "`limit` is required",
        ));
    }
    let min_start = match call.query("minimum_start_date").filter(|d| !d.is_empty()) {
        None => None,
        Some(text) => Some(
            chrono::DateTime::parse_from_rfc3339(text)
                .map_err(|_| invalid("`minimum_start_date` must be an RFC 3339 date-time"))?
                .timestamp_millis(),
        ),
    };
    let min_updated = int_param(call, "min_updated_ts")?;
    let text = |name| call.query(name).filter(|t: &&str| !t.is_empty());
    let (category, competition, source, kind, related) = (
        text("category"),
        text("competition"),
        text("source_id"),
        text("type"),
        text("related_event_ticker"),
    );
    let mut found: Vec<&Milestone> = seeded(state)
        .filter(|m| min_start.is_none_or(|t| ms(m.start) >= t))
        .filter(|m| min_updated.is_none_or(|t| ms(m.updated) / 1000 > t))
        .filter(|m| category.is_none_or(|c| c.eq_ignore_ascii_case(m.category)))
        .filter(|m| competition.is_none_or(|c| c.eq_ignore_ascii_case(m.competition)))
        .filter(|m| source.is_none_or(|s| m.source_id == Some(s)))
        .filter(|m| kind.is_none_or(|k| k == m.kind))
        .filter(|m| related.is_none_or(|e| m.related.contains(&e)))
        .collect();
    found.sort_by_key(|m| ms(m.start));
    let json: Vec<Value> = found.into_iter().map(milestone_json).collect();
    let (page, cursor) = page(json, call, "limit", 100, 500)?;
    ok(json!({ "milestones": page, "cursor": cursor }))
}

// ---------------------------------------------------------------------------
// Live data and game stats
// ---------------------------------------------------------------------------

fn live_json(m: &Milestone, live: &Live, player_stats: bool) -> Value {
    let mut details = json!({
        "status": live.status, "home_team": live.home.0, "away_team": live.away.0,
        "home_points": live.home.1, "away_points": live.away.1,
        "period": live.period, "clock": live.clock, "live_data_delayed": false
    });
    if player_stats && PLAYER_STATS.contains(&m.kind) {
        let points = |(team, score): (&str, u32)| json!({"team": team, "player": format!("{team} captain"), "points": score});
        details["player_stats"] = json!([points(live.home), points(live.away)]);
    }
    json!({ "type": m.kind, "details": details, "milestone_id": stable_uuid(m.key) })
}

/// `GET /live_data/milestone/{id}` and the legacy form whose `{type}` must
/// be the milestone's.
pub(super) fn live_data(state: &mut State, call: &Call) -> Answer {
    let player_stats = flag(call, "include_player_stats")?;
    let milestone = by_id(state, call.param("milestone_id"))
        .filter(|m| !call.params.contains_key("type") || call.param("type") == m.kind)
        .ok_or_else(|| not_found("live data"))?;
    let live = milestone
        .live
        .as_ref()
        .ok_or_else(|| not_found("live data"))?;
    ok(json!({ "live_data": live_json(milestone, live, player_stats) }))
}

/// Live data of each listed milestone that has some; others are left out.
pub(super) fn live_datas(state: &mut State, call: &Call) -> Answer {
    let player_stats = flag(call, "include_player_stats")?;
    let ids = all_values(call, "milestone_ids");
    if ids.len() > 100 {
        return Err(invalid("at most 100 milestone_ids"));
    }
    let datas: Vec<Value> = ids
        .iter()
        .filter_map(|id| by_id(state, id))
        .filter_map(|m| m.live.as_ref().map(|live| live_json(m, live, player_stats)))
        .collect();
    ok(json!({ "live_datas": datas }))
}

/// Play by play from the scoring plays; empty periods before the game.
pub(super) fn game_stats(state: &mut State, call: &Call) -> Answer {
    let milestone =
        by_id(state, call.param("milestone_id")).ok_or_else(|| not_found("game stats"))?;
    let Some(live) = &milestone.live else {
        // Not a supported sport: Kalshi has no stats to give.
        return ok(json!({}));
    };
    let periods: Vec<Value> = (1..=live.period)
        .map(|period| {
            let events: Vec<Value> = live
                .plays
                .iter()
                .filter(|(p, _, _, _)| *p == period)
                .map(|(_, clock, team, points)| {
                    let name = if *team == "home" {
                        live.home.0
                    } else {
                        live.away.0
                    };
                    json!({"type": "score", "clock": clock, "team": name, "points": points})
                })
                .collect();
            json!({ "events": events })
        })
        .collect();
    ok(json!({ "pbp": { "periods": periods } }))
}

/// Events with live data: the NYC temperature event, observed by the NYC
/// weather index over its day (New York time).
const WEATHER_EVENTS: &[(&str, &str, &str)] =
    &[("KXHIGHNY-26NOV30", "nyc", "2026-11-30T05:00:00Z")];

/// Chart ranges and how many 15-minute observations each shows.
const RANGES: &[(&str, usize)] = &[("1h", 4), ("6h", 24), ("1d", 96)];

pub(super) fn event_live_data(state: &mut State, call: &Call) -> Answer {
    let ticker = call.param("event_ticker");
    let (_, city, day_start) = WEATHER_EVENTS
        .iter()
        .find(|(event, _, _)| *event == ticker)
        .filter(|_| state.catalog.event_json(ticker).is_some())
        .ok_or_else(|| not_found("live data"))?;
    let start = ms(day_start);
    // The day's observations so far, every 15 minutes.
    let observed: Vec<(i64, f64)> = (0..96)
        .map(|i| start + i * 15 * 60_000)
        .filter(|t| *t <= call.now_ms)
        .filter_map(|t| weather::value(city, t).map(|v| (t, v)))
        .collect();
    // The range is a hint: an unknown one shows the whole day.
    let shown = RANGES
        .iter()
        .find(|(name, _)| call.query("range") == Some(name))
        .map_or(96, |(_, n)| *n);
    let points: Vec<Value> = observed
        .iter()
        .skip(observed.len().saturating_sub(shown))
        .map(|(t, v)| json!({"t": t, "temp_f": v}))
        .collect();
    let high = observed
        .iter()
        .map(|(_, v)| *v)
        .fold(None, |high: Option<f64>, v| {
            Some(high.map_or(v, |h| h.max(v)))
        });
    ok(json!({
        "live_data": {
            "type": "temperature_observations",
            "details": {"city": city, "units": "fahrenheit", "high_f": high, "observations": points},
            "default_range": "1d",
            "range_options": RANGES.iter().map(|(name, _)| *name).collect::<Vec<_>>()
        }
    }))
}
