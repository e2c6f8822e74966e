//! Tests of the whole load path: text → interpolation → raw → validated `Config`.

use std::path::{Path, PathBuf};

use super::*;

/// The configuration example of the product contract (every documented section), verbatim.
const DESIGN_EXAMPLE: &str = r#"
data_dir = "./data"                 # raw/, parquet/, state.db live here

[jira]
base_url  = "https://your-org.atlassian.net"
email     = "integration@your-org.com"
api_token = "${JIRA_API_TOKEN}"
jql       = 'project = SUPPORT'     # the scope; sweeps add the updated-since bound
max_concurrency = 4
max_requests_per_second = 10        # client-side budget, on top of 429/Retry-After handling

[jira_sla]                           # optional: JSM account that can read SLA fields
base_url  = "https://api.atlassian.com/ex/jira/<cloud-id>"
email     = "jsm-agent@your-org.com"
api_token = "${JIRA_SLA_API_TOKEN}"

[sweep]
schedule = "0 * * * * *"            # cron (seconds field first), used by `run`
overlap_secs = 300                  # re-read this much before the watermark

[imap]                               # optional
host = "imap.your-org.com"
port = 993
security = "tls"                    # tls | starttls | none (none only for loopback)
username = "jira-notify@your-org.com"
password = "${IMAP_PASSWORD}"
mailbox  = "INBOX"
idle     = true
allowed_senders = ["jira@your-org.atlassian.net"]

[webhook]                            # optional, cargo feature `webhook`
listen = "127.0.0.1:8080"
secret = "${JIRA_WEBHOOK_SECRET}"

[sla]                                # which JSM SLAs feed the issues table's SLA columns
first_response     = "Time to first response"
time_to_resolution = "Time to resolution"

[sla_poll]
schedule = "0 */15 * * * *"

[reconcile]
schedule = "0 0 3 * * *"

[fields]                             # custom field id -> column name in `issues`
customfield_10100 = "severity"

[attachments]
download  = true
max_bytes = 52428800

[distribution]                       # optional: copy changed Parquet files here atomically
dir = "/srv/analyst-share/jira"
"#;

/// The shipped example file.
const EXAMPLE_FILE: &str = include_str!("../../config/jira-mirror.example.toml");

fn env(name: &str) -> Option<String> {
    match name {
        "JIRA_API_TOKEN" => Some("jira-token-1234".to_owned()),
        "JIRA_SLA_API_TOKEN" => Some("sla-token-5678".to_owned()),
        "IMAP_PASSWORD" => Some("imap-pass-9999".to_owned()),
        "JIRA_WEBHOOK_SECRET" => Some("hook-secret-0000".to_owned()),
        _ => None,
    }
}

fn no_env(_: &str) -> Option<String> {
    None
}

/// A minimal valid config.
const MINIMAL: &str = r#"
[jira]
base_url = "https://example.atlassian.net"
email = "bot@example.com"
api_token = "${JIRA_API_TOKEN}"
jql = "project = SUP"
"#;

fn parse(text: &str) -> Result<Config, ConfigError> {
    Config::from_str_in_dir(text, Path::new("/etc/jira-mirror"), env)
}

fn problems(text: &str) -> Vec<String> {
    match parse(text) {
        Ok(config) => panic!("expected problems, got {config:#?}"),
        Err(err) => err.problems,
    }
}

/// Asserts that some problem starts with `path: ` and contains `needle`.
#[track_caller]
fn assert_problem(problems: &[String], path: &str, needle: &str) {
    let prefix = format!("{path}: ");
    assert!(
        problems
            .iter()
            .any(|p| p.starts_with(&prefix) && p.contains(needle)),
        "no problem `{path}: …{needle}…` in:\n{}",
        problems.join("\n")
    );
}

#[test]
fn design_example_parses() {
    let text = if cfg!(feature = "webhook") {
        DESIGN_EXAMPLE.to_owned()
    } else {
        // Without the feature the section is refused (see
        // `webhook_section_needs_the_feature`); check the rest.
        let start = DESIGN_EXAMPLE.find("[webhook]").unwrap();
        let end = DESIGN_EXAMPLE.find("[sla]").unwrap();
        format!("{}{}", &DESIGN_EXAMPLE[..start], &DESIGN_EXAMPLE[end..])
    };
    let config = parse(&text).unwrap();
    assert_eq!(config.data_dir, PathBuf::from("/etc/jira-mirror/data"));
    assert_eq!(
        config.jira.base_url.as_str(),
        "https://your-org.atlassian.net/"
    );
    assert_eq!(config.jira.email, "integration@your-org.com");
    assert_eq!(config.jira.api_token.expose(), "jira-token-1234");
    assert_eq!(config.jira.jql, "project = SUPPORT");
    assert_eq!(config.jira.max_concurrency, 4);
    assert_eq!(config.jira.max_requests_per_second, 10.0);
    assert_eq!(config.jira.request_timeout_secs, 60);
    assert_eq!(config.jira.max_retries, 8);

    let sla = config.jira_sla.as_ref().unwrap();
    // The path prefix survives `join` thanks to the trailing slash.
    assert_eq!(
        sla.base_url.join("rest/api/3/myself").unwrap().as_str(),
        "https://api.atlassian.com/ex/jira/%3Ccloud-id%3E/rest/api/3/myself"
    );
    assert_eq!(sla.api_token.expose(), "sla-token-5678");

    assert_eq!(config.sweep.schedule, "0 * * * * *");
    assert_eq!(config.sweep.overlap_secs, 300);

    let imap = config.imap.as_ref().unwrap();
    assert_eq!(imap.host, "imap.your-org.com");
    assert_eq!(imap.port, 993);
    assert_eq!(imap.security, ImapSecurity::Tls);
    assert_eq!(imap.password.expose(), "imap-pass-9999");
    assert_eq!(imap.mailbox, "INBOX");
    assert!(imap.idle);
    assert_eq!(imap.allowed_senders, ["jira@your-org.atlassian.net"]);

    #[cfg(feature = "webhook")]
    {
        let webhook = config.webhook.as_ref().unwrap();
        assert_eq!(webhook.listen, "127.0.0.1:8080".parse().unwrap());
        assert_eq!(webhook.secret.expose(), "hook-secret-0000");
    }

    assert_eq!(config.sla, SlaNames::default());
    assert_eq!(config.sla_poll.schedule, "0 */15 * * * *");
    assert_eq!(config.reconcile.schedule, "0 0 3 * * *");
    assert_eq!(config.fields["customfield_10100"], "severity");
    assert_eq!(config.attachments, AttachmentsConfig::default());
    assert_eq!(
        config.distribution.as_ref().unwrap().dir,
        PathBuf::from("/srv/analyst-share/jira")
    );
    assert!(config.warnings.is_empty(), "{:?}", config.warnings);
    assert_eq!(config.raw_dir(), PathBuf::from("/etc/jira-mirror/data/raw"));
    assert_eq!(
        config.state_path(),
        PathBuf::from("/etc/jira-mirror/data/state.db")
    );
    assert_eq!(
        config.parquet_dir(),
        PathBuf::from("/etc/jira-mirror/data/parquet")
    );
}

#[cfg(feature = "webhook")]
#[test]
fn example_file_parses_and_matches_defaults() {
    let config = parse(EXAMPLE_FILE).unwrap();
    assert!(config.imap.is_some());
    assert!(config.webhook.is_some());
    assert!(config.jira_sla.is_some());
    assert!(config.distribution.is_some());
    assert!(config.warnings.is_empty(), "{:?}", config.warnings);
    // The example states the defaults: they must be the real ones.
    let defaults = parse(MINIMAL).unwrap();
    assert_eq!(config.data_dir, defaults.data_dir);
    assert_eq!(config.jira.max_concurrency, defaults.jira.max_concurrency);
    assert_eq!(
        config.jira.max_requests_per_second,
        defaults.jira.max_requests_per_second
    );
    assert_eq!(
        config.jira.request_timeout_secs,
        defaults.jira.request_timeout_secs
    );
    assert_eq!(config.jira.max_retries, defaults.jira.max_retries);
    assert_eq!(config.jira.proxy, defaults.jira.proxy);
    assert_eq!(config.sweep, defaults.sweep);
    assert_eq!(config.sla, defaults.sla);
    assert_eq!(config.sla_poll, defaults.sla_poll);
    assert_eq!(config.reconcile, defaults.reconcile);
    assert_eq!(config.attachments, defaults.attachments);
    assert_eq!(config.output, defaults.output);
    assert_eq!(config.run, defaults.run);
    let webhook = config.webhook.unwrap();
    let defaults = WebhookConfig::new(webhook.listen, webhook.secret.clone());
    assert_eq!(webhook, defaults);
    let imap = config.imap.unwrap();
    assert_eq!(imap.port, DEFAULT_IMAP_PORT);
    assert_eq!(imap.mailbox, DEFAULT_IMAP_MAILBOX);
    assert!(imap.idle);
    assert_eq!(imap.max_attempts, DEFAULT_IMAP_MAX_ATTEMPTS);
}

#[cfg(not(feature = "webhook"))]
#[test]
fn example_file_needs_the_webhook_feature() {
    let problems = problems(EXAMPLE_FILE);
    assert_eq!(
        problems,
        ["webhook: `[webhook]` needs jira-mirror built with the `webhook` cargo feature"]
    );
}

#[test]
fn minimal_config_gets_every_default() {
    let config = Config::from_str_with_env(MINIMAL, env).unwrap();
    assert_eq!(config.data_dir, PathBuf::from("./data"));
    assert_eq!(config.jira.max_concurrency, DEFAULT_MAX_CONCURRENCY);
    assert_eq!(config.sweep.schedule, DEFAULT_SWEEP_SCHEDULE);
    assert_eq!(config.sweep.overlap_secs, DEFAULT_SWEEP_OVERLAP_SECS);
    assert_eq!(config.sla_poll.schedule, DEFAULT_SLA_POLL_SCHEDULE);
    assert_eq!(config.reconcile.schedule, DEFAULT_RECONCILE_SCHEDULE);
    assert!(config.attachments.download);
    assert_eq!(config.attachments.max_bytes, 52_428_800);
    assert!(config.fields.is_empty());
    assert!(config.jira_sla.is_none());
    assert!(config.imap.is_none());
    assert!(config.webhook.is_none());
    assert!(config.distribution.is_none());
    assert_eq!(config.output.file_mode, 0o644);
    assert_eq!(config.output.dir_mode, 0o755);
}

#[test]
fn output_modes_are_octal_integers_or_strings() {
    for (file, dir, expected) in [
        ("0o640", "0o750", (0o640, 0o750)),
        ("\"640\"", "\"0750\"", (0o640, 0o750)),
        ("\"0o600\"", "448", (0o600, 0o700)),
    ] {
        let text = format!("{MINIMAL}\n[output]\nfile_mode = {file}\ndir_mode = {dir}\n");
        let config = parse(&text).unwrap();
        assert_eq!(
            (config.output.file_mode, config.output.dir_mode),
            expected,
            "{text}"
        );
    }
    for (value, needle) in [
        ("644", "octal"),
        ("\"rw-r--r--\"", "octal"),
        ("\"\"", "octal"),
        ("-1", "octal"),
        ("true", "octal"),
        ("0o044", "without rw"),
    ] {
        let text = format!("{MINIMAL}\n[output]\nfile_mode = {value}\ndir_mode = 0o600\n");
        let problems = problems(&text);
        assert_problem(&problems, "output.file_mode", needle);
        assert_problem(&problems, "output.dir_mode", "without rwx");
    }
    assert_problem(
        &problems(&format!("{MINIMAL}\n[output]\nmode = 0o644\n")),
        "output.mode",
        "",
    );
}

#[test]
fn every_problem_is_reported_at_once() {
    let text = r#"
data_dir = "./data"
colour = "blue"

[jira]
base_url = "not a url"
email = "bot@example.com"
api_token = "${MISSING_TOKEN}"
jql = "project = SUP"
max_concurency = 4

[sweep]
schedule = "0 * * * *"
overlap = 300

[imap]
host = "imap.example.com"
username = "u"
password = "p"
allowed_senders = ["jira@example.com"]
idel = true
"#;
    let problems = problems(text);
    assert_problem(&problems, "colour", "unknown key");
    assert_problem(
        &problems,
        "jira.max_concurency",
        "did you mean `max_concurrency`",
    );
    assert_problem(&problems, "sweep.overlap", "did you mean `overlap_secs`");
    assert_problem(&problems, "imap.idel", "did you mean `idle`");
    assert_problem(&problems, "jira.base_url", "not a valid URL");
    assert_problem(&problems, "sweep.schedule", "6");
    assert_problem(
        &problems,
        "jira.api_token",
        "environment variable MISSING_TOKEN is not set",
    );
    assert_eq!(problems.len(), 7, "{}", problems.join("\n"));
}

#[test]
fn type_errors_hide_nothing() {
    let text = r#"
[jira]
base_url = "https://example.atlassian.net"
email = 42
api_token = "t0ken"
jql = "project = SUP"
max_concurrency = "four"
max_retries = 1000
bogus = 1

[imap]
host = "imap.example.com"
port = "993"
username = "u"
password = "p"
allowed_senders = ["jira@example.com", 7]
idle = "yes"

[attachments]
download = "true"
max_bytes = -1

[sla_poll]
schedule = 5
"#;
    let problems = problems(text);
    assert_problem(
        &problems,
        "jira.email",
        "invalid type: integer, expected a string",
    );
    assert_problem(&problems, "jira.max_concurrency", "expected an integer");
    assert_problem(&problems, "jira.max_retries", "between 0 and 100");
    assert_problem(&problems, "jira.bogus", "unknown key");
    assert_problem(&problems, "imap.port", "invalid type");
    assert_problem(&problems, "imap.allowed_senders[1]", "invalid type");
    assert_problem(&problems, "imap.idle", "expected a boolean");
    assert_problem(&problems, "attachments.download", "expected a boolean");
    assert_problem(&problems, "attachments.max_bytes", "at least 1");
    assert_problem(&problems, "sla_poll.schedule", "invalid type");
    // A key with a type error is not reported again as missing.
    assert!(!problems.iter().any(|p| p.contains("required but missing")));
    assert_eq!(problems.len(), 10, "{}", problems.join("\n"));
}

#[test]
fn a_section_of_the_wrong_type_is_one_problem() {
    let problems = problems("jira = 5\nsweep = [1]\nfields = \"x\"\ndata_dir = 3\n");
    assert_problem(
        &problems,
        "jira",
        "must be a table (a `[jira]` section), not an integer",
    );
    assert_problem(
        &problems,
        "sweep",
        "must be a table (a `[sweep]` section), not an array",
    );
    assert_problem(&problems, "fields", "must be a table");
    assert_problem(
        &problems,
        "data_dir",
        "invalid type: integer, expected a string",
    );
    // No "missing [jira]" on top of the type error.
    assert_eq!(problems.len(), 4, "{}", problems.join("\n"));
}

#[test]
fn missing_jira_section_and_keys() {
    assert_eq!(
        problems(""),
        ["jira: the required section `[jira]` is missing"]
    );
    let problems = problems("[jira]\nemail = \"\"\n");
    assert_problem(&problems, "jira.base_url", "required but missing");
    assert_problem(&problems, "jira.email", "must not be empty");
    assert_problem(&problems, "jira.api_token", "required but missing");
    assert_problem(&problems, "jira.jql", "required but missing");
}

#[test]
fn syntax_errors_give_a_location() {
    let problems = problems("[jira]\nbase_url = \"https://x\nemail = 1\n");
    assert_eq!(problems.len(), 1);
    assert!(problems[0].starts_with("line 2, column "), "{problems:?}");
    assert!(problems[0].contains("not valid TOML"), "{problems:?}");
}

#[test]
fn display_is_one_problem_per_line_starting_with_the_path() {
    let err = parse("[jira]\nbase_url = \"ftp://x\"\n[sweep]\noverlap_secs = -5\n").unwrap_err();
    let text = err.to_string();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), err.problems.len());
    assert!(lines.len() >= 4, "{text}");
    for line in lines {
        assert!(
            line.starts_with("jira.") || line.starts_with("sweep."),
            "{line}"
        );
    }
    assert!(text.contains("jira.base_url: must be an http:// or https:// URL, not ftp://"));
    assert!(text.contains("sweep.overlap_secs: must be at least 0, found -5"));
}

#[test]
fn imap_security_none_only_on_loopback() {
    let imap = |host: &str, security: &str| {
        format!(
            "{MINIMAL}\n[imap]\nhost = \"{host}\"\nsecurity = \"{security}\"\nusername = \"u\"\n\
             password = \"p\"\nallowed_senders = [\"jira@example.com\"]\n"
        )
    };
    let found = problems(&imap("imap.example.com", "none"));
    assert_problem(&found, "imap.security", "loopback");
    assert_eq!(found.len(), 1);

    for host in ["127.0.0.1", "localhost", "::1"] {
        let config = parse(&imap(host, "none")).unwrap();
        assert_eq!(config.imap.unwrap().security, ImapSecurity::None);
    }
    let config = parse(&imap("imap.example.com", "starttls")).unwrap();
    assert_eq!(
        config.imap.as_ref().unwrap().security,
        ImapSecurity::StartTls
    );
    // starttls on the implicit-TLS default port is legal but suspicious.
    assert!(config.warnings[0].starts_with("imap.port: "));

    assert_problem(
        &problems(&imap("imap.example.com", "ssl")),
        "imap.security",
        "one of",
    );
}

#[test]
fn imap_max_attempts_defaults_to_5_and_is_checked() {
    let base = format!(
        "{MINIMAL}\n[imap]\nhost = \"h\"\nusername = \"u\"\npassword = \"p\"\n\
         allowed_senders = [\"jira@example.com\"]\n"
    );
    assert_eq!(parse(&base).unwrap().imap.unwrap().max_attempts, 5);
    for n in [1, 100] {
        let config = parse(&format!("{base}max_attempts = {n}\n")).unwrap();
        assert_eq!(config.imap.unwrap().max_attempts, n);
    }
    for bad in ["0", "101", "-1"] {
        assert_problem(
            &problems(&format!("{base}max_attempts = {bad}\n")),
            "imap.max_attempts",
            "must be between 1 and 100",
        );
    }
    assert_problem(
        &problems(&format!("{base}max_attempts = \"5\"\n")),
        "imap.max_attempts",
        "invalid type",
    );
}

#[test]
fn imap_requires_allowed_senders() {
    let base = format!("{MINIMAL}\n[imap]\nhost = \"h\"\nusername = \"u\"\npassword = \"p\"\n");
    assert_problem(
        &problems(&base),
        "imap.allowed_senders",
        "required but missing",
    );
    assert_problem(
        &problems(&format!("{base}allowed_senders = []\n")),
        "imap.allowed_senders",
        "at least one",
    );
    assert_problem(
        &problems(&format!("{base}allowed_senders = [\"a@b\", \" \"]\n")),
        "imap.allowed_senders[1]",
        "must not be empty",
    );
}

#[test]
fn plain_http_off_loopback_needs_allow_insecure_http() {
    let with_url = |url: &str| MINIMAL.replace("https://example.atlassian.net", url);
    for url in [
        "http://jira.example.com",
        "http://10.0.0.7:8080",
        "http://128.0.0.1",
        "http://localhost.example.com",
        "http://[::2]",
    ] {
        let problems = problems(&with_url(url));
        assert_problem(
            &problems,
            "jira.base_url",
            "plain http:// to non-loopback host",
        );
        assert_problem(
            &problems,
            "jira.base_url",
            "set jira.allow_insecure_http = true",
        );
        assert_eq!(problems.len(), 1, "{url}: {problems:?}");
    }

    // Explicitly allowed: valid, with a warning.
    let allowed = |url: &str| {
        with_url(url).replace(
            "jql = \"project = SUP\"",
            "jql = \"project = SUP\"\nallow_insecure_http = true",
        )
    };
    let config = parse(&allowed("http://jira.example.com")).unwrap();
    assert_eq!(config.warnings.len(), 1, "{:?}", config.warnings);
    assert!(
        config.warnings[0].starts_with("jira.base_url: plain http:// to non-loopback host")
            && config.warnings[0].contains("allow_insecure_http"),
        "{:?}",
        config.warnings
    );
    // The flag allows, it does not require: https and loopback need nothing.
    for url in ["https://jira.example.com", "http://127.0.0.1:8080"] {
        let config = parse(&allowed(url)).unwrap();
        assert!(config.warnings.is_empty(), "{url}: {:?}", config.warnings);
    }

    // Loopback (127.0.0.0/8, ::1, localhost) and https need no flag and give no warning.
    for url in [
        "http://127.0.0.1:8080",
        "http://127.3.2.1",
        "http://localhost:3000/jira",
        "http://LOCALHOST.",
        "http://[::1]:9000",
        "https://jira.example.com",
    ] {
        let config = parse(&with_url(url)).unwrap();
        assert!(config.warnings.is_empty(), "{url}: {:?}", config.warnings);
    }
    let config = parse(&with_url("http://localhost:3000/jira")).unwrap();
    assert_eq!(config.jira.base_url.as_str(), "http://localhost:3000/jira/");
}

#[test]
fn jira_sla_has_its_own_allow_insecure_http() {
    let sla = |extra: &str| {
        format!(
            "{MINIMAL}\n[jira_sla]\nbase_url = \"http://jsm.example.com\"\n\
             email = \"jsm@example.com\"\napi_token = \"${{JIRA_SLA_API_TOKEN}}\"\n{extra}"
        )
    };
    let found = problems(&sla(""));
    assert_problem(
        &found,
        "jira_sla.base_url",
        "set jira_sla.allow_insecure_http = true",
    );
    assert_eq!(found.len(), 1, "{found:?}");
    // `[jira] allow_insecure_http` does not cover the JSM account.
    let both = sla("").replace(
        "jql = \"project = SUP\"",
        "jql = \"project = SUP\"\nallow_insecure_http = true",
    );
    assert_problem(&problems(&both), "jira_sla.base_url", "plain http://");
    let config = parse(&sla("allow_insecure_http = true\n")).unwrap();
    assert_eq!(
        config.jira_sla.unwrap().base_url.as_str(),
        "http://jsm.example.com/"
    );
    assert_eq!(config.warnings.len(), 1, "{:?}", config.warnings);
    assert!(config.warnings[0].starts_with("jira_sla.base_url: "));
}

#[test]
fn bad_base_urls() {
    let with_url = |url: &str| MINIMAL.replace("https://example.atlassian.net", url);
    assert_problem(
        &problems(&with_url("https://user:pw@example.atlassian.net")),
        "jira.base_url",
        "credentials",
    );
    assert_problem(
        &problems(&with_url("https://example.atlassian.net/?x=1")),
        "jira.base_url",
        "query",
    );
    assert_problem(
        &problems(&with_url("example.atlassian.net")),
        "jira.base_url",
        "not a valid URL",
    );
}

#[test]
fn jql_must_not_order() {
    let text = MINIMAL.replace("project = SUP", "project = SUP ORDER BY created DESC");
    assert_problem(&problems(&text), "jira.jql", "ORDER BY");
    let text = MINIMAL.replace("project = SUP", "   ");
    assert_problem(&problems(&text), "jira.jql", "must not be empty");
    let text = MINIMAL.replace("project = SUP", "summary ~ 'order by'");
    assert!(parse(&text).is_ok());
}

#[test]
fn jira_ranges() {
    let text = format!(
        "{MINIMAL}max_concurrency = 65\nmax_requests_per_second = 0\nrequest_timeout_secs = 0\n"
    );
    let problems = problems(&text);
    assert_problem(
        &problems,
        "jira.max_concurrency",
        "between 1 and 64, found 65",
    );
    assert_problem(&problems, "jira.max_requests_per_second", "greater than 0");
    assert_problem(&problems, "jira.request_timeout_secs", "between 1 and 3600");

    let config = parse(&format!("{MINIMAL}max_requests_per_second = 2.5\n")).unwrap();
    assert_eq!(config.jira.max_requests_per_second, 2.5);
    let config = parse(&format!("{MINIMAL}max_concurrency = 64\nmax_retries = 0\n")).unwrap();
    assert_eq!(config.jira.max_concurrency, 64);
    assert_eq!(config.jira.max_retries, 0);
}

#[test]
fn jsm_and_download_budgets_have_defaults_and_ranges() {
    let sla = |extra: &str| {
        format!(
            "{MINIMAL}\n[jira_sla]\nbase_url = \"https://jsm.example.com\"\n\
             email = \"jsm@example.com\"\napi_token = \"${{JIRA_SLA_API_TOKEN}}\"\n{extra}"
        )
    };
    let config = parse(&sla("")).unwrap();
    let jsm = config.jira_sla.unwrap();
    assert_eq!(
        (jsm.max_concurrency, jsm.max_requests_per_second),
        (
            DEFAULT_SLA_MAX_CONCURRENCY,
            DEFAULT_SLA_MAX_REQUESTS_PER_SECOND
        )
    );
    assert_eq!(
        config.attachments.max_concurrency,
        DEFAULT_ATTACHMENT_MAX_CONCURRENCY
    );
    let config = parse(&sla(
        "max_concurrency = 2\nmax_requests_per_second = 0.5\n\n[attachments]\nmax_concurrency = 16\n",
    ))
    .unwrap();
    let jsm = config.jira_sla.unwrap();
    assert_eq!((jsm.max_concurrency, jsm.max_requests_per_second), (2, 0.5));
    assert_eq!(config.attachments.max_concurrency, 16);
    let found = problems(&sla(
        "max_concurrency = 0\nmax_requests_per_second = -1\n\n[attachments]\nmax_concurrency = 65\n",
    ));
    assert_problem(
        &found,
        "jira_sla.max_concurrency",
        "between 1 and 64, found 0",
    );
    assert_problem(&found, "jira_sla.max_requests_per_second", "greater than 0");
    assert_problem(
        &found,
        "attachments.max_concurrency",
        "between 1 and 64, found 65",
    );
    assert_eq!(found.len(), 3, "{found:?}");
}

#[test]
fn the_main_account_named_again_as_the_jsm_account_is_a_warning() {
    // MINIMAL's account: bot@example.com on https://example.atlassian.net.
    let base = "https://example.atlassian.net";
    let text = format!(
        "{MINIMAL}\n[jira_sla]\nbase_url = \"{base}\"\nemail = \"BOT@example.com\"\n\
         api_token = \"${{JIRA_SLA_API_TOKEN}}\"\n"
    );
    let config = parse(&text).unwrap();
    assert_eq!(config.warnings.len(), 1, "{:?}", config.warnings);
    assert!(config.warnings[0].starts_with("jira_sla.email: the same account"));
    // Another account, or the same one through another host (the API gateway), is not.
    let other = text.replace("BOT@example.com", "jsm@example.com");
    assert!(parse(&other).unwrap().warnings.is_empty());
    let gateway = text.replace(
        &format!("base_url = \"{base}\"\nemail = \"BOT"),
        "base_url = \"https://api.atlassian.com/ex/jira/1\"\nemail = \"BOT",
    );
    assert!(parse(&gateway).unwrap().warnings.is_empty());
}

#[test]
fn run_policy_defaults_and_ranges() {
    let config = parse(MINIMAL).unwrap();
    assert_eq!(config.run, RunConfig::default());
    assert_eq!(
        (config.run.max_attempts, config.run.shutdown_grace_secs),
        (5, 30)
    );
    let config = parse(&format!(
        "{MINIMAL}\n[run]\nmax_attempts = 12\nshutdown_grace_secs = 90\n"
    ))
    .unwrap();
    assert_eq!(
        (config.run.max_attempts, config.run.shutdown_grace_secs),
        (12, 90)
    );
    let problems = problems(&format!(
        "{MINIMAL}\n[run]\nmax_attempts = 0\nshutdown_grace_secs = 0\nretries = 3\n"
    ));
    assert_problem(&problems, "run.max_attempts", "between 1 and 1000, found 0");
    assert_problem(&problems, "run.shutdown_grace_secs", "between 1 and 3600");
    assert_problem(&problems, "run.retries", "unknown");
}

#[test]
fn deletion_cap_and_quarantine() {
    let config = parse(MINIMAL).unwrap();
    assert_eq!(config.run.quarantine_days, 30);
    assert_eq!(config.run.max_deletions, None);
    // The larger of 50 and 2 % of the mirror.
    assert_eq!(config.run.deletion_cap(0), 50);
    assert_eq!(config.run.deletion_cap(2_499), 50);
    assert_eq!(config.run.deletion_cap(10_000), 200);
    let config = parse(&format!(
        "{MINIMAL}\n[run]\nmax_deletions = 0\nquarantine_days = 7\n"
    ))
    .unwrap();
    assert_eq!(config.run.deletion_cap(1_000_000), 0);
    assert_eq!(config.run.quarantine_days, 7);
    let problems = problems(&format!(
        "{MINIMAL}\n[run]\nmax_deletions = -1\nquarantine_days = 0\n"
    ));
    assert_problem(&problems, "run.max_deletions", "found -1");
    assert_problem(
        &problems,
        "run.quarantine_days",
        "between 1 and 3650, found 0",
    );
}

#[test]
fn the_metrics_endpoint_is_off_by_default_and_loopback_only() {
    assert_eq!(parse(MINIMAL).unwrap().run.metrics_listen, None);
    for listen in ["127.0.0.1:9464", "[::1]:9464", "127.0.0.1:0"] {
        let config = parse(&format!(
            "{MINIMAL}\n[run]\nmetrics_listen = \"{listen}\"\n"
        ))
        .unwrap();
        assert_eq!(config.run.metrics_listen, Some(listen.parse().unwrap()));
    }
    let refused = problems(&format!(
        "{MINIMAL}\n[run]\nmetrics_listen = \"0.0.0.0:9464\"\n"
    ));
    assert_problem(&refused, "run.metrics_listen", "not a loopback address");
    for bad in ["localhost:9464", "127.0.0.1", "http://127.0.0.1:9464/"] {
        let refused = problems(&format!("{MINIMAL}\n[run]\nmetrics_listen = \"{bad}\"\n"));
        assert_problem(
            &refused,
            "run.metrics_listen",
            "not an IP address with a port",
        );
    }
}

#[test]
fn schedules_need_six_fields() {
    assert!(parse_schedule("0 * * * * *").is_ok());
    assert!(parse_schedule("*/30 */5 1-5 * JAN-MAR MON-FRI").is_ok());
    assert!(parse_schedule("* * * * *").is_err());
    assert!(parse_schedule("0 0 0 * * * 2030").is_err());
    assert!(parse_schedule("61 * * * * *").is_err());
    assert!(parse_schedule("@hourly").is_err());
    let text = format!("{MINIMAL}\n[reconcile]\nschedule = \"0 0 25 * * *\"\n");
    assert_problem(&problems(&text), "reconcile.schedule", "not a valid cron");
}

#[test]
fn dollar_dollar_escapes() {
    let text = MINIMAL.replace("project = SUP", "summary ~ '$${NOT_A_VAR}'");
    let config = Config::from_str_with_env(&text, no_env).unwrap_err();
    // Only the real reference (api_token) is missing; the escaped one is not looked up.
    assert_eq!(
        config.problems,
        ["jira.api_token: environment variable JIRA_API_TOKEN is not set"]
    );
    let config = parse(&text).unwrap();
    assert_eq!(config.jira.jql, "summary ~ '${NOT_A_VAR}'");
}

#[test]
fn env_in_every_string_but_not_in_other_types() {
    let text = r#"
data_dir = "${STATE}/mirror"
[jira]
base_url = "${BASE}"
email = "${USER_NAME}@example.com"
api_token = "${TOKEN}"
jql = "project = ${PROJECT}"
[imap]
host = "localhost"
username = "u"
password = "p"
allowed_senders = ["${SENDER}"]
"#;
    let env = |name: &str| {
        Some(
            match name {
                "STATE" => "/var/lib",
                "BASE" => "https://example.atlassian.net",
                "USER_NAME" => "bot",
                "TOKEN" => "tok",
                "PROJECT" => "SUP",
                "SENDER" => "jira@example.com",
                _ => return None,
            }
            .to_owned(),
        )
    };
    let config = Config::from_str_with_env(text, env).unwrap();
    assert_eq!(config.data_dir, PathBuf::from("/var/lib/mirror"));
    assert_eq!(config.jira.email, "bot@example.com");
    assert_eq!(config.jira.jql, "project = SUP");
    assert_eq!(config.imap.unwrap().allowed_senders, ["jira@example.com"]);

    let found = Config::from_str_with_env(text, no_env)
        .unwrap_err()
        .problems;
    assert_problem(&found, "data_dir", "STATE is not set");
    assert_problem(&found, "jira.base_url", "BASE is not set");
    assert_problem(&found, "jira.jql", "PROJECT is not set");
    assert_problem(&found, "imap.allowed_senders[0]", "SENDER is not set");
    // One line per key: no "not a valid URL" after the missing variable.
    assert_eq!(found.len(), 6, "{}", found.join("\n"));

    let text = MINIMAL.replace("${JIRA_API_TOKEN}", "${JIRA_API_TOKEN");
    assert_problem(&problems(&text), "jira.api_token", "closing `}`");
}

#[test]
fn relative_paths_follow_the_config_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("jira-mirror.toml");
    let text = format!("data_dir = \"state\"\n{MINIMAL}\n[distribution]\ndir = \"../share\"\n");
    std::fs::write(&path, text).unwrap();
    let config = Config::load_with_env(&path, env).unwrap();
    assert_eq!(config.data_dir, dir.path().join("state"));
    assert!(config.data_dir.is_absolute());
    assert_eq!(
        config.distribution.unwrap().dir,
        dir.path().join("../share")
    );

    let config = Config::from_str_in_dir(MINIMAL, Path::new("/etc/jm"), env).unwrap();
    assert_eq!(config.data_dir, PathBuf::from("/etc/jm/data"));
    let text = format!("data_dir = \"/var/lib/jm\"\n{MINIMAL}");
    let config = Config::from_str_in_dir(&text, Path::new("/etc/jm"), env).unwrap();
    assert_eq!(config.data_dir, PathBuf::from("/var/lib/jm"));

    let missing = Config::load(&dir.path().join("nope.toml")).unwrap_err();
    assert!(missing.problems[0].contains("cannot read the config file"));
}

#[test]
fn field_mappings_are_checked() {
    let text = format!(
        "{MINIMAL}\n[fields]\ncustomfield_1 = \"severity\"\ncustomfield_2 = \"severity\"\n\
         customfield_3 = \"status\"\ncustomfield_4 = \"Team-Name\"\n\"summary-x\" = \"team\"\n\
         customfield_5 = \"custom_fields\"\ncustomfield_6 = 7\ncustomfield_7 = \"team\"\n\
         customfield_x = \"cfx\"\nenvironment = \"env\"\n"
    );
    let problems = problems(&text);
    assert_problem(
        &problems,
        "fields.customfield_2",
        "column `severity` is already used by fields.customfield_1",
    );
    assert_problem(&problems, "fields.customfield_3", "built-in column");
    assert_problem(&problems, "fields.customfield_4", "lowercase snake_case");
    assert_problem(&problems, "fields.summary-x", "not a Jira field id");
    assert_problem(&problems, "fields.customfield_x", "not a Jira field id");
    assert_problem(&problems, "fields.customfield_5", "built-in column");
    assert_problem(&problems, "fields.customfield_6", "invalid type");
    assert_eq!(problems.len(), 7, "{}", problems.join("\n"));
    // System fields may be mapped too.
    let text = format!("{MINIMAL}\n[fields]\nenvironment = \"env_text\"\ntimetracking = \"tt\"\n");
    let config = parse(&text).unwrap();
    assert_eq!(config.fields["environment"], "env_text");
}

#[test]
fn issue_columns_are_valid_names() {
    for column in ISSUE_COLUMNS {
        assert!(
            column
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_'),
            "{column}"
        );
    }
    assert!(ISSUE_COLUMNS.contains(&"time_to_resolution_breached"));
}

#[test]
fn secrets_never_leak() {
    let secret = "s3cr3t-value";
    let leak_env = |name: &str| (name == "TOKEN").then(|| secret.to_owned());
    // The secret as a literal and via the environment, with several other problems; also
    // put in keys whose type errors or messages could echo it.
    let texts = [
        format!(
            "[jira]\nbase_url = \"nope\"\nemail = \"\"\napi_token = \"{secret}\"\njql = \"x\"\n\
             max_concurrency = 0\nextra = 1\n[sweep]\nschedule = \"bad\"\n"
        ),
        "[jira]\nbase_url = \"nope\"\nemail = \"e\"\napi_token = \"${TOKEN}\"\njql = \"x\"\n\
         max_concurrency = \"${TOKEN}\"\n[imap]\nsecurity = \"${TOKEN}\"\nhost = \"${TOKEN}\"\n\
         password = \"${TOKEN}\"\n[webhook]\nlisten = \"${TOKEN}\"\nsecret = \"${TOKEN}\"\n"
            .to_owned(),
        format!("[jira]\napi_token = \"{secret}\nemail = 1\n"),
        format!(
            "[jira]\napi_token = 12345678\nemail = \"{secret}\"\n[imap]\npassword = \"{secret}\""
        ),
    ];
    for text in &texts {
        let err = Config::from_str_with_env(text, leak_env).unwrap_err();
        let shown = format!("{err}\n{err:?}\n{:?}", err.problems);
        assert!(
            err.problems.len() >= 2 || text.contains("\nemail = 1"),
            "{shown}"
        );
        assert!(!shown.contains(secret), "secret leaked:\n{shown}");
        assert!(!shown.contains("12345678"), "secret leaked:\n{shown}");
    }

    let text = MINIMAL.replace("${JIRA_API_TOKEN}", secret);
    let config = parse(&text).unwrap();
    assert_eq!(config.jira.api_token.expose(), secret);
    let shown = format!("{config:?} {config:#?} {}", config.jira.api_token);
    assert!(!shown.contains(secret), "{shown}");
    assert_eq!(format!("{:?}", config.jira.api_token), "***");
    assert_eq!(config.jira.api_token.to_string(), "***");
}

#[cfg(not(feature = "webhook"))]
#[test]
fn webhook_section_needs_the_feature() {
    let text = format!("{MINIMAL}\n[webhook]\nlisten = \"127.0.0.1:8080\"\nsecret = \"x\"\n");
    assert_eq!(
        problems(&text),
        ["webhook: `[webhook]` needs jira-mirror built with the `webhook` cargo feature"]
    );
}

#[cfg(feature = "webhook")]
#[test]
fn webhook_is_checked() {
    const SECRET: &str = "sixteen-bytes-ok";
    let text = format!("{MINIMAL}\n[webhook]\nlisten = \"localhost\"\nsecret = \"\"\n");
    let problems = problems(&text);
    assert_problem(&problems, "webhook.listen", "IP address with a port");
    assert_problem(&problems, "webhook.secret", "must not be empty");
    let text = format!("{MINIMAL}\n[webhook]\nlisten = \"0.0.0.0:9000\"\nsecret = \"{SECRET}\"\n");
    let webhook = parse(&text).unwrap().webhook.unwrap();
    assert_eq!(webhook.listen.port(), 9000);
    assert_eq!(webhook.retention_days, DEFAULT_WEBHOOK_RETENTION_DAYS);
    let text = format!(
        "{MINIMAL}\n[webhook]\nlisten = \"127.0.0.1:0\"\nsecret = \"{SECRET}\"\nretention_days = 0\n"
    );
    let found = self::problems(&text);
    assert_problem(&found, "webhook.retention_days", "between 1 and 3650");
    let text = format!(
        "{MINIMAL}\n[webhook]\nlisten = \"127.0.0.1:0\"\nsecret = \"{SECRET}\"\nretention_days = 7\n"
    );
    assert_eq!(parse(&text).unwrap().webhook.unwrap().retention_days, 7);
}

#[cfg(feature = "webhook")]
#[test]
fn webhook_connection_limits_are_checked() {
    let section = "[webhook]\nlisten = \"127.0.0.1:0\"\nsecret = \"sixteen-bytes-ok\"\n";
    let webhook = parse(&format!("{MINIMAL}\n{section}"))
        .unwrap()
        .webhook
        .unwrap();
    assert_eq!(webhook.max_connections, DEFAULT_WEBHOOK_MAX_CONNECTIONS);
    assert_eq!(webhook.header_timeout_ms, DEFAULT_WEBHOOK_HEADER_TIMEOUT_MS);
    assert_eq!(webhook.body_timeout_ms, DEFAULT_WEBHOOK_BODY_TIMEOUT_MS);
    assert_eq!(DEFAULT_WEBHOOK_MAX_CONNECTIONS, 64);

    let text = format!(
        "{MINIMAL}\n{section}max_connections = 2\nheader_timeout_ms = 300\nbody_timeout_ms = 250\n"
    );
    let webhook = parse(&text).unwrap().webhook.unwrap();
    assert_eq!(
        (
            webhook.max_connections,
            webhook.header_timeout_ms,
            webhook.body_timeout_ms
        ),
        (2, 300, 250)
    );

    let text = format!(
        "{MINIMAL}\n{section}max_connections = 0\nheader_timeout_ms = 99\nbody_timeout_ms = 300001\n"
    );
    let found = problems(&text);
    assert_problem(
        &found,
        "webhook.max_connections",
        "between 1 and 4096, found 0",
    );
    assert_problem(
        &found,
        "webhook.header_timeout_ms",
        "between 100 and 300000, found 99",
    );
    assert_problem(
        &found,
        "webhook.body_timeout_ms",
        "between 100 and 300000, found 300001",
    );
    assert_eq!(found.len(), 3, "{found:?}");
    let text = format!("{MINIMAL}\n{section}max_connections = \"many\"\n");
    assert_problem(&problems(&text), "webhook.max_connections", "integer");
    let text = format!("{MINIMAL}\n{section}max_conections = 5\n");
    assert_problem(
        &problems(&text),
        "webhook.max_conections",
        "max_connections",
    );
}

#[cfg(feature = "webhook")]
#[test]
fn webhook_max_age_is_checked() {
    let section = "[webhook]\nlisten = \"127.0.0.1:0\"\nsecret = \"sixteen-bytes-ok\"\n";
    let webhook = parse(&format!("{MINIMAL}\n{section}"))
        .unwrap()
        .webhook
        .unwrap();
    assert_eq!(webhook.max_age_secs, DEFAULT_WEBHOOK_MAX_AGE_SECS);
    // Above Jira Cloud's 30 minutes of retries, within the shortest retention (1 day).
    const { assert!(DEFAULT_WEBHOOK_MAX_AGE_SECS > 1800 && DEFAULT_WEBHOOK_MAX_AGE_SECS <= 86_400) };
    for ok in [60, 900, 86_400] {
        let text = format!("{MINIMAL}\n{section}max_age_secs = {ok}\n");
        assert_eq!(parse(&text).unwrap().webhook.unwrap().max_age_secs, ok);
    }
    for bad in [0, 59, 86_401, -1] {
        let text = format!("{MINIMAL}\n{section}max_age_secs = {bad}\n");
        assert_problem(
            &problems(&text),
            "webhook.max_age_secs",
            &format!("between 60 and 86400, found {bad}"),
        );
    }
}

#[cfg(feature = "webhook")]
#[test]
fn a_short_webhook_secret_is_refused_without_showing_it() {
    // One byte short, as a literal and from the environment: the key is named, the rule
    // given, the value never shown (not even its length).
    let short = "fifteen-bytes!!";
    assert_eq!(short.len(), MIN_WEBHOOK_SECRET_BYTES - 1);
    for (secret, env) in [
        (short.to_owned(), None),
        ("${HOOK}".to_owned(), Some(short)),
    ] {
        let text =
            format!("{MINIMAL}\n[webhook]\nlisten = \"127.0.0.1:0\"\nsecret = \"{secret}\"\n");
        let err =
            Config::from_str_in_dir(&text, Path::new("/etc/jira-mirror"), |name| match name {
                "HOOK" => env.map(str::to_owned),
                other => self::env(other),
            })
            .unwrap_err();
        assert_problem(&err.problems, "webhook.secret", "at least 16 bytes");
        assert_eq!(err.problems.len(), 1, "{:?}", err.problems);
        let shown = format!("{err}\n{err:?}");
        assert!(!shown.contains(short) && !shown.contains("15"), "{shown}");
    }
    // Exactly the minimum is enough; multi-byte characters count as their bytes.
    let text =
        format!("{MINIMAL}\n[webhook]\nlisten = \"127.0.0.1:0\"\nsecret = \"sixteen-bytes-ok\"\n");
    assert!(parse(&text).is_ok());
    let text = format!("{MINIMAL}\n[webhook]\nlisten = \"127.0.0.1:0\"\nsecret = \"ääääääää\"\n");
    assert!(parse(&text).is_ok());
}

#[test]
fn simulator_config_is_valid() {
    let config = Config::for_simulator(
        PathBuf::from("/tmp/demo"),
        "http://127.0.0.1:4321",
        "agent@example.com",
        "sim-token",
        Some(("jsm@example.com", "sla-token")),
    );
    assert_eq!(config.jira.jql, "project = SUP");
    assert_eq!(config.jira.base_url.as_str(), "http://127.0.0.1:4321/");
    assert_eq!(config.jira.api_token.expose(), "sim-token");
    let sla = config.jira_sla.as_ref().unwrap();
    assert_eq!(sla.base_url, config.jira.base_url);
    assert_eq!(sla.api_token.expose(), "sla-token");
    assert_eq!(config.state_path(), PathBuf::from("/tmp/demo/state.db"));
    assert!(parse_schedule(&config.sweep.schedule).is_ok());
    assert!(config.imap.is_none() && config.webhook.is_none());

    // The same settings written as a file validate to the same values.
    let text = "data_dir = \"/tmp/demo\"\n[jira]\nbase_url = \"http://127.0.0.1:4321\"\n\
                deployment = \"cloud\"\nemail = \"agent@example.com\"\napi_token = \"sim-token\"\njql = \"project = SUP\"\n\
                [jira_sla]\nbase_url = \"http://127.0.0.1:4321\"\nemail = \"jsm@example.com\"\n\
                api_token = \"sla-token\"\n";
    let parsed = parse(text).unwrap();
    assert_eq!(parsed.jira, config.jira);
    assert_eq!(parsed.jira_sla, config.jira_sla);
    assert_eq!(parsed.sweep, config.sweep);
    assert_eq!(parsed.attachments, config.attachments);
}

#[test]
fn imap_rejection_policy_and_limits() {
    let base = format!(
        "{MINIMAL}\n[imap]\nhost = \"h\"\nusername = \"u\"\npassword = \"p\"\nallowed_senders = [\"jira@x\"]\n"
    );
    let imap = parse(&base).unwrap().imap.unwrap();
    assert_eq!(imap.on_rejected, RejectPolicy::Leave);
    assert_eq!(imap.max_message_bytes, DEFAULT_IMAP_MAX_MESSAGE_BYTES);
    assert_eq!(imap.poll_interval_secs, DEFAULT_IMAP_POLL_INTERVAL_SECS);
    assert_eq!(imap.ca_file, None);
    let moved = parse(&format!(
        "{base}on_rejected = \"move\"\nrejected_folder = \"Junk/Jira\"\n"
    ))
    .unwrap()
    .imap
    .unwrap();
    assert_eq!(moved.on_rejected, RejectPolicy::Move("Junk/Jira".into()));
    let seen = parse(&format!("{base}on_rejected = \"mark_seen\"\n")).unwrap();
    assert_eq!(seen.imap.unwrap().on_rejected, RejectPolicy::MarkSeen);
    assert_problem(
        &problems(&format!("{base}on_rejected = \"move\"\n")),
        "imap.rejected_folder",
        "required",
    );
    assert_problem(
        &problems(&format!("{base}on_rejected = \"delete\"\n")),
        "imap.on_rejected",
        "must be one of",
    );
    assert_problem(
        &problems(&format!("{base}rejected_folder = \"X\"\n")),
        "imap.rejected_folder",
        "only used",
    );
    assert_problem(
        &problems(&format!("{base}max_message_bytes = 10\n")),
        "imap.max_message_bytes",
        "",
    );
    assert_problem(
        &problems(&format!("{base}ca_file = \"missing-ca.pem\"\n")),
        "imap.ca_file",
        "/etc/jira-mirror/missing-ca.pem",
    );
}

/// Writes `text` to a config file with permission bits `mode` and loads it.
#[cfg(unix)]
fn load_with_mode(text: &str, mode: u32) -> (tempfile::TempDir, PathBuf, Config) {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("jira-mirror.toml");
    std::fs::write(&path, text).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
    let config = Config::load_with_env(&path, env).unwrap();
    (dir, path, config)
}

#[cfg(unix)]
#[test]
fn inline_secret_in_a_file_others_can_read_warns() {
    let token = "inline-token-31337";
    let inline = MINIMAL.replace("${JIRA_API_TOKEN}", token);
    for mode in [0o644, 0o640, 0o604, 0o666] {
        let (_dir, path, config) = load_with_mode(&inline, mode);
        assert_eq!(config.warnings.len(), 1, "{mode:o}: {:?}", config.warnings);
        let warning = &config.warnings[0];
        let file = path.display().to_string();
        assert!(warning.starts_with("jira.api_token: "), "{warning}");
        assert!(warning.contains(&format!("mode {mode:04o}")), "{warning}");
        assert!(warning.contains(&format!("chmod 600 {file}")), "{warning}");
        assert!(!warning.contains(token), "{warning}");
        // Loaded all the same: it is a warning, not a problem.
        assert_eq!(config.jira.api_token.expose(), token);
    }
    // Every inline secret is named, in one line.
    let two = format!(
        "{inline}\n[imap]\nhost = \"imap.example.com\"\nusername = \"u\"\n\
         password = \"imap-inline-4242\"\nallowed_senders = [\"jira@example.com\"]\n"
    );
    let (_dir, _path, config) = load_with_mode(&two, 0o644);
    assert_eq!(config.warnings.len(), 1, "{:?}", config.warnings);
    assert!(
        config.warnings[0].starts_with("jira.api_token, imap.password: "),
        "{:?}",
        config.warnings
    );
    assert!(!config.warnings[0].contains("imap-inline-4242"));
}

#[cfg(unix)]
#[test]
fn inline_secret_in_a_private_file_or_secrets_from_env_do_not_warn() {
    let inline = MINIMAL.replace("${JIRA_API_TOKEN}", "inline-token-31337");
    for mode in [0o600, 0o400, 0o700] {
        let (_dir, _path, config) = load_with_mode(&inline, mode);
        assert!(
            config.warnings.is_empty(),
            "{mode:o}: {:?}",
            config.warnings
        );
    }
    // Secrets only through `${VAR}`: nothing in the file to protect.
    let from_env = format!(
        "{MINIMAL}\n[jira_sla]\nbase_url = \"https://jsm.example.com\"\nemail = \"j@example.com\"\n\
         api_token = \"${{JIRA_SLA_API_TOKEN}}\"\n[imap]\nhost = \"imap.example.com\"\n\
         username = \"u\"\npassword = \"${{IMAP_PASSWORD}}\"\nallowed_senders = [\"j@example.com\"]\n"
    );
    let (_dir, _path, config) = load_with_mode(&from_env, 0o644);
    assert!(config.warnings.is_empty(), "{:?}", config.warnings);
    // Partly inline counts as inline.
    let partly = MINIMAL.replace("${JIRA_API_TOKEN}", "prefix-${JIRA_API_TOKEN}");
    let (_dir, _path, config) = load_with_mode(&partly, 0o644);
    assert_eq!(config.warnings.len(), 1, "{:?}", config.warnings);
    // Text given directly (no file) has no mode to judge.
    assert!(parse(&inline).unwrap().warnings.is_empty());
}

#[test]
fn proxy_is_optional_and_validated() {
    assert_eq!(parse(MINIMAL).unwrap().jira.proxy, None);
    let with_proxy = |url: &str| {
        MINIMAL.replace(
            "jql = \"project = SUP\"",
            &format!("jql = \"project = SUP\"\nproxy = \"{url}\""),
        )
    };
    for (url, stored) in [
        (
            "http://proxy.example.com:3128",
            "http://proxy.example.com:3128/",
        ),
        ("https://proxy.example.com", "https://proxy.example.com/"),
        ("http://127.0.0.1:3128/", "http://127.0.0.1:3128/"),
    ] {
        let config = parse(&with_proxy(url)).unwrap();
        let proxy = config.jira.proxy.unwrap();
        assert_eq!(proxy.expose().as_str(), stored);
        assert!(config.warnings.is_empty(), "{url}: {:?}", config.warnings);
    }
    for (url, needle) in [
        (
            "socks5://proxy.example.com:1080",
            "SOCKS proxies are not supported",
        ),
        (
            "ftp://proxy.example.com",
            "must be an http:// or https:// URL, not ftp://",
        ),
        ("proxy.example.com:3128", "http:// or https://"),
        ("not a url", "not a valid URL"),
        (
            "http://proxy.example.com:3128/path",
            "must be only scheme://",
        ),
        (
            "http://proxy.example.com:3128?x=1",
            "must be only scheme://",
        ),
    ] {
        assert_problem(&problems(&with_proxy(url)), "jira.proxy", needle);
    }
}

#[test]
fn proxy_credentials_are_never_shown() {
    let url = "http://proxy-user:proxy-pass-5150@proxy.example.com:3128";
    let text = MINIMAL.replace(
        "jql = \"project = SUP\"",
        &format!("jql = \"project = SUP\"\nproxy = \"{url}\""),
    );
    let config = parse(&text).unwrap();
    let proxy = config.jira.proxy.clone().unwrap();
    assert_eq!(proxy.expose().password(), Some("proxy-pass-5150"));
    assert_eq!(proxy.to_string(), "http://***@proxy.example.com:3128/");
    let shown = format!("{config:?}");
    assert!(!shown.contains("proxy-pass-5150"), "{shown}");
    // A password to a plain-http proxy off loopback crosses the network: warned, unquoted.
    assert_eq!(config.warnings.len(), 1, "{:?}", config.warnings);
    assert!(config.warnings[0].starts_with("jira.proxy: the proxy password"));
    assert!(!config.warnings[0].contains("proxy-pass-5150"));
    // A problem elsewhere in the URL does not quote it either.
    let bad = text.replace(":3128\"", ":3128/x\"");
    let found = problems(&bad);
    assert_problem(&found, "jira.proxy", "must be only scheme://");
    assert!(!found.join("\n").contains("proxy-pass-5150"), "{found:?}");
    // From the environment: no warning about the file, no value shown.
    let from_env = MINIMAL.replace(
        "jql = \"project = SUP\"",
        "jql = \"project = SUP\"\nproxy = \"https://u:${JIRA_API_TOKEN}@proxy.example.com\"",
    );
    let config = parse(&from_env).unwrap();
    assert!(config.warnings.is_empty(), "{:?}", config.warnings);
}

#[test]
fn data_center_signs_in_with_a_personal_access_token_or_a_user_name() {
    let pat = parse(
        "[jira]\nbase_url = \"https://jira.example.com/jira\"\ndeployment = \"data_center\"\n\
         api_token = \"${JIRA_API_TOKEN}\"\njql = \"project = SUP\"\n\
         [jira_sla]\nbase_url = \"https://jira.example.com/jira\"\napi_token = \"${JIRA_SLA_API_TOKEN}\"\n",
    )
    .unwrap();
    assert_eq!(
        pat.jira.deployment,
        Some(crate::jira::Deployment::DataCenter)
    );
    assert_eq!(
        (
            pat.jira.email.as_str(),
            pat.jira_sla.unwrap().email.as_str()
        ),
        ("", "")
    );
    assert!(!pat.jira.is_cloud());
    // Two personal access tokens are two accounts, not "the same account named twice".
    assert!(pat.warnings.is_empty(), "{:?}", pat.warnings);
    assert_eq!(pat.jira.base_url.as_str(), "https://jira.example.com/jira/");
    // Undecided (not an Atlassian host): a PAT is allowed, the site is asked later.
    let undecided = parse(
        "[jira]\nbase_url = \"https://jira.example.com\"\napi_token = \"t\"\njql = \"project = SUP\"\n",
    )
    .unwrap();
    assert_eq!(undecided.jira.deployment, None);
    assert_eq!(undecided.jira.email, "");
    // Cloud, by name or by host, needs the e-mail.
    for base in [
        "deployment = \"cloud\"\nbase_url = \"https://jira.example.com\"",
        "base_url = \"https://acme.atlassian.net\"",
    ] {
        let problems = problems(&format!(
            "[jira]\n{base}\napi_token = \"t\"\njql = \"project = SUP\"\n\
             [jira_sla]\nbase_url = \"https://api.atlassian.com/ex/jira/x\"\napi_token = \"t\"\n"
        ));
        assert_problem(&problems, "jira.email", "required but missing");
        assert_problem(&problems, "jira_sla.email", "required but missing");
    }
    let problems = problems(
        "[jira]\nbase_url = \"https://jira.example.com\"\ndeployment = \"server\"\napi_token = \"t\"\n\
         email = \"\"\njql = \"project = SUP\"\n",
    );
    assert_problem(
        &problems,
        "jira.deployment",
        "use \"cloud\" or \"data_center\"",
    );
    assert_problem(
        &problems,
        "jira.email",
        "leave it out to use a personal access token",
    );
}

#[test]
fn oauth_replaces_the_api_token_on_cloud() {
    let config = parse(
        "[jira]\nbase_url = \"https://acme.atlassian.net\"\njql = \"project = SUP\"\n\
         [oauth]\nclient_id = \"cid\"\nclient_secret = \"${JIRA_API_TOKEN}\"\n\
         redirect_uri = \"https://localhost/callback\"\n",
    )
    .unwrap();
    let oauth = config.oauth.unwrap();
    assert_eq!(oauth.client_id, "cid");
    assert_eq!(oauth.auth_url.as_str(), "https://auth.atlassian.com/");
    assert_eq!(oauth.api_url.as_str(), "https://api.atlassian.com/");
    assert!(oauth.scopes.iter().any(|s| s == "offline_access"));
    assert!(
        !format!("{oauth:?}").contains("jira-token-1234"),
        "the secret stays hidden"
    );

    let problems = problems(
        "[jira]\nbase_url = \"https://jira.example.com\"\ndeployment = \"data_center\"\n\
         email = \"a@b.c\"\napi_token = \"t\"\njql = \"project = SUP\"\n\
         [oauth]\nclient_id = \"cid\"\nredirect_uri = \"not a url\"\nscopes = [\"read:jira-work\"]\n\
         auth_url = \"http://auth.example.com\"\n",
    );
    assert_problem(&problems, "oauth", "for Jira Cloud");
    assert_problem(&problems, "jira.email", "not used with [oauth]");
    assert_problem(&problems, "jira.api_token", "not used with [oauth]");
    assert_problem(&problems, "oauth.client_secret", "required but missing");
    assert_problem(&problems, "oauth.redirect_uri", "callback URL");
    assert_problem(&problems, "oauth.scopes", "offline_access");
    assert_problem(&problems, "oauth.auth_url", "https://");
}
