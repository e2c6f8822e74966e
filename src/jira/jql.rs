//! The JQL the mirror sends. The user's scope is wrapped in parentheses so an `OR` inside it
//! cannot escape the bound. Time bounds are written as the site reads them exactly
//! ([`JqlDates`]): epoch milliseconds on Cloud; on Data Center, which wants a date string,
//! `"yyyy/MM/dd HH:mm"` in the account's own time zone, rounded *down* to the minute, so the
//! bound only ever reaches further back (the sweep's overlap already re-reads a little;
//! the seconds dropped are re-read too, and the pipeline skips what it already holds).

use chrono::{LocalResult, TimeZone};

/// How a site wants a JQL time bound.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum JqlDates {
    /// Epoch milliseconds (`updated >= 1700000000123`): exact and zone-free (Cloud).
    EpochMs,
    /// A local minute in the API account's zone (`updated >= "2026/12/03 10:15"`): what
    /// Data Center accepts; it reads the string in the account's zone.
    Local(chrono_tz::Tz),
}

impl JqlDates {
    /// The bound `epoch_ms` written for JQL. A local minute is rounded down, and when the
    /// clocks went back and the minute happened twice, the string is the one an hour
    /// earlier: either reading of it is then at or before `epoch_ms`.
    pub fn bound(self, epoch_ms: i64) -> String {
        let epoch_ms = epoch_ms.max(0);
        match self {
            JqlDates::EpochMs => epoch_ms.to_string(),
            JqlDates::Local(zone) => {
                let local = |ms: i64| {
                    chrono::DateTime::from_timestamp_millis(ms)
                        .unwrap_or_default()
                        .with_timezone(&zone)
                        .naive_local()
                };
                let mut minute = local(epoch_ms);
                if matches!(
                    zone.from_local_datetime(&minute),
                    LocalResult::Ambiguous(..)
                ) {
                    minute = local(epoch_ms - 3_600_000);
                }
                format!("\"{}\"", minute.format("%Y/%m/%d %H:%M"))
            }
        }
    }
}

/// `(<scope>) AND updated >= <bound> ORDER BY updated ASC, key ASC`; on Data Center
/// (local-minute bounds) `ORDER BY updated DESC, key DESC`: its search pages by offset, and
/// an issue edited while the listing runs then moves to the front and is listed again,
/// instead of moving to the end and pushing an issue not yet listed back onto a page
/// already read.
pub(crate) fn updated_since(scope: &str, since_epoch_ms: i64, dates: JqlDates) -> String {
    let order = match dates {
        JqlDates::EpochMs => "ASC",
        JqlDates::Local(_) => "DESC",
    };
    format!(
        "({}) AND updated >= {} ORDER BY updated {order}, key {order}",
        scope.trim(),
        dates.bound(since_epoch_ms)
    )
}

/// Every issue of the scope, oldest first (`backfill`), optionally created since a bound.
pub fn all(scope: &str, created_since_epoch_ms: Option<i64>, dates: JqlDates) -> String {
    match created_since_epoch_ms {
        Some(ms) => format!(
            "({}) AND created >= {} ORDER BY created ASC, key ASC",
            scope.trim(),
            dates.bound(ms)
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
        let ms = JqlDates::EpochMs;
        assert_eq!(
            updated_since("project = A OR project = B", 1_700_000_000_123, ms),
            "(project = A OR project = B) AND updated >= 1700000000123 ORDER BY updated ASC, key ASC"
        );
        assert_eq!(
            all("project = SUP", Some(5), ms),
            "(project = SUP) AND created >= 5 ORDER BY created ASC, key ASC"
        );
        assert_eq!(
            all(" project = SUP ", None, ms),
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

    fn ms(s: &str) -> i64 {
        chrono::DateTime::parse_from_rfc3339(s)
            .unwrap()
            .timestamp_millis()
    }

    #[test]
    fn data_center_bounds_are_local_minutes_rounded_down() {
        let berlin = JqlDates::Local(chrono_tz::Europe::Berlin);
        // Winter (+01:00) and summer (+02:00); seconds are dropped, never rounded up.
        assert_eq!(
            berlin.bound(ms("2026-12-03T09:15:59.999Z")),
            "\"2026/12/03 10:15\""
        );
        assert_eq!(
            berlin.bound(ms("2026-07-01T10:00:00Z")),
            "\"2026/07/01 12:00\""
        );
        assert_eq!(
            updated_since("project = SUP", ms("2026-12-03T09:15:30Z"), berlin),
            "(project = SUP) AND updated >= \"2026/12/03 10:15\" ORDER BY updated DESC, key DESC"
        );
        assert_eq!(
            JqlDates::Local(chrono_tz::UTC).bound(ms("2026-12-03T09:15:30Z")),
            "\"2026/12/03 09:15\""
        );
    }

    #[test]
    fn a_minute_that_happened_twice_is_written_an_hour_early() {
        let berlin = JqlDates::Local(chrono_tz::Europe::Berlin);
        // 2026-10-25: 03:00 CEST became 02:00 CET, so 02:30 local happened twice.
        // First 02:30 (00:30 UTC) and second 02:30 (01:30 UTC) are both written as the
        // first 01:30-or-02:30 an hour before, whichever way Jira reads it.
        assert_eq!(
            berlin.bound(ms("2026-10-25T00:30:00Z")),
            "\"2026/10/25 01:30\""
        );
        assert_eq!(
            berlin.bound(ms("2026-10-25T01:30:00Z")),
            "\"2026/10/25 02:30\""
        );
        // Either reading of each string is at or before its instant.
        for (instant, text) in [
            ("2026-10-25T00:30:00Z", "2026/10/25 01:30"),
            ("2026-10-25T01:30:00Z", "2026/10/25 02:30"),
        ] {
            let naive = chrono::NaiveDateTime::parse_from_str(text, "%Y/%m/%d %H:%M").unwrap();
            let readings: Vec<i64> = match chrono_tz::Europe::Berlin.from_local_datetime(&naive) {
                LocalResult::Single(t) => vec![t.timestamp_millis()],
                LocalResult::Ambiguous(a, b) => vec![a.timestamp_millis(), b.timestamp_millis()],
                LocalResult::None => panic!("{text} does not exist"),
            };
            assert!(
                readings.iter().all(|r| *r <= ms(instant)),
                "{text}: {readings:?}"
            );
        }
    }
}
