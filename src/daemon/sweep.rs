//! The daemon's sweep: list what changed since the watermark and hand it to the queue.
//!
//! Unlike the one-shot `sweep` command, which saves issues straight from the search pages,
//! the daemon's sweep only lists `updated` (pages of up to [`PAGE`] issues) and pushes the
//! keys that differ from the mirror, so every trigger meets in the one queue and each key is
//! fetched once however many triggers name it. The watermark moves to the sweep's start once
//! every listed key is durably queued; a sweep stopped by shutdown or an error leaves it.

use futures::future::BoxFuture;

use crate::jira::jql;
use crate::job::{Finished, JobContext, JobError, Scheduled};
use crate::pipeline::{self, Pipeline};
use crate::state::Pushed;
use crate::time::now_ms;
use crate::triggers::{is_saved_at, listed_identity};

use crate::pipeline::queue::Queue;

/// Issues per page when only `updated` is asked for (Jira may send fewer; the loop follows
/// `nextPageToken` regardless).
pub(crate) const PAGE: u32 = 1000;

/// What one daemon sweep did.
#[derive(Debug, Default, Clone, PartialEq, Eq, serde::Serialize)]
pub struct SweepReport {
    /// Issues listed.
    pub listed: u64,
    /// Keys handed to the queue.
    pub queued: u64,
    /// Listed issues the mirror already holds at that `updated`.
    pub unchanged: u64,
}

/// Runs one sweep of `scope`, re-reading `overlap_ms` before the watermark. `stopping` is
/// checked between pages.
pub async fn sweep(
    pipeline: &Pipeline,
    queue: &Queue,
    scope: &str,
    overlap_ms: i64,
    stopping: impl Fn() -> bool,
) -> Result<Option<SweepReport>, pipeline::Error> {
    let state = pipeline.state();
    // Failures another command recorded, and parked keys owed their one retry (e.g. a
    // permission fixed since): the watermark has moved past them, so they are queued here.
    let retried = queue.retry_failures()?;
    if !retried.is_empty() {
        tracing::info!(count = retried.len(), "Failed issues queued for a retry.");
        queue.wake_all();
    }
    let started_ms = now_ms();
    let since = state.watermark()?.map_or(0, |w| w - overlap_ms);
    let query = jql::updated_since(scope, since, pipeline.jira().jql_dates().await?);
    let mut report = SweepReport::default();
    let mut token: Option<String> = None;
    loop {
        if stopping() {
            return Ok(None);
        }
        let page = pipeline
            .jira()
            .search_page(&query, token.as_deref(), &["updated"], None, PAGE)
            .await?;
        for issue in &page.issues {
            report.listed += 1;
            let Some((key, id, updated)) = listed_identity(issue) else {
                tracing::warn!("A search result without a readable key or id was skipped.");
                continue;
            };
            if is_saved_at(pipeline, &key, id, updated)? {
                report.unchanged += 1;
                continue;
            }
            if queue
                .push(key.as_str(), super::SWEEP_SOURCE, updated)
                .await?
                != Pushed::Parked
            {
                report.queued += 1;
            }
        }
        match page.next_page_token {
            Some(next) => token = Some(next),
            None => break,
        }
    }
    state.advance_watermark(started_ms)?;
    Ok(Some(report))
}

impl crate::job::Report for SweepReport {
    fn counts(&self) -> (u64, u64) {
        (self.queued, 0)
    }
    fn complete(&self) -> bool {
        true
    }
    fn line(&self) -> String {
        format!(
            "{} listed, {} queued, {} unchanged",
            self.listed, self.queued, self.unchanged
        )
    }
}

/// The daemon's `[sweep]` schedule (and its catch-up run at start).
#[derive(Debug)]
pub struct ScheduledSweep;

impl Scheduled for ScheduledSweep {
    fn name(&self) -> &'static str {
        "sweep"
    }
    fn command(&self) -> &'static str {
        "sweep"
    }
    fn schedule(&self, config: &crate::config::Config) -> String {
        config.sweep.schedule.clone()
    }
    fn catch_up(&self) -> bool {
        true
    }
    fn run<'a>(&'a self, job: &'a JobContext) -> BoxFuture<'a, Result<Option<Finished>, JobError>> {
        Box::pin(async move {
            let overlap_ms = i64::try_from(job.config.sweep.overlap_secs.saturating_mul(1000))
                .unwrap_or(i64::MAX);
            let report = sweep(
                &job.pipeline,
                &job.queue,
                &job.config.jira.jql,
                overlap_ms,
                || job.stop.is_cancelled(),
            )
            .await?;
            Ok(report.map(|r| Finished::of(&r)))
        })
    }
}
