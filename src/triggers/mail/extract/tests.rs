//! Tests of the mail classifier: real notification mails, hostile ones, and properties.

use super::*;
use proptest::prelude::*;
use std::time::{Duration, Instant};

// The reference mails, byte for byte; see tests/data/mail/PROVENANCE.md.
const DC_CREATED: &[u8] = include_bytes!(
    "../../../../tests/data/mail/notification_dc_created_jira.atlassian.com_2016.eml"
);
const DC_UPDATED: &[u8] = include_bytes!(
    "../../../../tests/data/mail/notification_dc_updated_jira.atlassian.com_2016.eml"
);
const DC_COMMENTED: &[u8] = include_bytes!(
    "../../../../tests/data/mail/notification_dc_commented_jira.atlassian.com_2016.eml"
);
const JSM_REDHAT: &[u8] =
    include_bytes!("../../../../tests/data/mail/notification_jsm_dc_commented_redhat_2025.eml");
const CLOUD_INFOMANIAK: &[u8] = include_bytes!(
    "../../../../tests/data/mail/notification_cloud_updated_infomaniak_2023_trimmed.eml"
);
const REFERENCE_MAILS: [&[u8]; 5] = [
    DC_CREATED,
    DC_UPDATED,
    DC_COMMENTED,
    JSM_REDHAT,
    CLOUD_INFOMANIAK,
];
/// Senders of the reference mails, plus the one the hand-made mails use.
const REFERENCE_SENDERS: [&str; 5] = [
    "jira@atlassian.com",
    "jira-issues@redhat.com",
    "@lists.freedesktop.org",
    "@infomaniak.atlassian.net",
    "jira@your-org.atlassian.net",
];
const OUR_SENDER: &[&str] = &["jira@your-org.atlassian.net"];
const MAX: usize = 10 * 1024 * 1024;

fn strings(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| (*s).to_owned()).collect()
}

fn run(raw: &[u8], projects: &[&str], senders: &[&str]) -> Verdict {
    let projects = strings(projects);
    let senders = strings(senders);
    classify(
        raw,
        &ExtractOptions {
            projects: &projects,
            allowed_senders: &senders,
            max_bytes: MAX,
        },
    )
}

#[track_caller]
fn jira(raw: &[u8], projects: &[&str], senders: &[&str]) -> Notification {
    match run(raw, projects, senders) {
        Verdict::Jira(n) => n,
        other => panic!("expected a Jira notification, got {other:?}"),
    }
}

#[track_caller]
fn rejected(raw: &[u8], projects: &[&str], senders: &[&str]) -> Rejection {
    match run(raw, projects, senders) {
        Verdict::Rejected { reason } => reason,
        other => panic!("expected a rejection, got {other:?}"),
    }
}

fn keys(list: &[&str]) -> BTreeSet<IssueKey> {
    list.iter().map(|k| IssueKey::parse(k).unwrap()).collect()
}

fn ids(list: &[i64]) -> BTreeSet<i64> {
    list.iter().copied().collect()
}

/// A mail from header lines and a body, with CRLF line ends.
fn mail(headers: &[&str], body: &str) -> Vec<u8> {
    let mut out = headers.join("\r\n");
    out.push_str("\r\n\r\n");
    out.push_str(body);
    out.into_bytes()
}

// ---- the reference mails (expectations written from reading the .eml files) ----

#[test]
fn dc_created_2016_names_its_issue_the_linked_one_and_the_issue_id() {
    let n = jira(DC_CREATED, &[], &["jira@atlassian.com"]);
    // Subject "(HCPUB-579)"; HTML links /browse/HCPUB-579 (x5), /browse/JRA-60612 ("Ref
    // also"), /browse/HCPUB (a project link, not a key).
    assert_eq!(n.keys, keys(&["HCPUB-579", "JRA-60612"]));
    // Message-ID, In-Reply-To and References all carry issue id 590899.
    assert_eq!(n.issue_ids, ids(&[590899]));
    assert!(!n.deletion, "'created an issue' is not a deletion");
    assert_eq!(
        n.message_id.as_deref(),
        Some("JIRA.590899.1460652284000.68665.1460652300154@Atlassian.JIRA")
    );

    let n = jira(DC_CREATED, &["HCPUB"], &["jira@atlassian.com"]);
    assert_eq!(n.keys, keys(&["HCPUB-579"]));
    assert_eq!(n.issue_ids, ids(&[590899]));

    // JRA in scope, HCPUB not: the linked JRA issue counts, the subject's issue id (an
    // HCPUB issue's) does not.
    let n = jira(DC_CREATED, &["JRA"], &["jira@atlassian.com"]);
    assert_eq!(n.keys, keys(&["JRA-60612"]));
    assert_eq!(n.issue_ids, ids(&[]));

    assert_eq!(
        rejected(DC_CREATED, &["SUP"], &["jira@atlassian.com"]),
        Rejection::NoKeysInScope
    );
}

#[test]
fn dc_updated_2016_ignores_the_key_written_in_prose() {
    // Quoted-printable HTML; "Ref also JRA-60612" appears only as text in the diff.
    let n = jira(DC_UPDATED, &[], &["jira@atlassian.com"]);
    assert_eq!(n.keys, keys(&["HCPUB-579"]));
    assert_eq!(n.issue_ids, ids(&[590899]));
    assert!(!n.deletion);
    assert_eq!(
        n.message_id.as_deref(),
        Some("JIRA.590899.1460652284000.68708.1460652660083@Atlassian.JIRA")
    );
}

#[test]
fn dc_commented_2016() {
    let n = jira(DC_COMMENTED, &[], &["JIRA@Atlassian.com"]);
    assert_eq!(n.keys, keys(&["JRA-60612"]));
    assert_eq!(n.issue_ids, ids(&[590897]));
    assert!(!n.deletion);
    assert_eq!(
        n.message_id.as_deref(),
        Some("JIRA.590897.1460651689000.177651.1461123240081@Atlassian.JIRA")
    );
}

#[test]
fn jsm_2025_subject_without_prefix_and_portal_links() {
    // Relayed by a mailing list: From is Jira, Sender is the list.
    let senders = ["jira-issues@redhat.com", "@lists.freedesktop.org"];
    let n = jira(JSM_REDHAT, &["PSIRTSUPT"], &senders);
    // Subject "PSIRTSUPT-567 [PATCH] drm/vmwgfx: …" (folded), portal links
    // /servicedesk/customer/portal/3/PSIRTSUPT-567 (split by a QP soft break).
    assert_eq!(n.keys, keys(&["PSIRTSUPT-567"]));
    assert_eq!(n.issue_ids, ids(&[17496172]));
    assert!(!n.deletion);
    assert_eq!(
        n.message_id.as_deref(),
        Some("JIRA.17496172.1761073453000.82567.1761231177733@Atlassian.JIRA")
    );
    // The list's Sender is checked too.
    assert_eq!(
        rejected(JSM_REDHAT, &[], &["jira-issues@redhat.com"]),
        Rejection::SenderNotAllowed {
            from: "dri-devel-bounces@lists.freedesktop.org".to_owned()
        }
    );
}

#[test]
fn cloud_2023_base64_subject_and_browse_links() {
    let n = jira(CLOUD_INFOMANIAK, &["FQA"], &["@infomaniak.atlassian.net"]);
    // Subject (RFC 2047 base64, two encoded words) "[JIRA] (FQA-123) [Breadcrumb] …";
    // text/plain links /browse/FQA-123?atlOrigin=… (QP "=3F") and /browse/FQA?… (project).
    assert_eq!(n.keys, keys(&["FQA-123"]));
    // Cloud message ids are UUIDs: no issue id.
    assert_eq!(n.issue_ids, ids(&[]));
    assert!(!n.deletion);
    assert_eq!(
        n.message_id.as_deref(),
        Some("54e47ead-ef11-4cc8-b660-a6ed47c7ffd7@infomaniak.atlassian.net")
    );
    let (headers, _) = mailparse::parse_headers(CLOUD_INFOMANIAK).unwrap();
    assert_eq!(
        headers.get_first_value("Subject").unwrap(),
        "[JIRA] (FQA-123) [Breadcrumb] effet hover univers Web & Domaines pas présent"
    );
    assert_eq!(
        rejected(CLOUD_INFOMANIAK, &["SUP"], &["@infomaniak.atlassian.net"]),
        Rejection::NoKeysInScope
    );
    // "@atlassian.net" is a different domain, not a suffix match.
    assert_eq!(
        rejected(CLOUD_INFOMANIAK, &[], &["@atlassian.net"]),
        Rejection::SenderNotAllowed {
            from: "jira@infomaniak.atlassian.net".to_owned()
        }
    );
}

#[test]
fn walk_finds_the_same_text_parts_as_mailparse() {
    for raw in REFERENCE_MAILS {
        assert_eq!(collect_texts(raw).unwrap(), mailparse_texts(raw).unwrap());
    }
}

/// The text parts as `mailparse::parse_mail` (recursive) sees them.
fn mailparse_texts(raw: &[u8]) -> Option<Vec<String>> {
    let parsed = mailparse::parse_mail(raw).ok()?;
    let texts = parsed
        .parts()
        .filter(|p| p.subparts.is_empty())
        .filter(|p| p.ctype.mimetype == "text/plain" || p.ctype.mimetype == "text/html")
        .filter(|p| p.get_content_disposition().disposition != DispositionType::Attachment)
        .filter_map(|p| p.get_body().ok())
        .collect();
    Some(texts)
}

// ---- subject forms ----

#[test]
fn custom_prefix_with_verb() {
    let raw = mail(
        &[
            "From: \"Ian Boston (Sakai Jira)\" <jira@your-org.atlassian.net>",
            "Subject: [Sakai Jira] Commented: (KERN-631) Sakai should be faster",
            "X-JIRA-FingerPrint: 0123456789abcdef0123456789abcdef",
        ],
        "Ian Boston commented on KERN-631.\r\n",
    );
    let n = jira(&raw, &["KERN"], OUR_SENDER);
    assert_eq!(n.keys, keys(&["KERN-631"]));
    assert!(!n.deletion);
    assert_eq!(n.message_id, None);
}

#[test]
fn apache_style_subject() {
    let raw = mail(
        &[
            "From: \"Sophie Blee-Goldman (Jira)\" <jira@your-org.atlassian.net>",
            "Subject: [jira] [Created] (KAFKA-9443) Persist and restore the\r\n whole state",
            "Message-ID: <JIRA.13279541.1579229530000.32164.1579229580052@Atlassian.JIRA>",
        ],
        "Sophie created an issue.\r\n",
    );
    let n = jira(&raw, &[], OUR_SENDER);
    assert_eq!(n.keys, keys(&["KAFKA-9443"]));
    assert_eq!(n.issue_ids, ids(&[13279541]));
}

#[test]
fn legacy_verbs_and_reply_prefixes() {
    for (subject, key) in [
        (
            "[JIRA] Assigned: (TBADOCNET-52) Fix the docs",
            "TBADOCNET-52",
        ),
        ("[JIRA] Work logged: (SUP-2) x", "SUP-2"),
        ("Re: [JIRA] (SUP-3) x", "SUP-3"),
        ("RE: Fwd: [JIRA] Created: (SUP-4) x", "SUP-4"),
        ("AW: SUP-5 Printer on fire", "SUP-5"),
        ("SUP-6: summary", "SUP-6"),
        ("SUP-7", "SUP-7"),
    ] {
        let raw = mail(
            &[
                "From: jira@your-org.atlassian.net",
                &format!("Subject: {subject}"),
                "X-JIRA-FingerPrint: 0123",
            ],
            "",
        );
        assert_eq!(jira(&raw, &[], OUR_SENDER).keys, keys(&[key]), "{subject}");
    }
}

#[test]
fn folded_service_desk_subject() {
    let raw = mail(
        &[
            "From: \"Security Team (Jira)\" <jira@your-org.atlassian.net>",
            "Subject: SEC-1732 DWF/CVE - Request for a CVE for the heap overflow in",
            "\tthe image parser",
            "X-JIRA-FingerPrint: 0123456789abcdef0123456789abcdef",
            "Auto-Submitted: auto-generated",
        ],
        "Reply above this line.\r\n",
    );
    let n = jira(&raw, &["SEC"], OUR_SENDER);
    assert_eq!(n.keys, keys(&["SEC-1732"]));
}

#[test]
fn folded_base64_subject() {
    let raw = mail(
        &[
            "From: jira@your-org.atlassian.net",
            "Subject: =?utf-8?b?W0pJUkFdIChTVVAtMTIpIFLDqXN1bcOpIA==?=",
            " =?utf-8?b?ZHUgcHJvYmzDqG1l?=",
            "Atl-Sent-Via: jira-np-distributor",
        ],
        "",
    );
    let n = jira(&raw, &["SUP"], OUR_SENDER);
    assert_eq!(n.keys, keys(&["SUP-12"]));
}

// ---- bodies ----

#[test]
fn digest_names_every_linked_issue_in_scope() {
    let text = "Alice made 3 updates.\r\n\
                SUP-1 ( https://your-org.atlassian.net/browse/SUP-1?atlOrigin=x )\r\n\
                SUP-2 ( https://your-org.atlassian.net/browse/SUP-2 )\r\n\
                OTHER-9 ( https://your-org.atlassian.net/browse/OTHER-9 )\r\n\
                SUP-3 ( https://your-org.atlassian.net/browse/SUP-3#comment-1 )\r\n";
    let html = "<a href=\"https://your-org.atlassian.net/browse/SUP-2\">SUP-2</a>";
    let body = format!(
        "--b1\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n{text}\r\n\
         --b1\r\nContent-Type: text/html; charset=utf-8\r\n\r\n{html}\r\n--b1--\r\n"
    );
    let raw = mail(
        &[
            "From: jira@your-org.atlassian.net",
            "Subject: [JIRA] 3 updates in your projects",
            "X-JIRA-FingerPrint: 0123",
            "Content-Type: multipart/alternative; boundary=b1",
        ],
        &body,
    );
    let n = jira(&raw, &["SUP"], OUR_SENDER);
    assert_eq!(n.keys, keys(&["SUP-1", "SUP-2", "SUP-3"]));
    let n = jira(&raw, &[], OUR_SENDER);
    assert_eq!(n.keys, keys(&["SUP-1", "SUP-2", "SUP-3", "OTHER-9"]));
}

#[test]
fn deletion_notices() {
    let deleted_subject = mail(
        &[
            "From: jira@your-org.atlassian.net",
            "Subject: [JIRA] Deleted: (SUP-7) Old printer",
            "X-JIRA-FingerPrint: 0123",
        ],
        "Alice deleted an issue\r\n",
    );
    let n = jira(&deleted_subject, &["SUP"], OUR_SENDER);
    assert_eq!(n.keys, keys(&["SUP-7"]));
    assert!(n.deletion);

    let apache = mail(
        &[
            "From: jira@your-org.atlassian.net",
            "Subject: [jira] [Deleted] (SUP-9) x",
            "X-JIRA-FingerPrint: 0123",
        ],
        "",
    );
    assert!(jira(&apache, &[], OUR_SENDER).deletion);

    let html_body = mail(
        &[
            "From: jira@your-org.atlassian.net",
            "Subject: [JIRA] (SUP-8) Old printer",
            "X-JIRA-FingerPrint: 0123",
            "Content-Type: text/html; charset=UTF-8",
        ],
        "<a href=\"https://x/ViewProfile\">Alice</a> <strong>deleted</strong> an issue",
    );
    let n = jira(&html_body, &[], OUR_SENDER);
    assert_eq!(n.keys, keys(&["SUP-8"]));
    assert!(n.deletion);

    let prose = mail(
        &[
            "From: jira@your-org.atlassian.net",
            "Subject: [JIRA] (SUP-8) Old printer",
            "X-JIRA-FingerPrint: 0123",
        ],
        "The issue SUP-8 has been deleted by Alice.",
    );
    assert!(jira(&prose, &[], OUR_SENDER).deletion);

    let not_deleted = mail(
        &[
            "From: jira@your-org.atlassian.net",
            "Subject: [JIRA] (SUP-8) Deleted files reappear",
            "X-JIRA-FingerPrint: 0123",
        ],
        "Alice created an issue",
    );
    assert!(!jira(&not_deleted, &[], OUR_SENDER).deletion);
}

#[test]
fn uuid_message_id_variant_gives_the_issue_id() {
    let raw = mail(
        &[
            "From: \"Security (JIRA)\" <jira@your-org.atlassian.net>",
            "Message-ID: <JIRA.36713.1505335133000.cca3ba12-fa93-4ca9-be74-905fbcd51480.1505343994602@Atlassian.JIRA>",
            "In-Reply-To: <JIRA.36713.1505335133000@Atlassian.JIRA>",
            "Subject: Your request has been updated",
        ],
        "Nothing with a link here.",
    );
    let n = jira(&raw, &["SEC"], OUR_SENDER);
    assert_eq!(n.keys, keys(&[]));
    assert_eq!(n.issue_ids, ids(&[36713]));
    assert_eq!(
        n.message_id.as_deref(),
        Some(
            "JIRA.36713.1505335133000.cca3ba12-fa93-4ca9-be74-905fbcd51480.1505343994602@Atlassian.JIRA"
        )
    );
}

#[test]
fn keys_of_other_projects_are_ignored() {
    let raw = mail(
        &[
            "From: jira@your-org.atlassian.net",
            "Subject: [JIRA] (OTHER-1) Not ours",
            "X-JIRA-FingerPrint: 0123",
            "Message-ID: <JIRA.1234.1505335133000.1.2@Atlassian.JIRA>",
        ],
        "https://x/browse/OTHER-1 https://x/browse/ANOTHER-2",
    );
    // The issue id belongs to OTHER-1, so it is dropped too.
    assert_eq!(
        rejected(&raw, &["SUP"], OUR_SENDER),
        Rejection::NoKeysInScope
    );
    let n = jira(&raw, &["other"], OUR_SENDER);
    assert_eq!(n.keys, keys(&["OTHER-1"]));
    assert_eq!(n.issue_ids, ids(&[1234]));
}

#[test]
fn prose_is_not_a_key() {
    let raw = mail(
        &[
            "From: jira@your-org.atlassian.net",
            "Subject: [JIRA] (SUP-5) UTF-8 import breaks on ISO-8859-1 files",
            "X-JIRA-FingerPrint: 0123",
        ],
        "We use UTF-8 and ISO-8859-1, see CVE-2024-1234, SUP-99 and OTHER-3.\r\n\
         Links: https://x/browse/SUP-6 https://x/browse/SUP-12abc https://x/browse/SUP-012\r\n\
         https://x/browse/sup-13 https://x/browse/SUP https://x/browse/S-14\r\n",
    );
    let n = jira(&raw, &[], OUR_SENDER);
    assert_eq!(n.keys, keys(&["SUP-5", "SUP-6"]));
}

#[test]
fn html_only_body_with_escaped_links() {
    let html = "<html><body>\r\n\
        <a href=\"https:&#47;&#47;jira.example.com&#47;browse&#47;SUP-42\">one</a>\r\n\
        <a href=\"https://jira.example.com/login?next=%2Fbrowse%2FSUP-43\">two</a>\r\n\
        <a href=\"https:&#x2F;&#x2F;jira.example.com&#x2F;browse&#x2F;SUP&#45;44\">three</a>\r\n\
        <a href=\"https://jira.example.com&amp;#47;browse&amp;#47;SUP-45\">four</a>\r\n\
        </body></html>";
    let body = format!(
        "--rel\r\nContent-Type: text/html; charset=UTF-8\r\n\r\n{html}\r\n\
         --rel\r\nContent-Type: text/html; charset=UTF-8\r\n\
         Content-Transfer-Encoding: base64\r\n\r\n\
         PHA+PGEgaHJlZj0iaHR0cHM6Ly9qaXJhLmV4YW1wbGUuY29tL2Jyb3dzZS9TVVAtNDYiPlNVUC00NjwvYT48L3A+\r\n\
         --rel\r\nContent-Type: image/png\r\n\r\n/browse/SUP-47\r\n--rel--\r\n"
    );
    let raw = mail(
        &[
            "From: jira@your-org.atlassian.net",
            "Subject: [JIRA] Digest",
            "X-JIRA-FingerPrint: 0123",
            "Content-Type: multipart/related; boundary=\"rel\"",
        ],
        &body,
    );
    let n = jira(&raw, &[], OUR_SENDER);
    // SUP-47 is in an image part, which is not read.
    assert_eq!(
        n.keys,
        keys(&["SUP-42", "SUP-43", "SUP-44", "SUP-45", "SUP-46"])
    );
}

#[test]
fn at_most_max_keys_and_the_subject_key_is_kept() {
    let mut body = String::new();
    for n in 1..=600 {
        body.push_str(&format!("https://x/browse/SUP-{n}\r\n"));
    }
    let raw = mail(
        &[
            "From: jira@your-org.atlassian.net",
            "Subject: [JIRA] (SUP-9999) Digest",
            "X-JIRA-FingerPrint: 0123",
        ],
        &body,
    );
    let n = jira(&raw, &[], OUR_SENDER);
    assert_eq!(n.keys.len(), MAX_KEYS);
    assert!(n.keys.contains(&IssueKey::parse("SUP-9999").unwrap()));
}

#[test]
fn at_most_max_issue_ids_in_header_order_and_the_rest_counted() {
    let references: Vec<String> = (1..=520)
        .map(|n| format!("<JIRA.{}.1460652284000@Atlassian.JIRA>", 900_000 + n))
        .collect();
    let raw = mail(
        &[
            "From: jira@your-org.atlassian.net",
            "Subject: [JIRA] Daily digest",
            "Message-ID: <JIRA.77.1460652284000.1.2@Atlassian.JIRA>",
            // The Message-ID's issue again: not counted twice.
            "In-Reply-To: <JIRA.77.1460652284000@Atlassian.JIRA>",
            &format!("References: {}", references.join("\r\n ")),
        ],
        "An issue was updated.",
    );
    let n = jira(&raw, &["SUP"], OUR_SENDER);
    let mut expected = vec![77];
    expected.extend((1..MAX_ISSUE_IDS as i64).map(|n| 900_000 + n));
    assert_eq!(n.issue_ids, ids(&expected));
    assert_eq!(n.issue_ids_dropped, 520 - (MAX_ISSUE_IDS - 1));
    // A real notification: one id, nothing dropped.
    let n = jira(DC_CREATED, &[], &["jira@atlassian.com"]);
    assert_eq!((n.issue_ids.len(), n.issue_ids_dropped), (1, 0));
}

// ---- is it Jira, and from whom ----

#[test]
fn spoofed_sender_never_yields_keys() {
    let body = "https://your-org.atlassian.net/browse/SUP-1";
    for from in [
        "From: \"Jira\" <evil@attacker.example>",
        "From: \"jira@your-org.atlassian.net\" <evil@attacker.example>",
        "From: jira@your-org.atlassian.net, evil@attacker.example",
        "From: jira@your-org.atlassian.net.attacker.example",
        "From: jira@evil-your-org.atlassian.net",
    ] {
        let raw = mail(
            &[
                from,
                "Subject: [JIRA] (SUP-1) Real issue",
                "X-JIRA-FingerPrint: 0123",
                "Message-ID: <JIRA.590899.1460652284000.68665.1460652300154@Atlassian.JIRA>",
            ],
            body,
        );
        let reason = rejected(&raw, &["SUP"], &["@your-org.atlassian.net"]);
        assert!(
            matches!(reason, Rejection::SenderNotAllowed { .. }),
            "{from}: {reason:?}"
        );
    }
    let twice = mail(
        &[
            "From: jira@your-org.atlassian.net",
            "From: evil@attacker.example",
            "Subject: [JIRA] (SUP-1) Real issue",
            "X-JIRA-FingerPrint: 0123",
        ],
        body,
    );
    assert_eq!(
        rejected(&twice, &["SUP"], OUR_SENDER),
        Rejection::SenderNotAllowed {
            from: "evil@attacker.example".to_owned()
        }
    );
    let no_from = mail(
        &["Subject: [JIRA] (SUP-1) x", "X-JIRA-FingerPrint: 0"],
        body,
    );
    assert_eq!(
        rejected(&no_from, &[], OUR_SENDER),
        Rejection::Malformed("no From header".to_owned())
    );
    // Nobody is allowed when the list is empty.
    let fine = mail(
        &[
            "From: jira@your-org.atlassian.net",
            "Subject: [JIRA] (SUP-1) x",
        ],
        body,
    );
    assert!(matches!(
        rejected(&fine, &[], &[]),
        Rejection::SenderNotAllowed { .. }
    ));
}

#[test]
fn sender_header_must_be_allowed_too() {
    let raw = mail(
        &[
            "From: jira@your-org.atlassian.net",
            "Sender: bounces@lists.example.org",
            "Subject: [JIRA] (SUP-1) x",
            "X-JIRA-FingerPrint: 0123",
        ],
        "",
    );
    assert_eq!(
        rejected(&raw, &[], OUR_SENDER),
        Rejection::SenderNotAllowed {
            from: "bounces@lists.example.org".to_owned()
        }
    );
    let n = jira(
        &raw,
        &[],
        &["jira@your-org.atlassian.net", "@LISTS.example.org"],
    );
    assert_eq!(n.keys, keys(&["SUP-1"]));
}

#[test]
fn newsletter_from_an_allowed_sender_is_not_jira() {
    let raw = mail(
        &[
            "From: \"Atlassian\" <news@your-org.atlassian.net>",
            "Subject: What's new in Jira - March 2025",
            "Message-ID: <abc123@mail.atlassian.com>",
            "Content-Type: text/html; charset=utf-8",
        ],
        "<p>Read about <a href=\"https://jira.atlassian.com/browse/JRA-1\">JRA-1</a></p>",
    );
    assert_eq!(
        rejected(&raw, &[], &["@your-org.atlassian.net"]),
        Rejection::NotJira
    );
}

#[test]
fn jira_shaped_subject_with_a_link_is_jira_without_jira_headers() {
    let raw = mail(
        &[
            "From: jira@your-org.atlassian.net",
            "Subject: [JIRA] (SUP-3) x",
        ],
        "https://your-org.atlassian.net/browse/SUP-3",
    );
    assert_eq!(jira(&raw, &[], OUR_SENDER).keys, keys(&["SUP-3"]));
    // Without the link it could be anything that borrowed the subject.
    let raw = mail(
        &[
            "From: jira@your-org.atlassian.net",
            "Subject: [JIRA] (SUP-3) x",
        ],
        "",
    );
    assert_eq!(rejected(&raw, &[], OUR_SENDER), Rejection::NotJira);
}

#[test]
fn a_30_mb_mail_is_rejected_without_parsing() {
    let mut raw =
        b"From: jira@your-org.atlassian.net\r\nSubject: [JIRA] (SUP-1) x\r\n\r\n".to_vec();
    raw.resize(30 * 1024 * 1024, b'a');
    let senders = strings(OUR_SENDER);
    let opts = ExtractOptions {
        projects: &[],
        allowed_senders: &senders,
        max_bytes: MAX,
    };
    let start = Instant::now();
    let verdict = classify(&raw, &opts);
    let took = start.elapsed();
    assert_eq!(
        verdict,
        Verdict::Rejected {
            reason: Rejection::TooLarge {
                bytes: 30 * 1024 * 1024
            }
        }
    );
    assert!(took < Duration::from_millis(50), "took {took:?}");
}

#[test]
fn broken_mime_is_malformed_or_harmless() {
    for raw in [
        &b""[..],
        b"\r\n\r\nonly a body",
        b"From: jira@your-org.atlassian.net\r\n\rSubject: lone CR\r\n\r\n",
        b" From: jira@your-org.atlassian.net\r\n\r\n",
        b"no colon at all\r\n\r\n",
    ] {
        assert!(
            matches!(rejected(raw, &[], OUR_SENDER), Rejection::Malformed(_)),
            "{:?}",
            String::from_utf8_lossy(raw)
        );
    }
    // Headers fine, MIME broken: unterminated multipart, a bad base64 part, a part with
    // broken headers, an empty boundary. The subject still counts.
    let body = "--x\r\nContent-Type: text/plain\r\nContent-Transfer-Encoding: base64\r\n\r\n\
                !!!not base64!!!\r\n\
                --x\r\n Content-Type: text/plain\r\n\r\nbroken part headers\r\n\
                --x\r\nContent-Type: multipart/mixed; boundary=\"\"\r\n\r\n--\r\n--\r\n\
                --x\r\nContent-Type: text/plain\r\n\r\nhttps://x/browse/SUP-2 and no end";
    let raw = mail(
        &[
            "From: jira@your-org.atlassian.net",
            "Subject: [JIRA] (SUP-1) =?utf-8?b?broken",
            "X-JIRA-FingerPrint: 0123",
            "Content-Type: multipart/mixed; boundary=x",
        ],
        body,
    );
    let n = jira(&raw, &[], OUR_SENDER);
    assert_eq!(n.keys, keys(&["SUP-1", "SUP-2"]));
    // Invalid UTF-8 and NULs in headers and body.
    let mut raw =
        b"From: jira@your-org.atlassian.net\r\nSubject: \xff\xfe[JIRA] (SUP-1)\0\r\n".to_vec();
    raw.extend_from_slice(b"X-JIRA-FingerPrint: \xc3\x28\r\n\r\n\xff/browse/SUP-3\0");
    assert_eq!(jira(&raw, &[], OUR_SENDER).keys, keys(&["SUP-3"]));
}

/// A mail nested `depth` multiparts deep. Boundaries end in `z` so that none is a prefix
/// of another (delimiters match by prefix, as in `mailparse`).
fn nested_multipart(depth: usize, leaf: &str) -> Vec<u8> {
    let mut raw = String::from(
        "From: jira@your-org.atlassian.net\r\nSubject: [JIRA] (SUP-1) deep\r\n\
         X-JIRA-FingerPrint: 0123\r\n",
    );
    for level in 0..depth {
        raw.push_str(&format!(
            "Content-Type: multipart/mixed; boundary=b{level}z\r\n\r\n--b{level}z\r\n"
        ));
    }
    raw.push_str("Content-Type: text/plain\r\n\r\n");
    raw.push_str(leaf);
    raw.push_str("\r\n");
    for level in (0..depth).rev() {
        raw.push_str(&format!("--b{level}z--\r\n"));
    }
    raw.into_bytes()
}

#[test]
fn deeply_nested_multipart_on_a_small_stack() {
    let verdicts = crate::testing::on_small_stack(|| {
        let deep = nested_multipart(10_000, "https://x/browse/SUP-2");
        let shallow = nested_multipart(MAX_MIME_DEPTH, "https://x/browse/SUP-2");
        let senders = strings(OUR_SENDER);
        let small = ExtractOptions {
            projects: &[],
            allowed_senders: &senders,
            max_bytes: 64 * 1024,
        };
        (
            run(&deep, &[], OUR_SENDER),
            classify(&deep, &small),
            run(&shallow, &[], OUR_SENDER),
            deep.len(),
        )
    });
    let (deep, deep_small_limit, shallow, size) = verdicts;
    assert!(size > 500_000, "{size}");
    assert!(
        matches!(&deep, Verdict::Rejected { reason: Rejection::Malformed(why) } if why.contains("nested")),
        "{deep:?}"
    );
    assert_eq!(
        deep_small_limit,
        Verdict::Rejected {
            reason: Rejection::TooLarge { bytes: size }
        }
    );
    match shallow {
        Verdict::Jira(n) => assert_eq!(n.keys, keys(&["SUP-1", "SUP-2"])),
        other => panic!("{other:?}"),
    }
}

#[test]
fn too_many_parts_are_cut_not_fatal() {
    let mut body = String::new();
    for n in 1..=(MAX_MIME_PARTS + 100) {
        body.push_str(&format!(
            "--p\r\nContent-Type: text/plain\r\n\r\n/browse/SUP-{n}\r\n"
        ));
    }
    body.push_str("--p--\r\n");
    let raw = mail(
        &[
            "From: jira@your-org.atlassian.net",
            "Subject: [JIRA] x",
            "X-JIRA-FingerPrint: 0123",
            "Content-Type: multipart/mixed; boundary=p",
        ],
        &body,
    );
    let n = jira(&raw, &[], OUR_SENDER);
    // The root counts as one part.
    assert_eq!(n.keys.len(), MAX_KEYS);
    assert_eq!(collect_texts(&raw).unwrap().len(), MAX_MIME_PARTS - 1);
}

// ---- small pieces ----

#[test]
fn sender_matching() {
    let allowed = strings(&["Jira@Your-Org.atlassian.net", "@example.org", "@", " "]);
    assert!(sender_allowed("jira@your-org.atlassian.net", &allowed));
    assert!(sender_allowed("JIRA@YOUR-ORG.ATLASSIAN.NET", &allowed));
    assert!(sender_allowed("anyone@EXAMPLE.org", &allowed));
    assert!(!sender_allowed("anyone@sub.example.org", &allowed));
    assert!(!sender_allowed("anyone@badexample.org", &allowed));
    assert!(!sender_allowed("@example.org", &allowed));
    assert!(!sender_allowed("example.org", &allowed));
    assert!(!sender_allowed("other@your-org.atlassian.net", &allowed));
    assert!(!sender_allowed("", &allowed));
}

#[test]
fn rejections_display_as_one_line() {
    let cases = [
        (
            Rejection::TooLarge { bytes: 12 },
            "mail too large (12 bytes)",
        ),
        (
            Rejection::Malformed("two\r\nlines".to_owned()),
            "malformed mail: two  lines",
        ),
        (
            Rejection::SenderNotAllowed {
                from: "a@b\nInjected: x".to_owned(),
            },
            "sender not allowed: a@b Injected: x",
        ),
        (Rejection::NotJira, "not a Jira notification"),
        (Rejection::NoKeysInScope, "no issue of a project in scope"),
    ];
    for (rejection, text) in cases {
        assert_eq!(rejection.to_string(), text);
    }
    let long = Rejection::Malformed("x".repeat(10_000)).to_string();
    assert!(long.len() < 300);
}

#[test]
fn message_id_is_cleaned() {
    assert_eq!(message_id(" <a.b@c> ".to_owned()).as_deref(), Some("a.b@c"));
    assert_eq!(message_id("<a b\tc>".to_owned()).as_deref(), Some("abc"));
    assert_eq!(message_id("<>".to_owned()), None);
    assert_eq!(message_id("x".repeat(1000)).map(|m| m.len()), Some(256));
}

#[test]
fn split_matches_mailparse_edge_cases() {
    for body in [
        "preamble\r\n--x\r\n\r\none\r\n--x\r\n\r\ntwo\r\n--x--\r\nepilogue",
        "--x\n\nlf only\n--x--",
        "--x\r\n\r\nno end",
        "--x",
        "--x\r\n",
        "--x--\r\n",
        "--xy\r\n\r\nnot our boundary\r\n--x\r\n\r\nours\r\n--x-",
        "--x\r\n\r\na --x in the middle\r\n--x\r\n\r\nb",
    ] {
        let raw = mail(&["Content-Type: multipart/mixed; boundary=x"], body);
        assert_eq!(collect_texts(&raw).ok(), mailparse_texts(&raw), "{body:?}");
    }
}

// ---- property tests: never panic, never out of scope ----

const SCOPE: [&str; 5] = ["SUP", "HCPUB", "JRA", "FQA", "PSIRTSUPT"];

fn check_invariants(raw: &[u8]) {
    let projects = strings(&SCOPE);
    let senders = strings(&REFERENCE_SENDERS);
    let opts = ExtractOptions {
        projects: &projects,
        allowed_senders: &senders,
        max_bytes: 64 * 1024,
    };
    match classify(raw, &opts) {
        Verdict::Jira(n) => {
            assert!(!n.keys.is_empty() || !n.issue_ids.is_empty());
            assert!(n.keys.len() <= MAX_KEYS && n.issue_ids.len() <= MAX_ISSUE_IDS);
            for key in &n.keys {
                assert!(SCOPE.contains(&key.project()), "{key} out of scope");
            }
            assert!(n.issue_ids.iter().all(|id| *id > 0));
        }
        Verdict::Rejected { reason } => {
            let line = reason.to_string();
            assert!(!line.contains(['\r', '\n']), "{line:?}");
        }
    }
    if raw.len() <= 64 * 1024
        && let (Ok(ours), Some(theirs)) = (collect_texts(raw), mailparse_texts(raw))
    {
        assert_eq!(ours, theirs);
    }
}

/// Pieces of MIME syntax that mutations insert, to reach the parser's corners.
const SNIPPETS: [&[u8]; 10] = [
    b"\r\n",
    b"\r\n\r\n",
    b"\n--",
    b"boundary=",
    b"Content-Type: multipart/mixed; boundary=z\r\n\r\n--z\r\n",
    b"=?utf-8?b?",
    b"?=",
    b"/browse/SUP-1",
    b"Content-Transfer-Encoding: base64\r\n",
    b"&#47;",
];

fn mutate(base: &[u8], edits: &[(prop::sample::Index, u8, u8)]) -> Vec<u8> {
    let mut raw = base.to_vec();
    for (at, op, byte) in edits {
        let ix = at.index(raw.len() + 1);
        match op {
            0 => {
                if let Some(b) = raw.get_mut(ix) {
                    *b ^= byte | 1;
                }
            }
            1 => raw.insert(ix, *byte),
            2 if ix < raw.len() => {
                raw.remove(ix);
            }
            3 => raw.truncate(ix),
            _ => {
                let snippet = SNIPPETS[usize::from(*byte) % SNIPPETS.len()];
                raw.splice(ix..ix, snippet.iter().copied());
            }
        }
    }
    raw
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn never_panics_on_arbitrary_bytes(raw in proptest::collection::vec(any::<u8>(), 0..2048)) {
        check_invariants(&raw);
    }

    #[test]
    fn never_panics_on_mutated_reference_mails(
        which in 0..REFERENCE_MAILS.len(),
        edits in proptest::collection::vec((any::<prop::sample::Index>(), 0u8..5, any::<u8>()), 0..12),
    ) {
        check_invariants(&mutate(REFERENCE_MAILS[which], &edits));
    }
}

#[test]
fn reference_mails_pass_the_invariants_unmutated() {
    for raw in REFERENCE_MAILS {
        check_invariants(raw);
        assert!(matches!(
            classify(
                raw,
                &ExtractOptions {
                    projects: &strings(&SCOPE),
                    allowed_senders: &strings(&REFERENCE_SENDERS),
                    max_bytes: 64 * 1024,
                }
            ),
            Verdict::Jira(_)
        ));
    }
}
