//! API usage levels and rate limits: what `GET /account/limits` reports,
//! the endpoint costs, the trading-volume progress toward the
//! volume-based levels, and the upgrade that claims one.
//!
//! A user starts at `basic`. Trading volume (contracts filled over the
//! trailing 30 days, every subaccount) earns the volume-based levels; the
//! goals are the simulator's own, small enough for a test to reach.
//!
//! When the simulator enforces rate limits ([`SimConfig::rate_limit`]),
//! `GET /account/limits` reports those buckets whatever the level, since
//! they are what requests are held to; otherwise it reports the level's
//! published budget (not enforced). Every request costs the default 10
//! tokens in the simulator, so no endpoint has a cost of its own.
//!
//! [`SimConfig::rate_limit`]: crate::SimConfig::rate_limit

use std::collections::HashMap;

use rust_decimal::Decimal;
use serde_json::{Value, json};

use crate::State;
use crate::api::{count, ok};
use crate::http::{Answer, ApiErr, Call};

const DAY_MS: i64 = 86_400_000;

/// How long a volume-earned level lasts before it must be kept again.
const GRANT_DAYS: i64 = 30;

/// A level: name, read and write tokens per second, and for the
/// volume-based ones the 30-day contracts that earn it (keeping it takes
/// 75% of that). Basic, Advanced, Premier, Paragon and Prime are Kalshi's
/// published budgets; Expert (between Advanced and Premier) and Prestige
/// (above Prime) are the simulator's guesses.
struct Level {
    name: &'static str,
    read: u32,
    write: u32,
    earn: Option<u64>,
}

const fn level(name: &'static str, read: u32, write: u32, earn: Option<u64>) -> Level {
    Level {
        name,
        read,
        write,
        earn,
    }
}

const LEVELS: [Level; 7] = [
    level("basic", 200, 100, None),
    level("advanced", 300, 300, None),
    level("expert", 500, 500, Some(1_000)),
    level("premier", 1_000, 1_000, Some(10_000)),
    level("paragon", 2_000, 2_000, Some(100_000)),
    level("prime", 4_000, 4_000, Some(1_000_000)),
    level("prestige", 8_000, 8_000, Some(10_000_000)),
];

/// Levels granted and the limits the simulator enforces.
#[derive(Debug, Default)]
pub(super) struct Usage {
    /// User → (index into [`LEVELS`], granted at ms).
    granted: HashMap<String, (usize, i64)>,
    rate_limit: Option<(u32, u32)>,
}

impl Usage {
    pub(super) fn set_rate_limit(&mut self, limit: Option<(u32, u32)>) {
        self.rate_limit = limit;
    }

    /// The user's level (index into [`LEVELS`]) and when it was granted.
    fn level(&self, user: &str) -> (usize, Option<i64>) {
        self.granted
            .get(user)
            .map_or((0, None), |(level, at)| (*level, Some(*at)))
    }
}

/// Contracts the user's fills came to over the trailing 30 days.
fn trailing_volume(state: &State, user: &str, now_ms: i64) -> Decimal {
    let since = now_ms.saturating_sub(30 * DAY_MS);
    state
        .engine
        .fills_of(user)
        .into_iter()
        .filter(|f| f.ts_ms > since)
        .map(|f| f.count)
        .sum()
}

pub(super) fn limits(state: &State, call: &Call) -> Answer {
    let (index, granted_at) = state.account.usage.level(call.user());
    let level = LEVELS.get(index).unwrap_or(&LEVELS[0]);
    let (read, write, write_capacity) = match state.account.usage.rate_limit {
        // The simulator's buckets hold one second of budget.
        Some((read, write)) => (read, write, write),
        // Kalshi's write buckets hold two seconds above Basic.
        None if index == 0 => (level.read, level.write, level.write),
        None => (level.read, level.write, level.write.saturating_mul(2)),
    };
    let grants: Vec<Value> = granted_at
        .map(|at| {
            json!({
                "exchange_instance": "event_contract", "level": level.name, "source": "volume",
                "expires_ts": at.saturating_add(GRANT_DAYS * DAY_MS).div_euclid(1000)
            })
        })
        .into_iter()
        .collect();
    ok(json!({
        "usage_tier": level.name,
        "read": { "refill_rate": read, "bucket_capacity": read },
        "write": { "refill_rate": write, "bucket_capacity": write_capacity },
        "grants": grants
    }))
}

pub(super) fn endpoint_costs() -> Answer {
    ok(json!({ "default_cost": 10, "endpoint_costs": [] }))
}

pub(super) fn volume_progress(state: &State, call: &Call) -> Answer {
    let volume = trailing_volume(state, call.user(), call.now_ms);
    let goals: Vec<Value> = LEVELS
        .iter()
        .filter_map(|level| {
            let earn = level.earn?;
            Some(json!({
                "level": level.name, "earn_volume_goal_fp": count(Decimal::from(earn)),
                "keep_volume_goal_fp": count(Decimal::from(earn) * Decimal::new(75, 2))
            }))
        })
        .collect();
    ok(json!({
        "volume_progress": [{
            "computed_ts": call.now_ms.div_euclid(1000),
            "trailing_30d_volume_fp": count(volume), "goals": goals
        }]
    }))
}

/// Claims the highest volume-based level the trailing volume earns, when
/// it is above the current one; 403 when there is none to claim.
pub(super) fn upgrade(state: &mut State, call: &Call) -> Answer {
    let volume = trailing_volume(state, call.user(), call.now_ms);
    let (current, _) = state.account.usage.level(call.user());
    let earned = LEVELS
        .iter()
        .enumerate()
        .filter(|(_, level)| level.earn.is_some_and(|goal| volume >= Decimal::from(goal)))
        .map(|(index, _)| index)
        .max()
        .filter(|index| *index > current)
        .ok_or_else(|| {
            ApiErr::new(
                403,
                "usage_level_not_earned",
                &format!("{volume} contracts over 30 days earn no level above the current one"),
            )
        })?;
    state
        .account
        .usage
        .granted
        .insert(call.user().to_owned(), (earned, call.now_ms));
    Ok((201, None))
}
