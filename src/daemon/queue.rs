//! The daemon's one queue: every trigger pushes issue keys, the workers take them.
//!
//! The queue lives in the state database ([`State::queue_push`] and friends), so a key handed
//! over by a trigger survives a crash or restart: handing it over *is* the durable
//! acknowledgement that lets the sweep move its watermark and the mail be flagged `\Seen`.
//! One row per key makes coalescing free (a key named by the sweep, a mail and a webhook at
//! once is fetched once), and a key named while it is processed runs once more afterwards.
//!
//! This wrapper adds what the database cannot: waking idle workers at once, and a bound.
//! When [`CAPACITY`] keys wait, producers wait for room (a sweep after a long downtime lists
//! faster than issues are fetched; backpressure keeps the queue, and memory, bounded).

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Notify;

use crate::key::IssueKey;
use crate::state::{self, Pushed, QueueItem, State};

/// Keys that may wait at once before producers wait too.
pub const CAPACITY: i64 = 10_000;

/// The durable queue plus its wake-ups.
#[derive(Debug)]
pub struct Queue {
    state: Arc<State>,
    work: Notify,
    room: Notify,
    capacity: i64,
}

impl Queue {
    /// The queue in `state`, with room for `capacity` keys.
    pub fn new(state: Arc<State>, capacity: i64) -> Self {
        Queue {
            state,
            work: Notify::new(),
            room: Notify::new(),
            capacity: capacity.max(1),
        }
    }

    /// Hands `key` over (durably); waits while the queue is full. `updated_hint` as in
    /// [`State::queue_push`].
    pub async fn push(
        &self,
        key: &str,
        source: &str,
        updated_hint: Option<i64>,
    ) -> Result<Pushed, state::Error> {
        loop {
            if self.state.queue_depth()? < self.capacity {
                break;
            }
            // Re-checked at least every second: a wake-up may be missed between the two.
            let _ = tokio::time::timeout(Duration::from_secs(1), self.room.notified()).await;
        }
        let pushed = self.state.queue_push(key, source, updated_hint)?;
        if matches!(pushed, Pushed::Queued | Pushed::Coalesced) {
            self.work.notify_one();
        }
        Ok(pushed)
    }

    /// Hands every one of `rows` over (durably, in one transaction; no `updated` hint), waiting
    /// only while the queue is already full: a batch may take it past its capacity by its own
    /// size (what one mail names, at most a thousand rows).
    pub async fn push_all(
        &self,
        rows: &[String],
        source: &str,
    ) -> Result<Vec<Pushed>, state::Error> {
        if rows.is_empty() {
            return Ok(Vec::new());
        }
        loop {
            if self.state.queue_depth()? < self.capacity {
                break;
            }
            let _ = tokio::time::timeout(Duration::from_secs(1), self.room.notified()).await;
        }
        let pushed = self.state.queue_push_all(rows, source)?;
        if pushed
            .iter()
            .any(|p| matches!(p, Pushed::Queued | Pushed::Coalesced))
        {
            // Every idle worker may start at once; the permit covers one that is not yet
            // waiting.
            self.work.notify_waiters();
            self.work.notify_one();
        }
        Ok(pushed)
    }

    /// The next due key, if any.
    pub fn take(&self) -> Result<Option<QueueItem>, state::Error> {
        self.state.queue_take()
    }

    /// `key` is done.
    pub fn done(&self, key: &str) -> Result<(), state::Error> {
        self.state.queue_done(key)?;
        self.room.notify_waiters();
        // It may have been named again meanwhile, and is then due now.
        self.work.notify_one();
        Ok(())
    }

    /// Waits until work may be due: a push, or `max` elapsed.
    pub async fn wait_for_work(&self, max: Duration) {
        let _ = tokio::time::timeout(max, self.work.notified()).await;
    }

    /// Wakes every waiting worker (after releasing backoffs).
    pub fn wake_all(&self) {
        self.work.notify_waiters();
    }

    /// The state database behind the queue.
    pub fn state(&self) -> &Arc<State> {
        &self.state
    }
}

/// What a queue row names. Most rows are issue keys. A trigger that learns only a Jira issue
/// id the mirror does not know, and must not wait for Jira to resolve it (the webhook receiver
/// answers within milliseconds), queues [`Entry::id`] (`id:<id>`) instead; a worker then
/// fetches the issue by id. Coalescing, retries and parking work for such rows as for keys.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Entry {
    /// An issue key.
    Key(IssueKey),
    /// A Jira issue id, to be resolved through Jira.
    Id(i64),
}

const ID_PREFIX: &str = "id:";

impl Entry {
    /// The queue row naming Jira issue id `id`.
    pub fn id(id: i64) -> String {
        format!("{ID_PREFIX}{id}")
    }

    /// Reads a queue row; `None` when it is neither a key nor an id row.
    pub fn parse(row: &str) -> Option<Entry> {
        match row.strip_prefix(ID_PREFIX) {
            Some(id) => id.parse().ok().filter(|id| *id > 0).map(Entry::Id),
            None => IssueKey::parse(row).ok().map(Entry::Key),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_name_keys_or_ids() {
        assert_eq!(
            Entry::parse("SUP-1"),
            Some(Entry::Key(IssueKey::parse("SUP-1").unwrap()))
        );
        assert_eq!(Entry::parse(&Entry::id(18715)), Some(Entry::Id(18715)));
        for bad in ["id:", "id:-3", "id:x", "../x", ""] {
            assert_eq!(Entry::parse(bad), None, "{bad}");
        }
    }
}
