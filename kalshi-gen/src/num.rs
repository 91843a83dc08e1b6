//! Kalshi's fixed-point decimal strings as `rust_decimal` newtypes.
//!
//! Kalshi sends money as `FixedPointDollars` strings (`"0.5600"`, up to six
//! decimal places in responses) and contract counts as `FixedPointCount`
//! strings (`"10.00"`). The generator is told (`with_replacement` in xtask)
//! to use [`Dollars`] and [`Count`] for those schemas, so a price never
//! passes through `f64` and a malformed number fails with a message that
//! says what was wrong instead of silently becoming another value.

use std::fmt;
use std::str::FromStr;

use rust_decimal::Decimal;

/// The most decimal places Kalshi emits in a fixed-point string.
pub const MAX_SCALE: u32 = 6;

/// Values at or beyond this magnitude (10^15) are rejected: no price,
/// balance or count on the exchange comes near it, and a bound keeps every
/// accepted value exactly representable.
const MAX_INTEGER_DIGITS: usize = 15;

/// Why a fixed-point string or decimal was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum DecimalError {
    /// The text is not a plain decimal number (`-?digits[.digits]`).
    NotANumber {
        /// The rejected text, cut to 40 characters.
        text: String,
    },
    /// The text uses scientific notation, which Kalshi never sends.
    Exponent {
        /// The rejected text, cut to 40 characters.
        text: String,
    },
    /// More decimal places than Kalshi uses.
    TooPrecise {
        /// The rejected value.
        text: String,
        /// Its number of decimal places.
        scale: u32,
    },
    /// The magnitude is 10^15 or more.
    OutOfRange {
        /// The rejected value, cut to 40 characters.
        text: String,
    },
}

impl fmt::Display for DecimalError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NotANumber { text } => {
                write!(f, "{text:?} is not a decimal number like \"0.5600\"")
            }
            Self::Exponent { text } => {
                write!(f, "{text:?} uses an exponent; write the number out in full")
            }
            Self::TooPrecise { text, scale } => write!(
                f,
                "{text:?} has {scale} decimal places; at most {MAX_SCALE} are allowed"
            ),
            Self::OutOfRange { text } => {
                write!(
                    f,
                    "{text:?} is out of range (magnitude must be below 10^15)"
                )
            }
        }
    }
}

impl std::error::Error for DecimalError {}

/// Cuts untrusted input before it goes into an error message.
fn excerpt(text: &str) -> String {
    text.chars().take(40).collect()
}

/// Parses `-?digits[.digits]` with at most [`MAX_SCALE`] decimal places.
///
/// Stricter than `Decimal::from_str` on purpose: it refuses `"1e3"`, `"+1"`,
/// `".5"`, `"5."` and surrounding spaces, none of which Kalshi sends, so a
/// value that is not what it looks like is reported instead of guessed at.
fn parse_fixed(text: &str) -> Result<Decimal, DecimalError> {
    let negative = text.starts_with('-');
    let unsigned = &text.as_bytes()[usize::from(negative)..];
    // One pass that checks and accumulates: this runs for every price and
    // count of a stream. The parts may wrap only past 19 digits, which the
    // bounds below refuse before the parts are used.
    let (mut int, mut frac) = (0_u64, 0_u64);
    let (mut int_digits, mut significant, mut scale) = (0_usize, 0_usize, 0_usize);
    let mut point = false;
    for &byte in unsigned {
        let digit = byte.wrapping_sub(b'0');
        if digit < 10 {
            if point {
                frac = frac.wrapping_mul(10).wrapping_add(u64::from(digit));
                scale += 1;
            } else {
                int = int.wrapping_mul(10).wrapping_add(u64::from(digit));
                int_digits += 1;
                significant += usize::from(int != 0);
            }
        } else if byte == b'.' && !point {
            point = true;
        } else {
            return Err(not_a_number(text));
        }
    }
    if int_digits == 0 || (point && scale == 0) {
        return Err(not_a_number(text));
    }
    if scale > MAX_SCALE as usize {
        return Err(DecimalError::TooPrecise {
            text: excerpt(text),
            scale: scale as u32,
        });
    }
    if significant > MAX_INTEGER_DIGITS {
        return Err(DecimalError::OutOfRange {
            text: excerpt(text),
        });
    }
    // Validated above: at most 15 integer and 6 fraction digits, so the
    // mantissa (below 10^21) fits Decimal's 96 bits.
    const POW10: [u64; MAX_SCALE as usize + 1] = [1, 10, 100, 1_000, 10_000, 100_000, 1_000_000];
    let mantissa = u128::from(int) * u128::from(POW10[scale]) + u128::from(frac);
    Ok(Decimal::from_parts(
        mantissa as u32,
        (mantissa >> 32) as u32,
        (mantissa >> 64) as u32,
        negative && mantissa != 0,
        scale as u32,
    ))
}

/// The error for text that is not `-?digits[.digits]`, naming an exponent
/// when that is what made it so.
fn not_a_number(text: &str) -> DecimalError {
    if text.contains(['e', 'E']) && text.parse::<f64>().is_ok() {
        DecimalError::Exponent {
            text: excerpt(text),
        }
    } else {
        DecimalError::NotANumber {
            text: excerpt(text),
        }
    }
}

/// Checks a decimal built in code against the same bounds as parsed text.
///
/// A zero loses its sign: `-Decimal::ZERO` (or a product that rounds to
/// zero) would otherwise print as `-0.0000`, which parses back as
/// `0.0000`, so the wire form would not be what the value reads back as.
fn check_decimal(mut value: Decimal) -> Result<Decimal, DecimalError> {
    if value.is_zero() {
        value.set_sign_positive(true);
    }
    if value.scale() > MAX_SCALE {
        return Err(DecimalError::TooPrecise {
            text: value.to_string(),
            scale: value.scale(),
        });
    }
    if value.abs() >= Decimal::from(10_i64.pow(MAX_INTEGER_DIGITS as u32)) {
        return Err(DecimalError::OutOfRange {
            text: value.to_string(),
        });
    }
    Ok(value)
}

/// Writes `value` with at least `min_scale` decimal places, never fewer than
/// it carries: padding is exact, rounding would silently change a value.
fn write_fixed(f: &mut fmt::Formatter<'_>, value: Decimal, min_scale: u32) -> fmt::Result {
    let scale = value.scale().max(min_scale) as usize;
    write!(f, "{value:.scale$}")
}

macro_rules! fixed_point {
    (
        $(#[$doc:meta])*
        $name:ident, schema = $schema:literal, min_scale = $min_scale:literal
    ) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub struct $name(Decimal);

        impl $name {
            /// Zero.
            pub const ZERO: Self = Self(Decimal::ZERO);
            /// Decimal places always written when serializing.
            pub const WIRE_SCALE: u32 = $min_scale;

            /// Wraps a decimal, refusing more than six decimal places or a
            /// magnitude of 10^15 or more.
            pub fn new(value: Decimal) -> Result<Self, DecimalError> {
                check_decimal(value).map(Self)
            }

            /// The exact decimal value.
            pub const fn value(self) -> Decimal {
                self.0
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({self})", stringify!($name))
            }
        }

        /// The wire form: exactly the canonical number of decimal places, or
        /// more when the value carries more (nothing is rounded away).
        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write_fixed(f, self.0, $min_scale)
            }
        }

        impl FromStr for $name {
            type Err = DecimalError;

            fn from_str(text: &str) -> Result<Self, DecimalError> {
                parse_fixed(text).map(Self)
            }
        }

        impl TryFrom<Decimal> for $name {
            type Error = DecimalError;

            fn try_from(value: Decimal) -> Result<Self, DecimalError> {
                Self::new(value)
            }
        }

        impl TryFrom<&str> for $name {
            type Error = DecimalError;

            fn try_from(text: &str) -> Result<Self, DecimalError> {
                text.parse()
            }
        }

        impl From<$name> for Decimal {
            fn from(value: $name) -> Decimal {
                value.0
            }
        }

        impl From<u32> for $name {
            fn from(value: u32) -> Self {
                Self(Decimal::from(value))
            }
        }

        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.collect_str(self)
            }
        }

        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                deserializer.deserialize_str(FixedVisitor::<Self>::new(stringify!($name)))
            }
        }

        #[cfg(feature = "schemars")]
        impl schemars::JsonSchema for $name {
            fn schema_name() -> String {
                $schema.to_owned()
            }

            fn json_schema(_: &mut schemars::r#gen::SchemaGenerator) -> schemars::schema::Schema {
                fixed_point_schema(stringify!($name))
            }
        }
    };
}

fixed_point! {
    /// An amount of US dollars (Kalshi's `FixedPointDollars`): prices, costs,
    /// fees, balances and P&L. May be negative (P&L, some balances).
    ///
    /// Serializes with exactly four decimal places (`"0.5600"`), the form
    /// Kalshi documents for requests, unless the value carries more.
    ///
    /// ```
    /// use kalshi_gen::Dollars;
    /// let price: Dollars = "0.56".parse()?;
    /// assert_eq!(price.to_string(), "0.5600");
    /// assert!("5.6e-1".parse::<Dollars>().is_err());
    /// # Ok::<(), kalshi_gen::DecimalError>(())
    /// ```
    Dollars, schema = "FixedPointDollars", min_scale = 4
}

fixed_point! {
    /// A number of contracts (Kalshi's `FixedPointCount`); markets may allow
    /// fractions down to 0.01. May be negative (a short position).
    ///
    /// Serializes with exactly two decimal places (`"10.00"`).
    ///
    /// ```
    /// use kalshi_gen::Count;
    /// let count: Count = "10".parse()?;
    /// assert_eq!(count.to_string(), "10.00");
    /// # Ok::<(), kalshi_gen::DecimalError>(())
    /// ```
    Count, schema = "FixedPointCount", min_scale = 2
}

/// A dimensionless decimal the margin API sends as a JSON number: fee and
/// funding rates, margin-ratio thresholds, leverage, return on equity
/// (`type: number` in the margin document; a spec patch names them all
/// `Ratio`, see `xtask/src/patches.rs`).
///
/// JSON numbers reach serde as `f64`; the value kept is the shortest decimal
/// that reads back as the same `f64`, which is the number as Kalshi wrote it
/// for any value with up to 15 significant digits, so `0.0003` is exactly
/// `0.0003`, never `0.000299999...`. Serializes as a JSON number again;
/// a decimal string is accepted on input too.
///
/// ```
/// use kalshi_gen::Ratio;
/// let rate: Ratio = serde_json::from_str("0.0003")?;
/// assert_eq!(rate.value().to_string(), "0.0003");
/// assert_eq!(serde_json::to_string(&rate)?, "0.0003");
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Ratio(Decimal);

impl Ratio {
    /// Wraps a decimal.
    pub const fn new(value: Decimal) -> Self {
        Self(value)
    }

    /// The exact decimal value.
    pub const fn value(self) -> Decimal {
        self.0
    }

    /// The decimal a JSON number stood for: the shortest that reads back as
    /// the same `f64`; `None` for NaN, infinities and magnitudes beyond
    /// `Decimal`'s.
    pub fn from_f64(value: f64) -> Option<Self> {
        if !value.is_finite() {
            return None;
        }
        // `f64`'s Display is the shortest round-trip form, never exponential.
        Decimal::from_str(&value.to_string())
            .or_else(|_| Decimal::from_scientific(&format!("{value:e}")))
            .ok()
            .map(Self)
    }
}

impl fmt::Debug for Ratio {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Ratio({})", self.0)
    }
}

impl fmt::Display for Ratio {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

impl FromStr for Ratio {
    type Err = DecimalError;

    fn from_str(text: &str) -> Result<Self, DecimalError> {
        let cut = || text.chars().take(40).collect::<String>();
        if text.contains(['e', 'E']) {
            return Err(DecimalError::Exponent { text: cut() });
        }
        Decimal::from_str_exact(text)
            .map(Self)
            .map_err(|_| DecimalError::NotANumber { text: cut() })
    }
}

impl From<Ratio> for Decimal {
    fn from(value: Ratio) -> Decimal {
        value.0
    }
}

impl From<Decimal> for Ratio {
    fn from(value: Decimal) -> Self {
        Self(value)
    }
}

impl serde::Serialize for Ratio {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use rust_decimal::prelude::ToPrimitive;
        match self.0.to_f64() {
            Some(value) => serializer.serialize_f64(value),
            None => serializer.collect_str(&self.0),
        }
    }
}

impl<'de> serde::Deserialize<'de> for Ratio {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(RatioVisitor)
    }
}

struct RatioVisitor;

impl serde::de::Visitor<'_> for RatioVisitor {
    type Value = Ratio;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a decimal number")
    }

    fn visit_f64<E: serde::de::Error>(self, value: f64) -> Result<Ratio, E> {
        Ratio::from_f64(value).ok_or_else(|| E::custom(format!("{value} is not a decimal")))
    }

    fn visit_i64<E: serde::de::Error>(self, value: i64) -> Result<Ratio, E> {
        Ok(Ratio(Decimal::from(value)))
    }

    fn visit_u64<E: serde::de::Error>(self, value: u64) -> Result<Ratio, E> {
        Ok(Ratio(Decimal::from(value)))
    }

    fn visit_str<E: serde::de::Error>(self, text: &str) -> Result<Ratio, E> {
        text.parse().map_err(E::custom)
    }
}

#[cfg(feature = "schemars")]
impl schemars::JsonSchema for Ratio {
    fn schema_name() -> String {
        "Ratio".to_owned()
    }

    fn json_schema(_: &mut schemars::r#gen::SchemaGenerator) -> schemars::schema::Schema {
        use schemars::schema::{InstanceType, SchemaObject};
        SchemaObject {
            instance_type: Some(InstanceType::Number.into()),
            format: Some("double".to_owned()),
            ..Default::default()
        }
        .into()
    }
}

/// One price level of an order book: a price and the contracts resting at
/// it. Kalshi sends it as a pair of strings (`["0.1500", "100.00"]`, the
/// spec's `PriceLevelDollarsCountFp`); this is that pair, typed.
///
/// ```
/// use kalshi_gen::PriceLevel;
/// let level: PriceLevel = serde_json::from_str(r#"["0.15", "100.00"]"#)?;
/// assert_eq!((level.price.to_string(), level.count.to_string()), ("0.1500".into(), "100.00".into()));
/// assert_eq!(serde_json::to_string(&level)?, r#"["0.1500","100.00"]"#);
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize,
)]
#[serde(from = "(Dollars, Count)", into = "(Dollars, Count)")]
pub struct PriceLevel {
    /// The price, in dollars.
    pub price: Dollars,
    /// The contracts resting at that price.
    pub count: Count,
}

impl From<(Dollars, Count)> for PriceLevel {
    fn from((price, count): (Dollars, Count)) -> Self {
        Self { price, count }
    }
}

impl From<PriceLevel> for (Dollars, Count) {
    fn from(level: PriceLevel) -> Self {
        (level.price, level.count)
    }
}

impl fmt::Display for PriceLevel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} x {}", self.count, self.price)
    }
}

#[cfg(feature = "schemars")]
impl schemars::JsonSchema for PriceLevel {
    fn schema_name() -> String {
        "PriceLevelDollarsCountFp".to_owned()
    }

    fn json_schema(generator: &mut schemars::r#gen::SchemaGenerator) -> schemars::schema::Schema {
        <(Dollars, Count)>::json_schema(generator)
    }
}

/// Deserializes from borrowed text without allocating on the hot path.
struct FixedVisitor<T> {
    name: &'static str,
    marker: std::marker::PhantomData<T>,
}

impl<T> FixedVisitor<T> {
    fn new(name: &'static str) -> Self {
        Self {
            name,
            marker: std::marker::PhantomData,
        }
    }
}

impl<T: FromStr<Err = DecimalError>> serde::de::Visitor<'_> for FixedVisitor<T> {
    type Value = T;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "a {} decimal string such as \"0.5600\"", self.name)
    }

    fn visit_str<E: serde::de::Error>(self, text: &str) -> Result<T, E> {
        text.parse().map_err(E::custom)
    }
}

#[cfg(feature = "schemars")]
fn fixed_point_schema(name: &str) -> schemars::schema::Schema {
    use schemars::schema::{InstanceType, Metadata, SchemaObject, StringValidation};
    SchemaObject {
        instance_type: Some(InstanceType::String.into()),
        string: Some(Box::new(StringValidation {
            pattern: Some(r"^-?[0-9]+(\.[0-9]{1,6})?$".to_owned()),
            ..Default::default()
        })),
        metadata: Some(Box::new(Metadata {
            description: Some(format!("Kalshi {name}: a decimal number in a string")),
            ..Default::default()
        })),
        ..Default::default()
    }
    .into()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dollars(text: &str) -> Dollars {
        text.parse().unwrap_or_else(|e| panic!("{text}: {e}"))
    }

    #[test]
    fn parses_every_scale_kalshi_sends() {
        for (text, expected) in [
            ("0", "0.0000"),
            ("1", "1.0000"),
            ("0.5", "0.5000"),
            ("0.56", "0.5600"),
            ("0.560", "0.5600"),
            ("0.5600", "0.5600"),
            ("0.56001", "0.56001"),
            ("0.560012", "0.560012"),
            ("-12.3400", "-12.3400"),
            ("123456789012345", "123456789012345.0000"),
        ] {
            assert_eq!(dollars(text).to_string(), expected, "{text}");
        }
    }

    #[test]
    fn the_direct_parse_equals_the_general_decimal_parser() {
        // Every shape the fast path builds: signs, leading zeros, every
        // scale, the largest integer part, negative zero.
        let mut state = 0x2545_f491_4f6c_dd1d_u64;
        let mut next = |bound: u64| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state % bound
        };
        let mut texts = vec![
            "-0.00".to_owned(),
            "999999999999999.999999".to_owned(),
            "000.10".to_owned(),
        ];
        for _ in 0..20_000 {
            let int_digits = 1 + next(15) as usize;
            let int: String = (0..int_digits)
                .map(|_| char::from(b'0' + next(10) as u8))
                .collect();
            let scale = next(7) as usize;
            let frac: String = (0..scale)
                .map(|_| char::from(b'0' + next(10) as u8))
                .collect();
            let sign = if next(2) == 0 { "-" } else { "" };
            let dot = if scale > 0 { "." } else { "" };
            texts.push(format!("{sign}{int}{dot}{frac}"));
        }
        for text in texts {
            let expected = Decimal::from_str_exact(&text).unwrap();
            let parsed = parse_fixed(&text).unwrap();
            assert_eq!(
                (
                    parsed,
                    parsed.scale(),
                    parsed.is_sign_negative(),
                    parsed.to_string()
                ),
                (
                    expected,
                    expected.scale(),
                    expected.is_sign_negative(),
                    expected.to_string()
                ),
                "{text}"
            );
        }
    }

    #[test]
    fn counts_serialize_with_two_places() {
        for (text, expected) in [
            ("10", "10.00"),
            ("2.5", "2.50"),
            ("0.01", "0.01"),
            ("-3", "-3.00"),
        ] {
            let count: Count = text.parse().unwrap();
            assert_eq!(
                serde_json::to_string(&count).unwrap(),
                format!("\"{expected}\"")
            );
        }
    }

    #[test]
    fn json_round_trip_keeps_the_exact_value() {
        let json = r#"["0.5600","0.123456","100.0000"]"#;
        let values: Vec<Dollars> = serde_json::from_str(json).unwrap();
        assert_eq!(values[1].value(), Decimal::new(123_456, 6));
        assert_eq!(serde_json::to_string(&values).unwrap(), json);
    }

    #[test]
    fn rejects_what_is_not_a_plain_decimal() {
        for text in [
            "", "-", "abc", "0x10", "+1", ".5", "5.", "1.2.3", " 1", "1 ", "NaN", "inf", "1,5",
            "--1",
        ] {
            let err = text.parse::<Dollars>().unwrap_err();
            assert!(
                matches!(err, DecimalError::NotANumber { .. }),
                "{text:?}: {err:?}"
            );
        }
    }

    #[test]
    fn rejects_exponents_precision_and_range_with_the_reason() {
        assert!(matches!(
            "5e-1".parse::<Dollars>(),
            Err(DecimalError::Exponent { .. })
        ));
        assert!(matches!(
            "1E3".parse::<Count>(),
            Err(DecimalError::Exponent { .. })
        ));
        let err = "0.1234567".parse::<Dollars>().unwrap_err();
        assert_eq!(
            err,
            DecimalError::TooPrecise {
                text: "0.1234567".into(),
                scale: 7
            }
        );
        assert!(err.to_string().contains("7 decimal places"));
        assert!(matches!(
            "1000000000000000".parse::<Dollars>(),
            Err(DecimalError::OutOfRange { .. })
        ));
        assert!(matches!(
            "99999999999999999999999999999999".parse::<Count>(),
            Err(DecimalError::OutOfRange { .. })
        ));
        assert!("000000000000000000001.00".parse::<Count>().is_ok());
    }

    #[test]
    fn rejects_json_numbers_and_bad_strings_with_a_clear_message() {
        let err = serde_json::from_str::<Dollars>("0.56")
            .unwrap_err()
            .to_string();
        assert!(err.contains("decimal string"), "{err}");
        let err = serde_json::from_str::<Dollars>("\"1e2\"")
            .unwrap_err()
            .to_string();
        assert!(err.contains("exponent"), "{err}");
    }

    #[test]
    fn decimals_built_in_code_are_checked_too() {
        assert!(Dollars::new(Decimal::new(1, 7)).is_err());
        assert!(Count::try_from(Decimal::new(1, 15)).is_err());
        assert_eq!(
            Count::new(Decimal::new(250, 2)).unwrap().to_string(),
            "2.50"
        );
        assert_eq!(Count::from(3).to_string(), "3.00");
    }

    #[test]
    fn error_messages_never_echo_more_than_an_excerpt() {
        let long = "x".repeat(10_000);
        let message = long.parse::<Dollars>().unwrap_err().to_string();
        assert!(message.len() < 100, "{message}");
    }
}
