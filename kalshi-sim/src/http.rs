//! The HTTP side: hyper on loopback, faults, the journal, and turning
//! handler results into Kalshi-shaped responses.

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use http_body_util::BodyExt;
use hyper::body::{Frame, Incoming};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{HeaderMap, Request, Response};
use hyper_util::rt::TokioIo;
use serde_json::{Value, json};
use tokio::net::TcpListener;

use crate::faults::{Fault, JournalEntry};
use crate::{Shared, api, auth, limits, routes};

/// An error answer: status plus Kalshi's flat error body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ApiErr {
    pub status: u16,
    pub code: String,
    pub message: String,
}

impl ApiErr {
    pub fn new(status: u16, code: &str, message: &str) -> Self {
        Self {
            status,
            code: code.to_owned(),
            message: message.to_owned(),
        }
    }

    pub fn bad_request(code: &str, message: &str) -> Self {
        Self::new(400, code, message)
    }

    fn body(&self) -> Value {
        json!({ "code": self.code, "message": self.message })
    }
}

/// What a handler answers: a status and a JSON body (`None` for 204).
pub(crate) type Answer = Result<(u16, Option<Value>), ApiErr>;

/// The request as a handler sees it.
pub(crate) struct Call {
    pub operation: &'static kalshi_gen::Operation,
    pub user: Option<String>,
    pub params: std::collections::HashMap<String, String>,
    pub query: Vec<(String, String)>,
    pub body: Option<Value>,
    pub now_ms: i64,
}

/// The largest request body accepted; Kalshi's largest requests (batches of
/// orders, RFQ batches) are a few KiB. Anything bigger is answered 413
/// without being read further.
pub(crate) const MAX_BODY_BYTES: usize = 1 << 20;

/// Accepts connections until the task is aborted.
pub(crate) async fn serve(listener: TcpListener, shared: Arc<Shared>) {
    loop {
        let Ok((stream, peer)) = listener.accept().await else {
            continue;
        };
        let shared = Arc::clone(&shared);
        tokio::spawn(async move {
            let service = service_fn(move |request| handle(Arc::clone(&shared), peer, request));
            let _ = http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .with_upgrades()
                .await;
        });
    }
}

/// Returned instead of a response to close the connection (a fault).
#[derive(Debug)]
struct Dropped;

impl std::fmt::Display for Dropped {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("connection dropped by an injected fault")
    }
}

impl std::error::Error for Dropped {}

async fn handle(
    shared: Arc<Shared>,
    peer: std::net::SocketAddr,
    request: Request<Incoming>,
) -> Result<Response<SimBody>, Dropped> {
    if let Some(venue) = crate::ws::Venue::of_path(request.uri().path()) {
        // Upgrades are authenticated before anything else is read.
        return Ok(
            crate::ws::upgrade(&shared, request, venue).unwrap_or_else(|e| error_response(&e))
        );
    }
    let method = request.method().as_str().to_owned();
    let path = request.uri().path().to_owned();
    let query = request.uri().query().unwrap_or_default().to_owned();
    let headers = request.headers().clone();
    let declared = headers
        .get(hyper::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|len| len > MAX_BODY_BYTES as u64) {
        return Ok(error_response(&too_large()));
    }
    let body = match http_body_util::Limited::new(request.into_body(), MAX_BODY_BYTES)
        .collect()
        .await
    {
        Ok(body) => body.to_bytes(),
        Err(error) if error.is::<http_body_util::LengthLimitError>() => {
            return Ok(error_response(&too_large()));
        }
        // The client went away mid-body: there is no one to answer.
        Err(_) => return Err(Dropped),
    };
    // Metered as of now, whenever it is processed (see `Limits::take`).
    let arrived = std::time::Instant::now();
    if path.starts_with(crate::control::PREFIX) {
        let answer = blocking(move || crate::control::handle(&shared, peer, &method, &path, &body));
        return Ok(match answer.await {
            Ok(body) => json_response(200, &body),
            Err(error) => error_response(&error),
        });
    }
    let fault = shared.faults.next(&path);
    // Journaled on arrival: a request the client abandons still arrived.
    let entry = JournalEntry {
        method: method.clone(),
        path: path.clone(),
        query: query.clone(),
        status: 0,
        fault: fault.clone(),
    };
    let index = shared.faults.record(entry);
    let response = match &fault {
        Some(Fault::DropConnection) => None,
        Some(Fault::Status(status)) => Some(error_response(&ApiErr::new(
            *status,
            "injected_fault",
            "injected by the test",
        ))),
        Some(Fault::RateLimited) => {
            Some(json_response(429, &json!({"error": "too many requests"})))
        }
        other => {
            // Executed in its own task: like a real exchange, the request
            // completes even when the client gives up and disconnects.
            let delay = match other {
                Some(Fault::Delay(delay)) => Some(*delay),
                _ => None,
            };
            let task = tokio::spawn({
                let shared = Arc::clone(&shared);
                let (method, path) = (method.clone(), path.clone());
                async move {
                    if let Some(delay) = delay {
                        // Metered on arrival, as an exchange meters: a slow
                        // answer does not move the request's tokens later.
                        let parsed = serde_json::from_slice::<Value>(&body).ok();
                        meter(&shared, &method, &path, &headers, parsed.as_ref(), arrived)?;
                        tokio::time::sleep(delay).await;
                    }
                    let metered = delay.is_none().then_some(arrived);
                    blocking(move || {
                        process_metered(&shared, &method, &path, &query, &headers, &body, metered)
                    })
                    .await
                }
            });
            let answer = task
                .await
                .unwrap_or_else(|_| Err(ApiErr::new(500, "internal", "the simulator failed")));
            after_fault(other.as_ref(), answer)
        }
    };
    shared
        .faults
        .set_status(index, response.as_ref().map_or(0, |r| r.status().as_u16()));
    response.ok_or(Dropped)
}

/// Runs `work`, which may wait for the exchange's lock, on a thread of its
/// own: the runtime's threads stay free to read requests and stamp their
/// arrival (the rate limits meter each as of then) however long the lock
/// is held.
async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, ApiErr> + Send + 'static,
) -> Result<T, ApiErr> {
    tokio::task::spawn_blocking(work)
        .await
        .unwrap_or_else(|_| Err(ApiErr::new(500, "internal", "the simulator failed")))
}

/// Applies a fault that lets the request execute first.
fn after_fault(fault: Option<&Fault>, answer: Answer) -> Option<Response<SimBody>> {
    let response = match answer {
        Ok((status, Some(body))) => json_response(status, &body),
        Ok((status, None)) => empty_response(status),
        Err(error) => error_response(&error),
    };
    match fault {
        Some(Fault::LoseResponse) => None,
        Some(Fault::TruncatedBody) => Some(truncate(response)),
        Some(Fault::MalformedJson) => Some(raw_response(
            response.status().as_u16(),
            Bytes::from_static(b"{\"orders\": [{\"order_id\": "),
        )),
        Some(Fault::NoContent) => Some(empty_response(204)),
        _ => Some(response),
    }
}

/// One request, metered as of now (the robustness tests' entry).
#[cfg(test)]
pub(crate) fn process(
    shared: &Shared,
    method: &str,
    path: &str,
    query: &str,
    headers: &HeaderMap,
    body: &[u8],
) -> Answer {
    process_metered(
        shared,
        method,
        path,
        query,
        headers,
        body,
        Some(std::time::Instant::now()),
    )
}

/// Takes a request's tokens from its key's bucket as of its arrival (when
/// the simulator enforces limits): 429 when too few were left.
fn meter(
    shared: &Shared,
    method: &str,
    path: &str,
    headers: &HeaderMap,
    body: Option<&Value>,
    arrived: std::time::Instant,
) -> Result<(), ApiErr> {
    let Some(limits) = &shared.limits else {
        return Ok(());
    };
    let tokens = limits::COST * batch_items(body) as f64;
    let key = headers
        .get("kalshi-access-key")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("anonymous");
    if limits.take(key, method, path, tokens, arrived) {
        Ok(())
    } else {
        Err(ApiErr {
            status: 429,
            code: String::new(),
            message: String::new(),
        })
    }
}

fn process_metered(
    shared: &Shared,
    method: &str,
    path: &str,
    query: &str,
    headers: &HeaderMap,
    body: &[u8],
    // When the request arrived, to meter it; `None`: metered already.
    metered: Option<std::time::Instant>,
) -> Answer {
    let rest = path
        .strip_prefix(crate::BASE_PATH)
        .ok_or_else(|| ApiErr::new(404, "not_found", "no such endpoint"))?;
    let (operation, params) = match routes::find(method, rest) {
        Some(found) => found,
        None if routes::known_path(rest) => {
            return Err(ApiErr::new(
                405,
                "method_not_allowed",
                &format!("{method} is not allowed on this endpoint"),
            ));
        }
        None => return Err(ApiErr::new(404, "not_found", "no such endpoint")),
    };
    let mut query = routes::query_pairs(query);
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    // Who is asking comes first: nothing of an unauthenticated request is
    // parsed or executed.
    let user = if operation.authenticated {
        let presented = auth::Presented {
            key_id: header("kalshi-access-key"),
            timestamp: header("kalshi-access-timestamp"),
            signature: header("kalshi-access-signature"),
        };
        Some(auth::authenticate(
            |id| shared.state().keys.get(id).cloned(),
            &presented,
            method,
            path,
            crate::clock::real_now_ms(),
        )?)
    } else {
        None
    };
    // Parsed once, then metered (a batch costs per item).
    let mut body = parse_body(body)?;
    if let Some(arrived) = metered {
        meter(shared, method, path, headers, body.as_ref(), arrived)?;
    }
    crate::strict::check(operation, &query, body.as_ref())?;
    let mut state = shared.state();
    // A key made through the API may be limited in scope or subaccount.
    if let (true, Some(key_id)) = (operation.authenticated, header("kalshi-access-key")) {
        crate::account::authorize(&state, key_id, operation, &mut query, &mut body)?;
    }
    let now_ms = state.clock.now_ms();
    let call = Call {
        operation,
        user,
        params,
        query,
        body,
        now_ms,
    };
    state.engine.set_time_ms(now_ms);
    let answer = api::dispatch(&mut state, &call);
    state.publish();
    answer
}

fn too_large() -> ApiErr {
    ApiErr::new(
        413,
        "payload_too_large",
        &format!("request bodies are limited to {MAX_BODY_BYTES} bytes"),
    )
}

fn parse_body(body: &[u8]) -> Result<Option<Value>, ApiErr> {
    if body.is_empty() {
        return Ok(None);
    }
    serde_json::from_slice(body)
        .map(Some)
        .map_err(|e| ApiErr::bad_request("invalid_json", &format!("the body is not JSON: {e}")))
}

/// Batch requests cost per item.
fn batch_items(body: Option<&Value>) -> usize {
    body.and_then(|b| b["orders"].as_array())
        .map_or(1, |orders| orders.len().max(1))
}

fn error_response(error: &ApiErr) -> Response<SimBody> {
    if error.status == 429 {
        return json_response(429, &json!({"error": "too many requests"}));
    }
    json_response(error.status, &error.body())
}

fn json_response(status: u16, body: &Value) -> Response<SimBody> {
    raw_response(status, Bytes::from(body.to_string()))
}

fn raw_response(status: u16, body: Bytes) -> Response<SimBody> {
    let mut response = Response::new(SimBody {
        data: Some(body),
        fail: false,
    });
    *response.status_mut() =
        hyper::StatusCode::from_u16(status).unwrap_or(hyper::StatusCode::INTERNAL_SERVER_ERROR);
    response.headers_mut().insert(
        "content-type",
        hyper::header::HeaderValue::from_static("application/json"),
    );
    response
}

fn empty_response(status: u16) -> Response<SimBody> {
    let mut response = raw_response(status, Bytes::new());
    response.headers_mut().remove("content-type");
    response
}

/// Announces the full length, sends half, then fails the body: the client
/// sees a connection cut mid-response.
fn truncate(response: Response<SimBody>) -> Response<SimBody> {
    let (mut parts, body) = response.into_parts();
    let data = body.data.unwrap_or_default();
    parts.headers.insert("content-length", data.len().into());
    Response::from_parts(
        parts,
        SimBody {
            data: Some(data.slice(..data.len() / 2)),
            fail: true,
        },
    )
}

impl SimBody {
    /// No body (a 101 or a 204).
    pub fn empty() -> Self {
        Self {
            data: None,
            fail: false,
        }
    }
}

/// A response body: some bytes, then optionally an error that aborts the connection.
pub(crate) struct SimBody {
    data: Option<Bytes>,
    fail: bool,
}

impl hyper::body::Body for SimBody {
    type Data = Bytes;
    type Error = std::io::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        _: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, std::io::Error>>> {
        if let Some(data) = self.data.take() {
            return Poll::Ready(Some(Ok(Frame::data(data))));
        }
        if std::mem::take(&mut self.fail) {
            return Poll::Ready(Some(Err(std::io::Error::other(
                "truncated by an injected fault",
            ))));
        }
        Poll::Ready(None)
    }
}
