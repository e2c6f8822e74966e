//! The configuration file: TOML on disk → a validated [`Config`], with *every* problem
//! reported at once.
//!
//! # Why two phases
//!
//! An operator who runs `jira-mirror validate` wants the whole list of what is wrong, not the
//! first item of it followed by another round trip per fix. A single `#[derive(Deserialize)]`
//! into the runtime types cannot do that: serde stops at the first unknown key or type error,
//! and types such as [`url::Url`] or [`std::net::SocketAddr`] would turn a wrong value into an
//! opaque parse failure. So loading is split (the layout vector's `ConfigBuilder` → `Config`
//! uses, and ripgrep's `LowArgs` → `HiArgs`):
//!
//! 1. **Raw** (`raw.rs`): the text is parsed into a [`toml::Value`]; `${VAR}` references are
//!    replaced in string values only (`interpolate.rs`), so a token can never break the TOML
//!    syntax or inject keys; then each top-level section is deserialized *separately* into a
//!    permissive raw struct whose fields are all `Option`s. Unknown keys are collected with
//!    `serde_ignored` (instead of `deny_unknown_fields`, which stops at the first), and a type
//!    error removes just the offending key and retries, so one bad value hides nothing else.
//! 2. **Validate** (`validate.rs`): the raw structs become the runtime types below, applying
//!    defaults, checking ranges, URLs, cron expressions, `[fields]` column names and
//!    cross-key rules, and pushing every problem onto one list.
//!
//! A key that already failed in an earlier step is not reported again by a later one, so each
//! broken key yields exactly one line. Every line starts with the key path
//! (`jira.base_url: …`); no line ever contains the value of a secret (`api_token`,
//! `password`, `secret`) or of a substituted environment variable.
//!
//! Things worth knowing but not wrong (e.g. plain `http://` to a non-loopback host where
//! `allow_insecure_http` allows it, or a secret written in a file that others can read) are
//! returned as [`Config::warnings`] for the caller to log.

mod interpolate;
mod raw;
#[cfg(test)]
mod tests;
mod validate;

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use url::Url;

use crate::jira::Deployment;

/// Default `data_dir`, relative to the directory of the config file.
pub const DEFAULT_DATA_DIR: &str = "./data";
/// Default `[jira] max_concurrency`: concurrent requests to Jira.
pub const DEFAULT_MAX_CONCURRENCY: usize = 4;
/// Default `[jira] max_requests_per_second`: the client-side request budget.
pub const DEFAULT_MAX_REQUESTS_PER_SECOND: f64 = 10.0;
/// Default `[jira_sla] max_concurrency`: concurrent requests of the JSM account, a budget of
/// its own (the API gateway limits that account apart from the main one).
pub const DEFAULT_SLA_MAX_CONCURRENCY: usize = 4;
/// Default `[jira_sla] max_requests_per_second`.
pub const DEFAULT_SLA_MAX_REQUESTS_PER_SECOND: f64 = 10.0;
/// Default `[attachments] max_concurrency`: attachment bodies downloaded at once from the
/// media host (the API request that redirects there draws on the `[jira]` budget).
pub const DEFAULT_ATTACHMENT_MAX_CONCURRENCY: usize = 4;
/// Default `[output] file_mode`: readable by everyone the umask allows.
pub const DEFAULT_FILE_MODE: u32 = 0o644;
/// Default `[output] dir_mode`.
pub const DEFAULT_DIR_MODE: u32 = 0o755;
/// Default `[jira] request_timeout_secs`: whole-request timeout.
pub const DEFAULT_REQUEST_TIMEOUT_SECS: u64 = 60;
/// Default `[jira] max_retries`: retries of one idempotent request before it fails.
pub const DEFAULT_MAX_RETRIES: u32 = 8;
/// Default `[sweep] schedule`: every minute, at second 0.
pub const DEFAULT_SWEEP_SCHEDULE: &str = "0 * * * * *";
/// Default `[sweep] overlap_secs`: how far before the watermark a sweep re-reads.
pub const DEFAULT_SWEEP_OVERLAP_SECS: u64 = 300;
/// Default `[imap] port` (IMAP over implicit TLS).
pub const DEFAULT_IMAP_PORT: u16 = 993;
/// Default `[imap] mailbox`.
pub const DEFAULT_IMAP_MAILBOX: &str = "INBOX";
/// Default `[imap] poll_interval_secs`.
pub const DEFAULT_IMAP_POLL_INTERVAL_SECS: u64 = 60;
/// Default `[imap] max_message_bytes` (10 MiB).
pub const DEFAULT_IMAP_MAX_MESSAGE_BYTES: u64 = 10 * 1024 * 1024;
/// Default `[imap] max_attempts`: counted failed attempts before a mail is given up.
pub const DEFAULT_IMAP_MAX_ATTEMPTS: u32 = 5;
/// Default `[webhook] retention_days`.
pub const DEFAULT_WEBHOOK_RETENTION_DAYS: u32 = 30;
/// Default `[webhook] max_connections`: connections the receiver keeps open at once (the
/// deliveries handled at once are capped at 64 anyway; Jira opens a few).
pub const DEFAULT_WEBHOOK_MAX_CONNECTIONS: usize = 64;
/// Default `[webhook] header_timeout_ms`: time for a request's headers, from the
/// connection's start or its previous response (so also the idle keep-alive timeout).
pub const DEFAULT_WEBHOOK_HEADER_TIMEOUT_MS: u64 = 10_000;
/// Default `[webhook] body_timeout_ms`: time for a request's body, once its headers arrived.
pub const DEFAULT_WEBHOOK_BODY_TIMEOUT_MS: u64 = 10_000;
/// Default `[webhook] max_age_secs`: deliveries whose payload `timestamp` is older are
/// refused. Jira Cloud retries a failed delivery for up to 30 minutes with its original body
/// (and timestamp), so the window is twice that.
pub const DEFAULT_WEBHOOK_MAX_AGE_SECS: u64 = 3600;
/// The shortest `[webhook] secret` accepted, in bytes. HMAC-SHA256 is only as strong as its
/// key: a signed delivery seen once (a log, a proxy, a capture) lets anyone test guesses
/// offline at full speed, so a short secret can be recovered and then used to sign
/// anything. 16 random characters are out of reach; Jira's generated secrets are longer.
pub const MIN_WEBHOOK_SECRET_BYTES: usize = 16;
/// Default `[sla] first_response`: the JSM SLA name feeding the `first_response_*` columns.
pub const DEFAULT_SLA_FIRST_RESPONSE: &str = "Time to first response";
/// Default `[sla] time_to_resolution`: the JSM SLA name feeding `time_to_resolution_*`.
pub const DEFAULT_SLA_TIME_TO_RESOLUTION: &str = "Time to resolution";
/// Default `[sla_poll] schedule`: every 15 minutes.
pub const DEFAULT_SLA_POLL_SCHEDULE: &str = "0 */15 * * * *";
/// Default `[reconcile] schedule`: daily at 03:00.
pub const DEFAULT_RECONCILE_SCHEDULE: &str = "0 0 3 * * *";
/// Default `[run] max_attempts`: counted failures before the daemon parks an issue.
pub const DEFAULT_RUN_MAX_ATTEMPTS: i64 = 5;
/// Default `[run] shutdown_grace_secs`.
pub const DEFAULT_RUN_SHUTDOWN_GRACE_SECS: u64 = 30;
/// Default `[run] quarantine_days`: how long removed issues' files are kept.
pub const DEFAULT_RUN_QUARANTINE_DAYS: u32 = 30;
/// Without `[run] max_deletions`, at most this many issues are removed in 24 hours …
pub const DEFAULT_MAX_DELETIONS_FLOOR: u64 = 50;
/// … or this share of the mirror (per cent), whichever is larger.
pub const DEFAULT_MAX_DELETIONS_PERCENT: u64 = 2;
/// Default `[attachments] max_bytes`: 50 MiB.
pub const DEFAULT_ATTACHMENT_MAX_BYTES: u64 = 52_428_800;

/// The built-in columns of the `issues` table (docs/tables.md).
///
/// A `[fields]` mapping may not name one of these: the custom column would shadow or
/// duplicate a built-in one.
pub const ISSUE_COLUMNS: &[&str] = &[
    "issue_id",
    "issue_key",
    "project_key",
    "summary",
    "description",
    "issue_type",
    "status",
    "status_category",
    "priority",
    "resolution",
    "assignee",
    "assignee_account_id",
    "reporter",
    "reporter_account_id",
    "creator",
    "labels",
    "components",
    "fix_versions",
    "parent_key",
    "created_at",
    "updated_at",
    "resolved_at",
    "due_date",
    "comment_count",
    "attachment_count",
    "first_response_elapsed_millis",
    "first_response_goal_millis",
    "first_response_remaining_millis",
    "first_response_breached",
    "time_to_resolution_elapsed_millis",
    "time_to_resolution_goal_millis",
    "time_to_resolution_remaining_millis",
    "time_to_resolution_breached",
    "project_name",
    "environment",
    "affects_versions",
    "security_level",
    "sprint",
    "votes",
    "watchers",
    "time_original_estimate_seconds",
    "time_remaining_estimate_seconds",
    "time_spent_seconds",
    "status_changed_at",
    "last_comment_at",
    "custom_fields",
];

/// The fully validated configuration every component is built from.
///
/// Obtain one with [`Config::load`] (or [`Config::from_str_with_env`] in tests); a value
/// built that way has passed every rule in `docs/configuration.md`.
#[derive(Debug, Clone)]
pub struct Config {
    /// Root of everything stored locally: `raw/`, `parquet/`, `state.db`. Absolute when
    /// loaded from a file (relative paths are resolved against the config file's directory,
    /// so the service does not depend on its working directory).
    pub data_dir: PathBuf,
    /// The Jira site that is mirrored and the scope (`jql`) of the mirror.
    pub jira: JiraConfig,
    /// Optional second account (JSM agent) used only to read SLA fields.
    pub jira_sla: Option<JiraSlaConfig>,
    /// OAuth 2.0 (3LO) instead of `[jira]`'s API token (Cloud).
    pub oauth: Option<OAuthConfig>,
    /// The incremental JQL sweep run by `run`.
    pub sweep: SweepConfig,
    /// The optional mailbox watched for Jira notification e-mails.
    pub imap: Option<ImapConfig>,
    /// The optional signed webhook receiver (cargo feature `webhook`).
    pub webhook: Option<WebhookConfig>,
    /// Which JSM SLAs feed the `issues` table's SLA columns.
    pub sla: SlaNames,
    /// When `run` refreshes SLA and status of open issues.
    pub sla_poll: ScheduleConfig,
    /// When `run` takes the id census that detects deleted and moved issues.
    pub reconcile: ScheduleConfig,
    /// Custom field id (`customfield_10100`) → column name in `issues` (`severity`).
    pub fields: BTreeMap<String, String>,
    /// Whether and up to which size attachments are downloaded.
    pub attachments: AttachmentsConfig,
    /// Optional folder that receives an atomic copy of every changed Parquet file.
    pub distribution: Option<DistributionConfig>,
    /// Modes of the files and folders the mirror writes.
    pub output: OutputConfig,
    /// How the daemon (`run`) retries and stops.
    pub run: RunConfig,
    /// Things that are allowed but probably unintended (e.g. plain `http://` to a remote
    /// host), each starting with its key path. Callers log them at WARN.
    pub warnings: Vec<String>,
}

/// `[jira]`: the site that is mirrored.
#[derive(Debug, Clone, PartialEq)]
pub struct JiraConfig {
    /// Site root, e.g. `https://your-org.atlassian.net/`. Its path always ends with `/`, so
    /// `base_url.join("rest/api/3/search/jql")` keeps any path prefix (Data Center context
    /// path, `api.atlassian.com/ex/jira/<cloud-id>/`).
    pub base_url: Url,
    /// `cloud` or `data_center`; `None`: decided from the host name, else by asking the
    /// site (see [`crate::jira::Deployment`]).
    pub deployment: Option<Deployment>,
    /// Account e-mail (user name on Data Center) for basic authentication; empty on Data
    /// Center when `api_token` is a personal access token (sent as Bearer), and with OAuth.
    pub email: String,
    /// API token (password with a Data Center user name, or a personal access token
    /// without one); empty with OAuth (`[oauth]`).
    pub api_token: Secret,
    /// The mirror's scope, without `ORDER BY`: sweeps add the `updated >=` bound and ordering.
    pub jql: String,
    /// Maximum concurrent requests to Jira (1..=64); `--parallel N` overrides it for one run.
    pub max_concurrency: usize,
    /// Client-side request budget shared by every request to Jira and the JSM gateway, on
    /// top of 429/`Retry-After` handling.
    pub max_requests_per_second: f64,
    /// Timeout for one whole HTTP request, in seconds.
    pub request_timeout_secs: u64,
    /// How many times an idempotent request is retried (transient errors, 429, 503) before
    /// the issue is recorded as failed.
    pub max_retries: u32,
    /// The HTTP(S) proxy for every request to Jira and the JSM account; `None`: direct, and
    /// the proxy environment variables (`HTTPS_PROXY`, …) are ignored.
    pub proxy: Option<ProxyUrl>,
}

impl JiraConfig {
    /// Whether the site is certainly Jira Cloud: configured so, or an Atlassian Cloud host.
    pub fn is_cloud(&self) -> bool {
        match self.deployment {
            Some(d) => d == Deployment::Cloud,
            None => self
                .base_url
                .host_str()
                .and_then(Deployment::from_host)
                .is_some(),
        }
    }
}

/// `[oauth]`: an OAuth 2.0 (3LO) app for Jira Cloud, used instead of an API token (the
/// grant itself comes from `jira-mirror auth login` and lives in `state.db`).
#[derive(Debug, Clone, PartialEq)]
pub struct OAuthConfig {
    /// The app's client id (developer.atlassian.com console).
    pub client_id: String,
    /// The app's secret.
    pub client_secret: Secret,
    /// The app's callback URL; the browser is sent there with the code, which the operator
    /// pastes back. Nothing has to listen at it.
    pub redirect_uri: String,
    /// Scopes asked for (default: [`crate::jira::oauth::DEFAULT_SCOPES`]).
    pub scopes: Vec<String>,
    /// Atlassian's authorization server (`https://auth.atlassian.com/`).
    pub auth_url: Url,
    /// Atlassian's API gateway (`https://api.atlassian.com/`).
    pub api_url: Url,
}

/// `[jira_sla]`: an account that can read JSM SLA fields when the main one cannot.
#[derive(Debug, Clone, PartialEq)]
pub struct JiraSlaConfig {
    /// Site or gateway root (path ends with `/`), e.g.
    /// `https://api.atlassian.com/ex/jira/<cloud-id>/`.
    pub base_url: Url,
    /// Account e-mail for basic authentication (Data Center: user name; empty with a
    /// personal access token).
    pub email: String,
    /// API token of that account (or its personal access token on Data Center).
    pub api_token: Secret,
    /// Requests of this account in flight at once (its own budget, beside `[jira]`'s).
    pub max_concurrency: usize,
    /// Client-side request budget of this account.
    pub max_requests_per_second: f64,
}

/// `[sweep]`: the incremental JQL sweep.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SweepConfig {
    /// Six-field cron expression, seconds first (see [`parse_schedule`]).
    pub schedule: String,
    /// How many seconds before the stored watermark each sweep starts, to catch issues
    /// whose `updated` was written late or with clock skew.
    pub overlap_secs: u64,
}

/// A cron schedule section (`[sla_poll]`, `[reconcile]`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScheduleConfig {
    /// Six-field cron expression, seconds first (see [`parse_schedule`]).
    pub schedule: String,
}

/// How the IMAP connection is protected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImapSecurity {
    /// Implicit TLS from the first byte (usually port 993).
    Tls,
    /// Plain connection upgraded with `STARTTLS` (usually port 143).
    StartTls,
    /// No encryption at all; only accepted for a loopback host (tests, local relays).
    None,
}

impl ImapSecurity {
    /// The spelling used in the config file: `tls`, `starttls` or `none`.
    pub fn as_str(self) -> &'static str {
        match self {
            ImapSecurity::Tls => "tls",
            ImapSecurity::StartTls => "starttls",
            ImapSecurity::None => "none",
        }
    }
}

impl fmt::Display for ImapSecurity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// `[imap]`: the mailbox Jira sends notification e-mails to.
#[derive(Debug, Clone, PartialEq)]
pub struct ImapConfig {
    /// Server host name or IP address.
    pub host: String,
    /// Server port (default 993).
    pub port: u16,
    /// Transport protection.
    pub security: ImapSecurity,
    /// Login name.
    pub username: String,
    /// Login password.
    pub password: Secret,
    /// Folder to watch (default `INBOX`).
    pub mailbox: String,
    /// Whether to wait with IMAP IDLE between passes (else poll on the sweep schedule).
    pub idle: bool,
    /// Sender addresses whose mail is trusted as Jira notifications; others are ignored.
    /// Never empty.
    pub allowed_senders: Vec<String>,
    /// PEM file of the CA that signed the server's certificate (private CAs); absolute.
    pub ca_file: Option<PathBuf>,
    /// Seconds between passes when IDLE is off or the server lacks it.
    pub poll_interval_secs: u64,
    /// Mail larger than this is rejected without being downloaded.
    pub max_message_bytes: u64,
    /// What happens to mail that is not acted on (wrong sender, too large, not Jira, broken),
    /// and to mail given up after `max_attempts`.
    pub on_rejected: RejectPolicy,
    /// Counted failed attempts at a mail's issues before the mail is given up (handled like
    /// rejected mail); from 1 to 100.
    pub max_attempts: u32,
}

/// `[imap] on_rejected`: what to do with mail the trigger does not act on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RejectPolicy {
    /// Leave it unseen for a person to look at (the default); it is remembered and not
    /// examined again.
    Leave,
    /// Flag it `\Seen`.
    MarkSeen,
    /// Move it to this folder (created if missing).
    Move(String),
}

/// `[webhook]`: the optional signed webhook receiver.
#[derive(Debug, Clone, PartialEq)]
pub struct WebhookConfig {
    /// Address the HTTP listener binds, e.g. `127.0.0.1:8080`.
    pub listen: SocketAddr,
    /// Shared HMAC secret that signs deliveries; checked before a body is parsed.
    pub secret: Secret,
    /// Days the audit copies (`raw/events/<date>/`) and the delivery identifiers and body
    /// hashes remembered for deduplication are kept.
    pub retention_days: u32,
    /// Connections open at once; one more is closed as soon as it is accepted.
    pub max_connections: usize,
    /// Time allowed for a request's headers, from the connection's start or its previous
    /// response (so also how long a kept-alive connection may stay idle), in ms.
    pub header_timeout_ms: u64,
    /// Time allowed for a request's body once its headers arrived, in ms.
    pub body_timeout_ms: u64,
    /// Deliveries whose payload `timestamp` is older than this many seconds are refused.
    pub max_age_secs: u64,
}

impl WebhookConfig {
    /// `listen` and `secret` with every other key at its default.
    pub fn new(listen: SocketAddr, secret: Secret) -> WebhookConfig {
        WebhookConfig {
            listen,
            secret,
            retention_days: DEFAULT_WEBHOOK_RETENTION_DAYS,
            max_connections: DEFAULT_WEBHOOK_MAX_CONNECTIONS,
            header_timeout_ms: DEFAULT_WEBHOOK_HEADER_TIMEOUT_MS,
            body_timeout_ms: DEFAULT_WEBHOOK_BODY_TIMEOUT_MS,
            max_age_secs: DEFAULT_WEBHOOK_MAX_AGE_SECS,
        }
    }
}

/// `[sla]`: names of the JSM SLAs that feed the `issues` table's SLA columns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SlaNames {
    /// SLA feeding `first_response_*` (JSM names are localised, hence configurable).
    pub first_response: String,
    /// SLA feeding `time_to_resolution_*`.
    pub time_to_resolution: String,
}

impl Default for SlaNames {
    fn default() -> Self {
        SlaNames {
            first_response: DEFAULT_SLA_FIRST_RESPONSE.to_owned(),
            time_to_resolution: DEFAULT_SLA_TIME_TO_RESOLUTION.to_owned(),
        }
    }
}

/// `[attachments]`: attachment downloads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AttachmentsConfig {
    /// Whether attachment files are downloaded at all (metadata rows are always written).
    pub download: bool,
    /// A file larger than this many bytes is skipped (its row keeps `local_path` null).
    pub max_bytes: u64,
    /// Attachment bodies downloaded from the media host at once (a budget of its own).
    pub max_concurrency: usize,
}

impl Default for AttachmentsConfig {
    fn default() -> Self {
        AttachmentsConfig {
            download: true,
            max_bytes: DEFAULT_ATTACHMENT_MAX_BYTES,
            max_concurrency: DEFAULT_ATTACHMENT_MAX_CONCURRENCY,
        }
    }
}

/// `[distribution]`: where changed Parquet files (and optionally attachments) are copied for
/// readers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DistributionConfig {
    /// Target folder (resolved like `data_dir`); files are replaced atomically.
    pub dir: PathBuf,
    /// Copy attachments too (`attachments/<KEY>/`). Default false.
    pub attachments: bool,
}

/// `[output]`: the permission bits of every file and folder the mirror publishes (raw JSON,
/// attachments, Parquet, `views.sql`, the distribution copies). The process umask still
/// applies, as for any file a program creates: `0o644` under umask `022` gives `rw-r--r--`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OutputConfig {
    /// Mode of each file written (before the umask). Default `0o644`.
    pub file_mode: u32,
    /// Mode of each folder created (before the umask). Default `0o755`.
    pub dir_mode: u32,
}

impl Default for OutputConfig {
    fn default() -> Self {
        OutputConfig {
            file_mode: DEFAULT_FILE_MODE,
            dir_mode: DEFAULT_DIR_MODE,
        }
    }
}

/// `[run]`: the failure policy of every command, removals, and the daemon's shutdown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RunConfig {
    /// Failures of an issue (other than Jira failing, which never counts) before it is
    /// parked: listed by `status`, retried when it next changes.
    pub max_attempts: i64,
    /// How long a SIGINT/SIGTERM drain may take before work in flight is abandoned.
    pub shutdown_grace_secs: u64,
    /// Issues that may be removed locally (deleted upstream, or left the scope) within 24
    /// hours; `None`: the larger of [`DEFAULT_MAX_DELETIONS_FLOOR`] and
    /// [`DEFAULT_MAX_DELETIONS_PERCENT`] % of the mirror.
    pub max_deletions: Option<u64>,
    /// Days a removed issue's files stay under `data_dir/quarantine/`.
    pub quarantine_days: u32,
    /// Where `run` answers `GET /metrics` (Prometheus text) and `GET /health`: a loopback
    /// address; `None` (the default): no endpoint.
    pub metrics_listen: Option<SocketAddr>,
}

impl RunConfig {
    /// The deletion cap for a mirror holding `issues` issues.
    pub fn deletion_cap(&self, issues: u64) -> u64 {
        self.max_deletions.unwrap_or_else(|| {
            DEFAULT_MAX_DELETIONS_FLOOR.max(issues * DEFAULT_MAX_DELETIONS_PERCENT / 100)
        })
    }
}

impl Default for RunConfig {
    fn default() -> Self {
        RunConfig {
            max_attempts: DEFAULT_RUN_MAX_ATTEMPTS,
            shutdown_grace_secs: DEFAULT_RUN_SHUTDOWN_GRACE_SECS,
            max_deletions: None,
            quarantine_days: DEFAULT_RUN_QUARANTINE_DAYS,
            metrics_listen: None,
        }
    }
}

/// A credential read from the config: printed as `***` by `Debug` and `Display`, so it can
/// sit in logged structs without leaking. Call [`Secret::expose`] only where the value is
/// actually sent.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a credential.
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }

    /// The credential itself, for an `Authorization` header or a login command only.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

impl From<String> for Secret {
    fn from(value: String) -> Self {
        Secret(value)
    }
}

impl From<&str> for Secret {
    fn from(value: &str) -> Self {
        Secret(value.to_owned())
    }
}

/// `[jira] proxy`: an `http://` or `https://` proxy URL, possibly with a user name and
/// password. `Debug` and `Display` show `***` instead of the user information; call
/// [`ProxyUrl::expose`] only to hand the URL to the HTTP client.
#[derive(Clone, PartialEq, Eq)]
pub struct ProxyUrl(Url);

impl ProxyUrl {
    /// The URL itself, user information included.
    pub fn expose(&self) -> &Url {
        &self.0
    }
}

impl fmt::Debug for ProxyUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl fmt::Display for ProxyUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut shown = self.0.clone();
        if !shown.username().is_empty() || shown.password().is_some() {
            // Cannot fail: the URL has a host (checked when it was validated).
            let _ = shown.set_password(None);
            let _ = shown.set_username("***");
        }
        f.write_str(shown.as_str())
    }
}

/// Everything wrong with a configuration, one problem per line, each starting with its key
/// path (`imap.port: …`). Never contains a secret's value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", .problems.join("\n"))]
#[non_exhaustive]
pub struct ConfigError {
    /// The problems, sorted by key path.
    pub problems: Vec<String>,
}

impl ConfigError {
    /// The problems, one per line of the `Display` output.
    pub fn problems(&self) -> &[String] {
        &self.problems
    }
}

impl Config {
    /// Reads, interpolates and validates the config file at `path` using the process
    /// environment for `${VAR}` references. Relative paths in it are resolved against the
    /// file's directory (made absolute).
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        Self::load_with_env(path, |name| std::env::var(name).ok())
    }

    /// Like [`Config::load`], with `env` answering `${VAR}` lookups.
    pub fn load_with_env(
        path: &Path,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<Config, ConfigError> {
        let cannot_read = |err: std::io::Error| ConfigError {
            problems: vec![format!(
                "{}: cannot read the config file: {err}",
                path.display()
            )],
        };
        let mut file = std::fs::File::open(path).map_err(cannot_read)?;
        let mut text = String::new();
        std::io::Read::read_to_string(&mut file, &mut text).map_err(cannot_read)?;
        // The mode of the file just read, not of whatever the path names a moment later.
        let mode = file_mode(&file);
        let absolute = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
        let base_dir = absolute.parent().unwrap_or(Path::new(""));
        let (mut config, inline_secrets) = Self::parse(&text, base_dir, env)?;
        config
            .warnings
            .extend(readable_secrets_warning(path, mode, &inline_secrets));
        Ok(config)
    }

    /// Parses and validates config text, with `env` answering `${VAR}` lookups. Relative
    /// paths stay relative (to the current directory).
    pub fn from_str_with_env(
        text: &str,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<Config, ConfigError> {
        Self::from_str_in_dir(text, Path::new(""), env)
    }

    /// Parses and validates config text as if it were a file in `base_dir`: relative
    /// `data_dir` and `distribution.dir` are resolved against it.
    pub fn from_str_in_dir(
        text: &str,
        base_dir: &Path,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<Config, ConfigError> {
        Self::parse(text, base_dir, env).map(|(config, _)| config)
    }

    /// Both phases; also returns the key paths of secrets written in `text` itself.
    fn parse(
        text: &str,
        base_dir: &Path,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<(Config, Vec<&'static str>), ConfigError> {
        let mut problems = Problems::default();
        let mut inline_secrets = Vec::new();
        let config = raw::parse(text, &env, &mut problems).and_then(|mut raw| {
            inline_secrets = std::mem::take(&mut raw.inline_secrets);
            validate::validate(raw, base_dir, &mut problems)
        });
        match config {
            Some(mut config) if problems.is_empty() => {
                config.warnings = problems.redact_all(std::mem::take(&mut config.warnings));
                Ok((config, inline_secrets))
            }
            _ => Err(problems.into_error()),
        }
    }

    /// A valid config for the built-in Jira simulator (used by `demo` and by tests): scope
    /// `project = SUP`, every optional trigger off, defaults elsewhere. `sla` is the
    /// `(email, token)` of a JSM account on the same simulator.
    ///
    /// # Panics
    /// If `base_url` is not an absolute URL.
    pub fn for_simulator(
        data_dir: PathBuf,
        base_url: &str,
        email: &str,
        token: &str,
        sla: Option<(&str, &str)>,
    ) -> Config {
        let mut base_url = Url::parse(base_url).expect("simulator base URL must be absolute");
        validate::ensure_trailing_slash(&mut base_url);
        Config {
            data_dir,
            jira: JiraConfig {
                base_url: base_url.clone(),
                deployment: Some(Deployment::Cloud),
                email: email.to_owned(),
                api_token: Secret::new(token),
                jql: "project = SUP".to_owned(),
                max_concurrency: DEFAULT_MAX_CONCURRENCY,
                max_requests_per_second: DEFAULT_MAX_REQUESTS_PER_SECOND,
                request_timeout_secs: DEFAULT_REQUEST_TIMEOUT_SECS,
                max_retries: DEFAULT_MAX_RETRIES,
                proxy: None,
            },
            jira_sla: sla.map(|(email, token)| JiraSlaConfig {
                base_url,
                email: email.to_owned(),
                api_token: Secret::new(token),
                max_concurrency: DEFAULT_SLA_MAX_CONCURRENCY,
                max_requests_per_second: DEFAULT_SLA_MAX_REQUESTS_PER_SECOND,
            }),
            oauth: None,
            sweep: SweepConfig {
                schedule: DEFAULT_SWEEP_SCHEDULE.to_owned(),
                overlap_secs: DEFAULT_SWEEP_OVERLAP_SECS,
            },
            imap: None,
            webhook: None,
            sla: SlaNames::default(),
            sla_poll: ScheduleConfig {
                schedule: DEFAULT_SLA_POLL_SCHEDULE.to_owned(),
            },
            reconcile: ScheduleConfig {
                schedule: DEFAULT_RECONCILE_SCHEDULE.to_owned(),
            },
            fields: BTreeMap::new(),
            attachments: AttachmentsConfig::default(),
            distribution: None,
            output: OutputConfig::default(),
            run: RunConfig::default(),
            warnings: Vec::new(),
        }
    }

    /// `data_dir/raw`: raw issue JSON, attachments and the event audit log.
    pub fn raw_dir(&self) -> PathBuf {
        self.data_dir.join("raw")
    }

    /// `data_dir/state.db`: the SQLite state store.
    pub fn state_path(&self) -> PathBuf {
        self.data_dir.join("state.db")
    }

    /// `data_dir/parquet`: the Parquet tables and `views.sql`.
    pub fn parquet_dir(&self) -> PathBuf {
        self.data_dir.join("parquet")
    }
}

/// The permission bits of an open file (unix); `None` where there are none to read.
fn file_mode(file: &std::fs::File) -> Option<u32> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        file.metadata()
            .ok()
            .map(|meta| meta.permissions().mode() & 0o7777)
    }
    #[cfg(not(unix))]
    {
        let _ = file;
        None
    }
}

/// The warning for secrets (`inline`, key paths) written in the config file at `path` while
/// its `mode` lets the group or others read it. Names the keys, the file, the mode and the
/// fix; never a value.
fn readable_secrets_warning(path: &Path, mode: Option<u32>, inline: &[&str]) -> Option<String> {
    let mode = mode?;
    if inline.is_empty() || mode & 0o044 == 0 {
        return None;
    }
    let file = path.display();
    Some(format!(
        "{}: written in {file}, which group or others can read (mode {mode:04o}); run \
         `chmod 600 {file}`, or take the value from the environment (\"${{VAR}}\")",
        inline.join(", ")
    ))
}

/// Parses a schedule the way the config validates it: exactly six fields, seconds first
/// (`sec min hour day-of-month month day-of-week`). Schedulers should build their
/// [`croner::Cron`] with this so that what `validate` accepts is what runs.
pub fn parse_schedule(expr: &str) -> Result<croner::Cron, String> {
    let count = expr.split_whitespace().count();
    if count != 6 {
        return Err(format!(
            "`{expr}` has {count} fields; a schedule needs 6, seconds first \
             (sec min hour day-of-month month day-of-week), e.g. \"0 */5 * * * *\""
        ));
    }
    croner::parser::CronParser::builder()
        .seconds(croner::parser::Seconds::Required)
        .year(croner::parser::Year::Disallowed)
        .build()
        .parse(expr)
        .map_err(|err| format!("`{expr}` is not a valid cron expression: {err}"))
}

/// The problem list shared by both phases.
///
/// A key path that already has a problem is "broken": later phases do not report it again,
/// so a missing `${VAR}` is not followed by "invalid URL" for the same key.
#[derive(Debug, Default)]
struct Problems {
    list: Vec<String>,
    broken: BTreeSet<String>,
    /// Values that must never appear in a message (secrets, substituted variables).
    sensitive: Vec<String>,
}

impl Problems {
    /// Records a problem at `path` unless that path already has one.
    fn push(&mut self, path: &str, message: impl fmt::Display) {
        if self.is_broken(path) {
            return;
        }
        self.broken.insert(path.to_owned());
        self.list.push(format!("{path}: {message}"));
    }

    /// Marks `path` as already reported without adding a line (its problem was reported
    /// under a more precise path, or will be by the caller).
    fn push_silently(&mut self, path: &str) {
        self.broken.insert(path.to_owned());
    }

    /// True when `path` or one of its parent sections already has a problem.
    fn is_broken(&self, path: &str) -> bool {
        let mut prefix = path;
        loop {
            if self.broken.contains(prefix) {
                return true;
            }
            match prefix.rfind(['.', '[']) {
                Some(at) => prefix = &prefix[..at],
                None => return false,
            }
        }
    }

    /// Never lets `value` appear in a message (too-short values are ignored: replacing them
    /// would garble messages while hiding nothing worth hiding).
    fn add_sensitive(&mut self, value: &str) {
        if value.chars().count() >= 4 && !self.sensitive.iter().any(|known| known == value) {
            self.sensitive.push(value.to_owned());
        }
    }

    fn is_empty(&self) -> bool {
        self.list.is_empty()
    }

    fn redact(&self, line: String) -> String {
        let mut sensitive: Vec<&String> = self.sensitive.iter().collect();
        // Longest first, so a secret containing another is replaced whole.
        sensitive.sort_by_key(|value| std::cmp::Reverse(value.len()));
        sensitive
            .into_iter()
            .fold(line, |line, value| line.replace(value.as_str(), "***"))
    }

    fn redact_all(&self, lines: Vec<String>) -> Vec<String> {
        lines.into_iter().map(|line| self.redact(line)).collect()
    }

    fn into_error(self) -> ConfigError {
        let mut problems = self.redact_all(self.list.clone());
        if problems.is_empty() {
            // Unreachable by construction; never return an error that says nothing.
            problems.push("config: invalid configuration".to_owned());
        }
        problems.sort();
        problems.dedup();
        ConfigError { problems }
    }
}

/// `parent.key`, or `key` at the top level.
fn join_path(parent: &str, key: &str) -> String {
    if parent.is_empty() {
        key.to_owned()
    } else {
        format!("{parent}.{key}")
    }
}
