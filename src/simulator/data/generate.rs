//! Generation of the whole site from [`SimConfig::seed`]: per-issue plans (instants, parents,
//! counts), history and comment ids handed out in time order across the site, each issue's
//! state built from its plan (the parts come from their own modules), then links between the
//! issues.

use std::collections::{BTreeMap, HashMap, HashSet};

use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::changelog::Workflow;
use super::clock::Clock;
use super::comments::generate_comments;
use super::fields::generate_extras;
use super::reference::{accounts_json, people_json, site_projects};
use super::vocab::{PEOPLE, SUBTASK_TYPE};
use super::{
    DAY_MS, EMBED_CAP, HOUR_MS, Issue, Poisoned, REFERENCE_MS, Sla, Store, WORKLOG_EMBED_CAP, take,
};
use crate::simulator::{Part, PoisonKind, SimConfig, SimDeployment};

/// Issues are created over the ~18 months before [`REFERENCE_MS`].
const SPAN_MS: i64 = 540 * DAY_MS;

/// The random stream of the issue at creation index `index`.
pub(super) fn issue_rng(seed: u64, index: u64) -> ChaCha8Rng {
    ChaCha8Rng::seed_from_u64(seed ^ index.wrapping_add(1).wrapping_mul(0x9E37_79B9_7F4A_7C15))
}

/// Per-issue plan decided before history/comment ids are handed out.
pub(super) struct Plan {
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

impl Plan {
    /// The plan of an issue without histories, comments, worklogs, parent or poison.
    pub(super) fn bare(
        index: u64,
        id: u64,
        (project, number): (usize, u64),
        created: i64,
        rng: ChaCha8Rng,
    ) -> Plan {
        Plan {
            index,
            id,
            project,
            number,
            created,
            hist_times: Vec::new(),
            comment_times: Vec::new(),
            hist_ids: Vec::new(),
            comment_ids: Vec::new(),
            parent: None,
            rng,
            poison: Vec::new(),
            worklogs: 0,
        }
    }
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

/// Hands out ids ascending with time across all issues, from `*next` on (which it advances):
/// `times[i][k]` → `ids[i][k]`.
fn ids_by_time(times: &[&[i64]], next: &mut u64) -> Vec<Vec<u64>> {
    let mut all: Vec<(i64, usize, usize)> = times
        .iter()
        .enumerate()
        .flat_map(|(i, ts)| ts.iter().enumerate().map(move |(k, t)| (*t, i, k)))
        .collect();
    all.sort_unstable();
    let mut out: Vec<Vec<u64>> = times.iter().map(|ts| vec![0; ts.len()]).collect();
    let first = *next;
    *next += all.len() as u64;
    for (rank, (_, i, k)) in all.into_iter().enumerate() {
        out[i][k] = first + rank as u64;
    }
    out
}

/// `n`, or at least `min` when `poison` closes `part` (a closed sub-resource must be one the
/// mirror asks for: more than a page embeds).
fn forced(poison: &[PoisonKind], part: Part, n: usize, min: usize) -> usize {
    if poison.contains(&PoisonKind::Forbidden { part }) {
        n.max(min)
    } else {
        n
    }
}

/// History and comment counts of issue `i` and the window they fall in: a [`BigIssue`]'s
/// counts until the reference instant, else random ones within up to 90 days.
///
/// [`BigIssue`]: crate::simulator::BigIssue
fn event_counts(
    rng: &mut ChaCha8Rng,
    cfg: &SimConfig,
    i: usize,
    created: i64,
) -> (usize, usize, i64) {
    match cfg.big_issues.get(i) {
        Some(b) => (b.histories, b.comments, REFERENCE_MS - created),
        None => {
            let w = rng
                .random_range(HOUR_MS..90 * DAY_MS)
                .min(REFERENCE_MS - created);
            (
                binomial(rng, cfg.max_histories, 0.5),
                binomial(rng, cfg.max_comments, 0.6),
                w,
            )
        }
    }
}

/// Worklogs of issue `i` with id `id`. They come from the id, not the issue's random stream,
/// so adding them left every other generated value as it was.
fn worklog_count(cfg: &SimConfig, i: usize, id: u64, poison: &[PoisonKind]) -> usize {
    let worklogs = match cfg.big_issues.get(i) {
        Some(b) if b.worklogs > 0 => b.worklogs,
        _ => (id.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 61) as usize % 4,
    };
    forced(poison, Part::Worklogs, worklogs, WORKLOG_EMBED_CAP + 5)
}

/// The parent of issue `id` when it may be a sub-task: sometimes a random earlier issue of its
/// project's `pool`; otherwise the issue joins the pool of possible parents.
fn choose_parent(
    rng: &mut ChaCha8Rng,
    may_be_subtask: bool,
    pool: &mut Vec<u64>,
    id: u64,
) -> Option<u64> {
    if may_be_subtask && !pool.is_empty() && rng.random_bool(0.08) {
        Some(pool[rng.random_range(0..pool.len())])
    } else {
        pool.push(id);
        None
    }
}

impl Store {
    /// Generates the whole site for `cfg`, with `self` URLs under `base`.
    pub(crate) fn generate(cfg: &SimConfig, base: &str) -> Store {
        let mut store = Store::empty(cfg, base);
        // Phase 1: plans (instants, parents) per issue.
        let mut plans = store.plan_issues(cfg);
        // Phase 2: history and comment ids ascending with time across the site, like Jira's.
        store.number_events(&mut plans);
        // Phase 3: issue state.
        for mut plan in plans {
            let hostile = cfg.hostile_attachments && plan.index == 0;
            let issue = store.build_issue(&mut plan, REFERENCE_MS, true, hostile);
            store.insert(issue);
        }
        // Phase 4: links between issues.
        store.link_issues(cfg.seed);
        store
    }

    /// A site with the projects, people and accounts of `cfg` and no issues yet.
    fn empty(cfg: &SimConfig, base: &str) -> Store {
        let base = base.trim_end_matches('/').to_string();
        // An unknown zone was refused by `Simulator::start`; UTC is only a fallback.
        let dc_zone = (cfg.deployment == SimDeployment::DataCenter).then(|| {
            cfg.time_zone
                .parse::<chrono_tz::Tz>()
                .unwrap_or(chrono_tz::UTC)
        });
        let dc = dc_zone.is_some();
        let (mirror_user, sla_user) = accounts_json(&base, cfg, dc);
        Store {
            seed: cfg.seed,
            clock: dc_zone.map_or(Clock::new(cfg.time_zone_offset_minutes), Clock::zone),
            api: format!("{base}/rest/api/{}", if dc { 2 } else { 3 }),
            dc_zone,
            issues: BTreeMap::new(),
            by_key: HashMap::new(),
            projects: site_projects(cfg),
            users: people_json(&base, dc),
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
            base,
        }
    }

    /// The plans of the `cfg.issues` generated issues, created one slot of the span apart,
    /// round-robin across the projects.
    fn plan_issues(&mut self, cfg: &SimConfig) -> Vec<Plan> {
        let n = cfg.issues;
        let slot = if n == 0 {
            SPAN_MS
        } else {
            (SPAN_MS / n as i64).max(1)
        };
        let mut parents_pool: Vec<Vec<u64>> = vec![Vec::new(); self.projects.len()];
        let mut plans: Vec<Plan> = Vec::with_capacity(n);
        for i in 0..n {
            plans.push(self.plan_issue(cfg, i, slot, &mut parents_pool));
        }
        plans
    }

    /// The plan of generated issue `i`: its number, id, creation instant, the instants of its
    /// histories and comments, its parent, poison and worklogs.
    fn plan_issue(
        &mut self,
        cfg: &SimConfig,
        i: usize,
        slot: i64,
        parents_pool: &mut [Vec<u64>],
    ) -> Plan {
        let mut rng = issue_rng(cfg.seed, i as u64);
        let project = i % self.projects.len();
        let number = self.take_number(project);
        let id = take(&mut self.next_issue_id);
        let created =
            REFERENCE_MS - SPAN_MS + i as i64 * slot + rng.random_range(0..(slot / 2).max(1));
        let (hc, cc, window) = event_counts(&mut rng, cfg, i, created);
        let poison: Vec<PoisonKind> = cfg
            .poison
            .iter()
            .filter(|p| p.issue == i)
            .map(|p| p.kind.clone())
            .collect();
        let hc = forced(&poison, Part::Changelog, hc, EMBED_CAP + 20);
        let cc = forced(&poison, Part::Comments, cc, EMBED_CAP + 20);
        let hist_times = event_times(&mut rng, hc, created, window);
        let comment_times = event_times(&mut rng, cc, created, window);
        let may_be_subtask = i >= cfg.big_issues.len();
        let parent = choose_parent(&mut rng, may_be_subtask, &mut parents_pool[project], id);
        let worklogs = worklog_count(cfg, i, id, &poison);
        Plan {
            hist_times,
            comment_times,
            parent,
            poison,
            worklogs,
            ..Plan::bare(i as u64, id, (project, number), created, rng)
        }
    }

    /// Gives the planned histories and comments their ids, ascending with time across the
    /// site.
    fn number_events(&mut self, plans: &mut [Plan]) {
        let ht: Vec<&[i64]> = plans.iter().map(|p| p.hist_times.as_slice()).collect();
        let hist_ids = ids_by_time(&ht, &mut self.next_history_id);
        let ct: Vec<&[i64]> = plans.iter().map(|p| p.comment_times.as_slice()).collect();
        let comment_ids = ids_by_time(&ct, &mut self.next_comment_id);
        for ((p, h), c) in plans.iter_mut().zip(hist_ids).zip(comment_ids) {
            p.hist_ids = h;
            p.comment_ids = c;
        }
    }

    /// The next issue number of project `project`.
    pub(super) fn take_number(&mut self, project: usize) -> u64 {
        take(&mut self.projects[project].next_number)
    }

    /// Adds a built issue: to its parent's sub-tasks, its attachments to the downloadable
    /// ones, its key to the index.
    pub(super) fn insert(&mut self, issue: Issue) {
        if let Some(parent) = issue.parent.and_then(|p| self.issues.get_mut(&p)) {
            parent.subtasks.push(issue.id);
        }
        self.register_attachments(&issue);
        self.by_key.insert(issue.key.clone(), issue.id);
        self.issues.insert(issue.id, issue);
    }

    /// Builds one issue from its plan: replays a random workflow so that the histories end in
    /// the current field values. `now` is the instant ongoing SLA cycles are measured at;
    /// `rich` issues may have attachments, remote links and optional fields, `hostile` is the
    /// first issue of a site with hostile attachments.
    pub(super) fn build_issue(
        &mut self,
        plan: &mut Plan,
        now: i64,
        rich: bool,
        hostile: bool,
    ) -> Issue {
        let created = plan.created;
        let rng = &mut plan.rng;
        let type_idx = if plan.parent.is_some() {
            SUBTASK_TYPE
        } else {
            rng.random_range(0..SUBTASK_TYPE)
        };
        let reporter = rng.random_range(0..PEOPLE.len());
        let lone_surrogate = plan.poison.contains(&PoisonKind::LoneSurrogate);
        let mut flow = Workflow::start(rng, created, lone_surrogate);
        let histories = flow.histories(rng, &plan.hist_times, &plan.hist_ids);
        let thread = generate_comments(
            rng,
            reporter,
            created,
            &plan.comment_times,
            &plan.comment_ids,
        );
        let last_history = plan.hist_times.last().copied().unwrap_or(created);
        let updated_ms = created.max(last_history).max(thread.last_update);
        let span = (created, updated_ms);
        let attachments =
            self.generate_attachments(rng, plan.id, span, rich, hostile, &plan.poison);
        let remote_links = self.generate_remote_links(rng, rich);
        let has_sla = self.projects[plan.project].service_desk && !plan.number.is_multiple_of(7);
        let sla = if has_sla {
            Sla::new(created, thread.first_public_reply, &flow, now)
        } else {
            Sla::default()
        };
        let extras = generate_extras(rng, rich, created);
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
            comments: thread.comments,
            worklogs: plan.worklogs,
            project_idx: plan.project,
            content_seed: rng.random(),
            birth_key: key,
            type_idx,
            resolution_ms: flow.resolution_ms(),
            status: flow.status,
            status_change_ms: flow.status_change_ms,
            resolution: flow.resolution,
            priority: flow.priority,
            assignee: flow.assignee,
            reporter,
            summary: flow.summary,
            labels: flow.labels,
            severity: flow.severity,
            extras,
            attachments,
            remote_links,
            sla,
            links: Vec::new(),
            parent: plan.parent,
            subtasks: Vec::new(),
            edits: 0,
            poison: Poisoned::from_kinds(&plan.poison),
        }
    }
}
