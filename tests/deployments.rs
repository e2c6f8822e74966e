//! One end-to-end scenario against each way the mirror reaches Jira: Jira Cloud with an API
//! token, Jira Data Center with a personal access token, and Jira Cloud through an OAuth 2.0
//! (3LO) app. Each runs `check`, a backfill, two sweeps around a change inside one minute
//! (no overlap: the bound alone must catch it), a `fetch`, and compares the tables with a
//! `transform --rebuild`.

use std::time::Duration;

use jira_mirror::simulator::{SimConfig, SimDeployment, Simulator};

use crate::support::*;

/// Which site and sign-in a scenario runs against.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Mode {
    Cloud,
    DataCenter,
    DataCenterBasic,
    OAuth,
}

async fn site(mode: Mode) -> Simulator {
    let mut config = SimConfig {
        issues: 30,
        ..SimConfig::default()
    };
    match mode {
        Mode::Cloud => {}
        Mode::DataCenter | Mode::DataCenterBasic => {
            config.deployment = SimDeployment::DataCenter;
            config.time_zone = "Europe/Berlin".into();
        }
        Mode::OAuth => config.oauth = Some(Default::default()),
    }
    simulator_with(config).await
}

fn mirror(sim: &Simulator, mode: Mode) -> Mirror {
    let sign_in = match mode {
        Mode::Cloud => SignIn::ApiToken,
        Mode::DataCenter => SignIn::PersonalAccessToken,
        Mode::DataCenterBasic => SignIn::UserPassword,
        Mode::OAuth => {
            let app = sim.config().oauth.clone().expect("an OAuth simulator");
            SignIn::OAuth {
                client_id: app.client_id,
                client_secret: app.client_secret,
            }
        }
    };
    Mirror::with(
        sim,
        MirrorOptions {
            overlap_secs: 0,
            sign_in,
            ..Default::default()
        },
    )
}

/// `auth login`, with the code the browser's address would carry pasted on stdin.
async fn log_in(sim: &Simulator, mirror: &Mirror) -> std::process::Output {
    log_in_pasting(mirror, sim.oauth_consent(OAUTH_REDIRECT_URI)).await
}

/// `auth login`, with `pasted` written to its stdin.
async fn log_in_pasting(mirror: &Mirror, pasted: String) -> std::process::Output {
    use std::io::Write;
    let mut cmd = mirror.command(&["auth", "login"]);
    cmd.stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    tokio::task::spawn_blocking(move || {
        let mut child = cmd.spawn().expect("binary runs");
        writeln!(child.stdin.take().unwrap(), "{pasted}").unwrap();
        child.wait_with_output().unwrap()
    })
    .await
    .unwrap()
}

async fn pull_end_to_end(mode: Mode) {
    let sim = site(mode).await;
    let mirror = mirror(&sim, mode);
    if mode == Mode::OAuth {
        let out = log_in(&sim, &mirror).await;
        assert!(out.status.success(), "{}\n{}", stdout(&out), stderr(&out));
        assert!(
            stdout(&out).contains("ok: authorized as"),
            "{}",
            stdout(&out)
        );
    }

    let out = mirror.run_ok(&["check"]).await;
    let check = stdout(&out);
    let expected: &[&str] = match mode {
        Mode::Cloud => &[
            "jira: deployment cloud (set in [jira] deployment",
            "jira: auth basic (API token or password) as mirror@example.com",
        ],
        Mode::DataCenter => &[
            "jira: deployment data_center (detected from /rest/api/2/serverInfo, Jira 9.12.4)",
            "jira: auth personal access token (Bearer)",
            "jira: JQL time bounds are written in the account's time zone, Europe/Berlin",
            "jira_sla: ok, authenticated as JSM Agent (jsm-agent@example.com)",
            "jira_sla: ok, read 2 SLA(s)",
        ],
        Mode::DataCenterBasic => &[
            "jira: deployment data_center (set in [jira] deployment, Jira 9.12.4)",
            "jira: auth basic (API token or password) as mirror@example.com",
        ],
        Mode::OAuth => &[
            "jira: deployment cloud (OAuth is Jira Cloud only",
            "jira: auth OAuth 2.0 (3LO) via app sim-client-id, cloud id",
            "/ex/jira/5f3c8d2e-9b1a-4c7e-8f60-2d4b6a8c0e13",
            "access token valid until",
            "refresh token issued",
        ],
    };
    for line in expected {
        assert!(check.contains(line), "{mode:?}: no {line:?} in\n{check}");
    }

    let out = mirror.run_ok(&["backfill"]).await;
    assert!(stdout(&out).contains("30 saved"), "{}", stdout(&out));
    assert_eq!(mirror.saved_keys().len(), 30);
    // Complete beyond the embedded pages, in the site's own representation.
    let truth = sim.issue("SUP-1").unwrap();
    let saved = mirror.issue("SUP-1").unwrap();
    assert_eq!(history_ids(&saved), history_ids(&truth));
    assert_eq!(comment_ids(&saved), comment_ids(&truth));
    assert_eq!(
        saved["fields"]["description"],
        truth["fields"]["description"]
    );
    // The JSM account's SLA figures are overlaid (on Data Center with its own token).
    assert_eq!(saved["mirror"]["sla"]["source"], "jsm", "{mode:?}");
    assert_eq!(
        saved["mirror"]["sla"]["values"].as_array().map(Vec::len),
        Some(2)
    );

    // Two changes inside one wall-clock minute, one before and one after a sweep.
    let second = chrono::Utc::now().timestamp() % 60;
    if second > 40 {
        tokio::time::sleep(Duration::from_secs((62 - second) as u64)).await;
    }
    let before = sim.touch("SUP-3");
    let out = mirror.run_ok(&["sweep"]).await;
    assert!(stdout(&out).contains("1 saved"), "{}", stdout(&out));
    let after = sim.touch("SUP-4");
    assert_eq!(
        before / 60_000,
        after / 60_000,
        "both changes in one minute"
    );
    let out = mirror.run_ok(&["sweep"]).await;
    assert!(stdout(&out).contains("1 saved"), "{}", stdout(&out));
    for key in ["SUP-3", "SUP-4"] {
        assert_eq!(
            history_ids(&mirror.issue(key).unwrap()),
            history_ids(&sim.issue(key).unwrap()),
            "{mode:?}: {key} is current"
        );
    }
    let log = sim.requests();
    let last_search = log
        .iter()
        .rev()
        .find(|r| r.path.ends_with("/search/jql") || r.path.ends_with("/search"))
        .unwrap();
    match mode {
        Mode::DataCenter | Mode::DataCenterBasic => {
            // The bound is a local minute in the account's zone (Berlin), rounded down.
            let minute = chrono::DateTime::from_timestamp_millis(before)
                .unwrap()
                .with_timezone(&chrono_tz::Europe::Berlin)
                .format("updated >= \\\"%Y/%m/%d %H:%M\\\"")
                .to_string();
            assert!(
                last_search.body.contains(&minute),
                "{minute} in {}",
                last_search.body
            );
            assert_eq!(last_search.path, "/rest/api/2/search");
            assert!(
                log.iter().all(|r| !r.path.starts_with("/rest/api/3/")),
                "Data Center has no API 3"
            );
        }
        _ => assert!(
            last_search.body.contains("updated >= 1"),
            "{}",
            last_search.body
        ),
    }
    if mode == Mode::DataCenter {
        // Detected once (by the first command), then remembered; `check` asks for the version.
        let asked = log
            .iter()
            .filter(|r| r.path == "/rest/api/2/serverInfo")
            .count();
        assert_eq!(asked, 2, "serverInfo asked {asked} times");
    }
    if mode == Mode::OAuth {
        // The main account only through the gateway ([jira_sla] has a site URL of its own).
        let sla_account = sim.config().sla_email.clone();
        let direct: Vec<_> = log
            .iter()
            .filter(|r| r.path.starts_with("/rest/") && r.user.as_ref() != Some(&sla_account))
            .map(|r| &r.path)
            .collect();
        assert!(direct.is_empty(), "{direct:?}");
        assert!(log.iter().any(|r| r.path.starts_with("/ex/jira/")));
    }

    // A fetch by key gives the same file as the backfill did.
    std::fs::remove_file(mirror.data().join("raw/issues/SUP-2.json")).unwrap();
    mirror.run_ok(&["fetch", "SUP-2"]).await;
    let fetched = mirror.issue("SUP-2").unwrap();
    assert_eq!(
        history_ids(&fetched),
        history_ids(&sim.issue("SUP-2").unwrap())
    );

    // The tables written issue by issue equal a rebuild from raw JSON.
    let written = mirror.tables();
    assert_eq!(written["issues"].len(), 30);
    mirror.run_ok(&["transform", "--rebuild"]).await;
    assert!(
        written == mirror.tables(),
        "{mode:?}: the tables equal a rebuild"
    );

    if matches!(mode, Mode::DataCenter | Mode::DataCenterBasic) {
        let issue = written["issues"]
            .iter()
            .find(|r| r["issue_key"] == "\"SUP-1\"")
            .unwrap();
        // Users are named by their key, and wiki markup is rendered to text.
        assert!(
            issue["reporter_account_id"].starts_with("\"JIRAUSER"),
            "{issue:?}"
        );
        let description = &issue["description"];
        assert!(
            description != "null" && !description.contains("h1."),
            "{description}"
        );
        let downloaded = written["attachments"]
            .iter()
            .filter(|r| r["local_path"] != "null")
            .count();
        assert!(downloaded > 0, "attachments come from /secure/attachment");
        assert!(
            log.iter()
                .any(|r| r.path.starts_with("/secure/attachment/"))
        );
    }
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cloud_with_an_api_token() {
    pull_end_to_end(Mode::Cloud).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn data_center_with_a_personal_access_token() {
    pull_end_to_end(Mode::DataCenter).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn data_center_with_a_user_name_and_password() {
    pull_end_to_end(Mode::DataCenterBasic).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cloud_with_oauth() {
    pull_end_to_end(Mode::OAuth).await;
}

/// `auth login` and its failures: the grant is stored owner-only, no secret reaches the
/// output, a bad code or a missing `[oauth]` section are configuration errors (exit 2), and
/// without a grant the commands say to log in.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oauth_login_stores_the_grant_privately_and_fails_clearly() {
    let sim = site(Mode::OAuth).await;
    let mirror = mirror(&sim, Mode::OAuth);
    let app = sim.config().oauth.clone().unwrap();

    let out = mirror.run(&["sweep"]).await;
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("run `jira-mirror auth login`"),
        "{}",
        stderr(&out)
    );

    // A code Atlassian never issued.
    let out = log_in_pasting(&mirror, "not-a-code".into()).await;
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("auth login"), "{}", stderr(&out));

    let out = log_in(&sim, &mirror).await;
    assert!(out.status.success(), "{}", stderr(&out));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(mirror.data().join("state.db"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o077, 0, "state.db is owner-only: {mode:o}");
    }
    // Every refresh token the grant has had: after login, after check (which refreshes and
    // rotates), after status.
    let stored_token = || -> String {
        let conn = rusqlite::Connection::open(mirror.data().join("state.db")).unwrap();
        let json: String = conn
            .query_row(
                "SELECT value FROM meta WHERE name = 'oauth.grant'",
                [],
                |r| r.get(0),
            )
            .unwrap();
        let v: serde_json::Value = serde_json::from_str(&json).unwrap();
        v["refresh_token"].as_str().unwrap().to_string()
    };
    let mut stored = vec![stored_token()];
    let check = mirror.run_ok(&["check"]).await;
    stored.push(stored_token());
    let status = mirror.run_ok(&["status"]).await;
    stored.push(stored_token());
    assert_ne!(stored[0], stored[1], "check rotated the refresh token");
    for out in [&out, &check, &status] {
        let text = format!("{}{}", stdout(out), stderr(out));
        assert!(
            !text.contains(&app.client_secret),
            "the client secret leaked: {text}"
        );
        for token in &stored {
            assert!(
                !text.contains(token.as_str()),
                "the refresh token leaked: {text}"
            );
        }
    }

    // Without [oauth] there is nothing to log in to.
    let plain = Mirror::new(&sim);
    let out = plain.run(&["auth", "login"]).await;
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("needs an [oauth] section"),
        "{}",
        stderr(&out)
    );
    sim.shutdown().await;
}

/// A site whose kind cannot be told (nothing answers `/rest/api/2/serverInfo`) stops with
/// the key to set, and the key set works without asking.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_undetectable_deployment_names_the_key_to_set() {
    let sim = site(Mode::DataCenter).await;
    let mirror = Mirror::with(
        &sim,
        MirrorOptions {
            sign_in: SignIn::PersonalAccessToken,
            max_retries: 0,
            ..Default::default()
        },
    );
    let config = std::fs::read_to_string(&mirror.config_path).unwrap();
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let dead = format!("http://{}", closed.local_addr().unwrap());
    drop(closed);
    std::fs::write(
        &mirror.config_path,
        config.replacen(&sim.base_url(), &dead, 1),
    )
    .unwrap();
    let out = mirror.run(&["sweep"]).await;
    // Nothing answers: maybe passing, so 1, not a configuration error.
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("set [jira] deployment = \"cloud\" or \"data_center\""),
        "{}",
        stderr(&out)
    );
    std::fs::write(
        &mirror.config_path,
        config.replacen("[jira]\n", "[jira]\ndeployment = \"data_center\"\n", 1),
    )
    .unwrap();
    let out = mirror.run_ok(&["sweep"]).await;
    assert!(stdout(&out).contains("30 saved"), "{}", stdout(&out));
    assert!(
        sim.requests()
            .iter()
            .all(|r| r.path != "/rest/api/2/serverInfo"),
        "a named deployment is not asked for"
    );
    sim.shutdown().await;
}

/// A Data Center backfill killed half-way, an issue deleted before it resumes: the stored
/// position has moved (offsets shifted), so the listing starts over instead of skipping
/// the issue that slid past it, and every remaining issue is saved.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_data_center_backfill_resumed_after_deletions_misses_nothing() {
    let sim = simulator_with(SimConfig {
        issues: 260,
        deployment: SimDeployment::DataCenter,
        time_zone: "Europe/Berlin".into(),
        faults: jira_mirror::simulator::Faults {
            latency_ms: 15,
            ..Default::default()
        },
        ..SimConfig::default()
    })
    .await;
    let mirror = Mirror::with(
        &sim,
        MirrorOptions {
            max_concurrency: 4,
            sign_in: SignIn::PersonalAccessToken,
            ..Default::default()
        },
    );
    mirror.kill_backfill_after(130).await;
    assert!(mirror.state_keys().len() < 260);

    sim.set_faults(Default::default());
    sim.delete_issue("SUP-1");
    let out = mirror.run_ok(&["backfill"]).await;
    assert!(
        stderr(&out).contains("listing again from the first page"),
        "{}",
        stderr(&out)
    );
    let saved = mirror.saved_keys();
    for key in sim.issue_keys() {
        assert!(saved.contains(&key), "{key} was skipped");
    }
    sim.shutdown().await;
}

/// Data Center serves attachments itself; one that redirects (to a login page, when the
/// credentials reach the REST API but not attachments) fails that attachment, named, and
/// no login page is saved as the file; the issue itself is saved.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_data_center_attachment_redirected_to_login_fails_alone() {
    let sim = site(Mode::DataCenter).await;
    sim.set_faults(jira_mirror::simulator::Faults {
        attachments_to_login: true,
        ..Default::default()
    });
    let mirror = mirror(&sim, Mode::DataCenter);
    let out = mirror.run(&["fetch", "SUP-1"]).await;
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let saved = mirror.issue("SUP-1").expect("the issue is saved");
    let attachments = saved["mirror"]["attachments"].as_array().unwrap();
    assert!(!attachments.is_empty());
    let tried: Vec<_> = attachments
        .iter()
        .filter(|a| a["status"] != "skipped_too_large")
        .collect();
    assert!(tried.len() >= 3, "{attachments:?}");
    for a in tried {
        assert_eq!(a["status"], "failed", "{a}");
        assert!(a["error"].as_str().unwrap().contains("/login.jsp"), "{a}");
    }
    let dir = mirror.data().join("raw/attachments/SUP-1");
    let files = std::fs::read_dir(&dir).map(|d| d.count()).unwrap_or(0);
    assert_eq!(files, 0, "no login page saved as a file");
    sim.shutdown().await;
}
