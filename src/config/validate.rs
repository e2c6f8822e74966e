//! Phase two: raw structs → runtime [`Config`], applying defaults and every semantic rule.
//!
//! Each check pushes onto the shared [`Problems`] list and carries on with a stand-in value,
//! so one run reports everything; a config is only returned when the list stayed empty.

use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};
use std::ops::RangeInclusive;
use std::path::{Path, PathBuf};

use url::{Host, Url};

use super::raw::{
    RawAttachments, RawConfig, RawDistribution, RawImap, RawJira, RawJiraSla, RawOAuth, RawOutput,
    RawRun, RawSchedule, RawSla, RawSweep, RawWebhook,
};
use super::*;
use crate::jira::Deployment;

/// Turns the raw sections into a [`Config`], or `None` when a problem was recorded.
pub(super) fn validate(raw: RawConfig, base_dir: &Path, p: &mut Problems) -> Option<Config> {
    let mut warnings = Vec::new();

    let data_dir = match raw.data_dir {
        Some(dir) if dir.trim().is_empty() => {
            p.push("data_dir", "must not be empty");
            None
        }
        Some(dir) => Some(resolve_dir(base_dir, &dir)),
        None => Some(resolve_dir(base_dir, DEFAULT_DATA_DIR)),
    };
    let oauth = raw.oauth.map(|oauth| validate_oauth(p, oauth));
    let cloud = raw.jira.as_ref().is_some_and(|jira| {
        is_cloud(
            jira.deployment.as_deref(),
            jira.base_url
                .as_deref()
                .and_then(|u| Url::parse(u.trim()).ok())
                .as_ref(),
        )
    });
    let jira = match raw.jira {
        Some(jira) => validate_jira(p, &mut warnings, jira, oauth.is_some()),
        None => {
            p.push("jira", "the required section `[jira]` is missing");
            None
        }
    };
    let jira_sla = raw
        .jira_sla
        .map(|sla| validate_jira_sla(p, &mut warnings, sla, cloud));
    if let (Some(jira), Some(Some(sla))) = (&jira, &jira_sla)
        && !jira.email.is_empty()
        && jira.email.eq_ignore_ascii_case(&sla.email)
        && jira.base_url.host_str() == sla.base_url.host_str()
    {
        warnings.push(format!(
            "jira_sla.email: the same account as jira.email on the same site; its requests get \
             a budget of their own ({} more requests at once, {} more per second), so that \
             account may see up to twice the configured rate. Leave [jira_sla] out if the main \
             account can read SLAs, or lower its limits.",
            sla.max_concurrency, sla.max_requests_per_second
        ));
    }
    let sweep = validate_sweep(p, raw.sweep);
    let imap = raw
        .imap
        .map(|imap| validate_imap(p, &mut warnings, base_dir, imap));
    let webhook = raw.webhook.map(|webhook| validate_webhook(p, webhook));
    let sla = validate_sla(p, raw.sla);
    let sla_poll = validate_schedule(p, "sla_poll", raw.sla_poll, DEFAULT_SLA_POLL_SCHEDULE);
    let reconcile = validate_schedule(p, "reconcile", raw.reconcile, DEFAULT_RECONCILE_SCHEDULE);
    let fields = validate_fields(p, raw.fields.unwrap_or_default());
    let attachments = validate_attachments(p, raw.attachments);
    let distribution = raw
        .distribution
        .map(|distribution| validate_distribution(p, base_dir, distribution));
    let output = validate_output(p, raw.output);

    let run = validate_run(p, raw.run);

    if !p.is_empty() {
        return None;
    }
    Some(Config {
        data_dir: data_dir?,
        jira: jira?,
        jira_sla: jira_sla.flatten(),
        oauth: oauth.flatten(),
        sweep,
        imap: imap.flatten(),
        webhook: webhook.flatten(),
        sla,
        sla_poll,
        reconcile,
        fields,
        attachments,
        distribution: distribution.flatten(),
        output,
        run,
        warnings,
    })
}

fn validate_run(p: &mut Problems, raw: Option<RawRun>) -> RunConfig {
    let (max_attempts, grace, max_deletions, quarantine_days, metrics_listen) =
        raw.map_or((None, None, None, None, None), |r| {
            (
                r.max_attempts,
                r.shutdown_grace_secs,
                r.max_deletions,
                r.quarantine_days,
                r.metrics_listen,
            )
        });
    RunConfig {
        metrics_listen: metrics_listen.and_then(|listen| metrics_address(p, &listen)),
        max_deletions: max_deletions
            .map(|n| int_in_range(p, "run.max_deletions", Some(n), 0, 0..=i64::MAX) as u64),
        quarantine_days: int_in_range(
            p,
            "run.quarantine_days",
            quarantine_days,
            i64::from(DEFAULT_RUN_QUARANTINE_DAYS),
            1..=3650,
        ) as u32,
        max_attempts: int_in_range(
            p,
            "run.max_attempts",
            max_attempts,
            DEFAULT_RUN_MAX_ATTEMPTS,
            1..=1000,
        ),
        shutdown_grace_secs: int_in_range(
            p,
            "run.shutdown_grace_secs",
            grace,
            DEFAULT_RUN_SHUTDOWN_GRACE_SECS as i64,
            1..=3600,
        ) as u64,
    }
}

/// `run.metrics_listen`: a loopback address with a port. The endpoint has no authentication,
/// so it stays on the machine (a reverse proxy can expose it).
fn metrics_address(p: &mut Problems, listen: &str) -> Option<SocketAddr> {
    let addr = socket_address(p, "run.metrics_listen", listen, 9464)?;
    if addr.ip().is_loopback() {
        return Some(addr);
    }
    p.push(
        "run.metrics_listen",
        format!(
            "`{addr}` is not a loopback address: the endpoint has no authentication; \
             use 127.0.0.1:<port> or [::1]:<port> (a reverse proxy can expose it)"
        ),
    );
    None
}

/// `key`'s value as an IP address with a port (`example_port` in the message).
fn socket_address(
    p: &mut Problems,
    key: &str,
    listen: &str,
    example_port: u16,
) -> Option<SocketAddr> {
    match listen.trim().parse::<SocketAddr>() {
        Ok(addr) => Some(addr),
        Err(_) => {
            p.push(
                key,
                format!(
                    "`{listen}` is not an IP address with a port, e.g. 127.0.0.1:{example_port}"
                ),
            );
            None
        }
    }
}

fn validate_jira(
    p: &mut Problems,
    warnings: &mut Vec<String>,
    raw: RawJira,
    oauth: bool,
) -> Option<JiraConfig> {
    let insecure = raw.allow_insecure_http.unwrap_or(false);
    let base_url = required(p, "jira.base_url", raw.base_url)
        .and_then(|url| base_url(p, warnings, "jira", &url, insecure));
    let cloud = is_cloud(raw.deployment.as_deref(), base_url.as_ref());
    let deployment = raw
        .deployment
        .and_then(|d| match d.trim().parse::<Deployment>() {
            Ok(d) => Some(d),
            Err(e) => {
                p.push("jira.deployment", e);
                None
            }
        });
    let (email, api_token) = if oauth {
        if deployment == Some(Deployment::DataCenter) {
            p.push(
                "oauth",
                "OAuth 2.0 (3LO) is for Jira Cloud; on Data Center use a personal access token \
                 in jira.api_token",
            );
        }
        for (key, value) in [
            ("jira.email", &raw.email),
            ("jira.api_token", &raw.api_token),
        ] {
            if value.is_some() {
                p.push(
                    key,
                    "not used with [oauth]: remove it, or remove [oauth] to use an API token",
                );
            }
        }
        (Some(String::new()), Some(String::new()))
    } else {
        let email = if cloud {
            required(p, "jira.email", raw.email)
        } else {
            // Data Center: a user name for Basic, or none with a personal access token.
            match raw.email {
                Some(email) if email.trim().is_empty() => {
                    p.push(
                        "jira.email",
                        "must not be empty (leave it out to use a personal access token)",
                    );
                    None
                }
                email => Some(email.unwrap_or_default()),
            }
        };
        (email, required(p, "jira.api_token", raw.api_token))
    };
    let jql = required(p, "jira.jql", raw.jql).and_then(|jql| {
        if contains_order_by(&jql) {
            p.push(
                "jira.jql",
                "must not contain ORDER BY: sweeps and backfills add their own ordering",
            );
            None
        } else {
            Some(jql.trim().to_owned())
        }
    });
    let max_concurrency = concurrency(
        p,
        "jira.max_concurrency",
        raw.max_concurrency,
        DEFAULT_MAX_CONCURRENCY,
    );
    let max_requests_per_second = rate(
        p,
        "jira.max_requests_per_second",
        raw.max_requests_per_second,
        DEFAULT_MAX_REQUESTS_PER_SECOND,
    );
    let request_timeout_secs = int_in_range(
        p,
        "jira.request_timeout_secs",
        raw.request_timeout_secs,
        DEFAULT_REQUEST_TIMEOUT_SECS as i64,
        1..=3600,
    );
    let proxy = raw.proxy.and_then(|url| proxy_url(p, warnings, &url));
    let max_retries = int_in_range(
        p,
        "jira.max_retries",
        raw.max_retries,
        i64::from(DEFAULT_MAX_RETRIES),
        0..=100,
    );
    Some(JiraConfig {
        base_url: base_url?,
        deployment,
        email: email?,
        api_token: Secret::new(api_token?),
        jql: jql?,
        max_concurrency,
        max_requests_per_second,
        request_timeout_secs: request_timeout_secs as u64,
        max_retries: max_retries as u32,
        proxy,
    })
}

fn validate_jira_sla(
    p: &mut Problems,
    warnings: &mut Vec<String>,
    raw: RawJiraSla,
    cloud: bool,
) -> Option<JiraSlaConfig> {
    let insecure = raw.allow_insecure_http.unwrap_or(false);
    let base_url = required(p, "jira_sla.base_url", raw.base_url)
        .and_then(|url| base_url(p, warnings, "jira_sla", &url, insecure));
    let email = match raw.email {
        None if !cloud => Some(String::new()),
        email => required(p, "jira_sla.email", email),
    };
    let api_token = required(p, "jira_sla.api_token", raw.api_token);
    let max_concurrency = concurrency(
        p,
        "jira_sla.max_concurrency",
        raw.max_concurrency,
        DEFAULT_SLA_MAX_CONCURRENCY,
    );
    let max_requests_per_second = rate(
        p,
        "jira_sla.max_requests_per_second",
        raw.max_requests_per_second,
        DEFAULT_SLA_MAX_REQUESTS_PER_SECOND,
    );
    Some(JiraSlaConfig {
        base_url: base_url?,
        email: email?,
        api_token: Secret::new(api_token?),
        max_concurrency,
        max_requests_per_second,
    })
}

/// Whether `[jira]` is Jira Cloud for certain: named so, or (no deployment named) an
/// Atlassian Cloud host.
fn is_cloud(deployment: Option<&str>, base_url: Option<&Url>) -> bool {
    match deployment.map(str::trim) {
        Some(d) => d == "cloud",
        None => base_url
            .and_then(Url::host_str)
            .and_then(Deployment::from_host)
            .is_some(),
    }
}

/// `[oauth]`: client id and secret and callback URL required; Atlassian's endpoints by
/// default.
fn validate_oauth(p: &mut Problems, raw: RawOAuth) -> Option<OAuthConfig> {
    let client_id = required(p, "oauth.client_id", raw.client_id);
    let client_secret = required(p, "oauth.client_secret", raw.client_secret);
    let redirect_uri = required(p, "oauth.redirect_uri", raw.redirect_uri).and_then(|uri| {
        match Url::parse(uri.trim()) {
            Ok(url) if url.scheme() == "https" || url.scheme() == "http" => {
                Some(uri.trim().to_owned())
            }
            _ => {
                p.push(
                    "oauth.redirect_uri",
                    "must be the app's callback URL (http:// or https://), as set in the \
                     developer console",
                );
                None
            }
        }
    });
    let scopes = match raw.scopes {
        None => crate::jira::oauth::DEFAULT_SCOPES
            .iter()
            .map(|s| (*s).to_owned())
            .collect(),
        Some(scopes) => {
            if !scopes.iter().any(|s| s == "offline_access") {
                p.push(
                    "oauth.scopes",
                    "must include `offline_access`: without it Atlassian gives no refresh \
                     token and the mirror would stop within an hour",
                );
            }
            scopes
        }
    };
    let mut endpoint = |key: &str, value: Option<String>, default: &str| {
        let text = value.unwrap_or_else(|| default.to_owned());
        match Url::parse(text.trim()) {
            Ok(mut url)
                if url.scheme() == "https"
                    || url.host().is_some_and(|h| is_loopback_url_host(&h)) =>
            {
                ensure_trailing_slash(&mut url);
                Some(url)
            }
            _ => {
                p.push(key, "must be an https:// URL (http:// only on loopback)");
                None
            }
        }
    };
    let auth_url = endpoint(
        "oauth.auth_url",
        raw.auth_url,
        "https://auth.atlassian.com/",
    );
    let api_url = endpoint("oauth.api_url", raw.api_url, "https://api.atlassian.com/");
    Some(OAuthConfig {
        client_id: client_id?,
        client_secret: Secret::new(client_secret?),
        redirect_uri: redirect_uri?,
        scopes,
        auth_url: auth_url?,
        api_url: api_url?,
    })
}

/// Requests (or downloads) in flight at once: 1 to 64.
fn concurrency(p: &mut Problems, path: &str, value: Option<i64>, default: usize) -> usize {
    int_in_range(p, path, value, default as i64, 1..=64) as usize
}

/// A requests-per-second budget: a number greater than 0.
fn rate(p: &mut Problems, path: &str, value: Option<f64>, default: f64) -> f64 {
    match value {
        None => default,
        Some(rate) if rate.is_finite() && rate > 0.0 => rate,
        Some(_) => {
            p.push(path, "must be a number greater than 0");
            default
        }
    }
}

fn validate_sweep(p: &mut Problems, raw: Option<RawSweep>) -> SweepConfig {
    let (schedule, overlap) = raw.map_or((None, None), |raw| (raw.schedule, raw.overlap_secs));
    SweepConfig {
        schedule: schedule_or_default(p, "sweep.schedule", schedule, DEFAULT_SWEEP_SCHEDULE),
        overlap_secs: int_in_range(
            p,
            "sweep.overlap_secs",
            overlap,
            DEFAULT_SWEEP_OVERLAP_SECS as i64,
            0..=i64::MAX,
        ) as u64,
    }
}

fn validate_schedule(
    p: &mut Problems,
    section: &str,
    raw: Option<RawSchedule>,
    default: &str,
) -> ScheduleConfig {
    let path = format!("{section}.schedule");
    ScheduleConfig {
        schedule: schedule_or_default(p, &path, raw.and_then(|raw| raw.schedule), default),
    }
}

fn schedule_or_default(
    p: &mut Problems,
    path: &str,
    value: Option<String>,
    default: &str,
) -> String {
    let Some(schedule) = value else {
        return default.to_owned();
    };
    if let Err(message) = parse_schedule(&schedule) {
        p.push(path, message);
    }
    schedule.trim().to_owned()
}

fn validate_imap(
    p: &mut Problems,
    warnings: &mut Vec<String>,
    base_dir: &Path,
    raw: RawImap,
) -> Option<ImapConfig> {
    let host = imap_host(p, raw.host);
    let port = int_in_range(
        p,
        "imap.port",
        raw.port,
        i64::from(DEFAULT_IMAP_PORT),
        1..=65535,
    ) as u16;
    let security = imap_security(p, warnings, raw.security.as_deref(), host.as_deref(), port);
    let username = required(p, "imap.username", raw.username);
    let password = required(p, "imap.password", raw.password);
    let mailbox = non_empty_or_default(p, "imap.mailbox", raw.mailbox, DEFAULT_IMAP_MAILBOX);
    let allowed_senders = allowed_senders(p, raw.allowed_senders);
    let ca_file = raw.ca_file.and_then(|file| {
        let path = resolve_dir(base_dir, file.trim());
        if path.is_file() {
            Some(path)
        } else {
            p.push(
                "imap.ca_file",
                format!("{} is not a readable file", path.display()),
            );
            None
        }
    });
    let poll_interval_secs = int_in_range(
        p,
        "imap.poll_interval_secs",
        raw.poll_interval_secs,
        DEFAULT_IMAP_POLL_INTERVAL_SECS as i64,
        1..=86_400,
    ) as u64;
    let max_message_bytes = int_in_range(
        p,
        "imap.max_message_bytes",
        raw.max_message_bytes,
        DEFAULT_IMAP_MAX_MESSAGE_BYTES as i64,
        1024..=1 << 31,
    ) as u64;
    let max_attempts = int_in_range(
        p,
        "imap.max_attempts",
        raw.max_attempts,
        i64::from(DEFAULT_IMAP_MAX_ATTEMPTS),
        1..=100,
    ) as u32;
    let on_rejected = on_rejected(p, raw.on_rejected.as_deref(), raw.rejected_folder);
    Some(ImapConfig {
        host: host?,
        port,
        security: security?,
        username: username?,
        password: Secret::new(password?),
        mailbox,
        idle: raw.idle.unwrap_or(true),
        allowed_senders: allowed_senders?,
        ca_file,
        poll_interval_secs,
        max_message_bytes,
        on_rejected: on_rejected?,
        max_attempts,
    })
}

/// `imap.host`: a host name or address, not a URL.
fn imap_host(p: &mut Problems, host: Option<String>) -> Option<String> {
    required(p, "imap.host", host).and_then(|host| {
        let host = host.trim().to_owned();
        if host.contains("://") || host.contains('/') {
            p.push("imap.host", "must be a host name or IP address, not a URL");
            None
        } else if host.chars().any(char::is_whitespace) {
            p.push("imap.host", "must not contain spaces");
            None
        } else {
            Some(host)
        }
    })
}

/// `imap.security`: `none` only for loopback hosts; a warning for a port that suits the
/// other TLS mode.
fn imap_security(
    p: &mut Problems,
    warnings: &mut Vec<String>,
    security: Option<&str>,
    host: Option<&str>,
    port: u16,
) -> Option<ImapSecurity> {
    let security = match security {
        None | Some("tls") => Some(ImapSecurity::Tls),
        Some("starttls") => Some(ImapSecurity::StartTls),
        Some("none") => Some(ImapSecurity::None),
        Some(_) => {
            p.push(
                "imap.security",
                "must be one of \"tls\", \"starttls\", \"none\"",
            );
            None
        }
    };
    if let (Some(ImapSecurity::None), Some(host)) = (security, host)
        && !is_loopback_host(host)
    {
        p.push(
            "imap.security",
            format!(
                "\"none\" (no encryption) is only allowed when imap.host is a loopback \
                     address (127.0.0.0/8, ::1, localhost), not `{host}`; use \"tls\" or \
                     \"starttls\""
            ),
        );
    }
    match (security, port) {
        (Some(ImapSecurity::Tls), 143) => warnings.push(
            "imap.port: 143 is the usual STARTTLS port, but imap.security = \"tls\"".to_owned(),
        ),
        (Some(ImapSecurity::StartTls), 993) => warnings.push(
            "imap.port: 993 is the usual implicit-TLS port, but imap.security = \"starttls\""
                .to_owned(),
        ),
        _ => {}
    }
    security
}

/// `imap.allowed_senders`: at least one address, none empty or with spaces.
fn allowed_senders(p: &mut Problems, senders: Option<Vec<String>>) -> Option<Vec<String>> {
    match senders {
        None => {
            p.push("imap.allowed_senders", "is required but missing");
            None
        }
        Some(list) if list.is_empty() => {
            p.push(
                "imap.allowed_senders",
                "must list at least one sender address (mail from anyone else is ignored)",
            );
            None
        }
        Some(list) => {
            let mut senders = Vec::with_capacity(list.len());
            for (index, sender) in list.into_iter().enumerate() {
                let path = format!("imap.allowed_senders[{index}]");
                let sender = sender.trim();
                if sender.is_empty() {
                    p.push(&path, "must not be empty");
                } else if sender.chars().any(char::is_whitespace) {
                    p.push(&path, "must be an address without spaces");
                } else {
                    senders.push(sender.to_owned());
                }
            }
            Some(senders)
        }
    }
}

/// `imap.on_rejected` with `imap.rejected_folder` (needed by `move`, and only by it).
fn on_rejected(
    p: &mut Problems,
    policy: Option<&str>,
    folder: Option<String>,
) -> Option<RejectPolicy> {
    let folder = folder
        .map(|f| f.trim().to_owned())
        .filter(|f| !f.is_empty());
    match (policy, folder) {
        (None | Some("leave"), None) => Some(RejectPolicy::Leave),
        (Some("mark_seen"), None) => Some(RejectPolicy::MarkSeen),
        (Some("move"), Some(folder)) => Some(RejectPolicy::Move(folder)),
        (Some("move"), None) => {
            p.push(
                "imap.rejected_folder",
                "is required when imap.on_rejected = \"move\"",
            );
            None
        }
        (None | Some("leave" | "mark_seen"), Some(_)) => {
            p.push(
                "imap.rejected_folder",
                "is only used with imap.on_rejected = \"move\"",
            );
            None
        }
        (Some(_), _) => {
            p.push(
                "imap.on_rejected",
                "must be one of \"leave\", \"mark_seen\", \"move\"",
            );
            None
        }
    }
}

fn validate_webhook(p: &mut Problems, raw: RawWebhook) -> Option<WebhookConfig> {
    if !cfg!(feature = "webhook") {
        p.push(
            "webhook",
            "`[webhook]` needs jira-mirror built with the `webhook` cargo feature",
        );
        return None;
    }
    let listen = required(p, "webhook.listen", raw.listen)
        .and_then(|listen| socket_address(p, "webhook.listen", &listen, 8080));
    let secret = required(p, "webhook.secret", raw.secret).and_then(|secret| {
        if secret.len() < MIN_WEBHOOK_SECRET_BYTES {
            // Never the value, nor its length: only the rule.
            p.push(
                "webhook.secret",
                format!(
                    "is too short: use at least {MIN_WEBHOOK_SECRET_BYTES} bytes, e.g. the secret \
                     Jira generates or the output of `openssl rand -hex 32`"
                ),
            );
            return None;
        }
        Some(secret)
    });
    let retention_days = int_in_range(
        p,
        "webhook.retention_days",
        raw.retention_days,
        i64::from(DEFAULT_WEBHOOK_RETENTION_DAYS),
        1..=3650,
    ) as u32;
    let max_connections = int_in_range(
        p,
        "webhook.max_connections",
        raw.max_connections,
        DEFAULT_WEBHOOK_MAX_CONNECTIONS as i64,
        1..=4096,
    ) as usize;
    let header_timeout_ms = int_in_range(
        p,
        "webhook.header_timeout_ms",
        raw.header_timeout_ms,
        DEFAULT_WEBHOOK_HEADER_TIMEOUT_MS as i64,
        100..=300_000,
    ) as u64;
    let body_timeout_ms = int_in_range(
        p,
        "webhook.body_timeout_ms",
        raw.body_timeout_ms,
        DEFAULT_WEBHOOK_BODY_TIMEOUT_MS as i64,
        100..=300_000,
    ) as u64;
    // At most a day, which `retention_days` (at least 1) always covers: a delivery young
    // enough to be accepted is young enough for its identifier and body hash to be
    // remembered, so every replay is either refused as stale or answered as a repeat.
    let max_age_secs = int_in_range(
        p,
        "webhook.max_age_secs",
        raw.max_age_secs,
        DEFAULT_WEBHOOK_MAX_AGE_SECS as i64,
        60..=86_400,
    ) as u64;
    Some(WebhookConfig {
        listen: listen?,
        secret: Secret::new(secret?),
        retention_days,
        max_connections,
        header_timeout_ms,
        body_timeout_ms,
        max_age_secs,
    })
}

fn validate_sla(p: &mut Problems, raw: Option<RawSla>) -> SlaNames {
    let (first, resolution) = raw.map_or((None, None), |raw| {
        (raw.first_response, raw.time_to_resolution)
    });
    SlaNames {
        first_response: non_empty_or_default(
            p,
            "sla.first_response",
            first,
            DEFAULT_SLA_FIRST_RESPONSE,
        ),
        time_to_resolution: non_empty_or_default(
            p,
            "sla.time_to_resolution",
            resolution,
            DEFAULT_SLA_TIME_TO_RESOLUTION,
        ),
    }
}

fn validate_fields(p: &mut Problems, raw: BTreeMap<String, String>) -> BTreeMap<String, String> {
    let mut owner_of_column: BTreeMap<&str, &str> = BTreeMap::new();
    for (id, column) in &raw {
        let path = format!("fields.{id}");
        if !is_field_id(id) {
            p.push(
                &path,
                format!(
                    "`{id}` is not a Jira field id: a custom field like `customfield_10100` or \
                     a system field like `environment` (letters, digits, `_`)"
                ),
            );
        }
        if !is_column_name(column) {
            p.push(
                &path,
                format!(
                    "column name `{column}` must be lowercase snake_case \
                     (a letter, then lowercase letters, digits or `_`)"
                ),
            );
        } else if ISSUE_COLUMNS.contains(&column.as_str()) {
            p.push(
                &path,
                format!("column `{column}` is a built-in column of the issues table"),
            );
        } else if let Some(owner) = owner_of_column.get(column.as_str()) {
            p.push(
                &path,
                format!("column `{column}` is already used by fields.{owner}"),
            );
        } else {
            owner_of_column.insert(column, id);
        }
    }
    raw
}

fn validate_attachments(p: &mut Problems, raw: Option<RawAttachments>) -> AttachmentsConfig {
    let (download, max_bytes, max_concurrency) = raw.map_or((None, None, None), |raw| {
        (raw.download, raw.max_bytes, raw.max_concurrency)
    });
    AttachmentsConfig {
        max_concurrency: concurrency(
            p,
            "attachments.max_concurrency",
            max_concurrency,
            DEFAULT_ATTACHMENT_MAX_CONCURRENCY,
        ),
        download: download.unwrap_or(true),
        max_bytes: int_in_range(
            p,
            "attachments.max_bytes",
            max_bytes,
            DEFAULT_ATTACHMENT_MAX_BYTES as i64,
            1..=i64::MAX,
        ) as u64,
    }
}

fn validate_distribution(
    p: &mut Problems,
    base_dir: &Path,
    raw: RawDistribution,
) -> Option<DistributionConfig> {
    let dir = required(p, "distribution.dir", raw.dir)?;
    Some(DistributionConfig {
        dir: resolve_dir(base_dir, &dir),
        attachments: raw.attachments.unwrap_or(false),
    })
}

fn validate_output(p: &mut Problems, raw: Option<RawOutput>) -> OutputConfig {
    let (file_mode, dir_mode) = raw.map_or((None, None), |raw| (raw.file_mode, raw.dir_mode));
    OutputConfig {
        file_mode: mode(p, "output.file_mode", file_mode, DEFAULT_FILE_MODE),
        dir_mode: mode(p, "output.dir_mode", dir_mode, DEFAULT_DIR_MODE),
    }
}

/// Permission bits: a TOML integer (`0o640`) or a string of octal digits (`"640"`,
/// `"0640"`), at most `0o777`. Files must stay readable and folders searchable by their
/// owner, or the mirror could not read back what it wrote.
fn mode(p: &mut Problems, path: &str, value: Option<toml::Value>, default: u32) -> u32 {
    let parsed = match value {
        None => return default,
        Some(toml::Value::Integer(n)) => u32::try_from(n).ok().filter(|&n| n <= 0o777),
        Some(toml::Value::String(s)) => {
            let digits = s.trim().trim_start_matches("0o");
            u32::from_str_radix(digits, 8)
                .ok()
                .filter(|&n| n <= 0o777 && !digits.is_empty())
        }
        Some(_) => None,
    };
    let Some(mode) = parsed else {
        p.push(
            path,
            "must be permission bits up to 0o777, written as an octal integer (0o644) or a \
             string of octal digits (\"644\")",
        );
        return default;
    };
    let owner_needs = if path.ends_with("dir_mode") {
        0o700
    } else {
        0o600
    };
    if mode & owner_needs != owner_needs {
        p.push(
            path,
            format!(
                "{mode:#o} leaves the owner without {}, so the mirror could not keep its own \
                 files up to date",
                if owner_needs == 0o700 { "rwx" } else { "rw" }
            ),
        );
        return default;
    }
    mode
}

/// A required string: missing and blank are both problems.
fn required(p: &mut Problems, path: &str, value: Option<String>) -> Option<String> {
    match value {
        None => {
            p.push(path, "is required but missing");
            None
        }
        Some(value) if value.trim().is_empty() => {
            p.push(path, "must not be empty");
            None
        }
        Some(value) => Some(value),
    }
}

/// An optional string with a default: absent → default, blank → problem.
fn non_empty_or_default(
    p: &mut Problems,
    path: &str,
    value: Option<String>,
    default: &str,
) -> String {
    match value {
        None => default.to_owned(),
        Some(value) if value.trim().is_empty() => {
            p.push(path, "must not be empty");
            default.to_owned()
        }
        Some(value) => value,
    }
}

/// An optional integer with a default and an inclusive range.
fn int_in_range(
    p: &mut Problems,
    path: &str,
    value: Option<i64>,
    default: i64,
    range: RangeInclusive<i64>,
) -> i64 {
    match value {
        None => default,
        Some(value) if range.contains(&value) => value,
        Some(value) => {
            let message = if *range.end() == i64::MAX {
                format!("must be at least {}, found {value}", range.start())
            } else {
                format!(
                    "must be between {} and {}, found {value}",
                    range.start(),
                    range.end()
                )
            };
            p.push(path, message);
            default
        }
    }
}

/// Validates `<section>.base_url`: absolute http(s), a host, no credentials, query or
/// fragment; the path is made to end with `/`. Plain http to a non-loopback host is a
/// problem unless `<section>.allow_insecure_http` (`insecure`) allows it, and then a warning:
/// the credentials would cross the network unencrypted.
fn base_url(
    p: &mut Problems,
    warnings: &mut Vec<String>,
    section: &str,
    value: &str,
    insecure: bool,
) -> Option<Url> {
    let path = &format!("{section}.base_url");
    let mut url = match Url::parse(value.trim()) {
        Ok(url) => url,
        Err(err) => {
            p.push(path, format!("not a valid URL ({err})"));
            return None;
        }
    };
    if url.scheme() != "http" && url.scheme() != "https" {
        p.push(
            path,
            format!(
                "must be an http:// or https:// URL, not {}://",
                url.scheme()
            ),
        );
        return None;
    }
    let Some(host) = url.host() else {
        p.push(path, "must name a host");
        return None;
    };
    let loopback = is_loopback_url_host(&host);
    let host = host.to_string();
    if !url.username().is_empty() || url.password().is_some() {
        p.push(
            path,
            "must not contain credentials; use `email` and `api_token`",
        );
        return None;
    }
    if url.query().is_some() || url.fragment().is_some() {
        p.push(path, "must not have a query (`?…`) or fragment (`#…`)");
        return None;
    }
    if url.scheme() == "http" && !loopback {
        if insecure {
            warnings.push(format!(
                "{path}: plain http:// to non-loopback host {host} (allowed by \
                 {section}.allow_insecure_http): the API token and issue data cross the network \
                 unencrypted"
            ));
        } else {
            p.push(
                path,
                format!(
                    "plain http:// to non-loopback host {host} would send the API token and \
                     issue data unencrypted; use https://, or set \
                     {section}.allow_insecure_http = true to accept that"
                ),
            );
            return None;
        }
    }
    ensure_trailing_slash(&mut url);
    Some(url)
}

/// Validates `jira.proxy`: an `http://` or `https://` URL naming a host (and port), with
/// an optional user name and password and nothing after the host but `/`. The password is
/// registered as sensitive, and no message quotes the value. A password sent to a plain
/// `http://` proxy off loopback warns.
fn proxy_url(p: &mut Problems, warnings: &mut Vec<String>, value: &str) -> Option<ProxyUrl> {
    const PATH: &str = "jira.proxy";
    const EXAMPLE: &str = "e.g. http://proxy.example.com:3128";
    let url = match Url::parse(value.trim()) {
        Ok(url) => url,
        Err(err) => {
            p.push(PATH, format!("not a valid URL ({err}), {EXAMPLE}"));
            return None;
        }
    };
    if let Some(password) = url.password() {
        p.add_sensitive(password);
    }
    match url.scheme() {
        "http" | "https" => {}
        "socks4" | "socks4a" | "socks5" | "socks5h" => {
            p.push(
                PATH,
                format!(
                    "SOCKS proxies are not supported; use an http:// or https:// proxy, {EXAMPLE}"
                ),
            );
            return None;
        }
        other => {
            p.push(
                PATH,
                format!("must be an http:// or https:// URL, not {other}://, {EXAMPLE}"),
            );
            return None;
        }
    }
    let Some(host) = url.host() else {
        p.push(PATH, format!("must name a host, {EXAMPLE}"));
        return None;
    };
    if url.path() != "/" || url.query().is_some() || url.fragment().is_some() {
        p.push(
            PATH,
            format!("must be only scheme://[user:password@]host[:port], {EXAMPLE}"),
        );
        return None;
    }
    if url.scheme() == "http" && url.password().is_some() && !is_loopback_url_host(&host) {
        warnings.push(format!(
            "{PATH}: the proxy password goes to plain http:// host {host} unencrypted (the \
             Jira token stays inside TLS to an https:// base_url); use an https:// proxy URL \
             if the proxy offers one"
        ));
    }
    Some(ProxyUrl(url))
}

fn is_loopback_url_host(host: &Host<&str>) -> bool {
    match *host {
        Host::Domain(domain) => is_loopback_host(domain),
        Host::Ipv4(ip) => is_loopback_ip(IpAddr::V4(ip)),
        Host::Ipv6(ip) => is_loopback_ip(IpAddr::V6(ip)),
    }
}

/// Makes `url.join("rest/…")` append to the path instead of replacing its last segment.
pub(super) fn ensure_trailing_slash(url: &mut Url) {
    if !url.path().ends_with('/') {
        let path = format!("{}/", url.path());
        url.set_path(&path);
    }
}

/// `localhost`, or an IP address in 127.0.0.0/8 or `::1` (brackets allowed).
fn is_loopback_host(host: &str) -> bool {
    let host = host.trim_end_matches('.');
    if host.eq_ignore_ascii_case("localhost") {
        return true;
    }
    let bare = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    bare.parse::<IpAddr>().is_ok_and(is_loopback_ip)
}

fn is_loopback_ip(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => v4.is_loopback(),
        IpAddr::V6(v6) => {
            v6.is_loopback() || v6.to_ipv4_mapped().is_some_and(|v4| v4.is_loopback())
        }
    }
}

/// `^customfield_[0-9]+$`
/// A field id as `/rest/api/3/field` lists it: `customfield_N`, or a system field
/// (`environment`, `timetracking`, `statuscategorychangedate`): a letter, then ASCII letters,
/// digits or `_`, at most 100 bytes.
fn is_field_id(id: &str) -> bool {
    if let Some(digits) = id.strip_prefix("customfield_") {
        return !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit());
    }
    id.len() <= 100
        && id.bytes().next().is_some_and(|b| b.is_ascii_alphabetic())
        && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

/// `^[a-z][a-z0-9_]*$`
fn is_column_name(name: &str) -> bool {
    let mut bytes = name.bytes();
    bytes.next().is_some_and(|b| b.is_ascii_lowercase())
        && bytes.all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
}

/// Whether `jql` has an `ORDER BY` clause, ignoring text inside quoted strings
/// (`summary ~ "order by"` is fine).
fn contains_order_by(jql: &str) -> bool {
    let mut words: Vec<String> = Vec::new();
    let mut chars = jql.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '"' || c == '\'' {
            // Skip the quoted string, honouring backslash escapes.
            while let Some(q) = chars.next() {
                if q == '\\' {
                    chars.next();
                } else if q == c {
                    break;
                }
            }
            words.push(String::from("\""));
        } else if c.is_alphanumeric() || c == '_' {
            let mut word = String::from(c);
            while let Some(&n) = chars.peek() {
                if n.is_alphanumeric() || n == '_' {
                    word.push(n);
                    chars.next();
                } else {
                    break;
                }
            }
            words.push(word);
        } else if !c.is_whitespace() {
            words.push(c.to_string());
        }
    }
    words
        .windows(2)
        .any(|pair| pair[0].eq_ignore_ascii_case("order") && pair[1].eq_ignore_ascii_case("by"))
}

/// `dir` as written if absolute, else joined to `base_dir`; `.` components are dropped.
fn resolve_dir(base_dir: &Path, dir: &str) -> PathBuf {
    let dir = Path::new(dir.trim());
    let joined = if dir.is_absolute() {
        dir.to_path_buf()
    } else {
        base_dir.join(dir)
    };
    joined.components().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn order_by_outside_quotes_only() {
        assert!(contains_order_by("project = X ORDER BY created"));
        assert!(contains_order_by("project = X order\n  by key"));
        assert!(!contains_order_by("summary ~ \"order by\" AND project = X"));
        assert!(!contains_order_by("summary ~ 'it\\'s order by' "));
        assert!(!contains_order_by("project = BORDER"));
        assert!(!contains_order_by("reorder = by"));
    }

    #[test]
    fn loopback_hosts() {
        for host in [
            "localhost",
            "LOCALHOST",
            "127.0.0.1",
            "127.1.2.3",
            "::1",
            "[::1]",
        ] {
            assert!(is_loopback_host(host), "{host}");
        }
        for host in [
            "imap.example.com",
            "10.0.0.1",
            "128.0.0.1",
            "localhost.evil.com",
            "::2",
        ] {
            assert!(!is_loopback_host(host), "{host}");
        }
    }

    #[test]
    fn name_patterns() {
        assert!(is_field_id("customfield_10100"));
        assert!(!is_field_id("customfield_"));
        assert!(!is_field_id("customfield_10a"));
        assert!(is_field_id("summary"));
        assert!(is_field_id("statuscategorychangedate"));
        assert!(!is_field_id("status category"));
        assert!(!is_field_id("_x"));
        assert!(!is_field_id(&"a".repeat(101)));
        assert!(is_column_name("severity_2"));
        assert!(!is_column_name("Severity"));
        assert!(!is_column_name("2severity"));
        assert!(!is_column_name("sev-erity"));
        assert!(!is_column_name(""));
    }

    #[test]
    fn resolves_relative_dirs() {
        assert_eq!(
            resolve_dir(Path::new("/etc/jira-mirror"), "./data"),
            PathBuf::from("/etc/jira-mirror/data")
        );
        assert_eq!(
            resolve_dir(Path::new("/etc/jira-mirror"), "/var/lib/jm"),
            PathBuf::from("/var/lib/jm")
        );
        assert_eq!(
            resolve_dir(Path::new(""), "./data"),
            PathBuf::from("./data")
        );
    }
}
