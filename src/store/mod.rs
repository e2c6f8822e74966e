//! The bottom layer: files on disk and the locks around them.
//!
//! Everything the mirror keeps outside SQLite goes through here: the raw store
//! (`raw/issues/<KEY>.json`, `raw/attachments/<KEY>/…`, quarantine) with its atomic writes and
//! durable folders ([`archive`]), and the file locks every writer shares, per issue, for the
//! month files and for the one daemon ([`lock`]). It depends on nothing above it (no Jira, no
//! pipeline, no tables), so the pipeline, the table writer and the simulator can all build on
//! it without depending on each other.

pub mod archive;
pub mod lock;
