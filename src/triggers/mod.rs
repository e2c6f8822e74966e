//! Triggers: the things that decide *which* issues to run through the pipeline: the two pull
//! triggers, the incremental [`sweep`] and the full [`backfill`]; the maintenance passes
//! [`sla_poll`] (SLA figures of open requests) and [`reconcile`] (deletions and moves found by
//! an id census); the mailbox and webhook triggers feed the same [`process_listed`] /
//! [`process_keys`] helpers.
//!
//! A failed issue is not a failed run (STYLE.md habit 9): it is logged, recorded in the state
//! database with its attempt count and retried by the next sweep, while the batch goes on.
//! Only a fatal error (wrong credentials, broken state database) stops the command.

pub mod backfill;
mod listing;
pub mod mail;
pub mod reconcile;
pub mod sla_poll;
pub mod sweep;
#[cfg(feature = "webhook")]
pub mod webhook;

use futures::StreamExt;
use indicatif::ProgressBar;
use serde_json::Value;

use crate::key::IssueKey;
use crate::pipeline::{self, MissingPart, Outcome, Pipeline};

pub use listing::Search;
pub(crate) use listing::process_search;

/// What a command did to the issues it touched.
#[derive(Debug, Default, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Summary {
    /// Issues fetched and saved (new or changed).
    pub saved: u64,
    /// Issues listed but already saved at the same `updated`.
    pub unchanged: u64,
    /// Issues removed because Jira answered 404.
    pub deleted: u64,
    /// Issues saved under a new key (moved upstream).
    pub moved: u64,
    /// Issues that failed (recorded, retried later).
    pub failed: u64,
    /// Issues named by mail (or a retry) that are not in the scope: ignored.
    pub out_of_scope: u64,
    /// Issues saved without a part Jira refused (an attachment's content, remote links, …):
    /// in the mirror, and recorded as failures so they are fetched again.
    pub incomplete: u64,
    /// The keys counted in `incomplete` (a retry within the same command would only meet the
    /// same refusal).
    #[serde(skip)]
    pub incomplete_keys: Vec<IssueKey>,
}

impl Summary {
    /// Counts one outcome.
    pub fn count(&mut self, outcome: &Outcome) {
        match outcome {
            Outcome::Saved {
                key,
                moved_from,
                missing,
            } => {
                self.saved += 1;
                if moved_from.is_some() {
                    self.moved += 1;
                }
                if !missing.is_empty() {
                    self.incomplete += 1;
                    self.incomplete_keys.push(key.clone());
                }
            }
            Outcome::Unchanged(_) => self.unchanged += 1,
            Outcome::Deleted(_) => self.deleted += 1,
            Outcome::OutOfScope(_) => self.out_of_scope += 1,
        }
    }
}

/// Runs listed issues (search results) through the pipeline, `parallel` at a time.
pub async fn process_listed(
    pipeline: &Pipeline,
    issues: Vec<Value>,
    parallel: usize,
    summary: &mut Summary,
    progress: &ProgressBar,
) -> Result<(), pipeline::Error> {
    let issues: Vec<_> = issues
        .into_iter()
        .map(crate::json::DeepValue::new)
        .collect();
    let work = issues.into_iter().map(|issue| {
        let label = issue["key"].as_str().unwrap_or("?").to_string();
        async move { (label, pipeline.process_listed(issue).await) }
    });
    collect(pipeline, work, parallel, summary, progress).await
}

/// Fetches keys that mail or a retry named and runs them through the pipeline, `parallel`
/// at a time; one the mirror does not hold is saved only if it is in the scope
/// ([`Pipeline::process_named`]).
pub async fn process_keys(
    pipeline: &Pipeline,
    keys: Vec<IssueKey>,
    parallel: usize,
    summary: &mut Summary,
    progress: &ProgressBar,
) -> Result<(), pipeline::Error> {
    let work = keys.into_iter().map(|key| async move {
        let result = pipeline.process_named(&key, None).await;
        (key.to_string(), result)
    });
    collect(pipeline, work, parallel, summary, progress).await
}

/// Like [`process_keys`], but a key whose fetch started at or after `since_ms` (by another
/// process, e.g. the daemon, while this one waited for the issue's lock) is not fetched
/// again: `fetch` asks for the mirror to be current as of its start, not for a second copy.
pub(crate) async fn process_keys_since(
    pipeline: &Pipeline,
    keys: Vec<IssueKey>,
    since_ms: i64,
    parallel: usize,
    summary: &mut Summary,
    progress: &ProgressBar,
) -> Result<(), pipeline::Error> {
    let work = keys.into_iter().map(|key| async move {
        let result = pipeline.process_key_since(&key, since_ms).await;
        (key.to_string(), result)
    });
    collect(pipeline, work, parallel, summary, progress).await
}

async fn collect<F>(
    pipeline: &Pipeline,
    work: impl Iterator<Item = F>,
    parallel: usize,
    summary: &mut Summary,
    progress: &ProgressBar,
) -> Result<(), pipeline::Error>
where
    F: Future<Output = (String, pipeline::Result<Outcome>)>,
{
    let mut results = futures::stream::iter(work).buffer_unordered(parallel.max(1));
    while let Some((label, result)) = results.next().await {
        settle(pipeline, &label, result, summary, progress)?;
    }
    Ok(())
}

/// Counts and records the result of one issue: a fatal error is returned, any other failure
/// recorded against `label` (the key) for a retry.
fn settle(
    pipeline: &Pipeline,
    label: &str,
    result: pipeline::Result<Outcome>,
    summary: &mut Summary,
    progress: &ProgressBar,
) -> Result<(), pipeline::Error> {
    match result {
        Ok(outcome) => {
            summary.count(&outcome);
            record_missing_parts(pipeline, &outcome)?;
        }
        Err(e) if e.is_fatal() => return Err(e),
        Err(e) => {
            summary.failed += 1;
            record_issue_failure(pipeline, label, &e)?;
        }
    }
    progress.inc(1);
    progress.set_message(format!(
        "{} saved, {} unchanged, {} failed",
        summary.saved, summary.unchanged, summary.failed
    ));
    Ok(())
}

/// Logs and records an issue that failed (counted unless Jira was failing: see
/// [`pipeline::Error::is_transient`]); a failure line while Jira is known to be down is left
/// to the outage report.
pub(crate) fn record_issue_failure(
    pipeline: &Pipeline,
    key: &str,
    e: &pipeline::Error,
) -> Result<(), pipeline::Error> {
    let transient = e.is_transient();
    if !transient || !pipeline.jira().is_down() {
        tracing::warn!(%key, error = %e, "Issue failed; recorded for retry.");
    }
    record_failure(pipeline, key, &e.to_string(), !transient)
}

/// For an issue saved without parts Jira refused: one line per part, and a counted failure
/// record so it is fetched again (and parked if the part never comes).
pub(crate) fn record_missing_parts(
    pipeline: &Pipeline,
    outcome: &Outcome,
) -> Result<(), pipeline::Error> {
    let Outcome::Saved { key, missing, .. } = outcome else {
        return Ok(());
    };
    if missing.is_empty() {
        return Ok(());
    }
    for m in missing {
        tracing::warn!(%key, part = %m.part, error = %m.error, "Issue saved without a part Jira refused.");
    }
    record_failure(pipeline, key.as_str(), &MissingPart::summary(missing), true)
}

/// Records a failure of `key` (counted when `counts`) and says so when that parks it.
fn record_failure(
    pipeline: &Pipeline,
    key: &str,
    error: &str,
    counts: bool,
) -> Result<(), pipeline::Error> {
    let max_attempts = pipeline.max_attempts();
    if pipeline
        .state()
        .note_failure(key, error, counts, max_attempts)?
    {
        tracing::warn!(%key, attempts = max_attempts, error, "Issue parked after repeated failures; retried when it changes (see `status`).");
    }
    Ok(())
}

/// Key, id and `updated` (epoch ms) of an issue as a search listed it.
pub(crate) fn listed_identity(issue: &Value) -> Option<(IssueKey, i64, Option<i64>)> {
    let key = IssueKey::parse(issue["key"].as_str()?).ok()?;
    let id = match &issue["id"] {
        Value::String(s) => s.parse().ok(),
        Value::Number(n) => n.as_i64(),
        _ => None,
    }?;
    let updated = issue["fields"]["updated"]
        .as_str()
        .and_then(crate::time::jira_time_ms);
    Some((key, id, updated))
}

/// Whether the mirror holds the issue with id `id` under `key` at `updated` already.
pub(crate) fn is_saved_at(
    pipeline: &Pipeline,
    key: &IssueKey,
    id: i64,
    updated: Option<i64>,
) -> Result<bool, pipeline::Error> {
    let saved = pipeline.state().issue_by_id(id)?;
    Ok(
        saved.is_some_and(|s| s.issue_key == key.as_str() && Some(s.updated_ms) == updated)
            && pipeline.store().has_issue(key),
    )
}

/// Keys recorded as failed by earlier runs, to retry first: every failure not parked, and
/// each parked key once after it was parked (marked as retried now).
pub(crate) fn failed_keys(pipeline: &Pipeline) -> Result<Vec<IssueKey>, pipeline::Error> {
    let state = pipeline.state();
    let keys = state.failures_to_retry()?;
    state.mark_parked_retried(&keys)?;
    Ok(keys
        .into_iter()
        .filter_map(|k| IssueKey::parse(&k).ok())
        .collect())
}

impl crate::job::Report for Summary {
    fn counts(&self) -> (u64, u64) {
        (self.saved, self.failed)
    }
    fn complete(&self) -> bool {
        self.failed == 0 && self.incomplete == 0
    }
    fn line(&self) -> String {
        let line = format!(
            "{} saved, {} unchanged, {} moved, {} deleted, {} failed, {} incomplete",
            self.saved, self.unchanged, self.moved, self.deleted, self.failed, self.incomplete
        );
        match self.out_of_scope {
            0 => line,
            n => format!("{line}, {n} out of scope"),
        }
    }
}
