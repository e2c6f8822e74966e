//! The webhook receiver end to end: `jira-mirror run` with `[webhook]` on 127.0.0.1, the
//! reference payloads posted signed (retargeted at the simulator's issues), refusals that
//! leave no trace, and a replayed delivery processed once.

use std::path::Path;
use std::time::{Duration, Instant};

use jira_mirror::simulator::Simulator;
use jira_mirror::triggers::webhook::MAX_IN_FLIGHT;
use jira_mirror::triggers::webhook::signature::Verifier;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::support::daemon::{Daemon, wait_saved};
use crate::support::*;

const SECRET: &str = "test-hook-secret-0123";
/// A schedule that never fires during a test (03:00 daily): only the catch-up sweep runs.
const NEVER: &str = "0 0 3 * * *";

fn mirror_with_webhook(sim: &Simulator) -> Mirror {
    mirror_with_webhook_keys(sim, "")
}

/// Like [`mirror_with_webhook`], with more `[webhook]` keys (`key = value` lines).
fn mirror_with_webhook_keys(sim: &Simulator, keys: &str) -> Mirror {
    Mirror::with(
        sim,
        MirrorOptions {
            sweep_schedule: Some(NEVER.into()),
            extra: format!(
                "\n[webhook]\nlisten = \"127.0.0.1:0\"\nsecret = \"{SECRET}\"\nretention_days = 3\n{keys}"
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
            && daemon.log().lines().any(|l| l
                .contains("Scheduled run done.")
                && l.contains("sweep")))
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
                // A connection per request: some tests close idle ones within 300 ms.
                .pool_max_idle_per_host(0)
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

/// A reference payload, its `timestamp` moved to now (the receiver refuses old deliveries).
fn reference(name: &str) -> Value {
    let path = format!("{}/tests/data/webhook/{name}", env!("CARGO_MANIFEST_DIR"));
    let mut body: Value = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
    body["timestamp"] = json!(now_ms());
    body
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
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
        json!({"accepted": 0, "duplicate": 0, "unauthorized": 3, "oversized": 1, "malformed": 3, "stale": 0, "undated": 0})
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
    // `status`, from another process, counts the one accepted delivery.
    let out = mirror.run_ok(&["status", "--json"]).await;
    let status: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(status["webhook"]["deliveries"], 1, "{status}");
    assert!(status["webhook"]["last_received"].is_string(), "{status}");
    let text = stdout(&mirror.run_ok(&["status"]).await);
    assert!(
        text.contains("webhook:   1 deliveries accepted in the last 3 days"),
        "{text}"
    );

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

/// `http://127.0.0.1:port` → `127.0.0.1:port`.
fn host_port(base: &str) -> &str {
    base.trim_start_matches("http://")
}

/// A raw HTTP/1.1 POST of `body`, signed, keeping the connection open.
fn signed_request(body: &[u8], identifier: &str) -> Vec<u8> {
    let signature = Verifier::new(SECRET.as_bytes()).sign(body);
    let mut request = format!(
        "POST /webhooks/jira HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n\
         X-Hub-Signature: {signature}\r\nX-Atlassian-Webhook-Identifier: {identifier}\r\n\
         Content-Length: {}\r\n\r\n",
        body.len()
    )
    .into_bytes();
    request.extend_from_slice(body);
    request
}

const HEALTH_REQUEST: &[u8] = b"GET /webhooks/jira/health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";

/// Reads one HTTP response (status and body; the body by its `Content-Length`).
async fn read_response(stream: &mut TcpStream) -> std::io::Result<(u16, Vec<u8>)> {
    let mut data = Vec::new();
    let mut chunk = [0u8; 4096];
    let closed = || std::io::Error::from(std::io::ErrorKind::UnexpectedEof);
    let head_end = loop {
        if let Some(at) = data.windows(4).position(|w| w == b"\r\n\r\n") {
            break at + 4;
        }
        match stream.read(&mut chunk).await? {
            0 => return Err(closed()),
            n => data.extend_from_slice(&chunk[..n]),
        }
    };
    let head = String::from_utf8_lossy(&data[..head_end]).to_ascii_lowercase();
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let length: usize = head
        .lines()
        .find_map(|l| l.strip_prefix("content-length:"))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0);
    while data.len() < head_end + length {
        match stream.read(&mut chunk).await? {
            0 => return Err(closed()),
            n => data.extend_from_slice(&chunk[..n]),
        }
    }
    Ok((status, data[head_end..head_end + length].to_vec()))
}

/// Sends `request` on `stream` and reads the answer, within 5 s.
async fn exchange(stream: &mut TcpStream, request: &[u8]) -> (u16, Vec<u8>) {
    tokio::time::timeout(Duration::from_secs(5), async {
        stream.write_all(request).await?;
        read_response(stream).await
    })
    .await
    .expect("answered within 5 s")
    .expect("an HTTP response")
}

/// The health JSON, asked on `stream` (kept open).
async fn health_on(stream: &mut TcpStream) -> Value {
    let (status, body) = exchange(stream, HEALTH_REQUEST).await;
    assert_eq!(status, 200);
    serde_json::from_slice(&body).unwrap()
}

/// How long until the server closes `stream` (reads end or fail), at most `within`; when
/// `dribble` is given it is written every 50 ms meanwhile, like a client that sends its
/// headers slowly and never finishes. `None`: still open after `within`.
async fn closed_after(
    stream: &mut TcpStream,
    dribble: Option<&[u8]>,
    within: Duration,
) -> Option<Duration> {
    let start = Instant::now();
    let mut buf = [0u8; 1024];
    while start.elapsed() < within {
        tokio::select! {
            read = stream.read(&mut buf) => match read {
                Ok(0) | Err(_) => return Some(start.elapsed()),
                Ok(_) => {} // an answer would be a bug; the test sees it as "still open"
            },
            () = tokio::time::sleep(Duration::from_millis(50)) => {
                if let Some(bytes) = dribble
                    && stream.write_all(bytes).await.is_err()
                {
                    return Some(start.elapsed());
                }
            }
        }
    }
    None
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webhook_closes_connections_whose_headers_are_late_and_idle_ones() {
    let sim = simulator(4).await;
    let mirror = mirror_with_webhook_keys(&sim, "header_timeout_ms = 300\n");
    let (daemon, base) = start(&sim, &mirror).await;
    let addr = host_port(&base);
    let within = Duration::from_secs(3);

    // Silent from the start; headers a line every 50 ms, never finished (slow loris); idle
    // after a complete request on a kept-alive connection.
    let silent = async {
        let mut stream = TcpStream::connect(addr).await.unwrap();
        closed_after(&mut stream, None, within).await
    };
    let slow = async {
        let mut stream = TcpStream::connect(addr).await.unwrap();
        stream
            .write_all(b"POST /webhooks/jira HTTP/1.1\r\nHost: 127.0.0.1\r\n")
            .await
            .unwrap();
        closed_after(&mut stream, Some(b"X-Slow: 1\r\n"), within).await
    };
    let kept_alive = async {
        let mut stream = TcpStream::connect(addr).await.unwrap();
        health_on(&mut stream).await;
        closed_after(&mut stream, None, within).await
    };
    let (silent, slow, kept_alive) = tokio::join!(silent, slow, kept_alive);
    for (what, closed) in [
        ("silent", silent),
        ("slow headers", slow),
        ("idle keep-alive", kept_alive),
    ] {
        let closed = closed.unwrap_or_else(|| panic!("{what}: still open after {within:?}"));
        assert!(
            closed >= Duration::from_millis(200) && closed <= Duration::from_millis(2500),
            "{what}: closed after {closed:?}, expected about 300 ms"
        );
    }
    let mut stream = TcpStream::connect(addr).await.unwrap();
    let health = health_on(&mut stream).await;
    assert!(
        health["connections"]["timed_out"].as_u64() >= Some(3),
        "{health}"
    );
    // The receiver still serves.
    let body = retarget("webhook_issue_updated.json", &sim, "SUP-2");
    assert_eq!(
        Poster::new(&base)
            .post_signed(&body, "after-timeouts")
            .await,
        202
    );
    assert!(daemon.terminate().await.success());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webhook_refuses_connections_beyond_max_connections_and_serves_the_others() {
    let sim = simulator(4).await;
    // Idle connections stay open for 5 s: longer than this test needs.
    let mirror = mirror_with_webhook_keys(&sim, "max_connections = 3\nheader_timeout_ms = 5000\n");
    let (daemon, base) = start(&sim, &mirror).await;
    let addr = host_port(&base);
    sim.clear_requests();

    // Two idle clients and a kept-alive one take every slot (connections are accepted in
    // order, so once the third is answered the first two are open).
    let mut idle = Vec::new();
    for _ in 0..2 {
        idle.push(TcpStream::connect(addr).await.unwrap());
    }
    let mut kept = TcpStream::connect(addr).await.unwrap();
    assert_eq!(health_on(&mut kept).await["connections"]["open"], 3);

    // A fourth client with a good delivery is refused at once, unread: 503 or a reset.
    let body = retarget("webhook_issue_updated.json", &sim, "SUP-2");
    let mut extra = TcpStream::connect(addr).await.unwrap();
    let _ = extra.write_all(&signed_request(&body, "while-full")).await;
    let refused = tokio::time::timeout(Duration::from_secs(2), read_response(&mut extra))
        .await
        .expect("the extra connection is answered or closed at once");
    match refused {
        Ok((503, _)) | Err(_) => {}
        Ok(other) => panic!("the extra connection was served: {other:?}"),
    }
    // The open ones are still served.
    let (status, _) = exchange(&mut kept, &signed_request(&body, "on-a-slot")).await;
    assert_eq!(status, 202);
    assert!(wait_saved(&sim, &mirror, "SUP-2", Duration::from_secs(30)).await);
    let health = health_on(&mut kept).await;
    assert_eq!(health["connections"]["max"], 3, "{health}");
    assert_eq!(health["connections"]["peak"], 3, "{health}");
    assert!(
        health["connections"]["refused"].as_u64() >= Some(1),
        "{health}"
    );
    assert_eq!(health["deliveries"]["accepted"], 1, "{health}");
    // A client that leaves frees its slot for the next one.
    drop(idle.pop());
    let freed = tokio::time::timeout(Duration::from_secs(3), async {
        while health_on(&mut kept).await["connections"]["open"] != 2 {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await;
    assert!(freed.is_ok(), "the closed connection's slot was freed");
    let mut next = TcpStream::connect(addr).await.unwrap();
    assert_eq!(health_on(&mut next).await["connections"]["open"], 3);
    drop((idle, kept, next, extra));
    assert!(daemon.terminate().await.success());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webhook_slow_bodies_hold_no_delivery_permit() {
    let sim = simulator(4).await;
    // Room for every permit's worth of slow senders and more; their bodies may take 5 s.
    let keys = format!(
        "max_connections = {}\nbody_timeout_ms = 5000\n",
        MAX_IN_FLIGHT + 8
    );
    let mirror = mirror_with_webhook_keys(&sim, &keys);
    let (daemon, base) = start(&sim, &mirror).await;
    let addr = host_port(&base);
    sim.clear_requests();
    let mut kept = TcpStream::connect(addr).await.unwrap();

    // As many senders as there are permits: headers complete, body stopped after 10 bytes.
    let body = retarget("webhook_issue_updated.json", &sim, "SUP-2");
    let mut slow = Vec::new();
    for n in 0..MAX_IN_FLIGHT {
        let request = signed_request(&body, &format!("slow-{n}"));
        let head_end = request.len() - body.len();
        let mut stream = TcpStream::connect(addr).await.unwrap();
        stream.write_all(&request[..head_end + 10]).await.unwrap();
        slow.push(stream);
    }
    let all_receiving = tokio::time::timeout(Duration::from_secs(5), async {
        loop {
            let health = health_on(&mut kept).await;
            if health["receiving"] == MAX_IN_FLIGHT {
                return health;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await
    .expect("every slow body is being received");
    assert_eq!(all_receiving["in_flight"], 0, "{all_receiving}");

    // A complete delivery meanwhile is handled, not answered "too many deliveries".
    let (status, answer) = exchange(&mut kept, &signed_request(&body, "on-time")).await;
    assert_eq!(status, 202, "{}", String::from_utf8_lossy(&answer));
    assert!(wait_saved(&sim, &mirror, "SUP-2", Duration::from_secs(30)).await);
    let health = health_on(&mut kept).await;
    assert_eq!(health["receiving"], MAX_IN_FLIGHT, "{health}");
    assert_eq!(health["deliveries"]["accepted"], 1, "{health}");
    drop((slow, kept));
    assert!(daemon.terminate().await.success());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webhook_same_body_under_another_identifier_is_a_repeat() {
    let sim = simulator(4).await;
    let mirror = mirror_with_webhook(&sim);
    let (daemon, base) = start(&sim, &mirror).await;
    let poster = Poster::new(&base);
    sim.clear_requests();
    sim.add_comment("SUP-3", "once");

    let body = retarget("webhook_comment_created.json", &sim, "SUP-3");
    assert_eq!(poster.post_signed(&body, "first-identifier").await, 202);
    assert!(wait_saved(&sim, &mirror, "SUP-3", Duration::from_secs(30)).await);
    // A captured delivery replayed under a made-up identifier: the body gives it away.
    assert_eq!(poster.post_signed(&body, "replayed-identifier").await, 200);
    // Another body (one byte more) about another issue is a new delivery.
    let mut other = retarget("webhook_comment_created.json", &sim, "SUP-4");
    other.push(b' ');
    sim.add_comment("SUP-4", "new");
    assert_eq!(poster.post_signed(&other, "second-identifier").await, 202);
    assert!(wait_saved(&sim, &mirror, "SUP-4", Duration::from_secs(30)).await);

    let (health, _) = poster.health().await;
    assert_eq!(health["deliveries"]["accepted"], 2, "{health}");
    assert_eq!(health["deliveries"]["duplicate"], 1, "{health}");
    assert_eq!(issue_gets(&sim, "SUP-3"), 1, "the replay queued nothing");
    assert_eq!(audit_files(&mirror.data()).len(), 2);
    assert!(daemon.terminate().await.success());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webhook_refuses_deliveries_older_than_max_age_secs_or_from_the_future() {
    let sim = simulator(4).await;
    let mirror = mirror_with_webhook_keys(&sim, "max_age_secs = 120\n");
    let (daemon, base) = start(&sim, &mirror).await;
    let poster = Poster::new(&base);
    sim.clear_requests();
    sim.add_comment("SUP-2", "changed");
    let at = |timestamp: i64| {
        let mut body =
            serde_json::from_slice::<Value>(&retarget("webhook_issue_updated.json", &sim, "SUP-2"))
                .unwrap();
        body["timestamp"] = json!(timestamp);
        serde_json::to_vec(&body).unwrap()
    };

    // Signed, well formed, but 200 s old (a captured delivery replayed), or 10 minutes
    // ahead: refused, nothing stored or queued.
    let now = now_ms();
    assert_eq!(poster.post_signed(&at(now - 200_000), "stale-1").await, 403);
    assert_eq!(
        poster.post_signed(&at(now + 600_000), "future-1").await,
        403
    );
    // (An accepted delivery is copied and queued before its answer.)
    assert!(!mirror.data().join("raw/events").exists(), "no audit copy");
    assert_eq!(poster.health().await.0["deliveries"]["accepted"], 0);
    let log = daemon.log();
    assert!(
        log.lines()
            .any(|l| l.contains("WARN") && l.contains("max_age_secs = 120")),
        "{log}"
    );
    assert!(!log.contains(SECRET));

    // The same delivery 30 s old is within the window; one without a timestamp is accepted
    // (and counted).
    assert_eq!(poster.post_signed(&at(now - 30_000), "fresh-1").await, 202);
    assert!(wait_saved(&sim, &mirror, "SUP-2", Duration::from_secs(30)).await);
    let mut undated = reference("webhook_issue_updated.json");
    undated.as_object_mut().unwrap().remove("timestamp");
    let undated = serde_json::to_vec(&undated).unwrap();
    assert_eq!(poster.post_signed(&undated, "undated-1").await, 202);
    let (health, _) = poster.health().await;
    assert_eq!(health["deliveries"]["stale"], 2, "{health}");
    assert_eq!(health["deliveries"]["undated"], 1, "{health}");
    assert_eq!(health["deliveries"]["accepted"], 2, "{health}");
    assert!(daemon.terminate().await.success());
}
