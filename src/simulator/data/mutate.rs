//! The changes tests make while the simulator runs (edits, comments, resolutions, creations,
//! moves, deletions): with the real clock, as users editing tickets.

use rand::RngExt;

use super::changelog::{
    changes_category, item, owned, priority_item, push_history, resolution_item, status_item,
    summary_item,
};
use super::generate::{Plan, issue_rng};
use super::vocab::{DONE, PEOPLE, PRIORITIES};
use super::{Comment, Issue, Project, Store, now_ms, take};

impl Store {
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
        let hid = take(&mut self.next_history_id);
        (hid, self.rng.random_range(0..PEOPLE.len()))
    }

    /// Appends one history (alternately a summary and a priority change) and bumps `updated`.
    pub(crate) fn touch(&mut self, key: &str) -> Option<i64> {
        self.resolve(key)?;
        let history = self.next_history();
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
            summary_item(old, new)
        } else {
            let old = issue.priority;
            let new = (old + 1) % PRIORITIES.len();
            issue.priority = new;
            priority_item(old, new)
        };
        push_history(issue, history, t, vec![change]);
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
        let history = self.next_history();
        let issue = self.issue_mut(key)?;
        let t = Store::bump(issue);
        let r = 0;
        let items = vec![
            status_item(issue.status, DONE),
            resolution_item(None, Some(r)),
        ];
        push_history(issue, history, t, items);
        if changes_category(issue.status, DONE) {
            issue.status_change_ms = t;
        }
        issue.status = DONE;
        issue.resolution = Some(r);
        issue.resolution_ms = Some(t);
        issue.sla.stop_open_cycles(t);
        Some(t)
    }

    /// Adds a public comment with `text` and bumps `updated`.
    pub(crate) fn add_comment(&mut self, key: &str, text: &str) -> Option<i64> {
        let id = self.resolve(key)?;
        let cid = take(&mut self.next_comment_id);
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

    /// The index of project `key` (upper-cased), created as a service desk if unknown.
    fn project_index(&mut self, key: &str) -> usize {
        let k = key.trim().to_ascii_uppercase();
        if let Some(i) = self.projects.iter().position(|p| p.key == k) {
            return i;
        }
        let id = self.projects.iter().map(|p| p.id).max().unwrap_or(9_999) + 1;
        self.projects.push(Project::new(k, id, true));
        self.projects.len() - 1
    }

    /// Creates a fresh issue (created = updated = now) in `project` (created if unknown).
    pub(crate) fn create_issue(&mut self, project: &str) -> String {
        let p = self.project_index(project);
        let number = self.take_number(p);
        let id = take(&mut self.next_issue_id);
        let now = now_ms();
        let rng = issue_rng(self.seed ^ 0xC4EA7E, id);
        let mut plan = Plan::bare(id, id, (p, number), now, rng);
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
        let number = self.take_number(p);
        let new_proj = self.projects[p].clone();
        let history = self.next_history();
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
        let items = vec![
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
        ];
        push_history(issue, history, t, items);
        self.by_key.insert(new_key.clone(), id);
        Some(new_key)
    }
}
