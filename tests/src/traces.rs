//! Everything the process logs at TRACE, scanned for secrets as it is
//! written.
//!
//! [`capture`] installs one global `tracing` subscriber at TRACE (and
//! routes the `log` records of dependencies into it), formatting every
//! event and span of every test in this process. Each formatted event is
//! searched for the secrets [`forbid`] registered (private key material,
//! passphrases) and for anything shaped like a full request signature
//! (standard base64 of 64 or 256 bytes: Ed25519 and RSA-2048). Nothing is
//! kept but counts and the places where a secret was found, with the secret
//! itself cut out.

use std::io;
use std::sync::{Mutex, OnceLock};

use tracing_subscriber::fmt::MakeWriter;

/// What was seen so far.
#[derive(Debug, Default, Clone)]
pub struct Seen {
    /// Formatted events.
    pub events: u64,
    /// Events from inside a `kalshi.request` span.
    pub request_events: u64,
    /// Events emitted by `kalshi_client` itself.
    pub client_events: u64,
    /// Where a secret or a signature appeared.
    pub leaks: Vec<String>,
    /// Lines of `kalshi_client` that name a request header or carry a body.
    pub headers_or_bodies: Vec<String>,
    /// Up to 20 `kalshi_client` lines, to show what the spans record.
    pub samples: Vec<String>,
}

struct State {
    secrets: Vec<String>,
    seen: Seen,
}

fn state() -> &'static Mutex<State> {
    static STATE: OnceLock<Mutex<State>> = OnceLock::new();
    STATE.get_or_init(|| {
        Mutex::new(State {
            secrets: Vec::new(),
            seen: Seen::default(),
        })
    })
}

fn lock() -> std::sync::MutexGuard<'static, State> {
    state().lock().unwrap_or_else(|p| p.into_inner())
}

/// Installs the capturing subscriber (once per process).
pub fn capture() {
    static INSTALLED: OnceLock<()> = OnceLock::new();
    INSTALLED.get_or_init(|| {
        let subscriber = tracing_subscriber::fmt()
            .with_max_level(tracing::Level::TRACE)
            .with_ansi(false)
            .with_target(true)
            // Span creation too, with its fields: what a span records.
            .with_span_events(tracing_subscriber::fmt::format::FmtSpan::NEW)
            .with_writer(Scanner)
            .finish();
        // Another subscriber may be installed by a test of another crate
        // linked in; then ours is not, and the checks below see no events.
        let _ = tracing::subscriber::set_global_default(subscriber);
        let _ = tracing_log::LogTracer::init();
    });
}

/// Adds text that must never appear in any output: a key's PEM body lines
/// (each one is key material), a passphrase.
pub fn forbid(secret: &str) {
    let mut state = lock();
    for part in secret_parts(secret) {
        if !state.secrets.contains(&part) {
            state.secrets.push(part);
        }
    }
}

/// The searchable pieces of a secret: a PEM's base64 lines (those long
/// enough to be unmistakable), or the whole text.
fn secret_parts(secret: &str) -> Vec<String> {
    if secret.contains("-----BEGIN") {
        secret
            .lines()
            .filter(|l| !l.starts_with("-----") && !l.contains(':') && l.len() >= 24)
            .map(str::to_owned)
            .collect()
    } else {
        vec![secret.to_owned()]
    }
}

/// What was seen so far.
pub fn seen() -> Seen {
    lock().seen.clone()
}

/// Where `text` holds a registered secret or a signature, if anywhere.
/// For checking `Debug`, `Display` and error output directly.
pub fn find_secret(text: &str) -> Option<String> {
    let state = lock();
    find(&state.secrets, text)
}

fn find(secrets: &[String], text: &str) -> Option<String> {
    if let Some(secret) = secrets.iter().find(|s| text.contains(s.as_str())) {
        return Some(redacted(text, secret));
    }
    signature_shaped(text).map(|token| redacted(text, token))
}

/// A standard-base64 token of exactly a signature's length (88 characters
/// for Ed25519's 64 bytes, 344 for RSA-2048's 256), padding included.
fn signature_shaped(text: &str) -> Option<&str> {
    let is_b64 = |c: char| c.is_ascii_alphanumeric() || c == '+' || c == '/';
    text.split(|c: char| !(is_b64(c) || c == '='))
        .find(|token| {
            let body = token.trim_end_matches('=');
            (token.len() == 88 || token.len() == 344)
                && token.ends_with('=')
                && body.chars().all(is_b64)
                && token.len() - body.len() <= 2
        })
}

/// The text around a leak, with the secret itself cut out.
fn redacted(text: &str, secret: &str) -> String {
    let at = text.find(secret).unwrap_or(0);
    let start = text[..at]
        .char_indices()
        .rev()
        .nth(60)
        .map_or(0, |(i, _)| i);
    format!(
        "...{}<{} secret characters>",
        &text[start..at],
        secret.len()
    )
}

/// The writer the subscriber formats each event into.
struct Scanner;

impl<'a> MakeWriter<'a> for Scanner {
    type Writer = EventBuffer;

    fn make_writer(&'a self) -> Self::Writer {
        EventBuffer(Vec::new())
    }
}

/// One formatted event, scanned when the subscriber is done with it.
struct EventBuffer(Vec<u8>);

impl io::Write for EventBuffer {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        self.0.extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Drop for EventBuffer {
    fn drop(&mut self) {
        if self.0.is_empty() {
            return;
        }
        let text = String::from_utf8_lossy(&self.0);
        let mut state = lock();
        let leak = find(&state.secrets, &text);
        let seen = &mut state.seen;
        seen.events += 1;
        if text.contains("kalshi.request{") {
            seen.request_events += 1;
        }
        if text.contains(" kalshi_client") {
            seen.client_events += 1;
            let lower = text.to_ascii_lowercase();
            if ["kalshi-access-", "user-agent", "{\""]
                .iter()
                .any(|needle| lower.contains(needle))
            {
                seen.headers_or_bodies.push(text.trim().to_owned());
            }
            if seen.samples.len() < 20 {
                seen.samples.push(text.trim().to_owned());
            }
        }
        if let Some(leak) = leak {
            seen.leaks.push(leak);
        }
    }
}
