//! The batch-transform benchmark of docs/performance.md, on one core.
//!
//! ```sh
//! cargo run --release --example gen_mirror -- --issues 100000 --out /tmp/bench-mirror
//! taskset -c 0 cargo run --release --example bench_transform -- /tmp/bench-mirror
//! ```
//! Three single-threaded passes over the same `raw/issues` files, each reported in issues/s:
//! reading + `serde_json` parsing alone (the floor), parsing + building Arrow rows, and the
//! whole rebuild (parse, rows, zstd Parquet, atomic month files). The ratio of the last to
//! the first is what the transform costs on top of parsing.

use std::path::PathBuf;

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;
use std::sync::Arc;
use std::time::Instant;

use anyhow::{Context, Result};
use jira_mirror::config::SlaNames;
use jira_mirror::state::State;
use jira_mirror::store::archive::RawStore;
use jira_mirror::transform::Transformer;
use jira_mirror::transform::fields::FieldCatalog;
use jira_mirror::transform::fields::RowContext;
use jira_mirror::transform::parquet::MonthStore;
use jira_mirror::transform::rows::RowsBuilder;
use jira_mirror::transform::schema::Schemas;

fn main() -> Result<()> {
    let dir = PathBuf::from(
        std::env::args()
            .nth(1)
            .context("usage: bench_transform DATA_DIR")?,
    );
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir.join("raw/issues"))?
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    files.sort();
    let n = files.len() as f64;
    let state = Arc::new(State::open(&dir.join("state.db"))?);
    let catalog = state
        .meta("field_catalog")?
        .and_then(|(json, _)| serde_json::from_str(&json).ok())
        .map(|v| FieldCatalog::from_json(&v))
        .unwrap_or_else(FieldCatalog::empty);
    let ctx = RowContext::new(catalog, Default::default(), SlaNames::default());

    // 1. Read + parse only.
    let start = Instant::now();
    let mut bytes = 0u64;
    for f in &files {
        let raw = std::fs::read(f)?;
        bytes += raw.len() as u64;
        let v: serde_json::Value = serde_json::from_slice(&raw)?;
        std::hint::black_box(&v);
    }
    let parse = start.elapsed().as_secs_f64();

    // 2. Read + parse (skipping decoration no table reads) + rows (no Parquet).
    let schemas = Arc::new(Schemas::new(&ctx));
    let mut builder = RowsBuilder::new(Arc::new(ctx.clone()), schemas);
    let start = Instant::now();
    for f in &files {
        let v = jira_mirror::transform::parse::parse_issue(&std::fs::read(f)?)?;
        builder.append(&v)?;
        if builder.issues() >= 1_000 {
            std::hint::black_box(builder.finish());
        }
    }
    std::hint::black_box(builder.finish());
    let rows = start.elapsed().as_secs_f64();

    // 3. The whole rebuild on one thread.
    let transformer = Transformer::new(
        RawStore::new(&dir),
        MonthStore::new(dir.join("parquet"), None),
        state,
        ctx,
    );
    let start = Instant::now();
    let summary = transformer.rebuild_all(1)?;
    let rebuild = start.elapsed().as_secs_f64();

    println!(
        "{} issues, {} MiB of raw JSON, {} months, one thread",
        files.len(),
        bytes >> 20,
        summary.months
    );
    println!(
        "  read + parse (serde_json)  {:>7.0} issues/s  ({parse:.1} s)",
        n / parse
    );
    println!(
        "  pruned parse + Arrow rows  {:>7.0} issues/s  ({rows:.1} s)",
        n / rows
    );
    println!(
        "  full rebuild (Parquet)     {:>7.0} issues/s  ({rebuild:.1} s)",
        n / rebuild
    );
    println!("  rebuild / parse time ratio {:.2}", rebuild / parse);
    Ok(())
}
