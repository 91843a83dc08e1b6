//! A margin market's order book: bids and asks in dollars, kept from a
//! snapshot and the deltas after it.
//!
//! Unlike an event contract, a perpetual has no YES/NO pair: the margin
//! stream sends the two sides as they are (`bid`, `ask`), at any positive
//! price. Every price and size is a `Decimal`.

use kalshi_gen::PriceLevel;
use kalshi_gen::margin::stream::types;
use rust_decimal::Decimal;

use super::book::level;
use super::ladder::Ladder;

/// The order book of one margin market.
///
/// Built from an `orderbook_snapshot` and changed by `orderbook_delta`s in
/// `seq` order. Stale while the stream has lost messages for it and a fresh
/// snapshot has not yet arrived: the levels are then the last state known
/// to be exact, and [`MarginBook::is_stale`] says not to trade on them.
///
/// Margin snapshots carry no exchange clock; [`MarginBook::clock`] is the
/// exchange's millisecond timestamp of the last change applied (a delta's
/// `ts_ms`, else the frame's send time).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MarginBook {
    market: String,
    bids: Ladder,
    asks: Ladder,
    clock: u64,
    stale: bool,
}

impl MarginBook {
    /// An empty book, stale until its first snapshot.
    pub(crate) fn new(market: &str) -> Self {
        Self {
            market: market.to_owned(),
            bids: Ladder::new(),
            asks: Ladder::new(),
            clock: 0,
            stale: true,
        }
    }

    /// The market's ticker.
    pub fn market(&self) -> &str {
        &self.market
    }

    /// The exchange's millisecond timestamp of the last change included.
    pub fn clock(&self) -> u64 {
        self.clock
    }

    /// Whether messages for this book were lost and a fresh snapshot is
    /// awaited.
    pub fn is_stale(&self) -> bool {
        self.stale
    }

    pub(crate) fn apply_snapshot(
        &mut self,
        snapshot: &types::MarginOrderbookSnapshotPayloadMsg,
        ms: u64,
    ) {
        self.bids = Ladder::from_levels(&levels(&snapshot.bid));
        self.asks = Ladder::from_levels(&levels(&snapshot.ask));
        // A snapshot is newer than anything before it, even when it
        // carries no send time.
        self.clock = self.clock.max(ms);
        self.stale = false;
    }

    pub(crate) fn apply_delta(&mut self, bid: bool, price: Decimal, delta: Decimal, ms: u64) {
        let ladder = if bid { &mut self.bids } else { &mut self.asks };
        ladder.change(price, delta);
        self.clock = self.clock.max(ms);
    }

    pub(crate) fn mark_stale(&mut self) {
        self.stale = true;
    }

    /// The best (highest) bid and its size.
    pub fn best_bid(&self) -> Option<PriceLevel> {
        self.bids.highest().map(|(p, c)| level(p, c))
    }

    /// The best (lowest) ask and its size.
    pub fn best_ask(&self) -> Option<PriceLevel> {
        self.asks.lowest().map(|(p, c)| level(p, c))
    }

    /// Bids, best (highest) first, at most `depth` levels.
    pub fn bids(&self, depth: usize) -> Vec<PriceLevel> {
        self.bids
            .descending()
            .take(depth)
            .map(|(p, c)| level(p, c))
            .collect()
    }

    /// Asks, best (lowest) first, at most `depth` levels.
    pub fn asks(&self, depth: usize) -> Vec<PriceLevel> {
        self.asks
            .ascending()
            .take(depth)
            .map(|(p, c)| level(p, c))
            .collect()
    }

    /// The mid price, when both sides are quoted.
    pub fn mid(&self) -> Option<Decimal> {
        let (bid, ask) = (self.best_bid()?, self.best_ask()?);
        Some((bid.price.value() + ask.price.value()) / Decimal::TWO)
    }

    /// The bid-ask spread, when both sides are quoted.
    pub fn spread(&self) -> Option<Decimal> {
        Some(self.best_ask()?.price.value() - self.best_bid()?.price.value())
    }

    /// Contracts bid at `price` or higher.
    pub fn bid_depth_at_or_above(&self, price: Decimal) -> Decimal {
        self.bids.contracts_at_or_above(price)
    }

    /// Contracts offered at `price` or lower.
    pub fn ask_depth_at_or_below(&self, price: Decimal) -> Decimal {
        self.asks.contracts_at_or_below(price)
    }
}

fn levels(wire: &[types::PriceLevelDollarsCountFp]) -> Vec<PriceLevel> {
    wire.iter().map(|l| l.0).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(text: &str) -> Decimal {
        text.parse().unwrap()
    }

    fn book() -> MarginBook {
        let snapshot: types::MarginOrderbookSnapshotPayloadMsg =
            serde_json::from_value(serde_json::json!({
                "market_ticker": "KXBTCPERP",
                "bid": [["99.50", "5.00"], ["99.75", "3.00"]],
                "ask": [["100.25", "7.00"], ["100.50", "2.00"]]
            }))
            .unwrap();
        let mut book = MarginBook::new("KXBTCPERP");
        book.apply_snapshot(&snapshot, 1_000);
        book
    }

    #[test]
    fn both_sides_keep_their_own_prices() {
        let book = book();
        assert!(!book.is_stale());
        assert_eq!(book.clock(), 1_000);
        let bid = book.best_bid().unwrap();
        assert_eq!((bid.price.value(), bid.count.value()), (d("99.75"), d("3")));
        let ask = book.best_ask().unwrap();
        assert_eq!(
            (ask.price.value(), ask.count.value()),
            (d("100.25"), d("7"))
        );
        assert_eq!(book.mid(), Some(d("100.00")));
        assert_eq!(book.spread(), Some(d("0.50")));
        let asks: Vec<Decimal> = book.asks(5).iter().map(|l| l.price.value()).collect();
        assert_eq!(asks, [d("100.25"), d("100.50")]);
        assert_eq!(book.bid_depth_at_or_above(d("99.50")), d("8"));
        assert_eq!(book.ask_depth_at_or_below(d("100.25")), d("7"));
        assert_eq!(book.ask_depth_at_or_below(d("100.50")), d("9"));
    }

    #[test]
    fn depth_bounds_finer_than_a_millionth_stay_on_their_side() {
        let book = book();
        // Just below an ask and just above a bid: neither level counts.
        assert_eq!(book.ask_depth_at_or_below(d("100.2499995")), d("0"));
        assert_eq!(book.bid_depth_at_or_above(d("99.7500005")), d("0"));
        assert_eq!(book.ask_depth_at_or_below(d("100.2500005")), d("7"));
        assert_eq!(book.bid_depth_at_or_above(d("99.7499995")), d("3"));
    }

    #[test]
    fn deltas_add_and_remove_levels_and_the_clock_never_goes_back() {
        let mut book = book();
        book.apply_delta(true, d("99.75"), d("-3"), 1_010);
        assert_eq!(book.best_bid().unwrap().price.value(), d("99.50"));
        book.apply_delta(false, d("100.00"), d("1"), 1_005);
        assert_eq!(book.best_ask().unwrap().price.value(), d("100.00"));
        assert_eq!(book.clock(), 1_010);
        book.mark_stale();
        assert!(book.is_stale());
    }
}
