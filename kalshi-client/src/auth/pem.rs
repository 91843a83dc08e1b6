//! PEM text to private key DER.
//!
//! Finds the one private key block in the text, recognises the many wrong
//! things people paste instead (public keys, OpenSSH keys, key ids, paths),
//! decrypts encrypted PKCS#8, and returns the DER in a buffer that is zeroed
//! when dropped.
//!
//! Parsing is lenient about layout, because keys arrive through environment
//! variables and secret stores that mangle it: CRLF line ends, indentation,
//! any line width, the whole key on one line, and literal `\n` escapes
//! instead of newlines are all accepted. The base64 is then re-wrapped and
//! decoded by `pem-rfc7468` (through `pkcs8::der`), whose decoder is constant
//! time, so the secret bytes never go through a table-lookup base64 decoder.

use std::path::Path;

use pkcs8::der::zeroize::Zeroizing;
use pkcs8::der::{Decode, ErrorKind, Header, SecretDocument, SliceReader};
use pkcs8::{EncryptedPrivateKeyInfo, ObjectIdentifier, pkcs5};

use super::error::{KeyError, NotPemHint};

/// The DER of an unencrypted private key, zeroed on drop.
pub(super) enum KeyDer {
    /// `RSAPrivateKey` (RFC 8017), from `BEGIN RSA PRIVATE KEY`.
    Pkcs1(SecretDocument),
    /// `PrivateKeyInfo` (RFC 5208/5958), from `BEGIN PRIVATE KEY` or a decrypted
    /// `BEGIN ENCRYPTED PRIVATE KEY`.
    Pkcs8(SecretDocument),
}

/// Decodes the single private key in `text`, decrypting it with `passphrase`
/// if it is encrypted PKCS#8. A passphrase given for an unencrypted key is
/// ignored, so callers may always pass a configured passphrase.
pub(super) fn decode_private_key(text: &str, passphrase: Option<&str>) -> Result<KeyDer, KeyError> {
    let block = select_private_key(text)?;
    match block.label {
        "PRIVATE KEY" => block.decode().map(KeyDer::Pkcs8),
        "RSA PRIVATE KEY" if block.has_encryption_header() => Err(KeyError::LegacyEncryptedPem),
        "RSA PRIVATE KEY" => block.decode().map(KeyDer::Pkcs1),
        "ENCRYPTED PRIVATE KEY" => decrypt(&block, passphrase).map(KeyDer::Pkcs8),
        "OPENSSH PRIVATE KEY" => Err(KeyError::OpenSshFormat),
        "EC PRIVATE KEY" => Err(unsupported("EC (ECDSA)")),
        "DSA PRIVATE KEY" => Err(unsupported("DSA")),
        other => Err(KeyError::UnrecognizedPem {
            label: other.to_owned(),
        }),
    }
}

fn unsupported(algorithm: &str) -> KeyError {
    KeyError::UnsupportedKeyType {
        algorithm: algorithm.to_owned(),
    }
}

const TRUNCATED: &str =
    "the `-----END ...-----` line is missing (was the key copied only in part?)";
const BAD_BEGIN: &str = "a `-----BEGIN` line is not followed by a valid label and `-----`";
const BAD_BASE64: &str = "the base64 between the BEGIN and END lines is invalid";
const BAD_DER: &str = "the data between the BEGIN and END lines is not DER-encoded key data";
const BAD_ENCRYPTED: &str = "the encrypted PKCS#8 structure could not be parsed";

/// One `-----BEGIN label-----` ... `-----END label-----` block, borrowed from the input.
#[derive(Clone, Copy)]
struct Block<'a> {
    label: &'a str,
    /// Everything between the two boundary lines: optional headers, then base64.
    body: &'a str,
}

/// Picks the private key block, or explains what the text is instead.
fn select_private_key(text: &str) -> Result<Block<'_>, KeyError> {
    let blocks = blocks(text)?;
    let mut keys = blocks.iter().filter(|b| b.label.ends_with("PRIVATE KEY"));
    match (keys.next(), keys.next()) {
        (Some(block), None) => Ok(*block),
        (Some(_), Some(_)) => Err(KeyError::MultiplePrivateKeys {
            count: 2 + keys.count(),
        }),
        (None, _) => Err(not_a_private_key(&blocks, text)),
    }
}

/// The error for text without any private key block.
fn not_a_private_key(blocks: &[Block<'_>], text: &str) -> KeyError {
    const PUBLIC: [&str; 4] = [
        "PUBLIC KEY",
        "RSA PUBLIC KEY",
        "CERTIFICATE",
        "TRUSTED CERTIFICATE",
    ];
    let public = blocks
        .iter()
        .find_map(|b| PUBLIC.into_iter().find(|p| *p == b.label));
    match (public, blocks.first()) {
        (Some(label), _) => KeyError::PublicKeyInsteadOfPrivate { label },
        (None, Some(block)) => KeyError::UnrecognizedPem {
            label: block.label.to_owned(),
        },
        (None, None) => KeyError::NotPem {
            hint: guess_not_pem(text),
        },
    }
}

/// Splits `text` into its PEM blocks, ignoring text between them.
fn blocks(text: &str) -> Result<Vec<Block<'_>>, KeyError> {
    const BEGIN: &str = "-----BEGIN ";
    const DASHES: &str = "-----";
    let mut found = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find(BEGIN) {
        let after = &rest[start + BEGIN.len()..];
        let label_len = after.find(DASHES).ok_or(malformed(BAD_BEGIN))?;
        let label = &after[..label_len];
        if !is_valid_label(label) {
            return Err(malformed(BAD_BEGIN));
        }
        let after = &after[label_len + DASHES.len()..];
        let end = format!("-----END {label}-----");
        let body_len = after.find(&end).ok_or(malformed(TRUNCATED))?;
        found.push(Block {
            label,
            body: &after[..body_len],
        });
        rest = &after[body_len + end.len()..];
    }
    Ok(found)
}

/// RFC 7468 labels are short runs of uppercase letters, digits and single
/// spaces. Checking this keeps arbitrary text out of error messages.
fn is_valid_label(label: &str) -> bool {
    let chars_ok = label
        .bytes()
        .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b' ');
    chars_ok && !label.is_empty() && label.len() <= 64 && label.trim() == label
}

fn malformed(what: &'static str) -> KeyError {
    KeyError::Malformed { what }
}

impl Block<'_> {
    /// The body's lines, splitting on real newlines and on literal `\n` (and
    /// `\r\n`) escapes, as in keys pasted into a one-line environment variable.
    fn lines(&self) -> impl Iterator<Item = &str> {
        self.body
            .split('\n')
            .flat_map(|line| line.split("\\n"))
            .map(|line| line.trim_end_matches("\\r"))
    }

    /// RFC 1421 headers (`Proc-Type: 4,ENCRYPTED`) mark legacy OpenSSL encryption.
    fn has_encryption_header(&self) -> bool {
        self.lines()
            .any(|line| line.trim().starts_with("Proc-Type:") && line.contains("ENCRYPTED"))
    }

    /// Decodes the base64 body into DER, checking only the outer DER framing.
    fn decode(&self) -> Result<SecretDocument, KeyError> {
        let pem = self.canonical_pem();
        match SecretDocument::from_pem(&pem) {
            Ok((_label, der)) => Ok(der),
            Err(error) if matches!(error.kind(), ErrorKind::Pem(_)) => Err(malformed(BAD_BASE64)),
            Err(_) => Err(malformed(BAD_DER)),
        }
    }

    /// Rebuilds the block as strict RFC 7468 PEM (no headers, 64-column
    /// lines) in a zeroed-on-drop buffer, for the strict constant-time decoder.
    fn canonical_pem(&self) -> Zeroizing<String> {
        let mut pem = Zeroizing::new(String::with_capacity(self.body.len() + 80));
        pem.push_str("-----BEGIN ");
        pem.push_str(self.label);
        pem.push_str("-----\n");
        let mut column = 0;
        let base64 = self.lines().filter(|line| !line.contains(':'));
        for c in base64.flat_map(str::chars).filter(|c| !c.is_whitespace()) {
            pem.push(c);
            column += 1;
            if column == 64 {
                pem.push('\n');
                column = 0;
            }
        }
        if column != 0 {
            pem.push('\n');
        }
        pem.push_str("-----END ");
        pem.push_str(self.label);
        pem.push_str("-----\n");
        pem
    }
}

/// Decrypts a `BEGIN ENCRYPTED PRIVATE KEY` block into PKCS#8 `PrivateKeyInfo` DER.
fn decrypt(block: &Block<'_>, passphrase: Option<&str>) -> Result<SecretDocument, KeyError> {
    let passphrase = passphrase.ok_or(KeyError::PassphraseRequired)?;
    let der = block.decode()?;
    let info = EncryptedPrivateKeyInfo::try_from(der.as_bytes())
        .map_err(|error| unparsed_scheme(&error, der.as_bytes()))?;
    if let Some(kdf) = info.encryption_algorithm.pbes2().map(|p| &p.kdf) {
        check_kdf_cost(kdf)?;
    }
    info.decrypt(passphrase).map_err(decrypt_error)
}

/// PBKDF2 iterations accepted: RFC 8018's figure for keys where
/// "performance is not critical" (a few seconds); OpenSSL writes 2,048.
const MAX_PBKDF2_ITERATIONS: u32 = 10_000_000;
/// scrypt memory accepted (`128 * r * N` bytes, 1 GiB); OpenSSL's default
/// (N = 2^14, r = 8) takes 16 MiB.
const MAX_SCRYPT_MEMORY: u64 = 1 << 30;
/// scrypt work accepted (`N * r * p`), 512 times OpenSSL's default.
const MAX_SCRYPT_WORK: u64 = 1 << 26;

/// Refuses key-derivation parameters beyond what any real key uses, before
/// deriving: they come from the key file, so without a bound a damaged or
/// hostile key could make loading run for hours (PBKDF2 with 2^32
/// iterations) or abort the process (scrypt asking for petabytes). A zero
/// scrypt `N` is refused here too: `pkcs5` 0.7 takes its logarithm with an
/// integer underflow (a panic where overflow checks are on); other
/// non-powers of two are left to `pkcs5`, which refuses them.
fn check_kdf_cost(kdf: &pkcs5::pbes2::Kdf<'_>) -> Result<(), KeyError> {
    let refused = match kdf {
        pkcs5::pbes2::Kdf::Pbkdf2(params) => {
            (params.iteration_count > MAX_PBKDF2_ITERATIONS).then(|| {
                format!(
                    "PBKDF2 with {} iterations (at most {MAX_PBKDF2_ITERATIONS} are accepted)",
                    params.iteration_count
                )
            })
        }
        pkcs5::pbes2::Kdf::Scrypt(params) => {
            let (n, r, p) = (
                params.cost_parameter,
                u64::from(params.block_size),
                u64::from(params.parallelization),
            );
            let memory = n.saturating_mul(r).saturating_mul(128);
            let work = n.saturating_mul(r).saturating_mul(p);
            (n == 0 || memory > MAX_SCRYPT_MEMORY || work > MAX_SCRYPT_WORK).then(|| {
                format!(
                    "scrypt with N={n}, r={r}, p={p} (more memory or work than the 1 GiB and \
                     N*r*p of 2^26 accepted)"
                )
            })
        }
        // A KDF `pkcs5` adds later: its own decryption refuses or bounds it.
        _ => None,
    };
    match refused {
        Some(scheme) => Err(KeyError::UnsupportedEncryption { scheme }),
        None => Ok(()),
    }
}

/// `pkcs8` parses the encryption scheme while parsing the structure, so
/// unsupported schemes (3DES, PBES1, PKCS#12 PBE) fail here rather than at
/// decryption; they get named rather than called malformed.
fn unparsed_scheme(error: &pkcs8::Error, der: &[u8]) -> KeyError {
    let unknown = match error {
        pkcs8::Error::Asn1(asn1) => match asn1.kind() {
            ErrorKind::OidUnknown { oid } => Some(oid),
            _ => None,
        },
        _ => None,
    };
    match unknown.or_else(|| outer_scheme(der).filter(|oid| *oid != PBES2)) {
        Some(oid) => KeyError::UnsupportedEncryption {
            scheme: scheme_name(oid),
        },
        None => malformed(BAD_ENCRYPTED),
    }
}

/// The OID of `EncryptedPrivateKeyInfo.encryptionAlgorithm`
/// (`SEQUENCE { SEQUENCE { OID, ... }, OCTET STRING }`).
fn outer_scheme(der: &[u8]) -> Option<ObjectIdentifier> {
    let mut reader = SliceReader::new(der).ok()?;
    Header::decode(&mut reader).ok()?;
    Header::decode(&mut reader).ok()?;
    ObjectIdentifier::decode(&mut reader).ok()
}

/// Wrong passphrases surface as a padding failure (which `pkcs5` 0.7 reports
/// as `EncryptFailed`) or, when the padding happens to look valid, as garbage
/// DER; everything but an unsupported algorithm means "wrong passphrase".
fn decrypt_error(error: pkcs8::Error) -> KeyError {
    let scheme = match error {
        pkcs8::Error::EncryptedPrivateKey(pkcs5::Error::UnsupportedAlgorithm { oid }) => {
            scheme_name(oid)
        }
        pkcs8::Error::EncryptedPrivateKey(pkcs5::Error::NoPbes1CryptSupport) => PBES1.to_owned(),
        pkcs8::Error::EncryptedPrivateKey(pkcs5::Error::AlgorithmParametersInvalid { oid }) => {
            format!(
                "{} with parameters that are not supported",
                scheme_name(oid)
            )
        }
        _ => return KeyError::WrongPassphrase,
    };
    KeyError::UnsupportedEncryption { scheme }
}

const PBES2: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.5.13");
const PBES1: &str = "PBES1 (legacy DES/RC2 with MD5 or SHA-1)";

/// A readable name for a password-encryption algorithm OID.
fn scheme_name(oid: ObjectIdentifier) -> String {
    let text = oid.to_string();
    let name = match text.as_str() {
        "1.2.840.113549.3.7" => "DES-EDE3-CBC (3DES)",
        "1.3.14.3.2.7" => "DES-CBC",
        "1.2.840.113549.3.2" => "RC2-CBC",
        "1.2.840.113549.2.7" => "PBKDF2 with HMAC-SHA1",
        t if t.starts_with("1.2.840.113549.1.12.1.") => {
            "PKCS#12 password encryption (legacy 3DES/RC2/RC4)"
        }
        "1.2.840.113549.1.5.1"
        | "1.2.840.113549.1.5.3"
        | "1.2.840.113549.1.5.4"
        | "1.2.840.113549.1.5.6"
        | "1.2.840.113549.1.5.10"
        | "1.2.840.113549.1.5.11" => PBES1,
        _ => return format!("an unsupported algorithm (OID {text})"),
    };
    name.to_owned()
}

/// Guesses what non-PEM text is, to suggest the likely fix.
pub(super) fn guess_not_pem(text: &str) -> NotPemHint {
    let text = text.trim();
    if text.is_empty() {
        NotPemHint::Empty
    } else if text.starts_with("ssh-") || text.starts_with("ecdsa-sha2-") {
        NotPemHint::SshPublicKey
    } else if is_uuid(text) {
        NotPemHint::KeyId
    } else if looks_like_base64(text) {
        NotPemHint::Base64WithoutArmor
    } else if looks_like_path(text) {
        NotPemHint::FilePath
    } else {
        NotPemHint::Unknown
    }
}

fn is_uuid(text: &str) -> bool {
    text.len() == 36
        && text.char_indices().all(|(i, c)| match i {
            8 | 13 | 18 | 23 => c == '-',
            _ => c.is_ascii_hexdigit(),
        })
}

/// Long runs of the base64 alphabet: a key body without its BEGIN/END lines.
fn looks_like_base64(text: &str) -> bool {
    let is_b64 =
        |c: char| c.is_ascii_alphanumeric() || matches!(c, '+' | '/' | '=') || c.is_whitespace();
    text.len() >= 64 && text.chars().all(is_b64)
}

/// One short line that names an existing file or is shaped like a path.
fn looks_like_path(text: &str) -> bool {
    const EXTENSIONS: [&str; 4] = [".pem", ".key", ".txt", ".der"];
    if text.len() > 4096 || text.contains('\n') {
        return false;
    }
    let shaped = text.starts_with(['/', '~', '.']) || text.contains(['/', '\\']);
    shaped || EXTENSIONS.iter().any(|ext| text.ends_with(ext)) || Path::new(text).is_file()
}

#[cfg(test)]
mod tests {
    use super::*;

    const FAKE_BODY: &str = "MC4CAQAwBQYDK2VwBCIEIBr9Ul3oqK1PpCrVJdBKfP8X2QN5QypTqz6nSSnHrT4E";

    fn fake(label: &str) -> String {
        format!("-----BEGIN {label}-----\n{FAKE_BODY}\n-----END {label}-----\n")
    }

    fn pkcs8_der(text: &str) -> Vec<u8> {
        match decode_private_key(text, None) {
            Ok(KeyDer::Pkcs8(doc)) => doc.as_bytes().to_vec(),
            Ok(KeyDer::Pkcs1(_)) => panic!("decoded as PKCS#1"),
            Err(e) => panic!("decoding failed: {e}"),
        }
    }

    /// Keys survive the layouts that environment variables and secret stores
    /// produce, decoding to the same DER as the tidy original.
    #[test]
    fn lenient_layouts_decode_identically() {
        let tidy = pkcs8_der(&fake("PRIVATE KEY"));
        let (head, tail) = FAKE_BODY.split_at(20);
        let layouts = [
            format!("-----BEGIN PRIVATE KEY-----\r\n{FAKE_BODY}\r\n-----END PRIVATE KEY-----\r\n"),
            format!(
                "  -----BEGIN PRIVATE KEY-----\n  {head}\n  {tail}\n  -----END PRIVATE KEY-----"
            ),
            format!("-----BEGIN PRIVATE KEY----- {FAKE_BODY} -----END PRIVATE KEY-----"),
            format!("-----BEGIN PRIVATE KEY-----\\n{head}\\n{tail}\\n-----END PRIVATE KEY-----\\n"),
            format!(
                "-----BEGIN PRIVATE KEY-----\\r\\n{head}\\r\\n{tail}\\r\\n-----END PRIVATE KEY-----"
            ),
            format!("leading junk\n{}\ntrailing junk", fake("PRIVATE KEY")),
        ];
        for layout in &layouts {
            assert_eq!(pkcs8_der(layout), tidy, "layout {layout:?}");
        }
    }

    /// A certificate next to the key (a common bundle) does not get in the way.
    #[test]
    fn key_next_to_certificate_is_found() {
        let bundle = format!("{}{}", fake("CERTIFICATE"), fake("PRIVATE KEY"));
        assert_eq!(pkcs8_der(&bundle), pkcs8_der(&fake("PRIVATE KEY")));
    }

    #[test]
    fn two_private_keys_are_ambiguous() {
        let two = format!("{}{}", fake("PRIVATE KEY"), fake("RSA PRIVATE KEY"));
        let err = decode_private_key(&two, None).err();
        assert!(
            matches!(err, Some(KeyError::MultiplePrivateKeys { count: 2 })),
            "{err:?}"
        );
    }

    #[test]
    fn truncated_block_is_malformed() {
        let cut = &fake("PRIVATE KEY")[..60];
        let err = decode_private_key(cut, None).err();
        assert!(
            matches!(err, Some(KeyError::Malformed { what: TRUNCATED })),
            "{err:?}"
        );
    }

    #[test]
    fn bad_labels_are_not_echoed() {
        let text = "-----BEGIN secret stuff here-----\nAAAA\n-----END secret stuff here-----";
        let err = decode_private_key(text, None).err();
        assert!(
            matches!(err, Some(KeyError::Malformed { what: BAD_BEGIN })),
            "{err:?}"
        );
    }

    #[test]
    fn unknown_labels_are_named() {
        let err = decode_private_key(&fake("X509 CRL"), None).err();
        assert!(
            matches!(&err, Some(KeyError::UnrecognizedPem { label }) if label == "X509 CRL"),
            "{err:?}"
        );
    }

    #[test]
    fn not_pem_hints() {
        let cases = [
            ("", NotPemHint::Empty),
            ("  \n ", NotPemHint::Empty),
            ("a952bcbe-ec3b-4b5b-b8f9-11dae589608c", NotPemHint::KeyId),
            ("/home/me/.kalshi/key.pem", NotPemHint::FilePath),
            ("kalshi.key", NotPemHint::FilePath),
            ("C:\\Users\\me\\kalshi.pem", NotPemHint::FilePath),
            (FAKE_BODY, NotPemHint::Base64WithoutArmor),
            (
                "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAI me@host",
                NotPemHint::SshPublicKey,
            ),
            ("{\"api_key\": 1}", NotPemHint::Unknown),
        ];
        for (text, hint) in cases {
            assert_eq!(guess_not_pem(text), hint, "{text:?}");
        }
    }
}
