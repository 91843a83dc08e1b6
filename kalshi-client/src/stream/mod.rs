//! Real-time streams: Kalshi's WebSocket API with automatic recovery and
//! local order books that never show a state the exchange did not have.
//!
//! ```no_run
//! # async fn demo(client: kalshi_client::Client) -> Result<(), kalshi_client::stream::StreamError> {
//! use futures_util::StreamExt;
//! use kalshi_client::stream::{Event, Subscription};
//!
//! let mut session = client.stream().connect().await?;
//! let books = session.subscribe(Subscription::orderbook(["KXBTC-26DEC31-T100000"])).await?;
//! let fills = session.subscribe(Subscription::fills()).await?;
//! while let Some(event) = session.next().await {
//!     match event {
//!         Event::Message { subscription, message } if subscription == fills => println!("fill: {message:?}"),
//!         Event::Message { subscription, .. } if subscription == books => {
//!             if let Some(book) = session.book("KXBTC-26DEC31-T100000") {
//!                 println!("bid {:?} ask {:?} stale {}", book.best_bid(), book.best_ask(), book.is_stale());
//!             }
//!         }
//!         other => println!("{other:?}"),
//!     }
//! }
//! # Ok(()) }
//! ```
//!
//! # What happens on its own, and how it shows
//!
//! Every recovery is automatic and reported as an [`Event`]:
//!
//! * **Heartbeat.** Kalshi pings every 10 s; pings are answered. A connection
//!   silent for [`StreamBuilder::heartbeat_timeout`] is declared dead.
//! * **Reconnect.** A dead or dropped connection is dialled again, signed
//!   afresh, after a full-jitter exponential backoff, and every subscription
//!   is made again on it ([`Event::Disconnected`], [`Event::Reconnecting`],
//!   [`Event::Connected`], [`Event::Resubscribed`]). A subscription Kalshi
//!   refuses then with an error that may pass is asked for again, with the
//!   same backoff, until it is accepted ([`Event::ServerError`]).
//! * **Sequence numbers.** Each subscription's `seq` is tracked per
//!   connection. A repeat is dropped ([`StreamStats::duplicates`]); a gap is
//!   an [`Event::Gap`], and on the order book channel it marks the
//!   subscription's books stale and asks for fresh snapshots, which replace
//!   them ([`Event::BookResynced`]). Deltas that arrive meanwhile are kept
//!   and applied after the snapshot when they are newer than it (by the
//!   exchange `clock`).
//! * **Redundancy.** With [`StreamBuilder::connections`] above one, each
//!   connection keeps its own copy of every book; [`StreamSession::book`]
//!   serves the freshest copy that is not stale, by exchange `clock`, so a
//!   dropped connection loses nothing and needs no resync. Messages that
//!   arrive on several connections are delivered once.
//!
//! # Margin
//!
//! `client.margin().stream()` opens Kalshi's margin WebSocket API with the
//! same machinery: a [`StreamSession<Margin>`] ([`MarginStreamSession`])
//! of [`MarginEvent`]s whose books are [`MarginBook`]s (bids and asks at any
//! positive price). Margin snapshots carry no exchange clock, so a snapshot
//! replaces every delta that arrived before it on its connection, and a
//! channel the margin document lacks is refused before anything is sent
//! ([`StreamError::UnsupportedChannel`]).
//!
//! # Buffers
//!
//! Events wait for the consumer in a bounded queue
//! ([`StreamBuilder::buffer`]). When it is full:
//!
//! * `fill`, `user_order`, `market_position` and `order_group_updates`
//!   messages are never dropped: the stream waits for the consumer, up to
//!   [`StreamBuilder::consumer_timeout`], then ends with
//!   [`Event::Overflow`].
//! * Order book messages may be skipped, counted in [`Event::Lagged`]: the
//!   local books are kept whatever the consumer does, so a reader of
//!   [`StreamSession::book`] loses nothing.
//! * Every other channel (ticker, trades, lifecycle, communications, index
//!   values) skips the messages that do not fit, counted in
//!   [`Event::Lagged`].
//!
//! While a connection is down, Kalshi keeps nothing for it: messages of
//! that window are not replayed. Books are resynchronized by their
//! snapshots. Fills are recovered over REST when
//! [`StreamBuilder::recover_fills`] is on: after a connection was lost, the
//! fills of its outage no connection delivered come as one
//! [`Event::FillsRecovered`], each fill once from either source. Orders
//! are, with [`StreamBuilder::recover_orders`]: those whose state the
//! outage hid come as one [`Event::OrdersRecovered`], never after a newer
//! state of the same order. Positions are, with
//! [`StreamBuilder::recover_positions`]: those the outage changed come as
//! one [`Event::PositionsRecovered`]. For the other channels (order groups,
//! public data) [`Event::Resubscribed`] carries the window so they can be
//! reconciled over REST.

mod api;
pub mod book;
mod connection;
mod hub;
mod ladder;
mod margin_book;
mod recovery;
mod replay;
mod splice;

use std::fmt;
use std::pin::Pin;
use std::sync::{Arc, RwLock};
use std::task::{Context, Poll};
use std::time::{Duration, SystemTime};

use futures_util::Stream;
use kalshi_gen::stream::ServerMessage;
use tokio::sync::{mpsc, oneshot};

pub use api::{Api, EventContracts, LocalBook, Margin};
pub use book::OrderBook;
pub use margin_book::MarginBook;
pub use replay::{Applied, BookReplay};

use crate::Client;

/// The channels a subscription can be made to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum Channel {
    /// `orderbook_delta`: snapshots and deltas, kept as local books.
    Orderbook,
    /// `ticker`: prices, volume and open interest.
    Ticker,
    /// `trade`: public trades.
    Trade,
    /// `fill`: your fills.
    Fill,
    /// `market_positions`: your positions.
    MarketPositions,
    /// `market_lifecycle_v2`: markets and events opening, closing, settling.
    MarketLifecycle,
    /// `multivariate_market_lifecycle`: combo markets' lifecycle.
    MultivariateLifecycle,
    /// `communications`: RFQs, quotes and RFQ batches.
    Communications,
    /// `order_group_updates`: your order groups.
    OrderGroupUpdates,
    /// `user_orders`: your orders.
    UserOrders,
    /// `cfbenchmarks_value`: CF Benchmarks index values.
    CfBenchmarks,
    /// `cfbenchmarks_value_5hz`: CF Benchmarks values five times a second.
    CfBenchmarks5Hz,
    /// `pyth_value`: Pyth underlying values.
    Pyth,
    /// `corporate_actions`: splits, final settlements and ticker changes of
    /// margin markets (margin API only).
    CorporateActions,
}

impl Channel {
    /// Every channel.
    pub const ALL: [Channel; 14] = [
        Self::Orderbook,
        Self::Ticker,
        Self::Trade,
        Self::Fill,
        Self::MarketPositions,
        Self::MarketLifecycle,
        Self::MultivariateLifecycle,
        Self::Communications,
        Self::OrderGroupUpdates,
        Self::UserOrders,
        Self::CfBenchmarks,
        Self::CfBenchmarks5Hz,
        Self::Pyth,
        Self::CorporateActions,
    ];

    /// The channel's name on the wire.
    pub fn name(self) -> &'static str {
        match self {
            Self::Orderbook => "orderbook_delta",
            Self::Ticker => "ticker",
            Self::Trade => "trade",
            Self::Fill => "fill",
            Self::MarketPositions => "market_positions",
            Self::MarketLifecycle => "market_lifecycle_v2",
            Self::MultivariateLifecycle => "multivariate_market_lifecycle",
            Self::Communications => "communications",
            Self::OrderGroupUpdates => "order_group_updates",
            Self::UserOrders => "user_orders",
            Self::CfBenchmarks => "cfbenchmarks_value",
            Self::CfBenchmarks5Hz => "cfbenchmarks_value_5hz",
            Self::Pyth => "pyth_value",
            Self::CorporateActions => "corporate_actions",
        }
    }

    /// The channel of a wire name.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|c| c.name() == name)
    }

    /// Whether its messages describe the account's own state, which the
    /// stream never drops (see the module docs).
    pub fn is_account_state(self) -> bool {
        matches!(
            self,
            Self::Fill | Self::UserOrders | Self::MarketPositions | Self::OrderGroupUpdates
        )
    }
}

impl fmt::Display for Channel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// What to subscribe to: one channel, optionally some markets, and options.
#[derive(Debug, Clone, PartialEq, Eq)]
#[must_use]
pub struct Subscription {
    channel: Channel,
    markets: Vec<String>,
    send_initial_snapshot: Option<bool>,
    only_self: bool,
    index_ids: Vec<String>,
    underlyings: Vec<String>,
}

impl Subscription {
    /// A subscription to `channel`, for every market.
    pub fn new(channel: Channel) -> Self {
        Self {
            channel,
            markets: Vec::new(),
            send_initial_snapshot: None,
            only_self: false,
            index_ids: Vec::new(),
            underlyings: Vec::new(),
        }
    }

    /// Order books of these markets (snapshot, then deltas).
    pub fn orderbook<I: IntoIterator<Item = S>, S: Into<String>>(markets: I) -> Self {
        Self::new(Channel::Orderbook).markets(markets)
    }

    /// Tickers of these markets (every market when none).
    pub fn ticker<I: IntoIterator<Item = S>, S: Into<String>>(markets: I) -> Self {
        Self::new(Channel::Ticker).markets(markets)
    }

    /// Public trades in these markets (every market when none).
    pub fn trades<I: IntoIterator<Item = S>, S: Into<String>>(markets: I) -> Self {
        Self::new(Channel::Trade).markets(markets)
    }

    /// Your fills.
    pub fn fills() -> Self {
        Self::new(Channel::Fill)
    }

    /// Your orders.
    pub fn user_orders() -> Self {
        Self::new(Channel::UserOrders)
    }

    /// Your positions.
    pub fn market_positions() -> Self {
        Self::new(Channel::MarketPositions)
    }

    /// Market and event lifecycle.
    pub fn market_lifecycle() -> Self {
        Self::new(Channel::MarketLifecycle)
    }

    /// Your order groups.
    pub fn order_group_updates() -> Self {
        Self::new(Channel::OrderGroupUpdates)
    }

    /// Corporate actions of margin markets (every market when none).
    pub fn corporate_actions<I: IntoIterator<Item = S>, S: Into<String>>(markets: I) -> Self {
        Self::new(Channel::CorporateActions).markets(markets)
    }

    /// Limits the subscription to these markets.
    pub fn markets<I: IntoIterator<Item = S>, S: Into<String>>(mut self, markets: I) -> Self {
        self.markets = markets.into_iter().map(Into::into).collect();
        self
    }

    /// Whether the order book channel starts with a snapshot (Kalshi's
    /// default: yes). Local books need one: without it they stay stale.
    pub fn initial_snapshot(mut self, send: bool) -> Self {
        self.send_initial_snapshot = Some(send);
        self
    }

    /// Only your own RFQs and quotes (`communications`).
    pub fn only_self(mut self) -> Self {
        self.only_self = true;
        self
    }

    /// CF Benchmarks indices to follow (`cfbenchmarks_value*`).
    pub fn index_ids<I: IntoIterator<Item = S>, S: Into<String>>(mut self, ids: I) -> Self {
        self.index_ids = ids.into_iter().map(Into::into).collect();
        self
    }

    /// Pyth underlyings to follow (`pyth_value`).
    pub fn underlyings<I: IntoIterator<Item = S>, S: Into<String>>(mut self, tickers: I) -> Self {
        self.underlyings = tickers.into_iter().map(Into::into).collect();
        self
    }

    /// The channel.
    pub fn channel(&self) -> Channel {
        self.channel
    }

    /// The markets it is limited to (none: every market).
    pub fn market_tickers(&self) -> &[String] {
        &self.markets
    }

    /// The `params` of the subscribe command.
    pub(crate) fn params(&self) -> serde_json::Value {
        let mut params = serde_json::json!({ "channels": [self.channel.name()] });
        let map = params.as_object_mut().expect("a JSON object");
        if !self.markets.is_empty() {
            map.insert("market_tickers".into(), self.markets.clone().into());
        }
        if let Some(send) = self.send_initial_snapshot {
            map.insert("send_initial_snapshot".into(), send.into());
        }
        if self.only_self {
            map.insert("user_filter".into(), "self".into());
        }
        if !self.index_ids.is_empty() {
            map.insert("index_ids".into(), self.index_ids.clone().into());
        }
        if !self.underlyings.is_empty() {
            map.insert("underlying_tickers".into(), self.underlyings.clone().into());
        }
        params
    }
}

/// A subscription, as this session names it: stable across reconnects and
/// connections (Kalshi's own `sid` changes with each).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SubscriptionId(pub(crate) u64);

impl fmt::Display for SubscriptionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "subscription {}", self.0)
    }
}

/// Something that happened on the stream. `M` is the API's message type:
/// [`ServerMessage`] for event contracts (the default),
/// `kalshi_gen::margin::stream::ServerMessage` for margin ([`MarginEvent`]).
///
/// # Reconciling after a failed recovery
///
/// [`Event::FillRecoveryFailed`], [`Event::OrderRecoveryFailed`] and
/// [`Event::PositionRecoveryFailed`] say what to read over REST. Kalshi's
/// reads trail its writes: read once `client.exchange().user_data_timestamp()`
/// is past the moment you start, as the session's own recoveries do. The
/// stream goes on meanwhile; a message newer than what you read updates it
/// as usual.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Event<M = ServerMessage> {
    /// A message of a subscription (delivered once, whichever connection
    /// brought it first).
    Message {
        /// The subscription it belongs to.
        subscription: SubscriptionId,
        /// The message, typed.
        message: M,
    },
    /// A connection is up (the first time, or after a reconnect).
    Connected {
        /// Which connection (0 up to [`StreamBuilder::connections`]).
        connection: usize,
    },
    /// A connection was lost.
    Disconnected {
        /// Which connection.
        connection: usize,
        /// Why.
        reason: String,
    },
    /// A connection will be dialled again after `delay`.
    Reconnecting {
        /// Which connection.
        connection: usize,
        /// Attempts since it was last up.
        attempt: u32,
        /// The backoff before this attempt.
        delay: Duration,
    },
    /// A subscription was made again after a reconnect.
    Resubscribed {
        /// Which subscription.
        subscription: SubscriptionId,
        /// On which connection.
        connection: usize,
        /// How long the connection was down: messages of this window are
        /// not replayed by Kalshi (books resync by snapshot). When Kalshi
        /// refused the subscription first ([`Event::ServerError`]), the
        /// time until it was accepted is not included (the subscription
        /// was off that connection for that long as well).
        down_for: Duration,
    },
    /// Messages of a subscription were lost on one connection (its `seq`
    /// jumped). Order books resync by snapshot; see [`Event::BookResynced`].
    Gap {
        /// Which subscription.
        subscription: SubscriptionId,
        /// On which connection.
        connection: usize,
        /// The `seq` expected.
        expected: u64,
        /// The `seq` received.
        received: u64,
    },
    /// A market's book (on one connection) is exact again after being stale.
    BookResynced {
        /// The market.
        market: String,
        /// On which connection.
        connection: usize,
        /// The snapshot's exchange clock.
        clock: u64,
    },
    /// Kalshi reported an error not tied to a command of this session (for
    /// example code 10, a channel error ending a subscription), or refused
    /// to make a subscription again after a reconnect (or on a further
    /// connection, after another accepted it). A refusal that may pass
    /// (codes 1, 10, 18, 25 and 27) is followed by another attempt on that
    /// connection after the reconnect backoff (checked every 200 ms),
    /// without limit, until one is accepted (then [`Event::Resubscribed`]
    /// after a reconnect) or the connection drops; after any other code the
    /// subscription stays off that connection (and with recovery on, its
    /// window is reported as not recovered). A subscription whose
    /// [`StreamSession::subscribe`] failed (refused on every connection,
    /// timed out) does not exist and is not made again.
    ServerError {
        /// The subscription it concerns, if any.
        subscription: Option<SubscriptionId>,
        /// Kalshi's error code.
        code: i64,
        /// Kalshi's message.
        message: String,
    },
    /// A frame that could not be decoded (not JSON, or a known type whose
    /// fields do not fit the document). Counted in
    /// [`StreamStats::undecodable`]; a lost order book delta shows as a
    /// gap on the next message and is repaired as one.
    Undecodable {
        /// On which connection.
        connection: usize,
        /// Why it could not be decoded.
        error: String,
    },
    /// A message of a type this SDK does not know, naming no subscription
    /// of this session.
    Unmatched {
        /// On which connection.
        connection: usize,
        /// The message (`ServerMessage::Unknown`).
        message: M,
    },
    /// The consumer fell behind and this many messages of droppable
    /// channels were skipped (see "Buffers" in the module docs).
    Lagged {
        /// How many.
        skipped: u64,
    },
    /// The fills of an outage, read over REST once a lost connection was
    /// back ([`StreamBuilder::recover_fills`]): every fill of the
    /// subscription's markets since that connection last heard anything,
    /// except those already delivered. Empty when nothing was missed; a
    /// stream copy of one of them arriving later is dropped.
    FillsRecovered {
        /// The fill subscription.
        subscription: SubscriptionId,
        /// The start of the outage: when the connection last heard
        /// anything, by this machine's clock.
        since: SystemTime,
        /// The fills, as `GET /portfolio/fills` lists them.
        fills: Vec<kalshi_gen::types::Fill>,
    },
    /// Reading an outage's fills over REST failed; reconcile them from a
    /// little before `since`, as the clocks differ (the session lists from
    /// 2 s before): `client.raw().get_fills().min_ts(..)`, every
    /// subaccount, as the stream carries them
    /// (`client.portfolio().fills()` adds the client's default subaccount).
    /// See [reconciling](Event#reconciling-after-a-failed-recovery).
    FillRecoveryFailed {
        /// The fill subscription.
        subscription: SubscriptionId,
        /// The start of the outage.
        since: SystemTime,
        /// Why.
        error: String,
    },
    /// The orders an outage may have changed, read over REST once a lost
    /// connection was back ([`StreamBuilder::recover_orders`]): of every
    /// resting order, every order created since the connection last heard
    /// anything, and every order the stream last showed resting, those whose
    /// state is news (never delivered, or later than the state last
    /// delivered). Empty when nothing was missed; a stream message with a
    /// state before one delivered here is dropped.
    OrdersRecovered {
        /// The `user_orders` subscription.
        subscription: SubscriptionId,
        /// The start of the outage: when the connection last heard
        /// anything, by this machine's clock.
        since: SystemTime,
        /// The orders, as `GET /portfolio/orders` lists them.
        orders: Vec<kalshi_gen::types::Order>,
        /// Ids of orders last known open that Kalshi answered 404 for
        /// (archived, or gone): their final state is not known here; the
        /// historical orders (`client.historical()`) may have it.
        gone: Vec<String>,
    },
    /// Reading an outage's orders over REST failed, or reading the resting
    /// orders when the subscription was made or markets were added to it
    /// (then `since` is that moment, and until that read succeeds, which
    /// it is tried again for with the reconnect backoff, reported this once,
    /// a recovery may miss the cancel of an order resting then that the
    /// stream never mentioned); reconcile them (`client.raw().get_orders()`
    /// for every subaccount, as the stream carries them).
    /// See [reconciling](Event#reconciling-after-a-failed-recovery).
    OrderRecoveryFailed {
        /// The `user_orders` subscription.
        subscription: SubscriptionId,
        /// The start of the outage.
        since: SystemTime,
        /// Why.
        error: String,
    },
    /// The positions an outage changed, read over REST once a lost
    /// connection was back ([`StreamBuilder::recover_positions`]): of the
    /// unsettled positions of every subaccount, and the settled positions
    /// of markets settled since the outage began (or last known open and
    /// no longer unsettled), those in the
    /// subscription's markets whose size, realized P&L or fees paid differ
    /// from the newest state known (delivered, or read when the
    /// subscription was made) and of which no `market_position` message
    /// arrived since the read started. Empty when nothing was missed; a
    /// stream message received before the read started and handled after
    /// it is dropped (it is older).
    PositionsRecovered {
        /// The `market_positions` subscription.
        subscription: SubscriptionId,
        /// The start of the outage: when the connection last heard
        /// anything, by this machine's clock.
        since: SystemTime,
        /// The positions, in the order read (a market that settled during
        /// the read can come twice: unsettled, then settled).
        positions: Vec<RecoveredPosition>,
    },
    /// Reading an outage's positions over REST failed, or reading the
    /// unsettled positions when the subscription was made (then `since` is
    /// that moment; that read is tried again with the reconnect backoff
    /// until it succeeds, reported this once, and until it has, a recovery
    /// delivers every position it reads that the stream has not delivered
    /// as it is); reconcile them
    /// (`client.raw().get_positions()` with each subaccount of
    /// `client.subaccounts().balances()`).
    /// See [reconciling](Event#reconciling-after-a-failed-recovery).
    PositionRecoveryFailed {
        /// The `market_positions` subscription.
        subscription: SubscriptionId,
        /// The start of the outage.
        since: SystemTime,
        /// Why.
        error: String,
    },
    /// The consumer did not take an account-state message within
    /// [`StreamBuilder::consumer_timeout`]; the stream ends here rather than
    /// lose it silently. Reconcile over REST.
    Overflow,
}

/// A position read over REST by position recovery
/// ([`Event::PositionsRecovered`]).
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct RecoveredPosition {
    /// Its subaccount (0: the primary account), the `subaccount` of the
    /// stream's `market_position` messages; REST's position does not carry
    /// it.
    pub subaccount: u32,
    /// The position, as `GET /portfolio/positions` lists it.
    pub position: kalshi_gen::types::MarketPosition,
}

/// An event of a margin stream.
pub type MarginEvent = Event<kalshi_gen::margin::stream::ServerMessage>;

/// A margin stream session (from `client.margin().stream()`).
pub type MarginStreamSession = StreamSession<Margin>;

/// Counters of what the session handled, and what it holds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct StreamStats {
    /// Frames received, over all connections.
    pub frames: u64,
    /// Messages delivered as [`Event::Message`].
    pub delivered: u64,
    /// Messages dropped because another connection delivered them first
    /// (or, for fills, [`Event::FillsRecovered`] did), and order and
    /// position updates dropped as older than a state already delivered.
    pub deduplicated: u64,
    /// Messages dropped because their `seq` repeated one already seen.
    pub duplicates: u64,
    /// Sequence gaps detected.
    pub gaps: u64,
    /// Snapshots received after a gap or reconnect.
    pub resyncs: u64,
    /// Messages skipped because the consumer fell behind.
    pub lagged: u64,
    /// Frames that could not be decoded.
    pub undecodable: u64,
    /// Reconnects, over all connections.
    pub reconnects: u64,
    /// Fills delivered by [`Event::FillsRecovered`].
    pub fills_recovered: u64,
    /// Order states delivered by [`Event::OrdersRecovered`].
    pub orders_recovered: u64,
    /// Positions delivered by [`Event::PositionsRecovered`].
    pub positions_recovered: u64,
    /// Fills, orders and positions the session holds to deliver each once
    /// across recoveries, as counted at most 200 ms ago: of each kind, up
    /// to [`StreamBuilder::recovery_memory`] delivered fills, finished
    /// orders and flat positions, plus every order and position last known
    /// open.
    /// It grows until the memory is full and then follows the open ones.
    pub remembered: u64,
}

/// Why a stream operation failed.
#[derive(Debug)]
#[non_exhaustive]
pub enum StreamError {
    /// The client has no credentials; Kalshi's WebSocket API needs a signed
    /// connection even for public channels. Nothing was dialled.
    MissingCredentials,
    /// The client's configuration has no WebSocket address or cannot sign.
    Config {
        /// What is wrong.
        message: String,
    },
    /// The connection could not be opened (the first time, in
    /// [`StreamBuilder::connect`]).
    Connect {
        /// What failed, in words.
        message: String,
        /// The HTTP status of a refused upgrade (401: the signature or key
        /// was refused).
        status: Option<u16>,
    },
    /// Kalshi answered a command with an error.
    Command {
        /// Kalshi's error code (see `kalshi_gen::stream::ERROR_CODES`).
        code: i64,
        /// Kalshi's message.
        message: String,
    },
    /// No answer to a command in time.
    Timeout,
    /// The subscription is not (or no longer) part of this session.
    UnknownSubscription(SubscriptionId),
    /// The channel is not part of this session's API (for example
    /// `market_positions` on the margin stream). Nothing was sent.
    UnsupportedChannel {
        /// The channel asked for.
        channel: Channel,
        /// The API: `event-contract` or `margin`.
        api: &'static str,
    },
    /// The session has ended.
    Closed,
}

impl fmt::Display for StreamError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::MissingCredentials => f.write_str(
                "Kalshi's WebSocket API needs a signed connection, even for public channels, \
                 and this client has no API key (set KALSHI_API_KEY_ID and \
                 KALSHI_PRIVATE_KEY_PATH, or pass credentials to the builder); nothing was dialled",
            ),
            Self::Config { message } => write!(f, "invalid stream configuration: {message}"),
            Self::Connect { message, status } => {
                write!(f, "could not open the WebSocket connection: {message}")?;
                if *status == Some(401) {
                    f.write_str(" (Kalshi refused the key or signature)")?;
                }
                Ok(())
            }
            Self::Command { code, message } => {
                write!(f, "Kalshi refused the command: {message} (code {code})")
            }
            Self::Timeout => f.write_str("Kalshi did not answer the command in time"),
            Self::UnknownSubscription(id) => write!(f, "{id} is not part of this session"),
            Self::UnsupportedChannel { channel, api } => {
                write!(
                    f,
                    "the {api} WebSocket API has no `{channel}` channel; nothing was sent"
                )
            }
            Self::Closed => f.write_str("the stream session has ended"),
        }
    }
}

impl std::error::Error for StreamError {}

/// How a session connects and recovers; from [`Client::stream`] (event
/// contracts) or `client.margin().stream()` ([`Margin`]).
#[derive(Debug, Clone)]
#[must_use]
pub struct StreamBuilder<A: Api = EventContracts> {
    client: Client,
    config: Config,
    api: std::marker::PhantomData<A>,
}

/// The settings the session's tasks read.
#[derive(Debug, Clone)]
pub(crate) struct Config {
    pub connections: usize,
    pub heartbeat_timeout: Duration,
    pub backoff_base: Duration,
    pub backoff_max: Duration,
    pub buffer: usize,
    pub consumer_timeout: Duration,
    pub command_timeout: Duration,
    pub connect_timeout: Duration,
    pub recover_fills: bool,
    pub recover_orders: bool,
    pub recover_positions: bool,
    pub recovery_memory: usize,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            connections: 1,
            heartbeat_timeout: Duration::from_secs(30),
            backoff_base: Duration::from_millis(250),
            backoff_max: Duration::from_secs(30),
            buffer: 16_384,
            consumer_timeout: Duration::from_secs(60),
            command_timeout: Duration::from_secs(10),
            connect_timeout: Duration::from_secs(10),
            recover_fills: false,
            recover_orders: false,
            recover_positions: false,
            recovery_memory: recovery::REMEMBERED,
        }
    }
}

impl Client {
    /// The WebSocket streams of this client's environment, signed with its
    /// credentials (see [`crate::stream`]).
    pub fn stream(&self) -> StreamBuilder {
        StreamBuilder::new(self)
    }
}

impl StreamBuilder<EventContracts> {
    /// Opens the connections and returns once the first is up. Without
    /// credentials this fails before dialling.
    pub async fn connect(self) -> Result<StreamSession, StreamError> {
        self.open().await
    }

    /// Recovers the fills of an outage over REST (default off). Kalshi does
    /// not replay what a connection missed, so fills sent while a
    /// connection was down are lost to it. With this on, each time a fill
    /// subscription is made again on a connection that was lost, the
    /// session waits until Kalshi's read side is past the reconnect
    /// (`GET /exchange/user_data_timestamp`), lists the subscription's fills
    /// of every subaccount (the stream carries them all, whatever the
    /// client's default subaccount)
    /// since that connection last heard anything (`GET /portfolio/fills`,
    /// every page), and delivers those no connection had delivered as one
    /// [`Event::FillsRecovered`]; a failure (including a fill subscription
    /// that could not be made again) is [`Event::FillRecoveryFailed`].
    ///
    /// Each fill reaches the consumer once per subscription, from either
    /// source (by trade and order id, over the last 65,536 fills by default:
    /// [`recovery_memory`](Self::recovery_memory)); recovered
    /// fills come after newer fills the new connection may already have
    /// delivered. With redundant connections a recovery usually finds
    /// nothing new, at the cost of one listing per reconnect. Times are this
    /// machine's clock, with a margin of 2 s either way for its difference
    /// from Kalshi's (so a recovery takes at least 2 s); keep it synchronized
    /// (signing needs that too). The REST calls use the client's rate
    /// limits and retries; a read that fails even so (an answer that does
    /// not decode, say) is made again up to four times, after 0.5, 1, 2 and
    /// 4 s (each process waits its own share of that, between half and
    /// all, so processes that failed together do not read again together),
    /// before the failure is reported, as for orders and positions. Every
    /// recovery of the process on one exchange, whatever its session or
    /// client, shares the reads of the read side's freshness (a public
    /// endpoint, the same for every account, metered by address): a few a
    /// reconnect however many sessions reconnect, about one a second while
    /// it lags. What the exchange answered is shared, a refusal too; a
    /// client's own failure (its rate budget, its connection) is not.
    pub fn recover_fills(mut self, on: bool) -> Self {
        self.config.recover_fills = on;
        self
    }

    /// Recovers the order updates of an outage over REST (default off),
    /// the way [`recover_fills`](Self::recover_fills) recovers fills: each
    /// time a `user_orders` subscription is made again on a connection that
    /// was lost, the session waits for Kalshi's read side to pass the
    /// reconnect, then reads every resting order and every order created
    /// since that connection last heard anything (`GET /portfolio/orders`,
    /// every page, every subaccount), and each order last known resting that is in neither
    /// list (`GET /portfolio/orders/{order_id}`: it was canceled or executed
    /// meanwhile). It delivers those whose state is news as one
    /// [`Event::OrdersRecovered`]; a failure is
    /// [`Event::OrderRecoveryFailed`]. "Last known resting" covers the
    /// orders the stream last showed open and those resting when the
    /// subscription was first made, which the session reads then (once,
    /// delivering nothing: your own listing at start-up is the baseline;
    /// a failed read is reported once and made again after a growing
    /// backoff until it succeeds),
    /// and of markets added to it later, read when they are added. An order
    /// Kalshi answers 404 for is forgotten and named in the event's
    /// `gone`.
    ///
    /// An order's state never reaches the consumer after a later state of
    /// the same order, whichever source brought either. How far along an
    /// order is decides first (its filled count only grows; canceled and
    /// executed are final), then its last update time. Two changes that
    /// leave an order as far along (a decrease, an amendment) in one
    /// millisecond, or without times, cannot be told apart; the state
    /// delivered first stands. Otherwise applying every `user_order`
    /// message and every recovered order in the order received leaves each
    /// order as Kalshi has it. The session remembers every open order and
    /// the last 65,536 finished ones, all subscriptions together
    /// ([`recovery_memory`](Self::recovery_memory)). The same clock margin
    /// as for fills applies; the REST calls use the client's rate limits
    /// and retries, and a failed read is made again, as for fills.
    pub fn recover_orders(mut self, on: bool) -> Self {
        self.config.recover_orders = on;
        self
    }

    /// Recovers the positions an outage changed over REST (default off),
    /// the way [`recover_fills`](Self::recover_fills) recovers fills: each
    /// time a `market_positions` subscription is made again on a connection
    /// that was lost, the session waits for Kalshi's read side to pass the
    /// moment it starts reading, then reads, for every subaccount
    /// (`GET /portfolio/subaccounts/balances` names them; a key restricted
    /// to one sees its own), the unsettled positions
    /// (`GET /portfolio/positions`, every page) and the settled positions
    /// of the markets settled since that connection last heard anything
    /// (`GET /portfolio/settlements?min_ts=`) or last known open and no
    /// longer unsettled (`settlement_status=settled&ticker=` for each). It
    /// delivers as one [`Event::PositionsRecovered`] those of the
    /// subscription's markets whose size, realized P&L or fees paid differ
    /// from the newest state known; a failure is
    /// [`Event::PositionRecoveryFailed`]. The states known start from a read
    /// of the unsettled positions the session makes when the subscription
    /// is first made (once, delivering nothing: you are expected to read
    /// your positions at start-up yourself; a failed read is reported once
    /// and made again after a growing backoff until it succeeds). That read
    /// only fills in positions the stream has said nothing of, and it is
    /// set aside when an outage may have overlapped it (when it began, no
    /// connection carried the subscription or an outage's recovery was
    /// under way; a connection was lost while it ran; or one is found later
    /// to have gone silent before it ended): the next recovery then
    /// delivers every position it reads that the stream has not delivered
    /// as it is.
    ///
    /// A position message is a full state with no time of its own, so
    /// states are ordered by when they were received against when a read
    /// started: a message received after a read started is at least as
    /// new as what it read (the stream was live again), and the read's
    /// state of that position is not delivered; a message received before
    /// a read whose state was delivered is older, and is dropped (frames
    /// already received are handled before a read's result). Two reads are
    /// ordered by the position's `last_updated_ts`, then by when they
    /// started. So, provided this machine's clock is within 2 s of Kalshi's
    /// (the margin fills use too), applying every `market_position` message
    /// and every recovered position in the order received leaves each
    /// position as Kalshi has it. One case is left: a message Kalshi sent
    /// before a read's state, reaching this machine after the read started
    /// (delayed over 2 s in transit, or the stream that far behind the read
    /// side), shows its older state after the recovered one; the message of
    /// the change that followed it comes next and ends it. The session
    /// remembers every open position and the last 65,536 flat ones, all
    /// subscriptions together ([`recovery_memory`](Self::recovery_memory);
    /// a forgotten one that a later read finds is delivered again, as it
    /// is). The REST calls use the client's rate limits and retries, and a
    /// failed read is made again, as for fills.
    pub fn recover_positions(mut self, on: bool) -> Self {
        self.config.recover_positions = on;
        self
    }

    /// How many delivered fills, finished orders and flat positions the
    /// session remembers, of each kind, all subscriptions together, to
    /// deliver each once across recoveries (default 65,536; at least 1).
    /// Open orders and open positions are always remembered. The memory
    /// fills up as the session runs and then stays the same: lower this to
    /// hold a long-running session to less. The cost is only where a
    /// recovery's listing reaches back past what is remembered: a fill
    /// older than the last `entries` delivered could be delivered again,
    /// and a forgotten order or position is delivered again as REST lists
    /// it (a full state, true when read). Recoveries list back to the
    /// start of an outage, so keep it above what your account does in an
    /// outage you expect to recover from. (With several
    /// [`connections`](Self::connections) the session also keeps the
    /// fingerprints of the last 65,536 messages, to deliver each once,
    /// whatever this says.)
    pub fn recovery_memory(mut self, entries: usize) -> Self {
        self.config.recovery_memory = entries;
        self
    }
}

impl StreamBuilder<Margin> {
    /// Opens the connections to the margin WebSocket API and returns once
    /// the first is up. Without credentials this fails before dialling.
    pub async fn connect(self) -> Result<StreamSession<Margin>, StreamError> {
        self.open().await
    }
}

impl<A: Api> StreamBuilder<A> {
    pub(crate) fn new(client: &Client) -> Self {
        Self {
            client: client.clone(),
            config: Config::default(),
            api: std::marker::PhantomData,
        }
    }

    /// Keeps `n` connections (1 to 8) with the same subscriptions, merged by
    /// exchange clock: a dropped connection then loses nothing (default 1).
    pub fn connections(mut self, n: usize) -> Self {
        self.config.connections = n.clamp(1, 8);
        self
    }

    /// How long a connection may stay silent (Kalshi pings every 10 s)
    /// before it is declared dead and redialled (default 30 s).
    pub fn heartbeat_timeout(mut self, timeout: Duration) -> Self {
        self.config.heartbeat_timeout = timeout;
        self
    }

    /// The reconnect backoff: full jitter, doubling from `base` up to `max`
    /// (default 250 ms to 30 s).
    pub fn reconnect_backoff(mut self, base: Duration, max: Duration) -> Self {
        self.config.backoff_base = base;
        self.config.backoff_max = max.max(base);
        self
    }

    /// How many events may wait for the consumer (default 16,384).
    pub fn buffer(mut self, events: usize) -> Self {
        self.config.buffer = events.max(1);
        self
    }

    /// How long an account-state message may wait for a full buffer before
    /// the stream ends with [`Event::Overflow`] (default 60 s).
    pub fn consumer_timeout(mut self, timeout: Duration) -> Self {
        self.config.consumer_timeout = timeout;
        self
    }

    /// How long a command may wait for Kalshi's answer (default 10 s).
    pub fn command_timeout(mut self, timeout: Duration) -> Self {
        self.config.command_timeout = timeout;
        self
    }

    async fn open(self) -> Result<StreamSession<A>, StreamError>
    where
        A: api::Wire,
    {
        let credentials = self
            .client
            .credentials()
            .cloned()
            .ok_or(StreamError::MissingCredentials)?;
        let url = A::websocket_url(self.client.environment())?;
        let books = Arc::new(RwLock::new(hub::Books::<A>::default()));
        let stats = Arc::new(RwLock::new(StreamStats::default()));
        let (requests, requests_rx) = mpsc::channel(64);
        let (events_tx, events) = mpsc::channel(self.config.buffer);
        let (first_up_tx, first_up) = oneshot::channel();
        let config = &self.config;
        let recover = (config.recover_fills || config.recover_orders || config.recover_positions)
            .then(|| recovery::through(self.client.clone()));
        let task = tokio::spawn(hub::run::<A>(hub::Setup {
            config: self.config,
            credentials,
            user_agent: self.client.user_agent().clone(),
            url,
            books: Arc::clone(&books),
            stats: Arc::clone(&stats),
            requests: requests_rx,
            events: events_tx,
            first_up: first_up_tx,
            recover,
        }));
        match first_up.await {
            Ok(Ok(())) => Ok(StreamSession {
                requests,
                events,
                books,
                stats,
                task,
            }),
            Ok(Err(error)) => {
                task.abort();
                Err(error)
            }
            Err(_) => Err(StreamError::Closed),
        }
    }
}

/// A live stream: subscriptions, their messages as a [`futures_util::Stream`]
/// of [`Event`]s, and the local order books ([`OrderBook`] for event
/// contracts, [`MarginBook`] for [`Margin`]). Dropping it closes the
/// connections.
pub struct StreamSession<A: Api = EventContracts> {
    requests: mpsc::Sender<hub::Request>,
    events: mpsc::Receiver<Event<A::Message>>,
    books: Arc<RwLock<hub::Books<A>>>,
    stats: Arc<RwLock<StreamStats>>,
    task: tokio::task::JoinHandle<()>,
}

impl<A: Api> fmt::Debug for StreamSession<A> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StreamSession")
            .field("stats", &self.stats())
            .finish_non_exhaustive()
    }
}

impl<A: Api> StreamSession<A> {
    async fn ask<T>(
        &self,
        build: impl FnOnce(oneshot::Sender<Result<T, StreamError>>) -> hub::Request,
    ) -> Result<T, StreamError> {
        let (reply, answer) = oneshot::channel();
        self.requests
            .send(build(reply))
            .await
            .map_err(|_| StreamError::Closed)?;
        answer.await.map_err(|_| StreamError::Closed)?
    }

    /// Subscribes (on every connection) and returns once Kalshi confirms on
    /// one. When one connection accepts and another refuses with an error
    /// that may pass, the refusing one is asked again (see
    /// [`Event::ServerError`]); refused everywhere, it is an error. Any
    /// error means the subscription does not exist: nothing of it is kept
    /// or made again later.
    pub async fn subscribe(
        &self,
        subscription: Subscription,
    ) -> Result<SubscriptionId, StreamError> {
        self.ask(|reply| hub::Request::Subscribe {
            subscription,
            reply,
        })
        .await
    }

    /// Ends a subscription.
    pub async fn unsubscribe(&self, id: SubscriptionId) -> Result<(), StreamError> {
        self.ask(|reply| hub::Request::Unsubscribe { id, reply })
            .await
    }

    /// Adds markets to a subscription (their books start with snapshots).
    pub async fn add_markets<I: IntoIterator<Item = S>, S: Into<String>>(
        &self,
        id: SubscriptionId,
        markets: I,
    ) -> Result<(), StreamError> {
        let markets = markets.into_iter().map(Into::into).collect();
        self.ask(|reply| hub::Request::Markets {
            id,
            markets,
            add: true,
            reply,
        })
        .await
    }

    /// Removes markets from a subscription.
    pub async fn delete_markets<I: IntoIterator<Item = S>, S: Into<String>>(
        &self,
        id: SubscriptionId,
        markets: I,
    ) -> Result<(), StreamError> {
        let markets = markets.into_iter().map(Into::into).collect();
        self.ask(|reply| hub::Request::Markets {
            id,
            markets,
            add: false,
            reply,
        })
        .await
    }

    /// Asks for fresh order book snapshots of a subscription (the stream
    /// does this by itself after a gap).
    pub async fn request_snapshot(&self, id: SubscriptionId) -> Result<(), StreamError> {
        self.ask(|reply| hub::Request::Snapshot { id, reply }).await
    }

    /// The subscriptions Kalshi has for the first live connection:
    /// `(channel, sid)`.
    pub async fn list_subscriptions(&self) -> Result<Vec<(String, u64)>, StreamError> {
        self.ask(|reply| hub::Request::List { reply }).await
    }

    /// The book of `market`: the freshest copy that is not stale, else the
    /// freshest stale one (flagged so). `None` before any message for it.
    pub fn book(&self, market: &str) -> Option<A::Book> {
        self.books
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .best(market)
            .cloned()
    }

    /// The markets with a book.
    pub fn book_markets(&self) -> Vec<String> {
        self.books
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .markets()
    }

    /// What the session has handled so far.
    pub fn stats(&self) -> StreamStats {
        *self.stats.read().unwrap_or_else(|p| p.into_inner())
    }

    /// The next event; `None` once the session has ended.
    pub async fn next_event(&mut self) -> Option<Event<A::Message>> {
        self.events.recv().await
    }

    /// Closes every connection (with a WebSocket close frame) and waits
    /// until they are closed.
    pub async fn close(mut self) {
        let (reply, done) = oneshot::channel();
        if self
            .requests
            .send(hub::Request::Close { reply })
            .await
            .is_ok()
        {
            let _ = done.await;
        }
        let _ = (&mut self.task).await;
    }
}

impl<A: Api> Stream for StreamSession<A> {
    type Item = Event<A::Message>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.events.poll_recv(cx)
    }
}

impl<A: Api> Drop for StreamSession<A> {
    fn drop(&mut self) {
        self.task.abort();
    }
}
