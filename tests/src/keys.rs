//! API keys made at test time, and independent verification of what a
//! client signed with them.

use std::sync::OnceLock;

use aws_lc_rs::encoding::{AsDer, Pkcs8V1Der};
use aws_lc_rs::signature::{self, KeyPair, UnparsedPublicKey};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

/// A private key as Kalshi hands it out (PEM) with its public half.
pub struct TestKey {
    /// `-----BEGIN PRIVATE KEY-----` PKCS#8 text.
    pub pem: String,
    public: Vec<u8>,
    rsa: bool,
}

impl TestKey {
    /// A 2048-bit RSA key, made once per test process (generation is slow).
    pub fn rsa() -> &'static TestKey {
        static KEY: OnceLock<TestKey> = OnceLock::new();
        KEY.get_or_init(|| {
            let pair = signature::RsaKeyPair::generate(aws_lc_rs::rsa::KeySize::Rsa2048)
                .expect("rsa keygen");
            let der: Pkcs8V1Der<'static> = pair.as_der().expect("pkcs8");
            TestKey {
                pem: pem("PRIVATE KEY", der.as_ref()),
                public: pair.public_key().as_ref().to_vec(),
                rsa: true,
            }
        })
    }

    /// An Ed25519 key.
    pub fn ed25519() -> &'static TestKey {
        static KEY: OnceLock<TestKey> = OnceLock::new();
        KEY.get_or_init(|| {
            let pair = signature::Ed25519KeyPair::generate().expect("ed25519 keygen");
            let der: Pkcs8V1Der<'static> = pair.as_der().expect("pkcs8");
            TestKey {
                pem: pem("PRIVATE KEY", der.as_ref()),
                public: pair.public_key().as_ref().to_vec(),
                rsa: false,
            }
        })
    }

    /// The public half as SubjectPublicKeyInfo PEM: what the simulator's
    /// control API and command line take.
    pub fn public_pem(&self) -> String {
        if self.rsa {
            // SEQUENCE { AlgorithmIdentifier rsaEncryption NULL, BIT STRING { PKCS#1 } }
            const RSA_ALGORITHM: &[u8] = &[
                0x30, 0x0d, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01, 0x05,
                0x00,
            ];
            let mut bits = vec![0x00];
            bits.extend_from_slice(&self.public);
            let mut body = RSA_ALGORITHM.to_vec();
            body.extend(der_item(0x03, &bits));
            pem("PUBLIC KEY", &der_item(0x30, &body))
        } else {
            // SEQUENCE { SEQUENCE { OID 1.3.101.112 }, BIT STRING { key } }
            let mut der = vec![
                0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00,
            ];
            der.extend_from_slice(&self.public);
            pem("PUBLIC KEY", &der)
        }
    }

    /// The public half, as the simulator takes it.
    pub fn public_key(&self) -> kalshi_sim::PublicKey {
        if self.rsa {
            kalshi_sim::PublicKey::rsa_pkcs1_der(&self.public)
                .expect("aws-lc exports PKCS#1 RSA public keys")
        } else {
            kalshi_sim::PublicKey::Ed25519(self.public.clone())
        }
    }

    /// Whether `signature` (standard base64) signs `message` with this key:
    /// RSA-PSS SHA-256 (MGF1 SHA-256, salt 32) or Ed25519.
    pub fn verifies(&self, message: &str, signature: &str) -> bool {
        let Ok(signature) = STANDARD.decode(signature) else {
            return false;
        };
        let algorithm: &dyn signature::VerificationAlgorithm = if self.rsa {
            &signature::RSA_PSS_2048_8192_SHA256
        } else {
            &signature::ED25519
        };
        UnparsedPublicKey::new(algorithm, &self.public)
            .verify(message.as_bytes(), &signature)
            .is_ok()
    }
}

/// One DER item: tag, definite length, contents.
fn der_item(tag: u8, contents: &[u8]) -> Vec<u8> {
    let mut item = vec![tag];
    let len = contents.len();
    if len < 0x80 {
        item.push(len as u8);
    } else {
        let bytes: Vec<u8> = len
            .to_be_bytes()
            .into_iter()
            .skip_while(|b| *b == 0)
            .collect();
        item.push(0x80 | bytes.len() as u8);
        item.extend(bytes);
    }
    item.extend_from_slice(contents);
    item
}

/// PEM armour around DER bytes.
pub fn pem(label: &str, der: &[u8]) -> String {
    let body = STANDARD.encode(der);
    let lines: Vec<&str> = body
        .as_bytes()
        .chunks(64)
        .map(|c| std::str::from_utf8(c).expect("base64 is ASCII"))
        .collect();
    format!(
        "-----BEGIN {label}-----\n{}\n-----END {label}-----\n",
        lines.join("\n")
    )
}
