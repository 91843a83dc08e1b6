//! Shared by the examples: Kalshi when credentials are set, else the local
//! exchange simulator started in-process.

use kalshi_client::{Client, Credentials};
use kalshi_tests::keys::TestKey;
use kalshi_tests::sim::{Account, SimConfig, Simulator};

pub type Result<T> = std::result::Result<T, Box<dyn std::error::Error>>;

/// The client, and the simulator it talks to (kept alive by the caller) when
/// `KALSHI_API_KEY_ID` is not set.
pub async fn connect() -> Result<(Client, Option<Simulator>)> {
    if std::env::var_os("KALSHI_API_KEY_ID").is_some() {
        return Ok((Client::from_env()?, None));
    }
    let key = TestKey::ed25519();
    let account = Account::new("example", "example-key", key.public_key());
    let simulator = Simulator::start(SimConfig::new().account(account)).await?;
    println!(
        "no Kalshi credentials set: using the local simulator at {}\n",
        simulator.base_url()
    );
    let client = Client::builder()
        .base_url(simulator.base_url())
        .credentials(Credentials::from_pem("example-key", &key.pem)?)
        .build()?;
    Ok((client, Some(simulator)))
}
