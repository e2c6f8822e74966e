//! The field catalogue (`GET /rest/api/3/field`): every system and custom field the generated
//! issues carry, with Jira's schema.

use serde_json::{Map, Value, json};

/// (id, name, schema type, items, orderable, navigable, searchable)
type SystemField = (
    &'static str,
    &'static str,
    &'static str,
    Option<&'static str>,
    bool,
    bool,
    bool,
);
const SYSTEM_FIELDS: &[SystemField] = &[
    ("summary", "Summary", "string", None, true, true, true),
    (
        "description",
        "Description",
        "string",
        None,
        true,
        true,
        true,
    ),
    (
        "issuetype",
        "Issue Type",
        "issuetype",
        None,
        true,
        true,
        true,
    ),
    ("project", "Project", "project", None, false, true, true),
    ("status", "Status", "status", None, false, true, true),
    (
        "statuscategorychangedate",
        "Status Category Changed",
        "datetime",
        None,
        false,
        true,
        true,
    ),
    ("priority", "Priority", "priority", None, true, true, true),
    (
        "resolution",
        "Resolution",
        "resolution",
        None,
        true,
        true,
        true,
    ),
    (
        "resolutiondate",
        "Resolved",
        "datetime",
        None,
        false,
        true,
        true,
    ),
    ("assignee", "Assignee", "user", None, true, true, true),
    ("reporter", "Reporter", "user", None, true, true, true),
    ("creator", "Creator", "user", None, false, true, true),
    (
        "labels",
        "Labels",
        "array",
        Some("string"),
        true,
        true,
        true,
    ),
    (
        "components",
        "Components",
        "array",
        Some("component"),
        true,
        true,
        true,
    ),
    (
        "fixVersions",
        "Fix versions",
        "array",
        Some("version"),
        true,
        true,
        true,
    ),
    (
        "versions",
        "Affects versions",
        "array",
        Some("version"),
        true,
        true,
        true,
    ),
    ("created", "Created", "datetime", None, false, true, true),
    ("updated", "Updated", "datetime", None, false, true, true),
    ("duedate", "Due date", "date", None, true, true, true),
    (
        "lastViewed",
        "Last Viewed",
        "datetime",
        None,
        false,
        true,
        false,
    ),
    ("watches", "Watchers", "watches", None, false, true, true),
    ("votes", "Votes", "votes", None, false, true, true),
    ("parent", "Parent", "issuelink", None, true, true, true),
    (
        "subtasks",
        "Sub-tasks",
        "array",
        Some("issuelinks"),
        false,
        true,
        false,
    ),
    (
        "issuelinks",
        "Linked Issues",
        "array",
        Some("issuelinks"),
        true,
        true,
        true,
    ),
    (
        "attachment",
        "Attachment",
        "array",
        Some("attachment"),
        true,
        true,
        true,
    ),
    (
        "comment",
        "Comment",
        "comments-page",
        None,
        true,
        false,
        true,
    ),
    (
        "worklog",
        "Log Work",
        "array",
        Some("worklog"),
        true,
        false,
        true,
    ),
    (
        "timetracking",
        "Time tracking",
        "timetracking",
        None,
        true,
        false,
        true,
    ),
    (
        "timespent",
        "Time Spent",
        "number",
        None,
        false,
        true,
        false,
    ),
    (
        "aggregatetimespent",
        "Σ Time Spent",
        "number",
        None,
        false,
        true,
        false,
    ),
    (
        "timeestimate",
        "Remaining Estimate",
        "number",
        None,
        false,
        true,
        false,
    ),
    (
        "aggregatetimeestimate",
        "Σ Remaining Estimate",
        "number",
        None,
        false,
        true,
        false,
    ),
    (
        "timeoriginalestimate",
        "Original estimate",
        "number",
        None,
        false,
        true,
        false,
    ),
    (
        "aggregatetimeoriginalestimate",
        "Σ Original Estimate",
        "number",
        None,
        false,
        true,
        false,
    ),
    ("workratio", "Work Ratio", "number", None, false, true, true),
    ("progress", "Progress", "progress", None, false, true, false),
    (
        "aggregateprogress",
        "Σ Progress",
        "progress",
        None,
        false,
        true,
        false,
    ),
    (
        "environment",
        "Environment",
        "string",
        None,
        true,
        true,
        true,
    ),
    (
        "security",
        "Security Level",
        "securitylevel",
        None,
        true,
        true,
        true,
    ),
    (
        "issuerestriction",
        "Restrict to",
        "issuerestriction",
        None,
        true,
        true,
        false,
    ),
];

/// (id number, name, schema type, items, custom type URI)
const CUSTOM_FIELDS: &[(u64, &str, &str, Option<&str>, &str)] = &[
    (
        10100,
        "Severity",
        "option",
        None,
        "com.atlassian.jira.plugin.system.customfieldtypes:select",
    ),
    (
        10030,
        "Time to first response",
        "sd-servicelevelagreement",
        None,
        "com.atlassian.servicedesk:sd-sla-field",
    ),
    (
        10031,
        "Time to resolution",
        "sd-servicelevelagreement",
        None,
        "com.atlassian.servicedesk:sd-sla-field",
    ),
    (
        10200,
        "Story Points",
        "number",
        None,
        "com.atlassian.jira.plugin.system.customfieldtypes:float",
    ),
    (
        10300,
        "Team",
        "string",
        None,
        "com.atlassian.jira.plugin.system.customfieldtypes:textfield",
    ),
    (
        10301,
        "Team",
        "option",
        None,
        "com.atlassian.jira.plugin.system.customfieldtypes:select",
    ),
    (
        10400,
        "Go-live",
        "date",
        None,
        "com.atlassian.jira.plugin.system.customfieldtypes:datepicker",
    ),
    (
        10401,
        "Escalated at",
        "datetime",
        None,
        "com.atlassian.jira.plugin.system.customfieldtypes:datetime",
    ),
    (
        10500,
        "Affected services",
        "array",
        Some("string"),
        "com.atlassian.jira.plugin.system.customfieldtypes:labels",
    ),
    (
        10600,
        "Request participants",
        "array",
        Some("user"),
        "com.atlassian.servicedesk:sd-request-participants",
    ),
    (
        10700,
        "Notes",
        "string",
        None,
        "com.atlassian.jira.plugin.system.customfieldtypes:textarea",
    ),
];

/// The `GET /rest/api/3/field` answer: every field the generated issues carry.
pub(crate) fn field_catalog() -> Value {
    let mut out = Vec::new();
    for (id, name, ty, items, orderable, navigable, searchable) in SYSTEM_FIELDS {
        let mut schema = Map::new();
        schema.insert("type".into(), json!(ty));
        if let Some(i) = items {
            schema.insert("items".into(), json!(i));
        }
        schema.insert("system".into(), json!(id));
        out.push(json!({
            "id": id,
            "key": id,
            "name": name,
            "custom": false,
            "orderable": orderable,
            "navigable": navigable,
            "searchable": searchable,
            "clauseNames": [id],
            "schema": schema,
        }));
    }
    for (num, name, ty, items, custom) in CUSTOM_FIELDS {
        let id = format!("customfield_{num}");
        let mut schema = Map::new();
        schema.insert("type".into(), json!(ty));
        if let Some(i) = items {
            schema.insert("items".into(), json!(i));
        }
        schema.insert("custom".into(), json!(custom));
        schema.insert("customId".into(), json!(num));
        out.push(json!({
            "id": id,
            "key": id,
            "name": name,
            "untranslatedName": name,
            "custom": true,
            "orderable": true,
            "navigable": true,
            "searchable": true,
            "clauseNames": [format!("cf[{num}]"), name],
            "schema": schema,
        }));
    }
    Value::Array(out)
}
