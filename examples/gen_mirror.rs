//! Generates a mirror data directory of simulator issues without HTTP, for benchmarks.
//!
//! ```sh
//! cargo run --release --example gen_mirror -- --issues 100000 --out /tmp/bench-mirror
//! target/release/jira-mirror --config /tmp/bench-mirror/jira-mirror.toml transform --rebuild
//! ```
//! Writes `raw/issues/<KEY>.json` (the simulator's complete issues; SLA figures from its SLA
//! custom fields), `state.db` (issue rows and the field catalogue) and a config file whose
//! Jira URL `transform` never contacts. `--month 2024-05` re-dates every issue into one
//! month. Histories are Binomial(`--max-histories`, 0.5), default 36: a median issue has
//! about 20 changelog items and 5 comments, the benchmark's reference issue.

use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use jira_mirror::simulator::fixture::write_mirror;
use jira_mirror::simulator::{SimConfig, Simulator};

#[tokio::main]
async fn main() -> Result<()> {
    let mut issues = 100_000usize;
    let mut out = PathBuf::from("bench-mirror");
    let mut month: Option<String> = None;
    let mut max_histories = 36;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--issues" => issues = args.next().context("--issues N")?.parse()?,
            "--out" => out = args.next().context("--out DIR")?.into(),
            "--month" => month = Some(args.next().context("--month YYYY-MM")?),
            "--max-histories" => {
                max_histories = args.next().context("--max-histories N")?.parse()?
            }
            other => bail!("unknown argument {other}"),
        }
    }
    let sim = Simulator::start(SimConfig {
        issues,
        big_issues: Vec::new(),
        hostile_attachments: false,
        max_histories,
        ..SimConfig::default()
    })
    .await?;
    let stats = write_mirror(&sim, &out, month.as_deref()).map_err(|e| anyhow::anyhow!(e))?;
    sim.shutdown().await;
    std::fs::write(
        out.join("jira-mirror.toml"),
        "data_dir = \".\"\n\n[jira]\nbase_url = \"http://127.0.0.1:9\"\ndeployment = \"cloud\"\nemail = \"bench@example.com\"\napi_token = \"unused\"\njql = \"project = SUP\"\n",
    )?;
    println!(
        "{} issues in {} ({} MiB of raw JSON); median {} comments and {} changelog items per issue",
        stats.issues,
        out.display(),
        stats.raw_bytes >> 20,
        stats.median_comments,
        stats.median_history_items
    );
    Ok(())
}
