//! The fast path of `ServerMessage::decode`: a decoder without serde's
//! derived visitors for the messages whose payloads are flat.
//!
//! Most of a stream is small flat objects (`orderbook_delta`, `ticker`,
//! `trade`): strings, integers and nested objects of the same. For those the
//! generator (xtask `fast_decode`) writes a [`FastDecode`] impl per payload
//! type that walks the frame with a [`Cursor`] and hands each field's token
//! to that field type's own `Deserialize` impl through [`Leaf`], a
//! deserializer that behaves exactly as `serde_json`'s does for the tokens it
//! accepts. Anything outside that subset (an escape in a string, a float, an
//! array, a duplicate key, a missing field) makes the fast path give up and
//! the frame is decoded by `serde_json` instead, so a frame decodes to the
//! same value, or fails with the same error, on either path. The fuzz target
//! `server_message` checks that on every input it generates.

use serde::de::{self, Deserialize, DeserializeOwned, Visitor};
use std::fmt;

/// A payload type with a generated fast decoder.
pub(crate) trait FastDecode: Sized {
    /// Decodes the object at the cursor, or `None` for anything the fast
    /// path does not decode (serde_json decides those).
    fn fast(cursor: &mut Cursor<'_>) -> Option<Self>;
}

/// Decodes a whole frame as `T`: on the fast path when `fast` is set and
/// the frame is within its subset, with `serde_json` otherwise. `after` is
/// where the frame's leading `"type":"..."` member ends (0 when it was not
/// read off the text): the payload types have no `type` field, so the fast
/// path resumes there instead of reading it again.
pub(crate) fn payload<T: FastDecode + DeserializeOwned>(
    text: &str,
    after: usize,
    fast: bool,
) -> Result<T, serde_json::Error> {
    if fast {
        if let Some(value) = decode(text, after) {
            return Ok(value);
        }
    }
    serde_json::from_str(text)
}

/// The fast path alone: `None` when the frame is outside its subset.
pub(crate) fn decode<T: FastDecode>(text: &str, after: usize) -> Option<T> {
    let mut cursor = Cursor {
        text,
        at: after,
        resume: after > 0,
    };
    let value = T::fast(&mut cursor)?;
    // serde_json allows only whitespace after the value.
    cursor.skip_whitespace();
    (cursor.at == text.len()).then_some(value)
}

/// A position in a frame's text.
pub(crate) struct Cursor<'a> {
    text: &'a str,
    at: usize,
    /// The cursor is inside the outermost object, just after a member.
    resume: bool,
}

impl<'a> Cursor<'a> {
    fn bytes(&self) -> &'a [u8] {
        self.text.as_bytes()
    }

    /// The next byte after whitespace (JSON's four whitespace bytes).
    #[inline]
    fn peek(&mut self) -> Option<u8> {
        self.skip_whitespace();
        self.bytes().get(self.at).copied()
    }

    #[inline]
    fn skip_whitespace(&mut self) {
        while let Some(b' ' | b'\n' | b'\t' | b'\r') = self.bytes().get(self.at) {
            self.at += 1;
        }
    }

    #[inline]
    fn eat(&mut self, byte: u8) -> Option<()> {
        (self.peek()? == byte).then(|| self.at += 1)
    }

    /// Walks an object, calling `field` with the index of each key among
    /// the type's fields, or `None` for a key the type does not have, once
    /// the cursor is on its value; `field` must consume the value.
    ///
    /// `known` is the type's generated key matcher: given the text after a
    /// key's opening quote and the index of the field after the last one
    /// found (Kalshi sends a message's keys in the same order every time,
    /// so that one is tried first), it returns the field's index and the
    /// length of its key with the closing quote. A key ends at its quote, so
    /// a match is that key and nothing longer; a key with an escape matches
    /// none. Only a key the type does not have is scanned.
    pub(crate) fn object(
        &mut self,
        known: impl Fn(&[u8], usize) -> Option<(usize, usize)>,
        mut field: impl FnMut(&mut Self, Option<usize>) -> Option<()>,
    ) -> Option<()> {
        if std::mem::take(&mut self.resume) {
            if !self.separator()? {
                return Some(());
            }
        } else {
            self.eat(b'{')?;
            if self.peek()? == b'}' {
                self.at += 1;
                return Some(());
            }
        }
        let mut next = 0;
        loop {
            self.eat(b'"')?;
            let index = match known(&self.bytes()[self.at..], next) {
                Some((index, length)) => {
                    self.at += length;
                    next = index + 1;
                    Some(index)
                }
                None => {
                    self.at -= 1;
                    self.string()?;
                    None
                }
            };
            self.eat(b':')?;
            field(self, index)?;
            if !self.separator()? {
                return Some(());
            }
        }
    }

    /// After a member: `true` past a `,`, `false` past the closing `}`.
    fn separator(&mut self) -> Option<bool> {
        let more = match self.peek()? {
            b',' => true,
            b'}' => false,
            _ => return None,
        };
        self.at += 1;
        Some(more)
    }

    /// Reads a field's value into `slot` through the field type's own
    /// `Deserialize`; a second value for the same field gives up, as serde's
    /// derived impls refuse duplicate fields.
    pub(crate) fn value<T: Deserialize<'a>>(&mut self, slot: &mut Option<T>) -> Option<()> {
        if slot.is_some() {
            return None;
        }
        *slot = Some(T::deserialize(self.leaf()?).ok()?);
        Some(())
    }

    /// Reads a field whose type is itself decoded on the fast path.
    pub(crate) fn nested<T: FastDecode>(&mut self, slot: &mut Option<T>) -> Option<()> {
        if slot.is_some() {
            return None;
        }
        *slot = Some(T::fast(self)?);
        Some(())
    }

    /// Reads an optional field (`null` or absent is `None`) whose type is
    /// itself decoded on the fast path.
    pub(crate) fn nested_option<T: FastDecode>(
        &mut self,
        slot: &mut Option<Option<T>>,
    ) -> Option<()> {
        if slot.is_some() {
            return None;
        }
        *slot = Some(if self.peek()? == b'n' {
            self.literal("null")?;
            None
        } else {
            Some(T::fast(self)?)
        });
        Some(())
    }

    /// Skips the value of a key the type does not have, when that value is
    /// a single token (anything else gives up: serde_json checks it).
    pub(crate) fn skip(&mut self) -> Option<()> {
        self.leaf().map(drop)
    }

    /// The single-token value at the cursor.
    #[inline]
    fn leaf(&mut self) -> Option<Leaf<'a>> {
        Some(match self.peek()? {
            b'"' => Leaf::Str(self.string()?),
            b'n' => self.literal("null").map(|()| Leaf::Null)?,
            b't' => self.literal("true").map(|()| Leaf::Bool(true))?,
            b'f' => self.literal("false").map(|()| Leaf::Bool(false))?,
            b'-' | b'0'..=b'9' => Leaf::Int(self.integer()?),
            _ => return None,
        })
    }

    #[inline]
    fn literal(&mut self, word: &str) -> Option<()> {
        let end = self.at + word.len();
        (self.bytes().get(self.at..end)? == word.as_bytes()).then(|| self.at = end)
    }

    /// A string without escapes or control characters (serde_json refuses
    /// the latter; the former it unescapes, which is left to it).
    #[inline]
    fn string(&mut self) -> Option<&'a str> {
        self.eat(b'"')?;
        let start = self.at;
        let end = start + special_byte(&self.bytes()[start..])?;
        if self.bytes()[end] != b'"' {
            return None;
        }
        self.at = end + 1;
        // Both ends are next to ASCII quotes, so on character boundaries.
        self.text.get(start..end)
    }

    /// An integer as serde_json reads it, for the forms whose value it
    /// keeps as an integer: no leading zeros, no `-0`, within `u64` (or
    /// `i64` when negative). A fraction or exponent gives up.
    #[inline]
    fn integer(&mut self) -> Option<Int> {
        let bytes = self.bytes();
        let negative = bytes[self.at] == b'-';
        let start = self.at + usize::from(negative);
        let mut end = start;
        let mut value: u64 = 0;
        while let Some(&digit) = bytes.get(end).filter(|b| b.is_ascii_digit()) {
            value = value
                .checked_mul(10)?
                .checked_add(u64::from(digit - b'0'))?;
            end += 1;
        }
        let digits = end - start;
        if digits == 0 || (bytes[start] == b'0' && (digits > 1 || negative)) {
            return None;
        }
        if let Some(b'.' | b'e' | b'E') = bytes.get(end) {
            return None;
        }
        self.at = end;
        Some(if negative {
            Int::Negative(i64::try_from(value).ok()?.wrapping_neg())
        } else {
            Int::Positive(value)
        })
    }
}

/// The offset of the first `"`, `\` or control character, eight bytes a
/// step (the scan serde_json itself uses for strings).
fn special_byte(bytes: &[u8]) -> Option<usize> {
    const ONES: u64 = u64::from_ne_bytes([0x01; 8]);
    const HIGHS: u64 = u64::from_ne_bytes([0x80; 8]);
    let has_zero = |v: u64| v.wrapping_sub(ONES) & !v & HIGHS;
    let mut chunks = bytes.chunks_exact(8);
    let mut offset = 0;
    for chunk in chunks.by_ref() {
        let word = u64::from_le_bytes(chunk.try_into().ok()?);
        let mask = has_zero(word ^ (ONES * u64::from(b'"')))
            | has_zero(word ^ (ONES * u64::from(b'\\')))
            | (word.wrapping_sub(ONES * 0x20) & !word & HIGHS);
        if mask != 0 {
            // The lowest flagged byte is a real match; borrows only ever
            // flag bytes above one.
            return Some(offset + mask.trailing_zeros() as usize / 8);
        }
        offset += 8;
    }
    let rest = chunks.remainder();
    let at = rest
        .iter()
        .position(|&b| b == b'"' || b == b'\\' || b < 0x20)?;
    Some(offset + at)
}

/// One JSON token, as a deserializer that calls exactly the visitor method
/// serde_json calls for it and refuses everything else. Refusals only send
/// the frame to serde_json, so they may be broader than serde_json's.
#[derive(Clone, Copy, Debug)]
enum Leaf<'a> {
    Str(&'a str),
    Int(Int),
    Bool(bool),
    Null,
}

#[derive(Clone, Copy, Debug)]
enum Int {
    Positive(u64),
    Negative(i64),
}

/// A refusal; the reason is not kept (the frame goes to serde_json, which
/// gives its own).
#[derive(Debug)]
struct Refused;

impl fmt::Display for Refused {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("outside the fast path")
    }
}

impl std::error::Error for Refused {}

impl de::Error for Refused {
    fn custom<T: fmt::Display>(_: T) -> Self {
        Refused
    }
}

impl<'a> Leaf<'a> {
    fn number<V: Visitor<'a>>(self, visitor: V) -> Result<V::Value, Refused> {
        match self {
            Leaf::Int(Int::Positive(n)) => visitor.visit_u64(n),
            Leaf::Int(Int::Negative(n)) => visitor.visit_i64(n),
            _ => Err(Refused),
        }
    }
}

/// serde_json's `deserialize_number` (integers only): the integer methods
/// and the float ones alike visit the integer as parsed.
macro_rules! numbers {
    ($($method:ident)*) => {$(
        fn $method<V: Visitor<'a>>(self, visitor: V) -> Result<V::Value, Refused> {
            self.number(visitor)
        }
    )*};
}

/// Refused outright: serde_json does something else for these (128-bit
/// integers, bytes, chars, compound values), left to it. Each method is
/// listed with the argument types it takes before the visitor.
macro_rules! refused {
    ($($method:ident($($arg:ty),*))*) => {$(
        fn $method<V: Visitor<'a>>(self, $(_: $arg,)* _: V) -> Result<V::Value, Refused> {
            Err(Refused)
        }
    )*};
}

impl<'a> de::Deserializer<'a> for Leaf<'a> {
    type Error = Refused;

    fn deserialize_any<V: Visitor<'a>>(self, visitor: V) -> Result<V::Value, Refused> {
        match self {
            Leaf::Str(text) => visitor.visit_borrowed_str(text),
            Leaf::Bool(value) => visitor.visit_bool(value),
            Leaf::Null => visitor.visit_unit(),
            // serde_json's `arbitrary_precision` feature, which another
            // crate may turn on, changes what `deserialize_any` visits for
            // numbers: left to serde_json.
            Leaf::Int(_) => Err(Refused),
        }
    }

    numbers!(deserialize_i8 deserialize_i16 deserialize_i32 deserialize_i64
        deserialize_u8 deserialize_u16 deserialize_u32 deserialize_u64
        deserialize_f32 deserialize_f64);

    refused!(deserialize_i128() deserialize_u128() deserialize_char() deserialize_bytes()
        deserialize_byte_buf() deserialize_seq() deserialize_map()
        deserialize_unit_struct(&'static str)
        deserialize_tuple(usize)
        deserialize_tuple_struct(&'static str, usize)
        deserialize_struct(&'static str, &'static [&'static str])
        deserialize_enum(&'static str, &'static [&'static str]));

    fn deserialize_bool<V: Visitor<'a>>(self, visitor: V) -> Result<V::Value, Refused> {
        match self {
            Leaf::Bool(value) => visitor.visit_bool(value),
            _ => Err(Refused),
        }
    }

    fn deserialize_str<V: Visitor<'a>>(self, visitor: V) -> Result<V::Value, Refused> {
        match self {
            Leaf::Str(text) => visitor.visit_borrowed_str(text),
            _ => Err(Refused),
        }
    }

    fn deserialize_string<V: Visitor<'a>>(self, visitor: V) -> Result<V::Value, Refused> {
        self.deserialize_str(visitor)
    }

    fn deserialize_identifier<V: Visitor<'a>>(self, visitor: V) -> Result<V::Value, Refused> {
        self.deserialize_str(visitor)
    }

    fn deserialize_option<V: Visitor<'a>>(self, visitor: V) -> Result<V::Value, Refused> {
        match self {
            Leaf::Null => visitor.visit_none(),
            _ => visitor.visit_some(self),
        }
    }

    fn deserialize_unit<V: Visitor<'a>>(self, visitor: V) -> Result<V::Value, Refused> {
        match self {
            Leaf::Null => visitor.visit_unit(),
            _ => Err(Refused),
        }
    }

    fn deserialize_newtype_struct<V: Visitor<'a>>(
        self,
        name: &'static str,
        visitor: V,
    ) -> Result<V::Value, Refused> {
        // serde_json's own private newtypes (`RawValue`) are special there.
        if name.starts_with("$serde_json") {
            return Err(Refused);
        }
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_ignored_any<V: Visitor<'a>>(self, visitor: V) -> Result<V::Value, Refused> {
        visitor.visit_unit()
    }
}

#[cfg(test)]
mod tests {
    use super::decode;
    use crate::stream::types::{OrderbookDeltaPayload, TickerPayload};
    use crate::stream::{leading_type, ServerMessage};

    const DELTA: &str = r#"{"type":"orderbook_delta","sid":1,"seq":100,"msg":{"clock":100,"delta_fp":"17.00","market_id":"7a0343ea-019b-4880-a27a-a73e4b463db1","market_ticker":"KXTEST-26DEC31-B008","price_dollars":"0.2600","side":"yes","ts_ms":0}}"#;

    /// Whether `frame` is decoded on the fast path, after checking that
    /// `decode` gives exactly what serde_json alone gives for it.
    fn fast_and_same(frame: &str) -> bool {
        let fast = ServerMessage::decode(frame);
        let serde = ServerMessage::decode_without_fast_path(frame);
        match (&fast, &serde) {
            // Debug keeps every printed digit of an amount; `==` would not.
            (Ok(a), Ok(b)) => assert_eq!(format!("{a:?}"), format!("{b:?}"), "{frame}"),
            (Err(a), Err(b)) => assert_eq!(a.to_string(), b.to_string(), "{frame}"),
            _ => panic!("{frame}: {fast:?} on the fast path, {serde:?} without"),
        }
        let after = leading_type(frame).map_or(0, |(_, after)| after);
        decode::<OrderbookDeltaPayload>(frame, after).is_some()
    }

    #[test]
    fn kalshis_frames_take_the_fast_path() {
        assert!(fast_and_same(DELTA));
        // Spaces, a `type` not first, optional fields present, null and
        // absent, keys in any order, unknown keys with one-token values.
        for frame in [
            r#" { "type" : "orderbook_delta" , "sid" : 1 , "seq" : 2 , "msg" : { "side" : "no" , "clock" : 7 , "delta_fp" : "-5.00" , "market_id" : "7a0343ea-019b-4880-a27a-a73e4b463db1" , "market_ticker" : "K" , "price_dollars" : "0.01" } } "#,
            r#"{"sid":1,"seq":2,"type":"orderbook_delta","msg":{"clock":7,"delta_fp":"1.00","market_id":"7a0343ea-019b-4880-a27a-a73e4b463db1","market_ticker":"K","price_dollars":"0.99","side":"maybe","client_order_id":"c-1","subaccount":-3,"ts":"2026-12-03T10:00:00.123Z","ts_ms":null,"new":true,"other":null,"more":12}}"#,
            r#"{"type":"orderbook_delta","sid":18446744073709551615,"seq":0,"msg":{"clock":1,"delta_fp":"1.00","market_id":"7A0343EA019B4880A27AA73E4B463DB1","market_ticker":"K\u00e9","price_dollars":"0.50","side":"yes"},"sending_ts_ms":-9223372036854775807}"#
                .replace(r"\u00e9", "é")
                .as_str(),
        ] {
            assert!(fast_and_same(frame), "{frame}");
        }
        let message = ServerMessage::decode(DELTA).unwrap();
        assert_eq!(
            (message.kind(), message.sid(), message.seq()),
            ("orderbook_delta", Some(1), Some(100))
        );
    }

    #[test]
    fn other_flat_messages_take_it_too() {
        let ticker = r#"{"type":"ticker","sid":2,"msg":{"dollar_open_interest":2,"dollar_volume":5,"last_trade_size_fp":"1.00","market_id":"7a0343ea-019b-4880-a27a-a73e4b463db1","market_ticker":"K","open_interest_fp":"4.00","price_dollars":"0.4800","time":"2026-12-03T10:00:00Z","ts":1767268800,"ts_ms":1767268800000,"volume_fp":"10.00","yes_ask_dollars":"0.4900","yes_ask_size_fp":"3.00","yes_bid_dollars":"0.4700","yes_bid_size_fp":"2.00"}}"#;
        let after = leading_type(ticker).unwrap().1;
        let fast = decode::<TickerPayload>(ticker, after).expect("on the fast path");
        let serde: TickerPayload = serde_json::from_str(ticker).unwrap();
        assert_eq!(format!("{fast:?}"), format!("{serde:?}"));
    }

    /// Everything outside the fast path's subset goes to serde_json, which
    /// decides: the same value or the same error either way.
    #[test]
    fn the_rest_is_left_to_serde_json() {
        let body = r#""clock":100,"delta_fp":"17.00","market_id":"7a0343ea-019b-4880-a27a-a73e4b463db1","market_ticker":"KX","price_dollars":"0.2600","side":"yes""#;
        let frame =
            |msg: &str| format!(r#"{{"type":"orderbook_delta","sid":1,"seq":2,"msg":{{{msg}}}}}"#);
        for declined in [
            frame(&body.replace("KX", r"K\u0058")),   // an escape
            frame(&body.replace("KX", "K\u{1}X")),    // a control character
            frame(&format!(r#"{body},"clock":101"#)), // a duplicate field
            frame(&body.replace(r#""clock":100"#, r#""clock":1e2"#)), // an exponent
            frame(&body.replace(r#""clock":100"#, r#""clock":100.0"#)),
            frame(&body.replace(r#""clock":100"#, r#""clock":0100"#)), // leading zero
            frame(&body.replace(r#""clock":100"#, r#""clock":0"#)),    // zero for NonZeroU64
            frame(&body.replace(r#""clock":100"#, r#""clock":-1"#)),
            frame(&body.replace(r#""clock":100"#, r#""clock":18446744073709551616"#)),
            frame(&body.replace(r#""clock":100"#, r#""clock":null"#)),
            frame(&body.replace(r#""clock":100"#, r#""clock":"100""#)),
            frame(&format!(r#"{body},"subaccount":-0"#)),
            frame(&format!(r#"{body},"extra":{{"a":1}}"#)), // unknown nested value
            frame(&format!(r#"{body},"extra":[1]"#)),
            frame(&format!(r#"{body},"extra":1.5"#)),
            frame(&format!(r#"{body},"#)), // trailing comma
            frame(&body.replace(r#","side":"yes""#, "")), // a missing field
            frame(&body.replace(r#""price_dollars":"0.2600""#, r#""price_dollars":0.26"#)),
            format!("{} x", frame(body)), // trailing text
            frame(body).replace(r#""seq":2"#, r#""seq":2,"seq":3"#),
            frame(body).replace(r#""msg":{"#, r#""msg":null,"m":{"#),
            r#"{"type":"orderbook_delta","sid":1,"seq":2,"msg":["x"]}"#.to_owned(),
            r#"{"type":"orderbook_delta"}"#.to_owned(),
            r#"{"type":"orderbook_delta""#.to_owned(),
            r#"{"type":"orderbook_delta","#.to_owned(),
            r#"{"type":"orderbook_delta",}"#.to_owned(),
            // Spaces JSON does not have, where the dispatch reads the type.
            format!("\u{C}{}", frame(body)),
            frame(body).replacen('{', "{\u{A0}", 1),
            frame(body).replacen(r#""type":"#, "\"type\"\u{B}:", 1),
            frame(body).replacen(r#""type":"#, "\"type\":\u{2028}", 1),
        ] {
            assert!(
                !fast_and_same(&declined),
                "taken on the fast path: {declined}"
            );
        }
        assert!(fast_and_same(&frame(body)));
    }

    /// Random edits of Kalshi's frames, each checked on both paths: the
    /// fuzz target does this without end; this keeps a deterministic slice
    /// of it in every test run.
    #[test]
    fn edited_frames_decode_the_same_on_both_paths() {
        const ALPHABET: &[u8] = b"{}[]\":,\\ \t-+.0123456789eEnulltruefalse\x01azAZ";
        let mut state = 0x9e37_79b9_7f4a_7c15_u64;
        let mut next = |bound: usize| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            usize::try_from(state % bound as u64).expect("below the bound")
        };
        let mut fast = 0;
        for _ in 0..20_000 {
            let mut bytes = DELTA.as_bytes().to_vec();
            for _ in 0..1 + next(3) {
                let at = next(bytes.len());
                let byte = ALPHABET[next(ALPHABET.len())];
                match next(3) {
                    0 => bytes[at] = byte,
                    1 => bytes.insert(at, byte),
                    _ => drop(bytes.remove(at)),
                }
            }
            if let Ok(frame) = String::from_utf8(bytes) {
                fast += usize::from(fast_and_same(&frame));
            }
        }
        // Edits inside string values keep many frames on the fast path.
        assert!(fast > 1_000, "only {fast} edited frames took the fast path");
    }
}
