//! The JQL the mirror sends. The user's scope is wrapped in parentheses so an `OR` inside it
//! cannot escape the bound, and time bounds are **epoch milliseconds**: a
//! `"yyyy/MM/dd HH:mm"` string would be read in the API user's time zone at minute precision
//! and silently lose issues.

/// `(<scope>) AND updated >= <epoch-ms> ORDER BY updated ASC, key ASC`.
pub(crate) fn updated_since(scope: &str, since_epoch_ms: i64) -> String {
    format!(
        "({}) AND updated >= {} ORDER BY updated ASC, key ASC",
        scope.trim(),
        since_epoch_ms.max(0)
    )
}

/// Every issue of the scope, oldest first (`backfill`), optionally created since a bound.
pub fn all(scope: &str, created_since_epoch_ms: Option<i64>) -> String {
    match created_since_epoch_ms {
        Some(ms) => format!(
            "({}) AND created >= {} ORDER BY created ASC, key ASC",
            scope.trim(),
            ms.max(0)
        ),
        None => format!("({}) ORDER BY created ASC, key ASC", scope.trim()),
    }
}

/// The issues named by `keys` (a few, listed by an earlier search), in key order.
pub(crate) fn keys_in<'a>(keys: impl IntoIterator<Item = &'a str>) -> String {
    let list: Vec<&str> = keys.into_iter().collect();
    format!("key in ({}) ORDER BY key ASC", list.join(", "))
}

/// The issues with these ids that are in `scope`: the confirmation that an issue a mail or
/// webhook named belongs to the mirror.
pub(crate) fn scope_ids(scope: &str, ids: &[i64]) -> String {
    let list: Vec<String> = ids.iter().map(i64::to_string).collect();
    format!("({}) AND id in ({})", scope.trim(), list.join(", "))
}

/// The project keys the scope JQL certainly restricts to (see [`crate::scope::Scope`]), to
/// skip keys of other projects in mail and webhooks without a request. Empty when the JQL
/// does not say plainly: then every key is kept, and Jira's scope search decides for each
/// issue the mirror does not hold yet.
pub fn scope_projects(jql: &str) -> Vec<String> {
    crate::scope::Scope::new(jql)
        .projects()
        .map(|p| p.iter().cloned().collect())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounds_are_epoch_millis_and_scope_is_wrapped() {
        assert_eq!(
            updated_since("project = A OR project = B", 1_700_000_000_123),
            "(project = A OR project = B) AND updated >= 1700000000123 ORDER BY updated ASC, key ASC"
        );
        assert_eq!(
            all("project = SUP", Some(5)),
            "(project = SUP) AND created >= 5 ORDER BY created ASC, key ASC"
        );
        assert_eq!(
            all(" project = SUP ", None),
            "(project = SUP) ORDER BY created ASC, key ASC"
        );
        assert_eq!(
            keys_in(["SUP-1", "SUP-20"]),
            "key in (SUP-1, SUP-20) ORDER BY key ASC"
        );
        assert_eq!(
            scope_ids("project = A OR labels = x", &[10001, 7]),
            "(project = A OR labels = x) AND id in (10001, 7)"
        );
    }
}
