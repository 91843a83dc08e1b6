//! The exchange core: order books, matching and the cash/position ledger.
//!
//! Pure logic, no I/O and no async: the HTTP layer owns one [`Engine`]
//! behind a lock, sets its clock per request ([`Engine::set_time_ms`]) and
//! translates [`Reject`]s into Kalshi-shaped errors.
//!
//! # Model
//!
//! Like Kalshi's V2 order API there is ONE book per market, the YES book.
//! [`Side::Bid`] buys YES at `price`; [`Side::Ask`] sells YES at `price`,
//! which economically is buying NO at `1 − price`. Prices are YES prices in
//! dollars, strictly between 0 and 1 with at most 4 decimal places; counts
//! are contracts with at most 2 decimal places (fractional contracts exist).
//!
//! * **Matching** is price-time priority and the trade happens at the
//!   RESTING order's price.
//! * **Cost** of an order is what its owner pays if it fills at its limit:
//!   `price × count` for a bid, `(1 − price) × count` for an ask.
//! * **Collateral**: resting orders hold what they could still cost, so an
//!   owner can never spend more than their cash ([`Engine::available`]).
//!   Selling what you hold costs nothing: the contracts of an order that
//!   would close the owner's opposite position (an ask against YES held, a
//!   bid against NO held) hold no collateral, since each closing contract
//!   pays back $1. Orders fill in price-time priority, so the position
//!   covers the owner's orders that would fill first (lowest asks, highest
//!   bids); an incoming order is counted ahead of them, as it takes first.
//! * **Ledger**: a fill pays the order's cost for the filled count and its
//!   fee; the part of a fill that closes an opposite position pays back $1
//!   per contract, because a YES and a NO of the same market are together
//!   worth exactly $1.
//! * **Fees** follow Kalshi's schedule, per market ([`FeeSchedule`], set by
//!   the caller with [`Engine::set_fee_schedule`]; a market without one
//!   trades free). The fee of an order's taker fills is
//!   `taker_rate × Σ count × P × (1 − P)` rounded up to the next cent, once
//!   for the whole order (each fill pays the increase), as Kalshi's fee
//!   accumulator makes an order's fills cost what one equivalent fill
//!   would; maker fills likewise with `maker_rate`. Collateral includes the
//!   fees an order could still pay. The exchange keeps what fees it
//!   collects ([`Engine::fees_collected`]).
//! * **Order groups** ([`OrderGroup`]) cap the contracts their orders match
//!   over a rolling 15-second window: once an action's fills take the
//!   group beyond its limit, its resting orders are canceled and it refuses
//!   new orders until reset.
//!
//! Ids are deterministic (a counter shaped as a UUID v4, see
//! `Engine::next_id`) so tests and snapshots are reproducible, and their
//! string order is creation order.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt;

use rust_decimal::Decimal;

// ---------------------------------------------------------------------------
// Public types
// ---------------------------------------------------------------------------

/// An account: a user and one of their subaccounts (0 is the primary,
/// 1–63 are numbered subaccounts). Cash and positions belong to an owner;
/// self-trade prevention looks at the user only.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Owner {
    /// Kalshi's user id.
    pub user_id: String,
    /// Subaccount number, 0 for the primary account.
    pub subaccount: u32,
}

/// The side of the YES book an order sits on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Side {
    /// Buys YES.
    Bid,
    /// Sells YES, i.e. buys NO at `1 − price`.
    Ask,
}

impl Side {
    /// The side this side trades against.
    pub fn opposite(self) -> Side {
        match self {
            Side::Bid => Side::Ask,
            Side::Ask => Side::Bid,
        }
    }

    /// What one contract costs its buyer at YES price `price`: the YES
    /// price for a bid, the NO price for an ask.
    pub fn unit_cost(self, price: Decimal) -> Decimal {
        match self {
            Side::Bid => price,
            Side::Ask => Decimal::ONE - price,
        }
    }

    /// `count` as a change of the signed YES position.
    fn signed(self, count: Decimal) -> Decimal {
        match self {
            Side::Bid => count,
            Side::Ask => -count,
        }
    }
}

/// How long an order may live.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TimeInForce {
    /// Whatever does not fill rests on the book.
    GoodTillCanceled,
    /// Whatever does not fill at once is canceled.
    ImmediateOrCancel,
    /// Fills completely at once or is rejected without any effect.
    FillOrKill,
}

/// What happens when an order would trade with its own user's resting order
/// (any subaccount of the same user counts as self).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SelfTradePrevention {
    /// The incoming order's remainder is canceled at that point; fills
    /// already made stand.
    TakerAtCross,
    /// The resting order is canceled and matching continues.
    Maker,
}

/// Where an order is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OrderStatus {
    /// On the book with a remaining count above zero.
    Resting,
    /// Taken off the book before filling completely (cancel, decrease to
    /// zero, self-trade prevention, IOC remainder, expiry, market close).
    /// `remaining_count` is then 0 and `fill_count` says what did fill.
    Canceled,
    /// Filled completely.
    Executed,
}

/// A request to place an order, already parsed by the HTTP layer.
#[derive(Debug, Clone)]
pub struct NewOrder {
    /// Whose cash pays and whose position changes.
    pub owner: Owner,
    /// Market ticker.
    pub ticker: String,
    /// Book side.
    pub side: Side,
    /// Limit YES price in dollars.
    pub price: Decimal,
    /// Contracts.
    pub count: Decimal,
    /// The user's idempotency key: unique among all their orders ever placed.
    pub client_order_id: String,
    /// How long the order may live.
    pub time_in_force: TimeInForce,
    /// What to do on a self-match.
    pub self_trade_prevention: SelfTradePrevention,
    /// Reject instead of taking liquidity.
    pub post_only: bool,
    /// Only shrink the absolute position; the count is capped at it.
    pub reduce_only: bool,
    /// The owner's order group the order counts toward (see
    /// [`Engine::create_order_group`]); it must exist and not be triggered.
    pub order_group_id: Option<String>,
    /// Unix seconds after which a resting order is canceled.
    pub expiration_ts: Option<i64>,
}

/// An order as the exchange keeps it, in every state.
#[derive(Debug, Clone)]
pub struct Order {
    /// Exchange-assigned id.
    pub order_id: String,
    /// Whose order it is.
    pub owner: Owner,
    /// The user's idempotency key.
    pub client_order_id: String,
    /// Market ticker.
    pub ticker: String,
    /// Book side.
    pub side: Side,
    /// Limit YES price in dollars.
    pub price: Decimal,
    /// Total count asked for: at placement, or the last amend's total.
    pub initial_count: Decimal,
    /// Count still on the book; 0 unless `status` is `Resting`.
    pub remaining_count: Decimal,
    /// Count filled so far.
    pub fill_count: Decimal,
    /// Where the order is in its life.
    pub status: OrderStatus,
    /// How long the order may live.
    pub time_in_force: TimeInForce,
    /// What to do on a self-match.
    pub self_trade_prevention: SelfTradePrevention,
    /// The order group the order counts toward.
    pub order_group_id: Option<String>,
    /// Unix seconds after which the order is canceled.
    pub expiration_ts: Option<i64>,
    /// Clock at placement (ms since epoch).
    pub created_ts_ms: i64,
    /// Clock at the last change (fill, amend, decrease, cancel).
    pub last_update_ts_ms: i64,
    /// Count filled while taking liquidity.
    pub taker_fill_count: Decimal,
    /// Count filled while resting.
    pub maker_fill_count: Decimal,
    /// What the owner paid for taker fills (YES price for bids, NO price
    /// for asks, times count).
    pub taker_fill_cost: Decimal,
    /// What the owner paid for maker fills, same convention.
    pub maker_fill_cost: Decimal,
    /// Fees paid for taker fills: the fee of all of them, rounded up once.
    pub taker_fees: Decimal,
    /// Fees paid for maker fills, likewise.
    pub maker_fees: Decimal,
    /// `Σ count × P × (1 − P)` over taker fills: what the taker fee rate
    /// applies to.
    pub taker_fee_basis: Decimal,
    /// The same over maker fills.
    pub maker_fee_basis: Decimal,
    /// Priority within a price level: smaller is earlier. Assigned at
    /// placement and again when an amend loses priority.
    pub queue_seq: u64,
    /// Placed post-only; an amend that would cross is rejected too.
    pub post_only: bool,
}

/// One side of one trade.
#[derive(Debug, Clone)]
pub struct Fill {
    /// Unique per fill.
    pub fill_id: String,
    /// Shared by the taker's and the maker's fill of the same trade.
    pub trade_id: String,
    /// The order that filled.
    pub order_id: String,
    /// That order's owner.
    pub owner: Owner,
    /// Market ticker.
    pub ticker: String,
    /// That order's side.
    pub side: Side,
    /// YES price of the trade (the resting order's price).
    pub price: Decimal,
    /// Contracts traded.
    pub count: Decimal,
    /// Whether this order took liquidity.
    pub is_taker: bool,
    /// The fee this fill cost its owner.
    pub fee: Decimal,
    /// Clock at the trade.
    pub ts_ms: i64,
}

/// What a place or amend did.
#[derive(Debug, Clone)]
pub struct Placed {
    /// The order after the call.
    pub order: Order,
    /// Fills of this call, both sides of each trade (taker first).
    pub fills: Vec<Fill>,
}

/// How to shrink a resting order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decrease {
    /// Remove this many contracts; removing all or more cancels the order.
    By(Decimal),
    /// Leave this many contracts (less than remaining); 0 cancels.
    To(Decimal),
}

/// A change to a resting order (see [`Engine::amend_order`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Amend {
    /// The order's side (it cannot change).
    pub side: Side,
    /// The new limit YES price.
    pub price: Decimal,
    /// The new TOTAL count, fills included.
    pub count: Decimal,
    /// `None` keeps the expiration; `Some(None)` removes it;
    /// `Some(Some(ts))` sets it (Unix seconds, in the future).
    pub expiration_ts: Option<Option<i64>>,
    /// A new client order id (unused by the user so far), or `None`.
    pub client_order_id: Option<String>,
}

/// Why the exchange refused a request. A refused request changes nothing.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Reject {
    /// Unknown, canceled, executed, or another owner's order.
    NotFound,
    /// The user already placed an order with this `client_order_id`.
    DuplicateClientOrderId,
    /// Price out of (0, 1) or with more than 4 decimal places.
    InvalidPrice(String),
    /// Count not positive or with more than 2 decimal places.
    InvalidCount(String),
    /// No market with this ticker.
    UnknownMarket(String),
    /// The market does not trade.
    MarketClosed(String),
    /// The order costs more than the cash not held by resting orders.
    InsufficientBalance {
        /// Cost of the order (or of the amend's increase).
        needed: Decimal,
        /// Cash minus collateral held by resting orders.
        available: Decimal,
    },
    /// A post-only order would take liquidity.
    PostOnlyWouldCross,
    /// Not enough crossing volume to fill a fill-or-kill order completely.
    FillOrKillUnfilled,
    /// A reduce-only order would grow the absolute position.
    ReduceOnlyWouldIncrease,
    /// The amend is not allowed (side change, total not above fills, ...).
    InvalidAmend(String),
    /// The decrease is not allowed.
    InvalidDecrease(String),
    /// No order group with this id belongs to the owner.
    UnknownOrderGroup(String),
    /// The order group hit its limit (or was triggered) and takes no
    /// orders until reset.
    OrderGroupTriggered(String),
}

impl Reject {
    /// Kalshi-like snake_case error code.
    pub fn code(&self) -> &'static str {
        match self {
            Reject::NotFound => "not_found",
            Reject::DuplicateClientOrderId => "order_already_exists",
            Reject::InvalidPrice(_) => "invalid_price",
            Reject::InvalidCount(_) => "invalid_count",
            Reject::UnknownMarket(_) => "market_not_found",
            Reject::MarketClosed(_) => "market_closed",
            Reject::InsufficientBalance { .. } => "insufficient_balance",
            Reject::PostOnlyWouldCross => "post_only_cross",
            Reject::FillOrKillUnfilled => "fill_or_kill_insufficient_resting_volume",
            Reject::ReduceOnlyWouldIncrease => "reduce_only_violation",
            Reject::InvalidAmend(_) => "invalid_amend",
            Reject::InvalidDecrease(_) => "invalid_decrease",
            Reject::UnknownOrderGroup(_) => "order_group_not_found",
            Reject::OrderGroupTriggered(_) => "order_group_triggered",
        }
    }

    /// Human-readable explanation for the error body.
    pub fn message(&self) -> String {
        match self {
            Reject::NotFound => "order not found".to_owned(),
            Reject::DuplicateClientOrderId => {
                "an order with this client_order_id already exists".to_owned()
            }
            Reject::InvalidPrice(why) | Reject::InvalidCount(why) => why.clone(),
            Reject::InvalidAmend(why) | Reject::InvalidDecrease(why) => why.clone(),
            Reject::UnknownMarket(ticker) => format!("market {ticker} not found"),
            Reject::MarketClosed(ticker) => format!("market {ticker} is not open for trading"),
            Reject::InsufficientBalance { needed, available } => {
                format!(
                    "insufficient balance: the order needs ${needed}, ${available} is available"
                )
            }
            Reject::PostOnlyWouldCross => "post-only order would cross the book".to_owned(),
            Reject::FillOrKillUnfilled => {
                "not enough resting volume to fill the fill-or-kill order".to_owned()
            }
            Reject::ReduceOnlyWouldIncrease => {
                "reduce-only order would increase the position".to_owned()
            }
            Reject::UnknownOrderGroup(id) => format!("order group {id} not found"),
            Reject::OrderGroupTriggered(id) => {
                format!("order group {id} hit its limit and takes no orders until reset")
            }
        }
    }
}

impl fmt::Display for Reject {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code(), self.message())
    }
}

impl std::error::Error for Reject {}

/// Whether a market trades.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum MarketState {
    /// Orders are accepted and matched.
    Open,
    /// New orders and amends are refused; closing cancels resting orders.
    Closed,
    /// Resolved (see [`Engine::settle`]): positions were paid out and closed.
    Settled(Outcome),
}

/// How a market resolved.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Outcome {
    /// YES pays $1 per contract.
    Yes,
    /// NO pays $1 per contract.
    No,
}

/// What one owner received when a market settled.
#[derive(Debug, Clone, PartialEq)]
pub struct Settlement {
    /// Who held the position.
    pub owner: Owner,
    /// The market.
    pub ticker: String,
    /// How it resolved.
    pub result: Outcome,
    /// YES contracts held at settlement.
    pub yes_count: Decimal,
    /// NO contracts held at settlement.
    pub no_count: Decimal,
    /// What the position had cost (its average-cost basis).
    pub cost: Decimal,
    /// What was paid out: $1 per winning contract.
    pub revenue: Decimal,
    /// Fees the owner paid trading this market (settling itself is free).
    pub fee_cost: Decimal,
    /// When (ms since epoch).
    pub ts_ms: i64,
}

/// One aggregated book level: (YES price, total remaining count).
pub type Level = (Decimal, Decimal);

/// A position row: (ticker, position, total traded, market exposure); see
/// [`Engine::positions`].
pub type PositionRow = (String, Decimal, Decimal, Decimal);

/// The largest count (contracts) an order, a decrease or a group limit may
/// name: far above any real order, and small enough that no arithmetic on
/// counts and prices can overflow.
pub const MAX_COUNT: Decimal = Decimal::from_parts(1_000_000_000, 0, 0, false, 0);

/// The trading fees of one market, Kalshi's series multiplier included.
///
/// The fee of fills worth `basis = Σ count × P × (1 − P)` (P the trade's
/// YES price, the same for NO at `1 − P`) is `rate × basis` rounded up to
/// the next cent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct FeeSchedule {
    /// Rate of fills that take liquidity.
    pub taker_rate: Decimal,
    /// Rate of fills of resting orders.
    pub maker_rate: Decimal,
}

impl FeeSchedule {
    /// No fees: the schedule of a market nobody set one for.
    pub const FREE: FeeSchedule = FeeSchedule {
        taker_rate: Decimal::ZERO,
        maker_rate: Decimal::ZERO,
    };

    /// Kalshi's schedule for a series' `fee_type` and `fee_multiplier`
    /// (the spec's `FeeType`, from Kalshi's published fee schedule); `None`
    /// for an unknown type or a multiplier outside 0–100.
    ///
    /// * `quadratic`: the General Trading Fees, 0.07 for takers, makers free.
    /// * `quadratic_with_maker_fees`: the same, and makers pay 0.0175
    ///   (a 0.25 maker multiplier).
    /// * `quadratic_with_combo_maker_fees`: makers pay 0.035 (0.5).
    /// * `flat`: the Specific Trading Fees table, 0.035 for takers, makers
    ///   free.
    ///
    /// The multiplier scales both rates before rounding, so every fee stays
    /// a whole number of cents; a multiplier of 0 makes the market free.
    pub fn kalshi(fee_type: &str, multiplier: Decimal) -> Option<FeeSchedule> {
        let general = Decimal::new(7, 2);
        let half = Decimal::new(35, 3);
        let (taker, maker) = match fee_type {
            "quadratic" => (general, Decimal::ZERO),
            "quadratic_with_maker_fees" => (general, Decimal::new(175, 4)),
            "quadratic_with_combo_maker_fees" => (general, half),
            "flat" => (half, Decimal::ZERO),
            _ => return None,
        };
        if multiplier < Decimal::ZERO || multiplier > Decimal::ONE_HUNDRED {
            return None;
        }
        Some(FeeSchedule {
            taker_rate: taker * multiplier,
            maker_rate: maker * multiplier,
        })
    }

    /// The rate of a taker or a maker fill.
    pub fn rate(&self, is_taker: bool) -> Decimal {
        if is_taker {
            self.taker_rate
        } else {
            self.maker_rate
        }
    }

    /// The fee of fills worth `basis` (see the type's doc).
    pub fn fee(&self, is_taker: bool, basis: Decimal) -> Decimal {
        ceil_cent(self.rate(is_taker) * basis)
    }

    /// The fee of `count` contracts traded at YES price `price` in one go:
    /// e.g. 100 at 0.50 taken pays 0.07 × 100 × 0.25 = $1.75.
    pub fn fee_of(&self, is_taker: bool, price: Decimal, count: Decimal) -> Decimal {
        self.fee(is_taker, count * variance(price))
    }
}

/// How long an order group remembers a match: its limit applies to the
/// contracts matched over this rolling window.
pub const ORDER_GROUP_WINDOW_MS: i64 = 15_000;

/// An order group: the orders placed in it share a contracts limit over a
/// rolling 15-second window. The limit is the most they may match: when an
/// action's fills take the matched contracts beyond it (Kalshi: "if the
/// rolling total exceeds the limit") the group triggers: its resting orders
/// are canceled and it refuses new orders until reset.
#[derive(Debug, Clone)]
pub struct OrderGroup {
    /// Exchange-assigned id.
    pub id: String,
    /// Whose group it is; only their orders (same subaccount) join it.
    pub owner: Owner,
    /// Contracts the group may match within the window; more triggers it.
    pub limit: Decimal,
    /// Hit its limit or triggered by hand; cleared by a reset.
    pub triggered: bool,
    /// Clock at creation (ms since epoch).
    pub created_ts_ms: i64,
    /// Contracts matched, with when (ms), oldest first; older than the
    /// window is forgotten.
    matches: Vec<(i64, Decimal)>,
}

impl OrderGroup {
    /// Remembers `count` contracts matched at `now_ms`, forgetting what
    /// the window no longer covers.
    fn record(&mut self, now_ms: i64, count: Decimal) {
        let since = now_ms.saturating_sub(ORDER_GROUP_WINDOW_MS);
        self.matches.retain(|(ts, _)| *ts > since);
        self.matches.push((now_ms, count));
    }

    /// Contracts matched by the group's orders within the window ending
    /// at `now_ms` (since the last reset).
    pub fn matched(&self, now_ms: i64) -> Decimal {
        let since = now_ms.saturating_sub(ORDER_GROUP_WINDOW_MS);
        self.matches
            .iter()
            .filter(|(ts, _)| *ts > since)
            .map(|(_, count)| *count)
            .sum()
    }
}

/// What happened to an order group, for the `order_group_updates` stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum GroupEventKind {
    /// Created.
    Created,
    /// Hit its limit or triggered by hand: its orders were canceled.
    Triggered,
    /// Reset: its counter is zero and it takes orders again.
    Reset,
    /// Deleted, its orders canceled.
    Deleted,
    /// Its limit changed.
    LimitUpdated,
}

/// One order group event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupEvent {
    /// What happened.
    pub kind: GroupEventKind,
    /// The group.
    pub group_id: String,
    /// The group's owner.
    pub owner: Owner,
    /// The group's limit after the event.
    pub limit: Decimal,
    /// When (ms since epoch).
    pub ts_ms: i64,
}

// ---------------------------------------------------------------------------
// Internal state
// ---------------------------------------------------------------------------

/// Order ids at one price level, keyed by `queue_seq` (time priority).
type Queue = BTreeMap<u64, String>;

/// One side of a book, keyed by price.
type Ladder = BTreeMap<Decimal, Queue>;

#[derive(Debug)]
struct Market {
    state: MarketState,
    bids: Ladder,
    asks: Ladder,
}

impl Market {
    fn ladder(&self, side: Side) -> &Ladder {
        match side {
            Side::Bid => &self.bids,
            Side::Ask => &self.asks,
        }
    }

    fn ladder_mut(&mut self, side: Side) -> &mut Ladder {
        match side {
            Side::Bid => &mut self.bids,
            Side::Ask => &mut self.asks,
        }
    }
}

/// An owner's holding in one market.
#[derive(Debug, Default)]
struct Holding {
    /// Signed YES contracts: > 0 long YES, < 0 long NO.
    position: Decimal,
    /// Sum of what every fill cost (see [`Side::unit_cost`]).
    traded: Decimal,
    /// Average-cost basis of the open position (see [`Engine::positions`]).
    cost: Decimal,
    /// Profit or loss of the contracts closed so far (netted or settled).
    realized: Decimal,
    /// Contracts traded, both directions.
    volume: Decimal,
    /// Every fee paid in this market.
    fees: Decimal,
    /// Fees paid for the contracts still held (average-cost, like `cost`).
    fee_cost: Decimal,
    /// When a fill or a settlement last changed it (ms since epoch).
    updated_ms: i64,
}

impl Holding {
    /// Books a fill of `count` at `price` that cost `fee` and returns how
    /// many contracts it netted against the opposite position (each pays
    /// back $1).
    fn apply(&mut self, side: Side, price: Decimal, count: Decimal, fee: Decimal) -> Decimal {
        let unit = side.unit_cost(price);
        let held = self.position.abs();
        let opposes = side.signed(self.position) < Decimal::ZERO;
        let netted = if opposes {
            count.min(held)
        } else {
            Decimal::ZERO
        };
        if !netted.is_zero() {
            // Closing releases the average cost of the contracts closed; a
            // YES and a NO together pay back $1.
            let released = self.cost * netted / held;
            self.realized += netted - unit * netted - released;
            self.cost -= released;
            self.fee_cost -= self.fee_cost * netted / held;
        }
        self.fees += fee;
        self.fee_cost += fee * (count - netted) / count;
        self.volume += count;
        self.cost += unit * (count - netted);
        self.position += side.signed(count);
        self.traded += unit * count;
        netted
    }
}

#[derive(Debug, Default)]
struct Account {
    cash: Decimal,
    holdings: BTreeMap<String, Holding>,
}

/// What matching an incoming order would do. Computed before anything
/// changes so fill-or-kill can refuse without side effects.
#[derive(Debug)]
enum Step {
    /// Trade `count` with this resting order at its price.
    Trade { maker_id: String, count: Decimal },
    /// Self-trade prevention `Maker`: cancel this resting order.
    CancelMaker(String),
    /// Self-trade prevention `TakerAtCross`: stop and cancel the remainder.
    StopTaker,
}

// ---------------------------------------------------------------------------
// The engine
// ---------------------------------------------------------------------------

/// Books, orders, fills and accounts of a simulated exchange.
#[derive(Debug, Default)]
pub struct Engine {
    now_ms: i64,
    last_id: u64,
    last_seq: u64,
    markets: BTreeMap<String, Market>,
    /// Every accepted order, keyed by id (so iteration is creation order).
    orders: BTreeMap<String, Order>,
    /// (user id, client order id) → order id.
    client_ids: HashMap<(String, String), String>,
    /// Every fill, oldest first.
    fills: Vec<Fill>,
    /// Every settlement payout, oldest first.
    settlements: Vec<Settlement>,
    accounts: BTreeMap<Owner, Account>,
    /// Markets whose book or state changed since [`Engine::take_touched`].
    touched_markets: BTreeSet<String>,
    /// Orders that changed since [`Engine::take_touched`].
    touched_orders: BTreeSet<String>,
    /// Fee schedules by market; a market without one trades free.
    fee_schedules: HashMap<String, FeeSchedule>,
    /// Every fee paid so far.
    fees_collected: Decimal,
    /// Net cash put in through [`Engine::deposit`] (transfers net to zero).
    deposited: Decimal,
    /// Order groups by id.
    order_groups: BTreeMap<String, OrderGroup>,
    /// Order group events since [`Engine::take_touched`].
    group_events: Vec<GroupEvent>,
}

/// What changed since the last [`Engine::take_touched`]: the simulator's
/// streams publish from it.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Touched {
    /// Markets whose book or state may have changed.
    pub markets: BTreeSet<String>,
    /// Orders that were placed or changed.
    pub orders: BTreeSet<String>,
    /// Order group events, oldest first.
    pub groups: Vec<GroupEvent>,
}

/// The exchange's money, summed over every account (see [`Engine::ledger`]).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Ledger {
    /// Net cash deposited (withdrawals subtracted).
    pub deposited: Decimal,
    /// Cash in every account, including what resting orders hold.
    pub cash: Decimal,
    /// Contract pairs outstanding, each backed by $1.
    pub open_interest: Decimal,
    /// Fees the exchange kept.
    pub fees: Decimal,
}

/// An owner's position in one market, in full.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct PositionSummary {
    /// Signed YES contracts: > 0 long YES, < 0 long NO.
    pub position: Decimal,
    /// Average-cost basis of the open position.
    pub cost: Decimal,
    /// Profit or loss of the contracts closed (netted or settled).
    pub realized: Decimal,
    /// Contracts traded.
    pub volume: Decimal,
    /// What every fill cost.
    pub traded: Decimal,
    /// Every fee paid in the market.
    pub fees_paid: Decimal,
    /// Fees paid for the contracts still held.
    pub fee_cost: Decimal,
    /// When a fill or a settlement last changed it (ms since epoch; 0 when
    /// never traded).
    pub updated_ms: i64,
}

/// Setup, clock and money.
impl Engine {
    /// An exchange with no markets and no accounts; the clock reads 0.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets the deterministic clock (ms since epoch) used for timestamps;
    /// the HTTP layer sets it per request. Resting orders whose
    /// `expiration_ts` (seconds) is reached are canceled.
    pub fn set_time_ms(&mut self, now_ms: i64) {
        self.now_ms = now_ms;
        let expired: Vec<String> = self
            .orders
            .values()
            .filter(|o| o.status == OrderStatus::Resting && is_expired(o.expiration_ts, now_ms))
            .map(|o| o.order_id.clone())
            .collect();
        for id in expired {
            self.take_off_book(&id);
        }
    }

    /// The clock, ms since epoch.
    pub fn now_ms(&self) -> i64 {
        self.now_ms
    }

    /// Creates a market with an empty book, or sets the state of an existing
    /// one (as [`Engine::set_market_state`], keeping its book).
    pub fn add_market(&mut self, ticker: &str, state: MarketState) {
        self.markets
            .entry(ticker.to_owned())
            .or_insert_with(|| Market {
                state: MarketState::Open,
                bids: Ladder::new(),
                asks: Ladder::new(),
            });
        // Only a settled market refuses a new state; it stays settled.
        let _ = self.set_market_state(ticker, state);
    }

    /// Opens or closes a market. Closing cancels its resting orders, as
    /// Kalshi does when a market closes.
    pub fn set_market_state(&mut self, ticker: &str, state: MarketState) -> Result<(), Reject> {
        let market = self
            .markets
            .get_mut(ticker)
            .ok_or_else(|| Reject::UnknownMarket(ticker.to_owned()))?;
        if matches!(market.state, MarketState::Settled(_)) {
            return Err(Reject::MarketClosed(ticker.to_owned()));
        }
        if let MarketState::Settled(result) = state {
            self.settle(ticker, result)?;
            return Ok(());
        }
        market.state = state;
        self.touched_markets.insert(ticker.to_owned());
        if state == MarketState::Closed {
            self.cancel_market(ticker);
        }
        Ok(())
    }

    /// Resolves a market: its resting orders are canceled, every position
    /// in it is paid $1 per winning contract and closed, and a settlement is
    /// recorded per owner who held one. Money is conserved: the payouts are
    /// exactly the $1 per contract pair that trading put aside. A market
    /// settles once.
    pub fn settle(&mut self, ticker: &str, result: Outcome) -> Result<Vec<Settlement>, Reject> {
        let market = self
            .markets
            .get_mut(ticker)
            .ok_or_else(|| Reject::UnknownMarket(ticker.to_owned()))?;
        if matches!(market.state, MarketState::Settled(_)) {
            return Err(Reject::MarketClosed(ticker.to_owned()));
        }
        market.state = MarketState::Settled(result);
        self.touched_markets.insert(ticker.to_owned());
        self.cancel_market(ticker);
        let now = self.now_ms;
        let mut paid = Vec::new();
        for (owner, account) in &mut self.accounts {
            let Some(holding) = account.holdings.get_mut(ticker) else {
                continue;
            };
            let (yes_count, no_count) = (
                holding.position.max(Decimal::ZERO),
                (-holding.position).max(Decimal::ZERO),
            );
            let revenue = match result {
                Outcome::Yes => yes_count,
                Outcome::No => no_count,
            };
            account.cash = account.cash.saturating_add(revenue);
            paid.push(Settlement {
                owner: owner.clone(),
                ticker: ticker.to_owned(),
                result,
                yes_count,
                no_count,
                cost: holding.cost.round_dp(6).normalize(),
                revenue,
                fee_cost: holding.fees,
                ts_ms: now,
            });
            holding.realized += revenue - holding.cost;
            holding.position = Decimal::ZERO;
            holding.cost = Decimal::ZERO;
            holding.fee_cost = Decimal::ZERO;
            holding.updated_ms = now;
        }
        self.settlements.extend(paid.iter().cloned());
        Ok(paid)
    }

    /// The settlements of every subaccount of a user, oldest first.
    pub fn settlements_of(&self, user_id: &str) -> Vec<&Settlement> {
        self.settlements
            .iter()
            .filter(|s| s.owner.user_id == user_id)
            .collect()
    }

    /// Every market and its state, by ticker.
    pub fn markets(&self) -> impl Iterator<Item = (&str, MarketState)> {
        self.markets.iter().map(|(t, m)| (t.as_str(), m.state))
    }

    /// The market's state, `None` if unknown.
    pub fn market_state(&self, ticker: &str) -> Option<MarketState> {
        self.markets.get(ticker).map(|m| m.state)
    }

    /// Sets the fees of a market's future fills (the simulator sets its
    /// series' schedule when it lists the market).
    pub fn set_fee_schedule(&mut self, ticker: &str, schedule: FeeSchedule) {
        self.fee_schedules.insert(ticker.to_owned(), schedule);
    }

    /// The fees of a market: [`FeeSchedule::FREE`] unless set.
    pub fn fee_schedule(&self, ticker: &str) -> FeeSchedule {
        self.fee_schedules
            .get(ticker)
            .copied()
            .unwrap_or(FeeSchedule::FREE)
    }

    /// Every fee paid so far: cash the exchange took out of the accounts.
    pub fn fees_collected(&self) -> Decimal {
        self.fees_collected
    }

    /// Adds cash (dollars) to an owner, creating the account if needed. A
    /// negative amount withdraws without any check: it is a test control.
    /// Cash saturates at the largest decimal instead of overflowing.
    pub fn deposit(&mut self, owner: &Owner, amount: Decimal) {
        let account = self.accounts.entry(owner.clone()).or_default();
        account.cash = account.cash.saturating_add(amount);
        self.deposited = self.deposited.saturating_add(amount);
    }

    /// Where every dollar put in is now: the exchange's books balance when
    /// `cash + open_interest + fees == deposited`.
    pub fn ledger(&self) -> Ledger {
        let cash = self.accounts.values().map(|a| a.cash).sum();
        let open_interest = self
            .accounts
            .values()
            .flat_map(|a| a.holdings.values())
            .map(|h| h.position.max(Decimal::ZERO))
            .sum();
        Ledger {
            deposited: self.deposited,
            cash,
            open_interest,
            fees: self.fees_collected,
        }
    }

    /// How many orders share each `(user, client_order_id)`: always one,
    /// since a repeated id is refused; a soak checks it stays so.
    pub fn client_order_ids(&self) -> BTreeMap<(String, String), usize> {
        let mut counts = BTreeMap::new();
        for order in self.orders.values() {
            *counts
                .entry((order.owner.user_id.clone(), order.client_order_id.clone()))
                .or_insert(0) += 1;
        }
        counts
    }

    /// Moves cash between owners (e.g. between subaccounts). Refuses a
    /// non-positive amount (`InvalidCount`) and cash that resting orders
    /// hold (`InsufficientBalance`).
    pub fn transfer(&mut self, from: &Owner, to: &Owner, amount: Decimal) -> Result<(), Reject> {
        if amount <= Decimal::ZERO {
            return Err(Reject::InvalidCount(format!(
                "transfer amount {amount} must be positive"
            )));
        }
        self.check_buying_power(from, amount)?;
        self.deposit(from, -amount);
        self.deposit(to, amount);
        Ok(())
    }

    /// Cash in dollars (including what resting orders hold); 0 for an
    /// unknown owner.
    pub fn balance(&self, owner: &Owner) -> Decimal {
        self.accounts.get(owner).map_or(Decimal::ZERO, |a| a.cash)
    }

    /// Cash not held as collateral by the owner's resting orders: what a
    /// new order may cost (see the module doc's "Collateral").
    pub fn available(&self, owner: &Owner) -> Decimal {
        self.balance(owner).saturating_sub(self.held(owner, None))
    }

    /// Signed YES contracts held: > 0 long YES, < 0 long NO.
    pub fn position(&self, owner: &Owner, ticker: &str) -> Decimal {
        self.holding(owner, ticker)
            .map_or(Decimal::ZERO, |h| h.position)
    }

    /// One row per market the owner ever traded, by ticker:
    /// `(ticker, position, total traded, market exposure)`.
    ///
    /// * total traded: sum over fills of what they cost the owner
    ///   (`price × count` for bid fills, `(1 − price) × count` for ask fills).
    /// * market exposure: the average-cost basis of the open position, i.e.
    ///   what was paid for the contracts still held. Opening adds the fill's
    ///   cost; closing k of n held contracts removes k/n of the basis; a flat
    ///   position has exposure 0. Rounded to 6 decimal places.
    pub fn positions(&self, owner: &Owner) -> Vec<PositionRow> {
        let Some(account) = self.accounts.get(owner) else {
            return Vec::new();
        };
        account
            .holdings
            .iter()
            .map(|(ticker, h)| {
                (
                    ticker.clone(),
                    h.position,
                    h.traded,
                    h.cost.round_dp(6).normalize(),
                )
            })
            .collect()
    }

    /// Everything about an owner's position in one market (zero when
    /// never traded).
    pub fn position_summary(&self, owner: &Owner, ticker: &str) -> PositionSummary {
        self.holding(owner, ticker)
            .map_or_else(PositionSummary::default, |h| PositionSummary {
                position: h.position,
                cost: h.cost.round_dp(6).normalize(),
                realized: h.realized.round_dp(6).normalize(),
                volume: h.volume,
                traded: h.traded,
                fees_paid: h.fees,
                fee_cost: h.fee_cost.round_dp(6).normalize(),
                updated_ms: h.updated_ms,
            })
    }

    /// Contracts of the market held long YES, over every owner (each YES
    /// held is matched by a NO held, so this counts contract pairs).
    pub fn open_interest(&self, ticker: &str) -> Decimal {
        self.accounts
            .values()
            .filter_map(|a| a.holdings.get(ticker))
            .map(|h| h.position.max(Decimal::ZERO))
            .sum()
    }

    /// What changed since the last call (then forgotten).
    pub fn take_touched(&mut self) -> Touched {
        Touched {
            markets: std::mem::take(&mut self.touched_markets),
            orders: std::mem::take(&mut self.touched_orders),
            groups: std::mem::take(&mut self.group_events),
        }
    }

    /// Fills from the `start`-th (0-based) of the whole exchange, oldest first.
    pub fn fills_since(&self, start: usize) -> &[Fill] {
        self.fills.get(start..).unwrap_or_default()
    }

    /// Settlement payouts from the `start`-th of the whole exchange.
    pub fn settlements_since(&self, start: usize) -> &[Settlement] {
        self.settlements.get(start..).unwrap_or_default()
    }

    fn holding(&self, owner: &Owner, ticker: &str) -> Option<&Holding> {
        self.accounts.get(owner)?.holdings.get(ticker)
    }
}

/// Order entry.
impl Engine {
    /// Validates, matches and (for GTC) rests a new order.
    ///
    /// Checks in order: market, price, count, order group, client order
    /// id, reduce-only, buying power (cost and fees, see the module doc),
    /// post-only, fill-or-kill. Any rejection changes nothing.
    pub fn place(&mut self, new: NewOrder) -> Result<Placed, Reject> {
        self.open_market(&new.ticker)?;
        check_price(new.price)?;
        check_count(new.count)?;
        if let Some(group) = &new.order_group_id {
            self.open_group(&new.owner, group)?;
        }
        let key = (new.owner.user_id.clone(), new.client_order_id.clone());
        if self.client_ids.contains_key(&key) {
            return Err(Reject::DuplicateClientOrderId);
        }
        let count = self.reduce_only_count(&new)?;
        let claim = self.incoming_claim(&new.ticker, new.side, new.price, count, None);
        self.check_claim(&new.owner, &claim, None)?;
        let time_in_force = new.time_in_force;
        let mut order = self.draft(new, count);
        if order.post_only && self.crosses(&order.ticker, order.side, order.price) {
            return Err(Reject::PostOnlyWouldCross);
        }
        let steps = self.plan(&order);
        if time_in_force == TimeInForce::FillOrKill && traded(&steps) < count {
            return Err(Reject::FillOrKillUnfilled);
        }
        // Accepted: from here on the engine changes.
        order.order_id = self.next_id();
        order.queue_seq = self.next_seq();
        let id = order.order_id.clone();
        self.client_ids.insert(key, id.clone());
        self.orders.insert(id.clone(), order);
        let rests = time_in_force == TimeInForce::GoodTillCanceled
            && !is_expired(self.orders[&id].expiration_ts, self.now_ms);
        Ok(self.run(&id, steps, rests))
    }

    /// Cancels a resting order of `owner`; returns it and the count that was
    /// still resting.
    pub fn cancel(&mut self, owner: &Owner, order_id: &str) -> Result<(Order, Decimal), Reject> {
        self.resting_of(owner, order_id)?;
        let reduced_by = self.take_off_book(order_id);
        Ok((self.orders[order_id].clone(), reduced_by))
    }

    /// Cancels every resting order of the user, of one subaccount or of all
    /// (`None`); returns them after cancellation, oldest first.
    pub fn cancel_all(&mut self, user_id: &str, subaccount: Option<u32>) -> Vec<Order> {
        let ids: Vec<String> = self
            .orders
            .values()
            .filter(|o| o.status == OrderStatus::Resting && o.owner.user_id == user_id)
            .filter(|o| subaccount.is_none_or(|s| s == o.owner.subaccount))
            .map(|o| o.order_id.clone())
            .collect();
        ids.iter()
            .map(|id| {
                self.take_off_book(id);
                self.orders[id].clone()
            })
            .collect()
    }

    /// Changes a resting order's price and/or total count.
    ///
    /// `count` is the new TOTAL including what already filled, so it must
    /// exceed `fill_count`; the new remaining is `count − fill_count`. The
    /// side cannot change. Same price and no larger remaining keeps the
    /// queue priority; a price change or a larger remaining goes to the back
    /// of its level and may cross (the fills are returned, the amended order
    /// is the taker). A larger collateral needs buying power. The ticker
    /// check is the caller's: the order keeps its market.
    pub fn amend(
        &mut self,
        owner: &Owner,
        order_id: &str,
        side: Side,
        price: Decimal,
        count: Decimal,
    ) -> Result<Placed, Reject> {
        let change = Amend {
            side,
            price,
            count,
            expiration_ts: None,
            client_order_id: None,
        };
        self.amend_order(owner, order_id, change)
    }

    /// [`Engine::amend`], that may also change the expiration (which keeps
    /// the queue priority) and the client order id.
    pub fn amend_order(
        &mut self,
        owner: &Owner,
        order_id: &str,
        change: Amend,
    ) -> Result<Placed, Reject> {
        let Amend {
            side,
            price,
            count,
            expiration_ts,
            client_order_id,
        } = change;
        let old = self.resting_of(owner, order_id)?.clone();
        self.open_market(&old.ticker)?;
        if side != old.side {
            return Err(Reject::InvalidAmend(
                "the side of an order cannot change".to_owned(),
            ));
        }
        check_price(price)?;
        check_count(count)?;
        if count <= old.fill_count {
            let why = format!(
                "count {count} must exceed the {} already filled",
                old.fill_count
            );
            return Err(Reject::InvalidAmend(why));
        }
        if let Some(Some(ts)) = expiration_ts
            && is_expired(Some(ts), self.now_ms)
        {
            let why = format!("expiration {ts} must be in the future");
            return Err(Reject::InvalidAmend(why));
        }
        let new_key = client_order_id
            .filter(|id| *id != old.client_order_id)
            .map(|id| (owner.user_id.clone(), id));
        if new_key
            .as_ref()
            .is_some_and(|k| self.client_ids.contains_key(k))
        {
            return Err(Reject::DuplicateClientOrderId);
        }
        let remaining = count - old.fill_count;
        let claim = self.incoming_claim(&old.ticker, side, price, remaining, Some(&old));
        self.check_claim(owner, &claim, Some(order_id))?;
        let keeps_priority = price == old.price && remaining <= old.remaining_count;
        if !keeps_priority && old.post_only && self.crosses(&old.ticker, side, price) {
            return Err(Reject::PostOnlyWouldCross);
        }
        // Accepted: from here on the engine changes.
        let order = self.order_mut(order_id);
        if let Some(expiration) = expiration_ts {
            order.expiration_ts = expiration;
        }
        if let Some(key) = new_key {
            order.client_order_id.clone_from(&key.1);
            self.client_ids.insert(key, order_id.to_owned());
        }
        if keeps_priority {
            self.resize(order_id, remaining, count);
            return Ok(Placed {
                order: self.orders[order_id].clone(),
                fills: Vec::new(),
            });
        }
        self.unlink(order_id);
        let seq = self.next_seq();
        let order = self.order_mut(order_id);
        order.price = price;
        order.queue_seq = seq;
        self.resize(order_id, remaining, count);
        let steps = self.plan(&self.orders[order_id]);
        Ok(self.run(order_id, steps, true))
    }

    /// Shrinks a resting order, keeping its queue priority; reaching 0
    /// cancels it.
    ///
    /// `By(x)` needs `x > 0` (2 decimals at most); `x ≥ remaining` cancels.
    /// `To(x)` needs `0 ≤ x < remaining` (2 decimals at most).
    pub fn decrease(
        &mut self,
        owner: &Owner,
        order_id: &str,
        decrease: Decrease,
    ) -> Result<Order, Reject> {
        let order = self.resting_of(owner, order_id)?;
        let (remaining, initial) = (order.remaining_count, order.initial_count);
        let left = match decrease {
            Decrease::By(x) if x > Decimal::ZERO && decimals(x) <= 2 => {
                (remaining - x).max(Decimal::ZERO)
            }
            Decrease::To(x) if x >= Decimal::ZERO && x < remaining && decimals(x) <= 2 => x,
            Decrease::By(x) => {
                let why = format!("reduce_by {x} must be positive with at most 2 decimal places");
                return Err(Reject::InvalidDecrease(why));
            }
            Decrease::To(x) => {
                let why = format!(
                    "reduce_to {x} must be at least 0, below the remaining {remaining}, 2 decimals at most"
                );
                return Err(Reject::InvalidDecrease(why));
            }
        };
        if left.is_zero() {
            self.take_off_book(order_id);
        } else {
            self.resize(order_id, left, initial);
        }
        Ok(self.orders[order_id].clone())
    }
}

/// Reads.
impl Engine {
    /// Any order by id, whoever owns it and whatever its state.
    pub fn order(&self, order_id: &str) -> Option<&Order> {
        self.orders.get(order_id)
    }

    /// The user's order with this client order id.
    pub fn order_by_client_id(&self, user_id: &str, client_order_id: &str) -> Option<&Order> {
        let id = self
            .client_ids
            .get(&(user_id.to_owned(), client_order_id.to_owned()))?;
        self.orders.get(id)
    }

    /// Every order of a user (all subaccounts, all states), newest first:
    /// `created_ts_ms` descending, then id descending (ids sort in creation
    /// order). The HTTP layer filters and paginates.
    pub fn orders_of(&self, user_id: &str) -> Vec<&Order> {
        let mut orders: Vec<&Order> = self
            .orders
            .values()
            .filter(|o| o.owner.user_id == user_id)
            .collect();
        orders.sort_by(|a, b| (b.created_ts_ms, &b.order_id).cmp(&(a.created_ts_ms, &a.order_id)));
        orders
    }

    /// Every fill of a user (all subaccounts), newest first.
    pub fn fills_of(&self, user_id: &str) -> Vec<&Fill> {
        self.fills
            .iter()
            .rev()
            .filter(|f| f.owner.user_id == user_id)
            .collect()
    }

    /// Contracts ahead of this resting order at its price level and side
    /// (0 when first); `None` if the order is not resting.
    pub fn queue_position(&self, order_id: &str) -> Option<Decimal> {
        let order = self
            .orders
            .get(order_id)
            .filter(|o| o.status == OrderStatus::Resting)?;
        let queue = self
            .markets
            .get(&order.ticker)?
            .ladder(order.side)
            .get(&order.price)?;
        Some(
            queue
                .range(..order.queue_seq)
                .map(|(_, id)| self.orders[id].remaining_count)
                .sum(),
        )
    }

    /// Aggregated book `(bids, asks)`, each level `(price, total remaining)`:
    /// bids best (highest) first, asks best (lowest) first. `None` for an
    /// unknown market.
    pub fn book(&self, ticker: &str) -> Option<(Vec<Level>, Vec<Level>)> {
        let market = self.markets.get(ticker)?;
        let level = |(price, queue): (&Decimal, &Queue)| {
            (
                *price,
                queue
                    .values()
                    .map(|id| self.orders[id].remaining_count)
                    .sum(),
            )
        };
        Some((
            market.bids.iter().rev().map(level).collect(),
            market.asks.iter().map(level).collect(),
        ))
    }

    /// Number of resting orders across all books.
    pub fn resting_count(&self) -> usize {
        self.markets
            .values()
            .flat_map(|m| m.bids.values().chain(m.asks.values()))
            .map(Queue::len)
            .sum()
    }
}

/// Validation helpers.
impl Engine {
    fn open_market(&self, ticker: &str) -> Result<(), Reject> {
        match self.markets.get(ticker) {
            None => Err(Reject::UnknownMarket(ticker.to_owned())),
            Some(m) if m.state != MarketState::Open => Err(Reject::MarketClosed(ticker.to_owned())),
            Some(_) => Ok(()),
        }
    }

    fn check_buying_power(&self, owner: &Owner, needed: Decimal) -> Result<(), Reject> {
        let available = self.available(owner);
        if needed > available {
            return Err(Reject::InsufficientBalance { needed, available });
        }
        Ok(())
    }

    /// Refuses `claim` (replacing the resting order `without`, if any) when
    /// it would raise the owner's collateral above their cash.
    fn check_claim(
        &self,
        owner: &Owner,
        claim: &Claim,
        without: Option<&str>,
    ) -> Result<(), Reject> {
        let before = self.held(owner, None);
        let after = self.held(owner, Some((claim, without)));
        let cash = self.balance(owner);
        if after > before && after > cash {
            return Err(Reject::InsufficientBalance {
                needed: after - before,
                available: cash.saturating_sub(before),
            });
        }
        Ok(())
    }

    /// The owner's group `id`, if it takes orders.
    fn open_group(&self, owner: &Owner, id: &str) -> Result<(), Reject> {
        if self.owned_group(owner, id)?.triggered {
            return Err(Reject::OrderGroupTriggered(id.to_owned()));
        }
        Ok(())
    }

    fn owned_group(&self, owner: &Owner, id: &str) -> Result<&OrderGroup, Reject> {
        self.order_groups
            .get(id)
            .filter(|g| &g.owner == owner)
            .ok_or_else(|| Reject::UnknownOrderGroup(id.to_owned()))
    }

    /// The count a reduce-only order may have: capped at the absolute
    /// position it reduces; refused if it could grow it.
    fn reduce_only_count(&self, new: &NewOrder) -> Result<Decimal, Reject> {
        if !new.reduce_only {
            return Ok(new.count);
        }
        let position = self.position(&new.owner, &new.ticker);
        if new.side.signed(position) >= Decimal::ZERO {
            return Err(Reject::ReduceOnlyWouldIncrease);
        }
        Ok(new.count.min(position.abs()))
    }

    /// The order `owner` may change, or `NotFound`.
    fn resting_of(&self, owner: &Owner, order_id: &str) -> Result<&Order, Reject> {
        self.orders
            .get(order_id)
            .filter(|o| &o.owner == owner && o.status == OrderStatus::Resting)
            .ok_or(Reject::NotFound)
    }
}

/// Collateral.
impl Engine {
    /// What the owner's resting orders could still cost them, fees
    /// included; with `change`, as if the order `claim` were added (in
    /// place of the resting order it names, for an amend).
    fn held(&self, owner: &Owner, change: Option<(&Claim, Option<&str>)>) -> Decimal {
        let (extra, without) = change.map_or((None, None), |(c, w)| (Some(c), w));
        let mut claims: Vec<Claim> = self
            .orders
            .values()
            .filter(|o| o.status == OrderStatus::Resting && &o.owner == owner)
            .filter(|o| without != Some(o.order_id.as_str()))
            .map(|o| self.resting_claim(o))
            .collect();
        claims.extend(extra.cloned());
        let mut markets: BTreeMap<&str, Vec<&Claim>> = BTreeMap::new();
        for claim in &claims {
            markets.entry(&claim.ticker).or_default().push(claim);
        }
        markets
            .into_iter()
            .map(|(ticker, claims)| {
                let position = self.position(owner, ticker);
                [Side::Bid, Side::Ask]
                    .into_iter()
                    .map(|side| {
                        // A position opposite to the side covers its orders.
                        let covered = (-side.signed(position)).max(Decimal::ZERO);
                        let mine = claims.iter().copied().filter(|c| c.side == side);
                        side_collateral(side, mine.collect(), covered)
                    })
                    .sum::<Decimal>()
            })
            .sum()
    }

    /// A resting order's claim: its remaining count, and the maker fees
    /// it would still pay filling completely.
    fn resting_claim(&self, order: &Order) -> Claim {
        let schedule = self.fee_schedule(&order.ticker);
        let basis = order.maker_fee_basis + order.remaining_count * variance(order.price);
        Claim {
            ticker: order.ticker.clone(),
            side: order.side,
            price: order.price,
            count: order.remaining_count,
            fee: (schedule.fee(false, basis) - order.maker_fees).max(Decimal::ZERO),
            seq: Some(order.queue_seq),
        }
    }

    /// The claim of an order about to be placed (or amended: `resting` is
    /// the order before). One that crosses may take liquidity first, at any
    /// price up to its limit, then rest: its fees are bounded by the taker
    /// rate at the worst price of that range for all of it (a cent more
    /// when both rates are charged: two roundings). One that does not cross
    /// will only rest.
    fn incoming_claim(
        &self,
        ticker: &str,
        side: Side,
        price: Decimal,
        count: Decimal,
        resting: Option<&Order>,
    ) -> Claim {
        let schedule = self.fee_schedule(ticker);
        let fee = if self.crosses(ticker, side, price) {
            let as_taker = schedule.taker_rate * worst_variance(side, price);
            let as_maker = schedule.maker_rate * variance(price);
            let both = !schedule.taker_rate.is_zero() && !schedule.maker_rate.is_zero();
            let slack = if both {
                Decimal::new(1, 2)
            } else {
                Decimal::ZERO
            };
            ceil_cent(as_taker.max(as_maker) * count) + slack
        } else {
            let (basis, paid) = resting.map_or((Decimal::ZERO, Decimal::ZERO), |o| {
                (o.maker_fee_basis, o.maker_fees)
            });
            let total = schedule.fee(false, basis + count * variance(price));
            (total - paid).max(Decimal::ZERO)
        };
        Claim {
            ticker: ticker.to_owned(),
            side,
            price,
            count,
            fee,
            seq: None,
        }
    }
}

/// Order groups.
impl Engine {
    /// Creates an order group of `owner` with a contracts `limit` (positive,
    /// 2 decimals at most).
    pub fn create_order_group(
        &mut self,
        owner: &Owner,
        limit: Decimal,
    ) -> Result<OrderGroup, Reject> {
        check_limit(limit)?;
        let group = OrderGroup {
            id: self.next_id(),
            owner: owner.clone(),
            limit,
            triggered: false,
            created_ts_ms: self.now_ms,
            matches: Vec::new(),
        };
        self.order_groups.insert(group.id.clone(), group.clone());
        self.group_event(GroupEventKind::Created, &group.id);
        Ok(group)
    }

    /// Any order group by id.
    pub fn order_group(&self, id: &str) -> Option<&OrderGroup> {
        self.order_groups.get(id)
    }

    /// Every order group of a user (all subaccounts), oldest first.
    pub fn order_groups_of(&self, user_id: &str) -> Vec<&OrderGroup> {
        self.order_groups
            .values()
            .filter(|g| g.owner.user_id == user_id)
            .collect()
    }

    /// Every order placed in a group, oldest first.
    pub fn orders_in_group(&self, id: &str) -> Vec<&Order> {
        self.orders
            .values()
            .filter(|o| o.order_group_id.as_deref() == Some(id))
            .collect()
    }

    /// Triggers the owner's group by hand: its resting orders are canceled
    /// (returned) and it refuses orders until reset.
    pub fn trigger_order_group(&mut self, owner: &Owner, id: &str) -> Result<Vec<Order>, Reject> {
        self.owned_group(owner, id)?;
        Ok(self.trigger_group(id))
    }

    /// Resets the owner's group: its matched contracts count from zero
    /// and it takes orders again.
    pub fn reset_order_group(&mut self, owner: &Owner, id: &str) -> Result<(), Reject> {
        self.owned_group(owner, id)?;
        if let Some(group) = self.order_groups.get_mut(id) {
            group.triggered = false;
            group.matches.clear();
        }
        self.group_event(GroupEventKind::Reset, id);
        Ok(())
    }

    /// Deletes the owner's group and cancels its resting orders (returned).
    pub fn delete_order_group(&mut self, owner: &Owner, id: &str) -> Result<Vec<Order>, Reject> {
        self.owned_group(owner, id)?;
        let canceled = self.cancel_group_orders(id);
        self.group_event(GroupEventKind::Deleted, id);
        self.order_groups.remove(id);
        Ok(canceled)
    }

    /// Changes the limit of the owner's group; a limit below the contracts
    /// matched within the window triggers it.
    pub fn set_order_group_limit(
        &mut self,
        owner: &Owner,
        id: &str,
        limit: Decimal,
    ) -> Result<(), Reject> {
        check_limit(limit)?;
        self.owned_group(owner, id)?;
        if let Some(group) = self.order_groups.get_mut(id) {
            group.limit = limit;
        }
        self.group_event(GroupEventKind::LimitUpdated, id);
        self.enforce_group_limit(id);
        Ok(())
    }

    /// Triggers the group if it is not yet and its matches exceed its limit.
    fn enforce_group_limit(&mut self, id: &str) {
        let now = self.now_ms;
        let hit = self
            .order_groups
            .get(id)
            .is_some_and(|g| !g.triggered && g.matched(now) > g.limit);
        if hit {
            self.trigger_group(id);
        }
    }

    fn trigger_group(&mut self, id: &str) -> Vec<Order> {
        let canceled = self.cancel_group_orders(id);
        if let Some(group) = self.order_groups.get_mut(id) {
            group.triggered = true;
        }
        self.group_event(GroupEventKind::Triggered, id);
        canceled
    }

    fn cancel_group_orders(&mut self, id: &str) -> Vec<Order> {
        let ids: Vec<String> = self
            .orders
            .values()
            .filter(|o| o.status == OrderStatus::Resting && o.order_group_id.as_deref() == Some(id))
            .map(|o| o.order_id.clone())
            .collect();
        ids.iter()
            .map(|order_id| {
                self.take_off_book(order_id);
                self.orders[order_id].clone()
            })
            .collect()
    }

    fn group_event(&mut self, kind: GroupEventKind, id: &str) {
        if let Some(group) = self.order_groups.get(id) {
            self.group_events.push(GroupEvent {
                kind,
                group_id: group.id.clone(),
                owner: group.owner.clone(),
                limit: group.limit,
                ts_ms: self.now_ms,
            });
        }
    }
}

/// Matching.
impl Engine {
    /// A not yet accepted order (no id, no queue seq).
    fn draft(&self, new: NewOrder, count: Decimal) -> Order {
        Order {
            order_id: String::new(),
            owner: new.owner,
            client_order_id: new.client_order_id,
            ticker: new.ticker,
            side: new.side,
            price: new.price,
            initial_count: count,
            remaining_count: count,
            fill_count: Decimal::ZERO,
            status: OrderStatus::Resting,
            time_in_force: new.time_in_force,
            self_trade_prevention: new.self_trade_prevention,
            order_group_id: new.order_group_id,
            expiration_ts: new.expiration_ts,
            created_ts_ms: self.now_ms,
            last_update_ts_ms: self.now_ms,
            taker_fill_count: Decimal::ZERO,
            maker_fill_count: Decimal::ZERO,
            taker_fill_cost: Decimal::ZERO,
            maker_fill_cost: Decimal::ZERO,
            taker_fees: Decimal::ZERO,
            maker_fees: Decimal::ZERO,
            taker_fee_basis: Decimal::ZERO,
            maker_fee_basis: Decimal::ZERO,
            queue_seq: 0,
            post_only: new.post_only,
        }
    }

    /// Resting orders an incoming `side` order at `price` would trade with,
    /// in priority order: best price first, then earliest.
    fn crossing<'a>(
        &'a self,
        ticker: &str,
        side: Side,
        price: Decimal,
    ) -> impl Iterator<Item = &'a Order> + use<'a> {
        let market = self.markets.get(ticker);
        let levels: Box<dyn Iterator<Item = &'a Queue> + 'a> = match (market, side) {
            (None, _) => Box::new(std::iter::empty()),
            (Some(m), Side::Bid) => Box::new(m.asks.range(..=price).map(|(_, q)| q)),
            (Some(m), Side::Ask) => Box::new(m.bids.range(price..).rev().map(|(_, q)| q)),
        };
        levels
            .flat_map(Queue::values)
            .filter_map(|id| self.orders.get(id))
    }

    /// Whether an order would take liquidity at all (self matches included).
    fn crosses(&self, ticker: &str, side: Side, price: Decimal) -> bool {
        self.crossing(ticker, side, price).next().is_some()
    }

    /// What matching `taker` against the book would do, without doing it.
    fn plan(&self, taker: &Order) -> Vec<Step> {
        let mut left = taker.remaining_count;
        let mut steps = Vec::new();
        for maker in self.crossing(&taker.ticker, taker.side, taker.price) {
            if left.is_zero() {
                break;
            }
            if maker.owner.user_id == taker.owner.user_id {
                match taker.self_trade_prevention {
                    SelfTradePrevention::TakerAtCross => {
                        steps.push(Step::StopTaker);
                        break;
                    }
                    SelfTradePrevention::Maker => {
                        steps.push(Step::CancelMaker(maker.order_id.clone()));
                        continue;
                    }
                }
            }
            let count = left.min(maker.remaining_count);
            left -= count;
            steps.push(Step::Trade {
                maker_id: maker.order_id.clone(),
                count,
            });
        }
        steps
    }

    /// Carries out `steps` for the accepted taker `id`, then rests its
    /// remainder if `rests` (and no self-trade stopped it) or cancels it.
    fn run(&mut self, id: &str, steps: Vec<Step>, rests: bool) -> Placed {
        let mut fills = Vec::new();
        let mut stopped = false;
        for step in steps {
            match step {
                Step::Trade { maker_id, count } => fills.extend(self.trade(id, &maker_id, count)),
                Step::CancelMaker(maker_id) => {
                    self.take_off_book(&maker_id);
                }
                Step::StopTaker => stopped = true,
            }
        }
        let order = self.order_mut(id);
        if order.remaining_count.is_zero() {
            order.status = OrderStatus::Executed;
        } else if !rests || stopped {
            order.status = OrderStatus::Canceled;
            order.remaining_count = Decimal::ZERO;
        } else {
            self.link(id);
        }
        // Groups are checked once the action is done: the order that hits a
        // limit fills as far as it matched, then the group's orders go.
        let groups: BTreeSet<String> = fills
            .iter()
            .filter_map(|f| self.orders.get(&f.order_id)?.order_group_id.clone())
            .collect();
        for group in groups {
            self.enforce_group_limit(&group);
        }
        Placed {
            order: self.orders[id].clone(),
            fills,
        }
    }

    /// One trade of `count` at the maker's price: a fill for each side.
    fn trade(&mut self, taker_id: &str, maker_id: &str, count: Decimal) -> [Fill; 2] {
        let price = self.orders[maker_id].price;
        let trade_id = self.next_id();
        let taker = self.fill(taker_id, &trade_id, price, count, true);
        let maker = self.fill(maker_id, &trade_id, price, count, false);
        if self.orders[maker_id].remaining_count.is_zero() {
            self.unlink(maker_id);
        }
        [taker, maker]
    }

    /// Applies one side of a trade to its order, the owner's ledger and the
    /// fill history. Unlinking a filled maker is the caller's.
    fn fill(
        &mut self,
        order_id: &str,
        trade_id: &str,
        price: Decimal,
        count: Decimal,
        is_taker: bool,
    ) -> Fill {
        let fill_id = self.next_id();
        let now = self.now_ms;
        let schedule = self
            .orders
            .get(order_id)
            .map_or(FeeSchedule::FREE, |o| self.fee_schedule(&o.ticker));
        let order = self.order_mut(order_id);
        let cost = order.side.unit_cost(price) * count;
        let basis = count * variance(price);
        order.remaining_count -= count;
        order.fill_count += count;
        // The order's fees so far, rounded once; this fill pays the increase.
        let (fill_count, fill_cost, fee_basis, fees) = if is_taker {
            (
                &mut order.taker_fill_count,
                &mut order.taker_fill_cost,
                &mut order.taker_fee_basis,
                &mut order.taker_fees,
            )
        } else {
            (
                &mut order.maker_fill_count,
                &mut order.maker_fill_cost,
                &mut order.maker_fee_basis,
                &mut order.maker_fees,
            )
        };
        *fill_count += count;
        *fill_cost += cost;
        *fee_basis += basis;
        let fee = (schedule.fee(is_taker, *fee_basis) - *fees).max(Decimal::ZERO);
        *fees += fee;
        order.last_update_ts_ms = now;
        if order.remaining_count.is_zero() {
            order.status = OrderStatus::Executed;
        }
        let fill = Fill {
            fill_id,
            trade_id: trade_id.to_owned(),
            order_id: order_id.to_owned(),
            owner: order.owner.clone(),
            ticker: order.ticker.clone(),
            side: order.side,
            price,
            count,
            is_taker,
            fee,
            ts_ms: now,
        };
        let group = order.order_group_id.clone();
        self.book_fill(&fill);
        if let Some(group) = group.and_then(|id| self.order_groups.get_mut(&id)) {
            group.record(now, count);
        }
        self.fills.push(fill.clone());
        fill
    }

    /// The ledger: the owner pays the fill's cost and fee, gets $1 back per
    /// contract netted against the opposite position, and the position
    /// moves; the exchange keeps the fee.
    fn book_fill(&mut self, fill: &Fill) {
        let account = self.accounts.entry(fill.owner.clone()).or_default();
        let holding = account.holdings.entry(fill.ticker.clone()).or_default();
        let netted = holding.apply(fill.side, fill.price, fill.count, fill.fee);
        holding.updated_ms = fill.ts_ms;
        let change = netted - fill.side.unit_cost(fill.price) * fill.count - fill.fee;
        account.cash = account.cash.saturating_add(change);
        self.fees_collected += fill.fee;
    }
}

/// Book and order bookkeeping.
impl Engine {
    fn order_mut(&mut self, order_id: &str) -> &mut Order {
        let order = self
            .orders
            .get_mut(order_id)
            .expect("engine invariant: order ids in books and steps exist");
        if !self.touched_orders.contains(order_id) {
            self.touched_orders.insert(order_id.to_owned());
        }
        if !self.touched_markets.contains(&order.ticker) {
            self.touched_markets.insert(order.ticker.clone());
        }
        order
    }

    /// Sets the remaining and total counts of an order, stamping the time.
    fn resize(&mut self, order_id: &str, remaining: Decimal, initial: Decimal) {
        let now = self.now_ms;
        let order = self.order_mut(order_id);
        order.remaining_count = remaining;
        order.initial_count = initial;
        order.last_update_ts_ms = now;
    }

    /// Puts an order on its book at its price and `queue_seq`.
    fn link(&mut self, order_id: &str) {
        let order = self.order_mut(order_id);
        order.status = OrderStatus::Resting;
        let (ticker, side, price, seq) = (
            order.ticker.clone(),
            order.side,
            order.price,
            order.queue_seq,
        );
        if let Some(market) = self.markets.get_mut(&ticker) {
            market
                .ladder_mut(side)
                .entry(price)
                .or_default()
                .insert(seq, order_id.to_owned());
        }
    }

    /// Removes an order from its book (status untouched).
    fn unlink(&mut self, order_id: &str) {
        let Some(order) = self.orders.get(order_id) else {
            return;
        };
        let Some(market) = self.markets.get_mut(&order.ticker) else {
            return;
        };
        let ladder = market.ladder_mut(order.side);
        if let Some(queue) = ladder.get_mut(&order.price) {
            queue.remove(&order.queue_seq);
            if queue.is_empty() {
                ladder.remove(&order.price);
            }
        }
    }

    /// Cancels a resting order; returns the count it still had.
    fn take_off_book(&mut self, order_id: &str) -> Decimal {
        self.unlink(order_id);
        let now = self.now_ms;
        let order = self.order_mut(order_id);
        let reduced_by = order.remaining_count;
        order.remaining_count = Decimal::ZERO;
        order.status = OrderStatus::Canceled;
        order.last_update_ts_ms = now;
        reduced_by
    }

    /// Cancels every resting order of a market.
    fn cancel_market(&mut self, ticker: &str) {
        let ids: Vec<String> = self
            .orders
            .values()
            .filter(|o| o.status == OrderStatus::Resting && o.ticker == ticker)
            .map(|o| o.order_id.clone())
            .collect();
        for id in ids {
            self.take_off_book(&id);
        }
    }

    /// A fresh id: a counter laid out as a UUID v4 (counter in the first 48
    /// bits), so ids are unique, reproducible, and sort in creation order.
    fn next_id(&mut self) -> String {
        self.last_id += 1;
        let mut bytes = [0u8; 16];
        bytes[..6].copy_from_slice(&self.last_id.to_be_bytes()[2..]);
        uuid::Builder::from_random_bytes(bytes)
            .into_uuid()
            .to_string()
    }

    fn next_seq(&mut self) -> u64 {
        self.last_seq += 1;
        self.last_seq
    }
}

// ---------------------------------------------------------------------------
// Free helpers
// ---------------------------------------------------------------------------

/// Decimal places of `value` once trailing zeros are dropped.
fn decimals(value: Decimal) -> u32 {
    value.normalize().scale()
}

fn check_price(price: Decimal) -> Result<(), Reject> {
    if price <= Decimal::ZERO || price >= Decimal::ONE || decimals(price) > 4 {
        let why = format!(
            "price {price} must be between 0 and 1 (exclusive) with at most 4 decimal places"
        );
        return Err(Reject::InvalidPrice(why));
    }
    Ok(())
}

fn check_count(count: Decimal) -> Result<(), Reject> {
    if count <= Decimal::ZERO || count > MAX_COUNT || decimals(count) > 2 {
        let why = format!(
            "count {count} must be positive, at most {MAX_COUNT}, with at most 2 decimal places"
        );
        return Err(Reject::InvalidCount(why));
    }
    Ok(())
}

fn check_limit(limit: Decimal) -> Result<(), Reject> {
    check_count(limit).map_err(|_| {
        Reject::InvalidCount(format!(
            "contracts limit {limit} must be positive, at most {MAX_COUNT}, with at most 2 decimal places"
        ))
    })
}

/// `P × (1 − P)`: what Kalshi's fees are proportional to.
fn variance(price: Decimal) -> Decimal {
    price * (Decimal::ONE - price)
}

/// The largest `P × (1 − P)` of a trade of an order of `side` with this
/// limit: bids trade at or below it, asks at or above.
fn worst_variance(side: Side, limit: Decimal) -> Decimal {
    let half = Decimal::new(5, 1);
    variance(match side {
        Side::Bid => limit.min(half),
        Side::Ask => limit.max(half),
    })
}

/// Rounds up to the next cent.
fn ceil_cent(value: Decimal) -> Decimal {
    value.round_dp_with_strategy(2, rust_decimal::RoundingStrategy::ToPositiveInfinity)
}

/// What one order could still cost its owner (see [`Engine::held`]).
#[derive(Debug, Clone)]
struct Claim {
    ticker: String,
    side: Side,
    price: Decimal,
    count: Decimal,
    /// Fees it could still pay.
    fee: Decimal,
    /// Queue priority; `None` for an order not yet on the book, which
    /// takes before the owner's resting orders fill.
    seq: Option<u64>,
}

/// The collateral of an owner's claims on one side of one market, given
/// the contracts of the opposite position that `covered` them: orders fill
/// best price first, so the position closes with those first and they
/// cost nothing; the rest cost their price. Fees are owed either way.
fn side_collateral(side: Side, mut claims: Vec<&Claim>, mut covered: Decimal) -> Decimal {
    claims.sort_by(|a, b| {
        let by_price = match side {
            Side::Bid => b.price.cmp(&a.price),
            Side::Ask => a.price.cmp(&b.price),
        };
        a.seq
            .is_some()
            .cmp(&b.seq.is_some())
            .then(by_price)
            .then(a.seq.cmp(&b.seq))
    });
    let mut total = Decimal::ZERO;
    for claim in claims {
        let closing = claim.count.min(covered);
        covered -= closing;
        total += side.unit_cost(claim.price) * (claim.count - closing) + claim.fee;
    }
    total
}

/// Contracts a plan trades.
fn traded(steps: &[Step]) -> Decimal {
    steps
        .iter()
        .map(|s| match s {
            Step::Trade { count, .. } => *count,
            _ => Decimal::ZERO,
        })
        .sum()
}

/// Whether an expiration (unix seconds) is reached at `now_ms`.
fn is_expired(expiration_ts: Option<i64>, now_ms: i64) -> bool {
    expiration_ts.is_some_and(|ts| ts.saturating_mul(1000) <= now_ms)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU64, Ordering};

    const T: &str = "MKT";

    fn d(text: &str) -> Decimal {
        text.parse().unwrap()
    }

    fn owner(user: &str, subaccount: u32) -> Owner {
        Owner {
            user_id: user.to_owned(),
            subaccount,
        }
    }

    fn alice() -> Owner {
        owner("alice", 0)
    }

    fn bob() -> Owner {
        owner("bob", 0)
    }

    fn carol() -> Owner {
        owner("carol", 0)
    }

    /// An open market `MKT` and $1000 each for alice, bob and carol.
    fn engine() -> Engine {
        let mut e = Engine::new();
        e.set_time_ms(1_000);
        e.add_market(T, MarketState::Open);
        for o in [alice(), bob(), carol()] {
            e.deposit(&o, d("1000"));
        }
        e
    }

    /// A GTC, taker-at-cross order with a fresh client order id.
    fn order(who: &Owner, side: Side, price: &str, count: &str) -> NewOrder {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        NewOrder {
            owner: who.clone(),
            ticker: T.to_owned(),
            side,
            price: d(price),
            count: d(count),
            client_order_id: format!("coid-{}", NEXT.fetch_add(1, Ordering::Relaxed)),
            time_in_force: TimeInForce::GoodTillCanceled,
            self_trade_prevention: SelfTradePrevention::TakerAtCross,
            post_only: false,
            reduce_only: false,
            order_group_id: None,
            expiration_ts: None,
        }
    }

    fn place(e: &mut Engine, who: &Owner, side: Side, price: &str, count: &str) -> Placed {
        e.place(order(who, side, price, count)).unwrap()
    }

    fn id(placed: &Placed) -> String {
        placed.order.order_id.clone()
    }

    fn status(e: &Engine, placed: &Placed) -> OrderStatus {
        e.order(&placed.order.order_id).unwrap().status
    }

    /// (price, count) of the fills of `placed`'s own order.
    fn own_fills(placed: &Placed) -> Vec<(Decimal, Decimal)> {
        placed
            .fills
            .iter()
            .filter(|f| f.order_id == placed.order.order_id)
            .map(|f| (f.price, f.count))
            .collect()
    }

    fn levels(list: &[(&str, &str)]) -> Vec<Level> {
        list.iter().map(|(p, c)| (d(p), d(c))).collect()
    }

    // --- matching -----------------------------------------------------------

    #[test]
    fn better_price_level_fills_first() {
        let mut e = engine();
        place(&mut e, &bob(), Side::Ask, "0.60", "10");
        place(&mut e, &carol(), Side::Ask, "0.55", "10");
        let taker = place(&mut e, &alice(), Side::Bid, "0.60", "15");
        assert_eq!(
            own_fills(&taker),
            vec![(d("0.55"), d("10")), (d("0.60"), d("5"))]
        );
        assert_eq!(e.book(T).unwrap().1, levels(&[("0.60", "5")]));
    }

    #[test]
    fn incoming_ask_takes_highest_bid_first() {
        let mut e = engine();
        place(&mut e, &bob(), Side::Bid, "0.40", "5");
        place(&mut e, &carol(), Side::Bid, "0.45", "5");
        let taker = place(&mut e, &alice(), Side::Ask, "0.40", "7");
        assert_eq!(
            own_fills(&taker),
            vec![(d("0.45"), d("5")), (d("0.40"), d("2"))]
        );
    }

    #[test]
    fn earlier_order_fills_first_within_a_level() {
        let mut e = engine();
        let first = place(&mut e, &bob(), Side::Ask, "0.50", "5");
        let second = place(&mut e, &carol(), Side::Ask, "0.50", "5");
        let taker = place(&mut e, &alice(), Side::Bid, "0.50", "5");
        assert_eq!(taker.fills[1].order_id, id(&first));
        assert_eq!(status(&e, &first), OrderStatus::Executed);
        assert_eq!(e.order(&id(&second)).unwrap().remaining_count, d("5"));
        assert_eq!(e.queue_position(&id(&second)), Some(d("0")));
    }

    #[test]
    fn trades_at_the_resting_price_for_bids_and_asks() {
        let mut e = engine();
        place(&mut e, &bob(), Side::Ask, "0.40", "10");
        let taker = place(&mut e, &alice(), Side::Bid, "0.70", "10");
        assert_eq!(own_fills(&taker), vec![(d("0.40"), d("10"))]);
        assert_eq!(
            e.balance(&alice()),
            d("996"),
            "alice pays 0.40, not her 0.70 limit"
        );

        place(&mut e, &bob(), Side::Bid, "0.70", "1");
        let taker = place(&mut e, &carol(), Side::Ask, "0.40", "1");
        assert_eq!(own_fills(&taker), vec![(d("0.70"), d("1"))]);
        assert_eq!(
            e.balance(&carol()),
            d("999.70"),
            "carol buys NO at 1 - 0.70"
        );
    }

    #[test]
    fn partially_filled_taker_rests_its_remainder() {
        let mut e = engine();
        place(&mut e, &bob(), Side::Ask, "0.50", "3");
        let taker = place(&mut e, &alice(), Side::Bid, "0.50", "10");
        assert_eq!(taker.order.status, OrderStatus::Resting);
        assert_eq!(
            (taker.order.fill_count, taker.order.remaining_count),
            (d("3"), d("7"))
        );
        assert_eq!(taker.order.taker_fill_count, d("3"));
        assert_eq!(e.book(T).unwrap(), (levels(&[("0.50", "7")]), vec![]));
    }

    #[test]
    fn partially_filled_maker_keeps_its_place() {
        let mut e = engine();
        let maker = place(&mut e, &bob(), Side::Ask, "0.50", "10");
        let later = place(&mut e, &carol(), Side::Ask, "0.50", "1");
        place(&mut e, &alice(), Side::Bid, "0.50", "4.5");
        let maker = e.order(&id(&maker)).unwrap();
        assert_eq!(
            (maker.status, maker.remaining_count, maker.fill_count),
            (OrderStatus::Resting, d("5.5"), d("4.5"))
        );
        assert_eq!(
            (maker.maker_fill_count, maker.maker_fill_cost),
            (d("4.5"), d("2.25"))
        );
        assert_eq!(e.queue_position(&maker.order_id), Some(d("0")));
        assert_eq!(e.queue_position(&id(&later)), Some(d("5.5")));
    }

    #[test]
    fn a_trade_yields_a_taker_and_a_maker_fill() {
        let mut e = engine();
        e.set_time_ms(5_000);
        let maker = place(&mut e, &bob(), Side::Ask, "0.30", "2");
        let taker = place(&mut e, &alice(), Side::Bid, "0.30", "2");
        let [t, m] = [&taker.fills[0], &taker.fills[1]];
        assert_eq!(taker.fills.len(), 2);
        assert_eq!(t.trade_id, m.trade_id);
        assert_ne!(t.fill_id, m.fill_id);
        assert_eq!(
            (t.is_taker, t.side, &t.order_id, &t.owner),
            (true, Side::Bid, &id(&taker), &alice())
        );
        assert_eq!(
            (m.is_taker, m.side, &m.order_id, &m.owner),
            (false, Side::Ask, &id(&maker), &bob())
        );
        assert_eq!((t.price, t.count, t.ts_ms), (d("0.30"), d("2"), 5_000));
        assert_eq!(e.fills_of("bob").len(), 1);
    }

    // --- time in force and post-only -----------------------------------

    fn with_tif(mut o: NewOrder, tif: TimeInForce) -> NewOrder {
        o.time_in_force = tif;
        o
    }

    #[test]
    fn ioc_cancels_the_unfilled_remainder() {
        let mut e = engine();
        place(&mut e, &bob(), Side::Ask, "0.50", "3");
        let p = e
            .place(with_tif(
                order(&alice(), Side::Bid, "0.50", "10"),
                TimeInForce::ImmediateOrCancel,
            ))
            .unwrap();
        assert_eq!(
            (p.order.status, p.order.fill_count, p.order.remaining_count),
            (OrderStatus::Canceled, d("3"), d("0"))
        );
        assert_eq!(e.resting_count(), 0);
    }

    #[test]
    fn ioc_without_liquidity_is_canceled_and_a_full_fill_executed() {
        let mut e = engine();
        let none = e
            .place(with_tif(
                order(&alice(), Side::Bid, "0.50", "1"),
                TimeInForce::ImmediateOrCancel,
            ))
            .unwrap();
        assert_eq!(
            (none.order.status, none.order.fill_count),
            (OrderStatus::Canceled, d("0"))
        );
        place(&mut e, &bob(), Side::Ask, "0.50", "3");
        let full = e
            .place(with_tif(
                order(&alice(), Side::Bid, "0.50", "3"),
                TimeInForce::ImmediateOrCancel,
            ))
            .unwrap();
        assert_eq!(full.order.status, OrderStatus::Executed);
    }

    #[test]
    fn fok_short_of_volume_changes_nothing() {
        let mut e = engine();
        let maker = place(&mut e, &bob(), Side::Ask, "0.50", "3");
        let fok = with_tif(
            order(&alice(), Side::Bid, "0.50", "10"),
            TimeInForce::FillOrKill,
        );
        let coid = fok.client_order_id.clone();
        assert_eq!(
            e.place(fok.clone()).unwrap_err(),
            Reject::FillOrKillUnfilled
        );
        assert_eq!(
            (e.balance(&alice()), e.balance(&bob())),
            (d("1000"), d("1000"))
        );
        assert_eq!(e.order(&id(&maker)).unwrap().remaining_count, d("3"));
        assert!(e.fills_of("alice").is_empty() && e.orders_of("alice").is_empty());
        assert!(
            e.order_by_client_id("alice", &coid).is_none(),
            "a rejected id stays usable"
        );
        let mut smaller = fok;
        smaller.count = d("3");
        assert_eq!(
            e.place(smaller).unwrap().order.status,
            OrderStatus::Executed
        );
    }

    #[test]
    fn fok_fills_fully_across_levels() {
        let mut e = engine();
        place(&mut e, &bob(), Side::Ask, "0.50", "6");
        place(&mut e, &carol(), Side::Ask, "0.55", "6");
        let p = e
            .place(with_tif(
                order(&alice(), Side::Bid, "0.55", "10"),
                TimeInForce::FillOrKill,
            ))
            .unwrap();
        assert_eq!(
            (p.order.status, p.order.fill_count),
            (OrderStatus::Executed, d("10"))
        );
        assert_eq!(e.book(T).unwrap().1, levels(&[("0.55", "2")]));
    }

    #[test]
    fn fok_does_not_count_volume_self_trade_prevention_skips() {
        let mut e = engine();
        let own = place(&mut e, &alice(), Side::Ask, "0.50", "5");
        place(&mut e, &bob(), Side::Ask, "0.50", "5");
        for stp in [
            SelfTradePrevention::TakerAtCross,
            SelfTradePrevention::Maker,
        ] {
            let mut fok = with_tif(
                order(&alice(), Side::Bid, "0.50", "10"),
                TimeInForce::FillOrKill,
            );
            fok.self_trade_prevention = stp;
            assert_eq!(e.place(fok).unwrap_err(), Reject::FillOrKillUnfilled);
        }
        assert_eq!(
            status(&e, &own),
            OrderStatus::Resting,
            "the rejected FOK canceled nothing"
        );
    }

    #[test]
    fn post_only_is_rejected_when_crossing_and_rests_otherwise() {
        let mut e = engine();
        place(&mut e, &bob(), Side::Ask, "0.50", "5");
        let mut crossing = order(&alice(), Side::Bid, "0.50", "1");
        crossing.post_only = true;
        assert_eq!(e.place(crossing).unwrap_err(), Reject::PostOnlyWouldCross);
        assert_eq!(e.book(T).unwrap().1, levels(&[("0.50", "5")]));
        let mut passive = order(&alice(), Side::Bid, "0.49", "1");
        passive.post_only = true;
        assert_eq!(e.place(passive).unwrap().order.status, OrderStatus::Resting);
    }

    // --- self-trade prevention ------------------------------------------

    fn with_stp(mut o: NewOrder, stp: SelfTradePrevention) -> NewOrder {
        o.self_trade_prevention = stp;
        o
    }

    #[test]
    fn taker_at_cross_keeps_earlier_fills_and_cancels_the_rest() {
        let mut e = engine();
        place(&mut e, &bob(), Side::Ask, "0.50", "4");
        let own = place(&mut e, &alice(), Side::Ask, "0.50", "5");
        place(&mut e, &carol(), Side::Ask, "0.50", "5");
        let p = e.place(order(&alice(), Side::Bid, "0.50", "10")).unwrap();
        assert_eq!(
            (p.order.status, p.order.fill_count, p.order.remaining_count),
            (OrderStatus::Canceled, d("4"), d("0"))
        );
        assert_eq!(status(&e, &own), OrderStatus::Resting);
        assert_eq!(
            e.book(T).unwrap().1,
            levels(&[("0.50", "10")]),
            "carol was not reached"
        );
    }

    #[test]
    fn maker_stp_cancels_own_resting_order_and_continues() {
        let mut e = engine();
        place(&mut e, &bob(), Side::Ask, "0.50", "4");
        let own = place(&mut e, &alice(), Side::Ask, "0.50", "5");
        place(&mut e, &carol(), Side::Ask, "0.50", "3");
        let p = e
            .place(with_stp(
                order(&alice(), Side::Bid, "0.50", "10"),
                SelfTradePrevention::Maker,
            ))
            .unwrap();
        assert_eq!(
            own_fills(&p),
            vec![(d("0.50"), d("4")), (d("0.50"), d("3"))]
        );
        assert_eq!(status(&e, &own), OrderStatus::Canceled);
        assert_eq!(
            (p.order.status, p.order.remaining_count),
            (OrderStatus::Resting, d("3"))
        );
        assert_eq!(e.book(T).unwrap(), (levels(&[("0.50", "3")]), vec![]));
    }

    #[test]
    fn another_subaccount_of_the_same_user_is_self() {
        let mut e = engine();
        e.deposit(&owner("alice", 1), d("100"));
        let own = place(&mut e, &owner("alice", 1), Side::Ask, "0.50", "5");
        let p = e.place(order(&alice(), Side::Bid, "0.60", "5")).unwrap();
        assert_eq!((p.order.status, p.fills.len()), (OrderStatus::Canceled, 0));
        assert_eq!(status(&e, &own), OrderStatus::Resting);
        let p = e
            .place(with_stp(
                order(&alice(), Side::Bid, "0.60", "5"),
                SelfTradePrevention::Maker,
            ))
            .unwrap();
        assert_eq!((p.order.status, p.fills.len()), (OrderStatus::Resting, 0));
        assert_eq!(status(&e, &own), OrderStatus::Canceled);
    }

    // --- reduce-only and buying power -----------------------------------

    fn reduce_only(mut o: NewOrder) -> NewOrder {
        o.reduce_only = true;
        o
    }

    #[test]
    fn reduce_only_refuses_growth_and_caps_at_the_position() {
        let mut e = engine();
        for side in [Side::Bid, Side::Ask] {
            let flat = reduce_only(order(&alice(), side, "0.50", "1"));
            assert_eq!(e.place(flat).unwrap_err(), Reject::ReduceOnlyWouldIncrease);
        }
        place(&mut e, &bob(), Side::Ask, "0.50", "5");
        place(&mut e, &alice(), Side::Bid, "0.50", "5");
        let more = reduce_only(order(&alice(), Side::Bid, "0.50", "1"));
        assert_eq!(e.place(more).unwrap_err(), Reject::ReduceOnlyWouldIncrease);
        let capped = e
            .place(reduce_only(order(&alice(), Side::Ask, "0.70", "10")))
            .unwrap();
        assert_eq!(
            (capped.order.initial_count, capped.order.remaining_count),
            (d("5"), d("5"))
        );
    }

    #[test]
    fn insufficient_balance_then_success_after_deposit() {
        let mut e = engine();
        let dave = owner("dave", 0);
        e.deposit(&dave, d("10"));
        let err = e.place(order(&dave, Side::Bid, "0.50", "30")).unwrap_err();
        assert_eq!(
            err,
            Reject::InsufficientBalance {
                needed: d("15"),
                available: d("10")
            }
        );
        assert_eq!(err.code(), "insufficient_balance");
        e.deposit(&dave, d("5"));
        assert!(e.place(order(&dave, Side::Bid, "0.50", "30")).is_ok());
    }

    #[test]
    fn resting_orders_hold_collateral_until_canceled() {
        let mut e = engine();
        let dave = owner("dave", 0);
        e.deposit(&dave, d("10"));
        let resting = place(&mut e, &dave, Side::Bid, "0.50", "20");
        assert_eq!((e.balance(&dave), e.available(&dave)), (d("10"), d("0")));
        let err = e.place(order(&dave, Side::Bid, "0.01", "1")).unwrap_err();
        assert_eq!(
            err,
            Reject::InsufficientBalance {
                needed: d("0.01"),
                available: d("0")
            }
        );
        e.cancel(&dave, &id(&resting)).unwrap();
        assert_eq!(e.available(&dave), d("10"));
    }

    #[test]
    fn an_ask_costs_the_no_price() {
        let mut e = engine();
        let dave = owner("dave", 0);
        e.deposit(&dave, d("10"));
        assert!(matches!(
            e.place(order(&dave, Side::Ask, "0.20", "13")),
            Err(Reject::InsufficientBalance { .. })
        ));
        place(&mut e, &dave, Side::Ask, "0.20", "12.5");
        assert_eq!(e.available(&dave), d("0"));
    }

    #[test]
    fn subaccounts_have_separate_cash() {
        let mut e = engine();
        let sub = owner("alice", 2);
        assert!(matches!(
            e.place(order(&sub, Side::Bid, "0.50", "1")),
            Err(Reject::InsufficientBalance { .. })
        ));
        e.transfer(&alice(), &sub, d("1")).unwrap();
        assert_eq!((e.balance(&alice()), e.balance(&sub)), (d("999"), d("1")));
        place(&mut e, &sub, Side::Bid, "0.50", "2");
        assert!(matches!(
            e.transfer(&sub, &alice(), d("0.01")),
            Err(Reject::InsufficientBalance { .. })
        ));
    }

    // --- ledger ---------------------------------------------------------

    #[test]
    fn buying_yes_and_selling_higher_earns_the_difference() {
        let mut e = engine();
        place(&mut e, &bob(), Side::Ask, "0.40", "10");
        place(&mut e, &alice(), Side::Bid, "0.40", "10");
        assert_eq!(
            (e.balance(&alice()), e.position(&alice(), T)),
            (d("996"), d("10"))
        );
        place(&mut e, &carol(), Side::Bid, "0.60", "10");
        place(&mut e, &alice(), Side::Ask, "0.60", "10");
        assert_eq!(
            (e.balance(&alice()), e.position(&alice(), T)),
            (d("1002"), d("0"))
        );
    }

    #[test]
    fn buying_yes_then_no_nets_a_dollar_per_pair() {
        let mut e = engine();
        place(&mut e, &bob(), Side::Ask, "0.40", "10");
        place(&mut e, &alice(), Side::Bid, "0.40", "10");
        place(&mut e, &carol(), Side::Bid, "0.30", "10");
        place(&mut e, &alice(), Side::Ask, "0.30", "10");
        // -4 for YES, -7 for NO at 1 - 0.30, +10 for ten YES+NO pairs.
        assert_eq!(
            (e.balance(&alice()), e.position(&alice(), T)),
            (d("999"), d("0"))
        );
    }

    #[test]
    fn selling_yes_without_holding_it_goes_long_no() {
        let mut e = engine();
        place(&mut e, &bob(), Side::Bid, "0.25", "4");
        place(&mut e, &alice(), Side::Ask, "0.25", "4");
        assert_eq!(
            (e.balance(&alice()), e.position(&alice(), T)),
            (d("997"), d("-4"))
        );
        assert_eq!(
            e.positions(&alice()),
            vec![(T.to_owned(), d("-4"), d("3"), d("3"))]
        );
    }

    #[test]
    fn positions_report_traded_and_average_cost_exposure() {
        let mut e = engine();
        place(&mut e, &bob(), Side::Ask, "0.40", "10");
        place(&mut e, &alice(), Side::Bid, "0.40", "10");
        assert_eq!(
            e.positions(&alice()),
            vec![(T.to_owned(), d("10"), d("4"), d("4"))]
        );
        place(&mut e, &carol(), Side::Bid, "0.60", "4");
        place(&mut e, &alice(), Side::Ask, "0.60", "4");
        // Closing 4 of 10 releases 40% of the $4 basis; the ask cost 0.40 × 4.
        assert_eq!(
            e.positions(&alice()),
            vec![(T.to_owned(), d("6"), d("5.6"), d("2.4"))]
        );
        assert!(e.positions(&owner("nobody", 0)).is_empty());
    }

    #[test]
    fn crossing_through_flat_reopens_at_the_fill_cost() {
        let mut e = engine();
        place(&mut e, &bob(), Side::Ask, "0.40", "2");
        place(&mut e, &alice(), Side::Bid, "0.40", "2");
        place(&mut e, &carol(), Side::Bid, "0.30", "5");
        place(&mut e, &alice(), Side::Ask, "0.30", "5");
        // Two close the YES; three open NO at 0.70 each.
        let (_, position, _, exposure) = e.positions(&alice()).remove(0);
        assert_eq!((position, exposure), (d("-3"), d("2.1")));
    }

    // --- cancel ---------------------------------------------------------

    #[test]
    fn cancel_returns_the_remaining_count() {
        let mut e = engine();
        e.set_time_ms(2_000);
        let p = place(&mut e, &alice(), Side::Bid, "0.50", "10");
        place(&mut e, &bob(), Side::Ask, "0.50", "4");
        e.set_time_ms(3_000);
        let (order, reduced_by) = e.cancel(&alice(), &id(&p)).unwrap();
        assert_eq!(reduced_by, d("6"));
        assert_eq!(
            (order.status, order.fill_count, order.remaining_count),
            (OrderStatus::Canceled, d("4"), d("0"))
        );
        assert_eq!(
            (order.created_ts_ms, order.last_update_ts_ms),
            (2_000, 3_000)
        );
        assert_eq!(e.resting_count(), 0);
    }

    #[test]
    fn cancel_not_found_cases() {
        let mut e = engine();
        let p = place(&mut e, &alice(), Side::Bid, "0.50", "10");
        assert_eq!(
            e.cancel(&alice(), "no-such-order").unwrap_err(),
            Reject::NotFound
        );
        assert_eq!(e.cancel(&bob(), &id(&p)).unwrap_err(), Reject::NotFound);
        assert_eq!(
            e.cancel(&owner("alice", 1), &id(&p)).unwrap_err(),
            Reject::NotFound
        );
        e.cancel(&alice(), &id(&p)).unwrap();
        assert_eq!(e.cancel(&alice(), &id(&p)).unwrap_err(), Reject::NotFound);
        let executed = place(&mut e, &alice(), Side::Bid, "0.50", "1");
        place(&mut e, &bob(), Side::Ask, "0.50", "1");
        assert_eq!(
            e.cancel(&alice(), &id(&executed)).unwrap_err(),
            Reject::NotFound
        );
    }

    #[test]
    fn cancel_all_by_subaccount_or_for_the_whole_user() {
        let mut e = engine();
        let sub = owner("alice", 1);
        e.deposit(&sub, d("10"));
        place(&mut e, &alice(), Side::Bid, "0.10", "1");
        place(&mut e, &sub, Side::Bid, "0.10", "1");
        place(&mut e, &bob(), Side::Bid, "0.10", "1");
        let canceled = e.cancel_all("alice", Some(1));
        assert_eq!(canceled.len(), 1);
        assert_eq!(
            (canceled[0].status, &canceled[0].owner),
            (OrderStatus::Canceled, &sub)
        );
        assert_eq!(e.cancel_all("alice", None).len(), 1);
        assert_eq!(e.resting_count(), 1, "bob's order stays");
    }

    // --- amend and decrease ---------------------------------------------

    #[test]
    fn amend_down_at_the_same_price_keeps_priority() {
        let mut e = engine();
        let a = place(&mut e, &alice(), Side::Bid, "0.50", "10");
        let b = place(&mut e, &bob(), Side::Bid, "0.50", "10");
        let amended = e
            .amend(&alice(), &id(&a), Side::Bid, d("0.50"), d("6"))
            .unwrap();
        assert_eq!(
            (amended.order.remaining_count, amended.order.queue_seq),
            (d("6"), a.order.queue_seq)
        );
        assert_eq!(e.queue_position(&id(&a)), Some(d("0")));
        assert_eq!(e.queue_position(&id(&b)), Some(d("6")));
    }

    #[test]
    fn amend_up_goes_to_the_back_of_the_level() {
        let mut e = engine();
        let a = place(&mut e, &alice(), Side::Bid, "0.50", "10");
        let b = place(&mut e, &bob(), Side::Bid, "0.50", "10");
        e.amend(&alice(), &id(&a), Side::Bid, d("0.50"), d("12"))
            .unwrap();
        assert_eq!(e.queue_position(&id(&a)), Some(d("10")));
        assert_eq!(e.queue_position(&id(&b)), Some(d("0")));
    }

    #[test]
    fn amend_price_loses_priority_and_may_fill() {
        let mut e = engine();
        let a = place(&mut e, &alice(), Side::Bid, "0.40", "5");
        let b = place(&mut e, &bob(), Side::Bid, "0.45", "5");
        e.amend(&alice(), &id(&a), Side::Bid, d("0.45"), d("5"))
            .unwrap();
        assert_eq!(
            e.queue_position(&id(&a)),
            Some(d("5")),
            "behind bob at the new price"
        );
        assert_eq!(e.queue_position(&id(&b)), Some(d("0")));
        place(&mut e, &carol(), Side::Ask, "0.47", "3");
        let p = e
            .amend(&alice(), &id(&a), Side::Bid, d("0.48"), d("5"))
            .unwrap();
        assert_eq!(own_fills(&p), vec![(d("0.47"), d("3"))]);
        assert!(p.fills[0].is_taker);
        assert_eq!(
            (p.order.status, p.order.remaining_count),
            (OrderStatus::Resting, d("2"))
        );
    }

    #[test]
    fn amend_count_is_the_total_including_fills() {
        let mut e = engine();
        let a = place(&mut e, &alice(), Side::Bid, "0.50", "10");
        place(&mut e, &bob(), Side::Ask, "0.50", "4");
        let err = e
            .amend(&alice(), &id(&a), Side::Bid, d("0.50"), d("4"))
            .unwrap_err();
        assert!(matches!(err, Reject::InvalidAmend(_)));
        let p = e
            .amend(&alice(), &id(&a), Side::Bid, d("0.50"), d("8"))
            .unwrap();
        assert_eq!(
            (
                p.order.initial_count,
                p.order.fill_count,
                p.order.remaining_count
            ),
            (d("8"), d("4"), d("4"))
        );
        assert_eq!(p.order.queue_seq, a.order.queue_seq);
    }

    #[test]
    fn amend_refusals() {
        let mut e = engine();
        let a = place(&mut e, &alice(), Side::Bid, "0.50", "10");
        assert_eq!(
            e.amend(&bob(), &id(&a), Side::Bid, d("0.5"), d("5"))
                .unwrap_err(),
            Reject::NotFound
        );
        assert_eq!(
            e.amend(&owner("alice", 1), &id(&a), Side::Bid, d("0.5"), d("5"))
                .unwrap_err(),
            Reject::NotFound
        );
        let side = e
            .amend(&alice(), &id(&a), Side::Ask, d("0.50"), d("10"))
            .unwrap_err();
        assert_eq!(side.code(), "invalid_amend");
        let price = e
            .amend(&alice(), &id(&a), Side::Bid, d("1"), d("10"))
            .unwrap_err();
        assert_eq!(price.code(), "invalid_price");
        let rich = e
            .amend(&alice(), &id(&a), Side::Bid, d("0.50"), d("2001"))
            .unwrap_err();
        assert_eq!(
            rich,
            Reject::InsufficientBalance {
                needed: d("995.50"),
                available: d("995")
            }
        );
        assert_eq!(
            e.order(&id(&a)).unwrap().remaining_count,
            d("10"),
            "refusals change nothing"
        );
    }

    #[test]
    fn amending_a_post_only_order_into_the_book_is_refused() {
        let mut e = engine();
        place(&mut e, &bob(), Side::Ask, "0.50", "5");
        let mut o = order(&alice(), Side::Bid, "0.40", "5");
        o.post_only = true;
        let a = e.place(o).unwrap();
        let err = e
            .amend(&alice(), &id(&a), Side::Bid, d("0.50"), d("5"))
            .unwrap_err();
        assert_eq!(err, Reject::PostOnlyWouldCross);
        assert_eq!(e.order(&id(&a)).unwrap().price, d("0.40"));
    }

    #[test]
    fn decrease_by_and_to_keep_priority() {
        let mut e = engine();
        let a = place(&mut e, &alice(), Side::Bid, "0.50", "10");
        let b = place(&mut e, &bob(), Side::Bid, "0.50", "1");
        assert_eq!(
            e.decrease(&alice(), &id(&a), Decrease::By(d("3")))
                .unwrap()
                .remaining_count,
            d("7")
        );
        assert_eq!(e.queue_position(&id(&b)), Some(d("7")));
        assert_eq!(
            e.decrease(&alice(), &id(&a), Decrease::To(d("2")))
                .unwrap()
                .remaining_count,
            d("2")
        );
        assert_eq!(e.queue_position(&id(&a)), Some(d("0")));
        assert_eq!(
            e.available(&alice()),
            d("999"),
            "collateral shrinks with the order"
        );
    }

    #[test]
    fn decrease_to_zero_or_by_everything_cancels() {
        let mut e = engine();
        let a = place(&mut e, &alice(), Side::Bid, "0.50", "10");
        let b = place(&mut e, &alice(), Side::Bid, "0.50", "10");
        assert_eq!(
            e.decrease(&alice(), &id(&a), Decrease::To(d("0")))
                .unwrap()
                .status,
            OrderStatus::Canceled
        );
        let gone = e
            .decrease(&alice(), &id(&b), Decrease::By(d("25")))
            .unwrap();
        assert_eq!(
            (gone.status, gone.remaining_count),
            (OrderStatus::Canceled, d("0"))
        );
        assert_eq!(
            e.decrease(&alice(), &id(&b), Decrease::By(d("1")))
                .unwrap_err(),
            Reject::NotFound
        );
    }

    #[test]
    fn decrease_refusals() {
        let mut e = engine();
        let a = place(&mut e, &alice(), Side::Bid, "0.50", "10");
        for bad in [
            Decrease::By(d("0")),
            Decrease::By(d("-1")),
            Decrease::By(d("0.001")),
            Decrease::To(d("10")),
        ] {
            assert_eq!(
                e.decrease(&alice(), &id(&a), bad).unwrap_err().code(),
                "invalid_decrease",
                "{bad:?}"
            );
        }
        assert_eq!(
            e.decrease(&bob(), &id(&a), Decrease::By(d("1")))
                .unwrap_err(),
            Reject::NotFound
        );
        assert_eq!(e.order(&id(&a)).unwrap().remaining_count, d("10"));
    }

    // --- validation -----------------------------------------------------

    #[test]
    fn duplicate_client_order_id_is_refused_for_the_same_user_only() {
        let mut e = engine();
        let o = order(&alice(), Side::Bid, "0.50", "1");
        let first = e.place(o.clone()).unwrap();
        e.cancel(&alice(), &id(&first)).unwrap();
        assert_eq!(
            e.place(o.clone()).unwrap_err(),
            Reject::DuplicateClientOrderId
        );
        assert_eq!(
            Reject::DuplicateClientOrderId.code(),
            "order_already_exists"
        );
        let mut other_sub = o.clone();
        other_sub.owner = owner("alice", 1);
        assert_eq!(
            e.place(other_sub).unwrap_err(),
            Reject::DuplicateClientOrderId
        );
        let mut other_user = o.clone();
        other_user.owner = bob();
        assert!(e.place(other_user).is_ok());
        assert_eq!(
            e.order_by_client_id("alice", &o.client_order_id)
                .unwrap()
                .order_id,
            id(&first)
        );
    }

    #[test]
    fn unknown_and_closed_markets_are_refused() {
        let mut e = engine();
        let mut o = order(&alice(), Side::Bid, "0.50", "1");
        o.ticker = "NOPE".to_owned();
        assert_eq!(
            e.place(o).unwrap_err(),
            Reject::UnknownMarket("NOPE".to_owned())
        );
        assert_eq!(
            e.set_market_state("NOPE", MarketState::Closed)
                .unwrap_err()
                .code(),
            "market_not_found"
        );
        let resting = place(&mut e, &alice(), Side::Bid, "0.50", "1");
        e.set_market_state(T, MarketState::Closed).unwrap();
        assert_eq!(
            status(&e, &resting),
            OrderStatus::Canceled,
            "closing cancels resting orders"
        );
        let err = e
            .place(order(&alice(), Side::Bid, "0.50", "1"))
            .unwrap_err();
        assert_eq!(
            (err.code(), e.market_state(T)),
            ("market_closed", Some(MarketState::Closed))
        );
        e.set_market_state(T, MarketState::Open).unwrap();
        assert!(e.place(order(&alice(), Side::Bid, "0.50", "1")).is_ok());
    }

    #[test]
    fn price_and_count_validation() {
        let mut e = engine();
        for price in ["0", "1", "-0.1", "1.5", "0.12345"] {
            let err = e.place(order(&alice(), Side::Bid, price, "1")).unwrap_err();
            assert_eq!(err.code(), "invalid_price", "{price}");
        }
        for count in ["0", "-1", "0.001"] {
            let err = e
                .place(order(&alice(), Side::Bid, "0.5", count))
                .unwrap_err();
            assert_eq!(err.code(), "invalid_count", "{count}");
        }
        assert!(
            e.place(order(&alice(), Side::Bid, "0.1234", "0.01"))
                .is_ok()
        );
        assert!(
            e.place(order(&alice(), Side::Bid, "0.500000", "1.000"))
                .is_ok(),
            "trailing zeros are fine"
        );
    }

    #[test]
    fn every_reject_has_a_code_and_message() {
        let all = [
            Reject::NotFound,
            Reject::DuplicateClientOrderId,
            Reject::InvalidPrice("p".into()),
            Reject::InvalidCount("c".into()),
            Reject::UnknownMarket("M".into()),
            Reject::MarketClosed("M".into()),
            Reject::InsufficientBalance {
                needed: d("2"),
                available: d("1"),
            },
            Reject::PostOnlyWouldCross,
            Reject::FillOrKillUnfilled,
            Reject::ReduceOnlyWouldIncrease,
            Reject::InvalidAmend("a".into()),
            Reject::InvalidDecrease("d".into()),
            Reject::UnknownOrderGroup("g".into()),
            Reject::OrderGroupTriggered("g".into()),
        ];
        let codes: std::collections::HashSet<&str> = all.iter().map(Reject::code).collect();
        assert_eq!(codes.len(), all.len());
        assert!(all.iter().all(|r| !r.message().is_empty()));
        assert_eq!(
            Reject::FillOrKillUnfilled.code(),
            "fill_or_kill_insufficient_resting_volume"
        );
    }

    // --- fees -----------------------------------------------------------

    fn schedule(fee_type: &str) -> FeeSchedule {
        FeeSchedule::kalshi(fee_type, Decimal::ONE).unwrap()
    }

    /// `engine()` where MKT charges Kalshi's `fee_type`.
    fn engine_with_fees(fee_type: &str) -> Engine {
        let mut e = engine();
        e.set_fee_schedule(T, schedule(fee_type));
        e
    }

    #[test]
    fn the_general_fee_is_seven_percent_of_p_times_one_minus_p_rounded_up() {
        let general = schedule("quadratic");
        let taker = |price: &str, count: &str| general.fee_of(true, d(price), d(count));
        assert_eq!(taker("0.50", "1"), d("0.02"), "0.0175 rounds up");
        assert_eq!(taker("0.50", "100"), d("1.75"));
        assert_eq!(taker("0.50", "10"), d("0.18"), "0.175 rounds up");
        assert_eq!(taker("0.10", "100"), d("0.63"));
        assert_eq!(
            taker("0.01", "1"),
            d("0.01"),
            "any fill pays at least a cent"
        );
        assert_eq!(general.fee_of(false, d("0.50"), d("100")), d("0"));
    }

    #[test]
    fn fee_types_map_to_kalshi_rates() {
        let makers = |fee_type: &str| schedule(fee_type).fee_of(false, d("0.50"), d("100"));
        assert_eq!(
            makers("quadratic_with_maker_fees"),
            d("0.44"),
            "0.0175 × 25"
        );
        assert_eq!(makers("quadratic_with_combo_maker_fees"), d("0.88"));
        assert_eq!(makers("flat"), d("0"));
        assert_eq!(
            schedule("flat").fee_of(true, d("0.50"), d("100")),
            d("0.88")
        );
        let half = FeeSchedule::kalshi("quadratic", d("0.5")).unwrap();
        assert_eq!(half.fee_of(true, d("0.50"), d("100")), d("0.88"));
        let free = FeeSchedule::kalshi("quadratic", d("0")).unwrap();
        assert_eq!(free.fee_of(true, d("0.50"), d("100")), d("0"));
        assert!(FeeSchedule::kalshi("percent", Decimal::ONE).is_none());
        assert!(FeeSchedule::kalshi("quadratic", d("-1")).is_none());
        assert_eq!(Engine::new().fee_schedule("ANY"), FeeSchedule::FREE);
    }

    #[test]
    fn takers_pay_fees_in_cash_and_makers_pay_per_schedule() {
        let mut e = engine_with_fees("quadratic");
        let maker = place(&mut e, &bob(), Side::Ask, "0.50", "100");
        let taker = place(&mut e, &alice(), Side::Bid, "0.50", "100");
        let [t, m] = [&taker.fills[0], &taker.fills[1]];
        assert_eq!((t.fee, m.fee), (d("1.75"), d("0")));
        assert_eq!(e.balance(&alice()), d("1000") - d("50") - d("1.75"));
        assert_eq!(e.balance(&bob()), d("1000") - d("50"));
        assert_eq!(e.fees_collected(), d("1.75"));
        assert_eq!(
            (
                taker.order.taker_fees,
                e.order(&id(&maker)).unwrap().maker_fees
            ),
            (d("1.75"), d("0"))
        );
        let summary = e.position_summary(&alice(), T);
        assert_eq!(
            (summary.fees_paid, summary.fee_cost),
            (d("1.75"), d("1.75"))
        );

        let mut e = engine_with_fees("quadratic_with_maker_fees");
        place(&mut e, &bob(), Side::Ask, "0.50", "100");
        let taker = place(&mut e, &alice(), Side::Bid, "0.50", "100");
        assert_eq!(
            (taker.fills[0].fee, taker.fills[1].fee),
            (d("1.75"), d("0.44"))
        );
        assert_eq!(e.balance(&bob()), d("1000") - d("50") - d("0.44"));
        assert_eq!(e.fees_collected(), d("2.19"));
    }

    #[test]
    fn an_orders_fees_are_rounded_once_over_its_fills() {
        let mut e = engine_with_fees("quadratic");
        for _ in 0..10 {
            place(&mut e, &bob(), Side::Ask, "0.50", "1");
        }
        let taker = place(&mut e, &alice(), Side::Bid, "0.50", "10");
        let fees: Vec<Decimal> = taker
            .fills
            .iter()
            .filter(|f| f.is_taker)
            .map(|f| f.fee)
            .collect();
        // 0.0175 per contract: 0.02, then the total rounded up at each step.
        assert_eq!(fees[0], d("0.02"));
        assert_eq!(fees.iter().sum::<Decimal>(), d("0.18"), "not 10 × 0.02");
        assert_eq!(taker.order.taker_fees, d("0.18"));
    }

    #[test]
    fn buying_power_covers_the_fee_an_order_could_pay() {
        let mut e = engine_with_fees("quadratic");
        let dave = owner("dave", 0);
        e.deposit(&dave, d("50"));
        place(&mut e, &bob(), Side::Ask, "0.50", "100");
        let err = e.place(order(&dave, Side::Bid, "0.50", "100")).unwrap_err();
        assert_eq!(
            err,
            Reject::InsufficientBalance {
                needed: d("51.75"),
                available: d("50")
            }
        );
        e.deposit(&dave, d("1.75"));
        let p = e.place(order(&dave, Side::Bid, "0.50", "100")).unwrap();
        assert_eq!(
            (p.order.status, e.balance(&dave)),
            (OrderStatus::Executed, d("0"))
        );
        // A bid that does not cross rests and pays no taker fee: no reserve.
        e.deposit(&dave, d("10"));
        place(&mut e, &dave, Side::Bid, "0.40", "25");
        assert_eq!(e.available(&dave), d("0"));
    }

    #[test]
    fn resting_orders_hold_the_maker_fees_they_could_pay() {
        let mut e = engine_with_fees("quadratic_with_maker_fees");
        let dave = owner("dave", 0);
        e.deposit(&dave, d("50.44"));
        place(&mut e, &dave, Side::Bid, "0.50", "100");
        assert_eq!(e.available(&dave), d("0"), "$50 and a $0.44 maker fee");
        place(&mut e, &alice(), Side::Ask, "0.50", "100");
        assert_eq!((e.balance(&dave), e.available(&dave)), (d("0"), d("0")));
    }

    #[test]
    fn settlement_reports_the_fees_paid_in_the_market() {
        let mut e = engine_with_fees("quadratic");
        place(&mut e, &bob(), Side::Ask, "0.40", "10");
        place(&mut e, &alice(), Side::Bid, "0.40", "10");
        let paid = e.settle(T, Outcome::Yes).unwrap();
        let of = |who: &Owner| paid.iter().find(|s| &s.owner == who).unwrap().clone();
        // 0.07 × 10 × 0.24 = 0.168 -> 0.17 for the taker; the maker is free.
        assert_eq!(
            (of(&alice()).fee_cost, of(&bob()).fee_cost),
            (d("0.17"), d("0"))
        );
        assert_eq!(
            e.balance(&alice()),
            d("1000") - d("4") - d("0.17") + d("10")
        );
        let cash: Decimal = [alice(), bob(), carol()].iter().map(|o| e.balance(o)).sum();
        assert_eq!(cash + e.fees_collected(), d("3000"));
    }

    // --- collateral release ---------------------------------------------

    /// Alice holds 10 YES bought from bob at 0.40 and spends what is left.
    fn alice_long_ten(e: &mut Engine) {
        place(e, &bob(), Side::Ask, "0.40", "10");
        place(e, &alice(), Side::Bid, "0.40", "10");
        let rest = e.available(&alice());
        e.deposit(&alice(), -rest);
    }

    #[test]
    fn selling_contracts_held_needs_no_collateral() {
        let mut e = engine();
        alice_long_ten(&mut e);
        assert_eq!(e.available(&alice()), d("0"));
        let sell = place(&mut e, &alice(), Side::Ask, "0.70", "10");
        assert_eq!(sell.order.status, OrderStatus::Resting);
        assert_eq!(e.available(&alice()), d("0"), "nothing held for it");
        // Selling more than held: the extra is a NO purchase at 0.30.
        let err = e
            .place(order(&alice(), Side::Ask, "0.70", "1"))
            .unwrap_err();
        assert_eq!(
            err,
            Reject::InsufficientBalance {
                needed: d("0.30"),
                available: d("0")
            }
        );
        // Buying it back fills the ask: alice gets 0.70 a contract.
        place(&mut e, &carol(), Side::Bid, "0.70", "10");
        assert_eq!(
            (e.balance(&alice()), e.position(&alice(), T)),
            (d("7"), d("0"))
        );
    }

    #[test]
    fn the_position_covers_the_asks_that_fill_first() {
        let mut e = engine();
        alice_long_ten(&mut e);
        e.deposit(&alice(), d("2.5"));
        place(&mut e, &alice(), Side::Ask, "0.80", "10");
        // The lower ask fills first and closes the position; the one at
        // 0.80 becomes a NO purchase at 0.20: $2 held.
        place(&mut e, &alice(), Side::Ask, "0.60", "10");
        assert_eq!(e.available(&alice()), d("0.5"));
        place(&mut e, &carol(), Side::Bid, "0.60", "10");
        assert_eq!(e.position(&alice(), T), d("0"));
        assert_eq!(
            e.available(&alice()),
            d("6.5"),
            "2.5 + 6 - 2 held by the ask at 0.80"
        );
    }

    #[test]
    fn an_incoming_sell_takes_the_cover_of_resting_ones() {
        let mut e = engine();
        alice_long_ten(&mut e);
        place(&mut e, &alice(), Side::Ask, "0.90", "10");
        place(&mut e, &carol(), Side::Bid, "0.50", "10");
        // Selling into carol's bid closes the position; the resting ask
        // would then need 0.10 × 10 that alice does not have.
        let err = e
            .place(order(&alice(), Side::Ask, "0.50", "10"))
            .unwrap_err();
        assert_eq!(
            err,
            Reject::InsufficientBalance {
                needed: d("1"),
                available: d("0")
            }
        );
        e.deposit(&alice(), d("1"));
        place(&mut e, &alice(), Side::Ask, "0.50", "10");
        assert_eq!(
            (e.balance(&alice()), e.available(&alice())),
            (d("6"), d("5"))
        );
    }

    #[test]
    fn buying_back_a_no_position_needs_no_collateral() {
        let mut e = engine();
        place(&mut e, &bob(), Side::Bid, "0.30", "10");
        place(&mut e, &alice(), Side::Ask, "0.30", "10"); // alice long 10 NO
        let rest = e.available(&alice());
        e.deposit(&alice(), -rest);
        place(&mut e, &alice(), Side::Bid, "0.20", "10");
        assert_eq!(e.available(&alice()), d("0"));
    }

    // --- order groups ---------------------------------------------------

    fn grouped(mut o: NewOrder, group: &OrderGroup) -> NewOrder {
        o.order_group_id = Some(group.id.clone());
        o
    }

    #[test]
    fn an_order_group_triggers_when_its_fills_exceed_the_limit() {
        let mut e = engine();
        let group = e.create_order_group(&alice(), d("10")).unwrap();
        let a = e
            .place(grouped(order(&alice(), Side::Bid, "0.40", "6"), &group))
            .unwrap();
        let b = e
            .place(grouped(order(&alice(), Side::Bid, "0.30", "20"), &group))
            .unwrap();
        let outside = place(&mut e, &alice(), Side::Bid, "0.20", "5");
        place(&mut e, &bob(), Side::Ask, "0.40", "6");
        assert!(!e.order_group(&group.id).unwrap().triggered, "6 of 10");
        place(&mut e, &bob(), Side::Ask, "0.30", "4");
        assert!(!e.order_group(&group.id).unwrap().triggered, "10 may match");
        place(&mut e, &bob(), Side::Ask, "0.30", "1");
        let g = e.order_group(&group.id).unwrap();
        assert_eq!((g.triggered, g.matched(e.now_ms())), (true, d("11")));
        assert_eq!(status(&e, &a), OrderStatus::Executed);
        assert_eq!(
            (status(&e, &b), e.order(&id(&b)).unwrap().fill_count),
            (OrderStatus::Canceled, d("5"))
        );
        assert_eq!(
            status(&e, &outside),
            OrderStatus::Resting,
            "not in the group"
        );
        let refused = e.place(grouped(order(&alice(), Side::Bid, "0.30", "1"), &group));
        assert_eq!(
            refused.unwrap_err(),
            Reject::OrderGroupTriggered(group.id.clone())
        );

        e.reset_order_group(&alice(), &group.id).unwrap();
        let g = e.order_group(&group.id).unwrap();
        assert_eq!((g.triggered, g.matched(e.now_ms())), (false, d("0")));
        assert!(
            e.place(grouped(order(&alice(), Side::Bid, "0.30", "1"), &group))
                .is_ok()
        );
        let kinds: Vec<GroupEventKind> = e.take_touched().groups.iter().map(|g| g.kind).collect();
        assert_eq!(
            kinds,
            [
                GroupEventKind::Created,
                GroupEventKind::Triggered,
                GroupEventKind::Reset
            ]
        );
    }

    #[test]
    fn a_taker_in_a_group_fills_what_it_matched_then_the_group_triggers() {
        let mut e = engine();
        let group = e.create_order_group(&alice(), d("5")).unwrap();
        place(&mut e, &bob(), Side::Ask, "0.50", "8");
        let p = e
            .place(grouped(order(&alice(), Side::Bid, "0.50", "12"), &group))
            .unwrap();
        assert_eq!(
            (p.order.status, p.order.fill_count, p.order.remaining_count),
            (OrderStatus::Canceled, d("8"), d("0")),
            "the remainder does not rest in a triggered group"
        );
    }

    #[test]
    fn the_limit_counts_a_rolling_fifteen_second_window() {
        let mut e = engine();
        let group = e.create_order_group(&alice(), d("10")).unwrap();
        e.place(grouped(order(&alice(), Side::Bid, "0.40", "30"), &group))
            .unwrap();
        place(&mut e, &bob(), Side::Ask, "0.40", "6");
        e.set_time_ms(e.now_ms() + ORDER_GROUP_WINDOW_MS);
        place(&mut e, &bob(), Side::Ask, "0.40", "6");
        let g = e.order_group(&group.id).unwrap();
        assert_eq!((g.triggered, g.matched(e.now_ms())), (false, d("6")));
        place(&mut e, &bob(), Side::Ask, "0.40", "4");
        assert!(
            !e.order_group(&group.id).unwrap().triggered,
            "10 in the window"
        );
        place(&mut e, &bob(), Side::Ask, "0.40", "1");
        assert!(e.order_group(&group.id).unwrap().triggered);
    }

    #[test]
    fn group_trigger_limit_and_delete_by_hand() {
        let mut e = engine();
        let group = e.create_order_group(&alice(), d("10")).unwrap();
        let a = e
            .place(grouped(order(&alice(), Side::Bid, "0.40", "30"), &group))
            .unwrap();
        place(&mut e, &bob(), Side::Ask, "0.40", "3");
        e.set_order_group_limit(&alice(), &group.id, d("3"))
            .unwrap();
        assert!(!e.order_group(&group.id).unwrap().triggered);
        e.set_order_group_limit(&alice(), &group.id, d("2"))
            .unwrap();
        assert!(
            e.order_group(&group.id).unwrap().triggered,
            "3 matched exceed 2"
        );
        assert_eq!(status(&e, &a), OrderStatus::Canceled);

        e.reset_order_group(&alice(), &group.id).unwrap();
        let b = e
            .place(grouped(order(&alice(), Side::Bid, "0.40", "1"), &group))
            .unwrap();
        let canceled = e.trigger_order_group(&alice(), &group.id).unwrap();
        assert_eq!(canceled.len(), 1);
        assert_eq!(status(&e, &b), OrderStatus::Canceled);
        e.reset_order_group(&alice(), &group.id).unwrap();
        let c = e
            .place(grouped(order(&alice(), Side::Bid, "0.40", "1"), &group))
            .unwrap();
        assert_eq!(e.delete_order_group(&alice(), &group.id).unwrap().len(), 1);
        assert_eq!(status(&e, &c), OrderStatus::Canceled);
        assert!(e.order_group(&group.id).is_none());
        assert_eq!(
            e.orders_in_group(&group.id).len(),
            3,
            "history keeps the id"
        );
        let gone = e.place(grouped(order(&alice(), Side::Bid, "0.40", "1"), &group));
        assert_eq!(
            gone.unwrap_err(),
            Reject::UnknownOrderGroup(group.id.clone())
        );
    }

    #[test]
    fn groups_belong_to_one_owner_and_need_a_valid_limit() {
        let mut e = engine();
        let group = e.create_order_group(&alice(), d("10")).unwrap();
        for who in [bob(), owner("alice", 1)] {
            let o = grouped(order(&who, Side::Bid, "0.40", "1"), &group);
            assert_eq!(
                e.place(o).unwrap_err(),
                Reject::UnknownOrderGroup(group.id.clone())
            );
            assert!(e.reset_order_group(&who, &group.id).is_err());
            assert!(e.trigger_order_group(&who, &group.id).is_err());
            assert!(e.delete_order_group(&who, &group.id).is_err());
        }
        for bad in ["0", "-1", "0.001", "1000000001"] {
            assert_eq!(
                e.create_order_group(&alice(), d(bad)).unwrap_err().code(),
                "invalid_count",
                "{bad}"
            );
        }
        assert!(
            e.set_order_group_limit(&alice(), &group.id, d("0"))
                .is_err()
        );
        assert_eq!(e.order_groups_of("alice").len(), 1);
    }

    // --- amend: expiration and client order id ---------------------------

    #[test]
    fn amend_changes_the_expiration_and_client_order_id_keeping_priority() {
        let mut e = engine();
        let a = place(&mut e, &alice(), Side::Bid, "0.50", "5");
        place(&mut e, &bob(), Side::Bid, "0.50", "5");
        let change = |expiration_ts, client_order_id: Option<&str>| Amend {
            side: Side::Bid,
            price: d("0.50"),
            count: d("5"),
            expiration_ts,
            client_order_id: client_order_id.map(str::to_owned),
        };
        let past = e.amend_order(&alice(), &id(&a), change(Some(Some(1)), None));
        assert_eq!(past.unwrap_err().code(), "invalid_amend");
        let taken = e.amend_order(
            &alice(),
            &id(&a),
            change(None, Some(&a.order.client_order_id)),
        );
        assert!(taken.is_ok(), "its own id is no change");
        let amended = e
            .amend_order(&alice(), &id(&a), change(Some(Some(60)), Some("renamed")))
            .unwrap();
        assert_eq!(
            (
                amended.order.expiration_ts,
                amended.order.client_order_id.as_str()
            ),
            (Some(60), "renamed")
        );
        assert_eq!(e.queue_position(&id(&a)), Some(d("0")));
        assert_eq!(
            e.order_by_client_id("alice", "renamed").unwrap().order_id,
            id(&a)
        );
        let b = place(&mut e, &alice(), Side::Bid, "0.10", "1");
        let dup = e.amend_order(&alice(), &id(&b), change(None, Some("renamed")));
        assert_eq!(dup.unwrap_err(), Reject::DuplicateClientOrderId);
        e.amend_order(&alice(), &id(&a), change(Some(None), None))
            .unwrap();
        e.set_time_ms(120_000);
        assert_eq!(status(&e, &a), OrderStatus::Resting, "no longer expires");
    }

    // --- reads ----------------------------------------------------------

    #[test]
    fn queue_position_counts_contracts_ahead() {
        let mut e = engine();
        let a = place(&mut e, &alice(), Side::Ask, "0.60", "5");
        let b = place(&mut e, &bob(), Side::Ask, "0.60", "3.5");
        let c = place(&mut e, &carol(), Side::Ask, "0.60", "2");
        let other = place(&mut e, &carol(), Side::Ask, "0.61", "9");
        let positions = [&a, &b, &c, &other].map(|p| e.queue_position(&id(p)));
        assert_eq!(
            positions,
            [Some(d("0")), Some(d("5")), Some(d("8.5")), Some(d("0"))]
        );
        e.deposit(&owner("dave", 0), d("10"));
        place(&mut e, &owner("dave", 0), Side::Bid, "0.01", "1"); // another level: no effect
        place(&mut e, &owner("dave", 0), Side::Bid, "0.60", "2");
        assert_eq!(e.queue_position(&id(&b)), Some(d("3")));
        place(&mut e, &owner("dave", 0), Side::Bid, "0.60", "3");
        assert_eq!(
            e.queue_position(&id(&a)),
            None,
            "executed orders have no queue position"
        );
    }

    #[test]
    fn book_aggregates_levels_best_first() {
        let mut e = engine();
        place(&mut e, &alice(), Side::Bid, "0.40", "1");
        place(&mut e, &bob(), Side::Bid, "0.42", "2");
        place(&mut e, &carol(), Side::Bid, "0.40", "3.25");
        place(&mut e, &alice(), Side::Ask, "0.55", "4");
        place(&mut e, &bob(), Side::Ask, "0.50", "5");
        place(&mut e, &carol(), Side::Ask, "0.55", "6");
        let (bids, asks) = e.book(T).unwrap();
        assert_eq!(bids, levels(&[("0.42", "2"), ("0.40", "4.25")]));
        assert_eq!(asks, levels(&[("0.50", "5"), ("0.55", "10")]));
        assert_eq!(e.resting_count(), 6);
        assert!(e.book("NOPE").is_none());
    }

    #[test]
    fn orders_and_fills_are_listed_newest_first() {
        let mut e = engine();
        e.set_time_ms(10);
        let first = place(&mut e, &alice(), Side::Bid, "0.10", "1");
        let same_ms = place(&mut e, &alice(), Side::Bid, "0.11", "1");
        e.set_time_ms(20);
        let later = place(&mut e, &alice(), Side::Bid, "0.12", "1");
        place(&mut e, &bob(), Side::Bid, "0.12", "1");
        let ids: Vec<&str> = e
            .orders_of("alice")
            .iter()
            .map(|o| o.order_id.as_str())
            .collect();
        assert_eq!(ids, vec![id(&later), id(&same_ms), id(&first)]);
        place(&mut e, &carol(), Side::Ask, "0.11", "3");
        let prices: Vec<Decimal> = e.fills_of("alice").iter().map(|f| f.price).collect();
        assert_eq!(prices, vec![d("0.11"), d("0.12")]);
    }

    #[test]
    fn ids_are_unique_uuid_shaped_and_sort_by_creation() {
        let mut e = engine();
        let a = place(&mut e, &alice(), Side::Bid, "0.50", "1");
        let b = place(&mut e, &bob(), Side::Ask, "0.50", "1");
        let ids = [
            id(&a),
            id(&b),
            b.fills[0].fill_id.clone(),
            b.fills[0].trade_id.clone(),
        ];
        for text in &ids {
            assert_eq!(uuid::Uuid::parse_str(text).unwrap().get_version_num(), 4);
        }
        assert!(id(&a) < id(&b));
        assert_eq!(
            ids.iter().collect::<std::collections::HashSet<_>>().len(),
            4
        );
    }

    #[test]
    fn orders_expire_when_the_clock_passes_their_expiration() {
        let mut e = engine();
        let mut o = order(&alice(), Side::Bid, "0.50", "1");
        o.expiration_ts = Some(60);
        let p = e.place(o).unwrap();
        e.set_time_ms(59_999);
        assert_eq!(status(&e, &p), OrderStatus::Resting);
        e.set_time_ms(60_000);
        assert_eq!(status(&e, &p), OrderStatus::Canceled);
        let mut stale = order(&alice(), Side::Bid, "0.50", "1");
        stale.expiration_ts = Some(1);
        assert_eq!(
            e.place(stale).unwrap().order.status,
            OrderStatus::Canceled,
            "already expired: never rests"
        );
    }

    // --- property: money is conserved ---------------------------------

    /// xorshift64*: a tiny deterministic PRNG so failures reproduce.
    struct Rng(u64);

    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
        }

        fn below(&mut self, n: u64) -> u64 {
            self.next() % n
        }

        fn pick<'a, V>(&mut self, items: &'a [V]) -> &'a V {
            &items[self.below(items.len() as u64) as usize]
        }
    }

    fn random_order(rng: &mut Rng, owners: &[Owner], tickers: &[&str]) -> NewOrder {
        let side = *rng.pick(&[Side::Bid, Side::Ask]);
        // Prices cluster around 0.50 so orders cross often; some use 4 decimals.
        let price = Decimal::new(4_000 + rng.below(2_001) as i64, 4)
            .round_dp(if rng.below(3) == 0 { 4 } else { 2 });
        let mut o = order(rng.pick(owners), side, "0.5", "1");
        o.ticker = rng.pick(tickers).to_string();
        o.price = price;
        o.count = Decimal::new(1 + rng.below(2_000) as i64, 2);
        o.time_in_force = *rng.pick(&[
            TimeInForce::GoodTillCanceled,
            TimeInForce::GoodTillCanceled,
            TimeInForce::ImmediateOrCancel,
            TimeInForce::FillOrKill,
        ]);
        o.self_trade_prevention = *rng.pick(&[
            SelfTradePrevention::TakerAtCross,
            SelfTradePrevention::Maker,
        ]);
        o.post_only = rng.below(10) == 0;
        o.reduce_only = rng.below(10) == 0;
        o
    }

    /// Puts a third of the orders in a group of their owner (which may be
    /// triggered: then the order is refused).
    fn random_group(e: &Engine, rng: &mut Rng, mut o: NewOrder) -> NewOrder {
        let groups: Vec<&OrderGroup> = e
            .order_groups
            .values()
            .filter(|g| g.owner == o.owner)
            .collect();
        if rng.below(3) == 0 && !groups.is_empty() {
            o.order_group_id = Some(rng.pick(&groups).id.clone());
        }
        o
    }

    /// One random request; refusals are expected and ignored.
    fn random_step(e: &mut Engine, rng: &mut Rng, owners: &[Owner], tickers: &[&str]) {
        let resting: Vec<Order> = e
            .orders
            .values()
            .filter(|o| o.status == OrderStatus::Resting)
            .cloned()
            .collect();
        let roll = rng.below(11);
        if roll < 6 || resting.is_empty() {
            let o = random_order(rng, owners, tickers);
            let _ = e.place(random_group(e, rng, o));
            return;
        }
        if roll == 10 {
            // Order groups: reset one, or trigger it by hand.
            let groups: Vec<OrderGroup> = e.order_groups.values().cloned().collect();
            let group = rng.pick(&groups).clone();
            let _ = match rng.below(3) {
                0 => e.trigger_order_group(&group.owner, &group.id).map(|_| ()),
                _ => e.reset_order_group(&group.owner, &group.id),
            };
            return;
        }
        let target = rng.pick(&resting).clone();
        let _ = match roll {
            6 => e.cancel(&target.owner, &target.order_id).map(|_| ()),
            7 => {
                let price = Decimal::new(4_000 + rng.below(2_001) as i64, 4).round_dp(2);
                let count = target.fill_count + Decimal::new(1 + rng.below(2_000) as i64, 2);
                e.amend(&target.owner, &target.order_id, target.side, price, count)
                    .map(|_| ())
            }
            8 => {
                let by = Decimal::new(1 + rng.below(1_000) as i64, 2);
                e.decrease(&target.owner, &target.order_id, Decrease::By(by))
                    .map(|_| ())
            }
            _ => {
                e.set_time_ms(e.now_ms() + 1);
                Ok(())
            }
        };
    }

    /// What must hold after every request.
    fn check_invariants(e: &Engine, owners: &[Owner], tickers: &[&str], deposits: Decimal) {
        // Every outstanding YES is paired with a NO, backed by $1 held by the
        // exchange; the sum of long-YES contracts counts those pairs. The
        // exchange also keeps the fees.
        let cash: Decimal = owners.iter().map(|o| e.balance(o)).sum();
        let pairs: Decimal = owners
            .iter()
            .flat_map(|o| tickers.iter().map(move |t| (o, t)))
            .map(|(o, t)| e.position(o, t).max(Decimal::ZERO))
            .sum();
        assert_eq!(
            cash + pairs + e.fees_collected(),
            deposits,
            "money is neither created nor destroyed"
        );
        let fills: Decimal = e.fills.iter().map(|f| f.fee).sum();
        assert_eq!(fills, e.fees_collected(), "every fee is on a fill");
        for f in &e.fills {
            assert_eq!(f.fee, f.fee.round_dp(2), "fees are whole cents");
        }
        for t in tickers {
            let net: Decimal = owners.iter().map(|o| e.position(o, t)).sum();
            assert!(net.is_zero(), "positions in {t} net to zero, got {net}");
            let (bids, asks) = e.book(t).unwrap();
            if let (Some(bid), Some(ask)) = (bids.first(), asks.first()) {
                assert!(bid.0 < ask.0, "book of {t} is crossed: {bid:?} vs {ask:?}");
            }
        }
        for o in owners {
            assert!(
                e.available(o) >= Decimal::ZERO,
                "{o:?} spent collateral it did not have"
            );
            for (t, position, _, exposure) in e.positions(o) {
                assert!(
                    exposure >= Decimal::ZERO && exposure <= position.abs(),
                    "{o:?} {t}: exposure {exposure}"
                );
                assert_eq!(
                    position.is_zero(),
                    exposure.is_zero(),
                    "{o:?} {t}: exposure of a flat position"
                );
            }
        }
        let resting = e
            .orders
            .values()
            .filter(|o| o.status == OrderStatus::Resting)
            .count();
        assert_eq!(
            resting,
            e.resting_count(),
            "the books hold exactly the resting orders"
        );
        for g in e.order_groups.values() {
            let resting = e
                .orders_in_group(&g.id)
                .iter()
                .any(|o| o.status == OrderStatus::Resting);
            assert!(
                !(g.triggered && resting),
                "a triggered group has no resting orders"
            );
            assert!(
                g.triggered || g.matched(e.now_ms()) <= g.limit,
                "a group beyond its limit triggers"
            );
        }
        for o in e.orders.values() {
            assert_eq!(o.fill_count, o.taker_fill_count + o.maker_fill_count);
            let schedule = e.fee_schedule(&o.ticker);
            assert_eq!(
                (o.taker_fees, o.maker_fees),
                (
                    schedule.fee(true, o.taker_fee_basis),
                    schedule.fee(false, o.maker_fee_basis)
                ),
                "an order's fees are its fills' fee rounded once"
            );
            assert!(o.fill_count + o.remaining_count <= o.initial_count);
            assert_eq!(
                o.status == OrderStatus::Resting,
                o.remaining_count > Decimal::ZERO
            );
        }
    }

    #[test]
    fn random_trading_conserves_money() {
        let tickers = ["MKT", "OTHER"];
        let owners: Vec<Owner> = ["u0", "u1", "u2", "u3"]
            .iter()
            .flat_map(|u| [owner(u, 0), owner(u, 1)])
            .collect();
        for seed in [1_u64, 7, 42, 2024] {
            let mut e = Engine::new();
            tickers
                .iter()
                .for_each(|t| e.add_market(t, MarketState::Open));
            // Both fee structures: maker fees in one market, not the other.
            e.set_fee_schedule("MKT", schedule("quadratic_with_maker_fees"));
            e.set_fee_schedule("OTHER", schedule("quadratic"));
            // Little cash, so buying power binds and refusals happen too.
            owners.iter().for_each(|o| e.deposit(o, d("25")));
            for o in owners.iter().step_by(3) {
                e.create_order_group(o, d("8")).unwrap();
            }
            let deposits = d("25") * Decimal::from(owners.len());
            let mut rng = Rng(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1);
            for _ in 0..400 {
                random_step(&mut e, &mut rng, &owners, &tickers);
                check_invariants(&e, &owners, &tickers, deposits);
            }
            assert!(
                e.fills.len() > 50,
                "seed {seed}: the run should actually trade ({} fills)",
                e.fills.len()
            );
            assert!(
                e.fees_collected() > Decimal::ZERO,
                "seed {seed}: fees were paid"
            );
            assert!(
                e.group_events
                    .iter()
                    .any(|g| g.kind == GroupEventKind::Triggered),
                "seed {seed}: some group hit its limit"
            );
            // Settlement pays out exactly what trading put aside.
            for t in tickers {
                let result = *rng.pick(&[Outcome::Yes, Outcome::No]);
                let paid = e.settle(t, result).unwrap();
                assert!(!paid.is_empty(), "seed {seed}: someone held {t}");
                check_invariants(&e, &owners, &tickers, deposits);
            }
            let cash: Decimal = owners.iter().map(|o| e.balance(o)).sum();
            assert_eq!(
                cash + e.fees_collected(),
                deposits,
                "seed {seed}: every dollar is back in cash or paid as a fee"
            );
            let fees: Decimal = e.settlements.iter().map(|s| s.fee_cost).sum();
            assert_eq!(
                fees,
                e.fees_collected(),
                "seed {seed}: settlements report the fees"
            );
        }
    }

    #[test]
    fn settlement_pays_winners_closes_positions_and_happens_once() {
        let mut e = engine();
        e.deposit(&bob(), d("100"));
        e.place(order(&alice(), Side::Bid, "0.30", "10")).unwrap();
        e.place(order(&bob(), Side::Ask, "0.30", "4")).unwrap();
        let resting = e.place(order(&bob(), Side::Ask, "0.90", "1")).unwrap();
        let (alice_before, bob_before) = (e.balance(&alice()), e.balance(&bob()));

        let paid = e.settle(T, Outcome::No).unwrap();
        assert_eq!(paid.len(), 2, "{paid:?}");
        let of = |who: &Owner| paid.iter().find(|s| &s.owner == who).unwrap().clone();
        let (a, b) = (of(&alice()), of(&bob()));
        assert_eq!(
            (a.yes_count, a.no_count, a.revenue),
            (d("4"), d("0"), d("0"))
        );
        assert_eq!(
            (b.yes_count, b.no_count, b.revenue),
            (d("0"), d("4"), d("4"))
        );
        assert_eq!(a.cost, d("1.2"));
        assert_eq!(e.balance(&bob()), bob_before + d("4"));
        assert_eq!(e.balance(&alice()), alice_before);
        assert_eq!(e.position(&alice(), T), Decimal::ZERO);
        assert_eq!(
            status(&e, &resting),
            OrderStatus::Canceled,
            "the book is cleared"
        );
        assert_eq!(e.market_state(T), Some(MarketState::Settled(Outcome::No)));
        assert_eq!(e.settlements_of("alice").len(), 1);

        assert!(e.settle(T, Outcome::Yes).is_err(), "a market settles once");
        assert!(e.set_market_state(T, MarketState::Open).is_err());
        assert_eq!(
            e.place(order(&alice(), Side::Bid, "0.30", "1"))
                .unwrap_err()
                .code(),
            "market_closed"
        );
    }
}
