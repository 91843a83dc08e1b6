//! Fuzz targets for everything the SDK parses from bytes it does not
//! control: amounts, private keys, Kalshi's error bodies, every generated
//! response type, every open enum and every WebSocket frame, of the Trade
//! API and of the margin API alike ([`Bindings`]).
//!
//! Each target is a plain function of `&[u8]` that panics when a property
//! fails, so the same code runs under libFuzzer (the thin binaries in
//! `fuzz_targets/`, driven by `cargo xtask fuzz` on nightly) and on stable
//! in the tests crate, which replays every committed corpus file
//! (`tests/it/fuzz.rs`): a crash fixed once stays fixed without a nightly
//! toolchain in CI. The properties are written out at each target.
#![forbid(unsafe_code)]

use std::fmt::Display;
use std::str::FromStr;
use std::sync::OnceLock;

use kalshi_client::auth::Credentials;
use kalshi_client::order::{Price, Quantity};
use kalshi_client::stream::{Applied, BookReplay, OrderBook};
use kalshi_client::{ApiError, Error};
use kalshi_gen::open_enum::OpenEnum;
use kalshi_gen::request::Request;
use kalshi_gen::visit::TypeVisitor;
use kalshi_gen::{Count, DecimalError, Dollars, PriceLevel};
use reqwest::StatusCode;
use reqwest::header::{HeaderMap, HeaderValue};
use rust_decimal::Decimal;
use serde::Serialize;
use serde::de::DeserializeOwned;

/// A fuzz target: its name (that of its `fuzz_targets/` binary and its
/// `corpus/` directory) and its checks.
#[derive(Clone, Copy)]
pub struct Target {
    /// The binary's and the corpus directory's name.
    pub name: &'static str,
    /// Runs one input; panics when a property fails.
    pub run: fn(&[u8]),
}

/// Every target, in the order `cargo xtask fuzz` runs them.
pub const TARGETS: &[Target] = &[
    Target {
        name: "amounts",
        run: amounts,
    },
    Target {
        name: "private_key",
        run: private_key,
    },
    Target {
        name: "error_body",
        run: error_body,
    },
    Target {
        name: "responses",
        run: responses,
    },
    Target {
        name: "open_enums",
        run: open_enums,
    },
    Target {
        name: "server_message",
        run: server_message,
    },
    Target {
        name: "book_replay",
        run: book_replay,
    },
];

// ---------------------------------------------------------------------------
// Amounts
// ---------------------------------------------------------------------------

/// `Dollars` and `Count` (kalshi-gen), `Price` and `Quantity` (kalshi-client)
/// parsed from the input as text, from the input as a JSON value, and built
/// from a `Decimal` made of the input's bytes.
///
/// Properties: parsing never panics; an accepted amount equals what
/// `rust_decimal`'s exact parser makes of the same text (the hand-written
/// one-pass parser against the general one); it prints with its wire scale
/// and prints back to an equal value and the same text (Display then parse);
/// it serializes to that text as a JSON string and decodes back equal; an
/// error message quotes at most an excerpt of the input. `Price` stays in
/// (0, 1) with at most 4 places and its complement is a price that adds up
/// to 1; `Quantity` stays positive with at most 2 places.
pub fn amounts(data: &[u8]) {
    if let Ok(text) = std::str::from_utf8(data) {
        wire_amount::<Dollars>(text, Dollars::WIRE_SCALE);
        wire_amount::<Count>(text, Count::WIRE_SCALE);
        if let Ok(price) = text.parse::<Price>() {
            check_price(price);
        }
        if let Ok(quantity) = text.parse::<Quantity>() {
            check_quantity(quantity);
        }
    }
    if let Ok(value) = serde_json::from_slice::<Dollars>(data) {
        wire_amount::<Dollars>(&value.to_string(), Dollars::WIRE_SCALE);
    }
    if let Ok(value) = serde_json::from_slice::<Count>(data) {
        wire_amount::<Count>(&value.to_string(), Count::WIRE_SCALE);
    }
    if let Ok(level) = serde_json::from_slice::<PriceLevel>(data) {
        let text = serde_json::to_string(&level).expect("a price level encodes");
        let again: PriceLevel = serde_json::from_str(&text).expect("an encoded level decodes");
        assert_eq!(again, level, "{text}");
    }
    if let Some(decimal) = decimal_from(data) {
        if let Ok(value) = Dollars::new(decimal) {
            constructed_amount(value, Dollars::WIRE_SCALE);
        }
        if let Ok(value) = Count::new(decimal) {
            constructed_amount(value, Count::WIRE_SCALE);
        }
        if let Ok(price) = Price::new(decimal) {
            check_price(price);
        }
        if let Ok(quantity) = Quantity::new(decimal) {
            check_quantity(quantity);
        }
    }
}

/// The parts of `Dollars` and `Count`, the two wire types, these checks use.
trait WireAmount: FromStr<Err = DecimalError> + Display + Serialize + DeserializeOwned + Eq {
    fn decimal(&self) -> Decimal;
}

impl WireAmount for Dollars {
    fn decimal(&self) -> Decimal {
        self.value()
    }
}

impl WireAmount for Count {
    fn decimal(&self) -> Decimal {
        self.value()
    }
}

fn wire_amount<T: WireAmount + std::fmt::Debug>(text: &str, wire_scale: u32) {
    let value = match text.parse::<T>() {
        Ok(value) => value,
        Err(error) => {
            // The input is quoted cut to 40 characters, escaped by `{:?}`
            // (at most 10 bytes per character).
            let message = error.to_string();
            assert!(message.len() <= 40 * 10 + 100, "{message}");
            return;
        }
    };
    let exact = Decimal::from_str_exact(text)
        .unwrap_or_else(|e| panic!("{text:?} parsed as {value:?}, rust_decimal refuses it: {e}"));
    assert_eq!(value.decimal(), exact, "{text:?}");
    let printed = value.to_string();
    let places = printed.split_once('.').map_or(0, |(_, frac)| frac.len());
    assert_eq!(
        places as u32,
        value.decimal().scale().max(wire_scale),
        "{text:?} printed as {printed:?}"
    );
    let reparsed: T = printed
        .parse()
        .unwrap_or_else(|e| panic!("{printed:?} (from {text:?}) does not parse: {e}"));
    assert_eq!(reparsed, value, "{text:?} -> {printed:?}");
    assert_eq!(reparsed.to_string(), printed, "{text:?}");
    let json = serde_json::to_string(&value).expect("an amount encodes");
    assert_eq!(json, format!("\"{printed}\""));
    let decoded: T = serde_json::from_str(&json).expect("an encoded amount decodes");
    assert_eq!(decoded, value, "{json}");
}

/// An amount made in code prints as text that parses back to it and
/// prints the same again.
fn constructed_amount<T: WireAmount + std::fmt::Debug>(value: T, wire_scale: u32) {
    let printed = value.to_string();
    wire_amount::<T>(&printed, wire_scale);
    let reparsed: T = printed
        .parse()
        .unwrap_or_else(|e| panic!("{value:?} printed as {printed:?}, which fails: {e}"));
    assert_eq!(reparsed, value, "{printed}");
    assert_eq!(reparsed.to_string(), printed, "{value:?}");
}

fn check_price(price: Price) {
    let value = price.value();
    assert!(
        value > Decimal::ZERO && value < Decimal::ONE,
        "{price:?} is outside (0, 1)"
    );
    assert!(value.normalize().scale() <= 4, "{price:?}");
    let printed = price.to_string();
    let reparsed: Price = printed
        .parse()
        .unwrap_or_else(|e| panic!("{printed:?} does not parse back: {e}"));
    assert_eq!(reparsed, price, "{printed}");
    assert_eq!(reparsed.to_string(), printed);
    let other = price.complement();
    assert_eq!(other.value() + value, Decimal::ONE, "{price:?} {other:?}");
    assert_eq!(other.complement(), price);
}

fn check_quantity(quantity: Quantity) {
    let value = quantity.value();
    assert!(value > Decimal::ZERO, "{quantity:?}");
    assert!(value.normalize().scale() <= 2, "{quantity:?}");
    let printed = quantity.to_string();
    let reparsed: Quantity = printed
        .parse()
        .unwrap_or_else(|e| panic!("{printed:?} does not parse back: {e}"));
    assert_eq!(reparsed, quantity, "{printed}");
    assert_eq!(reparsed.to_string(), printed);
}

/// A `Decimal` from the first 13 bytes (96-bit mantissa, sign, scale), for
/// the constructors that take one.
fn decimal_from(data: &[u8]) -> Option<Decimal> {
    let bytes: &[u8; 13] = data.get(..13)?.try_into().ok()?;
    let word = |i: usize| u32::from_le_bytes([bytes[i], bytes[i + 1], bytes[i + 2], bytes[i + 3]]);
    let flags = bytes[12];
    Some(Decimal::from_parts(
        word(0),
        word(4),
        word(8),
        flags & 0x80 != 0,
        u32::from(flags & 0x7f) % 29,
    ))
}

// ---------------------------------------------------------------------------
// Private keys
// ---------------------------------------------------------------------------

/// The key id the private-key target loads keys under.
const KEY_ID: &str = "fuzz-key-id";

/// Private-key loading through the entry points users call:
/// `Credentials::from_pem` when the first byte is even, else
/// `Credentials::from_pem_with_passphrase` with the passphrase on the first
/// line of the rest. Covers PKCS#1, PKCS#8 (RSA, Ed25519), encrypted PKCS#8
/// and everything the loader recognises in order to refuse it.
///
/// Properties: loading never panics; a loaded key signs; neither the error
/// (`Display` and `Debug`) nor the credentials' `Debug` contain any run of
/// 16 or more base64 characters of the input with a lowercase letter, `+` or
/// `/` in it (key material; PEM labels, which errors may name, have none).
pub fn private_key(data: &[u8]) {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let text = String::from_utf8_lossy(rest);
    let result = if mode % 2 == 0 {
        Credentials::from_pem(KEY_ID, &text)
    } else {
        let (passphrase, pem) = text.split_once('\n').unwrap_or((&text, ""));
        Credentials::from_pem_with_passphrase(KEY_ID, pem, passphrase)
    };
    let shown = match result {
        Ok(credentials) => {
            credentials
                .sign(1_703_123_456_789, "GET", "/trade-api/v2/portfolio/balance")
                .unwrap_or_else(|e| panic!("{credentials:?} loaded but cannot sign: {e}"));
            format!("{credentials:?}")
        }
        Err(error) => format!("{error} {error:?}"),
    };
    for run in secret_runs(&text) {
        assert!(
            !shown.contains(run),
            "key material {run:?} appears in {shown:?}"
        );
    }
}

/// Runs of 16+ base64 characters holding a lowercase letter, `+` or `/`.
fn secret_runs(text: &str) -> impl Iterator<Item = &str> {
    text.split(|c: char| !(c.is_ascii_alphanumeric() || matches!(c, '+' | '/' | '=')))
        .filter(|run| {
            run.len() >= 16
                && run
                    .bytes()
                    .any(|b| b.is_ascii_lowercase() || matches!(b, b'+' | b'/'))
        })
}

// ---------------------------------------------------------------------------
// Error bodies
// ---------------------------------------------------------------------------

/// How kalshi-client turns a failed response into its typed error:
/// `ApiError::from_response` over a status (first two bytes, folded into
/// 100–999), an `x-request-id` header (the next byte says how many bytes
/// follow for it), an operation of the table (next byte) and the rest as the
/// body, then the `Display` of the error and of each `Error` kind.
///
/// Properties: nothing panics; `code_base` is a prefix of the code; the
/// request id is the header's text when it is text; a body that is not JSON
/// is kept as at most a 512-byte excerpt, and never when it holds key
/// material (`PRIVATE KEY`, `private_key`).
pub fn error_body(data: &[u8]) {
    let [a, b, id_len, op, rest @ ..] = data else {
        return;
    };
    let status = StatusCode::from_u16(100 + u16::from_le_bytes([*a, *b]) % 900)
        .expect("100-999 is a valid status");
    let (id, body) = rest.split_at(usize::from(*id_len).min(rest.len()));
    let mut headers = HeaderMap::new();
    let header = HeaderValue::from_bytes(id).ok();
    if let Some(value) = &header {
        headers.insert("x-request-id", value.clone());
    }
    let operations = kalshi_gen::OPERATIONS;
    let operation = operations[usize::from(*op) % operations.len()].name;
    let api = ApiError::from_response(status, &headers, body, operation);

    if let Some(code) = &api.code {
        let base = api.code_base().expect("a code has a base");
        assert!(code.starts_with(base), "{code:?} -> {base:?}");
    }
    assert_eq!(
        api.request_id.as_deref(),
        header.as_ref().and_then(|h| h.to_str().ok()),
    );
    if serde_json::from_slice::<serde_json::Value>(body).is_err()
        && let Some(message) = &api.message
    {
        let holds_key = body
            .windows(11)
            .any(|w| w == b"PRIVATE KEY" || w == b"private_key");
        if holds_key {
            assert!(message.starts_with("<withheld"), "{message:?}");
        } else {
            // Lossy UTF-8 of at most 512 bytes, plus an ellipsis.
            assert!(message.chars().count() <= 513, "{}", message.len());
        }
    }
    let shown = api.to_string();
    assert!(shown.contains(operation), "{shown}");
    for error in [
        Error::BadRequest(Box::new(api.clone())),
        Error::Auth {
            error: Box::new(api.clone()),
            clock_offset: None,
        },
        Error::NotFound(Box::new(api.clone())),
        Error::Conflict(Box::new(api.clone())),
        Error::Gone(Box::new(api.clone())),
        Error::RateLimited(Box::new(api.clone())),
        Error::Server(Box::new(api.clone())),
        Error::UnexpectedStatus(Box::new(api)),
    ] {
        let _ = error.to_string();
        let _ = error.may_have_executed();
        assert!(error.api_error().is_some());
    }
}

// ---------------------------------------------------------------------------
// The generated bindings
// ---------------------------------------------------------------------------

/// One set of generated bindings, each with its generated `visit_types`:
/// what the `responses` and `open_enums` targets go through, so a type or an
/// operation added to any of them by a spec bump is fuzzed without anyone
/// listing it here.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Bindings {
    /// The Trade API's REST bindings (`kalshi_gen`).
    Trade,
    /// The Trade API's WebSocket bindings (`kalshi_gen::stream`).
    TradeStream,
    /// The margin API's REST bindings (`kalshi_gen::margin`).
    Margin,
    /// The margin API's WebSocket bindings (`kalshi_gen::margin::stream`).
    MarginStream,
}

impl Bindings {
    /// Every set of bindings.
    pub const ALL: [Self; 4] = [
        Self::Trade,
        Self::TradeStream,
        Self::Margin,
        Self::MarginStream,
    ];

    /// The module path below `kalshi_gen`, with a trailing `::` (empty for
    /// the Trade API's REST bindings, at the crate root): the prefix of an
    /// operation's name in [`response_operations`] and in the `responses`
    /// target's `operation\nbody` inputs. The two REST tables share a name
    /// (`intra_exchange_instance_transfer`), which the prefix tells apart.
    pub fn prefix(self) -> &'static str {
        match self {
            Self::Trade => "",
            Self::TradeStream => "stream::",
            Self::Margin => "margin::",
            Self::MarginStream => "margin::stream::",
        }
    }

    /// Calls the bindings' generated `visit_types`.
    fn visit<V: TypeVisitor>(self, visitor: &mut V) {
        match self {
            Self::Trade => kalshi_gen::visit_types(visitor),
            Self::TradeStream => kalshi_gen::stream::visit_types(visitor),
            Self::Margin => kalshi_gen::margin::visit_types(visitor),
            Self::MarginStream => kalshi_gen::margin::stream::visit_types(visitor),
        }
    }
}

// ---------------------------------------------------------------------------
// Every generated response type
// ---------------------------------------------------------------------------

/// One operation's checks: its name, prefixed by its bindings'
/// [`Bindings::prefix`], and a function of the body bytes.
type BodyCheck = (String, fn(&[u8]));

/// Every operation's success and error bodies, as the `visit_types` of
/// every [`Bindings`] lists them (the Trade API's and the margin API's),
/// sorted by prefixed name: derived from the generated code, so an
/// operation added by a spec bump is fuzzed without anyone adding it here.
fn body_checks() -> &'static [BodyCheck] {
    static CHECKS: OnceLock<Vec<BodyCheck>> = OnceLock::new();
    struct Collect {
        prefix: &'static str,
        checks: Vec<BodyCheck>,
    }
    impl TypeVisitor for Collect {
        fn operation<R>(&mut self)
        where
            R: Request,
            R::Response: DeserializeOwned + Serialize,
            R::ErrorBody: DeserializeOwned + Serialize,
        {
            fn both<R>(body: &[u8])
            where
                R: Request,
                R::Response: DeserializeOwned + Serialize,
                R::ErrorBody: DeserializeOwned + Serialize,
            {
                decode_round_trip::<R::Response>(R::OPERATION, body);
                decode_round_trip::<R::ErrorBody>(R::OPERATION, body);
            }
            self.checks
                .push((format!("{}{}", self.prefix, R::OPERATION), both::<R>));
        }

        fn open_enum<E>(&mut self)
        where
            E: OpenEnum + DeserializeOwned + Serialize,
        {
        }
    }
    CHECKS.get_or_init(|| {
        let mut checks = Vec::new();
        for bindings in Bindings::ALL {
            let mut collect = Collect {
                prefix: bindings.prefix(),
                checks,
            };
            bindings.visit(&mut collect);
            checks = collect.checks;
        }
        checks.sort_by(|a, b| a.0.cmp(&b.0));
        checks
    })
}

/// The names of the operations whose bodies [`responses`] decodes, sorted,
/// each prefixed by its bindings' [`Bindings::prefix`] (`get_balance`,
/// `margin::get_margin_balance`), for tests that the derived list covers
/// the operation tables of both APIs.
pub fn response_operations() -> Vec<&'static str> {
    body_checks()
        .iter()
        .map(|(name, _)| name.as_str())
        .collect()
}

/// Decodes a body as every generated response type does in the client
/// (`serde_json::from_slice`, progenitor's decoding), the Trade API's and
/// the margin API's. The input is `operation\nbody` for one operation's
/// success and error body types (a margin operation's name prefixed by
/// `margin::`, as [`response_operations`] lists it); any other input is
/// decoded, whole, as every operation's.
///
/// Property, for a body that decodes (`decode(x)` succeeds): the decoded
/// value encodes, the encoding decodes, and that value encodes to the same
/// JSON, i.e. `encode(decode(encode(decode(x)))) == encode(decode(x))`,
/// compared as JSON values ([`json_equivalent`]: floats to within 2 units
/// in the last place). Equality with `x` itself is not a property:
/// decoding drops unknown fields and normalises amounts and timestamps.
pub fn responses(data: &[u8]) {
    let checks = body_checks();
    if let Some(newline) = data.iter().position(|&b| b == b'\n')
        && let Ok(name) = std::str::from_utf8(&data[..newline])
        && let Ok(at) = checks.binary_search_by_key(&name, |(n, _)| n.as_str())
    {
        (checks[at].1)(&data[newline + 1..]);
        return;
    }
    for (_, check) in checks {
        check(data);
    }
}

fn decode_round_trip<T: DeserializeOwned + Serialize>(operation: &str, body: &[u8]) {
    let Ok(first) = serde_json::from_slice::<T>(body) else {
        return;
    };
    let type_name = std::any::type_name::<T>();
    let encoded = serde_json::to_vec(&first)
        .unwrap_or_else(|e| panic!("{operation}: a decoded {type_name} does not encode: {e}"));
    let second: T = serde_json::from_slice(&encoded).unwrap_or_else(|e| {
        panic!(
            "{operation}: {type_name} encoded as {} does not decode: {e}",
            String::from_utf8_lossy(&encoded)
        )
    });
    let again = serde_json::to_vec(&second).expect("a decoded value encodes");
    let value = |bytes: &[u8]| {
        serde_json::from_slice::<serde_json::Value>(bytes).expect("serde_json writes JSON")
    };
    let (again, encoded) = (value(&again), value(&encoded));
    assert!(
        json_equivalent(&again, &encoded),
        "{operation}: {type_name} does not re-encode to the same JSON: {encoded} then {again}"
    );
}

/// JSON equality, except that two floating-point numbers within `ULPS`
/// of each other count as equal.
///
/// serde_json's default float parser (without its `float_roundtrip`
/// feature, which no crate here enables) is fast but not correctly rounded
/// for long mantissas: reading back a float it printed may land one unit in
/// the last place away (the fuzzer found `source_ts_ms` with 73 digits
/// doing that). That is the JSON library's documented trade-off, not a
/// change of value by these bindings, whose money and counts are decimal
/// strings and compare exactly; so only floats get this tolerance.
pub fn json_equivalent(a: &serde_json::Value, b: &serde_json::Value) -> bool {
    use serde_json::Value;
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => {
            x == y
                || (x.is_f64()
                    && y.is_f64()
                    && x.as_f64()
                        .zip(y.as_f64())
                        .is_some_and(|(x, y)| within_ulps(x, y)))
        }
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(x, y)| json_equivalent(x, y))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len()
                && x.iter()
                    .all(|(key, x)| y.get(key).is_some_and(|y| json_equivalent(x, y)))
        }
        _ => a == b,
    }
}

/// How many units in the last place two floats may differ by in
/// [`json_equivalent`].
const ULPS: u64 = 2;

fn within_ulps(x: f64, y: f64) -> bool {
    x.is_sign_negative() == y.is_sign_negative() && x.to_bits().abs_diff(y.to_bits()) <= ULPS
}

// ---------------------------------------------------------------------------
// Open enums
// ---------------------------------------------------------------------------

/// Every open string enum of the REST and WebSocket bindings of both APIs,
/// as the `visit_types` of every [`Bindings`] lists them, decoded from the
/// input as a JSON string.
///
/// Property: any string decodes (an unknown one into `Unknown`), reads back
/// through `as_str` and encodes to exactly the string received, so a value
/// Kalshi adds later survives a round trip.
pub fn open_enums(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let json = serde_json::to_vec(text).expect("a string encodes");
    let mut check = EnumRoundTrip { json: &json, text };
    for bindings in Bindings::ALL {
        bindings.visit(&mut check);
    }
}

/// The open enums [`open_enums`] round-trips: each enum's bindings and its
/// type's name (the last segment of its path), for tests that the derived
/// list covers every open enum the generator wrote.
pub fn open_enum_types() -> Vec<(Bindings, &'static str)> {
    struct Names(Vec<&'static str>);
    impl TypeVisitor for Names {
        fn operation<R>(&mut self)
        where
            R: Request,
            R::Response: DeserializeOwned + Serialize,
            R::ErrorBody: DeserializeOwned + Serialize,
        {
        }

        fn open_enum<E>(&mut self)
        where
            E: OpenEnum + DeserializeOwned + Serialize,
        {
            let path = std::any::type_name::<E>();
            self.0.push(path.rsplit("::").next().unwrap_or(path));
        }
    }
    let mut types = Vec::new();
    for bindings in Bindings::ALL {
        let mut names = Names(Vec::new());
        bindings.visit(&mut names);
        types.extend(names.0.into_iter().map(|name| (bindings, name)));
    }
    types
}

struct EnumRoundTrip<'a> {
    json: &'a [u8],
    text: &'a str,
}

impl TypeVisitor for EnumRoundTrip<'_> {
    fn operation<R>(&mut self)
    where
        R: Request,
        R::Response: DeserializeOwned + Serialize,
        R::ErrorBody: DeserializeOwned + Serialize,
    {
    }

    fn open_enum<E>(&mut self)
    where
        E: OpenEnum + DeserializeOwned + Serialize,
    {
        let name = std::any::type_name::<E>();
        let value: E = serde_json::from_slice(self.json)
            .unwrap_or_else(|e| panic!("{name}: {:?} does not decode: {e}", self.text));
        assert_eq!(value.as_str(), self.text, "{name}");
        let encoded = serde_json::to_vec(&value).expect("an enum encodes");
        assert_eq!(encoded, self.json, "{name}: {:?}", self.text);
        let parsed: Result<E, _> = self.text.parse();
        assert!(
            parsed.is_ok_and(|p| p.as_str() == self.text && p.is_unknown() == value.is_unknown()),
            "{name}: FromStr disagrees with decoding for {:?}",
            self.text
        );
    }
}

// ---------------------------------------------------------------------------
// WebSocket frames
// ---------------------------------------------------------------------------

/// One WebSocket text frame through the Trade API's
/// `kalshi_gen::stream::ServerMessage::decode` and the margin API's
/// `kalshi_gen::margin::stream::ServerMessage::decode` (the two share
/// message types such as `orderbook_snapshot` with different payloads, so
/// every frame goes through both).
///
/// Properties, for each: decoding never panics, nor do `kind`, `id`, `sid`
/// and `seq`; the fast path of `decode` gives exactly what `serde_json`
/// alone gives (the same message, amounts to the last printed digit, or the
/// same error); a decoded message encodes (`to_json`), the encoding decodes,
/// and to an equal message: `decode(encode(decode(x))) == decode(x)`,
/// floats compared as [`json_equivalent`] does.
pub fn server_message(data: &[u8]) {
    let _ = decode_frame(data);
}

/// [`server_message`]'s checks, returning what they decoded: the bindings
/// whose `ServerMessage::decode` accepted the frame, each with the decoded
/// message encoded (`to_json`), for tests that the target decodes every
/// message of both APIs.
pub fn decode_frame(data: &[u8]) -> Vec<(Bindings, serde_json::Value)> {
    let Ok(text) = std::str::from_utf8(data) else {
        return Vec::new();
    };
    let mut decoded = Vec::new();
    decoded.extend(frame_round_trip::<kalshi_gen::stream::ServerMessage>(text));
    decoded.extend(frame_round_trip::<kalshi_gen::margin::stream::ServerMessage>(text));
    decoded
}

/// What [`server_message`] uses of a generated `ServerMessage`.
trait Frame: Sized + PartialEq + std::fmt::Debug {
    /// The bindings it belongs to.
    const BINDINGS: Bindings;
    fn decode(text: &str) -> Result<Self, serde_json::Error>;
    fn decode_without_fast_path(text: &str) -> Result<Self, serde_json::Error>;
    fn envelope(&self) -> (&str, Option<u64>, Option<u64>, Option<u64>);
    fn to_json(&self) -> Result<serde_json::Value, serde_json::Error>;
}

macro_rules! frame {
    ($($message:ty => $bindings:expr),+) => {$(
        impl Frame for $message {
            const BINDINGS: Bindings = $bindings;

            fn decode(text: &str) -> Result<Self, serde_json::Error> {
                <$message>::decode(text)
            }

            fn decode_without_fast_path(text: &str) -> Result<Self, serde_json::Error> {
                <$message>::decode_without_fast_path(text)
            }

            fn envelope(&self) -> (&str, Option<u64>, Option<u64>, Option<u64>) {
                (self.kind(), self.id(), self.sid(), self.seq())
            }

            fn to_json(&self) -> Result<serde_json::Value, serde_json::Error> {
                <$message>::to_json(self)
            }
        }
    )+};
}

frame!(
    kalshi_gen::stream::ServerMessage => Bindings::TradeStream,
    kalshi_gen::margin::stream::ServerMessage => Bindings::MarginStream
);

fn frame_round_trip<M: Frame>(text: &str) -> Option<(Bindings, serde_json::Value)> {
    let bindings = M::BINDINGS;
    let decoded = M::decode(text);
    same_on_both_paths(bindings, text, &decoded, &M::decode_without_fast_path(text));
    let message = decoded.ok()?;
    let _ = message.envelope();
    let json = message
        .to_json()
        .unwrap_or_else(|e| panic!("{bindings:?}: {message:?} does not encode: {e}"));
    let again = M::decode(&json.to_string())
        .unwrap_or_else(|e| panic!("{bindings:?}: {json} (from {text:?}) does not decode: {e}"));
    if again != message {
        // Equal but for floats re-read one unit in the last place away
        // (see `json_equivalent`): the same message type, the same JSON.
        let again_json = again.to_json().expect("a decoded message encodes");
        assert!(
            std::mem::discriminant(&again) == std::mem::discriminant(&message)
                && json_equivalent(&again_json, &json),
            "{bindings:?}: {text:?} re-encoded as {json} decodes to {again:?}, not {message:?}"
        );
    }
    Some((bindings, json))
}

/// `decode`'s fast path against `serde_json` alone: the same message, down
/// to the digits each amount keeps (compared through `Debug`, as `Decimal`'s
/// `==` ignores trailing zeros), or the same error.
fn same_on_both_paths<M: Frame>(
    bindings: Bindings,
    text: &str,
    fast: &Result<M, serde_json::Error>,
    serde: &Result<M, serde_json::Error>,
) {
    match (fast, serde) {
        (Ok(fast), Ok(serde)) => assert_eq!(
            format!("{fast:?}"),
            format!("{serde:?}"),
            "{bindings:?}: the fast path decodes {text:?} differently"
        ),
        (Err(fast), Err(serde)) => assert_eq!(
            fast.to_string(),
            serde.to_string(),
            "{bindings:?}: the fast path fails {text:?} differently"
        ),
        _ => {
            panic!("{bindings:?}: {text:?} decodes to {fast:?} on the fast path, {serde:?} without")
        }
    }
}

/// Frames, one per line (invalid UTF-8 replaced), through
/// `BookReplay::apply_frame`, in whatever order and combination they come.
///
/// Properties: applying never panics; a frame applied as a duplicate or as
/// not an order book message changes no book; after every frame, every
/// book's levels are sorted best first, its `best_*` are the first levels,
/// and its derived figures (`mid`, `spread`, depths) compute.
pub fn book_replay(data: &[u8]) {
    let mut replay = BookReplay::new();
    for line in data.split(|&b| b == b'\n') {
        let frame = String::from_utf8_lossy(line);
        let before = replay.clone();
        let Ok(applied) = replay.apply_frame(&frame) else {
            continue;
        };
        if matches!(applied, Applied::Duplicate | Applied::Other) {
            assert!(
                same_books(&before, &replay),
                "{applied:?} changed a book: {frame}"
            );
        }
        for book in replay.books() {
            check_book(book);
        }
    }
}

fn same_books(a: &BookReplay, b: &BookReplay) -> bool {
    a.books().count() == b.books().count()
        && a.books().all(|book| b.book(book.market()) == Some(book))
}

fn check_book(book: &OrderBook) {
    let all = usize::MAX;
    let (bids, asks, no_bids) = (book.bids(all), book.asks(all), book.no_bids(all));
    assert!(
        bids.windows(2).all(|w| w[0].price > w[1].price),
        "bids not best first: {bids:?}"
    );
    assert!(
        asks.windows(2).all(|w| w[0].price < w[1].price),
        "asks not best first: {asks:?}"
    );
    assert!(
        no_bids.windows(2).all(|w| w[0].price > w[1].price),
        "NO bids not best first: {no_bids:?}"
    );
    assert_eq!(book.best_bid(), bids.first().copied());
    assert_eq!(book.best_ask(), asks.first().copied());
    assert_eq!(book.best_no_bid(), no_bids.first().copied());
    let _ = (book.mid(), book.spread(), book.best_no_ask(), book.clock());
    for level in bids.iter().chain(&asks) {
        let _ = book.bid_depth_at_or_above(level.price.value());
        let _ = book.ask_depth_at_or_below(level.price.value());
    }
}
