//! An issue's sub-resources over HTTP: changelog and comment pages, SLAs, attachments
//! through the media host, the field catalogue, remote links and bad input.

use super::*;

#[tokio::test]
async fn changelog_embedded_cap_and_full_pages() {
    let h = H::new(small()).await;
    let v = h.get_json("/rest/api/3/issue/SUP-1?expand=changelog").await;
    let cl = &v["changelog"];
    assert_eq!(cl["total"], 250);
    assert_eq!(cl["startAt"], 0);
    let embedded: Vec<u64> = cl["histories"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["id"].as_str().unwrap().parse().unwrap())
        .collect();
    assert_eq!(embedded.len(), 100);
    assert!(embedded.windows(2).all(|w| w[0] > w[1]), "newest first");

    let mut all = Vec::new();
    let mut start = 0;
    loop {
        let p = h
            .get_json(&format!(
                "/rest/api/3/issue/SUP-1/changelog?startAt={start}&maxResults=100"
            ))
            .await;
        assert_eq!(p["total"], 250);
        assert_eq!(p["startAt"], start);
        assert!(p["self"].as_str().unwrap().contains("/changelog?startAt="));
        let vals = p["values"].as_array().unwrap();
        all.extend(
            vals.iter()
                .map(|x| x["id"].as_str().unwrap().parse::<u64>().unwrap()),
        );
        if p["isLast"] == true {
            assert!(p.get("nextPage").is_none());
            assert_eq!(vals.len(), 50);
            break;
        }
        assert!(
            p["nextPage"]
                .as_str()
                .unwrap()
                .contains(&format!("startAt={}", start + 100))
        );
        start += 100;
    }
    assert_eq!(all.len(), 250);
    assert!(all.windows(2).all(|w| w[0] < w[1]), "oldest first");
    let newest: Vec<u64> = all.iter().rev().take(100).copied().collect();
    assert_eq!(newest, embedded);
    // maxResults is capped at 100.
    let p = h
        .get_json("/rest/api/3/issue/SUP-1/changelog?maxResults=1000")
        .await;
    assert_eq!(p["values"].as_array().unwrap().len(), 100);
    // The truth has everything.
    let truth = h.sim.issue("SUP-1").unwrap();
    assert_eq!(
        truth["changelog"]["histories"].as_array().unwrap().len(),
        250
    );
    assert_eq!(
        truth["fields"]["comment"]["comments"]
            .as_array()
            .unwrap()
            .len(),
        150
    );
    // Search embeds the same capped changelog.
    let (_, s) = h
        .search(&json!({"jql": "key = SUP-1", "expand": "changelog", "fields": ["summary"]}))
        .await;
    assert_eq!(s["issues"][0]["changelog"], v["changelog"]);
    h.sim.shutdown().await;
}

#[tokio::test]
async fn comments_cap_and_pages() {
    let h = H::new(small()).await;
    let v = h.get_json("/rest/api/3/issue/SUP-1").await;
    let c = &v["fields"]["comment"];
    assert_eq!(c["total"], 150);
    assert_eq!(c["startAt"], 0);
    assert_eq!(c["maxResults"], 100);
    assert!(c["self"].as_str().unwrap().ends_with("/comment"));
    let embedded = c["comments"].as_array().unwrap();
    assert_eq!(embedded.len(), 100);
    let mut all = Vec::new();
    for start in [0, 100] {
        let p = h
            .get_json(&format!(
                "/rest/api/3/issue/SUP-1/comment?startAt={start}&maxResults=100&orderBy=created"
            ))
            .await;
        assert_eq!(p["total"], 150);
        assert_eq!(p["startAt"], start);
        all.extend(p["comments"].as_array().unwrap().iter().cloned());
    }
    assert_eq!(all.len(), 150);
    assert_eq!(&all[..100], embedded.as_slice());
    let ids: Vec<u64> = all
        .iter()
        .map(|c| c["id"].as_str().unwrap().parse().unwrap())
        .collect();
    assert!(ids.windows(2).all(|w| w[0] < w[1]));
    assert!(
        all.iter()
            .all(|c| c["body"]["type"] == "doc" && c["jsdPublic"].is_boolean())
    );
    let newest = h
        .get_json("/rest/api/3/issue/SUP-1/comment?maxResults=1&orderBy=-created")
        .await;
    assert_eq!(newest["comments"][0], all[149]);
    assert_eq!(
        h.get("/rest/api/3/issue/SUP-1/comment?startAt=abc")
            .await
            .status(),
        400
    );
    assert_eq!(
        h.get("/rest/api/3/issue/SUP-1/comment?orderBy=weird")
            .await
            .status(),
        400
    );
    h.sim.shutdown().await;
}

#[tokio::test]
async fn sla_pages_accounts_and_non_service_desk_issues() {
    let h = H::new(small()).await;
    let sla = |p: String| {
        h.http
            .get(h.url(&p))
            .basic_auth(&h.cfg.sla_email, Some(&h.cfg.sla_api_token))
            .send()
    };
    let p1: Value = sla("/rest/servicedeskapi/request/SUP-1/sla?start=0&limit=1".into())
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(p1["size"], 1);
    assert_eq!(p1["start"], 0);
    assert_eq!(p1["limit"], 1);
    assert_eq!(p1["isLastPage"], false);
    assert_eq!(p1["_expands"], json!([]));
    assert!(
        p1["_links"]["base"]
            .as_str()
            .unwrap()
            .ends_with("/rest/servicedeskapi")
    );
    assert!(
        p1["_links"]["next"]
            .as_str()
            .unwrap()
            .contains("start=1&limit=1")
    );
    assert!(p1["_links"].get("prev").is_none());
    let p2: Value = sla("/rest/servicedeskapi/request/SUP-1/sla?start=1&limit=1".into())
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(p2["isLastPage"], true);
    assert!(p2["_links"].get("next").is_none());
    assert!(p2["_links"]["prev"].is_string());
    let issue = h.get_json("/rest/api/3/issue/SUP-1").await;
    assert_eq!(p1["values"][0], issue["fields"]["customfield_10030"]);
    assert_eq!(p2["values"][0], issue["fields"]["customfield_10031"]);
    assert_eq!(p1["values"][0]["name"], "Time to first response");
    assert_eq!(p2["values"][0]["name"], "Time to resolution");
    assert_eq!(p1["values"][0]["slaDisplayFormat"], "NEW_SLA_FORMAT");
    // By id too, and with the main account.
    let id = issue["id"].as_str().unwrap();
    let all = h
        .get_json(&format!("/rest/servicedeskapi/request/{id}/sla"))
        .await;
    assert_eq!(all["size"], 2);
    assert_eq!(all["isLastPage"], true);
    // Status and SLA agree for every issue.
    for key in h.sim.issue_keys() {
        let v = h.sim.issue(&key).unwrap();
        let ttr = &v["fields"]["customfield_10031"];
        if ttr.is_null() {
            continue;
        }
        let resolved = !v["fields"]["resolution"].is_null();
        assert_eq!(ttr.get("ongoingCycle").is_none(), resolved, "{key}");
        for c in ttr["completedCycles"].as_array().unwrap() {
            let remaining = c["remainingTime"]["millis"].as_i64().unwrap();
            assert_eq!(c["breached"].as_bool().unwrap(), remaining < 0, "{key}");
        }
    }
    // Every 7th issue is not a customer request.
    let r = sla("/rest/servicedeskapi/request/SUP-7/sla".into())
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    let e: Value = r.json().await.unwrap();
    assert!(e["errorMessage"].is_string() && e["i18nErrorMessage"].is_object());
    let v = h.get_json("/rest/api/3/issue/SUP-7").await;
    assert!(
        v["fields"]["customfield_10030"].is_null() && v["fields"]["customfield_10031"].is_null()
    );
    // The JSM account cannot read issues.
    let r = h
        .http
        .get(h.url("/rest/api/3/issue/SUP-1"))
        .basic_auth(&h.cfg.sla_email, Some(&h.cfg.sla_api_token))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    h.sim.shutdown().await;
}

#[tokio::test]
async fn attachments_redirect_to_media_host() {
    let h = H::new(small()).await;
    let v = h
        .get_json("/rest/api/3/issue/SUP-1?fields=attachment")
        .await;
    let atts = v["fields"]["attachment"].as_array().unwrap();
    assert_eq!(atts.len(), 6);
    let big = atts.iter().find(|a| a["filename"] == "big.bin").unwrap();
    let size = big["size"].as_u64().unwrap();
    assert_eq!(size, 3 * 1024 * 1024);
    let id: u64 = big["id"].as_str().unwrap().parse().unwrap();
    let content = big["content"].as_str().unwrap();
    assert_eq!(
        content,
        h.url(&format!("/rest/api/3/attachment/content/{id}"))
    );

    let r = h
        .http
        .get(content)
        .basic_auth(&h.cfg.email, Some(&h.cfg.api_token))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    let loc = r.headers()["location"].to_str().unwrap().to_string();
    assert!(
        loc.starts_with(&format!("{}/file/{id}?token=", h.sim.media_base_url())),
        "{loc}"
    );
    let r = h.http.get(&loc).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "application/octet-stream");
    assert_eq!(r.content_length(), Some(size));
    let bytes = r.bytes().await.unwrap();
    assert_eq!(bytes.len() as u64, size);
    assert!(bytes.as_ref() == data::attachment_bytes(id, size).as_slice());

    // A following client (reqwest drops Authorization across ports) ends on the media host.
    let follow = reqwest::Client::new();
    let small_att = atts.iter().find(|a| a["filename"] == "../../x").unwrap();
    let r = follow
        .get(small_att["content"].as_str().unwrap())
        .basic_auth(&h.cfg.email, Some(&h.cfg.api_token))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "text/plain");
    assert_eq!(r.bytes().await.unwrap().len(), 100);
    let media: Vec<RequestRecord> = h
        .sim
        .requests()
        .into_iter()
        .filter(|r| r.host == "media")
        .collect();
    assert_eq!(media.len(), 2);
    assert!(
        media
            .iter()
            .all(|r| !r.had_authorization && r.user.is_none() && r.status == 200)
    );
    // Without the token the media host refuses; redirect=false streams directly.
    assert_eq!(
        h.http
            .get(format!("{}/file/{id}", h.sim.media_base_url()))
            .send()
            .await
            .unwrap()
            .status(),
        403
    );
    let sid = small_att["id"].as_str().unwrap();
    let r = h
        .get(&format!(
            "/rest/api/3/attachment/content/{sid}?redirect=false"
        ))
        .await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.bytes().await.unwrap().len(), 100);
    assert_eq!(
        h.get("/rest/api/3/attachment/content/999999")
            .await
            .status(),
        404
    );
    h.sim.shutdown().await;
}

#[tokio::test]
async fn fields_remote_links_and_bad_input() {
    let h = H::new(small()).await;
    let f = h.get_json("/rest/api/3/field").await;
    let f = f.as_array().unwrap();
    let by_id = |id: &str| f.iter().find(|x| x["id"] == id).unwrap().clone();
    assert_eq!(
        by_id("customfield_10030")["schema"]["custom"],
        "com.atlassian.servicedesk:sd-sla-field"
    );
    assert_eq!(
        by_id("customfield_10031")["schema"]["type"],
        "sd-servicelevelagreement"
    );
    assert_eq!(f.iter().filter(|x| x["name"] == "Team").count(), 2);
    assert_eq!(
        by_id("summary")["schema"],
        json!({"type": "string", "system": "summary"})
    );
    // Every field an issue carries is described.
    let issue = h.get_json("/rest/api/3/issue/SUP-1").await;
    for k in issue["fields"].as_object().unwrap().keys() {
        assert!(f.iter().any(|x| x["id"] == k.as_str()), "{k} not in /field");
    }

    let mut found = 0;
    for key in h.sim.issue_keys() {
        let links = h
            .get_json(&format!("/rest/api/3/issue/{key}/remotelink"))
            .await;
        let links = links.as_array().unwrap();
        assert!(links.len() <= 2);
        for l in links {
            assert!(l["id"].is_u64());
            assert!(
                l["self"]
                    .as_str()
                    .unwrap()
                    .contains(&format!("/issue/{key}/remotelink/"))
            );
            assert!(l["object"]["url"].is_string() && l["application"]["name"].is_string());
            found += 1;
        }
    }
    assert!(found > 0);

    for p in [
        "/rest/api/3/search/jql?jql=project%3DSUP&maxResults=-1",
        "/rest/api/3/search/jql?jql=project%3DSUP&maxResults=abc",
        "/rest/api/3/issue/SUP-1/changelog?startAt=x",
        "/rest/servicedeskapi/request/SUP-1/sla?limit=0",
    ] {
        assert_eq!(h.get(p).await.status(), 400, "{p}");
    }
    let (s, _) = h
        .search(&json!({"jql": "project = SUP", "expand": ["changelog"]}))
        .await;
    assert_eq!(s, 400);
    let (s, _) = h.search(&json!({"jql": "project = SUP", "bogus": 1})).await;
    assert_eq!(s, 400);
    let r = h
        .http
        .post(h.url("/rest/api/3/search/jql"))
        .basic_auth(&h.cfg.email, Some(&h.cfg.api_token))
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    assert_eq!(h.get("/rest/api/3/nope").await.status(), 404);
    // Issue links point at live issues with the shape of the v2 capture.
    let mut seen_link = false;
    for key in h.sim.issue_keys() {
        let v = h.sim.issue(&key).unwrap();
        for l in v["fields"]["issuelinks"].as_array().unwrap() {
            let other = l.get("outwardIssue").or(l.get("inwardIssue")).unwrap();
            assert!(other["fields"]["status"]["statusCategory"].is_object());
            assert!(l["type"]["inward"].is_string());
            seen_link = true;
        }
    }
    assert!(seen_link);
    h.sim.shutdown().await;
}
