//! The `comments` table: one row per saved comment.

use arrow_array::builder::{
    BooleanBuilder, Int64Builder, StringBuilder, TimestampMicrosecondBuilder,
};
use serde_json::Value;

use super::columns::columns;
use super::head::Head;
use super::values::{put_rich, put_user, put_visibility, ts_of};

columns! {
    /// The `comments` table's columns: one row per comment.
    pub(super) struct CommentsCols {
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
}

impl CommentsCols {
    pub(super) fn put(&mut self, h: &Head<'_>, ids: &[i64]) {
        for (c, id) in h.comments.iter().zip(ids) {
            self.issue_key.append_value(h.key);
            self.issue_id.append_value(h.id);
            self.comment_id.append_value(*id);
            put_user(
                &mut self.author,
                &mut self.author_account_id,
                c.get("author"),
            );
            put_rich(&mut self.body, c.get("body"));
            self.created_at.append_option(ts_of(c.get("created")));
            self.updated_at.append_option(ts_of(c.get("updated")));
            self.is_public
                .append_option(c.get("jsdPublic").and_then(Value::as_bool));
            put_visibility(&mut self.visibility, c.get("visibility"));
        }
    }
}
