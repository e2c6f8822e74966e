//! `${VAR}` references in string values, replaced from the environment.
//!
//! Substitution runs on the parsed [`toml::Value`] tree, in string values only, never on
//! the raw text: a value containing quotes or newlines cannot break the TOML or add keys,
//! and a key path is known for every problem. `$${` is a literal `${`; any other `$` is
//! kept as written.

use super::{Problems, join_path};

/// The key paths whose values are credentials.
pub(super) const SECRET_PATHS: &[&str] = &[
    "jira.api_token",
    "jira_sla.api_token",
    "oauth.client_secret",
    "imap.password",
    "webhook.secret",
];

/// The secrets of [`SECRET_PATHS`] written in the file itself, at least in part, rather
/// than only through `${VAR}` references; read from the parsed text before interpolation.
/// `jira.proxy` counts when its URL holds a password written in the file.
pub(super) fn inline_secrets(root: &toml::Table) -> Vec<&'static str> {
    let text = |path: &str| {
        let (section, key) = path.split_once('.').unwrap_or(("", path));
        root.get(section)
            .and_then(|table| table.get(key))
            .and_then(toml::Value::as_str)
    };
    let mut found: Vec<&'static str> = SECRET_PATHS
        .iter()
        .copied()
        .filter(|path| text(path).is_some_and(has_inline_text))
        .collect();
    if text("jira.proxy")
        .and_then(url_password)
        .is_some_and(has_inline_text)
    {
        found.push("jira.proxy");
    }
    found
}

/// The password of `scheme://user:password@host…` as written, if there is one.
fn url_password(url: &str) -> Option<&str> {
    let rest = url.split_once("://")?.1;
    let authority = &rest[..rest.find(['/', '?', '#']).unwrap_or(rest.len())];
    let (userinfo, _host) = authority.rsplit_once('@')?;
    Some(userinfo.split_once(':')?.1)
}

/// Whether `input` holds text of its own besides `${VAR}` references (`$${` counts: it is
/// a literal `${`).
pub(super) fn has_inline_text(input: &str) -> bool {
    !matches!(
        interpolate_str(input, &|_| Some(String::new()), &mut Vec::new()),
        Ok(rest) if rest.is_empty()
    )
}

/// Why one string could not be interpolated.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum InterpolateError {
    /// These variables are not set (each named once, in order of appearance).
    Missing(Vec<String>),
    /// The string holds a `${` that does not form a valid reference.
    Malformed(&'static str),
}

/// Replaces every `${NAME}` in `input` with `env(NAME)`; `$${` yields a literal `${`.
/// The values substituted are appended to `substituted`.
pub(super) fn interpolate_str(
    input: &str,
    env: &dyn Fn(&str) -> Option<String>,
    substituted: &mut Vec<String>,
) -> Result<String, InterpolateError> {
    let mut out = String::with_capacity(input.len());
    let mut missing: Vec<String> = Vec::new();
    let mut rest = input;
    while let Some(at) = rest.find('$') {
        out.push_str(&rest[..at]);
        let tail = &rest[at..];
        if let Some(after) = tail.strip_prefix("$${") {
            out.push_str("${");
            rest = after;
        } else if let Some(after) = tail.strip_prefix("${") {
            let Some(end) = after.find('}') else {
                return Err(InterpolateError::Malformed(
                    "`${` without a closing `}` (write `$${` for a literal `${`)",
                ));
            };
            let name = &after[..end];
            if !is_var_name(name) {
                return Err(InterpolateError::Malformed(
                    "`${…}` must hold an environment variable name made of letters, digits \
                     and `_` (write `$${` for a literal `${`)",
                ));
            }
            match env(name) {
                Some(value) => {
                    out.push_str(&value);
                    substituted.push(value);
                }
                None => {
                    if !missing.iter().any(|known| known == name) {
                        missing.push(name.to_owned());
                    }
                }
            }
            rest = &after[end + 1..];
        } else {
            out.push('$');
            rest = &tail[1..];
        }
    }
    out.push_str(rest);
    if missing.is_empty() {
        Ok(out)
    } else {
        Err(InterpolateError::Missing(missing))
    }
}

fn is_var_name(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// Interpolates every string in `value` (recursively), reporting problems under `path`.
/// A string that fails keeps its text; its path is then broken, so later phases stay quiet
/// about it. Secret values and substituted values are registered as sensitive.
pub(super) fn interpolate_value(
    value: &mut toml::Value,
    path: &str,
    env: &dyn Fn(&str) -> Option<String>,
    problems: &mut Problems,
) {
    match value {
        toml::Value::String(text) => {
            let mut substituted = Vec::new();
            let result = interpolate_str(text, env, &mut substituted);
            for value in &substituted {
                problems.add_sensitive(value);
            }
            match result {
                Ok(new) => *text = new,
                Err(InterpolateError::Missing(names)) => {
                    let message = match names.as_slice() {
                        [one] => format!("environment variable {one} is not set"),
                        many => format!("environment variables {} are not set", many.join(", ")),
                    };
                    problems.push(path, message);
                }
                Err(InterpolateError::Malformed(message)) => problems.push(path, message),
            }
            if SECRET_PATHS.contains(&path) {
                problems.add_sensitive(text);
            }
        }
        toml::Value::Array(items) => {
            for (index, item) in items.iter_mut().enumerate() {
                interpolate_value(item, &format!("{path}[{index}]"), env, problems);
            }
        }
        toml::Value::Table(table) => {
            for (key, item) in table.iter_mut() {
                interpolate_value(item, &join_path(path, key), env, problems);
            }
        }
        toml::Value::Integer(_)
        | toml::Value::Float(_)
        | toml::Value::Boolean(_)
        | toml::Value::Datetime(_) => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(name: &str) -> Option<String> {
        match name {
            "TOKEN" => Some("abc".to_owned()),
            "EMPTY" => Some(String::new()),
            _ => None,
        }
    }

    fn run(input: &str) -> Result<String, InterpolateError> {
        interpolate_str(input, &env, &mut Vec::new())
    }

    #[test]
    fn replaces_references() {
        assert_eq!(run("${TOKEN}").unwrap(), "abc");
        assert_eq!(run("a-${TOKEN}-${TOKEN}").unwrap(), "a-abc-abc");
        assert_eq!(run("x${EMPTY}y").unwrap(), "xy");
        assert_eq!(run("no refs").unwrap(), "no refs");
    }

    #[test]
    fn escapes_and_lone_dollars() {
        assert_eq!(run("$${TOKEN}").unwrap(), "${TOKEN}");
        // Read left to right: a lone `$`, then the escape `$${`.
        assert_eq!(run("$$${TOKEN}").unwrap(), "$${TOKEN}");
        assert_eq!(run("cost $5 $").unwrap(), "cost $5 $");
        assert_eq!(run("$$").unwrap(), "$$");
        assert_eq!(run("$TOKEN").unwrap(), "$TOKEN");
    }

    #[test]
    fn reports_missing_once_each() {
        assert_eq!(
            run("${A}${B}${A}"),
            Err(InterpolateError::Missing(vec!["A".into(), "B".into()]))
        );
    }

    #[test]
    fn tells_inline_text_from_references() {
        for only_references in ["${TOKEN}", "${A}${B}", ""] {
            assert!(!has_inline_text(only_references), "{only_references}");
        }
        for inline in [
            "hunter2",
            "pre-${TOKEN}",
            "${TOKEN} ",
            "$${TOKEN}",
            "${TOKEN",
        ] {
            assert!(has_inline_text(inline), "{inline}");
        }
    }

    #[test]
    fn finds_inline_secrets_only() {
        let root: toml::Table = toml::from_str(
            "[jira]\napi_token = \"inline\"\nemail = \"not-a-secret\"\n\
             [jira_sla]\napi_token = \"${SLA}\"\n\
             [imap]\npassword = \"p-${X}\"\n\
             [webhook]\nsecret = 42\n",
        )
        .unwrap();
        assert_eq!(inline_secrets(&root), ["jira.api_token", "imap.password"]);
    }

    #[test]
    fn a_proxy_password_written_in_the_file_is_an_inline_secret() {
        let proxy = |url: &str| {
            let root: toml::Table =
                toml::from_str(&format!("[jira]\nproxy = \"{url}\"\n")).unwrap();
            inline_secrets(&root)
        };
        assert_eq!(proxy("http://u:pw@proxy:3128"), ["jira.proxy"]);
        assert_eq!(proxy("http://u:${PW}x@proxy:3128/"), ["jira.proxy"]);
        for not_inline in [
            "http://proxy:3128",
            "http://user@proxy:3128",
            "http://u:${PW}@proxy:3128",
            "${PROXY_URL}",
            "http://proxy:3128/a@b:c",
        ] {
            assert!(proxy(not_inline).is_empty(), "{not_inline}");
        }
    }

    #[test]
    fn rejects_malformed() {
        assert!(matches!(
            run("${TOKEN"),
            Err(InterpolateError::Malformed(_))
        ));
        assert!(matches!(run("${}"), Err(InterpolateError::Malformed(_))));
        assert!(matches!(run("${1X}"), Err(InterpolateError::Malformed(_))));
        assert!(matches!(run("${A B}"), Err(InterpolateError::Malformed(_))));
    }
}
