//! The mailbox trigger against a real Dovecot on 127.0.0.1 and the simulator.

use std::time::Duration;

use jira_mirror::simulator::{Part, Poison, PoisonKind, SimConfig, Simulator};

use std::sync::{Arc, Mutex};

use indicatif::ProgressBar;
use jira_mirror::app::Context;
use jira_mirror::jira::jql::scope_projects;
use jira_mirror::triggers::mail::extract::MAX_ISSUE_IDS;
use jira_mirror::triggers::mail::imap::Session;
use jira_mirror::triggers::mail::pass::{MailSummary, ProcessNow, Sink, pass_on, settings};
use jira_mirror::triggers::mail::watch::{WatchOptions, watch_task};
use tokio_util::sync::CancellationToken;

use crate::support::daemon::{Daemon, wait_saved};
use crate::support::dovecot::{Dovecot, DovecotOptions};
use crate::support::proxy::Proxy;
use crate::support::*;

pub(crate) const JIRA: &str = "jira@example.atlassian.net";

/// A Jira Cloud notification (shape of the 2023 capture in tests/data/mail) naming `key`.
pub(crate) fn cloud_mail(from: &str, key: &str, summary: &str) -> Vec<u8> {
    format!(
        "From: \"Ann Agent (Jira)\" <{from}>\r\n\
         To: jira-notify@example.com\r\n\
         Subject: [JIRA] ({key}) {summary}\r\n\
         Message-ID: <8c2f9d1e-1b7a-4c39-9d53-{n:012}@example.atlassian.net>\r\n\
         Date: Tue, 12 Sep 2023 16:40:46 +0000\r\n\
         X-JIRA-FingerPrint: 0123456789abcdef0123456789abcdef\r\n\
         Atl-Sent-Via: jira-np-distributor\r\n\
         Precedence: bulk\r\n\
         MIME-Version: 1.0\r\n\
         Content-Type: text/plain; charset=UTF-8\r\n\
         \r\n\
         Ann Agent *made 1 update*.\r\n\
         \r\n\
         Support / {key}\r\n\
         https://example.atlassian.net/browse/{key}?atlOrigin=eyJpIjoiMSJ9\r\n",
        n = key.len()
    )
    .into_bytes()
}

/// A Jira Data Center notification whose only issue reference is the Message-ID's issue id.
fn dc_mail_by_id(issue_id: i64) -> Vec<u8> {
    format!(
        "From: \"Paul Agent (JIRA)\" <{JIRA}>\r\n\
         Subject: [JIRA] Daily digest\r\n\
         Message-ID: <JIRA.{issue_id}.1460652284000.68665.1460652300154@Atlassian.JIRA>\r\n\
         In-Reply-To: <JIRA.{issue_id}.1460652284000@Atlassian.JIRA>\r\n\
         X-JIRA-FingerPrint: 0123456789abcdef0123456789abcdef\r\n\
         MIME-Version: 1.0\r\n\
         Content-Type: text/plain; charset=UTF-8\r\n\
         \r\n\
         An issue was updated.\r\n"
    )
    .into_bytes()
}

/// A notification from an allowed sender (a `From` is easy to forge) whose `References` name
/// `n` issue ids Jira does not know: 900001, 900002, …
fn forged_ids_mail(n: i64) -> Vec<u8> {
    let references: Vec<String> = (1..=n)
        .map(|i| format!("<JIRA.{}.1460652284000@Atlassian.JIRA>", 900_000 + i))
        .collect();
    format!(
        "From: \"Paul Agent (JIRA)\" <{JIRA}>\r\n\
         Subject: [JIRA] Daily digest\r\n\
         Message-ID: <forged-{n}@evil.example>\r\n\
         References: {}\r\n\
         X-JIRA-FingerPrint: 0123456789abcdef0123456789abcdef\r\n\
         MIME-Version: 1.0\r\n\
         Content-Type: text/plain; charset=UTF-8\r\n\
         \r\n\
         Issues were updated.\r\n",
        references.join("\r\n ")
    )
    .into_bytes()
}

/// The simulator's requests for issues by one of the forged ids (`/rest/api/3/issue/9000…`).
fn forged_id_requests(sim: &Simulator) -> Vec<String> {
    sim.requests()
        .into_iter()
        .filter(|r| r.path.starts_with("/rest/api/3/issue/900"))
        .map(|r| r.path)
        .collect()
}

/// The mirror's state database, opened beside whatever runs on it.
fn state_db(mirror: &Mirror) -> rusqlite::Connection {
    rusqlite::Connection::open(mirror.data().join("state.db")).expect("state.db")
}

/// Makes every mail of the retry set due now (instead of waiting out its backoff).
fn make_retries_due(mirror: &Mirror) {
    state_db(mirror)
        .execute("UPDATE mail_retry SET next_try_ms = 0", [])
        .expect("update mail_retry");
}

/// The rows of the daemon's queue, sorted.
fn queue_rows(mirror: &Mirror) -> Vec<String> {
    let conn = state_db(mirror);
    let mut stmt = conn
        .prepare("SELECT issue_key FROM queue ORDER BY issue_key")
        .expect("query");
    stmt.query_map([], |r| r.get(0))
        .expect("rows")
        .collect::<Result<_, _>>()
        .expect("queue rows")
}

/// Log text without ANSI colour codes.
fn plain(log: &str) -> String {
    let mut out = String::with_capacity(log.len());
    let mut chars = log.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            for c in chars.by_ref() {
                if c.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// A simulator whose SUP-3 Jira refuses (403 on `GET /issue/SUP-3`; search still lists it).
async fn simulator_refusing_sup3(issues: usize) -> Simulator {
    simulator_with(SimConfig {
        issues,
        poison: vec![Poison {
            issue: 2,
            kind: PoisonKind::Forbidden { part: Part::Issue },
        }],
        ..SimConfig::default()
    })
    .await
}

/// A simulator with `issues` issues, a Dovecot, and a mirror whose `[imap]` section points
/// at it (plus `extra` keys).
async fn setup(issues: usize, extra: &str) -> (Simulator, Dovecot, Mirror) {
    let sim = simulator(issues).await;
    let dovecot = Dovecot::start();
    let mirror = Mirror::with(
        &sim,
        MirrorOptions {
            extra: imap_section(&dovecot, extra),
            ..Default::default()
        },
    );
    (sim, dovecot, mirror)
}

pub(crate) async fn seen(d: &Dovecot, uid: u32) -> bool {
    d.flags_of("INBOX", uid)
        .await
        .unwrap_or_default()
        .iter()
        .any(|f| f == "\\Seen")
}

pub(crate) fn imap_section(d: &Dovecot, extra: &str) -> String {
    imap_section_on(d, d.settings().port, extra)
}

/// `[imap]` for Dovecot's user, connecting to `port` (Dovecot's, or a proxy's in front of it).
fn imap_section_on(d: &Dovecot, port: u16, extra: &str) -> String {
    let s = d.settings();
    format!(
        "\n[imap]\nhost = \"127.0.0.1\"\nport = {}\nsecurity = \"none\"\nusername = {}\npassword = {}\nallowed_senders = [\"{JIRA}\"]\n{extra}\n",
        port,
        toml::Value::String(s.username),
        toml::Value::String(s.password)
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_mail_pass_fetches_the_issues_named_and_marks_the_mails_seen() {
    let (sim, dovecot, mirror) = setup(12, "").await;
    mirror.run_ok(&["backfill"]).await;
    sim.touch("SUP-3");
    sim.touch("SUP-5");
    let sup5_id: i64 = sim.issue("SUP-5").unwrap()["id"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    let a = dovecot
        .append("INBOX", &cloud_mail(JIRA, "SUP-3", "Printer on fire"), &[])
        .await;
    let b = dovecot.append("INBOX", &dc_mail_by_id(sup5_id), &[]).await;
    sim.clear_requests();

    let out = mirror.run_ok(&["mail"]).await;
    assert!(stdout(&out).contains("2 acknowledged"), "{}", stdout(&out));
    for key in ["SUP-3", "SUP-5"] {
        assert_eq!(
            history_ids(&mirror.issue(key).unwrap()),
            history_ids(&sim.issue(key).unwrap()),
            "{key}"
        );
    }
    assert!(seen(&dovecot, a).await);
    assert!(seen(&dovecot, b).await);
    // Each mail acted on leaves one audit record (not the mail itself) in raw/events/<day>/.
    let records: Vec<serde_json::Value> = std::fs::read_dir(mirror.data().join("raw/events"))
        .unwrap()
        .flat_map(|day| std::fs::read_dir(day.unwrap().path()).unwrap())
        .map(|f| f.unwrap().path())
        .filter(|p| p.to_string_lossy().contains("-mail-"))
        .map(|p| serde_json::from_slice(&std::fs::read(p).unwrap()).unwrap())
        .collect();
    assert_eq!(records.len(), 2, "{records:?}");
    assert!(
        records
            .iter()
            .any(|r| r["keys"] == serde_json::json!(["SUP-3"])
                && r["uid"] == a
                && r["mailbox"] == "INBOX")
    );
    assert!(
        records
            .iter()
            .any(|r| r["issue_ids"] == serde_json::json!([sup5_id]))
    );
    // The tables follow: SUP-3's changelog rows include the new history.
    let tables = mirror.tables();
    let rows = tables["changelog"]
        .iter()
        .filter(|r| r["issue_key"] == "\"SUP-3\"")
        .count();
    let items: usize = mirror.issue("SUP-3").unwrap()["changelog"]["histories"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["items"].as_array().unwrap().len())
        .sum();
    assert_eq!(rows, items);
    // A second pass has nothing to do.
    sim.clear_requests();
    let out = mirror.run_ok(&["mail"]).await;
    assert!(stdout(&out).contains("0 acknowledged"), "{}", stdout(&out));
    assert!(sim.requests().is_empty());
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_mail_is_handled_by_policy_and_good_mail_still_processed() {
    let (sim, dovecot, mirror) = setup(8, "").await;
    mirror.run_ok(&["backfill"]).await;
    sim.touch("SUP-2");
    sim.touch("SUP-4");
    let spoofed = dovecot
        .append(
            "INBOX",
            &cloud_mail("attacker@evil.example", "SUP-2", "urgent"),
            &[],
        )
        .await;
    let mut huge = cloud_mail(JIRA, "SUP-2", "big");
    huge.extend(std::iter::repeat_n(b'x', 30 * 1024 * 1024));
    let huge = dovecot.append("INBOX", &huge, &[]).await;
    let newsletter = dovecot
        .append("INBOX", format!("From: {JIRA}\r\nSubject: Our product news\r\nContent-Type: text/plain\r\n\r\nHello!\r\n").as_bytes(), &[])
        .await;
    let broken = dovecot
        .append("INBOX", format!("From: {JIRA}\r\nSubject: [JIRA] (SUP-2) x\r\nContent-Type: multipart/mixed; boundary=\"zz\"\r\n\r\n--zz\r\nContent-Type: text/plain\r\nContent-Transfer-Encoding: base64\r\n\r\n@@@not base64@@@").as_bytes(), &[])
        .await;
    let good = dovecot
        .append("INBOX", &cloud_mail(JIRA, "SUP-4", "legit"), &[])
        .await;

    let out = mirror.run_ok(&["mail"]).await;
    let err = stderr(&out);
    assert!(stdout(&out).contains("1 acknowledged"), "{}", stdout(&out));
    assert_eq!(
        history_ids(&mirror.issue("SUP-4").unwrap()),
        history_ids(&sim.issue("SUP-4").unwrap())
    );
    // The spoofed mail named a real, changed issue: it was not fetched.
    assert_ne!(
        history_ids(&mirror.issue("SUP-2").unwrap()),
        history_ids(&sim.issue("SUP-2").unwrap())
    );
    assert!(seen(&dovecot, good).await);
    for uid in [spoofed, huge, newsletter, broken] {
        assert!(!seen(&dovecot, uid).await, "uid {uid} left unseen");
    }
    let lines: Vec<_> = err
        .lines()
        .filter(|l| l.contains("Mail not acted on"))
        .collect();
    assert!(lines.len() >= 3, "one line per rejected mail:\n{err}");
    // Remembered: the next pass neither downloads nor logs them again.
    let out = mirror.run_ok(&["mail"]).await;
    assert!(
        !stderr(&out).contains("Mail not acted on"),
        "{}",
        stderr(&out)
    );
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rejected_mail_can_be_moved_to_a_folder() {
    let (sim, dovecot, mirror) =
        setup(4, "on_rejected = \"move\"\nrejected_folder = \"Rejected\"").await;
    mirror.run_ok(&["backfill"]).await;
    dovecot
        .append(
            "INBOX",
            &cloud_mail("attacker@evil.example", "SUP-2", "urgent"),
            &[],
        )
        .await;
    mirror.run_ok(&["mail"]).await;
    assert_eq!(dovecot.uids("INBOX").await.len(), 0);
    assert_eq!(dovecot.uids("Rejected").await.len(), 1);
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_after_fetching_mail_the_next_pass_processes_it_once() {
    let (sim, dovecot, mirror) = setup(6, "").await;
    mirror.run_ok(&["backfill"]).await;
    sim.touch("SUP-3");
    let uid = dovecot
        .append("INBOX", &cloud_mail(JIRA, "SUP-3", "slow"), &[])
        .await;
    // Jira is slow: the process has read the mail and is waiting on the issue when killed.
    sim.set_faults(jira_mirror::simulator::Faults {
        latency_ms: 10_000,
        ..Default::default()
    });
    sim.clear_requests();
    let mut child = mirror
        .command(&["mail"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let asked = wait_for(Duration::from_secs(30), || {
        sim.requests().iter().any(|r| r.path.contains("SUP-3"))
    })
    .await;
    assert!(asked, "the mail was read and its issue requested");
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(!seen(&dovecot, uid).await, "still unseen after the kill");

    sim.set_faults(jira_mirror::simulator::Faults::default());
    sim.clear_requests();
    let out = mirror.run_ok(&["mail"]).await;
    assert!(stdout(&out).contains("1 acknowledged"), "{}", stdout(&out));
    assert!(seen(&dovecot, uid).await);
    let fetches = sim
        .requests()
        .into_iter()
        .filter(|r| r.path == "/rest/api/3/issue/SUP-3")
        .count();
    assert_eq!(fetches, 1, "processed exactly once");
    assert_eq!(
        history_ids(&mirror.issue("SUP-3").unwrap()),
        history_ids(&sim.issue("SUP-3").unwrap())
    );
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_tests_the_imap_login_and_mailbox() {
    let (sim, dovecot, mirror) = setup(3, "").await;
    let out = mirror.run_ok(&["check"]).await;
    assert!(stdout(&out).contains("imap: ok"), "{}", stdout(&out));

    let mut wrong = dovecot.settings();
    wrong.password = "not-the-password-123".into();
    let bad = format!(
        "\n[imap]\nhost = \"127.0.0.1\"\nport = {}\nsecurity = \"none\"\nusername = {}\npassword = \"{}\"\nallowed_senders = [\"{JIRA}\"]\n",
        wrong.port,
        toml::Value::String(wrong.username.clone()),
        wrong.password
    );
    let mirror = Mirror::with(
        &sim,
        MirrorOptions {
            extra: bad,
            ..Default::default()
        },
    );
    let out = mirror.run(&["check"]).await;
    assert_eq!(
        out.status.code(),
        Some(2),
        "a refused IMAP login is a configuration error"
    );
    let err = stderr(&out);
    assert!(err.contains("error"), "{err}");
    assert!(
        !err.contains("not-the-password-123") && !stdout(&out).contains("not-the-password-123")
    );
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_mail_does_not_hold_back_later_mail_and_is_given_up_after_max_attempts() {
    let sim = simulator_refusing_sup3(6).await;
    let dovecot = Dovecot::start();
    let mirror = Mirror::with(
        &sim,
        MirrorOptions {
            extra: imap_section(&dovecot, "max_attempts = 3"),
            ..Default::default()
        },
    );
    let failing = dovecot
        .append("INBOX", &cloud_mail(JIRA, "SUP-3", "Refused"), &[])
        .await;
    let later = dovecot
        .append("INBOX", &cloud_mail(JIRA, "SUP-4", "Fine"), &[])
        .await;
    let out = mirror.run(&["mail"]).await;
    assert_eq!(
        out.status.code(),
        Some(1),
        "an issue failed: {}",
        stderr(&out)
    );
    assert!(
        stdout(&out).contains("1 acknowledged, 0 rejected, 1 left for retry, 0 given up (2 read"),
        "{}",
        stdout(&out)
    );
    assert!(seen(&dovecot, later).await);
    assert!(!seen(&dovecot, failing).await);
    assert!(mirror.issue("SUP-4").is_some());

    // Right after: the failing mail waits for its backoff, and the mail after it is not read
    // again (the cursor moved past both).
    sim.clear_requests();
    let out = mirror.run(&["mail"]).await;
    assert!(
        stdout(&out).contains("0 acknowledged, 0 rejected, 0 left for retry, 0 given up (0 read"),
        "{}",
        stdout(&out)
    );
    assert!(per_issue_requests(&sim.requests(), "SUP-4").is_empty());
    assert!(per_issue_requests(&sim.requests(), "SUP-3").is_empty());
    // `status` shows the cursor past both and the failing mail in the retry set.
    let status = stdout(&mirror.run_ok(&["status"]).await);
    assert!(
        status.contains(&format!(
            "mail:      INBOX up to UID {later} (UIDVALIDITY {}); 1 in the retry set, 0 rejected or given up",
            dovecot.uid_validity("INBOX").await
        )),
        "{status}"
    );
    assert!(
        status.contains(&format!("  UID {failing} (1 of 3 attempts, next ")),
        "{status}"
    );
    assert!(status.contains("): SUP-3: "), "{status}");

    // Once due, it is tried again, alone: attempt 2 of 3.
    make_retries_due(&mirror);
    sim.clear_requests();
    let out = mirror.run(&["mail"]).await;
    assert!(
        stdout(&out).contains("0 acknowledged, 0 rejected, 1 left for retry, 0 given up (1 read"),
        "{}",
        stdout(&out)
    );
    assert!(!per_issue_requests(&sim.requests(), "SUP-3").is_empty());
    assert!(per_issue_requests(&sim.requests(), "SUP-4").is_empty());
    let (attempts, error, next_try_ms): (i64, String, i64) = state_db(&mirror)
        .query_row(
            "SELECT attempts, last_error, next_try_ms FROM mail_retry WHERE uid = ?1",
            [failing],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .expect("in the retry set");
    assert_eq!(attempts, 2);
    assert!(error.starts_with("SUP-3: "), "{error}");
    // The backoff doubles: 60 s (the poll interval) after the first failure, 120 s now.
    let wait_ms = next_try_ms - chrono::Utc::now().timestamp_millis();
    assert!((60_000..=120_000).contains(&wait_ms), "{wait_ms}");

    // The third failure gives it up: one warning naming the UID, the Message-ID and the error.
    make_retries_due(&mirror);
    let out = mirror.run(&["mail"]).await;
    assert!(
        stdout(&out).contains("0 acknowledged, 0 rejected, 0 left for retry, 1 given up (1 read"),
        "{}",
        stdout(&out)
    );
    let log = plain(&stderr(&out));
    let given_up: Vec<&str> = log.lines().filter(|l| l.contains("given up")).collect();
    assert_eq!(given_up.len(), 1, "{log}");
    for part in [
        format!("uid={failing}"),
        "8c2f9d1e-1b7a-4c39-9d53-000000000005@example.atlassian.net".to_owned(),
        "SUP-3: ".to_owned(),
        "403".to_owned(),
        "attempts=3".to_owned(),
        "left unseen".to_owned(),
    ] {
        assert!(given_up[0].contains(&part), "{part} in {}", given_up[0]);
    }
    // `on_rejected = "leave"`: left unseen, remembered with its last error, out of the set.
    assert!(!seen(&dovecot, failing).await);
    let reason: String = state_db(&mirror)
        .query_row(
            "SELECT reason FROM mail_rejected WHERE uid = ?1",
            [failing],
            |r| r.get(0),
        )
        .expect("remembered");
    assert!(
        reason.starts_with("given up after 3 failed attempts: SUP-3: "),
        "{reason}"
    );
    let in_set: i64 = state_db(&mirror)
        .query_row("SELECT COUNT(*) FROM mail_retry", [], |r| r.get(0))
        .unwrap();
    assert_eq!(in_set, 0);
    let status = stdout(&mirror.run_ok(&["status"]).await);
    assert!(
        status.contains("; 0 in the retry set, 1 rejected or given up"),
        "{status}"
    );
    let json: serde_json::Value =
        serde_json::from_str(&stdout(&mirror.run_ok(&["status", "--json"]).await)).unwrap();
    assert_eq!(json["mail"]["last_uid"], later);
    assert_eq!(json["mail"]["max_attempts"], 3);
    assert_eq!(json["mail"]["rejected"], 1);

    // Not tried again.
    sim.clear_requests();
    let out = mirror.run_ok(&["mail"]).await;
    assert!(stdout(&out).contains("(0 read"), "{}", stdout(&out));
    assert!(!stderr(&out).contains("given up"), "{}", stderr(&out));
    assert!(per_issue_requests(&sim.requests(), "SUP-3").is_empty());
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_forged_mail_naming_500_unknown_ids_is_acknowledged_without_asking_jira_in_the_pass() {
    let (sim, dovecot, mirror) = setup(4, "").await;
    // Every Jira answer takes 20 ms: 500 ids looked up in the pass would hold it 10 s.
    sim.set_faults(jira_mirror::simulator::Faults {
        latency_ms: 20,
        ..Default::default()
    });
    let forged = dovecot.append("INBOX", &forged_ids_mail(500), &[]).await;
    let normal = dovecot
        .append(
            "INBOX",
            &cloud_mail(JIRA, "SUP-2", "After the forgery"),
            &[],
        )
        .await;
    let ctx = Context::build(mirror.config(), None)
        .await
        .expect("context");
    let imap = ctx.config().imap.clone().expect("[imap]");
    let projects = scope_projects(&ctx.config().jira.jql);
    let sink = ProcessNow {
        pipeline: ctx.pipeline().clone(),
        parallel: 4,
    };
    let progress = ProgressBar::hidden();
    let mut session = Session::connect(&settings(&imap)).await.expect("connect");
    sim.clear_requests();
    let started = std::time::Instant::now();
    let mut summary = tokio::time::timeout(
        Duration::from_secs(30),
        pass_on(
            ctx.pipeline().state(),
            &mut session,
            &imap,
            &projects,
            &sink,
            &progress,
        ),
    )
    .await
    .expect("the pass ends within 30 s")
    .expect("pass");
    let took = started.elapsed();
    // The pass asked Jira nothing about the ids (only about SUP-2, the normal mail's key):
    // they went to the durable queue, and both mails are acknowledged promptly.
    assert!(forged_id_requests(&sim).is_empty(), "{:?}", sim.requests());
    assert!(took < Duration::from_secs(5), "the pass took {took:?}");
    session.logout().await.expect("logout");
    assert_eq!(summary.acknowledged, 2);
    assert_eq!(summary.ids_queued, 500);
    assert!(seen(&dovecot, forged).await);
    assert!(seen(&dovecot, normal).await);
    assert!(mirror.issue("SUP-2").is_some());
    let mut expected: Vec<String> = (1..=500).map(|i| format!("id:{}", 900_000 + i)).collect();
    expected.sort();
    assert_eq!(queue_rows(&mirror), expected);

    // After the pass, the `mail` command resolves them: one request each (Jira says 404).
    sink.after_pass(&mut summary, &progress)
        .await
        .expect("after the pass");
    let mut asked = forged_id_requests(&sim);
    asked.sort();
    let mut wanted: Vec<String> = expected
        .iter()
        .map(|row| format!("/rest/api/3/issue/{}", &row[3..]))
        .collect();
    wanted.sort();
    assert_eq!(asked, wanted);
    assert!(queue_rows(&mirror).is_empty());
    drop(ctx);

    // The one-shot command does the same; past MAX_ISSUE_IDS the ids are dropped, and the
    // log says how many.
    sim.set_faults(jira_mirror::simulator::Faults::default());
    let again = dovecot.append("INBOX", &forged_ids_mail(520), &[]).await;
    sim.clear_requests();
    let out = mirror.run_ok(&["mail"]).await;
    assert!(
        stdout(&out).contains(&format!(
            "1 acknowledged, 0 rejected, 0 left for retry, 0 given up (1 read, {MAX_ISSUE_IDS} issue ids queued)"
        )),
        "{}",
        stdout(&out)
    );
    assert!(seen(&dovecot, again).await);
    assert_eq!(forged_id_requests(&sim).len(), MAX_ISSUE_IDS);
    let log = plain(&stderr(&out));
    assert!(
        log.lines().any(|l| l.contains("issue ids")
            && l.contains(&format!("dropped={}", 520 - MAX_ISSUE_IDS))
            && l.contains(&format!("uid={again}"))),
        "{log}"
    );
    assert!(queue_rows(&mirror).is_empty());
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_run_a_forged_mail_does_not_stall_the_mailbox_and_workers_resolve_its_ids() {
    let sim = simulator(4).await;
    let dovecot = Dovecot::start();
    let mirror = Mirror::with(
        &sim,
        MirrorOptions {
            extra: imap_section(&dovecot, "idle = true"),
            // Only the catch-up sweep runs during the test.
            sweep_schedule: Some("0 0 3 * * *".into()),
            ..Default::default()
        },
    );
    let daemon = Daemon::start(&mirror);
    // The catch-up sweep is done before the mails arrive.
    assert!(
        wait_saved(&sim, &mirror, "SUP-4", Duration::from_secs(30)).await,
        "{}",
        daemon.log()
    );
    // Every Jira answer takes 40 ms: 500 ids looked up in the pass would hold it 20 s.
    sim.set_faults(jira_mirror::simulator::Faults {
        latency_ms: 40,
        ..Default::default()
    });
    sim.add_comment("SUP-2", "a reply after the forgery");
    let forged = dovecot.append("INBOX", &forged_ids_mail(500), &[]).await;
    let normal = dovecot
        .append(
            "INBOX",
            &cloud_mail(JIRA, "SUP-2", "After the forgery"),
            &[],
        )
        .await;
    let appended = std::time::Instant::now();
    let mut flagged = false;
    while appended.elapsed() < Duration::from_secs(30) {
        if seen(&dovecot, forged).await && seen(&dovecot, normal).await {
            flagged = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let took = appended.elapsed();
    assert!(flagged, "mails acknowledged\n{}", daemon.log());
    assert!(
        took < Duration::from_secs(8),
        "both mails acknowledged after {took:?}\n{}",
        daemon.log()
    );
    // The workers ask Jira for each queued id once, the queue empties, and the normal mail's
    // issue is saved.
    let resolved = wait_for(Duration::from_secs(60), || {
        forged_id_requests(&sim).len() >= 500 && queue_rows(&mirror).is_empty()
    })
    .await;
    assert!(resolved, "{:?}\n{}", forged_id_requests(&sim), daemon.log());
    assert_eq!(forged_id_requests(&sim).len(), 500);
    assert!(
        wait_saved(&sim, &mirror, "SUP-2", Duration::from_secs(30)).await,
        "{}",
        daemon.log()
    );
    let log = plain(&daemon.log());
    // The ids went through the queue as rows, not through Jira in the pass.
    for i in [1, 250, 500] {
        let row = format!("id:{}", 900_000 + i);
        assert!(
            log.lines()
                .any(|l| l.contains("Issue from mail queued") && l.contains(&row)),
            "{row} queued\n{log}"
        );
    }
    let status = daemon.terminate().await;
    assert!(status.success(), "{status:?}");
    sim.shutdown().await;
}

// ---- The watch loop (`run`'s mailbox trigger), in process --------------------------------

/// A running [`watch`] over a mirror's `[imap]` section, processing each mail at once.
struct Watcher {
    stop: CancellationToken,
    task: tokio::task::JoinHandle<Result<(), jira_mirror::triggers::mail::pass::Error>>,
    passes: Arc<Mutex<Vec<MailSummary>>>,
    /// What the loop logged (debug level, this loop only), shown when a wait fails.
    logs: Logs,
}

/// A `tracing` writer into memory, so a failing wait can show what the watch loop did.
#[derive(Clone, Default)]
struct Logs(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Logs {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Logs {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

impl Watcher {
    async fn start(mirror: &Mirror, options: impl FnOnce(&mut WatchOptions)) -> Watcher {
        let ctx = Context::build(mirror.config(), None)
            .await
            .expect("context");
        let imap = ctx.config().imap.clone().expect("[imap]");
        let mut opts = WatchOptions::from_config(&imap);
        options(&mut opts);
        let stop = CancellationToken::new();
        let passes: Arc<Mutex<Vec<MailSummary>>> = Arc::default();
        let logs = Logs::default();
        let subscriber = tracing_subscriber::fmt()
            .with_max_level(tracing::Level::DEBUG)
            .with_ansi(false)
            .with_writer({
                let logs = logs.clone();
                move || logs.clone()
            })
            .finish();
        let task = tokio::spawn({
            let (stop, passes) = (stop.clone(), passes.clone());
            let sink = ProcessNow {
                pipeline: ctx.pipeline().clone(),
                parallel: 4,
            };
            let watched = watch_task(
                ctx.pipeline().state().clone(),
                imap,
                &ctx.config().jira.jql,
                sink,
                opts,
                stop,
                move |summary| passes.lock().unwrap().push(summary.clone()),
            );
            tracing::instrument::WithSubscriber::with_subscriber(watched, subscriber)
        });
        Watcher {
            stop,
            task,
            passes,
            logs,
        }
    }

    fn acknowledged(&self) -> u64 {
        self.total(|p| p.acknowledged)
    }

    /// One count summed over every pass so far.
    fn total(&self, count: impl Fn(&MailSummary) -> u64) -> u64 {
        self.passes.lock().unwrap().iter().map(count).sum()
    }

    /// Cancels the loop and asserts it ends cleanly and promptly.
    async fn stop(self) {
        self.stop.cancel();
        let ended = tokio::time::timeout(Duration::from_secs(10), self.task)
            .await
            .expect("the watch loop stops within 10 s of shutdown")
            .expect("join");
        assert!(ended.is_ok(), "{ended:?}");
    }
}

/// Appends a mail naming `key` after changing it in the simulator, and waits (bounded) until
/// the mirror holds the new version and the mail is flagged seen.
async fn announce_and_wait(
    sim: &Simulator,
    dovecot: &Dovecot,
    mirror: &Mirror,
    watcher: &Watcher,
    key: &str,
) {
    sim.add_comment(key, "a reply that arrived by mail");
    let updated = sim.issue(key).unwrap()["fields"]["updated"].clone();
    let uid = dovecot
        .append("INBOX", &cloud_mail(JIRA, key, "Reply"), &[])
        .await;
    // A bound, not a target: a loaded CI machine may need a Dovecot login retry (1 s backoff,
    // then 2 s, …) before the first IDLE.
    let saved = wait_for(Duration::from_secs(60), || {
        mirror
            .issue(key)
            .is_some_and(|i| i["fields"]["updated"] == updated)
    })
    .await;
    assert!(
        saved,
        "{key} updated {updated} saved after mail {uid}; the watch loop logged:\n{}",
        watcher.logs.text()
    );
    let mut flagged = false;
    for _ in 0..100 {
        if seen(dovecot, uid).await {
            flagged = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        flagged,
        "mail {uid} flagged seen; the watch loop logged:\n{}",
        watcher.logs.text()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_watch_loop_idles_and_handles_each_new_mail() {
    let (sim, dovecot, mirror) = setup(6, "idle = true").await;
    mirror.run_ok(&["backfill"]).await;
    // IDLE must wake the loop, not polling: the poll interval (an hour) exceeds every bound.
    let watcher = Watcher::start(&mirror, |o| o.poll_interval = Duration::from_secs(3600)).await;
    for key in ["SUP-2", "SUP-4", "SUP-2"] {
        announce_and_wait(&sim, &dovecot, &mirror, &watcher, key).await;
    }
    // The flag is set just before the pass ends and reports; wait for the report.
    assert!(
        wait_for(Duration::from_secs(10), || watcher.acknowledged() == 3).await,
        "3 acknowledged, not {}",
        watcher.acknowledged()
    );
    watcher.stop().await;
    // Nothing left behind: a one-shot pass finds nothing to do.
    let out = mirror.run_ok(&["mail"]).await;
    assert!(stdout(&out).contains("0 acknowledged"), "{}", stdout(&out));
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_idle_the_watch_loop_polls() {
    let sim = simulator(4).await;
    // A server that does not advertise IDLE.
    let dovecot = Dovecot::start_with(DovecotOptions {
        capability: Some("IMAP4rev1 UIDPLUS".into()),
    });
    let mirror = Mirror::with(
        &sim,
        MirrorOptions {
            extra: imap_section(&dovecot, "idle = true\npoll_interval_secs = 1"),
            ..Default::default()
        },
    );
    mirror.run_ok(&["backfill"]).await;
    let watcher = Watcher::start(&mirror, |_| {}).await;
    announce_and_wait(&sim, &dovecot, &mirror, &watcher, "SUP-3").await;
    watcher.stop().await;
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_watch_loop_reconnects_after_the_server_drops_it() {
    let sim = simulator(4).await;
    let dovecot = Dovecot::start();
    let proxy = Proxy::start(dovecot.settings().port).await;
    let mirror = Mirror::with(
        &sim,
        MirrorOptions {
            extra: imap_section_on(&dovecot, proxy.port, "idle = true"),
            ..Default::default()
        },
    );
    mirror.run_ok(&["backfill"]).await;
    let watcher = Watcher::start(&mirror, |_| {}).await;
    announce_and_wait(&sim, &dovecot, &mirror, &watcher, "SUP-1").await;
    // Drop the connection while it idles; mail sent meanwhile is still handled.
    assert_eq!(proxy.cut(), 1, "one session was open");
    announce_and_wait(&sim, &dovecot, &mirror, &watcher, "SUP-2").await;
    // And again, cut while the loop waits to reconnect is fine too.
    proxy.cut();
    announce_and_wait(&sim, &dovecot, &mirror, &watcher, "SUP-3").await;
    // The flag is set just before the pass ends and reports; wait for the report.
    assert!(
        wait_for(Duration::from_secs(10), || watcher.acknowledged() == 3).await,
        "3 acknowledged, not {}",
        watcher.acknowledged()
    );
    watcher.stop().await;
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_watch_loop_stops_promptly_while_the_server_is_unreachable() {
    let sim = simulator(2).await;
    let dovecot = Dovecot::start();
    // A port nothing listens on: every connect fails, the loop backs off.
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let mirror = Mirror::with(
        &sim,
        MirrorOptions {
            extra: imap_section_on(&dovecot, closed, ""),
            ..Default::default()
        },
    );
    let watcher = Watcher::start(&mirror, |_| {}).await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert!(
        !watcher.task.is_finished(),
        "a refused connection is retried, not fatal"
    );
    watcher.stop().await;
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_watch_loop_retries_a_failing_mail_with_backoff_then_gives_it_up_by_policy() {
    let sim = simulator_refusing_sup3(4).await;
    let dovecot = Dovecot::start();
    let mirror = Mirror::with(
        &sim,
        MirrorOptions {
            extra: imap_section(
                &dovecot,
                "idle = true\npoll_interval_secs = 1\nmax_attempts = 3\n\
                 on_rejected = \"move\"\nrejected_folder = \"Given up\"",
            ),
            ..Default::default()
        },
    );
    let watcher = Watcher::start(&mirror, |_| {}).await;
    let failing = dovecot
        .append("INBOX", &cloud_mail(JIRA, "SUP-3", "Refused"), &[])
        .await;
    // Retried after 1 s, then 2 s, though no new mail arrives (the loop idles meanwhile),
    // then given up and moved.
    let gave_up = wait_for(Duration::from_secs(30), || {
        watcher.total(|p| p.given_up) == 1
    })
    .await;
    assert!(
        gave_up,
        "given up; passes: {:?}",
        watcher.passes.lock().unwrap()
    );
    assert_eq!(watcher.total(|p| p.retry_later), 2);
    assert_eq!(watcher.total(|p| p.fetched), 3);
    let fetches = sim
        .requests()
        .into_iter()
        .filter(|r| r.path == "/rest/api/3/issue/SUP-3")
        .count();
    assert_eq!(fetches, 3, "one request per attempt");
    assert!(!dovecot.uids("INBOX").await.contains(&failing));
    assert_eq!(dovecot.uids("Given up").await.len(), 1);
    // A good mail after it is handled as usual.
    announce_and_wait(&sim, &dovecot, &mirror, &watcher, "SUP-2").await;
    watcher.stop().await;
    sim.shutdown().await;
}
