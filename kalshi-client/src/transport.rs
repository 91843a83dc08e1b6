//! What happens to every request: the hooks kalshi-client installs into the
//! generated client.
//!
//! `prepare` runs once per call: it fills in the client's default body
//! subaccount, refuses a signed call without credentials, waits for
//! rate-limit budget and signs. `execute` sends, and for each retry waits,
//! takes budget again and signs again with a fresh timestamp. Typed errors
//! travel back to [`Execute::send`](crate::Execute::send) through a
//! task-local [`CallState`], because progenitor's error type can only carry
//! a string from hooks.

use std::cell::RefCell;
use std::future::Future;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use futures_util::FutureExt as _;
use kalshi_gen::Operation;
use kalshi_gen::hooks::{BoxFuture, RequestHooks};
use reqwest::header::{HeaderName, HeaderValue, USER_AGENT};
use reqwest::{Method, Request, Response, StatusCode};
use tracing::Instrument;

use crate::auth::{self, Credentials};
use crate::error::{ApiError, ClockOffset, Error};
use crate::rate_limit::RateLimiter;
use crate::retry::{self, RetryPolicy};

const KEY_HEADER: HeaderName = HeaderName::from_static("kalshi-access-key");
const TIMESTAMP_HEADER: HeaderName = HeaderName::from_static("kalshi-access-timestamp");
const SIGNATURE_HEADER: HeaderName = HeaderName::from_static("kalshi-access-signature");

tokio::task_local! {
    static CALL: RefCell<CallState>;
}

/// What one call learned on its way, read back by [`Execute::send`](crate::Execute::send).
#[derive(Debug, Default)]
pub(crate) struct CallState {
    /// A per-call retry policy overriding the client's.
    pub retry: Option<RetryPolicy>,
    /// The typed error, when the hooks know better than progenitor.
    pub error: Option<Error>,
    /// The operation, as the hooks saw it.
    pub operation: Option<&'static str>,
    /// Whether the call was a read.
    pub is_read: bool,
    /// The status of the last response.
    pub status: Option<StatusCode>,
}

/// Runs `call` with a fresh [`CallState`] and returns both.
///
/// Not an `async fn`: that would keep `call` twice, as its argument and
/// inside the scope's future, and a request moves its whole future.
pub(crate) fn scoped<F: Future>(
    retry: Option<RetryPolicy>,
    call: F,
) -> impl Future<Output = (F::Output, CallState)> {
    let state = RefCell::new(CallState {
        retry,
        ..CallState::default()
    });
    // A combinator rather than an `async` block, which would also keep
    // `call` twice; the closure runs inside the scope.
    CALL.scope(
        state,
        call.map(|output| {
            let state = CALL.with(|cell| std::mem::take(&mut *cell.borrow_mut()));
            (output, state)
        }),
    )
}

/// Applies `f` to the current call's state; a no-op outside [`scoped`]
/// (a raw generated call awaited directly).
fn with_state<R>(f: impl FnOnce(&mut CallState) -> R) -> Option<R> {
    CALL.try_with(|cell| f(&mut cell.borrow_mut())).ok()
}

fn stash(error: Error) {
    with_state(|state| state.error = Some(error));
}

/// The hooks installed into every client.
#[derive(Debug)]
pub(crate) struct Transport {
    pub signer: Option<Signer>,
    pub limiter: Option<RateLimiter>,
    /// The margin API's budget, when it has its own (see
    /// [`ClientBuilder::margin_rate_limits`](crate::ClientBuilder::margin_rate_limits)).
    pub margin_limiter: Option<RateLimiter>,
    pub retry: RetryPolicy,
    pub user_agent: HeaderValue,
    /// Sent in JSON bodies that act for a subaccount and name none.
    pub default_subaccount: Option<u32>,
}

/// Operations whose body `subaccount` does not say whom the request acts
/// for: creating an API key with one restricts the new key to it, which the
/// client's default must never do on the caller's behalf.
pub(crate) const BODY_SUBACCOUNT_NOT_ACTING_FOR: [&str; 2] = ["create_api_key", "generate_api_key"];

/// Adds `default` as `subaccount` to the JSON body of an operation that
/// takes it in the body, when the body names none: order groups, RFQs,
/// quotes, RFQ batches, block trades (typed orders already carry it).
fn default_body_subaccount(request: &mut Request, operation: &'static str, default: u32) {
    // The default is an event-contract subaccount: margin subaccounts are
    // numbered apart, so margin bodies never get it.
    let takes_it = Operation::find_in(kalshi_gen::OPERATIONS, operation).is_some_and(|op| {
        op.subaccount == kalshi_gen::Placement::Body
            && !BODY_SUBACCOUNT_NOT_ACTING_FOR.contains(&operation)
    });
    if !takes_it {
        return;
    }
    let Some(bytes) = request.body().and_then(reqwest::Body::as_bytes) else {
        return;
    };
    let Ok(serde_json::Value::Object(mut body)) = serde_json::from_slice(bytes) else {
        return;
    };
    if body.get("subaccount").is_some_and(|v| !v.is_null()) {
        return;
    }
    body.insert("subaccount".to_owned(), default.into());
    if let Ok(bytes) = serde_json::to_vec(&body) {
        *request.body_mut() = Some(bytes.into());
    }
}

impl RequestHooks for Transport {
    fn prepare<'a>(
        &'a self,
        request: &'a mut Request,
        operation: &'static str,
    ) -> BoxFuture<'a, Result<(), String>> {
        Box::pin(async move {
            with_state(|state| {
                state.operation = Some(operation);
                state.is_read = request.method() == Method::GET;
            });
            if let Some(default) = self.default_subaccount {
                default_body_subaccount(request, operation, default);
            }
            self.admit(request, operation).await.map_err(|error| {
                let message = error.to_string();
                stash(error);
                message
            })
        })
    }

    fn execute<'a>(
        &'a self,
        client: &'a reqwest::Client,
        request: Request,
        operation: &'static str,
    ) -> BoxFuture<'a, reqwest::Result<Response>> {
        let span = tracing::debug_span!(
            "kalshi.request",
            operation,
            method = %request.method(),
            path = request.url().path(),
        );
        Box::pin(
            self.send_with_retries(client, request, operation)
                .instrument(span),
        )
    }
}

impl Transport {
    /// The budget an operation is charged to: the margin API's own when it
    /// has one and the operation is a margin one, the client's otherwise.
    fn limiter_for(&self, operation: &str) -> Option<&RateLimiter> {
        let margin_only = || {
            Operation::find_in(kalshi_gen::OPERATIONS, operation).is_none()
                && Operation::find_in(kalshi_gen::margin::OPERATIONS, operation).is_some()
        };
        match &self.margin_limiter {
            Some(margin) if margin_only() => Some(margin),
            _ => self.limiter.as_ref(),
        }
    }

    /// Everything that must hold before an attempt goes out: credentials
    /// when the operation is signed, rate-limit budget, a fresh signature.
    async fn admit(&self, request: &mut Request, operation: &'static str) -> Result<(), Error> {
        let signed = Operation::find(operation).is_none_or(|op| op.authenticated);
        if signed && self.signer.is_none() {
            return Err(Error::MissingCredentials { operation });
        }
        if !request.headers().contains_key(USER_AGENT) {
            request
                .headers_mut()
                .insert(USER_AGENT, self.user_agent.clone());
        }
        if let Some(limiter) = self.limiter_for(operation) {
            let items = batch_items(request, operation);
            limiter
                .acquire(operation, request.method().as_str(), items)
                .await
                .map_err(|source| Error::RateBudgetUnavailable { operation, source })?;
        }
        match &self.signer {
            Some(signer) if signed => signer.sign(request),
            _ => Ok(()),
        }
    }

    async fn send_with_retries(
        &self,
        client: &reqwest::Client,
        mut request: Request,
        operation: &'static str,
    ) -> reqwest::Result<Response> {
        let is_read = request.method() == Method::GET;
        let policy = with_state(|s| s.retry.clone())
            .flatten()
            .unwrap_or_else(|| self.retry.clone());
        let started = Instant::now();
        let mut attempt = 1;
        loop {
            let spare = (attempt < policy.max_attempts())
                .then(|| request.try_clone())
                .flatten();
            let sent_at = Instant::now();
            let result = buffered(client.execute(request).await).await;
            with_state(|s| s.status = result.as_ref().ok().map(Response::status));
            log_attempt(attempt, &result, sent_at.elapsed());
            let retry_after = match &result {
                Ok(response) if response.status().is_success() => return result,
                Ok(response) if retry::is_retryable_status(is_read, response.status()) => {
                    retry::retry_after(response.headers())
                }
                Err(error) if retry::is_retryable_error(is_read, error) => None,
                _ => return Self::finish(result, operation),
            };
            let wait = policy.backoff(attempt, retry_after);
            let Some(mut next) = spare.filter(|_| policy.allows(attempt, started.elapsed(), wait))
            else {
                return Self::finish(result, operation);
            };
            tokio::time::sleep(wait).await;
            if let Err(error) = self.admit(&mut next, operation).await {
                stash(error);
                return result;
            }
            drop(result);
            request = next;
            attempt += 1;
        }
    }

    /// The final answer: a failed response's body is parsed into a typed
    /// error (kept in the call state); the response goes on to progenitor.
    fn finish(
        result: reqwest::Result<Response>,
        operation: &'static str,
    ) -> reqwest::Result<Response> {
        let response = result?;
        if !response.status().is_success() {
            let api = ApiError::from_response(
                response.status(),
                response.headers(),
                &body_of(&response),
                operation,
            );
            let offset = (response.status() == StatusCode::UNAUTHORIZED)
                .then(|| clock_offset(response.headers()))
                .flatten();
            stash(Error::from_api(api, offset));
        }
        Ok(response)
    }
}

/// Reads the whole body inside the attempt, so a connection cut mid-body is
/// a failed attempt (retried for reads) rather than a failure after the
/// retry loop. The body is handed on unchanged in a rebuilt response.
async fn buffered(result: reqwest::Result<Response>) -> reqwest::Result<Response> {
    use reqwest::ResponseBuilderExt as _;
    let mut response = result?;
    let status = response.status();
    let version = response.version();
    // Keep the real URL: without it reqwest parses a placeholder per response.
    let url = response.url().clone();
    let headers = std::mem::take(response.headers_mut());
    let body = response.bytes().await?;
    let mut builder = http::Response::builder()
        .status(status)
        .version(version)
        .url(url);
    if let Some(slot) = builder.headers_mut() {
        *slot = headers;
    }
    // Only a failure's body is read again (by `finish`); a success's
    // extension would be an allocation per request for nothing.
    if !status.is_success() {
        builder = builder.extension(BufferedBody(body.clone()));
    }
    let rebuilt = builder
        .body(body)
        .expect("status, version and headers come from a valid response");
    Ok(Response::from(rebuilt))
}

/// The bytes of a response made by [`buffered`].
#[derive(Clone)]
struct BufferedBody(bytes::Bytes);

fn body_of(response: &Response) -> bytes::Bytes {
    response
        .extensions()
        .get::<BufferedBody>()
        .map(|b| b.0.clone())
        .unwrap_or_default()
}

/// The credentials with the key-id header value made once, at construction.
#[derive(Debug)]
pub(crate) struct Signer {
    pub credentials: Credentials,
    key_header: HeaderValue,
}

impl Signer {
    pub fn new(credentials: Credentials) -> Result<Self, Error> {
        let key_header = HeaderValue::from_str(credentials.key_id())
            .map_err(|_| Error::invalid("the API key id is not a valid HTTP header value"))?;
        Ok(Self {
            credentials,
            key_header,
        })
    }

    /// Adds the three Kalshi headers, signing the path exactly as it goes on the wire.
    fn sign(&self, request: &mut Request) -> Result<(), Error> {
        let timestamp = now_millis();
        let signed = self
            .credentials
            .sign(
                timestamp,
                request.method().as_str(),
                auth::wire_path(request.url()),
            )
            .map_err(|e| Error::invalid(format!("signing failed: {e}")))?;
        // From the `String` itself: checked as `from_str` would, not copied.
        let mut signature = HeaderValue::try_from(signed.signature)
            .map_err(|_| Error::invalid("the signature is not a valid HTTP header value"))?;
        signature.set_sensitive(true);
        let headers = request.headers_mut();
        headers.insert(KEY_HEADER, self.key_header.clone());
        headers.insert(TIMESTAMP_HEADER, HeaderValue::from(timestamp));
        headers.insert(SIGNATURE_HEADER, signature);
        Ok(())
    }
}

fn now_millis() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// Server time (from `Date`) minus local time.
fn clock_offset(headers: &reqwest::header::HeaderMap) -> Option<ClockOffset> {
    let date = headers.get(reqwest::header::DATE)?.to_str().ok()?;
    let server = httpdate::parse_http_date(date).ok()?;
    let now = SystemTime::now();
    let millis = match server.duration_since(now) {
        Ok(ahead) => i64::try_from(ahead.as_millis()).ok()?,
        Err(behind) => -i64::try_from(behind.duration().as_millis()).ok()?,
    };
    Some(ClockOffset { millis })
}

/// Batch requests are billed per item: the length of the body's `orders`,
/// counted without building the items.
fn batch_items(request: &Request, operation: &str) -> u32 {
    #[derive(serde::Deserialize)]
    struct Batch {
        orders: Vec<serde::de::IgnoredAny>,
    }
    if !operation.starts_with("batch_") {
        return 1;
    }
    request
        .body()
        .and_then(reqwest::Body::as_bytes)
        .and_then(|body| serde_json::from_slice::<Batch>(body).ok())
        .map_or(1, |batch| {
            u32::try_from(batch.orders.len()).unwrap_or(u32::MAX).max(1)
        })
}

fn log_attempt(attempt: u32, result: &reqwest::Result<Response>, latency: Duration) {
    let latency_ms = latency.as_secs_f64() * 1000.0;
    match result {
        Ok(response) => tracing::debug!(
            attempt,
            status = response.status().as_u16(),
            latency_ms,
            "response"
        ),
        Err(error) => tracing::debug!(attempt, %error, latency_ms, "no response"),
    }
}

/// Turns what progenitor returned into the client's error, preferring what
/// the hooks recorded.
pub(crate) fn into_error<E>(error: progenitor_client::Error<E>, state: CallState) -> Error {
    if let Some(error) = state.error {
        return error;
    }
    let Some(operation) = state.operation else {
        // The hooks never ran: the request failed while being built.
        return Error::InvalidRequest {
            message: invalid_before_sending(error),
        };
    };
    match error {
        progenitor_client::Error::CommunicationError(source)
        | progenitor_client::Error::ResponseBodyError(source) => {
            transport_error(source, operation, state.is_read)
        }
        progenitor_client::Error::InvalidResponsePayload(body, source) => Error::Decode {
            operation,
            status: state.status,
            excerpt: crate::error::excerpt(&body),
            source,
        },
        progenitor_client::Error::UnexpectedResponse(response) => Error::ProtocolViolation {
            operation,
            message: format!(
                "HTTP {} is not a response the spec allows here",
                response.status().as_u16()
            ),
        },
        progenitor_client::Error::InvalidRequest(message)
        | progenitor_client::Error::Custom(message) => Error::InvalidRequest { message },
        progenitor_client::Error::ErrorResponse(response) => {
            // Normally recorded by `finish`; reached only if the hooks were bypassed.
            let api =
                ApiError::from_response(response.status(), response.headers(), b"", operation);
            Error::from_api(api, None)
        }
        progenitor_client::Error::InvalidUpgrade(_) => Error::ProtocolViolation {
            operation,
            message: "the server answered with a protocol upgrade".to_owned(),
        },
    }
}

/// Why a call failed before its hooks ran (nothing was sent).
fn invalid_before_sending<E>(error: progenitor_client::Error<E>) -> String {
    match error {
        progenitor_client::Error::InvalidRequest(message)
        | progenitor_client::Error::Custom(message) => message,
        progenitor_client::Error::CommunicationError(source) => {
            format!("the request could not be built: {source}")
        }
        other => format!("the request could not be built ({:?})", other.status()),
    }
}

fn transport_error(source: reqwest::Error, operation: &'static str, is_read: bool) -> Error {
    // A write whose connection was established may have reached the
    // exchange, unless an HTTP/2 server refused it unprocessed.
    let may_have_executed =
        !is_read && !source.is_connect() && !retry::is_protocol_refusal(&source);
    if source.is_timeout() {
        Error::Timeout {
            operation,
            may_have_executed,
        }
    } else {
        Error::Transport {
            operation,
            may_have_executed,
            source,
        }
    }
}
