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

    #[test]
    fn recorded_version_matches_info_version() {
        let doc: serde_json::Value = serde_yaml::from_str(SPEC_YAML).expect("spec parses");
        assert_eq!(doc["info"]["version"].as_str(), Some(VERSION));
    }

    #[test]
    fn base_path_matches_every_server_url() {
        let doc: serde_json::Value = serde_yaml::from_str(SPEC_YAML).expect("spec parses");
        let servers = doc["servers"].as_array().expect("servers");
        assert!(!servers.is_empty());
        for server in servers {
            let url = server["url"].as_str().expect("url");
            assert!(
                url.ends_with(BASE_PATH),
                "{url} does not end with {BASE_PATH}"
            );
        }
    }
}
