//! The local Kalshi exchange simulator, for testing bots without Kalshi.
//!
//! ```text
//! cargo run -p kalshi-tests --bin kalshi-sim -- --port 8080
//! ```
//!
//! Prints the base URL and an API key it accepts (a fresh Ed25519 key, or
//! RSA with `--rsa`), with the environment variables `Client::from_env`
//! reads, then serves until interrupted.

use std::process::ExitCode;

use kalshi_tests::keys::TestKey;
use kalshi_tests::sim::{Account, SimConfig, Simulator};

#[tokio::main]
async fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut port = 8080;
    let mut rsa = false;
    let mut iter = args.iter();
    while let Some(arg) = iter.next() {
        match arg.as_str() {
            "--port" => match iter.next().and_then(|p| p.parse().ok()) {
                Some(p) => port = p,
                None => return usage("--port needs a number"),
            },
            "--rsa" => rsa = true,
            "--help" | "-h" => return usage(""),
            other => return usage(&format!("unknown argument {other}")),
        }
    }
    let key = if rsa {
        TestKey::rsa()
    } else {
        TestKey::ed25519()
    };
    let key_path = std::env::temp_dir().join(format!("kalshi-sim-{port}.pem"));
    if let Err(e) = std::fs::write(&key_path, &key.pem) {
        eprintln!("cannot write the key file {}: {e}", key_path.display());
        return ExitCode::FAILURE;
    }
    let config =
        SimConfig::new()
            .port(port)
            .account(Account::new("sim-user", "sim-key", key.public_key()));
    let sim = match Simulator::start(config).await {
        Ok(sim) => sim,
        Err(e) => {
            eprintln!("cannot listen on 127.0.0.1:{port}: {e}");
            return ExitCode::FAILURE;
        }
    };
    println!("Kalshi simulator listening on {}", sim.base_url());
    println!(
        "Accepting API key `sim-key` ({}), private key written to {}",
        if rsa { "RSA-2048" } else { "Ed25519" },
        key_path.display()
    );
    println!();
    println!("export KALSHI_BASE_URL={}", sim.base_url());
    println!("export KALSHI_API_KEY_ID=sim-key");
    println!("export KALSHI_PRIVATE_KEY_PATH={}", key_path.display());
    let _ = tokio::signal::ctrl_c().await;
    ExitCode::SUCCESS
}

fn usage(problem: &str) -> ExitCode {
    if !problem.is_empty() {
        eprintln!("error: {problem}");
    }
    eprintln!("usage: kalshi-sim [--port PORT] [--rsa]");
    if problem.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
