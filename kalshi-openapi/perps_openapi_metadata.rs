// Metadata of the vendored `perps_openapi.yaml`, written by `cargo xtask fetch-spec`.
// `cargo xtask regen --check` fails when SHA256 no longer matches the file.

/// `info.version` of the vendored document.
pub const VERSION: &str = "0.0.1";
/// Lowercase hex sha256 of `perps_openapi.yaml`. Kalshi edits the published file
/// without always bumping `info.version`, so the hash is the real identity.
pub const SHA256: &str = "6bbacc2a78be4517e5c751ceaa6b62030bff0dd148682af2dc2965ad83aa32e7";
/// Where Kalshi publishes the document.
pub const UPSTREAM_URL: &str = "https://docs.kalshi.com/perps_openapi.yaml";
/// The day the document was vendored (UTC, ISO 8601).
pub const VENDORED_ON: &str = "2026-12-03";
