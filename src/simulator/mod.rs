//! A built-in Jira Cloud (or Data Center) simulator on 127.0.0.1, for tests and the `demo`
//! command.
//!
//! Why it exists: the mirror's hard problems — paging by `nextPageToken`, the ~100 cap on
//! embedded changelog and comments, epoch-ms sweep bounds, SLA overlays from a second account,
//! attachment downloads through a 303 to a foreign host, moved and deleted issues, and a site that
//! rate-limits, fails and corrupts bodies — only show against something that behaves like Jira.
//! A real site is neither reproducible nor available in CI, so this module serves one:
//!
//! - `data/` generates a deterministic site from [`SimConfig::seed`]: issues shaped like the
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
//! - `GET /rest/api/2/serverInfo` and `/rest/api/3/serverInfo` answer without credentials
//!   (`deploymentType: "Cloud"`, `version: "1001.0.0-SNAPSHOT"`).
//!
//! # Data Center mode
//!
//! With [`SimConfig::deployment`] = [`SimDeployment::DataCenter`] the same data is served as
//! Jira Data Center 9.12 serves it (everything else above holds unless said here):
//! - Auth: the main account with `Authorization: Bearer <api_token>` (a personal access
//!   token) or basic auth (`email` as user name, `api_token` as password); the JSM account
//!   likewise with `sla_api_token`. [`RequestRecord::user`] is the account's e-mail either
//!   way.
//! - Routes, all v2: `/rest/api/2/{myself, serverInfo (no auth), field, search (GET and
//!   POST), issue/{key}, issue/{key}/{changelog, comment, worklog, remotelink}, project,
//!   user/search, status, priority}`, `/secure/attachment/{id}/{filename}` and
//!   `/rest/servicedeskapi/request/{key}/sla`. Every `/rest/api/3/…` path and both
//!   `/search/jql` answer 404.
//! - `/search` pages by `startAt` (default 0) and `maxResults` (default 50; the Cloud caps of
//!   100 and 5000 and [`Faults::search_page_cap`] apply) and answers `{expand, startAt,
//!   maxResults, total, issues}`; `maxResults` is the page size granted before the fault
//!   cap, so a client must advance by the issues it got. `fields` (array or comma string)
//!   defaults to every navigable field; `expand` may be an array or a string in both forms.
//!   No `nextPageToken`, no `reconcileIssues` (hidden issues stay hidden).
//! - JQL date bounds are date strings (`"yyyy/MM/dd HH:mm"`, `"yyyy-MM-dd HH:mm"`,
//!   `"yyyy/MM/dd"`, `"yyyy-MM-dd"`) read in [`SimConfig::time_zone`] at minute precision; in
//!   a DST gap or fold the offset before the transition applies (Java's rule). An epoch-ms
//!   number is a 400.
//! - Representation: API v2. Rich text (description, environment, comment bodies, worklog
//!   comments, the textarea custom field) is wiki markup (`data/wiki.rs`); a
//!   `DeepDescription` becomes one line of `depth` `*` and its bottom text. `self` URLs say
//!   `/rest/api/2/`. Users have `name`, `key` (`JIRAUSER10100`…; the API accounts are
//!   `JIRAUSER10000`/`10001` with their e-mail as `name`), `emailAddress`, `displayName`,
//!   `active`, `timeZone`, `self: …/rest/api/2/user?username=<name>` and no `accountId`;
//!   assignee changes in the changelog name users in `from`/`to`. Comments have no
//!   `jsdPublic`. Attachment `content` is `{base}/secure/attachment/{id}/{filename}` with the
//!   name percent-encoded; that URL streams the bytes from the API listener itself (auth
//!   required, any file name or none accepted, poisons and [`Faults::slow_attachment`]
//!   apply; [`Faults::attachments_to_login`] makes it answer 302 to `/login.jsp`). The media
//!   host is unused.
//! - Timestamps are rendered in [`SimConfig::time_zone`] with the offset of each instant
//!   (`2026-07-01T12:00:00.000+0200` in Europe/Berlin, `+0100` in winter).
//! - `/project` and `/priority` are plain arrays; `/user/search` needs `username` (`.`
//!   matches everyone, else a prefix of the name, e-mail or a display-name word), pages by
//!   `startAt`/`maxResults` (50, at most 1000) and lists inactive users only with
//!   `includeInactive=true`.
//! - [`Simulator::issue`] returns the same v2 representation.
//!
//! # OAuth 2.0 (3LO) mode
//!
//! With [`SimConfig::oauth`] set (Cloud only) the API listener is also Atlassian's
//! authorization server and API gateway, beside the site (basic auth keeps working there):
//! - `POST /oauth/token` (JSON or form body): `authorization_code` (`client_id`,
//!   `client_secret`, `code`, `redirect_uri`; codes come from [`Simulator::oauth_consent`]
//!   and work once, for their `redirect_uri`) and `refresh_token` (`client_id`,
//!   `client_secret`, `refresh_token`) grants answer `{access_token, refresh_token,
//!   expires_in, scope, token_type: "Bearer"}` with random opaque tokens. Refresh tokens
//!   rotate: each works once (again: 403 `unauthorized_client` "refresh_token is invalid");
//!   an old access token works until it expires. A wrong client id or secret is a 401
//!   `access_denied`, a bad code a 403 `invalid_grant`.
//! - `GET /oauth/token/accessible-resources` (Bearer access token): the one site, `[{id:
//!   cloud_id, url: base_url, name: "sim", scopes, avatarUrl}]`.
//! - `/ex/jira/{cloud_id}/rest/…` ([`Simulator::gateway_base_url`]) serves every Cloud
//!   route (API v3, JSM, attachment content with its 303 to the media host) for a valid,
//!   unexpired Bearer access token, as the consenting (main) account; anything else (no
//!   token, an unknown or expired one, basic auth) is a 401 `{"code":401,"message":
//!   "Unauthorized"}`, another cloud id a 404. Bodies keep the site's URLs. Access tokens
//!   live [`SimOAuth::access_token_ttl`]; [`Simulator::expire_access_tokens`] ends them all.
//! - With [`SimOAuth::quota`] every gateway answer carries `X-RateLimit-Limit`,
//!   `X-RateLimit-Remaining`, `X-RateLimit-Reset` (`yyyy-MM-ddTHH:mmZ`, UTC) and, under 20%
//!   left, `X-RateLimit-NearLimit: true`, over an hourly window that starts with its first
//!   request; past the quota a 429 with `Retry-After` (seconds to the reset) and
//!   `RateLimit-Reason: jira-quota-tenant-based`. Only authenticated gateway requests count.
//! - `/oauth/…` requests are recorded (secrets redacted) but get no injected faults; gateway
//!   requests get them as the site's do.
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
mod oauth;
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
    /// Offset used to render Jira timestamps in [`SimDeployment::Cloud`] mode; default -300
    /// (`-0500`) so time-zone bugs show. Data Center renders in [`SimConfig::time_zone`].
    pub time_zone_offset_minutes: i32,
    /// Which Jira the site is: Cloud (default) or Data Center 9.x (see the [module
    /// docs](self)).
    pub deployment: SimDeployment,
    /// IANA name of the main API account's time zone (`timeZone` of `/myself`). Data Center
    /// renders every timestamp in it, with the offset valid at each instant (DST included),
    /// and reads JQL dates in it. Default `America/New_York` (the default offset, `-0500`, in
    /// winter). An unknown name makes [`Simulator::start`] fail in Data Center mode.
    pub time_zone: String,
    /// OAuth 2.0 (3LO) on a Cloud site: when set the API listener is also Atlassian's
    /// authorization server (`/oauth/token`, `/oauth/token/accessible-resources`) and API
    /// gateway (`/ex/jira/{cloud_id}/rest/…`). Default `None`. Not with Data Center.
    pub oauth: Option<SimOAuth>,
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
            deployment: SimDeployment::Cloud,
            time_zone: "America/New_York".to_string(),
            oauth: None,
            hostile_attachments: true,
            max_histories: 20,
            max_comments: 8,
            poison: Vec::new(),
            software_projects: Vec::new(),
        }
    }
}

/// The OAuth 2.0 (3LO) app and site of [`SimConfig::oauth`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SimOAuth {
    /// The app's client id. Default `sim-client-id`.
    pub client_id: String,
    /// The app's client secret. Default `sim-client-secret`.
    pub client_secret: String,
    /// The site's cloud id (the gateway prefix `/ex/jira/{cloud_id}`). Default
    /// `5f3c8d2e-9b1a-4c7e-8f60-2d4b6a8c0e13`.
    pub cloud_id: String,
    /// How long an access token works (`expires_in`). Default one hour.
    pub access_token_ttl: Duration,
    /// Gateway requests allowed per hour (then 429); `None` (default): no limit and no
    /// rate-limit headers.
    pub quota: Option<u32>,
}

impl Default for SimOAuth {
    fn default() -> Self {
        SimOAuth {
            client_id: "sim-client-id".to_string(),
            client_secret: "sim-client-secret".to_string(),
            cloud_id: "5f3c8d2e-9b1a-4c7e-8f60-2d4b6a8c0e13".to_string(),
            access_token_ttl: Duration::from_secs(3600),
            quota: None,
        }
    }
}

/// Which Jira product the simulator plays.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum SimDeployment {
    /// Jira Cloud: REST API v3 (ADF), `/search/jql` with `nextPageToken`, basic auth with
    /// an API token, attachments through a 303 to the media host.
    #[default]
    Cloud,
    /// Jira Data Center 9.x: REST API v2 only (wiki markup), `/search` paged by `startAt`,
    /// personal access tokens (Bearer) or basic auth, attachments under `/secure/attachment/`,
    /// no account ids, timestamps and JQL dates in [`SimConfig::time_zone`].
    DataCenter,
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
    /// Data Center only: `/secure/attachment/…` answers `302` to `/login.jsp` (an HTML
    /// page), as a site does whose single sign-on or proxy lets the credentials reach the
    /// REST API but not attachments.
    pub attachments_to_login: bool,
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
    /// Request body as text (POST search), `""` otherwise. The secrets of a `/oauth/token`
    /// request (`client_secret`, `code`, `refresh_token`) read `<redacted>`.
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
    /// was injected (never on `/oauth/…`, which is Atlassian's, not the site's). A 429 of
    /// the OAuth gateway's quota is no fault (`None`).
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
struct State {
    cfg: SimConfig,
    store: Store,
    faults: Faults,
    fault_rng: ChaCha8Rng,
    requests: Vec<RequestRecord>,
    next_seq: u64,
    /// Codes, tokens and quota of [`SimConfig::oauth`].
    oauth: oauth::OAuthState,
}

/// What the listeners and the [`Simulator`] handle share.
struct Shared {
    state: Mutex<State>,
    media_base_url: String,
}

impl Shared {
    /// Locks the state; a panic in another holder does not poison the simulator.
    fn lock(&self) -> MutexGuard<'_, State> {
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
    ///
    /// Fails with [`std::io::ErrorKind::InvalidInput`] on a Data Center site whose
    /// [`SimConfig::time_zone`] is no IANA zone name, or that has [`SimConfig::oauth`].
    pub async fn start(cfg: SimConfig) -> std::io::Result<Simulator> {
        if cfg.deployment == SimDeployment::DataCenter
            && cfg.time_zone.parse::<chrono_tz::Tz>().is_err()
        {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                format!("unknown time zone {:?}", cfg.time_zone),
            ));
        }
        if cfg.deployment == SimDeployment::DataCenter && cfg.oauth.is_some() {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                "OAuth 2.0 (3LO) is simulated for Cloud sites only",
            ));
        }
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
            oauth: oauth::OAuthState::default(),
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

    /// `{base_url}/ex/jira/{cloud_id}`, the API gateway's root for this site, when
    /// [`SimConfig::oauth`] is set: `…/rest/api/3/myself` under it is the site's `/myself`.
    pub fn gateway_base_url(&self) -> Option<String> {
        let st = self.shared.lock();
        let o = st.cfg.oauth.as_ref()?;
        Some(format!("{}/ex/jira/{}", self.base_url, o.cloud_id))
    }

    /// A new authorization code for `redirect_uri`, as Atlassian hands one to the app when
    /// the user approves it in a browser: `POST /oauth/token` exchanges it once, with that
    /// `redirect_uri`.
    pub fn oauth_consent(&self, redirect_uri: &str) -> String {
        self.shared.lock().oauth.consent(redirect_uri)
    }

    /// Expires every access token issued so far: the gateway answers them 401 from now on
    /// (refresh tokens keep working).
    pub fn expire_access_tokens(&self) {
        self.shared.lock().oauth.expire_all();
    }

    /// How many `POST /oauth/token` requests arrived (code exchanges and refreshes).
    pub fn oauth_token_requests(&self) -> usize {
        self.shared
            .lock()
            .requests
            .iter()
            .filter(|r| r.path == "/oauth/token" && r.method == "POST")
            .count()
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
mod tests;
