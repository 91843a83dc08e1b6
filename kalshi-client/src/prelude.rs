//! One `use` for what a trading program needs.
//!
//! ```no_run
//! use kalshi_client::prelude::*;
//! # async fn demo() -> Result<(), Error> {
//! let client = Client::from_env()?;
//! let order = NewOrder::buy_yes("KXBTC-26DEC31-T100000", Quantity::contracts(1)?, "0.05".parse()?)
//!     .route(ExchangeRoute::Index(0));
//! let placed = client.orders().create(&order).send().await?;
//! client.orders().cancel(placed.order_id.as_str()).send().await?;
//! # Ok(()) }
//! ```
//!
//! It brings the client and its builder, the error type, the two traits
//! every request ends with ([`Execute::send`], [`Paginate::page`] /
//! [`Paginate::stream`]), the typed order and transfer values, the decimal
//! money types, and the generated `types` module.

pub use crate::margin::{MarginMarket, MarginPrice, NewMarginOrder};
pub use crate::order::{
    Amendment, CancelOrder, Decrease, DecreaseOrder, ExchangeRoute, NewOrder, Price, Quantity,
    SelfTradePrevention, Side, Subaccount, TimeInForce,
};
pub use crate::resources::{QueueScope, Reconciled};
pub use crate::stream::{Channel, OrderBook, StreamError, Subscription};
pub use crate::transfer::ExchangeTransfer;
pub use crate::{
    Client, ClientBuilder, Count, Credentials, Dollars, Environment, Error, Execute, Paginate,
    Report, RetryPolicy,
};
pub use kalshi_gen::types;
