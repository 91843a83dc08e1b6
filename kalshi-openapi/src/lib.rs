//! Kalshi's Trade API documents, vendored byte for byte: the REST API's
//! OpenAPI document (the crate root's constants), the WebSocket API's
//! AsyncAPI document ([`asyncapi`]), and the margin (perpetuals) API's two
//! documents ([`margin`]).
//!
//! The generator (`cargo xtask regen`), the tests and the local exchange
//! simulator all read the specifications from here, so every part of the
//! workspace agrees on one copy. Each `SHA256` identifies its document
//! exactly.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

include!("../metadata.rs");

/// The text of `openapi.yaml`, exactly as published by Kalshi.
pub const SPEC_YAML: &str = include_str!("../openapi.yaml");

/// The path every operation of the spec lives under (`servers[].url`'s path).
pub const BASE_PATH: &str = "/trade-api/v2";

/// Kalshi's WebSocket API (AsyncAPI 3.0), vendored byte for byte.
pub mod asyncapi {
    include!("../asyncapi_metadata.rs");

    /// The text of `asyncapi.yaml`, exactly as published by Kalshi.
    pub const YAML: &str = include_str!("../asyncapi.yaml");

    /// The WebSocket path, signed like a REST path (`GET` + this).
    pub const PATH: &str = "/trade-api/ws/v2";
}

/// Kalshi's margin (perpetual futures) API: its own REST document (paths
/// under `/margin/...` on the same hosts) and WebSocket document (on the
/// margin WebSocket hosts), vendored byte for byte.
///
/// Kalshi has left `info.version` at `0.0.1` (REST) and `2.0.0` (WebSocket)
/// while editing both documents: the sha256 is the identity.
pub mod margin {
    include!("../perps_openapi_metadata.rs");

    /// The text of `perps_openapi.yaml`, exactly as published by Kalshi.
    pub const YAML: &str = include_str!("../perps_openapi.yaml");

    /// The margin WebSocket API (AsyncAPI 3.0), vendored byte for byte.
    pub mod asyncapi {
        include!("../perps_asyncapi_metadata.rs");

        /// The text of `perps_asyncapi.yaml`, exactly as published by Kalshi.
        pub const YAML: &str = include_str!("../perps_asyncapi.yaml");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sha2::{Digest, Sha256};

    fn sha256(text: &str) -> String {
        Sha256::digest(text.as_bytes())
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    }

    #[test]
    fn recorded_sha256_matches_the_vendored_file() {
        assert_eq!(
            sha256(SPEC_YAML),
            SHA256,
            "openapi.yaml changed without updating metadata.rs"
        );
        assert_eq!(
            sha256(asyncapi::YAML),
            asyncapi::SHA256,
            "asyncapi.yaml changed without updating asyncapi_metadata.rs"
        );
        assert_eq!(
            sha256(margin::YAML),
            margin::SHA256,
            "perps_openapi.yaml changed without updating perps_openapi_metadata.rs"
        );
        assert_eq!(
            sha256(margin::asyncapi::YAML),
            margin::asyncapi::SHA256,
            "perps_asyncapi.yaml changed without updating perps_asyncapi_metadata.rs"
        );
    }
}
