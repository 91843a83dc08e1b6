//! The resource groups (`client.markets()`, `client.portfolio()`, ...):
//! every operation of the spec has a named method, and the methods put path
//! parameters and the default subaccount where the spec says.

use std::collections::HashSet;

use kalshi_client::{Client, Credentials, Execute};
use kalshi_tests::keys::TestKey;
use kalshi_tests::recorder::{Recorder, Reply};

const BALANCE: &str = r#"{"balance":0,"balance_dollars":"12.3400","portfolio_value":0,"portfolio_value_dollars":"0.0000","updated_ts":1}"#;

fn client_for(server: &Recorder, default_subaccount: Option<u32>) -> Client {
    let key = TestKey::ed25519();
    let mut builder = Client::builder()
        .base_url(server.base_url())
        .credentials(Credentials::from_pem("key-123", &key.pem).expect("test key parses"));
    if let Some(subaccount) = default_subaccount {
        builder =
            builder.default_subaccount(kalshi_client::order::Subaccount::new(subaccount).unwrap());
    }
    builder.build().expect("client builds")
}

/// Derived from the spec: an operation without a named method fails here.
#[test]
fn every_operation_has_a_named_method() {
    let routed: HashSet<&str> = kalshi_client::resources::routes()
        .map(|route| route.operation)
        .collect();
    let missing: Vec<&str> = kalshi_client::generated::OPERATIONS
        .iter()
        .map(|op| op.name)
        .filter(|name| !routed.contains(name))
        .collect();
    assert!(missing.is_empty(), "no named method for {missing:?}");

    let mut seen = HashSet::new();
    let duplicates: Vec<(&str, &str)> = kalshi_client::resources::routes()
        .map(|route| (route.group, route.method))
        .filter(|key| !seen.insert(*key))
        .collect();
    assert!(duplicates.is_empty(), "methods named twice: {duplicates:?}");
}

#[tokio::test]
async fn the_default_subaccount_is_preset_and_can_be_overridden() {
    let server = Recorder::start(Reply::json(BALANCE)).await;
    let client = client_for(&server, Some(3));
    let balance = client.portfolio().balance().send().await.expect("balance");
    assert_eq!(balance.balance_dollars.to_string(), "12.3400");
    client
        .portfolio()
        .balance()
        .subaccount(5)
        .send()
        .await
        .expect("balance for subaccount 5");

    let requests = server.requests();
    assert_eq!(requests[0].path(), "/trade-api/v2/portfolio/balance");
    assert_eq!(requests[0].query("subaccount"), Some("3"));
    assert_eq!(requests[1].query("subaccount"), Some("5"));
}

#[tokio::test]
async fn without_a_default_no_subaccount_is_sent() {
    let server = Recorder::start(Reply::json(BALANCE)).await;
    let client = client_for(&server, None);
    client.portfolio().balance().send().await.expect("balance");
    let request = &server.requests()[0];
    assert_eq!(request.path(), "/trade-api/v2/portfolio/balance");
    assert_eq!(request.query("subaccount"), None, "{}", request.target);
}

#[tokio::test]
async fn operations_without_a_query_subaccount_never_get_one() {
    let server = Recorder::start(Reply::json(r#"{"markets":[],"cursor":""}"#)).await;
    let client = client_for(&server, Some(3));
    client
        .markets()
        .list()
        .limit(1)
        .send()
        .await
        .expect("markets");
    let request = &server.requests()[0];
    assert_eq!(request.path(), "/trade-api/v2/markets");
    assert_eq!(request.query("subaccount"), None, "{}", request.target);
}

#[tokio::test]
async fn path_parameters_are_percent_encoded() {
    // Only the request matters here; the reply is not a full market.
    let server = Recorder::start(Reply::json("{}")).await;
    let client = client_for(&server, None);
    let _ = client.markets().get("KX A/B").send().await;
    let _ = client
        .markets()
        .candlesticks("KX S", "KX A/B")
        .start_ts(1)
        .end_ts(2)
        .period_interval(60_i64)
        .send()
        .await;

    let requests = server.requests();
    assert_eq!(requests[0].method, "GET");
    assert_eq!(requests[0].path(), "/trade-api/v2/markets/KX%20A%2FB");
    assert_eq!(
        requests[1].path(),
        "/trade-api/v2/series/KX%20S/markets/KX%20A%2FB/candlesticks"
    );
}

/// The client's default subaccount goes into the JSON body of operations
/// that act for a subaccount and name none, and never into API key
/// creation, where a subaccount restricts the new key.
#[tokio::test]
async fn the_default_subaccount_fills_body_subaccounts_that_act_for_one() {
    use kalshi_client::generated::types;
    let server = Recorder::start(Reply::status(201, r#"{"order_group_id":"og-1"}"#)).await;
    let client = client_for(&server, Some(3));
    let group = || {
        types::CreateOrderGroupRequest::builder().contracts_limit_fp(Some("10".parse().unwrap()))
    };
    let _ = client.order_groups().create().body(group()).send().await;
    let _ = client
        .order_groups()
        .create()
        .body(group().subaccount(Some(5)))
        .send()
        .await;
    let key = types::CreateApiKeyRequest::builder()
        .name("bot")
        .public_key("-----BEGIN PUBLIC KEY-----")
        .scopes(vec![]);
    let _ = client.api_keys().create().body(key).send().await;

    let requests = server.requests();
    assert_eq!(requests[0].json()["subaccount"], 3, "the default is added");
    assert_eq!(
        requests[1].json()["subaccount"],
        5,
        "an explicit one is kept"
    );
    assert!(
        requests[2].json().get("subaccount").is_none(),
        "an API key is never restricted on the caller's behalf: {}",
        requests[2].json()
    );
    // Without a default, nothing is added.
    let bare = client_for(&server, None);
    let _ = bare.order_groups().create().body(group()).send().await;
    assert!(server.requests()[3].json().get("subaccount").is_none());
}

/// Derived from the spec: the operations whose body carries `subaccount`.
/// A new one fails here until someone decides whether the client's default
/// subaccount belongs in it (see `BODY_SUBACCOUNT_NOT_ACTING_FOR`).
#[test]
fn operations_with_a_body_subaccount_are_all_reviewed() {
    let mut body: Vec<&str> = kalshi_client::generated::OPERATIONS
        .iter()
        .filter(|op| op.subaccount == kalshi_client::generated::Placement::Body)
        .map(|op| op.name)
        .collect();
    body.sort_unstable();
    assert_eq!(
        body,
        [
            "accept_block_trade_proposal",
            "create_api_key",
            "create_order_group",
            "create_order_v2",
            "create_quote",
            "create_rfq",
            "create_rfq_batch",
            "create_rfq_batch_quote",
            "generate_api_key",
        ]
    );
}

/// Derived from the margin document: a margin operation without a named
/// method under `client.margin()` fails here.
#[test]
fn every_margin_operation_has_a_named_method() {
    let routed: HashSet<&str> = kalshi_client::resources::margin_routes()
        .map(|route| route.operation)
        .collect();
    let missing: Vec<&str> = kalshi_gen::margin::OPERATIONS
        .iter()
        .map(|op| op.name)
        .filter(|name| !routed.contains(name))
        .collect();
    assert!(missing.is_empty(), "no named margin method for {missing:?}");
    assert_eq!(routed.len(), 53);
    let mut seen = HashSet::new();
    let duplicates: Vec<(&str, &str)> = kalshi_client::resources::margin_routes()
        .map(|route| (route.group, route.method))
        .filter(|key| !seen.insert(*key))
        .collect();
    assert!(duplicates.is_empty(), "methods named twice: {duplicates:?}");
}

/// Derived from the margin document: a cursor-paginated margin operation
/// without a page stream fails here.
#[test]
fn every_cursor_paginated_margin_operation_has_a_stream() {
    let missing: Vec<&str> = kalshi_gen::margin::OPERATIONS
        .iter()
        .filter(|op| op.paginated)
        .map(|op| op.name)
        .filter(|name| !kalshi_client::pagination::MARGIN_PAGINATED_OPERATIONS.contains(name))
        .collect();
    assert!(missing.is_empty(), "no page stream for {missing:?}");
    assert_eq!(
        kalshi_client::pagination::MARGIN_PAGINATED_OPERATIONS.len(),
        3
    );
}

/// A margin call goes to its path on the same host, signed like any other;
/// a public margin read is not signed; a margin list pages with the filters
/// it was given; rates decode as exact decimals.
#[tokio::test]
async fn margin_calls_are_signed_routed_and_paged_like_the_trade_api() {
    use futures_util::TryStreamExt;
    use kalshi_client::Paginate;

    let server = Recorder::start(Reply::json(
        r#"{"funding_rate":0.0003,"funding_time":"2026-12-01T08:00:00Z","mark_price":"101.25","market_ticker":"KXBTCPERP","next_funding_time":"2026-12-01T16:00:00Z","period_start":"2026-12-01T08:00:00Z"}"#,
    ))
    .await;
    let client = client_for(&server, None);
    let estimate = client
        .margin()
        .funding()
        .estimate()
        .ticker("KXBTCPERP")
        .send()
        .await
        .unwrap();
    let requests = server.requests();
    assert_eq!(
        requests[0].path(),
        "/trade-api/v2/margin/funding_rates/estimate"
    );
    assert_eq!(requests[0].query("ticker"), Some("KXBTCPERP"));
    assert!(
        requests[0].header("kalshi-access-signature").is_none(),
        "public read signed"
    );
    let rate = estimate.funding_rate.map(|r| r.value().to_string());
    assert_eq!(rate.as_deref(), Some("0.0003"));

    let pages = Recorder::sequence(vec![
        Reply::json(r#"{"orders":[],"cursor":"next"}"#),
        Reply::json(r#"{"orders":[],"cursor":""}"#),
    ])
    .await;
    let client = client_for(&pages, None);
    let orders: Vec<_> = client
        .margin()
        .orders()
        .list()
        .ticker("KXBTCPERP")
        .stream(None)
        .try_collect()
        .await
        .unwrap();
    assert!(orders.is_empty());
    let requests = pages.requests();
    assert_eq!(requests.len(), 2);
    assert_eq!(requests[0].path(), "/trade-api/v2/margin/orders");
    assert!(
        requests[0].header("kalshi-access-signature").is_some(),
        "signed"
    );
    assert_eq!(requests[1].query("cursor"), Some("next"));
    assert_eq!(
        requests[1].query("ticker"),
        Some("KXBTCPERP"),
        "filters resent"
    );
}

/// The margin API's own budget: margin calls are charged to it, Trade API
/// calls to the client's; `load_margin_rate_limits` reads
/// `/account/limits/perps` into it; the client's default (event-contract)
/// subaccount never lands in a margin body.
#[tokio::test]
async fn margin_calls_have_their_own_budget_and_no_default_subaccount() {
    use kalshi_client::rate_limit::{Bucket, BucketSpec, RateLimits};
    let spec = |rate| BucketSpec {
        refill_per_sec: rate,
        capacity: rate,
    };
    let server = Recorder::start(Reply::json(
        r#"{"usage_tier":"basic","read":{"refill_rate":30,"bucket_capacity":60},"write":{"refill_rate":20,"bucket_capacity":40},"grants":[]}"#,
    ))
    .await;
    let client = Client::builder()
        .base_url(server.base_url())
        .credentials(Credentials::from_pem("key-123", &TestKey::ed25519().pem).unwrap())
        .default_subaccount(kalshi_client::order::Subaccount::new(3).unwrap())
        .rate_limits(RateLimits::new(spec(1000), spec(1000)))
        .margin_rate_limits(RateLimits::new(spec(500), spec(500)))
        .build()
        .unwrap();
    let loaded = client.load_margin_rate_limits().await.unwrap();
    assert_eq!(
        loaded.spec(Bucket::Read),
        BucketSpec {
            refill_per_sec: 30,
            capacity: 60
        }
    );
    let trade = client.rate_limiter().unwrap();
    let margin = client.margin_rate_limiter().unwrap();
    assert_eq!(margin.limits(), loaded, "loaded into the margin budget");
    assert_eq!(
        trade.limits().spec(Bucket::Read),
        spec(1000),
        "the Trade budget is untouched"
    );
    assert_eq!(
        (trade.stats().acquisitions, margin.stats().acquisitions),
        (0, 1)
    );

    // A margin write with a body: charged to the margin budget, and the
    // default subaccount (an event-contract one) is not added to it.
    let group = kalshi_gen::margin::types::CreateOrderGroupRequest::builder()
        .contracts_limit_fp(Some("10".parse().unwrap()));
    let _ = client
        .margin()
        .order_groups()
        .create()
        .body(group)
        .send()
        .await;
    assert_eq!(
        (trade.stats().acquisitions, margin.stats().acquisitions),
        (0, 2)
    );
    let body = server.requests().last().unwrap().json();
    assert!(body.get("subaccount").is_none(), "{body}");
}
