//! Stack-safe JSON for values that come from Jira.
//!
//! # Why
//! Jira puts no limit on how deeply a document nests: 40 nested bullet lists in a description
//! are already more than 128 levels of JSON, and the API accepts documents thousands of levels
//! deep. serde_json refuses anything past 128 levels by default, which made a whole search page
//! unreadable because of one issue. Lifting that limit is not enough on its own: serde_json's
//! parser and serialiser, and `serde_json::Value`'s `Drop`, `Clone`, `PartialEq`, `Debug` and
//! `Display`, all recurse once per level, and a stack overflow is not a panic but the end of
//! the process (a 5,000-level value already overflows a 2 MiB tokio worker stack when dropped in
//! a debug build).
//!
//! So every body and file from Jira goes through this module:
//! - [`from_slice`], [`from_str`] and [`from_slice_seed`] parse without a depth limit, on a stack
//!   that grows on the heap when it runs low (`serde_stacker`, also around nested seeds);
//! - [`to_writer`], [`to_vec`] and [`to_string`] serialise the same way;
//! - [`drop_deep`] destroys a value with an explicit stack instead of recursion, and
//!   [`DeepValue`] does so whenever it goes out of scope (early returns and `?` included).
//!
//! What stays the caller's duty: no `clone()`, `==`, `{:?}`, `{}`/`to_string()`, `json!`
//! interpolation or recursive walk of a whole issue value (or of any part that can nest
//! without bound, such as a description or a comment body). Small, fixed-shape parts (a status,
//! an attachment entry) are fine.

use std::fmt;
use std::io;
use std::ops::{Deref, DerefMut};

use serde::Serialize;
use serde::de::{self, DeserializeSeed, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Number, Value};

/// Parses JSON bytes into a [`Value`] with no depth limit, exactly as `serde_json::from_slice`
/// would parse a document within its limit.
pub fn from_slice(bytes: &[u8]) -> serde_json::Result<Value> {
    from_slice_seed(bytes, ValueSeed::ALL)
}

/// Like [`from_slice`], for text.
pub fn from_str(text: &str) -> serde_json::Result<Value> {
    parse(serde_json::de::StrRead::new(text), ValueSeed::ALL)
}

/// Parses JSON bytes with `seed` (e.g. a deserializer that leaves keys out), with no depth
/// limit and on a growing stack. The stack guard wraps every nested seed too, so a seed's
/// `next_element_seed` / `next_value_seed` calls are as safe as the top level.
///
/// When parsing fails, whatever was built so far is dropped by the seed; a value that parsed
/// but is followed by trailing characters is dropped here with [`drop_deep`]. A seed that
/// collects children should therefore drop them with [`drop_deep`] on its own error paths
/// (as [`from_slice`]'s does), or a deep valid prefix followed by garbage (a truncated body)
/// overflows the stack while the error unwinds.
pub(crate) fn from_slice_seed<'de, S>(bytes: &'de [u8], seed: S) -> serde_json::Result<Value>
where
    S: DeserializeSeed<'de, Value = Value>,
{
    parse(serde_json::de::SliceRead::new(bytes), seed)
}

fn parse<'de, R, S>(read: R, seed: S) -> serde_json::Result<Value>
where
    R: serde_json::de::Read<'de>,
    S: DeserializeSeed<'de, Value = Value>,
{
    let mut de = serde_json::Deserializer::new(read);
    de.disable_recursion_limit();
    let value = seed.deserialize(serde_stacker::Deserializer::new(&mut de))?;
    match de.end() {
        Ok(()) => Ok(value),
        Err(e) => {
            drop_deep(value);
            Err(e)
        }
    }
}

/// Serialises `value` as compact JSON into `writer` (exactly what `serde_json::to_writer`
/// writes), on a growing stack.
pub(crate) fn to_writer<W: io::Write>(writer: W, value: &Value) -> serde_json::Result<()> {
    let mut ser = serde_json::Serializer::new(writer);
    Nested(value).serialize(serde_stacker::Serializer::new(&mut ser))
}

/// Compact JSON bytes of `value` (what `serde_json::to_vec` gives), on a growing stack.
pub fn to_vec(value: &Value) -> serde_json::Result<Vec<u8>> {
    let mut out = Vec::with_capacity(128);
    to_writer(&mut out, value)?;
    Ok(out)
}

/// Compact JSON text of `value` (what `serde_json::to_string` and `Value`'s `Display` give),
/// on a growing stack.
pub fn to_string(value: &Value) -> serde_json::Result<String> {
    let bytes = to_vec(value)?;
    // serde_json writes valid UTF-8; the check cannot fail but costs one pass.
    String::from_utf8(bytes).map_err(<serde_json::Error as serde::ser::Error>::custom)
}

/// A `Value` that serialises its arrays and objects through `collect_seq` / `collect_map`:
/// the only calls where `serde_stacker::Serializer` checks the stack (and grows it).
/// `Value`'s own `Serialize` writes objects entry by entry, which that adapter passes
/// through unguarded, so objects nested in objects would still recurse on the thread's
/// stack.
struct Nested<'a>(&'a Value);

impl Serialize for Nested<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self.0 {
            Value::Array(items) => serializer.collect_seq(items.iter().map(Nested)),
            Value::Object(map) => serializer.collect_map(map.iter().map(|(k, v)| (k, Nested(v)))),
            scalar => scalar.serialize(serializer),
        }
    }
}

/// Destroys `value` without recursion: containers that hold containers are taken apart on an
/// explicit stack, so any depth is freed on any thread. A scalar or a container of scalars is
/// dropped at once, without allocating.
pub fn drop_deep(value: Value) {
    let mut stack = Vec::new();
    take_nested(value, &mut stack);
    while let Some(value) = stack.pop() {
        take_nested(value, &mut stack);
    }
}

/// Moves the non-empty containers out of `value` onto `stack`, then drops what is left of it
/// (scalars and empty containers: a shallow drop).
fn take_nested(mut value: Value, stack: &mut Vec<Value>) {
    match &mut value {
        Value::Array(items) => {
            for child in items.iter_mut().filter(|c| has_children(c)) {
                stack.push(std::mem::take(child));
            }
        }
        Value::Object(map) => {
            for child in map.values_mut().filter(|c| has_children(c)) {
                stack.push(std::mem::take(child));
            }
        }
        _ => {}
    }
}

fn has_children(value: &Value) -> bool {
    match value {
        Value::Array(items) => !items.is_empty(),
        Value::Object(map) => !map.is_empty(),
        _ => false,
    }
}

/// How deeply `value` nests: 0 for a scalar or an empty container, 1 for a container of
/// scalars, and so on. Iterative.
pub fn depth(value: &Value) -> usize {
    let mut deepest = 0;
    let mut stack = vec![(value, 0usize)];
    while let Some((value, level)) = stack.pop() {
        let children: Box<dyn Iterator<Item = &Value>> = match value {
            Value::Array(items) if !items.is_empty() => Box::new(items.iter()),
            Value::Object(map) if !map.is_empty() => Box::new(map.values()),
            _ => continue,
        };
        deepest = deepest.max(level + 1);
        stack.extend(children.map(|child| (child, level + 1)));
    }
    deepest
}

/// An owned [`Value`] that is destroyed with [`drop_deep`] whenever it goes out of scope, on
/// every path (return, `?`, a dropped future). Derefs to the value.
///
/// Not `Clone`, `PartialEq` or `Display` (each would recurse); its `Debug` shows only the
/// kind of value.
#[derive(Default)]
pub struct DeepValue(Value);

impl DeepValue {
    /// Takes ownership of `value`.
    pub fn new(value: Value) -> DeepValue {
        DeepValue(value)
    }

    /// The value, which the caller must now drop with care itself.
    pub(crate) fn into_inner(mut self) -> Value {
        std::mem::take(&mut self.0)
    }
}

impl From<Value> for DeepValue {
    fn from(value: Value) -> DeepValue {
        DeepValue(value)
    }
}

impl Drop for DeepValue {
    fn drop(&mut self) {
        drop_deep(std::mem::take(&mut self.0));
    }
}

impl Deref for DeepValue {
    type Target = Value;
    fn deref(&self) -> &Value {
        &self.0
    }
}

impl DerefMut for DeepValue {
    fn deref_mut(&mut self) -> &mut Value {
        &mut self.0
    }
}

impl fmt::Debug for DeepValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = match &self.0 {
            Value::Null => "null",
            Value::Bool(_) => "bool",
            Value::Number(_) => "number",
            Value::String(_) => "string",
            Value::Array(_) => "array",
            Value::Object(_) => "object",
        };
        write!(f, "DeepValue({kind})")
    }
}

/// Builds exactly the `Value` serde_json would, leaving out the object keys in `skip`
/// wherever they appear (without allocating them), and on an error drops the children built
/// so far with [`drop_deep`]. [`ValueSeed::ALL`] is what [`from_slice`] uses; pass another to
/// [`from_slice_seed`] to leave out parts nobody reads.
#[derive(Clone, Copy, Debug)]
pub struct ValueSeed {
    skip: &'static [&'static str],
}

impl ValueSeed {
    /// Every key kept.
    pub const ALL: ValueSeed = ValueSeed { skip: &[] };

    /// Leaves out the object keys `skip`, at any depth.
    pub const fn skipping(skip: &'static [&'static str]) -> ValueSeed {
        ValueSeed { skip }
    }
}

impl<'de> DeserializeSeed<'de> for ValueSeed {
    type Value = Value;
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for ValueSeed {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any valid JSON value")
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
        collect_seq(seq, self)
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut out = Map::new();
        loop {
            let key = match map.next_key::<std::borrow::Cow<'de, str>>() {
                Ok(Some(key)) => key,
                Ok(None) => return Ok(Value::Object(out)),
                Err(e) => return Err(fail(Value::Object(out), e)),
            };
            let value = if self.skip.contains(&key.as_ref()) {
                map.next_value::<de::IgnoredAny>().map(|_| None)
            } else {
                map.next_value_seed(self).map(Some)
            };
            match value {
                // A repeated key keeps its last value, as serde_json's own `Value` does.
                Ok(Some(value)) => {
                    if let Some(old) = out.insert(key.into_owned(), value) {
                        drop_deep(old);
                    }
                }
                Ok(None) => {}
                Err(e) => return Err(fail(Value::Object(out), e)),
            }
        }
    }
}

/// The elements of a JSON array read with `seed`; on an error the elements read so far are
/// dropped with [`drop_deep`] (they may be deep).
fn collect_seq<'de, A, S>(mut seq: A, seed: S) -> Result<Value, A::Error>
where
    A: SeqAccess<'de>,
    S: DeserializeSeed<'de, Value = Value> + Copy,
{
    let mut out = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(4096));
    loop {
        match seq.next_element_seed(seed) {
            Ok(Some(value)) => out.push(value),
            Ok(None) => return Ok(Value::Array(out)),
            Err(e) => return Err(fail(Value::Array(out), e)),
        }
    }
}

/// Drops a partly built container with [`drop_deep`] and passes the error on.
fn fail<E>(partial: Value, error: E) -> E {
    drop_deep(partial);
    error
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    use crate::testing::on_small_stack;

    const DEEP: usize = 100_000;

    fn deep_arrays(n: usize) -> String {
        format!("{}7{}", "[".repeat(n), "]".repeat(n))
    }

    /// `n` nested `bulletList`/`listItem` levels (2 JSON objects and 2 arrays each) as text.
    fn deep_adf(n: usize) -> String {
        let mut s = String::from(r#"{"content":["#);
        for _ in 0..n {
            s.push_str(r#"{"content":[{"content":["#);
        }
        s.push_str(r#"{"content":[{"text":"bottom","type":"text"}],"type":"paragraph"}"#);
        for _ in 0..n {
            s.push_str(r#"],"type":"listItem"}],"type":"bulletList"}"#);
        }
        s.push_str(r#"],"type":"doc","version":1}"#);
        s
    }

    #[test]
    fn deep_arrays_parse_serialise_and_drop_on_a_small_stack() {
        on_small_stack(|| {
            let text = deep_arrays(DEEP);
            let v = from_slice(text.as_bytes()).expect("parses");
            assert_eq!(depth(&v), DEEP);
            // (No `assert_eq!` on the texts: its message would be megabytes long.)
            assert!(to_vec(&v).expect("serialises") == text.as_bytes());
            assert!(to_string(&v).expect("serialises") == text);
            drop_deep(v);
            let v = from_str(&text).expect("parses");
            drop(DeepValue::new(v));
        });
    }

    #[test]
    fn deep_objects_parse_serialise_and_drop_on_a_small_stack() {
        on_small_stack(|| {
            let text = format!("{}{{}}{}", r#"{"a":1,"b":"#.repeat(DEEP), "}".repeat(DEEP));
            let v = from_slice(text.as_bytes()).expect("parses");
            assert_eq!(depth(&v), DEEP);
            assert!(to_string(&v).expect("serialises") == text);
            drop_deep(v);
        });
    }

    #[test]
    fn deep_adf_parses_serialises_and_drops_on_a_small_stack() {
        on_small_stack(|| {
            let text = deep_adf(DEEP / 2);
            let v = from_slice(text.as_bytes()).expect("parses");
            // doc.content, then per level: object, array, object, array; then the paragraph,
            // its content and the text node.
            assert_eq!(depth(&v), 2 + 4 * (DEEP / 2) + 3);
            let mut out = Vec::new();
            to_writer(&mut out, &v).expect("serialises");
            assert!(out == text.as_bytes());
            let rendered = crate::transform::adf::adf_to_text(&v);
            assert!(
                rendered.ends_with("- bottom"),
                "{}",
                &rendered[rendered.len() - 20..]
            );
            let guarded = DeepValue::from(v);
            assert!(guarded.is_object());
            assert_eq!(format!("{guarded:?}"), "DeepValue(object)");
        });
    }

    #[test]
    fn errors_after_a_deep_prefix_do_not_overflow() {
        on_small_stack(|| {
            let deep = deep_arrays(DEEP / 5);
            for text in [
                // Truncated after a complete deep element (a cut-off body).
                format!("[{deep},{deep},"),
                format!("{{\"a\":{deep},\"b\":{deep}"),
                format!("{{\"a\":{deep},\"a\":{deep},\"b\""),
                // Trailing garbage after a complete deep value.
                format!("{deep} x"),
                // Broken at the bottom.
                format!("{}x{}", "[".repeat(DEEP / 5), "]".repeat(DEEP / 5)),
            ] {
                assert!(from_slice(text.as_bytes()).is_err());
                assert!(from_str(&text).is_err());
            }
        });
    }

    #[test]
    fn depth_counts_levels_and_shallow_values_drop() {
        use serde_json::json;
        for (v, expect) in [
            (Value::Null, 0),
            (json!(1), 0),
            (json!("s"), 0),
            (json!([]), 0),
            (json!({}), 0),
            (json!([1, "a", null]), 1),
            (json!({"a": 1, "b": {}}), 1),
            (json!({"a": [1, [2, [3]]], "b": {"c": {"d": []}}}), 4),
        ] {
            assert_eq!(depth(&v), expect, "{v}");
            drop_deep(v);
        }
    }

    /// Ordinary JSON values: every kind, nested a few levels.
    fn value() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(|n| Value::Number(n.into())),
            any::<u64>().prop_map(|n| Value::Number(n.into())),
            any::<f64>().prop_map(|f| Number::from_f64(f).map_or(Value::Null, Value::Number)),
            ".{0,12}".prop_map(Value::String),
            "[\\u{0}-\\u{1f}\"\\\\/é😀\\u{fdd0}]{0,6}".prop_map(Value::String),
        ];
        leaf.prop_recursive(5, 64, 8, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..8).prop_map(Value::Array),
                prop::collection::btree_map(".{0,6}", inner, 0..8)
                    .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }

    proptest! {
        #[test]
        fn ordinary_values_round_trip_exactly_like_serde_json(v in value()) {
            let ours = to_vec(&v).unwrap();
            prop_assert_eq!(&ours, &serde_json::to_vec(&v).unwrap());
            prop_assert_eq!(to_string(&v).unwrap(), v.to_string());
            let pretty = serde_json::to_vec_pretty(&v).unwrap();
            for bytes in [&ours, &pretty] {
                let parsed = from_slice(bytes).unwrap();
                // (Not `== v`: serde_json's float parsing does not round-trip every f64.)
                prop_assert_eq!(&parsed, &serde_json::from_slice::<Value>(bytes).unwrap());
            }
        }

        #[test]
        fn any_text_parses_or_fails_exactly_like_serde_json(
            text in "[\\[\\]{}:,\" a-z0-9.eE+\\-\\\\ntrufals]{0,40}",
        ) {
            let ours = from_str(&text);
            let theirs = serde_json::from_str::<Value>(&text);
            match (&ours, &theirs) {
                (Ok(a), Ok(b)) => prop_assert_eq!(a, b),
                (Err(a), Err(b)) => {
                    prop_assert_eq!(a.classify(), b.classify());
                    prop_assert_eq!((a.line(), a.column()), (b.line(), b.column()));
                }
                _ => prop_assert!(false, "{text:?}: {ours:?} vs {theirs:?}"),
            }
            let bytes = from_slice(text.as_bytes()).map_err(|e| e.to_string());
            prop_assert_eq!(bytes, ours.map_err(|e| e.to_string()));
        }

        #[test]
        fn numbers_parse_like_serde_json(
            text in "-?(0|[1-9][0-9]{0,24})(\\.[0-9]{1,20})?([eE][+-]?[0-9]{1,3})?",
        ) {
            let ours = from_str(&text).map_err(|e| e.to_string());
            let theirs = serde_json::from_str::<Value>(&text).map_err(|e| e.to_string());
            prop_assert_eq!(ours, theirs);
        }
    }
}
