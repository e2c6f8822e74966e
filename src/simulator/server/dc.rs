//! The Data Center 9.x routes: REST API v2 only (`/rest/api/3/…` and the Cloud searches are
//! unknown paths, 404), `/search` paged by `startAt` with a `total`, plain arrays for
//! projects, users and priorities, and attachment bodies under `/secure/attachment/` on the
//! API listener itself. The issue resources are Cloud's handlers: the store renders v2 on a
//! Data Center site (wiki markup, user names, `/rest/api/2/` URLs).

use std::collections::HashMap;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::get;
use serde_json::{Map, Value, json};

use super::{
    ChangelogMode, Ctx, FieldSel, Params, bad_request, changelog_page, comment_page, error,
    expand_has, fields, find_attachment, find_page, issue_get, json_response, myself, remote_links,
    server_info, sla, statuses, stream_attachment, window, worklog_page,
};
use crate::json;
use crate::simulator::jql;

/// The routes of a Data Center site.
pub(super) fn routes() -> Router<Ctx> {
    Router::new()
        .route("/rest/api/2/myself", get(myself))
        .route("/rest/api/2/serverInfo", get(server_info))
        .route("/rest/api/2/field", get(fields))
        .route("/rest/api/2/search", get(search_get).post(search_post))
        .route("/rest/api/2/issue/{key}", get(issue_get))
        .route("/rest/api/2/issue/{key}/changelog", get(changelog_page))
        .route("/rest/api/2/issue/{key}/comment", get(comment_page))
        .route("/rest/api/2/issue/{key}/worklog", get(worklog_page))
        .route("/rest/api/2/issue/{key}/remotelink", get(remote_links))
        .route("/rest/api/2/project", get(projects))
        .route("/rest/api/2/user/search", get(user_search))
        .route("/rest/api/2/status", get(statuses))
        .route("/rest/api/2/priority", get(priorities))
        // Jira finds the attachment by id; the file name (any, or none) is not checked.
        .route("/secure/attachment/{id}", get(attachment))
        .route("/secure/attachment/{id}/", get(attachment))
        .route("/secure/attachment/{id}/{*name}", get(attachment))
        .route("/rest/servicedeskapi/request/{key}/sla", get(sla))
}

/// A Data Center search request from the GET query or the POST body.
struct SearchReq {
    jql: Option<String>,
    start_at: Option<u64>,
    max_results: Option<u64>,
    /// `None`: not given (every navigable field).
    fields: Option<Vec<String>>,
    expand: Vec<String>,
}

/// Comma-separated items of `s`, trimmed, without empty ones.
fn split_list(s: &str) -> Vec<String> {
    s.split(',')
        .map(|x| x.trim().to_string())
        .filter(|x| !x.is_empty())
        .collect()
}

async fn search_get(State(ctx): State<Ctx>, RawQuery(q): RawQuery) -> Response {
    let p = Params::parse(q);
    let (start_at, max_results) = match (p.int("startAt"), p.int("maxResults")) {
        (Ok(s), Ok(m)) => (s, m),
        (Err(m), _) | (_, Err(m)) => return bad_request(m),
    };
    let fields = p.get("fields").is_some().then(|| p.list("fields"));
    let req = SearchReq {
        jql: p.get("jql").map(str::to_string),
        start_at,
        max_results,
        fields,
        expand: p.list("expand"),
    };
    search(&ctx, req)
}

/// A list parameter of a POST body: an array of strings or one comma-separated string.
fn list_field(obj: &Map<String, Value>, k: &str) -> Result<Option<Vec<String>>, String> {
    match obj.get(k) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(split_list(s))),
        Some(Value::Array(a)) => a
            .iter()
            .map(|v| v.as_str().map(str::to_string))
            .collect::<Option<Vec<_>>>()
            .map(Some)
            .ok_or_else(|| format!("'{k}' must be an array of strings.")),
        Some(_) => Err(format!("'{k}' must be an array of strings.")),
    }
}

/// A non-negative integer of a POST body.
fn int_field(obj: &Map<String, Value>, k: &str) -> Result<Option<u64>, String> {
    match obj.get(k) {
        None | Some(Value::Null) => Ok(None),
        Some(v) => v
            .as_u64()
            .map(Some)
            .ok_or_else(|| format!("'{k}' must be a non-negative integer.")),
    }
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
        "startAt",
        "maxResults",
        "fields",
        "expand",
        "validateQuery",
        "properties",
        "fieldsByKeys",
    ];
    if let Some(k) = obj.keys().find(|k| !KNOWN.contains(&k.as_str())) {
        return bad_request(format!("Unrecognized field \"{k}\" in the request body."));
    }
    let jql = match obj.get("jql") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(s.clone()),
        Some(_) => return bad_request("'jql' must be a string."),
    };
    let parsed = (|| {
        Ok::<_, String>(SearchReq {
            jql,
            start_at: int_field(obj, "startAt")?,
            max_results: int_field(obj, "maxResults")?,
            fields: list_field(obj, "fields")?,
            expand: list_field(obj, "expand")?.unwrap_or_default(),
        })
    })();
    match parsed {
        Ok(req) => search(&ctx, req),
        Err(m) => bad_request(m),
    }
}

/// `/search`: `{expand, startAt, maxResults, total, issues}`. Without `fields` every
/// navigable field comes (Data Center's default); the page caps are Cloud's.
fn search(ctx: &Ctx, req: SearchReq) -> Response {
    let jql_text = req.jql.unwrap_or_default();
    let zone = ctx.shared.lock().store.dc_zone.unwrap_or(chrono_tz::UTC);
    let query = match jql::parse_with(&jql_text, jql::Dates::Zone(zone)) {
        Ok(q) => q,
        Err(m) => return bad_request(m),
    };
    let sel = match &req.fields {
        None => FieldSel::all(),
        Some(items) => FieldSel::parse(items.iter().map(String::as_str), false),
    };
    let changelog = expand_has(&req.expand, "changelog");
    let max = super::page_size(&sel, changelog, req.max_results);
    let mode = if changelog {
        ChangelogMode::Capped
    } else {
        ChangelogMode::None
    };
    let start = req.start_at.unwrap_or(0);
    let offset = usize::try_from(start).unwrap_or(usize::MAX);
    let found = {
        let st = ctx.shared.lock();
        find_page(&st, &query, &[], (offset, max), (&sel, mode))
    };
    let (issues, total) = match found {
        Ok(found) => found,
        Err(response) => return response,
    };
    let mut out = Map::new();
    out.insert("expand".into(), json!("schema,names"));
    out.insert("startAt".into(), json!(start));
    out.insert("maxResults".into(), json!(max));
    out.insert("total".into(), json!(total));
    out.insert("issues".into(), Value::Array(issues));
    json_response(StatusCode::OK, Value::Object(out))
}

/// `GET /project`: every project, one array.
async fn projects(State(ctx): State<Ctx>) -> Response {
    let items = ctx.shared.lock().store.projects_json();
    json_response(StatusCode::OK, Value::Array(items))
}

/// `GET /priority`: every priority, one array.
async fn priorities(State(ctx): State<Ctx>) -> Response {
    let items = ctx.shared.lock().store.priorities_json();
    json_response(StatusCode::OK, Value::Array(items))
}

/// Whether the user `u` matches Data Center's `username` query `q`: `.` matches everyone,
/// else a case-insensitive prefix of the user name, the e-mail or a word of the display
/// name.
fn user_matches(u: &Value, q: &str) -> bool {
    let q = q.trim().to_lowercase();
    if q == "." || q == "*" || q == "%" {
        return true;
    }
    let field = |k: &str| u[k].as_str().unwrap_or("").to_lowercase();
    field("name").starts_with(&q)
        || field("emailAddress").starts_with(&q)
        || field("displayName").starts_with(&q)
        || field("displayName")
            .split_whitespace()
            .any(|w| w.starts_with(&q))
}

/// `GET /user/search?username=…`: a plain array; `username` is required (`.` finds everyone),
/// `maxResults` defaults to 50 (at most 1000); inactive users only with
/// `includeInactive=true`, as on Data Center.
async fn user_search(State(ctx): State<Ctx>, RawQuery(q): RawQuery) -> Response {
    let p = Params::parse(q);
    let Some(username) = p.get("username").map(str::to_string) else {
        return bad_request("The username query parameter was not provided");
    };
    let (start, max) = match (p.int("startAt"), p.int("maxResults")) {
        (Ok(s), Ok(m)) => (s.unwrap_or(0), m.unwrap_or(50).clamp(1, 1000)),
        (Err(m), _) | (_, Err(m)) => return bad_request(m),
    };
    let active = p.get("includeActive") != Some("false");
    let inactive = p.get("includeInactive") == Some("true");
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
    let found: Vec<Value> = users
        .into_iter()
        .filter(|u| {
            let is_active = u["active"].as_bool().unwrap_or(true);
            (if is_active { active } else { inactive }) && user_matches(u, &username)
        })
        .collect();
    json_response(
        StatusCode::OK,
        Value::Array(window(&found, start, max).to_vec()),
    )
}

/// `GET /secure/attachment/{id}/{filename}`: the bytes, straight from the API listener.
async fn attachment(
    State(ctx): State<Ctx>,
    Path(params): Path<HashMap<String, String>>,
) -> Response {
    let id = params.get("id").map_or("", String::as_str);
    if ctx.shared.lock().faults.attachments_to_login {
        let mut r = axum::response::IntoResponse::into_response(StatusCode::FOUND);
        r.headers_mut().insert(
            axum::http::header::LOCATION,
            axum::http::HeaderValue::from_static(
                "/login.jsp?permissionViolation=true&os_destination=%2Fsecure%2Fattachment",
            ),
        );
        return r;
    }
    match find_attachment(&ctx, id) {
        Ok((meta, _, slow)) => stream_attachment(meta.id, meta.size, &meta.mime, slow),
        Err(response) => response,
    }
}
