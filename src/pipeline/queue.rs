//! The one queue in front of the pipeline: every trigger pushes issue keys, the workers take them.
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
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use tokio::sync::Notify;

use crate::key::IssueKey;
use crate::state::{self, Pushed, QueueItem, State};

/// Wait before retrying a key that failed because Jira was failing.
pub(crate) const TRANSIENT_RETRY: Duration = Duration::from_secs(30);

/// How long a failed key waits: [`TRANSIENT_RETRY`] when Jira was failing, else 60 s
/// doubling with the key's counted attempts, up to about two hours.
pub(crate) fn retry_delay_ms(transient: bool, attempts: i64) -> i64 {
    if transient {
        return i64::try_from(TRANSIENT_RETRY.as_millis()).unwrap_or(i64::MAX);
    }
    let doublings = u32::try_from(attempts.clamp(1, 8) - 1).unwrap_or(0);
    60_000i64 << doublings
}

/// Keys that may wait at once before producers wait too.
pub(crate) const CAPACITY: i64 = 10_000;

/// The durable queue plus its wake-ups.
#[derive(Debug)]
pub struct Queue {
    state: Arc<State>,
    work: Notify,
    room: Notify,
    capacity: i64,
    /// At least the rows waiting: the last count plus every row pushed since. Pushes count
    /// the table only when it reaches the capacity, not on every push.
    bound: AtomicI64,
}

impl Queue {
    /// The queue in `state`, with room for `capacity` keys.
    pub fn new(state: Arc<State>, capacity: i64) -> Self {
        Queue {
            state,
            work: Notify::new(),
            room: Notify::new(),
            capacity: capacity.max(1),
            // The first push counts.
            bound: AtomicI64::new(i64::MAX),
        }
    }

    /// Waits while the queue is full, then reserves `rows` in the bound. The table is counted
    /// only when the bound says it may be full; the count may then find room that workers
    /// made (or coalescing kept).
    async fn wait_for_room(&self, rows: usize) -> Result<(), state::Error> {
        while self.bound.load(Ordering::Relaxed) >= self.capacity {
            let depth = self.state.queue_depth()?;
            self.bound.store(depth, Ordering::Relaxed);
            if depth < self.capacity {
                break;
            }
            // Re-checked at least every second: a wake-up may be missed between the two.
            let _ = tokio::time::timeout(Duration::from_secs(1), self.room.notified()).await;
        }
        self.reserve(rows);
        Ok(())
    }

    /// Adds `rows` to the bound.
    fn reserve(&self, rows: usize) {
        let rows = i64::try_from(rows).unwrap_or(i64::MAX);
        let _ = self
            .bound
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |b| {
                Some(b.saturating_add(rows))
            });
    }

    /// Hands `key` over (durably); waits while the queue is full. `updated_hint` as in
    /// [`State::queue_push`].
    pub async fn push(
        &self,
        key: &str,
        source: &str,
        updated_hint: Option<i64>,
    ) -> Result<Pushed, state::Error> {
        self.wait_for_room(1).await?;
        let pushed = self.state.queue_push(key, source, updated_hint)?;
        if matches!(pushed, Pushed::Queued | Pushed::Coalesced) {
            self.work.notify_one();
        }
        Ok(pushed)
    }

    /// Hands every one of `rows` over (durably, in one transaction; no `updated` hint), waiting
    /// only while the queue is already full: a batch may take it past its capacity by its own
    /// size (what one mail names, at most a thousand rows).
    pub(crate) async fn push_all(
        &self,
        rows: &[String],
        source: &str,
    ) -> Result<Vec<Pushed>, state::Error> {
        if rows.is_empty() {
            return Ok(Vec::new());
        }
        self.wait_for_room(rows.len()).await?;
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

    /// Queues every recorded failure owed a retry ([`State::queue_retry_failures`]),
    /// counting them in the bound like pushes; returns their keys.
    pub fn retry_failures(&self) -> Result<Vec<String>, state::Error> {
        let retried = self.state.queue_retry_failures()?;
        self.reserve(retried.len());
        Ok(retried)
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
    pub(crate) async fn wait_for_work(&self, max: Duration) {
        let _ = tokio::time::timeout(max, self.work.notified()).await;
    }

    /// Wakes every waiting worker (after releasing backoffs).
    pub(crate) fn wake_all(&self) {
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

    #[tokio::test]
    async fn a_full_queue_holds_producers_until_a_key_is_done() {
        let state = Arc::new(State::open_in_memory().unwrap());
        // Rows left by an earlier run count from the first push.
        state.queue_push("SUP-1", "sweep", None).unwrap();
        let queue = Arc::new(Queue::new(state.clone(), 3));
        queue.push("SUP-2", "sweep", None).await.unwrap();
        // Coalescing takes no room.
        queue.push("SUP-2", "mail", None).await.unwrap();
        queue.push_all(&["SUP-3".into()], "mail").await.unwrap();
        assert_eq!(state.queue_depth().unwrap(), 3);

        let blocked = tokio::spawn({
            let queue = queue.clone();
            async move { queue.push("SUP-4", "sweep", None).await }
        });
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert!(!blocked.is_finished(), "a push into a full queue waits");
        assert_eq!(state.queue_depth().unwrap(), 3);

        let item = queue.take().unwrap().unwrap();
        queue.done(&item.issue_key).unwrap();
        let pushed = tokio::time::timeout(Duration::from_secs(5), blocked)
            .await
            .expect("room wakes the producer")
            .unwrap()
            .unwrap();
        assert_eq!(pushed, Pushed::Queued);
        assert_eq!(state.queue_depth().unwrap(), 3);
    }
}
