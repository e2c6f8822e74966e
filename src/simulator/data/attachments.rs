//! Attachment content: deterministic bytes from the id, served in chunks; and the digits of a
//! poisoned long attachment id.

/// Size of the hostile issue's `big.bin`.
pub(super) const BIG_BIN_SIZE: u64 = 3 * 1024 * 1024;

/// [`PoisonKind::LongAttachmentId`]: `len` decimal digits (at least one), starting with 9,
/// then the issue id's digits over and over.
pub(super) fn long_id(issue_id: u64, len: usize) -> String {
    std::iter::once('9')
        .chain(issue_id.to_string().chars().cycle())
        .take(len.max(1))
        .collect()
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
