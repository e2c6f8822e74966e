//! Reading raw issue JSON for the tables, without the parts no table uses.
//!
//! Parsing is most of a rebuild's time (docs/performance.md), and much of a Jira issue is
//! decoration repeated in every user, status and option object: `avatarUrls` (four long URLs
//! per user), `self` links, `iconUrl`s. This deserializer builds an ordinary
//! [`serde_json::Value`] but skips those keys with `IgnoredAny` instead of allocating them.
//! Every path that builds rows (merge and rebuild alike) reads issues through here, so both
//! produce the same rows; the raw files themselves keep everything.
//!
//! Like every parse of Jira JSON it has no depth limit and runs on a growing stack
//! ([`crate::json::from_slice_seed`]); partial values are dropped iteratively on errors.

use std::fmt;

use serde::de::{self, DeserializeSeed, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Number, Value};

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
    json::from_slice_seed(bytes, Pruned)
}

#[derive(Clone, Copy)]
struct Pruned;

impl<'de> DeserializeSeed<'de> for Pruned {
    type Value = Value;
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Pruned {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::Number(v.into()))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::Number(v.into()))
    }
    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        Ok(Number::from_f64(v).map_or(Value::Null, Value::Number))
    }
    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_owned()))
    }
    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }
    fn visit_none<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_some<D: de::Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        d.deserialize_any(self)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Value, A::Error> {
        json::collect_seq(seq, self)
    }
    /// On an error, what was built so far is dropped with [`json::drop_deep`] (it may be deep).
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut out = Map::new();
        loop {
            let key = match map.next_key::<std::borrow::Cow<'de, str>>() {
                Ok(Some(key)) => key,
                Ok(None) => return Ok(Value::Object(out)),
                Err(e) => return Err(json::fail(Value::Object(out), e)),
            };
            let value = if SKIPPED.contains(&key.as_ref()) {
                map.next_value::<IgnoredAny>().map(|_| None)
            } else {
                map.next_value_seed(self).map(Some)
            };
            match value {
                Ok(Some(value)) => {
                    if let Some(old) = out.insert(key.into_owned(), value) {
                        json::drop_deep(old);
                    }
                }
                Ok(None) => {}
                Err(e) => return Err(json::fail(Value::Object(out), e)),
            }
        }
    }
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

    /// Runs `f` on a thread with a 256 KiB stack: anything recursing per level of the values
    /// below would overflow it (and abort the test binary).
    fn on_small_stack<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
        std::thread::Builder::new()
            .stack_size(256 * 1024)
            .spawn(f)
            .expect("spawn")
            .join()
            .expect("no panic")
    }

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
