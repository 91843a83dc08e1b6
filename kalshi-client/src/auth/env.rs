//! Credentials from environment variables.

use pkcs8::der::zeroize::Zeroizing;

use super::credentials::Credentials;
use super::error::KeyError;

/// Environment variable holding the API key id.
pub const ENV_API_KEY_ID: &str = "KALSHI_API_KEY_ID";
/// Environment variable holding the path of the PEM private key file.
pub const ENV_PRIVATE_KEY_PATH: &str = "KALSHI_PRIVATE_KEY_PATH";
/// Environment variable holding the PEM private key text itself.
pub const ENV_PRIVATE_KEY: &str = "KALSHI_PRIVATE_KEY";

/// Implements [`Credentials::from_env_with`].
///
/// Empty (or all-whitespace) values count as unset: deployment tools often
/// define every variable and leave the unused ones empty.
pub(super) fn credentials_from(
    get: impl Fn(&str) -> Option<String>,
) -> Result<Option<Credentials>, KeyError> {
    let get = |name: &str| get(name).filter(|value| !value.trim().is_empty());
    let key_id = get(ENV_API_KEY_ID);
    let path = get(ENV_PRIVATE_KEY_PATH);
    let pem = get(ENV_PRIVATE_KEY).map(Zeroizing::new);
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
        (Some(key_id), Some(path), None) => Credentials::from_pem_file(key_id, path).map(Some),
        (Some(key_id), None, Some(pem)) => Credentials::from_pem(key_id, &pem).map(Some),
    }
}

/// Reads a variable from the process environment. A value that is not valid
/// Unicode is passed on lossily, so a bad path still produces an error that
/// names it rather than looking unset.
pub(super) fn process_var(name: &str) -> Option<String> {
    std::env::var_os(name).map(|value| value.to_string_lossy().into_owned())
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
