//! The command-line surface: exit codes, credentials, validation, status and demo.

use crate::support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_token_stops_with_one_clear_line_and_no_retry_storm() {
    let sim = simulator(5).await;
    let secret = "wrong-secret-token-4711";
    let mirror = Mirror::with(
        &sim,
        MirrorOptions {
            token: Some(secret.into()),
            ..Default::default()
        },
    );
    for command in [
        &["sweep"][..],
        &["backfill"],
        &["fetch", "SUP-1"],
        &["check"],
    ] {
        sim.clear_requests();
        let out = mirror.run(command).await;
        assert_eq!(out.status.code(), Some(2), "{command:?}");
        let err = stderr(&out);
        let error_lines: Vec<_> = err.lines().filter(|l| l.contains("error")).collect();
        assert_eq!(error_lines.len(), 1, "{command:?}: {err}");
        assert!(
            error_lines[0].contains("refused the credentials") && error_lines[0].contains("401"),
            "{err}"
        );
        assert!(!err.contains(secret) && !stdout(&out).contains(secret));
        assert!(
            sim.requests().len() <= 2,
            "{command:?}: {} requests",
            sim.requests().len()
        );
    }
    // The secret is in no file we wrote.
    for entry in walk(&mirror.data()) {
        let bytes = std::fs::read(&entry).unwrap();
        assert!(
            !bytes.windows(secret.len()).any(|w| w == secret.as_bytes()),
            "{}",
            entry.display()
        );
    }
    sim.shutdown().await;
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        if e.path().is_dir() {
            out.extend(walk(&e.path()));
        } else {
            out.push(e.path());
        }
    }
    out
}

#[test]
fn validate_lists_every_problem_and_exits_2() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.toml");
    std::fs::write(
        &path,
        "data_dir = 'd'\nbogus = 1\n[jira]\nbase_url = 'not a url'\nemail = 'a@b.c'\napi_token = '${NOPE_NOT_SET}'\njql = 'project = X'\n[sweep]\nschedule = 'every minute'\n",
    )
    .unwrap();
    let out = std::process::Command::new(bin())
        .arg("--config")
        .arg(&path)
        .arg("validate")
        .env_remove("NOPE_NOT_SET")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    for needle in ["bogus", "jira.base_url", "NOPE_NOT_SET", "sweep.schedule"] {
        assert!(err.contains(needle), "{needle} missing from:\n{err}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_reports_watermark_issues_and_runs_as_json() {
    let sim = simulator(8).await;
    let mirror = Mirror::new(&sim);
    mirror.run_ok(&["backfill"]).await;
    let out = mirror.run_ok(&["status", "--json"]).await;
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["format"], 1);
    assert_eq!(v["issues"], 8);
    assert!(v["watermark_ms"].as_i64().unwrap() > 1_600_000_000_000);
    // Triggers that are not configured are null.
    assert!(v["mail"].is_null() && v["webhook"].is_null(), "{v}");
    assert_eq!(v["runs"][0]["command"], "backfill");
    assert_eq!(v["runs"][0]["outcome"], "ok");
    assert!(v["failures"].as_array().unwrap().is_empty());
    let text = mirror.run_ok(&["status"]).await;
    assert!(stdout(&text).contains("watermark:"));
    sim.shutdown().await;
}

/// `jira-mirror demo <args> [--data-dir <data>]`, run to completion.
async fn demo(args: &[&str], data: Option<&std::path::Path>) -> std::process::Output {
    let mut cmd = std::process::Command::new(bin());
    cmd.arg("demo").args(args);
    if let Some(data) = data {
        cmd.arg("--data-dir").arg(data);
    }
    tokio::task::spawn_blocking(move || cmd.output().unwrap())
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn demo_mirrors_the_simulator() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("demo-data");
    let out = demo(&["--issues", "25"], Some(&data)).await;
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(text.contains("backfill: 25 saved"), "{text}");
    assert!(text.contains("sweep: 3 saved"), "{text}");
    // It ends with the analysts' view: issues per month and SLA breaches, also in report.txt.
    assert!(text.contains("Issues created per month"), "{text}");
    let report = std::fs::read_to_string(data.join("report.txt")).unwrap();
    assert!(
        report.lines().count() > 1 && report.contains("breached"),
        "{report}"
    );
    // Piped, the log has no colour escapes.
    let log = stderr(&out);
    assert!(log.contains("INFO"), "{log}");
    assert!(!log.contains('\u{1b}'), "{log}");
    assert_eq!(
        std::fs::read_dir(data.join("raw/issues")).unwrap().count(),
        26
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn demo_plays_data_center_too() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("demo-dc");
    let out = demo(
        &["--issues", "25", "--deployment", "data_center"],
        Some(&data),
    )
    .await;
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(text.contains("Jira Data Center 9.12 simulator"), "{text}");
    assert!(text.contains("backfill: 25 saved"), "{text}");
    assert!(text.contains("sweep: 3 saved"), "{text}");
    // The sweep's bound is a local minute, as Data Center reads it.
    assert!(
        stderr(&out).contains("AND updated >= \"20"),
        "{}",
        stderr(&out)
    );
    // Raw JSON keeps the wiki markup of API 2: descriptions are strings, never ADF.
    let mut wiki = 0;
    for entry in std::fs::read_dir(data.join("raw/issues")).unwrap() {
        let issue: serde_json::Value =
            serde_json::from_slice(&std::fs::read(entry.unwrap().path()).unwrap()).unwrap();
        let description = &issue["fields"]["description"];
        assert!(
            description.is_string() || description.is_null(),
            "{description}"
        );
        wiki += usize::from(description.is_string());
        assert!(issue["self"].as_str().unwrap().contains("/rest/api/2/"));
    }
    assert!(wiki > 10, "{wiki} wiki descriptions");

    let out = demo(&["--deployment", "server"], None).await;
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("use \"cloud\" or \"data_center\""),
        "{}",
        stderr(&out)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_reads_one_sla_and_names_what_a_refused_jsm_account_lacks() {
    let sim = simulator(3).await;
    let mirror = Mirror::new(&sim);
    let out = mirror.run_ok(&["check"]).await;
    assert!(
        stdout(&out).contains("jira_sla: ok, read 2 SLA(s) of SUP-1"),
        "{}",
        stdout(&out)
    );
    sim.shutdown().await;

    // The JSM account logs in but is no agent of the service desk: check fails and says why.
    let sim = simulator_with(jira_mirror::simulator::SimConfig {
        issues: 3,
        poison: vec![jira_mirror::simulator::Poison {
            issue: 0,
            kind: jira_mirror::simulator::PoisonKind::Forbidden {
                part: jira_mirror::simulator::Part::Sla,
            },
        }],
        ..Default::default()
    })
    .await;
    let mirror = Mirror::new(&sim);
    let out = mirror.run(&["check"]).await;
    assert_ne!(out.status.code(), Some(0));
    assert!(
        stdout(&out).contains("jira_sla: ok, authenticated as"),
        "{}",
        stdout(&out)
    );
    let err = stderr(&out);
    assert!(
        err.contains("may not read the SLAs of SUP-1")
            && err.contains("403")
            && err.contains("licence")
            && err.contains("agents"),
        "{err}"
    );
    sim.shutdown().await;
}
