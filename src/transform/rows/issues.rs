//! The `issues` table: one row per issue, from the system fields, the SLA columns, the
//! `[fields]` columns and `custom_fields`.

use arrow_array::ArrayRef;
use arrow_array::builder::{
    Date32Builder, Float64Builder, Int64Builder, ListBuilder, StringBuilder,
    TimestampMicrosecondBuilder,
};
use serde_json::Value;

use super::columns::{ColumnSet, columns, fin, list_builder, ts_builder};
use super::head::Head;
use super::plan::Plan;
use super::sla::SlaCols;
use super::timestamps::{parse_date_days, parse_ts_micros};
use super::values::{
    NULL, is_adf, put_free, put_list, put_rich, put_str, put_text, put_user, str_at, str_of, ts_of,
    write_json, write_str,
};
use crate::transform::adf;
use crate::transform::fields::ColumnKind;

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

/// The `issues` table's columns: the fixed ones, the `[fields]` columns, `custom_fields`.
pub(super) struct IssuesCols {
    head: HeadCols,
    /// First response, time to resolution.
    sla: [SlaCols; 2],
    more: MoreCols,
    mapped: Vec<MappedCol>,
    custom_fields: StringBuilder,
}

columns! {
    /// The columns of `issues` before the SLA columns: the basics of every issue.
    struct HeadCols {
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
    }
}

columns! {
    /// The system fields of `issues` after the SLA columns: what analysts query most besides
    /// the basics (project name, environment, versions, security, sprint, votes, watchers, time
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
}

impl HeadCols {
    fn put(&mut self, h: &Head<'_>) {
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
        put_user(
            &mut self.assignee,
            &mut self.assignee_account_id,
            f.get("assignee"),
        );
        put_user(
            &mut self.reporter,
            &mut self.reporter_account_id,
            f.get("reporter"),
        );
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
    }
}

impl MoreCols {
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
}

impl IssuesCols {
    pub(super) fn new(plan: &Plan) -> Self {
        IssuesCols {
            head: HeadCols::new(),
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

    /// Issues appended since the last finish.
    pub(super) fn rows(&self) -> usize {
        self.head.rows()
    }

    /// One issue's row; `slas` are its SLA values, `custom` its `custom_fields` entries
    /// (sorted here), `buf` a reused buffer for their JSON text.
    pub(super) fn put(
        &mut self,
        h: &Head<'_>,
        plan: &Plan,
        slas: &[&Value],
        custom: &mut [(&str, &Value)],
        buf: &mut Vec<u8>,
    ) {
        self.head.put(h);
        for (cols, target) in self.sla.iter_mut().zip(&plan.sla_targets) {
            cols.put(slas, target);
        }
        self.more.put(h, plan);
        for (col, (id, _)) in self.mapped.iter_mut().zip(&plan.mapped) {
            col.put(h.fields.get(&**id));
        }
        put_custom_fields(&mut self.custom_fields, custom, buf);
    }

    /// The columns in the schema's order; the builders start over.
    pub(super) fn finish(&mut self) -> Vec<ArrayRef> {
        let mut out = self.head.finish();
        for s in &mut self.sla {
            out.extend(s.finish());
        }
        out.extend(self.more.finish());
        out.extend(self.mapped.iter_mut().map(MappedCol::finish));
        out.push(fin(&mut self.custom_fields));
        out
    }
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
