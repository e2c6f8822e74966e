//! Throughput without impoliteness: `backfill` lists the next search page while the issues
//! of the last one are still being worked, the JSM account and the attachment media host
//! have budgets of their own (so their requests overlap with the main account's instead of
//! queueing behind them), each budget still holds its own limit, and SLAs are asked for only
//! where a service desk can have them. The figures are in docs/performance.md
//! (`examples/bench_backfill.rs`); these tests check the shapes behind them, not times.

use std::time::{Duration, Instant};

use jira_mirror::simulator::{Faults, RequestRecord, SimConfig, peak_in_flight};

use crate::support::*;

fn is_search(r: &RequestRecord) -> bool {
    r.path == "/rest/api/3/search/jql"
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backfill_lists_the_next_page_while_the_last_pages_issues_are_worked() {
    // Pages of 10 issues, 100 ms a request (long beside an issue's local work, even in a
    // debug build on a loaded machine): a page's issues take 500 ms on two connections,
    // while the next page is listed in 100 ms.
    let sim = simulator_with(SimConfig {
        issues: 60,
        big_issues: Vec::new(),
        hostile_attachments: false,
        faults: Faults {
            latency_ms: 100,
            search_page_cap: Some(10),
            ..Faults::default()
        },
        ..SimConfig::default()
    })
    .await;
    let mirror = Mirror::with(
        &sim,
        MirrorOptions {
            max_concurrency: 2,
            sla: false,
            ..Default::default()
        },
    );
    sim.clear_requests();
    mirror.run_ok(&["backfill"]).await;
    for key in sim.issue_keys() {
        assert!(mirror.issue(&key).is_some(), "{key} saved");
    }
    let records = sim.requests();
    let searches: Vec<&RequestRecord> = records.iter().filter(|r| is_search(r)).collect();
    assert_eq!(searches.len(), 6, "one search per page of 10");
    let links: Vec<&RequestRecord> = records
        .iter()
        .filter(|r| r.path.ends_with("/remotelink"))
        .collect();
    assert_eq!(links.len(), 60);
    // A listing that waited for each page's issues before asking for the next page would
    // never have a remote-link request on the wire when a search arrives.
    let overlapped = searches[1..]
        .iter()
        .filter(|s| links.iter().any(|l| l.at <= s.at && s.at <= l.answered))
        .count();
    assert!(
        overlapped >= 2,
        "only {overlapped} of 5 later pages were listed while issues were being fetched"
    );
    // The main account's budget still holds: never more than 2 requests at once.
    let main = records.iter().filter(|r| r.host == "api");
    assert_eq!(peak_in_flight(main), 2);
    // Resumable as before: the backfill finished, and a second one costs only the listing.
    sim.clear_requests();
    mirror.run_ok(&["backfill"]).await;
    let again = sim.requests();
    assert!(again.iter().any(is_search));
    assert!(
        !again.iter().any(|r| r.path.ends_with("/remotelink")),
        "nothing changed, nothing fetched"
    );
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sla_and_downloads_draw_on_budgets_of_their_own_beside_the_main_account() {
    let sim = simulator_with(SimConfig {
        issues: 30,
        big_issues: Vec::new(),
        hostile_attachments: false,
        faults: Faults {
            latency_ms: 20,
            ..Faults::default()
        },
        ..SimConfig::default()
    })
    .await;
    let c = sim.config();
    // One connection each: the main account, the JSM account, the media host.
    let mirror = Mirror::with(
        &sim,
        MirrorOptions {
            max_concurrency: 1,
            extra: "max_concurrency = 1\n".into(), // lands in [attachments]
            ..Default::default()
        },
    );
    let text = std::fs::read_to_string(&mirror.config_path).unwrap();
    assert!(text.contains("[attachments]\nmax_bytes = 1048576\nmax_concurrency = 1\n"));
    mirror.run_ok(&["backfill"]).await;
    let records = sim.requests();
    let main: Vec<&RequestRecord> = records
        .iter()
        .filter(|r| r.host == "api" && r.user.as_deref() == Some(&c.email))
        .collect();
    let jsm: Vec<&RequestRecord> = records
        .iter()
        .filter(|r| r.user.as_deref() == Some(&c.sla_email))
        .collect();
    let media: Vec<&RequestRecord> = records.iter().filter(|r| r.host == "media").collect();
    assert!(jsm.len() >= 25, "{} SLA requests", jsm.len());
    assert!(!media.is_empty(), "some issues have attachments");
    // Each budget holds its own limit…
    assert_eq!(peak_in_flight(main.iter().copied()), 1, "main account");
    assert_eq!(peak_in_flight(jsm.iter().copied()), 1, "JSM account");
    assert_eq!(peak_in_flight(media.iter().copied()), 1, "media host");
    // …and they overlap: with one shared slot, the whole run would be one request at a time.
    assert!(
        peak_in_flight(&records) >= 2,
        "SLA and downloads queued behind the main account"
    );
    // The media host never sees the credentials; every attachment the API redirected was
    // fetched there once.
    assert!(media.iter().all(|r| !r.had_authorization));
    let redirects = main
        .iter()
        .filter(|r| r.path.starts_with("/rest/api/3/attachment/content/"))
        .count();
    assert_eq!(redirects, media.len());
    // The saved files are the simulator's.
    for key in sim.issue_keys() {
        let issue = mirror.issue(&key).unwrap();
        for a in issue["mirror"]["attachments"].as_array().unwrap() {
            assert_eq!(a["status"], "downloaded", "{key}: {a}");
            let path = mirror.data().join(a["local_path"].as_str().unwrap());
            assert_eq!(
                std::fs::metadata(&path).unwrap().len(),
                a["size_bytes"].as_u64().unwrap()
            );
        }
    }
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sla_is_asked_for_only_for_issues_of_service_desk_projects() {
    let sim = simulator_with(SimConfig {
        issues: 20,
        projects: vec!["SUP".into(), "DEV".into()],
        software_projects: vec!["DEV".into()],
        ..SimConfig::default()
    })
    .await;
    let c = sim.config();
    let mirror = Mirror::with(
        &sim,
        MirrorOptions {
            jql: Some("project in (SUP, DEV)".into()),
            ..Default::default()
        },
    );
    mirror.run_ok(&["backfill"]).await;
    let asked: Vec<String> = sim
        .requests()
        .into_iter()
        .filter(|r| r.user.as_deref() == Some(&c.sla_email) && r.path.ends_with("/sla"))
        .map(|r| r.path)
        .collect();
    let keys = sim.issue_keys();
    let (sup, dev): (Vec<&String>, Vec<&String>) = keys.iter().partition(|k| k.starts_with("SUP-"));
    assert_eq!(sup.len(), 10);
    assert_eq!(dev.len(), 10);
    for key in &sup {
        let path = format!("/rest/servicedeskapi/request/{key}/sla");
        assert_eq!(asked.iter().filter(|p| **p == path).count(), 1, "{key}");
    }
    assert!(
        asked.iter().all(|p| !p.contains("/DEV-")),
        "SLA asked for software issues: {asked:?}"
    );
    for key in &dev {
        let issue = mirror.issue(key).unwrap();
        assert_eq!(issue["fields"]["project"]["projectTypeKey"], "software");
        assert!(issue["mirror"]["sla"].is_null(), "{key}");
    }
    // A service request keeps its figures.
    let with_sla = sup
        .iter()
        .filter(|k| !mirror.issue(k).unwrap()["mirror"]["sla"].is_null())
        .count();
    assert!(
        with_sla >= 8,
        "{with_sla} of 10 SUP issues with SLA figures"
    );
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_main_accounts_rate_holds_in_every_second_with_parts_asked_at_once() {
    let sim = simulator_with(SimConfig {
        issues: 16,
        big_issues: Vec::new(),
        hostile_attachments: false,
        ..SimConfig::default()
    })
    .await;
    let c = sim.config();
    let mirror = Mirror::with(&sim, MirrorOptions::default());
    // 5 requests per second (a burst of 5, then one every 200 ms) for the main account.
    let text = std::fs::read_to_string(&mirror.config_path).unwrap();
    std::fs::write(
        &mirror.config_path,
        text.replacen(
            "max_requests_per_second = 1000\n",
            "max_requests_per_second = 5\n",
            1,
        ),
    )
    .unwrap();
    mirror.run_ok(&["backfill"]).await;
    let mut main: Vec<Instant> = sim
        .requests()
        .into_iter()
        .filter(|r| r.host == "api" && r.user.as_deref() == Some(&c.email))
        .map(|r| r.at)
        .collect();
    main.sort();
    assert!(main.len() >= 17, "{} requests", main.len());
    // In any one second: at most the burst plus one second's worth.
    for (i, start) in main.iter().enumerate() {
        let within = main[i..]
            .iter()
            .take_while(|t| t.duration_since(*start) < Duration::from_secs(1))
            .count();
        assert!(
            within <= 10,
            "{within} main-account requests within one second"
        );
    }
    let span = *main.last().unwrap() - main[0];
    let floor = Duration::from_millis(200 * (main.len() as u64 - 6));
    assert!(span >= floor, "{} requests in {span:?}", main.len());
    sim.shutdown().await;
}
