//! criterion benchmarks of the client's hot paths.
//!
//! ```text
//! cargo bench -p kalshi-client --features rsa            # measure (a few minutes)
//! cargo bench -p kalshi-client --features rsa -- sign    # one group
//! cargo test  -p kalshi-client --features rsa --benches  # run each benchmark once, as CI does
//! ```
//!
//! Groups: `sign` (one signature per backend), `request` (building and
//! signing one request the way the transport does), `decode` (1000-market
//! and 1000-order pages into the generated types), `encode` (a 20-order
//! batch body), `loopback` (one call end to end against the simulator) and
//! `loopback_concurrent` (64 calls in flight). Nothing here asserts a time;
//! the numbers and how they compare to the Python SDKs are in `BENCHMARKS.md`.

use std::hint::black_box;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use futures_util::future::join_all;
use kalshi_client::generated::types::{
    self, BatchCreateOrdersV2Request, BookSide, CreateOrderV2Request,
    CreateOrderV2RequestTimeInForce, GetMarketsResponse, GetOrdersResponse,
    SelfTradePreventionType,
};
use kalshi_client::order::{NewOrder, Price, Quantity, SelfTradePrevention, TimeInForce};
use kalshi_client::{Client, Count, Credentials, Dollars, Execute, RsaBackend, auth};
use kalshi_sim::{Account, ApiKey, SimConfig, Simulator};
use reqwest::header::{ACCEPT, HeaderName, HeaderValue, USER_AGENT};

#[path = "../../tests/bench/fixtures.rs"]
mod fixtures;

const BALANCE_PATH: &str = "/trade-api/v2/portfolio/balance";
const TIMESTAMP: u64 = 1_703_123_456_789;

fn credentials() -> [(&'static str, Credentials); 3] {
    let rsa = Credentials::from_pem("bench-rsa-key", ApiKey::rsa("k").private_key_pem())
        .expect("rsa key");
    let rust_crypto = rsa.clone().with_rsa_backend(RsaBackend::RustCrypto);
    assert_eq!(rust_crypto.rsa_backend(), Some(RsaBackend::RustCrypto));
    let ed25519 =
        Credentials::from_pem("bench-ed25519-key", ApiKey::ed25519("k").private_key_pem())
            .expect("ed25519 key");
    [
        ("rsa2048_aws_lc", rsa),
        ("rsa2048_rust_crypto", rust_crypto),
        ("ed25519", ed25519),
    ]
}

/// `Credentials::sign`: the signing message, the signature, base64.
fn sign(c: &mut Criterion) {
    let mut group = c.benchmark_group("sign");
    for (name, credentials) in credentials() {
        group.bench_function(name, |b| {
            b.iter(|| {
                credentials
                    .sign(black_box(TIMESTAMP), "GET", black_box(BALANCE_PATH))
                    .expect("sign")
            });
        });
    }
    group.finish();
}

/// What the client does to one request before it is sent: the generated
/// code builds it (URL, `Accept`), the transport adds the user agent and the
/// three signing headers. `transport::Signer::sign` is private; this
/// replicates it with the same public calls (`Credentials::sign` over
/// `auth::wire_path`, the key-id header value made once).
fn request(c: &mut Criterion) {
    let http = reqwest::Client::new();
    let base = "http://127.0.0.1:9/trade-api/v2";
    let user_agent = HeaderValue::from_static("kalshi-client/0.1.0");
    let build = || {
        let mut request = http
            .get(format!("{base}/portfolio/balance"))
            .header(ACCEPT, "application/json")
            .build()
            .expect("request");
        request.headers_mut().insert(USER_AGENT, user_agent.clone());
        request
    };
    let mut group = c.benchmark_group("request");
    group.bench_function("build_unsigned", |b| b.iter(build));
    for (name, credentials) in credentials() {
        if name == "rsa2048_rust_crypto" {
            continue;
        }
        let key_header = HeaderValue::from_str(credentials.key_id()).expect("key id");
        group.bench_function(format!("build_and_sign_{name}"), |b| {
            b.iter(|| {
                let mut request = build();
                sign_like_transport(&credentials, &key_header, &mut request);
                request
            });
        });
    }
    group.finish();
}

fn sign_like_transport(
    credentials: &Credentials,
    key_header: &HeaderValue,
    request: &mut reqwest::Request,
) {
    const KEY: HeaderName = HeaderName::from_static("kalshi-access-key");
    const TIMESTAMP: HeaderName = HeaderName::from_static("kalshi-access-timestamp");
    const SIGNATURE: HeaderName = HeaderName::from_static("kalshi-access-signature");
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64);
    let signed = credentials
        .sign(
            now,
            request.method().as_str(),
            auth::wire_path(request.url()),
        )
        .expect("sign");
    let mut signature = HeaderValue::from_str(&signed.signature).expect("header");
    signature.set_sensitive(true);
    let headers = request.headers_mut();
    headers.insert(KEY, key_header.clone());
    headers.insert(TIMESTAMP, HeaderValue::from(now));
    headers.insert(SIGNATURE, signature);
}

/// Large pages into the generated types, as `ResponseValue::from_response`
/// does (`serde_json::from_slice` over the whole body).
fn decode(c: &mut Criterion) {
    let markets = fixtures::markets_page(1000);
    let orders = fixtures::orders_page(1000);
    let mut group = c.benchmark_group("decode");
    group.throughput(Throughput::Bytes(markets.len() as u64));
    group.bench_function("get_markets_1000", |b| {
        b.iter(|| {
            let page: GetMarketsResponse =
                serde_json::from_slice(black_box(markets.as_bytes())).expect("markets");
            assert_eq!(page.markets.len(), 1000);
            page
        });
    });
    group.throughput(Throughput::Bytes(orders.len() as u64));
    group.bench_function("get_orders_1000", |b| {
        b.iter(|| {
            let page: GetOrdersResponse =
                serde_json::from_slice(black_box(orders.as_bytes())).expect("orders");
            assert_eq!(page.orders.len(), 1000);
            page
        });
    });
    group.finish();
}

/// The body of `POST /portfolio/events/orders/batched` for 20 orders. The
/// client's own `NewOrder::to_request` is crate-private; this builds the
/// same `CreateOrderV2Request` from `NewOrder`'s public getters.
fn encode(c: &mut Criterion) {
    let orders: Vec<NewOrder> = (0..20u32)
        .map(|i| {
            let price =
                Price::new(rust_decimal::Decimal::new(i64::from(10 + i), 2)).expect("price");
            NewOrder::buy_yes(
                format!("KXHIGHNY-26NOV{:02}-B45", i + 1),
                Quantity::contracts(i + 1).expect("count"),
                price,
            )
            .post_only()
        })
        .collect();
    // Built through the generated builder, as the client does (the
    // generated types are `#[non_exhaustive]`).
    let to_request = |order: &NewOrder| -> CreateOrderV2Request {
        CreateOrderV2Request::builder()
            .ticker(order.ticker().to_owned())
            .side(BookSide::from(order.side()))
            .count(Count::new(order.count().value()).expect("count"))
            .price(Dollars::new(order.price().value()).expect("price"))
            .client_order_id(Some(order.id().to_owned()))
            .time_in_force(CreateOrderV2RequestTimeInForce::from(TimeInForce::default()))
            .self_trade_prevention_type(SelfTradePreventionType::from(
                SelfTradePrevention::default(),
            ))
            .post_only(Some(true))
            .try_into()
            .expect("complete")
    };
    let mut group = c.benchmark_group("encode");
    group.throughput(Throughput::Elements(orders.len() as u64));
    group.bench_function("batch_create_20", |b| {
        b.iter(|| {
            let body: BatchCreateOrdersV2Request = BatchCreateOrdersV2Request::builder()
                .orders(
                    black_box(&orders)
                        .iter()
                        .map(to_request)
                        .collect::<Vec<_>>(),
                )
                .try_into()
                .expect("complete");
            serde_json::to_vec(&body).expect("json")
        });
    });
    group.finish();
}

/// The simulator on its own runtime (one worker thread), and clients on a
/// current-thread runtime, as a single-threaded bot would run them.
struct Loopback {
    client_runtime: tokio::runtime::Runtime,
    rsa: Client,
    ed25519: Client,
    simulator: Option<Simulator>,
    _sim_runtime: tokio::runtime::Runtime,
}

impl Loopback {
    fn start() -> Self {
        let sim_runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .expect("runtime");
        let (rsa, ed25519) = (
            ApiKey::rsa("bench-rsa-key"),
            ApiKey::ed25519("bench-ed25519-key"),
        );
        let config = SimConfig::new()
            .account(Account::new("bench-rsa", &rsa))
            .account(Account::new("bench-ed25519", &ed25519));
        let simulator = sim_runtime
            .block_on(Simulator::start(config))
            .expect("simulator");
        let client = |key: &ApiKey| {
            Client::builder()
                .base_url(simulator.base_url())
                .credentials(
                    Credentials::from_pem(key.key_id(), key.private_key_pem()).expect("key"),
                )
                .build()
                .expect("client")
        };
        Self {
            client_runtime: tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime"),
            rsa: client(&rsa),
            ed25519: client(&ed25519),
            simulator: Some(simulator),
            _sim_runtime: sim_runtime,
        }
    }
}

impl Drop for Loopback {
    fn drop(&mut self) {
        // Stop serving before the simulator's runtime goes away.
        drop(self.simulator.take());
    }
}

fn loopback(c: &mut Criterion) {
    let lo = Loopback::start();
    let mut group = c.benchmark_group("loopback");
    for (name, client) in [("balance_rsa", &lo.rsa), ("balance_ed25519", &lo.ed25519)] {
        group.bench_function(name, |b| {
            b.to_async(&lo.client_runtime)
                .iter(|| async { client.portfolio().balance().send().await.expect("balance") });
        });
    }
    group.bench_function("status_unsigned", |b| {
        b.to_async(&lo.client_runtime)
            .iter(|| async { lo.rsa.exchange().status().send().await.expect("status") });
    });
    group.finish();

    const IN_FLIGHT: usize = 64;
    let mut group = c.benchmark_group("loopback_concurrent");
    group.throughput(Throughput::Elements(IN_FLIGHT as u64));
    group.measurement_time(Duration::from_secs(10));
    for (name, client) in [
        ("balance_rsa_x64", &lo.rsa),
        ("balance_ed25519_x64", &lo.ed25519),
    ] {
        group.bench_function(name, |b| {
            b.to_async(&lo.client_runtime).iter(|| async {
                let calls = (0..IN_FLIGHT).map(|_| client.portfolio().balance().send());
                for result in join_all(calls).await {
                    let balance: types::GetBalanceResponse = result.expect("balance");
                    black_box(balance);
                }
            });
        });
    }
    group.finish();
}

criterion_group!(benches, sign, request, decode, encode, loopback);
criterion_main!(benches);
