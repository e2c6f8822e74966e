//! The state database (`state.db`, SQLite via rusqlite): the sweep watermark, what each issue
//! looked like when it was saved, failures with attempt counts, backfill progress and runs.
//!
//! It is the memory that makes commands resumable and idempotent: a backfill killed with
//! `kill -9` resumes from its last finished page and skips issues already saved at the same
//! `updated`; a sweep only moves the watermark after every issue it saw is saved. Times are
//! epoch milliseconds (UTC), never local minute-precision strings.
//!
//! Schema changes are migrations keyed by SQLite's `user_version`; the connection runs in
//! WAL mode with `synchronous = FULL`, so a committed transaction survives a crash.

use crate::time::now_ms;
use std::path::Path;
use std::sync::Mutex;

use rusqlite::{Connection, OptionalExtension, params};

/// Errors of the state database.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// SQLite failed.
    #[error("state database: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// The file was written by a newer jira-mirror.
    #[error("state database schema version {found} is newer than this jira-mirror knows ({known})")]
    TooNew {
        /// Version in the file.
        found: i64,
        /// Latest version this build knows.
        known: i64,
    },
}

/// Result alias for state operations.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Each entry moves the schema from version `index` to `index + 1`.
const MIGRATIONS: &[&str] = &[
    r#"
    CREATE TABLE meta (
        name  TEXT PRIMARY KEY,
        value TEXT NOT NULL
    );
    CREATE TABLE issues (
        issue_id    INTEGER PRIMARY KEY,
        issue_key   TEXT NOT NULL UNIQUE,
        updated_ms  INTEGER NOT NULL,
        created_ms  INTEGER,
        saved_at_ms INTEGER NOT NULL
    );
    CREATE TABLE failures (
        issue_key      TEXT PRIMARY KEY,
        attempts       INTEGER NOT NULL,
        last_error     TEXT NOT NULL,
        first_failed_ms INTEGER NOT NULL,
        last_failed_ms INTEGER NOT NULL
    );
    CREATE TABLE backfill (
        id              INTEGER PRIMARY KEY CHECK (id = 1),
        jql             TEXT NOT NULL,
        started_ms      INTEGER NOT NULL,
        next_page_token TEXT,
        pages_done      INTEGER NOT NULL DEFAULT 0,
        issues_saved    INTEGER NOT NULL DEFAULT 0,
        finished_ms     INTEGER
    );
    CREATE TABLE runs (
        id            INTEGER PRIMARY KEY AUTOINCREMENT,
        command       TEXT NOT NULL,
        started_ms    INTEGER NOT NULL,
        finished_ms   INTEGER,
        outcome       TEXT,
        issues_saved  INTEGER NOT NULL DEFAULT 0,
        issues_failed INTEGER NOT NULL DEFAULT 0,
        detail        TEXT
    );
"#,
    // 2: issues whose Parquet rows are not yet written (saved, moved or deleted), so a crash
    // between the raw save and the upsert is repaired at the next start. `seq` changes on
    // every mark, so a row re-marked while its change is applied is not cleared by mistake.
    r#"
    CREATE TABLE pending_rows (
        issue_key TEXT NOT NULL,
        month     TEXT NOT NULL,
        seq       INTEGER NOT NULL,
        PRIMARY KEY (issue_key, month)
    );
    CREATE INDEX issues_created ON issues (created_ms);
"#,
    // 3: the mailbox trigger: per mailbox, the UIDVALIDITY and the highest UID below which
    // every mail was handled; mail rejected and left unseen, so it is not examined again.
    r#"
    CREATE TABLE mail_cursor (
        mailbox      TEXT PRIMARY KEY,
        uid_validity INTEGER NOT NULL,
        last_uid     INTEGER NOT NULL
    );
    CREATE TABLE mail_rejected (
        mailbox      TEXT NOT NULL,
        uid_validity INTEGER NOT NULL,
        uid          INTEGER NOT NULL,
        reason       TEXT NOT NULL,
        at_ms        INTEGER NOT NULL,
        PRIMARY KEY (mailbox, uid_validity, uid)
    );
"#,
    // 4: the daemon. `queue` holds every key a trigger handed over and not yet processed
    // (durable, one row per key: coalescing). `running` marks keys being processed; `again`
    // says a trigger named the key meanwhile, so it is processed once more afterwards.
    // Failures can be parked (`parked_ms`) with the `updated` they failed at. `issues` learns
    // what SLA polling needs (status category, whether SLA data exists) and when the fetch
    // that saved it started (`fetched_ms`), so a queued key already fetched since it was
    // queued (by another process) is not fetched twice.
    r#"
    CREATE TABLE queue (
        issue_key     TEXT PRIMARY KEY,
        source        TEXT NOT NULL,
        enqueued_ms   INTEGER NOT NULL,
        not_before_ms INTEGER NOT NULL DEFAULT 0,
        running       INTEGER NOT NULL DEFAULT 0,
        again         INTEGER NOT NULL DEFAULT 0,
        updated_hint  INTEGER
    );
    CREATE INDEX queue_next ON queue (running, not_before_ms, enqueued_ms);
    ALTER TABLE failures ADD COLUMN parked_ms INTEGER;
    ALTER TABLE failures ADD COLUMN parked_updated_ms INTEGER;
    ALTER TABLE issues ADD COLUMN status_category TEXT;
    ALTER TABLE issues ADD COLUMN has_sla INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE issues ADD COLUMN fetched_ms INTEGER;
"#,
    // 5: the webhook receiver: the `X-Atlassian-Webhook-Identifier` of every delivery it
    // acknowledged (stable across Jira's retries), so a retried delivery is not queued again;
    // pruned after `[webhook] retention_days`.
    r#"
    CREATE TABLE webhook_deliveries (
        identifier  TEXT PRIMARY KEY,
        received_ms INTEGER NOT NULL
    );
    CREATE INDEX webhook_deliveries_received ON webhook_deliveries (received_ms);
"#,
    // 6: every command parks a key after `[run] max_attempts` counted failures (not only the
    // daemon), and a later sweep gives each parked key one more try: `parked_retried` says
    // that try was made (it is reset when the key is parked anew).
    r#"
    ALTER TABLE failures ADD COLUMN parked_retried INTEGER NOT NULL DEFAULT 0;
"#,
    // 7: the mailbox trigger's retry set: per mailbox and UIDVALIDITY, each mail whose issues
    // failed, with its counted attempts, last error and when it is tried again. The cursor
    // no longer waits for such a mail; a mail given up moves to `mail_rejected`.
    r#"
    CREATE TABLE mail_retry (
        mailbox         TEXT NOT NULL,
        uid_validity    INTEGER NOT NULL,
        uid             INTEGER NOT NULL,
        message_id      TEXT,
        attempts        INTEGER NOT NULL,
        last_error      TEXT NOT NULL,
        first_failed_ms INTEGER NOT NULL,
        last_failed_ms  INTEGER NOT NULL,
        next_try_ms     INTEGER NOT NULL,
        PRIMARY KEY (mailbox, uid_validity, uid)
    );
"#,
    // 8: `status` and the health endpoint read the latest run of each command; the daemon
    // records one per sweep (every minute by default), so `runs` is indexed and pruned
    // (`State::prune_runs`).
    r#"
    CREATE INDEX runs_command ON runs (command, id);
    CREATE INDEX runs_command_ok ON runs (command, finished_ms) WHERE outcome = 'ok';
"#,
    // 9: `has_sla` also counts SLA custom fields in the issue (without a JSM account they are
    // the only SLA source `poll-sla` can refresh): open issues recorded without SLA data are
    // classified again from their saved JSON at the next poll.
    r#"
    UPDATE issues SET status_category = NULL
     WHERE has_sla = 0 AND status_category IS NOT NULL AND status_category <> 'done';
"#,
];

/// Days of `runs` history kept; the latest run of each command, and its latest successful
/// one, are kept whatever their age.
pub const RUNS_KEPT_DAYS: i64 = 90;

const WATERMARK: &str = "sweep_watermark_ms";
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

/// A mail in the mailbox trigger's retry set (see [`State::mail_retries`]).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct MailRetry {
    /// Its UID (under the UIDVALIDITY it was recorded with).
    pub uid: u32,
    /// Its `Message-ID`, as the notification gave it.
    pub message_id: Option<String>,
    /// Counted failed attempts (a failure caused by Jira failing is not counted).
    pub attempts: i64,
    /// The last error.
    pub last_error: String,
    /// When it is tried again, epoch ms.
    pub next_try_ms: i64,
}

/// An issue `poll-sla` looks at (see [`State::sla_poll_candidates`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SlaCandidate {
    /// Its identity and `updated` as saved.
    pub issue: SavedIssue,
    /// `new` or `indeterminate` (or `done`, for `--all`); `None` when not known yet.
    pub status_category: Option<String>,
}

/// The state database. Calls are short transactions behind a mutex.
#[derive(Debug)]
pub struct State {
    conn: Mutex<Connection>,
}

impl State {
    /// Opens (creating if needed) the database at `path` and migrates it.
    pub fn open(path: &Path) -> Result<State> {
        let conn = Connection::open(path)?;
        Self::init(conn)
    }

    /// An in-memory database, for tests.
    pub fn open_in_memory() -> Result<State> {
        Self::init(Connection::open_in_memory()?)
    }

    fn init(mut conn: Connection) -> Result<State> {
        conn.busy_timeout(std::time::Duration::from_secs(30))?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "FULL")?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        // Every transaction takes the write lock when it begins. A deferred one that reads,
        // then writes, fails at once with "database is locked" (no busy wait) when another
        // process (`fetch` beside `run`) wrote in between; an immediate one waits its turn.
        conn.set_transaction_behavior(rusqlite::TransactionBehavior::Immediate);
        let version: i64 = conn.pragma_query_value(None, "user_version", |r| r.get(0))?;
        let known = MIGRATIONS.len() as i64;
        if version > known {
            return Err(Error::TooNew {
                found: version,
                known,
            });
        }
        for (i, sql) in MIGRATIONS.iter().enumerate().skip(version as usize) {
            let tx = conn.transaction()?;
            tx.execute_batch(sql)?;
            tx.pragma_update(None, "user_version", (i + 1) as i64)?;
            tx.commit()?;
        }
        Ok(State {
            conn: Mutex::new(conn),
        })
    }

    /// Runs `f` on the connection. Each call is a short transaction, but one may wait for
    /// the disk (`synchronous = FULL`) or for another process's lock (up to the busy
    /// timeout), so on a multi-threaded tokio runtime it runs under `block_in_place`: the
    /// worker thread's other tasks move to another thread meanwhile instead of stalling
    /// behind SQLite.
    fn with<T>(&self, f: impl FnOnce(&mut Connection) -> rusqlite::Result<T>) -> Result<T> {
        let run = || {
            let mut conn = self.conn.lock().unwrap_or_else(|p| p.into_inner());
            Ok(f(&mut conn)?)
        };
        match tokio::runtime::Handle::try_current() {
            Ok(h) if h.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread => {
                tokio::task::block_in_place(run)
            }
            _ => run(),
        }
    }

    /// Removes runs that finished more than `days` days before `now_ms`, except the latest
    /// run of each command and the latest successful one (what `status` shows). Returns the
    /// rows removed.
    pub fn prune_runs(&self, now_ms: i64, days: i64) -> Result<usize> {
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
    pub fn advance_watermark(&self, ms: i64) -> Result<()> {
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
    pub fn issue_by_id(&self, issue_id: i64) -> Result<Option<SavedIssue>> {
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
    pub fn fetched_ms(&self, key: &str) -> Result<Option<i64>> {
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
    pub fn issue_by_key(&self, key: &str) -> Result<Option<SavedIssue>> {
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
    pub fn record_saved_with(&self, issue: &SavedIssue, details: &IssueDetails) -> Result<()> {
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
    pub fn record_deleted(&self, key: &str) -> Result<()> {
        self.with(|c| {
            c.execute("DELETE FROM issues WHERE issue_key = ?1", [key])?;
            c.execute("DELETE FROM failures WHERE issue_key = ?1", [key])
                .map(drop)
        })
    }

    /// Counts one more failure of `key` (never parks it; see [`State::note_failure`]).
    pub fn record_failure(&self, key: &str, error: &str) -> Result<()> {
        self.note_failure(key, error, true, i64::MAX).map(drop)
    }

    /// Records a failure of `key` with its reason, counting an attempt when `counts` (a
    /// failure of the issue's own data or permissions; not Jira failing), and parks the key
    /// once it has failed `max_attempts` counted times. Returns true when it is parked.
    pub fn note_failure(
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
    pub fn failures_to_retry(&self) -> Result<Vec<String>> {
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
    pub fn mark_parked_retried(&self, keys: &[String]) -> Result<()> {
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
    pub fn mark_pending(&self, key: &str, month: &str) -> Result<()> {
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
    pub fn clear_pending(&self, applied: &[Pending]) -> Result<()> {
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
    pub fn keys_created_between(&self, start_ms: i64, end_ms: i64) -> Result<Vec<String>> {
        self.with(|c| {
            let mut stmt = c.prepare(
                "SELECT issue_key FROM issues WHERE created_ms >= ?1 AND created_ms < ?2
                 ORDER BY issue_key",
            )?;
            stmt.query_map([start_ms, end_ms], |r| r.get(0))?.collect()
        })
    }

    /// Every saved issue's key and creation time (epoch ms, if known).
    pub fn keys_and_created(&self) -> Result<Vec<(String, Option<i64>)>> {
        self.with(|c| {
            let mut stmt =
                c.prepare("SELECT issue_key, created_ms FROM issues ORDER BY issue_key")?;
            stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
                .collect()
        })
    }

    /// The creation time of a saved issue, epoch ms.
    pub fn created_ms(&self, key: &str) -> Result<Option<i64>> {
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

    /// A stored value (e.g. the cached field catalogue) and when it was stored.
    pub fn meta(&self, name: &str) -> Result<Option<(String, i64)>> {
        self.with(|c| {
            c.query_row(
                "SELECT value, (SELECT value FROM meta WHERE name = ?1 || '.stored_ms') FROM meta WHERE name = ?1",
                [name],
                |r| {
                    let stored: Option<String> = r.get(1)?;
                    Ok((r.get(0)?, stored.and_then(|s| s.parse().ok()).unwrap_or(0)))
                },
            )
            .optional()
        })
    }

    /// Stores a value with the current time.
    pub fn set_meta(&self, name: &str, value: &str) -> Result<()> {
        self.with(|c| {
            let tx = c.transaction()?;
            for (n, v) in [
                (name.to_string(), value.to_string()),
                (format!("{name}.stored_ms"), now_ms().to_string()),
            ] {
                tx.execute(
                    "INSERT INTO meta (name, value) VALUES (?1, ?2)
                     ON CONFLICT (name) DO UPDATE SET value = excluded.value",
                    params![n, v],
                )?;
            }
            tx.commit()
        })
    }

    /// Removes a stored value.
    pub fn clear_meta(&self, name: &str) -> Result<()> {
        self.with(|c| {
            c.execute(
                "DELETE FROM meta WHERE name = ?1 OR name = ?1 || '.stored_ms'",
                [name],
            )
            .map(drop)
        })
    }

    /// Records that the daemon's table writer is failing (`error`, since `since_ms`, after
    /// `attempts` tries), for `status` and the health endpoint.
    pub fn set_table_writer_problem(&self, problem: &TableWriterProblem) -> Result<()> {
        let json = serde_json::to_string(problem).unwrap_or_default();
        self.set_meta(TABLE_WRITER_PROBLEM, &json)
    }

    /// The table writer works again.
    pub fn clear_table_writer_problem(&self) -> Result<()> {
        self.clear_meta(TABLE_WRITER_PROBLEM)
    }

    /// The daemon's table writer's current problem, if it is failing.
    pub fn table_writer_problem(&self) -> Result<Option<TableWriterProblem>> {
        Ok(self
            .meta(TABLE_WRITER_PROBLEM)?
            .and_then(|(json, _)| serde_json::from_str(&json).ok()))
    }

    /// The mailbox cursor: `(uid_validity, last_uid)`.
    pub fn mail_cursor(&self, mailbox: &str) -> Result<Option<(u32, u32)>> {
        self.with(|c| {
            c.query_row(
                "SELECT uid_validity, last_uid FROM mail_cursor WHERE mailbox = ?1",
                [mailbox],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()
        })
    }

    /// Stores the mailbox cursor (every mail at or below `last_uid` was acknowledged, rejected
    /// or is in the retry set); a new UIDVALIDITY forgets the old one's rejected UIDs and
    /// retry set.
    pub fn set_mail_cursor(&self, mailbox: &str, uid_validity: u32, last_uid: u32) -> Result<()> {
        self.with(|c| {
            let tx = c.transaction()?;
            tx.execute(
                "DELETE FROM mail_rejected WHERE mailbox = ?1 AND uid_validity <> ?2",
                params![mailbox, uid_validity],
            )?;
            tx.execute(
                "DELETE FROM mail_retry WHERE mailbox = ?1 AND uid_validity <> ?2",
                params![mailbox, uid_validity],
            )?;
            tx.execute(
                "INSERT INTO mail_cursor (mailbox, uid_validity, last_uid) VALUES (?1, ?2, ?3)
                 ON CONFLICT (mailbox) DO UPDATE SET uid_validity = excluded.uid_validity,
                   last_uid = excluded.last_uid",
                params![mailbox, uid_validity, last_uid],
            )?;
            tx.commit()
        })
    }

    /// Remembers a rejected (or given up) mail, so it is not examined again; it leaves the
    /// retry set.
    pub fn record_mail_rejected(
        &self,
        mailbox: &str,
        uid_validity: u32,
        uid: u32,
        reason: &str,
    ) -> Result<()> {
        self.with(|c| {
            let tx = c.transaction()?;
            tx.execute(
                "INSERT OR REPLACE INTO mail_rejected (mailbox, uid_validity, uid, reason, at_ms)
                 VALUES (?1, ?2, ?3, ?4, ?5)",
                params![mailbox, uid_validity, uid, reason, now_ms()],
            )?;
            tx.execute(
                "DELETE FROM mail_retry WHERE mailbox = ?1 AND uid_validity = ?2 AND uid = ?3",
                params![mailbox, uid_validity, uid],
            )?;
            tx.commit()
        })
    }

    /// The retry set of this mailbox and UIDVALIDITY: mails whose issues failed, by UID.
    pub fn mail_retries(&self, mailbox: &str, uid_validity: u32) -> Result<Vec<MailRetry>> {
        self.with(|c| {
            let mut stmt = c.prepare(
                "SELECT uid, message_id, attempts, last_error, next_try_ms FROM mail_retry
                 WHERE mailbox = ?1 AND uid_validity = ?2 ORDER BY uid",
            )?;
            stmt.query_map(params![mailbox, uid_validity], |r| {
                Ok(MailRetry {
                    uid: r.get(0)?,
                    message_id: r.get(1)?,
                    attempts: r.get(2)?,
                    last_error: r.get(3)?,
                    next_try_ms: r.get(4)?,
                })
            })?
            .collect()
        })
    }

    /// Puts a mail whose issues failed into the retry set, or updates its entry: `attempts`
    /// counted attempts so far, `error` the last error, tried again at `next_try_ms`.
    pub fn record_mail_retry(
        &self,
        mailbox: &str,
        uid_validity: u32,
        retry: &MailRetry,
    ) -> Result<()> {
        let now = now_ms();
        self.with(|c| {
            c.execute(
                "INSERT INTO mail_retry (mailbox, uid_validity, uid, message_id, attempts,
                   last_error, first_failed_ms, last_failed_ms, next_try_ms)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?7, ?8)
                 ON CONFLICT (mailbox, uid_validity, uid) DO UPDATE SET
                   message_id = COALESCE(excluded.message_id, message_id),
                   attempts = excluded.attempts, last_error = excluded.last_error,
                   last_failed_ms = excluded.last_failed_ms, next_try_ms = excluded.next_try_ms",
                params![
                    mailbox,
                    uid_validity,
                    retry.uid,
                    retry.message_id,
                    retry.attempts,
                    retry.last_error,
                    now,
                    retry.next_try_ms
                ],
            )
            .map(drop)
        })
    }

    /// Takes a mail out of the retry set (acknowledged, or gone from the mailbox).
    pub fn clear_mail_retry(&self, mailbox: &str, uid_validity: u32, uid: u32) -> Result<()> {
        self.with(|c| {
            c.execute(
                "DELETE FROM mail_retry WHERE mailbox = ?1 AND uid_validity = ?2 AND uid = ?3",
                params![mailbox, uid_validity, uid],
            )
            .map(drop)
        })
    }

    /// When the next mail of the retry set is due (epoch ms), if any waits.
    pub fn mail_next_retry_ms(&self, mailbox: &str, uid_validity: u32) -> Result<Option<i64>> {
        self.with(|c| {
            c.query_row(
                "SELECT MIN(next_try_ms) FROM mail_retry WHERE mailbox = ?1 AND uid_validity = ?2",
                params![mailbox, uid_validity],
                |r| r.get(0),
            )
        })
    }

    /// UIDs of rejected mail remembered for this mailbox and UIDVALIDITY.
    pub fn mail_rejected(&self, mailbox: &str, uid_validity: u32) -> Result<Vec<u32>> {
        self.with(|c| {
            let mut stmt = c.prepare(
                "SELECT uid FROM mail_rejected WHERE mailbox = ?1 AND uid_validity = ?2 ORDER BY uid",
            )?;
            stmt.query_map(params![mailbox, uid_validity], |r| r.get(0))?
                .collect()
        })
    }

    /// The saved issue key of a Jira issue id, if any.
    pub fn key_of_id(&self, issue_id: i64) -> Result<Option<String>> {
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
    pub fn sla_poll_candidates(&self, all: bool) -> Result<Vec<SlaCandidate>> {
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
    pub fn set_issue_status(
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
    pub fn start_backfill(&self, jql: &str, started_ms: i64) -> Result<()> {
        self.with(|c| {
            c.execute(
                "INSERT OR REPLACE INTO backfill (id, jql, started_ms) VALUES (1, ?1, ?2)",
                params![jql, started_ms],
            )
            .map(drop)
        })
    }

    /// Marks one more page finished; `next_page_token` is where a resumed backfill starts.
    pub fn backfill_page_done(&self, next_page_token: Option<&str>, saved: i64) -> Result<()> {
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
    pub fn finish_backfill(&self) -> Result<()> {
        self.with(|c| {
            c.execute(
                "UPDATE backfill SET finished_ms = ?1, next_page_token = NULL WHERE id = 1",
                [now_ms()],
            )
            .map(drop)
        })
    }

    /// Records the start of a command run; returns its id.
    pub fn start_run(&self, command: &str) -> Result<i64> {
        self.with(|c| {
            c.execute(
                "INSERT INTO runs (command, started_ms) VALUES (?1, ?2)",
                params![command, now_ms()],
            )?;
            Ok(c.last_insert_rowid())
        })
    }

    /// Records how a run ended.
    pub fn finish_run(&self, id: i64, outcome: &str, saved: i64, failed: i64) -> Result<()> {
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
    pub fn finish_run_with_detail(
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
    pub fn last_runs(&self) -> Result<Vec<Run>> {
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
}

/// The webhook receiver's deliveries, and the last success of each trigger for its health
/// endpoint.
impl State {
    /// Whether a delivery under any of `identifiers` was acknowledged before (and not yet
    /// pruned).
    pub fn webhook_delivery_seen(&self, identifiers: &[&str]) -> Result<bool> {
        self.with(|c| {
            let mut stmt =
                c.prepare_cached("SELECT 1 FROM webhook_deliveries WHERE identifier = ?1")?;
            for identifier in identifiers {
                if stmt.exists([identifier])? {
                    return Ok(true);
                }
            }
            Ok(false)
        })
    }

    /// Remembers an acknowledged delivery under each of its `identifiers`, in one
    /// transaction; returns how many were not remembered before.
    pub fn record_webhook_delivery(&self, identifiers: &[&str], received_ms: i64) -> Result<usize> {
        self.with(|c| {
            let tx = c.transaction()?;
            let mut added = 0;
            for identifier in identifiers {
                added += tx.execute(
                    "INSERT INTO webhook_deliveries (identifier, received_ms) VALUES (?1, ?2)
                     ON CONFLICT (identifier) DO NOTHING",
                    params![identifier, received_ms],
                )?;
            }
            tx.commit()?;
            Ok(added)
        })
    }

    /// Forgets deliveries received before `before_ms`; returns how many.
    pub fn prune_webhook_deliveries(&self, before_ms: i64) -> Result<usize> {
        self.with(|c| {
            c.execute(
                "DELETE FROM webhook_deliveries WHERE received_ms < ?1",
                [before_ms],
            )
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
    pub fn queue_push(&self, key: &str, source: &str, updated_hint: Option<i64>) -> Result<Pushed> {
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
    pub fn queue_push_all(&self, keys: &[String], source: &str) -> Result<Vec<Pushed>> {
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
    pub fn queue_take(&self) -> Result<Option<QueueItem>> {
        let now = now_ms();
        self.with(|c| {
            let tx = c.transaction()?;
            let item = tx
                .query_row(
                    "SELECT issue_key, source, enqueued_ms FROM queue
                     WHERE running = 0 AND not_before_ms <= ?1
                     ORDER BY not_before_ms, enqueued_ms, issue_key LIMIT 1",
                    [now],
                    |r| {
                        Ok(QueueItem {
                            issue_key: r.get(0)?,
                            source: r.get(1)?,
                            enqueued_ms: r.get(2)?,
                        })
                    },
                )
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

    /// Takes the next due `id:<id>` row (an issue id a trigger could not resolve to a key;
    /// oldest first) and marks it running, like [`State::queue_take`] for keys. The `mail`
    /// command resolves these itself after its pass, when no daemon may be running.
    pub fn queue_take_id(&self) -> Result<Option<QueueItem>> {
        let now = now_ms();
        self.with(|c| {
            let tx = c.transaction()?;
            let item = tx
                .query_row(
                    "SELECT issue_key, source, enqueued_ms FROM queue
                     WHERE running = 0 AND not_before_ms <= ?1 AND issue_key LIKE 'id:%'
                     ORDER BY not_before_ms, enqueued_ms, issue_key LIMIT 1",
                    [now],
                    |r| {
                        Ok(QueueItem {
                            issue_key: r.get(0)?,
                            source: r.get(1)?,
                            enqueued_ms: r.get(2)?,
                        })
                    },
                )
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
    pub fn queue_release(&self, key: &str) -> Result<()> {
        self.with(|c| {
            c.execute("UPDATE queue SET running = 0 WHERE issue_key = ?1", [key])
                .map(drop)
        })
    }

    /// The key is done: removed, unless it was named again meanwhile (then it waits again).
    pub fn queue_done(&self, key: &str) -> Result<()> {
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
    pub fn queue_failed(
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
    pub fn queue_retry_failures(&self) -> Result<Vec<String>> {
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
    pub fn queue_recover(&self) -> Result<usize> {
        self.with(|c| c.execute("UPDATE queue SET running = 0 WHERE running = 1", []))
    }

    /// Makes every waiting key due now (Jira came back after an outage).
    pub fn queue_release_backoff(&self) -> Result<usize> {
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
    pub fn queue_next_due(&self) -> Result<Option<i64>> {
        self.with(|c| {
            c.query_row(
                "SELECT MIN(not_before_ms) FROM queue WHERE running = 0",
                [],
                |r| r.get(0),
            )
        })
    }
}

/// Inserts or updates `key`'s failure record (one more attempt when `counts`); returns its
/// counted attempts.
fn upsert_failure(
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
fn park(
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn webhook_deliveries_are_remembered_once_and_pruned() {
        let s = State::open_in_memory().unwrap();
        assert!(!s.webhook_delivery_seen(&["d-1"]).unwrap());
        assert_eq!(
            s.record_webhook_delivery(&["d-1", "h-1"], 1_000).unwrap(),
            2
        );
        assert_eq!(s.record_webhook_delivery(&["d-1"], 2_000).unwrap(), 0);
        // Seen when any of the identifiers is remembered.
        assert!(s.webhook_delivery_seen(&["d-1"]).unwrap());
        assert!(s.webhook_delivery_seen(&["other", "h-1"]).unwrap());
        assert!(!s.webhook_delivery_seen(&["other", "h-2"]).unwrap());
        assert_eq!(
            s.record_webhook_delivery(&["d-2", "h-2"], 5_000).unwrap(),
            2
        );
        assert_eq!(s.prune_webhook_deliveries(2_000).unwrap(), 2);
        assert!(!s.webhook_delivery_seen(&["d-1", "h-1"]).unwrap());
        assert!(s.webhook_delivery_seen(&["d-2"]).unwrap());
        assert!(s.webhook_delivery_seen(&["h-2"]).unwrap());
    }

    #[test]
    fn last_successes_skip_failed_runs() {
        let s = State::open_in_memory().unwrap();
        let ok = s.start_run("sweep").unwrap();
        s.finish_run(ok, "ok", 1, 0).unwrap();
        let failed = s.start_run("sweep").unwrap();
        s.finish_run(failed, "error: down", 0, 0).unwrap();
        let mail = s.start_run("mail").unwrap();
        s.finish_run(mail, "partial", 1, 1).unwrap();
        let successes = s.last_successes().unwrap();
        assert_eq!(successes.len(), 1);
        assert_eq!(successes[0].0, "sweep");
    }

    #[test]
    fn old_runs_are_pruned_but_the_latest_of_each_command_stays() {
        let s = State::open_in_memory().unwrap();
        for _ in 0..5 {
            let r = s.start_run("sweep").unwrap();
            s.finish_run(r, "ok", 1, 0).unwrap();
        }
        let failed = s.start_run("sweep").unwrap();
        s.finish_run(failed, "error: down", 0, 0).unwrap();
        let mail = s.start_run("mail").unwrap();
        s.finish_run(mail, "ok", 0, 0).unwrap();
        let running = s.start_run("reconcile").unwrap();
        let before_last = s.last_runs().unwrap();
        let successes = s.last_successes().unwrap();
        // Everything is "old" a year from now.
        let removed = s.prune_runs(now_ms() + 365 * 86_400_000, 90).unwrap();
        assert_eq!(removed, 4, "four of the five successful sweeps");
        assert_eq!(s.last_runs().unwrap(), before_last);
        assert_eq!(s.last_successes().unwrap(), successes);
        // Nothing is old today; a run still going is never removed.
        assert_eq!(s.prune_runs(now_ms(), 90).unwrap(), 0);
        let _ = running;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 1)]
    async fn calls_from_async_tasks_leave_the_runtime_responsive() {
        let s = std::sync::Arc::new(State::open_in_memory().unwrap());
        // Hold the connection on a plain thread; a task that needs it waits under
        // `block_in_place`, so another task on the runtime still runs meanwhile.
        let held = s.clone();
        let (locked_tx, locked_rx) = std::sync::mpsc::channel();
        let holder = std::thread::spawn(move || {
            held.with(|_| {
                locked_tx.send(()).unwrap();
                std::thread::sleep(std::time::Duration::from_secs(2));
                Ok(())
            })
            .unwrap();
        });
        locked_rx.recv().unwrap();
        let waiting = {
            let s = s.clone();
            tokio::spawn(async move { s.watermark().unwrap() })
        };
        let ticks = tokio::spawn(async {
            let mut n = 0;
            for _ in 0..5 {
                tokio::time::sleep(std::time::Duration::from_millis(10)).await;
                n += 1;
            }
            n
        });
        // Give the waiting task the one worker thread first.
        tokio::task::yield_now().await;
        assert_eq!(ticks.await.unwrap(), 5);
        // The ticks ran while the SQLite call still waited (without `block_in_place` the only
        // worker thread would have been stuck in it for the whole 2 s).
        assert!(!waiting.is_finished());
        assert_eq!(waiting.await.unwrap(), None);
        holder.join().unwrap();
    }

    #[test]
    fn the_queue_coalesces_and_runs_a_key_again_when_named_while_running() {
        let s = State::open_in_memory().unwrap();
        assert_eq!(s.queue_push("A-1", "mail", None).unwrap(), Pushed::Queued);
        assert_eq!(
            s.queue_push("A-1", "sweep", Some(5)).unwrap(),
            Pushed::Coalesced
        );
        assert_eq!(
            s.queue_push("A-2", "sweep", Some(5)).unwrap(),
            Pushed::Queued
        );
        assert_eq!(s.queue_depth().unwrap(), 2);
        let a = s.queue_take().unwrap().unwrap();
        assert_eq!(a.issue_key, "A-1");
        assert_eq!(s.queue_push("A-1", "webhook", None).unwrap(), Pushed::Again);
        let b = s.queue_take().unwrap().unwrap();
        assert_eq!(b.issue_key, "A-2");
        assert!(s.queue_take().unwrap().is_none(), "A-1 is running, A-2 too");
        s.queue_done("A-1").unwrap();
        s.queue_done("A-2").unwrap();
        let again = s.queue_take().unwrap().unwrap();
        assert_eq!(
            (again.issue_key.as_str(), again.source.as_str()),
            ("A-1", "webhook")
        );
        assert!(again.enqueued_ms >= a.enqueued_ms);
        s.queue_done("A-1").unwrap();
        assert_eq!(s.queue_depth().unwrap(), 0);
    }

    #[test]
    fn coalescing_keeps_the_latest_naming_time() {
        let s = State::open_in_memory().unwrap();
        s.queue_push("A-1", "sweep", Some(5)).unwrap();
        s.with(|c| c.execute("UPDATE queue SET enqueued_ms = 1000", []))
            .unwrap();
        assert_eq!(
            s.queue_push("A-1", "mail", None).unwrap(),
            Pushed::Coalesced
        );
        let item = s.queue_take().unwrap().unwrap();
        assert!(item.enqueued_ms > 1000, "{}", item.enqueued_ms);
        assert_eq!(item.source, "mail");
    }

    #[test]
    fn failures_back_off_then_park_until_the_issue_changes() {
        let s = State::open_in_memory().unwrap();
        s.queue_push("A-1", "sweep", Some(7)).unwrap();
        let far = |_| 60_000;
        for attempt in 1..=3 {
            assert!(s.queue_take().unwrap().is_some(), "attempt {attempt}");
            let parked = s.queue_failed("A-1", "boom", true, 3, far).unwrap();
            assert_eq!(parked, attempt == 3);
            if !parked {
                assert!(s.queue_take().unwrap().is_none(), "backing off");
                // News makes it due at once.
                assert_eq!(
                    s.queue_push("A-1", "mail", None).unwrap(),
                    Pushed::Coalesced
                );
            }
        }
        assert_eq!(s.queue_depth().unwrap(), 0);
        let f = &s.failures().unwrap()[0];
        assert!(f.parked_ms.is_some());
        assert_eq!(f.attempts, 3);
        // The same version is not queued again; a change is, with fresh attempts.
        assert_eq!(
            s.queue_push("A-1", "sweep", Some(7)).unwrap(),
            Pushed::Parked
        );
        assert_eq!(
            s.queue_push("A-1", "sweep", Some(8)).unwrap(),
            Pushed::Queued
        );
        let f = &s.failures().unwrap()[0];
        assert_eq!((f.parked_ms, f.attempts), (None, 0));
        // Uncounted (transient) failures never park.
        for _ in 0..5 {
            s.queue_take().unwrap().unwrap();
            assert!(!s.queue_failed("A-1", "503", false, 3, |_| -1).unwrap());
        }
        // A restart makes running keys due again.
        s.queue_take().unwrap().unwrap();
        assert_eq!(s.queue_recover().unwrap(), 1);
        assert!(s.queue_take().unwrap().is_some());
    }

    #[test]
    fn every_command_parks_after_max_attempts_and_a_later_sweep_retries_once() {
        let s = State::open_in_memory().unwrap();
        // Jira failing does not count.
        for _ in 0..5 {
            assert!(!s.note_failure("A-1", "HTTP 503", false, 3).unwrap());
        }
        assert!(!s.note_failure("A-1", "HTTP 403", true, 3).unwrap());
        assert!(!s.note_failure("A-1", "HTTP 403", true, 3).unwrap());
        assert_eq!(s.failures_to_retry().unwrap(), ["A-1"]);
        assert!(s.note_failure("A-1", "HTTP 403", true, 3).unwrap());
        let f = &s.failures().unwrap()[0];
        assert!(f.parked_ms.is_some());
        assert_eq!((f.attempts, f.last_error.as_str()), (3, "HTTP 403"));
        // Parked anew: one retry owed.
        assert_eq!(s.failures_to_retry().unwrap(), ["A-1"]);
        s.mark_parked_retried(&["A-1".to_string()]).unwrap();
        assert!(s.note_failure("A-1", "HTTP 403", true, 3).unwrap());
        assert!(s.failures_to_retry().unwrap().is_empty());
        // The daemon's way: the owed retry is queued once, the key stays parked.
        assert!(s.note_failure("B-1", "bad", true, 1).unwrap());
        assert_eq!(s.queue_retry_failures().unwrap(), ["B-1"]);
        // (A-1 had its retry already; a failure another command recorded is queued too.)
        assert!(s.queue_retry_failures().unwrap().is_empty());
        let item = s.queue_take().unwrap().unwrap();
        assert_eq!(
            (item.issue_key.as_str(), item.source.as_str()),
            ("B-1", "retry")
        );
        assert!(s.queue_failed("B-1", "bad", true, 1, |_| 0).unwrap());
        assert!(s.queue_retry_failures().unwrap().is_empty());
        assert_eq!(s.queue_depth().unwrap(), 0);
        // A change (a new `updated`) unparks with fresh attempts and a retry owed again.
        assert_eq!(
            s.queue_push("B-1", "sweep", Some(9)).unwrap(),
            Pushed::Queued
        );
        s.queue_take().unwrap().unwrap();
        assert!(s.queue_failed("B-1", "bad", true, 1, |_| 0).unwrap());
        assert_eq!(s.queue_retry_failures().unwrap(), ["B-1"]);
        // A failure another command recorded (not parked) is queued once.
        s.queue_take().unwrap().unwrap();
        s.queue_done("B-1").unwrap();
        assert!(!s.note_failure("C-1", "HTTP 500", false, 1).unwrap());
        assert_eq!(s.queue_retry_failures().unwrap(), ["C-1"]);
        assert!(s.queue_retry_failures().unwrap().is_empty());
    }

    #[test]
    fn an_incomplete_save_keeps_the_failure_record() {
        let s = State::open_in_memory().unwrap();
        s.record_failure("A-1", "attachment refused").unwrap();
        s.record_saved_with(
            &issue(10, "A-1", 5),
            &IssueDetails {
                incomplete: true,
                ..IssueDetails::default()
            },
        )
        .unwrap();
        assert_eq!(s.failures().unwrap().len(), 1);
        s.record_saved_with(&issue(10, "A-1", 5), &IssueDetails::default())
            .unwrap();
        assert!(s.failures().unwrap().is_empty());
    }

    fn issue(id: i64, key: &str, updated_ms: i64) -> SavedIssue {
        SavedIssue {
            issue_id: id,
            issue_key: key.into(),
            updated_ms,
        }
    }

    #[test]
    fn watermark_only_moves_forward_and_keeps_milliseconds() {
        let s = State::open_in_memory().unwrap();
        assert_eq!(s.watermark().unwrap(), None);
        s.advance_watermark(1_700_000_000_123).unwrap();
        s.advance_watermark(1_600_000_000_000).unwrap();
        assert_eq!(s.watermark().unwrap(), Some(1_700_000_000_123));
        s.advance_watermark(1_700_000_000_124).unwrap();
        assert_eq!(s.watermark().unwrap(), Some(1_700_000_000_124));
    }

    #[test]
    fn saving_replaces_by_id_and_clears_failures() {
        let s = State::open_in_memory().unwrap();
        s.record_failure("A-1", "boom").unwrap();
        s.record_failure("A-1", "boom again").unwrap();
        assert_eq!(s.failures().unwrap()[0].attempts, 2);
        s.record_saved(&issue(10, "A-1", 5), Some(1)).unwrap();
        assert!(s.failures().unwrap().is_empty());
        // Moved: same id, new key.
        s.record_saved(&issue(10, "B-7", 6), Some(1)).unwrap();
        assert_eq!(s.issue_by_key("A-1").unwrap(), None);
        assert_eq!(s.issue_by_id(10).unwrap(), Some(issue(10, "B-7", 6)));
        assert_eq!(s.issue_count().unwrap(), 1);
        s.record_deleted("B-7").unwrap();
        assert_eq!(s.issue_count().unwrap(), 0);
    }

    #[test]
    fn migrations_are_idempotent_on_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.db");
        State::open(&path).unwrap().advance_watermark(42).unwrap();
        let s = State::open(&path).unwrap();
        assert_eq!(s.watermark().unwrap(), Some(42));
    }

    #[test]
    fn pending_rows_survive_a_re_mark_during_apply() {
        let s = State::open_in_memory().unwrap();
        s.mark_pending("A-1", "2024-01").unwrap();
        let seen = s.pending().unwrap();
        s.mark_pending("A-1", "2024-01").unwrap(); // changed again while being applied
        s.clear_pending(&seen).unwrap();
        assert_eq!(s.pending().unwrap().len(), 1);
        s.clear_pending(&s.pending().unwrap()).unwrap();
        assert!(s.pending().unwrap().is_empty());
    }

    #[test]
    fn meta_values_and_created_ranges() {
        let s = State::open_in_memory().unwrap();
        assert_eq!(s.meta("x").unwrap(), None);
        s.set_meta("x", "[1]").unwrap();
        let (v, at) = s.meta("x").unwrap().unwrap();
        assert_eq!(v, "[1]");
        assert!(at > 0);
        s.record_saved(&issue(1, "A-2", 5), Some(100)).unwrap();
        s.record_saved(&issue(2, "A-1", 5), Some(150)).unwrap();
        s.record_saved(&issue(3, "A-3", 5), Some(200)).unwrap();
        assert_eq!(s.keys_created_between(100, 200).unwrap(), ["A-1", "A-2"]);
        assert_eq!(s.created_ms("A-3").unwrap(), Some(200));
    }

    #[test]
    fn mail_cursor_and_rejections_follow_uidvalidity() {
        let s = State::open_in_memory().unwrap();
        assert_eq!(s.mail_cursor("INBOX").unwrap(), None);
        s.set_mail_cursor("INBOX", 7, 10).unwrap();
        s.record_mail_rejected("INBOX", 7, 4, "spoofed").unwrap();
        assert_eq!(s.mail_rejected("INBOX", 7).unwrap(), [4]);
        s.set_mail_cursor("INBOX", 7, 12).unwrap();
        assert_eq!(s.mail_cursor("INBOX").unwrap(), Some((7, 12)));
        assert_eq!(s.mail_rejected("INBOX", 7).unwrap(), [4]);
        s.set_mail_cursor("INBOX", 8, 0).unwrap(); // UIDVALIDITY changed
        assert!(s.mail_rejected("INBOX", 7).unwrap().is_empty());
    }

    #[test]
    fn the_mail_retry_set_updates_gives_up_into_rejections_and_follows_uidvalidity() {
        let s = State::open_in_memory().unwrap();
        let retry = |uid, attempts, next_try_ms| MailRetry {
            uid,
            message_id: Some(format!("m{uid}@example")),
            attempts,
            last_error: format!("SUP-{uid}: refused ({attempts})"),
            next_try_ms,
        };
        assert_eq!(s.mail_next_retry_ms("INBOX", 7).unwrap(), None);
        s.record_mail_retry("INBOX", 7, &retry(5, 1, 2_000))
            .unwrap();
        s.record_mail_retry("INBOX", 7, &retry(9, 1, 1_000))
            .unwrap();
        s.record_mail_retry("Other", 7, &retry(5, 1, 10)).unwrap();
        // A second failure replaces attempts, error and due time; the Message-ID stays.
        s.record_mail_retry(
            "INBOX",
            7,
            &MailRetry {
                message_id: None,
                ..retry(5, 2, 4_000)
            },
        )
        .unwrap();
        assert_eq!(
            s.mail_retries("INBOX", 7).unwrap(),
            [retry(5, 2, 4_000), retry(9, 1, 1_000)]
        );
        assert_eq!(s.mail_next_retry_ms("INBOX", 7).unwrap(), Some(1_000));
        // Acknowledged: out of the set. Given up (rejected): out of the set, remembered.
        s.clear_mail_retry("INBOX", 7, 9).unwrap();
        s.record_mail_rejected("INBOX", 7, 5, "given up").unwrap();
        assert!(s.mail_retries("INBOX", 7).unwrap().is_empty());
        assert_eq!(s.mail_rejected("INBOX", 7).unwrap(), [5]);
        assert_eq!(s.mail_retries("Other", 7).unwrap(), [retry(5, 1, 10)]);
        // A new UIDVALIDITY forgets the old retry set too.
        s.record_mail_retry("Other", 7, &retry(6, 1, 10)).unwrap();
        s.set_mail_cursor("Other", 8, 0).unwrap();
        assert!(s.mail_retries("Other", 7).unwrap().is_empty());
        assert_eq!(s.mail_next_retry_ms("Other", 8).unwrap(), None);
    }

    #[test]
    fn rows_pushed_together_are_queued_and_coalesced_like_single_ones() {
        let s = State::open_in_memory().unwrap();
        s.queue_push("SUP-1", "sweep", Some(5)).unwrap();
        s.queue_push("SUP-2", "sweep", Some(5)).unwrap();
        assert_eq!(s.queue_take().unwrap().unwrap().issue_key, "SUP-1");
        let rows: Vec<String> = ["SUP-1", "SUP-2", "id:7", "SUP-3"]
            .map(str::to_owned)
            .into();
        assert_eq!(
            s.queue_push_all(&rows, "mail").unwrap(),
            [
                Pushed::Again,
                Pushed::Coalesced,
                Pushed::Queued,
                Pushed::Queued
            ]
        );
        assert_eq!(s.queue_depth().unwrap(), 4);
        assert!(s.queue_push_all(&[], "mail").unwrap().is_empty());
    }

    #[test]
    fn id_rows_are_taken_apart_from_keys_and_can_be_released() {
        let s = State::open_in_memory().unwrap();
        s.queue_push("SUP-1", "mail", None).unwrap();
        s.queue_push("id:42", "mail", None).unwrap();
        s.queue_push("id:43", "webhook", None).unwrap();
        let first = s.queue_take_id().unwrap().unwrap();
        assert_eq!(first.issue_key, "id:42");
        assert_eq!(s.queue_take_id().unwrap().unwrap().issue_key, "id:43");
        assert_eq!(s.queue_take_id().unwrap(), None, "keys are not taken");
        s.queue_release("id:42").unwrap();
        assert_eq!(s.queue_take_id().unwrap().unwrap().issue_key, "id:42");
        s.queue_done("id:42").unwrap();
        assert_eq!(s.queue_take().unwrap().unwrap().issue_key, "SUP-1");
    }

    #[test]
    fn sla_candidates_are_open_issues_with_sla_and_unknown_ones() {
        let s = State::open_in_memory().unwrap();
        let details = |cat: Option<&str>, has_sla| IssueDetails {
            status_category: cat.map(str::to_owned),
            has_sla,
            ..IssueDetails::default()
        };
        s.record_saved_with(&issue(1, "A-1", 5), &details(Some("new"), true))
            .unwrap();
        s.record_saved_with(&issue(2, "A-2", 5), &details(Some("done"), true))
            .unwrap();
        s.record_saved_with(&issue(3, "A-3", 5), &details(Some("indeterminate"), false))
            .unwrap();
        s.record_saved_with(&issue(4, "A-4", 5), &details(None, false))
            .unwrap();
        let keys = |s: &State| -> Vec<(String, Option<String>)> {
            s.sla_poll_candidates(false)
                .unwrap()
                .into_iter()
                .map(|c| (c.issue.issue_key, c.status_category))
                .collect()
        };
        assert_eq!(
            keys(&s),
            [("A-1".into(), Some("new".into())), ("A-4".into(), None)]
        );
        assert!(s.set_issue_status("A-4", Some("done"), true).unwrap());
        assert!(!s.set_issue_status("Z-9", Some("done"), true).unwrap());
        assert_eq!(keys(&s), [("A-1".into(), Some("new".into()))]);
        assert_eq!(
            s.issue_ids().unwrap(),
            [
                (1, "A-1".into()),
                (2, "A-2".into()),
                (3, "A-3".into()),
                (4, "A-4".into())
            ]
        );
    }

    #[test]
    fn backfill_progress_and_runs() {
        let s = State::open_in_memory().unwrap();
        s.start_backfill("project = A", 100).unwrap();
        s.backfill_page_done(Some("t2"), 50).unwrap();
        let b = s.backfill().unwrap().unwrap();
        assert_eq!((b.pages_done, b.issues_saved), (1, 50));
        assert_eq!(b.next_page_token.as_deref(), Some("t2"));
        s.finish_backfill().unwrap();
        assert!(s.backfill().unwrap().unwrap().finished_ms.is_some());
        let id = s.start_run("sweep").unwrap();
        s.finish_run(id, "ok", 3, 0).unwrap();
        assert_eq!(s.last_runs().unwrap()[0].issues_saved, 3);
    }
}
