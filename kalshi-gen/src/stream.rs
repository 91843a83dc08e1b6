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
