//! Checking signatures the way Kalshi does.
//!
//! The message is `timestamp + METHOD + path` (path with `/trade-api/v2`, no
//! query); RSA keys verify RSA-PSS SHA-256 with a 32-byte salt through the
//! `rsa` crate (an implementation independent of the client's aws-lc-rs
//! signer), Ed25519 keys a plain Ed25519 signature.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use rsa::pkcs1::DecodeRsaPublicKey;
use rsa::pkcs8::DecodePublicKey;
use rsa::signature::Verifier;

use crate::http::ApiErr;

/// How far a request timestamp may be from the simulator's clock. Kalshi
/// accepts about ±10 s and rejects ±60 s; the simulator splits the difference.
const TIMESTAMP_WINDOW_MS: i64 = 30_000;

/// The public half of an API key.
#[derive(Debug, Clone)]
pub enum PublicKey {
    /// An RSA key.
    Rsa(rsa::RsaPublicKey),
    /// An Ed25519 key (32 raw bytes).
    Ed25519(Vec<u8>),
}

impl PublicKey {
    /// From `-----BEGIN PUBLIC KEY-----` (SPKI) text, RSA or Ed25519.
    pub fn from_pem(pem: &str) -> Result<Self, String> {
        if let Ok(key) = rsa::RsaPublicKey::from_public_key_pem(pem) {
            return Ok(Self::Rsa(key));
        }
        let der = pem_body(pem)?;
        // An Ed25519 SPKI is a fixed 12-byte header followed by the key.
        const ED25519_SPKI_PREFIX: [u8; 12] = [
            0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00,
        ];
        match der.strip_prefix(&ED25519_SPKI_PREFIX[..]) {
            Some(key) if key.len() == 32 => Ok(Self::Ed25519(key.to_vec())),
            _ => Err("not an RSA or Ed25519 public key".to_owned()),
        }
    }

    /// From a PKCS#1 `RSAPublicKey` DER.
    pub fn rsa_pkcs1_der(der: &[u8]) -> Result<Self, String> {
        rsa::RsaPublicKey::from_pkcs1_der(der)
            .map(Self::Rsa)
            .map_err(|e| e.to_string())
    }

    /// Whether `signature` (standard base64) signs `message`.
    pub fn verifies(&self, message: &[u8], signature: &str) -> bool {
        let Ok(signature) = STANDARD.decode(signature) else {
            return false;
        };
        match self {
            Self::Rsa(key) => {
                let verifier = rsa::pss::VerifyingKey::<sha2::Sha256>::new(key.clone());
                rsa::pss::Signature::try_from(signature.as_slice())
                    .is_ok_and(|sig| verifier.verify(message, &sig).is_ok())
            }
            Self::Ed25519(key) => {
                aws_lc_rs::signature::UnparsedPublicKey::new(&aws_lc_rs::signature::ED25519, key)
                    .verify(message, &signature)
                    .is_ok()
            }
        }
    }
}

fn pem_body(pem: &str) -> Result<Vec<u8>, String> {
    let body: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
    STANDARD.decode(body.trim()).map_err(|e| e.to_string())
}

/// The signing headers of a request.
pub(crate) struct Presented<'a> {
    pub key_id: Option<&'a str>,
    pub timestamp: Option<&'a str>,
    pub signature: Option<&'a str>,
}

/// The user a signed request comes from, or Kalshi's 401.
pub(crate) fn authenticate(
    // The key's user and public half, copied out of the exchange's state:
    // the signature is checked without holding its lock.
    key_of: impl FnOnce(&str) -> Option<(String, PublicKey)>,
    presented: &Presented<'_>,
    method: &str,
    path: &str,
    now_ms: i64,
) -> Result<String, ApiErr> {
    let unauthorized = |code: &str, message: &str| ApiErr::new(401, code, message);
    let (Some(key_id), Some(timestamp), Some(signature)) =
        (presented.key_id, presented.timestamp, presented.signature)
    else {
        return Err(unauthorized(
            "missing_authentication_headers",
            "KALSHI-ACCESS-KEY, -TIMESTAMP and -SIGNATURE are required",
        ));
    };
    let Some((user_id, key)) = key_of(key_id) else {
        return Err(unauthorized("incorrect_api_key", "unknown API key"));
    };
    let Ok(ts) = timestamp.parse::<i64>() else {
        return Err(unauthorized(
            "invalid_timestamp",
            "KALSHI-ACCESS-TIMESTAMP must be Unix milliseconds",
        ));
    };
    // abs_diff: a timestamp near i64::MIN must not overflow a subtraction.
    if now_ms.abs_diff(ts) > TIMESTAMP_WINDOW_MS.unsigned_abs() {
        return Err(unauthorized(
            "header_timestamp_expired",
            "request timestamp is outside the accepted window",
        ));
    }
    let message = format!("{timestamp}{method}{path}");
    if !key.verifies(message.as_bytes(), signature) {
        return Err(unauthorized(
            "INCORRECT_API_KEY_SIGNATURE",
            "the signature does not match",
        ));
    }
    Ok(user_id)
}
