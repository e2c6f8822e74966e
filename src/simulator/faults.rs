//! Fault injection: the ways a real Jira Cloud site misbehaves, on demand and reproducibly.
//!
//! Every request (API and media host) draws the same number of values from one seeded ChaCha8
//! stream, in arrival order, so request *n* of a run gets the same fate for the same seed and
//! fault settings. The order of checks mirrors what a client meets in the wild: a full outage
//! (503 without `Retry-After`), then rate limiting (429 with `Retry-After`), then a random 5xx
//! (503 again carrying `Retry-After`, like Jira's edge), then added latency. Corrupted bodies
//! (cut in half with a matching `Content-Length`, or replaced by an HTML error page with status
//! 200) are applied only to successful JSON answers, after the real handler ran — they are the
//! faults that a client which trusts status codes gets wrong.
//!
//! Authentication failures are decided before any of this (see `server.rs`): a 401 never
//! carries `Retry-After`, so a polite client never retries a credential error.

use std::time::Duration;

use axum::body::{Body, to_bytes};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use rand::RngExt;
use rand_chacha::ChaCha8Rng;

use super::Faults;

/// A fault answered instead of calling the handler.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Pre {
    /// 503, no `Retry-After`.
    Outage,
    /// 404 with a proxy's HTML page.
    ProxyNotFound,
    /// 429 with `Retry-After`.
    RateLimited {
        /// Seconds announced in `Retry-After`.
        retry_after: u64,
    },
    /// 500/502/503/504; 503 carries `Retry-After`.
    ServerError {
        /// The status code.
        status: u16,
        /// `Retry-After` seconds, for 503.
        retry_after: Option<u64>,
    },
}

/// A corruption applied to a 200 JSON body after the handler ran.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Post {
    /// Leave the body alone.
    None,
    /// Cut the body in half.
    Truncate,
    /// Replace the body by non-JSON garbage; the value picks the variant.
    Garble(u8),
}

/// The fate of one request.
#[derive(Clone, Copy, Debug)]
pub(super) struct Decision {
    /// Answer this instead of the handler, if set.
    pub(super) pre: Option<Pre>,
    /// Corruption of a successful JSON answer.
    pub(super) post: Post,
    /// Sleep before answering.
    pub(super) latency: Duration,
}

impl Decision {
    /// No fault, no latency (requests no fault applies to).
    pub(super) fn none() -> Decision {
        Decision {
            pre: None,
            post: Post::None,
            latency: Duration::ZERO,
        }
    }
}

/// Draws the fate of the next request. Always consumes exactly six values.
pub(super) fn decide(rng: &mut ChaCha8Rng, f: &Faults) -> Decision {
    let u: [f64; 5] = [
        rng.random(),
        rng.random(),
        rng.random(),
        rng.random(),
        rng.random(),
    ];
    let variant: u8 = rng.random();
    let retry = f.retry_after_secs.max(1);
    let pre = if f.outage {
        Some(Pre::Outage)
    } else if f.proxy_not_found {
        Some(Pre::ProxyNotFound)
    } else if u[0] < f.rate_429 {
        Some(Pre::RateLimited { retry_after: retry })
    } else if u[1] < f.rate_5xx {
        let status = [500, 502, 503, 504][(u[2] * 4.0) as usize % 4];
        Some(Pre::ServerError {
            status,
            retry_after: (status == 503).then_some(retry),
        })
    } else {
        None
    };
    let post = if u[3] < f.rate_truncated {
        Post::Truncate
    } else if u[4] < f.rate_garbled {
        Post::Garble(variant)
    } else {
        Post::None
    };
    Decision {
        pre,
        post,
        latency: Duration::from_millis(f.latency_ms),
    }
}

const OUTAGE_PAGE: &str = "<!DOCTYPE html><html><head><title>Atlassian Cloud Notifications - Page Unavailable</title></head>\
<body><h1>Your Atlassian Cloud site is currently unavailable.</h1><p>We are aware of the problem and are working to fix it.</p></body></html>";
const BAD_GATEWAY_PAGE: &str = "<html><head><title>502 Bad Gateway</title></head><body><center><h1>502 Bad Gateway</h1></center></body></html>";
const GATEWAY_TIMEOUT_PAGE: &str = "<html><head><title>504 Gateway Time-out</title></head><body><center><h1>504 Gateway Time-out</h1></center></body></html>";
const GARBLED_PAGE: &str = "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Oops, you&#39;ve found a dead link. - JIRA</title></head>\
<body id=\"jira\" class=\"aui-layout aui-style-default page-type-message\"><div class=\"aui-page-panel\"><h1>Something went wrong</h1>\
<p>Please try again later. Reference: 7f3c2a9e-1b4d</p></div></body></html>";

const PROXY_NOT_FOUND_PAGE: &str = "<html><head><title>404 Not Found</title></head><body><center><h1>404 Not Found</h1></center><hr><center>nginx</center></body></html>";

fn page(status: StatusCode, content_type: &'static str, body: &'static str) -> Response {
    (status, [(header::CONTENT_TYPE, content_type)], body).into_response()
}

/// The response for a fault answered instead of the handler, and its record label.
pub(super) fn pre_response(pre: Pre) -> (Response, &'static str) {
    match pre {
        Pre::Outage => (
            page(
                StatusCode::SERVICE_UNAVAILABLE,
                "text/html;charset=UTF-8",
                OUTAGE_PAGE,
            ),
            "outage",
        ),
        Pre::ProxyNotFound => (
            page(StatusCode::NOT_FOUND, "text/html", PROXY_NOT_FOUND_PAGE),
            "proxy 404",
        ),
        Pre::RateLimited { retry_after } => {
            let mut r = (
                StatusCode::TOO_MANY_REQUESTS,
                [(header::CONTENT_TYPE, "application/json;charset=UTF-8")],
                r#"{"errorMessages":["Rate limit exceeded."],"errors":{}}"#,
            )
                .into_response();
            let h = r.headers_mut();
            h.insert(header::RETRY_AFTER, HeaderValue::from(retry_after));
            h.insert(
                "RateLimit-Reason",
                HeaderValue::from_static("jira-burst-based"),
            );
            h.insert("X-RateLimit-Limit", HeaderValue::from_static("350"));
            h.insert("X-RateLimit-Remaining", HeaderValue::from_static("0"));
            (r, "429")
        }
        Pre::ServerError {
            status,
            retry_after,
        } => {
            let mut r = match status {
                502 => page(StatusCode::BAD_GATEWAY, "text/html", BAD_GATEWAY_PAGE),
                503 => page(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "text/html;charset=UTF-8",
                    OUTAGE_PAGE,
                ),
                504 => page(
                    StatusCode::GATEWAY_TIMEOUT,
                    "text/html",
                    GATEWAY_TIMEOUT_PAGE,
                ),
                _ => (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    [(header::CONTENT_TYPE, "application/json;charset=UTF-8")],
                    r#"{"errorMessages":["Internal server error"],"errors":{}}"#,
                )
                    .into_response(),
            };
            if let Some(s) = retry_after {
                r.headers_mut()
                    .insert(header::RETRY_AFTER, HeaderValue::from(s));
            }
            (r, "5xx")
        }
    }
}

fn is_json_ok(r: &Response) -> bool {
    r.status() == StatusCode::OK
        && r.headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|ct| ct.starts_with("application/json"))
}

/// Applies a body corruption to a 200 JSON response; returns the label when one was applied.
pub(super) async fn post_process(resp: Response, post: Post) -> (Response, Option<&'static str>) {
    if post == Post::None || !is_json_ok(&resp) {
        return (resp, None);
    }
    let (mut parts, body) = resp.into_parts();
    let Ok(bytes) = to_bytes(body, usize::MAX).await else {
        return (
            Response::from_parts(parts, Body::empty()),
            Some("truncated"),
        );
    };
    let (new_body, label) = match post {
        Post::Truncate => (bytes.slice(..bytes.len() / 2), "truncated"),
        Post::Garble(v) => {
            // Half the time the JSON content type is kept: clients must not trust it.
            if v % 2 == 0 {
                parts.headers.insert(
                    header::CONTENT_TYPE,
                    HeaderValue::from_static("text/html;charset=UTF-8"),
                );
            }
            (
                axum::body::Bytes::from_static(GARBLED_PAGE.as_bytes()),
                "garbled",
            )
        }
        Post::None => (bytes, ""),
    };
    parts
        .headers
        .insert(header::CONTENT_LENGTH, HeaderValue::from(new_body.len()));
    (
        Response::from_parts(parts, Body::from(new_body)),
        Some(label),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn rates_are_roughly_honoured_and_deterministic() {
        let f = Faults {
            rate_429: 0.2,
            rate_5xx: 0.1,
            rate_truncated: 0.05,
            ..Faults::default()
        };
        let run = || {
            let mut rng = ChaCha8Rng::seed_from_u64(42);
            (0..10_000)
                .map(|_| decide(&mut rng, &f))
                .collect::<Vec<_>>()
        };
        let a = run();
        let n429 = a
            .iter()
            .filter(|d| matches!(d.pre, Some(Pre::RateLimited { .. })))
            .count();
        let n5xx = a
            .iter()
            .filter(|d| matches!(d.pre, Some(Pre::ServerError { .. })))
            .count();
        let ntr = a.iter().filter(|d| d.post == Post::Truncate).count();
        assert!((1800..2200).contains(&n429), "{n429}");
        // 5xx is drawn only when no 429: 0.8 * 0.1.
        assert!((650..950).contains(&n5xx), "{n5xx}");
        assert!((400..600).contains(&ntr), "{ntr}");
        let b = run();
        assert!(
            a.iter()
                .zip(&b)
                .all(|(x, y)| x.pre == y.pre && x.post == y.post)
        );
        assert!(a.iter().all(|d| match d.pre {
            Some(Pre::RateLimited { retry_after }) => retry_after == 1,
            Some(Pre::ServerError {
                status,
                retry_after,
            }) => (status == 503) == retry_after.is_some(),
            _ => true,
        }));
    }

    #[test]
    fn outage_wins() {
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let f = Faults {
            outage: true,
            rate_429: 1.0,
            ..Faults::default()
        };
        assert_eq!(decide(&mut rng, &f).pre, Some(Pre::Outage));
        let (r, label) = pre_response(Pre::Outage);
        assert_eq!(r.status(), 503);
        assert!(r.headers().get(header::RETRY_AFTER).is_none());
        assert_eq!(label, "outage");
    }
}
