//! Every resting order, across all pages, grouped by market.
//!
//! ```text
//! cargo run -p kalshi-client --example resting_orders
//! ```
//!
//! Runs on the local simulator (after placing a few orders to list) unless
//! Kalshi credentials are set; on Kalshi it only reads.

use std::collections::BTreeMap;

use futures_util::TryStreamExt;
use kalshi_client::prelude::*;

mod common;

#[tokio::main]
async fn main() -> Result<(), Report> {
    let venue = common::connect().await?;
    let client = &venue.client;
    if venue.simulator.is_some() {
        for (ticker, price) in [
            ("KXTEST-26DEC31-YES", "0.21"),
            ("KXTEST-26DEC31-YES", "0.22"),
            ("KXHIGHNY-26NOV30-B45", "0.10"),
        ] {
            client
                .orders()
                .create(&NewOrder::buy_yes(
                    ticker,
                    Quantity::contracts(5)?,
                    price.parse()?,
                ))
                .send()
                .await?;
        }
    }
    let resting: Vec<_> = client.orders().resting().stream(None).try_collect().await?;
    let mut by_market: BTreeMap<&str, Vec<_>> = BTreeMap::new();
    for order in &resting {
        by_market
            .entry(order.ticker.as_str())
            .or_default()
            .push(order);
    }
    println!(
        "{} resting orders in {} markets",
        resting.len(),
        by_market.len()
    );
    for (ticker, orders) in by_market {
        println!("{ticker}");
        for order in orders {
            println!(
                "  {} {} {} at {}",
                order.order_id, order.book_side, order.remaining_count_fp, order.yes_price_dollars
            );
        }
    }
    Ok(())
}
