//! Command runs for `status` (kept [`RUNS_KEPT_DAYS`] days), backfill progress, and the
//! daemon's table writer problem.

use super::{Result, State};
use crate::time::now_ms;
use rusqlite::{OptionalExtension, params};

/// Days of `runs` history kept; the latest run of each command, and its latest successful
/// one, are kept whatever their age.
pub(crate) const RUNS_KEPT_DAYS: i64 = 90;

const TABLE_WRITER_PROBLEM: &str = "table_writer_problem";

/// The daemon's table writer is failing (see [`State::table_writer_problem`]): Parquet
/// output is behind while raw JSON keeps being saved; the writer retries with backoff.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct TableWriterProblem {
    /// The last error.
    pub error: String,
    /// When it started failing, epoch ms.
    pub since_ms: i64,
    /// Failed attempts since.
    pub attempts: u64,
}

/// Progress of the current (or last) backfill.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Backfill {
    /// The JQL it lists.
    pub jql: String,
    /// When it started, epoch ms (becomes the sweep watermark when it finishes).
    pub started_ms: i64,
    /// The token of the first page not yet finished (`None` before the second page).
    pub next_page_token: Option<String>,
    /// Pages finished.
    pub pages_done: i64,
    /// Issues saved by this backfill.
    pub issues_saved: i64,
    /// When it finished, if it did.
    pub finished_ms: Option<i64>,
}

/// One command run, for `status`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Run {
    /// The command (`sweep`, `backfill`, `fetch`).
    pub command: String,
    /// Start, epoch ms.
    pub started_ms: i64,
    /// End, epoch ms (`None` while running or when killed).
    pub finished_ms: Option<i64>,
    /// `ok`, `partial` (some issues failed) or `error: …`.
    pub outcome: Option<String>,
    /// Issues saved.
    pub issues_saved: i64,
    /// Issues that failed.
    pub issues_failed: i64,
    /// What the run counted, as its command reports it (e.g. poll-sla's updated, healed,
    /// skipped and failed), when recorded.
    pub detail: Option<serde_json::Value>,
}

impl State {
    /// Removes runs that finished more than `days` days before `now_ms`, except the latest
    /// run of each command and the latest successful one (what `status` shows). Returns the
    /// rows removed.
    pub(crate) fn prune_runs(&self, now_ms: i64, days: i64) -> Result<usize> {
        let before = now_ms - days.max(1) * 86_400_000;
        self.with(|c| {
            c.execute(
                "DELETE FROM runs WHERE finished_ms IS NOT NULL AND finished_ms < ?1
                   AND id NOT IN (SELECT max(id) FROM runs GROUP BY command)
                   AND id NOT IN (SELECT max(id) FROM runs WHERE outcome = 'ok' GROUP BY command)",
                [before],
            )
        })
    }

    /// Records that the daemon's table writer is failing (`error`, since `since_ms`, after
    /// `attempts` tries), for `status` and the health endpoint.
    pub(crate) fn set_table_writer_problem(&self, problem: &TableWriterProblem) -> Result<()> {
        let json = serde_json::to_string(problem).unwrap_or_default();
        self.set_meta(TABLE_WRITER_PROBLEM, &json)
    }

    /// The table writer works again.
    pub(crate) fn clear_table_writer_problem(&self) -> Result<()> {
        self.clear_meta(TABLE_WRITER_PROBLEM)
    }

    /// The daemon's table writer's current problem, if it is failing.
    pub(crate) fn table_writer_problem(&self) -> Result<Option<TableWriterProblem>> {
        Ok(self
            .meta(TABLE_WRITER_PROBLEM)?
            .and_then(|(json, _)| serde_json::from_str(&json).ok()))
    }

    /// The backfill in progress or last finished, if any.
    pub fn backfill(&self) -> Result<Option<Backfill>> {
        self.with(|c| {
            c.query_row(
                "SELECT jql, started_ms, next_page_token, pages_done, issues_saved, finished_ms
                 FROM backfill WHERE id = 1",
                [],
                |r| {
                    Ok(Backfill {
                        jql: r.get(0)?,
                        started_ms: r.get(1)?,
                        next_page_token: r.get(2)?,
                        pages_done: r.get(3)?,
                        issues_saved: r.get(4)?,
                        finished_ms: r.get(5)?,
                    })
                },
            )
            .optional()
        })
    }

    /// Starts a new backfill of `jql`, replacing any previous record.
    pub(crate) fn start_backfill(&self, jql: &str, started_ms: i64) -> Result<()> {
        self.with(|c| {
            c.execute(
                "INSERT OR REPLACE INTO backfill (id, jql, started_ms) VALUES (1, ?1, ?2)",
                params![jql, started_ms],
            )
            .map(drop)
        })
    }

    /// Marks one more page finished; `next_page_token` is where a resumed backfill starts.
    pub(crate) fn backfill_page_done(
        &self,
        next_page_token: Option<&str>,
        saved: i64,
    ) -> Result<()> {
        self.with(|c| {
            c.execute(
                "UPDATE backfill SET next_page_token = ?1, pages_done = pages_done + 1,
                   issues_saved = issues_saved + ?2 WHERE id = 1",
                params![next_page_token, saved],
            )
            .map(drop)
        })
    }

    /// Marks the backfill finished.
    pub(crate) fn finish_backfill(&self) -> Result<()> {
        self.with(|c| {
            c.execute(
                "UPDATE backfill SET finished_ms = ?1, next_page_token = NULL WHERE id = 1",
                [now_ms()],
            )
            .map(drop)
        })
    }

    /// Records the start of a command run; returns its id.
    pub(crate) fn start_run(&self, command: &str) -> Result<i64> {
        self.with(|c| {
            c.execute(
                "INSERT INTO runs (command, started_ms) VALUES (?1, ?2)",
                params![command, now_ms()],
            )?;
            Ok(c.last_insert_rowid())
        })
    }

    /// Records how a run ended.
    pub(crate) fn finish_run(&self, id: i64, outcome: &str, saved: i64, failed: i64) -> Result<()> {
        self.with(|c| {
            c.execute(
                "UPDATE runs SET finished_ms = ?1, outcome = ?2, issues_saved = ?3,
                   issues_failed = ?4 WHERE id = ?5",
                params![now_ms(), outcome, saved, failed, id],
            )
            .map(drop)
        })
    }

    /// [`State::finish_run`] with what the run counted (JSON), in the same write.
    pub(crate) fn finish_run_with_detail(
        &self,
        id: i64,
        outcome: &str,
        saved: i64,
        failed: i64,
        detail: &serde_json::Value,
    ) -> Result<()> {
        self.with(|c| {
            c.execute(
                "UPDATE runs SET finished_ms = ?1, outcome = ?2, issues_saved = ?3,
                   issues_failed = ?4, detail = ?5 WHERE id = ?6",
                params![now_ms(), outcome, saved, failed, detail.to_string(), id],
            )
            .map(drop)
        })
    }

    /// The latest run of each command.
    pub(crate) fn last_runs(&self) -> Result<Vec<Run>> {
        self.with(|c| {
            let mut stmt = c.prepare(
                "SELECT command, started_ms, finished_ms, outcome, issues_saved, issues_failed,
                   detail
                 FROM runs WHERE id IN (SELECT max(id) FROM runs GROUP BY command)
                 ORDER BY command",
            )?;
            stmt.query_map([], |r| {
                let detail: Option<String> = r.get(6)?;
                Ok(Run {
                    command: r.get(0)?,
                    started_ms: r.get(1)?,
                    finished_ms: r.get(2)?,
                    outcome: r.get(3)?,
                    issues_saved: r.get(4)?,
                    issues_failed: r.get(5)?,
                    detail: detail.and_then(|d| serde_json::from_str(&d).ok()),
                })
            })?
            .collect()
        })
    }

    /// For each command, when its latest successful run (outcome `ok`) finished, epoch ms.
    pub fn last_successes(&self) -> Result<Vec<(String, i64)>> {
        self.with(|c| {
            let mut stmt = c.prepare(
                "SELECT command, max(finished_ms) FROM runs
                 WHERE outcome = 'ok' AND finished_ms IS NOT NULL
                 GROUP BY command ORDER BY command",
            )?;
            stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
                .collect()
        })
    }
}
