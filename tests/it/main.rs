//! The workspace's one integration-test binary (one link, not one per file).

mod client;
mod codegen;
mod e2e;
mod fleet;
mod fuzz;
mod generated_types;
mod heap;
mod inventory;
mod margin_exchange;
mod margin_orders;
mod margin_stream_types;
mod orders;
mod prism;
mod resources;
mod secrets;
mod sim_account;
mod sim_catalog;
mod sim_communications;
mod sim_market_data;
mod sim_order_groups;
mod soak;
mod stream_types;
mod streams;
mod support;
mod transfers;
mod wire;
