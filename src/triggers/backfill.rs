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
use crate::state::now_ms;

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
    let query = jql::all(&options.scope, options.created_since_ms);
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
