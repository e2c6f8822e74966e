//! The incremental sweep: `(<jql>) AND updated >= <watermark − overlap>` ordered by
//! `updated`, paged by `nextPageToken`, every listed issue through the pipeline.
//!
//! The watermark is the sweep's *start* time (epoch ms) and moves only when the listing
//! finished and every issue it listed was saved or durably recorded as failed, so an issue
//! updated while the sweep runs is listed again by the next sweep, and one that failed is
//! retried first by it (from the failure record, until it is parked; a parked issue is listed
//! again when it changes). A bad issue therefore never holds the watermark back. The overlap
//! re-reads a margin before the watermark for late index updates and clock skew; re-read
//! issues that did not change cost no request.

use indicatif::ProgressBar;

use super::{Search, Summary, failed_keys, process_keys, process_search};
use crate::jira::jql;
use crate::pipeline::{self, Pipeline};
use crate::time::now_ms;

/// How a sweep runs.
#[derive(Debug, Clone)]
pub struct SweepOptions {
    /// The scope JQL (`jira.jql`).
    pub scope: String,
    /// Margin re-read before the watermark, in milliseconds.
    pub overlap_ms: i64,
    /// Issues processed at once.
    pub parallel: usize,
}

/// Runs one sweep; returns what it did.
pub async fn sweep(
    pipeline: &Pipeline,
    options: &SweepOptions,
    progress: &ProgressBar,
) -> Result<Summary, pipeline::Error> {
    let mut summary = Summary::default();
    let retry = failed_keys(pipeline)?;
    if !retry.is_empty() {
        tracing::info!(count = retry.len(), "Retrying issues that failed before.");
        process_keys(pipeline, retry, options.parallel, &mut summary, progress).await?;
        pipeline.apply_pending().await?;
    }
    let retried_failures = summary.failed;
    let started_ms = now_ms();
    let watermark = pipeline.state().watermark()?;
    let since = watermark.map_or(0, |w| w - options.overlap_ms);
    let query = jql::updated_since(&options.scope, since, pipeline.jira().jql_dates().await?);
    tracing::info!(jql = %query, "Sweep started.");
    process_search(
        pipeline,
        Search {
            query: &query,
            token: None,
            tables_each_page: true,
        },
        options.parallel,
        &mut summary,
        progress,
        |_, _| Ok(()),
    )
    .await?;
    // Every listed issue is saved or recorded as failed (retried by the next sweep first).
    pipeline.state().advance_watermark(started_ms)?;
    if summary.failed > retried_failures {
        tracing::warn!(
            failed = summary.failed - retried_failures,
            "Some listed issues failed; recorded, and retried first by the next sweep."
        );
    }
    Ok(summary)
}
