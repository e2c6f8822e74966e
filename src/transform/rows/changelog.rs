//! The `changelog` table: one row per item of each changelog history.

use arrow_array::builder::{Int64Builder, StringBuilder, TimestampMicrosecondBuilder};
use serde_json::Value;

use super::columns::columns;
use super::head::Head;
use super::values::{NULL, account_id, id_of, items_at, put_str, put_text, str_of, ts_of};

columns! {
    /// The `changelog` table's columns: one row per history item.
    pub(super) struct ChangelogCols {
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
}

impl ChangelogCols {
    pub(super) fn put(&mut self, h: &Head<'_>, issue: &Value) {
        for history in items_at(issue, "changelog", "histories") {
            let Some(items) = history.get("items").and_then(Value::as_array) else {
                continue;
            };
            if items.is_empty() {
                continue;
            }
            let history_id = id_of(history.get("id"));
            let created = ts_of(history.get("created"));
            let author = history.get("author").unwrap_or(&NULL);
            let (name, account) = (str_of(author, "displayName"), account_id(author));
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
}
