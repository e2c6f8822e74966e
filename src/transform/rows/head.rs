//! What can make an issue unusable, checked before the first value is appended: the key, the
//! numeric id, `fields.created` and the comments' ids. What passes is the [`Head`] every
//! table's row builder reads; what fails is a [`RowError`] and leaves the builders untouched.

use chrono::Datelike as _;
use serde_json::Value;

use super::timestamps::parse_ts_micros;
use super::values::{NULL, id_of, items_at};
use crate::json;

/// Why an issue produced no rows. The builders are untouched when [`RowsBuilder::append`]
/// returns one of these.
#[derive(Debug, thiserror::Error)]
pub enum RowError {
    /// The issue JSON is not an object.
    #[error("issue JSON is not an object")]
    NotAnObject,
    /// No non-empty string `key`.
    #[error("issue (id {id}) has no key")]
    MissingKey {
        /// The issue's `id` as found, or `?`.
        id: String,
    },
    /// No numeric `id` (a number, or a string of digits).
    #[error("issue {key} has no numeric id")]
    MissingId {
        /// The issue key.
        key: String,
    },
    /// No `fields.created` string.
    #[error("issue {key} has no fields.created")]
    MissingCreated {
        /// The issue key, or `?`.
        key: String,
    },
    /// `fields.created` is not a Jira timestamp.
    #[error("issue {key}: fields.created {value:?} is not a Jira timestamp")]
    BadCreated {
        /// The issue key, or `?`.
        key: String,
        /// The text found.
        value: String,
    },
    /// A comment without a numeric `id` (the `comments` table's key).
    #[error("issue {key}: comment #{index} has no numeric id")]
    CommentId {
        /// The issue key.
        key: String,
        /// Position of the comment in `fields.comment.comments`.
        index: usize,
    },
}

/// `(year, month)` of the issue's `fields.created` in UTC: the month file its rows go to.
pub fn created_month(issue: &Value) -> Result<(i32, u32), RowError> {
    let micros = created_micros(issue, || key_for_error(issue))?;
    let t =
        chrono::DateTime::from_timestamp_micros(micros).ok_or_else(|| RowError::BadCreated {
            key: key_for_error(issue),
            value: micros.to_string(),
        })?;
    Ok((t.year(), t.month()))
}

/// The issue key for an error message, or `?`.
fn key_for_error(issue: &Value) -> String {
    issue
        .get("key")
        .and_then(Value::as_str)
        .unwrap_or("?")
        .to_owned()
}

/// `fields.created` as epoch microseconds.
fn created_micros(issue: &Value, key: impl Fn() -> String) -> Result<i64, RowError> {
    let created = issue
        .get("fields")
        .and_then(|f| f.get("created"))
        .and_then(Value::as_str)
        .ok_or_else(|| RowError::MissingCreated { key: key() })?;
    parse_ts_micros(created).ok_or_else(|| RowError::BadCreated {
        key: key(),
        value: created.chars().take(64).collect(),
    })
}

/// What every row builder needs of an issue, validated before anything is appended.
pub(super) struct Head<'a> {
    pub(super) key: &'a str,
    pub(super) id: i64,
    pub(super) created: i64,
    pub(super) fields: &'a Value,
    pub(super) comments: &'a [Value],
}

/// Checks everything that can reject an issue; fills `comment_ids`.
pub(super) fn read_head<'a>(
    issue: &'a Value,
    comment_ids: &mut Vec<i64>,
) -> Result<Head<'a>, RowError> {
    if !issue.is_object() {
        return Err(RowError::NotAnObject);
    }
    let key = issue
        .get("key")
        .and_then(Value::as_str)
        .filter(|k| !k.is_empty())
        .ok_or_else(|| RowError::MissingKey {
            id: issue
                .get("id")
                .map_or_else(|| "?".into(), |v| json::to_string(v).unwrap_or_default()),
        })?;
    let id = id_of(issue.get("id")).ok_or_else(|| RowError::MissingId { key: key.into() })?;
    let created = created_micros(issue, || key.to_owned())?;
    let fields = issue.get("fields").unwrap_or(&NULL);
    let comments = items_at(fields, "comment", "comments");
    comment_ids.clear();
    for (index, c) in comments.iter().enumerate() {
        let id = id_of(c.get("id")).ok_or_else(|| RowError::CommentId {
            key: key.into(),
            index,
        })?;
        comment_ids.push(id);
    }
    Ok(Head {
        key,
        id,
        created,
        fields,
        comments,
    })
}
