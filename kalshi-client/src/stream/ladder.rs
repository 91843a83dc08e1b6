//! One side of a local order book: price levels sorted by price.

use kalshi_gen::PriceLevel;
use rust_decimal::Decimal;

/// Millionths of a dollar per dollar: the finest price a `Dollars` holds.
const MICROS: i64 = 1_000_000;

/// Price levels in ascending order of their key, each with the price as
/// received and the contracts resting there.
///
/// The key is the price in millionths of a dollar: every `Dollars` has at
/// most six decimal places, so the key is exact, and comparing integers is
/// several times cheaper than comparing `Decimal`s on every delta. A sorted
/// vector rather than a tree: a side of a Kalshi book holds tens to a few
/// hundred levels, where a binary search over contiguous memory and a short
/// move on insert or removal beat a tree's pointer chasing on every delta
/// (`BENCHMARKS.md`, Streams).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(super) struct Ladder {
    levels: Vec<(i64, (Decimal, Decimal))>,
}

impl Ladder {
    pub(super) fn new() -> Self {
        Self::default()
    }

    /// The levels of a snapshot, in any order; empty ones are left out, and
    /// of two at one price the later one stays.
    pub(super) fn from_levels(levels: &[PriceLevel]) -> Self {
        let mut levels: Vec<_> = levels
            .iter()
            .filter(|l| l.count.value() > Decimal::ZERO)
            .map(|l| (key(l.price.value()), (l.price.value(), l.count.value())))
            .collect();
        // Stable: equal keys keep their order, so the last is the later one.
        levels.sort_by_key(|(key, _)| *key);
        let mut kept: Vec<(i64, (Decimal, Decimal))> = Vec::with_capacity(levels.len());
        for level in levels {
            match kept.last_mut() {
                Some(last) if last.0 == level.0 => *last = level,
                _ => kept.push(level),
            }
        }
        Self { levels: kept }
    }

    /// (price, contracts) of every level, highest price first.
    pub(super) fn descending(&self) -> impl Iterator<Item = (Decimal, Decimal)> + '_ {
        self.levels.iter().rev().map(|(_, level)| *level)
    }

    /// (price, contracts) of every level, lowest price first.
    pub(super) fn ascending(&self) -> impl Iterator<Item = (Decimal, Decimal)> + '_ {
        self.levels.iter().map(|(_, level)| *level)
    }

    /// (price, contracts) at the highest price.
    pub(super) fn highest(&self) -> Option<(Decimal, Decimal)> {
        self.levels.last().map(|(_, level)| *level)
    }

    /// (price, contracts) at the lowest price.
    pub(super) fn lowest(&self) -> Option<(Decimal, Decimal)> {
        self.levels.first().map(|(_, level)| *level)
    }

    /// Contracts resting at `price` or higher.
    pub(super) fn contracts_at_or_above(&self, price: Decimal) -> Decimal {
        let from = key(price);
        let start = self.levels.partition_point(|(key, _)| *key < from);
        sum(&self.levels[start..])
    }

    /// Contracts resting at `price` or lower.
    pub(super) fn contracts_at_or_below(&self, price: Decimal) -> Decimal {
        let to = key_floor(price);
        let end = self.levels.partition_point(|(key, _)| *key <= to);
        sum(&self.levels[..end])
    }

    /// Adds `delta` contracts at `price`; a level at zero or below goes.
    pub(super) fn change(&mut self, price: Decimal, delta: Decimal) {
        let key = key(price);
        match self.levels.binary_search_by_key(&key, |(k, _)| *k) {
            Ok(at) => {
                let count = &mut self.levels[at].1.1;
                *count += delta;
                if *count <= Decimal::ZERO {
                    self.levels.remove(at);
                }
            }
            Err(at) if delta > Decimal::ZERO => self.levels.insert(at, (key, (price, delta))),
            Err(_) => {}
        }
    }
}

fn sum(levels: &[(i64, (Decimal, Decimal))]) -> Decimal {
    levels.iter().map(|(_, (_, count))| *count).sum()
}

/// The key of a price, rounded up to the next millionth when the price is
/// finer than that (only for prices a caller passes in; wire prices are
/// exact), so that "at `price` or higher" stays inclusive. Saturates far
/// outside any real price.
fn key(price: Decimal) -> i64 {
    use rust_decimal::prelude::ToPrimitive;
    let scale = price.scale();
    if scale <= 6 {
        // The exact path every wire price takes: no Decimal arithmetic.
        let exact = price.mantissa() * 10_i128.pow(6 - scale);
        if let Ok(key) = i64::try_from(exact) {
            return key;
        }
    }
    price
        .checked_mul(Decimal::from(MICROS))
        .and_then(|micros| micros.ceil().to_i64())
        .unwrap_or(if price.is_sign_negative() {
            i64::MIN
        } else {
            i64::MAX
        })
}

/// The key of a price rounded *down* to a millionth: the highest key at or
/// below `price`, so that "at `price` or lower" takes in nothing above it.
fn key_floor(price: Decimal) -> i64 {
    key(-price).checked_neg().unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use kalshi_gen::{Count, Dollars};

    use super::*;

    fn levels(ladder: &Ladder) -> Vec<(Decimal, Decimal)> {
        ladder.ascending().collect()
    }

    fn d(text: &str) -> Decimal {
        text.parse().unwrap()
    }

    #[test]
    fn keeps_levels_sorted_and_drops_empty_ones() {
        let mut ladder = Ladder::new();
        for (price, delta) in [(50, 3), (10, 2), (30, 1), (10, -2), (70, -4), (30, 5)] {
            ladder.change(Decimal::from(price), Decimal::from(delta));
        }
        assert_eq!(
            levels(&ladder),
            [(30.into(), 6.into()), (50.into(), 3.into())],
            "10 emptied, 70 never positive"
        );
        assert_eq!(ladder.contracts_at_or_above(40.into()), 3.into());
        assert_eq!(ladder.contracts_at_or_below(49.into()), 6.into());
        assert_eq!(ladder.contracts_at_or_below(10.into()), 0.into());
    }

    #[test]
    fn a_snapshot_keeps_the_later_of_two_levels_at_one_price_and_no_empty_ones() {
        let level = |price: &str, count: &str| PriceLevel {
            price: price.parse::<Dollars>().unwrap(),
            count: count.parse::<Count>().unwrap(),
        };
        let ladder = Ladder::from_levels(&[
            level("0.02", "1"),
            level("0.01", "5"),
            level("0.03", "0"),
            level("0.0200", "7"),
        ]);
        assert_eq!(
            levels(&ladder),
            [(d("0.01"), d("5")), (d("0.0200"), d("7"))]
        );
    }

    #[test]
    fn keys_order_prices_exactly_and_never_overflow() {
        assert_eq!(key(d("0.25")), key(d("0.2500")));
        assert!(key(d("0.250001")) > key(d("0.25")));
        // Finer than a millionth rounds up (and down for key_floor), so
        // range queries stay on their side of the price.
        assert_eq!(key(d("0.2500001")), key(d("0.250001")));
        assert_eq!(key_floor(d("0.2500009")), key(d("0.25")));
        assert_eq!(key(Decimal::MAX), i64::MAX);
        assert_eq!(key(Decimal::MIN), i64::MIN);
        assert_eq!(key_floor(Decimal::MAX), i64::MAX);
        assert_eq!(key_floor(Decimal::MIN), i64::MIN + 1);
    }

    /// The same deltas through a sorted map (what the ladder replaced) give
    /// the same levels at every step.
    #[test]
    fn matches_a_sorted_map_over_random_deltas() {
        let (mut ladder, mut model) = (Ladder::new(), BTreeMap::<Decimal, Decimal>::new());
        let mut state = 0x2545_f491_4f6c_dd1d_u64;
        for _ in 0..20_000 {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            let price = Decimal::new((state % 64) as i64, 2);
            let delta = Decimal::from((state >> 8) % 21) - Decimal::from(10);
            ladder.change(price, delta);
            let count = model.entry(price).or_default();
            *count += delta;
            if *count <= Decimal::ZERO {
                model.remove(&price);
            }
            let expected: Vec<_> = model.iter().map(|(p, c)| (*p, *c)).collect();
            assert_eq!(levels(&ladder), expected);
        }
    }
}
