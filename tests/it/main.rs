//! The workspace's one integration-test binary (one link, not one per file).

mod codegen;
mod generated_types;
mod inventory;
mod wire;
