//! Subscribes Kalshi refused: which refusals may pass, and sending those
//! again after a backoff on the connection that refused them.

use std::time::{Duration, Instant};

use super::{Hub, Reply, Waiting};
use crate::stream::api::Wire;
use crate::stream::connection::full_jitter;
use crate::stream::{Config, Event, SubscriptionId};

/// Attempts that failed in a row, and when to make the next one.
#[derive(Debug, Clone, Copy)]
pub(super) struct Again {
    /// When; `None` while that attempt is under way.
    at: Option<Instant>,
    failures: u32,
}

impl Again {
    /// After `previous` (none: the first failure), one more failure: the
    /// next attempt after a full-jitter backoff that grows with them.
    pub(super) fn after_failure(previous: Option<Self>, config: &Config) -> Self {
        let failures = Self::failures_of(previous) + 1;
        let delay = full_jitter(config.backoff_base, config.backoff_max, failures);
        Self {
            at: Some(Instant::now() + delay),
            failures,
        }
    }

    /// The failures in a row so far (0 with none).
    pub(super) fn failures_of(again: Option<Self>) -> u32 {
        again.map_or(0, |a| a.failures)
    }

    /// Whether the next attempt is due at `now`; it is then under way.
    fn start_if_due(&mut self, now: Instant) -> bool {
        let due = self.at.is_some_and(|at| at <= now);
        if due {
            self.at = None;
        }
        due
    }
}

/// A refused resubscription waiting for its next attempt.
#[derive(Debug, Clone, Copy)]
pub(super) struct Retry {
    /// Refusals in a row on this connection, and when to send it again.
    again: Again,
    /// How long the connection had been down (for [`Event::Resubscribed`]).
    down_for: Option<Duration>,
}

/// Whether a refusal (Kalshi's error code) may pass when the command is
/// sent again: a processing error (1), a channel error (10), a command
/// timeout (18), a buffer overflow (25) or too many commands (27). The
/// others say the command itself is wrong and would be refused again.
pub(super) fn may_pass(code: i64) -> bool {
    matches!(code, 1 | 10 | 18 | 25 | 27)
}

impl<A: Wire> Hub<A> {
    /// A `subscribe` for `id` refused on `connection`, the subscription still
    /// standing: sent again after a backoff when the refusal may pass
    /// (reported as an event unless its caller still waits, `waiting`);
    /// otherwise reported (once the caller knows the subscription), the
    /// subscription stays off that connection and its recovery window there
    /// is written off.
    pub(super) async fn refused(
        &mut self,
        id: SubscriptionId,
        connection: usize,
        down_for: Option<Duration>,
        (code, message): (i64, &str),
        waiting: Option<u64>,
    ) {
        if !self.subs.contains_key(&id) {
            return;
        }
        let retried = may_pass(code);
        match waiting.and_then(|request| self.fanouts.get_mut(&request)) {
            Some(fanout) if !retried => fanout.held.push((code, message.to_owned())),
            Some(_) => {}
            None => {
                let event = Event::ServerError {
                    subscription: Some(id),
                    code,
                    message: message.to_owned(),
                };
                self.control(event).await;
            }
        }
        if retried && self.retry_later(id, connection, down_for) {
            return;
        }
        if let Some(sub) = self.subs.get_mut(&id) {
            sub.retry[connection] = None;
        }
        let error = format!("{message} (code {code})");
        self.abandon_recovery(id, connection, &error).await;
    }

    /// The caller's `subscribe` for `id` still waiting for an answer, if
    /// any, counting one more answer to wait for: a subscribe sent again
    /// (after a reconnect, or a refusal) then answers it too, and the caller
    /// is told of a grant on any connection.
    pub(super) fn join_pending_subscribe(&mut self, id: SubscriptionId) -> Option<u64> {
        let (request, fanout) = self
            .fanouts
            .iter_mut()
            .find(|(_, f)| matches!(&f.reply, Reply::Subscribed(_, s) if *s == id))?;
        fanout.remaining += 1;
        Some(*request)
    }

    /// Schedules `id`'s resubscription on `connection` again, after a
    /// backoff that grows with its refusals in a row; `false` when the
    /// connection or the subscription is gone.
    pub(super) fn retry_later(
        &mut self,
        id: SubscriptionId,
        connection: usize,
        down_for: Option<Duration>,
    ) -> bool {
        let live = self.conns[connection].epoch != 0;
        let Some(sub) = self.subs.get_mut(&id).filter(|_| live) else {
            return false;
        };
        let previous = sub.retry[connection].map(|r| r.again);
        sub.retry[connection] = Some(Retry {
            again: Again::after_failure(previous, &self.config),
            down_for,
        });
        true
    }

    /// Sends the refused resubscriptions, and makes the failed baseline
    /// reads (resting orders, positions), whose time has come.
    pub(super) fn retry_due(&mut self) {
        let now = Instant::now();
        let mut due = Vec::new();
        let mut baselines = Vec::new();
        for (id, sub) in &mut self.subs {
            if let Some(again) = &mut sub.baseline_retry
                && again.start_if_due(now)
            {
                baselines.push(*id);
            }
            let mut ready = Vec::new();
            for (connection, slot) in sub.retry.iter_mut().enumerate() {
                // Kept while its answer is awaited, to count refusals.
                if let Some(retry) = slot
                    && retry.again.start_if_due(now)
                {
                    ready.push((connection, retry.down_for));
                }
            }
            for (connection, down_for) in ready {
                due.push((*id, connection, down_for, sub.command()));
            }
        }
        for (id, connection, down_for, command) in due {
            let waiting = Waiting::Subscribe {
                id,
                request: self.join_pending_subscribe(id),
                resubscribe: down_for,
            };
            self.send(connection, command, waiting);
        }
        for id in baselines {
            self.read_baseline_now(id);
        }
    }
}
