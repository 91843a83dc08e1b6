//! The Kalshi city temperature indices: a minute series per city and its
//! calibration timeline.
//!
//! Values are synthetic but deterministic (a seasonal and a daily cycle), so
//! every read of a minute gives the same value, gaps and all: a few minutes
//! have no value (the quorum failed) and some are `degraded` (a member
//! station was missing). The timeline starts with the launch configuration
//! and adds a calibration record every week after it, up to the exchange
//! clock; each point names the configuration it was computed under.

use std::f64::consts::PI;

use serde_json::{Value, json};

use super::{flag, int_param, invalid, ms};
use crate::api::ok;
use crate::http::{Answer, ApiErr, Call};

const MINUTE: i64 = 60_000;
const DAY: i64 = 86_400_000;
const WEEK: i64 = 7 * DAY;
/// The longest window one request may ask for.
const MAX_WINDOW: i64 = 7 * DAY;
/// Weekly records in the timeline at most (ten years).
const MAX_RECORDS: i64 = 520;

/// A city's index.
struct City {
    id: &'static str,
    /// (station, weight, launch offset in Celsius).
    stations: &'static [(&'static str, f64, f64)],
    launch: &'static str,
    /// Yearly mean, yearly and daily half-amplitudes (Fahrenheit), and the
    /// UTC hour of the daily peak.
    mean: f64,
    yearly: f64,
    daily: f64,
    peak_hour: f64,
}

const CITIES: &[City] = &[
    City {
        id: "nyc",
        stations: &[
            ("KNYC1M", 0.5, 0.10),
            ("KLGA1M", 0.3, -0.20),
            ("KJFK1M", 0.2, 0.05),
        ],
        launch: "2026-06-01T00:00:00Z",
        mean: 55.0,
        yearly: 22.0,
        daily: 6.0,
        peak_hour: 20.0,
    },
    City {
        id: "miami",
        stations: &[
            ("KMIA1M", 0.5, 0.00),
            ("KOPF1M", 0.25, 0.15),
            ("KTMB1M", 0.25, -0.10),
        ],
        launch: "2026-06-01T00:00:00Z",
        mean: 77.0,
        yearly: 6.0,
        daily: 5.0,
        peak_hour: 19.0,
    },
];

fn city(id: &str) -> Result<&'static City, ApiErr> {
    CITIES
        .iter()
        .find(|c| c.id == id)
        .ok_or_else(|| ApiErr::bad_request("unknown_city", &format!("no weather index for {id:?}")))
}

fn round2(value: f64) -> f64 {
    (value * 100.0).round() / 100.0
}

/// Minutes since the epoch, the key of every per-minute choice.
fn minute_of(t: i64) -> i64 {
    t.div_euclid(MINUTE)
}

/// The quorum failed on these minutes: no value.
fn is_gap(t: i64) -> bool {
    minute_of(t).rem_euclid(211) == 17
}

/// A member station was missing on these minutes.
fn is_degraded(t: i64) -> bool {
    minute_of(t).rem_euclid(37) == 0
}

impl City {
    /// The index value of minute `t` (Fahrenheit, 0.01), before gaps.
    fn raw(&self, t: i64) -> f64 {
        let days = t as f64 / DAY as f64;
        // Coldest around January 20th, warmest around July 21st.
        let season = -(2.0 * PI * (days - 19.0) / 365.25).cos();
        let hours = t.rem_euclid(DAY) as f64 / 3_600_000.0;
        let day = (2.0 * PI * (hours - self.peak_hour) / 24.0).cos();
        let wiggle = (minute_of(t) as f64 * 0.37).sin() * 0.3;
        round2(self.mean + self.yearly * season + self.daily * day + wiggle)
    }
}

/// The published value of minute `t`, if the city has an index then.
pub(super) fn value(city_id: &str, t: i64) -> Option<f64> {
    let city = city(city_id).ok()?;
    (t >= ms(city.launch) && !is_gap(t)).then(|| city.raw(t))
}

// ---------------------------------------------------------------------------
// The calibration timeline
// ---------------------------------------------------------------------------

/// One configuration record.
struct Record {
    effective: i64,
    version: String,
    /// Offsets (Celsius), one per station, and their update notes.
    offsets: Vec<f64>,
    notes: Vec<Option<String>>,
}

/// Whether the week's residuals were too few to re-estimate a station.
fn insufficient(week: i64, station: usize) -> bool {
    (week + station as i64).rem_euclid(5) == 0
}

/// Records effective at or before `now_ms`, oldest first.
fn timeline(city: &City, now_ms: i64) -> Vec<Record> {
    let launch = ms(city.launch);
    let mut offsets: Vec<f64> = city.stations.iter().map(|(_, _, o)| *o).collect();
    let mut records = vec![Record {
        effective: launch,
        version: format!("{}-temperature-v1.0", city.id),
        offsets: offsets.clone(),
        notes: vec![None; offsets.len()],
    }];
    for week in 1..=MAX_RECORDS {
        // Calibrated after each complete week, effective from 06:00 UTC.
        let effective = launch + week * WEEK + 6 * 3_600_000;
        if effective > now_ms {
            break;
        }
        let mut notes = Vec::with_capacity(offsets.len());
        for (i, offset) in offsets.iter_mut().enumerate() {
            if insufficient(week, i) {
                notes.push(Some(
                    "insufficient residuals (812 < 1000); prior offset retained".to_owned(),
                ));
                continue;
            }
            let base = city.stations.get(i).map_or(0.0, |(_, _, o)| *o);
            let target = base + ((week * 37 + i as i64 * 11).rem_euclid(21) - 10) as f64 / 100.0;
            notes.push(Some(format!(
                "updated: 10080 residuals, target {target:+.2}, applied {:+.2}",
                target - *offset
            )));
            *offset = round2(target);
        }
        let date = chrono::DateTime::from_timestamp_millis(effective)
            .map(|d| d.format("%Y%m%d").to_string())
            .unwrap_or_default();
        records.push(Record {
            effective,
            version: format!("{}-temperature-v1.0-cal-{date}", city.id),
            offsets: offsets.clone(),
            notes,
        });
    }
    records
}

fn reference(city: &City, offsets: &[f64]) -> f64 {
    let sum: f64 = city
        .stations
        .iter()
        .zip(offsets)
        .map(|((_, weight, _), offset)| weight * offset)
        .sum();
    (sum * 10_000.0).round() / 10_000.0
}

pub(super) fn calibrations(call: &Call) -> Answer {
    let city = city(call.param("city"))?;
    let records: Vec<Value> = timeline(city, call.now_ms)
        .iter()
        .enumerate()
        .map(|(k, record)| record_json(city, k, record))
        .collect();
    ok(json!({ "city": city.id, "units": "celsius", "calibrations": records }))
}

fn record_json(city: &City, k: usize, record: &Record) -> Value {
    let stations: Vec<Value> = city
        .stations
        .iter()
        .zip(&record.offsets)
        .zip(&record.notes)
        .map(|(((id, weight, _), offset), note)| {
            let mut json = json!({"station_id": id, "weight": weight, "offset_c": offset});
            if let Some(note) = note {
                json["update_note"] = json!(note);
            }
            json
        })
        .collect();
    let mut json = json!({
        "config_version": record.version, "published_at_ms": record.effective,
        "effective_at_ms": record.effective,
        "change_reason": if k == 0 { "launch configuration" } else { "weekly offset calibration" },
        "city_reference_c": reference(city, &record.offsets), "stations": stations
    });
    if k > 0 {
        let window_end = record.effective - 6 * 3_600_000;
        json["calibration_window_start_ms"] = json!(window_end - WEEK);
        json["calibration_window_end_ms"] = json!(window_end);
    }
    json
}

// ---------------------------------------------------------------------------
// The index series
// ---------------------------------------------------------------------------

/// `[from, to]` from `from`/`to`/`last_sec`, as Kalshi documents them.
fn window(call: &Call) -> Result<(i64, i64), ApiErr> {
    let (from, to, last) = (
        int_param(call, "from")?,
        int_param(call, "to")?,
        int_param(call, "last_sec")?,
    );
    let now = call.now_ms;
    let (from, to) = match (from, to, last) {
        (None, None, Some(last)) if (1..=MAX_WINDOW / 1000).contains(&last) => {
            (now - last * 1000, now)
        }
        (None, None, Some(_)) => {
            return Err(invalid("`last_sec` must be 1 to 604800 (7 days)"));
        }
        (_, _, Some(_)) => return Err(invalid("`last_sec` excludes `from` and `to`")),
        (Some(_), None, None) => return Err(invalid("`from` needs `to` (or use `last_sec`)")),
        (from, to, None) => {
            let to = to.unwrap_or(now);
            (from.unwrap_or(to.saturating_sub(DAY)), to)
        }
    };
    let span = to.checked_sub(from).filter(|s| *s >= 0);
    match span {
        Some(span) if span <= MAX_WINDOW => Ok((from, to)),
        Some(_) => Err(invalid("the window is longer than 7 days")),
        None => Err(invalid("`from` is after `to`")),
    }
}

pub(super) fn index(call: &Call) -> Answer {
    let city = city(call.param("city"))?;
    let detailed = flag(call, "detailed")?;
    let (from, to) = window(call)?;
    let now = call.now_ms;
    let records = timeline(city, now);
    let launch = ms(city.launch);
    // Whole minutes in the window that have ended.
    let start = from.max(launch);
    let floor = start.div_euclid(MINUTE) * MINUTE;
    let first = if floor < start {
        floor.saturating_add(MINUTE)
    } else {
        floor
    };
    let current = now.div_euclid(MINUTE) * MINUTE;
    let last_complete = to.min(current - MINUTE);
    let mut points = Vec::new();
    let mut version = String::new();
    let mut t = first;
    while t <= last_complete {
        if !is_gap(t) {
            let record = governing(&records, t);
            version.clone_from(&record.version);
            points.push(point(city, record, t, detailed));
        }
        t += MINUTE;
    }
    // Only the audit view shows the minute still inside its deadline.
    if detailed && (first..=to).contains(&current) {
        let record = governing(&records, current);
        version.clone_from(&record.version);
        points.push(incomplete(city, record, current, now));
    }
    ok(json!({
        "city": city.id, "config_version": version, "units": "fahrenheit", "timeseries": points
    }))
}

/// The record in force at minute `t` (records are oldest first and the
/// first is the launch, at or before every point).
fn governing(records: &[Record], t: i64) -> &Record {
    let index = records
        .partition_point(|r| r.effective <= t)
        .saturating_sub(1);
    &records[index.min(records.len() - 1)]
}

/// What station `i` read at minute `t`: the index plus its offset.
fn reading(city: &City, record: &Record, i: usize, t: i64) -> f64 {
    let offset = record.offsets.get(i).copied().unwrap_or_default();
    let jitter = ((minute_of(t) + i as i64 * 7).rem_euclid(5) - 2) as f64 * 0.05;
    city.raw(t) + offset * 1.8 + jitter
}

fn point(city: &City, record: &Record, t: i64, detailed: bool) -> Value {
    let degraded = is_degraded(t);
    let missing = degraded.then(|| minute_of(t).rem_euclid(city.stations.len() as i64) as usize);
    let contributors = city.stations.len() - usize::from(degraded);
    let mut json = json!({
        "t": t, "v": city.raw(t), "status": if degraded { "degraded" } else { "normal" },
        "contributors": contributors
    });
    if detailed {
        let stations: Vec<Value> = city
            .stations
            .iter()
            .enumerate()
            .map(|(i, (id, _, _))| {
                if missing == Some(i) {
                    json!({"station_id": id, "code": "missing"})
                } else {
                    json!({
                        "station_id": id, "code": "ok", "source": "hf_asos",
                        "temp_f": reading(city, record, i, t), "received_at_ms": t + 40_000 + i as i64 * 1000
                    })
                }
            })
            .collect();
        json["stations"] = json!(stations);
    }
    json
}

fn incomplete(city: &City, record: &Record, t: i64, now: i64) -> Value {
    let stations: Vec<Value> = city
        .stations
        .iter()
        .enumerate()
        .map(|(i, (id, _, _))| {
            json!({
                "station_id": id, "code": "pending", "source": "hf_asos",
                "temp_f": reading(city, record, i, t), "received_at_ms": now
            })
        })
        .collect();
    json!({ "t": t, "status": "incomplete", "stations": stations })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_stable_and_plausible() {
        let t = ms("2026-11-30T20:00:00Z");
        let v = value("nyc", t).unwrap();
        assert_eq!(Some(v), value("nyc", t));
        assert!((30.0..70.0).contains(&v), "{v}");
        assert_eq!(value("nyc", ms("2026-01-01T00:00:00Z")), None);
        assert_eq!(value("paris", t), None);
    }

    #[test]
    fn the_timeline_grows_weekly_and_governs_points() {
        let city = city("nyc").unwrap();
        let launch = ms(city.launch);
        assert_eq!(timeline(city, launch).len(), 1);
        let records = timeline(city, launch + 3 * WEEK + DAY);
        assert_eq!(records.len(), 4);
        assert!(records.windows(2).all(|w| w[0].effective < w[1].effective));
        let t = launch + 2 * WEEK + DAY;
        assert_eq!(governing(&records, t).version, records[2].version);
        assert_eq!(timeline(city, i64::MAX).len() as i64, MAX_RECORDS + 1);
    }
}
