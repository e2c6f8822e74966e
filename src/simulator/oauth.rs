//! The OAuth 2.0 (3LO) side of a Cloud site ([`SimConfig::oauth`](super::SimConfig::oauth)):
//! authorization codes, rotating refresh tokens, access tokens with a lifetime, and the
//! gateway's hourly request quota. Plain state; the HTTP side is `server/oauth.rs`.

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

/// The scopes every grant carries.
pub(super) const SCOPES: &[&str] = &[
    "read:jira-work",
    "read:jira-user",
    "offline_access",
    "read:servicedesk-request",
];

/// How long a quota window lasts.
pub(super) const QUOTA_WINDOW: Duration = Duration::from_secs(3600);

/// Tokens and the quota of the gateway.
#[derive(Debug, Default)]
pub(super) struct OAuthState {
    /// Unused authorization codes and the `redirect_uri` each was issued for.
    codes: HashMap<String, String>,
    /// Access tokens and when each stops working.
    access: HashMap<String, Instant>,
    /// Refresh tokens that may still be used (once each).
    refresh: HashSet<String>,
    /// The current quota window: its start (monotonic and epoch ms) and requests counted.
    window: Option<Window>,
}

#[derive(Clone, Copy, Debug)]
struct Window {
    start: Instant,
    start_ms: i64,
    used: u32,
}

/// A new access and refresh token.
#[derive(Clone, Debug)]
pub(super) struct Grant {
    pub(super) access_token: String,
    pub(super) refresh_token: String,
}

/// Where a request stands against the quota.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Quota {
    /// Requests per window.
    pub(super) limit: u32,
    /// Requests left in this window.
    pub(super) remaining: u32,
    /// When the window ends (epoch ms).
    pub(super) reset_ms: i64,
    /// Seconds until then (at least 1).
    pub(super) retry_after_secs: u64,
    /// Whether this request is over the quota (429).
    pub(super) exceeded: bool,
}

/// A random opaque token (256 bits, URL-safe).
fn token() -> String {
    URL_SAFE_NO_PAD.encode(rand::random::<[u8; 32]>())
}

impl OAuthState {
    /// A new authorization code for `redirect_uri` (the user approved the app).
    pub(super) fn consent(&mut self, redirect_uri: &str) -> String {
        let code = token();
        self.codes.insert(code.clone(), redirect_uri.to_string());
        code
    }

    /// Takes `code` (a code works once, whatever the outcome); true when it was issued for
    /// `redirect_uri`.
    pub(super) fn redeem(&mut self, code: &str, redirect_uri: &str) -> bool {
        self.codes.remove(code).is_some_and(|r| r == redirect_uri)
    }

    /// Takes the refresh token `t`; true when it was valid (it is not any more).
    pub(super) fn rotate(&mut self, t: &str) -> bool {
        self.refresh.remove(t)
    }

    /// A new access token living `ttl` and a new refresh token.
    pub(super) fn grant(&mut self, ttl: Duration) -> Grant {
        let g = Grant {
            access_token: token(),
            refresh_token: token(),
        };
        let now = Instant::now();
        let expires = now.checked_add(ttl).unwrap_or(now + QUOTA_WINDOW * 24);
        self.access.insert(g.access_token.clone(), expires);
        self.refresh.insert(g.refresh_token.clone());
        g
    }

    /// Whether `t` is an access token that has not expired.
    pub(super) fn valid(&self, t: &str) -> bool {
        self.access.get(t).is_some_and(|e| Instant::now() < *e)
    }

    /// Expires every access token issued so far.
    pub(super) fn expire_all(&mut self) {
        let now = Instant::now();
        for e in self.access.values_mut() {
            *e = now;
        }
    }

    /// Counts one request against a quota of `limit` an hour (when `count`; else only looks).
    pub(super) fn quota(&mut self, limit: u32, count: bool) -> Quota {
        let now = Instant::now();
        let w = match self.window {
            Some(w) if now.duration_since(w.start) < QUOTA_WINDOW => w,
            _ => Window {
                start: now,
                start_ms: crate::time::now_ms(),
                used: 0,
            },
        };
        let exceeded = count && w.used >= limit;
        let used = if count && !exceeded {
            w.used + 1
        } else {
            w.used
        };
        self.window = Some(Window { used, ..w });
        let left = QUOTA_WINDOW.saturating_sub(now.duration_since(w.start));
        Quota {
            limit,
            remaining: limit.saturating_sub(used),
            reset_ms: w.start_ms + QUOTA_WINDOW.as_millis() as i64,
            retry_after_secs: left.as_secs_f64().ceil().max(1.0) as u64,
            exceeded,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_work_once_for_their_redirect_uri() {
        let mut s = OAuthState::default();
        let code = s.consent("http://localhost/cb");
        assert!(!s.redeem("other", "http://localhost/cb"));
        assert!(s.redeem(&code, "http://localhost/cb"));
        assert!(!s.redeem(&code, "http://localhost/cb"));
        let code = s.consent("http://localhost/cb");
        assert!(!s.redeem(&code, "http://localhost/elsewhere"));
        assert!(!s.redeem(&code, "http://localhost/cb"));
    }

    #[test]
    fn refresh_tokens_rotate_and_access_tokens_expire() {
        let mut s = OAuthState::default();
        let g = s.grant(Duration::from_secs(60));
        assert!(s.valid(&g.access_token) && !s.valid(&g.refresh_token));
        assert!(s.rotate(&g.refresh_token));
        assert!(!s.rotate(&g.refresh_token));
        let short = s.grant(Duration::ZERO);
        assert!(!s.valid(&short.access_token));
        s.expire_all();
        assert!(!s.valid(&g.access_token));
        assert_ne!(g.access_token, short.access_token);
    }

    #[test]
    fn quota_counts_down_then_refuses() {
        let mut s = OAuthState::default();
        let peek = s.quota(3, false);
        assert_eq!((peek.remaining, peek.exceeded), (3, false));
        let left: Vec<(u32, bool)> = (0..5)
            .map(|_| {
                let q = s.quota(3, true);
                (q.remaining, q.exceeded)
            })
            .collect();
        assert_eq!(
            left,
            vec![(2, false), (1, false), (0, false), (0, true), (0, true)]
        );
        let q = s.quota(3, true);
        assert!(q.retry_after_secs > 3500 && q.retry_after_secs <= 3600);
        assert_eq!(q.limit, 3);
    }
}
