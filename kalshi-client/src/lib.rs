//! The hand-written Kalshi client (under construction: see the workspace README).
#![forbid(unsafe_code)]

pub use kalshi_gen as generated;
