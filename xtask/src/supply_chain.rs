//! `cargo deny check` in CI: the pinned cargo-deny, built once per run, and
//! the vendored RustSec advisory database it reads offline.
//!
//! CI reaches no network but the package registries, so cargo-deny comes
//! from crates.io source (`cargo install --locked`, about 2.5 minutes on two
//! cores, skipped when the pinned version is already built under `target/`)
//! and the advisory database from `supply-chain/advisory-db`, a snapshot of
//! RustSec's repository. cargo-deny expects that database as a git
//! repository whose last commit dates it; the snapshot is committed into
//! one under `target/advisory-db` with the snapshot's own date, so
//! cargo-deny's staleness limit (`deny.toml`) measures the real age.

use std::path::{Path, PathBuf};
use std::process::Command;

/// The cargo-deny release CI installs.
pub const CARGO_DENY_VERSION: &str = "0.20.2";
/// Where the vendored database lives, relative to the workspace root.
pub const VENDORED_DB: &str = "supply-chain/advisory-db";
/// The directory cargo-deny opens for RustSec's default database URL under
/// `db-path` (`deny.toml`): the repository name and a hash of the URL.
const DB_DIR: &str = "target/advisory-db/advisory-db-3157b0e258782691";

/// Builds the pinned cargo-deny under `root/target/tools` unless it is
/// there already; returns the binary's path.
pub fn install_cargo_deny(root: &Path) -> Result<PathBuf, String> {
    let tools = root.join("target/tools");
    let binary = tools.join("bin/cargo-deny");
    let installed = Command::new(&binary)
        .arg("--version")
        .output()
        .is_ok_and(|out| String::from_utf8_lossy(&out.stdout).contains(CARGO_DENY_VERSION));
    if installed {
        return Ok(binary);
    }
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    let mut install = Command::new(cargo);
    install
        .args([
            "install",
            "--locked",
            "cargo-deny",
            "--version",
            CARGO_DENY_VERSION,
            "--root",
        ])
        .arg(&tools)
        .current_dir(root);
    crate::ci::run_step("cargo-deny", install)?;
    Ok(binary)
}

/// The date of the vendored snapshot, from its `SNAPSHOT` file.
pub fn snapshot_date(root: &Path) -> Result<String, String> {
    let path = root.join(VENDORED_DB).join("SNAPSHOT");
    let text = std::fs::read_to_string(&path)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    text.split_whitespace()
        .find_map(|word| {
            let date = word.trim_end_matches(['.', ',']);
            (date.len() > 10 && date.as_bytes()[4] == b'-' && date.contains('T'))
                .then(|| date.to_owned())
        })
        .ok_or_else(|| format!("{} names no ISO date", path.display()))
}

/// Turns the vendored snapshot into the git repository cargo-deny reads,
/// dated like the snapshot. Rebuilt every run, so it never drifts.
pub fn prepare_database(root: &Path) -> Result<(), String> {
    let date = snapshot_date(root)?;
    let target = root.join(DB_DIR);
    if target.exists() {
        std::fs::remove_dir_all(&target)
            .map_err(|e| format!("cannot clear {}: {e}", target.display()))?;
    }
    copy_dir(&root.join(VENDORED_DB), &target)?;
    let git = |args: &[&str]| {
        let status = Command::new("git")
            .args(["-c", "user.name=kalshi-ci", "-c", "user.email=ci@localhost"])
            .args(args)
            .env("GIT_AUTHOR_DATE", &date)
            .env("GIT_COMMITTER_DATE", &date)
            .current_dir(&target)
            .output()
            .map_err(|e| format!("cannot run git: {e}"))?;
        if status.status.success() {
            Ok(())
        } else {
            Err(format!(
                "git {} failed: {}",
                args.join(" "),
                String::from_utf8_lossy(&status.stderr)
            ))
        }
    };
    git(&["init", "--quiet"])?;
    git(&["add", "--all"])?;
    git(&[
        "commit",
        "--quiet",
        "--message",
        "RustSec advisory database snapshot",
    ])
}

fn copy_dir(from: &Path, to: &Path) -> Result<(), String> {
    std::fs::create_dir_all(to).map_err(|e| format!("cannot create {}: {e}", to.display()))?;
    let entries =
        std::fs::read_dir(from).map_err(|e| format!("cannot read {}: {e}", from.display()))?;
    for entry in entries {
        let entry = entry.map_err(|e| format!("cannot read {}: {e}", from.display()))?;
        let (source, dest) = (entry.path(), to.join(entry.file_name()));
        if entry.file_type().is_ok_and(|t| t.is_dir()) {
            copy_dir(&source, &dest)?;
        } else {
            std::fs::copy(&source, &dest)
                .map_err(|e| format!("cannot copy {}: {e}", source.display()))?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_vendored_snapshot_is_dated_and_holds_the_rsa_advisory() {
        let root = crate::workspace_root();
        let date = snapshot_date(&root).unwrap();
        assert!(date.starts_with("20"), "{date}");
        let rsa = root
            .join(VENDORED_DB)
            .join("crates/rsa/RUSTSEC-2023-0071.md");
        assert!(
            rsa.exists(),
            "deny.toml ignores an advisory the snapshot must hold"
        );
        let deny = std::fs::read_to_string(root.join("deny.toml")).unwrap();
        assert!(
            deny.contains("RUSTSEC-2023-0071") && deny.contains("db-path = \"target/advisory-db\"")
        );
    }
}
