//! The webhook receiver's load figure of docs/performance.md: signed deliveries posted over
//! loopback to `run`'s receiver, with the daemon's workers fetching every named issue from the
//! built-in simulator meanwhile.
//!
//! ```sh
//! cargo run --release --example webhook_load                 # 16 clients, 10 s
//! cargo run --release --example webhook_load -- 32 20        # CLIENTS SECONDS
//! ```
//! The simulator (200 issues, latency 0) is mirrored first. Then each client posts, one after
//! the other until the time is up, a `jira:issue_updated` body (the reference shape) naming a
//! random issue, signed with the secret, with a fresh `X-Atlassian-Webhook-Identifier`;
//! every delivery is a new one (audit copy, queue push, identifier remembered, all fsynced).
//! Prints accepted deliveries per second and the p50/p99/max of the answer latency, then how
//! many keys the workers had left to fetch. Any answer other than 202 is counted as an error.

use std::net::TcpListener as StdListener;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result};
use jira_mirror::app::Context;
use jira_mirror::config::{Config, Secret, WebhookConfig};
use jira_mirror::daemon::{self, DaemonOptions};
use jira_mirror::simulator::{SimConfig, Simulator};
use jira_mirror::triggers::webhook::signature::Verifier;
use tokio_util::sync::CancellationToken;

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

const SECRET: &str = "load-test-secret";
const ISSUES: usize = 200;

#[tokio::main]
async fn main() -> Result<()> {
    let mut args = std::env::args().skip(1);
    let usage = "usage: webhook_load [CLIENTS [SECONDS]]";
    let clients: usize = args.next().map_or(Ok(16), |a| a.parse()).context(usage)?;
    let seconds: u64 = args.next().map_or(Ok(10), |a| a.parse()).context(usage)?;

    let sim = Simulator::start(SimConfig {
        issues: ISSUES,
        ..SimConfig::default()
    })
    .await?;
    let dir = tempfile::tempdir()?;
    let port = StdListener::bind("127.0.0.1:0")?.local_addr()?.port();
    let mut config = Config::for_simulator(
        dir.path().join("data"),
        &sim.base_url(),
        &sim.config().email,
        &sim.config().api_token,
        None,
    );
    config.jira.max_requests_per_second = 10_000.0;
    config.reconcile.schedule = "0 0 3 1 1 *".into();
    config.sla_poll.schedule = "0 0 3 1 1 *".into();
    config.sweep.schedule = "0 0 3 1 1 *".into();
    config.webhook = Some(WebhookConfig {
        retention_days: 1,
        ..WebhookConfig::new(format!("127.0.0.1:{port}").parse()?, Secret::new(SECRET))
    });
    let ctx = Context::build(config, None).await?;
    let state = ctx.pipeline().state().clone();
    let stop = CancellationToken::new();
    let daemon = tokio::spawn(daemon::run(
        Arc::new(ctx.config().clone()),
        ctx.pipeline().clone(),
        DaemonOptions {
            parallel: ctx.parallel(),
            max_attempts: ctx.config().run.max_attempts,
            grace: Duration::from_secs(ctx.config().run.shutdown_grace_secs),
        },
        stop.clone(),
    ));
    // The catch-up sweep mirrors everything first.
    let ready = Instant::now();
    while state.issue_count()? < ISSUES as i64 || state.queue_depth()? > 0 {
        anyhow::ensure!(
            ready.elapsed() < Duration::from_secs(300),
            "catch-up too slow"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    println!(
        "mirrored {ISSUES} issues in {:.1} s; {clients} clients for {seconds} s",
        ready.elapsed().as_secs_f64()
    );

    let url = format!("http://127.0.0.1:{port}/webhooks/jira");
    let template = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/data/webhook/webhook_issue_updated.json"
    ))?;
    let template: serde_json::Value = serde_json::from_str(&template)?;
    let verifier = Verifier::new(SECRET.as_bytes());
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .pool_max_idle_per_host(clients)
        .build()?;
    let started = Instant::now();
    let until = started + Duration::from_secs(seconds);
    let mut tasks = tokio::task::JoinSet::new();
    for c in 0..clients {
        let (client, url, verifier) = (client.clone(), url.clone(), verifier.clone());
        let mut body = template.clone();
        tasks.spawn(async move {
            let (mut latencies, mut errors) = (Vec::new(), 0usize);
            let mut n = 0usize;
            while Instant::now() < until {
                n += 1;
                let key = format!("SUP-{}", 1 + (c * 7919 + n * 104_729) % ISSUES);
                body["issue"]["key"] = key.into();
                // Now (the receiver refuses old deliveries); `load` makes every body unique
                // (the receiver deduplicates bodies too).
                body["timestamp"] = chrono::Utc::now().timestamp_millis().into();
                body["load"] = format!("{c}-{n}").into();
                let bytes = serde_json::to_vec(&body).expect("json");
                let t = Instant::now();
                let answer = client
                    .post(&url)
                    .header("X-Hub-Signature", verifier.sign(&bytes))
                    .header("X-Atlassian-Webhook-Identifier", format!("load-{c}-{n}"))
                    .body(bytes)
                    .send()
                    .await;
                match answer {
                    Ok(r) if r.status() == 202 => latencies.push(t.elapsed()),
                    _ => errors += 1,
                }
            }
            (latencies, errors)
        });
    }
    let (mut latencies, mut errors) = (Vec::new(), 0);
    while let Some(done) = tasks.join_next().await {
        let (l, e) = done?;
        latencies.extend(l);
        errors += e;
    }
    let elapsed = started.elapsed().as_secs_f64();
    latencies.sort();
    let at = |q: f64| latencies[((latencies.len() as f64 - 1.0) * q).round() as usize];
    anyhow::ensure!(!latencies.is_empty(), "no delivery accepted");
    println!(
        "accepted {} deliveries in {elapsed:.1} s = {:.0}/s; errors {errors}; latency p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
        latencies.len(),
        latencies.len() as f64 / elapsed,
        at(0.5).as_secs_f64() * 1e3,
        at(0.99).as_secs_f64() * 1e3,
        at(1.0).as_secs_f64() * 1e3,
    );
    println!(
        "keys still queued for the workers: {}",
        state.queue_depth()?
    );
    stop.cancel();
    daemon.await??;
    sim.shutdown().await;
    Ok(())
}
