//! Harnesses shared by the integration tests: a simulator per test, a temp mirror directory
//! with a config file pointing at it, and a way to run the real binary.

#![allow(dead_code)]

pub mod daemon;
pub mod dovecot;
pub mod proxy;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use jira_mirror::simulator::{RequestRecord, SimConfig, Simulator};
use serde_json::Value;

/// The binary under test.
pub fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_jira-mirror")
}

/// A simulator with `issues` issues and the test defaults (one 250/150 big issue).
pub async fn simulator(issues: usize) -> Simulator {
    simulator_with(SimConfig {
        issues,
        ..SimConfig::default()
    })
    .await
}

/// A simulator with a given config.
pub async fn simulator_with(config: SimConfig) -> Simulator {
    Simulator::start(config).await.expect("simulator starts")
}

/// The monthly tables, in the order docs/tables.md lists them.
pub const TABLES: [&str; 8] = [
    "issues",
    "comments",
    "changelog",
    "attachments",
    "issuelinks",
    "remote_links",
    "sla",
    "worklogs",
];

/// A mirror directory with a config file pointing at a simulator.
pub struct Mirror {
    pub dir: tempfile::TempDir,
    pub config_path: PathBuf,
    pub token: String,
    /// The OAuth app's secret (`${TEST_OAUTH_SECRET}`), with [`SignIn::OAuth`].
    pub oauth_secret: Option<String>,
}

/// Extra config knobs for tests.
#[derive(Clone, Debug)]
pub struct MirrorOptions {
    pub token: Option<String>,
    pub max_bytes: u64,
    pub overlap_secs: u64,
    /// `[sweep] schedule` (the daemon's); the default when `None`.
    pub sweep_schedule: Option<String>,
    pub max_concurrency: usize,
    pub max_retries: u32,
    /// `[jira] request_timeout_secs`.
    pub request_timeout_secs: u64,
    pub sla: bool,
    /// `[distribution] dir = "dist"` (relative to the mirror's folder).
    pub distribution: bool,
    /// Appended to the config file as is (e.g. an `[imap]` section).
    pub extra: String,
    /// `[jira] jql`; `project = SUP` when `None`.
    pub jql: Option<String>,
    /// How the mirror signs in (and so which deployment it names).
    pub sign_in: SignIn,
}

/// How a test mirror signs in to the simulator.
#[derive(Clone, Debug, Default)]
pub enum SignIn {
    /// Jira Cloud: `deployment = "cloud"`, e-mail and API token (Basic).
    #[default]
    ApiToken,
    /// Jira Data Center: no `deployment` (the site is asked), no e-mail; the token is a
    /// personal access token (Bearer), for the JSM account too.
    PersonalAccessToken,
    /// Jira Data Center named as such, with a user name (the simulator account's e-mail)
    /// and password (Basic).
    UserPassword,
    /// Jira Cloud through an OAuth app (`[oauth]`, Atlassian's endpoints on the simulator);
    /// `auth login` must run before anything else.
    OAuth {
        client_id: String,
        client_secret: String,
    },
}

/// The `redirect_uri` of the test OAuth app.
pub const OAUTH_REDIRECT_URI: &str = "https://localhost/jira-mirror/callback";

impl Default for MirrorOptions {
    fn default() -> Self {
        MirrorOptions {
            token: None,
            max_bytes: 1024 * 1024,
            overlap_secs: 300,
            sweep_schedule: None,
            max_concurrency: 8,
            max_retries: 12,
            request_timeout_secs: 20,
            sla: true,
            distribution: false,
            extra: String::new(),
            jql: None,
            sign_in: SignIn::ApiToken,
        }
    }
}

impl Mirror {
    pub fn new(sim: &Simulator) -> Mirror {
        Mirror::with(sim, MirrorOptions::default())
    }

    pub fn with(sim: &Simulator, o: MirrorOptions) -> Mirror {
        let dir = tempfile::tempdir().expect("temp dir");
        let c = sim.config();
        let token = o.token.clone().unwrap_or(c.api_token.clone());
        let sla_email = match o.sign_in {
            SignIn::PersonalAccessToken => String::new(),
            _ => format!("email = \"{}\"\n", c.sla_email),
        };
        let sla = if o.sla {
            format!(
                "[jira_sla]\nbase_url = \"{}\"\n{sla_email}api_token = \"${{TEST_SLA_TOKEN}}\"\n\
                 max_concurrency = {}\nmax_requests_per_second = 1000\n",
                sim.base_url(),
                o.max_concurrency,
            )
        } else {
            String::new()
        };
        let (sign_in, oauth) = match &o.sign_in {
            SignIn::ApiToken => (
                format!(
                    "deployment = \"cloud\"\nemail = \"{}\"\napi_token = \"${{TEST_JIRA_TOKEN}}\"",
                    c.email
                ),
                String::new(),
            ),
            SignIn::UserPassword => (
                format!(
                    "deployment = \"data_center\"\nemail = \"{}\"\napi_token = \"${{TEST_JIRA_TOKEN}}\"",
                    c.email
                ),
                String::new(),
            ),
            SignIn::PersonalAccessToken => (
                "api_token = \"${TEST_JIRA_TOKEN}\"".to_string(),
                String::new(),
            ),
            SignIn::OAuth { client_id, .. } => (
                String::new(),
                format!(
                    "\n[oauth]\nclient_id = \"{client_id}\"\nclient_secret = \"${{TEST_OAUTH_SECRET}}\"\n\
                     redirect_uri = \"{OAUTH_REDIRECT_URI}\"\nauth_url = \"{base}\"\napi_url = \"{base}\"\n",
                    base = sim.base_url()
                ),
            ),
        };
        let text = format!(
            r#"data_dir = "data"

[jira]
base_url = "{base}"
{sign_in}
jql = {jql}
max_concurrency = {conc}
max_requests_per_second = 1000
max_retries = {retries}
request_timeout_secs = {timeout}

{sla}
[sweep]
overlap_secs = {overlap}
{schedule}
[attachments]
max_bytes = {max_bytes}
{distribution}{oauth}{extra}"#,
            base = sim.base_url(),
            jql = toml::Value::String(o.jql.clone().unwrap_or_else(|| "project = SUP".into())),
            conc = o.max_concurrency,
            retries = o.max_retries,
            timeout = o.request_timeout_secs,
            overlap = o.overlap_secs,
            schedule = o
                .sweep_schedule
                .as_ref()
                .map(|s| format!("schedule = \"{s}\"\n"))
                .unwrap_or_default(),
            max_bytes = o.max_bytes,
            extra = o.extra,
            distribution = if o.distribution {
                "\n[distribution]\ndir = \"dist\"\n"
            } else {
                ""
            },
        );
        let config_path = dir.path().join("jira-mirror.toml");
        std::fs::write(&config_path, text).expect("write config");
        Mirror {
            dir,
            config_path,
            token,
            oauth_secret: match o.sign_in {
                SignIn::OAuth { client_secret, .. } => Some(client_secret),
                _ => None,
            },
        }
    }

    pub fn data(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    /// A `Command` for the binary with this mirror's config and secrets in the environment.
    pub fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(bin());
        cmd.arg("--config")
            .arg(&self.config_path)
            .args(args)
            .env("TEST_JIRA_TOKEN", &self.token)
            .env("TEST_SLA_TOKEN", "sim-sla-token")
            .env(
                "TEST_OAUTH_SECRET",
                self.oauth_secret.as_deref().unwrap_or(""),
            )
            .env_remove("RUST_LOG")
            .stdin(Stdio::null());
        cmd
    }

    /// The validated configuration, with this mirror's secrets (for in-process use).
    pub fn config(&self) -> jira_mirror::config::Config {
        let token = self.token.clone();
        let secret = self.oauth_secret.clone();
        jira_mirror::config::Config::load_with_env(&self.config_path, move |name| match name {
            "TEST_JIRA_TOKEN" => Some(token.clone()),
            "TEST_SLA_TOKEN" => Some("sim-sla-token".to_owned()),
            "TEST_OAUTH_SECRET" => secret.clone(),
            _ => None,
        })
        .expect("valid config")
    }

    /// Starts `backfill` and kills it (SIGKILL) once `files` issue files are saved.
    pub async fn kill_backfill_after(&self, files: usize) {
        let mut child = self
            .command(&["backfill"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let issues = self.data().join("raw/issues");
        let progressed = wait_for(Duration::from_secs(60), || {
            std::fs::read_dir(&issues)
                .map(|d| d.count() >= files)
                .unwrap_or(false)
        })
        .await;
        assert!(progressed, "backfill made progress");
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
    }

    /// Runs the binary to completion (off the async runtime's worker threads).
    pub async fn run(&self, args: &[&str]) -> Output {
        let mut cmd = self.command(args);
        tokio::task::spawn_blocking(move || cmd.output().expect("binary runs"))
            .await
            .expect("join")
    }

    /// Runs and asserts exit status 0.
    pub async fn run_ok(&self, args: &[&str]) -> Output {
        let out = self.run(args).await;
        assert!(
            out.status.success(),
            "{args:?} failed: {:?}\nstdout:\n{}\nstderr:\n{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        out
    }

    /// The saved issue JSON.
    /// Parsed with no depth limit, and dropped without recursion (an issue may nest
    /// thousands of levels deep).
    pub fn issue(&self, key: &str) -> Option<jira_mirror::json::DeepValue> {
        let bytes = std::fs::read(self.data().join(format!("raw/issues/{key}.json"))).ok()?;
        Some(
            jira_mirror::json::from_slice(&bytes)
                .expect("saved issue is JSON")
                .into(),
        )
    }

    /// Keys of every saved issue file.
    pub fn saved_keys(&self) -> Vec<String> {
        let mut keys: Vec<String> = std::fs::read_dir(self.data().join("raw/issues"))
            .map(|d| {
                d.flatten()
                    .filter_map(|e| {
                        e.file_name()
                            .to_str()
                            .and_then(|n| n.strip_suffix(".json"))
                            .map(str::to_string)
                    })
                    .collect()
            })
            .unwrap_or_default();
        keys.sort();
        keys
    }

    /// Keys recorded as saved in state.db.
    pub fn state_keys(&self) -> Vec<String> {
        let conn = rusqlite::Connection::open(self.data().join("state.db")).expect("state.db");
        let mut stmt = conn
            .prepare("SELECT issue_key FROM issues ORDER BY issue_key")
            .expect("query");
        stmt.query_map([], |r| r.get(0))
            .expect("rows")
            .collect::<Result<_, _>>()
            .expect("keys")
    }

    /// Every file under the data dir with its bytes, for whole-mirror comparisons; the
    /// volatile parts (state.db, fetch times) are left out.
    /// `base_url` (the simulator's, which differs per run by port) is replaced by `BASE`.
    pub fn snapshot(&self, base_url: &str) -> BTreeMap<String, Vec<u8>> {
        let mut out = BTreeMap::new();
        snapshot_into(
            &self.data().join("raw"),
            Path::new("raw"),
            base_url,
            &mut out,
        );
        out
    }
}

fn snapshot_into(dir: &Path, rel: &Path, base_url: &str, out: &mut BTreeMap<String, Vec<u8>>) {
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        let rel = rel.join(entry.file_name());
        if path.is_dir() {
            snapshot_into(&path, &rel, base_url, out);
        } else {
            let mut bytes = std::fs::read(&path).expect("read");
            if rel.starts_with("raw/issues") {
                let mut v: Value = serde_json::from_slice(&bytes).expect("json");
                v["mirror"]["fetched_at"] = Value::Null;
                bytes = serde_json::to_string_pretty(&v)
                    .expect("json")
                    .replace(base_url, "BASE")
                    .into_bytes();
            }
            out.insert(rel.to_string_lossy().into_owned(), bytes);
        }
    }
}

impl Mirror {
    /// Every row of every table, month files in order, as column name → cell text (see
    /// `cell`), keyed by table name.
    pub fn tables(&self) -> BTreeMap<String, Vec<BTreeMap<String, String>>> {
        use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
        let mut out = BTreeMap::new();
        for table in TABLES {
            let dir = self.data().join("parquet").join(table);
            let mut files: Vec<_> = std::fs::read_dir(&dir)
                .map(|d| {
                    d.flatten()
                        .map(|e| e.path())
                        .filter(|p| p.extension().is_some_and(|e| e == "parquet"))
                        .collect()
                })
                .unwrap_or_default();
            files.sort();
            let mut rows = Vec::new();
            for file in files {
                let reader =
                    ParquetRecordBatchReaderBuilder::try_new(std::fs::File::open(&file).unwrap())
                        .unwrap()
                        .build()
                        .unwrap();
                for batch in reader {
                    let batch = batch.unwrap();
                    let schema = batch.schema();
                    for row in 0..batch.num_rows() {
                        rows.push(
                            schema
                                .fields()
                                .iter()
                                .zip(batch.columns())
                                .map(|(f, col)| (f.name().clone(), cell(col.as_ref(), row)))
                                .collect(),
                        );
                    }
                }
            }
            out.insert(table.to_string(), rows);
        }
        out
    }
}

/// Asserts two mirrors hold the same rows in every table, naming the first difference
/// (per-issue row counts, or the differing columns of the first differing row).
pub fn assert_same_tables(a: &Mirror, b: &Mirror) {
    let (ta, tb) = (a.tables(), b.tables());
    for (table, rows) in &ta {
        let other = &tb[table];
        if rows.len() != other.len() {
            let count = |rs: &Vec<BTreeMap<String, String>>| {
                let mut m = BTreeMap::<String, usize>::new();
                for r in rs {
                    *m.entry(r["issue_key"].clone()).or_default() += 1;
                }
                m
            };
            let (ca, cb) = (count(rows), count(other));
            let issues: Vec<_> = ca
                .keys()
                .chain(cb.keys())
                .filter(|k| ca.get(*k) != cb.get(*k))
                .map(|k| (k, ca.get(k), cb.get(k)))
                .take(10)
                .collect();
            panic!(
                "{table}: {} rows vs {}; rows per issue differ: {issues:?}",
                rows.len(),
                other.len()
            );
        }
        if let Some((x, y)) = rows.iter().zip(other).find(|(x, y)| x != y) {
            let cols: Vec<&String> = x.keys().filter(|c| x[*c] != y[*c]).collect();
            panic!(
                "{table}: row of {} differs in {cols:?}: {:?} vs {:?}",
                x["issue_key"],
                cols.iter().map(|c| &x[*c]).collect::<Vec<_>>(),
                cols.iter().map(|c| &y[*c]).collect::<Vec<_>>()
            );
        }
    }
}

/// One cell as text: `null`, a string as JSON, anything else as the `Debug` of a one-row
/// slice (stable, and it shows every type: lists, timestamps, dates).
fn cell(col: &dyn arrow_array::Array, row: usize) -> String {
    use arrow_array::cast::AsArray;
    if col.is_null(row) {
        "null".into()
    } else if let Some(s) = col.as_string_opt::<i32>() {
        serde_json::to_string(s.value(row)).unwrap()
    } else {
        format!("{:?}", col.slice(row, 1))
    }
}

/// History ids of an issue JSON (saved or simulator truth), sorted.
pub fn history_ids(issue: &Value) -> Vec<String> {
    let mut ids: Vec<String> = issue["changelog"]["histories"]
        .as_array()
        .expect("histories")
        .iter()
        .map(|h| h["id"].as_str().expect("history id").to_string())
        .collect();
    ids.sort();
    ids
}

/// Comment ids of an issue JSON, in stored order.
pub fn comment_ids(issue: &Value) -> Vec<String> {
    issue["fields"]["comment"]["comments"]
        .as_array()
        .expect("comments")
        .iter()
        .map(|c| c["id"].as_str().expect("comment id").to_string())
        .collect()
}

/// Requests that fetch something of one issue (not search pages).
pub fn per_issue_requests<'a>(log: &'a [RequestRecord], key: &str) -> Vec<&'a RequestRecord> {
    let issue_path = format!("/rest/api/3/issue/{key}");
    let sla_path = format!("/rest/servicedeskapi/request/{key}/");
    log.iter()
        .filter(|r| {
            r.path == issue_path
                || r.path.starts_with(&format!("{issue_path}/"))
                || r.path.starts_with(&sla_path)
        })
        .collect()
}

/// Polls `f` until it is true or `timeout` passes.
pub async fn wait_for(timeout: Duration, mut f: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if f() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    f()
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}
