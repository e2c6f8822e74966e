//! A built-in Jira Cloud simulator on 127.0.0.1, for tests and the `demo` command.
//!
//! Why it exists: the mirror's hard problems — paging by `nextPageToken`, the ~100 cap on
//! embedded changelog and comments, epoch-ms sweep bounds, SLA overlays from a second account,
//! attachment downloads through a 303 to a foreign host, moved and deleted issues, and a site that
//! rate-limits, fails and corrupts bodies — only show against something that behaves like Jira.
//! A real site is neither reproducible nor available in CI, so this module serves one:
//!
//! - `data.rs` generates a deterministic site from [`SimConfig::seed`]: issues shaped like the
//!   real Jira captures (ADF, comment pages, SLA fields, links, attachments).
//! - the API listener answers `/rest/api/3/{myself,field,search/jql,issue/…,attachment/content/…}`
//!   and `/rest/servicedeskapi/request/{key}/sla`; a second listener is the attachment media host
//!   (no auth — a client that forwards its `Authorization` header there is caught by
//!   [`RequestRecord::had_authorization`]).
//! - [`Faults`] injects 429/5xx/outages/latency/corrupt bodies from a seeded RNG.
//! - the mutation methods ([`Simulator::touch`], [`Simulator::move_issue`], …) change the site
//!   while a test runs, with the real clock, like users editing tickets.
//!
//! Every request is recorded ([`Simulator::requests`]) so tests can assert on politeness:
//! retries after `Retry-After`, no credentials on the media host, request counts.
//!
//! Behaviour worth knowing (deliberate):
//! - JQL is a small subset (see `jql.rs`); anything else is a 400, and so is an unbounded query
//!   (no restriction clause), a quoted date, or a `project` that does not exist — like Jira.
//! - `key = OLD-1` / `GET /issue/OLD-1` find a moved issue under its new key; `key in (…)`
//!   silently skips unknown keys (Jira would answer 400).
//! - Without `ORDER BY` results are in id order; `ORDER BY x` without direction is ascending.
//! - A search page is capped at 100 issues when any field besides `id`/`key` or `expand=changelog`
//!   is asked for, else at 5000 (`fields` defaults to `id`); `maxResults=0` is treated as 1.
//!   [`Faults::search_page_cap`] makes pages shorter still, [`Faults::broken_search_tokens`]
//!   breaks every page after the first.
//! - [`Faults::slow_attachment`] trickles one attachment's content, chunk by chunk.
//! - SLA clocks stand still unless a test moves them ([`Simulator::advance_sla`]); they do not
//!   change `updated`. [`Simulator::resolve_issue`] stops them and does change `updated`.
//! - [`Simulator::set_searchable`] hides an issue from search only (index lag).
//! - The JSM account ([`SimConfig::sla_email`]) may call the SLA endpoint and `/myself` (so a
//!   credential check can verify it); every other endpoint answers it 401.
//! - Issues whose number (at creation) is a multiple of 7 are not customer requests: the SLA
//!   endpoint answers 404 and their SLA fields are null. So are all issues of the
//!   [`SimConfig::software_projects`].
//! - [`SimConfig::poison`] gives chosen issues the defects real sites serve ([`PoisonKind`]);
//!   every other issue, and every other request, behaves as without it:
//!   - `DeepDescription { depth }`: the description is an ADF document with `depth` nested
//!     `bulletList`/`listItem` levels (more than 4 × `depth` levels of JSON; Jira sets no
//!     limit) around one paragraph with the text [`deep_bottom_text`]`(key)`, in search pages,
//!     `GET /issue` and [`Simulator::issue`] (drop that value with `crate::json::drop_deep`).
//!   - `ForbiddenAttachment`: one more, ordinary-looking attachment (numeric id, 2,048 bytes)
//!     whose `GET /attachment/content/{id}` answers 403 with Jira's JSON error body.
//!   - `LongAttachmentId { len }`: one more attachment whose `id` is a string of `len`
//!     decimal digits; its content URL answers 404.
//!   - `Forbidden { part }`: that part of the issue answers 403 (Jira's JSON error body):
//!     `/remotelink`, `/comment` or `/changelog` (the issue then has more comments, resp.
//!     histories, than the 100 a page embeds, so a complete mirror must ask), or
//!     `GET /issue/{key}` itself (`Part::Issue`; search still lists the issue).
//!   - `LoneSurrogate`: the summary carries an unpaired UTF-16 surrogate escape (`\ud83d`,
//!     half of an emoji), which serde_json refuses: every search page that carries the
//!     summary, `GET /issue/{key}` and the issue's changelog histories that quote it cannot
//!     be parsed, while listings of `id`/`key`/`updated` still can. In-process values
//!     ([`Simulator::issue`]) show [`LONE_SURROGATE_MARKER`] in its place. Other issues
//!     quoting this one (links, parent, sub-tasks) show its summary without it.
//!
//!   Forced comment or history counts shift the ids of other issues' comments and histories
//!   (ids grow with time across the site), so a poisoned site's ids differ from an unpoisoned
//!   one of the same seed.
//!
//! ```no_run
//! # async fn demo() -> std::io::Result<()> {
//! use jira_mirror::simulator::{SimConfig, Simulator};
//! let sim = Simulator::start(SimConfig::default()).await?;
//! println!("Jira at {}", sim.base_url());
//! sim.shutdown().await;
//! # Ok(()) }
//! ```

mod data;
mod faults;
pub mod fixture;
mod jql;
mod server;

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use data::{ChangelogMode, FieldSel, Store};

/// What the simulated site looks like and how it misbehaves.
#[derive(Clone, Debug)]
pub struct SimConfig {
    /// Seed of all generated data and of the fault sequence. Default 42.
    pub seed: u64,
    /// Project keys; issues are spread round-robin across them (`PROJ-1`, `PROJ-2`, …).
    /// Default `["SUP"]`.
    pub projects: Vec<String>,
    /// Total number of generated issues. Default 120.
    pub issues: usize,
    /// E-mail of the main account (basic auth user). Default `mirror@example.com`.
    pub email: String,
    /// API token of the main account. Default `sim-token`.
    pub api_token: String,
    /// E-mail of the JSM account, accepted by the SLA endpoint (and `/myself`) only.
    /// Default `jsm-agent@example.com`.
    pub sla_email: String,
    /// API token of the JSM account. Default `sim-sla-token`.
    pub sla_api_token: String,
    /// The first `big_issues.len()` issues get exactly these history/comment counts.
    /// Default one `BigIssue { histories: 250, comments: 150, worklogs: 45 }`.
    pub big_issues: Vec<BigIssue>,
    /// Initial fault settings (change later with [`Simulator::set_faults`]).
    pub faults: Faults,
    /// Offset used to render Jira timestamps; default -300 (`-0500`) so time-zone bugs show.
    pub time_zone_offset_minutes: i32,
    /// When true (default), the first issue carries attachments with hostile names
    /// (`../../x`, `con`, a 300-character name, mojibake with a control character, `..`) and a
    /// 3 MiB `big.bin`.
    pub hostile_attachments: bool,
    /// Histories of an ordinary issue are Binomial(`max_histories`, 0.5) (default 20: median
    /// 10 histories, about 11 changelog items).
    pub max_histories: usize,
    /// Comments of an ordinary issue are Binomial(`max_comments`, 0.6) (default 8: median 5).
    pub max_comments: usize,
    /// Defects given to chosen generated issues (see [`PoisonKind`]). Default none.
    pub poison: Vec<Poison>,
    /// Projects (of `projects`) that are Jira Software projects rather than service desks:
    /// their issues say `projectTypeKey: "software"` and have no SLAs (null SLA fields, 404
    /// from the SLA endpoint). Default none: every project is a service desk.
    pub software_projects: Vec<String>,
}

impl Default for SimConfig {
    fn default() -> Self {
        SimConfig {
            seed: 42,
            projects: vec!["SUP".to_string()],
            issues: 120,
            email: "mirror@example.com".to_string(),
            api_token: "sim-token".to_string(),
            sla_email: "jsm-agent@example.com".to_string(),
            sla_api_token: "sim-sla-token".to_string(),
            big_issues: vec![BigIssue {
                histories: 250,
                comments: 150,
                worklogs: 45,
            }],
            faults: Faults::default(),
            time_zone_offset_minutes: -300,
            hostile_attachments: true,
            max_histories: 20,
            max_comments: 8,
            poison: Vec::new(),
            software_projects: Vec::new(),
        }
    }
}

/// A defect of one generated issue, as real Jira sites serve them (see the [module
/// docs](self)); an issue may carry several.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Poison {
    /// The issue: 0-based index in creation order among the generated issues (index `i` is
    /// number `i / projects + 1` of project `i % projects`, so `SUP-3` is index 2 with one
    /// project).
    pub issue: usize,
    /// What is wrong with it.
    pub kind: PoisonKind,
}

/// What a [`Poison`] does to its issue.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum PoisonKind {
    /// The description nests `depth` `bulletList`/`listItem` levels around a paragraph whose
    /// text is [`deep_bottom_text`] of the issue's key at creation (so at least `4 * depth`
    /// levels of JSON).
    DeepDescription {
        /// Number of nested lists.
        depth: usize,
    },
    /// One more attachment (numeric id, 2,048 bytes, `restricted.pdf`) whose content answers
    /// 403 with `{"errorMessages":["You do not have permission to view this attachment."],
    /// "errors":{}}`.
    ForbiddenAttachment,
    /// One more attachment (`long-id.txt`, 512 bytes) whose `id` is a string of `len` decimal
    /// digits; its content answers 404.
    LongAttachmentId {
        /// Number of digits (e.g. 200).
        len: usize,
    },
    /// That part of the issue answers 403 with Jira's JSON error body.
    Forbidden {
        /// Which part.
        part: Part,
    },
    /// The summary carries an unpaired high surrogate escape (`\ud83d`): bodies carrying it
    /// are not valid JSON for serde_json. In-process values show [`LONE_SURROGATE_MARKER`].
    LoneSurrogate,
}

/// A part of an issue that [`PoisonKind::Forbidden`] closes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Part {
    /// `GET /rest/api/3/issue/{key}/remotelink`.
    RemoteLinks,
    /// `GET /rest/api/3/issue/{key}/comment` (the issue gets more than 100 comments).
    Comments,
    /// `GET /rest/api/3/issue/{key}/changelog` (the issue gets more than 100 histories).
    Changelog,
    /// `GET /rest/api/3/issue/{key}` (search still lists the issue).
    Issue,
    /// `GET /rest/api/3/issue/{key}/worklog` (the issue gets more worklogs than Jira embeds).
    Worklogs,
    /// `GET /rest/servicedeskapi/request/{key}/sla`, for the JSM account as for any other:
    /// JSM's error body, as for an account that is not an agent of the issue's service desk
    /// (the SLA custom fields in the issue stay readable).
    Sla,
}

/// The character that stands for the unpaired surrogate of [`PoisonKind::LoneSurrogate`] in
/// in-process values; on the wire it is `\ud83d`. A Unicode noncharacter, so generated text
/// never contains it otherwise.
pub const LONE_SURROGATE_MARKER: char = '\u{FDD0}';

/// The text at the bottom of a [`PoisonKind::DeepDescription`] of the issue created as `key`.
pub fn deep_bottom_text(key: &str) -> String {
    format!("deep bottom of {key}")
}

/// History and comment counts forced on one of the first issues (to exceed Jira's embed caps).
#[derive(Clone, Debug, Default)]
pub struct BigIssue {
    /// Number of changelog histories.
    pub histories: usize,
    /// Number of comments.
    pub comments: usize,
    /// Number of worklogs (0: as any other issue, 0 to 3).
    pub worklogs: usize,
}

/// Fault injection settings; all off by default. Rates are probabilities in `0.0..=1.0`.
#[derive(Clone, Debug, Default)]
pub struct Faults {
    /// Probability that a request gets 429 with `Retry-After: retry_after_secs`.
    pub rate_429: f64,
    /// `Retry-After` seconds on 429 and 503 (0 is sent as 1).
    pub retry_after_secs: u64,
    /// Probability of a 500/502/503/504 (503 carries `Retry-After`, like Jira).
    pub rate_5xx: f64,
    /// Milliseconds added to every response.
    pub latency_ms: u64,
    /// Probability that a 200 JSON body is cut in half (with a matching `Content-Length`).
    pub rate_truncated: f64,
    /// Probability that a 200 JSON body is replaced by non-JSON garbage (an HTML error page).
    pub rate_garbled: f64,
    /// When true every request gets 503 without `Retry-After`.
    pub outage: bool,
    /// When true every request gets 404 with an HTML page of its own, as a misconfigured
    /// reverse proxy in front of Jira answers: not Jira's JSON error body.
    pub proxy_not_found: bool,
    /// At most this many issues per search page, whatever `maxResults` allows: Jira may
    /// return fewer than asked (JRACLOUD-92183), so clients must follow `nextPageToken`.
    pub search_page_cap: Option<usize>,
    /// When true every search request that carries a `nextPageToken` gets a 500: a listing
    /// that breaks after its first page (e.g. an id census that must not be trusted).
    pub broken_search_tokens: bool,
    /// When true `/users/search` answers 403, as Jira does to an account without the *Browse
    /// users and groups* permission (every other request is unaffected).
    pub refuse_user_browsing: bool,
    /// One attachment whose content trickles in (see [`SlowAttachment`]): a media host that
    /// stalls on a file, which only a deadline on the whole download ends.
    pub slow_attachment: Option<SlowAttachment>,
}

/// An attachment whose content (from the media host, or from the API with `redirect=false`)
/// is sent `chunk_bytes` at a time with `pause` before every chunk, with the full
/// `Content-Length`: each read comes soon enough for a read timeout longer than `pause`,
/// while the whole body takes `size / chunk_bytes × pause`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SlowAttachment {
    /// The attachment id.
    pub id: u64,
    /// Bytes per chunk (at least 1).
    pub chunk_bytes: usize,
    /// Pause before each chunk.
    pub pause: Duration,
}

/// One request as the simulator saw and answered it.
#[derive(Clone, Debug)]
pub struct RequestRecord {
    /// Arrival order across both listeners, from 0.
    pub seq: u64,
    /// When the request arrived.
    pub at: std::time::Instant,
    /// When its answer was ready (after the injected latency; the body may still be on the
    /// wire): `at..answered` is the time the request was in flight here.
    pub answered: std::time::Instant,
    /// HTTP method.
    pub method: String,
    /// URI path.
    pub path: String,
    /// Raw query string (`""` if none).
    pub query: String,
    /// Request body as text (POST search), `""` otherwise.
    pub body: String,
    /// Status code sent.
    pub status: u16,
    /// The `Retry-After` sent, if any.
    pub retry_after_secs: Option<u64>,
    /// The authenticated e-mail; `None` if auth was missing or failed (always `None` on media).
    pub user: Option<String>,
    /// Whether an `Authorization` header arrived (the media host must see `false`).
    pub had_authorization: bool,
    /// `"429"`, `"5xx"`, `"truncated"`, `"garbled"`, `"outage"` or `"proxy 404"` when a fault
    /// was injected.
    pub fault: Option<&'static str>,
    /// `"api"` or `"media"`.
    pub host: &'static str,
}

/// The most of `records` in flight at once, from arrival to answer as the simulator saw
/// them (at one instant an answer counts before the next arrival): how many connection
/// slots a client kept busy.
pub fn peak_in_flight<'a>(records: impl IntoIterator<Item = &'a RequestRecord>) -> usize {
    let mut events: Vec<(std::time::Instant, i32)> = records
        .into_iter()
        .flat_map(|r| [(r.at, 1), (r.answered, -1)])
        .collect();
    events.sort_by_key(|&(t, d)| (t, d));
    let (mut now, mut peak) = (0i32, 0i32);
    for (_, d) in events {
        now += d;
        peak = peak.max(now);
    }
    peak as usize
}

/// Mutable simulator state, behind one std mutex (never held across an await).
pub(crate) struct State {
    pub(crate) cfg: SimConfig,
    pub(crate) store: Store,
    pub(crate) faults: Faults,
    pub(crate) fault_rng: ChaCha8Rng,
    pub(crate) requests: Vec<RequestRecord>,
    pub(crate) next_seq: u64,
}

/// What the listeners and the [`Simulator`] handle share.
pub(crate) struct Shared {
    state: Mutex<State>,
    pub(crate) media_base_url: String,
}

impl Shared {
    /// Locks the state; a panic in another holder does not poison the simulator.
    pub(crate) fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// A running simulator: two loopback listeners plus the simulated site.
///
/// Dropping it without [`Simulator::shutdown`] signals the listeners to stop but does not wait.
pub struct Simulator {
    shared: Arc<Shared>,
    base_url: String,
    media_base_url: String,
    stop: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
}

/// How long `shutdown` waits for in-flight requests before aborting the listeners.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

impl Simulator {
    /// Generates the site and starts serving: the API on `127.0.0.1:0` and the attachment media
    /// host on a second `127.0.0.1:0`.
    pub async fn start(cfg: SimConfig) -> std::io::Result<Simulator> {
        let api = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let media = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let base_url = format!("http://{}", api.local_addr()?);
        let media_base_url = format!("http://{}", media.local_addr()?);
        let store = Store::generate(&cfg, &base_url);
        let state = State {
            faults: cfg.faults.clone(),
            fault_rng: ChaCha8Rng::seed_from_u64(cfg.seed ^ 0xFA17_5EED),
            cfg,
            store,
            requests: Vec::new(),
            next_seq: 0,
        };
        let shared = Arc::new(Shared {
            state: Mutex::new(state),
            media_base_url: media_base_url.clone(),
        });
        let (stop, rx) = watch::channel(false);
        let mut tasks = Vec::new();
        for (listener, router) in [
            (api, server::api_router(shared.clone())),
            (media, server::media_router(shared.clone())),
        ] {
            let mut rx = rx.clone();
            tasks.push(tokio::spawn(async move {
                let signal = async move {
                    let _ = rx.wait_for(|stopped| *stopped).await;
                };
                if let Err(e) = axum::serve(listener, router)
                    .with_graceful_shutdown(signal)
                    .await
                {
                    tracing::warn!(error = %e, "Simulator listener stopped with an error.");
                }
            }));
        }
        Ok(Simulator {
            shared,
            base_url,
            media_base_url,
            stop,
            tasks,
        })
    }

    /// `http://127.0.0.1:PORT` of the API (no trailing slash).
    pub fn base_url(&self) -> String {
        self.base_url.clone()
    }

    /// `http://127.0.0.1:PORT` of the attachment media host (no trailing slash).
    pub fn media_base_url(&self) -> String {
        self.media_base_url.clone()
    }

    /// A clone of the configuration (credentials, seed, …).
    pub fn config(&self) -> SimConfig {
        self.shared.lock().cfg.clone()
    }

    /// Every request recorded so far, in arrival order.
    pub fn requests(&self) -> Vec<RequestRecord> {
        let mut v = self.shared.lock().requests.clone();
        v.sort_by_key(|r| r.seq);
        v
    }

    /// Forgets the recorded requests.
    pub fn clear_requests(&self) {
        self.shared.lock().requests.clear();
    }

    /// Replaces the fault settings for the following requests.
    pub fn set_faults(&self, f: Faults) {
        let mut st = self.shared.lock();
        st.cfg.faults = f.clone();
        st.faults = f;
    }

    /// Current issue keys in creation order.
    pub fn issue_keys(&self) -> Vec<String> {
        self.shared.lock().store.keys()
    }

    /// The `GET /rest/api/3/field` answer (the same for every simulator).
    pub fn field_catalog(&self) -> serde_json::Value {
        data::field_catalog()
    }

    /// The whole truth about an issue: what `GET /issue/{key}?expand=changelog` returns, but with
    /// *all* histories (newest first) and *all* comments (oldest first) embedded. A
    /// [`PoisonKind::DeepDescription`] makes it deep: drop it with `crate::json::drop_deep`
    /// and do not clone, compare, print or serialise it with serde_json directly.
    pub fn issue(&self, key: &str) -> Option<serde_json::Value> {
        let st = self.shared.lock();
        let issue = st.store.find(key)?;
        Some(
            st.store
                .render(issue, &FieldSel::all(), ChangelogMode::All, None),
        )
    }

    /// Appends one changelog history (a summary or priority change) and sets `updated` to now;
    /// returns the new `updated` in epoch ms (0 if the issue does not exist).
    pub fn touch(&self, key: &str) -> i64 {
        self.shared.lock().store.touch(key).unwrap_or(0)
    }

    /// Forces the `updated` timestamp (epoch ms).
    pub fn set_updated(&self, key: &str, epoch_ms: i64) {
        self.shared.lock().store.set_updated(key, epoch_ms);
    }

    /// Adds a public ADF comment and sets `updated` to now; returns it in epoch ms (0 if the issue
    /// does not exist).
    pub fn add_comment(&self, key: &str, text: &str) -> i64 {
        self.shared.lock().store.add_comment(key, text).unwrap_or(0)
    }

    /// Creates an issue in `project` (created = updated = now) and returns its key.
    pub fn create_issue(&self, project: &str) -> String {
        self.shared.lock().store.create_issue(project)
    }

    /// Deletes an issue: afterwards `GET` answers 404 and search no longer returns it.
    pub fn delete_issue(&self, key: &str) {
        self.shared.lock().store.delete_issue(key);
    }

    /// Moves an issue to `new_project`: same id, new key `NEWPROJ-N` (returned). `GET` on the old
    /// key returns the issue under its new key, like Jira (no redirect). Returns an empty string
    /// if the issue does not exist.
    pub fn move_issue(&self, key: &str, new_project: &str) -> String {
        self.shared
            .lock()
            .store
            .move_issue(key, new_project)
            .unwrap_or_default()
    }

    /// Runs the issue's SLA clocks `by_ms` forward (ongoing cycles' elapsed and remaining
    /// time) without changing `updated`, as Jira's SLA figures change between edits. False if
    /// the issue does not exist.
    pub fn advance_sla(&self, key: &str, by_ms: i64) -> bool {
        self.shared.lock().store.advance_sla(key, by_ms)
    }

    /// Resolves an issue: status Done, resolution Done, open SLA cycles stopped, one history,
    /// `updated` set to now (returned in epoch ms; 0 if the issue does not exist). An issue
    /// already done is left alone.
    pub fn resolve_issue(&self, key: &str) -> i64 {
        self.shared.lock().store.resolve_issue(key).unwrap_or(0)
    }

    /// Hides an issue from search (`hidden = true`) or shows it again, like Jira's index lag:
    /// `GET /issue/{key}` still finds a hidden issue. False if the issue does not exist.
    pub fn set_searchable(&self, key: &str, searchable: bool) -> bool {
        let mut st = self.shared.lock();
        let Some(id) = st.store.find(key).map(|i| i.id) else {
            return false;
        };
        if searchable {
            st.store.hidden.remove(&id);
        } else {
            st.store.hidden.insert(id);
        }
        true
    }

    /// Stops both listeners and waits for them (in-flight requests get a short grace period).
    pub async fn shutdown(mut self) {
        let _ = self.stop.send(true);
        for mut task in std::mem::take(&mut self.tasks) {
            if tokio::time::timeout(SHUTDOWN_GRACE, &mut task)
                .await
                .is_err()
            {
                task.abort();
                let _ = task.await;
            }
        }
    }
}

impl Drop for Simulator {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
    }
}

impl std::fmt::Debug for Simulator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Simulator")
            .field("base_url", &self.base_url)
            .field("media_base_url", &self.media_base_url)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    //! End-to-end tests over HTTP with reqwest, one simulator per test.

    use super::*;
    use serde_json::{Value, json};
    use std::collections::HashSet;

    struct H {
        sim: Simulator,
        http: reqwest::Client,
        cfg: SimConfig,
    }

    impl H {
        async fn new(cfg: SimConfig) -> H {
            let sim = Simulator::start(cfg).await.expect("simulator starts");
            let http = reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .expect("client");
            let cfg = sim.config();
            H { sim, http, cfg }
        }

        fn url(&self, p: &str) -> String {
            format!("{}{p}", self.sim.base_url())
        }

        async fn get(&self, p: &str) -> reqwest::Response {
            self.http
                .get(self.url(p))
                .basic_auth(&self.cfg.email, Some(&self.cfg.api_token))
                .send()
                .await
                .unwrap()
        }

        async fn get_json(&self, p: &str) -> Value {
            let r = self.get(p).await;
            assert_eq!(r.status(), 200, "GET {p}");
            r.json().await.unwrap()
        }

        async fn search(&self, body: &Value) -> (u16, Value) {
            let r = self
                .http
                .post(self.url("/rest/api/3/search/jql"))
                .basic_auth(&self.cfg.email, Some(&self.cfg.api_token))
                .json(body)
                .send()
                .await
                .unwrap();
            let status = r.status().as_u16();
            (status, r.json().await.unwrap())
        }

        async fn search_keys(&self, jql: &str) -> Vec<String> {
            let (status, v) = self
                .search(&json!({"jql": jql, "maxResults": 5000, "fields": ["key"]}))
                .await;
            assert_eq!(status, 200, "{jql}: {v}");
            assert_eq!(v["isLast"], true);
            keys(&v)
        }
    }

    fn keys(page: &Value) -> Vec<String> {
        page["issues"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i["key"].as_str().unwrap().to_string())
            .collect()
    }

    fn small() -> SimConfig {
        SimConfig {
            issues: 40,
            ..SimConfig::default()
        }
    }

    fn parse_jira_ms(s: &str) -> i64 {
        chrono::DateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S%.3f%z")
            .unwrap()
            .timestamp_millis()
    }

    #[tokio::test]
    async fn pages_through_1000_issues_by_token() {
        let h = H::new(SimConfig {
            issues: 1000,
            big_issues: vec![],
            hostile_attachments: false,
            ..SimConfig::default()
        })
        .await;
        let jql = "project = SUP ORDER BY key ASC";
        let mut token: Option<String> = None;
        let mut seen = Vec::new();
        let mut pages = 0;
        loop {
            let mut body = json!({"jql": jql, "maxResults": 100, "fields": ["summary", "updated"]});
            if let Some(t) = &token {
                body["nextPageToken"] = json!(t);
            }
            let (status, page) = h.search(&body).await;
            assert_eq!(status, 200, "{page}");
            assert!(page.get("total").is_none() && page.get("startAt").is_none());
            pages += 1;
            let issues = page["issues"].as_array().unwrap();
            for i in issues {
                assert!(i["id"].is_string() && i["self"].is_string() && i["expand"].is_string());
                let f = i["fields"].as_object().unwrap();
                assert_eq!(f.len(), 2, "only the requested fields: {f:?}");
            }
            seen.extend(keys(&page));
            if page["isLast"] == true {
                assert!(
                    page.get("nextPageToken").is_none(),
                    "no token on the last page"
                );
                break;
            }
            assert_eq!(issues.len(), 100);
            token = Some(page["nextPageToken"].as_str().unwrap().to_string());
        }
        assert_eq!(pages, 10);
        assert_eq!(seen.len(), 1000);
        assert_eq!(seen.iter().collect::<HashSet<_>>().len(), 1000);
        assert_eq!(seen[0], "SUP-1");
        assert_eq!(seen[999], "SUP-1000");

        // id/key only: up to 5000 per page; default fields are id only.
        let r = h
            .get("/rest/api/3/search/jql?jql=project%3DSUP&maxResults=5000")
            .await;
        let v: Value = r.json().await.unwrap();
        assert_eq!(v["issues"].as_array().unwrap().len(), 1000);
        assert_eq!(v["isLast"], true);
        assert_eq!(v["issues"][0]["fields"], json!({}));
        // Any other field caps the page at 100; default page size is 50.
        let v = h
            .get_json(
                "/rest/api/3/search/jql?jql=project%3DSUP&maxResults=1000&fields=summary,status",
            )
            .await;
        assert_eq!(v["issues"].as_array().unwrap().len(), 100);
        let v = h
            .get_json("/rest/api/3/search/jql?jql=project%3DSUP&fields=*all")
            .await;
        assert_eq!(v["issues"].as_array().unwrap().len(), 50);
        assert!(v["issues"][0]["fields"]["comment"]["comments"].is_array());
        // A token is bound to its JQL; garbage tokens are refused.
        let t = v["nextPageToken"].as_str().unwrap();
        let (status, e) = h
            .search(&json!({"jql": "project = SUP AND updated >= 0", "nextPageToken": t}))
            .await;
        assert_eq!(status, 400, "{e}");
        let (status, _) = h
            .search(&json!({"jql": "project = SUP", "nextPageToken": "!!nope"}))
            .await;
        assert_eq!(status, 400);
        h.sim.shutdown().await;
    }

    #[tokio::test]
    async fn jql_epoch_ms_bound_is_exact() {
        let h = H::new(small()).await;
        let t: i64 = 1_900_000_000_123;
        h.sim.set_updated("SUP-5", t);
        assert_eq!(
            h.search_keys(&format!("(project = SUP) AND updated >= {t}"))
                .await,
            vec!["SUP-5"]
        );
        assert!(
            h.search_keys(&format!("(project = SUP) AND updated >= {}", t + 1))
                .await
                .is_empty()
        );
        assert_eq!(
            h.search_keys(&format!("project = SUP AND updated > {}", t - 1))
                .await,
            vec!["SUP-5"]
        );
        assert!(
            h.search_keys(&format!("project = SUP AND updated > {t}"))
                .await
                .is_empty()
        );
        assert_eq!(
            h.search_keys(&format!(
                "project = SUP AND updated <= {t} AND updated >= {t}"
            ))
            .await,
            vec!["SUP-5"]
        );
        let all = h
            .search_keys(&format!("project = SUP AND updated < {t}"))
            .await;
        assert_eq!(all.len(), 39);
        // The rendered timestamp carries the millisecond and the configured offset.
        let v = h.get_json("/rest/api/3/issue/SUP-5?fields=updated").await;
        let s = v["fields"]["updated"].as_str().unwrap();
        assert!(s.ends_with("-0500"), "{s}");
        assert_eq!(parse_jira_ms(s), t);
        // ORDER BY updated DESC puts it first; ties broken by id.
        let ordered = h.search_keys("project = SUP ORDER BY updated DESC").await;
        assert_eq!(ordered[0], "SUP-5");
        h.sim.shutdown().await;
    }

    #[tokio::test]
    async fn quoted_dates_and_unsupported_jql_are_rejected() {
        let h = H::new(small()).await;
        let (status, v) = h
            .search(&json!({"jql": "project = SUP AND updated >= \"2024/01/02 10:00\""}))
            .await;
        assert_eq!(status, 400);
        let msg = v["errorMessages"][0].as_str().unwrap();
        assert!(msg.contains("epoch milliseconds"), "{msg}");
        assert_eq!(v["errors"], json!({}));
        let r = h
            .get("/rest/api/3/search/jql?jql=updated%20%3E%3D%20%222024-01-02%22")
            .await;
        assert_eq!(r.status(), 400);
        for bad in [
            "project = SUP OR project = X",
            "assignee = x",
            "project = NOPE",
            "ORDER BY key",
            "",
        ] {
            let (status, v) = h.search(&json!({"jql": bad})).await;
            assert_eq!(status, 400, "{bad}: {v}");
            assert!(v["errorMessages"][0].is_string());
        }
        h.sim.shutdown().await;
    }

    #[tokio::test]
    async fn changelog_embedded_cap_and_full_pages() {
        let h = H::new(small()).await;
        let v = h.get_json("/rest/api/3/issue/SUP-1?expand=changelog").await;
        let cl = &v["changelog"];
        assert_eq!(cl["total"], 250);
        assert_eq!(cl["startAt"], 0);
        let embedded: Vec<u64> = cl["histories"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x["id"].as_str().unwrap().parse().unwrap())
            .collect();
        assert_eq!(embedded.len(), 100);
        assert!(embedded.windows(2).all(|w| w[0] > w[1]), "newest first");

        let mut all = Vec::new();
        let mut start = 0;
        loop {
            let p = h
                .get_json(&format!(
                    "/rest/api/3/issue/SUP-1/changelog?startAt={start}&maxResults=100"
                ))
                .await;
            assert_eq!(p["total"], 250);
            assert_eq!(p["startAt"], start);
            assert!(p["self"].as_str().unwrap().contains("/changelog?startAt="));
            let vals = p["values"].as_array().unwrap();
            all.extend(
                vals.iter()
                    .map(|x| x["id"].as_str().unwrap().parse::<u64>().unwrap()),
            );
            if p["isLast"] == true {
                assert!(p.get("nextPage").is_none());
                assert_eq!(vals.len(), 50);
                break;
            }
            assert!(
                p["nextPage"]
                    .as_str()
                    .unwrap()
                    .contains(&format!("startAt={}", start + 100))
            );
            start += 100;
        }
        assert_eq!(all.len(), 250);
        assert!(all.windows(2).all(|w| w[0] < w[1]), "oldest first");
        let newest: Vec<u64> = all.iter().rev().take(100).copied().collect();
        assert_eq!(newest, embedded);
        // maxResults is capped at 100.
        let p = h
            .get_json("/rest/api/3/issue/SUP-1/changelog?maxResults=1000")
            .await;
        assert_eq!(p["values"].as_array().unwrap().len(), 100);
        // The truth has everything.
        let truth = h.sim.issue("SUP-1").unwrap();
        assert_eq!(
            truth["changelog"]["histories"].as_array().unwrap().len(),
            250
        );
        assert_eq!(
            truth["fields"]["comment"]["comments"]
                .as_array()
                .unwrap()
                .len(),
            150
        );
        // Search embeds the same capped changelog.
        let (_, s) = h
            .search(&json!({"jql": "key = SUP-1", "expand": "changelog", "fields": ["summary"]}))
            .await;
        assert_eq!(s["issues"][0]["changelog"], v["changelog"]);
        h.sim.shutdown().await;
    }

    #[tokio::test]
    async fn comments_cap_and_pages() {
        let h = H::new(small()).await;
        let v = h.get_json("/rest/api/3/issue/SUP-1").await;
        let c = &v["fields"]["comment"];
        assert_eq!(c["total"], 150);
        assert_eq!(c["startAt"], 0);
        assert_eq!(c["maxResults"], 100);
        assert!(c["self"].as_str().unwrap().ends_with("/comment"));
        let embedded = c["comments"].as_array().unwrap();
        assert_eq!(embedded.len(), 100);
        let mut all = Vec::new();
        for start in [0, 100] {
            let p = h
                .get_json(&format!(
                    "/rest/api/3/issue/SUP-1/comment?startAt={start}&maxResults=100&orderBy=created"
                ))
                .await;
            assert_eq!(p["total"], 150);
            assert_eq!(p["startAt"], start);
            all.extend(p["comments"].as_array().unwrap().iter().cloned());
        }
        assert_eq!(all.len(), 150);
        assert_eq!(&all[..100], embedded.as_slice());
        let ids: Vec<u64> = all
            .iter()
            .map(|c| c["id"].as_str().unwrap().parse().unwrap())
            .collect();
        assert!(ids.windows(2).all(|w| w[0] < w[1]));
        assert!(
            all.iter()
                .all(|c| c["body"]["type"] == "doc" && c["jsdPublic"].is_boolean())
        );
        let newest = h
            .get_json("/rest/api/3/issue/SUP-1/comment?maxResults=1&orderBy=-created")
            .await;
        assert_eq!(newest["comments"][0], all[149]);
        assert_eq!(
            h.get("/rest/api/3/issue/SUP-1/comment?startAt=abc")
                .await
                .status(),
            400
        );
        assert_eq!(
            h.get("/rest/api/3/issue/SUP-1/comment?orderBy=weird")
                .await
                .status(),
            400
        );
        h.sim.shutdown().await;
    }

    #[tokio::test]
    async fn sla_pages_accounts_and_non_service_desk_issues() {
        let h = H::new(small()).await;
        let sla = |p: String| {
            h.http
                .get(h.url(&p))
                .basic_auth(&h.cfg.sla_email, Some(&h.cfg.sla_api_token))
                .send()
        };
        let p1: Value = sla("/rest/servicedeskapi/request/SUP-1/sla?start=0&limit=1".into())
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(p1["size"], 1);
        assert_eq!(p1["start"], 0);
        assert_eq!(p1["limit"], 1);
        assert_eq!(p1["isLastPage"], false);
        assert_eq!(p1["_expands"], json!([]));
        assert!(
            p1["_links"]["base"]
                .as_str()
                .unwrap()
                .ends_with("/rest/servicedeskapi")
        );
        assert!(
            p1["_links"]["next"]
                .as_str()
                .unwrap()
                .contains("start=1&limit=1")
        );
        assert!(p1["_links"].get("prev").is_none());
        let p2: Value = sla("/rest/servicedeskapi/request/SUP-1/sla?start=1&limit=1".into())
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(p2["isLastPage"], true);
        assert!(p2["_links"].get("next").is_none());
        assert!(p2["_links"]["prev"].is_string());
        let issue = h.get_json("/rest/api/3/issue/SUP-1").await;
        assert_eq!(p1["values"][0], issue["fields"]["customfield_10030"]);
        assert_eq!(p2["values"][0], issue["fields"]["customfield_10031"]);
        assert_eq!(p1["values"][0]["name"], "Time to first response");
        assert_eq!(p2["values"][0]["name"], "Time to resolution");
        assert_eq!(p1["values"][0]["slaDisplayFormat"], "NEW_SLA_FORMAT");
        // By id too, and with the main account.
        let id = issue["id"].as_str().unwrap();
        let all = h
            .get_json(&format!("/rest/servicedeskapi/request/{id}/sla"))
            .await;
        assert_eq!(all["size"], 2);
        assert_eq!(all["isLastPage"], true);
        // Status and SLA agree for every issue.
        for key in h.sim.issue_keys() {
            let v = h.sim.issue(&key).unwrap();
            let ttr = &v["fields"]["customfield_10031"];
            if ttr.is_null() {
                continue;
            }
            let resolved = !v["fields"]["resolution"].is_null();
            assert_eq!(ttr.get("ongoingCycle").is_none(), resolved, "{key}");
            for c in ttr["completedCycles"].as_array().unwrap() {
                let remaining = c["remainingTime"]["millis"].as_i64().unwrap();
                assert_eq!(c["breached"].as_bool().unwrap(), remaining < 0, "{key}");
            }
        }
        // Every 7th issue is not a customer request.
        let r = sla("/rest/servicedeskapi/request/SUP-7/sla".into())
            .await
            .unwrap();
        assert_eq!(r.status(), 404);
        let e: Value = r.json().await.unwrap();
        assert!(e["errorMessage"].is_string() && e["i18nErrorMessage"].is_object());
        let v = h.get_json("/rest/api/3/issue/SUP-7").await;
        assert!(
            v["fields"]["customfield_10030"].is_null()
                && v["fields"]["customfield_10031"].is_null()
        );
        // The JSM account cannot read issues.
        let r = h
            .http
            .get(h.url("/rest/api/3/issue/SUP-1"))
            .basic_auth(&h.cfg.sla_email, Some(&h.cfg.sla_api_token))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 401);
        h.sim.shutdown().await;
    }

    #[tokio::test]
    async fn attachments_redirect_to_media_host() {
        let h = H::new(small()).await;
        let v = h
            .get_json("/rest/api/3/issue/SUP-1?fields=attachment")
            .await;
        let atts = v["fields"]["attachment"].as_array().unwrap();
        assert_eq!(atts.len(), 6);
        let big = atts.iter().find(|a| a["filename"] == "big.bin").unwrap();
        let size = big["size"].as_u64().unwrap();
        assert_eq!(size, 3 * 1024 * 1024);
        let id: u64 = big["id"].as_str().unwrap().parse().unwrap();
        let content = big["content"].as_str().unwrap();
        assert_eq!(
            content,
            h.url(&format!("/rest/api/3/attachment/content/{id}"))
        );

        let r = h
            .http
            .get(content)
            .basic_auth(&h.cfg.email, Some(&h.cfg.api_token))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 303);
        let loc = r.headers()["location"].to_str().unwrap().to_string();
        assert!(
            loc.starts_with(&format!("{}/file/{id}?token=", h.sim.media_base_url())),
            "{loc}"
        );
        let r = h.http.get(&loc).send().await.unwrap();
        assert_eq!(r.status(), 200);
        assert_eq!(r.headers()["content-type"], "application/octet-stream");
        assert_eq!(r.content_length(), Some(size));
        let bytes = r.bytes().await.unwrap();
        assert_eq!(bytes.len() as u64, size);
        assert!(bytes.as_ref() == data::attachment_bytes(id, size).as_slice());

        // A following client (reqwest drops Authorization across ports) ends on the media host.
        let follow = reqwest::Client::new();
        let small_att = atts.iter().find(|a| a["filename"] == "../../x").unwrap();
        let r = follow
            .get(small_att["content"].as_str().unwrap())
            .basic_auth(&h.cfg.email, Some(&h.cfg.api_token))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        assert_eq!(r.headers()["content-type"], "text/plain");
        assert_eq!(r.bytes().await.unwrap().len(), 100);
        let media: Vec<RequestRecord> = h
            .sim
            .requests()
            .into_iter()
            .filter(|r| r.host == "media")
            .collect();
        assert_eq!(media.len(), 2);
        assert!(
            media
                .iter()
                .all(|r| !r.had_authorization && r.user.is_none() && r.status == 200)
        );
        // Without the token the media host refuses; redirect=false streams directly.
        assert_eq!(
            h.http
                .get(format!("{}/file/{id}", h.sim.media_base_url()))
                .send()
                .await
                .unwrap()
                .status(),
            403
        );
        let sid = small_att["id"].as_str().unwrap();
        let r = h
            .get(&format!(
                "/rest/api/3/attachment/content/{sid}?redirect=false"
            ))
            .await;
        assert_eq!(r.status(), 200);
        assert_eq!(r.bytes().await.unwrap().len(), 100);
        assert_eq!(
            h.get("/rest/api/3/attachment/content/999999")
                .await
                .status(),
            404
        );
        h.sim.shutdown().await;
    }

    #[tokio::test]
    async fn auth_failures_are_401_without_retry_after() {
        let h = H::new(small()).await;
        h.sim.set_faults(Faults {
            rate_429: 1.0,
            retry_after_secs: 3,
            ..Faults::default()
        });
        let r = h
            .http
            .get(h.url("/rest/api/3/myself"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 401);
        assert!(r.headers().get("retry-after").is_none());
        let v: Value = r.json().await.unwrap();
        assert_eq!(
            v,
            json!({"errorMessages": ["Client must be authenticated to access this resource."], "errors": {}})
        );
        let r = h
            .http
            .get(h.url("/rest/api/3/myself"))
            .basic_auth(&h.cfg.email, Some("wrong"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 401);
        let recs = h.sim.requests();
        assert_eq!(recs.len(), 2);
        assert!(recs.iter().all(|r| r.status == 401
            && r.user.is_none()
            && r.retry_after_secs.is_none()
            && r.fault.is_none()));
        assert!(!recs[0].had_authorization && recs[1].had_authorization);
        h.sim.set_faults(Faults::default());
        let me = h.get_json("/rest/api/3/myself").await;
        assert_eq!(me["emailAddress"], "mirror@example.com");
        assert_eq!(me["active"], true);
        assert!(
            me["accountId"].is_string() && me["timeZone"].is_string() && me["self"].is_string()
        );
        let last = h.sim.requests().pop().unwrap();
        assert_eq!(last.user.as_deref(), Some("mirror@example.com"));
        assert_eq!(last.path, "/rest/api/3/myself");
        h.sim.clear_requests();
        assert!(h.sim.requests().is_empty());
        h.sim.shutdown().await;
    }

    #[tokio::test]
    async fn moves_deletes_creates_and_edits() {
        let h = H::new(small()).await;
        let before = h.get_json("/rest/api/3/issue/SUP-2?expand=changelog").await;
        let new_key = h.sim.move_issue("SUP-2", "OPS");
        assert_eq!(new_key, "OPS-1");
        let moved = h.get_json("/rest/api/3/issue/SUP-2").await;
        assert_eq!(moved["key"], "OPS-1");
        assert_eq!(moved["id"], before["id"]);
        assert_eq!(moved["fields"]["project"]["key"], "OPS");
        assert!(
            !h.search_keys("project = SUP")
                .await
                .contains(&"SUP-2".to_string())
        );
        assert_eq!(h.search_keys("project = OPS").await, vec!["OPS-1"]);
        assert_eq!(h.search_keys("key = SUP-2").await, vec!["OPS-1"]);
        assert!(h.sim.issue_keys().contains(&"OPS-1".to_string()));
        let cl = h.get_json("/rest/api/3/issue/OPS-1?expand=changelog").await;
        assert_eq!(cl["changelog"]["histories"][0]["items"][0]["field"], "Key");

        h.sim.delete_issue("SUP-3");
        assert_eq!(h.get("/rest/api/3/issue/SUP-3").await.status(), 404);
        let e: Value = h.get("/rest/api/3/issue/SUP-3").await.json().await.unwrap();
        assert_eq!(
            e["errorMessages"][0],
            "Issue does not exist or you do not have permission to see it."
        );
        assert!(
            !h.search_keys("project = SUP")
                .await
                .contains(&"SUP-3".to_string())
        );

        let t0 = data::now_ms();
        let k = h.sim.create_issue("SUP");
        assert_eq!(k, "SUP-41");
        let v = h.get_json(&format!("/rest/api/3/issue/{k}")).await;
        assert_eq!(v["fields"]["created"], v["fields"]["updated"]);
        assert!(parse_jira_ms(v["fields"]["created"].as_str().unwrap()) >= t0);
        assert_eq!(
            h.search_keys(&format!("project = SUP AND created >= {t0}"))
                .await,
            vec![k.clone()]
        );

        let n = before["changelog"]["total"].as_u64().unwrap();
        let t = h.sim.touch("SUP-4");
        let t2 = h.sim.touch("SUP-4");
        assert!(t2 > t && t >= t0);
        let v = h.get_json("/rest/api/3/issue/SUP-4?expand=changelog").await;
        assert_eq!(parse_jira_ms(v["fields"]["updated"].as_str().unwrap()), t2);
        assert_eq!(
            parse_jira_ms(v["changelog"]["histories"][0]["created"].as_str().unwrap()),
            t2
        );
        let _ = n;
        let c = h.sim.add_comment("SUP-4", "hello from the test");
        assert!(c > t2);
        let v = h.get_json("/rest/api/3/issue/SUP-4").await;
        let comments = v["fields"]["comment"]["comments"].as_array().unwrap();
        assert_eq!(
            comments.last().unwrap()["body"]["content"][0]["content"][0]["text"],
            "hello from the test"
        );
        assert_eq!(h.sim.issue("SUP-4").unwrap()["fields"], v["fields"]);
        assert_eq!(h.sim.touch("NOPE-1"), 0);
        h.sim.shutdown().await;
    }

    #[tokio::test]
    async fn injected_faults_follow_their_rates() {
        let h = H::new(small()).await;
        h.sim.set_faults(Faults {
            rate_429: 0.3,
            retry_after_secs: 2,
            ..Faults::default()
        });
        let mut n429 = 0;
        for _ in 0..200 {
            let r = h.get("/rest/api/3/myself").await;
            if r.status() == 429 {
                n429 += 1;
                assert_eq!(r.headers()["retry-after"], "2");
            } else {
                assert_eq!(r.status(), 200);
            }
        }
        assert!((35..=85).contains(&n429), "{n429}");
        let recs = h.sim.requests();
        assert_eq!(
            recs.iter()
                .filter(|r| r.fault == Some("429") && r.retry_after_secs == Some(2))
                .count(),
            n429
        );

        h.sim.set_faults(Faults {
            rate_5xx: 1.0,
            retry_after_secs: 1,
            ..Faults::default()
        });
        for _ in 0..40 {
            let r = h.get("/rest/api/3/field").await;
            let s = r.status().as_u16();
            assert!([500, 502, 503, 504].contains(&s));
            assert_eq!(r.headers().get("retry-after").is_some(), s == 503);
        }

        h.sim.set_faults(Faults {
            outage: true,
            rate_429: 1.0,
            ..Faults::default()
        });
        let r = h.get("/rest/api/3/issue/SUP-1").await;
        assert_eq!(r.status(), 503);
        assert!(r.headers().get("retry-after").is_none());
        assert_eq!(h.sim.requests().last().unwrap().fault, Some("outage"));

        h.sim.set_faults(Faults {
            rate_truncated: 1.0,
            ..Faults::default()
        });
        let r = h.get("/rest/api/3/issue/SUP-2").await;
        assert_eq!(r.status(), 200);
        let len = r.content_length();
        let body = r.bytes().await.unwrap();
        assert_eq!(len, Some(body.len() as u64));
        assert!(serde_json::from_slice::<Value>(&body).is_err());
        assert_eq!(h.sim.requests().last().unwrap().fault, Some("truncated"));
        // Non-JSON answers are never corrupted.
        assert_eq!(h.get("/rest/api/3/issue/NOPE-1").await.status(), 404);

        h.sim.set_faults(Faults {
            rate_garbled: 1.0,
            ..Faults::default()
        });
        let r = h.get("/rest/api/3/issue/SUP-2").await;
        assert_eq!(r.status(), 200);
        assert!(serde_json::from_slice::<Value>(&r.bytes().await.unwrap()).is_err());
        assert_eq!(h.sim.requests().last().unwrap().fault, Some("garbled"));

        h.sim.set_faults(Faults {
            latency_ms: 150,
            ..Faults::default()
        });
        let started = std::time::Instant::now();
        assert_eq!(h.get("/rest/api/3/myself").await.status(), 200);
        assert!(started.elapsed() >= std::time::Duration::from_millis(150));
        h.sim.shutdown().await;
    }

    #[tokio::test]
    async fn same_seed_same_json() {
        let a = H::new(small()).await;
        let b = H::new(small()).await;
        let c = H::new(SimConfig { seed: 7, ..small() }).await;
        let norm = |h: &H, v: Value| -> String { v.to_string().replace(&h.sim.base_url(), "BASE") };
        for p in [
            "/rest/api/3/issue/SUP-10?expand=changelog",
            "/rest/api/3/search/jql?jql=project%3DSUP&fields=*all",
        ] {
            let va = norm(&a, a.get_json(p).await);
            let vb = norm(&b, b.get_json(p).await);
            let vc = norm(&c, c.get_json(p).await);
            assert_eq!(va, vb, "{p}");
            assert_ne!(va, vc, "{p}");
        }
        a.sim.shutdown().await;
        b.sim.shutdown().await;
        c.sim.shutdown().await;
    }

    #[tokio::test]
    async fn fields_remote_links_and_bad_input() {
        let h = H::new(small()).await;
        let f = h.get_json("/rest/api/3/field").await;
        let f = f.as_array().unwrap();
        let by_id = |id: &str| f.iter().find(|x| x["id"] == id).unwrap().clone();
        assert_eq!(
            by_id("customfield_10030")["schema"]["custom"],
            "com.atlassian.servicedesk:sd-sla-field"
        );
        assert_eq!(
            by_id("customfield_10031")["schema"]["type"],
            "sd-servicelevelagreement"
        );
        assert_eq!(f.iter().filter(|x| x["name"] == "Team").count(), 2);
        assert_eq!(
            by_id("summary")["schema"],
            json!({"type": "string", "system": "summary"})
        );
        // Every field an issue carries is described.
        let issue = h.get_json("/rest/api/3/issue/SUP-1").await;
        for k in issue["fields"].as_object().unwrap().keys() {
            assert!(f.iter().any(|x| x["id"] == k.as_str()), "{k} not in /field");
        }

        let mut found = 0;
        for key in h.sim.issue_keys() {
            let links = h
                .get_json(&format!("/rest/api/3/issue/{key}/remotelink"))
                .await;
            let links = links.as_array().unwrap();
            assert!(links.len() <= 2);
            for l in links {
                assert!(l["id"].is_u64());
                assert!(
                    l["self"]
                        .as_str()
                        .unwrap()
                        .contains(&format!("/issue/{key}/remotelink/"))
                );
                assert!(l["object"]["url"].is_string() && l["application"]["name"].is_string());
                found += 1;
            }
        }
        assert!(found > 0);

        for p in [
            "/rest/api/3/search/jql?jql=project%3DSUP&maxResults=-1",
            "/rest/api/3/search/jql?jql=project%3DSUP&maxResults=abc",
            "/rest/api/3/issue/SUP-1/changelog?startAt=x",
            "/rest/servicedeskapi/request/SUP-1/sla?limit=0",
        ] {
            assert_eq!(h.get(p).await.status(), 400, "{p}");
        }
        let (s, _) = h
            .search(&json!({"jql": "project = SUP", "expand": ["changelog"]}))
            .await;
        assert_eq!(s, 400);
        let (s, _) = h.search(&json!({"jql": "project = SUP", "bogus": 1})).await;
        assert_eq!(s, 400);
        let r = h
            .http
            .post(h.url("/rest/api/3/search/jql"))
            .basic_auth(&h.cfg.email, Some(&h.cfg.api_token))
            .body("{not json")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 400);
        assert_eq!(h.get("/rest/api/3/nope").await.status(), 404);
        // Issue links point at live issues with the shape of the v2 capture.
        let mut seen_link = false;
        for key in h.sim.issue_keys() {
            let v = h.sim.issue(&key).unwrap();
            for l in v["fields"]["issuelinks"].as_array().unwrap() {
                let other = l.get("outwardIssue").or(l.get("inwardIssue")).unwrap();
                assert!(other["fields"]["status"]["statusCategory"].is_object());
                assert!(l["type"]["inward"].is_string());
                seen_link = true;
            }
        }
        assert!(seen_link);
        h.sim.shutdown().await;
    }

    /// The raw answer to a search (its body may not be JSON serde_json accepts).
    async fn search_raw(h: &H, body: &Value) -> (u16, Vec<u8>) {
        let r = h
            .http
            .post(h.url("/rest/api/3/search/jql"))
            .basic_auth(&h.cfg.email, Some(&h.cfg.api_token))
            .json(body)
            .send()
            .await
            .unwrap();
        (r.status().as_u16(), r.bytes().await.unwrap().to_vec())
    }

    async fn get_raw(h: &H, p: &str) -> (u16, Vec<u8>) {
        let r = h.get(p).await;
        (r.status().as_u16(), r.bytes().await.unwrap().to_vec())
    }

    fn assert_jira_403(status: u16, body: &[u8], what: &str) {
        assert_eq!(status, 403, "{what}");
        let v: Value = serde_json::from_slice(body).unwrap();
        assert!(v["errorMessages"][0].is_string(), "{what}: {v}");
        assert_eq!(v["errors"], json!({}), "{what}");
    }

    #[tokio::test]
    async fn poisoned_issues_answer_as_documented_and_the_others_do_not() {
        let p = |issue, kind| Poison { issue, kind };
        let h = H::new(SimConfig {
            poison: vec![
                p(2, PoisonKind::DeepDescription { depth: 5_000 }),
                p(3, PoisonKind::ForbiddenAttachment),
                p(4, PoisonKind::LongAttachmentId { len: 200 }),
                p(
                    5,
                    PoisonKind::Forbidden {
                        part: Part::RemoteLinks,
                    },
                ),
                p(
                    6,
                    PoisonKind::Forbidden {
                        part: Part::Comments,
                    },
                ),
                p(
                    7,
                    PoisonKind::Forbidden {
                        part: Part::Changelog,
                    },
                ),
                p(8, PoisonKind::Forbidden { part: Part::Issue }),
                p(9, PoisonKind::LoneSurrogate),
            ],
            ..small()
        })
        .await;
        let poisoned = [
            "SUP-3", "SUP-4", "SUP-5", "SUP-6", "SUP-7", "SUP-8", "SUP-9", "SUP-10",
        ];

        // DeepDescription: the same deep document in GET, search and the truth, with the bottom
        // text 5,000 lists down; far beyond serde_json's default limit.
        let truth = h.sim.issue("SUP-3").unwrap();
        let expected = crate::json::to_vec(&truth["fields"]["description"]).unwrap();
        crate::json::drop_deep(truth);
        let (status, body) = get_raw(&h, "/rest/api/3/issue/SUP-3").await;
        assert_eq!(status, 200);
        assert!(
            serde_json::from_slice::<Value>(&body).is_err(),
            "deeper than 128"
        );
        let v = crate::json::from_slice(&body).unwrap();
        let description = &v["fields"]["description"];
        assert!(crate::json::to_vec(description).unwrap() == expected);
        assert!(crate::json::depth(description) > 4 * 5_000);
        let mut node = &description["content"][0];
        for _ in 0..5_000 {
            assert_eq!(node["type"], "bulletList");
            node = &node["content"][0]["content"][0];
        }
        assert_eq!(node["content"][0]["text"], deep_bottom_text("SUP-3"));
        crate::json::drop_deep(v);
        let (status, body) = search_raw(
            &h,
            &json!({"jql": "project = SUP", "fields": ["*all"], "maxResults": 100}),
        )
        .await;
        assert_eq!(status, 200);
        let page = crate::json::from_slice(&body);
        // The page also holds SUP-10's broken summary.
        assert!(page.is_err());
        let (_, body) = search_raw(
            &h,
            &json!({"jql": "key = SUP-3", "fields": ["description"]}),
        )
        .await;
        let page = crate::json::from_slice(&body).unwrap();
        let listed = &page["issues"][0]["fields"]["description"];
        assert!(crate::json::to_vec(listed).unwrap() == expected);
        crate::json::drop_deep(page);

        // ForbiddenAttachment: an ordinary-looking attachment whose content answers 403.
        let v = h
            .get_json("/rest/api/3/issue/SUP-4?fields=attachment")
            .await;
        let restricted = v["fields"]["attachment"]
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["filename"] == "restricted.pdf")
            .unwrap()
            .clone();
        assert_eq!(restricted["size"], 2048);
        let id = restricted["id"].as_str().unwrap();
        assert!(id.parse::<u64>().is_ok());
        let (status, body) = get_raw(&h, &format!("/rest/api/3/attachment/content/{id}")).await;
        assert_jira_403(status, &body, "restricted attachment");
        let (status, _) = get_raw(
            &h,
            &format!("/rest/api/3/attachment/content/{id}?redirect=false"),
        )
        .await;
        assert_eq!(status, 403);

        // LongAttachmentId: 200 digits; its content is 404.
        let v = h
            .get_json("/rest/api/3/issue/SUP-5?fields=attachment")
            .await;
        let long = v["fields"]["attachment"]
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["filename"] == "long-id.txt")
            .unwrap()
            .clone();
        let id = long["id"].as_str().unwrap();
        assert_eq!(id.len(), 200);
        assert!(id.bytes().all(|b| b.is_ascii_digit()));
        assert!(long["content"].as_str().unwrap().ends_with(id));
        let (status, _) = get_raw(&h, &format!("/rest/api/3/attachment/content/{id}")).await;
        assert_eq!(status, 404);

        // Forbidden parts: 403 there, the rest of the issue as usual.
        for (key, path) in [
            ("SUP-6", "/remotelink"),
            ("SUP-7", "/comment"),
            ("SUP-8", "/changelog"),
            ("SUP-9", ""),
        ] {
            let (status, body) = get_raw(&h, &format!("/rest/api/3/issue/{key}{path}")).await;
            assert_jira_403(status, &body, &format!("{key}{path}"));
            for other in ["", "/remotelink", "/comment", "/changelog"] {
                if other != path {
                    let (status, _) = get_raw(&h, &format!("/rest/api/3/issue/{key}{other}")).await;
                    assert_eq!(status, 200, "{key}{other}");
                }
            }
        }
        // The closed pages hold more than a search page embeds, so a mirror must ask for them.
        let v = h.get_json("/rest/api/3/issue/SUP-7?fields=comment").await;
        let comment = &v["fields"]["comment"];
        assert!(
            comment["total"].as_u64().unwrap()
                > comment["comments"].as_array().unwrap().len() as u64
        );
        let v = h.get_json("/rest/api/3/issue/SUP-8?expand=changelog").await;
        let changelog = &v["changelog"];
        assert!(
            changelog["total"].as_u64().unwrap()
                > changelog["histories"].as_array().unwrap().len() as u64
        );
        // An issue closed to GET is still listed by search.
        let (status, v) = h
            .search(&json!({"jql": "key = SUP-9", "fields": ["*all"], "expand": "changelog"}))
            .await;
        assert_eq!(status, 200);
        assert_eq!(keys(&v), ["SUP-9"]);

        // LoneSurrogate: `\ud83d` on the wire wherever the summary goes, the marker in process.
        let summary = h.sim.issue("SUP-10").unwrap()["fields"]["summary"].clone();
        assert!(summary.as_str().unwrap().contains(LONE_SURROGATE_MARKER));
        let (status, body) = get_raw(&h, "/rest/api/3/issue/SUP-10").await;
        assert_eq!(status, 200);
        assert!(memchr::memmem::find(&body, br#" \ud83d"#).is_some());
        assert!(serde_json::from_slice::<Value>(&body).is_err());
        assert!(crate::json::from_slice(&body).is_err());
        let (_, body) =
            search_raw(&h, &json!({"jql": "key = SUP-10", "fields": ["summary"]})).await;
        assert!(crate::json::from_slice(&body).is_err());
        let light =
            json!({"jql": "project = SUP", "fields": ["id", "key", "updated"], "maxResults": 5000});
        let (status, v) = h.search(&light).await;
        assert_eq!(status, 200);
        assert_eq!(keys(&v).len(), 40);

        // Every other issue: all of it parses with serde_json's defaults, search pages too.
        let others: Vec<String> = h
            .sim
            .issue_keys()
            .into_iter()
            .filter(|k| !poisoned.contains(&k.as_str()))
            .collect();
        for key in &others {
            for path in ["?expand=changelog", "/remotelink", "/comment", "/changelog"] {
                let (status, body) = get_raw(&h, &format!("/rest/api/3/issue/{key}{path}")).await;
                assert_eq!(status, 200, "{key}{path}");
                assert!(
                    serde_json::from_slice::<Value>(&body).is_ok(),
                    "{key}{path}"
                );
            }
        }
        let (status, v) = h
            .search(&json!({
                "jql": format!("key in ({})", others.join(", ")),
                "fields": ["*all"], "expand": "changelog", "maxResults": 100,
            }))
            .await;
        assert_eq!(status, 200);
        assert_eq!(keys(&v).len(), others.len());
        // Other attachments download as usual.
        let v = h
            .get_json("/rest/api/3/issue/SUP-1?fields=attachment")
            .await;
        let id = v["fields"]["attachment"][0]["id"]
            .as_str()
            .unwrap()
            .to_string();
        let (status, _) = get_raw(&h, &format!("/rest/api/3/attachment/content/{id}")).await;
        assert_eq!(status, 303);
        h.sim.shutdown().await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn serves_concurrently_on_a_multi_thread_runtime() {
        let h = H::new(small()).await;
        let mut tasks = Vec::new();
        for i in 1..=40 {
            let http = h.http.clone();
            let url = h.url(&format!("/rest/api/3/issue/SUP-{i}?fields=summary"));
            let (u, p) = (h.cfg.email.clone(), h.cfg.api_token.clone());
            tasks.push(tokio::spawn(async move {
                http.get(url)
                    .basic_auth(u, Some(p))
                    .send()
                    .await
                    .map(|r| r.status())
            }));
        }
        for t in tasks {
            assert_eq!(t.await.unwrap().unwrap(), 200);
        }
        let seqs: Vec<u64> = h.sim.requests().iter().map(|r| r.seq).collect();
        assert_eq!(seqs, (0..40).collect::<Vec<_>>());
        h.sim.shutdown().await;
    }

    #[tokio::test]
    async fn id_census_short_pages_broken_tokens_hidden_issues_and_sla_clocks() {
        let h = H::new(small()).await;
        // `fields` defaults to `id`; id-only pages go up to 5000.
        let (s, v) = h
            .search(&json!({"jql": "project = SUP", "maxResults": 5000}))
            .await;
        assert_eq!(s, 200);
        assert_eq!(v["issues"].as_array().unwrap().len(), 40);
        assert_eq!(v["issues"][0]["fields"], json!({}));
        assert!(v["issues"][0]["id"].is_string());
        let (_, v) = h
            .search(&json!({"jql": "project = SUP", "maxResults": 5000, "fields": ["*all"]}))
            .await;
        assert_eq!(v["issues"].as_array().unwrap().len(), 40, "40 < 100");

        // Short pages: the token must be followed.
        h.sim.set_faults(Faults {
            search_page_cap: Some(15),
            ..Faults::default()
        });
        let (_, p1) = h
            .search(&json!({"jql": "project = SUP", "maxResults": 5000, "fields": ["id"]}))
            .await;
        assert_eq!(p1["issues"].as_array().unwrap().len(), 15);
        let token = p1["nextPageToken"].as_str().unwrap().to_string();
        let body = json!({"jql": "project = SUP", "maxResults": 5000, "fields": ["id"], "nextPageToken": token});
        let (s, p2) = h.search(&body).await;
        assert_eq!((s, p2["issues"].as_array().unwrap().len()), (200, 15));
        h.sim.set_faults(Faults {
            search_page_cap: Some(15),
            broken_search_tokens: true,
            ..Faults::default()
        });
        assert_eq!(h.search(&body).await.0, 500);
        h.sim.set_faults(Faults::default());

        // Hidden from search, still found by GET.
        assert!(h.sim.set_searchable("SUP-5", false));
        assert!(
            !h.search_keys("project = SUP")
                .await
                .contains(&"SUP-5".to_string())
        );
        assert_eq!(h.get("/rest/api/3/issue/SUP-5").await.status(), 200);
        assert!(h.sim.set_searchable("SUP-5", true));
        assert!(
            h.search_keys("project = SUP")
                .await
                .contains(&"SUP-5".to_string())
        );
        assert!(!h.sim.set_searchable("NOPE-1", false));

        // SLA clocks run without `updated`; a resolution stops them and bumps `updated`.
        let open = h
            .sim
            .issue_keys()
            .into_iter()
            .find(|k| {
                let v = h.sim.issue(k).unwrap();
                v["fields"]["status"]["statusCategory"]["key"] != "done"
                    && !v["fields"]["customfield_10031"].is_null()
                    && v["fields"]["customfield_10031"]["ongoingCycle"].is_object()
            })
            .expect("an open service request");
        let sla_path = format!("/rest/servicedeskapi/request/{open}/sla");
        let sla = |v: &Value| {
            v["values"][1]["ongoingCycle"]["elapsedTime"]["millis"]
                .as_i64()
                .unwrap()
        };
        let get_sla = || async {
            let r = h
                .http
                .get(h.url(&sla_path))
                .basic_auth(&h.cfg.sla_email, Some(&h.cfg.sla_api_token))
                .send()
                .await
                .unwrap();
            r.json::<Value>().await.unwrap()
        };
        let before = get_sla().await;
        let updated = h.sim.issue(&open).unwrap()["fields"]["updated"].clone();
        assert!(h.sim.advance_sla(&open, 60_000));
        let after = get_sla().await;
        assert_eq!(sla(&after), sla(&before) + 60_000);
        assert_eq!(h.sim.issue(&open).unwrap()["fields"]["updated"], updated);
        let t = h.sim.resolve_issue(&open);
        assert!(t > 0);
        let v = h.sim.issue(&open).unwrap();
        assert_eq!(v["fields"]["status"]["statusCategory"]["key"], "done");
        assert!(!v["fields"]["resolution"].is_null());
        assert_ne!(v["fields"]["updated"], updated);
        let done = get_sla().await;
        assert!(done["values"][1].get("ongoingCycle").is_none());
        assert_eq!(h.sim.resolve_issue("NOPE-1"), 0);
        h.sim.shutdown().await;
    }
}
