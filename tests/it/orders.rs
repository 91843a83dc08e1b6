//! The orders surface on the wire: each method and each routing case as the
//! exchange receives it (method, path, query, JSON body; signatures and
//! timestamps left out). The snapshots are the reviewable proof that each
//! quirk goes where the spec says.

use std::fmt::Write as _;

use futures_util::TryStreamExt;

use kalshi_client::order::{
    Amendment, CancelOrder, Decrease, DecreaseOrder, ExchangeRoute, NewOrder, Price, Quantity,
    SelfTradePrevention, Side, Subaccount, TimeInForce,
};
use kalshi_client::resources::QueueScope;
use kalshi_client::{Client, Credentials, Error, Execute, Paginate};
use kalshi_tests::keys::TestKey;
use kalshi_tests::recorder::{Recorded, Recorder, Reply};
use rust_decimal::Decimal;

const ORDER: &str = r#"{"order_id":"ord-1","user_id":"u","client_order_id":"coid-1","ticker":"KXTEST-1",
  "side":"yes","action":"buy","type":"limit","status":"resting","book_side":"bid","outcome_side":"yes",
  "yes_price_dollars":"0.5600","no_price_dollars":"0.4400","fill_count_fp":"0.00","remaining_count_fp":"10.00",
  "initial_count_fp":"10.00","taker_fees_dollars":"0.0000","maker_fees_dollars":"0.0000",
  "taker_fill_cost_dollars":"0.0000","maker_fill_cost_dollars":"0.0000"}"#;

/// Plausible answers for each orders endpoint, enough for the client to decode.
fn exchange(request: &Recorded) -> Reply {
    let path = request.path().trim_start_matches("/trade-api/v2");
    match (request.method.as_str(), path) {
        ("POST", "/portfolio/events/orders") => Reply::status(
            201,
            r#"{"order_id":"ord-1","client_order_id":"coid-1","fill_count":"0.00","remaining_count":"10.00","ts_ms":1}"#,
        ),
        ("POST", "/portfolio/events/orders/batched") => {
            // Answer in reverse order, with the second entry refused: the
            // client must put results back in request order.
            let ids: Vec<String> = request.json()["orders"]
                .as_array()
                .unwrap()
                .iter()
                .map(|o| o["client_order_id"].as_str().unwrap().to_owned())
                .collect();
            let mut entries: Vec<serde_json::Value> = ids
                .iter()
                .enumerate()
                .map(|(i, id)| {
                    if i == 1 {
                        serde_json::json!({"client_order_id": id, "error": {"code": "invalid_price", "message": "off tick"}})
                    } else {
                        serde_json::json!({"client_order_id": id, "order_id": format!("ord-{i}"), "fill_count": "0.00", "remaining_count": "1.00", "ts_ms": 1})
                    }
                })
                .collect();
            entries.reverse();
            Reply::status(201, serde_json::json!({ "orders": entries }).to_string())
        }
        ("DELETE", "/portfolio/events/orders/batched") => {
            let entries: Vec<serde_json::Value> = request.json()["orders"]
                .as_array()
                .unwrap()
                .iter()
                .map(|o| serde_json::json!({"order_id": o["order_id"], "reduced_by": "1.00", "ts_ms": 1}))
                .collect();
            Reply::json(serde_json::json!({ "orders": entries }).to_string())
        }
        ("DELETE", "/portfolio/events/orders") => Reply::status(204, ""),
        ("DELETE", _) => Reply::json(r#"{"order_id":"ord-1","reduced_by":"10.00","ts_ms":1}"#),
        ("POST", p) if p.ends_with("/amend") => Reply::json(r#"{"order_id":"ord-2","ts_ms":1}"#),
        ("POST", p) if p.ends_with("/decrease") => {
            Reply::json(r#"{"order_id":"ord-1","remaining_count":"6.00","ts_ms":1}"#)
        }
        ("GET", "/portfolio/orders") => {
            Reply::json(format!(r#"{{"orders":[{ORDER}],"cursor":""}}"#))
        }
        ("GET", "/portfolio/orders/queue_positions") => Reply::json(
            r#"{"queue_positions":[{"order_id":"ord-1","market_ticker":"KXTEST-1","queue_position_fp":"120.00"}]}"#,
        ),
        ("GET", p) if p.ends_with("/queue_position") => {
            Reply::json(r#"{"queue_position_fp":"37.50"}"#)
        }
        ("GET", _) => Reply::json(format!(r#"{{"order":{ORDER}}}"#)),
        _ => Reply::status(404, r#"{"code":"not_found","message":"no route"}"#),
    }
}

async fn setup(default_subaccount: Option<u32>) -> (Recorder, Client) {
    let server = Recorder::with_handler(exchange).await;
    let mut builder = Client::builder()
        .base_url(server.base_url())
        .credentials(Credentials::from_pem("key-123", &TestKey::ed25519().pem).unwrap());
    if let Some(subaccount) = default_subaccount {
        builder =
            builder.default_subaccount(kalshi_client::order::Subaccount::new(subaccount).unwrap());
    }
    (server, builder.build().unwrap())
}

/// What the exchange saw, without the per-request signature and timestamp.
pub(crate) fn wire(requests: &[Recorded]) -> String {
    let mut out = String::new();
    for request in requests {
        let query = request.target.split_once('?').map_or("", |(_, q)| q);
        let mut pairs: Vec<&str> = query.split('&').filter(|p| !p.is_empty()).collect();
        pairs.sort_unstable();
        let _ = writeln!(out, "{} {}", request.method, request.path());
        if !pairs.is_empty() {
            let _ = writeln!(out, "  query: {}", pairs.join("&"));
        }
        if !request.body.is_empty() {
            let body = serde_json::to_string_pretty(&request.json()).unwrap();
            let _ = writeln!(out, "  body: {}", body.replace('\n', "\n  "));
        }
    }
    out
}

fn price(text: &str) -> Price {
    text.parse().unwrap()
}

fn count(n: u32) -> Quantity {
    Quantity::contracts(n).unwrap()
}

fn sub(n: u32) -> Subaccount {
    Subaccount::new(n).unwrap()
}

#[tokio::test]
async fn create() {
    let (server, client) = setup(None).await;
    let orders = client.orders();
    let placed = orders
        .create(&NewOrder::buy_yes("KXTEST-1", count(10), price("0.56")).client_order_id("coid-1"))
        .send()
        .await
        .unwrap();
    assert_eq!(placed.remaining_count.to_string(), "10.00");
    let every_option = NewOrder::buy_no("KXTEST-1", "2.5".parse().unwrap(), price("0.4401"))
        .client_order_id("coid-2")
        .time_in_force(TimeInForce::ImmediateOrCancel)
        .self_trade_prevention(SelfTradePrevention::Maker)
        .post_only()
        .reduce_only()
        .cancel_on_pause()
        .expires_at(1_800_000_000)
        .order_group("grp-1")
        .subaccount(sub(3))
        .route(ExchangeRoute::ByTicker("KXTEST-1".into()));
    orders.create(&every_option).send().await.unwrap();
    orders
        .create(
            &NewOrder::sell_no("KXTEST-1", count(1), price("0.01"))
                .client_order_id("coid-3")
                .route(ExchangeRoute::Index(2)),
        )
        .send()
        .await
        .unwrap();
    insta::assert_snapshot!("orders_create", wire(&server.requests()));
}

#[tokio::test]
async fn create_with_a_default_subaccount() {
    let (server, client) = setup(Some(7)).await;
    let order = NewOrder::sell_yes("KXTEST-1", count(1), price("0.9999")).client_order_id("coid-1");
    client.orders().create(&order).send().await.unwrap();
    client
        .orders()
        .create(&order.clone().subaccount(Subaccount::PRIMARY))
        .send()
        .await
        .unwrap();
    insta::assert_snapshot!("orders_create_default_subaccount", wire(&server.requests()));
}

#[tokio::test]
async fn batch_create_keeps_per_entry_results_in_request_order() {
    let (server, client) = setup(None).await;
    let orders = [
        NewOrder::buy_yes("KXTEST-1", count(1), price("0.10")).client_order_id("a"),
        NewOrder::buy_yes("KXTEST-1", count(1), price("0.20"))
            .client_order_id("b")
            .subaccount(sub(1)),
        NewOrder::sell_yes("KXTEST-2", count(1), price("0.90"))
            .client_order_id("c")
            .route(ExchangeRoute::ByTicker("KXTEST-2".into())),
    ];
    let results = client.orders().batch_create(&orders).send().await.unwrap();
    assert_eq!(results.len(), 3);
    assert_eq!(
        results[0].as_ref().unwrap().client_order_id.as_deref(),
        Some("a")
    );
    let refused = results[1].as_ref().unwrap_err();
    assert_eq!(
        (refused.code.as_deref(), refused.message.as_deref()),
        (Some("invalid_price"), Some("off tick"))
    );
    assert_eq!(
        results[2].as_ref().unwrap().client_order_id.as_deref(),
        Some("c")
    );
    insta::assert_snapshot!("orders_batch_create", wire(&server.requests()));
}

#[tokio::test]
async fn cancel_routing_goes_in_the_query() {
    let (server, client) = setup(None).await;
    let orders = client.orders();
    let canceled = orders.cancel("ord-1").send().await.unwrap();
    assert_eq!(canceled.reduced_by.to_string(), "10.00");
    orders
        .cancel(
            CancelOrder::new("ord-1")
                .subaccount(sub(2))
                .route(ExchangeRoute::Index(1)),
        )
        .send()
        .await
        .unwrap();
    orders
        .cancel(CancelOrder::new("ord-1").route(ExchangeRoute::ByTicker("KXTEST-1".into())))
        .send()
        .await
        .unwrap();
    insta::assert_snapshot!("orders_cancel", wire(&server.requests()));
}

#[tokio::test]
async fn batch_cancel_routing_goes_in_each_entry() {
    let (server, client) = setup(Some(4)).await;
    let cancels = [
        CancelOrder::new("ord-a"),
        CancelOrder::new("ord-b").subaccount(Subaccount::PRIMARY),
        CancelOrder::new("ord-c").route(ExchangeRoute::ByTicker("KXTEST-2".into())),
    ];
    let results = client.orders().batch_cancel(&cancels).send().await.unwrap();
    let ids: Vec<&str> = results
        .iter()
        .map(|r| r.as_ref().unwrap().order_id.as_str())
        .collect();
    assert_eq!(ids, ["ord-a", "ord-b", "ord-c"]);
    insta::assert_snapshot!("orders_batch_cancel", wire(&server.requests()));
}

#[tokio::test]
async fn cancel_all() {
    let (server, client) = setup(None).await;
    client.orders().cancel_all().send().await.unwrap();
    client
        .orders()
        .cancel_all()
        .subaccount(5)
        .send()
        .await
        .unwrap();
    let (default_server, with_default) = setup(Some(6)).await;
    with_default.orders().cancel_all().send().await.unwrap();
    let mut requests = server.requests();
    requests.extend(default_server.requests());
    insta::assert_snapshot!("orders_cancel_all", wire(&requests));
}

#[tokio::test]
async fn amend_puts_subaccount_in_the_query_and_routing_in_the_body() {
    let (server, client) = setup(None).await;
    let orders = client.orders();
    let amended = orders
        .amend(
            "ord-1",
            &Amendment::new("KXTEST-1", Side::Bid, count(12), price("0.57")),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(amended.order_id, "ord-2");
    let routed = Amendment::new("KXTEST-1", Side::Ask, count(5), price("0.43"))
        .subaccount(sub(9))
        .route(ExchangeRoute::ByTicker("KXTEST-1".into()))
        .new_client_order_id("coid-9")
        .expires_at(1_800_000_000);
    orders.amend("ord-1", &routed).send().await.unwrap();
    insta::assert_snapshot!("orders_amend", wire(&server.requests()));
}

#[tokio::test]
async fn decrease_takes_exactly_one_of_by_or_to() {
    let (server, client) = setup(None).await;
    let orders = client.orders();
    let decreased = orders
        .decrease("ord-1", &Decrease::By(count(4)).into())
        .send()
        .await
        .unwrap();
    assert_eq!(decreased.remaining_count.to_string(), "6.00");
    let routed = DecreaseOrder::new(Decrease::To(count(6)))
        .subaccount(sub(2))
        .route(ExchangeRoute::ByTicker("KXTEST-1".into()));
    orders.decrease("ord-1", &routed).send().await.unwrap();
    insta::assert_snapshot!("orders_decrease", wire(&server.requests()));
}

#[tokio::test]
async fn reads() {
    let (server, client) = setup(Some(1)).await;
    let orders = client.orders();
    let order = orders.get("ord-1").send().await.unwrap().order;
    assert_eq!(order.remaining_count_fp.to_string(), "10.00");
    let page = orders
        .list()
        .ticker("KXTEST-1")
        .status("resting")
        .limit(50)
        .page()
        .await
        .unwrap();
    assert_eq!(page.items.len(), 1);
    let resting: Vec<_> = orders.resting().stream(None).try_collect().await.unwrap();
    assert_eq!(resting.len(), 1);
    let positions = orders
        .queue_positions(QueueScope::Markets(vec![
            "KXTEST-1".into(),
            "KXTEST-2".into(),
        ]))
        .send()
        .await
        .unwrap()
        .queue_positions;
    assert_eq!(positions[0].queue_position_fp.to_string(), "120.00");
    orders
        .queue_positions(QueueScope::Event("KXTEST".into()))
        .subaccount(4)
        .send()
        .await
        .unwrap();
    let ahead = orders.queue_position("ord-1").send().await.unwrap();
    assert_eq!(ahead.queue_position_fp.value(), Decimal::new(3750, 2));
    insta::assert_snapshot!("orders_reads", wire(&server.requests()));
}

#[tokio::test]
async fn an_order_whose_response_was_lost_can_be_found_by_its_client_order_id() {
    let (server, client) = setup(Some(1)).await;
    let orders = client.orders();
    let sent = NewOrder::buy_yes("KXTEST-1", count(1), price("0.56")).client_order_id("coid-1");
    let found = orders.find(&sent, 500).await.unwrap();
    assert_eq!(found.map(|o| o.order_id), Some("ord-1".to_owned()));
    let never_sent = sent.clone().with_fresh_id().subaccount(sub(5));
    assert!(orders.find(&never_sent, 500).await.unwrap().is_none());
    let requests = server.requests();
    // Each lookup asks the market and the subaccount the order was sent for.
    assert_eq!(
        (requests[0].query("ticker"), requests[0].query("subaccount")),
        (Some("KXTEST-1"), Some("1"))
    );
    assert_eq!(requests[1].query("subaccount"), Some("5"));
    assert_eq!(requests[0].query("limit"), Some("500"));
}

#[tokio::test]
async fn a_batch_naming_an_order_twice_is_refused_before_sending() {
    let (server, client) = setup(None).await;
    let order = NewOrder::buy_yes("KXTEST-1", count(1), price("0.56"));
    let error = client
        .orders()
        .batch_create(&[order.clone(), order])
        .send()
        .await
        .unwrap_err();
    assert!(matches!(error, Error::InvalidRequest { .. }), "{error:?}");
    let error = client
        .orders()
        .batch_cancel(&[CancelOrder::new("o"), CancelOrder::new("o")])
        .send()
        .await
        .unwrap_err();
    assert!(error.to_string().contains("twice"), "{error}");
    assert!(server.requests().is_empty());
}

#[tokio::test]
async fn a_cancel_of_an_unknown_order_is_not_found_not_swallowed() {
    let server = Recorder::start(Reply::status(
        404,
        r#"{"code":"not_found","message":"order not found"}"#,
    ))
    .await;
    let client = Client::builder()
        .base_url(server.base_url())
        .credentials(Credentials::from_pem("key-123", &TestKey::ed25519().pem).unwrap())
        .build()
        .unwrap();
    let error = client.orders().cancel("ord-gone").send().await.unwrap_err();
    assert!(matches!(error, Error::NotFound(_)), "{error:?}");
}

#[test]
fn invalid_orders_cannot_be_built() {
    for bad in ["0", "1", "1.01", "0.56789", "-0.1", "abc"] {
        assert!(bad.parse::<Price>().is_err(), "price {bad}");
    }
    for bad in ["0", "-2", "0.005"] {
        assert!(bad.parse::<Quantity>().is_err(), "count {bad}");
    }
    assert!(Subaccount::new(64).is_err());
    let error = "1.5".parse::<Price>().unwrap_err();
    assert!(error.to_string().contains("request not sent"), "{error}");
}

#[tokio::test]
async fn routing_by_another_ticker_than_the_orders_is_refused_before_sending() {
    let (server, client) = setup(None).await;
    let order = NewOrder::buy_yes("KXTEST-1", count(1), price("0.56"))
        .route(ExchangeRoute::ByTicker("KXTEST-2".into()));
    let error = client.orders().create(&order).send().await.unwrap_err();
    assert!(matches!(error, Error::InvalidRequest { .. }), "{error:?}");
    assert!(error.to_string().contains("KXTEST-2"), "{error}");
    let amendment = Amendment::new("KXTEST-1", Side::Bid, count(2), price("0.50"))
        .route(ExchangeRoute::ByTicker("KXTEST-3".into()));
    let error = client
        .orders()
        .amend("ord-1", &amendment)
        .send()
        .await
        .unwrap_err();
    assert!(matches!(error, Error::InvalidRequest { .. }), "{error:?}");
    let error = client
        .orders()
        .batch_create(&[order])
        .send()
        .await
        .unwrap_err();
    assert!(matches!(error, Error::InvalidRequest { .. }), "{error:?}");
    assert!(server.requests().is_empty(), "nothing was sent");
}
