//! `jira-mirror run` end to end: the binary as a service, against the simulator and a real
//! Dovecot on 127.0.0.1, stopped with SIGTERM like systemd does.

use std::time::{Duration, Instant};

use crate::support::daemon::{Daemon, wait_saved};
use crate::support::dovecot::Dovecot;
use crate::support::*;

const JIRA: &str = "jira@example.atlassian.net";
/// A schedule that never fires during a test (03:00 daily): only the catch-up sweep runs.
const NEVER: &str = "0 0 3 * * *";

fn mail_for(key: &str, n: usize) -> Vec<u8> {
    format!(
        "From: \"Ann Agent (Jira)\" <{JIRA}>\r\n\
         Subject: [JIRA] ({key}) Printer on fire\r\n\
         Message-ID: <daemon-{n}@example.atlassian.net>\r\n\
         MIME-Version: 1.0\r\n\
         Content-Type: text/plain; charset=UTF-8\r\n\
         \r\n\
         https://example.atlassian.net/browse/{key}\r\n"
    )
    .into_bytes()
}

fn imap(d: &Dovecot) -> String {
    let s = d.settings();
    format!(
        "\n[imap]\nhost = \"127.0.0.1\"\nport = {}\nsecurity = \"none\"\nusername = {}\npassword = {}\nidle = true\nallowed_senders = [\"{JIRA}\"]\n",
        s.port,
        toml::Value::String(s.username),
        toml::Value::String(s.password)
    )
}

/// The `updated_at` cell of `key` in the issues table, if it has a row.
fn row_updated(mirror: &Mirror, key: &str) -> Option<String> {
    let quoted = format!("\"{key}\"");
    mirror.tables()["issues"]
        .iter()
        .find(|r| r["issue_key"] == quoted)
        .map(|r| r["updated_at"].clone())
}

/// `status --json` (works while `run` runs), or `null` if it fails.
fn status_json(mirror: &Mirror) -> serde_json::Value {
    let out = mirror
        .command(&["status", "--json"])
        .output()
        .expect("status");
    serde_json::from_slice(&out.stdout).unwrap_or_default()
}

/// The queue is empty and every table row written.
fn drained(mirror: &Mirror) -> bool {
    let v = status_json(mirror);
    v["queue"]["depth"] == 0 && v["pending_table_rows"] == 0
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_catches_up_takes_mail_at_once_and_stops_cleanly_on_sigterm() {
    let sim = simulator(10).await;
    let dovecot = Dovecot::start();
    let mirror = Mirror::with(
        &sim,
        MirrorOptions {
            sweep_schedule: Some(NEVER.into()),
            extra: imap(&dovecot),
            ..Default::default()
        },
    );
    let daemon = Daemon::start(&mirror);
    // The catch-up sweep at start mirrors everything.
    let all = sim.issue_keys().len();
    assert!(
        wait_for(Duration::from_secs(60), || mirror.saved_keys().len() == all).await,
        "catch-up sweep saved every issue\n{}",
        daemon.log()
    );
    assert!(
        wait_for(Duration::from_secs(20), || mirror.tables()["issues"].len()
            == all)
        .await,
        "rows for every issue"
    );

    // A change announced by mail reaches the tables without a sweep.
    let before = row_updated(&mirror, "SUP-3");
    sim.clear_requests();
    sim.add_comment("SUP-3", "reply by mail");
    let uid = dovecot.append("INBOX", &mail_for("SUP-3", 1), &[]).await;
    assert!(
        wait_saved(&sim, &mirror, "SUP-3", Duration::from_secs(30)).await,
        "{}",
        daemon.log()
    );
    assert!(
        wait_for(Duration::from_secs(20), || row_updated(&mirror, "SUP-3")
            != before)
        .await,
        "the issues row of SUP-3 changed"
    );
    assert!(
        sim.requests().iter().all(|r| !r.path.contains("/search")),
        "no sweep was needed"
    );
    let mut seen = false;
    for _ in 0..100 {
        let flags = dovecot.flags_of("INBOX", uid).await.unwrap_or_default();
        if flags.iter().any(|f| f == "\\Seen") {
            seen = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(seen, "the mail is acknowledged");

    let status = daemon.terminate().await;
    assert!(status.success(), "SIGTERM ends run with exit 0: {status:?}");

    // A change without mail arrives with the next sweep (the catch-up one of the next start).
    sim.touch("SUP-5");
    let daemon = Daemon::start(&mirror);
    assert!(
        wait_saved(&sim, &mirror, "SUP-5", Duration::from_secs(60)).await,
        "{}",
        daemon.log()
    );
    let status = daemon.terminate().await;
    assert!(status.success(), "{status:?}");
    let out = mirror.run_ok(&["status", "--json"]).await;
    let status: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(status["queue"]["depth"], 0, "{status}");
    // The daemon's mail pass counts what it did: one mail acknowledged, none left.
    let mail = status["runs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["command"] == "mail")
        .unwrap_or_else(|| panic!("no mail run\n{status}"));
    assert_eq!(mail["outcome"], "ok", "{mail}");
    assert_eq!(mail["issues_saved"], 1, "{mail}");
    assert_eq!(mail["issues_failed"], 0, "{mail}");
    assert_eq!(mail["detail"]["acknowledged"], 1, "{mail}");
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_sweeps_on_its_schedule() {
    let sim = simulator(6).await;
    let mirror = Mirror::with(
        &sim,
        MirrorOptions {
            sweep_schedule: Some("*/2 * * * * *".into()),
            overlap_secs: 0,
            ..Default::default()
        },
    );
    let daemon = Daemon::start(&mirror);
    let all = sim.issue_keys().len();
    assert!(wait_for(Duration::from_secs(60), || mirror.saved_keys().len() == all).await);
    sim.touch("SUP-2");
    assert!(
        wait_saved(&sim, &mirror, "SUP-2", Duration::from_secs(30)).await,
        "{}",
        daemon.log()
    );
    let status = daemon.terminate().await;
    assert!(status.success(), "{status:?}");
    sim.shutdown().await;
}

/// `[run] metrics_listen`: Prometheus text and JSON health on loopback, answered from the
/// state and the clients' counters; nothing else is served.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_serves_metrics_and_health_on_loopback() {
    let sim = simulator(4).await;
    let mirror = Mirror::with(
        &sim,
        MirrorOptions {
            sweep_schedule: Some(NEVER.into()),
            extra: "\n[run]\nmetrics_listen = \"127.0.0.1:0\"\n".into(),
            ..Default::default()
        },
    );
    let daemon = Daemon::start(&mirror);
    let all = sim.issue_keys().len();
    // Saved, and the queue drained (a worker removes its row just after the save).
    assert!(
        wait_for(Duration::from_secs(60), || mirror.saved_keys().len() == all
            && daemon.log().contains("Scheduled run done.")
            && drained(&mirror))
        .await,
        "{}",
        daemon.log()
    );
    let log = daemon.log();
    let addr = regex::Regex::new(r"Metrics endpoint listening.*listen\S*=\S*?(127\.0\.0\.1:\d+)")
        .unwrap()
        .captures(&log)
        .unwrap_or_else(|| panic!("no metrics address logged\n{log}"))[1]
        .to_string();
    let client = reqwest::Client::new();
    let metrics = client
        .get(format!("http://{addr}/metrics"))
        .send()
        .await
        .unwrap();
    assert_eq!(metrics.status(), 200);
    assert!(
        metrics.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain; version=0.0.4")
    );
    let text = metrics.text().await.unwrap();
    let value = |line: &str| -> f64 {
        text.lines()
            .find_map(|l| l.strip_prefix(line)?.trim().parse().ok())
            .unwrap_or_else(|| panic!("{line} missing\n{text}"))
    };
    assert_eq!(value("jira_mirror_queue_depth "), 0.0);
    assert_eq!(value("jira_mirror_parked_issues "), 0.0);
    assert_eq!(value("jira_mirror_jira_up "), 1.0);
    assert!(value("jira_mirror_requests_total{budget=\"jira\"} ") >= all as f64);
    let swept = value("jira_mirror_last_success_timestamp_seconds{job=\"sweep\"} ");
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64();
    assert!((now - swept).abs() < 120.0, "{swept} vs {now}");

    let health: serde_json::Value = client
        .get(format!("http://{addr}/health"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(health["status"], "ok", "{health}");
    assert_eq!(health["jira"], "up", "{health}");
    assert!(health["last_success"]["sweep"].is_string(), "{health}");
    // Read-only: nothing else is served.
    let other = client.get(format!("http://{addr}/")).send().await.unwrap();
    assert_eq!(other.status(), 404);
    let post = client
        .post(format!("http://{addr}/metrics"))
        .body("x")
        .send()
        .await
        .unwrap();
    assert_eq!(post.status(), 405);

    let status = daemon.terminate().await;
    assert!(status.success(), "{status:?}");
    sim.shutdown().await;
}

/// A metrics address already taken stops `run` with one line naming it, instead of a
/// daemon without its endpoint.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_stops_when_the_metrics_address_is_taken() {
    let sim = simulator(1).await;
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    let mirror = Mirror::with(
        &sim,
        MirrorOptions {
            sweep_schedule: Some(NEVER.into()),
            extra: format!("\n[run]\nmetrics_listen = \"127.0.0.1:{port}\"\n"),
            ..Default::default()
        },
    );
    let mut daemon = Daemon::start(&mirror);
    let mut ended = None;
    assert!(
        wait_for(Duration::from_secs(60), || {
            ended = daemon.try_wait();
            ended.is_some()
        })
        .await,
        "run kept going\n{}",
        daemon.log()
    );
    assert!(!ended.unwrap().success());
    let log = daemon.log();
    assert!(
        log.contains(&format!("metrics endpoint on 127.0.0.1:{port}")),
        "{log}"
    );
    drop(taken);
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_key_from_sweep_mail_and_a_manual_fetch_at_once_is_fetched_once() {
    let sim = simulator(6).await;
    let dovecot = Dovecot::start();
    let mirror = Mirror::with(
        &sim,
        MirrorOptions {
            sweep_schedule: Some("* * * * * *".into()),
            overlap_secs: 0,
            extra: imap(&dovecot),
            ..Default::default()
        },
    );
    let daemon = Daemon::start(&mirror);
    let all = sim.issue_keys().len();
    assert!(wait_for(Duration::from_secs(60), || mirror.saved_keys().len() == all).await);

    // Hold SUP-4's lock (as another writer would) while all three triggers name it.
    let locks = jira_mirror::store::lock::IssueLocks::new(&mirror.data());
    let guard = locks.lock("SUP-4").await.expect("lock");
    sim.clear_requests();
    sim.add_comment("SUP-4", "one change, three triggers");
    dovecot.append("INBOX", &mail_for("SUP-4", 7), &[]).await;
    let sweep_listed = wait_for(Duration::from_secs(10), || {
        sim.requests()
            .iter()
            .any(|r| r.path.ends_with("/search/jql"))
    })
    .await;
    assert!(sweep_listed, "a sweep ran meanwhile\n{}", daemon.log());
    let fetch = {
        let mut cmd = mirror.command(&["fetch", "SUP-4"]);
        tokio::task::spawn_blocking(move || cmd.output().expect("fetch runs"))
    };
    tokio::time::sleep(Duration::from_millis(1500)).await;
    drop(guard);
    let out = fetch.await.unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(wait_saved(&sim, &mirror, "SUP-4", Duration::from_secs(20)).await);
    // Let the daemon finish whatever it queued.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let gets = sim
        .requests()
        .iter()
        .filter(|r| r.method == "GET" && r.path == "/rest/api/3/issue/SUP-4")
        .count();
    assert_eq!(gets, 1, "SUP-4 fetched once\n{}", daemon.log());
    assert!(daemon.terminate().await.success());
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_reconciles_on_its_schedule_deleted_gone_moved_under_its_new_key_only() {
    let sim = simulator_with(jira_mirror::simulator::SimConfig {
        issues: 10,
        projects: vec!["SUP".into(), "OPS".into()],
        ..Default::default()
    })
    .await;
    let mirror = Mirror::with(
        &sim,
        MirrorOptions {
            sweep_schedule: Some(NEVER.into()),
            extra: "\n[reconcile]\nschedule = \"*/2 * * * * *\"\n".into(),
            ..Default::default()
        },
    );
    let config = std::fs::read_to_string(&mirror.config_path).unwrap();
    std::fs::write(
        &mirror.config_path,
        config.replace("jql = \"project = SUP\"", "jql = \"project in (SUP, OPS)\""),
    )
    .unwrap();
    let daemon = Daemon::start(&mirror);
    let all = sim.issue_keys().len();
    assert!(wait_for(Duration::from_secs(60), || mirror.saved_keys().len() == all).await);
    let sup: Vec<String> = sim
        .issue_keys()
        .into_iter()
        .filter(|k| k.starts_with("SUP-"))
        .collect();
    let (gone, mover) = (sup[0].clone(), sup[1].clone());
    sim.delete_issue(&gone);
    let moved = sim.move_issue(&mover, "OPS");
    assert!(!moved.is_empty());
    let done = wait_for(Duration::from_secs(30), || {
        let keys = mirror.saved_keys();
        !keys.contains(&gone) && !keys.contains(&mover) && keys.contains(&moved)
    })
    .await;
    assert!(done, "{:?}\n{}", mirror.saved_keys(), daemon.log());
    let in_tables = |key: &str| {
        let quoted = format!("\"{key}\"");
        mirror.tables()["issues"]
            .iter()
            .any(|r| r["issue_key"] == quoted)
    };
    assert!(
        wait_for(Duration::from_secs(20), || !in_tables(&gone)
            && !in_tables(&mover)
            && in_tables(&moved))
        .await,
        "rows follow"
    );
    assert!(daemon.terminate().await.success());
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_during_heavy_processing_loses_nothing() {
    let sim = simulator(240).await;
    // Every request takes a little while, so SIGTERM finds workers busy.
    sim.set_faults(jira_mirror::simulator::Faults {
        latency_ms: 15,
        ..Default::default()
    });
    let options = || MirrorOptions {
        sweep_schedule: Some(NEVER.into()),
        max_concurrency: 4,
        ..Default::default()
    };
    let mirror = Mirror::with(&sim, options());
    let daemon = Daemon::start(&mirror);
    let all = sim.issue_keys().len();
    assert!(
        wait_for(Duration::from_secs(60), || mirror.saved_keys().len() >= 40).await,
        "{}",
        daemon.log()
    );
    let status = daemon.terminate().await;
    assert!(status.success(), "SIGTERM mid-work exits 0: {status:?}");
    let saved_at_stop = mirror.saved_keys().len();
    assert!(
        saved_at_stop < all,
        "stopped mid-work ({saved_at_stop} of {all})"
    );

    // The next start resumes from the durable queue (and the catch-up sweep).
    let daemon = Daemon::start(&mirror);
    assert!(
        wait_for(Duration::from_secs(120), || mirror.saved_keys().len()
            == all)
        .await,
        "{}",
        daemon.log()
    );
    let depth_zero = wait_for(Duration::from_secs(30), || drained(&mirror)).await;
    assert!(depth_zero, "queue drained and rows written");
    assert!(daemon.terminate().await.success());

    // Equal to a clean backfill of the same site: raw files and every table.
    sim.set_faults(jira_mirror::simulator::Faults::default());
    let clean = Mirror::with(&sim, options());
    clean.run_ok(&["backfill"]).await;
    let (a, b) = (
        mirror.snapshot(&sim.base_url()),
        clean.snapshot(&sim.base_url()),
    );
    let differing: Vec<&String> = a
        .keys()
        .chain(b.keys())
        .filter(|k| a.get(*k) != b.get(*k))
        .take(5)
        .collect();
    assert!(differing.is_empty(), "raw files differ: {differing:?}");
    assert_same_tables(&mirror, &clean);
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_two_minute_outage_during_run_is_logged_per_interval_and_caught_up() {
    let sim = simulator(12).await;
    let dovecot = Dovecot::start();
    let mirror = Mirror::with(
        &sim,
        MirrorOptions {
            sweep_schedule: Some("*/5 * * * * *".into()),
            overlap_secs: 0,
            extra: imap(&dovecot),
            ..Default::default()
        },
    );
    // The default log level: what an operator reads.
    let mut daemon = Daemon::start_with(&mirror, &["run"]);
    let all = sim.issue_keys().len();
    assert!(wait_for(Duration::from_secs(60), || mirror.saved_keys().len() == all).await);

    sim.set_faults(jira_mirror::simulator::Faults {
        outage: true,
        ..Default::default()
    });
    let outage = Instant::now();
    sim.touch("SUP-2");
    sim.add_comment("SUP-3", "sent while Jira is down");
    let uid = dovecot.append("INBOX", &mail_for("SUP-3", 9), &[]).await;
    // The mail is acknowledged during the outage: its key is durably queued.
    let mut seen = false;
    while outage.elapsed() < Duration::from_secs(30) && !seen {
        let flags = dovecot.flags_of("INBOX", uid).await.unwrap_or_default();
        seen = flags.iter().any(|f| f == "\\Seen");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(
        seen,
        "mail acknowledged while Jira is down\n{}",
        daemon.log()
    );
    while outage.elapsed() < Duration::from_secs(120) {
        assert!(
            daemon.is_running(),
            "run survives the outage\n{}",
            daemon.log()
        );
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    let failing_requests = sim.requests().iter().filter(|r| r.status == 503).count();
    sim.set_faults(jira_mirror::simulator::Faults::default());

    // Caught up completely: both changes, in the tables too.
    for key in ["SUP-2", "SUP-3"] {
        assert!(
            wait_saved(&sim, &mirror, key, Duration::from_secs(120)).await,
            "{key} caught up\n{}",
            daemon.log()
        );
    }
    let before = mirror.tables()["issues"].len();
    assert_eq!(before, all);
    assert!(
        wait_for(Duration::from_secs(30), || drained(&mirror)).await,
        "queue drained"
    );
    let log = daemon.log();
    assert!(daemon.terminate().await.success());

    // Logged once per interval, not once per request.
    let count = |needle: &str| log.lines().filter(|l| l.contains(needle)).count();
    // The client backs off (up to 30 s between attempts), so a polite daemon makes only a few
    // dozen requests in two minutes; each failed one would have been a log line before.
    assert!(
        failing_requests >= 8,
        "the outage was real: {failing_requests} answers were 503\n{log}"
    );
    let warnings = log
        .lines()
        .filter(|l| l.contains("WARN") || l.contains("ERROR"))
        .count();
    assert!(
        (1..=2).contains(&count("Jira is failing")),
        "one outage line per Jira account\n{log}"
    );
    assert!(
        count("Jira still failing") <= 6,
        "at most one a minute\n{log}"
    );
    assert!(count("Jira answers again") >= 1, "{log}");
    assert!(
        warnings <= 12,
        "{warnings} warning lines for {failing_requests} failed requests\n{log}"
    );
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_shows_each_scheduled_job_with_its_counts() {
    let sim = simulator(5).await;
    let mirror = Mirror::with(
        &sim,
        MirrorOptions {
            sweep_schedule: Some(NEVER.into()),
            extra: "\n[sla_poll]\nschedule = \"*/2 * * * * *\"\n".into(),
            ..Default::default()
        },
    );
    let daemon = Daemon::start(&mirror);
    let mut last = serde_json::Value::Null;
    let polled = wait_for(Duration::from_secs(30), || {
        let v = status_json(&mirror);
        last = v.clone();
        v["runs"].as_array().is_some_and(|runs| {
            runs.iter()
                .any(|r| r["command"] == "poll-sla" && r["detail"]["skipped"].is_number())
                && runs
                    .iter()
                    .any(|r| r["command"] == "sweep" && r["detail"]["listed"] == 5)
        })
    })
    .await;
    assert!(polled, "{last}");
    assert!(daemon.terminate().await.success());
    let out = mirror.run_ok(&["status"]).await;
    let text = stdout(&out);
    assert!(
        text.lines()
            .any(|l| l.starts_with("last poll-sla") && l.contains("healed")),
        "{text}"
    );
    let v: serde_json::Value =
        serde_json::from_slice(&mirror.run_ok(&["status", "--json"]).await.stdout).unwrap();
    assert_eq!(v["queue"]["depth"], 0);
    assert!(v["parked"].as_array().is_some_and(Vec::is_empty));
    assert_eq!(v["tables"]["issues"], 5);
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_signal_exits_at_once_and_the_next_start_repairs() {
    let sim = simulator(120).await;
    sim.set_faults(jira_mirror::simulator::Faults {
        latency_ms: 20,
        ..Default::default()
    });
    let mirror = Mirror::with(
        &sim,
        MirrorOptions {
            sweep_schedule: Some(NEVER.into()),
            max_concurrency: 4,
            ..Default::default()
        },
    );
    let mut daemon = Daemon::start(&mirror);
    assert!(wait_for(Duration::from_secs(60), || mirror.saved_keys().len() >= 10).await);
    let pid = daemon.pid();
    // SAFETY: kill(2) on our own child, not yet reaped.
    unsafe {
        libc::kill(pid, libc::SIGINT);
    }
    // The second signal once the first was taken: two signals sent before the process
    // handles either are one signal to it (the kernel does not queue them), which made this
    // test flaky on a loaded machine.
    assert!(
        wait_for(Duration::from_secs(5), || daemon
            .log()
            .contains("Signal received"))
        .await,
        "{}",
        daemon.log()
    );
    // SAFETY: as above.
    unsafe {
        libc::kill(pid, libc::SIGINT);
    }
    let started = Instant::now();
    let status = loop {
        if let Some(status) = daemon.try_wait() {
            break status;
        }
        assert!(started.elapsed() < Duration::from_secs(5), "exits at once");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert_eq!(status.code(), Some(130), "{}", daemon.log());
    drop(daemon);

    let daemon = Daemon::start(&mirror);
    let all = sim.issue_keys().len();
    assert!(
        wait_for(Duration::from_secs(90), || mirror.saved_keys().len() == all).await,
        "{}",
        daemon.log()
    );
    assert!(daemon.terminate().await.success());
    let clean = Mirror::new(&sim);
    sim.set_faults(jira_mirror::simulator::Faults::default());
    clean.run_ok(&["backfill"]).await;
    assert_same_tables(&mirror, &clean);
    sim.shutdown().await;
}
