// Metadata of the vendored `openapi.yaml`, written by `cargo xtask fetch-spec`.
// `cargo xtask regen --check` fails when SHA256 no longer matches the file.

/// `info.version` of the vendored document.
pub const VERSION: &str = "3.34.0";
/// Lowercase hex sha256 of `openapi.yaml`. Kalshi edits the published file
/// without always bumping `info.version`, so the hash is the real identity.
pub const SHA256: &str = "fb86c72f185dc5866616caf20842484bdbfb9be7013208a81133f0bbe853f0af";
/// Where Kalshi publishes the document.
pub const UPSTREAM_URL: &str = "https://docs.kalshi.com/openapi.yaml";
/// The day the document was vendored (UTC, ISO 8601).
pub const VENDORED_ON: &str = "2026-12-02";
