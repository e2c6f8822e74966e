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
pub mod mail;
pub mod reconcile;
pub mod sla_poll;
pub mod sweep;
#[cfg(feature = "webhook")]
pub mod webhook;

use futures::StreamExt;
use indicatif::ProgressBar;
use serde_json::Value;

use crate::jira::{self, jql};
use crate::key::IssueKey;
use crate::pipeline::{self, MissingPart, Outcome, Pipeline};

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
pub async fn process_keys_since(
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
        match result {
            Ok(outcome) => {
                summary.count(&outcome);
                record_missing_parts(pipeline, &outcome)?;
            }
            Err(e) if e.is_fatal() => return Err(e),
            Err(e) => {
                summary.failed += 1;
                record_issue_failure(pipeline, &label, &e)?;
            }
        }
        progress.inc(1);
        progress.set_message(format!(
            "{} saved, {} unchanged, {} failed",
            summary.saved, summary.unchanged, summary.failed
        ));
    }
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

/// Issues per search page (Jira's maximum when all fields are requested).
pub const PAGE_SIZE: u32 = 100;

/// Issues per search when a page that could not be used is split (see [`isolate_page`]).
const SPLIT_SIZE: usize = 10;

/// What [`process_search`] lists.
#[derive(Debug, Clone)]
pub struct Search<'a> {
    /// The JQL.
    pub query: &'a str,
    /// The page to start at (a stored token when resuming), `None` for the first.
    pub token: Option<String>,
    /// Write the table rows after every page (otherwise the caller applies them at the end).
    pub tables_each_page: bool,
}

/// Lists `search.query` page by page (all fields, embedded changelog), runs each page's
/// issues through the pipeline, writes their table rows when `search.tables_each_page`,
/// then calls `page_done(next_token, saved)`. A refused start token (Jira's expire after 7
/// days: HTTP 400) restarts from the first page; issues saved before cost no request when
/// listed again. A page that cannot be used while Jira otherwise answers is split
/// ([`isolate_page`]), so one bad issue fails alone.
pub async fn process_search(
    pipeline: &Pipeline,
    search: Search<'_>,
    parallel: usize,
    summary: &mut Summary,
    progress: &ProgressBar,
    mut page_done: impl FnMut(Option<&str>, u64) -> Result<(), pipeline::Error>,
) -> Result<(), pipeline::Error> {
    let Search {
        query,
        mut token,
        tables_each_page,
    } = search;
    let mut resumed = token.is_some();
    loop {
        let found = pipeline
            .jira()
            .search_page(
                query,
                token.as_deref(),
                &["*all"],
                Some("changelog"),
                PAGE_SIZE,
            )
            .await;
        let before = summary.saved;
        let next = match found {
            Ok(page) => {
                process_listed(pipeline, page.issues, parallel, summary, progress).await?;
                page.next_page_token
            }
            Err(jira::Error::Status { status: 400, .. }) if resumed => {
                tracing::warn!("Stored page token was refused; listing again from the first page.");
                token = None;
                resumed = false;
                continue;
            }
            Err(e) if e.is_fatal() => return Err(e.into()),
            Err(e) => {
                let page = PageRef {
                    query,
                    token: token.as_deref(),
                };
                isolate_page(pipeline, page, e, parallel, summary, progress).await?
            }
        };
        resumed = false;
        if tables_each_page {
            pipeline.apply_pending().await?;
        }
        page_done(next.as_deref(), summary.saved - before)?;
        match next {
            Some(next) => token = Some(next),
            None => return Ok(()),
        }
    }
}

/// A search page: the query and the token that starts it.
#[derive(Debug, Clone, Copy)]
struct PageRef<'a> {
    query: &'a str,
    token: Option<&'a str>,
}

/// Handles a search page Jira could not deliver in one piece (`error`, after the client's
/// retries): an issue in it that Jira cannot render, or whose JSON cannot be read, must not
/// hold up every other issue, in this run or any later one.
///
/// If Jira does not answer `/myself` either (one attempt), it is failing as a whole and
/// `error` is returned: nothing to isolate. Otherwise the page is listed again with only
/// `key` and `updated` (no issue content), the issues that changed are asked for
/// [`SPLIT_SIZE`] at a time by key, and the keys of a part that still fails one by one
/// ([`search_one`]), where only the bad issue fails (recorded against its key). Returns the
/// listing's next page token.
async fn isolate_page(
    pipeline: &Pipeline,
    page: PageRef<'_>,
    error: jira::Error,
    parallel: usize,
    summary: &mut Summary,
    progress: &ProgressBar,
) -> Result<Option<String>, pipeline::Error> {
    let jira = pipeline.jira();
    match jira.probe().await {
        Ok(()) => {}
        Err(e) if e.is_fatal() => return Err(e.into()),
        Err(_) => return Err(error.into()),
    }
    tracing::warn!(error = %error, "A search page could not be used; splitting it to find the issue behind it.");
    let light = jira
        .search_page(page.query, page.token, &["key", "updated"], None, PAGE_SIZE)
        .await?;
    let mut changed = Vec::new();
    for issue in &light.issues {
        match listed_identity(issue) {
            Some((key, id, updated)) => {
                if is_saved_at(pipeline, &key, id, updated)? {
                    summary.unchanged += 1;
                    progress.inc(1);
                } else {
                    changed.push(key);
                }
            }
            None => tracing::warn!("A search result without a readable key or id was skipped."),
        }
    }
    for part in changed.chunks(SPLIT_SIZE) {
        let query = jql::keys_in(part.iter().map(IssueKey::as_str));
        match jira
            .search_page(
                &query,
                None,
                &["*all"],
                Some("changelog"),
                SPLIT_SIZE as u32,
            )
            .await
        {
            Ok(found) => {
                process_listed(pipeline, found.issues, parallel, summary, progress).await?
            }
            Err(e) if e.is_fatal() => return Err(e.into()),
            Err(e) => {
                tracing::debug!(error = %e, keys = part.len(), "Part of a split page failed too; asking for its issues one by one.");
                for key in part {
                    search_one(pipeline, key, parallel, summary, progress).await?;
                }
            }
        }
    }
    Ok(light.next_page_token)
}

/// One issue of a split page, searched by its key alone (search, not `GET /issue`, so it
/// arrives as the page would have brought it). If even that fails, this is the bad issue:
/// its failure is recorded against its key.
async fn search_one(
    pipeline: &Pipeline,
    key: &IssueKey,
    parallel: usize,
    summary: &mut Summary,
    progress: &ProgressBar,
) -> Result<(), pipeline::Error> {
    let query = jql::keys_in([key.as_str()]);
    match pipeline
        .jira()
        .search_page(&query, None, &["*all"], Some("changelog"), 1)
        .await
    {
        Ok(found) => process_listed(pipeline, found.issues, parallel, summary, progress).await,
        Err(e) if e.is_fatal() => Err(e.into()),
        Err(e) => {
            summary.failed += 1;
            progress.inc(1);
            record_issue_failure(pipeline, key.as_str(), &e.into())
        }
    }
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
pub fn failed_keys(pipeline: &Pipeline) -> Result<Vec<IssueKey>, pipeline::Error> {
    let state = pipeline.state();
    let keys = state.failures_to_retry()?;
    state.mark_parked_retried(&keys)?;
    Ok(keys
        .into_iter()
        .filter_map(|k| IssueKey::parse(&k).ok())
        .collect())
}
