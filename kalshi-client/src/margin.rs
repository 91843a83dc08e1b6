//! Typed margin (perpetual futures) orders, checked before anything is sent.
//!
//! A margin order names its market by ticker or by the exchange's market id
//! ([`MarginMarket`], one or the other, never neither), trades a side of the
//! one book ([`Side::Bid`] buys, [`Side::Ask`] sells), and carries a
//! positive [`MarginPrice`] and [`Quantity`]. Like [`NewOrder`](crate::order::NewOrder),
//! it gets its `client_order_id` when it is made and keeps it across
//! retries. A reduce-only order must be immediate-or-cancel or
//! fill-or-kill, as Kalshi documents; any other is refused before sending.

use std::fmt;
use std::str::FromStr;

use kalshi_gen::Dollars;
use kalshi_gen::margin::types;
use rust_decimal::Decimal;

use crate::Error;
use crate::order::{
    Quantity, Refused, SelfTradePrevention, Side, Subaccount, TimeInForce, finish, refused_bodies,
};

/// A margin limit price in dollars: positive, in Kalshi's fixed-point form
/// (at most 6 decimal places). Unlike an event contract's, it is not
/// bounded by 1: it is the price of the underlying.
///
/// ```
/// use kalshi_client::margin::MarginPrice;
/// let price: MarginPrice = "101250.5".parse()?;
/// assert_eq!(price.to_string(), "101250.5000");
/// assert!("0".parse::<MarginPrice>().is_err());
/// assert!("-3".parse::<MarginPrice>().is_err());
/// # Ok::<(), kalshi_client::Error>(())
/// ```
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct MarginPrice(Dollars);

impl MarginPrice {
    /// Checks `value`: positive, at most 6 decimal places.
    pub fn new(value: Decimal) -> Result<Self, Error> {
        if value <= Decimal::ZERO {
            return Err(Error::invalid(format!(
                "margin price {value} is not positive"
            )));
        }
        Dollars::new(value.normalize())
            .map(Self)
            .map_err(|e| Error::invalid(format!("margin price: {e}")))
    }

    /// The price as a decimal.
    pub fn value(self) -> Decimal {
        self.0.value()
    }
}

impl FromStr for MarginPrice {
    type Err = Error;

    fn from_str(text: &str) -> Result<Self, Error> {
        let value: Dollars = text
            .parse()
            .map_err(|e| Error::invalid(format!("margin price {text:?}: {e}")))?;
        Self::new(value.value())
    }
}

impl fmt::Display for MarginPrice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

impl fmt::Debug for MarginPrice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "MarginPrice({self})")
    }
}

/// Which margin market an order trades: by ticker, or by the exchange's
/// stable market id (a UUID), as `CreateMarginOrder` allows.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum MarginMarket {
    /// By ticker, e.g. `KXBTCPERP`.
    Ticker(String),
    /// By market id, which survives a ticker change.
    Id(uuid::Uuid),
}

impl From<&str> for MarginMarket {
    fn from(ticker: &str) -> Self {
        Self::Ticker(ticker.to_owned())
    }
}

impl From<String> for MarginMarket {
    fn from(ticker: String) -> Self {
        Self::Ticker(ticker)
    }
}

impl From<uuid::Uuid> for MarginMarket {
    fn from(id: uuid::Uuid) -> Self {
        Self::Id(id)
    }
}

// The shared order vocabulary, in the margin document's types (the Trade
// API's conversions sit beside the types in `order`).
impl From<Side> for types::BookSide {
    fn from(side: Side) -> Self {
        match side {
            Side::Bid => Self::Bid,
            Side::Ask => Self::Ask,
        }
    }
}

impl From<TimeInForce> for types::CreateMarginOrderRequestTimeInForce {
    fn from(tif: TimeInForce) -> Self {
        match tif {
            TimeInForce::GoodTillCanceled => Self::GoodTillCanceled,
            TimeInForce::ImmediateOrCancel => Self::ImmediateOrCancel,
            TimeInForce::FillOrKill => Self::FillOrKill,
        }
    }
}

impl From<SelfTradePrevention> for types::SelfTradePreventionType {
    fn from(stp: SelfTradePrevention) -> Self {
        match stp {
            SelfTradePrevention::TakerAtCross => Self::TakerAtCross,
            SelfTradePrevention::Maker => Self::Maker,
        }
    }
}

/// A new margin order.
///
/// ```
/// use kalshi_client::margin::{MarginPrice, NewMarginOrder};
/// use kalshi_client::order::{Quantity, Side, TimeInForce};
/// let order = NewMarginOrder::new("KXBTCPERP", Side::Ask, Quantity::contracts(2)?, "101250".parse()?)
///     .time_in_force(TimeInForce::ImmediateOrCancel)
///     .reduce_only();
/// assert_eq!(order.price().to_string(), "101250.0000");
/// # Ok::<(), kalshi_client::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
#[must_use]
pub struct NewMarginOrder {
    market: MarginMarket,
    side: Side,
    count: Quantity,
    price: MarginPrice,
    client_order_id: String,
    time_in_force: TimeInForce,
    self_trade_prevention: SelfTradePrevention,
    post_only: Option<bool>,
    reduce_only: Option<bool>,
    cancel_order_on_pause: Option<bool>,
    expiration_time: Option<i64>,
    order_group_id: Option<String>,
    subaccount: Option<Subaccount>,
    market_version: Option<i32>,
}

impl NewMarginOrder {
    /// An order on `market` (a ticker, or a market id) at `price`.
    pub fn new(
        market: impl Into<MarginMarket>,
        side: Side,
        count: Quantity,
        price: MarginPrice,
    ) -> Self {
        Self {
            market: market.into(),
            side,
            count,
            price,
            client_order_id: uuid::Uuid::new_v4().to_string(),
            time_in_force: TimeInForce::default(),
            self_trade_prevention: SelfTradePrevention::default(),
            post_only: None,
            reduce_only: None,
            cancel_order_on_pause: None,
            expiration_time: None,
            order_group_id: None,
            subaccount: None,
            market_version: None,
        }
    }

    /// Uses this idempotency key instead of the generated one.
    pub fn client_order_id(mut self, id: impl Into<String>) -> Self {
        self.client_order_id = id.into();
        self
    }

    /// A new order with the same terms and a new idempotency key.
    pub fn with_fresh_id(mut self) -> Self {
        self.client_order_id = uuid::Uuid::new_v4().to_string();
        self
    }

    /// How long it may rest (default: good till canceled).
    pub fn time_in_force(mut self, tif: TimeInForce) -> Self {
        self.time_in_force = tif;
        self
    }

    /// What happens when it would trade with your own order.
    pub fn self_trade_prevention(mut self, stp: SelfTradePrevention) -> Self {
        self.self_trade_prevention = stp;
        self
    }

    /// Only rests; never takes.
    pub fn post_only(mut self) -> Self {
        self.post_only = Some(true);
        self
    }

    /// Capped by the current position: it can only reduce it. Kalshi accepts
    /// this only for immediate-or-cancel and fill-or-kill orders.
    pub fn reduce_only(mut self) -> Self {
        self.reduce_only = Some(true);
        self
    }

    /// Canceled if trading pauses while it rests.
    pub fn cancel_on_pause(mut self) -> Self {
        self.cancel_order_on_pause = Some(true);
        self
    }

    /// Expires at this Unix time (seconds).
    pub fn expires_at(mut self, unix_seconds: i64) -> Self {
        self.expiration_time = Some(unix_seconds);
        self
    }

    /// Part of this order group.
    pub fn order_group(mut self, id: impl Into<String>) -> Self {
        self.order_group_id = Some(id.into());
        self
    }

    /// Trades for this margin subaccount (default: the primary, 0).
    pub fn subaccount(mut self, subaccount: Subaccount) -> Self {
        self.subaccount = Some(subaccount);
        self
    }

    /// Refused (409 `market_version_mismatch`) unless the market is at this
    /// version.
    pub fn expect_market_version(mut self, version: i32) -> Self {
        self.market_version = Some(version);
        self
    }

    /// The market it trades.
    pub fn market(&self) -> &MarginMarket {
        &self.market
    }

    /// Bid or ask.
    pub fn side(&self) -> Side {
        self.side
    }

    /// The limit price.
    pub fn price(&self) -> MarginPrice {
        self.price
    }

    /// The number of contracts.
    pub fn count(&self) -> Quantity {
        self.count
    }

    /// The idempotency key sent with the order.
    pub fn id(&self) -> &str {
        &self.client_order_id
    }

    /// The request body, or why it must not be sent.
    pub(crate) fn to_request(&self) -> Result<types::CreateMarginOrderRequest, Error> {
        let immediate = matches!(
            self.time_in_force,
            TimeInForce::ImmediateOrCancel | TimeInForce::FillOrKill
        );
        if self.reduce_only == Some(true) && !immediate {
            return Err(Error::invalid(
                "a reduce-only margin order must be immediate-or-cancel or fill-or-kill",
            ));
        }
        let (ticker, market_id) = match &self.market {
            MarginMarket::Ticker(ticker) if ticker.trim().is_empty() => {
                return Err(Error::invalid(
                    "a margin order needs a ticker or a market id",
                ));
            }
            MarginMarket::Ticker(ticker) => (Some(ticker.clone()), None),
            MarginMarket::Id(id) => (None, Some(id.to_string())),
        };
        finish(
            types::CreateMarginOrderRequest::builder()
                .ticker(ticker)
                .market_id(market_id)
                .side(types::BookSide::from(self.side))
                .count(self.count.count())
                .price(self.price.0)
                .client_order_id(self.client_order_id.clone())
                .time_in_force(types::CreateMarginOrderRequestTimeInForce::from(
                    self.time_in_force,
                ))
                .self_trade_prevention_type(types::SelfTradePreventionType::from(
                    self.self_trade_prevention,
                ))
                .post_only(self.post_only)
                .reduce_only(self.reduce_only)
                .cancel_order_on_pause(self.cancel_order_on_pause)
                .expiration_time(self.expiration_time)
                .order_group_id(self.order_group_id.clone())
                .subaccount(self.subaccount.map(|s| u64::from(s.number())))
                .market_version(self.market_version.unwrap_or(0)),
        )
    }
}

/// A take-profit or stop-loss pair on a position: at least one leg, each a
/// positive mark price. A leg left out is cleared by the write.
///
/// ```
/// use kalshi_client::margin::Bracket;
/// let bracket = Bracket::stop_loss("95000".parse()?).and_take_profit("110000".parse()?);
/// assert_eq!(bracket.take_profit_price().map(|p| p.to_string()), Some("110000.0000".into()));
/// # Ok::<(), kalshi_client::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[must_use]
pub struct Bracket {
    stop_loss: Option<MarginPrice>,
    take_profit: Option<MarginPrice>,
}

impl Bracket {
    /// A stop-loss leg at this mark price.
    pub fn stop_loss(price: MarginPrice) -> Self {
        Self {
            stop_loss: Some(price),
            take_profit: None,
        }
    }

    /// A take-profit leg at this mark price.
    pub fn take_profit(price: MarginPrice) -> Self {
        Self {
            stop_loss: None,
            take_profit: Some(price),
        }
    }

    /// Adds (or replaces) the take-profit leg.
    pub fn and_take_profit(mut self, price: MarginPrice) -> Self {
        self.take_profit = Some(price);
        self
    }

    /// Adds (or replaces) the stop-loss leg.
    pub fn and_stop_loss(mut self, price: MarginPrice) -> Self {
        self.stop_loss = Some(price);
        self
    }

    /// The stop-loss leg's price.
    pub fn stop_loss_price(&self) -> Option<MarginPrice> {
        self.stop_loss
    }

    /// The take-profit leg's price.
    pub fn take_profit_price(&self) -> Option<MarginPrice> {
        self.take_profit
    }
}

/// How far a trailing stop follows the best mark: in dollars, or in basis
/// points (1 to 9,999) of the tracked watermark.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Trail {
    /// An absolute distance in dollars.
    Amount(MarginPrice),
    /// A distance in basis points; see [`Trail::bps`].
    Bps(u16),
}

impl Trail {
    /// A distance in basis points, checked: 1 to 9,999.
    pub fn bps(bps: u16) -> Result<Self, Error> {
        if (1..=9999).contains(&bps) {
            Ok(Self::Bps(bps))
        } else {
            Err(Error::invalid(format!(
                "trail of {bps} bps is outside 1..=9999"
            )))
        }
    }
}

/// An exit trigger: a bracket or a trailing stop. The two families'
/// fields never mix, which Kalshi would refuse.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExitTrigger {
    /// Stop-loss and/or take-profit.
    Bracket(Bracket),
    /// A trailing stop.
    Trailing(Trail),
}

impl From<Bracket> for ExitTrigger {
    fn from(bracket: Bracket) -> Self {
        Self::Bracket(bracket)
    }
}

impl From<Trail> for ExitTrigger {
    fn from(trail: Trail) -> Self {
        Self::Trailing(trail)
    }
}

/// The legs of a trigger as the generated bodies spell them.
struct Legs {
    kind: types::ExitTriggerKind,
    stop_loss: Option<Dollars>,
    take_profit: Option<Dollars>,
    trail_amount: Option<Dollars>,
    trail_bps: Option<std::num::NonZeroU64>,
}

impl ExitTrigger {
    /// The legs, checked: `Trail::Bps` is a public variant, so its range is
    /// checked here too, not only by [`Trail::bps`].
    fn legs(self) -> Result<Legs, Error> {
        if let Self::Trailing(Trail::Bps(bps)) = self {
            Trail::bps(bps)?;
        }
        Ok(self.unchecked_legs())
    }

    fn unchecked_legs(self) -> Legs {
        let none = Legs {
            kind: types::ExitTriggerKind::Bracket,
            stop_loss: None,
            take_profit: None,
            trail_amount: None,
            trail_bps: None,
        };
        match self {
            Self::Bracket(bracket) => Legs {
                stop_loss: bracket.stop_loss.map(|p| p.0),
                take_profit: bracket.take_profit.map(|p| p.0),
                ..none
            },
            Self::Trailing(Trail::Amount(amount)) => Legs {
                kind: types::ExitTriggerKind::Trailing,
                trail_amount: Some(amount.0),
                ..none
            },
            Self::Trailing(Trail::Bps(bps)) => Legs {
                kind: types::ExitTriggerKind::Trailing,
                trail_bps: std::num::NonZeroU64::new(u64::from(bps)),
                ..none
            },
        }
    }

    /// The isolated-margin body.
    pub(crate) fn to_isolated_request(self) -> Result<types::SetIsolatedExitTriggerRequest, Error> {
        let legs = self.legs()?;
        finish(
            types::SetIsolatedExitTriggerRequest::builder()
                .kind(legs.kind)
                .stop_loss_price(legs.stop_loss)
                .take_profit_price(legs.take_profit)
                .trail_amount(legs.trail_amount)
                .trail_bps(legs.trail_bps),
        )
    }
}

/// How much of a cross-margin position a trigger closes.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Cover {
    Position,
    Count(Quantity),
    Anchored(String),
}

/// An exit trigger on a cross-margin position: on the whole position, on a
/// whole number of contracts, or (brackets only) anchored to an order whose
/// fills it follows. A partial or anchored trigger is appended, not
/// replaced, so it carries an idempotency key (`client_trigger_id`) made
/// with it and kept across retries.
#[derive(Debug, Clone, PartialEq, Eq)]
#[must_use]
pub struct CrossExitTrigger {
    trigger: ExitTrigger,
    cover: Cover,
    client_trigger_id: String,
}

impl CrossExitTrigger {
    /// A trigger covering the whole position.
    pub fn whole_position(trigger: impl Into<ExitTrigger>) -> Self {
        Self {
            trigger: trigger.into(),
            cover: Cover::Position,
            client_trigger_id: uuid::Uuid::new_v4().to_string(),
        }
    }

    /// A trigger closing `count` contracts, a whole number as Kalshi asks.
    pub fn for_count(trigger: impl Into<ExitTrigger>, count: Quantity) -> Result<Self, Error> {
        if !count.value().fract().is_zero() {
            return Err(Error::invalid(format!(
                "an exit trigger closes whole contracts, not {count}"
            )));
        }
        Ok(Self {
            cover: Cover::Count(count),
            ..Self::whole_position(trigger)
        })
    }

    /// A bracket that follows `order_id`'s fills and waits for its first.
    pub fn anchored(bracket: Bracket, order_id: impl Into<String>) -> Self {
        Self {
            cover: Cover::Anchored(order_id.into()),
            ..Self::whole_position(bracket)
        }
    }

    /// Uses this idempotency key (at most 64 characters) instead of the
    /// generated one; it is sent only with a partial or anchored trigger.
    pub fn client_trigger_id(mut self, id: impl Into<String>) -> Self {
        self.client_trigger_id = id.into();
        self
    }

    /// The idempotency key sent with a partial or anchored trigger.
    pub fn id(&self) -> &str {
        &self.client_trigger_id
    }

    /// The cross-margin body.
    pub(crate) fn to_request(&self) -> Result<types::SetCrossExitTriggerRequest, Error> {
        let key = self.client_trigger_id.trim();
        if key.is_empty() || key.chars().count() > 64 {
            return Err(Error::invalid(
                "client_trigger_id must have 1 to 64 characters",
            ));
        }
        if matches!(&self.cover, Cover::Anchored(order) if order.trim().is_empty()) {
            return Err(Error::invalid("an anchored exit trigger needs an order id"));
        }
        let legs = self.trigger.legs()?;
        let (count, anchor, key) = match &self.cover {
            Cover::Position => (None, None, None),
            Cover::Count(count) => (
                Some(count.count()),
                None,
                Some(self.client_trigger_id.clone()),
            ),
            Cover::Anchored(order) => (
                None,
                Some(order.clone()),
                Some(self.client_trigger_id.clone()),
            ),
        };
        finish(
            types::SetCrossExitTriggerRequest::builder()
                .kind(legs.kind)
                .stop_loss_price(legs.stop_loss)
                .take_profit_price(legs.take_profit)
                .trail_amount(legs.trail_amount)
                .trail_bps(legs.trail_bps)
                .count(count)
                .anchor_order_id(anchor)
                .client_trigger_id(key.map(|k| k.try_into()).transpose().map_err(
                    |e: types::error::ConversionError| {
                        Error::invalid(format!("client_trigger_id: {e}"))
                    },
                )?),
        )
    }
}

impl Bracket {
    /// The body of an update of one cross-margin trigger's legs.
    pub(crate) fn to_update_request(self) -> Result<types::UpdateExitTriggerRequest, Error> {
        finish(
            types::UpdateExitTriggerRequest::builder()
                .stop_loss_price(self.stop_loss.map(|p| p.0))
                .take_profit_price(self.take_profit.map(|p| p.0)),
        )
    }
}

// A refused request makes the generated request's `send()` fail with the
// reason, before anything is sent.
refused_bodies!(
    types: CreateMarginOrderRequest,
    SetCrossExitTriggerRequest,
    SetIsolatedExitTriggerRequest,
    UpdateExitTriggerRequest
);
