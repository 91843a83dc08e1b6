//! No request can crash the simulator: arbitrary methods, paths, headers,
//! query strings and bodies, signed and not, thrown at the request handler.
//!
//! Cases come from a seeded generator that knows the spec's operations, so
//! most of them reach the handlers (a valid signature, a declared
//! parameter) with values chosen to break arithmetic and parsing: integers
//! at and past the 64-bit limits, negative and fractional counts, huge
//! exponents, wrong JSON types, unicode and percent-encoded junk in paths.
//! A panic or any 5xx answer fails the test with the case that caused it.

use std::panic::{AssertUnwindSafe, catch_unwind};

use aws_lc_rs::signature::{Ed25519KeyPair, KeyPair as _};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use hyper::HeaderMap;
use hyper::header::HeaderValue;
use serde_json::{Value, json};

use crate::{Account, ApiKey, BASE_PATH, Shared, SimConfig, http};

/// A small deterministic generator (xorshift64*), so a failure replays.
struct Gen(u64);

impl Gen {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }

    fn chance(&mut self, percent: usize) -> bool {
        self.below(100) < percent
    }
}

/// Texts that break naive parsing and arithmetic.
const NASTY: &[&str] = &[
    "0",
    "-1",
    "1",
    "2",
    "63",
    "64",
    "100",
    "1000",
    "-0",
    "0.5",
    "0.0001",
    "1e308",
    "-1e308",
    "9223372036854775807",
    "9223372036854775808",
    "-9223372036854775808",
    "18446744073709551615",
    "18446744073709551616",
    "99999999999999999999999999",
    "79228162514264337593543950335",
    "-79228162514264337593543950335",
    "1000000000000000",
    "1000000000000000000000000000",
    "0.005",
    "KXBTCPERP",
    "good_till_canceled",
    "immediate_or_cancel",
    "fill_or_kill",
    "taker_at_cross",
    "99.50",
    "100.00",
    "NaN",
    "inf",
    "",
    " ",
    "true",
    "null",
    "[]",
    "{}",
    "%00",
    "%ff%fe",
    "../../etc",
    "ünïcödé",
    "\u{0}",
    "KXTEST-26DEC31-YES",
    "KXTEST-26DEC31",
    "KXTEST",
    "yes",
    "no",
    "bid",
    "ask",
    "open",
    "settled",
    "all",
    "0.50",
    "0.9999",
    "1.00",
    "10.00",
    "-5.00",
    "0.001",
    "1.005",
    "2026-12-01T00:00:00Z",
    "00000000-0000-4000-8000-000000000001",
    "alice",
];

fn nasty_json(g: &mut Gen, depth: usize) -> Value {
    match g.below(if depth > 3 { 6 } else { 9 }) {
        0 => Value::Null,
        1 => json!(g.chance(50)),
        2 => json!(*g.pick(&[i64::MIN, -1, 0, 1, 63, 64, 1000, i64::MAX])),
        3 => json!(*g.pick(&[u64::MAX, 1 << 53, 4_000_000_000])),
        4 => json!(*g.pick(&[-1e308, 1e308, 0.5, -0.0, 1e-300, 0.125])),
        5 => json!(*g.pick(NASTY)),
        6 => Value::Array((0..g.below(4)).map(|_| nasty_json(g, depth + 1)).collect()),
        7 => {
            let keys = [
                "ticker",
                "count",
                "price",
                "side",
                "id",
                "subaccount",
                "orders",
            ];
            Value::Object(
                (0..g.below(4))
                    .map(|_| ((*g.pick(&keys)).to_owned(), nasty_json(g, depth + 1)))
                    .collect(),
            )
        }
        _ => json!(*g.pick(NASTY)),
    }
}

/// A path: an operation's template with nasty parameters, or junk.
fn path(g: &mut Gen, operation: &kalshi_gen::Operation) -> String {
    if g.chance(5) {
        return format!("/{}/{}", g.pick(NASTY), g.pick(NASTY));
    }
    let filled: Vec<String> = operation
        .path
        .split('/')
        .map(|part| {
            if part.starts_with('{') {
                percent_encoding::utf8_percent_encode(
                    g.pick::<&str>(NASTY),
                    percent_encoding::NON_ALPHANUMERIC,
                )
                .to_string()
            } else {
                part.to_owned()
            }
        })
        .collect();
    format!("{BASE_PATH}{}", filled.join("/"))
}

fn query(g: &mut Gen, operation: &kalshi_gen::Operation) -> String {
    let mut pairs = form_urlencoded::Serializer::new(String::new());
    for _ in 0..g.below(4) {
        let name = if !operation.query.is_empty() && g.chance(85) {
            g.pick(operation.query).to_string()
        } else {
            g.pick(NASTY).to_string()
        };
        pairs.append_pair(&name, g.pick::<&str>(NASTY));
    }
    pairs.finish()
}

fn body(g: &mut Gen, operation: &kalshi_gen::Operation) -> Vec<u8> {
    match g.below(10) {
        0 => Vec::new(),
        1 => b"{\"ticker\": ".to_vec(),
        2 => nasty_json(g, 0).to_string().into_bytes(),
        _ => {
            let mut object = serde_json::Map::new();
            for name in operation.body {
                if g.chance(80) {
                    let value = if g.chance(30) {
                        nasty_json(g, 1)
                    } else {
                        json!(*g.pick(NASTY))
                    };
                    object.insert((*name).to_owned(), value);
                }
            }
            for (name, fields) in operation.body_items {
                let items: Vec<Value> = (0..g.below(3))
                    .map(|_| {
                        Value::Object(
                            fields
                                .iter()
                                .map(|f| ((*f).to_owned(), json!(*g.pick(NASTY))))
                                .collect(),
                        )
                    })
                    .collect();
                object.insert((*name).to_owned(), Value::Array(items));
            }
            Value::Object(object).to_string().into_bytes()
        }
    }
}

/// Signing headers: valid for the case's method and path most of the
/// time, else missing or broken in one way.
fn headers(g: &mut Gen, key: &Ed25519KeyPair, method: &str, path: &str) -> HeaderMap {
    let mut headers = HeaderMap::new();
    let now = crate::clock::real_now_ms();
    let timestamp = match g.below(10) {
        0 => g.pick(NASTY).to_string(),
        1 => i64::MIN.to_string(),
        _ => now.to_string(),
    };
    let signature = key.sign(format!("{timestamp}{method}{path}").as_bytes());
    let signature = if g.chance(90) {
        STANDARD.encode(signature.as_ref())
    } else {
        g.pick(NASTY).to_string()
    };
    let key_id = if g.chance(95) {
        "alice-key"
    } else {
        *g.pick(NASTY)
    };
    for (name, value) in [
        ("kalshi-access-key", key_id.to_owned()),
        ("kalshi-access-timestamp", timestamp),
        ("kalshi-access-signature", signature),
    ] {
        if g.chance(97)
            && let Ok(value) = HeaderValue::from_str(&value)
        {
            headers.insert(name, value);
        }
    }
    headers
}

/// The key's signing half.
fn signer(key: &ApiKey) -> Ed25519KeyPair {
    let body: String = key
        .private_key_pem()
        .lines()
        .filter(|l| !l.starts_with("-----"))
        .collect();
    let der = STANDARD
        .decode(body)
        .expect("the generated key is base64 PEM");
    Ed25519KeyPair::from_pkcs8(&der).expect("the generated key is Ed25519 PKCS#8")
}

#[test]
fn no_request_makes_the_simulator_panic_or_answer_5xx() {
    let key = ApiKey::ed25519("alice-key");
    let pair = signer(&key);
    assert_eq!(pair.public_key().as_ref().len(), 32);
    let config = SimConfig::new()
        .account(Account::new("alice", &key))
        .account(Account::new("bob", &ApiKey::ed25519("bob-key")));
    let shared = Shared::new(&config);
    let methods = [
        "GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS", "BREW",
    ];
    let mut g = Gen(0x5eed_1234_abcd_0001);
    let mut failures = Vec::new();
    let margin = kalshi_gen::margin::OPERATIONS.iter();
    let operations: Vec<&kalshi_gen::Operation> =
        kalshi_gen::OPERATIONS.iter().chain(margin).collect();
    for case in 0..40_000 {
        let operation = *g.pick(&operations);
        let method = if g.chance(90) {
            operation.method
        } else {
            *g.pick(&methods)
        };
        let path = path(&mut g, operation);
        let query = query(&mut g, operation);
        let body = body(&mut g, operation);
        let headers = headers(&mut g, &pair, method, &path);
        let outcome = catch_unwind(AssertUnwindSafe(|| {
            http::process(&shared, method, &path, &query, &headers, &body)
        }));
        let status = match &outcome {
            Err(_) => Some("a panic".to_owned()),
            // An operation without a handler is `coverage`'s to catch.
            Ok(Err(error)) if error.status >= 500 && error.code != crate::api::NOT_IMPLEMENTED => {
                Some(format!("{} {} {}", error.status, error.code, error.message))
            }
            Ok(Ok((status, _))) if *status >= 500 => Some(status.to_string()),
            Ok(_) => None,
        };
        if let Some(status) = status {
            failures.push(format!(
                "case {case}: {status} for {method} {path}?{query} body {}",
                String::from_utf8_lossy(&body)
            ));
            if failures.len() >= 20 {
                break;
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// One margin request for `alice`, answered like the HTTP layer does
/// (dispatch, then publish, where exit triggers fire); a panic or a 5xx
/// is returned as a failure.
fn margin_call(
    shared: &Shared,
    name: &str,
    params: &[(&str, &str)],
    query: &[(&str, &str)],
    body: Value,
) -> Result<u16, String> {
    let operation = kalshi_gen::margin::OPERATIONS
        .iter()
        .find(|op| op.name == name)
        .expect("a margin operation");
    let call = http::Call {
        operation,
        user: Some("alice".to_owned()),
        params: params
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect(),
        query: query
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect(),
        body: Some(body.clone()),
        now_ms: 1_800_000_000_000,
    };
    let outcome = catch_unwind(AssertUnwindSafe(|| {
        let mut state = shared.state();
        let answer = crate::api::dispatch(&mut state, &call);
        state.publish();
        answer
    }));
    match outcome {
        Err(_) => Err(format!("{name} panicked on {body}")),
        Ok(Ok((status, _))) if status >= 500 => Err(format!("{name} answered {status} to {body}")),
        Ok(Err(error)) if error.status >= 500 => Err(format!(
            "{name} answered {} {} to {body}",
            error.status, error.code
        )),
        Ok(Ok((status, _))) => Ok(status),
        Ok(Err(error)) => Ok(error.status),
    }
}

/// Bob rests a margin order (straight through the exchange's handler).
fn bob_places(shared: &Shared, body: Value) {
    let operation = kalshi_gen::margin::OPERATIONS
        .iter()
        .find(|op| op.name == "create_margin_order")
        .expect("create_margin_order");
    let call = http::Call {
        operation,
        user: Some("bob".to_owned()),
        params: std::collections::HashMap::new(),
        query: Vec::new(),
        body: Some(body),
        now_ms: 1_800_000_000_000,
    };
    let mut state = shared.state();
    crate::api::dispatch(&mut state, &call).expect("Bob's order rests");
    state.publish();
}

/// Margin requests that are valid but for one field, which takes every
/// nasty value in turn: these reach the matching, margin, amend, decrease,
/// trigger and transfer arithmetic a random body rarely gets to.
#[test]
fn margin_requests_with_one_hostile_field_never_panic() {
    let config = SimConfig::new()
        .account(Account::new("alice", &ApiKey::ed25519("alice-key")))
        .account(Account::new("bob", &ApiKey::ed25519("bob-key")));
    let shared = Shared::new(&config);
    {
        let mut state = shared.state();
        for user in ["alice", "bob"] {
            let owner = crate::engine::Owner {
                user_id: user.to_owned(),
                subaccount: 0,
            };
            state
                .margin
                .deposit(&owner, rust_decimal::Decimal::from(1_000_000));
        }
    }
    let order = |id: &str, side: &str, count: &str, price: &str| {
        json!({"ticker": "KXBTCPERP", "client_order_id": id, "side": side, "count": count,
               "price": price, "time_in_force": "good_till_canceled",
               "self_trade_prevention_type": "taker_at_cross"})
    };
    let mut failures = Vec::new();
    let mut n = 0;
    let mut next_id = || {
        n += 1;
        format!("c-{n}")
    };
    // Alice long 5 (she takes an ask Bob rests), so triggers have a position.
    let ask = order(&next_id(), "ask", "5", "100.00");
    let bid = order(&next_id(), "bid", "5", "100.00");
    bob_places(&shared, ask);
    margin_call(&shared, "create_margin_order", &[], &[], bid).unwrap();
    let hostile: Vec<Value> = NASTY
        .iter()
        .map(|v| json!(v))
        .chain([
            json!(-1),
            json!(1e300),
            json!(u64::MAX),
            json!([]),
            json!({}),
        ])
        .collect();
    let bases: Vec<(&str, Value)> = vec![
        ("create_margin_order", order("x", "ask", "2", "101.00")),
        (
            "set_isolated_margin_exit_trigger",
            json!({"stop_loss_price": "90.00", "take_profit_price": "110.00"}),
        ),
        (
            "set_isolated_margin_exit_trigger",
            json!({"kind": "trailing", "trail_amount": "5.00"}),
        ),
        (
            "set_cross_margin_exit_trigger",
            json!({"count": "1", "client_trigger_id": "t", "take_profit_price": "120.00"}),
        ),
        (
            "create_margin_order_group",
            json!({"contracts_limit_fp": "3"}),
        ),
        (
            "apply_margin_subaccount_transfer",
            json!({"client_transfer_id": "00000000-0000-4000-8000-000000000002", "from_subaccount": 0, "to_subaccount": 0, "amount_cents": 100}),
        ),
    ];
    for (name, base) in &bases {
        for field in base.as_object().expect("an object").keys() {
            for value in &hostile {
                let mut body = base.clone();
                body[field] = value.clone();
                if *name == "create_margin_order" && field != "client_order_id" {
                    body["client_order_id"] = json!(next_id());
                }
                let params: &[(&str, &str)] = if name.contains("exit_trigger") {
                    &[("ticker", "KXBTCPERP")]
                } else {
                    &[]
                };
                if let Err(e) = margin_call(&shared, name, params, &[], body) {
                    failures.push(e);
                }
            }
        }
    }
    // Amend and decrease a resting order, one hostile field at a time.
    for value in &hostile {
        let id = next_id();
        margin_call(
            &shared,
            "create_margin_order",
            &[],
            &[],
            order(&id, "bid", "2", "90.00"),
        )
        .unwrap();
        let order_id = {
            let state = shared.state();
            state.margin.order_id_of("alice", &id).expect("placed")
        };
        let amend = json!({"ticker": "KXBTCPERP", "side": "bid", "price": "91.00", "count": "3"});
        for field in ["price", "count", "side"] {
            let mut body = amend.clone();
            body[field] = value.clone();
            if let Err(e) = margin_call(
                &shared,
                "amend_margin_order",
                &[("order_id", &order_id)],
                &[],
                body,
            ) {
                failures.push(e);
            }
        }
        for field in ["reduce_by", "reduce_to"] {
            if let Err(e) = margin_call(
                &shared,
                "decrease_margin_order",
                &[("order_id", &order_id)],
                &[],
                json!({ field: value }),
            ) {
                failures.push(e);
            }
        }
    }
    // The mark moves through the extremes with every trigger set above.
    for price in ["0.01", "1000000000", "100.00"] {
        let mut state = shared.state();
        let _ = state.set_margin_mark("KXBTCPERP", price.parse().unwrap());
    }
    failures.truncate(20);
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
