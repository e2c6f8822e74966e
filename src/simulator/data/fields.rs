//! One issue's fields and the whole issue as `GET /issue/{key}` and search render it, for the
//! fields asked for.

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde_json::{Map, Value, json};

use super::adf::{comment_body, deep_description, description};
use super::comments::worklog_seconds;
use super::reference::{issuetype_json, priority_json, project_json, resolution_json, status_json};
use super::vocab::{
    COMPONENTS, LINK_TYPES, SERVICES, SEVERITIES, TEAM_OPTIONS, TEAM_TEXT, VERSIONS,
};
use super::{
    ChangelogMode, EMBED_CAP, FieldSel, ISSUE_EXPAND, Issue, SLA_FIRST_RESPONSE_FIELD,
    SLA_RESOLUTION_FIELD, Store, WORKLOG_EMBED_CAP,
};

/// Every field an issue carries, in the order `*all` renders them (JSON maps sort anyway).
const ALL_FIELDS: &[&str] = &[
    "summary",
    "description",
    "issuetype",
    "project",
    "status",
    "statuscategorychangedate",
    "priority",
    "resolution",
    "resolutiondate",
    "assignee",
    "reporter",
    "creator",
    "labels",
    "components",
    "fixVersions",
    "versions",
    "created",
    "updated",
    "duedate",
    "lastViewed",
    "watches",
    "votes",
    "parent",
    "subtasks",
    "issuelinks",
    "attachment",
    "comment",
    "worklog",
    "timetracking",
    "timespent",
    "aggregatetimespent",
    "timeestimate",
    "aggregatetimeestimate",
    "timeoriginalestimate",
    "aggregatetimeoriginalestimate",
    "workratio",
    "progress",
    "aggregateprogress",
    "environment",
    "security",
    "issuerestriction",
    "customfield_10100",
    SLA_FIRST_RESPONSE_FIELD,
    SLA_RESOLUTION_FIELD,
    "customfield_10200",
    "customfield_10300",
    "customfield_10301",
    "customfield_10400",
    "customfield_10401",
    "customfield_10500",
    "customfield_10600",
    "customfield_10700",
];

impl Store {
    fn option_json(&self, id: &str, value: &str) -> Value {
        json!({"self": format!("{}/rest/api/3/customFieldOption/{id}", self.base), "value": value, "id": id})
    }

    fn version_json(&self, i: usize) -> Value {
        let (id, name, released, date) = VERSIONS[i];
        json!({
            "self": format!("{}/rest/api/3/version/{id}", self.base),
            "id": id,
            "name": name,
            "archived": false,
            "released": released,
            "releaseDate": date,
        })
    }

    /// One field of an issue; `None` when the issue does not carry it (e.g. `parent`).
    fn field(&self, issue: &Issue, name: &str, comment_cap: Option<usize>) -> Option<Value> {
        let base = &self.base;
        let clock = self.clock;
        let x = &issue.extras;
        let key = &issue.key;
        let null = Value::Null;
        let v = match name {
            "summary" => Value::String(issue.summary.clone()),
            "description" => {
                if let Some(depth) = issue.poison.deep_description {
                    deep_description(depth, &issue.birth_key)
                } else if x.has_description {
                    let mut rng = ChaCha8Rng::seed_from_u64(issue.content_seed ^ 0xDE5C);
                    description(&mut rng, &issue.birth_key, base, issue.created_ms)
                } else {
                    null
                }
            }
            "issuetype" => issuetype_json(base, issue.type_idx),
            "project" => project_json(base, &self.projects[issue.project_idx]),
            "status" => status_json(base, issue.status),
            "statuscategorychangedate" => Value::String(clock.jira(issue.status_change_ms)),
            "priority" => priority_json(base, issue.priority),
            "resolution" => issue.resolution.map_or(null, |r| resolution_json(base, r)),
            "resolutiondate" => issue.resolution_ms.map_or(null, |t| Value::String(clock.jira(t))),
            "assignee" => issue.assignee.map_or(null, |a| self.user(a)),
            "reporter" | "creator" => self.user(issue.reporter),
            "labels" => json!(issue.labels),
            "components" => Value::Array(
                x.component
                    .map(|c| {
                        let (id, name) = COMPONENTS[c];
                        json!({"self": format!("{base}/rest/api/3/component/{id}"), "id": id, "name": name})
                    })
                    .into_iter()
                    .collect(),
            ),
            "fixVersions" => Value::Array(x.fix_version.map(|v| self.version_json(v)).into_iter().collect()),
            "versions" => Value::Array(x.version.map(|v| self.version_json(v)).into_iter().collect()),
            "created" => Value::String(clock.jira(issue.created_ms)),
            "updated" => Value::String(clock.jira(issue.updated_ms)),
            "duedate" => x.duedate_ms.map_or(null, |t| Value::String(clock.date(t))),
            "lastViewed" | "security" => null,
            // Time logged: the worklogs' sum (null when none, as Jira sends it).
            "timespent" | "aggregatetimespent" => match (0..issue.worklogs).map(worklog_seconds).sum::<i64>() {
                0 => null,
                secs => json!(secs),
            },
            // Every fifth issue says where it happens (rich text in v3).
            "environment" => {
                if issue.id.is_multiple_of(5) {
                    json!({"type": "doc", "version": 1, "content": [
                        {"type": "paragraph", "content": [{"type": "text", "text": "Production, EU region"}]}
                    ]})
                } else {
                    null
                }
            }
            "watches" => json!({
                "self": format!("{base}/rest/api/3/issue/{key}/watchers"),
                "watchCount": x.watch_count,
                "isWatching": false,
            }),
            "votes" => json!({"self": format!("{base}/rest/api/3/issue/{key}/votes"), "votes": x.votes, "hasVoted": false}),
            "parent" => return issue.parent.and_then(|p| self.issues.get(&p)).map(|p| self.brief(p)),
            "subtasks" => {
                Value::Array(issue.subtasks.iter().filter_map(|s| self.issues.get(s)).map(|s| self.brief(s)).collect())
            }
            "issuelinks" => Value::Array(
                issue
                    .links
                    .iter()
                    .filter_map(|l| {
                        let other = self.issues.get(&l.other)?;
                        let (tid, tname, inward, outward) = LINK_TYPES[l.type_idx];
                        let side = if l.other_is_outward { "outwardIssue" } else { "inwardIssue" };
                        let mut v = json!({
                            "id": l.id.to_string(),
                            "self": format!("{base}/rest/api/3/issueLink/{}", l.id),
                            "type": {
                                "id": tid,
                                "name": tname,
                                "inward": inward,
                                "outward": outward,
                                "self": format!("{base}/rest/api/3/issueLinkType/{tid}"),
                            },
                        });
                        v.as_object_mut()?.insert(side.into(), self.brief(other));
                        Some(v)
                    })
                    .collect(),
            ),
            "attachment" => Value::Array(
                issue
                    .attachments
                    .iter()
                    .map(|a| {
                        let id = a.long_id.clone().unwrap_or_else(|| a.id.to_string());
                        json!({
                            "self": format!("{base}/rest/api/3/attachment/{id}"),
                            "filename": a.filename,
                            "author": self.user(a.author),
                            "created": clock.jira(a.created),
                            "size": a.size,
                            "mimeType": a.mime,
                            "content": format!("{base}/rest/api/3/attachment/content/{id}"),
                            "id": id,
                        })
                    })
                    .collect(),
            ),
            "comment" => {
                let n = comment_cap.unwrap_or(usize::MAX).min(issue.comments.len());
                let comments: Vec<Value> = issue.comments[..n].iter().map(|c| self.comment_json(issue, c)).collect();
                json!({
                    "comments": comments,
                    "self": format!("{base}/rest/api/3/issue/{}/comment", issue.id),
                    "maxResults": n,
                    "total": issue.comments.len(),
                    "startAt": 0,
                })
            }
            "worklog" => {
                let n = issue.worklogs.min(WORKLOG_EMBED_CAP);
                let worklogs: Vec<Value> = (0..n).map(|i| self.worklog_json(issue, i)).collect();
                json!({"startAt": 0, "maxResults": WORKLOG_EMBED_CAP, "total": issue.worklogs, "worklogs": worklogs})
            }
            "timetracking" => match x.estimate_secs {
                Some(est) => {
                    let rem = est / 2;
                    json!({
                        "originalEstimate": format!("{}h", est / 3600),
                        "remainingEstimate": format!("{}h {}m", rem / 3600, (rem % 3600) / 60),
                        "originalEstimateSeconds": est,
                        "remainingEstimateSeconds": rem,
                    })
                }
                None => json!({}),
            },
            "timeoriginalestimate" | "aggregatetimeoriginalestimate" => x.estimate_secs.map_or(null, |e| json!(e)),
            "timeestimate" | "aggregatetimeestimate" => x.estimate_secs.map_or(null, |e| json!(e / 2)),
            "workratio" => json!(-1),
            "progress" | "aggregateprogress" => json!({"progress": 0, "total": 0}),
            "issuerestriction" => json!({"issuerestrictions": {}, "shouldDisplay": false}),
            "customfield_10100" => issue.severity.map_or(null, |s| self.option_json(SEVERITIES[s].0, SEVERITIES[s].1)),
            SLA_FIRST_RESPONSE_FIELD | SLA_RESOLUTION_FIELD => self.sla_field(issue, name),
            "customfield_10200" => x.story_points.map_or(null, |p| json!(p)),
            "customfield_10300" => x.team_text.map_or(null, |t| Value::String(TEAM_TEXT[t].to_string())),
            "customfield_10301" => {
                x.team_option.map_or(null, |t| self.option_json(TEAM_OPTIONS[t].0, TEAM_OPTIONS[t].1))
            }
            "customfield_10400" => x.go_live_ms.map_or(null, |t| Value::String(clock.date(t))),
            "customfield_10401" => x.escalated_ms.map_or(null, |t| Value::String(clock.jira(t))),
            "customfield_10500" => {
                if x.services.is_empty() {
                    null
                } else {
                    json!(x.services.iter().map(|s| SERVICES[*s]).collect::<Vec<_>>())
                }
            }
            "customfield_10600" => {
                if x.participants.is_empty() {
                    null
                } else {
                    Value::Array(x.participants.iter().map(|u| self.user(*u)).collect())
                }
            }
            "customfield_10700" => {
                if x.notes {
                    let mut rng = ChaCha8Rng::seed_from_u64(issue.content_seed ^ 0x0007_07E5);
                    comment_body(&mut rng, &issue.birth_key, base)
                } else {
                    null
                }
            }
            _ => return None,
        };
        Some(v)
    }

    /// Renders an issue as `GET /issue/{key}` / search would.
    pub(crate) fn render(
        &self,
        issue: &Issue,
        sel: &FieldSel,
        changelog: ChangelogMode,
        comment_cap: Option<usize>,
    ) -> Value {
        let mut fields = Map::new();
        let names: Box<dyn Iterator<Item = &str>> = if sel.all {
            Box::new(ALL_FIELDS.iter().copied())
        } else {
            Box::new(sel.include.iter().map(String::as_str))
        };
        for name in names {
            if sel.wants(name)
                && !fields.contains_key(name)
                && let Some(v) = self.field(issue, name, comment_cap)
            {
                fields.insert(name.to_string(), v);
            }
        }
        let mut out = Map::new();
        out.insert("expand".into(), Value::String(ISSUE_EXPAND.into()));
        out.insert("id".into(), Value::String(issue.id.to_string()));
        out.insert(
            "self".into(),
            Value::String(format!("{}/rest/api/3/issue/{}", self.base, issue.id)),
        );
        out.insert("key".into(), Value::String(issue.key.clone()));
        out.insert("fields".into(), Value::Object(fields));
        if changelog != ChangelogMode::None {
            let cap = if changelog == ChangelogMode::Capped {
                EMBED_CAP
            } else {
                usize::MAX
            };
            let histories: Vec<Value> = issue
                .histories
                .iter()
                .rev()
                .take(cap)
                .map(|h| self.history_json(h))
                .collect();
            out.insert(
                "changelog".into(),
                json!({
                    "startAt": 0,
                    "maxResults": histories.len(),
                    "total": issue.histories.len(),
                    "histories": histories,
                }),
            );
        }
        Value::Object(out)
    }
}
