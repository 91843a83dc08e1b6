//! The `schemathesis` step of `cargo xtask ci`, also `cargo xtask
//! schemathesis`: an independent fuzzer over every operation of the vendored
//! spec, against the simulator binary.
//!
//! Schemathesis (pinned with every transitive dependency and their hashes in
//! `tests/schemathesis/requirements.txt`) is installed into a virtual
//! environment under `target/tools/`, made once with the machine's `python3`
//! and reused while the requirements and the Python version stay the same.
//! Each run generates a fresh Ed25519 key (`tests/schemathesis/keygen.py`),
//! starts `kalshi-sim` on a free loopback port accepting only that key, and
//! runs Schemathesis over `kalshi-openapi/openapi.yaml`, then over the
//! margin document `kalshi-openapi/perps_openapi.yaml`, with
//! `tests/schemathesis/hooks.py`, which signs every request like Kalshi and
//! adds two checks (see there). The run is bounded by a fixed number of
//! examples per operation and a fixed seed, one worker, no example database
//! and no crash cache, so a run depends only on the code under test; a
//! watchdog stops it if it still runs after [`DEADLINE`]. The simulator is
//! stopped whatever happens.
//!
//! Everything a run writes goes under `target/schemathesis/`: the key, the
//! reports (`report.json`/`.xml`, `margin-report.json`/`.xml`) and
//! Hypothesis's own files.

use std::ffi::OsString;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde_json::Value;

/// The Schemathesis release the requirements pin.
pub const SCHEMATHESIS_VERSION: &str = "4.32.5";
/// The hooks, the key generator, the configuration and the requirements.
pub const DIR: &str = "tests/schemathesis";
/// The virtual environment, relative to the workspace root.
pub const VENV: &str = "target/tools/schemathesis";
/// Where a run writes, relative to the workspace root.
pub const WORK: &str = "target/schemathesis";
/// The documents Schemathesis reads, each against the same simulator, with
/// the name of its reports: the Trade API's, then the margin API's.
const SPECS: [(&str, &str); 2] = [
    ("kalshi-openapi/openapi.yaml", "report"),
    ("kalshi-openapi/perps_openapi.yaml", "margin-report"),
];
/// Test cases Hypothesis generates per operation in the fuzzing phase (and
/// the bound of the stateful phase). 50 keeps the step around two minutes
/// with every operation passing; each extra 50 adds about a minute.
pub const MAX_EXAMPLES: u32 = 50;
/// The seed of every run: the same code gives the same requests.
pub const SEED: u64 = 20_260_101;
/// What every response is checked for. The first three are Schemathesis's
/// own; the last two are defined in `hooks.py`. `status_code_conformance` is
/// replaced by `undocumented_status_is_kalshi_error`, which accepts a status
/// the spec does not list when its body is Kalshi's error.
pub const CHECKS: [&str; 5] = [
    "not_a_server_error",
    "response_schema_conformance",
    "content_type_conformance",
    "undocumented_status_is_kalshi_error",
    "not_implemented",
];
/// Past this, the run is stopped and the step fails.
pub const DEADLINE: Duration = Duration::from_secs(15 * 60);
/// The API key id the simulator is given for the generated key.
const KEY_ID: &str = "schemathesis";

/// Runs the whole step: install, build, start the simulator, fuzz, stop.
/// Prints a one-line summary; fails when Schemathesis reports anything.
pub fn step(root: &Path) -> Result<(), String> {
    let venv = install(root)?;
    let simulator = build_simulator(root)?;
    let work = root.join(WORK);
    if work.exists() {
        std::fs::remove_dir_all(&work)
            .map_err(|e| format!("cannot clear {}: {e}", work.display()))?;
    }
    let keys = work.join("key");
    let mut keygen = Command::new(venv.join("bin/python"));
    keygen.arg(root.join(DIR).join("keygen.py")).arg(&keys);
    crate::ci::run_step("schemathesis (key)", keygen)?;

    let mut sim = Simulator::start(&simulator, &keys.join("public.pem"))?;
    println!("    kalshi-sim listening on {}", sim.base_url);
    let mut result = Ok(());
    for (spec, report) in SPECS {
        let started = Instant::now();
        let private_key = keys.join("private.pem");
        let outcome = fuzz(
            root,
            &venv,
            &work,
            &private_key,
            &sim.base_url,
            spec,
            report,
        );
        let elapsed = started.elapsed();
        let summary = std::fs::read_to_string(work.join(format!("{report}.json")))
            .ok()
            .and_then(|text| serde_json::from_str::<Value>(&text).ok())
            .map_or_else(
                || format!("no report; ran {:.0} s", elapsed.as_secs_f64()),
                |report| summary_line(&report),
            );
        println!("schemathesis ({spec}): {summary}");
        // The simulator must have lived through the run: a crash shows up
        // as connection errors in Schemathesis's output, said plainly here.
        if let Some(exit) = sim.exited() {
            return Err(format!(
                "step `schemathesis` failed: kalshi-sim exited during the run ({exit})"
            ));
        }
        if result.is_ok() {
            result = verdict(outcome?);
        }
    }
    drop(sim);
    result
}

/// What Schemathesis's exit status means for the step.
fn verdict(status: ExitStatus) -> Result<(), String> {
    match status.code() {
        Some(0) => Ok(()),
        Some(1) => Err(format!(
            "step `schemathesis` failed: Schemathesis found failures or errors against \
             kalshi-sim, each listed above under FAILURES (or ERRORS) by operation with a \
             curl command to reproduce it; run the step alone with `cargo xtask \
             schemathesis` (seed {SEED} repeats the same requests); reports are in {WORK}/"
        )),
        _ => Err(format!(
            "step `schemathesis` failed: schemathesis itself failed ({status}), \
             see its output above"
        )),
    }
}

/// The virtual environment with the pinned Schemathesis, made unless the one
/// there was made from the same requirements with the same Python.
pub fn install(root: &Path) -> Result<PathBuf, String> {
    let path = root.join(DIR).join("requirements.txt");
    let requirements = std::fs::read_to_string(&path)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    check_requirements(&requirements)?;
    let python = python_version(Path::new("python3")).map_err(|e| {
        format!("{e}; the schemathesis step needs python3 (3.11 or later) with venv")
    })?;
    let venv = root.join(VENV);
    let stamp = venv.join("installed-requirements.txt");
    let expected = format!("# {python}\n{requirements}");
    let reusable = std::fs::read_to_string(&stamp).is_ok_and(|text| text == expected)
        && python_version(&venv.join("bin/python")).is_ok_and(|v| v == python)
        && venv.join("bin/schemathesis").exists();
    if reusable {
        return Ok(venv);
    }
    if venv.exists() {
        std::fs::remove_dir_all(&venv)
            .map_err(|e| format!("cannot clear {}: {e}", venv.display()))?;
    }
    let mut create = Command::new("python3");
    create.args(["-m", "venv"]).arg(&venv).current_dir(root);
    crate::ci::run_step("schemathesis (venv)", create)?;
    let mut pip = Command::new(venv.join("bin/python"));
    pip.args([
        "-m",
        "pip",
        "install",
        "--quiet",
        "--disable-pip-version-check",
        "--no-input",
        "--require-hashes",
        "--only-binary",
        ":all:",
        "--requirement",
    ])
    .arg(&path)
    .current_dir(root);
    crate::ci::run_step("schemathesis (install)", pip)
        .map_err(|e| format!("{e}; pip installs Schemathesis {SCHEMATHESIS_VERSION} from PyPI"))?;
    std::fs::write(&stamp, expected)
        .map_err(|e| format!("cannot write {}: {e}", stamp.display()))?;
    Ok(venv)
}

/// Every requirement is pinned with `==` and carries hashes, and
/// Schemathesis is pinned to [`SCHEMATHESIS_VERSION`].
pub fn check_requirements(text: &str) -> Result<(), String> {
    let joined = text.replace("\\\n", " ");
    let mut pins_schemathesis = false;
    for line in joined.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let requirement = line.split([' ', ';']).next().unwrap_or_default();
        let Some((name, version)) = requirement.split_once("==") else {
            return Err(format!("requirement `{requirement}` is not pinned with =="));
        };
        if !line.contains("--hash=sha256:") {
            return Err(format!("requirement `{requirement}` has no --hash"));
        }
        if name.eq_ignore_ascii_case("schemathesis") {
            if version != SCHEMATHESIS_VERSION {
                return Err(format!(
                    "requirements pin schemathesis {version}, xtask expects {SCHEMATHESIS_VERSION}"
                ));
            }
            pins_schemathesis = true;
        }
    }
    if pins_schemathesis {
        Ok(())
    } else {
        Err("the requirements do not pin schemathesis".to_owned())
    }
}

/// `Python X.Y.Z` from `python --version`.
fn python_version(python: &Path) -> Result<String, String> {
    let output = Command::new(python)
        .arg("--version")
        .output()
        .map_err(|e| format!("cannot run {}: {e}", python.display()))?;
    let text = String::from_utf8_lossy(&output.stdout).trim().to_owned();
    if output.status.success() && text.starts_with("Python ") {
        Ok(text)
    } else {
        Err(format!("{} --version failed", python.display()))
    }
}

/// Builds the simulator binary and returns its path. The examples are
/// selected too: building any of them turns on dev-dependencies, so features
/// unify exactly as in `cargo test --workspace --all-targets`, and after the
/// tests step only the binary is linked (`-p kalshi-sim` alone would rebuild
/// aws-lc-sys and a dozen other crates with other features). Examples rather
/// than tests, so a broken integration test does not stop this step.
fn build_simulator(root: &Path) -> Result<PathBuf, String> {
    let args = [
        "build",
        "--workspace",
        "--bin",
        "kalshi-sim",
        "--examples",
        "--message-format=json-render-diagnostics",
    ];
    println!("==> schemathesis (simulator): cargo {}", args.join(" "));
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    let output = Command::new(cargo)
        .args(args)
        .current_dir(root)
        .stderr(Stdio::inherit())
        .output()
        .map_err(|e| format!("step `schemathesis (simulator)`: cannot run cargo: {e}"))?;
    if !output.status.success() {
        return Err(format!(
            "step `schemathesis (simulator)` failed ({})",
            output.status
        ));
    }
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .find_map(|message| {
            // Never a test harness of the same target, should one be built.
            let is_simulator = message["reason"] == "compiler-artifact"
                && message["target"]["name"] == "kalshi-sim"
                && message["profile"]["test"] == false
                && message["target"]["kind"]
                    .as_array()
                    .is_some_and(|kinds| kinds.iter().any(|k| k == "bin"));
            is_simulator
                .then(|| message["executable"].as_str().map(PathBuf::from))
                .flatten()
        })
        .ok_or_else(|| "cargo built no kalshi-sim executable".to_owned())
}

/// Runs Schemathesis against `base_url`, printing the command; returns its
/// exit status, or fails if it cannot start or outlives [`DEADLINE`].
fn fuzz(
    root: &Path,
    venv: &Path,
    work: &Path,
    private_key: &Path,
    base_url: &str,
    spec: &str,
    report: &str,
) -> Result<ExitStatus, String> {
    let dir = root.join(DIR);
    let mut args: Vec<OsString> = vec![
        "--config-file".into(),
        dir.join("schemathesis.toml").into(),
        "run".into(),
        root.join(spec).into(),
        "--url".into(),
        base_url.into(),
    ];
    for arg in [
        format!("--checks={}", CHECKS.join(",")),
        format!("--max-examples={MAX_EXAMPLES}"),
        format!("--seed={SEED}"),
        "--workers=1".to_owned(),
        "--generation-database=none".to_owned(),
        "--request-timeout=10".to_owned(),
        "--report=json,junit".to_owned(),
    ] {
        args.push(arg.into());
    }
    args.extend([
        "--report-json-path".into(),
        work.join(format!("{report}.json")).into(),
        "--report-junit-path".into(),
        work.join(format!("{report}.xml")).into(),
    ]);
    let program = venv.join("bin/schemathesis");
    let shown: Vec<String> = std::iter::once(program.as_os_str())
        .chain(args.iter().map(OsString::as_os_str))
        .map(|arg| relative(root, &arg.to_string_lossy()))
        .collect();
    println!(
        "==> schemathesis: SCHEMATHESIS_HOOKS={}/hooks.py {}",
        DIR,
        shown.join(" ")
    );
    let mut child = Command::new(&program)
        .args(&args)
        .env("SCHEMATHESIS_HOOKS", dir.join("hooks.py"))
        .env("KALSHI_API_KEY_ID", KEY_ID)
        .env("KALSHI_PRIVATE_KEY_PATH", private_key)
        // Hypothesis keeps caches in `.hypothesis/` of the working
        // directory unless told otherwise; keep them under target/.
        .env("HYPOTHESIS_STORAGE_DIRECTORY", work.join("hypothesis"))
        .current_dir(work)
        .spawn()
        .map_err(|e| format!("step `schemathesis`: cannot run {}: {e}", program.display()))?;
    let deadline = Instant::now() + DEADLINE;
    loop {
        match child.try_wait() {
            Ok(Some(status)) => return Ok(status),
            Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(200)),
            Ok(None) => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!(
                    "step `schemathesis` failed: still running after {} s, stopped; \
                     a request may hang in kalshi-sim, or MAX_EXAMPLES in \
                     xtask/src/schemathesis.rs is too high for this machine",
                    DEADLINE.as_secs()
                ));
            }
            Err(e) => return Err(format!("step `schemathesis`: cannot wait for it: {e}")),
        }
    }
}

/// `text` with the workspace root's prefix removed from every path in it.
fn relative(root: &Path, text: &str) -> String {
    text.replace(&format!("{}/", root.display()), "")
}

/// The simulator as a child process, stopped when dropped.
struct Simulator {
    child: Child,
    base_url: String,
}

impl Simulator {
    /// How long the simulator may take to say where it listens.
    const STARTUP: Duration = Duration::from_secs(30);

    /// Starts `binary` on a free loopback port, accepting only the key in
    /// `public_key`, and waits until it listens.
    fn start(binary: &Path, public_key: &Path) -> Result<Self, String> {
        let mut child = Command::new(binary)
            .args(["--port", "0", "--key-id", KEY_ID, "--public-key"])
            .arg(public_key)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .spawn()
            .map_err(|e| format!("cannot start {}: {e}", binary.display()))?;
        let stdout = child.stdout.take().expect("stdout is piped");
        let mut sim = Self {
            child,
            base_url: String::new(),
        };
        let (tx, rx) = mpsc::channel();
        // Reads every line, so the simulator never blocks on a full pipe.
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Some(url) = listening_url(&line) {
                    let _ = tx.send(url.to_owned());
                }
            }
        });
        match rx.recv_timeout(Self::STARTUP) {
            Ok(url) => {
                sim.base_url = url;
                Ok(sim)
            }
            Err(_) => Err(match sim.exited() {
                Some(status) => format!("kalshi-sim exited before listening ({status})"),
                None => format!(
                    "kalshi-sim did not say where it listens within {} s",
                    Self::STARTUP.as_secs()
                ),
            }),
        }
    }

    /// The exit status, if the simulator is no longer running.
    fn exited(&mut self) -> Option<ExitStatus> {
        self.child.try_wait().ok().flatten()
    }
}

impl Drop for Simulator {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The base URL in the simulator's first line,
/// `Kalshi simulator listening on http://127.0.0.1:PORT/trade-api/v2`.
fn listening_url(line: &str) -> Option<&str> {
    line.strip_prefix("Kalshi simulator listening on ")
        .map(str::trim)
        .filter(|url| url.starts_with("http://"))
}

/// One line from Schemathesis's JSON report: what ran and what it found.
fn summary_line(report: &Value) -> String {
    let number = |value: &Value| value.as_u64().unwrap_or(0);
    let operations = &report["operations"];
    let cases = &report["test_cases"];
    let failures: Vec<String> = report["failures"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|failure| {
            format!(
                "{} {}: {}",
                failure["code"].as_str().unwrap_or("?"),
                failure["title"].as_str().unwrap_or("?"),
                number(&failure["count"])
            )
        })
        .collect();
    let found = match number(&cases["unique_failures"]) {
        0 if number(&operations["errored"]) == 0 => "no failures".to_owned(),
        0 => format!("{} operations errored", number(&operations["errored"])),
        1 => format!("1 unique failure ({})", failures.join("; ")),
        unique => format!("{unique} unique failures ({})", failures.join("; ")),
    };
    format!(
        "{}/{} operations, {} test cases, {found} in {:.0} s (seed {}, {MAX_EXAMPLES} examples per operation)",
        number(&operations["tested"]),
        number(&operations["total"]),
        number(&cases["generated"]),
        report["running_time"].as_f64().unwrap_or(0.0),
        report["seed"].as_u64().unwrap_or(SEED),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_committed_requirements_pin_everything_with_hashes() {
        let root = crate::workspace_root();
        let text = std::fs::read_to_string(root.join(DIR).join("requirements.txt")).unwrap();
        check_requirements(&text).unwrap();
        assert!(text.contains(&format!("schemathesis=={SCHEMATHESIS_VERSION} ")));
    }

    #[test]
    fn loose_or_unhashed_requirements_are_refused() {
        let hashed = "schemathesis==4.32.5 \\\n    --hash=sha256:00\n";
        assert!(check_requirements(hashed).is_ok());
        let loose = format!("{hashed}requests>=2 \\\n    --hash=sha256:00\n");
        assert!(
            check_requirements(&loose)
                .unwrap_err()
                .contains("not pinned")
        );
        let unhashed = format!("{hashed}requests==2.0\n");
        assert!(
            check_requirements(&unhashed)
                .unwrap_err()
                .contains("no --hash")
        );
        let other = "schemathesis==4.0.0 \\\n    --hash=sha256:00\n";
        assert!(check_requirements(other).unwrap_err().contains("4.0.0"));
        assert!(check_requirements("# nothing\n").is_err());
    }

    #[test]
    fn the_hooks_name_the_custom_checks() {
        let root = crate::workspace_root();
        let hooks = std::fs::read_to_string(root.join(DIR).join("hooks.py")).unwrap();
        for name in &CHECKS[3..] {
            assert!(hooks.contains(&format!("def {name}(")), "{name}");
        }
    }

    #[test]
    fn reads_the_simulators_listening_line() {
        assert_eq!(
            listening_url("Kalshi simulator listening on http://127.0.0.1:4321/trade-api/v2"),
            Some("http://127.0.0.1:4321/trade-api/v2")
        );
        assert_eq!(listening_url("Accepting API keys: schemathesis"), None);
    }

    #[test]
    fn summarises_a_report_in_one_line() {
        let report = serde_json::json!({
            "seed": 7,
            "running_time": 20.4,
            "operations": {"total": 128, "tested": 128, "errored": 0},
            "test_cases": {"generated": 3761, "unique_failures": 3},
            "failures": [
                {"code": "ST101", "title": "Server error", "count": 2},
                {"code": "ST108", "title": "Response violates schema", "count": 1}
            ]
        });
        let line = summary_line(&report);
        assert_eq!(
            line,
            format!(
                "128/128 operations, 3761 test cases, 3 unique failures (ST101 Server error: 2; \
                 ST108 Response violates schema: 1) in 20 s (seed 7, {MAX_EXAMPLES} examples per operation)"
            )
        );
        assert!(!line.contains('\n'));
        let clean = serde_json::json!({
            "seed": 7, "running_time": 1.0,
            "operations": {"total": 1, "tested": 1, "errored": 0},
            "test_cases": {"generated": 5, "unique_failures": 0},
            "failures": []
        });
        assert!(summary_line(&clean).contains("no failures"));
    }
}
