//! Kalshi's Trade API OpenAPI document, vendored byte for byte.
//!
//! The generator (`cargo xtask regen`), the tests and the local exchange
//! simulator all read the specification from here, so every part of the
//! workspace agrees on one document. [`SHA256`] identifies it exactly.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

include!("../metadata.rs");

/// The text of `openapi.yaml`, exactly as published by Kalshi.
pub const SPEC_YAML: &str = include_str!("../openapi.yaml");

/// The path every operation of the spec lives under (`servers[].url`'s path).
pub const BASE_PATH: &str = "/trade-api/v2";

#[cfg(test)]
mod tests {
    use super::*;
    use sha2::{Digest, Sha256};

    #[test]
    fn recorded_sha256_matches_the_vendored_file() {
        let digest = Sha256::digest(SPEC_YAML.as_bytes());
        let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(
            hex, SHA256,
            "openapi.yaml changed without updating metadata.rs"
        );
    }
}
