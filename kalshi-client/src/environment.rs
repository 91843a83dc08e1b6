//! Which exchange a client talks to.

use std::fmt;

/// The path every operation lives under, the path part of the spec's
/// `servers[].url` (a test checks the two agree).
pub const BASE_PATH: &str = "/trade-api/v2";

/// A Kalshi deployment, or any other base URL (the local simulator, a proxy).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Environment {
    /// Production, canonical host (since 2026-05-07).
    Production,
    /// Production through the older shared host, still supported.
    ProductionShared,
    /// The demo exchange (separate keys, play money).
    Demo,
    /// The demo exchange through the older shared host.
    DemoShared,
    /// Any base URL including the `/trade-api/v2` path, e.g. the simulator's.
    Custom(String),
}

impl Environment {
    /// The base URL every operation path is appended to.
    pub fn base_url(&self) -> &str {
        match self {
            Self::Production => "https://external-api.kalshi.com/trade-api/v2",
            Self::ProductionShared => "https://api.elections.kalshi.com/trade-api/v2",
            Self::Demo => "https://external-api.demo.kalshi.co/trade-api/v2",
            Self::DemoShared => "https://demo-api.kalshi.co/trade-api/v2",
            Self::Custom(url) => url,
        }
    }

    /// Parses `KALSHI_ENV` values: `prod`/`production`, `demo`, and the
    /// `-shared` variants, case-insensitively.
    pub fn from_name(name: &str) -> Option<Self> {
        match name.trim().to_ascii_lowercase().as_str() {
            "prod" | "production" => Some(Self::Production),
            "prod-shared" | "production-shared" => Some(Self::ProductionShared),
            "demo" => Some(Self::Demo),
            "demo-shared" => Some(Self::DemoShared),
            _ => None,
        }
    }
}

impl fmt::Display for Environment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.base_url())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_hosts_and_names() {
        assert_eq!(
            Environment::Production.base_url(),
            "https://external-api.kalshi.com/trade-api/v2"
        );
        assert_eq!(
            Environment::Demo.base_url(),
            "https://external-api.demo.kalshi.co/trade-api/v2"
        );
        assert_eq!(
            Environment::from_name("PROD"),
            Some(Environment::Production)
        );
        assert_eq!(Environment::from_name("demo"), Some(Environment::Demo));
        assert_eq!(
            Environment::from_name("demo-shared"),
            Some(Environment::DemoShared)
        );
        assert_eq!(Environment::from_name("staging"), None);
    }
}
