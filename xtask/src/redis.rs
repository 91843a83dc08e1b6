//! The Redis server the shared rate-budget tests start (`tests/src/redis.rs`).
//!
//! `cargo xtask ci` makes sure one is installed before the tests run:
//! `redis-server` on the `PATH` (or the binary `REDIS_SERVER` names), else
//! Debian's package, installed with apt. The tests need Redis 6.2 or later
//! (the budget's script reads the server clock with `TIME` and relies on
//! effects replication, the default since 5).

use std::process::Command;

use crate::ci::run_step;

/// The oldest Redis the tests are known to need.
const MINIMUM: (u32, u32) = (6, 2);

/// Finds a usable `redis-server`, installing Debian's when there is none.
pub fn ensure() -> Result<(), String> {
    println!("==> redis: a redis-server for the shared rate-budget tests");
    if let Some(version) = installed_version() {
        return check(&version);
    }
    let mut update = Command::new("apt-get");
    update.args(["update", "-qq"]);
    let mut install = Command::new("apt-get");
    install
        .args([
            "install",
            "-y",
            "-qq",
            "--no-install-recommends",
            "redis-server",
        ])
        .env("DEBIAN_FRONTEND", "noninteractive");
    run_step("redis (apt-get update)", update)
        .and_then(|()| run_step("redis (apt-get install)", install))
        .map_err(|e| {
            format!(
                "{e}; the shared rate-budget tests run a real redis-server: install one \
                 (Debian: apt-get install redis-server) or point REDIS_SERVER at it"
            )
        })?;
    let version = installed_version().ok_or("redis-server is still missing after apt-get")?;
    check(&version)
}

fn binary() -> String {
    std::env::var("REDIS_SERVER").unwrap_or_else(|_| "redis-server".to_owned())
}

/// `7.0.15` from `Redis server v=7.0.15 sha=...`.
fn installed_version() -> Option<String> {
    let output = Command::new(binary()).arg("--version").output().ok()?;
    let text = String::from_utf8_lossy(&output.stdout).into_owned();
    parse_version(&text)
}

fn parse_version(text: &str) -> Option<String> {
    let start = text.find("v=")? + 2;
    let version = text[start..].split_whitespace().next()?;
    Some(version.to_owned())
}

fn check(version: &str) -> Result<(), String> {
    let mut parts = version.split('.').map(|p| p.parse::<u32>().unwrap_or(0));
    let found = (parts.next().unwrap_or(0), parts.next().unwrap_or(0));
    if found < MINIMUM {
        return Err(format!(
            "redis-server {version} is too old: the tests need {}.{} or later",
            MINIMUM.0, MINIMUM.1
        ));
    }
    println!("    redis-server {version}");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_version_redis_prints() {
        let line = "Redis server v=7.0.15 sha=00000000:0 malloc=jemalloc-5.3.0 bits=64 build=1";
        assert_eq!(parse_version(line).as_deref(), Some("7.0.15"));
        assert_eq!(parse_version("nothing here"), None);
        assert!(check("7.0.15").is_ok());
        assert!(check("6.2.0").is_ok());
        assert!(check("6.0.9").unwrap_err().contains("too old"));
    }
}
