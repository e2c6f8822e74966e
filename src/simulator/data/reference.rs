//! Reference objects: users, projects, issue types, statuses, priorities and resolutions, both
//! as embedded in issues and as the `/users/search`, `/project/search`, `/status` and
//! `/priority/search` listings.

use serde_json::{Value, json};

use super::vocab::{
    ISSUE_TYPES, MIRROR_ACCOUNT_ID, PEOPLE, PRIORITIES, RESOLUTIONS, SLA_ACCOUNT_ID,
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

/// The user objects of the people issues name, in `PEOPLE` order.
pub(super) fn people_json(base: &str) -> Vec<Value> {
    PEOPLE
        .iter()
        .map(|(id, name, email, tz, active)| user_json(base, id, name, *email, tz, *active))
        .collect()
}

/// The user objects of the main account (with e-mail `email`) and of the JSM account (with
/// `sla_email`).
pub(super) fn accounts_json(base: &str, email: &str, sla_email: &str) -> (Value, Value) {
    let mirror = user_json(
        base,
        MIRROR_ACCOUNT_ID,
        "Jira Mirror",
        Some(email),
        "America/New_York",
        true,
    );
    let sla = user_json(
        base,
        SLA_ACCOUNT_ID,
        "JSM Agent",
        Some(sla_email),
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

fn project_name(key: &str) -> String {
    match key {
        "SUP" => "Customer Support".to_string(),
        "OPS" => "Operations Desk".to_string(),
        _ => format!("{key} Service Desk"),
    }
}

pub(super) fn issuetype_json(base: &str, i: usize) -> Value {
    let (id, name, subtask, level, desc) = ISSUE_TYPES[i];
    json!({
        "self": format!("{base}/rest/api/3/issuetype/{id}"),
        "id": id,
        "description": desc,
        "iconUrl": format!("{base}/rest/api/2/universal_avatar/view/type/issuetype/avatar/{}?size=medium", 10_300 + i),
        "name": name,
        "subtask": subtask,
        "avatarId": 10_300 + i,
        "hierarchyLevel": level,
    })
}

pub(super) fn project_json(base: &str, p: &Project) -> Value {
    let avatar = |size: &str| {
        let q = if size.is_empty() {
            String::new()
        } else {
            format!("?size={size}")
        };
        format!("{base}/rest/api/3/universal_avatar/view/type/project/avatar/10425{q}")
    };
    json!({
        "self": format!("{base}/rest/api/3/project/{}", p.id),
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

pub(super) fn status_json(base: &str, s: usize) -> Value {
    let (id, name, cat) = STATUSES[s];
    let (cid, ckey, color, cname) = STATUS_CATEGORIES[cat];
    json!({
        "self": format!("{base}/rest/api/3/status/{id}"),
        "description": "",
        "iconUrl": format!("{base}/"),
        "name": name,
        "id": id,
        "statusCategory": {
            "self": format!("{base}/rest/api/3/statuscategory/{cid}"),
            "id": cid,
            "key": ckey,
            "colorName": color,
            "name": cname,
        },
    })
}

impl Store {
    /// The user object of person `i` (null if there is none).
    pub(super) fn user(&self, i: usize) -> Value {
        self.users.get(i).cloned().unwrap_or(Value::Null)
    }

    /// `/project/search` items: every project, with its type and (from the `style` Jira
    /// Cloud sends) whether it is company-managed.
    pub(crate) fn projects_json(&self) -> Vec<Value> {
        self.projects
            .iter()
            .map(|p| {
                let mut v = project_json(&self.base, p);
                if let Some(o) = v.as_object_mut() {
                    o.insert("style".into(), json!("classic"));
                    o.insert("isPrivate".into(), json!(false));
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
        (0..STATUSES.len())
            .map(|s| status_json(&self.base, s))
            .collect()
    }

    /// `/priority/search` items: every priority, with a colour and the default marked.
    pub(crate) fn priorities_json(&self) -> Vec<Value> {
        (0..PRIORITIES.len())
            .map(|p| {
                let mut v = priority_json(&self.base, p);
                if let Some(o) = v.as_object_mut() {
                    o.insert("statusColor".into(), json!("#ff7452"));
                    o.insert("description".into(), json!(""));
                    o.insert("isDefault".into(), json!(p == PRIORITIES.len() / 2));
                }
                v
            })
            .collect()
    }
}

pub(super) fn priority_json(base: &str, p: usize) -> Value {
    let (id, name, icon) = PRIORITIES[p];
    json!({
        "self": format!("{base}/rest/api/3/priority/{id}"),
        "iconUrl": format!("{base}/images/icons/priorities/{icon}.svg"),
        "name": name,
        "id": id,
    })
}

pub(super) fn resolution_json(base: &str, r: usize) -> Value {
    let (id, name, desc) = RESOLUTIONS[r];
    json!({"self": format!("{base}/rest/api/3/resolution/{id}"), "id": id, "description": desc, "name": name})
}

// ---------------------------------------------------------------------------------------------
// SLA
// ---------------------------------------------------------------------------------------------
