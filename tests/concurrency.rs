//! Two writers on one mirror: `run` beside a command started by hand, stale copies, and a
//! second daemon. Nothing may be lost or overwritten by something older.

use std::time::Duration;

use jira_mirror::json::DeepValue;
use jira_mirror::pipeline::Outcome;

use crate::support::daemon::Daemon;
use crate::support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_run_on_one_data_dir_refuses_naming_the_first() {
    let sim = simulator(3).await;
    let mirror = Mirror::new(&sim);
    let mut first = Daemon::start(&mirror);
    assert!(
        wait_for(Duration::from_secs(30), || mirror.saved_keys().len() == 3).await,
        "{}",
        first.log()
    );
    let second = mirror.run(&["run"]).await;
    assert_eq!(second.status.code(), Some(2), "{}", stderr(&second));
    let err = stderr(&second);
    assert!(
        err.contains(&format!("pid {}", first.pid())) && err.contains("already running"),
        "{err}"
    );
    assert!(first.is_running());
    assert!(first.terminate().await.success());
    // Once the first is gone, a new one starts.
    let mut again = Daemon::start(&mirror);
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert!(again.is_running(), "{}", again.log());
    assert!(again.terminate().await.success());
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_older_listing_never_overwrites_a_newer_save() {
    let sim = simulator(5).await;
    let mirror = Mirror::new(&sim);
    mirror.run_ok(&["backfill"]).await;
    let ctx = jira_mirror::app::Context::build(mirror.config(), None)
        .await
        .unwrap();
    let key = sim.issue_keys()[1].clone();
    // A page listed now (e.g. by a slow backfill) …
    let page = ctx
        .pipeline()
        .jira()
        .search_page(
            &format!("key = {key}"),
            None,
            &["*all"],
            Some("changelog"),
            1,
        )
        .await
        .unwrap();
    let old = page.issues.into_iter().next().unwrap();
    // … then the issue changes and another process saves the newer version …
    sim.touch(&key);
    mirror.run_ok(&["fetch", &key]).await;
    let newer = mirror.issue(&key).unwrap()["fields"]["updated"].clone();
    assert_ne!(newer, old["fields"]["updated"]);
    // … and the old listing comes through the pipeline last: it is not written.
    let outcome = ctx
        .pipeline()
        .process_listed(DeepValue::new(old))
        .await
        .unwrap();
    assert!(matches!(outcome, Outcome::Unchanged(_)), "{outcome:?}");
    assert_eq!(mirror.issue(&key).unwrap()["fields"]["updated"], newer);
    sim.shutdown().await;
}

/// `run` writes the tables while `fetch` and `transform` run beside it on the same data
/// directory, over and over: at the end the tables equal a rebuild from raw JSON.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_and_commands_beside_it_lose_no_rows() {
    let sim = simulator(60).await;
    let mirror = Mirror::with(
        &sim,
        MirrorOptions {
            sweep_schedule: Some("*/1 * * * * *".into()),
            ..Default::default()
        },
    );
    mirror.run_ok(&["backfill"]).await;
    let daemon = Daemon::start(&mirror);
    let keys = sim.issue_keys();
    for round in 0..6 {
        // Changes the daemon's sweep picks up, and others a command fetches at once.
        for k in keys.iter().skip(round).step_by(6).take(5) {
            sim.touch(k);
        }
        let by_hand: Vec<&str> = keys
            .iter()
            .skip(round + 3)
            .step_by(7)
            .take(4)
            .map(String::as_str)
            .collect();
        for k in &by_hand {
            sim.touch(k);
        }
        let mut args = vec!["fetch"];
        args.extend(&by_hand);
        mirror.run_ok(&args).await;
        mirror.run_ok(&["transform"]).await;
    }
    // Let the daemon catch up with the last changes, then stop it.
    assert!(
        wait_for(Duration::from_secs(60), || {
            keys.iter().all(|k| {
                let truth = sim.issue(k).unwrap();
                mirror
                    .issue(k)
                    .is_some_and(|i| i["fields"]["updated"] == truth["fields"]["updated"])
            })
        })
        .await,
        "{}",
        daemon.log()
    );
    assert!(daemon.terminate().await.success());
    let written = mirror.tables();
    mirror.run_ok(&["transform", "--rebuild"]).await;
    assert!(written == mirror.tables(), "the tables equal a rebuild");
    sim.shutdown().await;
}
