//! Month files: `parquet/<table>/YYYY-MM.parquet`, zstd, rows sorted by `issue_key`.
//!
//! A month file is only ever replaced whole (temp file, fsync, rename), so DuckDB never reads a
//! torn file. Changing some issues of a month reads the file, drops the rows of those issues,
//! merges the new rows in by `issue_key` (both runs are sorted, so this is a linear merge, not
//! a sort) and writes it back; rebuilding a month from raw JSON appends its issues in key
//! order. Both paths therefore produce the same rows in the same order, which is what lets
//! `transform --rebuild` be compared row for row with the incremental path.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow_array::{Array, RecordBatch, StringArray};
use arrow_schema::SchemaRef;
use parquet::arrow::ArrowWriter;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::properties::{EnabledStatistics, WriterProperties};
use parquet::schema::types::ColumnPath;

use super::schema::{REFERENCE_TABLES, Table};
use crate::store::archive::{copy_atomic, create_dir_durable, sync_dir, write_atomic};

/// Errors of the month files.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Reading or writing a file failed.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The cause.
        #[source]
        source: io::Error,
    },
    /// Parquet encoding or decoding failed.
    #[error("{path}: {source}")]
    Parquet {
        /// The file.
        path: String,
        /// The cause.
        #[source]
        source: parquet::errors::ParquetError,
    },
    /// Arrow could not merge or slice the rows.
    #[error("{path}: {source}")]
    Arrow {
        /// The file.
        path: String,
        /// The cause.
        #[source]
        source: arrow_schema::ArrowError,
    },
    /// The file was written with other columns (the `[fields]` mapping changed): the month
    /// must be rebuilt from raw JSON.
    #[error("{path}: its columns differ from the current schema")]
    SchemaChanged {
        /// The file.
        path: String,
    },
    /// The file exists and was opened, but its bytes are not a readable Parquet file
    /// (truncated, zero bytes, not Parquet, damaged pages): rebuilding the month from raw
    /// JSON replaces it.
    #[error("{path}: cannot be decoded: {source}")]
    Undecodable {
        /// The file.
        path: String,
        /// The decoder's complaint.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
}

impl Error {
    /// True when rebuilding the month from raw JSON replaces the file this error is about:
    /// its columns differ from the schema ([`Error::SchemaChanged`]) or its bytes cannot be
    /// decoded ([`Error::Undecodable`]). A rebuild reads no month file, so it cannot meet
    /// these again. Failures to open, list or write (permissions, a full disk, a failing
    /// device) are not such errors: a rebuild would need the same folder and disk.
    pub(crate) fn rebuild_replaces(&self) -> bool {
        matches!(
            self,
            Error::SchemaChanged { .. } | Error::Undecodable { .. }
        )
    }

    /// The file or folder the error is about.
    pub(crate) fn path(&self) -> &str {
        match self {
            Error::Io { path, .. }
            | Error::Parquet { path, .. }
            | Error::Arrow { path, .. }
            | Error::SchemaChanged { path }
            | Error::Undecodable { path, .. } => path,
        }
    }

    /// What went wrong, without the path.
    pub(crate) fn cause(&self) -> String {
        match self {
            Error::Io { source, .. } => source.to_string(),
            Error::Parquet { source, .. } => source.to_string(),
            Error::Arrow { source, .. } => source.to_string(),
            Error::SchemaChanged { .. } => "its columns differ from the current schema".into(),
            Error::Undecodable { source, .. } => format!("cannot be decoded: {source}"),
        }
    }
}

/// Result alias for month files.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// A calendar month (UTC), the partition of every table.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) struct Month {
    /// Year, e.g. 2024.
    pub year: i32,
    /// Month 1..=12.
    pub month: u32,
}

impl Month {
    /// `YYYY-MM`.
    pub(crate) fn label(self) -> String {
        format!("{:04}-{:02}", self.year, self.month)
    }

    /// Parses `YYYY-MM`.
    pub(crate) fn parse(s: &str) -> Option<Month> {
        let (y, m) = s.split_once('-')?;
        let (year, month) = (y.parse().ok()?, m.parse().ok()?);
        (y.len() == 4 && m.len() == 2 && (1..=12).contains(&month)).then_some(Month { year, month })
    }

    /// The month of an instant given in epoch milliseconds (UTC).
    pub(crate) fn of_epoch_ms(ms: i64) -> Option<Month> {
        use chrono::Datelike;
        let t = chrono::DateTime::<chrono::Utc>::from_timestamp_millis(ms)?;
        Some(Month {
            year: t.year(),
            month: t.month(),
        })
    }

    /// First and one-past-last instant of the month, epoch ms.
    pub(crate) fn bounds_ms(self) -> (i64, i64) {
        let start = |y: i32, m: u32| {
            chrono::NaiveDate::from_ymd_opt(y, m, 1)
                .and_then(|d| d.and_hms_opt(0, 0, 0))
                .map(|t| t.and_utc().timestamp_millis())
                .unwrap_or(0)
        };
        let (ny, nm) = if self.month == 12 {
            (self.year + 1, 1)
        } else {
            (self.year, self.month + 1)
        };
        (start(self.year, self.month), start(ny, nm))
    }
}

/// Columns of long, mostly unique text (any table).
const FREE_TEXT_COLUMNS: &[&str] = &[
    "summary",
    "description",
    "custom_fields",
    "body",
    "from_string",
    "to_string",
    "from_value",
    "to_value",
    "filename",
    "content_url",
    "local_path",
    "sha256",
    "error",
    "url",
    "title",
    "global_id",
];

/// The `parquet/` folder (and its optional distribution copy).
#[derive(Debug, Clone)]
pub struct MonthStore {
    root: PathBuf,
    distribution: Option<PathBuf>,
    properties: WriterProperties,
}

impl MonthStore {
    /// Month files under `root` (`data_dir/parquet`); every written file is also copied
    /// atomically to `distribution` when set.
    pub fn new(root: PathBuf, distribution: Option<PathBuf>) -> MonthStore {
        let mut builder = WriterProperties::builder()
            .set_compression(Compression::ZSTD(ZstdLevel::try_new(1).unwrap_or_default()))
            .set_max_row_group_row_count(Some(128 * 1024))
            .set_created_by(concat!("jira-mirror ", env!("CARGO_PKG_VERSION")).to_string());
        // Free text is nearly unique per row: a dictionary and min/max statistics cost
        // hashing and comparing every value for nothing (zstd does the compressing).
        for column in FREE_TEXT_COLUMNS {
            let path = ColumnPath::from(*column);
            builder = builder
                .set_column_dictionary_enabled(path.clone(), false)
                .set_column_statistics_enabled(path, EnabledStatistics::None);
        }
        let properties = builder.build();
        MonthStore {
            root,
            distribution,
            properties,
        }
    }

    /// `parquet/`.
    pub(crate) fn root(&self) -> &Path {
        &self.root
    }

    /// `parquet/<table>/YYYY-MM.parquet`.
    pub(crate) fn path(&self, table: Table, month: Month) -> PathBuf {
        self.root
            .join(table.name())
            .join(format!("{}.parquet", month.label()))
    }

    /// Every month that has an `issues` file.
    pub(crate) fn months(&self) -> Result<Vec<Month>> {
        self.months_of(Table::Issues)
    }

    /// Every month that has a file of `table`, in order.
    pub(crate) fn months_of(&self, table: Table) -> Result<Vec<Month>> {
        let dir = self.root.join(table.name());
        let mut months: Vec<Month> = match fs::read_dir(&dir) {
            Ok(entries) => entries
                .flatten()
                .filter_map(|e| {
                    let name = e.file_name();
                    Month::parse(name.to_str()?.strip_suffix(".parquet")?)
                })
                .collect(),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Vec::new(),
            Err(source) => return Err(io_error(&dir, source)),
        };
        months.sort();
        Ok(months)
    }

    /// The rows of one month file (none if it does not exist), checked against `schema`.
    pub(crate) fn read(
        &self,
        table: Table,
        month: Month,
        schema: &SchemaRef,
    ) -> Result<Vec<RecordBatch>> {
        let path = self.path(table, month);
        let file = match fs::File::open(&path) {
            Ok(f) => f,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(source) => return Err(io_error(&path, source)),
        };
        let builder = ParquetRecordBatchReaderBuilder::try_new(file)
            .map_err(|source| decode_error(&path, source))?;
        if builder.schema().fields() != schema.fields() {
            return Err(Error::SchemaChanged {
                path: path.display().to_string(),
            });
        }
        builder
            .with_batch_size(64 * 1024)
            .build()
            .map_err(|source| decode_error(&path, source))?
            .map(|b| b.map_err(|source| batch_decode_error(&path, source)))
            .collect()
    }

    /// Rows in a month file, from its footer (no data read); 0 if there is no file.
    pub(crate) fn row_count(&self, table: Table, month: Month) -> Result<u64> {
        let path = self.path(table, month);
        let file = match fs::File::open(&path) {
            Ok(f) => f,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(0),
            Err(source) => return Err(io_error(&path, source)),
        };
        let builder = ParquetRecordBatchReaderBuilder::try_new(file)
            .map_err(|source| decode_error(&path, source))?;
        Ok(builder.metadata().file_metadata().num_rows().max(0) as u64)
    }

    /// Rows per table over every month file of that table (from the footers, as
    /// [`MonthStore::row_count`]). Never fails: a file (or a table's folder) that cannot be
    /// read is not counted and is listed in [`RowCounts::problems`] instead, so `status`
    /// works on a damaged mirror.
    pub(crate) fn row_counts(&self) -> RowCounts {
        let mut counts = RowCounts::default();
        for table in Table::ALL {
            let mut rows = 0;
            match self.months_of(table) {
                Ok(months) => {
                    for month in months {
                        match self.row_count(table, month) {
                            Ok(n) => rows += n,
                            Err(e) => counts.problems.push(FileProblem::of(&e)),
                        }
                    }
                }
                Err(e) => counts.problems.push(FileProblem::of(&e)),
            }
            counts.rows.push((table, rows));
        }
        counts
    }

    /// Replaces a month file with `batches` (atomically), and its distribution copy.
    pub(crate) fn write(
        &self,
        table: Table,
        month: Month,
        schema: &SchemaRef,
        batches: &[RecordBatch],
    ) -> Result<()> {
        let mut writer = self.writer(table, month, schema)?;
        for batch in batches {
            writer.write(batch)?;
        }
        writer.finish()
    }

    /// A streaming writer for one month file: batches are encoded as they come, so a
    /// rebuild holds one chunk of issues in memory, not the whole month.
    pub(crate) fn writer(
        &self,
        table: Table,
        month: Month,
        schema: &SchemaRef,
    ) -> Result<MonthWriter> {
        let path = self.path(table, month);
        let dir = path.parent().unwrap_or(Path::new(".")).to_path_buf();
        create_dir_durable(&dir).map_err(|source| io_error(&dir, source))?;
        let temp = tempfile::Builder::new()
            .prefix(".tmp-")
            .permissions(crate::store::archive::file_permissions())
            .tempfile_in(&dir)
            .map_err(|source| io_error(&dir, source))?;
        let file = temp.reopen().map_err(|source| io_error(&path, source))?;
        let writer = ArrowWriter::try_new(file, schema.clone(), Some(self.properties.clone()))
            .map_err(|source| parquet_error(&path, source))?;
        Ok(MonthWriter {
            writer,
            temp,
            path,
            distribution: self.distribution_path(table, month),
        })
    }

    /// Removes a month file (all its issues are gone), and its distribution copy.
    pub(crate) fn remove(&self, table: Table, month: Month) -> Result<()> {
        let path = self.path(table, month);
        match fs::remove_file(&path) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(io_error(&path, e)),
            _ => {}
        }
        if let Some(copy) = self.distribution_path(table, month) {
            let removed = fs::remove_file(&copy);
            publish(
                &copy,
                removed.or_else(|e| match e.kind() {
                    io::ErrorKind::NotFound => Ok(()),
                    _ => Err(e),
                }),
            );
        }
        Ok(())
    }

    /// The one file of reference table `name`: `<root>/<name>/<name>.parquet`.
    pub(crate) fn reference_path(&self, name: &str) -> PathBuf {
        self.root.join(name).join(format!("{name}.parquet"))
    }

    /// Writes reference table `name` (one file, see [`MonthStore::reference_path`]) and its
    /// distribution copy atomically.
    pub(crate) fn write_reference(&self, name: &str, batch: &RecordBatch) -> Result<()> {
        let path = self.reference_path(name);
        let mut bytes = Vec::new();
        let mut writer =
            ArrowWriter::try_new(&mut bytes, batch.schema(), Some(self.properties.clone()))
                .map_err(|source| parquet_error(&path, source))?;
        writer
            .write(batch)
            .map_err(|source| parquet_error(&path, source))?;
        writer
            .close()
            .map_err(|source| parquet_error(&path, source))?;
        write_atomic(&path, &bytes).map_err(|source| io_error(&path, source))?;
        if let Some(dist) = &self.distribution {
            let copy = dist.join(name).join(format!("{name}.parquet"));
            publish(&copy, write_atomic(&copy, &bytes));
        }
        Ok(())
    }

    /// Writes `views.sql` (one `CREATE VIEW jira_<table>` per table, and one per reference
    /// table whose file exists, paths relative to the folder holding it) here and in the
    /// distribution folder, unless it is already there.
    pub(crate) fn write_views(&self) -> Result<()> {
        let mut sql = String::from(
            "-- DuckDB views over the jira-mirror tables. Paths are relative to this folder:\n\
             --   cd parquet && duckdb -init views.sql\n",
        );
        for table in Table::ALL {
            sql.push_str(&format!(
                "CREATE OR REPLACE VIEW jira_{0} AS SELECT * FROM read_parquet('{0}/*.parquet', union_by_name = true);\n",
                table.name()
            ));
        }
        for name in REFERENCE_TABLES {
            if self.reference_path(name).is_file() {
                sql.push_str(&format!(
                    "CREATE OR REPLACE VIEW jira_{name} AS SELECT * FROM read_parquet('{name}/{name}.parquet');\n"
                ));
            }
        }
        let unchanged = |path: &Path| fs::read(path).is_ok_and(|old| old == sql.as_bytes());
        let local = self.root.join("views.sql");
        if !unchanged(&local) {
            write_atomic(&local, sql.as_bytes()).map_err(|source| io_error(&local, source))?;
        }
        if let Some(copy) = self.distribution.as_ref().map(|d| d.join("views.sql"))
            && !unchanged(&copy)
        {
            publish(&copy, write_atomic(&copy, sql.as_bytes()));
        }
        Ok(())
    }

    fn distribution_path(&self, table: Table, month: Month) -> Option<PathBuf> {
        self.distribution.as_ref().map(|d| {
            d.join(table.name())
                .join(format!("{}.parquet", month.label()))
        })
    }
}

/// The outcome of writing or removing `path` in the distribution folder. The folder is a
/// published copy: a failure there (full, unmounted, a file where a folder should be) is
/// logged and never fails the table write, and the next writing command's seeding brings
/// the folder in line with the mirror.
fn publish(path: &Path, result: io::Result<()>) {
    if let Err(e) = result {
        tracing::warn!(
            path = %path.display(),
            error = %e,
            "Distribution copy not written; the next command brings the folder in line."
        );
    }
}

/// Row counts of every table, and the files that could not be counted.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct RowCounts {
    /// Rows per table (every table, in [`Table::ALL`] order), over the readable files.
    pub rows: Vec<(Table, u64)>,
    /// Files (or folders) that could not be read, in table then month order.
    pub problems: Vec<FileProblem>,
}

/// A month file (or a table's folder) that could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct FileProblem {
    /// The file or folder.
    pub path: PathBuf,
    /// What went wrong, without the path.
    pub error: String,
}

impl FileProblem {
    fn of(e: &Error) -> FileProblem {
        FileProblem {
            path: PathBuf::from(e.path()),
            error: e.cause(),
        }
    }
}

/// An open month file being written; nothing is visible until [`MonthWriter::finish`].
pub(crate) struct MonthWriter {
    writer: ArrowWriter<fs::File>,
    temp: tempfile::NamedTempFile,
    path: PathBuf,
    distribution: Option<PathBuf>,
}

impl MonthWriter {
    /// Encodes one batch.
    pub(crate) fn write(&mut self, batch: &RecordBatch) -> Result<()> {
        self.writer
            .write(batch)
            .map_err(|source| parquet_error(&self.path, source))
    }

    /// Finishes the file: footer, fsync, rename over the month file, distribution copy.
    pub(crate) fn finish(self) -> Result<()> {
        let path = self.path;
        let file = self
            .writer
            .into_inner()
            .map_err(|source| parquet_error(&path, source))?;
        file.sync_all().map_err(|source| io_error(&path, source))?;
        drop(file);
        if let Some(dist) = &self.distribution {
            publish(dist, copy_atomic(self.temp.path(), dist));
        }
        self.temp
            .persist(&path)
            .map_err(|e| io_error(&path, e.error))?;
        let dir = path.parent().unwrap_or(Path::new("."));
        sync_dir(dir).map_err(|source| io_error(dir, source))
    }
}

/// The `issue_key` column, which every table has and sorts by.
fn issue_keys(batch: &RecordBatch) -> Result<&StringArray> {
    batch
        .column_by_name("issue_key")
        .and_then(|c| c.as_any().downcast_ref::<StringArray>())
        .ok_or_else(|| Error::Arrow {
            path: "rows".into(),
            source: arrow_schema::ArrowError::SchemaError("no issue_key string column".into()),
        })
}

/// Replaces the rows of `replaced` keys in `old` by the rows in `new`, keeping the
/// `issue_key` order.
///
/// `old` is sorted by `issue_key` (every file we write is), so each replaced key's old rows
/// are one run found by binary search, and the result is a handful of zero-copy slices of
/// `old` and `new` concatenated once — no per-row filtering or interleaving. `replaced` must
/// be sorted and unique, and `new` must hold only rows of those keys, sorted by key (a key
/// may have no new rows: it is deleted).
pub(crate) fn splice_sorted(
    schema: &SchemaRef,
    old: &RecordBatch,
    replaced: &[&str],
    new: &RecordBatch,
) -> Result<RecordBatch> {
    let (keys, new_keys) = (issue_keys(old)?, issue_keys(new)?);
    let first_at_or_after =
        |key: &str, from: usize| partition_point(from, keys.len(), |i| keys.value(i) < key);
    let mut pieces = Vec::with_capacity(2 * replaced.len() + 1);
    let (mut pos, mut new_pos) = (0, 0);
    for key in replaced {
        let lo = first_at_or_after(key, pos);
        let hi = partition_point(lo, keys.len(), |i| keys.value(i) <= *key);
        pieces.push(old.slice(pos, lo - pos));
        let new_lo = new_pos;
        while new_pos < new_keys.len() && new_keys.value(new_pos) == *key {
            new_pos += 1;
        }
        pieces.push(new.slice(new_lo, new_pos - new_lo));
        pos = hi;
    }
    pieces.push(old.slice(pos, old.num_rows() - pos));
    if new_pos != new.num_rows() {
        return Err(Error::Arrow {
            path: "splice".into(),
            source: arrow_schema::ArrowError::InvalidArgumentError(
                "new rows must be sorted and belong to the replaced keys".into(),
            ),
        });
    }
    concat(schema, &pieces)
}

/// The first index in `[lo, hi)` for which `before` is false (`before` must hold for a
/// prefix of the range).
fn partition_point(mut lo: usize, mut hi: usize, before: impl Fn(usize) -> bool) -> usize {
    while lo < hi {
        let mid = lo + (hi - lo) / 2;
        if before(mid) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    lo
}

/// Concatenates batches of one schema (an empty batch for none).
pub(crate) fn concat(schema: &SchemaRef, batches: &[RecordBatch]) -> Result<RecordBatch> {
    arrow_select::concat::concat_batches(schema, batches).map_err(|source| Error::Arrow {
        path: "concat".into(),
        source,
    })
}

fn io_error(path: &Path, source: io::Error) -> Error {
    Error::Io {
        path: path.display().to_string(),
        source,
    }
}

fn parquet_error(path: &Path, source: parquet::errors::ParquetError) -> Error {
    Error::Parquet {
        path: path.display().to_string(),
        source,
    }
}

/// Whether an I/O error met while decoding an opened month file says its bytes are bad (a
/// rebuild replaces them) rather than the device or the file type (it would not).
fn bytes_are_bad(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::InvalidData | io::ErrorKind::UnexpectedEof
    )
}

/// A Parquet error met while decoding an opened month file: [`Error::Undecodable`] unless it
/// is an I/O failure other than bad bytes (a failing disk, a folder in the file's place).
fn decode_error(path: &Path, source: parquet::errors::ParquetError) -> Error {
    let device = match &source {
        parquet::errors::ParquetError::External(inner) => inner
            .downcast_ref::<io::Error>()
            .is_some_and(|e| !bytes_are_bad(e)),
        _ => false,
    };
    if device {
        return parquet_error(path, source);
    }
    Error::Undecodable {
        path: path.display().to_string(),
        source: Box::new(source),
    }
}

/// Like [`decode_error`], for the Arrow errors of the batches being decoded.
fn batch_decode_error(path: &Path, source: arrow_schema::ArrowError) -> Error {
    let device = match &source {
        arrow_schema::ArrowError::IoError(_, e) => !bytes_are_bad(e),
        arrow_schema::ArrowError::ExternalError(inner) => inner
            .downcast_ref::<io::Error>()
            .is_some_and(|e| !bytes_are_bad(e)),
        _ => false,
    };
    if device {
        return Error::Arrow {
            path: path.display().to_string(),
            source,
        };
    }
    Error::Undecodable {
        path: path.display().to_string(),
        source: Box::new(source),
    }
}

/// Shared handle type used by the transformer.
pub type SharedStore = Arc<MonthStore>;

/// Which version of a month file a cached decode belongs to: a rename gives a new inode,
/// so a file rewritten by another process (a `fetch` beside the daemon) never matches; the
/// change time catches a file damaged in place (truncated, overwritten by a copy tool that
/// restores the modification time), which userspace cannot set back.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Stamp {
    inode: u64,
    len: u64,
    modified: std::time::SystemTime,
    changed: (i64, i64),
}

impl Stamp {
    fn of(path: &Path) -> Option<Stamp> {
        let m = fs::metadata(path).ok()?;
        #[cfg(unix)]
        let (inode, changed) = {
            use std::os::unix::fs::MetadataExt;
            (m.ino(), (m.ctime(), m.ctime_nsec()))
        };
        #[cfg(not(unix))]
        let (inode, changed) = (0, (0, 0));
        Some(Stamp {
            inode,
            len: m.len(),
            modified: m.modified().ok()?,
            changed,
        })
    }
}

struct Cached {
    stamp: Stamp,
    batch: RecordBatch,
    bytes: usize,
    used: u64,
}

/// Decoded month files kept between merges, so a long-running process that keeps
/// changing issues of the same recent months re-encodes them but does not decode them again.
/// Bounded by a byte budget (least recently used out first); an entry is only used while
/// the file on disk is the very one it was decoded from.
pub(crate) struct MonthCache {
    budget: usize,
    inner: std::sync::Mutex<CacheInner>,
}

#[derive(Default)]
struct CacheInner {
    entries: std::collections::HashMap<(Table, Month), Cached>,
    bytes: usize,
    clock: u64,
}

impl MonthCache {
    /// A cache holding at most `budget` bytes of decoded rows (0 disables it).
    pub(crate) fn new(budget: usize) -> MonthCache {
        MonthCache {
            budget,
            inner: Default::default(),
        }
    }

    /// The rows of a month file, from the cache when the file is unchanged.
    pub(crate) fn read(
        &self,
        store: &MonthStore,
        table: Table,
        month: Month,
        schema: &SchemaRef,
    ) -> Result<RecordBatch> {
        let path = store.path(table, month);
        let stamp = Stamp::of(&path);
        if let Some(stamp) = stamp {
            let mut inner = self.lock();
            inner.clock += 1;
            let clock = inner.clock;
            if let Some(hit) = inner.entries.get_mut(&(table, month))
                && hit.stamp == stamp
            {
                hit.used = clock;
                return Ok(hit.batch.clone());
            }
        }
        concat(schema, &store.read(table, month, schema)?)
    }

    /// Remembers the rows just written to a month file.
    pub(crate) fn store(
        &self,
        store: &MonthStore,
        table: Table,
        month: Month,
        batch: &RecordBatch,
    ) {
        let bytes = batch.get_array_memory_size();
        let Some(stamp) = Stamp::of(&store.path(table, month)) else {
            return;
        };
        if bytes > self.budget {
            self.forget(table, month);
            return;
        }
        let mut inner = self.lock();
        inner.clock += 1;
        let used = inner.clock;
        if let Some(old) = inner.entries.insert(
            (table, month),
            Cached {
                stamp,
                batch: batch.clone(),
                bytes,
                used,
            },
        ) {
            inner.bytes -= old.bytes;
        }
        inner.bytes += bytes;
        while inner.bytes > self.budget {
            let Some(oldest) = inner
                .entries
                .iter()
                .min_by_key(|(_, c)| c.used)
                .map(|(k, _)| *k)
            else {
                break;
            };
            if let Some(gone) = inner.entries.remove(&oldest) {
                inner.bytes -= gone.bytes;
            }
        }
    }

    /// Drops a month file's entry (the file was removed or rebuilt).
    pub(crate) fn forget(&self, table: Table, month: Month) {
        let mut inner = self.lock();
        if let Some(gone) = inner.entries.remove(&(table, month)) {
            inner.bytes -= gone.bytes;
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, CacheInner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn batch(keys: &[&str]) -> RecordBatch {
        let schema = Arc::new(arrow_schema::Schema::new(vec![
            arrow_schema::Field::new("issue_key", arrow_schema::DataType::Utf8, false),
            arrow_schema::Field::new("n", arrow_schema::DataType::Int64, false),
        ]));
        let n: Vec<i64> = (0..keys.len() as i64).collect();
        RecordBatch::try_new(
            schema,
            vec![
                Arc::new(StringArray::from(keys.to_vec())),
                Arc::new(arrow_array::Int64Array::from(n)),
            ],
        )
        .unwrap()
    }

    fn keys_of(b: &RecordBatch) -> Vec<String> {
        issue_keys(b)
            .unwrap()
            .iter()
            .map(|k| k.unwrap().to_string())
            .collect()
    }

    #[test]
    fn splice_replaces_inserts_and_deletes_runs() {
        let old = batch(&["A-1", "A-1", "A-2", "A-3", "A-3", "A-5"]);
        let new = batch(&["A-0", "A-3", "A-4", "A-4"]);
        let out = splice_sorted(&old.schema(), &old, &["A-0", "A-2", "A-3", "A-4"], &new).unwrap();
        assert_eq!(
            keys_of(&out),
            ["A-0", "A-1", "A-1", "A-3", "A-4", "A-4", "A-5"]
        );
        let empty = batch(&[]);
        let out = splice_sorted(&old.schema(), &empty, &["A-9"], &batch(&["A-9"])).unwrap();
        assert_eq!(keys_of(&out), ["A-9"]);
        let out = splice_sorted(&old.schema(), &old, &["A-1", "A-5"], &empty).unwrap();
        assert_eq!(keys_of(&out), ["A-2", "A-3", "A-3"]);
        assert!(splice_sorted(&old.schema(), &old, &["A-1"], &batch(&["A-2"])).is_err());
    }

    #[test]
    fn row_counts_list_unreadable_files_instead_of_failing() {
        let dir = tempfile::tempdir().unwrap();
        let store = MonthStore::new(dir.path().join("parquet"), None);
        let jan = Month::parse("2024-01").unwrap();
        let feb = Month::parse("2024-02").unwrap();
        let b = batch(&["A-1", "A-2"]);
        for month in [jan, feb] {
            for table in Table::ALL {
                store
                    .write(table, month, &b.schema(), std::slice::from_ref(&b))
                    .unwrap();
            }
        }
        // Half of one file, none of another, a third that is not Parquet, a folder.
        let path = store.path(Table::Issues, feb);
        let bytes = fs::read(&path).unwrap();
        fs::write(&path, &bytes[..bytes.len() / 2]).unwrap();
        fs::write(store.path(Table::Comments, jan), b"").unwrap();
        fs::write(store.path(Table::Sla, feb), b"not parquet, but long enough").unwrap();
        let folder = store.path(Table::Changelog, feb);
        fs::remove_file(&folder).unwrap();
        fs::create_dir(&folder).unwrap();

        let counts = store.row_counts();
        let rows: Vec<(&str, u64)> = counts.rows.iter().map(|(t, n)| (t.name(), *n)).collect();
        assert_eq!(
            rows,
            [
                ("issues", 2),
                ("comments", 2),
                ("changelog", 2),
                ("attachments", 4),
                ("issuelinks", 4),
                ("remote_links", 4),
                ("sla", 2),
                ("worklogs", 4)
            ]
        );
        let problems: Vec<(PathBuf, &str)> = counts
            .problems
            .iter()
            .map(|p| {
                (
                    p.path.strip_prefix(dir.path()).unwrap().to_path_buf(),
                    p.error.as_str(),
                )
            })
            .collect();
        let paths: Vec<&str> = problems.iter().map(|p| p.0.to_str().unwrap()).collect();
        assert_eq!(
            paths,
            [
                "parquet/issues/2024-02.parquet",
                "parquet/comments/2024-01.parquet",
                "parquet/changelog/2024-02.parquet",
                "parquet/sla/2024-02.parquet"
            ]
        );
        for (path, error) in &problems {
            assert!(
                !error.is_empty() && !error.contains("parquet/"),
                "{path:?}: {error}"
            );
        }
        // The same files fail a merge's read: bad bytes as rebuildable, the folder not.
        let read = |t, m| store.read(t, m, &b.schema()).unwrap_err();
        assert!(read(Table::Issues, feb).rebuild_replaces());
        assert!(read(Table::Comments, jan).rebuild_replaces());
        assert!(read(Table::Sla, feb).rebuild_replaces());
        assert!(!read(Table::Changelog, feb).rebuild_replaces());
    }

    #[test]
    fn months_parse_label_and_bound() {
        let m = Month::parse("2024-02").unwrap();
        assert_eq!(m.label(), "2024-02");
        assert_eq!(Month::parse("2024-13"), None);
        assert_eq!(Month::parse("24-01"), None);
        let (start, end) = m.bounds_ms();
        assert_eq!(Month::of_epoch_ms(start), Some(m));
        assert_eq!(Month::of_epoch_ms(end - 1), Some(m));
        assert_eq!(Month::of_epoch_ms(end), Month::parse("2024-03"));
        assert_eq!(
            Month::parse("2024-12").unwrap().bounds_ms().1,
            Month::parse("2025-01").unwrap().bounds_ms().0
        );
    }
}
