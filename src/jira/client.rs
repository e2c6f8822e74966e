//! [`JiraClient`]: one account on one Jira base URL, sharing a [`RequestBudget`].
//!
//! Every request runs the same loop: take a budget slot, send, classify the answer. Success
//! returns; 401/403 and other permanent 4xx return an error at once; 429 and 503 wait for
//! `Retry-After` (or `Beta-Retry-After`) when given; other 5xx, transport errors and
//! truncated or garbled bodies back off exponentially with jitter (the `backon` policy), up to
//! `max_retries`. Only reads are sent, so every request is safe to repeat.

use std::fmt;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use backon::{BackoffBuilder, ExponentialBackoff, ExponentialBuilder};
use futures::StreamExt;
use reqwest::header::{ACCEPT, HeaderMap};
use reqwest::{Method, StatusCode};
use serde_json::Value;
use sha2::{Digest, Sha256};
use tokio::io::AsyncWriteExt;
use url::Url;

use super::auth::Credentials;
use super::budget::{RequestBudget, RequestStats, download_deadline};
use super::deployment::Deployment;
use super::error::{Error, Result};
use super::health::Health;
use super::jql::JqlDates;

/// Knobs of the request loop.
#[derive(Clone)]
pub struct ClientOptions {
    /// Time allowed for one JSON request (connect, send and read the body).
    pub timeout: Duration,
    /// Retries after the first attempt for transient failures (429, 5xx, broken bodies).
    pub max_retries: u32,
    /// First backoff delay; doubles per attempt, with jitter.
    pub min_backoff: Duration,
    /// Longest backoff delay (a `Retry-After` from Jira may be longer and is honoured).
    pub max_backoff: Duration,
    /// The HTTP(S) proxy every request goes through (its user information, if any, is the
    /// proxy's credentials). `None`: direct connections, whatever `HTTP_PROXY`,
    /// `HTTPS_PROXY` or `ALL_PROXY` say.
    pub proxy: Option<Url>,
    /// The budget of attachment bodies fetched from the media host that the attachment API
    /// redirects to (`[attachments] max_concurrency`), so downloads overlap with the main
    /// account's requests instead of holding its slots. `None`: the client's own budget.
    pub downloads: Option<Arc<RequestBudget>>,
    /// Cloud or Data Center: which paths, search paging and JQL dates the client uses.
    pub deployment: Deployment,
}

impl Default for ClientOptions {
    fn default() -> Self {
        ClientOptions {
            timeout: Duration::from_secs(60),
            max_retries: 10,
            min_backoff: Duration::from_millis(250),
            max_backoff: Duration::from_secs(30),
            proxy: None,
            downloads: None,
            deployment: Deployment::Cloud,
        }
    }
}

impl fmt::Debug for ClientOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The proxy's user information is a credential: shown as `***`.
        let proxy = self.proxy.as_ref().map(|url| {
            let mut shown = url.clone();
            if !shown.username().is_empty() || shown.password().is_some() {
                let _ = shown.set_password(None);
                let _ = shown.set_username("***");
            }
            shown.to_string()
        });
        f.debug_struct("ClientOptions")
            .field("timeout", &self.timeout)
            .field("max_retries", &self.max_retries)
            .field("min_backoff", &self.min_backoff)
            .field("max_backoff", &self.max_backoff)
            .field("proxy", &proxy)
            .field("deployment", &self.deployment)
            .finish()
    }
}

/// The result of streaming one attachment to disk.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Downloaded {
    /// Bytes written.
    pub size: u64,
    /// Hex SHA-256 of the content.
    pub sha256: String,
}

/// A client for one account on one base URL (the site, or the JSM gateway).
#[derive(Clone, Debug)]
pub struct JiraClient {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    http: reqwest::Client,
    /// The same client without redirects: an attachment's API request answers 303 to the
    /// media host, whose download then draws on `downloads` instead of `budget`.
    http_no_redirect: reqwest::Client,
    /// The budget of media-host downloads (`budget` unless [`ClientOptions::downloads`]).
    downloads: Arc<RequestBudget>,
    base: String,
    credentials: Credentials,
    budget: Arc<RequestBudget>,
    options: ClientOptions,
    health: Health,
    /// When `/myself` last answered 2xx (see [`ACCOUNT_CHECK_TTL`]).
    account_ok_at: std::sync::Mutex<Option<std::time::Instant>>,
}

/// How one attempt ended when it did not succeed.
enum Failure {
    /// Give up now with this error.
    Permanent(Error),
    /// Worth another try; `retry_after` is Jira's own instruction.
    Transient {
        what: String,
        retry_after: Option<Duration>,
        throttled: bool,
    },
    /// 401/403: the credentials, or only this item? Decided outside the budget slot (see
    /// [`JiraClient::refused`]).
    Refused { status: u16, message: String },
    /// A 2xx answer that looks like JSON but does not parse: retried once, then
    /// [`Error::Body`] (see [`body_failure`]).
    Unusable { message: String },
}

/// How long a successful `/myself` vouches for the credentials when a 401/403 on one item
/// must be told apart from wrong credentials.
const ACCOUNT_CHECK_TTL: Duration = Duration::from_secs(60);

/// Requests about the account or the whole site rather than one issue: a 401/403 on them
/// means the credentials are refused (fatal), never that one item is hidden.
fn is_account_level(path: &str) -> bool {
    const ACCOUNT_LEVEL: &[&str] = &[
        "/rest/api/3/myself",
        "/rest/api/3/field",
        "/rest/api/3/search",
        "/rest/api/2/myself",
        "/rest/api/2/field",
        "/rest/api/2/search",
        "/rest/api/2/serverInfo",
        "/rest/api/3/serverInfo",
    ];
    ACCOUNT_LEVEL.iter().any(|p| path.starts_with(p))
}

impl JiraClient {
    /// A client for `base_url` (e.g. `https://your-org.atlassian.net` or
    /// `https://api.atlassian.com/ex/jira/<cloud-id>`), drawing on `budget`.
    pub fn new(
        base_url: &Url,
        credentials: Credentials,
        budget: Arc<RequestBudget>,
        options: ClientOptions,
    ) -> Result<Self> {
        // Attachment content answers 303 to a media host; reqwest drops the Authorization
        // header when a redirect leaves the original host.
        let http = http_client(&options, reqwest::redirect::Policy::limited(5))?;
        let http_no_redirect = http_client(&options, reqwest::redirect::Policy::none())?;
        let base = base_url.as_str().trim_end_matches('/').to_string();
        let downloads = options.downloads.clone().unwrap_or_else(|| budget.clone());
        Ok(JiraClient {
            inner: Arc::new(Inner {
                http,
                http_no_redirect,
                downloads,
                health: Health::new(base.clone()),
                base,
                credentials,
                budget,
                options,
                account_ok_at: std::sync::Mutex::new(None),
            }),
        })
    }

    /// Whether this Jira is in an outage (several failed attempts in a row, no success
    /// since); see [`Health`].
    pub(crate) fn is_down(&self) -> bool {
        self.inner.health.is_down()
    }

    /// The account this client authenticates as (never a secret).
    pub fn account(&self) -> String {
        self.inner.credentials.account()
    }

    /// The root every request of this client goes to (with OAuth: the gateway).
    pub fn base_url(&self) -> &str {
        &self.inner.base
    }

    /// The credentials (for `check`: which kind, when an OAuth token expires).
    pub fn credentials(&self) -> &Credentials {
        &self.inner.credentials
    }

    /// Cloud or Data Center.
    pub fn deployment(&self) -> Deployment {
        self.inner.options.deployment
    }

    /// `/rest/api/{3|2}/{tail}` for this deployment.
    pub(crate) fn api(&self, tail: &str) -> String {
        self.deployment().api(tail)
    }

    /// How this site wants JQL time bounds: epoch milliseconds on Cloud; on Data Center
    /// local minutes in the account's time zone, which `/myself` names. Asked each time
    /// (once per sweep or backfill): a profile's zone may change while `run` runs, and a
    /// bound read in another zone than it was written in misses issues.
    pub async fn jql_dates(&self) -> Result<JqlDates> {
        if self.deployment() == Deployment::Cloud {
            return Ok(JqlDates::EpochMs);
        }
        let path = self.api("myself");
        let me = self.get_json(&path, &[]).await?;
        let unusable = |message: String| Error::Protocol {
            path: path.clone(),
            message,
        };
        let zone = me["timeZone"].as_str().ok_or_else(|| {
            unusable(
                "the account has no `timeZone`, so a JQL time bound cannot be written in it".into(),
            )
        })?;
        zone.parse::<chrono_tz::Tz>()
            .map(JqlDates::Local)
            .map_err(|_| {
                unusable(format!(
                    "the account's time zone {zone:?} is unknown, so JQL time bounds cannot be \
                     written in it"
                ))
            })
    }

    /// The shared budget's counters.
    pub fn stats(&self) -> &RequestStats {
        self.inner.budget.stats()
    }

    fn url(&self, path: &str) -> Result<Url> {
        Url::parse(&format!("{}{}", self.inner.base, path))
            .map_err(|e| Error::Setup(format!("bad URL for {path}: {e}")))
    }

    fn backoff(&self) -> ExponentialBackoff {
        ExponentialBuilder::new()
            .with_jitter()
            .with_min_delay(self.inner.options.min_backoff)
            .with_max_delay(self.inner.options.max_backoff)
            .without_max_times()
            .build()
    }

    /// GET a JSON document.
    pub(crate) async fn get_json(&self, path: &str, query: &[(&str, String)]) -> Result<Value> {
        self.json(Method::GET, path, query, None).await
    }

    /// Whether the credentials are known good: `/myself` answered within the last minute, or
    /// answers now ([`JiraClient::probe`]). Checked before the mirror removes anything
    /// because Jira said 404: a 404 while the account itself is refused or Jira is not
    /// answering is no proof that an issue is gone.
    pub(crate) async fn confirm_account(&self) -> Result<()> {
        if self.account_vouched() {
            Ok(())
        } else {
            self.probe().await
        }
    }

    /// `/myself` answered 2xx within [`ACCOUNT_CHECK_TTL`].
    fn account_vouched(&self) -> bool {
        self.inner
            .account_ok_at
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .is_some_and(|at| at.elapsed() < ACCOUNT_CHECK_TTL)
    }

    /// One attempt at `/myself`, without retries: does Jira answer, and accept these
    /// credentials? Used to tell a request that fails by itself (one unusable search page)
    /// from Jira failing, without waiting through a second round of retries in an outage.
    /// `Ok` when it answers 2xx; [`Error::Auth`] when refused; otherwise the failure.
    pub async fn probe(&self) -> Result<()> {
        let myself = self.api("myself");
        let url = self.url(&myself)?;
        self.with_retries_up_to(&myself, 0, || async {
            let request = self
                .authorized(Method::GET, url.clone())
                .await?
                .timeout(self.inner.options.timeout)
                .header(ACCEPT, "application/json");
            self.send(&myself, request).await.map(drop)
        })
        .await
    }

    /// POST a JSON body to a read-only endpoint (search) and parse the JSON answer.
    pub(crate) async fn post_json(&self, path: &str, body: &Value) -> Result<Value> {
        self.json(Method::POST, path, &[], Some(body)).await
    }

    async fn json(
        &self,
        method: Method,
        path: &str,
        query: &[(&str, String)],
        body: Option<&Value>,
    ) -> Result<Value> {
        let url = self.url(path)?;
        self.with_retries(path, || async {
            let mut request = self
                .authorized(method.clone(), url.clone())
                .await?
                .query(query)
                .timeout(self.inner.options.timeout)
                .header(ACCEPT, "application/json");
            if let Some(body) = body {
                request = request.json(body);
            }
            let response = self.send(path, request).await?;
            let bytes = response.bytes().await.map_err(|e| transport_failure(&e))?;
            crate::json::from_slice(&bytes).map_err(|e| body_failure(&bytes, &e))
        })
        .await
    }

    /// A request to `url` carrying the credentials.
    async fn authorized(
        &self,
        method: Method,
        url: Url,
    ) -> Result<reqwest::RequestBuilder, Failure> {
        self.with_credentials(self.inner.http.request(method, url))
            .await
    }

    /// `request` with the `Authorization` header of these credentials (an OAuth access
    /// token is refreshed first when it is about to expire).
    async fn with_credentials(
        &self,
        request: reqwest::RequestBuilder,
    ) -> Result<reqwest::RequestBuilder, Failure> {
        Ok(match &self.inner.credentials {
            Credentials::Basic { user, token } => request.basic_auth(user, Some(token)),
            Credentials::Bearer { token } => request.bearer_auth(token),
            Credentials::OAuth(grant) => {
                request.bearer_auth(grant.access_token().await.map_err(|e| match e {
                    // The authorization server failing or out of reach is passing.
                    Error::Exhausted { last, .. } => Failure::Transient {
                        what: format!("the OAuth token endpoint: {last}"),
                        retry_after: None,
                        throttled: false,
                    },
                    Error::Status { status, .. } if status >= 500 => Failure::Transient {
                        what: format!("the OAuth token endpoint: HTTP {status}"),
                        retry_after: None,
                        throttled: false,
                    },
                    e => Failure::Permanent(e),
                })?)
            }
        })
    }

    /// Sends one request; a non-2xx answer becomes a [`Failure`].
    async fn send(
        &self,
        path: &str,
        request: reqwest::RequestBuilder,
    ) -> Result<reqwest::Response, Failure> {
        match request.send().await {
            Err(e) => Err(transport_failure(&e)),
            Ok(response) => {
                self.inner.budget.observe_quota(response.headers());
                if response.status().is_success() {
                    Ok(response)
                } else {
                    Err(self.classify(path, response).await)
                }
            }
        }
    }

    /// The request loop: each attempt holds a budget slot while on the wire; between
    /// attempts [`Self::wait_or_give_up`] sleeps outside the slot or ends the request.
    async fn with_retries<T, F, Fut>(&self, path: &str, attempt: F) -> Result<T>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, Failure>>,
    {
        self.with_retries_up_to(path, self.inner.options.max_retries, attempt)
            .await
    }

    /// [`Self::with_retries`] with at most `max_retries` retries.
    async fn with_retries_up_to<T, F, Fut>(
        &self,
        path: &str,
        max_retries: u32,
        attempt: F,
    ) -> Result<T>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, Failure>>,
    {
        self.retry_loop(path, max_retries, true, attempt).await
    }

    /// The request loop; each attempt holds a slot of the budget while it runs when
    /// `hold_slot`, else the attempt takes the slots it needs itself (a download: one of
    /// the budget for the API request, one of the downloads budget for the media host).
    async fn retry_loop<T, F, Fut>(
        &self,
        path: &str,
        max_retries: u32,
        hold_slot: bool,
        mut attempt: F,
    ) -> Result<T>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, Failure>>,
    {
        let mut backoff = self.backoff();
        let mut attempts = 0u32;
        let mut unusable = false;
        let mut token_renewed = false;
        let myself = self.api("myself");
        loop {
            attempts += 1;
            let sent_at = std::time::Instant::now();
            let outcome = if hold_slot {
                let _slot = self.inner.budget.acquire().await;
                attempt().await
            } else {
                attempt().await
            };
            let failure = match outcome {
                Ok(value) => {
                    self.inner.health.succeeded();
                    if path == myself {
                        self.vouch_for_account();
                    }
                    return Ok(value);
                }
                Err(failure) => failure,
            };
            match &failure {
                Failure::Transient {
                    what,
                    throttled: false,
                    ..
                } => self.inner.health.failed(what),
                // A 404, 401 or odd body is still Jira answering; a 429 is Jira pacing us.
                _ => self.inner.health.succeeded(),
            }
            let failure = match failure {
                // An OAuth access token refused before its time (revoked, clock skew):
                // one more attempt with a fresh one.
                Failure::Refused { status: 401, .. }
                    if !token_renewed
                        && let Credentials::OAuth(grant) = &self.inner.credentials =>
                {
                    token_renewed = true;
                    grant.reject_older_than(sent_at).await;
                    continue;
                }
                Failure::Refused { status, message } => {
                    return Err(self.refused(path, status, message).await);
                }
                // The same unparseable answer twice is the data, not the wire.
                Failure::Unusable { message } if unusable => {
                    return Err(Error::Body {
                        path: path.to_string(),
                        message,
                    });
                }
                Failure::Unusable { message } => {
                    unusable = true;
                    Failure::Transient {
                        what: format!("unreadable JSON body ({message})"),
                        retry_after: None,
                        throttled: false,
                    }
                }
                other => other,
            };
            self.wait_or_give_up(path, failure, attempts, max_retries, &mut backoff)
                .await?
        }
    }

    /// The error for a 401/403 on `path`: [`Error::Auth`] (fatal) when `path` is about the
    /// account or the site, or when `/myself` is refused too; otherwise the credentials are
    /// fine and only this item is hidden from them: [`Error::Forbidden`]. `/myself` is asked
    /// outside any budget slot, at most once a minute while it keeps answering.
    async fn refused(&self, path: &str, status: u16, message: String) -> Error {
        let auth = || Error::Auth {
            account: self.inner.credentials.account(),
            status,
            path: path.to_string(),
            check: self.inner.credentials.what_to_check(),
        };
        if is_account_level(path) {
            return auth();
        }
        let vouched = self.account_vouched();
        // Refused too: the credentials. Jira failing meanwhile: no verdict on this item
        // either; that error (transient) is returned and the item tried again later.
        if !vouched && let Err(e) = Box::pin(self.get_json(&self.api("myself"), &[])).await {
            return e;
        }
        Error::Forbidden {
            account: self.inner.credentials.account(),
            status,
            path: path.to_string(),
            message,
        }
    }

    fn vouch_for_account(&self) {
        *self
            .inner
            .account_ok_at
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(std::time::Instant::now());
    }

    /// Sleeps before the next attempt, or returns the error that ends the request.
    async fn wait_or_give_up(
        &self,
        path: &str,
        failure: Failure,
        attempts: u32,
        max_retries: u32,
        backoff: &mut ExponentialBackoff,
    ) -> Result<()> {
        let (what, retry_after, throttled) = match failure {
            Failure::Permanent(e) => return Err(e),
            Failure::Transient {
                what,
                retry_after,
                throttled,
            } => (what, retry_after, throttled),
            Failure::Refused { status, message } => {
                return Err(self.refused(path, status, message).await);
            }
            Failure::Unusable { message } => {
                return Err(Error::Body {
                    path: path.to_string(),
                    message,
                });
            }
        };
        let stats = self.inner.budget.stats();
        if throttled {
            RequestStats::add(&stats.throttled, 1);
        } else {
            RequestStats::add(&stats.transient, 1);
        }
        if attempts > max_retries {
            return Err(Error::Exhausted {
                path: path.to_string(),
                attempts,
                last: what,
            });
        }
        let computed = backoff.next().unwrap_or(self.inner.options.max_backoff);
        // Retry-After is a floor: retrying earlier only earns a longer wait. A little jitter
        // on top keeps many throttled requests from returning in the same instant.
        let delay = match retry_after {
            Some(after) => after + after.mul_f64(rand::random::<f64>() * 0.2),
            None => computed,
        };
        tracing::debug!(path, attempts, delay_ms = delay.as_millis() as u64, cause = %what, "Retrying Jira request.");
        RequestStats::add(&stats.waited_ms, delay.as_millis() as u64);
        tokio::time::sleep(delay).await;
        Ok(())
    }

    /// Turns a non-2xx response into a permanent or transient failure.
    async fn classify(&self, path: &str, response: reqwest::Response) -> Failure {
        let status = response.status();
        let retry_after = retry_after(response.headers());
        match status {
            StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => {
                let body = response.text().await.unwrap_or_default();
                Failure::Refused {
                    status: status.as_u16(),
                    message: error_message(&body),
                }
            }
            // Only Jira's own 404 (its JSON error body) says the resource is gone: a proxy or
            // a misrouted path answering 404 with a page of its own must not delete anything.
            StatusCode::NOT_FOUND => {
                let body = response.text().await.unwrap_or_default();
                if is_jira_error_body(&body) {
                    Failure::Permanent(Error::NotFound {
                        path: path.to_string(),
                    })
                } else {
                    Failure::Permanent(Error::Status {
                        status: 404,
                        path: path.to_string(),
                        message: format!(
                            "not Jira's answer (no Jira error body): {}",
                            error_message(&body)
                        ),
                    })
                }
            }
            StatusCode::TOO_MANY_REQUESTS => Failure::Transient {
                what: "HTTP 429 Too Many Requests".into(),
                retry_after,
                throttled: true,
            },
            StatusCode::REQUEST_TIMEOUT => Failure::Transient {
                what: "HTTP 408".into(),
                retry_after,
                throttled: false,
            },
            s if s.is_server_error() => Failure::Transient {
                what: format!("HTTP {}", s.as_u16()),
                retry_after,
                throttled: false,
            },
            s => {
                let body = response.text().await.unwrap_or_default();
                Failure::Permanent(Error::Status {
                    status: s.as_u16(),
                    path: path.to_string(),
                    message: error_message(&body),
                })
            }
        }
    }

    /// Streams attachment `id` to `dest` (through a temp file beside it, fsynced and renamed),
    /// hashing as it goes. Stops with [`Error::TooLarge`] as soon as more than `max_bytes`
    /// arrive, whatever the metadata claimed. The request goes to this client's own base URL,
    /// never to a URL named in issue data, so credentials only travel to the configured site.
    ///
    /// Each attempt must finish within [`download_deadline`] of the expected size: the larger
    /// of `declared` (the attachment's `size` in the issue) and the `Content-Length`, else
    /// `max_bytes` when neither is known, never more than `max_bytes`. The client's read timeout only bounds the pause between
    /// two reads, so without the deadline a server trickling bytes could hold a worker for
    /// ever. An attempt past its deadline is a transient failure, retried like a 5xx; when
    /// the last attempt ended that way the result is [`Error::DownloadDeadline`].
    ///
    /// The rename into `dest` is not followed by an fsync of its folder here: the caller
    /// fsyncs the folder once after all of an issue's attachments, before recording them.
    pub(crate) async fn download_attachment(
        &self,
        id: &str,
        name: &str,
        dest: &Path,
        declared: Option<u64>,
        max_bytes: u64,
    ) -> Result<Downloaded> {
        if id.is_empty() || !id.bytes().all(|b| b.is_ascii_digit()) {
            return Err(Error::Protocol {
                path: "attachment".into(),
                message: format!("attachment id {id:?} is not numeric"),
            });
        }
        let path = self.attachment_path(id, name);
        let url = self.url(&path)?;
        let dir = dest.parent().unwrap_or(Path::new("."));
        let timeout = self.inner.options.timeout;
        // The deadline of the last attempt, when that attempt ran out of time.
        let missed: std::sync::Mutex<Option<Duration>> = std::sync::Mutex::new(None);
        let set_missed = |value| {
            *missed
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner) = value;
        };
        let result = self
            .retry_loop(&path, self.inner.options.max_retries, false, || async {
                set_missed(None);
                let mut deadline =
                    download_deadline(timeout, declared.unwrap_or(max_bytes).min(max_bytes));
                let missed_now = || {
                    set_missed(Some(deadline));
                    past_deadline(id, deadline, 0)
                };
                // The API request holds a slot of the main budget; a body it redirects to
                // is fetched (and streamed) under a slot of the downloads budget instead.
                // The deadline runs from when the request holding a slot starts: time spent
                // queued for a slot is not the media host's doing.
                let api_slot = self.inner.budget.acquire().await;
                let mut started = tokio::time::Instant::now();
                let opened =
                    tokio::time::timeout_at(started + deadline, self.open_attachment(&path, &url))
                        .await
                        .map_err(|_| missed_now())??;
                let (response, _slot) = match opened {
                    Opened::Body(response) => (response, api_slot),
                    // Data Center serves attachments itself: a redirect is its login page
                    // (the credentials do not reach attachments), never the file.
                    Opened::Redirect(location) if self.deployment() == Deployment::DataCenter => {
                        return Err(Failure::Permanent(Error::Protocol {
                            path: path.clone(),
                            message: format!(
                                "redirected to {} instead of the file (a login page?)",
                                location.path()
                            ),
                        }));
                    }
                    Opened::Redirect(location) => {
                        drop(api_slot);
                        let media_slot = self.inner.downloads.acquire().await;
                        started = tokio::time::Instant::now();
                        let request = self.send(&path, self.media_request(location).await?);
                        let response = tokio::time::timeout_at(started + deadline, request)
                            .await
                            .map_err(|_| missed_now())??;
                        (response, media_slot)
                    }
                };
                // Now the body's announced size is known too; a body announced larger than the
                // issue said gets the time for its size.
                let expected = match (declared, response.content_length()) {
                    (Some(d), Some(length)) => d.max(length),
                    (Some(known), None) | (None, Some(known)) => known,
                    (None, None) => max_bytes,
                };
                deadline = download_deadline(timeout, expected.min(max_bytes));
                let limits = StreamLimits {
                    max_bytes,
                    deadline: started + deadline,
                };
                stream_to_file(response, id, dir, dest, limits)
                    .await
                    .map_err(|e| match e {
                        StreamError::Permanent(e) => Failure::Permanent(e),
                        StreamError::Transient(what) => Failure::Transient {
                            what,
                            retry_after: None,
                            throttled: false,
                        },
                        StreamError::Deadline { received } => {
                            set_missed(Some(deadline));
                            past_deadline(id, deadline, received)
                        }
                    })
            })
            .await;
        let missed = *missed
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        match (result, missed) {
            (Err(Error::Exhausted { attempts, .. }), Some(deadline)) => {
                Err(Error::DownloadDeadline {
                    id: id.to_string(),
                    deadline_secs: deadline.as_secs_f64(),
                    attempts,
                })
            }
            (result, _) => result,
        }
    }
}

/// What the attachment API answered: the body itself (Jira Data Center, a proxy) or where
/// to fetch it (Jira Cloud's media host).
enum Opened {
    Body(reqwest::Response),
    Redirect(Url),
}

impl JiraClient {
    /// The attachment API request of a download, without following a redirect.
    async fn open_attachment(&self, path: &str, url: &Url) -> Result<Opened, Failure> {
        let request = self
            .with_credentials(
                self.inner
                    .http_no_redirect
                    .request(Method::GET, url.clone()),
            )
            .await?;
        let response = request.send().await.map_err(|e| transport_failure(&e))?;
        let status = response.status();
        if status.is_redirection() {
            let location = response
                .headers()
                .get(reqwest::header::LOCATION)
                .and_then(|v| v.to_str().ok())
                .and_then(|l| url.join(l).ok())
                .ok_or_else(|| {
                    Failure::Permanent(Error::Protocol {
                        path: path.to_string(),
                        message: format!("HTTP {status} without a usable Location"),
                    })
                })?;
            return Ok(Opened::Redirect(location));
        }
        if status.is_success() {
            Ok(Opened::Body(response))
        } else {
            Err(self.classify(path, response).await)
        }
    }

    /// The request for an attachment body at `location`: with the credentials only when it
    /// is on Jira's own origin (scheme, host and port), as reqwest's redirects would do.
    async fn media_request(&self, location: Url) -> Result<reqwest::RequestBuilder, Failure> {
        let same_origin =
            Url::parse(&self.inner.base).is_ok_and(|base| base.origin() == location.origin());
        if same_origin {
            self.authorized(Method::GET, location).await
        } else {
            Ok(self.inner.http.request(Method::GET, location))
        }
    }

    /// Where attachment `id` (named `name`) is read: the attachment API on Cloud (which
    /// redirects to the media host), `/secure/attachment/{id}/{name}` on Data Center (which
    /// looks the file up by id and serves it itself).
    fn attachment_path(&self, id: &str, name: &str) -> String {
        match self.deployment() {
            Deployment::Cloud => self.api(&format!("attachment/content/{id}")),
            Deployment::DataCenter => {
                let encoded: String =
                    url::form_urlencoded::byte_serialize(name.as_bytes()).collect();
                // Form encoding writes a space as `+`; in a path it must be `%20`. A name of
                // dots only (`..`, even escaped) would be resolved away with the id before
                // it: left out, as Jira finds the file by its id.
                let encoded = if encoded.bytes().all(|b| b == b'.') {
                    String::new()
                } else {
                    encoded.replace('+', "%20")
                };
                format!("/secure/attachment/{id}/{encoded}")
            }
        }
    }

    /// Counters of the downloads budget when it is not the client's own.
    pub(crate) fn download_stats(&self) -> Option<&RequestStats> {
        (!Arc::ptr_eq(&self.inner.downloads, &self.inner.budget))
            .then(|| self.inner.downloads.stats())
    }
}

/// A reqwest client with the settings every Jira request uses (proxy, timeouts, user agent),
/// following no redirect: for requests outside [`JiraClient`] (the OAuth endpoints).
pub(crate) fn plain_http_client(options: &ClientOptions) -> Result<reqwest::Client> {
    http_client(options, reqwest::redirect::Policy::none())
}

/// A reqwest client with the settings every Jira request uses, and `redirect`.
fn http_client(
    options: &ClientOptions,
    redirect: reqwest::redirect::Policy,
) -> Result<reqwest::Client> {
    let builder = reqwest::Client::builder()
        .user_agent(concat!("jira-mirror/", env!("CARGO_PKG_VERSION")))
        .connect_timeout(Duration::from_secs(15))
        .read_timeout(options.timeout)
        .redirect(redirect);
    // The credentials go through a proxy only when the configuration names one: by default
    // reqwest would follow HTTP_PROXY / HTTPS_PROXY / ALL_PROXY from whatever environment
    // the service was started in.
    let builder = match &options.proxy {
        Some(url) => builder.proxy(
            reqwest::Proxy::all(url.clone())
                // reqwest's message could quote the URL, and with it the password.
                .map_err(|_| Error::Setup("the proxy URL is not usable".into()))?,
        ),
        None => builder.no_proxy(),
    };
    builder.build().map_err(|e| Error::Setup(e.to_string()))
}

/// The transient failure of a download attempt that ran out of time.
fn past_deadline(id: &str, deadline: Duration, received: u64) -> Failure {
    Failure::Transient {
        what: format!(
            "attachment {id} not downloaded within its deadline of {:.1} s ({received} bytes received)",
            deadline.as_secs_f64()
        ),
        retry_after: None,
        throttled: false,
    }
}

enum StreamError {
    Permanent(Error),
    Transient(String),
    /// The attempt's deadline passed after `received` bytes.
    Deadline {
        received: u64,
    },
}

/// What bounds one streamed download.
struct StreamLimits {
    /// Stop with [`Error::TooLarge`] past this many bytes.
    max_bytes: u64,
    /// Stop with [`StreamError::Deadline`] when the body is not complete by then.
    deadline: tokio::time::Instant,
}

async fn stream_to_file(
    response: reqwest::Response,
    id: &str,
    dir: &Path,
    dest: &Path,
    limits: StreamLimits,
) -> Result<Downloaded, StreamError> {
    let max_bytes = limits.max_bytes;
    let too_large = || {
        StreamError::Permanent(Error::TooLarge {
            id: id.to_string(),
            limit: max_bytes,
        })
    };
    if response.content_length().is_some_and(|n| n > max_bytes) {
        return Err(too_large());
    }
    let io = |source: std::io::Error| {
        StreamError::Permanent(Error::Io {
            path: dest.display().to_string(),
            source,
        })
    };
    let temp = tempfile::Builder::new()
        .prefix(".part-")
        .permissions(crate::store::archive::file_permissions())
        .tempfile_in(dir)
        .map_err(io)?;
    let (file, temp_path) = temp.into_parts();
    let mut file = tokio::fs::File::from_std(file);
    let mut hasher = Sha256::new();
    let mut size = 0u64;
    let mut body = response.bytes_stream();
    loop {
        // Only the wait for the network is bounded: a write to the local disk is never cut.
        let Ok(next) = tokio::time::timeout_at(limits.deadline, body.next()).await else {
            return Err(StreamError::Deadline { received: size });
        };
        let Some(chunk) = next else {
            break;
        };
        let chunk =
            chunk.map_err(|e| StreamError::Transient(format!("download broke off: {e}")))?;
        size += chunk.len() as u64;
        if size > max_bytes {
            return Err(too_large());
        }
        hasher.update(&chunk);
        file.write_all(&chunk).await.map_err(io)?;
    }
    file.flush().await.map_err(io)?;
    file.sync_all().await.map_err(io)?;
    drop(file);
    temp_path.persist(dest).map_err(|e| io(e.error))?;
    #[cfg(test)]
    crate::store::archive::journal::record(crate::store::archive::journal::Step::Renamed(
        dest.to_path_buf(),
    ));
    Ok(Downloaded {
        size,
        sha256: hex::encode(hasher.finalize()),
    })
}

/// A 2xx body that did not parse. Cut short (the parser ran out of input) or not JSON at all
/// (an HTML page from a proxy or an error page with status 200): a passing fault, retried
/// like a 5xx. JSON that breaks in the middle: [`Failure::Unusable`], which a second identical
/// failure makes final.
fn body_failure(bytes: &[u8], e: &serde_json::Error) -> Failure {
    let looks_like_json = bytes
        .iter()
        .find(|b| !b.is_ascii_whitespace())
        .is_some_and(|b| *b == b'{' || *b == b'[');
    if e.is_eof() || !looks_like_json {
        Failure::Transient {
            what: format!("unreadable JSON body ({e})"),
            retry_after: None,
            throttled: false,
        }
    } else {
        Failure::Unusable {
            message: e.to_string(),
        }
    }
}

fn transport_failure(e: &reqwest::Error) -> Failure {
    // reqwest's messages name the URL, which carries no credential (those travel in a header).
    Failure::Transient {
        what: crate::with_cause(e),
        retry_after: None,
        throttled: false,
    }
}

/// `Retry-After` as seconds or an HTTP date; `Beta-Retry-After` as a fallback (Jira Cloud
/// sends the latter on some 429s).
fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let value = headers
        .get("retry-after")
        .or_else(|| headers.get("beta-retry-after"))?
        .to_str()
        .ok()?
        .trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs.min(3600)));
    }
    let when = chrono::DateTime::parse_from_rfc2822(value).ok()?;
    let wait = when.with_timezone(&chrono::Utc) - chrono::Utc::now();
    Some(
        wait.to_std()
            .unwrap_or(Duration::ZERO)
            .min(Duration::from_secs(3600)),
    )
}

/// Whether `body` is Jira's JSON error shape: an object with `errorMessages` (a list) or
/// `errors` (an object), as the platform API sends, or `errorMessage` (the service desk API).
fn is_jira_error_body(body: &str) -> bool {
    serde_json::from_str::<Value>(body).is_ok_and(|v| {
        v["errorMessages"].is_array() || v["errors"].is_object() || v["errorMessage"].is_string()
    })
}

/// Jira's `errorMessages`/`errors`, or the start of a non-JSON body, on one line.
fn error_message(body: &str) -> String {
    if let Ok(v) = serde_json::from_str::<Value>(body) {
        let mut parts: Vec<String> = v["errorMessages"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|m| m.as_str().map(str::to_string))
            .collect();
        if let Some(errors) = v["errors"].as_object() {
            parts.extend(
                errors
                    .iter()
                    .map(|(k, m)| format!("{k}: {}", m.as_str().unwrap_or(""))),
            );
        }
        if let Some(m) = v["errorMessage"].as_str() {
            parts.push(m.to_string());
        }
        if !parts.is_empty() {
            return parts.join("; ");
        }
    }
    let one_line: String = body
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .take(200)
        .collect();
    one_line.trim().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    #[test]
    fn retry_after_seconds_and_dates() {
        let mut h = HeaderMap::new();
        h.insert("retry-after", HeaderValue::from_static("7"));
        assert_eq!(retry_after(&h), Some(Duration::from_secs(7)));
        let mut h = HeaderMap::new();
        h.insert("beta-retry-after", HeaderValue::from_static("2"));
        assert_eq!(retry_after(&h), Some(Duration::from_secs(2)));
        let mut h = HeaderMap::new();
        h.insert(
            "retry-after",
            HeaderValue::from_static("Wed, 21 Oct 2015 07:28:00 GMT"),
        );
        assert_eq!(retry_after(&h), Some(Duration::ZERO));
        assert_eq!(retry_after(&HeaderMap::new()), None);
    }

    #[test]
    fn only_jira_shaped_bodies_count_as_jira_errors() {
        assert!(is_jira_error_body(
            r#"{"errorMessages":["Issue does not exist or you do not have permission to see it."],"errors":{}}"#
        ));
        assert!(is_jira_error_body(
            r#"{"errorMessage":"No request","i18nErrorMessage":{}}"#
        ));
        for other in [
            "<html><body>404 Not Found</body></html>",
            "",
            "{}",
            r#"{"message":"not found"}"#,
            "Not Found",
        ] {
            assert!(!is_jira_error_body(other), "{other}");
        }
    }

    #[test]
    fn error_messages_are_one_line() {
        assert_eq!(
            error_message(r#"{"errorMessages":["Bad JQL"],"errors":{"jql":"oops"}}"#),
            "Bad JQL; jql: oops"
        );
        assert_eq!(
            error_message("<html>\nbroken</html>"),
            "<html> broken</html>"
        );
    }

    /// A trickling attachment runs out of time on every attempt and ends as
    /// `DownloadDeadline` naming it, leaving no file; another of the same issue downloads.
    #[tokio::test]
    async fn a_trickling_download_fails_by_its_deadline_after_the_retries() {
        use crate::simulator::{Faults, SimConfig, Simulator, SlowAttachment};
        let sim = Simulator::start(SimConfig {
            issues: 1,
            ..SimConfig::default()
        })
        .await
        .unwrap();
        let key = sim.issue_keys()[0].clone();
        let attachments = sim.issue(&key).unwrap()["fields"]["attachment"].clone();
        let of_size = |size: u64| {
            attachments
                .as_array()
                .unwrap()
                .iter()
                .find(|a| a["size"] == size)
                .and_then(|a| a["id"].as_str())
                .unwrap()
                .to_string()
        };
        let (slow, fine) = (of_size(1234), of_size(300));
        // 1,234 bytes in 64-byte chunks, 200 ms apart: about 4 s, against a deadline of about
        // 1 s (the request timeout) and a read timeout (1 s) that each pause stays under.
        sim.set_faults(Faults {
            slow_attachment: Some(SlowAttachment {
                id: slow.parse().unwrap(),
                chunk_bytes: 64,
                pause: Duration::from_millis(200),
            }),
            ..Faults::default()
        });
        let c = sim.config();
        let client = JiraClient::new(
            &Url::parse(&sim.base_url()).unwrap(),
            Credentials::basic(c.email.clone(), c.api_token.clone()),
            RequestBudget::new(2, 1000.0),
            ClientOptions {
                timeout: Duration::from_secs(1),
                max_retries: 1,
                min_backoff: Duration::from_millis(10),
                max_backoff: Duration::from_millis(10),
                ..ClientOptions::default()
            },
        )
        .unwrap();
        let dir = tempfile::tempdir().unwrap();
        for declared in [Some(1234), None] {
            let dest = dir.path().join("slow");
            let err = client
                .download_attachment(&slow, "slow.bin", &dest, declared, 1024 * 1024)
                .await
                .unwrap_err();
            let Error::DownloadDeadline {
                id,
                deadline_secs,
                attempts,
            } = &err
            else {
                panic!("{err}");
            };
            assert_eq!((id.as_str(), *attempts), (slow.as_str(), 2), "{err}");
            // From the declared size, or without one the Content-Length: 1 s + 1,234 B at 64 KiB/s.
            let expected = download_deadline(Duration::from_secs(1), 1234).as_secs_f64();
            assert!((deadline_secs - expected).abs() < 1e-9, "{deadline_secs}");
            let text = err.to_string();
            assert!(
                text.contains(&format!("attachment {slow}")) && text.contains("deadline of 1.0 s"),
                "{text}"
            );
            assert!(!dest.exists());
        }
        let media = |id: &str| {
            sim.requests()
                .iter()
                .filter(|r| r.host == "media" && r.path.ends_with(&format!("/{id}")))
                .count()
        };
        assert_eq!(media(&slow), 4, "two attempts per download");
        let ok = client
            .download_attachment(
                &fine,
                "fine.txt",
                &dir.path().join("fine"),
                Some(300),
                1024 * 1024,
            )
            .await
            .unwrap();
        assert_eq!(ok.size, 300);
        let names: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, ["fine"], "no temp file left behind");
        sim.shutdown().await;
    }

    #[test]
    fn data_center_attachment_paths_keep_the_id_whatever_the_name() {
        let client = |deployment| {
            JiraClient::new(
                &Url::parse("https://jira.example.com/ctx/").unwrap(),
                Credentials::Bearer { token: "t".into() },
                RequestBudget::new(1, 1.0),
                ClientOptions {
                    deployment,
                    ..ClientOptions::default()
                },
            )
            .unwrap()
        };
        let dc = client(Deployment::DataCenter);
        for (name, path) in [
            ("report 1.pdf", "/secure/attachment/10/report%201.pdf"),
            ("..", "/secure/attachment/10/"),
            ("../../x", "/secure/attachment/10/..%2F..%2Fx"),
            ("", "/secure/attachment/10/"),
            ("a?b#c", "/secure/attachment/10/a%3Fb%23c"),
        ] {
            assert_eq!(dc.attachment_path("10", name), path);
            let url = dc.url(path).unwrap();
            assert!(
                url.path().starts_with("/ctx/secure/attachment/10/"),
                "{name}: {url}"
            );
            assert!(url.query().is_none() && url.fragment().is_none(), "{url}");
        }
        assert_eq!(
            client(Deployment::Cloud).attachment_path("10", ".."),
            "/rest/api/3/attachment/content/10"
        );
    }

    #[test]
    fn debug_hides_the_proxy_credentials() {
        let options = ClientOptions {
            proxy: Some(Url::parse("http://proxy-user:proxy-pw-5150@127.0.0.1:3128").unwrap()),
            ..ClientOptions::default()
        };
        let shown = format!("{options:?}");
        assert!(shown.contains("http://***@127.0.0.1:3128/"), "{shown}");
        assert!(!shown.contains("proxy-pw-5150") && !shown.contains("proxy-user"));
        let client = JiraClient::new(
            &Url::parse("https://example.atlassian.net/").unwrap(),
            Credentials::basic("a@b.c", "s3cr3t"),
            RequestBudget::new(1, 1.0),
            options,
        )
        .unwrap();
        let shown = format!("{client:?}");
        assert!(
            !shown.contains("proxy-pw-5150") && !shown.contains("s3cr3t"),
            "{shown}"
        );
    }
}
