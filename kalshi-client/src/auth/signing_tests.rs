//! Signatures from every key form and backend, checked by independent
//! verifiers (openssl CLI, Python `cryptography`, aws-lc-rs, the `rsa`
//! crate), plus negative controls showing those verifiers do reject the
//! mistakes that cause 401s in practice.
//!
//! RSA-PSS is randomized, so signatures are only ever verified, never
//! compared with expected bytes.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

#[cfg(feature = "rsa")]
use super::test_support::rust_crypto_verifies;
use super::test_support::{
    KALSHI_PSS, PASSPHRASE, Scheme, assert_no_key_material, aws_lc_verifies, keys,
    openssl_verifies, openssl_verifies_pss_auto_salt, python_verifies,
};
use super::{Credentials, KeyKind, RsaBackend, signing_message};

const KEY_ID: &str = "a952bcbe-ec3b-4b5b-b8f9-11dae589608c";
const TS: u64 = 1_703_123_456_789;
const BALANCE: &str = "/trade-api/v2/portfolio/balance";

/// A public key in the forms the verifiers read.
struct PublicKey {
    pem: &'static str,
    der: &'static [u8],
    scheme: Scheme,
}

fn rsa_public() -> PublicKey {
    PublicKey {
        pem: &keys().rsa_public,
        der: &keys().rsa_public_der,
        scheme: KALSHI_PSS,
    }
}

fn ed25519_public() -> PublicKey {
    PublicKey {
        pem: &keys().ed25519_public,
        der: &keys().ed25519_public_der,
        scheme: Scheme::Ed25519,
    }
}

fn load(pem: &str) -> Credentials {
    Credentials::from_pem(KEY_ID, pem).unwrap_or_else(|e| panic!("key loads: {e}"))
}

#[cfg(feature = "rsa")]
fn load_rust_crypto(pem: &str) -> Credentials {
    let credentials = load(pem).with_rsa_backend(RsaBackend::RustCrypto);
    assert_eq!(credentials.rsa_backend(), Some(RsaBackend::RustCrypto));
    credentials
}

fn assert_verified_everywhere(public: &PublicKey, message: &[u8], signature: &[u8]) {
    assert!(
        openssl_verifies(public.scheme, public.pem, message, signature),
        "openssl rejected"
    );
    assert!(
        python_verifies(public.scheme, public.pem, message, signature),
        "python rejected"
    );
    assert!(
        aws_lc_verifies(public.scheme, public.der, message, signature),
        "aws-lc rejected"
    );
    #[cfg(feature = "rsa")]
    if public.scheme != Scheme::Ed25519 {
        let verified = rust_crypto_verifies(public.scheme, public.der, message, signature);
        assert!(verified, "rsa crate rejected");
    }
}

fn assert_rejected(
    scheme: Scheme,
    public: &PublicKey,
    message: &[u8],
    signature: &[u8],
    what: &str,
) {
    assert!(
        !openssl_verifies(scheme, public.pem, message, signature),
        "openssl accepted {what}"
    );
    assert!(
        !aws_lc_verifies(scheme, public.der, message, signature),
        "aws-lc accepted {what}"
    );
    #[cfg(feature = "rsa")]
    if scheme != Scheme::Ed25519 {
        let verified = rust_crypto_verifies(scheme, public.der, message, signature);
        assert!(!verified, "rsa crate accepted {what}");
    }
}

/// Signs the example balance request, checks the header values, verifies
/// the signature everywhere, and returns the raw signature.
fn sign_and_verify(credentials: &Credentials, public: &PublicKey) -> Vec<u8> {
    let headers = credentials.sign(TS, "GET", BALANCE).expect("signs");
    assert_eq!(headers.key_id, KEY_ID);
    assert_eq!(headers.timestamp, "1703123456789");
    let signature = STANDARD
        .decode(&headers.signature)
        .expect("standard base64");
    assert_eq!(
        STANDARD.encode(&signature),
        headers.signature,
        "canonical padded base64"
    );
    let message = signing_message(TS, "GET", BALANCE);
    assert_eq!(message, "1703123456789GET/trade-api/v2/portfolio/balance");
    assert_verified_everywhere(public, message.as_bytes(), &signature);
    signature
}

#[test]
fn rsa_pkcs1_signature_verifies() {
    let credentials = load(&keys().rsa_pkcs1);
    assert_eq!(credentials.kind(), KeyKind::Rsa { bits: 2048 });
    assert_eq!(credentials.rsa_backend(), Some(RsaBackend::AwsLc));
    let signature = sign_and_verify(&credentials, &rsa_public());
    assert_eq!(signature.len(), 256);
}

#[test]
fn rsa_pkcs8_signature_verifies() {
    let credentials = load(&keys().rsa_pkcs8);
    assert_eq!(credentials.kind(), KeyKind::Rsa { bits: 2048 });
    sign_and_verify(&credentials, &rsa_public());
}

#[test]
fn encrypted_rsa_pkcs8_signature_verifies() {
    let credentials =
        Credentials::from_pem_with_passphrase(KEY_ID, &keys().rsa_pkcs8_encrypted, PASSPHRASE)
            .expect("decrypts with the right passphrase");
    assert_eq!(credentials.kind(), KeyKind::Rsa { bits: 2048 });
    sign_and_verify(&credentials, &rsa_public());
}

#[test]
fn ed25519_pkcs8_signature_verifies() {
    let credentials = load(&keys().ed25519_pkcs8);
    assert_eq!(credentials.kind(), KeyKind::Ed25519);
    assert_eq!(credentials.rsa_backend(), None);
    let signature = sign_and_verify(&credentials, &ed25519_public());
    assert_eq!(signature.len(), 64);
}

#[test]
fn encrypted_ed25519_pkcs8_signature_verifies() {
    let credentials =
        Credentials::from_pem_with_passphrase(KEY_ID, &keys().ed25519_pkcs8_encrypted, PASSPHRASE)
            .expect("decrypts with the right passphrase");
    sign_and_verify(&credentials, &ed25519_public());
}

/// A passphrase given for a key that is not encrypted is simply unused.
#[test]
fn passphrase_for_unencrypted_key_is_ignored() {
    let credentials =
        Credentials::from_pem_with_passphrase(KEY_ID, &keys().rsa_pkcs1, "unused").expect("loads");
    assert_eq!(credentials.kind(), KeyKind::Rsa { bits: 2048 });
}

#[test]
fn file_key_signature_verifies() {
    let dir = super::test_support::TempDir::new("file-key");
    let path = dir.write("kalshi.pem", &keys().rsa_pkcs1);
    let credentials = Credentials::from_pem_file(KEY_ID, &path).expect("loads from file");
    sign_and_verify(&credentials, &rsa_public());
}

#[cfg(feature = "rsa")]
#[test]
fn rust_crypto_backend_signatures_verify() {
    for pem in [&keys().rsa_pkcs1, &keys().rsa_pkcs8] {
        let credentials = load_rust_crypto(pem);
        assert_eq!(credentials.kind(), KeyKind::Rsa { bits: 2048 });
        sign_and_verify(&credentials, &rsa_public());
    }
}

/// Backends switch both ways, and Ed25519 keys ignore the request.
#[test]
fn backend_selection() {
    let rsa = load(&keys().rsa_pkcs8).with_rsa_backend(RsaBackend::AwsLc);
    assert_eq!(rsa.rsa_backend(), Some(RsaBackend::AwsLc));
    #[cfg(feature = "rsa")]
    {
        let switched = rsa.clone().with_rsa_backend(RsaBackend::RustCrypto);
        assert_eq!(switched.rsa_backend(), Some(RsaBackend::RustCrypto));
        let back = switched.with_rsa_backend(RsaBackend::AwsLc);
        assert_eq!(back.rsa_backend(), Some(RsaBackend::AwsLc));
        sign_and_verify(&back, &rsa_public());
    }
    let ed = load(&keys().ed25519_pkcs8).with_rsa_backend(RsaBackend::default());
    assert_eq!(ed.rsa_backend(), None);
    assert_eq!(ed.kind(), KeyKind::Ed25519);
}

/// PSS draws a fresh salt for every signature, so two signatures of the same
/// message differ (and both verify). Ed25519 is deterministic.
#[test]
fn rsa_signatures_are_randomized() {
    let signers = rsa_backends().map(|backend| load(&keys().rsa_pkcs1).with_rsa_backend(backend));
    let message = signing_message(TS, "GET", BALANCE);
    let public = rsa_public();
    for credentials in signers {
        let first = credentials
            .sign(TS, "GET", BALANCE)
            .expect("signs")
            .signature;
        let second = credentials
            .sign(TS, "GET", BALANCE)
            .expect("signs")
            .signature;
        assert_ne!(first, second, "{:?}", credentials.rsa_backend());
        for signature in [first, second] {
            let raw = STANDARD.decode(signature).expect("base64");
            assert!(aws_lc_verifies(
                public.scheme,
                public.der,
                message.as_bytes(),
                &raw
            ));
        }
    }
    let ed = load(&keys().ed25519_pkcs8);
    let sign = || ed.sign(TS, "GET", BALANCE).expect("signs").signature;
    assert_eq!(sign(), sign());
}

/// Every signer whose signatures the negative controls check.
fn all_signers() -> Vec<(Credentials, PublicKey)> {
    let rsa = rsa_backends().map(|backend| {
        (
            load(&keys().rsa_pkcs8).with_rsa_backend(backend),
            rsa_public(),
        )
    });
    rsa.chain([(load(&keys().ed25519_pkcs8), ed25519_public())])
        .collect()
}

/// Every RSA backend compiled in.
fn rsa_backends() -> impl Iterator<Item = RsaBackend> {
    [
        RsaBackend::AwsLc,
        #[cfg(feature = "rsa")]
        RsaBackend::RustCrypto,
    ]
    .into_iter()
}

/// Signing the query string is the classic cause of 401s: a signature over
/// `...orders?limit=5` does not verify for the message Kalshi builds.
#[test]
fn signature_including_query_does_not_verify_without_it() {
    let with_query = signing_message(TS, "GET", "/trade-api/v2/portfolio/orders?limit=5");
    let without = signing_message(TS, "GET", "/trade-api/v2/portfolio/orders");
    for (credentials, public) in all_signers() {
        let signature = credentials.sign_raw(with_query.as_bytes()).expect("signs");
        assert!(openssl_verifies(
            public.scheme,
            public.pem,
            with_query.as_bytes(),
            &signature
        ));
        assert!(python_verifies(
            public.scheme,
            public.pem,
            with_query.as_bytes(),
            &signature
        ));
        assert_rejected(
            public.scheme,
            &public,
            without.as_bytes(),
            &signature,
            "a query-string signature",
        );
        assert!(!python_verifies(
            public.scheme,
            public.pem,
            without.as_bytes(),
            &signature
        ));
    }
}

#[test]
fn signature_without_api_prefix_does_not_verify() {
    let short = signing_message(TS, "GET", "/portfolio/balance");
    for (credentials, public) in all_signers() {
        let headers = credentials.sign(TS, "GET", BALANCE).expect("signs");
        let signature = STANDARD.decode(&headers.signature).expect("base64");
        assert_rejected(
            public.scheme,
            &public,
            short.as_bytes(),
            &signature,
            "a message without /trade-api/v2",
        );
        assert!(!python_verifies(
            public.scheme,
            public.pem,
            short.as_bytes(),
            &signature
        ));
    }
}

/// The salt length is part of what Kalshi checks: verifying with 20 (the
/// SHA-1-era default) fails. openssl's `auto` would hide this by reading the
/// length from the signature, so the controls name the length explicitly.
#[test]
fn salt_length_20_rejects_salt_32_signatures() {
    let message = signing_message(TS, "GET", BALANCE);
    for (credentials, public) in all_signers()
        .into_iter()
        .filter(|(c, _)| c.rsa_backend().is_some())
    {
        let signature = credentials.sign_raw(message.as_bytes()).expect("signs");
        let salt_20 = Scheme::Pss { salt: 20 };
        assert_rejected(
            salt_20,
            &public,
            message.as_bytes(),
            &signature,
            "salt length 20",
        );
        assert!(!python_verifies(
            salt_20,
            public.pem,
            message.as_bytes(),
            &signature
        ));
        assert!(openssl_verifies_pss_auto_salt(
            public.pem,
            message.as_bytes(),
            &signature
        ));
    }
}

#[test]
fn pkcs1v15_verification_rejects_pss_signatures() {
    let message = signing_message(TS, "GET", BALANCE);
    for (credentials, public) in all_signers()
        .into_iter()
        .filter(|(c, _)| c.rsa_backend().is_some())
    {
        let signature = credentials.sign_raw(message.as_bytes()).expect("signs");
        assert_rejected(
            Scheme::Pkcs1v15,
            &public,
            message.as_bytes(),
            &signature,
            "PKCS#1 v1.5",
        );
        assert!(!python_verifies(
            Scheme::Pkcs1v15,
            public.pem,
            message.as_bytes(),
            &signature
        ));
    }
}

/// The percent-encoded path is what is signed; the decoded one is different.
#[test]
fn percent_encoding_is_signed_as_is() {
    let encoded = "/trade-api/v2/markets/A%20B";
    let credentials = load(&keys().rsa_pkcs8);
    let public = rsa_public();
    let headers = credentials.sign(TS, "GET", encoded).expect("signs");
    let signature = STANDARD.decode(&headers.signature).expect("base64");
    let signed = signing_message(TS, "GET", encoded);
    assert!(aws_lc_verifies(
        KALSHI_PSS,
        public.der,
        signed.as_bytes(),
        &signature
    ));
    let decoded = signing_message(TS, "GET", "/trade-api/v2/markets/A B");
    assert!(!aws_lc_verifies(
        KALSHI_PSS,
        public.der,
        decoded.as_bytes(),
        &signature
    ));
}

#[test]
fn sign_refuses_paths_with_query_or_fragment() {
    let credentials = load(&keys().ed25519_pkcs8);
    for path in [
        "/trade-api/v2/portfolio/orders?limit=5",
        "/trade-api/v2/markets#x",
    ] {
        let err = credentials.sign(TS, "GET", path).expect_err("rejected");
        assert!(err.to_string().contains("wire_path"), "{err}");
    }
}

#[test]
fn debug_output_has_no_key_material() {
    let k = keys();
    let cases = [
        (&k.rsa_pkcs1, "Rsa { bits: 2048 }"),
        (&k.rsa_pkcs8, "Rsa { bits: 2048 }"),
        (&k.ed25519_pkcs8, "Ed25519"),
    ];
    for (pem, kind) in cases {
        let credentials = load(pem);
        let compact = format!("{credentials:?}");
        let pretty = format!("{credentials:#?}");
        for text in [&compact, &pretty] {
            assert_no_key_material(text, pem);
            assert!(text.contains("a952bcbe…"), "{text}");
            assert!(!text.contains(KEY_ID), "key id is shortened: {text}");
        }
        assert!(compact.contains(kind), "{compact}");
    }
    let rsa = format!("{:?}", load(&k.rsa_pkcs1));
    assert_eq!(
        rsa,
        "Credentials { key_id: \"a952bcbe…\", kind: Rsa { bits: 2048 }, backend: AwsLc }"
    );
}

#[test]
fn signed_headers_debug_shortens_the_signature() {
    let headers = load(&keys().ed25519_pkcs8)
        .sign(TS, "GET", BALANCE)
        .expect("signs");
    let debug = format!("{headers:?}");
    assert!(!debug.contains(&headers.signature), "{debug}");
    assert!(
        debug.contains(&format!("\"{}…\"", &headers.signature[..8])),
        "{debug}"
    );
    assert!(debug.contains("1703123456789"), "{debug}");
    let names: Vec<_> = headers.pairs().iter().map(|(name, _)| *name).collect();
    assert_eq!(
        names,
        [
            "KALSHI-ACCESS-KEY",
            "KALSHI-ACCESS-TIMESTAMP",
            "KALSHI-ACCESS-SIGNATURE"
        ]
    );
}

/// One `Credentials` is shared by all request tasks.
#[test]
fn credentials_are_shareable_across_threads() {
    fn assert_send_sync<T: Send + Sync + Clone + 'static>() {}
    assert_send_sync::<Credentials>();
    let credentials = load(&keys().ed25519_pkcs8);
    let handles: Vec<_> = (0..4)
        .map(|i| {
            let credentials = credentials.clone();
            std::thread::spawn(move || {
                credentials
                    .sign(TS + i, "GET", BALANCE)
                    .map(|h| h.timestamp)
            })
        })
        .collect();
    for (i, handle) in (0..4u64).zip(handles) {
        assert_eq!(
            handle.join().expect("thread").expect("signs"),
            (TS + i).to_string()
        );
    }
}
