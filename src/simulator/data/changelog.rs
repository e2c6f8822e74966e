//! Changelog histories: the item constructors and Jira's rendering of a history.

use std::borrow::Cow;

use serde_json::{Value, json};

use super::{History, Item, Store, Text};

pub(super) fn st(s: &'static str) -> Text {
    Some(Cow::Borrowed(s))
}

pub(super) fn owned(s: String) -> Text {
    Some(Cow::Owned(s))
}

pub(super) fn item(
    field: &'static str,
    field_id: &'static str,
    from: Text,
    from_string: Text,
    to: Text,
    to_string: Text,
) -> Item {
    let fieldtype = if field_id.starts_with("customfield_") {
        "custom"
    } else {
        "jira"
    };
    Item {
        field,
        fieldtype,
        field_id,
        from,
        from_string,
        to,
        to_string,
    }
}

impl Store {
    /// A changelog history as Jira renders it.
    pub(crate) fn history_json(&self, h: &History) -> Value {
        let text = |t: &Text| {
            t.as_deref()
                .map_or(Value::Null, |s| Value::String(s.to_string()))
        };
        let items: Vec<Value> = h
            .items
            .iter()
            .map(|i| {
                json!({
                    "field": i.field,
                    "fieldtype": i.fieldtype,
                    "fieldId": i.field_id,
                    "from": text(&i.from),
                    "fromString": text(&i.from_string),
                    "to": text(&i.to),
                    "toString": text(&i.to_string),
                })
            })
            .collect();
        json!({"id": h.id.to_string(), "author": self.user(h.author), "created": self.clock.jira(h.at), "items": items})
    }
}
