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
    let balance = client
        .portfolio()
        .balance()
        .execute()
        .await
        .expect("balance");
    assert_eq!(balance.balance_dollars.to_string(), "12.3400");
    client
        .portfolio()
        .balance()
        .subaccount(5)
        .execute()
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
    client
        .portfolio()
        .balance()
        .execute()
        .await
        .expect("balance");
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
        .execute()
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
    let _ = client.markets().get("KX A/B").execute().await;
    let _ = client
        .markets()
        .candlesticks("KX S", "KX A/B")
        .start_ts(1)
        .end_ts(2)
        .period_interval(60_i64)
        .execute()
        .await;

    let requests = server.requests();
    assert_eq!(requests[0].method, "GET");
    assert_eq!(requests[0].path(), "/trade-api/v2/markets/KX%20A%2FB");
    assert_eq!(
        requests[1].path(),
        "/trade-api/v2/series/KX%20S/markets/KX%20A%2FB/candlesticks"
    );
}
