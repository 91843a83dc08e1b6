//! A market's order book, kept from a snapshot and the deltas after it.
//!
//! Kalshi's stream describes a binary market as two books of bids: YES bids
//! and NO bids. A NO bid at `p` is an offer to sell YES at `1 - p`, so the
//! YES book's asks are the NO bids seen from the other side. Every price and
//! size is a `Decimal`; nothing passes through `f64`.

use kalshi_gen::stream::types;
use kalshi_gen::{Count, Dollars, PriceLevel};
use rust_decimal::Decimal;

use super::ladder::Ladder;

/// The order book of one market, as of an exchange `clock`.
///
/// A book is built from an `orderbook_snapshot` and changed by
/// `orderbook_delta`s. It is *stale* while the stream has lost messages for
/// it (a sequence gap, a dropped connection) and a fresh snapshot has not yet
/// arrived: its levels are then the last state known to be exact, which the
/// exchange did have at [`OrderBook::clock`], and [`OrderBook::is_stale`]
/// says not to trade on them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderBook {
    market: String,
    yes: Ladder,
    no: Ladder,
    clock: u64,
    stale: bool,
}

impl OrderBook {
    /// An empty book, stale until its first snapshot.
    pub(crate) fn new(market: &str) -> Self {
        Self {
            market: market.to_owned(),
            yes: Ladder::new(),
            no: Ladder::new(),
            clock: 0,
            stale: true,
        }
    }

    /// The market's ticker.
    pub fn market(&self) -> &str {
        &self.market
    }

    /// The exchange clock of the last change included.
    pub fn clock(&self) -> u64 {
        self.clock
    }

    /// Whether messages for this book were lost and a fresh snapshot is
    /// awaited: the levels are exact as of [`OrderBook::clock`], not now.
    pub fn is_stale(&self) -> bool {
        self.stale
    }

    /// Replaces the whole book with a snapshot (which includes every change
    /// up to its clock) and clears staleness.
    pub(crate) fn apply_snapshot(&mut self, snapshot: &types::OrderbookSnapshotPayloadMsg) {
        self.yes = Ladder::from_levels(&snapshot.yes_dollars_fp);
        self.no = Ladder::from_levels(&snapshot.no_dollars_fp);
        self.clock = u64::try_from(snapshot.clock).unwrap_or(0);
        self.stale = false;
    }

    /// Applies one delta: `delta` contracts at `price` on the YES or NO
    /// side. Deltas arrive in `seq` order on one connection, which is the
    /// order to apply them in (clocks may go down across exchange
    /// maintenance, so they order nothing here).
    pub(crate) fn apply_delta(
        &mut self,
        yes_side: bool,
        price: Decimal,
        delta: Decimal,
        clock: u64,
    ) {
        let ladder = if yes_side {
            &mut self.yes
        } else {
            &mut self.no
        };
        ladder.change(price, delta);
        self.clock = clock;
    }

    /// Marks the book stale: messages for it were lost.
    pub(crate) fn mark_stale(&mut self) {
        self.stale = true;
    }

    /// The best YES bid: the highest price someone pays for YES, and its size.
    pub fn best_bid(&self) -> Option<PriceLevel> {
        self.yes.highest().map(|(p, c)| level(p, c))
    }

    /// The best YES ask: the lowest price someone sells YES at (the best NO
    /// bid seen from the YES side, `1 - p`), and its size.
    pub fn best_ask(&self) -> Option<PriceLevel> {
        self.no.highest().map(|(p, c)| level(Decimal::ONE - p, c))
    }

    /// The best NO bid and its size.
    pub fn best_no_bid(&self) -> Option<PriceLevel> {
        self.no.highest().map(|(p, c)| level(p, c))
    }

    /// The best NO ask (`1 -` the best YES bid) and its size.
    pub fn best_no_ask(&self) -> Option<PriceLevel> {
        self.yes.highest().map(|(p, c)| level(Decimal::ONE - p, c))
    }

    /// YES bids, best (highest) first, at most `depth` levels.
    pub fn bids(&self, depth: usize) -> Vec<PriceLevel> {
        self.yes
            .descending()
            .take(depth)
            .map(|(p, c)| level(p, c))
            .collect()
    }

    /// YES asks, best (lowest) first, at most `depth` levels.
    pub fn asks(&self, depth: usize) -> Vec<PriceLevel> {
        self.no
            .descending()
            .take(depth)
            .map(|(p, c)| level(Decimal::ONE - p, c))
            .collect()
    }

    /// NO bids, best first, at most `depth` levels.
    pub fn no_bids(&self, depth: usize) -> Vec<PriceLevel> {
        self.no
            .descending()
            .take(depth)
            .map(|(p, c)| level(p, c))
            .collect()
    }

    /// The YES mid price, when both sides are quoted.
    pub fn mid(&self) -> Option<Decimal> {
        let (bid, ask) = (self.best_bid()?, self.best_ask()?);
        Some((bid.price.value() + ask.price.value()) / Decimal::TWO)
    }

    /// The YES bid-ask spread, when both sides are quoted.
    pub fn spread(&self) -> Option<Decimal> {
        Some(self.best_ask()?.price.value() - self.best_bid()?.price.value())
    }

    /// Contracts bid for YES at `price` or better (higher).
    pub fn bid_depth_at_or_above(&self, price: Decimal) -> Decimal {
        self.yes.contracts_at_or_above(price)
    }

    /// Contracts offered YES at `price` or better (lower).
    pub fn ask_depth_at_or_below(&self, price: Decimal) -> Decimal {
        self.no.contracts_at_or_above(Decimal::ONE - price)
    }
}

pub(super) fn level(price: Decimal, count: Decimal) -> PriceLevel {
    // Book prices come from the wire (already valid) or are `1 - p` of one.
    PriceLevel {
        price: Dollars::new(price).unwrap_or_default(),
        count: Count::new(count).unwrap_or_default(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(text: &str) -> Decimal {
        text.parse().unwrap()
    }

    fn snapshot(json: serde_json::Value) -> types::OrderbookSnapshotPayloadMsg {
        serde_json::from_value(json).unwrap()
    }

    fn book() -> OrderBook {
        let mut book = OrderBook::new("KX");
        book.apply_snapshot(&snapshot(serde_json::json!({
            "market_ticker": "KX", "market_id": "9b0f6b43-5b68-4f9f-9f02-9a2d1b8ac1a1", "clock": 10,
            "yes_dollars_fp": [["0.40", "5.00"], ["0.42", "3.00"]],
            "no_dollars_fp": [["0.50", "7.00"], ["0.55", "2.00"]]
        })));
        book
    }

    #[test]
    fn a_snapshot_gives_both_sides_of_the_yes_book() {
        let book = book();
        assert!(!book.is_stale());
        assert_eq!(book.clock(), 10);
        let bid = book.best_bid().unwrap();
        assert_eq!((bid.price.value(), bid.count.value()), (d("0.42"), d("3")));
        // The best NO bid, 0.55, is a YES offer at 0.45.
        let ask = book.best_ask().unwrap();
        assert_eq!((ask.price.value(), ask.count.value()), (d("0.45"), d("2")));
        assert_eq!(book.best_no_ask().unwrap().price.value(), d("0.58"));
        assert_eq!(book.mid(), Some(d("0.435")));
        assert_eq!(book.spread(), Some(d("0.03")));
        let asks: Vec<Decimal> = book.asks(5).iter().map(|l| l.price.value()).collect();
        assert_eq!(asks, [d("0.45"), d("0.50")]);
        assert_eq!(book.bid_depth_at_or_above(d("0.40")), d("8"));
        assert_eq!(book.ask_depth_at_or_below(d("0.50")), d("9"));
    }

    #[test]
    fn depth_queries_take_any_price() {
        let book = book();
        assert_eq!(book.bid_depth_at_or_above(Decimal::MAX), Decimal::ZERO);
        assert_eq!(book.bid_depth_at_or_above(Decimal::MIN), d("8"));
        assert_eq!(book.bid_depth_at_or_above(d("0.4000001")), d("3"));
    }

    #[test]
    fn deltas_add_and_remove_levels() {
        let mut book = book();
        book.apply_delta(true, d("0.42"), d("-3"), 11);
        assert_eq!(
            book.best_bid().unwrap().price.value(),
            d("0.40"),
            "an emptied level goes"
        );
        book.apply_delta(true, d("0.43"), d("1.5"), 11);
        assert_eq!(book.best_bid().unwrap().count.value(), d("1.5"));
        book.apply_delta(false, d("0.55"), d("4"), 12);
        assert_eq!(book.best_ask().unwrap().count.value(), d("6"));
        assert_eq!(book.clock(), 12);
        book.mark_stale();
        assert!(book.is_stale());
    }
}
