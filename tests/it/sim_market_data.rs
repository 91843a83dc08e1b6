//! The simulator's market data operations, end to end through Prism: trades
//! and candlesticks built from what two accounts traded, the filters of the
//! market lists, order book depth, the historical tier and the seeded
//! exchange information.

use std::collections::BTreeMap;
use std::time::Duration;

use futures_util::TryStreamExt;
use kalshi_client::generated::{builder, types};
use kalshi_client::order::{NewOrder, Price, Quantity};
use kalshi_client::{Client, Error, Execute, Paginate};
use kalshi_sim::{Account, Outcome, SimConfig, Simulator};
use kalshi_tests::keys::TestKey;
use kalshi_tests::prism::Prism;
use rust_decimal::Decimal;

use crate::support::{client, dec, json};

const MARKET: &str = "KXTEST-26DEC31-YES";
const OTHER: &str = "KXTEST-27JUN30-YES";
const WEATHER: &str = "KXHIGHNY-26NOV30";

fn price(text: &str) -> Price {
    text.parse().unwrap()
}

fn qty(n: u32) -> Quantity {
    Quantity::contracts(n).unwrap()
}

async fn trade_count(request: builder::GetTrades<'_>) -> usize {
    request.send().await.unwrap().trades.len()
}

async fn market_tickers(request: builder::GetMarkets<'_>) -> Vec<String> {
    let markets = request.send().await.unwrap().markets;
    let mut tickers: Vec<String> = markets.into_iter().map(|m| m.ticker).collect();
    tickers.sort();
    tickers
}

async fn event_tickers(request: builder::GetEvents<'_>) -> Vec<String> {
    let events = request.send().await.unwrap().events;
    let mut tickers: Vec<String> = events.into_iter().map(|e| e.event_ticker).collect();
    tickers.sort();
    tickers
}

async fn series_of(request: builder::GetSeriesList<'_>) -> Vec<types::Series> {
    request.send().await.unwrap().series
}

/// The simulator with Prism in front, and a client for each account.
struct Stack {
    sim: Simulator,
    prism: Prism,
    alice: Client,
    bob: Client,
}

async fn stack() -> Stack {
    let config = SimConfig::new()
        .account(Account::with_public_key(
            "alice",
            "alice-key",
            TestKey::rsa().public_key(),
        ))
        .account(Account::with_public_key(
            "bob",
            "bob-key",
            TestKey::ed25519().public_key(),
        ));
    let sim = Simulator::start(config).await.unwrap();
    let prism = Prism::start(&sim.origin()).await.unwrap();
    let alice = client(&prism.base_url(), "alice-key", TestKey::rsa());
    let bob = client(&prism.base_url(), "bob-key", TestKey::ed25519());
    Stack {
        sim,
        prism,
        alice,
        bob,
    }
}

/// Alice rests a bid; Bob sells `count` into it (Bob takes).
async fn trade(alice: &Client, bob: &Client, ticker: &str, bid: u32, count: u32, at: &str) {
    alice
        .orders()
        .create(&NewOrder::buy_yes(ticker, qty(bid), price(at)))
        .send()
        .await
        .unwrap();
    let taken = bob
        .orders()
        .create(&NewOrder::sell_yes(ticker, qty(count), price(at)))
        .send()
        .await
        .unwrap();
    assert_eq!(taken.fill_count.value(), Decimal::from(count));
}

#[tokio::test]
async fn a_trade_between_two_accounts_is_listed_with_its_price_and_taker() {
    let Stack {
        sim,
        prism,
        alice,
        bob,
    } = stack().await;
    trade(&alice, &bob, MARKET, 10, 4, "0.40").await;

    let trades = alice
        .markets()
        .trades()
        .ticker(MARKET)
        .send()
        .await
        .unwrap()
        .trades;
    assert_eq!(trades.len(), 1, "{trades:?}");
    let trade = &trades[0];
    assert_eq!(trade.count_fp.value(), dec("4"));
    assert_eq!(trade.yes_price_dollars.value(), dec("0.40"));
    assert_eq!(trade.no_price_dollars.value(), dec("0.60"));
    // Bob sold YES: the taker is positioned for NO, on the ask side.
    assert_eq!(trade.taker_outcome_side.to_string(), "no");
    assert_eq!(trade.taker_book_side.to_string(), "ask");
    assert!(!trade.is_block_trade);
    // The trade is the one both fills belong to.
    let fills = alice.portfolio().fills().send().await.unwrap().fills;
    assert_eq!(fills[0].trade_id, trade.trade_id);

    // Filters narrow the list.
    let markets = alice.markets();
    assert_eq!(trade_count(markets.trades().ticker(OTHER)).await, 0);
    assert_eq!(trade_count(markets.trades().is_block_trade(true)).await, 0);
    assert_eq!(trade_count(markets.trades().is_block_trade(false)).await, 1);
    let later = sim.now_ms() / 1000 + 3600;
    assert_eq!(trade_count(markets.trades().min_ts(later)).await, 0);
    assert_eq!(trade_count(markets.trades().max_ts(later)).await, 1);
    // Nothing is historical yet.
    let historical = alice.historical().trades().send().await.unwrap().trades;
    assert!(historical.is_empty(), "{historical:?}");

    // The market shows it: last price, volume, open interest, the rest of the bid.
    let market = alice.markets().get(MARKET).send().await.unwrap().market;
    assert_eq!(market.last_price_dollars.value(), dec("0.40"));
    assert_eq!(market.volume_fp.value(), dec("4"));
    assert_eq!(market.volume_24h_fp.value(), dec("4"));
    assert_eq!(market.open_interest_fp.value(), dec("4"));
    assert_eq!(market.yes_bid_dollars.value(), dec("0.40"));
    assert_eq!(market.yes_bid_size_fp.value(), dec("6"));
    assert_eq!(market.status.to_string(), "active");
    prism.assert_clean();
}

/// OHLC and volume of `(ms, price, count)` trades per `period_s` period,
/// keyed by the period's end: what the candlesticks must say.
fn buckets(
    trades: &[(i64, Decimal, Decimal)],
    period_s: i64,
) -> BTreeMap<i64, (Decimal, Decimal, Decimal, Decimal, Decimal)> {
    let mut out: BTreeMap<i64, (Decimal, Decimal, Decimal, Decimal, Decimal)> = BTreeMap::new();
    for (ms, price, count) in trades {
        let period_ms = period_s * 1000;
        let end = (ms + period_ms - 1).div_euclid(period_ms) * period_s;
        out.entry(end)
            .and_modify(|(_, high, low, close, volume)| {
                *high = (*high).max(*price);
                *low = (*low).min(*price);
                *close = *price;
                *volume += *count;
            })
            .or_insert((*price, *price, *price, *price, *count));
    }
    out
}

#[tokio::test]
async fn candlesticks_aggregate_the_trades_of_each_period() {
    let Stack {
        sim,
        prism,
        alice,
        bob,
    } = stack().await;
    trade(&alice, &bob, MARKET, 10, 3, "0.40").await;
    trade(&alice, &bob, MARKET, 5, 5, "0.45").await;
    sim.advance_clock(Duration::from_secs(120));
    bob.orders()
        .create(&NewOrder::sell_yes(MARKET, qty(2), price("0.40")))
        .send()
        .await
        .unwrap();

    let mut trades: Vec<(i64, Decimal, Decimal)> = alice
        .markets()
        .trades()
        .ticker(MARKET)
        .stream(None)
        .map_ok(|t| {
            (
                t.created_time.timestamp_millis(),
                t.yes_price_dollars.value(),
                t.count_fp.value(),
            )
        })
        .try_collect()
        .await
        .unwrap();
    trades.reverse();
    assert_eq!(trades.len(), 3);
    let expected = buckets(&trades, 60);
    assert_eq!(expected.len(), 2, "two minutes apart: {expected:?}");
    let first_end = *expected.keys().next().unwrap();
    let last_end = *expected.keys().last().unwrap();

    let candles = alice
        .markets()
        .candlesticks("KXTEST", MARKET)
        .start_ts(first_end - 600)
        .end_ts(last_end + 600)
        .period_interval(1_i64)
        .send()
        .await
        .unwrap()
        .candlesticks;
    let traded: BTreeMap<i64, _> = candles
        .iter()
        .filter(|c| c.volume_fp.value() > Decimal::ZERO)
        .map(|c| {
            let p = &c.price;
            let value = |d: Option<kalshi_client::Dollars>| d.unwrap().value();
            (
                c.end_period_ts,
                (
                    value(p.open_dollars),
                    value(p.high_dollars),
                    value(p.low_dollars),
                    value(p.close_dollars),
                    c.volume_fp.value(),
                ),
            )
        })
        .collect();
    assert_eq!(traded, expected);
    // The later minute knows the earlier close; open interest is Alice's 10.
    let last = candles.last().unwrap();
    assert_eq!(last.end_period_ts, last_end);
    assert_eq!(last.price.previous_dollars.unwrap().value(), dec("0.45"));
    assert_eq!(last.open_interest_fp.value(), dec("10"));
    // Alice's 0.40 bid rests throughout (5 of 10 left).
    assert_eq!(last.yes_bid.open_dollars.value(), dec("0.40"));
    assert_eq!(last.yes_bid.close_dollars.value(), dec("0.40"));
    assert_eq!(last.yes_ask.close_dollars.value(), Decimal::ONE);
    // A candle without trades has no price but the previous one.
    for quiet in candles.iter().filter(|c| c.volume_fp.value().is_zero()) {
        assert!(quiet.price.close_dollars.is_none(), "{quiet:?}");
    }

    // Several markets at once: the same candles, none where nothing traded.
    let batch = alice
        .markets()
        .batch_candlesticks()
        .market_tickers(format!("{MARKET},{OTHER}"))
        .start_ts(first_end - 600)
        .end_ts(last_end + 600)
        .period_interval(1)
        .send()
        .await
        .unwrap()
        .markets;
    assert_eq!(batch.len(), 2);
    assert_eq!(batch[0].market_ticker, MARKET);
    assert_eq!(json(&batch[0].candlesticks), json(&candles));
    assert!(batch[1].candlesticks.is_empty());
    // After the last candle, the latest one is carried forward.
    let carried = alice
        .markets()
        .batch_candlesticks()
        .market_tickers(MARKET)
        .start_ts(last_end + 1)
        .end_ts(last_end + 7200)
        .period_interval(1)
        .include_latest_before_start(true)
        .send()
        .await
        .unwrap()
        .markets;
    let carried = &carried[0].candlesticks;
    assert_eq!(carried.len(), 1, "{carried:?}");
    assert_eq!(carried[0].end_period_ts, last_end + 60);
    assert_eq!(
        carried[0].price.previous_dollars.unwrap().value(),
        dec("0.40")
    );
    assert!(carried[0].price.close_dollars.is_none());

    // Per event: one array per market of the event.
    let by_event = alice
        .events()
        .candlesticks("KXTEST", "KXTEST-26DEC31")
        .start_ts(first_end - 600)
        .end_ts(last_end + 600)
        .period_interval(1_i32)
        .send()
        .await
        .unwrap();
    assert_eq!(by_event.market_tickers, [MARKET]);
    assert_eq!(json(&by_event.market_candlesticks), json(&[candles]));
    assert_eq!(by_event.adjusted_end_ts, last_end + 600);
    prism.assert_clean();
}

#[tokio::test]
async fn filters_narrow_markets_events_and_series() {
    use types::{GetEventsStatus, GetMarketsMveFilter, GetMarketsStatus};
    let Stack {
        sim,
        prism,
        alice,
        bob,
    } = stack().await;
    trade(&alice, &bob, MARKET, 2, 2, "0.50").await;
    sim.settle(OTHER, Outcome::Yes).unwrap();
    let list = || alice.markets().list();
    assert_eq!(market_tickers(list()).await.len(), 6);
    assert_eq!(market_tickers(list().event_ticker(WEATHER)).await.len(), 4);
    assert_eq!(
        market_tickers(list().series_ticker("KXTEST")).await,
        [MARKET, OTHER]
    );
    assert_eq!(
        market_tickers(list().tickers(format!("{MARKET},{WEATHER}-B40"))).await,
        [format!("{WEATHER}-B40").as_str(), MARKET]
    );
    assert_eq!(
        market_tickers(list().status(GetMarketsStatus::Settled)).await,
        [OTHER]
    );
    assert_eq!(
        market_tickers(list().status(GetMarketsStatus::Open))
            .await
            .len(),
        5
    );
    assert!(
        market_tickers(list().status(GetMarketsStatus::Paused))
            .await
            .is_empty()
    );
    // 2027-01-01: only the Dec 31 market closes before it.
    let new_year = 1_798_761_600;
    assert_eq!(
        market_tickers(list().max_close_ts(new_year)).await,
        [MARKET]
    );
    assert_eq!(market_tickers(list().min_close_ts(new_year)).await.len(), 5);
    assert_eq!(market_tickers(list().min_settled_ts(0)).await, [OTHER]);
    assert!(
        market_tickers(list().mve_filter(GetMarketsMveFilter::Only))
            .await
            .is_empty()
    );
    let settled = alice.markets().get(OTHER).send().await.unwrap().market;
    assert_eq!(settled.status.to_string(), "finalized");
    assert_eq!(settled.result.to_string(), "yes");
    assert!(settled.settlement_ts.is_some());

    let list = || alice.events().list();
    assert_eq!(event_tickers(list()).await.len(), 3);
    assert_eq!(
        event_tickers(list().series_ticker("KXTEST")).await,
        ["KXTEST-26DEC31", "KXTEST-27JUN30"]
    );
    assert_eq!(
        event_tickers(list().status(GetEventsStatus::Settled)).await,
        ["KXTEST-27JUN30"]
    );
    assert_eq!(
        event_tickers(list().status(GetEventsStatus::Open))
            .await
            .len(),
        2
    );
    assert_eq!(event_tickers(list().tickers(WEATHER)).await, [WEATHER]);
    assert_eq!(event_tickers(list().min_close_ts(new_year)).await.len(), 2);
    let nested = alice
        .events()
        .list()
        .series_ticker("KXHIGHNY")
        .with_nested_markets(true)
        .send()
        .await
        .unwrap()
        .events;
    assert_eq!(nested[0].markets.len(), 4);
    let plain = alice.events().list().send().await.unwrap().events;
    assert!(plain.iter().all(|e| e.markets.is_empty()));
    let event = alice
        .events()
        .get(WEATHER)
        .with_nested_markets(true)
        .send()
        .await
        .unwrap();
    assert_eq!(event.event.markets.len(), 4);
    assert_eq!(event.markets.len(), 4);

    let list = || alice.series().list();
    let weather = series_of(list().category("Climate and Weather")).await;
    assert_eq!(weather.len(), 1);
    assert_eq!(weather[0].ticker, "KXHIGHNY");
    let tagged = series_of(list().tags("Testing")).await;
    assert_eq!(tagged.len(), 1);
    assert_eq!(tagged[0].ticker, "KXTEST");
    let with_volume = series_of(list().include_volume(true)).await;
    let volume = |ticker: &str| {
        with_volume
            .iter()
            .find(|s| s.ticker == ticker)
            .and_then(|s| s.volume_fp)
            .map(|v| v.value())
    };
    assert_eq!(volume("KXTEST"), Some(dec("2")));
    assert_eq!(volume("KXHIGHNY"), Some(Decimal::ZERO));
    assert!(
        series_of(list())
            .await
            .iter()
            .all(|s| s.volume_fp.is_none())
    );
    let one = alice
        .series()
        .get("KXTEST")
        .include_volume(true)
        .send()
        .await
        .unwrap()
        .series;
    assert_eq!(one.volume_fp.map(|v| v.value()), Some(dec("2")));
    prism.assert_clean();
}

#[tokio::test]
async fn order_book_depth_keeps_the_best_levels() {
    let Stack {
        sim: _sim,
        prism,
        alice,
        bob,
    } = stack().await;
    for at in ["0.30", "0.35", "0.40"] {
        alice
            .orders()
            .create(&NewOrder::buy_yes(MARKET, qty(1), price(at)))
            .send()
            .await
            .unwrap();
    }
    for at in ["0.60", "0.70"] {
        bob.orders()
            .create(&NewOrder::sell_yes(MARKET, qty(2), price(at)))
            .send()
            .await
            .unwrap();
    }
    let levels = |side: &Vec<kalshi_client::generated::PriceLevel>| -> Vec<String> {
        side.iter().map(|level| level.price.to_string()).collect()
    };
    let book = |depth: Option<i64>| {
        let mut request = alice.markets().orderbook(MARKET);
        if let Some(depth) = depth {
            request = request.depth(depth);
        }
        async move { request.send().await.unwrap().orderbook_fp }
    };
    let full = book(None).await;
    assert_eq!(levels(&full.yes_dollars), ["0.3000", "0.3500", "0.4000"]);
    // YES asks are NO bids: 0.70 → 0.30, 0.60 → 0.40.
    assert_eq!(levels(&full.no_dollars), ["0.3000", "0.4000"]);
    let two = book(Some(2)).await;
    assert_eq!(levels(&two.yes_dollars), ["0.3500", "0.4000"]);
    assert_eq!(levels(&two.no_dollars), ["0.3000", "0.4000"]);
    let one = book(Some(1)).await;
    assert_eq!(levels(&one.yes_dollars), ["0.4000"]);
    assert_eq!(levels(&one.no_dollars), ["0.4000"]);
    assert_eq!(json(&book(Some(0)).await), json(&full));

    let books = alice
        .markets()
        .orderbooks()
        .tickers(vec![MARKET.parse().unwrap(), OTHER.parse().unwrap()])
        .send()
        .await
        .unwrap()
        .orderbooks;
    assert_eq!(books.len(), 2);
    assert_eq!(books[0].ticker, MARKET);
    assert_eq!(json(&books[0].orderbook_fp), json(&full));
    assert!(books[1].orderbook_fp.yes_dollars.is_empty());
    prism.assert_clean();
}

#[tokio::test]
async fn records_older_than_the_cutoff_move_to_the_historical_tier() {
    let Stack {
        sim,
        prism,
        alice,
        bob,
    } = stack().await;
    trade(&alice, &bob, MARKET, 5, 5, "0.50").await;
    let trade_id = alice.markets().trades().send().await.unwrap().trades[0]
        .trade_id
        .clone();
    sim.settle(MARKET, Outcome::Yes).unwrap();
    // Live data covers about three months.
    sim.advance_clock(Duration::from_secs(92 * 86_400));

    let cutoff = alice.historical().cutoff().send().await.unwrap();
    assert!(cutoff.trades_created_ts.timestamp_millis() < sim.now_ms());
    let live = alice.markets().trades().send().await.unwrap().trades;
    assert!(live.is_empty(), "{live:?}");
    let old = alice.historical().trades().send().await.unwrap().trades;
    assert_eq!(old.len(), 1);
    assert_eq!(old[0].trade_id, trade_id);
    assert!(old[0].created_time < cutoff.trades_created_ts);

    // The settled market left the live lists for the archive.
    let listed = alice.markets().list().tickers(MARKET).send().await.unwrap();
    assert!(listed.markets.is_empty());
    let gone = alice.markets().get(MARKET).send().await.unwrap_err();
    assert!(matches!(gone, Error::NotFound(_)), "{gone:?}");
    let archived = alice.historical().markets().send().await.unwrap().markets;
    assert_eq!(archived.len(), 1);
    assert_eq!(archived[0].ticker, MARKET);
    assert_eq!(archived[0].result.to_string(), "yes");
    let one = alice
        .historical()
        .market(MARKET)
        .send()
        .await
        .unwrap()
        .market;
    assert_eq!(one.volume_fp.value(), dec("5"));
    let live_only = alice.historical().market(OTHER).send().await.unwrap_err();
    assert!(matches!(live_only, Error::NotFound(_)), "{live_only:?}");

    let now_s = sim.now_ms() / 1000;
    let candles = alice
        .historical()
        .candlesticks(MARKET)
        .start_ts(now_s - 100 * 86_400)
        .end_ts(now_s)
        .period_interval(1440_i64)
        .send()
        .await
        .unwrap()
        .candlesticks;
    let traded: Vec<_> = candles
        .iter()
        .filter(|c| c.volume.value() > Decimal::ZERO)
        .collect();
    assert_eq!(traded.len(), 1, "{candles:?}");
    assert_eq!(traded[0].volume.value(), dec("5"));
    assert_eq!(traded[0].price.close.unwrap().value(), dec("0.50"));
    let moved = alice
        .markets()
        .candlesticks("KXTEST", MARKET)
        .start_ts(now_s - 100 * 86_400)
        .end_ts(now_s)
        .period_interval(1440_i64)
        .send()
        .await
        .unwrap_err();
    assert!(matches!(moved, Error::NotFound(_)), "{moved:?}");

    // Alice's own records of it.
    let fills = alice.historical().fills().send().await.unwrap().fills;
    assert_eq!(fills.len(), 1);
    assert_eq!(fills[0].trade_id, trade_id);
    let orders = alice.historical().orders().send().await.unwrap().orders;
    assert_eq!(orders.len(), 1);
    assert_eq!(orders[0].fill_count_fp.value(), dec("5"));
    // ... and only there: each record is in exactly one tier.
    let live_fills = alice.portfolio().fills().send().await.unwrap().fills;
    assert!(live_fills.is_empty(), "{live_fills:?}");
    let live_orders = alice.orders().list().send().await.unwrap().orders;
    assert!(live_orders.is_empty(), "{live_orders:?}");
    let positions = alice.historical().positions().send().await.unwrap();
    assert_eq!(positions.market_positions.len(), 1);
    let position = &positions.market_positions[0];
    assert_eq!(position.ticker, MARKET);
    assert_eq!(position.position_fp.value(), Decimal::ZERO);
    assert_eq!(positions.event_positions[0].event_ticker, "KXTEST-26DEC31");
    let none = alice
        .historical()
        .fills()
        .ticker(OTHER)
        .send()
        .await
        .unwrap()
        .fills;
    assert!(none.is_empty());
    prism.assert_clean();
}

#[tokio::test]
async fn exchange_information_agrees_with_the_catalog() {
    let Stack {
        sim, prism, alice, ..
    } = stack().await;
    let schedule = alice.exchange().schedule().send().await.unwrap().schedule;
    assert_eq!(schedule.standard_hours.len(), 1);
    assert_eq!(schedule.standard_hours[0].monday[0].open_time, "00:00");
    assert!(schedule.maintenance_windows.is_empty());

    // Fee changes: none ahead; the past ones on request, by series.
    let fees = alice.series().fee_changes();
    let upcoming = fees.clone().send().await.unwrap().series_fee_change_arr;
    assert!(upcoming.is_empty());
    let past = fees
        .clone()
        .show_historical(true)
        .send()
        .await
        .unwrap()
        .series_fee_change_arr;
    assert_eq!(past.len(), 2);
    let weather = fees
        .show_historical(true)
        .series_ticker("KXHIGHNY")
        .send()
        .await
        .unwrap()
        .series_fee_change_arr;
    assert_eq!(weather.len(), 1);
    assert_eq!(weather[0].fee_multiplier, 1.0);
    let event_fees = alice.events().fee_changes().send().await.unwrap();
    assert_eq!(event_fees.event_fee_changes.len(), 1);
    let change = &event_fees.event_fee_changes[0];
    assert_eq!(change.event_ticker, WEATHER);
    // The event carries the override the change set.
    let event = alice.events().get(WEATHER).send().await.unwrap().event;
    assert_eq!(
        event.fee_multiplier_override,
        change.fee_multiplier_override
    );
    assert_eq!(
        event.fee_type_override.map(|t| t.to_string()),
        change.fee_type_override.as_ref().map(|t| t.to_string())
    );
    let other = alice
        .events()
        .fee_changes()
        .event_ticker("KXTEST-26DEC31")
        .send()
        .await
        .unwrap();
    assert!(other.event_fee_changes.is_empty());

    let metadata = alice.events().metadata(WEATHER).send().await.unwrap();
    let tickers: Vec<&str> = metadata
        .market_details
        .iter()
        .map(|m| m.market_ticker.as_str())
        .collect();
    assert_eq!(tickers.len(), 4);
    assert!(tickers.iter().all(|t| t.starts_with(WEATHER)));

    let now_s = sim.now_ms() / 1000;
    let forecast = alice
        .events()
        .forecast_percentile_history("KXHIGHNY", WEATHER)
        .percentiles(vec![1000, 5000, 9000])
        .start_ts(now_s - 3 * 3600)
        .end_ts(now_s)
        .period_interval(60_i32)
        .send()
        .await
        .unwrap()
        .forecast_history;
    assert!((3..=4).contains(&forecast.len()), "{forecast:?}");
    for point in &forecast {
        assert_eq!(point.end_period_ts % 3600, 0);
        let values: Vec<f64> = point
            .percentile_points
            .iter()
            .map(|p| p.numerical_forecast)
            .collect();
        assert_eq!(values.len(), 3);
        assert!(values[0] < values[1] && values[1] < values[2], "{values:?}");
    }

    let tags = alice
        .search()
        .tags_by_categories()
        .send()
        .await
        .unwrap()
        .tags_by_categories;
    assert_eq!(tags["Climate and Weather"], ["Temperature", "New York"]);
    assert_eq!(tags["Science and Technology"], ["Testing"]);
    let sports = alice.search().filters_by_sport().send().await.unwrap();
    assert!(!sports.sport_ordering.is_empty());
    for sport in &sports.sport_ordering {
        assert!(sports.filters_by_sports.contains_key(sport), "{sport}");
    }
    prism.assert_clean();
}
