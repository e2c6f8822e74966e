//! `demo`: the whole pipeline against the built-in Jira simulator (cargo feature
//! `simulator`): a backfill, a change and a sweep, then where the files are and how to
//! query them.

use super::status::{print_table_problems, table_row_counts};
use super::*;
use crate::jira::Deployment;
use crate::simulator::{SimConfig, SimDeployment, Simulator};
use std::path::PathBuf;

/// The API account's time zone in the Data Center demo: JQL dates are written in it.
const DEMO_DC_TIME_ZONE: &str = "Europe/Berlin";

pub(super) async fn demo(data_dir: PathBuf, issues: usize, deployment: Deployment) -> Result<Exit> {
    let sim = Simulator::start(SimConfig {
        issues,
        deployment: match deployment {
            Deployment::Cloud => SimDeployment::Cloud,
            Deployment::DataCenter => SimDeployment::DataCenter,
        },
        time_zone: match deployment {
            Deployment::Cloud => SimConfig::default().time_zone,
            Deployment::DataCenter => DEMO_DC_TIME_ZONE.to_string(),
        },
        ..SimConfig::default()
    })
    .await
    .context("cannot start the Jira simulator")?;
    let result = demo_with(&sim, data_dir).await;
    sim.shutdown().await;
    result
}

/// The request rate the demo allows itself against the in-process simulator.
const DEMO_REQUESTS_PER_SECOND: f64 = 2000.0;
/// Requests in flight at once in the demo.
const DEMO_CONCURRENCY: usize = 16;

async fn demo_with(sim: &Simulator, data_dir: PathBuf) -> Result<Exit> {
    let sim_config = sim.config();
    let data_center = sim_config.deployment == SimDeployment::DataCenter;
    println!(
        "Jira {} simulator listening on {} with {} issues (one with 250 histories and 150 comments).",
        if data_center {
            "Data Center 9.12"
        } else {
            "Cloud"
        },
        sim.base_url(),
        sim.issue_keys().len()
    );
    let mut config = Config::for_simulator(
        std::path::absolute(&data_dir)?,
        &sim.base_url(),
        &sim_config.email,
        &sim_config.api_token,
        Some((&sim_config.sla_email, &sim_config.sla_api_token)),
    );
    if data_center {
        // Personal access tokens, as a Data Center site hands out: no e-mail, Bearer.
        config.jira.deployment = Some(Deployment::DataCenter);
        config.jira.email.clear();
        if let Some(sla) = &mut config.jira_sla {
            sla.email.clear();
        }
        println!(
            "Signing in with personal access tokens; sweep bounds are written as local minutes \
             in the account's time zone ({DEMO_DC_TIME_ZONE})."
        );
    }
    // The simulator runs in this process on loopback: the politeness a real site needs
    // (10 requests a second by default) would only make the demo wait.
    config.jira.max_requests_per_second = DEMO_REQUESTS_PER_SECOND;
    config.jira.max_concurrency = DEMO_CONCURRENCY;
    if let Some(sla) = &mut config.jira_sla {
        sla.max_requests_per_second = DEMO_REQUESTS_PER_SECOND;
        sla.max_concurrency = DEMO_CONCURRENCY;
    }
    config.attachments.max_concurrency = DEMO_CONCURRENCY;
    let ctx = Context::build(config.clone(), None).await?;
    println!("\n$ jira-mirror backfill");
    let mut exit = ctx.backfill(None, false).await?;

    let keys = sim.issue_keys();
    for key in keys.iter().take(2) {
        sim.touch(key);
    }
    let created = sim.create_issue("SUP");
    println!(
        "\nChanged {} and {} in the simulator and created {created}.\n$ jira-mirror sweep",
        keys[0], keys[1]
    );
    if ctx.sweep().await? != Exit::Ok {
        exit = Exit::Partial;
    }

    let issues_dir = config.data_dir.join("raw/issues");
    let attachments_dir = config.data_dir.join("raw/attachments");
    let (issue_files, issue_bytes) = count_files(&issues_dir);
    let (attachment_files, attachment_bytes) = count_files(&attachments_dir);
    println!("\nWrote under {}:", config.data_dir.display());
    println!(
        "  raw/issues/       {issue_files} issue files ({} KiB)",
        issue_bytes / 1024
    );
    println!(
        "  raw/attachments/  {attachment_files} files ({} KiB)",
        attachment_bytes / 1024
    );
    let counts = table_row_counts(&config);
    for (table, rows) in &counts.rows {
        println!("  parquet/{:<13} {rows} rows", table.name());
    }
    print_table_problems(&config, &counts, "  ");
    println!("  parquet/views.sql  DuckDB views jira_<table>");
    println!("  state.db          watermark, per-issue state, runs");
    let parquet = config.parquet_dir();
    match monthly_report(ctx.pipeline().transformer()) {
        Ok(months) => {
            let chart = chart(&months);
            println!("\n{chart}");
            let report = config.data_dir.join("report.txt");
            if let Err(e) = std::fs::write(&report, &chart) {
                tracing::warn!(error = %e, "Could not write report.txt.");
            }
        }
        Err(e) => tracing::warn!(error = %e, "Could not read parquet/issues for the report."),
    }
    println!(
        "\nQuery it with DuckDB (pip install duckdb, in a virtual environment where the system Python refuses it):"
    );
    println!(
        "  python3 -c \"import duckdb; duckdb.sql(\\\"SELECT status, count(*) AS issues, round(avg(comment_count), 1) AS avg_comments FROM '{}/issues/*.parquet' GROUP BY 1 ORDER BY 2 DESC\\\").show()\"",
        parquet.display()
    );
    println!(
        "  cd {} && duckdb -init views.sql -c \"SELECT issue_key, summary, first_response_breached FROM jira_issues LIMIT 5\"",
        parquet.display()
    );
    println!(
        "  jq '.fields.summary, .mirror.sla' {}",
        issues_dir.join(format!("{created}.json")).display()
    );
    Ok(exit)
}

/// One month of the demo's report.
#[derive(Debug, Default, PartialEq)]
struct MonthRow {
    month: String,
    issues: usize,
    /// Issues whose first-response or resolution SLA is breached.
    breached: usize,
}

/// Issues created per month and how many breached an SLA, read back from the `issues` month
/// files as an analyst would.
fn monthly_report(transformer: &Transformer) -> Result<Vec<MonthRow>> {
    use crate::transform::schema::Table;
    use arrow_array::{Array, BooleanArray};
    let store = transformer.store();
    let schema = transformer.schemas().get(Table::Issues);
    let mut months = Vec::new();
    for month in store.months()? {
        let mut row = MonthRow {
            month: month.label(),
            ..MonthRow::default()
        };
        for batch in store.read(Table::Issues, month, schema)? {
            let flags: Vec<&BooleanArray> =
                ["first_response_breached", "time_to_resolution_breached"]
                    .iter()
                    .filter_map(|name| batch.column_by_name(name)?.as_any().downcast_ref())
                    .collect();
            row.issues += batch.num_rows();
            row.breached += (0..batch.num_rows())
                .filter(|&i| flags.iter().any(|f| f.is_valid(i) && f.value(i)))
                .count();
        }
        months.push(row);
    }
    Ok(months)
}

/// The report as a text chart: a bar per month, `█` an issue, `▒` one that breached an SLA
/// (scaled down when a month has more issues than fit).
fn chart(months: &[MonthRow]) -> String {
    const WIDTH: usize = 48;
    let most = months.iter().map(|m| m.issues).max().unwrap_or(0).max(1);
    let scale = |n: usize| (n * WIDTH).div_ceil(most.max(WIDTH));
    let mut out = String::from(
        "Issues created per month (parquet/issues; ▒ breached a first-response or resolution SLA):\n",
    );
    for m in months {
        let (all, breached) = (scale(m.issues), scale(m.breached));
        out.push_str(&format!(
            "  {}  {}{}{} {} {}, {} breached\n",
            m.month,
            "▒".repeat(breached),
            "█".repeat(all.saturating_sub(breached)),
            " ".repeat(WIDTH.min(most) - all.min(WIDTH.min(most))),
            m.issues,
            if m.issues == 1 { "issue" } else { "issues" },
            m.breached
        ));
    }
    out
}

fn count_files(dir: &Path) -> (u64, u64) {
    let mut files = 0;
    let mut bytes = 0;
    let mut stack = vec![dir.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
            match entry.metadata() {
                Ok(m) if m.is_dir() => stack.push(entry.path()),
                Ok(m) => {
                    files += 1;
                    bytes += m.len();
                }
                Err(_) => {}
            }
        }
    }
    (files, bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(month: &str, issues: usize, breached: usize) -> MonthRow {
        MonthRow {
            month: month.into(),
            issues,
            breached,
        }
    }

    #[test]
    fn the_chart_has_a_bar_per_month_scaled_to_fit() {
        let text = chart(&[row("2026-01", 3, 1), row("2026-02", 0, 0)]);
        assert!(
            text.contains("  2026-01  ▒██ 3 issues, 1 breached\n"),
            "{text}"
        );
        assert!(
            text.contains("  2026-02      0 issues, 0 breached\n"),
            "{text}"
        );
        // A month of 480 issues is 48 characters wide; one of 10 rounds up to 1.
        let wide = chart(&[row("2026-03", 480, 240), row("2026-04", 10, 0)]);
        let bars: Vec<usize> = wide
            .lines()
            .skip(1)
            .map(|l| l.chars().filter(|c| *c == '█' || *c == '▒').count())
            .collect();
        assert_eq!(bars, vec![48, 1], "{wide}");
    }
}
