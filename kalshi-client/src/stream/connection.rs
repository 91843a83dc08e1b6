//! One WebSocket connection: dial (signed afresh each time), read, write,
//! watch the heartbeat, and redial after a full-jitter backoff.
//!
//! The task knows nothing of subscriptions: it hands every text frame to the
//! hub and sends what the hub gives it. Each time it comes up it starts a
//! new *epoch*; frames the hub queued for an earlier epoch (sent while the
//! connection was already dying) are dropped, because the hub resubscribes
//! everything for the new epoch itself.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use futures_util::{SinkExt, StreamExt};
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::protocol::Message;

use super::splice::{Io, Splice, placeholder};
use super::{Config, StreamError};
use crate::auth::Credentials;
use crate::environment::Environment;

/// The WebSocket path, signed like a REST path.
pub(crate) const PATH: &str = "/trade-api/ws/v2";

/// What a connection tells the hub.
#[derive(Debug)]
pub(crate) enum Report {
    /// Up, in a new epoch.
    Up { connection: usize, epoch: u64 },
    /// A text frame.
    Frame {
        connection: usize,
        epoch: u64,
        text: String,
        /// When it was read off the socket (position recovery orders
        /// stream messages and REST reads by it).
        received: Instant,
    },
    /// Lost; it will redial.
    Down {
        connection: usize,
        epoch: u64,
        reason: String,
        /// When it last received anything (a ping included), by this
        /// machine's clock: whatever was sent after may be lost.
        heard: SystemTime,
    },
    /// Dialling again after `delay`.
    Redialing {
        connection: usize,
        attempt: u32,
        delay: Duration,
    },
    /// The connection's first dial failed; it keeps trying, but the
    /// session may give up starting (see the hub).
    FirstFailed {
        error: StreamError,
        /// Redialling will not fix it (the upgrade was refused with a 4xx:
        /// a refused key or signature).
        final_: bool,
    },
}

/// A frame for the connection, valid in one epoch.
pub(crate) struct Outgoing {
    pub epoch: u64,
    pub text: String,
}

/// The WebSocket URL of an environment: Kalshi's published hosts, or a
/// custom base URL with its `/trade-api/v2` path replaced by the WebSocket
/// path and `http(s)` by `ws(s)` (the simulator serves both on one port).
pub(crate) fn websocket_url(environment: &Environment) -> Result<String, StreamError> {
    Ok(match environment {
        Environment::Production => format!("wss://external-api-ws.kalshi.com{PATH}"),
        Environment::ProductionShared => format!("wss://api.elections.kalshi.com{PATH}"),
        Environment::Demo => format!("wss://external-api-ws.demo.kalshi.co{PATH}"),
        Environment::DemoShared => format!("wss://demo-api.kalshi.co{PATH}"),
        Environment::Custom(base) => {
            let mut url = url::Url::parse(base).map_err(|e| StreamError::Config {
                message: format!("base URL {base:?}: {e}"),
            })?;
            let scheme = match url.scheme() {
                "https" => "wss",
                "http" => "ws",
                other => {
                    return Err(StreamError::Config {
                        message: format!("base URL scheme {other:?} has no WebSocket counterpart"),
                    });
                }
            };
            url.set_scheme(scheme).map_err(|()| StreamError::Config {
                message: "cannot switch the base URL to a WebSocket scheme".to_owned(),
            })?;
            url.set_path(PATH);
            url.to_string()
        }
        #[allow(unreachable_patterns)]
        _ => {
            return Err(StreamError::Config {
                message: "this environment has no known WebSocket address".to_owned(),
            });
        }
    })
}

/// Runs connection `index` until the hub goes away.
pub(crate) async fn run(
    index: usize,
    url: String,
    credentials: Credentials,
    user_agent: HeaderValue,
    config: Config,
    hub: mpsc::UnboundedSender<Report>,
    mut outbox: mpsc::UnboundedReceiver<Outgoing>,
) {
    let mut epoch = 0;
    let mut attempt: u32 = 0;
    loop {
        let dialled = tokio::time::timeout(
            config.connect_timeout,
            dial(&url, &credentials, &user_agent),
        )
        .await
        .unwrap_or_else(|_| {
            Err(DialError::Other(format!(
                "no connection within {} s",
                config.connect_timeout.as_secs_f64()
            )))
        });
        let mut socket = match dialled {
            Ok(socket) => socket,
            Err(error) => {
                if epoch == 0 && attempt == 0 {
                    let final_ = error.is_final();
                    let report = Report::FirstFailed {
                        error: error.into_stream_error(),
                        final_,
                    };
                    if hub.send(report).is_err() {
                        return;
                    }
                }
                attempt += 1;
                if !redial(index, attempt, &config, &hub).await {
                    return;
                }
                continue;
            }
        };
        epoch += 1;
        attempt = 0;
        // Frames queued for an earlier epoch are stale: the hub resubscribes.
        while outbox.try_recv().is_ok() {}
        if hub
            .send(Report::Up {
                connection: index,
                epoch,
            })
            .is_err()
        {
            return;
        }
        let mut heard = SystemTime::now();
        let reason = serve(
            index,
            epoch,
            &mut socket,
            &config,
            &hub,
            &mut outbox,
            &mut heard,
        )
        .await;
        let Some(reason) = reason else {
            let _ = socket.close(None).await;
            return; // the hub is gone: the session ended
        };
        let _ = socket.close(None).await;
        if hub
            .send(Report::Down {
                connection: index,
                epoch,
                reason,
                heard,
            })
            .is_err()
        {
            return;
        }
        attempt += 1;
        if !redial(index, attempt, &config, &hub).await {
            return;
        }
    }
}

type Socket = tokio_tungstenite::WebSocketStream<Splice>;

/// Reads and writes until the connection ends; the reason it ended, or
/// `None` when the hub went away. `heard` is kept at the wall-clock time of
/// the last frame received.
async fn serve(
    index: usize,
    epoch: u64,
    socket: &mut Socket,
    config: &Config,
    hub: &mpsc::UnboundedSender<Report>,
    outbox: &mut mpsc::UnboundedReceiver<Outgoing>,
    heard: &mut SystemTime,
) -> Option<String> {
    let mut last_heard = Instant::now();
    loop {
        let silence = tokio::time::sleep_until((last_heard + config.heartbeat_timeout).into());
        tokio::select! {
            frame = socket.next() => {
                last_heard = Instant::now();
                *heard = SystemTime::now();
                match frame {
                    Some(Ok(Message::Text(text))) => {
                        let report = Report::Frame { connection: index, epoch, text: text.as_str().to_owned(), received: last_heard };
                        if hub.send(report).is_err() {
                            return None;
                        }
                    }
                    // Pings are answered by the WebSocket layer as it reads.
                    Some(Ok(Message::Ping(_) | Message::Pong(_) | Message::Frame(_))) => {}
                    Some(Ok(Message::Binary(_))) => {
                        return Some("the server sent a binary frame; Kalshi sends text".to_owned());
                    }
                    Some(Ok(Message::Close(frame))) => {
                        return Some(match frame {
                            Some(frame) => format!("closed by the server ({}: {})", frame.code, frame.reason),
                            None => "closed by the server".to_owned(),
                        });
                    }
                    Some(Err(error)) => return Some(format!("connection failed: {error}")),
                    None => return Some("the connection ended".to_owned()),
                }
            }
            out = outbox.recv() => {
                let out = out?;
                if out.epoch != epoch {
                    continue;
                }
                if let Err(error) = socket.send(Message::text(out.text)).await {
                    return Some(format!("sending failed: {error}"));
                }
            }
            () = silence => {
                return Some(format!(
                    "no frame or ping for {} s: the connection is dead",
                    config.heartbeat_timeout.as_secs_f64()
                ));
            }
        }
    }
}

/// Waits the backoff before attempt `attempt`; `false` when the hub is gone.
async fn redial(
    index: usize,
    attempt: u32,
    config: &Config,
    hub: &mpsc::UnboundedSender<Report>,
) -> bool {
    let delay = full_jitter(config.backoff_base, config.backoff_max, attempt);
    let report = Report::Redialing {
        connection: index,
        attempt,
        delay,
    };
    if hub.send(report).is_err() {
        return false;
    }
    tokio::time::sleep(delay).await;
    !hub.is_closed()
}

/// "Full jitter": a uniformly random wait between zero and the capped
/// exponential backoff, so many clients reconnecting at once spread out.
pub(crate) fn full_jitter(base: Duration, max: Duration, attempt: u32) -> Duration {
    let exponent = attempt.saturating_sub(1).min(20);
    let ceiling = base.saturating_mul(1 << exponent).min(max);
    ceiling.mul_f64(fastrand::f64())
}

/// Why a dial failed.
#[derive(Debug)]
enum DialError {
    /// The upgrade was refused with this status.
    Refused(u16),
    /// Anything else (network, TLS, handshake).
    Other(String),
}

impl DialError {
    /// Failures that redialling will not fix.
    fn is_final(&self) -> bool {
        matches!(self, Self::Refused(400..=499))
    }

    fn into_stream_error(self) -> StreamError {
        match self {
            Self::Refused(status) => StreamError::Connect {
                message: format!("the upgrade was refused with HTTP {status}"),
                status: Some(status),
            },
            Self::Other(message) => StreamError::Connect {
                message,
                status: None,
            },
        }
    }
}

/// Opens the connection with freshly signed headers.
async fn dial(
    url: &str,
    credentials: &Credentials,
    user_agent: &HeaderValue,
) -> Result<Socket, DialError> {
    let mut request = url
        .into_client_request()
        .map_err(|e| DialError::Other(format!("bad WebSocket URL {url}: {e}")))?;
    request.headers_mut().insert(
        tokio_tungstenite::tungstenite::http::header::USER_AGENT,
        user_agent.clone(),
    );
    let timestamp = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
    // Signed over the URL's path: `/trade-api/ws/v2`, or `/margin` below it.
    let path = request.uri().path().to_owned();
    let signed = credentials
        .sign(timestamp, "GET", &path)
        .map_err(|e| DialError::Other(format!("signing failed: {e}")))?;
    // The request tungstenite sees (and logs at TRACE) carries a
    // placeholder; the signature is spliced in under it (see `splice`).
    let stand_in = placeholder(&signed.signature);
    for (name, value) in signed.pairs() {
        let shown = if name == "KALSHI-ACCESS-SIGNATURE" {
            stand_in.as_str()
        } else {
            value
        };
        let value = HeaderValue::from_str(shown)
            .map_err(|_| DialError::Other("a signing header is not a valid header value".into()))?;
        request.headers_mut().insert(name, value);
    }
    let io = open(&request).await.map_err(DialError::Other)?;
    let stream = Splice::new(io, &stand_in, &signed.signature);
    let config = None;
    match tokio_tungstenite::client_async_with_config(request, stream, config).await {
        Ok((socket, _)) => Ok(socket),
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
            Err(DialError::Refused(response.status().as_u16()))
        }
        Err(error) => Err(DialError::Other(error.to_string())),
    }
}

/// The host and port a request goes to, and whether it needs TLS.
fn endpoint(
    request: &tokio_tungstenite::tungstenite::handshake::client::Request,
) -> Result<(String, u16, bool), String> {
    let uri = request.uri();
    let tls = match uri.scheme_str() {
        Some("wss") => true,
        Some("ws") => false,
        other => return Err(format!("not a WebSocket URL scheme: {other:?}")),
    };
    let host = uri
        .host()
        .ok_or("the WebSocket URL has no host")?
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_owned();
    let port = uri.port_u16().unwrap_or(if tls { 443 } else { 80 });
    Ok((host, port, tls))
}

/// Opens the TCP connection (no Nagle delay: frames are small and
/// latency-bound) and, for `wss://`, TLS over it: rustls with aws-lc-rs
/// and the platform's verifier, as the REST client does (feature
/// `rustls`), or the platform's library (feature `native-tls`). Plain
/// `ws://` (the simulator) needs neither.
async fn open(
    request: &tokio_tungstenite::tungstenite::handshake::client::Request,
) -> Result<Box<dyn Io>, String> {
    let (host, port, tls) = endpoint(request)?;
    let tcp = tokio::net::TcpStream::connect((host.as_str(), port))
        .await
        .map_err(|e| format!("cannot connect to {host}:{port}: {e}"))?;
    let _ = tcp.set_nodelay(true);
    if tls {
        wrap_tls(&host, tcp).await
    } else {
        Ok(Box::new(tcp))
    }
}

#[cfg(feature = "rustls")]
async fn wrap_tls(host: &str, tcp: tokio::net::TcpStream) -> Result<Box<dyn Io>, String> {
    use rustls_platform_verifier::BuilderVerifierExt;
    use std::sync::{Arc, OnceLock};
    static CONFIG: OnceLock<Result<Arc<rustls::ClientConfig>, String>> = OnceLock::new();
    let config = CONFIG
        .get_or_init(|| {
            let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
            rustls::ClientConfig::builder_with_provider(provider)
                .with_safe_default_protocol_versions()
                .map_err(|e| e.to_string())?
                .with_platform_verifier()
                .map_err(|e| e.to_string())
                .map(|builder| Arc::new(builder.with_no_client_auth()))
        })
        .clone()?;
    let name = rustls::pki_types::ServerName::try_from(host.to_owned())
        .map_err(|e| format!("{host} is not a TLS server name: {e}"))?;
    let stream = tokio_rustls::TlsConnector::from(config)
        .connect(name, tcp)
        .await
        .map_err(|e| format!("TLS with {host} failed: {e}"))?;
    Ok(Box::new(stream))
}

#[cfg(all(not(feature = "rustls"), feature = "native-tls"))]
async fn wrap_tls(host: &str, tcp: tokio::net::TcpStream) -> Result<Box<dyn Io>, String> {
    let connector = native_tls::TlsConnector::new().map_err(|e| e.to_string())?;
    let stream = tokio_native_tls::TlsConnector::from(connector)
        .connect(host, tcp)
        .await
        .map_err(|e| format!("TLS with {host} failed: {e}"))?;
    Ok(Box::new(stream))
}

#[cfg(not(any(feature = "rustls", feature = "native-tls")))]
async fn wrap_tls(host: &str, _tcp: tokio::net::TcpStream) -> Result<Box<dyn Io>, String> {
    Err(format!(
        "wss://{host} needs TLS: enable the `rustls` or `native-tls` feature"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_follow_the_environment() {
        let url = |e: Environment| websocket_url(&e).unwrap();
        assert_eq!(
            url(Environment::Production),
            "wss://external-api-ws.kalshi.com/trade-api/ws/v2"
        );
        assert_eq!(
            url(Environment::Demo),
            "wss://external-api-ws.demo.kalshi.co/trade-api/ws/v2"
        );
        assert_eq!(
            url(Environment::Custom(
                "http://127.0.0.1:8080/trade-api/v2".into()
            )),
            "ws://127.0.0.1:8080/trade-api/ws/v2"
        );
        assert_eq!(
            url(Environment::Custom(
                "https://proxy.example/trade-api/v2".into()
            )),
            "wss://proxy.example/trade-api/ws/v2"
        );
        assert!(websocket_url(&Environment::Custom("ftp://x/trade-api/v2".into())).is_err());
    }

    #[test]
    fn backoff_is_full_jitter_under_a_doubling_cap() {
        let (base, max) = (Duration::from_millis(100), Duration::from_secs(2));
        for attempt in 1..40 {
            let ceiling = base.saturating_mul(1 << (attempt - 1).min(20)).min(max);
            for _ in 0..20 {
                let delay = full_jitter(base, max, attempt);
                assert!(
                    delay <= ceiling,
                    "attempt {attempt}: {delay:?} > {ceiling:?}"
                );
            }
        }
        let spread: std::collections::HashSet<Duration> =
            (0..50).map(|_| full_jitter(base, max, 10)).collect();
        assert!(spread.len() > 40, "the waits are spread, not fixed");
    }
}
