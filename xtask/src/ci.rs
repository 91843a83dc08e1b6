//! `cargo xtask ci`: the whole test suite, exactly as CI runs it.
//!
//! One command for a newcomer and for `.ci/run`, so the two never drift.
//! Steps run in order and stop at the first failure; each prints what it
//! runs so a red log says where to start.
//!
//! Besides cargo, the run needs git, Node.js and npm: it runs `npm ci
//! --prefix tests/prism`, installing the pinned Stoplight Prism that the
//! end-to-end tests put between the client and the simulator to check all
//! traffic against the spec (`tests/src/prism.rs`), and it builds the pinned
//! cargo-deny once (`supply_chain`). It also needs `python3` (3.11 or later,
//! with `venv`) and PyPI for the pinned Schemathesis that fuzzes the
//! simulator (`schemathesis`), and a `redis-server` for the shared
//! rate-budget tests, installed from Debian's packages when missing
//! (`redis`).

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};

/// Installs Prism from `tests/prism/package-lock.json`, exactly.
const NPM_CI: [&str; 5] = ["ci", "--prefix", "tests/prism", "--no-audit", "--no-fund"];

/// The published crates' documentation, every feature on, as docs.rs builds it.
const DOC: [&str; 10] = [
    "doc",
    "--no-deps",
    "-p",
    "kalshi-openapi",
    "-p",
    "kalshi-gen",
    "-p",
    "kalshi-client",
    "--features",
    "kalshi-client/rsa,kalshi-client/schemars,kalshi-client/redis",
];

/// Runs every step under `root`.
pub fn run(root: &Path) -> Result<(), String> {
    step(root, "format", &["fmt", "--all", "--", "--check"])?;
    step(
        root,
        "lint",
        &[
            "clippy",
            "--workspace",
            "--all-targets",
            "--",
            "-D",
            "warnings",
        ],
    )?;
    println!("==> bindings: cargo xtask regen --check");
    crate::regen::regen(root, true)?;
    let mut doc = cargo(root, &DOC);
    doc.env("RUSTDOCFLAGS", "-D warnings");
    run_step("docs", doc)?;
    println!("==> msrv: dependencies of the published crates against rust-version");
    let msrv = crate::msrv::check(root)?;
    println!("    every dependency fits Rust {msrv}");
    supply_chain(root)?;
    let mut npm = Command::new("npm");
    npm.args(NPM_CI).current_dir(root);
    run_step("prism", npm).map_err(|e| {
        format!("{e}; npm installs Stoplight Prism, which the end-to-end tests run under Node.js")
    })?;
    crate::redis::ensure()?;
    let mut totals = Totals::default();
    totals += test_step(root, "tests", &["test", "--workspace", "--all-targets"])?;
    totals += test_step(root, "doc tests", &["test", "--workspace", "--doc"])?;
    // Feature unification gives the workspace build the `rsa` backend (the
    // test harness verifies signatures with it); users' default build has
    // none, so it is tested on its own.
    totals += test_step(
        root,
        "default features",
        &["test", "-p", "kalshi-client", "--lib", "--examples"],
    )?;
    // The fault soak, alone in its process since it measures it: a minute
    // of four bots under random faults (the debug build of the tests above).
    crate::soak::run(
        root,
        &crate::soak::Soak {
            seconds: 60,
            bots: 4,
            release: false,
            report: None,
        },
    )?;
    // An independent fuzzer: Schemathesis over every operation of the spec
    // against the simulator binary, signed, bounded by examples and a seed.
    crate::schemathesis::step(root)?;
    // Cargo treats registry crates as immutable, so a dry run would reuse
    // the build of an earlier dry run of the same (unreleased) version: drop
    // the published crates' artifacts first (this is the last step).
    let _ = std::fs::remove_dir_all(root.join("target/package"));
    forget_extracted_packages();
    step(
        root,
        "publish (clean)",
        &[
            "clean",
            "-p",
            PUBLISHED[0],
            "-p",
            PUBLISHED[1],
            "-p",
            PUBLISHED[2],
            "-p",
            PUBLISHED[3],
        ],
    )?;
    // The dry run builds the packaged crates outside this workspace, so
    // without its `[profile.dev.package."*"] debug = false`: every
    // dependency then compiled again with full debug info (245 crates, 4.5
    // minutes on 2 cores). Without debug info the builds above serve most of
    // them (100 compiled, 2.5 minutes); whether they compile is the same.
    let mut publish = cargo(
        root,
        &["publish", "--workspace", "--dry-run", "--allow-dirty"],
    );
    publish.env("CARGO_PROFILE_DEV_DEBUG", "0");
    run_step("publish (without debug info)", publish)?;
    // One closing line for the whole suite, whatever binary ran last.
    println!(
        "all tests: {} passed, {} failed",
        totals.passed, totals.failed
    );
    Ok(())
}

/// The crates `cargo publish --workspace` packages.
const PUBLISHED: [&str; 4] = [
    "kalshi-openapi",
    "kalshi-gen",
    "kalshi-sim",
    "kalshi-client",
];

/// A dry run unpacks the workspace's packages into `CARGO_HOME` like
/// registry crates, under its temporary registry, and Cargo, taking registry
/// crates to be immutable, reuses an earlier unpacking of the same version:
/// the check would then build last week's sources. Those unpacked copies
/// (never anything of crates.io) are removed first.
fn forget_extracted_packages() {
    let home = std::env::var_os("CARGO_HOME")
        .map(std::path::PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| std::path::PathBuf::from(h).join(".cargo")));
    let Some(sources) = home.map(|h| h.join("registry").join("src")) else {
        return;
    };
    let Ok(registries) = std::fs::read_dir(sources) else {
        return;
    };
    for registry in registries.flatten() {
        if registry
            .file_name()
            .to_string_lossy()
            .starts_with("index.crates.io-")
        {
            continue;
        }
        for unpacked in std::fs::read_dir(registry.path())
            .into_iter()
            .flatten()
            .flatten()
        {
            let name = unpacked.file_name().to_string_lossy().into_owned();
            if PUBLISHED
                .iter()
                .any(|krate| name.starts_with(&format!("{krate}-")))
            {
                let _ = std::fs::remove_dir_all(unpacked.path());
            }
        }
    }
}

/// `cargo deny check` (advisories, bans, licenses, sources) with the pinned
/// cargo-deny and the vendored advisory database, offline.
fn supply_chain(root: &Path) -> Result<(), String> {
    let deny = crate::supply_chain::install_cargo_deny(root)?;
    crate::supply_chain::prepare_database(root)?;
    let mut check = Command::new(deny);
    check.args(["--offline", "check"]).current_dir(root);
    run_step("supply chain", check)
}

/// Test counts summed over the test binaries of a run.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Totals {
    /// Tests that passed.
    pub passed: u64,
    /// Tests that failed.
    pub failed: u64,
}

impl std::ops::AddAssign for Totals {
    fn add_assign(&mut self, other: Self) {
        self.passed += other.passed;
        self.failed += other.failed;
    }
}

impl Totals {
    /// Adds the counts of a libtest summary line
    /// (`test result: ok. 17 passed; 0 failed; ...`); other lines are ignored.
    pub fn add_line(&mut self, line: &str) {
        let Some(rest) = line.trim().strip_prefix("test result: ") else {
            return;
        };
        for part in rest.split(';') {
            let mut words = part.split_whitespace().rev();
            let (Some(label), Some(count)) = (words.next(), words.next()) else {
                continue;
            };
            match (label, count.parse::<u64>()) {
                ("passed", Ok(count)) => self.passed += count,
                ("failed", Ok(count)) => self.failed += count,
                _ => {}
            }
        }
    }
}

/// A cargo command under `root`. Snapshots are compared, never rewritten,
/// in the suite (`INSTA_UPDATE=no`).
fn cargo(root: &Path, args: &[&str]) -> Command {
    let mut command = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned()));
    command
        .args(args)
        .env("INSTA_UPDATE", "no")
        .current_dir(root);
    command
}

fn step(root: &Path, name: &str, args: &[&str]) -> Result<(), String> {
    run_step(name, cargo(root, args))
}

/// Runs `command` as the step `name`, printing it first; fails if the
/// program cannot be started or exits unsuccessfully.
pub(crate) fn run_step(name: &str, mut command: Command) -> Result<(), String> {
    let program = Path::new(command.get_program())
        .file_name()
        .unwrap_or(command.get_program())
        .to_string_lossy()
        .into_owned();
    let args: Vec<_> = command
        .get_args()
        .map(|arg| arg.to_string_lossy())
        .collect();
    println!("==> {name}: {program} {}", args.join(" "));
    let status = command
        .status()
        .map_err(|e| format!("step `{name}`: cannot run {program}: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("step `{name}` failed ({status})"))
    }
}

/// Runs a cargo test step, echoing its output and counting its results.
fn test_step(root: &Path, name: &str, args: &[&str]) -> Result<Totals, String> {
    println!("==> {name}: cargo {}", args.join(" "));
    let mut child = cargo(root, args)
        .stdout(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot run cargo: {e}"))?;
    let mut totals = Totals::default();
    if let Some(stdout) = child.stdout.take() {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            println!("{line}");
            totals.add_line(&line);
        }
    }
    let status = child
        .wait()
        .map_err(|e| format!("cargo did not finish: {e}"))?;
    if status.success() {
        Ok(totals)
    } else {
        Err(format!(
            "step `{name}` failed ({status}); {} passed, {} failed",
            totals.passed, totals.failed
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::{Totals, run_step};
    use std::process::Command;

    #[test]
    fn a_missing_program_fails_its_step() {
        let error = run_step("prism", Command::new("surely-not-an-installed-program"))
            .expect_err("cannot run");
        assert!(
            error.starts_with("step `prism`: cannot run surely-not-an-installed-program: "),
            "{error}"
        );
        let error = run_step("prism", Command::new("false")).expect_err("fails");
        assert!(error.starts_with("step `prism` failed"), "{error}");
    }

    #[test]
    fn sums_libtest_summary_lines() {
        let mut totals = Totals::default();
        totals.add_line(
            "test result: ok. 17 passed; 0 failed; 0 ignored; 0 measured; 0 filtered out; finished in 2.88s",
        );
        totals.add_line("test result: FAILED. 3 passed; 2 failed; 1 ignored; 0 measured");
        totals.add_line("running 5 tests");
        assert_eq!(
            totals,
            Totals {
                passed: 20,
                failed: 2
            }
        );
    }
}
