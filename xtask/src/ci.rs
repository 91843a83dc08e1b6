//! `cargo xtask ci`: the whole test suite, exactly as CI runs it.
//!
//! One command for a newcomer and for `.ci/run`, so the two never drift.
//! Steps run in order and stop at the first failure; each prints what it
//! runs so a red log says where to start.

use std::path::Path;
use std::process::Command;

/// Runs every step under `root`.
pub fn run(root: &Path) -> Result<(), String> {
    step(root, "format", &["fmt", "--all", "--", "--check"], &[])?;
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
        &[],
    )?;
    println!("==> bindings: cargo xtask regen --check");
    crate::regen::regen(root, true)?;
    step(
        root,
        "tests",
        &["test", "--workspace", "--all-targets"],
        // Snapshots are compared, never rewritten, in the suite.
        &[("INSTA_UPDATE", "no")],
    )?;
    step(
        root,
        "doc tests",
        &["test", "--workspace", "--doc"],
        &[("INSTA_UPDATE", "no")],
    )?;
    Ok(())
}

fn step(root: &Path, name: &str, args: &[&str], env: &[(&str, &str)]) -> Result<(), String> {
    println!("==> {name}: cargo {}", args.join(" "));
    let status = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned()))
        .args(args)
        .envs(env.iter().copied())
        .current_dir(root)
        .status()
        .map_err(|e| format!("cannot run cargo: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("step `{name}` failed ({status})"))
    }
}
