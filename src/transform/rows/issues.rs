//! The `issues` table: one row per issue, from the system fields, the SLA columns, the
//! `[fields]` columns and `custom_fields`.

use arrow_array::ArrayRef;
use arrow_array::builder::{
    ArrayBuilder, Date32Builder, Float64Builder, Int64Builder, ListBuilder, StringBuilder,
    TimestampMicrosecondBuilder,
};
use serde_json::Value;

use super::Head;
use super::plan::Plan;
use super::sla::{SlaCols, current_cycle, fold_name};
use super::timestamps::{parse_date_days, parse_ts_micros};
use super::values::*;
use crate::transform::adf;
use crate::transform::fields::ColumnKind;

/// One `[fields]` column.
pub(super) enum MappedCol {
    /// Option, User, String, Json.
    Text(ColumnKind, StringBuilder),
    Number(Float64Builder),
    Date(Date32Builder),
    DateTime(TimestampMicrosecondBuilder),
    Array(ListBuilder<StringBuilder>),
}

impl MappedCol {
    pub(super) fn new(kind: ColumnKind) -> Self {
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

    pub(super) fn put(&mut self, v: Option<&Value>) {
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

    pub(super) fn finish(&mut self) -> ArrayRef {
        match self {
            MappedCol::Text(_, b) => fin(b),
            MappedCol::Number(b) => fin(b),
            MappedCol::Date(b) => fin(b),
            MappedCol::DateTime(b) => fin(b),
            MappedCol::Array(b) => fin(b),
        }
    }
}

pub(super) struct IssuesCols {
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
    pub(super) custom_fields: StringBuilder,
}

/// The system fields of `issues` after the SLA columns: what analysts query most besides the
/// basics (project name, environment, versions, security, sprint, votes, watchers, time
/// tracking, when the status last changed, when the last comment came).
pub(super) struct MoreCols {
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
    pub(super) fn new() -> Self {
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

    pub(super) fn put(&mut self, h: &Head<'_>, plan: &Plan) {
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
    pub(super) fn new(plan: &Plan) -> Self {
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

    pub(super) fn len(&self) -> usize {
        self.issue_id.len()
    }

    pub(super) fn put(&mut self, h: &Head<'_>, plan: &Plan, slas: &[&Value]) {
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

    pub(super) fn finish(&mut self) -> Vec<ArrayRef> {
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

/// `custom_fields`: a JSON object with sorted keys, or null when empty.
pub(super) fn put_custom_fields(
    b: &mut StringBuilder,
    entries: &mut [(&str, &Value)],
    buf: &mut Vec<u8>,
) {
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
