//! `poll-sla`: refresh the SLA figures and status of open service requests.
//!
//! Jira's SLA clocks run between edits without changing an issue's `updated`, so no sweep
//! ever sees them move. The poll looks at every saved issue that is open (status category not
//! `done`) and has SLA data, with one light request for its current status and `updated`
//! (`GET /issue/{key}?fields=status,updated`) and one to the JSM account's `/sla`:
//!
//! - Jira says resolved, or `updated` (or the key) differs from what is saved, or the issue
//!   is gone (404): the mirror missed a change, so the issue goes through the whole pipeline
//!   again (or is removed) → **healed**.
//! - otherwise, SLA values or status differ from the saved overlay: the saved JSON's
//!   `mirror.sla` (and `fields.status`) are rewritten and its table rows updated → **updated**.
//! - otherwise → **skipped**; a per-issue error → **failed** (recorded, the poll goes on).
//!
//! Issues saved before the state knew statuses (schema 4) are classified once from their
//! saved JSON. Without a `[jira_sla]` account only the status check is made.

use futures::StreamExt;
use indicatif::ProgressBar;

use crate::key::IssueKey;
use crate::pipeline::{self, Pipeline};
use crate::state::SlaCandidate;
use crate::time::jira_time_ms;

/// The fields of the light status request.
const LIGHT_FIELDS: &str = "status,updated";

/// What a poll did.
#[derive(Debug, Default, Clone, PartialEq, Eq, serde::Serialize)]
pub struct SlaPollSummary {
    /// Issues whose SLA overlay (or status) was rewritten.
    pub updated: u64,
    /// Issues refetched or removed because Jira changed them behind the mirror's back
    /// (resolved, edited, moved, deleted).
    pub healed: u64,
    /// Issues whose SLA and status were as saved.
    pub skipped: u64,
    /// Issues that failed (recorded, retried by the next sweep).
    pub failed: u64,
}

/// What happened to one issue.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Polled {
    Updated,
    Healed,
    Skipped,
    /// Saved before schema 4 and, once classified, not an open issue with SLA data.
    NotOpen,
}

/// Polls every open issue with SLA data, `parallel` at a time, then writes the table rows.
/// Per-issue errors are recorded as failures; fatal ones (credentials, state) stop the poll.
pub async fn poll_sla(
    pipeline: &Pipeline,
    parallel: usize,
    progress: &ProgressBar,
) -> Result<SlaPollSummary, pipeline::Error> {
    if pipeline.sla_client().is_none() {
        tracing::warn!(
            "No [jira_sla] account: only statuses are polled; SLA columns come from SLA custom fields."
        );
    }
    let candidates = pipeline.state().sla_poll_candidates()?;
    tracing::info!(issues = candidates.len(), "SLA poll started.");
    let work = candidates.into_iter().map(|c| async move {
        let label = c.issue.issue_key.clone();
        (label, poll_one(pipeline, &c).await)
    });
    let mut results = futures::stream::iter(work).buffer_unordered(parallel.max(1));
    let mut summary = SlaPollSummary::default();
    while let Some((key, result)) = results.next().await {
        match result {
            Ok(Polled::Updated) => summary.updated += 1,
            Ok(Polled::Healed) => summary.healed += 1,
            Ok(Polled::Skipped) => summary.skipped += 1,
            Ok(Polled::NotOpen) => {}
            Err(e) if e.is_fatal() => return Err(e),
            Err(e) => {
                summary.failed += 1;
                super::record_issue_failure(pipeline, &key, &e)?;
            }
        }
        progress.inc(1);
        progress.set_message(format!(
            "{} updated, {} healed, {} failed",
            summary.updated, summary.healed, summary.failed
        ));
    }
    pipeline.apply_pending().await?;
    tracing::info!(
        updated = summary.updated,
        healed = summary.healed,
        skipped = summary.skipped,
        failed = summary.failed,
        "SLA poll finished."
    );
    Ok(summary)
}

async fn poll_one(pipeline: &Pipeline, c: &SlaCandidate) -> pipeline::Result<Polled> {
    let key = IssueKey::parse(&c.issue.issue_key)?;
    if c.status_category.is_none() {
        // Saved before schema 4: classify once from the saved JSON. Without a saved copy the
        // light request below finds it missing and heals it.
        if let Some(saved) = pipeline.record_saved_status(&key)?
            && (!saved.has_sla || saved.status_category.as_deref() == Some("done"))
        {
            return Ok(Polled::NotOpen);
        }
    }
    let Some(now) = pipeline
        .jira()
        .get_issue_fields(key.as_str(), LIGHT_FIELDS)
        .await?
    else {
        pipeline.delete_local(&key).await?;
        return Ok(Polled::Healed);
    };
    let updated_ms = now["fields"]["updated"]
        .as_str()
        .and_then(jira_time_ms)
        .ok_or_else(|| pipeline::Error::Invalid {
            issue: key.to_string(),
            message: "no readable `updated` field".into(),
        })?;
    let resolved = now["fields"]["status"]["statusCategory"]["key"].as_str() == Some("done");
    let moved = now["key"].as_str() != Some(key.as_str());
    if resolved || moved || updated_ms != c.issue.updated_ms || !pipeline.store().has_issue(&key) {
        tracing::info!(%key, resolved, moved, "Issue changed upstream without the mirror seeing it; fetching it again.");
        let outcome = pipeline.process_key(&key).await?;
        super::record_missing_parts(pipeline, &outcome)?;
        return Ok(Polled::Healed);
    }
    let Some(client) = pipeline.sla_client() else {
        return Ok(Polled::Skipped);
    };
    let sla = client.sla(key.as_str()).await?;
    if pipeline
        .refresh_sla(&key, sla, now["fields"].get("status"))
        .await?
    {
        Ok(Polled::Updated)
    } else {
        Ok(Polled::Skipped)
    }
}
