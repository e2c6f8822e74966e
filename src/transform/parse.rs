//! Reading raw issue JSON for the tables, without the parts no table uses.
//!
//! Parsing is most of a rebuild's time (docs/performance.md), and much of a Jira issue is
//! decoration repeated in every user, status and option object: `avatarUrls` (four long URLs
//! per user), `self` links, `iconUrl`s. [`parse_issue`] builds an ordinary
//! [`serde_json::Value`] but skips those keys ([`json::ValueSeed::skipping`]) instead of
//! allocating them.
//! Every path that builds rows (merge and rebuild alike) reads issues through here, so both
//! produce the same rows; the raw files themselves keep everything.
//!
//! Like every parse of Jira JSON it has no depth limit and runs on a growing stack
//! ([`crate::json::from_slice_seed`]); partial values are dropped iteratively on errors.

use serde_json::Value;

use crate::json;

/// Object keys that no table reads, skipped wherever they appear.
const SKIPPED: &[&str] = &[
    "avatarUrls",
    "self",
    "iconUrl",
    "expand",
    "renderedFields",
    "_links",
];

/// Parses raw issue JSON, leaving out [`SKIPPED`] keys. Any depth parses; drop the value with
/// [`json::drop_deep`].
pub fn parse_issue(bytes: &[u8]) -> serde_json::Result<Value> {
    json::from_slice_seed(bytes, json::ValueSeed::skipping(SKIPPED))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn skips_decoration_and_keeps_the_rest() {
        let raw = json!({
            "id": "1", "self": "u", "expand": "x",
            "fields": {
                "reporter": {"displayName": "A", "avatarUrls": {"16x16": "u"}, "accountId": "a"},
                "labels": ["x", "y"], "n": 1.5, "b": true, "z": null, "big": 18446744073709551615u64,
                "text": "é \"quoted\" \\n",
            },
        });
        let parsed = parse_issue(raw.to_string().as_bytes()).unwrap();
        assert_eq!(
            parsed,
            json!({
                "id": "1",
                "fields": {
                    "reporter": {"displayName": "A", "accountId": "a"},
                    "labels": ["x", "y"], "n": 1.5, "b": true, "z": null, "big": 18446744073709551615u64,
                    "text": "é \"quoted\" \\n",
                },
            })
        );
    }

    #[test]
    fn rejects_what_serde_json_rejects() {
        assert!(parse_issue(b"{\"a\": 1} x").is_err());
        assert!(parse_issue(b"{\"a\": ").is_err());
    }

    use crate::testing::on_small_stack;

    #[test]
    fn any_depth_parses_skips_and_fails_on_a_small_stack() {
        on_small_stack(|| {
            const N: usize = 50_000;
            let deep = |leaf: &str| {
                let mut s = String::new();
                for _ in 0..N {
                    s.push_str(r#"{"self":"u","content":["#);
                }
                s.push_str(leaf);
                for _ in 0..N {
                    s.push_str("]}");
                }
                s
            };
            let description = deep(r#"{"text":"bottom","avatarUrls":{"16x16":"u"}}"#);
            let skipped = deep("1");
            let raw = format!(
                r#"{{"key":"SUP-1","avatarUrls":{skipped},"fields":{{"description":{description}}}}}"#
            );
            let v = parse_issue(raw.as_bytes()).expect("parses");
            assert!(v.get("avatarUrls").is_none());
            // The nested seeds prune at every level, down to the bottom.
            let mut node = &v["fields"]["description"];
            for _ in 0..N {
                assert!(node.get("self").is_none());
                node = &node["content"][0];
            }
            assert_eq!(node, &json!({"text": "bottom"}));
            assert_eq!(json::depth(&v), 2 + 2 * N + 1);
            json::drop_deep(v);
            // Errors after (or inside) a deep part unwind without recursion.
            for bad in [
                format!(r#"{{"a":{description},"b":{description}"#),
                format!(r#"[{description},{description},"#),
                format!(r#"{{"avatarUrls":{skipped},"a":{description}}} x"#),
                deep("x"),
            ] {
                assert!(parse_issue(bad.as_bytes()).is_err());
            }
        });
    }
}
