//! Removing local data is the one thing the mirror cannot take back, so it happens only on
//! Jira's own 404 with the credentials accepted, at most `[run] max_deletions` at a time,
//! and into `quarantine/` rather than away.

use jira_mirror::simulator::Faults;

use crate::support::*;

fn quarantined(mirror: &Mirror) -> Vec<String> {
    let mut keys: Vec<String> = std::fs::read_dir(mirror.data().join("quarantine"))
        .into_iter()
        .flatten()
        .flatten()
        .flat_map(|day| {
            std::fs::read_dir(day.path().join("issues"))
                .into_iter()
                .flatten()
        })
        .flatten()
        .filter_map(|f| {
            f.file_name()
                .to_str()
                .and_then(|n| n.strip_suffix(".json"))
                .map(str::to_string)
        })
        .collect();
    keys.sort();
    keys
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_404_that_is_not_jiras_removes_nothing() {
    let sim = simulator(6).await;
    let mirror = Mirror::new(&sim);
    mirror.run_ok(&["backfill"]).await;
    let before = mirror.saved_keys();
    // A reverse proxy in front of Jira answers 404 for everything.
    sim.set_faults(Faults {
        proxy_not_found: true,
        ..Faults::default()
    });
    let key = before[2].clone();
    let out = mirror.run(&["fetch", &key]).await;
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("not Jira's answer"),
        "{}",
        stderr(&out)
    );
    let out = mirror.run(&["reconcile"]).await;
    assert_ne!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(mirror.saved_keys(), before);
    assert!(quarantined(&mirror).is_empty());
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn removals_are_capped_and_kept_in_quarantine() {
    let sim = simulator(20).await;
    let mirror = Mirror::with(
        &sim,
        MirrorOptions {
            extra: "\n[run]\nmax_deletions = 3\n".into(),
            ..Default::default()
        },
    );
    mirror.run_ok(&["backfill"]).await;
    let keys = sim.issue_keys();
    // Six issues vanish at once (a permission change looks the same from here).
    let gone: Vec<String> = keys.iter().skip(5).take(6).cloned().collect();
    for k in &gone {
        sim.delete_issue(k);
    }
    let out = mirror.run(&["reconcile"]).await;
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let removed = quarantined(&mirror);
    assert_eq!(removed.len(), 3, "{removed:?}");
    assert!(removed.iter().all(|k| gone.contains(k)));
    assert_eq!(mirror.saved_keys().len(), 17);
    // The kept ones are recorded with the reason; the tables hold what raw holds.
    let status = stdout(&mirror.run_ok(&["status"]).await);
    assert_eq!(status.matches("[run] max_deletions").count(), 3, "{status}");
    let in_tables = mirror.tables()["issues"].len();
    assert_eq!(in_tables, 17);
    // The quarantined files are the saved issues, whole.
    let day = std::fs::read_dir(mirror.data().join("quarantine"))
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    let saved: serde_json::Value = serde_json::from_slice(
        &std::fs::read(day.join("issues").join(format!("{}.json", removed[0]))).unwrap(),
    )
    .unwrap();
    assert_eq!(saved["key"], removed[0].as_str());
    // A later run (a new window) removes the rest: the sweep retries failures first.
    let out = mirror.run(&["sweep"]).await;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(quarantined(&mirror).len(), 6);
    assert_eq!(mirror.saved_keys().len(), 14);
    sim.shutdown().await;
}
