//! jira-mirror keeps a complete, queryable local mirror of a Jira site (raw issue JSON,
//! attachments and, later, monthly Parquet tables) without any inbound HTTP.
//!
//! # Layout
//! Bottom up; each module uses only those above it in this list (docs/ARCHITECTURE.md has
//! the diagram and a "where to change what" table).
//! - [`key`], [`time`], [`json`], [`scope`]: issue keys, Jira timestamps, stack-safe JSON for
//!   what comes from Jira (any depth parses, serialises and drops without recursion), the
//!   scope's project keys.
//! - [`config`]: TOML → validated [`config::Config`], every problem reported at once.
//! - [`store`]: the raw store on disk (atomic writes, durable folders, quarantine) and the
//!   file locks every writer shares.
//! - [`state`]: the SQLite store of watermarks, per-issue outcomes, failures, the queue and
//!   runs, one file per concern.
//! - [`jira`]: the polite HTTP client (budget, retries, paging) and the JQL it sends.
//! - [`transform`]: saved issue JSON → the monthly Parquet tables and the reference tables.
//! - [`pipeline`]: one issue key → complete issue → SLA overlay → raw store → pending table
//!   rows; [`pipeline::queue`] is the durable queue in front of it in `run`.
//! - [`job`]: one shape for every job: its report, its `runs` record, its schedule.
//! - [`triggers`]: what yields keys: the sweep, the backfill, maintenance passes, the mailbox
//!   and (cargo feature `webhook`) the signed webhook receiver.
//! - [`daemon`]: `run`: workers over the queue, the table writer, schedules, triggers.
//! - [`cli`] and [`app`]: the command line and the commands built from the pieces above.
//! - `simulator` (cargo feature `simulator`): an in-process Jira Cloud on 127.0.0.1 for the
//!   tests, benchmarks and `demo`; not part of the mirror.
#![warn(missing_docs)]

pub mod app;
pub mod cli;
pub mod config;
pub mod daemon;
pub mod jira;
pub mod job;
pub mod json;
pub mod key;
pub mod pipeline;
pub mod progress;
pub mod scope;
/// Not part of the mirror: a stand-in for Jira, compiled for the tests, the benchmarks and
/// `demo` (cargo feature `simulator`, on by default).
#[cfg(any(test, feature = "simulator"))]
pub mod simulator;
pub mod state;
pub mod store;
#[cfg(test)]
mod testing;

/// `e` and its first source, as one line (`error: cause`), for errors whose own message
/// leaves out why.
pub(crate) fn with_cause(e: &dyn std::error::Error) -> String {
    match e.source() {
        Some(cause) => format!("{e}: {cause}"),
        None => e.to_string(),
    }
}

/// The text of a panic's payload (`panic!` gives a `&str` or a `String`), for the errors
/// that report a panic in a thread or task instead of unwinding through the caller.
pub(crate) fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| (*s).to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "(no message)".into())
}
pub mod time;
pub mod transform;
pub mod triggers;
