//! A margin market's resting orders: bids and asks at any positive price,
//! price-time priority (first in, first out within a level).

use std::collections::{BTreeMap, VecDeque};

use rust_decimal::Decimal;

/// Resting order indexes by price, per side.
#[derive(Debug, Default)]
pub(crate) struct Book {
    bids: BTreeMap<Decimal, VecDeque<usize>>,
    asks: BTreeMap<Decimal, VecDeque<usize>>,
}

impl Book {
    fn side(&mut self, bid: bool) -> &mut BTreeMap<Decimal, VecDeque<usize>> {
        if bid { &mut self.bids } else { &mut self.asks }
    }

    /// Queues order `index` last at `price`.
    pub fn rest(&mut self, bid: bool, price: Decimal, index: usize) {
        self.side(bid).entry(price).or_default().push_back(index);
    }

    /// Takes order `index` out of `price`.
    pub fn remove(&mut self, bid: bool, price: Decimal, index: usize) {
        let side = self.side(bid);
        if let Some(queue) = side.get_mut(&price) {
            queue.retain(|i| *i != index);
            if queue.is_empty() {
                side.remove(&price);
            }
        }
    }

    /// The first order a taker on the other side of `bid` would meet at
    /// `limit` or better: `(price, index)`.
    pub fn best_against(&self, taker_bid: bool, limit: Decimal) -> Option<(Decimal, usize)> {
        let (price, queue) = if taker_bid {
            self.asks.iter().next().filter(|(p, _)| **p <= limit)?
        } else {
            self.bids.iter().next_back().filter(|(p, _)| **p >= limit)?
        };
        Some((*price, *queue.front()?))
    }

    /// Every resting index of a taker's opposite side at `limit` or better,
    /// in matching order.
    pub fn crossing(&self, taker_bid: bool, limit: Decimal) -> Vec<usize> {
        if taker_bid {
            let levels = self.asks.range(..=limit);
            levels.flat_map(|(_, q)| q.iter().copied()).collect()
        } else {
            let levels = self.bids.range(limit..).rev();
            levels.flat_map(|(_, q)| q.iter().copied()).collect()
        }
    }

    /// Bid levels, best first: `(price, indexes)`.
    pub fn bids(&self) -> impl Iterator<Item = (&Decimal, &VecDeque<usize>)> {
        self.bids.iter().rev()
    }

    /// Ask levels, best first.
    pub fn asks(&self) -> impl Iterator<Item = (&Decimal, &VecDeque<usize>)> {
        self.asks.iter()
    }
}
