//! The request budget shared by every Jira and JSM request of one process.
//!
//! Two limits make the client polite whatever the caller does: a token bucket
//! (`max_requests_per_second`, from the `governor` crate) and a semaphore
//! (`max_concurrency`). A request holds a concurrency slot only while it is on the wire; a
//! `Retry-After` wait happens outside the slot so a throttled request does not block others.
//!
//! An attachment download also gets a time budget ([`download_deadline`]), so a stalled
//! transfer ends.

use std::num::NonZeroU32;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use tokio::sync::{Semaphore, SemaphorePermit};

/// Rate and concurrency limits shared by every client built from it.
#[derive(Debug)]
pub struct RequestBudget {
    limiter: DefaultDirectRateLimiter,
    slots: Semaphore,
    stats: RequestStats,
}

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
        RequestStats::add(&self.stats.requests, 1);
        permit
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
    use std::time::Instant;

    #[tokio::test]
    async fn rate_is_bounded() {
        let budget = RequestBudget::new(8, 20.0);
        let start = Instant::now();
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
