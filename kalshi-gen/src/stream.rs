//! The WebSocket API's messages, generated from Kalshi's AsyncAPI document.
//!
//! [`types`] holds every payload; [`ServerMessage`] is every message the
//! server sends, decoded by its `type` (one it does not know is kept whole
//! as [`ServerMessage::Unknown`]); [`Command`] is every command the client
//! sends; [`CHANNELS`] and [`ERROR_CODES`] list the document's channels and
//! error codes. The same rules as the REST bindings hold: money and counts
//! are [`Dollars`](crate::Dollars) and [`Count`](crate::Count), an order book
//! level is a [`PriceLevel`](crate::PriceLevel), enums are open, unknown
//! fields decode, and every type is `#[non_exhaustive]`.
//!
//! ```
//! use kalshi_gen::stream::ServerMessage;
//! let frame = r#"{"type":"orderbook_delta","sid":2,"seq":7,"msg":{"market_ticker":"KX-1",
//!   "market_id":"9b0f6b43-5b68-4f5c-b2b0-5f8d5e1e7f2a","clock":42,"price_dollars":"0.56",
//!   "delta_fp":"-5.00","side":"yes"}}"#;
//! let message = ServerMessage::decode(frame)?;
//! assert_eq!((message.kind(), message.sid(), message.seq()), ("orderbook_delta", Some(2), Some(7)));
//! # Ok::<(), serde_json::Error>(())
//! ```

pub use crate::stream_generated::*;

/// The `type` of a frame whose first key is `type` with a plain string
/// value (no escapes), read off the text, with the offset just past that
/// value's closing quote (where the fast decoders resume); `None` for any
/// other frame, which is then parsed for it. The full parse that follows
/// still rejects a frame that is not JSON. Both APIs' generated
/// `ServerMessage::decode` call it.
pub(crate) fn leading_type(text: &str) -> Option<(&str, usize)> {
    // Kalshi's own layout, without spaces, is tried first: this runs for
    // every frame of a stream.
    let rest = match text.strip_prefix("{\"type\":\"") {
        Some(rest) => rest,
        None => {
            // JSON's whitespace only (not `trim_start`'s Unicode spaces):
            // the fast decoders resume after this prefix without reading
            // it again, so it must be exactly what serde_json accepts.
            let json_space = |c: char| matches!(c, ' ' | '\n' | '\t' | '\r');
            let rest = text.trim_start_matches(json_space).strip_prefix('{')?;
            let rest = rest
                .trim_start_matches(json_space)
                .strip_prefix("\"type\"")?
                .trim_start_matches(json_space)
                .strip_prefix(':')?;
            rest.trim_start_matches(json_space).strip_prefix('"')?
        }
    };
    let end = rest.bytes().position(|b| b == b'"' || b == b'\\')?;
    let after = text.len() - rest.len() + end + 1;
    (rest.as_bytes()[end] == b'"').then(|| (&rest[..end], after))
}

#[cfg(test)]
mod tests {
    use super::leading_type;

    #[test]
    fn the_type_is_read_off_a_leading_plain_string() {
        let frame = r#"{"type":"ticker","sid":1}"#;
        assert_eq!(leading_type(frame), Some(("ticker", 16)));
        assert_eq!(&frame[16..], r#","sid":1}"#);
        let spaced = " {\n \"type\" : \"fill\", \"sid\":1}";
        assert_eq!(leading_type(spaced), Some(("fill", 19)));
        assert_eq!(&spaced[19..], r#", "sid":1}"#);
        // Escapes, a later `type` and other shapes are left to the parser.
        assert_eq!(leading_type(r#"{"type":"tick\u0065r"}"#), None);
        assert_eq!(leading_type(r#"{"sid":1,"type":"ticker"}"#), None);
        assert_eq!(leading_type(r#"{"type":1}"#), None);
        assert_eq!(leading_type(r#"{"type":"unterminated"#), None);
        // Only JSON's four whitespace characters, as serde_json.
        for space in ["\u{0C}", "\u{0B}", "\u{A0}", "\u{2028}", "\u{3000}"] {
            let frames = [
                format!(r#"{space}{{"type":"fill"}}"#),
                format!(r#"{{{space}"type":"fill"}}"#),
                format!(r#"{{"type"{space}:"fill"}}"#),
                format!(r#"{{"type":{space}"fill"}}"#),
            ];
            for frame in frames {
                assert_eq!(leading_type(&frame), None, "{frame:?}");
            }
        }
    }
}
