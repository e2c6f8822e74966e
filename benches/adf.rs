//! ADF → text throughput: one "issue" = a description and five comment bodies, shaped like
//! the simulator's documents (see `tests/data/adf/kitchen_sink.json`). The batch transform
//! targets 5,000 issues/s per core, i.e. ≤ 200 µs per issue.
//!
//! Run with `cargo bench --bench adf` once Cargo.toml declares
//! `[[bench]] name = "adf" harness = false` (criterion brings its own `main`).

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use jira_mirror::transform::adf::{adf_to_text, adf_to_text_into};
use serde_json::{Value, json};
use std::hint::black_box;

fn comment() -> Value {
    json!({"type": "doc", "version": 1, "content": [
        {"type": "paragraph", "content": [
            {"type": "text", "text": "Seen again on "},
            {"type": "text", "text": "checkout", "marks": [{"type": "link", "attrs": {"href": "https://x.atlassian.net/browse/SUP-1"}}]},
            {"type": "text", "text": " after deploy, "},
            {"type": "mention", "attrs": {"id": "5b10a2844c20165700ede21g", "text": "@Mia Krystof", "accessLevel": ""}},
            {"type": "text", "text": " can you look "},
            {"type": "emoji", "attrs": {"shortName": ":fire:", "id": "1f525", "text": "🔥"}},
            {"type": "date", "attrs": {"timestamp": "1700006400000"}},
        ]},
        {"type": "codeBlock", "attrs": {"language": "java"}, "content": [
            {"type": "text", "text": "ERROR payment timeout at line 42\n  caused by: gateway"}
        ]},
    ]})
}

fn issue() -> Vec<Value> {
    let description: Value =
        serde_json::from_str(include_str!("../tests/data/adf/kitchen_sink.json")).unwrap();
    let mut docs = vec![description];
    docs.extend((0..5).map(|_| comment()));
    docs
}

fn bench(c: &mut Criterion) {
    let docs = issue();
    let mut group = c.benchmark_group("adf");
    group.throughput(Throughput::Elements(1));
    group.bench_function("issue (description + 5 comments), fresh Strings", |b| {
        b.iter(|| {
            for d in &docs {
                black_box(adf_to_text(black_box(d)));
            }
        })
    });
    let mut buf = String::new();
    group.bench_function("issue (description + 5 comments), reused buffer", |b| {
        b.iter(|| {
            for d in &docs {
                buf.clear();
                adf_to_text_into(black_box(d), &mut buf);
                black_box(&buf);
            }
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
