//! Search over HTTP: paging by token, JQL bounds and rejections, id censuses.

use super::*;

#[tokio::test]
async fn pages_through_1000_issues_by_token() {
    let h = H::new(SimConfig {
        issues: 1000,
        big_issues: vec![],
        hostile_attachments: false,
        ..SimConfig::default()
    })
    .await;
    let jql = "project = SUP ORDER BY key ASC";
    let mut token: Option<String> = None;
    let mut seen = Vec::new();
    let mut pages = 0;
    loop {
        let mut body = json!({"jql": jql, "maxResults": 100, "fields": ["summary", "updated"]});
        if let Some(t) = &token {
            body["nextPageToken"] = json!(t);
        }
        let (status, page) = h.search(&body).await;
        assert_eq!(status, 200, "{page}");
        assert!(page.get("total").is_none() && page.get("startAt").is_none());
        pages += 1;
        let issues = page["issues"].as_array().unwrap();
        for i in issues {
            assert!(i["id"].is_string() && i["self"].is_string() && i["expand"].is_string());
            let f = i["fields"].as_object().unwrap();
            assert_eq!(f.len(), 2, "only the requested fields: {f:?}");
        }
        seen.extend(keys(&page));
        if page["isLast"] == true {
            assert!(
                page.get("nextPageToken").is_none(),
                "no token on the last page"
            );
            break;
        }
        assert_eq!(issues.len(), 100);
        token = Some(page["nextPageToken"].as_str().unwrap().to_string());
    }
    assert_eq!(pages, 10);
    assert_eq!(seen.len(), 1000);
    assert_eq!(seen.iter().collect::<HashSet<_>>().len(), 1000);
    assert_eq!(seen[0], "SUP-1");
    assert_eq!(seen[999], "SUP-1000");

    // id/key only: up to 5000 per page; default fields are id only.
    let r = h
        .get("/rest/api/3/search/jql?jql=project%3DSUP&maxResults=5000")
        .await;
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["issues"].as_array().unwrap().len(), 1000);
    assert_eq!(v["isLast"], true);
    assert_eq!(v["issues"][0]["fields"], json!({}));
    // Any other field caps the page at 100; default page size is 50.
    let v = h
        .get_json("/rest/api/3/search/jql?jql=project%3DSUP&maxResults=1000&fields=summary,status")
        .await;
    assert_eq!(v["issues"].as_array().unwrap().len(), 100);
    let v = h
        .get_json("/rest/api/3/search/jql?jql=project%3DSUP&fields=*all")
        .await;
    assert_eq!(v["issues"].as_array().unwrap().len(), 50);
    assert!(v["issues"][0]["fields"]["comment"]["comments"].is_array());
    // A token is bound to its JQL; garbage tokens are refused.
    let t = v["nextPageToken"].as_str().unwrap();
    let (status, e) = h
        .search(&json!({"jql": "project = SUP AND updated >= 0", "nextPageToken": t}))
        .await;
    assert_eq!(status, 400, "{e}");
    let (status, _) = h
        .search(&json!({"jql": "project = SUP", "nextPageToken": "!!nope"}))
        .await;
    assert_eq!(status, 400);
    h.sim.shutdown().await;
}

#[tokio::test]
async fn jql_epoch_ms_bound_is_exact() {
    let h = H::new(small()).await;
    let t: i64 = 1_900_000_000_123;
    h.sim.set_updated("SUP-5", t);
    assert_eq!(
        h.search_keys(&format!("(project = SUP) AND updated >= {t}"))
            .await,
        vec!["SUP-5"]
    );
    assert!(
        h.search_keys(&format!("(project = SUP) AND updated >= {}", t + 1))
            .await
            .is_empty()
    );
    assert_eq!(
        h.search_keys(&format!("project = SUP AND updated > {}", t - 1))
            .await,
        vec!["SUP-5"]
    );
    assert!(
        h.search_keys(&format!("project = SUP AND updated > {t}"))
            .await
            .is_empty()
    );
    assert_eq!(
        h.search_keys(&format!(
            "project = SUP AND updated <= {t} AND updated >= {t}"
        ))
        .await,
        vec!["SUP-5"]
    );
    let all = h
        .search_keys(&format!("project = SUP AND updated < {t}"))
        .await;
    assert_eq!(all.len(), 39);
    // The rendered timestamp carries the millisecond and the configured offset.
    let v = h.get_json("/rest/api/3/issue/SUP-5?fields=updated").await;
    let s = v["fields"]["updated"].as_str().unwrap();
    assert!(s.ends_with("-0500"), "{s}");
    assert_eq!(parse_jira_ms(s), t);
    // ORDER BY updated DESC puts it first; ties broken by id.
    let ordered = h.search_keys("project = SUP ORDER BY updated DESC").await;
    assert_eq!(ordered[0], "SUP-5");
    h.sim.shutdown().await;
}

#[tokio::test]
async fn quoted_dates_and_unsupported_jql_are_rejected() {
    let h = H::new(small()).await;
    let (status, v) = h
        .search(&json!({"jql": "project = SUP AND updated >= \"2024/01/02 10:00\""}))
        .await;
    assert_eq!(status, 400);
    let msg = v["errorMessages"][0].as_str().unwrap();
    assert!(msg.contains("epoch milliseconds"), "{msg}");
    assert_eq!(v["errors"], json!({}));
    let r = h
        .get("/rest/api/3/search/jql?jql=updated%20%3E%3D%20%222024-01-02%22")
        .await;
    assert_eq!(r.status(), 400);
    for bad in [
        "project = SUP OR project = X",
        "assignee = x",
        "project = NOPE",
        "ORDER BY key",
        "",
    ] {
        let (status, v) = h.search(&json!({"jql": bad})).await;
        assert_eq!(status, 400, "{bad}: {v}");
        assert!(v["errorMessages"][0].is_string());
    }
    h.sim.shutdown().await;
}

#[tokio::test]
async fn id_census_short_pages_broken_tokens_hidden_issues_and_sla_clocks() {
    let h = H::new(small()).await;
    // `fields` defaults to `id`; id-only pages go up to 5000.
    let (s, v) = h
        .search(&json!({"jql": "project = SUP", "maxResults": 5000}))
        .await;
    assert_eq!(s, 200);
    assert_eq!(v["issues"].as_array().unwrap().len(), 40);
    assert_eq!(v["issues"][0]["fields"], json!({}));
    assert!(v["issues"][0]["id"].is_string());
    let (_, v) = h
        .search(&json!({"jql": "project = SUP", "maxResults": 5000, "fields": ["*all"]}))
        .await;
    assert_eq!(v["issues"].as_array().unwrap().len(), 40, "40 < 100");

    // Short pages: the token must be followed.
    h.sim.set_faults(Faults {
        search_page_cap: Some(15),
        ..Faults::default()
    });
    let (_, p1) = h
        .search(&json!({"jql": "project = SUP", "maxResults": 5000, "fields": ["id"]}))
        .await;
    assert_eq!(p1["issues"].as_array().unwrap().len(), 15);
    let token = p1["nextPageToken"].as_str().unwrap().to_string();
    let body = json!({"jql": "project = SUP", "maxResults": 5000, "fields": ["id"], "nextPageToken": token});
    let (s, p2) = h.search(&body).await;
    assert_eq!((s, p2["issues"].as_array().unwrap().len()), (200, 15));
    h.sim.set_faults(Faults {
        search_page_cap: Some(15),
        broken_search_tokens: true,
        ..Faults::default()
    });
    assert_eq!(h.search(&body).await.0, 500);
    h.sim.set_faults(Faults::default());

    // Hidden from search, still found by GET.
    assert!(h.sim.set_searchable("SUP-5", false));
    assert!(
        !h.search_keys("project = SUP")
            .await
            .contains(&"SUP-5".to_string())
    );
    assert_eq!(h.get("/rest/api/3/issue/SUP-5").await.status(), 200);
    assert!(h.sim.set_searchable("SUP-5", true));
    assert!(
        h.search_keys("project = SUP")
            .await
            .contains(&"SUP-5".to_string())
    );
    assert!(!h.sim.set_searchable("NOPE-1", false));

    // SLA clocks run without `updated`; a resolution stops them and bumps `updated`.
    let open = h
        .sim
        .issue_keys()
        .into_iter()
        .find(|k| {
            let v = h.sim.issue(k).unwrap();
            v["fields"]["status"]["statusCategory"]["key"] != "done"
                && !v["fields"]["customfield_10031"].is_null()
                && v["fields"]["customfield_10031"]["ongoingCycle"].is_object()
        })
        .expect("an open service request");
    let sla_path = format!("/rest/servicedeskapi/request/{open}/sla");
    let sla = |v: &Value| {
        v["values"][1]["ongoingCycle"]["elapsedTime"]["millis"]
            .as_i64()
            .unwrap()
    };
    let get_sla = || async {
        let r = h
            .http
            .get(h.url(&sla_path))
            .basic_auth(&h.cfg.sla_email, Some(&h.cfg.sla_api_token))
            .send()
            .await
            .unwrap();
        r.json::<Value>().await.unwrap()
    };
    let before = get_sla().await;
    let updated = h.sim.issue(&open).unwrap()["fields"]["updated"].clone();
    assert!(h.sim.advance_sla(&open, 60_000));
    let after = get_sla().await;
    assert_eq!(sla(&after), sla(&before) + 60_000);
    assert_eq!(h.sim.issue(&open).unwrap()["fields"]["updated"], updated);
    let t = h.sim.resolve_issue(&open);
    assert!(t > 0);
    let v = h.sim.issue(&open).unwrap();
    assert_eq!(v["fields"]["status"]["statusCategory"]["key"], "done");
    assert!(!v["fields"]["resolution"].is_null());
    assert_ne!(v["fields"]["updated"], updated);
    let done = get_sla().await;
    assert!(done["values"][1].get("ongoingCycle").is_none());
    assert_eq!(h.sim.resolve_issue("NOPE-1"), 0);
    h.sim.shutdown().await;
}
