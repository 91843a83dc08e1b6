//! Spec 3.34.0 on the wire: the intra-exchange transfer with its
//! `client_transfer_id`, the new query parameters, and the operations whose
//! request body is optional.

use std::time::Duration;

use kalshi_client::generated::types::{ExchangeInstance, GetPositionsSettlementStatus};
use kalshi_client::order::Subaccount;
use kalshi_client::transfer::ExchangeTransfer;
use kalshi_client::{Client, Credentials, Error, Execute, RetryPolicy};
use kalshi_tests::keys::TestKey;
use kalshi_tests::recorder::{Recorder, Reply};

use crate::orders::wire;

const TRANSFERRED: &str = r#"{"transfer_id":"tr-1"}"#;

fn client_for(server: &Recorder) -> Client {
    Client::builder()
        .base_url(server.base_url())
        .credentials(Credentials::from_pem("key-123", &TestKey::ed25519().pem).unwrap())
        .retry_policy(
            RetryPolicy::default().with_backoff(Duration::from_millis(1), Duration::from_millis(5)),
        )
        .build()
        .unwrap()
}

fn transfer() -> ExchangeTransfer {
    ExchangeTransfer::new(
        ExchangeInstance::EventContract,
        ExchangeInstance::Margined,
        "12.5".parse().unwrap(),
    )
    .unwrap()
}

/// A 429 means Kalshi did not execute the transfer, so it is retried, and
/// the retry carries the same id: had the first attempt gone through, the
/// second would be refused instead of moving the funds twice.
#[tokio::test]
async fn a_retried_transfer_keeps_its_client_transfer_id() {
    let server = Recorder::sequence(vec![
        Reply::status(429, r#"{"error":"too many requests"}"#),
        Reply::json(TRANSFERRED),
    ])
    .await;
    let client = client_for(&server);
    let transfer = transfer();
    let done = client
        .portfolio()
        .transfer_between_exchanges(&transfer)
        .send()
        .await
        .unwrap();
    assert_eq!(done.transfer_id, "tr-1");
    let requests = server.requests();
    assert_eq!(requests.len(), 2);
    let id = transfer.client_transfer_id().unwrap().to_string();
    for request in &requests {
        assert_eq!(request.json()["client_transfer_id"], id.as_str());
    }
    insta::assert_snapshot!(
        "transfer_between_exchanges",
        wire(&requests[..1]).replace(&id, "<client_transfer_id>")
    );
}

#[tokio::test]
async fn a_repeated_transfer_id_is_a_conflict_that_did_not_execute() {
    let server = Recorder::start(Reply::status(
        409,
        r#"{"error":{"code":"duplicate_client_transfer_id","message":"already accepted"}}"#,
    ))
    .await;
    let error = client_for(&server)
        .portfolio()
        .transfer_between_exchanges(&transfer())
        .send()
        .await
        .unwrap_err();
    let Error::Conflict(api) = &error else {
        panic!("{error:?}");
    };
    assert_eq!(api.code.as_deref(), Some("duplicate_client_transfer_id"));
    assert!(!error.may_have_executed());
    assert_eq!(server.requests().len(), 1, "a 409 is not retried");
}

#[tokio::test]
async fn a_transfer_with_a_numbered_subaccount_carries_no_id() {
    let server = Recorder::start(Reply::json(TRANSFERRED)).await;
    let transfer = ExchangeTransfer::new(
        ExchangeInstance::EventContract,
        ExchangeInstance::EventContract,
        "1".parse().unwrap(),
    )
    .unwrap()
    .to_subaccount(Subaccount::new(4).unwrap());
    client_for(&server)
        .portfolio()
        .transfer_between_exchanges(&transfer)
        .send()
        .await
        .unwrap();
    let body = server.requests()[0].json();
    assert!(body.get("client_transfer_id").is_none(), "{body}");
    assert_eq!(body["destination_subaccount"], 4);
    assert_eq!(body["amount"], 10_000);
}

/// `settlement_status`, `exclude_markets` and multivariate `tickers` go in
/// the query, as the spec puts them.
#[tokio::test]
async fn new_query_parameters_go_in_the_query() {
    let server = Recorder::start(Reply::status(500, r#"{"error":"not a real exchange"}"#)).await;
    let client = client_for(&server);
    let retry = RetryPolicy::none();
    let _ = client
        .portfolio()
        .positions()
        .settlement_status(GetPositionsSettlementStatus::Settled)
        .send_with(retry.clone())
        .await;
    let _ = client
        .events()
        .get("KXEVENT")
        .exclude_markets(true)
        .send_with(retry.clone())
        .await;
    let _ = client
        .events()
        .multivariate()
        .tickers("KXA,KXB")
        .send_with(retry)
        .await;
    insta::assert_snapshot!("new_query_parameters", wire(&server.requests()));
}

/// The spec marks these request bodies optional; they are sent as `{}`
/// without the caller building one.
#[tokio::test]
async fn operations_with_an_optional_body_need_none() {
    let server = Recorder::with_handler(|request| {
        if request.path().ends_with("/reset") {
            Reply::json("{}")
        } else {
            Reply::status(204, "")
        }
    })
    .await;
    let client = client_for(&server);
    client
        .order_groups()
        .reset("og-1")
        .send()
        .await
        .expect("reset without a body");
    client
        .communications()
        .rfq_batches()
        .confirm_quote("batch-1", "quote-1")
        .send()
        .await
        .expect("confirm without a body");
    for request in server.requests() {
        assert_eq!(request.json(), serde_json::json!({}), "{}", request.target);
    }
}
