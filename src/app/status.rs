//! `status`: what the mirror holds and how its runs, failures, mailbox and tables stand,
//! as text or `--json`, read from the data directory without any request to Jira.

use super::*;

pub(super) fn status(config: &Config, as_json: bool) -> Result<Exit> {
    let path = config.state_path();
    if !path.exists() {
        if as_json {
            println!(
                "{}",
                json!({ "data_dir": config.data_dir, "initialized": false })
            );
        } else {
            println!(
                "{}: no state yet (run `backfill` first)",
                config.data_dir.display()
            );
        }
        return Ok(Exit::Ok);
    }
    let state = State::open(&path)?;
    let watermark = state.watermark()?;
    let failures = state.failures()?;
    let runs = state.last_runs()?;
    let backfill = state.backfill()?;
    let issues = state.issue_count()?;
    let counts = table_row_counts(config);
    let tables: Vec<(&str, u64)> = counts.rows.iter().map(|(t, n)| (t.name(), *n)).collect();
    let table_writer = state.table_writer_problem()?;
    let mail = mail_status(config, &state)?;
    let webhook = webhook_status(config, &state)?;
    if as_json {
        let out = json!({
            "format": STATUS_FORMAT,
            "data_dir": config.data_dir,
            "initialized": true,
            "watermark_ms": watermark,
            "watermark": watermark.map(ms_to_rfc3339),
            "issues": issues,
            "backfill": backfill,
            "failures": failures,
            "runs": runs,
            "tables": tables.iter().map(|(t, n)| (t.to_string(), json!(n))).collect::<serde_json::Map<_, _>>(),
            "table_problems": counts.problems.iter().map(|p| json!({
                "path": relative_to(&config.data_dir, &p.path),
                "error": p.error,
            })).collect::<Vec<_>>(),
            "pending_table_rows": state.pending()?.len(),
            "queue": { "depth": state.queue_depth()? },
            "parked": failures.iter().filter(|f| f.parked_ms.is_some()).collect::<Vec<_>>(),
            "table_writer": table_writer,
            "mail": mail,
            "webhook": webhook,
        });
        println!("{}", serde_json::to_string_pretty(&out)?);
        return Ok(Exit::Ok);
    }
    println!("data_dir:  {}", config.data_dir.display());
    match watermark {
        Some(ms) => println!("watermark: {} ({ms})", ms_to_rfc3339(ms)),
        None => println!("watermark: none (no sweep or backfill has finished)"),
    }
    println!("issues:    {issues}");
    if let Some(b) = backfill {
        match b.finished_ms {
            Some(done) => println!(
                "backfill:  finished {} ({} pages, {} issues saved)",
                ms_to_rfc3339(done),
                b.pages_done,
                b.issues_saved
            ),
            None => println!(
                "backfill:  unfinished, {} pages done, {} issues saved; `backfill` resumes it",
                b.pages_done, b.issues_saved
            ),
        }
    }
    println!(
        "tables:    {}",
        tables
            .iter()
            .map(|(t, n)| format!("{t} {n}"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    print_table_problems(config, &counts, "");
    let parked = failures.iter().filter(|f| f.parked_ms.is_some()).count();
    println!("failures:  {} ({parked} parked)", failures.len());
    for f in &failures {
        println!(
            "  {}{} ({} attempts, last {}): {}",
            f.issue_key,
            if f.parked_ms.is_some() { " parked" } else { "" },
            f.attempts,
            ms_to_rfc3339(f.last_failed_ms),
            f.last_error
        );
    }
    if let Some(p) = &table_writer {
        println!(
            "table writer: failing since {} ({} attempts; rows stay pending): {}",
            ms_to_rfc3339(p.since_ms),
            p.attempts,
            p.error
        );
    }
    if let Some(m) = &mail {
        print_mail_status(m);
    }
    if let Some(w) = &webhook {
        match w.last_received_ms {
            Some(ms) => println!(
                "webhook:   {} deliveries accepted in the last {} days, the latest {}",
                w.deliveries,
                w.retention_days,
                ms_to_rfc3339(ms)
            ),
            None => println!(
                "webhook:   no delivery accepted in the last {} days",
                w.retention_days
            ),
        }
    }
    for r in &runs {
        let detail = match &r.detail {
            Some(serde_json::Value::Object(counts)) => {
                let parts: Vec<String> = counts
                    .iter()
                    .filter(|(_, v)| v.is_number())
                    .map(|(k, v)| format!("{v} {k}"))
                    .collect();
                format!(" ({})", parts.join(", "))
            }
            _ => String::new(),
        };
        println!(
            "last {:<9} {} {} saved {} failed {}{detail}",
            r.command,
            ms_to_rfc3339(r.started_ms),
            r.outcome.as_deref().unwrap_or("unfinished"),
            r.issues_saved,
            r.issues_failed
        );
    }
    Ok(Exit::Ok)
}

/// The shape of `status --json` (docs/status.md): raised only when a key is removed or
/// changes meaning; new keys may be added within a format.
const STATUS_FORMAT: u32 = 1;

/// The webhook receiver's deliveries, for `status`, when `[webhook]` is configured.
#[derive(Debug, serde::Serialize)]
struct WebhookStatus {
    /// Accepted deliveries still remembered (kept `retention_days`).
    deliveries: i64,
    /// When the latest was received, epoch ms.
    last_received_ms: Option<i64>,
    /// The same, RFC 3339.
    last_received: Option<String>,
    retention_days: u32,
}

fn webhook_status(config: &Config, state: &State) -> Result<Option<WebhookStatus>> {
    let Some(webhook) = &config.webhook else {
        return Ok(None);
    };
    let (deliveries, last_received_ms) = state.webhook_deliveries()?;
    Ok(Some(WebhookStatus {
        deliveries,
        last_received_ms,
        last_received: last_received_ms.map(ms_to_rfc3339),
        retention_days: webhook.retention_days,
    }))
}

/// The mailbox trigger's position, for `status`.
#[derive(Debug, serde::Serialize)]
struct MailStatus {
    mailbox: String,
    /// UIDVALIDITY and the cursor (every mail at or below it was handled, rejected or is in
    /// the retry set); none before the first pass.
    uid_validity: Option<u32>,
    last_uid: Option<u32>,
    max_attempts: u32,
    /// Mails whose issues failed, tried again later.
    retry: Vec<crate::state::MailRetry>,
    /// Mails rejected or given up and left in the mailbox (not examined again).
    rejected: usize,
}

/// The mail part of `status`, when `[imap]` is configured.
fn mail_status(config: &Config, state: &State) -> Result<Option<MailStatus>> {
    let Some(imap) = &config.imap else {
        return Ok(None);
    };
    let cursor = state.mail_cursor(&imap.mailbox)?;
    let (retry, rejected) = match cursor {
        Some((validity, _)) => (
            state.mail_retries(&imap.mailbox, validity)?,
            state.mail_rejected(&imap.mailbox, validity)?.len(),
        ),
        None => (Vec::new(), 0),
    };
    Ok(Some(MailStatus {
        mailbox: imap.mailbox.clone(),
        uid_validity: cursor.map(|(v, _)| v),
        last_uid: cursor.map(|(_, uid)| uid),
        max_attempts: imap.max_attempts,
        retry,
        rejected,
    }))
}

fn print_mail_status(m: &MailStatus) {
    match (m.uid_validity, m.last_uid) {
        (Some(validity), Some(uid)) => println!(
            "mail:      {} up to UID {uid} (UIDVALIDITY {validity}); {} in the retry set, \
             {} rejected or given up",
            m.mailbox,
            m.retry.len(),
            m.rejected
        ),
        _ => println!("mail:      {} not read yet", m.mailbox),
    }
    for r in &m.retry {
        println!(
            "  UID {} ({} of {} attempts, next {}): {}",
            r.uid,
            r.attempts,
            m.max_attempts,
            ms_to_rfc3339(r.next_try_ms),
            r.last_error
        );
    }
}

/// Rows per table, from the month files' footers; files that cannot be read are listed in
/// `problems` instead of failing the command.
pub(super) fn table_row_counts(config: &Config) -> RowCounts {
    MonthStore::new(config.parquet_dir(), None).row_counts()
}

/// The `table problems:` block (nothing when every file was read), each line indented by
/// `indent`.
pub(super) fn print_table_problems(config: &Config, counts: &RowCounts, indent: &str) {
    if counts.problems.is_empty() {
        return;
    }
    println!("{indent}table problems: {}", counts.problems.len());
    for p in &counts.problems {
        println!(
            "{indent}  {}: {}",
            relative_to(&config.data_dir, &p.path).display(),
            p.error
        );
    }
}

/// `path` relative to `dir` when it lies inside it.
fn relative_to<'a>(dir: &Path, path: &'a Path) -> &'a Path {
    path.strip_prefix(dir).unwrap_or(path)
}
