//! One trait over every generated operation builder.
//!
//! progenitor gives each builder an inherent `send()`, which the generator
//! makes private to this crate, and implements [`Request`] for each (xtask
//! `postprocess::request_impls`), so code can be generic over "any
//! operation": `kalshi-client` adds typed errors and per-call retry policies
//! to all of them at once, and pages through every cursor-paginated list
//! with one implementation.

use std::future::Future;

use progenitor_client::{Error, ResponseValue};

/// A ready-to-send generated operation.
pub trait Request: Send + Sized {
    /// The success body.
    type Response: Send;
    /// The documented error body (`()` when the spec documents none).
    type ErrorBody: Send;
    /// progenitor's method name, as in [`crate::OPERATIONS`].
    const OPERATION: &'static str;

    /// Sends the request through progenitor, without typed errors or retry
    /// policy: the seam `kalshi-client`'s `Execute::send` builds on, which
    /// is what applications call. It only builds the future (every
    /// generated one is an `async fn`'s): `Execute::send` calls it at once,
    /// and only the future runs inside the call's scope.
    fn send_request(
        self,
    ) -> impl Future<Output = Result<ResponseValue<Self::Response>, Error<Self::ErrorBody>>> + Send;
}
