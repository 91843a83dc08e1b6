//! Test controls: faults for the next requests, and the journal.

use std::collections::VecDeque;
use std::sync::Mutex;
use std::time::Duration;

/// Something to go wrong with one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    /// Answer with this status and a Kalshi error body; nothing is executed.
    Status(u16),
    /// Answer 429 `{"error":"too many requests"}`; nothing is executed.
    RateLimited,
    /// Close the connection without reading further or answering; nothing is executed.
    DropConnection,
    /// Wait, then handle the request normally (a client may time out first).
    Delay(Duration),
    /// Execute the request, then close the connection without answering:
    /// the outcome is unknown to the client.
    LoseResponse,
    /// Execute the request, then send only half of the response body.
    TruncatedBody,
    /// Execute the request, then answer 200 with a body that is not JSON.
    MalformedJson,
    /// Execute the request, then answer 204 with no body.
    NoContent,
}

impl Fault {
    /// Whether the request is executed before the fault applies.
    pub fn executes(&self) -> bool {
        matches!(
            self,
            Self::Delay(_)
                | Self::LoseResponse
                | Self::TruncatedBody
                | Self::MalformedJson
                | Self::NoContent
        )
    }
}

/// One request as it arrived.
#[derive(Debug, Clone)]
pub struct JournalEntry {
    /// HTTP method.
    pub method: String,
    /// Path, including `/trade-api/v2`.
    pub path: String,
    /// The raw query string.
    pub query: String,
    /// The status answered (0 while in progress or when the connection was dropped).
    pub status: u16,
    /// The fault applied, if any.
    pub fault: Option<Fault>,
}

/// A fault waiting for a request, maybe only one whose path ends so.
struct Queued {
    fault: Fault,
    path: Option<String>,
}

#[derive(Default)]
pub(crate) struct Faults {
    queue: Mutex<VecDeque<Queued>>,
    journal: Mutex<Vec<JournalEntry>>,
}

impl Faults {
    /// Queues `fault` for the next `times` requests whose path ends with
    /// `path` (every request when `None`).
    pub fn push(&self, fault: Fault, times: usize, path: Option<&str>) {
        let mut queue = self.queue.lock().unwrap_or_else(|p| p.into_inner());
        queue.extend(std::iter::repeat_n(fault, times).map(|fault| Queued {
            fault,
            path: path.map(str::to_owned),
        }));
    }

    /// Drops every fault not yet applied; returns how many.
    pub fn clear(&self) -> usize {
        let mut queue = self.queue.lock().unwrap_or_else(|p| p.into_inner());
        let cleared = queue.len();
        queue.clear();
        cleared
    }

    /// The first queued fault that applies to a request at `path`.
    pub fn next(&self, path: &str) -> Option<Fault> {
        let mut queue = self.queue.lock().unwrap_or_else(|p| p.into_inner());
        let at = queue
            .iter()
            .position(|q| q.path.as_deref().is_none_or(|p| path.ends_with(p)))?;
        queue.remove(at).map(|q| q.fault)
    }

    /// Adds an entry; returns its index for [`Faults::set_status`].
    pub fn record(&self, entry: JournalEntry) -> usize {
        let mut journal = self.journal.lock().unwrap_or_else(|p| p.into_inner());
        journal.push(entry);
        journal.len() - 1
    }

    pub fn set_status(&self, index: usize, status: u16) {
        if let Some(entry) = self
            .journal
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get_mut(index)
        {
            entry.status = status;
        }
    }

    pub fn journal(&self) -> Vec<JournalEntry> {
        self.journal
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }
}

/// Something to go wrong on the WebSocket sessions (see
/// [`crate::Simulator::inject_stream`]).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum StreamFault {
    /// Close the connection at once, without a close frame.
    DropConnection,
    /// Lose the next numbered message of the session: its `seq` is used
    /// but it is never sent, so the client sees a gap.
    SkipSeq,
    /// Send the next message twice, with the same `seq`.
    RepeatSeq,
    /// Stall the session this long: nothing is read or sent meanwhile.
    Delay(Duration),
    /// Go silent for good: no messages, no pings, no pongs, and the
    /// connection stays open (a half-dead link the client must detect).
    Silence,
    /// Send a message of a type Kalshi's document does not have.
    UnknownMessage,
    /// Send a text frame that is not JSON.
    MalformedFrame,
    /// Answer the next `subscribe` with error code 10 (channel error).
    RefuseSubscription,
}

/// Which way a WebSocket frame went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// From the simulator to the client.
    Sent,
    /// From the client to the simulator.
    Received,
}

/// One text frame of a WebSocket session, as recorded when
/// [`crate::SimConfig::record_streams`] is on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamFrame {
    /// The session (see [`crate::Simulator::stream_sessions`]).
    pub session: u64,
    /// Which way it went.
    pub direction: Direction,
    /// The frame's text.
    pub text: String,
    /// Whether a fault put it there (a repeat, an unknown or malformed
    /// message): such frames are not Kalshi's and need not follow its
    /// document.
    pub injected: bool,
}

/// The open WebSocket sessions: where their faults go, and what they sent.
#[derive(Debug, Default)]
pub(crate) struct Sessions {
    open: Mutex<std::collections::BTreeMap<u64, tokio::sync::mpsc::UnboundedSender<StreamFault>>>,
    last_id: std::sync::atomic::AtomicU64,
    pub record: bool,
    frames: Mutex<Vec<StreamFrame>>,
    /// The error codes of the `subscribe` commands still to refuse, first
    /// first, on whichever session sends them (see
    /// [`crate::Simulator::refuse_subscriptions`]).
    refusals: Mutex<std::collections::VecDeque<i64>>,
}

impl Sessions {
    pub fn new(record: bool) -> Self {
        Self {
            record,
            ..Self::default()
        }
    }

    /// Registers a new session: its id and its fault inbox.
    pub fn open(&self) -> (u64, tokio::sync::mpsc::UnboundedReceiver<StreamFault>) {
        let id = self
            .last_id
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed)
            + 1;
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
        self.open
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(id, tx);
        (id, rx)
    }

    pub fn close(&self, id: u64) {
        self.open
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&id);
    }

    pub fn ids(&self) -> Vec<u64> {
        let open = self.open.lock().unwrap_or_else(|p| p.into_inner());
        open.iter()
            .filter(|(_, tx)| !tx.is_closed())
            .map(|(id, _)| *id)
            .collect()
    }

    /// Sends `fault` to one session (`Some`) or all; how many got it.
    pub fn inject(&self, session: Option<u64>, fault: &StreamFault) -> usize {
        let open = self.open.lock().unwrap_or_else(|p| p.into_inner());
        open.iter()
            .filter(|(id, _)| session.is_none_or(|s| s == **id))
            .filter(|(_, tx)| tx.send(fault.clone()).is_ok())
            .count()
    }

    /// Refuses the next `times` subscriptions with error `code`, on
    /// sessions open now or later (after those already queued).
    pub fn refuse_next(&self, times: usize, code: i64) {
        self.refusals
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .extend(std::iter::repeat_n(code, times));
    }

    /// The error code to refuse this subscription with, if it is one to
    /// refuse (and counts it).
    pub fn take_refusal(&self) -> Option<i64> {
        self.refusals
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .pop_front()
    }

    pub fn record(&self, frame: StreamFrame) {
        if self.record {
            self.frames
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .push(frame);
        }
    }

    pub fn frames(&self) -> Vec<StreamFrame> {
        self.frames
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }
}

#[cfg(test)]
mod tests {
    use super::{Fault, Faults};

    #[test]
    fn a_fault_scoped_to_a_path_waits_for_a_request_there() {
        let faults = Faults::default();
        faults.push(Fault::Status(500), 2, Some("/portfolio/fills"));
        faults.push(Fault::RateLimited, 1, None);
        // Another path takes the unscoped fault and leaves the scoped ones.
        assert_eq!(
            faults.next("/trade-api/v2/portfolio/balance"),
            Some(Fault::RateLimited)
        );
        assert_eq!(faults.next("/trade-api/v2/portfolio/balance"), None);
        assert_eq!(
            faults.next("/trade-api/v2/portfolio/fills"),
            Some(Fault::Status(500))
        );
        assert_eq!(
            faults.next("/trade-api/v2/portfolio/fills"),
            Some(Fault::Status(500))
        );
        assert_eq!(faults.next("/trade-api/v2/portfolio/fills"), None);
    }
}
