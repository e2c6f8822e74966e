//! The maintenance commands end to end: `poll-sla` (SLA figures and statuses of open
//! requests, self-healing) and `reconcile` (deletions and moves found by an id census).

use std::collections::BTreeMap;

use jira_mirror::simulator::{Faults, SimConfig};

use crate::support::*;

type Tables = BTreeMap<String, Vec<BTreeMap<String, String>>>;

/// A small site: no big issue (fast), `projects` round-robin.
fn site(issues: usize, projects: &[&str]) -> SimConfig {
    SimConfig {
        issues,
        projects: projects.iter().map(|p| p.to_string()).collect(),
        big_issues: Vec::new(),
        ..SimConfig::default()
    }
}

/// One retry only, so injected failures end quickly.
fn impatient() -> MirrorOptions {
    MirrorOptions {
        max_retries: 1,
        ..MirrorOptions::default()
    }
}

fn state_db(mirror: &Mirror) -> rusqlite::Connection {
    rusqlite::Connection::open(mirror.data().join("state.db")).expect("state.db")
}

fn query_strings(mirror: &Mirror, sql: &str) -> Vec<String> {
    let conn = state_db(mirror);
    let mut stmt = conn.prepare(sql).expect("query");
    stmt.query_map([], |r| r.get(0))
        .expect("rows")
        .collect::<Result<_, _>>()
        .expect("strings")
}

/// Keys of the rows of `table`.
fn row_keys(tables: &Tables, table: &str) -> Vec<String> {
    tables[table]
        .iter()
        .map(|r| serde_json::from_str(&r["issue_key"]).expect("issue_key is a string"))
        .collect()
}

/// The integer in a one-row cell (`PrimitiveArray<Int64>\n[\n  42,\n]`).
fn int_cell(cell: &str) -> i64 {
    let inner = cell
        .split_once('[')
        .and_then(|(_, rest)| rest.rsplit_once(']'))
        .map(|(inner, _)| inner)
        .unwrap_or(cell);
    inner
        .trim()
        .trim_end_matches(',')
        .trim()
        .parse()
        .unwrap_or_else(|_| panic!("not an integer cell: {cell}"))
}

fn issue_row<'a>(tables: &'a Tables, key: &str) -> &'a BTreeMap<String, String> {
    tables["issues"]
        .iter()
        .find(|r| r["issue_key"] == format!("\"{key}\""))
        .unwrap_or_else(|| panic!("no issues row for {key}"))
}

fn ongoing_resolution_elapsed(tables: &Tables, key: &str) -> i64 {
    let row = tables["sla"]
        .iter()
        .find(|r| {
            r["issue_key"] == format!("\"{key}\"")
                && r["sla_name"] == "\"Time to resolution\""
                && r["cycle"] == "\"ongoing\""
        })
        .unwrap_or_else(|| panic!("no ongoing resolution SLA row for {key}"));
    int_cell(&row["elapsed_millis"])
}

/// Asserts that a command's standard output contains `line`.
#[track_caller]
fn assert_says(out: &std::process::Output, line: impl AsRef<str>) {
    let text = stdout(out);
    assert!(
        text.contains(line.as_ref()),
        "no `{}` in:\n{text}",
        line.as_ref()
    );
}

/// Asserts that `key`'s ongoing resolution SLA row and its issues column both moved `by` ms
/// from `before` (row, column).
#[track_caller]
fn assert_clock_moved(tables: &Tables, key: &str, before: (i64, i64), by: i64) {
    assert_eq!(ongoing_resolution_elapsed(tables, key), before.0 + by);
    assert_eq!(
        int_cell(&issue_row(tables, key)["time_to_resolution_elapsed_millis"]),
        before.1 + by
    );
}

fn last_run(mirror: &Mirror, command: &str) -> String {
    query_strings(
        mirror,
        &format!(
            "SELECT coalesce(outcome, 'unfinished') FROM runs WHERE command = '{command}' ORDER BY id DESC LIMIT 1"
        ),
    )
    .pop()
    .unwrap_or_else(|| panic!("no {command} run recorded"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn poll_sla_updates_heals_skips_and_fails_and_the_tables_follow() {
    let sim = simulator_with(site(40, &["SUP"])).await;
    let mirror = Mirror::with(&sim, impatient());
    mirror.run_ok(&["backfill"]).await;
    let open = query_strings(
        &mirror,
        "SELECT issue_key FROM issues WHERE status_category <> 'done' AND has_sla ORDER BY issue_key",
    );
    assert!(open.len() >= 6, "open service requests: {open:?}");
    let done = query_strings(
        &mirror,
        "SELECT issue_key FROM issues WHERE status_category = 'done' ORDER BY issue_key",
    );
    assert!(!done.is_empty());
    let (clock, resolved, edited, deleted, legacy) =
        (&open[0], &open[1], &open[2], &open[3], &open[4]);
    let before = mirror.tables();
    let elapsed_before = ongoing_resolution_elapsed(&before, clock);
    let column_before = int_cell(&issue_row(&before, clock)["time_to_resolution_elapsed_millis"]);

    // Issues saved before schema 4 have no status yet: one open, one done.
    state_db(&mirror)
        .execute(
            "UPDATE issues SET status_category = NULL, has_sla = 0 WHERE issue_key IN (?1, ?2)",
            [legacy, &done[0]],
        )
        .unwrap();
    assert!(sim.advance_sla(clock, 3_600_000));
    assert!(sim.resolve_issue(resolved) > 0);
    assert!(sim.touch(edited) > 0);
    sim.delete_issue(deleted);

    let out = mirror.run_ok(&["poll-sla"]).await;
    let skipped = open.len() - 4;
    assert_says(
        &out,
        format!("poll-sla: 1 updated, 3 healed, {skipped} skipped, 0 failed"),
    );
    assert_eq!(last_run(&mirror, "poll-sla"), "ok");

    // The SLA overlay and the tables carry the new figures; nothing else moved.
    let saved = mirror.issue(clock).unwrap();
    let values = &saved["mirror"]["sla"]["values"];
    assert_eq!(
        values[1]["ongoingCycle"]["elapsedTime"]["millis"].as_i64(),
        Some(elapsed_before + 3_600_000)
    );
    let after = mirror.tables();
    assert_clock_moved(&after, clock, (elapsed_before, column_before), 3_600_000);
    assert_eq!(
        issue_row(&after, resolved)["status_category"],
        "\"Done\"",
        "resolved upstream, healed"
    );
    assert!(
        mirror.issue(resolved).unwrap()["fields"]["resolution"].is_object(),
        "the whole issue was fetched again"
    );
    assert_eq!(
        mirror.issue(edited).unwrap()["fields"]["summary"],
        sim.issue(edited).unwrap()["fields"]["summary"]
    );
    assert!(mirror.issue(deleted).is_none());
    for table in after.keys() {
        assert!(
            !row_keys(&after, table).contains(deleted),
            "{table} keeps {deleted}"
        );
    }
    // The legacy rows were classified from their saved JSON.
    let category = |key: &str| {
        query_strings(
            &mirror,
            &format!(
                "SELECT coalesce(status_category, 'NULL') FROM issues WHERE issue_key = '{key}'"
            ),
        )
    };
    assert_ne!(category(legacy), ["NULL"]);
    assert_ne!(category(legacy), ["done"]);
    assert_eq!(category(&done[0]), ["done"]);

    // A second poll finds nothing new: the resolved and deleted issues are no longer polled.
    let out = mirror.run_ok(&["poll-sla"]).await;
    let polled = open.len() - 2;
    assert_says(
        &out,
        format!("0 updated, 0 healed, {polled} skipped, 0 failed"),
    );

    // Jira down: every issue fails, is recorded, and the exit status says so.
    sim.set_faults(Faults {
        outage: true,
        ..Faults::default()
    });
    let out = mirror.run(&["poll-sla"]).await;
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert_says(
        &out,
        format!("0 updated, 0 healed, 0 skipped, {polled} failed"),
    );
    assert_eq!(last_run(&mirror, "poll-sla"), "partial");
    assert_eq!(
        query_strings(&mirror, "SELECT issue_key FROM failures").len(),
        polled
    );
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reconcile_removes_deleted_follows_moved_and_keeps_issues_search_lags_on() {
    let sim = simulator_with(site(30, &["SUP", "OPS"])).await;
    let mirror = Mirror::new(&sim);
    let config = std::fs::read_to_string(&mirror.config_path).unwrap();
    std::fs::write(
        &mirror.config_path,
        config.replace("jql = \"project = SUP\"", "jql = \"project in (SUP, OPS)\""),
    )
    .unwrap();
    mirror.run_ok(&["backfill"]).await;
    assert_eq!(mirror.saved_keys().len(), 30);
    // SUP-1 carries the hostile attachments.
    let attachments = |key: &str| mirror.data().join("raw/attachments").join(key);
    assert!(attachments("SUP-1").is_dir());

    sim.delete_issue("SUP-1");
    let moved = sim.move_issue("SUP-2", "OPS");
    let gone = sim.move_issue("SUP-3", "ELSE");
    assert!(sim.set_searchable("SUP-4", false));
    sim.clear_requests();

    let out = mirror.run_ok(&["reconcile"]).await;
    assert_says(
        &out,
        "reconcile: 27 in census, 30 local, 4 missing: 1 deleted, 1 moved, 1 left scope, 1 present, 0 failed",
    );
    assert_eq!(last_run(&mirror, "reconcile"), "ok");
    let (confirmations, census): (Vec<_>, Vec<_>) = sim
        .requests()
        .into_iter()
        .filter(|r| r.path == "/rest/api/3/search/jql")
        .partition(|r| r.body.contains("reconcileIssues"));
    assert_eq!(census.len(), 1);
    // Only SUP-4 (same key, not in the census) needed Jira's word on the scope: SUP-2 is in
    // the census under its new key, and project ELSE is outside `project in (SUP, OPS)`.
    assert_eq!(confirmations.len(), 1);
    let body: serde_json::Value = serde_json::from_str(&census[0].body).unwrap();
    assert_eq!(body["fields"], serde_json::json!(["id"]));
    assert_eq!(body["maxResults"], 5000);

    let saved = mirror.saved_keys();
    for key in ["SUP-1", "SUP-2", "SUP-3", gone.as_str()] {
        assert!(!saved.contains(&key.to_string()), "{key} still saved");
        assert!(!attachments(key).exists(), "{key} keeps attachments");
    }
    assert!(saved.contains(&moved) && saved.contains(&"SUP-4".to_string()));
    assert_eq!(saved.len(), 28);
    assert_eq!(mirror.state_keys(), saved);
    let tables = mirror.tables();
    for table in tables.keys() {
        let keys = row_keys(&tables, table);
        for key in ["SUP-1", "SUP-2", "SUP-3"] {
            assert!(!keys.contains(&key.to_string()), "{table} keeps {key}");
        }
    }
    let issues = row_keys(&tables, "issues");
    assert!(issues.contains(&moved) && issues.contains(&"SUP-4".to_string()));
    assert_eq!(issues.len(), 28);
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_census_that_fails_part_way_deletes_nothing() {
    let sim = simulator_with(site(30, &["SUP"])).await;
    let mirror = Mirror::with(&sim, impatient());
    mirror.run_ok(&["backfill"]).await;
    sim.delete_issue("SUP-5");
    let files = mirror.snapshot(&sim.base_url());
    let tables = mirror.tables();

    // Short pages (fewer than asked), and every page after the first breaks.
    sim.set_faults(Faults {
        search_page_cap: Some(10),
        broken_search_tokens: true,
        ..Faults::default()
    });
    sim.clear_requests();
    let out = mirror.run(&["reconcile"]).await;
    assert_eq!(out.status.code(), Some(1), "{}", stdout(&out));
    assert!(
        stderr(&out).contains("nothing was deleted"),
        "{}",
        stderr(&out)
    );
    assert!(
        sim.requests()
            .iter()
            .all(|r| r.path == "/rest/api/3/search/jql"),
        "no issue is checked on a partial census"
    );
    assert!(last_run(&mirror, "reconcile").starts_with("error"));
    assert_eq!(mirror.snapshot(&sim.base_url()), files);
    assert_eq!(mirror.tables(), tables);
    assert_eq!(mirror.state_keys().len(), 30);

    // With every page answering, the short pages are followed to the end.
    sim.set_faults(Faults {
        search_page_cap: Some(10),
        ..Faults::default()
    });
    sim.clear_requests();
    let out = mirror.run_ok(&["reconcile"]).await;
    assert_says(&out, "29 in census, 30 local, 1 missing: 1 deleted");
    let pages = sim
        .requests()
        .iter()
        .filter(|r| r.path == "/rest/api/3/search/jql")
        .count();
    assert_eq!(pages, 3);
    assert!(mirror.issue("SUP-5").is_none());
    assert_eq!(mirror.state_keys().len(), 29);
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn maintenance_commands_stop_with_status_2_on_a_wrong_token() {
    let sim = simulator_with(site(5, &["SUP"])).await;
    let secret = "wrong-maintenance-token-0815";
    let mirror = Mirror::with(
        &sim,
        MirrorOptions {
            token: Some(secret.into()),
            ..MirrorOptions::default()
        },
    );
    for command in ["poll-sla", "reconcile"] {
        let out = mirror.run(&[command]).await;
        assert_eq!(out.status.code(), Some(2), "{command}: {}", stderr(&out));
        assert!(stderr(&out).contains("refused the credentials"));
        assert!(!stderr(&out).contains(secret) && !stdout(&out).contains(secret));
    }
    sim.shutdown().await;
}

/// Keys of open issues the state says have SLA data.
fn open_with_sla(mirror: &Mirror) -> Vec<String> {
    query_strings(
        mirror,
        "SELECT issue_key FROM issues WHERE status_category <> 'done' AND has_sla ORDER BY issue_key",
    )
}

fn no_jsm_account() -> MirrorOptions {
    MirrorOptions {
        sla: false,
        ..impatient()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_jsm_account_poll_sla_refreshes_the_sla_custom_fields() {
    let sim = simulator_with(site(20, &["SUP"])).await;
    let mirror = Mirror::with(&sim, no_jsm_account());
    mirror.run_ok(&["backfill"]).await;
    // The SLA custom fields alone make an issue one to poll.
    let open = open_with_sla(&mirror);
    assert!(open.len() >= 4, "open service requests: {open:?}");
    let (clock, resolved, legacy) = (&open[0], &open[1], &open[2]);
    assert!(mirror.issue(clock).unwrap()["mirror"]["sla"].is_null());
    let before = mirror.tables();
    let elapsed_before = ongoing_resolution_elapsed(&before, clock);
    let column_before = int_cell(&issue_row(&before, clock)["time_to_resolution_elapsed_millis"]);

    // A mirror from before schema 9 recorded open issues without a JSM overlay as having no
    // SLA data; the migration has them classified again.
    {
        let db = state_db(&mirror);
        db.execute(
            "UPDATE issues SET has_sla = 0 WHERE issue_key = ?1",
            [legacy],
        )
        .unwrap();
        db.pragma_update(None, "user_version", 8).unwrap();
    }
    assert!(sim.advance_sla(clock, 3_600_000));
    assert!(sim.advance_sla(legacy, 60_000));
    assert!(sim.resolve_issue(resolved) > 0);
    sim.clear_requests();
    let out = mirror.run_ok(&["poll-sla"]).await;
    let skipped = open.len() - 3;
    assert_says(
        &out,
        format!("poll-sla: 2 updated, 1 healed, {skipped} skipped, 0 failed"),
    );
    assert!(
        sim.requests()
            .iter()
            .all(|r| !r.path.starts_with("/rest/servicedeskapi/")),
        "the main account alone"
    );
    let saved = mirror.issue(clock).unwrap();
    assert!(saved["mirror"]["sla"].is_null(), "no JSM overlay appears");
    let after = mirror.tables();
    assert_clock_moved(&after, clock, (elapsed_before, column_before), 3_600_000);
    assert_eq!(issue_row(&after, resolved)["status_category"], "\"Done\"");
    assert_eq!(open_with_sla(&mirror).len(), open.len() - 1);
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn poll_sla_all_fills_jsm_figures_of_every_issue_after_the_account_is_added() {
    let sim = simulator_with(site(16, &["SUP"])).await;
    let with_jsm = Mirror::with(&sim, impatient());
    let config = std::fs::read_to_string(&with_jsm.config_path).unwrap();
    let (head, rest) = config
        .split_once("[jira_sla]")
        .expect("a [jira_sla] section");
    let (_, tail) = rest.split_once("\n\n").expect("the section ends");
    std::fs::write(&with_jsm.config_path, format!("{head}{tail}")).unwrap();
    with_jsm.run_ok(&["backfill"]).await;
    let keys = with_jsm.saved_keys();
    let requests = |mirror: &Mirror| {
        keys.iter()
            .filter(|k| mirror.issue(k).unwrap()["mirror"]["sla"]["source"] == "jsm")
            .count()
    };
    assert_eq!(requests(&with_jsm), 0, "no JSM account yet");
    let done = query_strings(
        &with_jsm,
        "SELECT issue_key FROM issues WHERE status_category = 'done' ORDER BY issue_key",
    );
    let customer_requests = keys
        .iter()
        .filter(|k| {
            let n: usize = k.trim_start_matches("SUP-").parse().unwrap();
            !n.is_multiple_of(7)
        })
        .count();
    assert!(!done.is_empty());

    // The account is added: the plain poll looks at open issues only, `--all` at every one.
    std::fs::write(&with_jsm.config_path, &config).unwrap();
    let raw_before: Vec<_> = keys
        .iter()
        .map(|k| with_jsm.issue(k).unwrap().to_string())
        .collect();
    let runs_before = query_strings(&with_jsm, "SELECT command FROM runs");
    let out = with_jsm.run_ok(&["poll-sla", "--all", "--dry-run"]).await;
    assert_says(
        &out,
        format!(
            "poll-sla --dry-run: {customer_requests} would be updated, 0 would be healed, {} skipped, 0 failed; nothing written",
            keys.len() - customer_requests
        ),
    );
    let raw_after: Vec<_> = keys
        .iter()
        .map(|k| with_jsm.issue(k).unwrap().to_string())
        .collect();
    assert_eq!(raw_before, raw_after, "a dry run writes no issue");
    assert_eq!(
        query_strings(&with_jsm, "SELECT command FROM runs"),
        runs_before,
        "a dry run is not a run of poll-sla"
    );

    let out = with_jsm
        .run_ok(&["poll-sla", "--all", "--parallel", "2"])
        .await;
    assert_says(
        &out,
        format!("poll-sla: {customer_requests} updated, 0 healed"),
    );
    assert_eq!(requests(&with_jsm), customer_requests);
    let closed = done
        .iter()
        .find(|k| with_jsm.issue(k).unwrap()["mirror"]["sla"]["source"] == "jsm")
        .expect("a closed customer request got its JSM figures");
    let tables = with_jsm.tables();
    assert!(
        tables["sla"]
            .iter()
            .any(|r| r["issue_key"] == format!("\"{closed}\"")),
        "its SLA rows"
    );
    // Nothing left to fill.
    let out = with_jsm.run_ok(&["poll-sla", "--all"]).await;
    assert_says(&out, "poll-sla: 0 updated, 0 healed");
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reconcile_dry_run_says_what_it_would_remove_and_removes_nothing() {
    let sim = simulator_with(site(12, &["SUP", "OPS"])).await;
    let mirror = Mirror::with(
        &sim,
        MirrorOptions {
            jql: Some("project in (SUP, OPS)".into()),
            ..MirrorOptions::default()
        },
    );
    mirror.run_ok(&["backfill"]).await;
    let keys = mirror.saved_keys();
    let tables_before = mirror.tables();
    sim.delete_issue("SUP-4");
    let moved = sim.move_issue("SUP-2", "OPS");
    let gone = sim.move_issue("SUP-3", "ELSE");
    assert_ne!(moved, gone);
    let runs_before = query_strings(&mirror, "SELECT command FROM runs");

    let out = mirror.run_ok(&["reconcile", "--dry-run"]).await;
    assert_says(
        &out,
        "reconcile --dry-run: 10 in census, 12 local, 3 missing: 1 would be deleted, \
         1 would be moved, 1 would leave scope, 0 present, 0 failed; nothing written",
    );
    assert_eq!(
        mirror.saved_keys(),
        keys,
        "every saved issue is still there"
    );
    assert!(mirror.issue(&moved).is_none(), "nor was the move followed");
    assert_eq!(mirror.tables(), tables_before);
    assert_eq!(
        query_strings(&mirror, "SELECT command FROM runs"),
        runs_before
    );

    // The real run does what the dry run said.
    let out = mirror.run_ok(&["reconcile"]).await;
    assert_says(
        &out,
        "3 missing: 1 deleted, 1 moved, 1 left scope, 0 present",
    );
    sim.shutdown().await;
}
