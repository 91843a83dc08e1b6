//! Test support for the Kalshi SDK workspace: test keys, a recording
//! loopback server, an HTTP/2 server that refuses requests, and the Prism
//! harness the integration tests (`tests/it`) use; the local exchange is
//! the `kalshi-sim` crate.
#![forbid(unsafe_code)]

pub mod h2c;
pub mod keys;
pub mod prism;
pub mod recorder;
pub mod redis;
pub mod stream_schema;
pub mod traces;
