//! Unit tests of the generated data: determinism, histories that agree with fields, big and
//! hostile issues, projects and sub-tasks, attachment chunks, time formats.

use super::*;
use crate::simulator::{BigIssue, SimConfig};
use std::collections::BTreeSet;

fn cfg(n: usize) -> SimConfig {
    SimConfig {
        issues: n,
        ..SimConfig::default()
    }
}

fn truth(s: &Store, key: &str) -> Value {
    s.render(
        s.find(key).unwrap(),
        &FieldSel::all(),
        ChangelogMode::All,
        None,
    )
}

#[test]
// Durations are printed, not asserted: the machine is shared, and speed is measured by
// benchmarks (docs/performance.md), never by a timed unit test.
fn generation_is_deterministic() {
    let started = std::time::Instant::now();
    let a = Store::generate(&cfg(2000), "http://x");
    let elapsed = started.elapsed();
    eprintln!("generated 2000 issues in {elapsed:?}");
    // Rendering a full search page (100 issues, `*all`, capped changelog) stays cheap too.
    let started = std::time::Instant::now();
    let page: Vec<Value> = a
        .issues
        .values()
        .take(100)
        .map(|i| a.render(i, &FieldSel::all(), ChangelogMode::Capped, Some(EMBED_CAP)))
        .collect();
    let elapsed = started.elapsed();
    eprintln!("rendered a 100-issue *all page in {elapsed:?}");
    assert_eq!(page.len(), 100);
    let b = Store::generate(&cfg(2000), "http://x");
    for key in ["SUP-1", "SUP-2", "SUP-777", "SUP-2000"] {
        assert_eq!(truth(&a, key), truth(&b, key));
    }
    let c = Store::generate(&SimConfig { seed: 7, ..cfg(20) }, "http://x");
    assert_ne!(truth(&c, "SUP-3"), truth(&a, "SUP-3"));
    // Adding issues does not change the earlier ones (per-issue streams).
    let d = Store::generate(&cfg(20), "http://x");
    let e = Store::generate(&cfg(21), "http://x");
    assert_eq!(
        truth(&d, "SUP-3")["fields"]["summary"],
        truth(&e, "SUP-3")["fields"]["summary"]
    );
}

#[test]
fn histories_agree_with_fields_and_time() {
    let s = Store::generate(&cfg(300), "http://x");
    let mut kinds = BTreeSet::new();
    let mut statuses = BTreeSet::new();
    let mut prev_global = Vec::new();
    for key in s.keys() {
        let v = truth(&s, &key);
        let f = &v["fields"];
        statuses.insert(f["status"]["name"].as_str().unwrap().to_string());
        let histories = v["changelog"]["histories"].as_array().unwrap();
        // Newest first in the truth; the newest status item targets the current status.
        let last_status = histories
            .iter()
            .flat_map(|h| h["items"].as_array().unwrap().iter())
            .find(|i| i["field"] == "status");
        match last_status {
            Some(item) => assert_eq!(item["toString"], f["status"]["name"], "{key}"),
            None => assert_eq!(f["status"]["name"], "To Do"),
        }
        let last_priority = histories
            .iter()
            .flat_map(|h| h["items"].as_array().unwrap().iter())
            .find(|i| i["field"] == "priority");
        if let Some(item) = last_priority {
            assert_eq!(item["to"], f["priority"]["id"], "{key}");
        }
        let resolved = !f["resolution"].is_null();
        assert_eq!(resolved, !f["resolutiondate"].is_null());
        assert_eq!(
            resolved,
            f["status"]["statusCategory"]["key"] == "done",
            "{key}"
        );
        let ids: Vec<u64> = histories
            .iter()
            .map(|h| h["id"].as_str().unwrap().parse().unwrap())
            .collect();
        assert!(ids.windows(2).all(|w| w[0] > w[1]));
        let times: Vec<&str> = histories
            .iter()
            .map(|h| h["created"].as_str().unwrap())
            .collect();
        prev_global.extend(ids.iter().zip(times).map(|(i, t)| (*i, t.to_string())));
        let created = f["created"].as_str().unwrap();
        assert!(created.ends_with("-0500"));
        let issue = s.find(&key).unwrap();
        assert!(issue.updated_ms >= issue.created_ms);
        if let Some(d) = f["description"].get("content") {
            collect_types(d, &mut kinds);
        }
        for c in f["comment"]["comments"].as_array().unwrap() {
            collect_types(&c["body"]["content"], &mut kinds);
        }
        let sla = &f[SLA_RESOLUTION_FIELD];
        if issue.has_sla {
            assert_eq!(sla.get("ongoingCycle").is_some(), !resolved, "{key}");
        } else {
            assert!(sla.is_null());
        }
    }
    // History ids ascend with time across the whole site.
    let mut by_id: Vec<(u64, i64)> = prev_global
        .iter()
        .map(|(i, t)| {
            (
                *i,
                chrono::DateTime::parse_from_str(t, "%Y-%m-%dT%H:%M:%S%.3f%z")
                    .unwrap()
                    .timestamp_millis(),
            )
        })
        .collect();
    by_id.sort();
    assert!(by_id.windows(2).all(|w| w[0].1 <= w[1].1));
    for t in [
        "paragraph",
        "heading",
        "bulletList",
        "orderedList",
        "listItem",
        "codeBlock",
        "mention",
        "emoji",
        "hardBreak",
        "inlineCard",
        "date",
        "status",
        "table",
        "tableRow",
        "tableHeader",
        "tableCell",
        "blockquote",
        "panel",
        "text",
    ] {
        assert!(kinds.contains(t), "no {t} node generated");
    }
    assert!(statuses.len() >= 4, "{statuses:?}");
}

fn collect_types(v: &Value, out: &mut BTreeSet<String>) {
    match v {
        Value::Array(a) => a.iter().for_each(|x| collect_types(x, out)),
        Value::Object(o) => {
            if let Some(Value::String(t)) = o.get("type") {
                out.insert(t.clone());
            }
            if let Some(c) = o.get("content") {
                collect_types(c, out);
            }
        }
        _ => {}
    }
}

#[test]
fn big_and_hostile_issue() {
    let s = Store::generate(
        &SimConfig {
            issues: 10,
            big_issues: vec![BigIssue {
                histories: 250,
                comments: 150,
                worklogs: 30,
            }],
            ..SimConfig::default()
        },
        "http://x",
    );
    let i = s.find("sup-1").unwrap();
    assert_eq!(i.histories.len(), 250);
    assert_eq!(i.comments.len(), 150);
    assert_eq!(i.worklogs, 30);
    let v = truth(&s, "SUP-1");
    let atts = v["fields"]["attachment"].as_array().unwrap();
    let names: Vec<&str> = atts
        .iter()
        .map(|a| a["filename"].as_str().unwrap())
        .collect();
    assert!(names.contains(&"../../x") && names.contains(&"con") && names.contains(&".."));
    assert!(names.contains(&"rÃ©sumÃ©\u{7f}.pdf"));
    assert!(
        names
            .iter()
            .any(|n| n.chars().count() == 300 && n.ends_with(".txt"))
    );
    let big = atts.iter().find(|a| a["filename"] == "big.bin").unwrap();
    assert_eq!(big["size"], 3 * 1024 * 1024);
    let id: u64 = big["id"].as_str().unwrap().parse().unwrap();
    assert_eq!(s.attachments[&id].size, 3 * 1024 * 1024);
    let no_hostile = Store::generate(
        &SimConfig {
            issues: 10,
            hostile_attachments: false,
            ..SimConfig::default()
        },
        "http://x",
    );
    let names = truth(&no_hostile, "SUP-1")["fields"]["attachment"].to_string();
    assert!(!names.contains("big.bin"));
}

#[test]
fn round_robin_projects_and_subtasks() {
    let s = Store::generate(
        &SimConfig {
            issues: 300,
            projects: vec!["SUP".into(), "OPS".into()],
            ..SimConfig::default()
        },
        "http://x",
    );
    let keys = s.keys();
    assert_eq!(&keys[..4], &["SUP-1", "OPS-1", "SUP-2", "OPS-2"]);
    let mut subtasks = 0;
    for key in &keys {
        let v = truth(&s, key);
        if let Some(p) = v["fields"].get("parent") {
            subtasks += 1;
            assert_eq!(v["fields"]["issuetype"]["subtask"], true);
            let parent_key = p["key"].as_str().unwrap();
            assert_eq!(parent_key.split('-').next(), key.split('-').next());
            let parent = truth(&s, parent_key);
            let subs = parent["fields"]["subtasks"].as_array().unwrap();
            assert!(subs.iter().any(|x| x["key"] == key.as_str()));
        }
    }
    assert!(subtasks > 0);
}

#[test]
fn attachment_chunks_line_up() {
    let p = attachment_pattern(10_001);
    let whole = attachment_chunk(&p, 0, 1000);
    let mut pieces = attachment_chunk(&p, 0, 333);
    pieces.extend(attachment_chunk(&p, 333, 667));
    assert_eq!(whole, pieces);
    assert_eq!(whole.len(), 1000);
}

#[test]
fn clock_renders_like_jira() {
    let c = Clock::new(-300);
    assert_eq!(c.jira(1_709_651_730_123), "2024-03-05T10:15:30.123-0500");
    assert_eq!(c.iso(1_709_651_730_123), "2024-03-05T10:15:30-0500");
    assert_eq!(Clock::new(0).jira(0), "1970-01-01T00:00:00.000+0000");
}
