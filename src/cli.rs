//! The command line (clap derive). Commands and flags are the README's "Commands" table;
//! runtime-only knobs (parallelism, log format) are flags, everything durable is config.

use std::path::PathBuf;

use clap::{Parser, Subcommand, ValueEnum};

/// Keeps a complete, queryable mirror of a Jira site without inbound HTTP.
#[derive(Debug, Parser)]
#[command(name = "jira-mirror", version, about)]
pub struct Cli {
    /// The configuration file.
    #[arg(
        long,
        global = true,
        env = "JIRA_MIRROR_CONFIG",
        default_value = "jira-mirror.toml"
    )]
    pub config: PathBuf,
    /// Log format on stderr.
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
    /// More detailed logs (-v debug, -vv trace); RUST_LOG overrides.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// How logs are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

/// The commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// The daemon: every trigger and schedule, until SIGINT/SIGTERM (graceful drain).
    Run,
    /// One incremental JQL sweep from the stored watermark; process every changed issue.
    Sweep,
    /// Every issue matching `jira.jql`; idempotent and resumable.
    Backfill {
        /// Issues processed at once (overrides `jira.max_concurrency` for this run).
        #[arg(long, value_parser = clap::value_parser!(u16).range(1..=64))]
        parallel: Option<u16>,
        /// Only issues created on or after this UTC date (YYYY-MM-DD).
        #[arg(long, value_parser = parse_date)]
        since: Option<chrono::NaiveDate>,
        /// List the scope and say what would be fetched; fetch and write nothing.
        #[arg(long)]
        dry_run: bool,
    },
    /// Run the pipeline for the given issue keys.
    Fetch {
        /// Issue keys, e.g. SUP-123.
        #[arg(required = true)]
        keys: Vec<String>,
    },
    /// One pass over the mailbox: unseen Jira notifications → keys → pipeline → mark seen.
    Mail,
    /// Refresh SLA figures and status of open issues (heals issues resolved upstream).
    PollSla {
        /// Every saved issue, open or closed: fills SLA figures after `[jira_sla]` is added.
        #[arg(long)]
        all: bool,
        /// Issues polled at once (overrides `jira.max_concurrency` for this run).
        #[arg(long, value_parser = clap::value_parser!(u16).range(1..=64))]
        parallel: Option<u16>,
        /// Make the requests and say what would change; write nothing.
        #[arg(long)]
        dry_run: bool,
    },
    /// Detect issues deleted or moved upstream (id census) and remove them locally.
    Reconcile {
        /// Take the census and check what is missing; remove nothing.
        #[arg(long)]
        dry_run: bool,
    },
    /// Write the Parquet tables from raw JSON: pending changes only, or every month.
    Transform {
        /// Rebuild every month from `raw/issues` (month by month, bounded memory).
        #[arg(long)]
        rebuild: bool,
    },
    /// Watermark, failures, last run of each command, issue count, table row counts.
    Status {
        /// Machine-readable output.
        #[arg(long)]
        json: bool,
    },
    /// Test credentials and connectivity to Jira and JSM; say exactly what is wrong.
    Check,
    /// OAuth 2.0 (3LO) for Jira Cloud (`[oauth]`).
    Auth {
        /// What to do.
        #[command(subcommand)]
        action: AuthCommand,
    },
    /// Parse and validate the config, listing every problem.
    Validate,
    /// Run the whole pipeline against the built-in Jira simulator.
    #[cfg(feature = "simulator")]
    Demo {
        /// Where the demo mirror is written.
        #[arg(long, default_value = "demo-data")]
        data_dir: PathBuf,
        /// How many issues the simulator holds.
        #[arg(long, default_value_t = 120)]
        issues: usize,
        /// The kind of Jira the simulator plays: `cloud` or `data_center` (API 2, wiki
        /// markup, a personal access token, JQL dates in the account's time zone).
        #[arg(long, default_value = "cloud", value_parser = parse_deployment)]
        deployment: crate::jira::Deployment,
    },
}

/// `auth` subcommands.
#[derive(Debug, Clone, Subcommand)]
pub enum AuthCommand {
    /// Print the address that approves the `[oauth]` app, read back the code (or the whole
    /// address the browser was sent to), and store the grant in state.db.
    Login,
}

#[cfg(feature = "simulator")]
fn parse_deployment(s: &str) -> Result<crate::jira::Deployment, String> {
    s.parse()
}

fn parse_date(s: &str) -> Result<chrono::NaiveDate, String> {
    chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .map_err(|e| format!("expected a date like 2024-01-31: {e}"))
}
