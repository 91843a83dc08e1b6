//! `cargo xtask fuzz --seconds N [TARGET...]`: every fuzz target of `fuzz/`
//! under libFuzzer for N seconds each, growing and then minimising the
//! committed corpus (`fuzz/corpus/<target>/`).
//!
//! libFuzzer needs a nightly toolchain (sanitizer and coverage flags) and
//! cargo-fuzz, installed here at a pinned version when missing. Nothing else
//! needs either: the tests replay the committed corpus through the same
//! target functions on stable (`tests/it/fuzz.rs`), which is how CI keeps a
//! fixed crash fixed.

use std::io::{BufRead, BufReader, Write as _};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// The cargo-fuzz release this task installs and expects.
pub const CARGO_FUZZ_VERSION: &str = "0.13.2";

/// The toolchain libFuzzer builds with, unless `KALSHI_FUZZ_TOOLCHAIN` names
/// another.
const DEFAULT_TOOLCHAIN: &str = "nightly";

/// Where the instrumented builds go: apart from `target/`'s own profiles,
/// so fuzzing neither waits for nor blocks a `cargo test` running meanwhile
/// (its flags differ, so the two share no artifacts anyway).
const TARGET_DIR: &str = "target/fuzz";

/// One input running longer than this is a failure (a hang, or work that
/// hostile bytes can make unbounded), reported like a crash.
const TIMEOUT_SECONDS: u32 = 10;

/// The most corpus files kept per target after minimisation.
pub const MAX_CORPUS_FILES: usize = 300;

/// The most corpus bytes kept per target after minimisation, so the
/// committed corpus of all targets stays under 2 MB.
pub const MAX_CORPUS_BYTES: u64 = 256 * 1024;

/// What one target's run did.
#[derive(Debug)]
pub struct Report {
    /// The target.
    pub target: String,
    /// libFuzzer's count of executed inputs, when it printed one.
    pub runs: Option<u64>,
    /// Corpus files after minimisation.
    pub files: usize,
    /// Total size of those files.
    pub bytes: u64,
    /// The failing input libFuzzer saved, when the target failed.
    pub failure: Option<String>,
}

/// The targets: the binaries in `fuzz/fuzz_targets/`, sorted.
pub fn targets(root: &Path) -> Result<Vec<String>, String> {
    let dir = root.join("fuzz/fuzz_targets");
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .map_err(|e| format!("cannot read {}: {e}", dir.display()))?
        .filter_map(|entry| {
            let path = entry.ok()?.path();
            (path.extension()? == "rs").then(|| path.file_stem()?.to_str().map(str::to_owned))?
        })
        .collect();
    names.sort();
    Ok(names)
}

/// Runs `only` (every target when empty) for `seconds` each; returns one
/// report per target, and an error naming the targets that failed.
pub fn run(root: &Path, seconds: u32, only: &[String]) -> Result<Vec<Report>, String> {
    let all = targets(root)?;
    if let Some(unknown) = only.iter().find(|t| !all.contains(t)) {
        return Err(format!(
            "no fuzz target {unknown}; the targets are {}",
            all.join(", ")
        ));
    }
    let chosen: Vec<String> = if only.is_empty() { all } else { only.to_vec() };
    ensure_cargo_fuzz(root)?;
    let logs = root.join("target/fuzz-logs");
    std::fs::create_dir_all(&logs).map_err(|e| format!("{}: {e}", logs.display()))?;
    crate::ci::run_step("fuzz build", cargo_fuzz(root, &["build"]))?;
    let mut reports = Vec::new();
    for target in &chosen {
        let report = run_target(root, target, seconds, &logs)?;
        println!(
            "    {target}: {} runs in {seconds} s, corpus {} files, {} bytes{}",
            report.runs.map_or("?".to_owned(), |r| r.to_string()),
            report.files,
            report.bytes,
            report
                .failure
                .as_ref()
                .map_or(String::new(), |f| format!(", FAILED: {f}"))
        );
        reports.push(report);
    }
    print_summary(&reports, seconds);
    let failed: Vec<&str> = reports
        .iter()
        .filter(|r| r.failure.is_some())
        .map(|r| r.target.as_str())
        .collect();
    if failed.is_empty() {
        Ok(reports)
    } else {
        Err(format!(
            "fuzz targets failed: {} (inputs under fuzz/artifacts/; reproduce with \
             `cargo +nightly fuzz run --features libfuzzer TARGET INPUT`, then turn each into \
             a named test in tests/it/fuzz.rs and fix it)",
            failed.join(", ")
        ))
    }
}

fn run_target(root: &Path, target: &str, seconds: u32, logs: &Path) -> Result<Report, String> {
    let corpus = root.join("fuzz/corpus").join(target);
    let artifacts = root.join("fuzz/artifacts").join(target);
    for dir in [&corpus, &artifacts] {
        std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    }
    let binary = binary(root, target)?;
    let mut command = libfuzzer(&binary);
    command
        .arg(format!("-max_total_time={seconds}"))
        .arg("-print_final_stats=1")
        .arg(format!("-artifact_prefix={}/", artifacts.display()))
        .arg(&corpus);
    println!("==> fuzz {target} for {seconds} s");
    let log_path = logs.join(format!("{target}.log"));
    let (ok, log) = run_logged(&mut command, &log_path)?;
    let runs = log.lines().rev().find_map(|line| {
        line.strip_prefix("stat::number_of_executed_units:")
            .and_then(|n| n.trim().parse().ok())
    });
    let failure = (!ok).then(|| {
        log.lines()
            .find_map(|line| {
                line.split_once("Test unit written to ")
                    .map(|(_, path)| path.trim().to_owned())
            })
            .unwrap_or_else(|| format!("see {}", log_path.display()))
    });
    if ok {
        minimise(root, target, &binary, &corpus, logs)?;
    }
    let (files, bytes) = corpus_size(&corpus)?;
    Ok(Report {
        target: target.to_owned(),
        runs,
        files,
        bytes,
        failure,
    })
}

/// The built binary of `target`. Every target runs from the one build made
/// at the start: `cargo fuzz run` would rebuild before each run, and wait
/// for any other cargo using the directory.
fn binary(root: &Path, target: &str) -> Result<PathBuf, String> {
    let dir = root.join(TARGET_DIR);
    std::fs::read_dir(&dir)
        .map_err(|e| format!("{}: {e}", dir.display()))?
        .filter_map(|entry| Some(entry.ok()?.path().join("release").join(target)))
        .filter(|path| path.is_file())
        .max_by_key(|path| path.metadata().and_then(|m| m.modified()).ok())
        .ok_or_else(|| {
            format!(
                "cargo fuzz build made no {target} binary under {}",
                dir.display()
            )
        })
}

/// The libFuzzer binary with the limits every run shares.
fn libfuzzer(binary: &Path) -> Command {
    let mut command = Command::new(binary);
    command
        .arg(format!("-timeout={TIMEOUT_SECONDS}"))
        .arg("-rss_limit_mb=2048")
        // As cargo-fuzz runs it: the Rust runtime and libFuzzer both define
        // a few globals that ASan would otherwise report.
        .env("ASAN_OPTIONS", "detect_odr_violation=0");
    command
}

/// Minimises the corpus as `cargo fuzz cmin` does (libFuzzer's `-merge=1`
/// into an empty directory keeps only inputs that add coverage), then caps
/// it at [`MAX_CORPUS_FILES`] and [`MAX_CORPUS_BYTES`].
fn minimise(
    root: &Path,
    target: &str,
    binary: &Path,
    corpus: &Path,
    logs: &Path,
) -> Result<(), String> {
    let merged = root.join(TARGET_DIR).join("cmin").join(target);
    let _ = std::fs::remove_dir_all(&merged);
    std::fs::create_dir_all(&merged).map_err(|e| format!("{}: {e}", merged.display()))?;
    let mut command = libfuzzer(binary);
    command.arg("-merge=1").arg(&merged).arg(corpus);
    let log_path = logs.join(format!("{target}.cmin.log"));
    let (ok, _) = run_logged(&mut command, &log_path)?;
    if !ok {
        return Err(format!(
            "minimising the {target} corpus failed; see {}",
            log_path.display()
        ));
    }
    for (path, _) in corpus_files(corpus)? {
        std::fs::remove_file(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    }
    let mut files = corpus_files(&merged)?;
    let kept = within_caps(&mut files);
    if kept < files.len() {
        println!(
            "    {target}: keeping {kept} of {} files (at most {MAX_CORPUS_FILES} files and \
             {MAX_CORPUS_BYTES} bytes, largest first)",
            files.len()
        );
    }
    for (path, _) in files.iter().take(kept) {
        let name = path.file_name().expect("a file name");
        std::fs::rename(path, corpus.join(name)).map_err(|e| format!("{}: {e}", path.display()))?;
    }
    Ok(())
}

/// Orders `files` so the first ones (the returned count) fit the caps:
/// largest first, since a large input (a whole key, a full response, a long
/// frame sequence) seeds the next run with structure the fuzzer is slow to
/// rebuild, while the small ones a cap drops are quickly found again by
/// cutting large ones down; a file that would break the byte cap is skipped
/// for smaller ones.
fn within_caps(files: &mut [(PathBuf, u64)]) -> usize {
    files.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    let mut bytes = 0;
    let mut kept = 0;
    for at in 0..files.len() {
        if kept == MAX_CORPUS_FILES {
            break;
        }
        if bytes + files[at].1 <= MAX_CORPUS_BYTES {
            bytes += files[at].1;
            files.swap(kept, at);
            kept += 1;
        }
    }
    kept
}

fn corpus_files(corpus: &Path) -> Result<Vec<(PathBuf, u64)>, String> {
    let entries = std::fs::read_dir(corpus).map_err(|e| format!("{}: {e}", corpus.display()))?;
    let mut files = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| e.to_string())?;
        let len = entry.metadata().map_err(|e| e.to_string())?.len();
        files.push((entry.path(), len));
    }
    Ok(files)
}

fn corpus_size(corpus: &Path) -> Result<(usize, u64), String> {
    let files = corpus_files(corpus)?;
    Ok((files.len(), files.iter().map(|(_, len)| len).sum()))
}

fn print_summary(reports: &[Report], seconds: u32) {
    let files: usize = reports.iter().map(|r| r.files).sum();
    let bytes: u64 = reports.iter().map(|r| r.bytes).sum();
    let runs: u64 = reports.iter().filter_map(|r| r.runs).sum();
    println!(
        "fuzzed {} targets for {seconds} s each: {runs} runs; committed corpus {files} files, {bytes} bytes",
        reports.len()
    );
}

/// `cargo +<nightly> fuzz <args> --features libfuzzer` at the root, into
/// [`TARGET_DIR`].
fn cargo_fuzz(root: &Path, args: &[&str]) -> Command {
    let toolchain =
        std::env::var("KALSHI_FUZZ_TOOLCHAIN").unwrap_or_else(|_| DEFAULT_TOOLCHAIN.to_owned());
    // The rustup proxy picks the toolchain from `+nightly`; the variables
    // `cargo xtask` (a stable cargo) set for its child would override it.
    let mut command = Command::new("cargo");
    command
        .arg(format!("+{toolchain}"))
        .arg("fuzz")
        .args(args)
        .args(["--features", "libfuzzer", "--target-dir"])
        .arg(root.join(TARGET_DIR))
        .env_remove("RUSTUP_TOOLCHAIN")
        .env_remove("CARGO")
        .env_remove("RUSTC")
        .env_remove("RUSTDOC")
        .current_dir(root);
    command
}

/// Runs `command` with its output in `log` (libFuzzer is verbose); returns
/// whether it succeeded and the log text.
fn run_logged(command: &mut Command, log: &Path) -> Result<(bool, String), String> {
    let mut file = std::fs::File::create(log).map_err(|e| format!("{}: {e}", log.display()))?;
    let mut child = command
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot start {:?}: {e}", command.get_program()))?;
    let stdout = child.stdout.take().expect("piped");
    let stderr = child.stderr.take().expect("piped");
    let out = std::thread::spawn(move || {
        BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
            .collect::<Vec<_>>()
    });
    let mut text = String::new();
    for line in BufReader::new(stderr).lines().map_while(Result::ok) {
        let _ = writeln!(file, "{line}");
        text.push_str(&line);
        text.push('\n');
    }
    for line in out.join().unwrap_or_default() {
        let _ = writeln!(file, "{line}");
        text.push_str(&line);
        text.push('\n');
    }
    let status = child.wait().map_err(|e| e.to_string())?;
    if !status.success() {
        let tail: Vec<&str> = text.lines().rev().take(40).collect();
        for line in tail.into_iter().rev() {
            eprintln!("    | {line}");
        }
    }
    Ok((status.success(), text))
}

/// Installs the pinned cargo-fuzz unless that version is on the PATH.
fn ensure_cargo_fuzz(root: &Path) -> Result<(), String> {
    let installed = Command::new("cargo-fuzz")
        .arg("--version")
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).into_owned());
    if installed
        .as_deref()
        .is_some_and(|v| v.split_whitespace().any(|w| w == CARGO_FUZZ_VERSION))
    {
        return Ok(());
    }
    let mut install = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned()));
    install
        .args([
            "install",
            "cargo-fuzz",
            "--version",
            CARGO_FUZZ_VERSION,
            "--locked",
        ])
        .current_dir(root);
    crate::ci::run_step("install cargo-fuzz", install)
}
