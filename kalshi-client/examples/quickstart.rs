//! Quickstart: open markets, one order's whole life, your balance.
//!
//! ```text
//! cargo run -p kalshi-client --example quickstart
//! ```
//!
//! With no Kalshi credentials in the environment it runs on the local
//! exchange simulator, started in-process. With credentials it needs
//! `KALSHI_ENV=demo` (Kalshi's demo exchange) or `KALSHI_ENV=prod` plus
//! `--production` (real money). On Kalshi the order is the smallest one a
//! market takes, 1 contract, placed post-only below the best offer read from
//! the live book, so it can only rest, never trade; it is canceled at the
//! end even when a step in between fails.

use kalshi_client::generated::types::{GetMarketsStatus, Market};
use kalshi_client::prelude::*;

mod common;

/// The order's price, and where it is amended to. Both stay below any
/// market whose best YES offer is above `PLACE_AT`.
const PLACE_AT: &str = "0.02";
const AMEND_TO: &str = "0.01";

#[tokio::main]
async fn main() -> Result<(), Report> {
    let venue = common::connect().await?;
    let client = &venue.client;

    let markets = client
        .markets()
        .list()
        .status(GetMarketsStatus::Open)
        .limit(20)
        .send()
        .await?
        .markets;
    println!("open markets ({}):", client.environment());
    for market in markets.iter().take(5) {
        println!(
            "  {:<28} bid {} ask {}  {}",
            market.ticker, market.yes_bid_dollars, market.yes_ask_dollars, market.yes_sub_title
        );
    }
    let ticker = market_where_a_low_bid_rests(client, &markets).await?;

    let order = NewOrder::buy_yes(&ticker, Quantity::contracts(1)?, PLACE_AT.parse()?).post_only();
    let placed = client.orders().create(&order).send().await?;
    println!(
        "placed   {} in {ticker}: buy 1 YES at {} (post-only), client_order_id {}",
        placed.order_id,
        order.price(),
        order.id()
    );
    // Whatever happens next, the order does not outlive the example. An
    // amend answers with the id the order has from then on.
    let mut live_id = placed.order_id.clone();
    let walked = walk_through(client, &ticker, &mut live_id).await;
    let canceled = client.orders().cancel(live_id.as_str()).send().await;
    match (&walked, canceled) {
        (_, Ok(canceled)) => println!(
            "canceled {} ({} contracts)",
            canceled.order_id, canceled.reduced_by
        ),
        // Already gone (filled or canceled) is what we wanted.
        (_, Err(Error::NotFound(_))) => println!("the order is already gone"),
        (Ok(()), Err(error)) => return Err(error.into()),
        (Err(_), Err(error)) => eprintln!("cancel failed too: {}", Report::from(error)),
    }
    walked?;

    let balance = client.portfolio().balance().send().await?;
    println!("balance ${}", balance.balance_dollars);
    Ok(())
}

/// Amend the resting order down (a lower bid cannot cross), then read it.
async fn walk_through(client: &Client, ticker: &str, order_id: &mut String) -> Result<(), Report> {
    let amendment = Amendment::new(
        ticker,
        Side::Bid,
        Quantity::contracts(1)?,
        AMEND_TO.parse()?,
    );
    let amended = client.orders().amend(order_id, &amendment).send().await?;
    *order_id = amended.order_id;
    println!("amended  {order_id} to {AMEND_TO}");
    let resting = client.orders().get(order_id).send().await?.order;
    println!(
        "resting  {} {} x{} at {} ({})",
        resting.order_id,
        resting.book_side,
        resting.remaining_count_fp,
        resting.yes_price_dollars,
        resting.status
    );
    Ok(())
}

/// The first market whose live book offers YES above [`PLACE_AT`] (or
/// offers nothing), so a post-only bid there rests.
async fn market_where_a_low_bid_rests(
    client: &Client,
    markets: &[Market],
) -> Result<String, Report> {
    let floor: Price = PLACE_AT.parse()?;
    for market in markets {
        let book = client
            .markets()
            .orderbook(market.ticker.as_str())
            .send()
            .await?
            .orderbook_fp;
        // A NO bid at p is a YES offer at 1 - p.
        let best_offer = book
            .no_dollars
            .iter()
            .map(|level| rust_decimal::Decimal::ONE - level.price.value())
            .min();
        if best_offer.is_none_or(|offer| offer > floor.value()) {
            return Ok(market.ticker.clone());
        }
    }
    Err(Report::msg(
        "no open market offers YES above 0.02; try again later",
    ))
}
