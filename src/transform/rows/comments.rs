//! The `comments` table: one row per saved comment.

use arrow_array::ArrayRef;
use arrow_array::builder::{
    BooleanBuilder, Int64Builder, StringBuilder, TimestampMicrosecondBuilder,
};
use serde_json::Value;

use super::Head;
use super::values::*;

pub(super) struct CommentsCols {
    pub(super) issue_key: StringBuilder,
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
    pub(super) fn new() -> Self {
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

    pub(super) fn put(&mut self, h: &Head<'_>, ids: &[i64]) {
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

    pub(super) fn finish(&mut self) -> Vec<ArrayRef> {
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
