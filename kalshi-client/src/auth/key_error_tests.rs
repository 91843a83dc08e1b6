//! Each way a key can be wrong gives its own [`KeyError`] variant, a message
//! with the fix, and no key material in `Display` or `Debug`.

use std::fs;
use std::process::Command;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

use super::test_support::{PASSPHRASE, TempDir, assert_no_key_material, keys};
use super::{Credentials, KeyError, KeyKind, NotPemHint};

const KEY_ID: &str = "a952bcbe-ec3b-4b5b-b8f9-11dae589608c";

/// Loads `pem`, expecting failure, and checks the message mentions every
/// `hint` and leaks nothing of `pem` (or of `secret`, a PEM the input derives from).
fn load_error(pem: &str, passphrase: Option<&str>, hints: &[&str], secret: &str) -> KeyError {
    let result = match passphrase {
        Some(passphrase) => Credentials::from_pem_with_passphrase(KEY_ID, pem, passphrase),
        None => Credentials::from_pem(KEY_ID, pem),
    };
    let err = result.expect_err("key must be rejected");
    check_message(&err, hints, secret);
    err
}

fn check_message(err: &KeyError, hints: &[&str], secret: &str) {
    let message = err.to_string();
    for hint in hints {
        assert!(message.contains(hint), "message lacks {hint:?}: {message}");
    }
    for text in [message, format!("{err:?}"), format!("{err:#?}")] {
        assert_no_key_material(&text, secret);
    }
}

/// A PEM block around arbitrary bytes.
fn pem_of(label: &str, bytes: &[u8]) -> String {
    format!(
        "-----BEGIN {label}-----\n{}\n-----END {label}-----\n",
        STANDARD.encode(bytes)
    )
}

#[test]
fn key_id_instead_of_key() {
    let err = load_error(KEY_ID, None, &["not PEM", "swapped"], &keys().rsa_pkcs8);
    assert!(
        matches!(
            err,
            KeyError::NotPem {
                hint: NotPemHint::KeyId
            }
        ),
        "{err:?}"
    );
}

#[test]
fn path_instead_of_key_points_to_from_pem_file() {
    let err = load_error(
        "/home/me/.kalshi/kalshi.pem",
        None,
        &["from_pem_file"],
        &keys().rsa_pkcs8,
    );
    assert!(
        matches!(
            err,
            KeyError::NotPem {
                hint: NotPemHint::FilePath
            }
        ),
        "{err:?}"
    );
}

#[test]
fn empty_and_unarmored_keys() {
    let err = load_error("  ", None, &["empty"], &keys().rsa_pkcs8);
    assert!(
        matches!(
            err,
            KeyError::NotPem {
                hint: NotPemHint::Empty
            }
        ),
        "{err:?}"
    );
    let k = &keys().rsa_pkcs8;
    let bare: String = k
        .lines()
        .filter(|l| !l.starts_with("-----"))
        .collect::<Vec<_>>()
        .join("\n");
    let err = load_error(&bare, None, &["-----BEGIN"], k);
    assert!(
        matches!(
            err,
            KeyError::NotPem {
                hint: NotPemHint::Base64WithoutArmor
            }
        ),
        "{err:?}"
    );
}

#[test]
fn openssh_key_gets_conversion_hint() {
    // The OpenSSH container starts with "openssh-key-v1\0"; a hand-written
    // block keeps the test independent of `ssh-keygen` being installed.
    let mut body = b"openssh-key-v1\0\0\0\0\x04none\0\0\0\x04none".to_vec();
    body.extend([0x5A; 120]);
    let pem = pem_of("OPENSSH PRIVATE KEY", &body);
    let err = load_error(
        &pem,
        None,
        &["OpenSSH", "ssh-keygen -p -m PEM", "openssl pkey"],
        &pem,
    );
    assert!(matches!(err, KeyError::OpenSshFormat), "{err:?}");
}

/// With a real `ssh-keygen` (when installed): its keys are recognised, and
/// the conversion the message suggests produces a key that loads.
#[test]
fn openssh_hint_converts_real_keys() {
    let dir = TempDir::new("ssh");
    let keygen = |args: &[&str]| {
        Command::new("ssh-keygen")
            .args(args)
            .current_dir(dir.path())
            .output()
    };
    match keygen(&["-q", "-t", "rsa", "-b", "2048", "-N", "", "-f", "id_rsa"]) {
        Ok(output) if output.status.success() => {}
        _ => {
            return eprintln!(
                "ssh-keygen not available; covered by openssh_key_gets_conversion_hint"
            );
        }
    }
    let original = fs::read_to_string(dir.path().join("id_rsa")).expect("ssh-keygen wrote a key");
    let err = load_error(&original, None, &["ssh-keygen -p -m PEM"], &original);
    assert!(matches!(err, KeyError::OpenSshFormat), "{err:?}");
    let converted =
        keygen(&["-q", "-p", "-m", "PEM", "-N", "", "-P", "", "-f", "id_rsa"]).expect("runs");
    assert!(
        converted.status.success(),
        "{}",
        String::from_utf8_lossy(&converted.stderr)
    );
    let pem = fs::read_to_string(dir.path().join("id_rsa")).expect("converted key");
    let credentials = Credentials::from_pem(KEY_ID, &pem).expect("converted key loads");
    assert_eq!(credentials.kind(), KeyKind::Rsa { bits: 2048 });
}

#[test]
fn public_keys_and_certificates_are_not_private_keys() {
    let k = keys();
    let cases = [
        (&k.rsa_public, "PUBLIC KEY"),
        (&k.rsa_public_pkcs1, "RSA PUBLIC KEY"),
        (&k.rsa_certificate, "CERTIFICATE"),
        (&k.ed25519_public, "PUBLIC KEY"),
    ];
    for (pem, expected) in cases {
        let err = load_error(pem, None, &["expected a private key", expected], pem);
        assert!(
            matches!(err, KeyError::PublicKeyInsteadOfPrivate { label } if label == expected),
            "{err:?}"
        );
    }
}

#[test]
fn unsupported_key_types_are_named() {
    let k = keys();
    for (pem, algorithm) in [
        (&k.ec_pkcs8, "EC (ECDSA)"),
        (&k.ec_sec1, "EC (ECDSA)"),
        (&k.ed448_pkcs8, "Ed448"),
    ] {
        let err = load_error(pem, None, &[algorithm, "RSA or Ed25519"], pem);
        assert!(
            matches!(&err, KeyError::UnsupportedKeyType { algorithm: a } if a == algorithm),
            "{err:?}"
        );
    }
}

#[test]
fn rsa_1024_is_too_small() {
    let pem = &keys().rsa_1024;
    let err = load_error(pem, None, &["1024 bits", "2048 to 8192"], pem);
    assert!(
        matches!(err, KeyError::UnsupportedRsaSize { bits: 1024 }),
        "{err:?}"
    );
}

#[test]
fn encrypted_key_without_passphrase_names_the_right_constructor() {
    for pem in [&keys().rsa_pkcs8_encrypted, &keys().ed25519_pkcs8_encrypted] {
        let err = load_error(pem, None, &["encrypted", "from_pem_with_passphrase"], pem);
        assert!(matches!(err, KeyError::PassphraseRequired), "{err:?}");
    }
}

/// Legacy `Proc-Type: 4,ENCRYPTED` keys cannot be decrypted here, with or
/// without a passphrase; the message says how to convert them.
#[test]
fn legacy_encrypted_pkcs1_needs_conversion() {
    let pem = &keys().rsa_pkcs1_legacy_encrypted;
    assert!(
        pem.contains("Proc-Type: 4,ENCRYPTED"),
        "openssl wrote a legacy-encrypted key"
    );
    for passphrase in [None, Some(PASSPHRASE)] {
        let hints = [
            "Proc-Type",
            "openssl pkcs8 -topk8",
            "from_pem_with_passphrase",
        ];
        let err = load_error(pem, passphrase, &hints, pem);
        assert!(matches!(err, KeyError::LegacyEncryptedPem), "{err:?}");
    }
}

#[test]
fn wrong_passphrase() {
    for passphrase in ["", "wrong", "correct-horse-battery-stapl"] {
        let pem = &keys().rsa_pkcs8_encrypted;
        let err = load_error(pem, Some(passphrase), &["wrong passphrase"], pem);
        assert!(matches!(err, KeyError::WrongPassphrase), "{err:?}");
    }
}

/// Old password-encryption schemes are named, with the command that
/// re-encrypts the key in a supported one.
#[test]
fn unsupported_encryption_schemes_are_named() {
    let expected = ["3DES", "PKCS#12", "HMAC-SHA1"];
    for (pem, scheme) in keys().old_encryption.iter().zip(expected) {
        let hints = [scheme, "openssl pkcs8 -topk8 -v2 aes-256-cbc"];
        let err = load_error(pem, Some(PASSPHRASE), &hints, pem);
        assert!(
            matches!(err, KeyError::UnsupportedEncryption { .. }),
            "{err:?}"
        );
    }
}

#[test]
fn malformed_der_inside_valid_pem() {
    let garbage = pem_of(
        "PRIVATE KEY",
        b"this is text, not a DER-encoded private key at all; really not",
    );
    let not_rsa = pem_of(
        "RSA PRIVATE KEY",
        b"this is text, not a DER-encoded private key at all; really not",
    );
    for pem in [&garbage, &not_rsa] {
        let err = load_error(pem, None, &["damaged", "not DER"], pem);
        assert!(matches!(err, KeyError::Malformed { .. }), "{err:?}");
    }
}

/// A real key with a damaged middle: the structure or the numbers break.
#[test]
fn corrupted_real_keys_are_malformed() {
    for pem in [&keys().rsa_pkcs1, &keys().rsa_pkcs8] {
        let mut lines: Vec<String> = pem.lines().map(str::to_owned).collect();
        let middle = lines.len() / 2;
        lines[middle] = lines[middle].chars().rev().collect();
        let damaged = lines.join("\n");
        let err = load_error(&damaged, None, &["damaged"], pem);
        assert!(matches!(err, KeyError::Malformed { .. }), "{err:?}");
    }
}

#[test]
fn invalid_base64_is_malformed() {
    let pem = keys().rsa_pkcs8.replacen("MII", "M!I", 1);
    let err = load_error(&pem, None, &["base64"], &keys().rsa_pkcs8);
    assert!(matches!(err, KeyError::Malformed { .. }), "{err:?}");
}

#[test]
fn truncated_key_is_malformed() {
    let pem = &keys().rsa_pkcs8;
    let err = load_error(
        &pem[..pem.len() / 2],
        None,
        &["END", "copied only in part"],
        pem,
    );
    assert!(matches!(err, KeyError::Malformed { .. }), "{err:?}");
}

#[test]
fn two_keys_are_ambiguous() {
    let both = format!("{}{}", keys().rsa_pkcs8, keys().ed25519_pkcs8);
    let err = load_error(&both, None, &["2 private keys"], &keys().rsa_pkcs8);
    assert!(
        matches!(err, KeyError::MultiplePrivateKeys { count: 2 }),
        "{err:?}"
    );
    check_message(&err, &[], &keys().ed25519_pkcs8);
}

#[test]
fn missing_and_unreadable_files_name_the_path() {
    let dir = TempDir::new("files");
    let missing = dir.path().join("no-such-key.pem");
    for path in [missing.as_path(), dir.path()] {
        let err = Credentials::from_pem_file(KEY_ID, path).expect_err("unreadable");
        let shown = path.display().to_string();
        check_message(
            &err,
            &["could not read the private key file", &shown],
            &keys().rsa_pkcs8,
        );
        assert!(
            matches!(&err, KeyError::File { path: p, .. } if p == path),
            "{err:?}"
        );
    }
    let err = Credentials::from_pem_file(KEY_ID, &missing).expect_err("missing");
    assert!(
        matches!(&err, KeyError::File { error, .. } if error.kind() == std::io::ErrorKind::NotFound)
    );
}

#[test]
fn files_of_something_else() {
    let dir = TempDir::new("other-files");
    let json = dir.write("config.json", r#"{"api_key_id": "abc"}"#);
    let err = Credentials::from_pem_file(KEY_ID, json).expect_err("not a key");
    assert!(
        matches!(
            err,
            KeyError::NotPem {
                hint: NotPemHint::Unknown
            }
        ),
        "{err:?}"
    );
    let der = dir.write("key.der", [0x30, 0x82, 0xFF, 0xFE, 0x02, 0x01, 0x00, 0xC0]);
    let err = Credentials::from_pem_file(KEY_ID, der).expect_err("binary");
    assert!(
        matches!(
            err,
            KeyError::NotPem {
                hint: NotPemHint::Binary
            }
        ),
        "{err:?}"
    );
    assert!(
        err.to_string().contains("openssl pkey -inform DER"),
        "{err}"
    );
}

#[test]
fn invalid_key_ids() {
    let pem = &keys().ed25519_pkcs8;
    let cases = [
        ("", "empty"),
        ("abc\n", "whitespace"),
        ("clé", "non-ASCII"),
        (pem.as_str(), "key id first"),
    ];
    for (key_id, hint) in cases {
        let err = Credentials::from_pem(key_id, pem).expect_err("bad key id");
        check_message(&err, &[hint], pem);
        assert!(matches!(err, KeyError::InvalidKeyId { .. }), "{err:?}");
    }
}
