//! Typed errors and per-call policies for every generated operation.

use std::future::Future;

use kalshi_gen::Request;

use crate::error::Error;
use crate::retry::RetryPolicy;
use crate::transport;

/// Sends any generated operation and returns its body or a typed [`Error`].
///
/// Every builder of the generated bindings implements it, so the typed
/// resource methods and [`Client::raw`](crate::Client::raw) behave alike:
///
/// ```no_run
/// # async fn demo(client: kalshi_client::Client) -> Result<(), kalshi_client::Error> {
/// use kalshi_client::Execute;
/// use kalshi_client::generated::ClientMarketExt;
/// let markets = client.raw().get_markets().status("open").limit(5).execute().await?;
/// # Ok(()) }
/// ```
pub trait Execute: Request {
    /// Sends the request under the client's retry policy.
    fn execute(self) -> impl Future<Output = Result<Self::Response, Error>> + Send;

    /// Sends the request under `retry` instead of the client's policy.
    fn execute_with(
        self,
        retry: RetryPolicy,
    ) -> impl Future<Output = Result<Self::Response, Error>> + Send;
}

impl<R: Request> Execute for R {
    fn execute(self) -> impl Future<Output = Result<Self::Response, Error>> + Send {
        run(None, self)
    }

    fn execute_with(
        self,
        retry: RetryPolicy,
    ) -> impl Future<Output = Result<Self::Response, Error>> + Send {
        run(Some(retry), self)
    }
}

async fn run<R: Request>(retry: Option<RetryPolicy>, request: R) -> Result<R::Response, Error> {
    finish(transport::scoped(retry, request.send_request()).await)
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
