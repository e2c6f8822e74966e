//! The IMAP session (`triggers::mail::imap`) against a real Dovecot per test: login, search,
//! peek, flags, move, IDLE, TLS and the refusals, each wait bounded.

use std::future::Future;
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use jira_mirror::config::ImapSecurity;
use jira_mirror::triggers::mail::imap::{Error, IdleOutcome, ImapSettings, Session};

use crate::support::dovecot::{Dovecot, DovecotOptions, PASSWORD, USER, plain_settings};

/// Bound of each step of a test that is not itself about timing.
const STEP: Duration = Duration::from_secs(15);

/// A small CRLF mail (so `RFC822.SIZE` equals its length) with `filler` extra body bytes.
fn mail(subject: &str, filler: usize) -> Vec<u8> {
    let mut raw = format!(
        "From: Jira <jira@example.atlassian.net>\r\n\
         To: {USER}\r\n\
         Subject: {subject}\r\n\
         Message-ID: <{subject}@example.test>\r\n\
         Date: Tue, 25 Nov 2025 09:00:00 +0000\r\n\
         Content-Type: text/plain; charset=utf-8\r\n\
         \r\n\
         SUP-1 was updated.\r\n"
    );
    for _ in 0..filler / 64 {
        raw.push_str(&"x".repeat(62));
        raw.push_str("\r\n");
    }
    raw.into_bytes()
}

/// Runs one step within [`STEP`]; also proves at compile time that the future is `Send`, as
/// the trigger task needs.
async fn step<T>(what: &str, fut: impl Future<Output = T> + Send) -> T {
    tokio::time::timeout(STEP, fut)
        .await
        .unwrap_or_else(|_| panic!("{what} took longer than {STEP:?}"))
}

async fn connect(settings: &ImapSettings) -> Session {
    match step("connect", Session::connect(settings)).await {
        Ok(session) => session,
        Err(error) => panic!("connect failed: {error}"),
    }
}

async fn connect_err(settings: &ImapSettings) -> Error {
    match step("connect", Session::connect(settings)).await {
        Ok(session) => panic!("connect unexpectedly succeeded: {session:?}"),
        Err(error) => error,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn login_selects_the_mailbox_and_reports_uidvalidity() {
    let dovecot = Dovecot::start();
    let first = dovecot.append("INBOX", &mail("one", 0), &[]).await;
    let second = dovecot.append("INBOX", &mail("two", 0), &["\\Seen"]).await;

    let session = connect(&dovecot.settings()).await;
    let state = *session.mailbox();
    assert_eq!(state.uid_validity, dovecot.uid_validity("INBOX").await);
    assert_ne!(state.uid_validity, 0);
    assert_eq!(state.exists, 2);
    assert_eq!(state.uid_next, Some(second + 1));
    assert!(first < second);
    assert!(session.supports_idle());
    step("logout", session.logout()).await.expect("logout");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_password_is_an_auth_error_that_names_user_and_server_only() {
    let dovecot = Dovecot::start();
    let wrong = "Wr0ng-but-secret \"pw\"";
    let settings = ImapSettings {
        password: wrong.to_owned(),
        ..dovecot.settings()
    };
    let error = connect_err(&settings).await;
    assert!(matches!(error, Error::Auth { .. }), "{error:?}");
    assert!(!error.is_transient());
    let message = error.to_string();
    assert!(message.contains(USER), "{message}");
    assert!(
        message.contains(&format!("127.0.0.1:{}", dovecot.imap_port)),
        "{message}"
    );
    assert!(message.contains("AUTHENTICATIONFAILED"), "{message}");
    for text in [message, format!("{error:?}"), format!("{settings:?}")] {
        assert!(!text.contains("Wr0ng"), "{text}");
        assert!(!text.contains("s3cret"), "{text}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_password_never_reaches_the_log_crate() {
    // async-imap logs every command at trace level through `log`, LOGIN included.
    static LINES: OnceLock<Mutex<Vec<String>>> = OnceLock::new();
    struct Capture;
    impl log::Log for Capture {
        fn enabled(&self, _: &log::Metadata<'_>) -> bool {
            true
        }
        fn log(&self, record: &log::Record<'_>) {
            let line = format!("{} {}", record.target(), record.args());
            LINES
                .get_or_init(Default::default)
                .lock()
                .unwrap()
                .push(line);
        }
        fn flush(&self) {}
    }
    let installed = log::set_boxed_logger(Box::new(Capture)).is_ok();
    log::set_max_level(log::LevelFilter::Trace);

    let dovecot = Dovecot::start();
    dovecot.append("INBOX", &mail("one", 0), &[]).await;
    // The harness logs in through async-imap directly, password and all (which is why the
    // session must not): only what the session logs counts.
    LINES.get_or_init(Default::default).lock().unwrap().clear();
    let mut session = connect(&dovecot.settings()).await;
    step("candidates", session.candidates(None))
        .await
        .expect("candidates");
    step("logout", session.logout()).await.expect("logout");

    if installed {
        let lines = LINES.get_or_init(Default::default).lock().unwrap();
        assert!(
            lines.iter().any(|line| line.contains("LOGIN")),
            "async-imap logged its commands: {lines:#?}"
        );
        let escaped = PASSWORD.replace('\\', "\\\\").replace('"', "\\\"");
        for line in lines.iter() {
            assert!(
                !line.contains("s3cret") && !line.contains(&escaped),
                "password in log: {line}"
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn candidates_are_unseen_mail_plus_everything_above_the_watermark() {
    let dovecot = Dovecot::start();
    let a = dovecot.append("INBOX", &mail("a", 0), &["\\Seen"]).await;
    let b = dovecot.append("INBOX", &mail("b", 0), &[]).await;
    let c = dovecot.append("INBOX", &mail("c", 0), &["\\Seen"]).await;
    let d = dovecot.append("INBOX", &mail("d", 0), &["\\Seen"]).await;

    let mut session = connect(&dovecot.settings()).await;
    let mut candidates = async |after| {
        step("candidates", session.candidates(after))
            .await
            .expect("candidates")
    };
    assert_eq!(candidates(None).await, vec![b]);
    assert_eq!(candidates(Some(a)).await, vec![b, c, d]);
    assert_eq!(candidates(Some(b)).await, vec![b, c, d]);
    // `UID d+1:*` matches the highest UID (d) on the server; it must not come back.
    assert_eq!(candidates(Some(d)).await, vec![b]);
    assert_eq!(candidates(Some(u32::MAX)).await, vec![b]);
    assert_eq!(candidates(Some(0)).await, vec![a, b, c, d]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fetch_peeks_without_setting_seen_and_mark_seen_sets_it() {
    let dovecot = Dovecot::start();
    let raw = mail("peek", 300);
    let uid = dovecot.append("INBOX", &raw, &[]).await;

    let mut session = connect(&dovecot.settings()).await;
    let fetched = step("fetch", session.fetch(uid))
        .await
        .expect("fetch")
        .expect("the mail exists");
    assert_eq!(fetched.uid, uid);
    assert_eq!(fetched.raw, raw);
    assert_eq!(fetched.size, Some(raw.len() as u32));
    assert!(format!("{fetched:?}").contains("bytes"));

    let flags = dovecot.flags_of("INBOX", uid).await.expect("still there");
    assert!(!flags.iter().any(|f| f == "\\Seen"), "{flags:?}");
    assert!(
        !step("is_seen", session.is_seen(uid))
            .await
            .expect("is_seen")
    );
    assert_eq!(
        step("candidates", session.candidates(None))
            .await
            .expect("candidates"),
        vec![uid]
    );

    step("mark_seen", session.mark_seen(uid))
        .await
        .expect("mark_seen");
    let flags = dovecot.flags_of("INBOX", uid).await.expect("still there");
    assert!(flags.iter().any(|f| f == "\\Seen"), "{flags:?}");
    assert!(
        step("is_seen", session.is_seen(uid))
            .await
            .expect("is_seen")
    );
    assert!(
        step("candidates", session.candidates(None))
            .await
            .expect("candidates")
            .is_empty()
    );

    // A UID that does not exist: nothing to fetch, not seen, marking it is harmless.
    assert!(
        step("fetch", session.fetch(uid + 100))
            .await
            .expect("fetch")
            .is_none()
    );
    assert!(
        !step("is_seen", session.is_seen(uid + 100))
            .await
            .expect("is_seen")
    );
    step("mark_seen", session.mark_seen(uid + 100))
        .await
        .expect("mark_seen of a missing UID");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sizes_come_from_rfc822_size_and_skip_missing_uids() {
    let dovecot = Dovecot::start();
    let small = mail("small", 0);
    let big = mail("big", 200_000);
    let s = dovecot.append("INBOX", &small, &[]).await;
    let b = dovecot.append("INBOX", &big, &[]).await;

    let mut session = connect(&dovecot.settings()).await;
    let sizes = step("sizes", session.sizes(&[b, s, 999, b]))
        .await
        .expect("sizes");
    assert_eq!(sizes, vec![(s, small.len() as u32), (b, big.len() as u32)]);
    assert!(
        step("sizes", session.sizes(&[]))
            .await
            .expect("sizes")
            .is_empty()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn move_to_creates_the_missing_folder_and_uses_move() {
    let dovecot = Dovecot::start();
    let first = dovecot.append("INBOX", &mail("first", 0), &[]).await;
    let second = dovecot.append("INBOX", &mail("second", 0), &[]).await;

    let mut session = connect(&dovecot.settings()).await;
    step("move_to", session.move_to(first, "Processed"))
        .await
        .expect("move to a new folder");
    assert_eq!(dovecot.uids("INBOX").await, vec![second]);
    assert_eq!(dovecot.uids("Processed").await.len(), 1);
    // The folder exists now; a second move goes straight in.
    step("move_to", session.move_to(second, "Processed"))
        .await
        .expect("move to an existing folder");
    assert!(dovecot.uids("INBOX").await.is_empty());
    assert_eq!(dovecot.uids("Processed").await.len(), 2);
    assert_eq!(
        session.mailbox().exists,
        0,
        "EXPUNGE responses were applied"
    );
    // The session still works and no longer lists the moved mail.
    assert!(
        step("candidates", session.candidates(Some(0)))
            .await
            .expect("candidates")
            .is_empty()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_move_and_idle_the_session_copies_and_refuses_idle() {
    let dovecot = Dovecot::start_with(DovecotOptions {
        capability: Some("IMAP4rev1 UIDPLUS LITERAL+".to_owned()),
    });
    let first = dovecot.append("INBOX", &mail("first", 0), &[]).await;
    let second = dovecot.append("INBOX", &mail("second", 0), &[]).await;

    let mut session = connect(&dovecot.settings()).await;
    assert!(!session.supports_idle());
    step("move_to", session.move_to(first, "Done"))
        .await
        .expect("copy + delete + expunge");
    assert_eq!(dovecot.uids("INBOX").await, vec![second]);
    assert_eq!(dovecot.uids("Done").await.len(), 1);
    let copied = dovecot.uids("Done").await[0];
    let flags = dovecot.flags_of("Done", copied).await.expect("copied");
    assert!(!flags.iter().any(|f| f == "\\Deleted"), "{flags:?}");

    let error = step(
        "idle",
        session.idle(Duration::from_secs(1), std::future::pending()),
    )
    .await
    .expect_err("no IDLE capability");
    assert!(error.to_string().contains("IDLE"), "{error}");
    // Refusing IDLE did not hurt the session.
    assert_eq!(
        step("candidates", session.candidates(None))
            .await
            .expect("candidates"),
        vec![second]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_wakes_up_on_new_mail_from_another_connection() {
    let dovecot = Dovecot::start();
    let mut session = connect(&dovecot.settings()).await;

    let (outcome, appended_at, uid) = step("idle + append", async {
        let idle = session.idle(Duration::from_secs(60), std::future::pending());
        let append = async {
            // Let the IDLE command reach the server first.
            tokio::time::sleep(Duration::from_millis(300)).await;
            let uid = dovecot.append("INBOX", &mail("news", 0), &[]).await;
            (Instant::now(), uid)
        };
        let (outcome, (appended_at, uid)) = tokio::join!(
            async {
                let outcome = idle.await;
                (outcome, Instant::now())
            },
            append
        );
        (outcome, appended_at, uid)
    })
    .await;
    let (outcome, woke_at) = outcome;
    assert_eq!(outcome.expect("idle"), IdleOutcome::NewData);
    let delay = woke_at.saturating_duration_since(appended_at);
    assert!(
        delay < Duration::from_millis(1500),
        "woke {delay:?} after the APPEND"
    );

    // The session is usable again and sees the new mail.
    assert_eq!(
        step("candidates", session.candidates(None))
            .await
            .expect("candidates"),
        vec![uid]
    );
    assert_eq!(session.mailbox().exists, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_times_out_when_nothing_happens_and_can_be_reissued() {
    let dovecot = Dovecot::start();
    let mut session = connect(&dovecot.settings()).await;
    for _ in 0..2 {
        let started = Instant::now();
        let outcome = step(
            "idle",
            session.idle(Duration::from_millis(400), std::future::pending()),
        )
        .await
        .expect("idle");
        assert_eq!(outcome, IdleOutcome::Timeout);
        let took = started.elapsed();
        assert!(
            took >= Duration::from_millis(400) && took < Duration::from_secs(3),
            "{took:?}"
        );
    }
    let uid = dovecot.append("INBOX", &mail("later", 0), &[]).await;
    assert_eq!(
        step("candidates", session.candidates(None))
            .await
            .expect("candidates"),
        vec![uid]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_stops_when_the_stop_future_resolves() {
    let dovecot = Dovecot::start();
    let uid = dovecot.append("INBOX", &mail("old", 0), &[]).await;
    let mut session = connect(&dovecot.settings()).await;

    let started = Instant::now();
    let outcome = step(
        "idle",
        session.idle(
            Duration::from_secs(60),
            tokio::time::sleep(Duration::from_millis(300)),
        ),
    )
    .await
    .expect("idle");
    assert_eq!(outcome, IdleOutcome::Stopped);
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );

    // A stop that is already due still leaves a working session.
    let outcome = step("idle", session.idle(Duration::from_secs(60), async {}))
        .await
        .expect("idle");
    assert_eq!(outcome, IdleOutcome::Stopped);
    let fetched = step("fetch", session.fetch(uid)).await.expect("fetch");
    assert!(fetched.is_some());
    step("logout", session.logout()).await.expect("logout");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_and_starttls_work_with_the_ca_file() {
    let dovecot = Dovecot::start();
    let uid = dovecot.append("INBOX", &mail("secure", 0), &[]).await;

    for settings in [
        dovecot.tls_settings(),
        ImapSettings {
            host: "localhost".to_owned(),
            ..dovecot.tls_settings()
        },
        dovecot.starttls_settings(),
    ] {
        let mut session = connect(&settings).await;
        assert_eq!(
            step("candidates", session.candidates(None))
                .await
                .expect("candidates"),
            vec![uid],
            "{settings:?}"
        );
        let outcome = step(
            "idle",
            session.idle(Duration::from_millis(200), std::future::pending()),
        )
        .await
        .expect("idle over TLS");
        assert_eq!(outcome, IdleOutcome::Timeout);
        step("logout", session.logout()).await.expect("logout");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_without_the_ca_file_fails_with_a_certificate_error() {
    let dovecot = Dovecot::start();
    for settings in [dovecot.tls_settings(), dovecot.starttls_settings()] {
        let settings = ImapSettings {
            ca_file: None,
            ..settings
        };
        let error = connect_err(&settings).await;
        assert!(matches!(error, Error::Tls { .. }), "{error:?}");
        let message = error.to_string();
        assert!(message.contains("UnknownIssuer"), "{message}");
        assert!(message.contains("CA file"), "{message}");
    }

    let missing = ImapSettings {
        ca_file: Some(dovecot.ca_file().with_file_name("missing.pem")),
        ..dovecot.tls_settings()
    };
    let error = connect_err(&missing).await;
    assert!(matches!(error, Error::Tls { .. }), "{error:?}");
    assert!(error.to_string().contains("missing.pem"), "{error}");

    // Implicit TLS against the plain port: the hint names the likely mix-up.
    let mixed_up = ImapSettings {
        port: dovecot.imap_port,
        ..dovecot.tls_settings()
    };
    let error = connect_err(&mixed_up).await;
    assert!(matches!(error, Error::Tls { .. }), "{error:?}");
    assert!(error.to_string().contains("starttls"), "{error}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unencrypted_imap_to_a_remote_host_is_refused_without_connecting() {
    let settings = ImapSettings {
        host: "192.0.2.1".to_owned(), // TEST-NET-1: would hang if we tried
        port: 143,
        security: ImapSecurity::None,
        username: USER.to_owned(),
        password: PASSWORD.to_owned(),
        mailbox: "INBOX".to_owned(),
        ca_file: None,
        timeout: Duration::from_secs(60),
    };
    let started = Instant::now();
    let error = connect_err(&settings).await;
    assert!(matches!(error, Error::Insecure { .. }), "{error:?}");
    assert!(!error.is_transient());
    assert!(started.elapsed() < Duration::from_millis(200));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_mailbox_is_a_mailbox_error() {
    let dovecot = Dovecot::start();
    let settings = ImapSettings {
        mailbox: "Jira Notifications".to_owned(),
        ..dovecot.settings()
    };
    let error = connect_err(&settings).await;
    assert!(matches!(error, Error::Mailbox { .. }), "{error:?}");
    assert!(error.to_string().contains("Jira Notifications"), "{error}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_silent_server_times_out_and_a_closed_port_fails_to_connect() {
    let dovecot = Dovecot::start();
    // Plain IMAP to the TLS port: the server waits for a ClientHello, we for a greeting.
    let silent = ImapSettings {
        port: dovecot.imaps_port,
        timeout: Duration::from_millis(500),
        ..dovecot.settings()
    };
    let started = Instant::now();
    let error = connect_err(&silent).await;
    assert!(matches!(error, Error::Timeout { .. }), "{error:?}");
    assert!(error.is_transient());
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );

    let closed_port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        listener.local_addr().expect("addr").port()
    };
    let refused = ImapSettings {
        port: closed_port,
        ..dovecot.settings()
    };
    let error = connect_err(&refused).await;
    assert!(matches!(error, Error::Connect { .. }), "{error:?}");
    assert!(error.is_transient());
}

/// A scripted IMAP server on 127.0.0.1 for the orderings a real server produces only by
/// chance: it greets, then answers each tagged command with `answer(command)` (untagged
/// lines, without the tagged completion, which it adds unless the answer is a continuation).
/// Stops with the returned sender, or when the client hangs up.
async fn scripted(
    answer: impl Fn(&str) -> String + Send + Sync + 'static,
) -> (u16, tokio::sync::oneshot::Sender<()>) {
    use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(async move {
        let serve = async {
            let (socket, _) = listener.accept().await.expect("accept");
            let (read, mut write) = socket.into_split();
            let mut lines = BufReader::new(read).lines();
            write
                .write_all(b"* OK [CAPABILITY IMAP4rev1 IDLE] scripted\r\n")
                .await
                .unwrap();
            let mut idling: Option<String> = None;
            while let Ok(Some(line)) = lines.next_line().await {
                if line == "DONE" {
                    if let Some(tag) = idling.take() {
                        write
                            .write_all(format!("{tag} OK Idle completed\r\n").as_bytes())
                            .await
                            .unwrap();
                    }
                    continue;
                }
                let (tag, command) = line.split_once(' ').unwrap_or((&line, ""));
                let reply = answer(command);
                let done = if reply.ends_with("+ idling\r\n") {
                    idling = Some(tag.to_owned());
                    String::new()
                } else {
                    format!("{tag} OK done\r\n")
                };
                write
                    .write_all(format!("{reply}{done}").as_bytes())
                    .await
                    .unwrap();
            }
        };
        tokio::select! {
            () = serve => {}
            _ = stopped => {}
        }
    });
    (port, stop)
}

/// The usual answers of the scripted server, for commands a test does not care about.
fn usual(command: &str) -> String {
    let verb = command.split(' ').next().unwrap_or("").to_ascii_uppercase();
    match verb.as_str() {
        "CAPABILITY" => "* CAPABILITY IMAP4rev1 IDLE UIDPLUS MOVE\r\n".to_owned(),
        "SELECT" => "* FLAGS (\\Seen)\r\n* 0 EXISTS\r\n* 0 RECENT\r\n\
                     * OK [UIDVALIDITY 7] UIDs valid\r\n* OK [UIDNEXT 1] next\r\n"
            .to_owned(),
        "LOGOUT" => "* BYE bye\r\n".to_owned(),
        _ => String::new(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mail_reported_after_the_search_is_news() {
    // Dovecot runs a search on the mailbox as it was, then reports mail delivered meanwhile
    // (`* 1 EXISTS`) before completing the command: that mail is not in the result, so the
    // session must say there is news rather than idle past it.
    let (port, stop) = scripted(|command| {
        if command.to_ascii_uppercase().starts_with("UID SEARCH") {
            "* SEARCH\r\n* 1 EXISTS\r\n".to_owned()
        } else {
            usual(command)
        }
    })
    .await;
    let mut session = connect(&plain_settings(port)).await;
    let uids = step("candidates", session.candidates(None)).await.unwrap();
    assert!(uids.is_empty(), "{uids:?}");
    assert!(
        session.has_news(),
        "the mail reported after the search is news"
    );
    // Once a search has seen it, it is not news any more.
    let _ = step("candidates", session.candidates(None)).await.unwrap();
    assert!(!session.has_news());
    drop(stop);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mail_reported_before_idle_is_accepted_ends_the_idle_at_once() {
    // A server may report news between the IDLE command and its `+` continuation; the session
    // must not wait for another announcement that will not come.
    let (port, stop) = scripted(|command| {
        if command.eq_ignore_ascii_case("IDLE") {
            "* 1 EXISTS\r\n+ idling\r\n".to_owned()
        } else {
            usual(command)
        }
    })
    .await;
    let mut session = connect(&plain_settings(port)).await;
    let _ = step("candidates", session.candidates(None)).await.unwrap();
    assert!(!session.has_news());
    let started = Instant::now();
    let outcome = step(
        "idle",
        session.idle(Duration::from_secs(60), std::future::pending()),
    )
    .await
    .unwrap();
    assert_eq!(outcome, IdleOutcome::NewData);
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    drop(stop);
}
