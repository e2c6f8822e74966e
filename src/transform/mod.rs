//! Raw issue JSON → the eight Parquet tables, partitioned by the issue's created month.
//!
//! Every change to an issue (saved, moved, deleted) is first recorded as *pending* in the
//! state database — before the raw JSON is written — and only cleared once its month files
//! are rewritten. [`Transformer::apply_pending`] turns the pending set into one
//! read-modify-write per month (or a rebuild of the month from raw JSON when a large part of
//! it changed, e.g. after a backfill); at start-up it repairs whatever a crash left pending,
//! so Parquet is never silently stale.
//!
//! One bad file never stops the stage: a month file that cannot be decoded is replaced by a
//! rebuild of its month from raw JSON, and raw JSON that cannot be parsed leaves only that
//! issue out of the tables, recorded as a failure so that the next sweep fetches it again.
//!
//! Layout: [`adf`] renders rich text, [`fields`] knows custom field names and types,
//! [`schema`] fixes the Arrow schemas, [`rows`] builds rows, [`parquet`] owns month files.

pub mod adf;
pub mod fields;
pub mod parquet;
pub mod parse;
pub mod reference;
pub mod rows;
pub mod schema;
pub mod wiki;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, Mutex};

use arrow_array::RecordBatch;
use serde_json::Value;

use crate::key::IssueKey;
use crate::state::{self, Pending, State};
use crate::store::archive::RawStore;
use fields::RowContext;
use parquet::{Month, MonthStore};
use rows::RowsBuilder;
use schema::{Schemas, Table};

/// Issues appended to the builders before a chunk is encoded (bounds rebuild memory).
const CHUNK: usize = 1_000;
/// A month with more pending issues than this share of its issues is rebuilt from raw JSON
/// instead of merged (same result, less work).
const REBUILD_SHARE: f64 = 0.25;

/// Decoded rows kept between merges (recent months of a busy site fit easily).
const CACHE_BYTES: usize = 128 << 20;

/// Errors of the transform stage.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Month files.
    #[error(transparent)]
    Parquet(#[from] parquet::Error),
    /// The state database.
    #[error(transparent)]
    State(#[from] state::Error),
    /// Reading raw JSON.
    #[error("raw issue {key}: {source}")]
    Raw {
        /// The issue key.
        key: String,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// An issue whose rows cannot be built.
    #[error("issue {key}: {source}")]
    Rows {
        /// The issue key.
        key: String,
        /// The cause.
        #[source]
        source: rows::RowError,
    },
    /// The cross-process lock of the month files could not be taken.
    #[error("locks/tables.lock: {0}")]
    Lock(#[source] std::io::Error),
    /// A worker thread panicked (a bug, or data the Parquet or Arrow code did not expect).
    #[error("{work}: a transform thread panicked: {message}")]
    Panicked {
        /// What the thread was doing: the month, and the table for a merge.
        work: String,
        /// The panic's message.
        message: String,
    },
}

/// Result alias for the transform stage.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What a rebuild did.
#[derive(Debug, Default, Clone, PartialEq, Eq, serde::Serialize)]
pub struct RebuildSummary {
    /// Months written.
    pub months: usize,
    /// Issues transformed.
    pub issues: usize,
    /// Raw files that could not be transformed (logged, left out).
    pub skipped: usize,
}

/// Turns saved issues into month files.
pub struct Transformer {
    raw: RawStore,
    store: MonthStore,
    state: Arc<State>,
    ctx: Arc<RowContext>,
    schemas: Arc<Schemas>,
    /// Decoded month files of recent merges.
    cache: parquet::MonthCache,
    /// Month files are read-modify-written; one writer at a time in this process.
    writing: Mutex<()>,
}

impl std::fmt::Debug for Transformer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Transformer")
            .field("parquet", &self.store.root())
            .finish_non_exhaustive()
    }
}

impl Transformer {
    /// A transformer writing under `store` from issues in `raw`.
    pub fn new(
        raw: RawStore,
        store: MonthStore,
        state: Arc<State>,
        ctx: RowContext,
    ) -> Transformer {
        let ctx = Arc::new(ctx);
        let schemas = Arc::new(Schemas::new(&ctx));
        Transformer {
            raw,
            store,
            state,
            ctx,
            schemas,
            cache: parquet::MonthCache::new(CACHE_BYTES),
            writing: Mutex::new(()),
        }
    }

    /// Takes the cross-process lock of the month files (see
    /// [`crate::store::lock::lock_tables`]), after the in-process one.
    fn lock_tables(&self) -> Result<crate::store::lock::FileGuard> {
        crate::store::lock::lock_tables(self.raw.data_dir()).map_err(Error::Lock)
    }

    /// The month files.
    pub(crate) fn store(&self) -> &MonthStore {
        &self.store
    }

    /// The Arrow schemas in use.
    pub fn schemas(&self) -> &Schemas {
        &self.schemas
    }

    /// Ids of the JSM SLA custom fields the field catalogue knows, sorted.
    pub(crate) fn sla_field_ids(&self) -> Vec<String> {
        let mut ids: Vec<String> = self
            .ctx
            .catalog
            .custom_fields()
            .filter(|(_, _, sla)| *sla)
            .map(|(id, _, _)| id.to_owned())
            .collect();
        ids.sort();
        ids
    }

    /// Records that `key`'s rows in the month of `created_ms` must be rewritten. Called
    /// before the raw JSON changes, so a crash in between is repaired at the next start.
    pub fn mark(&self, key: &str, created_ms: i64) -> Result<()> {
        if let Some(month) = Month::of_epoch_ms(created_ms) {
            self.state.mark_pending(key, &month.label())?;
        }
        Ok(())
    }

    /// Writes every pending change: per month, one merge (or a rebuild of the month when a
    /// large share of it changed, or a table's file is missing). A merge that meets a file a
    /// rebuild replaces (undecodable bytes, other columns) logs it and rebuilds the month
    /// once; other errors stop the apply with the month's rows still pending. Returns the
    /// number of issues applied.
    pub fn apply_pending(&self) -> Result<usize> {
        let _guard = self.writing.lock().unwrap_or_else(|p| p.into_inner());
        if self.state.pending()?.is_empty() {
            return Ok(0);
        }
        // Read again under the lock: another process may have applied them meanwhile.
        let _tables = self.lock_tables()?;
        let pending = self.state.pending()?;
        if pending.is_empty() {
            return Ok(0);
        }
        let mut by_month: BTreeMap<String, Vec<Pending>> = BTreeMap::new();
        for p in pending {
            by_month.entry(p.month.clone()).or_default().push(p);
        }
        let mut applied = 0;
        for (label, items) in by_month {
            let Some(month) = Month::parse(&label) else {
                self.state.clear_pending(&items)?;
                continue;
            };
            let (start, end) = month.bounds_ms();
            let issues_in_month = self.state.keys_created_between(start, end)?.len();
            // Every table of a month has a file once the month is written (an empty one
            // when the month has no such rows); a missing one cannot be merged into.
            let rebuild = Table::ALL
                .into_iter()
                .any(|t| !self.store.path(t, month).exists())
                || items.len() as f64 > REBUILD_SHARE * issues_in_month as f64;
            let keys: Vec<&str> = items.iter().map(|p| p.issue_key.as_str()).collect();
            if rebuild {
                self.rebuild_month_locked(month, &keys)?;
            } else if let Merge::Replace(files) = self.merge_month(month, &keys)? {
                for e in &files {
                    match e {
                        parquet::Error::SchemaChanged { path } => {
                            tracing::info!(%path, "Columns changed; rebuilding the month from raw JSON.");
                        }
                        e => tracing::warn!(
                            path = e.path(),
                            error = %e.cause(),
                            "Month file cannot be read; rebuilding the month from raw JSON."
                        ),
                    }
                }
                self.rebuild_month_locked(month, &keys)?;
            }
            self.state.clear_pending(&items)?;
            applied += items.len();
        }
        self.store.write_views()?;
        Ok(applied)
    }

    /// Rebuilds every month that has an `issues` file but lacks another table's file: a
    /// table added by an upgrade (`worklogs`), or a file removed by hand. Without it a new
    /// table's view would find no file until each month changed. Returns how many months.
    pub(crate) fn complete_months(&self) -> Result<usize> {
        let _guard = self.writing.lock().unwrap_or_else(|p| p.into_inner());
        let incomplete = |store: &MonthStore| -> Result<Vec<Month>> {
            Ok(store
                .months()?
                .into_iter()
                .filter(|m| Table::ALL.iter().any(|t| !store.path(*t, *m).exists()))
                .collect())
        };
        if incomplete(&self.store)?.is_empty() {
            return Ok(0);
        }
        let _tables = self.lock_tables()?;
        let months = incomplete(&self.store)?;
        for month in &months {
            self.rebuild_month_locked(*month, &[])?;
        }
        self.store.write_views()?;
        Ok(months.len())
    }

    /// Rebuilds every month from `raw/issues`, removing month files no issue belongs to.
    /// Months are processed `parallel` at a time, each streamed in chunks.
    pub fn rebuild_all(&self, parallel: usize) -> Result<RebuildSummary> {
        self.rebuild_all_with_progress(parallel, &indicatif::ProgressBar::hidden())
    }

    /// [`Transformer::rebuild_all`], counting the issues of each month written on `progress`.
    pub fn rebuild_all_with_progress(
        &self,
        parallel: usize,
        progress: &indicatif::ProgressBar,
    ) -> Result<RebuildSummary> {
        let _guard = self.writing.lock().unwrap_or_else(|p| p.into_inner());
        let _tables = self.lock_tables()?;
        // What is pending now is covered by this rebuild; whatever is marked while it runs
        // (another process saving an issue) stays pending for the next apply.
        let covered = self.state.pending()?;
        let mut months: BTreeMap<Month, Vec<String>> = BTreeMap::new();
        let known: std::collections::HashMap<String, Option<i64>> =
            self.state.keys_and_created()?.into_iter().collect();
        let mut skipped = 0;
        for key in self.raw_keys()? {
            let created = match known.get(&key).copied().flatten() {
                Some(ms) => Some(ms),
                None => match self.load_for_rows(&key) {
                    Ok(Loaded::Issue(v)) => created_ms(&v),
                    Ok(Loaded::Unreadable) => {
                        skipped += 1;
                        continue;
                    }
                    // As before: a file that cannot be read has no readable created date.
                    Ok(Loaded::Missing) | Err(Error::Raw { .. }) => None,
                    Err(e) => return Err(e),
                },
            };
            match created.and_then(Month::of_epoch_ms) {
                Some(m) => months.entry(m).or_default().push(key),
                None => {
                    tracing::warn!(%key, "Raw issue has no readable created date; left out.");
                    skipped += 1;
                }
            }
        }
        let work: Vec<(Month, Vec<String>)> = months.into_iter().collect();
        let results = in_parallel(
            parallel,
            &work,
            |(month, _)| format!("month {}", month.label()),
            |(month, keys)| {
                let written = self.write_month_from_raw(*month, keys);
                progress.inc(keys.len() as u64);
                written
            },
        )?;
        let mut summary = RebuildSummary {
            skipped,
            ..Default::default()
        };
        for r in results {
            let (issues, skipped) = r?;
            summary.months += 1;
            summary.issues += issues;
            summary.skipped += skipped;
        }
        let live: HashSet<Month> = work.iter().map(|(m, _)| *m).collect();
        for table in Table::ALL {
            for month in self.store.months_of(table)? {
                if !live.contains(&month) {
                    self.remove(table, month)?;
                }
            }
        }
        self.state.clear_pending(&covered)?;
        self.store.write_views()?;
        Ok(summary)
    }

    /// Rows per table over all month files (from their footers); files that cannot be read
    /// are listed, not counted ([`MonthStore::row_counts`]).
    pub(crate) fn row_counts(&self) -> parquet::RowCounts {
        self.store.row_counts()
    }

    /// Forgets a month file and removes it (and its distribution copy).
    fn remove(&self, table: Table, month: Month) -> Result<()> {
        self.cache.forget(table, month);
        Ok(self.store.remove(table, month)?)
    }

    /// Merges the current rows of `keys` into a month: each table's file is read, the rows of
    /// `keys` dropped, the rows of those still saved (and created in this month) merged in.
    /// Files that a rebuild of the month would replace (other columns, undecodable bytes) are
    /// returned in [`Merge::Replace`]; the other tables' files are merged all the same.
    fn merge_month(&self, month: Month, keys: &[&str]) -> Result<Merge> {
        let mut sorted: Vec<&str> = keys.to_vec();
        sorted.sort_unstable();
        sorted.dedup();
        let mut builder = RowsBuilder::new(self.ctx.clone(), self.schemas.clone());
        for key in &sorted {
            if let Loaded::Issue(issue) = self.load_for_rows(key)?
                && created_ms(&issue).and_then(Month::of_epoch_ms) == Some(month)
                && let Err(e) = builder.append(&issue)
            {
                tracing::warn!(%key, error = %e, "Issue left out of the tables.");
            }
        }
        let new_rows: HashMap<Table, RecordBatch> = builder.finish().into_iter().collect();
        let drop: &[&str] = &sorted;
        // Tables are independent files: merge them side by side, one worker per core taking
        // the largest tables first, so the changelog's encode is never queued behind others.
        let merge = |table: Table| -> Result<usize> {
            let schema = self.schemas.get(table);
            let old = self.cache.read(&self.store, table, month, schema)?;
            let merged = parquet::splice_sorted(schema, &old, drop, &new_rows[&table])?;
            if table == Table::Issues && merged.num_rows() == 0 {
                return Ok(0);
            }
            self.store
                .write(table, month, schema, std::slice::from_ref(&merged))?;
            self.cache.store(&self.store, table, month, &merged);
            Ok(merged.num_rows())
        };
        let cores = std::thread::available_parallelism().map_or(1, usize::from);
        let results = in_parallel(
            cores,
            &BY_SIZE,
            |table| format!("month {}, table {}", month.label(), table.name()),
            |&table| (table, merge(table)),
        )?;
        let mut issue_rows = 0;
        let mut replace = Vec::new();
        for (table, result) in results {
            match result {
                Ok(rows) if table == Table::Issues => issue_rows = rows,
                Ok(_) => {}
                Err(Error::Parquet(e)) if e.rebuild_replaces() => replace.push(e),
                Err(e) => return Err(e),
            }
        }
        if !replace.is_empty() {
            return Ok(Merge::Replace(replace));
        }
        if issue_rows == 0 {
            // Every issue of the month is gone: so are its files.
            for table in Table::ALL {
                self.remove(table, month)?;
            }
        }
        Ok(Merge::Done)
    }

    /// Rebuilds one month from raw JSON: the saved issues created in it plus `extra` keys
    /// (pending ones whose state row may not be written yet).
    fn rebuild_month_locked(&self, month: Month, extra: &[&str]) -> Result<usize> {
        let (start, end) = month.bounds_ms();
        let mut keys = self.state.keys_created_between(start, end)?;
        keys.extend(extra.iter().map(|k| k.to_string()));
        keys.sort();
        keys.dedup();
        let (issues, _) = self.write_month_from_raw(month, &keys)?;
        Ok(issues)
    }

    /// Writes the eight files of `month` from the raw JSON of `keys` (sorted), streaming in
    /// chunks; keys without raw JSON or created in another month are left out.
    fn write_month_from_raw(&self, month: Month, keys: &[String]) -> Result<(usize, usize)> {
        for table in Table::ALL {
            self.cache.forget(table, month);
        }
        let mut writers = Table::ALL
            .into_iter()
            .map(|t| self.store.writer(t, month, self.schemas.get(t)))
            .collect::<Result<Vec<_>, _>>()?;
        let mut builder = RowsBuilder::new(self.ctx.clone(), self.schemas.clone());
        let (mut issues, mut skipped) = (0, 0);
        for key in keys {
            let issue = match self.load_for_rows(key)? {
                Loaded::Issue(issue) => issue,
                Loaded::Missing => continue,
                Loaded::Unreadable => {
                    skipped += 1;
                    continue;
                }
            };
            if created_ms(&issue).and_then(Month::of_epoch_ms) != Some(month) {
                continue;
            }
            match builder.append(&issue) {
                Ok(()) => issues += 1,
                Err(e) => {
                    tracing::warn!(%key, error = %e, "Issue left out of the tables.");
                    skipped += 1;
                }
            }
            if builder.issues() >= CHUNK {
                flush(&mut builder, &mut writers)?;
            }
        }
        flush(&mut builder, &mut writers)?;
        if issues == 0 {
            drop(writers);
            for table in Table::ALL {
                self.remove(table, month)?;
            }
            return Ok((0, skipped));
        }
        for w in writers {
            w.finish()?;
        }
        Ok((issues, skipped))
    }

    /// The raw issue as the row builders read it ([`parse::parse_issue`]); `None` if there
    /// is no file. It may nest arbitrarily deep, hence the `DeepValue`.
    fn load(&self, key: &str) -> Result<Option<crate::json::DeepValue>> {
        let Ok(parsed) = IssueKey::parse(key) else {
            return Ok(None);
        };
        let raw_error = |source| Error::Raw {
            key: key.to_string(),
            source,
        };
        let bytes = match std::fs::read(self.raw.issue_path(&parsed)) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(raw_error(e)),
        };
        parse::parse_issue(&bytes)
            .map(|v| Some(crate::json::DeepValue::new(v)))
            .map_err(|e| raw_error(std::io::Error::new(std::io::ErrorKind::InvalidData, e)))
    }

    /// [`Transformer::load`] for building rows. Raw JSON that cannot be parsed (truncated,
    /// garbled) concerns that issue only: it is left out of the tables with a warning and
    /// recorded as a failure, so the next sweep fetches it again (which replaces the file).
    /// Other I/O failures (a folder that cannot be read) still stop the month.
    fn load_for_rows(&self, key: &str) -> Result<Loaded> {
        match self.load(key) {
            Ok(Some(issue)) => Ok(Loaded::Issue(issue)),
            Ok(None) => Ok(Loaded::Missing),
            Err(Error::Raw { key, source })
                if matches!(
                    source.kind(),
                    std::io::ErrorKind::InvalidData | std::io::ErrorKind::UnexpectedEof
                ) =>
            {
                tracing::warn!(%key, error = %source, "Raw JSON unreadable; issue left out of the tables until it is fetched again.");
                self.state
                    .record_failure(&key, &format!("raw JSON unreadable: {source}"))?;
                Ok(Loaded::Unreadable)
            }
            Err(e) => Err(e),
        }
    }

    fn raw_keys(&self) -> Result<Vec<String>> {
        let dir = self.raw.issues_dir();
        let mut keys: Vec<String> = match std::fs::read_dir(&dir) {
            Ok(entries) => entries
                .flatten()
                .filter_map(|e| {
                    let name = e.file_name();
                    let key = name.to_str()?.strip_suffix(".json")?;
                    IssueKey::parse(key).ok().map(|k| k.to_string())
                })
                .collect(),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
            Err(source) => {
                return Err(Error::Raw {
                    key: dir.display().to_string(),
                    source,
                });
            }
        };
        keys.sort();
        Ok(keys)
    }
}

/// Tables by their usual size, largest first (the order work is handed out in).
const BY_SIZE: [Table; 8] = [
    Table::Changelog,
    Table::Comments,
    Table::Issues,
    Table::Sla,
    Table::Worklogs,
    Table::Attachments,
    Table::IssueLinks,
    Table::RemoteLinks,
];

/// What a merge did with a month.
enum Merge {
    /// Every table's file was merged.
    Done,
    /// These files must be replaced by a rebuild of the month (the others were merged).
    Replace(Vec<parquet::Error>),
}

/// A raw issue, as read for the tables.
enum Loaded {
    /// Parsed (it may nest arbitrarily deep: dropped without recursion).
    Issue(crate::json::DeepValue),
    /// No file (deleted, moved away).
    Missing,
    /// The file cannot be parsed; logged and recorded as a failure.
    Unreadable,
}

/// Runs `work` over `items` on `threads` threads (at least one, at most one per item),
/// handing items out in order; results come in no particular order. A panic in a thread
/// becomes [`Error::Panicked`] naming (by `name`) the item it was on, once every other thread
/// has finished.
fn in_parallel<I: Sync, T: Send>(
    threads: usize,
    items: &[I],
    name: impl Fn(&I) -> String,
    work: impl Fn(&I) -> T + Sync,
) -> Result<Vec<T>> {
    let next = std::sync::atomic::AtomicUsize::new(0);
    let threads = threads.clamp(1, items.len().max(1));
    // The item each thread is on, to name it if the thread panics.
    let current: Vec<Mutex<Option<usize>>> = (0..threads).map(|_| Mutex::new(None)).collect();
    std::thread::scope(|scope| {
        let handles: Vec<_> = current
            .iter()
            .map(|slot| {
                let (next, work) = (&next, &work);
                scope.spawn(move || {
                    let mut done = Vec::new();
                    loop {
                        let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        let Some(item) = items.get(i) else {
                            return done;
                        };
                        *slot.lock().unwrap_or_else(|p| p.into_inner()) = Some(i);
                        done.push(work(item));
                    }
                })
            })
            .collect();
        let mut out = Vec::with_capacity(items.len());
        let mut panicked = None;
        // Every handle is joined, so the scope itself never re-raises a panic.
        for (handle, slot) in handles.into_iter().zip(&current) {
            match handle.join() {
                Ok(done) => out.extend(done),
                Err(payload) => {
                    let on = *slot.lock().unwrap_or_else(|p| p.into_inner());
                    panicked.get_or_insert_with(|| Error::Panicked {
                        work: on
                            .and_then(|i| items.get(i))
                            .map_or_else(|| "transform".into(), &name),
                        message: crate::panic_message(payload.as_ref()),
                    });
                }
            }
        }
        panicked.map_or(Ok(out), Err)
    })
}

/// `fields.created` of a raw issue, epoch ms (the partition key).
fn created_ms(issue: &Value) -> Option<i64> {
    issue["fields"]["created"]
        .as_str()
        .and_then(crate::time::jira_time_ms)
}

fn flush(builder: &mut RowsBuilder, writers: &mut [parquet::MonthWriter]) -> Result<()> {
    if builder.issues() == 0 {
        return Ok(());
    }
    let batches: HashMap<Table, RecordBatch> = builder.finish().into_iter().collect();
    for (table, writer) in Table::ALL.into_iter().zip(writers.iter_mut()) {
        if let Some(batch) = batches.get(&table)
            && batch.num_rows() > 0
        {
            writer.write(batch)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::SlaNames;
    use proptest::prelude::*;
    use serde_json::json;

    /// A minimal but complete issue: `n` comments and `n` histories, in month `m` of 2024.
    fn issue(key: &str, id: i64, month: u32, version: u32) -> Value {
        let n = version as usize + 1;
        json!({
            "id": id.to_string(),
            "key": key,
            "fields": {
                "summary": format!("{key} v{version}"),
                "created": format!("2024-{month:02}-10T10:00:00.000+0000"),
                "updated": format!("2024-{month:02}-11T10:00:{version:02}.000+0000"),
                "project": {"key": key.split('-').next().unwrap()},
                "status": {"name": "Open", "statusCategory": {"name": "To Do"}},
                "labels": [format!("v{version}")],
                "comment": {
                    "comments": (0..n).map(|i| json!({
                        "id": format!("{}", id * 100 + i as i64),
                        "body": format!("comment {i} of v{version}"),
                        "created": "2024-01-01T00:00:00.000+0000",
                    })).collect::<Vec<_>>(),
                    "total": n, "maxResults": n, "startAt": 0
                },
                "attachment": [],
                "issuelinks": [],
            },
            "changelog": {
                "histories": (0..n).map(|i| json!({
                    "id": format!("{}", id * 100 + i as i64),
                    "created": "2024-01-02T00:00:00.000+0000",
                    "items": [{"field": "status", "fieldtype": "jira", "from": "1", "to": "2"}],
                })).collect::<Vec<_>>(),
                "total": n, "startAt": 0, "maxResults": n
            },
            "mirror": {"remote_links": [], "sla": null, "attachments": []},
        })
    }

    struct Fixture {
        _dir: tempfile::TempDir,
        raw: RawStore,
        t: Transformer,
    }

    fn fixture() -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        let raw = RawStore::new(dir.path());
        raw.ensure_dirs().unwrap();
        let t = transformer(dir.path(), &raw);
        Fixture { _dir: dir, raw, t }
    }

    /// A transformer (a process of its own) on the mirror in `dir`, without custom fields.
    fn transformer(dir: &std::path::Path, raw: &RawStore) -> Transformer {
        Transformer::new(
            raw.clone(),
            MonthStore::new(dir.join("parquet"), None),
            Arc::new(State::open(&dir.join("state.db")).unwrap()),
            RowContext {
                catalog: fields::FieldCatalog::empty(),
                fields: Default::default(),
                sla: SlaNames::default(),
            },
        )
    }

    /// Saves a version of an issue with `t` and applies it, as the pipeline does: marked
    /// before the raw JSON changes and, with `mark_after`, again after it (another writer may
    /// apply the first mark before the file is there), then recorded as saved.
    fn save_with(t: &Transformer, raw: &RawStore, v: &Value, mark_after: bool) {
        let key = IssueKey::parse(v["key"].as_str().unwrap()).unwrap();
        let created = created_ms(v).unwrap();
        t.mark(key.as_str(), created).unwrap();
        raw.save_issue(&key, v).unwrap();
        if mark_after {
            t.mark(key.as_str(), created).unwrap();
        }
        t.state
            .record_saved(
                &state::SavedIssue {
                    issue_id: v["id"].as_str().unwrap().parse().unwrap(),
                    issue_key: key.to_string(),
                    updated_ms: 0,
                },
                Some(created),
            )
            .unwrap();
        t.apply_pending().unwrap();
    }

    impl Fixture {
        /// Saves a version of an issue and applies it, as the pipeline does.
        fn save(&self, v: &Value) {
            save_with(&self.t, &self.raw, v, false);
        }

        /// Every table's rows, months in order, one batch per table.
        fn tables(&self) -> Vec<(Table, RecordBatch)> {
            let months = self.t.store.months().unwrap();
            Table::ALL
                .into_iter()
                .map(|table| {
                    let schema = self.t.schemas.get(table);
                    let batches: Vec<RecordBatch> = months
                        .iter()
                        .flat_map(|m| self.t.store.read(table, *m, schema).unwrap())
                        .collect();
                    (table, parquet::concat(schema, &batches).unwrap())
                })
                .collect()
        }
    }

    /// Two transformers on one mirror are two processes (`run` and a `fetch` beside it): each
    /// has its own in-process lock, so only the cross-process tables lock keeps one from
    /// rewriting a month from what it read before the other's write, dropping those rows.
    #[test]
    fn two_processes_writing_one_month_lose_no_rows() {
        let f = fixture();
        let other = transformer(f._dir.path(), &f.raw);
        // A month with some issues already, so the writers merge rather than rebuild.
        for i in 0..8 {
            f.save(&issue(&format!("OLD-{}", i + 1), 900 + i, 4, 0));
        }
        std::thread::scope(|scope| {
            for (name, first_id, t) in [("A", 1000, &f.t), ("B", 2000, &other)] {
                let raw = &f.raw;
                scope.spawn(move || {
                    for i in 0..30 {
                        let v = issue(&format!("{name}-{}", i + 1), first_id + i, 4, 0);
                        // Marked before and after the raw JSON changes, as the pipeline does.
                        save_with(t, raw, &v, true);
                    }
                });
            }
        });
        let written = f.tables();
        f.t.rebuild_all(1).unwrap();
        assert!(
            written == f.tables(),
            "every saved issue's rows are in the month"
        );
        let issues = &written.iter().find(|(t, _)| *t == Table::Issues).unwrap().1;
        assert_eq!(issues.num_rows(), 68);
    }

    /// Issues SUP-1..=6 across two months, three versions each.
    fn versions() -> Vec<Vec<Value>> {
        (1..=6)
            .map(|i| {
                (0..3)
                    .map(|v| issue(&format!("SUP-{i}"), 10_000 + i, 1 + (i as u32 % 2), v))
                    .collect()
            })
            .collect()
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 12, ..ProptestConfig::default() })]

        #[test]
        fn any_order_of_versions_ends_as_the_latest_and_equals_a_rebuild(
            steps in proptest::collection::vec((0usize..6, 0usize..3), 1..24),
        ) {
            let all = versions();
            let incremental = fixture();
            let mut latest: std::collections::BTreeMap<usize, usize> = Default::default();
            for &(issue, version) in &steps {
                incremental.save(&all[issue][version]);
                latest.insert(issue, version);
            }
            // Upserting only the latest version of each issue, in key order.
            let direct = fixture();
            for (&issue, &version) in &latest {
                direct.save(&all[issue][version]);
            }
            prop_assert_eq!(incremental.tables(), direct.tables());
            // Saving the latest again changes nothing (upsert twice = once).
            let before = incremental.tables();
            for (&issue, &version) in &latest {
                incremental.save(&all[issue][version]);
            }
            prop_assert_eq!(&before, &incremental.tables());
            // A rebuild from raw JSON gives the same rows.
            incremental.t.rebuild_all(2).unwrap();
            prop_assert_eq!(&before, &incremental.tables());
        }
    }

    const JAN: Month = Month {
        year: 2024,
        month: 1,
    };

    /// SUP-1..=8 created in January (so changing one or two merges rather than rebuilds the
    /// month) and SUP-9 in February; SUP-1 has attachments, one downloaded, one refused.
    fn eight_in_january() -> Fixture {
        let f = fixture();
        for i in 1..=8 {
            let mut v = issue(&format!("SUP-{i}"), i, 1, 0);
            if i == 1 {
                v["fields"]["attachment"] = json!([
                    {"id": "1001", "filename": "a.txt", "size": 3},
                    {"id": "1002", "filename": "b.txt", "size": 4},
                ]);
                v["mirror"]["attachments"] = json!([
                    {"id": "1001", "status": "downloaded", "local_path": "raw/attachments/SUP-1/1001_a.txt", "sha256": "aa"},
                    {"id": "1002", "status": "forbidden", "error": "HTTP 403"},
                ]);
            }
            f.save(&v);
        }
        f.save(&issue("SUP-9", 9, 2, 0));
        f
    }

    impl Fixture {
        /// `table`'s rows of `column` (a string column) for every row, months in order.
        fn strings(&self, table: Table, column: &str) -> Vec<Option<String>> {
            let tables = self.tables();
            let batch = &tables[table.index()].1;
            let col = batch
                .column_by_name(column)
                .and_then(|c| c.as_any().downcast_ref::<arrow_array::StringArray>())
                .unwrap();
            col.iter().map(|v| v.map(str::to_owned)).collect()
        }

        /// Asserts the tables equal what a rebuild from raw JSON writes.
        fn assert_equal_to_a_rebuild(&self) {
            let before = self.tables();
            self.t.rebuild_all(2).unwrap();
            assert_eq!(before, self.tables(), "tables differ from a rebuild");
        }
    }

    #[test]
    fn a_truncated_issues_file_is_rebuilt_by_the_next_apply() {
        let f = eight_in_january();
        let path = f.t.store.path(Table::Issues, JAN);
        let len = std::fs::metadata(&path).unwrap().len();
        let file = std::fs::OpenOptions::new().write(true).open(&path).unwrap();
        file.set_len(len / 2).unwrap();
        drop(file);
        // The cache holds this file's rows, but must not hide that it changed on disk.
        f.save(&issue("SUP-3", 3, 1, 1));
        let summaries = f.strings(Table::Issues, "summary");
        assert_eq!(summaries.len(), 9, "{summaries:?}");
        assert!(summaries.contains(&Some("SUP-3 v1".into())));
        assert!(f.t.state.pending().unwrap().is_empty());
        f.assert_equal_to_a_rebuild();
    }

    #[test]
    fn a_garbage_changelog_file_is_rebuilt_while_issues_is_fine() {
        let f = eight_in_january();
        std::fs::write(
            f.t.store.path(Table::Changelog, JAN),
            b"PAR1 but then not Parquet at all",
        )
        .unwrap();
        f.save(&issue("SUP-5", 5, 1, 2));
        // Every issue's changelog rows are back, not only the changed issue's.
        let keys = f.strings(Table::Changelog, "issue_key");
        for i in 1..=8 {
            assert!(
                keys.contains(&Some(format!("SUP-{i}"))),
                "SUP-{i}: {keys:?}"
            );
        }
        f.assert_equal_to_a_rebuild();
    }

    #[test]
    fn a_zero_byte_file_is_rebuilt_by_the_next_apply() {
        let f = eight_in_january();
        std::fs::File::create(f.t.store.path(Table::Attachments, JAN)).unwrap();
        f.save(&issue("SUP-2", 2, 1, 1));
        assert_eq!(
            f.strings(Table::Attachments, "status"),
            [Some("downloaded".into()), Some("forbidden".into())]
        );
        f.assert_equal_to_a_rebuild();
    }

    #[test]
    fn a_missing_file_of_one_table_is_rebuilt_not_merged_into() {
        let f = eight_in_january();
        std::fs::remove_file(f.t.store.path(Table::Comments, JAN)).unwrap();
        f.save(&issue("SUP-2", 2, 1, 1));
        let keys = f.strings(Table::Comments, "issue_key");
        assert!(keys.contains(&Some("SUP-7".into())), "{keys:?}");
        f.assert_equal_to_a_rebuild();
    }

    #[test]
    fn months_without_a_new_tables_file_are_completed_at_start() {
        let f = eight_in_january();
        // As after an upgrade that added `worklogs`: no month has its file.
        let feb = Month {
            year: 2024,
            month: 2,
        };
        for month in [JAN, feb] {
            std::fs::remove_file(f.t.store.path(Table::Worklogs, month)).unwrap();
        }
        let before = f.tables();
        assert_eq!(f.t.complete_months().unwrap(), 2);
        for month in [JAN, feb] {
            assert!(f.t.store.path(Table::Worklogs, month).exists());
        }
        assert_eq!(before, f.tables(), "nothing else changed");
        assert_eq!(f.t.complete_months().unwrap(), 0, "nothing left to do");
        f.assert_equal_to_a_rebuild();
    }

    #[test]
    fn attachments_files_with_the_old_columns_are_rebuilt() {
        let f = eight_in_january();
        // An attachments file as written before `status` and `error` existed.
        let schema = f.t.schemas.get(Table::Attachments);
        let rows = f.t.store.read(Table::Attachments, JAN, schema).unwrap();
        let old_schema = Arc::new(schema.project(&(0..10).collect::<Vec<_>>()).unwrap());
        let old: Vec<RecordBatch> = rows
            .iter()
            .map(|b| b.project(&(0..10).collect::<Vec<_>>()).unwrap())
            .collect();
        f.t.store
            .write(Table::Attachments, JAN, &old_schema, &old)
            .unwrap();
        assert!(matches!(
            f.t.store.read(Table::Attachments, JAN, schema),
            Err(parquet::Error::SchemaChanged { .. })
        ));
        f.save(&issue("SUP-4", 4, 1, 1));
        assert_eq!(
            f.strings(Table::Attachments, "status"),
            [Some("downloaded".into()), Some("forbidden".into())]
        );
        assert_eq!(
            f.strings(Table::Attachments, "error"),
            [None, Some("HTTP 403".into())]
        );
        f.assert_equal_to_a_rebuild();
    }

    #[test]
    fn a_folder_in_place_of_a_month_file_is_an_error_not_a_rebuild() {
        // A rebuild could not replace it (a file cannot be renamed over a folder): the apply
        // fails, naming it, and the change stays pending.
        let f = eight_in_january();
        let path = f.t.store.path(Table::Sla, JAN);
        std::fs::remove_file(&path).unwrap();
        std::fs::create_dir(&path).unwrap();
        let v = issue("SUP-6", 6, 1, 1);
        f.t.mark("SUP-6", created_ms(&v).unwrap()).unwrap();
        f.raw
            .save_issue(&IssueKey::parse("SUP-6").unwrap(), &v)
            .unwrap();
        let err = f.t.apply_pending().unwrap_err();
        assert!(
            matches!(&err, Error::Parquet(e) if !e.rebuild_replaces()),
            "{err:?}"
        );
        assert!(err.to_string().contains("sla/2024-01.parquet"), "{err}");
        assert_eq!(f.t.state.pending().unwrap().len(), 1);
        assert!(path.is_dir());
    }

    #[test]
    fn unreadable_raw_json_is_left_out_and_recorded_while_its_month_is_written() {
        let f = eight_in_january();
        // SUP-4's raw file is cut short (a full disk, a copy tool), then SUP-4 is applied
        // again together with a real change to SUP-3: a merge.
        let key = IssueKey::parse("SUP-4").unwrap();
        let raw_path = f.raw.issue_path(&key);
        let bytes = std::fs::read(&raw_path).unwrap();
        std::fs::write(&raw_path, &bytes[..bytes.len() / 2]).unwrap();
        f.t.mark("SUP-4", created_ms(&issue("SUP-4", 4, 1, 0)).unwrap())
            .unwrap();
        f.save(&issue("SUP-3", 3, 1, 1));
        let keys = f.strings(Table::Issues, "issue_key");
        assert_eq!(keys.len(), 8, "{keys:?}");
        assert!(!keys.contains(&Some("SUP-4".into())));
        assert!(
            f.strings(Table::Issues, "summary")
                .contains(&Some("SUP-3 v1".into()))
        );
        for table in Table::ALL {
            assert!(
                !f.strings(table, "issue_key")
                    .contains(&Some("SUP-4".into())),
                "{} keeps SUP-4",
                table.name()
            );
        }
        let failures = f.t.state.failures().unwrap();
        assert_eq!(failures.len(), 1);
        assert_eq!(failures[0].issue_key, "SUP-4");
        assert!(
            failures[0].last_error.starts_with("raw JSON unreadable: "),
            "{}",
            failures[0].last_error
        );
        assert!(f.t.state.pending().unwrap().is_empty());

        // A rebuild leaves it out the same way, and says so.
        let summary = f.t.rebuild_all(2).unwrap();
        assert_eq!(
            summary,
            RebuildSummary {
                months: 2,
                issues: 8,
                skipped: 1
            }
        );
        assert_eq!(f.t.state.failures().unwrap()[0].attempts, 2);
        assert_eq!(f.strings(Table::Issues, "issue_key").len(), 8);

        // Fetched again (the next sweep), it is back.
        f.save(&issue("SUP-4", 4, 1, 1));
        assert_eq!(f.strings(Table::Issues, "issue_key").len(), 9);
        assert!(f.t.state.failures().unwrap().is_empty());
    }

    #[test]
    fn an_unreadable_raw_file_unknown_to_the_state_is_counted_by_a_rebuild() {
        let f = fixture();
        f.save(&issue("SUP-1", 1, 1, 0));
        let key = IssueKey::parse("SUP-2").unwrap();
        std::fs::write(f.raw.issue_path(&key), b"{\"id\": \"2\", \"key\": \"SUP-").unwrap();
        let summary = f.t.rebuild_all(2).unwrap();
        assert_eq!((summary.issues, summary.skipped), (1, 1));
        assert_eq!(f.t.state.failures().unwrap()[0].issue_key, "SUP-2");
    }

    #[test]
    fn a_panicking_worker_becomes_an_error_naming_what_it_was_doing() {
        let items = [1, 2, 3, 4, 5];
        let result = in_parallel(
            2,
            &items,
            |i| format!("item {i}"),
            |&i| {
                assert!(i != 3, "hostile data");
                i * 10
            },
        );
        match result {
            Err(Error::Panicked { work, message }) => {
                assert_eq!(work, "item 3");
                assert_eq!(message, "hostile data");
            }
            other => panic!("{other:?}"),
        }
        let mut fine = in_parallel(3, &items, |i| format!("{i}"), |&i| i * 10).unwrap();
        fine.sort_unstable();
        assert_eq!(fine, [10, 20, 30, 40, 50]);
    }

    #[test]
    fn deleting_every_issue_of_a_month_removes_its_files() {
        let f = fixture();
        let v = issue("SUP-1", 1, 3, 0);
        f.save(&v);
        assert_eq!(f.t.store.months().unwrap().len(), 1);
        let key = IssueKey::parse("SUP-1").unwrap();
        f.t.mark("SUP-1", created_ms(&v).unwrap()).unwrap();
        f.raw.remove_issue(&key).unwrap();
        f.t.state.record_deleted("SUP-1").unwrap();
        f.t.apply_pending().unwrap();
        assert!(f.t.store.months().unwrap().is_empty());
        for table in Table::ALL {
            assert!(
                !f.t.store
                    .path(
                        table,
                        Month {
                            year: 2024,
                            month: 3
                        }
                    )
                    .exists()
            );
        }
    }
}
