//! Jira's time formats in the site's zone: every timestamp the simulator renders goes through
//! [`Clock`], so time-zone handling is in one place.
//!
//! Cloud renders in a fixed offset ([`SimConfig::time_zone_offset_minutes`]); Data Center in
//! the API account's IANA zone ([`SimConfig::time_zone`]), with the offset valid at each
//! instant, so one site shows `-0500` in winter and `-0400` in summer.
//!
//! [`SimConfig::time_zone_offset_minutes`]: crate::simulator::SimConfig::time_zone_offset_minutes
//! [`SimConfig::time_zone`]: crate::simulator::SimConfig::time_zone

use chrono::{FixedOffset, TimeZone};
use chrono_tz::Tz;

/// Renders instants the way Jira does, in the configured offset or zone.
#[derive(Clone, Copy, Debug)]
pub(super) enum Clock {
    /// One offset for every instant (Cloud).
    Fixed(FixedOffset),
    /// An IANA zone: the offset of each instant (Data Center).
    Zone(Tz),
}

impl Clock {
    /// A clock for `offset_minutes` east of UTC (falls back to UTC when out of range).
    pub(super) fn new(offset_minutes: i32) -> Clock {
        let tz = offset_minutes
            .checked_mul(60)
            .and_then(FixedOffset::east_opt)
            .unwrap_or_else(|| FixedOffset::east_opt(0).expect("zero offset is valid"));
        Clock::Fixed(tz)
    }

    /// A clock in the IANA zone `tz`.
    pub(super) fn zone(tz: Tz) -> Clock {
        Clock::Zone(tz)
    }

    fn fmt(&self, ms: i64, pattern: &str) -> String {
        let shown = match self {
            Clock::Fixed(tz) => tz
                .timestamp_millis_opt(ms)
                .single()
                .map(|d| d.format(pattern).to_string()),
            Clock::Zone(tz) => tz
                .timestamp_millis_opt(ms)
                .single()
                .map(|d| d.format(pattern).to_string()),
        };
        shown.unwrap_or_default()
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
