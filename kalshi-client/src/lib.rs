//! A Rust client for the Kalshi Trade API.
//!
//! * Every operation of Kalshi's spec, through typed, generated bindings
//!   ([`Client::raw`]), each call signed, rate-limited and retried by the
//!   same rules.
//! * Money and counts as `rust_decimal` ([`Dollars`], [`Count`]), never `f64`.
//! * One [`Error`] type that says what happened and whether the exchange may
//!   have acted on the request.
//! * Safe retries: reads are retried on transient failures; writes only when
//!   the exchange provably did not execute them (a 429, or nothing sent).
//! * Cursor pagination as pages or as a `Stream` ([`Paginate`]).
//! * Real-time streams ([`stream`]): typed subscriptions, reconnects,
//!   `seq` gap repair and local order books that never show a state the
//!   exchange did not have, optionally over redundant connections.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod auth;
mod client;
mod environment;
mod error;
mod execute;
pub mod margin;
pub mod order;
pub mod pagination;
pub mod prelude;
pub mod rate_limit;
mod report;
pub mod resources;
mod retry;
pub mod stream;
pub mod transfer;
mod transport;

pub use auth::{Credentials, KeyError, KeyKind, RsaBackend};
pub use client::{Client, ClientBuilder};
pub use environment::{BASE_PATH, Environment};
pub use error::{ApiError, ClockOffset, Error};
pub use execute::Execute;
pub use kalshi_gen as generated;
pub use kalshi_gen::{Count, Dollars};
pub use pagination::{Page, Paginate};
pub use rate_limit::{RateLimiter, RateLimits, Tier};
pub use report::Report;
pub use retry::RetryPolicy;

/// The workspace README's Rust examples, compiled as doc tests so they stay true.
#[doc = include_str!("../../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;
