//! Jira's timestamps. Jira renders them in the API user's time zone with a `+hhmm` offset
//! (`2024-03-05T10:15:30.123-0500`); the mirror turns them into UTC epoch milliseconds so
//! comparisons and watermarks never depend on a zone.

use chrono::{DateTime, FixedOffset, Utc};

/// Parses a Jira timestamp (`+hhmm` or `+hh:mm` offset, optional fraction) to UTC.
pub(crate) fn parse_jira_time(s: &str) -> Option<DateTime<Utc>> {
    let s = s.trim();
    DateTime::<FixedOffset>::parse_from_str(s, "%Y-%m-%dT%H:%M:%S%.f%z")
        .or_else(|_| DateTime::parse_from_rfc3339(s))
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

/// [`parse_jira_time`] as epoch milliseconds.
pub fn jira_time_ms(s: &str) -> Option<i64> {
    parse_jira_time(s).map(|t| t.timestamp_millis())
}

/// Epoch milliseconds as an RFC 3339 UTC string (`2024-03-05T15:15:30.123Z`).
pub(crate) fn ms_to_rfc3339(ms: i64) -> String {
    DateTime::<Utc>::from_timestamp_millis(ms)
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true))
        .unwrap_or_else(|| ms.to_string())
}

/// Milliseconds since the Unix epoch, now.
pub fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offsets_become_utc_milliseconds() {
        assert_eq!(
            jira_time_ms("2024-03-05T10:15:30.123-0500"),
            Some(1_709_651_730_123)
        );
        assert_eq!(
            jira_time_ms("2024-03-05T15:15:30.123+0000"),
            Some(1_709_651_730_123)
        );
        assert_eq!(
            jira_time_ms("2024-03-05T16:15:30.123+01:00"),
            Some(1_709_651_730_123)
        );
        assert_eq!(
            jira_time_ms("2024-03-05T15:15:30Z"),
            Some(1_709_651_730_000)
        );
        assert_eq!(jira_time_ms("05/Mar/24 3:15 PM"), None);
        assert_eq!(ms_to_rfc3339(1_709_651_730_123), "2024-03-05T15:15:30.123Z");
    }
}
