//! The Parquet tables: read back through DuckDB, kept current incrementally, identical to a
//! rebuild, repaired after a crash, healed when a month file or a raw file is damaged.

use std::process::Command;

use serde_json::Value;

use crate::support::*;

/// DuckDB's view of every table: column names and types, and row counts.
fn duckdb_describe(parquet: &std::path::Path) -> Value {
    let script = r#"
for t in ["issues", "comments", "changelog", "attachments", "issuelinks", "remote_links", "sla", "worklogs"]:
    rel = con.sql(f"SELECT * FROM read_parquet('{t}/*.parquet')")
    out[t] = {
        "columns": [[n, str(ty)] for n, ty in zip(rel.columns, rel.types)],
        "rows": con.execute(f"SELECT count(*) FROM read_parquet('{t}/*.parquet')").fetchall()[0][0],
        "view_rows": con.execute(f"SELECT count(*) FROM jira_{t}").fetchall()[0][0],
    }
out["view_issues"] = con.execute("SELECT count(*) FROM jira_issues").fetchall()[0][0]
out["first_response"] = con.execute("SELECT count(*) FROM jira_issues WHERE first_response_goal_millis IS NOT NULL").fetchall()[0][0]
out["view_worklogs"] = con.execute("SELECT count(*) FROM jira_worklogs").fetchall()[0][0]
out["issue_time_spent"] = con.execute("SELECT coalesce(sum(time_spent_seconds), 0) FROM jira_issues").fetchall()[0][0]
out["environments"] = con.execute("SELECT count(*) FROM jira_issues WHERE environment = 'Production, EU region'").fetchall()[0][0]
out["worklog_seconds"] = con.execute("SELECT coalesce(sum(time_spent_seconds), 0) FROM jira_worklogs").fetchall()[0][0]
"#;
    run_duckdb(parquet, script)
}

/// Runs `body` in Python in `parquet`, with `con` a DuckDB connection that has run
/// `views.sql`, and reads the dict `out` it fills, as JSON.
fn run_duckdb(parquet: &std::path::Path, body: &str) -> Value {
    let script = format!(
        r#"
import duckdb, json, sys
con = duckdb.connect()
for statement in open("views.sql").read().split(";"):
    if statement.strip() and not all(l.startswith("--") for l in statement.strip().splitlines()):
        con.execute(statement)
out = {{}}
{body}
json.dump(out, sys.stdout)
"#
    );
    let out = Command::new(python())
        .args(["-c", &script])
        .current_dir(parquet)
        .output()
        .expect("python3 runs");
    assert!(
        out.status.success(),
        "DuckDB (Python) failed; bash .ci/test installs it: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("json from python")
}

/// The Python with DuckDB: the virtual environment `bash .ci/test` makes under `target/`
/// when the system Python refuses `pip install` (PEP 668), else the system's `python3`.
fn python() -> std::path::PathBuf {
    let venv =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target/duckdb-venv/bin/python3");
    let has_duckdb = |python: &std::path::Path| {
        Command::new(python)
            .args(["-c", "import duckdb"])
            .output()
            .is_ok_and(|o| o.status.success())
    };
    if has_duckdb(&venv) {
        venv
    } else {
        "python3".into()
    }
}

fn columns(v: &Value, table: &str) -> Vec<(String, String)> {
    v[table]["columns"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c[0].as_str().unwrap().to_string(),
                c[1].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

const TS: &str = "TIMESTAMP WITH TIME ZONE";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn duckdb_reads_every_table_with_the_designed_columns_and_counts() {
    let sim = simulator(60).await;
    let mirror = Mirror::new(&sim);
    mirror.run_ok(&["backfill"]).await;
    let d = duckdb_describe(&mirror.data().join("parquet"));

    let expect = |table: &str, cols: &[(&str, &str)]| {
        let got = columns(&d, table);
        let want: Vec<(String, String)> = cols
            .iter()
            .map(|(n, t)| (n.to_string(), t.to_string()))
            .collect();
        assert_eq!(got, want, "{table}");
    };
    let mut issues = vec![
        ("issue_id", "BIGINT"),
        ("issue_key", "VARCHAR"),
        ("project_key", "VARCHAR"),
        ("summary", "VARCHAR"),
        ("description", "VARCHAR"),
        ("issue_type", "VARCHAR"),
        ("status", "VARCHAR"),
        ("status_category", "VARCHAR"),
        ("priority", "VARCHAR"),
        ("resolution", "VARCHAR"),
        ("assignee", "VARCHAR"),
        ("assignee_account_id", "VARCHAR"),
        ("reporter", "VARCHAR"),
        ("reporter_account_id", "VARCHAR"),
        ("creator", "VARCHAR"),
        ("labels", "VARCHAR[]"),
        ("components", "VARCHAR[]"),
        ("fix_versions", "VARCHAR[]"),
        ("parent_key", "VARCHAR"),
        ("created_at", TS),
        ("updated_at", TS),
        ("resolved_at", TS),
        ("due_date", "DATE"),
        ("comment_count", "BIGINT"),
        ("attachment_count", "BIGINT"),
    ];
    for sla in ["first_response", "time_to_resolution"] {
        for (suffix, ty) in [
            ("elapsed_millis", "BIGINT"),
            ("goal_millis", "BIGINT"),
            ("remaining_millis", "BIGINT"),
            ("breached", "BOOLEAN"),
        ] {
            issues.push((Box::leak(format!("{sla}_{suffix}").into_boxed_str()), ty));
        }
    }
    issues.extend([
        ("project_name", "VARCHAR"),
        ("environment", "VARCHAR"),
        ("affects_versions", "VARCHAR[]"),
        ("security_level", "VARCHAR"),
        ("sprint", "VARCHAR[]"),
        ("votes", "BIGINT"),
        ("watchers", "BIGINT"),
        ("time_original_estimate_seconds", "BIGINT"),
        ("time_remaining_estimate_seconds", "BIGINT"),
        ("time_spent_seconds", "BIGINT"),
        ("status_changed_at", TS),
        ("last_comment_at", TS),
    ]);
    issues.push(("custom_fields", "VARCHAR"));
    expect("issues", &issues);
    expect(
        "comments",
        &[
            ("issue_key", "VARCHAR"),
            ("issue_id", "BIGINT"),
            ("comment_id", "BIGINT"),
            ("author", "VARCHAR"),
            ("author_account_id", "VARCHAR"),
            ("body", "VARCHAR"),
            ("created_at", TS),
            ("updated_at", TS),
            ("is_public", "BOOLEAN"),
            ("visibility", "VARCHAR"),
        ],
    );
    expect(
        "changelog",
        &[
            ("issue_key", "VARCHAR"),
            ("issue_id", "BIGINT"),
            ("history_id", "BIGINT"),
            ("created_at", TS),
            ("author", "VARCHAR"),
            ("author_account_id", "VARCHAR"),
            ("field", "VARCHAR"),
            ("field_id", "VARCHAR"),
            ("field_type", "VARCHAR"),
            ("from_value", "VARCHAR"),
            ("from_string", "VARCHAR"),
            ("to_value", "VARCHAR"),
            ("to_string", "VARCHAR"),
        ],
    );
    expect(
        "attachments",
        &[
            ("issue_key", "VARCHAR"),
            ("attachment_id", "BIGINT"),
            ("filename", "VARCHAR"),
            ("mime_type", "VARCHAR"),
            ("size_bytes", "BIGINT"),
            ("created_at", TS),
            ("author", "VARCHAR"),
            ("content_url", "VARCHAR"),
            ("local_path", "VARCHAR"),
            ("sha256", "VARCHAR"),
            ("status", "VARCHAR"),
            ("error", "VARCHAR"),
        ],
    );
    expect(
        "issuelinks",
        &[
            ("issue_key", "VARCHAR"),
            ("link_id", "BIGINT"),
            ("link_type", "VARCHAR"),
            ("direction", "VARCHAR"),
            ("linked_issue_key", "VARCHAR"),
            ("linked_issue_id", "BIGINT"),
        ],
    );
    expect(
        "remote_links",
        &[
            ("issue_key", "VARCHAR"),
            ("remote_link_id", "BIGINT"),
            ("global_id", "VARCHAR"),
            ("url", "VARCHAR"),
            ("title", "VARCHAR"),
            ("relationship", "VARCHAR"),
            ("application_name", "VARCHAR"),
        ],
    );
    expect(
        "sla",
        &[
            ("issue_key", "VARCHAR"),
            ("sla_name", "VARCHAR"),
            ("cycle", "VARCHAR"),
            ("start_at", TS),
            ("stop_at", TS),
            ("breach_at", TS),
            ("breached", "BOOLEAN"),
            ("paused", "BOOLEAN"),
            ("goal_millis", "BIGINT"),
            ("elapsed_millis", "BIGINT"),
            ("remaining_millis", "BIGINT"),
        ],
    );
    expect(
        "worklogs",
        &[
            ("issue_key", "VARCHAR"),
            ("issue_id", "BIGINT"),
            ("worklog_id", "BIGINT"),
            ("author", "VARCHAR"),
            ("author_account_id", "VARCHAR"),
            ("update_author", "VARCHAR"),
            ("update_author_account_id", "VARCHAR"),
            ("comment", "VARCHAR"),
            ("started_at", TS),
            ("created_at", TS),
            ("updated_at", TS),
            ("time_spent_seconds", "BIGINT"),
            ("time_spent", "VARCHAR"),
            ("visibility", "VARCHAR"),
        ],
    );

    // Row counts equal what the raw JSON holds.
    let (mut comments, mut items, mut attachments, mut links, mut remote, mut cycles) =
        (0, 0, 0, 0, 0, 0);
    let (mut worklogs, mut seconds) = (0, 0);
    for key in mirror.saved_keys() {
        let issue = mirror.issue(&key).unwrap();
        // Every worklog, also past the 20 Jira embeds (SUP-1 has 45).
        let w = &issue["fields"]["worklog"];
        let listed = w["worklogs"].as_array().unwrap();
        assert_eq!(Some(listed.len() as u64), w["total"].as_u64(), "{key}");
        worklogs += listed.len();
        seconds += listed
            .iter()
            .map(|w| w["timeSpentSeconds"].as_i64().unwrap())
            .sum::<i64>();
        comments += issue["fields"]["comment"]["comments"]
            .as_array()
            .unwrap()
            .len();
        items += issue["changelog"]["histories"]
            .as_array()
            .unwrap()
            .iter()
            .map(|h| h["items"].as_array().unwrap().len())
            .sum::<usize>();
        attachments += issue["fields"]["attachment"].as_array().map_or(0, Vec::len);
        links += issue["fields"]["issuelinks"].as_array().map_or(0, Vec::len);
        remote += issue["mirror"]["remote_links"]
            .as_array()
            .map_or(0, Vec::len);
        for sla in issue["mirror"]["sla"]["values"]
            .as_array()
            .into_iter()
            .flatten()
        {
            cycles += sla["completedCycles"].as_array().map_or(0, Vec::len)
                + usize::from(sla.get("ongoingCycle").is_some_and(|c| !c.is_null()));
        }
    }
    let rows = |t: &str| d[t]["rows"].as_u64().unwrap() as usize;
    // Every table reads the same through its view in views.sql.
    for t in TABLES {
        assert_eq!(d[t]["view_rows"], d[t]["rows"], "jira_{t}");
    }
    assert_eq!(rows("issues"), 60);
    assert_eq!(
        d["view_issues"], 60,
        "views.sql works from the parquet folder"
    );
    assert_eq!(rows("comments"), comments);
    assert!(worklogs > 45, "{worklogs}");
    assert_eq!(rows("worklogs"), worklogs);
    assert_eq!(d["view_worklogs"], worklogs as u64);
    assert_eq!(d["worklog_seconds"], seconds);
    // The issues' time spent is Jira's sum of their worklogs.
    assert_eq!(d["issue_time_spent"], seconds);
    assert!(d["environments"].as_u64().unwrap() > 0, "{d}");
    assert_eq!(rows("changelog"), items);
    assert_eq!(rows("attachments"), attachments);
    assert_eq!(rows("issuelinks"), links);
    assert_eq!(rows("remote_links"), remote);
    assert_eq!(rows("sla"), cycles);
    assert!(comments > 150 && items > 250 && cycles > 0 && links > 0 && remote > 0);
    assert!(
        d["first_response"].as_u64().unwrap() > 0,
        "SLA columns filled"
    );
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn incremental_changes_equal_a_rebuild_and_leave_no_stale_rows() {
    let sim = simulator(40).await;
    let mirror = Mirror::new(&sim);
    mirror.run_ok(&["backfill"]).await;
    sim.touch("SUP-5");
    sim.add_comment("SUP-6", "a new comment");
    let created = sim.create_issue("SUP");
    mirror.run_ok(&["sweep"]).await;
    let moved = sim.move_issue("SUP-8", "NEW");
    sim.delete_issue("SUP-9");
    mirror.run_ok(&["fetch", "SUP-8", "SUP-9"]).await;

    let incremental = mirror.tables();
    let keys = |t: &str| {
        incremental[t]
            .iter()
            .map(|r| r["issue_key"].clone())
            .collect::<std::collections::BTreeSet<_>>()
    };
    assert!(keys("issues").contains(&format!("\"{created}\"")));
    assert!(keys("issues").contains(&format!("\"{moved}\"")));
    for t in ["issues", "comments", "changelog", "attachments", "sla"] {
        assert!(
            !keys(t).contains("\"SUP-8\""),
            "{t} keeps the moved issue's old key"
        );
        assert!(
            !keys(t).contains("\"SUP-9\""),
            "{t} keeps the deleted issue"
        );
    }
    let sup6 = incremental["comments"]
        .iter()
        .filter(|r| r["issue_key"] == "\"SUP-6\"")
        .count();
    assert_eq!(
        sup6,
        mirror.issue("SUP-6").unwrap()["fields"]["comment"]["comments"]
            .as_array()
            .unwrap()
            .len()
    );

    mirror.run_ok(&["transform", "--rebuild"]).await;
    let rebuilt = mirror.tables();
    assert_eq!(
        incremental.keys().collect::<Vec<_>>(),
        rebuilt.keys().collect::<Vec<_>>()
    );
    for (table, rows) in &incremental {
        assert_eq!(rows.len(), rebuilt[table].len(), "{table} row count");
        for (i, (a, b)) in rows.iter().zip(&rebuilt[table]).enumerate() {
            assert_eq!(a, b, "{table} row {i}");
        }
    }
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rows_left_pending_by_a_crash_are_written_at_the_next_start() {
    let sim = simulator(10).await;
    let mirror = Mirror::new(&sim);
    mirror.run_ok(&["backfill"]).await;
    // A crash after the raw JSON was saved but before the month file was rewritten: the raw
    // file is new, the pending row is in state.db, the Parquet is old.
    let path = mirror.data().join("raw/issues/SUP-3.json");
    let mut issue: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    issue["fields"]["summary"] = "changed before the crash".into();
    std::fs::write(&path, serde_json::to_vec(&issue).unwrap()).unwrap();
    let created =
        jira_mirror::time::jira_time_ms(issue["fields"]["created"].as_str().unwrap()).unwrap();
    let month = chrono::DateTime::from_timestamp_millis(created)
        .unwrap()
        .format("%Y-%m")
        .to_string();
    let conn = rusqlite::Connection::open(mirror.data().join("state.db")).unwrap();
    conn.execute(
        "INSERT INTO pending_rows (issue_key, month, seq) VALUES ('SUP-3', ?1, 1)",
        [&month],
    )
    .unwrap();
    drop(conn);

    mirror.run_ok(&["status"]).await; // status only reads: nothing is repaired yet
    assert!(!summary_of(&mirror, "SUP-3").contains("crash"));
    mirror.run_ok(&["sweep"]).await; // any command that opens the mirror repairs first
    assert_eq!(summary_of(&mirror, "SUP-3"), "\"changed before the crash\"");
    sim.shutdown().await;
}

fn summary_of(mirror: &Mirror, key: &str) -> String {
    let tables = mirror.tables();
    let row = tables["issues"]
        .iter()
        .find(|r| r["issue_key"] == format!("\"{key}\""))
        .expect("row");
    row["summary"].clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_distribution_folder_receives_every_changed_file() {
    let sim = simulator(15).await;
    let mirror = Mirror::with(
        &sim,
        MirrorOptions {
            distribution: true,
            ..Default::default()
        },
    );
    mirror.run_ok(&["backfill"]).await;
    sim.touch("SUP-2");
    mirror.run_ok(&["sweep"]).await;
    let parquet = mirror.data().join("parquet");
    let dist = mirror.dir.path().join("dist");
    let (here, there) = (tree(&parquet), tree(&dist));
    assert!(here.len() >= 8, "{} files", here.len());
    assert_eq!(
        here.iter().map(|f| &f.0).collect::<Vec<_>>(),
        there.iter().map(|f| &f.0).collect::<Vec<_>>()
    );
    assert_same(&there, &here);
    sim.shutdown().await;
}

/// A distribution folder that cannot be written (here a file stands where the folder should
/// be) never costs the mirror: raw JSON and the tables are complete, the command says what
/// failed, and the next command after the folder is fixed fills it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_blocked_distribution_folder_costs_the_mirror_nothing() {
    let sim = simulator(6).await;
    let mirror = Mirror::with(
        &sim,
        MirrorOptions {
            distribution: true,
            ..Default::default()
        },
    );
    let dist = mirror.dir.path().join("dist");
    std::fs::write(&dist, b"not a folder").unwrap();
    let out = mirror.run(&["backfill"]).await;
    let log = stderr(&out);
    assert!(out.status.success(), "the mirror itself is complete\n{log}");
    assert!(
        log.contains("Distribution copy not written"),
        "the failure is said\n{log}"
    );
    assert_eq!(mirror.saved_keys().len(), 6, "{log}");
    let parquet = mirror.data().join("parquet");
    assert!(tree(&parquet).len() >= 8, "{log}");
    let rows: usize = mirror.tables()["issues"].len();
    assert_eq!(rows, 6, "{log}");

    std::fs::remove_file(&dist).unwrap();
    mirror.run_ok(&["sweep"]).await;
    let (here, there) = (tree(&parquet), tree(&dist));
    assert_eq!(
        here.iter().map(|f| &f.0).collect::<Vec<_>>(),
        there.iter().map(|f| &f.0).collect::<Vec<_>>()
    );
    assert_same(&there, &here);
    sim.shutdown().await;
}

/// Every file below `root` (path relative to it, contents), sorted; temp files of
/// downloads in progress are not published and left out.
fn tree(root: &std::path::Path) -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    let mut pending = vec![root.to_path_buf()];
    while let Some(dir) = pending.pop() {
        for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
            let path = entry.path();
            if path.is_dir() {
                pending.push(path);
            } else if !entry.file_name().to_string_lossy().starts_with(".part-") {
                let name = path.strip_prefix(root).unwrap().display().to_string();
                out.push((name, std::fs::read(&path).unwrap()));
            }
        }
    }
    out.sort();
    out
}

/// Asserts two [`tree`]s hold the same files with the same contents (naming any that differ).
#[track_caller]
fn assert_same(copy: &[(String, Vec<u8>)], original: &[(String, Vec<u8>)]) {
    let names = |t: &[(String, Vec<u8>)]| t.iter().map(|f| f.0.clone()).collect::<Vec<_>>();
    assert_eq!(names(copy), names(original));
    let differing: Vec<&String> = copy
        .iter()
        .zip(original)
        .filter(|(a, b)| a.1 != b.1)
        .map(|(a, _)| &a.0)
        .collect();
    assert!(differing.is_empty(), "contents differ: {differing:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_distribution_folder_set_late_is_seeded_with_months_and_attachments() {
    let sim = simulator(10).await;
    let mirror = Mirror::new(&sim);
    mirror.run_ok(&["backfill"]).await;
    let parquet = mirror.data().join("parquet");
    let attachments = mirror.data().join("raw/attachments");
    let dist = mirror.dir.path().join("dist");
    assert!(!tree(&attachments).is_empty(), "the site has attachments");

    // Set after months were written: the next command copies what differs.
    let mut config = std::fs::read_to_string(&mirror.config_path).unwrap();
    config.push_str("\n[distribution]\ndir = \"dist\"\nattachments = true\n");
    std::fs::write(&mirror.config_path, config).unwrap();
    mirror.run_ok(&["sweep"]).await;
    let months = |t: Vec<(String, Vec<u8>)>| -> Vec<(String, Vec<u8>)> {
        t.into_iter()
            .filter(|(n, _)| !n.starts_with("raw/"))
            .collect()
    };
    assert_same(&months(tree(&dist)), &tree(&parquet));
    assert_same(&tree(&dist.join("raw/attachments")), &tree(&attachments));

    // A copy lost or damaged on the share is restored by the next start.
    let (first, _) = tree(&parquet)
        .into_iter()
        .find(|(n, _)| n.ends_with(".parquet"))
        .unwrap();
    std::fs::remove_file(dist.join(&first)).unwrap();
    let (file, _) = tree(&attachments).into_iter().next().unwrap();
    std::fs::write(dist.join("raw/attachments").join(&file), b"damaged").unwrap();
    mirror.run_ok(&["sweep"]).await;
    assert_same(&months(tree(&dist)), &tree(&parquet));
    assert_same(&tree(&dist.join("raw/attachments")), &tree(&attachments));

    // An issue removed from the mirror takes its copies with it.
    sim.delete_issue("SUP-1");
    mirror.run_ok(&["fetch", "SUP-1"]).await;
    assert!(!dist.join("raw/attachments/SUP-1").exists());
    assert_same(&tree(&dist.join("raw/attachments")), &tree(&attachments));
    assert_same(&months(tree(&dist)), &tree(&parquet));
    sim.shutdown().await;
}

/// The `YYYY-MM` partition of a saved issue.
fn month_of(mirror: &Mirror, key: &str) -> String {
    let issue = mirror.issue(key).expect("saved");
    let created = jira_mirror::time::jira_time_ms(issue["fields"]["created"].as_str().unwrap())
        .expect("created");
    chrono::DateTime::from_timestamp_millis(created)
        .unwrap()
        .format("%Y-%m")
        .to_string()
}

/// The month holding the most saved issues, and its keys.
fn busiest_month(mirror: &Mirror) -> (String, Vec<String>) {
    let mut months = std::collections::BTreeMap::<String, Vec<String>>::new();
    for key in mirror.saved_keys() {
        months.entry(month_of(mirror, &key)).or_default().push(key);
    }
    months
        .into_iter()
        .max_by_key(|(_, keys)| keys.len())
        .expect("some month")
}

/// Cuts a file to half its size, as a full disk or an interrupted copy leaves it.
fn truncate_to_half(path: &std::path::Path) {
    let len = std::fs::metadata(path).expect("file").len();
    let file = std::fs::OpenOptions::new().write(true).open(path).unwrap();
    file.set_len(len / 2).unwrap();
}

/// Rows per table as DuckDB counts them.
fn duckdb_rows(mirror: &Mirror) -> Vec<(String, u64)> {
    let d = duckdb_describe(&mirror.data().join("parquet"));
    TABLES
        .iter()
        .map(|t| (t.to_string(), d[t]["rows"].as_u64().unwrap()))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn damaged_month_files_are_reported_by_status_and_healed_by_the_next_change() {
    let sim = simulator(80).await;
    let mirror = Mirror::new(&sim);
    mirror.run_ok(&["backfill"]).await;
    let (month, keys) = busiest_month(&mirror);
    // Enough issues that changing one merges into the files rather than rebuilding them.
    assert!(keys.len() >= 4, "{month}: {keys:?}");
    let issues = format!("parquet/issues/{month}.parquet");
    let changelog = format!("parquet/changelog/{month}.parquet");
    truncate_to_half(&mirror.data().join(&issues));
    std::fs::write(mirror.data().join(&changelog), b"PAR1 and then not Parquet").unwrap();

    let text = stdout(&mirror.run_ok(&["status"]).await);
    assert!(text.contains("table problems: 2"), "{text}");
    for path in [&issues, &changelog] {
        assert!(
            text.contains(&format!("  {path}: ")),
            "{path} missing:\n{text}"
        );
    }
    assert!(text.contains("tables:    issues "), "{text}");
    let v: Value =
        serde_json::from_slice(&mirror.run_ok(&["status", "--json"]).await.stdout).unwrap();
    let problems = v["table_problems"].as_array().unwrap();
    let paths: Vec<&str> = problems
        .iter()
        .map(|p| p["path"].as_str().unwrap())
        .collect();
    assert_eq!(paths, [issues.as_str(), changelog.as_str()]);
    assert!(
        problems
            .iter()
            .all(|p| !p["error"].as_str().unwrap().is_empty())
    );
    // The readable files are still counted.
    assert!(v["tables"]["comments"].as_u64().unwrap() > 0);

    // Changing one issue of that month rewrites it: the damaged files are rebuilt.
    let out = mirror.run_ok(&["fetch", &keys[1]]).await;
    let err = stderr(&out);
    assert_eq!(
        err.matches("Month file cannot be read; rebuilding the month from raw JSON.")
            .count(),
        2,
        "{err}"
    );
    for path in [&issues, &changelog] {
        assert!(err.contains(path.as_str()), "{path} not named:\n{err}");
    }
    let v: Value =
        serde_json::from_slice(&mirror.run_ok(&["status", "--json"]).await.stdout).unwrap();
    assert_eq!(v["table_problems"], serde_json::json!([]));
    let healed_counts = duckdb_rows(&mirror);
    let healed = mirror.tables();
    mirror.run_ok(&["transform", "--rebuild"]).await;
    assert_eq!(healed_counts, duckdb_rows(&mirror));
    assert!(
        healed == mirror.tables(),
        "healed tables differ from a rebuild"
    );
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rebuild_does_not_apply_pending_rows_first_and_replaces_a_truncated_file() {
    let sim = simulator(20).await;
    let mirror = Mirror::new(&sim);
    mirror.run_ok(&["backfill"]).await;
    // A crash left SUP-3 pending (new raw JSON, old rows), and its month's issues file is
    // cut short: applying the pending row first would have to merge into that file.
    let path = mirror.data().join("raw/issues/SUP-3.json");
    let mut issue: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    issue["fields"]["summary"] = "changed before the crash".into();
    std::fs::write(&path, serde_json::to_vec(&issue).unwrap()).unwrap();
    let month = month_of(&mirror, "SUP-3");
    let conn = rusqlite::Connection::open(mirror.data().join("state.db")).unwrap();
    conn.execute(
        "INSERT INTO pending_rows (issue_key, month, seq) VALUES ('SUP-3', ?1, 1)",
        [&month],
    )
    .unwrap();
    drop(conn);
    truncate_to_half(
        &mirror
            .data()
            .join(format!("parquet/issues/{month}.parquet")),
    );

    let out = mirror.run_ok(&["transform", "--rebuild"]).await;
    let err = stderr(&out);
    assert!(
        !err.contains("left pending by an interrupted run were written"),
        "pending rows were applied before the rebuild:\n{err}"
    );
    assert!(!err.contains("Month file cannot be read"), "{err}");
    assert!(stdout(&out).contains("(0 left out)"), "{}", stdout(&out));
    assert_eq!(summary_of(&mirror, "SUP-3"), "\"changed before the crash\"");
    let v: Value =
        serde_json::from_slice(&mirror.run_ok(&["status", "--json"]).await.stdout).unwrap();
    assert_eq!(v["pending_table_rows"], 0);
    assert_eq!(v["table_problems"], serde_json::json!([]));
    assert_eq!(v["tables"]["issues"], 20);
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_truncated_raw_file_is_left_out_recorded_and_fetched_again_by_the_next_sweep() {
    let sim = simulator(12).await;
    let mirror = Mirror::new(&sim);
    mirror.run_ok(&["backfill"]).await;
    let raw = mirror.data().join("raw/issues/SUP-5.json");
    truncate_to_half(&raw);

    let out = mirror.run_ok(&["transform", "--rebuild"]).await;
    let text = stdout(&out);
    assert!(text.contains("from 11 issues (1 left out)"), "{text}");
    assert!(
        stderr(&out).contains("Raw JSON unreadable"),
        "{}",
        stderr(&out)
    );
    let tables = mirror.tables();
    assert!(
        !tables["issues"]
            .iter()
            .any(|r| r["issue_key"] == "\"SUP-5\"")
    );
    let status = stdout(&mirror.run_ok(&["status"]).await);
    assert!(status.contains("failures:  1"), "{status}");
    assert!(
        status.contains("  SUP-5 (1 attempts, last ") && status.contains("raw JSON unreadable: "),
        "{status}"
    );

    let out = mirror.run_ok(&["sweep"]).await;
    assert!(stdout(&out).contains("sweep: 1 saved"), "{}", stdout(&out));
    assert!(
        mirror.issue("SUP-5").is_some(),
        "the raw file is whole again"
    );
    let v: Value =
        serde_json::from_slice(&mirror.run_ok(&["status", "--json"]).await.stdout).unwrap();
    assert_eq!(v["failures"], serde_json::json!([]));
    assert_eq!(v["tables"]["issues"], 12);
    assert!(summary_of(&mirror, "SUP-5").len() > 2);
    sim.shutdown().await;
}

/// DuckDB's columns and row count of each reference table, through `views.sql`.
fn duckdb_reference(parquet: &std::path::Path) -> Value {
    let script = r#"
for t in ["projects", "users", "statuses", "priorities", "fields"]:
    rel = con.sql(f"SELECT * FROM jira_{t}")
    out[t] = {"columns": [[n, str(ty)] for n, ty in zip(rel.columns, rel.types)],
              "rows": con.execute(f"SELECT count(*) FROM jira_{t}").fetchall()[0][0]}
out["desks"] = con.execute("SELECT count(*) FROM jira_projects WHERE is_service_desk").fetchall()[0][0]
out["sla_fields"] = con.execute("SELECT count(*) FROM jira_fields WHERE is_sla").fetchall()[0][0]
out["done_statuses"] = con.execute("SELECT count(*) FROM jira_statuses WHERE status_category_key = 'done'").fetchall()[0][0]
"#;
    run_duckdb(parquet, script)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reference_tables_are_written_daily_and_read_through_views_sql() {
    let sim = simulator_with(jira_mirror::simulator::SimConfig {
        issues: 8,
        projects: vec!["SUP".into(), "DEV".into()],
        software_projects: vec!["DEV".into()],
        ..Default::default()
    })
    .await;
    let mirror = Mirror::new(&sim);
    mirror.run_ok(&["backfill"]).await;
    let parquet = mirror.data().join("parquet");
    let d = duckdb_reference(&parquet);
    let names = |t: &str| -> Vec<String> { columns(&d, t).into_iter().map(|(n, _)| n).collect() };
    assert_eq!(
        names("projects"),
        [
            "project_id",
            "project_key",
            "name",
            "project_type_key",
            "is_service_desk",
            "category",
            "style",
            "simplified",
            "is_private"
        ]
    );
    assert_eq!(
        names("users"),
        [
            "account_id",
            "display_name",
            "email_address",
            "active",
            "account_type",
            "time_zone"
        ]
    );
    assert_eq!(
        names("statuses"),
        [
            "status_id",
            "name",
            "description",
            "status_category",
            "status_category_key"
        ]
    );
    assert_eq!(
        names("priorities"),
        [
            "priority_id",
            "name",
            "description",
            "status_color",
            "is_default"
        ]
    );
    assert_eq!(
        names("fields"),
        [
            "field_id",
            "name",
            "custom",
            "schema_type",
            "schema_items",
            "schema_custom",
            "is_sla"
        ]
    );
    assert_eq!(d["projects"]["rows"], 2);
    assert_eq!(d["desks"], 1, "SUP is a service desk, DEV is not");
    assert_eq!(d["sla_fields"], 2);
    assert!(d["users"]["rows"].as_u64().unwrap() >= 3, "{d}");
    assert!(d["done_statuses"].as_u64().unwrap() >= 1, "{d}");
    assert!(d["priorities"]["rows"].as_u64().unwrap() >= 3, "{d}");
    assert!(d["fields"]["rows"].as_u64().unwrap() > 20, "{d}");

    // Within a day no command asks again.
    let reference_requests = |sim: &jira_mirror::simulator::Simulator| {
        sim.requests()
            .iter()
            .filter(|r| {
                [
                    "/project/search",
                    "/users/search",
                    "/status",
                    "/priority/search",
                ]
                .iter()
                .any(|p| r.path.ends_with(p))
            })
            .count()
    };
    sim.clear_requests();
    mirror.run_ok(&["sweep"]).await;
    assert_eq!(reference_requests(&sim), 0);

    // A day later, with users no longer browsable: the others are written, users keeps its
    // file, and the command goes on.
    rusqlite::Connection::open(mirror.data().join("state.db"))
        .unwrap()
        .execute(
            "UPDATE meta SET value = '0' WHERE name = 'reference_refreshed_ms'",
            [],
        )
        .unwrap();
    let users_file = parquet.join("users/users.parquet");
    let users_before = std::fs::read(&users_file).unwrap();
    sim.set_faults(jira_mirror::simulator::Faults {
        refuse_user_browsing: true,
        ..Default::default()
    });
    sim.clear_requests();
    let out = mirror.run_ok(&["sweep"]).await;
    assert_eq!(reference_requests(&sim), 4, "each table asked once more");
    assert!(
        stderr(&out).contains("Reference table not refreshed") && stderr(&out).contains("users"),
        "{}",
        stderr(&out)
    );
    assert_eq!(std::fs::read(&users_file).unwrap(), users_before);
    assert_eq!(
        duckdb_reference(&parquet)["users"]["rows"],
        d["users"]["rows"]
    );
    sim.shutdown().await;
}
