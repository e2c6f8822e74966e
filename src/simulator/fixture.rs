//! Mirrors written straight from the simulator's data, without HTTP: the benchmarks need
//! 100,000 saved issues in seconds, not a backfill's worth of requests.

use std::path::Path;
use std::sync::Arc;

use super::Simulator;
use crate::key::IssueKey;
use crate::state::{SavedIssue, State};
use crate::store::archive::RawStore;
use crate::time::jira_time_ms;

/// What [`write_mirror`] wrote.
#[derive(Debug, Clone, Default)]
pub struct FixtureStats {
    /// Issues written.
    pub issues: usize,
    /// Median comments per issue.
    pub median_comments: usize,
    /// Median changelog items (over all histories) per issue.
    pub median_history_items: usize,
    /// Bytes of raw JSON written.
    pub raw_bytes: u64,
}

/// Writes every simulator issue as a saved issue under `data_dir` (`raw/issues`, state rows,
/// the field catalogue) as a backfill would, minus attachments and remote links. With
/// `month = Some("2024-05")` every issue is re-dated into that month.
pub fn write_mirror(
    sim: &Simulator,
    data_dir: &Path,
    month: Option<&str>,
) -> Result<FixtureStats, Box<dyn std::error::Error + Send + Sync>> {
    std::fs::create_dir_all(data_dir)?;
    let store = RawStore::new(data_dir);
    store.ensure_dirs()?;
    let state = Arc::new(State::open(&data_dir.join("state.db"))?);
    state.set_meta(
        crate::transform::fields::CATALOG_META,
        &sim.field_catalog().to_string(),
    )?;
    let (mut comments, mut items) = (Vec::new(), Vec::new());
    let mut raw_bytes = 0;
    for key in sim.issue_keys() {
        let Some(mut issue) = sim.issue(&key) else {
            continue;
        };
        if let Some(m) = month {
            let created = issue["fields"]["created"]
                .as_str()
                .unwrap_or("")
                .to_string();
            if created.len() > 7 {
                issue["fields"]["created"] = format!("{m}{}", &created[7..]).into();
            }
        }
        comments.push(
            issue["fields"]["comment"]["comments"]
                .as_array()
                .map_or(0, Vec::len),
        );
        items.push(issue["changelog"]["histories"].as_array().map_or(0, |h| {
            h.iter()
                .map(|h| h["items"].as_array().map_or(0, Vec::len))
                .sum()
        }));
        let parsed = IssueKey::parse(&key)?;
        let path = store.save_issue(&parsed, &issue)?;
        raw_bytes += std::fs::metadata(path)?.len();
        state.record_saved(
            &SavedIssue {
                issue_id: issue["id"].as_str().unwrap_or("0").parse()?,
                issue_key: key,
                updated_ms: issue["fields"]["updated"]
                    .as_str()
                    .and_then(jira_time_ms)
                    .unwrap_or(0),
            },
            issue["fields"]["created"].as_str().and_then(jira_time_ms),
        )?;
    }
    comments.sort_unstable();
    items.sort_unstable();
    Ok(FixtureStats {
        issues: comments.len(),
        median_comments: comments.get(comments.len() / 2).copied().unwrap_or(0),
        median_history_items: items.get(items.len() / 2).copied().unwrap_or(0),
        raw_bytes,
    })
}
