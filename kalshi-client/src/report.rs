//! Printing an error with every cause it carries, for `main` and logs.
//!
//! This crate's errors follow the standard library's convention: each
//! message says what went wrong at its own level and [`source`] leads to the
//! cause, so no message repeats another. Printing only `{}` shows the top
//! level; printing `{:?}` shows the variant's fields, not the words.
//! [`Report`] prints the whole chain in words, once:
//!
//! ```no_run
//! use kalshi_client::{Client, Report};
//! fn main() -> Result<(), Report> {
//!     let client = Client::from_env()?;
//!     // An error returned here prints as, for example:
//!     // Error: the API key cannot be used
//!     //   caused by: could not read the private key file /keys/kalshi.pem: No such file or directory (os error 2)
//!     # let _ = client;
//!     Ok(())
//! }
//! ```
//!
//! [`source`]: std::error::Error::source

use std::error::Error as StdError;
use std::fmt;

/// Any error, printed with its whole `source()` chain.
///
/// `main` can return `Result<(), Report>`: `?` converts every error type,
/// and the process prints the chain when `main` fails. It deliberately does
/// not implement `std::error::Error` itself, so that the conversion from
/// any error type is possible.
pub struct Report(Box<dyn StdError + Send + Sync + 'static>);

impl Report {
    /// A report of a plain message, for failures that are not errors of a
    /// library (`Report::msg("no open market")`).
    pub fn msg(message: impl fmt::Display) -> Self {
        Self(message.to_string().into())
    }

    /// The error this report carries.
    pub fn error(&self) -> &(dyn StdError + Send + Sync + 'static) {
        &*self.0
    }

    /// Each message of the chain, outermost first.
    pub fn chain(&self) -> impl Iterator<Item = String> + '_ {
        let mut next: Option<&(dyn StdError + 'static)> = Some(&*self.0);
        std::iter::from_fn(move || {
            let error = next?;
            next = error.source();
            Some(error.to_string())
        })
    }
}

impl<E: StdError + Send + Sync + 'static> From<E> for Report {
    fn from(error: E) -> Self {
        Self(Box::new(error))
    }
}

/// The chain on one line: `outer: cause: root cause`.
impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let chain: Vec<String> = self.chain().collect();
        f.write_str(&chain.join(": "))
    }
}

/// The chain one message per line, as `main` prints it.
impl fmt::Debug for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut chain = self.chain();
        if let Some(first) = chain.next() {
            f.write_str(&first)?;
        }
        for cause in chain {
            write!(f, "\n  caused by: {cause}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::{Credentials, KeyError};

    #[test]
    fn every_message_of_the_chain_appears_once() {
        let error: crate::Error = Credentials::from_pem_file("key-1", "/nonexistent/kalshi.pem")
            .unwrap_err()
            .into();
        let report = Report::from(error);
        let lines: Vec<String> = report.chain().collect();
        assert_eq!(lines.len(), 2, "{lines:?}");
        assert_eq!(lines[0], "the API key cannot be used");
        assert!(lines[1].contains("/nonexistent/kalshi.pem"), "{lines:?}");
        let debug = format!("{report:?}");
        assert_eq!(
            debug,
            format!("the API key cannot be used\n  caused by: {}", lines[1])
        );
        assert_eq!(report.to_string(), lines.join(": "));
        // No message repeats its cause's text.
        for pair in lines.windows(2) {
            assert!(!pair[0].contains(&pair[1]), "{pair:?}");
        }
        let _: &KeyError = report
            .error()
            .source()
            .and_then(|s| s.downcast_ref())
            .expect("the cause is the KeyError");
    }

    #[test]
    fn a_plain_message() {
        let report = Report::msg("no open market");
        assert_eq!(format!("{report:?}"), "no open market");
        assert_eq!(report.chain().count(), 1);
    }
}
