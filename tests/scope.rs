//! Mail and webhooks only *name* issues, and anyone who can send mail to the mailbox can
//! name any key: an issue the mirror does not hold is saved only when Jira's scope search
//! lists it. A scope whose projects cannot be read from its JQL is never "every project".

use std::time::Duration;

use jira_mirror::app::Context;
use jira_mirror::simulator::Simulator;

use crate::mail::{JIRA, cloud_mail, imap_section, seen};
use crate::support::daemon::{Daemon, wait_saved};
use crate::support::dovecot::Dovecot;
use crate::support::*;

/// The scope of these tests: open issues of SUP.
const OPEN_SUP: &str = "project = SUP AND statusCategory != Done";

/// Three new issues nobody has mirrored yet: one in scope but not yet in the search index,
/// one resolved (outside the scope), one in another project.
fn newcomers(sim: &Simulator) -> (String, String, String) {
    let lagging = sim.create_issue("SUP");
    assert!(sim.set_searchable(&lagging, false));
    let done = sim.create_issue("SUP");
    sim.resolve_issue(&done);
    let other = sim.create_issue("OPS");
    (lagging, done, other)
}

/// The simulator's issues of the scope [`OPEN_SUP`] (not resolved).
fn open_keys(sim: &Simulator) -> Vec<String> {
    sim.issue_keys()
        .into_iter()
        .filter(|k| sim.issue(k).unwrap()["fields"]["status"]["statusCategory"]["key"] != "done")
        .collect()
}

fn fetched(sim: &Simulator, key: &str) -> bool {
    sim.requests()
        .iter()
        .any(|r| r.method == "GET" && r.path.ends_with(&format!("/issue/{key}")))
}

fn reconciling_searches(sim: &Simulator) -> usize {
    sim.requests()
        .iter()
        .filter(|r| r.path.ends_with("/search/jql") && r.body.contains("reconcileIssues"))
        .count()
}

async fn mirror_with_mail(sim: &Simulator, dovecot: &Dovecot) -> Mirror {
    Mirror::with(
        sim,
        MirrorOptions {
            jql: Some(OPEN_SUP.into()),
            extra: imap_section(dovecot, ""),
            ..Default::default()
        },
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_mail_command_saves_only_issues_jira_confirms_in_scope() {
    let sim = simulator(3).await;
    let dovecot = Dovecot::start();
    let mirror = mirror_with_mail(&sim, &dovecot).await;
    let (lagging, done, other) = newcomers(&sim);
    let mut uids = Vec::new();
    for key in [&lagging, &done, &other] {
        uids.push(
            dovecot
                .append("INBOX", &cloud_mail(JIRA, key, "Forged?"), &[])
                .await,
        );
    }
    let out = mirror.run_ok(&["mail"]).await;
    assert!(stdout(&out).contains("1 out of scope"), "{}", stdout(&out));
    // The lagging issue is found although search does not list it yet (reconcileIssues).
    assert_eq!(mirror.saved_keys(), vec![lagging.clone()]);
    assert!(reconciling_searches(&sim) >= 1);
    // The resolved one was fetched, then refused; the other project's never even fetched.
    assert!(fetched(&sim, &done));
    assert!(!fetched(&sim, &other));
    assert!(mirror.issue(&done).is_none() && mirror.issue(&other).is_none());
    assert!(seen(&dovecot, uids[0]).await && seen(&dovecot, uids[1]).await);
    // Nothing recorded as failed: out of scope is an answer, not an error.
    let status = stdout(&mirror.run_ok(&["status"]).await);
    assert!(!status.contains(&done), "{status}");
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_daemon_saves_only_mailed_issues_jira_confirms_in_scope() {
    let sim = simulator(6).await;
    let dovecot = Dovecot::start();
    let mirror = mirror_with_mail(&sim, &dovecot).await;
    let open = open_keys(&sim);
    assert!(!open.is_empty());
    let daemon = Daemon::start(&mirror);
    for key in &open {
        assert!(
            wait_saved(&sim, &mirror, key, Duration::from_secs(30)).await,
            "{}",
            daemon.log()
        );
    }
    let (lagging, done, other) = newcomers(&sim);
    let mut uids = Vec::new();
    for key in [&done, &other, &lagging] {
        uids.push(
            dovecot
                .append("INBOX", &cloud_mail(JIRA, key, "Forged?"), &[])
                .await,
        );
    }
    assert!(
        wait_saved(&sim, &mirror, &lagging, Duration::from_secs(30)).await,
        "{}",
        daemon.log()
    );
    assert!(wait_for(Duration::from_secs(30), || fetched(&sim, &done)).await);
    let mut all_seen = false;
    for _ in 0..100 {
        if seen(&dovecot, uids[0]).await && seen(&dovecot, uids[2]).await {
            all_seen = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(all_seen);
    assert!(daemon.terminate().await.success());
    assert!(
        mirror.issue(&done).is_none(),
        "{}",
        mirror.saved_keys().join(",")
    );
    assert!(mirror.issue(&other).is_none());
    assert!(!fetched(&sim, &other));
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reconcile_removes_issues_that_left_a_scope_without_projects() {
    let sim = simulator(12).await;
    // No project in the scope: before, every project counted as "in scope", so a resolved
    // issue stayed in the mirror forever.
    let mirror = Mirror::with(
        &sim,
        MirrorOptions {
            jql: Some("statusCategory != Done".into()),
            ..Default::default()
        },
    );
    mirror.run_ok(&["backfill"]).await;
    let before = mirror.saved_keys();
    let mut open = open_keys(&sim);
    open.sort();
    assert_eq!(before, open);
    assert!(before.len() >= 3, "{before:?}");
    let resolved = before[1].clone();
    sim.resolve_issue(&resolved);
    // One still open but missing from the index: kept (present), not removed.
    let lagging = before[2].clone();
    sim.set_searchable(&lagging, false);
    let out = mirror.run_ok(&["reconcile"]).await;
    assert!(stdout(&out).contains("1 left scope"), "{}", stdout(&out));
    let mut expected = before.clone();
    expected.retain(|k| k != &resolved);
    assert_eq!(mirror.saved_keys(), expected);
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn confirmations_asked_at_once_share_one_search() {
    let sim = simulator(40).await;
    let mirror = Mirror::new(&sim);
    let ctx = Context::build(mirror.config(), None)
        .await
        .expect("context");
    let ids: Vec<i64> = sim
        .issue_keys()
        .iter()
        .map(|k| {
            sim.issue(k).unwrap()["id"]
                .as_str()
                .unwrap()
                .parse()
                .unwrap()
        })
        .collect();
    let outside = sim.create_issue("OPS");
    let outside_id: i64 = sim.issue(&outside).unwrap()["id"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    sim.clear_requests();
    let pipeline = ctx.pipeline();
    let answers = futures::future::join_all(
        ids.iter()
            .chain([&outside_id])
            .map(|&id| pipeline.in_scope(id)),
    )
    .await;
    assert!(answers[..ids.len()].iter().all(|a| matches!(a, Ok(true))));
    assert!(matches!(answers[ids.len()], Ok(false)));
    // 41 questions, one search (at most 50 ids each).
    assert_eq!(reconciling_searches(&sim), 1, "{:?}", sim.requests());
    sim.shutdown().await;
}
