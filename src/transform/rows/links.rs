//! The `issuelinks` table (Jira's issue links, seen from the issue that holds them) and the
//! `remote_links` table (`mirror.remote_links`).

use arrow_array::builder::{Int64Builder, StringBuilder};
use serde_json::Value;

use super::columns::columns;
use super::head::Head;
use super::values::{NULL, id_of, put_str, str_at, str_of};

columns! {
    /// The `issuelinks` table's columns: one row per issue link.
    pub(super) struct LinksCols {
        issue_key: StringBuilder,
        link_id: Int64Builder,
        link_type: StringBuilder,
        direction: StringBuilder,
        linked_issue_key: StringBuilder,
        linked_issue_id: Int64Builder,
    }
}

impl LinksCols {
    pub(super) fn put(&mut self, h: &Head<'_>) {
        let Some(links) = h.fields.get("issuelinks").and_then(Value::as_array) else {
            return;
        };
        for link in links {
            let (direction, other) = match (link.get("outwardIssue"), link.get("inwardIssue")) {
                (Some(o), _) if o.is_object() => (Some("outward"), o),
                (_, Some(i)) if i.is_object() => (Some("inward"), i),
                _ => (None, &NULL),
            };
            self.issue_key.append_value(h.key);
            self.link_id.append_option(id_of(link.get("id")));
            put_str(&mut self.link_type, str_at(link, "type", "name"));
            put_str(&mut self.direction, direction);
            put_str(&mut self.linked_issue_key, str_of(other, "key"));
            self.linked_issue_id.append_option(id_of(other.get("id")));
        }
    }
}

columns! {
    /// The `remote_links` table's columns: one row per remote link.
    pub(super) struct RemoteCols {
        issue_key: StringBuilder,
        remote_link_id: Int64Builder,
        global_id: StringBuilder,
        url: StringBuilder,
        title: StringBuilder,
        relationship: StringBuilder,
        application_name: StringBuilder,
    }
}

impl RemoteCols {
    pub(super) fn put(&mut self, h: &Head<'_>, mirror: &Value) {
        let Some(links) = mirror.get("remote_links").and_then(Value::as_array) else {
            return;
        };
        for link in links {
            let object = link.get("object").unwrap_or(&NULL);
            self.issue_key.append_value(h.key);
            self.remote_link_id.append_option(id_of(link.get("id")));
            put_str(&mut self.global_id, str_of(link, "globalId"));
            put_str(&mut self.url, str_of(object, "url"));
            put_str(&mut self.title, str_of(object, "title"));
            put_str(&mut self.relationship, str_of(link, "relationship"));
            put_str(
                &mut self.application_name,
                str_at(link, "application", "name"),
            );
        }
    }
}
