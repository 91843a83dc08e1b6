//! The one error type of the client, and the parsing of Kalshi's error bodies.
//!
//! Every failure says whether anything reached the exchange: an
//! [`Error::InvalidRequest`] was caught before sending; a write that timed out
//! [may have executed](Error::may_have_executed). Kalshi answers errors in four
//! body shapes; all of them end up in one [`ApiError`].

use std::fmt;
use std::time::Duration;

use reqwest::StatusCode;
use reqwest::header::HeaderMap;
use serde_json::Value;

use crate::auth::KeyError;
use crate::rate_limit::StoreError;

/// The headers a request id may arrive in, most specific first.
const REQUEST_ID_HEADERS: [&str; 4] = ["x-request-id", "request-id", "x-amzn-requestid", "cf-ray"];

/// Longest excerpt of a response body kept in an error.
const EXCERPT_LEN: usize = 512;

/// What Kalshi said about a failed request.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ApiError {
    /// HTTP status.
    pub status: StatusCode,
    /// Kalshi's error code, e.g. `order_not_found` or `user_not_found:_<uuid>`.
    pub code: Option<String>,
    /// Kalshi's message.
    pub message: Option<String>,
    /// Additional details, as text (objects are kept as JSON text).
    pub details: Option<String>,
    /// The request id the server (or its edge) assigned, for support tickets.
    pub request_id: Option<String>,
    /// The operation that failed (progenitor's name, e.g. `create_order_v2`).
    pub operation: &'static str,
}

impl ApiError {
    /// Parses any of the four error-body shapes Kalshi sends:
    /// `{"error":{"code","message","details"}}`, `{"code","message","details"}`,
    /// `{"msg": ...}` and `{"error": "text"}`. Anything else (an HTML page from
    /// a proxy, an empty body) keeps an excerpt of the text as the message.
    pub fn from_response(
        status: StatusCode,
        headers: &HeaderMap,
        body: &[u8],
        operation: &'static str,
    ) -> Self {
        let (code, message, details) = parse_body(body);
        Self {
            status,
            code,
            message,
            details,
            request_id: request_id(headers),
            operation,
        }
    }

    /// The code without Kalshi's `:_<suffix>` (`user_not_found:_<uuid>` -> `user_not_found`).
    pub fn code_base(&self) -> Option<&str> {
        self.code
            .as_deref()
            .map(|code| code.split(':').next().unwrap_or(code))
    }
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "HTTP {}", self.status.as_u16())?;
        if let Some(code) = &self.code {
            write!(f, " {code}")?;
        }
        if let Some(message) = &self.message {
            write!(f, ": {message}")?;
        }
        if let Some(details) = &self.details {
            write!(f, " ({details})")?;
        }
        write!(f, " [{}]", self.operation)?;
        if let Some(id) = &self.request_id {
            write!(f, " request id {id}")?;
        }
        Ok(())
    }
}

fn parse_body(body: &[u8]) -> (Option<String>, Option<String>, Option<String>) {
    let Ok(value) = serde_json::from_slice::<Value>(body) else {
        let text = excerpt(body);
        return (None, (!text.trim().is_empty()).then_some(text), None);
    };
    let fields = |obj: &Value| {
        (
            text_field(obj, "code"),
            text_field(obj, "message"),
            text_field(obj, "details"),
        )
    };
    match value.get("error") {
        Some(nested @ Value::Object(_)) => fields(nested),
        Some(Value::String(text)) => (None, Some(text.clone()), None),
        _ if value.get("msg").is_some() => (None, text_field(&value, "msg"), None),
        _ => fields(&value),
    }
}

/// A field as text: strings as they are, other JSON values as JSON text.
fn text_field(obj: &Value, name: &str) -> Option<String> {
    match obj.get(name)? {
        Value::Null => None,
        Value::String(text) => Some(text.clone()),
        other => Some(other.to_string()),
    }
}

fn request_id(headers: &HeaderMap) -> Option<String> {
    REQUEST_ID_HEADERS
        .iter()
        .find_map(|name| headers.get(*name)?.to_str().ok().map(str::to_owned))
}

/// The first [`EXCERPT_LEN`] bytes of a body, as lossy UTF-8 — unless the
/// body holds key material (an API key generation answer), which never goes
/// into an error message.
pub(crate) fn excerpt(body: &[u8]) -> String {
    if body.windows(11).any(|w| w == b"PRIVATE KEY")
        || body.windows(11).any(|w| w == b"private_key")
    {
        return "<withheld: the body holds key material>".to_owned();
    }
    let cut = &body[..body.len().min(EXCERPT_LEN)];
    let mut text = String::from_utf8_lossy(cut).into_owned();
    if body.len() > EXCERPT_LEN {
        text.push('…');
    }
    text
}

/// Everything that can go wrong with a call.
#[derive(Debug)]
#[non_exhaustive]
pub enum Error {
    /// The request was refused before anything was sent: a value out of
    /// range, a missing required field, an unsafe destination.
    InvalidRequest {
        /// What was wrong, in words.
        message: String,
    },
    /// The client cannot be built as configured: a base URL that is not one,
    /// a signed destination over plain HTTP, an invalid `KALSHI_ENV`, ...
    /// Nothing was sent, because no client exists yet.
    Config {
        /// What is wrong, and how to fix it.
        message: String,
    },
    /// The call must be signed but the client has no credentials.
    MissingCredentials {
        /// The operation that needs them.
        operation: &'static str,
    },
    /// The private key could not be used.
    Key(KeyError),
    /// The shared rate budget (a Redis store) could not be reached within
    /// its bound, so the request was not sent.
    RateBudgetUnavailable {
        /// The operation.
        operation: &'static str,
        /// Why.
        source: StoreError,
    },
    /// 400 or 422: the exchange refused the request as malformed or invalid.
    BadRequest(Box<ApiError>),
    /// 401 or 403: the signature, key or permissions were refused.
    Auth {
        /// What Kalshi said.
        error: Box<ApiError>,
        /// For `header_timestamp_expired`: server clock minus local clock,
        /// measured from the response `Date` header (1 s resolution).
        clock_offset: Option<ClockOffset>,
    },
    /// 404: no such resource (for cancels: already canceled, filled, or unknown).
    NotFound(Box<ApiError>),
    /// 409: conflicts with existing state, e.g. a reused `client_order_id`.
    Conflict(Box<ApiError>),
    /// 410: the endpoint is retired (e.g. the V1 order writes).
    Gone(Box<ApiError>),
    /// 429 after all permitted retries. Kalshi did not execute the request.
    RateLimited(Box<ApiError>),
    /// 5xx after all permitted retries.
    Server(Box<ApiError>),
    /// Any other non-success status.
    UnexpectedStatus(Box<ApiError>),
    /// No response in time.
    Timeout {
        /// The operation.
        operation: &'static str,
        /// True for a write that may have reached the exchange.
        may_have_executed: bool,
    },
    /// The connection failed.
    Transport {
        /// The operation.
        operation: &'static str,
        /// False for reads, for a failure before any byte was sent, and
        /// when an HTTP/2 server refused the request's stream unprocessed.
        may_have_executed: bool,
        /// The underlying error.
        source: reqwest::Error,
    },
    /// A success response whose body did not match the spec.
    Decode {
        /// The operation.
        operation: &'static str,
        /// The HTTP status.
        status: Option<StatusCode>,
        /// The start of the body.
        excerpt: String,
        /// The parser's complaint.
        source: serde_json::Error,
    },
    /// The server broke the API's contract, e.g. a 204 where a body is due,
    /// or a cursor that repeats.
    ProtocolViolation {
        /// The operation.
        operation: &'static str,
        /// What was wrong.
        message: String,
    },
}

/// Server time minus local time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClockOffset {
    /// Milliseconds; positive when the local clock is behind the server.
    pub millis: i64,
}

impl ClockOffset {
    /// The size of the offset.
    pub fn magnitude(self) -> Duration {
        Duration::from_millis(self.millis.unsigned_abs())
    }
}

impl Error {
    /// Builds the error for a non-success response.
    pub(crate) fn from_api(error: ApiError, clock_offset: Option<ClockOffset>) -> Self {
        let status = error.status.as_u16();
        let error = Box::new(error);
        match status {
            400 | 422 => Self::BadRequest(error),
            401 | 403 => Self::Auth {
                error,
                clock_offset,
            },
            404 => Self::NotFound(error),
            409 => Self::Conflict(error),
            410 => Self::Gone(error),
            429 => Self::RateLimited(error),
            500..=599 => Self::Server(error),
            _ => Self::UnexpectedStatus(error),
        }
    }

    /// Shorthand for [`Error::InvalidRequest`].
    pub fn invalid(message: impl Into<String>) -> Self {
        Self::InvalidRequest {
            message: message.into(),
        }
    }

    /// Shorthand for [`Error::Config`].
    pub(crate) fn config(message: impl Into<String>) -> Self {
        Self::Config {
            message: message.into(),
        }
    }

    /// What Kalshi said, when the error came from a response.
    pub fn api_error(&self) -> Option<&ApiError> {
        match self {
            Self::BadRequest(e)
            | Self::Auth { error: e, .. }
            | Self::NotFound(e)
            | Self::Conflict(e)
            | Self::Gone(e)
            | Self::RateLimited(e)
            | Self::Server(e)
            | Self::UnexpectedStatus(e) => Some(e.as_ref()),
            _ => None,
        }
    }

    /// The HTTP status, when there was a response.
    pub fn status(&self) -> Option<StatusCode> {
        match self {
            Self::Decode { status, .. } => *status,
            other => other.api_error().map(|e| e.status),
        }
    }

    /// Whether the exchange may have acted on the request. `false` means it
    /// provably did not (caught locally, refused with a status, never sent,
    /// its HTTP/2 stream refused) or that the request was a read. A 5xx, an
    /// undecodable answer or a broken contract after a write counts as "may
    /// have": the exchange may have executed the order before failing.
    pub fn may_have_executed(&self) -> bool {
        match self {
            Self::Timeout {
                may_have_executed, ..
            }
            | Self::Transport {
                may_have_executed, ..
            } => *may_have_executed,
            Self::Server(api) => is_write(api.operation),
            Self::Decode { operation, .. } | Self::ProtocolViolation { operation, .. } => {
                is_write(operation)
            }
            _ => false,
        }
    }
}

/// Writes change state on the exchange; an operation the table does not
/// know is treated as one, to stay on the safe side.
fn is_write(operation: &str) -> bool {
    kalshi_gen::Operation::find(operation).is_none_or(|op| !op.is_read())
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::InvalidRequest { message } => write!(f, "request not sent: {message}"),
            Self::Config { message } => write!(f, "invalid client configuration: {message}"),
            Self::MissingCredentials { operation } => write!(
                f,
                "request not sent: {operation} must be signed, and this client has no API key \
                 (set KALSHI_API_KEY_ID and KALSHI_PRIVATE_KEY_PATH, or pass credentials to the builder)"
            ),
            Self::Key(_) => f.write_str("the API key cannot be used"),
            Self::RateBudgetUnavailable { operation, source } => {
                write!(f, "{operation}: {source}")
            }
            Self::BadRequest(e) => write!(f, "the exchange rejected the request: {e}"),
            Self::Auth {
                error,
                clock_offset,
            } => {
                write!(f, "authentication failed: {error}")?;
                if let Some(offset) = clock_offset {
                    let direction = if offset.millis >= 0 {
                        "behind"
                    } else {
                        "ahead of"
                    };
                    write!(
                        f,
                        "; this machine's clock is about {:.1} s {direction} the exchange's",
                        offset.magnitude().as_secs_f64()
                    )?;
                }
                Ok(())
            }
            Self::NotFound(e) => write!(f, "not found: {e}"),
            Self::Conflict(e) => write!(f, "conflict with existing state: {e}"),
            Self::Gone(e) => write!(f, "this endpoint is retired: {e}"),
            Self::RateLimited(e) => write!(f, "rate limited, the request was not executed: {e}"),
            Self::Server(e) => write!(f, "exchange server error: {e}"),
            Self::UnexpectedStatus(e) => write!(f, "unexpected response: {e}"),
            Self::Timeout {
                operation,
                may_have_executed,
            } => {
                write!(f, "{operation} timed out")?;
                if *may_have_executed {
                    f.write_str(
                        "; the exchange may have executed it: look it up (e.g. by client_order_id) before resending",
                    )?;
                }
                Ok(())
            }
            Self::Transport {
                operation,
                may_have_executed,
                source,
            } => {
                write!(f, "{operation}: connection failed")?;
                if *may_have_executed {
                    f.write_str("; the exchange may have received it")?;
                } else if source.is_connect() {
                    f.write_str("; nothing was sent")?;
                } else if crate::retry::is_protocol_refusal(source) {
                    f.write_str("; the server did not process it")?;
                }
                Ok(())
            }
            Self::Decode {
                operation,
                status,
                excerpt,
                ..
            } => {
                write!(f, "{operation}: the response could not be decoded")?;
                if let Some(status) = status {
                    write!(f, " [HTTP {}]", status.as_u16())?;
                }
                write!(f, "; body starts with: {excerpt}")
            }
            Self::ProtocolViolation { operation, message } => {
                write!(
                    f,
                    "{operation}: the exchange broke the API contract: {message}"
                )
            }
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Key(e) => Some(e),
            Self::RateBudgetUnavailable { source, .. } => Some(source),
            Self::Transport { source, .. } => Some(source),
            Self::Decode { source, .. } => Some(source),
            _ => None,
        }
    }
}

impl From<KeyError> for Error {
    fn from(error: KeyError) -> Self {
        Self::Key(error)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(body: &str) -> ApiError {
        let mut headers = HeaderMap::new();
        headers.insert("x-request-id", "req-42".parse().unwrap());
        ApiError::from_response(
            StatusCode::BAD_REQUEST,
            &headers,
            body.as_bytes(),
            "create_order_v2",
        )
    }

    #[test]
    fn parses_all_four_body_shapes() {
        let nested = parse(
            r#"{"error":{"code":"invalid_price","message":"price out of range","details":"tick 0.01"}}"#,
        );
        assert_eq!(nested.code.as_deref(), Some("invalid_price"));
        assert_eq!(nested.message.as_deref(), Some("price out of range"));
        assert_eq!(nested.details.as_deref(), Some("tick 0.01"));
        let flat = parse(r#"{"code":"missing_parameters","message":"ticker is required"}"#);
        assert_eq!(
            (flat.code.as_deref(), flat.message.as_deref()),
            (Some("missing_parameters"), Some("ticker is required"))
        );
        let msg = parse(r#"{"msg":"bad things"}"#);
        assert_eq!(
            (msg.code, msg.message.as_deref()),
            (None, Some("bad things"))
        );
        let text = parse(r#"{"error":"too many requests"}"#);
        assert_eq!(
            (text.code, text.message.as_deref()),
            (None, Some("too many requests"))
        );
        assert_eq!(text.request_id.as_deref(), Some("req-42"));
    }

    #[test]
    fn keeps_structured_details_and_code_suffixes() {
        let error = parse(
            r#"{"code":"user_not_found:_9f1c","message":"no user","details":{"field":"subaccount"}}"#,
        );
        assert_eq!(error.code_base(), Some("user_not_found"));
        assert_eq!(error.details.as_deref(), Some(r#"{"field":"subaccount"}"#));
    }

    #[test]
    fn key_material_never_reaches_an_excerpt() {
        let body =
            br#"{"api_key_id":"k","private_key":"-----BEGIN RSA PRIVATE KEY-----\nMIIE..."}"#;
        assert!(!excerpt(body).contains("MIIE"));
    }

    #[test]
    fn a_non_json_body_becomes_an_excerpt() {
        let html = format!("<html>{}</html>", "x".repeat(2000));
        let error = parse(&html);
        let message = error.message.unwrap();
        assert!(
            message.starts_with("<html>") && message.len() < 600,
            "{}",
            message.len()
        );
        assert_eq!(parse("").message, None);
    }

    #[test]
    fn statuses_map_to_kinds() {
        let kind = |status: u16| {
            let api = ApiError::from_response(
                StatusCode::from_u16(status).unwrap(),
                &HeaderMap::new(),
                b"{}",
                "op",
            );
            Error::from_api(api, None)
        };
        assert!(matches!(kind(400), Error::BadRequest(_)));
        assert!(matches!(kind(422), Error::BadRequest(_)));
        assert!(matches!(kind(401), Error::Auth { .. }));
        assert!(matches!(kind(403), Error::Auth { .. }));
        assert!(matches!(kind(404), Error::NotFound(_)));
        assert!(matches!(kind(409), Error::Conflict(_)));
        assert!(matches!(kind(410), Error::Gone(_)));
        assert!(matches!(kind(429), Error::RateLimited(_)));
        assert!(matches!(kind(503), Error::Server(_)));
        assert!(matches!(kind(418), Error::UnexpectedStatus(_)));
        assert!(!kind(429).may_have_executed());
        let write = ApiError::from_response(
            StatusCode::BAD_GATEWAY,
            &HeaderMap::new(),
            b"{}",
            "create_order_v2",
        );
        assert!(Error::from_api(write, None).may_have_executed());
        let read = ApiError::from_response(
            StatusCode::BAD_GATEWAY,
            &HeaderMap::new(),
            b"{}",
            "get_balance",
        );
        assert!(!Error::from_api(read, None).may_have_executed());
    }

    #[test]
    fn display_says_what_happened_with_code_and_message() {
        let api = parse(
            r#"{"error":{"code":"order_already_exists","message":"client_order_id reused"}}"#,
        );
        let text = Error::Conflict(Box::new(api)).to_string();
        assert!(text.contains("conflict"), "{text}");
        assert!(
            text.contains("order_already_exists: client_order_id reused"),
            "{text}"
        );
        assert!(text.contains("request id req-42"), "{text}");
        let timeout = Error::Timeout {
            operation: "create_order_v2",
            may_have_executed: true,
        }
        .to_string();
        assert!(timeout.contains("may have executed"), "{timeout}");
        let skew = Error::Auth {
            error: Box::new(parse(r#"{"code":"header_timestamp_expired"}"#)),
            clock_offset: Some(ClockOffset { millis: 75_000 }),
        };
        assert!(skew.to_string().contains("75.0 s behind"), "{skew}");
    }
}
