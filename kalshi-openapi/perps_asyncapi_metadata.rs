// Metadata of the vendored `perps_asyncapi.yaml`, written by `cargo xtask fetch-spec`.
// `cargo xtask regen --check` fails when SHA256 no longer matches the file.

/// `info.version` of the vendored document.
pub const VERSION: &str = "2.0.0";
/// Lowercase hex sha256 of `perps_asyncapi.yaml`. Kalshi edits the published file
/// without always bumping `info.version`, so the hash is the real identity.
pub const SHA256: &str = "d8ab9c07c2219cc55cc12feca4cf63784db43226e51b7479cf2ed7cde28e2dd7";
/// Where Kalshi publishes the document.
pub const UPSTREAM_URL: &str = "https://docs.kalshi.com/perps_asyncapi.yaml";
/// The day the document was vendored (UTC, ISO 8601).
pub const VENDORED_ON: &str = "2026-12-03";
