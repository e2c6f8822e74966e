//! The receiver's HTTP server: an accept loop and one HTTP/1.1 connection task per client,
//! serving the axum router with hyper directly.
//!
//! `axum::serve` gives hyper no timer, so hyper's header-read timeout never fires: a client
//! that opens connections and sends nothing, or sends its headers a byte at a time, keeps
//! each connection (and its task and buffers) for as long as it likes. Here:
//!
//! - **Header timeout** (`[webhook] header_timeout_ms`): a request's headers must have
//!   arrived this long after the connection was accepted, or after the previous response on
//!   it was sent (hyper's deadline is not extended by each byte). So it is also the idle
//!   keep-alive timeout. A connection that misses it is closed without an answer. The body
//!   has its own limit, in the handler (`[webhook] body_timeout_ms`).
//! - **Connection cap** (`[webhook] max_connections`): every connection is accepted at once;
//!   one beyond the cap gets a fixed `503` (written only if the socket takes it without
//!   waiting) and is closed straight away, before anything is read from it. Nothing queues
//!   in the process or in the kernel's listen backlog; Jira retries a refused delivery.
//! - **Shutdown**: once `stop` is cancelled the listener is closed, idle connections are
//!   closed at once, a request in progress is finished (it is bounded by the header, body
//!   and queue timeouts), and anything still open after the drain timeout is dropped.
//!
//! HTTP/1.1 only: it is what Jira and reverse proxies speak to a backend.

use std::net::SocketAddr;
use std::pin::pin;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use axum::Router;
use axum::extract::ConnectInfo;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::{Service as _, service_fn};
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use super::Counters;

/// What a connection beyond the cap is sent before it is closed.
const REFUSED: &[u8] = b"HTTP/1.1 503 Service Unavailable\r\nretry-after: 5\r\n\
content-type: application/json\r\ncontent-length: 37\r\nconnection: close\r\n\r\n\
{\"error\":\"too many connections open\"}";

/// How the server bounds its connections.
#[derive(Debug, Clone, Copy)]
pub(super) struct Limits {
    /// Connections open at once; more are refused.
    pub(super) max_connections: usize,
    /// Time for a request's headers (and idle time between requests).
    pub(super) header_timeout: Duration,
    /// How long shutdown waits for connections still open.
    pub(super) drain_timeout: Duration,
}

/// Serves `router` on `listener` until `stop` is cancelled, at most `limits.max_connections`
/// at once, then drains (see the module docs).
pub(super) async fn serve(
    listener: TcpListener,
    router: Router,
    counters: Arc<Counters>,
    limits: Limits,
    stop: CancellationToken,
) {
    let slots = Arc::new(Semaphore::new(limits.max_connections.max(1)));
    let mut connections = JoinSet::new();
    loop {
        let (stream, peer) = tokio::select! {
            () = stop.cancelled() => break,
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    accept_failed(&e, &stop).await;
                    continue;
                }
            },
        };
        match slots.clone().try_acquire_owned() {
            Ok(slot) => {
                let open = Open::new(counters.clone(), slot);
                let task = connection(stream, peer, router.clone(), open, limits, stop.clone());
                connections.spawn(task);
            }
            Err(_) => refuse(stream, peer, &counters, limits.max_connections),
        }
        while let Some(ended) = connections.try_join_next() {
            log_panic(ended);
        }
    }
    drop(listener);
    let drained = tokio::time::timeout(limits.drain_timeout, async {
        while let Some(ended) = connections.join_next().await {
            log_panic(ended);
        }
    })
    .await;
    if drained.is_err() {
        tracing::warn!(
            open = connections.len(),
            "Webhook connections still open after the drain timeout; closed."
        );
        connections.abort_all();
    }
}

/// A connection beyond the cap: 503 if the socket takes it at once, then closed, unread.
fn refuse(stream: TcpStream, peer: SocketAddr, counters: &Counters, max: usize) {
    let _ = stream.try_write(REFUSED);
    drop(stream);
    let n = counters.refused_connections.fetch_add(1, Ordering::Relaxed) + 1;
    if n <= 10 || n.is_multiple_of(1000) {
        tracing::warn!(%peer, max_connections = max, refused_so_far = n, "Webhook connection refused: too many open.");
    } else {
        tracing::debug!(%peer, "Webhook connection refused: too many open.");
    }
}

/// One connection, until the client closes it, a timeout closes it, or shutdown.
async fn connection(
    stream: TcpStream,
    peer: SocketAddr,
    router: Router,
    open: Open,
    limits: Limits,
    stop: CancellationToken,
) {
    let _ = stream.set_nodelay(true);
    let router = TowerToHyperService::new(router);
    let service = service_fn(move |mut request: hyper::Request<Incoming>| {
        request.extensions_mut().insert(ConnectInfo(peer));
        router.call(request)
    });
    let mut builder = http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout)
        .keep_alive(true);
    let mut conn = pin!(builder.serve_connection(TokioIo::new(stream), service));
    let served = tokio::select! {
        served = conn.as_mut() => Some(served),
        () = stop.cancelled() => None,
    };
    let served = match served {
        Some(served) => served,
        None => {
            // Closes an idle connection now; a request in progress is answered first.
            conn.as_mut().graceful_shutdown();
            conn.await
        }
    };
    if let Err(e) = served {
        if e.is_timeout() {
            open.counters.timed_out.fetch_add(1, Ordering::Relaxed);
            tracing::debug!(%peer, "Webhook connection closed: headers not received in time.");
        } else {
            tracing::debug!(%peer, error = %e, "Webhook connection ended with an error.");
        }
    }
}

/// An accepted connection: holds its slot and counts itself open until dropped.
struct Open {
    counters: Arc<Counters>,
    _slot: OwnedSemaphorePermit,
}

impl Open {
    fn new(counters: Arc<Counters>, slot: OwnedSemaphorePermit) -> Open {
        let now = counters.connections.fetch_add(1, Ordering::Relaxed) + 1;
        counters.peak_connections.fetch_max(now, Ordering::Relaxed);
        Open {
            counters,
            _slot: slot,
        }
    }
}

impl Drop for Open {
    fn drop(&mut self) {
        self.counters.connections.fetch_sub(1, Ordering::Relaxed);
    }
}

/// An accept that failed: the client giving up first is nothing; anything else (too many
/// open files) is logged and retried after a second, so the loop does not spin.
async fn accept_failed(e: &std::io::Error, stop: &CancellationToken) {
    use std::io::ErrorKind::{ConnectionAborted, ConnectionRefused, ConnectionReset};
    if matches!(
        e.kind(),
        ConnectionAborted | ConnectionRefused | ConnectionReset
    ) {
        return;
    }
    tracing::warn!(error = %e, "Webhook receiver cannot accept a connection; retrying in 1 s.");
    tokio::select! {
        () = stop.cancelled() => {}
        () = tokio::time::sleep(Duration::from_secs(1)) => {}
    }
}

/// A connection task that panicked (a bug) ends that connection only; say so.
fn log_panic(ended: Result<(), tokio::task::JoinError>) {
    if let Err(e) = ended
        && e.is_panic()
    {
        tracing::error!(
            panic = %crate::panic_message(&*e.into_panic()),
            "A webhook connection panicked; that connection was closed."
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_refusal_is_a_complete_response() {
        let text = std::str::from_utf8(REFUSED).unwrap();
        let (head, body) = text.split_once("\r\n\r\n").unwrap();
        assert!(head.starts_with("HTTP/1.1 503 "));
        assert!(head.contains(&format!("content-length: {}", body.len())));
        serde_json::from_str::<serde_json::Value>(body).unwrap();
    }
}
