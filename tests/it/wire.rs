//! What the generated client puts on the wire, seen by a loopback server.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use kalshi_gen::hooks::{BoxFuture, RequestHooks};
use kalshi_gen::{ClientExchangeExt, ClientOrdersExt, Hooks, Request};
use kalshi_tests::recorder::{Recorder, Reply};

const STATUS: &str = r#"{"exchange_active":true,"trading_active":true}"#;

#[tokio::test]
async fn no_api_version_header_is_sent() {
    let server = Recorder::start(Reply::json(STATUS)).await;
    let client = kalshi_gen::Client::new(&server.base_url(), Hooks::none());
    client
        .get_exchange_status()
        .send_request()
        .await
        .expect("status");
    let requests = server.requests();
    assert_eq!(requests.len(), 1);
    assert_eq!(requests[0].target, "/trade-api/v2/exchange/status");
    assert!(
        !requests[0].headers.contains_key("api-version"),
        "{:?}",
        requests[0].headers
    );
}

/// Hooks that stamp a header on each attempt and count the calls.
#[derive(Debug, Default)]
struct Stamp {
    prepared: AtomicUsize,
    executed: AtomicUsize,
}

impl RequestHooks for Stamp {
    fn prepare<'a>(
        &'a self,
        _: &'a mut reqwest::Request,
        operation: &'static str,
    ) -> BoxFuture<'a, Result<(), String>> {
        Box::pin(async move {
            self.prepared.fetch_add(1, Ordering::SeqCst);
            if operation == "get_order" {
                Err("refused before sending".to_owned())
            } else {
                Ok(())
            }
        })
    }

    fn execute<'a>(
        &'a self,
        client: &'a reqwest::Client,
        mut request: reqwest::Request,
        operation: &'static str,
    ) -> BoxFuture<'a, reqwest::Result<reqwest::Response>> {
        Box::pin(async move {
            self.executed.fetch_add(1, Ordering::SeqCst);
            request
                .headers_mut()
                .insert("x-operation", operation.parse().unwrap());
            client.execute(request).await
        })
    }
}

#[tokio::test]
async fn hooks_see_every_request_and_can_stop_one_before_it_is_sent() {
    let server = Recorder::start(Reply::json(STATUS)).await;
    let stamp = Arc::new(Stamp::default());
    let client = kalshi_gen::Client::new(&server.base_url(), Hooks::new(stamp.clone()));
    client
        .get_exchange_status()
        .send_request()
        .await
        .expect("status");
    let refused = client
        .get_order()
        .order_id("ord-1")
        .send_request()
        .await
        .unwrap_err();
    assert!(
        refused.to_string().contains("refused before sending"),
        "{refused}"
    );
    assert_eq!(stamp.prepared.load(Ordering::SeqCst), 2);
    assert_eq!(stamp.executed.load(Ordering::SeqCst), 1);
    let requests = server.requests();
    assert_eq!(requests.len(), 1, "the refused request reached the server");
    assert_eq!(
        requests[0].headers.get("x-operation").map(String::as_str),
        Some("get_exchange_status")
    );
}
