//! `cargo xtask <task>`: see `cargo xtask help`.

use std::path::Path;
use std::process::ExitCode;

use xtask::fetch::Source;
use xtask::{fetch, regen, spec_diff, workspace_root};

const USAGE: &str = "\
usage: cargo xtask <task>

tasks:
  ci                       the whole test suite as CI runs it: fmt, clippy, regen --check,
                           docs with warnings denied, the MSRV of dependencies, cargo deny
                           (pinned, built once; vendored advisory database), npm ci for
                           Prism, tests, the default features alone, cargo publish --dry-run
  regen [--check]          regenerate kalshi-gen/src/generated.rs from the vendored spec;
                           --check fails when the committed file differs
  spec-diff OLD NEW        report what changes between two spec files; exits 1 when a
                           change is breaking (removal, type change, parameter moved)
  fetch-spec [--url URL]   download a spec, validate it, vendor it with its metadata,
                           and print the spec-diff against the previous one
  fetch-spec --file PATH [--upstream URL]
                           the same for a copy obtained another way: every check of a
                           download applies; the metadata records the upstream URL
                           (default: the one recorded now), never the local path";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let result = match args.as_slice() {
        ["ci"] => xtask::ci::run(&workspace_root()).map(|()| ExitCode::SUCCESS),
        ["regen"] => run_regen(false),
        ["regen", "--check"] => run_regen(true),
        ["spec-diff", old, new] => run_spec_diff(old, new),
        ["fetch-spec"] => run_fetch(Source::Url(kalshi_openapi::UPSTREAM_URL)),
        ["fetch-spec", "--url", url] => run_fetch(Source::Url(url)),
        ["fetch-spec", "--file", path] => fetch::recorded_upstream(&workspace_root())
            .map_err(|e| e.to_string())
            .and_then(|upstream| {
                run_fetch(Source::File {
                    path: Path::new(path),
                    upstream: &upstream,
                })
            }),
        ["fetch-spec", "--file", path, "--upstream", upstream] => run_fetch(Source::File {
            path: Path::new(path),
            upstream,
        }),
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

fn run_regen(check: bool) -> Result<ExitCode, String> {
    match regen::regen(&workspace_root(), check)? {
        regen::Outcome::UpToDate => println!("{} is up to date", regen::GENERATED),
        regen::Outcome::Written => println!("wrote {}", regen::GENERATED),
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

fn run_fetch(source: Source<'_>) -> Result<ExitCode, String> {
    let today = fetch::today_utc();
    let outcome =
        fetch::fetch_spec(source, &workspace_root(), &today).map_err(|e| e.to_string())?;
    if outcome.unchanged {
        println!(
            "the spec from {} is identical to the vendored one ({})",
            source.label(),
            outcome.sha256
        );
        return Ok(ExitCode::SUCCESS);
    }
    println!(
        "vendored Kalshi Trade API {} (sha256 {})",
        outcome.version, outcome.sha256
    );
    print!("{}", outcome.report);
    println!("next: read the diff above, run `cargo xtask regen`, review snapshots, run the tests");
    Ok(ExitCode::SUCCESS)
}
