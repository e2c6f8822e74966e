//! Saved issues: what each looked like when saved, failures with attempt counts, months
//! whose rows are pending, and the sweep watermark.

use super::{Result, State};
use crate::time::now_ms;
use rusqlite::{OptionalExtension, params};

const WATERMARK: &str = "sweep_watermark_ms";

/// The saved form of one issue, as the state remembers it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SavedIssue {
    /// Jira's numeric issue id (stable across moves).
    pub issue_id: i64,
    /// The key it was saved under.
    pub issue_key: String,
    /// Its `updated` field, epoch ms.
    pub updated_ms: i64,
}

/// What the state keeps of a saved issue besides its identity (see [`State::record_saved_with`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IssueDetails {
    /// `fields.created`, epoch ms.
    pub created_ms: Option<i64>,
    /// `fields.status.statusCategory.key` (`new`, `indeterminate`, `done`).
    pub status_category: Option<String>,
    /// Whether the saved issue carries SLA data (JSM).
    pub has_sla: bool,
    /// When the fetch that saved it started, epoch ms.
    pub fetched_ms: Option<i64>,
    /// Saved without some part Jira refused: its failure record is kept (and counted by the
    /// caller), so it is fetched again and parked if it never completes.
    pub incomplete: bool,
}

/// A recorded failure.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Failure {
    /// The issue key.
    pub issue_key: String,
    /// How many times it failed in a row.
    pub attempts: i64,
    /// The last error message.
    pub last_error: String,
    /// When it last failed, epoch ms.
    pub last_failed_ms: i64,
    /// When the daemon stopped retrying it (parked), epoch ms; it is retried when it changes.
    pub parked_ms: Option<i64>,
}

/// An issue whose rows in one month are not yet written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pending {
    /// The issue key.
    pub issue_key: String,
    /// The month, `YYYY-MM`.
    pub month: String,
    /// Changes every time it is marked.
    pub seq: i64,
}

/// An issue `poll-sla` looks at (see [`State::sla_poll_candidates`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SlaCandidate {
    /// Its identity and `updated` as saved.
    pub issue: SavedIssue,
    /// `new` or `indeterminate` (or `done`, for `--all`); `None` when not known yet.
    pub status_category: Option<String>,
}

impl State {
    /// The sweep watermark, epoch ms: every issue updated before it is in the mirror.
    pub fn watermark(&self) -> Result<Option<i64>> {
        self.with(|c| {
            c.query_row("SELECT value FROM meta WHERE name = ?1", [WATERMARK], |r| {
                r.get::<_, String>(0)
            })
            .optional()
            .map(|v| v.and_then(|v| v.parse().ok()))
        })
    }

    /// Moves the watermark forward to `ms` (never backwards).
    pub(crate) fn advance_watermark(&self, ms: i64) -> Result<()> {
        self.with(|c| {
            c.execute(
                "INSERT INTO meta (name, value) VALUES (?1, ?2)
                 ON CONFLICT (name) DO UPDATE SET value = excluded.value
                 WHERE CAST(meta.value AS INTEGER) < CAST(excluded.value AS INTEGER)",
                params![WATERMARK, ms.to_string()],
            )
            .map(drop)
        })
    }

    /// The saved issue with this id, if any.
    pub(crate) fn issue_by_id(&self, issue_id: i64) -> Result<Option<SavedIssue>> {
        self.with(|c| {
            c.query_row(
                "SELECT issue_id, issue_key, updated_ms FROM issues WHERE issue_id = ?1",
                [issue_id],
                saved_issue,
            )
            .optional()
        })
    }

    /// When the fetch that last saved `key` started (epoch ms), if known.
    pub(crate) fn fetched_ms(&self, key: &str) -> Result<Option<i64>> {
        self.with(|c| {
            c.query_row(
                "SELECT fetched_ms FROM issues WHERE issue_key = ?1",
                [key],
                |r| r.get::<_, Option<i64>>(0),
            )
            .optional()
            .map(Option::flatten)
        })
    }

    /// The saved issue with this key, if any.
    pub(crate) fn issue_by_key(&self, key: &str) -> Result<Option<SavedIssue>> {
        self.with(|c| {
            c.query_row(
                "SELECT issue_id, issue_key, updated_ms FROM issues WHERE issue_key = ?1",
                [key],
                saved_issue,
            )
            .optional()
        })
    }

    /// Records that the issue is saved (replacing any row with its id or key) and clears
    /// its failure record.
    pub fn record_saved(&self, issue: &SavedIssue, created_ms: Option<i64>) -> Result<()> {
        self.record_saved_with(
            issue,
            &IssueDetails {
                created_ms,
                ..IssueDetails::default()
            },
        )
    }

    /// [`State::record_saved`] with everything the pipeline knows of the issue.
    pub(crate) fn record_saved_with(
        &self,
        issue: &SavedIssue,
        details: &IssueDetails,
    ) -> Result<()> {
        self.with(|c| {
            let tx = c.transaction()?;
            tx.execute(
                "DELETE FROM issues WHERE issue_key = ?1 AND issue_id <> ?2",
                params![issue.issue_key, issue.issue_id],
            )?;
            tx.execute(
                "INSERT INTO issues (issue_id, issue_key, updated_ms, created_ms, saved_at_ms,
                   status_category, has_sla, fetched_ms)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)
                 ON CONFLICT (issue_id) DO UPDATE SET issue_key = excluded.issue_key,
                   updated_ms = excluded.updated_ms, created_ms = excluded.created_ms,
                   saved_at_ms = excluded.saved_at_ms, status_category = excluded.status_category,
                   has_sla = excluded.has_sla, fetched_ms = excluded.fetched_ms",
                params![
                    issue.issue_id,
                    issue.issue_key,
                    issue.updated_ms,
                    details.created_ms,
                    now_ms(),
                    details.status_category,
                    details.has_sla,
                    details.fetched_ms,
                ],
            )?;
            if !details.incomplete {
                tx.execute(
                    "DELETE FROM failures WHERE issue_key = ?1",
                    [&issue.issue_key],
                )?;
            }
            tx.commit()
        })
    }

    /// Forgets an issue deleted upstream (and its failure record).
    pub(crate) fn record_deleted(&self, key: &str) -> Result<()> {
        self.with(|c| {
            c.execute("DELETE FROM issues WHERE issue_key = ?1", [key])?;
            c.execute("DELETE FROM failures WHERE issue_key = ?1", [key])
                .map(drop)
        })
    }

    /// Counts one more failure of `key` (never parks it; see [`State::note_failure`]).
    pub(crate) fn record_failure(&self, key: &str, error: &str) -> Result<()> {
        self.note_failure(key, error, true, i64::MAX).map(drop)
    }

    /// Records a failure of `key` with its reason, counting an attempt when `counts` (a
    /// failure of the issue's own data or permissions; not Jira failing), and parks the key
    /// once it has failed `max_attempts` counted times. Returns true when it is parked.
    pub(crate) fn note_failure(
        &self,
        key: &str,
        error: &str,
        counts: bool,
        max_attempts: i64,
    ) -> Result<bool> {
        self.with(|c| {
            let tx = c.transaction()?;
            let attempts = upsert_failure(&tx, key, error, counts)?;
            let parked = attempts >= max_attempts;
            if parked {
                park(&tx, key, None)?;
            }
            tx.commit()?;
            Ok(parked)
        })
    }

    /// Keys a sweep retries before listing: every failure not parked, and each parked key
    /// that has not had its one retry since it was parked (oldest failure first).
    pub(crate) fn failures_to_retry(&self) -> Result<Vec<String>> {
        self.with(|c| {
            let mut stmt = c.prepare(
                "SELECT issue_key FROM failures WHERE parked_ms IS NULL OR parked_retried = 0
                 ORDER BY first_failed_ms, issue_key",
            )?;
            stmt.query_map([], |r| r.get(0))?.collect()
        })
    }

    /// Marks the parked keys among `keys` as retried (their one retry after parking is
    /// being made now), so a crash during it does not make them retried over and over.
    pub(crate) fn mark_parked_retried(&self, keys: &[String]) -> Result<()> {
        self.with(|c| {
            let tx = c.transaction()?;
            for key in keys {
                tx.execute(
                    "UPDATE failures SET parked_retried = 1
                     WHERE issue_key = ?1 AND parked_ms IS NOT NULL",
                    [key],
                )?;
            }
            tx.commit()
        })
    }

    /// Issues with a failure record, and how many of them are parked.
    pub fn failure_counts(&self) -> Result<(i64, i64)> {
        self.with(|c| {
            c.query_row("SELECT count(*), count(parked_ms) FROM failures", [], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })
        })
    }

    /// Every recorded failure, oldest first.
    pub fn failures(&self) -> Result<Vec<Failure>> {
        self.with(|c| {
            let mut stmt = c.prepare(
                "SELECT issue_key, attempts, last_error, last_failed_ms, parked_ms FROM failures
                 ORDER BY first_failed_ms, issue_key",
            )?;
            stmt.query_map([], |r| {
                Ok(Failure {
                    issue_key: r.get(0)?,
                    attempts: r.get(1)?,
                    last_error: r.get(2)?,
                    last_failed_ms: r.get(3)?,
                    parked_ms: r.get(4)?,
                })
            })?
            .collect()
        })
    }

    /// Records that `key`'s rows in month `month` (`YYYY-MM`) must be rewritten.
    pub(crate) fn mark_pending(&self, key: &str, month: &str) -> Result<()> {
        self.with(|c| {
            c.execute(
                "INSERT INTO pending_rows (issue_key, month, seq) VALUES (?1, ?2, 1)
                 ON CONFLICT (issue_key, month) DO UPDATE SET seq = seq + 1",
                params![key, month],
            )
            .map(drop)
        })
    }

    /// Every pending `(key, month, seq)`.
    pub fn pending(&self) -> Result<Vec<Pending>> {
        self.with(|c| {
            let mut stmt = c.prepare(
                "SELECT issue_key, month, seq FROM pending_rows ORDER BY month, issue_key",
            )?;
            stmt.query_map([], |r| {
                Ok(Pending {
                    issue_key: r.get(0)?,
                    month: r.get(1)?,
                    seq: r.get(2)?,
                })
            })?
            .collect()
        })
    }

    /// Clears pending rows that were applied, unless they were marked again since.
    pub(crate) fn clear_pending(&self, applied: &[Pending]) -> Result<()> {
        self.with(|c| {
            let tx = c.transaction()?;
            {
                let mut stmt = tx.prepare(
                    "DELETE FROM pending_rows WHERE issue_key = ?1 AND month = ?2 AND seq = ?3",
                )?;
                for p in applied {
                    stmt.execute(params![p.issue_key, p.month, p.seq])?;
                }
            }
            tx.commit()
        })
    }

    /// Keys of the saved issues created in `[start_ms, end_ms)`, sorted.
    pub(crate) fn keys_created_between(&self, start_ms: i64, end_ms: i64) -> Result<Vec<String>> {
        self.with(|c| {
            let mut stmt = c.prepare(
                "SELECT issue_key FROM issues WHERE created_ms >= ?1 AND created_ms < ?2
                 ORDER BY issue_key",
            )?;
            stmt.query_map([start_ms, end_ms], |r| r.get(0))?.collect()
        })
    }

    /// Every saved issue's key and creation time (epoch ms, if known).
    pub(crate) fn keys_and_created(&self) -> Result<Vec<(String, Option<i64>)>> {
        self.with(|c| {
            let mut stmt =
                c.prepare("SELECT issue_key, created_ms FROM issues ORDER BY issue_key")?;
            stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
                .collect()
        })
    }

    /// The creation time of a saved issue, epoch ms.
    pub(crate) fn created_ms(&self, key: &str) -> Result<Option<i64>> {
        self.with(|c| {
            c.query_row(
                "SELECT created_ms FROM issues WHERE issue_key = ?1",
                [key],
                |r| r.get(0),
            )
            .optional()
            .map(Option::flatten)
        })
    }

    /// The saved issue key of a Jira issue id, if any.
    pub(crate) fn key_of_id(&self, issue_id: i64) -> Result<Option<String>> {
        Ok(self.issue_by_id(issue_id)?.map(|i| i.issue_key))
    }

    /// Number of issues in the mirror.
    pub fn issue_count(&self) -> Result<i64> {
        self.with(|c| c.query_row("SELECT count(*) FROM issues", [], |r| r.get(0)))
    }

    /// Every saved issue's Jira id and key, by id (what `reconcile` compares with Jira's
    /// id census).
    pub fn issue_ids(&self) -> Result<Vec<(i64, String)>> {
        self.with(|c| {
            let mut stmt = c.prepare("SELECT issue_id, issue_key FROM issues ORDER BY issue_id")?;
            stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
                .collect()
        })
    }

    /// The issues `poll-sla` looks at: open (status category not `done`) with SLA data, plus
    /// every issue saved before schema 4, whose status is not known yet (`status_category`
    /// `None`), by key.
    /// With `all`, every saved issue (`poll-sla --all`).
    pub(crate) fn sla_poll_candidates(&self, all: bool) -> Result<Vec<SlaCandidate>> {
        self.with(|c| {
            let mut stmt = c.prepare(
                "SELECT issue_id, issue_key, updated_ms, status_category FROM issues
                 WHERE ?1 OR status_category IS NULL
                    OR (status_category <> 'done' AND has_sla <> 0)
                 ORDER BY issue_key",
            )?;
            stmt.query_map([all], |r| {
                Ok(SlaCandidate {
                    issue: saved_issue(r)?,
                    status_category: r.get(3)?,
                })
            })?
            .collect()
        })
    }

    /// Records a saved issue's status category and whether it has SLA data (the rest of its
    /// row is kept); false when no issue has this key.
    pub(crate) fn set_issue_status(
        &self,
        key: &str,
        status_category: Option<&str>,
        has_sla: bool,
    ) -> Result<bool> {
        self.with(|c| {
            c.execute(
                "UPDATE issues SET status_category = ?2, has_sla = ?3 WHERE issue_key = ?1",
                params![key, status_category, has_sla],
            )
            .map(|n| n > 0)
        })
    }
}

/// Inserts or updates `key`'s failure record (one more attempt when `counts`); returns its
/// counted attempts.
pub(super) fn upsert_failure(
    tx: &rusqlite::Transaction<'_>,
    key: &str,
    error: &str,
    counts: bool,
) -> rusqlite::Result<i64> {
    tx.execute(
        "INSERT INTO failures (issue_key, attempts, last_error, first_failed_ms, last_failed_ms)
         VALUES (?1, ?2, ?3, ?4, ?4)
         ON CONFLICT (issue_key) DO UPDATE SET attempts = attempts + ?2,
           last_error = excluded.last_error, last_failed_ms = excluded.last_failed_ms",
        params![key, i64::from(counts), error, now_ms()],
    )?;
    tx.query_row(
        "SELECT attempts FROM failures WHERE issue_key = ?1",
        [key],
        |r| r.get(0),
    )
}

/// Parks `key` (its failure record exists) at `updated_hint`. Parked anew, it is owed one
/// retry by a later sweep; parked again (that retry failed), it is not.
pub(super) fn park(
    tx: &rusqlite::Transaction<'_>,
    key: &str,
    updated_hint: Option<i64>,
) -> rusqlite::Result<()> {
    tx.execute(
        "UPDATE failures SET parked_retried = (parked_ms IS NOT NULL), parked_ms = ?2,
           parked_updated_ms = COALESCE(?3, parked_updated_ms)
         WHERE issue_key = ?1",
        params![key, now_ms(), updated_hint],
    )
    .map(drop)
}

fn saved_issue(r: &rusqlite::Row<'_>) -> rusqlite::Result<SavedIssue> {
    Ok(SavedIssue {
        issue_id: r.get(0)?,
        issue_key: r.get(1)?,
        updated_ms: r.get(2)?,
    })
}
