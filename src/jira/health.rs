//! Whether Jira is answering, as the request loop sees it, so an outage is logged once per
//! interval instead of once per request.
//!
//! During an outage every request fails after its retries, and every issue behind it fails:
//! logging each would bury the one line an operator needs. The tracker counts failed attempts
//! (5xx, timeouts, transport errors; not 429, which is Jira asking us to slow down, not being
//! down). After [`DOWN_AFTER`] failed attempts in a row it declares Jira down with one warning;
//! while down it writes one summary per [`REPORT_EVERY`]; the first success ends it with one
//! line saying how long it lasted. [`Health::is_down`] lets callers keep their own per-issue
//! failure lines quiet meanwhile.

use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Consecutive failed attempts that make an outage.
pub(crate) const DOWN_AFTER: u32 = 3;
/// How often a continuing outage is reported.
pub(crate) const REPORT_EVERY: Duration = Duration::from_secs(60);

/// Shared by every clone of one client (one site or JSM account).
#[derive(Debug)]
pub struct Health {
    name: String,
    inner: Mutex<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    streak: u32,
    down_since: Option<Instant>,
    last_report: Option<Instant>,
    failed_since_report: u64,
    failed_total: u64,
}

impl Health {
    /// A tracker for the Jira at `name` (its base URL, as logged).
    pub fn new(name: impl Into<String>) -> Self {
        Health {
            name: name.into(),
            inner: Mutex::default(),
        }
    }

    /// True while Jira is considered down.
    pub(crate) fn is_down(&self) -> bool {
        self.lock().down_since.is_some()
    }

    /// A request attempt got an answer (any answer that is not a server failure).
    pub fn succeeded(&self) {
        let mut h = self.lock();
        h.streak = 0;
        if let Some(since) = h.down_since.take() {
            tracing::warn!(
                jira = %self.name,
                down_secs = since.elapsed().as_secs(),
                failed_attempts = h.failed_total,
                "Jira answers again; queued work resumes."
            );
        }
        h.failed_total = 0;
        h.failed_since_report = 0;
        h.last_report = None;
    }

    /// A request attempt failed with a server or transport failure.
    pub fn failed(&self, cause: &str) {
        let mut h = self.lock();
        h.streak = h.streak.saturating_add(1);
        h.failed_total += 1;
        h.failed_since_report += 1;
        let now = Instant::now();
        match h.down_since {
            None if h.streak >= DOWN_AFTER => {
                h.down_since = Some(now);
                h.last_report = Some(now);
                h.failed_since_report = 0;
                tracing::warn!(
                    jira = %self.name,
                    cause,
                    "Jira is failing; requests are retried with backoff (reported once a minute while it lasts)."
                );
            }
            Some(since) if h.last_report.is_none_or(|at| now - at >= REPORT_EVERY) => {
                tracing::warn!(
                    jira = %self.name,
                    down_secs = (now - since).as_secs(),
                    failed_attempts = h.failed_since_report,
                    cause,
                    "Jira still failing."
                );
                h.last_report = Some(now);
                h.failed_since_report = 0;
            }
            _ => {}
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn down_after_a_streak_and_up_at_the_first_success() {
        let h = Health::new("http://127.0.0.1:1");
        h.failed("HTTP 503");
        h.failed("HTTP 503");
        assert!(!h.is_down(), "two failures are a blip");
        h.succeeded();
        for _ in 0..DOWN_AFTER {
            h.failed("HTTP 503");
        }
        assert!(h.is_down());
        h.failed("HTTP 503");
        assert!(h.is_down());
        h.succeeded();
        assert!(!h.is_down());
    }
}
