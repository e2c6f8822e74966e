//! OAuth 2.0 authorization-code grants ("3LO") for Jira Cloud, without inbound HTTP.
//!
//! Why: security teams that forbid personal API tokens (they are tied to a person and
//! expire within a year) allow an OAuth app instead. The flow needs no listener here:
//! `jira-mirror auth login` prints [`authorize_url`], the operator approves in a browser,
//! and pastes back the code from the address the browser is sent to ([`code_from_paste`]);
//! nothing has to answer at that address.
//!
//! Afterwards the mirror holds only a refresh token, in `state.db` (owner-only), behind the
//! [`TokenStore`] trait. Atlassian rotates refresh tokens: every refresh answers a new one
//! and the old one stops working, so [`Grant`] stores the new token before it uses the
//! access token, and re-reads the store before each refresh, so two processes on one data
//! directory (`run` and a `check`) take turns instead of revoking each other's grant.
//! Access tokens (an hour) stay in memory only.
//!
//! Calls go to the API gateway, `https://api.atlassian.com/ex/jira/{cloud id}`; the cloud id
//! is the `id` of the site in `GET /oauth/token/accessible-resources` ([`site_resource`]).

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use url::Url;

use super::error::{Error, Result};

/// Scopes the mirror asks for: reading issues and users, JSM requests (SLAs), and
/// `offline_access` for a refresh token.
pub const DEFAULT_SCOPES: &[&str] = &[
    "read:jira-work",
    "read:jira-user",
    "read:servicedesk-request",
    "offline_access",
];

/// How long before its stated expiry an access token is replaced, so a request never
/// leaves with a token that expires on the way.
const EXPIRY_MARGIN: Duration = Duration::from_secs(60);

/// How many times (a second apart) the store is read again after a refresh token was
/// refused, waiting for another process's rotation to be saved.
const REFUSED_REREADS: u32 = 3;

/// How long Atlassian keeps an unused rotating refresh token (90 days), for `check`.
pub const REFRESH_TOKEN_IDLE_DAYS: i64 = 90;

/// What the mirror keeps of a grant between runs (in `state.db`).
#[derive(Clone, Serialize, Deserialize, PartialEq)]
pub struct StoredGrant {
    /// The current refresh token (rotated on every use).
    pub refresh_token: String,
    /// The site's cloud id (from accessible-resources).
    pub cloud_id: String,
    /// The site's URL as accessible-resources names it.
    pub site_url: String,
    /// The scopes granted.
    pub scope: String,
    /// When the refresh token was issued (epoch ms): it lapses after
    /// [`REFRESH_TOKEN_IDLE_DAYS`] unused.
    pub refreshed_at_ms: i64,
}

impl fmt::Debug for StoredGrant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StoredGrant")
            .field("refresh_token", &"***")
            .field("cloud_id", &self.cloud_id)
            .field("site_url", &self.site_url)
            .field("scope", &self.scope)
            .field("refreshed_at_ms", &self.refreshed_at_ms)
            .finish()
    }
}

/// Where the refresh token lives between runs.
pub trait TokenStore: Send + Sync {
    /// The stored grant, if `auth login` has run.
    fn load(&self) -> std::result::Result<Option<StoredGrant>, String>;
    /// Replaces the stored grant (durably, before the new tokens are used).
    fn save(&self, grant: &StoredGrant) -> std::result::Result<(), String>;
}

/// The OAuth app: its client id and secret and Atlassian's endpoints.
#[derive(Clone)]
pub struct App {
    /// The app's client id (developer console).
    pub client_id: String,
    /// The app's secret.
    pub client_secret: String,
    /// Where the browser is sent after consent; must equal the app's callback URL.
    pub redirect_uri: String,
    /// The scopes asked for.
    pub scopes: Vec<String>,
    /// The authorization server, `https://auth.atlassian.com`.
    pub auth_url: Url,
    /// The API gateway, `https://api.atlassian.com`.
    pub api_url: Url,
}

impl fmt::Debug for App {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("App")
            .field("client_id", &self.client_id)
            .field("client_secret", &"***")
            .field("redirect_uri", &self.redirect_uri)
            .field("auth_url", &self.auth_url.as_str())
            .field("api_url", &self.api_url.as_str())
            .finish()
    }
}

/// The tokens an authorization code or a refresh token is exchanged for.
#[derive(Deserialize)]
struct TokenAnswer {
    access_token: String,
    refresh_token: Option<String>,
    expires_in: Option<u64>,
    scope: Option<String>,
}

/// An access token and when to stop using it.
#[derive(Clone)]
struct Access {
    token: String,
    expires_at: chrono::DateTime<chrono::Utc>,
    obtained: std::time::Instant,
}

/// A live grant: hands out access tokens, refreshing (and rotating) as they expire.
pub struct Grant {
    app: App,
    http: reqwest::Client,
    store: Arc<dyn TokenStore>,
    access: tokio::sync::Mutex<Option<Access>>,
    cloud_id: String,
}

impl fmt::Debug for Grant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Grant")
            .field("client_id", &self.app.client_id)
            .field("cloud_id", &self.cloud_id)
            .finish_non_exhaustive()
    }
}

impl App {
    /// The address that starts the consent in a browser; `state` comes back with the code.
    pub fn authorize_url(&self, state: &str) -> Result<Url> {
        let mut url = self
            .auth_url
            .join("authorize")
            .map_err(|e| Error::Setup(format!("bad oauth.auth_url: {e}")))?;
        url.query_pairs_mut()
            .append_pair("audience", "api.atlassian.com")
            .append_pair("client_id", &self.client_id)
            .append_pair("scope", &self.scopes.join(" "))
            .append_pair("redirect_uri", &self.redirect_uri)
            .append_pair("state", state)
            .append_pair("response_type", "code")
            .append_pair("prompt", "consent");
        Ok(url)
    }

    /// The gateway root of a site: `{api_url}/ex/jira/{cloud_id}/`.
    pub fn site_base(&self, cloud_id: &str) -> Result<Url> {
        self.api_url
            .join(&format!("ex/jira/{cloud_id}/"))
            .map_err(|e| Error::Setup(format!("bad oauth.api_url: {e}")))
    }

    fn token_url(&self) -> Result<Url> {
        self.auth_url
            .join("oauth/token")
            .map_err(|e| Error::Setup(format!("bad oauth.auth_url: {e}")))
    }

    /// Exchanges the code from the consent page for tokens and finds `site` among the
    /// resources they reach: the grant to store.
    pub async fn exchange_code(
        &self,
        http: &reqwest::Client,
        code: &str,
        site: &Url,
    ) -> Result<StoredGrant> {
        let body = json!({
            "grant_type": "authorization_code",
            "client_id": self.client_id,
            "client_secret": self.client_secret,
            "code": code,
            "redirect_uri": self.redirect_uri,
        });
        let answer = self.token_request(http, &body).await?;
        let refresh_token = answer
            .refresh_token
            .clone()
            .ok_or_else(|| Error::Protocol {
                path: "/oauth/token".into(),
                message: "no refresh_token in the answer: is `offline_access` among the scopes?"
                    .into(),
            })?;
        let resources = self
            .accessible_resources(http, &answer.access_token)
            .await?;
        let resource = site_resource(&resources, site)?;
        let cloud_id = resource["id"].as_str().unwrap_or_default();
        if cloud_id.is_empty()
            || !cloud_id
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-')
        {
            return Err(Error::Protocol {
                path: "/oauth/token/accessible-resources".into(),
                message: format!("the site's cloud id {cloud_id:?} is not one"),
            });
        }
        Ok(StoredGrant {
            refresh_token,
            cloud_id: cloud_id.to_string(),
            site_url: resource["url"].as_str().unwrap_or_default().to_string(),
            scope: answer.scope.unwrap_or_default(),
            refreshed_at_ms: crate::time::now_ms(),
        })
    }

    /// `GET /oauth/token/accessible-resources`: the sites an access token reaches.
    async fn accessible_resources(&self, http: &reqwest::Client, token: &str) -> Result<Value> {
        let path = "/oauth/token/accessible-resources";
        let url = self
            .api_url
            .join(path.trim_start_matches('/'))
            .map_err(|e| Error::Setup(format!("bad oauth.api_url: {e}")))?;
        let request = http.get(url).bearer_auth(token);
        answer(path, request).await
    }

    /// `POST /oauth/token` with `body`.
    async fn token_request(&self, http: &reqwest::Client, body: &Value) -> Result<TokenAnswer> {
        answer("/oauth/token", http.post(self.token_url()?).json(body)).await
    }
}

/// Sends `request` (to Atlassian's OAuth endpoint `path`) and reads its JSON answer; a
/// refusal is [`Error::Auth`] (see [`refused_or_status`]).
async fn answer<T: serde::de::DeserializeOwned>(
    path: &str,
    request: reqwest::RequestBuilder,
) -> Result<T> {
    let response = request
        .header(reqwest::header::ACCEPT, "application/json")
        .send()
        .await
        .map_err(|e| transport(path, &e))?;
    let status = response.status();
    let text = response.text().await.map_err(|e| transport(path, &e))?;
    if !status.is_success() {
        return Err(refused_or_status(path, status.as_u16(), &text));
    }
    serde_json::from_str(&text).map_err(|e| Error::Protocol {
        path: path.into(),
        message: e.to_string(),
    })
}

/// The resource of `site` among accessible-resources: the one whose `url` has the site's
/// host, or whose `id` is in a gateway URL `…/ex/jira/{id}`.
pub fn site_resource<'a>(resources: &'a Value, site: &Url) -> Result<&'a Value> {
    let list = resources.as_array().ok_or_else(|| Error::Protocol {
        path: "/oauth/token/accessible-resources".into(),
        message: "expected a JSON array".into(),
    })?;
    let gateway_id = site
        .path()
        .strip_prefix("/ex/jira/")
        .map(|rest| rest.trim_end_matches('/'));
    let found = list.iter().find(|r| {
        let by_host = r["url"]
            .as_str()
            .and_then(|u| Url::parse(u).ok())
            .is_some_and(|u| u.host_str() == site.host_str() && u.port() == site.port());
        by_host || gateway_id.is_some_and(|id| r["id"].as_str() == Some(id))
    });
    found.ok_or_else(|| {
        let names: Vec<&str> = list.iter().filter_map(|r| r["url"].as_str()).collect();
        Error::Setup(format!(
            "the grant does not reach {site}; it reaches: {}. Set jira.base_url to one of \
             them, or approve the app for this site",
            if names.is_empty() {
                "no site".to_string()
            } else {
                names.join(", ")
            }
        ))
    })
}

/// The code in what the operator pasted: the code itself, or the whole address the browser
/// was sent to (`…?code=…&state=…`), whose `state` must be `expected_state`.
pub fn code_from_paste(pasted: &str, expected_state: &str) -> std::result::Result<String, String> {
    let pasted = pasted.trim();
    if pasted.is_empty() {
        return Err("nothing was pasted".into());
    }
    let Ok(url) = Url::parse(pasted) else {
        if pasted.chars().any(char::is_whitespace) {
            return Err("a code has no spaces; paste the code or the whole address".into());
        }
        return Ok(pasted.to_string());
    };
    let get = |name: &str| {
        url.query_pairs()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.into_owned())
    };
    if let Some(error) = get("error") {
        return Err(format!(
            "the consent page answered {error}: {}",
            get("error_description").unwrap_or_default()
        ));
    }
    if get("state").as_deref() != Some(expected_state) {
        return Err(
            "the address carries another `state` than this login's: paste the address of \
             this login's consent"
                .into(),
        );
    }
    get("code").ok_or_else(|| "the address has no `code`".into())
}

impl Grant {
    /// The grant of `app` kept in `store` (after `auth login`); `Ok(None)` when there is none.
    pub fn load(
        app: App,
        http: reqwest::Client,
        store: Arc<dyn TokenStore>,
    ) -> Result<Option<Arc<Grant>>> {
        let Some(stored) = store.load().map_err(Error::Setup)? else {
            return Ok(None);
        };
        Ok(Some(Arc::new(Grant {
            app,
            http,
            store,
            access: tokio::sync::Mutex::new(None),
            cloud_id: stored.cloud_id,
        })))
    }

    /// The app's client id.
    pub fn client_id(&self) -> &str {
        &self.app.client_id
    }

    /// The site's cloud id.
    pub fn cloud_id(&self) -> &str {
        &self.cloud_id
    }

    /// The gateway root every request goes to.
    pub fn base_url(&self) -> Result<Url> {
        self.app.site_base(&self.cloud_id)
    }

    /// An access token valid for at least a minute more, refreshing when needed.
    pub async fn access_token(&self) -> Result<String> {
        let mut access = self.access.lock().await;
        if let Some(a) = access.as_ref()
            && chrono::Utc::now() + EXPIRY_MARGIN < a.expires_at
        {
            return Ok(a.token.clone());
        }
        let fresh = self.refresh().await?;
        let token = fresh.token.clone();
        *access = Some(fresh);
        Ok(token)
    }

    /// When the access token in use expires (`None` before the first request).
    pub async fn access_expires_at(&self) -> Option<chrono::DateTime<chrono::Utc>> {
        self.access.lock().await.as_ref().map(|a| a.expires_at)
    }

    /// Forgets the access token after Jira refused a request sent at `sent_at` (revoked
    /// early, or the clock is off), unless it was obtained since: the next
    /// [`Grant::access_token`] refreshes.
    pub async fn reject_older_than(&self, sent_at: std::time::Instant) {
        let mut access = self.access.lock().await;
        if access.as_ref().is_some_and(|a| a.obtained <= sent_at) {
            *access = None;
        }
    }

    /// Uses the stored refresh token and stores the one that replaces it. When another
    /// process rotated the token meanwhile (ours is refused, the store holds a newer one, or
    /// will once that process has saved it: the store is read again for a few seconds),
    /// tries again with that one.
    async fn refresh(&self) -> Result<Access> {
        let mut tried = None;
        let mut rereads = 0;
        loop {
            let stored = self.store.load().map_err(Error::Setup)?.ok_or_else(|| {
                Error::Setup("no OAuth grant: run `jira-mirror auth login`".into())
            })?;
            if tried.as_ref() == Some(&stored.refresh_token) && rereads < REFUSED_REREADS {
                rereads += 1;
                tokio::time::sleep(Duration::from_secs(1)).await;
                continue;
            }
            if tried.as_ref() == Some(&stored.refresh_token) {
                return Err(Error::Auth {
                    account: format!("the OAuth app {}", self.app.client_id),
                    status: 403,
                    path: "/oauth/token".into(),
                    check: "the OAuth grant: run `jira-mirror auth login` again",
                });
            }
            let body = json!({
                "grant_type": "refresh_token",
                "client_id": self.app.client_id,
                "client_secret": self.app.client_secret,
                "refresh_token": stored.refresh_token,
            });
            match self.app.token_request(&self.http, &body).await {
                Ok(answer) => {
                    let now = chrono::Utc::now();
                    if let Some(rotated) = &answer.refresh_token {
                        let next = StoredGrant {
                            refresh_token: rotated.clone(),
                            refreshed_at_ms: now.timestamp_millis(),
                            scope: answer.scope.clone().unwrap_or(stored.scope),
                            ..stored
                        };
                        self.store.save(&next).map_err(Error::Setup)?;
                    }
                    // Trusted within bounds: a lifetime under two minutes would refresh (and
                    // rotate) before nearly every request, a huge one overflow the clock.
                    let lifetime =
                        Duration::from_secs(answer.expires_in.unwrap_or(3600).clamp(120, 86_400));
                    return Ok(Access {
                        obtained: std::time::Instant::now(),
                        token: answer.access_token,
                        expires_at: now
                            + chrono::Duration::from_std(lifetime)
                                .unwrap_or(chrono::Duration::hours(1)),
                    });
                }
                Err(Error::Auth { .. }) => tried = Some(stored.refresh_token),
                Err(e) => return Err(e),
            }
        }
    }
}

/// An `/oauth/token` or accessible-resources refusal as [`Error::Auth`], any other status as
/// [`Error::Status`]; the body's `error_description` is Atlassian's reason.
fn refused_or_status(path: &str, status: u16, body: &str) -> Error {
    let reason = serde_json::from_str::<Value>(body)
        .ok()
        .and_then(|v| {
            let error = v["error"].as_str()?.to_string();
            Some(match v["error_description"].as_str() {
                Some(d) => format!("{error}: {d}"),
                None => error,
            })
        })
        .unwrap_or_else(|| body.chars().take(200).collect());
    match status {
        400 | 401 | 403 => {
            tracing::warn!(path, status, reason, "The OAuth server refused the grant.");
            Error::Auth {
                account: "the OAuth app".into(),
                status,
                path: path.into(),
                check: "the OAuth app's client_id and client_secret, or the grant (run \
                        `jira-mirror auth login` again)",
            }
        }
        _ => Error::Status {
            status,
            path: path.into(),
            message: reason,
        },
    }
}

fn transport(path: &str, e: &reqwest::Error) -> Error {
    Error::Exhausted {
        path: path.into(),
        attempts: 1,
        last: crate::with_cause(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn app() -> App {
        App {
            client_id: "cid".into(),
            client_secret: "secret-xyz".into(),
            redirect_uri: "https://localhost/callback".into(),
            scopes: DEFAULT_SCOPES.iter().map(|s| s.to_string()).collect(),
            auth_url: Url::parse("https://auth.atlassian.com/").unwrap(),
            api_url: Url::parse("https://api.atlassian.com/").unwrap(),
        }
    }

    #[test]
    fn the_authorize_url_asks_for_consent_with_every_scope() {
        let url = app().authorize_url("st4te").unwrap();
        assert_eq!(url.path(), "/authorize");
        let q: std::collections::BTreeMap<_, _> = url.query_pairs().into_owned().collect();
        assert_eq!(q["audience"], "api.atlassian.com");
        assert_eq!(
            q["scope"],
            "read:jira-work read:jira-user read:servicedesk-request offline_access"
        );
        assert_eq!(q["redirect_uri"], "https://localhost/callback");
        assert_eq!(
            (q["state"].as_str(), q["response_type"].as_str()),
            ("st4te", "code")
        );
        assert!(!url.as_str().contains("secret-xyz"));
        assert!(!format!("{:?}", app()).contains("secret-xyz"));
        assert_eq!(
            app().site_base("abc-123").unwrap().as_str(),
            "https://api.atlassian.com/ex/jira/abc-123/"
        );
    }

    #[test]
    fn pasted_codes_and_addresses() {
        assert_eq!(code_from_paste("  abc.DEF-1 \n", "s").unwrap(), "abc.DEF-1");
        assert_eq!(
            code_from_paste("https://localhost/callback?code=c0de&state=s", "s").unwrap(),
            "c0de"
        );
        for (pasted, why) in [
            (
                "https://localhost/callback?code=c0de&state=other",
                "another `state`",
            ),
            ("https://localhost/callback?state=s", "no `code`"),
            (
                "https://localhost/callback?error=access_denied&error_description=no&state=s",
                "access_denied: no",
            ),
            ("", "nothing"),
            ("two words", "no spaces"),
        ] {
            let err = code_from_paste(pasted, "s").unwrap_err();
            assert!(err.contains(why), "{pasted}: {err}");
        }
    }

    #[test]
    fn the_site_is_found_by_host_or_gateway_id() {
        let resources = json!([
            {"id": "111", "url": "https://other.atlassian.net"},
            {"id": "222", "url": "https://acme.atlassian.net"}
        ]);
        let site = Url::parse("https://acme.atlassian.net/").unwrap();
        assert_eq!(site_resource(&resources, &site).unwrap()["id"], "222");
        let gateway = Url::parse("https://api.atlassian.com/ex/jira/111/").unwrap();
        assert_eq!(site_resource(&resources, &gateway).unwrap()["id"], "111");
        let err = site_resource(&resources, &Url::parse("https://nope.example/").unwrap())
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("https://other.atlassian.net, https://acme.atlassian.net"),
            "{err}"
        );
        assert!(site_resource(&json!({}), &site).is_err());
    }

    #[test]
    fn a_stored_grant_hides_its_token() {
        let g = StoredGrant {
            refresh_token: "rt-secret".into(),
            cloud_id: "c".into(),
            site_url: "s".into(),
            scope: String::new(),
            refreshed_at_ms: 0,
        };
        assert!(!format!("{g:?}").contains("rt-secret"));
    }

    /// A grant store in memory, shared by the "processes" of a test.
    #[derive(Default)]
    struct MemoryStore(std::sync::Mutex<Option<StoredGrant>>);

    impl TokenStore for MemoryStore {
        fn load(&self) -> std::result::Result<Option<StoredGrant>, String> {
            Ok(self.0.lock().unwrap().clone())
        }
        fn save(&self, grant: &StoredGrant) -> std::result::Result<(), String> {
            *self.0.lock().unwrap() = Some(grant.clone());
            Ok(())
        }
    }

    /// A simulator in OAuth mode (with `quota` requests an hour), an app pointing at it, and
    /// its root URL (the site, the authorization server and the gateway at once).
    async fn oauth_site(quota: Option<u32>) -> (crate::simulator::Simulator, App, Url) {
        use crate::simulator::{SimConfig, SimOAuth, Simulator};
        let sim = Simulator::start(SimConfig {
            issues: 3,
            oauth: Some(SimOAuth {
                quota,
                ..SimOAuth::default()
            }),
            ..SimConfig::default()
        })
        .await
        .unwrap();
        let base = Url::parse(&format!("{}/", sim.base_url())).unwrap();
        let sim_app = sim.config().oauth.clone().unwrap();
        let app = App {
            client_id: sim_app.client_id,
            client_secret: sim_app.client_secret,
            redirect_uri: "https://localhost/cb".into(),
            scopes: DEFAULT_SCOPES.iter().map(|s| s.to_string()).collect(),
            auth_url: base.clone(),
            api_url: base.clone(),
        };
        (sim, app, base)
    }

    /// Against the simulator's OAuth mode: the code exchange, a 401 on an expired access
    /// token renewed once, two processes on one store rotating the refresh token in turn,
    /// and a grant revoked upstream ending in a clear `Auth` error.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn grants_renew_rotate_and_end_cleanly() {
        use crate::jira::{ClientOptions, Credentials, JiraClient, RequestBudget};
        let (sim, app, base) = oauth_site(None).await;
        let sim_app = sim.config().oauth.clone().unwrap();
        let http = reqwest::Client::new();
        let code = sim.oauth_consent("https://localhost/cb");
        let stored = app.exchange_code(&http, &code, &base).await.unwrap();
        assert_eq!(stored.cloud_id, sim_app.cloud_id);
        // A code works once.
        assert!(app.exchange_code(&http, &code, &base).await.is_err());
        let store = Arc::new(MemoryStore::default());
        store.save(&stored).unwrap();
        let client = |grant: Arc<Grant>| {
            JiraClient::new(
                &grant.base_url().unwrap(),
                Credentials::OAuth(grant),
                RequestBudget::new(2, 1000.0),
                ClientOptions::default(),
            )
            .unwrap()
        };
        let load = || {
            Grant::load(app.clone(), http.clone(), store.clone())
                .unwrap()
                .unwrap()
        };
        let (first, second) = (load(), load());
        let (a, b) = (client(first.clone()), client(second.clone()));
        a.myself().await.unwrap();
        let rotated = store.load().unwrap().unwrap().refresh_token;
        assert_ne!(rotated, stored.refresh_token, "the refresh token rotates");
        // The other process refreshes with what the store holds now, not a stale token.
        b.myself().await.unwrap();
        assert_ne!(store.load().unwrap().unwrap().refresh_token, rotated);
        // An access token refused before its time: one renewal, and the request succeeds.
        let before = sim.oauth_token_requests();
        sim.expire_access_tokens();
        assert_eq!(a.get_issue("SUP-1").await.unwrap().unwrap()["key"], "SUP-1");
        assert_eq!(sim.oauth_token_requests(), before + 1);
        // Revoked upstream (the stored token is one Atlassian no longer knows): `Auth`,
        // fatal, naming what to do, never a token.
        let mut revoked = store.load().unwrap().unwrap();
        revoked.refresh_token = "revoked-token".into();
        store.save(&revoked).unwrap();
        sim.expire_access_tokens();
        let err = a.myself().await.unwrap_err();
        assert!(err.is_fatal(), "{err}");
        let text = err.to_string();
        assert!(text.contains("auth login"), "{text}");
        assert!(!text.contains("revoked-token") && !text.contains(&sim_app.client_secret));
        sim.shutdown().await;
    }

    /// The gateway's quota headers slow the client before the quota runs out: with 10
    /// requests an hour, once fewer than 2 remain the rest are spread over the hour.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_quota_near_its_end_spreads_the_remaining_requests() {
        use crate::jira::{ClientOptions, Credentials, JiraClient, RequestBudget};
        let (sim, app, base) = oauth_site(Some(10)).await;
        let http = reqwest::Client::new();
        let code = sim.oauth_consent("https://localhost/cb");
        let store = Arc::new(MemoryStore::default());
        store
            .save(&app.exchange_code(&http, &code, &base).await.unwrap())
            .unwrap();
        let grant = Grant::load(app, http, store).unwrap().unwrap();
        let budget = RequestBudget::new(2, 1000.0);
        let client = JiraClient::new(
            &grant.base_url().unwrap(),
            Credentials::OAuth(grant),
            budget.clone(),
            ClientOptions::default(),
        )
        .unwrap();
        for left in (2..10).rev() {
            client.myself().await.unwrap();
            assert_eq!(budget.pacing(), None, "{left} of 10 left: full speed");
        }
        client.myself().await.unwrap();
        let spacing = budget.pacing().expect("1 of 10 left: paced");
        // One request left in a window of (just under) an hour.
        assert!(
            spacing > Duration::from_secs(50 * 60) && spacing <= Duration::from_secs(3600),
            "{spacing:?}"
        );
        sim.shutdown().await;
    }
}
