//! Attachment downloads: every attempt has a deadline sized to the file, so a media host that
//! trickles one file fails that attachment alone, in bounded time (see "Attachments" and
//! "Failure isolation" in docs/ARCHITECTURE.md).

use std::process::Output;
use std::time::{Duration, Instant};

use jira_mirror::simulator::{Faults, SlowAttachment};

use crate::support::*;

/// Runs the binary, killing it if it has not ended within `limit`.
async fn run_within(mirror: &Mirror, args: &[&str], limit: Duration) -> Output {
    let mut cmd = mirror.command(args);
    cmd.stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    tokio::task::spawn_blocking(move || {
        let mut child = cmd.spawn().expect("binary runs");
        let deadline = Instant::now() + limit;
        while child.try_wait().expect("wait").is_none() {
            if Instant::now() > deadline {
                let _ = child.kill();
                let out = child.wait_with_output().expect("output");
                panic!(
                    "still running after {limit:?}\nstderr:\n{}",
                    String::from_utf8_lossy(&out.stderr)
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        child.wait_with_output().expect("output")
    })
    .await
    .expect("join")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_trickling_attachment_fails_by_its_deadline_while_the_issue_is_saved() {
    let sim = simulator(3).await;
    // The first issue has five small attachments and big.bin (over max_bytes).
    let key = sim.issue_keys()[0].clone();
    let listed = sim.issue(&key).unwrap()["fields"]["attachment"].clone();
    let listed = listed.as_array().unwrap();
    let slow = listed
        .iter()
        .find(|a| a["size"] == 1234)
        .and_then(|a| a["id"].as_str())
        .unwrap()
        .to_string();
    // 1,234 bytes in 64-byte chunks, one a second: 20 s a body. Each pause stays under the
    // read timeout (2 s), so only the deadline (2 s + 1,234 B at 64 KiB/s) ends an attempt.
    sim.set_faults(Faults {
        slow_attachment: Some(SlowAttachment {
            id: slow.parse().unwrap(),
            chunk_bytes: 64,
            pause: Duration::from_secs(1),
        }),
        ..Faults::default()
    });
    let mirror = Mirror::with(
        &sim,
        MirrorOptions {
            request_timeout_secs: 2,
            max_retries: 1,
            ..Default::default()
        },
    );

    let started = Instant::now();
    let out = run_within(&mirror, &["fetch", &key], Duration::from_secs(120)).await;
    let took = started.elapsed();
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    // Two attempts of about 2 s each, not two 20 s bodies.
    assert!(took < Duration::from_secs(30), "{took:?}\n{}", stderr(&out));
    let media = sim
        .requests()
        .iter()
        .filter(|r| r.host == "media" && r.path == format!("/file/{slow}"))
        .count();
    assert_eq!(
        media, 2,
        "the first attempt and one retry ([jira] max_retries = 1)"
    );
    let err = stderr(&out);
    assert!(
        err.lines().any(|l| l.contains(&key)
            && l.contains(&format!("attachment {slow}"))
            && l.contains("deadline")),
        "a line names the key, the attachment and the deadline:\n{err}"
    );

    // The issue is saved: the slow file failed, every other one downloaded.
    let saved = mirror.issue(&key).expect("the issue is saved");
    let overlay = saved["mirror"]["attachments"].as_array().unwrap().clone();
    assert_eq!(overlay.len(), listed.len());
    for a in &overlay {
        let id = a["id"].as_str().unwrap();
        if id == slow {
            assert_eq!(a["status"], "failed", "{a}");
            let error = a["error"].as_str().unwrap();
            assert!(
                error.contains(&format!("attachment {slow}"))
                    && error.contains("deadline of 2.0 s")
                    && error.contains("2 attempts"),
                "{error}"
            );
            assert!(a.get("local_path").is_none_or(|p| p.is_null()), "{a}");
        } else if a["size_bytes"].as_u64().unwrap() > 1024 * 1024 {
            assert_eq!(a["status"], "skipped_too_large", "{a}");
        } else {
            assert_eq!(a["status"], "downloaded", "{a}");
            let path = mirror.data().join(a["local_path"].as_str().unwrap());
            assert_eq!(
                std::fs::metadata(&path).unwrap().len(),
                a["size_bytes"].as_u64().unwrap()
            );
        }
    }
    let downloaded = overlay
        .iter()
        .filter(|a| a["status"] == "downloaded")
        .count();
    assert_eq!(downloaded, 4, "{overlay:?}");
    let incomplete = saved["mirror"]["incomplete"].as_array().unwrap();
    assert_eq!(incomplete.len(), 1, "{incomplete:?}");
    assert_eq!(incomplete[0]["part"], format!("attachment {slow}"));
    // No partial file of the slow attachment stays in the folder.
    let files = std::fs::read_dir(mirror.data().join("raw/attachments").join(&key))
        .unwrap()
        .count();
    assert_eq!(files, 4);

    // Recorded as a failure of the key, so it is fetched again; once the host is fast, the
    // next fetch completes the issue.
    let status = stdout(&mirror.run_ok(&["status"]).await);
    assert!(
        status.contains(&key) && status.contains("deadline"),
        "{status}"
    );
    sim.set_faults(Faults::default());
    run_within(&mirror, &["fetch", &key], Duration::from_secs(120)).await;
    let saved = mirror.issue(&key).unwrap();
    let overlay = saved["mirror"]["attachments"].as_array().unwrap();
    let again = overlay.iter().find(|a| a["id"] == slow.as_str()).unwrap();
    assert_eq!(again["status"], "downloaded", "{again}");
    assert!(
        saved["mirror"]
            .get("incomplete")
            .is_none_or(|v| v.is_null())
    );
    sim.shutdown().await;
}
