//! The client and its builder.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use kalshi_gen::Hooks;
use reqwest::header::HeaderValue;

use crate::auth::env::lookup;
use crate::auth::{Credentials, KeyError};
use crate::environment::Environment;
use crate::error::Error;
use crate::rate_limit::{RateLimiter, RateLimits, Tier};
use crate::retry::RetryPolicy;
use crate::transport::{Signer, Transport};

/// A Kalshi Trade API client.
///
/// Cheap to clone (one `Arc`): clones share the connection pool, the
/// credentials and the rate-limit budget. `Send + Sync`, so one client can
/// serve every task of a bot.
#[derive(Clone)]
pub struct Client {
    inner: Arc<Inner>,
}

struct Inner {
    raw: kalshi_gen::Client,
    margin: kalshi_gen::margin::Client,
    transport: Arc<Transport>,
    environment: Environment,
    default_subaccount: Option<u32>,
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Client")
            .field("environment", &self.inner.environment)
            .field("credentials", &self.credentials())
            .field("rate_limiter", &self.inner.transport.limiter)
            .field("retry", &self.inner.transport.retry)
            .field("default_subaccount", &self.inner.default_subaccount)
            .finish()
    }
}

impl Client {
    /// A builder; see [`ClientBuilder`].
    pub fn builder() -> ClientBuilder {
        ClientBuilder::default()
    }

    /// An unauthenticated client for public market data.
    pub fn public(environment: Environment) -> Result<Self, Error> {
        Self::builder().environment(environment).build()
    }

    /// A client configured from the environment: `KALSHI_API_KEY_ID` with
    /// `KALSHI_PRIVATE_KEY_PATH` or `KALSHI_PRIVATE_KEY` (and
    /// `KALSHI_PRIVATE_KEY_PASSPHRASE` for an encrypted key), `KALSHI_ENV`
    /// (`prod` or `demo`, default `prod`) and `KALSHI_BASE_URL`. Without key
    /// variables the client is unauthenticated. Variables are read like
    /// [`Credentials::from_env`] reads them: empty means unset, and a value
    /// that is not valid Unicode is an error naming the variable.
    pub fn from_env() -> Result<Self, Error> {
        Self::builder().read_env(process_var)?.build()
    }

    /// The generated bindings: every operation as a method of a per-tag
    /// extension trait (`kalshi_client::generated::ClientPortfolioExt`, ...).
    /// Calls made through it are signed, rate-limited and retried like every
    /// other, and end with [`Execute::send`](crate::Execute::send) too.
    ///
    /// ```no_run
    /// # async fn demo(client: kalshi_client::Client) -> Result<(), kalshi_client::Error> {
    /// use kalshi_client::Execute;
    /// use kalshi_client::generated::ClientPortfolioExt;
    /// let balance = client.raw().get_balance().send().await?;
    /// println!("{}", balance.balance_dollars);
    /// # Ok(()) }
    /// ```
    pub fn raw(&self) -> &kalshi_gen::Client {
        &self.inner.raw
    }

    /// The generated bindings of the margin (perpetuals) API, on the same
    /// host, signing, limits and retries: every operation of its document
    /// as a method of `kalshi_gen::margin`'s extension traits. Most code
    /// wants [`Client::margin`] instead.
    pub fn raw_margin(&self) -> &kalshi_gen::margin::Client {
        &self.inner.margin
    }

    /// The environment the client talks to.
    pub fn environment(&self) -> &Environment {
        &self.inner.environment
    }

    /// The `User-Agent` every request (and WebSocket upgrade) carries.
    pub(crate) fn user_agent(&self) -> &reqwest::header::HeaderValue {
        &self.inner.transport.user_agent
    }

    /// The credentials, if any.
    pub fn credentials(&self) -> Option<&Credentials> {
        self.inner
            .transport
            .signer
            .as_ref()
            .map(|signer| &signer.credentials)
    }

    /// The shared rate limiter, if client-side limits are on.
    pub fn rate_limiter(&self) -> Option<&RateLimiter> {
        self.inner.transport.limiter.as_ref()
    }

    /// The margin API's own rate limiter, if it has one
    /// ([`ClientBuilder::margin_rate_limits`]).
    pub fn margin_rate_limiter(&self) -> Option<&RateLimiter> {
        self.inner.transport.margin_limiter.as_ref()
    }

    /// Reads the margin API's limits from `GET /account/limits/perps` and,
    /// when the client has a margin budget
    /// ([`ClientBuilder::margin_rate_limits`]), enforces them from now on.
    /// The margin document lists no endpoint costs: every margin call is
    /// charged [`DEFAULT_COST`](crate::rate_limit::DEFAULT_COST) per item.
    pub async fn load_margin_rate_limits(&self) -> Result<RateLimits, Error> {
        use crate::Execute;
        use kalshi_gen::margin::ClientAccountExt;
        let limits = self
            .raw_margin()
            .get_perps_account_api_limits()
            .send()
            .await?;
        let loaded = RateLimits::from_buckets(
            (limits.read.refill_rate, limits.read.bucket_capacity),
            (limits.write.refill_rate, limits.write.bucket_capacity),
        )
        .map_err(|e| Error::ProtocolViolation {
            operation: "get_perps_account_api_limits",
            message: e.to_string(),
        })?;
        if let Some(limiter) = self.margin_rate_limiter() {
            limiter.set_limits(loaded.clone());
        }
        Ok(loaded)
    }

    /// The subaccount used when a call does not name one.
    pub fn default_subaccount(&self) -> Option<u32> {
        self.inner.default_subaccount
    }

    /// Reads the account's real limits from `GET /account/limits` and
    /// `GET /account/endpoint_costs` and, when the client enforces limits
    /// (built with [`ClientBuilder::rate_limits`] or
    /// [`ClientBuilder::rate_limit_tier`]), enforces these from now on, for
    /// every clone. A client built without limits only returns them.
    pub async fn load_rate_limits(&self) -> Result<RateLimits, Error> {
        use crate::Execute;
        use kalshi_gen::ClientAccountExt;
        let limits = self.raw().get_account_api_limits().send().await?;
        let costs = self.raw().get_account_endpoint_costs().send().await?;
        let loaded =
            RateLimits::from_account(&limits, &costs).map_err(|e| Error::ProtocolViolation {
                operation: "get_account_api_limits",
                message: e.to_string(),
            })?;
        if let Some(limiter) = self.rate_limiter() {
            limiter.set_limits(loaded.clone());
        }
        Ok(loaded)
    }
}

/// Configures a [`Client`].
///
/// ```
/// use std::time::Duration;
/// use kalshi_client::{Client, Environment, RetryPolicy, Tier};
/// let client = Client::builder()
///     .environment(Environment::Demo)
///     .request_timeout(Duration::from_secs(5))
///     .retry_policy(RetryPolicy::default().with_max_attempts(3))
///     .rate_limit_tier(Tier::Basic)
///     .build()?;
/// # Ok::<(), kalshi_client::Error>(())
/// ```
#[derive(Debug)]
#[must_use]
pub struct ClientBuilder {
    environment: Environment,
    credentials: Option<Credentials>,
    connect_timeout: Duration,
    request_timeout: Duration,
    retry: RetryPolicy,
    rate_limits: Option<RateLimits>,
    margin_rate_limits: Option<RateLimits>,
    #[cfg(feature = "redis")]
    rate_store: Option<crate::rate_limit::RedisStore>,
    default_subaccount: Option<u32>,
    user_agent: String,
    http: Option<reqwest::Client>,
    allowed_hosts: Vec<String>,
}

impl Default for ClientBuilder {
    fn default() -> Self {
        Self {
            environment: Environment::Production,
            credentials: None,
            connect_timeout: Duration::from_secs(5),
            request_timeout: Duration::from_secs(15),
            retry: RetryPolicy::default(),
            rate_limits: None,
            margin_rate_limits: None,
            #[cfg(feature = "redis")]
            rate_store: None,
            default_subaccount: None,
            user_agent: concat!(env!("CARGO_PKG_NAME"), "/", env!("CARGO_PKG_VERSION")).to_owned(),
            http: None,
            allowed_hosts: Vec::new(),
        }
    }
}

impl ClientBuilder {
    /// Which exchange to talk to (default: production).
    pub fn environment(mut self, environment: Environment) -> Self {
        self.environment = environment;
        self
    }

    /// A base URL including `/trade-api/v2`, e.g. the local simulator's.
    pub fn base_url(self, url: impl Into<String>) -> Self {
        self.environment(Environment::Custom(url.into()))
    }

    /// Signs requests with these credentials.
    pub fn credentials(mut self, credentials: Credentials) -> Self {
        self.credentials = Some(credentials);
        self
    }

    /// How long to wait for a connection (default 5 s).
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// How long one attempt may take in all (default 15 s).
    pub fn request_timeout(mut self, timeout: Duration) -> Self {
        self.request_timeout = timeout;
        self
    }

    /// How failed requests are retried (default: [`RetryPolicy::default`]).
    pub fn retry_policy(mut self, policy: RetryPolicy) -> Self {
        self.retry = policy;
        self
    }

    /// Client-side token buckets with these budgets.
    pub fn rate_limits(mut self, limits: RateLimits) -> Self {
        self.rate_limits = Some(limits);
        self
    }

    /// Client-side token buckets with the budgets of `tier`.
    pub fn rate_limit_tier(self, tier: Tier) -> Self {
        self.rate_limits(RateLimits::for_tier(tier))
    }

    /// A budget of its own for the margin (perpetuals) API, whose limits
    /// Kalshi publishes apart (`GET /account/limits/perps`, see
    /// [`Client::load_margin_rate_limits`]). Without it, margin requests are
    /// charged to the buckets of [`rate_limits`](Self::rate_limits).
    pub fn margin_rate_limits(mut self, limits: RateLimits) -> Self {
        self.margin_rate_limits = Some(limits);
        self
    }

    /// Keeps the rate-limit buckets in `store` (Redis), so that every
    /// process of a fleet using the same API key and store draws from one
    /// budget. Needs [`rate_limits`](Self::rate_limits) (or a tier) and
    /// credentials: the budget is named after the exchange (production and
    /// demo each share one budget across their hosts; any other base URL
    /// goes by host and port) and the API key id. A margin budget
    /// ([`margin_rate_limits`](Self::margin_rate_limits)) is shared too,
    /// under its own name.
    #[cfg(feature = "redis")]
    pub fn shared_rate_limits(mut self, store: crate::rate_limit::RedisStore) -> Self {
        self.rate_store = Some(store);
        self
    }

    /// The subaccount for calls that do not name one: typed order methods,
    /// operations that take `subaccount` in the query, and those that take it
    /// in a JSON body to say whom they act for (order groups, RFQs, quotes,
    /// RFQ batches, block trades), when the body you build names none. It is
    /// never added to API key creation, where a subaccount restricts the new
    /// key.
    pub fn default_subaccount(mut self, subaccount: crate::order::Subaccount) -> Self {
        self.default_subaccount = Some(subaccount.number());
        self
    }

    /// The `User-Agent` (default: this crate's name and version).
    pub fn user_agent(mut self, user_agent: impl Into<String>) -> Self {
        self.user_agent = user_agent.into();
        self
    }

    /// Use this `reqwest::Client` (its own timeouts then apply). Build it
    /// with `redirect(Policy::none())`: a followed redirect would carry the
    /// signing headers to wherever it points. The client this crate builds
    /// also has `retry(reqwest::retry::never().max_retries_per_request(0))`,
    /// and yours should too: this crate retries HTTP/2 refusals itself, and
    /// reqwest's own retry copies every request in case it needs one (and
    /// would retry refusals inside each of this crate's attempts).
    pub fn http_client(mut self, client: reqwest::Client) -> Self {
        self.http = Some(client);
        self
    }

    /// Allows signed requests over plain HTTP to `host`. Signed requests
    /// otherwise go only to https URLs and loopback addresses, so a key is
    /// never sent in the clear by a typo.
    pub fn allow_insecure_host(mut self, host: impl Into<String>) -> Self {
        self.allowed_hosts.push(host.into());
        self
    }

    /// Reads `KALSHI_ENV`, `KALSHI_BASE_URL` and the key variables through
    /// `lookup`, which returns a variable's value or `None` when unset (see
    /// [`Client::from_env`]).
    pub fn from_env_with(self, lookup: impl Fn(&str) -> Option<String>) -> Result<Self, Error> {
        self.read_env(|name| Ok(lookup(name)))
    }

    fn read_env(
        mut self,
        get: impl Fn(&'static str) -> Result<Option<String>, Error>,
    ) -> Result<Self, Error> {
        if let Some(name) = lookup(&get, "KALSHI_ENV")? {
            self.environment = Environment::from_name(&name).ok_or_else(|| {
                Error::config(format!(
                    "KALSHI_ENV={name:?} is not one of prod, demo, prod-shared, demo-shared"
                ))
            })?;
        }
        if let Some(url) = lookup(&get, "KALSHI_BASE_URL")? {
            self.environment = Environment::Custom(url);
        }
        let credentials = crate::auth::env::credentials_from(|name| {
            get(name).map_err(|error| match error {
                Error::Key(key) => key,
                _ => KeyError::EnvNotUnicode { var: name },
            })
        })?;
        if let Some(credentials) = credentials {
            self.credentials = Some(credentials);
        }
        Ok(self)
    }

    /// Checks the configuration and builds the client.
    pub fn build(self) -> Result<Client, Error> {
        let url = base_url(self.environment.base_url())?;
        if self.credentials.is_some() {
            check_signing_destination(&url, &self.allowed_hosts)?;
        }
        let user_agent = HeaderValue::from_str(&self.user_agent)
            .map_err(|_| Error::config("the user agent is not a valid header value"))?;
        let http = match self.http {
            Some(http) => http,
            // Kalshi's API does not redirect, and following one would carry
            // the signing headers to another host (or turn a POST into a GET).
            // reqwest's own retry (of HTTP/2 refusals only) is off: it copies
            // every request in case, and this crate's retry handles them.
            // `never()` alone still makes the copy: reqwest checks the scope
            // only from the first retry on; the zero maximum skips it.
            None => reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .retry(reqwest::retry::never().max_retries_per_request(0))
                .connect_timeout(self.connect_timeout)
                .timeout(self.request_timeout)
                .build()
                .map_err(|e| Error::config(format!("cannot build the HTTP client: {e}")))?,
        };
        #[cfg(feature = "redis")]
        let (limiter, margin_limiter) = match (self.rate_store, self.rate_limits) {
            (None, limits) => (
                limits.map(RateLimiter::new),
                self.margin_rate_limits.map(RateLimiter::new),
            ),
            (Some(_), None) => {
                return Err(Error::config(
                    "shared_rate_limits needs the limits to share: call rate_limits or rate_limit_tier too",
                ));
            }
            (Some(store), Some(limits)) => {
                let key_id = self
                    .credentials
                    .as_ref()
                    .map(Credentials::key_id)
                    .ok_or_else(|| {
                        Error::config(
                            "shared_rate_limits needs credentials: the budget is the API key's",
                        )
                    })?;
                let scope = format!("{}/{key_id}", exchange_name(&self.environment, &url));
                let margin = self.margin_rate_limits.map(|margin| {
                    RateLimiter::shared(margin, store.clone(), &format!("{scope}/margin"))
                });
                (Some(RateLimiter::shared(limits, store, &scope)), margin)
            }
        };
        #[cfg(not(feature = "redis"))]
        let (limiter, margin_limiter) = (
            self.rate_limits.map(RateLimiter::new),
            self.margin_rate_limits.map(RateLimiter::new),
        );
        let transport = Arc::new(Transport {
            signer: self.credentials.map(Signer::new).transpose()?,
            limiter,
            margin_limiter,
            retry: self.retry,
            user_agent,
            default_subaccount: self.default_subaccount,
        });
        let base = self.environment.base_url().trim_end_matches('/');
        let margin = kalshi_gen::margin::Client::new_with_client(
            base,
            http.clone(),
            Hooks::new(transport.clone()),
        );
        let raw = kalshi_gen::Client::new_with_client(base, http, Hooks::new(transport.clone()));
        Ok(Client {
            inner: Arc::new(Inner {
                raw,
                margin,
                transport,
                environment: self.environment,
                default_subaccount: self.default_subaccount,
            }),
        })
    }
}

/// The exchange a shared rate budget belongs to: Kalshi meters a key the
/// same through either host of an environment.
#[cfg(feature = "redis")]
fn exchange_name(environment: &Environment, url: &url::Url) -> String {
    match environment {
        Environment::Production | Environment::ProductionShared => "prod".to_owned(),
        Environment::Demo | Environment::DemoShared => "demo".to_owned(),
        _ => match url.port_or_known_default() {
            Some(port) => format!("{}:{port}", url.host_str().unwrap_or_default()),
            None => url.host_str().unwrap_or_default().to_owned(),
        },
    }
}

/// Reads a variable of the process environment for [`Client::from_env`]:
/// the key variables fail as [`Error::Key`], the others as [`Error::Config`].
fn process_var(name: &'static str) -> Result<Option<String>, Error> {
    crate::auth::env::process_var(name).map_err(|error| {
        if name.starts_with("KALSHI_PRIVATE_KEY") || name == crate::auth::ENV_API_KEY_ID {
            Error::Key(error)
        } else {
            Error::config(format!("{name} is set to bytes that are not valid Unicode"))
        }
    })
}

/// The base URL, which must be a URL whose path is the API's base path
/// (`/trade-api/v2`): every operation path is appended to it, and Kalshi
/// verifies signatures over the full path.
fn base_url(text: &str) -> Result<reqwest::Url, Error> {
    let url = reqwest::Url::parse(text)
        .map_err(|e| Error::config(format!("base URL {text:?} is not a URL: {e}")))?;
    let base_path = crate::environment::BASE_PATH;
    if url.path().trim_end_matches('/') != base_path {
        let mut suggestion = url.clone();
        suggestion.set_path(base_path);
        return Err(Error::config(format!(
            "base URL {text:?} does not end with the API's path {base_path}; use {suggestion}"
        )));
    }
    Ok(url)
}

/// Signed requests go to https, loopback, or a host the caller allowed.
fn check_signing_destination(url: &reqwest::Url, allowed: &[String]) -> Result<(), Error> {
    let host = url.host_str().unwrap_or_default();
    let loopback = match url.host() {
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        Some(url::Host::Domain(name)) => name.eq_ignore_ascii_case("localhost"),
        None => false,
    };
    if url.scheme() == "https" || loopback || allowed.iter().any(|h| h.eq_ignore_ascii_case(host)) {
        return Ok(());
    }
    Err(Error::config(format!(
        "refusing to send signed requests to {url} over plain HTTP: use https, a loopback address, \
         or ClientBuilder::allow_insecure_host({host:?})"
    )))
}
