//! Errors for loading keys and signing requests.
//!
//! Every message says what is wrong in plain words and, where there is one,
//! how to fix it. No message, and no `Debug` output, ever contains key
//! material: the variants hold only fixed text, numbers, PEM labels,
//! algorithm names and file paths, so an error can be logged safely.

use std::fmt;
use std::path::PathBuf;

/// Why a private key (or the key id next to it) could not be loaded.
///
/// Match on the variant to react programmatically; print it (`Display`) to
/// tell a person what to do.
#[derive(Debug)]
#[non_exhaustive]
pub enum KeyError {
    /// The key id is empty or cannot be sent in an HTTP header.
    ///
    /// The id itself is not repeated here: when it is wrong it is often
    /// something else pasted by mistake (such as the private key).
    InvalidKeyId {
        /// What is wrong with it.
        reason: &'static str,
    },
    /// The text holds no `-----BEGIN ...-----` block at all.
    NotPem {
        /// What the text looks like instead, to point at the likely mistake.
        hint: NotPemHint,
    },
    /// An OpenSSH private key (`BEGIN OPENSSH PRIVATE KEY`), which needs converting to PEM.
    OpenSshFormat,
    /// A public key or certificate was given where the private key belongs.
    PublicKeyInsteadOfPrivate {
        /// The PEM label that was found, such as `PUBLIC KEY` or `CERTIFICATE`.
        label: &'static str,
    },
    /// A private key of a type Kalshi does not accept (EC, DSA, Ed448, ...).
    UnsupportedKeyType {
        /// The algorithm, by name when known, otherwise by OID.
        algorithm: String,
    },
    /// An RSA key outside the supported 2048 to 8192 bits.
    UnsupportedRsaSize {
        /// The modulus size that was found.
        bits: usize,
    },
    /// An encrypted PKCS#8 key (`BEGIN ENCRYPTED PRIVATE KEY`) loaded without a passphrase.
    PassphraseRequired,
    /// A PKCS#1 key encrypted the legacy OpenSSL way (`Proc-Type: 4,ENCRYPTED`),
    /// which cannot be decrypted here and must be converted to PKCS#8 first.
    LegacyEncryptedPem,
    /// The passphrase did not decrypt the key.
    WrongPassphrase,
    /// An encrypted PKCS#8 key whose encryption scheme is not supported (PBES1, DES, ...).
    UnsupportedEncryption {
        /// The scheme, by name when known, otherwise by OID.
        scheme: String,
    },
    /// The PEM block is recognisable but its content is damaged.
    Malformed {
        /// Which part is damaged.
        what: &'static str,
    },
    /// More than one private key block; it would be a guess which one Kalshi knows.
    MultiplePrivateKeys {
        /// How many private key blocks were found.
        count: usize,
    },
    /// PEM blocks were found, but none is a key this crate knows about.
    UnrecognizedPem {
        /// The label of the first block (labels are never key material).
        label: String,
    },
    /// The key file could not be read.
    File {
        /// The path as given.
        path: PathBuf,
        /// The operating system's reason.
        error: std::io::Error,
    },
    /// A private key variable is set but `KALSHI_API_KEY_ID` is not.
    EnvKeyIdMissing {
        /// The key variable that is set.
        key_var: &'static str,
    },
    /// `KALSHI_API_KEY_ID` is set but neither private key variable is.
    EnvKeyMissing,
    /// Both `KALSHI_PRIVATE_KEY_PATH` and `KALSHI_PRIVATE_KEY` are set, so it is
    /// unclear which key is meant.
    EnvConflictingKeys,
    /// A variable holds bytes that are not valid Unicode (its value is not
    /// shown: it may be key material).
    EnvNotUnicode {
        /// The variable.
        var: &'static str,
    },
}

/// What text that is not PEM seems to be, so [`KeyError::NotPem`] can suggest a fix.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum NotPemHint {
    /// Nothing (or only whitespace) was given.
    Empty,
    /// Looks like a path: the caller probably meant [`Credentials::from_pem_file`](super::Credentials::from_pem_file).
    FilePath,
    /// Looks like a key id (a UUID): the id and the key were probably swapped.
    KeyId,
    /// Base64 without the `-----BEGIN`/`-----END` lines around it.
    Base64WithoutArmor,
    /// An OpenSSH public key line (`ssh-rsa AAAA...`).
    SshPublicKey,
    /// A file that is not text at all, perhaps a binary DER key.
    Binary,
    /// Nothing recognisable.
    Unknown,
}

impl fmt::Display for KeyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::InvalidKeyId { reason } => write!(f, "invalid Kalshi API key id: {reason}"),
            Self::NotPem { hint } => write_not_pem(f, *hint),
            Self::OpenSshFormat => f.write_str(OPENSSH),
            Self::PublicKeyInsteadOfPrivate { label } => write!(
                f,
                "expected a private key but found `BEGIN {label}`; Kalshi request signing needs \
                 the private key saved when the API key was created (Kalshi keeps the public part)"
            ),
            Self::UnsupportedKeyType { algorithm } => write!(
                f,
                "unsupported private key type: {algorithm}; Kalshi API keys are RSA or Ed25519"
            ),
            Self::UnsupportedRsaSize { bits } => write!(
                f,
                "the RSA key has {bits} bits; RSA keys of 2048 to 8192 bits are supported"
            ),
            Self::PassphraseRequired => f.write_str(PASSPHRASE_REQUIRED),
            Self::LegacyEncryptedPem => f.write_str(LEGACY_ENCRYPTED),
            Self::WrongPassphrase => f.write_str(
                "could not decrypt the private key: wrong passphrase (or the encrypted key is damaged)",
            ),
            Self::UnsupportedEncryption { scheme } => write!(
                f,
                "the private key is encrypted with {scheme}, which is not supported; re-encrypt it \
                 with `openssl pkcs8 -topk8 -v2 aes-256-cbc -in <old key> -out <new key>`"
            ),
            Self::Malformed { what } => write!(f, "the private key is damaged: {what}"),
            Self::MultiplePrivateKeys { count } => write!(
                f,
                "found {count} private keys in the PEM text; give exactly one (the one registered with Kalshi)"
            ),
            Self::UnrecognizedPem { label } => write!(
                f,
                "found a PEM block labelled `{label}`, which is not a private key; expected \
                 `BEGIN PRIVATE KEY` or `BEGIN RSA PRIVATE KEY`"
            ),
            Self::File { path, error } => write!(
                f,
                "could not read the private key file {}: {error}",
                path.display()
            ),
            Self::EnvKeyIdMissing { key_var } => write!(
                f,
                "{key_var} is set but KALSHI_API_KEY_ID is not; set KALSHI_API_KEY_ID to the key id \
                 shown next to the API key in Kalshi's settings"
            ),
            Self::EnvKeyMissing => f.write_str(
                "KALSHI_API_KEY_ID is set but no private key is: set KALSHI_PRIVATE_KEY_PATH (a PEM \
                 file) or KALSHI_PRIVATE_KEY (the PEM text)",
            ),
            Self::EnvConflictingKeys => f.write_str(
                "both KALSHI_PRIVATE_KEY_PATH and KALSHI_PRIVATE_KEY are set; set only one of them",
            ),
            Self::EnvNotUnicode { var } => write!(
                f,
                "{var} is set to bytes that are not valid Unicode; the SDK reads it as text"
            ),
        }
    }
}

impl std::error::Error for KeyError {}

const OPENSSH: &str = "the private key is in OpenSSH format (`BEGIN OPENSSH PRIVATE KEY`), which \
    is not supported; for an RSA key, convert a copy of the file in place with \
    `ssh-keygen -p -m PEM -f <copy of key>` (then, for PKCS#8, \
    `openssl pkey -in <copy of key> -out <new key>`); ssh-keygen cannot convert Ed25519 keys";

const PASSPHRASE_REQUIRED: &str = "the private key is encrypted (`BEGIN ENCRYPTED PRIVATE KEY`); \
    set KALSHI_PRIVATE_KEY_PASSPHRASE, or load it with `Credentials::from_pem_with_passphrase`";

const LEGACY_ENCRYPTED: &str = "the private key uses legacy OpenSSL PEM encryption \
    (`Proc-Type: 4,ENCRYPTED`), which cannot be decrypted here; convert it to encrypted PKCS#8 \
    with `openssl pkcs8 -topk8 -v2 aes-256-cbc -in <old key> -out <new key>` and load that with \
    `Credentials::from_pem_with_passphrase`";

fn write_not_pem(f: &mut fmt::Formatter<'_>, hint: NotPemHint) -> fmt::Result {
    if hint == NotPemHint::Empty {
        return f.write_str("the private key is empty");
    }
    f.write_str(
        "the private key is not PEM text (no `-----BEGIN ... PRIVATE KEY-----` line was found)",
    )?;
    let advice = match hint {
        NotPemHint::FilePath => {
            "; it looks like a file path: use `Credentials::from_pem_file` (or set \
             KALSHI_PRIVATE_KEY_PATH instead of KALSHI_PRIVATE_KEY)"
        }
        NotPemHint::KeyId => {
            "; it looks like a key id (a UUID): the key id and the private key may be swapped"
        }
        NotPemHint::Base64WithoutArmor => {
            "; it looks like bare base64: include the `-----BEGIN` and `-----END` lines of the key file"
        }
        NotPemHint::SshPublicKey => {
            "; it looks like an OpenSSH public key: Kalshi request signing needs the private key"
        }
        NotPemHint::Binary => {
            "; the file is binary, perhaps a DER key: convert it with \
             `openssl pkey -inform DER -in <key.der> -out <key.pem>`"
        }
        NotPemHint::Empty | NotPemHint::Unknown => "",
    };
    f.write_str(advice)
}

/// Signing a request failed.
///
/// The key was already validated when the [`Credentials`](super::Credentials)
/// were built, so in practice this only reports a path that the caller
/// passed with a query string, or an internal failure of the crypto library.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignError {
    reason: &'static str,
}

impl SignError {
    pub(super) const fn new(reason: &'static str) -> Self {
        Self { reason }
    }
}

impl fmt::Display for SignError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "could not sign the Kalshi request: {}", self.reason)
    }
}

impl std::error::Error for SignError {}
