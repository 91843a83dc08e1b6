//! Realistic Kalshi response bodies for the benchmarks, shared by
//! `kalshi-client/benches/client.rs` and `kalshi-client/examples/bench_runner.rs`
//! (each includes this file with `#[path]`; it is not part of any crate).
//!
//! The shapes are those of the simulator (`tests/src/sim/seed.rs::market_json`,
//! `tests/src/sim/api.rs::order_json`) completed with every optional field of
//! the spec's `Market` and `Order` that Kalshi fills in for an ordinary
//! market or order, so a decoder does all the work it does in production.
//! The content is deterministic: the same `n` always gives the same bytes.
#![allow(dead_code)]

use serde_json::{Value, json};

const MONTHS: [&str; 12] = [
    "JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC",
];

/// Ten-thousandths of a dollar as Kalshi writes them: `0.5600`.
fn dollars(units: u64) -> String {
    format!("{}.{:04}", units / 10_000, units % 10_000)
}

/// Whole contracts as Kalshi writes them: `12.00`.
fn count(contracts: u64) -> String {
    format!("{contracts}.00")
}

/// A pseudo-random but deterministic number for item `i`, stream `salt`.
fn mix(i: usize, salt: u64) -> u64 {
    let mut x = (i as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ salt;
    x ^= x >> 31;
    x = x.wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x ^ (x >> 29)
}

/// One market of a daily temperature series: six brackets per event.
pub fn market(i: usize) -> Value {
    let event = i / 6;
    let bracket = i % 6;
    let month = MONTHS[event / 28 % 12];
    let day = event % 28 + 1;
    let event_ticker = format!("KXHIGHNY-26{month}{day:02}");
    let floor = 40 + 5 * bracket as u64;
    let (suffix, strike_type, subtitle) = match bracket {
        0 => (format!("T{floor}"), "less", format!("{floor}° or below")),
        5 => (
            format!("T{floor}"),
            "greater",
            format!("{}° or above", floor + 1),
        ),
        _ => (
            format!("B{}", floor + 2),
            "between",
            format!("{}° to {}°", floor + 1, floor + 4),
        ),
    };
    let ticker = format!("{event_ticker}-{suffix}");
    let bid = (mix(i, 1) % 96 + 1) * 100;
    let ask = bid + (mix(i, 2) % 3 + 1) * 100;
    let last = bid + (ask - bid) / 2;
    let volume = mix(i, 3) % 250_000;
    let open_interest = volume / 3;
    let close = format!("2026-{:02}-{day:02}T04:59:00Z", event / 28 % 12 + 1);
    let mut market = json!({
        "ticker": ticker,
        "event_ticker": event_ticker,
        "market_type": "binary",
        "title": format!("Will the high temp in NYC be {subtitle} on {month} {day}, 2026?"),
        "subtitle": subtitle,
        "yes_sub_title": subtitle,
        "no_sub_title": subtitle,
        "created_time": "2026-10-28T14:05:11.482913Z",
        "updated_time": "2026-11-01T09:12:43.100201Z",
        "open_time": "2026-10-29T14:00:00Z",
        "close_time": close,
        "expected_expiration_time": close,
        "expiration_time": close,
        "latest_expiration_time": close,
        "settlement_timer_seconds": 1800,
        "status": "active"
    });
    extend(
        &mut market,
        json!({
        "yes_bid_dollars": dollars(bid),
        "yes_bid_size_fp": count(mix(i, 4) % 5_000),
        "yes_ask_dollars": dollars(ask),
        "yes_ask_size_fp": count(mix(i, 5) % 5_000),
        "no_bid_dollars": dollars(10_000 - ask),
        "no_ask_dollars": dollars(10_000 - bid),
        "last_price_dollars": dollars(last),
        "volume_fp": count(volume),
        "volume_24h_fp": count(volume / 7),
        "result": "",
        "can_close_early": true,
        "open_interest_fp": count(open_interest),
        "notional_value_dollars": "1.0000",
        // Not in spec 3.31 (this client skips it); kalshi-sdk's `Market` requires it.
        "liquidity_dollars": dollars(mix(i, 13) % 50_000_000),
        "previous_yes_bid_dollars": dollars(bid.saturating_sub(100).max(100)),
        "previous_yes_ask_dollars": dollars(ask),
        "previous_price_dollars": dollars(last),
        "settlement_bounds_type": "default",
        "expiration_value": "",
        "occurrence_datetime": null,
        "early_close_condition": "This market will close and expire early if the event occurs.",
        "strike_type": strike_type,
        "rules_primary": format!(
            "If the highest temperature recorded in Central Park, New York for {month} {day}, 2026 \
             as reported by the National Weather Service's Climatological Report (Daily), is \
             {subtitle}, then the market resolves to Yes."
        ),
        "rules_secondary": "Not all weather data is the same. While checking a source like Google \
             or Apple weather may be useful for intraday forecasts, Kalshi markets settle on the \
             final NWS Climatological Report.",
        "price_level_structure": "linear_cent",
        "price_ranges": [{"start": "0.0000", "end": "1.0000", "step": "0.0100"}],
        "is_provisional": false,
        "exchange_index": 0
        }),
    );
    match bracket {
        0 => market["cap_strike"] = json!(floor as f64 + 0.5),
        5 => market["floor_strike"] = json!(floor as f64 + 0.5),
        _ => {
            market["floor_strike"] = json!(floor + 1);
            market["cap_strike"] = json!(floor + 4);
        }
    }
    market
}

/// Adds the fields of object `more` to object `value` (one `json!` of a
/// whole market exceeds the default macro recursion limit).
fn extend(value: &mut Value, more: Value) {
    if let (Value::Object(value), Value::Object(more)) = (value, more) {
        value.extend(more);
    }
}

/// A `GetMarkets` page of `n` markets, as bytes on the wire.
pub fn markets_page(n: usize) -> String {
    let markets: Vec<Value> = (0..n).map(market).collect();
    json!({ "markets": markets, "cursor": "CgsI6J2nuQYQ0LXdARIVS1hISUdITlktMjZOT1YwNy1CNDcuNQ" })
        .to_string()
}

/// One order as `GET /portfolio/orders` returns it.
pub fn order(i: usize) -> Value {
    let ticker = market(i % 600)["ticker"].clone();
    let bid_side = mix(i, 6).is_multiple_of(2);
    let yes_price = (mix(i, 7) % 96 + 2) * 100;
    let initial = mix(i, 8) % 500 + 1;
    let filled = if i.is_multiple_of(4) { initial } else { 0 };
    let status = if filled == initial {
        "executed"
    } else if i.is_multiple_of(7) {
        "canceled"
    } else {
        "resting"
    };
    let remaining = if status == "resting" {
        initial - filled
    } else {
        0
    };
    let (book_side, outcome_side) = if bid_side {
        ("bid", "yes")
    } else {
        ("ask", "no")
    };
    let cost = filled * yes_price;
    let created = 1_793_000_000_000 + i as u64 * 1_337;
    let mut order = json!({
        "order_id": format!("{:08x}-{:04x}-4{:03x}-8{:03x}-{:012x}", mix(i, 9) as u32, i % 0xffff, i % 0xfff, (i * 7) % 0xfff, mix(i, 10) % 0xffff_ffff_ffff),
        "user_id": "9f0e5b7c-3d8a-4b1e-a2c6-7d4f1e8b9a03",
        "client_order_id": format!("bot-{i:06}-{:016x}", mix(i, 11)),
        "ticker": ticker,
        "side": outcome_side,
        "action": "buy",
        "outcome_side": outcome_side,
        "book_side": book_side,
        "type": "limit",
        "status": status,
        "yes_price_dollars": dollars(yes_price),
        "no_price_dollars": dollars(10_000 - yes_price),
        "fill_count_fp": count(filled),
        "remaining_count_fp": count(remaining),
        "initial_count_fp": count(initial),
        "taker_fill_cost_dollars": dollars(cost / 2),
        "maker_fill_cost_dollars": dollars(cost - cost / 2),
        "taker_fees_dollars": dollars(filled * 7),
        "maker_fees_dollars": dollars(0),
        "created_time": format!("2026-10-27T{:02}:{:02}:{:02}.{:03}Z", i / 3600 % 24, i / 60 % 60, i % 60, created % 1000),
        "last_update_time": format!("2026-10-28T{:02}:{:02}:{:02}.{:03}Z", i / 3600 % 24, i / 60 % 60, i % 60, (created + 17) % 1000),
        "self_trade_prevention_type": "taker_at_cross",
        "cancel_order_on_pause": false,
        "subaccount_number": 0,
        "exchange_index": 0
    });
    if i.is_multiple_of(3) {
        order["order_group_id"] = json!(format!("grp-{:012x}", mix(i / 3, 12) % 0xffff_ffff_ffff));
    }
    if i.is_multiple_of(5) {
        order["expiration_time"] = json!("2026-12-31T23:59:59Z");
    }
    order
}

/// A `GetOrders` page of `n` orders, as bytes on the wire.
pub fn orders_page(n: usize) -> String {
    let orders: Vec<Value> = (0..n).map(order).collect();
    json!({ "orders": orders, "cursor": "c2ltLTEwMDA" }).to_string()
}
