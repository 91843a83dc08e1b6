//! The simulator's account operations, end to end through Prism: API keys
//! made through the API signing requests (and refused once deleted),
//! restricted keys, transfers between subaccounts, netting, deposits and
//! withdrawals, the resting orders' value, usage levels and the target
//! balance allocation.
//!
//! Answers the spec does not declare for an operation (a 403 or a 409
//! where only 400 is listed) would be Prism warnings, so those requests go
//! to the simulator directly.

use std::time::Duration;

use kalshi_client::generated::types;
use kalshi_client::order::{NewOrder, Price, Quantity, Subaccount};
use kalshi_client::{Client, Credentials, Error, Execute, RetryPolicy};
use kalshi_sim::{Account, ApiKey, PublicKey, SimConfig, Simulator};
use kalshi_tests::keys::{TestKey, pem};
use kalshi_tests::prism::Prism;
use rust_decimal::Decimal;

use crate::support::{dec, sim_control};

const MARKET: &str = "KXTEST-26DEC31-YES";

fn client_with_pem(base_url: &str, key_id: &str, private_pem: &str) -> Client {
    Client::builder()
        .base_url(base_url)
        .credentials(Credentials::from_pem(key_id, private_pem).unwrap())
        .retry_policy(
            RetryPolicy::default()
                .with_backoff(Duration::from_millis(1), Duration::from_millis(10)),
        )
        .build()
        .unwrap()
}

fn price(text: &str) -> Price {
    text.parse().unwrap()
}

fn qty(n: u32) -> Quantity {
    Quantity::contracts(n).unwrap()
}

/// The simulator with Prism in front, a client for each account, and the
/// base URL of the simulator itself.
struct Stack {
    sim: Simulator,
    prism: Prism,
    alice: Client,
    bob: Client,
}

async fn stack() -> Stack {
    let config = SimConfig::new()
        .account(Account::with_public_key(
            "alice",
            "alice-key",
            TestKey::rsa().public_key(),
        ))
        .account(Account::with_public_key(
            "bob",
            "bob-key",
            TestKey::ed25519().public_key(),
        ));
    let sim = Simulator::start(config).await.unwrap();
    let prism = Prism::start(&sim.origin()).await.unwrap();
    let alice = client_with_pem(&prism.base_url(), "alice-key", &TestKey::rsa().pem);
    let bob = client_with_pem(&prism.base_url(), "bob-key", &TestKey::ed25519().pem);
    Stack {
        sim,
        prism,
        alice,
        bob,
    }
}

/// An Ed25519 public key as `POST /api_keys` takes it (SPKI PEM).
fn public_pem(key: &ApiKey) -> String {
    let PublicKey::Ed25519(raw) = key.public_key() else {
        panic!("an Ed25519 key");
    };
    let mut der = vec![
        0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00,
    ];
    der.extend(raw);
    pem("PUBLIC KEY", &der)
}

fn status(error: &Error) -> Option<u16> {
    error.status().map(|s| s.as_u16())
}

async fn netting(client: &Client) -> Vec<types::SubaccountNettingConfig> {
    let request = client.subaccounts().netting();
    request.send().await.unwrap().netting_configs
}

async fn balance(client: &Client) -> Result<Decimal, Error> {
    Ok(client
        .portfolio()
        .balance()
        .send()
        .await?
        .balance_dollars
        .value())
}

#[tokio::test]
async fn a_generated_key_signs_requests_until_it_is_deleted() {
    let Stack {
        sim: _sim,
        prism,
        alice,
        ..
    } = stack().await;
    let alice_balance = balance(&alice).await.unwrap();
    for key_type in [types::ApiKeyType::Ed25519, types::ApiKeyType::Rsa] {
        let generated = alice
            .api_keys()
            .generate()
            .body(
                types::GenerateApiKeyRequest::builder()
                    .name(format!("bot {key_type}"))
                    .key_type(Some(key_type.clone())),
            )
            .send()
            .await
            .unwrap();
        let expected_armour = match key_type {
            types::ApiKeyType::Rsa => "-----BEGIN RSA PRIVATE KEY-----",
            _ => "-----BEGIN PRIVATE KEY-----",
        };
        assert!(
            generated.private_key.starts_with(expected_armour),
            "{}",
            &generated.private_key[..40]
        );
        // The new key signs as Alice.
        let bot = client_with_pem(
            &prism.base_url(),
            &generated.api_key_id,
            &generated.private_key,
        );
        assert_eq!(balance(&bot).await.unwrap(), alice_balance);
        let listed = alice.api_keys().list().send().await.unwrap().api_keys;
        let entry = listed
            .iter()
            .find(|k| k.api_key_id == generated.api_key_id)
            .expect("the new key is listed");
        assert_eq!(entry.name, format!("bot {key_type}"));
        assert!(listed.iter().any(|k| k.api_key_id == "alice-key"));

        // Deleted: refused from then on.
        alice
            .api_keys()
            .delete(generated.api_key_id.as_str())
            .send()
            .await
            .unwrap();
        let refused = balance(&bot).await.unwrap_err();
        assert!(matches!(refused, Error::Auth { .. }), "{refused:?}");
        assert_eq!(status(&refused), Some(401));
        let listed = alice.api_keys().list().send().await.unwrap().api_keys;
        assert!(listed.iter().all(|k| k.api_key_id != generated.api_key_id));
    }
    prism.assert_clean();
}

#[tokio::test]
async fn a_created_read_only_key_reads_but_cannot_trade() {
    let Stack {
        sim: _sim,
        prism,
        alice,
        ..
    } = stack().await;
    let own = ApiKey::ed25519("unused-id");
    let created = alice
        .api_keys()
        .create()
        .body(
            types::CreateApiKeyRequest::builder()
                .name("reader")
                .public_key(public_pem(&own))
                .scopes(vec![types::ApiKeyScope::Read]),
        )
        .send()
        .await
        .unwrap();
    let reader = client_with_pem(
        &prism.base_url(),
        &created.api_key_id,
        own.private_key_pem(),
    );
    assert_eq!(balance(&reader).await.unwrap(), dec("10000"));
    let refused = reader
        .orders()
        .create(&NewOrder::buy_yes(MARKET, qty(1), price("0.40")))
        .send()
        .await
        .unwrap_err();
    assert_eq!(status(&refused), Some(403), "{refused:?}");
    let keys = alice.api_keys().list().send().await.unwrap().api_keys;
    let reader_key = keys
        .iter()
        .find(|k| k.api_key_id == created.api_key_id)
        .unwrap();
    assert_eq!(reader_key.scopes, [types::ApiKeyScope::Read]);
    // Nothing was placed.
    let orders = alice.orders().list().send().await.unwrap().orders;
    assert!(orders.is_empty());
    prism.assert_clean();
}

#[tokio::test]
async fn a_transfer_moves_cash_between_subaccounts_once() {
    let Stack {
        sim, prism, alice, ..
    } = stack().await;
    let sub = alice
        .subaccounts()
        .create()
        .send()
        .await
        .unwrap()
        .subaccount_number;
    let id = uuid::Uuid::new_v4();
    let transfer = types::ApplySubaccountTransferRequest::builder()
        .client_transfer_id(id)
        .from_subaccount(0)
        .to_subaccount(sub)
        .amount_cents(2_500);
    alice
        .subaccounts()
        .transfer()
        .body(transfer.clone())
        .send()
        .await
        .unwrap();
    let balances = alice
        .subaccounts()
        .balances()
        .send()
        .await
        .unwrap()
        .subaccount_balances;
    let of = |n: i64| {
        balances
            .iter()
            .find(|b| b.subaccount_number == n)
            .map(|b| b.balance.value())
    };
    assert_eq!(of(0), Some(dec("9975")));
    assert_eq!(of(sub), Some(dec("25")));
    let sub_balance = alice
        .portfolio()
        .balance()
        .subaccount(sub)
        .send()
        .await
        .unwrap();
    assert_eq!(sub_balance.balance_dollars.value(), dec("25"));
    let listed = alice
        .subaccounts()
        .transfers()
        .send()
        .await
        .unwrap()
        .transfers;
    assert_eq!(listed.len(), 1);
    assert_eq!(
        (
            listed[0].from_subaccount,
            listed[0].to_subaccount,
            listed[0].amount_cents
        ),
        (0, sub, 2_500)
    );

    // More than the subaccount holds is refused and moves nothing.
    let too_much = alice
        .subaccounts()
        .transfer()
        .body(
            types::ApplySubaccountTransferRequest::builder()
                .client_transfer_id(uuid::Uuid::new_v4())
                .from_subaccount(sub)
                .to_subaccount(0)
                .amount_cents(2_501),
        )
        .send()
        .await
        .unwrap_err();
    assert!(matches!(too_much, Error::BadRequest(_)), "{too_much:?}");

    // The same transfer id again is a conflict (not in the spec's answers:
    // asked of the simulator directly) and moves nothing.
    let direct = client_with_pem(&sim.base_url(), "alice-key", &TestKey::rsa().pem);
    let again = direct
        .subaccounts()
        .transfer()
        .body(transfer)
        .send()
        .await
        .unwrap_err();
    assert!(matches!(again, Error::Conflict(_)), "{again:?}");
    assert_eq!(balance(&alice).await.unwrap(), dec("9975"));

    // Netting: off until set, per subaccount.
    let before = netting(&alice).await;
    assert_eq!(before.len(), 2);
    assert!(before.iter().all(|c| !c.enabled));
    alice
        .subaccounts()
        .set_netting()
        .body(
            types::UpdateSubaccountNettingRequest::builder()
                .subaccount_number(sub)
                .enabled(true),
        )
        .send()
        .await
        .unwrap();
    let after = netting(&alice).await;
    let enabled: Vec<i64> = after
        .iter()
        .filter(|c| c.enabled)
        .map(|c| c.subaccount_number)
        .collect();
    assert_eq!(enabled, [sub]);
    prism.assert_clean();
}

#[tokio::test]
async fn a_key_locked_to_a_subaccount_acts_only_there() {
    let Stack {
        sim, prism, alice, ..
    } = stack().await;
    let sub = alice
        .subaccounts()
        .create()
        .send()
        .await
        .unwrap()
        .subaccount_number;
    alice
        .subaccounts()
        .transfer()
        .body(
            types::ApplySubaccountTransferRequest::builder()
                .client_transfer_id(uuid::Uuid::new_v4())
                .from_subaccount(0)
                .to_subaccount(sub)
                .amount_cents(10_000),
        )
        .send()
        .await
        .unwrap();
    let generated = alice
        .api_keys()
        .generate()
        .body(
            types::GenerateApiKeyRequest::builder()
                .name("sub bot")
                .key_type(Some(types::ApiKeyType::Ed25519))
                .subaccount(Some(sub)),
        )
        .send()
        .await
        .unwrap();
    let locked = client_with_pem(
        &prism.base_url(),
        &generated.api_key_id,
        &generated.private_key,
    );
    // Without a subaccount, its requests act on its own.
    assert_eq!(balance(&locked).await.unwrap(), dec("100"));
    locked
        .orders()
        .create(&NewOrder::buy_yes(MARKET, qty(10), price("0.50")))
        .send()
        .await
        .unwrap();
    let sub_balance = alice
        .portfolio()
        .balance()
        .subaccount(sub)
        .send()
        .await
        .unwrap();
    assert_eq!(sub_balance.balance_dollars.value(), dec("95"));
    assert_eq!(balance(&alice).await.unwrap(), dec("9900"));
    // Naming another subaccount is refused.
    let refused = locked
        .orders()
        .create(
            &NewOrder::buy_yes(MARKET, qty(1), price("0.40"))
                .subaccount(Subaccount::new(0).unwrap()),
        )
        .send()
        .await
        .unwrap_err();
    assert_eq!(status(&refused), Some(403), "{refused:?}");
    let listed = alice.api_keys().list().send().await.unwrap().api_keys;
    let entry = listed
        .iter()
        .find(|k| k.api_key_id == generated.api_key_id)
        .unwrap();
    assert_eq!(entry.subaccount, Some(sub));
    // Moving cash between subaccounts is not for it (a 403 the spec does
    // not list there: asked of the simulator directly).
    let direct = client_with_pem(
        &sim.base_url(),
        &generated.api_key_id,
        &generated.private_key,
    );
    let transfer = direct
        .subaccounts()
        .transfer()
        .body(
            types::ApplySubaccountTransferRequest::builder()
                .client_transfer_id(uuid::Uuid::new_v4())
                .from_subaccount(sub)
                .to_subaccount(0)
                .amount_cents(100),
        )
        .send()
        .await
        .unwrap_err();
    assert_eq!(status(&transfer), Some(403), "{transfer:?}");
    prism.assert_clean();
}

#[tokio::test]
async fn funding_shows_as_deposits_and_withdrawals() {
    let Stack {
        sim, prism, alice, ..
    } = stack().await;
    sim.deposit("alice", 0, dec("250.5"));
    sim.deposit("alice", 0, dec("-50"));
    let deposits = alice.portfolio().deposits().send().await.unwrap().deposits;
    let amounts: Vec<i64> = deposits.iter().map(|d| d.amount_cents).collect();
    // Newest first: the top-up, then the starting $10,000.
    assert_eq!(amounts, [25_050, 1_000_000]);
    assert!(deposits.iter().all(|d| d.status.to_string() == "applied"));
    let withdrawals = alice
        .portfolio()
        .withdrawals()
        .send()
        .await
        .unwrap()
        .withdrawals;
    assert_eq!(withdrawals.len(), 1);
    assert_eq!(withdrawals[0].amount_cents, 5_000);
    assert_eq!(balance(&alice).await.unwrap(), dec("10200.5"));
    prism.assert_clean();
}

#[tokio::test]
async fn resting_orders_and_the_allocation_are_reported() {
    let Stack {
        sim: _sim,
        prism,
        alice,
        ..
    } = stack().await;
    alice
        .orders()
        .create(&NewOrder::buy_yes(MARKET, qty(10), price("0.40")))
        .send()
        .await
        .unwrap();
    alice
        .orders()
        .create(&NewOrder::sell_yes(MARKET, qty(5), price("0.70")))
        .send()
        .await
        .unwrap();
    let value = alice
        .portfolio()
        .resting_order_value()
        .send()
        .await
        .unwrap();
    // 10 × 0.40 for the bid, 5 × (1 − 0.70) for the ask.
    assert_eq!(value.total_resting_order_value, 550);
    assert_eq!(
        value.resting_order_value_breakdown[0].balance.value(),
        dec("5.5")
    );

    let allocation = alice
        .portfolio()
        .target_balance_allocation()
        .send()
        .await
        .unwrap();
    assert_eq!(allocation.allocations.len(), 1);
    assert_eq!(allocation.allocations[0].percent, 100);
    let entry = |percent: i64| {
        types::TargetBalanceAllocationInput::builder()
            .exchange_index(0)
            .percent(percent)
    };
    let uneven = alice
        .portfolio()
        .set_target_balance_allocation()
        .body(
            types::SetTargetBalanceAllocationRequest::builder()
                .allocations(vec![entry(60).try_into().unwrap()]),
        )
        .send()
        .await
        .unwrap_err();
    assert!(matches!(uneven, Error::BadRequest(_)), "{uneven:?}");
    alice
        .portfolio()
        .set_target_balance_allocation()
        .body(
            types::SetTargetBalanceAllocationRequest::builder()
                .allocations(vec![entry(100).try_into().unwrap()])
                .resting_margin_reservation(types::RestingMarginReservation::Max),
        )
        .send()
        .await
        .unwrap();
    let stored = alice
        .portfolio()
        .target_balance_allocation()
        .send()
        .await
        .unwrap();
    assert_eq!(
        stored.resting_margin_reservation,
        types::RestingMarginReservation::Max
    );
    prism.assert_clean();
}

#[tokio::test]
async fn trading_volume_earns_a_usage_level() {
    let Stack {
        sim: _sim,
        prism,
        alice,
        bob,
    } = stack().await;
    let limits = alice.account().limits().send().await.unwrap();
    assert_eq!(limits.usage_tier, "basic");
    assert_eq!(
        (limits.read.refill_rate, limits.write.refill_rate),
        (200, 100)
    );
    assert!(limits.grants.is_empty());
    let costs = alice.account().endpoint_costs().send().await.unwrap();
    assert_eq!(costs.default_cost, 10);

    let early = alice
        .account()
        .upgrade_usage_level()
        .send()
        .await
        .unwrap_err();
    assert_eq!(status(&early), Some(403), "{early:?}");

    // 1,000 contracts traded: the first volume goal.
    alice
        .orders()
        .create(&NewOrder::buy_yes(MARKET, qty(1_000), price("0.02")))
        .send()
        .await
        .unwrap();
    bob.orders()
        .create(&NewOrder::sell_yes(MARKET, qty(1_000), price("0.02")))
        .send()
        .await
        .unwrap();
    let progress = alice
        .account()
        .volume_progress()
        .send()
        .await
        .unwrap()
        .volume_progress;
    assert_eq!(progress[0].trailing_30d_volume_fp.value(), dec("1000"));
    let expert = progress[0]
        .goals
        .iter()
        .find(|g| g.level == "expert")
        .unwrap();
    assert_eq!(expert.earn_volume_goal_fp.value(), dec("1000"));

    alice.account().upgrade_usage_level().send().await.unwrap();
    let limits = alice.account().limits().send().await.unwrap();
    assert_eq!(limits.usage_tier, "expert");
    assert_eq!(limits.grants.len(), 1);
    assert_eq!(limits.grants[0].level, "expert");
    assert!(limits.write.bucket_capacity > limits.write.refill_rate);
    prism.assert_clean();
}

/// A simulator that enforces rate limits reports them.
#[tokio::test]
async fn enforced_rate_limits_are_the_ones_reported() {
    let key = ApiKey::ed25519("carol-key");
    let config = SimConfig::new()
        .account(Account::new("carol", &key))
        .rate_limit(500, 300);
    let sim = Simulator::start(config).await.unwrap();
    let prism = Prism::start(&sim.origin()).await.unwrap();
    let carol = client_with_pem(&prism.base_url(), "carol-key", key.private_key_pem());
    let limits = carol.account().limits().send().await.unwrap();
    assert_eq!(
        (
            limits.read.refill_rate,
            limits.read.bucket_capacity,
            limits.write.refill_rate,
            limits.write.bucket_capacity
        ),
        (500, 500, 300, 300)
    );
    prism.assert_clean();
}

/// The audit names each request the rate limits refused, with how much
/// sooner it came than its bucket could pay for it: what tells a client's
/// pacing error from a burst. The ledger gives the audit's money alone.
#[tokio::test]
async fn the_audit_describes_each_refused_request() {
    let key = ApiKey::ed25519("carol-key");
    // One read a second, a burst of one.
    let config = SimConfig::new()
        .control_api(true)
        .account(Account::new("carol", &key))
        .rate_limit(10, 10);
    let sim = Simulator::start(config).await.unwrap();
    let carol = client_with_pem(&sim.base_url(), "carol-key", key.private_key_pem());
    carol.portfolio().balance().send().await.unwrap();
    let refused = carol.portfolio().balance().send().await;
    assert!(matches!(refused, Err(Error::RateLimited(_))), "{refused:?}");
    let audit = sim_control(&sim, "audit").await;
    let count = audit["rate_limited"]["carol-key"].as_u64().unwrap();
    let refusals = audit["refusals"].as_array().unwrap();
    assert!(count >= 1);
    assert_eq!(refusals.len() as u64, count, "{audit}");
    for refusal in refusals {
        assert_eq!(refusal["key"], "carol-key");
        assert_eq!(refusal["method"], "GET");
        assert_eq!(refusal["path"], "/trade-api/v2/portfolio/balance");
        let early = refusal["early_ms"].as_f64().unwrap();
        assert!(early > 0.0 && early <= 1000.0, "{refusal}");
        assert!(refusal["at_ms"].as_i64().unwrap() > 1_700_000_000_000);
    }
    // The money alone, as the audit has it.
    let ledger = sim_control(&sim, "ledger").await;
    for field in ["deposited", "cash", "open_interest", "fees"] {
        assert!(ledger[field].is_string(), "{ledger}");
        assert_eq!(ledger[field], audit[field], "{field}");
    }
    assert!(ledger.get("orders").is_none());
}

/// A fault queued through the control API for one path fails only requests
/// there; requests elsewhere pass, and the fault waits for its path.
#[tokio::test]
async fn a_control_api_fault_scoped_to_a_path_fails_only_that_path() {
    let config = SimConfig::new()
        .control_api(true)
        .account(Account::with_public_key(
            "alice",
            "alice-key",
            TestKey::rsa().public_key(),
        ));
    let sim = Simulator::start(config).await.unwrap();
    let alice = client_with_pem(&sim.base_url(), "alice-key", &TestKey::rsa().pem);
    let queued = reqwest::Client::new()
        .post(format!("{}/_sim/faults", sim.origin()))
        .json(&serde_json::json!({
            "fault": "status", "status": 500, "times": 4, "path": "/portfolio/balance"
        }))
        .send()
        .await
        .unwrap();
    assert!(queued.status().is_success());
    // Elsewhere: untouched (`netting` unwraps its answer), and the faults
    // stay queued.
    netting(&alice).await;
    // There: every attempt of the client's retries meets the fault.
    let error = balance(&alice).await.unwrap_err();
    assert_eq!(status(&error), Some(500), "{error}");
    // The four are used up.
    assert!(balance(&alice).await.is_ok());
}

/// A position's `last_updated_ts` is when a fill or the settlement last
/// changed it, not when it was listed.
#[tokio::test]
async fn a_position_says_when_it_last_changed() {
    let Stack {
        sim,
        prism,
        alice,
        bob,
    } = stack().await;
    let market = "KXTEST-27JUN30-YES";
    let before = sim.now_ms();
    let sell = NewOrder::sell_yes(market, qty(2), price("0.40"));
    bob.orders().create(&sell).send().await.unwrap();
    let buy = NewOrder::buy_yes(market, qty(2), price("0.40"));
    alice.orders().create(&buy).send().await.unwrap();
    let traded = sim.now_ms();
    let hour = Duration::from_secs(3600);
    sim.advance_clock(hour);
    let updated = async |status: &str| {
        let listed = alice
            .portfolio()
            .positions()
            .ticker(market)
            .settlement_status(status)
            .send()
            .await
            .unwrap();
        let [position] = listed.market_positions.as_slice() else {
            panic!("one position: {listed:?}");
        };
        position.last_updated_ts.timestamp_millis()
    };
    let at = updated("unsettled").await;
    assert!(
        (before..=traded).contains(&at),
        "{before} <= {at} <= {traded}"
    );
    sim.settle(market, kalshi_sim::Outcome::Yes).unwrap();
    let settled = updated("settled").await;
    assert!(
        settled >= traded + 3_600_000,
        "{settled} is the settlement's time"
    );
    prism.assert_clean();
}
