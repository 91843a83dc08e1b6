//! Configuration from environment variables, read one way everywhere.
//!
//! [`Client::from_env`](crate::Client::from_env) and
//! [`Credentials::from_env`] share [`lookup`]: an empty (or all-whitespace)
//! value counts as unset, because deployment tools often define every
//! variable and leave the unused ones empty; a value that is not valid
//! Unicode is an error naming the variable, never "unset".

use pkcs8::der::zeroize::Zeroizing;

use super::credentials::Credentials;
use super::error::KeyError;

/// Environment variable holding the API key id.
pub const ENV_API_KEY_ID: &str = "KALSHI_API_KEY_ID";
/// Environment variable holding the path of the PEM private key file.
pub const ENV_PRIVATE_KEY_PATH: &str = "KALSHI_PRIVATE_KEY_PATH";
/// Environment variable holding the PEM private key text itself.
pub const ENV_PRIVATE_KEY: &str = "KALSHI_PRIVATE_KEY";
/// Environment variable holding the passphrase of an encrypted private key.
pub const ENV_PRIVATE_KEY_PASSPHRASE: &str = "KALSHI_PRIVATE_KEY_PASSPHRASE";

/// A variable's value through `get`, with an empty value as unset.
pub(crate) fn lookup<E>(
    get: &impl Fn(&'static str) -> Result<Option<String>, E>,
    name: &'static str,
) -> Result<Option<String>, E> {
    Ok(get(name)?.filter(|value| !value.trim().is_empty()))
}

/// Reads a variable from the process environment: `Ok(None)` when unset,
/// an error naming it when its value is not valid Unicode.
pub(crate) fn process_var(name: &'static str) -> Result<Option<String>, KeyError> {
    read_var(name, std::env::var(name))
}

/// What [`std::env::var`] answered, as a lookup result.
fn read_var(
    name: &'static str,
    value: Result<String, std::env::VarError>,
) -> Result<Option<String>, KeyError> {
    match value {
        Ok(value) => Ok(Some(value)),
        Err(std::env::VarError::NotPresent) => Ok(None),
        Err(std::env::VarError::NotUnicode(_)) => Err(KeyError::EnvNotUnicode { var: name }),
    }
}

/// Implements [`Credentials::from_env`] over any variable source.
pub(crate) fn credentials_from(
    get: impl Fn(&'static str) -> Result<Option<String>, KeyError>,
) -> Result<Option<Credentials>, KeyError> {
    let key_id = lookup(&get, ENV_API_KEY_ID)?;
    let path = lookup(&get, ENV_PRIVATE_KEY_PATH)?;
    let pem = lookup(&get, ENV_PRIVATE_KEY)?.map(Zeroizing::new);
    let passphrase = lookup(&get, ENV_PRIVATE_KEY_PASSPHRASE)?.map(Zeroizing::new);
    let passphrase = passphrase.as_deref().map(String::as_str);
    match (key_id, path, pem) {
        (None, None, None) => Ok(None),
        (_, Some(_), Some(_)) => Err(KeyError::EnvConflictingKeys),
        (None, Some(_), None) => Err(KeyError::EnvKeyIdMissing {
            key_var: ENV_PRIVATE_KEY_PATH,
        }),
        (None, None, Some(_)) => Err(KeyError::EnvKeyIdMissing {
            key_var: ENV_PRIVATE_KEY,
        }),
        (Some(_), None, None) => Err(KeyError::EnvKeyMissing),
        (Some(key_id), Some(path), None) => {
            Credentials::load_file(key_id, path.as_ref(), passphrase).map(Some)
        }
        (Some(key_id), None, Some(pem)) => match passphrase {
            Some(passphrase) => Credentials::from_pem_with_passphrase(key_id, &pem, passphrase),
            None => Credentials::from_pem(key_id, &pem),
        }
        .map(Some),
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;
    use crate::auth::test_support::{TempDir, keys};
    use crate::auth::{KeyKind, NotPemHint};

    const KEY_ID: &str = "a952bcbe-ec3b-4b5b-b8f9-11dae589608c";

    fn from_vars(vars: &[(&str, &str)]) -> Result<Option<Credentials>, KeyError> {
        let vars: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        Credentials::from_env_with(|name| vars.get(name).cloned())
    }

    /// Every combination of the three variables being set or unset.
    #[test]
    fn all_combinations() {
        let dir = TempDir::new("env");
        let path = dir.write("kalshi.pem", &keys().ed25519_pkcs8);
        let path = path.to_str().expect("temp path is UTF-8");
        let pem = keys().rsa_pkcs8.as_str();
        let (id, file, text) = (
            (ENV_API_KEY_ID, KEY_ID),
            (ENV_PRIVATE_KEY_PATH, path),
            (ENV_PRIVATE_KEY, pem),
        );

        assert!(matches!(from_vars(&[]), Ok(None)));
        assert!(matches!(from_vars(&[id]), Err(KeyError::EnvKeyMissing)));
        let missing_id = |r| matches!(r, Err(KeyError::EnvKeyIdMissing { key_var }) if key_var == file.0 || key_var == text.0);
        assert!(missing_id(from_vars(&[file])));
        assert!(missing_id(from_vars(&[text])));
        assert!(matches!(
            from_vars(&[file, text]),
            Err(KeyError::EnvConflictingKeys)
        ));
        assert!(matches!(
            from_vars(&[id, file, text]),
            Err(KeyError::EnvConflictingKeys)
        ));

        let from_file = from_vars(&[id, file]).expect("loads").expect("some");
        assert_eq!(
            (from_file.key_id(), from_file.kind()),
            (KEY_ID, KeyKind::Ed25519)
        );
        let from_text = from_vars(&[id, text]).expect("loads").expect("some");
        assert_eq!(
            (from_text.key_id(), from_text.kind()),
            (KEY_ID, KeyKind::Rsa { bits: 2048 })
        );
    }

    /// Variables to set, and the names the error message must mention.
    type Case = (
        &'static [(&'static str, &'static str)],
        &'static [&'static str],
    );

    #[test]
    fn missing_variable_errors_name_the_variables() {
        let cases: [Case; 4] = [
            (
                &[(ENV_API_KEY_ID, KEY_ID)],
                &[ENV_PRIVATE_KEY_PATH, ENV_PRIVATE_KEY],
            ),
            (
                &[(ENV_PRIVATE_KEY_PATH, "/k.pem")],
                &[ENV_PRIVATE_KEY_PATH, ENV_API_KEY_ID],
            ),
            (
                &[(ENV_PRIVATE_KEY, "-----BEGIN")],
                &[ENV_PRIVATE_KEY, ENV_API_KEY_ID],
            ),
            (
                &[(ENV_PRIVATE_KEY, "x"), (ENV_PRIVATE_KEY_PATH, "y")],
                &[ENV_PRIVATE_KEY, ENV_PRIVATE_KEY_PATH],
            ),
        ];
        for (vars, names) in cases {
            let message = from_vars(vars).expect_err("incomplete").to_string();
            for name in names {
                assert!(message.contains(name), "{message} lacks {name}");
            }
        }
    }

    #[test]
    fn a_value_that_is_not_unicode_is_an_error_naming_the_variable() {
        use std::os::unix::ffi::OsStringExt;
        let bytes = std::ffi::OsString::from_vec(vec![b'k', 0xff, 0xfe]);
        let error = read_var(
            ENV_PRIVATE_KEY_PATH,
            Err(std::env::VarError::NotUnicode(bytes)),
        )
        .unwrap_err();
        assert!(matches!(error, KeyError::EnvNotUnicode { var } if var == ENV_PRIVATE_KEY_PATH));
        assert!(error.to_string().contains(ENV_PRIVATE_KEY_PATH), "{error}");
        assert_eq!(
            read_var(ENV_API_KEY_ID, Err(std::env::VarError::NotPresent)).unwrap(),
            None
        );
        // Through the credentials reader, the error stops the load.
        let error = credentials_from(|name| {
            if name == ENV_PRIVATE_KEY {
                Err(KeyError::EnvNotUnicode { var: name })
            } else {
                Ok(Some("k".to_owned()))
            }
        })
        .unwrap_err();
        assert!(matches!(error, KeyError::EnvNotUnicode { .. }), "{error:?}");
    }

    #[test]
    fn an_encrypted_key_loads_with_the_passphrase_variable() {
        use crate::auth::test_support::PASSPHRASE;
        let dir = TempDir::new("env-passphrase");
        let encrypted = keys().ed25519_pkcs8_encrypted.as_str();
        let path = dir.write("enc.pem", encrypted);
        let path = path.to_str().expect("temp path is UTF-8");
        let loaded = from_vars(&[
            (ENV_API_KEY_ID, KEY_ID),
            (ENV_PRIVATE_KEY, encrypted),
            (ENV_PRIVATE_KEY_PASSPHRASE, PASSPHRASE),
        ])
        .expect("decrypts")
        .expect("some");
        assert_eq!(loaded.kind(), KeyKind::Ed25519);
        let from_file = from_vars(&[
            (ENV_API_KEY_ID, KEY_ID),
            (ENV_PRIVATE_KEY_PATH, path),
            (ENV_PRIVATE_KEY_PASSPHRASE, PASSPHRASE),
        ])
        .expect("decrypts")
        .expect("some");
        assert_eq!(from_file.key_id(), KEY_ID);
        let without = from_vars(&[(ENV_API_KEY_ID, KEY_ID), (ENV_PRIVATE_KEY_PATH, path)]);
        let error = without.expect_err("encrypted without passphrase");
        assert!(matches!(error, KeyError::PassphraseRequired), "{error:?}");
        assert!(
            error.to_string().contains(ENV_PRIVATE_KEY_PASSPHRASE),
            "{error}"
        );
        let wrong = from_vars(&[
            (ENV_API_KEY_ID, KEY_ID),
            (ENV_PRIVATE_KEY_PATH, path),
            (ENV_PRIVATE_KEY_PASSPHRASE, "not it"),
        ]);
        assert!(matches!(wrong, Err(KeyError::WrongPassphrase)), "{wrong:?}");
    }

    #[test]
    fn empty_values_count_as_unset() {
        assert!(matches!(
            from_vars(&[(ENV_API_KEY_ID, ""), (ENV_PRIVATE_KEY, " \n")]),
            Ok(None)
        ));
        let pem = keys().ed25519_pkcs8.as_str();
        let vars = [
            (ENV_API_KEY_ID, KEY_ID),
            (ENV_PRIVATE_KEY_PATH, ""),
            (ENV_PRIVATE_KEY, pem),
        ];
        assert!(matches!(from_vars(&vars), Ok(Some(_))));
    }

    /// Key problems pass through: a path in the PEM variable gets the hint
    /// to use the path variable, a bad path is named.
    #[test]
    fn key_errors_pass_through() {
        let err = from_vars(&[
            (ENV_API_KEY_ID, KEY_ID),
            (ENV_PRIVATE_KEY, "/etc/kalshi/key.pem"),
        ])
        .err();
        assert!(
            matches!(
                err,
                Some(KeyError::NotPem {
                    hint: NotPemHint::FilePath
                })
            ),
            "{err:?}"
        );
        let message = err.map(|e| e.to_string()).unwrap_or_default();
        assert!(message.contains(ENV_PRIVATE_KEY_PATH), "{message}");
        let err = from_vars(&[
            (ENV_API_KEY_ID, KEY_ID),
            (ENV_PRIVATE_KEY_PATH, "/nonexistent/kalshi.pem"),
        ])
        .err();
        assert!(
            matches!(&err, Some(KeyError::File { path, .. }) if path.ends_with("kalshi.pem")),
            "{err:?}"
        );
    }
}
