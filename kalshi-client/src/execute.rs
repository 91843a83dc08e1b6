//! Sending any request: typed errors and per-call policies.

use std::future::Future;

use futures_util::FutureExt as _;
use kalshi_gen::Request;

use crate::error::Error;
use crate::retry::RetryPolicy;
use crate::transport;

/// Sends a request and returns its body or a typed [`Error`].
///
/// Every request of this crate ends with `.send().await`: the builders the
/// resource groups return, those of [`Client::raw`](crate::Client::raw), and
/// the typed batch requests. progenitor's own `send()` is private to the
/// generated crate, so `.send()` always means this one: Kalshi's error body
/// decoded, retries by the client's rules, and
/// [`Error::may_have_executed`] for writes.
///
/// ```no_run
/// # async fn demo(client: kalshi_client::Client) -> Result<(), kalshi_client::Error> {
/// use kalshi_client::prelude::*;
/// let markets = client.markets().list().status("open").limit(5).send().await?;
/// # Ok(()) }
/// ```
pub trait Execute: Request {
    /// Sends the request under the client's retry policy.
    fn send(self) -> impl Future<Output = Result<Self::Response, Error>> + Send;

    /// Sends the request under `retry` instead of the client's policy.
    fn send_with(
        self,
        retry: RetryPolicy,
    ) -> impl Future<Output = Result<Self::Response, Error>> + Send;
}

impl<R: Request> Execute for R {
    fn send(self) -> impl Future<Output = Result<Self::Response, Error>> + Send {
        run(None, self)
    }

    fn send_with(
        self,
        retry: RetryPolicy,
    ) -> impl Future<Output = Result<Self::Response, Error>> + Send {
        run(Some(retry), self)
    }
}

fn run<R: Request>(
    retry: Option<RetryPolicy>,
    request: R,
) -> impl Future<Output = Result<R::Response, Error>> + Send {
    transport::scoped(retry, request.send_request()).map(finish)
}

/// Unwraps a scoped call's outcome into the body or the typed error.
pub(crate) fn finish<T, E>(
    (result, state): (
        Result<progenitor_client::ResponseValue<T>, progenitor_client::Error<E>>,
        transport::CallState,
    ),
) -> Result<T, Error> {
    match result {
        Ok(value) => Ok(value.into_inner()),
        Err(error) => Err(transport::into_error(error, state)),
    }
}

#[cfg(test)]
mod tests {
    use kalshi_gen::Request as _;

    use super::Execute as _;
    use crate::Client;

    /// `.send()` wraps the request's future without keeping a second copy of
    /// it: a request moves its whole future, so every copy costs each one.
    #[test]
    fn the_send_future_holds_the_request_future_once() {
        let client = Client::builder()
            .base_url("http://127.0.0.1:1/trade-api/v2")
            .build()
            .expect("client");
        let request = std::mem::size_of_val(&client.portfolio().balance().send_request());
        let send = std::mem::size_of_val(&client.portfolio().balance().send());
        assert!(
            send < request + 512,
            "`.send()`'s future is {send} bytes around a {request}-byte request future"
        );
    }
}
