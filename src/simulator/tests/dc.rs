//! A Data Center site over HTTP: PATs and basic auth, API v2 (wiki markup, user names, no
//! account ids), `/search` paged by `startAt`, JQL dates in the account's zone, attachments
//! under `/secure/attachment/`, `serverInfo` in both modes.

use super::*;

fn dc(time_zone: &str) -> SimConfig {
    SimConfig {
        deployment: SimDeployment::DataCenter,
        time_zone: time_zone.to_string(),
        ..small()
    }
}

impl H {
    async fn bearer(&self, p: &str, token: &str) -> reqwest::Response {
        self.http
            .get(self.url(p))
            .bearer_auth(token)
            .send()
            .await
            .unwrap()
    }

    async fn dc_keys(&self, jql: String) -> Vec<String> {
        let (status, v) = self
            .dc_search(&json!({"jql": jql, "maxResults": 1000, "fields": ["key"]}))
            .await;
        assert_eq!(status, 200, "{jql}: {v}");
        keys(&v)
    }

    async fn dc_search(&self, body: &Value) -> (u16, Value) {
        let r = self
            .http
            .post(self.url("/rest/api/2/search"))
            .bearer_auth(&self.cfg.api_token)
            .json(body)
            .send()
            .await
            .unwrap();
        let status = r.status().as_u16();
        (status, r.json().await.unwrap())
    }
}

/// Every key named `key` anywhere in `v` (iteratively).
fn has_key_anywhere(v: &Value, key: &str) -> bool {
    let mut stack = vec![v];
    while let Some(v) = stack.pop() {
        match v {
            Value::Object(o) => {
                if o.contains_key(key) {
                    return true;
                }
                stack.extend(o.values());
            }
            Value::Array(a) => stack.extend(a),
            _ => {}
        }
    }
    false
}

/// Every string in `v` (iteratively).
fn strings(v: &Value) -> Vec<&str> {
    let mut out = Vec::new();
    let mut stack = vec![v];
    while let Some(v) = stack.pop() {
        match v {
            Value::Object(o) => stack.extend(o.values()),
            Value::Array(a) => stack.extend(a),
            Value::String(s) => out.push(s.as_str()),
            _ => {}
        }
    }
    out
}

#[tokio::test]
async fn pat_and_basic_auth_and_the_jsm_account() {
    let h = H::new(dc("America/New_York")).await;
    let cfg = h.cfg.clone();
    let r = h.bearer("/rest/api/2/myself", &cfg.api_token).await;
    assert_eq!(r.status(), 200);
    let me: Value = r.json().await.unwrap();
    assert_eq!(me["name"], "mirror@example.com");
    assert_eq!(me["emailAddress"], "mirror@example.com");
    assert_eq!(me["key"], "JIRAUSER10000");
    assert_eq!(me["timeZone"], "America/New_York");
    assert_eq!(me["active"], true);
    assert!(me["locale"].is_string() && me["groups"].is_object());
    assert_eq!(
        me["self"],
        h.url("/rest/api/2/user?username=mirror@example.com")
    );
    assert!(me.get("accountId").is_none());
    // Basic auth with the e-mail as user name.
    let basic = h.get_json("/rest/api/2/myself").await;
    assert_eq!(basic, me);
    // A wrong PAT, a basic password given as PAT user, no credentials: 401.
    for r in [
        h.bearer("/rest/api/2/myself", "wrong-token").await,
        h.bearer("/rest/api/2/field", "wrong-token").await,
        h.http
            .get(h.url("/rest/api/2/myself"))
            .send()
            .await
            .unwrap(),
        h.http
            .get(h.url("/rest/api/2/myself"))
            .basic_auth(&cfg.email, Some("wrong"))
            .send()
            .await
            .unwrap(),
    ] {
        assert_eq!(r.status(), 401);
        assert!(r.headers().get("retry-after").is_none());
    }
    // The JSM account's PAT reads SLAs and itself, nothing else.
    let jsm = h.bearer("/rest/api/2/myself", &cfg.sla_api_token).await;
    assert_eq!(jsm.status(), 200);
    let jsm: Value = jsm.json().await.unwrap();
    assert_eq!(jsm["name"], "jsm-agent@example.com");
    let sla = h
        .bearer("/rest/servicedeskapi/request/SUP-1/sla", &cfg.sla_api_token)
        .await;
    assert_eq!(sla.status(), 200);
    let sla: Value = sla.json().await.unwrap();
    assert_eq!(sla["values"].as_array().unwrap().len(), 2);
    assert_eq!(
        h.bearer("/rest/api/2/issue/SUP-1", &cfg.sla_api_token)
            .await
            .status(),
        401
    );
    let recs = h.sim.requests();
    assert_eq!(recs[0].user.as_deref(), Some("mirror@example.com"));
    assert!(
        recs[2..6]
            .iter()
            .all(|r| r.status == 401 && r.user.is_none())
    );
    assert_eq!(recs[7].user.as_deref(), Some("jsm-agent@example.com"));
    h.sim.shutdown().await;
}

#[tokio::test]
async fn cloud_paths_are_unknown_on_data_center() {
    let h = H::new(dc("America/New_York")).await;
    for p in [
        "/rest/api/3/myself",
        "/rest/api/3/issue/SUP-1",
        "/rest/api/3/search/jql?jql=project%3DSUP",
        "/rest/api/2/search/jql?jql=project%3DSUP",
        "/rest/api/3/attachment/content/10000",
        "/rest/api/3/project/search",
        "/rest/api/3/serverInfo",
    ] {
        let r = h.get(p).await;
        assert_eq!(r.status(), 404, "{p}");
    }
    let r = h
        .http
        .post(h.url("/rest/api/3/search/jql"))
        .bearer_auth(&h.cfg.api_token)
        .json(&json!({"jql": "project = SUP"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    h.sim.shutdown().await;
}

#[tokio::test]
async fn server_info_in_both_modes_without_auth() {
    let h = H::new(dc("Europe/Berlin")).await;
    let r = h
        .http
        .get(h.url("/rest/api/2/serverInfo"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["deploymentType"], "DataCenter");
    assert_eq!(v["version"], "9.12.4");
    assert_eq!(v["versionNumbers"], json!([9, 12, 4]));
    assert_eq!(v["buildNumber"], 9_120_004);
    assert_eq!(v["serverTitle"], "Jira");
    assert_eq!(v["baseUrl"], h.sim.base_url());
    let now = parse_jira_ms(v["serverTime"].as_str().unwrap());
    assert!((now - data::now_ms()).abs() < 60_000);
    assert!(v["buildDate"].is_string() && v["scmInfo"].is_string());
    h.sim.shutdown().await;

    let h = H::new(small()).await;
    for p in ["/rest/api/2/serverInfo", "/rest/api/3/serverInfo"] {
        let r = h.http.get(h.url(p)).send().await.unwrap();
        assert_eq!(r.status(), 200, "{p}");
        let v: Value = r.json().await.unwrap();
        assert_eq!(v["deploymentType"], "Cloud");
        assert_eq!(v["version"], "1001.0.0-SNAPSHOT");
        assert_eq!(v["versionNumbers"], json!([1001, 0, 0]));
        assert_eq!(v["buildNumber"], 100_250);
        assert_eq!(v["serverTitle"], "Jira");
        assert_eq!(v["baseUrl"], h.sim.base_url());
    }
    // Cloud has no v2 search, no Data Center attachment path.
    assert_eq!(
        h.get("/rest/api/2/search?jql=key%3DSUP-1").await.status(),
        404
    );
    h.sim.shutdown().await;
}

#[tokio::test]
async fn search_pages_by_start_at_to_the_end() {
    let h = H::new(SimConfig {
        issues: 130,
        ..dc("America/New_York")
    })
    .await;
    let all = h.sim.issue_keys();
    let mut seen = Vec::new();
    let mut start = 0;
    loop {
        let (status, v) = h
            .dc_search(&json!({
                "jql": "project = SUP ORDER BY key ASC",
                "startAt": start,
                "maxResults": 50,
                "fields": ["summary", "updated"],
            }))
            .await;
        assert_eq!(status, 200, "{v}");
        assert_eq!(v["total"], 130);
        assert_eq!(v["startAt"], start);
        assert_eq!(v["maxResults"], 50);
        assert_eq!(v["expand"], "schema,names");
        assert!(v.get("nextPageToken").is_none() && v.get("isLast").is_none());
        let page = keys(&v);
        for i in v["issues"].as_array().unwrap() {
            assert!(i["fields"]["summary"].is_string());
            assert!(i["fields"].get("description").is_none());
            assert!(i["self"].as_str().unwrap().contains("/rest/api/2/issue/"));
        }
        if page.is_empty() {
            break;
        }
        start += page.len();
        seen.extend(page);
    }
    assert_eq!(seen, all);
    // GET: query parameters, fields as a comma string; without fields every navigable one.
    let v = h
        .get_json("/rest/api/2/search?jql=key%3DSUP-2&fields=summary,status&expand=changelog")
        .await;
    assert_eq!(v["total"], 1);
    assert!(v["issues"][0]["fields"]["status"].is_object());
    assert!(v["issues"][0]["changelog"]["histories"].is_array());
    let v = h.get_json("/rest/api/2/search?jql=key%3DSUP-2").await;
    let f = &v["issues"][0]["fields"];
    assert!(f["summary"].is_string() && f["status"].is_object() && f.get("description").is_some());
    assert_eq!(v["startAt"], 0);
    assert_eq!(v["maxResults"], 50);
    // POST: expand as an array or a string, fields as a comma string.
    for expand in [json!(["changelog"]), json!("changelog")] {
        let (status, v) = h
            .dc_search(&json!({"jql": "key = SUP-2", "expand": expand, "fields": "summary"}))
            .await;
        assert_eq!(status, 200, "{v}");
        assert!(v["issues"][0]["changelog"]["histories"].is_array());
        assert!(v["issues"][0]["fields"].get("status").is_none());
    }
    // Page caps as on Cloud, and the short pages of `search_page_cap`.
    let (_, v) = h
        .dc_search(&json!({"jql": "project = SUP", "maxResults": 1000, "fields": ["summary"]}))
        .await;
    assert_eq!(v["issues"].as_array().unwrap().len(), 100);
    assert_eq!(v["maxResults"], 100);
    let (_, v) = h
        .dc_search(&json!({"jql": "project = SUP", "maxResults": 1000, "fields": ["key"]}))
        .await;
    assert_eq!(v["issues"].as_array().unwrap().len(), 130);
    h.sim.set_faults(Faults {
        search_page_cap: Some(7),
        ..Faults::default()
    });
    let (_, v) = h
        .dc_search(&json!({"jql": "project = SUP", "startAt": 10, "fields": ["key"]}))
        .await;
    assert_eq!(v["issues"].as_array().unwrap().len(), 7);
    assert_eq!(v["total"], 130);
    assert_eq!(keys(&v), all[10..17].to_vec());
    h.sim.set_faults(Faults::default());
    // Beyond the end: no issues, the total still.
    let (_, v) = h
        .dc_search(&json!({"jql": "project = SUP", "startAt": 500, "fields": ["key"]}))
        .await;
    assert_eq!(v["issues"], json!([]));
    assert_eq!(v["total"], 130);
    let (status, _) = h
        .dc_search(&json!({"jql": "project = SUP", "nextPageToken": "x"}))
        .await;
    assert_eq!(status, 400);
    h.sim.shutdown().await;
}

#[tokio::test]
async fn jql_dates_are_read_in_the_zone_at_minute_precision() {
    let h = H::new(dc("Europe/Berlin")).await;
    // 2026-03-05 10:15:30.250 in Berlin (CET, +0100) is 09:15:30.250Z.
    let at = chrono::DateTime::parse_from_rfc3339("2026-03-05T09:15:30.250Z")
        .unwrap()
        .timestamp_millis();
    h.sim.set_updated("SUP-4", at);
    let issue = h.get_json("/rest/api/2/issue/SUP-4?fields=updated").await;
    assert_eq!(issue["fields"]["updated"], "2026-03-05T10:15:30.250+0100");
    for form in ["2026/03/05 10:15", "2026-03-05 10:15"] {
        let found = h
            .dc_keys(format!("project = SUP AND updated >= \"{form}\""))
            .await;
        assert_eq!(found, vec!["SUP-4"], "{form}");
    }
    assert!(
        h.dc_keys("project = SUP AND updated >= \"2026/03/05 10:16\"".into())
            .await
            .is_empty()
    );
    assert_eq!(
        h.dc_keys("project = SUP AND updated > '2026-03-05'".into())
            .await,
        vec!["SUP-4"]
    );
    assert!(
        h.dc_keys("project = SUP AND updated >= 2026/03/06".into())
            .await
            .is_empty()
    );
    // An epoch-ms bound is Cloud's form: 400 here, in both searches.
    let (status, v) = h
        .dc_search(&json!({"jql": format!("project = SUP AND updated >= {at}")}))
        .await;
    assert_eq!(status, 400, "{v}");
    assert!(
        v["errorMessages"][0]
            .as_str()
            .unwrap()
            .contains("yyyy/MM/dd HH:mm")
    );
    let r = h
        .get(&format!("/rest/api/2/search?jql=updated%3E%3D{at}"))
        .await;
    assert_eq!(r.status(), 400);
    h.sim.shutdown().await;
}

#[tokio::test]
async fn timestamps_carry_the_offset_of_each_instant() {
    let h = H::new(dc("Europe/Berlin")).await;
    let ms = |s: &str| {
        chrono::DateTime::parse_from_rfc3339(s)
            .unwrap()
            .timestamp_millis()
    };
    h.sim.set_updated("SUP-5", ms("2026-07-01T10:00:00Z"));
    h.sim.set_updated("SUP-6", ms("2026-01-01T10:00:00Z"));
    let summer = h.get_json("/rest/api/2/issue/SUP-5?fields=updated").await;
    let winter = h.get_json("/rest/api/2/issue/SUP-6?fields=updated").await;
    assert_eq!(summer["fields"]["updated"], "2026-07-01T12:00:00.000+0200");
    assert_eq!(winter["fields"]["updated"], "2026-01-01T11:00:00.000+0100");
    // Every timestamp of an issue: +0100 or +0200, never Cloud's -0500.
    let v = h.get_json("/rest/api/2/issue/SUP-1?expand=changelog").await;
    let created = v["fields"]["created"].as_str().unwrap();
    assert!(
        created.ends_with("+0100") || created.ends_with("+0200"),
        "{created}"
    );
    assert!(strings(&v).iter().all(|s| !s.ends_with("-0500")));
    // An unknown zone does not start.
    let e = Simulator::start(dc("Mars/Olympus_Mons")).await.unwrap_err();
    assert_eq!(e.kind(), std::io::ErrorKind::InvalidInput);
    h.sim.shutdown().await;
}

#[tokio::test]
async fn issues_are_v2_wiki_markup_and_user_names() {
    let h = H::new(SimConfig {
        poison: vec![Poison {
            issue: 2,
            kind: PoisonKind::DeepDescription { depth: 10_000 },
        }],
        ..dc("America/New_York")
    })
    .await;
    let mut wiki_descriptions = 0;
    for key in h.sim.issue_keys() {
        let v = h
            .get_json(&format!("/rest/api/2/issue/{key}?expand=changelog"))
            .await;
        assert!(!has_key_anywhere(&v, "accountId"), "{key}");
        assert!(
            strings(&v).iter().all(|s| !s.contains("/rest/api/3/")),
            "{key}"
        );
        let d = &v["fields"]["description"];
        assert!(d.is_string() || d.is_null(), "{key}: {d}");
        wiki_descriptions += usize::from(d.is_string());
        let env = &v["fields"]["environment"];
        assert!(env.is_string() || env.is_null());
        let notes = &v["fields"]["customfield_10700"];
        assert!(notes.is_string() || notes.is_null());
        for c in v["fields"]["comment"]["comments"].as_array().unwrap() {
            assert!(c["body"].is_string(), "{key}: {c}");
            assert!(c["author"]["name"].is_string() && c["author"]["key"].is_string());
        }
        for w in v["fields"]["worklog"]["worklogs"].as_array().unwrap() {
            assert!(w.get("comment").is_none_or(Value::is_string));
        }
        // The truth is the same representation.
        let truth = h.sim.issue(&key).unwrap();
        assert_eq!(truth["fields"]["description"], v["fields"]["description"]);
        assert_eq!(truth["fields"]["updated"], v["fields"]["updated"]);
        assert!(!has_key_anywhere(&truth, "accountId"));
    }
    assert!(wiki_descriptions > 20);
    // Users: name, key, e-mail, time zone, a v2 self URL.
    let v = h.get_json("/rest/api/2/issue/SUP-1").await;
    let reporter = &v["fields"]["reporter"];
    let name = reporter["name"].as_str().unwrap();
    assert!(reporter["key"].as_str().unwrap().starts_with("JIRAUSER"));
    assert!(reporter["emailAddress"].is_string() && reporter["timeZone"].is_string());
    assert_eq!(
        reporter["self"],
        h.url(&format!("/rest/api/2/user?username={name}"))
    );
    // The deep description is one line of 10,000 bullets and its bottom text.
    let deep = h
        .get_json("/rest/api/2/issue/SUP-3?fields=description")
        .await;
    let text = deep["fields"]["description"].as_str().unwrap();
    assert_eq!(
        text,
        format!("{} {}", "*".repeat(10_000), deep_bottom_text("SUP-3"))
    );
    // Wiki markup of the generated rich text: the marks and blocks adf.rs makes show up.
    let all: String = h
        .sim
        .issue_keys()
        .iter()
        .filter_map(|k| h.sim.issue(k))
        .map(|v| {
            v["fields"]["description"]
                .as_str()
                .unwrap_or("")
                .to_string()
        })
        .collect();
    for markup in ["{code:", "||", "* ", "[~", "h1. ", "{quote}"] {
        assert!(all.contains(markup), "no {markup:?} in the descriptions");
    }
    // Changelog: user changes name users, histories have v2 authors.
    let truth = h.sim.issue("SUP-1").unwrap();
    let people = [
        "mia",
        "jose.mueller",
        "priya",
        "li.lei",
        "sam.oneil",
        "former.employee",
        "zoe.dubois",
        "carla",
    ];
    let mut assignee_changes = 0;
    for hist in truth["changelog"]["histories"].as_array().unwrap() {
        assert!(hist["author"]["name"].is_string());
        for item in hist["items"].as_array().unwrap() {
            if item["field"] == "assignee" {
                for end in ["from", "to"] {
                    let who = &item[end];
                    assert!(
                        who.is_null() || people.contains(&who.as_str().unwrap()),
                        "{item}"
                    );
                }
                assignee_changes += 1;
            }
        }
    }
    assert!(assignee_changes > 0);
    h.sim.shutdown().await;
}

#[tokio::test]
async fn comment_worklog_changelog_pages_and_listings() {
    let h = H::new(dc("America/New_York")).await;
    h.sim.add_comment("SUP-2", "plain words");
    let p = h
        .get_json("/rest/api/2/issue/SUP-2/comment?orderBy=-created&maxResults=1")
        .await;
    let c = &p["comments"][0];
    assert_eq!(c["body"], "plain words");
    assert!(c.get("jsdPublic").is_none());
    assert!(c["self"].as_str().unwrap().contains("/rest/api/2/issue/"));
    let p = h
        .get_json("/rest/api/2/issue/SUP-1/comment?startAt=100&maxResults=100")
        .await;
    assert_eq!(p["total"], 150);
    assert_eq!(p["comments"].as_array().unwrap().len(), 50);
    assert!(
        p["comments"]
            .as_array()
            .unwrap()
            .iter()
            .all(|c| c["body"].is_string())
    );
    let p = h
        .get_json("/rest/api/2/issue/SUP-1/changelog?startAt=200")
        .await;
    assert_eq!(p["total"], 250);
    assert!(p["self"].as_str().unwrap().contains("/rest/api/2/issue/"));
    let p = h.get_json("/rest/api/2/issue/SUP-1/worklog").await;
    assert_eq!(p["total"], 45);
    let w = &p["worklogs"][0];
    assert_eq!(w["comment"], "Worked on SUP-1 (1)");
    assert!(w["author"]["name"].is_string());
    let links = h.get_json("/rest/api/2/issue/SUP-1/remotelink").await;
    assert!(links.is_array());

    let projects = h.get_json("/rest/api/2/project").await;
    assert_eq!(projects.as_array().unwrap().len(), 1);
    assert_eq!(projects[0]["key"], "SUP");
    assert!(
        projects[0]["self"]
            .as_str()
            .unwrap()
            .contains("/rest/api/2/project/")
    );
    let priorities = h.get_json("/rest/api/2/priority").await;
    assert_eq!(priorities.as_array().unwrap().len(), 5);
    let statuses = h.get_json("/rest/api/2/status").await;
    assert_eq!(statuses.as_array().unwrap().len(), 4);
    let fields = h.get_json("/rest/api/2/field").await;
    assert!(fields.as_array().unwrap().len() > 20);

    // Users: `username=.` lists everyone active; inactive ones on request; paging.
    let users = h
        .get_json("/rest/api/2/user/search?username=.&maxResults=1000")
        .await;
    let users = users.as_array().unwrap();
    assert_eq!(users.len(), 9);
    assert!(users.iter().all(|u| u["active"] == true
        && u["name"].is_string()
        && u["key"].is_string()
        && u.get("accountId").is_none()));
    let all = h
        .get_json("/rest/api/2/user/search?username=.&includeInactive=true&maxResults=1000")
        .await;
    assert_eq!(all.as_array().unwrap().len(), 10);
    let page = h
        .get_json("/rest/api/2/user/search?username=.&startAt=8&maxResults=5")
        .await;
    assert_eq!(page.as_array().unwrap().len(), 1);
    let mia = h.get_json("/rest/api/2/user/search?username=mia").await;
    assert_eq!(mia[0]["name"], "mia");
    assert_eq!(mia.as_array().unwrap().len(), 1);
    assert_eq!(h.get("/rest/api/2/user/search").await.status(), 400);
    h.sim.shutdown().await;
}

#[tokio::test]
async fn attachments_come_from_the_api_listener() {
    let h = H::new(SimConfig {
        poison: vec![
            Poison {
                issue: 3,
                kind: PoisonKind::ForbiddenAttachment,
            },
            Poison {
                issue: 4,
                kind: PoisonKind::LongAttachmentId { len: 200 },
            },
        ],
        ..dc("America/New_York")
    })
    .await;
    let v = h
        .get_json("/rest/api/2/issue/SUP-1?fields=attachment")
        .await;
    let atts = v["fields"]["attachment"].as_array().unwrap();
    assert_eq!(atts.len(), 6);
    for a in atts {
        let id: u64 = a["id"].as_str().unwrap().parse().unwrap();
        let size = a["size"].as_u64().unwrap();
        let content = a["content"].as_str().unwrap();
        assert!(
            content.starts_with(&h.url(&format!("/secure/attachment/{id}/"))),
            "{content}"
        );
        assert_eq!(a["self"], h.url(&format!("/rest/api/2/attachment/{id}")));
        if a["filename"] == ".." {
            // A URL parser drops a `..` segment (and the id before it): the client builds
            // such a URL from the id.
            assert_eq!(content, h.url(&format!("/secure/attachment/{id}/..")));
            continue;
        }
        let r = h
            .http
            .get(content)
            .bearer_auth(&h.cfg.api_token)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "{content}");
        assert_eq!(r.content_length(), Some(size));
        let bytes = r.bytes().await.unwrap();
        assert!(
            bytes.as_ref() == data::attachment_bytes(id, size).as_slice(),
            "{content}"
        );
    }
    let hostile = atts.iter().find(|a| a["filename"] == "../../x").unwrap();
    let id = hostile["id"].as_str().unwrap();
    assert_eq!(
        hostile["content"],
        h.url(&format!("/secure/attachment/{id}/..%2F..%2Fx"))
    );
    let mojibake = atts
        .iter()
        .find(|a| a["filename"].as_str().unwrap().ends_with(".pdf"))
        .unwrap();
    assert!(mojibake["content"].as_str().unwrap().ends_with("%7F.pdf"));
    // Any name, or none, finds the attachment by id; basic auth works too.
    for p in [
        format!("/secure/attachment/{id}/whatever.txt"),
        format!("/secure/attachment/{id}/"),
        format!("/secure/attachment/{id}"),
        format!("/secure/attachment/{id}/a%20b%2Fc%25.txt"),
    ] {
        let r = h.get(&p).await;
        assert_eq!(r.status(), 200, "{p}");
        assert_eq!(r.bytes().await.unwrap().len(), 100, "{p}");
    }
    // No auth: 401; no media host involved; recorded like any request.
    let r = h
        .http
        .get(h.url(&format!("/secure/attachment/{id}/x")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    assert!(h.sim.requests().iter().all(|r| r.host == "api"));
    // ForbiddenAttachment: 403 with Jira's body; a long id and an unknown id: 404.
    let v = h
        .get_json("/rest/api/2/issue/SUP-4?fields=attachment")
        .await;
    let restricted = v["fields"]["attachment"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["filename"] == "restricted.pdf")
        .unwrap()
        .clone();
    let (status, body) = get_raw(
        &h,
        restricted["content"]
            .as_str()
            .unwrap()
            .trim_start_matches(&h.sim.base_url()),
    )
    .await;
    assert_jira_403(status, &body, "restricted.pdf");
    let v = h
        .get_json("/rest/api/2/issue/SUP-5?fields=attachment")
        .await;
    let long = v["fields"]["attachment"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["filename"] == "long-id.txt")
        .unwrap()
        .clone();
    assert_eq!(long["id"].as_str().unwrap().len(), 200);
    let r = h
        .http
        .get(long["content"].as_str().unwrap())
        .bearer_auth(&h.cfg.api_token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    assert_eq!(h.get("/secure/attachment/999999/x").await.status(), 404);
    // A slow attachment trickles here too.
    let big = atts.iter().find(|a| a["filename"] == "big.bin").unwrap();
    let big_id: u64 = big["id"].as_str().unwrap().parse().unwrap();
    h.sim.set_faults(Faults {
        slow_attachment: Some(SlowAttachment {
            id: big_id,
            chunk_bytes: 1024 * 1024,
            pause: std::time::Duration::from_millis(100),
        }),
        ..Faults::default()
    });
    let started = std::time::Instant::now();
    let r = h.get(&format!("/secure/attachment/{big_id}/big.bin")).await;
    assert_eq!(r.bytes().await.unwrap().len(), 3 * 1024 * 1024);
    assert!(started.elapsed() >= std::time::Duration::from_millis(300));
    h.sim.shutdown().await;
}
