//! Tests of the state database, one concern after another.

use super::*;

#[test]
fn webhook_deliveries_are_remembered_once_and_pruned() {
    let s = State::open_in_memory().unwrap();
    assert!(!s.webhook_delivery_seen(&["d-1"]).unwrap());
    assert_eq!(
        s.record_webhook_delivery(&["d-1", "h-1"], 1_000).unwrap(),
        2
    );
    assert_eq!(s.record_webhook_delivery(&["d-1"], 2_000).unwrap(), 0);
    // Seen when any of the identifiers is remembered.
    assert!(s.webhook_delivery_seen(&["d-1"]).unwrap());
    assert!(s.webhook_delivery_seen(&["other", "h-1"]).unwrap());
    assert!(!s.webhook_delivery_seen(&["other", "h-2"]).unwrap());
    assert_eq!(
        s.record_webhook_delivery(&["d-2", "h-2"], 5_000).unwrap(),
        2
    );
    assert_eq!(s.prune_webhook_deliveries(2_000).unwrap(), 2);
    assert!(!s.webhook_delivery_seen(&["d-1", "h-1"]).unwrap());
    assert!(s.webhook_delivery_seen(&["d-2"]).unwrap());
    assert!(s.webhook_delivery_seen(&["h-2"]).unwrap());
}

#[test]
fn last_successes_skip_failed_runs() {
    let s = State::open_in_memory().unwrap();
    let ok = s.start_run("sweep").unwrap();
    s.finish_run(ok, "ok", 1, 0).unwrap();
    let failed = s.start_run("sweep").unwrap();
    s.finish_run(failed, "error: down", 0, 0).unwrap();
    let mail = s.start_run("mail").unwrap();
    s.finish_run(mail, "partial", 1, 1).unwrap();
    let successes = s.last_successes().unwrap();
    assert_eq!(successes.len(), 1);
    assert_eq!(successes[0].0, "sweep");
}

#[test]
fn old_runs_are_pruned_but_the_latest_of_each_command_stays() {
    let s = State::open_in_memory().unwrap();
    for _ in 0..5 {
        let r = s.start_run("sweep").unwrap();
        s.finish_run(r, "ok", 1, 0).unwrap();
    }
    let failed = s.start_run("sweep").unwrap();
    s.finish_run(failed, "error: down", 0, 0).unwrap();
    let mail = s.start_run("mail").unwrap();
    s.finish_run(mail, "ok", 0, 0).unwrap();
    let running = s.start_run("reconcile").unwrap();
    let before_last = s.last_runs().unwrap();
    let successes = s.last_successes().unwrap();
    // Everything is "old" a year from now.
    let removed = s.prune_runs(now_ms() + 365 * 86_400_000, 90).unwrap();
    assert_eq!(removed, 4, "four of the five successful sweeps");
    assert_eq!(s.last_runs().unwrap(), before_last);
    assert_eq!(s.last_successes().unwrap(), successes);
    // Nothing is old today; a run still going is never removed.
    assert_eq!(s.prune_runs(now_ms(), 90).unwrap(), 0);
    let _ = running;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 1)]
async fn calls_from_async_tasks_leave_the_runtime_responsive() {
    let s = std::sync::Arc::new(State::open_in_memory().unwrap());
    // Hold the connection on a plain thread; a task that needs it waits under
    // `block_in_place`, so another task on the runtime still runs meanwhile.
    let held = s.clone();
    let (locked_tx, locked_rx) = std::sync::mpsc::channel();
    let holder = std::thread::spawn(move || {
        held.with(|_| {
            locked_tx.send(()).unwrap();
            std::thread::sleep(std::time::Duration::from_secs(2));
            Ok(())
        })
        .unwrap();
    });
    locked_rx.recv().unwrap();
    let waiting = {
        let s = s.clone();
        tokio::spawn(async move { s.watermark().unwrap() })
    };
    let ticks = tokio::spawn(async {
        let mut n = 0;
        for _ in 0..5 {
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
            n += 1;
        }
        n
    });
    // Give the waiting task the one worker thread first.
    tokio::task::yield_now().await;
    assert_eq!(ticks.await.unwrap(), 5);
    // The ticks ran while the SQLite call still waited (without `block_in_place` the only
    // worker thread would have been stuck in it for the whole 2 s).
    assert!(!waiting.is_finished());
    assert_eq!(waiting.await.unwrap(), None);
    holder.join().unwrap();
}

#[test]
fn the_queue_coalesces_and_runs_a_key_again_when_named_while_running() {
    let s = State::open_in_memory().unwrap();
    assert_eq!(s.queue_push("A-1", "mail", None).unwrap(), Pushed::Queued);
    assert_eq!(
        s.queue_push("A-1", "sweep", Some(5)).unwrap(),
        Pushed::Coalesced
    );
    assert_eq!(
        s.queue_push("A-2", "sweep", Some(5)).unwrap(),
        Pushed::Queued
    );
    assert_eq!(s.queue_depth().unwrap(), 2);
    let a = s.queue_take().unwrap().unwrap();
    assert_eq!(a.issue_key, "A-1");
    assert_eq!(s.queue_push("A-1", "webhook", None).unwrap(), Pushed::Again);
    let b = s.queue_take().unwrap().unwrap();
    assert_eq!(b.issue_key, "A-2");
    assert!(s.queue_take().unwrap().is_none(), "A-1 is running, A-2 too");
    s.queue_done("A-1").unwrap();
    s.queue_done("A-2").unwrap();
    let again = s.queue_take().unwrap().unwrap();
    assert_eq!(
        (again.issue_key.as_str(), again.source.as_str()),
        ("A-1", "webhook")
    );
    assert!(again.enqueued_ms >= a.enqueued_ms);
    s.queue_done("A-1").unwrap();
    assert_eq!(s.queue_depth().unwrap(), 0);
}

#[test]
fn coalescing_keeps_the_latest_naming_time() {
    let s = State::open_in_memory().unwrap();
    s.queue_push("A-1", "sweep", Some(5)).unwrap();
    s.with(|c| c.execute("UPDATE queue SET enqueued_ms = 1000", []))
        .unwrap();
    assert_eq!(
        s.queue_push("A-1", "mail", None).unwrap(),
        Pushed::Coalesced
    );
    let item = s.queue_take().unwrap().unwrap();
    assert!(item.enqueued_ms > 1000, "{}", item.enqueued_ms);
    assert_eq!(item.source, "mail");
}

#[test]
fn failures_back_off_then_park_until_the_issue_changes() {
    let s = State::open_in_memory().unwrap();
    s.queue_push("A-1", "sweep", Some(7)).unwrap();
    let far = |_| 60_000;
    for attempt in 1..=3 {
        assert!(s.queue_take().unwrap().is_some(), "attempt {attempt}");
        let parked = s.queue_failed("A-1", "boom", true, 3, far).unwrap();
        assert_eq!(parked, attempt == 3);
        if !parked {
            assert!(s.queue_take().unwrap().is_none(), "backing off");
            // News makes it due at once.
            assert_eq!(
                s.queue_push("A-1", "mail", None).unwrap(),
                Pushed::Coalesced
            );
        }
    }
    assert_eq!(s.queue_depth().unwrap(), 0);
    let f = &s.failures().unwrap()[0];
    assert!(f.parked_ms.is_some());
    assert_eq!(f.attempts, 3);
    // The same version is not queued again; a change is, with fresh attempts.
    assert_eq!(
        s.queue_push("A-1", "sweep", Some(7)).unwrap(),
        Pushed::Parked
    );
    assert_eq!(
        s.queue_push("A-1", "sweep", Some(8)).unwrap(),
        Pushed::Queued
    );
    let f = &s.failures().unwrap()[0];
    assert_eq!((f.parked_ms, f.attempts), (None, 0));
    // Uncounted (transient) failures never park.
    for _ in 0..5 {
        s.queue_take().unwrap().unwrap();
        assert!(!s.queue_failed("A-1", "503", false, 3, |_| -1).unwrap());
    }
    // A restart makes running keys due again.
    s.queue_take().unwrap().unwrap();
    assert_eq!(s.queue_recover().unwrap(), 1);
    assert!(s.queue_take().unwrap().is_some());
}

#[test]
fn every_command_parks_after_max_attempts_and_a_later_sweep_retries_once() {
    let s = State::open_in_memory().unwrap();
    // Jira failing does not count.
    for _ in 0..5 {
        assert!(!s.note_failure("A-1", "HTTP 503", false, 3).unwrap());
    }
    assert!(!s.note_failure("A-1", "HTTP 403", true, 3).unwrap());
    assert!(!s.note_failure("A-1", "HTTP 403", true, 3).unwrap());
    assert_eq!(s.failures_to_retry().unwrap(), ["A-1"]);
    assert!(s.note_failure("A-1", "HTTP 403", true, 3).unwrap());
    let f = &s.failures().unwrap()[0];
    assert!(f.parked_ms.is_some());
    assert_eq!((f.attempts, f.last_error.as_str()), (3, "HTTP 403"));
    // Parked anew: one retry owed.
    assert_eq!(s.failures_to_retry().unwrap(), ["A-1"]);
    s.mark_parked_retried(&["A-1".to_string()]).unwrap();
    assert!(s.note_failure("A-1", "HTTP 403", true, 3).unwrap());
    assert!(s.failures_to_retry().unwrap().is_empty());
    // The daemon's way: the owed retry is queued once, the key stays parked.
    assert!(s.note_failure("B-1", "bad", true, 1).unwrap());
    assert_eq!(s.queue_retry_failures().unwrap(), ["B-1"]);
    // (A-1 had its retry already; a failure another command recorded is queued too.)
    assert!(s.queue_retry_failures().unwrap().is_empty());
    let item = s.queue_take().unwrap().unwrap();
    assert_eq!(
        (item.issue_key.as_str(), item.source.as_str()),
        ("B-1", "retry")
    );
    assert!(s.queue_failed("B-1", "bad", true, 1, |_| 0).unwrap());
    assert!(s.queue_retry_failures().unwrap().is_empty());
    assert_eq!(s.queue_depth().unwrap(), 0);
    // A change (a new `updated`) unparks with fresh attempts and a retry owed again.
    assert_eq!(
        s.queue_push("B-1", "sweep", Some(9)).unwrap(),
        Pushed::Queued
    );
    s.queue_take().unwrap().unwrap();
    assert!(s.queue_failed("B-1", "bad", true, 1, |_| 0).unwrap());
    assert_eq!(s.queue_retry_failures().unwrap(), ["B-1"]);
    // A failure another command recorded (not parked) is queued once.
    s.queue_take().unwrap().unwrap();
    s.queue_done("B-1").unwrap();
    assert!(!s.note_failure("C-1", "HTTP 500", false, 1).unwrap());
    assert_eq!(s.queue_retry_failures().unwrap(), ["C-1"]);
    assert!(s.queue_retry_failures().unwrap().is_empty());
}

#[test]
fn an_incomplete_save_keeps_the_failure_record() {
    let s = State::open_in_memory().unwrap();
    s.record_failure("A-1", "attachment refused").unwrap();
    s.record_saved_with(
        &issue(10, "A-1", 5),
        &IssueDetails {
            incomplete: true,
            ..IssueDetails::default()
        },
    )
    .unwrap();
    assert_eq!(s.failures().unwrap().len(), 1);
    s.record_saved_with(&issue(10, "A-1", 5), &IssueDetails::default())
        .unwrap();
    assert!(s.failures().unwrap().is_empty());
}

fn issue(id: i64, key: &str, updated_ms: i64) -> SavedIssue {
    SavedIssue {
        issue_id: id,
        issue_key: key.into(),
        updated_ms,
    }
}

#[test]
fn watermark_only_moves_forward_and_keeps_milliseconds() {
    let s = State::open_in_memory().unwrap();
    assert_eq!(s.watermark().unwrap(), None);
    s.advance_watermark(1_700_000_000_123).unwrap();
    s.advance_watermark(1_600_000_000_000).unwrap();
    assert_eq!(s.watermark().unwrap(), Some(1_700_000_000_123));
    s.advance_watermark(1_700_000_000_124).unwrap();
    assert_eq!(s.watermark().unwrap(), Some(1_700_000_000_124));
}

#[test]
fn saving_replaces_by_id_and_clears_failures() {
    let s = State::open_in_memory().unwrap();
    s.record_failure("A-1", "boom").unwrap();
    s.record_failure("A-1", "boom again").unwrap();
    assert_eq!(s.failures().unwrap()[0].attempts, 2);
    s.record_saved(&issue(10, "A-1", 5), Some(1)).unwrap();
    assert!(s.failures().unwrap().is_empty());
    // Moved: same id, new key.
    s.record_saved(&issue(10, "B-7", 6), Some(1)).unwrap();
    assert_eq!(s.issue_by_key("A-1").unwrap(), None);
    assert_eq!(s.issue_by_id(10).unwrap(), Some(issue(10, "B-7", 6)));
    assert_eq!(s.issue_count().unwrap(), 1);
    s.record_deleted("B-7").unwrap();
    assert_eq!(s.issue_count().unwrap(), 0);
}

#[test]
fn migrations_are_idempotent_on_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.db");
    State::open(&path).unwrap().advance_watermark(42).unwrap();
    let s = State::open(&path).unwrap();
    assert_eq!(s.watermark().unwrap(), Some(42));
}

#[test]
fn pending_rows_survive_a_re_mark_during_apply() {
    let s = State::open_in_memory().unwrap();
    s.mark_pending("A-1", "2024-01").unwrap();
    let seen = s.pending().unwrap();
    s.mark_pending("A-1", "2024-01").unwrap(); // changed again while being applied
    s.clear_pending(&seen).unwrap();
    assert_eq!(s.pending().unwrap().len(), 1);
    s.clear_pending(&s.pending().unwrap()).unwrap();
    assert!(s.pending().unwrap().is_empty());
}

#[test]
fn meta_values_and_created_ranges() {
    let s = State::open_in_memory().unwrap();
    assert_eq!(s.meta("x").unwrap(), None);
    s.set_meta("x", "[1]").unwrap();
    let (v, at) = s.meta("x").unwrap().unwrap();
    assert_eq!(v, "[1]");
    assert!(at > 0);
    s.record_saved(&issue(1, "A-2", 5), Some(100)).unwrap();
    s.record_saved(&issue(2, "A-1", 5), Some(150)).unwrap();
    s.record_saved(&issue(3, "A-3", 5), Some(200)).unwrap();
    assert_eq!(s.keys_created_between(100, 200).unwrap(), ["A-1", "A-2"]);
    assert_eq!(s.created_ms("A-3").unwrap(), Some(200));
}

#[test]
fn mail_cursor_and_rejections_follow_uidvalidity() {
    let s = State::open_in_memory().unwrap();
    assert_eq!(s.mail_cursor("INBOX").unwrap(), None);
    s.set_mail_cursor("INBOX", 7, 10).unwrap();
    s.record_mail_rejected("INBOX", 7, 4, "spoofed").unwrap();
    assert_eq!(s.mail_rejected("INBOX", 7).unwrap(), [4]);
    s.set_mail_cursor("INBOX", 7, 12).unwrap();
    assert_eq!(s.mail_cursor("INBOX").unwrap(), Some((7, 12)));
    assert_eq!(s.mail_rejected("INBOX", 7).unwrap(), [4]);
    s.set_mail_cursor("INBOX", 8, 0).unwrap(); // UIDVALIDITY changed
    assert!(s.mail_rejected("INBOX", 7).unwrap().is_empty());
}

#[test]
fn the_mail_retry_set_updates_gives_up_into_rejections_and_follows_uidvalidity() {
    let s = State::open_in_memory().unwrap();
    let retry = |uid, attempts, next_try_ms| MailRetry {
        uid,
        message_id: Some(format!("m{uid}@example")),
        attempts,
        last_error: format!("SUP-{uid}: refused ({attempts})"),
        next_try_ms,
    };
    assert_eq!(s.mail_next_retry_ms("INBOX", 7).unwrap(), None);
    s.record_mail_retry("INBOX", 7, &retry(5, 1, 2_000))
        .unwrap();
    s.record_mail_retry("INBOX", 7, &retry(9, 1, 1_000))
        .unwrap();
    s.record_mail_retry("Other", 7, &retry(5, 1, 10)).unwrap();
    // A second failure replaces attempts, error and due time; the Message-ID stays.
    s.record_mail_retry(
        "INBOX",
        7,
        &MailRetry {
            message_id: None,
            ..retry(5, 2, 4_000)
        },
    )
    .unwrap();
    assert_eq!(
        s.mail_retries("INBOX", 7).unwrap(),
        [retry(5, 2, 4_000), retry(9, 1, 1_000)]
    );
    assert_eq!(s.mail_next_retry_ms("INBOX", 7).unwrap(), Some(1_000));
    // Acknowledged: out of the set. Given up (rejected): out of the set, remembered.
    s.clear_mail_retry("INBOX", 7, 9).unwrap();
    s.record_mail_rejected("INBOX", 7, 5, "given up").unwrap();
    assert!(s.mail_retries("INBOX", 7).unwrap().is_empty());
    assert_eq!(s.mail_rejected("INBOX", 7).unwrap(), [5]);
    assert_eq!(s.mail_retries("Other", 7).unwrap(), [retry(5, 1, 10)]);
    // A new UIDVALIDITY forgets the old retry set too.
    s.record_mail_retry("Other", 7, &retry(6, 1, 10)).unwrap();
    s.set_mail_cursor("Other", 8, 0).unwrap();
    assert!(s.mail_retries("Other", 7).unwrap().is_empty());
    assert_eq!(s.mail_next_retry_ms("Other", 8).unwrap(), None);
}

#[test]
fn rows_pushed_together_are_queued_and_coalesced_like_single_ones() {
    let s = State::open_in_memory().unwrap();
    s.queue_push("SUP-1", "sweep", Some(5)).unwrap();
    s.queue_push("SUP-2", "sweep", Some(5)).unwrap();
    assert_eq!(s.queue_take().unwrap().unwrap().issue_key, "SUP-1");
    let rows: Vec<String> = ["SUP-1", "SUP-2", "id:7", "SUP-3"]
        .map(str::to_owned)
        .into();
    assert_eq!(
        s.queue_push_all(&rows, "mail").unwrap(),
        [
            Pushed::Again,
            Pushed::Coalesced,
            Pushed::Queued,
            Pushed::Queued
        ]
    );
    assert_eq!(s.queue_depth().unwrap(), 4);
    assert!(s.queue_push_all(&[], "mail").unwrap().is_empty());
}

#[test]
fn id_rows_are_taken_apart_from_keys_and_can_be_released() {
    let s = State::open_in_memory().unwrap();
    s.queue_push("SUP-1", "mail", None).unwrap();
    s.queue_push("id:42", "mail", None).unwrap();
    s.queue_push("id:43", "webhook", None).unwrap();
    let first = s.queue_take_id().unwrap().unwrap();
    assert_eq!(first.issue_key, "id:42");
    assert_eq!(s.queue_take_id().unwrap().unwrap().issue_key, "id:43");
    assert_eq!(s.queue_take_id().unwrap(), None, "keys are not taken");
    s.queue_release("id:42").unwrap();
    assert_eq!(s.queue_take_id().unwrap().unwrap().issue_key, "id:42");
    s.queue_done("id:42").unwrap();
    assert_eq!(s.queue_take().unwrap().unwrap().issue_key, "SUP-1");
}

#[test]
fn sla_candidates_are_open_issues_with_sla_and_unknown_ones() {
    let s = State::open_in_memory().unwrap();
    let details = |cat: Option<&str>, has_sla| IssueDetails {
        status_category: cat.map(str::to_owned),
        has_sla,
        ..IssueDetails::default()
    };
    s.record_saved_with(&issue(1, "A-1", 5), &details(Some("new"), true))
        .unwrap();
    s.record_saved_with(&issue(2, "A-2", 5), &details(Some("done"), true))
        .unwrap();
    s.record_saved_with(&issue(3, "A-3", 5), &details(Some("indeterminate"), false))
        .unwrap();
    s.record_saved_with(&issue(4, "A-4", 5), &details(None, false))
        .unwrap();
    let keys = |s: &State| -> Vec<(String, Option<String>)> {
        s.sla_poll_candidates(false)
            .unwrap()
            .into_iter()
            .map(|c| (c.issue.issue_key, c.status_category))
            .collect()
    };
    assert_eq!(
        keys(&s),
        [("A-1".into(), Some("new".into())), ("A-4".into(), None)]
    );
    assert!(s.set_issue_status("A-4", Some("done"), true).unwrap());
    assert!(!s.set_issue_status("Z-9", Some("done"), true).unwrap());
    assert_eq!(keys(&s), [("A-1".into(), Some("new".into()))]);
    assert_eq!(
        s.issue_ids().unwrap(),
        [
            (1, "A-1".into()),
            (2, "A-2".into()),
            (3, "A-3".into()),
            (4, "A-4".into())
        ]
    );
}

#[test]
fn backfill_progress_and_runs() {
    let s = State::open_in_memory().unwrap();
    s.start_backfill("project = A", 100).unwrap();
    s.backfill_page_done(Some("t2"), 50).unwrap();
    let b = s.backfill().unwrap().unwrap();
    assert_eq!((b.pages_done, b.issues_saved), (1, 50));
    assert_eq!(b.next_page_token.as_deref(), Some("t2"));
    s.finish_backfill().unwrap();
    assert!(s.backfill().unwrap().unwrap().finished_ms.is_some());
    let id = s.start_run("sweep").unwrap();
    s.finish_run(id, "ok", 3, 0).unwrap();
    assert_eq!(s.last_runs().unwrap()[0].issues_saved, 3);
}
