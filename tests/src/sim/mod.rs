//! A local stand-in for the Kalshi Trade API.
//!
//! Real HTTP on loopback under `/trade-api/v2`, signatures verified like
//! Kalshi does (RSA-PSS through the `rsa` crate, Ed25519), a matching engine
//! on the YES book ([`engine`]), seeded series, events and markets, and test
//! controls: faults injected into the next requests and a journal of what
//! arrived, so a test can count what the exchange really executed.
//!
//! ```no_run
//! # async fn demo() {
//! use kalshi_tests::sim::{Account, Simulator, SimConfig};
//! use kalshi_tests::keys::TestKey;
//! let sim = Simulator::start(SimConfig::new().account(Account::new("alice", "key-1", TestKey::ed25519().public_key()))).await.unwrap();
//! println!("{}", sim.base_url()); // http://127.0.0.1:PORT/trade-api/v2
//! # }
//! ```

pub mod engine;

mod api;
mod auth;
mod faults;
mod http;
mod limits;
mod rfq_batches;
mod routes;
mod seed;
mod strict;
mod transfers;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};

use rust_decimal::Decimal;
use tokio::net::TcpListener;

pub use auth::PublicKey;
pub use faults::{Fault, JournalEntry};

use engine::Engine;

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
    /// An account with $10,000.
    pub fn new(user_id: &str, key_id: &str, public_key: PublicKey) -> Self {
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
#[derive(Debug, Clone, Default)]
pub struct SimConfig {
    accounts: Vec<Account>,
    rate_limit: Option<(u32, u32)>,
    port: u16,
}

impl SimConfig {
    /// No accounts (public endpoints only), no rate limits, a free port.
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

    /// Listens on this loopback port (0: any free port).
    pub fn port(mut self, port: u16) -> Self {
        self.port = port;
        self
    }
}

/// Everything the request handlers share.
pub(crate) struct Shared {
    state: Mutex<State>,
    keys: HashMap<String, (String, PublicKey)>,
    faults: faults::Faults,
    limits: Option<limits::Limits>,
    spec: strict::SpecIndex,
}

/// The exchange's mutable state.
pub(crate) struct State {
    pub engine: Engine,
    pub catalog: seed::Catalog,
    /// Subaccounts created per user (0, the primary, always exists).
    pub subaccounts: HashMap<String, Vec<u32>>,
    /// RFQ batches and the makers' quotes on them.
    pub rfq_batches: rfq_batches::RfqBatches,
    /// Transfers between exchange instances and subaccounts.
    pub transfers: transfers::Transfers,
}

impl Shared {
    fn state(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock is a bug in the simulator; keep serving.
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// A running simulator; stops when dropped.
pub struct Simulator {
    addr: SocketAddr,
    shared: Arc<Shared>,
    server: tokio::task::JoinHandle<()>,
}

impl Simulator {
    /// Starts serving on 127.0.0.1.
    pub async fn start(config: SimConfig) -> std::io::Result<Self> {
        let listener = TcpListener::bind(("127.0.0.1", config.port)).await?;
        let addr = listener.local_addr()?;
        let shared = Arc::new(Shared::new(&config));
        let server = tokio::spawn(http::serve(listener, Arc::clone(&shared)));
        Ok(Self {
            addr,
            shared,
            server,
        })
    }

    /// `http://127.0.0.1:PORT/trade-api/v2`.
    pub fn base_url(&self) -> String {
        format!("{}{}", self.origin(), kalshi_openapi::BASE_PATH)
    }

    /// `http://127.0.0.1:PORT`.
    pub fn origin(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Applies `fault` to each of the next `times` requests (after any
    /// faults already queued).
    pub fn inject(&self, fault: Fault, times: usize) {
        self.shared.faults.push(fault, times);
    }

    /// Every request received so far, in order.
    pub fn journal(&self) -> Vec<JournalEntry> {
        self.shared.faults.journal()
    }

    /// Runs `f` on the exchange's state: read the book, count orders, move time.
    pub fn with_engine<R>(&self, f: impl FnOnce(&mut Engine) -> R) -> R {
        f(&mut self.shared.state().engine)
    }

    /// Cash `user_id` holds on the margined exchange instance, where
    /// intra-exchange transfers can move it.
    pub fn margined_balance(&self, user_id: &str) -> Decimal {
        self.shared.state().transfers.margined_balance(user_id)
    }
}

impl Drop for Simulator {
    fn drop(&mut self) {
        self.server.abort();
    }
}

impl Shared {
    fn new(config: &SimConfig) -> Self {
        let mut engine = Engine::new();
        let catalog = seed::Catalog::seeded();
        for market in catalog.market_tickers() {
            engine.add_market(&market, engine::MarketState::Open);
        }
        let mut keys = HashMap::new();
        let mut subaccounts = HashMap::new();
        for account in &config.accounts {
            let owner = engine::Owner {
                user_id: account.user_id.clone(),
                subaccount: 0,
            };
            engine.deposit(&owner, account.balance);
            keys.insert(
                account.key_id.clone(),
                (account.user_id.clone(), account.public_key.clone()),
            );
            subaccounts.insert(account.user_id.clone(), vec![0]);
        }
        Self {
            state: Mutex::new(State {
                engine,
                catalog,
                subaccounts,
                rfq_batches: rfq_batches::RfqBatches::default(),
                transfers: transfers::Transfers::default(),
            }),
            keys,
            faults: faults::Faults::default(),
            limits: config
                .rate_limit
                .map(|(read, write)| limits::Limits::new(read, write)),
            spec: strict::SpecIndex::load(),
        }
    }
}
