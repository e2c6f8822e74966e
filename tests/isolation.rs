//! Failure isolation: one bad issue, part or file fails alone, says why, and never stops the
//! rest of the mirror (see "Failure isolation" in docs/ARCHITECTURE.md).

use std::time::Duration;

use jira_mirror::simulator::{Faults, Part, Poison, PoisonKind, SimConfig, Simulator};

use crate::support::daemon::{Daemon, wait_saved};
use crate::support::*;

/// `status --json` (works while `run` runs), or `null` if it fails.
fn status_json(mirror: &Mirror) -> serde_json::Value {
    let out = mirror
        .command(&["status", "--json"])
        .output()
        .expect("status");
    serde_json::from_slice(&out.stdout).unwrap_or_default()
}

/// The `updated_at` cell of `key` in the issues table, if it has a row.
fn row_updated(mirror: &Mirror, key: &str) -> Option<String> {
    let quoted = format!("\"{key}\"");
    mirror.tables()["issues"]
        .iter()
        .find(|r| r["issue_key"] == quoted)
        .map(|r| r["updated_at"].clone())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_table_writer_is_retried_and_shown_while_run_keeps_saving() {
    let sim = simulator(12).await;
    // poll-sla ends by writing its rows too: when that fails, it must not stop `run`.
    let mirror = Mirror::with(
        &sim,
        MirrorOptions {
            sweep_schedule: Some("*/2 * * * * *".into()),
            extra: "\n[sla_poll]\nschedule = \"*/3 * * * * *\"\n".into(),
            ..Default::default()
        },
    );
    let mut daemon = Daemon::start(&mirror);
    let all = sim.issue_keys().len();
    assert!(
        wait_for(Duration::from_secs(60), || {
            mirror.saved_keys().len() == all && status_json(&mirror)["pending_table_rows"] == 0
        })
        .await,
        "catch-up\n{}",
        daemon.log()
    );
    let key = sim.issue_keys()[3].clone();
    let before = row_updated(&mirror, &key).expect("row before");
    // The issues table's folder becomes a file: no month of it can be written.
    let issues_dir = mirror.data().join("parquet/issues");
    let aside = mirror.data().join("parquet/issues.aside");
    std::fs::rename(&issues_dir, &aside).unwrap();
    std::fs::write(&issues_dir, b"not a folder").unwrap();

    sim.touch(&key);
    assert!(
        wait_saved(&sim, &mirror, &key, Duration::from_secs(30)).await,
        "workers keep saving raw JSON\n{}",
        daemon.log()
    );
    assert!(
        wait_for(Duration::from_secs(30), || {
            !status_json(&mirror)["table_writer"].is_null()
        })
        .await,
        "status shows the table writer failing\n{}",
        daemon.log()
    );
    let v = status_json(&mirror);
    assert!(v["pending_table_rows"].as_u64().unwrap() >= 1);
    let text = stdout(&mirror.run_ok(&["status"]).await);
    assert!(text.contains("table writer: failing since"), "{text}");
    // Retries follow (1 s, 2 s, 4 s, …) without a new change; the log says so at the first
    // and then at every doubling of the count, not at every attempt; still running.
    assert!(
        wait_for(Duration::from_secs(30), || {
            status_json(&mirror)["table_writer"]["attempts"]
                .as_u64()
                .is_some_and(|n| n >= 5)
        })
        .await,
        "{}",
        daemon.log()
    );
    assert!(daemon.is_running(), "{}", daemon.log());
    let lines = daemon.log().matches("Tables could not be written").count();
    assert!((2..=3).contains(&lines), "{lines}\n{}", daemon.log());

    // Repaired: the next retry writes the pending rows and clears the problem.
    std::fs::remove_file(&issues_dir).unwrap();
    std::fs::rename(&aside, &issues_dir).unwrap();
    assert!(
        wait_for(Duration::from_secs(45), || {
            let v = status_json(&mirror);
            v["table_writer"].is_null() && v["pending_table_rows"] == 0
        })
        .await,
        "the writer recovers\n{}",
        daemon.log()
    );
    assert!(daemon.log().contains("Tables are written again."));
    assert_ne!(row_updated(&mirror, &key).expect("row after"), before);
    let status = daemon.terminate().await;
    assert!(status.success(), "{status:?}");
    sim.shutdown().await;
}

/// A simulator of `issues` issues (no hostile attachments on the first one, so every
/// attachment problem is the poison's) with `poison`.
async fn poisoned(issues: usize, poison: Vec<Poison>) -> Simulator {
    simulator_with(SimConfig {
        issues,
        hostile_attachments: false,
        poison,
        ..SimConfig::default()
    })
    .await
}

fn poison(issue: usize, kind: PoisonKind) -> Poison {
    Poison { issue, kind }
}

/// A mirror whose `[run] max_attempts` is `n`.
fn mirror_parking_after(sim: &Simulator, n: u32) -> Mirror {
    Mirror::with(
        sim,
        MirrorOptions {
            extra: format!("\n[run]\nmax_attempts = {n}\n"),
            ..Default::default()
        },
    )
}

/// The failure record of `key` in `status --json`.
fn failure_of(mirror: &Mirror, key: &str) -> Option<serde_json::Value> {
    status_json(mirror)["failures"]
        .as_array()?
        .iter()
        .find(|f| f["issue_key"] == key)
        .cloned()
}

/// Rows of `table` belonging to `key`.
fn rows_of(
    mirror: &Mirror,
    table: &str,
    key: &str,
) -> Vec<std::collections::BTreeMap<String, String>> {
    let quoted = format!("\"{key}\"");
    mirror.tables()[table]
        .iter()
        .filter(|r| r["issue_key"] == quoted)
        .cloned()
        .collect()
}

/// Issue keys with a row in the issues table.
fn keys_in_tables(mirror: &Mirror) -> Vec<String> {
    let mut keys: Vec<String> = mirror.tables()["issues"]
        .iter()
        .map(|r| serde_json::from_str::<String>(&r["issue_key"]).unwrap())
        .collect();
    keys.sort();
    keys
}

fn sorted(mut keys: Vec<String>) -> Vec<String> {
    keys.sort();
    keys
}

/// Requests for attachment content of issue `key` (its attachment ids from the simulator).
fn attachment_requests(sim: &Simulator, ids: &[String]) -> usize {
    sim.requests()
        .iter()
        .filter(|r| {
            r.host == "api"
                && ids
                    .iter()
                    .any(|id| r.path == format!("/rest/api/3/attachment/content/{id}"))
        })
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_forbidden_attachment_fails_that_item_only_and_parks_after_max_attempts() {
    let sim = poisoned(20, vec![poison(2, PoisonKind::ForbiddenAttachment)]).await;
    let key = sim.issue_keys()[2].clone();
    let ids: Vec<String> = sim.issue(&key).unwrap()["fields"]["attachment"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["id"].as_str().unwrap().to_string())
        .collect();
    let mirror = mirror_parking_after(&sim, 3);

    // backfill: every issue saved, the refused one without its attachment; exit 1.
    let out = mirror.run(&["backfill"]).await;
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.lines().any(|l| l.contains(&key)
            && l.contains("/rest/api/3/attachment/content/")
            && l.contains("403")),
        "a line names the key and the URL:\n{err}"
    );
    assert!(stdout(&out).contains("1 incomplete"), "{}", stdout(&out));
    assert_eq!(mirror.saved_keys(), sorted(sim.issue_keys()));
    assert_eq!(keys_in_tables(&mirror), sorted(sim.issue_keys()));
    let saved = mirror.issue(&key).unwrap();
    let refused: Vec<&serde_json::Value> = saved["mirror"]["attachments"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["status"] == "forbidden")
        .collect();
    assert_eq!(refused.len(), 1, "{}", saved["mirror"]);
    assert!(refused[0]["error"].as_str().unwrap().contains("403"));
    assert!(refused[0].get("local_path").is_none_or(|p| p.is_null()));
    assert_eq!(saved["mirror"]["incomplete"].as_array().unwrap().len(), 1);
    let rows = rows_of(&mirror, "attachments", &key);
    let row = rows
        .iter()
        .find(|r| r["status"] == "\"forbidden\"")
        .expect("the refused attachment keeps its row");
    assert_eq!(row["local_path"], "null");
    let f = failure_of(&mirror, &key).expect("recorded against its key");
    assert_eq!(f["attempts"], 1);
    assert!(f["last_error"].as_str().unwrap().contains("403"), "{f}");
    assert!(f["parked_ms"].is_null());

    // Each sweep fetches it again (counted); the third counted failure parks it.
    for attempt in 2..=3 {
        let out = mirror.run(&["sweep"]).await;
        assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
        let f = failure_of(&mirror, &key).unwrap();
        assert_eq!(f["attempts"], attempt, "{f}");
        assert_eq!(f["parked_ms"].is_null(), attempt < 3, "{f}");
    }
    let status = stdout(&mirror.run_ok(&["status"]).await);
    assert!(
        status.contains(&format!("{key} parked (3 attempts")),
        "{status}"
    );
    // A later sweep retries the parked key once; the ones after leave it alone.
    sim.clear_requests();
    mirror.run(&["sweep"]).await;
    assert_eq!(attachment_requests(&sim, &ids), 1);
    sim.clear_requests();
    let out = mirror.run(&["sweep"]).await;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(attachment_requests(&sim, &ids), 0);
    assert!(failure_of(&mirror, &key).unwrap()["parked_ms"].is_i64());
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_credentials_on_an_item_request_are_still_fatal() {
    let sim = poisoned(5, vec![]).await;
    let mirror = Mirror::new(&sim);
    mirror.run_ok(&["backfill"]).await; // the field catalogue is cached from here on
    sim.clear_requests();
    let key = sim.issue_keys()[1].clone();
    let out = mirror
        .command(&["fetch", &key])
        .env("TEST_JIRA_TOKEN", "wrong-token")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let requests = sim.requests();
    assert_eq!(
        requests
            .iter()
            .map(|r| (r.path.as_str(), r.status))
            .collect::<Vec<_>>(),
        [
            (format!("/rest/api/3/issue/{key}").as_str(), 401),
            ("/rest/api/3/myself", 401)
        ]
    );
    let err = stderr(&out);
    assert!(err.contains("refused the credentials"), "{err}");
    assert!(!err.contains("wrong-token"));
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_parts_leave_the_rest_of_each_issue_and_a_refused_issue_fails_alone() {
    let sim = poisoned(
        12,
        vec![
            poison(
                1,
                PoisonKind::Forbidden {
                    part: Part::RemoteLinks,
                },
            ),
            poison(
                3,
                PoisonKind::Forbidden {
                    part: Part::Comments,
                },
            ),
            poison(
                4,
                PoisonKind::Forbidden {
                    part: Part::Changelog,
                },
            ),
            poison(6, PoisonKind::Forbidden { part: Part::Issue }),
            poison(8, PoisonKind::Forbidden { part: Part::Sla }),
            poison(
                10,
                PoisonKind::Forbidden {
                    part: Part::Worklogs,
                },
            ),
        ],
    )
    .await;
    let keys = sim.issue_keys();
    let mirror = Mirror::new(&sim);
    let out = mirror.run(&["backfill"]).await;
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    // A JSM refusal is said, not turned into silently empty SLA figures.
    assert!(
        stderr(&out)
            .lines()
            .any(|l| l.contains(&keys[8]) && l.contains("SLA") && l.contains("403")),
        "{}",
        stderr(&out)
    );
    // Search lists every issue with its fields, so even the one GET refuses is saved.
    assert_eq!(mirror.saved_keys(), sorted(keys.clone()));
    assert_eq!(keys_in_tables(&mirror), sorted(keys.clone()));
    let parts = |key: &str| -> Vec<String> {
        mirror.issue(key).unwrap()["mirror"]["incomplete"]
            .as_array()
            .map(|a| {
                a.iter()
                    .map(|p| p["part"].as_str().unwrap().to_string())
                    .collect()
            })
            .unwrap_or_default()
    };
    assert_eq!(parts(&keys[1]), ["remote links"]);
    assert!(mirror.issue(&keys[1]).unwrap()["mirror"]["remote_links"].is_null());
    assert_eq!(parts(&keys[3]), ["comments"]);
    assert_eq!(parts(&keys[4]), ["changelog"]);
    assert_eq!(parts(&keys[8]), ["SLA"]);
    // The 20 worklogs Jira embeds are kept when the rest are refused.
    assert_eq!(parts(&keys[10]), ["worklogs"]);
    assert_eq!(rows_of(&mirror, "worklogs", &keys[10]).len(), 20);
    // The SLA custom fields the main account reads still give the SLA columns.
    let sla_rows = rows_of(&mirror, "sla", &keys[8]);
    assert!(!sla_rows.is_empty());
    // What was embedded is kept: the newest 100 histories, the embedded comments.
    let saved = mirror.issue(&keys[4]).unwrap();
    assert!(
        !saved["changelog"]["histories"]
            .as_array()
            .unwrap()
            .is_empty()
    );
    assert!(!rows_of(&mirror, "changelog", &keys[4]).is_empty());
    assert!(!rows_of(&mirror, "comments", &keys[3]).is_empty());
    for k in [&keys[0], &keys[2], &keys[5], &keys[6]] {
        assert!(parts(k).is_empty(), "{k}");
    }

    // `fetch` goes through GET /issue: the refused issue fails alone.
    let out = mirror.run(&["fetch", &keys[6], &keys[7]]).await;
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(stdout(&out).contains("1 saved"), "{}", stdout(&out));
    let f = failure_of(&mirror, &keys[6]).expect("recorded");
    assert!(
        f["last_error"].as_str().unwrap().contains("HTTP 403"),
        "{f}"
    );
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreadable_issue_in_a_search_page_fails_alone_and_is_not_retried_as_an_outage() {
    let sim = poisoned(30, vec![poison(16, PoisonKind::LoneSurrogate)]).await;
    sim.set_faults(Faults {
        search_page_cap: Some(12),
        ..Faults::default()
    });
    let keys = sim.issue_keys();
    let bad = keys[16].clone();
    // Updated long ago: the sweep below meets it only through its failure record.
    sim.set_updated(&bad, chrono::Utc::now().timestamp_millis() - 86_400_000);
    let mirror = Mirror::new(&sim);
    let out = mirror.run(&["backfill"]).await;
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let others: Vec<String> = keys.iter().filter(|k| **k != bad).cloned().collect();
    assert_eq!(mirror.saved_keys(), sorted(others.clone()));
    assert_eq!(keys_in_tables(&mirror), sorted(others));
    assert!(stderr(&out).contains("splitting it"), "{}", stderr(&out));
    let f = failure_of(&mirror, &bad).expect("recorded against its key");
    assert!(
        f["last_error"]
            .as_str()
            .unwrap()
            .contains("unreadable JSON"),
        "{f}"
    );
    // Deterministic: a run tries the bad issue once (two attempts at the body), counted.
    let attempts = failure_of(&mirror, &bad).unwrap()["attempts"]
        .as_i64()
        .unwrap();
    sim.clear_requests();
    let out = mirror.run(&["sweep"]).await;
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let gets = per_issue_requests(&sim.requests(), &bad).len();
    assert_eq!(gets, 2, "{:?}", per_issue_requests(&sim.requests(), &bad));
    assert_eq!(
        failure_of(&mirror, &bad).unwrap()["attempts"].as_i64(),
        Some(attempts + 1)
    );
    // The watermark moved: the next sweep lists only what changed since.
    assert!(status_json(&mirror)["watermark_ms"].is_i64());
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_200_digit_attachment_id_is_recorded_never_used_as_a_path() {
    let sim = poisoned(
        6,
        vec![poison(1, PoisonKind::LongAttachmentId { len: 200 })],
    )
    .await;
    let key = sim.issue_keys()[1].clone();
    let mirror = Mirror::new(&sim);
    let mut cmd = mirror.command(&["backfill"]);
    let out = tokio::time::timeout(
        Duration::from_secs(60),
        tokio::task::spawn_blocking(move || cmd.output().unwrap()),
    )
    .await
    .expect("backfill ends (no endless loop on a long id)")
    .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert_eq!(mirror.saved_keys(), sorted(sim.issue_keys()));
    let saved = mirror.issue(&key).unwrap();
    let entry = saved["mirror"]["attachments"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["status"] == "invalid_id")
        .expect("an invalid_id entry")
        .clone();
    assert_eq!(entry["id"].as_str().unwrap().len(), 200);
    assert!(
        sim.requests()
            .iter()
            .all(|r| !r.path.contains(entry["id"].as_str().unwrap())),
        "the id is never requested"
    );
    let files: Vec<String> = std::fs::read_dir(mirror.data().join("raw/attachments").join(&key))
        .map(|d| {
            d.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    assert!(files.iter().all(|f| f.len() <= 180), "{files:?}");
    let row = rows_of(&mirror, "attachments", &key)
        .into_iter()
        .find(|r| r["status"] == "\"invalid_id\"")
        .expect("its row");
    assert_eq!(
        (row["attachment_id"].as_str(), row["local_path"].as_str()),
        ("null", "null")
    );
    sim.shutdown().await;
}

/// `YYYY-MM` (UTC) of the issue's `created`, its month file's name.
fn month_of(sim: &Simulator, key: &str) -> String {
    let issue = jira_mirror::json::DeepValue::new(sim.issue(key).unwrap());
    let created = issue["fields"]["created"].as_str().unwrap().to_string();
    chrono::DateTime::parse_from_str(&created, "%Y-%m-%dT%H:%M:%S%.3f%z")
        .unwrap()
        .with_timezone(&chrono::Utc)
        .format("%Y-%m")
        .to_string()
}

/// Cuts a month file to half its size (a copy tool or a full disk did it).
fn truncate_month(mirror: &Mirror, table: &str, month: &str) {
    let path = mirror
        .data()
        .join(format!("parquet/{table}/{month}.parquet"));
    let len = std::fs::metadata(&path).unwrap().len();
    std::fs::OpenOptions::new()
        .write(true)
        .open(&path)
        .unwrap()
        .set_len(len / 2)
        .unwrap();
}

/// The acceptance of "one bad issue, attachment or file never stops the mirror": a site
/// holding a 5,000-deep description, a 403 attachment, a 200-digit attachment id, an issue
/// whose JSON cannot be read and one Jira refuses, plus truncated month files: `backfill`,
/// `sweep` and five minutes of `run` mirror every other issue, `run` never exits by itself,
/// `status` names each poison with its reason, and `transform --rebuild` and `status` work.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn poison_of_every_kind_never_stops_backfill_sweep_or_five_minutes_of_run() {
    let sim = poisoned(
        40,
        vec![
            poison(3, PoisonKind::DeepDescription { depth: 5000 }),
            poison(5, PoisonKind::ForbiddenAttachment),
            poison(8, PoisonKind::LongAttachmentId { len: 200 }),
            poison(11, PoisonKind::LoneSurrogate),
            poison(13, PoisonKind::Forbidden { part: Part::Issue }),
        ],
    )
    .await;
    let keys = sim.issue_keys();
    let (deep, refused_file, long_id, unreadable, refused_issue) = (
        keys[3].clone(),
        keys[5].clone(),
        keys[8].clone(),
        keys[11].clone(),
        keys[13].clone(),
    );
    let mirrorable: Vec<String> = keys.iter().filter(|k| **k != unreadable).cloned().collect();
    let mirror = Mirror::with(
        &sim,
        MirrorOptions {
            sweep_schedule: Some("*/5 * * * * *".into()),
            extra: "\n[run]\nmax_attempts = 3\n".into(),
            ..Default::default()
        },
    );

    let out = mirror.run(&["backfill"]).await;
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert_eq!(mirror.saved_keys(), sorted(mirrorable.clone()));
    assert_eq!(keys_in_tables(&mirror), sorted(mirrorable.clone()));
    let bottom = jira_mirror::simulator::deep_bottom_text(&deep);
    let description = rows_of(&mirror, "issues", &deep)[0]["description"].clone();
    assert!(description.contains(&bottom), "{description}");

    // A truncated month file: status reports it, the next sweep heals it.
    truncate_month(&mirror, "issues", &month_of(&sim, &refused_file));
    let out = mirror.run_ok(&["status"]).await;
    assert!(
        stdout(&out).contains(&month_of(&sim, &refused_file)),
        "{}",
        stdout(&out)
    );
    assert!(
        !status_json(&mirror)["table_problems"]
            .as_array()
            .unwrap()
            .is_empty()
    );
    sim.touch(&keys[0]);
    let out = mirror.run(&["sweep"]).await;
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert_eq!(keys_in_tables(&mirror), sorted(mirrorable.clone()));

    // Five minutes of `run`, with another month file truncated and changes coming in.
    truncate_month(&mirror, "changelog", &month_of(&sim, &deep));
    let mut daemon = Daemon::start(&mirror);
    let started = std::time::Instant::now();
    let mut touched = 0;
    while started.elapsed() < Duration::from_secs(300) {
        assert!(
            daemon.is_running(),
            "run exited by itself\n{}",
            daemon.log()
        );
        let due = (started.elapsed().as_secs() / 60) as usize;
        if touched <= due && touched < 4 {
            for key in [&keys[touched + 20], &deep, &refused_issue] {
                sim.touch(key);
            }
            assert!(
                wait_saved(&sim, &mirror, &keys[touched + 20], Duration::from_secs(30)).await,
                "a change reaches the mirror\n{}",
                daemon.log()
            );
            assert!(
                wait_saved(&sim, &mirror, &deep, Duration::from_secs(30)).await,
                "the deep issue is mirrored like any other\n{}",
                daemon.log()
            );
            touched += 1;
        }
        tokio::time::sleep(Duration::from_secs(2)).await;
    }
    assert!(daemon.is_running(), "{}", daemon.log());
    let log = daemon.log();
    let status = daemon.terminate().await;
    assert!(status.success(), "{status:?}\n{log}");

    // Every poison is listed with its reason; every other issue is mirrored.
    let v = status_json(&mirror);
    let reason = |key: &str| -> String {
        v["failures"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["issue_key"] == key)
            .map(|f| f["last_error"].as_str().unwrap().to_string())
            .unwrap_or_else(|| panic!("{key} is listed by status: {v}"))
    };
    assert!(reason(&unreadable).contains("unreadable JSON"));
    assert!(reason(&refused_file).contains("403"));
    assert!(reason(&long_id).contains("not a number"));
    assert!(reason(&refused_issue).contains("HTTP 403"));
    assert!(
        v["parked"].as_array().unwrap().len() >= 3,
        "repeated failures are parked: {v}"
    );
    assert_eq!(v["queue"]["depth"], 0, "{v}");
    assert_eq!(mirror.saved_keys(), sorted(mirrorable.clone()));
    assert_eq!(keys_in_tables(&mirror), sorted(mirrorable));
    let text = stdout(&mirror.run_ok(&["status"]).await);
    assert!(text.contains(&format!("{unreadable} parked")), "{text}");

    // The incremental tables equal a rebuild from raw JSON, and both commands work.
    let incremental = mirror.tables();
    mirror.run_ok(&["transform", "--rebuild"]).await;
    assert!(
        incremental == mirror.tables(),
        "incremental tables equal a rebuild"
    );
    mirror.run_ok(&["status"]).await;
    sim.shutdown().await;
}

/// For random sets of poisoned issues, every other issue ends in the raw store and the
/// tables, and only an issue whose JSON cannot be read is missing.
#[test]
fn every_other_issue_lands_whatever_the_poison() {
    use proptest::prelude::*;
    let kinds = prop_oneof![
        Just(PoisonKind::DeepDescription { depth: 300 }),
        Just(PoisonKind::ForbiddenAttachment),
        Just(PoisonKind::LongAttachmentId { len: 170 }),
        Just(PoisonKind::LoneSurrogate),
        Just(PoisonKind::Forbidden {
            part: Part::RemoteLinks
        }),
        Just(PoisonKind::Forbidden { part: Part::Issue }),
    ];
    let config = ProptestConfig {
        cases: 6,
        failure_persistence: None,
        ..ProptestConfig::default()
    };
    proptest!(config, |(poisons in proptest::collection::btree_map(0usize..16, kinds, 0..5))| {
        let runtime = tokio::runtime::Runtime::new().unwrap();
        runtime.block_on(async {
            let sim = poisoned(
                16,
                poisons.iter().map(|(&issue, kind)| poison(issue, kind.clone())).collect(),
            )
            .await;
            sim.set_faults(Faults { search_page_cap: Some(6), ..Faults::default() });
            let keys = sim.issue_keys();
            let mirror = Mirror::new(&sim);
            let out = mirror.run(&["backfill"]).await;
            let unreadable: Vec<&String> = poisons
                .iter()
                .filter(|(_, k)| **k == PoisonKind::LoneSurrogate)
                .map(|(&i, _)| &keys[i])
                .collect();
            let expected: Vec<String> =
                keys.iter().filter(|k| !unreadable.contains(k)).cloned().collect();
            let harmless = poisons
                .values()
                .all(|k| matches!(k, PoisonKind::DeepDescription { .. } | PoisonKind::Forbidden { part: Part::Issue }));
            assert_eq!(out.status.code(), Some(if harmless { 0 } else { 1 }), "{poisons:?}\n{}", stderr(&out));
            assert_eq!(mirror.saved_keys(), sorted(expected.clone()), "{poisons:?}");
            assert_eq!(keys_in_tables(&mirror), sorted(expected), "{poisons:?}");
            sim.shutdown().await;
        });
    });
}
