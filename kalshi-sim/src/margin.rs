//! The margin (perpetual futures) exchange: Kalshi's second REST document
//! (`/margin/...`) and its WebSocket API (`/trade-api/ws/v2/margin`).
//!
//! # The model
//!
//! A perpetual has one book of bids and asks at any positive price (a
//! multiple of its tick), matched with price-time priority at the resting
//! order's price. A fill moves positions: the buyer goes long, the seller
//! short, by the same count, so positions always sum to zero per market.
//! Positions are kept as FIFO lots, so realized profit and loss is exact.
//!
//! Money, per owner (user and subaccount), all in `Decimal`:
//!
//! * **cash**: moved in and out by `intra_exchange_instance_transfer` (the
//!   `margined` wallet), plus realized profit and loss, minus fees, plus or
//!   minus funding;
//! * **unrealized** = Σ (position × mark × contract size − lots' cost);
//! * **equity** = cash + unrealized;
//! * **initial margin** = Σ |position| × mark × contract size × the
//!   market's initial margin rate; **maintenance margin** likewise at the
//!   maintenance rate; **resting orders' margin** = Σ remaining × price ×
//!   contract size × initial rate;
//! * **available** = equity − initial margin − resting orders' margin. An
//!   order that is not reduce-only is refused (`insufficient_balance`)
//!   when its own margin exceeds what is available.
//!
//! Takers pay a fee of [`TAKER_FEE_RATE`] of the notional; makers pay none.
//! The mark price is the last trade's price unless a test sets it. Funding
//! is applied when a test says so ([`crate::Simulator::apply_margin_funding`]):
//! every position pays `position × mark × contract size × rate` (longs pay
//! shorts when the rate is positive), so funding moves money between
//! accounts and creates none. Nothing is liquidated.
//!
//! Exit triggers fire when the mark crosses their level (after every
//! request and test control): the position, or the trigger's count, is
//! closed by a reduce-only immediate-or-cancel order at the most
//! aggressive price, which fills against what rests in the book.
//!
//! Reference data comes from the same state (see `reference`); no
//! corporate action is ever scheduled, the premium index has no points
//! (there is no index price), and FCM operations answer 403: no simulated
//! account is a futures commission merchant.

mod account;
mod book;
mod reference;
mod rest;

pub(crate) use rest::dispatch;

use std::collections::{BTreeMap, HashMap, VecDeque};

use rust_decimal::Decimal;
use serde_json::{Value, json};

use crate::api::{count, dollars};
use crate::engine::Owner;
use crate::feed::{Topic, Update, user_uuid};
use crate::http::ApiErr;
use book::Book;

/// The taker fee, as a share of the notional.
pub const TAKER_FEE_RATE: Decimal = Decimal::from_parts(5, 0, 0, false, 4);

/// A margin market as the simulator seeds it.
#[derive(Debug, Clone)]
struct Market {
    ticker: String,
    title: String,
    tick: Decimal,
    contract_size: Decimal,
    initial_rate: Decimal,
    maintenance_rate: Decimal,
    mark: Decimal,
    last_price: Decimal,
    last_size: Decimal,
    volume: Decimal,
    volume_notional: Decimal,
    mark_ms: i64,
}

/// Why an order left the book, or `""` while it is live.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Status {
    Resting,
    Canceled,
    Executed,
}

#[derive(Debug, Clone)]
struct Order {
    order_id: String,
    owner: Owner,
    client_order_id: String,
    ticker: String,
    bid: bool,
    price: Decimal,
    filled: Decimal,
    remaining: Decimal,
    status: Status,
    stp: String,
    /// `last_update_reason`: `""` until something changes the order.
    reason: &'static str,
    created_ms: i64,
    updated_ms: i64,
    cancel_on_pause: bool,
    order_group_id: Option<String>,
    /// Never grows the position: capped again at every fill.
    reduce_only: bool,
}

#[derive(Debug, Clone)]
struct Fill {
    fill_id: String,
    trade_id: String,
    order_id: String,
    owner: Owner,
    ticker: String,
    bid: bool,
    is_taker: bool,
    price: Decimal,
    count: Decimal,
    fee: Decimal,
    realized: Decimal,
    entry_price: Decimal,
    post_position: Decimal,
    ts_ms: i64,
}

#[derive(Debug, Clone)]
struct Trade {
    /// Best bid and ask right after it (zero for an empty side).
    top: (Decimal, Decimal),
    trade_id: String,
    ticker: String,
    price: Decimal,
    count: Decimal,
    taker_bid: bool,
    ts_ms: i64,
}

/// An open position: signed lots `(count, price)`, oldest first, all on
/// one side.
#[derive(Debug, Clone, Default)]
struct Position {
    lots: VecDeque<(Decimal, Decimal)>,
    fees: Decimal,
}

impl Position {
    fn size(&self) -> Decimal {
        self.lots.iter().map(|(c, _)| *c).sum()
    }

    /// Σ count × price of the open lots (signed).
    fn cost(&self) -> Decimal {
        self.lots.iter().map(|(c, p)| *c * *p).sum()
    }

    /// The average entry price, rounded to six places for display.
    fn entry_price(&self) -> Decimal {
        let size = self.size();
        if size.is_zero() {
            return Decimal::ZERO;
        }
        (self.cost() / size).round_dp(6)
    }

    /// Adds `signed` contracts at `price`; returns the realized profit per
    /// unit of contract size (closing lots first in, first out).
    fn trade(&mut self, mut signed: Decimal, price: Decimal) -> Decimal {
        let mut realized = Decimal::ZERO;
        while !signed.is_zero() {
            let Some((lot, lot_price)) = self.lots.front_mut() else {
                break;
            };
            if lot.is_sign_positive() == signed.is_sign_positive() {
                break;
            }
            let closing = lot.abs().min(signed.abs());
            let direction = if lot.is_sign_positive() {
                Decimal::ONE
            } else {
                -Decimal::ONE
            };
            realized += closing * (price - *lot_price) * direction;
            *lot -= closing * direction;
            signed += closing * direction;
            if lot.is_zero() {
                self.lots.pop_front();
            }
        }
        if !signed.is_zero() {
            self.lots.push_back((signed, price));
        }
        realized
    }
}

#[derive(Debug, Clone)]
struct Funding {
    owner: Owner,
    ticker: String,
    ts_ms: i64,
    rate: Decimal,
    mark: Decimal,
    amount: Decimal,
    quantity: Decimal,
}

/// The margin exchange's whole state.
#[derive(Debug)]
pub(crate) struct Exchange {
    markets: BTreeMap<String, Market>,
    books: HashMap<String, Book>,
    orders: Vec<Order>,
    by_id: HashMap<String, usize>,
    fills: Vec<Fill>,
    trades: Vec<Trade>,
    positions: BTreeMap<(Owner, String), Position>,
    cash: BTreeMap<Owner, Decimal>,
    funding: Vec<Funding>,
    fees_collected: Decimal,
    /// Order groups by id.
    groups: BTreeMap<String, account::Group>,
    /// Exit triggers, oldest first.
    triggers: Vec<account::Trigger>,
    /// Numbered margin subaccounts per user (0 always exists).
    subaccounts: BTreeMap<String, Vec<u32>>,
    /// `client_transfer_id`s of subaccount transfers, per user.
    transfer_ids: std::collections::BTreeSet<(String, String)>,
    next_id: u64,
    /// One tick per action that changed a book.
    clock: u64,
    /// Updates for the WebSocket sessions, published after each action.
    outbox: Vec<Update>,
}

impl Default for Exchange {
    fn default() -> Self {
        let market = |ticker: &str, title: &str, mark: Decimal| Market {
            ticker: ticker.to_owned(),
            title: title.to_owned(),
            tick: Decimal::new(1, 2),
            contract_size: Decimal::ONE,
            initial_rate: Decimal::new(10, 2),
            maintenance_rate: Decimal::new(5, 2),
            mark,
            last_price: mark,
            last_size: Decimal::ZERO,
            volume: Decimal::ZERO,
            volume_notional: Decimal::ZERO,
            mark_ms: 0,
        };
        let markets = [
            market("KXBTCPERP", "Bitcoin perpetual", Decimal::new(100, 0)),
            market("KXETHPERP", "Ether perpetual", Decimal::new(25, 0)),
        ];
        Self {
            markets: markets.into_iter().map(|m| (m.ticker.clone(), m)).collect(),
            books: HashMap::new(),
            orders: Vec::new(),
            by_id: HashMap::new(),
            fills: Vec::new(),
            trades: Vec::new(),
            positions: BTreeMap::new(),
            cash: BTreeMap::new(),
            funding: Vec::new(),
            fees_collected: Decimal::ZERO,
            groups: BTreeMap::new(),
            triggers: Vec::new(),
            subaccounts: BTreeMap::new(),
            transfer_ids: std::collections::BTreeSet::new(),
            next_id: 0,
            clock: 0,
            outbox: Vec::new(),
        }
    }
}

/// What one order did: its fills and what is left.
struct Placed {
    order: usize,
    filled: Decimal,
    notional: Decimal,
    fees: Decimal,
}

fn bad(code: &str, message: &str) -> ApiErr {
    ApiErr::bad_request(code, message)
}

fn side_name(bid: bool) -> &'static str {
    if bid { "bid" } else { "ask" }
}

impl Exchange {
    /// A fresh id: a UUID, as Kalshi's margin ids are.
    fn id(&mut self, kind: &str) -> String {
        self.next_id += 1;
        crate::feed::stable_uuid(kind, &self.next_id.to_string())
    }

    /// The id of `user`'s order with this `client_order_id`.
    #[cfg(test)]
    pub fn order_id_of(&self, user: &str, client_order_id: &str) -> Option<String> {
        let order = self
            .orders
            .iter()
            .find(|o| o.owner.user_id == user && o.client_order_id == client_order_id)?;
        Some(order.order_id.clone())
    }

    /// Whether a margin market with this ticker exists.
    pub fn has_market(&self, ticker: &str) -> bool {
        self.markets.contains_key(ticker)
    }

    /// Cash of `owner` on the margined instance.
    pub fn cash(&self, owner: &Owner) -> Decimal {
        self.cash.get(owner).copied().unwrap_or_default()
    }

    /// Moves cash in (positive) or out of `owner`'s margined wallet.
    pub fn deposit(&mut self, owner: &Owner, amount: Decimal) {
        *self.cash.entry(owner.clone()).or_default() += amount;
    }

    /// The signed position of `owner` in `ticker`.
    pub fn position(&self, owner: &Owner, ticker: &str) -> Decimal {
        self.positions
            .get(&(owner.clone(), ticker.to_owned()))
            .map_or(Decimal::ZERO, Position::size)
    }

    /// Fees the exchange collected.
    pub fn fees_collected(&self) -> Decimal {
        self.fees_collected
    }

    /// Cash plus unrealized profit and loss at the mark.
    pub fn equity(&self, owner: &Owner) -> Decimal {
        self.cash(owner) + self.unrealized(owner)
    }

    fn unrealized(&self, owner: &Owner) -> Decimal {
        self.owner_positions(owner)
            .map(|(ticker, p)| {
                let m = &self.markets[ticker];
                (p.size() * m.mark - p.cost()) * m.contract_size
            })
            .sum()
    }

    fn owner_positions<'a>(
        &'a self,
        owner: &'a Owner,
    ) -> impl Iterator<Item = (&'a String, &'a Position)> + 'a {
        self.positions
            .iter()
            .filter(move |((o, _), p)| o == owner && !p.lots.is_empty())
            .map(|((_, t), p)| (t, p))
    }

    fn initial_margin(&self, owner: &Owner) -> Decimal {
        self.owner_positions(owner)
            .map(|(ticker, p)| {
                let m = &self.markets[ticker];
                p.size().abs() * m.mark * m.contract_size * m.initial_rate
            })
            .sum()
    }

    fn maintenance_margin(&self, owner: &Owner) -> Decimal {
        self.owner_positions(owner)
            .map(|(ticker, p)| {
                let m = &self.markets[ticker];
                p.size().abs() * m.mark * m.contract_size * m.maintenance_rate
            })
            .sum()
    }

    fn resting_margin(&self, owner: &Owner) -> Decimal {
        self.orders
            .iter()
            .filter(|o| o.status == Status::Resting && &o.owner == owner)
            .map(|o| {
                let m = &self.markets[&o.ticker];
                o.remaining * o.price * m.contract_size * m.initial_rate
            })
            .sum()
    }

    fn available(&self, owner: &Owner) -> Decimal {
        self.equity(owner) - self.initial_margin(owner) - self.resting_margin(owner)
    }

    /// Cash that may leave the margined wallet: the available balance,
    /// never more than the cash itself.
    pub fn withdrawable(&self, owner: &Owner) -> Decimal {
        self.available(owner)
            .min(self.cash(owner))
            .max(Decimal::ZERO)
    }

    /// Sets the mark price of `ticker`.
    pub fn set_mark(&mut self, ticker: &str, price: Decimal, now_ms: i64) -> Result<(), String> {
        let market = self
            .markets
            .get_mut(ticker)
            .ok_or_else(|| format!("no margin market {ticker}"))?;
        if price <= Decimal::ZERO || price > MAX_PRICE {
            return Err(format!(
                "mark price {price} must be positive, at most {MAX_PRICE}"
            ));
        }
        market.mark = price;
        market.mark_ms = now_ms;
        Ok(())
    }

    /// Applies one funding payment to every position in `ticker` at its
    /// mark: `position × mark × contract size × rate` leaves each holder
    /// (longs pay when `rate` is positive). Returns the payments made.
    pub fn apply_funding(
        &mut self,
        ticker: &str,
        rate: Decimal,
        now_ms: i64,
    ) -> Result<usize, String> {
        let market = self
            .markets
            .get(ticker)
            .ok_or_else(|| format!("no margin market {ticker}"))?
            .clone();
        if rate.abs() > Decimal::ONE {
            return Err(format!("funding rate {rate} is beyond ±1"));
        }
        let holders: Vec<(Owner, Decimal)> = self
            .positions
            .iter()
            .filter(|((_, t), p)| t == ticker && !p.lots.is_empty())
            .map(|((o, _), p)| (o.clone(), p.size()))
            .collect();
        for (owner, size) in &holders {
            let amount = -*size * market.mark * market.contract_size * rate;
            self.deposit(owner, amount);
            self.funding.push(Funding {
                owner: owner.clone(),
                ticker: ticker.to_owned(),
                ts_ms: now_ms,
                rate,
                mark: market.mark,
                amount,
                quantity: *size,
            });
        }
        Ok(holders.len())
    }

    /// The updates made since the last call, for the feed.
    pub fn take_updates(&mut self) -> Vec<Update> {
        std::mem::take(&mut self.outbox)
    }

    /// The `msg` of a margin `orderbook_snapshot` of `ticker` and the clock
    /// it is current at.
    pub fn snapshot(&self, ticker: &str) -> (u64, String) {
        let mut msg = json!({ "market_ticker": ticker });
        if let Some(book) = self.books.get(ticker) {
            let bids = self.levels(book.bids());
            let asks = self.levels(book.asks());
            if !bids.is_empty() {
                msg["bid"] = bids.into();
            }
            if !asks.is_empty() {
                msg["ask"] = asks.into();
            }
        }
        (self.clock, msg.to_string())
    }

    fn levels<'a>(
        &self,
        levels: impl Iterator<Item = (&'a Decimal, &'a VecDeque<usize>)>,
    ) -> Vec<Value> {
        levels
            .map(|(price, queue)| {
                let size: Decimal = queue.iter().map(|i| self.orders[*i].remaining).sum();
                json!([money(*price), count(size)])
            })
            .collect()
    }

    // -------------------------------------------------------------------
    // Orders
    // -------------------------------------------------------------------

    fn place(&mut self, owner: Owner, body: &Value, now_ms: i64) -> Result<Placed, ApiErr> {
        let ticker = match (body["ticker"].as_str(), body["market_id"].as_str()) {
            (Some(t), _) if !t.is_empty() => t.to_owned(),
            (_, Some(id)) if !id.is_empty() => self
                .markets
                .keys()
                .find(|t| crate::feed::market_id(t) == id)
                .cloned()
                .ok_or_else(|| {
                    ApiErr::new(400, "market_not_found", "no margin market has this id")
                })?,
            _ => {
                return Err(bad(
                    "missing_parameters",
                    "`ticker` or `market_id` is required",
                ));
            }
        };
        let market = self.markets.get(&ticker).cloned().ok_or_else(|| {
            ApiErr::new(
                400,
                "market_not_found",
                &format!("margin market {ticker} not found"),
            )
        })?;
        let client_order_id = body["client_order_id"]
            .as_str()
            .filter(|s| !s.is_empty())
            .ok_or_else(|| bad("missing_parameters", "`client_order_id` is required"))?
            .to_owned();
        let bid = match body["side"].as_str() {
            Some("bid") => true,
            Some("ask") => false,
            _ => return Err(bad("invalid_parameters", "`side` must be bid or ask")),
        };
        let price = price_field(body, "price", market.tick)?;
        let mut wanted = count_field(body, "count", false)?;
        let tif = body["time_in_force"].as_str().unwrap_or_default();
        if !matches!(
            tif,
            "good_till_canceled" | "immediate_or_cancel" | "fill_or_kill"
        ) {
            return Err(bad("invalid_parameters", "`time_in_force` is required"));
        }
        let stp = body["self_trade_prevention_type"]
            .as_str()
            .unwrap_or("taker_at_cross");
        if !matches!(stp, "taker_at_cross" | "maker") {
            return Err(bad(
                "invalid_parameters",
                "unknown `self_trade_prevention_type`",
            ));
        }
        let post_only = body["post_only"].as_bool().unwrap_or(false);
        let reduce_only = body["reduce_only"].as_bool().unwrap_or(false);
        if self
            .orders
            .iter()
            .any(|o| o.owner.user_id == owner.user_id && o.client_order_id == client_order_id)
        {
            return Err(ApiErr::new(
                409,
                "order_already_exists",
                "an order with this client_order_id already exists",
            ));
        }
        let group = self.group_for_order(&owner, body)?;
        let mut reason = "";
        if reduce_only {
            let held = self.position(&owner, &ticker);
            let reducible = if bid {
                (-held).max(Decimal::ZERO)
            } else {
                held.max(Decimal::ZERO)
            };
            if reducible.is_zero() {
                return Err(bad(
                    "reduce_only_violation",
                    "reduce-only order would increase the position",
                ));
            }
            if wanted > reducible {
                wanted = reducible;
                reason = "ReduceOnlyCancel";
            }
        } else {
            let needed = wanted * price * market.contract_size * market.initial_rate;
            let available = self.available(&owner);
            if needed > available {
                return Err(bad(
                    "insufficient_balance",
                    &format!("the order needs ${needed} of margin, ${available} is available"),
                ));
            }
        }
        let book = self.books.entry(ticker.clone()).or_default();
        if post_only && book.best_against(bid, price).is_some() {
            return Err(bad(
                "post_only_cross",
                "post-only order would cross the book",
            ));
        }
        if tif == "fill_or_kill" {
            // What matching will reach: others' orders, up to the first of
            // the taker's own when that stops it (`taker_at_cross`).
            let mut crossing = Decimal::ZERO;
            for i in book.crossing(bid, price) {
                let other = &self.orders[i];
                if other.owner.user_id != owner.user_id {
                    crossing += other.remaining;
                } else if stp == "taker_at_cross" {
                    break;
                }
            }
            if crossing < wanted {
                return Err(bad(
                    "fill_or_kill_insufficient_resting_volume",
                    "not enough resting volume to fill the fill-or-kill order",
                ));
            }
        }
        let order_id = self.id("MORD");
        let index = self.orders.len();
        self.orders.push(Order {
            order_id: order_id.clone(),
            owner,
            client_order_id,
            ticker: ticker.clone(),
            bid,
            price,
            filled: Decimal::ZERO,
            remaining: wanted,
            status: Status::Resting,
            stp: stp.to_owned(),
            reason,
            created_ms: now_ms,
            updated_ms: now_ms,
            cancel_on_pause: body["cancel_order_on_pause"].as_bool().unwrap_or(false),
            order_group_id: group,
            reduce_only,
        });
        self.by_id.insert(order_id, index);
        self.clock += 1;
        let placed = self.match_order(index, now_ms);
        let order = &mut self.orders[index];
        if order.status == Status::Resting && !order.remaining.is_zero() {
            if tif == "good_till_canceled" {
                let (bid, price) = (order.bid, order.price);
                self.books
                    .entry(ticker.clone())
                    .or_default()
                    .rest(bid, price, index);
                let remaining = self.orders[index].remaining;
                self.delta(&ticker, bid, price, remaining, now_ms);
            } else {
                order.status = Status::Canceled;
                order.remaining = Decimal::ZERO;
                order.updated_ms = now_ms;
            }
        } else if order.remaining.is_zero() && order.status == Status::Resting {
            order.status = Status::Executed;
        }
        self.user_order(index);
        self.ticker(&ticker, now_ms);
        self.trigger_full_groups(now_ms);
        Ok(placed)
    }

    /// Matches order `index` against the book; returns what it filled.
    fn match_order(&mut self, index: usize, now_ms: i64) -> Placed {
        let (ticker, bid, limit) = {
            let o = &self.orders[index];
            (o.ticker.clone(), o.bid, o.price)
        };
        let mut placed = Placed {
            order: index,
            filled: Decimal::ZERO,
            notional: Decimal::ZERO,
            fees: Decimal::ZERO,
        };
        loop {
            if self.orders[index].remaining.is_zero() {
                break;
            }
            let Some((price, maker)) = self
                .books
                .get(&ticker)
                .and_then(|b| b.best_against(bid, limit))
            else {
                break;
            };
            if self.orders[maker].owner.user_id == self.orders[index].owner.user_id {
                if self.orders[index].stp == "maker" {
                    self.cancel_index(maker, "SelfTradeCancel", now_ms);
                    continue;
                }
                let taker = &mut self.orders[index];
                taker.status = Status::Canceled;
                taker.remaining = Decimal::ZERO;
                taker.reason = "SelfTradeCancel";
                taker.updated_ms = now_ms;
                break;
            }
            let Some(maker_room) = self.room(maker) else {
                self.cancel_index(maker, "ReduceOnlyCancel", now_ms);
                continue;
            };
            let Some(taker_room) = self.room(index) else {
                let taker = &mut self.orders[index];
                taker.status = Status::Canceled;
                taker.remaining = Decimal::ZERO;
                taker.reason = "ReduceOnlyCancel";
                taker.updated_ms = now_ms;
                break;
            };
            let size = taker_room.min(maker_room);
            let (fee, notional) = self.execute(index, maker, price, size, now_ms);
            placed.filled += size;
            placed.notional += notional;
            placed.fees += fee;
        }
        placed
    }

    /// One trade of `size` at `price` between taker `taker` and resting
    /// `maker`; returns the taker's fee and the notional.
    fn execute(
        &mut self,
        taker: usize,
        maker: usize,
        price: Decimal,
        size: Decimal,
        now_ms: i64,
    ) -> (Decimal, Decimal) {
        let ticker = self.orders[taker].ticker.clone();
        let contract_size = self.markets[&ticker].contract_size;
        let notional = size * price * contract_size;
        let fee = (notional * TAKER_FEE_RATE)
            .round_dp_with_strategy(6, rust_decimal::RoundingStrategy::AwayFromZero);
        let trade_id = self.id("MTRD");
        let taker_bid = self.orders[taker].bid;
        for (index, is_taker, fee) in [(taker, true, fee), (maker, false, Decimal::ZERO)] {
            let order = &mut self.orders[index];
            order.filled += size;
            order.remaining -= size;
            order.updated_ms = now_ms;
            order.reason = "Trade";
            if order.remaining.is_zero() {
                order.status = Status::Executed;
            }
            let owner = order.owner.clone();
            let bid = order.bid;
            let order_id = order.order_id.clone();
            if let Some(group) = order.order_group_id.clone() {
                self.count_group_fill(&group, size);
            }
            let signed = if bid { size } else { -size };
            let position = self
                .positions
                .entry((owner.clone(), ticker.clone()))
                .or_default();
            let realized = position.trade(signed, price) * contract_size;
            position.fees += fee;
            let (post, entry) = (position.size(), position.entry_price());
            self.deposit(&owner, realized - fee);
            self.fees_collected += fee;
            let fill_id = self.id("MFIL");
            self.fills.push(Fill {
                fill_id,
                trade_id: trade_id.clone(),
                order_id,
                owner,
                ticker: ticker.clone(),
                bid,
                is_taker,
                price,
                count: size,
                fee,
                realized,
                entry_price: entry,
                post_position: post,
                ts_ms: now_ms,
            });
            self.fill_update(self.fills.len() - 1, index);
        }
        // The maker's level shrinks; a filled maker leaves the book.
        let maker_bid = self.orders[maker].bid;
        if self.orders[maker].remaining.is_zero() {
            self.books
                .entry(ticker.clone())
                .or_default()
                .remove(maker_bid, price, maker);
        }
        self.delta(&ticker, maker_bid, price, -size, now_ms);
        self.user_order(maker);
        let market = self.markets.get_mut(&ticker).expect("the order's market");
        market.last_price = price;
        market.last_size = size;
        market.mark = price;
        market.mark_ms = now_ms;
        market.volume += size;
        market.volume_notional += notional;
        let top = (self.top(&ticker, true).0, self.top(&ticker, false).0);
        self.trades.push(Trade {
            top,
            trade_id: trade_id.clone(),
            ticker: ticker.clone(),
            price,
            count: size,
            taker_bid,
            ts_ms: now_ms,
        });
        let msg = json!({
            "trade_id": trade_id, "market_ticker": ticker, "price": money(price),
            "count": count(size), "taker_side": side_name(taker_bid), "ts_ms": now_ms,
        });
        self.push(Topic::MarginTrade, "trade", &ticker, None, msg);
        (fee, notional)
    }

    /// How much order `index` may still trade: its remaining count, or for
    /// a reduce-only order no more than closes its owner's position
    /// (`None`: nothing, it must go).
    fn room(&self, index: usize) -> Option<Decimal> {
        let order = &self.orders[index];
        if !order.reduce_only {
            return Some(order.remaining);
        }
        let held = self.position(&order.owner, &order.ticker);
        let reducible = if order.bid { -held } else { held };
        let room = order.remaining.min(reducible);
        (room > Decimal::ZERO).then_some(room)
    }

    /// Cancels resting order `index`; returns how much it reduced.
    fn cancel_index(&mut self, index: usize, reason: &'static str, now_ms: i64) -> Decimal {
        let order = &mut self.orders[index];
        if order.status != Status::Resting {
            return Decimal::ZERO;
        }
        let reduced = order.remaining;
        order.status = Status::Canceled;
        order.reason = reason;
        order.remaining = Decimal::ZERO;
        order.updated_ms = now_ms;
        let (ticker, bid, price) = (order.ticker.clone(), order.bid, order.price);
        self.books
            .entry(ticker.clone())
            .or_default()
            .remove(bid, price, index);
        self.clock += 1;
        self.delta(&ticker, bid, price, -reduced, now_ms);
        self.user_order(index);
        self.ticker(&ticker, now_ms);
        reduced
    }

    // -------------------------------------------------------------------
    // Stream updates
    // -------------------------------------------------------------------

    fn push(
        &mut self,
        topic: Topic,
        kind: &'static str,
        ticker: &str,
        user: Option<&str>,
        msg: Value,
    ) {
        self.outbox.push(Update {
            topic,
            kind,
            market: ticker.to_owned(),
            user: user.map(str::to_owned),
            clock: self.clock,
            msg: msg.to_string(),
        });
    }

    fn delta(&mut self, ticker: &str, bid: bool, price: Decimal, delta: Decimal, now_ms: i64) {
        let msg = json!({
            "market_ticker": ticker, "price": money(price), "delta": count(delta),
            "side": side_name(bid), "ts_ms": now_ms,
        });
        self.push(Topic::MarginOrderbook, "orderbook_delta", ticker, None, msg);
    }

    fn fill_update(&mut self, fill: usize, order: usize) {
        let f = &self.fills[fill];
        let msg = json!({
            "trade_id": f.trade_id, "order_id": f.order_id,
            "client_order_id": self.orders[order].client_order_id, "market_ticker": f.ticker,
            "is_taker": f.is_taker, "side": side_name(f.bid), "ts_ms": f.ts_ms,
            "price": money(f.price), "count": count(f.count), "fee_cost": money(f.fee),
            "post_position": count(f.post_position), "subaccount": f.owner.subaccount,
            "order_source": "user",
        });
        let (ticker, user) = (f.ticker.clone(), f.owner.user_id.clone());
        self.push(Topic::MarginFill, "fill", &ticker, Some(&user), msg);
    }

    fn user_order(&mut self, index: usize) {
        let o = &self.orders[index];
        let mut msg = json!({
            "order_id": o.order_id, "user_id": user_uuid(&o.owner.user_id),
            "client_order_id": o.client_order_id, "ticker": o.ticker, "side": side_name(o.bid),
            "price": money(o.price), "fill_count": count(o.filled),
            "remaining_count": count(o.remaining), "self_trade_prevention_type": o.stp,
            "created_ts_ms": o.created_ms, "last_updated_ts_ms": o.updated_ms,
            "subaccount_number": o.owner.subaccount, "order_source": "user",
        });
        if !o.reason.is_empty() {
            msg["last_update_reason"] = o.reason.into();
        }
        let (ticker, user) = (o.ticker.clone(), o.owner.user_id.clone());
        self.push(
            Topic::MarginUserOrders,
            "user_order",
            &ticker,
            Some(&user),
            msg,
        );
    }

    fn ticker(&mut self, ticker: &str, now_ms: i64) {
        let msg = self.ticker_json(ticker, now_ms);
        self.push(Topic::MarginTicker, "ticker", ticker, None, msg);
    }

    fn top(&self, ticker: &str, bid: bool) -> (Decimal, Decimal) {
        let Some(book) = self.books.get(ticker) else {
            return (Decimal::ZERO, Decimal::ZERO);
        };
        let best = if bid {
            book.bids().next()
        } else {
            book.asks().next()
        };
        best.map(|(p, q)| (*p, q.iter().map(|i| self.orders[*i].remaining).sum()))
            .unwrap_or_default()
    }

    fn open_interest(&self, ticker: &str) -> Decimal {
        self.positions
            .iter()
            .filter(|((_, t), _)| t == ticker)
            .map(|(_, p)| p.size().max(Decimal::ZERO))
            .sum()
    }

    fn ticker_json(&self, ticker: &str, now_ms: i64) -> Value {
        let m = &self.markets[ticker];
        let (bid, bid_size) = self.top(ticker, true);
        let (ask, ask_size) = self.top(ticker, false);
        let oi = self.open_interest(ticker);
        json!({
            "market_ticker": ticker, "price": money(m.last_price),
            "bid": money(bid), "ask": money(ask),
            "bid_size_fp": count(bid_size), "ask_size_fp": count(ask_size),
            "last_trade_size_fp": count(m.last_size), "volume": count(m.volume),
            "volume_notional_value_dollars": money(m.volume_notional),
            "volume_24h": count(m.volume),
            "volume_24h_notional_value_dollars": money(m.volume_notional),
            "open_interest": count(oi),
            "open_interest_notional_value_dollars": money(oi * m.mark * m.contract_size),
            "ts_ms": now_ms,
        })
    }
}

/// The largest price (dollars) and count (contracts) the simulator takes:
/// far beyond any real order, and small enough that no sum or product of
/// them overflows a `Decimal`.
pub(crate) const MAX_PRICE: Decimal = Decimal::from_parts(1_000_000_000, 0, 0, false, 0);
pub(crate) const MAX_COUNT: Decimal = Decimal::from_parts(1_000_000_000, 0, 0, false, 0);

/// A positive price, a multiple of `tick`, at most [`MAX_PRICE`].
pub(crate) fn price_field(body: &Value, field: &str, tick: Decimal) -> Result<Decimal, ApiErr> {
    let price = decimal(body, field)?;
    if price <= Decimal::ZERO || price > MAX_PRICE || !(price % tick).is_zero() {
        return Err(bad(
            "invalid_price",
            &format!(
                "`{field}` {price} must be a positive multiple of the tick {tick}, at most {MAX_PRICE}"
            ),
        ));
    }
    Ok(price)
}

/// A count in hundredths of a contract, zero allowed only when `zero_ok`,
/// at most [`MAX_COUNT`].
pub(crate) fn count_field(body: &Value, field: &str, zero_ok: bool) -> Result<Decimal, ApiErr> {
    let count = decimal(body, field)?;
    let positive = count > Decimal::ZERO || (zero_ok && count.is_zero());
    if !positive || count > MAX_COUNT || count.round_dp(2) != count {
        return Err(bad(
            "invalid_count",
            &format!("`{field}` {count} must be a count in hundredths, at most {MAX_COUNT}"),
        ));
    }
    Ok(count)
}

/// A dollar amount in Kalshi's form, at most six decimal places (margin
/// arithmetic makes longer ones; what is reported is rounded, what is kept
/// stays exact).
fn money(value: Decimal) -> String {
    dollars(value.round_dp(6).normalize())
}

fn decimal(body: &Value, field: &str) -> Result<Decimal, ApiErr> {
    body[field]
        .as_str()
        .and_then(|s| s.parse::<Decimal>().ok())
        .ok_or_else(|| {
            bad(
                "invalid_parameters",
                &format!("`{field}` must be a decimal string"),
            )
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(text: &str) -> Decimal {
        text.parse().unwrap()
    }

    fn owner(user: &str) -> Owner {
        Owner {
            user_id: user.to_owned(),
            subaccount: 0,
        }
    }

    /// An exchange where alice, bob and carol hold $100,000 each.
    fn exchange() -> Exchange {
        let mut exchange = Exchange::default();
        for user in ["alice", "bob", "carol"] {
            exchange.deposit(&owner(user), d("100000"));
        }
        exchange
    }

    fn order(id: &str, side: &str, count: &str, price: &str, tif: &str) -> Value {
        json!({"ticker": "KXBTCPERP", "client_order_id": id, "side": side, "count": count,
               "price": price, "time_in_force": tif, "self_trade_prevention_type": "taker_at_cross"})
    }

    fn place(ex: &mut Exchange, user: &str, body: Value) -> Result<Placed, ApiErr> {
        ex.place(owner(user), &body, 1_000)
    }

    #[test]
    fn fill_or_kill_counts_only_what_matching_reaches() {
        let mut ex = exchange();
        let gtc = "good_till_canceled";
        place(&mut ex, "bob", order("b1", "ask", "5", "25.00", gtc)).unwrap();
        place(&mut ex, "alice", order("a1", "ask", "1", "25.50", gtc)).unwrap();
        place(&mut ex, "bob", order("b2", "ask", "10", "26.00", gtc)).unwrap();
        // Matching stops at Alice's own ask (taker_at_cross): only 5 reachable.
        let fok = place(
            &mut ex,
            "alice",
            order("a2", "bid", "10", "26.00", "fill_or_kill"),
        );
        let error = fok.err().expect("refused");
        assert_eq!(error.code, "fill_or_kill_insufficient_resting_volume");
        assert_eq!(
            ex.position(&owner("alice"), "KXBTCPERP"),
            Decimal::ZERO,
            "nothing traded"
        );
    }

    #[test]
    fn reduce_only_orders_never_grow_a_position_even_when_resting() {
        let mut ex = exchange();
        let gtc = "good_till_canceled";
        place(&mut ex, "bob", order("b1", "ask", "1", "100.00", gtc)).unwrap();
        place(&mut ex, "alice", order("a1", "bid", "1", "100.00", gtc)).unwrap();
        // Two resting reduce-only asks of 1 against a long of 1.
        for id in ["a2", "a3"] {
            let mut body = order(id, "ask", "1", "101.00", gtc);
            body["reduce_only"] = json!(true);
            place(&mut ex, "alice", body).unwrap();
        }
        place(&mut ex, "carol", order("c1", "bid", "2", "101.00", gtc)).unwrap();
        assert_eq!(
            ex.position(&owner("alice"), "KXBTCPERP"),
            Decimal::ZERO,
            "closed, not flipped"
        );
        let second = ex
            .orders
            .iter()
            .find(|o| o.client_order_id == "a3")
            .unwrap();
        assert_eq!(
            (second.status, second.reason),
            (Status::Canceled, "ReduceOnlyCancel")
        );
    }

    #[test]
    fn money_is_conserved_through_trades_fees_and_funding() {
        let mut ex = exchange();
        let gtc = "good_till_canceled";
        let steps = [
            ("bob", "ask", "3", "100.00"),
            ("alice", "bid", "2", "100.50"),
            ("carol", "bid", "4", "99.00"),
            ("bob", "ask", "5", "98.50"),
            ("alice", "ask", "1", "97.00"),
            ("carol", "ask", "2", "96.00"),
        ];
        for (i, (user, side, count, price)) in steps.into_iter().enumerate() {
            let _ = place(
                &mut ex,
                user,
                order(&format!("o{i}"), side, count, price, gtc),
            );
        }
        ex.apply_funding("KXBTCPERP", d("0.0125"), 2_000).unwrap();
        ex.set_mark("KXBTCPERP", d("123.45"), 3_000).unwrap();
        let equity: Decimal = ["alice", "bob", "carol"]
            .iter()
            .map(|u| ex.equity(&owner(u)))
            .sum();
        assert_eq!(equity + ex.fees_collected(), d("300000"));
        let net: Decimal = ["alice", "bob", "carol"]
            .iter()
            .map(|u| ex.position(&owner(u), "KXBTCPERP"))
            .sum();
        assert_eq!(net, Decimal::ZERO);
    }

    #[test]
    fn amends_report_their_own_fills_and_need_margin_for_more() {
        let mut ex = exchange();
        let gtc = "good_till_canceled";
        place(&mut ex, "bob", order("b1", "ask", "1", "101.00", gtc)).unwrap();
        let resting = place(&mut ex, "alice", order("a1", "bid", "1", "100.00", gtc)).unwrap();
        let body = json!({"side": "bid", "price": "105.00", "count": "1"});
        let amended = ex.amend(resting.order, &body, 1_000).unwrap();
        assert_eq!(amended.filled, d("1"));
        assert_eq!(
            amended.notional,
            d("101"),
            "at the resting ask, not the amended price"
        );
        let big = place(&mut ex, "carol", order("c1", "bid", "1", "50.00", gtc)).unwrap();
        let body = json!({"side": "bid", "price": "50.00", "count": "1000000"});
        let refused = ex.amend(big.order, &body, 1_000).err().expect("refused");
        assert_eq!(refused.code, "insufficient_balance");
        let finer = ex.decrease(big.order, &json!({"reduce_to": "0.005"}), 1_000);
        assert_eq!(
            finer.err().map(|e| e.code),
            Some("invalid_count".to_owned())
        );
    }

    #[test]
    fn lots_close_first_in_first_out_and_flip() {
        let mut p = Position::default();
        assert_eq!(p.trade(d("2"), d("100")), Decimal::ZERO);
        assert_eq!(p.trade(d("1"), d("103")), Decimal::ZERO);
        assert_eq!(p.entry_price(), d("101"));
        // Selling 2 closes the first lot at +5 each.
        assert_eq!(p.trade(d("-2"), d("105")), d("10"));
        // Selling 3 closes the 103 lot (+2) and opens a short of 2.
        assert_eq!(p.trade(d("-3"), d("105")), d("2"));
        assert_eq!(p.size(), d("-2"));
        assert_eq!(p.entry_price(), d("105"));
        // Buying back 2 at 100 earns 5 each on the short.
        assert_eq!(p.trade(d("2"), d("100")), d("10"));
        assert!(p.lots.is_empty());
    }
}
