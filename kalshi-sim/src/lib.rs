//! A local Kalshi exchange for testing trading bots: the Trade API over real
//! HTTP on loopback, a matching engine, and test controls.
//!
//! Requests are authenticated like Kalshi does (RSA-PSS or Ed25519 over
//! `timestamp + METHOD + path`), orders match on the YES book with price-time
//! priority, and markets settle and pay out. A test can fund accounts, add
//! markets, move the exchange clock, open, close and settle markets, inject
//! faults into the next requests (dropped connections, lost responses, 5xx,
//! 429s, delays, broken bodies) and read a journal of what arrived.
//!
//! ```no_run
//! # async fn demo() -> std::io::Result<()> {
//! use kalshi_sim::{Account, ApiKey, Simulator, SimConfig};
//!
//! let key = ApiKey::ed25519("bot-key");
//! let sim = Simulator::start(SimConfig::new().account(Account::new("bot", &key))).await?;
//! // Point a client at sim.base_url() and sign with key.private_key_pem().
//! println!("{} accepts {}", sim.base_url(), key.key_id());
//! # Ok(()) }
//! ```
//!
//! Beside the event contracts it runs a margin (perpetual futures)
//! exchange behind Kalshi's margin document (`/margin/...`) and its
//! WebSocket API ([`MARGIN_WS_PATH`]): matching, positions, a documented
//! margin model, exit triggers, and funding and mark prices a test sets
//! ([`Simulator::apply_margin_funding`], [`Simulator::set_margin_mark`]).
//!
//! The `kalshi-sim` binary serves the same exchange to any client (see its
//! `--help`): it takes public keys with `--key-id ID --public-key FILE` and
//! offers the test controls over a small HTTP API under `/_sim/`.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod engine;

mod account;
mod api;
mod auth;
mod catalog;
mod clock;
mod communications;
pub mod control;
#[cfg(test)]
mod coverage;
mod faults;
mod feed;
mod http;
mod keys;
mod limits;
mod margin;
mod market_data;
mod order_groups;
mod rfq_batches;
#[cfg(test)]
mod robustness;
mod routes;
mod seed;
mod strict;
mod transfers;
mod ws;

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use rust_decimal::Decimal;
use tokio::net::TcpListener;

pub use auth::PublicKey;
pub use engine::{MarketState, Outcome};
pub use faults::{Direction, Fault, JournalEntry, StreamFault, StreamFrame};
pub use keys::ApiKey;
pub use seed::{EventSpec, MarketSpec};

use engine::{Engine, Owner};

/// The base path every operation of the Trade API lives under.
pub const BASE_PATH: &str = kalshi_openapi::BASE_PATH;

/// The path of the WebSocket API, on the same port.
pub use ws::{MARGIN_WS_PATH, WS_PATH};

/// A trading account the simulator accepts requests from.
#[derive(Debug, Clone)]
pub struct Account {
    /// Kalshi's user id.
    pub user_id: String,
    /// The API key id sent in `KALSHI-ACCESS-KEY`.
    pub key_id: String,
    /// The key's public half.
    pub public_key: PublicKey,
    /// Starting cash of the primary account, in dollars.
    pub balance: Decimal,
}

impl Account {
    /// An account with $10,000 that signs with `key`.
    pub fn new(user_id: &str, key: &ApiKey) -> Self {
        Self::with_public_key(user_id, key.key_id(), key.public_key())
    }

    /// An account with $10,000 whose key is known only by its public half
    /// (an RSA or Ed25519 key made elsewhere).
    pub fn with_public_key(user_id: &str, key_id: &str, public_key: PublicKey) -> Self {
        Self {
            user_id: user_id.to_owned(),
            key_id: key_id.to_owned(),
            public_key,
            balance: Decimal::from(10_000),
        }
    }

    /// Sets the starting cash.
    pub fn balance(mut self, dollars: Decimal) -> Self {
        self.balance = dollars;
        self
    }
}

/// What the simulator starts with.
#[derive(Debug, Clone)]
pub struct SimConfig {
    accounts: Vec<Account>,
    rate_limit: Option<(u32, u32)>,
    addr: SocketAddr,
    control_api: bool,
    seeded: bool,
    record_streams: bool,
}

impl Default for SimConfig {
    fn default() -> Self {
        Self {
            accounts: Vec::new(),
            rate_limit: None,
            addr: SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 0),
            control_api: false,
            seeded: true,
            record_streams: false,
        }
    }
}

impl SimConfig {
    /// No accounts (public endpoints only), no rate limits, the seeded
    /// markets, a free loopback port.
    pub fn new() -> Self {
        Self::default()
    }

    /// Accepts requests signed with this account's key.
    pub fn account(mut self, account: Account) -> Self {
        self.accounts.push(account);
        self
    }

    /// Token buckets per key: `read` and `write` tokens per second (each
    /// request costs 10, batch items 10 each); beyond them, 429.
    pub fn rate_limit(mut self, read: u32, write: u32) -> Self {
        self.rate_limit = Some((read, write));
        self
    }

    /// Listens on this loopback port (0, the default: any free port).
    pub fn port(mut self, port: u16) -> Self {
        self.addr.set_port(port);
        self
    }

    /// Listens on this address instead of loopback. The control API then
    /// still answers only loopback peers.
    pub fn bind(mut self, addr: SocketAddr) -> Self {
        self.addr = addr;
        self
    }

    /// Serves the test controls over HTTP under `/_sim/` (see [`control`]).
    pub fn control_api(mut self, on: bool) -> Self {
        self.control_api = on;
        self
    }

    /// Records every text frame of every WebSocket session (see
    /// [`Simulator::stream_journal`]); for tests, as the record grows
    /// without bound.
    pub fn record_streams(mut self, on: bool) -> Self {
        self.record_streams = on;
        self
    }

    /// Starts without the seeded series, events and markets, for tests
    /// that add exactly the markets they need.
    pub fn empty(mut self) -> Self {
        self.seeded = false;
        self
    }
}

/// Everything the request handlers share.
pub(crate) struct Shared {
    state: Mutex<State>,
    faults: faults::Faults,
    sessions: faults::Sessions,
    limits: Option<limits::Limits>,
    control_api: bool,
}

/// The exchange's mutable state.
pub(crate) struct State {
    pub engine: Engine,
    pub catalog: seed::Catalog,
    /// API key id -> (user id, public key).
    pub keys: HashMap<String, (String, PublicKey)>,
    /// Subaccounts created per user (0, the primary, always exists).
    pub subaccounts: HashMap<String, Vec<u32>>,
    /// RFQ batches and the makers' quotes on them.
    pub rfq_batches: rfq_batches::RfqBatches,
    /// Transfers between exchange instances and subaccounts.
    pub transfers: transfers::Transfers,
    /// The exchange clock.
    pub clock: clock::Clock,
    /// What the WebSocket sessions are told.
    pub feed: feed::Feed,
    /// Order groups.
    pub order_groups: order_groups::Store,
    /// Public market data's own state.
    pub market_data: market_data::Store,
    /// Account-level state: API keys, netting, transfers, allocations.
    pub account: account::Store,
    /// RFQs, quotes and block trades.
    pub communications: communications::Store,
    /// Seeded reference data.
    pub reference: catalog::Store,
    /// The margin (perpetual futures) exchange.
    pub margin: margin::Exchange,
}

impl Shared {
    fn state(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock is a bug in the simulator; keep serving.
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The state if its lock is free now; `None` while another holds it.
    fn try_state(&self) -> Option<MutexGuard<'_, State>> {
        match self.state.try_lock() {
            Ok(state) => Some(state),
            Err(std::sync::TryLockError::Poisoned(poisoned)) => Some(poisoned.into_inner()),
            Err(std::sync::TryLockError::WouldBlock) => None,
        }
    }

    /// Reads the state, for async code: right away when the lock is free,
    /// else on a blocking thread, since waiting for the lock here would
    /// hold one of the runtime's threads, which read requests and stamp
    /// their arrival (the rate limits meter as of then).
    async fn read_state<T: Send + 'static>(
        self: &Arc<Self>,
        read: impl FnOnce(&State) -> T + Send + 'static,
    ) -> T {
        if let Some(state) = self.try_state() {
            return read(&state);
        }
        let shared = Arc::clone(self);
        match tokio::task::spawn_blocking(move || read(&shared.state())).await {
            Ok(value) => value,
            Err(error) if error.is_panic() => std::panic::resume_unwind(error.into_panic()),
            // Cancelled: the runtime is shutting down and drops this session
            // with it, so nothing is left to answer.
            Err(_) => std::future::pending().await,
        }
    }
}

impl State {
    /// Tells the WebSocket sessions what the last action changed.
    pub(crate) fn publish(&mut self) {
        self.feed.publish(&mut self.engine);
        let now = self.clock.now_ms();
        self.margin.settle_triggers(now);
        let margin = self.margin.take_updates();
        if !margin.is_empty() {
            self.feed.send(margin);
        }
    }

    /// Sets a margin market's mark; exit triggers that it crosses fire.
    pub(crate) fn set_margin_mark(&mut self, ticker: &str, price: Decimal) -> Result<(), String> {
        let now = self.clock.now_ms();
        self.margin.set_mark(ticker, price, now)?;
        self.publish();
        Ok(())
    }

    /// One funding payment in a margin market, at its mark.
    pub(crate) fn apply_margin_funding(
        &mut self,
        ticker: &str,
        rate: Decimal,
    ) -> Result<usize, String> {
        let now = self.clock.now_ms();
        let paid = self.margin.apply_funding(ticker, rate, now)?;
        self.publish();
        Ok(paid)
    }

    /// Registers an account: its key, its primary subaccount, its cash.
    pub(crate) fn add_account(&mut self, account: &Account) {
        self.keys.insert(
            account.key_id.clone(),
            (account.user_id.clone(), account.public_key.clone()),
        );
        self.subaccounts
            .entry(account.user_id.clone())
            .or_insert_with(|| vec![0]);
        let owner = Owner {
            user_id: account.user_id.clone(),
            subaccount: 0,
        };
        self.engine.deposit(&owner, account.balance);
        let now = self.clock.now_ms();
        self.account
            .record_funding(&account.user_id, account.balance, now);
    }

    /// Lists a market and opens its book.
    pub(crate) fn add_market(&mut self, market: MarketSpec) -> Result<(), String> {
        let ticker = market.ticker.clone();
        self.catalog.add_market(market)?;
        self.engine.add_market(&ticker, MarketState::Open);
        let fees = api::fee_schedule(&self.catalog, &ticker);
        self.engine.set_fee_schedule(&ticker, fees);
        self.publish();
        Ok(())
    }
}

/// A running simulator; stops when dropped.
pub struct Simulator {
    addr: SocketAddr,
    shared: Arc<Shared>,
    server: tokio::task::JoinHandle<()>,
}

impl std::fmt::Debug for Simulator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Simulator")
            .field("addr", &self.addr)
            .finish_non_exhaustive()
    }
}

impl Simulator {
    /// Binds the configured address (loopback, a free port unless one is
    /// configured) and starts serving.
    pub async fn start(config: SimConfig) -> std::io::Result<Self> {
        let listener = TcpListener::bind(config.addr).await?;
        Ok(Self::serve(listener, &config))
    }

    /// Serves on an already bound listener (the binary binds first, so a
    /// busy port fails before anything is written).
    pub fn serve(listener: TcpListener, config: &SimConfig) -> Self {
        let addr = listener
            .local_addr()
            .unwrap_or_else(|_| SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 0));
        let shared = Arc::new(Shared::new(config));
        let server = tokio::spawn(http::serve(listener, Arc::clone(&shared)));
        Self {
            addr,
            shared,
            server,
        }
    }

    /// `http://HOST:PORT/trade-api/v2`, the base URL clients use.
    pub fn base_url(&self) -> String {
        format!("{}{BASE_PATH}", self.origin())
    }

    /// `http://HOST:PORT`.
    pub fn origin(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The address it listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Accepts requests signed with `account`'s key from now on, and funds
    /// its primary account.
    pub fn add_account(&self, account: &Account) {
        self.shared.state().add_account(account);
    }

    /// Adds `dollars` (negative: withdraws) to a user's subaccount.
    pub fn deposit(&self, user_id: &str, subaccount: u32, dollars: Decimal) {
        let owner = Owner {
            user_id: user_id.to_owned(),
            subaccount,
        };
        let mut state = self.shared.state();
        state.engine.deposit(&owner, dollars);
        let now = state.clock.now_ms();
        state.account.record_funding(user_id, dollars, now);
        let numbers = state
            .subaccounts
            .entry(user_id.to_owned())
            .or_insert_with(|| vec![0]);
        if !numbers.contains(&subaccount) {
            numbers.push(subaccount);
        }
    }

    /// Lists a new event (its series must exist).
    pub fn add_event(&self, event: EventSpec) -> Result<(), String> {
        self.shared.state().catalog.add_event(event)
    }

    /// Lists a new market in an existing event and opens its book.
    pub fn add_market(&self, market: MarketSpec) -> Result<(), String> {
        self.shared.state().add_market(market)
    }

    /// Opens or closes a market, or settles it (`MarketState::Settled`):
    /// resting orders are canceled and, on settlement, positions paid out.
    pub fn set_market_state(&self, ticker: &str, state: MarketState) -> Result<(), String> {
        let mut guard = self.shared.state();
        let changed = guard.engine.set_market_state(ticker, state);
        guard.publish();
        changed.map_err(|e| e.message())
    }

    /// Settles a market: $1 per winning contract, positions closed.
    pub fn settle(&self, ticker: &str, outcome: Outcome) -> Result<(), String> {
        self.set_market_state(ticker, MarketState::Settled(outcome))
    }

    /// Moves the exchange clock forward (order expirations, timestamps).
    /// Request signatures are still checked against the real time.
    pub fn advance_clock(&self, by: Duration) {
        self.shared.state().clock.advance(by);
    }

    /// The exchange clock, in milliseconds since the Unix epoch.
    pub fn now_ms(&self) -> i64 {
        self.shared.state().clock.now_ms()
    }

    /// Applies `fault` to each of the next `times` requests (after any
    /// faults already queued).
    pub fn inject(&self, fault: Fault, times: usize) {
        self.shared.faults.push(fault, times, None);
    }

    /// Applies `fault` to each of the next `times` requests whose path ends
    /// with `path` (`"/portfolio/fills"`); other requests pass untouched.
    pub fn inject_at(&self, path: &str, fault: Fault, times: usize) {
        self.shared.faults.push(fault, times, Some(path));
    }

    /// Drops every fault not yet applied (as `DELETE /_sim/faults` does);
    /// returns how many.
    pub fn clear_faults(&self) -> usize {
        self.shared.faults.clear()
    }

    /// Every request received so far, in order.
    pub fn journal(&self) -> Vec<JournalEntry> {
        self.shared.faults.journal()
    }

    /// Runs `f` on the matching engine: read books, count orders, place
    /// orders for other traders.
    pub fn with_engine<R>(&self, f: impl FnOnce(&mut Engine) -> R) -> R {
        let mut state = self.shared.state();
        let result = f(&mut state.engine);
        // Orders placed here stream like any other.
        state.publish();
        result
    }

    /// The open WebSocket sessions, oldest first.
    pub fn stream_sessions(&self) -> Vec<u64> {
        self.shared.sessions.ids()
    }

    /// Applies `fault` to every open WebSocket session; returns how many.
    pub fn inject_stream(&self, fault: StreamFault) -> usize {
        self.shared.sessions.inject(None, &fault)
    }

    /// Applies `fault` to one WebSocket session; whether it is open.
    pub fn inject_stream_on(&self, session: u64, fault: StreamFault) -> bool {
        self.shared.sessions.inject(Some(session), &fault) == 1
    }

    /// Refuses the next `times` `subscribe` commands with code 10 (channel
    /// error), on whichever sessions send them, including sessions not yet
    /// open: how a test makes the subscriptions a client renews after a
    /// reconnect fail ([`StreamFault::RefuseSubscription`] reaches open
    /// sessions only).
    pub fn refuse_subscriptions(&self, times: usize) {
        self.refuse_subscriptions_with(times, 10);
    }

    /// As [`refuse_subscriptions`](Self::refuse_subscriptions), with Kalshi's
    /// error `code` of choice (say 11, invalid parameter, for a refusal
    /// that sending again cannot pass).
    pub fn refuse_subscriptions_with(&self, times: usize, code: i64) {
        self.shared.sessions.refuse_next(times, code);
    }

    /// Every text frame of every WebSocket session so far, in order, when
    /// [`SimConfig::record_streams`] is on.
    pub fn stream_journal(&self) -> Vec<StreamFrame> {
        self.shared.sessions.frames()
    }

    /// Cash `user_id` holds on the margined exchange instance, where
    /// intra-exchange transfers can move it.
    pub fn margined_balance(&self, user_id: &str) -> Decimal {
        self.shared.state().margin.cash(&primary(user_id))
    }

    /// The signed position of `user_id`'s primary margin account in a
    /// margin market (long positive).
    pub fn margin_position(&self, user_id: &str, ticker: &str) -> Decimal {
        self.shared
            .state()
            .margin
            .position(&primary(user_id), ticker)
    }

    /// Cash plus unrealized profit and loss at the mark of `user_id`'s
    /// primary margin account.
    pub fn margin_equity(&self, user_id: &str) -> Decimal {
        self.shared.state().margin.equity(&primary(user_id))
    }

    /// Fees the margin exchange has collected.
    pub fn margin_fees_collected(&self) -> Decimal {
        self.shared.state().margin.fees_collected()
    }

    /// Sets a margin market's mark price (it otherwise follows trades).
    pub fn set_margin_mark(&self, ticker: &str, price: Decimal) -> Result<(), String> {
        self.shared.state().set_margin_mark(ticker, price)
    }

    /// Applies one funding payment in a margin market now, at its mark:
    /// each position pays `position × mark × contract size × rate` (longs
    /// pay shorts when `rate` is positive). Returns how many positions
    /// paid or received. Funding happens only when a test calls this.
    pub fn apply_margin_funding(&self, ticker: &str, rate: Decimal) -> Result<usize, String> {
        self.shared.state().apply_margin_funding(ticker, rate)
    }
}

fn primary(user_id: &str) -> Owner {
    Owner {
        user_id: user_id.to_owned(),
        subaccount: 0,
    }
}

impl Drop for Simulator {
    fn drop(&mut self) {
        self.server.abort();
    }
}

impl Shared {
    fn new(config: &SimConfig) -> Self {
        let catalog = if config.seeded {
            seed::Catalog::seeded()
        } else {
            seed::Catalog::default()
        };
        let mut engine = Engine::new();
        for market in catalog.market_tickers() {
            engine.add_market(&market, MarketState::Open);
            engine.set_fee_schedule(&market, api::fee_schedule(&catalog, &market));
        }
        let feed = feed::Feed::new(&mut engine);
        let mut state = State {
            feed,
            engine,
            order_groups: order_groups::Store::default(),
            market_data: market_data::Store::default(),
            account: account::Store::default(),
            communications: communications::Store::default(),
            reference: catalog::Store::default(),
            margin: margin::Exchange::default(),
            catalog,
            keys: HashMap::new(),
            subaccounts: HashMap::new(),
            rfq_batches: rfq_batches::RfqBatches::default(),
            transfers: transfers::Transfers::default(),
            clock: clock::Clock::default(),
        };
        state.account.set_rate_limit(config.rate_limit);
        for account in &config.accounts {
            state.add_account(account);
        }
        Self {
            state: Mutex::new(state),
            faults: faults::Faults::default(),
            sessions: faults::Sessions::new(config.record_streams),
            limits: config
                .rate_limit
                .map(|(read, write)| limits::Limits::new(read, write)),
            control_api: config.control_api,
        }
    }
}
