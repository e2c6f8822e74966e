//! `jira-mirror run`: every trigger and schedule at once, one queue, until a signal.
//!
//! ```text
//!  catch-up sweep ─┐                       ┌─ worker ─┐
//!  cron: sweep ────┤                       ├─ worker ─┤   (pipeline, per-issue lock)
//!  IMAP watch ─────┼──▶ queue (SQLite) ──▶─┼─ worker ─┼──▶ table writer (apply pending rows)
//!  cron: poll-sla ─┤    coalescing,        └─ …      ─┘
//!  cron: reconcile ┘    bounded, durable
//! ```
//!
//! - **Triggers only queue.** The sweep lists changed keys, the mailbox watch extracts keys,
//!   and both push them to the [`Queue`]; pushing is their acknowledgement (watermark,
//!   `\Seen`), because the queue is durable. Workers take keys one at a time and run them
//!   through [`Pipeline::process_key_since`], which holds the issue's lock and skips a key
//!   another process fetched after it was queued.
//! - **Tables are written by one task.** A worker's save marks the issue's rows pending (in
//!   the state, so a crash repairs them); the table writer applies everything pending as soon
//!   as it is told, so a burst of issues costs one rewrite per month file, not one per issue.
//! - **Failures back off, then park.** A failure caused by Jira failing (after the client's
//!   own retries) is retried every [`TRANSIENT_RETRY`](queue::TRANSIENT_RETRY) without limit and without counting; any
//!   other failure counts, backs off exponentially and parks the key after `max_attempts`
//!   (`[run] max_attempts`; listed by `status`; retried when the issue next changes). The first success after a
//!   failure makes every waiting key due at once, so an outage is caught up promptly.
//! - **Schedules** come from tokio-cron-scheduler; each job kind runs one at a time (a tick
//!   arriving while the previous run is busy is skipped with a debug line). A catch-up sweep
//!   runs at start, so downtime is always covered.
//! - **Shutdown**: when `stop` is cancelled, triggers stop taking work, workers finish the
//!   issue in hand, the table writer applies what is pending, and `run` returns, within
//!   `[run] shutdown_grace_secs`; past it, what is still in flight is abandoned (its key is still in the
//!   durable queue, and the next start repairs half-written rows).

mod metrics;
pub mod sweep;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use tokio::sync::{Notify, mpsc};
use tokio::task::JoinSet;
use tokio_cron_scheduler::{Job, JobScheduler};
use tokio_util::sync::CancellationToken;

use crate::config::Config;
use crate::job::{self, Finished, JobContext, JobError, RunRecord, Scheduled};
use crate::pipeline::queue::{self, Queue, retry_delay_ms};
use crate::pipeline::{self, MissingPart, Outcome, Pipeline};
use crate::state::{self, Pushed};
use crate::time::now_ms;
use crate::triggers::mail::extract::Notification;
use crate::triggers::mail::pass::{self as mail_pass, MailSummary, Sink, Taken};
use crate::triggers::mail::watch::{WatchOptions, watch_task};
use crate::triggers::{reconcile, sla_poll};

/// The queue source of keys a scope search listed (trusted to be in scope, unlike keys that
/// mail, a webhook or a retry named).
pub(crate) const SWEEP_SOURCE: &str = "sweep";

/// What stops the daemon other than a signal.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A schedule could not be set up.
    #[error("schedule `{name}`: {message}")]
    Schedule {
        /// `sweep`, `sla_poll`, `reconcile` or `scheduler`.
        name: &'static str,
        /// What the scheduler said.
        message: String,
    },
    /// A fatal pipeline error (credentials, state database, tables).
    #[error(transparent)]
    Pipeline(#[from] pipeline::Error),
    /// The state database failed.
    #[error(transparent)]
    State(#[from] state::Error),
    /// The mailbox trigger failed fatally.
    #[error(transparent)]
    Mail(#[from] mail_pass::Error),
    /// The webhook receiver failed (its address could not be bound).
    #[cfg(feature = "webhook")]
    #[error(transparent)]
    Webhook(#[from] crate::triggers::webhook::Error),
    /// The metrics endpoint (`[run] metrics_listen`) could not listen.
    #[error("metrics endpoint on {listen}: {message}")]
    Metrics {
        /// The configured address.
        listen: std::net::SocketAddr,
        /// Why.
        message: String,
    },
    /// A task of the daemon panicked (a bug): the daemon drains and exits non-zero, so a
    /// service manager restarts it.
    #[error("the daemon's {task} task panicked: {message}")]
    Panicked {
        /// Which task (`worker`, `sweep`, `mail watch`, …).
        task: &'static str,
        /// The panic message.
        message: String,
    },
    /// A task that runs until shutdown ended by itself (a bug).
    #[error("the daemon's {task} task ended unexpectedly")]
    Ended {
        /// Which task.
        task: &'static str,
    },
}

/// What a supervised task of the daemon returns: its name and how it ended.
type TaskEnd = (&'static str, Result<(), Error>);

/// Turns the end of a supervised task into the error that stops the daemon, if any. A task
/// that returns `Ok` before shutdown was asked for ended by mistake; a panic is an error
/// whatever the time.
fn task_error(
    ended: Result<TaskEnd, tokio::task::JoinError>,
    task_of_panic: &'static str,
    stopping: bool,
) -> Option<Error> {
    match ended {
        Ok((_, Err(e))) => Some(e),
        Ok((task, Ok(()))) if !stopping => Some(Error::Ended { task }),
        Ok(_) => None,
        Err(e) if e.is_panic() => {
            let message = crate::panic_message(&*e.into_panic());
            tracing::error!(task = task_of_panic, %message, "A daemon task panicked; stopping.");
            Some(Error::Panicked {
                task: task_of_panic,
                message,
            })
        }
        // Aborted: only after the grace period, when the outcome no longer matters.
        Err(_) => None,
    }
}

/// How the daemon runs.
#[derive(Debug, Clone)]
pub struct DaemonOptions {
    /// Workers (issues processed at once).
    pub parallel: usize,
    /// Counted failures before a key is parked.
    pub max_attempts: i64,
    /// Shutdown grace period.
    pub grace: Duration,
}

/// Runs the daemon until `stop` is cancelled (returns `Ok`) or a fatal error.
pub async fn run(
    config: Arc<Config>,
    pipeline: Pipeline,
    options: DaemonOptions,
    stop: CancellationToken,
) -> Result<(), Error> {
    let state = pipeline.state().clone();
    let recovered = state.queue_recover()?;
    let queue = Arc::new(Queue::new(state.clone(), queue::CAPACITY));
    tracing::info!(
        workers = options.parallel,
        queued = state.queue_depth()?,
        recovered,
        imap = config.imap.is_some(),
        "Daemon started."
    );
    let tables = Arc::new(Notify::new());
    let mut tasks: JoinSet<TaskEnd> = JoinSet::new();
    let recovering = Arc::new(AtomicBool::new(false));

    // Workers, then the table writer (it ends after them: see below).
    let workers_stop = stop.clone();
    let mut workers: JoinSet<TaskEnd> = JoinSet::new();
    for n in 0..options.parallel.max(1) {
        let work = worker(
            n,
            pipeline.clone(),
            queue.clone(),
            tables.clone(),
            recovering.clone(),
            options.max_attempts,
            workers_stop.clone(),
        );
        workers.spawn(async move { ("worker", work.await) });
    }
    let writer_stop = CancellationToken::new();
    let mut writer = tokio::spawn(table_writer(
        pipeline.clone(),
        tables.clone(),
        writer_stop.clone(),
    ));
    let mut writer_ended = false;

    let job = JobContext {
        pipeline: pipeline.clone(),
        queue: queue.clone(),
        config: config.clone(),
        parallel: options.parallel,
        stop: stop.clone(),
    };
    let mut scheduler = start_schedules(&job, &tables, &mut tasks).await?;
    start_triggers(&job, &mut tasks);

    // Until a signal, or a task ends: with a fatal error, a panic, or by itself (a bug).
    let mut failure: Option<Error> = None;
    tokio::select! {
        () = stop.cancelled() => {}
        Some(ended) = tasks.join_next() => failure = task_error(ended, "trigger", stop.is_cancelled()),
        Some(ended) = workers.join_next() => failure = task_error(ended, "worker", stop.is_cancelled()),
        ended = &mut writer => {
            writer_ended = true;
            failure = task_error(ended.map(|r| ("table writer", r)), "table writer", false);
        }
    }
    stop.cancel();
    tracing::info!("Daemon stopping: no new work is taken; issues in hand are finished.");
    let _ = scheduler.shutdown().await;
    drain(&mut tasks, &mut workers, options.grace, &mut failure).await;
    writer_stop.cancel();
    if !writer_ended {
        match tokio::time::timeout(options.grace, writer).await {
            Ok(ended) => {
                if let Some(e) =
                    task_error(ended.map(|r| ("table writer", r)), "table writer", true)
                {
                    failure.get_or_insert(e);
                }
            }
            Err(_) => tracing::warn!(
                "Table writer did not finish; pending rows are applied at the next start."
            ),
        }
    }
    match failure {
        Some(e) => Err(e),
        None => {
            tracing::info!(queued = state.queue_depth()?, "Daemon stopped.");
            Ok(())
        }
    }
}

/// Starts the scheduler and one task per [`schedules`] entry: the scheduler only sends
/// ticks, each job's task runs them in turn (and a catch-up run at once where it asks).
async fn start_schedules(
    job: &JobContext,
    tables: &Arc<Notify>,
    tasks: &mut JoinSet<TaskEnd>,
) -> Result<JobScheduler, Error> {
    let scheduler = JobScheduler::new()
        .await
        .map_err(|e| schedule_error("scheduler", e))?;
    for scheduled in schedules() {
        let (tx, rx) = mpsc::channel::<()>(1);
        add_job(&scheduler, scheduled.as_ref(), &job.config, tx.clone()).await?;
        if scheduled.catch_up() {
            let _ = tx.try_send(());
        }
        let name = scheduled.name();
        let runs = run_scheduled(scheduled, job.clone(), rx, tables.clone());
        tasks.spawn(async move { (name, runs.await) });
    }
    scheduler
        .start()
        .await
        .map_err(|e| schedule_error("scheduler", e))?;
    Ok(scheduler)
}

/// Starts the triggers that are not scheduled (the mailbox watch, the webhook receiver), the
/// metrics endpoint and the hourly pruning.
fn start_triggers(job: &JobContext, tasks: &mut JoinSet<TaskEnd>) {
    let (config, pipeline, state) = (&job.config, &job.pipeline, job.pipeline.state());
    if let Some(imap) = config.imap.clone() {
        let sink = QueueSink {
            pipeline: pipeline.clone(),
            queue: job.queue.clone(),
        };
        let options = WatchOptions::from_config(&imap);
        let recorded = state.clone();
        let watched = watch_task(
            state.clone(),
            imap,
            &config.jira.jql,
            sink,
            options,
            job.stop.clone(),
            move |summary| record_mail(&recorded, summary),
        );
        tasks.spawn(async move { ("mail watch", watched.await.map_err(Error::from)) });
    }

    #[cfg(feature = "webhook")]
    if config.webhook.is_some() {
        let receiver =
            crate::triggers::webhook::run(config.clone(), job.queue.clone(), job.stop.clone());
        tasks.spawn(async move { ("webhook", receiver.await.map_err(Error::from)) });
    }

    if let Some(listen) = config.run.metrics_listen {
        let endpoint = metrics::serve(listen, pipeline.clone(), job.stop.clone());
        tasks.spawn(async move { ("metrics", endpoint.await) });
    }

    // The webhook receiver prunes `raw/events/` itself; without it the mail records would
    // pile up, so the daemon prunes them with the same default retention.
    let events_days = (config.webhook.is_none() && config.imap.is_some())
        .then_some(crate::config::DEFAULT_WEBHOOK_RETENTION_DAYS);
    let pruning = prune(
        pipeline.clone(),
        events_days,
        config.run.quarantine_days,
        job.stop.clone(),
    );
    tasks.spawn(async move { ("pruning", pruning.await) });
}

/// Waits up to `grace` for the triggers, then the workers, to finish (keeping the first
/// failure); past it, aborts what is left.
async fn drain(
    tasks: &mut JoinSet<TaskEnd>,
    workers: &mut JoinSet<TaskEnd>,
    grace: Duration,
    failure: &mut Option<Error>,
) {
    let drained = tokio::time::timeout(grace, async {
        while let Some(ended) = tasks.join_next().await {
            if let Some(e) = task_error(ended, "trigger", true) {
                failure.get_or_insert(e);
            }
        }
        while let Some(ended) = workers.join_next().await {
            if let Some(e) = task_error(ended, "worker", true) {
                failure.get_or_insert(e);
            }
        }
    })
    .await;
    if drained.is_err() {
        tracing::warn!(
            grace_secs = grace.as_secs(),
            "Shutdown grace period over; work in flight abandoned (its keys stay queued)."
        );
        tasks.abort_all();
        workers.abort_all();
    }
}

/// The jobs the daemon runs on a schedule. Adding one: a file implementing [`Scheduled`]
/// (name, command, schedule, run) and a line here.
fn schedules() -> Vec<Box<dyn Scheduled>> {
    vec![
        Box::new(sweep::ScheduledSweep),
        Box::new(sla_poll::ScheduledSlaPoll),
        Box::new(reconcile::ScheduledReconcile),
    ]
}

async fn add_job(
    scheduler: &JobScheduler,
    scheduled: &dyn Scheduled,
    config: &Config,
    tick: mpsc::Sender<()>,
) -> Result<(), Error> {
    let name = scheduled.name();
    let job = Job::new_async(scheduled.schedule(config).as_str(), move |_, _| {
        let tick = tick.clone();
        Box::pin(async move {
            if tick.try_send(()).is_err() {
                tracing::debug!(job = name, "Previous run still busy; tick skipped.");
            }
        })
    })
    .map_err(|e| schedule_error(name, e))?;
    scheduler
        .add(job)
        .await
        .map_err(|e| schedule_error(name, e))?;
    Ok(())
}

fn schedule_error(name: &'static str, e: impl std::fmt::Display) -> Error {
    Error::Schedule {
        name,
        message: e.to_string(),
    }
}

/// Runs `scheduled` for each tick until shutdown (through the pipeline, under the same
/// per-issue locks as the workers), recording each run. A failed run is logged and recorded
/// and the next tick tries again (quietly while Jira is down: the health endpoint says so);
/// a fatal one stops the daemon.
async fn run_scheduled(
    scheduled: Box<dyn Scheduled>,
    job: JobContext,
    mut ticks: mpsc::Receiver<()>,
    tables: Arc<Notify>,
) -> Result<(), Error> {
    let name = scheduled.name();
    loop {
        tokio::select! {
            () = job.stop.cancelled() => return Ok(()),
            tick = ticks.recv() => if tick.is_none() { return Ok(()) },
        }
        let run = RunRecord::start(job.pipeline.state(), scheduled.command())?;
        let result = scheduled.run(&job).await;
        tables.notify_one();
        match result {
            Ok(Some(done)) => {
                tracing::info!(job = name, summary = %done.line, "Scheduled run done.");
                run.finished(&done)?;
            }
            Ok(None) => run.stopped()?,
            Err(JobError::Fatal(e)) => {
                let _ = run.failed(&e);
                return Err(e.into());
            }
            Err(JobError::Failed(error)) => {
                if job.pipeline.jira().is_down() {
                    tracing::debug!(job = name, %error, "Scheduled run failed; the next tick retries.");
                } else {
                    tracing::warn!(job = name, %error, "Scheduled run failed; the next tick retries.");
                }
                run.failed(&error)?;
            }
        }
    }
}

/// Takes keys from the queue and runs them through the pipeline until shutdown.
async fn worker(
    n: usize,
    pipeline: Pipeline,
    queue: Arc<Queue>,
    tables: Arc<Notify>,
    recovering: Arc<AtomicBool>,
    max_attempts: i64,
    stop: CancellationToken,
) -> Result<(), Error> {
    let state = pipeline.state().clone();
    loop {
        if stop.is_cancelled() {
            return Ok(());
        }
        let Some(item) = queue.take()? else {
            let wait = match state.queue_next_due()? {
                Some(due) => Duration::from_millis(
                    u64::try_from(due - now_ms()).unwrap_or(0).clamp(10, 1000),
                ),
                None => Duration::from_secs(1),
            };
            tokio::select! {
                () = queue.wait_for_work(wait) => {}
                () = stop.cancelled() => return Ok(()),
            }
            continue;
        };
        let result = match queue::Entry::parse(&item.issue_key) {
            // A sweep lists only issues of the scope; mail, webhooks and retries merely name
            // keys, so an issue the mirror does not hold yet must be confirmed in scope.
            Some(queue::Entry::Key(key)) if item.source == SWEEP_SOURCE => pipeline
                .process_key_since(&key, item.enqueued_ms)
                .await
                .map(Some),
            Some(queue::Entry::Key(key)) => pipeline
                .process_named(&key, Some(item.enqueued_ms))
                .await
                .map(Some),
            Some(queue::Entry::Id(id)) => pipeline.process_id(id).await,
            None => {
                tracing::warn!(key = %item.issue_key, "Queued key is not an issue key; dropped.");
                queue.done(&item.issue_key)?;
                continue;
            }
        };
        let key = &item.issue_key;
        match result {
            // Saved without a part Jira refused: the issue and its rows are in the mirror;
            // the key is retried like a failure (backoff, then parked) for the missing part.
            Ok(Some(Outcome::Saved { missing, .. })) if !missing.is_empty() => {
                tables.notify_one();
                for m in &missing {
                    tracing::warn!(%key, part = %m.part, error = %m.error, "Issue saved without a part Jira refused.");
                }
                let parked = state.queue_failed(
                    key,
                    &MissingPart::summary(&missing),
                    true,
                    max_attempts,
                    |attempts| retry_delay_ms(false, attempts),
                )?;
                if parked {
                    tracing::warn!(%key, attempts = max_attempts, "Issue parked incomplete after repeated refusals; retried when it changes (see `status`).");
                }
            }
            Ok(outcome) => {
                queue.done(&item.issue_key)?;
                tables.notify_one();
                match &outcome {
                    Some(Outcome::Unchanged(_)) => {
                        tracing::debug!(worker = n, %key, source = %item.source, "Already fresh; not fetched again.")
                    }
                    _ => {
                        tracing::debug!(worker = n, %key, source = %item.source, ?outcome, "Issue processed.")
                    }
                }
                if recovering.swap(false, Ordering::SeqCst) {
                    let released = state.queue_release_backoff()?;
                    if released > 0 {
                        tracing::info!(released, "Jira answers again; waiting issues retried now.");
                        queue.wake_all();
                    }
                }
            }
            Err(e) if e.is_fatal() => return Err(e.into()),
            Err(e) => {
                let transient = e.is_transient();
                if transient {
                    recovering.store(true, Ordering::SeqCst);
                }
                let parked = state.queue_failed(
                    &item.issue_key,
                    &e.to_string(),
                    !transient,
                    max_attempts,
                    |attempts| retry_delay_ms(transient, attempts),
                )?;
                if parked {
                    tracing::warn!(%key, error = %e, attempts = max_attempts, "Issue parked after repeated failures; retried when it changes (see `status`).");
                } else if pipeline.jira().is_down() {
                    tracing::debug!(%key, error = %e, "Issue failed while Jira is down; queued for retry.");
                } else {
                    tracing::warn!(%key, error = %e, "Issue failed; queued for retry.");
                }
            }
        }
    }
}

/// At start and every hour: removes `quarantine/` day folders older than
/// `quarantine_days`, `raw/events/` day folders older than `events_days` when given, and
/// runs older than [`crate::state::RUNS_KEPT_DAYS`] (see [`state::State::prune_runs`]).
async fn prune(
    pipeline: Pipeline,
    events_days: Option<u32>,
    quarantine_days: u32,
    stop: CancellationToken,
) -> Result<(), Error> {
    loop {
        let (p, today) = (pipeline.clone(), chrono::Utc::now().date_naive());
        let pruned = tokio::task::spawn_blocking(move || {
            let events = events_days.map(|days| p.audit().prune(today, days));
            let quarantine = p.store().prune_quarantine(today, quarantine_days);
            let runs = p
                .state()
                .prune_runs(crate::time::now_ms(), crate::state::RUNS_KEPT_DAYS);
            (events, quarantine, runs)
        })
        .await;
        if let Ok((events, quarantine, runs)) = pruned {
            match runs {
                Ok(0) => {}
                Ok(removed) => tracing::debug!(removed, "Old runs removed from state.db."),
                Err(e) => tracing::warn!(error = %e, "Could not prune old runs."),
            }
            match events {
                Some(Ok(0)) | None => {}
                Some(Ok(removed)) => tracing::info!(removed, "Old audit folders removed."),
                Some(Err(e)) => tracing::warn!(error = %e, "Could not prune raw/events."),
            }
            match quarantine {
                Ok(0) => {}
                Ok(removed) => tracing::info!(removed, "Old quarantine folders removed."),
                Err(e) => tracing::warn!(error = %e, "Could not prune quarantine/."),
            }
        }
        tokio::select! {
            () = stop.cancelled() => return Ok(()),
            () = tokio::time::sleep(Duration::from_secs(3600)) => {}
        }
    }
}

/// First wait of the table writer after a failed write; doubles up to [`WRITER_BACKOFF_MAX`].
const WRITER_BACKOFF_MIN: Duration = Duration::from_secs(1);
/// Longest wait of the table writer between failed writes.
const WRITER_BACKOFF_MAX: Duration = Duration::from_secs(300);

/// Applies pending table rows whenever told, and once more when stopped.
///
/// It never gives up: a failed write (disk full, a permission error, a month file it cannot
/// rebuild) is logged, recorded for `status` and the health endpoint, and retried with
/// exponential backoff while workers keep saving raw JSON (their rows stay pending, durably);
/// the first write that works again says so and clears the record. A panic inside the write
/// (a bug) is the one error it returns: the daemon then drains and exits non-zero.
async fn table_writer(
    pipeline: Pipeline,
    tables: Arc<Notify>,
    stop: CancellationToken,
) -> Result<(), Error> {
    let state = pipeline.state().clone();
    let mut problem: Option<state::TableWriterProblem> = None;
    let mut backoff = WRITER_BACKOFF_MIN;
    let mut stopping = false;
    loop {
        // After a failure the backoff below is the wait: the rows are pending already.
        if !stopping && problem.is_none() {
            stopping = tokio::select! {
                () = tables.notified() => false,
                () = stop.cancelled() => true,
            };
        }
        match pipeline.apply_pending().await {
            Ok(_) => {
                if let Some(p) = problem.take() {
                    tracing::info!(failed_attempts = p.attempts, "Tables are written again.");
                    if let Err(e) = state.clear_table_writer_problem() {
                        tracing::warn!(error = %e, "Could not clear the table writer's problem record.");
                    }
                }
                backoff = WRITER_BACKOFF_MIN;
                if stopping {
                    return Ok(());
                }
            }
            Err(e) if e.is_panic() => {
                tracing::error!(error = %e, "Writing the tables panicked; stopping.");
                return Err(e.into());
            }
            Err(e) => {
                let p = problem.get_or_insert_with(|| state::TableWriterProblem {
                    error: String::new(),
                    since_ms: now_ms(),
                    attempts: 0,
                });
                p.attempts += 1;
                p.error = e.to_string();
                if p.attempts == 1 || p.attempts.is_power_of_two() {
                    tracing::error!(error = %e, attempts = p.attempts, retry_in_secs = backoff.as_secs(), "Tables could not be written; raw JSON is still saved and the rows stay pending. Retrying.");
                }
                if let Err(e) = state.set_table_writer_problem(p) {
                    tracing::warn!(error = %e, "Could not record the table writer's problem.");
                }
                if stopping {
                    tracing::warn!(
                        "Tables not written at shutdown; pending rows are applied at the next start."
                    );
                    return Ok(());
                }
                tokio::select! {
                    () = tokio::time::sleep(backoff) => {}
                    () = stop.cancelled() => stopping = true,
                }
                backoff = (backoff * 2).min(WRITER_BACKOFF_MAX);
            }
        }
    }
}

/// The mailbox trigger's sink in the daemon: a notification's keys are queued (durably), so
/// the mail can be flagged `\Seen` at once. Ids (Data Center threading headers) the state
/// knows are queued as their key; unknown ones as `id:<id>` rows, which a worker resolves
/// through Jira (scope-checked), so the IMAP pass never waits for Jira.
struct QueueSink {
    pipeline: Pipeline,
    queue: Arc<Queue>,
}

impl Sink for QueueSink {
    async fn take(
        &self,
        notification: &Notification,
        summary: &mut MailSummary,
        _progress: &indicatif::ProgressBar,
    ) -> Result<Taken, mail_pass::Error> {
        let named = mail_pass::named_issues(self.pipeline.state(), notification)?;
        let rows: Vec<String> = named
            .keys
            .iter()
            .map(|key| key.as_str().to_owned())
            .chain(named.id_rows.iter().cloned())
            .collect();
        let pushed = self.queue.push_all(&rows, "mail").await?;
        for (row, pushed) in rows.iter().zip(&pushed) {
            tracing::debug!(row, ?pushed, "Issue from mail queued.");
            debug_assert!(*pushed != Pushed::Parked, "mail carries no updated hint");
        }
        summary.ids_queued += named.id_rows.len() as u64;
        Ok(Taken::Durable)
    }

    fn audit(&self) -> Option<&crate::pipeline::events::Audit> {
        Some(self.pipeline.audit())
    }
}

/// Records a mail pass that did something as a `mail` run, for `status`.
fn record_mail(state: &state::State, summary: &MailSummary) {
    if let Err(e) = job::record(state, "mail", &Finished::of(&QueuedMail(summary))) {
        tracing::warn!(error = %e, "Could not record the mail pass.");
    }
}

/// A mail pass of the daemon as its run record counts it: the daemon's sink queues the
/// issues instead of processing them, so the pass's own work is what it did: mails
/// acknowledged (saved) and left for a retry (failed); it is partial when a mail waits for a
/// retry or was given up.
#[derive(Debug, serde::Serialize)]
#[serde(transparent)]
struct QueuedMail<'a>(&'a MailSummary);

impl job::Report for QueuedMail<'_> {
    fn counts(&self) -> (u64, u64) {
        (self.0.acknowledged, self.0.retry_later)
    }
    fn complete(&self) -> bool {
        self.0.retry_later == 0 && self.0.given_up == 0
    }
    fn line(&self) -> String {
        self.0.line()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_panic_or_a_task_ending_by_itself_stops_the_daemon_with_an_error() {
        let panicked = tokio::spawn(async { panic!("boom in a worker") }).await;
        let Some(Error::Panicked { task, message }) =
            task_error(panicked.map(|()| ("worker", Ok(()))), "worker", false)
        else {
            panic!("a panic is an error");
        };
        assert_eq!((task, message.as_str()), ("worker", "boom in a worker"));
        let formatted = tokio::spawn(async { panic!("{} failed", "month") }).await;
        assert!(matches!(
            task_error(formatted.map(|()| ("sweep", Ok(()))), "trigger", true),
            Some(Error::Panicked { message, .. }) if message == "month failed"
        ));
        // Ending by itself before shutdown is a bug; at shutdown it is the plan.
        assert!(matches!(
            task_error(Ok(("sweep", Ok(()))), "trigger", false),
            Some(Error::Ended { task: "sweep" })
        ));
        assert!(task_error(Ok(("sweep", Ok(()))), "trigger", true).is_none());
        // An aborted task (after the grace period) is no verdict.
        let aborted = tokio::spawn(std::future::pending::<()>());
        aborted.abort();
        assert!(task_error(aborted.await.map(|()| ("x", Ok(()))), "x", true).is_none());
    }
}
