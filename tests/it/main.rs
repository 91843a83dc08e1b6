//! The workspace's one integration-test binary (one link, not one per file).

mod client;
mod codegen;
mod generated_types;
mod inventory;
mod wire;
