//! The streams end to end: the client's `StreamSession` against the
//! simulator's WebSocket API, over real sockets on loopback.
//!
//! Every text frame either side sends is recorded by the simulator and
//! validated against the AsyncAPI document's schemas by the `jsonschema`
//! crate (not the generated types), as Prism does for REST.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::OnceLock;
use std::time::{Duration, SystemTime};

use futures_util::{SinkExt, StreamExt, TryStreamExt};
use kalshi_client::order::{
    CancelOrder, Decrease, DecreaseOrder, NewOrder, Price, Quantity, Subaccount,
};
use kalshi_client::stream::{
    Api, Channel, Event, EventContracts, Margin, StreamBuilder, StreamError, StreamSession,
    Subscription, SubscriptionId,
};
use kalshi_client::{Client, Credentials, Execute, Paginate, RetryPolicy};
use kalshi_gen::ClientPortfolioExt;
use kalshi_gen::stream::ServerMessage;
use kalshi_sim::{
    Account, Direction, Fault, MarketState, Outcome, SimConfig, Simulator, StreamFault,
};
use kalshi_tests::keys::TestKey;
use kalshi_tests::stream_schema::FrameValidator;
use rust_decimal::Decimal;

use crate::account_views::{
    FillView, OrderView, PositionState, PositionView, recovered_position, rest_fill, rest_order,
    rest_position, streamed_fill, streamed_order, streamed_position,
};
use crate::support::dec;

const MARKETS: [&str; 3] = [
    "KXTEST-26DEC31-YES",
    "KXTEST-27JUN30-YES",
    "KXHIGHNY-26NOV30-B40",
];

/// Long enough for anything on loopback; only a broken stream waits it out.
const SETTLE: Duration = Duration::from_secs(30);

fn validator() -> &'static FrameValidator {
    static VALIDATOR: OnceLock<FrameValidator> = OnceLock::new();
    VALIDATOR.get_or_init(FrameValidator::new)
}

struct Stack {
    sim: Simulator,
    alice: Client,
    /// Alice's key, with subaccount 2 as the client's default.
    alice_on_two: Client,
    bob: Client,
    carol: Client,
}

async fn stack() -> Stack {
    let keys = [
        ("alice", TestKey::rsa()),
        ("bob", TestKey::ed25519()),
        ("carol", TestKey::rsa()),
    ];
    let mut config = SimConfig::new().record_streams(true);
    for (user, key) in &keys {
        let key_id = format!("{user}-key");
        config = config.account(Account::with_public_key(user, &key_id, key.public_key()));
    }
    let sim = Simulator::start(config).await.unwrap();
    let builder = |user: &str, key: &TestKey| {
        Client::builder()
            .base_url(sim.base_url())
            .credentials(Credentials::from_pem(format!("{user}-key"), &key.pem).unwrap())
            .retry_policy(
                RetryPolicy::default()
                    .with_backoff(Duration::from_millis(1), Duration::from_millis(10)),
            )
    };
    let client = |user: &str, key: &TestKey| builder(user, key).build().unwrap();
    Stack {
        alice: client("alice", keys[0].1),
        alice_on_two: builder("alice", keys[0].1)
            .default_subaccount(Subaccount::new(2).unwrap())
            .build()
            .unwrap(),
        bob: client("bob", keys[1].1),
        carol: client("carol", keys[2].1),
        sim,
    }
}

/// A stream builder tuned for tests: quick reconnects.
fn streams(client: &Client) -> StreamBuilder {
    client
        .stream()
        .reconnect_backoff(Duration::from_millis(5), Duration::from_millis(50))
}

fn cents(n: u32) -> Price {
    Price::new(Decimal::new(i64::from(n), 2)).unwrap()
}

/// Fails the test on any frame, sent or received, that breaks the
/// document's schemas (frames a fault injected are not Kalshi's).
fn assert_frames_follow_the_document(sim: &Simulator) {
    let frames = sim.stream_journal();
    assert!(!frames.is_empty(), "frames were recorded");
    let mut broken = Vec::new();
    for frame in frames.iter().filter(|f| !f.injected) {
        let checked = match frame.direction {
            Direction::Sent => validator().server_frame(&frame.text),
            Direction::Received => validator().client_frame(&frame.text),
        };
        if let Err(error) = checked {
            broken.push(format!("{:?}: {error}", frame.direction));
        }
    }
    assert!(
        broken.is_empty(),
        "frames that break the document:\n{}",
        broken.join("\n")
    );
}

type Ladder = BTreeMap<Decimal, Decimal>;

async fn rest_book(client: &Client, market: &str) -> (Ladder, Ladder) {
    let book = client
        .markets()
        .orderbook(market)
        .send()
        .await
        .unwrap()
        .orderbook_fp;
    let ladder = |levels: &[kalshi_gen::PriceLevel]| {
        levels
            .iter()
            .map(|l| (l.price.value(), l.count.value()))
            .collect()
    };
    (ladder(&book.yes_dollars), ladder(&book.no_dollars))
}

/// The session's book as ladders, and whether it is stale.
fn local_book(session: &StreamSession, market: &str) -> Option<(Ladder, Ladder, bool)> {
    let book = session.book(market)?;
    let ladder = |levels: Vec<kalshi_gen::PriceLevel>| {
        levels
            .into_iter()
            .map(|l| (l.price.value(), l.count.value()))
            .collect()
    };
    Some((
        ladder(book.bids(usize::MAX)),
        ladder(book.no_bids(usize::MAX)),
        book.is_stale(),
    ))
}

/// What the stream delivered, collected while waiting.
#[derive(Default)]
struct Seen {
    events: Vec<Event>,
}

impl Seen {
    /// Each order's state after applying, in the order received, every
    /// `user_order` message and every order recovered over REST.
    fn order_states(&self) -> BTreeMap<String, OrderView> {
        self.states(|event| match event {
            Event::Message {
                message: ServerMessage::UserOrder(update),
                ..
            } => vec![streamed_order(update)],
            Event::OrdersRecovered { orders, .. } => orders.iter().map(rest_order).collect(),
            _ => Vec::new(),
        })
    }

    /// Each state after applying, in the order received, the states `view`
    /// reads of every event (a message, a recovery's list).
    fn states<K: Ord, V>(&self, view: impl Fn(&Event) -> Vec<(K, V)>) -> BTreeMap<K, V> {
        let mut states = BTreeMap::new();
        for event in &self.events {
            states.extend(view(event));
        }
        states
    }

    fn recovered_orders(&self) -> usize {
        self.events
            .iter()
            .map(|e| match e {
                Event::OrdersRecovered { orders, .. } => orders.len(),
                _ => 0,
            })
            .sum()
    }

    /// Every fill delivered, streamed or recovered over REST.
    fn fills(&self) -> Vec<FillView> {
        let mut fills = self.streamed_fills();
        fills.extend(self.recovered_fills());
        fills
    }

    fn streamed_fills(&self) -> Vec<FillView> {
        self.events
            .iter()
            .filter_map(|e| match e {
                Event::Message {
                    message: ServerMessage::Fill(fill),
                    ..
                } => Some(streamed_fill(fill)),
                _ => None,
            })
            .collect()
    }

    fn recovered_fills(&self) -> Vec<FillView> {
        self.events
            .iter()
            .filter_map(|e| match e {
                Event::FillsRecovered { fills, .. } => Some(fills),
                _ => None,
            })
            .flatten()
            .map(rest_fill)
            .collect()
    }

    fn count(&self, pattern: impl Fn(&Event) -> bool) -> usize {
        self.events.iter().filter(|e| pattern(e)).count()
    }
}

/// Reads events until `done` holds (checked whenever the stream is quiet
/// for a moment); panics with `what` after [`SETTLE`].
async fn wait_for<F>(session: &mut StreamSession, seen: &mut Seen, what: &str, mut done: F)
where
    F: AsyncFnMut(&StreamSession, &Seen) -> bool,
{
    let deadline = tokio::time::Instant::now() + SETTLE;
    loop {
        match tokio::time::timeout(Duration::from_millis(20), session.next_event()).await {
            Ok(Some(event)) => {
                seen.events.push(event);
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
            "timed out waiting for {what}; stats {:?}; last events {:?}",
            session.stats(),
            seen.events.iter().rev().take(4).collect::<Vec<_>>()
        );
    }
}

/// Waits until every local book equals the exchange's REST order book and
/// is not stale.
async fn wait_for_books(
    session: &mut StreamSession,
    seen: &mut Seen,
    rest: &Client,
    markets: &[&str],
) {
    wait_for(
        session,
        seen,
        "the books to match REST",
        async |session, _| {
            for market in markets {
                let (yes, no) = rest_book(rest, market).await;
                match local_book(session, market) {
                    Some((l_yes, l_no, false)) if l_yes == yes && l_no == no => {}
                    _ => return false,
                }
            }
            true
        },
    )
    .await;
}

/// Waits until every order of `client` but `unheard` is, by the stream (and
/// recoveries), as REST lists it.
async fn wait_for_orders(
    session: &mut StreamSession,
    seen: &mut Seen,
    client: &Client,
    unheard: Option<&str>,
) {
    let listed: Vec<kalshi_gen::types::Order> = client
        .orders()
        .list()
        .limit(1000)
        .stream(None)
        .try_collect()
        .await
        .unwrap();
    let rest: BTreeMap<_, _> = listed
        .iter()
        .map(rest_order)
        .filter(|(id, _)| Some(id.as_str()) != unheard)
        .collect();
    wait_for(
        session,
        seen,
        "the orders to match REST",
        async |_, seen| seen.order_states() == rest,
    )
    .await;
}

/// Waits until the fills delivered equal those REST lists for `client`.
async fn wait_for_fills(session: &mut StreamSession, seen: &mut Seen, client: &Client) {
    let listed: Vec<_> = client
        .portfolio()
        .fills()
        .stream(None)
        .try_collect()
        .await
        .unwrap();
    let mut rest: Vec<_> = listed.iter().map(rest_fill).collect();
    rest.sort();
    wait_for(session, seen, "the fills to match REST", async |_, seen| {
        let mut streamed = seen.fills();
        streamed.sort();
        streamed.len() >= rest.len()
    })
    .await;
    let mut streamed = seen.fills();
    streamed.sort();
    assert_eq!(
        streamed, rest,
        "each fill streamed once, as REST lists them"
    );
}

/// Random orders, cancels and decreases from three accounts on every
/// market; deterministic for a seed.
async fn random_flow(stack: &Stack, seed: u64, rounds: usize) {
    let rng = fastrand_like(seed);
    let traders = [&stack.alice, &stack.bob, &stack.carol];
    let mut resting: Vec<(usize, String)> = Vec::new();
    for round in 0..rounds {
        let r = rng(round);
        let who = (r % 3) as usize;
        let client = traders[who];
        let market = MARKETS[((r >> 8) % 3) as usize];
        match (r >> 16) % 10 {
            0 | 1 if !resting.is_empty() => {
                let (owner, id) = resting.swap_remove(((r >> 24) as usize) % resting.len());
                // Already filled or canceled: the exchange says so; fine.
                let _ = traders[owner]
                    .orders()
                    .cancel(CancelOrder::new(id))
                    .send()
                    .await;
            }
            2 if !resting.is_empty() => {
                let (owner, id) = &resting[((r >> 24) as usize) % resting.len()];
                let decrease = DecreaseOrder::from(Decrease::By(Quantity::contracts(1).unwrap()));
                let _ = traders[*owner]
                    .orders()
                    .decrease(id, &decrease)
                    .send()
                    .await;
            }
            _ => {
                let price = cents(35 + ((r >> 24) % 31) as u32);
                let count = Quantity::contracts(1 + ((r >> 32) % 5) as u32).unwrap();
                let order = if (r >> 40).is_multiple_of(2) {
                    NewOrder::buy_yes(market, count, price)
                } else {
                    NewOrder::sell_yes(market, count, price)
                };
                let placed = client.orders().create(&order).send().await.unwrap();
                if placed.remaining_count.value() > Decimal::ZERO {
                    resting.push((who, placed.order_id));
                }
            }
        }
    }
}

/// A small deterministic generator (splitmix64) so a failing flow can be
/// replayed from its seed.
fn fastrand_like(seed: u64) -> impl Fn(usize) -> u64 {
    move |i| {
        let mut z = seed.wrapping_add((i as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15));
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
}

async fn subscribe_books_and_fills(session: &StreamSession) {
    session
        .subscribe(Subscription::orderbook(MARKETS))
        .await
        .unwrap();
    session.subscribe(Subscription::fills()).await.unwrap();
}

// ---------------------------------------------------------------------------
// The document's channels and messages all have a place
// ---------------------------------------------------------------------------

#[test]
fn every_channel_of_the_document_has_a_place_in_the_client() {
    let subscribable: Vec<&str> = kalshi_gen::stream::CHANNELS
        .iter()
        .map(|c| c.name)
        // `root` carries the commands and their answers, `control_frames`
        // the WebSocket pings: neither is subscribed to.
        .filter(|name| !matches!(*name, "root" | "control_frames"))
        .collect();
    for name in &subscribable {
        assert!(
            Channel::from_name(name).is_some(),
            "channel {name} has no `Channel`"
        );
    }
    let names: BTreeSet<&str> = EventContracts::CHANNELS.iter().map(|c| c.name()).collect();
    assert_eq!(names, subscribable.into_iter().collect::<BTreeSet<_>>());
    // `Channel` names the channels of both documents and no other.
    let both: BTreeSet<Channel> = EventContracts::CHANNELS
        .iter()
        .chain(Margin::CHANNELS)
        .copied()
        .collect();
    assert_eq!(both, Channel::ALL.into_iter().collect());
}

#[test]
fn every_message_type_of_the_document_decodes_to_a_generated_type() {
    for kind in validator().server_types() {
        let known = kalshi_gen::stream::SERVER_MESSAGES
            .iter()
            .any(|(_, wire)| *wire == kind);
        assert!(known, "message type {kind} has no generated variant");
    }
}

// ---------------------------------------------------------------------------
// Connecting
// ---------------------------------------------------------------------------

#[tokio::test]
async fn a_client_without_credentials_is_refused_before_dialling() {
    let sim = Simulator::start(SimConfig::new().record_streams(true))
        .await
        .unwrap();
    let client = Client::builder().base_url(sim.base_url()).build().unwrap();
    let refused = client.stream().connect().await.unwrap_err();
    assert!(
        matches!(refused, StreamError::MissingCredentials),
        "{refused:?}"
    );
    assert!(refused.to_string().contains("signed connection"));
    assert!(sim.stream_sessions().is_empty() && sim.stream_journal().is_empty());
}

#[tokio::test]
async fn an_unsigned_or_wrongly_signed_upgrade_is_refused_with_401() {
    let stack = stack().await;
    let url = format!("ws://{}{}", stack.sim.local_addr(), kalshi_sim::WS_PATH);
    let unsigned = tokio_tungstenite::connect_async(&url).await.unwrap_err();
    assert!(
        matches!(&unsigned, tokio_tungstenite::tungstenite::Error::Http(r) if r.status() == 401),
        "{unsigned:?}"
    );
    // A key the exchange does not know.
    let stranger = Client::builder()
        .base_url(stack.sim.base_url())
        .credentials(Credentials::from_pem("nobody", &TestKey::rsa().pem).unwrap())
        .build()
        .unwrap();
    match stranger.stream().connect().await.unwrap_err() {
        StreamError::Connect { status, .. } => assert_eq!(status, Some(401)),
        other => panic!("expected a refused upgrade, got {other:?}"),
    }
    assert!(stack.sim.stream_sessions().is_empty());
}

#[tokio::test]
async fn an_unreachable_exchange_fails_the_connect_instead_of_hanging() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    let client = Client::builder()
        .base_url(format!("http://{addr}/trade-api/v2"))
        .credentials(Credentials::from_pem("k", &TestKey::ed25519().pem).unwrap())
        .build()
        .unwrap();
    for connections in [1, 3] {
        match streams(&client)
            .connections(connections)
            .connect()
            .await
            .unwrap_err()
        {
            StreamError::Connect { status, .. } => assert_eq!(status, None),
            other => panic!("expected a connect error, got {other:?}"),
        }
    }
}

#[tokio::test]
async fn every_connection_attempt_is_signed_afresh_with_the_clients_user_agent() {
    use tokio_tungstenite::tungstenite::handshake::server::{Request, Response};
    // A server that accepts the upgrade, records its headers, and hangs up
    // at once, so the client dials again.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (seen, mut upgrades) = tokio::sync::mpsc::unbounded_channel();
    tokio::spawn(async move {
        loop {
            let (socket, _) = listener.accept().await.unwrap();
            let seen = seen.clone();
            // The error type is tungstenite's, sized as it is.
            #[allow(clippy::result_large_err)]
            let record = move |request: &Request, response: Response| {
                let _ = seen.send(request.headers().clone());
                Ok(response)
            };
            drop(tokio_tungstenite::accept_hdr_async(socket, record).await);
        }
    });
    let key = TestKey::rsa();
    let client = Client::builder()
        .base_url(format!("http://{addr}/trade-api/v2"))
        .credentials(Credentials::from_pem("bot-key", &key.pem).unwrap())
        .user_agent("my-bot/1.2")
        .build()
        .unwrap();
    let session = streams(&client).connect().await.unwrap();
    let mut signatures = Vec::new();
    for _ in 0..2 {
        let headers = upgrades.recv().await.unwrap();
        let header = |name: &str| headers[name].to_str().unwrap().to_owned();
        assert_eq!(header("user-agent"), "my-bot/1.2");
        assert_eq!(header("kalshi-access-key"), "bot-key");
        let message = format!(
            "{}GET{}",
            header("kalshi-access-timestamp"),
            kalshi_sim::WS_PATH
        );
        let signature = header("kalshi-access-signature");
        assert!(key.public_key().verifies(message.as_bytes(), &signature));
        signatures.push(signature);
    }
    // RSA-PSS is salted: a reused signature would repeat, a fresh one never does.
    assert_ne!(
        signatures[0], signatures[1],
        "the reconnect was signed again"
    );
    drop(session);
}

// ---------------------------------------------------------------------------
// Commands
// ---------------------------------------------------------------------------

#[tokio::test]
async fn commands_are_answered_and_refusals_carry_kalshis_codes() {
    let stack = stack().await;
    let session = streams(&stack.alice).connect().await.unwrap();
    let books = session
        .subscribe(Subscription::orderbook([MARKETS[0]]))
        .await
        .unwrap();
    let ticker = session
        .subscribe(Subscription::ticker(MARKETS))
        .await
        .unwrap();
    assert_ne!(books, ticker);
    let listed = session.list_subscriptions().await.unwrap();
    let channels: BTreeSet<String> = listed.iter().map(|(c, _)| c.clone()).collect();
    assert_eq!(
        channels,
        BTreeSet::from(["orderbook_delta".to_owned(), "ticker".to_owned()])
    );

    session.add_markets(books, [MARKETS[1]]).await.unwrap();
    session.request_snapshot(books).await.unwrap();
    session.delete_markets(books, [MARKETS[0]]).await.unwrap();
    session.unsubscribe(ticker).await.unwrap();
    assert_eq!(session.list_subscriptions().await.unwrap().len(), 1);

    match session
        .subscribe(Subscription::orderbook(["NO-SUCH-MARKET"]))
        .await
        .unwrap_err()
    {
        StreamError::Command { code, .. } => assert_eq!(code, 11, "invalid parameter"),
        other => panic!("{other:?}"),
    }
    match session
        .subscribe(Subscription::new(Channel::Orderbook))
        .await
        .unwrap_err()
    {
        StreamError::Command { code, .. } => assert_eq!(code, 14, "market ticker required"),
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        session.unsubscribe(ticker).await.unwrap_err(),
        StreamError::UnknownSubscription(id) if id == ticker
    ));
    session.close().await;
    assert_frames_follow_the_document(&stack.sim);
}

#[tokio::test]
async fn every_channel_can_be_subscribed_on_the_simulator() {
    let stack = stack().await;
    let session = streams(&stack.alice).connect().await.unwrap();
    for &channel in EventContracts::CHANNELS {
        let subscription = match channel {
            Channel::Orderbook => Subscription::orderbook([MARKETS[0]]),
            other => Subscription::new(other),
        };
        session
            .subscribe(subscription)
            .await
            .unwrap_or_else(|e| panic!("{channel}: {e}"));
    }
    assert_eq!(
        session.list_subscriptions().await.unwrap().len(),
        EventContracts::CHANNELS.len()
    );
    // A margin-only channel is refused before anything is sent.
    let refused = session
        .subscribe(Subscription::corporate_actions(Vec::<String>::new()))
        .await;
    assert!(
        matches!(
            refused,
            Err(StreamError::UnsupportedChannel {
                api: "event-contract",
                ..
            })
        ),
        "{refused:?}"
    );
    session.close().await;
    assert_frames_follow_the_document(&stack.sim);
}

#[tokio::test]
async fn the_simulator_answers_malformed_commands_with_kalshis_error_codes() {
    let stack = stack().await;
    // Signed like the client signs, then spoken to by hand.
    let url = format!("ws://{}{}", stack.sim.local_addr(), kalshi_sim::WS_PATH);
    let mut request =
        tokio_tungstenite::tungstenite::client::IntoClientRequest::into_client_request(
            url.as_str(),
        )
        .unwrap();
    let credentials = Credentials::from_pem("alice-key", &TestKey::rsa().pem).unwrap();
    let now = SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64;
    let signed = credentials.sign(now, "GET", kalshi_sim::WS_PATH).unwrap();
    for (name, value) in signed.pairs() {
        request.headers_mut().insert(name, value.parse().unwrap());
    }
    let (mut socket, _) = tokio_tungstenite::connect_async(request).await.unwrap();
    let cases = [
        (r#"{"id":1,"cmd":"dance"}"#, 5),
        (r#"{"id":2,"cmd":"subscribe"}"#, 2),
        (r#"{"id":3,"cmd":"subscribe","params":{}}"#, 3),
        (
            r#"{"id":4,"cmd":"subscribe","params":{"channels":["nope"]}}"#,
            8,
        ),
        (r#"{"id":5,"cmd":"unsubscribe","params":{}}"#, 4),
        (r#"{"id":6,"cmd":"unsubscribe","params":{"sids":[99]}}"#, 7),
        (
            r#"{"id":7,"cmd":"update_subscription","params":{"sids":[1,2],"action":"add_markets"}}"#,
            12,
        ),
        ("not json", 1),
    ];
    for (command, code) in cases {
        socket
            .send(tokio_tungstenite::tungstenite::Message::text(command))
            .await
            .unwrap();
        let answer = loop {
            match socket.next().await.unwrap().unwrap() {
                tokio_tungstenite::tungstenite::Message::Text(text) => break text,
                _ => continue,
            }
        };
        let answer: serde_json::Value = serde_json::from_str(answer.as_str()).unwrap();
        assert_eq!(answer["type"], "error", "{command}");
        assert_eq!(answer["msg"]["code"], code, "{command}");
    }
}

// ---------------------------------------------------------------------------
// Books and fills under random trading
// ---------------------------------------------------------------------------

#[tokio::test]
async fn books_and_fills_follow_random_trading_exactly() {
    let stack = stack().await;
    let mut session = streams(&stack.alice).connect().await.unwrap();
    subscribe_books_and_fills(&session).await;
    let trades = session
        .subscribe(Subscription::trades(MARKETS))
        .await
        .unwrap();
    let orders = session
        .subscribe(Subscription::user_orders())
        .await
        .unwrap();
    let positions = session
        .subscribe(Subscription::market_positions())
        .await
        .unwrap();
    random_flow(&stack, 1, 300).await;

    let mut seen = Seen::default();
    wait_for_books(&mut session, &mut seen, &stack.alice, &MARKETS).await;
    wait_for_fills(&mut session, &mut seen, &stack.alice).await;
    assert!(!seen.fills().is_empty(), "the flow traded with alice");

    // Every public trade once; alice's orders and positions as REST has them.
    let trade_count =
        seen.count(|e| matches!(e, Event::Message { subscription, .. } if *subscription == trades));
    let all_trades: usize = stack.sim.with_engine(|e| {
        MARKETS
            .iter()
            .map(|m| {
                e.fills_since(0)
                    .iter()
                    .filter(|f| f.is_taker && f.ticker == *m)
                    .count()
            })
            .sum()
    });
    assert_eq!(trade_count, all_trades);
    let mut last_order = BTreeMap::new();
    let mut last_position = BTreeMap::new();
    for event in &seen.events {
        match event {
            Event::Message {
                subscription,
                message: ServerMessage::UserOrder(o),
            } if *subscription == orders => {
                last_order.insert(
                    o.msg.order_id.to_string(),
                    (o.msg.status.to_string(), o.msg.remaining_count_fp.value()),
                );
            }
            Event::Message {
                subscription,
                message: ServerMessage::MarketPosition(p),
            } if *subscription == positions => {
                last_position.insert(p.msg.market_ticker.to_string(), p.msg.position_fp.value());
            }
            _ => {}
        }
    }
    let rest_orders: Vec<_> = stack
        .alice
        .orders()
        .list()
        .stream(None)
        .try_collect()
        .await
        .unwrap();
    assert_eq!(
        last_order.len(),
        rest_orders.len(),
        "an update for every order"
    );
    for order in &rest_orders {
        let streamed = &last_order[&order.order_id];
        assert_eq!(
            streamed,
            &(order.status.to_string(), order.remaining_count_fp.value())
        );
    }
    let rest_positions = stack.alice.portfolio().positions().send().await.unwrap();
    for position in &rest_positions.market_positions {
        assert_eq!(
            last_position.get(&position.ticker).copied(),
            Some(position.position_fp.value()),
            "{}",
            position.ticker
        );
    }
    let stats = session.stats();
    assert_eq!(
        (stats.gaps, stats.duplicates, stats.undecodable),
        (0, 0, 0),
        "{stats:?}"
    );
    session.close().await;
    assert_frames_follow_the_document(&stack.sim);
}

#[tokio::test]
async fn ticker_and_lifecycle_report_trades_and_settlement() {
    let stack = stack().await;
    let mut session = streams(&stack.alice).connect().await.unwrap();
    let ticker = session
        .subscribe(Subscription::ticker([MARKETS[0]]))
        .await
        .unwrap();
    let lifecycle = session
        .subscribe(Subscription::market_lifecycle())
        .await
        .unwrap();
    let positions = session
        .subscribe(Subscription::market_positions())
        .await
        .unwrap();
    let order = NewOrder::sell_yes(MARKETS[0], Quantity::contracts(3).unwrap(), cents(60));
    stack.bob.orders().create(&order).send().await.unwrap();
    let order = NewOrder::buy_yes(MARKETS[0], Quantity::contracts(2).unwrap(), cents(60));
    stack.alice.orders().create(&order).send().await.unwrap();
    stack.sim.settle(MARKETS[0], Outcome::Yes).unwrap();

    let mut seen = Seen::default();
    wait_for(&mut session, &mut seen, "settlement", async |_, seen| {
        seen.count(|e| matches!(e, Event::Message { message: ServerMessage::MarketLifecycleV2(m), .. } if m.msg.event_type.to_string() == "settled")) == 1
    })
    .await;
    let last_ticker = seen
        .events
        .iter()
        .rev()
        .find_map(|e| match e {
            Event::Message {
                subscription,
                message: ServerMessage::Ticker(t),
            } if *subscription == ticker => Some(t.msg.clone()),
            _ => None,
        })
        .expect("a ticker message");
    assert_eq!(last_ticker.price_dollars.value(), dec("0.60"));
    assert_eq!(last_ticker.volume_fp.value(), dec("2"));
    assert_eq!(
        last_ticker.open_interest_fp.value(),
        Decimal::ZERO,
        "settled positions are closed"
    );
    let kinds: Vec<String> = seen
        .events
        .iter()
        .filter_map(|e| match e {
            Event::Message {
                subscription,
                message: ServerMessage::MarketLifecycleV2(m),
            } if *subscription == lifecycle => Some(m.msg.event_type.to_string()),
            _ => None,
        })
        .collect();
    assert_eq!(kinds, ["determined", "settled"]);
    let pnl: Vec<(Decimal, Decimal)> = seen
        .events
        .iter()
        .filter_map(|e| match e {
            Event::Message {
                subscription,
                message: ServerMessage::MarketPosition(p),
            } if *subscription == positions => Some((
                p.msg.position_fp.value(),
                p.msg.realized_pnl_dollars.value(),
            )),
            _ => None,
        })
        .collect();
    // Bought 2 YES at 0.60, then YES won: $0.40 a contract.
    assert_eq!(
        pnl,
        [(dec("2"), Decimal::ZERO), (Decimal::ZERO, dec("0.80"))]
    );
    session.close().await;
    assert_frames_follow_the_document(&stack.sim);
}

// ---------------------------------------------------------------------------
// Faults
// ---------------------------------------------------------------------------

/// Runs a flow, applies `fault` to every session midway, runs more flow,
/// then checks books and fills against REST. Returns what was seen.
async fn flow_with_fault(stack: &Stack, session: &mut StreamSession, fault: StreamFault) -> Seen {
    subscribe_books_and_fills(session).await;
    random_flow(stack, 7, 60).await;
    assert!(stack.sim.inject_stream(fault) > 0);
    random_flow(stack, 8, 120).await;
    let mut seen = Seen::default();
    wait_for_books(session, &mut seen, &stack.alice, &MARKETS).await;
    seen
}

#[tokio::test]
async fn a_lost_message_is_a_gap_and_the_books_resync_by_snapshot() {
    let stack = stack().await;
    let mut session = streams(&stack.alice).connect().await.unwrap();
    let seen = flow_with_fault(&stack, &mut session, StreamFault::SkipSeq).await;
    assert_eq!(seen.count(|e| matches!(e, Event::Gap { .. })), 1);
    assert!(seen.count(|e| matches!(e, Event::BookResynced { .. })) >= 1);
    assert!(session.stats().resyncs >= 1);
    session.close().await;
    assert_frames_follow_the_document(&stack.sim);
}

#[tokio::test]
async fn a_repeated_message_is_dropped() {
    let stack = stack().await;
    let mut session = streams(&stack.alice).connect().await.unwrap();
    let mut seen = flow_with_fault(&stack, &mut session, StreamFault::RepeatSeq).await;
    wait_for_fills(&mut session, &mut seen, &stack.alice).await;
    assert_eq!(session.stats().duplicates, 1);
    assert_eq!(seen.count(|e| matches!(e, Event::Gap { .. })), 0);
    session.close().await;
    assert_frames_follow_the_document(&stack.sim);
}

#[tokio::test]
async fn a_dropped_connection_reconnects_resubscribes_and_resyncs() {
    let stack = stack().await;
    let mut session = streams(&stack.alice).connect().await.unwrap();
    let seen = flow_with_fault(&stack, &mut session, StreamFault::DropConnection).await;
    assert_eq!(
        seen.count(|e| matches!(e, Event::Disconnected { connection: 0, .. })),
        1
    );
    assert!(seen.count(|e| matches!(e, Event::Reconnecting { connection: 0, .. })) >= 1);
    assert_eq!(
        seen.count(|e| matches!(e, Event::Resubscribed { connection: 0, .. })),
        2
    );
    assert_eq!(session.stats().reconnects, 1);
    assert_eq!(session.list_subscriptions().await.unwrap().len(), 2);
    session.close().await;
    assert_frames_follow_the_document(&stack.sim);
}

#[tokio::test]
async fn a_silent_connection_is_declared_dead_and_replaced() {
    let stack = stack().await;
    let mut session = streams(&stack.alice)
        .heartbeat_timeout(Duration::from_millis(400))
        .connect()
        .await
        .unwrap();
    let seen = flow_with_fault(&stack, &mut session, StreamFault::Silence).await;
    let reason = seen.events.iter().find_map(|e| match e {
        Event::Disconnected { reason, .. } => Some(reason.clone()),
        _ => None,
    });
    assert!(
        reason.is_some_and(|r| r.contains("dead")),
        "the heartbeat timeout fired"
    );
    assert_eq!(session.stats().reconnects, 1);
    assert_eq!(
        seen.count(|e| matches!(e, Event::FillsRecovered { .. })),
        0,
        "fill recovery is off by default"
    );
    session.close().await;
    assert_frames_follow_the_document(&stack.sim);
}

/// Fills made while every link was silent never reach the session; with
/// fill recovery on, they come over REST once the links are back, and every
/// fill reaches the consumer once, from one source or the other. `fills` is
/// the fill subscription (every market, or limited to some: recovery then
/// lists those markets only).
async fn fills_of_silenced_links_are_recovered(connections: usize, fills: Subscription) {
    let stack = stack().await;
    // Long enough for the next flow to trade before the links are declared
    // dead.
    let mut session = streams(&stack.alice)
        .connections(connections)
        .heartbeat_timeout(Duration::from_millis(1500))
        .recover_fills(true)
        .connect()
        .await
        .unwrap();
    let mut seen = subscribe_beside_books(&mut session, fills, connections).await;
    random_flow(&stack, 7, 60).await;
    wait_for_fills(&mut session, &mut seen, &stack.alice).await;

    assert_eq!(stack.sim.inject_stream(StreamFault::Silence), connections);
    random_flow(&stack, 8, 120).await;
    wait_for(
        &mut session,
        &mut seen,
        "recovered fills",
        async |_, seen| !seen.recovered_fills().is_empty(),
    )
    .await;

    // Trading goes on over the new connections; REST lists each fill once,
    // and so does the stream with its recoveries (one per lost connection,
    // each listing the same window: the later ones find nothing new).
    random_flow(&stack, 9, 60).await;
    wait_for_books(&mut session, &mut seen, &stack.alice, &MARKETS).await;
    wait_for_fills(&mut session, &mut seen, &stack.alice).await;
    assert!(seen.count(|e| matches!(e, Event::FillsRecovered { .. })) >= connections);
    assert_eq!(
        session.stats().fills_recovered,
        seen.recovered_fills().len() as u64
    );
    // Each recovery follows a fill subscription made again.
    let mut resubscribed = 0;
    for event in &seen.events {
        match event {
            Event::Resubscribed { .. } => resubscribed += 1,
            Event::FillsRecovered { .. } => {
                assert!(resubscribed > 0, "recovered before resubscribing")
            }
            _ => {}
        }
    }
    session.close().await;
    assert_frames_follow_the_document(&stack.sim);
}

/// An answer that does not decode, which the client's retries leave
/// alone (they go by status and failed connections), costs an outage's
/// recovery a second read, not its window: the fills still come, each once.
#[tokio::test]
async fn a_recovery_reads_again_after_an_answer_that_does_not_decode() {
    let stack = stack().await;
    let mut session = streams(&stack.alice)
        .heartbeat_timeout(Duration::from_millis(1500))
        .recover_fills(true)
        .connect()
        .await
        .unwrap();
    let mut seen = subscribe_beside_books(&mut session, Subscription::fills(), 1).await;
    random_flow(&stack, 7, 60).await;
    wait_for_fills(&mut session, &mut seen, &stack.alice).await;
    let listed = fill_listings(&stack.sim);

    assert_eq!(stack.sim.inject_stream(StreamFault::Silence), 1);
    // The recovery's listing is the next one.
    stack
        .sim
        .inject_at("/portfolio/fills", Fault::MalformedJson, 1);
    random_flow(&stack, 8, 120).await;
    wait_for(
        &mut session,
        &mut seen,
        "recovered fills",
        async |_, seen| !seen.recovered_fills().is_empty(),
    )
    .await;
    wait_for_fills(&mut session, &mut seen, &stack.alice).await;
    assert_eq!(
        seen.count(|e| matches!(e, Event::FillRecoveryFailed { .. })),
        0
    );
    let after: Vec<_> = stack
        .sim
        .journal()
        .into_iter()
        .filter(|e| e.path.ends_with("/portfolio/fills"))
        .skip(listed)
        .collect();
    assert_eq!(
        after[0].fault,
        Some(Fault::MalformedJson),
        "the recovery's first listing met the fault"
    );
    assert!(fill_listings(&stack.sim) >= listed + 2);
    session.close().await;
}

/// `recovery_memory` bounds what the session remembers, at the cost its
/// documentation gives: a fill from before an outage, forgotten since,
/// that the recovery's listing reaches (it starts 2 s before the last
/// frame heard) is delivered again. The one still remembered is not.
#[tokio::test]
async fn a_fill_forgotten_under_a_small_recovery_memory_is_delivered_again() {
    let stack = stack().await;
    let mut session = streams(&stack.alice)
        .heartbeat_timeout(Duration::from_millis(1500))
        .recover_fills(true)
        .recovery_memory(1)
        .connect()
        .await
        .unwrap();
    let mut seen = subscribe_beside_books(&mut session, Subscription::fills(), 1).await;
    cross(&stack, MARKETS[0], 40).await;
    cross(&stack, MARKETS[0], 41).await;
    wait_for(&mut session, &mut seen, "two fills", async |_, seen| {
        seen.streamed_fills().len() == 2
    })
    .await;
    assert_eq!(stack.sim.inject_stream(StreamFault::Silence), 1);
    wait_for(&mut session, &mut seen, "the recovery", async |_, seen| {
        seen.count(|e| matches!(e, Event::FillsRecovered { .. })) == 1
    })
    .await;
    let streamed = seen.streamed_fills();
    assert_eq!(seen.recovered_fills(), vec![streamed[0].clone()]);
    // Three fills delivered (one twice), one remembered: `stats` says so.
    wait_for(&mut session, &mut seen, "the count", async |s, _| {
        s.stats().remembered == 1
    })
    .await;
    session.close().await;
}

#[tokio::test]
async fn fills_of_an_outage_are_recovered_over_rest_once() {
    fills_of_silenced_links_are_recovered(1, Subscription::fills()).await;
}

/// Two links, and a fill subscription limited to the traded markets (the
/// listing filters by them).
#[tokio::test]
async fn with_two_silenced_connections_fills_are_recovered_once() {
    fills_of_silenced_links_are_recovered(2, Subscription::fills().markets(MARKETS)).await;
}

/// Subscribes the books of `MARKETS` and `subscription`, and waits until
/// every one of the `connections` has them.
async fn subscribe_beside_books(
    session: &mut StreamSession,
    subscription: Subscription,
    connections: usize,
) -> Seen {
    session
        .subscribe(Subscription::orderbook(MARKETS))
        .await
        .unwrap();
    session.subscribe(subscription).await.unwrap();
    let mut seen = Seen::default();
    wait_for(session, &mut seen, "every connection", async |s, _| {
        s.list_subscriptions().await.is_ok()
            && s.stats().frames >= (connections * MARKETS.len()) as u64
    })
    .await;
    seen
}

/// The first `FillRecoveryFailed`: its subscription, window start and error.
fn fill_recovery_failure(seen: &Seen) -> (SubscriptionId, SystemTime, String) {
    seen.events
        .iter()
        .find_map(|e| match e {
            Event::FillRecoveryFailed {
                subscription,
                since,
                error,
            } => Some((*subscription, *since, error.clone())),
            _ => None,
        })
        .unwrap()
}

/// A recovery window starts when the link last heard anything (just before
/// the silence at `silenced`), not when the silence was noticed later.
fn assert_window_starts_at_the_silence(since: SystemTime, silenced: SystemTime) {
    assert!(since < silenced + Duration::from_millis(500));
    assert!(
        silenced
            .duration_since(since)
            .is_ok_and(|d| d < Duration::from_secs(5))
    );
}

/// How many fill listings the simulator answered.
fn fill_listings(sim: &Simulator) -> usize {
    sim.journal()
        .iter()
        .filter(|e| e.path.ends_with("/portfolio/fills"))
        .count()
}

/// Orders placed, decreased, canceled and filled while the links were
/// silent: once recovered, applying every streamed and recovered state in
/// the order received leaves each order as REST has it.
async fn orders_of_silenced_links_are_recovered(connections: usize, orders: Subscription) {
    let stack = stack().await;
    let mut session = streams(&stack.alice)
        .connections(connections)
        .heartbeat_timeout(Duration::from_millis(1500))
        .recover_orders(true)
        .connect()
        .await
        .unwrap();
    // Resting before the subscription, so never streamed: the baseline read
    // when the subscription is made is what knows of it.
    let one = Quantity::contracts(1).unwrap();
    let unheard = stack
        .alice
        .orders()
        .create(&NewOrder::buy_yes(MARKETS[2], one, cents(9)))
        .send()
        .await
        .unwrap()
        .order_id;
    let mut seen = subscribe_beside_books(&mut session, orders, connections).await;
    random_flow(&stack, 7, 60).await;
    // An order far from the others' prices, known resting and placed long
    // before the outage: canceled during it, it is in neither listing
    // (resting, created since), only in the read of the orders last seen
    // resting.
    let old = stack
        .alice
        .orders()
        .create(&NewOrder::buy_yes(MARKETS[0], one, cents(10)))
        .send()
        .await
        .unwrap()
        .order_id;
    wait_for_orders(&mut session, &mut seen, &stack.alice, Some(&unheard)).await;
    let before = seen.order_states();
    // Over 3 s of other traffic, so that the outage (from the last frame
    // heard) starts well after the order was placed.
    for _ in 0..8 {
        let frames = session.stats().frames;
        stack
            .bob
            .orders()
            .create(&NewOrder::buy_yes(MARKETS[1], one, cents(11)))
            .send()
            .await
            .unwrap();
        wait_for(&mut session, &mut seen, "a frame", async |s, _| {
            s.stats().frames >= frames + connections as u64
        })
        .await;
        tokio::time::sleep(Duration::from_millis(450)).await;
    }
    assert!(
        resting_listings(&stack.sim) > 0,
        "the resting orders were read at subscription"
    );

    assert_eq!(stack.sim.inject_stream(StreamFault::Silence), connections);
    for id in [&old, &unheard] {
        let cancel = CancelOrder::new(id.clone());
        stack.alice.orders().cancel(cancel).send().await.unwrap();
    }
    random_flow(&stack, 8, 120).await;
    wait_for(
        &mut session,
        &mut seen,
        "recovered orders",
        async |_, seen| seen.recovered_orders() > 0,
    )
    .await;
    // The outage changed orders the stream had shown resting (not only new
    // ones), and recovery brought them.
    let recovered: BTreeMap<_, _> = seen
        .events
        .iter()
        .filter_map(|e| match e {
            Event::OrdersRecovered { orders, .. } => Some(orders),
            _ => None,
        })
        .flatten()
        .map(rest_order)
        .collect();
    assert!(
        recovered
            .iter()
            .any(|(id, now)| before.get(id).is_some_and(|then| then != now)),
        "no known order changed state during the outage"
    );

    random_flow(&stack, 9, 60).await;
    wait_for_orders(&mut session, &mut seen, &stack.alice, None).await;
    assert_eq!(seen.order_states()[&old].0, "canceled");
    assert_eq!(seen.order_states()[&unheard].0, "canceled");
    // A recovered order is news: not the state last delivered for it.
    let mut delivered = BTreeMap::new();
    for event in &seen.events {
        match event {
            Event::Message {
                message: ServerMessage::UserOrder(update),
                ..
            } => {
                delivered.extend([streamed_order(update)]);
            }
            Event::OrdersRecovered { orders, .. } => {
                for (id, view) in orders.iter().map(rest_order) {
                    assert_ne!(delivered.get(&id), Some(&view), "{id} recovered unchanged");
                    delivered.insert(id, view);
                }
            }
            _ => {}
        }
    }
    // One recovery per lost connection (the later ones may find no news).
    wait_for(
        &mut session,
        &mut seen,
        "every recovery",
        async |_, seen| seen.count(|e| matches!(e, Event::OrdersRecovered { .. })) >= connections,
    )
    .await;
    assert_eq!(
        session.stats().orders_recovered,
        seen.recovered_orders() as u64
    );
    session.close().await;
    assert_frames_follow_the_document(&stack.sim);
}

#[tokio::test]
async fn orders_of_an_outage_are_recovered_over_rest() {
    orders_of_silenced_links_are_recovered(1, Subscription::user_orders()).await;
}

/// Two links: each recovers its own window, and what one delivered is not
/// delivered again by the other's recovery unless it is news.
#[tokio::test]
async fn with_two_silenced_connections_orders_are_recovered() {
    orders_of_silenced_links_are_recovered(2, Subscription::user_orders()).await;
}

impl Seen {
    /// Each position after applying, in the order received, every
    /// `market_position` message and every position recovered over REST.
    fn position_states(&self) -> BTreeMap<(u32, String), PositionState> {
        self.states(|event| match event {
            Event::Message {
                message: ServerMessage::MarketPosition(update),
                ..
            } => vec![streamed_position(update)],
            Event::PositionsRecovered { positions, .. } => {
                positions.iter().map(recovered_position).collect()
            }
            _ => Vec::new(),
        })
    }

    fn recovered_positions(&self) -> Vec<PositionView> {
        self.events
            .iter()
            .filter_map(|e| match e {
                Event::PositionsRecovered { positions, .. } => Some(positions),
                _ => None,
            })
            .flatten()
            .map(recovered_position)
            .collect()
    }
}

/// Every position of `subaccounts`, settled or not, as REST lists them.
async fn rest_positions(
    client: &Client,
    subaccounts: &[u32],
) -> BTreeMap<(u32, String), PositionState> {
    let mut positions = BTreeMap::new();
    for &subaccount in subaccounts {
        let listed: Vec<kalshi_gen::types::MarketPosition> = client
            .raw()
            .get_positions()
            .subaccount(subaccount)
            .settlement_status(kalshi_gen::types::GetPositionsSettlementStatus::All)
            .stream(None)
            .try_collect()
            .await
            .unwrap();
        positions.extend(listed.iter().map(|p| rest_position(subaccount, p)));
    }
    positions
}

/// The successful listings of positions so far whose query has `query`.
fn position_listings(sim: &Simulator, query: &str) -> usize {
    sim.journal()
        .iter()
        .filter(|e| {
            e.path.ends_with("/portfolio/positions") && e.status == 200 && e.query.contains(query)
        })
        .count()
}

/// Waits until the session shows a frame the simulator sent after every
/// REST answer so far: bob rests a bid at 3 cents in `market` (a book the
/// session keeps), a local book shows it, and bob cancels it. The links
/// keep hearing frames after that (the tests keep them busy), so a
/// subscription-time read of positions answered before is not taken for
/// one an outage overlapped (that is judged by the last frame a link
/// heard).
async fn hear_after_now(session: &mut StreamSession, seen: &mut Seen, bob: &Client, market: &str) {
    let one = Quantity::contracts(1).unwrap();
    let bid = NewOrder::buy_yes(market, one, cents(3));
    let placed = bob.orders().create(&bid).send().await.unwrap();
    wait_for(
        session,
        seen,
        "bob's bid in the local book",
        async |s, _| {
            local_book(s, market).is_some_and(|(bids, _, _)| bids.contains_key(&dec("0.03")))
        },
    )
    .await;
    let cancel = CancelOrder::new(placed.order_id);
    bob.orders().cancel(cancel).send().await.unwrap();
}

/// Alice's subaccounts 1 and 2, with money in 2.
async fn open_subaccount_two(stack: &Stack) {
    for _ in 0..2 {
        stack.alice.subaccounts().create().send().await.unwrap();
    }
    let two = kalshi_sim::engine::Owner {
        user_id: "alice".into(),
        subaccount: 2,
    };
    stack.sim.with_engine(|e| e.deposit(&two, dec("100")));
}

/// Positions changed while the links were silent (a trade of the primary
/// account, one of subaccount 2, a settlement): once recovered, applying
/// every streamed and recovered position in the order received leaves each
/// as REST has it, and a position the outage did not change is not
/// delivered.
async fn positions_of_silenced_links_are_recovered(connections: usize, positions: Subscription) {
    let stack = stack().await;
    open_subaccount_two(&stack).await;
    // Held before the subscription: one the outage leaves alone, one it
    // settles.
    cross(&stack, MARKETS[2], 40).await;
    cross(&stack, MARKETS[0], 30).await;
    let mut session = streams(&stack.alice)
        .connections(connections)
        .heartbeat_timeout(Duration::from_millis(1500))
        .recover_positions(true)
        .connect()
        .await
        .unwrap();
    let mut seen = subscribe_beside_books(&mut session, positions, connections).await;
    // No link but the silenced ones is declared dead: a recovery after an
    // unplanned outage would mend what this test checks the first one did.
    let busy = keep_busy(&stack.bob, MARKETS[1]);
    // The subscription-time read lists subaccounts 0, 1 and 2 in turn.
    wait_for(&mut session, &mut seen, "the baseline", async |_, _| {
        position_listings(&stack.sim, "subaccount=2") > 0
    })
    .await;
    hear_after_now(&mut session, &mut seen, &stack.bob, MARKETS[2]).await;

    assert_eq!(stack.sim.inject_stream(StreamFault::Silence), connections);
    cross(&stack, MARKETS[1], 50).await;
    let one = Quantity::contracts(1).unwrap();
    let sell = NewOrder::sell_yes(MARKETS[1], one, cents(55));
    stack.bob.orders().create(&sell).send().await.unwrap();
    let buy = NewOrder::buy_yes(MARKETS[1], one, cents(55));
    stack
        .alice_on_two
        .orders()
        .create(&buy)
        .send()
        .await
        .unwrap();
    stack.sim.settle(MARKETS[0], Outcome::Yes).unwrap();
    wait_for(
        &mut session,
        &mut seen,
        "every recovery",
        async |_, seen| {
            seen.count(|e| matches!(e, Event::PositionsRecovered { .. })) >= connections
        },
    )
    .await;
    let recovered: BTreeMap<_, _> = seen.recovered_positions().into_iter().collect();
    let changed = [
        (0, MARKETS[1].to_owned()),
        (2, MARKETS[1].to_owned()),
        (0, MARKETS[0].to_owned()),
    ];
    for key in &changed {
        assert!(
            recovered.contains_key(key),
            "{key:?} not recovered: {recovered:?}"
        );
    }
    assert!(
        recovered[&(0, MARKETS[0].to_owned())].0.is_zero(),
        "the settled position is closed"
    );
    assert!(
        !recovered.contains_key(&(0, MARKETS[2].to_owned())),
        "a position the outage did not change was delivered"
    );

    // Trading goes on over the new connections: stream and recoveries
    // together leave every position as REST has it.
    cross(&stack, MARKETS[1], 45).await;
    let rest = rest_positions(&stack.alice, &[0, 1, 2]).await;
    wait_for(
        &mut session,
        &mut seen,
        "REST's positions",
        async |_, seen| {
            let now = seen.position_states();
            changed.iter().all(|key| now.contains_key(key))
                && now.iter().all(|(key, state)| rest.get(key) == Some(state))
        },
    )
    .await;
    busy.abort();
    assert_eq!(
        seen.count(|e| matches!(e, Event::Disconnected { .. })),
        connections,
        "only the silenced links were lost"
    );
    assert_eq!(
        session.stats().positions_recovered,
        seen.recovered_positions().len() as u64
    );
    session.close().await;
    assert_frames_follow_the_document(&stack.sim);
}

#[tokio::test]
async fn positions_of_an_outage_are_recovered_over_rest() {
    positions_of_silenced_links_are_recovered(1, Subscription::market_positions()).await;
}

/// Two links, each recovering its own window, and a subscription limited to
/// the markets the outage changed.
#[tokio::test]
async fn with_two_silenced_connections_positions_are_recovered() {
    let positions = Subscription::market_positions().markets(MARKETS[..2].iter().copied());
    positions_of_silenced_links_are_recovered(2, positions).await;
}

/// A position that changed while the link was silent and the
/// subscription-time read was under way: that read may show the change the
/// stream never delivered, so it is not kept, and the recovery delivers the
/// position. With a short heartbeat timeout the outage is noticed before the
/// read ends; with a longer one, after.
async fn a_change_the_subscription_time_read_saw_during_an_outage_is_recovered(
    heartbeat: Duration,
) {
    let stack = stack().await;
    let mut session = streams(&stack.alice)
        .heartbeat_timeout(heartbeat)
        .recover_positions(true)
        .connect()
        .await
        .unwrap();
    session
        .subscribe(Subscription::orderbook([MARKETS[0]]))
        .await
        .unwrap();
    session
        .subscribe(Subscription::market_positions())
        .await
        .unwrap();
    // The read waits 2 s for the read side; the link goes silent first.
    assert!(stack.sim.inject_stream(StreamFault::Silence) > 0);
    let busy = keep_busy(&stack.bob, MARKETS[0]);
    cross(&stack, MARKETS[1], 50).await;
    let mut seen = Seen::default();
    wait_for(&mut session, &mut seen, "the recovery", async |_, seen| {
        seen.count(|e| matches!(e, Event::PositionsRecovered { .. })) > 0
    })
    .await;
    busy.abort();
    assert_only_the_silenced_link_was_lost(&seen);
    assert!(
        position_listings(&stack.sim, "") >= 2,
        "the subscription-time read and the recovery's"
    );
    let recovered: BTreeMap<_, _> = seen.recovered_positions().into_iter().collect();
    let rest = rest_positions(&stack.alice, &[0]).await;
    let key = (0, MARKETS[1].to_owned());
    assert_eq!(recovered.get(&key), rest.get(&key), "{recovered:?}");
    session.close().await;
}

#[tokio::test]
async fn a_change_the_subscription_time_read_saw_during_a_noticed_outage_is_recovered() {
    a_change_the_subscription_time_read_saw_during_an_outage_is_recovered(Duration::from_millis(
        1500,
    ))
    .await;
}

#[tokio::test]
async fn a_change_the_subscription_time_read_saw_before_the_outage_was_noticed_is_recovered() {
    a_change_the_subscription_time_read_saw_during_an_outage_is_recovered(Duration::from_millis(
        3500,
    ))
    .await;
}

/// A subscription-time read retried while the subscription is off the
/// stream (its resubscription refused after a reconnect) may show a change
/// the stream never delivered: it is set aside, and the recovery once the
/// subscription is back delivers the position. `code` is the refusal: 10
/// may pass (asked for again every 200 ms, 15 times), 11 does not (the
/// subscription stays off until the next reconnect, which the test makes
/// once the read has succeeded).
async fn a_read_made_while_the_stream_lacks_the_subscription_is_set_aside(code: i64) {
    let stack = stack().await;
    let mut session = streams(&stack.alice)
        .recover_positions(true)
        .connect()
        .await
        .unwrap();
    stack
        .sim
        .inject_at("/portfolio/positions", Fault::Status(500), 1_000);
    session
        .subscribe(Subscription::market_positions())
        .await
        .unwrap();
    let mut seen = Seen::default();
    wait_for(
        &mut session,
        &mut seen,
        "the read to fail",
        async |_, seen| seen.count(|e| matches!(e, Event::PositionRecoveryFailed { .. })) > 0,
    )
    .await;
    let refusals = if code == 10 { 15 } else { 1 };
    stack.sim.refuse_subscriptions_with(refusals, code);
    assert!(stack.sim.inject_stream(StreamFault::DropConnection) > 0);
    wait_for(
        &mut session,
        &mut seen,
        "a refused resubscription",
        async |_, seen| {
            seen.count(|e| matches!(e, Event::ServerError { code: c, .. } if *c == code)) > 0
        },
    )
    .await;
    cross(&stack, MARKETS[1], 50).await;
    // The read under way (or the next) now succeeds, while the subscription
    // is still refused.
    stack.sim.clear_faults();
    wait_for(
        &mut session,
        &mut seen,
        "a read to succeed",
        async |_, _| position_listings(&stack.sim, "") > 0,
    )
    .await;
    assert_eq!(
        seen.count(|e| matches!(e, Event::Resubscribed { .. })),
        0,
        "the read succeeded after the subscription was back"
    );
    if code != 10 {
        assert!(stack.sim.inject_stream(StreamFault::DropConnection) > 0);
    }
    wait_for(&mut session, &mut seen, "the recovery", async |_, seen| {
        seen.count(|e| matches!(e, Event::PositionsRecovered { .. })) > 0
    })
    .await;
    let recovered: BTreeMap<_, _> = seen.recovered_positions().into_iter().collect();
    let rest = rest_positions(&stack.alice, &[0]).await;
    let key = (0, MARKETS[1].to_owned());
    assert!(rest.contains_key(&key));
    assert_eq!(recovered.get(&key), rest.get(&key), "{recovered:?}");
    session.close().await;
}

#[tokio::test]
async fn a_read_made_while_a_resubscription_is_refused_for_a_while_is_set_aside() {
    a_read_made_while_the_stream_lacks_the_subscription_is_set_aside(10).await;
}

#[tokio::test]
async fn a_read_made_while_a_resubscription_is_refused_for_good_is_set_aside() {
    a_read_made_while_the_stream_lacks_the_subscription_is_set_aside(11).await;
}

/// A session (from `builder`, with a 1.5 s heartbeat) whose `subscription`
/// is made while every request to `path` fails, through the client's
/// retries, until the faults are cleared; returned once it reported the
/// subscription-time read failed, with bob keeping one of its books busy
/// (abort the handle when done).
async fn with_a_failing_baseline(
    stack: &Stack,
    builder: StreamBuilder,
    subscription: Subscription,
    path: &str,
) -> (StreamSession, Seen, tokio::task::JoinHandle<()>) {
    let mut session = builder
        .heartbeat_timeout(Duration::from_millis(1500))
        .connect()
        .await
        .unwrap();
    session
        .subscribe(Subscription::orderbook([MARKETS[1]]))
        .await
        .unwrap();
    let busy = keep_busy(&stack.bob, MARKETS[1]);
    stack.sim.inject_at(path, Fault::Status(500), 1_000);
    session.subscribe(subscription).await.unwrap();
    let mut seen = Seen::default();
    wait_for(
        &mut session,
        &mut seen,
        "the read to fail",
        async |_, seen| {
            seen.count(|e| {
                matches!(
                    e,
                    Event::OrderRecoveryFailed { .. } | Event::PositionRecoveryFailed { .. }
                )
            }) > 0
        },
    )
    .await;
    (session, seen, busy)
}

/// A failed subscription-time listing of the positions is reported once and
/// made again until it succeeds, so that a later recovery still leaves out
/// what the outage did not change.
#[tokio::test]
async fn a_failed_position_baseline_is_reported_once_and_made_again() {
    let stack = stack().await;
    cross(&stack, MARKETS[2], 40).await;
    let builder = streams(&stack.alice).recover_positions(true);
    let (mut session, mut seen, busy) = with_a_failing_baseline(
        &stack,
        builder,
        Subscription::market_positions(),
        "/portfolio/positions",
    )
    .await;
    stack.sim.clear_faults();
    wait_for(
        &mut session,
        &mut seen,
        "the read to be made again",
        async |_, _| position_listings(&stack.sim, "") > 0,
    )
    .await;
    hear_after_now(&mut session, &mut seen, &stack.bob, MARKETS[1]).await;
    assert!(stack.sim.inject_stream(StreamFault::Silence) > 0);
    cross(&stack, MARKETS[0], 30).await;
    wait_for(&mut session, &mut seen, "the recovery", async |_, seen| {
        seen.count(|e| matches!(e, Event::PositionsRecovered { .. })) > 0
    })
    .await;
    busy.abort();
    let recovered: BTreeMap<_, _> = seen.recovered_positions().into_iter().collect();
    assert!(recovered.contains_key(&(0, MARKETS[0].to_owned())));
    assert!(
        !recovered.contains_key(&(0, MARKETS[2].to_owned())),
        "the position held before was delivered: the baseline was not read"
    );
    let failures = seen.count(|e| matches!(e, Event::PositionRecoveryFailed { .. }));
    assert_eq!(failures, 1, "the failed read is reported once");
    assert_only_the_silenced_link_was_lost(&seen);
    session.close().await;
}

/// Random trading while every connection meets random faults (dropped,
/// silenced, stalled, lost and repeated messages): with every recovery on,
/// what the stream and its recoveries delivered is alice's account as REST
/// has it: each fill once, and every order's and position's last state.
async fn the_account_survives_random_stream_faults(connections: usize, seed: u64) {
    let stack = stack().await;
    let mut session = streams(&stack.alice)
        .connections(connections)
        .heartbeat_timeout(Duration::from_millis(1500))
        .recover_fills(true)
        .recover_orders(true)
        .recover_positions(true)
        .connect()
        .await
        .unwrap();
    for channel in [
        Subscription::fills(),
        Subscription::user_orders(),
        Subscription::market_positions(),
    ] {
        session.subscribe(channel).await.unwrap();
    }
    let mut seen =
        subscribe_beside_books(&mut session, Subscription::ticker(MARKETS), connections).await;
    wait_for(&mut session, &mut seen, "the baselines", async |_, _| {
        position_listings(&stack.sim, "") > 0 && resting_listings(&stack.sim) > 0
    })
    .await;
    let faults = [
        StreamFault::DropConnection,
        StreamFault::RepeatSeq,
        StreamFault::Delay(Duration::from_millis(300)),
        StreamFault::SkipSeq,
        StreamFault::Silence,
    ];
    let rng = fastrand_like(seed);
    for round in 0..10 {
        random_flow(&stack, seed.wrapping_add(round), 12).await;
        let fault = faults[(rng(round as usize) % faults.len() as u64) as usize].clone();
        stack.sim.inject_stream(fault);
        random_flow(&stack, seed.wrapping_add(100 + round), 12).await;
    }
    // Quiet: the last outages are over and recovered.
    random_flow(&stack, seed.wrapping_add(1000), 20).await;
    wait_for_fills(&mut session, &mut seen, &stack.alice).await;
    wait_for_orders(&mut session, &mut seen, &stack.alice, None).await;
    let rest = rest_positions(&stack.alice, &[0]).await;
    wait_for(
        &mut session,
        &mut seen,
        "the positions to match REST",
        async |_, seen| seen.position_states() == rest,
    )
    .await;
    let failures = seen.count(is_recovery_failure);
    assert_eq!(failures, 0, "no REST fault was injected");
    assert!(
        session.stats().reconnects > 0,
        "the faults cost connections: {:?}",
        session.stats()
    );
    session.close().await;
}

#[tokio::test]
async fn the_account_survives_random_stream_faults_on_one_connection() {
    the_account_survives_random_stream_faults(1, 0x5eed_0001).await;
}

#[tokio::test]
async fn the_account_survives_random_stream_faults_on_two_connections() {
    the_account_survives_random_stream_faults(2, 0x5eed_0002).await;
}

/// The recoveries of one reconnect wait for Kalshi's read side together:
/// `GET /exchange/user_data_timestamp`, a public endpoint metered by
/// address, is read a few times for the 2 s clock margin, not every 100 ms
/// by each of the three (about 60 reads).
#[tokio::test]
async fn the_recoveries_of_a_reconnect_share_their_reads_of_the_read_side() {
    let stack = stack().await;
    let (mut session, mut seen) = account_session(&stack).await;
    let before = freshness_reads(&stack.sim);
    stack.sim.inject_stream(StreamFault::DropConnection);
    wait_for_the_three_recoveries(&mut session, &mut seen).await;
    let reads = freshness_reads(&stack.sim) - before;
    // About one read a second of the margin, and the first (3); one or two
    // more where a recovery began a moment after the others. Each reading
    // on its own made 9, each every 100 ms about 60.
    assert!(
        (1..=7).contains(&reads),
        "{reads} reads of the read side's freshness for one reconnect"
    );
    session.close().await;
}

/// The read side's freshness is the same for every account, so sessions
/// of different clients on one exchange share their reads of it too: four
/// sessions of two keys reconnecting at once read it about as often as one
/// session does (each reading on its own, they made 15).
#[tokio::test]
async fn the_sessions_of_one_exchange_share_their_reads_of_the_read_side() {
    let stack = stack().await;
    let mut sessions = Vec::new();
    for client in [&stack.alice, &stack.bob, &stack.alice, &stack.bob] {
        sessions.push(account_session_of(&stack.sim, client).await);
    }
    let before = freshness_reads(&stack.sim);
    assert_eq!(stack.sim.inject_stream(StreamFault::DropConnection), 4);
    let recovered = sessions
        .into_iter()
        .map(|(mut session, mut seen)| async move {
            wait_for_the_three_recoveries(&mut session, &mut seen).await;
            session
        });
    let sessions = futures_util::future::join_all(recovered).await;
    let reads = freshness_reads(&stack.sim) - before;
    assert!(
        (1..=7).contains(&reads),
        "{reads} reads of the read side's freshness for four sessions' reconnects"
    );
    for session in sessions {
        session.close().await;
    }
}

/// A failing read of the read side's freshness is shared too: the three
/// recoveries of a reconnect fail together, each after its five tries, on
/// about a third of the requests they would make each on its own (60, with
/// the client's four attempts a read).
#[tokio::test]
async fn recoveries_share_a_failing_read_of_the_read_side() {
    let stack = stack().await;
    let (mut session, mut seen) = account_session(&stack).await;
    let before = freshness_reads(&stack.sim);
    stack
        .sim
        .inject_at("/exchange/user_data_timestamp", Fault::Status(500), 1_000);
    stack.sim.inject_stream(StreamFault::DropConnection);
    wait_for(
        &mut session,
        &mut seen,
        "the three failures",
        async |_, seen| seen.count(is_recovery_failure) == 3,
    )
    .await;
    let reads = freshness_reads(&stack.sim) - before;
    // Each on its own: 60; shared, 20, and some more where a loaded
    // machine starts the recoveries further apart.
    assert!(
        (20..=40).contains(&reads),
        "{reads} reads of the read side's freshness"
    );
    session.close().await;
}

/// An answer of the read side's freshness that does not decode fails only
/// the recovery that read it: the others read again rather than share it.
/// Shared, five undecodable answers would fail all five tries of all six
/// recoveries of two sessions reconnecting together.
#[tokio::test]
async fn an_undecodable_read_of_the_read_side_fails_only_its_reader() {
    let stack = stack().await;
    let mut sessions = Vec::new();
    for client in [&stack.alice, &stack.bob] {
        sessions.push(account_session_of(&stack.sim, client).await);
    }
    let before = freshness_reads(&stack.sim);
    stack
        .sim
        .inject_at("/exchange/user_data_timestamp", Fault::MalformedJson, 5);
    assert_eq!(stack.sim.inject_stream(StreamFault::DropConnection), 2);
    let recovered = sessions
        .into_iter()
        .map(|(mut session, mut seen)| async move {
            wait_for_the_three_recoveries(&mut session, &mut seen).await;
            let failed = seen.count(is_recovery_failure);
            (session, failed)
        });
    let sessions = futures_util::future::join_all(recovered).await;
    assert!(
        freshness_reads(&stack.sim) - before > 5,
        "the five undecodable answers were read, and a good one after them"
    );
    for (session, failed) in sessions {
        assert_eq!(failed, 0, "a recovery failed on another's bad answer");
        session.close().await;
    }
}

/// A session of alice's with every recovery on, subscribed to her fills,
/// orders and positions, once their subscription-time reads are made.
async fn account_session(stack: &Stack) -> (StreamSession, Seen) {
    account_session_of(&stack.sim, &stack.alice).await
}

/// A session of `client`'s with every recovery on, subscribed to its
/// fills, orders and positions, once their subscription-time reads are
/// made.
async fn account_session_of(sim: &Simulator, client: &Client) -> (StreamSession, Seen) {
    let (positions, resting) = (position_listings(sim, ""), resting_listings(sim));
    let mut session = streams(client)
        .recover_fills(true)
        .recover_orders(true)
        .recover_positions(true)
        .connect()
        .await
        .unwrap();
    for channel in [
        Subscription::fills(),
        Subscription::user_orders(),
        Subscription::market_positions(),
    ] {
        session.subscribe(channel).await.unwrap();
    }
    let mut seen = Seen::default();
    wait_for(&mut session, &mut seen, "the baselines", async |_, _| {
        position_listings(sim, "") > positions && resting_listings(sim) > resting
    })
    .await;
    (session, seen)
}

/// Waits for one recovery each of fills, orders and positions.
async fn wait_for_the_three_recoveries(session: &mut StreamSession, seen: &mut Seen) {
    wait_for(session, seen, "the three recoveries", async |_, seen| {
        seen.count(|e| matches!(e, Event::FillsRecovered { .. })) == 1
            && seen.count(|e| matches!(e, Event::OrdersRecovered { .. })) == 1
            && seen.count(|e| matches!(e, Event::PositionsRecovered { .. })) == 1
    })
    .await;
}

/// Whether `e` reports a failed recovery, of any kind.
fn is_recovery_failure(e: &Event) -> bool {
    matches!(
        e,
        Event::FillRecoveryFailed { .. }
            | Event::OrderRecoveryFailed { .. }
            | Event::PositionRecoveryFailed { .. }
    )
}

/// The reads of `GET /exchange/user_data_timestamp` so far.
fn freshness_reads(sim: &Simulator) -> usize {
    sim.journal()
        .iter()
        .filter(|e| e.path.ends_with("/exchange/user_data_timestamp"))
        .count()
}

/// Bob rests and cancels an order on `market` over and over until aborted,
/// so that a session subscribed to that book hears a frame far more often
/// than its heartbeat timeout: no connection is declared dead but the one a
/// test silences (an unplanned outage's recovery would read what the test
/// means a planned one to find).
fn keep_busy(bob: &Client, market: &'static str) -> tokio::task::JoinHandle<()> {
    let bob = bob.clone();
    tokio::spawn(async move {
        let one = Quantity::contracts(1).unwrap();
        loop {
            let order = NewOrder::buy_yes(market, one, cents(2));
            let placed = bob.orders().create(&order).send().await.unwrap();
            let cancel = CancelOrder::new(placed.order_id);
            bob.orders().cancel(cancel).send().await.unwrap();
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    })
}

/// A session of `client` on two connections, once both are up.
async fn two_connections(client: &Client) -> (StreamSession, Seen) {
    let mut session = streams(client).connections(2).connect().await.unwrap();
    let mut seen = Seen::default();
    wait_for(
        &mut session,
        &mut seen,
        "both connections",
        async |_, seen| seen.count(|e| matches!(e, Event::Connected { .. })) == 2,
    )
    .await;
    (session, seen)
}

/// With [`keep_busy`] running, no connection was lost but the one the test
/// silenced.
fn assert_only_the_silenced_link_was_lost(seen: &Seen) {
    let outages = seen.count(|e| matches!(e, Event::Disconnected { .. }));
    assert_eq!(outages, 1, "only the silenced connection was lost");
}

/// Bob offers one contract of `market` at `price` and alice takes it;
/// alice's order id.
async fn cross(stack: &Stack, market: &str, price: u32) -> String {
    let one = Quantity::contracts(1).unwrap();
    let sell = NewOrder::sell_yes(market, one, cents(price));
    stack.bob.orders().create(&sell).send().await.unwrap();
    let buy = NewOrder::buy_yes(market, one, cents(price));
    let bought = stack.alice.orders().create(&buy).send().await.unwrap();
    bought.order_id
}

/// The successful listings of the resting orders so far.
fn resting_listings(sim: &Simulator) -> usize {
    sim.journal()
        .iter()
        .filter(|e| {
            e.path.ends_with("/portfolio/orders")
                && e.query.contains("status=resting")
                && e.status == 200
        })
        .count()
}

/// Waits until the stream (and recoveries) show `order_id` canceled.
async fn wait_for_cancel(session: &mut StreamSession, seen: &mut Seen, order_id: &str) {
    wait_for(session, seen, "the cancel", async |_, seen| {
        seen.order_states()
            .get(order_id)
            .is_some_and(|state| state.0 == "canceled")
    })
    .await;
}

/// An order resting in a market added to a `user_orders` subscription was
/// never streamed; read when the market is added, its cancel during a later
/// outage is recovered like that of an order the stream had shown.
#[tokio::test]
async fn an_order_resting_in_a_market_added_later_is_recovered() {
    let stack = stack().await;
    let one = Quantity::contracts(1).unwrap();
    let elsewhere = NewOrder::buy_yes(MARKETS[1], one, cents(9));
    let elsewhere = stack
        .alice
        .orders()
        .create(&elsewhere)
        .send()
        .await
        .unwrap();
    // Listed among the orders created since an outage only if it began
    // within about 3 s of this.
    let old_enough = tokio::time::Instant::now() + Duration::from_millis(3500);
    let mut session = streams(&stack.alice)
        .heartbeat_timeout(Duration::from_millis(1500))
        .recover_orders(true)
        .connect()
        .await
        .unwrap();
    session
        .subscribe(Subscription::orderbook([MARKETS[1]]))
        .await
        .unwrap();
    let busy = keep_busy(&stack.bob, MARKETS[1]);
    let orders = session
        .subscribe(Subscription::user_orders().markets([MARKETS[0]]))
        .await
        .unwrap();
    let mut seen = Seen::default();
    wait_for(
        &mut session,
        &mut seen,
        "the subscription-time read",
        async |_, _| resting_listings(&stack.sim) == 1,
    )
    .await;
    session.add_markets(orders, [MARKETS[1]]).await.unwrap();
    wait_for(
        &mut session,
        &mut seen,
        "the added market's read",
        async |_, _| resting_listings(&stack.sim) == 2,
    )
    .await;
    tokio::time::sleep_until(old_enough).await;
    assert!(stack.sim.inject_stream(StreamFault::Silence) > 0);
    let cancel = CancelOrder::new(elsewhere.order_id.clone());
    stack.alice.orders().cancel(cancel).send().await.unwrap();
    wait_for_cancel(&mut session, &mut seen, &elsewhere.order_id).await;
    busy.abort();
    assert_only_the_silenced_link_was_lost(&seen);
    session.close().await;
}

/// When the subscription-time read of the resting orders fails, it is
/// reported once and made again after a backoff until it succeeds: an order
/// resting then, never streamed, and canceled during a later outage is
/// still recovered.
#[tokio::test]
async fn a_failed_subscription_time_read_is_made_again() {
    let stack = stack().await;
    let one = Quantity::contracts(1).unwrap();
    let before = NewOrder::buy_yes(MARKETS[2], one, cents(9));
    let before = stack.alice.orders().create(&before).send().await.unwrap();
    let old_enough = tokio::time::Instant::now() + Duration::from_millis(3500);
    let builder = streams(&stack.alice).recover_orders(true);
    let (mut session, mut seen, busy) = with_a_failing_baseline(
        &stack,
        builder,
        Subscription::user_orders(),
        "/portfolio/orders",
    )
    .await;
    // The requests one read made (the client retries each); then a second
    // read fails as well before the listings work again.
    let failed_listings = |sim: &Simulator| {
        sim.journal()
            .iter()
            .filter(|e| e.path.ends_with("/portfolio/orders") && e.status == 500)
            .count()
    };
    let one_read = failed_listings(&stack.sim);
    wait_for(
        &mut session,
        &mut seen,
        "a second failed read",
        async |_, _| failed_listings(&stack.sim) >= 2 * one_read,
    )
    .await;
    stack.sim.clear_faults();
    wait_for(
        &mut session,
        &mut seen,
        "the read to be made again",
        async |_, _| resting_listings(&stack.sim) == 1,
    )
    .await;
    tokio::time::sleep_until(old_enough).await;
    assert_eq!(
        resting_listings(&stack.sim),
        1,
        "the retries stop once the read succeeds"
    );
    assert!(stack.sim.inject_stream(StreamFault::Silence) > 0);
    let cancel = CancelOrder::new(before.order_id.clone());
    stack.alice.orders().cancel(cancel).send().await.unwrap();
    wait_for_cancel(&mut session, &mut seen, &before.order_id).await;
    busy.abort();
    let failures = seen.count(|e| matches!(e, Event::OrderRecoveryFailed { .. }));
    assert_eq!(failures, 1, "the failed read is reported once");
    assert_only_the_silenced_link_was_lost(&seen);
    session.close().await;
}

/// A client whose default subaccount is 2 gets every subaccount's fills and
/// orders from the stream, so recovery lists them all too: what the primary
/// account traded during an outage is recovered beside subaccount 2's.
#[tokio::test]
async fn recovery_lists_every_subaccount_not_only_the_clients_default() {
    let stack = stack().await;
    let two = kalshi_sim::engine::Owner {
        user_id: "alice".into(),
        subaccount: 2,
    };
    stack.sim.with_engine(|e| e.deposit(&two, dec("100")));
    let mut session = streams(&stack.alice_on_two)
        .heartbeat_timeout(Duration::from_millis(1500))
        .recover_fills(true)
        .recover_orders(true)
        .connect()
        .await
        .unwrap();
    let fills = session.subscribe(Subscription::fills()).await.unwrap();
    let orders = session
        .subscribe(Subscription::user_orders())
        .await
        .unwrap();
    assert!(stack.sim.inject_stream(StreamFault::Silence) > 0);
    // During the outage: the primary account (alice's client names no
    // subaccount) rests one order and takes bob's offer with another;
    // subaccount 2 rests one.
    let one = Quantity::contracts(1).unwrap();
    let place = async |client: &Client, order: NewOrder| {
        client
            .orders()
            .create(&order)
            .send()
            .await
            .unwrap()
            .order_id
    };
    let primary_resting = place(&stack.alice, NewOrder::buy_yes(MARKETS[0], one, cents(7))).await;
    let primary_taker = cross(&stack, MARKETS[1], 60).await;
    let on_two = place(
        &stack.alice_on_two,
        NewOrder::buy_yes(MARKETS[0], one, cents(8)),
    )
    .await;
    let mut seen = Seen::default();
    wait_for(
        &mut session,
        &mut seen,
        "both recoveries",
        async |_, seen| {
            seen.count(|e| matches!(e, Event::FillsRecovered { .. })) > 0
                && seen.count(|e| matches!(e, Event::OrdersRecovered { .. })) > 0
        },
    )
    .await;
    let recovered_orders: BTreeSet<String> = seen
        .events
        .iter()
        .filter_map(|e| match e {
            Event::OrdersRecovered {
                subscription,
                orders: listed,
                ..
            } if *subscription == orders => Some(listed),
            _ => None,
        })
        .flatten()
        .map(|order| rest_order(order).0)
        .collect();
    for id in [&primary_resting, &primary_taker, &on_two] {
        assert!(
            recovered_orders.contains(id),
            "{id} not recovered: {recovered_orders:?}"
        );
    }
    let recovered_fills: BTreeSet<String> = seen
        .events
        .iter()
        .filter_map(|e| match e {
            Event::FillsRecovered {
                subscription,
                fills: listed,
                ..
            } if *subscription == fills => Some(listed),
            _ => None,
        })
        .flatten()
        .map(|fill| rest_fill(fill).1)
        .collect();
    assert!(
        recovered_fills.contains(&primary_taker),
        "the primary account's fill was not recovered: {recovered_fills:?}"
    );
    session.close().await;
}

/// A key restricted to one subaccount may read only that one: recovery
/// reads the subaccounts the balances name (its own, for such a key) and
/// recovers the positions it changed during an outage.
#[tokio::test]
async fn a_key_locked_to_a_subaccount_recovers_its_positions() {
    let stack = stack().await;
    let sub = stack
        .alice
        .subaccounts()
        .create()
        .send()
        .await
        .unwrap()
        .subaccount_number;
    let owner = kalshi_sim::engine::Owner {
        user_id: "alice".into(),
        subaccount: u32::try_from(sub).unwrap(),
    };
    stack.sim.with_engine(|e| e.deposit(&owner, dec("100")));
    let generated = stack
        .alice
        .api_keys()
        .generate()
        .body(
            kalshi_gen::types::GenerateApiKeyRequest::builder()
                .name("sub bot")
                .key_type(Some(kalshi_gen::types::ApiKeyType::Ed25519))
                .subaccount(Some(sub)),
        )
        .send()
        .await
        .unwrap();
    let locked = Client::builder()
        .base_url(stack.sim.base_url())
        .credentials(Credentials::from_pem(&generated.api_key_id, &generated.private_key).unwrap())
        .build()
        .unwrap();
    let mut session = streams(&locked)
        .heartbeat_timeout(Duration::from_millis(1500))
        .recover_positions(true)
        .connect()
        .await
        .unwrap();
    session
        .subscribe(Subscription::market_positions())
        .await
        .unwrap();
    let mut seen = Seen::default();
    wait_for(
        &mut session,
        &mut seen,
        "the subscription-time read",
        async |_, _| position_listings(&stack.sim, "") > 0,
    )
    .await;
    assert!(stack.sim.inject_stream(StreamFault::Silence) > 0);
    let one = Quantity::contracts(1).unwrap();
    let sell = NewOrder::sell_yes(MARKETS[1], one, cents(50));
    stack.bob.orders().create(&sell).send().await.unwrap();
    let buy = NewOrder::buy_yes(MARKETS[1], one, cents(50));
    locked.orders().create(&buy).send().await.unwrap();
    wait_for(&mut session, &mut seen, "the recovery", async |_, seen| {
        seen.count(|e| {
            matches!(
                e,
                Event::PositionsRecovered { .. } | Event::PositionRecoveryFailed { .. }
            )
        }) > 0
    })
    .await;
    let failures = seen.count(|e| matches!(e, Event::PositionRecoveryFailed { .. }));
    assert_eq!(failures, 0, "{:?}", seen.events);
    let recovered: BTreeMap<_, _> = seen.recovered_positions().into_iter().collect();
    let key = (owner.subaccount, MARKETS[1].to_owned());
    let rest = rest_positions(&locked, &[owner.subaccount]).await;
    assert!(rest.contains_key(&key));
    assert_eq!(recovered.get(&key), rest.get(&key), "{recovered:?}");
    session.close().await;
}

/// When the fills cannot be listed, the consumer is told which window to
/// reconcile instead of being left with a silent gap.
#[tokio::test]
async fn a_recovery_that_cannot_list_the_fills_reports_its_window() {
    let stack = stack().await;
    let mut session = streams(&stack.alice)
        .heartbeat_timeout(Duration::from_millis(1500))
        .recover_fills(true)
        .connect()
        .await
        .unwrap();
    session.subscribe(Subscription::fills()).await.unwrap();
    // Every listing fails, through the client's retries; nothing else does.
    stack
        .sim
        .inject_at("/portfolio/fills", Fault::Status(500), 1_000);
    let silenced = SystemTime::now();
    assert!(stack.sim.inject_stream(StreamFault::Silence) > 0);
    let mut seen = Seen::default();
    wait_for(
        &mut session,
        &mut seen,
        "the recovery to fail",
        async |_, seen| seen.count(|e| matches!(e, Event::FillRecoveryFailed { .. })) > 0,
    )
    .await;
    let (_, since, error) = fill_recovery_failure(&seen);
    assert!(error.contains("listing the fills failed"), "{error}");
    // The subscription's answer was the last frame heard, noticed 1.5 s
    // after the silence.
    assert_window_starts_at_the_silence(since, silenced);
    assert_eq!(seen.count(|e| matches!(e, Event::FillsRecovered { .. })), 0);
    let listings = fill_listings(&stack.sim);
    assert!(
        listings >= 2,
        "the listing was retried ({listings} requests)"
    );
    session.close().await;
}

#[tokio::test]
async fn a_fill_subscription_refused_after_a_reconnect_reports_its_window() {
    let stack = stack().await;
    let mut session = streams(&stack.alice)
        .heartbeat_timeout(Duration::from_millis(1500))
        .recover_fills(true)
        .connect()
        .await
        .unwrap();
    let fills = session.subscribe(Subscription::fills()).await.unwrap();
    // The next subscribe, sent on the session that replaces the silenced
    // one, is refused with a code sending again cannot pass (invalid
    // parameter).
    stack.sim.refuse_subscriptions_with(1, 11);
    let silenced = SystemTime::now();
    assert!(stack.sim.inject_stream(StreamFault::Silence) > 0);
    let mut seen = Seen::default();
    wait_for(
        &mut session,
        &mut seen,
        "the recovery to be abandoned",
        async |_, seen| seen.count(|e| matches!(e, Event::FillRecoveryFailed { .. })) > 0,
    )
    .await;
    let (subscription, since, error) = fill_recovery_failure(&seen);
    assert_eq!(subscription, fills);
    assert!(error.contains("could not be made again"), "{error}");
    assert_window_starts_at_the_silence(since, silenced);
    // The refusal itself reaches the consumer, tied to the subscription.
    let refusals = seen.count(|e| {
        matches!(
            e,
            Event::ServerError { subscription: Some(s), code: 11, .. } if *s == fills
        )
    });
    assert_eq!(refusals, 1);
    // With no subscription to hand the fills to, nothing was listed.
    assert_eq!(seen.count(|e| matches!(e, Event::FillsRecovered { .. })), 0);
    assert_eq!(fill_listings(&stack.sim), 0);
    session.close().await;
}

/// A resubscription refused with a code that may pass (a channel error) is
/// sent again until it is accepted; the subscription then works as before
/// and the fills of its outage are recovered.
#[tokio::test]
async fn a_resubscription_refused_for_a_while_is_made_again() {
    let stack = stack().await;
    let mut session = streams(&stack.alice)
        .heartbeat_timeout(Duration::from_millis(1500))
        .recover_fills(true)
        .connect()
        .await
        .unwrap();
    session
        .subscribe(Subscription::orderbook([MARKETS[0]]))
        .await
        .unwrap();
    let busy = keep_busy(&stack.bob, MARKETS[0]);
    let fills = session.subscribe(Subscription::fills()).await.unwrap();
    // Three of the subscribes sent after the reconnect (the book's, the
    // fills' and their next attempts) are refused.
    stack.sim.refuse_subscriptions(3);
    assert!(stack.sim.inject_stream(StreamFault::Silence) > 0);
    // Traded during the outage: only recovery can bring it.
    let during = cross(&stack, MARKETS[1], 61).await;
    let mut seen = Seen::default();
    wait_for(&mut session, &mut seen, "the recovery", async |_, seen| {
        seen.count(|e| matches!(e, Event::FillsRecovered { .. })) > 0
    })
    .await;
    let refused = |e: &Event| matches!(e, Event::ServerError { subscription: Some(s), code: 10, .. } if *s == fills);
    let refusals = seen.count(|e| matches!(e, Event::ServerError { code: 10, .. }));
    assert_eq!(refusals, 3, "each refusal is reported");
    assert!(
        seen.count(refused) >= 1,
        "the fill subscription was refused"
    );
    assert_eq!(
        seen.count(|e| matches!(e, Event::FillRecoveryFailed { .. })),
        0
    );
    assert!(
        seen.recovered_fills().iter().any(|fill| fill.1 == during),
        "the outage's fill was recovered"
    );
    // The subscription streams again.
    let after = cross(&stack, MARKETS[1], 61).await;
    wait_for(
        &mut session,
        &mut seen,
        "a streamed fill",
        async |_, seen| seen.streamed_fills().iter().any(|fill| fill.1 == after),
    )
    .await;
    busy.abort();
    assert_only_the_silenced_link_was_lost(&seen);
    session.close().await;
}

#[tokio::test]
async fn a_stalled_connection_catches_up_without_loss() {
    let stack = stack().await;
    let mut session = streams(&stack.alice).connect().await.unwrap();
    let mut seen = flow_with_fault(
        &stack,
        &mut session,
        StreamFault::Delay(Duration::from_millis(300)),
    )
    .await;
    wait_for_fills(&mut session, &mut seen, &stack.alice).await;
    let stats = session.stats();
    assert_eq!((stats.gaps, stats.reconnects), (0, 0), "{stats:?}");
    session.close().await;
    assert_frames_follow_the_document(&stack.sim);
}

#[tokio::test]
async fn unknown_and_malformed_frames_are_reported_not_fatal() {
    let stack = stack().await;
    let mut session = streams(&stack.alice).connect().await.unwrap();
    subscribe_books_and_fills(&session).await;
    stack.sim.inject_stream(StreamFault::UnknownMessage);
    stack.sim.inject_stream(StreamFault::MalformedFrame);
    random_flow(&stack, 3, 40).await;
    let mut seen = Seen::default();
    wait_for_books(&mut session, &mut seen, &stack.alice, &MARKETS).await;
    wait_for_fills(&mut session, &mut seen, &stack.alice).await;
    let unknown = seen.count(|e| match e {
        Event::Message {
            message: ServerMessage::Unknown(m),
            ..
        }
        | Event::Unmatched {
            message: ServerMessage::Unknown(m),
            ..
        } => m.kind == "sim_unknown_kind",
        _ => false,
    });
    assert_eq!(unknown, 1);
    assert_eq!(seen.count(|e| matches!(e, Event::Undecodable { .. })), 1);
    assert_eq!(session.stats().undecodable, 1);
    session.close().await;
    assert_frames_follow_the_document(&stack.sim);
}

#[tokio::test]
async fn a_refused_subscription_is_a_typed_error() {
    let stack = stack().await;
    let session = streams(&stack.alice).connect().await.unwrap();
    stack.sim.inject_stream(StreamFault::RefuseSubscription);
    match session.subscribe(Subscription::fills()).await.unwrap_err() {
        StreamError::Command { code, .. } => assert_eq!(code, 10),
        other => panic!("{other:?}"),
    }
    session.subscribe(Subscription::fills()).await.unwrap();
    session.close().await;
}

/// With two connections, a subscribe one of them refuses (with an error
/// that may pass) succeeds on the other and is asked again on the first:
/// both carry it, so each message arrives twice and is delivered once.
#[tokio::test]
async fn a_subscribe_refused_by_one_of_two_connections_is_made_again_there() {
    let stack = stack().await;
    let (mut session, mut seen) = two_connections(&stack.alice).await;
    stack.sim.refuse_subscriptions(1);
    let fills = session.subscribe(Subscription::fills()).await.unwrap();
    // Trades until a fill arrives on both (the refused connection is asked
    // again after a backoff).
    let mut trades = 0;
    while session.stats().deduplicated == 0 {
        assert!(
            trades < 30,
            "the refused connection never carried the fills"
        );
        cross(&stack, MARKETS[1], 62).await;
        trades += 1;
        let settle = tokio::time::Instant::now() + Duration::from_millis(300);
        while let Ok(Some(event)) = tokio::time::timeout_at(settle, session.next_event()).await {
            seen.events.push(event);
        }
    }
    let streamed = seen.streamed_fills();
    let trade_ids: BTreeSet<_> = streamed.iter().map(|fill| &fill.0).collect();
    assert_eq!(trade_ids.len(), streamed.len(), "each fill delivered once");
    assert!(seen.events.iter().all(|e| match e {
        Event::Message { subscription, .. } => *subscription == fills,
        _ => true,
    }));
    session.close().await;
}

/// A subscribe one connection refuses while the other is slow to answer is
/// asked again on the first, and that grant answers the caller: it need not
/// wait for the slow connection.
#[tokio::test]
async fn a_retried_subscribe_answers_its_caller() {
    let stack = stack().await;
    let (session, _) = two_connections(&stack.alice).await;
    let sessions = stack.sim.stream_sessions();
    assert_eq!(sessions.len(), 2);
    let slow = sessions[1];
    assert!(
        stack
            .sim
            .inject_stream_on(slow, StreamFault::Delay(Duration::from_secs(5)))
    );
    tokio::time::sleep(Duration::from_millis(50)).await;
    // The other connection reads the subscribe first and refuses it.
    stack.sim.refuse_subscriptions(1);
    session.subscribe(Subscription::fills()).await.unwrap();
    let slow_answered = stack.sim.stream_journal().iter().any(|frame| {
        frame.session == slow
            && frame.direction == Direction::Sent
            && frame.text.contains("\"subscribed\"")
    });
    assert!(!slow_answered, "answered by the retried connection");
    let refusals = stack.sim.stream_journal().into_iter().filter(|frame| {
        frame.direction == Direction::Sent && frame.text.contains("injected by the test")
    });
    assert_eq!(refusals.count(), 1, "the first attempt was refused");
    session.close().await;
}

/// With two connections, a subscribe one of them refuses for good (invalid
/// parameter) succeeds on the other, and the lost redundancy is reported
/// once, under the id the caller got.
#[tokio::test]
async fn a_subscribe_refused_for_good_by_one_of_two_connections_is_reported() {
    let stack = stack().await;
    let (mut session, mut seen) = two_connections(&stack.alice).await;
    stack.sim.refuse_subscriptions_with(1, 11);
    let fills = session.subscribe(Subscription::fills()).await.unwrap();
    let reported = |e: &Event| matches!(e, Event::ServerError { subscription: Some(s), code: 11, .. } if *s == fills);
    wait_for(&mut session, &mut seen, "the report", async |_, seen| {
        seen.count(reported) > 0
    })
    .await;
    tokio::time::sleep(Duration::from_millis(400)).await;
    wait_for(&mut session, &mut seen, "quiet", async |_, _| true).await;
    assert_eq!(seen.count(reported), 1);
    assert_eq!(seen.count(|e| matches!(e, Event::ServerError { .. })), 1);
    session.close().await;
}

/// A subscription its caller was told failed is gone: a reconnect makes
/// only the accepted one again, and nothing is heard of the other.
#[tokio::test]
async fn a_refused_subscription_is_not_made_again_after_a_reconnect() {
    let stack = stack().await;
    let mut session = streams(&stack.alice).connect().await.unwrap();
    stack.sim.refuse_subscriptions(1);
    session
        .subscribe(Subscription::user_orders())
        .await
        .unwrap_err();
    let fills = session.subscribe(Subscription::fills()).await.unwrap();
    assert_eq!(stack.sim.inject_stream(StreamFault::DropConnection), 1);
    let mut seen = Seen::default();
    wait_for(
        &mut session,
        &mut seen,
        "the resubscription",
        async |_, seen| seen.count(|e| matches!(e, Event::Resubscribed { .. })) > 0,
    )
    .await;
    // Long enough for a lingering subscription's answer to arrive too.
    tokio::time::sleep(Duration::from_millis(300)).await;
    wait_for(&mut session, &mut seen, "quiet", async |_, _| true).await;
    for event in &seen.events {
        match event {
            Event::Resubscribed { subscription, .. } => assert_eq!(*subscription, fills),
            Event::ServerError { .. } => panic!("{event:?}"),
            _ => {}
        }
    }
    assert_eq!(session.list_subscriptions().await.unwrap().len(), 1);
    session.close().await;
}

#[tokio::test]
async fn the_control_api_refuses_subscriptions_on_sessions_opened_later() {
    let key = TestKey::rsa();
    let config = SimConfig::new()
        .control_api(true)
        .account(Account::with_public_key(
            "alice",
            "alice-key",
            key.public_key(),
        ));
    let sim = Simulator::start(config).await.unwrap();
    let refusals = |body: serde_json::Value| {
        reqwest::Client::new()
            .post(format!("{}/_sim/subscription_refusals", sim.origin()))
            .json(&body)
            .send()
    };
    for bad in [
        serde_json::json!({"times": -1}),
        serde_json::json!({"times": 1, "code": 0}),
        serde_json::json!({"times": 1, "code": "11"}),
    ] {
        let answer = refusals(bad.clone()).await.unwrap();
        assert_eq!(answer.status(), 400, "{bad}");
    }
    let queued = refusals(serde_json::json!({"times": 2})).await.unwrap();
    assert!(queued.status().is_success());
    let queued = refusals(serde_json::json!({"times": 1, "code": 11}))
        .await
        .unwrap();
    assert!(queued.status().is_success());
    // No session was open when they were queued.
    let alice = Client::builder()
        .base_url(sim.base_url())
        .credentials(Credentials::from_pem("alice-key", &key.pem).unwrap())
        .build()
        .unwrap();
    let session = streams(&alice).connect().await.unwrap();
    // In the order queued: twice the default code, then the one named.
    for expected in [10, 10, 11] {
        match session.subscribe(Subscription::fills()).await.unwrap_err() {
            StreamError::Command { code, .. } => assert_eq!(code, expected),
            other => panic!("{other:?}"),
        }
    }
    session.subscribe(Subscription::fills()).await.unwrap();
    session.close().await;
}

// ---------------------------------------------------------------------------
// Redundant connections
// ---------------------------------------------------------------------------

#[tokio::test]
async fn with_two_connections_a_dropped_one_loses_nothing() {
    let stack = stack().await;
    let mut session = streams(&stack.alice)
        .connections(2)
        .connect()
        .await
        .unwrap();
    subscribe_books_and_fills(&session).await;
    let mut seen = Seen::default();
    // Both connections are up and subscribed before the fault.
    wait_for(&mut session, &mut seen, "both connections", async |s, _| {
        s.list_subscriptions().await.is_ok() && s.stats().frames >= 2 * MARKETS.len() as u64
    })
    .await;
    random_flow(&stack, 11, 60).await;
    let first = stack.sim.stream_sessions()[0];
    assert!(
        stack
            .sim
            .inject_stream_on(first, StreamFault::DropConnection)
    );
    // While one connection is down the books stay fresh from the other.
    for round in 0..6 {
        random_flow(&stack, 100 + round, 20).await;
        for market in MARKETS {
            if let Some((_, _, stale)) = local_book(&session, market) {
                assert!(
                    !stale,
                    "{market} went stale although the other connection was up"
                );
            }
        }
    }
    wait_for_books(&mut session, &mut seen, &stack.alice, &MARKETS).await;
    wait_for_fills(&mut session, &mut seen, &stack.alice).await;
    let stats = session.stats();
    assert!(
        stats.deduplicated > 0,
        "messages arrived twice and were delivered once: {stats:?}"
    );
    assert_eq!(seen.count(|e| matches!(e, Event::Disconnected { .. })), 1);
    session.close().await;
    assert_frames_follow_the_document(&stack.sim);
}

#[tokio::test]
async fn a_session_keeps_going_when_the_market_closes_and_reopens() {
    let stack = stack().await;
    let mut session = streams(&stack.alice).connect().await.unwrap();
    subscribe_books_and_fills(&session).await;
    random_flow(&stack, 5, 30).await;
    stack
        .sim
        .set_market_state(MARKETS[1], MarketState::Closed)
        .unwrap();
    stack
        .sim
        .set_market_state(MARKETS[1], MarketState::Open)
        .unwrap();
    random_flow(&stack, 6, 30).await;
    let mut seen = Seen::default();
    wait_for_books(&mut session, &mut seen, &stack.alice, &MARKETS).await;
    // Closing canceled the market's resting orders: its book is empty or
    // holds only orders placed after it reopened, as REST says.
    session.close().await;
    assert_frames_follow_the_document(&stack.sim);
}

/// A delta lost just before another market's snapshot (here, one that
/// `add_markets` brings) is a gap too: the snapshot's own book is exact,
/// every other book of the subscription is resynchronized.
#[tokio::test]
async fn a_gap_before_another_markets_snapshot_resyncs_the_rest() {
    let stack = stack().await;
    let mut session = streams(&stack.alice).connect().await.unwrap();
    let books = session
        .subscribe(Subscription::orderbook([MARKETS[0], MARKETS[1]]))
        .await
        .unwrap();
    let mut seen = Seen::default();
    wait_for_books(&mut session, &mut seen, &stack.bob, &MARKETS[..2]).await;
    // The next sequenced frame, Bob's new level on the second market, is lost.
    stack.sim.inject_stream(StreamFault::SkipSeq);
    let order = NewOrder::buy_yes(MARKETS[1], Quantity::contracts(7).unwrap(), cents(31));
    stack.bob.orders().create(&order).send().await.unwrap();
    session.add_markets(books, [MARKETS[2]]).await.unwrap();
    wait_for_books(&mut session, &mut seen, &stack.bob, &MARKETS).await;
    assert!(session.stats().gaps >= 1, "{:?}", session.stats());
    session.close().await;
}

/// Without an initial snapshot a subscription still gets the deltas from
/// then on; the local book stays stale (it has no exact state to start
/// from) until a snapshot is asked for.
#[tokio::test]
async fn without_an_initial_snapshot_deltas_still_arrive_and_the_book_waits() {
    let stack = stack().await;
    let mut session = streams(&stack.alice).connect().await.unwrap();
    let books = session
        .subscribe(Subscription::orderbook([MARKETS[0]]).initial_snapshot(false))
        .await
        .unwrap();
    let order = NewOrder::buy_yes(MARKETS[0], Quantity::contracts(2).unwrap(), cents(22));
    stack.bob.orders().create(&order).send().await.unwrap();
    let mut seen = Seen::default();
    wait_for(&mut session, &mut seen, "a delta", async |_, seen| {
        seen.count(|e| {
            matches!(
                e,
                Event::Message {
                    message: ServerMessage::OrderbookDelta(_),
                    ..
                }
            )
        }) > 0
    })
    .await;
    assert!(local_book(&session, MARKETS[0]).is_some_and(|(_, _, stale)| stale));
    session.request_snapshot(books).await.unwrap();
    wait_for_books(&mut session, &mut seen, &stack.bob, &MARKETS[..1]).await;
    session.close().await;
}
