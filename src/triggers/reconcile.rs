//! `reconcile`: find issues deleted or moved upstream that no trigger reported.
//!
//! Jira sends no notice a sweep can see when an issue is deleted, and a moved issue leaves
//! its old key behind. Reconcile takes an **id census** of the scope (`jira.jql`): every issue
//! id, through `/rest/api/3/search/jql` with `fields=id` and `maxResults=5000`, following
//! `nextPageToken` to the last page whatever the page sizes (Jira may return short pages). The census must be
//! complete before anything is deleted: a page that fails after the client's retries, a token
//! seen before, a malformed page or too many pages abort the whole command.
//!
//! Each saved issue the census does not list under its saved key (its id is absent, or the
//! census names another key for it: Jira returns `key` beside `id`) is then asked for by id
//! (`GET /issue/{id}`), because search lags behind writes and a missing id proves nothing by
//! itself:
//!
//! - 404 → the issue is deleted: raw JSON, attachments and table rows go → **deleted**;
//! - found, and in the scope (the census lists its id under another key, or a scope search
//!   for its id with `reconcileIssues`, which sees through index lag, lists it) → fetched
//!   through the pipeline, which moves its files and removes the old key → **moved**, or
//!   **present** under the same key (index lag);
//! - found outside the scope (its project is ruled out by the scope's JQL, or the scope
//!   search does not list it) → the local copy is removed → **left_scope**;
//! - an error → nothing removed, recorded as a failure → **failed**.
//!
//! A scope whose projects cannot be read from its JQL is never taken for "every project":
//! each such issue is asked about.

use std::collections::BTreeMap;

use futures::StreamExt;
use indicatif::ProgressBar;
use serde_json::Value;

use crate::jira::{self, JiraClient, jql};
use crate::key::IssueKey;
use crate::pipeline::{self, Outcome, Pipeline};

/// Issues per census page: Jira's ceiling for id-only searches.
pub(crate) const CENSUS_PAGE_SIZE: u32 = 5000;
/// Census pages before we decide the server is looping (short pages included).
const MAX_CENSUS_PAGES: usize = 100_000;

/// Errors that stop a reconcile.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The census could not be completed, so nothing was deleted.
    #[error("the id census of the scope failed, so nothing was deleted")]
    Census(#[source] jira::Error),
    /// A fatal error (credentials, state database) while checking missing issues.
    #[error("reconcile stopped")]
    Pipeline(#[from] pipeline::Error),
}

/// How a reconcile runs.
#[derive(Debug, Clone)]
pub struct ReconcileOptions {
    /// The scope JQL (`jira.jql`).
    pub scope: String,
    /// Missing issues checked at once.
    pub parallel: usize,
    /// Take the census and check the missing issues, but remove, move and record nothing.
    pub dry_run: bool,
}

/// What a reconcile found and did.
#[derive(Debug, Default, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ReconcileSummary {
    /// Issue ids in Jira's census of the scope.
    pub census: u64,
    /// Issues in the mirror.
    pub local: u64,
    /// Issues in the mirror the census does not list under their saved key (each checked
    /// by id).
    pub missing: u64,
    /// Issues deleted upstream, removed locally.
    pub deleted: u64,
    /// Issues found under a new key in the scope, saved under it.
    pub moved: u64,
    /// Issues now in a project outside the scope, removed locally.
    pub left_scope: u64,
    /// Issues that still exist under their key (search lagging), fetched again.
    pub present: u64,
    /// Issues whose check failed (nothing removed; recorded).
    pub failed: u64,
    /// Counts of a dry run: what would have been removed or followed; nothing was.
    pub dry_run: bool,
}

/// What the check of one missing issue found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Checked {
    Deleted,
    Moved,
    LeftScope,
    Present,
}

/// Runs one reconcile: census, then a check of every saved issue missing from it.
pub async fn reconcile(
    pipeline: &Pipeline,
    options: &ReconcileOptions,
    progress: &ProgressBar,
) -> Result<ReconcileSummary, Error> {
    let query = jql::all(&options.scope, None, jql::JqlDates::EpochMs);
    tracing::info!(jql = %query, "Id census started.");
    let census = census(pipeline.jira(), &query)
        .await
        .map_err(Error::Census)?;
    let local = pipeline
        .state()
        .issue_ids()
        .map_err(pipeline::Error::from)?;
    let missing = missing(&local, &census);
    let mut summary = ReconcileSummary {
        census: census.len() as u64,
        local: local.len() as u64,
        missing: missing.len() as u64,
        dry_run: options.dry_run,
        ..ReconcileSummary::default()
    };
    tracing::info!(
        census = summary.census,
        local = summary.local,
        missing = summary.missing,
        "Id census complete."
    );

    let census = &census;
    let work = missing.into_iter().map(|(id, key)| async move {
        let write = !options.dry_run;
        let result = check(pipeline, id, &key, census.contains_key(&id), write).await;
        (key, result)
    });
    let mut results = futures::stream::iter(work).buffer_unordered(options.parallel.max(1));
    while let Some((key, result)) = results.next().await {
        match result {
            Ok(Checked::Deleted) => summary.deleted += 1,
            Ok(Checked::Moved) => summary.moved += 1,
            Ok(Checked::LeftScope) => summary.left_scope += 1,
            Ok(Checked::Present) => summary.present += 1,
            Err(e) if e.is_fatal() => return Err(e.into()),
            Err(e) => {
                summary.failed += 1;
                tracing::info!(%key, "Check of an issue missing from the census failed; kept.");
                if options.dry_run {
                    tracing::warn!(%key, error = %e, "Check failed.");
                } else {
                    crate::triggers::record_issue_failure(pipeline, &key, &e)?;
                }
            }
        }
        progress.inc(1);
    }
    if !options.dry_run {
        pipeline.apply_pending().await?;
    }
    tracing::info!(
        deleted = summary.deleted,
        moved = summary.moved,
        left_scope = summary.left_scope,
        present = summary.present,
        failed = summary.failed,
        "Reconcile finished."
    );
    Ok(summary)
}

/// Every issue id of `query` with its key when Jira sends one, page by page until the last
/// one. Any failure is an error: a partial census must never be taken for a complete one.
pub async fn census(jira: &JiraClient, query: &str) -> jira::Result<BTreeMap<i64, Option<String>>> {
    let mut ids = BTreeMap::new();
    jira.search_each(
        query,
        &["id"],
        CENSUS_PAGE_SIZE,
        MAX_CENSUS_PAGES,
        |issue| {
            let id = issue_id(issue).ok_or_else(|| jira::Error::Protocol {
                path: jira.search_path().into(),
                message: "an issue without a numeric id".into(),
            })?;
            ids.insert(id, issue["key"].as_str().map(str::to_owned));
            Ok(())
        },
    )
    .await?;
    Ok(ids)
}

/// The saved `(id, key)`s the census does not list under their saved key: id absent, or
/// listed with another key (a census without keys only tells absence).
fn missing(local: &[(i64, String)], census: &BTreeMap<i64, Option<String>>) -> Vec<(i64, String)> {
    local
        .iter()
        .filter(|(id, key)| match census.get(id) {
            None => true,
            Some(listed) => listed.as_ref().is_some_and(|k| k != key),
        })
        .cloned()
        .collect()
}

/// Checks one saved issue (`id`, saved as `saved_key`) that the census did not list under
/// that key; `in_census`: it listed the id under another one. Without `write` it only says
/// what it would do.
async fn check(
    pipeline: &Pipeline,
    id: i64,
    saved_key: &str,
    in_census: bool,
    write: bool,
) -> pipeline::Result<Checked> {
    let key = IssueKey::parse(saved_key)?;
    let Some(found) = pipeline
        .jira()
        .get_issue_fields(&id.to_string(), "project,updated")
        .await?
    else {
        tracing::info!(%key, dry_run = !write, "Issue deleted upstream.");
        if write {
            pipeline.delete_local(&key).await?;
        }
        return Ok(Checked::Deleted);
    };
    let now_key = IssueKey::parse(found["key"].as_str().unwrap_or_default())?;
    let in_scope =
        in_census || (pipeline.scope().may_hold(&now_key) && pipeline.in_scope(id).await?);
    if !in_scope {
        tracing::info!(%key, now = %now_key, dry_run = !write, "Issue left the scope; removing the local copy.");
        if write {
            pipeline.delete_local(&key).await?;
        }
        return Ok(Checked::LeftScope);
    }
    if !write {
        if now_key != key {
            tracing::info!(%key, now = %now_key, dry_run = true, "Issue moved.");
            return Ok(Checked::Moved);
        }
        return Ok(Checked::Present);
    }
    let outcome = pipeline.process_key(&now_key).await?;
    crate::triggers::record_missing_parts(pipeline, &outcome)?;
    Ok(match outcome {
        Outcome::Deleted(_) => {
            // Deleted between the two requests: the saved copy may be under the old key.
            if now_key != key {
                pipeline.delete_local(&key).await?;
            }
            Checked::Deleted
        }
        _ if now_key != key => Checked::Moved,
        _ => Checked::Present,
    })
}

/// Jira sends ids as strings; accept numbers too.
pub(crate) fn issue_id(issue: &Value) -> Option<i64> {
    match &issue["id"] {
        Value::String(s) => s.parse().ok(),
        Value::Number(n) => n.as_i64(),
        _ => None,
    }
}

impl crate::job::Report for ReconcileSummary {
    fn counts(&self) -> (u64, u64) {
        (
            self.deleted + self.moved + self.left_scope + self.present,
            self.failed,
        )
    }
    fn complete(&self) -> bool {
        self.failed == 0
    }
    fn line(&self) -> String {
        let would = if self.dry_run { "would be " } else { "" };
        let left = if self.dry_run {
            "would leave scope"
        } else {
            "left scope"
        };
        format!(
            "{} in census, {} local, {} missing: {} {would}deleted, {} {would}moved, {} {left}, {} present, {} failed",
            self.census,
            self.local,
            self.missing,
            self.deleted,
            self.moved,
            self.left_scope,
            self.present,
            self.failed
        )
    }
}

/// The daemon's `[reconcile]` schedule: a reconcile of the scope, then the reference tables
/// when they are a day old (the daily job keeps them fresh).
#[derive(Debug)]
pub struct ScheduledReconcile;

impl crate::job::Scheduled for ScheduledReconcile {
    fn name(&self) -> &'static str {
        "reconcile"
    }
    fn command(&self) -> &'static str {
        "reconcile"
    }
    fn schedule(&self, config: &crate::config::Config) -> String {
        config.reconcile.schedule.clone()
    }
    fn run<'a>(
        &'a self,
        job: &'a crate::job::JobContext,
    ) -> futures::future::BoxFuture<'a, Result<Option<crate::job::Finished>, crate::job::JobError>>
    {
        Box::pin(async move {
            let options = ReconcileOptions {
                scope: job.config.jira.jql.clone(),
                parallel: job.parallel,
                dry_run: false,
            };
            let result = reconcile(&job.pipeline, &options, &ProgressBar::hidden()).await;
            let pipeline = &job.pipeline;
            let store = pipeline.transformer().store();
            let refreshed = crate::transform::reference::refresh_when_due(
                pipeline.jira(),
                store,
                pipeline.state(),
            )
            .await;
            if let Err(e) = refreshed {
                tracing::warn!(error = %e, "Reference tables not refreshed; the next daily run tries again.");
            }
            match result {
                Ok(summary) => Ok(Some(crate::job::Finished::of(&summary))),
                Err(Error::Pipeline(e)) => Err(e.into()),
                Err(e) => Err(crate::job::JobError::Failed(crate::with_cause(&e))),
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn missing_means_absent_or_listed_under_another_key() {
        let local: Vec<(i64, String)> = [(1, "A-1"), (2, "A-2"), (3, "A-3"), (4, "A-4")]
            .into_iter()
            .map(|(id, k)| (id, k.to_string()))
            .collect();
        let census = BTreeMap::from([
            (1, Some("A-1".to_string())),
            (2, Some("B-9".to_string())),
            (4, None),
            (5, Some("A-5".to_string())),
        ]);
        assert_eq!(
            missing(&local, &census),
            [(2, "A-2".to_string()), (3, "A-3".to_string())]
        );
    }

    #[test]
    fn ids_are_read_from_strings_or_numbers_only() {
        assert_eq!(issue_id(&json!({"id": "10042"})), Some(10042));
        assert_eq!(issue_id(&json!({"id": 7})), Some(7));
        assert_eq!(issue_id(&json!({"id": "SUP-1"})), None);
        assert_eq!(issue_id(&json!({"key": "SUP-1"})), None);
    }
}
