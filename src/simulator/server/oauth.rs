//! OAuth 2.0 (3LO) over HTTP, when [`SimConfig::oauth`](crate::simulator::SimConfig) is set on
//! a Cloud site: the API listener also plays Atlassian's authorization server
//! (`POST /oauth/token`, `GET /oauth/token/accessible-resources`) and its API gateway
//! (`/ex/jira/{cloud_id}/rest/…` → the site's `/rest/…`, Bearer access tokens only, an
//! hourly quota with Atlassian's rate-limit headers).

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode, header};
use axum::response::Response;
use axum::routing::{get, post};
use serde_json::{Map, Value, json};

use super::{Credentials, Ctx, SimState, Verdict, json_response};
use crate::simulator::oauth::{Quota, SCOPES};

/// The gateway's prefix; the cloud id follows.
const GATEWAY: &str = "/ex/jira/";
/// The token endpoint.
pub(super) const TOKEN_PATH: &str = "/oauth/token";
/// The accessible-resources endpoint.
const RESOURCES_PATH: &str = "/oauth/token/accessible-resources";

/// The authorization server's routes.
pub(super) fn routes() -> Router<Ctx> {
    Router::new()
        .route(TOKEN_PATH, post(token))
        .route(RESOURCES_PATH, get(accessible_resources))
}

/// The gateway's error body (`{"code":401,"message":"Unauthorized"}`).
fn gateway_error(status: StatusCode, message: &str) -> Response {
    json_response(status, json!({"code": status.as_u16(), "message": message}))
}

/// An OAuth error body (`{"error":…,"error_description":…}`).
fn oauth_error(status: StatusCode, error: &str, description: &str) -> Response {
    json_response(
        status,
        json!({"error": error, "error_description": description}),
    )
}

/// The verdict on a request to an OAuth path (`None`: not one, or OAuth is off). `path`
/// must be the raw request path.
pub(super) fn authorize(st: &mut SimState, path: &str, creds: &Credentials) -> Option<Verdict> {
    let cfg = st.cfg.oauth.clone()?;
    let bearer_ok = match creds {
        Credentials::Bearer(t) => st.oauth.valid(t),
        _ => false,
    };
    let user = || Some(st.cfg.email.clone());
    if path == TOKEN_PATH {
        return Some(Verdict {
            no_faults: true,
            ..Verdict::user(None)
        });
    }
    if path == RESOURCES_PATH {
        if !bearer_ok {
            return Some(Verdict::deny(gateway_error(
                StatusCode::UNAUTHORIZED,
                "Unauthorized",
            )));
        }
        return Some(Verdict {
            no_faults: true,
            ..Verdict::user(user())
        });
    }
    let rest = path.strip_prefix(GATEWAY)?;
    let (cloud_id, site_path) = rest.split_once('/').unwrap_or((rest, ""));
    if cloud_id != cfg.cloud_id || !site_path.starts_with("rest/") {
        return Some(Verdict::deny(gateway_error(
            StatusCode::NOT_FOUND,
            "Not Found",
        )));
    }
    let counted = bearer_ok;
    let quota = cfg.quota.map(|limit| st.oauth.quota(limit, counted));
    if !bearer_ok {
        return Some(Verdict {
            quota,
            ..Verdict::deny(gateway_error(StatusCode::UNAUTHORIZED, "Unauthorized"))
        });
    }
    if let Some(q) = quota.filter(|q| q.exceeded) {
        return Some(Verdict {
            quota,
            ..Verdict::deny(rate_limited(&q))
        });
    }
    Some(Verdict {
        rewrite: Some(format!("/{site_path}")),
        quota,
        ..Verdict::user(user())
    })
}

/// The gateway's 429 past the quota.
fn rate_limited(q: &Quota) -> Response {
    let mut r = gateway_error(StatusCode::TOO_MANY_REQUESTS, "Rate limit exceeded");
    let h = r.headers_mut();
    h.insert(header::RETRY_AFTER, HeaderValue::from(q.retry_after_secs));
    h.insert(
        HeaderName::from_static("ratelimit-reason"),
        HeaderValue::from_static("jira-quota-tenant-based"),
    );
    r
}

/// Adds Atlassian's rate-limit headers for `q` to a gateway answer.
pub(super) fn add_quota_headers(r: &mut Response, q: &Quota) {
    let reset = chrono::DateTime::from_timestamp_millis(q.reset_ms)
        .map(|d| d.format("%Y-%m-%dT%H:%MZ").to_string())
        .unwrap_or_default();
    let near = u64::from(q.remaining) * 5 < u64::from(q.limit);
    let h = r.headers_mut();
    let mut set = |name: &'static str, v: HeaderValue| {
        h.insert(HeaderName::from_static(name), v);
    };
    set("x-ratelimit-limit", HeaderValue::from(q.limit));
    set("x-ratelimit-remaining", HeaderValue::from(q.remaining));
    if let Ok(v) = HeaderValue::from_str(&reset) {
        set("x-ratelimit-reset", v);
    }
    if near {
        set("x-ratelimit-nearlimit", HeaderValue::from_static("true"));
    }
}

/// The parameters of a token request: a JSON object or a form.
fn token_params(headers: &HeaderMap, body: &[u8]) -> Option<Map<String, Value>> {
    let form = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|t| t.starts_with("application/x-www-form-urlencoded"));
    if !form && let Ok(Value::Object(o)) = serde_json::from_slice::<Value>(body) {
        return Some(o);
    }
    let pairs: Map<String, Value> = url::form_urlencoded::parse(body)
        .map(|(k, v)| (k.into_owned(), Value::String(v.into_owned())))
        .collect();
    (!pairs.is_empty()).then_some(pairs)
}

/// `body` of a `/oauth/token` request with its secrets replaced, for the request record.
pub(super) fn redact(body: &str) -> String {
    const SECRET: &[&str] = &["client_secret", "code", "refresh_token"];
    if let Ok(Value::Object(mut o)) = serde_json::from_str::<Value>(body) {
        for k in SECRET {
            if let Some(v) = o.get_mut(*k) {
                *v = json!("<redacted>");
            }
        }
        return Value::Object(o).to_string();
    }
    let pairs: Vec<(String, String)> = url::form_urlencoded::parse(body.as_bytes())
        .into_owned()
        .collect();
    if pairs.is_empty() {
        return String::new();
    }
    let mut out = url::form_urlencoded::Serializer::new(String::new());
    for (k, v) in &pairs {
        let v = if SECRET.contains(&k.as_str()) {
            "<redacted>"
        } else {
            v
        };
        out.append_pair(k, v);
    }
    out.finish()
}

/// `POST /oauth/token`: `authorization_code` and (rotating) `refresh_token` grants.
async fn token(State(ctx): State<Ctx>, headers: HeaderMap, body: Bytes) -> Response {
    let Some(p) = token_params(&headers, &body) else {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "The request body must be JSON or a form.",
        );
    };
    let get = |k: &str| p.get(k).and_then(Value::as_str).unwrap_or("");
    let mut st = ctx.shared.lock();
    let Some(cfg) = st.cfg.oauth.clone() else {
        return oauth_error(StatusCode::NOT_FOUND, "not_found", "Not Found");
    };
    let grant_type = get("grant_type");
    if !matches!(grant_type, "authorization_code" | "refresh_token") {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            "Unsupported grant type",
        );
    }
    if get("client_id") != cfg.client_id || get("client_secret") != cfg.client_secret {
        return oauth_error(StatusCode::UNAUTHORIZED, "access_denied", "Unauthorized");
    }
    if grant_type == "authorization_code" {
        if !st.oauth.redeem(get("code"), get("redirect_uri")) {
            return oauth_error(
                StatusCode::FORBIDDEN,
                "invalid_grant",
                "Invalid authorization code",
            );
        }
    } else if !st.oauth.rotate(get("refresh_token")) {
        return oauth_error(
            StatusCode::FORBIDDEN,
            "unauthorized_client",
            "refresh_token is invalid",
        );
    }
    let g = st.oauth.grant(cfg.access_token_ttl);
    drop(st);
    json_response(
        StatusCode::OK,
        json!({
            "access_token": g.access_token,
            "refresh_token": g.refresh_token,
            "expires_in": cfg.access_token_ttl.as_secs(),
            "scope": SCOPES.join(" "),
            "token_type": "Bearer",
        }),
    )
}

/// `GET /oauth/token/accessible-resources`: the one site the token reaches.
async fn accessible_resources(State(ctx): State<Ctx>) -> Response {
    let v = {
        let st = ctx.shared.lock();
        let cloud_id = st
            .cfg
            .oauth
            .as_ref()
            .map(|o| o.cloud_id.clone())
            .unwrap_or_default();
        let scopes: Vec<&str> = SCOPES
            .iter()
            .copied()
            .filter(|s| *s != "offline_access")
            .collect();
        json!([{
            "id": cloud_id,
            "url": st.store.base,
            "name": "sim",
            "scopes": scopes,
            "avatarUrl": "https://site-admin-avatar-cdn.prod.public.atl-paas.net/avatars/240/rocket.png",
        }])
    };
    json_response(StatusCode::OK, v)
}
