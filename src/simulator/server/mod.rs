//! The simulator's HTTP side: axum routes for the API listener and the attachment media host.
//!
//! One middleware (`gate`) wraps every route of both listeners. It records the request, checks
//! the credentials (API host only: basic auth, on Data Center also a Bearer personal access
//! token; a failure is a plain 401 that never carries `Retry-After`), then applies the fault
//! decided for this request (see `faults.rs`) around the real handler. The routes are
//! Cloud's or Data Center's (`dc.rs`), as [`SimConfig::deployment`](super::SimConfig) says.
//! Handlers take the state lock only to compute their JSON; serialisation and every await happen
//! outside it.
//!
//! Query parameters are parsed by hand so that bad input yields Jira-style JSON 400 answers
//! (`{"errorMessages":[…],"errors":{}}`) rather than a framework rejection.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Instant;

use axum::Router;
use axum::body::{Body, Bytes, to_bytes};
use axum::extract::{Path, RawQuery, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use super::data::{self, ChangelogMode, EMBED_CAP, FieldSel};
use super::{
    LONE_SURROGATE_MARKER, Part, RequestRecord, Shared, SimDeployment, SlowAttachment,
    State as SimState, faults, jql,
};
use crate::json;

mod dc;
mod oauth;

/// Largest request body accepted (search bodies are tiny).
const MAX_BODY: usize = 1024 * 1024;
/// Chunk size of streamed attachment bodies.
const CHUNK: u64 = 64 * 1024;
/// Record cap: beyond this the oldest half is dropped (long `demo` runs).
const MAX_RECORDS: usize = 200_000;

/// Router state: the shared simulator plus which listener this is.
#[derive(Clone)]
struct Ctx {
    /// The simulator.
    shared: Arc<Shared>,
    /// `"api"` or `"media"`.
    host: &'static str,
}

/// The authenticated account's e-mail, put into request extensions by `gate`.
#[derive(Clone, Debug)]
struct AuthUser(String);

/// Routes of the API listener: Cloud's or Data Center's, as the configuration says, behind
/// `gate`. The gate wraps the whole router (the routes are its fallback service), so it runs
/// before routing and sees every request, known path or not.
pub(super) fn api_router(shared: Arc<Shared>) -> Router {
    let (deployment, with_oauth) = {
        let st = shared.lock();
        (st.cfg.deployment, st.cfg.oauth.is_some())
    };
    let ctx = Ctx {
        shared,
        host: "api",
    };
    let routes = match deployment {
        SimDeployment::Cloud if with_oauth => cloud_routes().merge(oauth::routes()),
        SimDeployment::Cloud => cloud_routes(),
        SimDeployment::DataCenter => dc::routes(),
    };
    let routes = routes.fallback(not_found_route).with_state(ctx.clone());
    Router::new()
        .fallback_service(routes)
        .layer(middleware::from_fn_with_state(ctx.clone(), gate))
        .with_state(ctx)
}

/// The Cloud site: REST API v3, JSM, attachment content (303 to the media host).
fn cloud_routes() -> Router<Ctx> {
    Router::new()
        .route("/rest/api/3/myself", get(myself))
        .route("/rest/api/2/serverInfo", get(server_info))
        .route("/rest/api/3/serverInfo", get(server_info))
        .route("/rest/api/3/field", get(fields))
        .route("/rest/api/3/search/jql", get(search_get).post(search_post))
        .route("/rest/api/3/issue/{key}", get(issue_get))
        .route("/rest/api/3/issue/{key}/changelog", get(changelog_page))
        .route("/rest/api/3/issue/{key}/comment", get(comment_page))
        .route("/rest/api/3/issue/{key}/worklog", get(worklog_page))
        .route("/rest/api/3/project/search", get(project_search))
        .route("/rest/api/3/users/search", get(users_search))
        .route("/rest/api/3/status", get(statuses))
        .route("/rest/api/3/priority/search", get(priority_search))
        .route("/rest/api/3/issue/{key}/remotelink", get(remote_links))
        .route(
            "/rest/api/3/attachment/content/{id}",
            get(attachment_content),
        )
        .route("/rest/servicedeskapi/request/{key}/sla", get(sla))
}

/// Routes of the media host (attachment bytes; no auth).
pub(super) fn media_router(shared: Arc<Shared>) -> Router {
    let ctx = Ctx {
        shared,
        host: "media",
    };
    Router::new()
        .route("/file/{id}", get(media_file))
        .fallback(not_found_route)
        .layer(middleware::from_fn_with_state(ctx.clone(), gate))
        .with_state(ctx)
}

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

/// A JSON answer. The value is serialised and then dropped stack-safely (a
/// [`PoisonKind::DeepDescription`](super::PoisonKind) makes it deep), and every
/// [`LONE_SURROGATE_MARKER`] becomes the unpaired surrogate escape `\ud83d` it stands for.
fn json_response(status: StatusCode, v: Value) -> Response {
    let body = json::to_vec(&v).unwrap_or_default();
    json::drop_deep(v);
    let body = unpair_surrogates(body);
    (
        status,
        [(header::CONTENT_TYPE, "application/json;charset=UTF-8")],
        body,
    )
        .into_response()
}

/// Replaces the UTF-8 of [`LONE_SURROGATE_MARKER`] with `\ud83d` (valid JSON syntax that
/// serde_json refuses, as it refuses real Jira bodies with an emoji cut in half).
fn unpair_surrogates(body: Vec<u8>) -> Vec<u8> {
    let mut utf8 = [0u8; 4];
    let marker = LONE_SURROGATE_MARKER.encode_utf8(&mut utf8).as_bytes();
    let mut hits = memchr::memmem::find_iter(&body, marker).peekable();
    if hits.peek().is_none() {
        return body;
    }
    let mut out = Vec::with_capacity(body.len() + 8);
    let mut from = 0;
    for at in hits {
        out.extend_from_slice(&body[from..at]);
        out.extend_from_slice(br"\ud83d");
        from = at + marker.len();
    }
    out.extend_from_slice(&body[from..]);
    out
}

fn error(status: StatusCode, msg: impl Into<String>) -> Response {
    json_response(status, json!({"errorMessages": [msg.into()], "errors": {}}))
}

/// 403 for a part of an issue closed by [`PoisonKind::Forbidden`](super::PoisonKind).
fn forbidden_issue() -> Response {
    error(
        StatusCode::FORBIDDEN,
        "You do not have the permission to see the specified issue.",
    )
}

fn bad_request(msg: impl Into<String>) -> Response {
    error(StatusCode::BAD_REQUEST, msg)
}

fn issue_not_found() -> Response {
    error(
        StatusCode::NOT_FOUND,
        "Issue does not exist or you do not have permission to see it.",
    )
}

fn unauthorized() -> Response {
    error(
        StatusCode::UNAUTHORIZED,
        "Client must be authenticated to access this resource.",
    )
}

async fn not_found_route(req: Request) -> Response {
    error(
        StatusCode::NOT_FOUND,
        format!("null for uri: {}", req.uri()),
    )
}

/// Decoded query string with Jira-style 400s for bad numbers.
struct Params(Vec<(String, String)>);

impl Params {
    fn parse(raw: Option<String>) -> Params {
        Params(
            url::form_urlencoded::parse(raw.unwrap_or_default().as_bytes())
                .into_owned()
                .collect(),
        )
    }

    fn get(&self, k: &str) -> Option<&str> {
        self.0.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str())
    }

    /// All values of `k`, each split on commas (`fields=a,b&fields=c`).
    fn list(&self, k: &str) -> Vec<String> {
        self.0
            .iter()
            .filter(|(n, _)| n == k)
            .flat_map(|(_, v)| v.split(','))
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
            .collect()
    }

    /// Error: the 400 message.
    fn int(&self, k: &str) -> Result<Option<u64>, String> {
        match self.get(k) {
            None => Ok(None),
            Some(v) => v.trim().parse::<u64>().map(Some).map_err(|_| {
                format!("The value '{v}' of parameter '{k}' is not a non-negative integer.")
            }),
        }
    }
}

/// Page of `items[start..start+max]` (clamped).
fn window<T>(items: &[T], start: u64, max: u64) -> &[T] {
    let len = items.len() as u64;
    let s = start.min(len) as usize;
    let e = start.saturating_add(max).min(len) as usize;
    &items[s..e]
}

fn expand_has(items: &[String], what: &str) -> bool {
    items.iter().any(|e| e.trim() == what)
}

// ---------------------------------------------------------------------------------------------
// Gate: record, auth, faults
// ---------------------------------------------------------------------------------------------

/// The credentials a request carries.
enum Credentials {
    /// None (or a scheme the simulator does not know).
    None,
    /// `Basic` user name and password.
    Basic(String, String),
    /// `Bearer` token (a Data Center personal access token, or an OAuth access token).
    Bearer(String),
}

impl Credentials {
    fn of(headers: &HeaderMap) -> Credentials {
        let Some(v) = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
        else {
            return Credentials::None;
        };
        let Some((scheme, rest)) = v.trim().split_once(' ') else {
            return Credentials::None;
        };
        if scheme.eq_ignore_ascii_case("bearer") {
            return Credentials::Bearer(rest.trim().to_string());
        }
        if !scheme.eq_ignore_ascii_case("basic") {
            return Credentials::None;
        }
        let basic = STANDARD
            .decode(rest.trim())
            .ok()
            .and_then(|d| String::from_utf8(d).ok())
            .and_then(|t| {
                let (u, p) = t.split_once(':')?;
                Some((u.to_string(), p.to_string()))
            });
        match basic {
            Some((u, p)) => Credentials::Basic(u, p),
            None => Credentials::None,
        }
    }
}

/// What `gate` decided about a request before running it.
struct Verdict {
    /// The authenticated account's e-mail.
    user: Option<String>,
    /// The answer instead of the handler (401, …): no fault applies to it.
    deny: Option<Response>,
    /// The site path to route instead of the request's (the OAuth gateway's).
    rewrite: Option<String>,
    /// The gateway quota, whose headers the answer carries.
    quota: Option<crate::simulator::oauth::Quota>,
    /// No injected fault (Atlassian's authorization server is not the site).
    no_faults: bool,
}

impl Verdict {
    fn user(user: Option<String>) -> Verdict {
        Verdict {
            user,
            deny: None,
            rewrite: None,
            quota: None,
            no_faults: false,
        }
    }

    fn deny(r: Response) -> Verdict {
        Verdict {
            deny: Some(r),
            ..Verdict::user(None)
        }
    }
}

/// Paths answered without authentication (like Jira's `serverInfo`).
fn is_open(deployment: SimDeployment, path: &str) -> bool {
    match deployment {
        SimDeployment::Cloud => {
            path == "/rest/api/2/serverInfo" || path == "/rest/api/3/serverInfo"
        }
        SimDeployment::DataCenter => path == "/rest/api/2/serverInfo",
    }
}

/// Who a request to the API listener is: the main account (basic auth with its e-mail and
/// API token; on Data Center also its token as a Bearer PAT) or the JSM account (the same
/// with its own, for SLAs and `/myself` only); else a 401 unless the path is open. OAuth
/// paths (token endpoint, gateway) are `oauth.rs`'s to judge.
fn authorize(st: &mut SimState, path: &str, creds: &Credentials) -> Verdict {
    if let Some(v) = oauth::authorize(st, path, creds) {
        return v;
    }
    let cfg = &st.cfg;
    let dc = cfg.deployment == SimDeployment::DataCenter;
    let myself = if dc {
        "/rest/api/2/myself"
    } else {
        "/rest/api/3/myself"
    };
    // The JSM account may read SLAs (and who it is); everything else needs the main one.
    let sla_ok = path.starts_with("/rest/servicedeskapi/") || path == myself;
    let main = Some(cfg.email.clone());
    let sla = sla_ok.then(|| cfg.sla_email.clone());
    let user = match creds {
        Credentials::Basic(u, p) if *u == cfg.email && *p == cfg.api_token => main,
        Credentials::Basic(u, p) if *u == cfg.sla_email && *p == cfg.sla_api_token => sla,
        Credentials::Bearer(t) if dc && *t == cfg.api_token => main,
        Credentials::Bearer(t) if dc && *t == cfg.sla_api_token => sla,
        _ => None,
    };
    if user.is_none() && !is_open(cfg.deployment, path) {
        return Verdict::deny(unauthorized());
    }
    Verdict::user(user)
}

async fn gate(State(ctx): State<Ctx>, req: Request, next: Next) -> Response {
    let at = Instant::now();
    let method = req.method().as_str().to_string();
    let path = req.uri().path().to_string();
    let query = req.uri().query().unwrap_or("").to_string();
    let had_authorization = req.headers().contains_key(header::AUTHORIZATION);
    let creds = Credentials::of(req.headers());
    let (parts, body) = req.into_parts();
    let body_result = to_bytes(body, MAX_BODY).await;

    // Sequence number, fault draw and authentication under one short lock.
    let (seq, decision, verdict) = {
        let mut st = ctx.shared.lock();
        let seq = st.next_seq;
        st.next_seq += 1;
        let faults = st.faults.clone();
        let decision = faults::decide(&mut st.fault_rng, &faults);
        let verdict = if ctx.host == "api" {
            authorize(&mut st, &path, &creds)
        } else {
            Verdict::user(None)
        };
        (seq, decision, verdict)
    };
    let user = verdict.user;
    let decision = if verdict.no_faults {
        faults::Decision::none()
    } else {
        decision
    };

    let (mut body_text, req) = match body_result {
        Ok(b) => (
            String::from_utf8_lossy(&b).into_owned(),
            Some(Request::from_parts(parts, Body::from(b))),
        ),
        Err(_) => (String::new(), None),
    };
    if ctx.host == "api" && path == oauth::TOKEN_PATH {
        body_text = oauth::redact(&body_text);
    }

    if !decision.latency.is_zero() {
        tokio::time::sleep(decision.latency).await;
    }

    let (resp, fault): (Response, Option<&'static str>) = match (req, verdict.deny) {
        (None, _) => (
            error(StatusCode::PAYLOAD_TOO_LARGE, "Request body too large."),
            None,
        ),
        (Some(_), Some(deny)) => (deny, None),
        (Some(mut req), None) => match decision.pre {
            Some(pre) => {
                let (r, label) = faults::pre_response(pre);
                (r, Some(label))
            }
            None => {
                if let Some(u) = &user {
                    req.extensions_mut().insert(AuthUser(u.clone()));
                }
                if let Some(site_path) = &verdict.rewrite {
                    let target = if query.is_empty() {
                        site_path.clone()
                    } else {
                        format!("{site_path}?{query}")
                    };
                    if let Ok(uri) = target.parse() {
                        *req.uri_mut() = uri;
                    }
                }
                let r = next.run(req).await;
                faults::post_process(r, decision.post).await
            }
        },
    };
    let mut resp = resp;
    if let Some(q) = &verdict.quota {
        oauth::add_quota_headers(&mut resp, q);
    }

    let retry_after_secs = resp
        .headers()
        .get(header::RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok());
    let record = RequestRecord {
        seq,
        at,
        answered: Instant::now(),
        method,
        path,
        query,
        body: body_text,
        status: resp.status().as_u16(),
        retry_after_secs,
        user,
        had_authorization,
        fault,
        host: ctx.host,
    };
    {
        let mut st = ctx.shared.lock();
        if st.requests.len() >= MAX_RECORDS {
            st.requests.drain(..MAX_RECORDS / 2);
        }
        st.requests.push(record);
    }
    resp
}

// ---------------------------------------------------------------------------------------------
// Platform API
// ---------------------------------------------------------------------------------------------

async fn myself(State(ctx): State<Ctx>, req: Request) -> Response {
    let who = req
        .extensions()
        .get::<AuthUser>()
        .map(|u| u.0.clone())
        .unwrap_or_default();
    let mut v = {
        let st = ctx.shared.lock();
        if who == st.cfg.email {
            st.store.mirror_user.clone()
        } else {
            st.store.sla_user.clone()
        }
    };
    // Data Center's `/myself` says more than an embedded user.
    if ctx.shared.lock().store.dc()
        && let Some(o) = v.as_object_mut()
    {
        o.insert("locale".into(), json!("en_US"));
        o.insert("deleted".into(), json!(false));
        o.insert(
            "groups".into(),
            json!({"size": 2, "items": [{"name": "jira-software-users"}, {"name": "jira-servicedesk-users"}]}),
        );
        o.insert("applicationRoles".into(), json!({"size": 2, "items": []}));
        o.insert("expand".into(), json!("groups,applicationRoles"));
    }
    json_response(StatusCode::OK, v)
}

/// `GET /rest/api/{2,3}/serverInfo` (no authentication needed): Cloud's or Data Center
/// 9.12.4's.
async fn server_info(State(ctx): State<Ctx>) -> Response {
    let v = {
        let st = ctx.shared.lock();
        let base = &st.store.base;
        let now = st.store.jira_time(data::now_ms());
        if st.store.dc() {
            json!({
                "baseUrl": base,
                "version": "9.12.4",
                "versionNumbers": [9, 12, 4],
                "deploymentType": "DataCenter",
                "buildNumber": 9_120_004,
                "buildDate": "2024-02-28T00:00:00.000+0000",
                "databaseBuildNumber": 9_120_004,
                "serverTime": now,
                "scmInfo": "4c1bd9b4d7bd30d1d0fd3d5c2aac5d6f1f6a6e2b",
                "serverTitle": "Jira",
            })
        } else {
            json!({
                "baseUrl": base,
                "displayUrl": base,
                "version": "1001.0.0-SNAPSHOT",
                "versionNumbers": [1001, 0, 0],
                "deploymentType": "Cloud",
                "buildNumber": 100_250,
                "buildDate": "2025-05-30T00:00:00.000+0000",
                "serverTime": now,
                "scmInfo": "9b5f0c1d2e3a4b5c6d7e8f9a0b1c2d3e4f5a6b7c",
                "serverTitle": "Jira",
                "defaultLocale": {"locale": "en_US"},
                "serverTimeZone": "Etc/UTC",
            })
        }
    };
    json_response(StatusCode::OK, v)
}

async fn fields() -> Response {
    json_response(StatusCode::OK, data::field_catalog())
}

/// A search request from either the GET query or the POST body.
struct SearchReq {
    jql: Option<String>,
    token: Option<String>,
    max_results: Option<u64>,
    fields: Vec<String>,
    expand: Vec<String>,
    /// `reconcileIssues`: ids searched with read-after-write consistency (index lag does not
    /// hide them).
    reconcile: Vec<u64>,
}

async fn search_get(State(ctx): State<Ctx>, RawQuery(q): RawQuery) -> Response {
    let p = Params::parse(q);
    let max_results = match p.int("maxResults") {
        Ok(m) => m,
        Err(m) => return bad_request(m),
    };
    let req = SearchReq {
        jql: p.get("jql").map(str::to_string),
        token: p.get("nextPageToken").map(str::to_string),
        max_results,
        fields: p.list("fields"),
        expand: p.list("expand"),
        reconcile: Vec::new(),
    };
    search(&ctx, req)
}

async fn search_post(State(ctx): State<Ctx>, body: Bytes) -> Response {
    let v = match json::from_slice(&body) {
        Ok(v) => json::DeepValue::new(v),
        Err(e) => {
            return bad_request(format!(
                "Invalid request payload. Refer to the REST API documentation and try again. ({e})"
            ));
        }
    };
    let Some(obj) = v.as_object() else {
        return bad_request("Invalid request payload: expected a JSON object.");
    };
    const KNOWN: &[&str] = &[
        "jql",
        "nextPageToken",
        "maxResults",
        "fields",
        "expand",
        "properties",
        "fieldsByKeys",
        "failFast",
        "reconcileIssues",
    ];
    if let Some(k) = obj.keys().find(|k| !KNOWN.contains(&k.as_str())) {
        return bad_request(format!("Unrecognized field \"{k}\" in the request body."));
    }
    let string_field = |k: &str| -> Result<Option<String>, String> {
        match obj.get(k) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(_) => Err(format!("'{k}' must be a string.")),
        }
    };
    let jql = match string_field("jql") {
        Ok(v) => v,
        Err(m) => return bad_request(m),
    };
    let token = match string_field("nextPageToken") {
        Ok(v) => v,
        Err(m) => return bad_request(m),
    };
    let expand = match string_field("expand") {
        Ok(v) => v
            .map(|s| s.split(',').map(|x| x.trim().to_string()).collect())
            .unwrap_or_default(),
        Err(_) => {
            return bad_request(
                "'expand' must be a comma-separated string on /search/jql (not an array).",
            );
        }
    };
    let max_results = match obj.get("maxResults") {
        None | Some(Value::Null) => None,
        Some(Value::Number(n)) => match n.as_u64() {
            Some(m) => Some(m),
            None => return bad_request("'maxResults' must be a non-negative integer."),
        },
        Some(_) => return bad_request("'maxResults' must be a non-negative integer."),
    };
    let fields = match obj.get("fields") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(a)) => {
            let mut out = Vec::new();
            for f in a {
                match f.as_str() {
                    Some(s) => out.push(s.to_string()),
                    None => return bad_request("'fields' must be an array of strings."),
                }
            }
            out
        }
        Some(_) => return bad_request("'fields' must be an array of strings."),
    };
    let reconcile = match obj.get("reconcileIssues") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(a)) if a.len() <= 50 => match a.iter().map(Value::as_u64).collect() {
            Some(ids) => ids,
            None => return bad_request("'reconcileIssues' must be an array of issue ids."),
        },
        Some(Value::Array(_)) => {
            return bad_request("'reconcileIssues' accepts at most 50 issue ids.");
        }
        Some(_) => return bad_request("'reconcileIssues' must be an array of issue ids."),
    };
    search(
        &ctx,
        SearchReq {
            jql,
            token,
            max_results,
            fields,
            expand,
            reconcile,
        },
    )
}

fn jql_hash(jql: &str) -> String {
    hex::encode(&Sha256::digest(jql.as_bytes())[..8])
}

fn encode_token(offset: usize, hash: &str) -> String {
    URL_SAFE_NO_PAD.encode(format!("o={offset};q={hash}"))
}

/// Error: the 400 message.
fn decode_token(token: &str, hash: &str) -> Result<usize, String> {
    let invalid = || "The provided next page token is invalid or expired.".to_string();
    let raw = URL_SAFE_NO_PAD
        .decode(token.trim())
        .map_err(|_| invalid())?;
    let text = String::from_utf8(raw).map_err(|_| invalid())?;
    let (o, q) = text.split_once(';').ok_or_else(invalid)?;
    let offset = o
        .strip_prefix("o=")
        .and_then(|x| x.parse::<usize>().ok())
        .ok_or_else(invalid)?;
    let q = q.strip_prefix("q=").ok_or_else(invalid)?;
    if q != hash {
        return Err("The provided next page token was issued for a different JQL query.".into());
    }
    Ok(offset)
}

/// The largest page a search answers: 5000 issues when only `id`/`key` are asked for, else
/// 100 (Jira's caps); `maxResults` defaults to 50 and is at least 1.
fn page_size(sel: &FieldSel, changelog: bool, max_results: Option<u64>) -> usize {
    let cap = if sel.only_id_key() && !changelog {
        5000
    } else {
        100
    };
    max_results.unwrap_or(50).clamp(1, cap) as usize
}

/// The issues `query` matches (hidden ones only when `reconcile` names them), sorted: the
/// `max` from `offset` on rendered (fewer under [`Faults::search_page_cap`](super::Faults)),
/// and how many match; or the 400 for an unknown project.
#[allow(clippy::result_large_err)]
fn find_page(
    st: &SimState,
    query: &jql::Query,
    reconcile: &[u64],
    (offset, max): (usize, usize),
    (sel, mode): (&FieldSel, ChangelogMode),
) -> Result<(Vec<Value>, usize), Response> {
    let mut max = max;
    if let Some(limit) = st.faults.search_page_cap {
        max = max.min(limit.max(1));
    }
    if let Some(p) = query.projects().find(|p| !st.store.has_project(p)) {
        return Err(bad_request(format!(
            "The value '{p}' does not exist for the field 'project'."
        )));
    }
    let mut hits: Vec<&data::Issue> = st
        .store
        .issues
        .values()
        .filter(|i| {
            query.matches(*i) && (!st.store.hidden.contains(&i.id) || reconcile.contains(&i.id))
        })
        .collect();
    hits.sort_by(|a, b| query.compare(*a, *b));
    let page: Vec<Value> = hits
        .iter()
        .skip(offset)
        .take(max)
        .map(|i| st.store.render(i, sel, mode, Some(EMBED_CAP)))
        .collect();
    Ok((page, hits.len()))
}

fn search(ctx: &Ctx, req: SearchReq) -> Response {
    let jql_text = req.jql.unwrap_or_default();
    let query = match jql::parse_with(&jql_text, jql::Dates::EpochMs) {
        Ok(q) => q,
        Err(m) => return bad_request(m),
    };
    let hash = jql_hash(&jql_text);
    let offset = match req.token.as_deref() {
        None | Some("") => 0,
        Some(t) => match decode_token(t, &hash) {
            Ok(o) => o,
            Err(m) => return bad_request(m),
        },
    };
    let sel = FieldSel::parse(req.fields.iter().map(String::as_str), false);
    let changelog = expand_has(&req.expand, "changelog");
    let max = page_size(&sel, changelog, req.max_results);
    let mode = if changelog {
        ChangelogMode::Capped
    } else {
        ChangelogMode::None
    };

    let found = {
        let st = ctx.shared.lock();
        if st.faults.broken_search_tokens && offset > 0 {
            return error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "Internal server error (search index).",
            );
        }
        find_page(&st, &query, &req.reconcile, (offset, max), (&sel, mode))
    };
    let (issues, total) = match found {
        Ok(found) => found,
        Err(response) => return response,
    };
    let next_offset = offset + issues.len();
    let is_last = next_offset >= total;
    let mut out = serde_json::Map::new();
    out.insert("issues".into(), Value::Array(issues));
    if !is_last {
        out.insert(
            "nextPageToken".into(),
            Value::String(encode_token(next_offset, &hash)),
        );
    }
    out.insert("isLast".into(), Value::Bool(is_last));
    json_response(StatusCode::OK, Value::Object(out))
}

async fn issue_get(
    State(ctx): State<Ctx>,
    Path(key): Path<String>,
    RawQuery(q): RawQuery,
) -> Response {
    let p = Params::parse(q);
    let field_items = p.list("fields");
    let sel = FieldSel::parse(field_items.iter().map(String::as_str), true);
    let mode = if expand_has(&p.list("expand"), "changelog") {
        ChangelogMode::Capped
    } else {
        ChangelogMode::None
    };
    with_issue_part(&ctx, &key, Part::Issue, |store, issue| {
        store.render(issue, &sel, mode, Some(EMBED_CAP))
    })
}

async fn changelog_page(
    State(ctx): State<Ctx>,
    Path(key): Path<String>,
    RawQuery(q): RawQuery,
) -> Response {
    issue_part_page(
        &ctx,
        &key,
        Part::Changelog,
        (q, 100),
        |store, issue, start, max| {
            let api = store.api_root();
            let values: Vec<Value> = window(&issue.histories, start, max)
                .iter()
                .map(|h| store.history_json(h))
                .collect();
            let total = issue.histories.len() as u64;
            let is_last = start + values.len() as u64 >= total;
            let url = |s: u64| {
                format!(
                    "{api}/issue/{}/changelog?startAt={s}&maxResults={max}",
                    issue.key
                )
            };
            let mut v = json!({
                "self": url(start),
                "maxResults": max,
                "startAt": start,
                "total": total,
                "isLast": is_last,
                "values": values,
            });
            if !is_last && let Some(o) = v.as_object_mut() {
                o.insert("nextPage".into(), Value::String(url(start + max)));
            }
            v
        },
    )
}

async fn comment_page(
    State(ctx): State<Ctx>,
    Path(key): Path<String>,
    RawQuery(q): RawQuery,
) -> Response {
    let p = Params::parse(q);
    let (start, max) = match (p.int("startAt"), p.int("maxResults")) {
        (Ok(s), Ok(m)) => (s.unwrap_or(0), m.unwrap_or(100).min(100)),
        (Err(m), _) | (_, Err(m)) => return bad_request(m),
    };
    // A literal '+' decodes to a space in query strings.
    let newest_first = match p.get("orderBy").map(str::trim) {
        None | Some("created") | Some("+created") => false,
        Some("-created") => true,
        Some(other) => {
            return bad_request(format!(
                "Invalid orderBy '{other}': use created, +created or -created."
            ));
        }
    };
    with_issue_part(&ctx, &key, Part::Comments, |store, issue| {
        let render = |c: &data::Comment| store.comment_json(issue, c);
        let comments: Vec<Value> = if newest_first {
            let rev: Vec<&data::Comment> = issue.comments.iter().rev().collect();
            window(&rev, start, max).iter().map(|c| render(c)).collect()
        } else {
            window(&issue.comments, start, max)
                .iter()
                .map(render)
                .collect()
        };
        json!({"comments": comments, "maxResults": max, "startAt": start, "total": issue.comments.len()})
    })
}

/// `GET /project/search`: `{startAt, maxResults, total, isLast, values}` (50 a page at most).
async fn project_search(State(ctx): State<Ctx>, RawQuery(q): RawQuery) -> Response {
    let items = ctx.shared.lock().store.projects_json();
    page_bean(q, 50, &items)
}

/// `GET /priority/search`: a page bean like `/project/search`.
async fn priority_search(State(ctx): State<Ctx>, RawQuery(q): RawQuery) -> Response {
    let items = ctx.shared.lock().store.priorities_json();
    page_bean(q, 50, &items)
}

/// `GET /users/search`: a plain array, `maxResults` up to 1000.
async fn users_search(State(ctx): State<Ctx>, RawQuery(q): RawQuery) -> Response {
    let (start, max) = match offset_window(q, 1000) {
        Ok(window) => window,
        Err(response) => return response,
    };
    let users = {
        let st = ctx.shared.lock();
        if st.faults.refuse_user_browsing {
            return error(
                StatusCode::FORBIDDEN,
                "You do not have the permission to browse users and groups.",
            );
        }
        st.store.users_json()
    };
    json_response(
        StatusCode::OK,
        Value::Array(window(&users, start, max).to_vec()),
    )
}

/// `GET /status`: every status, one array.
async fn statuses(State(ctx): State<Ctx>) -> Response {
    let statuses = ctx.shared.lock().store.statuses_json();
    json_response(StatusCode::OK, Value::Array(statuses))
}

/// One `PageBean` of `items` (`startAt`/`maxResults` paging, `isLast`).
fn page_bean(q: Option<String>, max: u64, items: &[Value]) -> Response {
    let (start, max) = match offset_window(q, max) {
        Ok(window) => window,
        Err(response) => return response,
    };
    let values = window(items, start, max).to_vec();
    let is_last = start + values.len() as u64 >= items.len() as u64;
    json_response(
        StatusCode::OK,
        json!({"startAt": start, "maxResults": max, "total": items.len(), "isLast": is_last, "values": values}),
    )
}

/// `startAt` (default 0) and `maxResults` (default and ceiling `max`, at least 1) of an
/// offset-paged request, or the 400 for a malformed one. (The `Err` is the handler's whole
/// answer, returned at once: its size does not matter.)
#[allow(clippy::result_large_err)]
fn offset_window(q: Option<String>, max: u64) -> Result<(u64, u64), Response> {
    let p = Params::parse(q);
    match (p.int("startAt"), p.int("maxResults")) {
        (Ok(s), Ok(m)) => Ok((s.unwrap_or(0), m.unwrap_or(max).clamp(1, max))),
        (Err(m), _) | (_, Err(m)) => Err(bad_request(m)),
    }
}

/// [`with_issue_part`] for an offset-paged `part`: `render` gets `startAt` and `maxResults`
/// (ceiling `page.1`) of the query `page.0`, a malformed one is a 400 before the issue is
/// looked up.
fn issue_part_page(
    ctx: &Ctx,
    key: &str,
    part: Part,
    page: (Option<String>, u64),
    render: impl FnOnce(&data::Store, &data::Issue, u64, u64) -> Value,
) -> Response {
    let (start, max) = match offset_window(page.0, page.1) {
        Ok(window) => window,
        Err(response) => return response,
    };
    with_issue_part(ctx, key, part, |store, issue| {
        render(store, issue, start, max)
    })
}

/// The 200 answer `render` makes of `part` of the issue `key` names, or the 404 (unknown) or
/// 403 (`part` closed by poison) Jira sends. The JSON is made under the state lock and
/// serialised after it.
fn with_issue_part(
    ctx: &Ctx,
    key: &str,
    part: Part,
    render: impl FnOnce(&data::Store, &data::Issue) -> Value,
) -> Response {
    let v = {
        let st = ctx.shared.lock();
        let Some(issue) = st.store.find(key) else {
            return issue_not_found();
        };
        if issue.forbids(part) {
            return forbidden_issue();
        }
        render(&st.store, issue)
    };
    json_response(StatusCode::OK, v)
}

/// `GET /issue/{key}/worklog`: `{startAt, maxResults, total, worklogs}`, oldest first,
/// `maxResults` up to 5000 (Jira's default and ceiling).
async fn worklog_page(
    State(ctx): State<Ctx>,
    Path(key): Path<String>,
    RawQuery(q): RawQuery,
) -> Response {
    issue_part_page(
        &ctx,
        &key,
        Part::Worklogs,
        (q, 5000),
        |store, issue, start, max| {
            let total = issue.worklogs as u64;
            let worklogs: Vec<Value> = (start.min(total)..(start.saturating_add(max)).min(total))
                .map(|i| store.worklog_json(issue, i as usize))
                .collect();
            json!({"startAt": start, "maxResults": max, "total": total, "worklogs": worklogs})
        },
    )
}

async fn remote_links(State(ctx): State<Ctx>, Path(key): Path<String>) -> Response {
    with_issue_part(&ctx, &key, Part::RemoteLinks, |store, issue| {
        Value::Array(store.remote_links_json(issue))
    })
}

/// The media token for attachment `id`: random-looking, but checkable without state.
fn media_token(seed: u64, id: u64) -> String {
    let digest = Sha256::digest(format!("jira-mirror-sim-media:{seed}:{id}").as_bytes());
    hex::encode(&digest[..20])
}

fn attachment_not_found(id: &str) -> Response {
    error(
        StatusCode::NOT_FOUND,
        format!("The attachment with id '{id}' does not exist."),
    )
}

/// The content of attachment `id`, trickled when `slow` names it ([`SlowAttachment`]).
fn stream_attachment(id: u64, size: u64, mime: &str, slow: Option<SlowAttachment>) -> Response {
    let pattern = data::attachment_pattern(id);
    let body = match slow.filter(|s| s.id == id) {
        None => {
            let chunks = size.div_ceil(CHUNK);
            Body::from_stream(futures::stream::iter((0..chunks).map(move |c| {
                let off = c * CHUNK;
                let len = CHUNK.min(size - off) as usize;
                Ok::<_, Infallible>(Bytes::from(data::attachment_chunk(&pattern, off, len)))
            })))
        }
        Some(slow) => {
            let step = slow.chunk_bytes.max(1) as u64;
            Body::from_stream(futures::stream::unfold(0u64, move |off| {
                let pattern = pattern.clone();
                async move {
                    if off >= size {
                        return None;
                    }
                    tokio::time::sleep(slow.pause).await;
                    let len = step.min(size - off);
                    let chunk = Bytes::from(data::attachment_chunk(&pattern, off, len as usize));
                    Some((Ok::<_, Infallible>(chunk), off + len))
                }
            }))
        }
    };
    let mut r = Response::new(body);
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_str(mime).unwrap_or(HeaderValue::from_static("application/octet-stream")),
    );
    h.insert(header::CONTENT_LENGTH, HeaderValue::from(size));
    r
}

/// The attachment `id` names with the seed and the slow attachment of the moment, or the
/// 404 (unknown, long id) or 403 ([`PoisonKind::ForbiddenAttachment`](super::PoisonKind))
/// Jira answers.
#[allow(clippy::result_large_err)]
fn find_attachment(
    ctx: &Ctx,
    id: &str,
) -> Result<(data::Attachment, u64, Option<SlowAttachment>), Response> {
    let Ok(num) = id.parse::<u64>() else {
        return Err(attachment_not_found(id));
    };
    let (meta, seed, forbidden, slow) = {
        let st = ctx.shared.lock();
        let long = st.store.long_attachment_ids.contains(id);
        (
            st.store.attachments.get(&num).filter(|_| !long).cloned(),
            st.cfg.seed,
            st.store.forbidden_attachments.contains(&num),
            st.faults.slow_attachment,
        )
    };
    let Some(meta) = meta else {
        return Err(attachment_not_found(id));
    };
    if forbidden {
        return Err(error(
            StatusCode::FORBIDDEN,
            "You do not have permission to view this attachment.",
        ));
    }
    Ok((meta, seed, slow))
}

async fn attachment_content(
    State(ctx): State<Ctx>,
    Path(id): Path<String>,
    RawQuery(q): RawQuery,
) -> Response {
    let p = Params::parse(q);
    let (meta, seed, slow) = match find_attachment(&ctx, &id) {
        Ok(found) => found,
        Err(response) => return response,
    };
    if p.get("redirect") == Some("false") {
        return stream_attachment(meta.id, meta.size, &meta.mime, slow);
    }
    let location = format!(
        "{}/file/{}?token={}",
        ctx.shared.media_base_url,
        meta.id,
        media_token(seed, meta.id)
    );
    let mut r = StatusCode::SEE_OTHER.into_response();
    if let Ok(v) = HeaderValue::from_str(&location) {
        r.headers_mut().insert(header::LOCATION, v);
    }
    r
}

async fn media_file(
    State(ctx): State<Ctx>,
    Path(id): Path<String>,
    RawQuery(q): RawQuery,
) -> Response {
    let p = Params::parse(q);
    let Ok(num) = id.parse::<u64>() else {
        return attachment_not_found(&id);
    };
    let (meta, seed, slow) = {
        let st = ctx.shared.lock();
        (
            st.store.attachments.get(&num).cloned(),
            st.cfg.seed,
            st.faults.slow_attachment,
        )
    };
    if p.get("token") != Some(media_token(seed, num).as_str()) {
        return error(StatusCode::FORBIDDEN, "Missing or invalid media token.");
    }
    let Some(meta) = meta else {
        return attachment_not_found(&id);
    };
    stream_attachment(meta.id, meta.size, &meta.mime, slow)
}

// ---------------------------------------------------------------------------------------------
// Service management
// ---------------------------------------------------------------------------------------------

fn sd_error(status: StatusCode, msg: &str, key: &str) -> Response {
    json_response(
        status,
        json!({
            "errorMessage": msg,
            "i18nErrorMessage": {"i18nKey": key, "parameters": []},
        }),
    )
}

async fn sla(State(ctx): State<Ctx>, Path(key): Path<String>, RawQuery(q): RawQuery) -> Response {
    let p = Params::parse(q);
    let (start, limit) = match (p.int("start"), p.int("limit")) {
        (Ok(s), Ok(l)) => (s.unwrap_or(0), l.unwrap_or(50)),
        (Err(m), _) | (_, Err(m)) => return bad_request(m),
    };
    if limit == 0 {
        return sd_error(
            StatusCode::BAD_REQUEST,
            "The limit must be greater than 0.",
            "sd.common.limit.invalid",
        );
    }
    let limit = limit.min(100);
    let v = {
        let st = ctx.shared.lock();
        if st.store.find(&key).is_some_and(|i| i.forbids(Part::Sla)) {
            return sd_error(
                StatusCode::FORBIDDEN,
                "You do not have permission to view this customer request's SLA information.",
                "sd.request.sla.error.no.permission",
            );
        }
        let Some(issue) = st.store.find(&key).filter(|i| i.has_sla) else {
            return sd_error(
                StatusCode::NOT_FOUND,
                "The request could not be found: the issue does not exist, you cannot see it, or it is not a customer request.",
                "sd.request.error.not.found",
            );
        };
        let base = &st.store.base;
        let all = st.store.sla_values(issue);
        let values = window(&all, start, limit).to_vec();
        let is_last = start + values.len() as u64 >= all.len() as u64;
        let url = |s: u64| {
            format!(
                "{base}/rest/servicedeskapi/request/{}/sla?start={s}&limit={limit}",
                issue.id
            )
        };
        let mut links = serde_json::Map::new();
        links.insert(
            "base".into(),
            Value::String(format!("{base}/rest/servicedeskapi")),
        );
        links.insert("context".into(), Value::String(String::new()));
        if !is_last {
            links.insert("next".into(), Value::String(url(start + limit)));
        }
        if start > 0 {
            links.insert(
                "prev".into(),
                Value::String(url(start.saturating_sub(limit))),
            );
        }
        json!({
            "_expands": [],
            "size": values.len(),
            "start": start,
            "limit": limit,
            "isLastPage": is_last,
            "_links": links,
            "values": values,
        })
    };
    json_response(StatusCode::OK, v)
}
