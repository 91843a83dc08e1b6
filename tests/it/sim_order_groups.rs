//! The simulator's order groups and Kalshi's economics, through Prism: a
//! group's limit triggers on fills and refuses orders until reset, fees show
//! wherever Kalshi reports them, selling what you hold needs no collateral,
//! and the order combinations the spec forbids are refused.

use std::num::NonZeroU64;
use std::time::Duration;

use futures_util::TryStreamExt;
use kalshi_client::generated::types;
use kalshi_client::order::{NewOrder, Price, Quantity, TimeInForce};
use kalshi_client::stream::{Channel, Event, Subscription};
use kalshi_client::{Client, Error, Execute, Paginate};
use kalshi_gen::stream::ServerMessage;
use kalshi_sim::engine::FeeSchedule;
use kalshi_sim::{Account, Outcome, SimConfig, Simulator};
use kalshi_tests::keys::TestKey;
use kalshi_tests::prism::Prism;
use kalshi_tests::stream_schema::FrameValidator;
use rust_decimal::Decimal;

use crate::support::{client, dec};

const MARKET: &str = "KXTEST-26DEC31-YES";
const OTHER: &str = "KXTEST-27JUN30-YES";

fn config() -> SimConfig {
    SimConfig::new()
        .record_streams(true)
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

fn price(text: &str) -> Price {
    text.parse().unwrap()
}

fn qty(n: u32) -> Quantity {
    Quantity::contracts(n).unwrap()
}

/// The simulator behind Prism, and a client for each account.
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

async fn create_group(client: &Client, limit: u64) -> String {
    client
        .order_groups()
        .create()
        .body(types::CreateOrderGroupRequest::builder().contracts_limit(NonZeroU64::new(limit)))
        .send()
        .await
        .unwrap()
        .order_group_id
}

/// Sells `count` YES at `at` or better, now or never.
async fn sell_now(client: &Client, at: &str, count: u32) -> Decimal {
    client
        .orders()
        .create(
            &NewOrder::sell_yes(MARKET, qty(count), price(at))
                .time_in_force(TimeInForce::ImmediateOrCancel),
        )
        .send()
        .await
        .unwrap()
        .fill_count
        .value()
}

async fn settlement_count(request: kalshi_client::generated::builder::GetSettlements<'_>) -> usize {
    request.send().await.unwrap().settlements.len()
}

fn code(error: &Error) -> Option<&str> {
    error.api_error().and_then(|e| e.code.as_deref())
}

// ---------------------------------------------------------------------------
// Order groups
// ---------------------------------------------------------------------------

#[tokio::test]
async fn an_order_group_triggers_on_fills_and_refuses_orders_until_reset() {
    let Stack {
        sim: _sim,
        prism,
        alice,
        bob,
    } = stack().await;
    let groups = alice.order_groups();
    let group = create_group(&alice, 5).await;
    let listed = groups.list().send().await.unwrap().order_groups;
    assert_eq!(listed.len(), 1);
    assert_eq!(
        (
            listed[0].id.as_str(),
            listed[0].contracts_limit_fp.map(|c| c.to_string()),
            listed[0].is_auto_cancel_enabled
        ),
        (group.as_str(), Some("5.00".into()), false)
    );

    let first = alice
        .orders()
        .create(&NewOrder::buy_yes(MARKET, qty(3), price("0.40")).order_group(&group))
        .send()
        .await
        .unwrap()
        .order_id;
    let second = alice
        .orders()
        .create(&NewOrder::buy_yes(MARKET, qty(10), price("0.35")).order_group(&group))
        .send()
        .await
        .unwrap()
        .order_id;
    let outside = alice
        .orders()
        .create(&NewOrder::buy_yes(MARKET, qty(1), price("0.10")))
        .send()
        .await
        .unwrap()
        .order_id;
    let details = groups.get(&group).send().await.unwrap();
    assert_eq!(details.orders, vec![first.clone(), second.clone()]);
    let in_group = alice.orders().get(&first).send().await.unwrap().order;
    assert_eq!(in_group.order_group_id.as_deref(), Some(group.as_str()));

    // Five contracts may match; the sixth takes the group beyond its limit.
    assert_eq!(sell_now(&bob, "0.40", 3).await, dec("3"));
    assert_eq!(sell_now(&bob, "0.35", 2).await, dec("2"));
    assert!(
        !groups
            .get(&group)
            .send()
            .await
            .unwrap()
            .is_auto_cancel_enabled
    );
    assert_eq!(sell_now(&bob, "0.35", 1).await, dec("1"));
    let details = groups.get(&group).send().await.unwrap();
    assert!(details.is_auto_cancel_enabled, "triggered");
    let canceled = alice.orders().get(&second).send().await.unwrap().order;
    assert_eq!(
        (
            canceled.status.to_string(),
            canceled.fill_count_fp.value(),
            canceled.remaining_count_fp.value()
        ),
        ("canceled".into(), dec("3"), dec("0"))
    );
    let untouched = alice.orders().get(&outside).send().await.unwrap().order;
    assert_eq!(untouched.status.to_string(), "resting");
    let refused = alice
        .orders()
        .create(&NewOrder::buy_yes(MARKET, qty(1), price("0.30")).order_group(&group))
        .send()
        .await
        .unwrap_err();
    assert!(matches!(refused, Error::BadRequest(_)), "{refused:?}");
    assert_eq!(code(&refused), Some("order_group_triggered"));

    // A reset zeroes the counter: orders are taken again.
    groups.reset(&group).send().await.unwrap();
    assert!(
        !groups
            .get(&group)
            .send()
            .await
            .unwrap()
            .is_auto_cancel_enabled
    );
    let third = alice
        .orders()
        .create(&NewOrder::buy_yes(MARKET, qty(2), price("0.30")).order_group(&group))
        .send()
        .await
        .unwrap()
        .order_id;

    // A trigger by hand cancels at once; a limit below what matched too.
    groups.trigger(&group).send().await.unwrap();
    let third_order = alice.orders().get(&third).send().await.unwrap().order;
    assert_eq!(third_order.status.to_string(), "canceled");
    groups.reset(&group).send().await.unwrap();
    alice
        .orders()
        .create(&NewOrder::buy_yes(MARKET, qty(2), price("0.30")).order_group(&group))
        .send()
        .await
        .unwrap();
    assert_eq!(sell_now(&bob, "0.30", 2).await, dec("2"));
    groups
        .update_limit(&group)
        .body(
            types::UpdateOrderGroupLimitRequest::builder()
                .contracts_limit_fp(Some("1".parse::<kalshi_client::Count>().unwrap())),
        )
        .send()
        .await
        .unwrap();
    let details = groups.get(&group).send().await.unwrap();
    assert_eq!(
        (
            details.is_auto_cancel_enabled,
            details.contracts_limit_fp.map(|c| c.to_string())
        ),
        (true, Some("1.00".into())),
        "2 matched exceed the new limit of 1"
    );

    // Deleting cancels the group's orders and forgets it.
    groups.reset(&group).send().await.unwrap();
    let last = alice
        .orders()
        .create(&NewOrder::buy_yes(MARKET, qty(1), price("0.20")).order_group(&group))
        .send()
        .await
        .unwrap()
        .order_id;
    groups.delete(&group).send().await.unwrap();
    let last = alice.orders().get(&last).send().await.unwrap().order;
    assert_eq!(last.status.to_string(), "canceled");
    let gone = groups.get(&group).send().await.unwrap_err();
    assert!(matches!(gone, Error::NotFound(_)), "{gone:?}");
    assert!(groups.list().send().await.unwrap().order_groups.is_empty());
    let unknown = alice
        .orders()
        .create(&NewOrder::buy_yes(MARKET, qty(1), price("0.20")).order_group(&group))
        .send()
        .await
        .unwrap_err();
    assert!(matches!(unknown, Error::BadRequest(_)), "{unknown:?}");
    assert_eq!(code(&unknown), Some("order_group_not_found"));
    prism.assert_clean();
}

#[tokio::test]
async fn order_groups_belong_to_their_user_and_subaccount() {
    let Stack {
        sim: _sim,
        prism,
        alice,
        bob,
    } = stack().await;
    let group = create_group(&alice, 10).await;
    let not_hers = bob.order_groups().get(&group).send().await.unwrap_err();
    assert!(matches!(not_hers, Error::NotFound(_)), "{not_hers:?}");
    for refused in [
        bob.order_groups().trigger(&group).send().await.unwrap_err(),
        bob.order_groups().delete(&group).send().await.unwrap_err(),
        alice
            .order_groups()
            .reset(&group)
            .subaccount(3)
            .send()
            .await
            .unwrap_err(),
    ] {
        assert!(matches!(refused, Error::NotFound(_)), "{refused:?}");
    }
    let bobs = bob
        .orders()
        .create(&NewOrder::buy_yes(MARKET, qty(1), price("0.20")).order_group(&group))
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&bobs), Some("order_group_not_found"));
    let sub = alice
        .order_groups()
        .create()
        .body(
            types::CreateOrderGroupRequest::builder()
                .contracts_limit(NonZeroU64::new(4))
                .subaccount(Some(2)),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(sub.subaccount, 2);
    let of_sub = alice
        .order_groups()
        .list()
        .subaccount(2)
        .send()
        .await
        .unwrap()
        .order_groups;
    assert_eq!(of_sub.len(), 1);
    assert_eq!(of_sub[0].id, sub.order_group_id);
    assert_eq!(
        alice
            .order_groups()
            .list()
            .send()
            .await
            .unwrap()
            .order_groups
            .len(),
        2,
        "every subaccount without the filter"
    );
    prism.assert_clean();
}

#[tokio::test]
async fn order_group_limits_are_checked() {
    let Stack {
        sim: _sim,
        prism,
        alice,
        ..
    } = stack().await;
    let groups = alice.order_groups();
    let refused = |body: types::builder::CreateOrderGroupRequest| {
        let groups = alice.order_groups();
        async move { groups.create().body(body).send().await.unwrap_err() }
    };
    let count = |text: &str| Some(text.parse::<kalshi_client::Count>().unwrap());
    for error in [
        refused(types::CreateOrderGroupRequest::builder()).await,
        refused(
            types::CreateOrderGroupRequest::builder().contracts_limit(NonZeroU64::new(1_000_001)),
        )
        .await,
        refused(types::CreateOrderGroupRequest::builder().contracts_limit_fp(count("2.50"))).await,
        refused(
            types::CreateOrderGroupRequest::builder()
                .contracts_limit(NonZeroU64::new(3))
                .contracts_limit_fp(count("4")),
        )
        .await,
    ] {
        assert!(matches!(error, Error::BadRequest(_)), "{error:?}");
    }
    let agreed = groups
        .create()
        .body(
            types::CreateOrderGroupRequest::builder()
                .contracts_limit(NonZeroU64::new(1_000_000))
                .contracts_limit_fp(count("1000000.00")),
        )
        .send()
        .await
        .unwrap();
    let too_big = groups
        .update_limit(&agreed.order_group_id)
        .body(
            types::UpdateOrderGroupLimitRequest::builder()
                .contracts_limit(NonZeroU64::new(2_000_000)),
        )
        .send()
        .await
        .unwrap_err();
    assert!(matches!(too_big, Error::BadRequest(_)), "{too_big:?}");
    let missing = groups
        .update_limit("no-such-group")
        .body(types::UpdateOrderGroupLimitRequest::builder().contracts_limit(NonZeroU64::new(2)))
        .send()
        .await
        .unwrap_err();
    assert!(matches!(missing, Error::NotFound(_)), "{missing:?}");
    prism.assert_clean();
}

/// The `order_group_updates` channel: each change of a group once, in
/// order, numbered, to its own user only.
#[tokio::test]
async fn order_group_updates_stream_every_change() {
    let sim = Simulator::start(config()).await.unwrap();
    let alice = client(&sim.base_url(), "alice-key", TestKey::rsa());
    let bob = client(&sim.base_url(), "bob-key", TestKey::ed25519());
    let mut session = alice.stream().connect().await.unwrap();
    let mut bobs = bob.stream().connect().await.unwrap();
    session
        .subscribe(Subscription::new(Channel::OrderGroupUpdates))
        .await
        .unwrap();
    bobs.subscribe(Subscription::new(Channel::OrderGroupUpdates))
        .await
        .unwrap();

    let group = create_group(&alice, 3).await;
    alice
        .orders()
        .create(&NewOrder::buy_yes(MARKET, qty(5), price("0.40")).order_group(&group))
        .send()
        .await
        .unwrap();
    alice
        .order_groups()
        .update_limit(&group)
        .body(types::UpdateOrderGroupLimitRequest::builder().contracts_limit(NonZeroU64::new(2)))
        .send()
        .await
        .unwrap();
    assert_eq!(sell_now(&bob, "0.40", 3).await, dec("3"), "triggers");
    alice.order_groups().reset(&group).send().await.unwrap();
    alice.order_groups().trigger(&group).send().await.unwrap();
    alice.order_groups().delete(&group).send().await.unwrap();

    let mut updates = Vec::new();
    while updates.len() < 6 {
        let event = tokio::time::timeout(Duration::from_secs(15), session.next_event())
            .await
            .expect("six updates")
            .expect("the stream is open");
        if let Event::Message {
            message: ServerMessage::OrderGroupUpdates(update),
            ..
        } = event
        {
            updates.push(*update);
        }
    }
    let kinds: Vec<String> = updates
        .iter()
        .map(|u| u.msg.event_type.to_string())
        .collect();
    assert_eq!(
        kinds,
        [
            "created",
            "limit_updated",
            "triggered",
            "reset",
            "triggered",
            "deleted"
        ]
    );
    assert!(updates.iter().all(|u| u.msg.order_group_id == group));
    let limits: Vec<Option<String>> = updates
        .iter()
        .map(|u| u.msg.contracts_limit_fp.map(|c| c.to_string()))
        .collect();
    assert_eq!(
        limits,
        [
            Some("3.00".into()),
            Some("2.00".into()),
            None,
            None,
            None,
            None
        ]
    );
    let seqs: Vec<u64> = updates.iter().map(|u| u.seq).collect();
    assert_eq!(seqs, [1, 2, 3, 4, 5, 6]);
    let quiet = tokio::time::timeout(Duration::from_millis(300), async {
        loop {
            match bobs.next_event().await {
                Some(Event::Message {
                    message: ServerMessage::OrderGroupUpdates(_),
                    ..
                }) => return true,
                Some(_) => {}
                None => return false,
            }
        }
    })
    .await;
    assert!(quiet.is_err(), "bob is not told about alice's group");

    let validator = FrameValidator::new();
    for frame in sim.stream_journal().iter().filter(|f| !f.injected) {
        if frame.direction == kalshi_sim::Direction::Sent {
            validator.server_frame(&frame.text).unwrap();
        }
    }
}

// ---------------------------------------------------------------------------
// Fees, collateral and settlements
// ---------------------------------------------------------------------------

/// Kalshi's fee wherever Kalshi reports one: the create response, fills,
/// orders, positions, the balance and the settlements. The market charges
/// maker fees too (`quadratic_with_maker_fees`).
#[tokio::test]
async fn fees_show_in_fills_orders_balance_and_settlements() {
    let Stack {
        sim,
        prism,
        alice,
        bob,
    } = stack().await;
    let schedule = FeeSchedule::kalshi("quadratic_with_maker_fees", Decimal::ONE).unwrap();
    sim.with_engine(|e| e.set_fee_schedule(MARKET, schedule));

    let maker = bob
        .orders()
        .create(&NewOrder::sell_yes(MARKET, qty(100), price("0.50")))
        .send()
        .await
        .unwrap()
        .order_id;
    let taker = alice
        .orders()
        .create(&NewOrder::buy_yes(MARKET, qty(100), price("0.55")))
        .send()
        .await
        .unwrap();
    // 0.07 × 100 × 0.50 × 0.50 = 1.75 for the taker, 0.0175 × ... = 0.44 for the maker.
    assert_eq!(
        (
            taker.fill_count.value(),
            taker.average_fill_price.map(|p| p.value()),
            taker.average_fee_paid.map(|p| p.value())
        ),
        (dec("100"), Some(dec("0.50")), Some(dec("0.0175")))
    );
    let fills: Vec<_> = alice
        .portfolio()
        .fills()
        .stream(None)
        .try_collect()
        .await
        .unwrap();
    assert_eq!(fills.len(), 1);
    assert_eq!(fills[0].fee_cost.value(), dec("1.75"));
    let filled_s = fills[0].created_time.map(|t| t.timestamp()).unwrap();
    let fills_in = |min: i64, max: i64| {
        let request = alice.portfolio().fills().min_ts(min).max_ts(max);
        async move { request.send().await.unwrap().fills.len() }
    };
    assert_eq!(fills_in(filled_s, filled_s).await, 1);
    assert_eq!(fills_in(filled_s + 1, filled_s + 3_600).await, 0);
    let bob_fills: Vec<_> = bob
        .portfolio()
        .fills()
        .stream(None)
        .try_collect()
        .await
        .unwrap();
    assert_eq!(bob_fills[0].fee_cost.value(), dec("0.44"));
    let order = alice
        .orders()
        .get(&taker.order_id)
        .send()
        .await
        .unwrap()
        .order;
    assert_eq!(
        (
            order.taker_fees_dollars.value(),
            order.maker_fees_dollars.value()
        ),
        (dec("1.75"), dec("0"))
    );
    let maker_order = bob.orders().get(&maker).send().await.unwrap().order;
    assert_eq!(maker_order.maker_fees_dollars.value(), dec("0.44"));
    let balance = alice.portfolio().balance().send().await.unwrap();
    assert_eq!(
        balance.balance_dollars.value(),
        dec("10000") - dec("50") - dec("1.75")
    );
    let positions = alice.portfolio().positions().send().await.unwrap();
    assert_eq!(
        positions.market_positions[0].fees_paid_dollars.value(),
        dec("1.75")
    );
    let event = &positions.event_positions[0];
    assert_eq!(
        (
            event.event_ticker.as_str(),
            event.total_cost_dollars.value(),
            event.total_cost_shares_fp.value(),
            event.fees_paid_dollars.value()
        ),
        ("KXTEST-26DEC31", dec("50"), dec("100"), dec("1.75"))
    );

    sim.settle(MARKET, Outcome::Yes).unwrap();
    let balance = alice.portfolio().balance().send().await.unwrap();
    assert_eq!(
        balance.balance_dollars.value(),
        dec("10000") - dec("51.75") + dec("100")
    );
    let settlements = alice
        .portfolio()
        .settlements()
        .send()
        .await
        .unwrap()
        .settlements;
    assert_eq!(settlements.len(), 1);
    let s = &settlements[0];
    assert_eq!(
        (
            s.ticker.as_str(),
            s.event_ticker.as_str(),
            s.market_result.to_string(),
            s.yes_count_fp.value(),
            s.yes_total_cost_dollars.value(),
            s.no_count_fp.value(),
            s.revenue,
            s.fee_cost.value(),
            s.value
        ),
        (
            MARKET,
            "KXTEST-26DEC31",
            "yes".into(),
            dec("100"),
            dec("50"),
            dec("0"),
            10_000,
            dec("1.75"),
            Some(100)
        )
    );
    let settled_s = s.settled_time.timestamp();
    let mine = alice.portfolio();
    assert_eq!(settlement_count(mine.settlements().ticker(OTHER)).await, 0);
    assert_eq!(
        settlement_count(mine.settlements().event_ticker("KXTEST-26DEC31")).await,
        1
    );
    assert_eq!(
        settlement_count(mine.settlements().event_ticker("KXTEST-27JUN30")).await,
        0
    );
    assert_eq!(
        settlement_count(mine.settlements().min_ts(settled_s).max_ts(settled_s)).await,
        1
    );
    assert_eq!(
        settlement_count(mine.settlements().min_ts(settled_s + 1)).await,
        0
    );
    assert_eq!(
        settlement_count(mine.settlements().max_ts(settled_s - 1)).await,
        0
    );
    assert_eq!(
        settlement_count(mine.settlements().subaccount(1_u64)).await,
        0
    );
    assert_eq!(
        settlement_count(mine.settlements().subaccount(0_u64)).await,
        1
    );

    let bobs = bob
        .portfolio()
        .settlements()
        .send()
        .await
        .unwrap()
        .settlements;
    assert_eq!(
        (
            bobs[0].no_count_fp.value(),
            bobs[0].no_total_cost_dollars.value(),
            bobs[0].revenue,
            bobs[0].fee_cost.value()
        ),
        (dec("100"), dec("50"), 0, dec("0.44"))
    );
    let bob_balance = bob.portfolio().balance().send().await.unwrap();
    assert_eq!(
        bob_balance.balance_dollars.value(),
        dec("10000") - dec("50") - dec("0.44")
    );

    // A second settlement: newest first, a page at a time.
    bob.orders()
        .create(&NewOrder::sell_yes(OTHER, qty(2), price("0.20")))
        .send()
        .await
        .unwrap();
    alice
        .orders()
        .create(&NewOrder::buy_yes(OTHER, qty(2), price("0.20")))
        .send()
        .await
        .unwrap();
    sim.settle(OTHER, Outcome::No).unwrap();
    let first = mine.settlements().limit(1).send().await.unwrap();
    assert_eq!(first.settlements[0].ticker, OTHER);
    assert_eq!(first.settlements[0].market_result.to_string(), "no");
    let cursor = first
        .cursor
        .filter(|c| !c.is_empty())
        .expect("a second page");
    let second = mine
        .settlements()
        .limit(1)
        .cursor(cursor)
        .send()
        .await
        .unwrap();
    assert_eq!(second.settlements[0].ticker, MARKET);
    assert!(second.cursor.is_none_or(|c| c.is_empty()), "two in all");
    prism.assert_clean();
}

/// The seeded markets charge what their series say: the fee of a fill is
/// Kalshi's formula for the series' `fee_type` and `fee_multiplier`.
#[tokio::test]
async fn seeded_markets_charge_their_series_fees() {
    let Stack {
        sim: _sim,
        prism,
        alice,
        bob,
    } = stack().await;
    let series = alice.series().get("KXTEST").send().await.unwrap().series;
    let multiplier = Decimal::try_from(series.fee_multiplier).unwrap();
    let schedule = FeeSchedule::kalshi(&series.fee_type.to_string(), multiplier).unwrap();
    bob.orders()
        .create(&NewOrder::sell_yes(MARKET, qty(10), price("0.30")))
        .send()
        .await
        .unwrap();
    alice
        .orders()
        .create(&NewOrder::buy_yes(MARKET, qty(10), price("0.30")))
        .send()
        .await
        .unwrap();
    let fee = |client: &Client| {
        let client = client.clone();
        async move {
            let fills: Vec<_> = client
                .portfolio()
                .fills()
                .stream(None)
                .try_collect()
                .await
                .unwrap();
            fills[0].fee_cost.value()
        }
    };
    assert_eq!(
        fee(&alice).await,
        schedule.fee_of(true, dec("0.30"), dec("10"))
    );
    assert_eq!(
        fee(&bob).await,
        schedule.fee_of(false, dec("0.30"), dec("10"))
    );
    prism.assert_clean();
}

/// Selling YES you hold costs nothing more: the sale is covered by the
/// position, and buying power is left for other orders.
#[tokio::test]
async fn selling_what_you_hold_needs_no_collateral() {
    let Stack {
        sim,
        prism,
        alice,
        bob,
    } = stack().await;
    sim.with_engine(|e| e.set_fee_schedule(MARKET, FeeSchedule::FREE));
    bob.orders()
        .create(&NewOrder::sell_yes(MARKET, qty(10), price("0.40")))
        .send()
        .await
        .unwrap();
    alice
        .orders()
        .create(&NewOrder::buy_yes(MARKET, qty(10), price("0.40")))
        .send()
        .await
        .unwrap();
    let before = alice
        .portfolio()
        .balance()
        .send()
        .await
        .unwrap()
        .balance_dollars
        .value();
    assert_eq!(before, dec("9996"));
    alice
        .orders()
        .create(&NewOrder::sell_yes(MARKET, qty(10), price("0.90")))
        .send()
        .await
        .unwrap();
    let after = alice
        .portfolio()
        .balance()
        .send()
        .await
        .unwrap()
        .balance_dollars
        .value();
    assert_eq!(after, before, "the ask closes the position: nothing held");
    alice
        .orders()
        .create(&NewOrder::sell_yes(MARKET, qty(5), price("0.90")))
        .send()
        .await
        .unwrap();
    let beyond = alice
        .portfolio()
        .balance()
        .send()
        .await
        .unwrap()
        .balance_dollars
        .value();
    assert_eq!(
        beyond,
        before - dec("0.50"),
        "5 more are a NO purchase at 0.10"
    );
    prism.assert_clean();
}

// ---------------------------------------------------------------------------
// Validation
// ---------------------------------------------------------------------------

#[tokio::test]
async fn orders_the_spec_forbids_are_refused() {
    let Stack {
        sim, prism, alice, ..
    } = stack().await;
    let later = sim.now_ms() / 1000 + 3_600;
    let refused = [
        NewOrder::buy_yes(MARKET, qty(1), price("0.30"))
            .time_in_force(TimeInForce::ImmediateOrCancel)
            .expires_at(later),
        NewOrder::buy_yes(MARKET, qty(1), price("0.30"))
            .time_in_force(TimeInForce::FillOrKill)
            .expires_at(later),
        NewOrder::sell_yes(MARKET, qty(1), price("0.30")).reduce_only(),
        NewOrder::buy_yes(MARKET, qty(1), price("0.30")).expires_at(-1),
        NewOrder::buy_yes(OTHER, qty(1), price("0.30")).order_group("no-such-group"),
    ];
    for order in &refused {
        let error = alice.orders().create(order).send().await.unwrap_err();
        assert!(
            matches!(error, Error::BadRequest(_)),
            "{order:?}: {error:?}"
        );
    }
    let huge = alice
        .orders()
        .create(&NewOrder::buy_yes(
            MARKET,
            "100000000000".parse().unwrap(),
            price("0.30"),
        ))
        .send()
        .await
        .unwrap_err();
    assert!(matches!(huge, Error::BadRequest(_)), "{huge:?}");
    // The same orders, spelled the way the spec allows, are taken.
    let expiring = alice
        .orders()
        .create(&NewOrder::buy_yes(MARKET, qty(1), price("0.30")).expires_at(later))
        .send()
        .await
        .unwrap();
    let order = alice
        .orders()
        .get(&expiring.order_id)
        .send()
        .await
        .unwrap()
        .order;
    assert_eq!(order.expiration_time.map(|t| t.timestamp()), Some(later));
    alice
        .orders()
        .create(
            &NewOrder::sell_yes(MARKET, qty(1), price("0.30"))
                .time_in_force(TimeInForce::ImmediateOrCancel)
                .reduce_only(),
        )
        .send()
        .await
        .unwrap_err();
    let untouched: Vec<_> = alice
        .orders()
        .list()
        .stream(None)
        .try_collect()
        .await
        .unwrap();
    assert_eq!(untouched.len(), 1, "nothing refused was placed");
    prism.assert_clean();
}

/// Numbers at the edges of their types (beyond what the spec's formats
/// allow, so straight to the simulator, not through Prism) are refused
/// with a 400, never a 500.
#[tokio::test]
async fn numbers_at_the_edges_are_refused_not_overflowed() {
    let sim = Simulator::start(config()).await.unwrap();
    let alice = client(&sim.base_url(), "alice-key", TestKey::rsa());
    for order in [
        NewOrder::buy_yes(MARKET, qty(1), price("0.30")).expires_at(i64::MAX),
        NewOrder::buy_yes(MARKET, qty(1), price("0.30")).expires_at(i64::MIN),
        NewOrder::buy_yes(MARKET, "999999999999999.99".parse().unwrap(), price("0.30")),
    ] {
        let error = alice.orders().create(&order).send().await.unwrap_err();
        assert!(
            matches!(error, Error::BadRequest(_)),
            "{order:?}: {error:?}"
        );
    }
    let group = create_group(&alice, 5).await;
    let error = alice
        .order_groups()
        .update_limit(&group)
        .body(
            types::UpdateOrderGroupLimitRequest::builder()
                .contracts_limit(NonZeroU64::new(u64::MAX)),
        )
        .send()
        .await
        .unwrap_err();
    assert!(matches!(error, Error::BadRequest(_)), "{error:?}");
    let resting = alice
        .orders()
        .create(&NewOrder::buy_yes(MARKET, qty(1), price("0.30")))
        .send()
        .await
        .unwrap()
        .order_id;
    let amend = kalshi_client::order::Amendment::new(
        MARKET,
        kalshi_client::order::Side::Bid,
        qty(1),
        price("0.30"),
    )
    .expires_at(i64::MAX);
    let error = alice
        .orders()
        .amend(&resting, &amend)
        .send()
        .await
        .unwrap_err();
    assert!(matches!(error, Error::BadRequest(_)), "{error:?}");
    let listed = alice.orders().get(&resting).send().await.unwrap().order;
    assert_eq!(
        listed.expiration_time, None,
        "the refused amend changed nothing"
    );
}

/// Amend carries an expiration (0 removes it) and a new client order id.
#[tokio::test]
async fn amend_moves_the_expiration_and_renames_the_order() {
    use kalshi_client::order::{Amendment, Side};
    let Stack {
        sim, prism, alice, ..
    } = stack().await;
    let later = sim.now_ms() / 1000 + 3_600;
    let placed = alice
        .orders()
        .create(&NewOrder::buy_yes(MARKET, qty(2), price("0.30")).client_order_id("first"))
        .send()
        .await
        .unwrap();
    let amendment = Amendment::new(MARKET, Side::Bid, qty(2), price("0.30"))
        .expires_at(later)
        .new_client_order_id("second");
    let amended = alice
        .orders()
        .amend(&placed.order_id, &amendment)
        .send()
        .await
        .unwrap();
    assert_eq!(amended.client_order_id.as_deref(), Some("second"));
    let order = alice
        .orders()
        .get(&placed.order_id)
        .send()
        .await
        .unwrap()
        .order;
    assert_eq!(
        (
            order.client_order_id.as_str(),
            order.expiration_time.map(|t| t.timestamp())
        ),
        ("second", Some(later))
    );
    let past = Amendment::new(MARKET, Side::Bid, qty(2), price("0.30")).expires_at(1);
    let error = alice
        .orders()
        .amend(&placed.order_id, &past)
        .send()
        .await
        .unwrap_err();
    assert!(matches!(error, Error::BadRequest(_)), "{error:?}");
    let forever = Amendment::new(MARKET, Side::Bid, qty(2), price("0.30")).expires_at(0);
    alice
        .orders()
        .amend(&placed.order_id, &forever)
        .send()
        .await
        .unwrap();
    sim.advance_clock(Duration::from_secs(7_200));
    let order = alice
        .orders()
        .get(&placed.order_id)
        .send()
        .await
        .unwrap()
        .order;
    assert_eq!(
        (order.status.to_string(), order.expiration_time),
        ("resting".into(), None),
        "no longer expires"
    );
    prism.assert_clean();
}
