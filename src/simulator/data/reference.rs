//! Reference objects: users, projects, issue types, statuses, priorities and resolutions, both
//! as embedded in issues and as the `/users/search`, `/project/search`, `/status` and
//! `/priority/search` listings.

use serde_json::{Value, json};

use super::vocab::{ISSUE_TYPES, PRIORITIES, RESOLUTIONS, STATUS_CATEGORIES, STATUSES};
use super::{Project, Store};

pub(super) fn user_json(
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

pub(super) fn project_name(key: &str) -> String {
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
    pub(super) fn user(&self, i: usize) -> Value {
        self.users.get(i).cloned().unwrap_or(Value::Null)
    }
}

impl Store {
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
