//! The WebSocket APIs on the REST port: `/trade-api/ws/v2` (event
//! contracts) and `/trade-api/ws/v2/margin` (the margin exchange).
//!
//! The upgrade is authenticated like a REST request (signed over `GET` and
//! the WebSocket path) before anything else happens. Each session then
//! answers Kalshi's commands (`subscribe`, `unsubscribe`,
//! `update_subscription`, `list_subscriptions`), streams the exchange's
//! [`Update`]s to its subscriptions with their own `sid` and `seq`, pings
//! every ten seconds, and applies the stream faults a test injects.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use hyper::body::Incoming;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use serde_json::{Value, json};
use tokio::sync::mpsc;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::protocol::{Message, Role};

use crate::faults::{Direction, StreamFault, StreamFrame};
use crate::feed::{Topic, Update};
use crate::http::{ApiErr, SimBody};
use crate::{Shared, auth};

/// The WebSocket path, as Kalshi serves it.
pub const WS_PATH: &str = "/trade-api/ws/v2";

/// The margin WebSocket path (Kalshi serves it on its own hosts; the
/// simulator beside the other).
pub const MARGIN_WS_PATH: &str = "/trade-api/ws/v2/margin";

/// Which exchange a WebSocket session streams.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Venue {
    EventContracts,
    Margin,
}

impl Venue {
    /// The venue a WebSocket path serves, if any.
    pub(crate) fn of_path(path: &str) -> Option<Self> {
        match path {
            WS_PATH => Some(Self::EventContracts),
            MARGIN_WS_PATH => Some(Self::Margin),
            _ => None,
        }
    }

    fn path(self) -> &'static str {
        match self {
            Self::EventContracts => WS_PATH,
            Self::Margin => MARGIN_WS_PATH,
        }
    }

    fn channels(self) -> &'static [ChannelInfo] {
        match self {
            Self::EventContracts => &CHANNELS,
            Self::Margin => &MARGIN_CHANNELS,
        }
    }
}

/// How often the server pings, as Kalshi does.
const PING_EVERY: Duration = Duration::from_secs(10);

/// Answers an upgrade request: 101 and a session, or an error response.
pub(crate) fn upgrade(
    shared: &Arc<Shared>,
    request: Request<Incoming>,
    venue: Venue,
) -> Result<Response<SimBody>, ApiErr> {
    if request.method() != hyper::Method::GET {
        return Err(ApiErr::new(
            405,
            "method_not_allowed",
            "the WebSocket API is GET only",
        ));
    }
    let header = |name: &str| {
        request
            .headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    let is_upgrade = header("upgrade").is_some_and(|v| v.eq_ignore_ascii_case("websocket"));
    let (Some(key), true) = (header("sec-websocket-key"), is_upgrade) else {
        return Err(ApiErr::bad_request(
            "websocket_required",
            "this path takes a WebSocket upgrade",
        ));
    };
    if header("sec-websocket-version").as_deref() != Some("13") {
        return Err(ApiErr::bad_request(
            "websocket_version",
            "Sec-WebSocket-Version must be 13",
        ));
    }
    let presented = auth::Presented {
        key_id: request
            .headers()
            .get("kalshi-access-key")
            .and_then(|v| v.to_str().ok()),
        timestamp: request
            .headers()
            .get("kalshi-access-timestamp")
            .and_then(|v| v.to_str().ok()),
        signature: request
            .headers()
            .get("kalshi-access-signature")
            .and_then(|v| v.to_str().ok()),
    };
    let user = auth::authenticate(
        |id| shared.state().keys.get(id).cloned(),
        &presented,
        "GET",
        venue.path(),
        crate::clock::real_now_ms(),
    )?;
    let (id, faults) = shared.sessions.open();
    let updates = shared.state().feed.subscribe();
    let shared = Arc::clone(shared);
    tokio::spawn(async move {
        let Ok(upgraded) = hyper::upgrade::on(request).await else {
            shared.sessions.close(id);
            return;
        };
        let socket =
            WebSocketStream::from_raw_socket(TokioIo::new(upgraded), Role::Server, None).await;
        let session = Session {
            id,
            venue,
            user,
            shared: Arc::clone(&shared),
            socket,
            subs: BTreeMap::new(),
            next_sid: 0,
            pending: Pending::default(),
        };
        session.run(updates, faults).await;
        shared.sessions.close(id);
    });
    let accept = tokio_tungstenite::tungstenite::handshake::derive_accept_key(key.as_bytes());
    let mut response = Response::new(SimBody::empty());
    *response.status_mut() = hyper::StatusCode::SWITCHING_PROTOCOLS;
    let headers = response.headers_mut();
    headers.insert(
        hyper::header::CONNECTION,
        "Upgrade".parse().expect("a header value"),
    );
    headers.insert(
        hyper::header::UPGRADE,
        "websocket".parse().expect("a header value"),
    );
    headers.insert(
        hyper::header::SEC_WEBSOCKET_ACCEPT,
        accept.parse().expect("base64 is a header value"),
    );
    Ok(response)
}

/// A channel as the simulator serves it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct ChannelInfo {
    name: &'static str,
    /// What it streams (`None`: accepted, nothing the simulator models).
    topic: Option<Topic>,
    /// Whether its messages carry `seq`.
    sequenced: bool,
    /// Whether a subscription must name its markets.
    needs_markets: bool,
}

/// Every channel of Kalshi's document.
const CHANNELS: [ChannelInfo; 13] = [
    channel("orderbook_delta", Some(Topic::Orderbook), true, true),
    channel("ticker", Some(Topic::Ticker), false, false),
    channel("trade", Some(Topic::Trade), true, false),
    channel("fill", Some(Topic::Fill), false, false),
    channel(
        "market_positions",
        Some(Topic::MarketPositions),
        false,
        false,
    ),
    channel("user_orders", Some(Topic::UserOrders), false, false),
    channel("market_lifecycle_v2", Some(Topic::Lifecycle), true, false),
    channel(
        "order_group_updates",
        Some(Topic::OrderGroupUpdates),
        true,
        false,
    ),
    channel("multivariate_market_lifecycle", None, true, false),
    channel("communications", None, false, false),
    channel("cfbenchmarks_value", None, false, false),
    channel("cfbenchmarks_value_5hz", None, false, false),
    channel("pyth_value", None, false, false),
];

/// Every channel of Kalshi's margin document.
const MARGIN_CHANNELS: [ChannelInfo; 7] = [
    channel("orderbook_delta", Some(Topic::MarginOrderbook), true, true),
    channel("ticker", Some(Topic::MarginTicker), false, false),
    channel("trade", Some(Topic::MarginTrade), true, false),
    channel("fill", Some(Topic::MarginFill), false, false),
    channel("user_orders", Some(Topic::MarginUserOrders), false, false),
    channel(
        "order_group_updates",
        Some(Topic::MarginOrderGroupUpdates),
        true,
        false,
    ),
    channel("corporate_actions", None, true, false),
];

/// Whether a topic carries order book snapshots and deltas.
fn is_book(topic: Option<Topic>) -> bool {
    matches!(topic, Some(Topic::Orderbook | Topic::MarginOrderbook))
}

impl ChannelInfo {
    /// Whether a subscription's markets narrow what it receives.
    fn filters_markets(self) -> bool {
        !matches!(
            self.topic,
            Some(Topic::Lifecycle | Topic::OrderGroupUpdates | Topic::MarginOrderGroupUpdates)
        )
    }
}

const fn channel(
    name: &'static str,
    topic: Option<Topic>,
    sequenced: bool,
    needs_markets: bool,
) -> ChannelInfo {
    ChannelInfo {
        name,
        topic,
        sequenced,
        needs_markets,
    }
}

/// One subscription of a session.
struct Sub {
    channel: ChannelInfo,
    /// `None`: every market.
    markets: Option<BTreeSet<String>>,
    /// The last `seq` sent.
    seq: u64,
    /// Per market, the clock of the last snapshot sent: older deltas are
    /// already in it.
    snapshot_clock: HashMap<String, u64>,
}

/// Faults waiting for their moment.
#[derive(Debug, Default)]
struct Pending {
    skip: bool,
    repeat: bool,
    refuse: bool,
}

/// Kalshi's error codes the simulator answers with.
mod code {
    pub const PROCESSING: i64 = 1;
    pub const PARAMS_REQUIRED: i64 = 2;
    pub const CHANNELS_REQUIRED: i64 = 3;
    pub const SIDS_REQUIRED: i64 = 4;
    pub const UNKNOWN_COMMAND: i64 = 5;
    pub const UNKNOWN_SID: i64 = 7;
    pub const UNKNOWN_CHANNEL: i64 = 8;
    pub const CHANNEL_ERROR: i64 = 10;
    pub const INVALID_PARAMETER: i64 = 11;
    pub const ONE_SID: i64 = 12;
    pub const UNSUPPORTED_ACTION: i64 = 13;
    pub const MARKET_REQUIRED: i64 = 14;
    pub const ACTION_REQUIRED: i64 = 15;
}

/// A command's error answer.
struct CommandError(i64, String);

type Socket = WebSocketStream<TokioIo<hyper::upgrade::Upgraded>>;

/// Why a session ended.
enum End {
    Closed,
}

struct Session {
    id: u64,
    venue: Venue,
    user: String,
    shared: Arc<Shared>,
    socket: Socket,
    subs: BTreeMap<u64, Sub>,
    next_sid: u64,
    pending: Pending,
}

impl Session {
    async fn run(
        mut self,
        mut updates: mpsc::UnboundedReceiver<Arc<Update>>,
        mut faults: mpsc::UnboundedReceiver<StreamFault>,
    ) {
        let mut ping =
            tokio::time::interval_at(tokio::time::Instant::now() + PING_EVERY, PING_EVERY);
        let mut silent = false;
        loop {
            let step = tokio::select! {
                frame = self.socket.next(), if !silent => match frame {
                    Some(Ok(Message::Text(text))) => self.command(text.as_str()).await,
                    Some(Ok(Message::Close(_))) | None | Some(Err(_)) => Err(End::Closed),
                    Some(Ok(_)) => Ok(()),
                },
                update = updates.recv(), if !silent => match update {
                    Some(update) => self.deliver(&update).await,
                    None => Err(End::Closed),
                },
                fault = faults.recv() => match fault {
                    Some(StreamFault::Silence) => {
                        silent = true;
                        Ok(())
                    }
                    Some(fault) => self.fault(fault).await,
                    None => Err(End::Closed),
                },
                _ = ping.tick(), if !silent => self
                    .socket
                    .send(Message::Ping(b"heartbeat".to_vec().into()))
                    .await
                    .map_err(|_| End::Closed),
            };
            if step.is_err() {
                return;
            }
        }
    }

    // -----------------------------------------------------------------------
    // Writing
    // -----------------------------------------------------------------------

    async fn write(&mut self, text: String, injected: bool) -> Result<(), End> {
        self.shared.sessions.record(StreamFrame {
            session: self.id,
            direction: Direction::Sent,
            text: text.clone(),
            injected,
        });
        self.socket
            .send(Message::text(text))
            .await
            .map_err(|_| End::Closed)
    }

    async fn reply(&mut self, value: &Value) -> Result<(), End> {
        self.write(value.to_string(), false).await
    }

    async fn error(&mut self, id: Option<u64>, error: CommandError) -> Result<(), End> {
        let mut value = json!({"type": "error", "msg": {"code": error.0, "msg": error.1}});
        if let Some(id) = id {
            value["id"] = id.into();
        }
        self.reply(&value).await
    }

    /// A data message of subscription `sid`, numbered when its channel is.
    async fn data(&mut self, sid: u64, kind: &str, msg: &str, id: Option<u64>) -> Result<(), End> {
        let Some(sub) = self.subs.get_mut(&sid) else {
            return Ok(());
        };
        let sequenced = sub.channel.sequenced;
        let skip = sequenced && std::mem::take(&mut self.pending.skip);
        let repeat = std::mem::take(&mut self.pending.repeat);
        if sequenced {
            sub.seq += 1;
        }
        if skip {
            return Ok(()); // lost: its seq is used, nothing is sent
        }
        let id = id.map(|id| format!(r#""id":{id},"#)).unwrap_or_default();
        let seq = if sequenced {
            format!(r#","seq":{}"#, sub.seq)
        } else {
            String::new()
        };
        let text = format!(r#"{{"type":"{kind}",{id}"sid":{sid}{seq},"msg":{msg}}}"#);
        if repeat {
            self.write(text.clone(), true).await?;
        }
        self.write(text, false).await
    }

    /// The clock the published book of `market` is current at, and the
    /// book. (A future that does not borrow the session, which is not
    /// `Sync`.)
    fn published_book(&self, market: &str) -> impl Future<Output = (u64, String)> + Send + 'static {
        let (venue, market, shared) = (self.venue, market.to_owned(), Arc::clone(&self.shared));
        async move {
            shared
                .read_state(move |state| match venue {
                    Venue::EventContracts => state.feed.snapshot(&market),
                    Venue::Margin => state.margin.snapshot(&market),
                })
                .await
        }
    }

    async fn snapshot(&mut self, sid: u64, market: &str, id: Option<u64>) -> Result<(), End> {
        let (clock, msg) = self.published_book(market).await;
        if let Some(sub) = self.subs.get_mut(&sid) {
            sub.snapshot_clock.insert(market.to_owned(), clock);
        }
        self.data(sid, "orderbook_snapshot", &msg, id).await
    }

    /// Sends an update to every subscription it belongs to.
    async fn deliver(&mut self, update: &Update) -> Result<(), End> {
        if update.user.as_ref().is_some_and(|u| *u != self.user) {
            return Ok(());
        }
        let sids: Vec<u64> = self
            .subs
            .iter()
            .filter(|(_, s)| s.channel.topic == Some(update.topic))
            .filter(|(_, s)| {
                // Kalshi ignores market filters on the lifecycle and order
                // group channels.
                !s.channel.filters_markets()
                    || s.markets
                        .as_ref()
                        .is_none_or(|m| m.contains(&update.market))
            })
            .filter(|(_, s)| {
                // A snapshot sent since already includes this delta.
                !is_book(Some(update.topic))
                    || s.snapshot_clock
                        .get(&update.market)
                        .is_some_and(|clock| update.clock > *clock)
            })
            .map(|(sid, _)| *sid)
            .collect();
        for sid in sids {
            self.data(sid, update.kind, &update.msg, None).await?;
        }
        Ok(())
    }

    async fn fault(&mut self, fault: StreamFault) -> Result<(), End> {
        match fault {
            StreamFault::DropConnection => Err(End::Closed),
            StreamFault::SkipSeq => {
                self.pending.skip = true;
                Ok(())
            }
            StreamFault::RepeatSeq => {
                self.pending.repeat = true;
                Ok(())
            }
            StreamFault::Delay(delay) => {
                tokio::time::sleep(delay).await;
                Ok(())
            }
            StreamFault::RefuseSubscription => {
                self.pending.refuse = true;
                Ok(())
            }
            StreamFault::UnknownMessage => {
                let text =
                    json!({"type": "sim_unknown_kind", "sid": 1, "msg": {"note": "injected"}});
                self.write(text.to_string(), true).await
            }
            StreamFault::MalformedFrame => {
                self.write("{\"type\": \"orderbook_del".to_owned(), true)
                    .await
            }
            StreamFault::Silence => Ok(()),
        }
    }

    // -----------------------------------------------------------------------
    // Commands
    // -----------------------------------------------------------------------

    async fn command(&mut self, text: &str) -> Result<(), End> {
        self.shared.sessions.record(StreamFrame {
            session: self.id,
            direction: Direction::Received,
            text: text.to_owned(),
            injected: false,
        });
        let Ok(command) = serde_json::from_str::<Value>(text) else {
            let error = CommandError(code::PROCESSING, "the message is not JSON".to_owned());
            return self.error(None, error).await;
        };
        let id = command["id"].as_u64();
        let params = &command["params"];
        let outcome = match command["cmd"].as_str() {
            Some("subscribe") => self.subscribe(id, params).await,
            Some("unsubscribe") => self.unsubscribe(id, params).await,
            Some("update_subscription") => self.update(id, params).await,
            Some("list_subscriptions") => self.list(id).await,
            _ => Ok(Err(CommandError(
                code::UNKNOWN_COMMAND,
                "Unknown command".to_owned(),
            ))),
        }?;
        match outcome {
            Ok(()) => Ok(()),
            Err(error) => self.error(id, error).await,
        }
    }

    async fn subscribe(
        &mut self,
        id: Option<u64>,
        params: &Value,
    ) -> Result<Result<(), CommandError>, End> {
        if !params.is_object() {
            return Ok(Err(CommandError(
                code::PARAMS_REQUIRED,
                "Params required".into(),
            )));
        }
        let Some(names) = params["channels"].as_array().filter(|c| !c.is_empty()) else {
            return Ok(Err(CommandError(
                code::CHANNELS_REQUIRED,
                "Channels required".into(),
            )));
        };
        let markets = match markets_of(params) {
            Ok(markets) => markets,
            Err(error) => return Ok(Err(error)),
        };
        let mut channels = Vec::new();
        for name in names {
            let info = name
                .as_str()
                .and_then(|n| self.venue.channels().iter().find(|c| c.name == n));
            match info {
                Some(info) => channels.push(*info),
                None => {
                    return Ok(Err(CommandError(
                        code::UNKNOWN_CHANNEL,
                        "Unknown channel name".into(),
                    )));
                }
            }
        }
        if channels.iter().any(|c| c.needs_markets) && markets.is_none() {
            return Ok(Err(CommandError(
                code::MARKET_REQUIRED,
                "Market Ticker required".into(),
            )));
        }
        if let Some(unknown) = self.unknown_market(markets.iter().flatten()).await {
            return Ok(Err(CommandError(
                code::INVALID_PARAMETER,
                format!("unknown market ticker {unknown}"),
            )));
        }
        let refusal = if std::mem::take(&mut self.pending.refuse) {
            Some(code::CHANNEL_ERROR)
        } else {
            self.shared.sessions.take_refusal()
        };
        if let Some(code) = refusal {
            return Ok(Err(CommandError(
                code,
                "subscription refused (injected by the test)".into(),
            )));
        }
        let snapshots = params["send_initial_snapshot"].as_bool().unwrap_or(true);
        for info in channels {
            self.next_sid += 1;
            let sid = self.next_sid;
            self.subs.insert(
                sid,
                Sub {
                    channel: info,
                    markets: markets.clone(),
                    seq: 0,
                    snapshot_clock: HashMap::new(),
                },
            );
            let mut answer =
                json!({"type": "subscribed", "msg": {"channel": info.name, "sid": sid}});
            if let Some(id) = id {
                answer["id"] = id.into();
            }
            self.reply(&answer).await?;
            if is_book(info.topic) {
                for market in markets.iter().flatten().cloned().collect::<Vec<_>>() {
                    if snapshots {
                        self.snapshot(sid, &market, None).await?;
                    } else {
                        // No snapshot asked for: deltas from now on.
                        let (clock, _) = self.published_book(&market).await;
                        if let Some(sub) = self.subs.get_mut(&sid) {
                            sub.snapshot_clock.insert(market, clock);
                        }
                    }
                }
            }
        }
        Ok(Ok(()))
    }

    /// The first of `markets` the venue does not list.
    fn unknown_market<'m>(
        &self,
        markets: impl IntoIterator<Item = &'m String>,
    ) -> impl Future<Output = Option<String>> + Send + 'static {
        let (venue, shared) = (self.venue, Arc::clone(&self.shared));
        let markets: Vec<String> = markets.into_iter().cloned().collect();
        async move {
            shared
                .read_state(move |state| {
                    markets.into_iter().find(|ticker| match venue {
                        Venue::EventContracts => state.engine.market_state(ticker).is_none(),
                        Venue::Margin => !state.margin.has_market(ticker),
                    })
                })
                .await
        }
    }

    async fn unsubscribe(
        &mut self,
        id: Option<u64>,
        params: &Value,
    ) -> Result<Result<(), CommandError>, End> {
        let Some(sids) = params["sids"].as_array().filter(|s| !s.is_empty()) else {
            return Ok(Err(CommandError(
                code::SIDS_REQUIRED,
                "Subscription IDs required".into(),
            )));
        };
        let sids: Vec<Option<u64>> = sids.iter().map(Value::as_u64).collect();
        if sids
            .iter()
            .any(|sid| sid.is_none_or(|sid| !self.subs.contains_key(&sid)))
        {
            return Ok(Err(CommandError(
                code::UNKNOWN_SID,
                "Unknown subscription ID".into(),
            )));
        }
        for sid in sids.into_iter().flatten() {
            if let Some(sub) = self.subs.remove(&sid) {
                let mut answer = json!({"type": "unsubscribed", "sid": sid, "seq": sub.seq + 1});
                if let Some(id) = id {
                    answer["id"] = id.into();
                }
                self.reply(&answer).await?;
            }
        }
        Ok(Ok(()))
    }

    async fn update(
        &mut self,
        id: Option<u64>,
        params: &Value,
    ) -> Result<Result<(), CommandError>, End> {
        let sids: Vec<u64> = match (&params["sid"], &params["sids"]) {
            (Value::Number(n), Value::Null) => n.as_u64().into_iter().collect(),
            (Value::Null, Value::Array(list)) => list.iter().filter_map(Value::as_u64).collect(),
            _ => Vec::new(),
        };
        let [sid] = sids[..] else {
            return Ok(Err(CommandError(
                code::ONE_SID,
                "Exactly one subscription ID is required".into(),
            )));
        };
        let Some(sub) = self.subs.get(&sid) else {
            return Ok(Err(CommandError(
                code::UNKNOWN_SID,
                "Unknown subscription ID".into(),
            )));
        };
        let is_book = is_book(sub.channel.topic);
        let markets = match markets_of(params) {
            Ok(Some(markets)) => markets,
            Ok(None) => {
                return Ok(Err(CommandError(
                    code::MARKET_REQUIRED,
                    "Market Ticker required".into(),
                )));
            }
            Err(error) => return Ok(Err(error)),
        };
        if let Some(unknown) = self.unknown_market(&markets).await {
            return Ok(Err(CommandError(
                code::INVALID_PARAMETER,
                format!("unknown market ticker {unknown}"),
            )));
        }
        match params["action"].as_str() {
            None => Ok(Err(CommandError(
                code::ACTION_REQUIRED,
                "Action required".into(),
            ))),
            Some("get_snapshot") if is_book => {
                for market in &markets {
                    self.snapshot(sid, market, id).await?;
                }
                Ok(Ok(()))
            }
            Some(action @ ("add_markets" | "delete_markets")) => {
                let add = action == "add_markets";
                let sub = self.subs.get_mut(&sid).expect("checked above");
                let current = sub.markets.get_or_insert_with(BTreeSet::new);
                for market in &markets {
                    if add {
                        current.insert(market.clone());
                    } else {
                        current.remove(market);
                        sub.snapshot_clock.remove(market);
                    }
                }
                let list: Vec<String> = current.iter().cloned().collect();
                let mut answer = json!({"type": "ok", "sid": sid, "msg": {"market_tickers": list}});
                if let Some(id) = id {
                    answer["id"] = id.into();
                }
                self.reply(&answer).await?;
                if add && is_book {
                    for market in &markets {
                        self.snapshot(sid, market, None).await?;
                    }
                }
                Ok(Ok(()))
            }
            Some(_) => Ok(Err(CommandError(
                code::UNSUPPORTED_ACTION,
                "Unsupported action".into(),
            ))),
        }
    }

    async fn list(&mut self, id: Option<u64>) -> Result<Result<(), CommandError>, End> {
        let list: Vec<Value> = self
            .subs
            .iter()
            .map(|(sid, sub)| json!({"channel": sub.channel.name, "sid": sid}))
            .collect();
        let mut answer = json!({"type": "ok", "msg": list});
        if let Some(id) = id {
            answer["id"] = id.into();
        }
        self.reply(&answer).await.map(Ok)
    }
}

/// `market_ticker` or `market_tickers` of a command, if given.
fn markets_of(params: &Value) -> Result<Option<BTreeSet<String>>, CommandError> {
    let invalid = || {
        CommandError(
            code::INVALID_PARAMETER,
            "market tickers must be strings".into(),
        )
    };
    match (&params["market_ticker"], &params["market_tickers"]) {
        (Value::Null, Value::Null) => Ok(None),
        (Value::String(one), Value::Null) => Ok(Some(BTreeSet::from([one.clone()]))),
        (Value::Null, Value::Array(many)) => many
            .iter()
            .map(|m| m.as_str().map(str::to_owned).ok_or_else(invalid))
            .collect::<Result<BTreeSet<_>, _>>()
            .map(Some),
        _ => Err(invalid()),
    }
}
