//! `poll-sla`: refresh the SLA figures and status of open service requests.
//!
//! Jira's SLA clocks run between edits without changing an issue's `updated`, so no sweep
//! ever sees them move. The poll looks at every saved issue that is open (status category not
//! `done`) and has SLA data (JSM overlay or SLA custom fields), with one light request for its
//! current status, `updated`, project and SLA custom fields (`GET /issue/{key}?fields=status,
//! updated,project,customfield_…`, the SLA fields the field catalogue names) and, with a
//! `[jira_sla]` account and a service-desk project, one to JSM's `/sla`:
//!
//! - Jira says resolved (an issue saved open), or `updated` (or the key) differs from what is
//!   saved, or the issue is gone (404): the mirror missed a change, so the issue goes through
//!   the whole pipeline again (or is removed) → **healed**.
//! - otherwise, SLA values, SLA custom fields or status differ from the saved copy: the saved
//!   JSON's `mirror.sla`, those fields and `fields.status` are rewritten and its table rows
//!   updated → **updated**.
//! - otherwise → **skipped**; a per-issue error (a 403 from `/sla` included) → **failed**
//!   (recorded, the poll goes on).
//!
//! Without `[jira_sla]` the SLA custom fields are refreshed by the main account alone.
//! `--all` looks at every saved issue, open or closed: the SLA backfill after `[jira_sla]` is
//! added, or a full check that nothing was missed. `--dry-run` makes the same requests and
//! counts what would change, writing nothing.
//!
//! Issues whose status is not recorded yet (saved before schema 4, or open without SLA data
//! before schema 9) are classified once from their saved JSON.

use futures::StreamExt;
use indicatif::ProgressBar;
use serde_json::Value;

use crate::key::IssueKey;
use crate::pipeline::{self, Pipeline, Refresh};
use crate::state::SlaCandidate;
use crate::time::jira_time_ms;

/// The fields of the light status request (the SLA custom fields are added).
const LIGHT_FIELDS: &[&str] = &["status", "updated", "project"];

/// What to poll and whether to write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SlaPollOptions {
    /// Issues polled at once.
    pub parallel: usize,
    /// Every saved issue, not only open ones with SLA data.
    pub all: bool,
    /// Make the requests, count what would change, write nothing.
    pub dry_run: bool,
}

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
    /// Counts of a dry run: what would have been updated and healed; nothing was written.
    pub dry_run: bool,
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

/// Polls the candidates, `options.parallel` at a time, then writes the table rows.
/// Per-issue errors are recorded as failures (not in a dry run); fatal ones (credentials,
/// state) stop the poll.
pub(crate) async fn poll_sla(
    pipeline: &Pipeline,
    options: SlaPollOptions,
    progress: &ProgressBar,
) -> Result<SlaPollSummary, pipeline::Error> {
    if pipeline.sla_client().is_none() {
        tracing::info!(
            "No [jira_sla] account: statuses and SLA custom fields are polled with the main account."
        );
    }
    let sla_fields = pipeline.transformer().sla_field_ids();
    let fields: Vec<&str> = LIGHT_FIELDS
        .iter()
        .copied()
        .chain(sla_fields.iter().map(String::as_str))
        .collect();
    let light = Light {
        fields: fields.join(","),
        sla_fields: &sla_fields,
    };
    let candidates = pipeline.state().sla_poll_candidates(options.all)?;
    tracing::info!(
        issues = candidates.len(),
        all = options.all,
        dry_run = options.dry_run,
        "SLA poll started."
    );
    progress.set_length(candidates.len() as u64);
    let light = &light;
    let work = candidates.into_iter().map(|c| async move {
        let label = c.issue.issue_key.clone();
        (label, poll_one(pipeline, &c, light, options).await)
    });
    let mut results = futures::stream::iter(work).buffer_unordered(options.parallel.max(1));
    let mut summary = SlaPollSummary {
        dry_run: options.dry_run,
        ..SlaPollSummary::default()
    };
    while let Some((key, result)) = results.next().await {
        match result {
            Ok(Polled::Updated) => summary.updated += 1,
            Ok(Polled::Healed) => summary.healed += 1,
            Ok(Polled::Skipped) => summary.skipped += 1,
            Ok(Polled::NotOpen) => {}
            Err(e) if e.is_fatal() => return Err(e),
            Err(e) => {
                summary.failed += 1;
                if options.dry_run {
                    tracing::warn!(%key, error = %e, "SLA poll failed for this issue.");
                } else {
                    super::record_issue_failure(pipeline, &key, &e)?;
                }
            }
        }
        progress.inc(1);
        progress.set_message(format!(
            "{} updated, {} healed, {} failed",
            summary.updated, summary.healed, summary.failed
        ));
    }
    if !options.dry_run {
        pipeline.apply_pending().await?;
    }
    tracing::info!(
        updated = summary.updated,
        healed = summary.healed,
        skipped = summary.skipped,
        failed = summary.failed,
        dry_run = options.dry_run,
        "SLA poll finished."
    );
    Ok(summary)
}

/// The light request of every poll.
struct Light<'a> {
    /// `fields=` of the light request.
    fields: String,
    /// The SLA custom field ids among them.
    sla_fields: &'a [String],
}

async fn poll_one(
    pipeline: &Pipeline,
    c: &SlaCandidate,
    light: &Light<'_>,
    options: SlaPollOptions,
) -> pipeline::Result<Polled> {
    let key = IssueKey::parse(&c.issue.issue_key)?;
    let write = !options.dry_run;
    let mut saved_category = c.status_category.clone();
    if saved_category.is_none() {
        // Not classified yet: once from the saved JSON. Without a saved copy the light
        // request below finds it missing and heals it.
        let saved = if write {
            pipeline.record_saved_status(&key)?
        } else {
            pipeline.saved_status(&key)?
        };
        if let Some(saved) = saved {
            let done = saved.status_category.as_deref() == Some("done");
            if !options.all && (!saved.has_sla || done) {
                return Ok(Polled::NotOpen);
            }
            saved_category = saved.status_category;
        }
    }
    let Some(mut now) = pipeline
        .jira()
        .get_issue_fields(key.as_str(), &light.fields)
        .await?
    else {
        if write {
            pipeline.delete_local(&key).await?;
        }
        return Ok(Polled::Healed);
    };
    let updated_ms = now["fields"]["updated"]
        .as_str()
        .and_then(jira_time_ms)
        .ok_or_else(|| pipeline::Error::Invalid {
            issue: key.to_string(),
            message: "no readable `updated` field".into(),
        })?;
    let done_now = now["fields"]["status"]["statusCategory"]["key"].as_str() == Some("done");
    let resolved = done_now && saved_category.as_deref() != Some("done");
    let moved = now["key"].as_str() != Some(key.as_str());
    if resolved || moved || updated_ms != c.issue.updated_ms || !pipeline.store().has_issue(&key) {
        tracing::info!(%key, resolved, moved, "Issue changed upstream without the mirror seeing it; fetching it again.");
        if write {
            let outcome = pipeline.process_key(&key).await?;
            super::record_missing_parts(pipeline, &outcome)?;
        }
        return Ok(Polled::Healed);
    }
    let sla = match pipeline.sla_client() {
        Some(client) if pipeline::may_have_sla(&now) => Some(client.sla(key.as_str()).await?),
        _ => None,
    };
    let fresh = Refresh {
        sla,
        status: now["fields"].get_mut("status").map(Value::take),
        fields: light
            .sla_fields
            .iter()
            .filter_map(|id| Some((id.clone(), now["fields"].get_mut(id.as_str())?.take())))
            .collect(),
    };
    if pipeline.refresh(&key, fresh, write).await? {
        Ok(Polled::Updated)
    } else {
        Ok(Polled::Skipped)
    }
}

impl crate::job::Report for SlaPollSummary {
    fn counts(&self) -> (u64, u64) {
        (self.updated + self.healed, self.failed)
    }
    fn complete(&self) -> bool {
        self.failed == 0
    }
    fn line(&self) -> String {
        let would = if self.dry_run { "would be " } else { "" };
        format!(
            "{} {would}updated, {} {would}healed, {} skipped, {} failed",
            self.updated, self.healed, self.skipped, self.failed
        )
    }
}

/// The daemon's `[sla_poll]` schedule: the open issues with SLAs.
#[derive(Debug)]
pub struct ScheduledSlaPoll;

impl crate::job::Scheduled for ScheduledSlaPoll {
    fn name(&self) -> &'static str {
        "sla_poll"
    }
    fn command(&self) -> &'static str {
        "poll-sla"
    }
    fn schedule(&self, config: &crate::config::Config) -> String {
        config.sla_poll.schedule.clone()
    }
    fn run<'a>(
        &'a self,
        job: &'a crate::job::JobContext,
    ) -> futures::future::BoxFuture<'a, Result<Option<crate::job::Finished>, crate::job::JobError>>
    {
        Box::pin(async move {
            let options = SlaPollOptions {
                parallel: job.parallel,
                all: false,
                dry_run: false,
            };
            let summary = poll_sla(&job.pipeline, options, &ProgressBar::hidden()).await?;
            Ok(Some(crate::job::Finished::of(&summary)))
        })
    }
}
