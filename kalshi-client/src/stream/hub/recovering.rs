//! The hub's side of recovering what an outage hid: when to read over REST
//! (after a resubscription, when a `user_orders` or `market_positions`
//! subscription is made, when a `user_orders` one gains markets), and what
//! of a read to deliver.

use std::collections::BTreeSet;
use std::time::{Instant, SystemTime};

use tokio::sync::mpsc;

use super::{Again, Hub};
use crate::stream::api::Wire;
use crate::stream::recovery::{
    self, DeliveredFills, DeliveredOrders, DeliveredPositions, Listing, Recover, Window,
};
use crate::stream::{Channel, Event, SubscriptionId};

/// What was recovered over REST for a subscription, or why not.
pub(super) struct Recovered {
    subscription: SubscriptionId,
    since: SystemTime,
    read: Read,
    listing: Result<Listing, String>,
}

/// Why a recovery read was made.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Read {
    /// What an outage hid.
    Outage,
    /// What later recoveries compare with (the resting orders of every
    /// market of a `user_orders` subscription, every unsettled position for
    /// a `market_positions` one), asked for after `failures` failed reads in
    /// a row; `outages` is [`Recovery::outages`] then (`None`: no
    /// connection carried the subscription, or an outage's recovery was
    /// under way).
    Baseline { failures: u32, outages: Option<u64> },
    /// The resting orders of markets just added to one.
    AddedMarkets,
}

/// Recovery's state in the hub.
pub(super) struct Recovery {
    pub(super) recover: Recover,
    /// Which channels recover.
    pub(super) fills: bool,
    pub(super) orders: bool,
    pub(super) positions: bool,
    pub(super) delivered: DeliveredFills,
    pub(super) delivered_orders: DeliveredOrders,
    pub(super) delivered_positions: DeliveredPositions,
    /// Connections lost so far: a positions baseline read while one was
    /// down (or lost) may show changes the stream never delivered, so it is
    /// not kept.
    pub(super) outages: u64,
    pub(super) results: mpsc::UnboundedSender<Recovered>,
    pub(super) tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Recovery {
    /// The fills, orders and positions remembered, all subscriptions
    /// together.
    pub(super) fn remembered(&self) -> usize {
        self.delivered.len() + self.delivered_orders.len() + self.delivered_positions.len()
    }

    pub(super) fn covers(&self, channel: Channel) -> bool {
        match channel {
            Channel::Fill => self.fills,
            Channel::UserOrders => self.orders,
            Channel::MarketPositions => self.positions,
            _ => false,
        }
    }

    /// Whether recovery on `channel` compares with a read made when the
    /// subscription is made (fills need none: each is delivered once).
    fn needs_baseline(&self, channel: Channel) -> bool {
        channel != Channel::Fill && self.covers(channel)
    }

    /// Reads `window` over REST in a task of its own; the result comes back
    /// through [`Hub::recovered`].
    pub(super) fn read(&mut self, subscription: SubscriptionId, window: Window, read: Read) {
        let since = window.since;
        let listing = (self.recover)(window);
        let results = self.results.clone();
        self.tasks.retain(|t| !t.is_finished());
        self.tasks.push(tokio::spawn(async move {
            let listing = listing.await;
            let _ = results.send(Recovered {
                subscription,
                since,
                read,
                listing,
            });
        }));
    }

    /// Whether a streamed message (`received` then) is to be delivered:
    /// `false` for a fill delivered already, an order state older than one
    /// delivered, and a position received before a REST read whose state
    /// was delivered started.
    pub(super) fn first_delivery<A: Wire>(
        &mut self,
        subscription: SubscriptionId,
        message: &A::Message,
        received: Instant,
    ) -> bool {
        if self.fills
            && let Some((trade_id, order_id)) = A::fill_ids(message)
        {
            return self.delivered.first(subscription, &trade_id, &order_id);
        }
        if self.orders
            && let Some((order_id, state)) = A::order_state(message)
        {
            return self
                .delivered_orders
                .streamed(subscription, &order_id, state);
        }
        if self.positions
            && let Some((subaccount, market, state)) = A::position_state(message)
        {
            return self.delivered_positions.streamed(
                subscription,
                subaccount,
                market,
                state,
                received,
            );
        }
        true
    }
}

impl<A: Wire> Hub<A> {
    /// Reads the fills or orders `id` may have missed on `connection` over
    /// REST, when it has a window to recover there.
    pub(super) fn start_recovery(&mut self, id: SubscriptionId, connection: usize) {
        let (Some(recovery), Some(sub)) = (self.recovery.as_mut(), self.subs.get_mut(&id)) else {
            return;
        };
        let Some(since) = sub.recover_from[connection].take() else {
            return;
        };
        sub.recovering += 1;
        let channel = sub.spec.channel;
        let open_orders = if channel == Channel::UserOrders {
            recovery.delivered_orders.open(id)
        } else {
            Vec::new()
        };
        let open_positions = if channel == Channel::MarketPositions {
            recovery.delivered_positions.open(id)
        } else {
            Vec::new()
        };
        recovery.read(
            id,
            Window {
                channel,
                markets: sub.markets.iter().cloned().collect(),
                since,
                open_orders,
                open_positions,
                baseline: false,
            },
            Read::Outage,
        );
    }

    /// Reads recovery's baseline once when a `user_orders` or
    /// `market_positions` subscription with recovery is first made: the
    /// resting orders, so that a later recovery knows to read the ones the
    /// stream has not mentioned yet, or every position, so that it delivers
    /// only those the outage changed (again, after a backoff, until it
    /// succeeds).
    pub(super) fn read_baseline(&mut self, id: SubscriptionId) {
        let (Some(recovery), Some(sub)) = (self.recovery.as_mut(), self.subs.get_mut(&id)) else {
            return;
        };
        if !recovery.needs_baseline(sub.spec.channel) || sub.baseline_read {
            return;
        }
        sub.baseline_read = true;
        self.read_baseline_now(id);
    }

    /// Reads `id`'s baseline: the resting orders of its markets, or the
    /// positions of every market (so that markets added later are known).
    pub(super) fn read_baseline_now(&mut self, id: SubscriptionId) {
        let Some(sub) = self.subs.get(&id) else {
            return;
        };
        let failures = Again::failures_of(sub.baseline_retry);
        let markets = match sub.spec.channel {
            Channel::UserOrders => sub.markets.iter().cloned().collect(),
            _ => Vec::new(),
        };
        let channel = sub.spec.channel;
        // A connection must carry the subscription (it then streams every
        // change from now on) and no outage's recovery may be under way
        // (what that one missed is not delivered yet), or the read may show
        // what the consumer was never given.
        let clean = sub.on.iter().any(|c| c.sid.is_some()) && sub.recovering == 0;
        let outages = self.recovery.as_ref().filter(|_| clean).map(|r| r.outages);
        let read = Read::Baseline { failures, outages };
        self.read_baseline_in(id, channel, markets, read);
    }

    /// Reads the baseline of `markets` for `id` (`read` says why).
    fn read_baseline_in(
        &mut self,
        id: SubscriptionId,
        channel: Channel,
        markets: Vec<String>,
        read: Read,
    ) {
        let Some(recovery) = self.recovery.as_mut() else {
            return;
        };
        let window = Window {
            channel,
            markets,
            since: SystemTime::now(),
            open_orders: Vec::new(),
            open_positions: Vec::new(),
            baseline: true,
        };
        recovery.read(id, window, read);
    }

    /// Reads the resting orders of markets added to a `user_orders`
    /// subscription whose baseline was read already: the stream never
    /// mentioned them, and a later recovery must know to read them again.
    /// (The read waits for the read side to pass the moment the markets were
    /// added, so it sees every order the stream will not.)
    pub(super) fn read_added_baseline(&mut self, id: SubscriptionId, added: &BTreeSet<String>) {
        let (Some(recovery), Some(sub)) = (self.recovery.as_mut(), self.subs.get(&id)) else {
            return;
        };
        if !recovery.orders || sub.spec.channel != Channel::UserOrders || !sub.baseline_read {
            return;
        }
        let markets = added.iter().cloned().collect();
        self.read_baseline_in(id, Channel::UserOrders, markets, Read::AddedMarkets);
    }

    /// Reports that `id`'s window on `connection` will not be recovered.
    pub(super) async fn abandon_recovery(
        &mut self,
        id: SubscriptionId,
        connection: usize,
        error: &str,
    ) {
        let Some((channel, since)) = self.subs.get_mut(&id).and_then(|sub| {
            let since = sub.recover_from.get_mut(connection)?.take()?;
            Some((sub.spec.channel, since))
        }) else {
            return;
        };
        let error = format!(
            "the `{}` subscription could not be made again: {error}",
            channel.name()
        );
        self.control(failed(channel, id, since, error)).await;
    }

    /// Delivers what a recovery read that is news (fills not delivered yet,
    /// order states later than those delivered, positions that changed), or
    /// the failure; records what a subscription-time read found.
    pub(super) async fn recovered(&mut self, result: Recovered) {
        let Recovered {
            subscription,
            since,
            read,
            listing,
        } = result;
        let (Some(recovery), Some(sub)) =
            (self.recovery.as_mut(), self.subs.get_mut(&subscription))
        else {
            return;
        };
        if read == Read::Outage {
            debug_assert!(sub.recovering > 0, "an outage read ended that never began");
            sub.recovering = sub.recovering.saturating_sub(1);
        }
        match (read, &listing) {
            // A failed read of resting orders (of every market, or of markets
            // just added) is made again for every market after a growing
            // backoff, reported the first time only; only a read of every
            // market asked for after the last failure ends the retries.
            (Read::Baseline { .. } | Read::AddedMarkets, Err(_)) => {
                let again = Again::after_failure(sub.baseline_retry, &self.config);
                sub.baseline_retry = Some(again);
                if Again::failures_of(Some(again)) > 1 {
                    return;
                }
            }
            (Read::Baseline { failures, .. }, Ok(_))
                if Again::failures_of(sub.baseline_retry) == failures =>
            {
                sub.baseline_retry = None;
            }
            _ => {}
        }
        let event = match listing {
            Ok(Listing::Baseline(orders)) => {
                for order in &orders {
                    recovery
                        .delivered_orders
                        .note(subscription, &order.order_id);
                }
                return;
            }
            Ok(Listing::Orders { orders, gone }) => {
                for id in &gone {
                    recovery.delivered_orders.forget(subscription, id);
                }
                let orders: Vec<_> = orders
                    .into_iter()
                    .filter(|order| {
                        recovery.delivered_orders.recovered(
                            subscription,
                            &order.order_id,
                            recovery::rest_state(order),
                        )
                    })
                    .collect();
                let count = orders.len() as u64;
                self.update_stats(|s| s.orders_recovered += count);
                Event::OrdersRecovered {
                    subscription,
                    since,
                    orders,
                    gone,
                }
            }
            Ok(Listing::Positions {
                positions,
                listed_from,
                baseline: true,
                read_at,
            }) => {
                // Kept unless an outage overlapped the read: then what it
                // shows may be news to the consumer, and the recovery after
                // the outage delivers every position it reads instead.
                if matches!(read, Read::Baseline { outages: Some(n), .. } if n == recovery.outages)
                {
                    sub.positions_baseline_at = Some(read_at);
                    for position in &positions {
                        let known = &mut recovery.delivered_positions;
                        known.listed(subscription, position, listed_from, false);
                    }
                }
                return;
            }
            Ok(Listing::Positions {
                positions,
                listed_from,
                ..
            }) => {
                let known = &mut recovery.delivered_positions;
                let positions: Vec<_> = positions
                    .into_iter()
                    .filter(|position| known.listed(subscription, position, listed_from, true))
                    .collect();
                let count = positions.len() as u64;
                self.update_stats(|s| s.positions_recovered += count);
                Event::PositionsRecovered {
                    subscription,
                    since,
                    positions,
                }
            }
            Ok(Listing::Fills(fills)) => {
                let fills: Vec<_> = fills
                    .into_iter()
                    .filter(|f| {
                        recovery
                            .delivered
                            .first(subscription, &f.trade_id, &f.order_id)
                    })
                    .collect();
                let count = fills.len() as u64;
                self.update_stats(|s| s.fills_recovered += count);
                Event::FillsRecovered {
                    subscription,
                    since,
                    fills,
                }
            }
            Err(error) => failed(sub.spec.channel, subscription, since, error),
        };
        self.control(event).await;
    }
}

/// The event saying that `subscription`'s window since `since` will not be
/// recovered.
pub(super) fn failed<M>(
    channel: Channel,
    subscription: SubscriptionId,
    since: SystemTime,
    error: String,
) -> Event<M> {
    match channel {
        Channel::UserOrders => Event::OrderRecoveryFailed {
            subscription,
            since,
            error,
        },
        Channel::MarketPositions => Event::PositionRecoveryFailed {
            subscription,
            since,
            error,
        },
        _ => Event::FillRecoveryFailed {
            subscription,
            since,
            error,
        },
    }
}
