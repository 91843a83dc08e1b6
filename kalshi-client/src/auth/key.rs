//! Parsed signing keys: DER in, a ready-to-sign key out.
//!
//! Keys are parsed once, when [`Credentials`](super::Credentials) are built,
//! because signing runs on every request. The RSA modulus size is read from
//! the DER first, so an unsupported size gets an error naming the size
//! instead of a generic "key rejected".

use std::sync::Arc;

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::rsa::KeyPair as AwsRsaKeyPair;
use aws_lc_rs::signature::{Ed25519KeyPair, RSA_PSS_SHA256};
use pkcs8::der::asn1::UintRef;
use pkcs8::der::{Decode, Header, SliceReader, Tag};
use pkcs8::{ObjectIdentifier, PrivateKeyInfo};

use super::error::{KeyError, SignError};
use super::pem::KeyDer;
#[cfg(feature = "rsa")]
use super::rustcrypto::PssSigner;

/// The kind of private key behind a set of [`Credentials`](super::Credentials).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum KeyKind {
    /// RSA, signing with RSA-PSS (SHA-256, MGF1-SHA-256, 32-byte salt).
    Rsa {
        /// Modulus size in bits.
        bits: usize,
    },
    /// Ed25519 (accepted by Kalshi since September 2026).
    Ed25519,
}

/// Which library computes RSA signatures.
///
/// Both produce RSA-PSS signatures that Kalshi accepts; they differ in speed,
/// side-channel hardening and how much C code is involved.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum RsaBackend {
    /// aws-lc-rs (the default): constant time, several times faster, and
    /// already compiled in for reqwest's TLS.
    #[default]
    AwsLc,
    /// The pure-Rust `rsa` crate, for builds that want to avoid C in the
    /// signing path.
    ///
    /// The `rsa` crate is affected by RUSTSEC-2023-0071 (the "Marvin" timing
    /// side channel, with no fixed release in 0.9). Signing here always goes
    /// through `BlindedSigningKey`, whose random blinding of every private key
    /// operation is the mitigation the advisory recommends; still, prefer
    /// [`RsaBackend::AwsLc`] where an attacker can time many signatures.
    #[cfg(feature = "rsa")]
    RustCrypto,
}

/// RSA sizes Kalshi accepts and aws-lc signs with.
const RSA_BITS: std::ops::RangeInclusive<usize> = 2048..=8192;

const RSA_ENCRYPTION: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.1");
const ED25519: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.101.112");

const BAD_PKCS8: &str = "the PKCS#8 `PrivateKeyInfo` structure could not be parsed";
const BAD_PKCS1: &str = "the PKCS#1 `RSAPrivateKey` structure could not be parsed";
const RSA_REJECTED: &str = "the RSA key's numbers are inconsistent (aws-lc rejected the key)";
const ED25519_REJECTED: &str = "the Ed25519 key could not be parsed (aws-lc rejected the key)";

/// A parsed private key, ready to sign.
pub(super) enum SigningKey {
    Rsa(RsaKey),
    Ed25519(Ed25519KeyPair),
}

/// An RSA key with the backend that signs with it.
///
/// The aws-lc key is always kept: it is the parsed source for the other
/// backend, so switching back and forth never needs the PEM again.
#[derive(Clone)]
pub(super) struct RsaKey {
    bits: usize,
    aws_lc: Arc<AwsRsaKeyPair>,
    #[cfg(feature = "rsa")]
    rust_crypto: Option<Arc<PssSigner>>,
}

impl SigningKey {
    /// Parses decoded PEM into a signing key.
    pub(super) fn from_der(der: &KeyDer) -> Result<Self, KeyError> {
        match der {
            KeyDer::Pkcs1(doc) => RsaKey::from_pkcs1(doc.as_bytes()).map(Self::Rsa),
            KeyDer::Pkcs8(doc) => Self::from_pkcs8(doc.as_bytes()),
        }
    }

    fn from_pkcs8(der: &[u8]) -> Result<Self, KeyError> {
        let info = PrivateKeyInfo::try_from(der).map_err(|_| malformed(BAD_PKCS8))?;
        let oid = info.algorithm.oid;
        if oid == RSA_ENCRYPTION {
            RsaKey::from_pkcs1(info.private_key).map(Self::Rsa)
        } else if oid == ED25519 {
            // `maybe_unchecked` accepts the PKCS#8 v1 keys OpenSSL writes
            // (without the embedded public key).
            Ed25519KeyPair::from_pkcs8_maybe_unchecked(der)
                .map(Self::Ed25519)
                .map_err(|_| malformed(ED25519_REJECTED))
        } else {
            let algorithm = algorithm_name(oid);
            Err(KeyError::UnsupportedKeyType { algorithm })
        }
    }

    pub(super) fn kind(&self) -> KeyKind {
        match self {
            Self::Rsa(key) => KeyKind::Rsa { bits: key.bits },
            Self::Ed25519(_) => KeyKind::Ed25519,
        }
    }

    pub(super) fn rsa_backend(&self) -> Option<RsaBackend> {
        match self {
            Self::Rsa(key) => Some(key.backend()),
            Self::Ed25519(_) => None,
        }
    }

    /// The same key signing through `backend`, or `None` when nothing changes
    /// (an Ed25519 key, the backend already in use, or a key the other
    /// backend refuses; the last is logged).
    pub(super) fn with_rsa_backend(&self, backend: RsaBackend) -> Option<Self> {
        match self {
            Self::Rsa(key) if key.backend() != backend => key.with_backend(backend).map(Self::Rsa),
            _ => None,
        }
    }

    /// Signs `message`, returning the raw signature bytes.
    pub(super) fn sign(&self, message: &[u8]) -> Result<Vec<u8>, SignError> {
        match self {
            Self::Rsa(key) => key.sign(message),
            Self::Ed25519(key) => key
                .try_sign(message)
                .map(|sig| sig.as_ref().to_vec())
                .map_err(|_| SignError::new("aws-lc failed to compute the Ed25519 signature")),
        }
    }
}

impl RsaKey {
    /// Parses a PKCS#1 `RSAPrivateKey`, also the payload of an RSA PKCS#8 key.
    fn from_pkcs1(der: &[u8]) -> Result<Self, KeyError> {
        let bits = rsa_modulus_bits(der).ok_or(malformed(BAD_PKCS1))?;
        if !RSA_BITS.contains(&bits) {
            return Err(KeyError::UnsupportedRsaSize { bits });
        }
        let aws_lc = AwsRsaKeyPair::from_der(der).map_err(|_| malformed(RSA_REJECTED))?;
        Ok(Self {
            bits,
            aws_lc: Arc::new(aws_lc),
            #[cfg(feature = "rsa")]
            rust_crypto: None,
        })
    }

    fn backend(&self) -> RsaBackend {
        #[cfg(feature = "rsa")]
        if self.rust_crypto.is_some() {
            return RsaBackend::RustCrypto;
        }
        RsaBackend::AwsLc
    }

    fn with_backend(&self, backend: RsaBackend) -> Option<Self> {
        match backend {
            RsaBackend::AwsLc => Some(Self {
                #[cfg(feature = "rsa")]
                rust_crypto: None,
                ..self.clone()
            }),
            #[cfg(feature = "rsa")]
            RsaBackend::RustCrypto => self.with_rust_crypto(),
        }
    }

    #[cfg(feature = "rsa")]
    fn with_rust_crypto(&self) -> Option<Self> {
        match PssSigner::from_aws_lc(&self.aws_lc) {
            Ok(signer) => Some(Self {
                rust_crypto: Some(Arc::new(signer)),
                ..self.clone()
            }),
            Err(reason) => {
                tracing::warn!(
                    reason,
                    "RSA key not usable with RsaBackend::RustCrypto; still signing with aws-lc"
                );
                None
            }
        }
    }

    fn sign(&self, message: &[u8]) -> Result<Vec<u8>, SignError> {
        #[cfg(feature = "rsa")]
        if let Some(signer) = &self.rust_crypto {
            return signer.sign(message);
        }
        // aws-lc's PSS with `RSA_PSS_SHA256` uses a salt as long as the
        // digest (32 bytes), as Kalshi requires; it ignores the RNG argument
        // and draws the salt from its own DRBG.
        let mut signature = vec![0; self.aws_lc.public_modulus_len()];
        self.aws_lc
            .sign(
                &RSA_PSS_SHA256,
                &SystemRandom::new(),
                message,
                &mut signature,
            )
            .map_err(|_| SignError::new("aws-lc failed to compute the RSA-PSS signature"))?;
        Ok(signature)
    }
}

fn malformed(what: &'static str) -> KeyError {
    KeyError::Malformed { what }
}

/// Bit length of the modulus in a PKCS#1 `RSAPrivateKey`
/// (`SEQUENCE { version INTEGER, modulus INTEGER, ... }`), read without
/// validating the rest, which aws-lc does next.
fn rsa_modulus_bits(der: &[u8]) -> Option<usize> {
    let mut reader = SliceReader::new(der).ok()?;
    let header = Header::decode(&mut reader).ok()?;
    if header.tag != Tag::Sequence {
        return None;
    }
    UintRef::decode(&mut reader).ok()?;
    let modulus = UintRef::decode(&mut reader).ok()?;
    Some(bit_length(modulus.as_bytes()))
}

/// Bit length of a big-endian unsigned integer.
fn bit_length(be: &[u8]) -> usize {
    let significant = be
        .iter()
        .position(|&b| b != 0)
        .map_or(&[][..], |i| &be[i..]);
    match significant.first() {
        Some(&top) => significant.len() * 8 - top.leading_zeros() as usize,
        None => 0,
    }
}

/// A readable name for a PKCS#8 algorithm OID that is neither RSA nor Ed25519.
fn algorithm_name(oid: ObjectIdentifier) -> String {
    let name = match oid.to_string().as_str() {
        "1.2.840.10045.2.1" => "EC (ECDSA)",
        "1.2.840.113549.1.1.10" => {
            "RSASSA-PSS (an RSA key restricted to PSS; export it as a plain RSA key)"
        }
        "1.2.840.10040.4.1" => "DSA",
        "1.2.840.113549.1.3.1" | "1.2.840.10046.2.1" => "DH",
        "1.3.101.110" => "X25519",
        "1.3.101.111" => "X448",
        "1.3.101.113" => "Ed448",
        "1.2.156.10197.1.301" => "SM2",
        "2.16.840.1.101.3.4.3.17" => "ML-DSA-44",
        "2.16.840.1.101.3.4.3.18" => "ML-DSA-65",
        "2.16.840.1.101.3.4.3.19" => "ML-DSA-87",
        _ => return format!("unknown algorithm (OID {oid})"),
    };
    name.to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bit_length_ignores_leading_zeros() {
        assert_eq!(bit_length(&[]), 0);
        assert_eq!(bit_length(&[0, 0]), 0);
        assert_eq!(bit_length(&[0x01]), 1);
        assert_eq!(bit_length(&[0x00, 0x80, 0x00]), 16);
        let mut modulus_2048 = vec![0xC3; 256];
        modulus_2048.insert(0, 0);
        assert_eq!(bit_length(&modulus_2048), 2048);
    }

    #[test]
    fn modulus_bits_reject_non_sequences() {
        assert_eq!(rsa_modulus_bits(&[]), None);
        assert_eq!(rsa_modulus_bits(&[0x02, 0x01, 0x00]), None);
        // SEQUENCE { INTEGER 0, INTEGER 0x0100 } -> a 9-bit "modulus"
        assert_eq!(
            rsa_modulus_bits(&[0x30, 0x07, 0x02, 0x01, 0x00, 0x02, 0x02, 0x01, 0x00]),
            Some(9)
        );
    }

    #[test]
    fn oversized_rsa_is_rejected_by_size_not_by_aws_lc() {
        // A modulus of 8200 bits: the size check fires before any parsing
        // that would need a real (and slow to generate) key.
        // SEQUENCE (1032 bytes) { INTEGER 0, INTEGER (1025 bytes: 0x01, 0xAB...) }
        let mut der = vec![
            0x30, 0x82, 0x04, 0x08, 0x02, 0x01, 0x00, 0x02, 0x82, 0x04, 0x01, 0x01,
        ];
        der.extend(std::iter::repeat_n(0xAB, 1024));
        let err = RsaKey::from_pkcs1(&der).err();
        assert!(
            matches!(err, Some(KeyError::UnsupportedRsaSize { bits: 8193 })),
            "{err:?}"
        );
    }

    #[test]
    fn algorithm_names() {
        let ed448 = ObjectIdentifier::new_unwrap("1.3.101.113");
        assert_eq!(algorithm_name(ed448), "Ed448");
        let other = ObjectIdentifier::new_unwrap("1.2.3.4");
        assert_eq!(algorithm_name(other), "unknown algorithm (OID 1.2.3.4)");
    }
}
