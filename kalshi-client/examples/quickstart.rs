//! Quickstart: markets, one order's whole life, your orders and positions.
//!
//! ```text
//! cargo run -p kalshi-client --example quickstart
//! ```
//!
//! With no Kalshi credentials in the environment it starts the local
//! exchange simulator in-process and trades against it. With
//! `KALSHI_API_KEY_ID`, `KALSHI_PRIVATE_KEY_PATH` (or `KALSHI_PRIVATE_KEY`)
//! and `KALSHI_ENV=demo` it runs the same walk-through on Kalshi's demo
//! exchange, placing a 1-contract bid far below the market and canceling it.

use futures_util::TryStreamExt;
use kalshi_client::order::{Amendment, Decrease, NewOrder, Price, Quantity, Side};
use kalshi_client::{Execute, Paginate};

mod common;
use common::{Result, connect};

#[tokio::main]
async fn main() -> Result<()> {
    let (client, _simulator) = connect().await?;

    let markets = client
        .markets()
        .list()
        .status("open")
        .limit(5)
        .execute()
        .await?;
    println!("markets ({}):", client.environment());
    for market in &markets.markets {
        println!(
            "  {:<28} bid {} ask {}  {}",
            market.ticker, market.yes_bid_dollars, market.yes_ask_dollars, market.yes_sub_title
        );
    }
    let ticker = markets
        .markets
        .first()
        .ok_or("no open market")?
        .ticker
        .clone();

    // A bid far below the market rests instead of trading.
    let order = NewOrder::buy_yes(
        &ticker,
        Quantity::contracts(2)?,
        Price::new("0.03".parse()?)?,
    );
    let placed = client.orders().create(&order).await?;
    println!(
        "placed   {} ({} to buy 2 YES at {}), client_order_id {}",
        placed.order_id,
        ticker,
        order.price(),
        order.id()
    );

    let amendment = Amendment::new(&ticker, Side::Bid, Quantity::contracts(3)?, "0.04".parse()?);
    let amended = client.orders().amend(&placed.order_id, &amendment).await?;
    println!("amended  {} to 3 at 0.0400", amended.order_id);

    let decreased = client
        .orders()
        .decrease(
            &amended.order_id,
            &Decrease::By(Quantity::contracts(1)?).into(),
        )
        .await?;
    println!("decreased to {} remaining", decreased.remaining_count);

    let resting: Vec<_> = client
        .orders()
        .list()
        .ticker(&ticker)
        .status("resting")
        .stream(None)
        .try_collect()
        .await?;
    println!("resting orders in {ticker}: {}", resting.len());
    for order in &resting {
        println!(
            "  {} {} x{} at {}",
            order.order_id, order.book_side, order.remaining_count_fp, order.yes_price_dollars
        );
    }

    let canceled = client.orders().cancel(amended.order_id.as_str()).await?;
    println!(
        "canceled {} ({} contracts)",
        canceled.order_id, canceled.reduced_by
    );

    let balance = client.portfolio().balance().execute().await?;
    let positions = client.portfolio().positions().execute().await?;
    println!(
        "balance ${}, {} open market positions",
        balance.balance_dollars,
        positions.market_positions.len()
    );
    Ok(())
}
