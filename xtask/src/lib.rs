//! Maintainer tasks for the Kalshi SDK workspace.
//!
//! The binary (`cargo xtask ...`) is a thin command-line layer over this
//! library, so the tests can drive every task on temporary copies.
#![forbid(unsafe_code)]

pub mod asyncapi;
pub mod ci;
pub mod fast_decode;
pub mod fetch;
pub mod fuzz;
pub mod inventory;
pub mod msrv;
pub mod patches;
pub mod postprocess;
pub mod redis;
pub mod regen;
pub mod schemathesis;
pub mod soak;
pub mod spec;
pub mod spec_diff;
pub mod supply_chain;

use std::path::PathBuf;

/// The workspace root, whichever directory `cargo xtask` was started from.
pub fn workspace_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask lives one level below the workspace root")
        .to_path_buf()
}
