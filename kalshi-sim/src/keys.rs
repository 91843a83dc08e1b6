//! API keys made by the simulator for tests and for its binary.

use std::fmt;

use aws_lc_rs::encoding::{AsDer, Pkcs8V1Der};
use aws_lc_rs::signature::{self, KeyPair};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

use crate::PublicKey;

/// A fresh API key: an id, the private key as Kalshi hands it out (PKCS#8
/// PEM), and the public half the simulator verifies with. `Debug` never
/// shows the private key.
#[derive(Clone)]
pub struct ApiKey {
    key_id: String,
    private_pem: String,
    public: PublicKey,
}

impl ApiKey {
    /// A new Ed25519 key named `key_id`.
    pub fn ed25519(key_id: &str) -> Self {
        // Key generation fails only if the system's random source does.
        let pair = signature::Ed25519KeyPair::generate().expect("system randomness");
        let der: Pkcs8V1Der<'static> = pair.as_der().expect("an Ed25519 key encodes as PKCS#8");
        Self {
            key_id: key_id.to_owned(),
            private_pem: pem("PRIVATE KEY", der.as_ref()),
            public: PublicKey::Ed25519(pair.public_key().as_ref().to_vec()),
        }
    }

    /// A new 2048-bit RSA key named `key_id` (about a tenth of a second).
    pub fn rsa(key_id: &str) -> Self {
        let pair = signature::RsaKeyPair::generate(aws_lc_rs::rsa::KeySize::Rsa2048)
            .expect("system randomness");
        let der: Pkcs8V1Der<'static> = pair.as_der().expect("an RSA key encodes as PKCS#8");
        let public = PublicKey::rsa_pkcs1_der(pair.public_key().as_ref())
            .expect("aws-lc exports RSA public keys as PKCS#1");
        Self {
            key_id: key_id.to_owned(),
            private_pem: pem("PRIVATE KEY", der.as_ref()),
            public,
        }
    }

    /// The id sent in `KALSHI-ACCESS-KEY`.
    pub fn key_id(&self) -> &str {
        &self.key_id
    }

    /// The private key, PKCS#8 PEM, for the client that signs.
    pub fn private_key_pem(&self) -> &str {
        &self.private_pem
    }

    /// The public half.
    pub fn public_key(&self) -> PublicKey {
        self.public.clone()
    }
}

impl fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ApiKey")
            .field("key_id", &self.key_id)
            .field("public_key", &self.public)
            .field("private_key", &"<redacted>")
            .finish()
    }
}

/// PEM armour around DER bytes, 64 characters a line.
pub(crate) fn pem(label: &str, der: &[u8]) -> String {
    let body = STANDARD.encode(der);
    let mut out = format!("-----BEGIN {label}-----\n");
    for line in body.as_bytes().chunks(64) {
        out.push_str(&String::from_utf8_lossy(line));
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_never_shows_the_private_key() {
        for key in [ApiKey::ed25519("k1"), ApiKey::rsa("k2")] {
            let debug = format!("{key:?}");
            assert!(debug.contains("<redacted>"), "{debug}");
            let body: String = key
                .private_key_pem()
                .lines()
                .filter(|l| !l.starts_with("-----"))
                .collect();
            assert!(!debug.contains(&body[..40]), "{debug}");
            assert!(
                key.private_key_pem()
                    .starts_with("-----BEGIN PRIVATE KEY-----\n")
            );
        }
    }
}
