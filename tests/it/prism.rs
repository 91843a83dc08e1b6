//! The Prism harness against a canned upstream: clean traffic passes, request
//! and response violations are reported, the path and the signing headers
//! reach the upstream unchanged. Needs `npm ci --prefix tests/prism`; fails
//! (never skips) without it.

use kalshi_tests::prism::Prism;
use kalshi_tests::recorder::{Recorder, Reply};

const STATUS: &str = r#"{"exchange_active":true,"trading_active":true}"#;

/// The recorder's origin: its base URL without `/trade-api/v2`.
fn origin(upstream: &Recorder) -> String {
    let base = upstream.base_url();
    base.strip_suffix(kalshi_openapi::BASE_PATH)
        .expect("recorder base URL ends with the base path")
        .to_owned()
}

async fn prism_before(upstream: &Recorder) -> Prism {
    Prism::start(&origin(upstream))
        .await
        .unwrap_or_else(|e| panic!("{e}"))
}

#[tokio::test]
async fn valid_request_and_response_pass_unchanged() {
    let upstream = Recorder::start(Reply::json(STATUS)).await;
    let prism = prism_before(&upstream).await;
    let response = reqwest::get(format!("{}/exchange/status", prism.base_url()))
        .await
        .expect("request through Prism");
    assert_eq!(response.status(), 200);
    assert!(response.headers().get("sl-violations").is_none());
    assert_eq!(response.text().await.expect("body"), STATUS);
    prism.assert_clean();
    let requests = upstream.requests();
    assert_eq!(requests.len(), 1);
    assert_eq!(requests[0].method, "GET");
    assert_eq!(requests[0].target, "/trade-api/v2/exchange/status");
}

#[tokio::test]
async fn request_violation_is_reported_and_not_forwarded() {
    let upstream = Recorder::start(Reply::json(r#"{"markets":[],"cursor":""}"#)).await;
    let prism = prism_before(&upstream).await;
    let response = reqwest::get(format!("{}/markets?limit=abc", prism.base_url()))
        .await
        .expect("request through Prism");
    assert_eq!(response.status(), 422);
    let problem: serde_json::Value = response.json().await.expect("problem+json");
    assert_eq!(
        problem["validation"][0]["message"],
        "Request query parameter limit must be integer"
    );
    let violations = prism.violations();
    assert_eq!(violations.len(), 1, "{violations:#?}\n{:#?}", prism.log());
    assert!(
        violations[0].starts_with("GET /trade-api/v2/markets: request violates the spec"),
        "{violations:#?}"
    );
    assert!(upstream.requests().is_empty());
}

#[tokio::test]
async fn response_violation_is_reported() {
    let upstream = Recorder::start(Reply::json(r#"{"exchange_active":"yes"}"#)).await;
    let prism = prism_before(&upstream).await;
    let response = reqwest::get(format!("{}/exchange/status", prism.base_url()))
        .await
        .expect("request through Prism");
    assert_eq!(response.status(), 500);
    let header = response.headers()["sl-violations"]
        .to_str()
        .expect("ascii")
        .to_owned();
    assert!(
        header.contains("Response body property exchange_active must be boolean"),
        "{header}"
    );
    let violations = prism.violations();
    assert_eq!(violations.len(), 1, "{violations:#?}\n{:#?}", prism.log());
    assert!(
        violations[0].starts_with("GET /trade-api/v2/exchange/status: response violates the spec"),
        "{violations:#?}"
    );
    let panic = std::panic::catch_unwind(|| prism.assert_clean()).expect_err("not clean");
    let message = panic.downcast_ref::<String>().expect("formatted panic");
    assert!(message.contains("1 spec violation"), "{message}");
    assert_eq!(
        upstream.requests()[0].target,
        "/trade-api/v2/exchange/status"
    );
}

#[tokio::test]
async fn signed_delete_with_body_reaches_upstream_unchanged() {
    let reply = r#"{"orders":[{"order_id":"a","reduced_by":"1.00"}]}"#;
    let upstream = Recorder::start(Reply::json(reply)).await;
    let prism = prism_before(&upstream).await;
    let url = format!("{}/portfolio/events/orders/batched", prism.base_url());
    let body = r#"{"orders":[{"order_id":"a","subaccount":0}]}"#;
    let http = reqwest::Client::new();
    // The spec declares the KALSHI-ACCESS-* headers: without them Prism
    // answers 401 itself.
    let unsigned = http
        .delete(&url)
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .expect("request through Prism");
    assert_eq!(unsigned.status(), 401);
    let signed = http
        .delete(&url)
        .header("content-type", "application/json")
        .header("KALSHI-ACCESS-KEY", "key-1")
        .header("KALSHI-ACCESS-TIMESTAMP", "1700000000000")
        .header("KALSHI-ACCESS-SIGNATURE", "c2lnbmF0dXJl")
        .body(body)
        .send()
        .await
        .expect("request through Prism");
    assert_eq!(signed.status(), 200);
    assert_eq!(signed.text().await.expect("body"), reply);
    let violations = prism.violations();
    assert_eq!(violations.len(), 1, "{violations:#?}");
    assert!(violations[0].contains("lacks the KALSHI-ACCESS-* headers"));
    let requests = upstream.requests();
    assert_eq!(requests.len(), 1, "only the signed request is forwarded");
    let forwarded = &requests[0];
    assert_eq!(forwarded.method, "DELETE");
    assert_eq!(
        forwarded.target,
        "/trade-api/v2/portfolio/events/orders/batched"
    );
    assert_eq!(forwarded.header("content-type"), Some("application/json"));
    assert_eq!(forwarded.header("kalshi-access-key"), Some("key-1"));
    assert_eq!(
        forwarded.header("kalshi-access-timestamp"),
        Some("1700000000000")
    );
    assert_eq!(
        forwarded.header("kalshi-access-signature"),
        Some("c2lnbmF0dXJl")
    );
    assert_eq!(forwarded.body, body.as_bytes());
}

#[tokio::test]
async fn passthrough_logs_each_violation_in_full() {
    let upstream = Recorder::start(Reply::json(r#"{"exchange_active":"yes"}"#)).await;
    let prism = Prism::start_passthrough(&origin(&upstream))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let response = reqwest::get(format!("{}/exchange/status?limit=1", prism.base_url()))
        .await
        .expect("request through Prism");
    assert_eq!(response.status(), 200, "passed through");
    assert!(response.headers().contains_key("sl-violations"));
    assert_eq!(
        prism.violations(),
        [
            "GET /trade-api/v2/exchange/status: error: response.body Response body must have required property 'trading_active'",
            "GET /trade-api/v2/exchange/status: error: response.body.exchange_active Response body property exchange_active must be boolean",
        ],
        "{:#?}",
        prism.log()
    );
}
