//! Test support for the Kalshi SDK workspace: loopback HTTP servers the
//! integration tests (`tests/it`) talk to over real sockets.
#![forbid(unsafe_code)]

pub mod keys;
pub mod prism;
pub mod recorder;
pub mod sim;
