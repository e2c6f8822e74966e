//! Changelog histories: the item constructors, the random walk over the workflow and the fields
//! that generates an issue's histories (so that they end in its current values), and Jira's
//! rendering of a history. The mutations build their items with the same constructors.

use std::borrow::Cow;

use rand::RngExt;
use rand_chacha::ChaCha8Rng;
use serde_json::{Value, json};

use super::vocab::{
    DONE, IN_PROGRESS, LABELS, PEOPLE, PRIORITIES, PROBLEMS, RESOLUTIONS, SEVERITIES, STATUSES,
    SUBJECTS, TODO, WAITING,
};
use super::{Cycle, History, Issue, Item, Store, Text, maybe, pick};
use crate::simulator::LONE_SURROGATE_MARKER;

fn st(s: &'static str) -> Text {
    Some(Cow::Borrowed(s))
}

pub(super) fn owned(s: String) -> Text {
    Some(Cow::Owned(s))
}

pub(super) fn item(
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

/// A status change from status `from` to status `to` (indices into `STATUSES`).
pub(super) fn status_item(from: usize, to: usize) -> Item {
    let (from_id, from_name, _) = STATUSES[from];
    let (to_id, to_name, _) = STATUSES[to];
    item(
        "status",
        "status",
        st(from_id),
        st(from_name),
        st(to_id),
        st(to_name),
    )
}

/// A resolution set (`from` is `None`) or cleared (`to` is `None`).
pub(super) fn resolution_item(from: Option<usize>, to: Option<usize>) -> Item {
    item(
        "resolution",
        "resolution",
        from.and_then(|r| st(RESOLUTIONS[r].0)),
        from.and_then(|r| st(RESOLUTIONS[r].1)),
        to.and_then(|r| st(RESOLUTIONS[r].0)),
        to.and_then(|r| st(RESOLUTIONS[r].1)),
    )
}

/// A priority change (indices into `PRIORITIES`).
pub(super) fn priority_item(from: usize, to: usize) -> Item {
    let (a, b) = (PRIORITIES[from], PRIORITIES[to]);
    item("priority", "priority", st(a.0), st(a.1), st(b.0), st(b.1))
}

/// A summary change (Jira puts only the strings).
pub(super) fn summary_item(old: String, new: String) -> Item {
    item("summary", "summary", None, owned(old), None, owned(new))
}

/// Whether moving from status `from` to `to` changes the status category (which moves
/// `statuscategorychangedate`).
pub(super) fn changes_category(from: usize, to: usize) -> bool {
    STATUSES[from].2 != STATUSES[to].2
}

/// A new history of `issue` at `at`, by the author of `(id, author)`.
pub(super) fn push_history(
    issue: &mut Issue,
    (id, author): (u64, usize),
    at: i64,
    items: Vec<Item>,
) {
    issue.histories.push(History {
        id,
        author,
        at,
        items,
    });
}

/// The field values a new issue's histories change, replayed from its random stream: a walk
/// over the workflow (status, resolution, SLA resolution cycles) and the other fields.
pub(super) struct Workflow {
    pub(super) status: usize,
    pub(super) status_change_ms: i64,
    pub(super) resolution: Option<usize>,
    pub(super) priority: usize,
    pub(super) assignee: Option<usize>,
    pub(super) summary: String,
    pub(super) labels: Vec<&'static str>,
    pub(super) severity: Option<usize>,
    /// Resolution SLA cycles: one from creation, a new one at every reopening.
    pub(super) resolution_cycles: Vec<Cycle>,
}

impl Workflow {
    /// The initial values of an issue created at `created` (To Do, unresolved); a
    /// [`PoisonKind::LoneSurrogate`](crate::simulator::PoisonKind::LoneSurrogate) issue's
    /// summary ends in [`LONE_SURROGATE_MARKER`].
    pub(super) fn start(rng: &mut ChaCha8Rng, created: i64, lone_surrogate: bool) -> Workflow {
        let users = PEOPLE.len();
        let priority = rng.random_range(0..PRIORITIES.len());
        let assignee = maybe(rng, 0.7, |r| r.random_range(0..users));
        let mut summary = format!("{} {}", pick(rng, SUBJECTS), pick(rng, PROBLEMS));
        if lone_surrogate {
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
        let severity = maybe(rng, 0.7, |r| r.random_range(0..SEVERITIES.len()));
        Workflow {
            status: TODO,
            status_change_ms: created,
            resolution: None,
            priority,
            assignee,
            summary,
            labels,
            severity,
            resolution_cycles: vec![(created, None)],
        }
    }

    /// The histories at `times` with `ids` (oldest first), each a random change.
    pub(super) fn histories(
        &mut self,
        rng: &mut ChaCha8Rng,
        times: &[i64],
        ids: &[u64],
    ) -> Vec<History> {
        let mut histories = Vec::with_capacity(times.len());
        for (t, hid) in times.iter().zip(ids) {
            let author = rng.random_range(0..PEOPLE.len());
            let items = self.step(rng, *t, histories.len());
            histories.push(History {
                id: *hid,
                author,
                at: *t,
                items,
            });
        }
        histories
    }

    /// One history's items at `t`, after `earlier` histories: a status change (rarely out of
    /// Done), else a priority, assignee, summary, label or severity change.
    fn step(&mut self, rng: &mut ChaCha8Rng, t: i64, earlier: usize) -> Vec<Item> {
        let roll = rng.random_range(0..100);
        let wants_status = roll < 35 && !(self.status == DONE && rng.random_bool(0.75));
        if wants_status {
            self.change_status(rng, t)
        } else if roll < 50 {
            vec![self.change_priority(rng)]
        } else if roll < 70 {
            vec![self.change_assignee(rng)]
        } else if roll < 78 {
            vec![self.rename(earlier)]
        } else if roll < 90 {
            vec![self.toggle_label(rng)]
        } else {
            vec![self.change_severity(rng)]
        }
    }

    /// A workflow transition at `t`: to Done sets a resolution and stops the open resolution
    /// cycle, out of Done clears it and opens a new cycle.
    fn change_status(&mut self, rng: &mut ChaCha8Rng, t: i64) -> Vec<Item> {
        let choices: &[usize] = match self.status {
            TODO => &[IN_PROGRESS, IN_PROGRESS, WAITING, DONE],
            IN_PROGRESS => &[WAITING, DONE, DONE, TODO],
            WAITING => &[IN_PROGRESS, DONE],
            _ => &[IN_PROGRESS],
        };
        let next = pick(rng, choices);
        let mut items = vec![status_item(self.status, next)];
        if changes_category(self.status, next) {
            self.status_change_ms = t;
        }
        if next == DONE {
            let r = rng.random_range(0..RESOLUTIONS.len());
            items.push(resolution_item(None, Some(r)));
            self.resolution = Some(r);
            if let Some(last) = self.resolution_cycles.last_mut() {
                last.1 = Some(t);
            }
        } else if self.status == DONE {
            if let Some(r) = self.resolution.take() {
                items.push(resolution_item(Some(r), None));
            }
            self.resolution_cycles.push((t, None));
        }
        self.status = next;
        items
    }

    fn change_priority(&mut self, rng: &mut ChaCha8Rng) -> Item {
        let mut next = rng.random_range(0..PRIORITIES.len());
        if next == self.priority {
            next = (next + 1) % PRIORITIES.len();
        }
        let change = priority_item(self.priority, next);
        self.priority = next;
        change
    }

    fn change_assignee(&mut self, rng: &mut ChaCha8Rng) -> Item {
        let users = PEOPLE.len();
        let mut next = maybe(rng, 0.85, |r| r.random_range(0..users));
        if next == self.assignee {
            next = Some(self.assignee.map_or(0, |a| (a + 1) % users));
        }
        let change = item(
            "assignee",
            "assignee",
            self.assignee.and_then(|a| st(PEOPLE[a].0)),
            self.assignee.and_then(|a| st(PEOPLE[a].1)),
            next.and_then(|a| st(PEOPLE[a].0)),
            next.and_then(|a| st(PEOPLE[a].1)),
        );
        self.assignee = next;
        change
    }

    /// The summary as version `earlier + 2` (`… (v3)`).
    fn rename(&mut self, earlier: usize) -> Item {
        let stem = self
            .summary
            .split(" (v")
            .next()
            .unwrap_or_default()
            .to_string();
        let next = format!("{stem} (v{})", earlier + 2);
        let change = summary_item(self.summary.clone(), next.clone());
        self.summary = next;
        change
    }

    /// Adds a random label, or removes it when the issue has it.
    fn toggle_label(&mut self, rng: &mut ChaCha8Rng) -> Item {
        let before = self.labels.join(" ");
        let l = pick(rng, LABELS);
        match self.labels.iter().position(|x| *x == l) {
            Some(pos) => {
                self.labels.remove(pos);
            }
            None => self.labels.push(l),
        }
        item(
            "labels",
            "labels",
            None,
            owned(before),
            None,
            owned(self.labels.join(" ")),
        )
    }

    fn change_severity(&mut self, rng: &mut ChaCha8Rng) -> Item {
        let next = rng.random_range(0..SEVERITIES.len());
        let change = item(
            "Severity",
            "customfield_10100",
            self.severity.and_then(|s| st(SEVERITIES[s].0)),
            self.severity.and_then(|s| st(SEVERITIES[s].1)),
            st(SEVERITIES[next].0),
            st(SEVERITIES[next].1),
        );
        self.severity = Some(next);
        change
    }

    /// When a done issue was resolved: the end of its last resolution cycle.
    pub(super) fn resolution_ms(&self) -> Option<i64> {
        if self.status == DONE {
            self.resolution_cycles.last().and_then(|c| c.1)
        } else {
            None
        }
    }
}

impl Store {
    /// A changelog history as Jira renders it. On Data Center a user field's `from`/`to`
    /// are user names, not account ids.
    pub(crate) fn history_json(&self, h: &History) -> Value {
        let text = |t: &Text| {
            t.as_deref()
                .map_or(Value::Null, |s| Value::String(s.to_string()))
        };
        let user = |i: &Item, t: &Text| match (self.dc() && i.field_id == "assignee", t) {
            (true, Some(id)) => super::dc_user_name(id).map_or_else(|| text(t), Value::from),
            _ => text(t),
        };
        let items: Vec<Value> = h
            .items
            .iter()
            .map(|i| {
                json!({
                    "field": i.field,
                    "fieldtype": i.fieldtype,
                    "fieldId": i.field_id,
                    "from": user(i, &i.from),
                    "fromString": text(&i.from_string),
                    "to": user(i, &i.to),
                    "toString": text(&i.to_string),
                })
            })
            .collect();
        json!({"id": h.id.to_string(), "author": self.user(h.author), "created": self.clock.jira(h.at), "items": items})
    }
}
