//! One-issue upsert into a month that already holds 2,000 issues: all seven tables.
//!
//! `cargo bench --bench upsert` — the target is a median ≤ 30 ms (docs/performance.md).

use std::sync::Arc;

use criterion::{Criterion, criterion_group, criterion_main};
use jira_mirror::config::SlaNames;
use jira_mirror::simulator::fixture::write_mirror;
use jira_mirror::simulator::{SimConfig, Simulator};
use jira_mirror::state::State;
use jira_mirror::store::archive::RawStore;
use jira_mirror::transform::Transformer;
use jira_mirror::transform::fields::FieldCatalog;
use jira_mirror::transform::fields::RowContext;
use jira_mirror::transform::parquet::MonthStore;

// The binary's allocator, so the bench measures what `jira-mirror` does.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn upsert(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("temp dir");
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let sim = runtime
        .block_on(Simulator::start(SimConfig {
            issues: 2_000,
            big_issues: Vec::new(),
            hostile_attachments: false,
            // The reference issue: median 5 comments and about 20 changelog items.
            max_histories: 36,
            ..SimConfig::default()
        }))
        .expect("simulator");
    let catalog = FieldCatalog::from_json(&sim.field_catalog());
    let stats = write_mirror(&sim, dir.path(), Some("2024-05")).expect("fixture");
    runtime.block_on(sim.shutdown());
    let state = Arc::new(State::open(&dir.path().join("state.db")).expect("state"));
    let transformer = Transformer::new(
        RawStore::new(dir.path()),
        MonthStore::new(dir.path().join("parquet"), None),
        state,
        RowContext {
            catalog,
            fields: Default::default(),
            sla: SlaNames::default(),
        },
    );
    transformer.rebuild_all(2).expect("rebuild");
    assert_eq!(stats.issues, 2_000);
    let created = jira_mirror::time::jira_time_ms("2024-05-15T12:00:00.000+0000").expect("time");
    let mut n = 0usize;
    c.bench_function("upsert 1 issue into a 2,000-issue month (7 tables)", |b| {
        b.iter(|| {
            n = n % 2_000 + 1;
            transformer
                .mark(&format!("SUP-{n}"), created)
                .expect("mark");
            assert_eq!(transformer.apply_pending().expect("apply"), 1);
        })
    });
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(30);
    targets = upsert
}
criterion_main!(benches);
