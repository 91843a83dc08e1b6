//! Typed bindings for every operation of the Kalshi Trade API.
//!
//! The client, the [`types`], the request [`builder`]s, the per-tag
//! extension traits and [`OPERATIONS`] are written by `cargo xtask regen`
//! from the vendored specification in `kalshi-openapi`; nobody edits them by
//! hand. The few hand-written modules beside it hold the types the generator
//! is told to use instead of its defaults:
//!
//! * [`num`]: `rust_decimal`-backed [`Dollars`] and [`Count`] for Kalshi's
//!   fixed-point strings (`"0.5600"`, `"10.00"`), so money never passes
//!   through `f64`.
//! * [`open_enum`]: support for string enums that keep values Kalshi adds
//!   after this crate was generated, instead of failing the whole response.
//! * [`hooks`]: the seam through which `kalshi-client` signs, rate-limits and
//!   retries every request. This crate holds no crypto and no policy.
//! * [`visit`]: the trait [`visit_types`] calls for every operation and open
//!   enum, so checks (the fuzz targets) cover every generated type.
//!
//! Most users want the `kalshi-client` crate, which wraps these bindings:
//! requests are sent with its `Execute::send`, which adds Kalshi's error
//! bodies, retries and signing. progenitor-client's types (`ResponseValue`,
//! its `Error`) appear only in [`Request::send_request`], the seam
//! `kalshi-client` builds on; a breaking release of progenitor-client is a
//! breaking release of this crate.
#![forbid(unsafe_code)]

mod fast_json;
pub mod hooks;
pub mod num;
pub mod open_enum;
pub mod operation;
pub mod request;
pub mod stream;
pub mod visit;

#[rustfmt::skip]
#[allow(
    clippy::all,
    clippy::pedantic,
    missing_docs,
    rustdoc::all,
    unused_imports,
    irrefutable_let_patterns
)]
mod generated;

#[rustfmt::skip]
#[allow(
    clippy::all,
    clippy::pedantic,
    missing_docs,
    rustdoc::all,
    unused_imports,
    irrefutable_let_patterns
)]
mod stream_generated;

pub mod margin;

pub use generated::*;
pub use hooks::{Hooks, RequestHooks};
pub use num::{Count, DecimalError, Dollars, PriceLevel, Ratio};
pub use operation::{Operation, Placement};
pub use request::Request;
