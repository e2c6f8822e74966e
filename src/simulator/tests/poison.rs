//! Poisoned issues over HTTP: each defect answers as documented, every other issue and
//! request as without it.

use super::*;

#[tokio::test]
async fn poisoned_issues_answer_as_documented_and_the_others_do_not() {
    let p = |issue, kind| Poison { issue, kind };
    let h = H::new(SimConfig {
        poison: vec![
            p(2, PoisonKind::DeepDescription { depth: 5_000 }),
            p(3, PoisonKind::ForbiddenAttachment),
            p(4, PoisonKind::LongAttachmentId { len: 200 }),
            p(
                5,
                PoisonKind::Forbidden {
                    part: Part::RemoteLinks,
                },
            ),
            p(
                6,
                PoisonKind::Forbidden {
                    part: Part::Comments,
                },
            ),
            p(
                7,
                PoisonKind::Forbidden {
                    part: Part::Changelog,
                },
            ),
            p(8, PoisonKind::Forbidden { part: Part::Issue }),
            p(9, PoisonKind::LoneSurrogate),
        ],
        ..small()
    })
    .await;
    let poisoned = [
        "SUP-3", "SUP-4", "SUP-5", "SUP-6", "SUP-7", "SUP-8", "SUP-9", "SUP-10",
    ];

    // DeepDescription: the same deep document in GET, search and the truth, with the bottom
    // text 5,000 lists down; far beyond serde_json's default limit.
    let truth = h.sim.issue("SUP-3").unwrap();
    let expected = crate::json::to_vec(&truth["fields"]["description"]).unwrap();
    crate::json::drop_deep(truth);
    let (status, body) = get_raw(&h, "/rest/api/3/issue/SUP-3").await;
    assert_eq!(status, 200);
    assert!(
        serde_json::from_slice::<Value>(&body).is_err(),
        "deeper than 128"
    );
    let v = crate::json::from_slice(&body).unwrap();
    let description = &v["fields"]["description"];
    assert!(crate::json::to_vec(description).unwrap() == expected);
    assert!(crate::json::depth(description) > 4 * 5_000);
    let mut node = &description["content"][0];
    for _ in 0..5_000 {
        assert_eq!(node["type"], "bulletList");
        node = &node["content"][0]["content"][0];
    }
    assert_eq!(node["content"][0]["text"], deep_bottom_text("SUP-3"));
    crate::json::drop_deep(v);
    let (status, body) = search_raw(
        &h,
        &json!({"jql": "project = SUP", "fields": ["*all"], "maxResults": 100}),
    )
    .await;
    assert_eq!(status, 200);
    let page = crate::json::from_slice(&body);
    // The page also holds SUP-10's broken summary.
    assert!(page.is_err());
    let (_, body) = search_raw(
        &h,
        &json!({"jql": "key = SUP-3", "fields": ["description"]}),
    )
    .await;
    let page = crate::json::from_slice(&body).unwrap();
    let listed = &page["issues"][0]["fields"]["description"];
    assert!(crate::json::to_vec(listed).unwrap() == expected);
    crate::json::drop_deep(page);

    // ForbiddenAttachment: an ordinary-looking attachment whose content answers 403.
    let v = h
        .get_json("/rest/api/3/issue/SUP-4?fields=attachment")
        .await;
    let restricted = v["fields"]["attachment"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["filename"] == "restricted.pdf")
        .unwrap()
        .clone();
    assert_eq!(restricted["size"], 2048);
    let id = restricted["id"].as_str().unwrap();
    assert!(id.parse::<u64>().is_ok());
    let (status, body) = get_raw(&h, &format!("/rest/api/3/attachment/content/{id}")).await;
    assert_jira_403(status, &body, "restricted attachment");
    let (status, _) = get_raw(
        &h,
        &format!("/rest/api/3/attachment/content/{id}?redirect=false"),
    )
    .await;
    assert_eq!(status, 403);

    // LongAttachmentId: 200 digits; its content is 404.
    let v = h
        .get_json("/rest/api/3/issue/SUP-5?fields=attachment")
        .await;
    let long = v["fields"]["attachment"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["filename"] == "long-id.txt")
        .unwrap()
        .clone();
    let id = long["id"].as_str().unwrap();
    assert_eq!(id.len(), 200);
    assert!(id.bytes().all(|b| b.is_ascii_digit()));
    assert!(long["content"].as_str().unwrap().ends_with(id));
    let (status, _) = get_raw(&h, &format!("/rest/api/3/attachment/content/{id}")).await;
    assert_eq!(status, 404);

    // Forbidden parts: 403 there, the rest of the issue as usual.
    for (key, path) in [
        ("SUP-6", "/remotelink"),
        ("SUP-7", "/comment"),
        ("SUP-8", "/changelog"),
        ("SUP-9", ""),
    ] {
        let (status, body) = get_raw(&h, &format!("/rest/api/3/issue/{key}{path}")).await;
        assert_jira_403(status, &body, &format!("{key}{path}"));
        for other in ["", "/remotelink", "/comment", "/changelog"] {
            if other != path {
                let (status, _) = get_raw(&h, &format!("/rest/api/3/issue/{key}{other}")).await;
                assert_eq!(status, 200, "{key}{other}");
            }
        }
    }
    // The closed pages hold more than a search page embeds, so a mirror must ask for them.
    let v = h.get_json("/rest/api/3/issue/SUP-7?fields=comment").await;
    let comment = &v["fields"]["comment"];
    assert!(
        comment["total"].as_u64().unwrap() > comment["comments"].as_array().unwrap().len() as u64
    );
    let v = h.get_json("/rest/api/3/issue/SUP-8?expand=changelog").await;
    let changelog = &v["changelog"];
    assert!(
        changelog["total"].as_u64().unwrap()
            > changelog["histories"].as_array().unwrap().len() as u64
    );
    // An issue closed to GET is still listed by search.
    let (status, v) = h
        .search(&json!({"jql": "key = SUP-9", "fields": ["*all"], "expand": "changelog"}))
        .await;
    assert_eq!(status, 200);
    assert_eq!(keys(&v), ["SUP-9"]);

    // LoneSurrogate: `\ud83d` on the wire wherever the summary goes, the marker in process.
    let summary = h.sim.issue("SUP-10").unwrap()["fields"]["summary"].clone();
    assert!(summary.as_str().unwrap().contains(LONE_SURROGATE_MARKER));
    let (status, body) = get_raw(&h, "/rest/api/3/issue/SUP-10").await;
    assert_eq!(status, 200);
    assert!(memchr::memmem::find(&body, br#" \ud83d"#).is_some());
    assert!(serde_json::from_slice::<Value>(&body).is_err());
    assert!(crate::json::from_slice(&body).is_err());
    let (_, body) = search_raw(&h, &json!({"jql": "key = SUP-10", "fields": ["summary"]})).await;
    assert!(crate::json::from_slice(&body).is_err());
    let light =
        json!({"jql": "project = SUP", "fields": ["id", "key", "updated"], "maxResults": 5000});
    let (status, v) = h.search(&light).await;
    assert_eq!(status, 200);
    assert_eq!(keys(&v).len(), 40);

    // Every other issue: all of it parses with serde_json's defaults, search pages too.
    let others: Vec<String> = h
        .sim
        .issue_keys()
        .into_iter()
        .filter(|k| !poisoned.contains(&k.as_str()))
        .collect();
    for key in &others {
        for path in ["?expand=changelog", "/remotelink", "/comment", "/changelog"] {
            let (status, body) = get_raw(&h, &format!("/rest/api/3/issue/{key}{path}")).await;
            assert_eq!(status, 200, "{key}{path}");
            assert!(
                serde_json::from_slice::<Value>(&body).is_ok(),
                "{key}{path}"
            );
        }
    }
    let (status, v) = h
        .search(&json!({
            "jql": format!("key in ({})", others.join(", ")),
            "fields": ["*all"], "expand": "changelog", "maxResults": 100,
        }))
        .await;
    assert_eq!(status, 200);
    assert_eq!(keys(&v).len(), others.len());
    // Other attachments download as usual.
    let v = h
        .get_json("/rest/api/3/issue/SUP-1?fields=attachment")
        .await;
    let id = v["fields"]["attachment"][0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let (status, _) = get_raw(&h, &format!("/rest/api/3/attachment/content/{id}")).await;
    assert_eq!(status, 303);
    h.sim.shutdown().await;
}
