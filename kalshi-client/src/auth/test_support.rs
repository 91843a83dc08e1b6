//! Test keys made by the `openssl` command line, and signature verifiers
//! that share no code with the signer: the `openssl` CLI, Python's
//! `cryptography`, aws-lc-rs verification, and the `rsa` crate's verifier.
//!
//! A missing `openssl` or `python3` fails the test with a message: a skipped
//! verification must never look like a passed one.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};

use aws_lc_rs::signature::{
    ED25519, RSA_PKCS1_2048_8192_SHA256, RSA_PSS_2048_8192_SHA256, RsaParameters, RsaPssSaltLength,
    UnparsedPublicKey, VerificationAlgorithm,
};

/// Passphrase of the encrypted test keys.
pub(super) const PASSPHRASE: &str = "correct-horse-battery-staple";

/// PEM (and DER where noted) test keys; the RSA forms all hold the same key.
pub(super) struct TestKeys {
    pub rsa_pkcs8: String,
    pub rsa_pkcs1: String,
    pub rsa_pkcs8_encrypted: String,
    pub rsa_pkcs1_legacy_encrypted: String,
    pub rsa_public: String,
    pub rsa_public_der: Vec<u8>,
    pub rsa_public_pkcs1: String,
    pub rsa_certificate: String,
    pub rsa_1024: String,
    pub ed25519_pkcs8: String,
    pub ed25519_pkcs8_encrypted: String,
    pub ed25519_public: String,
    pub ed25519_public_der: Vec<u8>,
    pub ec_pkcs8: String,
    pub ec_sec1: String,
    pub ed448_pkcs8: String,
    /// Encrypted PKCS#8 with schemes this crate does not decrypt.
    pub old_encryption: [String; 3],
}

/// The test keys, generated once per test process (RSA generation is the
/// slow part of the suite).
pub(super) fn keys() -> &'static TestKeys {
    static KEYS: OnceLock<TestKeys> = OnceLock::new();
    KEYS.get_or_init(generate_keys)
}

/// The `openssl` commands that write the test keys; `PASS` stands for the passphrase.
const OPENSSL_COMMANDS: [&str; 19] = [
    "genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out rsa.pem",
    "rsa -in rsa.pem -traditional -out rsa1.pem",
    "pkcs8 -topk8 -in rsa.pem -v2 aes-256-cbc -passout pass:PASS -out rsa_enc.pem",
    "rsa -in rsa.pem -traditional -aes256 -passout pass:PASS -out rsa_legacy.pem",
    "pkey -in rsa.pem -pubout -out rsa_pub.pem",
    "pkey -in rsa.pem -pubout -outform DER -out rsa_pub.der",
    "rsa -in rsa.pem -RSAPublicKey_out -out rsa_pub1.pem",
    "req -x509 -new -key rsa.pem -subj /CN=kalshi-test -days 1 -out cert.pem",
    "genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:1024 -out rsa1024.pem",
    "genpkey -algorithm ed25519 -out ed.pem",
    "pkcs8 -topk8 -in ed.pem -v2 aes-256-cbc -passout pass:PASS -out ed_enc.pem",
    "pkey -in ed.pem -pubout -out ed_pub.pem",
    "pkey -in ed.pem -pubout -outform DER -out ed_pub.der",
    "genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out ec.pem",
    "ec -in ec.pem -out ec_sec1.pem",
    "genpkey -algorithm ed448 -out ed448.pem",
    "pkcs8 -topk8 -in ed.pem -v2 des3 -v2prf hmacWithSHA1 -passout pass:PASS -out ed_3des.pem",
    "pkcs8 -topk8 -in ed.pem -v1 PBE-SHA1-3DES -passout pass:PASS -out ed_pkcs12.pem",
    "pkcs8 -topk8 -in ed.pem -v2 aes-256-cbc -v2prf hmacWithSHA1 -passout pass:PASS -out ed_sha1.pem",
];

fn generate_keys() -> TestKeys {
    let dir = TempDir::new("keys");
    for command in OPENSSL_COMMANDS {
        let command = command.replace("PASS", PASSPHRASE);
        openssl(dir.path(), &command.split_whitespace().collect::<Vec<_>>());
    }
    let text = |name: &str| dir.read_text(name);
    TestKeys {
        rsa_pkcs8: text("rsa.pem"),
        rsa_pkcs1: text("rsa1.pem"),
        rsa_pkcs8_encrypted: text("rsa_enc.pem"),
        rsa_pkcs1_legacy_encrypted: text("rsa_legacy.pem"),
        rsa_public: text("rsa_pub.pem"),
        rsa_public_der: dir.read("rsa_pub.der"),
        rsa_public_pkcs1: text("rsa_pub1.pem"),
        rsa_certificate: text("cert.pem"),
        rsa_1024: text("rsa1024.pem"),
        ed25519_pkcs8: text("ed.pem"),
        ed25519_pkcs8_encrypted: text("ed_enc.pem"),
        ed25519_public: text("ed_pub.pem"),
        ed25519_public_der: dir.read("ed_pub.der"),
        ec_pkcs8: text("ec.pem"),
        ec_sec1: text("ec_sec1.pem"),
        ed448_pkcs8: text("ed448.pem"),
        old_encryption: ["ed_3des.pem", "ed_pkcs12.pem", "ed_sha1.pem"].map(text),
    }
}

/// Runs `openssl args` in `dir`, panicking with its stderr on failure.
fn openssl(dir: &Path, args: &[&str]) {
    let output = run(
        Command::new("openssl").args(args).current_dir(dir),
        "openssl",
    );
    assert!(
        output.status.success(),
        "openssl {args:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

fn run(command: &mut Command, program: &str) -> Output {
    command.output().unwrap_or_else(|error| {
        panic!(
            "`{program}` is needed to verify signatures independently but could not run: {error}"
        )
    })
}

/// A temporary directory, removed on drop.
pub(super) struct TempDir(PathBuf);

impl TempDir {
    pub(super) fn new(purpose: &str) -> Self {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let name = format!("kalshi-auth-test-{}-{purpose}-{n}", std::process::id());
        let path = std::env::temp_dir().join(name);
        fs::create_dir_all(&path).expect("create temp dir");
        Self(path)
    }

    pub(super) fn path(&self) -> &Path {
        &self.0
    }

    pub(super) fn write(&self, name: &str, contents: impl AsRef<[u8]>) -> PathBuf {
        let path = self.0.join(name);
        fs::write(&path, contents).expect("write temp file");
        path
    }

    fn read(&self, name: &str) -> Vec<u8> {
        fs::read(self.0.join(name)).expect("read temp file")
    }

    fn read_text(&self, name: &str) -> String {
        fs::read_to_string(self.0.join(name)).expect("read temp file")
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

/// How a verifier checks a signature.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Scheme {
    /// RSA-PSS, SHA-256, MGF1-SHA-256, with this exact salt length.
    Pss {
        salt: u16,
    },
    /// RSA PKCS#1 v1.5 with SHA-256 (not what Kalshi uses: a negative control).
    Pkcs1v15,
    Ed25519,
}

/// What Kalshi verifies RSA signatures with.
pub(super) const KALSHI_PSS: Scheme = Scheme::Pss { salt: 32 };

/// Verifies with `openssl dgst` (RSA) or `openssl pkeyutl` (Ed25519).
///
/// Returns false only when openssl reports a verification failure; any other
/// failure (bad arguments, unreadable key) panics, so a broken command cannot
/// pass for a rejected signature.
pub(super) fn openssl_verifies(
    scheme: Scheme,
    public_pem: &str,
    message: &[u8],
    signature: &[u8],
) -> bool {
    let dir = TempDir::new("openssl-verify");
    dir.write("pub.pem", public_pem);
    dir.write("msg.txt", message);
    dir.write("sig.bin", signature);
    let output = run(
        Command::new("openssl")
            .args(openssl_verify_args(scheme))
            .current_dir(dir.path()),
        "openssl",
    );
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    match (output.status.success(), text.as_str()) {
        (true, t) if t.contains("Verified OK") || t.contains("Signature Verified Successfully") => {
            true
        }
        (false, t)
            if t.contains("Verification failure")
                || t.contains("Signature Verification Failure") =>
        {
            false
        }
        _ => panic!("openssl verification did not run properly ({scheme:?}): {text}"),
    }
}

fn openssl_verify_args(scheme: Scheme) -> Vec<String> {
    let dgst = |sigopts: Vec<String>| {
        let mut args = vec!["dgst".to_owned(), "-sha256".to_owned()];
        for opt in sigopts {
            args.extend(["-sigopt".to_owned(), opt]);
        }
        args.extend(["-verify", "pub.pem", "-signature", "sig.bin", "msg.txt"].map(String::from));
        args
    };
    match scheme {
        Scheme::Pss { salt } => dgst(vec![
            "rsa_padding_mode:pss".to_owned(),
            format!("rsa_pss_saltlen:{salt}"),
            "rsa_mgf1_md:sha256".to_owned(),
        ]),
        Scheme::Pkcs1v15 => dgst(vec![]),
        Scheme::Ed25519 => [
            "pkeyutl", "-verify", "-pubin", "-inkey", "pub.pem", "-rawin", "-in", "msg.txt",
            "-sigfile", "sig.bin",
        ]
        .map(String::from)
        .to_vec(),
    }
}

/// `openssl dgst` with `rsa_pss_saltlen:auto`, which recovers the salt length
/// from the signature: shows why the negative control must name a length.
pub(super) fn openssl_verifies_pss_auto_salt(
    public_pem: &str,
    message: &[u8],
    signature: &[u8],
) -> bool {
    let dir = TempDir::new("openssl-auto");
    dir.write("pub.pem", public_pem);
    dir.write("msg.txt", message);
    dir.write("sig.bin", signature);
    let args = [
        "dgst",
        "-sha256",
        "-sigopt",
        "rsa_padding_mode:pss",
        "-sigopt",
        "rsa_pss_saltlen:auto",
    ];
    let rest = [
        "-sigopt",
        "rsa_mgf1_md:sha256",
        "-verify",
        "pub.pem",
        "-signature",
        "sig.bin",
        "msg.txt",
    ];
    let output = run(
        Command::new("openssl")
            .args(args)
            .args(rest)
            .current_dir(dir.path()),
        "openssl",
    );
    output.status.success()
}

const PYTHON_VERIFY: &str = r#"
import sys
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding
scheme, salt, pub, msg, sig = sys.argv[1:]
key = serialization.load_pem_public_key(open(pub, "rb").read())
message, signature = open(msg, "rb").read(), open(sig, "rb").read()
try:
    if scheme == "pss":
        pss = padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=int(salt))
        key.verify(signature, message, pss, hashes.SHA256())
    elif scheme == "pkcs1":
        key.verify(signature, message, padding.PKCS1v15(), hashes.SHA256())
    else:
        key.verify(signature, message)
    print("VALID")
except InvalidSignature:
    print("INVALID")
"#;

/// Verifies with Python's `cryptography` package.
pub(super) fn python_verifies(
    scheme: Scheme,
    public_pem: &str,
    message: &[u8],
    signature: &[u8],
) -> bool {
    let dir = TempDir::new("python-verify");
    let paths = [
        dir.write("pub.pem", public_pem),
        dir.write("msg.txt", message),
        dir.write("sig.bin", signature),
    ];
    let (name, salt) = match scheme {
        Scheme::Pss { salt } => ("pss", salt),
        Scheme::Pkcs1v15 => ("pkcs1", 0),
        Scheme::Ed25519 => ("ed25519", 0),
    };
    let output = run(
        Command::new("python3")
            .arg("-c")
            .arg(PYTHON_VERIFY)
            .arg(name)
            .arg(salt.to_string())
            .args(paths),
        "python3",
    );
    match String::from_utf8_lossy(&output.stdout).trim() {
        "VALID" => true,
        "INVALID" => false,
        _ => panic!(
            "python verification did not run properly: {}",
            String::from_utf8_lossy(&output.stderr)
        ),
    }
}

static PSS_SALT_20: RsaParameters =
    RSA_PSS_2048_8192_SHA256.with_pss_salt_length(RsaPssSaltLength::Custom(20));

/// Verifies with aws-lc-rs's verifier, from the public key DER that openssl wrote.
pub(super) fn aws_lc_verifies(
    scheme: Scheme,
    public_der: &[u8],
    message: &[u8],
    signature: &[u8],
) -> bool {
    let algorithm: &'static dyn VerificationAlgorithm = match scheme {
        Scheme::Pss { salt: 32 } => &RSA_PSS_2048_8192_SHA256,
        Scheme::Pss { salt: 20 } => &PSS_SALT_20,
        Scheme::Pss { salt } => panic!("no aws-lc parameters for salt length {salt}"),
        Scheme::Pkcs1v15 => &RSA_PKCS1_2048_8192_SHA256,
        Scheme::Ed25519 => &ED25519,
    };
    UnparsedPublicKey::new(algorithm, public_der)
        .verify(message, signature)
        .is_ok()
}

/// Verifies an RSA signature with the `rsa` crate's verifiers (whose PSS
/// check enforces the exact salt length).
#[cfg(feature = "rsa")]
pub(super) fn rust_crypto_verifies(
    scheme: Scheme,
    public_der: &[u8],
    message: &[u8],
    signature: &[u8],
) -> bool {
    use rsa::pkcs8::DecodePublicKey;
    use rsa::signature::Verifier;
    let key = rsa::RsaPublicKey::from_public_key_der(public_der).expect("RSA public key parses");
    match scheme {
        Scheme::Pss { salt } => {
            let verifier =
                rsa::pss::VerifyingKey::<sha2::Sha256>::new_with_salt_len(key, salt.into());
            let signature = rsa::pss::Signature::try_from(signature).expect("signature bytes");
            verifier.verify(message, &signature).is_ok()
        }
        Scheme::Pkcs1v15 => {
            let verifier = rsa::pkcs1v15::VerifyingKey::<sha2::Sha256>::new(key);
            let signature = rsa::pkcs1v15::Signature::try_from(signature).expect("signature bytes");
            verifier.verify(message, &signature).is_ok()
        }
        Scheme::Ed25519 => panic!("the rsa crate does not verify Ed25519"),
    }
}

/// Panics if `text` contains any 16-character piece of the base64 in `pem`.
pub(super) fn assert_no_key_material(text: &str, pem: &str) {
    let body: String = pem
        .lines()
        .filter(|line| !line.starts_with("-----") && !line.contains(':'))
        .flat_map(str::chars)
        .filter(|c| !c.is_whitespace())
        .collect();
    assert!(body.len() >= 48, "test PEM has too little base64 to check");
    for start in (0..body.len() - 16).step_by(16) {
        let window = &body[start..start + 16];
        assert!(
            !text.contains(window),
            "output leaks key material ({window}): {text}"
        );
    }
}
