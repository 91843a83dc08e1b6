//! Order requests that cannot be built wrong.
//!
//! A [`Price`] is strictly between 0 and 1 with at most 4 decimal places; a
//! [`Quantity`] is positive with at most 2; a [`Subaccount`] is 0–63; routing
//! by ticker ([`ExchangeRoute::ByTicker`]) carries the ticker it needs;
//! [`Decrease`] is either "by" or "to", never both or neither. Each check
//! happens when the value is made, so a request that reaches the wire has
//! already passed them, and the error says which value was wrong.
//!
//! Kalshi's V2 orders use one book, the YES book: a bid buys YES, an ask
//! sells YES. Buying NO at `p` is an ask at `1 - p`; selling NO at `p` is a
//! bid at `1 - p`. [`NewOrder::buy_no`] and [`NewOrder::sell_no`] do that
//! mapping exactly, in decimal.

use std::fmt;
use std::str::FromStr;

use kalshi_gen::types;
use kalshi_gen::{Count, Dollars};
use rust_decimal::Decimal;

use crate::Error;

/// A limit price in dollars: strictly between 0 and 1, at most 4 decimal places.
///
/// ```
/// use kalshi_client::order::Price;
/// let price: Price = "0.56".parse()?;
/// assert_eq!(price.complement().to_string(), "0.4400");
/// assert!("1.00".parse::<Price>().is_err());
/// assert!("0.12345".parse::<Price>().is_err());
/// # Ok::<(), kalshi_client::Error>(())
/// ```
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Price(Dollars);

impl Price {
    /// Checks `value`: `0 < value < 1`, at most 4 decimal places.
    pub fn new(value: Decimal) -> Result<Self, Error> {
        if value <= Decimal::ZERO || value >= Decimal::ONE {
            return Err(Error::invalid(format!(
                "price {value} is outside (0, 1): Kalshi prices are dollars per contract, e.g. 0.56"
            )));
        }
        let value = value.normalize();
        if value.scale() > 4 {
            return Err(Error::invalid(format!(
                "price {value} has more than 4 decimal places"
            )));
        }
        Dollars::new(value)
            .map(Self)
            .map_err(|e| Error::invalid(format!("price: {e}")))
    }

    /// The price of the other side: `1 - self`, exactly.
    pub fn complement(self) -> Self {
        // (0, 1) with at most 4 places maps onto itself.
        Self::new(Decimal::ONE - self.value()).unwrap_or(self)
    }

    /// The price as a decimal.
    pub fn value(self) -> Decimal {
        self.0.value()
    }
}

/// A number of contracts: positive, at most 2 decimal places.
///
/// ```
/// use kalshi_client::order::Quantity;
/// assert_eq!(Quantity::contracts(10)?.to_string(), "10.00");
/// assert!("0".parse::<Quantity>().is_err());
/// assert!("1.005".parse::<Quantity>().is_err());
/// # Ok::<(), kalshi_client::Error>(())
/// ```
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Quantity(Count);

impl Quantity {
    /// Checks `value`: positive, at most 2 decimal places.
    pub fn new(value: Decimal) -> Result<Self, Error> {
        if value <= Decimal::ZERO {
            return Err(Error::invalid(format!("count {value} must be positive")));
        }
        let value = value.normalize();
        if value.scale() > 2 {
            return Err(Error::invalid(format!(
                "count {value} has more than 2 decimal places (the smallest fraction is 0.01)"
            )));
        }
        Count::new(value)
            .map(Self)
            .map_err(|e| Error::invalid(format!("count: {e}")))
    }

    /// A whole number of contracts.
    pub fn contracts(count: u32) -> Result<Self, Error> {
        Self::new(Decimal::from(count))
    }

    /// The count as a decimal.
    pub fn value(self) -> Decimal {
        self.0.value()
    }

    /// The count in its wire type.
    pub(crate) fn count(self) -> Count {
        self.0
    }
}

/// Parsing through the wire type (so the message names exponents, excess
/// places and the like), then the order-specific bounds; printing and
/// `Debug` in the wire form.
macro_rules! wire_decimal_impls {
    ($name:ident, $wire:ty, $what:literal) => {
        impl FromStr for $name {
            type Err = Error;

            fn from_str(text: &str) -> Result<Self, Error> {
                let wire: $wire = text
                    .parse()
                    .map_err(|e| Error::invalid(format!(concat!($what, ": {}"), e)))?;
                Self::new(wire.value())
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Display::fmt(&self.0, f)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, concat!(stringify!($name), "({})"), self)
            }
        }
    };
}

wire_decimal_impls!(Price, Dollars, "price");
wire_decimal_impls!(Quantity, Count, "count");

/// The highest subaccount number Kalshi assigns (0 is the primary account).
pub const MAX_SUBACCOUNT: u32 = 63;

/// A subaccount: 0 is the primary account, 1–63 are subaccounts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Subaccount(u8);

impl Subaccount {
    /// The primary account.
    pub const PRIMARY: Self = Self(0);

    /// Checks `number` is 0–63.
    pub fn new(number: u32) -> Result<Self, Error> {
        u8::try_from(number)
            .ok()
            .filter(|n| u32::from(*n) <= MAX_SUBACCOUNT)
            .map(Self)
            .ok_or_else(|| {
                Error::invalid(format!(
                    "subaccount {number} is out of range (0 is the primary account, 1–{MAX_SUBACCOUNT} subaccounts)"
                ))
            })
    }

    /// The number.
    pub fn number(self) -> u32 {
        u32::from(self.0)
    }
}

/// Which exchange shard handles an order.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ExchangeRoute {
    /// A specific shard (the exchange uses 0 when none is given).
    Index(u32),
    /// `exchange_index = -1`: Kalshi routes by market ticker, which this
    /// variant therefore carries.
    ByTicker(String),
}

impl ExchangeRoute {
    fn index(&self) -> types::ExchangeIndex {
        match self {
            Self::Index(index) => types::ExchangeIndex(i64::from(*index)),
            Self::ByTicker(_) => types::ExchangeIndex(-1),
        }
    }

    fn ticker(&self) -> Option<&str> {
        match self {
            Self::Index(_) => None,
            Self::ByTicker(ticker) => Some(ticker),
        }
    }
}

/// The side of the YES book.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Side {
    /// Buy YES.
    Bid,
    /// Sell YES.
    Ask,
}

impl From<Side> for types::BookSide {
    fn from(side: Side) -> Self {
        match side {
            Side::Bid => Self::Bid,
            Side::Ask => Self::Ask,
        }
    }
}

/// How long an order may rest.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum TimeInForce {
    /// Rest until canceled or filled (Kalshi's default).
    #[default]
    GoodTillCanceled,
    /// Fill what crosses now, cancel the rest.
    ImmediateOrCancel,
    /// Fill completely now or not at all.
    FillOrKill,
}

impl From<TimeInForce> for types::CreateOrderV2RequestTimeInForce {
    fn from(tif: TimeInForce) -> Self {
        match tif {
            TimeInForce::GoodTillCanceled => Self::GoodTillCanceled,
            TimeInForce::ImmediateOrCancel => Self::ImmediateOrCancel,
            TimeInForce::FillOrKill => Self::FillOrKill,
        }
    }
}

/// What happens when an order would trade with your own resting order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum SelfTradePrevention {
    /// Cancel the incoming (taker) order.
    #[default]
    TakerAtCross,
    /// Cancel the resting (maker) order and keep matching.
    Maker,
}

impl From<SelfTradePrevention> for types::SelfTradePreventionType {
    fn from(stp: SelfTradePrevention) -> Self {
        match stp {
            SelfTradePrevention::TakerAtCross => Self::TakerAtCross,
            SelfTradePrevention::Maker => Self::Maker,
        }
    }
}

/// A new order on the YES book.
///
/// Each order gets its idempotency key (`client_order_id`, a UUID v4) when it
/// is made, unless one is given: retries of the same order send the same key.
/// A `clone()` keeps the key, so sending a clone is sending the same order
/// again (Kalshi answers 409); [`NewOrder::with_fresh_id`] makes a new order.
///
/// ```
/// use kalshi_client::order::{NewOrder, Price, Quantity, TimeInForce};
/// // Buy 10 NO at 0.44: an ask on the YES book at 0.56.
/// let order = NewOrder::buy_no("KXBTC-26DEC31-T100000", Quantity::contracts(10)?, "0.44".parse()?)
///     .time_in_force(TimeInForce::ImmediateOrCancel);
/// assert_eq!(order.price().to_string(), "0.5600");
/// # Ok::<(), kalshi_client::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
#[must_use]
pub struct NewOrder {
    ticker: String,
    side: Side,
    count: Quantity,
    price: Price,
    client_order_id: String,
    time_in_force: TimeInForce,
    self_trade_prevention: SelfTradePrevention,
    post_only: Option<bool>,
    reduce_only: Option<bool>,
    cancel_order_on_pause: Option<bool>,
    expiration_time: Option<i64>,
    order_group_id: Option<String>,
    subaccount: Option<Subaccount>,
    route: Option<ExchangeRoute>,
}

impl NewOrder {
    /// An order on the YES book at `price`.
    pub fn new(ticker: impl Into<String>, side: Side, count: Quantity, price: Price) -> Self {
        Self {
            ticker: ticker.into(),
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
            route: None,
        }
    }

    /// Buy YES at `price`: a bid.
    pub fn buy_yes(ticker: impl Into<String>, count: Quantity, price: Price) -> Self {
        Self::new(ticker, Side::Bid, count, price)
    }

    /// Sell YES at `price`: an ask.
    pub fn sell_yes(ticker: impl Into<String>, count: Quantity, price: Price) -> Self {
        Self::new(ticker, Side::Ask, count, price)
    }

    /// Buy NO at `no_price`: an ask on the YES book at `1 - no_price`.
    pub fn buy_no(ticker: impl Into<String>, count: Quantity, no_price: Price) -> Self {
        Self::new(ticker, Side::Ask, count, no_price.complement())
    }

    /// Sell NO at `no_price`: a bid on the YES book at `1 - no_price`.
    pub fn sell_no(ticker: impl Into<String>, count: Quantity, no_price: Price) -> Self {
        Self::new(ticker, Side::Bid, count, no_price.complement())
    }

    /// Use this idempotency key instead of a fresh UUID (e.g. one your
    /// system stored before sending).
    pub fn client_order_id(mut self, id: impl Into<String>) -> Self {
        self.client_order_id = id.into();
        self
    }

    /// The same order under a new idempotency key, to place it once more on purpose.
    pub fn with_fresh_id(mut self) -> Self {
        self.client_order_id = uuid::Uuid::new_v4().to_string();
        self
    }

    /// Time in force (default good-till-canceled).
    pub fn time_in_force(mut self, tif: TimeInForce) -> Self {
        self.time_in_force = tif;
        self
    }

    /// Self-trade prevention (default: cancel the taker).
    pub fn self_trade_prevention(mut self, stp: SelfTradePrevention) -> Self {
        self.self_trade_prevention = stp;
        self
    }

    /// Reject the order instead of letting it take liquidity.
    pub fn post_only(mut self) -> Self {
        self.post_only = Some(true);
        self
    }

    /// Only reduce an existing position.
    pub fn reduce_only(mut self) -> Self {
        self.reduce_only = Some(true);
        self
    }

    /// Cancel the order if trading pauses.
    pub fn cancel_on_pause(mut self) -> Self {
        self.cancel_order_on_pause = Some(true);
        self
    }

    /// Expire at this Unix time (seconds).
    pub fn expires_at(mut self, unix_seconds: i64) -> Self {
        self.expiration_time = Some(unix_seconds);
        self
    }

    /// Place the order in an order group.
    pub fn order_group(mut self, id: impl Into<String>) -> Self {
        self.order_group_id = Some(id.into());
        self
    }

    /// Trade for this subaccount (default: the client's default subaccount, else none sent).
    pub fn subaccount(mut self, subaccount: Subaccount) -> Self {
        self.subaccount = Some(subaccount);
        self
    }

    /// The exchange shard that handles the order, or routing by ticker
    /// (`ExchangeRoute::ByTicker` must name this order's own ticker; another
    /// one is refused before sending).
    pub fn route(mut self, route: ExchangeRoute) -> Self {
        self.route = Some(route);
        self
    }

    /// The market ticker.
    pub fn ticker(&self) -> &str {
        &self.ticker
    }

    /// The YES-book side.
    pub fn side(&self) -> Side {
        self.side
    }

    /// The YES-book price.
    pub fn price(&self) -> Price {
        self.price
    }

    /// The count.
    pub fn count(&self) -> Quantity {
        self.count
    }

    /// The idempotency key sent with the order.
    pub fn id(&self) -> &str {
        &self.client_order_id
    }

    /// The subaccount this order trades for: its own, else the client's default.
    pub(crate) fn subaccount_number(&self, default_subaccount: Option<u32>) -> Option<u64> {
        subaccount_number(self.subaccount, default_subaccount)
    }

    /// The request body, with the client's default subaccount where the
    /// order names none.
    pub(crate) fn to_request(
        &self,
        default_subaccount: Option<u32>,
    ) -> Result<types::CreateOrderV2Request, Error> {
        let exchange = own_route(self.route.as_ref(), &self.ticker)?;
        finish(
            types::CreateOrderV2Request::builder()
                .ticker(self.ticker.clone())
                .side(types::BookSide::from(self.side))
                .count(self.count.0)
                .price(self.price.0)
                .client_order_id(Some(self.client_order_id.clone()))
                .time_in_force(types::CreateOrderV2RequestTimeInForce::from(
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
                .subaccount(self.subaccount_number(default_subaccount))
                .exchange_index(exchange),
        )
    }
}

/// Finishes a generated body builder. Every required field is set by the
/// typed request that calls this, so an error means a bug, reported as a
/// request that was not sent rather than a panic.
pub(crate) fn finish<B, T>(builder: B) -> Result<T, Error>
where
    B: TryInto<T>,
    B::Error: fmt::Display,
{
    builder
        .try_into()
        .map_err(|e| Error::invalid(format!("request body incomplete: {e}")))
}

/// The `exchange_index` of an order request that carries its own ticker:
/// routing by ticker must name that ticker.
fn own_route(
    route: Option<&ExchangeRoute>,
    ticker: &str,
) -> Result<Option<types::ExchangeIndex>, Error> {
    match route {
        Some(ExchangeRoute::ByTicker(named)) if named != ticker => Err(Error::invalid(format!(
            "the order is routed by ticker {named:?} but trades {ticker:?}"
        ))),
        route => Ok(route.map(ExchangeRoute::index)),
    }
}

/// A body refused before sending. Handed to a generated builder's
/// `.body()`, it makes `send()` fail with [`Error::InvalidRequest`] and the
/// reason, as any incomplete builder does, so the typed order methods can
/// return the request itself rather than a `Result` of it.
pub(crate) struct Refused(pub(crate) Error);

/// Lets the generated bodies of module `$types` take a [`Refused`] (the
/// margin module uses it for its own bodies).
macro_rules! refused_bodies {
    ($types:ident: $($body:ident),*) => {$(
        impl TryFrom<Refused> for $types::$body {
            type Error = String;
            fn try_from(refused: Refused) -> Result<Self, String> {
                Err(match refused.0 {
                    Error::InvalidRequest { message } => message,
                    other => other.to_string(),
                })
            }
        }
    )*};
}

pub(crate) use refused_bodies;

refused_bodies!(
    types: CreateOrderV2Request,
    AmendOrderV2Request,
    DecreaseOrderV2Request
);

/// The subaccount to send: the caller's, else the client default, else none.
fn subaccount_number(chosen: Option<Subaccount>, default: Option<u32>) -> Option<u64> {
    chosen.map(Subaccount::number).or(default).map(u64::from)
}

/// Which order to cancel, and where it lives.
#[derive(Debug, Clone, PartialEq, Eq)]
#[must_use]
pub struct CancelOrder {
    order_id: String,
    subaccount: Option<Subaccount>,
    route: Option<ExchangeRoute>,
}

impl CancelOrder {
    /// Cancel `order_id`.
    pub fn new(order_id: impl Into<String>) -> Self {
        Self {
            order_id: order_id.into(),
            subaccount: None,
            route: None,
        }
    }

    /// The order's subaccount.
    pub fn subaccount(mut self, subaccount: Subaccount) -> Self {
        self.subaccount = Some(subaccount);
        self
    }

    /// The order's exchange shard, or routing by its market ticker.
    pub fn route(mut self, route: ExchangeRoute) -> Self {
        self.route = Some(route);
        self
    }

    /// The order id.
    pub fn order_id(&self) -> &str {
        &self.order_id
    }

    pub(crate) fn parts(&self, default_subaccount: Option<u32>) -> CancelParts<'_> {
        CancelParts {
            order_id: &self.order_id,
            subaccount: subaccount_number(self.subaccount, default_subaccount),
            exchange_index: self.route.as_ref().map(ExchangeRoute::index),
            market_ticker: self.route.as_ref().and_then(ExchangeRoute::ticker),
        }
    }
}

impl From<&str> for CancelOrder {
    fn from(order_id: &str) -> Self {
        Self::new(order_id)
    }
}

impl From<String> for CancelOrder {
    fn from(order_id: String) -> Self {
        Self::new(order_id)
    }
}

/// A cancel's routing values, ready for query or body.
pub(crate) struct CancelParts<'a> {
    pub order_id: &'a str,
    pub subaccount: Option<u64>,
    pub exchange_index: Option<types::ExchangeIndex>,
    pub market_ticker: Option<&'a str>,
}

impl CancelParts<'_> {
    pub(crate) fn batch_item(&self) -> Result<types::BatchCancelOrdersV2RequestOrdersItem, Error> {
        finish(
            types::BatchCancelOrdersV2RequestOrdersItem::builder()
                .order_id(self.order_id.to_owned())
                .subaccount(self.subaccount)
                .exchange_index(self.exchange_index.clone())
                .market_ticker(self.market_ticker.map(str::to_owned)),
        )
    }
}

/// A change to a resting order. `count` is the new total, including what
/// has already filled (Kalshi's amend semantics).
#[derive(Debug, Clone, PartialEq)]
#[must_use]
pub struct Amendment {
    ticker: String,
    side: Side,
    price: Price,
    count: Quantity,
    updated_client_order_id: Option<String>,
    expiration_time: Option<i64>,
    subaccount: Option<Subaccount>,
    exchange: Option<ExchangeRoute>,
}

impl Amendment {
    /// Sets the order to a total of `count` contracts at `price` (the same
    /// argument order as [`NewOrder::new`]).
    pub fn new(ticker: impl Into<String>, side: Side, count: Quantity, price: Price) -> Self {
        Self {
            ticker: ticker.into(),
            side,
            price,
            count,
            updated_client_order_id: None,
            expiration_time: None,
            subaccount: None,
            exchange: None,
        }
    }

    /// Give the amended order a new idempotency key.
    pub fn new_client_order_id(mut self, id: impl Into<String>) -> Self {
        self.updated_client_order_id = Some(id.into());
        self
    }

    /// Change the expiration (Unix seconds).
    pub fn expires_at(mut self, unix_seconds: i64) -> Self {
        self.expiration_time = Some(unix_seconds);
        self
    }

    /// The order's subaccount (sent in the query).
    pub fn subaccount(mut self, subaccount: Subaccount) -> Self {
        self.subaccount = Some(subaccount);
        self
    }

    /// The order's exchange shard, or routing by ticker (sent in the body;
    /// `ExchangeRoute::ByTicker` must name the amendment's ticker).
    pub fn route(mut self, route: ExchangeRoute) -> Self {
        self.exchange = Some(route);
        self
    }

    pub(crate) fn subaccount_number(&self, default: Option<u32>) -> Option<u64> {
        subaccount_number(self.subaccount, default)
    }

    pub(crate) fn to_request(&self) -> Result<types::AmendOrderV2Request, Error> {
        let exchange_index = own_route(self.exchange.as_ref(), &self.ticker)?;
        finish(
            types::AmendOrderV2Request::builder()
                .ticker(self.ticker.clone())
                .side(types::BookSide::from(self.side))
                .price(self.price.0)
                .count(self.count.0)
                .updated_client_order_id(self.updated_client_order_id.clone())
                .expiration_time(self.expiration_time)
                .exchange_index(exchange_index),
        )
    }
}

/// How much to take off a resting order: exactly one of "by" or "to".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decrease {
    /// Reduce the remaining count by this many contracts.
    By(Quantity),
    /// Reduce the remaining count to this many contracts.
    To(Quantity),
}

/// A decrease of a resting order and where the order lives.
#[derive(Debug, Clone, PartialEq, Eq)]
#[must_use]
pub struct DecreaseOrder {
    decrease: Decrease,
    subaccount: Option<Subaccount>,
    route: Option<ExchangeRoute>,
}

impl DecreaseOrder {
    /// Decrease as `decrease` says.
    pub fn new(decrease: Decrease) -> Self {
        Self {
            decrease,
            subaccount: None,
            route: None,
        }
    }

    /// The order's subaccount (sent in the query).
    pub fn subaccount(mut self, subaccount: Subaccount) -> Self {
        self.subaccount = Some(subaccount);
        self
    }

    /// The order's exchange shard, or routing by market ticker (sent in the body).
    pub fn route(mut self, route: ExchangeRoute) -> Self {
        self.route = Some(route);
        self
    }

    pub(crate) fn subaccount_number(&self, default: Option<u32>) -> Option<u64> {
        subaccount_number(self.subaccount, default)
    }

    pub(crate) fn to_request(&self) -> Result<types::DecreaseOrderV2Request, Error> {
        let (reduce_by, reduce_to) = match self.decrease {
            Decrease::By(count) => (Some(count.0), None),
            Decrease::To(count) => (None, Some(count.0)),
        };
        finish(
            types::DecreaseOrderV2Request::builder()
                .reduce_by(reduce_by)
                .reduce_to(reduce_to)
                .exchange_index(self.route.as_ref().map(ExchangeRoute::index))
                .market_ticker(
                    self.route
                        .as_ref()
                        .and_then(ExchangeRoute::ticker)
                        .map(str::to_owned),
                ),
        )
    }
}

impl From<Decrease> for DecreaseOrder {
    fn from(decrease: Decrease) -> Self {
        Self::new(decrease)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dec(text: &str) -> Decimal {
        text.parse().unwrap()
    }

    #[test]
    fn prices_are_strictly_between_zero_and_one_with_four_places() {
        for ok in ["0.0001", "0.01", "0.5", "0.5600", "0.9999"] {
            assert!(ok.parse::<Price>().is_ok(), "{ok}");
        }
        for bad in [
            "0", "0.0000", "1", "1.0000", "-0.5", "1.5", "0.00001", "0.12345",
        ] {
            let error = bad.parse::<Price>().unwrap_err();
            assert!(
                matches!(error, Error::InvalidRequest { .. }),
                "{bad}: {error:?}"
            );
        }
        assert!(
            Price::new(dec("0.56000")).is_ok(),
            "trailing zeros are not precision"
        );
    }

    #[test]
    fn no_prices_map_exactly_to_the_yes_book() {
        let count = Quantity::contracts(1).unwrap();
        let buy_no = NewOrder::buy_no("T", count, "0.4401".parse().unwrap());
        assert_eq!(
            (buy_no.side(), buy_no.price().value()),
            (Side::Ask, dec("0.5599"))
        );
        let sell_no = NewOrder::sell_no("T", count, "0.01".parse().unwrap());
        assert_eq!(
            (sell_no.side(), sell_no.price().value()),
            (Side::Bid, dec("0.99"))
        );
        assert_eq!(
            sell_no.to_request(None).unwrap().price.to_string(),
            "0.9900"
        );
    }

    #[test]
    fn counts_are_positive_with_two_places() {
        assert_eq!("2.5".parse::<Quantity>().unwrap().to_string(), "2.50");
        for bad in ["0", "-1", "0.001", "1e2", "ten"] {
            assert!(bad.parse::<Quantity>().is_err(), "{bad}");
        }
    }

    #[test]
    fn clones_keep_the_key_and_fresh_ids_do_not() {
        let order = NewOrder::buy_yes("T", Quantity::contracts(1).unwrap(), "0.5".parse().unwrap());
        assert_eq!(order.clone().id(), order.id());
        assert_ne!(order.clone().with_fresh_id().id(), order.id());
    }

    #[test]
    fn equal_values_at_any_scale_are_accepted() {
        assert_eq!(
            Quantity::new(Decimal::new(10_000_000, 7))
                .unwrap()
                .to_string(),
            "1.00"
        );
        assert_eq!(
            Price::new(Decimal::new(5_600_000, 7)).unwrap().to_string(),
            "0.5600"
        );
    }

    #[test]
    fn subaccounts_are_0_to_63() {
        assert_eq!(Subaccount::new(63).unwrap().number(), 63);
        assert!(Subaccount::new(64).is_err());
        assert_eq!(Subaccount::PRIMARY.number(), 0);
    }

    #[test]
    fn each_order_gets_its_own_idempotency_key_once() {
        let count = Quantity::contracts(1).unwrap();
        let a = NewOrder::buy_yes("T", count, "0.5".parse().unwrap());
        let b = NewOrder::buy_yes("T", count, "0.5".parse().unwrap());
        assert_ne!(a.id(), b.id());
        assert_eq!(uuid::Uuid::parse_str(a.id()).unwrap().get_version_num(), 4);
        assert_eq!(
            a.to_request(None).unwrap().client_order_id,
            a.to_request(None).unwrap().client_order_id
        );
    }

    #[test]
    fn a_subaccount_nobody_chose_is_not_sent() {
        let order = NewOrder::buy_yes("T", Quantity::contracts(1).unwrap(), "0.5".parse().unwrap());
        assert_eq!(order.to_request(None).unwrap().subaccount, None);
        assert_eq!(order.to_request(Some(2)).unwrap().subaccount, Some(2));
        let chosen = order.subaccount(Subaccount::new(5).unwrap());
        assert_eq!(chosen.to_request(Some(2)).unwrap().subaccount, Some(5));
        let json = serde_json::to_value(
            NewOrder::buy_yes("T", Quantity::contracts(1).unwrap(), "0.5".parse().unwrap())
                .to_request(None)
                .unwrap(),
        )
        .unwrap();
        assert!(json.get("subaccount").is_none(), "{json}");
    }

    #[test]
    fn routing_by_ticker_carries_the_ticker() {
        let cancel = CancelOrder::new("o").route(ExchangeRoute::ByTicker("KX-1".into()));
        let parts = cancel.parts(None);
        assert_eq!(
            (parts.exchange_index.map(|i| i.0), parts.market_ticker),
            (Some(-1), Some("KX-1"))
        );
        let decrease = DecreaseOrder::new(Decrease::By(Quantity::contracts(2).unwrap()))
            .route(ExchangeRoute::ByTicker("KX-1".into()));
        let body = decrease.to_request().unwrap();
        assert_eq!(
            (
                body.exchange_index.map(|i| i.0),
                body.market_ticker.as_deref()
            ),
            (Some(-1), Some("KX-1"))
        );
        assert_eq!(
            (body.reduce_by.map(|c| c.to_string()), body.reduce_to),
            (Some("2.00".into()), None)
        );
    }
}
