//! One pass over the mailbox: read what is new, act on Jira notifications, acknowledge.
//!
//! The order is what keeps "nothing lost, nothing doubled" for mail: a message is read with
//! `BODY.PEEK[]` (never flagged by reading), the issues it names are made durable (saved with
//! their table rows, or put on the durable queue), and only then is it flagged `\Seen`. A
//! crash anywhere before the flag leaves the mail unseen, and the next pass handles it again —
//! once, since the pipeline is idempotent and the flag is set right after. Mail the trigger
//! will not act on is handled by the configured policy with one log line, and never stops the
//! pass.
//!
//! **The cursor never waits for a failing mail.** The state keeps, per mailbox, the UID at or
//! below which every mail was acknowledged, rejected or put into the *retry set*, and a pass
//! looks at the unseen mail, everything above the cursor, and the retry set's mails that are
//! due. A mail whose issue fails goes into the retry set (attempts, last error, next try:
//! one poll interval after the first counted failure, doubling up to an hour) and is tried
//! again on a later pass; the mails after it are not read again meanwhile. After `[imap]
//! max_attempts` counted failures (a failure of Jira itself, 5xx or timeouts, is not counted)
//! the mail is given up: handled like rejected mail by `on_rejected`, with one warning, and
//! remembered so it is not tried again.
//!
//! **Issue ids are not resolved inside the pass.** A Data Center notification may name its
//! issue only by id (`<JIRA.{id}.…@Atlassian.JIRA>`). An id the state knows is its key; an
//! unknown one becomes an `id:<id>` row of the durable queue (`pipeline::queue::Entry::id`), so
//! the mail is acknowledged without asking Jira, and one forged mail naming many ids costs the
//! pass no Jira request. In `run` the daemon's workers resolve those rows (coalescing, retries,
//! parking); the one-shot `mail` command resolves them itself after its IMAP session
//! ([`Sink::after_pass`]), and a crash in between leaves them queued for the next `mail` or
//! `run`. At most [`extract::MAX_ISSUE_IDS`] ids are taken from one mail.

use std::collections::{BTreeMap, BTreeSet};
use std::future::Future;
use std::sync::Mutex;
use std::time::Duration;

use futures::StreamExt;
use indicatif::ProgressBar;

use super::extract::{self, ExtractOptions, Verdict};
use super::imap::{self, ImapSettings, Session};
use crate::config::{ImapConfig, RejectPolicy};
use crate::key::IssueKey;
use crate::pipeline::events::Audit;
use crate::pipeline::queue::Entry;
use crate::pipeline::{self, Pipeline};
use crate::state::{MailRetry, State};
use crate::time::now_ms;
use crate::triggers::{Summary, record_issue_failure, record_missing_parts};

/// The longest wait before a failed mail is tried again (unless the poll interval is longer).
pub(crate) const RETRY_MAX: Duration = Duration::from_secs(3600);

/// The most queued issue ids the `mail` command resolves after one pass; the others wait for
/// the next pass or for `run`.
pub(crate) const MAX_IDS_RESOLVED: usize = 1_000;

/// The queue's `source` for what mail names.
const SOURCE: &str = "mail";

/// Errors that stop a pass (the mailbox or the mirror is unusable); per-mail problems are
/// not errors.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// IMAP failed.
    #[error("mailbox: {0}")]
    Imap(#[from] imap::Error),
    /// The pipeline hit a fatal error (credentials, state database).
    #[error(transparent)]
    Pipeline(#[from] pipeline::Error),
    /// The state database failed.
    #[error(transparent)]
    State(#[from] crate::state::Error),
}

/// What a pass did.
#[derive(Debug, Default, Clone, PartialEq, Eq, serde::Serialize)]
pub struct MailSummary {
    /// Mails whose issues were made durable and that were flagged `\Seen`.
    pub acknowledged: u64,
    /// Mails not acted on (sender, size, not Jira, malformed, no key in scope).
    pub rejected: u64,
    /// Mails left unseen because an issue they name failed (in the retry set: tried again on
    /// a later pass).
    pub retry_later: u64,
    /// Mails given up after `[imap] max_attempts` failed attempts (handled like rejected mail).
    pub given_up: u64,
    /// Mails downloaded (`BODY.PEEK[]`) by this pass.
    pub fetched: u64,
    /// Issue ids the state did not know, put on the durable queue as `id:<id>` rows.
    pub ids_queued: u64,
    /// What happened to the issues.
    pub issues: Summary,
}

/// The connection settings of `[imap]`.
pub fn settings(config: &ImapConfig) -> ImapSettings {
    ImapSettings {
        host: config.host.clone(),
        port: config.port,
        security: config.security,
        username: config.username.clone(),
        password: config.password.expose().to_string(),
        mailbox: config.mailbox.clone(),
        ca_file: config.ca_file.clone(),
        timeout: Duration::from_secs(30),
    }
}

/// What a [`Sink`] made of a notification.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Taken {
    /// Every issue it names is durable (saved, or on the durable queue): the mail may be
    /// flagged `\Seen`.
    Durable,
    /// An issue failed: the mail goes into the retry set.
    Failed {
        /// What failed (the first failing issue and its error), for the log and the state.
        error: String,
        /// Whether the attempt counts towards `[imap] max_attempts`; false when every failure
        /// was Jira failing (5xx, timeouts, after the client's retries), which is retried
        /// without counting, as the daemon does.
        counts: bool,
    },
}

/// What a pass does with a Jira notification: make every issue it names durable, either
/// by running it through the pipeline now (the `mail` command) or by putting it on the
/// daemon's durable queue. The mail is acknowledged only when this says all are durable.
pub trait Sink {
    /// Makes the issues of `notification` durable. Issue ids the state does not know must
    /// not be resolved through Jira here (that is [`Sink::after_pass`]'s or a worker's job):
    /// they go on the durable queue.
    fn take(
        &self,
        notification: &extract::Notification,
        summary: &mut MailSummary,
        progress: &ProgressBar,
    ) -> impl Future<Output = Result<Taken, Error>> + Send;

    /// Work left for after the pass, outside the IMAP commands (the `mail` command resolves
    /// the issue ids it queued). Nothing by default.
    fn after_pass(
        &self,
        summary: &mut MailSummary,
        progress: &ProgressBar,
    ) -> impl Future<Output = Result<(), Error>> + Send {
        let _ = (summary, progress);
        async { Ok(()) }
    }

    /// Where a record of each mail acted on goes (`raw/events/`), if anywhere.
    fn audit(&self) -> Option<&Audit> {
        None
    }
}

/// The `mail` command's sink: each notification's keys (and the keys of the ids the state
/// knows) run through the pipeline, and their table rows are written, before the mail is
/// acknowledged; unknown ids are queued durably and resolved after the pass.
#[derive(Debug, Clone)]
pub struct ProcessNow {
    /// The pipeline.
    pub pipeline: Pipeline,
    /// Issues processed at once.
    pub parallel: usize,
}

impl Sink for ProcessNow {
    async fn take(
        &self,
        notification: &extract::Notification,
        summary: &mut MailSummary,
        progress: &ProgressBar,
    ) -> Result<Taken, Error> {
        handle(
            &self.pipeline,
            notification,
            self.parallel,
            summary,
            progress,
        )
        .await
    }

    async fn after_pass(
        &self,
        summary: &mut MailSummary,
        progress: &ProgressBar,
    ) -> Result<(), Error> {
        resolve_queued_ids(&self.pipeline, self.parallel, &mut summary.issues, progress)
            .await
            .map(drop)
    }

    fn audit(&self) -> Option<&Audit> {
        Some(self.pipeline.audit())
    }
}

/// One pass: connect, handle every new mail, disconnect.
pub async fn pass(
    pipeline: &Pipeline,
    config: &ImapConfig,
    projects: &[String],
    parallel: usize,
    progress: &ProgressBar,
) -> Result<MailSummary, Error> {
    let mut session = Session::connect(&settings(config)).await?;
    let sink = ProcessNow {
        pipeline: pipeline.clone(),
        parallel,
    };
    let result = pass_on(
        pipeline.state(),
        &mut session,
        config,
        projects,
        &sink,
        progress,
    )
    .await;
    if let Err(e) = session.logout().await {
        tracing::debug!(error = %e, "IMAP logout failed.");
    }
    let mut summary = result?;
    sink.after_pass(&mut summary, progress).await?;
    Ok(summary)
}

/// One pass on an open session (the watch loop keeps its session between passes); `sink`
/// decides what acting on a notification means.
pub async fn pass_on(
    state: &State,
    session: &mut Session,
    config: &ImapConfig,
    projects: &[String],
    sink: &impl Sink,
    progress: &ProgressBar,
) -> Result<MailSummary, Error> {
    let mailbox = config.mailbox.as_str();
    let validity = session.mailbox().uid_validity;
    let after_uid = cursor_of(state, mailbox, validity)?;
    let remembered: BTreeSet<u32> = state
        .mail_rejected(mailbox, validity)?
        .into_iter()
        .collect();
    let started_ms = now_ms();
    let retries: BTreeMap<u32, MailRetry> = state
        .mail_retries(mailbox, validity)?
        .into_iter()
        .map(|r| (r.uid, r))
        .collect();
    let waiting = |uid: &u32| retries.get(uid).is_some_and(|r| r.next_try_ms > started_ms);
    let mut candidates: BTreeSet<u32> = session.candidates(after_uid).await?.into_iter().collect();
    // The retry set is a source of its own: a failed mail someone has opened since is neither
    // unseen nor above the cursor.
    candidates.extend(retries.keys().filter(|uid| !waiting(uid)));
    let work: Vec<u32> = candidates
        .iter()
        .copied()
        .filter(|uid| !remembered.contains(uid) && !waiting(uid))
        .collect();
    let mut summary = MailSummary::default();
    // Every UID at or below `cursor` is acknowledged, rejected or in the retry set. It moves
    // in UID order, so a pass that stops half-way leaves the rest above it.
    let mut stored = after_uid.unwrap_or(0);
    let mut cursor = stored;
    let sizes: std::collections::HashMap<u32, u32> =
        session.sizes(&work).await?.into_iter().collect();
    let options = ExtractOptions {
        projects,
        allowed_senders: &config.allowed_senders,
        max_bytes: usize::try_from(config.max_message_bytes).unwrap_or(usize::MAX),
    };
    let wanted: BTreeSet<u32> = work.iter().copied().collect();
    for uid in candidates {
        if !wanted.contains(&uid) {
            cursor = cursor.max(uid);
            continue;
        }
        let retry = retries.get(&uid);
        let verdict = match sizes.get(&uid) {
            Some(&size) if u64::from(size) > config.max_message_bytes => Verdict::Rejected {
                reason: extract::Rejection::TooLarge {
                    bytes: size as usize,
                },
            },
            _ => match session.fetch(uid).await? {
                Some(mail) => {
                    summary.fetched += 1;
                    extract::classify(&mail.raw, &options)
                }
                None => {
                    // Expunged or moved meanwhile (by someone else).
                    if retry.is_some() {
                        state.clear_mail_retry(mailbox, validity, uid)?;
                    }
                    cursor = cursor.max(uid);
                    continue;
                }
            },
        };
        match verdict {
            Verdict::Rejected { reason } => {
                reject(session, state, config, validity, uid, &reason.to_string()).await?;
                if retry.is_some() {
                    state.clear_mail_retry(mailbox, validity, uid)?;
                }
                summary.rejected += 1;
            }
            Verdict::Jira(notification) => {
                if notification.issue_ids_dropped > 0 {
                    tracing::warn!(
                        uid,
                        message_id = notification.message_id.as_deref().unwrap_or("-"),
                        taken = notification.issue_ids.len(),
                        dropped = notification.issue_ids_dropped,
                        "Mail names more issue ids than are taken from one mail; the others are dropped."
                    );
                }
                match sink.take(&notification, &mut summary, progress).await? {
                    Taken::Durable => {
                        if let Some(audit) = sink.audit() {
                            record(audit, config, validity, uid, &notification).await;
                        }
                        session.mark_seen(uid).await?;
                        if retry.is_some() {
                            state.clear_mail_retry(mailbox, validity, uid)?;
                        }
                        summary.acknowledged += 1;
                        tracing::info!(uid, keys = ?notification.keys, ids = ?notification.issue_ids, "Mail handled.");
                    }
                    Taken::Failed { error, counts } => {
                        let attempts = retry.map_or(0, |r| r.attempts) + i64::from(counts);
                        let given_up = retry_or_give_up(
                            session,
                            state,
                            config,
                            (validity, uid),
                            &notification,
                            attempts,
                            &error,
                        )
                        .await?;
                        if given_up {
                            summary.given_up += 1;
                        } else {
                            summary.retry_later += 1;
                        }
                    }
                }
            }
        }
        cursor = cursor.max(uid);
        if cursor > stored {
            state.set_mail_cursor(mailbox, validity, cursor)?;
            stored = cursor;
        }
    }
    // Remembered or waiting mail above the last one read: passed too.
    if cursor > stored {
        state.set_mail_cursor(mailbox, validity, cursor)?;
    }
    Ok(summary)
}

/// The cursor of `mailbox` (the last UID passed), reset when the mailbox's UIDVALIDITY
/// changed (it was recreated: every unseen mail is examined again).
fn cursor_of(state: &State, mailbox: &str, validity: u32) -> Result<Option<u32>, Error> {
    Ok(match state.mail_cursor(mailbox)? {
        Some((v, last)) if v == validity => Some(last),
        Some((v, _)) => {
            tracing::warn!(
                mailbox,
                old = v,
                new = validity,
                "UIDVALIDITY changed: the mailbox was recreated; every unseen mail is examined again."
            );
            state.set_mail_cursor(mailbox, validity, 0)?;
            None
        }
        None => None,
    })
}

/// A mail whose issues failed after `attempts` counted tries: left unseen in the retry set
/// with a backoff, or given up on past `max_attempts` (returns `true` then).
async fn retry_or_give_up(
    session: &mut Session,
    state: &State,
    config: &ImapConfig,
    (validity, uid): (u32, u32),
    notification: &extract::Notification,
    attempts: i64,
    error: &str,
) -> Result<bool, Error> {
    if attempts >= i64::from(config.max_attempts) {
        give_up(
            session,
            state,
            config,
            validity,
            uid,
            notification,
            attempts,
            error,
        )
        .await?;
        return Ok(true);
    }
    let wait = retry_delay(Duration::from_secs(config.poll_interval_secs), attempts);
    state.record_mail_retry(
        &config.mailbox,
        validity,
        &MailRetry {
            uid,
            message_id: notification.message_id.clone(),
            attempts,
            last_error: error.to_owned(),
            next_try_ms: now_ms()
                .saturating_add(i64::try_from(wait.as_millis()).unwrap_or(i64::MAX)),
        },
    )?;
    tracing::warn!(
        uid,
        attempts,
        max_attempts = config.max_attempts,
        retry_in_secs = wait.as_secs(),
        %error,
        "Mail left unseen: an issue it names failed; tried again later."
    );
    Ok(false)
}

/// The wait before a failed mail is tried again: one poll interval after its first counted
/// failure (or after failures that did not count), doubling with each further one, at most
/// [`RETRY_MAX`] (or one poll interval, if that is longer).
pub(crate) fn retry_delay(poll_interval: Duration, attempts: i64) -> Duration {
    let doublings = u32::try_from(attempts.clamp(1, 20) - 1).unwrap_or(0);
    poll_interval
        .saturating_mul(1u32 << doublings)
        .min(RETRY_MAX.max(poll_interval))
}

/// A key that failed while a notification's issues were processed.
struct KeyFailure {
    key: IssueKey,
    error: String,
    transient: bool,
}

/// Makes a notification's issues durable for the `mail` command: ids the state knows become
/// their keys, unknown ids go on the durable queue; the keys run through the pipeline and
/// their rows are written.
async fn handle(
    pipeline: &Pipeline,
    notification: &extract::Notification,
    parallel: usize,
    summary: &mut MailSummary,
    progress: &ProgressBar,
) -> Result<Taken, Error> {
    let named = named_issues(pipeline.state(), notification)?;
    if !named.id_rows.is_empty() {
        pipeline.state().queue_push_all(&named.id_rows, SOURCE)?;
        tracing::debug!(rows = ?named.id_rows, "Issue ids from mail queued.");
        summary.ids_queued += named.id_rows.len() as u64;
    }
    let keys = named.keys;
    let failures = process_named(pipeline, keys, parallel, &mut summary.issues, progress).await?;
    pipeline.apply_pending().await?;
    let Some(first) = failures.first() else {
        return Ok(Taken::Durable);
    };
    let mut error = format!("{}: {}", first.key, first.error);
    if failures.len() > 1 {
        error.push_str(&format!(" (and {} more issues)", failures.len() - 1));
    }
    Ok(Taken::Failed {
        error,
        counts: failures.iter().any(|f| !f.transient),
    })
}

/// The issues a notification names, as the state knows them: no Jira request is made.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Named {
    /// Its keys, and the keys of the issue ids the state has saved.
    pub keys: BTreeSet<IssueKey>,
    /// The issue ids the state does not know, as durable queue rows (`id:<id>`), for a
    /// worker (or [`resolve_queued_ids`]) to resolve through Jira.
    pub id_rows: Vec<String>,
}

/// Splits what `notification` names into keys and unknown ids (see [`Named`]).
pub(crate) fn named_issues(
    state: &State,
    notification: &extract::Notification,
) -> Result<Named, crate::state::Error> {
    let mut named = Named {
        keys: notification.keys.clone(),
        id_rows: Vec::new(),
    };
    for &id in &notification.issue_ids {
        match state
            .key_of_id(id)?
            .and_then(|key| IssueKey::parse(&key).ok())
        {
            Some(key) => {
                named.keys.insert(key);
            }
            None => named.id_rows.push(Entry::id(id)),
        }
    }
    Ok(named)
}

/// Runs `keys` through the pipeline, `parallel` at a time, recording failures as every
/// trigger does; one the mirror does not hold is saved only if it is in the scope
/// ([`Pipeline::process_named`]). Returns the keys that failed.
async fn process_named(
    pipeline: &Pipeline,
    keys: BTreeSet<IssueKey>,
    parallel: usize,
    summary: &mut Summary,
    progress: &ProgressBar,
) -> Result<Vec<KeyFailure>, Error> {
    let mut results = futures::stream::iter(keys)
        .map(|key| async move {
            let result = pipeline.process_named(&key, None).await;
            (key, result)
        })
        .buffer_unordered(parallel.max(1));
    let mut failures = Vec::new();
    while let Some((key, result)) = results.next().await {
        match result {
            Ok(outcome) => {
                summary.count(&outcome);
                record_missing_parts(pipeline, &outcome)?;
            }
            Err(e) if e.is_fatal() => return Err(e.into()),
            Err(e) => {
                summary.failed += 1;
                record_issue_failure(pipeline, key.as_str(), &e)?;
                failures.push(KeyFailure {
                    key,
                    error: e.to_string(),
                    transient: e.is_transient(),
                });
            }
        }
        progress.inc(1);
    }
    Ok(failures)
}

/// Resolves the due `id:<id>` rows of the durable queue through Jira (what the `mail`
/// command does after its pass, where no daemon worker may be running), `parallel` at a
/// time and at most [`MAX_IDS_RESOLVED`] rows: each is fetched by id and saved when the
/// mirror holds it or Jira confirms it is in the scope ([`Pipeline::process_id`]). A row that fails stays queued with the daemon's
/// backoff (counted unless Jira was failing) and is parked after `[run] max_attempts`, like a
/// worker's. Returns the rows resolved.
pub(crate) async fn resolve_queued_ids(
    pipeline: &Pipeline,
    parallel: usize,
    summary: &mut Summary,
    progress: &ProgressBar,
) -> Result<u64, Error> {
    let state = pipeline.state();
    // Rows taken and not finished, given back if this stops on a fatal error.
    let in_hand: Mutex<BTreeSet<String>> = Mutex::default();
    let hold = |row: &str, taken: bool| {
        let mut rows = in_hand.lock().unwrap_or_else(|p| p.into_inner());
        if taken {
            rows.insert(row.to_owned());
        } else {
            rows.remove(row);
        }
    };
    // A row is in hand from the moment it is taken, before its future first runs.
    let rows = std::iter::from_fn(|| {
        let taken = state.queue_take_id().transpose();
        if let Some(Ok(item)) = &taken {
            hold(&item.issue_key, true);
        }
        taken
    })
    .take(MAX_IDS_RESOLVED);
    let mut results = futures::stream::iter(rows)
        .map(|taken| async {
            let item = taken?;
            let result = match Entry::parse(&item.issue_key) {
                Some(Entry::Id(id)) => pipeline.process_id(id).await,
                _ => {
                    tracing::warn!(row = %item.issue_key, "Queued row is not an issue id; dropped.");
                    Ok(None)
                }
            };
            Ok::<_, Error>((item, result))
        })
        .buffer_unordered(parallel.max(1));
    let mut resolved = 0;
    let mut stopped: Option<Error> = None;
    while let Some(next) = results.next().await {
        let (item, result) = match next {
            Ok(done) => done,
            Err(e) => {
                stopped = Some(e);
                break;
            }
        };
        let row = item.issue_key.as_str();
        match result {
            Ok(outcome) => {
                state.queue_done(row)?;
                if let Some(outcome) = &outcome {
                    summary.count(outcome);
                    record_missing_parts(pipeline, outcome)?;
                }
                resolved += 1;
            }
            Err(e) if e.is_fatal() => {
                stopped = Some(e.into());
                break;
            }
            Err(e) => {
                let transient = e.is_transient();
                summary.failed += 1;
                let parked = state.queue_failed(
                    row,
                    &e.to_string(),
                    !transient,
                    pipeline.max_attempts(),
                    |attempts| crate::pipeline::queue::retry_delay_ms(transient, attempts),
                )?;
                if parked {
                    tracing::warn!(%row, error = %e, "Issue id named by mail parked after repeated failures (see `status`).");
                } else if !transient || !pipeline.jira().is_down() {
                    tracing::warn!(%row, error = %e, "Issue id named by mail failed; queued for retry.");
                }
            }
        }
        hold(row, false);
        progress.inc(1);
    }
    drop(results);
    match stopped {
        None => Ok(resolved),
        Some(e) => {
            let rows = std::mem::take(&mut *in_hand.lock().unwrap_or_else(|p| p.into_inner()));
            for row in rows {
                if let Err(release) = state.queue_release(&row) {
                    tracing::warn!(%row, error = %release, "Could not give a queued row back.");
                }
            }
            Err(e)
        }
    }
}

/// Writes the audit record of a mail acted on (`raw/events/<date>/…-mail-<validity>-<uid>.json`).
/// A failure is logged, not fatal: the issues are durable already and the mail is still
/// acknowledged.
async fn record(
    audit: &Audit,
    config: &ImapConfig,
    validity: u32,
    uid: u32,
    notification: &extract::Notification,
) {
    let at = chrono::Utc::now();
    let body = serde_json::json!({
        "source": "mail",
        "at": at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        "mailbox": config.mailbox,
        "uid_validity": validity,
        "uid": uid,
        "message_id": notification.message_id,
        "keys": notification.keys.iter().map(IssueKey::as_str).collect::<Vec<_>>(),
        "issue_ids": notification.issue_ids,
        "deletion": notification.deletion,
    });
    let audit = audit.clone();
    let id = format!("{validity}-{uid}");
    let written = tokio::task::spawn_blocking(move || {
        audit.write(at, "mail", &id, body.to_string().as_bytes())
    })
    .await;
    match written {
        Ok(Ok(_)) => {}
        Ok(Err(e)) => tracing::warn!(uid, error = %e, "Could not write the mail's audit record."),
        Err(e) => tracing::warn!(uid, error = %e, "Could not write the mail's audit record."),
    }
}

async fn reject(
    session: &mut Session,
    state: &State,
    config: &ImapConfig,
    validity: u32,
    uid: u32,
    reason: &str,
) -> Result<(), Error> {
    let action = apply_policy(session, config, uid).await?;
    if config.on_rejected == RejectPolicy::Leave {
        state.record_mail_rejected(&config.mailbox, validity, uid, reason)?;
    }
    match &config.on_rejected {
        RejectPolicy::Move(folder) => {
            tracing::warn!(uid, %reason, action, folder = %folder, "Mail not acted on.");
        }
        _ => tracing::warn!(uid, %reason, action, "Mail not acted on."),
    }
    Ok(())
}

/// Gives a mail up after `attempts` failed attempts: `on_rejected` applies, then it is
/// remembered with its last error (and leaves the retry set), so it is not tried again.
#[expect(
    clippy::too_many_arguments,
    reason = "the pass's handles plus the mail's facts"
)]
async fn give_up(
    session: &mut Session,
    state: &State,
    config: &ImapConfig,
    validity: u32,
    uid: u32,
    notification: &extract::Notification,
    attempts: i64,
    error: &str,
) -> Result<(), Error> {
    let action = apply_policy(session, config, uid).await?;
    state.record_mail_rejected(
        &config.mailbox,
        validity,
        uid,
        &format!("given up after {attempts} failed attempts: {error}"),
    )?;
    tracing::warn!(
        uid,
        message_id = notification.message_id.as_deref().unwrap_or("-"),
        attempts,
        %error,
        action,
        "Mail given up after repeated failures; not tried again."
    );
    Ok(())
}

/// Applies `on_rejected` to one mail; returns what was done, for the log.
async fn apply_policy(
    session: &mut Session,
    config: &ImapConfig,
    uid: u32,
) -> Result<&'static str, Error> {
    Ok(match &config.on_rejected {
        RejectPolicy::Leave => "left unseen",
        RejectPolicy::MarkSeen => {
            session.mark_seen(uid).await?;
            "marked seen"
        }
        RejectPolicy::Move(folder) => {
            session.move_to(uid, folder).await?;
            "moved"
        }
    })
}

impl crate::job::Report for MailSummary {
    fn counts(&self) -> (u64, u64) {
        self.issues.counts()
    }
    fn complete(&self) -> bool {
        self.retry_later == 0 && self.issues.failed == 0 && self.issues.incomplete == 0
    }
    fn line(&self) -> String {
        format!(
            "{} acknowledged, {} rejected, {} left for retry, {} given up ({} read, {} issue ids queued); issues: {}",
            self.acknowledged,
            self.rejected,
            self.retry_later,
            self.given_up,
            self.fetched,
            self.ids_queued,
            self.issues.line()
        )
    }
}
