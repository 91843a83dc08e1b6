//! `cargo xtask <task>`: see `cargo xtask help`.

use std::path::Path;
use std::process::ExitCode;

use xtask::fetch::{Document, Source};
use xtask::{fetch, regen, spec_diff, workspace_root};

const USAGE: &str = "\
usage: cargo xtask <task>

tasks:
  ci                       the whole test suite as CI runs it: fmt, clippy, regen --check,
                           docs with warnings denied, the MSRV of dependencies, cargo deny
                           (pinned, built once; vendored advisory database), npm ci for
                           Prism, tests, a one-minute fault soak, the default features
                           alone, Schemathesis against the simulator, cargo publish
                           --dry-run
  schemathesis             the fuzzing step of ci alone: the pinned Schemathesis (installed
                           once into target/tools/) over every operation against kalshi-sim
  fuzz --seconds N [TARGET...]
                           every fuzz target of fuzz/ (or those named) under libFuzzer for
                           N seconds each, then minimise the committed corpus in
                           fuzz/corpus/; needs a nightly toolchain, installs the pinned
                           cargo-fuzz (the tests replay the corpus on stable)
  soak [--minutes M] [--bots K]
                           the fault soak in release mode: K bots (default 4) trade at
                           random against kalshi-sim for M minutes (default 30) while REST
                           and stream faults are injected, checking its invariants; the
                           report goes to target/soak/report.md
  regen [--check]          regenerate kalshi-gen/src/generated.rs from the vendored spec;
                           --check fails when the committed file differs
  spec-diff OLD NEW        report what changes between two spec files; exits 1 when a
                           change is breaking (removal, type change, parameter moved)
  fetch-spec [--asyncapi | --margin | --margin-asyncapi] [--url URL]
                           download a spec (the Trade API's OpenAPI document, or with
                           --asyncapi the WebSocket API's AsyncAPI document, --margin and
                           --margin-asyncapi the margin (perpetuals) ones), validate it,
                           vendor it with its metadata, and print the spec-diff against
                           the previous one
  fetch-spec [--asyncapi | --margin | --margin-asyncapi] --file PATH [--upstream URL]
                           the same for a copy obtained another way: every check of a
                           download applies; the metadata records the upstream URL
                           (default: the one recorded now), never the local path";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let result = match args.as_slice() {
        ["ci"] => xtask::ci::run(&workspace_root()).map(|()| ExitCode::SUCCESS),
        ["schemathesis"] => {
            xtask::schemathesis::step(&workspace_root()).map(|()| ExitCode::SUCCESS)
        }
        ["fuzz", "--seconds", seconds, targets @ ..] => run_fuzz(seconds, targets),
        ["soak", rest @ ..] => run_soak(rest),
        ["regen"] => run_regen(false),
        ["regen", "--check"] => run_regen(true),
        ["spec-diff", old, new] => run_spec_diff(old, new),
        ["fetch-spec", rest @ ..] => {
            parse_fetch(rest).and_then(|(document, source)| run_fetch(document, source))
        }
        ["help" | "--help" | "-h"] => {
            println!("{USAGE}");
            Ok(ExitCode::SUCCESS)
        }
        _ => Err(format!("unknown or malformed task\n\n{USAGE}")),
    };
    result.unwrap_or_else(|message| {
        eprintln!("error: {message}");
        ExitCode::FAILURE
    })
}

fn run_fuzz(seconds: &str, targets: &[&str]) -> Result<ExitCode, String> {
    let seconds = seconds
        .parse()
        .ok()
        .filter(|s| *s > 0)
        .ok_or_else(|| format!("--seconds takes a positive whole number, not {seconds:?}"))?;
    let targets: Vec<String> = targets.iter().map(|t| (*t).to_owned()).collect();
    xtask::fuzz::run(&workspace_root(), seconds, &targets).map(|_| ExitCode::SUCCESS)
}

fn run_soak(args: &[&str]) -> Result<ExitCode, String> {
    let (mut minutes, mut bots) = (30, 4);
    let mut rest = args;
    while let [flag, value, tail @ ..] = rest {
        let number: u64 = value
            .parse()
            .ok()
            .filter(|n| *n > 0)
            .ok_or_else(|| format!("{flag} takes a positive whole number, not {value:?}"))?;
        match *flag {
            "--minutes" => minutes = number,
            "--bots" => bots = number,
            _ => return Err(format!("unknown soak flag {flag}\n\n{USAGE}")),
        }
        rest = tail;
    }
    if !rest.is_empty() {
        return Err(format!("malformed soak arguments\n\n{USAGE}"));
    }
    let root = workspace_root();
    let dir = root.join("target/soak");
    std::fs::create_dir_all(&dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    let soak = xtask::soak::Soak {
        seconds: minutes * 60,
        bots,
        release: true,
        report: Some(dir.join("report.md")),
    };
    xtask::soak::run(&root, &soak).map(|()| ExitCode::SUCCESS)
}

fn run_regen(check: bool) -> Result<ExitCode, String> {
    let files = format!(
        "{}, {}, {} and {}",
        regen::GENERATED,
        regen::STREAM_GENERATED,
        regen::MARGIN_GENERATED,
        regen::MARGIN_STREAM_GENERATED
    );
    match regen::regen(&workspace_root(), check)? {
        regen::Outcome::UpToDate => println!("{files} are up to date"),
        regen::Outcome::Written => println!("wrote {files}"),
    }
    Ok(ExitCode::SUCCESS)
}

fn run_spec_diff(old: &str, new: &str) -> Result<ExitCode, String> {
    let read =
        |path: &str| std::fs::read_to_string(path).map_err(|e| format!("cannot read {path}: {e}"));
    let report = spec_diff::diff_yaml(&read(old)?, &read(new)?)?;
    print!("{report}");
    Ok(if report.is_breaking() {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

/// Where `fetch-spec`'s arguments say the document comes from.
enum FetchFrom {
    Upstream,
    Url(String),
    File(String, Option<String>),
}

fn parse_fetch(args: &[&str]) -> Result<(Document, FetchFrom), String> {
    let (document, args) = match args {
        ["--asyncapi", rest @ ..] => (Document::WebSocketApi, rest),
        ["--margin", rest @ ..] => (Document::MarginApi, rest),
        ["--margin-asyncapi", rest @ ..] => (Document::MarginWebSocketApi, rest),
        rest => (Document::TradeApi, rest),
    };
    let from = match args {
        [] => FetchFrom::Upstream,
        ["--url", url] => FetchFrom::Url((*url).to_owned()),
        ["--file", path] => FetchFrom::File((*path).to_owned(), None),
        ["--file", path, "--upstream", url] => {
            FetchFrom::File((*path).to_owned(), Some((*url).to_owned()))
        }
        _ => return Err(format!("malformed fetch-spec arguments\n\n{USAGE}")),
    };
    Ok((document, from))
}

fn run_fetch(document: Document, from: FetchFrom) -> Result<ExitCode, String> {
    let root = workspace_root();
    let recorded = || fetch::recorded_upstream_of(document, &root).map_err(|e| e.to_string());
    let (url, path);
    let source = match from {
        FetchFrom::Upstream => {
            url = recorded()?;
            Source::Url(&url)
        }
        FetchFrom::Url(given) => {
            url = given;
            Source::Url(&url)
        }
        FetchFrom::File(given, upstream) => {
            url = upstream.map_or_else(recorded, Ok)?;
            path = given;
            Source::File {
                path: Path::new(&path),
                upstream: &url,
            }
        }
    };
    let today = fetch::today_utc();
    let outcome = fetch::fetch(document, source, &root, &today).map_err(|e| e.to_string())?;
    if outcome.unchanged {
        println!(
            "the spec from {} is identical to the vendored one ({})",
            source.label(),
            outcome.sha256
        );
        return Ok(ExitCode::SUCCESS);
    }
    println!(
        "vendored {} {} (sha256 {})",
        document.file(),
        outcome.version,
        outcome.sha256
    );
    print!("{}", outcome.report);
    println!("next: read the diff above, run `cargo xtask regen`, review snapshots, run the tests");
    Ok(ExitCode::SUCCESS)
}
