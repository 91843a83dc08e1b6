//! [`Credentials`]: a key id plus a parsed private key, and the headers they sign.

use std::fmt;
use std::path::Path;
use std::sync::Arc;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use pkcs8::der::zeroize::Zeroizing;

use super::error::{KeyError, NotPemHint, SignError};
use super::key::{KeyKind, RsaBackend, SigningKey};
use super::message::{
    ACCESS_KEY_HEADER, ACCESS_SIGNATURE_HEADER, ACCESS_TIMESTAMP_HEADER, signing_message,
};
use super::{env, pem};

/// A Kalshi API key: its id and the parsed private key that signs requests.
///
/// The key is parsed once, here, rather than per request. `Clone` is cheap
/// (an `Arc`), and the type is `Send + Sync`, so one value can be shared by
/// every task of a client. `Debug` shows the key id (shortened) and the key
/// kind, never key material.
#[derive(Clone)]
pub struct Credentials {
    inner: Arc<Inner>,
}

struct Inner {
    key_id: String,
    key: SigningKey,
}

impl Credentials {
    /// Loads an unencrypted PEM private key: PKCS#1 (`BEGIN RSA PRIVATE KEY`)
    /// or PKCS#8 (`BEGIN PRIVATE KEY`, RSA or Ed25519).
    ///
    /// # Errors
    /// A [`KeyError`] saying what is wrong with the key id or key, and how to
    /// fix it; encrypted keys need [`Credentials::from_pem_with_passphrase`].
    pub fn from_pem(key_id: impl Into<String>, pem: &str) -> Result<Self, KeyError> {
        Self::load(key_id.into(), pem, None)
    }

    /// Loads a PEM private key that may be encrypted PKCS#8
    /// (`BEGIN ENCRYPTED PRIVATE KEY`, PBES2: PBKDF2 or scrypt with AES-CBC).
    ///
    /// An unencrypted key loads too (the passphrase is then unused), so a
    /// configured passphrase can always be passed.
    ///
    /// # Errors
    /// [`KeyError::WrongPassphrase`] when decryption fails, and the errors of
    /// [`Credentials::from_pem`].
    pub fn from_pem_with_passphrase(
        key_id: impl Into<String>,
        pem: &str,
        passphrase: &str,
    ) -> Result<Self, KeyError> {
        Self::load(key_id.into(), pem, Some(passphrase))
    }

    /// Reads an unencrypted PEM private key from a file.
    ///
    /// # Errors
    /// [`KeyError::File`] naming the path when it cannot be read, and the
    /// errors of [`Credentials::from_pem`] for its content.
    pub fn from_pem_file(
        key_id: impl Into<String>,
        path: impl AsRef<Path>,
    ) -> Result<Self, KeyError> {
        Self::load_file(key_id.into(), path.as_ref(), None)
    }

    /// Reads a PEM private key from a file, decrypting it with `passphrase`
    /// when it is encrypted (see [`Credentials::from_pem_with_passphrase`]).
    ///
    /// # Errors
    /// As [`Credentials::from_pem_file`] and
    /// [`Credentials::from_pem_with_passphrase`].
    pub fn from_pem_file_with_passphrase(
        key_id: impl Into<String>,
        path: impl AsRef<Path>,
        passphrase: &str,
    ) -> Result<Self, KeyError> {
        Self::load_file(key_id.into(), path.as_ref(), Some(passphrase))
    }

    pub(crate) fn load_file(
        key_id: String,
        path: &Path,
        passphrase: Option<&str>,
    ) -> Result<Self, KeyError> {
        let bytes = std::fs::read(path)
            .map(Zeroizing::new)
            .map_err(|error| KeyError::File {
                path: path.to_owned(),
                error,
            })?;
        let text = std::str::from_utf8(&bytes).map_err(|_| KeyError::NotPem {
            hint: NotPemHint::Binary,
        })?;
        Self::load(key_id, text, passphrase)
    }

    /// Loads credentials from `KALSHI_API_KEY_ID` plus either
    /// `KALSHI_PRIVATE_KEY_PATH` (a PEM file) or `KALSHI_PRIVATE_KEY` (the PEM
    /// text), decrypted with `KALSHI_PRIVATE_KEY_PASSPHRASE` when that is set.
    /// Empty variables count as unset; a value that is not valid Unicode is
    /// [`KeyError::EnvNotUnicode`].
    ///
    /// Returns `Ok(None)` when none of the three is set, so a client can fall
    /// back to unauthenticated (market data) access.
    ///
    /// # Errors
    /// When only some variables are set, when both key variables are, or when
    /// the key does not load.
    pub fn from_env() -> Result<Option<Self>, KeyError> {
        env::credentials_from(env::process_var)
    }

    /// [`Credentials::from_env`] reading variables through `get`, which
    /// returns a variable's value or `None` when unset: testable, and usable
    /// with configuration sources other than the process environment.
    ///
    /// # Errors
    /// As [`Credentials::from_env`].
    pub fn from_env_with(get: impl Fn(&str) -> Option<String>) -> Result<Option<Self>, KeyError> {
        env::credentials_from(|name| Ok(get(name)))
    }

    fn load(key_id: String, pem: &str, passphrase: Option<&str>) -> Result<Self, KeyError> {
        validate_key_id(&key_id)?;
        let der = pem::decode_private_key(pem, passphrase)?;
        let key = SigningKey::from_der(&der)?;
        Ok(Self {
            inner: Arc::new(Inner { key_id, key }),
        })
    }

    /// The API key id, sent in the `KALSHI-ACCESS-KEY` header.
    #[must_use]
    pub fn key_id(&self) -> &str {
        &self.inner.key_id
    }

    /// The kind of private key (RSA with its size, or Ed25519).
    #[must_use]
    pub fn kind(&self) -> KeyKind {
        self.inner.key.kind()
    }

    /// The same credentials signing RSA through `backend`.
    ///
    /// The key is converted for the new backend once, here. Ed25519
    /// credentials are returned unchanged, as are RSA keys the other backend
    /// refuses (logged as a warning); check [`Credentials::rsa_backend`] when
    /// it matters.
    #[must_use]
    pub fn with_rsa_backend(self, backend: RsaBackend) -> Self {
        match self.inner.key.with_rsa_backend(backend) {
            Some(key) => {
                let key_id = self.inner.key_id.clone();
                Self {
                    inner: Arc::new(Inner { key_id, key }),
                }
            }
            None => self,
        }
    }

    /// The RSA backend in use, or `None` for an Ed25519 key.
    #[must_use]
    pub fn rsa_backend(&self) -> Option<RsaBackend> {
        self.inner.key.rsa_backend()
    }

    /// Signs `timestamp_ms + method + path` (see [`signing_message`]) and
    /// returns the three header values for the request.
    ///
    /// `path` is the path as sent, including `/trade-api/v2`, without query
    /// string or fragment; [`wire_path`](super::wire_path) extracts it from a URL.
    ///
    /// # Errors
    /// When `path` contains `?` or `#` (a query string or fragment: Kalshi
    /// would reject the signature), or if the crypto library fails.
    pub fn sign(
        &self,
        timestamp_ms: u64,
        method: &str,
        path: &str,
    ) -> Result<SignedHeaders, SignError> {
        if path.contains(['?', '#']) {
            return Err(SignError::new(
                "the path contains `?` or `#`; sign the path without query string or fragment (see `wire_path`)",
            ));
        }
        let message = signing_message(timestamp_ms, method, path);
        let signature = self.inner.key.sign(message.as_bytes())?;
        Ok(SignedHeaders {
            key_id: self.inner.key_id.clone(),
            timestamp: timestamp_ms.to_string(),
            signature: STANDARD.encode(signature),
        })
    }
}

#[cfg(test)]
impl Credentials {
    /// Signs arbitrary bytes, bypassing `sign`'s path check, so tests can
    /// make the signatures that negative controls need.
    pub(super) fn sign_raw(&self, message: &[u8]) -> Result<Vec<u8>, SignError> {
        self.inner.key.sign(message)
    }
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut debug = f.debug_struct("Credentials");
        debug
            .field("key_id", &Shortened(self.key_id()))
            .field("kind", &self.kind());
        if let Some(backend) = self.rsa_backend() {
            debug.field("backend", &backend);
        }
        debug.finish()
    }
}

/// Rejects key ids that could not be sent in a header, before any request
/// fails with a confusing transport error. The id is never echoed: a wrong
/// one is often something else pasted by mistake.
fn validate_key_id(key_id: &str) -> Result<(), KeyError> {
    let reason = if key_id.is_empty() {
        "it is empty"
    } else if key_id.contains("-----BEGIN") {
        "it looks like a PEM key: pass the key id first and the private key second"
    } else if key_id
        .bytes()
        .any(|b| b.is_ascii_whitespace() || b.is_ascii_control())
    {
        "it contains whitespace or control characters (a trailing newline copied from a file?)"
    } else if !key_id.is_ascii() {
        "it contains non-ASCII characters, which cannot be sent in an HTTP header"
    } else {
        return Ok(());
    };
    Err(KeyError::InvalidKeyId { reason })
}

/// The values of the three authentication headers for one request.
///
/// Set them as [`ACCESS_KEY_HEADER`], [`ACCESS_TIMESTAMP_HEADER`] and
/// [`ACCESS_SIGNATURE_HEADER`] (or iterate [`SignedHeaders::pairs`]).
/// `Debug` shows only the start of the signature: a signature is replayable
/// until its timestamp expires, so it should not land in logs whole.
#[derive(Clone, PartialEq, Eq)]
pub struct SignedHeaders {
    /// Value of `KALSHI-ACCESS-KEY`: the API key id.
    pub key_id: String,
    /// Value of `KALSHI-ACCESS-TIMESTAMP`: Unix milliseconds, in decimal.
    pub timestamp: String,
    /// Value of `KALSHI-ACCESS-SIGNATURE`: standard base64 with padding.
    pub signature: String,
}

impl SignedHeaders {
    /// `(header name, value)` for each of the three headers.
    #[must_use]
    pub fn pairs(&self) -> [(&'static str, &str); 3] {
        [
            (ACCESS_KEY_HEADER, &self.key_id),
            (ACCESS_TIMESTAMP_HEADER, &self.timestamp),
            (ACCESS_SIGNATURE_HEADER, &self.signature),
        ]
    }
}

impl fmt::Debug for SignedHeaders {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SignedHeaders")
            .field("key_id", &Shortened(&self.key_id))
            .field("timestamp", &self.timestamp)
            .field("signature", &Shortened(&self.signature))
            .finish()
    }
}

/// Debug-prints the first 8 characters of a string, then `…`. Key ids are
/// not secret but are long, and logs only need enough to tell keys apart.
struct Shortened<'a>(&'a str);

impl fmt::Debug for Shortened<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const SHOWN: usize = 8;
        match self.0.char_indices().nth(SHOWN) {
            Some((end, _)) => write!(f, "\"{}…\"", self.0[..end].escape_debug()),
            None => write!(f, "\"{}\"", self.0.escape_debug()),
        }
    }
}
