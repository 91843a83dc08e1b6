//! Orders: the V2 writes with their routing quirks, and the reads.
//!
//! Where `subaccount`, `exchange_index` and `market_ticker` go differs per
//! endpoint (query for cancel; query `subaccount` with body `exchange_index`
//! for amend and decrease; body for create and batches). Callers set them the
//! same way on every typed order value (`.subaccount(Subaccount)` and
//! `.route(ExchangeRoute)` on [`NewOrder`], [`CancelOrder`], [`Amendment`]
//! and [`DecreaseOrder`]) and each method puts them where the spec says,
//! through the generated builder for that endpoint. A subaccount nobody
//! chose is never sent; the client's default subaccount applies where the
//! call names none.
//!
//! Like every group, each method returns the request; nothing is sent until
//! `.send().await`.
//!
//! [`Amendment`]: crate::order::Amendment

use std::collections::HashMap;

use futures_util::{StreamExt, TryStreamExt};
use kalshi_gen::ClientOrdersExt as _;
use kalshi_gen::builder as ops;
use kalshi_gen::types;

use crate::order::{Amendment, CancelOrder, DecreaseOrder, NewOrder, Refused, finish};
use crate::pagination::Paginate;
use crate::resources::Route;
use crate::retry::RetryPolicy;
use crate::{Client, Error, Execute};

/// Placing, changing, canceling and reading orders.
///
/// ```no_run
/// # async fn demo(client: kalshi_client::Client) -> Result<(), kalshi_client::Error> {
/// use kalshi_client::prelude::*;
/// let order = NewOrder::buy_yes("KXBTC-26DEC31-T100000", Quantity::contracts(10)?, "0.56".parse()?);
/// let placed = client.orders().create(&order).send().await?;
/// client.orders().decrease(&placed.order_id, &DecreaseOrder::new(Decrease::By(Quantity::contracts(4)?))).send().await?;
/// client.orders().cancel(placed.order_id.as_str()).send().await?;
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, Copy)]
pub struct Orders<'a> {
    client: &'a Client,
}

/// What happened to one entry of a batch.
pub type BatchOutcome<T> = Result<T, BatchError>;

/// Why the exchange refused one entry of a batch (the batch itself succeeded).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct BatchError {
    /// Kalshi's error code.
    pub code: Option<String>,
    /// Kalshi's message.
    pub message: Option<String>,
    /// Additional details.
    pub details: Option<String>,
}

impl From<types::ErrorResponse> for BatchError {
    fn from(error: types::ErrorResponse) -> Self {
        Self {
            code: error.code,
            message: error.message,
            details: error.details,
        }
    }
}

impl std::fmt::Display for BatchError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let code = self.code.as_deref().unwrap_or("error");
        write!(
            f,
            "{code}: {}",
            self.message.as_deref().unwrap_or("no message")
        )
    }
}

impl std::error::Error for BatchError {}

/// Which queue positions to read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum QueueScope {
    /// Resting orders in these markets.
    Markets(Vec<String>),
    /// Resting orders in this event's markets.
    Event(String),
}

const fn route<B: kalshi_gen::Request>(method: &'static str) -> Route {
    Route {
        group: "orders",
        method,
        operation: B::OPERATION,
    }
}

impl<'a> Orders<'a> {
    pub(crate) fn new(client: &'a Client) -> Self {
        Self { client }
    }

    /// The methods of this group and the operations they reach.
    pub const ROUTES: &'static [Route] = &[
        route::<ops::CreateOrderV2<'static>>("create"),
        route::<ops::BatchCreateOrdersV2<'static>>("batch_create"),
        route::<ops::CancelOrderV2<'static>>("cancel"),
        route::<ops::BatchCancelOrdersV2<'static>>("batch_cancel"),
        route::<ops::CancelAllOrders<'static>>("cancel_all"),
        route::<ops::AmendOrderV2<'static>>("amend"),
        route::<ops::DecreaseOrderV2<'static>>("decrease"),
        route::<ops::GetOrder<'static>>("get"),
        route::<ops::GetOrders<'static>>("list"),
        route::<ops::GetOrderQueuePositions<'static>>("queue_positions"),
        route::<ops::GetOrderQueuePosition<'static>>("queue_position"),
    ];

    fn default_subaccount(&self) -> Option<u32> {
        self.client.default_subaccount()
    }

    /// Places an order (`POST /portfolio/events/orders`). Never retried
    /// except after a 429; its `client_order_id` is fixed in the request, and
    /// after a timeout or 5xx [`Orders::reconcile`] settles whether it was
    /// placed, without ever placing it twice.
    #[must_use = "a request does nothing until it is sent with .send().await"]
    pub fn create(&self, order: &NewOrder) -> ops::CreateOrderV2<'a> {
        let request = self.client.raw().create_order_v2();
        match order.to_request(self.default_subaccount()) {
            Ok(body) => request.body(body),
            Err(refused) => request.body(Refused(refused)),
        }
    }

    /// Places several orders in one request
    /// (`POST /portfolio/events/orders/batched`). Its `send()` answers one
    /// entry per order, in the order given, each placed or refused on its own.
    #[must_use = "a request does nothing until it is sent with .send().await"]
    pub fn batch_create(&self, orders: &[NewOrder]) -> BatchCreate<'a> {
        let keys: Vec<String> = orders.iter().map(|o| o.id().to_owned()).collect();
        let body =
            refuse_duplicates(keys.iter().map(String::as_str), "client_order_id").and_then(|()| {
                let entries = orders
                    .iter()
                    .map(|o| o.to_request(self.default_subaccount()))
                    .collect::<Result<Vec<_>, Error>>()?;
                finish(types::BatchCreateOrdersV2Request::builder().orders(entries))
            });
        BatchCreate {
            client: self.client,
            body,
            keys,
        }
    }

    /// Cancels an order (`DELETE /portfolio/events/orders/{order_id}`);
    /// subaccount and routing go in the query. An order that is already
    /// canceled, filled or unknown is [`Error::NotFound`]; a 204 without the
    /// promised body is [`Error::ProtocolViolation`].
    #[must_use = "a request does nothing until it is sent with .send().await"]
    pub fn cancel(&self, order: impl Into<CancelOrder>) -> ops::CancelOrderV2<'a> {
        let order = order.into();
        let parts = order.parts(self.default_subaccount());
        let mut request = self.client.raw().cancel_order_v2().order_id(parts.order_id);
        if let Some(subaccount) = parts.subaccount {
            request = request.subaccount(subaccount_query(subaccount));
        }
        if let Some(index) = parts.exchange_index {
            request = request.exchange_index(index);
        }
        if let Some(ticker) = parts.market_ticker {
            request = request.market_ticker(ticker);
        }
        request
    }

    /// Cancels several orders in one request
    /// (`DELETE /portfolio/events/orders/batched`), each with its own
    /// subaccount and routing in the body. Its `send()` answers one entry per
    /// order, in the order given.
    #[must_use = "a request does nothing until it is sent with .send().await"]
    pub fn batch_cancel(&self, orders: &[CancelOrder]) -> BatchCancel<'a> {
        let keys: Vec<String> = orders.iter().map(|o| o.order_id().to_owned()).collect();
        let default = self.default_subaccount();
        let body = refuse_duplicates(keys.iter().map(String::as_str), "order_id").and_then(|()| {
            let entries = orders
                .iter()
                .map(|o| o.parts(default).batch_item())
                .collect::<Result<Vec<_>, Error>>()?;
            finish(types::BatchCancelOrdersV2Request::builder().orders(entries))
        });
        BatchCancel {
            client: self.client,
            body,
            keys,
        }
    }

    /// Cancels every resting order (`DELETE /portfolio/events/orders`) of
    /// the client's default subaccount, else of all; `.subaccount(n)` on the
    /// request chooses one.
    #[must_use = "a request does nothing until it is sent with .send().await"]
    pub fn cancel_all(&self) -> ops::CancelAllOrders<'a> {
        let request = self.client.raw().cancel_all_orders();
        match self.default_subaccount() {
            Some(number) => request.subaccount(i64::from(number)),
            None => request,
        }
    }

    /// Changes price and/or size (`POST /portfolio/events/orders/{order_id}/amend`);
    /// subaccount in the query, routing in the body. The count is the new
    /// total including fills; queue position is kept only when size decreases.
    #[must_use = "a request does nothing until it is sent with .send().await"]
    pub fn amend(&self, order_id: &str, amendment: &Amendment) -> ops::AmendOrderV2<'a> {
        let mut request = self.client.raw().amend_order_v2().order_id(order_id);
        if let Some(subaccount) = amendment.subaccount_number(self.default_subaccount()) {
            request = request.subaccount(subaccount_query(subaccount));
        }
        match amendment.to_request() {
            Ok(body) => request.body(body),
            Err(refused) => request.body(Refused(refused)),
        }
    }

    /// Reduces a resting order by or to a count
    /// (`POST /portfolio/events/orders/{order_id}/decrease`); subaccount in
    /// the query, routing (and its market ticker) in the body.
    #[must_use = "a request does nothing until it is sent with .send().await"]
    pub fn decrease(&self, order_id: &str, decrease: &DecreaseOrder) -> ops::DecreaseOrderV2<'a> {
        let mut request = self.client.raw().decrease_order_v2().order_id(order_id);
        if let Some(subaccount) = decrease.subaccount_number(self.default_subaccount()) {
            request = request.subaccount(subaccount_query(subaccount));
        }
        match decrease.to_request() {
            Ok(body) => request.body(body),
            Err(refused) => request.body(Refused(refused)),
        }
    }

    /// One order (`GET /portfolio/orders/{order_id}`); the order is the
    /// response's `order`.
    #[must_use = "a request does nothing until it is sent with .send().await"]
    pub fn get(&self, order_id: &str) -> ops::GetOrder<'a> {
        self.client.raw().get_order().order_id(order_id)
    }

    /// Your orders (`GET /portfolio/orders`): set filters on the request,
    /// then `.page()` for one page or `.stream(None)` for all of them.
    #[must_use = "a request does nothing until it is sent with .send().await"]
    pub fn list(&self) -> ops::GetOrders<'a> {
        let request = self.client.raw().get_orders();
        match self.default_subaccount() {
            Some(subaccount) => request.subaccount(i64::from(subaccount)),
            None => request,
        }
    }

    /// Your resting orders, 1000 per page: [`list`](Self::list) with the
    /// status filter set; `.stream(None)` for all of them.
    #[must_use = "a request does nothing until it is sent with .send().await"]
    pub fn resting(&self) -> ops::GetOrders<'a> {
        self.list().status(types::OrderStatus::Resting).limit(1000)
    }

    /// Queue positions of your resting orders in some markets or an event
    /// (`GET /portfolio/orders/queue_positions`), of the client's default
    /// subaccount unless the request names one.
    #[must_use = "a request does nothing until it is sent with .send().await"]
    pub fn queue_positions(&self, scope: QueueScope) -> ops::GetOrderQueuePositions<'a> {
        let mut request = self.client.raw().get_order_queue_positions();
        request = match scope {
            QueueScope::Markets(tickers) => request.market_tickers(tickers.join(",")),
            QueueScope::Event(ticker) => request.event_ticker(ticker),
        };
        match self.default_subaccount() {
            Some(number) => request.subaccount(i64::from(number)),
            None => request,
        }
    }

    /// How many contracts are ahead of this order at its price
    /// (`GET /portfolio/orders/{order_id}/queue_position`).
    #[must_use = "a request does nothing until it is sent with .send().await"]
    pub fn queue_position(&self, order_id: &str) -> ops::GetOrderQueuePosition<'a> {
        self.client
            .raw()
            .get_order_queue_position()
            .order_id(order_id)
    }

    /// After a create whose outcome is unknown (a timeout, a 5xx, a dropped
    /// connection), looks for `order` among the newest `max_orders` orders of
    /// its market and subaccount, by its `client_order_id`, so the caller
    /// never resends blindly. `None` means it was not there. Reads can lag
    /// writes slightly: compare with `client.exchange().user_data_timestamp()`
    /// when in doubt.
    pub async fn find(
        &self,
        order: &NewOrder,
        max_orders: usize,
    ) -> Result<Option<types::Order>, Error> {
        let max_orders = max_orders.max(1);
        // The order's own subaccount, exactly as create sent it (none: all).
        let mut request = self
            .client
            .raw()
            .get_orders()
            .ticker(order.ticker())
            .limit(max_orders.min(1000) as u64);
        if let Some(subaccount) = order.subaccount_number(self.default_subaccount()) {
            request = request.subaccount(subaccount_query(subaccount));
        }
        let pages = max_orders.div_ceil(1000);
        let mut orders = std::pin::pin!(request.stream(Some(pages)).take(max_orders));
        while let Some(candidate) = orders.try_next().await? {
            if candidate.client_order_id == order.id() {
                return Ok(Some(candidate));
            }
        }
        Ok(None)
    }

    /// Settles a create whose outcome is unknown (its error said
    /// [`may_have_executed`](Error::may_have_executed)) without ever making
    /// a second order.
    ///
    /// Looks for `order` with [`Orders::find`] (the newest `max_orders` of
    /// its market); if it is not there, sends the same create again, same
    /// `client_order_id`. The exchange refuses a repeated id, so that send
    /// either places the order now, which proves the first attempt never
    /// did, or answers 409 because the first one exists after all, which is
    /// then found, or refuses the order (a 4xx: the market closed, too
    /// little cash), so there is none. Run it once the first attempt has
    /// returned; an error from it is as uncertain as the first and can be
    /// retried with the same call.
    pub async fn reconcile(
        &self,
        order: &NewOrder,
        max_orders: usize,
    ) -> Result<Reconciled, Error> {
        if let Some(found) = self.find(order, max_orders).await? {
            return Ok(Reconciled::Found(Box::new(found)));
        }
        match self.create(order).send().await {
            Ok(placed) => Ok(Reconciled::Placed(Box::new(placed))),
            Err(Error::Conflict(conflict)) => match self.find(order, max_orders).await? {
                Some(found) => Ok(Reconciled::Found(Box::new(found))),
                // Refused as a repeat, yet not among the newest orders.
                None => Err(Error::Conflict(conflict)),
            },
            // Answered and refused (a closed market, too little cash): the
            // exchange holds no such order and did not place one now.
            Err(refused) if refused.status().is_some_and(|s| s.is_client_error()) => {
                Ok(Reconciled::NotPlaced(Box::new(refused)))
            }
            Err(other) => Err(other),
        }
    }
}

/// How [`Orders::reconcile`] settled an unknown outcome.
#[derive(Debug)]
#[non_exhaustive]
pub enum Reconciled {
    /// The first attempt had placed the order: here it is.
    Found(Box<types::Order>),
    /// The first attempt had not: the order was placed now, once.
    Placed(Box<types::CreateOrderV2Response>),
    /// The first attempt had not, and sent again the order was refused
    /// (the error says why): there is no such order.
    NotPlaced(Box<Error>),
}

impl Reconciled {
    /// The exchange's id of the one order, when there is one.
    pub fn order_id(&self) -> Option<&str> {
        match self {
            Self::Found(order) => Some(&order.order_id),
            Self::Placed(placed) => Some(&placed.order_id),
            Self::NotPlaced(_) => None,
        }
    }
}

/// A batch of new orders, from [`Orders::batch_create`].
#[derive(Debug)]
#[must_use = "a request does nothing until it is sent with .send().await"]
pub struct BatchCreate<'a> {
    client: &'a Client,
    /// The body, or why it was refused before sending.
    body: Result<types::BatchCreateOrdersV2Request, Error>,
    keys: Vec<String>,
}

impl BatchCreate<'_> {
    /// Sends the batch under the client's retry policy: one outcome per
    /// order, in the order given.
    pub async fn send(
        self,
    ) -> Result<Vec<BatchOutcome<types::BatchCreateOrdersV2ResponseOrdersItem>>, Error> {
        self.send_inner(None).await
    }

    /// [`send`](Self::send) under `retry` instead of the client's policy.
    pub async fn send_with(
        self,
        retry: RetryPolicy,
    ) -> Result<Vec<BatchOutcome<types::BatchCreateOrdersV2ResponseOrdersItem>>, Error> {
        self.send_inner(Some(retry)).await
    }

    async fn send_inner(
        self,
        retry: Option<RetryPolicy>,
    ) -> Result<Vec<BatchOutcome<types::BatchCreateOrdersV2ResponseOrdersItem>>, Error> {
        let request = self.client.raw().batch_create_orders_v2().body(self.body?);
        let response = match retry {
            Some(retry) => request.send_with(retry).await?,
            None => request.send().await?,
        };
        let keys: Vec<&str> = self.keys.iter().map(String::as_str).collect();
        let entries = in_request_order(
            &keys,
            response.orders,
            |e| e.client_order_id.clone(),
            "batch_create_orders_v2",
        )?;
        Ok(outcomes(entries, |entry| entry.error.take()))
    }
}

/// A batch of cancels, from [`Orders::batch_cancel`].
#[derive(Debug)]
#[must_use = "a request does nothing until it is sent with .send().await"]
pub struct BatchCancel<'a> {
    client: &'a Client,
    /// The body, or why it was refused before sending.
    body: Result<types::BatchCancelOrdersV2Request, Error>,
    keys: Vec<String>,
}

impl BatchCancel<'_> {
    /// Sends the batch under the client's retry policy: one outcome per
    /// order, in the order given.
    pub async fn send(
        self,
    ) -> Result<Vec<BatchOutcome<types::BatchCancelOrdersV2ResponseOrdersItem>>, Error> {
        self.send_inner(None).await
    }

    /// [`send`](Self::send) under `retry` instead of the client's policy.
    pub async fn send_with(
        self,
        retry: RetryPolicy,
    ) -> Result<Vec<BatchOutcome<types::BatchCancelOrdersV2ResponseOrdersItem>>, Error> {
        self.send_inner(Some(retry)).await
    }

    async fn send_inner(
        self,
        retry: Option<RetryPolicy>,
    ) -> Result<Vec<BatchOutcome<types::BatchCancelOrdersV2ResponseOrdersItem>>, Error> {
        let request = self.client.raw().batch_cancel_orders_v2().body(self.body?);
        let response = match retry {
            Some(retry) => request.send_with(retry).await?,
            None => request.send().await?,
        };
        let keys: Vec<&str> = self.keys.iter().map(String::as_str).collect();
        let entries = in_request_order(
            &keys,
            response.orders,
            |e| Some(e.order_id.clone()),
            "batch_cancel_orders_v2",
        )?;
        Ok(outcomes(entries, |entry| entry.error.take()))
    }
}

/// A batch naming one order twice could not be matched back to its
/// entries; refuse it before anything is sent.
fn refuse_duplicates<'k>(keys: impl Iterator<Item = &'k str>, what: &str) -> Result<(), Error> {
    let mut seen = std::collections::HashSet::new();
    for key in keys {
        if !seen.insert(key) {
            return Err(Error::invalid(format!(
                "the batch names {what} {key:?} twice; each entry needs its own (NewOrder::with_fresh_id makes one)"
            )));
        }
    }
    Ok(())
}

/// Splits batch entries into successes and per-entry errors.
fn outcomes<T>(
    entries: Vec<T>,
    error_of: impl Fn(&mut T) -> Option<types::ErrorResponse>,
) -> Vec<BatchOutcome<T>> {
    entries
        .into_iter()
        .map(|mut entry| match error_of(&mut entry) {
            Some(error) => Err(error.into()),
            None => Ok(entry),
        })
        .collect()
}

/// Query parameters carry the subaccount as a signed integer.
fn subaccount_query(subaccount: u64) -> i64 {
    // Subaccounts are 0–63 by construction.
    i64::try_from(subaccount).unwrap_or(i64::MAX)
}

/// Puts batch entries back in the order of the request, matching them by
/// key; falls back to position when the response names no keys. A response
/// that cannot be matched is a protocol violation, never a silent guess.
fn in_request_order<T>(
    keys: &[&str],
    entries: Vec<T>,
    key_of: impl Fn(&T) -> Option<String>,
    operation: &'static str,
) -> Result<Vec<T>, Error> {
    let violation = |message: String| Error::ProtocolViolation { operation, message };
    if entries.len() != keys.len() {
        return Err(violation(format!(
            "{} entries answered {} requested",
            entries.len(),
            keys.len()
        )));
    }
    if entries.iter().any(|e| key_of(e).is_none()) {
        return Ok(entries);
    }
    let mut by_key: HashMap<String, T> = entries
        .into_iter()
        .filter_map(|e| Some((key_of(&e)?, e)))
        .collect();
    keys.iter()
        .map(|key| {
            by_key
                .remove(*key)
                .ok_or_else(|| violation(format!("no entry for {key:?} in the response")))
        })
        .collect()
}
