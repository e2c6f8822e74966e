//! The daemon's durable queue: one row per key, so a key named by several triggers is queued
//! once; a key named while it is processed is marked to run again afterwards.

use super::issues::{park, upsert_failure};
use super::{Result, State};
use crate::time::now_ms;
use rusqlite::{OptionalExtension, params};

/// What [`State::queue_push`] did with a key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pushed {
    /// Newly queued.
    Queued,
    /// Already queued and waiting: nothing added.
    Coalesced,
    /// Being processed: it will be processed once more afterwards.
    Again,
    /// Parked at this very `updated`: not queued until it changes.
    Parked,
}

/// A key taken from the queue for processing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueItem {
    /// The issue key.
    pub issue_key: String,
    /// The trigger that queued it (the latest, when coalesced).
    pub source: String,
    /// When it was queued (or named again), epoch ms: a fetch started since is fresh enough.
    pub enqueued_ms: i64,
}

/// [`State::queue_push`] inside the caller's transaction.
fn queue_push_in(
    tx: &rusqlite::Transaction<'_>,
    key: &str,
    source: &str,
    updated_hint: Option<i64>,
    now: i64,
) -> rusqlite::Result<Pushed> {
    let parked: Option<Option<i64>> = tx
        .query_row(
            "SELECT parked_updated_ms FROM failures
                 WHERE issue_key = ?1 AND parked_ms IS NOT NULL",
            [key],
            |r| r.get(0),
        )
        .optional()?;
    if let Some(at) = parked {
        if updated_hint.is_some() && at == updated_hint {
            return Ok(Pushed::Parked);
        }
        // It changed: a fresh set of attempts.
        tx.execute(
            "UPDATE failures SET parked_ms = NULL, parked_updated_ms = NULL, attempts = 0
                 WHERE issue_key = ?1",
            [key],
        )?;
    }
    let running: Option<bool> = tx
        .query_row(
            "SELECT running FROM queue WHERE issue_key = ?1",
            [key],
            |r| r.get(0),
        )
        .optional()?;
    let pushed = match running {
        None => {
            tx.execute(
                "INSERT INTO queue (issue_key, source, enqueued_ms, updated_hint)
                     VALUES (?1, ?2, ?3, ?4)",
                params![key, source, now, updated_hint],
            )?;
            Pushed::Queued
        }
        Some(true) => {
            tx.execute(
                "UPDATE queue SET again = 1, source = ?2, enqueued_ms = ?3,
                       updated_hint = COALESCE(?4, updated_hint)
                     WHERE issue_key = ?1",
                params![key, source, now, updated_hint],
            )?;
            Pushed::Again
        }
        // Waiting (maybe backing off after a failure): news makes it due now, and
        // its time becomes the latest naming's, so a fetch made before this news
        // (by another process) does not count as fresh enough.
        Some(false) => {
            tx.execute(
                "UPDATE queue SET not_before_ms = 0, source = ?2, enqueued_ms = ?3,
                       updated_hint = COALESCE(?4, updated_hint)
                     WHERE issue_key = ?1",
                params![key, source, now, updated_hint],
            )?;
            Pushed::Coalesced
        }
    };
    Ok(pushed)
}

/// The daemon's durable queue: one row per key, so a key named by several triggers is queued
/// once; a key named while it is processed is marked to run again afterwards.
impl State {
    /// Queues `key` for `source`. `updated_hint` is the issue's `updated` as the trigger saw
    /// it (a sweep listing), `None` when unknown (mail, webhook, manual): a parked key is
    /// queued again only when the hint differs from the `updated` it was parked at.
    pub(crate) fn queue_push(
        &self,
        key: &str,
        source: &str,
        updated_hint: Option<i64>,
    ) -> Result<Pushed> {
        let now = now_ms();
        self.with(|c| {
            let tx = c.transaction()?;
            let pushed = queue_push_in(&tx, key, source, updated_hint, now)?;
            tx.commit()?;
            Ok(pushed)
        })
    }

    /// Queues every one of `keys` for `source` (no `updated` hint) in one transaction: what
    /// one mail names is handed over at once, with one sync to disk however many it names.
    pub(crate) fn queue_push_all(&self, keys: &[String], source: &str) -> Result<Vec<Pushed>> {
        let now = now_ms();
        self.with(|c| {
            let tx = c.transaction()?;
            let pushed = keys
                .iter()
                .map(|key| queue_push_in(&tx, key, source, None, now))
                .collect::<rusqlite::Result<Vec<_>>>()?;
            tx.commit()?;
            Ok(pushed)
        })
    }

    /// Takes the next due key (oldest first) and marks it running.
    pub(crate) fn queue_take(&self) -> Result<Option<QueueItem>> {
        self.take_next("")
    }

    /// Takes the next due `id:<id>` row (an issue id a trigger could not resolve to a key;
    /// oldest first) and marks it running, like [`State::queue_take`] for keys. The `mail`
    /// command resolves these itself after its pass, when no daemon may be running.
    pub(crate) fn queue_take_id(&self) -> Result<Option<QueueItem>> {
        self.take_next("AND issue_key LIKE 'id:%'")
    }

    /// Takes the next due row matching `and` (an SQL condition on `queue`, or nothing) and
    /// marks it running.
    fn take_next(&self, and: &str) -> Result<Option<QueueItem>> {
        let now = now_ms();
        let query = format!(
            "SELECT issue_key, source, enqueued_ms FROM queue
             WHERE running = 0 AND not_before_ms <= ?1 {and}
             ORDER BY not_before_ms, enqueued_ms, issue_key LIMIT 1"
        );
        self.with(|c| {
            let tx = c.transaction()?;
            let item = tx
                .query_row(&query, [now], |r| {
                    Ok(QueueItem {
                        issue_key: r.get(0)?,
                        source: r.get(1)?,
                        enqueued_ms: r.get(2)?,
                    })
                })
                .optional()?;
            if let Some(item) = &item {
                tx.execute(
                    "UPDATE queue SET running = 1, again = 0 WHERE issue_key = ?1",
                    [&item.issue_key],
                )?;
            }
            tx.commit()?;
            Ok(item)
        })
    }

    /// Gives a taken row back unprocessed (due again at once): the taker stopped on a fatal
    /// error.
    pub(crate) fn queue_release(&self, key: &str) -> Result<()> {
        self.with(|c| {
            c.execute("UPDATE queue SET running = 0 WHERE issue_key = ?1", [key])
                .map(drop)
        })
    }

    /// The key is done: removed, unless it was named again meanwhile (then it waits again).
    pub(crate) fn queue_done(&self, key: &str) -> Result<()> {
        self.with(|c| {
            let tx = c.transaction()?;
            tx.execute(
                "DELETE FROM queue WHERE issue_key = ?1 AND again = 0",
                [key],
            )?;
            tx.execute(
                "UPDATE queue SET running = 0, again = 0, not_before_ms = 0 WHERE issue_key = ?1",
                [key],
            )?;
            tx.commit()
        })
    }

    /// The key failed: the failure is recorded (counting an attempt when `counts`), and the
    /// key waits `retry_in_ms(attempts)` milliseconds (given its counted attempts so far), or
    /// is parked (out of the queue, listed by `status`) once it has failed `max_attempts`
    /// counted times. Returns true when parked.
    pub(crate) fn queue_failed(
        &self,
        key: &str,
        error: &str,
        counts: bool,
        max_attempts: i64,
        retry_in_ms: impl Fn(i64) -> i64,
    ) -> Result<bool> {
        let now = now_ms();
        self.with(|c| {
            let tx = c.transaction()?;
            let attempts = upsert_failure(&tx, key, error, counts)?;
            let again: bool = tx
                .query_row("SELECT again FROM queue WHERE issue_key = ?1", [key], |r| {
                    r.get(0)
                })
                .optional()?
                .unwrap_or(false);
            let parked = attempts >= max_attempts && !again;
            if parked {
                let hint: Option<i64> = tx
                    .query_row(
                        "SELECT updated_hint FROM queue WHERE issue_key = ?1",
                        [key],
                        |r| r.get(0),
                    )
                    .optional()?
                    .flatten();
                park(&tx, key, hint)?;
                tx.execute("DELETE FROM queue WHERE issue_key = ?1", [key])?;
            } else {
                tx.execute(
                    "UPDATE queue SET running = 0, again = 0, not_before_ms = ?2
                     WHERE issue_key = ?1",
                    params![
                        key,
                        if again {
                            0
                        } else {
                            now.saturating_add(retry_in_ms(attempts))
                        }
                    ],
                )?;
            }
            tx.commit()?;
            Ok(parked)
        })
    }

    /// Queues (source `retry`) every recorded failure that is not in the queue: those another
    /// command recorded, and each parked key that has not had its one retry since it was
    /// parked (that retry is marked made; the key stays parked meanwhile, so if it fails it
    /// is parked again at once, with no further retries until it changes). The daemon's own
    /// failures not parked are in the queue already, waiting for their backoff. Returns the
    /// keys queued.
    pub(crate) fn queue_retry_failures(&self) -> Result<Vec<String>> {
        let now = now_ms();
        self.with(|c| {
            let tx = c.transaction()?;
            let keys: Vec<String> = {
                let mut stmt = tx.prepare(
                    "SELECT issue_key FROM failures
                     WHERE (parked_ms IS NULL OR parked_retried = 0)
                       AND issue_key NOT IN (SELECT issue_key FROM queue)
                     ORDER BY first_failed_ms, issue_key",
                )?;
                stmt.query_map([], |r| r.get(0))?
                    .collect::<rusqlite::Result<_>>()?
            };
            for key in &keys {
                tx.execute(
                    "INSERT INTO queue (issue_key, source, enqueued_ms) VALUES (?1, 'retry', ?2)",
                    params![key, now],
                )?;
                tx.execute(
                    "UPDATE failures SET parked_retried = 1
                     WHERE issue_key = ?1 AND parked_ms IS NOT NULL",
                    [key],
                )?;
            }
            tx.commit()?;
            Ok(keys)
        })
    }

    /// After a restart nothing is running: every key taken before is due again.
    pub(crate) fn queue_recover(&self) -> Result<usize> {
        self.with(|c| c.execute("UPDATE queue SET running = 0 WHERE running = 1", []))
    }

    /// Makes every waiting key due now (Jira came back after an outage).
    pub(crate) fn queue_release_backoff(&self) -> Result<usize> {
        self.with(|c| {
            c.execute(
                "UPDATE queue SET not_before_ms = 0 WHERE running = 0 AND not_before_ms > 0",
                [],
            )
        })
    }

    /// Keys queued (waiting or running).
    pub fn queue_depth(&self) -> Result<i64> {
        self.with(|c| c.query_row("SELECT COUNT(*) FROM queue", [], |r| r.get(0)))
    }

    /// When the next waiting key is due (epoch ms), if any waits.
    pub(crate) fn queue_next_due(&self) -> Result<Option<i64>> {
        self.with(|c| {
            c.query_row(
                "SELECT MIN(not_before_ms) FROM queue WHERE running = 0",
                [],
                |r| r.get(0),
            )
        })
    }
}
