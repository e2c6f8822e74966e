//! Deterministic issue data for the simulator, and the one place issues are rendered to JSON.
//!
//! Everything is derived from [`SimConfig::seed`](super::SimConfig::seed): each issue gets its own
//! ChaCha8 stream (seed mixed with the issue's index), so adding issues never changes the earlier
//! ones, and the same seed always yields byte-identical JSON (apart from the base URL, which
//! carries the random port). Timestamps are laid out before a fixed reference instant
//! ([`REFERENCE_MS`]) so that the data spans different months and never depends on the clock; only
//! the mutation helpers (`touch`, `add_comment`, …) use the real clock, as Jira would.
//!
//! The payload shapes follow real Jira captures (see `tests/data/*/PROVENANCE.md`): a Cloud v3 issue with ADF
//! description, the `comment` object `{comments, self, maxResults, total, startAt}`, `worklog`,
//! `attachment`, `issuelinks`, JSM SLA custom fields, many null custom fields. Histories carry
//! items whose final values agree with the issue's fields (status, resolution, priority, assignee,
//! summary, labels, severity), and the SLA cycles agree with the status history.
//!
//! Issues are stored compactly (vocabulary indices, instants, small changelog items; ADF bodies
//! are regenerated from a per-object seed) and rendered per request, only for the fields asked
//! for. Generating 2,000 issues takes tens of milliseconds even in a debug build, memory stays
//! small, and links, parents and sub-tasks (stored as issue ids) always show the linked issue's
//! current key and status, so a moved or deleted issue is reflected everywhere, like in Jira.

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap, HashSet};

use chrono::{FixedOffset, TimeZone};
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde_json::{Map, Value, json};

use super::jql::Subject;
use super::{LONE_SURROGATE_MARKER, Part, PoisonKind, SimConfig, deep_bottom_text};

/// The fixed instant generated data is laid out before: 2025-06-01T00:00:00Z.
pub(crate) const REFERENCE_MS: i64 = 1_748_736_000_000;
const HOUR_MS: i64 = 3_600_000;
const DAY_MS: i64 = 24 * HOUR_MS;
/// Issues are created over the ~18 months before [`REFERENCE_MS`].
const SPAN_MS: i64 = 540 * DAY_MS;
/// Seconds logged by worklog `i` of an issue: 15 minutes to 2 hours.
fn worklog_seconds(i: usize) -> i64 {
    900 * ((i as i64 % 8) + 1)
}

/// How many worklogs Jira embeds in an issue (`fields.worklog.maxResults`).
pub(crate) const WORKLOG_EMBED_CAP: usize = 20;
/// How many histories / comments Jira embeds in an issue.
pub(crate) const EMBED_CAP: usize = 100;
/// The `expand` string Jira puts on every issue.
pub(crate) const ISSUE_EXPAND: &str =
    "renderedFields,names,schema,operations,editmeta,changelog,versionedRepresentations";
/// Field id of the "Time to first response" SLA.
pub(crate) const SLA_FIRST_RESPONSE_FIELD: &str = "customfield_10030";
/// Field id of the "Time to resolution" SLA.
pub(crate) const SLA_RESOLUTION_FIELD: &str = "customfield_10031";
const FIRST_RESPONSE_GOAL_MS: i64 = 4 * HOUR_MS;
const RESOLUTION_GOAL_MS: i64 = 48 * HOUR_MS;
const BIG_BIN_SIZE: u64 = 3 * 1024 * 1024;

// ---------------------------------------------------------------------------------------------
// Static vocabularies
// ---------------------------------------------------------------------------------------------

/// (accountId, displayName, emailAddress, timeZone, active)
const PEOPLE: &[(&str, &str, Option<&str>, &str, bool)] = &[
    (
        "5b10a2844c20165700ede21g",
        "Mia Krystof",
        Some("mia@example.com"),
        "Australia/Sydney",
        true,
    ),
    (
        "5d53f3cbc6b9320d9ea5bdc2",
        "José Müller",
        Some("jose.mueller@example.com"),
        "Europe/Berlin",
        true,
    ),
    (
        "557058:f58131cb-b67d-43c7-b30d-6b58d40bd077",
        "Priya Natarajan",
        None,
        "Asia/Kolkata",
        true,
    ),
    (
        "60e5a86a471e61006a4c5a7e",
        "李雷",
        Some("li.lei@example.com"),
        "Asia/Shanghai",
        true,
    ),
    (
        "5fc9e78d2730d800760becc4",
        "Sam O'Neil",
        Some("sam.oneil@example.com"),
        "America/New_York",
        true,
    ),
    (
        "6123ab45cd67ef0012345678",
        "Former Employee",
        None,
        "UTC",
        false,
    ),
    (
        "5e8b7c6d5a4f3e2d1c0b9a88",
        "Zoë Dubois",
        Some("zoe.dubois@example.com"),
        "Europe/Paris",
        true,
    ),
    (
        "712020:0e7b6a4c-9f1d-4c2b-8a3e-5d6f7a8b9c0d",
        "Carla Customer",
        Some("carla@customer.example"),
        "America/Chicago",
        true,
    ),
];
const MIRROR_ACCOUNT_ID: &str = "5f0a1b2c3d4e5f6a7b8c9d01";
const SLA_ACCOUNT_ID: &str = "5f0a1b2c3d4e5f6a7b8c9d02";

/// (id, name, subtask, hierarchyLevel, description)
const ISSUE_TYPES: &[(&str, &str, bool, i64, &str)] = &[
    (
        "10001",
        "Service Request",
        false,
        0,
        "Created by Jira Service Management.",
    ),
    (
        "10002",
        "Incident",
        false,
        0,
        "For system outages or incidents.",
    ),
    (
        "10003",
        "Problem",
        false,
        0,
        "Track underlying causes of incidents.",
    ),
    (
        "10004",
        "Task",
        false,
        0,
        "A small, distinct piece of work.",
    ),
    (
        "10005",
        "Sub-task",
        true,
        -1,
        "A small piece of work that's part of a larger task.",
    ),
];
const SUBTASK_TYPE: usize = 4;

/// (id, name, category index into STATUS_CATEGORIES)
const STATUSES: &[(&str, &str, usize)] = &[
    ("10000", "To Do", 0),
    ("3", "In Progress", 1),
    ("10001", "Waiting for customer", 1),
    ("10002", "Done", 2),
];
const TODO: usize = 0;
const IN_PROGRESS: usize = 1;
const WAITING: usize = 2;
const DONE: usize = 3;
/// (id, key, colorName, name)
const STATUS_CATEGORIES: &[(i64, &str, &str, &str)] = &[
    (2, "new", "blue-gray", "To Do"),
    (4, "indeterminate", "yellow", "In Progress"),
    (3, "done", "green", "Done"),
];
const PRIORITIES: &[(&str, &str, &str)] = &[
    ("1", "Highest", "highest"),
    ("2", "High", "high"),
    ("3", "Medium", "medium"),
    ("4", "Low", "low"),
    ("5", "Lowest", "lowest"),
];
const RESOLUTIONS: &[(&str, &str, &str)] = &[
    ("10000", "Done", "Work has been completed on this issue."),
    ("10001", "Won't Do", "This issue won't be actioned."),
    (
        "10002",
        "Duplicate",
        "The problem is a duplicate of an existing issue.",
    ),
    (
        "10003",
        "Cannot Reproduce",
        "All attempts at reproducing this issue failed.",
    ),
];
const COMPONENTS: &[(&str, &str)] = &[
    ("10010", "Billing"),
    ("10011", "Login"),
    ("10012", "Mobile app"),
    ("10013", "Public API"),
];
/// (id, name, released, releaseDate)
const VERSIONS: &[(&str, &str, bool, &str)] = &[
    ("10100", "2024.1", true, "2024-03-28"),
    ("10101", "2024.2", true, "2024-09-30"),
    ("10102", "2025.1", false, "2025-07-15"),
];
const SEVERITIES: &[(&str, &str)] = &[
    ("10101", "S1 - Critical"),
    ("10102", "S2 - Major"),
    ("10103", "S3 - Minor"),
    ("10104", "S4 - Cosmetic"),
];
const TEAM_OPTIONS: &[(&str, &str)] = &[
    ("10201", "Platform"),
    ("10202", "Payments"),
    ("10203", "Mobile"),
];
const TEAM_TEXT: &[&str] = &[
    "Platform",
    "Payments squad",
    "Équipe Mobile",
    "Tier 2 support",
];
const SERVICES: &[&str] = &[
    "billing-api",
    "auth",
    "search",
    "notifications",
    "web-frontend",
];
const LABELS: &[&str] = &[
    "billing",
    "sso",
    "urgent",
    "customer-x",
    "regression",
    "mobile",
    "api",
    "ui",
    "data-loss",
    "vip",
];
/// (id, name, inward, outward)
const LINK_TYPES: &[(&str, &str, &str, &str)] = &[
    ("10000", "Blocks", "is blocked by", "blocks"),
    ("10001", "Cloners", "is cloned by", "clones"),
    ("10002", "Duplicate", "is duplicated by", "duplicates"),
    ("10003", "Relates", "relates to", "relates to"),
];
const SUBJECTS: &[&str] = &[
    "Login page",
    "Invoice export",
    "Password reset e-mail",
    "Mobile app sync",
    "Payment gateway",
    "Search results",
    "SSO with Okta",
    "CSV import",
    "Dashboard widget",
    "Webhook delivery",
    "Café locator",
    "Report «Umsatz»",
];
const PROBLEMS: &[&str] = &[
    "returns 500 for some users",
    "is very slow since the last release",
    "shows the wrong currency",
    "times out for large accounts",
    "fails with an unknown error",
    "displays garbled characters (naïve → naÃ¯ve)",
    "needs a new field",
    "stopped working after the upgrade",
    "ignores the user's time zone",
    "duplicates every entry",
];
const WORDS: &[&str] = &[
    "customer",
    "cannot",
    "log",
    "in",
    "after",
    "the",
    "latest",
    "deploy",
    "invoice",
    "totals",
    "are",
    "wrong",
    "when",
    "currency",
    "is",
    "EUR",
    "export",
    "times",
    "out",
    "for",
    "large",
    "accounts",
    "café",
    "naïve",
    "résumé",
    "Straße",
    "データ",
    "support",
    "ticket",
    "escalation",
    "payment",
    "gateway",
    "returns",
    "an",
    "error",
    "intermittently",
    "since",
    "Monday",
    "please",
    "check",
    "logs",
    "attached",
];
const EMOJI: &[(&str, &str, &str)] = &[
    (":smile:", "1f604", "😄"),
    (":thumbsup:", "1f44d", "👍"),
    (":warning:", "atlassian-warning", ":warning:"),
    (":fire:", "1f525", "🔥"),
];
const STATUS_LOZENGES: &[(&str, &str)] = &[
    ("IN REVIEW", "blue"),
    ("BLOCKED", "red"),
    ("DONE", "green"),
    ("ON HOLD", "yellow"),
    ("NEW", "neutral"),
];
const PANEL_TYPES: &[&str] = &["info", "note", "warning", "error", "success"];
const CODE_LANGS: &[&str] = &["java", "json", "bash", "sql", "python"];
/// (filename, mimeType)
const ATTACHMENT_NAMES: &[(&str, &str)] = &[
    ("screenshot-1.png", "image/png"),
    ("error-log.txt", "text/plain"),
    ("Invoice March.pdf", "application/pdf"),
    ("export (2).csv", "text/csv"),
    ("har capture.json", "application/json"),
    ("server.log", "text/plain"),
    ("Übersicht.pdf", "application/pdf"),
    ("logs.zip", "application/zip"),
];

// ---------------------------------------------------------------------------------------------
// Time rendering
// ---------------------------------------------------------------------------------------------

/// Renders instants the way Jira does, in the configured offset.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Clock {
    tz: FixedOffset,
}

impl Clock {
    /// A clock for `offset_minutes` east of UTC (falls back to UTC when out of range).
    pub(crate) fn new(offset_minutes: i32) -> Clock {
        let tz = offset_minutes
            .checked_mul(60)
            .and_then(FixedOffset::east_opt)
            .unwrap_or_else(|| FixedOffset::east_opt(0).expect("zero offset is valid"));
        Clock { tz }
    }

    fn fmt(&self, ms: i64, pattern: &str) -> String {
        match self.tz.timestamp_millis_opt(ms).single() {
            Some(d) => d.format(pattern).to_string(),
            None => String::new(),
        }
    }

    /// `2024-03-05T10:15:30.123-0500`
    pub(crate) fn jira(&self, ms: i64) -> String {
        self.fmt(ms, "%Y-%m-%dT%H:%M:%S%.3f%z")
    }

    /// `2024-03-05T10:15:30-0500` (JSM `iso8601`, no millis)
    pub(crate) fn iso(&self, ms: i64) -> String {
        self.fmt(ms, "%Y-%m-%dT%H:%M:%S%z")
    }

    /// `05/Mar/24 10:15 AM`
    pub(crate) fn friendly(&self, ms: i64) -> String {
        self.fmt(ms, "%d/%b/%y %-I:%M %p")
    }

    /// `2024-03-05`
    pub(crate) fn date(&self, ms: i64) -> String {
        self.fmt(ms, "%Y-%m-%d")
    }
}

pub(crate) use crate::time::now_ms;

// ---------------------------------------------------------------------------------------------
// Model
// ---------------------------------------------------------------------------------------------
//
// Issues are kept compact (indices into the vocabularies, instants, small item structs) and
// rendered to JSON per request, only for the fields asked for. ADF bodies are regenerated from a
// per-object seed. This keeps generation of thousands of issues fast even in debug builds and
// the memory small, and makes every rendering reflect the current state (moves, deletions).

/// A project known to the simulator.
#[derive(Clone, Debug)]
pub(crate) struct Project {
    /// Upper-case key, e.g. `SUP`.
    pub key: String,
    /// Numeric id.
    pub id: u64,
    /// Display name.
    pub name: String,
    /// Next issue number to hand out.
    pub next_number: u64,
    /// A Jira Service Management project (`projectTypeKey: service_desk`); otherwise a
    /// Jira Software one, whose issues have no SLAs.
    pub service_desk: bool,
}

/// What the media host needs to serve an attachment (the bytes are computed from the id).
#[derive(Clone, Debug)]
pub(crate) struct Attachment {
    /// Attachment id.
    pub id: u64,
    /// `mimeType`.
    pub mime: String,
    /// Exact size in bytes.
    pub size: u64,
}

type Text = Option<Cow<'static, str>>;

/// One changelog item (`from`/`to` are ids, `*String` the display values).
#[derive(Clone, Debug)]
struct Item {
    field: &'static str,
    fieldtype: &'static str,
    field_id: &'static str,
    from: Text,
    from_string: Text,
    to: Text,
    to_string: Text,
}

/// One changelog history.
#[derive(Clone, Debug)]
pub(crate) struct History {
    id: u64,
    author: usize,
    at: i64,
    items: Vec<Item>,
}

/// One comment; the ADF body is generated from the id unless `text` is set.
#[derive(Clone, Debug)]
pub(crate) struct Comment {
    id: u64,
    author: usize,
    created: i64,
    updated: i64,
    public: bool,
    restricted: bool,
    text: Option<String>,
}

#[derive(Clone, Debug)]
struct AttachmentRec {
    id: u64,
    /// The id as rendered instead of `id` ([`PoisonKind::LongAttachmentId`]).
    long_id: Option<String>,
    filename: String,
    mime: &'static str,
    size: u64,
    author: usize,
    created: i64,
}

#[derive(Clone, Debug)]
struct RemoteRec {
    id: u64,
    confluence: bool,
    num: u32,
    resolved: bool,
}

#[derive(Clone, Debug)]
struct LinkRef {
    id: u64,
    type_idx: usize,
    /// True when the *other* issue is this issue's `outwardIssue`.
    other_is_outward: bool,
    other: u64,
}

/// Optional field values (None / empty renders as null or `[]`).
#[derive(Clone, Debug, Default)]
struct Extras {
    has_description: bool,
    component: Option<usize>,
    fix_version: Option<usize>,
    version: Option<usize>,
    duedate_ms: Option<i64>,
    estimate_secs: Option<i64>,
    watch_count: u32,
    votes: u32,
    story_points: Option<f64>,
    team_text: Option<usize>,
    team_option: Option<usize>,
    go_live_ms: Option<i64>,
    escalated_ms: Option<i64>,
    services: Vec<usize>,
    participants: Vec<usize>,
    notes: bool,
}

type Cycle = (i64, Option<i64>);

/// SLA cycles of a JSM request, measured at `measured_at` for ongoing ones.
#[derive(Clone, Debug, Default)]
struct Sla {
    first_response: Vec<Cycle>,
    resolution: Vec<Cycle>,
    measured_at: i64,
}

/// One issue.
#[derive(Clone, Debug)]
pub(crate) struct Issue {
    /// Numeric id (stable across moves).
    pub id: u64,
    /// Current key.
    pub key: String,
    /// Keys the issue had before moves (upper case).
    pub old_keys: Vec<String>,
    /// Current project key.
    pub project: String,
    /// Number within the current project.
    pub number: u64,
    /// Creation instant (epoch ms).
    pub created_ms: i64,
    /// `updated` (epoch ms).
    pub updated_ms: i64,
    /// Whether this is a JSM request (SLA endpoint answers, SLA fields set).
    pub has_sla: bool,
    /// Histories, oldest first.
    pub histories: Vec<History>,
    /// Comments, oldest first.
    pub comments: Vec<Comment>,
    /// Number of worklogs (rendered by [`Store::worklog_json`], oldest first).
    pub worklogs: usize,
    project_idx: usize,
    content_seed: u64,
    birth_key: String,
    type_idx: usize,
    status: usize,
    status_change_ms: i64,
    resolution: Option<usize>,
    resolution_ms: Option<i64>,
    priority: usize,
    assignee: Option<usize>,
    reporter: usize,
    summary: String,
    labels: Vec<&'static str>,
    severity: Option<usize>,
    extras: Extras,
    attachments: Vec<AttachmentRec>,
    remote_links: Vec<RemoteRec>,
    sla: Sla,
    links: Vec<LinkRef>,
    parent: Option<u64>,
    subtasks: Vec<u64>,
    edits: u64,
    poison: Poisoned,
}

/// What [`PoisonKind`]s do to an issue's rendering and answers (its extra attachments are
/// ordinary [`AttachmentRec`]s; the store knows which of them answer 403).
#[derive(Clone, Debug, Default)]
struct Poisoned {
    /// Nested lists of a deep description.
    deep_description: Option<usize>,
    /// Parts that answer 403.
    forbidden: Vec<Part>,
}

impl Issue {
    /// Whether `part` of this issue answers 403 ([`PoisonKind::Forbidden`]).
    pub(crate) fn forbids(&self, part: Part) -> bool {
        self.poison.forbidden.contains(&part)
    }
}

impl Subject for Issue {
    fn id(&self) -> u64 {
        self.id
    }
    fn project_key(&self) -> &str {
        &self.project
    }
    fn has_key(&self, key: &str) -> bool {
        self.key == key || self.old_keys.iter().any(|k| k == key)
    }
    fn key_sort(&self) -> (&str, u64) {
        (&self.project, self.number)
    }
    fn created_ms(&self) -> i64 {
        self.created_ms
    }
    fn updated_ms(&self) -> i64 {
        self.updated_ms
    }
    fn status_category(&self) -> &str {
        STATUS_CATEGORIES[STATUSES[self.status].2].1
    }
    fn resolved(&self) -> bool {
        self.resolution.is_some()
    }
}

/// Which fields a request asked for.
#[derive(Clone, Debug, Default)]
pub(crate) struct FieldSel {
    all: bool,
    include: Vec<String>,
    exclude: Vec<String>,
}

impl FieldSel {
    /// Every field (`*all`).
    pub(crate) fn all() -> FieldSel {
        FieldSel {
            all: true,
            ..FieldSel::default()
        }
    }

    /// Parses Jira's `fields` list items (`*all`, `*navigable`, `-name`, `id`, `key`, names).
    /// An empty list means every field when `default_all` (GET issue), else `id` only (search).
    pub(crate) fn parse<'a>(
        items: impl IntoIterator<Item = &'a str>,
        default_all: bool,
    ) -> FieldSel {
        let mut sel = FieldSel::default();
        let mut any = false;
        for raw in items {
            let item = raw.trim();
            if item.is_empty() {
                continue;
            }
            any = true;
            match item {
                "*all" | "*navigable" => sel.all = true,
                "id" | "key" => {}
                _ => match item.strip_prefix('-') {
                    Some(ex) => sel.exclude.push(ex.to_string()),
                    None => sel.include.push(item.to_string()),
                },
            }
        }
        if !any {
            sel.all = default_all;
        } else if !sel.all && sel.include.is_empty() && !sel.exclude.is_empty() {
            // Only exclusions: Jira starts from the navigable fields.
            sel.all = true;
        }
        sel
    }

    /// Whether `name` is in the selection.
    pub(crate) fn wants(&self, name: &str) -> bool {
        !self.exclude.iter().any(|e| e == name)
            && (self.all || self.include.iter().any(|i| i == name))
    }

    /// True when only `id`/`key` (or nothing) were asked for.
    pub(crate) fn only_id_key(&self) -> bool {
        !self.all && self.include.is_empty()
    }
}

/// How much changelog to embed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ChangelogMode {
    /// No `changelog` key.
    None,
    /// The newest [`EMBED_CAP`] histories, newest first (what Jira does).
    Capped,
    /// Every history, newest first (the simulator's "truth").
    All,
}

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

/// The whole simulated site.
pub(crate) struct Store {
    /// API base URL, no trailing slash.
    pub base: String,
    seed: u64,
    /// Timestamp renderer.
    pub clock: Clock,
    /// Live issues by id (ascending id = creation order).
    pub issues: BTreeMap<u64, Issue>,
    by_key: HashMap<String, u64>,
    /// Known projects.
    pub projects: Vec<Project>,
    users: Vec<Value>,
    /// The main account's user object (for `/myself`).
    pub mirror_user: Value,
    /// The JSM account's user object.
    pub sla_user: Value,
    /// Attachments of live issues by id.
    pub attachments: HashMap<u64, Attachment>,
    next_issue_id: u64,
    next_history_id: u64,
    next_comment_id: u64,
    next_attachment_id: u64,
    next_remote_link_id: u64,
    rng: ChaCha8Rng,
    /// Ids of issues search does not return (index lag); `GET` still finds them.
    pub hidden: HashSet<u64>,
    /// Attachments whose content answers 403 ([`PoisonKind::ForbiddenAttachment`]).
    pub forbidden_attachments: HashSet<u64>,
    /// Rendered ids of [`PoisonKind::LongAttachmentId`] attachments (their content: 404).
    pub long_attachment_ids: HashSet<String>,
}

fn issue_rng(seed: u64, index: u64) -> ChaCha8Rng {
    ChaCha8Rng::seed_from_u64(seed ^ index.wrapping_add(1).wrapping_mul(0x9E37_79B9_7F4A_7C15))
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

/// Per-issue plan decided before history/comment ids are handed out.
struct Plan {
    index: u64,
    id: u64,
    project: usize,
    number: u64,
    created: i64,
    hist_times: Vec<i64>,
    comment_times: Vec<i64>,
    hist_ids: Vec<u64>,
    comment_ids: Vec<u64>,
    parent: Option<u64>,
    rng: ChaCha8Rng,
    poison: Vec<PoisonKind>,
    worklogs: usize,
}

/// `n` strictly increasing instants after `start`, skewed towards `start`.
fn event_times(rng: &mut ChaCha8Rng, n: usize, start: i64, window: i64) -> Vec<i64> {
    let window = window.max(1) as f64;
    let mut v: Vec<i64> = (0..n)
        .map(|_| {
            let u: f64 = rng.random();
            start + 1 + (window * u * u) as i64
        })
        .collect();
    v.sort_unstable();
    for k in 1..v.len() {
        if v[k] <= v[k - 1] {
            v[k] = v[k - 1] + 1;
        }
    }
    v
}

fn binomial(rng: &mut ChaCha8Rng, n: usize, p: f64) -> usize {
    (0..n).filter(|_| rng.random_bool(p)).count()
}

/// Hands out ids ascending with time across all issues: `times[i][k]` → `ids[i][k]`.
fn ids_by_time(times: &[&[i64]], first: u64) -> Vec<Vec<u64>> {
    let mut all: Vec<(i64, usize, usize)> = times
        .iter()
        .enumerate()
        .flat_map(|(i, ts)| ts.iter().enumerate().map(move |(k, t)| (*t, i, k)))
        .collect();
    all.sort_unstable();
    let mut out: Vec<Vec<u64>> = times.iter().map(|ts| vec![0; ts.len()]).collect();
    for (rank, (_, i, k)) in all.into_iter().enumerate() {
        out[i][k] = first + rank as u64;
    }
    out
}

fn st(s: &'static str) -> Text {
    Some(Cow::Borrowed(s))
}

fn owned(s: String) -> Text {
    Some(Cow::Owned(s))
}

fn item(
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

fn pick<T: Copy>(rng: &mut ChaCha8Rng, items: &[T]) -> T {
    items[rng.random_range(0..items.len())]
}

fn maybe<T>(rng: &mut ChaCha8Rng, p: f64, f: impl FnOnce(&mut ChaCha8Rng) -> T) -> Option<T> {
    if rng.random_bool(p) {
        Some(f(rng))
    } else {
        None
    }
}

impl Store {
    /// Generates the whole site for `cfg`, with `self` URLs under `base`.
    pub(crate) fn generate(cfg: &SimConfig, base: &str) -> Store {
        let base = base.trim_end_matches('/').to_string();
        let clock = Clock::new(cfg.time_zone_offset_minutes);
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
        let projects: Vec<Project> = project_keys
            .iter()
            .enumerate()
            .map(|(i, k)| Project {
                key: k.clone(),
                id: 10_000 + i as u64,
                name: project_name(k),
                next_number: 1,
                service_desk: !cfg
                    .software_projects
                    .iter()
                    .any(|s| s.trim().eq_ignore_ascii_case(k)),
            })
            .collect();
        let users: Vec<Value> = PEOPLE
            .iter()
            .map(|(id, name, email, tz, active)| user_json(&base, id, name, *email, tz, *active))
            .collect();
        let mirror_user = user_json(
            &base,
            MIRROR_ACCOUNT_ID,
            "Jira Mirror",
            Some(&cfg.email),
            "America/New_York",
            true,
        );
        let sla_user = user_json(
            &base,
            SLA_ACCOUNT_ID,
            "JSM Agent",
            Some(&cfg.sla_email),
            "Europe/London",
            true,
        );

        let mut store = Store {
            base,
            seed: cfg.seed,
            clock,
            issues: BTreeMap::new(),
            by_key: HashMap::new(),
            projects,
            users,
            mirror_user,
            sla_user,
            attachments: HashMap::new(),
            next_issue_id: 10_000,
            next_history_id: 10_000,
            next_comment_id: 10_000,
            next_attachment_id: 10_000,
            next_remote_link_id: 10_000,
            rng: ChaCha8Rng::seed_from_u64(cfg.seed ^ 0x005E_ED0F_3A7A_7105),
            hidden: HashSet::new(),
            forbidden_attachments: HashSet::new(),
            long_attachment_ids: HashSet::new(),
        };

        // Phase 1: plans (instants, parents) per issue.
        let n = cfg.issues;
        let slot = if n == 0 {
            SPAN_MS
        } else {
            (SPAN_MS / n as i64).max(1)
        };
        let mut plans: Vec<Plan> = Vec::with_capacity(n);
        let mut parents_pool: Vec<Vec<u64>> = vec![Vec::new(); store.projects.len()];
        for i in 0..n {
            let mut rng = issue_rng(cfg.seed, i as u64);
            let project = i % store.projects.len();
            let number = store.projects[project].next_number;
            store.projects[project].next_number += 1;
            let id = store.next_issue_id;
            store.next_issue_id += 1;
            let created =
                REFERENCE_MS - SPAN_MS + i as i64 * slot + rng.random_range(0..(slot / 2).max(1));
            let (hc, cc, window) = match cfg.big_issues.get(i) {
                Some(b) => (b.histories, b.comments, REFERENCE_MS - created),
                None => {
                    let w = rng
                        .random_range(HOUR_MS..90 * DAY_MS)
                        .min(REFERENCE_MS - created);
                    (
                        binomial(&mut rng, cfg.max_histories, 0.5),
                        binomial(&mut rng, cfg.max_comments, 0.6),
                        w,
                    )
                }
            };
            let poison: Vec<PoisonKind> = cfg
                .poison
                .iter()
                .filter(|p| p.issue == i)
                .map(|p| p.kind.clone())
                .collect();
            // A closed sub-resource must be one the mirror asks for: more than a page embeds.
            let forced = |part: Part, n: usize| {
                if poison.contains(&PoisonKind::Forbidden { part }) {
                    n.max(EMBED_CAP + 20)
                } else {
                    n
                }
            };
            let (hc, cc) = (forced(Part::Changelog, hc), forced(Part::Comments, cc));
            let hist_times = event_times(&mut rng, hc, created, window);
            let comment_times = event_times(&mut rng, cc, created, window);
            let pool = &parents_pool[project];
            let parent = if i >= cfg.big_issues.len() && !pool.is_empty() && rng.random_bool(0.08) {
                Some(pool[rng.random_range(0..pool.len())])
            } else {
                parents_pool[project].push(id);
                None
            };
            // Worklogs come from the id, not the issue's random stream, so adding them left
            // every other generated value as it was.
            let worklogs = match cfg.big_issues.get(i) {
                Some(b) if b.worklogs > 0 => b.worklogs,
                _ => (id.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 61) as usize % 4,
            };
            let closed = PoisonKind::Forbidden {
                part: Part::Worklogs,
            };
            let worklogs = if poison.contains(&closed) {
                worklogs.max(WORKLOG_EMBED_CAP + 5)
            } else {
                worklogs
            };
            plans.push(Plan {
                worklogs,
                index: i as u64,
                id,
                project,
                number,
                created,
                hist_times,
                comment_times,
                hist_ids: Vec::new(),
                comment_ids: Vec::new(),
                parent,
                rng,
                poison,
            });
        }
        // Phase 2: history and comment ids ascending with time across the site, like Jira's.
        let ht: Vec<&[i64]> = plans.iter().map(|p| p.hist_times.as_slice()).collect();
        let hist_ids = ids_by_time(&ht, store.next_history_id);
        let ct: Vec<&[i64]> = plans.iter().map(|p| p.comment_times.as_slice()).collect();
        let comment_ids = ids_by_time(&ct, store.next_comment_id);
        store.next_history_id += plans.iter().map(|p| p.hist_times.len() as u64).sum::<u64>();
        store.next_comment_id += plans
            .iter()
            .map(|p| p.comment_times.len() as u64)
            .sum::<u64>();
        for ((p, h), c) in plans.iter_mut().zip(hist_ids).zip(comment_ids) {
            p.hist_ids = h;
            p.comment_ids = c;
        }
        // Phase 3: issue state.
        for mut plan in plans {
            let hostile = cfg.hostile_attachments && plan.index == 0;
            let issue = store.build_issue(&mut plan, REFERENCE_MS, true, hostile);
            store.insert(issue);
        }
        // Phase 4: links between issues.
        let mut link_rng = ChaCha8Rng::seed_from_u64(cfg.seed ^ 0x114C_1A55);
        let ids: Vec<u64> = store.issues.keys().copied().collect();
        let mut next_link_id = 10_000u64;
        for (pos, id) in ids.iter().enumerate() {
            if pos == 0 || !link_rng.random_bool(0.15) {
                continue;
            }
            let other = ids[link_rng.random_range(0..pos)];
            let type_idx = link_rng.random_range(0..LINK_TYPES.len());
            let link_id = next_link_id;
            next_link_id += 1;
            if let Some(a) = store.issues.get_mut(id) {
                a.links.push(LinkRef {
                    id: link_id,
                    type_idx,
                    other_is_outward: true,
                    other,
                });
            }
            if let Some(b) = store.issues.get_mut(&other) {
                b.links.push(LinkRef {
                    id: link_id,
                    type_idx,
                    other_is_outward: false,
                    other: *id,
                });
            }
        }
        store
    }

    fn insert(&mut self, issue: Issue) {
        if let Some(parent) = issue.parent.and_then(|p| self.issues.get_mut(&p)) {
            parent.subtasks.push(issue.id);
        }
        for a in issue.attachments.iter().filter(|a| a.long_id.is_none()) {
            self.attachments.insert(
                a.id,
                Attachment {
                    id: a.id,
                    mime: a.mime.to_string(),
                    size: a.size,
                },
            );
        }
        self.by_key.insert(issue.key.clone(), issue.id);
        self.issues.insert(issue.id, issue);
    }

    /// Builds one issue from its plan: replays a random workflow so that the histories end in
    /// the current field values. `now` is the instant ongoing SLA cycles are measured at.
    fn build_issue(&mut self, plan: &mut Plan, now: i64, rich: bool, hostile: bool) -> Issue {
        let users = PEOPLE.len();
        let created = plan.created;
        let rng = &mut plan.rng;

        // --- initial state -------------------------------------------------------------
        let type_idx = if plan.parent.is_some() {
            SUBTASK_TYPE
        } else {
            rng.random_range(0..SUBTASK_TYPE)
        };
        let reporter = rng.random_range(0..users);
        let mut status = TODO;
        let mut resolution: Option<usize> = None;
        let mut priority = rng.random_range(0..PRIORITIES.len());
        let mut assignee = maybe(rng, 0.7, |r| r.random_range(0..users));
        let mut summary = format!("{} {}", pick(rng, SUBJECTS), pick(rng, PROBLEMS));
        if plan.poison.contains(&PoisonKind::LoneSurrogate) {
            // An emoji cut in half; histories that rename the issue keep the stem, marker and all.
            summary.push(' ');
            summary.push(LONE_SURROGATE_MARKER);
        }
        let mut labels: Vec<&'static str> = Vec::new();
        for _ in 0..rng.random_range(0..3) {
            let l = pick(rng, LABELS);
            if !labels.contains(&l) {
                labels.push(l);
            }
        }
        let mut severity = maybe(rng, 0.7, |r| r.random_range(0..SEVERITIES.len()));
        let mut status_change_ms = created;
        let mut resolution_cycles: Vec<Cycle> = vec![(created, None)];

        // --- histories: a random walk over the workflow and the fields ---------------------
        let mut histories = Vec::with_capacity(plan.hist_times.len());
        for (t, hid) in plan.hist_times.iter().zip(&plan.hist_ids) {
            let author = rng.random_range(0..users);
            let mut items = Vec::new();
            let roll = rng.random_range(0..100);
            let wants_status = roll < 35 && !(status == DONE && rng.random_bool(0.75));
            if wants_status {
                let choices: &[usize] = match status {
                    TODO => &[IN_PROGRESS, IN_PROGRESS, WAITING, DONE],
                    IN_PROGRESS => &[WAITING, DONE, DONE, TODO],
                    WAITING => &[IN_PROGRESS, DONE],
                    _ => &[IN_PROGRESS],
                };
                let next = pick(rng, choices);
                let (from_id, from_name, from_cat) = STATUSES[status];
                let (to_id, to_name, to_cat) = STATUSES[next];
                items.push(item(
                    "status",
                    "status",
                    st(from_id),
                    st(from_name),
                    st(to_id),
                    st(to_name),
                ));
                if from_cat != to_cat {
                    status_change_ms = *t;
                }
                if next == DONE {
                    let r = rng.random_range(0..RESOLUTIONS.len());
                    items.push(item(
                        "resolution",
                        "resolution",
                        None,
                        None,
                        st(RESOLUTIONS[r].0),
                        st(RESOLUTIONS[r].1),
                    ));
                    resolution = Some(r);
                    if let Some(last) = resolution_cycles.last_mut() {
                        last.1 = Some(*t);
                    }
                } else if status == DONE {
                    if let Some(r) = resolution.take() {
                        items.push(item(
                            "resolution",
                            "resolution",
                            st(RESOLUTIONS[r].0),
                            st(RESOLUTIONS[r].1),
                            None,
                            None,
                        ));
                    }
                    resolution_cycles.push((*t, None));
                }
                status = next;
            } else if roll < 50 {
                let mut next = rng.random_range(0..PRIORITIES.len());
                if next == priority {
                    next = (next + 1) % PRIORITIES.len();
                }
                let (a, b) = (PRIORITIES[priority], PRIORITIES[next]);
                items.push(item(
                    "priority",
                    "priority",
                    st(a.0),
                    st(a.1),
                    st(b.0),
                    st(b.1),
                ));
                priority = next;
            } else if roll < 70 {
                let mut next = maybe(rng, 0.85, |r| r.random_range(0..users));
                if next == assignee {
                    next = Some(assignee.map_or(0, |a| (a + 1) % users));
                }
                items.push(item(
                    "assignee",
                    "assignee",
                    assignee.and_then(|a| st(PEOPLE[a].0)),
                    assignee.and_then(|a| st(PEOPLE[a].1)),
                    next.and_then(|a| st(PEOPLE[a].0)),
                    next.and_then(|a| st(PEOPLE[a].1)),
                ));
                assignee = next;
            } else if roll < 78 {
                let stem = summary.split(" (v").next().unwrap_or_default().to_string();
                let next = format!("{stem} (v{})", histories.len() + 2);
                items.push(item(
                    "summary",
                    "summary",
                    None,
                    owned(summary.clone()),
                    None,
                    owned(next.clone()),
                ));
                summary = next;
            } else if roll < 90 {
                let before = labels.join(" ");
                let l = pick(rng, LABELS);
                match labels.iter().position(|x| *x == l) {
                    Some(pos) => {
                        labels.remove(pos);
                    }
                    None => labels.push(l),
                }
                items.push(item(
                    "labels",
                    "labels",
                    None,
                    owned(before),
                    None,
                    owned(labels.join(" ")),
                ));
            } else {
                let next = rng.random_range(0..SEVERITIES.len());
                items.push(item(
                    "Severity",
                    "customfield_10100",
                    severity.and_then(|s| st(SEVERITIES[s].0)),
                    severity.and_then(|s| st(SEVERITIES[s].1)),
                    st(SEVERITIES[next].0),
                    st(SEVERITIES[next].1),
                ));
                severity = Some(next);
            }
            histories.push(History {
                id: *hid,
                author,
                at: *t,
                items,
            });
        }

        // --- comments -------------------------------------------------------------------
        let mut comments = Vec::with_capacity(plan.comment_times.len());
        let mut first_public_reply: Option<i64> = None;
        let mut last_comment_update = created;
        for (t, cid) in plan.comment_times.iter().zip(&plan.comment_ids) {
            let author = rng.random_range(0..users);
            let public = rng.random_bool(0.7);
            if public && author != reporter && first_public_reply.is_none() {
                first_public_reply = Some(*t);
            }
            let updated = if rng.random_bool(0.1) {
                t + rng.random_range(60_000..3 * HOUR_MS)
            } else {
                *t
            };
            last_comment_update = last_comment_update.max(updated);
            let restricted = !public && rng.random_bool(0.5);
            comments.push(Comment {
                id: *cid,
                author,
                created: *t,
                updated,
                public,
                restricted,
                text: None,
            });
        }

        let last_history = plan.hist_times.last().copied().unwrap_or(created);
        let updated_ms = created.max(last_history).max(last_comment_update);

        // --- attachments ----------------------------------------------------------------
        let mut attachments = Vec::new();
        let mut add_attachment = |store: &mut Store,
                                  rng: &mut ChaCha8Rng,
                                  name: String,
                                  mime: &'static str,
                                  size: u64| {
            let id = store.next_attachment_id;
            store.next_attachment_id += 1;
            let at = created
                + (((updated_ms - created).max(1) as f64) * rng.random::<f64>() * 0.5) as i64;
            let author = rng.random_range(0..users);
            attachments.push(AttachmentRec {
                id,
                long_id: None,
                filename: name,
                mime,
                size,
                author,
                created: at,
            });
        };
        if hostile {
            let hostile_set: [(String, &'static str, u64); 6] = [
                ("../../x".into(), "text/plain", 100),
                ("con".into(), "application/octet-stream", 200),
                (format!("{}.txt", "a".repeat(296)), "text/plain", 300),
                ("rÃ©sumÃ©\u{7f}.pdf".into(), "application/pdf", 1234),
                ("..".into(), "application/octet-stream", 50),
                ("big.bin".into(), "application/octet-stream", BIG_BIN_SIZE),
            ];
            for (name, mime, size) in hostile_set {
                add_attachment(self, rng, name, mime, size);
            }
        } else if rich && rng.random_bool(0.3) {
            for _ in 0..rng.random_range(1..=3) {
                let (name, mime) = pick(rng, ATTACHMENT_NAMES);
                let size = rng.random_range(100..=20_480);
                add_attachment(self, rng, name.to_string(), mime, size);
            }
        }
        let mut poisoned = Poisoned::default();
        let mut long_ids = Vec::new();
        for kind in &plan.poison {
            match kind {
                PoisonKind::DeepDescription { depth } => poisoned.deep_description = Some(*depth),
                PoisonKind::Forbidden { part } => poisoned.forbidden.push(*part),
                PoisonKind::ForbiddenAttachment => {
                    let id = self.next_attachment_id;
                    add_attachment(self, rng, "restricted.pdf".into(), "application/pdf", 2048);
                    self.forbidden_attachments.insert(id);
                }
                PoisonKind::LongAttachmentId { len } => {
                    long_ids.push((self.next_attachment_id, long_id(plan.id, *len)));
                    add_attachment(self, rng, "long-id.txt".into(), "text/plain", 512);
                }
                PoisonKind::LoneSurrogate => {}
            }
        }
        for (id, digits) in long_ids {
            self.long_attachment_ids.insert(digits.clone());
            if let Some(a) = attachments.iter_mut().find(|a| a.id == id) {
                a.long_id = Some(digits);
            }
        }

        // --- remote links ---------------------------------------------------------------
        let mut remote_links = Vec::new();
        if rich {
            let n = match rng.random_range(0..100) {
                0..60 => 0,
                60..85 => 1,
                _ => 2,
            };
            for k in 0..n {
                let id = self.next_remote_link_id;
                self.next_remote_link_id += 1;
                let confluence = k == 0 && rng.random_bool(0.5);
                remote_links.push(RemoteRec {
                    id,
                    confluence,
                    num: rng.random_range(1..999_999),
                    resolved: rng.random_bool(0.5),
                });
            }
        }

        // --- SLA: cycles follow the status history -----------------------------------------
        let has_sla = self.projects[plan.project].service_desk && !plan.number.is_multiple_of(7);
        let sla = if has_sla {
            let fr_stop = first_public_reply.or(if status == DONE {
                resolution_cycles[0].1
            } else {
                None
            });
            Sla {
                first_response: vec![(created, fr_stop)],
                resolution: resolution_cycles.clone(),
                measured_at: now,
            }
        } else {
            Sla::default()
        };

        // --- optional fields ------------------------------------------------------------
        let extras = Extras {
            has_description: rng.random_bool(0.9),
            component: if rich {
                maybe(rng, 0.6, |r| r.random_range(0..COMPONENTS.len()))
            } else {
                None
            },
            fix_version: if rich {
                maybe(rng, 0.3, |r| r.random_range(0..VERSIONS.len()))
            } else {
                None
            },
            version: if rich {
                maybe(rng, 0.2, |r| r.random_range(0..VERSIONS.len()))
            } else {
                None
            },
            duedate_ms: if rich {
                maybe(rng, 0.25, |r| created + r.random_range(1..60) * DAY_MS)
            } else {
                None
            },
            estimate_secs: if rich {
                maybe(rng, 0.2, |r| r.random_range(1..9) * 3600)
            } else {
                None
            },
            watch_count: rng.random_range(0..5),
            votes: rng.random_range(0..3),
            story_points: if rich {
                maybe(rng, 0.4, |r| pick(r, &[0.5, 1.0, 2.0, 3.0, 5.0, 8.0]))
            } else {
                None
            },
            team_text: if rich {
                maybe(rng, 0.4, |r| r.random_range(0..TEAM_TEXT.len()))
            } else {
                None
            },
            team_option: if rich {
                maybe(rng, 0.5, |r| r.random_range(0..TEAM_OPTIONS.len()))
            } else {
                None
            },
            go_live_ms: if rich {
                maybe(rng, 0.3, |r| created + r.random_range(7..120) * DAY_MS)
            } else {
                None
            },
            escalated_ms: if rich {
                maybe(rng, 0.2, |r| created + r.random_range(HOUR_MS..10 * DAY_MS))
            } else {
                None
            },
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
                    .map(|_| rng.random_range(0..users))
                    .collect()
            } else {
                Vec::new()
            },
            notes: rich && rng.random_bool(0.3),
        };
        let project = &self.projects[plan.project];
        let key = format!("{}-{}", project.key, plan.number);
        Issue {
            id: plan.id,
            key: key.clone(),
            old_keys: Vec::new(),
            project: project.key.clone(),
            number: plan.number,
            created_ms: created,
            updated_ms,
            has_sla,
            histories,
            comments,
            worklogs: plan.worklogs,
            project_idx: plan.project,
            content_seed: rng.random(),
            birth_key: key,
            type_idx,
            status,
            status_change_ms,
            resolution,
            resolution_ms: if status == DONE {
                resolution_cycles.last().and_then(|c| c.1)
            } else {
                None
            },
            priority,
            assignee,
            reporter,
            summary,
            labels,
            severity,
            extras,
            attachments,
            remote_links,
            sla,
            links: Vec::new(),
            parent: plan.parent,
            subtasks: Vec::new(),
            edits: 0,
            poison: poisoned,
        }
    }

    // -----------------------------------------------------------------------------------------
    // Lookup
    // -----------------------------------------------------------------------------------------

    /// Finds a live issue by key (current or former, case-insensitive) or numeric id.
    pub(crate) fn find(&self, key_or_id: &str) -> Option<&Issue> {
        self.resolve(key_or_id).and_then(|id| self.issues.get(&id))
    }

    fn resolve(&self, key_or_id: &str) -> Option<u64> {
        let k = key_or_id.trim();
        if !k.is_empty() && k.bytes().all(|b| b.is_ascii_digit()) {
            let id = k.parse::<u64>().ok()?;
            return self.issues.contains_key(&id).then_some(id);
        }
        self.by_key.get(&k.to_ascii_uppercase()).copied()
    }

    /// Whether a project key (upper case) exists.
    pub(crate) fn has_project(&self, key: &str) -> bool {
        self.projects.iter().any(|p| p.key == key)
    }

    /// Keys of live issues in creation order.
    pub(crate) fn keys(&self) -> Vec<String> {
        self.issues.values().map(|i| i.key.clone()).collect()
    }

    // -----------------------------------------------------------------------------------------
    // Rendering
    // -----------------------------------------------------------------------------------------

    fn user(&self, i: usize) -> Value {
        self.users.get(i).cloned().unwrap_or(Value::Null)
    }

    /// Worklog `i` (0-based, oldest first) of `issue` as Jira renders it: started an hour
    /// apart from an hour after the issue was created, 15 minutes to 2 hours each, every
    /// third one without a comment.
    pub(crate) fn worklog_json(&self, issue: &Issue, i: usize) -> Value {
        let id = issue.id * 1000 + i as u64 + 1;
        let author = self.user((issue.id as usize + i) % PEOPLE.len());
        let started = issue.created_ms + (i as i64 + 1) * HOUR_MS;
        let created = started + 5 * 60_000;
        let seconds = worklog_seconds(i);
        let spent = match (seconds / 3600, (seconds % 3600) / 60) {
            (0, m) => format!("{m}m"),
            (h, 0) => format!("{h}h"),
            (h, m) => format!("{h}h {m}m"),
        };
        let comment = if i % 3 == 2 {
            Value::Null
        } else {
            json!({"type": "doc", "version": 1, "content": [
                {"type": "paragraph", "content": [
                    {"type": "text", "text": format!("Worked on {} ({})", issue.key, i + 1)}
                ]}
            ]})
        };
        let mut v = json!({
            "self": format!("{}/rest/api/3/issue/{}/worklog/{id}", self.base, issue.id),
            "author": author,
            "updateAuthor": author,
            "created": self.clock.jira(created),
            "updated": self.clock.jira(created),
            "started": self.clock.jira(started),
            "timeSpent": spent,
            "timeSpentSeconds": seconds,
            "id": id.to_string(),
            "issueId": issue.id.to_string(),
        });
        if !comment.is_null()
            && let Some(o) = v.as_object_mut()
        {
            o.insert("comment".into(), comment);
        }
        v
    }

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

    /// A comment as Jira renders it (v3: ADF body).
    pub(crate) fn comment_json(&self, issue: &Issue, c: &Comment) -> Value {
        let body = match &c.text {
            Some(t) if t.is_empty() => json!({"type": "doc", "version": 1, "content": []}),
            Some(t) => json!({"type": "doc", "version": 1, "content": [
                {"type": "paragraph", "content": [{"type": "text", "text": t}]}
            ]}),
            None => {
                let mut rng =
                    ChaCha8Rng::seed_from_u64(self.seed ^ c.id.wrapping_mul(0x2545_F491_4F6C_DD1D));
                comment_body(&mut rng, &issue.birth_key, &self.base)
            }
        };
        let author = self.user(c.author);
        let mut v = json!({
            "self": format!("{}/rest/api/3/issue/{}/comment/{}", self.base, issue.id, c.id),
            "id": c.id.to_string(),
            "author": author,
            "body": body,
            "updateAuthor": author,
            "created": self.clock.jira(c.created),
            "updated": self.clock.jira(c.updated),
            "jsdPublic": c.public,
        });
        if c.restricted
            && let Some(o) = v.as_object_mut()
        {
            o.insert(
                "visibility".into(),
                json!({"type": "role", "value": "Administrators", "identifier": "Administrators"}),
            );
        }
        v
    }

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

    fn sla_field(&self, issue: &Issue, which: &str) -> Value {
        if !issue.has_sla {
            return Value::Null;
        }
        let (metric, name, goal, cycles, paused) = if which == SLA_FIRST_RESPONSE_FIELD {
            (
                "1",
                "Time to first response",
                FIRST_RESPONSE_GOAL_MS,
                &issue.sla.first_response,
                false,
            )
        } else {
            (
                "2",
                "Time to resolution",
                RESOLUTION_GOAL_MS,
                &issue.sla.resolution,
                issue.status == WAITING,
            )
        };
        sla_value(
            &self.base,
            self.clock,
            issue.id,
            metric,
            name,
            goal,
            cycles,
            issue.sla.measured_at,
            paused,
        )
    }

    /// The SLA values of a JSM request (empty for other issues), as in the custom fields.
    pub(crate) fn sla_values(&self, issue: &Issue) -> Vec<Value> {
        if !issue.has_sla {
            return Vec::new();
        }
        vec![
            self.sla_field(issue, SLA_FIRST_RESPONSE_FIELD),
            self.sla_field(issue, SLA_RESOLUTION_FIELD),
        ]
    }

    fn brief(&self, other: &Issue) -> Value {
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

    // -----------------------------------------------------------------------------------------
    // Mutations (real clock)
    // -----------------------------------------------------------------------------------------

    /// Sets `updated` to now, strictly after the previous value (so two edits within one
    /// millisecond still move the issue forward).
    fn bump(issue: &mut Issue) -> i64 {
        let t = now_ms().max(issue.updated_ms + 1);
        issue.updated_ms = t;
        t
    }

    /// A live issue by key or id, to change it.
    fn issue_mut(&mut self, key: &str) -> Option<&mut Issue> {
        self.resolve(key).and_then(|id| self.issues.get_mut(&id))
    }

    /// The id and a random author of a new history.
    fn next_history(&mut self) -> (u64, usize) {
        let hid = self.next_history_id;
        self.next_history_id += 1;
        (hid, self.rng.random_range(0..PEOPLE.len()))
    }

    /// Appends one history (alternately a summary and a priority change) and bumps `updated`.
    pub(crate) fn touch(&mut self, key: &str) -> Option<i64> {
        self.resolve(key)?;
        let (hid, author) = self.next_history();
        let issue = self.issue_mut(key)?;
        let t = Store::bump(issue);
        issue.edits += 1;
        let change = if issue.edits % 2 == 1 {
            let old = issue.summary.clone();
            let new = format!(
                "{} (edit {})",
                old.split(" (edit ").next().unwrap_or_default(),
                issue.edits
            );
            issue.summary = new.clone();
            item("summary", "summary", None, owned(old), None, owned(new))
        } else {
            let old = issue.priority;
            let new = (old + 1) % PRIORITIES.len();
            issue.priority = new;
            let (a, b) = (PRIORITIES[old], PRIORITIES[new]);
            item("priority", "priority", st(a.0), st(a.1), st(b.0), st(b.1))
        };
        issue.histories.push(History {
            id: hid,
            author,
            at: t,
            items: vec![change],
        });
        Some(t)
    }

    /// Forces `updated`.
    pub(crate) fn set_updated(&mut self, key: &str, epoch_ms: i64) -> bool {
        self.issue_mut(key)
            .map(|i| i.updated_ms = epoch_ms)
            .is_some()
    }

    /// Measures the ongoing SLA cycles `by_ms` later, without touching `updated` (Jira's SLA
    /// clocks run between edits). False if the issue does not exist.
    pub(crate) fn advance_sla(&mut self, key: &str, by_ms: i64) -> bool {
        self.issue_mut(key)
            .map(|i| i.sla.measured_at = i.sla.measured_at.saturating_add(by_ms))
            .is_some()
    }

    /// Moves an issue to Done with a resolution (one history), stops its open SLA cycles and
    /// bumps `updated`, like a resolution in Jira. `None` if it does not exist.
    pub(crate) fn resolve_issue(&mut self, key: &str) -> Option<i64> {
        let current = self.issue_mut(key)?;
        if current.status == DONE {
            return Some(current.updated_ms);
        }
        let (hid, author) = self.next_history();
        let issue = self.issue_mut(key)?;
        let t = Store::bump(issue);
        let (from_id, from_name, from_cat) = STATUSES[issue.status];
        let (to_id, to_name, to_cat) = STATUSES[DONE];
        let r = 0;
        issue.histories.push(History {
            id: hid,
            author,
            at: t,
            items: vec![
                item(
                    "status",
                    "status",
                    st(from_id),
                    st(from_name),
                    st(to_id),
                    st(to_name),
                ),
                item(
                    "resolution",
                    "resolution",
                    None,
                    None,
                    st(RESOLUTIONS[r].0),
                    st(RESOLUTIONS[r].1),
                ),
            ],
        });
        if from_cat != to_cat {
            issue.status_change_ms = t;
        }
        issue.status = DONE;
        issue.resolution = Some(r);
        issue.resolution_ms = Some(t);
        for cycles in [&mut issue.sla.first_response, &mut issue.sla.resolution] {
            for c in cycles.iter_mut().filter(|c| c.1.is_none()) {
                c.1 = Some(t.max(c.0));
            }
        }
        Some(t)
    }

    /// Adds a public comment with `text` and bumps `updated`.
    pub(crate) fn add_comment(&mut self, key: &str, text: &str) -> Option<i64> {
        let id = self.resolve(key)?;
        let cid = self.next_comment_id;
        self.next_comment_id += 1;
        let author = self.rng.random_range(0..PEOPLE.len());
        let issue = self.issues.get_mut(&id)?;
        let t = Store::bump(issue);
        issue.comments.push(Comment {
            id: cid,
            author,
            created: t,
            updated: t,
            public: true,
            restricted: false,
            text: Some(text.to_string()),
        });
        Some(t)
    }

    fn project_index(&mut self, key: &str) -> usize {
        let k = key.trim().to_ascii_uppercase();
        if let Some(i) = self.projects.iter().position(|p| p.key == k) {
            return i;
        }
        let id = self.projects.iter().map(|p| p.id).max().unwrap_or(9_999) + 1;
        self.projects.push(Project {
            name: project_name(&k),
            key: k,
            id,
            next_number: 1,
            service_desk: true,
        });
        self.projects.len() - 1
    }

    /// Creates a fresh issue (created = updated = now) in `project` (created if unknown).
    pub(crate) fn create_issue(&mut self, project: &str) -> String {
        let p = self.project_index(project);
        let number = self.projects[p].next_number;
        self.projects[p].next_number += 1;
        let id = self.next_issue_id;
        self.next_issue_id += 1;
        let now = now_ms();
        let mut plan = Plan {
            index: id,
            id,
            project: p,
            number,
            created: now,
            hist_times: Vec::new(),
            comment_times: Vec::new(),
            hist_ids: Vec::new(),
            comment_ids: Vec::new(),
            parent: None,
            rng: issue_rng(self.seed ^ 0xC4EA7E, id),
            poison: Vec::new(),
            worklogs: 0,
        };
        let issue = self.build_issue(&mut plan, now, false, false);
        let key = issue.key.clone();
        self.insert(issue);
        key
    }

    /// Deletes an issue; its keys, attachments and links disappear.
    pub(crate) fn delete_issue(&mut self, key: &str) -> bool {
        let Some(id) = self.resolve(key) else {
            return false;
        };
        let Some(issue) = self.issues.remove(&id) else {
            return false;
        };
        self.by_key.retain(|_, v| *v != id);
        for a in issue.attachments {
            self.attachments.remove(&a.id);
        }
        true
    }

    /// Moves an issue to `new_project` under a new key; the old key keeps resolving to it.
    pub(crate) fn move_issue(&mut self, key: &str, new_project: &str) -> Option<String> {
        let id = self.resolve(key)?;
        let p = self.project_index(new_project);
        let number = self.projects[p].next_number;
        self.projects[p].next_number += 1;
        let new_proj = self.projects[p].clone();
        let hid = self.next_history_id;
        self.next_history_id += 1;
        let author = self.rng.random_range(0..PEOPLE.len());
        let new_key = format!("{}-{}", new_proj.key, number);
        let old_proj = self
            .issues
            .get(&id)
            .map(|i| self.projects[i.project_idx].clone())?;
        let issue = self.issues.get_mut(&id)?;
        let old_key = std::mem::replace(&mut issue.key, new_key.clone());
        issue.old_keys.push(old_key.clone());
        issue.project = new_proj.key.clone();
        issue.project_idx = p;
        issue.number = number;
        let t = Store::bump(issue);
        issue.histories.push(History {
            id: hid,
            author,
            at: t,
            items: vec![
                item(
                    "Key",
                    "issuekey",
                    None,
                    owned(old_key),
                    None,
                    owned(new_key.clone()),
                ),
                item(
                    "project",
                    "project",
                    owned(old_proj.id.to_string()),
                    owned(old_proj.name),
                    owned(new_proj.id.to_string()),
                    owned(new_proj.name),
                ),
            ],
        });
        self.by_key.insert(new_key.clone(), id);
        Some(new_key)
    }
}

fn project_name(key: &str) -> String {
    match key {
        "SUP" => "Customer Support".to_string(),
        "OPS" => "Operations Desk".to_string(),
        _ => format!("{key} Service Desk"),
    }
}

// ---------------------------------------------------------------------------------------------
// JSON pieces
// ---------------------------------------------------------------------------------------------

fn issuetype_json(base: &str, i: usize) -> Value {
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

fn project_json(base: &str, p: &Project) -> Value {
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

fn status_json(base: &str, s: usize) -> Value {
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

fn priority_json(base: &str, p: usize) -> Value {
    let (id, name, icon) = PRIORITIES[p];
    json!({
        "self": format!("{base}/rest/api/3/priority/{id}"),
        "iconUrl": format!("{base}/images/icons/priorities/{icon}.svg"),
        "name": name,
        "id": id,
    })
}

fn resolution_json(base: &str, r: usize) -> Value {
    let (id, name, desc) = RESOLUTIONS[r];
    json!({"self": format!("{base}/rest/api/3/resolution/{id}"), "id": id, "description": desc, "name": name})
}

// ---------------------------------------------------------------------------------------------
// SLA
// ---------------------------------------------------------------------------------------------

fn date_dto(clock: Clock, ms: i64) -> Value {
    json!({"iso8601": clock.iso(ms), "jira": clock.jira(ms), "friendly": clock.friendly(ms), "epochMillis": ms})
}

fn friendly_duration(ms: i64) -> String {
    let sign = if ms < 0 { "-" } else { "" };
    let mins = ms.abs() / 60_000;
    format!("{sign}{}h {}m", mins / 60, mins % 60)
}

fn duration_dto(ms: i64) -> Value {
    json!({"millis": ms, "friendly": friendly_duration(ms)})
}

/// One SLA value (same object in the custom field and in `/servicedeskapi/.../sla`).
#[allow(clippy::too_many_arguments)]
fn sla_value(
    base: &str,
    clock: Clock,
    issue_id: u64,
    metric_id: &str,
    name: &str,
    goal: i64,
    cycles: &[(i64, Option<i64>)],
    now: i64,
    paused: bool,
) -> Value {
    let mut completed = Vec::new();
    let mut ongoing = None;
    for (start, stop) in cycles {
        match stop {
            Some(stop) => {
                let elapsed = stop - start;
                completed.push(json!({
                    "startTime": date_dto(clock, *start),
                    "stopTime": date_dto(clock, *stop),
                    "breachTime": date_dto(clock, start + goal),
                    "breached": elapsed > goal,
                    "goalDuration": duration_dto(goal),
                    "elapsedTime": duration_dto(elapsed),
                    "remainingTime": duration_dto(goal - elapsed),
                }));
            }
            None => {
                let elapsed = (now - start).max(0);
                let mut c = json!({
                    "startTime": date_dto(clock, *start),
                    "breached": elapsed > goal,
                    "paused": paused,
                    "withinCalendarHours": false,
                    "goalDuration": duration_dto(goal),
                    "elapsedTime": duration_dto(elapsed),
                    "remainingTime": duration_dto(goal - elapsed),
                });
                if !paused && let Some(o) = c.as_object_mut() {
                    o.insert("breachTime".into(), date_dto(clock, start + goal));
                }
                ongoing = Some(c);
            }
        }
    }
    let mut v = json!({
        "id": metric_id,
        "name": name,
        "_links": {"self": format!("{base}/rest/servicedeskapi/request/{issue_id}/sla/{metric_id}")},
        "completedCycles": completed,
        "slaDisplayFormat": "NEW_SLA_FORMAT",
    });
    if let (Some(c), Some(o)) = (ongoing, v.as_object_mut()) {
        o.insert("ongoingCycle".into(), c);
    }
    v
}

// ---------------------------------------------------------------------------------------------
// ADF
// ---------------------------------------------------------------------------------------------

fn words(rng: &mut ChaCha8Rng, min: usize, max: usize) -> String {
    let n = rng.random_range(min..=max);
    let mut s = String::new();
    for k in 0..n {
        if k > 0 {
            s.push(' ');
        }
        s.push_str(WORDS[rng.random_range(0..WORDS.len())]);
    }
    s
}

fn text(t: String) -> Value {
    json!({"type": "text", "text": t})
}

fn marked_text(rng: &mut ChaCha8Rng, base: &str, key: &str) -> Value {
    let t = words(rng, 1, 4);
    let mark = match rng.random_range(0..6) {
        0 => json!({"type": "strong"}),
        1 => json!({"type": "em"}),
        2 => json!({"type": "code"}),
        3 => json!({"type": "link", "attrs": {"href": format!("{base}/browse/{key}")}}),
        _ => return text(t),
    };
    json!({"type": "text", "text": t, "marks": [mark]})
}

fn inline_nodes(rng: &mut ChaCha8Rng, key: &str, base: &str, anchor_ms: i64) -> Vec<Value> {
    let mut out = vec![marked_text(rng, base, key)];
    for _ in 0..rng.random_range(0..5) {
        let node = match rng.random_range(0..9) {
            0 => {
                let (id, name, ..) = PEOPLE[rng.random_range(0..PEOPLE.len())];
                json!({"type": "mention", "attrs": {"id": id, "text": format!("@{name}"), "accessLevel": ""}})
            }
            1 => {
                let (short, id, t) = EMOJI[rng.random_range(0..EMOJI.len())];
                json!({"type": "emoji", "attrs": {"shortName": short, "id": id, "text": t}})
            }
            2 => json!({"type": "hardBreak"}),
            3 => json!({"type": "inlineCard", "attrs": {"url": format!("{base}/browse/{key}")}}),
            4 => {
                let day = (anchor_ms / DAY_MS + rng.random_range(0..30)) * DAY_MS;
                json!({"type": "date", "attrs": {"timestamp": day.to_string()}})
            }
            5 => {
                let (t, color) = STATUS_LOZENGES[rng.random_range(0..STATUS_LOZENGES.len())];
                let local = format!("{:08x}-{:04x}", rng.random::<u32>(), rng.random::<u16>());
                json!({"type": "status", "attrs": {"text": t, "color": color, "localId": local, "style": ""}})
            }
            _ => marked_text(rng, base, key),
        };
        out.push(node);
        out.push(text(" ".to_string() + &words(rng, 1, 3)));
    }
    out
}

fn paragraph(rng: &mut ChaCha8Rng, key: &str, base: &str, anchor_ms: i64) -> Value {
    json!({"type": "paragraph", "content": inline_nodes(rng, key, base, anchor_ms)})
}

fn simple_paragraph(rng: &mut ChaCha8Rng) -> Value {
    json!({"type": "paragraph", "content": [text(words(rng, 2, 8))]})
}

fn list(rng: &mut ChaCha8Rng, ordered: bool) -> Value {
    let items: Vec<Value> = (0..rng.random_range(1..4))
        .map(|_| json!({"type": "listItem", "content": [simple_paragraph(rng)]}))
        .collect();
    if ordered {
        json!({"type": "orderedList", "attrs": {"order": 1}, "content": items})
    } else {
        json!({"type": "bulletList", "content": items})
    }
}

fn table(rng: &mut ChaCha8Rng) -> Value {
    let cols = rng.random_range(2..4);
    let header: Vec<Value> = (0..cols)
        .map(|_| json!({"type": "tableHeader", "attrs": {}, "content": [simple_paragraph(rng)]}))
        .collect();
    let mut rows = vec![json!({"type": "tableRow", "content": header})];
    for _ in 0..rng.random_range(1..3) {
        let cells: Vec<Value> = (0..cols)
            .map(|_| json!({"type": "tableCell", "attrs": {}, "content": [simple_paragraph(rng)]}))
            .collect();
        rows.push(json!({"type": "tableRow", "content": cells}));
    }
    json!({"type": "table", "attrs": {"isNumberColumnEnabled": false, "layout": "default"}, "content": rows})
}

fn block(rng: &mut ChaCha8Rng, key: &str, base: &str, anchor_ms: i64) -> Value {
    match rng.random_range(0..12) {
        0 => {
            json!({"type": "heading", "attrs": {"level": rng.random_range(1..4)}, "content": [text(words(rng, 1, 4))]})
        }
        1 => list(rng, false),
        2 => list(rng, true),
        3 => {
            let lang = CODE_LANGS[rng.random_range(0..CODE_LANGS.len())];
            let code = format!(
                "ERROR {} at line {}\n  caused by: {}",
                words(rng, 2, 4),
                rng.random_range(1..500),
                words(rng, 1, 3)
            );
            json!({"type": "codeBlock", "attrs": {"language": lang}, "content": [text(code)]})
        }
        4 => json!({"type": "blockquote", "content": [simple_paragraph(rng)]}),
        5 => {
            let t = PANEL_TYPES[rng.random_range(0..PANEL_TYPES.len())];
            json!({"type": "panel", "attrs": {"panelType": t}, "content": [simple_paragraph(rng)]})
        }
        6 => table(rng),
        7 => json!({"type": "rule"}),
        _ => paragraph(rng, key, base, anchor_ms),
    }
}

fn description(rng: &mut ChaCha8Rng, key: &str, base: &str, anchor_ms: i64) -> Value {
    let mut content = vec![paragraph(rng, key, base, anchor_ms)];
    for _ in 0..rng.random_range(1..6) {
        content.push(block(rng, key, base, anchor_ms));
    }
    json!({"type": "doc", "version": 1, "content": content})
}

/// A JSON object from its entries (no `json!`: interpolating a deep value would serialise it
/// recursively).
fn object(entries: Vec<(&str, Value)>) -> Value {
    Value::Object(
        entries
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect(),
    )
}

/// [`PoisonKind::DeepDescription`]: `depth` nested bullet lists around one paragraph, built
/// from the inside out without recursion.
fn deep_description(depth: usize, key: &str) -> Value {
    let text = object(vec![
        ("type", Value::from("text")),
        ("text", Value::from(deep_bottom_text(key))),
    ]);
    let mut node = object(vec![
        ("type", Value::from("paragraph")),
        ("content", Value::Array(vec![text])),
    ]);
    for _ in 0..depth {
        let item = object(vec![
            ("type", Value::from("listItem")),
            ("content", Value::Array(vec![node])),
        ]);
        node = object(vec![
            ("type", Value::from("bulletList")),
            ("content", Value::Array(vec![item])),
        ]);
    }
    object(vec![
        ("type", Value::from("doc")),
        ("version", Value::from(1)),
        ("content", Value::Array(vec![node])),
    ])
}

/// [`PoisonKind::LongAttachmentId`]: `len` decimal digits (at least one), starting with 9,
/// then the issue id's digits over and over.
fn long_id(issue_id: u64, len: usize) -> String {
    std::iter::once('9')
        .chain(issue_id.to_string().chars().cycle())
        .take(len.max(1))
        .collect()
}

fn comment_body(rng: &mut ChaCha8Rng, key: &str, base: &str) -> Value {
    let mut content = vec![paragraph(rng, key, base, REFERENCE_MS)];
    if rng.random_bool(0.3) {
        content.push(block(rng, key, base, REFERENCE_MS));
    }
    json!({"type": "doc", "version": 1, "content": content})
}

// ---------------------------------------------------------------------------------------------
// Field catalog (`GET /rest/api/3/field`)
// ---------------------------------------------------------------------------------------------

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

// ---------------------------------------------------------------------------------------------
// Attachment bytes
// ---------------------------------------------------------------------------------------------

/// The repeating unit of an attachment's content (deterministic from the id).
pub(crate) fn attachment_pattern(id: u64) -> Vec<u8> {
    format!("jira-mirror simulator attachment {id}: deterministic content line.\n").into_bytes()
}

/// `len` bytes of attachment `id` starting at byte `offset`.
pub(crate) fn attachment_chunk(pattern: &[u8], offset: u64, len: usize) -> Vec<u8> {
    let p = pattern.len() as u64;
    let mut out = Vec::with_capacity(len);
    let mut pos = (offset % p) as usize;
    while out.len() < len {
        let take = (pattern.len() - pos).min(len - out.len());
        out.extend_from_slice(&pattern[pos..pos + take]);
        pos = 0;
    }
    out
}

/// The full content of attachment `id` (tests only; the server streams).
#[cfg(test)]
pub(crate) fn attachment_bytes(id: u64, size: u64) -> Vec<u8> {
    attachment_chunk(&attachment_pattern(id), 0, size as usize)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::simulator::BigIssue;
    use std::collections::BTreeSet;

    fn cfg(n: usize) -> SimConfig {
        SimConfig {
            issues: n,
            ..SimConfig::default()
        }
    }

    fn truth(s: &Store, key: &str) -> Value {
        s.render(
            s.find(key).unwrap(),
            &FieldSel::all(),
            ChangelogMode::All,
            None,
        )
    }

    #[test]
    // Durations are printed, not asserted: the machine is shared, and speed is measured by
    // benchmarks (docs/performance.md), never by a timed unit test.
    fn generation_is_deterministic() {
        let started = std::time::Instant::now();
        let a = Store::generate(&cfg(2000), "http://x");
        let elapsed = started.elapsed();
        eprintln!("generated 2000 issues in {elapsed:?}");
        // Rendering a full search page (100 issues, `*all`, capped changelog) stays cheap too.
        let started = std::time::Instant::now();
        let page: Vec<Value> = a
            .issues
            .values()
            .take(100)
            .map(|i| a.render(i, &FieldSel::all(), ChangelogMode::Capped, Some(EMBED_CAP)))
            .collect();
        let elapsed = started.elapsed();
        eprintln!("rendered a 100-issue *all page in {elapsed:?}");
        assert_eq!(page.len(), 100);
        let b = Store::generate(&cfg(2000), "http://x");
        for key in ["SUP-1", "SUP-2", "SUP-777", "SUP-2000"] {
            assert_eq!(truth(&a, key), truth(&b, key));
        }
        let c = Store::generate(&SimConfig { seed: 7, ..cfg(20) }, "http://x");
        assert_ne!(truth(&c, "SUP-3"), truth(&a, "SUP-3"));
        // Adding issues does not change the earlier ones (per-issue streams).
        let d = Store::generate(&cfg(20), "http://x");
        let e = Store::generate(&cfg(21), "http://x");
        assert_eq!(
            truth(&d, "SUP-3")["fields"]["summary"],
            truth(&e, "SUP-3")["fields"]["summary"]
        );
    }

    #[test]
    fn histories_agree_with_fields_and_time() {
        let s = Store::generate(&cfg(300), "http://x");
        let mut kinds = BTreeSet::new();
        let mut statuses = BTreeSet::new();
        let mut prev_global = Vec::new();
        for key in s.keys() {
            let v = truth(&s, &key);
            let f = &v["fields"];
            statuses.insert(f["status"]["name"].as_str().unwrap().to_string());
            let histories = v["changelog"]["histories"].as_array().unwrap();
            // Newest first in the truth; the newest status item targets the current status.
            let last_status = histories
                .iter()
                .flat_map(|h| h["items"].as_array().unwrap().iter())
                .find(|i| i["field"] == "status");
            match last_status {
                Some(item) => assert_eq!(item["toString"], f["status"]["name"], "{key}"),
                None => assert_eq!(f["status"]["name"], "To Do"),
            }
            let last_priority = histories
                .iter()
                .flat_map(|h| h["items"].as_array().unwrap().iter())
                .find(|i| i["field"] == "priority");
            if let Some(item) = last_priority {
                assert_eq!(item["to"], f["priority"]["id"], "{key}");
            }
            let resolved = !f["resolution"].is_null();
            assert_eq!(resolved, !f["resolutiondate"].is_null());
            assert_eq!(
                resolved,
                f["status"]["statusCategory"]["key"] == "done",
                "{key}"
            );
            let ids: Vec<u64> = histories
                .iter()
                .map(|h| h["id"].as_str().unwrap().parse().unwrap())
                .collect();
            assert!(ids.windows(2).all(|w| w[0] > w[1]));
            let times: Vec<&str> = histories
                .iter()
                .map(|h| h["created"].as_str().unwrap())
                .collect();
            prev_global.extend(ids.iter().zip(times).map(|(i, t)| (*i, t.to_string())));
            let created = f["created"].as_str().unwrap();
            assert!(created.ends_with("-0500"));
            let issue = s.find(&key).unwrap();
            assert!(issue.updated_ms >= issue.created_ms);
            if let Some(d) = f["description"].get("content") {
                collect_types(d, &mut kinds);
            }
            for c in f["comment"]["comments"].as_array().unwrap() {
                collect_types(&c["body"]["content"], &mut kinds);
            }
            let sla = &f[SLA_RESOLUTION_FIELD];
            if issue.has_sla {
                assert_eq!(sla.get("ongoingCycle").is_some(), !resolved, "{key}");
            } else {
                assert!(sla.is_null());
            }
        }
        // History ids ascend with time across the whole site.
        let mut by_id: Vec<(u64, i64)> = prev_global
            .iter()
            .map(|(i, t)| {
                (
                    *i,
                    chrono::DateTime::parse_from_str(t, "%Y-%m-%dT%H:%M:%S%.3f%z")
                        .unwrap()
                        .timestamp_millis(),
                )
            })
            .collect();
        by_id.sort();
        assert!(by_id.windows(2).all(|w| w[0].1 <= w[1].1));
        for t in [
            "paragraph",
            "heading",
            "bulletList",
            "orderedList",
            "listItem",
            "codeBlock",
            "mention",
            "emoji",
            "hardBreak",
            "inlineCard",
            "date",
            "status",
            "table",
            "tableRow",
            "tableHeader",
            "tableCell",
            "blockquote",
            "panel",
            "text",
        ] {
            assert!(kinds.contains(t), "no {t} node generated");
        }
        assert!(statuses.len() >= 4, "{statuses:?}");
    }

    fn collect_types(v: &Value, out: &mut BTreeSet<String>) {
        match v {
            Value::Array(a) => a.iter().for_each(|x| collect_types(x, out)),
            Value::Object(o) => {
                if let Some(Value::String(t)) = o.get("type") {
                    out.insert(t.clone());
                }
                if let Some(c) = o.get("content") {
                    collect_types(c, out);
                }
            }
            _ => {}
        }
    }

    #[test]
    fn big_and_hostile_issue() {
        let s = Store::generate(
            &SimConfig {
                issues: 10,
                big_issues: vec![BigIssue {
                    histories: 250,
                    comments: 150,
                    worklogs: 30,
                }],
                ..SimConfig::default()
            },
            "http://x",
        );
        let i = s.find("sup-1").unwrap();
        assert_eq!(i.histories.len(), 250);
        assert_eq!(i.comments.len(), 150);
        assert_eq!(i.worklogs, 30);
        let v = truth(&s, "SUP-1");
        let atts = v["fields"]["attachment"].as_array().unwrap();
        let names: Vec<&str> = atts
            .iter()
            .map(|a| a["filename"].as_str().unwrap())
            .collect();
        assert!(names.contains(&"../../x") && names.contains(&"con") && names.contains(&".."));
        assert!(names.contains(&"rÃ©sumÃ©\u{7f}.pdf"));
        assert!(
            names
                .iter()
                .any(|n| n.chars().count() == 300 && n.ends_with(".txt"))
        );
        let big = atts.iter().find(|a| a["filename"] == "big.bin").unwrap();
        assert_eq!(big["size"], 3 * 1024 * 1024);
        let id: u64 = big["id"].as_str().unwrap().parse().unwrap();
        assert_eq!(s.attachments[&id].size, 3 * 1024 * 1024);
        let no_hostile = Store::generate(
            &SimConfig {
                issues: 10,
                hostile_attachments: false,
                ..SimConfig::default()
            },
            "http://x",
        );
        let names = truth(&no_hostile, "SUP-1")["fields"]["attachment"].to_string();
        assert!(!names.contains("big.bin"));
    }

    #[test]
    fn round_robin_projects_and_subtasks() {
        let s = Store::generate(
            &SimConfig {
                issues: 300,
                projects: vec!["SUP".into(), "OPS".into()],
                ..SimConfig::default()
            },
            "http://x",
        );
        let keys = s.keys();
        assert_eq!(&keys[..4], &["SUP-1", "OPS-1", "SUP-2", "OPS-2"]);
        let mut subtasks = 0;
        for key in &keys {
            let v = truth(&s, key);
            if let Some(p) = v["fields"].get("parent") {
                subtasks += 1;
                assert_eq!(v["fields"]["issuetype"]["subtask"], true);
                let parent_key = p["key"].as_str().unwrap();
                assert_eq!(parent_key.split('-').next(), key.split('-').next());
                let parent = truth(&s, parent_key);
                let subs = parent["fields"]["subtasks"].as_array().unwrap();
                assert!(subs.iter().any(|x| x["key"] == key.as_str()));
            }
        }
        assert!(subtasks > 0);
    }

    #[test]
    fn attachment_chunks_line_up() {
        let p = attachment_pattern(10_001);
        let whole = attachment_chunk(&p, 0, 1000);
        let mut pieces = attachment_chunk(&p, 0, 333);
        pieces.extend(attachment_chunk(&p, 333, 667));
        assert_eq!(whole, pieces);
        assert_eq!(whole.len(), 1000);
    }

    #[test]
    fn clock_renders_like_jira() {
        let c = Clock::new(-300);
        assert_eq!(c.jira(1_709_651_730_123), "2024-03-05T10:15:30.123-0500");
        assert_eq!(c.iso(1_709_651_730_123), "2024-03-05T10:15:30-0500");
        assert_eq!(Clock::new(0).jira(0), "1970-01-01T00:00:00.000+0000");
    }
}
