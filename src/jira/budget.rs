//! The request budget shared by every Jira and JSM request of one process.
//!
//! Two limits make the client polite whatever the caller does: a token bucket
//! (`max_requests_per_second`, from the `governor` crate) and a semaphore
//! (`max_concurrency`). A request holds a concurrency slot only while it is on the wire; a
//! `Retry-After` wait happens outside the slot so a throttled request does not block others.
//!
//! Jira Cloud also announces quotas (`X-RateLimit-Limit`, `-Remaining`, `-NearLimit`,
//! `-Reset`; OAuth apps are held to hourly points quotas). Once less than a fifth of a quota
//! remains, [`RequestBudget::observe_quota`] spreads the rest evenly until the reset instead
//! of running into 429s.
//!
//! An attachment download also gets a time budget ([`download_deadline`]), so a stalled
//! transfer ends.

use std::num::NonZeroU32;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use reqwest::header::HeaderMap;
use tokio::sync::{Semaphore, SemaphorePermit};
use tokio::time::Instant;

/// `X-RateLimit-Reset`: `yyyy-MM-ddTHH:mmZ` (Jira's form) or RFC 3339.
fn parse_reset(value: &str) -> Option<chrono::DateTime<chrono::Utc>> {
    let value = value.trim();
    chrono::NaiveDateTime::parse_from_str(value, "%Y-%m-%dT%H:%MZ")
        .map(|t| t.and_utc())
        .ok()
        .or_else(|| {
            chrono::DateTime::parse_from_rfc3339(value)
                .ok()
                .map(|t| t.with_timezone(&chrono::Utc))
        })
}

/// Rate and concurrency limits shared by every client built from it.
#[derive(Debug)]
pub struct RequestBudget {
    limiter: DefaultDirectRateLimiter,
    slots: Semaphore,
    stats: RequestStats,
    pace: std::sync::Mutex<Pace>,
}

/// Spacing imposed by a quota that is running out: one request per `spacing` until `until`.
#[derive(Debug, Default)]
struct Pace {
    spacing: Duration,
    until: Option<Instant>,
    next_at: Option<Instant>,
}

/// The longest a quota's window is taken to be (Jira Cloud's are hourly).
const MAX_QUOTA_WINDOW: Duration = Duration::from_secs(3600);

/// Below this share of a quota left, requests are spread until its reset.
const NEAR_LIMIT_SHARE: f64 = 0.2;

/// Counters of what the budget let through, for logs and `status`.
#[derive(Debug, Default)]
pub struct RequestStats {
    /// Requests sent (including retries).
    pub requests: AtomicU64,
    /// Responses with 429 Too Many Requests.
    pub throttled: AtomicU64,
    /// 5xx responses and transport failures that were retried.
    pub transient: AtomicU64,
    /// Milliseconds spent waiting on `Retry-After` or backoff.
    pub waited_ms: AtomicU64,
}

impl RequestStats {
    pub(crate) fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Ordering::Relaxed);
    }

    /// A one-line summary for the end of a command.
    pub fn summary(&self) -> String {
        Self::summary_of(&[self])
    }

    /// One line summing the counters of every budget a command drew on (the main account,
    /// the JSM account, attachment downloads).
    pub fn summary_of(all: &[&RequestStats]) -> String {
        let sum = |counter: fn(&RequestStats) -> &AtomicU64| -> u64 {
            all.iter().map(|s| counter(s).load(Ordering::Relaxed)).sum()
        };
        format!(
            "{} requests, {} throttled (429), {} transient failures retried, {:.1} s waiting",
            sum(|s| &s.requests),
            sum(|s| &s.throttled),
            sum(|s| &s.transient),
            sum(|s| &s.waited_ms) as f64 / 1000.0
        )
    }
}

impl RequestBudget {
    /// A budget of `per_second` requests per second (bursts up to one second's worth) and
    /// `max_concurrency` requests in flight.
    pub fn new(max_concurrency: usize, per_second: f64) -> Arc<Self> {
        let per_second = if per_second.is_finite() && per_second > 0.0 {
            per_second
        } else {
            1.0
        };
        let period = Duration::from_secs_f64(1.0 / per_second);
        let burst = NonZeroU32::new(per_second.ceil().clamp(1.0, 10_000.0) as u32)
            .unwrap_or(NonZeroU32::MIN);
        let quota = Quota::with_period(period)
            .unwrap_or_else(|| Quota::per_second(NonZeroU32::MIN))
            .allow_burst(burst);
        Arc::new(RequestBudget {
            limiter: RateLimiter::direct(quota),
            slots: Semaphore::new(max_concurrency.max(1)),
            stats: RequestStats::default(),
            pace: std::sync::Mutex::new(Pace::default()),
        })
    }

    /// Waits for a concurrency slot and then for the rate limiter; the slot is released when
    /// the returned permit is dropped.
    pub(crate) async fn acquire(&self) -> SemaphorePermit<'_> {
        let permit = self
            .slots
            .acquire()
            .await
            .expect("the budget semaphore is never closed");
        self.limiter.until_ready().await;
        if let Some(wait) = self.paced_wait(Instant::now()) {
            RequestStats::add(&self.stats.waited_ms, wait.as_millis() as u64);
            tokio::time::sleep(wait).await;
        }
        RequestStats::add(&self.stats.requests, 1);
        permit
    }

    /// Reads a response's quota headers: when the quota is near its end (`X-RateLimit-NearLimit:
    /// true`, or less than a fifth of `X-RateLimit-Limit` remaining) and `X-RateLimit-Reset`
    /// says when it renews, the requests left are spread evenly until then.
    pub(crate) fn observe_quota(&self, headers: &HeaderMap) {
        let number = |name: &str| {
            headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.trim().parse::<u64>().ok())
        };
        let near = headers
            .get("x-ratelimit-nearlimit")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.trim().eq_ignore_ascii_case("true"));
        let remaining = number("x-ratelimit-remaining");
        let low = match (remaining, number("x-ratelimit-limit")) {
            (Some(left), Some(limit)) if limit > 0 => {
                (left as f64) < limit as f64 * NEAR_LIMIT_SHARE
            }
            _ => false,
        };
        if !(near || low) {
            return;
        }
        // Without the reset time the quota's window is unknown: a burst limit's 429 says
        // `Remaining: 0` with a `Retry-After`, which the retry loop honours.
        let now = chrono::Utc::now();
        let Some(window) = headers
            .get("x-ratelimit-reset")
            .and_then(|v| v.to_str().ok())
            .and_then(parse_reset)
            .and_then(|reset| (reset - now).to_std().ok())
        else {
            return;
        };
        // Quotas are hourly: a reset further out is not believed beyond that.
        let window = window.min(MAX_QUOTA_WINDOW);
        let left = remaining.unwrap_or(1).max(1);
        let spacing = window / u32::try_from(left).unwrap_or(u32::MAX);
        let mut pace = self
            .pace
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let until = Instant::now() + window;
        if pace.until.is_none() {
            tracing::info!(
                remaining = left,
                reset_in_secs = window.as_secs(),
                "Jira's quota is running low; spreading the remaining requests until it resets."
            );
        }
        pace.spacing = spacing;
        pace.until = Some(until);
    }

    /// The spacing between requests while a quota is being spread, if it is.
    #[cfg(test)]
    pub(crate) fn pacing(&self) -> Option<Duration> {
        let pace = self
            .pace
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        pace.until
            .is_some_and(|until| Instant::now() < until)
            .then_some(pace.spacing)
    }

    /// How long a request taken at `now` waits for its turn while a quota is being spread.
    fn paced_wait(&self, now: Instant) -> Option<Duration> {
        let mut pace = self
            .pace
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        match pace.until {
            Some(until) if now < until => {
                let slot = pace.next_at.map_or(now, |next| next.max(now));
                pace.next_at = Some(slot + pace.spacing);
                Some(slot - now).filter(|wait| !wait.is_zero())
            }
            Some(_) => {
                *pace = Pace::default();
                None
            }
            None => None,
        }
    }

    /// What the budget has let through so far.
    pub fn stats(&self) -> &RequestStats {
        &self.stats
    }
}

/// The slowest an attachment download may be, in bytes per second (64 KiB/s): an attempt
/// gets [`download_deadline`], the request timeout plus its size at this rate. Far below any
/// real link to Jira's media host, so only a stalled or trickling transfer reaches it.
pub(crate) const MIN_DOWNLOAD_RATE: u64 = 64 * 1024;

/// Longest deadline of one attempt, whatever the size (a week): keeps the arithmetic finite
/// for any `max_bytes`.
const MAX_DOWNLOAD_DEADLINE: Duration = Duration::from_secs(7 * 24 * 3600);

/// The time one attempt at downloading `bytes` may take, from sending the request to the
/// last byte: `request_timeout` (connection, redirect, first byte; what any request gets)
/// plus `bytes` at [`MIN_DOWNLOAD_RATE`], at most a week.
pub(crate) fn download_deadline(request_timeout: Duration, bytes: u64) -> Duration {
    let transfer = Duration::from_millis(bytes.saturating_mul(1000) / MIN_DOWNLOAD_RATE);
    request_timeout
        .saturating_add(transfer)
        .min(MAX_DOWNLOAD_DEADLINE)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_download_gets_the_request_timeout_plus_its_size_at_the_minimum_rate() {
        let t = Duration::from_secs(60);
        assert_eq!(download_deadline(t, 0), t);
        assert_eq!(
            download_deadline(t, MIN_DOWNLOAD_RATE),
            t + Duration::from_secs(1)
        );
        // 50 MiB (the default max_bytes): 800 s more than a JSON request, not cut at 60 s.
        assert_eq!(
            download_deadline(t, 50 * 1024 * 1024),
            t + Duration::from_secs(800)
        );
        // Any size stays finite.
        assert_eq!(download_deadline(t, u64::MAX), MAX_DOWNLOAD_DEADLINE);
    }
    use reqwest::header::HeaderValue;

    fn headers(pairs: &[(&'static str, String)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, HeaderValue::from_str(v).unwrap());
        }
        h
    }

    #[test]
    fn a_quota_near_its_end_spreads_the_rest_until_the_reset() {
        let budget = RequestBudget::new(4, 1000.0);
        let now = Instant::now();
        // Plenty left: no pacing.
        budget.observe_quota(&headers(&[
            ("x-ratelimit-limit", "350".into()),
            ("x-ratelimit-remaining", "349".into()),
        ]));
        assert_eq!(budget.paced_wait(now), None);
        // 10 left of 350, reset in ~100 s: one request every ~10 s.
        let reset = (chrono::Utc::now() + chrono::Duration::seconds(100))
            .format("%Y-%m-%dT%H:%M:%S%.3fZ")
            .to_string();
        budget.observe_quota(&headers(&[
            ("x-ratelimit-limit", "350".into()),
            ("x-ratelimit-remaining", "10".into()),
            ("x-ratelimit-reset", reset),
        ]));
        assert_eq!(budget.paced_wait(now), None, "the first goes at once");
        let second = budget.paced_wait(now).unwrap();
        assert!(
            (Duration::from_secs(9)..=Duration::from_secs(11)).contains(&second),
            "{second:?}"
        );
        let third = budget.paced_wait(now).unwrap();
        assert!(third > second + Duration::from_secs(8), "{third:?}");
        // After the window, the pace lifts.
        assert_eq!(budget.paced_wait(now + Duration::from_secs(200)), None);
        assert_eq!(budget.paced_wait(now + Duration::from_secs(201)), None);
    }

    #[test]
    fn without_a_reset_time_nothing_is_paced_and_reset_times_parse() {
        let budget = RequestBudget::new(4, 1000.0);
        // A burst limit's 429: nothing left, no reset; Retry-After governs instead.
        budget.observe_quota(&headers(&[
            ("x-ratelimit-limit", "350".into()),
            ("x-ratelimit-remaining", "0".into()),
        ]));
        budget.observe_quota(&headers(&[("x-ratelimit-nearlimit", "true".into())]));
        let now = Instant::now();
        assert_eq!(budget.paced_wait(now), None);
        assert_eq!(budget.paced_wait(now), None);
        // NearLimit with a reset paces.
        let reset = (chrono::Utc::now() + chrono::Duration::seconds(60))
            .to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
        budget.observe_quota(&headers(&[
            ("x-ratelimit-nearlimit", "true".into()),
            ("x-ratelimit-reset", reset),
        ]));
        assert_eq!(budget.paced_wait(now), None);
        assert!(budget.paced_wait(now).is_some());
        assert_eq!(
            parse_reset("2026-03-26T16:00Z").map(|t| t.timestamp()),
            Some(1_774_540_800)
        );
        assert!(parse_reset("soon").is_none());
    }

    #[tokio::test]
    async fn rate_is_bounded() {
        let budget = RequestBudget::new(8, 20.0);
        let start = std::time::Instant::now();
        for _ in 0..40 {
            drop(budget.acquire().await);
        }
        // 20 burst at once, the next 20 at 20/s: at least ~0.95 s.
        assert!(
            start.elapsed() >= Duration::from_millis(900),
            "{:?}",
            start.elapsed()
        );
        assert_eq!(budget.stats().requests.load(Ordering::Relaxed), 40);
    }

    #[tokio::test]
    async fn concurrency_is_bounded() {
        let budget = RequestBudget::new(2, 1000.0);
        let a = budget.acquire().await;
        let _b = budget.acquire().await;
        let third = tokio::time::timeout(Duration::from_millis(50), budget.acquire()).await;
        assert!(third.is_err(), "a third slot must wait");
        drop(a);
        let third = tokio::time::timeout(Duration::from_millis(500), budget.acquire()).await;
        assert!(third.is_ok());
    }
}
