//! Fill recovery: the fills of an outage, read over REST once the stream is
//! back ([`StreamBuilder::recover_fills`](super::StreamBuilder::recover_fills)).
//!
//! Kalshi does not replay what a connection missed. With recovery on, each
//! time a fill subscription is made again on a connection that was lost,
//! the session reads the fills since that connection last heard anything
//! over REST and delivers those not delivered yet (by any connection) as
//! one [`Event::FillsRecovered`](super::Event::FillsRecovered). Each fill
//! reaches the consumer once per subscription, from either source.

use std::collections::{HashSet, VecDeque};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use futures_util::TryStreamExt;
use futures_util::future::BoxFuture;
use kalshi_gen::types::Fill;

use super::SubscriptionId;
use crate::{Client, Execute, Paginate};

/// Reads the fills of some markets (every market when none) since a time.
pub(crate) type Recover = Arc<
    dyn Fn(Vec<String>, SystemTime) -> BoxFuture<'static, Result<Vec<Fill>, String>> + Send + Sync,
>;

/// How long the read side may lag the reconnect before recovery gives up:
/// Kalshi's reads trail its writes slightly, and a listing taken before they
/// caught up could miss the window's last fills.
const READ_SIDE_WAIT: Duration = Duration::from_secs(10);
/// How often the read side's freshness is asked while it lags.
const READ_SIDE_POLL: Duration = Duration::from_millis(100);
/// The most tickers one `GET /portfolio/fills` filters by.
const MAX_TICKERS: usize = 100;
/// How many delivered fills are remembered to deliver each once.
pub(crate) const REMEMBERED_FILLS: usize = 65_536;
/// How far before the last frame heard the listing starts, and how far
/// past the reconnect the read side must be: the times are this machine's,
/// Kalshi's are its own, and a fill listed twice costs nothing (it is
/// delivered once).
const CLOCK_MARGIN: Duration = Duration::from_secs(2);

/// Recovery through `client`'s REST API.
pub(crate) fn through(client: Client) -> Recover {
    Arc::new(move |markets, since| Box::pin(fills_since(client.clone(), markets, since)))
}

/// The fills of `markets` since `since`, once the read side includes the
/// moment this was called (the stream was back by then).
async fn fills_since(
    client: Client,
    markets: Vec<String>,
    since: SystemTime,
) -> Result<Vec<Fill>, String> {
    read_side_reaches(&client, SystemTime::now() + CLOCK_MARGIN).await?;
    // `min_ts` is whole seconds, rounded down.
    let min_ts = unix_seconds(
        since
            .checked_sub(CLOCK_MARGIN)
            .unwrap_or(SystemTime::UNIX_EPOCH),
    );
    if markets.is_empty() {
        return list(&client, min_ts, None).await;
    }
    let mut fills = Vec::new();
    for chunk in markets.chunks(MAX_TICKERS) {
        fills.extend(list(&client, min_ts, Some(chunk.join(","))).await?);
    }
    Ok(fills)
}

async fn list(client: &Client, min_ts: i64, tickers: Option<String>) -> Result<Vec<Fill>, String> {
    let mut request = client.portfolio().fills().min_ts(min_ts).limit(1000);
    if let Some(tickers) = tickers {
        request = request.ticker(tickers);
    }
    request
        .stream(None)
        .try_collect()
        .await
        .map_err(|e| format!("listing the fills failed: {e}"))
}

/// Waits until `GET /exchange/user_data_timestamp` is at or past `moment`.
async fn read_side_reaches(client: &Client, moment: SystemTime) -> Result<(), String> {
    let deadline = tokio::time::Instant::now() + READ_SIDE_WAIT;
    loop {
        let as_of = client
            .exchange()
            .user_data_timestamp()
            .send()
            .await
            .map_err(|e| format!("reading the read side's freshness failed: {e}"))?
            .as_of_time;
        if SystemTime::from(as_of) >= moment {
            return Ok(());
        }
        if tokio::time::Instant::now() >= deadline {
            return Err(format!(
                "the read side stayed behind the reconnect for {READ_SIDE_WAIT:?} (at {as_of})"
            ));
        }
        tokio::time::sleep(READ_SIDE_POLL).await;
    }
}

fn unix_seconds(time: SystemTime) -> i64 {
    time.duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

/// An id as one spelling: a UUID hyphenated in lower case (the stream's
/// ids are UUIDs, REST's are strings), anything else as it is.
fn canonical(id: &str) -> String {
    uuid::Uuid::parse_str(id).map_or_else(|_| id.to_owned(), |u| u.to_string())
}

/// A delivered fill: its subscription, trade and order (one trade fills
/// two orders, both of them yours when you traded with yourself).
type FillKey = (SubscriptionId, String, String);

/// The fills delivered lately, so that each reaches the consumer once per
/// fill subscription, whether the stream or REST brought it.
#[derive(Default)]
pub(crate) struct DeliveredFills {
    keys: HashSet<FillKey>,
    order: VecDeque<FillKey>,
}

impl DeliveredFills {
    /// Records the fill of `order_id` in `trade_id` on `subscription`;
    /// `false` when it was delivered there already.
    pub(crate) fn first(
        &mut self,
        subscription: SubscriptionId,
        trade_id: &str,
        order_id: &str,
    ) -> bool {
        let key = (subscription, canonical(trade_id), canonical(order_id));
        if self.keys.contains(&key) {
            return false;
        }
        self.keys.insert(key.clone());
        self.order.push_back(key);
        if self.order.len() > REMEMBERED_FILLS
            && let Some(old) = self.order.pop_front()
        {
            self.keys.remove(&old);
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::{DeliveredFills, REMEMBERED_FILLS, unix_seconds};
    use crate::stream::SubscriptionId;
    use std::time::{Duration, SystemTime};

    const FILLS: SubscriptionId = SubscriptionId(1);

    #[test]
    fn each_fill_is_delivered_once_per_subscription_by_trade_and_order() {
        let mut delivered = DeliveredFills::default();
        assert!(delivered.first(FILLS, "t1", "o1"));
        assert!(!delivered.first(FILLS, "t1", "o1"));
        // The other side of the same trade, also yours.
        assert!(delivered.first(FILLS, "t1", "o2"));
        assert!(delivered.first(FILLS, "t2", "o1"));
        // Another fill subscription gets its own copy.
        assert!(delivered.first(SubscriptionId(2), "t1", "o1"));
        // The stream's UUIDs and REST's strings are the same ids.
        let id = "7A0343EA-019B-4880-A27A-A73E4B463DB1";
        assert!(delivered.first(FILLS, id, "o1"));
        assert!(!delivered.first(FILLS, &id.to_ascii_lowercase(), "o1"));
    }

    #[test]
    fn only_the_latest_fills_are_remembered() {
        let mut delivered = DeliveredFills::default();
        for i in 0..=REMEMBERED_FILLS {
            assert!(delivered.first(FILLS, &i.to_string(), "o"));
        }
        assert!(delivered.first(FILLS, "0", "o"), "the oldest was forgotten");
        assert!(!delivered.first(FILLS, &REMEMBERED_FILLS.to_string(), "o"));
        assert_eq!(delivered.keys.len(), REMEMBERED_FILLS);
    }

    #[test]
    fn times_become_whole_unix_seconds() {
        let time = SystemTime::UNIX_EPOCH + Duration::from_millis(1_767_268_800_999);
        assert_eq!(unix_seconds(time), 1_767_268_800);
        assert_eq!(
            unix_seconds(SystemTime::UNIX_EPOCH - Duration::from_secs(1)),
            0
        );
    }
}
