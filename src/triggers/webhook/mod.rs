//! The webhook receiver (cargo feature `webhook`): one more trigger into the daemon's queue,
//! for sites that can expose an endpoint to Jira's admin webhooks.
//!
//! ```text
//!  POST /webhooks/jira ─▶ ≤ 1 MiB ─▶ HMAC (X-Hub-Signature) ─▶ parse ─▶ age ─▶ seen? ─▶ audit
//!                         413        401                       400      403    200        │
//!                                                                                         ▼
//!                          202 ◀─ delivery id + body hash remembered ◀─ keys / id rows queued
//!  GET /webhooks/jira/health ─▶ what is configured, last success per trigger, counters
//! ```
//!
//! - **Nothing before the signature.** The body is read (at most [`MAX_BODY_BYTES`], within
//!   `[webhook] body_timeout_ms`) and its HMAC checked in constant time before anything
//!   parses it. A refused delivery only counts (health) and logs one line (rate-limited);
//!   nothing is written or queued.
//! - **Acknowledge after durability.** 2xx is sent only after the audit copy is written and
//!   every issue is in the durable queue, then the delivery identifier
//!   (`X-Atlassian-Webhook-Identifier`, stable across Jira's retries) and the body's SHA-256
//!   are remembered; a delivery matching either is a repeat (200, nothing queued). A crash
//!   before the answer makes Jira retry; a crash between queueing and remembering makes the
//!   retry queue the same keys again, which the queue coalesces: at least once, never lost.
//! - **Replays are refused.** A delivery whose `timestamp` is older than `[webhook]
//!   max_age_secs` (or more than [`MAX_FUTURE_SKEW`] ahead) is refused with 403; a younger
//!   one whose identifier or body was seen is a repeat. Remembering lasts `retention_days`
//!   (≥ 1 day ≥ `max_age_secs`), so a captured delivery can never be accepted twice. A body
//!   without `timestamp` is accepted and counted (`undated`): Jira sends one in every
//!   delivery, and such a body's replays are still caught by its hash while it is
//!   remembered.
//! - **Nothing waits for Jira.** Issue ids (`issuelink_*`, comment URLs) the state knows
//!   become their key; others are queued as `id:<id>` rows ([`crate::pipeline::queue::Entry`])
//!   that a worker resolves through Jira. So an answer costs two SQLite commits and one
//!   fsynced file, whatever Jira's latency.
//! - **Bounded.** At most `[webhook] max_connections` connections are open (more are
//!   refused), each must send its headers within `header_timeout_ms` (also the idle
//!   keep-alive limit) and its body within `body_timeout_ms` (see `server.rs`). At most
//!   [`MAX_IN_FLIGHT`] deliveries are handled at once, counted from the end of their body, so
//!   slow senders cannot hold the slots (more get 503 and Jira retries); a full queue is
//!   waited for at most [`QUEUE_WAIT`], then 503.

pub mod payload;
mod server;
pub mod signature;

use std::collections::HashSet;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{ConnectInfo, DefaultBodyLimit, FromRequest, Request, State as Shared};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use chrono::Utc;
use serde_json::json;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;

use crate::config::Config;
use crate::jira::jql::scope_projects;
use crate::pipeline::events::Audit;
use crate::pipeline::queue::{Entry, Queue};
use crate::state::{self, State};
use payload::IssueRef;
use signature::Verifier;

/// Where Jira posts deliveries.
pub(crate) const PATH: &str = "/webhooks/jira";
/// The health endpoint.
pub(crate) const HEALTH_PATH: &str = "/webhooks/jira/health";
/// Larger bodies are refused with 413, without reading further.
pub(crate) const MAX_BODY_BYTES: usize = 1024 * 1024;
/// Deliveries handled at once (from the end of their body to the answer); more are
/// answered 503 at once.
pub const MAX_IN_FLIGHT: usize = 64;
/// How far ahead of this host's clock a delivery's `timestamp` may be (clock skew); further
/// ahead is refused like a stale one.
pub(crate) const MAX_FUTURE_SKEW: Duration = Duration::from_secs(300);
/// Longest wait for room in a full queue before answering 503.
pub(crate) const QUEUE_WAIT: Duration = Duration::from_secs(5);
/// How often old audit folders and delivery identifiers are pruned.
pub(crate) const PRUNE_EVERY: Duration = Duration::from_secs(3600);
/// The queue source of keys from webhooks.
pub(crate) const SOURCE: &str = "webhook";
/// The delivery identifier header.
pub(crate) const IDENTIFIER_HEADER: &str = "x-atlassian-webhook-identifier";

/// What stops the receiver.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The listen address could not be bound.
    #[error("webhook receiver cannot listen on {addr}: {source}")]
    Bind {
        /// `[webhook] listen`.
        addr: SocketAddr,
        /// Why.
        source: std::io::Error,
    },
    /// The HTTP server failed.
    #[error("webhook receiver: {0}")]
    Serve(std::io::Error),
}

/// What the receiver did, since it started (shown by the health endpoint).
#[derive(Debug, Default)]
pub struct Counters {
    /// Deliveries acknowledged and queued.
    pub accepted: AtomicU64,
    /// Deliveries acknowledged as repeats of an earlier one (nothing queued).
    pub duplicates: AtomicU64,
    /// Refused: signature missing or wrong (401).
    pub unauthorized: AtomicU64,
    /// Refused: body over [`MAX_BODY_BYTES`] (413).
    pub oversized: AtomicU64,
    /// Refused: signed, but not a delivery this receiver understands (400).
    pub malformed: AtomicU64,
    /// Refused: `timestamp` older than `[webhook] max_age_secs`, or too far ahead (403).
    pub stale: AtomicU64,
    /// Accepted without an age check: the body had no `timestamp`.
    pub undated: AtomicU64,
    /// When a delivery was last accepted, epoch ms (0: never).
    pub last_accepted_ms: AtomicI64,
    /// Connections open now.
    pub connections: AtomicU64,
    /// The most connections open at once since start (at most `[webhook] max_connections`).
    pub peak_connections: AtomicU64,
    /// Connections closed because their headers did not arrive within `[webhook]
    /// header_timeout_ms` (idle keep-alive connections included).
    pub timed_out: AtomicU64,
    /// Connections refused because `[webhook] max_connections` were open.
    pub refused_connections: AtomicU64,
    /// Request bodies being received now (no delivery permit is held meanwhile).
    pub receiving: AtomicU64,
}

/// The receiver: build it with [`Receiver::new`], serve it with [`Receiver::serve`].
#[derive(Debug, Clone)]
pub struct Receiver {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    verifier: Verifier,
    queue: Arc<Queue>,
    audit: Audit,
    projects: Vec<String>,
    retention_days: u32,
    limits: server::Limits,
    body_timeout: Duration,
    max_age: Duration,
    jira_sla: bool,
    imap: bool,
    counters: Arc<Counters>,
    in_flight: Semaphore,
    /// Identifiers being handled, so a repeat arriving meanwhile waits for the first.
    handling: Mutex<HashSet<String>>,
    /// What health reports from the state database, read at most every
    /// [`HEALTH_CACHE_TTL`] however often the (unauthenticated) endpoint is asked.
    health_cache: tokio::sync::Mutex<Option<(std::time::Instant, Arc<StateSummary>)>>,
}

/// How long the health endpoint reuses its reading of the state database.
const HEALTH_CACHE_TTL: Duration = Duration::from_secs(2);

/// The state database's part of the health answer.
#[derive(Debug)]
struct StateSummary {
    /// Latest successful run per command, epoch ms.
    last_successes: Vec<(String, i64)>,
    queued: Option<i64>,
    table_writer: serde_json::Value,
}

/// How an accepted delivery ended.
enum Accepted {
    New { queued: usize, ignored: usize },
    Duplicate,
}

impl Receiver {
    /// The receiver for `config` (which must have `[webhook]`), feeding `queue`.
    pub fn new(config: &Config, queue: Arc<Queue>) -> Receiver {
        let webhook = config
            .webhook
            .as_ref()
            .expect("the receiver is built only when [webhook] is configured");
        let header_timeout = Duration::from_millis(webhook.header_timeout_ms);
        let body_timeout = Duration::from_millis(webhook.body_timeout_ms);
        Receiver {
            inner: Arc::new(Inner {
                verifier: Verifier::new(webhook.secret.expose().as_bytes()),
                queue,
                audit: Audit::new(&config.data_dir),
                projects: scope_projects(&config.jira.jql),
                retention_days: webhook.retention_days,
                limits: server::Limits {
                    max_connections: webhook.max_connections,
                    header_timeout,
                    // A request whose headers had just started when `stop` came needs at
                    // most the header, body and queue timeouts.
                    drain_timeout: header_timeout + body_timeout + QUEUE_WAIT,
                },
                body_timeout,
                max_age: Duration::from_secs(webhook.max_age_secs),
                jira_sla: config.jira_sla.is_some(),
                imap: config.imap.is_some(),
                counters: Arc::default(),
                in_flight: Semaphore::new(MAX_IN_FLIGHT),
                handling: Mutex::new(HashSet::new()),
                health_cache: tokio::sync::Mutex::new(None),
            }),
        }
    }

    /// What the receiver did so far.
    pub fn counters(&self) -> &Counters {
        &self.inner.counters
    }

    /// The HTTP routes.
    pub(crate) fn router(&self) -> Router {
        Router::new()
            .route(PATH, post(receive))
            .route(HEALTH_PATH, get(health))
            .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
            .with_state(self.inner.clone())
    }

    /// Serves on `listener` until `stop` is cancelled, at most `[webhook] max_connections`
    /// connections at once (see `server.rs`), then finishes the requests in flight; prunes
    /// old audit folders and delivery identifiers at start and every [`PRUNE_EVERY`].
    pub async fn serve(self, listener: TcpListener, stop: CancellationToken) -> Result<(), Error> {
        let pruner = tokio::spawn(prune_loop(self.inner.clone(), stop.clone()));
        server::serve(
            listener,
            self.router(),
            self.inner.counters.clone(),
            self.inner.limits,
            stop,
        )
        .await;
        pruner.abort();
        Ok(())
    }
}

/// Binds `[webhook] listen` and serves until `stop` (what `run` starts).
pub async fn run(
    config: Arc<Config>,
    queue: Arc<Queue>,
    stop: CancellationToken,
) -> Result<(), Error> {
    let Some(webhook) = config.webhook.as_ref() else {
        return Ok(());
    };
    let addr = webhook.listen;
    let listener = TcpListener::bind(addr)
        .await
        .map_err(|source| Error::Bind { addr, source })?;
    let local = listener.local_addr().map_err(Error::Serve)?;
    tracing::info!(listen = %local, path = PATH, "Webhook receiver listening.");
    let receiver = Receiver::new(&config, queue);
    let served = receiver.serve(listener, stop).await;
    tracing::info!("Webhook receiver stopped.");
    served
}

async fn prune_loop(inner: Arc<Inner>, stop: CancellationToken) {
    loop {
        let audit = inner.audit.clone();
        let days = inner.retention_days;
        let today = Utc::now().date_naive();
        match tokio::task::spawn_blocking(move || audit.prune(today, days)).await {
            Ok(Ok(0)) => {}
            Ok(Ok(removed)) => tracing::info!(removed, "Old webhook audit folders removed."),
            Ok(Err(e)) => tracing::warn!(error = %e, "Could not prune webhook audit folders."),
            Err(_) => {}
        }
        let before = crate::time::now_ms() - i64::from(days) * 86_400_000;
        if let Err(e) = inner.queue.state().prune_webhook_deliveries(before) {
            tracing::warn!(error = %e, "Could not prune remembered webhook deliveries.");
        }
        tokio::select! {
            () = stop.cancelled() => return,
            () = tokio::time::sleep(PRUNE_EVERY) => {}
        }
    }
}

/// Logs a refusal at warn for the first ten and every thousandth, debug otherwise, so a
/// flood of bad requests cannot flood the log.
fn log_refusal(count: u64, peer: Option<SocketAddr>, status: StatusCode, reason: &str) {
    let peer = peer.map(|p| p.to_string()).unwrap_or_default();
    if count <= 10 || count.is_multiple_of(1000) {
        tracing::warn!(%peer, status = status.as_u16(), reason, refused_so_far = count, "Webhook delivery refused.");
    } else {
        tracing::debug!(%peer, status = status.as_u16(), reason, "Webhook delivery refused.");
    }
}

fn answer(status: StatusCode, body: serde_json::Value) -> Response {
    (status, axum::Json(body)).into_response()
}

fn busy(reason: &str) -> Response {
    let mut response = answer(StatusCode::SERVICE_UNAVAILABLE, json!({ "error": reason }));
    response
        .headers_mut()
        .insert(header::RETRY_AFTER, header::HeaderValue::from_static("5"));
    response
}

async fn receive(Shared(inner): Shared<Arc<Inner>>, request: Request) -> Response {
    let peer = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0);
    let headers = request.headers().clone();
    let counters = &inner.counters;
    // The body first, holding no permit: a slow sender holds only its own connection (of
    // `max_connections`, for at most `body_timeout`), never one of the MAX_IN_FLIGHT slots.
    let receiving = Gauge::up(&counters.receiving);
    let reading = Bytes::from_request(request, &());
    let read = tokio::time::timeout(inner.body_timeout, reading).await;
    drop(receiving);
    let body = match read {
        Err(_) => {
            return answer(
                StatusCode::REQUEST_TIMEOUT,
                json!({ "error": "body too slow" }),
            );
        }
        Ok(Err(rejection)) => {
            let status = rejection.status();
            if status == StatusCode::PAYLOAD_TOO_LARGE {
                let n = counters.oversized.fetch_add(1, Ordering::Relaxed) + 1;
                log_refusal(n, peer, status, "body over 1 MiB");
            }
            return answer(status, json!({ "error": "body not readable or too large" }));
        }
        Ok(Ok(body)) => body,
    };
    let Ok(_permit) = inner.in_flight.try_acquire() else {
        return busy("too many deliveries at once");
    };
    if let Err(e) = inner
        .verifier
        .verify_headers(headers.get_all(signature::HEADER), &body)
    {
        let n = counters.unauthorized.fetch_add(1, Ordering::Relaxed) + 1;
        log_refusal(n, peer, StatusCode::UNAUTHORIZED, &e.to_string());
        return answer(
            StatusCode::UNAUTHORIZED,
            json!({ "error": "bad signature" }),
        );
    }
    // Signed by the holder of the secret from here on.
    let hash = body_hash(&body);
    let identifier = match identifier(&headers, &hash) {
        Ok(id) => id,
        Err(reason) => return refuse_malformed(counters, peer, reason),
    };
    // A delivery is a repeat when its identifier or its body was seen: Jira's retries keep
    // both, and a captured body replayed under a new identifier keeps its hash.
    let mut names = vec![identifier.as_str()];
    if hash != identifier {
        names.push(&hash);
    }
    let delivery = match payload::parse(&body) {
        Ok(d) => d,
        Err(e) => return refuse_malformed(counters, peer, &format!("{e} (delivery {identifier})")),
    };
    match check_age(delivery.timestamp_ms, crate::time::now_ms(), inner.max_age) {
        Ok(Age::Fresh) => {}
        Ok(Age::Undated) => {
            counters.undated.fetch_add(1, Ordering::Relaxed);
            tracing::debug!(delivery = %identifier, "Webhook delivery without a timestamp: no age check.");
        }
        Err(e) => {
            let n = counters.stale.fetch_add(1, Ordering::Relaxed) + 1;
            let reason = format!("{e} (delivery {identifier})");
            log_refusal(n, peer, StatusCode::FORBIDDEN, &reason);
            return answer(
                StatusCode::FORBIDDEN,
                json!({ "error": "delivery timestamp outside the accepted window ([webhook] max_age_secs)" }),
            );
        }
    }
    // A repeat arriving while the first is handled waits for it (Jira retries later).
    let Some(_handling) = Handling::start(&inner.handling, &names) else {
        return busy("this delivery is being handled");
    };
    match inner.accept(&identifier, &names, &delivery, body).await {
        Ok(Accepted::New { queued, ignored }) => {
            counters.accepted.fetch_add(1, Ordering::Relaxed);
            counters
                .last_accepted_ms
                .store(crate::time::now_ms(), Ordering::Relaxed);
            tracing::debug!(delivery = %identifier, event = %delivery.event, queued, ignored, "Webhook delivery queued.");
            answer(StatusCode::ACCEPTED, json!({ "queued": queued }))
        }
        Ok(Accepted::Duplicate) => {
            counters.duplicates.fetch_add(1, Ordering::Relaxed);
            tracing::debug!(delivery = %identifier, "Webhook delivery seen before; nothing queued.");
            answer(StatusCode::OK, json!({ "duplicate": true }))
        }
        Err(AcceptError::QueueFull) => {
            tracing::warn!(delivery = %identifier, "Queue full; webhook delivery answered 503 (Jira retries).");
            busy("queue full")
        }
        Err(e) => {
            tracing::error!(delivery = %identifier, error = %e, "Webhook delivery could not be stored; answered 503 (Jira retries).");
            busy("not stored")
        }
    }
}

/// One more in a gauge until dropped.
struct Gauge<'a>(&'a AtomicU64);

impl<'a> Gauge<'a> {
    fn up(gauge: &'a AtomicU64) -> Gauge<'a> {
        gauge.fetch_add(1, Ordering::Relaxed);
        Gauge(gauge)
    }
}

impl Drop for Gauge<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

/// A delivery's age, as its `timestamp` tells.
#[derive(Debug, PartialEq, Eq)]
enum Age {
    /// Within `max_age` before now and [`MAX_FUTURE_SKEW`] after.
    Fresh,
    /// No `timestamp`: the body alone cannot tell (Jira sends one in every delivery).
    Undated,
}

/// Why a delivery's `timestamp` is refused.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
enum AgeError {
    /// Older than `[webhook] max_age_secs`.
    #[error("timestamp {age_secs} s old, over [webhook] max_age_secs = {max_age_secs}")]
    Stale { age_secs: i128, max_age_secs: u64 },
    /// Further ahead of this host's clock than [`MAX_FUTURE_SKEW`].
    #[error("timestamp {ahead_secs} s ahead of this host's clock (at most {skew_secs} s allowed)")]
    Ahead { ahead_secs: i128, skew_secs: u64 },
}

/// Checks a delivery's `timestamp_ms` against `now_ms`.
fn check_age(timestamp_ms: Option<i64>, now_ms: i64, max_age: Duration) -> Result<Age, AgeError> {
    let Some(timestamp_ms) = timestamp_ms else {
        return Ok(Age::Undated);
    };
    let age_ms = i128::from(now_ms) - i128::from(timestamp_ms);
    if age_ms > max_age.as_millis() as i128 {
        Err(AgeError::Stale {
            age_secs: age_ms / 1000,
            max_age_secs: max_age.as_secs(),
        })
    } else if -age_ms > MAX_FUTURE_SKEW.as_millis() as i128 {
        Err(AgeError::Ahead {
            ahead_secs: -age_ms / 1000,
            skew_secs: MAX_FUTURE_SKEW.as_secs(),
        })
    } else {
        Ok(Age::Fresh)
    }
}

fn refuse_malformed(counters: &Counters, peer: Option<SocketAddr>, reason: &str) -> Response {
    let n = counters.malformed.fetch_add(1, Ordering::Relaxed) + 1;
    log_refusal(n, peer, StatusCode::BAD_REQUEST, reason);
    answer(
        StatusCode::BAD_REQUEST,
        json!({ "error": "not a Jira issue webhook this receiver understands" }),
    )
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// A delivery's names (identifier, body hash) marked as being handled until dropped (also
/// when the request is cancelled or panics, so a delivery can never stay "busy").
struct Handling<'a> {
    set: &'a Mutex<HashSet<String>>,
    names: Vec<String>,
}

impl<'a> Handling<'a> {
    /// None when any of `names` is being handled.
    fn start(set: &'a Mutex<HashSet<String>>, names: &[&str]) -> Option<Handling<'a>> {
        let mut handled = lock(set);
        if names.iter().any(|n| handled.contains(*n)) {
            return None;
        }
        let names: Vec<String> = names.iter().map(|n| n.to_string()).collect();
        handled.extend(names.iter().cloned());
        Some(Handling { set, names })
    }
}

impl Drop for Handling<'_> {
    fn drop(&mut self) {
        let mut handled = lock(self.set);
        for name in &self.names {
            handled.remove(name);
        }
    }
}

/// `body-sha256-<hex>`: the name of a body, remembered beside the delivery identifier.
fn body_hash(body: &[u8]) -> String {
    use sha2::Digest;
    format!("body-sha256-{}", hex::encode(sha2::Sha256::digest(body)))
}

/// The delivery's identifier: `X-Atlassian-Webhook-Identifier` (printable ASCII, at most
/// 128 characters), or, when Jira sent none, the body's `hash` (a retry repeats the body,
/// whose `timestamp` makes it unique).
fn identifier(headers: &HeaderMap, hash: &str) -> Result<String, &'static str> {
    match headers.get(IDENTIFIER_HEADER) {
        Some(value) => {
            let id = value
                .to_str()
                .map_err(|_| "X-Atlassian-Webhook-Identifier is not ASCII")?
                .trim();
            if id.is_empty() || id.len() > 128 || !id.bytes().all(|b| b.is_ascii_graphic()) {
                return Err("X-Atlassian-Webhook-Identifier is empty, too long or not printable");
            }
            Ok(id.to_string())
        }
        None => Ok(hash.to_string()),
    }
}

#[derive(Debug, thiserror::Error)]
enum AcceptError {
    #[error(transparent)]
    State(#[from] state::Error),
    #[error("audit copy: {0}")]
    Audit(#[from] std::io::Error),
    #[error("queue full")]
    QueueFull,
}

impl Inner {
    fn state(&self) -> &State {
        self.queue.state()
    }

    /// The health summary of the state database: the cached one while it is younger than
    /// [`HEALTH_CACHE_TTL`], else read once (concurrent askers wait for that one read).
    async fn state_summary(&self) -> Result<Arc<StateSummary>, state::Error> {
        let mut cache = self.health_cache.lock().await;
        if let Some((at, summary)) = cache.as_ref()
            && at.elapsed() < HEALTH_CACHE_TTL
        {
            return Ok(summary.clone());
        }
        let state = self.state();
        let summary = Arc::new(StateSummary {
            last_successes: state.last_successes()?,
            queued: state.queue_depth().ok(),
            table_writer: match state.table_writer_problem() {
                Ok(None) => json!({ "ok": true }),
                Ok(Some(p)) => {
                    json!({ "ok": false, "since": rfc3339(p.since_ms), "attempts": p.attempts, "error": p.error })
                }
                Err(_) => json!({ "ok": null }),
            },
        });
        *cache = Some((std::time::Instant::now(), summary.clone()));
        Ok(summary)
    }

    /// Audit copy, queue, remember (under every one of `names`, the identifier and the body
    /// hash): in that order, so that each step's crash is retried by Jira (see the module
    /// docs).
    async fn accept(
        &self,
        identifier: &str,
        names: &[&str],
        delivery: &payload::Delivery,
        body: Bytes,
    ) -> Result<Accepted, AcceptError> {
        if self.state().webhook_delivery_seen(names)? {
            return Ok(Accepted::Duplicate);
        }
        let received = Utc::now();
        let audit = self.audit.clone();
        let id = identifier.to_string();
        tokio::task::spawn_blocking(move || audit.write(received, "webhook", &id, &body))
            .await
            .map_err(|e| std::io::Error::other(e.to_string()))??;
        let (mut queued, mut ignored) = (0, 0);
        for issue in &delivery.issues {
            let row = match issue {
                IssueRef::Key(key) => {
                    if !self.projects.is_empty()
                        && !self.projects.iter().any(|p| p == key.project())
                    {
                        tracing::debug!(%key, "Webhook names an issue outside the scope; ignored.");
                        ignored += 1;
                        continue;
                    }
                    key.as_str().to_string()
                }
                IssueRef::Id(id) => match self.state().key_of_id(*id)? {
                    Some(key) => key,
                    None => Entry::id(*id),
                },
            };
            tokio::time::timeout(QUEUE_WAIT, self.queue.push(&row, SOURCE, None))
                .await
                .map_err(|_| AcceptError::QueueFull)??;
            queued += 1;
        }
        self.state()
            .record_webhook_delivery(names, received.timestamp_millis())?;
        Ok(Accepted::New { queued, ignored })
    }
}

async fn health(Shared(inner): Shared<Arc<Inner>>) -> Response {
    let mut last = serde_json::Map::new();
    for name in crate::job::HEALTH_JOBS.into_iter().chain(["webhook"]) {
        last.insert(name.to_string(), serde_json::Value::Null);
    }
    let summary = match inner.state_summary().await {
        Ok(summary) => summary,
        Err(e) => {
            tracing::warn!(error = %e, "Health: state database unreadable.");
            return answer(
                StatusCode::SERVICE_UNAVAILABLE,
                json!({ "status": "state database unreadable" }),
            );
        }
    };
    for (command, finished_ms) in &summary.last_successes {
        if last.contains_key(command) {
            last.insert(command.clone(), json!(rfc3339(*finished_ms)));
        }
    }
    let c = &inner.counters;
    let webhook_ms = c.last_accepted_ms.load(Ordering::Relaxed);
    if webhook_ms > 0 {
        last.insert("webhook".into(), json!(rfc3339(webhook_ms)));
    }
    answer(
        StatusCode::OK,
        json!({
            "status": "ok",
            "configured": {
                "webhook_secret": true,
                "jira": true,
                "jira_sla": inner.jira_sla,
                "imap": inner.imap,
            },
            "last_success": last,
            "deliveries": {
                "accepted": c.accepted.load(Ordering::Relaxed),
                "duplicate": c.duplicates.load(Ordering::Relaxed),
                "unauthorized": c.unauthorized.load(Ordering::Relaxed),
                "oversized": c.oversized.load(Ordering::Relaxed),
                "malformed": c.malformed.load(Ordering::Relaxed),
                "stale": c.stale.load(Ordering::Relaxed),
                "undated": c.undated.load(Ordering::Relaxed),
            },
            "connections": {
                "open": c.connections.load(Ordering::Relaxed),
                "peak": c.peak_connections.load(Ordering::Relaxed),
                "max": inner.limits.max_connections,
                "timed_out": c.timed_out.load(Ordering::Relaxed),
                "refused": c.refused_connections.load(Ordering::Relaxed),
            },
            "receiving": c.receiving.load(Ordering::Relaxed),
            "in_flight": MAX_IN_FLIGHT - inner.in_flight.available_permits(),
            "queued": summary.queued,
            "table_writer": summary.table_writer,
        }),
    )
}

fn rfc3339(ms: i64) -> Option<String> {
    chrono::DateTime::from_timestamp_millis(ms)
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn health_reads_the_state_database_at_most_once_per_ttl() {
        let dir = tempfile::tempdir().unwrap();
        let mut config = Config::for_simulator(
            dir.path().to_path_buf(),
            "http://127.0.0.1:9/",
            "a@example.com",
            "token",
            None,
        );
        config.webhook = Some(crate::config::WebhookConfig::new(
            "127.0.0.1:0".parse().unwrap(),
            crate::config::Secret::new("0123456789abcdef0123"),
        ));
        let state = Arc::new(State::open_in_memory().unwrap());
        let queue = Arc::new(Queue::new(state.clone(), 100));
        let receiver = Receiver::new(&config, queue.clone());
        let first = receiver.inner.state_summary().await.unwrap();
        assert_eq!(first.queued, Some(0));
        // A flood of health requests within the TTL reads nothing new: a key queued now
        // shows only once the cached reading has expired.
        queue.push("SUP-1", "test", None).await.unwrap();
        for _ in 0..100 {
            let again = receiver.inner.state_summary().await.unwrap();
            assert!(Arc::ptr_eq(&first, &again));
        }
        tokio::time::sleep(HEALTH_CACHE_TTL + Duration::from_millis(50)).await;
        let fresh = receiver.inner.state_summary().await.unwrap();
        assert_eq!(fresh.queued, Some(1));
    }

    #[test]
    fn ages_are_checked_against_the_window_and_the_skew() {
        let now = 1_700_000_000_000;
        let hour = Duration::from_secs(3600);
        assert_eq!(check_age(None, now, hour), Ok(Age::Undated));
        for fresh in [now, now - 3_600_000, now + 300_000, now - 1] {
            assert_eq!(check_age(Some(fresh), now, hour), Ok(Age::Fresh), "{fresh}");
        }
        let stale = check_age(Some(now - 3_600_001), now, hour).unwrap_err();
        assert_eq!(
            stale.to_string(),
            "timestamp 3600 s old, over [webhook] max_age_secs = 3600"
        );
        let ahead = check_age(Some(now + 300_001), now, hour).unwrap_err();
        assert!(ahead.to_string().contains("300 s ahead"), "{ahead}");
        // Extremes do not overflow.
        assert!(check_age(Some(1), i64::MAX, hour).is_err());
        assert!(check_age(Some(i64::MAX), i64::MIN, hour).is_err());
    }
}
