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
//!
//! One file per concern, each adding methods to the one [`State`]: `issues.rs` (saved
//! issues, failures, pending months, the sweep watermark), `queue.rs` (the daemon's durable
//! queue), `runs.rs` (runs and backfill progress), `mail.rs` (the mailbox cursor and
//! retries), `webhook.rs` (deliveries seen); `schema.rs` holds the migrations.

mod issues;
mod mail;
mod queue;
mod runs;
mod schema;
mod webhook;

use schema::MIGRATIONS;

pub use issues::{Failure, IssueDetails, Pending, SavedIssue, SlaCandidate};
pub use mail::MailRetry;
pub use queue::{Pushed, QueueItem};
pub(crate) use runs::RUNS_KEPT_DAYS;
pub use runs::{Backfill, Run, TableWriterProblem};

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

/// The state database. Calls are short transactions behind a mutex.
#[derive(Debug)]
pub struct State {
    conn: Mutex<Connection>,
    /// The database file (`None` in memory).
    path: Option<std::path::PathBuf>,
}

impl State {
    /// Opens (creating if needed) the database at `path` and migrates it.
    pub fn open(path: &Path) -> Result<State> {
        let conn = Connection::open(path)?;
        let mut state = Self::init(conn)?;
        state.path = Some(path.to_path_buf());
        Ok(state)
    }

    /// Makes the database and its WAL files readable by their owner only (mode 0600):
    /// called before a credential (an OAuth refresh token) is written to it. SQLite gives
    /// new WAL files the database file's mode.
    pub(crate) fn restrict_to_owner(&self) -> std::io::Result<()> {
        #[cfg(unix)]
        if let Some(path) = &self.path {
            use std::os::unix::fs::PermissionsExt;
            for suffix in ["", "-wal", "-shm"] {
                let mut file = path.as_os_str().to_owned();
                file.push(suffix);
                match std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600)) {
                    Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e),
                    _ => {}
                }
            }
        }
        Ok(())
    }

    /// An in-memory database, for tests.
    #[cfg(test)]
    pub(crate) fn open_in_memory() -> Result<State> {
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
            path: None,
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
    pub(crate) fn set_meta(&self, name: &str, value: &str) -> Result<()> {
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
    pub(crate) fn clear_meta(&self, name: &str) -> Result<()> {
        self.with(|c| {
            c.execute(
                "DELETE FROM meta WHERE name = ?1 OR name = ?1 || '.stored_ms'",
                [name],
            )
            .map(drop)
        })
    }
}

#[cfg(test)]
mod tests;
