//! Classifies one raw e-mail from the notification mailbox and extracts the Jira issue keys and
//! issue ids it names.
//!
//! # Why it is written this way
//! Mail is **untrusted**: anyone can write to the mailbox and any header, `From` included, can
//! be forged. Mail is also **only a hint**: every key found here is fetched from Jira like any
//! other trigger's key, and a deletion notice only makes the caller fetch (only Jira's 404
//! deletes anything). So a key found by mistake costs one fetch and a key missed is picked up
//! by the next sweep, but mail from a sender that is not allowed must never yield a key, and no
//! input may crash, hang or exhaust the process: hostile input is data.
//!
//! # What is read (as real Jira notification mails show it; see tests/data/mail/PROVENANCE.md)
//! - **Subject** (RFC 2047 decoded and unfolded by `mailparse`): `[JIRA] (KEY-1) …`,
//!   `[JIRA] Created: (KEY-1) …`, custom prefixes (`[Sakai Jira] Commented: (KERN-631)`),
//!   Apache style `[jira] [Created] (KAFKA-9443)`, and the Service Management form with no
//!   prefix, the key first (`PSIRTSUPT-567 [PATCH] …`); `Re:`/`Fwd:` prefixes are skipped.
//! - **Links** in `text/plain` and `text/html` parts (transfer encoding and charset decoded):
//!   `/browse/KEY-1` and `/servicedesk/customer/portal/{n}/KEY-1`, after undoing the common
//!   escapes of `/` and `-` (`&#47;`, `&#x2F;`, `&sol;`, `%2F`, `&#45;`, …). Keys written in
//!   prose are **not** taken ("UTF-8", "ISO-8859-1", "CVE-2024-1", quoted keys in comments).
//! - **Threading headers** `Message-ID`, `In-Reply-To`, `References` of the form
//!   `<JIRA.{issueId}.{ms}…@Atlassian.JIRA>` (Jira DC/Server, older Cloud and JSM, including the
//!   UUID variant) give numeric issue ids, to be resolved through Jira by the caller.
//!
//! # Order of the checks
//! size → headers parse → sender (`From` and `Sender`) → MIME walk → "is it Jira at all" →
//! keys in scope. See [`classify`].
//!
//! # Bounds
//! The size limit is checked before anything is parsed. The MIME tree is walked iteratively
//! (no recursion: `mailparse::parse_mail` is only ever called on leaf parts), at most
//! [`MAX_MIME_DEPTH`] levels deep and [`MAX_MIME_PARTS`] parts in all; boundaries are searched
//! with a linear-time substring search; the regexes are linear-time; at most [`MAX_KEYS`] keys
//! and [`MAX_ISSUE_IDS`] ids are returned per mail (the number of further ids is reported, for
//! the log).

use std::collections::BTreeSet;
use std::fmt;
use std::sync::LazyLock;

use mailparse::{DispositionType, MailAddr, MailHeader, MailHeaderMap, ParsedContentType};
use memchr::memmem;
use regex::Regex;

use crate::key::IssueKey;

/// At most this many issue keys are returned for one mail (a digest naming more is cut; the
/// keys from the subject come first, then the body's in order). The sweep catches the rest.
pub const MAX_KEYS: usize = 500;
/// At most this many issue ids are returned for one mail, in header order (`Message-ID`
/// first); the others are counted in [`Notification::issue_ids_dropped`]. A real notification
/// names one issue (its threading headers all carry the same id), so a mail naming more is a
/// forgery or a mistake; the ids are not resolved in the mailbox pass but queued, each for one
/// Jira request by a worker.
pub const MAX_ISSUE_IDS: usize = 500;
/// Further distinct ids are counted up to this many (the count is only for the log).
const MAX_DROPPED_IDS_COUNTED: usize = 100_000;
/// Deepest nesting of multipart parts accepted; deeper mail is [`Rejection::Malformed`].
/// Jira's own mail is two levels deep (`multipart/related` → `multipart/alternative`).
pub(crate) const MAX_MIME_DEPTH: usize = 32;
/// At most this many MIME parts are looked at in one mail; later parts are ignored.
pub(crate) const MAX_MIME_PARTS: usize = 1_000;
/// Longest sender address or reason written into a [`Rejection`]'s log line.
const MAX_REPORTED_CHARS: usize = 200;
/// Longest `Message-ID` kept in [`Notification::message_id`].
const MAX_MESSAGE_ID_CHARS: usize = 256;
/// At most this many addresses are read from one `From`/`Sender` header.
const MAX_SENDER_ADDRESSES: usize = 100;

/// What [`classify`] accepts.
#[derive(Debug, Clone, Copy)]
pub struct ExtractOptions<'a> {
    /// Project keys in scope (e.g. `["SUP"]`, compared case-insensitively); keys of other
    /// projects are ignored. Empty = every project is in scope.
    pub projects: &'a [String],
    /// Trusted senders: full addresses (`jira@your-org.atlassian.net`) or `@domain` entries
    /// matching every address of exactly that domain; compared case-insensitively. Checked on
    /// every `From` address and, if present, every `Sender` address: all must be allowed.
    /// Empty = nobody is allowed (the configuration never allows an empty list).
    pub allowed_senders: &'a [String],
    /// Mail larger than this many bytes is rejected without being parsed.
    pub max_bytes: usize,
}

/// The outcome for one mail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// A Jira notification from an allowed sender naming these issues.
    Jira(Notification),
    /// Not acted on; `reason` is one short line for the log (never mail content beyond the
    /// sender address and size).
    Rejected {
        /// Why the mail is not acted on.
        reason: Rejection,
    },
}

/// What a Jira notification names. At least one of `keys` and `issue_ids` is non-empty.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notification {
    /// Issue keys of projects in scope, from the subject and from `/browse/` and portal links
    /// (at most [`MAX_KEYS`]).
    pub keys: BTreeSet<IssueKey>,
    /// Numeric issue ids from `<JIRA.{id}.…@Atlassian.JIRA>` threading headers, to be
    /// resolved through Jira (at most [`MAX_ISSUE_IDS`]). They are dropped when the subject
    /// names an issue of a project out of scope, because Jira threads mail per issue: the ids
    /// are that issue's. Otherwise their project is unknown until resolved, so the caller must
    /// check the scope of what they resolve to.
    pub issue_ids: BTreeSet<i64>,
    /// How many more distinct issue ids the threading headers named beyond
    /// [`MAX_ISSUE_IDS`] (dropped; counted up to 100,000).
    pub issue_ids_dropped: usize,
    /// The subject or body says an issue was deleted. The caller fetches as usual; only
    /// Jira's 404 deletes. A false alarm (a comment saying "deleted an issue") costs a fetch.
    pub deletion: bool,
    /// The `Message-ID` without its angle brackets, printable ASCII only, at most 256
    /// characters (for the audit log and duplicate detection).
    pub message_id: Option<String>,
}

/// Why a mail is not acted on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rejection {
    /// Larger than [`ExtractOptions::max_bytes`]; not parsed at all.
    TooLarge {
        /// The mail's size.
        bytes: usize,
    },
    /// Not readable as a mail: headers that do not parse, no headers, no `From`, or MIME
    /// parts nested deeper than [`MAX_MIME_DEPTH`]. The text is ours, not the mail's.
    Malformed(String),
    /// A `From` or `Sender` address is not in [`ExtractOptions::allowed_senders`].
    SenderNotAllowed {
        /// The first address that is not allowed (or a placeholder if none could be parsed).
        from: String,
    },
    /// From an allowed sender, but not a Jira notification (no Jira header, and not a
    /// Jira-shaped subject with an issue link).
    NotJira,
    /// A Jira notification naming no issue of a project in scope and no issue id.
    NoKeysInScope,
}

impl fmt::Display for Rejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Rejection::TooLarge { bytes } => write!(f, "mail too large ({bytes} bytes)"),
            Rejection::Malformed(why) => write!(f, "malformed mail: {}", one_line(why)),
            Rejection::SenderNotAllowed { from } => {
                write!(f, "sender not allowed: {}", one_line(from))
            }
            Rejection::NotJira => f.write_str("not a Jira notification"),
            Rejection::NoKeysInScope => f.write_str("no issue of a project in scope"),
        }
    }
}

/// The shape of an issue key in mail: an upper-case letter, more letters, digits or `_`, a
/// dash and a number without leading zero. Validated again by [`IssueKey::parse`].
const KEY: &str = r"[A-Z][A-Z0-9_]+-[1-9][0-9]*";

fn regex(pattern: &str) -> Regex {
    // The patterns are constants of this file, covered by the tests.
    Regex::new(pattern).expect("constant regex is valid")
}

/// The subject forms. `prefix` holds the bracketed prefix and verb (to spot `Deleted:`).
static SUBJECT: LazyLock<Regex> = LazyLock::new(|| {
    regex(&format!(
        r"^(?:\s*(?i:re|fwd?|aw|wg|sv|vs|antw|tr)\s*:)*\s*(?:(?P<prefix>(?:\[[^\[\]\r\n]{{1,64}}\]\s*){{1,3}}(?:[A-Za-z][A-Za-z -]{{0,40}}:\s*)?)\((?P<bracketed>{KEY})\)|(?P<bare>{KEY})(?:[\s:,;]|$))"
    ))
});
/// `/browse/KEY-1` and the JSM portal's `/servicedesk/customer/portal/3/KEY-1`.
static LINK: LazyLock<Regex> = LazyLock::new(|| {
    regex(&format!(
        r"(?:/browse/|/servicedesk/customer/portal/[0-9]{{1,9}}/)({KEY})\b"
    ))
});
/// `<JIRA.{issueId}.{createdMs}[.{n}][.{uuid}][.{sentMs}]@Atlassian.JIRA>`.
static THREAD_ID: LazyLock<Regex> = LazyLock::new(|| {
    regex(r"(?i)<JIRA\.([0-9]{1,18})\.[0-9]{1,20}(?:\.[0-9a-z-]{1,64}){0,4}@Atlassian\.JIRA>")
});
static AMP: LazyLock<Regex> = LazyLock::new(|| regex(r"(?i)&amp;"));
static SLASH: LazyLock<Regex> = LazyLock::new(|| regex(r"(?i)&#0*47;|&#x0*2f;|&sol;|%2f|\\/"));
static DASH: LazyLock<Regex> = LazyLock::new(|| regex(r"(?i)&#0*45;|&#x0*2d;|&hyphen;|&dash;|%2d"));
static TAG: LazyLock<Regex> = LazyLock::new(|| regex(r"<[^<>]{0,2000}>"));
static DELETED_WORD: LazyLock<Regex> = LazyLock::new(|| regex(r"(?i)\bdeleted\b"));
/// "Alice deleted an issue", "*deleted* this issue", "deleted SUP-1", "issue SUP-1 has been
/// deleted" (run on the text with HTML tags replaced by spaces).
static DELETION_PROSE: LazyLock<Regex> = LazyLock::new(|| {
    regex(&format!(
        r"(?i)\bdeleted[\s*_]+(?:(?:(?:an?|this|the)[\s*_]+)?issue\b|{KEY}\b)|\bissue\b[^.\n]{{0,100}}?\b(?:has\s+been|was)\s+deleted\b"
    ))
});

/// Headers only Jira (Server, DC, Cloud) sets.
const JIRA_HEADERS: [&str; 3] = [
    "X-JIRA-FingerPrint",
    "Atl-Sent-Via",
    "X-Atlassian-Mail-Message-Id",
];
/// Headers that carry `<JIRA.…@Atlassian.JIRA>` message ids.
const THREAD_HEADERS: [&str; 3] = ["Message-ID", "In-Reply-To", "References"];

/// Classifies one raw mail (as fetched over IMAP, headers and body) and extracts the issues it
/// names. Never panics, whatever `raw` holds; work is bounded (see the module docs).
///
/// Checks in order: larger than `max_bytes` → [`Rejection::TooLarge`] (nothing parsed);
/// headers unreadable, absent, or without `From` → [`Rejection::Malformed`]; a `From` or
/// `Sender` address not allowed → [`Rejection::SenderNotAllowed`] (so a forged mail never
/// yields a key); MIME nested too deep → `Malformed`; no Jira header (`X-JIRA-FingerPrint`,
/// `Atl-Sent-Via`, `X-Atlassian-Mail-Message-Id`, a `…@Atlassian.JIRA` message id) and not a
/// Jira-shaped subject with an issue link → [`Rejection::NotJira`]; no key in scope and no
/// issue id → [`Rejection::NoKeysInScope`].
pub fn classify(raw: &[u8], opts: &ExtractOptions) -> Verdict {
    match classify_inner(raw, opts) {
        Ok(notification) => Verdict::Jira(notification),
        Err(reason) => Verdict::Rejected { reason },
    }
}

fn classify_inner(raw: &[u8], opts: &ExtractOptions) -> Result<Notification, Rejection> {
    if raw.len() > opts.max_bytes {
        return Err(Rejection::TooLarge { bytes: raw.len() });
    }
    let (headers, _) = mailparse::parse_headers(raw)
        .map_err(|e| Rejection::Malformed(format!("unreadable headers ({e})")))?;
    if headers.is_empty() {
        return Err(Rejection::Malformed("no headers".to_owned()));
    }
    check_senders(&headers, opts.allowed_senders)?;

    let texts = collect_texts(raw)?;
    let subject = headers.get_first_value("Subject").unwrap_or_default();
    let subject_match = SUBJECT.captures(&subject);
    let subject_key = subject_match.as_ref().and_then(|c| {
        c.name("bracketed")
            .or_else(|| c.name("bare"))
            .and_then(|m| IssueKey::parse(m.as_str()).ok())
    });

    let in_scope = |key: &IssueKey| {
        opts.projects.is_empty()
            || opts
                .projects
                .iter()
                .any(|p| p.trim().eq_ignore_ascii_case(key.project()))
    };
    // Subject first, then links in document order, so that a cut digest keeps the subject's.
    let mut keys = BTreeSet::new();
    let mut add_key = |key: IssueKey| {
        if keys.len() < MAX_KEYS && in_scope(&key) {
            keys.insert(key);
        }
    };
    if let Some(key) = &subject_key {
        add_key(key.clone());
    }
    let mut any_link = false;
    let mut deletion = subject_match
        .as_ref()
        .and_then(|c| c.name("prefix"))
        .is_some_and(|p| DELETED_WORD.is_match(p.as_str()));
    for text in &texts {
        let text = unescape_links(text);
        for caps in LINK.captures_iter(&text) {
            if let Some(key) = caps.get(1).and_then(|m| IssueKey::parse(m.as_str()).ok()) {
                any_link = true;
                add_key(key);
            }
        }
        if !deletion {
            deletion = DELETION_PROSE.is_match(&TAG.replace_all(&text, " "));
        }
    }

    let jira_headers = JIRA_HEADERS
        .iter()
        .any(|name| headers.get_first_header(name).is_some())
        || THREAD_HEADERS.iter().any(|name| {
            headers
                .get_all_values(name)
                .iter()
                .any(|v| v.to_ascii_lowercase().contains("@atlassian.jira"))
        });
    let jira_shaped = subject_key.is_some() && any_link;
    if !jira_headers && !jira_shaped {
        return Err(Rejection::NotJira);
    }

    let mut issue_ids = BTreeSet::new();
    let mut dropped = BTreeSet::new();
    if subject_key.as_ref().is_none_or(in_scope) {
        'headers: for name in THREAD_HEADERS {
            for value in headers.get_all_values(name) {
                for caps in THREAD_ID.captures_iter(&value) {
                    let Some(id) = caps.get(1).and_then(|m| m.as_str().parse::<i64>().ok()) else {
                        continue;
                    };
                    if id <= 0 || issue_ids.contains(&id) {
                        continue;
                    }
                    if issue_ids.len() < MAX_ISSUE_IDS {
                        issue_ids.insert(id);
                    } else if dropped.len() < MAX_DROPPED_IDS_COUNTED {
                        dropped.insert(id);
                    } else {
                        break 'headers;
                    }
                }
            }
        }
    }

    if keys.is_empty() && issue_ids.is_empty() {
        return Err(Rejection::NoKeysInScope);
    }
    Ok(Notification {
        keys,
        issue_ids,
        issue_ids_dropped: dropped.len(),
        deletion,
        message_id: headers.get_first_value("Message-ID").and_then(message_id),
    })
}

/// Every `From` address and every `Sender` address must be allowed.
fn check_senders(headers: &[MailHeader<'_>], allowed: &[String]) -> Result<(), Rejection> {
    let from = headers.get_all_headers("From");
    if from.is_empty() {
        return Err(Rejection::Malformed("no From header".to_owned()));
    }
    for header in from.into_iter().chain(headers.get_all_headers("Sender")) {
        let not_allowed = |from: &str| Rejection::SenderNotAllowed {
            from: from.to_owned(),
        };
        let list = mailparse::addrparse_header(header)
            .map_err(|_| not_allowed("(unparseable address)"))?;
        let mut addresses = Vec::new();
        for entry in list.iter() {
            match entry {
                MailAddr::Single(single) => addresses.push(single.addr.as_str()),
                MailAddr::Group(group) => {
                    addresses.extend(group.addrs.iter().map(|single| single.addr.as_str()));
                }
            }
            if addresses.len() > MAX_SENDER_ADDRESSES {
                return Err(not_allowed("(too many addresses)"));
            }
        }
        if addresses.is_empty() {
            return Err(not_allowed("(no address)"));
        }
        if let Some(bad) = addresses.iter().find(|a| !sender_allowed(a, allowed)) {
            return Err(not_allowed(&one_line(bad)));
        }
    }
    Ok(())
}

fn sender_allowed(address: &str, allowed: &[String]) -> bool {
    let address = address.trim().to_lowercase();
    let Some((local, domain)) = address.rsplit_once('@') else {
        return false;
    };
    if local.is_empty() || domain.is_empty() {
        return false;
    }
    allowed.iter().any(|entry| {
        let entry = entry.trim().to_lowercase();
        match entry.strip_prefix('@') {
            Some(allowed_domain) => !allowed_domain.is_empty() && domain == allowed_domain,
            None => address == entry,
        }
    })
}

/// Walks the MIME tree without recursion and returns the decoded text of every `text/plain`
/// and `text/html` part that is not an attachment.
///
/// Multipart parts are split here (the same way `mailparse` splits them); only leaf parts go
/// through `mailparse::parse_mail`, which then has nothing to recurse into.
fn collect_texts(raw: &[u8]) -> Result<Vec<String>, Rejection> {
    let mut texts = Vec::new();
    // (bytes of the part, nesting depth, parent is multipart/digest)
    let mut pending: Vec<(&[u8], usize, bool)> = vec![(raw, 0, false)];
    let mut seen = 0usize;
    while let Some((bytes, depth, in_digest)) = pending.pop() {
        seen += 1;
        if seen > MAX_MIME_PARTS {
            break;
        }
        let Ok((headers, ix_body)) = mailparse::parse_headers(bytes) else {
            continue; // one broken part does not hide the others
        };
        let ctype = headers
            .get_first_value("Content-Type")
            .as_deref()
            .map(mailparse::parse_content_type)
            .unwrap_or_else(|| default_content_type(in_digest));
        if ctype.mimetype.starts_with("multipart")
            && bytes.len() > ix_body
            && let Some(boundary) = ctype.params.get("boundary")
        {
            if depth >= MAX_MIME_DEPTH {
                return Err(Rejection::Malformed(format!(
                    "MIME parts nested deeper than {MAX_MIME_DEPTH} levels"
                )));
            }
            let room = MAX_MIME_PARTS.saturating_sub(seen + pending.len());
            let children = split_multipart(bytes, ix_body, boundary.as_bytes(), room);
            let digest = ctype.mimetype == "multipart/digest";
            // Reversed so that parts are read in document order.
            pending.extend(children.into_iter().rev().map(|c| (c, depth + 1, digest)));
            continue;
        }
        if ctype.mimetype != "text/plain" && ctype.mimetype != "text/html" {
            continue;
        }
        let Ok(part) = mailparse::parse_mail(bytes) else {
            continue;
        };
        if !part.subparts.is_empty()
            || part.get_content_disposition().disposition == DispositionType::Attachment
        {
            continue;
        }
        if let Ok(body) = part.get_body() {
            texts.push(body);
        }
    }
    Ok(texts)
}

/// What `mailparse` assumes for a part without `Content-Type` (RFC 2046 §5.1.5: parts of a
/// `multipart/digest` default to `message/rfc822`).
fn default_content_type(in_digest: bool) -> ParsedContentType {
    let mut ctype = ParsedContentType::default();
    if in_digest {
        ctype.mimetype = "message/rfc822".to_owned();
    }
    ctype
}

/// Splits the body of a multipart part at `--boundary` lines, exactly as `mailparse` 0.18 does
/// (a delimiter must start a line; the CRLF before it belongs to it; `--boundary--` ends the
/// list; a part without a closing delimiter runs to the end), returning at most `limit` parts.
fn split_multipart<'a>(
    raw: &'a [u8],
    ix_body: usize,
    boundary: &[u8],
    limit: usize,
) -> Vec<&'a [u8]> {
    let mut delimiter = b"--".to_vec();
    delimiter.extend_from_slice(boundary);
    let finder = memmem::Finder::new(&delimiter);
    let mut parts = Vec::new();
    let Some(first) = find_at_line_start(raw, ix_body, &finder) else {
        return parts;
    };
    let mut ix_delimiter_end = first.saturating_add(delimiter.len());
    while parts.len() < limit {
        let Some(part_start) = raw
            .get(ix_delimiter_end..)
            .and_then(|rest| memchr::memchr(b'\n', rest))
            .map(|nl| ix_delimiter_end + nl + 1)
        else {
            break;
        };
        let next = find_at_line_start(raw, part_start, &finder);
        let part_end = next.map_or(raw.len(), |ix| strip_trailing_newline(raw, part_start, ix));
        if let Some(part) = raw.get(part_start..part_end) {
            parts.push(part);
        }
        let Some(next) = next else {
            break;
        };
        ix_delimiter_end = next.saturating_add(delimiter.len());
        match raw.get(ix_delimiter_end..ix_delimiter_end.saturating_add(2)) {
            Some(b"--") | None => break,
            Some(_) => {}
        }
    }
    parts
}

/// The first match of `finder` at or after `start` that begins a line (or is at `start`).
fn find_at_line_start(raw: &[u8], start: usize, finder: &memmem::Finder<'_>) -> Option<usize> {
    let mut from = start;
    loop {
        let ix = from + finder.find(raw.get(from..)?)?;
        if ix == start || raw.get(ix.wrapping_sub(1)) == Some(&b'\n') {
            return Some(ix);
        }
        from = ix + 1;
    }
}

/// `ix`, moved back over one LF or CRLF that lies after `start`.
fn strip_trailing_newline(raw: &[u8], start: usize, mut ix: usize) -> usize {
    if ix > start && raw.get(ix - 1) == Some(&b'\n') {
        ix -= 1;
        if ix > start && raw.get(ix - 1) == Some(&b'\r') {
            ix -= 1;
        }
    }
    ix
}

/// Undoes the escapes of `/` and `-` that appear in links (`&#47;`, `&#x2F;`, `&sol;`, `%2F`,
/// `\/`, `&#45;`, …), after one level of `&amp;`.
fn unescape_links(text: &str) -> String {
    let text = AMP.replace_all(text, "&");
    let text = SLASH.replace_all(&text, "/");
    DASH.replace_all(&text, "-").into_owned()
}

fn message_id(value: String) -> Option<String> {
    let value = value.trim();
    let value = value.strip_prefix('<').unwrap_or(value);
    let value = value.strip_suffix('>').unwrap_or(value);
    let id: String = value
        .chars()
        .filter(char::is_ascii_graphic)
        .take(MAX_MESSAGE_ID_CHARS)
        .collect();
    (!id.is_empty()).then_some(id)
}

/// `text` as one log-safe line: control characters become spaces, at most 200 characters.
fn one_line(text: &str) -> String {
    text.chars()
        .take(MAX_REPORTED_CHARS)
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

#[cfg(test)]
mod tests;
