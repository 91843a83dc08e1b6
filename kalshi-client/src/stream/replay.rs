//! Order books kept from frames outside a live session.

use std::collections::{BTreeSet, HashMap};

use foldhash::fast::RandomState;

use kalshi_gen::stream::ServerMessage;

use super::book::OrderBook;

/// Order books built from raw frames by the same rules a
/// [`StreamSession`](super::StreamSession) applies: `seq` checked per
/// subscription, repeats dropped, a gap marks that subscription's books
/// stale until their next snapshot. For recorded data, backtests, or frames
/// that arrive some other way.
///
/// ```
/// use kalshi_client::stream::{Applied, BookReplay};
///
/// let mut replay = BookReplay::new();
/// let snapshot = r#"{"type":"orderbook_snapshot","sid":1,"seq":1,"msg":{"market_ticker":"KX",
///     "market_id":"9b0f6b43-5b68-4f9f-9f02-9a2d1b8ac1a1","clock":7,
///     "yes_dollars_fp":[["0.40","10.00"]],"no_dollars_fp":[["0.55","4.00"]]}}"#;
/// assert_eq!(replay.apply_frame(snapshot)?, Applied::Snapshot);
/// let book = replay.book("KX").unwrap();
/// assert_eq!(book.best_ask().unwrap().price.to_string(), "0.4500");
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Debug, Default, Clone)]
pub struct BookReplay {
    books: HashMap<String, OrderBook, RandomState>,
    /// Per `sid`: the next `seq` expected and the markets it carried.
    subscriptions: HashMap<u64, (u64, BTreeSet<String>), RandomState>,
}

/// What a frame did to the books.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Applied {
    /// A snapshot replaced a book.
    Snapshot,
    /// A delta changed a book (or waits in a stale one).
    Delta,
    /// The `seq` jumped: the subscription's books are stale until their
    /// next snapshots. The frame itself was applied.
    Gap {
        /// The subscription.
        sid: u64,
        /// The `seq` expected.
        expected: u64,
        /// The `seq` received.
        received: u64,
    },
    /// The `seq` was seen already: dropped.
    Duplicate,
    /// Not an order book message.
    Other,
}

impl BookReplay {
    /// No books yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Decodes a frame and applies it.
    pub fn apply_frame(&mut self, text: &str) -> Result<Applied, serde_json::Error> {
        ServerMessage::decode(text).map(|message| self.apply(&message))
    }

    /// Applies a decoded message.
    pub fn apply(&mut self, message: &ServerMessage) -> Applied {
        let (sid, seq, market) = match message {
            ServerMessage::OrderbookSnapshot(m) => (m.sid, m.seq, m.msg.market_ticker.as_str()),
            ServerMessage::OrderbookDelta(m) => (m.sid, m.seq, m.msg.market_ticker.as_str()),
            _ => return Applied::Other,
        };
        let is_snapshot = matches!(message, ServerMessage::OrderbookSnapshot(_));
        let (next, markets) = self.subscriptions.entry(sid).or_default();
        // A subscription's markets are those it sent snapshots of: a delta
        // of any other market has no book to keep.
        if is_snapshot && !markets.contains(market) {
            markets.insert(market.to_owned());
        }
        let expected = *next;
        if expected != 0 && seq < expected {
            return Applied::Duplicate;
        }
        // Saturating: a `seq` of 2^64 - 1 (no real stream gets there) must
        // not overflow; a repeat of it is then applied rather than dropped.
        *next = seq.saturating_add(1);
        // A jump before a snapshot is a gap too: the lost frames may have
        // been other markets' deltas. The snapshot then refreshes its own
        // book below; the others stay stale until theirs.
        let gap = expected != 0 && seq > expected;
        if gap {
            for market in markets.iter() {
                if let Some(book) = self.books.get_mut(market) {
                    book.mark_stale();
                }
            }
        }
        // One lookup on the path every delta takes; the ticker is copied
        // only when a market is first seen.
        let book = match self.books.get_mut(market) {
            Some(book) => book,
            None => self
                .books
                .entry(market.to_owned())
                .or_insert_with(|| OrderBook::new(market)),
        };
        let applied = match message {
            ServerMessage::OrderbookSnapshot(m) => {
                book.apply_snapshot(&m.msg);
                Applied::Snapshot
            }
            ServerMessage::OrderbookDelta(m) => {
                // A stale book keeps its last exact state: the delta is
                // covered by the snapshot that will replace it.
                if !book.is_stale() {
                    let yes = m.msg.side == kalshi_gen::stream::types::MarketSide::Yes;
                    book.apply_delta(
                        yes,
                        m.msg.price_dollars.value(),
                        m.msg.delta_fp.value(),
                        m.msg.clock.get(),
                    );
                }
                Applied::Delta
            }
            _ => Applied::Other,
        };
        if gap {
            Applied::Gap {
                sid,
                expected,
                received: seq,
            }
        } else {
            applied
        }
    }

    /// The book of a market.
    pub fn book(&self, market: &str) -> Option<&OrderBook> {
        self.books.get(market)
    }

    /// Every book, by market.
    pub fn books(&self) -> impl Iterator<Item = &OrderBook> {
        self.books.values()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ID: &str = "9b0f6b43-5b68-4f9f-9f02-9a2d1b8ac1a1";

    fn snapshot(seq: u64, clock: u64) -> String {
        format!(
            r#"{{"type":"orderbook_snapshot","sid":1,"seq":{seq},"msg":{{"market_ticker":"KX","market_id":"{ID}","clock":{clock},"yes_dollars_fp":[["0.40","10.00"]]}}}}"#
        )
    }

    fn delta(seq: u64, clock: u64, price: &str, delta: &str) -> String {
        format!(
            r#"{{"type":"orderbook_delta","sid":1,"seq":{seq},"msg":{{"market_ticker":"KX","market_id":"{ID}","clock":{clock},"price_dollars":"{price}","delta_fp":"{delta}","side":"yes"}}}}"#
        )
    }

    #[test]
    fn sequence_rules_match_the_session() {
        let mut replay = BookReplay::new();
        assert_eq!(
            replay.apply_frame(&snapshot(1, 5)).unwrap(),
            Applied::Snapshot
        );
        assert_eq!(
            replay.apply_frame(&delta(2, 6, "0.41", "2")).unwrap(),
            Applied::Delta
        );
        assert_eq!(
            replay.apply_frame(&delta(2, 6, "0.41", "2")).unwrap(),
            Applied::Duplicate
        );
        let book = replay.book("KX").unwrap();
        assert_eq!(book.best_bid().unwrap().count.to_string(), "2.00");
        // seq 3 lost: the book is stale and keeps its last exact state.
        let gap = replay.apply_frame(&delta(4, 8, "0.41", "-2")).unwrap();
        assert_eq!(
            gap,
            Applied::Gap {
                sid: 1,
                expected: 3,
                received: 4
            }
        );
        let book = replay.book("KX").unwrap();
        assert!(book.is_stale());
        assert_eq!(
            (book.clock(), book.best_bid().unwrap().count.to_string()),
            (6, "2.00".into())
        );
        assert_eq!(
            replay.apply_frame(&snapshot(5, 8)).unwrap(),
            Applied::Snapshot
        );
        assert!(!replay.book("KX").unwrap().is_stale());
    }

    #[test]
    fn a_jump_before_another_markets_snapshot_leaves_the_others_stale() {
        let mut replay = BookReplay::new();
        replay.apply_frame(&snapshot(1, 5)).unwrap();
        // seq 2 (perhaps a delta of KX) lost; seq 3 is KY's first snapshot.
        let ky = snapshot(3, 9).replace(r#""market_ticker":"KX""#, r#""market_ticker":"KY""#);
        let applied = replay.apply_frame(&ky).unwrap();
        assert_eq!(
            applied,
            Applied::Gap {
                sid: 1,
                expected: 2,
                received: 3
            }
        );
        assert!(
            replay.book("KX").unwrap().is_stale(),
            "KX may have lost a delta"
        );
        assert!(
            !replay.book("KY").unwrap().is_stale(),
            "KY's snapshot is exact"
        );
    }
}
