//! Concurrent signed requests on every core (`bash tests/bench/load.sh`, see
//! `BENCHMARKS.md`).
//!
//! ```text
//! load_bench run --base-url URL --key-id ID --key PEM [--seconds 10] [--concurrency 64]
//!                [--transport client|reqwest|pool|hyper|raw] [--probe-ms 50 --probe-every-ms 250]
//! load_bench sign --key PEM [--seconds 3]
//! ```
//!
//! `run` drives `GET /portfolio/balance` (signed, the cheapest request the
//! exchange must authenticate) from `--concurrency` tasks on a multi-thread
//! runtime with one worker per core this process may use, for `--seconds`
//! after a one-second warm-up, and prints one JSON line: requests completed,
//! errors, seconds, and the process's CPU time. `--transport reqwest` and
//! `--transport pool` send them through the layers this client is built on
//! (a default reqwest client; hyper-util's pool, see `layers`); `--transport hyper` sends
//! the same signed requests through hyper's HTTP/1 connection API alone
//! (the floor under this client's HTTP stack, see `floor`); `--transport
//! raw` writes them as bytes on a kept-alive socket and parses the answer
//! with `httparse` (the floor under any HTTP library, see `raw`). `sign`
//! computes signatures over that request's message on one thread for
//! `--seconds` and prints the rate: the most one core can sign, from which
//! the physical limit of a run is cores x rate.
//!
//! A host's speed can drift by 30 % from one second to the next, so a
//! limit measured before and after a run says little about the run itself.
//! With `--probe-ms P` (one core only) `run` measures the limit inside the
//! run: every `--probe-every-ms` one task signs on the runtime's only worker
//! for `P` ms, which halts the requests meanwhile (their answers wait in the
//! sockets), and the run reports its request rate over the time between
//! probes next to the probes' signing rate: both at the same moments. The
//! JSON line's `seconds`, `per_second` and `cpu_seconds` then leave the
//! probes out, and `probe` gives their signatures, seconds and rate.

use std::error::Error;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use kalshi_client::{Client, Credentials, Execute};
use serde_json::json;

type Result<T> = std::result::Result<T, Box<dyn Error + Send + Sync>>;

const BALANCE_PATH: &str = "/trade-api/v2/portfolio/balance";

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let flag = |name: &str| -> Option<&str> {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1))
            .map(String::as_str)
    };
    let number = |name: &str, default: u64| -> Result<u64> {
        Ok(flag(name).map(str::parse).transpose()?.unwrap_or(default))
    };
    let pem = std::fs::read_to_string(flag("--key").ok_or("--key PEM")?)?;
    match args.first().map(String::as_str) {
        Some("sign") => sign(&pem, number("--seconds", 3)?),
        Some("run") => {
            let base_url = flag("--base-url").ok_or("--base-url URL")?.to_owned();
            let key_id = flag("--key-id").ok_or("--key-id ID")?.to_owned();
            let credentials = Credentials::from_pem(key_id, &pem)?;
            let cores = std::thread::available_parallelism().map_or(1, usize::from);
            tokio::runtime::Builder::new_multi_thread()
                .worker_threads(cores)
                .enable_all()
                .build()?
                .block_on(run(
                    &base_url,
                    credentials,
                    flag("--transport").unwrap_or("client"),
                    number("--seconds", 10)?,
                    number("--concurrency", 64)? as usize,
                    cores,
                    Probe {
                        millis: number("--probe-ms", 0)?,
                        every_millis: number("--probe-every-ms", 250)?,
                        asked_every: flag("--probe-every-ms").is_some(),
                    },
                ))
        }
        _ => Err("usage: load_bench run --base-url URL --key-id ID --key PEM | load_bench sign --key PEM".into()),
    }
}

fn sign(pem: &str, seconds: u64) -> Result<()> {
    let credentials = Credentials::from_pem("bench", pem)?;
    // The first signatures on a thread seed its random generator (PSS salts)
    // and warm its caches: a `run` pays that in its warm-up, so must this.
    sign_for(&credentials, Duration::from_millis(300))?;
    let (count, elapsed) = sign_for(&credentials, Duration::from_secs(seconds))?;
    println!(
        "{}",
        json!({"signatures": count, "seconds": elapsed, "per_second": count as f64 / elapsed})
    );
    Ok(())
}

async fn run(
    base_url: &str,
    credentials: Credentials,
    transport: &str,
    seconds: u64,
    concurrency: usize,
    cores: usize,
    probe: Probe,
) -> Result<()> {
    probe.check(cores, seconds)?;
    let run = Run::default();
    let prober = credentials.clone();
    match transport {
        "client" => {
            let client = Client::builder()
                .base_url(base_url)
                .credentials(credentials)
                .build()?;
            for _ in 0..concurrency {
                let (client, run) = (client.clone(), run.clone());
                tokio::spawn(async move {
                    while !run.stopped() {
                        run.record(client.portfolio().balance().send().await.map(drop));
                    }
                });
            }
        }
        bare @ ("hyper" | "raw") => {
            let authority = plain_authority(bare, base_url)?;
            for _ in 0..concurrency {
                let mut connection = Bare::open(bare, &authority).await?;
                let (credentials, run) = (credentials.clone(), run.clone());
                tokio::spawn(async move {
                    while !run.stopped() {
                        run.record(connection.balance(&credentials).await);
                    }
                });
            }
        }
        layer @ ("reqwest" | "pool") => {
            let origin = format!("http://{}", plain_authority(layer, base_url)?);
            let stack = layers::Stack::new(layer, &origin, credentials);
            for _ in 0..concurrency {
                let (stack, run) = (stack.clone(), run.clone());
                tokio::spawn(async move {
                    while !run.stopped() {
                        run.record(stack.balance().await);
                    }
                });
            }
        }
        other => {
            return Err(format!("--transport {other}: client, reqwest, pool, hyper or raw").into());
        }
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    let cpu_before = process_cpu_ns();
    let started = Instant::now();
    run.counting.store(true, Ordering::Relaxed);
    let probed = probe.during(Duration::from_secs(seconds), prober).await?;
    run.counting.store(false, Ordering::Relaxed);
    let elapsed = started.elapsed().as_secs_f64();
    let cpu = process_cpu_ns() - cpu_before;
    run.stop.store(true, Ordering::Relaxed);
    let requests = run.done.load(Ordering::Relaxed);
    // The probes' time is neither the requests' wall time nor their CPU.
    let loaded = elapsed - probed.seconds;
    println!(
        "{}",
        json!({
            "requests": requests,
            "errors": run.failed.load(Ordering::Relaxed),
            "seconds": loaded,
            "per_second": requests as f64 / loaded,
            "cpu_seconds": cpu.saturating_sub(probed.cpu_ns) as f64 / 1e9,
            "probe": (probe.millis > 0).then(|| json!({
                "signatures": probed.signatures,
                "seconds": probed.seconds,
                "per_second": probed.signatures as f64 / probed.seconds,
            })),
            "cores": cores,
            "concurrency": concurrency,
            "transport": transport,
        })
    );
    Ok(())
}

/// The signing probes of a run on one core (`--probe-ms`).
struct Probe {
    millis: u64,
    every_millis: u64,
    /// Whether `--probe-every-ms` was given (it means nothing alone).
    asked_every: bool,
}

/// What the probes of a run measured.
#[derive(Default)]
struct Probed {
    signatures: u64,
    seconds: f64,
    cpu_ns: u64,
}

impl Probe {
    /// Refuses what would measure nothing or the wrong thing: probes on more
    /// than one worker (the others would keep sending), a probe as long as
    /// its period, a run too short for one probe.
    fn check(&self, cores: usize, seconds: u64) -> Result<()> {
        if self.millis == 0 && self.asked_every {
            return Err("--probe-every-ms needs --probe-ms".into());
        }
        if self.millis == 0 {
            return Ok(());
        }
        if cores != 1 {
            return Err("--probe-ms needs the run on one core".into());
        }
        if self.millis >= self.every_millis || seconds * 1000 < self.every_millis {
            return Err(
                "--probe-ms must be shorter than --probe-every-ms, and that than --seconds".into(),
            );
        }
        Ok(())
    }

    /// Waits `length`, probing the signing rate every `every_millis` when
    /// probing is on.
    async fn during(&self, length: Duration, credentials: Credentials) -> Result<Probed> {
        let mut probed = Probed::default();
        if self.millis == 0 {
            tokio::time::sleep(length).await;
            return Ok(probed);
        }
        let end = Instant::now() + length;
        let (window, gap) = (
            Duration::from_millis(self.millis),
            Duration::from_millis(self.every_millis - self.millis),
        );
        while Instant::now() + gap + window <= end {
            tokio::time::sleep(gap).await;
            // Spawned, so it runs on the only worker and blocks it: no
            // request runs while it signs (`block_on`'s own thread would
            // share the core with the worker instead).
            let credentials = credentials.clone();
            let (signatures, seconds, cpu_ns) = tokio::spawn(async move {
                // The worker's own CPU time: the main thread wakes later
                // than the probe ends, and the worker runs requests by then.
                let cpu_before = thread_cpu_ns();
                let (signatures, seconds) = sign_for(&credentials, window)?;
                Ok::<_, Box<dyn Error + Send + Sync>>((
                    signatures,
                    seconds,
                    thread_cpu_ns().saturating_sub(cpu_before),
                ))
            })
            .await??;
            probed.signatures += signatures;
            probed.seconds += seconds;
            probed.cpu_ns += cpu_ns;
        }
        tokio::time::sleep(end.saturating_duration_since(Instant::now())).await;
        Ok(probed)
    }
}

/// Signs the balance request's message for `window` on this thread: the
/// signatures made and the seconds taken.
fn sign_for(credentials: &Credentials, window: Duration) -> Result<(u64, f64)> {
    let started = Instant::now();
    let mut count = 0_u64;
    while started.elapsed() < window {
        let timestamp = 1_700_000_000_000 + count;
        std::hint::black_box(credentials.sign(timestamp, "GET", BALANCE_PATH)?);
        count += 1;
    }
    Ok((count, started.elapsed().as_secs_f64()))
}

/// The `host:port` of a plain-HTTP base URL: the comparison stacks speak
/// HTTP without TLS, as the simulator does.
fn plain_authority(transport: &str, base_url: &str) -> Result<String> {
    Ok(base_url
        .strip_prefix("http://")
        .and_then(|rest| rest.split('/').next())
        .ok_or_else(|| format!("--transport {transport} needs an http:// base URL"))?
        .to_owned())
}

/// The three Kalshi headers for `GET /portfolio/balance` as of now, as every
/// comparison stack signs it.
fn sign_now(credentials: &Credentials) -> Result<kalshi_client::auth::SignedHeaders> {
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH)?;
    Ok(credentials.sign(u64::try_from(now.as_millis())?, "GET", BALANCE_PATH)?)
}

/// `signed`'s three headers, their values moved rather than copied as
/// [`SignedHeaders::pairs`](kalshi_client::auth::SignedHeaders::pairs) does:
/// the comparison stacks pay for nothing a lean client would not.
fn owned_headers(signed: kalshi_client::auth::SignedHeaders) -> [(&'static str, String); 3] {
    use kalshi_client::auth::{
        ACCESS_KEY_HEADER, ACCESS_SIGNATURE_HEADER, ACCESS_TIMESTAMP_HEADER,
    };
    [
        (ACCESS_KEY_HEADER, signed.key_id),
        (ACCESS_TIMESTAMP_HEADER, signed.timestamp),
        (ACCESS_SIGNATURE_HEADER, signed.signature),
    ]
}

/// A comparison stack's answer: a success decoded as this client decodes
/// it, anything else an error carrying the body.
fn accept(status: u16, body: &[u8]) -> Result<()> {
    if !(200..300).contains(&status) {
        return Err(format!("{status}: {}", String::from_utf8_lossy(body)).into());
    }
    serde_json::from_slice::<kalshi_gen::types::GetBalanceResponse>(body)?;
    Ok(())
}

/// What the request tasks share: when to count, when to stop, the counts.
#[derive(Clone, Default)]
struct Run {
    counting: Arc<AtomicBool>,
    stop: Arc<AtomicBool>,
    done: Arc<AtomicU64>,
    failed: Arc<AtomicU64>,
    reported: Arc<AtomicBool>,
}

impl Run {
    fn stopped(&self) -> bool {
        self.stop.load(Ordering::Relaxed)
    }

    fn record<E: std::fmt::Display>(&self, result: std::result::Result<(), E>) {
        if let Err(error) = &result {
            // The first failure says why a run has errors; later ones repeat it.
            if !self.reported.swap(true, Ordering::Relaxed) {
                eprintln!("first error: {error}");
            }
        }
        if self.counting.load(Ordering::Relaxed) {
            let counter = if result.is_ok() {
                &self.done
            } else {
                &self.failed
            };
            counter.fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// One connection of a floor: hyper alone, or the raw socket.
enum Bare {
    Hyper(floor::Connection),
    Raw(raw::Connection),
}

impl Bare {
    async fn open(transport: &str, authority: &str) -> Result<Self> {
        Ok(match transport {
            "hyper" => Self::Hyper(floor::Connection::open(authority).await?),
            _ => Self::Raw(raw::Connection::open(authority).await?),
        })
    }

    /// One signed `GET /portfolio/balance`, its answer decoded.
    async fn balance(&mut self, credentials: &Credentials) -> Result<()> {
        match self {
            Self::Hyper(connection) => connection.balance(credentials).await,
            Self::Raw(connection) => connection.balance(credentials).await,
        }
    }
}

/// The floor under this client on the same requests: hyper's HTTP/1
/// connection API alone, one connection per task, no pool, no reqwest, no
/// retries, limiter or tracing; the same signature and the same decoding
/// of the answer into the generated type.
mod floor {
    use bytes::Bytes;
    use http_body_util::{BodyExt, Empty};
    use hyper::client::conn::http1::{SendRequest, handshake};
    use hyper_util::rt::TokioIo;
    use kalshi_client::Credentials;

    use super::{BALANCE_PATH, Result, accept, owned_headers, sign_now};

    pub struct Connection {
        authority: String,
        sender: SendRequest<Empty<Bytes>>,
    }

    impl Connection {
        pub async fn open(authority: &str) -> Result<Self> {
            let stream = tokio::net::TcpStream::connect(authority).await?;
            stream.set_nodelay(true)?;
            let (sender, connection) = handshake(TokioIo::new(stream)).await?;
            tokio::spawn(connection);
            Ok(Self {
                authority: authority.to_owned(),
                sender,
            })
        }

        /// One signed `GET /portfolio/balance`, its answer decoded.
        pub async fn balance(&mut self, credentials: &Credentials) -> Result<()> {
            let signed = sign_now(credentials)?;
            let mut request =
                hyper::Request::get(BALANCE_PATH).header(hyper::header::HOST, &self.authority);
            for (name, value) in owned_headers(signed) {
                request = request.header(name, value);
            }
            let request = request.body(Empty::new())?;
            self.sender.ready().await?;
            let response = self.sender.send_request(request).await?;
            let status = response.status();
            let body = response.into_body().collect().await?.to_bytes();
            accept(status.as_u16(), &body)
        }
    }
}

/// Below every HTTP library: the request written as bytes on a kept-alive
/// socket, the answer's head parsed with `httparse` (hyper's parser) and
/// its `Content-Length` body read; the same signature and decoding.
mod raw {
    use kalshi_client::Credentials;
    use std::fmt::Write as _;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpStream;

    use super::{BALANCE_PATH, Result, accept, sign_now};

    pub struct Connection {
        authority: String,
        stream: TcpStream,
        request: String,
        buffer: Vec<u8>,
    }

    impl Connection {
        pub async fn open(authority: &str) -> Result<Self> {
            let stream = TcpStream::connect(authority).await?;
            stream.set_nodelay(true)?;
            Ok(Self {
                authority: authority.to_owned(),
                stream,
                request: String::with_capacity(1024),
                buffer: Vec::with_capacity(4096),
            })
        }

        pub async fn balance(&mut self, credentials: &Credentials) -> Result<()> {
            let signed = sign_now(credentials)?;
            self.request.clear();
            // One format for the whole head, the leanest a client could write.
            write!(
                self.request,
                "GET {BALANCE_PATH} HTTP/1.1\r\nhost: {}\r\nkalshi-access-key: {}\r\nkalshi-access-timestamp: {}\r\nkalshi-access-signature: {}\r\n\r\n",
                self.authority, signed.key_id, signed.timestamp, signed.signature
            )?;
            self.stream.write_all(self.request.as_bytes()).await?;
            self.buffer.clear();
            loop {
                let mut headers = [httparse::EMPTY_HEADER; 32];
                let mut response = httparse::Response::new(&mut headers);
                if let httparse::Status::Complete(head) = response.parse(&self.buffer)? {
                    let status = response.code.unwrap_or(0);
                    let chunked = response.headers.iter().any(|h| {
                        h.name.eq_ignore_ascii_case("transfer-encoding") && h.value == b"chunked"
                    });
                    let body = if chunked {
                        self.chunked_body(head).await?
                    } else {
                        let length: usize = response
                            .headers
                            .iter()
                            .find(|h| h.name.eq_ignore_ascii_case("content-length"))
                            .ok_or("no content-length")
                            .and_then(|h| std::str::from_utf8(h.value).map_err(|_| "bad length"))?
                            .parse()?;
                        while self.buffer.len() < head + length {
                            self.read().await?;
                        }
                        self.buffer[head..head + length].to_vec()
                    };
                    return accept(status, &body);
                }
                self.read().await?;
            }
        }

        /// The chunks from `at` to the last (empty) one, joined.
        async fn chunked_body(&mut self, mut at: usize) -> Result<Vec<u8>> {
            let mut body = Vec::new();
            loop {
                match httparse::parse_chunk_size(&self.buffer[at..]) {
                    Ok(httparse::Status::Complete((line, size))) => {
                        let size = usize::try_from(size)?;
                        while self.buffer.len() < at + line + size + 2 {
                            self.read().await?;
                        }
                        if size == 0 {
                            return Ok(body);
                        }
                        body.extend_from_slice(&self.buffer[at + line..at + line + size]);
                        at += line + size + 2;
                    }
                    Ok(httparse::Status::Partial) => self.read().await?,
                    Err(_) => return Err("bad chunk size".into()),
                }
            }
        }

        async fn read(&mut self) -> Result<()> {
            if self.stream.read_buf(&mut self.buffer).await? == 0 {
                return Err("connection closed".into());
            }
            Ok(())
        }
    }
}

/// The layers between this client and hyper, each alone on the same signed
/// requests, to tell where the client's CPU goes: `reqwest` is a default
/// `reqwest::Client` (redirect and retry services, URL parsing, hyper-util's
/// pool), `pool` is hyper-util's pooled client reqwest is built on, with a
/// plain `HttpConnector`.
mod layers {
    use bytes::Bytes;
    use http_body_util::{BodyExt, Empty};
    use hyper_util::client::legacy::Client as Pool;
    use hyper_util::client::legacy::connect::HttpConnector;
    use hyper_util::rt::TokioExecutor;
    use kalshi_client::Credentials;
    use std::sync::Arc;

    use super::{BALANCE_PATH, Result, accept, owned_headers, sign_now};

    /// One client shared by every task, as a bot shares one.
    #[derive(Clone)]
    pub struct Stack {
        url: Arc<str>,
        credentials: Credentials,
        client: Layer,
    }

    #[derive(Clone)]
    enum Layer {
        /// A default client: what reqwest does before this crate adds its
        /// settings (no redirects, timeouts) and layers.
        Reqwest(reqwest::Client),
        /// Boxed: hyper-util's client is larger than reqwest's handle.
        Pool(Box<Pool<HttpConnector, Empty<Bytes>>>),
    }

    impl Stack {
        /// `origin` is the scheme and authority (`http://host:port`).
        pub fn new(layer: &str, origin: &str, credentials: Credentials) -> Self {
            let client = if layer == "reqwest" {
                Layer::Reqwest(reqwest::Client::new())
            } else {
                // As the hyper and raw floors do.
                let mut connector = HttpConnector::new();
                connector.set_nodelay(true);
                Layer::Pool(Box::new(
                    Pool::builder(TokioExecutor::new()).build(connector),
                ))
            };
            Self {
                url: format!("{origin}{BALANCE_PATH}").into(),
                credentials,
                client,
            }
        }

        /// One signed `GET /portfolio/balance`, its answer decoded.
        pub async fn balance(&self) -> Result<()> {
            let signed = sign_now(&self.credentials)?;
            let (status, body) = match &self.client {
                Layer::Reqwest(client) => {
                    let mut request = client.get(&*self.url);
                    for (name, value) in owned_headers(signed) {
                        request = request.header(name, value);
                    }
                    let response = request.send().await?;
                    (response.status(), response.bytes().await?)
                }
                Layer::Pool(pool) => {
                    let mut request = hyper::Request::get(&*self.url);
                    for (name, value) in owned_headers(signed) {
                        request = request.header(name, value);
                    }
                    let response = pool.request(request.body(Empty::new())?).await?;
                    let status = response.status();
                    (status, response.into_body().collect().await?.to_bytes())
                }
            };
            accept(status.as_u16(), &body)
        }
    }
}

/// CPU time of the calling thread, from `/proc` (see [`process_cpu_ns`]).
fn thread_cpu_ns() -> u64 {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()
        .and_then(|line| line.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

/// CPU time of this process, every thread, from `/proc` (the workspace
/// forbids the `unsafe` a `clock_gettime` call needs).
fn process_cpu_ns() -> u64 {
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else {
        return 0;
    };
    tasks
        .flatten()
        .filter_map(|task| std::fs::read_to_string(task.path().join("schedstat")).ok())
        .filter_map(|line| line.split_whitespace().next()?.parse::<u64>().ok())
        .sum()
}
