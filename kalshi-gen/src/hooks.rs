//! The seam between the generated client and the hand-written one.
//!
//! progenitor calls [`ClientHooks`] around every request. The generated
//! [`Client`](crate::Client) carries a [`Hooks`] value as its inner type; this
//! module implements `ClientHooks` by forwarding to whatever
//! [`RequestHooks`] the caller installed. `kalshi-client` installs one that
//! signs each attempt, applies its rate limits and retries. Without hooks the
//! client sends requests exactly as generated, which is what the tests of
//! this crate need.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use progenitor_client::{ClientHooks, ClientInfo, OperationInfo};

/// A boxed, `Send` future: the return type of [`RequestHooks`] methods, so
/// the trait stays object-safe and every generated `send()` future is `Send`.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Behaviour plugged into every generated operation.
pub trait RequestHooks: Send + Sync + fmt::Debug + 'static {
    /// Runs once per operation call before anything is sent. An `Err` stops
    /// the call and surfaces as `progenitor_client::Error::Custom`.
    fn prepare<'a>(
        &'a self,
        request: &'a mut reqwest::Request,
        operation: &'static str,
    ) -> BoxFuture<'a, Result<(), String>>;

    /// Sends the request. Owns everything that happens per attempt: signing
    /// with a fresh timestamp, waiting for rate-limit budget, retrying.
    fn execute<'a>(
        &'a self,
        client: &'a reqwest::Client,
        request: reqwest::Request,
        operation: &'static str,
    ) -> BoxFuture<'a, reqwest::Result<reqwest::Response>>;
}

/// The inner value of the generated [`Client`](crate::Client): optional hooks.
///
/// Cloning is cheap (an `Arc`), so clones of a client share one set of hooks
/// and therefore one rate-limit budget.
#[derive(Clone, Default)]
pub struct Hooks(Option<Arc<dyn RequestHooks>>);

impl Hooks {
    /// No hooks: requests go out exactly as generated, unsigned.
    pub fn none() -> Self {
        Self(None)
    }

    /// Route every request of the client through `hooks`.
    pub fn new(hooks: Arc<dyn RequestHooks>) -> Self {
        Self(Some(hooks))
    }

    /// The installed hooks, if any.
    pub fn get(&self) -> Option<&Arc<dyn RequestHooks>> {
        self.0.as_ref()
    }
}

impl fmt::Debug for Hooks {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.0 {
            Some(hooks) => f.debug_tuple("Hooks").field(hooks).finish(),
            None => f.write_str("Hooks(None)"),
        }
    }
}

/// Forwards a generated client's hooks to [`Hooks`]; one impl per generated
/// API (the Trade API's and the margin API's clients).
macro_rules! forward_hooks {
    ($($client:ty),+) => {$(
impl ClientHooks<Hooks> for $client {
    async fn pre<E>(
        &self,
        request: &mut reqwest::Request,
        info: &OperationInfo,
    ) -> Result<(), progenitor_client::Error<E>> {
        match self.inner().get() {
            Some(hooks) => hooks
                .prepare(request, info.operation_id)
                .await
                .map_err(progenitor_client::Error::Custom),
            None => Ok(()),
        }
    }

    async fn exec(
        &self,
        request: reqwest::Request,
        info: &OperationInfo,
    ) -> reqwest::Result<reqwest::Response> {
        match self.inner().get() {
            Some(hooks) => {
                hooks
                    .execute(self.client(), request, info.operation_id)
                    .await
            }
            None => self.client().execute(request).await,
        }
    }
}
    )+};
}

forward_hooks!(crate::Client, crate::margin::Client);
