//! Which WebSocket API a session speaks: the event-contract one
//! ([`EventContracts`]) or the margin one ([`Margin`]).
//!
//! Both documents share the envelope (`type`, `id`, `sid`, `seq`, `msg`),
//! the commands and the rules for sequence numbers and snapshots; they
//! differ in their messages, their hosts and the shape of a book. One
//! session machinery serves both: what differs lives behind [`Wire`].

use kalshi_gen::margin::stream as margin_wire;
use kalshi_gen::stream as trade_wire;
use rust_decimal::Decimal;

use super::book::OrderBook;
use super::margin_book::MarginBook;
use super::recovery::{OrderState, PositionState};
use super::{Channel, StreamError, connection};
use crate::environment::Environment;

mod sealed {
    pub trait Sealed {}
}

/// A WebSocket API a [`super::StreamSession`] can speak. Sealed: the two
/// implementations are [`EventContracts`] and [`Margin`].
pub trait Api: sealed::Sealed + Send + Sync + 'static {
    /// Its server messages, typed (generated from its AsyncAPI document).
    type Message: Clone + std::fmt::Debug + PartialEq + Send + Sync + 'static;
    /// Its local order book.
    type Book: LocalBook;
    /// The channels its document defines (a subscription to another one
    /// fails with [`StreamError::UnsupportedChannel`], nothing sent).
    const CHANNELS: &'static [Channel];
}

/// What every local book says about itself. Sealed: the two books are
/// [`OrderBook`] and [`MarginBook`].
pub trait LocalBook: sealed::Sealed + Clone + std::fmt::Debug + Send + Sync + 'static {
    /// The market's ticker.
    fn market(&self) -> &str;
    /// Whether messages for the book were lost and a fresh snapshot is
    /// awaited (its levels are the last state known to be exact).
    fn is_stale(&self) -> bool;
    /// How recent the book is: the exchange clock of its last change for
    /// event contracts, the exchange's millisecond timestamp for margin.
    fn clock(&self) -> u64;
}

/// Kalshi's event-contract WebSocket API (`/trade-api/ws/v2`), the one
/// [`crate::Client::stream`] opens.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventContracts {}

/// Kalshi's margin (perpetual futures) WebSocket API
/// (`/trade-api/ws/v2/margin` on the margin hosts), the one
/// `client.margin().stream()` opens.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Margin {}

impl sealed::Sealed for EventContracts {}
impl sealed::Sealed for Margin {}
impl sealed::Sealed for OrderBook {}
impl sealed::Sealed for MarginBook {}

impl Api for EventContracts {
    type Message = trade_wire::ServerMessage;
    type Book = OrderBook;
    const CHANNELS: &'static [Channel] = &[
        Channel::Orderbook,
        Channel::Ticker,
        Channel::Trade,
        Channel::Fill,
        Channel::MarketPositions,
        Channel::MarketLifecycle,
        Channel::MultivariateLifecycle,
        Channel::Communications,
        Channel::OrderGroupUpdates,
        Channel::UserOrders,
        Channel::CfBenchmarks,
        Channel::CfBenchmarks5Hz,
        Channel::Pyth,
    ];
}

impl Api for Margin {
    type Message = margin_wire::ServerMessage;
    type Book = MarginBook;
    const CHANNELS: &'static [Channel] = &[
        Channel::Orderbook,
        Channel::Ticker,
        Channel::Trade,
        Channel::Fill,
        Channel::UserOrders,
        Channel::OrderGroupUpdates,
        Channel::CorporateActions,
    ];
}

impl LocalBook for OrderBook {
    fn market(&self) -> &str {
        OrderBook::market(self)
    }
    fn is_stale(&self) -> bool {
        OrderBook::is_stale(self)
    }
    fn clock(&self) -> u64 {
        OrderBook::clock(self)
    }
}

impl LocalBook for MarginBook {
    fn market(&self) -> &str {
        MarginBook::market(self)
    }
    fn is_stale(&self) -> bool {
        MarginBook::is_stale(self)
    }
    fn clock(&self) -> u64 {
        MarginBook::clock(self)
    }
}

/// The part a message plays for the session.
pub(crate) enum Role<'a> {
    /// An `error` (answering a command, or about a subscription).
    Error {
        sid: Option<u64>,
        code: i64,
        message: &'a str,
    },
    /// `subscribed`, with the new subscription's `sid`.
    Subscribed { sid: u64 },
    /// The answer to `list_subscriptions`: `(channel, sid)`.
    Listed(Vec<(String, u64)>),
    /// Any other answer to a command (`ok`, `unsubscribed`, ...).
    Answer,
    /// A book snapshot.
    Snapshot,
    /// A book delta.
    Delta,
    /// A message of a type these bindings do not know.
    Unknown,
    /// Any other message of a subscription.
    Data,
}

/// One change to one side of a market's book, whichever API it came from,
/// borrowing the market from its message (no allocation per delta).
#[derive(Debug, Clone, Copy)]
pub(crate) struct BookDelta<'m> {
    pub market: &'m str,
    pub change: Change,
}

/// The change itself: what waits, keyed by its market, while a book is
/// stale.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Change {
    /// The YES side (event contracts) or the bid side (margin).
    pub first_side: bool,
    pub price: Decimal,
    pub delta: Decimal,
    pub clock: u64,
}

/// What the session machinery needs of an API.
pub(crate) trait Wire: Api {
    /// The API's name in messages.
    const NAME: &'static str;
    /// Whether a snapshot's clock tells which deltas that arrived before it
    /// it already includes. Event-contract snapshots carry the exchange
    /// clock; margin snapshots carry none, so a margin snapshot replaces
    /// every delta that arrived before it on its connection (those were
    /// sent, so applied, before it was taken).
    const SNAPSHOT_CLOCK: bool;
    /// The WebSocket URL of an environment.
    fn websocket_url(environment: &Environment) -> Result<String, StreamError>;
    /// Decodes one text frame.
    fn decode(text: &str) -> Result<Self::Message, serde_json::Error>;
    /// The message's `type`.
    fn kind(message: &Self::Message) -> &str;
    /// The envelope's `id` (answers to commands), `sid` and `seq`.
    fn id(message: &Self::Message) -> Option<u64>;
    fn sid(message: &Self::Message) -> Option<u64>;
    fn seq(message: &Self::Message) -> Option<u64>;
    /// What the message is to the session.
    fn role(message: &Self::Message) -> Role<'_>;
    /// An empty book, stale until its first snapshot.
    fn new_book(market: &str) -> Self::Book;
    fn mark_stale(book: &mut Self::Book);
    /// The market and clock of a snapshot (`None`: no snapshot).
    fn snapshot_market(message: &Self::Message) -> Option<(&str, u64)>;
    /// Replaces `book` with the snapshot `message`.
    fn apply_snapshot(book: &mut Self::Book, message: &Self::Message);
    /// The change a delta makes (`None`: no delta).
    fn delta(message: &Self::Message) -> Option<BookDelta<'_>>;
    fn apply_delta(book: &mut Self::Book, change: &Change);
    /// A fill's trade and order ids (`None`: not a fill, or an API
    /// without fill recovery).
    fn fill_ids(_message: &Self::Message) -> Option<(String, String)> {
        None
    }
    /// A `user_order` message's order id and state (`None`: not one, or an
    /// API without order recovery).
    fn order_state(_message: &Self::Message) -> Option<(String, OrderState)> {
        None
    }
    /// A `market_position` message's subaccount, market and state (`None`:
    /// not one, or an API without position recovery).
    fn position_state(_message: &Self::Message) -> Option<(u32, &str, PositionState)> {
        None
    }
}

/// What both APIs' `Wire` impls share: the envelope readers of their
/// generated `ServerMessage`s and the book operations of their book types,
/// which have the same names and shapes.
macro_rules! shared_wire {
    ($wire:ident) => {
        fn decode(text: &str) -> Result<Self::Message, serde_json::Error> {
            $wire::ServerMessage::decode(text)
        }
        fn kind(message: &Self::Message) -> &str {
            message.kind()
        }
        fn id(message: &Self::Message) -> Option<u64> {
            message.id()
        }
        fn sid(message: &Self::Message) -> Option<u64> {
            message.sid()
        }
        fn seq(message: &Self::Message) -> Option<u64> {
            message.seq()
        }
        fn new_book(market: &str) -> Self::Book {
            <Self::Book>::new(market)
        }
        fn mark_stale(book: &mut Self::Book) {
            book.mark_stale();
        }
        fn apply_delta(book: &mut Self::Book, change: &Change) {
            book.apply_delta(change.first_side, change.price, change.delta, change.clock);
        }
    };
}

impl Wire for EventContracts {
    const NAME: &'static str = "event-contract";
    const SNAPSHOT_CLOCK: bool = true;

    fn websocket_url(environment: &Environment) -> Result<String, StreamError> {
        connection::websocket_url(environment)
    }
    shared_wire!(trade_wire);
    fn role(message: &Self::Message) -> Role<'_> {
        use trade_wire::ServerMessage as M;
        match message {
            M::ErrorResponse(e) => Role::Error {
                sid: e.sid,
                code: e.msg.code,
                message: &e.msg.msg,
            },
            M::SubscribedResponse(s) => Role::Subscribed { sid: s.msg.sid },
            M::ListSubscriptionsResponse(list) => Role::Listed(
                list.msg
                    .iter()
                    .map(|item| (item.channel.clone(), item.sid))
                    .collect(),
            ),
            M::UnsubscribedResponse(_)
            | M::OkResponse(_)
            | M::SubscribedIndicesResponse(_)
            | M::SubscribedUnderlyingsResponse(_) => Role::Answer,
            M::OrderbookSnapshot(_) => Role::Snapshot,
            M::OrderbookDelta(_) => Role::Delta,
            M::Unknown(_) => Role::Unknown,
            _ => Role::Data,
        }
    }
    fn snapshot_market(message: &Self::Message) -> Option<(&str, u64)> {
        match message {
            trade_wire::ServerMessage::OrderbookSnapshot(s) => Some((
                s.msg.market_ticker.as_str(),
                u64::try_from(s.msg.clock).unwrap_or(0),
            )),
            _ => None,
        }
    }
    fn apply_snapshot(book: &mut OrderBook, message: &Self::Message) {
        if let trade_wire::ServerMessage::OrderbookSnapshot(s) = message {
            book.apply_snapshot(&s.msg);
        }
    }
    fn delta(message: &Self::Message) -> Option<BookDelta<'_>> {
        let trade_wire::ServerMessage::OrderbookDelta(d) = message else {
            return None;
        };
        Some(BookDelta {
            market: d.msg.market_ticker.as_str(),
            change: Change {
                first_side: d.msg.side == trade_wire::types::MarketSide::Yes,
                price: d.msg.price_dollars.value(),
                delta: d.msg.delta_fp.value(),
                clock: d.msg.clock.get(),
            },
        })
    }
    fn fill_ids(message: &Self::Message) -> Option<(String, String)> {
        let trade_wire::ServerMessage::Fill(fill) = message else {
            return None;
        };
        Some((fill.msg.trade_id.to_string(), fill.msg.order_id.to_string()))
    }

    fn order_state(message: &Self::Message) -> Option<(String, OrderState)> {
        let trade_wire::ServerMessage::UserOrder(update) = message else {
            return None;
        };
        let order = &update.msg;
        let state = OrderState {
            updated_ms: order.last_updated_ts_ms,
            status: order.status.to_string(),
            filled: order.fill_count_fp,
            remaining: order.remaining_count_fp,
        };
        Some((order.order_id.to_string(), state))
    }

    fn position_state(message: &Self::Message) -> Option<(u32, &str, PositionState)> {
        let trade_wire::ServerMessage::MarketPosition(update) = message else {
            return None;
        };
        let position = &update.msg;
        // Absent for the primary account; Kalshi's numbers are 0 to 63.
        let subaccount = u32::try_from(position.subaccount.unwrap_or(0)).ok()?;
        let state = PositionState {
            position: position.position_fp,
            realized_pnl: position.realized_pnl_dollars,
            fees_paid: position.fees_paid_dollars,
        };
        Some((subaccount, position.market_ticker.as_str(), state))
    }
}

/// The margin WebSocket path, signed like a REST path.
pub(crate) const MARGIN_PATH: &str = "/trade-api/ws/v2/margin";

impl Wire for Margin {
    const NAME: &'static str = "margin";
    const SNAPSHOT_CLOCK: bool = false;

    fn websocket_url(environment: &Environment) -> Result<String, StreamError> {
        Ok(match environment {
            Environment::Production | Environment::ProductionShared => {
                format!("wss://external-api-margin-ws.kalshi.com{MARGIN_PATH}")
            }
            Environment::Demo | Environment::DemoShared => {
                format!("wss://external-api-margin-ws.demo.kalshi.co{MARGIN_PATH}")
            }
            other => {
                let mut url = url::Url::parse(&connection::websocket_url(other)?).map_err(|e| {
                    StreamError::Config {
                        message: e.to_string(),
                    }
                })?;
                url.set_path(MARGIN_PATH);
                url.to_string()
            }
        })
    }
    shared_wire!(margin_wire);
    fn role(message: &Self::Message) -> Role<'_> {
        use margin_wire::ServerMessage as M;
        match message {
            M::ErrorResponse(e) => Role::Error {
                sid: e.sid,
                code: e.msg.code,
                message: &e.msg.msg,
            },
            M::SubscribedResponse(s) => Role::Subscribed { sid: s.msg.sid },
            M::ListSubscriptionsResponse(list) => Role::Listed(
                list.msg
                    .iter()
                    .map(|item| (item.channel.clone(), item.sid))
                    .collect(),
            ),
            M::UnsubscribedResponse(_) | M::OkResponse(_) => Role::Answer,
            M::OrderbookSnapshot(_) => Role::Snapshot,
            M::OrderbookDelta(_) => Role::Delta,
            M::Unknown(_) => Role::Unknown,
            _ => Role::Data,
        }
    }
    fn snapshot_market(message: &Self::Message) -> Option<(&str, u64)> {
        match message {
            margin_wire::ServerMessage::OrderbookSnapshot(s) => {
                Some((s.msg.market_ticker.as_str(), margin_snapshot_ms(s)))
            }
            _ => None,
        }
    }
    fn apply_snapshot(book: &mut MarginBook, message: &Self::Message) {
        if let margin_wire::ServerMessage::OrderbookSnapshot(s) = message {
            book.apply_snapshot(&s.msg, margin_snapshot_ms(s));
        }
    }
    fn delta(message: &Self::Message) -> Option<BookDelta<'_>> {
        let margin_wire::ServerMessage::OrderbookDelta(d) = message else {
            return None;
        };
        // The change's own time, else the frame's send time.
        let ms = d
            .msg
            .ts_ms
            .or(d.sending_ts_ms.as_ref().map(|t| t.0))
            .unwrap_or(0);
        Some(BookDelta {
            market: d.msg.market_ticker.as_str(),
            change: Change {
                first_side: d.msg.side == margin_wire::types::BookSide::Bid,
                price: d.msg.price.value(),
                delta: d.msg.delta.value(),
                clock: u64::try_from(ms).unwrap_or(0),
            },
        })
    }
}

/// A margin snapshot's time: the frame's send time (the snapshot itself
/// carries none).
fn margin_snapshot_ms(s: &margin_wire::types::MarginOrderbookSnapshotPayload) -> u64 {
    s.sending_ts_ms
        .as_ref()
        .and_then(|t| u64::try_from(t.0).ok())
        .unwrap_or(0)
}
