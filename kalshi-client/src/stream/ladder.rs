//! One side of a local order book: price levels sorted by price.

use std::ops::RangeBounds;

use rust_decimal::Decimal;

/// Price levels in ascending order of their key (the price in millionths of
/// a dollar, see `book::key`), each with the price as received and the
/// contracts resting there.
///
/// A sorted vector rather than a tree: a side of a Kalshi book holds tens to
/// a few hundred levels, where a binary search over contiguous memory and a
/// short move on insert or removal beat a tree's pointer chasing on every
/// delta (`BENCHMARKS.md`, Streams).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(super) struct Ladder {
    levels: Vec<(i64, (Decimal, Decimal))>,
}

impl Ladder {
    pub(super) fn new() -> Self {
        Self::default()
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

    /// Contracts resting at the levels whose key lies in `keys`.
    pub(super) fn contracts(&self, keys: impl RangeBounds<i64>) -> Decimal {
        self.range(keys).map(|(_, (_, count))| *count).sum()
    }

    /// The levels whose key lies in `keys`, lowest price first.
    fn range(
        &self,
        keys: impl RangeBounds<i64>,
    ) -> impl DoubleEndedIterator<Item = (&i64, &(Decimal, Decimal))> + '_ {
        use std::ops::Bound;
        let start = match keys.start_bound() {
            Bound::Included(k) => self.levels.partition_point(|(key, _)| key < k),
            Bound::Excluded(k) => self.levels.partition_point(|(key, _)| key <= k),
            Bound::Unbounded => 0,
        };
        let end = match keys.end_bound() {
            Bound::Included(k) => self.levels.partition_point(|(key, _)| key <= k),
            Bound::Excluded(k) => self.levels.partition_point(|(key, _)| key < k),
            Bound::Unbounded => self.levels.len(),
        };
        self.levels[start..end.max(start)]
            .iter()
            .map(|(key, level)| (key, level))
    }

    /// Adds `delta` contracts at `price` (whose key is `key`); a level at
    /// zero or below goes.
    pub(super) fn change(&mut self, key: i64, price: Decimal, delta: Decimal) {
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

/// Levels in any order; of two with one key, the later one stays (as a map
/// collected from them would keep).
impl FromIterator<(i64, (Decimal, Decimal))> for Ladder {
    fn from_iter<I: IntoIterator<Item = (i64, (Decimal, Decimal))>>(levels: I) -> Self {
        let mut levels: Vec<_> = levels.into_iter().collect();
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
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    fn levels(ladder: &Ladder) -> Vec<(i64, Decimal)> {
        ladder.range(..).map(|(k, (_, c))| (*k, *c)).collect()
    }

    #[test]
    fn keeps_levels_sorted_and_drops_empty_ones() {
        let mut ladder = Ladder::new();
        for (key, delta) in [(50, 3), (10, 2), (30, 1), (10, -2), (70, -4), (30, 5)] {
            ladder.change(key, Decimal::from(key), Decimal::from(delta));
        }
        assert_eq!(
            levels(&ladder),
            [(30, 6.into()), (50, 3.into())],
            "10 emptied, 70 never positive"
        );
        let at_least_40: Vec<_> = ladder.range(40..).map(|(k, _)| *k).collect();
        assert_eq!(at_least_40, [50]);
        let below_50: Vec<_> = ladder.range(..50).map(|(k, _)| *k).collect();
        assert_eq!(below_50, [30]);
        let (from, to) = (60, 20);
        assert_eq!(
            ladder.range(from..to).count(),
            0,
            "a reversed range is empty"
        );
    }

    #[test]
    fn collecting_keeps_the_later_of_two_levels_with_one_key() {
        let ladder: Ladder = [(2, 1), (1, 5), (2, 7)]
            .into_iter()
            .map(|(k, c)| (k, (Decimal::from(k), Decimal::from(c))))
            .collect();
        assert_eq!(levels(&ladder), [(1, 5.into()), (2, 7.into())]);
    }

    /// The same deltas through a sorted map (what the ladder replaced) give
    /// the same levels at every step.
    #[test]
    fn matches_a_sorted_map_over_random_deltas() {
        let (mut ladder, mut model) = (Ladder::new(), BTreeMap::<i64, Decimal>::new());
        let mut state = 0x2545_f491_4f6c_dd1d_u64;
        for _ in 0..20_000 {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            let key = (state % 64) as i64;
            let delta = Decimal::from((state >> 8) % 21) - Decimal::from(10);
            ladder.change(key, Decimal::from(key), delta);
            let count = model.entry(key).or_default();
            *count += delta;
            if *count <= Decimal::ZERO {
                model.remove(&key);
            }
            let expected: Vec<_> = model.iter().map(|(k, c)| (*k, *c)).collect();
            assert_eq!(levels(&ladder), expected);
        }
    }
}
