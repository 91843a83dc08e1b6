// Metadata of the vendored `asyncapi.yaml`, written by `cargo xtask fetch-spec`.
// `cargo xtask regen --check` fails when SHA256 no longer matches the file.

/// `info.version` of the vendored document.
pub const VERSION: &str = "2.0.0";
/// Lowercase hex sha256 of `asyncapi.yaml`. Kalshi edits the published file
/// without always bumping `info.version`, so the hash is the real identity.
pub const SHA256: &str = "f791a84fced394950343b6427dea88a9a754003d5f4ba9d0c1e43957baa1aea0";
/// Where Kalshi publishes the document.
pub const UPSTREAM_URL: &str = "https://docs.kalshi.com/asyncapi.yaml";
/// The day the document was vendored (UTC, ISO 8601).
pub const VENDORED_ON: &str = "2026-12-02";
