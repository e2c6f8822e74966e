//! The pull pipeline end to end: sweeps, backfill, fetch, completeness, faults, crashes.

use std::collections::{BTreeSet, HashMap};
use std::time::Duration;

use jira_mirror::simulator::{Faults, SimConfig};

use crate::support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sweep_over_1000_issues_pages_by_token_and_saves_each_once() {
    let sim = simulator(1_050).await;
    let mirror = Mirror::new(&sim);
    let out = mirror.run_ok(&["sweep"]).await;
    assert!(stdout(&out).contains("1050 saved"), "{}", stdout(&out));

    let log = sim.requests();
    let searches: Vec<_> = log
        .iter()
        .filter(|r| r.path == "/rest/api/3/search/jql" && r.status == 200)
        .collect();
    assert!(searches.len() >= 11, "{} search pages", searches.len());
    assert!(
        searches[1].body.contains("nextPageToken"),
        "later pages carry the token"
    );

    let keys = sim.issue_keys();
    assert_eq!(
        mirror.saved_keys(),
        keys.iter()
            .cloned()
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect::<Vec<_>>()
    );
    // Each issue went through the pipeline exactly once: one remote-link request per key.
    let mut remotelinks: HashMap<&str, usize> = HashMap::new();
    for r in &log {
        if let Some(key) = r
            .path
            .strip_prefix("/rest/api/3/issue/")
            .and_then(|p| p.strip_suffix("/remotelink"))
        {
            *remotelinks.entry(key).or_default() += 1;
        }
    }
    for key in &keys {
        assert_eq!(remotelinks.get(key.as_str()), Some(&1), "{key}");
    }
    // A second sweep right after lists the overlap again but fetches nothing.
    sim.clear_requests();
    let out = mirror.run_ok(&["sweep"]).await;
    assert!(stdout(&out).contains(" 0 saved"), "{}", stdout(&out));
    assert!(
        sim.requests()
            .iter()
            .all(|r| r.path == "/rest/api/3/search/jql")
    );
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issues_with_250_histories_and_150_comments_are_saved_complete() {
    let sim = simulator(5).await;
    let mirror = Mirror::new(&sim);
    mirror.run_ok(&["backfill"]).await;
    let truth = sim.issue("SUP-1").expect("SUP-1");
    let saved = mirror.issue("SUP-1").expect("saved SUP-1");
    assert_eq!(history_ids(&truth).len(), 250);
    assert_eq!(history_ids(&saved), history_ids(&truth));
    assert_eq!(saved["changelog"]["total"], 250);
    assert_eq!(comment_ids(&truth).len(), 150);
    assert_eq!(comment_ids(&saved), comment_ids(&truth));
    assert_eq!(saved["fields"]["comment"]["total"], 150);
    // The same holds when the issue is fetched by key rather than listed.
    std::fs::remove_file(mirror.data().join("raw/issues/SUP-1.json")).unwrap();
    mirror.run_ok(&["fetch", "SUP-1"]).await;
    let fetched = mirror.issue("SUP-1").expect("fetched SUP-1");
    assert_eq!(history_ids(&fetched), history_ids(&truth));
    assert_eq!(comment_ids(&fetched), comment_ids(&truth));
    // SLA overlay from the JSM account.
    let sla = &fetched["mirror"]["sla"];
    assert_eq!(sla["source"], "jsm");
    assert_eq!(sla["values"].as_array().map(Vec::len), Some(2));
    sim.shutdown().await;
}

// Updates in the same minute around a sweep: `deployments.rs` runs that scenario against
// Cloud (epoch-ms bound), Data Center (minute bound) and OAuth alike.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backfill_under_429s_and_5xx_completes_and_honours_retry_after() {
    let sim = simulator_with(SimConfig {
        issues: 40,
        faults: Faults {
            rate_429: 0.3,
            retry_after_secs: 1,
            rate_5xx: 0.1,
            ..Faults::default()
        },
        ..SimConfig::default()
    })
    .await;
    let mirror = Mirror::with(
        &sim,
        MirrorOptions {
            max_retries: 30,
            ..Default::default()
        },
    );
    mirror.run_ok(&["backfill", "--parallel", "8"]).await;

    for key in sim.issue_keys() {
        let truth = sim.issue(&key).unwrap();
        let saved = mirror.issue(&key).unwrap_or_else(|| panic!("{key} saved"));
        assert_eq!(history_ids(&saved), history_ids(&truth), "{key}");
        assert_eq!(comment_ids(&saved), comment_ids(&truth), "{key}");
    }
    let log = sim.requests();
    let throttled: Vec<_> = log.iter().filter(|r| r.status == 429).collect();
    assert!(throttled.len() >= 10, "{} 429s", throttled.len());
    assert!(log.iter().any(|r| r.status >= 500), "some 5xx injected");
    for t in throttled {
        let wait = Duration::from_secs(t.retry_after_secs.expect("429 carries Retry-After"));
        let retry = log
            .iter()
            .find(|r| {
                r.seq > t.seq
                    && r.method == t.method
                    && r.path == t.path
                    && r.query == t.query
                    && r.body == t.body
            })
            .unwrap_or_else(|| panic!("429 on {} was retried", t.path));
        assert!(
            retry.at.duration_since(t.at) >= wait,
            "{} retried after {:?}, Retry-After {:?}",
            t.path,
            retry.at.duration_since(t.at),
            wait
        );
    }
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_during_backfill_then_resume_refetches_nothing_saved() {
    let config = SimConfig {
        issues: 260,
        faults: Faults {
            latency_ms: 15,
            ..Faults::default()
        },
        ..SimConfig::default()
    };
    let sim = simulator_with(config.clone()).await;
    let mirror = Mirror::with(
        &sim,
        MirrorOptions {
            max_concurrency: 4,
            ..Default::default()
        },
    );
    mirror.kill_backfill_after(130).await;

    let saved_before = mirror.state_keys();
    assert!(
        saved_before.len() >= 100 && saved_before.len() < 260,
        "{}",
        saved_before.len()
    );
    sim.clear_requests();
    sim.set_faults(Faults::default());
    mirror.run_ok(&["backfill"]).await;
    let log = sim.requests();
    for key in &saved_before {
        let again = per_issue_requests(&log, key);
        assert!(
            again.is_empty(),
            "{key} was fetched again: {:?}",
            again.iter().map(|r| &r.path).collect::<Vec<_>>()
        );
    }
    // The first (finished) page is not listed again.
    let first_page = log
        .iter()
        .find(|r| r.path.ends_with("/search/jql"))
        .unwrap();
    assert!(
        first_page.body.contains("nextPageToken"),
        "resumed from a stored page token"
    );
    assert_eq!(mirror.state_keys().len(), 260);

    // Same files as a clean backfill of the same site.
    let clean_sim = simulator_with(SimConfig {
        faults: Faults::default(),
        ..config
    })
    .await;
    let clean = Mirror::new(&clean_sim);
    clean.run_ok(&["backfill"]).await;
    let (a, b) = (
        mirror.snapshot(&sim.base_url()),
        clean.snapshot(&clean_sim.base_url()),
    );
    assert_eq!(a.keys().collect::<Vec<_>>(), b.keys().collect::<Vec<_>>());
    for (path, bytes) in &a {
        assert!(bytes == &b[path], "{path} differs from a clean backfill");
    }
    sim.shutdown().await;
    clean_sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_attachment_names_stay_inside_and_big_files_are_skipped() {
    let sim = simulator(3).await;
    let mirror = Mirror::new(&sim);
    mirror.run_ok(&["fetch", "SUP-1"]).await;
    let folder = mirror.data().join("raw/attachments/SUP-1");
    let saved = mirror.issue("SUP-1").unwrap();
    let entries = saved["mirror"]["attachments"].as_array().unwrap().clone();
    let by_name = |name: &str| {
        entries
            .iter()
            .find(|a| {
                a["filename"]
                    .as_str()
                    .map(|n| n.starts_with(name))
                    .unwrap_or(false)
            })
            .unwrap_or_else(|| panic!("{name}"))
            .clone()
    };
    for name in ["../../x", "con", "rÃ©sumÃ©", ".."] {
        let a = by_name(name);
        assert_eq!(a["status"], "downloaded", "{a}");
        let local = mirror.data().join(a["local_path"].as_str().unwrap());
        assert!(local.is_file(), "{}", local.display());
        assert_eq!(local.parent().unwrap(), folder);
        let bytes = std::fs::read(&local).unwrap();
        assert_eq!(bytes.len() as u64, a["size_bytes"].as_u64().unwrap());
        use sha2::Digest;
        assert_eq!(
            hex::encode(sha2::Sha256::digest(&bytes)),
            a["sha256"].as_str().unwrap()
        );
    }
    let long = entries
        .iter()
        .find(|a| a["filename"].as_str().unwrap().len() >= 300)
        .expect("300-char name");
    assert_eq!(long["status"], "downloaded");
    assert!(long["local_path"].as_str().unwrap().ends_with(".txt"));
    assert_eq!(by_name("big.bin")["status"], "skipped_too_large");
    assert!(!folder.join("big.bin").exists());
    // Nothing was written outside the issue's folder.
    let top: Vec<_> = std::fs::read_dir(mirror.data().join("raw"))
        .unwrap()
        .flatten()
        .map(|e| e.file_name())
        .collect();
    assert_eq!(top.len(), 2, "{top:?}");
    assert!(!mirror.dir.path().join("x").exists());
    // The media host never saw our credentials.
    let media: Vec<_> = sim
        .requests()
        .into_iter()
        .filter(|r| r.host == "media")
        .collect();
    assert!(!media.is_empty());
    assert!(media.iter().all(|r| !r.had_authorization));
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn moved_and_deleted_issues_leave_nothing_behind() {
    let sim = simulator(12).await;
    let mirror = Mirror::new(&sim);
    mirror.run_ok(&["backfill"]).await;
    assert!(mirror.issue("SUP-1").is_some());
    assert!(mirror.data().join("raw/attachments/SUP-1").is_dir());

    let new_key = sim.move_issue("SUP-1", "NEW");
    mirror.run_ok(&["fetch", "SUP-1"]).await;
    assert!(mirror.issue("SUP-1").is_none());
    assert!(!mirror.data().join("raw/attachments/SUP-1").exists());
    assert_eq!(mirror.issue(&new_key).unwrap()["key"], new_key.as_str());
    assert!(
        mirror
            .data()
            .join(format!("raw/attachments/{new_key}"))
            .is_dir()
    );
    assert!(!mirror.state_keys().contains(&"SUP-1".to_string()));

    sim.delete_issue("SUP-2");
    let out = mirror.run_ok(&["fetch", "SUP-2"]).await;
    assert!(stdout(&out).contains("1 deleted"), "{}", stdout(&out));
    assert!(mirror.issue("SUP-2").is_none());
    assert!(!mirror.state_keys().contains(&"SUP-2".to_string()));
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn garbled_and_truncated_bodies_are_retried() {
    let sim = simulator_with(SimConfig {
        issues: 20,
        faults: Faults {
            rate_truncated: 0.15,
            rate_garbled: 0.15,
            ..Faults::default()
        },
        ..SimConfig::default()
    })
    .await;
    let mirror = Mirror::with(
        &sim,
        MirrorOptions {
            max_retries: 30,
            ..Default::default()
        },
    );
    mirror.run_ok(&["backfill"]).await;
    assert_eq!(mirror.saved_keys().len(), 20);
    assert!(sim.requests().iter().any(|r| r.fault.is_some()));
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backfill_dry_run_lists_what_it_would_fetch_and_fetches_nothing() {
    let sim = simulator(12).await;
    let mirror = Mirror::new(&sim);
    let out = mirror.run_ok(&["backfill", "--dry-run"]).await;
    assert!(
        stdout(&out).contains(
            "backfill --dry-run: 12 listed: 12 new and 0 changed would be fetched, 0 unchanged \
             skipped; 0 recorded failures would be retried; nothing written"
        ),
        "{}",
        stdout(&out)
    );
    assert!(mirror.saved_keys().is_empty());
    assert!(
        sim.requests()
            .iter()
            .all(|r| r.path.ends_with("/search/jql") || r.path.ends_with("/field")),
        "only the listing: {:?}",
        sim.requests().iter().map(|r| &r.path).collect::<Vec<_>>()
    );
    // Nothing of a backfill was recorded: the real one starts from the first page.
    let out = mirror.run_ok(&["status", "--json"]).await;
    let status: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(status["backfill"].is_null(), "{status}");
    assert!(
        status["runs"]
            .as_array()
            .is_none_or(|runs| runs.iter().all(|r| r["command"] != "backfill")),
        "{status}"
    );

    mirror.run_ok(&["backfill"]).await;
    sim.touch("SUP-3");
    sim.touch("SUP-5");
    sim.clear_requests();
    let out = mirror.run_ok(&["backfill", "--dry-run"]).await;
    assert!(
        stdout(&out).contains("12 listed: 0 new and 2 changed would be fetched, 10 unchanged"),
        "{}",
        stdout(&out)
    );
    assert!(
        sim.requests().iter().all(|r| !r.path.contains("/issue/")),
        "no issue fetched"
    );
    sim.shutdown().await;
}
