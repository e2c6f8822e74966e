//! Which issues a webhook delivery names. Only called on bodies whose signature verified.
//!
//! Bodies are Jira's REST v2 shapes (see tests/data/webhook). The issue comes from, in order:
//! - `issue.key` (every issue event, `comment_*` and `attachment_*` bodies that carry a slim
//!   `issue`; `jira:issue_deleted` too: the worker's fetch then gets 404 and deletes), or
//!   `issue.id` when an `issue` has no key;
//! - `comment.self` (`…/rest/api/2/issue/{id or key}/comment/{id}`) for `comment_*` bodies
//!   without `issue` (seen in 2017 deliveries);
//! - `issueLink.sourceIssueId` and `issueLink.destinationIssueId` (`issuelink_*`: ids only);
//! - `worklog.issueId` (`worklog_*`).
//!
//! The delivery's `timestamp` (epoch ms, which Jira puts in every body) is read too, for the
//! receiver's age check; a `timestamp` that is not a positive integer is refused.
//!
//! Anything else (not JSON, not an object, no `webhookEvent`, no issue, a key that is not a
//! key) is refused: the receiver answers 400 and logs why. Keys are validated
//! ([`IssueKey`]) before they go anywhere; ids must be positive integers.
//!
//! A body nests as deeply as the issue it carries (Jira sets no limit on a description's
//! depth), so it is parsed and dropped stack-safely ([`crate::json`]).

use serde_json::Value;

use crate::key::IssueKey;

/// One issue a delivery names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IssueRef {
    /// By key.
    Key(IssueKey),
    /// By Jira id (resolved through the state or Jira).
    Id(i64),
}

/// A delivery as understood.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery {
    /// `webhookEvent`, e.g. `jira:issue_updated`.
    pub event: String,
    /// The issues it names (at least one, no repeats).
    pub issues: Vec<IssueRef>,
    /// `timestamp`: when Jira made the delivery, epoch ms; `None` when the body has none.
    pub timestamp_ms: Option<i64>,
}

/// Why a body is not understood.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PayloadError {
    /// Not JSON.
    #[error("body is not JSON: {0}")]
    NotJson(#[from] serde_json::Error),
    /// JSON, but not an object with a `webhookEvent` string.
    #[error("body is not a Jira webhook (no `webhookEvent`)")]
    NoEvent,
    /// A `webhookEvent` this receiver finds no issue in.
    #[error("no issue found in a `{event}` delivery")]
    NoIssue {
        /// The event, shortened.
        event: String,
    },
    /// A `timestamp` that is not a positive integer (epoch ms).
    #[error("`timestamp` is not a time in epoch milliseconds")]
    BadTimestamp,
    /// An issue key or id that has not the shape of one.
    #[error("`{field}` is not a valid issue {what}")]
    BadIssue {
        /// Where it was found.
        field: &'static str,
        /// `key` or `id`.
        what: &'static str,
    },
}

/// Reads a (verified) body.
pub fn parse(body: &[u8]) -> Result<Delivery, PayloadError> {
    let value = crate::json::DeepValue::new(crate::json::from_slice(body)?);
    read(&value)
}

fn read(value: &Value) -> Result<Delivery, PayloadError> {
    let event = value
        .get("webhookEvent")
        .and_then(Value::as_str)
        .filter(|e| !e.is_empty())
        .ok_or(PayloadError::NoEvent)?;
    let event: String = event.chars().take(100).collect();
    let timestamp_ms = match value.get("timestamp") {
        None | Some(Value::Null) => None,
        Some(t) => Some(
            t.as_i64()
                .filter(|t| *t > 0)
                .ok_or(PayloadError::BadTimestamp)?,
        ),
    };
    let mut issues = Vec::new();
    if let Some(issue) = value.get("issue").filter(|i| !i.is_null()) {
        issues.push(issue_ref(issue)?);
    } else if let Some(url) = value.pointer("/comment/self").and_then(Value::as_str) {
        issues.push(from_comment_url(url)?);
    } else if let Some(link) = value.get("issueLink") {
        for field in ["sourceIssueId", "destinationIssueId"] {
            if let Some(id) = link.get(field) {
                issues.push(IssueRef::Id(id_of(id).ok_or(PayloadError::BadIssue {
                    field: "issueLink id",
                    what: "id",
                })?));
            }
        }
    } else if let Some(id) = value.pointer("/worklog/issueId") {
        issues.push(IssueRef::Id(id_of(id).ok_or(PayloadError::BadIssue {
            field: "worklog.issueId",
            what: "id",
        })?));
    }
    issues.dedup();
    if issues.is_empty() {
        return Err(PayloadError::NoIssue { event });
    }
    Ok(Delivery {
        event,
        issues,
        timestamp_ms,
    })
}

fn issue_ref(issue: &Value) -> Result<IssueRef, PayloadError> {
    if let Some(key) = issue.get("key") {
        return key
            .as_str()
            .and_then(|k| IssueKey::parse(k).ok())
            .map(IssueRef::Key)
            .ok_or(PayloadError::BadIssue {
                field: "issue.key",
                what: "key",
            });
    }
    issue
        .get("id")
        .and_then(id_of)
        .map(IssueRef::Id)
        .ok_or(PayloadError::BadIssue {
            field: "issue",
            what: "key or id",
        })
}

/// `…/issue/{id or key}/comment/{comment id}` → the issue.
fn from_comment_url(url: &str) -> Result<IssueRef, PayloadError> {
    let bad = PayloadError::BadIssue {
        field: "comment.self",
        what: "URL",
    };
    let path = url.split(['?', '#']).next().unwrap_or("");
    let segments: Vec<&str> = path.split('/').collect();
    let at = segments
        .windows(4)
        .rposition(|w| w[0] == "issue" && w[2] == "comment" && !w[3].is_empty())
        .ok_or(bad)?;
    let issue = segments[at + 1];
    if let Some(id) = id_of(&Value::String(issue.to_string())) {
        return Ok(IssueRef::Id(id));
    }
    IssueKey::parse(issue)
        .map(IssueRef::Key)
        .map_err(|_| PayloadError::BadIssue {
            field: "comment.self",
            what: "key or id",
        })
}

/// A positive id, as a JSON number or a string of digits.
fn id_of(value: &Value) -> Option<i64> {
    let id = match value {
        Value::Number(n) => n.as_i64()?,
        Value::String(s)
            if !s.is_empty() && s.len() <= 18 && s.bytes().all(|b| b.is_ascii_digit()) =>
        {
            s.parse().ok()?
        }
        _ => return None,
    };
    (id > 0).then_some(id)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reference(name: &str) -> Vec<u8> {
        let path = format!("{}/tests/data/webhook/{name}", env!("CARGO_MANIFEST_DIR"));
        std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
    }

    fn key(k: &str) -> IssueRef {
        IssueRef::Key(IssueKey::parse(k).unwrap())
    }

    #[test]
    fn every_reference_payload_names_its_issue() {
        for (file, event, issues) in [
            (
                "webhook_issue_created.json",
                "jira:issue_created",
                vec![key("BUG-15")],
            ),
            (
                "webhook_issue_updated.json",
                "jira:issue_updated",
                vec![key("TEST-1")],
            ),
            (
                "webhook_issue_updated_issue_commented.json",
                "jira:issue_updated",
                vec![key("BBCOM-956")],
            ),
            (
                "webhook_issue_deleted.json",
                "jira:issue_deleted",
                vec![key("BUG-15")],
            ),
            (
                "webhook_comment_created.json",
                "comment_created",
                vec![key("ZUL-1")],
            ),
            (
                "webhook_attachment_created.json",
                "attachment_created",
                vec![key("BUG-15")],
            ),
            (
                "webhook_issuelink_created.json",
                "issuelink_created",
                vec![IssueRef::Id(18715), IssueRef::Id(11917)],
            ),
        ] {
            let delivery = parse(&reference(file)).unwrap_or_else(|e| panic!("{file}: {e}"));
            assert_eq!(delivery.event, event, "{file}");
            assert_eq!(delivery.issues, issues, "{file}");
            assert!(delivery.timestamp_ms > Some(1_300_000_000_000), "{file}");
        }
    }

    #[test]
    fn the_timestamp_is_read() {
        let body = br#"{"webhookEvent":"x","timestamp":1700000000123,"issue":{"key":"SUP-1"}}"#;
        assert_eq!(parse(body).unwrap().timestamp_ms, Some(1_700_000_000_123));
        let body = br#"{"webhookEvent":"x","issue":{"key":"SUP-1"}}"#;
        assert_eq!(parse(body).unwrap().timestamp_ms, None);
        for bad in [r#""1700000000123""#, "-5", "0", "1.5", "true", "{}"] {
            let body =
                format!(r#"{{"webhookEvent":"x","timestamp":{bad},"issue":{{"key":"SUP-1"}}}}"#);
            assert!(
                matches!(parse(body.as_bytes()), Err(PayloadError::BadTimestamp)),
                "{bad}"
            );
        }
    }

    #[test]
    fn a_comment_without_issue_is_found_through_its_url() {
        let mut body: Value =
            serde_json::from_slice(&reference("webhook_comment_created.json")).unwrap();
        body.as_object_mut().unwrap().remove("issue");
        let delivery = parse(&serde_json::to_vec(&body).unwrap()).unwrap();
        assert_eq!(delivery.issues, vec![IssueRef::Id(10000)]);
        // Server-style URLs may name the key.
        let body = br#"{"webhookEvent":"comment_updated","comment":{"self":"https://j.example/jira/rest/api/2/issue/SUP-7/comment/31023"}}"#;
        assert_eq!(parse(body).unwrap().issues, vec![key("SUP-7")]);
    }

    #[test]
    fn worklogs_name_their_issue_id() {
        let body = br#"{"webhookEvent":"worklog_created","worklog":{"issueId":"10042"}}"#;
        assert_eq!(parse(body).unwrap().issues, vec![IssueRef::Id(10042)]);
    }

    #[test]
    fn unknown_shapes_are_refused() {
        for (body, expect) in [
            (&b"not json"[..], "not JSON"),
            (b"[]", "webhookEvent"),
            (b"{\"issue\":{\"key\":\"SUP-1\"}}", "webhookEvent"),
            (b"{\"webhookEvent\":\"\"}", "webhookEvent"),
            (b"{\"webhookEvent\":\"project_created\",\"project\":{}}", "no issue"),
            (b"{\"webhookEvent\":\"x\",\"issue\":{\"key\":\"../../etc\"}}", "issue.key"),
            (b"{\"webhookEvent\":\"x\",\"issue\":{\"key\":7}}", "issue.key"),
            (b"{\"webhookEvent\":\"x\",\"issue\":{\"id\":\"-1\"}}", "key or id"),
            (b"{\"webhookEvent\":\"x\",\"issueLink\":{\"sourceIssueId\":0}}", "issueLink"),
            (b"{\"webhookEvent\":\"x\",\"comment\":{\"self\":\"https://x/y\"}}", "comment.self"),
            (
                b"{\"webhookEvent\":\"x\",\"comment\":{\"self\":\"https://x/issue/a b/comment/1\"}}",
                "comment.self",
            ),
        ] {
            let error = parse(body).unwrap_err().to_string();
            assert!(
                error.contains(expect),
                "{}: {error}",
                String::from_utf8_lossy(body)
            );
        }
    }

    #[test]
    fn bodies_of_any_depth_are_read_on_a_small_stack() {
        let run = || {
            let n = 100_000;
            let list = r#"{"type":"bulletList","content":[{"type":"listItem","content":["#;
            let description = format!(
                r#"{{"type":"doc","version":1,"content":[{}{{"type":"text","text":"deep"}}{}]}}"#,
                list.repeat(n),
                "]}]}".repeat(n)
            );
            let body = format!(
                r#"{{"webhookEvent":"jira:issue_updated","issue":{{"key":"SUP-3","fields":{{"description":{description}}}}}}}"#
            );
            let delivery = parse(body.as_bytes()).expect("a deep description is fine");
            assert_eq!(delivery.issues, vec![key("SUP-3")]);
            // Deep and without an issue: refused as such, not as malformed JSON.
            let arrays = format!(
                r#"{{"webhookEvent":"x","a":{}{}}}"#,
                "[".repeat(n),
                "]".repeat(n)
            );
            assert!(matches!(
                parse(arrays.as_bytes()),
                Err(PayloadError::NoIssue { .. })
            ));
            // Cut off after a deep part: not JSON.
            assert!(matches!(
                parse(&body.as_bytes()[..body.len() - 2]),
                Err(PayloadError::NotJson(_))
            ));
        };
        crate::testing::on_small_stack(run);
    }
}
