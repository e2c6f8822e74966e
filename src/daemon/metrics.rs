//! The daemon's read-only metrics and health endpoint (`[run] metrics_listen`, off by
//! default), so an operator sees `run` without the webhook receiver.
//!
//! `GET /metrics` answers the Prometheus text format (version 0.0.4): queue depth, failed and
//! parked issues, the last success of each job, Jira requests by budget and outcome, whether
//! Jira answers, whether the table writer is failing. `GET /health` answers the same facts
//! as JSON, `503` when the state database cannot be read. Nothing else is served, nothing is
//! written, and it listens on loopback only (validation refuses other addresses): the figures
//! carry no secret, but there is no authentication.

use std::fmt::Write as _;
use std::net::SocketAddr;
use std::sync::atomic::Ordering;

use axum::Router;
use axum::extract::State as Shared;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use tokio_util::sync::CancellationToken;

use crate::pipeline::Pipeline;
use crate::state;

/// What one scrape reports.
#[derive(Debug, Default, PartialEq)]
struct Snapshot {
    queue_depth: i64,
    failed: i64,
    parked: i64,
    /// `(job, finished_ms)` of the last successful run of each job that had one.
    last_success: Vec<(String, i64)>,
    /// `(budget, requests, throttled, transient)`.
    requests: Vec<(&'static str, u64, u64, u64)>,
    jira_up: bool,
    table_writer_failing: bool,
}

impl Snapshot {
    fn read(pipeline: &Pipeline) -> Result<Snapshot, state::Error> {
        let state = pipeline.state();
        let (failed, parked) = state.failure_counts()?;
        let requests = pipeline
            .request_stats()
            .into_iter()
            .map(|(budget, s)| {
                (
                    budget,
                    s.requests.load(Ordering::Relaxed),
                    s.throttled.load(Ordering::Relaxed),
                    s.transient.load(Ordering::Relaxed),
                )
            })
            .collect();
        Ok(Snapshot {
            queue_depth: state.queue_depth()?,
            failed,
            parked,
            last_success: state
                .last_successes()?
                .into_iter()
                .filter(|(job, _)| crate::job::HEALTH_JOBS.contains(&job.as_str()))
                .collect(),
            requests,
            jira_up: !pipeline.jira().is_down(),
            table_writer_failing: state.table_writer_problem()?.is_some(),
        })
    }

    /// The Prometheus text format.
    fn render(&self) -> String {
        let mut out = String::new();
        let mut metric = |name: &str, kind: &str, help: &str, samples: &[(String, String)]| {
            let _ = writeln!(out, "# HELP jira_mirror_{name} {help}");
            let _ = writeln!(out, "# TYPE jira_mirror_{name} {kind}");
            for (labels, value) in samples {
                let _ = writeln!(out, "jira_mirror_{name}{labels} {value}");
            }
        };
        let one = |v: i64| vec![(String::new(), v.to_string())];
        metric(
            "queue_depth",
            "gauge",
            "Issue keys waiting in the daemon's queue.",
            &one(self.queue_depth),
        );
        metric(
            "failed_issues",
            "gauge",
            "Issues whose last attempt failed (parked ones included).",
            &one(self.failed),
        );
        metric(
            "parked_issues",
            "gauge",
            "Issues parked after max_attempts failures, retried when they change.",
            &one(self.parked),
        );
        let last: Vec<_> = self
            .last_success
            .iter()
            .map(|(job, ms)| {
                (
                    format!("{{job=\"{job}\"}}"),
                    format!("{:.3}", *ms as f64 / 1000.0),
                )
            })
            .collect();
        metric(
            "last_success_timestamp_seconds",
            "gauge",
            "When each job last finished successfully, Unix time.",
            &last,
        );
        let by = |pick: fn(&(&'static str, u64, u64, u64)) -> u64| -> Vec<(String, String)> {
            self.requests
                .iter()
                .map(|r| (format!("{{budget=\"{}\"}}", r.0), pick(r).to_string()))
                .collect()
        };
        metric(
            "requests_total",
            "counter",
            "Requests sent to Jira, retries included, by budget (jira, jira_sla, media).",
            &by(|r| r.1),
        );
        metric(
            "throttled_total",
            "counter",
            "Responses 429 Too Many Requests, by budget.",
            &by(|r| r.2),
        );
        metric(
            "transient_failures_total",
            "counter",
            "Server errors and transport failures that were retried, by budget.",
            &by(|r| r.3),
        );
        metric(
            "jira_up",
            "gauge",
            "1 while Jira answers, 0 while its requests fail after their retries.",
            &one(i64::from(self.jira_up)),
        );
        metric(
            "table_writer_failing",
            "gauge",
            "1 while writing the Parquet tables fails (raw JSON is still saved).",
            &one(i64::from(self.table_writer_failing)),
        );
        out
    }

    fn json(&self) -> serde_json::Value {
        serde_json::json!({
            "status": "ok",
            "jira": if self.jira_up { "up" } else { "down" },
            "queue_depth": self.queue_depth,
            "failed_issues": self.failed,
            "parked_issues": self.parked,
            "table_writer_failing": self.table_writer_failing,
            "last_success": self
                .last_success
                .iter()
                .map(|(job, ms)| (job.clone(), serde_json::json!(crate::time::ms_to_rfc3339(*ms))))
                .collect::<serde_json::Map<_, _>>(),
        })
    }
}

/// Serves the endpoint on `listen` until `stop` is cancelled. Fails only when the address
/// cannot be bound.
pub(crate) async fn serve(
    listen: SocketAddr,
    pipeline: Pipeline,
    stop: CancellationToken,
) -> Result<(), super::Error> {
    let listener =
        tokio::net::TcpListener::bind(listen)
            .await
            .map_err(|e| super::Error::Metrics {
                listen,
                message: e.to_string(),
            })?;
    let local = listener.local_addr().unwrap_or(listen);
    tracing::info!(listen = %local, "Metrics endpoint listening (GET /metrics, GET /health).");
    let app = Router::new()
        .route("/metrics", get(metrics))
        .route("/health", get(health))
        .with_state(pipeline);
    axum::serve(listener, app)
        .with_graceful_shutdown(async move { stop.cancelled().await })
        .await
        .map_err(|e| super::Error::Metrics {
            listen: local,
            message: e.to_string(),
        })
}

async fn metrics(Shared(pipeline): Shared<Pipeline>) -> Response {
    match Snapshot::read(&pipeline) {
        Ok(snapshot) => (
            [(
                header::CONTENT_TYPE,
                "text/plain; version=0.0.4; charset=utf-8",
            )],
            snapshot.render(),
        )
            .into_response(),
        Err(e) => unreadable(&e),
    }
}

async fn health(Shared(pipeline): Shared<Pipeline>) -> Response {
    match Snapshot::read(&pipeline) {
        Ok(snapshot) => axum::Json(snapshot.json()).into_response(),
        Err(e) => unreadable(&e),
    }
}

fn unreadable(e: &state::Error) -> Response {
    tracing::warn!(error = %e, "Metrics: state database unreadable.");
    (
        StatusCode::SERVICE_UNAVAILABLE,
        axum::Json(serde_json::json!({ "status": "state database unreadable" })),
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_text_format_has_help_type_and_one_sample_per_label() {
        let snapshot = Snapshot {
            queue_depth: 3,
            failed: 2,
            parked: 1,
            last_success: vec![("sweep".into(), 1_700_000_000_500)],
            requests: vec![("jira", 10, 1, 2), ("jira_sla", 4, 0, 0)],
            jira_up: true,
            table_writer_failing: false,
        };
        let text = snapshot.render();
        for line in [
            "# TYPE jira_mirror_queue_depth gauge",
            "jira_mirror_queue_depth 3",
            "jira_mirror_failed_issues 2",
            "jira_mirror_parked_issues 1",
            "jira_mirror_last_success_timestamp_seconds{job=\"sweep\"} 1700000000.500",
            "# TYPE jira_mirror_requests_total counter",
            "jira_mirror_requests_total{budget=\"jira\"} 10",
            "jira_mirror_requests_total{budget=\"jira_sla\"} 4",
            "jira_mirror_throttled_total{budget=\"jira\"} 1",
            "jira_mirror_transient_failures_total{budget=\"jira\"} 2",
            "jira_mirror_jira_up 1",
            "jira_mirror_table_writer_failing 0",
        ] {
            assert!(text.lines().any(|l| l == line), "{line} missing in\n{text}");
        }
        // Every sample's metric has its HELP and TYPE first.
        for sample in text.lines().filter(|l| !l.starts_with('#')) {
            let name = sample.split(['{', ' ']).next().unwrap();
            assert!(text.contains(&format!("# TYPE {name} ")), "{name}");
        }
        let json = snapshot.json();
        assert_eq!(json["queue_depth"], 3);
        assert_eq!(json["jira"], "up");
        assert_eq!(json["last_success"]["sweep"], "2023-11-14T22:13:20.500Z");
    }
}
