//! Shared by the examples: where they run, chosen so that nothing trades
//! real money by accident.
//!
//! * No Kalshi credentials in the environment: the local exchange simulator,
//!   started in-process.
//! * Credentials and `KALSHI_ENV=demo`: Kalshi's demo exchange (play money).
//! * Credentials and `KALSHI_ENV=prod`: production, only when the command
//!   line says `--production` or a person types `yes` at the prompt.
//! * Credentials without `KALSHI_ENV`: refused, with what to set.

use std::io::{BufRead, IsTerminal, Write};

use kalshi_client::{Client, Credentials, Environment, Report};
use kalshi_sim::{Account, ApiKey, SimConfig, Simulator};

/// A connected client, and the simulator it talks to (dropping it stops the
/// simulator) when there are no credentials.
pub struct Venue {
    pub client: Client,
    // Read by the examples that seed the simulator; the others only keep it alive.
    #[allow(dead_code)]
    pub simulator: Option<Simulator>,
}

impl Venue {
    /// Whether orders placed here are real (production).
    pub fn is_production(&self) -> bool {
        *self.client.environment() == Environment::Production
            || *self.client.environment() == Environment::ProductionShared
    }
}

pub async fn connect() -> Result<Venue, Report> {
    if Credentials::from_env()?.is_none() {
        return simulator().await;
    }
    let named = std::env::var("KALSHI_ENV").unwrap_or_default();
    let environment = Environment::from_name(&named).ok_or_else(|| {
        Report::msg(
            "Kalshi credentials are set but KALSHI_ENV is not: set KALSHI_ENV=demo to run on \
             Kalshi's demo exchange, or KALSHI_ENV=prod (and pass --production) to trade real \
             money; unset the credentials to run on the local simulator",
        )
    })?;
    let client = Client::from_env()?;
    let venue = Venue {
        client,
        simulator: None,
    };
    if venue.is_production() {
        confirm_production()?;
    }
    println!(
        "connected to {environment} ({})\n",
        venue.client.environment()
    );
    Ok(venue)
}

async fn simulator() -> Result<Venue, Report> {
    let key = ApiKey::ed25519("example-key");
    let account = Account::new("example", &key);
    let simulator = Simulator::start(SimConfig::new().account(account)).await?;
    println!(
        "no Kalshi credentials set: using the local simulator at {}\n",
        simulator.base_url()
    );
    let client = Client::builder()
        .base_url(simulator.base_url())
        .credentials(Credentials::from_pem(key.key_id(), key.private_key_pem())?)
        .build()?;
    Ok(Venue {
        client,
        simulator: Some(simulator),
    })
}

/// Production needs `--production` on the command line, or `yes` typed at
/// a terminal; without a terminal and without the flag, it is refused.
fn confirm_production() -> Result<(), Report> {
    if std::env::args().any(|arg| arg == "--production") {
        return Ok(());
    }
    let refused = Report::msg(
        "KALSHI_ENV=prod trades real money: pass --production to confirm (after `--` with cargo run)",
    );
    if !std::io::stdin().is_terminal() {
        return Err(refused);
    }
    print!("This example places a real 1-contract order on Kalshi production. Type yes to go on: ");
    std::io::stdout().flush()?;
    let mut answer = String::new();
    std::io::stdin().lock().read_line(&mut answer)?;
    if answer.trim() == "yes" {
        Ok(())
    } else {
        Err(refused)
    }
}
