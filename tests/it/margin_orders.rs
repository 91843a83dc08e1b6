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
