//! The margin exchange end to end: `client.margin()` against the
//! simulator's margin exchange, every REST request and response validated
//! by Prism against the perps OpenAPI document, and `client.margin().stream()`
//! keeping books and delivering fills over the margin WebSocket API, every
//! frame validated against the perps AsyncAPI document.

use std::collections::BTreeMap;
use std::sync::OnceLock;
use std::time::Duration;

use kalshi_client::generated::types::ExchangeInstance;
use kalshi_client::margin::{MarginPrice, NewMarginOrder};
use kalshi_client::order::{Quantity, Side, TimeInForce};
use kalshi_client::stream::{
    Api, Channel, Margin, MarginEvent, MarginStreamSession, StreamError, Subscription,
};
use kalshi_client::transfer::ExchangeTransfer;
use kalshi_client::{Client, Credentials, Error, Execute, RetryPolicy};
use kalshi_gen::margin::stream::ServerMessage;
use kalshi_sim::{Account, Direction, SimConfig, Simulator, StreamFault};
use kalshi_tests::keys::TestKey;
use kalshi_tests::prism::Prism;
use kalshi_tests::stream_schema::FrameValidator;
use rust_decimal::Decimal;

use crate::support::dec;

const BTC: &str = "KXBTCPERP";
const ETH: &str = "KXETHPERP";
const SETTLE: Duration = Duration::from_secs(15);

fn validator() -> &'static FrameValidator {
    static VALIDATOR: OnceLock<FrameValidator> = OnceLock::new();
    VALIDATOR.get_or_init(FrameValidator::margin)
}

fn price(text: &str) -> MarginPrice {
    MarginPrice::new(dec(text)).unwrap()
}

fn qty(n: u32) -> Quantity {
    Quantity::contracts(n).unwrap()
}

const USERS: [&str; 3] = ["alice", "bob", "carol"];

fn key(user: &str) -> &'static TestKey {
    if user == "bob" {
        TestKey::ed25519()
    } else {
        TestKey::rsa()
    }
}

async fn simulator() -> Simulator {
    let mut config = SimConfig::new().record_streams(true);
    for user in USERS {
        let key_id = format!("{user}-key");
        config = config.account(Account::with_public_key(
            user,
            &key_id,
            key(user).public_key(),
        ));
    }
    Simulator::start(config).await.unwrap()
}

fn client(base_url: &str, user: &str) -> Client {
    Client::builder()
        .base_url(base_url)
        .credentials(Credentials::from_pem(format!("{user}-key"), &key(user).pem).unwrap())
        .retry_policy(
            RetryPolicy::default()
                .with_backoff(Duration::from_millis(1), Duration::from_millis(10)),
        )
        .build()
        .unwrap()
}

/// Moves `dollars` from the event-contract exchange to the margined one.
async fn fund(client: &Client, dollars: &str) {
    let transfer = ExchangeTransfer::new(
        ExchangeInstance::EventContract,
        ExchangeInstance::Margined,
        dec(dollars),
    )
    .unwrap();
    client
        .portfolio()
        .transfer_between_exchanges(&transfer)
        .send()
        .await
        .unwrap();
}

async fn streams(client: &Client) -> MarginStreamSession {
    client
        .margin()
        .stream()
        .reconnect_backoff(Duration::from_millis(5), Duration::from_millis(50))
        .connect()
        .await
        .unwrap()
}

type Ladder = BTreeMap<Decimal, Decimal>;

async fn rest_book(client: &Client, market: &str) -> (Ladder, Ladder) {
    let book = client
        .margin()
        .markets()
        .orderbook(market)
        .send()
        .await
        .unwrap();
    let ladder = |levels: &[kalshi_gen::PriceLevel]| {
        levels
            .iter()
            .map(|l| (l.price.value(), l.count.value()))
            .collect()
    };
    (ladder(&book.orderbook.bids), ladder(&book.orderbook.asks))
}

fn local_book(session: &MarginStreamSession, market: &str) -> Option<(Ladder, Ladder, bool)> {
    let book = session.book(market)?;
    let ladder = |levels: Vec<kalshi_gen::PriceLevel>| {
        levels
            .into_iter()
            .map(|l| (l.price.value(), l.count.value()))
            .collect()
    };
    Some((
        ladder(book.bids(usize::MAX)),
        ladder(book.asks(usize::MAX)),
        book.is_stale(),
    ))
}

/// Reads events into `seen` until `done` holds; panics after [`SETTLE`].
async fn wait_for<F>(
    session: &mut MarginStreamSession,
    seen: &mut Vec<MarginEvent>,
    what: &str,
    mut done: F,
) where
    F: AsyncFnMut(&MarginStreamSession, &[MarginEvent]) -> bool,
{
    let deadline = tokio::time::Instant::now() + SETTLE;
    loop {
        match tokio::time::timeout(Duration::from_millis(20), session.next_event()).await {
            Ok(Some(event)) => {
                seen.push(event);
                continue;
            }
            Ok(None) => panic!("the stream ended while waiting for {what}"),
            Err(_) => {}
        }
        if done(session, seen).await {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}; stats {:?}",
            session.stats()
        );
    }
}

/// Waits until every local book equals the simulator's REST book.
async fn books_match(
    session: &mut MarginStreamSession,
    seen: &mut Vec<MarginEvent>,
    rest: &Client,
) {
    wait_for(
        session,
        seen,
        "local books equal to REST",
        async |session, _| {
            for market in [BTC, ETH] {
                let (bids, asks) = rest_book(rest, market).await;
                match local_book(session, market) {
                    Some((b, a, false)) if b == bids && a == asks => {}
                    _ => return false,
                }
            }
            true
        },
    )
    .await;
}

/// Fills the stream delivered: (trade id, order id, price, count, is taker).
fn stream_fills(seen: &[MarginEvent]) -> Vec<(String, String, Decimal, Decimal, bool)> {
    let mut fills: Vec<_> = seen
        .iter()
        .filter_map(|e| match e {
            MarginEvent::Message {
                message: ServerMessage::Fill(f),
                ..
            } => Some((
                f.msg.trade_id.to_string(),
                f.msg.order_id.to_string(),
                f.msg.price.value(),
                f.msg.count.value(),
                f.msg.is_taker,
            )),
            _ => None,
        })
        .collect();
    fills.sort();
    fills
}

async fn rest_fills(client: &Client) -> Vec<(String, String, Decimal, Decimal, bool)> {
    let fills = client.margin().portfolio().fills().send().await.unwrap();
    let mut fills: Vec<_> = fills
        .fills
        .into_iter()
        .map(|f| {
            // A fill's trade id is not in the REST row; pair by order and size.
            (
                String::new(),
                f.order_id,
                f.price.value(),
                f.count.value(),
                f.is_taker,
            )
        })
        .collect();
    fills.sort();
    fills
}

fn without_trade_ids(
    mut fills: Vec<(String, String, Decimal, Decimal, bool)>,
) -> Vec<(String, String, Decimal, Decimal, bool)> {
    for fill in &mut fills {
        fill.0.clear();
    }
    fills.sort();
    fills
}

/// Every frame either side sent follows the perps AsyncAPI document.
fn assert_frames_follow_the_document(sim: &Simulator) {
    let frames = sim.stream_journal();
    assert!(!frames.is_empty(), "frames were recorded");
    let broken: Vec<String> = frames
        .iter()
        .filter(|f| !f.injected)
        .filter_map(|frame| {
            let checked = match frame.direction {
                Direction::Sent => validator().server_frame(&frame.text),
                Direction::Received => validator().client_frame(&frame.text),
            };
            checked.err().map(|e| format!("{:?}: {e}", frame.direction))
        })
        .collect();
    assert!(
        broken.is_empty(),
        "frames that break the perps document:\n{}",
        broken.join("\n")
    );
}

fn order(market: &str, side: Side, n: u32, at: &str) -> NewMarginOrder {
    NewMarginOrder::new(market, side, qty(n), price(at))
}

#[tokio::test]
async fn margin_trading_positions_balance_and_funding_through_prism_and_the_stream() {
    let sim = simulator().await;
    let prism = Prism::start_margin(&sim.origin()).await.unwrap();
    let alice = client(&prism.base_url(), "alice");
    let bob = client(&prism.base_url(), "bob");
    fund(&alice, "1000").await;
    fund(&bob, "1000").await;
    assert_eq!(sim.margined_balance("alice"), dec("1000"));

    let direct = client(&sim.base_url(), "alice");
    let mut session = streams(&direct).await;
    let books = session
        .subscribe(Subscription::orderbook([BTC, ETH]))
        .await
        .unwrap();
    let fills = session.subscribe(Subscription::fills()).await.unwrap();
    session
        .subscribe(Subscription::user_orders())
        .await
        .unwrap();
    session
        .subscribe(Subscription::trades([BTC]))
        .await
        .unwrap();
    session
        .subscribe(Subscription::ticker([BTC]))
        .await
        .unwrap();
    assert_ne!(books, fills);

    // Alice bids 2 at 99.50; Bob offers 3 at 100.50, then sells 1 into
    // Alice's bid with an immediate-or-cancel order.
    let resting = alice
        .margin()
        .orders()
        .create(&order(BTC, Side::Bid, 2, "99.50"))
        .send()
        .await
        .unwrap();
    assert_eq!(resting.remaining_count.value(), dec("2"));
    bob.margin()
        .orders()
        .create(&order(BTC, Side::Ask, 3, "100.50"))
        .send()
        .await
        .unwrap();
    let taker = order(BTC, Side::Ask, 1, "99.00").time_in_force(TimeInForce::ImmediateOrCancel);
    let taken = bob.margin().orders().create(&taker).send().await.unwrap();
    assert_eq!(taken.fill_count.value(), dec("1"));
    assert_eq!(
        taken.average_fill_price.map(|p| p.value()),
        Some(dec("99.50")),
        "the maker's price"
    );

    let mut seen = Vec::new();
    books_match(&mut session, &mut seen, &alice).await;
    let book = session.book(BTC).unwrap();
    assert_eq!(book.best_bid().unwrap().count.value(), dec("1"));
    assert_eq!(book.best_ask().unwrap().price.value(), dec("100.50"));
    assert_eq!(book.spread(), Some(dec("1.00")));

    // Positions, fills and the balance over REST.
    let position = |client: Client| async move {
        let rows = client
            .margin()
            .portfolio()
            .positions()
            .send()
            .await
            .unwrap()
            .positions;
        rows.into_iter()
            .find(|p| p.market_ticker == BTC)
            .map(|p| p.position.value())
    };
    assert_eq!(position(alice.clone()).await, Some(dec("1")));
    assert_eq!(position(bob.clone()).await, Some(dec("-1")));
    assert_eq!(sim.margin_position("alice", BTC), dec("1"));
    wait_for(&mut session, &mut seen, "Alice's fill", async |_, seen| {
        !stream_fills(seen).is_empty()
    })
    .await;
    assert_eq!(
        without_trade_ids(stream_fills(&seen)),
        rest_fills(&alice).await
    );
    let fee = dec("99.50") * Decimal::from(1) * kalshi_sim_taker_fee();
    let balance = bob.margin().portfolio().balance().send().await.unwrap();
    let primary = &balance.subaccount_balances[0];
    assert_eq!(
        balance.settled_funds.value(),
        dec("1000") - fee,
        "the taker paid the fee"
    );
    assert_eq!(
        primary.initial_margin.value(),
        dec("9.95"),
        "10 % of 1 × 99.50"
    );
    assert_eq!(
        primary.resting_orders_margin.value(),
        dec("30.15"),
        "10 % of 3 × 100.50 resting"
    );

    // Funding: longs pay shorts at a positive rate, at the mark (99.50).
    let rate = dec("0.001");
    assert_eq!(sim.apply_margin_funding(BTC, rate).unwrap(), 2);
    let payment = dec("99.50") * rate;
    assert_eq!(sim.margined_balance("alice"), dec("1000") - payment);
    assert_eq!(sim.margined_balance("bob"), dec("1000") - fee + payment);
    let today = chrono::Utc::now().date_naive();
    let history = alice
        .margin()
        .funding()
        .history()
        .start_date(today - chrono::Days::new(1))
        .end_date(today + chrono::Days::new(1))
        .send()
        .await
        .unwrap()
        .funding_history
        .clone();
    assert_eq!(history.len(), 1);
    assert_eq!(history[0].funding_amount.value(), -payment);
    assert_eq!(history[0].quantity.value(), dec("1"));

    // Money is conserved: what was deposited is equity plus fees.
    let total = sim.margin_equity("alice") + sim.margin_equity("bob") + sim.margin_fees_collected();
    assert_eq!(total, dec("2000"));

    // A cancel answers what it took off the book; cancel-all answers 204.
    let canceled = alice
        .margin()
        .orders()
        .cancel(&resting.order_id)
        .send()
        .await
        .unwrap();
    assert_eq!(canceled.reduced_by.value(), dec("1"));
    bob.margin().orders().cancel_all().send().await.unwrap();
    books_match(&mut session, &mut seen, &alice).await;
    assert!(local_book(&session, BTC).is_some_and(|(b, a, _)| b.is_empty() && a.is_empty()));
    let trades = alice
        .margin()
        .markets()
        .trades()
        .send()
        .await
        .unwrap()
        .trades;
    assert_eq!(trades.len(), 1);
    assert_eq!(trades[0].price.value(), dec("99.50"));

    // What the margin stream does not have is refused before anything is sent.
    let refused = session.subscribe(Subscription::market_positions()).await;
    assert!(
        matches!(
            refused,
            Err(StreamError::UnsupportedChannel {
                channel: Channel::MarketPositions,
                api: "margin"
            })
        ),
        "{refused:?}"
    );
    session.close().await;
    prism.assert_clean();
    assert_frames_follow_the_document(&sim);
}

/// The simulator's documented taker fee rate.
fn kalshi_sim_taker_fee() -> Decimal {
    dec("0.0005")
}

#[tokio::test]
async fn the_margin_exchange_refuses_orders_beyond_the_margin_available() {
    let sim = simulator().await;
    let prism = Prism::start_margin(&sim.origin()).await.unwrap();
    let carol = client(&prism.base_url(), "carol");
    fund(&carol, "50").await;
    // 10 at 100 needs 10 % of $1,000 = $100 of margin; Carol has $50.
    let refused = carol
        .margin()
        .orders()
        .create(&order(BTC, Side::Bid, 10, "100.00"))
        .send()
        .await;
    match refused {
        Err(Error::BadRequest(api)) => {
            assert_eq!(api.code.as_deref(), Some("insufficient_balance"), "{api:?}");
        }
        other => panic!("expected insufficient_balance, got {other:?}"),
    }
    // 4 at 100 needs $40: accepted, and the rest is what is available.
    carol
        .margin()
        .orders()
        .create(&order(BTC, Side::Bid, 4, "100.00"))
        .send()
        .await
        .unwrap();
    let balance = carol.margin().portfolio().balance().send().await.unwrap();
    assert_eq!(
        balance.subaccount_balances[0].available_balance.value(),
        dec("10")
    );
    prism.assert_clean();
}

/// Random trading by three accounts on both margin markets while faults
/// hit the stream: after the flow, the local books equal REST's and the
/// fills the stream delivered equal the fills REST lists.
#[tokio::test]
async fn margin_books_survive_gaps_repeats_and_dropped_connections() {
    let sim = simulator().await;
    let clients: Vec<Client> = USERS.iter().map(|u| client(&sim.base_url(), u)).collect();
    for c in &clients {
        fund(c, "5000").await;
    }
    let mut session = streams(&clients[0]).await;
    session
        .subscribe(Subscription::orderbook([BTC, ETH]))
        .await
        .unwrap();
    session.subscribe(Subscription::fills()).await.unwrap();
    let mut seen = Vec::new();
    let mut rng = 0x9e37_79b9_u64;
    let mut next = |n: u64| {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        rng % n
    };
    let faults = [
        StreamFault::SkipSeq,
        StreamFault::RepeatSeq,
        StreamFault::DropConnection,
    ];
    for (round, fault) in faults.into_iter().enumerate() {
        for i in 0..30 {
            if i == 10 {
                sim.inject_stream(fault.clone());
            }
            let who = &clients[usize::try_from(next(3)).unwrap()];
            let (market, mid) = if next(2) == 0 { (BTC, 100) } else { (ETH, 25) };
            let side = if next(2) == 0 { Side::Bid } else { Side::Ask };
            let offset = i64::try_from(next(5)).unwrap() - 2;
            let at = Decimal::from(mid) + Decimal::new(offset * 25, 2);
            let n = u32::try_from(next(3) + 1).unwrap();
            let order = NewMarginOrder::new(market, side, qty(n), MarginPrice::new(at).unwrap());
            who.margin().orders().create(&order).send().await.unwrap();
        }
        books_match(&mut session, &mut seen, &clients[0]).await;
        let _ = round;
    }
    let stats = session.stats();
    assert!(stats.gaps >= 1, "the skipped seq was seen: {stats:?}");
    assert!(stats.duplicates >= 1, "the repeat was dropped: {stats:?}");
    assert!(stats.reconnects >= 1, "the connection came back: {stats:?}");
    // Fills while the connection was down are not replayed by Kalshi (nor
    // the simulator): compare those delivered with REST's, minus the window.
    let delivered = without_trade_ids(stream_fills(&seen));
    let listed = rest_fills(&clients[0]).await;
    assert!(
        delivered.iter().all(|f| listed.contains(f)),
        "every delivered fill is real"
    );
    assert_frames_follow_the_document(&sim);
}

#[test]
fn every_channel_and_message_of_the_margin_document_has_a_place_in_the_client() {
    let subscribable: std::collections::BTreeSet<&str> = kalshi_gen::margin::stream::CHANNELS
        .iter()
        .map(|c| c.name)
        .filter(|name| !matches!(*name, "root" | "control_frames"))
        .collect();
    for name in &subscribable {
        let channel = Channel::from_name(name).unwrap_or_else(|| panic!("{name} has no `Channel`"));
        assert!(
            Margin::CHANNELS.contains(&channel),
            "{name} is refused by margin sessions"
        );
    }
    let served: std::collections::BTreeSet<&str> =
        Margin::CHANNELS.iter().map(|c| c.name()).collect();
    assert_eq!(served, subscribable);
    for kind in validator().server_types() {
        let known = kalshi_gen::margin::stream::SERVER_MESSAGES
            .iter()
            .any(|(_, wire)| *wire == kind);
        assert!(known, "margin message type {kind} has no generated variant");
    }
}

#[tokio::test]
async fn every_margin_channel_can_be_subscribed_on_the_simulator() {
    let sim = simulator().await;
    let session = streams(&client(&sim.base_url(), "alice")).await;
    for &channel in Margin::CHANNELS {
        let subscription = match channel {
            Channel::Orderbook => Subscription::orderbook([BTC]),
            other => Subscription::new(other),
        };
        session
            .subscribe(subscription)
            .await
            .unwrap_or_else(|e| panic!("{channel}: {e}"));
    }
    assert_eq!(
        session.list_subscriptions().await.unwrap().len(),
        Margin::CHANNELS.len()
    );
    session.close().await;
    assert_frames_follow_the_document(&sim);
}

/// Two connections merged: one is dropped mid-flow and the book keeps
/// updating from the other, with no resync needed.
#[tokio::test]
async fn redundant_margin_connections_lose_nothing_when_one_drops() {
    let sim = simulator().await;
    let clients: Vec<Client> = USERS.iter().map(|u| client(&sim.base_url(), u)).collect();
    for c in &clients {
        fund(c, "5000").await;
    }
    let mut session = clients[0]
        .margin()
        .stream()
        .connections(2)
        .reconnect_backoff(Duration::from_millis(5), Duration::from_millis(50))
        .connect()
        .await
        .unwrap();
    session
        .subscribe(Subscription::orderbook([BTC]))
        .await
        .unwrap();
    let mut seen = Vec::new();
    wait_for(
        &mut session,
        &mut seen,
        "both connections up",
        async |s, _| {
            s.list_subscriptions().await.is_ok_and(|l| !l.is_empty())
                && sim.stream_sessions().len() == 2
        },
    )
    .await;
    let first = sim.stream_sessions()[0];
    for i in 0..20u32 {
        if i == 5 {
            assert!(sim.inject_stream_on(first, StreamFault::DropConnection));
        }
        let side = if i % 2 == 0 { Side::Bid } else { Side::Ask };
        let at = if side == Side::Bid { "99.00" } else { "101.00" };
        let who = &clients[usize::try_from(i % 3).unwrap()];
        who.margin()
            .orders()
            .create(&order(BTC, side, 1 + i % 3, at))
            .send()
            .await
            .unwrap();
    }
    wait_for(
        &mut session,
        &mut seen,
        "the book equal to REST",
        async |s, _| {
            let (bids, asks) = rest_book(&clients[0], BTC).await;
            local_book(s, BTC).is_some_and(|(b, a, stale)| !stale && b == bids && a == asks)
        },
    )
    .await;
    let stats = session.stats();
    assert!(
        stats.deduplicated > 0,
        "both connections delivered: {stats:?}"
    );
    assert!(
        seen.iter()
            .any(|e| matches!(e, MarginEvent::Disconnected { .. })),
        "the first connection was dropped"
    );
    session.close().await;
}

/// A generated margin request body from JSON (the generated types are
/// `#[non_exhaustive]`).
fn body<T: serde::de::DeserializeOwned>(value: serde_json::Value) -> T {
    serde_json::from_value(value).unwrap()
}

fn field(value: &impl serde::Serialize, name: &str) -> serde_json::Value {
    serde_json::to_value(value).unwrap()[name].clone()
}

/// Subaccounts, order groups, amend and decrease, exit triggers and the
/// reference data, all through Prism on the perps document: every margin
/// operation the simulator answers is called once at least, and each
/// answer is checked against what the calls before it did.
#[tokio::test]
async fn every_margin_operation_answers_coherently_through_prism() {
    use kalshi_client::margin::{Bracket, CrossExitTrigger};
    use kalshi_gen::margin::types;

    let sim = simulator().await;
    let prism = Prism::start_margin(&sim.origin()).await.unwrap();
    let alice = client(&prism.base_url(), "alice");
    let bob = client(&prism.base_url(), "bob");
    let carol = client(&prism.base_url(), "carol");
    for c in [&alice, &bob, &carol] {
        fund(c, "2000").await;
    }
    let margin = alice.margin();

    // Exchange, markets, limits.
    assert!(
        margin
            .exchange()
            .status()
            .send()
            .await
            .unwrap()
            .trading_active
    );
    assert!(margin.exchange().enabled().send().await.unwrap().enabled);
    assert!(
        margin
            .account_limits()
            .send()
            .await
            .unwrap()
            .read
            .refill_rate
            > 0
    );
    let markets = margin
        .markets()
        .list()
        .send()
        .await
        .unwrap()
        .markets
        .clone();
    assert_eq!(markets.len(), 2);
    assert_eq!(
        margin
            .markets()
            .get(BTC)
            .send()
            .await
            .unwrap()
            .market
            .ticker,
        BTC
    );
    assert!(
        margin
            .corporate_actions()
            .send()
            .await
            .unwrap()
            .corporate_actions
            .is_empty()
    );

    // Subaccounts: a transfer moves free cash once.
    let sub = margin
        .portfolio()
        .create_subaccount()
        .send()
        .await
        .unwrap()
        .subaccount_number;
    assert_eq!(sub, 1);
    let transfer = || {
        margin
            .portfolio()
            .transfer_between_subaccounts()
            .body(body::<types::ApplySubaccountTransferRequest>(
                serde_json::json!({
                    "client_transfer_id": "5f0c2b36-9d7e-4f4e-9a51-1b2f3c4d5e6f", "from_subaccount": 0, "to_subaccount": 1,
                    "amount_cents": 10_000,
                }),
            ))
    };
    transfer().send().await.unwrap();
    assert!(
        matches!(transfer().send().await, Err(Error::BadRequest(_))),
        "a repeated id moves nothing"
    );
    let balances = margin
        .portfolio()
        .balance()
        .send()
        .await
        .unwrap()
        .subaccount_balances
        .clone();
    let equity = |n: i64| {
        balances
            .iter()
            .find(|b| b.subaccount == n)
            .unwrap()
            .account_equity
            .value()
    };
    assert_eq!((equity(0), equity(1)), (dec("1900"), dec("100")));

    // An order group triggers when its fills reach the limit, canceling
    // the rest of its orders; it takes orders again once reset.
    let group = margin
        .order_groups()
        .create()
        .body(body::<types::CreateOrderGroupRequest>(
            serde_json::json!({"contracts_limit_fp": "2"}),
        ))
        .send()
        .await
        .unwrap()
        .order_group_id
        .clone();
    let grouped = order(BTC, Side::Bid, 5, "99.00").order_group(&group);
    let resting = margin
        .orders()
        .create(&grouped)
        .send()
        .await
        .unwrap()
        .order_id
        .clone();
    let taker = order(BTC, Side::Ask, 2, "99.00").time_in_force(TimeInForce::ImmediateOrCancel);
    bob.margin().orders().create(&taker).send().await.unwrap();
    let state = margin.order_groups().get(&group).send().await.unwrap();
    assert!(state.is_auto_cancel_enabled, "the limit of 2 was reached");
    assert!(state.orders.is_empty(), "its resting order was canceled");
    let canceled = margin.orders().get(&resting).send().await.unwrap();
    assert_eq!(canceled.order.remaining_count.value(), Decimal::ZERO);
    let refused = margin
        .orders()
        .create(&order(BTC, Side::Bid, 1, "98.00").order_group(&group))
        .send()
        .await;
    assert!(matches!(refused, Err(Error::BadRequest(_))), "{refused:?}");
    margin
        .order_groups()
        .reset(&group)
        .body(body::<types::EmptyResponse>(serde_json::json!({})))
        .send()
        .await
        .unwrap();
    margin
        .order_groups()
        .update_limit(&group)
        .body(body::<types::UpdateOrderGroupLimitRequest>(
            serde_json::json!({"contracts_limit_fp": "10"}),
        ))
        .send()
        .await
        .unwrap();
    margin
        .orders()
        .create(&order(BTC, Side::Bid, 1, "98.00").order_group(&group))
        .send()
        .await
        .unwrap();
    margin
        .order_groups()
        .trigger(&group)
        .body(body::<types::EmptyResponse>(serde_json::json!({})))
        .send()
        .await
        .unwrap();
    assert_eq!(
        margin
            .order_groups()
            .list()
            .send()
            .await
            .unwrap()
            .order_groups
            .len(),
        1
    );
    margin.order_groups().delete(&group).send().await.unwrap();
    assert!(
        margin
            .order_groups()
            .list()
            .send()
            .await
            .unwrap()
            .order_groups
            .is_empty()
    );

    // Amend (a new price loses its place) and decrease.
    let placed = margin
        .orders()
        .create(&order(BTC, Side::Bid, 2, "97.00"))
        .send()
        .await
        .unwrap()
        .order_id
        .clone();
    let amended = margin
        .orders()
        .amend(&placed)
        .body(body::<types::AmendMarginOrderRequest>(serde_json::json!({
            "ticker": BTC, "side": "bid", "price": "97.50", "count": "3"
        })))
        .send()
        .await
        .unwrap();
    assert_eq!(amended.remaining_count.map(|c| c.value()), Some(dec("3")));
    let decreased = margin
        .orders()
        .decrease(&placed)
        .body(body::<types::DecreaseMarginOrderRequest>(
            serde_json::json!({"reduce_to": "1"}),
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(decreased.remaining_count.value(), dec("1"));
    let (bids, _) = rest_book(&alice, BTC).await;
    assert_eq!(bids.get(&dec("97.50")), Some(&dec("1")));
    let listed = margin.orders().list().send().await.unwrap().orders.clone();
    assert!(listed.iter().any(|o| o.order_id == placed));
    margin.orders().cancel_all().send().await.unwrap();

    // Exit triggers. Alice is long 2 at 99; Carol bids 5 at 94. A stop
    // loss at 95 fires when the mark falls to 94.50 and sells into her bid.
    assert_eq!(sim.margin_position("alice", BTC), dec("2"));
    carol
        .margin()
        .orders()
        .create(&order(BTC, Side::Bid, 5, "94.00"))
        .send()
        .await
        .unwrap();
    let bracket = Bracket::stop_loss(price("95.00")).and_take_profit(price("110.00"));
    let isolated = margin
        .exit_triggers()
        .set_isolated(BTC, bracket)
        .send()
        .await
        .unwrap();
    assert_eq!(field(&isolated, "status"), "active");
    let cross = CrossExitTrigger::whole_position(Bracket::take_profit(price("120.00")))
        .client_trigger_id("x-1");
    let cross = margin
        .exit_triggers()
        .set_cross(BTC, &cross)
        .send()
        .await
        .unwrap()
        .id
        .clone();
    let updated = margin
        .exit_triggers()
        .update_cross(BTC, &cross, Bracket::take_profit(price("125.00")))
        .send()
        .await
        .unwrap();
    assert_eq!(field(&updated, "take_profit_price"), "125.0000");
    assert_eq!(
        margin
            .exit_triggers()
            .cross(BTC)
            .send()
            .await
            .unwrap()
            .exit_triggers
            .len(),
        1
    );
    margin
        .exit_triggers()
        .delete_cross_by_id(BTC, &cross)
        .send()
        .await
        .unwrap();
    assert!(
        margin
            .exit_triggers()
            .cross(BTC)
            .send()
            .await
            .unwrap()
            .exit_triggers
            .is_empty()
    );
    margin
        .exit_triggers()
        .delete_cross(BTC)
        .send()
        .await
        .unwrap();
    sim.set_margin_mark(BTC, dec("94.50")).unwrap();
    assert_eq!(
        sim.margin_position("alice", BTC),
        Decimal::ZERO,
        "the stop loss closed it"
    );
    let fired = margin
        .exit_triggers()
        .isolated(BTC)
        .send()
        .await
        .unwrap()
        .exit_triggers
        .clone();
    assert_eq!(fired.len(), 1);
    assert_eq!(field(&fired[0], "status"), "filled");
    assert_eq!(field(&fired[0], "triggered_leg"), "stop_loss");
    assert_eq!(fired[0].filled_count.value(), dec("2"));
    margin
        .exit_triggers()
        .delete_isolated(BTC)
        .send()
        .await
        .unwrap();

    // Reference data follows the state: funding applied, trades made.
    sim.apply_margin_funding(BTC, dec("0.0002")).unwrap();
    let rates = margin
        .funding()
        .rates()
        .ticker(BTC)
        .send()
        .await
        .unwrap()
        .funding_rates
        .clone();
    assert_eq!(rates.len(), 1, "one rate, however many positions paid");
    let estimate = margin
        .funding()
        .estimate()
        .ticker(BTC)
        .send()
        .await
        .unwrap();
    assert_eq!(
        estimate.mark_price.as_ref().map(|p| p.value()),
        Some(dec("94"))
    );
    let now = chrono::Utc::now().timestamp();
    margin
        .funding()
        .premium_index()
        .ticker(BTC)
        .start_ts(now - 60)
        .end_ts(now)
        .send()
        .await
        .unwrap();
    let candles = margin
        .markets()
        .candlesticks(BTC)
        .start_ts(now - 3_600)
        .end_ts(now + 3_600)
        .period_interval(types::GetMarginMarketCandlesticksPeriodInterval::try_from(60).unwrap())
        .send()
        .await
        .unwrap()
        .candlesticks
        .clone();
    let volume: Decimal = candles.iter().map(|c| c.volume.value()).sum();
    assert_eq!(
        volume,
        dec("4"),
        "2 contracts into the group, 2 closed by the stop"
    );
    let books = margin
        .markets()
        .orderbooks()
        .tickers(vec![BTC.parse().unwrap(), ETH.parse().unwrap()])
        .send()
        .await
        .unwrap();
    assert_eq!(books.orderbooks.len(), 2);
    margin.risk().parameters().send().await.unwrap();
    margin.risk().notional_limit().send().await.unwrap();
    let risk = carol.margin().risk().account().send().await.unwrap();
    assert_eq!(
        risk.positions.len(),
        1,
        "Carol is long what Alice's stop sold"
    );
    margin.fees().tiers().send().await.unwrap();
    margin.fees().tier_rates().send().await.unwrap();

    // No simulated account is an FCM.
    let fcm = margin
        .fcm()
        .create_subtrader()
        .body(body::<types::CreateMarginFcmSubtraderRequest>(
            serde_json::json!({
                "subtrader_suffix": "a", "require_category_cap": false
            }),
        ))
        .send()
        .await;
    assert!(matches!(fcm, Err(Error::Auth { .. })), "{fcm:?}");
    prism.assert_clean();
}

/// The binary's control API drives funding and the mark for bots written
/// in any language.
#[tokio::test]
async fn the_control_api_applies_margin_funding_and_moves_the_mark() {
    let mut config = SimConfig::new().control_api(true);
    for user in ["alice", "bob"] {
        let key_id = format!("{user}-key");
        config = config.account(Account::with_public_key(
            user,
            &key_id,
            key(user).public_key(),
        ));
    }
    let sim = Simulator::start(config).await.unwrap();
    let (alice, bob) = (
        client(&sim.base_url(), "alice"),
        client(&sim.base_url(), "bob"),
    );
    fund(&alice, "1000").await;
    fund(&bob, "1000").await;
    alice
        .margin()
        .orders()
        .create(&order(ETH, Side::Bid, 4, "25.00"))
        .send()
        .await
        .unwrap();
    let taker = order(ETH, Side::Ask, 4, "25.00").time_in_force(TimeInForce::ImmediateOrCancel);
    bob.margin().orders().create(&taker).send().await.unwrap();
    let control = |path: &str, body: serde_json::Value| {
        let url = format!("{}/_sim/{path}", sim.origin());
        async move {
            let response = reqwest::Client::new()
                .post(url)
                .json(&body)
                .send()
                .await
                .unwrap();
            (
                response.status().as_u16(),
                response.json::<serde_json::Value>().await.unwrap(),
            )
        }
    };
    let (status, answer) = control(
        "margin/mark",
        serde_json::json!({"ticker": ETH, "price": "26.00"}),
    )
    .await;
    assert_eq!((status, answer["ok"].as_bool()), (200, Some(true)));
    assert_eq!(
        sim.margin_equity("alice"),
        dec("1004"),
        "long 4 from 25 to 26"
    );
    let (status, answer) = control(
        "margin/funding",
        serde_json::json!({"ticker": ETH, "rate": "0.01"}),
    )
    .await;
    assert_eq!((status, answer["paid"].as_u64()), (200, Some(2)));
    // 4 × 26 × 1 % = 1.04 from the long to the short.
    assert_eq!(sim.margined_balance("alice"), dec("1000") - dec("1.04"));
    let (status, _) = control(
        "margin/mark",
        serde_json::json!({"ticker": ETH, "price": "0"}),
    )
    .await;
    assert_eq!(status, 400, "a mark must be positive");
}

#[tokio::test]
async fn margin_order_group_events_stream_to_their_owner_only() {
    use kalshi_gen::margin::types;

    let sim = simulator().await;
    let (alice, bob) = (
        client(&sim.base_url(), "alice"),
        client(&sim.base_url(), "bob"),
    );
    let mut mine = streams(&alice).await;
    let mut theirs = streams(&bob).await;
    mine.subscribe(Subscription::order_group_updates())
        .await
        .unwrap();
    theirs
        .subscribe(Subscription::order_group_updates())
        .await
        .unwrap();
    let groups = alice.margin().order_groups();
    let id = groups
        .create()
        .body(body::<types::CreateOrderGroupRequest>(
            serde_json::json!({"contracts_limit_fp": "3"}),
        ))
        .send()
        .await
        .unwrap()
        .order_group_id
        .clone();
    let limit =
        body::<types::UpdateOrderGroupLimitRequest>(serde_json::json!({"contracts_limit_fp": "5"}));
    groups.update_limit(&id).body(limit).send().await.unwrap();
    let empty = || body::<types::EmptyResponse>(serde_json::json!({}));
    groups.trigger(&id).body(empty()).send().await.unwrap();
    groups.reset(&id).body(empty()).send().await.unwrap();
    groups.delete(&id).send().await.unwrap();
    let events = |seen: &[MarginEvent]| -> Vec<(String, Option<Decimal>)> {
        seen.iter()
            .filter_map(|e| match e {
                MarginEvent::Message {
                    message: ServerMessage::OrderGroupUpdates(u),
                    ..
                } => Some((
                    serde_json::to_value(&u.msg.event_type)
                        .unwrap()
                        .as_str()
                        .unwrap()
                        .to_owned(),
                    u.msg.contracts_limit_fp.as_ref().map(|c| c.value()),
                )),
                _ => None,
            })
            .collect()
    };
    let mut seen = Vec::new();
    wait_for(
        &mut mine,
        &mut seen,
        "five group events",
        async |_, seen| events(seen).len() == 5,
    )
    .await;
    let expected = [
        ("created", Some(dec("3"))),
        ("limit_updated", Some(dec("5"))),
        ("triggered", None),
        ("reset", None),
        ("deleted", None),
    ];
    let expected: Vec<(String, Option<Decimal>)> = expected
        .into_iter()
        .map(|(k, l)| (k.to_owned(), l))
        .collect();
    assert_eq!(events(&seen), expected);
    let mut other = Vec::new();
    while let Ok(Some(event)) =
        tokio::time::timeout(Duration::from_millis(200), theirs.next_event()).await
    {
        other.push(event);
    }
    assert!(events(&other).is_empty(), "Bob sees none of Alice's groups");
    assert_frames_follow_the_document(&sim);
}
