//! Phase one: the TOML text → permissive raw structs, collecting every syntax, unknown-key,
//! environment and type problem.
//!
//! Every raw field is an `Option` and carries no default: "missing", "wrong type" and
//! "out of range" are then told apart, and defaults live in one place (`validate.rs`).
//! Each top-level section is deserialized on its own; inside a section a type error removes
//! the offending key and deserialization is retried, so the section's other keys are still
//! checked (and a removed key is not reported again as missing).

use std::collections::BTreeMap;

use serde::Deserialize;
use serde::de::{DeserializeOwned, Visitor};

use super::interpolate::{inline_secrets, interpolate_value};
use super::{Problems, join_path};

/// The whole file, section by section; `None` = absent (or too broken to read).
#[derive(Debug, Default)]
pub(super) struct RawConfig {
    pub(super) data_dir: Option<String>,
    pub(super) jira: Option<RawJira>,
    pub(super) jira_sla: Option<RawJiraSla>,
    pub(super) oauth: Option<RawOAuth>,
    pub(super) sweep: Option<RawSweep>,
    pub(super) imap: Option<RawImap>,
    pub(super) webhook: Option<RawWebhook>,
    pub(super) sla: Option<RawSla>,
    pub(super) sla_poll: Option<RawSchedule>,
    pub(super) reconcile: Option<RawSchedule>,
    pub(super) fields: Option<BTreeMap<String, String>>,
    pub(super) attachments: Option<RawAttachments>,
    pub(super) distribution: Option<RawDistribution>,
    pub(super) output: Option<RawOutput>,
    pub(super) run: Option<RawRun>,
    /// Secrets written in the file rather than only through `${VAR}` (key paths).
    pub(super) inline_secrets: Vec<&'static str>,
}

/// The top-level keys, for "did you mean" hints.
const TOP_LEVEL_KEYS: &[&str] = &[
    "data_dir",
    "jira",
    "jira_sla",
    "oauth",
    "sweep",
    "imap",
    "webhook",
    "sla",
    "sla_poll",
    "reconcile",
    "fields",
    "attachments",
    "distribution",
    "output",
    "run",
];

/// `[jira]` as written. Integers are read as `i64` so that `-1` is reported as out of range
/// rather than as a serde type error.
#[derive(Debug, Deserialize)]
pub(super) struct RawJira {
    pub(super) base_url: Option<String>,
    pub(super) deployment: Option<String>,
    pub(super) email: Option<String>,
    pub(super) api_token: Option<String>,
    pub(super) allow_insecure_http: Option<bool>,
    pub(super) jql: Option<String>,
    pub(super) max_concurrency: Option<i64>,
    pub(super) max_requests_per_second: Option<f64>,
    pub(super) request_timeout_secs: Option<i64>,
    pub(super) max_retries: Option<i64>,
    pub(super) proxy: Option<String>,
}

/// `[jira_sla]` as written.
#[derive(Debug, Deserialize)]
pub(super) struct RawJiraSla {
    pub(super) base_url: Option<String>,
    pub(super) email: Option<String>,
    pub(super) api_token: Option<String>,
    pub(super) allow_insecure_http: Option<bool>,
    pub(super) max_concurrency: Option<i64>,
    pub(super) max_requests_per_second: Option<f64>,
}

/// `[oauth]` as written.
#[derive(Debug, Deserialize)]
pub(super) struct RawOAuth {
    pub(super) client_id: Option<String>,
    pub(super) client_secret: Option<String>,
    pub(super) redirect_uri: Option<String>,
    pub(super) scopes: Option<Vec<String>>,
    pub(super) auth_url: Option<String>,
    pub(super) api_url: Option<String>,
}

/// `[sweep]` as written.
#[derive(Debug, Deserialize)]
pub(super) struct RawSweep {
    pub(super) schedule: Option<String>,
    pub(super) overlap_secs: Option<i64>,
}

/// `[imap]` as written; `security` stays a string for a friendlier message.
#[derive(Debug, Deserialize)]
pub(super) struct RawImap {
    pub(super) host: Option<String>,
    pub(super) port: Option<i64>,
    pub(super) security: Option<String>,
    pub(super) username: Option<String>,
    pub(super) password: Option<String>,
    pub(super) mailbox: Option<String>,
    pub(super) idle: Option<bool>,
    pub(super) allowed_senders: Option<Vec<String>>,
    pub(super) ca_file: Option<String>,
    pub(super) poll_interval_secs: Option<i64>,
    pub(super) max_message_bytes: Option<i64>,
    pub(super) on_rejected: Option<String>,
    pub(super) rejected_folder: Option<String>,
    pub(super) max_attempts: Option<i64>,
}

/// `[webhook]` as written.
#[derive(Debug, Deserialize)]
pub(super) struct RawWebhook {
    pub(super) listen: Option<String>,
    pub(super) secret: Option<String>,
    pub(super) retention_days: Option<i64>,
    pub(super) max_connections: Option<i64>,
    pub(super) header_timeout_ms: Option<i64>,
    pub(super) body_timeout_ms: Option<i64>,
    pub(super) max_age_secs: Option<i64>,
}

/// `[sla]` as written.
#[derive(Debug, Deserialize)]
pub(super) struct RawSla {
    pub(super) first_response: Option<String>,
    pub(super) time_to_resolution: Option<String>,
}

/// `[sla_poll]` / `[reconcile]` as written.
#[derive(Debug, Deserialize)]
pub(super) struct RawSchedule {
    pub(super) schedule: Option<String>,
}

/// `[attachments]` as written.
#[derive(Debug, Deserialize)]
pub(super) struct RawAttachments {
    pub(super) download: Option<bool>,
    pub(super) max_bytes: Option<i64>,
    pub(super) max_concurrency: Option<i64>,
}

/// `[distribution]` as written.
#[derive(Debug, Deserialize)]
pub(super) struct RawDistribution {
    pub(super) dir: Option<String>,
    pub(super) attachments: Option<bool>,
}

/// `[output]` as written: modes are an integer (`0o644`) or a string of octal digits.
#[derive(Debug, Deserialize)]
pub(super) struct RawOutput {
    pub(super) file_mode: Option<toml::Value>,
    pub(super) dir_mode: Option<toml::Value>,
}

/// `[run]` as written.
#[derive(Debug, Deserialize)]
pub(super) struct RawRun {
    pub(super) max_attempts: Option<i64>,
    pub(super) shutdown_grace_secs: Option<i64>,
    pub(super) max_deletions: Option<i64>,
    pub(super) quarantine_days: Option<i64>,
    pub(super) metrics_listen: Option<String>,
}

/// Parses `text`, interpolates `${VAR}`s and reads every section. Returns `None` only when
/// the text is not TOML at all; otherwise every readable section is returned and the
/// problems of the others are in `problems`.
pub(super) fn parse(
    text: &str,
    env: &dyn Fn(&str) -> Option<String>,
    problems: &mut Problems,
) -> Option<RawConfig> {
    let root: toml::Table = match toml::from_str(text) {
        Ok(root) => root,
        Err(err) => {
            let (location, message) = syntax_error(text, &err);
            problems.push(&location, message);
            return None;
        }
    };
    let inline_secrets = inline_secrets(&root);
    let mut root = toml::Value::Table(root);
    interpolate_value(&mut root, "", env, problems);
    let toml::Value::Table(root) = root else {
        unreachable!("interpolation keeps the root a table")
    };

    let mut raw = RawConfig {
        inline_secrets,
        ..RawConfig::default()
    };
    for (key, value) in root {
        let path = key.as_str();
        if path != "data_dir" && TOP_LEVEL_KEYS.contains(&path) && !value.is_table() {
            problems.push(
                path,
                format!(
                    "must be a table (a `[{path}]` section), not {}",
                    describe(&value)
                ),
            );
            continue;
        }
        match path {
            "data_dir" => raw.data_dir = section(path, value, problems),
            "jira" => raw.jira = section(path, value, problems),
            "jira_sla" => raw.jira_sla = section(path, value, problems),
            "oauth" => raw.oauth = section(path, value, problems),
            "sweep" => raw.sweep = section(path, value, problems),
            "imap" => raw.imap = section(path, value, problems),
            "webhook" => raw.webhook = section(path, value, problems),
            "sla" => raw.sla = section(path, value, problems),
            "sla_poll" => raw.sla_poll = section(path, value, problems),
            "reconcile" => raw.reconcile = section(path, value, problems),
            "fields" => raw.fields = section(path, value, problems),
            "attachments" => raw.attachments = section(path, value, problems),
            "distribution" => raw.distribution = section(path, value, problems),
            "output" => raw.output = section(path, value, problems),
            "run" => raw.run = section(path, value, problems),
            _ => problems.push(path, unknown_key_message(path, TOP_LEVEL_KEYS)),
        }
    }
    Some(raw)
}

/// "a string", "an integer", … for messages that must not echo the value.
fn describe(value: &toml::Value) -> &'static str {
    match value {
        toml::Value::String(_) => "a string",
        toml::Value::Integer(_) => "an integer",
        toml::Value::Float(_) => "a float",
        toml::Value::Boolean(_) => "a boolean",
        toml::Value::Datetime(_) => "a date-time",
        toml::Value::Array(_) => "an array",
        toml::Value::Table(_) => "a table",
    }
}

/// `("line L, column C", message)` for a TOML syntax error. The source line is not quoted:
/// it could hold a secret.
fn syntax_error(text: &str, err: &toml::de::Error) -> (String, String) {
    let message = err
        .message()
        .lines()
        .map(str::trim)
        .filter(|line| !line.is_empty())
        .collect::<Vec<_>>()
        .join("; ");
    let location = match err.span() {
        Some(span) => {
            let before = &text[..span.start.min(text.len())];
            let line = before.matches('\n').count() + 1;
            let column = before.rsplit('\n').next().unwrap_or("").chars().count() + 1;
            format!("line {line}, column {column}")
        }
        None => "toml".to_owned(),
    };
    (location, format!("not valid TOML: {message}"))
}

/// Deserializes one top-level value at `path`, reporting unknown keys and type errors.
/// After a type error the offending key is dropped (and marked broken) and the rest of the
/// section is read again; at most one retry per key.
fn section<T: DeserializeOwned>(
    path: &str,
    mut value: toml::Value,
    problems: &mut Problems,
) -> Option<T> {
    let expected = struct_fields::<T>();
    let attempts = match &value {
        toml::Value::Table(table) => table.len() + 1,
        _ => 1,
    };
    for _ in 0..attempts {
        let mut unknown: Vec<String> = Vec::new();
        let mut on_ignored =
            |ignored: serde_ignored::Path<'_>| unknown.push(ignored_path(&ignored));
        let deserializer = serde_ignored::Deserializer::new(value.clone(), &mut on_ignored);
        match serde_path_to_error::deserialize::<_, T>(deserializer) {
            Ok(parsed) => {
                for key in unknown {
                    let full = join_path(path, &key);
                    let leaf = key.rsplit('.').next().unwrap_or(&key);
                    problems.push(&full, unknown_key_message(leaf, expected));
                }
                return Some(parsed);
            }
            Err(err) => {
                let mut first_key = None;
                let mut relative = String::new();
                for segment in err.path().iter() {
                    match segment {
                        serde_path_to_error::Segment::Map { key } => {
                            first_key.get_or_insert_with(|| key.clone());
                            relative = join_path(&relative, key);
                        }
                        serde_path_to_error::Segment::Seq { index } => {
                            relative.push_str(&format!("[{index}]"));
                        }
                        serde_path_to_error::Segment::Enum { .. }
                        | serde_path_to_error::Segment::Unknown => {}
                    }
                }
                let full = if relative.is_empty() {
                    path.to_owned()
                } else if relative.starts_with('[') {
                    format!("{path}{relative}")
                } else {
                    join_path(path, &relative)
                };
                problems.push(&full, scrub_serde_message(err.inner().message()));
                let removed = match (&mut value, first_key) {
                    (toml::Value::Table(table), Some(key)) => {
                        let removed = table.remove(&key).is_some();
                        // The whole key counts as reported, e.g. all of `allowed_senders`
                        // after a bad element.
                        problems.push_silently(&join_path(path, &key));
                        removed
                    }
                    _ => false,
                };
                if !removed {
                    problems.push_silently(path);
                    return None;
                }
            }
        }
    }
    problems.push_silently(path);
    None
}

/// Formats a `serde_ignored` path like the rest of the messages: `a.b[0].c`.
fn ignored_path(path: &serde_ignored::Path<'_>) -> String {
    match path {
        serde_ignored::Path::Root => String::new(),
        serde_ignored::Path::Seq { parent, index } => format!("{}[{index}]", ignored_path(parent)),
        serde_ignored::Path::Map { parent, key } => join_path(&ignored_path(parent), key),
        serde_ignored::Path::Some { parent }
        | serde_ignored::Path::NewtypeStruct { parent }
        | serde_ignored::Path::NewtypeVariant { parent } => ignored_path(parent),
    }
}

/// "unknown key", with the closest valid key as a hint, or the list of valid keys.
fn unknown_key_message(key: &str, expected: &[&str]) -> String {
    if expected.is_empty() {
        return "unknown key".to_owned();
    }
    let close = |candidate: &&&str| {
        edit_distance(key, candidate) <= (key.len() / 3).max(2)
            || (key.len() >= 4 && (candidate.starts_with(key) || key.starts_with(**candidate)))
    };
    let closest = expected
        .iter()
        .filter(close)
        .min_by_key(|candidate| edit_distance(key, candidate));
    match closest {
        Some(candidate) => format!("unknown key (did you mean `{candidate}`?)"),
        None => format!("unknown key (expected one of: {})", expected.join(", ")),
    }
}

/// Levenshtein distance, for "did you mean" hints on short key names.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut previous: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut current = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            let substitution = previous[j] + usize::from(ca != *cb);
            current[j + 1] = substitution.min(previous[j + 1] + 1).min(current[j] + 1);
        }
        previous = current;
    }
    previous[b.len()]
}

/// Removes echoed values from serde's "invalid type/value" messages (`invalid type: string
/// "…", expected i64` → `invalid type: string, expected an integer`): a value in the wrong
/// place may still be a secret. Also words the expectation for people, not Rust types.
fn scrub_serde_message(message: &str) -> String {
    let message = message.trim();
    for prefix in ["invalid type: ", "invalid value: "] {
        if let Some(rest) = message.strip_prefix(prefix)
            && let Some((unexpected, expected)) = rest.rsplit_once(", expected ")
        {
            let cut = [unexpected.find(" `"), unexpected.find(" \"")]
                .into_iter()
                .flatten()
                .min()
                .unwrap_or(unexpected.len());
            let kind = &unexpected[..cut];
            let expected = match expected {
                "i8" | "i16" | "i32" | "i64" | "u8" | "u16" | "u32" | "u64" | "usize" => {
                    "an integer"
                }
                "f32" | "f64" => "a number",
                other => other,
            };
            return format!("{prefix}{kind}, expected {expected}");
        }
    }
    message.to_owned()
}

/// The field names of struct `T` (empty for other types), read through serde itself so the
/// list cannot drift from the struct.
fn struct_fields<T: DeserializeOwned>() -> &'static [&'static str] {
    let mut fields = None;
    let _ = T::deserialize(FieldProbe(&mut fields));
    fields.unwrap_or(&[])
}

/// A deserializer that only records the field list it is asked for, then fails.
struct FieldProbe<'a>(&'a mut Option<&'static [&'static str]>);

impl<'de> serde::Deserializer<'de> for FieldProbe<'_> {
    type Error = serde::de::value::Error;

    fn deserialize_any<V: Visitor<'de>>(self, _visitor: V) -> Result<V::Value, Self::Error> {
        Err(serde::de::Error::custom("field probe"))
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        fields: &'static [&'static str],
        _visitor: V,
    ) -> Result<V::Value, Self::Error> {
        *self.0 = Some(fields);
        Err(serde::de::Error::custom("field probe"))
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf
        option unit unit_struct newtype_struct seq tuple tuple_struct map enum identifier
        ignored_any
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn probes_struct_fields() {
        assert_eq!(
            struct_fields::<RawSweep>(),
            &["schedule", "overlap_secs"][..]
        );
        assert!(struct_fields::<String>().is_empty());
        assert!(struct_fields::<BTreeMap<String, String>>().is_empty());
    }

    #[test]
    fn suggests_close_keys() {
        assert_eq!(
            unknown_key_message("max_concurency", struct_fields::<RawJira>()),
            "unknown key (did you mean `max_concurrency`?)"
        );
        assert!(unknown_key_message("zzz", &["schedule"]).contains("expected one of: schedule"));
    }

    #[test]
    fn scrubs_echoed_values() {
        assert_eq!(
            scrub_serde_message("invalid type: string \"hunter2, expected x\", expected i64"),
            "invalid type: string, expected an integer"
        );
        assert_eq!(
            scrub_serde_message("invalid type: integer `12345`, expected a string"),
            "invalid type: integer, expected a string"
        );
        assert_eq!(scrub_serde_message("missing field"), "missing field");
    }
}
