//! Reading values out of issue JSON and appending them to Arrow builders: the small helpers
//! every table's row builder shares (ids, strings, timestamps, rich text, lists, JSON text).

use std::fmt::Write as _;

use arrow_array::builder::{ListBuilder, StringBuilder};
use serde_json::Value;

use super::timestamps::parse_ts_micros;
use crate::json;
use crate::transform::{adf, wiki};

// ---------------------------------------------------------------------------------------------
// Reading values
// ---------------------------------------------------------------------------------------------

pub(super) static NULL: Value = Value::Null;

/// A Jira id: a JSON integer or a string of digits.
#[inline]
pub(super) fn id_of(v: Option<&Value>) -> Option<i64> {
    match v? {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

#[inline]
pub(super) fn str_of<'a>(v: &'a Value, key: &str) -> Option<&'a str> {
    v.get(key)?.as_str()
}

/// `v.a.b` as an array's items; none when it is missing or not an array.
#[inline]
pub(super) fn items_at<'a>(v: &'a Value, a: &str, b: &str) -> &'a [Value] {
    v.get(a)
        .and_then(|x| x.get(b))
        .and_then(Value::as_array)
        .map_or(&[][..], Vec::as_slice)
}

/// `v.a.b` as a string.
#[inline]
pub(super) fn str_at<'a>(v: &'a Value, a: &str, b: &str) -> Option<&'a str> {
    v.get(a)?.get(b)?.as_str()
}

#[inline]
pub(super) fn ts_of(v: Option<&Value>) -> Option<i64> {
    parse_ts_micros(v?.as_str()?)
}

pub(super) fn is_adf(v: &Value) -> bool {
    v.get("type").and_then(Value::as_str) == Some("doc")
}

// ---------------------------------------------------------------------------------------------
// Appending values
// ---------------------------------------------------------------------------------------------

/// A string, or null.
#[inline]
pub(super) fn put_str(b: &mut StringBuilder, v: Option<&str>) {
    match v {
        Some(s) => b.append_value(s),
        None => b.append_null(),
    }
}

/// A value's compact JSON text (it may nest arbitrarily deep: [`json::to_writer`]).
#[inline]
pub(super) fn put_json(b: &mut StringBuilder, v: &Value) {
    let mut buf = Vec::new();
    write_json(&mut buf, v);
    // serde_json writes valid UTF-8.
    put_str(b, std::str::from_utf8(&buf).ok());
}

/// A string as is, null as null, anything else as its JSON text.
#[inline]
pub(super) fn put_text(b: &mut StringBuilder, v: Option<&Value>) {
    match v {
        None | Some(Value::Null) => b.append_null(),
        Some(Value::String(s)) => b.append_value(s),
        Some(other) => put_json(b, other),
    }
}

/// Rich text: an ADF document (REST v3) as plain text, a wiki-markup string (REST v2, Data
/// Center) as plain text too, null as null.
#[inline]
pub(super) fn put_rich(b: &mut StringBuilder, v: Option<&Value>) {
    match v {
        None | Some(Value::Null) => b.append_null(),
        Some(Value::String(s)) => b.append_value(wiki::to_text(s)),
        Some(other) => put_str(b, adf::to_text(other).as_deref()),
    }
}

/// Free text of a `[fields]` String/Json column or a `custom_fields` value: a string as is,
/// an ADF document as plain text, anything else as JSON text.
#[inline]
pub(super) fn put_free(b: &mut StringBuilder, v: &Value) {
    match v {
        Value::String(s) => b.append_value(s),
        doc if is_adf(doc) => put_str(b, adf::to_text(doc).as_deref()),
        other => put_json(b, other),
    }
}

/// One list item: a string as is; an object by `value`, `displayName` or `name`; anything
/// else as its JSON text. Nulls are skipped (list items are never null).
#[inline]
pub(super) fn put_item(b: &mut StringBuilder, item: &Value) {
    match item {
        Value::Null => {}
        Value::String(s) => b.append_value(s),
        Value::Object(o) => match ["value", "displayName", "name"]
            .iter()
            .find_map(|k| o.get(*k).and_then(Value::as_str))
        {
            Some(s) => b.append_value(s),
            None => put_json(b, item),
        },
        other => put_json(b, other),
    }
}

/// A `List<Utf8>` value: an array item by item, a single non-array value as a one-item list,
/// null as null.
#[inline]
pub(super) fn put_list(b: &mut ListBuilder<StringBuilder>, v: Option<&Value>) {
    match v {
        None | Some(Value::Null) => b.append_null(),
        Some(Value::Array(items)) => {
            let values = b.values();
            for item in items {
                put_item(values, item);
            }
            b.append(true);
        }
        Some(one) => {
            put_item(b.values(), one);
            b.append(true);
        }
    }
}

/// Appends `v`'s compact JSON to `buf` (`null` if it cannot be serialised), stack-safe at any
/// depth.
pub(super) fn write_json(buf: &mut Vec<u8>, v: &Value) {
    if json::to_writer(&mut *buf, v).is_err() {
        buf.extend_from_slice(b"null");
    }
}

/// Appends `s` as a JSON string to `buf`.
pub(super) fn write_str(buf: &mut Vec<u8>, s: &str) {
    if serde_json::to_writer(&mut *buf, s).is_err() {
        buf.extend_from_slice(b"null");
    }
}

/// `type:value` of a comment's or worklog's `visibility` (`role:Administrators`), or null.
pub(super) fn put_visibility(b: &mut StringBuilder, visibility: Option<&Value>) {
    let vis = visibility.unwrap_or(&NULL);
    match (str_of(vis, "type"), str_of(vis, "value")) {
        (None, None) => b.append_null(),
        (ty, value) => {
            let _ = b.write_str(ty.unwrap_or(""));
            let _ = b.write_char(':');
            b.append_value(value.unwrap_or(""));
        }
    }
}

/// A user's `displayName` and account id ([`account_id`]; each null when missing).
#[inline]
pub(super) fn put_user(
    name: &mut StringBuilder,
    account_id: &mut StringBuilder,
    user: Option<&Value>,
) {
    let user = user.unwrap_or(&NULL);
    put_str(name, str_of(user, "displayName"));
    put_str(account_id, self::account_id(user));
}

/// The id that names a user for good: `accountId` on Cloud; on Data Center, which has none,
/// the user `key` (stable across renames), else the user `name`.
#[inline]
pub(crate) fn account_id(user: &Value) -> Option<&str> {
    str_of(user, "accountId")
        .or_else(|| str_of(user, "key"))
        .or_else(|| str_of(user, "name"))
}
