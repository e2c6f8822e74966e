//! One shape for every job, whether a command runs it once or the daemon on a schedule.
//!
//! A job's summary implements [`Report`]: its counts for the `runs` record, whether it left
//! anything to retry, and its one-line summary. [`RunRecord`] writes the `runs` row the same
//! way for the CLI commands, the daemon's schedules and its mail passes, so `status` reads
//! the same thing whoever ran the job. A job the daemon runs on a schedule implements
//! [`Scheduled`] in its own file; the daemon's list of schedules names it in one line.

use std::fmt::Display;
use std::sync::Arc;

use futures::future::BoxFuture;
use tokio_util::sync::CancellationToken;

use crate::config::Config;
use crate::pipeline::queue::Queue;
use crate::pipeline::{self, Pipeline};
use crate::state::{self, State};

/// The jobs whose last success the health endpoints report, as `runs` records them.
pub(crate) const HEALTH_JOBS: [&str; 4] = ["sweep", "mail", "poll-sla", "reconcile"];

/// What a job reports when it ends: its summary line, and whether it finished without
/// anything left to retry.
pub trait Report: serde::Serialize {
    /// Issues saved (or changed, or handed over) and failed, for the `runs` record.
    fn counts(&self) -> (u64, u64);
    /// True when nothing is left for a retry.
    fn complete(&self) -> bool;
    /// The one-line summary (`<command>: <line>` on the terminal, `summary` in the log).
    fn line(&self) -> String;
}

/// A finished job's report, taken apart for the `runs` record, the terminal and the log.
#[derive(Debug, Clone)]
pub struct Finished {
    /// [`Report::line`].
    pub line: String,
    /// [`Report::counts`].
    pub saved: u64,
    /// [`Report::counts`].
    pub failed: u64,
    /// [`Report::complete`].
    pub complete: bool,
    /// The whole report as JSON (`runs.detail`, shown by `status --json`).
    pub detail: serde_json::Value,
}

impl Finished {
    /// Takes `report` apart.
    pub fn of(report: &impl Report) -> Finished {
        let (saved, failed) = report.counts();
        Finished {
            line: report.line(),
            saved,
            failed,
            complete: report.complete(),
            detail: serde_json::to_value(report).unwrap_or_default(),
        }
    }
}

/// One run of a command in the `runs` table, from its start to its end.
#[derive(Debug)]
#[must_use = "a run left unfinished shows as running in `status`"]
pub struct RunRecord<'a> {
    state: &'a State,
    id: i64,
}

impl<'a> RunRecord<'a> {
    /// Records that `command` started now.
    pub fn start(state: &'a State, command: &str) -> state::Result<Self> {
        Ok(RunRecord {
            state,
            id: state.start_run(command)?,
        })
    }

    /// The run ended with `finished`: outcome `ok`, or `partial` when something is left to
    /// retry.
    pub fn finished(self, finished: &Finished) -> state::Result<()> {
        let outcome = if finished.complete { "ok" } else { "partial" };
        self.state.finish_run_with_detail(
            self.id,
            outcome,
            i64::try_from(finished.saved).unwrap_or(i64::MAX),
            i64::try_from(finished.failed).unwrap_or(i64::MAX),
            &finished.detail,
        )
    }

    /// The run was stopped by shutdown before it finished.
    pub fn stopped(self) -> state::Result<()> {
        self.state.finish_run(self.id, "stopped", 0, 0)
    }

    /// The run failed with `error` (outcome `error: <error>`).
    pub fn failed(self, error: impl Display) -> state::Result<()> {
        self.state
            .finish_run(self.id, &format!("error: {error}"), 0, 0)
    }
}

/// Records a run of `command` that has already ended (a mail pass of the daemon's watch).
pub fn record(state: &State, command: &str, finished: &Finished) -> state::Result<()> {
    RunRecord::start(state, command)?.finished(finished)
}

/// What a scheduled job may use.
#[derive(Debug, Clone)]
pub struct JobContext {
    /// The pipeline the daemon's workers share (its per-issue locks included).
    pub pipeline: Pipeline,
    /// The daemon's queue.
    pub queue: Arc<Queue>,
    /// The configuration.
    pub config: Arc<Config>,
    /// Issues handled at once (`--parallel`).
    pub parallel: usize,
    /// Cancelled at shutdown; a job checks it between pages or issues.
    pub stop: CancellationToken,
}

/// Why a scheduled run failed.
#[derive(Debug)]
pub enum JobError {
    /// The daemon must stop (a panic, bad credentials, the state database).
    Fatal(pipeline::Error),
    /// Logged and recorded; the next tick tries again.
    Failed(String),
}

impl From<pipeline::Error> for JobError {
    /// A panic, or a fatal error other than writing the tables, stops the daemon. A failed
    /// table write is not a reason to stop: the table writer retries those rows (they stay
    /// pending).
    fn from(e: pipeline::Error) -> JobError {
        if e.is_panic() || (e.is_fatal() && !e.is_table_write_failure()) {
            JobError::Fatal(e)
        } else {
            JobError::Failed(crate::with_cause(&e))
        }
    }
}

/// A job the daemon runs on a schedule, one run at a time.
pub trait Scheduled: Send + Sync {
    /// Its section in the configuration (`sla_poll`), in logs and schedule errors.
    fn name(&self) -> &'static str;
    /// Its command, as recorded in `runs` (`poll-sla`).
    fn command(&self) -> &'static str;
    /// Its cron schedule, from the configuration.
    fn schedule(&self, config: &Config) -> String;
    /// Whether it also runs once at start, to catch up on downtime.
    fn catch_up(&self) -> bool {
        false
    }
    /// One run; `Ok(None)` when shutdown stopped it.
    fn run<'a>(&'a self, job: &'a JobContext) -> BoxFuture<'a, Result<Option<Finished>, JobError>>;
}
