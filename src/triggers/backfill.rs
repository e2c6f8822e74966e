//! The backfill: every issue of the scope (optionally created since a date), oldest first.
//!
//! It is resumable and idempotent. After each page is fully processed the state records the
//! token of the next page, so a backfill killed at any instruction resumes at the first
//! unfinished page; inside that page, issues already saved at the same `updated` are skipped
//! without a request. A backfill started again after it finished lists everything once more
//! and fetches only what changed. When it finishes, the sweep watermark moves to the
//! backfill's start time, so the next sweep covers everything changed since; an issue that
//! failed is recorded, and the next sweep retries it first.

use indicatif::ProgressBar;

use super::{Search, Summary, failed_keys, process_keys, process_search};
use crate::jira::jql;
use crate::pipeline::{self, Pipeline};
use crate::time::jira_time_ms;
use crate::time::now_ms;

/// Issues per page of a dry run's listing (with `updated`, Jira's page is 100 at most).
const DRY_RUN_PAGE_SIZE: u32 = 100;
/// Pages a dry run's listing may take before the server is taken to loop.
const DRY_RUN_MAX_PAGES: usize = 100_000;

/// How a backfill runs.
#[derive(Debug, Clone)]
pub struct BackfillOptions {
    /// The scope JQL (`jira.jql`).
    pub scope: String,
    /// Only issues created at or after this instant (epoch ms).
    pub created_since_ms: Option<i64>,
    /// Issues processed at once.
    pub parallel: usize,
}

/// Runs (or resumes) a backfill; returns what it did.
pub async fn backfill(
    pipeline: &Pipeline,
    options: &BackfillOptions,
    progress: &ProgressBar,
) -> Result<Summary, pipeline::Error> {
    let state = pipeline.state();
    let query = jql::all(
        &options.scope,
        options.created_since_ms,
        pipeline.jira().jql_dates().await?,
    );
    let (token, started_ms) = match state.backfill()? {
        Some(b) if b.finished_ms.is_none() && b.jql == query => {
            tracing::info!(
                pages_done = b.pages_done,
                issues_saved = b.issues_saved,
                "Resuming backfill."
            );
            (b.next_page_token, b.started_ms)
        }
        _ => {
            let started = now_ms();
            state.start_backfill(&query, started)?;
            tracing::info!(jql = %query, "Backfill started.");
            (None, started)
        }
    };

    let mut summary = Summary::default();
    process_search(
        pipeline,
        Search {
            query: &query,
            token,
            tables_each_page: false,
        },
        options.parallel,
        &mut summary,
        progress,
        |next, saved| Ok(state.backfill_page_done(next, saved as i64)?),
    )
    .await?;

    let mut retry = failed_keys(pipeline)?;
    retry.retain(|k| !summary.incomplete_keys.contains(k));
    if !retry.is_empty() {
        tracing::info!(count = retry.len(), "Retrying failed issues once more.");
        let mut again = Summary::default();
        process_keys(pipeline, retry, options.parallel, &mut again, progress).await?;
        summary.saved += again.saved;
        summary.deleted += again.deleted;
        summary.moved += again.moved;
        summary.failed = again.failed;
        summary.incomplete += again.incomplete;
    }
    // Rows of the whole backfill at once: each touched month is rebuilt from raw JSON once.
    pipeline.apply_pending().await?;
    state.finish_backfill()?;
    if options.created_since_ms.is_none() {
        state.advance_watermark(started_ms)?;
    }
    Ok(summary)
}

/// What a backfill would fetch (`backfill --dry-run`).
#[derive(Debug, Default, Clone, PartialEq, Eq, serde::Serialize)]
pub struct BackfillPlan {
    /// Issues the scope lists.
    pub listed: u64,
    /// Listed and not in the mirror: would be fetched.
    pub new: u64,
    /// In the mirror at another `updated` or key: would be fetched again.
    pub changed: u64,
    /// In the mirror as listed: would be skipped without a request.
    pub unchanged: u64,
    /// Recorded failures a backfill would try once more at its end.
    pub retries: u64,
}

/// Lists the scope (id, key and `updated` only) and compares it with the state: what a
/// backfill would fetch, without fetching, writing or touching the backfill's resume point.
pub(crate) async fn backfill_dry_run(
    pipeline: &Pipeline,
    options: &BackfillOptions,
    progress: &ProgressBar,
) -> Result<BackfillPlan, pipeline::Error> {
    let query = jql::all(
        &options.scope,
        options.created_since_ms,
        pipeline.jira().jql_dates().await?,
    );
    let state = pipeline.state();
    let mut plan = BackfillPlan {
        retries: state.failures_to_retry()?.len() as u64,
        ..BackfillPlan::default()
    };
    let mut problem: Option<pipeline::Error> = None;
    pipeline
        .jira()
        .search_each(
            &query,
            &["updated"],
            DRY_RUN_PAGE_SIZE,
            DRY_RUN_MAX_PAGES,
            |issue| {
                plan.listed += 1;
                progress.inc(1);
                let id = super::reconcile::issue_id(issue);
                let updated = issue["fields"]["updated"].as_str().and_then(jira_time_ms);
                let saved = match id.map(|id| state.issue_by_id(id)).transpose() {
                    Ok(saved) => saved.flatten(),
                    Err(e) => {
                        problem.get_or_insert(e.into());
                        None
                    }
                };
                match saved {
                    None => plan.new += 1,
                    Some(s)
                        if Some(s.updated_ms) != updated
                            || issue["key"].as_str() != Some(s.issue_key.as_str()) =>
                    {
                        plan.changed += 1;
                    }
                    Some(_) => plan.unchanged += 1,
                }
                Ok(())
            },
        )
        .await?;
    match problem {
        Some(e) => Err(e),
        None => Ok(plan),
    }
}

impl crate::job::Report for BackfillPlan {
    fn counts(&self) -> (u64, u64) {
        (0, 0)
    }
    fn complete(&self) -> bool {
        true
    }
    fn line(&self) -> String {
        format!(
            "{} listed: {} new and {} changed would be fetched, {} unchanged skipped; {} recorded failures would be retried",
            self.listed, self.new, self.changed, self.unchanged, self.retries
        )
    }
}
