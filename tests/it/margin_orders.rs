//! Typed margin orders over loopback: the body Kalshi's margin document
//! asks for, one idempotency key across retries, and the documented rules
//! enforced before anything is sent.

use kalshi_client::margin::{MarginMarket, MarginPrice, NewMarginOrder};
use kalshi_client::order::{Quantity, Side, Subaccount, TimeInForce};
use kalshi_client::{Client, Credentials, Error, Execute};
use kalshi_tests::keys::TestKey;
use kalshi_tests::recorder::{Recorder, Reply};

const CREATED: &str =
    r#"{"order_id":"o-1","client_order_id":"c","fill_count":"0.00","remaining_count":"2.00"}"#;

fn client(server: &Recorder) -> Client {
    Client::builder()
        .base_url(server.base_url())
        .credentials(Credentials::from_pem("key-123", &TestKey::ed25519().pem).unwrap())
        .build()
        .unwrap()
}

fn order() -> NewMarginOrder {
    NewMarginOrder::new(
        "KXBTCPERP",
        Side::Bid,
        Quantity::contracts(2).unwrap(),
        "101250.5".parse().unwrap(),
    )
}

#[tokio::test]
async fn a_margin_order_sends_the_documented_body() {
    let server = Recorder::start(Reply::status(201, CREATED)).await;
    let order = order().subaccount(Subaccount::new(2).unwrap()).post_only();
    let created = client(&server)
        .margin()
        .orders()
        .create(&order)
        .send()
        .await
        .unwrap();
    assert_eq!(created.order_id, "o-1");
    let request = &server.requests()[0];
    assert_eq!(request.path(), "/trade-api/v2/margin/orders");
    let body = request.json();
    assert_eq!(body["ticker"], "KXBTCPERP");
    assert!(body.get("market_id").is_none(), "{body}");
    assert_eq!(body["side"], "bid");
    assert_eq!(body["count"], "2.00");
    assert_eq!(body["price"], "101250.5000");
    assert_eq!(body["client_order_id"], order.id());
    assert_eq!(body["time_in_force"], "good_till_canceled");
    assert_eq!(body["self_trade_prevention_type"], "taker_at_cross");
    assert_eq!(body["post_only"], true);
    assert_eq!(body["subaccount"], 2);
    assert!(body.get("reduce_only").is_none(), "{body}");
}

#[tokio::test]
async fn a_margin_order_may_name_its_market_by_id() {
    let server = Recorder::start(Reply::status(201, CREATED)).await;
    let id = uuid::Uuid::new_v4();
    let order = NewMarginOrder::new(
        MarginMarket::Id(id),
        Side::Ask,
        Quantity::contracts(1).unwrap(),
        "3.25".parse().unwrap(),
    );
    client(&server)
        .margin()
        .orders()
        .create(&order)
        .send()
        .await
        .unwrap();
    let body = server.requests()[0].json();
    assert_eq!(body["market_id"], id.to_string());
    assert!(body.get("ticker").is_none(), "{body}");
    assert_eq!(body["side"], "ask");
}

#[tokio::test]
async fn a_retried_margin_order_keeps_its_idempotency_key() {
    let server = Recorder::sequence(vec![
        Reply::status(
            429,
            r#"{"error":{"code":"too_many_requests","message":"slow down"}}"#,
        ),
        Reply::status(201, CREATED),
    ])
    .await;
    let order = order();
    client(&server)
        .margin()
        .orders()
        .create(&order)
        .send()
        .await
        .unwrap();
    let requests = server.requests();
    assert_eq!(requests.len(), 2, "retried once after the 429");
    for request in &requests {
        assert_eq!(request.json()["client_order_id"], order.id());
    }
}

#[tokio::test]
async fn orders_that_break_the_documented_rules_are_not_sent() {
    let server = Recorder::start(Reply::status(201, CREATED)).await;
    let client = client(&server);
    // Reduce-only must be immediate-or-cancel or fill-or-kill.
    let resting = order().reduce_only();
    let error = client
        .margin()
        .orders()
        .create(&resting)
        .send()
        .await
        .unwrap_err();
    assert!(matches!(error, Error::InvalidRequest { .. }), "{error:?}");
    assert!(error.to_string().contains("reduce-only"), "{error}");
    assert!(!error.may_have_executed());
    let empty = NewMarginOrder::new(
        " ",
        Side::Bid,
        Quantity::contracts(1).unwrap(),
        "1".parse().unwrap(),
    );
    let error = client
        .margin()
        .orders()
        .create(&empty)
        .send()
        .await
        .unwrap_err();
    assert!(matches!(error, Error::InvalidRequest { .. }), "{error:?}");
    assert!(server.requests().is_empty(), "nothing was sent");

    let closing = order()
        .reduce_only()
        .time_in_force(TimeInForce::ImmediateOrCancel);
    client
        .margin()
        .orders()
        .create(&closing)
        .send()
        .await
        .unwrap();
    assert_eq!(server.requests()[0].json()["reduce_only"], true);

    for bad in ["0", "-1", "1e3", "0.0000001", "abc"] {
        assert!(bad.parse::<MarginPrice>().is_err(), "{bad}");
    }
}

const TRIGGERS: &str = r#"{"exit_triggers":[]}"#;

/// Exit triggers: the two families never mix, a partial or anchored cross
/// trigger carries one idempotency key across retries, a whole-position
/// one carries none, and bad values are refused when made.
#[tokio::test]
async fn exit_triggers_send_one_family_and_a_stable_key() {
    use kalshi_client::margin::{Bracket, CrossExitTrigger, Trail};

    let server = Recorder::sequence(vec![
        Reply::status(200, TRIGGERS),
        Reply::status(503, r#"{"error":{"code":"unavailable","message":"busy"}}"#),
        Reply::status(200, TRIGGERS),
        Reply::status(200, TRIGGERS),
        Reply::status(200, TRIGGERS),
    ])
    .await;
    let client = client(&server);
    let triggers = client.margin().exit_triggers();
    let bracket =
        Bracket::stop_loss("95000".parse().unwrap()).and_take_profit("110000".parse().unwrap());

    // Whole position: the bracket's legs, no count, no key.
    let _ = triggers
        .set_cross("KXBTCPERP", &CrossExitTrigger::whole_position(bracket))
        .send()
        .await;
    // Two contracts: appended under a key; a 503 on a PUT is not retried by
    // default, so the caller resends the same value and the key repeats.
    let partial = CrossExitTrigger::for_count(bracket, Quantity::contracts(2).unwrap()).unwrap();
    let first = triggers.set_cross("KXBTCPERP", &partial).send().await;
    assert!(first.is_err());
    let _ = triggers.set_cross("KXBTCPERP", &partial).send().await;
    // Isolated, trailing by 150 bps.
    let _ = triggers
        .set_isolated("KXETHPERP", Trail::bps(150).unwrap())
        .send()
        .await;
    let _ = triggers
        .update_cross("KXBTCPERP", "t-1", bracket)
        .send()
        .await;

    let requests = server.requests();
    assert_eq!(requests.len(), 5);
    let whole = requests[0].json();
    assert_eq!(
        requests[0].path(),
        "/trade-api/v2/margin/cross/positions/KXBTCPERP/exit_trigger"
    );
    assert_eq!(whole["kind"], "bracket");
    assert_eq!(whole["stop_loss_price"], "95000.0000");
    assert_eq!(whole["take_profit_price"], "110000.0000");
    for absent in [
        "count",
        "client_trigger_id",
        "trail_amount",
        "trail_bps",
        "anchor_order_id",
    ] {
        assert!(whole.get(absent).is_none(), "{absent} in {whole}");
    }
    let (try1, try2) = (requests[1].json(), requests[2].json());
    assert_eq!(try1["count"], "2.00");
    assert_eq!(try1["client_trigger_id"], partial.id());
    assert_eq!(
        try2["client_trigger_id"],
        partial.id(),
        "the same key on the resend"
    );
    let trailing = requests[3].json();
    assert_eq!(
        requests[3].path(),
        "/trade-api/v2/margin/isolated/positions/KXETHPERP/exit_trigger"
    );
    assert_eq!(
        (trailing["kind"].as_str(), trailing["trail_bps"].as_u64()),
        (Some("trailing"), Some(150))
    );
    assert!(trailing.get("stop_loss_price").is_none(), "{trailing}");
    assert_eq!(
        requests[4].path(),
        "/trade-api/v2/margin/cross/positions/KXBTCPERP/exit_trigger/t-1"
    );
    assert_eq!(requests[4].json()["take_profit_price"], "110000.0000");

    // Refused when made: a fraction of a contract, a trail out of range.
    assert!(CrossExitTrigger::for_count(bracket, "1.5".parse().unwrap()).is_err());
    assert!(Trail::bps(0).is_err() && Trail::bps(10_000).is_err());
    // An over-long key is refused before sending.
    let long = CrossExitTrigger::anchored(bracket, "o-1").client_trigger_id("k".repeat(65));
    let error = triggers
        .set_cross("KXBTCPERP", &long)
        .send()
        .await
        .unwrap_err();
    assert!(matches!(error, Error::InvalidRequest { .. }), "{error:?}");
    let empty_key = CrossExitTrigger::for_count(bracket, Quantity::contracts(1).unwrap())
        .unwrap()
        .client_trigger_id("");
    assert!(
        triggers
            .set_cross("KXBTCPERP", &empty_key)
            .send()
            .await
            .is_err()
    );
    let no_anchor = CrossExitTrigger::anchored(bracket, " ");
    assert!(
        triggers
            .set_cross("KXBTCPERP", &no_anchor)
            .send()
            .await
            .is_err()
    );
    // The variant is public: its range is checked when the body is made too.
    let wide = triggers
        .set_isolated("KXETHPERP", Trail::Bps(0))
        .send()
        .await;
    assert!(
        matches!(wide, Err(Error::InvalidRequest { .. })),
        "{wide:?}"
    );
    assert_eq!(server.requests().len(), 5, "nothing more was sent");
}
