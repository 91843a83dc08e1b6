//! A portfolio snapshot: balance, open positions and recent fills.
//!
//! ```text
//! cargo run -p kalshi-client --example portfolio
//! ```
//!
//! Runs on the local simulator (after a trade to report on) unless Kalshi
//! credentials are set; on Kalshi it only reads.

use futures_util::TryStreamExt;
use kalshi_client::prelude::*;

mod common;

#[tokio::main]
async fn main() -> Result<(), Report> {
    let venue = common::connect().await?;
    let client = &venue.client;
    if let Some(simulator) = &venue.simulator {
        trade_on(simulator, client).await?;
    }
    let balance = client.portfolio().balance().send().await?;
    println!("balance: ${}", balance.balance_dollars);
    let positions: Vec<_> = client
        .portfolio()
        .positions()
        .stream(None)
        .try_collect()
        .await?;
    println!("positions:");
    for position in positions
        .iter()
        .filter(|p| !p.position_fp.value().is_zero())
    {
        println!(
            "  {:<28} {:>8} contracts, exposure ${}",
            position.ticker, position.position_fp, position.market_exposure_dollars
        );
    }
    let fills: Vec<_> = client
        .portfolio()
        .fills()
        .limit(100)
        .stream(Some(1))
        .try_collect()
        .await?;
    println!("recent fills:");
    for fill in &fills {
        println!(
            "  {} {} {} x{} at {}",
            fill.ticker,
            fill.book_side,
            if fill.is_taker { "taker" } else { "maker" },
            fill.count_fp,
            fill.yes_price_dollars
        );
    }
    Ok(())
}

/// On the simulator, someone else offers YES and this account takes it.
async fn trade_on(simulator: &kalshi_sim::Simulator, client: &Client) -> Result<(), Report> {
    use kalshi_sim::engine::{
        NewOrder as BookOrder, Owner, SelfTradePrevention, Side, TimeInForce as Tif,
    };
    let maker = Owner {
        user_id: "market-maker".into(),
        subaccount: 0,
    };
    simulator.with_engine(|engine| {
        engine.deposit(&maker, "1000".parse().unwrap_or_default());
        engine.place(BookOrder {
            owner: maker.clone(),
            ticker: "KXTEST-26DEC31-YES".into(),
            side: Side::Ask,
            price: "0.55".parse().unwrap_or_default(),
            count: "20".parse().unwrap_or_default(),
            client_order_id: "maker-1".into(),
            time_in_force: Tif::GoodTillCanceled,
            self_trade_prevention: SelfTradePrevention::TakerAtCross,
            post_only: false,
            reduce_only: false,
            order_group_id: None,
            expiration_ts: None,
        })
    })?;
    let order = NewOrder::buy_yes(
        "KXTEST-26DEC31-YES",
        Quantity::contracts(8)?,
        "0.60".parse()?,
    )
    .time_in_force(TimeInForce::ImmediateOrCancel);
    client.orders().create(&order).send().await?;
    Ok(())
}
