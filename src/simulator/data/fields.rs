//! An issue's fields: the optional values a new issue is generated with, each field as Jira
//! renders it (the relations, comments, worklogs, attachments and SLAs come from their own
//! modules), and the whole issue as `GET /issue/{key}` and search render it, for the fields
//! asked for.

use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde_json::{Map, Value, json};

use super::adf::{comment_body, deep_description, description, text_doc};
use super::comments::worklog_seconds;
use super::vocab::{COMPONENTS, PEOPLE, SERVICES, SEVERITIES, TEAM_OPTIONS, TEAM_TEXT, VERSIONS};
use super::{
    ChangelogMode, DAY_MS, EMBED_CAP, Extras, FieldSel, HOUR_MS, ISSUE_EXPAND, Issue,
    SLA_FIRST_RESPONSE_FIELD, SLA_RESOLUTION_FIELD, Store, maybe, pick,
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
        json!({"self": format!("{}/customFieldOption/{id}", self.api), "value": value, "id": id})
    }

    fn version_json(&self, i: usize) -> Value {
        let (id, name, released, date) = VERSIONS[i];
        json!({
            "self": format!("{}/version/{id}", self.api),
            "id": id,
            "name": name,
            "archived": false,
            "released": released,
            "releaseDate": date,
        })
    }

    /// One field of an issue; `None` when the issue does not carry it (`parent` of an issue
    /// without one) or there is no such field.
    fn field(&self, issue: &Issue, name: &str, comment_cap: Option<usize>) -> Option<Value> {
        match name {
            "parent" => self.parent_field(issue),
            "subtasks" => Some(self.subtasks_field(issue)),
            "issuelinks" => Some(self.issuelinks_field(issue)),
            "attachment" => Some(self.attachment_field(issue)),
            "comment" => Some(self.comment_field(issue, comment_cap)),
            "worklog" => Some(self.worklog_field(issue)),
            SLA_FIRST_RESPONSE_FIELD | SLA_RESOLUTION_FIELD => Some(self.sla_field(issue, name)),
            _ if name.starts_with("customfield_") => self.custom_field(issue, name),
            _ => time_tracking_field(issue, name).or_else(|| self.system_field(issue, name)),
        }
    }

    /// The system fields other than relations, comments, worklogs, attachments and time
    /// tracking.
    fn system_field(&self, issue: &Issue, name: &str) -> Option<Value> {
        let api = &self.api;
        let clock = self.clock;
        let x = &issue.extras;
        let key = &issue.key;
        let null = Value::Null;
        let v = match name {
            "summary" => Value::String(issue.summary.clone()),
            "description" => self.description_field(issue),
            "issuetype" => self.issuetype_json(issue.type_idx),
            "project" => self.project_json(&self.projects[issue.project_idx]),
            "status" => self.status_json(issue.status),
            "statuscategorychangedate" => Value::String(clock.jira(issue.status_change_ms)),
            "priority" => self.priority_json(issue.priority),
            "resolution" => issue.resolution.map_or(null, |r| self.resolution_json(r)),
            "resolutiondate" => issue
                .resolution_ms
                .map_or(null, |t| Value::String(clock.jira(t))),
            "assignee" => issue.assignee.map_or(null, |a| self.user(a)),
            "reporter" | "creator" => self.user(issue.reporter),
            "labels" => json!(issue.labels),
            "components" => Value::Array(
                x.component
                    .map(|c| {
                        let (id, name) = COMPONENTS[c];
                        json!({"self": format!("{api}/component/{id}"), "id": id, "name": name})
                    })
                    .into_iter()
                    .collect(),
            ),
            "fixVersions" => Value::Array(
                x.fix_version
                    .map(|v| self.version_json(v))
                    .into_iter()
                    .collect(),
            ),
            "versions" => Value::Array(
                x.version
                    .map(|v| self.version_json(v))
                    .into_iter()
                    .collect(),
            ),
            "created" => Value::String(clock.jira(issue.created_ms)),
            "updated" => Value::String(clock.jira(issue.updated_ms)),
            "duedate" => x.duedate_ms.map_or(null, |t| Value::String(clock.date(t))),
            "lastViewed" | "security" => null,
            // Every fifth issue says where it happens (rich text in v3, wiki in v2).
            "environment" => {
                if issue.id.is_multiple_of(5) {
                    self.rich(text_doc("Production, EU region".to_string()))
                } else {
                    null
                }
            }
            "watches" => json!({
                "self": format!("{api}/issue/{key}/watchers"),
                "watchCount": x.watch_count,
                "isWatching": false,
            }),
            "votes" => {
                json!({"self": format!("{api}/issue/{key}/votes"), "votes": x.votes, "hasVoted": false})
            }
            "issuerestriction" => json!({"issuerestrictions": {}, "shouldDisplay": false}),
            _ => return None,
        };
        Some(v)
    }

    /// The description: the deep one of a poisoned issue, else generated ADF on most issues
    /// (its wiki markup on Data Center).
    fn description_field(&self, issue: &Issue) -> Value {
        if let Some(depth) = issue.poison.deep_description {
            self.rich(deep_description(depth, &issue.birth_key))
        } else if issue.extras.has_description {
            let mut rng = ChaCha8Rng::seed_from_u64(issue.content_seed ^ 0xDE5C);
            self.rich(description(
                &mut rng,
                &issue.birth_key,
                &self.base,
                issue.created_ms,
            ))
        } else {
            Value::Null
        }
    }

    /// The custom fields other than the SLAs.
    fn custom_field(&self, issue: &Issue, name: &str) -> Option<Value> {
        let clock = self.clock;
        let x = &issue.extras;
        let null = Value::Null;
        let v = match name {
            "customfield_10100" => issue
                .severity
                .map_or(null, |s| self.option_json(SEVERITIES[s].0, SEVERITIES[s].1)),
            "customfield_10200" => x.story_points.map_or(null, |p| json!(p)),
            "customfield_10300" => x
                .team_text
                .map_or(null, |t| Value::String(TEAM_TEXT[t].to_string())),
            "customfield_10301" => x.team_option.map_or(null, |t| {
                self.option_json(TEAM_OPTIONS[t].0, TEAM_OPTIONS[t].1)
            }),
            "customfield_10400" => x.go_live_ms.map_or(null, |t| Value::String(clock.date(t))),
            "customfield_10401" => x
                .escalated_ms
                .map_or(null, |t| Value::String(clock.jira(t))),
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
                    self.rich(comment_body(&mut rng, &issue.birth_key, &self.base))
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
            Value::String(format!("{}/issue/{}", self.api, issue.id)),
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

/// The time-tracking fields: logged time (the worklogs' sum), estimates, progress; `None` for
/// any other field.
fn time_tracking_field(issue: &Issue, name: &str) -> Option<Value> {
    let x = &issue.extras;
    let null = Value::Null;
    let v = match name {
        // Time logged: the worklogs' sum (null when none, as Jira sends it).
        "timespent" | "aggregatetimespent" => {
            match (0..issue.worklogs).map(worklog_seconds).sum::<i64>() {
                0 => null,
                secs => json!(secs),
            }
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
        "timeoriginalestimate" | "aggregatetimeoriginalestimate" => {
            x.estimate_secs.map_or(null, |e| json!(e))
        }
        "timeestimate" | "aggregatetimeestimate" => x.estimate_secs.map_or(null, |e| json!(e / 2)),
        "workratio" => json!(-1),
        "progress" | "aggregateprogress" => json!({"progress": 0, "total": 0}),
        _ => return None,
    };
    Some(v)
}

/// `maybe(rng, p, f)` on a `rich` issue, else `None` without a draw.
fn if_rich<T>(
    rng: &mut ChaCha8Rng,
    rich: bool,
    p: f64,
    f: impl FnOnce(&mut ChaCha8Rng) -> T,
) -> Option<T> {
    if rich { maybe(rng, p, f) } else { None }
}

/// The optional field values of a new issue created at `created`: most are set on some
/// `rich` issues only (issues created while the simulator runs are plain).
pub(super) fn generate_extras(rng: &mut ChaCha8Rng, rich: bool, created: i64) -> Extras {
    // Struct fields are evaluated in the order written: it is the order of the draws.
    Extras {
        has_description: rng.random_bool(0.9),
        component: if_rich(rng, rich, 0.6, |r| r.random_range(0..COMPONENTS.len())),
        fix_version: if_rich(rng, rich, 0.3, |r| r.random_range(0..VERSIONS.len())),
        version: if_rich(rng, rich, 0.2, |r| r.random_range(0..VERSIONS.len())),
        duedate_ms: if_rich(rng, rich, 0.25, |r| {
            created + r.random_range(1..60) * DAY_MS
        }),
        estimate_secs: if_rich(rng, rich, 0.2, |r| r.random_range(1..9) * 3600),
        watch_count: rng.random_range(0..5),
        votes: rng.random_range(0..3),
        story_points: if_rich(rng, rich, 0.4, |r| pick(r, &[0.5, 1.0, 2.0, 3.0, 5.0, 8.0])),
        team_text: if_rich(rng, rich, 0.4, |r| r.random_range(0..TEAM_TEXT.len())),
        team_option: if_rich(rng, rich, 0.5, |r| r.random_range(0..TEAM_OPTIONS.len())),
        go_live_ms: if_rich(rng, rich, 0.3, |r| {
            created + r.random_range(7..120) * DAY_MS
        }),
        escalated_ms: if_rich(rng, rich, 0.2, |r| {
            created + r.random_range(HOUR_MS..10 * DAY_MS)
        }),
        services: if rich && rng.random_bool(0.5) {
            let mut s = Vec::new();
            for _ in 0..rng.random_range(1..=3) {
                let x = rng.random_range(0..SERVICES.len());
                if !s.contains(&x) {
                    s.push(x);
                }
            }
            s
        } else {
            Vec::new()
        },
        participants: if rich && rng.random_bool(0.3) {
            (0..rng.random_range(1..=2))
                .map(|_| rng.random_range(0..PEOPLE.len()))
                .collect()
        } else {
            Vec::new()
        },
        notes: rich && rng.random_bool(0.3),
    }
}
