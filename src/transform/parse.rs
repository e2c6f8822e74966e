//! Reading raw issue JSON for the tables, without the parts no table uses.
//!
//! Parsing is most of a rebuild's time (docs/performance.md), and much of a Jira issue is
//! decoration repeated in every user, status and option object: `avatarUrls` (four long URLs
//! per user), `self` links, `iconUrl`s. This deserializer builds an ordinary
//! [`serde_json::Value`] but skips those keys with `IgnoredAny` instead of allocating them.
//! Every path that builds rows (merge and rebuild alike) reads issues through here, so both
//! produce the same rows; the raw files themselves keep everything.

use std::fmt;

use serde::de::{self, DeserializeSeed, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Number, Value};

/// Object keys that no table reads, skipped wherever they appear.
const SKIPPED: &[&str] = &[
    "avatarUrls",
    "self",
    "iconUrl",
    "expand",
    "renderedFields",
    "_links",
];

/// Parses raw issue JSON, leaving out [`SKIPPED`] keys.
pub fn parse_issue(bytes: &[u8]) -> serde_json::Result<Value> {
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let value = Pruned.deserialize(&mut de)?;
    de.end()?;
    Ok(value)
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
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut out = Vec::with_capacity(seq.size_hint().unwrap_or(0));
        while let Some(v) = seq.next_element_seed(self)? {
            out.push(v);
        }
        Ok(Value::Array(out))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut out = Map::new();
        while let Some(key) = map.next_key::<std::borrow::Cow<'de, str>>()? {
            if SKIPPED.contains(&key.as_ref()) {
                map.next_value::<IgnoredAny>()?;
            } else {
                let value = map.next_value_seed(self)?;
                out.insert(key.into_owned(), value);
            }
        }
        Ok(Value::Object(out))
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
}
