//! Reference objects: users, projects, issue types, statuses, priorities and resolutions, both
//! as embedded in issues and as the `/users/search`, `/project/search`, `/status` and
//! `/priority/search` listings.

use serde_json::{Value, json};

use super::vocab::{
    DC_USER_NAMES, ISSUE_TYPES, MIRROR_ACCOUNT_ID, PEOPLE, PRIORITIES, RESOLUTIONS, SLA_ACCOUNT_ID,
    STATUS_CATEGORIES, STATUSES,
};
use super::{Project, Store};
use crate::simulator::SimConfig;

impl Project {
    /// A project with upper-case `key` whose first issue will be number 1.
    pub(super) fn new(key: String, id: u64, service_desk: bool) -> Project {
        Project {
            name: project_name(&key),
            key,
            id,
            next_number: 1,
            service_desk,
        }
    }
}

/// The projects of `cfg`: its keys upper-cased, without blanks and repeats (`SUP` when none
/// is left), with ids from 10,000; the [`SimConfig::software_projects`] are no service desks.
pub(super) fn site_projects(cfg: &SimConfig) -> Vec<Project> {
    let mut project_keys: Vec<String> = Vec::new();
    for p in &cfg.projects {
        let k = p.trim().to_ascii_uppercase();
        if !k.is_empty() && !project_keys.contains(&k) {
            project_keys.push(k);
        }
    }
    if project_keys.is_empty() {
        project_keys.push("SUP".into());
    }
    project_keys
        .into_iter()
        .enumerate()
        .map(|(i, k)| {
            let software = cfg
                .software_projects
                .iter()
                .any(|s| s.trim().eq_ignore_ascii_case(&k));
            Project::new(k, 10_000 + i as u64, !software)
        })
        .collect()
}

/// The user objects of the people issues name, in `PEOPLE` order: Cloud's (account ids) or,
/// on Data Center (`dc`), Data Center's (user names and keys).
pub(super) fn people_json(base: &str, dc: bool) -> Vec<Value> {
    PEOPLE
        .iter()
        .zip(DC_USER_NAMES)
        .enumerate()
        .map(|(i, ((id, name, email, tz, active), user))| {
            if dc {
                let email = email.map_or_else(|| format!("{user}@example.com"), str::to_string);
                let key = format!("JIRAUSER{}", 10_100 + i);
                dc_user_json(base, (user, &key), name, &email, tz, *active)
            } else {
                user_json(base, id, name, *email, tz, *active)
            }
        })
        .collect()
}

/// The user objects of the main account (with e-mail `cfg.email`) and of the JSM account
/// (with `cfg.sla_email`); on Data Center (`dc`) their user names are those e-mails and the
/// main account lives in `cfg.time_zone`.
pub(super) fn accounts_json(base: &str, cfg: &SimConfig, dc: bool) -> (Value, Value) {
    if dc {
        let mirror = dc_user_json(
            base,
            (&cfg.email, "JIRAUSER10000"),
            "Jira Mirror",
            &cfg.email,
            &cfg.time_zone,
            true,
        );
        let sla = dc_user_json(
            base,
            (&cfg.sla_email, "JIRAUSER10001"),
            "JSM Agent",
            &cfg.sla_email,
            "Europe/London",
            true,
        );
        return (mirror, sla);
    }
    let mirror = user_json(
        base,
        MIRROR_ACCOUNT_ID,
        "Jira Mirror",
        Some(&cfg.email),
        "America/New_York",
        true,
    );
    let sla = user_json(
        base,
        SLA_ACCOUNT_ID,
        "JSM Agent",
        Some(&cfg.sla_email),
        "Europe/London",
        true,
    );
    (mirror, sla)
}

fn user_json(
    base: &str,
    account_id: &str,
    name: &str,
    email: Option<&str>,
    tz: &str,
    active: bool,
) -> Value {
    let initials: String = name
        .split_whitespace()
        .filter_map(|w| w.chars().next())
        .take(2)
        .collect();
    let avatar = |size: u32| {
        format!(
            "https://avatar-management--avatars.us-west-2.prod.public.atl-paas.net/initials/{initials}-5.png?size={size}&s={size}"
        )
    };
    let mut u = json!({
        "self": format!("{base}/rest/api/3/user?accountId={account_id}"),
        "accountId": account_id,
        "avatarUrls": {
            "48x48": avatar(48),
            "24x24": avatar(24),
            "16x16": avatar(16),
            "32x32": avatar(32),
        },
        "displayName": name,
        "active": active,
        "timeZone": tz,
        "accountType": "atlassian",
    });
    if let (Some(e), Some(obj)) = (email, u.as_object_mut()) {
        obj.insert("emailAddress".into(), Value::String(e.to_string()));
    }
    u
}

/// A Data Center user as issues embed it: `(name, key)`, no account id.
fn dc_user_json(
    base: &str,
    (user, key): (&str, &str),
    display: &str,
    email: &str,
    tz: &str,
    active: bool,
) -> Value {
    let avatar = |size: &str| format!("{base}/secure/useravatar?size={size}&avatarId=10122");
    json!({
        "self": format!("{base}/rest/api/2/user?username={user}"),
        "name": user,
        "key": key,
        "emailAddress": email,
        "avatarUrls": {
            "48x48": avatar("large"),
            "24x24": avatar("small"),
            "16x16": avatar("xsmall"),
            "32x32": avatar("medium"),
        },
        "displayName": display,
        "active": active,
        "timeZone": tz,
    })
}

fn project_name(key: &str) -> String {
    match key {
        "SUP" => "Customer Support".to_string(),
        "OPS" => "Operations Desk".to_string(),
        _ => format!("{key} Service Desk"),
    }
}

impl Store {
    pub(super) fn issuetype_json(&self, i: usize) -> Value {
        let (base, api) = (&self.base, &self.api);
        let (id, name, subtask, level, desc) = ISSUE_TYPES[i];
        json!({
            "self": format!("{api}/issuetype/{id}"),
            "id": id,
            "description": desc,
            "iconUrl": format!("{base}/rest/api/2/universal_avatar/view/type/issuetype/avatar/{}?size=medium", 10_300 + i),
            "name": name,
            "subtask": subtask,
            "avatarId": 10_300 + i,
            "hierarchyLevel": level,
        })
    }

    pub(super) fn project_json(&self, p: &Project) -> Value {
        let api = &self.api;
        let avatar = |size: &str| {
            let q = if size.is_empty() {
                String::new()
            } else {
                format!("?size={size}")
            };
            format!("{api}/universal_avatar/view/type/project/avatar/10425{q}")
        };
        json!({
            "self": format!("{api}/project/{}", p.id),
            "id": p.id.to_string(),
            "key": p.key,
            "name": p.name,
            "projectTypeKey": if p.service_desk { "service_desk" } else { "software" },
            "simplified": false,
            "avatarUrls": {
                "48x48": avatar(""),
                "24x24": avatar("small"),
                "16x16": avatar("xsmall"),
                "32x32": avatar("medium"),
            },
        })
    }

    pub(super) fn status_json(&self, s: usize) -> Value {
        let (base, api) = (&self.base, &self.api);
        let (id, name, cat) = STATUSES[s];
        let (cid, ckey, color, cname) = STATUS_CATEGORIES[cat];
        json!({
            "self": format!("{api}/status/{id}"),
            "description": "",
            "iconUrl": format!("{base}/"),
            "name": name,
            "id": id,
            "statusCategory": {
                "self": format!("{api}/statuscategory/{cid}"),
                "id": cid,
                "key": ckey,
                "colorName": color,
                "name": cname,
            },
        })
    }

    pub(super) fn priority_json(&self, p: usize) -> Value {
        let (base, api) = (&self.base, &self.api);
        let (id, name, icon) = PRIORITIES[p];
        json!({
            "self": format!("{api}/priority/{id}"),
            "iconUrl": format!("{base}/images/icons/priorities/{icon}.svg"),
            "name": name,
            "id": id,
        })
    }

    pub(super) fn resolution_json(&self, r: usize) -> Value {
        let (id, name, desc) = RESOLUTIONS[r];
        json!({"self": format!("{}/resolution/{id}", self.api), "id": id, "description": desc, "name": name})
    }
}

impl Store {
    /// The user object of person `i` (null if there is none).
    pub(super) fn user(&self, i: usize) -> Value {
        self.users.get(i).cloned().unwrap_or(Value::Null)
    }

    /// `/project/search` (Cloud) or `/project` (Data Center) items: every project, with its type and (from the `style` Jira
    /// Cloud sends) whether it is company-managed.
    pub(crate) fn projects_json(&self) -> Vec<Value> {
        self.projects
            .iter()
            .map(|p| {
                let mut v = self.project_json(p);
                if let Some(o) = v.as_object_mut() {
                    if self.dc() {
                        o.insert("archived".into(), json!(false));
                    } else {
                        o.insert("style".into(), json!("classic"));
                        o.insert("isPrivate".into(), json!(false));
                    }
                }
                v
            })
            .collect()
    }

    /// `/users/search` items: every person issues name, then the two API accounts.
    pub(crate) fn users_json(&self) -> Vec<Value> {
        let mut users = self.users.clone();
        users.push(self.mirror_user.clone());
        users.push(self.sla_user.clone());
        users
    }

    /// `/status` items: every status.
    pub(crate) fn statuses_json(&self) -> Vec<Value> {
        (0..STATUSES.len()).map(|s| self.status_json(s)).collect()
    }

    /// `/priority/search` items: every priority, with a colour and the default marked.
    pub(crate) fn priorities_json(&self) -> Vec<Value> {
        (0..PRIORITIES.len())
            .map(|p| {
                let mut v = self.priority_json(p);
                if let Some(o) = v.as_object_mut() {
                    o.insert("statusColor".into(), json!("#ff7452"));
                    o.insert("description".into(), json!(""));
                    if !self.dc() {
                        o.insert("isDefault".into(), json!(p == PRIORITIES.len() / 2));
                    }
                }
                v
            })
            .collect()
    }
}

// ---------------------------------------------------------------------------------------------
// SLA
// ---------------------------------------------------------------------------------------------
