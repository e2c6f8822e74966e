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
//!   present, else the issue's SLA custom fields (catalogue
//!   [`super::fields::FieldCatalog::is_sla`], or for a field unknown to the catalogue, an
//!   SLA-shaped value). The issues columns use the SLA named by `[sla]` (compared trimmed and
//!   case-insensitively), its ongoing cycle if any, else its latest completed one. SLA times
//!   come from `epochMillis`, never from `friendly` text.
//!
//! Rows of one issue come out in a deterministic order: comments as saved, changelog by
//! history then item, attachments and links in JSON order, SLA rows by SLA then cycle
//! (completed cycles in order, then the ongoing one).
//!
//! # Layout
//! This file holds [`RowsBuilder`]; `head` the checks that can reject an issue. Each table's
//! builder set has its own file (`issues`, `comments`, `changelog`, `attachments`, `links` for
//! `issuelinks` and `remote_links`, `sla` for the SLA columns and table, `worklogs`), declared
//! with `columns` and sharing `values` (reading and appending values), `timestamps` and the
//! per-builder `plan`. The table files import their siblings, never this file, so no two
//! modules of `rows` import each other.

use std::sync::Arc;

use arrow_array::RecordBatch;
use serde_json::Value;

use super::fields::RowContext;
use super::schema::{self, Schemas, Table};

mod attachments;
mod changelog;
mod columns;
mod comments;
mod head;
mod issues;
mod links;
mod plan;
mod sla;
mod timestamps;
mod values;

pub(crate) use values::account_id;
mod worklogs;

use attachments::AttachmentsCols;
use changelog::ChangelogCols;
use columns::ColumnSet as _;
use comments::CommentsCols;
use head::read_head;
pub use head::{RowError, created_month};
use issues::IssuesCols;
use links::{LinksCols, RemoteCols};
use plan::Plan;
use sla::SlaRowsCols;
pub(crate) use sla::looks_like_sla;
use values::NULL;
use worklogs::WorklogsCols;

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

        let mut custom: Vec<(&str, &Value)> = Vec::new();
        let mut slas: Vec<&Value> = match jsm {
            Some(values) => values.iter().collect(),
            None => Vec::new(),
        };
        self.plan.sort_fields(
            fields,
            &self.ctx.catalog,
            jsm.is_some(),
            &mut custom,
            &mut slas,
        );

        self.issues
            .put(&head, &self.plan, &slas, &mut custom, &mut self.json_buf);
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
        self.issues.rows()
    }

    /// Rows of table `t` appended since the last [`RowsBuilder::finish`].
    pub fn rows(&self, t: Table) -> usize {
        match t {
            Table::Issues => self.issues.rows(),
            Table::Comments => self.comments.rows(),
            Table::Changelog => self.changelog.rows(),
            Table::Attachments => self.attachments.rows(),
            Table::IssueLinks => self.links.rows(),
            Table::RemoteLinks => self.remote.rows(),
            Table::Sla => self.sla.rows(),
            Table::Worklogs => self.worklogs.rows(),
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

#[cfg(test)]
mod tests;
