//! Recovery of account state an outage hid: the fills
//! ([`StreamBuilder::recover_fills`](super::StreamBuilder::recover_fills)),
//! the orders
//! ([`StreamBuilder::recover_orders`](super::StreamBuilder::recover_orders))
//! and the positions
//! ([`StreamBuilder::recover_positions`](super::StreamBuilder::recover_positions))
//! a lost connection missed, read over REST once the stream is back.
//!
//! Kalshi does not replay what a connection missed. With recovery on, each
//! time a fill, `user_orders` or `market_positions` subscription is made
//! again on a connection that was lost, the session reads over REST what
//! may have happened since that connection last heard anything, and
//! delivers what the consumer has not seen as one
//! [`Event::FillsRecovered`](super::Event::FillsRecovered),
//! [`Event::OrdersRecovered`](super::Event::OrdersRecovered) or
//! [`Event::PositionsRecovered`](super::Event::PositionsRecovered). Each
//! fill reaches the consumer once per subscription, from either source; an
//! order's state never reaches it after a newer state of the same order,
//! nor a position's, short of a message delayed past a read (see
//! [`StreamBuilder::recover_positions`](super::StreamBuilder::recover_positions)).

use std::collections::{BTreeSet, HashMap, HashSet, VecDeque};
use std::sync::{Arc, LazyLock, Mutex, PoisonError, Weak};
use std::time::{Duration, Instant, SystemTime};

use futures_util::TryStreamExt;
use futures_util::future::BoxFuture;
use kalshi_gen::num::{Count, Dollars};
use kalshi_gen::types::{Fill, GetPositionsSettlementStatus, MarketPosition, Order};
use kalshi_gen::{ClientInfo, ClientOrdersExt, ClientPortfolioExt};

use super::{Channel, RecoveredPosition, SubscriptionId};
use crate::pagination::CursorResponse;
use crate::{Client, Execute, Paginate};

/// What to recover for one subscription on one lost connection.
#[derive(Clone)]
pub(crate) struct Window {
    /// [`Channel::Fill`] or [`Channel::UserOrders`].
    pub channel: Channel,
    /// The subscription's markets; every market when empty.
    pub markets: Vec<String>,
    /// When the connection last heard anything.
    pub since: SystemTime,
    /// Orders last known open (for `user_orders`).
    pub open_orders: Vec<String>,
    /// Positions last known open, by subaccount and market (for
    /// `market_positions`).
    pub open_positions: Vec<(u32, String)>,
    /// Read what later recoveries compare with, when the subscription is
    /// first made: the resting orders (`user_orders`), or every position
    /// (`market_positions`).
    pub baseline: bool,
}

/// What a recovery read.
pub(crate) enum Listing {
    Fills(Vec<Fill>),
    Orders {
        orders: Vec<Order>,
        /// Orders last shown resting that Kalshi no longer has (404).
        gone: Vec<String>,
    },
    /// The resting orders when a `user_orders` subscription was made.
    Baseline(Vec<Order>),
    Positions {
        positions: Vec<RecoveredPosition>,
        /// When the listing started (before waiting for the read side to
        /// pass that moment): a state the stream received later is at least
        /// as new as the listed one, and one received earlier is older.
        listed_from: Instant,
        /// Whether this is the subscription-time read (nothing delivered).
        baseline: bool,
        /// When the read ended, by this machine's clock.
        read_at: SystemTime,
    },
}

/// Reads what a window may have missed.
pub(crate) type Recover =
    Arc<dyn Fn(Window) -> BoxFuture<'static, Result<Listing, String>> + Send + Sync>;

/// How long the read side may lag the reconnect before recovery gives up:
/// Kalshi's reads trail its writes slightly, and a listing taken before they
/// caught up could miss the window's last fills.
const READ_SIDE_WAIT: Duration = Duration::from_secs(10);
/// The shortest wait between two reads of the read side's freshness while
/// it lags.
const READ_SIDE_POLL: Duration = Duration::from_millis(100);
/// How long one read of the read side's freshness (or the exchange's
/// refusal of it) answers for every recovery of the process on the same
/// exchange: they start within moments of each other after a reconnect,
/// further apart on a loaded machine. No longer than the first retry's
/// shortest wait, so a recovery never takes its own failure for a new one.
const READ_SIDE_SHARED: Duration = Duration::from_millis(250);
/// The longest wait between two reads of the read side's freshness.
const READ_SIDE_MAX_POLL: Duration = Duration::from_secs(1);
/// How many times an outage's recovery reads before it reports a failure.
/// Every read is idempotent and what it finds is delivered once, so a
/// fault the client's own retries leave alone (an answer that does not
/// decode, say) costs a moment, not the window.
const RECOVERY_ATTEMPTS: u32 = 5;
/// The wait before a recovery's second read; it doubles for each next
/// (0.5, 1, 2 and 4 s: a burst of failures, such as the 429s of a public
/// endpoint many sessions reconnecting at once read together, passes).
/// Each process takes its own share of it, between half and all (see
/// [`ReadSide::jitter`]), so processes a burst failed together do not all
/// read again at the same moment.
const RECOVERY_BACKOFF: Duration = Duration::from_millis(500);
const _: () = assert!(
    READ_SIDE_SHARED.as_millis() <= RECOVERY_BACKOFF.as_millis() / 2,
    "a recovery's retry must not reuse the failure it retries"
);
/// The most tickers one `GET /portfolio/fills` filters by.
const MAX_TICKERS: usize = 100;
/// How many delivered fills, finished orders and flat positions a session
/// remembers, of each, unless told otherwise
/// ([`StreamBuilder::recovery_memory`](super::StreamBuilder::recovery_memory)).
pub(crate) const REMEMBERED: usize = 65_536;
/// How far before the last frame heard the listing starts, and how far
/// past the reconnect the read side must be: the times are this machine's,
/// Kalshi's are its own, and a fill listed twice costs nothing (it is
/// delivered once).
const CLOCK_MARGIN: Duration = Duration::from_secs(2);

/// Recovery through `client`'s REST API.
pub(crate) fn through(client: Client) -> Recover {
    let read_side = ReadSide::of(&client);
    Arc::new(move |window| Box::pin(read(client.clone(), read_side.clone(), window)))
}

/// A recovery's read, made again on failure ([`RECOVERY_ATTEMPTS`]); the
/// subscription-time read once (the hub makes a failed one again later).
async fn read(client: Client, read_side: Arc<ReadSide>, window: Window) -> Result<Listing, String> {
    if window.baseline {
        return read_once(client, &read_side, window).await;
    }
    let mut backoff = RECOVERY_BACKOFF;
    let mut attempt = 1;
    loop {
        match read_once(client.clone(), &read_side, window.clone()).await {
            Err(error) if attempt < RECOVERY_ATTEMPTS => {
                tracing::debug!(attempt, %error, "a recovery read failed; reading again");
                tokio::time::sleep(backoff.mul_f64(read_side.jitter)).await;
                backoff *= 2;
                attempt += 1;
            }
            Err(error) => return Err(format!("{error} (read {attempt} times)")),
            Ok(listing) => return Ok(listing),
        }
    }
}

async fn read_once(
    client: Client,
    read_side: &ReadSide,
    window: Window,
) -> Result<Listing, String> {
    match window.channel {
        Channel::Fill => fills_since(client, read_side, window.markets, window.since)
            .await
            .map(Listing::Fills),
        Channel::UserOrders if window.baseline => baseline(client, read_side, window.markets)
            .await
            .map(Listing::Baseline),
        Channel::UserOrders => orders_since(client, read_side, window).await,
        Channel::MarketPositions => {
            let (positions, listed_from) = positions(client, read_side, &window).await?;
            Ok(Listing::Positions {
                positions,
                listed_from,
                baseline: window.baseline,
                read_at: SystemTime::now(),
            })
        }
        other => Err(format!("nothing to recover on `{}`", other.name())),
    }
}

/// The orders that may have changed since `window.since`, once the read
/// side includes the moment this was called: every resting order, every
/// order created since then, and each order the stream last showed resting
/// that is in neither list (it was canceled or executed meanwhile).
async fn orders_since(
    client: Client,
    read_side: &ReadSide,
    window: Window,
) -> Result<Listing, String> {
    read_side.reaches_now(&client).await?;
    let mut orders = HashMap::new();
    let resting = all_subaccounts(&client).get_orders().status("resting");
    let created = all_subaccounts(&client)
        .get_orders()
        .min_ts(min_ts(window.since));
    for request in [resting, created] {
        for order in every_order(request).await? {
            orders.insert(canonical(&order.order_id), order);
        }
    }
    let mut gone = Vec::new();
    for id in window.open_orders {
        if orders.contains_key(&canonical(&id)) {
            continue;
        }
        match client.orders().get(&id).send().await {
            Ok(found) => {
                orders.insert(canonical(&found.order.order_id), found.order);
            }
            // Archived or never Kalshi's: nothing more will be heard of it.
            Err(crate::Error::NotFound(_)) => gone.push(id),
            Err(e) => return Err(format!("reading order {id} failed: {e}")),
        }
    }
    let orders = in_markets(orders.into_values().collect(), &window.markets);
    Ok(Listing::Orders { orders, gone })
}

/// The resting orders of `markets` (all when empty), once the read side
/// includes the moment this was called.
async fn baseline(
    client: Client,
    read_side: &ReadSide,
    markets: Vec<String>,
) -> Result<Vec<Order>, String> {
    read_side.reaches_now(&client).await?;
    let resting = every_order(all_subaccounts(&client).get_orders().status("resting")).await?;
    Ok(in_markets(resting, &markets))
}

/// The listings' client, which sends no subaccount: the stream carries
/// every subaccount's fills and orders whatever the client's default
/// subaccount (a key restricted to one is answered for that one), so
/// listings scoped to the default would miss the others'.
fn all_subaccounts(client: &Client) -> &kalshi_gen::Client {
    client.raw()
}

/// Every page of an order listing.
async fn every_order(request: kalshi_gen::builder::GetOrders<'_>) -> Result<Vec<Order>, String> {
    every(request.limit(1000), "orders").await
}

/// Every item of every page of `request` (`what` names them in the error).
async fn every<R>(
    request: R,
    what: &str,
) -> Result<Vec<<R::Response as CursorResponse>::Item>, String>
where
    R: Paginate,
    <R::Response as CursorResponse>::Item: Send,
{
    request
        .stream(None)
        .try_collect()
        .await
        .map_err(|e| format!("listing the {what} failed: {e}"))
}

fn in_markets(orders: Vec<Order>, markets: &[String]) -> Vec<Order> {
    let wanted: HashSet<&str> = markets.iter().map(String::as_str).collect();
    orders
        .into_iter()
        .filter(|order| wanted.is_empty() || wanted.contains(order.ticker.as_str()))
        .collect()
}

/// The positions of every subaccount in `window.markets` (all when empty)
/// that may have changed since `window.since`, once the read side includes
/// the moment this was called; with that moment. They are the unsettled
/// positions and, unless this is the subscription-time read, the settled
/// positions of the markets settled since `window.since` and of those last
/// known open that the unsettled ones leave out (a settled position no
/// longer changes, and is out of the unsettled listing).
///
/// The subaccounts are those `GET /portfolio/subaccounts/balances` names
/// (only its own for a key restricted to one); each is read with its
/// `subaccount`, as the stream carries every subaccount's positions and a
/// read without one is the primary account's.
async fn positions(
    client: Client,
    read_side: &ReadSide,
    window: &Window,
) -> Result<(Vec<RecoveredPosition>, Instant), String> {
    let listed_from = Instant::now();
    read_side.reaches_now(&client).await?;
    let wanted =
        |ticker: &str| window.markets.is_empty() || window.markets.iter().any(|m| m == ticker);
    let mut positions = Vec::new();
    for subaccount in subaccounts(&client).await? {
        let mut listed = every_position(position_reads(&client, subaccount)).await?;
        if !window.baseline {
            let mut settled = settled_since(&client, subaccount, window.since).await?;
            let unsettled: HashSet<&str> = listed.iter().map(|p| p.ticker.as_str()).collect();
            settled.extend(
                window
                    .open_positions
                    .iter()
                    .filter(|(number, ticker)| {
                        *number == subaccount && !unsettled.contains(ticker.as_str())
                    })
                    .map(|(_, ticker)| ticker.clone()),
            );
            for ticker in settled.into_iter().filter(|t| wanted(t)) {
                let read = position_reads(&client, subaccount)
                    .settlement_status(GetPositionsSettlementStatus::Settled)
                    .ticker(ticker);
                listed.extend(every_position(read).await?);
            }
        }
        positions.extend(
            listed
                .into_iter()
                .filter(|p| wanted(&p.ticker))
                .map(|position| RecoveredPosition {
                    subaccount,
                    position,
                }),
        );
    }
    Ok((positions, listed_from))
}

/// The numbers of the subaccounts the key may read.
async fn subaccounts(client: &Client) -> Result<BTreeSet<u32>, String> {
    let balances = client
        .subaccounts()
        .balances()
        .send()
        .await
        .map_err(|e| format!("listing the subaccounts failed: {e}"))?;
    balances
        .subaccount_balances
        .iter()
        .map(|b| {
            u32::try_from(b.subaccount_number).map_err(|_| {
                format!(
                    "Kalshi named subaccount {}, not one of 0 to 63",
                    b.subaccount_number
                )
            })
        })
        .collect()
}

/// A positions read of `subaccount`.
fn position_reads(client: &Client, subaccount: u32) -> kalshi_gen::builder::GetPositions<'_> {
    all_subaccounts(client)
        .get_positions()
        .subaccount(u64::from(subaccount))
}

/// Every page of a positions read.
async fn every_position(
    request: kalshi_gen::builder::GetPositions<'_>,
) -> Result<Vec<MarketPosition>, String> {
    every(request.limit(1000), "positions").await
}

/// The markets of `subaccount` settled since `since` (with the clock
/// margin), each once.
async fn settled_since(
    client: &Client,
    subaccount: u32,
    since: SystemTime,
) -> Result<BTreeSet<String>, String> {
    let settlements = all_subaccounts(client)
        .get_settlements()
        .subaccount(u64::from(subaccount))
        .min_ts(min_ts(since))
        .limit(1000);
    let settlements = every(settlements, "settlements").await?;
    Ok(settlements.into_iter().map(|s| s.ticker).collect())
}

/// The fills of `markets` since `since`, once the read side includes the
/// moment this was called (the stream was back by then).
async fn fills_since(
    client: Client,
    read_side: &ReadSide,
    markets: Vec<String>,
    since: SystemTime,
) -> Result<Vec<Fill>, String> {
    read_side.reaches_now(&client).await?;
    let min_ts = min_ts(since);
    if markets.is_empty() {
        return list(&client, min_ts, None).await;
    }
    let mut fills = Vec::new();
    for chunk in markets.chunks(MAX_TICKERS) {
        fills.extend(list(&client, min_ts, Some(chunk.join(","))).await?);
    }
    Ok(fills)
}

async fn list(client: &Client, min_ts: i64, tickers: Option<String>) -> Result<Vec<Fill>, String> {
    let mut request = all_subaccounts(client)
        .get_fills()
        .min_ts(min_ts)
        .limit(1000);
    if let Some(tickers) = tickers {
        request = request.ticker(tickers);
    }
    every(request, "fills").await
}

type Freshness = kalshi_gen::types::GetUserDataTimestampResponse;

/// How far Kalshi's read side has caught up, as last read, shared by every
/// recovery of the process on one exchange (one base URL), whichever
/// session and client it serves. After a reconnect they all wait for about
/// the same moment, and `GET /exchange/user_data_timestamp` is a public
/// endpoint, the same for every account and metered by address rather than
/// by key: each recovery asking it every 100 ms for the clock margin would
/// spend dozens of requests a reconnect, and each session asking it on its
/// own, a few times the sessions' number (the fault soak met Kalshi's
/// answer to both, 429, on the simulator).
pub(crate) struct ReadSide {
    /// The last answer (the exchange's refusal too: the recoveries waiting
    /// behind a refused read share it rather than each sending its own),
    /// and when.
    last: tokio::sync::Mutex<Option<(Result<Freshness, String>, tokio::time::Instant)>>,
    /// The share of [`RECOVERY_BACKOFF`] this process's recoveries wait,
    /// drawn once between half and all: the recoveries of the process fail
    /// and read again together (one read serves them all), those of other
    /// processes a burst failed too, at other moments.
    jitter: f64,
}

/// The read sides in use, by base URL; an entry lives while a session
/// holds it.
static READ_SIDES: LazyLock<Mutex<HashMap<String, Weak<ReadSide>>>> = LazyLock::new(Mutex::default);

impl ReadSide {
    /// The read side of `client`'s exchange, shared with every other
    /// session of the process on it.
    fn of(client: &Client) -> Arc<Self> {
        let url = Self::exchange(client);
        let mut sides = READ_SIDES.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(side) = sides.get(&url).and_then(Weak::upgrade) {
            return side;
        }
        sides.retain(|_, side| side.strong_count() > 0);
        let side = Arc::new(Self {
            last: tokio::sync::Mutex::default(),
            jitter: 0.5 + fastrand::f64() / 2.0,
        });
        sides.insert(url, Arc::downgrade(&side));
        side
    }

    /// The key of `client`'s exchange in [`READ_SIDES`]: its base URL.
    fn exchange(client: &Client) -> String {
        client.raw().baseurl().trim_end_matches('/').to_owned()
    }

    /// Waits until the read side includes this moment (and the clock
    /// margin), for at most [`READ_SIDE_WAIT`]. The read side keeps pace
    /// with Kalshi's clock, so it is read again after about the time it
    /// still lacks (within [`READ_SIDE_POLL`] and [`READ_SIDE_MAX_POLL`]).
    async fn reaches_now(&self, client: &Client) -> Result<(), String> {
        let moment = SystemTime::now() + CLOCK_MARGIN;
        let deadline = tokio::time::Instant::now() + READ_SIDE_WAIT;
        loop {
            let freshness = self.freshness(client, deadline).await?;
            let as_of = SystemTime::from(freshness.as_of_time);
            if as_of >= moment {
                return Ok(());
            }
            let now = tokio::time::Instant::now();
            if now >= deadline {
                return Err(format!(
                    "the read side stayed behind the reconnect for {READ_SIDE_WAIT:?} (at {})",
                    freshness.as_of_time
                ));
            }
            let lacking = moment.duration_since(as_of).unwrap_or_default();
            let wait = lacking.clamp(READ_SIDE_POLL, READ_SIDE_MAX_POLL);
            tokio::time::sleep(wait.min(deadline - now)).await;
        }
    }

    /// The read side's freshness: as another recovery read it (or the
    /// exchange refused it) within the last [`READ_SIDE_SHARED`], or read
    /// now, one at a time and by `deadline` (the client's own retries, or
    /// another's read, may take longer).
    ///
    /// The read goes through `client`: its rate limits, retries and
    /// transport. So only what the exchange answered is shared: its
    /// freshness, or its refusal with a status (a 429 or 5xx says the next
    /// read would fare no better just now). A failure of this client's own
    /// (its rate budget unavailable, no connection, a timeout) is this
    /// recovery's alone, and so is an answer that does not decode: that is
    /// one response gone wrong, and sharing it would fail every session's
    /// attempt on one bad read.
    async fn freshness(
        &self,
        client: &Client,
        deadline: tokio::time::Instant,
    ) -> Result<Freshness, String> {
        let late = || format!("reading the read side's freshness took over {READ_SIDE_WAIT:?}");
        let Ok(mut last) = tokio::time::timeout_at(deadline, self.last.lock()).await else {
            return Err(late());
        };
        if let Some((answer, read)) = &*last
            && read.elapsed() < READ_SIDE_SHARED
        {
            return answer.clone();
        }
        let read = client.exchange().user_data_timestamp().send();
        // A read cut off by this recovery's deadline is not shared: the
        // others' deadlines may be later.
        let Ok(answer) = tokio::time::timeout_at(deadline, read).await else {
            return Err(late());
        };
        let answered = answer
            .as_ref()
            .map_or_else(|e| e.api_error().is_some(), |_| true);
        let answer = answer.map_err(|e| format!("reading the read side's freshness failed: {e}"));
        if answered {
            *last = Some((answer.clone(), tokio::time::Instant::now()));
        }
        answer
    }
}

/// The `min_ts` of a listing that covers what happened since `since`:
/// the clock margin earlier, in whole seconds rounded down.
fn min_ts(since: SystemTime) -> i64 {
    unix_seconds(
        since
            .checked_sub(CLOCK_MARGIN)
            .unwrap_or(SystemTime::UNIX_EPOCH),
    )
}

fn unix_seconds(time: SystemTime) -> i64 {
    time.duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

/// An order's state as far as delivery is concerned: when it last changed,
/// and what it was then (two changes can share a millisecond).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct OrderState {
    pub updated_ms: Option<i64>,
    pub status: String,
    pub filled: Count,
    pub remaining: Count,
}

impl OrderState {
    /// Whether this state comes before `seen` in the order's life. How far
    /// along an order is never goes back (its filled count only grows, and
    /// canceled or executed is final), so that decides first; between
    /// states as far along, the earlier update time (when both have one).
    fn precedes(&self, seen: &Self) -> bool {
        match self.progress().cmp(&seen.progress()) {
            std::cmp::Ordering::Less => true,
            std::cmp::Ordering::Greater => false,
            std::cmp::Ordering::Equal => matches!(
                (self.updated_ms, seen.updated_ms),
                (Some(ours), Some(theirs)) if ours < theirs
            ),
        }
    }

    /// Whether this state, read over REST, is news next to `seen`: further
    /// along, or as far along and updated later. (Two changes of one
    /// millisecond that leave the order as far along, a decrease and an
    /// amendment, cannot be ordered; the one delivered stands.)
    fn is_news_after(&self, seen: &Self) -> bool {
        match self.progress().cmp(&seen.progress()) {
            std::cmp::Ordering::Less => false,
            std::cmp::Ordering::Greater => true,
            std::cmp::Ordering::Equal => matches!(
                (self.updated_ms, seen.updated_ms),
                (Some(ours), Some(theirs)) if ours > theirs
            ),
        }
    }

    fn progress(&self) -> (bool, Count) {
        (self.is_finished(), self.filled)
    }

    /// Whether the order is done: canceled or executed. Any other status
    /// (resting, or one this SDK does not know) may still change.
    pub fn is_finished(&self) -> bool {
        matches!(self.status.as_str(), "canceled" | "executed")
    }
}

/// The last state of each order delivered per `user_orders` subscription,
/// so that recovered states are delivered only when they are news and a
/// stream message with a state before a delivered one is dropped.
pub(crate) struct DeliveredOrders {
    /// How many finished orders are remembered.
    limit: usize,
    states: HashMap<(SubscriptionId, String), OrderState>,
    /// The finished orders, oldest first: the ones forgotten first.
    finished: VecDeque<(SubscriptionId, String)>,
    /// Orders open when the subscription was made that nothing was
    /// delivered of yet: to be read again, with no state to compare.
    known_open: HashSet<(SubscriptionId, String)>,
}

impl DeliveredOrders {
    /// Remembers every open order and the last `limit` finished ones.
    pub(crate) fn new(limit: usize) -> Self {
        Self {
            limit: limit.max(1),
            states: HashMap::new(),
            finished: VecDeque::new(),
            known_open: HashSet::new(),
        }
    }

    /// Records a state the stream brought; `false` when a later state of
    /// the order was delivered already (the message is stale).
    pub(crate) fn streamed(
        &mut self,
        subscription: SubscriptionId,
        order_id: &str,
        state: OrderState,
    ) -> bool {
        self.admit(subscription, order_id, state, |state, seen| {
            !state.precedes(seen)
        })
    }

    /// Records a state read over REST; `false` when it is no news: the
    /// state delivered last, or one before it.
    pub(crate) fn recovered(
        &mut self,
        subscription: SubscriptionId,
        order_id: &str,
        state: OrderState,
    ) -> bool {
        self.admit(subscription, order_id, state, OrderState::is_news_after)
    }

    /// Records `state` unless a state is recorded for the order and `after`
    /// says `state` does not go after it.
    fn admit(
        &mut self,
        subscription: SubscriptionId,
        order_id: &str,
        state: OrderState,
        after: fn(&OrderState, &OrderState) -> bool,
    ) -> bool {
        let key = (subscription, canonical(order_id));
        if self
            .states
            .get(&key)
            .is_some_and(|seen| !after(&state, seen))
        {
            return false;
        }
        self.remember(key, state);
        true
    }

    /// The orders remembered: open, known open, and finished.
    pub(crate) fn len(&self) -> usize {
        self.states.len() + self.known_open.len()
    }

    /// Notes an order open when the subscription was made, so that a later
    /// recovery reads it again; its state is not recorded (the consumer was
    /// given none), and nothing is delivered.
    pub(crate) fn note(&mut self, subscription: SubscriptionId, order_id: &str) {
        let key = (subscription, canonical(order_id));
        if !self.states.contains_key(&key) {
            self.known_open.insert(key);
        }
    }

    /// Forgets an order Kalshi no longer has.
    pub(crate) fn forget(&mut self, subscription: SubscriptionId, order_id: &str) {
        let key = (subscription, canonical(order_id));
        self.known_open.remove(&key);
        if self.states.remove(&key).is_some_and(|s| s.is_finished()) {
            self.finished.retain(|k| *k != key);
        }
    }

    /// Forgets everything of a subscription that ended.
    pub(crate) fn forget_subscription(&mut self, subscription: SubscriptionId) {
        self.states.retain(|(sub, _), _| *sub != subscription);
        self.finished.retain(|(sub, _)| *sub != subscription);
        self.known_open.retain(|(sub, _)| *sub != subscription);
    }

    /// The orders of `subscription` last known open (not finished).
    pub(crate) fn open(&self, subscription: SubscriptionId) -> Vec<String> {
        let delivered = self
            .states
            .iter()
            .filter(|(_, state)| !state.is_finished())
            .map(|(key, _)| key);
        delivered
            .chain(&self.known_open)
            .filter(|(sub, _)| *sub == subscription)
            .map(|(_, id)| id.clone())
            .collect()
    }

    /// Keeps `state`; resting orders are kept until they finish, finished
    /// ones until `limit` newer ones have finished.
    fn remember(&mut self, key: (SubscriptionId, String), state: OrderState) {
        self.known_open.remove(&key);
        let finishes = state.is_finished();
        let was_finished = self
            .states
            .insert(key.clone(), state)
            .is_some_and(|before| before.is_finished());
        if finishes && !was_finished {
            self.finished.push_back(key);
            if self.finished.len() > self.limit
                && let Some(old) = self.finished.pop_front()
            {
                self.states.remove(&old);
            }
        }
    }
}

/// An order's REST state for [`DeliveredOrders`].
pub(crate) fn rest_state(order: &Order) -> OrderState {
    OrderState {
        updated_ms: order.last_update_time.map(|t| t.timestamp_millis()),
        status: order.status.to_string(),
        filled: order.fill_count_fp,
        remaining: order.remaining_count_fp,
    }
}

/// An id as one spelling: a UUID hyphenated in lower case (the stream's
/// ids are UUIDs, REST's are strings), anything else as it is.
fn canonical(id: &str) -> String {
    uuid::Uuid::parse_str(id).map_or_else(|_| id.to_owned(), |u| u.to_string())
}

/// A position's state as far as delivery is concerned: what both the
/// stream's `market_position` messages and REST's listing carry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PositionState {
    pub position: Count,
    pub realized_pnl: Dollars,
    pub fees_paid: Dollars,
}

impl PositionState {
    /// A listed position's state.
    pub(crate) fn listed(position: &MarketPosition) -> Self {
        Self {
            position: position.position_fp,
            realized_pnl: position.realized_pnl_dollars,
            fees_paid: position.fees_paid_dollars,
        }
    }
}

/// A position: its subscription, subaccount and market.
type PositionKey = (SubscriptionId, u32, String);

/// What is known of a position.
struct KnownPosition {
    state: PositionState,
    source: Source,
    /// While flat: the number it was given when it went flat (its place in
    /// the order of forgetting).
    flat: Option<u64>,
}

/// Where a known state came from, and how new it is.
#[derive(Clone, Copy)]
enum Source {
    /// A stream message received then.
    Streamed { received: Instant },
    /// A REST read that started at `listed_from`, of a position Kalshi last
    /// updated at `updated_ms`; `delivered` is false for the
    /// subscription-time read, which the consumer was not given.
    Listed {
        listed_from: Instant,
        updated_ms: i64,
        delivered: bool,
    },
}

/// The last state of each position per `market_positions` subscription,
/// delivered or read when the subscription was made, so that a recovery
/// delivers only the positions the outage changed, and never a state older
/// than one delivered.
///
/// A REST read waits until Kalshi's read side passes the moment it started,
/// so its states include every change the stream sent before then. A
/// position message is a full state: one received after the read started
/// is at least as new as the read (the stream was live again by then; a
/// change it does not show yet is on its way), and one received before is
/// no newer. Two reads are ordered by the position's `last_updated_ts`,
/// then by when they started.
pub(crate) struct DeliveredPositions {
    /// How many flat positions are remembered.
    limit: usize,
    known: HashMap<PositionKey, KnownPosition>,
    /// The positions that went flat, oldest first, with the number each
    /// was given then; an entry whose position has reopened (or gone flat
    /// again since) no longer matches and is skipped.
    flat: VecDeque<(PositionKey, u64)>,
    /// How many known positions are flat.
    flat_known: usize,
    next_flat: u64,
}

impl DeliveredPositions {
    /// Remembers every open position and the last `limit` flat ones.
    pub(crate) fn new(limit: usize) -> Self {
        Self {
            limit: limit.max(1),
            known: HashMap::new(),
            flat: VecDeque::new(),
            flat_known: 0,
            next_flat: 0,
        }
    }

    /// Records a state the stream brought, received at `received`; `false`
    /// when a REST read that started later was delivered already (the
    /// message is older than that read's state).
    pub(crate) fn streamed(
        &mut self,
        subscription: SubscriptionId,
        subaccount: u32,
        market: &str,
        state: PositionState,
        received: Instant,
    ) -> bool {
        let key = (subscription, subaccount, market.to_owned());
        if let Some(KnownPosition {
            source:
                Source::Listed {
                    listed_from,
                    delivered: true,
                    ..
                },
            ..
        }) = self.known.get(&key)
            && received < *listed_from
        {
            return false;
        }
        self.remember(key, state, Source::Streamed { received });
        true
    }

    /// Records a state read over REST by a read that started at
    /// `listed_from` (`delivered`: unless it is the subscription-time
    /// read); `false` when it is no news: the state known is this one, or
    /// newer (streamed after the read started, or read with a later update
    /// time, or as late by a read that started later). The
    /// subscription-time read only fills in positions nothing is known of:
    /// the consumer has what the stream delivered.
    pub(crate) fn listed(
        &mut self,
        subscription: SubscriptionId,
        listed: &RecoveredPosition,
        listed_from: Instant,
        delivered: bool,
    ) -> bool {
        let key = (
            subscription,
            listed.subaccount,
            listed.position.ticker.clone(),
        );
        let state = PositionState::listed(&listed.position);
        let updated_ms = listed.position.last_updated_ts.timestamp_millis();
        if let Some(known) = self.known.get(&key) {
            let newer_known = !delivered
                || match known.source {
                    Source::Streamed { received } => received >= listed_from,
                    Source::Listed {
                        updated_ms: known_ms,
                        listed_from: known_from,
                        ..
                    } => (known_ms, known_from) > (updated_ms, listed_from),
                };
            if newer_known || known.state == state {
                return false;
            }
        }
        let source = Source::Listed {
            listed_from,
            updated_ms,
            delivered,
        };
        self.remember(key, state, source);
        true
    }

    /// The positions of `subscription` last known open.
    pub(crate) fn open(&self, subscription: SubscriptionId) -> Vec<(u32, String)> {
        self.known
            .iter()
            .filter(|((sub, _, _), known)| *sub == subscription && known.flat.is_none())
            .map(|((_, subaccount, market), _)| (*subaccount, market.clone()))
            .collect()
    }

    /// Keeps `state`; open positions are kept, flat ones until `limit`
    /// others have gone flat since. (A
    /// forgotten one read again is delivered again: a full state, true when
    /// read.)
    fn remember(&mut self, key: PositionKey, state: PositionState, source: Source) {
        let was_flat = self.known.get(&key).and_then(|k| k.flat);
        let flat = match (state.position.value().is_zero(), was_flat) {
            (false, _) => None,
            (true, Some(number)) => Some(number),
            (true, None) => {
                self.next_flat += 1;
                self.flat.push_back((key.clone(), self.next_flat));
                Some(self.next_flat)
            }
        };
        match (was_flat.is_some(), flat.is_some()) {
            (false, true) => self.flat_known += 1,
            (true, false) => self.flat_known -= 1,
            _ => {}
        }
        self.known.insert(
            key,
            KnownPosition {
                state,
                source,
                flat,
            },
        );
        while self.flat_known > self.limit {
            let Some((old, number)) = self.flat.pop_front() else {
                break;
            };
            if self.known.get(&old).and_then(|k| k.flat) == Some(number) {
                self.known.remove(&old);
                self.flat_known -= 1;
            }
        }
        // Entries of positions that reopened are dropped once they are
        // most of the queue, so it stays within twice the flat ones.
        if self.flat.len() > 2 * self.flat_known.max(self.limit.min(1024)) {
            let known = &self.known;
            self.flat
                .retain(|(key, number)| known.get(key).and_then(|k| k.flat) == Some(*number));
        }
    }

    /// Forgets the states of `subscription` that only its subscription-time
    /// read told (an outage may have overlapped it): a recovery then
    /// delivers those positions as it reads them.
    pub(crate) fn forget_baseline(&mut self, subscription: SubscriptionId) {
        self.forget_where(|(sub, _, _), known| {
            *sub == subscription
                && matches!(
                    known.source,
                    Source::Listed {
                        delivered: false,
                        ..
                    }
                )
        });
    }

    /// Forgets everything of a subscription that ended.
    pub(crate) fn forget_subscription(&mut self, subscription: SubscriptionId) {
        self.forget_where(|(sub, _, _), _| *sub == subscription);
    }

    /// The positions remembered, open and flat.
    pub(crate) fn len(&self) -> usize {
        self.known.len()
    }

    fn forget_where(&mut self, forget: impl Fn(&PositionKey, &KnownPosition) -> bool) {
        self.known.retain(|key, known| !forget(key, known));
        let known = &self.known;
        self.flat
            .retain(|(key, number)| known.get(key).and_then(|k| k.flat) == Some(*number));
        self.flat_known = self.known.values().filter(|k| k.flat.is_some()).count();
    }
}

/// A delivered fill: its subscription, trade and order (one trade fills
/// two orders, both of them yours when you traded with yourself).
type FillKey = (SubscriptionId, String, String);

/// The fills delivered lately, so that each reaches the consumer once per
/// fill subscription, whether the stream or REST brought it.
pub(crate) struct DeliveredFills {
    /// How many fills are remembered.
    limit: usize,
    keys: HashSet<FillKey>,
    order: VecDeque<FillKey>,
}

impl DeliveredFills {
    /// Remembers the last `limit` fills.
    pub(crate) fn new(limit: usize) -> Self {
        Self {
            limit: limit.max(1),
            keys: HashSet::new(),
            order: VecDeque::new(),
        }
    }

    /// The fills remembered.
    pub(crate) fn len(&self) -> usize {
        self.keys.len()
    }

    /// Records the fill of `order_id` in `trade_id` on `subscription`;
    /// `false` when it was delivered there already.
    pub(crate) fn first(
        &mut self,
        subscription: SubscriptionId,
        trade_id: &str,
        order_id: &str,
    ) -> bool {
        let key = (subscription, canonical(trade_id), canonical(order_id));
        if self.keys.contains(&key) {
            return false;
        }
        self.keys.insert(key.clone());
        self.order.push_back(key);
        if self.order.len() > self.limit
            && let Some(old) = self.order.pop_front()
        {
            self.keys.remove(&old);
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::{
        Arc, DeliveredFills, DeliveredOrders, DeliveredPositions, OrderState, PositionState,
        READ_SIDES, REMEMBERED, ReadSide, unix_seconds,
    };
    use crate::stream::{RecoveredPosition, SubscriptionId};
    use kalshi_gen::num::Count;
    use rust_decimal::Decimal;
    use std::time::{Duration, Instant, SystemTime};

    const FILLS: SubscriptionId = SubscriptionId(1);
    const ORDERS: SubscriptionId = SubscriptionId(2);

    fn state(updated_ms: i64, status: &str, remaining: u32) -> OrderState {
        OrderState {
            updated_ms: Some(updated_ms),
            status: status.to_owned(),
            filled: Count::new(Decimal::from(5 - remaining)).unwrap(),
            remaining: Count::new(Decimal::from(remaining)).unwrap(),
        }
    }

    #[test]
    fn a_recovered_order_state_is_delivered_only_when_it_is_news() {
        let mut delivered = DeliveredOrders::new(REMEMBERED);
        assert!(delivered.streamed(ORDERS, "o1", state(100, "resting", 5)));
        // The same state over REST is no news; a newer one is.
        assert!(!delivered.recovered(ORDERS, "o1", state(100, "resting", 5)));
        assert!(delivered.recovered(ORDERS, "o1", state(200, "resting", 3)));
        // An older one is not, even when it differs.
        assert!(!delivered.recovered(ORDERS, "o1", state(150, "resting", 4)));
        // Two changes in one millisecond: the one further along is news, the
        // one before it is not, nor one as far along.
        assert!(!delivered.recovered(ORDERS, "o1", state(200, "resting", 4)));
        assert!(delivered.recovered(ORDERS, "o1", state(200, "canceled", 3)));
        assert!(!delivered.recovered(ORDERS, "o1", state(200, "resting", 3)));
        // Without times, the same.
        let untimed = |status: &str, remaining| OrderState {
            updated_ms: None,
            ..state(0, status, remaining)
        };
        assert!(delivered.recovered(ORDERS, "o3", untimed("resting", 5)));
        assert!(delivered.recovered(ORDERS, "o3", untimed("resting", 2)));
        assert!(!delivered.recovered(ORDERS, "o3", untimed("resting", 4)));
        assert!(!delivered.recovered(ORDERS, "o3", untimed("resting", 2)));
        // Further along wins over an earlier time (REST's clock and the
        // stream's need not agree).
        assert!(delivered.recovered(ORDERS, "o4", state(300, "resting", 3)));
        assert!(delivered.recovered(ORDERS, "o4", state(250, "resting", 2)));
        assert!(!delivered.streamed(ORDERS, "o4", state(400, "resting", 3)));
        // An untimed state next to a timed one: only when further along.
        assert!(!delivered.recovered(ORDERS, "o1", untimed("resting", 5)));
        assert!(delivered.recovered(ORDERS, "o1", untimed("executed", 0)));
        // Never seen: news, in every subscription of its own.
        assert!(delivered.recovered(ORDERS, "o2", state(50, "executed", 0)));
        assert!(delivered.recovered(SubscriptionId(3), "o1", state(100, "resting", 5)));
    }

    #[test]
    fn a_streamed_order_state_older_than_a_delivered_one_is_dropped() {
        let mut delivered = DeliveredOrders::new(REMEMBERED);
        assert!(delivered.recovered(ORDERS, "o1", state(200, "canceled", 0)));
        assert!(!delivered.streamed(ORDERS, "o1", state(150, "resting", 5)));
        // In the same millisecond, by how far along the order is.
        assert!(!delivered.streamed(ORDERS, "o1", state(200, "resting", 0)));
        assert!(delivered.streamed(ORDERS, "o1", state(200, "canceled", 0)));
        assert!(delivered.streamed(ORDERS, "o1", state(300, "canceled", 0)));
        // The stream's UUIDs and REST's strings are the same ids.
        let id = "7A0343EA-019B-4880-A27A-A73E4B463DB1";
        assert!(delivered.streamed(ORDERS, id, state(500, "resting", 5)));
        assert!(!delivered.recovered(ORDERS, &id.to_ascii_lowercase(), state(400, "resting", 5)));
    }

    #[test]
    fn the_orders_last_known_open_are_the_ones_to_read_again() {
        let mut delivered = DeliveredOrders::new(REMEMBERED);
        assert!(delivered.streamed(ORDERS, "o1", state(1, "resting", 5)));
        assert!(delivered.streamed(ORDERS, "o2", state(1, "resting", 5)));
        assert!(delivered.streamed(ORDERS, "o2", state(2, "executed", 0)));
        assert!(delivered.streamed(SubscriptionId(3), "o3", state(1, "resting", 5)));
        // A status this SDK does not know is not final: what follows it
        // is delivered, and the order may change still.
        assert!(delivered.streamed(ORDERS, "o4", state(1, "pending", 5)));
        assert!(delivered.streamed(ORDERS, "o4", state(1, "resting", 5)));
        let mut open = delivered.open(ORDERS);
        open.sort();
        assert_eq!(open, ["o1", "o4"]);
    }

    #[test]
    fn resting_orders_are_remembered_and_the_latest_finished_ones() {
        let mut delivered = DeliveredOrders::new(REMEMBERED);
        assert!(delivered.streamed(ORDERS, "long-lived", state(1, "resting", 5)));
        for i in 0..=REMEMBERED {
            assert!(delivered.streamed(ORDERS, &i.to_string(), state(1, "resting", 5)));
            assert!(delivered.streamed(ORDERS, &i.to_string(), state(2, "canceled", 5)));
        }
        assert_eq!(delivered.finished.len(), REMEMBERED);
        assert_eq!(delivered.states.len(), REMEMBERED + 1);
        assert!(!delivered.states.contains_key(&(ORDERS, "0".to_owned())));
        assert_eq!(delivered.open(ORDERS), vec!["long-lived".to_owned()]);
        // Noted at subscription: open, not over what the stream told.
        delivered.note(ORDERS, "noted");
        delivered.note(ORDERS, "1");
        assert_eq!(
            delivered.states[&(ORDERS, "1".to_owned())].status,
            "canceled"
        );
        let mut open = delivered.open(ORDERS);
        open.sort();
        assert_eq!(open, ["long-lived", "noted"]);
        // With no state recorded, whatever is read of it is news.
        assert!(delivered.recovered(ORDERS, "noted", state(1, "resting", 5)));
        delivered.forget(ORDERS, "noted");
        delivered.forget(ORDERS, "1");
        assert_eq!(delivered.open(ORDERS), vec!["long-lived".to_owned()]);
        assert_eq!(delivered.finished.len(), REMEMBERED - 1);
        delivered.forget_subscription(ORDERS);
        assert!(delivered.states.is_empty() && delivered.finished.is_empty());
    }

    /// A listed position of `size` contracts, P&L `pnl`, last updated
    /// `updated` seconds into the day.
    fn listed(
        subaccount: u32,
        market: &str,
        size: i64,
        pnl: &str,
        updated: u32,
    ) -> RecoveredPosition {
        let position = serde_json::from_value(serde_json::json!({
            "ticker": market, "exchange_index": 0, "position_fp": format!("{size}.00"),
            "realized_pnl_dollars": pnl, "fees_paid_dollars": "0.0100",
            "market_exposure_dollars": "0.5000", "total_traded_dollars": "1.0000",
            "last_updated_ts": format!("2026-12-03T10:00:{:02}Z", updated % 60)
        }))
        .unwrap();
        RecoveredPosition {
            subaccount,
            position,
        }
    }

    fn position(size: i64) -> PositionState {
        PositionState {
            position: Count::new(Decimal::from(size)).unwrap(),
            realized_pnl: "0.2500".parse().unwrap(),
            fees_paid: "0.0100".parse().unwrap(),
        }
    }

    const POSITIONS: SubscriptionId = SubscriptionId(4);

    #[test]
    fn a_listed_position_is_news_when_it_changed_and_nothing_newer_is_known() {
        let mut known = DeliveredPositions::new(REMEMBERED);
        let start = Instant::now();
        let at = |ms| start + Duration::from_millis(ms);
        // The subscription-time read: recorded, not delivered.
        let _ = known.listed(POSITIONS, &listed(0, "M", 3, "0.2500", 1), start, false);
        // Listed unchanged: no news; changed: news, once.
        assert!(!known.listed(POSITIONS, &listed(0, "M", 3, "0.2500", 1), at(10), true));
        assert!(known.listed(POSITIONS, &listed(0, "M", 5, "0.2500", 2), at(20), true));
        assert!(!known.listed(POSITIONS, &listed(0, "M", 5, "0.2500", 2), at(30), true));
        // Only the realized P&L changed; trailing zeros change nothing.
        assert!(known.listed(POSITIONS, &listed(0, "M", 5, "0.5000", 3), at(40), true));
        assert!(!known.listed(POSITIONS, &listed(0, "M", 5, "0.5", 3), at(40), true));
        // A read finishing after a later one: its older state is not news;
        // with the same update time, the read that started later wins.
        assert!(!known.listed(POSITIONS, &listed(0, "M", 4, "0.5000", 2), at(45), true));
        assert!(!known.listed(POSITIONS, &listed(0, "M", 4, "0.5000", 3), at(35), true));
        assert!(known.listed(POSITIONS, &listed(0, "M", 5, "0.7500", 3), at(45), true));
        assert!(known.listed(POSITIONS, &listed(0, "M", 5, "0.5000", 3), at(47), true));
        // The stream brought a state after the read started: it is as new,
        // so the read's is dropped even though it differs...
        assert!(known.streamed(POSITIONS, 0, "M", position(7), at(60)));
        assert!(!known.listed(POSITIONS, &listed(0, "M", 6, "0.2500", 4), at(50), true));
        // ...but one received before the read started is older than it.
        assert!(known.listed(POSITIONS, &listed(0, "M", 8, "0.2500", 5), at(70), true));
        // And a message received before that read, handled after it, is
        // dropped; one received after it is delivered.
        assert!(!known.streamed(POSITIONS, 0, "M", position(7), at(65)));
        assert!(known.streamed(POSITIONS, 0, "M", position(9), at(75)));
        // Never known: news. Subaccounts and subscriptions are apart.
        assert!(known.listed(POSITIONS, &listed(2, "M", 8, "0.2500", 5), at(90), true));
        assert!(known.listed(
            SubscriptionId(5),
            &listed(0, "M", 8, "0.2500", 5),
            at(90),
            true
        ));
        known.forget_subscription(POSITIONS);
        assert!(known.listed(POSITIONS, &listed(0, "M", 8, "0.2500", 5), at(90), true));
        assert_eq!(known.known.len(), 2);
    }

    #[test]
    fn the_subscription_time_read_only_fills_in_what_nothing_told() {
        // The consumer was not given that read's state: a message received
        // before it started is how the consumer learns of the change...
        let mut known = DeliveredPositions::new(REMEMBERED);
        let start = Instant::now();
        let _ = known.listed(POSITIONS, &listed(0, "M", 3, "0.2500", 1), start, false);
        let before = start.checked_sub(Duration::from_millis(5)).unwrap();
        assert!(known.streamed(POSITIONS, 0, "M", position(3), before));
        // ...and it never replaces what the stream delivered.
        assert!(known.streamed(POSITIONS, 0, "N", position(1), before));
        let _ = known.listed(POSITIONS, &listed(0, "N", 2, "0.2500", 1), start, false);
        assert!(known.listed(POSITIONS, &listed(0, "N", 2, "0.2500", 1), start, true));
        // The positions last known open are the ones a recovery reads
        // again when they leave the unsettled listing.
        let _ = known.listed(POSITIONS, &listed(1, "F", 0, "0.2500", 1), start, false);
        let mut open = known.open(POSITIONS);
        open.sort();
        assert_eq!(open, [(0, "M".to_owned()), (0, "N".to_owned())]);
        // An outage overlapping that read: what only it told is forgotten,
        // what the stream or a recovery delivered stays.
        let _ = known.listed(POSITIONS, &listed(0, "O", 4, "0.2500", 1), start, false);
        known.forget_baseline(POSITIONS);
        let mut left: Vec<_> = known.known.keys().map(|(_, _, m)| m.clone()).collect();
        left.sort();
        assert_eq!(left, ["M", "N"]);
        assert_eq!(known.flat_known, 0);
    }

    #[test]
    fn open_positions_are_remembered_and_the_latest_flat_ones() {
        let mut known = DeliveredPositions::new(REMEMBERED);
        let now = Instant::now();
        assert!(known.streamed(POSITIONS, 0, "open", position(2), now));
        assert!(known.streamed(POSITIONS, 0, "reopened", position(0), now));
        assert!(known.streamed(POSITIONS, 0, "reopened", position(1), now));
        for i in 0..=REMEMBERED {
            assert!(known.streamed(POSITIONS, 0, &i.to_string(), position(0), now));
        }
        assert_eq!(known.flat_known, REMEMBERED);
        assert_eq!(known.known.len(), REMEMBERED + 2);
        assert!(!known.known.contains_key(&(POSITIONS, 0, "0".to_owned())));
        for market in ["open", "reopened", "1"] {
            assert!(known.known.contains_key(&(POSITIONS, 0, market.to_owned())));
        }
        // Flat again and again: counted once, and it goes first from then.
        assert!(known.streamed(POSITIONS, 0, "reopened", position(0), now));
        assert!(known.streamed(POSITIONS, 0, "reopened", position(0), now));
        assert!(!known.known.contains_key(&(POSITIONS, 0, "1".to_owned())));
        assert_eq!(known.flat_known, REMEMBERED);
        // Positions that keep reopening leave no trail in the queue (enough
        // times to need it compacted).
        for _ in 0..70_000 {
            assert!(known.streamed(POSITIONS, 0, "open", position(0), now));
            assert!(known.streamed(POSITIONS, 0, "open", position(1), now));
        }
        assert!(known.flat.len() <= 2 * REMEMBERED);
        // (Its first time flat pushed out one more flat position.)
        assert_eq!(known.flat_known, REMEMBERED - 1);
        let flat = known.known.values().filter(|k| k.flat.is_some()).count();
        assert_eq!(flat, known.flat_known);
        known.forget_subscription(POSITIONS);
        assert!(known.known.is_empty() && known.flat.is_empty() && known.flat_known == 0);
    }

    #[test]
    fn each_fill_is_delivered_once_per_subscription_by_trade_and_order() {
        let mut delivered = DeliveredFills::new(REMEMBERED);
        assert!(delivered.first(FILLS, "t1", "o1"));
        assert!(!delivered.first(FILLS, "t1", "o1"));
        // The other side of the same trade, also yours.
        assert!(delivered.first(FILLS, "t1", "o2"));
        assert!(delivered.first(FILLS, "t2", "o1"));
        // Another fill subscription gets its own copy.
        assert!(delivered.first(SubscriptionId(2), "t1", "o1"));
        // The stream's UUIDs and REST's strings are the same ids.
        let id = "7A0343EA-019B-4880-A27A-A73E4B463DB1";
        assert!(delivered.first(FILLS, id, "o1"));
        assert!(!delivered.first(FILLS, &id.to_ascii_lowercase(), "o1"));
    }

    #[test]
    fn only_the_latest_fills_are_remembered() {
        let mut delivered = DeliveredFills::new(REMEMBERED);
        for i in 0..=REMEMBERED {
            assert!(delivered.first(FILLS, &i.to_string(), "o"));
        }
        assert!(delivered.first(FILLS, "0", "o"), "the oldest was forgotten");
        assert!(!delivered.first(FILLS, &REMEMBERED.to_string(), "o"));
        assert_eq!(delivered.keys.len(), REMEMBERED);
    }

    #[test]
    fn times_become_whole_unix_seconds() {
        let time = SystemTime::UNIX_EPOCH + Duration::from_millis(1_767_268_800_999);
        assert_eq!(unix_seconds(time), 1_767_268_800);
        assert_eq!(
            unix_seconds(SystemTime::UNIX_EPOCH - Duration::from_secs(1)),
            0
        );
    }

    fn client(host: &str) -> crate::Client {
        let url = format!("http://{host}/trade-api/v2");
        crate::Client::builder().base_url(url).build().unwrap()
    }

    #[test]
    fn the_clients_of_one_exchange_share_a_read_side_while_a_session_holds_it() {
        let side = ReadSide::of(&client("one.invalid"));
        let again = ReadSide::of(&client("one.invalid"));
        assert!(Arc::ptr_eq(&side, &again), "one exchange, two clients");
        let other = ReadSide::of(&client("other.invalid"));
        assert!(!Arc::ptr_eq(&side, &other), "another exchange");
        assert!((0.5..=1.0).contains(&side.jitter));
        drop((side, again));
        drop(ReadSide::of(&client("third.invalid")));
        let sides = READ_SIDES.lock().unwrap();
        let url = |host: &str| ReadSide::exchange(&client(host));
        assert!(
            !sides.contains_key(&url("one.invalid")),
            "an exchange no session reads is forgotten"
        );
        assert!(sides.contains_key(&url("other.invalid")), "one still read");
        drop(sides);
        drop(other);
    }

    #[test]
    fn a_smaller_memory_forgets_sooner_and_nothing_open() {
        let mut fills = DeliveredFills::new(2);
        for trade in ["t1", "t2", "t3"] {
            assert!(fills.first(FILLS, trade, "o"));
        }
        assert!(
            !fills.first(FILLS, "t3", "o"),
            "the last two are remembered"
        );
        assert!(fills.first(FILLS, "t1", "o"), "the oldest is forgotten");
        assert_eq!(fills.len(), 2, "the memory stays at its limit");

        let mut orders = DeliveredOrders::new(1);
        assert!(orders.streamed(ORDERS, "open", state(1, "resting", 5)));
        for id in ["a", "b"] {
            assert!(orders.streamed(ORDERS, id, state(2, "canceled", 0)));
        }
        assert_eq!(orders.finished.len(), 1, "one finished order is kept");
        assert!(orders.states.contains_key(&(ORDERS, "b".to_owned())));
        assert!(
            orders.states.contains_key(&(ORDERS, "open".to_owned())),
            "an open order is never forgotten"
        );
        assert_eq!(orders.len(), 2, "the open order and one finished one");

        let mut positions = DeliveredPositions::new(1);
        let now = Instant::now();
        assert!(positions.streamed(POSITIONS, 0, "open", position(2), now));
        for market in ["a", "b"] {
            assert!(positions.streamed(POSITIONS, 0, market, position(0), now));
        }
        assert_eq!(positions.flat_known, 1);
        let mut left: Vec<_> = positions.known.keys().map(|(_, _, m)| m.clone()).collect();
        left.sort();
        assert_eq!(left, ["b", "open"]);
        assert_eq!(positions.len(), 2, "the open position and one flat one");
    }
}
