//! The site as a whole over HTTP: authentication, moves and edits while it runs, injected
//! faults, determinism and concurrent requests.

use super::*;

#[tokio::test]
async fn auth_failures_are_401_without_retry_after() {
    let h = H::new(small()).await;
    h.sim.set_faults(Faults {
        rate_429: 1.0,
        retry_after_secs: 3,
        ..Faults::default()
    });
    let r = h
        .http
        .get(h.url("/rest/api/3/myself"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    assert!(r.headers().get("retry-after").is_none());
    let v: Value = r.json().await.unwrap();
    assert_eq!(
        v,
        json!({"errorMessages": ["Client must be authenticated to access this resource."], "errors": {}})
    );
    let r = h
        .http
        .get(h.url("/rest/api/3/myself"))
        .basic_auth(&h.cfg.email, Some("wrong"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    let recs = h.sim.requests();
    assert_eq!(recs.len(), 2);
    assert!(recs.iter().all(|r| r.status == 401
        && r.user.is_none()
        && r.retry_after_secs.is_none()
        && r.fault.is_none()));
    assert!(!recs[0].had_authorization && recs[1].had_authorization);
    h.sim.set_faults(Faults::default());
    let me = h.get_json("/rest/api/3/myself").await;
    assert_eq!(me["emailAddress"], "mirror@example.com");
    assert_eq!(me["active"], true);
    assert!(me["accountId"].is_string() && me["timeZone"].is_string() && me["self"].is_string());
    let last = h.sim.requests().pop().unwrap();
    assert_eq!(last.user.as_deref(), Some("mirror@example.com"));
    assert_eq!(last.path, "/rest/api/3/myself");
    h.sim.clear_requests();
    assert!(h.sim.requests().is_empty());
    h.sim.shutdown().await;
}

#[tokio::test]
async fn moves_deletes_creates_and_edits() {
    let h = H::new(small()).await;
    let before = h.get_json("/rest/api/3/issue/SUP-2?expand=changelog").await;
    let new_key = h.sim.move_issue("SUP-2", "OPS");
    assert_eq!(new_key, "OPS-1");
    let moved = h.get_json("/rest/api/3/issue/SUP-2").await;
    assert_eq!(moved["key"], "OPS-1");
    assert_eq!(moved["id"], before["id"]);
    assert_eq!(moved["fields"]["project"]["key"], "OPS");
    assert!(
        !h.search_keys("project = SUP")
            .await
            .contains(&"SUP-2".to_string())
    );
    assert_eq!(h.search_keys("project = OPS").await, vec!["OPS-1"]);
    assert_eq!(h.search_keys("key = SUP-2").await, vec!["OPS-1"]);
    assert!(h.sim.issue_keys().contains(&"OPS-1".to_string()));
    let cl = h.get_json("/rest/api/3/issue/OPS-1?expand=changelog").await;
    assert_eq!(cl["changelog"]["histories"][0]["items"][0]["field"], "Key");

    h.sim.delete_issue("SUP-3");
    assert_eq!(h.get("/rest/api/3/issue/SUP-3").await.status(), 404);
    let e: Value = h.get("/rest/api/3/issue/SUP-3").await.json().await.unwrap();
    assert_eq!(
        e["errorMessages"][0],
        "Issue does not exist or you do not have permission to see it."
    );
    assert!(
        !h.search_keys("project = SUP")
            .await
            .contains(&"SUP-3".to_string())
    );

    let t0 = data::now_ms();
    let k = h.sim.create_issue("SUP");
    assert_eq!(k, "SUP-41");
    let v = h.get_json(&format!("/rest/api/3/issue/{k}")).await;
    assert_eq!(v["fields"]["created"], v["fields"]["updated"]);
    assert!(parse_jira_ms(v["fields"]["created"].as_str().unwrap()) >= t0);
    assert_eq!(
        h.search_keys(&format!("project = SUP AND created >= {t0}"))
            .await,
        vec![k.clone()]
    );

    let n = before["changelog"]["total"].as_u64().unwrap();
    let t = h.sim.touch("SUP-4");
    let t2 = h.sim.touch("SUP-4");
    assert!(t2 > t && t >= t0);
    let v = h.get_json("/rest/api/3/issue/SUP-4?expand=changelog").await;
    assert_eq!(parse_jira_ms(v["fields"]["updated"].as_str().unwrap()), t2);
    assert_eq!(
        parse_jira_ms(v["changelog"]["histories"][0]["created"].as_str().unwrap()),
        t2
    );
    let _ = n;
    let c = h.sim.add_comment("SUP-4", "hello from the test");
    assert!(c > t2);
    let v = h.get_json("/rest/api/3/issue/SUP-4").await;
    let comments = v["fields"]["comment"]["comments"].as_array().unwrap();
    assert_eq!(
        comments.last().unwrap()["body"]["content"][0]["content"][0]["text"],
        "hello from the test"
    );
    assert_eq!(h.sim.issue("SUP-4").unwrap()["fields"], v["fields"]);
    assert_eq!(h.sim.touch("NOPE-1"), 0);
    h.sim.shutdown().await;
}

#[tokio::test]
async fn injected_faults_follow_their_rates() {
    let h = H::new(small()).await;
    h.sim.set_faults(Faults {
        rate_429: 0.3,
        retry_after_secs: 2,
        ..Faults::default()
    });
    let mut n429 = 0;
    for _ in 0..200 {
        let r = h.get("/rest/api/3/myself").await;
        if r.status() == 429 {
            n429 += 1;
            assert_eq!(r.headers()["retry-after"], "2");
        } else {
            assert_eq!(r.status(), 200);
        }
    }
    assert!((35..=85).contains(&n429), "{n429}");
    let recs = h.sim.requests();
    assert_eq!(
        recs.iter()
            .filter(|r| r.fault == Some("429") && r.retry_after_secs == Some(2))
            .count(),
        n429
    );

    h.sim.set_faults(Faults {
        rate_5xx: 1.0,
        retry_after_secs: 1,
        ..Faults::default()
    });
    for _ in 0..40 {
        let r = h.get("/rest/api/3/field").await;
        let s = r.status().as_u16();
        assert!([500, 502, 503, 504].contains(&s));
        assert_eq!(r.headers().get("retry-after").is_some(), s == 503);
    }

    h.sim.set_faults(Faults {
        outage: true,
        rate_429: 1.0,
        ..Faults::default()
    });
    let r = h.get("/rest/api/3/issue/SUP-1").await;
    assert_eq!(r.status(), 503);
    assert!(r.headers().get("retry-after").is_none());
    assert_eq!(h.sim.requests().last().unwrap().fault, Some("outage"));

    h.sim.set_faults(Faults {
        rate_truncated: 1.0,
        ..Faults::default()
    });
    let r = h.get("/rest/api/3/issue/SUP-2").await;
    assert_eq!(r.status(), 200);
    let len = r.content_length();
    let body = r.bytes().await.unwrap();
    assert_eq!(len, Some(body.len() as u64));
    assert!(serde_json::from_slice::<Value>(&body).is_err());
    assert_eq!(h.sim.requests().last().unwrap().fault, Some("truncated"));
    // Non-JSON answers are never corrupted.
    assert_eq!(h.get("/rest/api/3/issue/NOPE-1").await.status(), 404);

    h.sim.set_faults(Faults {
        rate_garbled: 1.0,
        ..Faults::default()
    });
    let r = h.get("/rest/api/3/issue/SUP-2").await;
    assert_eq!(r.status(), 200);
    assert!(serde_json::from_slice::<Value>(&r.bytes().await.unwrap()).is_err());
    assert_eq!(h.sim.requests().last().unwrap().fault, Some("garbled"));

    h.sim.set_faults(Faults {
        latency_ms: 150,
        ..Faults::default()
    });
    let started = std::time::Instant::now();
    assert_eq!(h.get("/rest/api/3/myself").await.status(), 200);
    assert!(started.elapsed() >= std::time::Duration::from_millis(150));
    h.sim.shutdown().await;
}

#[tokio::test]
async fn same_seed_same_json() {
    let a = H::new(small()).await;
    let b = H::new(small()).await;
    let c = H::new(SimConfig { seed: 7, ..small() }).await;
    let norm = |h: &H, v: Value| -> String { v.to_string().replace(&h.sim.base_url(), "BASE") };
    for p in [
        "/rest/api/3/issue/SUP-10?expand=changelog",
        "/rest/api/3/search/jql?jql=project%3DSUP&fields=*all",
    ] {
        let va = norm(&a, a.get_json(p).await);
        let vb = norm(&b, b.get_json(p).await);
        let vc = norm(&c, c.get_json(p).await);
        assert_eq!(va, vb, "{p}");
        assert_ne!(va, vc, "{p}");
    }
    a.sim.shutdown().await;
    b.sim.shutdown().await;
    c.sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn serves_concurrently_on_a_multi_thread_runtime() {
    let h = H::new(small()).await;
    let mut tasks = Vec::new();
    for i in 1..=40 {
        let http = h.http.clone();
        let url = h.url(&format!("/rest/api/3/issue/SUP-{i}?fields=summary"));
        let (u, p) = (h.cfg.email.clone(), h.cfg.api_token.clone());
        tasks.push(tokio::spawn(async move {
            http.get(url)
                .basic_auth(u, Some(p))
                .send()
                .await
                .map(|r| r.status())
        }));
    }
    for t in tasks {
        assert_eq!(t.await.unwrap().unwrap(), 200);
    }
    let seqs: Vec<u64> = h.sim.requests().iter().map(|r| r.seq).collect();
    assert_eq!(seqs, (0..40).collect::<Vec<_>>());
    h.sim.shutdown().await;
}
