//! The incremental sweep: `(<jql>) AND updated >= <watermark − overlap>` ordered by
//! `updated`, paged by `nextPageToken`, every listed issue through the pipeline.
//!
//! The watermark is the sweep's *start* time (epoch ms) and moves only when every issue the
//! sweep listed was saved, so an issue updated while the sweep runs, or one that failed, is
//! always listed again by the next sweep. The overlap re-reads a margin before the watermark
//! for late index updates and clock skew; re-read issues that did not change cost no request.

use indicatif::ProgressBar;

use super::{Search, Summary, failed_keys, process_keys, process_search};
use crate::jira::jql;
use crate::pipeline::{self, Pipeline};
use crate::state::now_ms;

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
    let query = jql::updated_since(&options.scope, since);
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
    if summary.failed == retried_failures {
        pipeline.state().advance_watermark(started_ms)?;
    } else {
        tracing::warn!(
            failed = summary.failed - retried_failures,
            "Watermark kept: some listed issues failed and will be listed again."
        );
    }
    Ok(summary)
}
