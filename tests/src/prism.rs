//! An independent check on the wire: Stoplight Prism (`@stoplight/prism-cli`,
//! pinned in `tests/prism/package.json`) run as `prism proxy --errors` between
//! a client and an upstream (normally the simulator), validating every request
//! and every response against the vendored OpenAPI spec with code nobody here
//! wrote.
//!
//! ```no_run
//! # async fn demo(simulator_origin: &str) {
//! use kalshi_tests::prism::Prism;
//! // `Simulator::origin()`: http://127.0.0.1:PORT
//! let prism = Prism::start(simulator_origin).await.unwrap();
//! // Point the client at `prism.base_url()` instead of the simulator's, make calls, then:
//! prism.assert_clean();
//! # }
//! ```
//!
//! Prism needs Node.js (18 or 20) and `npm ci --prefix tests/prism`
//! (`cargo xtask ci` runs it); [`Prism::start`] fails, naming that command,
//! when `tests/prism/node_modules` is missing.
//!
//! # What Prism 5.14.2 does in proxy mode with `--errors`
//!
//! - **Request violation** (wrong query type, missing body field, path or
//!   method not in the spec): the request is *not* forwarded. The client gets
//!   `422` (`404`/`405` for an unknown path/method) with an
//!   `application/problem+json` body whose `validation` array names each
//!   violation, e.g. `{"location":["query","limit"],"severity":"Error",
//!   "code":"type","message":"Request query parameter limit must be integer"}`.
//! - **Security**: an operation declaring the `KALSHI-ACCESS-*` apiKey headers
//!   is refused with `401` (problem type `UNAUTHORIZED`, not forwarded) when any
//!   of the three headers is absent. Values are not checked; the simulator
//!   checks signatures.
//! - **Response violation** (error severity: body or media type off-spec, or
//!   a 2xx status the operation does not declare): the upstream's answer is
//!   replaced by `500` problem+json listing the violations, also in an
//!   `sl-violations` header. An undeclared *non*-2xx status (say a 404 or 429
//!   the spec does not list) is only a warning: the upstream's answer passes
//!   through with an `sl-violations` header.
//! - **Upstream 501**: Prism discards it and answers with a *mocked* response.
//! - Query parameters the spec does not declare are accepted silently.
//!
//! Prism's log (stdout, pretty-printed, no JSON option) names the request and
//! the kind of failure but, with `--errors`, not the individual violations:
//!
//! ```text
//! [3:40:04 AM] › [HTTP SERVER] get /trade-api/v2/markets ✖  error     Request terminated with error: https://stoplight.io/prism/errors#UNPROCESSABLE_ENTITY: Invalid request
//! [3:40:04 AM] › [HTTP SERVER] get /trade-api/v2/exchange/status ✖  error     Request terminated with error: https://stoplight.io/prism/errors#VIOLATIONS: Request/Response not valid
//! [3:41:47 AM] ›     [VALIDATOR] ⚠  warning   Violation: response Unable to match the returned status code with those defined in the document: 200,500,503,504
//! [3:41:47 AM] ›     [PROXY] ⚠  warning   Upstream call to /trade-api/v2/exchange/status has returned 501
//! ```
//!
//! The harness reads stdout and stderr on two threads into a shared buffer
//! and [`Prism::violations`] turns every such line (`Request terminated with
//! error`, `Violation:`, an upstream `501`) into one readable line, e.g.
//! `GET /trade-api/v2/markets: request violates the spec (Invalid request);
//! Prism answered 422 and did not forward it`. The details (which field,
//! why) are in the problem+json body the client received. A `Violation:` line
//! carries no path of its own; it is attributed to the last request Prism
//! logged, which is exact unless requests overlap. Prism logs a rejected
//! response only after sending it, so before reading the log
//! [`Prism::violations`] sends Prism a marker request (never forwarded) and
//! waits for its line: everything logged earlier is then in.
//!
//! [`Prism::start_passthrough`] runs without `--errors`: traffic then passes
//! through unchanged (plus an `sl-violations` header) and the log lists every
//! violation in full (`Violation: request.query.limit Request query parameter
//! limit must be integer`), so a test runs on to its final
//! [`Prism::assert_clean`].
//!
//! Prism runs as `node <prism-cli>` (one process, no fork), with a preloaded
//! script that exits when its stdin, a pipe held by [`Prism`], closes: on
//! drop, and when the test process dies however it dies. The temporary spec
//! stays while Prism runs (Prism watches it; its watcher crashes node when
//! the file vanishes during setup) and goes when node exits.
//!
//! # What Prism changes on the way
//!
//! - Paths are forwarded unchanged (the upstream sees `/trade-api/v2/...`, so
//!   signatures over the path still verify); Prism ignores the path part of
//!   `servers[].url`, so the spec handed to it has [`kalshi_openapi::BASE_PATH`]
//!   prefixed to every path key and the upstream is given as a bare origin.
//! - The query string is re-encoded (`tickers=A,B` arrives as
//!   `tickers=A%2CB`).
//! - JSON bodies, both ways, are parsed and re-serialized: whitespace goes,
//!   `1.50` becomes `1.5`, integers beyond 2^53 lose precision. `Content-Type`
//!   is kept and `Content-Length` recomputed. `DELETE` bodies are forwarded.
//! - Request headers are forwarded as sent (the `KALSHI-ACCESS-*` headers
//!   included) except `Host`; `accept`, `accept-encoding: *` and `user-agent`
//!   are added when absent. CORS headers are off (`--cors=false`).
//! - About 1.5–2 ms per request on loopback; startup 1.5–6 s.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How long [`Prism::start`] waits for Prism to answer on its port.
const STARTUP_TIMEOUT: Duration = Duration::from_secs(60);

/// How long [`Prism::violations`] waits for Prism's log to catch up.
const SETTLE_TIMEOUT: Duration = Duration::from_secs(10);

/// How long one startup check waits for Prism to log its marker request;
/// a port held by another server never gets it logged.
const STARTUP_MARKER_TIMEOUT: Duration = Duration::from_secs(2);

/// Prism's spec and node's preload script, in a directory of each Prism's.
const SPEC_FILE: &str = "openapi.json";
const PRELOAD_FILE: &str = "exit-with-parent.cjs";

/// Path of the marker requests [`Prism::violations`] sends; not in the spec.
const MARKER_PATH: &str = "/__kalshi_prism_harness_marker";

/// Loaded by node before Prism: exit when our end of stdin closes, so Prism
/// never outlives the test process, even one killed with SIGKILL or a
/// `Prism` in a `static` that is never dropped; remove the directory holding
/// Prism's spec (named by `KALSHI_PRISM_DIR`) on the way out. The directory
/// must outlive Prism: Prism watches the spec file, and its watcher
/// (chokidar) crashes node when the file vanishes while it is being set up.
const EXIT_WITH_PARENT: &str = "const leave = () => {\n\
  try { require('fs').rmSync(process.env.KALSHI_PRISM_DIR, { recursive: true, force: true }); } catch (e) {}\n\
  process.exit(0);\n\
};\n\
process.stdin.on('end', leave);\n\
process.stdin.on('error', leave);\n\
process.stdin.resume();\n";

/// A running Prism proxy validating traffic against the vendored spec.
pub struct Prism {
    child: Mutex<Child>,
    /// Held open for the life of the proxy; closing it stops node.
    stdin: Option<ChildStdin>,
    port: u16,
    /// Every line Prism printed, stdout and stderr.
    log: Arc<Mutex<Vec<String>>>,
    /// The spec and the preload script; removed once node has exited (the
    /// field drops after `Drop::drop` has waited for node). `None` while
    /// starting: a failed try leaves them to the next one.
    dir: Option<SpecDir>,
}

impl Prism {
    /// Starts `prism proxy --errors <spec> <upstream>` on a free loopback
    /// port, where `<spec>` is a temporary copy of
    /// [`kalshi_openapi::SPEC_YAML`] with `/trade-api/v2` prefixed to every
    /// path key, and `<upstream>` is `upstream_origin`
    /// (`http://127.0.0.1:PORT`; a trailing `/trade-api/v2` is accepted and
    /// dropped, Prism appends the request path itself). Returns once Prism
    /// has logged a request sent to its port, so the server answering there
    /// is this Prism.
    pub async fn start(upstream_origin: &str) -> Result<Prism, String> {
        Self::launch(upstream_origin, true, kalshi_openapi::SPEC_YAML).await
    }

    /// Like [`Prism::start`], validating against the margin (perpetuals)
    /// document, `kalshi_openapi::margin::YAML`, instead: its operations
    /// live under the same `/trade-api/v2` base path.
    pub async fn start_margin(upstream_origin: &str) -> Result<Prism, String> {
        Self::launch(upstream_origin, true, kalshi_openapi::margin::YAML).await
    }

    /// Like [`Prism::start`] without `--errors`: violating requests and
    /// responses pass through unchanged (only an `sl-violations` header is
    /// added) and Prism's log lists each violation in full, so a test runs
    /// to its end and [`Prism::assert_clean`] reports everything at once.
    pub async fn start_passthrough(upstream_origin: &str) -> Result<Prism, String> {
        Self::launch(upstream_origin, false, kalshi_openapi::SPEC_YAML).await
    }

    /// Base URL for the client: `http://127.0.0.1:<port>/trade-api/v2`.
    pub fn base_url(&self) -> String {
        format!(
            "http://127.0.0.1:{}{}",
            self.port,
            kalshi_openapi::BASE_PATH
        )
    }

    /// Every validation violation Prism has reported so far (request or
    /// response), one readable line each, in order; also a line if Prism has
    /// died. Waits (a few milliseconds) until Prism has logged everything
    /// about the requests already answered (see the module docs).
    pub fn violations(&self) -> Vec<String> {
        let settled = match self.exit_status() {
            None => self.settle(),
            Some(_) => Ok(()),
        };
        let mut violations = violations_in(&self.log());
        if let Err(e) = settled {
            violations.push(e);
        }
        if let Some(status) = self.exit_status() {
            let log = self.log();
            violations.push(format!(
                "Prism exited ({status}) while the test ran; later traffic was not validated. \
                 Its last output:\n{}",
                log[log.len().saturating_sub(20)..].join("\n")
            ));
        }
        violations
    }

    /// Panics, listing every violation, if Prism reported any.
    #[track_caller]
    pub fn assert_clean(&self) {
        let violations = self.violations();
        if !violations.is_empty() {
            panic!(
                "Prism reported {} spec violation(s):\n  {}",
                violations.len(),
                violations.join("\n  ")
            );
        }
    }

    /// Everything Prism printed so far, one entry per line.
    pub fn log(&self) -> Vec<String> {
        self.log.lock().expect("prism log").clone()
    }

    /// Waits until Prism's log covers every request answered so far.
    ///
    /// Prism logs a rejected response *after* sending it, so the client can
    /// see the answer before the log line reaches our reader threads. Prism
    /// logs in order through one stream, so a marker request sent now (to a
    /// path outside the spec, with an invalid `Prefer` header so that Prism
    /// rejects it without forwarding it, with or without `--errors`) is
    /// logged after everything before it: once its line is in, so is the rest.
    fn settle(&self) -> Result<(), String> {
        marker_logged(self.port, &self.log, SETTLE_TIMEOUT)
    }

    /// [`marker_logged`] off the async runtime's thread, which may be
    /// the only one (a current-thread test runtime) and must keep running.
    async fn marker_logged_async(&self, timeout: Duration) -> Result<(), String> {
        let (port, log) = (self.port, Arc::clone(&self.log));
        tokio::task::spawn_blocking(move || marker_logged(port, &log, timeout))
            .await
            .map_err(|e| format!("the marker check panicked: {e}"))?
    }

    /// How Prism exited, if it has.
    fn exit_status(&self) -> Option<std::process::ExitStatus> {
        self.child
            .lock()
            .expect("prism child")
            .try_wait()
            .ok()
            .flatten()
    }

    async fn launch(upstream_origin: &str, errors: bool, document: &str) -> Result<Prism, String> {
        let cli = cli_path();
        if !cli.is_file() {
            return Err(format!(
                "Prism is not installed ({} is missing): run `npm ci --prefix tests/prism` \
                 from the workspace root (or `cargo xtask ci`, which does)",
                cli.display()
            ));
        }
        let upstream = upstream(upstream_origin)?;
        // Removed on every way out of here but a started Prism, which takes
        // it over: also when this future is dropped mid-start.
        let dir = SpecDir(temp_dir()?);
        let spec = dir.0.join(SPEC_FILE);
        let preload = dir.0.join(PRELOAD_FILE);
        let written = prefixed_spec(document)
            .and_then(|spec_json| std::fs::write(&spec, spec_json).map_err(|e| e.to_string()))
            .and_then(|()| std::fs::write(&preload, EXIT_WITH_PARENT).map_err(|e| e.to_string()));
        if let Err(e) = written {
            return Err(format!(
                "cannot write Prism's spec under {}: {e}",
                dir.0.display()
            ));
        }
        // The free port is found by binding and releasing it, so another
        // process may take it first: retry on EADDRINUSE.
        let mut attempt = 0;
        let started = loop {
            attempt += 1;
            match Self::spawn(&cli, &dir.0, &upstream, errors).await {
                Err(Failure::PortTaken(_)) if attempt < 3 => continue,
                Err(Failure::PortTaken(message) | Failure::Other(message)) => break Err(message),
                Ok(prism) => break Ok(prism),
            }
        };
        started.map(|mut prism| {
            prism.dir = Some(dir);
            prism
        })
    }

    async fn spawn(cli: &Path, dir: &Path, upstream: &str, errors: bool) -> Result<Prism, Failure> {
        let (spec, preload) = (dir.join(SPEC_FILE), dir.join(PRELOAD_FILE));
        let port = free_port().map_err(Failure::Other)?;
        let port_arg = port.to_string();
        let mut command = Command::new("node");
        command.arg("--require").arg(&preload).arg(cli).arg("proxy");
        if errors {
            command.arg("--errors");
        }
        command
            .args(["--cors=false", "--host", "127.0.0.1", "--port", &port_arg])
            .arg(&spec)
            .arg(upstream)
            .env("KALSHI_PRISM_DIR", dir)
            .env("NO_COLOR", "1")
            .env("FORCE_COLOR", "0")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = command.spawn().map_err(|e| {
            Failure::Other(if e.kind() == std::io::ErrorKind::NotFound {
                "cannot run Prism: `node` is not on PATH (Prism needs Node.js 18 or 20)".to_owned()
            } else {
                format!("cannot run Prism with node: {e}")
            })
        })?;
        let log = Arc::new(Mutex::new(Vec::new()));
        let readers = [
            child.stdout.take().map(|out| capture(out, &log)),
            child.stderr.take().map(|err| capture(err, &log)),
        ];
        let prism = Prism {
            stdin: child.stdin.take(),
            child: Mutex::new(child),
            port,
            log,
            dir: None,
        };
        let started = Instant::now();
        let mut last = String::from("nothing answered yet");
        loop {
            // Ready when *this* Prism logs a marker request sent to the port:
            // a server merely accepting there could be another one that took
            // the port before node bound it (then node exits, below).
            if prism.exit_status().is_none() {
                match prism.marker_logged_async(STARTUP_MARKER_TIMEOUT).await {
                    Ok(()) => return Ok(prism),
                    Err(e) => last = e,
                }
            }
            if let Some(status) = prism.exit_status() {
                // Let the readers drain what node printed before it exited.
                for reader in readers.into_iter().flatten() {
                    let _ = reader.join();
                }
                let output = prism.log().join("\n");
                let message =
                    format!("Prism exited during startup ({status}); its output:\n{output}");
                return Err(if output.contains("EADDRINUSE") {
                    Failure::PortTaken(message)
                } else {
                    Failure::Other(message)
                });
            }
            if started.elapsed() > STARTUP_TIMEOUT {
                return Err(Failure::Other(format!(
                    "Prism was not ready on port {port} within {}s ({last}); its output:\n{}",
                    STARTUP_TIMEOUT.as_secs(),
                    prism.log().join("\n")
                )));
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

impl Drop for Prism {
    fn drop(&mut self) {
        // Closing stdin alone stops node (see `EXIT_WITH_PARENT`); the kill
        // makes it immediate. Node runs Prism in-process (no `--multiprocess`
        // fork), so there are no grandchildren to leave behind.
        drop(self.stdin.take());
        if let Ok(child) = self.child.get_mut() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl std::fmt::Debug for Prism {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Prism")
            .field("pid", &self.child.lock().map(|child| child.id()).ok())
            .field("port", &self.port)
            .finish_non_exhaustive()
    }
}

enum Failure {
    /// Prism could not listen: another process took the port meanwhile.
    PortTaken(String),
    Other(String),
}

/// `tests/prism/node_modules/@stoplight/prism-cli/dist/index.js`, run with
/// node directly so the child's pid is Prism's.
fn cli_path() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("prism/node_modules/@stoplight/prism-cli/dist/index.js")
}

/// The upstream as Prism wants it: an origin without a path.
fn upstream(origin: &str) -> Result<String, String> {
    let trimmed = origin.trim_end_matches('/');
    let trimmed = trimmed
        .strip_suffix(kalshi_openapi::BASE_PATH)
        .unwrap_or(trimmed);
    let authority = trimmed
        .strip_prefix("http://")
        .ok_or_else(|| format!("Prism's upstream must be an http:// origin, got `{origin}`"))?;
    if authority.is_empty() || authority.contains('/') {
        return Err(format!(
            "Prism's upstream must be an origin like `http://127.0.0.1:8080` (Prism appends the \
             request path, `/trade-api/v2/...`, itself), got `{origin}`"
        ));
    }
    Ok(trimmed.to_owned())
}

/// The vendored spec as JSON with [`kalshi_openapi::BASE_PATH`] prefixed to
/// every path key, the paths in their original order.
fn prefixed_spec(document: &str) -> Result<String, String> {
    #[derive(serde::Deserialize, serde::Serialize)]
    struct Spec {
        paths: indexmap::IndexMap<String, serde_json::Value>,
        #[serde(flatten)]
        rest: serde_json::Map<String, serde_json::Value>,
    }
    let mut spec: Spec = serde_saphyr::from_str(document)
        .map_err(|e| format!("the vendored spec does not parse: {e}"))?;
    spec.paths = std::mem::take(&mut spec.paths)
        .into_iter()
        .map(|(path, item)| (format!("{}{path}", kalshi_openapi::BASE_PATH), item))
        .collect();
    serde_json::to_string(&spec).map_err(|e| format!("cannot write the spec as JSON: {e}"))
}

/// Sends a marker request to `port` and waits up to `timeout` for it in
/// `log`, Prism's output.
fn marker_logged(port: u16, log: &Mutex<Vec<String>>, timeout: Duration) -> Result<(), String> {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let path = format!("{MARKER_PATH}/{}", NEXT.fetch_add(1, Ordering::Relaxed));
    let sent = std::net::TcpStream::connect(("127.0.0.1", port)).and_then(|mut stream| {
        stream.set_read_timeout(Some(timeout))?;
        write!(
            stream,
            "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nPrefer: code=marker\r\n\
             Connection: close\r\n\r\n"
        )?;
        stream.read_to_end(&mut Vec::new())
    });
    if let Err(e) = sent {
        return Err(format!("cannot reach Prism on port {port}: {e}"));
    }
    let logged = format!("{path} ");
    let deadline = Instant::now() + timeout;
    loop {
        let done = log
            .lock()
            .expect("prism log")
            .iter()
            .rev()
            .any(|line| line.contains(&logged) && line.contains("Request terminated"));
        if done {
            return Ok(());
        }
        if Instant::now() > deadline {
            return Err(format!(
                "Prism did not log the marker request {path} within {}s: \
                 violations may be missing",
                timeout.as_secs()
            ));
        }
        std::thread::sleep(Duration::from_millis(2));
    }
}

/// The directory of a Prism's spec and preload script, removed on drop.
struct SpecDir(PathBuf);

impl Drop for SpecDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A fresh directory under the system temp dir.
fn temp_dir() -> Result<PathBuf, String> {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let dir = std::env::temp_dir().join(format!(
        "kalshi-prism-{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    ));
    std::fs::create_dir_all(&dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    Ok(dir)
}

/// A loopback port that is free now and that servers binding port 0 cannot
/// be handed meanwhile: it lies outside the kernel's ephemeral range, which is
/// where every other server of the tests gets its port. (Between this check
/// and node binding the port, a recorder binding port 0 could otherwise take
/// it and answer requests meant for Prism.) Ports are handed out in turn from
/// a per-process start, so two Prisms of one process never race for one.
fn free_port() -> Result<u16, String> {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let (low, high) = non_ephemeral_ports();
    let span = usize::from(high - low);
    let start = std::process::id() as usize * 97;
    for _ in 0..span {
        let offset = (start + NEXT.fetch_add(1, Ordering::Relaxed)) % span;
        let port = low + offset as u16;
        if TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return Ok(port);
        }
    }
    Err(format!("no free loopback port in {low}..{high}"))
}

/// Ports outside the kernel's ephemeral range (Linux's
/// `ip_local_port_range`, 32768–60999 by default) and above the registered
/// ones most services use: below its start when there is room there, else
/// above its end.
fn non_ephemeral_ports() -> (u16, u16) {
    const LOW: u16 = 20_000;
    let range = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|text| {
            let mut bounds = text.split_whitespace().map(|n| n.parse::<u16>().ok());
            Some((bounds.next()??, bounds.next()??))
        });
    match range {
        Some((start, _)) if start > LOW + 1_000 => (LOW, start),
        Some((_, end)) if end < u16::MAX - 1_000 => (end + 1, u16::MAX),
        // Unknown, or no room on either side: Linux's default range.
        _ => (LOW, 32_768),
    }
}

/// Copies `stream` line by line into `log` on a thread of its own (no async
/// runtime: a `Prism` may outlive the runtime that started it).
fn capture(
    stream: impl Read + Send + 'static,
    log: &Arc<Mutex<Vec<String>>>,
) -> std::thread::JoinHandle<()> {
    let log = Arc::clone(log);
    std::thread::spawn(move || {
        let mut reader = BufReader::new(stream);
        let mut line = Vec::new();
        while matches!(reader.read_until(b'\n', &mut line), Ok(n) if n > 0) {
            let text = strip_ansi(&String::from_utf8_lossy(&line));
            log.lock()
                .expect("prism log")
                .push(text.trim_end().to_owned());
            line.clear();
        }
    })
}

/// Drops ANSI escape sequences (colours), in case Prism colours anyway.
fn strip_ansi(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            if chars.next() == Some('[') {
                for c in chars.by_ref() {
                    if c.is_ascii_alphabetic() {
                        break;
                    }
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// The violations reported in Prism's log lines; see the module docs.
fn violations_in(log: &[String]) -> Vec<String> {
    let mut violations = Vec::new();
    // `METHOD /path` of the last request Prism logged, for lines without one.
    let mut last_request = String::from("(no request yet)");
    for line in log {
        // `[3:40:04 AM] › [HTTP SERVER] get /path ✖  error     message`
        let line = line
            .split_once(" › ")
            .map_or(line.as_str(), |(_, rest)| rest);
        let request = request_of(line);
        if request.as_ref().is_some_and(|r| r.contains(MARKER_PATH)) {
            continue;
        }
        if let Some(request) = &request {
            last_request.clone_from(request);
        }
        let request = request.unwrap_or_else(|| last_request.clone());
        if let Some(error) = line
            .split_once("Request terminated with error: ")
            .map(|(_, e)| e)
        {
            violations.push(format!("{request}: {}", explain(error)));
        } else if let Some(violation) = line.split_once("Violation: ").map(|(_, v)| v) {
            let severity = if line.contains(" error ") {
                "error"
            } else if line.contains(" warning ") {
                "warning"
            } else {
                "info"
            };
            violations.push(format!("{request}: {severity}: {violation}"));
        } else if line.contains("Upstream call to ") && line.ends_with("has returned 501") {
            violations.push(format!(
                "{request}: the upstream answered 501 and Prism replaced it with a mocked response"
            ));
        }
    }
    violations
}

/// `GET /path` from a line that names its request
/// (`[HTTP SERVER] get /path ...`, `... Forwarding "get" request to ...`).
fn request_of(line: &str) -> Option<String> {
    let rest = line.trim_start().strip_prefix("[HTTP SERVER] ")?;
    let mut words = rest.split_whitespace();
    let (method, path) = (words.next()?, words.next()?);
    path.starts_with('/')
        .then(|| format!("{} {path}", method.to_ascii_uppercase()))
}

/// One line for a problem Prism answered with instead of the upstream's
/// response, from `https://stoplight.io/prism/errors#CODE: title`.
fn explain(error: &str) -> String {
    let (kind, title) = error.rsplit_once('#').map_or(("", error), |(_, rest)| {
        rest.split_once(": ").unwrap_or((rest, ""))
    });
    match kind {
        "UNPROCESSABLE_ENTITY" => format!(
            "request violates the spec ({title}); Prism answered 422 with the details and did not forward it"
        ),
        "UNAUTHORIZED" => format!(
            "request lacks the KALSHI-ACCESS-* headers the operation requires ({title}); \
             Prism answered 401 and did not forward it"
        ),
        "VIOLATIONS" => format!(
            "response violates the spec ({title}); Prism replaced it with a 500 listing the \
             violations (body and sl-violations header)"
        ),
        "NO_PATH_MATCHED_ERROR" | "NO_METHOD_MATCHED_ERROR" => {
            format!("not an operation of the spec ({title}); Prism did not forward it")
        }
        _ => format!("Prism failed the request: {error}"),
    }
}
