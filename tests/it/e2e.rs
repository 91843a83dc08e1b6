//! End to end: the client, Stoplight Prism validating every request and
//! response against the vendored spec, and the local exchange simulator.
//!
//! The lifecycle tests go through Prism. The fault tests talk to the
//! simulator directly: a dropped connection or a truncated body between
//! Prism and the simulator would reach the client as Prism's own error
//! response, not as the fault being tested.

use std::time::Duration;

use futures_util::TryStreamExt;
use kalshi_client::order::{
    Amendment, CancelOrder, Decrease, DecreaseOrder, ExchangeRoute, NewOrder, Price, Quantity,
    Side, Subaccount, TimeInForce,
};
use kalshi_client::resources::QueueScope;
use kalshi_client::{Client, Credentials, Error, Execute, Paginate, RetryPolicy};
use kalshi_sim::{Account, Fault, SimConfig, Simulator};
use kalshi_tests::keys::TestKey;
use kalshi_tests::prism::Prism;
use rust_decimal::Decimal;

use crate::support::dec;

const MARKET: &str = "KXTEST-26DEC31-YES";

fn config() -> SimConfig {
    SimConfig::new()
        .account(Account::with_public_key(
            "alice",
            "alice-key",
            TestKey::rsa().public_key(),
        ))
        .account(Account::with_public_key(
            "bob",
            "bob-key",
            TestKey::ed25519().public_key(),
        ))
}

/// A client with the key's material registered as a secret: the suite runs
/// with every event at TRACE captured and scanned (see `secrets.rs`).
fn client(base_url: &str, key_id: &str, key: &TestKey) -> Client {
    kalshi_tests::traces::capture();
    kalshi_tests::traces::forbid(&key.pem);
    crate::support::client(base_url, key_id, key)
}

fn price(text: &str) -> Price {
    text.parse().unwrap()
}

fn qty(n: u32) -> Quantity {
    Quantity::contracts(n).unwrap()
}

/// How every Prism test ends: no request or response broke the spec, and
/// nothing logged so far, at any level, held key material or a signature.
fn assert_clean(prism: &Prism) {
    prism.assert_clean();
    let seen = kalshi_tests::traces::seen();
    assert!(
        seen.leaks.is_empty(),
        "secrets in the traces: {:?}",
        seen.leaks
    );
}

/// The simulator with Prism in front, and a client for each account.
struct Stack {
    sim: Simulator,
    prism: Prism,
    alice: Client,
    bob: Client,
}

async fn stack() -> Stack {
    let sim = Simulator::start(config()).await.unwrap();
    let prism = Prism::start(&sim.origin()).await.unwrap();
    let alice = client(&prism.base_url(), "alice-key", TestKey::rsa());
    let bob = client(&prism.base_url(), "bob-key", TestKey::ed25519());
    Stack {
        sim,
        prism,
        alice,
        bob,
    }
}

#[tokio::test]
async fn an_order_lives_through_place_amend_decrease_fill_and_cancel() {
    let Stack {
        sim,
        prism,
        alice,
        bob,
    } = stack().await;
    let orders = alice.orders();

    let placed = orders
        .create(&NewOrder::buy_yes(MARKET, qty(10), price("0.40")))
        .send()
        .await
        .unwrap();
    assert_eq!(
        (
            placed.fill_count.to_string(),
            placed.remaining_count.to_string()
        ),
        ("0.00".into(), "10.00".into())
    );
    assert_eq!(
        orders
            .queue_position(&placed.order_id)
            .send()
            .await
            .unwrap()
            .queue_position_fp
            .value(),
        Decimal::ZERO
    );

    // Amend: the count is the new total.
    let amended = orders
        .amend(
            &placed.order_id,
            &Amendment::new(MARKET, Side::Bid, qty(12), price("0.42")),
        )
        .send()
        .await
        .unwrap();
    let resting = orders.get(&amended.order_id).send().await.unwrap().order;
    assert_eq!(
        (
            resting.yes_price_dollars.to_string(),
            resting.remaining_count_fp.to_string()
        ),
        ("0.4200".into(), "12.00".into())
    );

    let decreased = orders
        .decrease(&amended.order_id, &Decrease::By(qty(2)).into())
        .send()
        .await
        .unwrap();
    assert_eq!(decreased.remaining_count.to_string(), "10.00");

    // Bob sells 4 YES into Alice's bid: a partial fill at her price.
    let taker = bob
        .orders()
        .create(
            &NewOrder::sell_yes(MARKET, qty(4), price("0.30"))
                .time_in_force(TimeInForce::ImmediateOrCancel),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(taker.fill_count.to_string(), "4.00");
    assert_eq!(
        taker.average_fill_price.map(|p| p.to_string()),
        Some("0.4200".into())
    );
    let after_fill = orders.get(&amended.order_id).send().await.unwrap().order;
    assert_eq!(
        (
            after_fill.fill_count_fp.to_string(),
            after_fill.remaining_count_fp.to_string()
        ),
        ("4.00".into(), "6.00".into())
    );

    let canceled = orders
        .cancel(amended.order_id.as_str())
        .send()
        .await
        .unwrap();
    assert_eq!(canceled.reduced_by.to_string(), "6.00");
    let again = orders
        .cancel(amended.order_id.as_str())
        .send()
        .await
        .unwrap_err();
    assert!(matches!(again, Error::NotFound(_)), "{again:?}");

    // Balance and positions afterwards: 4 YES bought at 0.42.
    let balance = alice.portfolio().balance().send().await.unwrap();
    assert_eq!(balance.balance_dollars.value(), dec("10000") - dec("1.68"));
    let positions = alice.portfolio().positions().send().await.unwrap();
    let position = positions
        .market_positions
        .iter()
        .find(|p| p.ticker == MARKET)
        .expect("a position");
    assert_eq!(position.position_fp.value(), dec("4"));
    let fills: Vec<_> = alice
        .portfolio()
        .fills()
        .stream(None)
        .try_collect()
        .await
        .unwrap();
    assert_eq!(fills.len(), 1);
    assert_eq!(sim.with_engine(|e| e.resting_count()), 0);
    assert_clean(&prism);
}

#[tokio::test]
async fn cancel_all_and_a_batch_mixing_valid_and_invalid_orders() {
    let Stack {
        sim, prism, alice, ..
    } = stack().await;
    let orders = alice.orders();
    let batch = [
        NewOrder::buy_yes(MARKET, qty(1), price("0.10")),
        NewOrder::buy_yes("KXNOPE-00-NO", qty(1), price("0.10")),
        NewOrder::buy_yes(MARKET, qty(1), price("0.11")),
    ];
    let results = orders.batch_create(&batch).send().await.unwrap();
    assert!(results[0].is_ok() && results[2].is_ok(), "{results:?}");
    let refused = results[1].as_ref().unwrap_err();
    assert_eq!(
        refused.code.as_deref(),
        Some("market_not_found"),
        "{refused:?}"
    );
    assert_eq!(sim.with_engine(|e| e.resting_count()), 2);

    let ids: Vec<CancelOrder> = results
        .iter()
        .flatten()
        .map(|r| CancelOrder::new(r.order_id.clone().unwrap()))
        .collect();
    let canceled = orders
        .batch_cancel(&[ids[0].clone(), CancelOrder::new("no-such-order")])
        .send()
        .await
        .unwrap();
    assert!(canceled[0].is_ok());
    assert_eq!(
        canceled[1].as_ref().unwrap_err().code.as_deref(),
        Some("not_found")
    );

    orders
        .create(&NewOrder::buy_yes(MARKET, qty(1), price("0.12")))
        .send()
        .await
        .unwrap();
    orders.cancel_all().send().await.unwrap();
    assert_eq!(sim.with_engine(|e| e.resting_count()), 0);
    assert_clean(&prism);
}

#[tokio::test]
async fn listing_pages_resends_filters_across_more_than_three_pages() {
    let Stack {
        sim,
        prism,
        alice,
        bob,
    } = stack().await;
    for i in 0..7 {
        alice
            .orders()
            .create(
                &NewOrder::buy_yes(MARKET, qty(1), price("0.05"))
                    .client_order_id(format!("page-{i}")),
            )
            .send()
            .await
            .unwrap();
    }
    // Someone else's orders never show up in Alice's lists.
    bob.orders()
        .create(&NewOrder::buy_yes(MARKET, qty(1), price("0.05")))
        .send()
        .await
        .unwrap();
    let listed: Vec<_> = alice
        .orders()
        .list()
        .ticker(MARKET)
        .status("resting")
        .limit(2)
        .stream(None)
        .try_collect()
        .await
        .unwrap();
    assert_eq!(listed.len(), 7);
    let pages = sim
        .journal()
        .iter()
        .filter(|e| e.path.ends_with("/portfolio/orders") && e.query.contains("ticker="))
        .count();
    assert_eq!(pages, 4);
    assert_clean(&prism);
}

#[tokio::test]
async fn subaccounts_exchange_routing_and_queue_positions() {
    let Stack {
        sim, prism, alice, ..
    } = stack().await;
    let orders = alice.orders();
    let two = Subaccount::new(2).unwrap();
    let owner = kalshi_sim::engine::Owner {
        user_id: "alice".into(),
        subaccount: 2,
    };
    sim.with_engine(|e| e.deposit(&owner, dec("100")));
    let first = orders
        .create(&NewOrder::buy_yes(MARKET, qty(3), price("0.20")).subaccount(two))
        .send()
        .await
        .unwrap();
    let second = orders
        .create(
            &NewOrder::buy_yes(MARKET, qty(5), price("0.20"))
                .route(ExchangeRoute::ByTicker(MARKET.into())),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(
        orders
            .queue_position(&second.order_id)
            .send()
            .await
            .unwrap()
            .queue_position_fp
            .value(),
        dec("3")
    );
    let positions = orders
        .queue_positions(QueueScope::Markets(vec![MARKET.into()]))
        .send()
        .await
        .unwrap()
        .queue_positions;
    assert_eq!(positions.len(), 2);

    let in_two: Vec<_> = orders
        .list()
        .subaccount(2)
        .stream(None)
        .try_collect()
        .await
        .unwrap();
    assert_eq!(
        in_two
            .iter()
            .map(|o| o.order_id.as_str())
            .collect::<Vec<_>>(),
        [first.order_id.as_str()]
    );

    // The order lives in subaccount 2: cancelling it as the primary account finds nothing.
    let wrong = orders
        .cancel(first.order_id.as_str())
        .send()
        .await
        .unwrap_err();
    assert!(matches!(wrong, Error::NotFound(_)), "{wrong:?}");
    orders
        .decrease(
            &first.order_id,
            &DecreaseOrder::new(Decrease::To(qty(1)))
                .subaccount(two)
                .route(ExchangeRoute::ByTicker(MARKET.into())),
        )
        .send()
        .await
        .unwrap();
    orders
        .cancel(
            CancelOrder::new(first.order_id.as_str())
                .subaccount(two)
                .route(ExchangeRoute::ByTicker(MARKET.into())),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(sim.with_engine(|e| e.resting_count()), 1);
    assert_clean(&prism);
}

#[tokio::test]
async fn public_market_data_needs_no_key() {
    let sim = Simulator::start(config()).await.unwrap();
    let prism = Prism::start(&sim.origin()).await.unwrap();
    let public = Client::builder()
        .base_url(prism.base_url())
        .build()
        .unwrap();
    let markets: Vec<_> = public
        .markets()
        .list()
        .limit(2)
        .stream(None)
        .try_collect()
        .await
        .unwrap();
    assert!(markets.len() >= 6);
    let market = public.markets().get(MARKET).send().await.unwrap();
    assert_eq!(market.market.ticker, MARKET);
    public.markets().orderbook(MARKET).send().await.unwrap();
    public.exchange().status().send().await.unwrap();
    let refused = public.portfolio().balance().send().await.unwrap_err();
    assert!(
        matches!(refused, Error::MissingCredentials { .. }),
        "{refused:?}"
    );
    assert_clean(&prism);
}

/// Spec 3.34.0: positions of a settled market are listed only when asked for.
#[tokio::test]
async fn positions_are_filtered_by_settlement_status() {
    use kalshi_client::generated::types::GetPositionsSettlementStatus as Status;
    use kalshi_sim::engine::Outcome;
    let Stack {
        sim,
        prism,
        alice,
        bob,
    } = stack().await;
    const OTHER: &str = "KXTEST-27JUN30-YES";
    for ticker in [MARKET, OTHER] {
        alice
            .orders()
            .create(&NewOrder::buy_yes(ticker, qty(2), price("0.60")))
            .send()
            .await
            .unwrap();
        bob.orders()
            .create(&NewOrder::sell_yes(ticker, qty(2), price("0.60")))
            .send()
            .await
            .unwrap();
    }
    sim.with_engine(|e| e.settle(MARKET, Outcome::Yes)).unwrap();

    let tickers = |status: Option<Status>| {
        let alice = alice.clone();
        async move {
            let mut request = alice.portfolio().positions();
            if let Some(status) = status {
                request = request.settlement_status(status);
            }
            let mut tickers: Vec<String> = request
                .stream(None)
                .map_ok(|p| p.ticker)
                .try_collect()
                .await
                .unwrap();
            tickers.sort();
            tickers
        }
    };
    assert_eq!(tickers(None).await, [OTHER], "unsettled by default");
    assert_eq!(tickers(Some(Status::Unsettled)).await, [OTHER]);
    assert_eq!(tickers(Some(Status::Settled)).await, [MARKET]);
    assert_eq!(tickers(Some(Status::All)).await, [MARKET, OTHER]);
    // Alice's 2 YES paid $1 each: she paid 1.20 and got 2.00 back.
    let balance = alice.portfolio().balance().send().await.unwrap();
    assert_eq!(
        balance.balance_dollars.value(),
        dec("10000") - dec("2.40") + dec("2")
    );
    assert_clean(&prism);
}

/// Spec 3.34.0: an event without its markets.
#[tokio::test]
async fn an_event_can_be_read_without_its_markets() {
    let Stack {
        sim: _sim,
        prism,
        alice,
        ..
    } = stack().await;
    let event = "KXHIGHNY-26NOV30";
    let full = alice.events().get(event).send().await.unwrap();
    assert_eq!(full.markets.len(), 4);
    let bare = alice
        .events()
        .get(event)
        .exclude_markets(true)
        .send()
        .await
        .unwrap();
    assert_eq!(bare.event.event_ticker, event);
    assert!(bare.markets.is_empty());
    let both = alice
        .events()
        .get(event)
        .exclude_markets(true)
        .with_nested_markets(true)
        .send()
        .await
        .unwrap_err();
    assert!(matches!(both, Error::BadRequest(_)), "{both:?}");
    assert_clean(&prism);
}

/// Spec 3.34.0: a transfer carries its `client_transfer_id`; the same
/// transfer sent again is refused with 409 and moves nothing.
#[tokio::test]
async fn a_transfer_between_exchanges_happens_once_per_id() {
    use kalshi_client::generated::types::ExchangeInstance;
    use kalshi_client::transfer::ExchangeTransfer;
    let Stack {
        sim, prism, alice, ..
    } = stack().await;
    let transfer = ExchangeTransfer::new(
        ExchangeInstance::EventContract,
        ExchangeInstance::Margined,
        dec("25.5"),
    )
    .unwrap();
    let id = transfer.client_transfer_id().unwrap();
    let done = alice
        .portfolio()
        .transfer_between_exchanges(&transfer)
        .send()
        .await
        .unwrap();
    let again = alice
        .portfolio()
        .transfer_between_exchanges(&transfer)
        .send()
        .await
        .unwrap_err();
    assert!(matches!(again, Error::Conflict(_)), "{again:?}");
    assert!(!again.may_have_executed());
    assert_eq!(sim.margined_balance("alice"), dec("25.5"));

    let listed = alice
        .portfolio()
        .exchange_transfer(done.transfer_id.as_str())
        .send()
        .await
        .unwrap()
        .transfer;
    assert_eq!(listed.amount.value(), dec("25.5"));
    assert_eq!(listed.client_transfer_id, Some(id.to_string()));
    let back = ExchangeTransfer::new(
        ExchangeInstance::Margined,
        ExchangeInstance::EventContract,
        dec("5"),
    )
    .unwrap();
    alice
        .portfolio()
        .transfer_between_exchanges(&back)
        .send()
        .await
        .unwrap();
    let history: Vec<_> = alice
        .portfolio()
        .exchange_transfers()
        .stream(None)
        .try_collect()
        .await
        .unwrap();
    assert_eq!(history.len(), 2);
    let balance = alice.portfolio().balance().send().await.unwrap();
    assert_eq!(balance.balance_dollars.value(), dec("10000") - dec("20.5"));
    assert_clean(&prism);
}

/// Spec 3.34.0: an RFQ batch from creation to confirmed quotes, with a
/// second batch closed by its creator.
#[tokio::test]
async fn an_rfq_batch_is_quoted_accepted_and_confirmed() {
    use kalshi_client::generated::types;
    let Stack {
        sim: _sim,
        prism,
        alice,
        bob,
    } = stack().await;
    let child = |ticker: &str| {
        types::CreateRfqBatchChild::builder()
            .market_ticker(ticker.to_owned())
            .try_into()
            .unwrap()
    };
    let request: types::CreateRfqBatchRequest = types::CreateRfqBatchRequest::builder()
        .children(vec![
            child("KXHIGHNY-26NOV30-B40"),
            child("KXHIGHNY-26NOV30-B45"),
        ])
        .contracts_fp(Some("5".parse().unwrap()))
        .try_into()
        .unwrap();
    let batches = alice.communications().rfq_batches();
    let batch = batches
        .create()
        .body(request.clone())
        .send()
        .await
        .unwrap()
        .rfq_batch;
    assert_eq!(batch.rfqs.len(), 2);
    assert_eq!(batch.status, types::RfqBatchStatus::Open);

    // Bob quotes every child; Alice sees the best bids and accepts on YES.
    let entries: Vec<types::RfqBatchQuoteEntry> = batch
        .rfqs
        .iter()
        .map(|rfq| {
            types::RfqBatchQuoteEntry::builder()
                .rfq_id(rfq.id.clone())
                .yes_bid("0.40".parse::<kalshi_client::Dollars>().unwrap())
                .no_bid("0.50".parse::<kalshi_client::Dollars>().unwrap())
                .try_into()
                .unwrap()
        })
        .collect();
    let quote = bob
        .communications()
        .rfq_batches()
        .create_quote(batch.id.as_str())
        .body(
            types::CreateRfqBatchQuoteRequest::builder()
                .quotes(entries)
                .rest_remainder(false),
        )
        .send()
        .await
        .unwrap();
    let best = batches
        .best_quotes(batch.id.as_str())
        .send()
        .await
        .unwrap()
        .best_quotes;
    assert!(best.yes_complete && best.no_complete, "{best:?}");
    let min_bids: Vec<types::RfqBatchAcceptLimit> = best
        .rfqs
        .iter()
        .map(|child| {
            types::RfqBatchAcceptLimit::builder()
                .rfq_id(child.rfq_id.clone())
                .bid_dollars(child.yes_bid_dollars.unwrap())
                .try_into()
                .unwrap()
        })
        .collect();
    let accepted = batches
        .accept(batch.id.as_str())
        .body(
            types::AcceptRfqBatchRequest::builder()
                .accepted_side(types::AcceptRfqBatchRequestAcceptedSide::Yes)
                .min_bids(min_bids),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(accepted.quotes.len(), 2);
    bob.communications()
        .rfq_batches()
        .confirm_quote(batch.id.as_str(), quote.id.as_str())
        .send()
        .await
        .unwrap();
    let mine = bob
        .communications()
        .rfq_batches()
        .quotes(batch.id.as_str())
        .send()
        .await
        .unwrap();
    assert_eq!(
        mine.batch_quotes[0].status,
        types::RfqBatchQuoteStatus::Confirmed
    );
    let accepted_batch = batches.get(batch.id.as_str()).send().await.unwrap();
    assert_eq!(
        accepted_batch.rfq_batch.status,
        types::RfqBatchStatus::Accepted
    );
    let refused = batches.delete(batch.id.as_str()).send().await.unwrap_err();
    assert!(matches!(refused, Error::BadRequest(_)), "{refused:?}");

    // A second batch, closed before anyone quotes it.
    let second = batches
        .create()
        .body(request)
        .send()
        .await
        .unwrap()
        .rfq_batch;
    batches.delete(second.id.as_str()).send().await.unwrap();
    let closed: Vec<_> = batches
        .list()
        .status(types::RfqBatchStatus::Closed)
        .stream(None)
        .try_collect()
        .await
        .unwrap();
    assert_eq!(
        closed.iter().map(|b| b.id.as_str()).collect::<Vec<_>>(),
        [second.id.as_str()]
    );
    assert_clean(&prism);
}

mod faults {
    use super::*;

    /// Straight to the simulator (see the module docs), with Alice's RSA key.
    async fn direct() -> (Simulator, Client) {
        let sim = Simulator::start(config()).await.unwrap();
        let alice = client(&sim.base_url(), "alice-key", TestKey::rsa());
        (sim, alice)
    }

    fn order() -> NewOrder {
        NewOrder::buy_yes(MARKET, qty(1), price("0.33"))
    }

    fn orders_held(sim: &Simulator) -> usize {
        sim.with_engine(|e| e.orders_of("alice").len())
    }

    /// A malformed body on a read is not transient (the same request gets
    /// the same answer): it surfaces as a `Decode` error instead of being
    /// retried.
    #[tokio::test]
    async fn reads_are_retried_through_every_transient_fault_until_they_succeed() {
        let (sim, alice) = direct().await;
        let faults = [
            Fault::Status(503),
            Fault::Status(500),
            Fault::Status(502),
            Fault::RateLimited,
            Fault::DropConnection,
            Fault::TruncatedBody,
        ];
        for fault in &faults {
            sim.inject(fault.clone(), 2);
            alice
                .portfolio()
                .balance()
                .send()
                .await
                .unwrap_or_else(|e| panic!("{fault:?}: {e}"));
        }
        assert_eq!(
            sim.journal().len(),
            faults.len() * 3,
            "each read took two failed attempts and one success"
        );
        sim.inject(Fault::Delay(Duration::from_millis(50)), 1);
        alice.portfolio().balance().send().await.unwrap();
        sim.inject(Fault::MalformedJson, 1);
        let error = alice.portfolio().balance().send().await.unwrap_err();
        assert!(matches!(error, Error::Decode { .. }), "{error:?}");
    }

    #[tokio::test]
    async fn the_exchange_rate_limit_turns_into_waiting_with_client_side_limits() {
        // 20 tokens per second: two 10-token reads, then 429s until it refills.
        let sim = Simulator::start(config().rate_limit(20, 20)).await.unwrap();
        let impatient = Client::builder()
            .base_url(sim.base_url())
            .credentials(Credentials::from_pem("alice-key", &TestKey::rsa().pem).unwrap())
            .retry_policy(
                RetryPolicy::default()
                    .with_max_attempts(2)
                    .with_backoff(Duration::from_millis(1), Duration::from_millis(1)),
            )
            .build()
            .unwrap();
        let results =
            futures_util::future::join_all((0..4).map(|_| impatient.portfolio().balance().send()))
                .await;
        let limited = results
            .iter()
            .filter(|r| matches!(r, Err(Error::RateLimited(_))))
            .count();
        assert!(limited >= 1, "{results:?}");

        // A budget inside the exchange's on the client side (with headroom
        // for the two clocks): requests wait for it instead of failing.
        tokio::time::sleep(Duration::from_millis(1100)).await;
        let spec = kalshi_client::rate_limit::BucketSpec {
            refill_per_sec: 15,
            capacity: 20,
        };
        let patient = Client::builder()
            .base_url(sim.base_url())
            .credentials(Credentials::from_pem("alice-key", &TestKey::rsa().pem).unwrap())
            .rate_limits(kalshi_client::RateLimits::new(spec, spec))
            .retry_policy(RetryPolicy::none())
            .build()
            .unwrap();
        let results =
            futures_util::future::join_all((0..4).map(|_| patient.portfolio().balance().send()))
                .await;
        assert!(results.iter().all(Result::is_ok), "{results:?}");
    }

    #[tokio::test]
    async fn a_write_refused_with_500_or_a_dropped_connection_is_not_resent_and_not_executed() {
        let (sim, alice) = direct().await;
        sim.inject(Fault::Status(500), 1);
        let error = alice.orders().create(&order()).send().await.unwrap_err();
        assert!(matches!(error, Error::Server(_)), "{error:?}");
        sim.inject(Fault::DropConnection, 1);
        let error = alice.orders().create(&order()).send().await.unwrap_err();
        assert!(error.may_have_executed(), "{error:?}");
        assert_eq!(sim.journal().len(), 2, "a write was resent");
        assert_eq!(orders_held(&sim), 0);
    }

    #[tokio::test]
    async fn a_write_refused_with_429_is_resent_once_and_executed_once() {
        let (sim, alice) = direct().await;
        sim.inject(Fault::RateLimited, 1);
        alice.orders().create(&order()).send().await.unwrap();
        assert_eq!(sim.journal().len(), 2);
        assert_eq!(orders_held(&sim), 1);
    }

    #[tokio::test]
    async fn a_write_whose_response_went_wrong_is_executed_exactly_once() {
        let (sim, alice) = direct().await;
        for (fault, is_expected) in [
            (
                Fault::TruncatedBody,
                (|e: &Error| {
                    matches!(
                        e,
                        Error::Transport {
                            may_have_executed: true,
                            ..
                        }
                    )
                }) as fn(&Error) -> bool,
            ),
            (Fault::MalformedJson, |e: &Error| {
                matches!(e, Error::Decode { .. })
            }),
            (Fault::NoContent, |e: &Error| {
                matches!(e, Error::ProtocolViolation { .. })
            }),
            (Fault::LoseResponse, |e: &Error| {
                matches!(
                    e,
                    Error::Transport {
                        may_have_executed: true,
                        ..
                    }
                )
            }),
        ] {
            let before = orders_held(&sim);
            sim.inject(fault.clone(), 1);
            let error = alice.orders().create(&order()).send().await.unwrap_err();
            assert!(is_expected(&error), "{fault:?}: {error:?}");
            assert!(error.may_have_executed(), "{fault:?}");
            assert_eq!(
                orders_held(&sim),
                before + 1,
                "{fault:?}: executed {} times",
                orders_held(&sim) - before
            );
        }
    }

    #[tokio::test]
    async fn a_lost_create_response_is_settled_by_looking_the_order_up() {
        let (sim, alice) = direct().await;
        let order = order();
        sim.inject(Fault::LoseResponse, 1);
        let error = alice.orders().create(&order).send().await.unwrap_err();
        assert!(error.may_have_executed(), "{error:?}");
        let found = alice.orders().find(&order, 1000).await.unwrap();
        assert_eq!(
            found.map(|o| o.client_order_id),
            Some(order.id().to_owned())
        );
        assert_eq!(orders_held(&sim), 1);
    }

    #[tokio::test]
    async fn a_write_that_times_out_is_not_resent() {
        let sim = Simulator::start(config()).await.unwrap();
        let alice = Client::builder()
            .base_url(sim.base_url())
            .credentials(Credentials::from_pem("alice-key", &TestKey::rsa().pem).unwrap())
            .request_timeout(Duration::from_millis(300))
            .build()
            .unwrap();
        sim.inject(Fault::Delay(Duration::from_millis(800)), 1);
        let error = alice.orders().create(&order()).send().await.unwrap_err();
        assert!(
            matches!(
                error,
                Error::Timeout {
                    may_have_executed: true,
                    ..
                }
            ),
            "{error:?}"
        );
        tokio::time::sleep(Duration::from_millis(700)).await;
        assert_eq!(sim.journal().len(), 1);
        assert_eq!(
            orders_held(&sim),
            1,
            "the exchange executed it after the client gave up"
        );
    }

    #[tokio::test]
    async fn a_reused_client_order_id_is_a_conflict() {
        let (sim, alice) = direct().await;
        let order = order();
        alice.orders().create(&order).send().await.unwrap();
        let error = alice.orders().create(&order).send().await.unwrap_err();
        assert!(matches!(error, Error::Conflict(_)), "{error:?}");
        assert_eq!(orders_held(&sim), 1);
    }
}

mod authentication {
    use super::*;

    #[tokio::test]
    async fn the_simulator_refuses_bad_signatures_unknown_keys_and_stale_timestamps() {
        let sim = Simulator::start(config()).await.unwrap();
        let url = format!("{}/portfolio/balance", sim.base_url());
        let http = reqwest::Client::new();
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_millis();
        let send = |key: &'static str, ts: u128, signature: String| {
            http.get(&url)
                .header("KALSHI-ACCESS-KEY", key)
                .header("KALSHI-ACCESS-TIMESTAMP", ts.to_string())
                .header("KALSHI-ACCESS-SIGNATURE", signature)
                .send()
        };
        let credentials = Credentials::from_pem("bob-key", &TestKey::ed25519().pem).unwrap();
        let sign =
            |ts: u128, path: &str| credentials.sign(ts as u64, "GET", path).unwrap().signature;
        let good = send("bob-key", now, sign(now, "/trade-api/v2/portfolio/balance"))
            .await
            .unwrap();
        assert_eq!(good.status(), 200);
        let wrong_path = send("bob-key", now, sign(now, "/portfolio/balance"))
            .await
            .unwrap();
        assert_eq!(wrong_path.status(), 401);
        assert!(
            wrong_path
                .text()
                .await
                .unwrap()
                .contains("INCORRECT_API_KEY_SIGNATURE")
        );
        let unknown = send("nobody", now, sign(now, "/trade-api/v2/portfolio/balance"))
            .await
            .unwrap();
        assert_eq!(unknown.status(), 401);
        let stale = now - 120_000;
        let expired = send(
            "bob-key",
            stale,
            sign(stale, "/trade-api/v2/portfolio/balance"),
        )
        .await
        .unwrap();
        assert_eq!(expired.status(), 401);
        assert!(
            expired
                .text()
                .await
                .unwrap()
                .contains("header_timestamp_expired")
        );
    }

    #[tokio::test]
    async fn parameters_in_the_wrong_place_are_refused() {
        let sim = Simulator::start(config()).await.unwrap();
        let alice = client(&sim.base_url(), "alice-key", TestKey::rsa());
        // Cancel takes `subaccount` in the query; a body field is refused.
        let placed = alice
            .orders()
            .create(&NewOrder::buy_yes(MARKET, qty(1), price("0.2")))
            .send()
            .await
            .unwrap();
        let url = format!(
            "{}/portfolio/events/orders/{}",
            sim.base_url(),
            placed.order_id
        );
        let credentials = Credentials::from_pem("alice-key", &TestKey::rsa().pem).unwrap();
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_millis() as u64;
        let path = format!("/trade-api/v2/portfolio/events/orders/{}", placed.order_id);
        let headers = credentials.sign(now, "DELETE", &path).unwrap();
        let response = reqwest::Client::new()
            .delete(url)
            .header("KALSHI-ACCESS-KEY", "alice-key")
            .header("KALSHI-ACCESS-TIMESTAMP", headers.timestamp)
            .header("KALSHI-ACCESS-SIGNATURE", headers.signature)
            .json(&serde_json::json!({"subaccount": 0}))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 400);
        assert!(response.text().await.unwrap().contains("subaccount"));
        assert_eq!(sim.with_engine(|e| e.resting_count()), 1);
    }
}
