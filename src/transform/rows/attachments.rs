//! The `attachments` table: Jira's attachment metadata joined with the mirror's download
//! record (`mirror.attachments`) of the same id.

use arrow_array::builder::{Int64Builder, StringBuilder, TimestampMicrosecondBuilder};
use serde_json::Value;

use super::columns::columns;
use super::head::Head;
use super::values::{NULL, id_of, put_str, put_text, str_at, str_of, ts_of};

columns! {
    /// The `attachments` table's columns: one row per attachment.
    pub(super) struct AttachmentsCols {
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
    pub(super) fn put(&mut self, h: &Head<'_>, mirror: &Value) {
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
}
