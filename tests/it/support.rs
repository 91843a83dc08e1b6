//! Helpers the test modules share.

use std::time::Duration;

use kalshi_client::{Client, Credentials, RetryPolicy};
use kalshi_tests::keys::TestKey;
use rust_decimal::Decimal;

/// A client of `key_id` at `base_url` whose retries wait milliseconds, so
/// that tests of faults stay fast.
pub fn client(base_url: &str, key_id: &str, key: &TestKey) -> Client {
    Client::builder()
        .base_url(base_url)
        .credentials(Credentials::from_pem(key_id, &key.pem).unwrap())
        .retry_policy(
            RetryPolicy::default()
                .with_backoff(Duration::from_millis(1), Duration::from_millis(10)),
        )
        .build()
        .unwrap()
}

pub fn dec(text: &str) -> Decimal {
    text.parse().unwrap()
}

/// The JSON of a response value: the generated types do not compare.
pub fn json<T: serde::Serialize>(value: &T) -> serde_json::Value {
    serde_json::to_value(value).unwrap()
}

/// The answer of the simulator's control API at `GET /_sim/{path}` (e.g.
/// `audit`, `ledger`).
pub async fn sim_control(sim: &kalshi_sim::Simulator, path: &str) -> serde_json::Value {
    reqwest::get(format!("{}/_sim/{path}", sim.origin()))
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}
