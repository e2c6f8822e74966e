//! The Arrow schemas of the eight Parquet tables.
//!
//! # Why explicit schemas
//! Analysts' queries, the DuckDB views in `parquet/views.sql` and outside test suites depend
//! on exact column names and types (docs/tables.md). Inferring a schema from the data
//! would make a column's type depend on which issues a month happens to hold (a column that is
//! null in every row of a month would come out as `NULL`-typed, an all-integer custom field as
//! `BIGINT` one month and `DOUBLE` the next), and month files of one table would stop being
//! readable together with `read_parquet('issues/*.parquet')`. So every table has one fixed
//! schema, decided here and nowhere else; the row builders in `rows/` append values in
//! exactly this column order, and a test checks the two agree.
//!
//! # Conventions
//! - timestamps are `Timestamp(Microsecond, "UTC")` (DuckDB: `TIMESTAMP WITH TIME ZONE`);
//! - Jira's numeric-string ids are `Int64`;
//! - lists are `List<Utf8>` with a non-nullable item field named `item`;
//! - every column is nullable except the identity columns (`issue_id`, `issue_key`, the
//!   issues table's `created_at`, and `comment_id`), which every saved issue has.
//!
//! The `issues` table is the only one whose shape depends on the configuration: one typed
//! column per `[fields]` mapping (in the mapping's id order) sits between the SLA columns and
//! `custom_fields`, typed by the field's [`ColumnKind`] from the field catalogue.

use std::sync::Arc;

use arrow_schema::{DataType, Field, Schema, SchemaRef, TimeUnit};

use super::fields::ColumnKind;
use super::fields::RowContext;

/// One of the eight monthly Parquet tables.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Table {
    /// One row per issue.
    Issues,
    /// One row per saved comment.
    Comments,
    /// One row per changelog history item.
    Changelog,
    /// One row per attachment (metadata, plus the local copy if downloaded).
    Attachments,
    /// One row per issue link, seen from the issue that holds it.
    IssueLinks,
    /// One row per remote link (`mirror.remote_links`).
    RemoteLinks,
    /// One row per SLA cycle (each completed cycle, then the ongoing one).
    Sla,
    /// One row per worklog (all of them, paged past the 20 Jira embeds).
    Worklogs,
}

impl Table {
    /// Every table, in the order `rows::RowsBuilder::finish` returns them.
    pub const ALL: [Table; 8] = [
        Table::Issues,
        Table::Comments,
        Table::Changelog,
        Table::Attachments,
        Table::IssueLinks,
        Table::RemoteLinks,
        Table::Sla,
        Table::Worklogs,
    ];

    /// The table's name: its folder under `parquet/` and its view `jira_<name>`.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Table::Issues => "issues",
            Table::Comments => "comments",
            Table::Changelog => "changelog",
            Table::Attachments => "attachments",
            Table::IssueLinks => "issuelinks",
            Table::RemoteLinks => "remote_links",
            Table::Sla => "sla",
            Table::Worklogs => "worklogs",
        }
    }

    /// Position in [`Table::ALL`].
    pub(crate) fn index(self) -> usize {
        self as usize
    }
}

/// The reference tables (`transform::reference`): one file each,
/// `parquet/<name>/<name>.parquet`, refreshed daily.
pub(crate) const REFERENCE_TABLES: [&str; 5] =
    ["projects", "users", "statuses", "priorities", "fields"];

/// Name of the item field of every `List<Utf8>` column.
pub(crate) const LIST_ITEM: &str = "item";

/// The time zone of every timestamp column.
pub(crate) const UTC: &str = "UTC";

/// `Timestamp(Microsecond, "UTC")`, the type of every timestamp column.
pub(crate) fn timestamp_type() -> DataType {
    DataType::Timestamp(TimeUnit::Microsecond, Some(Arc::from(UTC)))
}

/// The item field of every list column: `item`, `Utf8`, not nullable.
pub(crate) fn list_item_field() -> Field {
    Field::new(LIST_ITEM, DataType::Utf8, false)
}

/// `List<Utf8>` with [`list_item_field`], the type of every list column.
pub(crate) fn list_type() -> DataType {
    DataType::List(Arc::new(list_item_field()))
}

/// The Arrow type of a `[fields]` column of the given kind.
pub(crate) fn kind_data_type(kind: ColumnKind) -> DataType {
    match kind {
        ColumnKind::Option | ColumnKind::User | ColumnKind::String | ColumnKind::Json => {
            DataType::Utf8
        }
        ColumnKind::Number => DataType::Float64,
        ColumnKind::Date => DataType::Date32,
        ColumnKind::DateTime => timestamp_type(),
        ColumnKind::Array => list_type(),
    }
}

/// Column type shorthand for the fixed column lists below.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Ty {
    Int64,
    Utf8,
    Ts,
    Date,
    Bool,
    List,
}

impl Ty {
    fn data_type(self) -> DataType {
        match self {
            Ty::Int64 => DataType::Int64,
            Ty::Utf8 => DataType::Utf8,
            Ty::Ts => timestamp_type(),
            Ty::Date => DataType::Date32,
            Ty::Bool => DataType::Boolean,
            Ty::List => list_type(),
        }
    }
}

/// `(name, type, nullable)` of a fixed column.
type Col = (&'static str, Ty, bool);

/// The fixed head of `issues`; the `[fields]` columns and `custom_fields` follow.
const ISSUES_HEAD: &[Col] = &[
    ("issue_id", Ty::Int64, false),
    ("issue_key", Ty::Utf8, false),
    ("project_key", Ty::Utf8, true),
    ("summary", Ty::Utf8, true),
    ("description", Ty::Utf8, true),
    ("issue_type", Ty::Utf8, true),
    ("status", Ty::Utf8, true),
    ("status_category", Ty::Utf8, true),
    ("priority", Ty::Utf8, true),
    ("resolution", Ty::Utf8, true),
    ("assignee", Ty::Utf8, true),
    ("assignee_account_id", Ty::Utf8, true),
    ("reporter", Ty::Utf8, true),
    ("reporter_account_id", Ty::Utf8, true),
    ("creator", Ty::Utf8, true),
    ("labels", Ty::List, true),
    ("components", Ty::List, true),
    ("fix_versions", Ty::List, true),
    ("parent_key", Ty::Utf8, true),
    ("created_at", Ty::Ts, false),
    ("updated_at", Ty::Ts, true),
    ("resolved_at", Ty::Ts, true),
    ("due_date", Ty::Date, true),
    ("comment_count", Ty::Int64, true),
    ("attachment_count", Ty::Int64, true),
    ("first_response_elapsed_millis", Ty::Int64, true),
    ("first_response_goal_millis", Ty::Int64, true),
    ("first_response_remaining_millis", Ty::Int64, true),
    ("first_response_breached", Ty::Bool, true),
    ("time_to_resolution_elapsed_millis", Ty::Int64, true),
    ("time_to_resolution_goal_millis", Ty::Int64, true),
    ("time_to_resolution_remaining_millis", Ty::Int64, true),
    ("time_to_resolution_breached", Ty::Bool, true),
    ("project_name", Ty::Utf8, true),
    ("environment", Ty::Utf8, true),
    ("affects_versions", Ty::List, true),
    ("security_level", Ty::Utf8, true),
    ("sprint", Ty::List, true),
    ("votes", Ty::Int64, true),
    ("watchers", Ty::Int64, true),
    ("time_original_estimate_seconds", Ty::Int64, true),
    ("time_remaining_estimate_seconds", Ty::Int64, true),
    ("time_spent_seconds", Ty::Int64, true),
    ("status_changed_at", Ty::Ts, true),
    ("last_comment_at", Ty::Ts, true),
];

/// The last column of `issues`.
pub(crate) const CUSTOM_FIELDS: &str = "custom_fields";

const COMMENTS: &[Col] = &[
    ("issue_key", Ty::Utf8, false),
    ("issue_id", Ty::Int64, false),
    ("comment_id", Ty::Int64, false),
    ("author", Ty::Utf8, true),
    ("author_account_id", Ty::Utf8, true),
    ("body", Ty::Utf8, true),
    ("created_at", Ty::Ts, true),
    ("updated_at", Ty::Ts, true),
    ("is_public", Ty::Bool, true),
    ("visibility", Ty::Utf8, true),
];

const CHANGELOG: &[Col] = &[
    ("issue_key", Ty::Utf8, false),
    ("issue_id", Ty::Int64, false),
    ("history_id", Ty::Int64, true),
    ("created_at", Ty::Ts, true),
    ("author", Ty::Utf8, true),
    ("author_account_id", Ty::Utf8, true),
    ("field", Ty::Utf8, true),
    ("field_id", Ty::Utf8, true),
    ("field_type", Ty::Utf8, true),
    ("from_value", Ty::Utf8, true),
    ("from_string", Ty::Utf8, true),
    ("to_value", Ty::Utf8, true),
    ("to_string", Ty::Utf8, true),
];

const ATTACHMENTS: &[Col] = &[
    ("issue_key", Ty::Utf8, false),
    ("attachment_id", Ty::Int64, true),
    ("filename", Ty::Utf8, true),
    ("mime_type", Ty::Utf8, true),
    ("size_bytes", Ty::Int64, true),
    ("created_at", Ty::Ts, true),
    ("author", Ty::Utf8, true),
    ("content_url", Ty::Utf8, true),
    ("local_path", Ty::Utf8, true),
    ("sha256", Ty::Utf8, true),
    ("status", Ty::Utf8, true),
    ("error", Ty::Utf8, true),
];

const ISSUELINKS: &[Col] = &[
    ("issue_key", Ty::Utf8, false),
    ("link_id", Ty::Int64, true),
    ("link_type", Ty::Utf8, true),
    ("direction", Ty::Utf8, true),
    ("linked_issue_key", Ty::Utf8, true),
    ("linked_issue_id", Ty::Int64, true),
];

const REMOTE_LINKS: &[Col] = &[
    ("issue_key", Ty::Utf8, false),
    ("remote_link_id", Ty::Int64, true),
    ("global_id", Ty::Utf8, true),
    ("url", Ty::Utf8, true),
    ("title", Ty::Utf8, true),
    ("relationship", Ty::Utf8, true),
    ("application_name", Ty::Utf8, true),
];

const SLA: &[Col] = &[
    ("issue_key", Ty::Utf8, false),
    ("sla_name", Ty::Utf8, true),
    ("cycle", Ty::Utf8, true),
    ("start_at", Ty::Ts, true),
    ("stop_at", Ty::Ts, true),
    ("breach_at", Ty::Ts, true),
    ("breached", Ty::Bool, true),
    ("paused", Ty::Bool, true),
    ("goal_millis", Ty::Int64, true),
    ("elapsed_millis", Ty::Int64, true),
    ("remaining_millis", Ty::Int64, true),
];

const WORKLOGS: &[Col] = &[
    ("issue_key", Ty::Utf8, false),
    ("issue_id", Ty::Int64, false),
    ("worklog_id", Ty::Int64, true),
    ("author", Ty::Utf8, true),
    ("author_account_id", Ty::Utf8, true),
    ("update_author", Ty::Utf8, true),
    ("update_author_account_id", Ty::Utf8, true),
    ("comment", Ty::Utf8, true),
    ("started_at", Ty::Ts, true),
    ("created_at", Ty::Ts, true),
    ("updated_at", Ty::Ts, true),
    ("time_spent_seconds", Ty::Int64, true),
    ("time_spent", Ty::Utf8, true),
    ("visibility", Ty::Utf8, true),
];

fn fields_of(cols: &[Col]) -> Vec<Field> {
    cols.iter()
        .map(|(name, ty, nullable)| Field::new(*name, ty.data_type(), *nullable))
        .collect()
}

fn schema_of(cols: &[Col]) -> SchemaRef {
    Arc::new(Schema::new(fields_of(cols)))
}

/// The schema of every table for one configuration (`[fields]` and the field catalogue).
#[derive(Clone, Debug)]
pub struct Schemas {
    /// Indexed by [`Table::index`].
    schemas: [SchemaRef; 8],
}

impl Schemas {
    /// The schemas for `ctx`: the fixed tables, and `issues` with one column per `[fields]`
    /// mapping (in `ctx.fields` order, typed by `ctx.catalog`'s [`ColumnKind`]) just before
    /// `custom_fields`.
    pub fn new(ctx: &RowContext) -> Schemas {
        let mut issues = fields_of(ISSUES_HEAD);
        for (id, column) in &ctx.fields {
            let kind = ctx.catalog.column_kind(id);
            issues.push(Field::new(column.as_str(), kind_data_type(kind), true));
        }
        issues.push(Field::new(CUSTOM_FIELDS, DataType::Utf8, true));
        Schemas {
            schemas: [
                Arc::new(Schema::new(issues)),
                schema_of(COMMENTS),
                schema_of(CHANGELOG),
                schema_of(ATTACHMENTS),
                schema_of(ISSUELINKS),
                schema_of(REMOTE_LINKS),
                schema_of(SLA),
                schema_of(WORKLOGS),
            ],
        }
    }

    /// The schema of table `t`.
    pub(crate) fn get(&self, t: Table) -> &SchemaRef {
        &self.schemas[t.index()]
    }
}

/// Names of the fixed leading columns of `issues` (before the `[fields]` columns).
pub(crate) fn issues_head_names() -> impl Iterator<Item = &'static str> {
    ISSUES_HEAD.iter().map(|(name, _, _)| *name)
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::config::SlaNames;
    use crate::transform::fields::FieldCatalog;

    fn ctx(fields: &[(&str, &str)]) -> RowContext {
        let catalog = std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/data/rows/fields.json"
        ))
        .unwrap();
        RowContext {
            catalog: FieldCatalog::from_json(&serde_json::from_str(&catalog).unwrap()),
            fields: fields
                .iter()
                .map(|(id, c)| (id.to_string(), c.to_string()))
                .collect::<BTreeMap<_, _>>(),
            sla: SlaNames::default(),
        }
    }

    fn columns(s: &Schemas, t: Table) -> Vec<(String, DataType, bool)> {
        s.get(t)
            .fields()
            .iter()
            .map(|f| (f.name().clone(), f.data_type().clone(), f.is_nullable()))
            .collect()
    }

    fn names(s: &Schemas, t: Table) -> Vec<String> {
        columns(s, t).into_iter().map(|c| c.0).collect()
    }

    #[test]
    fn table_names() {
        let names: Vec<_> = Table::ALL.iter().map(|t| t.name()).collect();
        assert_eq!(
            names,
            [
                "issues",
                "comments",
                "changelog",
                "attachments",
                "issuelinks",
                "remote_links",
                "sla",
                "worklogs"
            ]
        );
        for (i, t) in Table::ALL.iter().enumerate() {
            assert_eq!(t.index(), i);
        }
    }

    #[test]
    fn issues_columns_match_the_config_list_and_the_fields_mappings() {
        let s = Schemas::new(&ctx(&[
            ("customfield_10500", "services"),
            ("customfield_10100", "severity"),
            ("customfield_10200", "story_points"),
            ("customfield_10400", "go_live"),
            ("customfield_10401", "escalated_at"),
            ("customfield_10700", "notes"),
            ("customfield_99999", "mystery"),
        ]));
        let cols = columns(&s, Table::Issues);
        // The fixed columns are exactly the config's reserved list, in the same order.
        let fixed: Vec<&str> = cols
            .iter()
            .map(|c| c.0.as_str())
            .filter(|n| crate::config::ISSUE_COLUMNS.contains(n))
            .collect();
        assert_eq!(fixed, crate::config::ISSUE_COLUMNS);
        let mapped: Vec<(&str, &DataType)> = cols[cols.len() - 8..cols.len() - 1]
            .iter()
            .map(|c| (c.0.as_str(), &c.1))
            .collect();
        // BTreeMap order of the field ids, typed by the catalogue.
        assert_eq!(
            mapped,
            [
                ("severity", &DataType::Utf8),
                ("story_points", &DataType::Float64),
                ("go_live", &DataType::Date32),
                ("escalated_at", &timestamp_type()),
                ("services", &list_type()),
                ("notes", &DataType::Utf8),
                ("mystery", &DataType::Utf8),
            ]
        );
        assert_eq!(cols.last().unwrap().0, "custom_fields");
        let ts = timestamp_type();
        let list = list_type();
        let want: Vec<(&str, &DataType)> = vec![
            ("issue_id", &DataType::Int64),
            ("issue_key", &DataType::Utf8),
            ("project_key", &DataType::Utf8),
            ("summary", &DataType::Utf8),
            ("description", &DataType::Utf8),
            ("issue_type", &DataType::Utf8),
            ("status", &DataType::Utf8),
            ("status_category", &DataType::Utf8),
            ("priority", &DataType::Utf8),
            ("resolution", &DataType::Utf8),
            ("assignee", &DataType::Utf8),
            ("assignee_account_id", &DataType::Utf8),
            ("reporter", &DataType::Utf8),
            ("reporter_account_id", &DataType::Utf8),
            ("creator", &DataType::Utf8),
            ("labels", &list),
            ("components", &list),
            ("fix_versions", &list),
            ("parent_key", &DataType::Utf8),
            ("created_at", &ts),
            ("updated_at", &ts),
            ("resolved_at", &ts),
            ("due_date", &DataType::Date32),
            ("comment_count", &DataType::Int64),
            ("attachment_count", &DataType::Int64),
            ("first_response_elapsed_millis", &DataType::Int64),
            ("first_response_goal_millis", &DataType::Int64),
            ("first_response_remaining_millis", &DataType::Int64),
            ("first_response_breached", &DataType::Boolean),
            ("time_to_resolution_elapsed_millis", &DataType::Int64),
            ("time_to_resolution_goal_millis", &DataType::Int64),
            ("time_to_resolution_remaining_millis", &DataType::Int64),
            ("time_to_resolution_breached", &DataType::Boolean),
            ("project_name", &DataType::Utf8),
            ("environment", &DataType::Utf8),
            ("affects_versions", &list),
            ("security_level", &DataType::Utf8),
            ("sprint", &list),
            ("votes", &DataType::Int64),
            ("watchers", &DataType::Int64),
            ("time_original_estimate_seconds", &DataType::Int64),
            ("time_remaining_estimate_seconds", &DataType::Int64),
            ("time_spent_seconds", &DataType::Int64),
            ("status_changed_at", &ts),
            ("last_comment_at", &ts),
        ];
        let got: Vec<(&str, &DataType)> = cols[..want.len()]
            .iter()
            .map(|c| (c.0.as_str(), &c.1))
            .collect();
        assert_eq!(got, want);
        let not_null: Vec<&str> = cols.iter().filter(|c| !c.2).map(|c| c.0.as_str()).collect();
        assert_eq!(not_null, ["issue_id", "issue_key", "created_at"]);
        // Without mappings, custom_fields follows the fixed columns directly.
        let plain = Schemas::new(&ctx(&[]));
        assert_eq!(plain.get(Table::Issues).fields().len(), 46);
    }

    #[test]
    fn timestamps_lists_and_other_tables() {
        assert_eq!(
            timestamp_type(),
            DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into()))
        );
        let DataType::List(item) = list_type() else {
            panic!("a list")
        };
        assert_eq!(
            (item.name().as_str(), item.data_type(), item.is_nullable()),
            ("item", &DataType::Utf8, false)
        );
        let s = Schemas::new(&ctx(&[]));
        let ty = |t: Table| -> Vec<String> {
            columns(&s, t)
                .into_iter()
                .map(|(n, d, null)| format!("{n}:{d}{}", if null { "" } else { "!" }))
                .collect()
        };
        assert_eq!(
            names(&s, Table::Comments),
            [
                "issue_key",
                "issue_id",
                "comment_id",
                "author",
                "author_account_id",
                "body",
                "created_at",
                "updated_at",
                "is_public",
                "visibility"
            ]
        );
        assert_eq!(
            names(&s, Table::Changelog),
            [
                "issue_key",
                "issue_id",
                "history_id",
                "created_at",
                "author",
                "author_account_id",
                "field",
                "field_id",
                "field_type",
                "from_value",
                "from_string",
                "to_value",
                "to_string"
            ]
        );
        assert_eq!(
            names(&s, Table::Attachments),
            [
                "issue_key",
                "attachment_id",
                "filename",
                "mime_type",
                "size_bytes",
                "created_at",
                "author",
                "content_url",
                "local_path",
                "sha256",
                "status",
                "error"
            ]
        );
        assert_eq!(
            names(&s, Table::IssueLinks),
            [
                "issue_key",
                "link_id",
                "link_type",
                "direction",
                "linked_issue_key",
                "linked_issue_id"
            ]
        );
        assert_eq!(
            names(&s, Table::RemoteLinks),
            [
                "issue_key",
                "remote_link_id",
                "global_id",
                "url",
                "title",
                "relationship",
                "application_name"
            ]
        );
        assert_eq!(
            names(&s, Table::Sla),
            [
                "issue_key",
                "sla_name",
                "cycle",
                "start_at",
                "stop_at",
                "breach_at",
                "breached",
                "paused",
                "goal_millis",
                "elapsed_millis",
                "remaining_millis"
            ]
        );
        // Types, compactly (`!` = not nullable).
        let expect_types = |t: Table, want: &[(&str, DataType)]| {
            let got: Vec<(String, DataType)> =
                columns(&s, t).into_iter().map(|c| (c.0, c.1)).collect();
            let want: Vec<(String, DataType)> = want
                .iter()
                .map(|(n, d)| (n.to_string(), d.clone()))
                .collect();
            assert_eq!(got, want, "{}", t.name());
        };
        let (i64_, s_, b_, t_) = (
            DataType::Int64,
            DataType::Utf8,
            DataType::Boolean,
            timestamp_type(),
        );
        expect_types(
            Table::Comments,
            &[
                ("issue_key", s_.clone()),
                ("issue_id", i64_.clone()),
                ("comment_id", i64_.clone()),
                ("author", s_.clone()),
                ("author_account_id", s_.clone()),
                ("body", s_.clone()),
                ("created_at", t_.clone()),
                ("updated_at", t_.clone()),
                ("is_public", b_.clone()),
                ("visibility", s_.clone()),
            ],
        );
        expect_types(
            Table::Changelog,
            &[
                ("issue_key", s_.clone()),
                ("issue_id", i64_.clone()),
                ("history_id", i64_.clone()),
                ("created_at", t_.clone()),
                ("author", s_.clone()),
                ("author_account_id", s_.clone()),
                ("field", s_.clone()),
                ("field_id", s_.clone()),
                ("field_type", s_.clone()),
                ("from_value", s_.clone()),
                ("from_string", s_.clone()),
                ("to_value", s_.clone()),
                ("to_string", s_.clone()),
            ],
        );
        expect_types(
            Table::Attachments,
            &[
                ("issue_key", s_.clone()),
                ("attachment_id", i64_.clone()),
                ("filename", s_.clone()),
                ("mime_type", s_.clone()),
                ("size_bytes", i64_.clone()),
                ("created_at", t_.clone()),
                ("author", s_.clone()),
                ("content_url", s_.clone()),
                ("local_path", s_.clone()),
                ("sha256", s_.clone()),
                ("status", s_.clone()),
                ("error", s_.clone()),
            ],
        );
        expect_types(
            Table::IssueLinks,
            &[
                ("issue_key", s_.clone()),
                ("link_id", i64_.clone()),
                ("link_type", s_.clone()),
                ("direction", s_.clone()),
                ("linked_issue_key", s_.clone()),
                ("linked_issue_id", i64_.clone()),
            ],
        );
        expect_types(
            Table::RemoteLinks,
            &[
                ("issue_key", s_.clone()),
                ("remote_link_id", i64_.clone()),
                ("global_id", s_.clone()),
                ("url", s_.clone()),
                ("title", s_.clone()),
                ("relationship", s_.clone()),
                ("application_name", s_.clone()),
            ],
        );
        expect_types(
            Table::Sla,
            &[
                ("issue_key", s_.clone()),
                ("sla_name", s_.clone()),
                ("cycle", s_.clone()),
                ("start_at", t_.clone()),
                ("stop_at", t_.clone()),
                ("breach_at", t_.clone()),
                ("breached", b_.clone()),
                ("paused", b_.clone()),
                ("goal_millis", i64_.clone()),
                ("elapsed_millis", i64_.clone()),
                ("remaining_millis", i64_.clone()),
            ],
        );
        expect_types(
            Table::Worklogs,
            &[
                ("issue_key", s_.clone()),
                ("issue_id", i64_.clone()),
                ("worklog_id", i64_.clone()),
                ("author", s_.clone()),
                ("author_account_id", s_.clone()),
                ("update_author", s_.clone()),
                ("update_author_account_id", s_.clone()),
                ("comment", s_.clone()),
                ("started_at", t_.clone()),
                ("created_at", t_.clone()),
                ("updated_at", t_.clone()),
                ("time_spent_seconds", i64_.clone()),
                ("time_spent", s_.clone()),
                ("visibility", s_.clone()),
            ],
        );
        // Only the identity columns are NOT NULL.
        for t in Table::ALL {
            let not_null: Vec<String> = ty(t).into_iter().filter(|c| c.ends_with('!')).collect();
            let want: &[&str] = match t {
                Table::Issues => &[
                    "issue_id:Int64!",
                    "issue_key:Utf8!",
                    "created_at:Timestamp(µs, \"UTC\")!",
                ],
                Table::Comments => &["issue_key:Utf8!", "issue_id:Int64!", "comment_id:Int64!"],
                Table::Changelog | Table::Worklogs => &["issue_key:Utf8!", "issue_id:Int64!"],
                _ => &["issue_key:Utf8!"],
            };
            assert_eq!(not_null, want, "{}", t.name());
        }
    }
}
