//! Kalshi API credentials and request signing.
//!
//! Every authenticated request carries three headers:
//!
//! | header                    | value                                        |
//! |---------------------------|----------------------------------------------|
//! | `KALSHI-ACCESS-KEY`       | the API key id                               |
//! | `KALSHI-ACCESS-TIMESTAMP` | Unix time in milliseconds, decimal           |
//! | `KALSHI-ACCESS-SIGNATURE` | base64 signature of `timestamp + METHOD + path` |
//!
//! The path is the URL path exactly as sent (with `/trade-api/v2` and any
//! percent-encoding) but without the query string; the body is not signed.
//! RSA keys sign with RSA-PSS (SHA-256, MGF1-SHA-256, 32-byte salt);
//! Ed25519 keys with plain Ed25519.
//!
//! ```no_run
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use kalshi_client::auth::{Credentials, wire_path};
//!
//! let credentials = Credentials::from_pem_file("a952bcbe-ec3b-4b5b-b8f9-11dae589608c", "kalshi.pem")?;
//! let url = reqwest::Url::parse("https://api.elections.kalshi.com/trade-api/v2/portfolio/orders?limit=5")?;
//! let headers = credentials.sign(1703123456789, "GET", wire_path(&url))?;
//! for (name, value) in headers.pairs() {
//!     println!("{name}: {value}");
//! }
//! # Ok(())
//! # }
//! ```
//!
//! Keys are parsed and checked once, when [`Credentials`] are built, with
//! errors ([`KeyError`]) that say what is wrong and how to fix it, and that
//! never contain key material.

mod credentials;
pub(crate) mod env;
mod error;
mod key;
mod message;
mod pem;
#[cfg(feature = "rsa")]
mod rustcrypto;

#[cfg(test)]
mod key_error_tests;
#[cfg(test)]
mod signing_tests;
#[cfg(test)]
mod test_support;

pub use credentials::{Credentials, SignedHeaders};
pub use env::{ENV_API_KEY_ID, ENV_PRIVATE_KEY, ENV_PRIVATE_KEY_PASSPHRASE, ENV_PRIVATE_KEY_PATH};
pub use error::{KeyError, NotPemHint, SignError};
pub use key::{KeyKind, RsaBackend};
pub use message::{
    ACCESS_KEY_HEADER, ACCESS_SIGNATURE_HEADER, ACCESS_TIMESTAMP_HEADER, signing_message, wire_path,
};
