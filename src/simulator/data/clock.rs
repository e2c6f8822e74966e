//! Jira's time formats in the configured offset: every timestamp the simulator renders goes
//! through [`Clock`], so time-zone handling is in one place.

use chrono::{FixedOffset, TimeZone};

/// Renders instants the way Jira does, in the configured offset.
#[derive(Clone, Copy, Debug)]
pub(super) struct Clock {
    tz: FixedOffset,
}

impl Clock {
    /// A clock for `offset_minutes` east of UTC (falls back to UTC when out of range).
    pub(super) fn new(offset_minutes: i32) -> Clock {
        let tz = offset_minutes
            .checked_mul(60)
            .and_then(FixedOffset::east_opt)
            .unwrap_or_else(|| FixedOffset::east_opt(0).expect("zero offset is valid"));
        Clock { tz }
    }

    fn fmt(&self, ms: i64, pattern: &str) -> String {
        match self.tz.timestamp_millis_opt(ms).single() {
            Some(d) => d.format(pattern).to_string(),
            None => String::new(),
        }
    }

    /// `2024-03-05T10:15:30.123-0500`
    pub(super) fn jira(&self, ms: i64) -> String {
        self.fmt(ms, "%Y-%m-%dT%H:%M:%S%.3f%z")
    }

    /// `2024-03-05T10:15:30-0500` (JSM `iso8601`, no millis)
    pub(super) fn iso(&self, ms: i64) -> String {
        self.fmt(ms, "%Y-%m-%dT%H:%M:%S%z")
    }

    /// `05/Mar/24 10:15 AM`
    pub(super) fn friendly(&self, ms: i64) -> String {
        self.fmt(ms, "%d/%b/%y %-I:%M %p")
    }

    /// `2024-03-05`
    pub(super) fn date(&self, ms: i64) -> String {
        self.fmt(ms, "%Y-%m-%d")
    }
}
