//! The `worklogs` table: one row per worklog (all of them: the pipeline pages past the 20
//! Jira embeds).

use arrow_array::builder::{Int64Builder, StringBuilder, TimestampMicrosecondBuilder};
use serde_json::Value;

use super::columns::columns;
use super::head::Head;
use super::values::{id_of, items_at, put_rich, put_str, put_user, put_visibility, str_of, ts_of};

columns! {
    /// The `worklogs` table's columns: one row per worklog.
    pub(super) struct WorklogsCols {
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
}

impl WorklogsCols {
    /// Every worklog in `fields.worklog.worklogs` (the pipeline pages past Jira's 20).
    pub(super) fn put(&mut self, h: &Head<'_>) {
        for w in items_at(h.fields, "worklog", "worklogs") {
            self.issue_key.append_value(h.key);
            self.issue_id.append_value(h.id);
            self.worklog_id.append_option(id_of(w.get("id")));
            put_user(
                &mut self.author,
                &mut self.author_account_id,
                w.get("author"),
            );
            put_user(
                &mut self.update_author,
                &mut self.update_author_account_id,
                w.get("updateAuthor"),
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
}
