//! Links between issues: issue links (generated across the site once its issues exist),
//! parents and sub-tasks (shown in the brief form Jira embeds, with the linked issue's current
//! key and status), and remote links (`/remotelink`).

use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde_json::{Value, json};

use super::vocab::LINK_TYPES;
use super::{Issue, LinkRef, RemoteRec, Store, take};
use crate::simulator::LONE_SURROGATE_MARKER;

impl Store {
    /// Links about 15% of the issues to a random earlier one (both sides carry the link).
    pub(super) fn link_issues(&mut self, seed: u64) {
        let mut link_rng = ChaCha8Rng::seed_from_u64(seed ^ 0x114C_1A55);
        let ids: Vec<u64> = self.issues.keys().copied().collect();
        let mut next_link_id = 10_000u64;
        for (pos, id) in ids.iter().enumerate() {
            if pos == 0 || !link_rng.random_bool(0.15) {
                continue;
            }
            let other = ids[link_rng.random_range(0..pos)];
            let type_idx = link_rng.random_range(0..LINK_TYPES.len());
            let link_id = take(&mut next_link_id);
            // The newer issue sees the older one as its outward issue.
            for (this, other, other_is_outward) in [(*id, other, true), (other, *id, false)] {
                if let Some(issue) = self.issues.get_mut(&this) {
                    issue.links.push(LinkRef {
                        id: link_id,
                        type_idx,
                        other_is_outward,
                        other,
                    });
                }
            }
        }
    }

    /// The remote links of a new issue: none, one or two of `rich` ones (the first may be a
    /// Confluence page, the others are GitHub pull requests).
    pub(super) fn generate_remote_links(
        &mut self,
        rng: &mut ChaCha8Rng,
        rich: bool,
    ) -> Vec<RemoteRec> {
        let mut remote_links = Vec::new();
        if rich {
            let n = match rng.random_range(0..100) {
                0..60 => 0,
                60..85 => 1,
                _ => 2,
            };
            for k in 0..n {
                let id = take(&mut self.next_remote_link_id);
                let confluence = k == 0 && rng.random_bool(0.5);
                remote_links.push(RemoteRec {
                    id,
                    confluence,
                    num: rng.random_range(1..999_999),
                    resolved: rng.random_bool(0.5),
                });
            }
        }
        remote_links
    }

    /// The `/remotelink` array of an issue.
    pub(crate) fn remote_links_json(&self, issue: &Issue) -> Vec<Value> {
        let api = &self.api;
        let key = &issue.key;
        issue
            .remote_links
            .iter()
            .map(|r| {
                let this = format!("{api}/issue/{key}/remotelink/{}", r.id);
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

    /// The `parent` field, `None` when the issue has no (live) parent.
    pub(super) fn parent_field(&self, issue: &Issue) -> Option<Value> {
        issue
            .parent
            .and_then(|p| self.issues.get(&p))
            .map(|p| self.brief(p))
    }

    /// The `subtasks` field.
    pub(super) fn subtasks_field(&self, issue: &Issue) -> Value {
        Value::Array(
            issue
                .subtasks
                .iter()
                .filter_map(|s| self.issues.get(s))
                .map(|s| self.brief(s))
                .collect(),
        )
    }

    /// The `issuelinks` field: the links whose other issue is live.
    pub(super) fn issuelinks_field(&self, issue: &Issue) -> Value {
        let api = &self.api;
        Value::Array(
            issue
                .links
                .iter()
                .filter_map(|l| {
                    let other = self.issues.get(&l.other)?;
                    let (tid, tname, inward, outward) = LINK_TYPES[l.type_idx];
                    let side = if l.other_is_outward {
                        "outwardIssue"
                    } else {
                        "inwardIssue"
                    };
                    let mut v = json!({
                        "id": l.id.to_string(),
                        "self": format!("{api}/issueLink/{}", l.id),
                        "type": {
                            "id": tid,
                            "name": tname,
                            "inward": inward,
                            "outward": outward,
                            "self": format!("{api}/issueLinkType/{tid}"),
                        },
                    });
                    v.as_object_mut()?.insert(side.into(), self.brief(other));
                    Some(v)
                })
                .collect(),
        )
    }

    /// Another issue as parents, sub-tasks and links show it.
    fn brief(&self, other: &Issue) -> Value {
        json!({
            "id": other.id.to_string(),
            "key": other.key,
            "self": format!("{}/issue/{}", self.api, other.id),
            "fields": {
                // A broken summary stays with its own issue (see `PoisonKind::LoneSurrogate`).
                "summary": other.summary.replace(LONE_SURROGATE_MARKER, ""),
                "status": self.status_json(other.status),
                "priority": self.priority_json(other.priority),
                "issuetype": self.issuetype_json(other.type_idx),
            }
        })
    }
}
