//! Saved issue JSON → Arrow rows of the eight tables.
//!
//! # Why this shape
//! The batch transform rebuilds every month file from `raw/issues/*.json`, so it must run at
//! thousands of issues per second per core in bounded memory (100,000 issues in ≤ 300 MiB).
//! [`RowsBuilder`] therefore appends each value straight from the borrowed `serde_json::Value`
//! into Arrow builders (one builder set per table, reused across finishes): no intermediate
//! row structs, no owned copies of strings, no per-row `format!` (composite text such as a
//! comment's `visibility` is written into the string builder in place), and every field is
//! looked up once. Timestamps take a hand-rolled fast path for Jira's fixed
//! `YYYY-MM-DDTHH:MM:SS.fff±hhmm` layout and fall back to [`crate::time::parse_jira_time`] for
//! anything else, so the result is exactly chrono's (a property test checks that).
//!
//! # All or nothing per issue
//! Everything that can make an issue unusable (no key, no numeric id, no parseable
//! `fields.created`, a comment without a numeric id) is checked *before* the first value is
//! appended, and everything after that point is infallible: an issue that fails leaves the
//! builders exactly as they were ([`RowError`]). Anything else that is missing or oddly shaped
//! becomes null — hostile input is data.
//!
//! # Where values come from
//! - `issues`, `comments`, `changelog`, `attachments`, `issuelinks`: Jira's issue JSON
//!   (`fields.*`, `changelog.histories`), rich text through [`super::adf::to_text`].
//! - `attachments.status`/`error`: the `mirror.attachments` entry with the same id;
//!   `local_path`/`sha256`: the same entry when its status is `downloaded`; `remote_links`:
//!   `mirror.remote_links` (docs/ARCHITECTURE.md).
//! - SLA columns of `issues` and the `sla` table: `mirror.sla.values` when the JSM overlay is
//!   present, else the issue's SLA custom fields (catalogue [`FieldCatalog::is_sla`], or for a
//!   field unknown to the catalogue, an SLA-shaped value). The issues columns use the SLA named
//!   by `[sla]` (compared trimmed and case-insensitively), its ongoing cycle if any, else its
//!   latest completed one. SLA times come from `epochMillis`, never from `friendly` text.
//!
//! Rows of one issue come out in a deterministic order: comments as saved, changelog by
//! history then item, attachments and links in JSON order, SLA rows by SLA then cycle
//! (completed cycles in order, then the ongoing one).

use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::Arc;

use arrow_array::builder::{
    ArrayBuilder, BooleanBuilder, Date32Builder, Float64Builder, Int64Builder, ListBuilder,
    StringBuilder, TimestampMicrosecondBuilder,
};
use arrow_array::{ArrayRef, RecordBatch};
use chrono::Datelike as _;
use serde_json::Value;

use super::adf;
use super::fields::{ColumnKind, RowContext, is_custom_id};
use super::schema::{self, Schemas, Table};
use crate::json;

/// Why an issue produced no rows. The builders are untouched when [`RowsBuilder::append`]
/// returns one of these.
#[derive(Debug, thiserror::Error)]
pub enum RowError {
    /// The issue JSON is not an object.
    #[error("issue JSON is not an object")]
    NotAnObject,
    /// No non-empty string `key`.
    #[error("issue (id {id}) has no key")]
    MissingKey {
        /// The issue's `id` as found, or `?`.
        id: String,
    },
    /// No numeric `id` (a number, or a string of digits).
    #[error("issue {key} has no numeric id")]
    MissingId {
        /// The issue key.
        key: String,
    },
    /// No `fields.created` string.
    #[error("issue {key} has no fields.created")]
    MissingCreated {
        /// The issue key, or `?`.
        key: String,
    },
    /// `fields.created` is not a Jira timestamp.
    #[error("issue {key}: fields.created {value:?} is not a Jira timestamp")]
    BadCreated {
        /// The issue key, or `?`.
        key: String,
        /// The text found.
        value: String,
    },
    /// A comment without a numeric `id` (the `comments` table's key).
    #[error("issue {key}: comment #{index} has no numeric id")]
    CommentId {
        /// The issue key.
        key: String,
        /// Position of the comment in `fields.comment.comments`.
        index: usize,
    },
}

/// `(year, month)` of the issue's `fields.created` in UTC: the month file its rows go to.
pub fn created_month(issue: &Value) -> Result<(i32, u32), RowError> {
    let micros = created_micros(issue, || key_for_error(issue))?;
    let t =
        chrono::DateTime::from_timestamp_micros(micros).ok_or_else(|| RowError::BadCreated {
            key: key_for_error(issue),
            value: micros.to_string(),
        })?;
    Ok((t.year(), t.month()))
}

/// The issue key for an error message, or `?`.
fn key_for_error(issue: &Value) -> String {
    issue
        .get("key")
        .and_then(Value::as_str)
        .unwrap_or("?")
        .to_owned()
}

/// `fields.created` as epoch microseconds.
fn created_micros(issue: &Value, key: impl Fn() -> String) -> Result<i64, RowError> {
    let created = issue
        .get("fields")
        .and_then(|f| f.get("created"))
        .and_then(Value::as_str)
        .ok_or_else(|| RowError::MissingCreated { key: key() })?;
    parse_ts_micros(created).ok_or_else(|| RowError::BadCreated {
        key: key(),
        value: created.chars().take(64).collect(),
    })
}

// ---------------------------------------------------------------------------------------------
// Time
// ---------------------------------------------------------------------------------------------

/// A Jira timestamp as epoch microseconds (UTC), exactly as
/// [`crate::time::parse_jira_time`] reads it, but without chrono's format interpreter for the
/// usual `YYYY-MM-DDTHH:MM:SS.fff±hhmm` layout.
pub fn parse_ts_micros(s: &str) -> Option<i64> {
    fast_ts_micros(s).or_else(|| crate::time::parse_jira_time(s).and_then(|t| checked_micros(&t)))
}

fn checked_micros(t: &chrono::DateTime<chrono::Utc>) -> Option<i64> {
    t.timestamp()
        .checked_mul(1_000_000)?
        .checked_add(i64::from(t.timestamp_subsec_micros()))
}

/// The fast path: only the exact 28-byte layout with every part in range; `None` sends the
/// string to chrono (which then decides, so both paths agree by construction).
fn fast_ts_micros(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    if b.len() != 28
        || b[4] != b'-'
        || b[7] != b'-'
        || b[10] != b'T'
        || b[13] != b':'
        || b[16] != b':'
        || b[19] != b'.'
    {
        return None;
    }
    let sign = match b[23] {
        b'+' => 1,
        b'-' => -1,
        _ => return None,
    };
    let year = digits(&b[0..4])?;
    let month = digits(&b[5..7])?;
    let day = digits(&b[8..10])?;
    let hour = digits(&b[11..13])?;
    let minute = digits(&b[14..16])?;
    let second = digits(&b[17..19])?;
    let millis = digits(&b[20..23])?;
    let off_h = digits(&b[24..26])?;
    let off_m = digits(&b[26..28])?;
    if !(1..=12).contains(&month)
        || day < 1
        || day > days_in_month(year, month)
        || hour > 23
        || minute > 59
        || second > 59
        || off_h > 23
        || off_m > 59
    {
        return None;
    }
    let secs = days_from_civil(year, month, day) * 86_400 + hour * 3_600 + minute * 60 + second
        - sign * (off_h * 3_600 + off_m * 60);
    Some(secs * 1_000_000 + millis * 1_000)
}

/// A `YYYY-MM-DD` date (or the date part of a `YYYY-MM-DDT…` timestamp, as written) as days
/// since 1970-01-01.
pub fn parse_date_days(s: &str) -> Option<i32> {
    let date = match s.as_bytes().get(10) {
        Some(b'T') => &s[..10],
        _ => s,
    };
    fast_date_days(date)
        .or_else(|| {
            let d = chrono::NaiveDate::parse_from_str(date.trim(), "%Y-%m-%d").ok()?;
            Some(i64::from(d.num_days_from_ce()) - 719_163)
        })
        .and_then(|d| i32::try_from(d).ok())
}

fn fast_date_days(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    let (year, month, day) = (digits(&b[0..4])?, digits(&b[5..7])?, digits(&b[8..10])?);
    if !(1..=12).contains(&month) || day < 1 || day > days_in_month(year, month) {
        return None;
    }
    Some(days_from_civil(year, month, day))
}

/// ASCII digits → number; `None` on anything else.
#[inline]
fn digits(b: &[u8]) -> Option<i64> {
    let mut n = 0i64;
    for &c in b {
        let d = c.wrapping_sub(b'0');
        if d > 9 {
            return None;
        }
        n = n * 10 + i64::from(d);
    }
    Some(n)
}

fn is_leap(year: i64) -> bool {
    year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)
}

fn days_in_month(year: i64, month: i64) -> i64 {
    match month {
        2 if is_leap(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's `days_from_civil`).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

// ---------------------------------------------------------------------------------------------
// Reading values
// ---------------------------------------------------------------------------------------------

static NULL: Value = Value::Null;

/// A Jira id: a JSON integer or a string of digits.
#[inline]
fn id_of(v: Option<&Value>) -> Option<i64> {
    match v? {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

#[inline]
fn str_of<'a>(v: &'a Value, key: &str) -> Option<&'a str> {
    v.get(key)?.as_str()
}

/// `v.a.b` as a string.
#[inline]
fn str_at<'a>(v: &'a Value, a: &str, b: &str) -> Option<&'a str> {
    v.get(a)?.get(b)?.as_str()
}

#[inline]
fn ts_of(v: Option<&Value>) -> Option<i64> {
    parse_ts_micros(v?.as_str()?)
}

/// An SLA `DateDTO`'s `epochMillis` as microseconds.
#[inline]
fn epoch_micros(date: Option<&Value>) -> Option<i64> {
    let ms = date?.get("epochMillis")?;
    ms.as_i64()
        .or_else(|| ms.as_str()?.trim().parse().ok())?
        .checked_mul(1_000)
}

/// A `DurationDTO`'s `millis`.
#[inline]
fn duration_millis(cycle: &Value, key: &str) -> Option<i64> {
    cycle.get(key)?.get("millis")?.as_i64()
}

fn is_adf(v: &Value) -> bool {
    v.get("type").and_then(Value::as_str) == Some("doc")
}

/// Whether a value of a field unknown to the catalogue looks like a JSM SLA value.
pub(crate) fn looks_like_sla(v: &Value) -> bool {
    v.get("name").is_some_and(Value::is_string)
        && v.get("completedCycles").is_some_and(Value::is_array)
}

// ---------------------------------------------------------------------------------------------
// Appending values
// ---------------------------------------------------------------------------------------------

/// A string, or null.
#[inline]
fn put_str(b: &mut StringBuilder, v: Option<&str>) {
    match v {
        Some(s) => b.append_value(s),
        None => b.append_null(),
    }
}

/// A value's compact JSON text (it may nest arbitrarily deep: [`json::to_writer`]).
#[inline]
fn put_json(b: &mut StringBuilder, v: &Value) {
    let mut buf = Vec::new();
    write_json(&mut buf, v);
    // serde_json writes valid UTF-8.
    put_str(b, std::str::from_utf8(&buf).ok());
}

/// A string as is, null as null, anything else as its JSON text.
#[inline]
fn put_text(b: &mut StringBuilder, v: Option<&Value>) {
    match v {
        None | Some(Value::Null) => b.append_null(),
        Some(Value::String(s)) => b.append_value(s),
        Some(other) => put_json(b, other),
    }
}

/// Rich text: an ADF document as plain text, a string as is, null as null.
#[inline]
fn put_rich(b: &mut StringBuilder, v: Option<&Value>) {
    match v {
        None | Some(Value::Null) => b.append_null(),
        Some(Value::String(s)) => b.append_value(s),
        Some(other) => put_str(b, adf::to_text(other).as_deref()),
    }
}

/// Free text of a `[fields]` String/Json column or a `custom_fields` value: a string as is,
/// an ADF document as plain text, anything else as JSON text.
#[inline]
fn put_free(b: &mut StringBuilder, v: &Value) {
    match v {
        Value::String(s) => b.append_value(s),
        doc if is_adf(doc) => put_str(b, adf::to_text(doc).as_deref()),
        other => put_json(b, other),
    }
}

/// One list item: a string as is; an object by `value`, `displayName` or `name`; anything
/// else as its JSON text. Nulls are skipped (list items are never null).
#[inline]
fn put_item(b: &mut StringBuilder, item: &Value) {
    match item {
        Value::Null => {}
        Value::String(s) => b.append_value(s),
        Value::Object(o) => match ["value", "displayName", "name"]
            .iter()
            .find_map(|k| o.get(*k).and_then(Value::as_str))
        {
            Some(s) => b.append_value(s),
            None => put_json(b, item),
        },
        other => put_json(b, other),
    }
}

/// A `List<Utf8>` value: an array item by item, a single non-array value as a one-item list,
/// null as null.
#[inline]
fn put_list(b: &mut ListBuilder<StringBuilder>, v: Option<&Value>) {
    match v {
        None | Some(Value::Null) => b.append_null(),
        Some(Value::Array(items)) => {
            let values = b.values();
            for item in items {
                put_item(values, item);
            }
            b.append(true);
        }
        Some(one) => {
            put_item(b.values(), one);
            b.append(true);
        }
    }
}

fn ts_builder() -> TimestampMicrosecondBuilder {
    TimestampMicrosecondBuilder::new().with_timezone(schema::UTC)
}

fn list_builder() -> ListBuilder<StringBuilder> {
    ListBuilder::new(StringBuilder::new()).with_field(Arc::new(schema::list_item_field()))
}

#[inline]
fn fin(b: &mut dyn ArrayBuilder) -> ArrayRef {
    b.finish()
}

// ---------------------------------------------------------------------------------------------
// The plan: what the context says, precomputed once per builder
// ---------------------------------------------------------------------------------------------

/// What a custom field id means for `custom_fields` and the SLA columns.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Role {
    /// Mapped to a `[fields]` column: not in `custom_fields`.
    Mapped,
    /// An SLA field (mapped or not): an SLA source, not in `custom_fields`.
    Sla,
    /// In `custom_fields` under this key.
    Custom(Box<str>),
}

#[derive(Debug)]
struct Plan {
    /// `[fields]` in column order: (field id, kind).
    mapped: Vec<(Box<str>, ColumnKind)>,
    /// Every custom field the catalogue knows, plus every mapped id.
    roles: HashMap<Box<str>, Role>,
    /// The `[sla]` names, trimmed and lowercased: first response, time to resolution.
    sla_targets: [String; 2],
    /// Jira Software's sprint fields (the `sprint` column).
    sprint_fields: Vec<Box<str>>,
}

fn fold_name(name: &str) -> impl Iterator<Item = char> + '_ {
    name.trim().chars().flat_map(char::to_lowercase)
}

impl Plan {
    fn new(ctx: &RowContext) -> Plan {
        let catalog = &ctx.catalog;
        let mapped: Vec<(Box<str>, ColumnKind)> = ctx
            .fields
            .keys()
            .map(|id| (Box::from(id.as_str()), catalog.column_kind(id)))
            .collect();
        let is_mapped = |id: &str| ctx.fields.contains_key(id);
        // Names shared by two fields that would both land in `custom_fields`.
        let mut uses: HashMap<&str, usize> = HashMap::new();
        for (id, name, sla) in catalog.custom_fields() {
            if let (Some(name), false, false) = (name, sla, is_mapped(id)) {
                *uses.entry(name).or_default() += 1;
            }
        }
        let mut roles = HashMap::new();
        for (id, name, sla) in catalog.custom_fields() {
            let role = if sla {
                Role::Sla
            } else if is_mapped(id) {
                Role::Mapped
            } else {
                Role::Custom(match name {
                    Some(n) if uses.get(n).copied().unwrap_or(0) > 1 => {
                        format!("{n} ({id})").into_boxed_str()
                    }
                    Some(n) => Box::from(n),
                    None => Box::from(id),
                })
            };
            roles.insert(Box::from(id), role);
        }
        for (id, _) in &mapped {
            roles.entry(id.clone()).or_insert(Role::Mapped);
        }
        Plan {
            mapped,
            roles,
            sprint_fields: catalog.sprint_fields().into_iter().map(Box::from).collect(),
            sla_targets: [
                fold_name(&ctx.sla.first_response).collect(),
                fold_name(&ctx.sla.time_to_resolution).collect(),
            ],
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Per-table builder sets
// ---------------------------------------------------------------------------------------------

/// The four SLA columns of `issues` for one SLA.
struct SlaCols {
    elapsed: Int64Builder,
    goal: Int64Builder,
    remaining: Int64Builder,
    breached: BooleanBuilder,
}

impl SlaCols {
    fn new() -> Self {
        SlaCols {
            elapsed: Int64Builder::new(),
            goal: Int64Builder::new(),
            remaining: Int64Builder::new(),
            breached: BooleanBuilder::new(),
        }
    }

    fn put(&mut self, cycle: Option<&Value>) {
        let c = cycle.unwrap_or(&NULL);
        self.elapsed
            .append_option(duration_millis(c, "elapsedTime"));
        self.goal.append_option(duration_millis(c, "goalDuration"));
        self.remaining
            .append_option(duration_millis(c, "remainingTime"));
        self.breached
            .append_option(c.get("breached").and_then(Value::as_bool));
    }

    fn finish_into(&mut self, out: &mut Vec<ArrayRef>) {
        out.push(fin(&mut self.elapsed));
        out.push(fin(&mut self.goal));
        out.push(fin(&mut self.remaining));
        out.push(fin(&mut self.breached));
    }
}

/// One `[fields]` column.
enum MappedCol {
    /// Option, User, String, Json.
    Text(ColumnKind, StringBuilder),
    Number(Float64Builder),
    Date(Date32Builder),
    DateTime(TimestampMicrosecondBuilder),
    Array(ListBuilder<StringBuilder>),
}

impl MappedCol {
    fn new(kind: ColumnKind) -> Self {
        match kind {
            ColumnKind::Number => MappedCol::Number(Float64Builder::new()),
            ColumnKind::Date => MappedCol::Date(Date32Builder::new()),
            ColumnKind::DateTime => MappedCol::DateTime(ts_builder()),
            ColumnKind::Array => MappedCol::Array(list_builder()),
            ColumnKind::Option | ColumnKind::User | ColumnKind::String | ColumnKind::Json => {
                MappedCol::Text(kind, StringBuilder::new())
            }
        }
    }

    fn put(&mut self, v: Option<&Value>) {
        let v = match v {
            None | Some(Value::Null) => return self.put_null(),
            Some(v) => v,
        };
        match self {
            MappedCol::Text(ColumnKind::Option, b) => {
                match v.get("value").and_then(Value::as_str) {
                    Some(s) => b.append_value(s),
                    None => put_free(b, v),
                }
            }
            MappedCol::Text(ColumnKind::User, b) => {
                put_str(b, str_of(v, "displayName").or_else(|| v.as_str()));
            }
            MappedCol::Text(_, b) => put_free(b, v),
            MappedCol::Number(b) => b.append_option(
                v.as_f64()
                    .or_else(|| v.as_str()?.trim().parse::<f64>().ok())
                    .filter(|f| f.is_finite()),
            ),
            MappedCol::Date(b) => b.append_option(v.as_str().and_then(parse_date_days)),
            MappedCol::DateTime(b) => b.append_option(v.as_str().and_then(parse_ts_micros)),
            MappedCol::Array(b) => put_list(b, Some(v)),
        }
    }

    fn put_null(&mut self) {
        match self {
            MappedCol::Text(_, b) => b.append_null(),
            MappedCol::Number(b) => b.append_null(),
            MappedCol::Date(b) => b.append_null(),
            MappedCol::DateTime(b) => b.append_null(),
            MappedCol::Array(b) => b.append_null(),
        }
    }

    fn finish(&mut self) -> ArrayRef {
        match self {
            MappedCol::Text(_, b) => fin(b),
            MappedCol::Number(b) => fin(b),
            MappedCol::Date(b) => fin(b),
            MappedCol::DateTime(b) => fin(b),
            MappedCol::Array(b) => fin(b),
        }
    }
}

/// What every row builder needs of an issue, validated before anything is appended.
struct Head<'a> {
    key: &'a str,
    id: i64,
    created: i64,
    fields: &'a Value,
    comments: &'a [Value],
}

struct IssuesCols {
    issue_id: Int64Builder,
    issue_key: StringBuilder,
    project_key: StringBuilder,
    summary: StringBuilder,
    description: StringBuilder,
    issue_type: StringBuilder,
    status: StringBuilder,
    status_category: StringBuilder,
    priority: StringBuilder,
    resolution: StringBuilder,
    assignee: StringBuilder,
    assignee_account_id: StringBuilder,
    reporter: StringBuilder,
    reporter_account_id: StringBuilder,
    creator: StringBuilder,
    labels: ListBuilder<StringBuilder>,
    components: ListBuilder<StringBuilder>,
    fix_versions: ListBuilder<StringBuilder>,
    parent_key: StringBuilder,
    created_at: TimestampMicrosecondBuilder,
    updated_at: TimestampMicrosecondBuilder,
    resolved_at: TimestampMicrosecondBuilder,
    due_date: Date32Builder,
    comment_count: Int64Builder,
    attachment_count: Int64Builder,
    /// First response, time to resolution.
    sla: [SlaCols; 2],
    more: MoreCols,
    mapped: Vec<MappedCol>,
    custom_fields: StringBuilder,
}

/// The system fields of `issues` after the SLA columns: what analysts query most besides the
/// basics (project name, environment, versions, security, sprint, votes, watchers, time
/// tracking, when the status last changed, when the last comment came).
struct MoreCols {
    project_name: StringBuilder,
    environment: StringBuilder,
    affects_versions: ListBuilder<StringBuilder>,
    security_level: StringBuilder,
    sprint: ListBuilder<StringBuilder>,
    votes: Int64Builder,
    watchers: Int64Builder,
    time_original_estimate_seconds: Int64Builder,
    time_remaining_estimate_seconds: Int64Builder,
    time_spent_seconds: Int64Builder,
    status_changed_at: TimestampMicrosecondBuilder,
    last_comment_at: TimestampMicrosecondBuilder,
}

impl MoreCols {
    fn new() -> Self {
        MoreCols {
            project_name: StringBuilder::new(),
            environment: StringBuilder::new(),
            affects_versions: list_builder(),
            security_level: StringBuilder::new(),
            sprint: list_builder(),
            votes: Int64Builder::new(),
            watchers: Int64Builder::new(),
            time_original_estimate_seconds: Int64Builder::new(),
            time_remaining_estimate_seconds: Int64Builder::new(),
            time_spent_seconds: Int64Builder::new(),
            status_changed_at: ts_builder(),
            last_comment_at: ts_builder(),
        }
    }

    fn put(&mut self, h: &Head<'_>, plan: &Plan) {
        let f = h.fields;
        let int = |v: Option<&Value>| v.and_then(Value::as_i64);
        put_str(&mut self.project_name, str_at(f, "project", "name"));
        put_rich(&mut self.environment, f.get("environment"));
        put_list(&mut self.affects_versions, f.get("versions"));
        put_str(&mut self.security_level, str_at(f, "security", "name"));
        // Jira Software's sprint field: the sprints' names (the issue's sprint history).
        let sprint = plan
            .sprint_fields
            .iter()
            .find_map(|id| f.get(&**id).filter(|v| !v.is_null()));
        put_list(&mut self.sprint, sprint);
        self.votes
            .append_option(int(f.get("votes").and_then(|v| v.get("votes"))));
        self.watchers
            .append_option(int(f.get("watches").and_then(|v| v.get("watchCount"))));
        self.time_original_estimate_seconds
            .append_option(int(f.get("timeoriginalestimate")));
        self.time_remaining_estimate_seconds
            .append_option(int(f.get("timeestimate")));
        self.time_spent_seconds
            .append_option(int(f.get("timespent")));
        self.status_changed_at
            .append_option(ts_of(f.get("statuscategorychangedate")));
        self.last_comment_at.append_option(
            h.comments
                .iter()
                .filter_map(|c| ts_of(c.get("created")))
                .max(),
        );
    }

    fn finish_into(&mut self, out: &mut Vec<ArrayRef>) {
        out.extend([
            fin(&mut self.project_name),
            fin(&mut self.environment),
            fin(&mut self.affects_versions),
            fin(&mut self.security_level),
            fin(&mut self.sprint),
            fin(&mut self.votes),
            fin(&mut self.watchers),
            fin(&mut self.time_original_estimate_seconds),
            fin(&mut self.time_remaining_estimate_seconds),
            fin(&mut self.time_spent_seconds),
            fin(&mut self.status_changed_at),
            fin(&mut self.last_comment_at),
        ]);
    }
}

impl IssuesCols {
    fn new(plan: &Plan) -> Self {
        IssuesCols {
            issue_id: Int64Builder::new(),
            issue_key: StringBuilder::new(),
            project_key: StringBuilder::new(),
            summary: StringBuilder::new(),
            description: StringBuilder::new(),
            issue_type: StringBuilder::new(),
            status: StringBuilder::new(),
            status_category: StringBuilder::new(),
            priority: StringBuilder::new(),
            resolution: StringBuilder::new(),
            assignee: StringBuilder::new(),
            assignee_account_id: StringBuilder::new(),
            reporter: StringBuilder::new(),
            reporter_account_id: StringBuilder::new(),
            creator: StringBuilder::new(),
            labels: list_builder(),
            components: list_builder(),
            fix_versions: list_builder(),
            parent_key: StringBuilder::new(),
            created_at: ts_builder(),
            updated_at: ts_builder(),
            resolved_at: ts_builder(),
            due_date: Date32Builder::new(),
            comment_count: Int64Builder::new(),
            attachment_count: Int64Builder::new(),
            sla: [SlaCols::new(), SlaCols::new()],
            more: MoreCols::new(),
            mapped: plan
                .mapped
                .iter()
                .map(|(_, k)| MappedCol::new(*k))
                .collect(),
            custom_fields: StringBuilder::new(),
        }
    }

    fn len(&self) -> usize {
        self.issue_id.len()
    }

    fn put(&mut self, h: &Head<'_>, plan: &Plan, slas: &[&Value]) {
        let f = h.fields;
        self.issue_id.append_value(h.id);
        self.issue_key.append_value(h.key);
        put_str(&mut self.project_key, str_at(f, "project", "key"));
        put_text(&mut self.summary, f.get("summary"));
        put_rich(&mut self.description, f.get("description"));
        put_str(&mut self.issue_type, str_at(f, "issuetype", "name"));
        let status = f.get("status").unwrap_or(&NULL);
        put_str(&mut self.status, str_of(status, "name"));
        put_str(
            &mut self.status_category,
            str_at(status, "statusCategory", "name"),
        );
        put_str(&mut self.priority, str_at(f, "priority", "name"));
        put_str(&mut self.resolution, str_at(f, "resolution", "name"));
        let assignee = f.get("assignee").unwrap_or(&NULL);
        put_str(&mut self.assignee, str_of(assignee, "displayName"));
        put_str(&mut self.assignee_account_id, str_of(assignee, "accountId"));
        let reporter = f.get("reporter").unwrap_or(&NULL);
        put_str(&mut self.reporter, str_of(reporter, "displayName"));
        put_str(&mut self.reporter_account_id, str_of(reporter, "accountId"));
        put_str(&mut self.creator, str_at(f, "creator", "displayName"));
        put_list(&mut self.labels, f.get("labels"));
        put_list(&mut self.components, f.get("components"));
        put_list(&mut self.fix_versions, f.get("fixVersions"));
        put_str(&mut self.parent_key, str_at(f, "parent", "key"));
        self.created_at.append_value(h.created);
        self.updated_at.append_option(ts_of(f.get("updated")));
        self.resolved_at
            .append_option(ts_of(f.get("resolutiondate")));
        self.due_date.append_option(
            f.get("duedate")
                .and_then(Value::as_str)
                .and_then(parse_date_days),
        );
        self.comment_count.append_value(h.comments.len() as i64);
        let attachments = f.get("attachment").and_then(Value::as_array);
        self.attachment_count
            .append_value(attachments.map_or(0, Vec::len) as i64);
        for (cols, target) in self.sla.iter_mut().zip(&plan.sla_targets) {
            let sla = slas.iter().find(|s| {
                s.get("name")
                    .and_then(Value::as_str)
                    .is_some_and(|n| fold_name(n).eq(target.chars()))
            });
            cols.put(sla.and_then(|s| current_cycle(s)));
        }
        self.more.put(h, plan);
        for (col, (id, _)) in self.mapped.iter_mut().zip(&plan.mapped) {
            col.put(f.get(&**id));
        }
    }

    fn finish(&mut self) -> Vec<ArrayRef> {
        let mut out = vec![
            fin(&mut self.issue_id),
            fin(&mut self.issue_key),
            fin(&mut self.project_key),
            fin(&mut self.summary),
            fin(&mut self.description),
            fin(&mut self.issue_type),
            fin(&mut self.status),
            fin(&mut self.status_category),
            fin(&mut self.priority),
            fin(&mut self.resolution),
            fin(&mut self.assignee),
            fin(&mut self.assignee_account_id),
            fin(&mut self.reporter),
            fin(&mut self.reporter_account_id),
            fin(&mut self.creator),
            fin(&mut self.labels),
            fin(&mut self.components),
            fin(&mut self.fix_versions),
            fin(&mut self.parent_key),
            fin(&mut self.created_at),
            fin(&mut self.updated_at),
            fin(&mut self.resolved_at),
            fin(&mut self.due_date),
            fin(&mut self.comment_count),
            fin(&mut self.attachment_count),
        ];
        for s in &mut self.sla {
            s.finish_into(&mut out);
        }
        self.more.finish_into(&mut out);
        out.extend(self.mapped.iter_mut().map(MappedCol::finish));
        out.push(fin(&mut self.custom_fields));
        out
    }
}

/// The cycle that feeds the issues columns: the ongoing one, else the latest completed one.
fn current_cycle(sla: &Value) -> Option<&Value> {
    sla.get("ongoingCycle")
        .filter(|c| c.is_object())
        .or_else(|| sla.get("completedCycles")?.as_array()?.last())
}

/// `custom_fields`: a JSON object with sorted keys, or null when empty.
fn put_custom_fields(b: &mut StringBuilder, entries: &mut [(&str, &Value)], buf: &mut Vec<u8>) {
    if entries.is_empty() {
        b.append_null();
        return;
    }
    entries.sort_by(|a, b| a.0.cmp(b.0));
    buf.clear();
    buf.push(b'{');
    for (i, (key, value)) in entries.iter().enumerate() {
        if i > 0 {
            buf.push(b',');
        }
        write_str(buf, key);
        buf.push(b':');
        if is_adf(value) {
            write_str(buf, &adf::to_text(value).unwrap_or_default());
        } else {
            write_json(buf, value);
        }
    }
    buf.push(b'}');
    // serde_json writes valid UTF-8.
    put_str(b, std::str::from_utf8(buf).ok());
}

/// Appends `v`'s compact JSON to `buf` (`null` if it cannot be serialised), stack-safe at any
/// depth.
fn write_json(buf: &mut Vec<u8>, v: &Value) {
    if json::to_writer(&mut *buf, v).is_err() {
        buf.extend_from_slice(b"null");
    }
}

/// Appends `s` as a JSON string to `buf`.
fn write_str(buf: &mut Vec<u8>, s: &str) {
    if serde_json::to_writer(&mut *buf, s).is_err() {
        buf.extend_from_slice(b"null");
    }
}

struct CommentsCols {
    issue_key: StringBuilder,
    issue_id: Int64Builder,
    comment_id: Int64Builder,
    author: StringBuilder,
    author_account_id: StringBuilder,
    body: StringBuilder,
    created_at: TimestampMicrosecondBuilder,
    updated_at: TimestampMicrosecondBuilder,
    is_public: BooleanBuilder,
    visibility: StringBuilder,
}

impl CommentsCols {
    fn new() -> Self {
        CommentsCols {
            issue_key: StringBuilder::new(),
            issue_id: Int64Builder::new(),
            comment_id: Int64Builder::new(),
            author: StringBuilder::new(),
            author_account_id: StringBuilder::new(),
            body: StringBuilder::new(),
            created_at: ts_builder(),
            updated_at: ts_builder(),
            is_public: BooleanBuilder::new(),
            visibility: StringBuilder::new(),
        }
    }

    fn put(&mut self, h: &Head<'_>, ids: &[i64]) {
        for (c, id) in h.comments.iter().zip(ids) {
            self.issue_key.append_value(h.key);
            self.issue_id.append_value(h.id);
            self.comment_id.append_value(*id);
            let author = c.get("author").unwrap_or(&NULL);
            put_str(&mut self.author, str_of(author, "displayName"));
            put_str(&mut self.author_account_id, str_of(author, "accountId"));
            put_rich(&mut self.body, c.get("body"));
            self.created_at.append_option(ts_of(c.get("created")));
            self.updated_at.append_option(ts_of(c.get("updated")));
            self.is_public
                .append_option(c.get("jsdPublic").and_then(Value::as_bool));
            put_visibility(&mut self.visibility, c.get("visibility"));
        }
    }

    fn finish(&mut self) -> Vec<ArrayRef> {
        vec![
            fin(&mut self.issue_key),
            fin(&mut self.issue_id),
            fin(&mut self.comment_id),
            fin(&mut self.author),
            fin(&mut self.author_account_id),
            fin(&mut self.body),
            fin(&mut self.created_at),
            fin(&mut self.updated_at),
            fin(&mut self.is_public),
            fin(&mut self.visibility),
        ]
    }
}

struct ChangelogCols {
    issue_key: StringBuilder,
    issue_id: Int64Builder,
    history_id: Int64Builder,
    created_at: TimestampMicrosecondBuilder,
    author: StringBuilder,
    author_account_id: StringBuilder,
    field: StringBuilder,
    field_id: StringBuilder,
    field_type: StringBuilder,
    from_value: StringBuilder,
    from_string: StringBuilder,
    to_value: StringBuilder,
    to_string: StringBuilder,
}

impl ChangelogCols {
    fn new() -> Self {
        ChangelogCols {
            issue_key: StringBuilder::new(),
            issue_id: Int64Builder::new(),
            history_id: Int64Builder::new(),
            created_at: ts_builder(),
            author: StringBuilder::new(),
            author_account_id: StringBuilder::new(),
            field: StringBuilder::new(),
            field_id: StringBuilder::new(),
            field_type: StringBuilder::new(),
            from_value: StringBuilder::new(),
            from_string: StringBuilder::new(),
            to_value: StringBuilder::new(),
            to_string: StringBuilder::new(),
        }
    }

    fn put(&mut self, h: &Head<'_>, issue: &Value) {
        let Some(histories) = issue
            .get("changelog")
            .and_then(|c| c.get("histories"))
            .and_then(Value::as_array)
        else {
            return;
        };
        for history in histories {
            let Some(items) = history.get("items").and_then(Value::as_array) else {
                continue;
            };
            if items.is_empty() {
                continue;
            }
            let history_id = id_of(history.get("id"));
            let created = ts_of(history.get("created"));
            let author = history.get("author").unwrap_or(&NULL);
            let (name, account) = (str_of(author, "displayName"), str_of(author, "accountId"));
            for item in items {
                self.issue_key.append_value(h.key);
                self.issue_id.append_value(h.id);
                self.history_id.append_option(history_id);
                self.created_at.append_option(created);
                put_str(&mut self.author, name);
                put_str(&mut self.author_account_id, account);
                put_text(&mut self.field, item.get("field"));
                put_text(&mut self.field_id, item.get("fieldId"));
                put_text(&mut self.field_type, item.get("fieldtype"));
                put_text(&mut self.from_value, item.get("from"));
                put_text(&mut self.from_string, item.get("fromString"));
                put_text(&mut self.to_value, item.get("to"));
                put_text(&mut self.to_string, item.get("toString"));
            }
        }
    }

    fn finish(&mut self) -> Vec<ArrayRef> {
        vec![
            fin(&mut self.issue_key),
            fin(&mut self.issue_id),
            fin(&mut self.history_id),
            fin(&mut self.created_at),
            fin(&mut self.author),
            fin(&mut self.author_account_id),
            fin(&mut self.field),
            fin(&mut self.field_id),
            fin(&mut self.field_type),
            fin(&mut self.from_value),
            fin(&mut self.from_string),
            fin(&mut self.to_value),
            fin(&mut self.to_string),
        ]
    }
}

struct AttachmentsCols {
    issue_key: StringBuilder,
    attachment_id: Int64Builder,
    filename: StringBuilder,
    mime_type: StringBuilder,
    size_bytes: Int64Builder,
    created_at: TimestampMicrosecondBuilder,
    author: StringBuilder,
    content_url: StringBuilder,
    local_path: StringBuilder,
    sha256: StringBuilder,
    status: StringBuilder,
    error: StringBuilder,
}

/// An attachment's id as the mirror accepts it: a JSON integer, or a string of 1 to 19 ASCII
/// digits, that fits `BIGINT`. Anything else (signs, spaces, letters, `../`) is not an id the
/// mirror downloads (`invalid_id` in the overlay), and its row gets a null `attachment_id`.
fn attachment_id_of(v: Option<&Value>) -> Option<i64> {
    match v? {
        Value::Number(n) => n.as_i64().filter(|id| *id >= 0),
        Value::String(s)
            if (1..=19).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_digit()) =>
        {
            s.parse().ok()
        }
        _ => None,
    }
}

/// Whether two Jira ids are the same (`10001` and `"10001"` are).
fn same_id(a: Option<&Value>, b: Option<&Value>) -> bool {
    match (id_of(a), id_of(b)) {
        (Some(x), Some(y)) => x == y,
        _ => a
            .and_then(Value::as_str)
            .is_some_and(|s| Some(s) == b.and_then(Value::as_str)),
    }
}

impl AttachmentsCols {
    fn new() -> Self {
        AttachmentsCols {
            issue_key: StringBuilder::new(),
            attachment_id: Int64Builder::new(),
            filename: StringBuilder::new(),
            mime_type: StringBuilder::new(),
            size_bytes: Int64Builder::new(),
            created_at: ts_builder(),
            author: StringBuilder::new(),
            content_url: StringBuilder::new(),
            local_path: StringBuilder::new(),
            sha256: StringBuilder::new(),
            status: StringBuilder::new(),
            error: StringBuilder::new(),
        }
    }

    fn put(&mut self, h: &Head<'_>, mirror: &Value) {
        let Some(attachments) = h.fields.get("attachment").and_then(Value::as_array) else {
            return;
        };
        let saved = mirror
            .get("attachments")
            .and_then(Value::as_array)
            .map_or(&[][..], Vec::as_slice);
        for (i, a) in attachments.iter().enumerate() {
            let id = a.get("id");
            let same = |m: &&Value| same_id(m.get("id"), id);
            // The overlay lists attachments in the same order, so look at the same index first.
            let entry = saved
                .get(i)
                .filter(same)
                .or_else(|| saved.iter().find(same))
                .unwrap_or(&NULL);
            let status = str_of(entry, "status");
            let local = if status == Some("downloaded") {
                entry
            } else {
                &NULL
            };
            self.issue_key.append_value(h.key);
            self.attachment_id.append_option(attachment_id_of(id));
            put_text(&mut self.filename, a.get("filename"));
            put_str(&mut self.mime_type, str_of(a, "mimeType"));
            self.size_bytes
                .append_option(a.get("size").and_then(Value::as_i64));
            self.created_at.append_option(ts_of(a.get("created")));
            put_str(&mut self.author, str_at(a, "author", "displayName"));
            put_str(&mut self.content_url, str_of(a, "content"));
            put_str(&mut self.local_path, str_of(local, "local_path"));
            put_str(&mut self.sha256, str_of(local, "sha256"));
            put_str(&mut self.status, status);
            put_str(&mut self.error, str_of(entry, "error"));
        }
    }

    fn finish(&mut self) -> Vec<ArrayRef> {
        vec![
            fin(&mut self.issue_key),
            fin(&mut self.attachment_id),
            fin(&mut self.filename),
            fin(&mut self.mime_type),
            fin(&mut self.size_bytes),
            fin(&mut self.created_at),
            fin(&mut self.author),
            fin(&mut self.content_url),
            fin(&mut self.local_path),
            fin(&mut self.sha256),
            fin(&mut self.status),
            fin(&mut self.error),
        ]
    }
}

struct LinksCols {
    issue_key: StringBuilder,
    link_id: Int64Builder,
    link_type: StringBuilder,
    direction: StringBuilder,
    linked_issue_key: StringBuilder,
    linked_issue_id: Int64Builder,
}

impl LinksCols {
    fn new() -> Self {
        LinksCols {
            issue_key: StringBuilder::new(),
            link_id: Int64Builder::new(),
            link_type: StringBuilder::new(),
            direction: StringBuilder::new(),
            linked_issue_key: StringBuilder::new(),
            linked_issue_id: Int64Builder::new(),
        }
    }

    fn put(&mut self, h: &Head<'_>) {
        let Some(links) = h.fields.get("issuelinks").and_then(Value::as_array) else {
            return;
        };
        for link in links {
            let (direction, other) = match (link.get("outwardIssue"), link.get("inwardIssue")) {
                (Some(o), _) if o.is_object() => (Some("outward"), o),
                (_, Some(i)) if i.is_object() => (Some("inward"), i),
                _ => (None, &NULL),
            };
            self.issue_key.append_value(h.key);
            self.link_id.append_option(id_of(link.get("id")));
            put_str(&mut self.link_type, str_at(link, "type", "name"));
            put_str(&mut self.direction, direction);
            put_str(&mut self.linked_issue_key, str_of(other, "key"));
            self.linked_issue_id.append_option(id_of(other.get("id")));
        }
    }

    fn finish(&mut self) -> Vec<ArrayRef> {
        vec![
            fin(&mut self.issue_key),
            fin(&mut self.link_id),
            fin(&mut self.link_type),
            fin(&mut self.direction),
            fin(&mut self.linked_issue_key),
            fin(&mut self.linked_issue_id),
        ]
    }
}

struct RemoteCols {
    issue_key: StringBuilder,
    remote_link_id: Int64Builder,
    global_id: StringBuilder,
    url: StringBuilder,
    title: StringBuilder,
    relationship: StringBuilder,
    application_name: StringBuilder,
}

impl RemoteCols {
    fn new() -> Self {
        RemoteCols {
            issue_key: StringBuilder::new(),
            remote_link_id: Int64Builder::new(),
            global_id: StringBuilder::new(),
            url: StringBuilder::new(),
            title: StringBuilder::new(),
            relationship: StringBuilder::new(),
            application_name: StringBuilder::new(),
        }
    }

    fn put(&mut self, h: &Head<'_>, mirror: &Value) {
        let Some(links) = mirror.get("remote_links").and_then(Value::as_array) else {
            return;
        };
        for link in links {
            let object = link.get("object").unwrap_or(&NULL);
            self.issue_key.append_value(h.key);
            self.remote_link_id.append_option(id_of(link.get("id")));
            put_str(&mut self.global_id, str_of(link, "globalId"));
            put_str(&mut self.url, str_of(object, "url"));
            put_str(&mut self.title, str_of(object, "title"));
            put_str(&mut self.relationship, str_of(link, "relationship"));
            put_str(
                &mut self.application_name,
                str_at(link, "application", "name"),
            );
        }
    }

    fn finish(&mut self) -> Vec<ArrayRef> {
        vec![
            fin(&mut self.issue_key),
            fin(&mut self.remote_link_id),
            fin(&mut self.global_id),
            fin(&mut self.url),
            fin(&mut self.title),
            fin(&mut self.relationship),
            fin(&mut self.application_name),
        ]
    }
}

struct SlaRowsCols {
    issue_key: StringBuilder,
    sla_name: StringBuilder,
    cycle: StringBuilder,
    start_at: TimestampMicrosecondBuilder,
    stop_at: TimestampMicrosecondBuilder,
    breach_at: TimestampMicrosecondBuilder,
    breached: BooleanBuilder,
    paused: BooleanBuilder,
    goal_millis: Int64Builder,
    elapsed_millis: Int64Builder,
    remaining_millis: Int64Builder,
}

impl SlaRowsCols {
    fn new() -> Self {
        SlaRowsCols {
            issue_key: StringBuilder::new(),
            sla_name: StringBuilder::new(),
            cycle: StringBuilder::new(),
            start_at: ts_builder(),
            stop_at: ts_builder(),
            breach_at: ts_builder(),
            breached: BooleanBuilder::new(),
            paused: BooleanBuilder::new(),
            goal_millis: Int64Builder::new(),
            elapsed_millis: Int64Builder::new(),
            remaining_millis: Int64Builder::new(),
        }
    }

    fn put(&mut self, h: &Head<'_>, slas: &[&Value]) {
        for sla in slas {
            let name = str_of(sla, "name");
            let completed = sla
                .get("completedCycles")
                .and_then(Value::as_array)
                .map_or(&[][..], Vec::as_slice);
            for c in completed {
                self.row(h.key, name, "completed", c, true);
            }
            if let Some(c) = sla.get("ongoingCycle").filter(|c| c.is_object()) {
                self.row(h.key, name, "ongoing", c, false);
            }
        }
    }

    fn row(&mut self, key: &str, name: Option<&str>, kind: &str, c: &Value, completed: bool) {
        self.issue_key.append_value(key);
        put_str(&mut self.sla_name, name);
        self.cycle.append_value(kind);
        self.start_at
            .append_option(epoch_micros(c.get("startTime")));
        self.stop_at.append_option(if completed {
            epoch_micros(c.get("stopTime"))
        } else {
            None
        });
        self.breach_at
            .append_option(epoch_micros(c.get("breachTime")));
        self.breached
            .append_option(c.get("breached").and_then(Value::as_bool));
        self.paused.append_option(if completed {
            None
        } else {
            c.get("paused").and_then(Value::as_bool)
        });
        self.goal_millis
            .append_option(duration_millis(c, "goalDuration"));
        self.elapsed_millis
            .append_option(duration_millis(c, "elapsedTime"));
        self.remaining_millis
            .append_option(duration_millis(c, "remainingTime"));
    }

    fn finish(&mut self) -> Vec<ArrayRef> {
        vec![
            fin(&mut self.issue_key),
            fin(&mut self.sla_name),
            fin(&mut self.cycle),
            fin(&mut self.start_at),
            fin(&mut self.stop_at),
            fin(&mut self.breach_at),
            fin(&mut self.breached),
            fin(&mut self.paused),
            fin(&mut self.goal_millis),
            fin(&mut self.elapsed_millis),
            fin(&mut self.remaining_millis),
        ]
    }
}

struct WorklogsCols {
    issue_key: StringBuilder,
    issue_id: Int64Builder,
    worklog_id: Int64Builder,
    author: StringBuilder,
    author_account_id: StringBuilder,
    update_author: StringBuilder,
    update_author_account_id: StringBuilder,
    comment: StringBuilder,
    started_at: TimestampMicrosecondBuilder,
    created_at: TimestampMicrosecondBuilder,
    updated_at: TimestampMicrosecondBuilder,
    time_spent_seconds: Int64Builder,
    time_spent: StringBuilder,
    visibility: StringBuilder,
}

impl WorklogsCols {
    fn new() -> Self {
        WorklogsCols {
            issue_key: StringBuilder::new(),
            issue_id: Int64Builder::new(),
            worklog_id: Int64Builder::new(),
            author: StringBuilder::new(),
            author_account_id: StringBuilder::new(),
            update_author: StringBuilder::new(),
            update_author_account_id: StringBuilder::new(),
            comment: StringBuilder::new(),
            started_at: ts_builder(),
            created_at: ts_builder(),
            updated_at: ts_builder(),
            time_spent_seconds: Int64Builder::new(),
            time_spent: StringBuilder::new(),
            visibility: StringBuilder::new(),
        }
    }

    /// Every worklog in `fields.worklog.worklogs` (the pipeline pages past Jira's 20).
    fn put(&mut self, h: &Head<'_>) {
        let worklogs = h
            .fields
            .get("worklog")
            .and_then(|w| w.get("worklogs"))
            .and_then(Value::as_array)
            .map_or(&[][..], Vec::as_slice);
        for w in worklogs {
            self.issue_key.append_value(h.key);
            self.issue_id.append_value(h.id);
            self.worklog_id.append_option(id_of(w.get("id")));
            let author = w.get("author").unwrap_or(&NULL);
            put_str(&mut self.author, str_of(author, "displayName"));
            put_str(&mut self.author_account_id, str_of(author, "accountId"));
            let updater = w.get("updateAuthor").unwrap_or(&NULL);
            put_str(&mut self.update_author, str_of(updater, "displayName"));
            put_str(
                &mut self.update_author_account_id,
                str_of(updater, "accountId"),
            );
            put_rich(&mut self.comment, w.get("comment"));
            self.started_at.append_option(ts_of(w.get("started")));
            self.created_at.append_option(ts_of(w.get("created")));
            self.updated_at.append_option(ts_of(w.get("updated")));
            self.time_spent_seconds
                .append_option(w.get("timeSpentSeconds").and_then(Value::as_i64));
            put_str(&mut self.time_spent, str_of(w, "timeSpent"));
            put_visibility(&mut self.visibility, w.get("visibility"));
        }
    }

    fn finish(&mut self) -> Vec<ArrayRef> {
        vec![
            fin(&mut self.issue_key),
            fin(&mut self.issue_id),
            fin(&mut self.worklog_id),
            fin(&mut self.author),
            fin(&mut self.author_account_id),
            fin(&mut self.update_author),
            fin(&mut self.update_author_account_id),
            fin(&mut self.comment),
            fin(&mut self.started_at),
            fin(&mut self.created_at),
            fin(&mut self.updated_at),
            fin(&mut self.time_spent_seconds),
            fin(&mut self.time_spent),
            fin(&mut self.visibility),
        ]
    }
}

/// `type:value` of a comment's or worklog's `visibility` (`role:Administrators`), or null.
fn put_visibility(b: &mut StringBuilder, visibility: Option<&Value>) {
    let vis = visibility.unwrap_or(&NULL);
    match (str_of(vis, "type"), str_of(vis, "value")) {
        (None, None) => b.append_null(),
        (ty, value) => {
            let _ = b.write_str(ty.unwrap_or(""));
            let _ = b.write_char(':');
            b.append_value(value.unwrap_or(""));
        }
    }
}

// ---------------------------------------------------------------------------------------------
// RowsBuilder
// ---------------------------------------------------------------------------------------------

/// Accumulates the rows of many issues for all eight tables; [`RowsBuilder::finish`] turns
/// them into one [`RecordBatch`] per table and starts over.
///
/// Memory is the Arrow builders' buffers only: nothing of an issue is kept beyond the values
/// appended, so the caller bounds memory by how many issues it appends between finishes.
pub struct RowsBuilder {
    schemas: Arc<Schemas>,
    ctx: Arc<RowContext>,
    plan: Plan,
    issues: IssuesCols,
    comments: CommentsCols,
    changelog: ChangelogCols,
    attachments: AttachmentsCols,
    links: LinksCols,
    remote: RemoteCols,
    sla: SlaRowsCols,
    worklogs: WorklogsCols,
    /// Reused per issue: the validated comment ids.
    comment_ids: Vec<i64>,
    /// Reused per issue: the `custom_fields` JSON text.
    json_buf: Vec<u8>,
}

impl RowsBuilder {
    /// A builder for the tables of `schemas`, which must be `Schemas::new(&ctx)`.
    ///
    /// # Panics
    /// If `schemas` has a different number of `issues` columns than `ctx` implies (schemas
    /// built from another context): a programming error.
    pub fn new(ctx: Arc<RowContext>, schemas: Arc<Schemas>) -> RowsBuilder {
        let plan = Plan::new(&ctx);
        let issues_cols = schema::issues_head_names().count() + plan.mapped.len() + 1;
        assert_eq!(
            schemas.get(Table::Issues).fields().len(),
            issues_cols,
            "RowsBuilder::new: the schemas were not built from this RowContext"
        );
        RowsBuilder {
            issues: IssuesCols::new(&plan),
            comments: CommentsCols::new(),
            changelog: ChangelogCols::new(),
            attachments: AttachmentsCols::new(),
            links: LinksCols::new(),
            remote: RemoteCols::new(),
            sla: SlaRowsCols::new(),
            worklogs: WorklogsCols::new(),
            schemas,
            ctx,
            plan,
            comment_ids: Vec::new(),
            json_buf: Vec::new(),
        }
    }

    /// Appends every row of one saved issue to all eight tables.
    ///
    /// On error nothing of the issue is appended (all checks come before the first value).
    pub fn append(&mut self, issue: &Value) -> Result<(), RowError> {
        let head = read_head(issue, &mut self.comment_ids)?;
        let fields = head.fields;
        let mirror = issue.get("mirror").unwrap_or(&NULL);
        let jsm = mirror
            .get("sla")
            .and_then(|s| s.get("values"))
            .and_then(Value::as_array);

        // One pass over `fields`: `custom_fields` entries and (without JSM) SLA fields.
        let catalog = &self.ctx.catalog;
        let mut custom: Vec<(&str, &Value)> = Vec::new();
        let mut slas: Vec<&Value> = match jsm {
            Some(values) => values.iter().collect(),
            None => Vec::new(),
        };
        if let Value::Object(map) = fields {
            for (id, v) in map {
                if v.is_null() {
                    continue;
                }
                let is_sla = match self.plan.roles.get(id.as_str()) {
                    Some(Role::Mapped) => false,
                    Some(Role::Sla) => true,
                    Some(Role::Custom(key)) => {
                        custom.push((key, v));
                        false
                    }
                    None if is_custom_id(id) && !catalog.contains(id) => {
                        let sla = looks_like_sla(v);
                        if !sla {
                            custom.push((id, v));
                        }
                        sla
                    }
                    None => false,
                };
                if is_sla && jsm.is_none() {
                    slas.push(v);
                }
            }
        }

        self.issues.put(&head, &self.plan, &slas);
        put_custom_fields(
            &mut self.issues.custom_fields,
            &mut custom,
            &mut self.json_buf,
        );
        self.comments.put(&head, &self.comment_ids);
        self.changelog.put(&head, issue);
        self.attachments.put(&head, mirror);
        self.links.put(&head);
        self.remote.put(&head, mirror);
        self.sla.put(&head, &slas);
        self.worklogs.put(&head);
        Ok(())
    }

    /// Issues appended since the last [`RowsBuilder::finish`].
    pub fn issues(&self) -> usize {
        self.issues.len()
    }

    /// Rows of table `t` appended since the last [`RowsBuilder::finish`].
    pub fn rows(&self, t: Table) -> usize {
        match t {
            Table::Issues => self.issues.len(),
            Table::Comments => self.comments.issue_key.len(),
            Table::Changelog => self.changelog.issue_key.len(),
            Table::Attachments => self.attachments.issue_key.len(),
            Table::IssueLinks => self.links.issue_key.len(),
            Table::RemoteLinks => self.remote.issue_key.len(),
            Table::Sla => self.sla.issue_key.len(),
            Table::Worklogs => self.worklogs.issue_key.len(),
        }
    }

    /// One batch per table, in [`Table::ALL`] order (a table without rows gives a 0-row
    /// batch), and an empty builder.
    pub fn finish(&mut self) -> Vec<(Table, RecordBatch)> {
        let columns = [
            self.issues.finish(),
            self.comments.finish(),
            self.changelog.finish(),
            self.attachments.finish(),
            self.links.finish(),
            self.remote.finish(),
            self.sla.finish(),
            self.worklogs.finish(),
        ];
        Table::ALL
            .into_iter()
            .zip(columns)
            .map(|(t, cols)| {
                let batch =
                    RecordBatch::try_new(self.schemas.get(t).clone(), cols).unwrap_or_else(|e| {
                        panic!("the {} builders do not match the schema: {e}", t.name())
                    });
                (t, batch)
            })
            .collect()
    }
}

/// Checks everything that can reject an issue; fills `comment_ids`.
fn read_head<'a>(issue: &'a Value, comment_ids: &mut Vec<i64>) -> Result<Head<'a>, RowError> {
    if !issue.is_object() {
        return Err(RowError::NotAnObject);
    }
    let key = issue
        .get("key")
        .and_then(Value::as_str)
        .filter(|k| !k.is_empty())
        .ok_or_else(|| RowError::MissingKey {
            id: issue
                .get("id")
                .map_or_else(|| "?".into(), |v| json::to_string(v).unwrap_or_default()),
        })?;
    let id = id_of(issue.get("id")).ok_or_else(|| RowError::MissingId { key: key.into() })?;
    let created = created_micros(issue, || key.to_owned())?;
    let fields = issue.get("fields").unwrap_or(&NULL);
    let comments = fields
        .get("comment")
        .and_then(|c| c.get("comments"))
        .and_then(Value::as_array)
        .map_or(&[][..], Vec::as_slice);
    comment_ids.clear();
    for (index, c) in comments.iter().enumerate() {
        let id = id_of(c.get("id")).ok_or_else(|| RowError::CommentId {
            key: key.into(),
            index,
        })?;
        comment_ids.push(id);
    }
    Ok(Head {
        key,
        id,
        created,
        fields,
        comments,
    })
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use crate::config::SlaNames;
    use crate::transform::fields::FieldCatalog;

    use arrow_array::Array as _;
    use arrow_array::cast::AsArray as _;
    use arrow_array::types::{Date32Type, Float64Type, Int64Type, TimestampMicrosecondType};
    use proptest::prelude::*;
    use serde_json::json;

    use super::*;

    fn data(name: &str) -> String {
        std::fs::read_to_string(format!(
            "{}/tests/data/rows/{name}",
            env!("CARGO_MANIFEST_DIR")
        ))
        .unwrap()
    }

    /// A saved demo issue (generated by the simulator, seed 42).
    fn demo(key: &str) -> Value {
        serde_json::from_str(&data(&format!("{key}.json"))).unwrap()
    }

    fn catalog() -> FieldCatalog {
        FieldCatalog::from_json(&serde_json::from_str(&data("fields.json")).unwrap())
    }

    fn ctx_with(catalog: FieldCatalog, fields: &[(&str, &str)], sla: SlaNames) -> Arc<RowContext> {
        Arc::new(RowContext::new(
            catalog,
            fields
                .iter()
                .map(|(id, c)| (id.to_string(), c.to_string()))
                .collect(),
            sla,
        ))
    }

    fn ctx(fields: &[(&str, &str)]) -> Arc<RowContext> {
        ctx_with(catalog(), fields, SlaNames::default())
    }

    fn builder(ctx: &Arc<RowContext>) -> RowsBuilder {
        RowsBuilder::new(ctx.clone(), Arc::new(Schemas::new(ctx)))
    }

    type Batches = HashMap<Table, RecordBatch>;

    fn rows_of(ctx: &Arc<RowContext>, issues: &[&Value]) -> Batches {
        let mut b = builder(ctx);
        for issue in issues {
            b.append(issue).unwrap();
        }
        assert_eq!(b.issues(), issues.len());
        let out = b.finish();
        assert_eq!(b.issues(), 0);
        assert_eq!(
            out.iter().map(|(t, _)| *t).collect::<Vec<_>>(),
            Table::ALL,
            "one batch per table, in order"
        );
        out.into_iter().collect()
    }

    fn col<'a>(b: &'a Batches, t: Table, name: &str) -> &'a dyn arrow_array::Array {
        b[&t]
            .column_by_name(name)
            .unwrap_or_else(|| panic!("{} has no column {name}", t.name()))
            .as_ref()
    }

    fn strs(b: &Batches, t: Table, name: &str) -> Vec<Option<String>> {
        col(b, t, name)
            .as_string::<i32>()
            .iter()
            .map(|s| s.map(str::to_owned))
            .collect()
    }

    fn str_at(b: &Batches, t: Table, name: &str, row: usize) -> Option<String> {
        strs(b, t, name).swap_remove(row)
    }

    fn i64s(b: &Batches, t: Table, name: &str) -> Vec<Option<i64>> {
        col(b, t, name).as_primitive::<Int64Type>().iter().collect()
    }

    fn tss(b: &Batches, t: Table, name: &str) -> Vec<Option<i64>> {
        col(b, t, name)
            .as_primitive::<TimestampMicrosecondType>()
            .iter()
            .collect()
    }

    fn bools(b: &Batches, t: Table, name: &str) -> Vec<Option<bool>> {
        col(b, t, name).as_boolean().iter().collect()
    }

    fn list(b: &Batches, t: Table, name: &str, row: usize) -> Option<Vec<String>> {
        let l = col(b, t, name).as_list::<i32>();
        if l.is_null(row) {
            return None;
        }
        Some(
            l.value(row)
                .as_string::<i32>()
                .iter()
                .map(|s| s.unwrap().to_owned())
                .collect(),
        )
    }

    /// Epoch microseconds of a Jira timestamp, via chrono.
    fn us(s: &str) -> i64 {
        crate::time::parse_jira_time(s).unwrap().timestamp_micros()
    }

    fn arr(v: &Value) -> &[Value] {
        v.as_array().map_or(&[], Vec::as_slice)
    }

    /// The SLA values an issue's rows come from (JSM overlay, else SLA fields).
    fn sla_values<'a>(issue: &'a Value, catalog: &FieldCatalog) -> Vec<&'a Value> {
        match issue["mirror"]["sla"]["values"].as_array() {
            Some(v) => v.iter().collect(),
            None => issue["fields"]
                .as_object()
                .unwrap()
                .iter()
                .filter(|(id, v)| catalog.is_sla(id) && !v.is_null())
                .map(|(_, v)| v)
                .collect(),
        }
    }

    /// Row counts each table must have for an issue, counted independently of the builder.
    fn expected_counts(issue: &Value, catalog: &FieldCatalog) -> [usize; 8] {
        let f = &issue["fields"];
        let items = arr(&issue["changelog"]["histories"])
            .iter()
            .map(|h| arr(&h["items"]).len())
            .sum();
        let cycles = sla_values(issue, catalog)
            .iter()
            .map(|s| arr(&s["completedCycles"]).len() + usize::from(s["ongoingCycle"].is_object()))
            .sum();
        [
            1,
            arr(&f["comment"]["comments"]).len(),
            items,
            arr(&f["attachment"]).len(),
            arr(&f["issuelinks"]).len(),
            arr(&issue["mirror"]["remote_links"]).len(),
            cycles,
            arr(&f["worklog"]["worklogs"]).len(),
        ]
    }

    fn counts(b: &Batches) -> [usize; 8] {
        Table::ALL.map(|t| b[&t].num_rows())
    }

    const DEMO: [&str; 5] = ["SUP-1", "SUP-3", "SUP-7", "SUP-9", "SUP-20"];

    #[test]
    fn demo_issues_give_one_row_per_json_element() {
        let ctx = ctx(&[("customfield_10100", "severity")]);
        let mut all = [0usize; 8];
        let issues: Vec<Value> = DEMO.iter().map(|k| demo(k)).collect();
        for issue in &issues {
            let want = expected_counts(issue, &ctx.catalog);
            let got = counts(&rows_of(&ctx, &[issue]));
            assert_eq!(got, want, "{}", issue["key"]);
            for (a, w) in all.iter_mut().zip(want) {
                *a += w;
            }
        }
        // SUP-1 is the big one: 150 comments, 251 histories, 17 resolution cycles.
        let sup1 = rows_of(&ctx, &[&issues[0]]);
        assert_eq!(counts(&sup1), [1, 150, 284, 6, 0, 0, 18, 0]);
        // All at once: the same totals, and the batches match the schemas.
        let refs: Vec<&Value> = issues.iter().collect();
        let b = rows_of(&ctx, &refs);
        assert_eq!(counts(&b), all);
        let schemas = Schemas::new(&ctx);
        for t in Table::ALL {
            assert_eq!(b[&t].schema(), *schemas.get(t), "{}", t.name());
        }
    }

    #[test]
    fn issues_row_values() {
        let ctx = ctx(&[]);
        let (sup20, sup7, sup3) = (demo("SUP-20"), demo("SUP-7"), demo("SUP-3"));
        let b = rows_of(&ctx, &[&sup20, &sup7, &sup3]);
        let t = Table::Issues;
        assert_eq!(
            i64s(&b, t, "issue_id"),
            [Some(10019), Some(10006), Some(10002)]
        );
        let s = |name: &str| str_at(&b, t, name, 0);
        assert_eq!(s("issue_key").as_deref(), Some("SUP-20"));
        assert_eq!(s("project_key").as_deref(), Some("SUP"));
        assert_eq!(
            s("summary").as_deref(),
            Some("Dashboard widget duplicates every entry (v6)")
        );
        assert_eq!(
            s("description"),
            adf::to_text(&sup20["fields"]["description"])
        );
        assert!(s("description").unwrap().contains("データ is"));
        assert_eq!(s("issue_type").as_deref(), Some("Task"));
        assert_eq!(s("status").as_deref(), Some("Done"));
        assert_eq!(s("status_category").as_deref(), Some("Done"));
        assert_eq!(s("priority").as_deref(), Some("Low"));
        assert_eq!(s("resolution").as_deref(), Some("Done"));
        assert_eq!(s("assignee").as_deref(), Some("Sam O'Neil"));
        assert_eq!(
            s("assignee_account_id").as_deref(),
            Some("5fc9e78d2730d800760becc4")
        );
        assert_eq!(s("reporter").as_deref(), Some("Carla Customer"));
        assert_eq!(
            s("reporter_account_id").as_deref(),
            Some("712020:0e7b6a4c-9f1d-4c2b-8a3e-5d6f7a8b9c0d")
        );
        assert_eq!(s("creator").as_deref(), Some("Carla Customer"));
        assert_eq!(s("parent_key"), None);
        assert_eq!(list(&b, t, "labels", 0).unwrap(), ["customer-x"]);
        assert_eq!(list(&b, t, "components", 0).unwrap(), ["Mobile app"]);
        assert_eq!(
            list(&b, t, "fix_versions", 0).unwrap(),
            Vec::<String>::new()
        );
        assert_eq!(list(&b, t, "fix_versions", 2).unwrap(), ["2025.1"]);
        assert_eq!(
            list(&b, t, "labels", 1).unwrap(),
            ["regression", "data-loss"]
        );
        let created = tss(&b, t, "created_at");
        assert_eq!(created[0], Some(us("2025-05-08T15:07:14.040-0500")));
        assert_eq!(created[0], Some(1_746_734_834_040_000));
        assert_eq!(
            tss(&b, t, "updated_at")[0],
            Some(us("2025-05-27T06:45:01.612-0500"))
        );
        assert_eq!(
            tss(&b, t, "resolved_at")[0],
            Some(us("2025-05-09T06:07:46.243-0500"))
        );
        let due: Vec<Option<i32>> = col(&b, t, "due_date")
            .as_primitive::<Date32Type>()
            .iter()
            .collect();
        // 2024-06-22 is day 19896 since 1970-01-01.
        assert_eq!(due, [None, Some(19_896), Some(19_786)]);
        assert_eq!(i64s(&b, t, "comment_count"), [Some(7), Some(7), Some(5)]);
        assert_eq!(i64s(&b, t, "attachment_count"), [Some(0), Some(1), Some(0)]);
        // No [fields] mapping: every non-null, non-SLA custom field is in custom_fields.
        let cf: Value = serde_json::from_str(&s("custom_fields").unwrap()).unwrap();
        let keys: Vec<&String> = cf.as_object().unwrap().keys().collect();
        assert_eq!(keys, ["Request participants", "Severity", "Story Points"]);
        assert_eq!(cf["Story Points"], json!(2.0));
        assert_eq!(cf["Severity"], sup20["fields"]["customfield_10100"]);
    }

    #[test]
    fn comments_changelog_attachments_links_remote_rows() {
        let ctx = ctx(&[]);
        let (sup20, sup7, sup1) = (demo("SUP-20"), demo("SUP-7"), demo("SUP-1"));
        let b = rows_of(&ctx, &[&sup20, &sup7, &sup1]);

        // comments: saved order, ids, authors, JSM flags, visibility.
        let t = Table::Comments;
        let ids = i64s(&b, t, "comment_id");
        assert_eq!(&ids[..3], [Some(10246), Some(10247), Some(10248)]);
        assert_eq!(ids.len(), 7 + 7 + 150);
        assert_eq!(str_at(&b, t, "issue_key", 0).as_deref(), Some("SUP-20"));
        assert_eq!(i64s(&b, t, "issue_id")[0], Some(10019));
        assert_eq!(str_at(&b, t, "author", 0).as_deref(), Some("José Müller"));
        assert_eq!(
            str_at(&b, t, "author_account_id", 1).as_deref(),
            Some("60e5a86a471e61006a4c5a7e")
        );
        let c1 = &sup20["fields"]["comment"]["comments"][1];
        assert_eq!(str_at(&b, t, "body", 1), adf::to_text(&c1["body"]));
        assert!(
            str_at(&b, t, "body", 1)
                .unwrap()
                .contains("@Priya Natarajan")
        );
        assert_eq!(
            tss(&b, t, "created_at")[0],
            Some(us("2025-05-09T20:46:41.864-0500"))
        );
        assert_eq!(
            tss(&b, t, "updated_at")[1],
            Some(us("2025-05-10T06:09:29.405-0500"))
        );
        assert_eq!(&bools(&b, t, "is_public")[..2], [Some(true), Some(false)]);
        assert_eq!(
            &strs(&b, t, "visibility")[..2],
            [None, Some("role:Administrators".to_owned())]
        );

        // changelog: history then item order, newest history first as saved.
        let t = Table::Changelog;
        assert_eq!(i64s(&b, t, "history_id")[0], Some(10426));
        assert_eq!(
            tss(&b, t, "created_at")[0],
            Some(us("2025-05-26T19:39:09.235-0500"))
        );
        let row0: Vec<Option<String>> = [
            "issue_key",
            "author",
            "author_account_id",
            "field",
            "field_id",
            "field_type",
            "from_value",
            "from_string",
            "to_value",
            "to_string",
        ]
        .iter()
        .map(|c| str_at(&b, t, c, 0))
        .collect();
        let some = |s: &str| Some(s.to_owned());
        assert_eq!(
            row0,
            [
                some("SUP-20"),
                some("Priya Natarajan"),
                some("557058:f58131cb-b67d-43c7-b30d-6b58d40bd077"),
                some("priority"),
                some("priority"),
                some("jira"),
                some("5"),
                some("Lowest"),
                some("4"),
                some("Low"),
            ]
        );
        // A history with two items gives two rows with the same history id, in item order.
        let hist_ids = i64s(&b, t, "history_id");
        let items_of_sup1: Vec<(i64, String)> = arr(&sup1["changelog"]["histories"])
            .iter()
            .flat_map(|h| {
                let id: i64 = h["id"].as_str().unwrap().parse().unwrap();
                arr(&h["items"])
                    .iter()
                    .map(move |i| (id, i["field"].as_str().unwrap().to_owned()))
            })
            .collect();
        let fields = strs(&b, t, "field");
        let start = hist_ids.len() - items_of_sup1.len();
        let got: Vec<(i64, String)> = (start..hist_ids.len())
            .map(|i| (hist_ids[i].unwrap(), fields[i].clone().unwrap()))
            .collect();
        assert_eq!(got, items_of_sup1);

        // attachments of SUP-7 then SUP-1 (JSON order), hostile names kept as data.
        let t = Table::Attachments;
        assert_eq!(
            i64s(&b, t, "attachment_id"),
            [10006, 10000, 10001, 10002, 10003, 10004, 10005].map(Some)
        );
        assert_eq!(
            str_at(&b, t, "filename", 0).as_deref(),
            Some("har capture.json")
        );
        assert_eq!(str_at(&b, t, "filename", 1).as_deref(), Some("../../x"));
        assert_eq!(
            str_at(&b, t, "mime_type", 0).as_deref(),
            Some("application/json")
        );
        assert_eq!(i64s(&b, t, "size_bytes")[0], Some(8600));
        assert_eq!(
            tss(&b, t, "created_at")[0],
            Some(us("2024-06-02T00:40:13.250-0500"))
        );
        assert_eq!(str_at(&b, t, "author", 0).as_deref(), Some("Zoë Dubois"));
        assert!(
            str_at(&b, t, "content_url", 0)
                .unwrap()
                .ends_with("/rest/api/3/attachment/content/10006")
        );
        assert_eq!(
            str_at(&b, t, "local_path", 1).as_deref(),
            Some("raw/attachments/SUP-1/10000__.._x")
        );
        assert_eq!(
            str_at(&b, t, "sha256", 1).as_deref(),
            Some("4571847549b4625da6bdd91e347f449f96ba3d74b8806251dc2c73bb99f93047")
        );
        let sup7_local = &sup7["mirror"]["attachments"][0];
        assert_eq!(
            str_at(&b, t, "local_path", 0).as_deref(),
            sup7_local["local_path"].as_str()
        );

        // issuelinks: SUP-20 → outward to SUP-7, SUP-7 ← inward from SUP-20.
        let t = Table::IssueLinks;
        assert_eq!(strs(&b, t, "issue_key"), [some("SUP-20"), some("SUP-7")]);
        assert_eq!(i64s(&b, t, "link_id"), [Some(10000), Some(10000)]);
        assert_eq!(
            strs(&b, t, "link_type"),
            [some("Duplicate"), some("Duplicate")]
        );
        assert_eq!(strs(&b, t, "direction"), [some("outward"), some("inward")]);
        assert_eq!(
            strs(&b, t, "linked_issue_key"),
            [some("SUP-7"), some("SUP-20")]
        );
        assert_eq!(i64s(&b, t, "linked_issue_id"), [Some(10006), Some(10019)]);

        // remote_links (numeric id in the overlay).
        let t = Table::RemoteLinks;
        assert_eq!(b[&t].num_rows(), 1);
        assert_eq!(i64s(&b, t, "remote_link_id"), [Some(10006)]);
        let row: Vec<Option<String>> = [
            "issue_key",
            "global_id",
            "url",
            "title",
            "relationship",
            "application_name",
        ]
        .iter()
        .map(|c| str_at(&b, t, c, 0))
        .collect();
        assert_eq!(
            row,
            [
                some("SUP-20"),
                some("github=example/app&pr=3733"),
                some("https://github.com/example/app/pull/3733"),
                some("Fix SUP-20: handle edge case #3733"),
                some("mentioned in"),
                some("GitHub"),
            ]
        );
    }

    #[test]
    fn attachments_local_path_only_when_downloaded() {
        let ctx = ctx(&[]);
        let issue = json!({
            "id": "1", "key": "T-1",
            "fields": {
                "created": "2024-01-01T00:00:00.000+0000",
                "attachment": [
                    {"id": "1", "filename": "a"},
                    {"id": 2, "filename": "b"},
                    {"id": "3", "filename": "c"},
                    {"id": "4", "filename": "d"},
                    {"id": "5", "filename": "e"},
                ]
            },
            "mirror": {"attachments": [
                // Out of order and with mixed id types on purpose.
                {"id": 2, "status": "downloaded", "local_path": "raw/attachments/T-1/2_b", "sha256": "bb"},
                {"id": "1", "status": "skipped_too_large", "size_bytes": 99},
                {"id": "3", "status": "not_downloaded"},
                {"id": "4", "status": "failed", "error": "403"},
                {"id": "9", "status": "downloaded", "local_path": "raw/attachments/T-1/9_z", "sha256": "zz"},
            ]}
        });
        let b = rows_of(&ctx, &[&issue]);
        let t = Table::Attachments;
        assert_eq!(
            strs(&b, t, "local_path"),
            [
                None,
                Some("raw/attachments/T-1/2_b".to_owned()),
                None,
                None,
                None
            ]
        );
        assert_eq!(
            strs(&b, t, "sha256"),
            [None, Some("bb".to_owned()), None, None, None]
        );
        assert_eq!(i64s(&b, Table::Issues, "attachment_count"), [Some(5)]);
        // The same when the overlay is missing altogether.
        let mut bare = issue.clone();
        bare.as_object_mut().unwrap().remove("mirror");
        let b = rows_of(&ctx, &[&bare]);
        assert_eq!(strs(&b, t, "local_path"), [None, None, None, None, None]);
        assert_eq!(b[&Table::RemoteLinks].num_rows(), 0);
    }

    #[test]
    fn attachments_status_and_error_from_the_overlay_and_strict_ids() {
        let ctx = ctx(&[]);
        let issue = json!({
            "id": "1", "key": "T-1",
            "fields": {
                "created": "2024-01-01T00:00:00.000+0000",
                "attachment": [
                    {"id": "10", "filename": "ok"},
                    {"id": 11, "filename": "refused"},
                    {"id": "../12", "filename": "hostile id"},
                    {"id": "12345678901234567890", "filename": "twenty digits"},
                    {"id": " 13", "filename": "padded"},
                    {"id": "+14", "filename": "signed"},
                    {"id": -15, "filename": "negative"},
                    {"id": "16", "filename": "no overlay entry"},
                    {"id": "17", "filename": "failed"},
                ]
            },
            "mirror": {"attachments": [
                {"id": "10", "status": "downloaded", "local_path": "raw/attachments/T-1/10_ok", "sha256": "aa"},
                {"id": "11", "status": "forbidden", "error": "HTTP 403 Forbidden"},
                {"id": "../12", "status": "invalid_id"},
                {"id": "12345678901234567890", "status": "invalid_id"},
                {"id": " 13", "status": "invalid_id"},
                {"id": "+14", "status": "invalid_id"},
                {"id": "-15", "status": "invalid_id"},
                {"id": "17", "status": "failed", "error": "404 Not Found"},
            ]}
        });
        let b = rows_of(&ctx, &[&issue]);
        let t = Table::Attachments;
        assert_eq!(b[&t].num_rows(), 9, "every attachment keeps its row");
        assert_eq!(
            i64s(&b, t, "attachment_id"),
            [
                Some(10),
                Some(11),
                None,
                None,
                None,
                None,
                None,
                Some(16),
                Some(17)
            ]
        );
        let some = |s: &str| Some(s.to_owned());
        assert_eq!(
            strs(&b, t, "status"),
            [
                some("downloaded"),
                some("forbidden"),
                some("invalid_id"),
                some("invalid_id"),
                some("invalid_id"),
                some("invalid_id"),
                some("invalid_id"),
                None,
                some("failed")
            ]
        );
        assert_eq!(
            strs(&b, t, "error"),
            [
                None,
                some("HTTP 403 Forbidden"),
                None,
                None,
                None,
                None,
                None,
                None,
                some("404 Not Found")
            ]
        );
        assert_eq!(
            strs(&b, t, "local_path"),
            [
                some("raw/attachments/T-1/10_ok"),
                None,
                None,
                None,
                None,
                None,
                None,
                None,
                None
            ]
        );
        // Without an overlay: no status.
        let mut bare = issue.clone();
        bare.as_object_mut().unwrap().remove("mirror");
        let b = rows_of(&ctx, &[&bare]);
        assert!(strs(&b, t, "status").iter().all(Option::is_none));
        assert!(strs(&b, t, "error").iter().all(Option::is_none));
    }

    #[test]
    fn issuelinks_direction() {
        let ctx = ctx(&[]);
        let issue = json!({
            "id": "1", "key": "T-1",
            "fields": {
                "created": "2024-01-01T00:00:00.000+0000",
                "issuelinks": [
                    {"id": "10", "type": {"name": "Blocks"}, "outwardIssue": {"id": "2", "key": "T-2"}},
                    {"id": "11", "type": {"name": "Blocks"}, "inwardIssue": {"id": "3", "key": "T-3"}},
                    {"id": "12", "type": {"name": "Odd"}},
                ]
            }
        });
        let b = rows_of(&ctx, &[&issue]);
        let t = Table::IssueLinks;
        assert_eq!(
            strs(&b, t, "direction"),
            [Some("outward".to_owned()), Some("inward".to_owned()), None]
        );
        assert_eq!(
            strs(&b, t, "linked_issue_key"),
            [Some("T-2".to_owned()), Some("T-3".to_owned()), None]
        );
        assert_eq!(i64s(&b, t, "linked_issue_id"), [Some(2), Some(3), None]);
        assert_eq!(i64s(&b, t, "link_id"), [Some(10), Some(11), Some(12)]);
    }

    const SLA_COLS: [&str; 8] = [
        "first_response_elapsed_millis",
        "first_response_goal_millis",
        "first_response_remaining_millis",
        "first_response_breached",
        "time_to_resolution_elapsed_millis",
        "time_to_resolution_goal_millis",
        "time_to_resolution_remaining_millis",
        "time_to_resolution_breached",
    ];

    /// The 8 SLA columns of issue row `row` (booleans as 0/1).
    fn sla_cols(b: &Batches, row: usize) -> [Option<i64>; 8] {
        SLA_COLS.map(|c| {
            if c.ends_with("breached") {
                bools(b, Table::Issues, c)[row].map(i64::from)
            } else {
                i64s(b, Table::Issues, c)[row]
            }
        })
    }

    #[test]
    fn sla_columns_ongoing_else_latest_completed_else_null() {
        let ctx = ctx(&[]);
        let (sup20, sup3, sup7, sup1) =
            (demo("SUP-20"), demo("SUP-3"), demo("SUP-7"), demo("SUP-1"));
        let b = rows_of(&ctx, &[&sup20, &sup3, &sup7, &sup1]);
        // SUP-20: both completed (one cycle each).
        assert_eq!(
            sla_cols(&b, 0),
            [
                Some(106_767_824),
                Some(14_400_000),
                Some(-92_367_824),
                Some(1),
                Some(54_032_203),
                Some(172_800_000),
                Some(118_767_797),
                Some(0)
            ]
        );
        // SUP-3: time to resolution has a completed and an ongoing cycle: the ongoing one wins.
        let ongoing = &sup3["mirror"]["sla"]["values"][1]["ongoingCycle"];
        assert_eq!(ongoing["elapsedTime"]["millis"], 36_231_977_645_i64);
        assert_eq!(
            &sla_cols(&b, 1)[4..],
            [
                Some(36_231_977_645),
                Some(172_800_000),
                Some(-36_059_177_645),
                Some(1)
            ]
        );
        // SUP-7: no SLA at all → nulls.
        assert_eq!(sla_cols(&b, 2), [None; 8]);
        // SUP-1: 17 completed resolution cycles → the last one.
        assert_eq!(
            &sla_cols(&b, 3)[4..],
            [
                Some(50_783_183),
                Some(172_800_000),
                Some(122_016_817),
                Some(0)
            ]
        );

        // sla table: by SLA then cycle; completed cycles have stop_at and no paused.
        let t = Table::Sla;
        let keys = strs(&b, t, "issue_key");
        let sup3_rows: Vec<usize> = (0..keys.len())
            .filter(|i| keys[*i].as_deref() == Some("SUP-3"))
            .collect();
        assert_eq!(sup3_rows.len(), 3);
        let names = strs(&b, t, "sla_name");
        let cycles = strs(&b, t, "cycle");
        let got: Vec<(Option<String>, Option<String>)> = sup3_rows
            .iter()
            .map(|i| (names[*i].clone(), cycles[*i].clone()))
            .collect();
        let s = |x: &str| Some(x.to_owned());
        assert_eq!(
            got,
            [
                (s("Time to first response"), s("completed")),
                (s("Time to resolution"), s("completed")),
                (s("Time to resolution"), s("ongoing")),
            ]
        );
        let (first, last) = (sup3_rows[0], sup3_rows[2]);
        assert_eq!(tss(&b, t, "start_at")[first], Some(1_707_338_344_870_000));
        assert_eq!(tss(&b, t, "stop_at")[first], Some(1_708_620_539_548_000));
        assert_eq!(tss(&b, t, "breach_at")[first], Some(1_707_352_744_870_000));
        assert_eq!(bools(&b, t, "breached")[first], Some(true));
        assert_eq!(bools(&b, t, "paused")[first], None);
        assert_eq!(i64s(&b, t, "goal_millis")[first], Some(14_400_000));
        assert_eq!(i64s(&b, t, "elapsed_millis")[first], Some(1_282_194_678));
        assert_eq!(i64s(&b, t, "remaining_millis")[first], Some(-1_267_794_678));
        assert_eq!(tss(&b, t, "stop_at")[last], None);
        assert_eq!(bools(&b, t, "paused")[last], Some(false));
        assert_eq!(tss(&b, t, "breach_at")[last], Some(1_712_676_822_355_000));
        assert_eq!(
            tss(&b, t, "start_at")[last],
            ongoing["startTime"]["epochMillis"]
                .as_i64()
                .map(|m| m * 1000)
        );
    }

    fn cycle(elapsed: i64, breached: bool) -> Value {
        json!({
            "startTime": {"epochMillis": 1_700_000_000_000_i64, "friendly": "숫자"},
            "stopTime": {"epochMillis": 1_700_000_100_000_i64},
            "breached": breached,
            "goalDuration": {"millis": 1000},
            "elapsedTime": {"millis": elapsed},
            "remainingTime": {"millis": 1000 - elapsed},
        })
    }

    fn sla_value(name: &str, completed: Vec<Value>, ongoing: Option<Value>) -> Value {
        let mut v = json!({"id": "1", "name": name, "completedCycles": completed,
                           "slaDisplayFormat": "NEW_SLA_FORMAT"});
        if let Some(o) = ongoing {
            v["ongoingCycle"] = o;
        }
        v
    }

    fn issue_with(fields: Value, mirror: Value) -> Value {
        let mut f = json!({"created": "2024-03-05T10:15:30.123-0500"});
        for (k, v) in fields.as_object().unwrap() {
            f[k] = v.clone();
        }
        json!({"id": "10", "key": "T-10", "fields": f, "mirror": mirror})
    }

    #[test]
    fn sla_from_jsm_overlay_or_from_sla_fields() {
        let ctx = ctx(&[]);
        let fields = json!({
            "customfield_10030": sla_value("Time to first response", vec![cycle(10, false)], None),
            "customfield_10031": sla_value("Time to resolution", vec![cycle(20, false), cycle(30, true)], None),
        });
        // No overlay (mirror.sla null): the SLA custom fields are the source.
        let from_fields = issue_with(fields.clone(), json!({"sla": null}));
        // Overlay present: it wins over the fields, even where they disagree.
        let from_jsm = issue_with(
            fields.clone(),
            json!({"sla": {"source": "jsm", "values": [
                sla_value("Time to resolution", vec![], Some(json!({
                    "startTime": {"epochMillis": 5}, "breached": false, "paused": true,
                    "goalDuration": {"millis": 1000}, "elapsedTime": {"millis": 77},
                    "remainingTime": {"millis": 923}}))),
                sla_value("Time to first response", vec![], None),
            ]}}),
        );
        let b = rows_of(&ctx, &[&from_fields, &from_jsm]);
        assert_eq!(
            sla_cols(&b, 0),
            [
                Some(10),
                Some(1000),
                Some(990),
                Some(0),
                Some(30),
                Some(1000),
                Some(970),
                Some(1)
            ]
        );
        assert_eq!(
            sla_cols(&b, 1),
            [
                None,
                None,
                None,
                None,
                Some(77),
                Some(1000),
                Some(923),
                Some(0)
            ],
            "first response has no cycle → nulls"
        );
        let t = Table::Sla;
        assert_eq!(
            strs(&b, t, "cycle"),
            ["completed", "completed", "completed", "ongoing"].map(|s| Some(s.to_owned()))
        );
        assert_eq!(
            i64s(&b, t, "elapsed_millis"),
            [Some(10), Some(20), Some(30), Some(77)]
        );
        assert_eq!(bools(&b, t, "paused"), [None, None, None, Some(true)]);
        assert_eq!(tss(&b, t, "start_at")[3], Some(5_000));
        assert_eq!(tss(&b, t, "breach_at")[3], None);
        // SLA fields never reach custom_fields.
        assert_eq!(strs(&b, Table::Issues, "custom_fields"), [None, None]);
    }

    #[test]
    fn sla_names_match_trimmed_and_case_insensitively() {
        let ctx = ctx_with(
            catalog(),
            &[],
            SlaNames {
                first_response: "  Time To First Response ".into(),
                time_to_resolution: "TEMPS DE RÉSOLUTION".into(),
            },
        );
        let issue = issue_with(
            json!({}),
            json!({"sla": {"source": "jsm", "values": [
                sla_value("time to first response", vec![cycle(1, false)], None),
                sla_value(" Temps de résolution", vec![cycle(2, false)], None),
                sla_value("Something else", vec![cycle(3, false)], None),
            ]}}),
        );
        let b = rows_of(&ctx, &[&issue]);
        assert_eq!(sla_cols(&b, 0)[0], Some(1));
        assert_eq!(sla_cols(&b, 0)[4], Some(2));
        assert_eq!(b[&Table::Sla].num_rows(), 3, "every SLA has its rows");
        // Names that match nothing leave the columns null.
        let other = ctx_with(
            catalog(),
            &[],
            SlaNames {
                first_response: "Erste Antwort".into(),
                time_to_resolution: "Lösung".into(),
            },
        );
        assert_eq!(sla_cols(&rows_of(&other, &[&issue]), 0), [None; 8]);
    }

    #[test]
    fn sla_fields_unknown_to_the_catalogue_are_recognised_by_shape() {
        let ctx = ctx_with(FieldCatalog::empty(), &[], SlaNames::default());
        let issue = issue_with(
            json!({
                "customfield_1": sla_value("Time to resolution", vec![cycle(5, false)], None),
                "customfield_2": {"value": "not an SLA"},
            }),
            json!({"sla": null}),
        );
        let b = rows_of(&ctx, &[&issue]);
        assert_eq!(sla_cols(&b, 0)[4], Some(5));
        assert_eq!(b[&Table::Sla].num_rows(), 1);
        assert_eq!(
            str_at(&b, Table::Issues, "custom_fields", 0).as_deref(),
            Some(r#"{"customfield_2":{"value":"not an SLA"}}"#)
        );
    }

    /// A catalogue with one field of every kind (the simulator's plus a single user field and
    /// an untyped one).
    fn catalog_with_extras() -> FieldCatalog {
        let mut fields: Value = serde_json::from_str(&data("fields.json")).unwrap();
        let list = fields.as_array_mut().unwrap();
        list.push(
            json!({"id": "customfield_10800", "name": "Owner", "custom": true,
                         "schema": {"type": "user", "custom": "x:userpicker"}}),
        );
        list.push(
            json!({"id": "customfield_10900", "name": "Meta", "custom": true,
                         "schema": {"type": "any"}}),
        );
        list.push(
            json!({"id": "customfield_10901", "name": "Notes", "custom": true,
                         "schema": {"type": "string"}}),
        );
        FieldCatalog::from_json(&fields)
    }

    #[test]
    fn fields_columns_are_typed_by_their_kind() {
        let mapping = [
            ("customfield_10100", "severity"),     // option
            ("customfield_10200", "story_points"), // number
            ("customfield_10300", "team_text"),    // string
            ("customfield_10400", "go_live"),      // date
            ("customfield_10401", "escalated_at"), // datetime
            ("customfield_10500", "services"),     // array of strings
            ("customfield_10600", "participants"), // array of users
            ("customfield_10700", "notes"),        // string (textarea, ADF)
            ("customfield_10800", "owner"),        // user
            ("customfield_10900", "meta"),         // json
            ("customfield_99999", "unknown"),      // not in the catalogue → json
        ];
        let ctx = ctx_with(catalog_with_extras(), &mapping, SlaNames::default());
        let kinds: Vec<ColumnKind> = mapping
            .iter()
            .map(|(id, _)| ctx.catalog.column_kind(id))
            .collect();
        use ColumnKind as K;
        assert_eq!(
            kinds,
            [
                K::Option,
                K::Number,
                K::String,
                K::Date,
                K::DateTime,
                K::Array,
                K::Array,
                K::String,
                K::User,
                K::Json,
                K::Json
            ]
        );
        let adf_doc = json!({"type": "doc", "version": 1, "content": [
            {"type": "paragraph", "content": [{"type": "text", "text": "Call back"}]}]});
        let full = issue_with(
            json!({
                "customfield_10100": {"id": "1", "value": "S1 - Critical", "self": "x"},
                "customfield_10200": 2.5,
                "customfield_10300": "Payments squad",
                "customfield_10400": "2024-09-06",
                "customfield_10401": "2024-07-23T10:30:12.184-0500",
                "customfield_10500": ["auth", "billing-api"],
                "customfield_10600": [{"displayName": "Zoë", "accountId": "a"}, {"name": "legacy"}, {"accountId": "b"}],
                "customfield_10700": adf_doc,
                "customfield_10800": {"displayName": "Sam O'Neil", "accountId": "c"},
                "customfield_10900": {"b": 1, "a": [true, null]},
                "customfield_99999": "plain text",
            }),
            Value::Null,
        );
        let empty = issue_with(json!({"customfield_10100": null}), Value::Null);
        let odd = issue_with(
            json!({
                "customfield_10100": "bare string",
                "customfield_10200": "3",
                "customfield_10400": "2024-13-01",
                "customfield_10401": "yesterday",
                "customfield_10500": "single",
                "customfield_10600": [],
                "customfield_10800": "jsmith",
                "customfield_10900": 42,
                "customfield_99999": adf_doc,
            }),
            Value::Null,
        );
        let b = rows_of(&ctx, &[&full, &empty, &odd]);
        let t = Table::Issues;
        let s = |c: &str| strs(&b, t, c);
        let some = |x: &str| Some(x.to_owned());
        assert_eq!(
            s("severity"),
            [some("S1 - Critical"), None, some("bare string")]
        );
        let points: Vec<Option<f64>> = col(&b, t, "story_points")
            .as_primitive::<Float64Type>()
            .iter()
            .collect();
        assert_eq!(points, [Some(2.5), None, Some(3.0)]);
        assert_eq!(s("team_text"), [some("Payments squad"), None, None]);
        let dates: Vec<Option<i32>> = col(&b, t, "go_live")
            .as_primitive::<Date32Type>()
            .iter()
            .collect();
        assert_eq!(dates, [Some(19_972), None, None]);
        assert_eq!(
            tss(&b, t, "escalated_at"),
            [Some(us("2024-07-23T10:30:12.184-0500")), None, None]
        );
        assert_eq!(list(&b, t, "services", 0).unwrap(), ["auth", "billing-api"]);
        assert_eq!(list(&b, t, "services", 1), None);
        assert_eq!(list(&b, t, "services", 2).unwrap(), ["single"]);
        assert_eq!(
            list(&b, t, "participants", 0).unwrap(),
            ["Zoë", "legacy", r#"{"accountId":"b"}"#]
        );
        assert_eq!(
            list(&b, t, "participants", 2).unwrap(),
            Vec::<String>::new()
        );
        assert_eq!(s("notes"), [some("Call back"), None, None]);
        assert_eq!(s("owner"), [some("Sam O'Neil"), None, some("jsmith")]);
        assert_eq!(
            s("meta")[0],
            some(&json!({"b": 1, "a": [true, null]}).to_string())
        );
        assert_eq!(s("meta")[2], some("42"));
        assert_eq!(s("unknown"), [some("plain text"), None, some("Call back")]);
        // Mapped fields stay out of custom_fields.
        assert_eq!(s("custom_fields"), [None, None, None]);
    }

    /// Text of `n` nested arrays around `leaf`, and of `n` objects `{"a": …}`.
    fn deep_texts(n: usize, leaf: &str) -> (String, String) {
        let arrays = format!("{}{leaf}{}", "[".repeat(n), "]".repeat(n));
        let objects = format!("{}{leaf}{}", r#"{"a":"#.repeat(n), "}".repeat(n));
        (arrays, objects)
    }

    #[test]
    fn values_of_any_depth_become_text_on_a_small_stack() {
        const N: usize = 20_000;
        let run = || {
            let (arrays, objects) = deep_texts(N, "1");
            let mut adf = String::from(r#"{"type":"doc","version":1,"content":["#);
            for _ in 0..N {
                adf.push_str(r#"{"type":"bulletList","content":[{"type":"listItem","content":["#);
            }
            adf.push_str(r#"{"type":"paragraph","content":[{"type":"text","text":"bottom"}]}"#);
            adf.push_str(&"]}]}".repeat(N));
            adf.push_str("]}");
            let raw = format!(
                r#"{{"id":"10","key":"T-10","fields":{{"created":"2024-03-05T10:15:30.123-0500",
                "summary":{arrays},"description":{adf},"customfield_10900":{objects},
                "customfield_55555":{arrays},"labels":[{objects}]}}}}"#
            );
            let issue = json::from_str(&raw).expect("parses");
            let b = rows_of(&ctx(&[("customfield_10900", "meta")]), &[&issue]);
            json::drop_deep(issue);
            // (No `assert_eq!` on the texts: a failure message would be megabytes long.)
            let summary = str_at(&b, Table::Issues, "summary", 0).unwrap();
            assert!(summary == arrays);
            let description = str_at(&b, Table::Issues, "description", 0).unwrap();
            assert!(description.ends_with("- bottom"));
            assert!(str_at(&b, Table::Issues, "meta", 0).unwrap() == objects);
            let custom = str_at(&b, Table::Issues, "custom_fields", 0).unwrap();
            assert!(custom == format!(r#"{{"customfield_55555":{arrays}}}"#));
            assert!(list(&b, Table::Issues, "labels", 0).unwrap() == [objects]);
        };
        crate::testing::on_small_stack(run);
    }

    #[test]
    fn custom_fields_json() {
        // 10300 and 10301 are both called "Team"; 10100 is mapped; 10030/10031 are SLA fields.
        let mapped = ctx(&[("customfield_10100", "severity")]);
        let issue = issue_with(
            json!({
                "customfield_10100": {"value": "S1"},
                "customfield_10030": sla_value("Time to first response", vec![], None),
                "customfield_10300": "Tier 2 \"support\"",
                "customfield_10301": {"id": "10203", "value": "Mobile"},
                "customfield_10700": {"type": "doc", "version": 1, "content": [
                    {"type": "paragraph", "content": [{"type": "text", "text": "Hello"}]}]},
                "customfield_10200": null,
                "customfield_55555": [1, 2],
                "environment": "not a custom field",
            }),
            Value::Null,
        );
        let b = rows_of(&mapped, &[&issue]);
        let text = str_at(&b, Table::Issues, "custom_fields", 0).unwrap();
        let notes = adf::to_text(&issue["fields"]["customfield_10700"]).unwrap();
        let expected = format!(
            concat!(
                r#"{{"Notes":{},"Team (customfield_10300)":"Tier 2 \"support\"","#,
                r#""Team (customfield_10301)":{{"id":"10203","value":"Mobile"}},"customfield_55555":[1,2]}}"#
            ),
            serde_json::to_string(&notes).unwrap()
        );
        assert_eq!(text, expected);
        // When one of the two is mapped, the other keeps its plain name.
        let ctx2 = ctx(&[("customfield_10300", "team")]);
        let b = rows_of(&ctx2, &[&issue]);
        let cf: Value =
            serde_json::from_str(&str_at(&b, Table::Issues, "custom_fields", 0).unwrap()).unwrap();
        let keys: Vec<&String> = cf.as_object().unwrap().keys().collect();
        assert_eq!(keys, ["Notes", "Severity", "Team", "customfield_55555"]);
        assert_eq!(
            str_at(&b, Table::Issues, "team", 0).as_deref(),
            Some("Tier 2 \"support\"")
        );
    }

    #[test]
    fn created_month_is_utc() {
        let month =
            |created: &str| created_month(&json!({"key": "T-1", "fields": {"created": created}}));
        assert_eq!(month("2024-03-31T22:30:00.000-0500").unwrap(), (2024, 4));
        assert_eq!(month("2024-04-01T00:30:00.000+0200").unwrap(), (2024, 3));
        assert_eq!(month("2023-12-31T23:59:59.999+0000").unwrap(), (2023, 12));
        assert_eq!(month("2024-03-05T15:15:30Z").unwrap(), (2024, 3));
        assert!(matches!(
            month("05/Mar/24 3:15 PM"),
            Err(RowError::BadCreated { .. })
        ));
        assert!(matches!(
            created_month(&json!({"key": "T-1", "fields": {}})),
            Err(RowError::MissingCreated { .. })
        ));
        assert_eq!(created_month(&demo("SUP-1")).unwrap(), (2023, 12));
    }

    #[test]
    fn a_rejected_issue_leaves_the_builder_untouched() {
        let ctx = ctx(&[("customfield_10100", "severity")]);
        let good = demo("SUP-20");
        let mut b = builder(&ctx);
        b.append(&good).unwrap();
        let before: Vec<usize> = Table::ALL.iter().map(|t| b.rows(*t)).collect();

        let mut no_id = good.clone();
        no_id.as_object_mut().unwrap().remove("id");
        let mut bad_id = good.clone();
        bad_id["id"] = json!("SUP-20");
        let mut no_key = good.clone();
        no_key["key"] = json!("");
        let mut no_created = good.clone();
        no_created["fields"]
            .as_object_mut()
            .unwrap()
            .remove("created");
        let mut bad_created = good.clone();
        bad_created["fields"]["created"] = json!("last Tuesday");
        let mut bad_comment = good.clone();
        bad_comment["fields"]["comment"]["comments"][6]["id"] = Value::Null;
        type Case = (Value, fn(&RowError) -> bool);
        let cases: [Case; 7] = [
            (
                no_id,
                |e| matches!(e, RowError::MissingId { key } if key == "SUP-20"),
            ),
            (bad_id, |e| matches!(e, RowError::MissingId { .. })),
            (no_key, |e| matches!(e, RowError::MissingKey { .. })),
            (no_created, |e| matches!(e, RowError::MissingCreated { .. })),
            (
                bad_created,
                |e| matches!(e, RowError::BadCreated { value, .. } if value == "last Tuesday"),
            ),
            (bad_comment, |e| {
                matches!(e, RowError::CommentId { index: 6, .. })
            }),
            (json!([1, 2]), |e| matches!(e, RowError::NotAnObject)),
        ];
        for (issue, is_expected) in cases {
            let err = b.append(&issue).unwrap_err();
            assert!(is_expected(&err), "{err}");
            assert!(!err.to_string().is_empty());
            let after: Vec<usize> = Table::ALL.iter().map(|t| b.rows(*t)).collect();
            assert_eq!(after, before, "{err}");
        }
        assert_eq!(b.issues(), 1);
        // And the batches are exactly those of the good issue alone.
        let got: Batches = b.finish().into_iter().collect();
        let want = rows_of(&ctx, &[&good]);
        for t in Table::ALL {
            assert_eq!(got[&t], want[&t], "{}", t.name());
        }
    }

    #[test]
    fn the_wider_issue_columns_come_from_system_fields_and_the_sprint_field() {
        use arrow_array::{Array, Int64Array, ListArray, StringArray, TimestampMicrosecondArray};
        let catalog = FieldCatalog::from_json(&json!([
            {"id": "customfield_10020", "name": "Sprint", "custom": true,
             "schema": {"type": "array", "items": "json",
                        "custom": "com.pyxis.greenhopper.jira:gh-sprint"}}
        ]));
        let ctx = ctx_with(catalog, &[], SlaNames::default());
        let mut issue = demo("SUP-9");
        let f = &mut issue["fields"];
        f["project"]["name"] = json!("Support");
        f["environment"] = json!({"type": "doc", "version": 1, "content": [
            {"type": "paragraph", "content": [{"type": "text", "text": "Prod, EU"}]}
        ]});
        f["versions"] = json!([{"id": "1", "name": "2.3"}, {"id": "2", "name": "2.4"}]);
        f["security"] = json!({"id": "10000", "name": "Internal"});
        f["customfield_10020"] = json!([
            {"id": 7, "name": "Sprint 7", "state": "closed"},
            {"id": 8, "name": "Sprint 8", "state": "active"}
        ]);
        f["votes"] = json!({"votes": 3, "hasVoted": false});
        f["watches"] = json!({"watchCount": 5, "isWatching": false});
        f["timeoriginalestimate"] = json!(7200);
        f["timeestimate"] = json!(3600);
        f["timespent"] = json!(5400);
        f["statuscategorychangedate"] = json!("2025-01-03T10:00:00.000+0000");
        let b = rows_of(&ctx, &[&issue]);
        let rows = &b[&Table::Issues];
        let col = |name: &str| rows.column_by_name(name).unwrap().clone();
        let text = |name: &str| {
            let c = col(name);
            let c = c.as_any().downcast_ref::<StringArray>().unwrap();
            c.is_valid(0).then(|| c.value(0).to_string())
        };
        let int = |name: &str| {
            let c = col(name);
            let c = c.as_any().downcast_ref::<Int64Array>().unwrap();
            c.is_valid(0).then(|| c.value(0))
        };
        let list = |name: &str| -> Vec<String> {
            let c = col(name);
            let c = c.as_any().downcast_ref::<ListArray>().unwrap();
            let v = c.value(0);
            let v = v.as_any().downcast_ref::<StringArray>().unwrap();
            v.iter().map(|s| s.unwrap().to_string()).collect()
        };
        let ts = |name: &str| {
            let c = col(name);
            let c = c
                .as_any()
                .downcast_ref::<TimestampMicrosecondArray>()
                .unwrap();
            c.is_valid(0).then(|| c.value(0))
        };
        assert_eq!(text("project_name").as_deref(), Some("Support"));
        assert_eq!(text("environment").as_deref(), Some("Prod, EU"));
        assert_eq!(list("affects_versions"), ["2.3", "2.4"]);
        assert_eq!(text("security_level").as_deref(), Some("Internal"));
        assert_eq!(list("sprint"), ["Sprint 7", "Sprint 8"]);
        assert_eq!(int("votes"), Some(3));
        assert_eq!(int("watchers"), Some(5));
        assert_eq!(int("time_original_estimate_seconds"), Some(7200));
        assert_eq!(int("time_remaining_estimate_seconds"), Some(3600));
        assert_eq!(int("time_spent_seconds"), Some(5400));
        assert_eq!(
            ts("status_changed_at"),
            parse_ts_micros("2025-01-03T10:00:00Z")
        );
        let last = issue["fields"]["comment"]["comments"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|c| parse_ts_micros(c["created"].as_str()?))
            .max();
        assert!(last.is_some());
        assert_eq!(ts("last_comment_at"), last);

        // Absent or malformed, each is null, never an error.
        let mut bare = demo("SUP-9");
        for k in [
            "versions",
            "security",
            "votes",
            "watches",
            "timespent",
            "environment",
        ] {
            bare["fields"][k] = json!("not what Jira sends");
        }
        bare["fields"]["comment"]["comments"] = json!([]);
        let b = rows_of(&ctx, &[&bare]);
        let rows = &b[&Table::Issues];
        for name in [
            "votes",
            "watchers",
            "time_spent_seconds",
            "last_comment_at",
            "security_level",
        ] {
            assert!(rows.column_by_name(name).unwrap().is_null(0), "{name}");
        }
    }

    #[test]
    fn every_worklog_is_a_row_with_plain_text_comment_and_visibility() {
        use arrow_array::{Int64Array, StringArray, TimestampMicrosecondArray};
        let ctx = ctx(&[]);
        let mut issue = demo("SUP-9");
        issue["fields"]["worklog"] = json!({
            "startAt": 0, "maxResults": 2, "total": 2,
            "worklogs": [
                {
                    "id": "10001", "issueId": "10009",
                    "author": {"accountId": "a-1", "displayName": "Ann Agent"},
                    "updateAuthor": {"accountId": "b-2", "displayName": "Bo Boss"},
                    "comment": {"type": "doc", "version": 1, "content": [
                        {"type": "paragraph", "content": [{"type": "text", "text": "Fixed the VPN"}]}
                    ]},
                    "created": "2025-01-02T10:05:00.000+0100",
                    "updated": "2025-01-02T11:00:00.000+0100",
                    "started": "2025-01-02T09:00:00.000+0100",
                    "timeSpent": "1h 30m", "timeSpentSeconds": 5400,
                    "visibility": {"type": "group", "value": "jira-servicedesk-users"}
                },
                {"id": "not a number", "started": "garbage", "timeSpentSeconds": "9"}
            ]
        });
        let b = rows_of(&ctx, &[&issue]);
        let w = &b[&Table::Worklogs];
        assert_eq!(w.num_rows(), 2);
        let text = |name: &str, row: usize| -> Option<String> {
            let col = w.column_by_name(name).unwrap();
            let col = col.as_any().downcast_ref::<StringArray>().unwrap();
            col.is_valid(row).then(|| col.value(row).to_string())
        };
        let int = |name: &str, row: usize| -> Option<i64> {
            let col = w.column_by_name(name).unwrap();
            let col = col.as_any().downcast_ref::<Int64Array>().unwrap();
            col.is_valid(row).then(|| col.value(row))
        };
        assert_eq!(text("issue_key", 0).as_deref(), Some("SUP-9"));
        assert_eq!(int("worklog_id", 0), Some(10001));
        assert_eq!(text("author", 0).as_deref(), Some("Ann Agent"));
        assert_eq!(text("update_author_account_id", 0).as_deref(), Some("b-2"));
        assert_eq!(text("comment", 0).as_deref(), Some("Fixed the VPN"));
        assert_eq!(int("time_spent_seconds", 0), Some(5400));
        assert_eq!(text("time_spent", 0).as_deref(), Some("1h 30m"));
        assert_eq!(
            text("visibility", 0).as_deref(),
            Some("group:jira-servicedesk-users")
        );
        let started = w.column_by_name("started_at").unwrap();
        let started = started
            .as_any()
            .downcast_ref::<TimestampMicrosecondArray>()
            .unwrap();
        assert_eq!(
            started.value(0),
            parse_ts_micros("2025-01-02T08:00:00Z").unwrap()
        );
        // A malformed worklog is a row of nulls, never an error.
        assert_eq!(int("worklog_id", 1), None);
        assert!(started.is_null(1));
        assert_eq!(int("time_spent_seconds", 1), None);
        assert_eq!(text("comment", 1), None);
    }

    #[test]
    fn finish_resets_and_empty_finish_gives_empty_batches() {
        let ctx = ctx(&[("customfield_10500", "services")]);
        let mut b = builder(&ctx);
        let first = b.finish();
        assert!(first.iter().all(|(_, batch)| batch.num_rows() == 0));
        b.append(&demo("SUP-9")).unwrap();
        let once: Batches = b.finish().into_iter().collect();
        b.append(&demo("SUP-9")).unwrap();
        let again: Batches = b.finish().into_iter().collect();
        for t in Table::ALL {
            assert_eq!(once[&t], again[&t], "{}", t.name());
        }
        assert_eq!(b.issues(), 0);
    }

    #[test]
    #[should_panic(expected = "not built from this RowContext")]
    fn schemas_from_another_context_are_refused() {
        let a = ctx(&[("customfield_10500", "services")]);
        let other = ctx(&[]);
        let _ = RowsBuilder::new(a, Arc::new(Schemas::new(&other)));
    }

    // -----------------------------------------------------------------------------------------
    // Time parsing against chrono
    // -----------------------------------------------------------------------------------------

    fn chrono_micros(s: &str) -> Option<i64> {
        crate::time::parse_jira_time(s).map(|t| t.timestamp_micros())
    }

    #[test]
    fn timestamp_fast_path_examples() {
        for s in [
            "2024-03-05T10:15:30.123-0500",
            "1970-01-01T00:00:00.000+0000",
            "1969-12-31T23:59:59.999+0000",
            "2000-02-29T12:00:00.000+1400",
            "0001-01-01T00:00:00.000-2359",
            "9999-12-31T23:59:59.999+2359",
        ] {
            assert!(fast_ts_micros(s).is_some(), "{s}");
            assert_eq!(parse_ts_micros(s), chrono_micros(s), "{s}");
        }
        assert_eq!(
            parse_ts_micros("2024-03-05T10:15:30.123-0500"),
            Some(1_709_651_730_123_000)
        );
        // Not the fast layout: chrono decides.
        for s in [
            "2024-03-05T15:15:30Z",
            "2024-03-05T16:15:30.123+01:00",
            "2024-03-05T10:15:30.123456-0500",
            " 2024-03-05T10:15:30.123-0500",
            "2023-02-29T10:15:30.123-0500",
            "2024-03-05T24:00:00.000-0500",
            "2016-12-31T23:59:60.000+0000",
            "2024-03-05T10:15:30.123-2400",
            "garbage",
            "",
        ] {
            assert_eq!(fast_ts_micros(s), None, "{s}");
            assert_eq!(parse_ts_micros(s), chrono_micros(s), "{s}");
        }
        assert_eq!(parse_date_days("1970-01-01"), Some(0));
        assert_eq!(parse_date_days("2024-06-22"), Some(19_896));
        assert_eq!(parse_date_days("1969-12-31"), Some(-1));
        assert_eq!(
            parse_date_days("2024-06-22T10:00:00.000+0000"),
            Some(19_896)
        );
        assert_eq!(parse_date_days("2023-02-29"), None);
        assert_eq!(parse_date_days("tomorrow"), None);
    }

    fn chrono_days(s: &str) -> Option<i32> {
        let d = chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d").ok()?;
        Some((d - chrono::NaiveDate::from_ymd_opt(1970, 1, 1).unwrap()).num_days() as i32)
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]

        /// Every instant of years 1–9999 in every whole-minute offset, as Jira writes it.
        #[test]
        fn fast_timestamps_equal_chrono(
            ms in -62_135_596_800_000_i64..253_402_300_799_999,
            offset_min in -1439_i32..=1439,
        ) {
            let tz = chrono::FixedOffset::east_opt(offset_min * 60).unwrap();
            let t = chrono::DateTime::from_timestamp_millis(ms).unwrap().with_timezone(&tz);
            let s = t.format("%Y-%m-%dT%H:%M:%S%.3f%z").to_string();
            prop_assume!(s.len() == 28);
            prop_assert_eq!(fast_ts_micros(&s), Some(ms * 1000), "{}", s);
            prop_assert_eq!(chrono_micros(&s), Some(ms * 1000), "{}", s);
        }

        /// Any string of the fast layout, valid or not, parses exactly as chrono parses it.
        #[test]
        fn layout_strings_parse_like_chrono(
            s in "[0-9]{4}-[01][0-9]-[0-3][0-9]T[0-2][0-9]:[0-6][0-9]:[0-6][0-9]\\.[0-9]{3}[+-][0-2][0-9][0-6][0-9]"
        ) {
            prop_assert_eq!(parse_ts_micros(&s), chrono_micros(&s), "{}", s);
            if &s[17..19] != "60" {
                // The fast path takes every string chrono accepts (leap seconds aside).
                prop_assert_eq!(fast_ts_micros(&s), chrono_micros(&s), "{}", s);
            }
        }

        #[test]
        fn dates_parse_like_chrono(s in "[0-9]{4}-[01][0-9]-[0-3][0-9]") {
            prop_assert_eq!(parse_date_days(&s), chrono_days(&s), "{}", s);
        }
    }

    // -----------------------------------------------------------------------------------------
    // Generated issues
    // -----------------------------------------------------------------------------------------

    /// SplitMix64: a tiny deterministic generator for building issues from one seed.
    struct Rng(u64);

    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = self.0;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            z ^ (z >> 31)
        }
        fn below(&mut self, n: u64) -> u64 {
            self.next() % n
        }
        fn chance(&mut self, percent: u64) -> bool {
            self.below(100) < percent
        }
        fn pick<'a>(&mut self, xs: &[&'a str]) -> &'a str {
            xs[self.below(xs.len() as u64) as usize]
        }
    }

    fn gen_time(r: &mut Rng) -> Value {
        if r.chance(5) {
            return Value::Null;
        }
        let ms = r.below(4_000_000_000_000) as i64;
        let tz = chrono::FixedOffset::east_opt((r.below(1_561) as i32 - 720) * 60).unwrap();
        let t = chrono::DateTime::from_timestamp_millis(ms)
            .unwrap()
            .with_timezone(&tz);
        json!(t.format("%Y-%m-%dT%H:%M:%S%.3f%z").to_string())
    }

    fn gen_text(r: &mut Rng) -> Value {
        let words = [
            "naïve",
            "ticket",
            "データ",
            "\"quoted\"",
            "tab\there",
            "",
            "emoji 🎉",
        ];
        match r.below(4) {
            0 => Value::Null,
            1 => json!(r.pick(&words)),
            _ => json!({"type": "doc", "version": 1, "content": [
                {"type": "paragraph", "content": [{"type": "text", "text": r.pick(&words[..5])}]}]}),
        }
    }

    fn gen_user(r: &mut Rng) -> Value {
        match r.below(4) {
            0 => Value::Null,
            _ => json!({"displayName": r.pick(&["Zoë", "李雷", "Sam O'Neil"]),
                        "accountId": format!("acc-{}", r.below(5))}),
        }
    }

    fn gen_id(r: &mut Rng) -> Value {
        let n = r.below(100_000) + 1;
        if r.chance(50) {
            json!(n.to_string())
        } else {
            json!(n)
        }
    }

    fn gen_cycle(r: &mut Rng, ongoing: bool) -> Value {
        let mut c = json!({
            "startTime": {"epochMillis": r.below(2_000_000_000_000)},
            "breached": r.chance(50),
            "goalDuration": {"millis": r.below(1_000_000)},
            "elapsedTime": {"millis": r.below(1_000_000)},
            "remainingTime": {"millis": r.below(1_000_000) as i64 - 500_000},
        });
        if r.chance(70) {
            c["breachTime"] = json!({"epochMillis": r.below(2_000_000_000_000)});
        }
        if ongoing {
            c["paused"] = json!(r.chance(30));
        } else {
            c["stopTime"] = json!({"epochMillis": r.below(2_000_000_000_000)});
        }
        c
    }

    fn gen_sla(r: &mut Rng, name: &str) -> Value {
        let completed: Vec<Value> = (0..r.below(3)).map(|_| gen_cycle(r, false)).collect();
        let ongoing = r.chance(50).then(|| gen_cycle(r, true));
        sla_value(name, completed, ongoing)
    }

    fn gen_custom(r: &mut Rng) -> Value {
        match r.below(7) {
            0 => Value::Null,
            1 => json!(r.below(100) as f64 / 4.0),
            2 => json!({"value": r.pick(&["A", "B"]), "id": "1"}),
            3 => json!(["x", {"name": "y"}, 3]),
            4 => gen_text(r),
            5 => gen_user(r),
            _ => json!({"nested": {"k": [1, "two", null]}}),
        }
    }

    /// A random but well-formed issue exercising every table and most odd shapes.
    fn gen_issue(seed: u64) -> Value {
        let r = &mut Rng(seed);
        let comments: Vec<Value> = (0..r.below(5))
            .map(|i| {
                let mut c = json!({"id": format!("{}", 100 + i), "author": gen_user(r),
                    "body": gen_text(r), "created": gen_time(r), "updated": gen_time(r)});
                if r.chance(60) {
                    c["jsdPublic"] = json!(r.chance(50));
                }
                if r.chance(30) {
                    c["visibility"] = json!({"type": "role", "value": "Administrators"});
                }
                c
            })
            .collect();
        let histories: Vec<Value> = (0..r.below(4))
            .map(|_| {
                let items: Vec<Value> = (0..r.below(4))
                    .map(|_| json!({"field": r.pick(&["status", "labels", "Severity"]),
                        "fieldtype": "jira", "fieldId": "status",
                        "from": if r.chance(50) { Value::Null } else { json!("1") },
                        "fromString": gen_text(r), "to": json!(2), "toString": "Done"}))
                    .collect();
                json!({"id": gen_id(r), "created": gen_time(r), "author": gen_user(r), "items": items})
            })
            .collect();
        let attachments: Vec<Value> = (0..r.below(4))
            .map(|i| {
                json!({"id": (1000 + i).to_string(), "filename": format!("f{i}.txt"),
                "size": r.below(5000), "mimeType": "text/plain", "created": gen_time(r),
                "author": gen_user(r), "content": format!("http://x/content/{}", 1000 + i)})
            })
            .collect();
        let mut saved: Vec<Value> = Vec::new();
        for a in &attachments {
            if r.chance(70) {
                saved.push(json!({"id": a["id"], "status": r.pick(&["downloaded", "skipped_too_large", "failed"]),
                    "local_path": format!("raw/attachments/P-1/{}", a["id"].as_str().unwrap()),
                    "sha256": "00"}));
            }
        }
        let links: Vec<Value> = (0..r.below(3))
            .map(|i| {
                let dir = if r.chance(50) {
                    "outwardIssue"
                } else {
                    "inwardIssue"
                };
                json!({"id": gen_id(r), "type": {"name": "Blocks"},
                       dir: {"id": (20 + i).to_string(), "key": format!("P-{}", 20 + i)}})
            })
            .collect();
        let remote: Vec<Value> = (0..r.below(3))
            .map(|_| {
                json!({"id": gen_id(r), "globalId": "g", "relationship": "mentioned in",
                "object": {"url": "https://example.com", "title": gen_text(r)},
                "application": {"name": "GitHub"}})
            })
            .collect();
        let first = gen_sla(r, "Time to first response");
        let resolution = gen_sla(r, "Time to resolution");
        let jsm = r.chance(50);
        let mut fields = json!({
            "created": gen_time(r).as_str().map_or_else(|| json!("2024-01-01T00:00:00.000+0000"), |s| json!(s)),
            "updated": gen_time(r),
            "summary": gen_text(r),
            "description": gen_text(r),
            "status": {"name": "Open", "statusCategory": {"name": "To Do"}},
            "labels": if r.chance(50) { json!(["a", "b"]) } else { Value::Null },
            "components": [{"name": "API"}],
            "duedate": if r.chance(50) { json!("2024-02-29") } else { Value::Null },
            "assignee": gen_user(r),
            "comment": {"comments": comments},
            "attachment": attachments,
            "issuelinks": links,
            "customfield_10030": if jsm || r.chance(50) { first.clone() } else { Value::Null },
            "customfield_10031": resolution.clone(),
        });
        for id in [
            "customfield_10100",
            "customfield_10200",
            "customfield_10300",
            "customfield_10301",
            "customfield_10500",
            "customfield_10700",
            "customfield_424242",
        ] {
            fields[id] = gen_custom(r);
        }
        let sla = if jsm {
            json!({"source": "jsm", "values": [first, resolution, gen_sla(r, "Other")]})
        } else {
            Value::Null
        };
        json!({
            "id": gen_id(r), "key": format!("P-{}", r.below(1000) + 1),
            "fields": fields,
            "changelog": {"histories": histories},
            "mirror": {"remote_links": remote, "sla": sla, "attachments": saved},
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(300))]

        /// Appending an issue twice gives exactly the rows of one append, twice, and the row
        /// counts equal the JSON's.
        #[test]
        fn appending_twice_gives_the_same_rows_twice(seed in any::<u64>()) {
            let issue = gen_issue(seed);
            let ctx = ctx(&[("customfield_10100", "severity"), ("customfield_10500", "services"),
                            ("customfield_10200", "points")]);
            let once = rows_of(&ctx, &[&issue]);
            let twice = rows_of(&ctx, &[&issue, &issue]);
            prop_assert_eq!(counts(&once), expected_counts(&issue, &ctx.catalog));
            for t in Table::ALL {
                let (a, b) = (&once[&t], &twice[&t]);
                let n = a.num_rows();
                prop_assert_eq!(b.num_rows(), 2 * n, "{}", t.name());
                prop_assert_eq!(&b.slice(0, n), a, "{}", t.name());
                prop_assert_eq!(&b.slice(n, n), a, "{}", t.name());
            }
        }
    }
}
