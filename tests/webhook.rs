//! The webhook receiver end to end: `jira-mirror run` with `[webhook]` on 127.0.0.1, the
//! reference payloads posted signed (retargeted at the simulator's issues), refusals that
//! leave no trace, and a replayed delivery processed once.

use std::path::Path;
use std::time::Duration;

use jira_mirror::simulator::Simulator;
use jira_mirror::triggers::webhook::signature::Verifier;
use serde_json::{Value, json};

use crate::support::daemon::{Daemon, wait_saved};
use crate::support::*;

const SECRET: &str = "test-hook-secret-0123";
/// A schedule that never fires during a test (03:00 daily): only the catch-up sweep runs.
const NEVER: &str = "0 0 3 * * *";

fn mirror_with_webhook(sim: &Simulator) -> Mirror {
    Mirror::with(
        sim,
        MirrorOptions {
            sweep_schedule: Some(NEVER.into()),
            extra: format!(
                "\n[webhook]\nlisten = \"127.0.0.1:0\"\nsecret = \"{SECRET}\"\nretention_days = 3\n"
            ),
            ..Default::default()
        },
    )
}

/// Starts `run` and waits for its catch-up sweep and for the receiver's address.
async fn start(sim: &Simulator, mirror: &Mirror) -> (Daemon, String) {
    let daemon = Daemon::start(mirror);
    let all = sim.issue_keys().len();
    assert!(
        wait_for(Duration::from_secs(60), || mirror.saved_keys().len() == all
            && daemon.log().contains("Sweep done."))
        .await,
        "catch-up sweep\n{}",
        daemon.log()
    );
    let re = regex::Regex::new(r"listen\S*=\S*?(127\.0\.0\.1:\d+)").unwrap();
    let log = daemon.log();
    let addr = re
        .captures(&log)
        .unwrap_or_else(|| panic!("no listen address logged\n{log}"))[1]
        .to_string();
    (daemon, format!("http://{addr}"))
}

struct Poster {
    client: reqwest::Client,
    url: String,
}

impl Poster {
    fn new(base: &str) -> Poster {
        Poster {
            client: reqwest::Client::builder()
                .timeout(Duration::from_secs(10))
                .build()
                .unwrap(),
            url: format!("{base}/webhooks/jira"),
        }
    }

    /// Posts `body` with `signature` (None: unsigned) and `identifier`; returns the status.
    async fn post(&self, body: &[u8], signature: Option<String>, identifier: &str) -> u16 {
        let mut request = self
            .client
            .post(&self.url)
            .header("content-type", "application/json")
            .header("X-Atlassian-Webhook-Identifier", identifier)
            .body(body.to_vec());
        if let Some(signature) = signature {
            request = request.header("X-Hub-Signature", signature);
        }
        request.send().await.expect("post").status().as_u16()
    }

    async fn post_signed(&self, body: &[u8], identifier: &str) -> u16 {
        let signature = Verifier::new(SECRET.as_bytes()).sign(body);
        self.post(body, Some(signature), identifier).await
    }

    async fn health(&self) -> (Value, String) {
        let text = self
            .client
            .get(format!("{}/health", self.url))
            .send()
            .await
            .expect("health")
            .text()
            .await
            .unwrap();
        (serde_json::from_str(&text).expect("health JSON"), text)
    }
}

fn reference(name: &str) -> Value {
    let path = format!("{}/tests/data/webhook/{name}", env!("CARGO_MANIFEST_DIR"));
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

fn id_of(sim: &Simulator, key: &str) -> i64 {
    sim.issue(key).unwrap()["id"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap()
}

/// A reference payload about `key` of the simulator instead of its own issue.
fn retarget(name: &str, sim: &Simulator, key: &str) -> Vec<u8> {
    let mut body = reference(name);
    let id = id_of(sim, key);
    if body.get("issue").is_some() {
        body["issue"]["key"] = json!(key);
        body["issue"]["id"] = json!(id.to_string());
    }
    serde_json::to_vec(&body).unwrap()
}

fn audit_files(data: &Path) -> Vec<String> {
    let mut out = Vec::new();
    for day in std::fs::read_dir(data.join("raw/events"))
        .into_iter()
        .flatten()
    {
        for file in std::fs::read_dir(day.unwrap().path()).unwrap() {
            out.push(file.unwrap().file_name().into_string().unwrap());
        }
    }
    out.sort();
    out
}

fn issue_gets(sim: &Simulator, key_or_id: &str) -> usize {
    let path = format!("/rest/api/3/issue/{key_or_id}");
    sim.requests().iter().filter(|r| r.path == path).count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webhook_reference_payloads_signed_bring_their_issues() {
    let sim = simulator(12).await;
    let mirror = mirror_with_webhook(&sim);
    let (daemon, base) = start(&sim, &mirror).await;
    let poster = Poster::new(&base);

    // Each issue event, and comment/attachment bodies with a slim `issue`: by key.
    let mut posted = 0;
    for (file, key) in [
        ("webhook_issue_created.json", "SUP-2"),
        ("webhook_issue_updated.json", "SUP-3"),
        ("webhook_issue_updated_issue_commented.json", "SUP-4"),
        ("webhook_comment_created.json", "SUP-5"),
        ("webhook_attachment_created.json", "SUP-6"),
    ] {
        sim.add_comment(key, &format!("changed before {file}"));
        posted += 1;
        let status = poster
            .post_signed(&retarget(file, &sim, key), &format!("delivery-{posted}"))
            .await;
        assert_eq!(status, 202, "{file}");
        assert!(
            wait_saved(&sim, &mirror, key, Duration::from_secs(30)).await,
            "{file} brought {key}\n{}",
            daemon.log()
        );
    }

    // A comment body without `issue` (2017 shape): the issue id from `comment.self`.
    let mut body = reference("webhook_comment_created.json");
    body.as_object_mut().unwrap().remove("issue");
    let id = id_of(&sim, "SUP-7");
    body["comment"]["self"] = json!(format!("{base}/rest/api/2/issue/{id}/comment/1"));
    sim.add_comment("SUP-7", "comment without issue");
    posted += 1;
    let status = poster
        .post_signed(&serde_json::to_vec(&body).unwrap(), "delivery-comment-self")
        .await;
    assert_eq!(status, 202);
    assert!(wait_saved(&sim, &mirror, "SUP-7", Duration::from_secs(30)).await);

    // An issue link: two ids, one known to the mirror, one of an issue created since
    // (resolved through Jira by a worker, after the answer).
    let new_key = sim.create_issue("SUP");
    sim.add_comment("SUP-8", "linked");
    let mut body = reference("webhook_issuelink_created.json");
    body["issueLink"]["sourceIssueId"] = json!(id_of(&sim, "SUP-8"));
    body["issueLink"]["destinationIssueId"] = json!(id_of(&sim, &new_key));
    posted += 1;
    let status = poster
        .post_signed(&serde_json::to_vec(&body).unwrap(), "delivery-link")
        .await;
    assert_eq!(status, 202);
    for key in ["SUP-8", new_key.as_str()] {
        assert!(
            wait_saved(&sim, &mirror, key, Duration::from_secs(30)).await,
            "issuelink brought {key}\n{}",
            daemon.log()
        );
    }

    // A deletion: the worker's fetch gets 404 and removes the local copy.
    assert!(mirror.issue("SUP-9").is_some());
    sim.delete_issue("SUP-9");
    posted += 1;
    let body = {
        let mut b = reference("webhook_issue_deleted.json");
        b["issue"]["key"] = json!("SUP-9");
        serde_json::to_vec(&b).unwrap()
    };
    assert_eq!(poster.post_signed(&body, "delivery-deleted").await, 202);
    assert!(
        wait_for(Duration::from_secs(30), || mirror.issue("SUP-9").is_none()).await,
        "SUP-9 deleted\n{}",
        daemon.log()
    );
    // An issue outside the scope (`project = SUP`) is acknowledged and not fetched.
    posted += 1;
    let other = serde_json::to_vec(&reference("webhook_issue_updated.json")).unwrap();
    assert_eq!(
        poster.post_signed(&other, "delivery-other-project").await,
        202
    );

    // Every accepted delivery has its audit copy, named by its identifier.
    let files = audit_files(&mirror.data());
    assert_eq!(files.len(), posted, "{files:?}");
    assert!(
        files
            .iter()
            .any(|f| f.ends_with("-webhook-delivery-link.json"))
    );

    let (health, text) = poster.health().await;
    assert_eq!(health["deliveries"]["accepted"], posted);
    assert_eq!(health["configured"]["webhook_secret"], true);
    assert_eq!(health["configured"]["imap"], false);
    assert!(health["last_success"]["sweep"].is_string(), "{text}");
    assert!(health["last_success"]["webhook"].is_string(), "{text}");
    assert!(!text.contains(SECRET) && !daemon.log().contains(SECRET));
    assert!(
        issue_gets(&sim, "TEST-1") == 0,
        "outside the scope: not fetched"
    );

    assert!(daemon.terminate().await.success());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webhook_refuses_unsigned_badly_signed_oversized_and_malformed_posts_leaving_no_trace() {
    let sim = simulator(4).await;
    let mirror = mirror_with_webhook(&sim);
    let (daemon, base) = start(&sim, &mirror).await;
    let poster = Poster::new(&base);
    let before = mirror.snapshot(&sim.base_url());
    sim.clear_requests();
    sim.add_comment("SUP-2", "nobody may tell us");

    let good = retarget("webhook_issue_updated.json", &sim, "SUP-2");
    let wrong = Verifier::new(b"not the secret").sign(&good);
    assert_eq!(poster.post(&good, Some(wrong), "bad-1").await, 401);
    assert_eq!(poster.post(&good, None, "unsigned-1").await, 401);
    let mut tampered = good.clone();
    let signature = Verifier::new(SECRET.as_bytes()).sign(&good);
    tampered.extend_from_slice(b" ");
    assert_eq!(poster.post(&tampered, Some(signature), "bad-2").await, 401);
    let huge = vec![b' '; 1024 * 1024 + 1];
    assert_eq!(poster.post_signed(&huge, "huge-1").await, 413);
    assert_eq!(poster.post_signed(b"{not json", "malformed-1").await, 400);
    let no_issue = br#"{"webhookEvent":"project_created","project":{"key":"SUP"}}"#;
    assert_eq!(poster.post_signed(no_issue, "malformed-2").await, 400);
    let hostile_key = br#"{"webhookEvent":"jira:issue_updated","issue":{"key":"../../x"}}"#;
    assert_eq!(poster.post_signed(hostile_key, "malformed-3").await, 400);

    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(issue_gets(&sim, "SUP-2"), 0, "nothing was queued");
    assert_eq!(
        mirror.snapshot(&sim.base_url()),
        before,
        "nothing changed on disk"
    );
    assert!(!mirror.data().join("raw/events").exists(), "no audit copy");
    let (health, _) = poster.health().await;
    assert_eq!(
        health["deliveries"],
        json!({"accepted": 0, "duplicate": 0, "unauthorized": 3, "oversized": 1, "malformed": 3})
    );
    let log = daemon.log();
    assert!(log.contains("Webhook delivery refused."), "{log}");
    assert!(!log.contains(SECRET));

    assert!(daemon.terminate().await.success());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webhook_replayed_delivery_is_processed_once() {
    let sim = simulator(4).await;
    let mirror = mirror_with_webhook(&sim);
    let (daemon, base) = start(&sim, &mirror).await;
    let poster = Poster::new(&base);
    sim.clear_requests();
    sim.add_comment("SUP-3", "once");

    let body = retarget("webhook_comment_created.json", &sim, "SUP-3");
    let id = "2f5d3c1e-7a4b-4f0e-9c2d-1b3a5e7f9d0c";
    assert_eq!(poster.post_signed(&body, id).await, 202);
    // Jira's retry of the same delivery, at once and after the issue was processed.
    assert_eq!(poster.post_signed(&body, id).await, 200);
    assert!(wait_saved(&sim, &mirror, "SUP-3", Duration::from_secs(30)).await);
    assert_eq!(poster.post_signed(&body, id).await, 200);
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(issue_gets(&sim, "SUP-3"), 1, "fetched once");
    assert_eq!(audit_files(&mirror.data()).len(), 1);
    let (health, _) = poster.health().await;
    assert_eq!(health["deliveries"]["accepted"], 1);
    assert_eq!(health["deliveries"]["duplicate"], 2);

    // The identifier is durable: a restarted daemon still knows it.
    assert!(daemon.terminate().await.success());
    let (daemon, base) = start(&sim, &mirror).await;
    sim.clear_requests();
    assert_eq!(Poster::new(&base).post_signed(&body, id).await, 200);
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(issue_gets(&sim, "SUP-3"), 0);
    assert!(daemon.terminate().await.success());
}

/// `fields.updated` of the saved `key` (whatever its depth), if saved.
fn saved_updated(mirror: &Mirror, key: &str) -> Option<Value> {
    let bytes = std::fs::read(mirror.data().join(format!("raw/issues/{key}.json"))).ok()?;
    let issue = jira_mirror::json::from_slice(&bytes).expect("saved issue is JSON");
    let updated = issue["fields"]["updated"].clone();
    jira_mirror::json::drop_deep(issue);
    Some(updated)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webhook_delivery_with_a_5000_level_description_is_accepted() {
    use jira_mirror::simulator::{Poison, PoisonKind, SimConfig};
    let sim = simulator_with(SimConfig {
        issues: 4,
        poison: vec![Poison {
            issue: 2,
            kind: PoisonKind::DeepDescription { depth: 5_000 },
        }],
        ..SimConfig::default()
    })
    .await;
    let mirror = mirror_with_webhook(&sim);
    // The catch-up sweep already fetches the deep SUP-3 through GET /issue.
    let (daemon, base) = start(&sim, &mirror).await;
    sim.add_comment("SUP-3", "changed before the delivery");

    // The delivery carries the issue as Jira sends it: with its 5,000-list description
    // (taken out of the truth, not cloned: a clone would recurse).
    let mut truth = sim.issue("SUP-3").unwrap();
    let mut body = reference("webhook_issue_updated.json");
    body["issue"]["key"] = json!("SUP-3");
    body["issue"]["id"] = truth["id"].clone();
    body["issue"]["fields"]["description"] = truth["fields"]["description"].take();
    let updated = truth["fields"]["updated"].clone();
    jira_mirror::json::drop_deep(truth);
    let bytes = jira_mirror::json::to_vec(&body).unwrap();
    jira_mirror::json::drop_deep(body);
    assert!(bytes.len() < 1024 * 1024, "within the body limit");

    let status = Poster::new(&base)
        .post_signed(&bytes, "delivery-deep")
        .await;
    assert_eq!(status, 202, "{}", daemon.log());
    assert!(
        wait_for(Duration::from_secs(30), || saved_updated(&mirror, "SUP-3")
            .is_some_and(|u| u == updated))
        .await,
        "SUP-3 saved after the delivery\n{}",
        daemon.log()
    );
    // Its audit copy is the body as received.
    let day = std::fs::read_dir(mirror.data().join("raw/events"))
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    let audit = std::fs::read_dir(day)
        .unwrap()
        .map(|f| f.unwrap().path())
        .find(|p| p.to_string_lossy().ends_with("-webhook-delivery-deep.json"))
        .expect("audit copy");
    assert!(std::fs::read(audit).unwrap() == bytes);
    assert!(daemon.terminate().await.success());
}
