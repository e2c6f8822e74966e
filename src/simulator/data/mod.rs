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
//!
//! The module is split by concern: `vocab` (the static vocabularies), `clock` (Jira's time
//! formats), `reference` (users, projects, statuses and the other reference objects),
//! `generate` (the site and its issues from the seed), `changelog`, `comments` (and worklogs),
//! `attachments`, `links` (issue and remote links, parents), `sla`, `fields` (one issue's
//! fields and its rendering), `adf` (generated rich text), `catalog` (`GET /field`) and
//! `mutate` (the changes tests make while the simulator runs). This file holds the model they
//! share: the issue record, the field selection and the store with its lookups.

mod adf;
mod attachments;
mod catalog;
mod changelog;
mod clock;
mod comments;
mod fields;
mod generate;
mod links;
mod mutate;
mod reference;
mod sla;
#[cfg(test)]
mod tests;
mod vocab;
mod wiki;

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap, HashSet};

use rand::RngExt;
use rand_chacha::ChaCha8Rng;
use serde_json::Value;

use super::jql::Subject;
use super::{Part, PoisonKind};

pub(super) use crate::time::now_ms;
#[cfg(test)]
pub(super) use attachments::attachment_bytes;
pub(super) use attachments::{attachment_chunk, attachment_pattern};
pub(super) use catalog::field_catalog;
use clock::Clock;
use sla::{SLA_FIRST_RESPONSE_FIELD, SLA_RESOLUTION_FIELD};
use vocab::{STATUS_CATEGORIES, STATUSES};

/// The fixed instant generated data is laid out before: 2025-06-01T00:00:00Z.
const REFERENCE_MS: i64 = 1_748_736_000_000;
const HOUR_MS: i64 = 3_600_000;
const DAY_MS: i64 = 24 * HOUR_MS;

/// How many worklogs Jira embeds in an issue (`fields.worklog.maxResults`).
const WORKLOG_EMBED_CAP: usize = 20;
/// How many histories / comments Jira embeds in an issue.
pub(super) const EMBED_CAP: usize = 100;
/// The `expand` string Jira puts on every issue.
const ISSUE_EXPAND: &str =
    "renderedFields,names,schema,operations,editmeta,changelog,versionedRepresentations";

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
struct Project {
    /// Upper-case key, e.g. `SUP`.
    key: String,
    /// Numeric id.
    id: u64,
    /// Display name.
    name: String,
    /// Next issue number to hand out.
    next_number: u64,
    /// A Jira Service Management project (`projectTypeKey: service_desk`); otherwise a
    /// Jira Software one, whose issues have no SLAs.
    service_desk: bool,
}

/// What the media host needs to serve an attachment (the bytes are computed from the id).
#[derive(Clone, Debug)]
pub(super) struct Attachment {
    /// Attachment id.
    pub(super) id: u64,
    /// `mimeType`.
    pub(super) mime: String,
    /// Exact size in bytes.
    pub(super) size: u64,
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
pub(super) struct History {
    id: u64,
    author: usize,
    at: i64,
    items: Vec<Item>,
}

/// One comment; the ADF body is generated from the id unless `text` is set.
#[derive(Clone, Debug)]
pub(super) struct Comment {
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
pub(super) struct Issue {
    /// Numeric id (stable across moves).
    pub(super) id: u64,
    /// Current key.
    pub(super) key: String,
    /// Keys the issue had before moves (upper case).
    old_keys: Vec<String>,
    /// Current project key.
    project: String,
    /// Number within the current project.
    number: u64,
    /// Creation instant (epoch ms).
    created_ms: i64,
    /// `updated` (epoch ms).
    updated_ms: i64,
    /// Whether this is a JSM request (SLA endpoint answers, SLA fields set).
    pub(super) has_sla: bool,
    /// Histories, oldest first.
    pub(super) histories: Vec<History>,
    /// Comments, oldest first.
    pub(super) comments: Vec<Comment>,
    /// Number of worklogs (rendered by [`Store::worklog_json`], oldest first).
    pub(super) worklogs: usize,
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

impl Poisoned {
    /// What `kinds` do to an issue (a later deep description wins).
    fn from_kinds(kinds: &[PoisonKind]) -> Poisoned {
        let mut poisoned = Poisoned::default();
        for kind in kinds {
            match kind {
                PoisonKind::DeepDescription { depth } => poisoned.deep_description = Some(*depth),
                PoisonKind::Forbidden { part } => poisoned.forbidden.push(*part),
                PoisonKind::ForbiddenAttachment
                | PoisonKind::LongAttachmentId { .. }
                | PoisonKind::LoneSurrogate => {}
            }
        }
        poisoned
    }
}

impl Issue {
    /// Whether `part` of this issue answers 403 ([`PoisonKind::Forbidden`]).
    pub(super) fn forbids(&self, part: Part) -> bool {
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
pub(super) struct FieldSel {
    all: bool,
    include: Vec<String>,
    exclude: Vec<String>,
}

impl FieldSel {
    /// Every field (`*all`).
    pub(super) fn all() -> FieldSel {
        FieldSel {
            all: true,
            ..FieldSel::default()
        }
    }

    /// Parses Jira's `fields` list items (`*all`, `*navigable`, `-name`, `id`, `key`, names).
    /// An empty list means every field when `default_all` (GET issue), else `id` only (search).
    pub(super) fn parse<'a>(
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
    fn wants(&self, name: &str) -> bool {
        !self.exclude.iter().any(|e| e == name)
            && (self.all || self.include.iter().any(|i| i == name))
    }

    /// True when only `id`/`key` (or nothing) were asked for.
    pub(super) fn only_id_key(&self) -> bool {
        !self.all && self.include.is_empty()
    }
}

/// How much changelog to embed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum ChangelogMode {
    /// No `changelog` key.
    None,
    /// The newest [`EMBED_CAP`] histories, newest first (what Jira does).
    Capped,
    /// Every history, newest first (the simulator's "truth").
    All,
}

/// The whole simulated site.
pub(super) struct Store {
    /// API base URL, no trailing slash.
    pub(super) base: String,
    /// `{base}/rest/api/3` (Cloud) or `{base}/rest/api/2` (Data Center): the root of every
    /// `self` URL.
    api: String,
    /// The API account's zone on a Data Center site (`None`: Cloud). Data Center renders
    /// API v2: wiki markup, no account ids.
    pub(super) dc_zone: Option<chrono_tz::Tz>,
    seed: u64,
    /// Timestamp renderer.
    clock: Clock,
    /// Live issues by id (ascending id = creation order).
    pub(super) issues: BTreeMap<u64, Issue>,
    by_key: HashMap<String, u64>,
    /// Known projects.
    projects: Vec<Project>,
    users: Vec<Value>,
    /// The main account's user object (for `/myself`).
    pub(super) mirror_user: Value,
    /// The JSM account's user object.
    pub(super) sla_user: Value,
    /// Attachments of live issues by id.
    pub(super) attachments: HashMap<u64, Attachment>,
    next_issue_id: u64,
    next_history_id: u64,
    next_comment_id: u64,
    next_attachment_id: u64,
    next_remote_link_id: u64,
    rng: ChaCha8Rng,
    /// Ids of issues search does not return (index lag); `GET` still finds them.
    pub(super) hidden: HashSet<u64>,
    /// Attachments whose content answers 403 ([`PoisonKind::ForbiddenAttachment`]).
    pub(super) forbidden_attachments: HashSet<u64>,
    /// Rendered ids of [`PoisonKind::LongAttachmentId`] attachments (their content: 404).
    pub(super) long_attachment_ids: HashSet<String>,
}

impl Store {
    // -----------------------------------------------------------------------------------------
    // Lookup
    // -----------------------------------------------------------------------------------------

    /// Finds a live issue by key (current or former, case-insensitive) or numeric id.
    pub(super) fn find(&self, key_or_id: &str) -> Option<&Issue> {
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
    pub(super) fn has_project(&self, key: &str) -> bool {
        self.projects.iter().any(|p| p.key == key)
    }

    /// Keys of live issues in creation order.
    pub(super) fn keys(&self) -> Vec<String> {
        self.issues.values().map(|i| i.key.clone()).collect()
    }

    /// `{base}/rest/api/3` (Cloud) or `{base}/rest/api/2` (Data Center).
    pub(super) fn api_root(&self) -> &str {
        &self.api
    }

    /// Whether the site is Data Center (API v2 representation).
    pub(super) fn dc(&self) -> bool {
        self.dc_zone.is_some()
    }

    /// An instant as Jira renders it on this site (`2024-03-05T10:15:30.123-0500`).
    pub(super) fn jira_time(&self, ms: i64) -> String {
        self.clock.jira(ms)
    }

    /// Rich text as this site's API renders it: the ADF document itself on Cloud (v3), its
    /// wiki markup on Data Center (v2). The document is dropped stack-safely.
    fn rich(&self, adf: Value) -> Value {
        if !self.dc() || adf.is_null() {
            return adf;
        }
        let text = wiki::adf_to_wiki(&adf, &|id| dc_user_name(id).map(str::to_string));
        crate::json::drop_deep(adf);
        Value::String(text)
    }
}

/// The Data Center user name of the person with Cloud account id `account_id`.
fn dc_user_name(account_id: &str) -> Option<&'static str> {
    vocab::PEOPLE
        .iter()
        .position(|p| p.0 == account_id)
        .map(|i| vocab::DC_USER_NAMES[i])
}

/// The value of a counter (an id or number to hand out), which moves on by one.
fn take(counter: &mut u64) -> u64 {
    let value = *counter;
    *counter += 1;
    value
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
