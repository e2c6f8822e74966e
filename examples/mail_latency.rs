//! The mailbox trigger's latency figure of docs/performance.md: from the APPEND of a Jira
//! notification to the issue's updated row in `parquet/issues/`, with IDLE.
//!
//! ```sh
//! cargo run --release --example mail_latency            # 20 mails (after 2 warm-up ones)
//! cargo run --release --example mail_latency -- 50      # more
//! ```
//! Everything is real but Jira: a Dovecot on 127.0.0.1 started for the run (the test
//! suite's harness; `dovecot-imapd` must be installed), the watch loop of `run` with IDLE,
//! the whole pipeline (fetch, SLA overlay, raw save, the seven tables' upsert), and the
//! built-in simulator with latency 0. For each mail the issue is first changed in the
//! simulator; the clock starts just before the APPEND and stops when the issues table's
//! month file holds the new `updated_at` (polled every 2 ms). Prints every figure and the
//! median.

#[path = "../tests/support/dovecot.rs"]
#[allow(dead_code)]
mod dovecot;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime};

use anyhow::{Context as _, Result, bail};
use arrow_array::{Array, StringArray, TimestampMicrosecondArray};
use indicatif::ProgressBar;
use jira_mirror::app::Context;
use jira_mirror::config::Config;
use jira_mirror::key::IssueKey;
use jira_mirror::simulator::{SimConfig, Simulator};
use jira_mirror::time::jira_time_ms;
use jira_mirror::triggers::mail::pass::ProcessNow;
use jira_mirror::triggers::mail::watch::{WatchOptions, watch_task};
use jira_mirror::triggers::{Summary, process_keys};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use tokio_util::sync::CancellationToken;

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

const JIRA: &str = "jira@example.atlassian.net";
const WARM_UP: usize = 2;

#[tokio::main]
async fn main() -> Result<()> {
    let mails: usize = match std::env::args().nth(1) {
        Some(n) => n.parse().context("usage: mail_latency [MAILS]")?,
        None => 20,
    };
    let sim = Simulator::start(SimConfig {
        issues: 40,
        ..SimConfig::default()
    })
    .await?;
    let dovecot = dovecot::Dovecot::start();
    let dir = tempfile::tempdir()?;
    let path = write_config(&sim, &dovecot, dir.path())?;
    let config = Config::load_with_env(&path, |_| None)?;
    let data_dir = config.data_dir.clone();
    let ctx = Context::build(config, None).await?;

    // Mirror every issue first, so each mail changes one existing row.
    let keys: Vec<IssueKey> = sim
        .issue_keys()
        .iter()
        .map(|k| IssueKey::parse(k))
        .collect::<Result<_, _>>()?;
    let mut summary = Summary::default();
    process_keys(
        ctx.pipeline(),
        keys.clone(),
        8,
        &mut summary,
        &ProgressBar::hidden(),
    )
    .await?;
    ctx.pipeline().apply_pending().await?;

    let stop = CancellationToken::new();
    let imap_config = ctx.config().imap.clone().context("[imap]")?;
    let sink = ProcessNow {
        pipeline: ctx.pipeline().clone(),
        parallel: 4,
    };
    let watcher = tokio::spawn(watch_task(
        ctx.pipeline().state().clone(),
        imap_config.clone(),
        &ctx.config().jira.jql,
        sink,
        WatchOptions::from_config(&imap_config),
        stop.clone(),
        |_| {},
    ));
    tokio::time::sleep(Duration::from_millis(500)).await; // connected and idling

    let tables = data_dir.join("parquet/issues");
    let mut figures = Vec::new();
    let mut mail_parts = Vec::new();
    for i in 0..mails + WARM_UP {
        let key = keys[i % keys.len()].as_str().to_owned();
        sim.add_comment(&key, "latency probe");
        let issue = sim.issue(&key).context("issue")?;
        let updated_us = jira_time_ms(issue["fields"]["updated"].as_str().unwrap_or(""))
            .context("updated")?
            * 1000;
        let before = mtimes(&tables)?;
        let mail = notification(&key, i);
        sim.clear_requests();
        let start = Instant::now();
        dovecot.append("INBOX", &mail, &[]).await;
        let elapsed = loop {
            if start.elapsed() > Duration::from_secs(30) {
                bail!("{key}: no updated row within 30 s");
            }
            let now = mtimes(&tables)?;
            let changed: Vec<&PathBuf> = now
                .iter()
                .filter(|(p, t)| before.get(*p) != Some(t))
                .map(|(p, _)| p)
                .collect();
            if changed
                .into_iter()
                .any(|p| row_updated(p, &key).ok().flatten() == Some(updated_us))
            {
                break start.elapsed();
            }
            tokio::time::sleep(Duration::from_millis(2)).await;
        };
        // The first request to Jira marks the end of the mail part (IDLE news, search,
        // fetch, key extraction); the rest is the pipeline (fetch, SLA, save, tables).
        let first_request = sim
            .requests()
            .iter()
            .map(|r| r.at)
            .min()
            .map_or(Duration::ZERO, |at| at.saturating_duration_since(start));
        if i >= WARM_UP {
            println!(
                "mail {:>2} {key:<7} {:>7.1} ms (mail part {:>6.1} ms, pipeline {:>6.1} ms)",
                i - WARM_UP + 1,
                ms(elapsed),
                ms(first_request),
                ms(elapsed.saturating_sub(first_request))
            );
            figures.push(elapsed);
            mail_parts.push(first_request);
        }
    }
    stop.cancel();
    watcher.await??;
    sim.shutdown().await;

    figures.sort();
    mail_parts.sort();
    let median = figures[figures.len() / 2];
    println!(
        "APPEND -> Parquet row, {} mails: median {:.1} ms, min {:.1} ms, max {:.1} ms; \
         median until the first Jira request {:.1} ms",
        figures.len(),
        ms(median),
        ms(figures[0]),
        ms(figures[figures.len() - 1]),
        ms(mail_parts[mail_parts.len() / 2]),
    );
    Ok(())
}

/// Writes the mirror's config (the simulator, the Dovecot mailbox) into `dir`.
fn write_config(
    sim: &Simulator,
    dovecot: &dovecot::Dovecot,
    dir: &std::path::Path,
) -> Result<PathBuf> {
    let imap = dovecot.settings();
    let text = format!(
        r#"data_dir = "data"
[jira]
base_url = "{base}"
deployment = "cloud"
email = "{email}"
api_token = "{token}"
jql = "project = SUP"
max_requests_per_second = 1000
[jira_sla]
base_url = "{base}"
email = "{sla_email}"
api_token = "{sla_token}"
max_requests_per_second = 1000
[imap]
host = "127.0.0.1"
port = {port}
security = "none"
username = {user}
password = {password}
idle = true
allowed_senders = ["{JIRA}"]
"#,
        base = sim.base_url(),
        email = sim.config().email,
        token = sim.config().api_token,
        sla_email = sim.config().sla_email,
        sla_token = sim.config().sla_api_token,
        port = imap.port,
        user = toml::Value::String(imap.username.clone()),
        password = toml::Value::String(imap.password.clone()),
    );
    let path = dir.join("jira-mirror.toml");
    std::fs::write(&path, text)?;
    Ok(path)
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// A Jira Cloud notification naming `key` (the shape of tests/data/mail's 2023 capture).
fn notification(key: &str, n: usize) -> Vec<u8> {
    format!(
        "From: \"Ann Agent (Jira)\" <{JIRA}>\r\n\
         To: jira-notify@example.com\r\n\
         Subject: [JIRA] ({key}) Printer on fire\r\n\
         Message-ID: <latency-{n}@example.atlassian.net>\r\n\
         Date: Tue, 12 Sep 2023 16:40:46 +0000\r\n\
         MIME-Version: 1.0\r\n\
         Content-Type: text/plain; charset=UTF-8\r\n\
         \r\n\
         Ann Agent *made 1 update*.\r\n\
         https://example.atlassian.net/browse/{key}\r\n"
    )
    .into_bytes()
}

fn mtimes(dir: &Path) -> Result<BTreeMap<PathBuf, SystemTime>> {
    let mut out = BTreeMap::new();
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.extension().is_some_and(|e| e == "parquet") {
            out.insert(path.clone(), std::fs::metadata(&path)?.modified()?);
        }
    }
    Ok(out)
}

/// The `updated_at` (µs) of `key`'s row in one month file of `issues`.
fn row_updated(path: &Path, key: &str) -> Result<Option<i64>> {
    let file = std::fs::File::open(path)?;
    let reader = ParquetRecordBatchReaderBuilder::try_new(file)?.build()?;
    for batch in reader {
        let batch = batch?;
        let keys = batch
            .column_by_name("issue_key")
            .and_then(|c| c.as_any().downcast_ref::<StringArray>())
            .context("issue_key")?;
        let updated = batch
            .column_by_name("updated_at")
            .and_then(|c| c.as_any().downcast_ref::<TimestampMicrosecondArray>())
            .context("updated_at")?;
        for row in 0..batch.num_rows() {
            if keys.value(row) == key && !updated.is_null(row) {
                return Ok(Some(updated.value(row)));
            }
        }
    }
    Ok(None)
}
