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

use crate::jira;
use crate::key::IssueKey;
use crate::pipeline::{self, Outcome, Pipeline};

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
}

impl Summary {
    /// Counts one outcome.
    pub fn count(&mut self, outcome: &Outcome) {
        match outcome {
            Outcome::Saved { moved_from, .. } => {
                self.saved += 1;
                if moved_from.is_some() {
                    self.moved += 1;
                }
            }
            Outcome::Unchanged(_) => self.unchanged += 1,
            Outcome::Deleted(_) => self.deleted += 1,
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

/// Fetches `keys` and runs them through the pipeline, `parallel` at a time.
pub async fn process_keys(
    pipeline: &Pipeline,
    keys: Vec<IssueKey>,
    parallel: usize,
    summary: &mut Summary,
    progress: &ProgressBar,
) -> Result<(), pipeline::Error> {
    let work = keys.into_iter().map(|key| async move {
        let result = pipeline.process_key(&key).await;
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
            Ok(outcome) => summary.count(&outcome),
            Err(e) if e.is_fatal() => return Err(e),
            Err(e) => {
                summary.failed += 1;
                tracing::warn!(key = %label, error = %e, "Issue failed; recorded for retry.");
                pipeline.state().record_failure(&label, &e.to_string())?;
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

/// Issues per search page (Jira's maximum when all fields are requested).
pub const PAGE_SIZE: u32 = 100;

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
/// listed again.
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
        let page = match found {
            Ok(page) => page,
            Err(jira::Error::Status { status: 400, .. }) if resumed => {
                tracing::warn!("Stored page token was refused; listing again from the first page.");
                token = None;
                resumed = false;
                continue;
            }
            Err(e) => return Err(e.into()),
        };
        resumed = false;
        let before = summary.saved;
        process_listed(pipeline, page.issues, parallel, summary, progress).await?;
        if tables_each_page {
            pipeline.apply_pending().await?;
        }
        page_done(page.next_page_token.as_deref(), summary.saved - before)?;
        match page.next_page_token {
            Some(next) => token = Some(next),
            None => return Ok(()),
        }
    }
}

/// Keys recorded as failed by earlier runs, to retry first.
pub fn failed_keys(pipeline: &Pipeline) -> Result<Vec<IssueKey>, pipeline::Error> {
    Ok(pipeline
        .state()
        .failures()?
        .into_iter()
        .filter_map(|f| IssueKey::parse(&f.issue_key).ok())
        .collect())
}
