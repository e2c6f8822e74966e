//! Links between issues as they render: remote links (`/remotelink`), and the brief form in
//! which parents, sub-tasks and linked issues appear inside another issue.

use serde_json::{Value, json};

use super::reference::{issuetype_json, priority_json, status_json};
use super::{Issue, Store};
use crate::simulator::LONE_SURROGATE_MARKER;

impl Store {
    /// The `/remotelink` array of an issue.
    pub(crate) fn remote_links_json(&self, issue: &Issue) -> Vec<Value> {
        let base = &self.base;
        let key = &issue.key;
        issue
            .remote_links
            .iter()
            .map(|r| {
                let this = format!("{base}/rest/api/3/issue/{key}/remotelink/{}", r.id);
                if r.confluence {
                    json!({
                        "id": r.id,
                        "self": this,
                        "globalId": format!("appId=8f2b0f2a-0c1d-3e4f-9a8b-7c6d5e4f3a2b&pageId={}", r.num),
                        "application": {"type": "com.atlassian.confluence", "name": "Confluence"},
                        "relationship": "Wiki Page",
                        "object": {
                            "url": format!("https://wiki.example.com/pages/viewpage.action?pageId={}", r.num),
                            "title": format!("Runbook for {}", issue.birth_key),
                            "icon": {"url16x16": "https://wiki.example.com/images/icons/favicon.png", "title": "Page"},
                            "status": {"resolved": false, "icon": {}},
                        },
                    })
                } else {
                    let pr = r.num % 5000 + 1;
                    json!({
                        "id": r.id,
                        "self": this,
                        "globalId": format!("github=example/app&pr={pr}"),
                        "application": {"type": "com.github", "name": "GitHub"},
                        "relationship": "mentioned in",
                        "object": {
                            "url": format!("https://github.com/example/app/pull/{pr}"),
                            "title": format!("Fix {}: handle edge case #{pr}", issue.birth_key),
                            "summary": "Pull request",
                            "icon": {"url16x16": "https://github.com/favicon.ico", "title": "Pull request"},
                            "status": {
                                "resolved": r.resolved,
                                "icon": {
                                    "url16x16": "https://github.com/favicon.ico",
                                    "title": if r.resolved { "Merged" } else { "Open" },
                                    "link": format!("https://github.com/example/app/pull/{pr}"),
                                },
                            },
                        },
                    })
                }
            })
            .collect()
    }

    pub(super) fn brief(&self, other: &Issue) -> Value {
        json!({
            "id": other.id.to_string(),
            "key": other.key,
            "self": format!("{}/rest/api/3/issue/{}", self.base, other.id),
            "fields": {
                // A broken summary stays with its own issue (see `PoisonKind::LoneSurrogate`).
                "summary": other.summary.replace(LONE_SURROGATE_MARKER, ""),
                "status": status_json(&self.base, other.status),
                "priority": priority_json(&self.base, other.priority),
                "issuetype": issuetype_json(&self.base, other.type_idx),
            }
        })
    }
}
