//! Each bot's own account stream, with fill, order and position recovery
//! on, kept the way a trading program keeps its account: every fill once,
//! each order's and each position's last state. The streams meet the
//! soak's stream faults and their recoveries read REST through the soak's
//! REST faults. Where a recovery reports a failure, the watcher reconciles
//! that kind over REST, as the event asks a program to. Once the faults
//! stop, what each stream delivered, with those reconciliations, must equal
//! what REST lists; and recoveries must rarely fail.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Debug;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime};

use futures_util::TryStreamExt;
use kalshi_client::stream::{Event, StreamSession, Subscription};
use kalshi_client::{Client, Error, Execute, Paginate};
use kalshi_gen::stream::ServerMessage;
use kalshi_gen::types::{Fill, GetPositionsSettlementStatus, MarketPosition, Order};
use kalshi_gen::{ClientOrdersExt, ClientPortfolioExt};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use super::{Bot, SUBACCOUNTS, attempts};
use crate::account_views::{
    FillView, OrderView, PositionState, recovered_position, rest_fill, rest_order, rest_position,
    streamed_fill, streamed_order, streamed_position,
};

/// How long the streams may take, once the faults stop, to equal REST: the
/// last outages' recoveries wait for the read side and a clock margin.
const SETTLE: Duration = Duration::from_secs(60);

/// What each session remembers of each kind to deliver it once
/// (`recovery_memory`): a minute or two of a bot's fills and orders (it
/// makes a few a second), far more than a recovery's window reaches back
/// (an outage, its reads and their retries last seconds), and filled well
/// within the warm-up of a long run, so that the memory check holds the
/// sessions to it (at about 3 fills a second, 1024 took a bot some five
/// minutes, all of a 20-minute run's warm-up). The report shows the
/// sessions' count over time (`StreamStats::remembered`).
const RECOVERY_MEMORY: usize = 256;

/// The kinds of account state a watcher keeps.
const KINDS: [&str; 3] = ["fills", "orders", "positions"];

/// The share of a kind's recoveries, over every bot, that may fail. A
/// failure is reconciled over REST, so the comparison at the end holds
/// whatever the share; this keeps the recoveries themselves under test.
/// Each read is tried five times, so what fails is a burst of faults (or
/// refusals) lasting some seconds: the runs since the freshness reads were
/// shared saw none in one-minute runs.
const MAX_FAILED_SHARE: f64 = 0.05;

/// The fewest recoveries of a kind whose failed share is judged.
const MIN_JUDGED: u64 = 200;

/// How far before a failed recovery's `since` the watcher lists fills
/// again: more than the session's own clock margin.
const RECONCILE_MARGIN: Duration = Duration::from_secs(5);

/// One bot's account as its stream delivered it.
#[derive(Clone, Default)]
pub(super) struct View {
    /// Every fill delivered, by trade and order id (a trade between two of
    /// the bot's subaccounts is two fills).
    fills: BTreeMap<(String, String), FillView>,
    /// Fills delivered a second time.
    repeated: Vec<FillView>,
    /// Fills a reconciliation found that the session has not delivered
    /// (yet: a later recovery may deliver them once).
    reconciled_fills: BTreeSet<(String, String)>,
    orders: BTreeMap<String, OrderView>,
    positions: BTreeMap<(u32, String), PositionState>,
    /// Recovery failures by kind (each an event the session reported).
    failures: BTreeMap<&'static str, u64>,
    /// The first failure of each kind, for the report.
    first_failure: BTreeMap<&'static str, String>,
    /// Items recovered over REST by kind.
    recovered: BTreeMap<&'static str, u64>,
    /// Recoveries that succeeded, by kind.
    recoveries: BTreeMap<&'static str, u64>,
    /// Reconciliations over REST after a failed recovery, by kind.
    reconciles: BTreeMap<&'static str, u64>,
    /// What the reconciliations changed, by kind: fills added, orders and
    /// positions whose state differed. The window a failed recovery left
    /// open explains them, but so would an earlier loss, which they repair
    /// too: the report shows how much they did.
    repaired: BTreeMap<&'static str, u64>,
    /// Reconciliations that could not read REST (an invariant broken).
    unreconciled: Vec<String>,
    /// Session events by kind.
    events: BTreeMap<&'static str, u64>,
}

impl View {
    /// Applies one event, and reconciles over REST after a failed
    /// recovery; `records` counts the bytes the views hold.
    async fn handle(&mut self, client: &Client, event: &Event, records: &AtomicI64) {
        self.apply(event, records);
        self.reconcile(client, event, records).await;
    }

    fn apply(&mut self, event: &Event, records: &AtomicI64) {
        let ((), held) = crate::heap::held_by(|| self.take(event));
        records.fetch_add(held as i64, Ordering::Relaxed);
    }

    fn take(&mut self, event: &Event) {
        *self.events.entry(super::event_kind(event)).or_insert(0) += 1;
        match event {
            Event::Message { message, .. } => match message {
                ServerMessage::Fill(fill) => self.fill(streamed_fill(fill)),
                ServerMessage::UserOrder(update) => {
                    self.orders.extend([streamed_order(update)]);
                }
                ServerMessage::MarketPosition(update) => {
                    self.positions.extend([streamed_position(update)]);
                }
                _ => {}
            },
            Event::FillsRecovered { fills, .. } => {
                self.recovery("fills", fills.len());
                for fill in fills {
                    self.fill(rest_fill(fill));
                }
            }
            Event::OrdersRecovered { orders, .. } => {
                self.recovery("orders", orders.len());
                self.orders.extend(orders.iter().map(rest_order));
            }
            Event::PositionsRecovered { positions, .. } => {
                self.recovery("positions", positions.len());
                self.positions
                    .extend(positions.iter().map(recovered_position));
            }
            Event::FillRecoveryFailed { error, .. } => self.failed("fills", error),
            Event::OrderRecoveryFailed { error, .. } => self.failed("orders", error),
            Event::PositionRecoveryFailed { error, .. } => self.failed("positions", error),
            _ => {}
        }
    }

    /// A fill the session delivered: a second delivery is a violation, a
    /// first one of a fill a reconciliation found is not.
    fn fill(&mut self, fill: FillView) {
        let key = (fill.0.clone(), fill.1.clone());
        let reconciled = self.reconciled_fills.remove(&key);
        if self.fills.insert(key, fill.clone()).is_some() && !reconciled {
            self.repeated.push(fill);
        }
    }

    fn recovery(&mut self, kind: &'static str, items: usize) {
        *self.recoveries.entry(kind).or_insert(0) += 1;
        *self.recovered.entry(kind).or_insert(0) += items as u64;
    }

    fn failed(&mut self, kind: &'static str, error: &str) {
        *self.failures.entry(kind).or_insert(0) += 1;
        self.first_failure
            .entry(kind)
            .or_insert_with(|| error.to_owned());
    }

    /// What a trading program does on a failed recovery, as the event's
    /// documentation asks: once the read side has caught up, reads the kind
    /// over REST (fills from a little before the outage, every order, every
    /// position) and takes it as the state so far. Made at once, before the
    /// next event: the events after it are newer, or, where older, followed
    /// by the messages that update them (a later outage has its own
    /// recovery).
    async fn reconcile(&mut self, client: &Client, event: &Event, records: &AtomicI64) {
        let kind = match event {
            Event::FillRecoveryFailed { .. } => "fills",
            Event::OrderRecoveryFailed { .. } => "orders",
            Event::PositionRecoveryFailed { .. } => "positions",
            _ => return,
        };
        let listed = match read_again(client, event).await {
            Ok(listed) => listed,
            Err(error) => {
                self.unreconciled
                    .push(format!("reconciling {kind} over REST failed: {error}"));
                return;
            }
        };
        // Merged from borrowed listings, so that only what the view keeps
        // is counted.
        let (changed, held) = crate::heap::held_by(|| match &listed {
            Listed::Fills(fills) => self.reconciled(fills),
            Listed::Orders(orders) => replace(&mut self.orders, orders.iter().map(rest_order)),
            Listed::Positions(positions) => replace(
                &mut self.positions,
                positions.iter().map(|(n, p)| rest_position(*n, p)),
            ),
        });
        *self.reconciles.entry(kind).or_insert(0) += 1;
        *self.repaired.entry(kind).or_insert(0) += changed;
        records.fetch_add(held as i64, Ordering::Relaxed);
    }

    /// Adds the listed fills the view lacks; how many.
    fn reconciled(&mut self, fills: &[Fill]) -> u64 {
        let mut added = 0;
        for fill in fills.iter().map(rest_fill) {
            let key = (fill.0.clone(), fill.1.clone());
            if !self.fills.contains_key(&key) {
                self.reconciled_fills.insert(key.clone());
                self.fills.insert(key, fill);
                added += 1;
            }
        }
        added
    }
}

/// A failed recovery's kind, as REST lists it.
enum Listed {
    Fills(Vec<Fill>),
    Orders(Vec<Order>),
    Positions(Vec<(u32, MarketPosition)>),
}

/// Once the read side has caught up, the kind of `event`'s failed
/// recovery over REST: fills from a little before the outage, every order,
/// every position.
async fn read_again(client: &Client, event: &Event) -> Result<Listed, Error> {
    read_side_reaches(client, SystemTime::now()).await?;
    Ok(match event {
        Event::FillRecoveryFailed { since, .. } => {
            Listed::Fills(rest_fills(client, Some(*since - RECONCILE_MARGIN)).await?)
        }
        Event::OrderRecoveryFailed { .. } => Listed::Orders(rest_orders(client).await?),
        // `reconcile` calls this for the three failures only.
        _ => Listed::Positions(rest_positions(client).await?),
    })
}

/// Takes every listed state into `view`; how many differed from what it
/// held.
fn replace<K: Ord, V: PartialEq>(
    view: &mut BTreeMap<K, V>,
    listed: impl Iterator<Item = (K, V)>,
) -> u64 {
    let mut changed = 0;
    for (key, state) in listed {
        if view.get(&key) != Some(&state) {
            changed += 1;
            view.insert(key, state);
        }
    }
    changed
}

/// Waits until Kalshi's read side includes `moment` (the simulator's
/// always does; Kalshi's trails its writes), for at most 30 s: a read side
/// that stays behind fails the reconcile, as a timeout, instead of holding
/// the watcher.
async fn read_side_reaches(client: &Client, moment: SystemTime) -> Result<(), Error> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let freshness = attempts(|| client.exchange().user_data_timestamp().send()).await?;
        if SystemTime::from(freshness.as_of_time) >= moment {
            return Ok(());
        }
        if tokio::time::Instant::now() >= deadline {
            return Err(Error::Timeout {
                operation: "get_user_data_timestamp",
                may_have_executed: false,
            });
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

struct Watcher {
    user: String,
    client: Client,
    task: JoinHandle<(StreamSession, View)>,
    stop: oneshot::Sender<()>,
}

/// The watchers of every bot, and the count of entries their views hold
/// (sampled with the soak's memory).
pub(super) struct Watchers {
    watchers: Vec<Watcher>,
    /// Bytes the views hold (measured as they change).
    pub(super) records: Arc<AtomicI64>,
    /// What each session holds to deliver each fill, order and position
    /// once (`StreamStats::remembered`), as of its last event: bounded, so
    /// not discounted by the memory check.
    pub(super) remembered: Arc<Vec<AtomicU64>>,
}

/// What the watchers saw, for the report, and the invariants they broke.
pub(super) struct Outcome {
    pub(super) summary: String,
    pub(super) violations: Vec<String>,
}

/// Opens each bot's account stream (its own client: the recoveries share
/// its rate budget and retries) and folds its events in the background.
pub(super) async fn start(bots: &[Bot]) -> Watchers {
    let records = Arc::new(AtomicI64::new(0));
    let remembered: Arc<Vec<_>> = Arc::new(bots.iter().map(|_| AtomicU64::new(0)).collect());
    let mut watchers = Vec::new();
    for (n, bot) in bots.iter().enumerate() {
        let session = bot
            .client
            .stream()
            .heartbeat_timeout(Duration::from_secs(2))
            .reconnect_backoff(Duration::from_millis(50), Duration::from_millis(500))
            .recover_fills(true)
            .recover_orders(true)
            .recover_positions(true)
            .recovery_memory(RECOVERY_MEMORY)
            .connect()
            .await
            .expect("a watcher connects");
        for subscription in [
            Subscription::fills(),
            Subscription::user_orders(),
            Subscription::market_positions(),
        ] {
            session
                .subscribe(subscription)
                .await
                .expect("subscribe to the account");
        }
        let (stop, stopped) = oneshot::channel();
        let gauges = Gauges {
            records: records.clone(),
            remembered: remembered.clone(),
            index: n,
        };
        let task = tokio::spawn(fold(session, bot.client.clone(), stopped, gauges));
        watchers.push(Watcher {
            user: bot.user.clone(),
            client: bot.client.clone(),
            task,
            stop,
        });
    }
    Watchers {
        watchers,
        records,
        remembered,
    }
}

/// Where a watcher counts what its view and its session hold.
struct Gauges {
    records: Arc<AtomicI64>,
    remembered: Arc<Vec<AtomicU64>>,
    index: usize,
}

/// Applies every event to a view until `stopped`.
async fn fold(
    mut session: StreamSession,
    client: Client,
    mut stopped: oneshot::Receiver<()>,
    gauges: Gauges,
) -> (StreamSession, View) {
    let mut view = View::default();
    loop {
        tokio::select! {
            _ = &mut stopped => return (session, view),
            event = session.next_event() => match event {
                Some(event) => {
                    view.handle(&client, &event, &gauges.records).await;
                    gauges.remembered[gauges.index]
                        .store(session.stats().remembered, Ordering::Relaxed);
                }
                None => return (session, view),
            },
        }
    }
}

/// Once the faults are over: waits for each view to equal REST (or for
/// [`SETTLE`]) and reports the kinds that do not.
pub(super) async fn finish(watchers: Watchers) -> Outcome {
    let mut violations = Vec::new();
    let mut views = Vec::new();
    let mut lines = Vec::new();
    for watcher in watchers.watchers {
        let _ = watcher.stop.send(());
        let (mut session, mut view) = watcher.task.await.expect("a watcher task");
        let rest = Rest::read(&watcher.client).await;
        let deadline = Instant::now() + SETTLE;
        let mut differences = rest.differences(&view);
        while !differences.is_empty() && Instant::now() < deadline {
            match tokio::time::timeout(Duration::from_millis(100), session.next_event()).await {
                Ok(Some(event)) => {
                    view.handle(&watcher.client, &event, &watchers.records)
                        .await;
                }
                Ok(None) => {
                    violations.push(format!("{}: the account stream ended", watcher.user));
                    break;
                }
                Err(_) => {}
            }
            differences = rest.differences(&view);
        }
        for difference in differences {
            violations.push(format!("{}: {difference}", watcher.user));
        }
        if !view.repeated.is_empty() {
            violations.push(format!(
                "{}: {} fills delivered twice, e.g. {:?}",
                watcher.user,
                view.repeated.len(),
                view.repeated.first()
            ));
        }
        if view.events.contains_key("overflow") {
            violations.push(format!("{}: the stream overflowed", watcher.user));
        }
        let stats = session.stats();
        lines.push(format!(
            "{}: {} fills, {} orders, {} positions; {} reconnects; recoveries {:?} \
             (items {:?}); recovery failures {:?} (first: {:?}), each reconciled over REST, \
             which changed {:?}",
            watcher.user,
            rest.fills.len(),
            rest.orders.len(),
            rest.positions.len(),
            stats.reconnects,
            view.recoveries,
            view.recovered,
            view.failures,
            view.first_failure,
            view.repaired,
        ));
        violations.extend(
            view.unreconciled
                .iter()
                .map(|e| format!("{}: {e}", watcher.user)),
        );
        session.close().await;
        views.push(view);
    }
    violations.extend(failed_shares(&views));
    Outcome {
        summary: lines.join("\n"),
        violations,
    }
}

/// Each kind no recovery of which was made, or whose recoveries, over
/// every bot, failed more often than [`MAX_FAILED_SHARE`] (and more than
/// once). The share errs high: a failed subscription-time read counts as a
/// failure, a successful one reports nothing to count.
fn failed_shares(views: &[View]) -> Vec<String> {
    let total = |count: fn(&View) -> &BTreeMap<&'static str, u64>, kind| -> u64 {
        views.iter().filter_map(|v| count(v).get(kind)).sum()
    };
    KINDS
        .into_iter()
        .filter_map(|kind| {
            let failed = total(|v| &v.failures, kind);
            let made = failed + total(|v| &v.recoveries, kind);
            if made == 0 {
                return Some(format!("no recovery of {kind} was made"));
            }
            // A short run's few dozen reconnects come in bursts a single
            // fault can fail together (CI's one-minute run once saw 4 of
            // 36): the share is judged over long runs only.
            if made < MIN_JUDGED {
                return None;
            }
            let allowed = (MAX_FAILED_SHARE * made as f64).max(1.0);
            (failed as f64 > allowed).then(|| {
                format!(
                    "{failed} of {made} recoveries of {kind} failed (at most {:.0} % may)",
                    MAX_FAILED_SHARE * 100.0
                )
            })
        })
        .collect()
}

/// The account as REST lists it once the faults are over.
struct Rest {
    fills: BTreeMap<(String, String), FillView>,
    orders: BTreeMap<String, OrderView>,
    positions: BTreeMap<(u32, String), PositionState>,
}

impl Rest {
    async fn read(client: &Client) -> Self {
        let read = async {
            Ok::<_, Error>(Self {
                fills: (rest_fills(client, None).await?.iter())
                    .map(rest_fill)
                    .map(|f| ((f.0.clone(), f.1.clone()), f))
                    .collect(),
                orders: rest_orders(client).await?.iter().map(rest_order).collect(),
                positions: (rest_positions(client).await?.iter())
                    .map(|(n, p)| rest_position(*n, p))
                    .collect(),
            })
        };
        read.await
            .unwrap_or_else(|e| panic!("reading the account failed after the faults: {e:?}"))
    }

    /// Each kind in which `view` differs from REST, with a count of the
    /// entries missing, extra and different and one example.
    fn differences(&self, view: &View) -> Vec<String> {
        let mut out = Vec::new();
        for kind in KINDS {
            let difference = match kind {
                "fills" => difference(kind, &self.fills, &view.fills),
                "orders" => difference(kind, &self.orders, &view.orders),
                _ => difference(kind, &self.positions, &view.positions),
            };
            out.extend(difference);
        }
        out
    }
}

/// Every subaccount's fills (since `since`, to the second, when given).
async fn rest_fills(client: &Client, since: Option<SystemTime>) -> Result<Vec<Fill>, Error> {
    let min_ts = since.map(|t| {
        let seconds = t.duration_since(SystemTime::UNIX_EPOCH).unwrap_or_default();
        i64::try_from(seconds.as_secs()).expect("a time in range")
    });
    attempts(|| {
        let mut request = client.raw().get_fills().limit(200);
        if let Some(min_ts) = min_ts {
            request = request.min_ts(min_ts);
        }
        request.stream(None).try_collect()
    })
    .await
}

/// Every subaccount's orders, each with its last state.
async fn rest_orders(client: &Client) -> Result<Vec<Order>, Error> {
    attempts(|| {
        client
            .raw()
            .get_orders()
            .limit(1000)
            .stream(None)
            .try_collect()
    })
    .await
}

/// Every subaccount's positions, settled ones too, with its number.
async fn rest_positions(client: &Client) -> Result<Vec<(u32, MarketPosition)>, Error> {
    let mut positions = Vec::new();
    for subaccount in 0..SUBACCOUNTS {
        let listed: Vec<_> = attempts(|| {
            client
                .raw()
                .get_positions()
                .subaccount(subaccount)
                .settlement_status(GetPositionsSettlementStatus::All)
                .limit(1000)
                .stream(None)
                .try_collect()
        })
        .await?;
        positions.extend(listed.into_iter().map(|p| (subaccount, p)));
    }
    Ok(positions)
}

/// How `seen` differs from `rest`, if it does.
fn difference<K: Ord + Debug, V: PartialEq + Debug>(
    kind: &str,
    rest: &BTreeMap<K, V>,
    seen: &BTreeMap<K, V>,
) -> Option<String> {
    let missing: Vec<_> = rest.iter().filter(|(k, _)| !seen.contains_key(k)).collect();
    let extra: Vec<_> = seen.iter().filter(|(k, _)| !rest.contains_key(k)).collect();
    let different: Vec<_> = rest
        .iter()
        .filter_map(|(k, v)| seen.get(k).filter(|s| *s != v).map(|s| (k, v, s)))
        .collect();
    if missing.is_empty() && extra.is_empty() && different.is_empty() {
        return None;
    }
    Some(format!(
        "{kind}: {} missing (e.g. {:?}), {} extra (e.g. {:?}), {} different (e.g. {:?}: \
         REST, then the stream's)",
        missing.len(),
        missing.first(),
        extra.len(),
        extra.first(),
        different.len(),
        different.first(),
    ))
}
