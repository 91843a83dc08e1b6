//! kalshi-client over real HTTP on loopback: signing, errors, retries,
//! rate limiting and pagination as a server sees them.

use std::time::Duration;

use kalshi_client::generated::{
    ClientExchangeExt, ClientMarketExt, ClientOrdersExt, ClientPortfolioExt, types,
};
use kalshi_client::rate_limit::{Bucket, BucketSpec};
use kalshi_client::{
    Client, Credentials, Error, Execute, Paginate, RateLimits, RetryPolicy, RsaBackend,
};
use kalshi_tests::h2c::{H2Server, Refusal};
use kalshi_tests::keys::TestKey;
use kalshi_tests::recorder::{Recorded, Recorder, Reply};

const BALANCE: &str = r#"{"balance":0,"balance_dollars":"12.3400","portfolio_value":0,"portfolio_value_dollars":"0.0000","updated_ts":1}"#;
const STATUS: &str = r#"{"exchange_active":true,"trading_active":true}"#;

/// Fast retries so the suite does not sleep through backoff.
fn quick_retries() -> RetryPolicy {
    RetryPolicy::default().with_backoff(Duration::from_millis(1), Duration::from_millis(5))
}

fn client_for(server: &Recorder, key: Option<&TestKey>) -> Client {
    let mut builder = Client::builder()
        .base_url(server.base_url())
        .retry_policy(quick_retries());
    if let Some(key) = key {
        builder = builder
            .credentials(Credentials::from_pem("key-123", &key.pem).expect("test key parses"));
    }
    builder.build().expect("client builds")
}

fn order_body() -> types::CreateOrderV2Request {
    serde_json::from_value(serde_json::json!({
        "ticker": "KXTEST-1", "client_order_id": "c0ffee00-0000-4000-8000-000000000001",
        "side": "bid", "count": "10.00", "price": "0.5600",
        "time_in_force": "good_till_canceled", "self_trade_prevention_type": "taker_at_cross"
    }))
    .expect("order request")
}

/// The message Kalshi verifies: timestamp + METHOD + path without query.
fn signed_message(request: &Recorded) -> String {
    let timestamp = request
        .header("kalshi-access-timestamp")
        .expect("timestamp header");
    format!("{timestamp}{}{}", request.method, request.path())
}

fn assert_signed_by(request: &Recorded, key: &TestKey) {
    assert_eq!(request.header("kalshi-access-key"), Some("key-123"));
    let signature = request
        .header("kalshi-access-signature")
        .expect("signature header");
    assert!(
        key.verifies(&signed_message(request), signature),
        "signature does not verify: {request:?}"
    );
}

mod signing {
    use super::*;

    #[tokio::test]
    async fn rsa_and_ed25519_requests_verify_with_the_public_key() {
        for key in [TestKey::rsa(), TestKey::ed25519()] {
            let server = Recorder::start(Reply::json(BALANCE)).await;
            let client = client_for(&server, Some(key));
            let balance = client.raw().get_balance().send().await.expect("balance");
            assert_eq!(balance.balance_dollars.to_string(), "12.3400");
            assert_signed_by(&server.requests()[0], key);
        }
    }

    #[tokio::test]
    async fn the_signed_path_has_the_base_path_and_no_query() {
        let server = Recorder::start(Reply::json(r#"{"orders":[],"cursor":""}"#)).await;
        let key = TestKey::rsa();
        let client = client_for(&server, Some(key));
        client
            .raw()
            .get_orders()
            .limit(5)
            .ticker("KX A")
            .send()
            .await
            .expect("orders");
        let request = &server.requests()[0];
        assert!(
            request
                .target
                .starts_with("/trade-api/v2/portfolio/orders?"),
            "{}",
            request.target
        );
        assert_signed_by(request, key);
        // Negative control: the same signature does not cover the query string.
        let with_query = format!(
            "{}{}{}",
            request.header("kalshi-access-timestamp").unwrap(),
            request.method,
            request.target
        );
        assert!(!key.verifies(
            &with_query,
            request.header("kalshi-access-signature").unwrap()
        ));
    }

    #[tokio::test]
    async fn the_pure_rust_backend_signs_verifiable_requests_too() {
        let server = Recorder::start(Reply::json(BALANCE)).await;
        let key = TestKey::rsa();
        let credentials = Credentials::from_pem("key-123", &key.pem)
            .unwrap()
            .with_rsa_backend(RsaBackend::RustCrypto);
        let client = Client::builder()
            .base_url(server.base_url())
            .credentials(credentials)
            .build()
            .unwrap();
        client.raw().get_balance().send().await.expect("balance");
        assert_signed_by(&server.requests()[0], key);
    }

    #[tokio::test]
    async fn every_retry_is_signed_afresh() {
        let server = Recorder::sequence(vec![
            Reply::status(503, "{}"),
            Reply::status(503, "{}"),
            Reply::json(BALANCE),
        ])
        .await;
        let key = TestKey::ed25519();
        let client = client_for(&server, Some(key));
        client
            .raw()
            .get_balance()
            .send()
            .await
            .expect("third attempt succeeds");
        let requests = server.requests();
        assert_eq!(requests.len(), 3);
        let mut timestamps: Vec<&str> = requests
            .iter()
            .map(|r| r.header("kalshi-access-timestamp").unwrap())
            .collect();
        for request in &requests {
            assert_signed_by(request, key);
        }
        timestamps.dedup();
        assert_eq!(timestamps.len(), 3, "a retry reused a timestamp");
    }

    #[tokio::test]
    async fn a_public_client_sends_no_signing_headers_and_refuses_signed_calls_before_sending() {
        let server = Recorder::start(Reply::json(STATUS)).await;
        let client = client_for(&server, None);
        client
            .raw()
            .get_exchange_status()
            .send()
            .await
            .expect("public call");
        let error = client.raw().get_balance().send().await.unwrap_err();
        assert!(
            matches!(
                error,
                Error::MissingCredentials {
                    operation: "get_balance"
                }
            ),
            "{error:?}"
        );
        assert!(error.to_string().contains("KALSHI_API_KEY_ID"), "{error}");
        let requests = server.requests();
        assert_eq!(requests.len(), 1, "the signed call reached the server");
        assert!(
            !requests[0]
                .headers
                .keys()
                .any(|h| h.starts_with("kalshi-access")),
            "{:?}",
            requests[0].headers
        );
    }

    #[tokio::test]
    async fn public_operations_are_not_signed_even_with_credentials() {
        let server = Recorder::start(Reply::json(STATUS)).await;
        let client = client_for(&server, Some(TestKey::ed25519()));
        client
            .raw()
            .get_exchange_status()
            .send()
            .await
            .expect("public call");
        assert!(
            server.requests()[0]
                .header("kalshi-access-signature")
                .is_none()
        );
    }

    #[test]
    fn signed_requests_never_go_to_plain_http_hosts_unless_allowed() {
        let credentials = Credentials::from_pem("key-123", &TestKey::ed25519().pem).unwrap();
        let refused = Client::builder()
            .base_url("http://exchange.example/trade-api/v2")
            .credentials(credentials.clone())
            .build()
            .unwrap_err();
        assert!(
            refused.to_string().contains("allow_insecure_host"),
            "{refused}"
        );
        for url in [
            "https://exchange.example/trade-api/v2",
            "http://127.0.0.1:9/trade-api/v2",
            "http://localhost:9/trade-api/v2",
        ] {
            Client::builder()
                .base_url(url)
                .credentials(credentials.clone())
                .build()
                .unwrap_or_else(|e| panic!("{url}: {e}"));
        }
        Client::builder()
            .base_url("http://exchange.example/trade-api/v2")
            .credentials(credentials)
            .allow_insecure_host("exchange.example")
            .build()
            .expect("explicitly allowed");
    }

    #[test]
    fn debug_output_holds_no_key_material() {
        let key = TestKey::rsa();
        let client = Client::builder()
            .credentials(Credentials::from_pem("key-123", &key.pem).unwrap())
            .build()
            .unwrap();
        let debug = format!("{client:?} {client:#?}");
        let body: String = key
            .pem
            .lines()
            .filter(|l| !l.starts_with("-----"))
            .collect();
        for window in body.as_bytes().chunks(16).take(40) {
            let window = std::str::from_utf8(window).unwrap();
            assert!(!debug.contains(window), "key material in Debug output");
        }
        assert!(debug.contains("key-123"));
    }
}

mod errors {
    use super::*;

    async fn error_for(reply: Reply) -> Error {
        let server = Recorder::start(reply).await;
        let client = client_for(&server, Some(TestKey::ed25519()));
        // Through `Execute`, the way typed methods send.
        client
            .raw()
            .get_balance()
            .send_with(RetryPolicy::none())
            .await
            .unwrap_err()
    }

    #[tokio::test]
    async fn every_error_body_shape_becomes_code_and_message() {
        let shapes = [
            (
                r#"{"error":{"code":"bad_thing","message":"nested shape","details":"d"}}"#,
                Some("bad_thing"),
                "nested shape",
            ),
            (
                r#"{"code":"bad_thing","message":"flat shape"}"#,
                Some("bad_thing"),
                "flat shape",
            ),
            (r#"{"msg":"msg shape"}"#, None, "msg shape"),
            (r#"{"error":"text shape"}"#, None, "text shape"),
        ];
        for (body, code, message) in shapes {
            let error = error_for(Reply::status(400, body).header("x-request-id", "rid-7")).await;
            let Error::BadRequest(api) = &error else {
                panic!("{error:?}")
            };
            assert_eq!(api.code.as_deref(), code, "{body}");
            assert_eq!(api.message.as_deref(), Some(message), "{body}");
            assert_eq!(api.request_id.as_deref(), Some("rid-7"));
            assert!(error.to_string().contains(message), "{error}");
        }
    }

    #[tokio::test]
    async fn statuses_become_distinct_errors() {
        type IsKind = fn(&Error) -> bool;
        let cases: [(u16, IsKind); 8] = [
            (401, |e| matches!(e, Error::Auth { .. })),
            (403, |e| matches!(e, Error::Auth { .. })),
            (404, |e| matches!(e, Error::NotFound(_))),
            (409, |e| matches!(e, Error::Conflict(_))),
            (410, |e| matches!(e, Error::Gone(_))),
            (422, |e| matches!(e, Error::BadRequest(_))),
            (429, |e| matches!(e, Error::RateLimited(_))),
            (502, |e| matches!(e, Error::Server(_))),
        ];
        for (status, expected) in cases {
            let error = error_for(Reply::status(status, r#"{"code":"x","message":"y"}"#)).await;
            assert!(expected(&error), "{status}: {error:?}");
            assert_eq!(error.status().map(|s| s.as_u16()), Some(status));
        }
    }

    #[tokio::test]
    async fn an_expired_timestamp_reports_the_clock_offset() {
        let ahead = std::time::SystemTime::now() + Duration::from_secs(75);
        let error = error_for(
            Reply::status(
                401,
                r#"{"error":{"code":"header_timestamp_expired","message":"timestamp expired"}}"#,
            )
            .header("date", &httpdate::fmt_http_date(ahead)),
        )
        .await;
        let Error::Auth {
            clock_offset: Some(offset),
            ..
        } = &error
        else {
            panic!("{error:?}")
        };
        assert!((73_000..=76_000).contains(&offset.millis), "{offset:?}");
        assert!(error.to_string().contains("behind the exchange"), "{error}");
    }

    #[tokio::test]
    async fn a_malformed_success_body_is_a_decode_error_with_an_excerpt() {
        let error = error_for(Reply::json(r#"{"balance": "not a number", "#)).await;
        let Error::Decode { excerpt, .. } = &error else {
            panic!("{error:?}")
        };
        assert!(excerpt.contains("not a number"), "{excerpt}");
    }

    #[tokio::test]
    async fn a_204_where_the_spec_promises_a_body_is_a_protocol_violation() {
        let server = Recorder::start(Reply::status(204, "")).await;
        let client = client_for(&server, Some(TestKey::ed25519()));
        let error = client
            .raw()
            .cancel_order_v2()
            .order_id("ord-1")
            .send()
            .await
            .unwrap_err();
        assert!(
            matches!(
                error,
                Error::ProtocolViolation {
                    operation: "cancel_order_v2",
                    ..
                }
            ),
            "{error:?}"
        );
        assert!(error.to_string().contains("204"), "{error}");
    }
}

mod retries {
    use super::*;

    /// Places the test order through `client`.
    async fn place(client: &Client) -> Result<types::CreateOrderV2Response, Error> {
        client
            .raw()
            .create_order_v2()
            .body(order_body())
            .send()
            .await
    }

    /// Asserts that `error` is a transport error saying whether the write
    /// may have executed.
    #[track_caller]
    fn assert_transport(error: &Error, may_have_executed: bool) {
        assert!(
            matches!(error, Error::Transport { may_have_executed: m, .. } if *m == may_have_executed),
            "{error:?}"
        );
        assert_eq!(error.may_have_executed(), may_have_executed, "{error:?}");
    }

    #[tokio::test]
    async fn reads_are_retried_on_transient_statuses_until_they_succeed() {
        let server = Recorder::sequence(vec![
            Reply::status(500, "{}"),
            Reply::status(429, r#"{"error":"too many requests"}"#),
            Reply::status(502, "{}"),
            Reply::json(BALANCE),
        ])
        .await;
        let client = client_for(&server, Some(TestKey::ed25519()));
        client
            .raw()
            .get_balance()
            .send()
            .await
            .expect("fourth attempt succeeds");
        assert_eq!(server.requests().len(), 4);
    }

    #[tokio::test]
    async fn reads_give_up_after_the_attempt_limit_with_the_last_error() {
        let server = Recorder::start(Reply::status(
            503,
            r#"{"code":"unavailable","message":"down"}"#,
        ))
        .await;
        let client = client_for(&server, Some(TestKey::ed25519()));
        let policy = quick_retries().with_max_attempts(3);
        let error = client
            .raw()
            .get_balance()
            .send_with(policy)
            .await
            .unwrap_err();
        assert!(matches!(error, Error::Server(_)), "{error:?}");
        assert_eq!(server.requests().len(), 3);
    }

    #[tokio::test]
    async fn retry_after_is_honoured() {
        let server = Recorder::sequence(vec![
            Reply::status(503, "{}").header("retry-after", "1"),
            Reply::json(BALANCE),
        ])
        .await;
        let client = client_for(&server, Some(TestKey::ed25519()));
        let started = std::time::Instant::now();
        client
            .raw()
            .get_balance()
            .send()
            .await
            .expect("second attempt");
        // Not a timing assertion on speed: the client must not have resent
        // before the server's stated time (our own backoff is at most 5 ms).
        assert!(
            started.elapsed() >= Duration::from_millis(950),
            "resent before Retry-After"
        );
    }

    #[tokio::test]
    async fn a_write_answered_with_500_is_never_resent() {
        let server = Recorder::start(Reply::status(
            500,
            r#"{"code":"internal","message":"boom"}"#,
        ))
        .await;
        let client = client_for(&server, Some(TestKey::ed25519()));
        let error = place(&client).await.unwrap_err();
        assert!(matches!(error, Error::Server(_)), "{error:?}");
        assert!(error.may_have_executed());
        assert_eq!(server.requests().len(), 1, "a write was sent twice");
    }

    #[tokio::test]
    async fn a_write_answered_with_429_is_retried_because_it_was_not_executed() {
        let server = Recorder::sequence(vec![
            Reply::status(429, r#"{"error":"too many requests"}"#),
            Reply::json(r#"{"order_id":"ord-1","client_order_id":"c","fill_count":"0.00","remaining_count":"10.00"}"#),
        ])
        .await;
        let key = TestKey::ed25519();
        let client = client_for(&server, Some(key));
        let _ = place(&client).await;
        let requests = server.requests();
        assert_eq!(requests.len(), 2);
        assert_eq!(
            requests[0].body, requests[1].body,
            "the retry changed the order"
        );
        assert_signed_by(&requests[1], key);
    }

    #[tokio::test]
    async fn a_write_whose_connection_dropped_is_not_resent_and_may_have_executed() {
        let server = Recorder::start(Reply::drop_connection()).await;
        let client = client_for(&server, Some(TestKey::ed25519()));
        let error = place(&client).await.unwrap_err();
        assert_transport(&error, true);
        assert_eq!(server.requests().len(), 1);
    }

    #[tokio::test]
    async fn a_write_that_timed_out_says_it_may_have_executed() {
        let server = Recorder::start(Reply::json("{}").delayed(Duration::from_secs(2))).await;
        let client = Client::builder()
            .base_url(server.base_url())
            .credentials(Credentials::from_pem("key-123", &TestKey::ed25519().pem).unwrap())
            .request_timeout(Duration::from_millis(200))
            .retry_policy(quick_retries())
            .build()
            .unwrap();
        let error = place(&client).await.unwrap_err();
        assert!(
            matches!(
                error,
                Error::Timeout {
                    may_have_executed: true,
                    ..
                }
            ),
            "{error:?}"
        );
        assert!(error.to_string().contains("may have executed"), "{error}");
        assert_eq!(server.requests().len(), 1);
    }

    #[tokio::test]
    async fn a_write_that_could_not_connect_is_retried_because_nothing_was_sent() {
        // Nobody listens on the port at first: the first attempts fail to
        // connect. A server appears shortly after; a later attempt reaches it.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let client = Client::builder()
            .base_url(format!("http://127.0.0.1:{port}/trade-api/v2"))
            .credentials(Credentials::from_pem("key-123", &TestKey::ed25519().pem).unwrap())
            .retry_policy(
                RetryPolicy::default()
                    .with_max_attempts(50)
                    .with_backoff(Duration::from_millis(40), Duration::from_millis(40))
                    .with_budget(Duration::from_secs(10)),
            )
            .build()
            .unwrap();
        let late_server = tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(150)).await;
            Recorder::on_port(port, Reply::json(r#"{"order_id":"ord-1"}"#)).await
        });
        let result = place(&client).await;
        let server = late_server.await.unwrap();
        assert_eq!(
            server.requests().len(),
            1,
            "the order reached the exchange more than once"
        );
        let error = result.err();
        assert!(!matches!(error, Some(Error::Transport { .. })), "{error:?}");
    }

    #[tokio::test]
    async fn a_write_that_never_connects_says_nothing_was_sent() {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let client = Client::builder()
            .base_url(format!("http://127.0.0.1:{port}/trade-api/v2"))
            .credentials(Credentials::from_pem("key-123", &TestKey::ed25519().pem).unwrap())
            .retry_policy(quick_retries().with_max_attempts(2))
            .build()
            .unwrap();
        let error = place(&client).await.unwrap_err();
        assert_transport(&error, false);
        assert!(error.to_string().contains("nothing was sent"), "{error}");
        assert!(!error.may_have_executed());
    }

    /// A client speaking HTTP/2 to `server` with reqwest's own retry off, as
    /// the client this crate builds has it.
    fn h2_client(server: &H2Server, retry: RetryPolicy) -> Client {
        let http = reqwest::Client::builder()
            .http2_prior_knowledge()
            .retry(reqwest::retry::never().max_retries_per_request(0))
            .build()
            .unwrap();
        Client::builder()
            .base_url(server.base_url())
            .credentials(Credentials::from_pem("key-123", &TestKey::ed25519().pem).unwrap())
            .http_client(http)
            .retry_policy(retry)
            .build()
            .unwrap()
    }

    const CREATED: &str = r#"{"order_id":"ord-1","client_order_id":"c","fill_count":"0.00","remaining_count":"10.00","ts_ms":1}"#;

    #[tokio::test]
    async fn a_write_whose_http2_stream_was_refused_is_retried_because_it_was_not_processed() {
        let server = H2Server::start(Refusal::RefusedStream, 1, 201, CREATED).await;
        let client = h2_client(&server, quick_retries());
        let order = place(&client).await.unwrap();
        assert_eq!(order.order_id, "ord-1");
        assert_eq!(server.requests(), 2);
    }

    #[tokio::test]
    async fn a_write_whose_http2_stream_was_always_refused_says_it_was_not_executed() {
        let server = H2Server::start(Refusal::RefusedStream, usize::MAX, 201, CREATED).await;
        let client = h2_client(&server, quick_retries().with_max_attempts(3));
        let error = place(&client).await.unwrap_err();
        assert_transport(&error, false);
        assert!(
            error.to_string().contains("the server did not process it"),
            "{error}"
        );
        assert_eq!(server.requests(), 3);
    }

    #[tokio::test]
    async fn a_write_refused_after_its_answer_began_is_not_resent_and_may_have_executed() {
        let server = H2Server::start(Refusal::RefusedAfterHeaders, 1, 201, CREATED).await;
        let client = h2_client(&server, quick_retries());
        let error = place(&client).await.unwrap_err();
        assert!(error.may_have_executed(), "{error:?}");
        assert_eq!(server.requests(), 1, "a write was sent twice");
    }

    /// hyper can hand a `GOAWAY` below a request to one whose headers it has
    /// already queued, so a write failed by one may have gone out.
    #[tokio::test]
    async fn a_write_failed_by_an_http2_goaway_is_not_resent_and_may_have_executed() {
        let server = H2Server::start(Refusal::GoAway, 1, 201, CREATED).await;
        let client = h2_client(&server, quick_retries());
        let error = place(&client).await.unwrap_err();
        assert_transport(&error, true);
        assert_eq!(server.requests(), 1, "a write was sent twice");
    }

    #[tokio::test]
    async fn a_read_failed_by_an_http2_goaway_is_retried_on_a_new_connection() {
        let server = H2Server::start(Refusal::GoAway, 1, 200, BALANCE).await;
        let client = h2_client(&server, quick_retries());
        let balance = client.raw().get_balance().send().await.unwrap();
        assert_eq!(balance.balance_dollars.to_string(), "12.3400");
        assert_eq!(server.requests(), 2);
    }

    #[tokio::test]
    async fn retries_can_be_switched_off_per_call() {
        let server = Recorder::start(Reply::status(503, "{}")).await;
        let client = client_for(&server, None);
        let error = client
            .raw()
            .get_exchange_status()
            .send_with(RetryPolicy::none())
            .await
            .unwrap_err();
        assert!(matches!(error, Error::Server(_)), "{error:?}");
        assert_eq!(server.requests().len(), 1);
    }
}

mod rate_limits {
    use super::*;

    #[tokio::test]
    async fn requests_spend_one_budget_shared_by_clones() {
        let server = Recorder::start(Reply::json(r#"{"orders":[],"cursor":""}"#)).await;
        let spec = BucketSpec {
            refill_per_sec: 1,
            capacity: 100,
        };
        let client = Client::builder()
            .base_url(server.base_url())
            .credentials(Credentials::from_pem("key-123", &TestKey::ed25519().pem).unwrap())
            // The whole burst spendable, so the figures are the bucket's.
            .rate_limits(RateLimits::new(spec, spec).with_reserve(0))
            .build()
            .unwrap();
        let clone = client.clone();
        client.raw().get_orders().send().await.unwrap();
        clone.raw().get_orders().send().await.unwrap();
        let left = client.rate_limiter().unwrap().available(Bucket::Read);
        assert!(
            (79.0..82.0).contains(&left),
            "{left} tokens left after two 10-token reads"
        );
        assert!(client.rate_limiter().unwrap().available(Bucket::Write) > 99.0);
    }

    #[tokio::test]
    async fn batch_requests_are_charged_per_order() {
        let server = Recorder::start(Reply::json(r#"{"orders":[]}"#)).await;
        let spec = BucketSpec {
            refill_per_sec: 1,
            capacity: 1000,
        };
        let client = Client::builder()
            .base_url(server.base_url())
            .credentials(Credentials::from_pem("key-123", &TestKey::ed25519().pem).unwrap())
            .rate_limits(RateLimits::new(spec, spec).with_reserve(0))
            .build()
            .unwrap();
        let orders: Vec<_> = (0..20).map(|_| order_body()).collect();
        let body = types::BatchCreateOrdersV2Request::builder().orders(orders);
        let _ = client
            .raw()
            .batch_create_orders_v2()
            .body(body)
            .send()
            .await;
        let left = client.rate_limiter().unwrap().available(Bucket::Write);
        assert!(
            (800.0..802.0).contains(&left),
            "{left} tokens left after a 20-order batch"
        );
    }
}

mod pagination {
    use super::*;
    use futures_util::TryStreamExt;

    /// Serves `pages` pages of orders, each knowing its cursor, and checks
    /// that the filter came back with every page.
    async fn order_pages(pages: usize, cycle: bool) -> Recorder {
        Recorder::with_handler(move |request| {
            let page: usize = request
                .query("cursor")
                .and_then(|c| c.strip_prefix("p"))
                .map_or(0, |n| n.parse().unwrap());
            let next = if page + 1 < pages {
                format!("p{}", page + 1)
            } else if cycle {
                "p0".to_owned()
            } else {
                String::new()
            };
            let orders: Vec<serde_json::Value> = (0..3)
                .map(|i| order_json(&format!("ord-{page}-{i}")))
                .collect();
            Reply::json(serde_json::json!({"orders": orders, "cursor": next}).to_string())
        })
        .await
    }

    fn order_json(id: &str) -> serde_json::Value {
        serde_json::json!({
            "order_id": id, "user_id": "u", "client_order_id": "c", "ticker": "KXTEST-1",
            "side": "yes", "action": "buy", "type": "limit", "status": "resting", "book_side": "bid", "outcome_side": "yes",
            "yes_price_dollars": "0.5600", "no_price_dollars": "0.4400", "fill_count_fp": "0.00",
            "remaining_count_fp": "10.00", "initial_count_fp": "10.00", "taker_fees_dollars": "0.0000",
            "maker_fees_dollars": "0.0000", "taker_fill_cost_dollars": "0.0000", "maker_fill_cost_dollars": "0.0000"
        })
    }

    #[tokio::test]
    async fn a_stream_walks_every_page_and_resends_the_filters() {
        let server = order_pages(4, false).await;
        let client = client_for(&server, Some(TestKey::ed25519()));
        let orders: Vec<types::Order> = client
            .raw()
            .get_orders()
            .status("resting")
            .ticker("KXTEST-1")
            .stream(None)
            .try_collect()
            .await
            .expect("all pages");
        assert_eq!(orders.len(), 12);
        assert_eq!(orders[11].order_id, "ord-3-2");
        let requests = server.requests();
        assert_eq!(requests.len(), 4);
        for request in &requests {
            assert_eq!(
                request.query("status"),
                Some("resting"),
                "{}",
                request.target
            );
            assert_eq!(
                request.query("ticker"),
                Some("KXTEST-1"),
                "{}",
                request.target
            );
        }
        assert_eq!(requests[0].query("cursor"), None);
        assert_eq!(requests[3].query("cursor"), Some("p3"));
    }

    #[tokio::test]
    async fn a_page_limit_stops_early() {
        let server = order_pages(10, false).await;
        let client = client_for(&server, Some(TestKey::ed25519()));
        let orders: Vec<types::Order> = client
            .raw()
            .get_orders()
            .stream(Some(2))
            .try_collect()
            .await
            .unwrap();
        assert_eq!(orders.len(), 6);
        assert_eq!(server.requests().len(), 2);
    }

    #[tokio::test]
    async fn a_repeated_cursor_ends_the_stream_with_an_error() {
        let server = order_pages(2, true).await;
        let client = client_for(&server, Some(TestKey::ed25519()));
        let result: Result<Vec<types::Order>, Error> =
            client.raw().get_orders().stream(None).try_collect().await;
        let error = result.unwrap_err();
        assert!(
            matches!(
                error,
                Error::ProtocolViolation {
                    operation: "get_orders",
                    ..
                }
            ),
            "{error:?}"
        );
        assert!(server.requests().len() <= 3, "looped on a cycling cursor");
    }

    #[tokio::test]
    async fn one_page_has_items_and_the_next_cursor() {
        let server = order_pages(3, false).await;
        let client = client_for(&server, Some(TestKey::ed25519()));
        let page = client.raw().get_orders().limit(3).page().await.unwrap();
        assert_eq!((page.items.len(), page.cursor.as_deref()), (3, Some("p1")));
        let market_page = Recorder::start(Reply::json(r#"{"markets":[],"cursor":""}"#)).await;
        let public = client_for(&market_page, None);
        let empty = public.raw().get_markets().page().await.unwrap();
        assert_eq!((empty.items.len(), empty.cursor), (0, None));
    }

    /// Derived from the spec: a cursor-paginated operation without a page
    /// stream fails here.
    #[test]
    fn every_cursor_paginated_operation_has_a_stream() {
        let missing: Vec<&str> = kalshi_client::generated::OPERATIONS
            .iter()
            .filter(|op| op.paginated)
            .map(|op| op.name)
            .filter(|name| !kalshi_client::pagination::PAGINATED_OPERATIONS.contains(name))
            .collect();
        assert!(missing.is_empty(), "no page stream for {missing:?}");
        assert!(kalshi_client::pagination::PAGINATED_OPERATIONS.len() >= 28);
    }
}

mod configuration {
    use super::*;

    #[test]
    fn the_client_is_cheap_to_share_between_tasks() {
        fn assert_shareable<T: Clone + Send + Sync + 'static>() {}
        assert_shareable::<Client>();
        assert_eq!(
            std::mem::size_of::<Client>(),
            std::mem::size_of::<usize>(),
            "a clone is one Arc"
        );
    }

    #[test]
    fn environment_variables_configure_the_client() {
        let pem = TestKey::ed25519().pem.clone();
        let vars = move |name: &str| match name {
            "KALSHI_ENV" => Some("demo".to_owned()),
            "KALSHI_API_KEY_ID" => Some("key-123".to_owned()),
            "KALSHI_PRIVATE_KEY" => Some(pem.clone()),
            _ => None,
        };
        let client = Client::builder()
            .from_env_with(vars)
            .unwrap()
            .build()
            .unwrap();
        assert_eq!(client.environment(), &kalshi_client::Environment::Demo);
        assert_eq!(
            client.credentials().map(Credentials::key_id),
            Some("key-123")
        );

        let local = |name: &str| {
            (name == "KALSHI_BASE_URL").then(|| "http://127.0.0.1:8080/trade-api/v2".to_owned())
        };
        let client = Client::builder()
            .from_env_with(local)
            .unwrap()
            .build()
            .unwrap();
        assert!(client.credentials().is_none());
        assert_eq!(
            client.environment().base_url(),
            "http://127.0.0.1:8080/trade-api/v2"
        );

        let bad = |name: &str| (name == "KALSHI_ENV").then(|| "staging".to_owned());
        let error = Client::builder().from_env_with(bad).unwrap_err();
        assert!(matches!(error, Error::Config { .. }), "{error:?}");
        assert!(error.to_string().contains("staging"), "{error}");
    }

    /// Empty values mean "unset" for every variable, as they do for the
    /// credentials: a deployment that defines them all and leaves some empty
    /// gets the defaults.
    #[test]
    fn empty_variables_are_unset_everywhere() {
        let empty = |name: &str| {
            matches!(
                name,
                "KALSHI_ENV" | "KALSHI_BASE_URL" | "KALSHI_API_KEY_ID" | "KALSHI_PRIVATE_KEY"
            )
            .then(|| "  ".to_owned())
        };
        let client = Client::builder()
            .from_env_with(empty)
            .unwrap()
            .build()
            .unwrap();
        assert_eq!(
            client.environment(),
            &kalshi_client::Environment::Production
        );
        assert!(client.credentials().is_none());
    }

    /// Configuration errors say so; they are not "request not sent".
    #[test]
    fn a_base_url_without_the_api_path_is_a_configuration_error_with_the_fix() {
        let error = Client::builder()
            .base_url("http://127.0.0.1:8080")
            .build()
            .unwrap_err();
        assert!(matches!(error, Error::Config { .. }), "{error:?}");
        let message = error.to_string();
        assert!(
            message.starts_with("invalid client configuration: "),
            "{message}"
        );
        assert!(
            message.contains("use http://127.0.0.1:8080/trade-api/v2"),
            "{message}"
        );
        for fine in [
            "http://127.0.0.1:8080/trade-api/v2",
            "http://127.0.0.1:8080/trade-api/v2/",
        ] {
            Client::builder().base_url(fine).build().expect(fine);
        }
        let error = Client::builder().base_url("not a url").build().unwrap_err();
        assert!(matches!(error, Error::Config { .. }), "{error:?}");
        assert_eq!(kalshi_client::BASE_PATH, kalshi_openapi::BASE_PATH);
    }

    #[test]
    fn a_default_subaccount_out_of_range_cannot_be_made() {
        let error = kalshi_client::order::Subaccount::new(64).unwrap_err();
        assert!(matches!(error, Error::InvalidRequest { .. }), "{error:?}");
        let subaccount = kalshi_client::order::Subaccount::new(63).unwrap();
        let client = Client::builder()
            .default_subaccount(subaccount)
            .build()
            .unwrap();
        assert_eq!(client.default_subaccount(), Some(63));
    }

    #[tokio::test]
    async fn rate_limits_load_from_the_account_endpoints() {
        let server = Recorder::with_handler(|request| match request.path() {
            "/trade-api/v2/account/limits" => Reply::json(
                r#"{"usage_tier":"advanced","read":{"refill_rate":300,"bucket_capacity":300},
                    "write":{"refill_rate":300,"bucket_capacity":600},"grants":[]}"#,
            ),
            "/trade-api/v2/account/endpoint_costs" => Reply::json(
                r#"{"default_cost":10,"endpoint_costs":[
                    {"method":"DELETE","path":"/trade-api/v2/portfolio/events/orders/{order_id}","cost":2}]}"#,
            ),
            _ => Reply::status(404, "{}"),
        })
        .await;
        let spec = BucketSpec {
            refill_per_sec: 10,
            capacity: 10,
        };
        let client = Client::builder()
            .base_url(server.base_url())
            .credentials(Credentials::from_pem("key-123", &TestKey::ed25519().pem).unwrap())
            .rate_limits(RateLimits::new(spec, spec))
            .build()
            .unwrap();
        let limits = client.load_rate_limits().await.expect("limits load");
        assert_eq!(limits.cost("cancel_order_v2"), 2);
        assert_eq!(limits.cost("create_order_v2"), 10);
        assert_eq!(client.rate_limiter().unwrap().limits(), limits);
        assert_eq!(
            limits.spec(Bucket::Write),
            BucketSpec {
                refill_per_sec: 300,
                capacity: 600
            }
        );
    }
}
