//! Comments and worklogs: the comments a new issue is generated with, and both as Jira renders
//! them (comment ADF bodies regenerated from a per-comment seed; worklogs derived from the
//! issue id and their index), alone, in pages and embedded in the issue.

use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde_json::{Value, json};

use super::adf::{comment_body, text_doc};
use super::vocab::PEOPLE;
use super::{Comment, HOUR_MS, Issue, Store, WORKLOG_EMBED_CAP};

/// Seconds logged by worklog `i` of an issue: 15 minutes to 2 hours.
pub(super) fn worklog_seconds(i: usize) -> i64 {
    900 * ((i as i64 % 8) + 1)
}

/// The comments of a new issue, and what they mean for its SLA and `updated`.
pub(super) struct Thread {
    /// Oldest first.
    pub(super) comments: Vec<Comment>,
    /// The first public comment by someone other than the reporter (it stops the
    /// first-response SLA).
    pub(super) first_public_reply: Option<i64>,
    /// The latest instant a comment was created or edited (`created` when none).
    pub(super) last_update: i64,
}

/// The comments at `times` with `ids` of an issue created at `created` by `reporter`: some
/// internal (some of those restricted to a role), a few edited later.
pub(super) fn generate_comments(
    rng: &mut ChaCha8Rng,
    reporter: usize,
    created: i64,
    times: &[i64],
    ids: &[u64],
) -> Thread {
    let mut thread = Thread {
        comments: Vec::with_capacity(times.len()),
        first_public_reply: None,
        last_update: created,
    };
    for (t, cid) in times.iter().zip(ids) {
        let author = rng.random_range(0..PEOPLE.len());
        let public = rng.random_bool(0.7);
        if public && author != reporter && thread.first_public_reply.is_none() {
            thread.first_public_reply = Some(*t);
        }
        let updated = if rng.random_bool(0.1) {
            t + rng.random_range(60_000..3 * HOUR_MS)
        } else {
            *t
        };
        thread.last_update = thread.last_update.max(updated);
        let restricted = !public && rng.random_bool(0.5);
        thread.comments.push(Comment {
            id: *cid,
            author,
            created: *t,
            updated,
            public,
            restricted,
            text: None,
        });
    }
    thread
}

impl Store {
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
            self.rich(text_doc(format!("Worked on {} ({})", issue.key, i + 1)))
        };
        let mut v = json!({
            "self": format!("{}/issue/{}/worklog/{id}", self.api, issue.id),
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

    /// A comment as Jira renders it (v3: ADF body; v2 on Data Center: a wiki body, no
    /// `jsdPublic`).
    pub(crate) fn comment_json(&self, issue: &Issue, c: &Comment) -> Value {
        let body = match &c.text {
            Some(t) if t.is_empty() => json!({"type": "doc", "version": 1, "content": []}),
            Some(t) => text_doc(t.clone()),
            None => {
                let mut rng =
                    ChaCha8Rng::seed_from_u64(self.seed ^ c.id.wrapping_mul(0x2545_F491_4F6C_DD1D));
                comment_body(&mut rng, &issue.birth_key, &self.base)
            }
        };
        let author = self.user(c.author);
        let mut v = json!({
            "self": format!("{}/issue/{}/comment/{}", self.api, issue.id, c.id),
            "id": c.id.to_string(),
            "author": author,
            "body": self.rich(body),
            "updateAuthor": author,
            "created": self.clock.jira(c.created),
            "updated": self.clock.jira(c.updated),
        });
        let Some(o) = v.as_object_mut() else {
            return v;
        };
        if !self.dc() {
            o.insert("jsdPublic".into(), json!(c.public));
        }
        if c.restricted {
            let visibility = if self.dc() {
                json!({"type": "role", "value": "Administrators"})
            } else {
                json!({"type": "role", "value": "Administrators", "identifier": "Administrators"})
            };
            o.insert("visibility".into(), visibility);
        }
        v
    }

    /// The `comment` field: the first `cap` comments (all without a cap) and the total.
    pub(super) fn comment_field(&self, issue: &Issue, cap: Option<usize>) -> Value {
        let n = cap.unwrap_or(usize::MAX).min(issue.comments.len());
        let comments: Vec<Value> = issue.comments[..n]
            .iter()
            .map(|c| self.comment_json(issue, c))
            .collect();
        json!({
            "comments": comments,
            "self": format!("{}/issue/{}/comment", self.api, issue.id),
            "maxResults": n,
            "total": issue.comments.len(),
            "startAt": 0,
        })
    }

    /// The `worklog` field: the first [`WORKLOG_EMBED_CAP`] worklogs and the total.
    pub(super) fn worklog_field(&self, issue: &Issue) -> Value {
        let n = issue.worklogs.min(WORKLOG_EMBED_CAP);
        let worklogs: Vec<Value> = (0..n).map(|i| self.worklog_json(issue, i)).collect();
        json!({"startAt": 0, "maxResults": WORKLOG_EMBED_CAP, "total": issue.worklogs, "worklogs": worklogs})
    }
}
