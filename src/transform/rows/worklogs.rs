//! The `worklogs` table: one row per worklog (all of them: the pipeline pages past the 20
//! Jira embeds).

use arrow_array::ArrayRef;
use arrow_array::builder::{Int64Builder, StringBuilder, TimestampMicrosecondBuilder};
use serde_json::Value;

use super::Head;
use super::values::*;

pub(super) struct WorklogsCols {
    pub(super) issue_key: StringBuilder,
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
    pub(super) fn new() -> Self {
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
    pub(super) fn put(&mut self, h: &Head<'_>) {
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

    pub(super) fn finish(&mut self) -> Vec<ArrayRef> {
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
