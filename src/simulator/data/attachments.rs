//! Attachments: the ones a new issue is generated with (the hostile set, random ordinary ones,
//! the ones a poison adds), the `attachment` field, and their content: deterministic bytes
//! from the id, served in chunks.

use rand::RngExt;
use rand_chacha::ChaCha8Rng;
use serde_json::{Value, json};

use super::vocab::{ATTACHMENT_NAMES, PEOPLE};
use super::{Attachment, AttachmentRec, Issue, Store, pick, take};
use crate::simulator::PoisonKind;

/// Size of the hostile issue's `big.bin`.
const BIG_BIN_SIZE: u64 = 3 * 1024 * 1024;

/// The attachments of the first issue when [`SimConfig::hostile_attachments`] is set: names
/// that are unsafe as paths, and one file above the 1 MiB a careless client buffers.
///
/// [`SimConfig::hostile_attachments`]: crate::simulator::SimConfig::hostile_attachments
fn hostile_set() -> [(String, &'static str, u64); 6] {
    [
        ("../../x".into(), "text/plain", 100),
        ("con".into(), "application/octet-stream", 200),
        (format!("{}.txt", "a".repeat(296)), "text/plain", 300),
        ("rÃ©sumÃ©\u{7f}.pdf".into(), "application/pdf", 1234),
        ("..".into(), "application/octet-stream", 50),
        ("big.bin".into(), "application/octet-stream", BIG_BIN_SIZE),
    ]
}

/// [`PoisonKind::LongAttachmentId`]: `len` decimal digits (at least one), starting with 9,
/// then the issue id's digits over and over.
fn long_id(issue_id: u64, len: usize) -> String {
    std::iter::once('9')
        .chain(issue_id.to_string().chars().cycle())
        .take(len.max(1))
        .collect()
}

impl Store {
    /// The attachments of new issue `issue_id`, created at `span.0` and last updated at
    /// `span.1`: the hostile set when `hostile`, else one to three ordinary ones on some
    /// `rich` issues; then one more for each attachment `poison`.
    pub(super) fn generate_attachments(
        &mut self,
        rng: &mut ChaCha8Rng,
        issue_id: u64,
        span: (i64, i64),
        rich: bool,
        hostile: bool,
        poison: &[PoisonKind],
    ) -> Vec<AttachmentRec> {
        let mut out = Vec::new();
        if hostile {
            for (name, mime, size) in hostile_set() {
                self.add_attachment(&mut out, rng, span, name, mime, size);
            }
        } else if rich && rng.random_bool(0.3) {
            for _ in 0..rng.random_range(1..=3) {
                let (name, mime) = pick(rng, ATTACHMENT_NAMES);
                let size = rng.random_range(100..=20_480);
                self.add_attachment(&mut out, rng, span, name.to_string(), mime, size);
            }
        }
        for kind in poison {
            match kind {
                PoisonKind::ForbiddenAttachment => {
                    let name = "restricted.pdf".to_string();
                    let id =
                        self.add_attachment(&mut out, rng, span, name, "application/pdf", 2048);
                    self.forbidden_attachments.insert(id);
                }
                PoisonKind::LongAttachmentId { len } => {
                    let name = "long-id.txt".to_string();
                    self.add_attachment(&mut out, rng, span, name, "text/plain", 512);
                    let digits = long_id(issue_id, *len);
                    self.long_attachment_ids.insert(digits.clone());
                    if let Some(a) = out.last_mut() {
                        a.long_id = Some(digits);
                    }
                }
                PoisonKind::DeepDescription { .. }
                | PoisonKind::Forbidden { .. }
                | PoisonKind::LoneSurrogate => {}
            }
        }
        out
    }

    /// Appends one attachment with the next id, added at a random time in the first half of
    /// `span` by a random person; returns its id.
    fn add_attachment(
        &mut self,
        out: &mut Vec<AttachmentRec>,
        rng: &mut ChaCha8Rng,
        (created, updated): (i64, i64),
        filename: String,
        mime: &'static str,
        size: u64,
    ) -> u64 {
        let id = take(&mut self.next_attachment_id);
        let at = created + (((updated - created).max(1) as f64) * rng.random::<f64>() * 0.5) as i64;
        let author = rng.random_range(0..PEOPLE.len());
        out.push(AttachmentRec {
            id,
            long_id: None,
            filename,
            mime,
            size,
            author,
            created: at,
        });
        id
    }

    /// Makes a new issue's attachments downloadable (all but those with a long id).
    pub(super) fn register_attachments(&mut self, issue: &Issue) {
        for a in issue.attachments.iter().filter(|a| a.long_id.is_none()) {
            self.attachments.insert(
                a.id,
                Attachment {
                    id: a.id,
                    mime: a.mime.to_string(),
                    size: a.size,
                },
            );
        }
    }

    /// The `attachment` field. Its `content` is `{api}/attachment/content/{id}` on Cloud and
    /// `{base}/secure/attachment/{id}/{filename, percent-encoded}` on Data Center.
    pub(super) fn attachment_field(&self, issue: &Issue) -> Value {
        let (base, api) = (&self.base, &self.api);
        Value::Array(
            issue
                .attachments
                .iter()
                .map(|a| {
                    let id = a.long_id.clone().unwrap_or_else(|| a.id.to_string());
                    let content = if self.dc() {
                        format!(
                            "{base}/secure/attachment/{id}/{}",
                            encode_segment(&a.filename)
                        )
                    } else {
                        format!("{api}/attachment/content/{id}")
                    };
                    json!({
                        "self": format!("{api}/attachment/{id}"),
                        "filename": a.filename,
                        "author": self.user(a.author),
                        "created": self.clock.jira(a.created),
                        "size": a.size,
                        "mimeType": a.mime,
                        "content": content,
                        "id": id,
                    })
                })
                .collect(),
        )
    }
}

/// `s` as one URL path segment: every byte but ASCII letters, digits and `-._~`
/// percent-encoded (so `/` and `%` cannot split or change the segment).
pub(crate) fn encode_segment(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The repeating unit of an attachment's content (deterministic from the id).
pub(crate) fn attachment_pattern(id: u64) -> Vec<u8> {
    format!("jira-mirror simulator attachment {id}: deterministic content line.\n").into_bytes()
}

/// `len` bytes of attachment `id` starting at byte `offset`.
pub(crate) fn attachment_chunk(pattern: &[u8], offset: u64, len: usize) -> Vec<u8> {
    let p = pattern.len() as u64;
    let mut out = Vec::with_capacity(len);
    let mut pos = (offset % p) as usize;
    while out.len() < len {
        let take = (pattern.len() - pos).min(len - out.len());
        out.extend_from_slice(&pattern[pos..pos + take]);
        pos = 0;
    }
    out
}

/// The full content of attachment `id` (tests only; the server streams).
#[cfg(test)]
pub(crate) fn attachment_bytes(id: u64, size: u64) -> Vec<u8> {
    attachment_chunk(&attachment_pattern(id), 0, size as usize)
}
