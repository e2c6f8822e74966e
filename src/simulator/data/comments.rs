//! Comments and worklogs as Jira renders them (ADF bodies regenerated from a per-comment
//! seed; worklogs derived from the issue id and their index).

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde_json::{Value, json};

use super::adf::comment_body;
use super::vocab::PEOPLE;
use super::{Comment, HOUR_MS, Issue, Store};

/// Seconds logged by worklog `i` of an issue: 15 minutes to 2 hours.
pub(super) fn worklog_seconds(i: usize) -> i64 {
    900 * ((i as i64 % 8) + 1)
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
}
