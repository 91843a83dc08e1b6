//! `cargo xtask fetch-spec [--url URL | --file PATH]`: obtain Kalshi's
//! OpenAPI document, check that it is one the generator can use, and vendor it.
//!
//! A download and a local file (a copy a maintainer got another way) go
//! through the same checks and the same writing; only how the bytes arrive
//! differs ([`Source`]).
//!
//! The document is written to `kalshi-openapi/openapi.yaml` byte for byte, so
//! its sha256 identifies exactly what was published, and `metadata.rs` records
//! that hash. Every check runs before anything is written, and each file is
//! replaced through a rename, so a bad download (an HTML error page, a
//! truncated body, a 3.1 document) leaves the vendored spec as it was.

use crate::spec::{self, sha256_hex};
use crate::spec_diff::{self, Report};
use serde_json::Value;
use std::fmt;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Kalshi's CDN answers in well under a second; a minute covers a slow link
/// without letting a stalled connection hang the task forever.
const TIMEOUT: Duration = Duration::from_secs(60);
/// The document is about half a MiB; anything this big is not it.
const MAX_BYTES: usize = 32 * 1024 * 1024;
/// Where the vendored document lives, relative to the workspace root.
const SPEC_FILE: &str = "kalshi-openapi/openapi.yaml";
/// Where its metadata lives, relative to the workspace root.
const METADATA_FILE: &str = "kalshi-openapi/metadata.rs";
/// Where the document a fetch replaces is kept, relative to the workspace
/// root, so the last bump's spec-diff stays reproducible (a test snapshots it).
pub const PREVIOUS_SPEC_FILE: &str = "xtask/fixtures/previous-openapi.yaml";

/// The documents the workspace vendors.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Document {
    /// The Trade API (REST), OpenAPI 3.0: `kalshi-openapi/openapi.yaml`.
    TradeApi,
    /// The WebSocket API, AsyncAPI 3.x: `kalshi-openapi/asyncapi.yaml`.
    WebSocketApi,
    /// The margin (perpetuals) REST API, OpenAPI 3.0:
    /// `kalshi-openapi/perps_openapi.yaml`.
    MarginApi,
    /// The margin WebSocket API, AsyncAPI 3.x:
    /// `kalshi-openapi/perps_asyncapi.yaml`.
    MarginWebSocketApi,
}

impl Document {
    /// The vendored file, relative to the workspace root.
    pub fn file(self) -> &'static str {
        match self {
            Self::TradeApi => SPEC_FILE,
            Self::WebSocketApi => "kalshi-openapi/asyncapi.yaml",
            Self::MarginApi => "kalshi-openapi/perps_openapi.yaml",
            Self::MarginWebSocketApi => "kalshi-openapi/perps_asyncapi.yaml",
        }
    }

    /// Its metadata file, relative to the workspace root.
    pub fn metadata_file(self) -> &'static str {
        match self {
            Self::TradeApi => METADATA_FILE,
            Self::WebSocketApi => "kalshi-openapi/asyncapi_metadata.rs",
            Self::MarginApi => "kalshi-openapi/perps_openapi_metadata.rs",
            Self::MarginWebSocketApi => "kalshi-openapi/perps_asyncapi_metadata.rs",
        }
    }

    /// Where the document it replaces is kept, relative to the workspace root.
    pub fn previous_file(self) -> &'static str {
        match self {
            Self::TradeApi => PREVIOUS_SPEC_FILE,
            Self::WebSocketApi => "xtask/fixtures/previous-asyncapi.yaml",
            Self::MarginApi => "xtask/fixtures/previous-perps-openapi.yaml",
            Self::MarginWebSocketApi => "xtask/fixtures/previous-perps-asyncapi.yaml",
        }
    }

    /// The top-level key naming the format and the versions supported.
    fn format(self) -> (&'static str, &'static str, &'static str) {
        match self {
            Self::TradeApi | Self::MarginApi => (
                "openapi",
                "3.0",
                "the generator pipeline (progenitor, openapiv3) supports OpenAPI 3.0 only",
            ),
            Self::WebSocketApi | Self::MarginWebSocketApi => (
                "asyncapi",
                "3.",
                "the stream generator reads AsyncAPI 3 documents only",
            ),
        }
    }

    /// The map every usable document has.
    fn body_key(self) -> &'static str {
        match self {
            Self::TradeApi | Self::MarginApi => "paths",
            Self::WebSocketApi | Self::MarginWebSocketApi => "channels",
        }
    }
}

/// Where the document's bytes come from.
#[derive(Debug, Clone, Copy)]
pub enum Source<'a> {
    /// Downloaded over http(s); the URL is recorded as the upstream URL.
    Url(&'a str),
    /// Read from a local file. `upstream` is recorded as where Kalshi
    /// publishes the document (the file's own path never is: it names a
    /// machine, not the document).
    File {
        /// The file to read.
        path: &'a Path,
        /// Kalshi's URL for the document.
        upstream: &'a str,
    },
}

impl Source<'_> {
    /// How errors name the source: the URL, or the file's path.
    pub fn label(&self) -> String {
        match self {
            Self::Url(url) => (*url).to_owned(),
            Self::File { path, .. } => path.display().to_string(),
        }
    }

    /// The URL recorded as `UPSTREAM_URL`.
    fn upstream(&self) -> &str {
        match self {
            Self::Url(url) => url,
            Self::File { upstream, .. } => upstream,
        }
    }
}

/// What `fetch_spec` vendored.
#[derive(Debug)]
pub struct FetchOutcome {
    /// `info.version` of the downloaded document.
    pub version: String,
    /// Lowercase hex sha256 of the downloaded bytes.
    pub sha256: String,
    /// What changed compared with the previously vendored document.
    pub report: Report,
    /// The download is byte-identical to the vendored document.
    pub unchanged: bool,
}

/// Why a fetch was refused; nothing was written when one is returned.
/// `from` names the source: the URL, or the local file's path.
#[derive(Debug)]
pub enum FetchError {
    /// The request failed before an answer arrived (DNS, TLS, timeout, bad URL).
    Request { url: String, message: String },
    /// The server answered with a non-2xx status.
    Status {
        url: String,
        status: u16,
        reason: String,
    },
    /// The body exceeded `MAX_BYTES`.
    TooLarge { from: String },
    /// The source is a web page, typically a docs page or a CDN error page.
    Html { from: String },
    /// The body is not valid UTF-8 YAML/JSON; usually a truncated download.
    Invalid { from: String, message: String },
    /// The body parses but is not an OpenAPI document.
    NotOpenApi { from: String, message: String },
    /// The document is of a format version the pipeline does not support.
    UnsupportedVersion {
        from: String,
        found: String,
        why: &'static str,
    },
    /// A key the generator needs is missing.
    Missing { from: String, field: &'static str },
    /// A `$ref` points at nothing: the document is cut short or broken.
    DanglingRef { from: String, reference: String },
    /// The currently vendored document could not be compared with the new one.
    OldSpec { path: PathBuf, message: String },
    /// `metadata.rs` lacks a constant or has an unexpected layout.
    Metadata { path: PathBuf, message: String },
    /// Reading or writing a file failed.
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
}

impl fmt::Display for FetchError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Request { url, message } => write!(f, "could not download {url}: {message}"),
            Self::Status {
                url,
                status,
                reason,
            } => write!(
                f,
                "{url} answered HTTP {status} {reason}, not 2xx; nothing was vendored"
            ),
            Self::TooLarge { from } => write!(
                f,
                "{from} holds more than {} MiB; that is not the Kalshi OpenAPI document",
                MAX_BYTES / (1024 * 1024)
            ),
            Self::Html { from } => write!(
                f,
                "{from} is an HTML page, not an OpenAPI document (it must be the raw YAML or JSON file)"
            ),
            Self::Invalid { from, message } => write!(
                f,
                "{from} is not a valid YAML/JSON document (truncated download?): {message}"
            ),
            Self::NotOpenApi { from, message } => {
                write!(f, "{from} is not an OpenAPI document: {message}")
            }
            Self::UnsupportedVersion { from, found, why } => {
                write!(f, "{from} is a document of {found}; {why}")
            }
            Self::Missing { from, field } => write!(
                f,
                "{from} is an OpenAPI document without `{field}`; refusing to vendor it"
            ),
            Self::DanglingRef { from, reference } => write!(
                f,
                "{from} has a `$ref: {reference}` that points at nothing; it looks truncated or broken"
            ),
            Self::OldSpec { path, message } => write!(
                f,
                "cannot compare with the vendored spec {}: {message}; fix or delete it and fetch again",
                path.display()
            ),
            Self::Metadata { path, message } => write!(f, "{}: {message}", path.display()),
            Self::Io { path, source } => write!(f, "{}: {source}", path.display()),
        }
    }
}

impl std::error::Error for FetchError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Io { source, .. } => Some(source),
            _ => None,
        }
    }
}

/// Obtains the document from `source`, checks it, and vendors it under
/// `root` with `today` as `VENDORED_ON`. Nothing is written unless every
/// check passes; nothing at all is written when the document and its
/// recorded metadata are already current, so a no-op fetch leaves no diff to
/// commit.
///
/// A download runs its own single-threaded tokio runtime, so this must not
/// be called from inside another runtime.
pub fn fetch_spec(
    source: Source<'_>,
    root: &Path,
    today: &str,
) -> Result<FetchOutcome, FetchError> {
    fetch(Document::TradeApi, source, root, today)
}

/// [`fetch_spec`] for any of the vendored [`Document`]s.
pub fn fetch(
    document: Document,
    source: Source<'_>,
    root: &Path,
    today: &str,
) -> Result<FetchOutcome, FetchError> {
    let label = source.label();
    let download = match source {
        Source::Url(url) => download(url)?,
        Source::File { path, .. } => read_local(path)?,
    };
    let (new_doc, version) = check(document, &label, &download)?;
    let spec_path = root.join(document.file());
    let metadata_path = root.join(document.metadata_file());
    let old_bytes = read_if_present(&spec_path)?;
    let report = spec_diff::diff(&parse_old(&spec_path, old_bytes.as_deref())?, &new_doc);
    let sha256 = sha256_hex(&download.body);
    let unchanged = old_bytes.as_deref() == Some(download.body.as_slice());
    let upstream = source.upstream();
    if !(unchanged && metadata_is_current(&metadata_path, &version, &sha256, upstream)) {
        let metadata = render_document_metadata(document, &version, &sha256, upstream, today);
        let previous_path = root.join(document.previous_file());
        let mut files = vec![
            (spec_path.as_path(), download.body.as_slice()),
            (metadata_path.as_path(), metadata.as_bytes()),
        ];
        if let Some(old) = old_bytes.as_deref().filter(|_| !unchanged) {
            if let Some(dir) = previous_path.parent() {
                fs::create_dir_all(dir).map_err(|source| io_error(dir, source))?;
            }
            files.push((previous_path.as_path(), old));
        }
        replace_files(&files)?;
    }
    Ok(FetchOutcome {
        version,
        sha256,
        report,
        unchanged,
    })
}

/// The upstream URL recorded in `root`'s metadata, for a `--file` fetch
/// that does not name one.
pub fn recorded_upstream(root: &Path) -> Result<String, FetchError> {
    recorded_upstream_of(Document::TradeApi, root)
}

/// The upstream URL recorded for `document`.
pub fn recorded_upstream_of(document: Document, root: &Path) -> Result<String, FetchError> {
    let path = root.join(document.metadata_file());
    metadata_const(&path, &read_text(&path)?, "UPSTREAM_URL")
}

/// The text of `metadata.rs`, in the layout `kalshi-openapi` includes.
pub fn render_metadata(version: &str, sha256: &str, url: &str, day: &str) -> String {
    render_document_metadata(Document::TradeApi, version, sha256, url, day)
}

/// The text of a document's metadata file.
pub fn render_document_metadata(
    document: Document,
    version: &str,
    sha256: &str,
    url: &str,
    day: &str,
) -> String {
    let file = Path::new(document.file())
        .file_name()
        .map_or_else(String::new, |n| n.to_string_lossy().into_owned());
    // `{:?}` writes a Rust string literal, escapes included.
    format!(
        "// Metadata of the vendored `{file}`, written by `cargo xtask fetch-spec`.
// `cargo xtask regen --check` fails when SHA256 no longer matches the file.

/// `info.version` of the vendored document.
pub const VERSION: &str = {version:?};
/// Lowercase hex sha256 of `{file}`. Kalshi edits the published file
/// without always bumping `info.version`, so the hash is the real identity.
pub const SHA256: &str = {sha256:?};
/// Where Kalshi publishes the document.
pub const UPSTREAM_URL: &str = {url:?};
/// The day the document was vendored (UTC, ISO 8601).
pub const VENDORED_ON: &str = {day:?};
"
    )
}

/// `(VERSION, SHA256)` recorded in `root/kalshi-openapi/metadata.rs`, read
/// from the file rather than the compiled constants so a check sees the
/// file as it is on disk now.
pub fn read_metadata(root: &Path) -> Result<(String, String), FetchError> {
    read_document_metadata(Document::TradeApi, root)
}

/// `(VERSION, SHA256)` recorded for `document`.
pub fn read_document_metadata(
    document: Document,
    root: &Path,
) -> Result<(String, String), FetchError> {
    let path = root.join(document.metadata_file());
    let text = read_text(&path)?;
    let version = metadata_const(&path, &text, "VERSION")?;
    let sha256 = metadata_const(&path, &text, "SHA256")?;
    Ok((version, sha256))
}

/// Today's date in UTC as `YYYY-MM-DD`, for `VENDORED_ON`.
pub fn today_utc() -> String {
    chrono::Utc::now().format("%Y-%m-%d").to_string()
}

// ---------------------------------------------------------------------------
// Downloading
// ---------------------------------------------------------------------------

/// The body of a successful answer.
struct Download {
    body: Vec<u8>,
    /// Only used to name an HTML answer that does not start with `<`.
    html_content_type: bool,
}

/// A local copy, read with the same size limit as a download. There is no
/// content type to go by, so only the bytes can reveal an HTML page.
fn read_local(path: &Path) -> Result<Download, FetchError> {
    let size = fs::metadata(path)
        .map_err(|source| io_error(path, source))?
        .len();
    if size > MAX_BYTES as u64 {
        return Err(FetchError::TooLarge {
            from: path.display().to_string(),
        });
    }
    let body = fs::read(path).map_err(|source| io_error(path, source))?;
    Ok(Download {
        body,
        html_content_type: false,
    })
}

fn download(url: &str) -> Result<Download, FetchError> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| request_error(url, format!("cannot start the tokio runtime: {e}")))?;
    runtime.block_on(get(url))
}

async fn get(url: &str) -> Result<Download, FetchError> {
    let parsed = reqwest::Url::parse(url)
        .map_err(|e| request_error(url, format!("not a valid URL: {e}")))?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(request_error(
            url,
            "only http and https URLs are supported".into(),
        ));
    }
    let mut builder = reqwest::Client::builder()
        .timeout(TIMEOUT)
        .user_agent(concat!("kalshi-xtask/", env!("CARGO_PKG_VERSION")));
    if is_loopback(&parsed) {
        // A proxy from the environment cannot reach this machine's loopback.
        builder = builder.no_proxy();
    }
    let failed = |e: reqwest::Error| request_error(url, error_chain(&e));
    let client = builder.build().map_err(failed)?;
    let mut response = client.get(parsed).send().await.map_err(failed)?;
    let status = response.status();
    if !status.is_success() {
        return Err(FetchError::Status {
            url: url.to_string(),
            status: status.as_u16(),
            reason: status.canonical_reason().unwrap_or("").to_string(),
        });
    }
    let html_content_type = response
        .headers()
        .get(reqwest::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim().to_ascii_lowercase().starts_with("text/html"));
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(failed)? {
        if body.len() + chunk.len() > MAX_BYTES {
            return Err(FetchError::TooLarge {
                from: url.to_string(),
            });
        }
        body.extend_from_slice(&chunk);
    }
    Ok(Download {
        body,
        html_content_type,
    })
}

fn is_loopback(url: &reqwest::Url) -> bool {
    let host = url.host_str().unwrap_or("");
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    host.eq_ignore_ascii_case("localhost")
        || bare
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

fn request_error(url: &str, message: String) -> FetchError {
    FetchError::Request {
        url: url.to_string(),
        message,
    }
}

/// reqwest's own message is generic ("error sending request"); the cause
/// (connection refused, certificate, timeout) is in its sources.
fn error_chain(error: &dyn std::error::Error) -> String {
    let mut message = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        message.push_str(": ");
        message.push_str(&cause.to_string());
        source = cause.source();
    }
    message
}

// ---------------------------------------------------------------------------
// Checking
// ---------------------------------------------------------------------------

/// Checks that the body is a document of `document`'s format and version the
/// generator can use, and returns it parsed, with its `info.version`.
fn check(
    document: Document,
    from: &str,
    download: &Download,
) -> Result<(Value, String), FetchError> {
    let html = || FetchError::Html {
        from: from.to_string(),
    };
    if starts_with_markup(&download.body) {
        return Err(html());
    }
    let doc = match parse_body(from, &download.body) {
        Err(_) if download.html_content_type => return Err(html()),
        other => other?,
    };
    let not_openapi = |message: &str| FetchError::NotOpenApi {
        from: from.to_string(),
        message: message.to_string(),
    };
    let Some(map) = doc.as_object() else {
        if download.html_content_type {
            return Err(html());
        }
        return Err(not_openapi("the body is empty or not a YAML/JSON mapping"));
    };
    let (format_key, supported, why) = document.format();
    let format = map.get(format_key).and_then(scalar_text).ok_or_else(|| {
        not_openapi(&format!(
            "it has no `{format_key}` version field{}",
            if matches!(document, Document::TradeApi | Document::MarginApi) {
                " (Swagger 2.0?)"
            } else {
                ""
            }
        ))
    })?;
    if format != supported.trim_end_matches('.') && !format.starts_with(supported) {
        return Err(FetchError::UnsupportedVersion {
            from: from.to_string(),
            found: format!("{format_key} {format}"),
            why,
        });
    }
    let missing = |field| FetchError::Missing {
        from: from.to_string(),
        field,
    };
    if !map.get(document.body_key()).is_some_and(Value::is_object) {
        return Err(missing(document.body_key()));
    }
    let version = doc
        .pointer("/info/version")
        .and_then(scalar_text)
        .ok_or_else(|| missing("info.version"))?;
    check_refs(from, &doc, &doc)?;
    Ok((doc, version))
}

/// An OpenAPI document starts with a key or `{`, never with `<`: such a body
/// is a web page (or an XML error from a storage bucket).
fn starts_with_markup(body: &[u8]) -> bool {
    let body = body.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(body);
    body.iter()
        .find(|b| !b.is_ascii_whitespace())
        .is_some_and(|&b| b == b'<')
}

fn parse_body(from: &str, body: &[u8]) -> Result<Value, FetchError> {
    let invalid = |message: String| FetchError::Invalid {
        from: from.to_string(),
        message,
    };
    let text = std::str::from_utf8(body).map_err(|e| invalid(format!("not UTF-8: {e}")))?;
    serde_saphyr::from_str(text).map_err(|e| invalid(e.to_string()))
}

/// A YAML scalar as text: `version: 1.0` parses as a number, but is meant as a string.
fn scalar_text(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// A download cut at a line boundary still parses; what gives it away is a
/// `$ref` to a component that never arrived.
fn check_refs(from: &str, doc: &Value, node: &Value) -> Result<(), FetchError> {
    match node {
        Value::Object(map) => {
            if let Some(reference) = map.get("$ref").and_then(Value::as_str) {
                let resolves =
                    !reference.starts_with('#') || spec::lookup(doc, reference).is_some();
                if !resolves {
                    return Err(FetchError::DanglingRef {
                        from: from.to_string(),
                        reference: reference.to_string(),
                    });
                }
            }
            map.values().try_for_each(|v| check_refs(from, doc, v))
        }
        Value::Array(items) => items.iter().try_for_each(|v| check_refs(from, doc, v)),
        _ => Ok(()),
    }
}

// ---------------------------------------------------------------------------
// Files
// ---------------------------------------------------------------------------

fn read_if_present(path: &Path) -> Result<Option<Vec<u8>>, FetchError> {
    match fs::read(path) {
        Ok(bytes) => Ok(Some(bytes)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(source) => Err(io_error(path, source)),
    }
}

fn read_text(path: &Path) -> Result<String, FetchError> {
    fs::read_to_string(path).map_err(|source| io_error(path, source))
}

/// The vendored document, or `null` when there is none yet (everything in
/// the new one is then reported as added).
fn parse_old(path: &Path, bytes: Option<&[u8]>) -> Result<Value, FetchError> {
    let Some(bytes) = bytes else {
        return Ok(Value::Null);
    };
    let old_spec = |message: String| FetchError::OldSpec {
        path: path.to_path_buf(),
        message,
    };
    let text = std::str::from_utf8(bytes).map_err(|e| old_spec(format!("not UTF-8: {e}")))?;
    serde_saphyr::from_str(text).map_err(|e| old_spec(format!("does not parse: {e}")))
}

/// Whether `metadata.rs` already records this document from this URL; a
/// malformed or missing file is simply not current.
fn metadata_is_current(path: &Path, version: &str, sha256: &str, url: &str) -> bool {
    let Ok(text) = fs::read_to_string(path) else {
        return false;
    };
    let field = |name| metadata_const(path, &text, name).ok();
    field("VERSION").as_deref() == Some(version)
        && field("SHA256").as_deref() == Some(sha256)
        && field("UPSTREAM_URL").as_deref() == Some(url)
}

/// The value of `pub const NAME: &str = "...";` in `metadata.rs`.
fn metadata_const(path: &Path, text: &str, name: &str) -> Result<String, FetchError> {
    let prefix = format!("pub const {name}: &str = ");
    text.lines()
        .find_map(|line| line.trim().strip_prefix(prefix.as_str()))
        .and_then(|rest| rest.strip_suffix(';'))
        .and_then(unquote)
        .ok_or_else(|| FetchError::Metadata {
            path: path.to_path_buf(),
            message: format!("no `pub const {name}: &str = \"...\";` line"),
        })
}

/// Undoes the escapes `render_metadata` can produce for ordinary text.
fn unquote(literal: &str) -> Option<String> {
    let inner = literal.strip_prefix('"')?.strip_suffix('"')?;
    let mut out = String::with_capacity(inner.len());
    let mut chars = inner.chars();
    while let Some(c) = chars.next() {
        out.push(match c {
            '\\' => match chars.next()? {
                '\\' => '\\',
                '"' => '"',
                '\'' => '\'',
                'n' => '\n',
                't' => '\t',
                _ => return None,
            },
            '"' => return None,
            c => c,
        });
    }
    Some(out)
}

/// Replaces each file through a temporary sibling and a rename: every new
/// content is fully on disk before the first rename, so a failed write
/// leaves all the old files in place.
fn replace_files(files: &[(&Path, &[u8])]) -> Result<(), FetchError> {
    let mut staged: Vec<(PathBuf, &Path)> = Vec::new();
    for (path, bytes) in files {
        match stage(path, bytes) {
            Ok(temp) => staged.push((temp, path)),
            Err(e) => {
                remove_all(staged.iter().map(|(temp, _)| temp));
                return Err(e);
            }
        }
    }
    for (i, (temp, path)) in staged.iter().enumerate() {
        if let Err(source) = fs::rename(temp, path) {
            remove_all(staged[i..].iter().map(|(temp, _)| temp));
            return Err(io_error(path, source));
        }
    }
    Ok(())
}

/// Writes `bytes` next to `path` and returns the temporary file's path.
fn stage(path: &Path, bytes: &[u8]) -> Result<PathBuf, FetchError> {
    let name = path
        .file_name()
        .map_or_else(|| "file".into(), |n| n.to_string_lossy().into_owned());
    let temp = path.with_file_name(format!(".{name}.fetch-spec-{}.tmp", std::process::id()));
    let written = fs::File::create(&temp).and_then(|mut file| {
        file.write_all(bytes)?;
        file.sync_all()
    });
    match written {
        Ok(()) => Ok(temp),
        Err(source) => {
            remove_all([&temp]);
            Err(io_error(&temp, source))
        }
    }
}

fn remove_all<'p>(paths: impl IntoIterator<Item = &'p PathBuf>) {
    for path in paths {
        // Best effort: the error being reported matters more than a stray temp file.
        let _ = fs::remove_file(path);
    }
}

fn io_error(path: &Path, source: std::io::Error) -> FetchError {
    FetchError::Io {
        path: path.to_path_buf(),
        source,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;
    use std::net::TcpListener;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::{SystemTime, UNIX_EPOCH};

    /// A small valid 3.0 document, with comments and odd spacing that a
    /// re-serialization would lose, to prove the bytes are kept as served.
    const SMALL: &str = r##"# Kalshi test document
openapi: 3.0.3
info:
  title: Test   # trailing comment
  version: "9.9.9"
paths:
  /balance:
    get:
      operationId: GetBalance
      description: "a long quoted description that a truncated download cuts in half"
      responses:
        '200':
          description: ok
          content:
            application/json:
              schema:
                $ref: '#/components/schemas/Balance'
components:
  schemas:
    Balance:
      type: object
      properties:
        balance: {type: integer, format: int64}
"##;

    /// Serves one HTTP/1.1 answer on a fresh loopback port and returns its URL.
    fn serve(status: &'static str, content_type: &'static str, body: Vec<u8>) -> String {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind loopback");
        let addr = listener.local_addr().expect("local addr");
        std::thread::spawn(move || {
            let Ok((mut stream, _)) = listener.accept() else {
                return;
            };
            let mut request = Vec::new();
            let mut buf = [0u8; 1024];
            while !request.windows(4).any(|w| w == b"\r\n\r\n") && request.len() < 65_536 {
                match stream.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => request.extend_from_slice(&buf[..n]),
                }
            }
            let head = format!(
                "HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                body.len()
            );
            let _ = stream.write_all(head.as_bytes());
            let _ = stream.write_all(&body);
            let _ = stream.flush();
        });
        format!("http://{addr}/openapi.yaml")
    }

    /// A throwaway workspace holding a copy of the vendored spec and metadata.
    struct TempRoot(PathBuf);

    impl TempRoot {
        fn new() -> Self {
            static COUNTER: AtomicUsize = AtomicUsize::new(0);
            let unique = format!(
                "xtask-fetch-{}-{}-{}",
                std::process::id(),
                COUNTER.fetch_add(1, Ordering::Relaxed),
                SystemTime::now()
                    .duration_since(UNIX_EPOCH)
                    .map_or(0, |d| d.as_nanos())
            );
            let root = std::env::temp_dir().join(unique);
            fs::create_dir_all(root.join("kalshi-openapi")).expect("create temp root");
            let real = crate::workspace_root();
            for file in [SPEC_FILE, METADATA_FILE] {
                fs::copy(real.join(file), root.join(file)).expect("copy vendored file");
            }
            TempRoot(root)
        }

        fn files(&self) -> (Vec<u8>, Vec<u8>) {
            let read = |f| fs::read(self.0.join(f)).expect("read vendored file");
            (read(SPEC_FILE), read(METADATA_FILE))
        }

        /// Every entry of `kalshi-openapi/`, to spot leftover temporary files.
        fn entries(&self) -> Vec<String> {
            let dir = fs::read_dir(self.0.join("kalshi-openapi")).expect("read dir");
            let mut names: Vec<String> = dir
                .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
                .collect();
            names.sort();
            names
        }
    }

    impl Drop for TempRoot {
        fn drop(&mut self) {
            let _ = fs::remove_dir_all(&self.0);
        }
    }

    #[test]
    fn a_valid_spec_is_vendored_byte_for_byte_with_its_metadata() {
        let root = TempRoot::new();
        let url = serve("200 OK", "application/yaml", SMALL.as_bytes().to_vec());
        let outcome = fetch_spec(Source::Url(&url), &root.0, "2027-01-02").expect("fetch succeeds");

        let expected_sha = sha256_hex(SMALL.as_bytes());
        assert_eq!(expected_sha.len(), 64);
        assert_eq!(outcome.version, "9.9.9");
        assert_eq!(outcome.sha256, expected_sha);
        assert!(!outcome.unchanged);
        let (spec, metadata) = root.files();
        assert_eq!(
            spec,
            SMALL.as_bytes(),
            "openapi.yaml is not the served bytes"
        );
        let metadata = String::from_utf8(metadata).expect("utf-8");
        assert_eq!(
            metadata,
            render_metadata("9.9.9", &expected_sha, &url, "2027-01-02")
        );
        assert!(metadata.contains(&format!("pub const UPSTREAM_URL: &str = \"{url}\";")));
        assert!(metadata.contains("pub const VENDORED_ON: &str = \"2027-01-02\";"));
        assert_eq!(
            read_metadata(&root.0).expect("metadata reads back"),
            ("9.9.9".to_string(), expected_sha)
        );
        assert_eq!(root.entries(), ["metadata.rs", "openapi.yaml"]);
        assert_eq!(
            fs::read(root.0.join(PREVIOUS_SPEC_FILE)).expect("the replaced spec is kept"),
            kalshi_openapi::SPEC_YAML.as_bytes()
        );

        // Against the vendored operations, the small spec removes most.
        assert!(outcome.report.is_breaking());
        let text = outcome.report.to_string();
        assert!(text.contains(
            "CancelOrderV2 (DELETE /portfolio/events/orders/{order_id}): operation removed"
        ));
        assert!(text.contains("GetBalance"));
    }

    #[test]
    fn the_same_document_again_is_unchanged_and_writes_nothing() {
        let root = TempRoot::new();
        let url = serve(
            "200 OK",
            "text/yaml",
            kalshi_openapi::SPEC_YAML.as_bytes().to_vec(),
        );
        let metadata = render_metadata(
            kalshi_openapi::VERSION,
            kalshi_openapi::SHA256,
            &url,
            "2020-01-01",
        );
        fs::write(root.0.join(METADATA_FILE), &metadata).expect("write metadata");
        let before = root.files();

        let outcome = fetch_spec(Source::Url(&url), &root.0, "2027-01-02").expect("fetch succeeds");
        assert!(outcome.unchanged);
        assert!(outcome.report.is_empty(), "{}", outcome.report);
        assert_eq!(outcome.sha256, kalshi_openapi::SHA256);
        assert_eq!(outcome.version, kalshi_openapi::VERSION);
        assert_eq!(root.files(), before, "an unchanged fetch rewrote a file");
        assert!(
            !root.0.join(PREVIOUS_SPEC_FILE).exists(),
            "nothing was replaced, so nothing is kept"
        );
    }

    /// Serves `body`, expects a refusal whose message contains `needle`, and
    /// checks that the vendored files did not change. A body served with
    /// 200 is also offered as a local file (`--file`), which must be refused
    /// by the same check (an HTML content type is the one clue a file lacks).
    fn assert_refused(status: &'static str, content_type: &'static str, body: &[u8], needle: &str) {
        let root = TempRoot::new();
        let before = root.files();
        let url = serve(status, content_type, body.to_vec());
        let err =
            fetch_spec(Source::Url(&url), &root.0, "2027-01-02").expect_err("the fetch is refused");
        let message = err.to_string();
        assert!(message.contains(needle), "`{message}` lacks `{needle}`");
        assert!(message.contains(&url), "`{message}` does not name the URL");
        assert!(
            root.files() == before,
            "a refused fetch changed the vendored files"
        );
        assert_eq!(root.entries(), ["metadata.rs", "openapi.yaml"]);
        if status.starts_with("200") && !content_type.starts_with("text/html") {
            assert_file_refused(body, needle);
        }
    }

    /// Offers `body` as a local file; the refusal names the file.
    fn assert_file_refused(body: &[u8], needle: &str) {
        let root = TempRoot::new();
        let before = root.files();
        let file = root.0.join("downloaded.yaml");
        fs::write(&file, body).expect("write the local copy");
        let source = Source::File {
            path: &file,
            upstream: "https://docs.kalshi.com/openapi.yaml",
        };
        let message = fetch_spec(source, &root.0, "2027-01-02")
            .expect_err("the file is refused")
            .to_string();
        assert!(message.contains(needle), "`{message}` lacks `{needle}`");
        assert!(
            message.contains("downloaded.yaml"),
            "`{message}` does not name the file"
        );
        assert!(
            root.files() == before,
            "a refused file changed the vendored files"
        );
    }

    #[test]
    fn a_local_file_is_vendored_byte_for_byte_under_the_upstream_url() {
        let root = TempRoot::new();
        let file = root.0.join("copy-from-elsewhere.yaml");
        fs::write(&file, SMALL).expect("write the local copy");
        let upstream = recorded_upstream(&root.0).expect("the copied metadata names one");
        assert_eq!(upstream, kalshi_openapi::UPSTREAM_URL);
        let source = Source::File {
            path: &file,
            upstream: &upstream,
        };
        let outcome = fetch_spec(source, &root.0, "2027-01-02").expect("the file is vendored");
        assert_eq!(outcome.version, "9.9.9");
        let (spec, metadata) = root.files();
        assert_eq!(spec, SMALL.as_bytes());
        let metadata = String::from_utf8(metadata).expect("utf-8");
        assert_eq!(
            metadata,
            render_metadata(
                "9.9.9",
                &sha256_hex(SMALL.as_bytes()),
                &upstream,
                "2027-01-02"
            )
        );
        assert!(
            !metadata.contains("copy-from-elsewhere"),
            "a local path reached the metadata: {metadata}"
        );
        // Vendoring the same file again writes nothing.
        let before = root.files();
        let again = fetch_spec(source, &root.0, "2028-01-01").expect("again");
        assert!(again.unchanged && again.report.is_empty());
        assert_eq!(root.files(), before);
    }

    #[test]
    fn a_missing_or_oversized_file_is_refused() {
        let root = TempRoot::new();
        let before = root.files();
        let missing = root.0.join("nope.yaml");
        let source = Source::File {
            path: &missing,
            upstream: "https://docs.kalshi.com/openapi.yaml",
        };
        let err = fetch_spec(source, &root.0, "2027-01-02").expect_err("no such file");
        assert!(matches!(err, FetchError::Io { .. }), "{err}");
        assert!(err.to_string().contains("nope.yaml"), "{err}");
        let big = root.0.join("big.yaml");
        let file = fs::File::create(&big).expect("create");
        file.set_len(MAX_BYTES as u64 + 1).expect("grow");
        let source = Source::File {
            path: &big,
            upstream: "https://docs.kalshi.com/openapi.yaml",
        };
        let err = fetch_spec(source, &root.0, "2027-01-02").expect_err("too large");
        assert!(matches!(err, FetchError::TooLarge { .. }), "{err}");
        assert_eq!(root.files(), before);
    }

    #[test]
    fn an_html_page_is_refused() {
        let page = b"<!DOCTYPE html>\n<html><head><title>Kalshi Docs</title></head><body>hi</body></html>\n";
        let needle = "is an HTML page, not an OpenAPI document";
        assert_refused("200 OK", "text/html; charset=utf-8", page, needle);
        // Even when the server calls it YAML.
        assert_refused("200 OK", "application/yaml", page, needle);
        // And an HTML page without the leading tag, told apart by its content type.
        assert_refused("200 OK", "text/html", b"Just a moment...\n  <p>: [", needle);
    }

    #[test]
    fn a_truncated_document_is_refused_with_the_parse_error() {
        let cut = SMALL.find("cuts in half").expect("marker");
        let needle = "is not a valid YAML/JSON document (truncated download?)";
        assert_refused(
            "200 OK",
            "application/yaml",
            &SMALL.as_bytes()[..cut],
            needle,
        );
        let root = TempRoot::new();
        let url = serve(
            "200 OK",
            "application/yaml",
            SMALL.as_bytes()[..cut].to_vec(),
        );
        let message = fetch_spec(Source::Url(&url), &root.0, "2027-01-02")
            .expect_err("refused")
            .to_string();
        assert!(
            message.contains("line"),
            "the parse error says where: {message}"
        );
    }

    #[test]
    fn a_document_cut_at_a_line_boundary_is_refused() {
        let cut = SMALL.find("components:").expect("marker");
        let needle =
            "has a `$ref: #/components/schemas/Balance` that points at nothing; it looks truncated";
        assert_refused(
            "200 OK",
            "application/yaml",
            &SMALL.as_bytes()[..cut],
            needle,
        );
    }

    #[test]
    fn openapi_3_1_is_refused() {
        let doc = SMALL.replace("openapi: 3.0.3", "openapi: 3.1.0");
        let needle = "is a document of openapi 3.1.0; the generator pipeline (progenitor, openapiv3) supports OpenAPI 3.0 only";
        assert_refused("200 OK", "application/yaml", doc.as_bytes(), needle);
    }

    #[test]
    fn a_404_is_refused_naming_the_status() {
        assert_refused(
            "404 Not Found",
            "text/plain",
            b"not found",
            "answered HTTP 404 Not Found",
        );
    }

    #[test]
    fn documents_without_paths_or_version_are_refused() {
        let no_paths = SMALL.replace("paths:", "routes:");
        assert_refused(
            "200 OK",
            "application/yaml",
            no_paths.as_bytes(),
            "without `paths`",
        );
        let no_version = SMALL.replace("version: \"9.9.9\"", "revision: x");
        assert_refused(
            "200 OK",
            "application/yaml",
            no_version.as_bytes(),
            "without `info.version`",
        );
        let swagger = b"swagger: '2.0'\ninfo: {title: t, version: '1'}\npaths: {}\n";
        assert_refused(
            "200 OK",
            "application/yaml",
            swagger,
            "no `openapi` version field",
        );
        assert_refused(
            "200 OK",
            "application/yaml",
            b"",
            "empty or not a YAML/JSON mapping",
        );
    }

    #[test]
    fn a_json_document_is_accepted() {
        let root = TempRoot::new();
        let doc: Value = serde_saphyr::from_str(SMALL).expect("parses");
        let json = serde_json::to_vec_pretty(&doc).expect("serializes");
        let url = serve("200 OK", "application/json", json.clone());
        let outcome = fetch_spec(Source::Url(&url), &root.0, "2027-01-02").expect("fetch succeeds");
        assert_eq!(outcome.version, "9.9.9");
        assert_eq!(root.files().0, json);
    }

    #[test]
    fn an_unreachable_server_is_a_request_error() {
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("free port")
            .port();
        let root = TempRoot::new();
        let before = root.files();
        let url = format!("http://127.0.0.1:{port}/openapi.yaml");
        let err =
            fetch_spec(Source::Url(&url), &root.0, "2027-01-02").expect_err("nothing listens");
        assert!(matches!(err, FetchError::Request { .. }), "{err}");
        assert!(
            err.to_string()
                .starts_with(&format!("could not download {url}: ")),
            "{err}"
        );
        assert_eq!(root.files(), before);
        let err = fetch_spec(Source::Url("ftp://example.com/x"), &root.0, "2027-01-02")
            .expect_err("scheme");
        assert!(err.to_string().contains("only http and https"), "{err}");
    }

    #[test]
    fn render_metadata_reproduces_the_vendored_file() {
        let root = crate::workspace_root();
        let on_disk = fs::read_to_string(root.join(METADATA_FILE)).expect("read metadata.rs");
        let rendered = render_metadata(
            kalshi_openapi::VERSION,
            kalshi_openapi::SHA256,
            kalshi_openapi::UPSTREAM_URL,
            kalshi_openapi::VENDORED_ON,
        );
        assert_eq!(rendered, on_disk);
        assert_eq!(
            read_metadata(&root).expect("reads"),
            (
                kalshi_openapi::VERSION.to_string(),
                kalshi_openapi::SHA256.to_string()
            )
        );
    }

    #[test]
    fn read_metadata_names_the_missing_constant() {
        let root = TempRoot::new();
        fs::write(
            root.0.join(METADATA_FILE),
            "pub const VERSION: &str = \"1\";\n",
        )
        .expect("write");
        let err = read_metadata(&root.0).expect_err("no SHA256");
        assert!(err.to_string().contains("pub const SHA256"), "{err}");
        assert!(err.to_string().contains("metadata.rs"), "{err}");
    }

    #[test]
    fn unquote_round_trips_debug_escapes() {
        for text in ["3.31.0", "a \"quoted\" \\ path", "it's"] {
            assert_eq!(unquote(&format!("{text:?}")).as_deref(), Some(text));
        }
        assert_eq!(unquote("\"a\"b\""), None);
    }

    #[test]
    fn today_is_an_iso_date() {
        let today = today_utc();
        assert!(
            chrono::NaiveDate::parse_from_str(&today, "%Y-%m-%d").is_ok(),
            "{today}"
        );
    }
}
