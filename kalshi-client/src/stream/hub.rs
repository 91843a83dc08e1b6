//! The session's one task: it owns the connections, the subscriptions, the
//! sequence numbers and the books, and turns frames into [`Event`]s.
//!
//! Every connection carries every subscription under its own `sid`. A
//! frame is matched to its subscription by `(connection, sid)`, checked
//! against that pair's expected `seq`, applied to that connection's copy of
//! the books, and delivered once, whichever connection brought it first.

use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::hash::{Hash, Hasher};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant, SystemTime};

use serde_json::{Value, json};
use tokio::sync::{mpsc, oneshot};

use super::api::{Api, BookDelta, Change, Role, Wire};
use super::connection::{self, Outgoing, Report};
use super::recovery::{DeliveredFills, DeliveredOrders, DeliveredPositions, Recover};
use super::{Channel, Config, Event, StreamError, StreamStats, Subscription, SubscriptionId};
use crate::auth::Credentials;

mod recovering;
mod retry;

use recovering::Recovery;
use retry::{Again, Retry};

/// How many deltas wait for a stale book's snapshot, per market and
/// connection; older ones go (the snapshot covers them).
const MAX_PENDING_DELTAS: usize = 10_000;
/// How many recent messages are remembered to deliver each once.
const DEDUPE_WINDOW: usize = 65_536;

/// What the session handle asks of the hub.
pub(crate) enum Request {
    Subscribe {
        subscription: Subscription,
        reply: oneshot::Sender<Result<SubscriptionId, StreamError>>,
    },
    Unsubscribe {
        id: SubscriptionId,
        reply: oneshot::Sender<Result<(), StreamError>>,
    },
    Markets {
        id: SubscriptionId,
        markets: Vec<String>,
        add: bool,
        reply: oneshot::Sender<Result<(), StreamError>>,
    },
    Snapshot {
        id: SubscriptionId,
        reply: oneshot::Sender<Result<(), StreamError>>,
    },
    List {
        reply: oneshot::Sender<Result<Vec<(String, u64)>, StreamError>>,
    },
    Close {
        reply: oneshot::Sender<()>,
    },
}

/// Everything the hub starts with.
pub(crate) struct Setup<A: Api> {
    pub config: Config,
    pub credentials: Credentials,
    pub user_agent: http::HeaderValue,
    pub url: String,
    pub books: Arc<RwLock<Books<A>>>,
    pub stats: Arc<RwLock<StreamStats>>,
    pub requests: mpsc::Receiver<Request>,
    pub events: mpsc::Sender<Event<A::Message>>,
    pub first_up: oneshot::Sender<Result<(), StreamError>>,
    /// Fill or order recovery, when on.
    pub recover: Option<Recover>,
}

/// Every market's book, one copy per connection.
pub(crate) struct Books<A: Api> {
    markets: BTreeMap<String, Vec<Option<A::Book>>>,
}

impl<A: Api> Default for Books<A> {
    fn default() -> Self {
        Self {
            markets: BTreeMap::new(),
        }
    }
}

impl<A: Api> Books<A> {
    /// The freshest copy that is not stale, else the freshest stale one.
    pub fn best(&self, market: &str) -> Option<&A::Book> {
        use super::api::LocalBook;
        let copies = self.markets.get(market)?.iter().flatten();
        copies.max_by_key(|book| (!book.is_stale(), book.clock()))
    }

    pub fn markets(&self) -> Vec<String> {
        self.markets.keys().cloned().collect()
    }
}

impl<A: Wire> Books<A> {
    fn copy(&mut self, market: &str, connection: usize, connections: usize) -> &mut A::Book {
        let copies = self
            .markets
            .entry(market.to_owned())
            .or_insert_with(|| vec![None; connections]);
        copies[connection].get_or_insert_with(|| A::new_book(market))
    }

    fn mark_stale(&mut self, connection: usize, markets: Option<&BTreeSet<String>>) {
        for (market, copies) in &mut self.markets {
            if markets.is_some_and(|m| !m.contains(market)) {
                continue;
            }
            if let Some(Some(book)) = copies.get_mut(connection) {
                A::mark_stale(book);
            }
        }
    }

    fn remove(&mut self, markets: &BTreeSet<String>) {
        self.markets.retain(|market, _| !markets.contains(market));
    }
}

/// A connection as the hub sees it.
struct Conn {
    outbox: mpsc::UnboundedSender<Outgoing>,
    /// The current epoch; 0 while down.
    epoch: u64,
    next_id: u64,
    down_since: Option<Instant>,
    task: tokio::task::JoinHandle<()>,
}

/// A subscription on one connection.
#[derive(Debug, Clone, Copy, Default)]
struct ConnSub {
    sid: Option<u64>,
    next_seq: Option<u64>,
}

struct Sub {
    spec: Subscription,
    markets: BTreeSet<String>,
    on: Vec<ConnSub>,
    /// Per connection, for a fill, `user_orders` or `market_positions`
    /// subscription with recovery on: the time to recover from once it is
    /// made again there (the connection was lost after last hearing
    /// anything then).
    recover_from: Vec<Option<SystemTime>>,
    /// Whether the resting orders (or the positions) were read, or asked
    /// for, as recovery's baseline.
    baseline_read: bool,
    /// After that read failed: its failures in a row, and when to read
    /// again.
    baseline_retry: Option<Again>,
    /// When a positions baseline that was kept had been read.
    positions_baseline_at: Option<SystemTime>,
    /// Outage reads under way.
    recovering: u32,
    /// Per connection: a resubscription refused with a code that may pass,
    /// to be sent again.
    retry: Vec<Option<Retry>>,
}

impl Sub {
    /// The `subscribe` command that makes this subscription, with its
    /// markets as they are now.
    fn command(&self) -> Value {
        let mut spec = self.spec.clone();
        spec.markets = self.markets.iter().cloned().collect();
        json!({"cmd": "subscribe", "params": spec.params()})
    }
}

/// What a command sent on a connection waits for.
enum Waiting {
    Subscribe {
        id: SubscriptionId,
        request: Option<u64>,
        resubscribe: Option<Duration>,
    },
    Answer {
        request: u64,
    },
    Snapshot {
        request: Option<u64>,
    },
}

/// A user request sent on several connections; answered once.
struct Fanout {
    remaining: usize,
    reply: Reply,
    error: Option<StreamError>,
    deadline: Instant,
    /// Refusals (code, message) on connections that will not carry the
    /// subscription: reported once the caller learns the subscription
    /// exists, dropped if it fails (its error says enough).
    held: Vec<(i64, String)>,
}

enum Reply {
    Subscribed(
        oneshot::Sender<Result<SubscriptionId, StreamError>>,
        SubscriptionId,
    ),
    Done(oneshot::Sender<Result<(), StreamError>>),
    Listed(oneshot::Sender<Result<Vec<(String, u64)>, StreamError>>),
    Gone,
}

impl Reply {
    fn fail(self, error: StreamError) {
        match self {
            Self::Subscribed(reply, _) => drop(reply.send(Err(error))),
            Self::Done(reply) => drop(reply.send(Err(error))),
            Self::Listed(reply) => drop(reply.send(Err(error))),
            Self::Gone => {}
        }
    }
}

/// Remembers recent messages to deliver each once across connections.
#[derive(Default)]
struct Dedupe {
    seen: HashMap<u64, usize>,
    order: VecDeque<u64>,
}

impl Dedupe {
    /// Whether `fingerprint` was delivered by another connection already.
    fn repeated(&mut self, fingerprint: u64, connection: usize) -> bool {
        match self.seen.get(&fingerprint) {
            Some(first) => *first != connection,
            None => {
                self.seen.insert(fingerprint, connection);
                self.order.push_back(fingerprint);
                if self.order.len() > DEDUPE_WINDOW
                    && let Some(old) = self.order.pop_front()
                {
                    self.seen.remove(&old);
                }
                false
            }
        }
    }
}

/// The message of a frame without its per-connection envelope (`sid`,
/// `seq`, send time): the same change on every connection.
fn fingerprint(text: &str) -> Option<u64> {
    #[derive(serde::Deserialize)]
    struct Parts<'a> {
        #[serde(rename = "type", borrow)]
        kind: std::borrow::Cow<'a, str>,
        #[serde(borrow)]
        msg: Option<&'a serde_json::value::RawValue>,
    }
    let parts: Parts<'_> = serde_json::from_str(text).ok()?;
    let mut hasher = std::hash::DefaultHasher::new();
    parts.kind.hash(&mut hasher);
    parts
        .msg
        .map(serde_json::value::RawValue::get)
        .hash(&mut hasher);
    Some(hasher.finish())
}

struct Hub<A: Wire> {
    config: Config,
    books: Arc<RwLock<Books<A>>>,
    stats: Arc<RwLock<StreamStats>>,
    events: mpsc::Sender<Event<A::Message>>,
    first_up: Option<oneshot::Sender<Result<(), StreamError>>>,
    conns: Vec<Conn>,
    subs: BTreeMap<SubscriptionId, Sub>,
    next_sub: u64,
    by_sid: HashMap<(usize, u64), SubscriptionId>,
    waiting: HashMap<(usize, u64), Waiting>,
    fanouts: HashMap<u64, Fanout>,
    next_request: u64,
    /// Deltas kept until their stale book's snapshot arrives.
    pending: HashMap<(usize, String), VecDeque<Change>>,
    dedupe: Dedupe,
    recovery: Option<Recovery>,
    lagged: u64,
    /// Connections whose first dial failed.
    first_failures: usize,
    /// Set when the consumer stopped taking events: the session ends.
    ended: bool,
    /// Refusals held back until their subscription's caller was answered,
    /// to report now.
    released: Vec<(SubscriptionId, i64, String)>,
}

/// Runs the session until the handle is dropped or the consumer gives up.
pub(crate) async fn run<A: Wire>(setup: Setup<A>) {
    let Setup {
        config,
        credentials,
        user_agent,
        url,
        books,
        stats,
        mut requests,
        events,
        first_up,
        recover,
    } = setup;
    let (results, mut recovered) = mpsc::unbounded_channel();
    let recovery = recover.map(|recover| Recovery {
        recover,
        fills: config.recover_fills,
        orders: config.recover_orders,
        positions: config.recover_positions,
        delivered: DeliveredFills::new(config.recovery_memory),
        delivered_orders: DeliveredOrders::new(config.recovery_memory),
        delivered_positions: DeliveredPositions::new(config.recovery_memory),
        outages: 0,
        results,
        tasks: Vec::new(),
    });
    let (reports, mut reports_rx) = mpsc::unbounded_channel();
    let conns = (0..config.connections)
        .map(|index| {
            let (outbox, outbox_rx) = mpsc::unbounded_channel();
            let task = tokio::spawn(connection::run(
                index,
                url.clone(),
                credentials.clone(),
                user_agent.clone(),
                config.clone(),
                reports.clone(),
                outbox_rx,
            ));
            Conn {
                outbox,
                epoch: 0,
                next_id: 0,
                down_since: None,
                task,
            }
        })
        .collect();
    drop(reports);
    let mut hub = Hub::<A> {
        config,
        books,
        stats,
        events,
        first_up: Some(first_up),
        conns,
        subs: BTreeMap::new(),
        next_sub: 0,
        by_sid: HashMap::new(),
        waiting: HashMap::new(),
        fanouts: HashMap::new(),
        next_request: 0,
        pending: HashMap::new(),
        dedupe: Dedupe::default(),
        recovery,
        lagged: 0,
        first_failures: 0,
        ended: false,
        released: Vec::new(),
    };
    let mut tick = tokio::time::interval(Duration::from_millis(200));
    let mut closing = None;
    while !hub.ended {
        tokio::select! {
            request = requests.recv() => match request {
                Some(Request::Close { reply }) => {
                    closing = Some(reply);
                    break;
                }
                Some(request) => hub.request(request),
                None => break,
            },
            report = reports_rx.recv() => match report {
                Some(report) => hub.report(report).await,
                None => break,
            },
            Some(result) = recovered.recv() => {
                // Frames already read off the sockets go first (those queued
                // now, not the ones that keep coming): a position message
                // received before the read's result is then judged by when
                // it was received, not overtaken by the result.
                for _ in 0..reports_rx.len() {
                    let Ok(report) = reports_rx.try_recv() else { break };
                    hub.report(report).await;
                    if hub.ended {
                        break;
                    }
                }
                if !hub.ended {
                    hub.recovered(result).await;
                }
            }
            _ = tick.tick() => {
                hub.expire();
                hub.retry_due();
                hub.count_remembered();
            }
        }
    }
    hub.shut(closing).await;
}

impl<A: Wire> Hub<A> {
    fn update_stats(&self, f: impl FnOnce(&mut StreamStats)) {
        f(&mut self.stats.write().unwrap_or_else(|p| p.into_inner()));
    }

    /// Brings [`StreamStats::remembered`] up to date.
    fn count_remembered(&self) {
        if let Some(recovery) = &self.recovery {
            let remembered = recovery.remembered() as u64;
            self.update_stats(|s| s.remembered = remembered);
        }
    }

    /// Ends every connection: politely (a close frame, awaited briefly)
    /// when the user asked, at once otherwise.
    async fn shut(self, closing: Option<oneshot::Sender<()>>) {
        for task in self.recovery.iter().flat_map(|r| &r.tasks) {
            task.abort();
        }
        let Some(reply) = closing else {
            for conn in &self.conns {
                conn.task.abort();
            }
            return;
        };
        for conn in self.conns {
            // Without its outbox the connection sends a close frame and ends.
            drop(conn.outbox);
            let mut task = conn.task;
            if tokio::time::timeout(Duration::from_secs(2), &mut task)
                .await
                .is_err()
            {
                task.abort();
            }
        }
        let _ = reply.send(());
    }

    fn live(&self) -> Vec<usize> {
        (0..self.conns.len())
            .filter(|i| self.conns[*i].epoch != 0)
            .collect()
    }

    /// Sends `command` (without `id`) on `connection`; returns its id.
    fn send(&mut self, connection: usize, mut command: Value, waiting: Waiting) -> u64 {
        let conn = &mut self.conns[connection];
        conn.next_id += 1;
        let id = conn.next_id;
        command["id"] = json!(id);
        let _ = conn.outbox.send(Outgoing {
            epoch: conn.epoch,
            text: command.to_string(),
        });
        self.waiting.insert((connection, id), waiting);
        id
    }

    fn fanout(&mut self, reply: Reply, count: usize) -> u64 {
        self.next_request += 1;
        let deadline = Instant::now() + self.config.command_timeout;
        self.fanouts.insert(
            self.next_request,
            Fanout {
                remaining: count,
                reply,
                error: None,
                deadline,
                held: Vec::new(),
            },
        );
        self.next_request
    }

    // -----------------------------------------------------------------------
    // Requests from the session handle
    // -----------------------------------------------------------------------

    fn request(&mut self, request: Request) {
        match request {
            Request::Subscribe {
                subscription,
                reply,
            } => self.subscribe(subscription, reply),
            Request::Unsubscribe { id, reply } => self.unsubscribe(id, reply),
            Request::Markets {
                id,
                markets,
                add,
                reply,
            } => self.markets(id, markets, add, reply),
            Request::Snapshot { id, reply } => self.snapshot(id, reply),
            Request::List { reply } => self.list(reply),
            Request::Close { reply } => drop(reply.send(())),
        }
    }

    fn subscribe(
        &mut self,
        spec: Subscription,
        reply: oneshot::Sender<Result<SubscriptionId, StreamError>>,
    ) {
        if !A::CHANNELS.contains(&spec.channel) {
            let error = StreamError::UnsupportedChannel {
                channel: spec.channel,
                api: A::NAME,
            };
            let _ = reply.send(Err(error));
            return;
        }
        self.next_sub += 1;
        let id = SubscriptionId(self.next_sub);
        let markets = spec.markets.iter().cloned().collect();
        let command = json!({"cmd": "subscribe", "params": spec.params()});
        self.subs.insert(
            id,
            Sub {
                spec,
                markets,
                on: vec![ConnSub::default(); self.conns.len()],
                recover_from: vec![None; self.conns.len()],
                baseline_read: false,
                baseline_retry: None,
                positions_baseline_at: None,
                recovering: 0,
                retry: vec![None; self.conns.len()],
            },
        );
        let live = self.live();
        let request = self.fanout(Reply::Subscribed(reply, id), live.len());
        if live.is_empty() {
            // Made when a connection comes up; answered then.
            return;
        }
        for connection in live {
            let waiting = Waiting::Subscribe {
                id,
                request: Some(request),
                resubscribe: None,
            };
            self.send(connection, command.clone(), waiting);
        }
    }

    fn unsubscribe(&mut self, id: SubscriptionId, reply: oneshot::Sender<Result<(), StreamError>>) {
        let Some(sub) = self.subs.remove(&id) else {
            let _ = reply.send(Err(StreamError::UnknownSubscription(id)));
            return;
        };
        let on = self.forget(id, &sub);
        let request = self.fanout(Reply::Done(reply), on.len());
        if on.is_empty() {
            self.finish(request, Ok(()));
            return;
        }
        for (connection, sid) in on {
            let command = unsubscribe_command(sid);
            self.send(connection, command, Waiting::Answer { request });
        }
    }

    /// Books of markets no order book subscription covers any more go.
    fn forget_books(&mut self, markets: &BTreeSet<String>) {
        let still: BTreeSet<&String> = self
            .subs
            .values()
            .filter(|s| s.spec.channel == Channel::Orderbook)
            .flat_map(|s| s.markets.iter())
            .collect();
        let gone: BTreeSet<String> = markets
            .iter()
            .filter(|m| !still.contains(m))
            .cloned()
            .collect();
        self.books
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&gone);
        self.pending.retain(|(_, market), _| !gone.contains(market));
    }

    fn markets(
        &mut self,
        id: SubscriptionId,
        markets: Vec<String>,
        add: bool,
        reply: oneshot::Sender<Result<(), StreamError>>,
    ) {
        let Some(sub) = self.subs.get_mut(&id) else {
            let _ = reply.send(Err(StreamError::UnknownSubscription(id)));
            return;
        };
        let changed: BTreeSet<String> = markets.iter().cloned().collect();
        if add {
            sub.markets.extend(changed.iter().cloned());
            sub.spec.markets = sub.markets.iter().cloned().collect();
        } else {
            sub.markets.retain(|m| !changed.contains(m));
            sub.spec.markets = sub.markets.iter().cloned().collect();
        }
        let on: Vec<(usize, u64)> = sub
            .on
            .iter()
            .enumerate()
            .filter_map(|(i, c)| Some((i, c.sid?)))
            .collect();
        let is_book = sub.spec.channel == Channel::Orderbook;
        if add {
            self.read_added_baseline(id, &changed);
        } else if is_book {
            self.forget_books(&changed);
        }
        let request = self.fanout(Reply::Done(reply), on.len());
        if on.is_empty() {
            self.finish(request, Ok(()));
            return;
        }
        let action = if add { "add_markets" } else { "delete_markets" };
        for (connection, sid) in on {
            let command = json!({"cmd": "update_subscription",
                "params": {"sids": [sid], "market_tickers": markets, "action": action}});
            self.send(connection, command, Waiting::Answer { request });
        }
    }

    fn snapshot(&mut self, id: SubscriptionId, reply: oneshot::Sender<Result<(), StreamError>>) {
        let Some(sub) = self.subs.get(&id) else {
            let _ = reply.send(Err(StreamError::UnknownSubscription(id)));
            return;
        };
        let on: Vec<(usize, u64)> = sub
            .on
            .iter()
            .enumerate()
            .filter_map(|(i, c)| Some((i, c.sid?)))
            .collect();
        let markets: Vec<String> = sub.markets.iter().cloned().collect();
        let request = self.fanout(Reply::Done(reply), on.len());
        if on.is_empty() {
            self.finish(request, Ok(()));
            return;
        }
        for (connection, sid) in on {
            self.ask_snapshot(connection, sid, &markets, Some(request));
        }
    }

    fn ask_snapshot(
        &mut self,
        connection: usize,
        sid: u64,
        markets: &[String],
        request: Option<u64>,
    ) {
        let command = json!({"cmd": "update_subscription",
            "params": {"sids": [sid], "market_tickers": markets, "action": "get_snapshot"}});
        self.send(connection, command, Waiting::Snapshot { request });
    }

    fn list(&mut self, reply: oneshot::Sender<Result<Vec<(String, u64)>, StreamError>>) {
        let Some(connection) = self.live().first().copied() else {
            let _ = reply.send(Err(StreamError::Closed));
            return;
        };
        let request = self.fanout(Reply::Listed(reply), 1);
        let command = json!({"cmd": "list_subscriptions"});
        self.send(connection, command, Waiting::Answer { request });
    }

    /// One connection's answer to a fanned-out request: the first success
    /// answers the caller; the caller sees an error only when every
    /// connection failed.
    fn finish(&mut self, request: u64, outcome: Result<(), StreamError>) {
        let Some(fanout) = self.fanouts.get_mut(&request) else {
            return;
        };
        fanout.remaining = fanout.remaining.saturating_sub(1);
        match outcome {
            Ok(()) => {
                let reply = std::mem::replace(&mut fanout.reply, Reply::Gone);
                match reply {
                    Reply::Subscribed(reply, id) => {
                        let _ = reply.send(Ok(id));
                        let held = fanout.held.drain(..).map(|(code, m)| (id, code, m));
                        self.released.extend(held);
                    }
                    Reply::Done(reply) => drop(reply.send(Ok(()))),
                    Reply::Listed(reply) => drop(reply.send(Ok(Vec::new()))),
                    Reply::Gone => {}
                }
            }
            Err(error) => {
                fanout.error.get_or_insert(error);
            }
        }
        if fanout.remaining == 0
            && let Some(fanout) = self.fanouts.remove(&request)
        {
            let error = fanout.error.unwrap_or(StreamError::Closed);
            self.fail(fanout.reply, error);
        }
    }

    /// Answers a request with `error`. A subscription whose caller is told
    /// it failed is dropped: it is not made again after a reconnect, and a
    /// grant that arrives later is ended at once.
    fn fail(&mut self, reply: Reply, error: StreamError) {
        if let Reply::Subscribed(_, id) = &reply
            && let Some(sub) = self.subs.remove(id)
        {
            self.end_everywhere(*id, &sub);
        }
        reply.fail(error);
    }

    /// Ends a subscription taken out of `subs` on every live connection
    /// that carries it, without waiting for the answers.
    fn end_everywhere(&mut self, id: SubscriptionId, sub: &Sub) {
        for (connection, sid) in self.forget(id, sub) {
            let command = unsubscribe_command(sid);
            self.send(connection, command, Waiting::Snapshot { request: None });
        }
    }

    /// Forgets what the session kept for a subscription taken out of
    /// `subs` (its sids, books no other subscription covers, delivered
    /// order states); returns the live connections that carry it, with
    /// its sid on each.
    fn forget(&mut self, id: SubscriptionId, sub: &Sub) -> Vec<(usize, u64)> {
        for (connection, on) in sub.on.iter().enumerate() {
            if let Some(sid) = on.sid {
                self.by_sid.remove(&(connection, sid));
            }
        }
        if sub.spec.channel == Channel::Orderbook {
            self.forget_books(&sub.markets);
        }
        if let Some(recovery) = self.recovery.as_mut() {
            recovery.delivered_orders.forget_subscription(id);
            recovery.delivered_positions.forget_subscription(id);
        }
        sub.on
            .iter()
            .enumerate()
            .filter_map(|(i, c)| Some((i, c.sid?)))
            .filter(|(i, _)| self.conns[*i].epoch != 0)
            .collect()
    }

    /// Requests without an answer in time fail with [`StreamError::Timeout`].
    fn expire(&mut self) {
        let now = Instant::now();
        let late: Vec<u64> = self
            .fanouts
            .iter()
            .filter(|(_, f)| f.deadline <= now && !matches!(f.reply, Reply::Gone))
            .map(|(id, _)| *id)
            .collect();
        for id in late {
            if let Some(fanout) = self.fanouts.remove(&id) {
                self.fail(fanout.reply, StreamError::Timeout);
            }
        }
        self.fanouts
            .retain(|_, f| !(matches!(f.reply, Reply::Gone) && f.deadline <= now));
    }

    // -----------------------------------------------------------------------
    // Reports from the connections
    // -----------------------------------------------------------------------

    async fn report(&mut self, report: Report) {
        match report {
            Report::Up { connection, epoch } => self.up(connection, epoch).await,
            Report::Down {
                connection,
                epoch,
                reason,
                heard,
            } => self.down(connection, epoch, reason, heard).await,
            Report::Redialing {
                connection,
                attempt,
                delay,
            } => {
                self.control(Event::Reconnecting {
                    connection,
                    attempt,
                    delay,
                })
                .await;
            }
            Report::FirstFailed { error, final_ } => {
                // `connect()` fails when a dial was refused outright, or when
                // every connection's first dial failed; otherwise the ones
                // that failed keep trying in the background.
                self.first_failures += 1;
                if (final_ || self.first_failures == self.conns.len())
                    && let Some(first_up) = self.first_up.take()
                {
                    let _ = first_up.send(Err(error));
                    self.ended = true;
                }
            }
            Report::Frame {
                connection,
                epoch,
                text,
                received,
            } => {
                if self.conns[connection].epoch == epoch {
                    self.frame(connection, &text, received).await;
                }
            }
        }
    }

    async fn up(&mut self, connection: usize, epoch: u64) {
        let down_for = self.conns[connection]
            .down_since
            .take()
            .map(|t| t.elapsed());
        self.conns[connection].epoch = epoch;
        if down_for.is_some() {
            self.update_stats(|s| s.reconnects += 1);
        }
        if let Some(first_up) = self.first_up.take() {
            let _ = first_up.send(Ok(()));
        }
        self.control(Event::Connected { connection }).await;
        let subs: Vec<(SubscriptionId, Value)> = self
            .subs
            .iter()
            .map(|(id, sub)| (*id, sub.command()))
            .collect();
        for (id, command) in subs {
            // A subscribe made while every connection was down still waits
            // for its first answer.
            // Not a resubscription if the caller still waits for it.
            let request = self.join_pending_subscribe(id);
            let waiting = Waiting::Subscribe {
                id,
                request,
                resubscribe: down_for.filter(|_| request.is_none()),
            };
            self.send(connection, command, waiting);
        }
    }

    async fn down(&mut self, connection: usize, epoch: u64, reason: String, heard: SystemTime) {
        if self.conns[connection].epoch != epoch {
            return;
        }
        self.conns[connection].epoch = 0;
        self.conns[connection].down_since = Some(Instant::now());
        for sub in self.subs.values_mut() {
            if let Some(sid) = sub.on[connection].sid.take() {
                self.by_sid.remove(&(connection, sid));
            }
            sub.on[connection].next_seq = None;
            // Everything is made again when the connection is back.
            sub.retry[connection] = None;
        }
        self.books
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .mark_stale(connection, None);
        self.pending.retain(|(c, _), _| *c != connection);
        if let Some(recovery) = self.recovery.as_mut() {
            recovery.outages += 1;
            // Fills and order updates sent on it after the last frame heard
            // may be lost; a recovery still pending (its resubscription
            // failed or was cut short) keeps its earlier start. Each
            // connection recovers its own window: with redundant
            // connections what the others delivered is not delivered again.
            for (id, sub) in &mut self.subs {
                if recovery.covers(sub.spec.channel) {
                    let from = &mut sub.recover_from[connection];
                    *from = Some(from.map_or(heard, |f| f.min(heard)));
                }
                // A positions baseline kept after the connection last heard
                // anything may show changes the stream never delivered.
                if sub.positions_baseline_at.is_some_and(|at| at > heard) {
                    sub.positions_baseline_at = None;
                    recovery.delivered_positions.forget_baseline(*id);
                }
            }
        }
        let lost: Vec<Waiting> = self
            .waiting
            .extract_if(|(c, _), _| *c == connection)
            .map(|(_, w)| w)
            .collect();
        for waiting in lost {
            let request = match waiting {
                Waiting::Subscribe { request, .. } | Waiting::Snapshot { request } => request,
                Waiting::Answer { request } => Some(request),
            };
            if let Some(request) = request {
                let error = StreamError::Connect {
                    message: format!("connection {connection} was lost before answering"),
                    status: None,
                };
                self.finish(request, Err(error));
            }
        }
        self.control(Event::Disconnected { connection, reason })
            .await;
    }

    async fn frame(&mut self, connection: usize, text: &str, received: Instant) {
        self.update_stats(|s| s.frames += 1);
        let message = match A::decode(text) {
            Ok(message) => message,
            Err(error) => {
                self.update_stats(|s| s.undecodable += 1);
                let event = Event::Undecodable {
                    connection,
                    error: error.to_string(),
                };
                self.droppable(event);
                return;
            }
        };
        if let Some(id) = A::id(&message)
            && self.waiting.contains_key(&(connection, id))
        {
            self.answer(connection, id, &message).await;
            // A snapshot answering `get_snapshot` is also data.
            if !matches!(A::role(&message), Role::Snapshot) {
                return;
            }
        }
        match A::role(&message) {
            Role::Error { sid, code, message } => {
                let subscription = sid.and_then(|sid| self.by_sid.get(&(connection, sid)).copied());
                let event = Event::ServerError {
                    subscription,
                    code,
                    message: message.to_owned(),
                };
                self.control(event).await;
            }
            Role::Subscribed { .. } | Role::Listed(_) | Role::Answer => {}
            _ => self.data(connection, message, text, received).await,
        }
    }

    async fn answer(&mut self, connection: usize, id: u64, message: &A::Message) {
        let Some(waiting) = self.waiting.remove(&(connection, id)) else {
            return;
        };
        let role = A::role(message);
        let failure = match &role {
            Role::Error { code, message, .. } => Some(StreamError::Command {
                code: *code,
                message: (*message).to_owned(),
            }),
            _ => None,
        };
        match waiting {
            Waiting::Subscribe {
                id: sub_id,
                request,
                resubscribe,
            } => {
                let sid = match role {
                    Role::Subscribed { sid } => Some(sid),
                    _ => None,
                };
                let outcome = match (sid, failure) {
                    (Some(sid), _) => {
                        let kept = match self.subs.get_mut(&sub_id) {
                            Some(sub) => {
                                sub.on[connection] = ConnSub {
                                    sid: Some(sid),
                                    next_seq: None,
                                };
                                sub.retry[connection] = None;
                                if resubscribe.is_none() {
                                    // New on this connection: it missed nothing.
                                    sub.recover_from[connection] = None;
                                }
                                self.by_sid.insert((connection, sid), sub_id);
                                true
                            }
                            None => {
                                // Unsubscribed meanwhile: end it on this connection too.
                                let command = unsubscribe_command(sid);
                                self.send(connection, command, Waiting::Snapshot { request: None });
                                false
                            }
                        };
                        if kept {
                            if let Some(down_for) = resubscribe {
                                let event = Event::Resubscribed {
                                    subscription: sub_id,
                                    connection,
                                    down_for,
                                };
                                self.control(event).await;
                                self.start_recovery(sub_id, connection);
                            }
                            self.read_baseline(sub_id);
                        }
                        Ok(())
                    }
                    (None, Some(error)) => Err(error),
                    (None, None) => Err(StreamError::Command {
                        code: 0,
                        message: format!("unexpected answer `{}` to subscribe", A::kind(message)),
                    }),
                };
                let refusal = match &outcome {
                    Err(StreamError::Command { code, message }) => Some((*code, message.clone())),
                    _ => None,
                };
                // The caller's request if it still waits for this
                // `subscribe` (not after a reconnect, nor once another
                // connection accepted).
                let waiting = request.filter(|r| {
                    self.fanouts
                        .get(r)
                        .is_some_and(|f| !matches!(f.reply, Reply::Gone))
                });
                if let Some(request) = request {
                    // A subscription refused everywhere is dropped here.
                    self.finish(request, outcome);
                }
                if let Some((code, message)) = refusal {
                    let refusal = (code, message.as_str());
                    self.refused(sub_id, connection, resubscribe, refusal, waiting)
                        .await;
                }
                for (subscription, code, message) in std::mem::take(&mut self.released) {
                    let subscription = Some(subscription);
                    let event = Event::ServerError {
                        subscription,
                        code,
                        message,
                    };
                    self.control(event).await;
                }
            }
            Waiting::Answer { request } => {
                let listed = match role {
                    Role::Listed(list) => Some(list),
                    _ => None,
                };
                match (listed, failure) {
                    (Some(list), _) => {
                        if let Some(fanout) = self.fanouts.remove(&request)
                            && let Reply::Listed(reply) = fanout.reply
                        {
                            let _ = reply.send(Ok(list));
                        }
                    }
                    (None, Some(error)) => self.finish(request, Err(error)),
                    (None, None) => self.finish(request, Ok(())),
                }
            }
            Waiting::Snapshot { request } => {
                if let Some(request) = request {
                    self.finish(request, failure.map_or(Ok(()), Err));
                }
            }
        }
    }

    /// A message of a subscription.
    async fn data(
        &mut self,
        connection: usize,
        message: A::Message,
        text: &str,
        received: Instant,
    ) {
        let sub_id =
            A::sid(&message).and_then(|sid| Some((sid, *self.by_sid.get(&(connection, sid))?)));
        let Some((sid, sub_id)) = sub_id else {
            // No subscription of this session: a type this SDK does not
            // know (delivered so nothing is hidden), or the tail of a
            // subscription that just ended (dropped).
            if matches!(A::role(&message), Role::Unknown) {
                self.droppable(Event::Unmatched {
                    connection,
                    message,
                });
            }
            return;
        };
        let Some(channel) = self.subs.get(&sub_id).map(|sub| sub.spec.channel) else {
            return;
        };
        let role = A::role(&message);
        let snapshot_of = A::snapshot_market(&message).map(|(market, _)| market.to_owned());
        if let Some(seq) = A::seq(&message)
            && !self
                .in_sequence(sub_id, connection, sid, seq, snapshot_of.as_deref())
                .await
        {
            return;
        }
        match role {
            Role::Snapshot => self.apply_snapshot(connection, &message).await,
            Role::Delta => {
                if let Some(delta) = A::delta(&message) {
                    self.apply_delta(connection, delta);
                }
            }
            _ => {}
        }
        if self.conns.len() > 1
            && let Some(fingerprint) = fingerprint(text)
            && self.dedupe.repeated(fingerprint, connection)
        {
            self.update_stats(|s| s.deduplicated += 1);
            return;
        }
        if let Some(recovery) = self.recovery.as_mut()
            && !recovery.first_delivery::<A>(sub_id, &message, received)
        {
            // Recovered over REST already (or repeated by the server).
            self.update_stats(|s| s.deduplicated += 1);
            return;
        }
        self.update_stats(|s| s.delivered += 1);
        let event = Event::Message {
            subscription: sub_id,
            message,
        };
        if channel.is_account_state() {
            self.control(event).await;
        } else {
            self.droppable(event);
        }
    }

    /// Checks `seq` on `(connection, sid)`: `false` for a repeat, which is
    /// dropped. A gap is reported and, on the order book channel, repaired:
    /// every book of the subscription is stale until its snapshot, except
    /// the market of a snapshot that itself arrived after the gap (the lost
    /// messages may have been other markets' deltas).
    async fn in_sequence(
        &mut self,
        sub_id: SubscriptionId,
        connection: usize,
        sid: u64,
        seq: u64,
        snapshot_of: Option<&str>,
    ) -> bool {
        let Some(sub) = self.subs.get_mut(&sub_id) else {
            return false;
        };
        let state = &mut sub.on[connection];
        let expected = state.next_seq;
        match expected {
            Some(expected) if seq < expected => {
                self.update_stats(|s| s.duplicates += 1);
                return false;
            }
            Some(expected) if seq > expected => {
                state.next_seq = Some(seq.saturating_add(1));
                let is_book = sub.spec.channel == Channel::Orderbook;
                let mut markets = sub.markets.clone();
                if let Some(fresh) = snapshot_of {
                    markets.remove(fresh);
                }
                self.update_stats(|s| s.gaps += 1);
                if is_book && !markets.is_empty() {
                    self.books
                        .write()
                        .unwrap_or_else(|p| p.into_inner())
                        .mark_stale(connection, Some(&markets));
                    let markets: Vec<String> = markets.into_iter().collect();
                    self.ask_snapshot(connection, sid, &markets, None);
                }
                let event = Event::Gap {
                    subscription: sub_id,
                    connection,
                    expected,
                    received: seq,
                };
                self.control(event).await;
            }
            // Saturating, as in `BookReplay`: a hostile `seq` of 2^64 - 1
            // must not overflow.
            _ => state.next_seq = Some(seq.saturating_add(1)),
        }
        true
    }

    async fn apply_snapshot(&mut self, connection: usize, snapshot: &A::Message) {
        let Some((market, clock)) = A::snapshot_market(snapshot) else {
            return;
        };
        let market = market.to_owned();
        let connections = self.conns.len();
        let pending = self
            .pending
            .remove(&(connection, market.clone()))
            .unwrap_or_default();
        let was = {
            let mut books = self.books.write().unwrap_or_else(|p| p.into_inner());
            let book = books.copy(&market, connection, connections);
            let was = (
                super::api::LocalBook::is_stale(book),
                super::api::LocalBook::clock(book) > 0,
            );
            A::apply_snapshot(book, snapshot);
            // Deltas that waited: the snapshot includes those up to its
            // clock. Without a clock (margin), it includes every one that
            // arrived before it.
            if A::SNAPSHOT_CLOCK {
                for change in pending.iter().filter(|c| c.clock > clock) {
                    A::apply_delta(book, change);
                }
            }
            was
        };
        if was == (true, true) {
            self.update_stats(|s| s.resyncs += 1);
            let event = Event::BookResynced {
                market,
                connection,
                clock,
            };
            self.control(event).await;
        }
    }

    fn apply_delta(&mut self, connection: usize, delta: BookDelta<'_>) {
        let connections = self.conns.len();
        let mut books = self.books.write().unwrap_or_else(|p| p.into_inner());
        let book = books.copy(delta.market, connection, connections);
        if super::api::LocalBook::is_stale(book) {
            drop(books);
            let queue = self
                .pending
                .entry((connection, delta.market.to_owned()))
                .or_default();
            if queue.len() >= MAX_PENDING_DELTAS {
                queue.pop_front();
            }
            queue.push_back(delta.change);
            return;
        }
        A::apply_delta(book, &delta.change);
    }

    // -----------------------------------------------------------------------
    // Delivery
    // -----------------------------------------------------------------------

    /// Delivers an event that must not be lost: waits for the consumer up
    /// to the consumer timeout, then ends the session with `Overflow`.
    async fn control(&mut self, event: Event<A::Message>) {
        self.flush_lagged();
        let sent =
            tokio::time::timeout(self.config.consumer_timeout, self.events.send(event)).await;
        match sent {
            Ok(Ok(())) => {}
            Ok(Err(_)) => self.ended = true,
            Err(_) => {
                let _ = self.events.try_send(Event::Overflow);
                self.ended = true;
            }
        }
    }

    /// Delivers an event of a droppable channel, or counts it as skipped.
    fn droppable(&mut self, event: Event<A::Message>) {
        self.flush_lagged();
        match self.events.try_send(event) {
            Ok(()) => {}
            Err(mpsc::error::TrySendError::Full(_)) => {
                self.lagged += 1;
                self.update_stats(|s| s.lagged += 1);
            }
            Err(mpsc::error::TrySendError::Closed(_)) => self.ended = true,
        }
    }

    fn flush_lagged(&mut self) {
        if self.lagged > 0
            && self
                .events
                .try_send(Event::Lagged {
                    skipped: self.lagged,
                })
                .is_ok()
        {
            self.lagged = 0;
        }
    }
}

/// The `unsubscribe` command that ends `sid` on a connection.
fn unsubscribe_command(sid: u64) -> Value {
    json!({"cmd": "unsubscribe", "params": {"sids": [sid]}})
}
