//! Row values of the issues, comments, changelog, attachments, issuelinks, remote_links and
//! worklogs tables.

use super::*;

#[test]
fn issues_row_values() {
    let ctx = ctx(&[]);
    let (sup20, sup7, sup3) = (demo("SUP-20"), demo("SUP-7"), demo("SUP-3"));
    let b = rows_of(&ctx, &[&sup20, &sup7, &sup3]);
    let t = Table::Issues;
    assert_eq!(
        i64s(&b, t, "issue_id"),
        [Some(10019), Some(10006), Some(10002)]
    );
    let s = |name: &str| str_at(&b, t, name, 0);
    assert_eq!(s("issue_key").as_deref(), Some("SUP-20"));
    assert_eq!(s("project_key").as_deref(), Some("SUP"));
    assert_eq!(
        s("summary").as_deref(),
        Some("Dashboard widget duplicates every entry (v6)")
    );
    assert_eq!(
        s("description"),
        adf::to_text(&sup20["fields"]["description"])
    );
    assert!(s("description").unwrap().contains("データ is"));
    assert_eq!(s("issue_type").as_deref(), Some("Task"));
    assert_eq!(s("status").as_deref(), Some("Done"));
    assert_eq!(s("status_category").as_deref(), Some("Done"));
    assert_eq!(s("priority").as_deref(), Some("Low"));
    assert_eq!(s("resolution").as_deref(), Some("Done"));
    assert_eq!(s("assignee").as_deref(), Some("Sam O'Neil"));
    assert_eq!(
        s("assignee_account_id").as_deref(),
        Some("5fc9e78d2730d800760becc4")
    );
    assert_eq!(s("reporter").as_deref(), Some("Carla Customer"));
    assert_eq!(
        s("reporter_account_id").as_deref(),
        Some("712020:0e7b6a4c-9f1d-4c2b-8a3e-5d6f7a8b9c0d")
    );
    assert_eq!(s("creator").as_deref(), Some("Carla Customer"));
    assert_eq!(s("parent_key"), None);
    assert_eq!(list(&b, t, "labels", 0).unwrap(), ["customer-x"]);
    assert_eq!(list(&b, t, "components", 0).unwrap(), ["Mobile app"]);
    assert_eq!(
        list(&b, t, "fix_versions", 0).unwrap(),
        Vec::<String>::new()
    );
    assert_eq!(list(&b, t, "fix_versions", 2).unwrap(), ["2025.1"]);
    assert_eq!(
        list(&b, t, "labels", 1).unwrap(),
        ["regression", "data-loss"]
    );
    let created = tss(&b, t, "created_at");
    assert_eq!(created[0], Some(us("2025-05-08T15:07:14.040-0500")));
    assert_eq!(created[0], Some(1_746_734_834_040_000));
    assert_eq!(
        tss(&b, t, "updated_at")[0],
        Some(us("2025-05-27T06:45:01.612-0500"))
    );
    assert_eq!(
        tss(&b, t, "resolved_at")[0],
        Some(us("2025-05-09T06:07:46.243-0500"))
    );
    let due: Vec<Option<i32>> = col(&b, t, "due_date")
        .as_primitive::<Date32Type>()
        .iter()
        .collect();
    // 2024-06-22 is day 19896 since 1970-01-01.
    assert_eq!(due, [None, Some(19_896), Some(19_786)]);
    assert_eq!(i64s(&b, t, "comment_count"), [Some(7), Some(7), Some(5)]);
    assert_eq!(i64s(&b, t, "attachment_count"), [Some(0), Some(1), Some(0)]);
    // No [fields] mapping: every non-null, non-SLA custom field is in custom_fields.
    let cf: Value = serde_json::from_str(&s("custom_fields").unwrap()).unwrap();
    let keys: Vec<&String> = cf.as_object().unwrap().keys().collect();
    assert_eq!(keys, ["Request participants", "Severity", "Story Points"]);
    assert_eq!(cf["Story Points"], json!(2.0));
    assert_eq!(cf["Severity"], sup20["fields"]["customfield_10100"]);
}

#[test]
fn comments_changelog_attachments_links_remote_rows() {
    let ctx = ctx(&[]);
    let (sup20, sup7, sup1) = (demo("SUP-20"), demo("SUP-7"), demo("SUP-1"));
    let b = rows_of(&ctx, &[&sup20, &sup7, &sup1]);

    // comments: saved order, ids, authors, JSM flags, visibility.
    let t = Table::Comments;
    let ids = i64s(&b, t, "comment_id");
    assert_eq!(&ids[..3], [Some(10246), Some(10247), Some(10248)]);
    assert_eq!(ids.len(), 7 + 7 + 150);
    assert_eq!(str_at(&b, t, "issue_key", 0).as_deref(), Some("SUP-20"));
    assert_eq!(i64s(&b, t, "issue_id")[0], Some(10019));
    assert_eq!(str_at(&b, t, "author", 0).as_deref(), Some("José Müller"));
    assert_eq!(
        str_at(&b, t, "author_account_id", 1).as_deref(),
        Some("60e5a86a471e61006a4c5a7e")
    );
    let c1 = &sup20["fields"]["comment"]["comments"][1];
    assert_eq!(str_at(&b, t, "body", 1), adf::to_text(&c1["body"]));
    assert!(
        str_at(&b, t, "body", 1)
            .unwrap()
            .contains("@Priya Natarajan")
    );
    assert_eq!(
        tss(&b, t, "created_at")[0],
        Some(us("2025-05-09T20:46:41.864-0500"))
    );
    assert_eq!(
        tss(&b, t, "updated_at")[1],
        Some(us("2025-05-10T06:09:29.405-0500"))
    );
    assert_eq!(&bools(&b, t, "is_public")[..2], [Some(true), Some(false)]);
    assert_eq!(
        &strs(&b, t, "visibility")[..2],
        [None, Some("role:Administrators".to_owned())]
    );

    // changelog: history then item order, newest history first as saved.
    let t = Table::Changelog;
    assert_eq!(i64s(&b, t, "history_id")[0], Some(10426));
    assert_eq!(
        tss(&b, t, "created_at")[0],
        Some(us("2025-05-26T19:39:09.235-0500"))
    );
    let row0: Vec<Option<String>> = [
        "issue_key",
        "author",
        "author_account_id",
        "field",
        "field_id",
        "field_type",
        "from_value",
        "from_string",
        "to_value",
        "to_string",
    ]
    .iter()
    .map(|c| str_at(&b, t, c, 0))
    .collect();
    let some = |s: &str| Some(s.to_owned());
    assert_eq!(
        row0,
        [
            some("SUP-20"),
            some("Priya Natarajan"),
            some("557058:f58131cb-b67d-43c7-b30d-6b58d40bd077"),
            some("priority"),
            some("priority"),
            some("jira"),
            some("5"),
            some("Lowest"),
            some("4"),
            some("Low"),
        ]
    );
    // A history with two items gives two rows with the same history id, in item order.
    let hist_ids = i64s(&b, t, "history_id");
    let items_of_sup1: Vec<(i64, String)> = arr(&sup1["changelog"]["histories"])
        .iter()
        .flat_map(|h| {
            let id: i64 = h["id"].as_str().unwrap().parse().unwrap();
            arr(&h["items"])
                .iter()
                .map(move |i| (id, i["field"].as_str().unwrap().to_owned()))
        })
        .collect();
    let fields = strs(&b, t, "field");
    let start = hist_ids.len() - items_of_sup1.len();
    let got: Vec<(i64, String)> = (start..hist_ids.len())
        .map(|i| (hist_ids[i].unwrap(), fields[i].clone().unwrap()))
        .collect();
    assert_eq!(got, items_of_sup1);

    // attachments of SUP-7 then SUP-1 (JSON order), hostile names kept as data.
    let t = Table::Attachments;
    assert_eq!(
        i64s(&b, t, "attachment_id"),
        [10006, 10000, 10001, 10002, 10003, 10004, 10005].map(Some)
    );
    assert_eq!(
        str_at(&b, t, "filename", 0).as_deref(),
        Some("har capture.json")
    );
    assert_eq!(str_at(&b, t, "filename", 1).as_deref(), Some("../../x"));
    assert_eq!(
        str_at(&b, t, "mime_type", 0).as_deref(),
        Some("application/json")
    );
    assert_eq!(i64s(&b, t, "size_bytes")[0], Some(8600));
    assert_eq!(
        tss(&b, t, "created_at")[0],
        Some(us("2024-06-02T00:40:13.250-0500"))
    );
    assert_eq!(str_at(&b, t, "author", 0).as_deref(), Some("Zoë Dubois"));
    assert!(
        str_at(&b, t, "content_url", 0)
            .unwrap()
            .ends_with("/rest/api/3/attachment/content/10006")
    );
    assert_eq!(
        str_at(&b, t, "local_path", 1).as_deref(),
        Some("raw/attachments/SUP-1/10000__.._x")
    );
    assert_eq!(
        str_at(&b, t, "sha256", 1).as_deref(),
        Some("4571847549b4625da6bdd91e347f449f96ba3d74b8806251dc2c73bb99f93047")
    );
    let sup7_local = &sup7["mirror"]["attachments"][0];
    assert_eq!(
        str_at(&b, t, "local_path", 0).as_deref(),
        sup7_local["local_path"].as_str()
    );

    // issuelinks: SUP-20 → outward to SUP-7, SUP-7 ← inward from SUP-20.
    let t = Table::IssueLinks;
    assert_eq!(strs(&b, t, "issue_key"), [some("SUP-20"), some("SUP-7")]);
    assert_eq!(i64s(&b, t, "link_id"), [Some(10000), Some(10000)]);
    assert_eq!(
        strs(&b, t, "link_type"),
        [some("Duplicate"), some("Duplicate")]
    );
    assert_eq!(strs(&b, t, "direction"), [some("outward"), some("inward")]);
    assert_eq!(
        strs(&b, t, "linked_issue_key"),
        [some("SUP-7"), some("SUP-20")]
    );
    assert_eq!(i64s(&b, t, "linked_issue_id"), [Some(10006), Some(10019)]);

    // remote_links (numeric id in the overlay).
    let t = Table::RemoteLinks;
    assert_eq!(b[&t].num_rows(), 1);
    assert_eq!(i64s(&b, t, "remote_link_id"), [Some(10006)]);
    let row: Vec<Option<String>> = [
        "issue_key",
        "global_id",
        "url",
        "title",
        "relationship",
        "application_name",
    ]
    .iter()
    .map(|c| str_at(&b, t, c, 0))
    .collect();
    assert_eq!(
        row,
        [
            some("SUP-20"),
            some("github=example/app&pr=3733"),
            some("https://github.com/example/app/pull/3733"),
            some("Fix SUP-20: handle edge case #3733"),
            some("mentioned in"),
            some("GitHub"),
        ]
    );
}

#[test]
fn attachments_local_path_only_when_downloaded() {
    let ctx = ctx(&[]);
    let issue = json!({
        "id": "1", "key": "T-1",
        "fields": {
            "created": "2024-01-01T00:00:00.000+0000",
            "attachment": [
                {"id": "1", "filename": "a"},
                {"id": 2, "filename": "b"},
                {"id": "3", "filename": "c"},
                {"id": "4", "filename": "d"},
                {"id": "5", "filename": "e"},
            ]
        },
        "mirror": {"attachments": [
            // Out of order and with mixed id types on purpose.
            {"id": 2, "status": "downloaded", "local_path": "raw/attachments/T-1/2_b", "sha256": "bb"},
            {"id": "1", "status": "skipped_too_large", "size_bytes": 99},
            {"id": "3", "status": "not_downloaded"},
            {"id": "4", "status": "failed", "error": "403"},
            {"id": "9", "status": "downloaded", "local_path": "raw/attachments/T-1/9_z", "sha256": "zz"},
        ]}
    });
    let b = rows_of(&ctx, &[&issue]);
    let t = Table::Attachments;
    assert_eq!(
        strs(&b, t, "local_path"),
        [
            None,
            Some("raw/attachments/T-1/2_b".to_owned()),
            None,
            None,
            None
        ]
    );
    assert_eq!(
        strs(&b, t, "sha256"),
        [None, Some("bb".to_owned()), None, None, None]
    );
    assert_eq!(i64s(&b, Table::Issues, "attachment_count"), [Some(5)]);
    // The same when the overlay is missing altogether.
    let mut bare = issue.clone();
    bare.as_object_mut().unwrap().remove("mirror");
    let b = rows_of(&ctx, &[&bare]);
    assert_eq!(strs(&b, t, "local_path"), [None, None, None, None, None]);
    assert_eq!(b[&Table::RemoteLinks].num_rows(), 0);
}

#[test]
fn attachments_status_and_error_from_the_overlay_and_strict_ids() {
    let ctx = ctx(&[]);
    let issue = json!({
        "id": "1", "key": "T-1",
        "fields": {
            "created": "2024-01-01T00:00:00.000+0000",
            "attachment": [
                {"id": "10", "filename": "ok"},
                {"id": 11, "filename": "refused"},
                {"id": "../12", "filename": "hostile id"},
                {"id": "12345678901234567890", "filename": "twenty digits"},
                {"id": " 13", "filename": "padded"},
                {"id": "+14", "filename": "signed"},
                {"id": -15, "filename": "negative"},
                {"id": "16", "filename": "no overlay entry"},
                {"id": "17", "filename": "failed"},
            ]
        },
        "mirror": {"attachments": [
            {"id": "10", "status": "downloaded", "local_path": "raw/attachments/T-1/10_ok", "sha256": "aa"},
            {"id": "11", "status": "forbidden", "error": "HTTP 403 Forbidden"},
            {"id": "../12", "status": "invalid_id"},
            {"id": "12345678901234567890", "status": "invalid_id"},
            {"id": " 13", "status": "invalid_id"},
            {"id": "+14", "status": "invalid_id"},
            {"id": "-15", "status": "invalid_id"},
            {"id": "17", "status": "failed", "error": "404 Not Found"},
        ]}
    });
    let b = rows_of(&ctx, &[&issue]);
    let t = Table::Attachments;
    assert_eq!(b[&t].num_rows(), 9, "every attachment keeps its row");
    assert_eq!(
        i64s(&b, t, "attachment_id"),
        [
            Some(10),
            Some(11),
            None,
            None,
            None,
            None,
            None,
            Some(16),
            Some(17)
        ]
    );
    let some = |s: &str| Some(s.to_owned());
    assert_eq!(
        strs(&b, t, "status"),
        [
            some("downloaded"),
            some("forbidden"),
            some("invalid_id"),
            some("invalid_id"),
            some("invalid_id"),
            some("invalid_id"),
            some("invalid_id"),
            None,
            some("failed")
        ]
    );
    assert_eq!(
        strs(&b, t, "error"),
        [
            None,
            some("HTTP 403 Forbidden"),
            None,
            None,
            None,
            None,
            None,
            None,
            some("404 Not Found")
        ]
    );
    assert_eq!(
        strs(&b, t, "local_path"),
        [
            some("raw/attachments/T-1/10_ok"),
            None,
            None,
            None,
            None,
            None,
            None,
            None,
            None
        ]
    );
    // Without an overlay: no status.
    let mut bare = issue.clone();
    bare.as_object_mut().unwrap().remove("mirror");
    let b = rows_of(&ctx, &[&bare]);
    assert!(strs(&b, t, "status").iter().all(Option::is_none));
    assert!(strs(&b, t, "error").iter().all(Option::is_none));
}

#[test]
fn issuelinks_direction() {
    let ctx = ctx(&[]);
    let issue = json!({
        "id": "1", "key": "T-1",
        "fields": {
            "created": "2024-01-01T00:00:00.000+0000",
            "issuelinks": [
                {"id": "10", "type": {"name": "Blocks"}, "outwardIssue": {"id": "2", "key": "T-2"}},
                {"id": "11", "type": {"name": "Blocks"}, "inwardIssue": {"id": "3", "key": "T-3"}},
                {"id": "12", "type": {"name": "Odd"}},
            ]
        }
    });
    let b = rows_of(&ctx, &[&issue]);
    let t = Table::IssueLinks;
    assert_eq!(
        strs(&b, t, "direction"),
        [Some("outward".to_owned()), Some("inward".to_owned()), None]
    );
    assert_eq!(
        strs(&b, t, "linked_issue_key"),
        [Some("T-2".to_owned()), Some("T-3".to_owned()), None]
    );
    assert_eq!(i64s(&b, t, "linked_issue_id"), [Some(2), Some(3), None]);
    assert_eq!(i64s(&b, t, "link_id"), [Some(10), Some(11), Some(12)]);
}

#[test]
fn the_wider_issue_columns_come_from_system_fields_and_the_sprint_field() {
    use arrow_array::{Array, Int64Array, ListArray, StringArray, TimestampMicrosecondArray};
    let catalog = FieldCatalog::from_json(&json!([
        {"id": "customfield_10020", "name": "Sprint", "custom": true,
         "schema": {"type": "array", "items": "json",
                    "custom": "com.pyxis.greenhopper.jira:gh-sprint"}}
    ]));
    let ctx = ctx_with(catalog, &[], SlaNames::default());
    let mut issue = demo("SUP-9");
    let f = &mut issue["fields"];
    f["project"]["name"] = json!("Support");
    f["environment"] = json!({"type": "doc", "version": 1, "content": [
        {"type": "paragraph", "content": [{"type": "text", "text": "Prod, EU"}]}
    ]});
    f["versions"] = json!([{"id": "1", "name": "2.3"}, {"id": "2", "name": "2.4"}]);
    f["security"] = json!({"id": "10000", "name": "Internal"});
    f["customfield_10020"] = json!([
        {"id": 7, "name": "Sprint 7", "state": "closed"},
        {"id": 8, "name": "Sprint 8", "state": "active"}
    ]);
    f["votes"] = json!({"votes": 3, "hasVoted": false});
    f["watches"] = json!({"watchCount": 5, "isWatching": false});
    f["timeoriginalestimate"] = json!(7200);
    f["timeestimate"] = json!(3600);
    f["timespent"] = json!(5400);
    f["statuscategorychangedate"] = json!("2025-01-03T10:00:00.000+0000");
    let b = rows_of(&ctx, &[&issue]);
    let rows = &b[&Table::Issues];
    let col = |name: &str| rows.column_by_name(name).unwrap().clone();
    let text = |name: &str| {
        let c = col(name);
        let c = c.as_any().downcast_ref::<StringArray>().unwrap();
        c.is_valid(0).then(|| c.value(0).to_string())
    };
    let int = |name: &str| {
        let c = col(name);
        let c = c.as_any().downcast_ref::<Int64Array>().unwrap();
        c.is_valid(0).then(|| c.value(0))
    };
    let list = |name: &str| -> Vec<String> {
        let c = col(name);
        let c = c.as_any().downcast_ref::<ListArray>().unwrap();
        let v = c.value(0);
        let v = v.as_any().downcast_ref::<StringArray>().unwrap();
        v.iter().map(|s| s.unwrap().to_string()).collect()
    };
    let ts = |name: &str| {
        let c = col(name);
        let c = c
            .as_any()
            .downcast_ref::<TimestampMicrosecondArray>()
            .unwrap();
        c.is_valid(0).then(|| c.value(0))
    };
    assert_eq!(text("project_name").as_deref(), Some("Support"));
    assert_eq!(text("environment").as_deref(), Some("Prod, EU"));
    assert_eq!(list("affects_versions"), ["2.3", "2.4"]);
    assert_eq!(text("security_level").as_deref(), Some("Internal"));
    assert_eq!(list("sprint"), ["Sprint 7", "Sprint 8"]);
    assert_eq!(int("votes"), Some(3));
    assert_eq!(int("watchers"), Some(5));
    assert_eq!(int("time_original_estimate_seconds"), Some(7200));
    assert_eq!(int("time_remaining_estimate_seconds"), Some(3600));
    assert_eq!(int("time_spent_seconds"), Some(5400));
    assert_eq!(
        ts("status_changed_at"),
        parse_ts_micros("2025-01-03T10:00:00Z")
    );
    let last = issue["fields"]["comment"]["comments"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|c| parse_ts_micros(c["created"].as_str()?))
        .max();
    assert!(last.is_some());
    assert_eq!(ts("last_comment_at"), last);

    // Absent or malformed, each is null, never an error.
    let mut bare = demo("SUP-9");
    for k in [
        "versions",
        "security",
        "votes",
        "watches",
        "timespent",
        "environment",
    ] {
        bare["fields"][k] = json!("not what Jira sends");
    }
    bare["fields"]["comment"]["comments"] = json!([]);
    let b = rows_of(&ctx, &[&bare]);
    let rows = &b[&Table::Issues];
    for name in [
        "votes",
        "watchers",
        "time_spent_seconds",
        "last_comment_at",
        "security_level",
    ] {
        assert!(rows.column_by_name(name).unwrap().is_null(0), "{name}");
    }
}

#[test]
fn every_worklog_is_a_row_with_plain_text_comment_and_visibility() {
    use arrow_array::{Int64Array, StringArray, TimestampMicrosecondArray};
    let ctx = ctx(&[]);
    let mut issue = demo("SUP-9");
    issue["fields"]["worklog"] = json!({
        "startAt": 0, "maxResults": 2, "total": 2,
        "worklogs": [
            {
                "id": "10001", "issueId": "10009",
                "author": {"accountId": "a-1", "displayName": "Ann Agent"},
                "updateAuthor": {"accountId": "b-2", "displayName": "Bo Boss"},
                "comment": {"type": "doc", "version": 1, "content": [
                    {"type": "paragraph", "content": [{"type": "text", "text": "Fixed the VPN"}]}
                ]},
                "created": "2025-01-02T10:05:00.000+0100",
                "updated": "2025-01-02T11:00:00.000+0100",
                "started": "2025-01-02T09:00:00.000+0100",
                "timeSpent": "1h 30m", "timeSpentSeconds": 5400,
                "visibility": {"type": "group", "value": "jira-servicedesk-users"}
            },
            {"id": "not a number", "started": "garbage", "timeSpentSeconds": "9"}
        ]
    });
    let b = rows_of(&ctx, &[&issue]);
    let w = &b[&Table::Worklogs];
    assert_eq!(w.num_rows(), 2);
    let text = |name: &str, row: usize| -> Option<String> {
        let col = w.column_by_name(name).unwrap();
        let col = col.as_any().downcast_ref::<StringArray>().unwrap();
        col.is_valid(row).then(|| col.value(row).to_string())
    };
    let int = |name: &str, row: usize| -> Option<i64> {
        let col = w.column_by_name(name).unwrap();
        let col = col.as_any().downcast_ref::<Int64Array>().unwrap();
        col.is_valid(row).then(|| col.value(row))
    };
    assert_eq!(text("issue_key", 0).as_deref(), Some("SUP-9"));
    assert_eq!(int("worklog_id", 0), Some(10001));
    assert_eq!(text("author", 0).as_deref(), Some("Ann Agent"));
    assert_eq!(text("update_author_account_id", 0).as_deref(), Some("b-2"));
    assert_eq!(text("comment", 0).as_deref(), Some("Fixed the VPN"));
    assert_eq!(int("time_spent_seconds", 0), Some(5400));
    assert_eq!(text("time_spent", 0).as_deref(), Some("1h 30m"));
    assert_eq!(
        text("visibility", 0).as_deref(),
        Some("group:jira-servicedesk-users")
    );
    let started = w.column_by_name("started_at").unwrap();
    let started = started
        .as_any()
        .downcast_ref::<TimestampMicrosecondArray>()
        .unwrap();
    assert_eq!(
        started.value(0),
        parse_ts_micros("2025-01-02T08:00:00Z").unwrap()
    );
    // A malformed worklog is a row of nulls, never an error.
    assert_eq!(int("worklog_id", 1), None);
    assert!(started.is_null(1));
    assert_eq!(int("time_spent_seconds", 1), None);
    assert_eq!(text("comment", 1), None);
}

/// A REST v2 issue (as Data Center sends it) has wiki-markup strings where v3 has ADF: the
/// rich-text columns render them to the same plain text.
#[test]
fn wiki_markup_bodies_of_a_v2_issue_are_rendered() {
    let issue = json!({
        "id": "10100", "key": "DC-1",
        "fields": {
            "created": "2024-03-05T10:15:30.123+0100",
            "summary": "*kept* as is",
            "description": "h2. Steps\n# open the *printer*\n# see [the log|https://example.com/log]",
            "environment": "{noformat}\nkernel *5*\n{noformat}",
            "comment": {"comments": [
                {"id": "500", "body": "Proyecto privado \\- no se puede asignar [~ann]",
                 "created": "2024-03-05T11:00:00.000+0100"}
            ]}
        }
    });
    let b = rows_of(&ctx(&[]), &[&issue]);
    let s = |t: Table, name: &str| str_at(&b, t, name, 0);
    assert_eq!(
        s(Table::Issues, "description").as_deref(),
        Some("Steps\n1. open the printer\n2. see the log (https://example.com/log)")
    );
    assert_eq!(
        s(Table::Issues, "environment").as_deref(),
        Some("kernel *5*")
    );
    // Plain string fields are not markup.
    assert_eq!(s(Table::Issues, "summary").as_deref(), Some("*kept* as is"));
    assert_eq!(
        s(Table::Comments, "body").as_deref(),
        Some("Proyecto privado - no se puede asignar @ann")
    );
}
