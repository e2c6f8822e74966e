//! Generation of the whole site from [`SimConfig::seed`](crate::simulator::SimConfig::seed):
//! per-issue plans (instants, parents, counts), ids handed out in time order across the site,
//! and each issue's state replayed from a random workflow.

use std::collections::{BTreeMap, HashMap, HashSet};

use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde_json::Value;

use super::attachments::{BIG_BIN_SIZE, long_id};
use super::changelog::{item, owned, st};
use super::reference::{project_name, user_json};
use super::vocab::*;
use super::*;
use crate::simulator::{LONE_SURROGATE_MARKER, Part, PoisonKind, SimConfig};

/// Issues are created over the ~18 months before [`REFERENCE_MS`].
const SPAN_MS: i64 = 540 * DAY_MS;

pub(super) fn issue_rng(seed: u64, index: u64) -> ChaCha8Rng {
    ChaCha8Rng::seed_from_u64(seed ^ index.wrapping_add(1).wrapping_mul(0x9E37_79B9_7F4A_7C15))
}

/// Per-issue plan decided before history/comment ids are handed out.
pub(super) struct Plan {
    pub(super) index: u64,
    pub(super) id: u64,
    pub(super) project: usize,
    pub(super) number: u64,
    pub(super) created: i64,
    pub(super) hist_times: Vec<i64>,
    pub(super) comment_times: Vec<i64>,
    pub(super) hist_ids: Vec<u64>,
    pub(super) comment_ids: Vec<u64>,
    pub(super) parent: Option<u64>,
    pub(super) rng: ChaCha8Rng,
    pub(super) poison: Vec<PoisonKind>,
    pub(super) worklogs: usize,
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

    pub(super) fn insert(&mut self, issue: Issue) {
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
    pub(super) fn build_issue(
        &mut self,
        plan: &mut Plan,
        now: i64,
        rich: bool,
        hostile: bool,
    ) -> Issue {
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
}
