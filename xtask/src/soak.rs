//! `cargo xtask soak`: the fault soak (`tests/it/soak.rs`) for as long as
//! asked, and the one-minute run `cargo xtask ci` includes.
//!
//! The soak measures its own process (memory, descriptors, tasks), so it is
//! an ignored test run alone, never beside the rest of the suite. It
//! starts the `kalshi-sim` binary of the same build profile, which is built
//! first.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::ci::run_step;

/// How long and how wide a soak runs, and whether in release mode.
#[derive(Debug, Clone)]
pub struct Soak {
    /// Wall time of the trading.
    pub seconds: u64,
    /// Concurrent bots (accounts), alternating RSA and Ed25519 keys.
    pub bots: u64,
    /// Optimised build: what `cargo xtask soak` uses for long runs; CI's
    /// short run reuses the debug build its tests already made.
    pub release: bool,
    /// Where the Markdown report goes (also printed).
    pub report: Option<PathBuf>,
}

/// Builds the simulator binary, then runs the soak test alone.
pub fn run(root: &Path, soak: &Soak) -> Result<(), String> {
    let profile: &[&str] = if soak.release { &["--release"] } else { &[] };
    // `--workspace` for both: the features the whole workspace unifies, so
    // after `cargo test --workspace --all-targets` (CI) nothing rebuilds.
    let mut build = cargo(root);
    build.args(["build", "--workspace", "--bins"]).args(profile);
    run_step("soak (simulator)", build)?;
    let mut test = cargo(root);
    test.args(["test", "--workspace", "--test", "it"])
        .args(profile)
        .args(["--", "--ignored", "--exact", "soak::soak", "--nocapture"])
        .env("KALSHI_SOAK_SECONDS", soak.seconds.to_string())
        .env("KALSHI_SOAK_BOTS", soak.bots.to_string());
    if let Some(report) = &soak.report {
        test.env("KALSHI_SOAK_REPORT", report);
    }
    run_step("soak", test)
}

fn cargo(root: &Path) -> Command {
    let mut command = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned()));
    command.current_dir(root);
    command
}
