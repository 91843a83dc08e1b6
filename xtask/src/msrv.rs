//! The declared minimum Rust version (`rust-version`) of the published
//! crates, checked against what their dependencies declare.
//!
//! Only one toolchain exists where CI runs, so the MSRV cannot be proven by
//! compiling with it. Two checks stand in: clippy's `incompatible_msrv` lint
//! (part of `cargo clippy -D warnings`) refuses standard-library APIs newer
//! than `rust-version` in our own code, and this module refuses any
//! dependency, direct or not, of a published crate (all features on) that
//! declares a newer `rust-version` than ours.

use std::collections::{BTreeSet, HashMap, VecDeque};
use std::path::Path;
use std::process::Command;

use serde_json::Value;

/// The crates users depend on.
pub const PUBLISHED: [&str; 4] = [
    "kalshi-openapi",
    "kalshi-gen",
    "kalshi-client",
    "kalshi-sim",
];

/// A dependency that needs a newer Rust than the published crates declare.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct TooNew {
    /// `name@version`.
    pub package: String,
    /// Its `rust-version`.
    pub needs: String,
}

/// Runs `cargo metadata` under `root` and checks the published crates'
/// dependency graph; returns the MSRV that was checked against.
pub fn check(root: &Path) -> Result<String, String> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    let output = Command::new(cargo)
        .args([
            "metadata",
            "--format-version",
            "1",
            "--all-features",
            "--locked",
        ])
        .current_dir(root)
        .output()
        .map_err(|e| format!("cannot run cargo metadata: {e}"))?;
    if !output.status.success() {
        return Err(format!(
            "cargo metadata failed: {}",
            String::from_utf8_lossy(&output.stderr)
        ));
    }
    let metadata: Value = serde_json::from_slice(&output.stdout)
        .map_err(|e| format!("cargo metadata printed no JSON: {e}"))?;
    let (msrv, too_new) = too_new(&metadata)?;
    if too_new.is_empty() {
        return Ok(msrv);
    }
    let list: Vec<String> = too_new
        .iter()
        .map(|t| format!("{} needs Rust {}", t.package, t.needs))
        .collect();
    Err(format!(
        "the published crates declare rust-version {msrv}, but their dependencies need more:\n  {}\n\
         raise rust-version in Cargo.toml or hold the dependency back",
        list.join("\n  ")
    ))
}

/// The published crates' `rust-version` and the dependencies of theirs
/// (normal and build, reached through any chain) that declare a newer one.
pub fn too_new(metadata: &Value) -> Result<(String, Vec<TooNew>), String> {
    let packages: HashMap<&str, &Value> = metadata["packages"]
        .as_array()
        .ok_or("metadata has no packages")?
        .iter()
        .filter_map(|p| Some((p["id"].as_str()?, p)))
        .collect();
    let name_of = |id: &str| packages.get(id).and_then(|p| p["name"].as_str());
    let roots: Vec<&str> = packages
        .keys()
        .copied()
        .filter(|id| name_of(id).is_some_and(|n| PUBLISHED.contains(&n)))
        .collect();
    let msrv = roots
        .iter()
        .filter_map(|id| packages[id]["rust_version"].as_str())
        .min_by(|a, b| compare(a, b))
        .ok_or("no published crate declares a rust-version")?
        .to_owned();
    let edges = runtime_edges(metadata)?;
    let mut seen: BTreeSet<&str> = roots.iter().copied().collect();
    let mut queue: VecDeque<&str> = roots.into_iter().collect();
    while let Some(id) = queue.pop_front() {
        for dep in edges.get(id).into_iter().flatten() {
            if seen.insert(dep) {
                queue.push_back(dep);
            }
        }
    }
    let mut found: Vec<TooNew> = seen
        .iter()
        .filter_map(|id| {
            let package = packages.get(id)?;
            let needs = package["rust_version"].as_str()?;
            (compare(needs, &msrv) == std::cmp::Ordering::Greater).then(|| TooNew {
                package: format!(
                    "{}@{}",
                    package["name"].as_str().unwrap_or("?"),
                    package["version"].as_str().unwrap_or("?")
                ),
                needs: needs.to_owned(),
            })
        })
        .collect();
    found.sort();
    Ok((msrv, found))
}

/// Package id -> the ids it depends on at build or run time (not dev).
fn runtime_edges(metadata: &Value) -> Result<HashMap<&str, Vec<&str>>, String> {
    let nodes = metadata["resolve"]["nodes"]
        .as_array()
        .ok_or("metadata has no resolve graph")?;
    Ok(nodes
        .iter()
        .filter_map(|node| {
            let deps = node["deps"]
                .as_array()?
                .iter()
                .filter(|dep| {
                    dep["dep_kinds"].as_array().is_some_and(|kinds| {
                        kinds.iter().any(|k| k["kind"].as_str() != Some("dev"))
                    })
                })
                .filter_map(|dep| dep["pkg"].as_str())
                .collect();
            Some((node["id"].as_str()?, deps))
        })
        .collect())
}

/// Compares `1.88`, `1.88.0`, `1.9` as versions (missing parts are 0).
fn compare(a: &str, b: &str) -> std::cmp::Ordering {
    let parts = |v: &str| -> Vec<u64> { v.split('.').map(|p| p.parse().unwrap_or(0)).collect() };
    let (mut a, mut b) = (parts(a), parts(b));
    let len = a.len().max(b.len());
    a.resize(len, 0);
    b.resize(len, 0);
    a.cmp(&b)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn package(id: &str, name: &str, rust_version: Option<&str>) -> Value {
        json!({"id": id, "name": name, "version": "1.0.0", "rust_version": rust_version})
    }

    fn dep(pkg: &str, kind: Option<&str>) -> Value {
        json!({"pkg": pkg, "dep_kinds": [{"kind": kind, "target": null}]})
    }

    #[test]
    fn a_runtime_dependency_newer_than_the_msrv_is_found_through_any_chain() {
        let metadata = json!({
            "packages": [
                package("client", "kalshi-client", Some("1.88")),
                package("a", "a", Some("1.70")),
                package("deep", "deep", Some("1.90.0")),
                package("dev-only", "criterion", Some("1.99")),
                package("old", "old", None),
            ],
            "resolve": {"nodes": [
                {"id": "client", "deps": [dep("a", None), dep("dev-only", Some("dev"))]},
                {"id": "a", "deps": [dep("deep", Some("build")), dep("old", None)]},
                {"id": "deep", "deps": []},
                {"id": "dev-only", "deps": []},
                {"id": "old", "deps": []},
            ]}
        });
        let (msrv, found) = too_new(&metadata).unwrap();
        assert_eq!(msrv, "1.88");
        assert_eq!(
            found,
            [TooNew {
                package: "deep@1.0.0".into(),
                needs: "1.90.0".into()
            }],
            "dev-dependencies do not count; build dependencies do"
        );
    }

    #[test]
    fn versions_compare_by_number() {
        use std::cmp::Ordering::*;
        assert_eq!(compare("1.88", "1.88.0"), Equal);
        assert_eq!(compare("1.9", "1.88"), Less);
        assert_eq!(compare("1.100", "1.88"), Greater);
    }

    #[test]
    fn the_workspace_graph_fits_the_declared_msrv() {
        let msrv = check(&crate::workspace_root()).unwrap();
        assert_eq!(msrv, "1.88");
    }
}
