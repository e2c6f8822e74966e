//! Fuzzes `classify`: any bytes, fixed options. It must never panic, and a Jira verdict must
//! only name keys of the projects in scope, within the documented caps.
#![no_main]

use jira_mirror::triggers::mail::extract::{
    ExtractOptions, MAX_ISSUE_IDS, MAX_KEYS, Verdict, classify,
};
use libfuzzer_sys::fuzz_target;

/// The projects and senders of the seed corpus (the reference mails), so that the fuzzer gets
/// past the sender check.
const PROJECTS: [&str; 5] = ["SUP", "HCPUB", "JRA", "FQA", "PSIRTSUPT"];
const SENDERS: [&str; 5] = [
    "jira@atlassian.com",
    "jira-issues@redhat.com",
    "@lists.freedesktop.org",
    "@infomaniak.atlassian.net",
    "jira@your-org.atlassian.net",
];

fuzz_target!(|data: &[u8]| {
    let projects: Vec<String> = PROJECTS.iter().map(|p| (*p).to_owned()).collect();
    let senders: Vec<String> = SENDERS.iter().map(|s| (*s).to_owned()).collect();
    let opts = ExtractOptions {
        projects: &projects,
        allowed_senders: &senders,
        max_bytes: 1024 * 1024,
    };
    match classify(data, &opts) {
        Verdict::Jira(n) => {
            assert!(!n.keys.is_empty() || !n.issue_ids.is_empty());
            assert!(n.keys.len() <= MAX_KEYS && n.issue_ids.len() <= MAX_ISSUE_IDS);
            for key in &n.keys {
                assert!(PROJECTS.contains(&key.project()), "{key} is out of scope");
            }
        }
        Verdict::Rejected { reason } => {
            let line = reason.to_string();
            assert!(!line.contains(['\r', '\n']), "{line:?}");
        }
    }
});
