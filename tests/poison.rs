//! Issues real Jira sites serve that break naive mirrors ([`SimConfig::poison`]), end to end.
//!
//! Values that may be deep are handled only with `jira_mirror::json` here too: parsed with
//! no depth limit, compared by their serialised bytes, dropped with `drop_deep` (a recursive
//! drop of a 5,000-level value overflows a test thread's stack in a debug build).

use std::collections::BTreeSet;

use jira_mirror::json;
use jira_mirror::simulator::{Poison, PoisonKind, SimConfig, Simulator, deep_bottom_text};
use serde_json::Value;

use crate::support::*;

/// Levels of nested lists in the deep description: about 20,000 levels of JSON.
const DEPTH: usize = 5_000;

/// A simulator of 12 issues whose SUP-3 has a `DEPTH`-list description.
async fn deep_site() -> Simulator {
    simulator_with(SimConfig {
        issues: 12,
        poison: vec![Poison {
            issue: 2,
            kind: PoisonKind::DeepDescription { depth: DEPTH },
        }],
        ..SimConfig::default()
    })
    .await
}

/// The saved raw JSON of `key`, parsed with no depth limit.
fn saved(mirror: &Mirror, key: &str) -> Value {
    let bytes = std::fs::read(mirror.data().join(format!("raw/issues/{key}.json")))
        .unwrap_or_else(|e| panic!("{key} saved: {e}"));
    json::from_slice(&bytes).expect("saved issue is JSON")
}

/// The saved `key` holds the simulator's current description (same bytes) and `updated`.
fn assert_saved_like_the_truth(sim: &Simulator, mirror: &Mirror, key: &str) {
    let truth = sim.issue(key).expect("issue in the simulator");
    let saved = saved(mirror, key);
    let bytes = |v: &Value| json::to_vec(&v["fields"]["description"]).unwrap();
    // (Compared as bytes: `==` on the values would recurse, and `assert_eq!` would print
    // megabytes.)
    assert!(bytes(&saved) == bytes(&truth), "{key}: description differs");
    assert!(json::depth(&saved["fields"]["description"]) > 4 * DEPTH);
    assert_eq!(saved["fields"]["updated"], truth["fields"]["updated"]);
    assert_eq!(saved["key"], key);
    json::drop_deep(saved);
    json::drop_deep(truth);
}

/// The `issues` table holds one row per simulator issue, and the deep one's plain-text
/// description reaches its bottom.
fn assert_tables_hold_every_issue(sim: &Simulator, mirror: &Mirror, deep_key: &str) {
    let tables = mirror.tables();
    let issues = &tables["issues"];
    let keys: BTreeSet<&str> = issues.iter().map(|r| unquote(&r["issue_key"])).collect();
    let expected: BTreeSet<String> = sim.issue_keys().into_iter().collect();
    assert_eq!(
        keys,
        expected.iter().map(String::as_str).collect::<BTreeSet<_>>()
    );
    let row = issues
        .iter()
        .find(|r| unquote(&r["issue_key"]) == deep_key)
        .expect("row of the deep issue");
    let description: String = serde_json::from_str(&row["description"]).expect("a string");
    assert!(description.ends_with(&deep_bottom_text(deep_key)));
    assert!(description.starts_with(&"- ".repeat(DEPTH)));
    // Its comments and changelog are there like anyone's.
    for table in ["comments", "changelog"] {
        let count = |key: &str| {
            tables[table]
                .iter()
                .filter(|r| unquote(&r["issue_key"]) == key)
                .count()
        };
        let truth = sim.issue(deep_key).unwrap();
        let expected = match table {
            "comments" => truth["fields"]["comment"]["comments"]
                .as_array()
                .map(Vec::len),
            _ => truth["changelog"]["histories"].as_array().map(|h| {
                h.iter()
                    .map(|h| h["items"].as_array().map_or(0, Vec::len))
                    .sum()
            }),
        };
        json::drop_deep(truth);
        assert_eq!(Some(count(deep_key)), expected, "{table}");
    }
}

/// A string cell (`"SUP-1"` as the harness gives it) without its quotes.
fn unquote(cell: &str) -> &str {
    cell.trim_matches('"')
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_issue_nesting_5000_lists_deep_is_mirrored_like_any_other() {
    let sim = deep_site().await;
    // Few retries: a mirror that cannot read the page fails fast instead of backing off.
    let mirror = Mirror::with(
        &sim,
        MirrorOptions {
            max_retries: 2,
            ..Default::default()
        },
    );
    let out = mirror.run_ok(&["backfill"]).await;
    assert!(stdout(&out).contains("12 saved"), "{}", stdout(&out));
    assert_eq!(mirror.saved_keys().len(), 12);
    assert_saved_like_the_truth(&sim, &mirror, "SUP-3");
    assert_tables_hold_every_issue(&sim, &mirror, "SUP-3");

    // Changed upstream: the sweep saves it again, merges its rows into the month file.
    sim.touch("SUP-3");
    let out = mirror.run_ok(&["sweep"]).await;
    assert!(stdout(&out).contains("1 saved"), "{}", stdout(&out));
    assert_saved_like_the_truth(&sim, &mirror, "SUP-3");
    assert_tables_hold_every_issue(&sim, &mirror, "SUP-3");

    // By key too, and a rebuild of the tables from raw JSON gives the same rows.
    let before = mirror.tables();
    std::fs::remove_file(mirror.data().join("raw/issues/SUP-3.json")).unwrap();
    mirror.run_ok(&["fetch", "SUP-3"]).await;
    assert_saved_like_the_truth(&sim, &mirror, "SUP-3");
    mirror.run_ok(&["transform", "--rebuild"]).await;
    let after = mirror.tables();
    for (table, rows) in &before {
        assert!(rows == &after[table], "{table} differs after a rebuild");
    }
    sim.shutdown().await;
}
