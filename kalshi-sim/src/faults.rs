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

#[derive(Default)]
pub(crate) struct Faults {
    queue: Mutex<VecDeque<Fault>>,
    journal: Mutex<Vec<JournalEntry>>,
}

impl Faults {
    pub fn push(&self, fault: Fault, times: usize) {
        let mut queue = self.queue.lock().unwrap_or_else(|p| p.into_inner());
        queue.extend(std::iter::repeat_n(fault, times));
    }

    pub fn next(&self) -> Option<Fault> {
        self.queue
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .pop_front()
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
