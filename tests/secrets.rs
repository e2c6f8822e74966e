//! Secrets hygiene seen from outside: where the binary's requests go (no proxy from the
//! environment, the configured proxy when there is one) and what it logs about secrets.

use std::sync::{Arc, Mutex};

use base64::Engine;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

use crate::support::*;

/// A listener on 127.0.0.1 that only counts the connections made to it (and closes them):
/// where the environment's proxy variables point, so that using them shows.
struct Trap {
    url: String,
    hits: Arc<Mutex<usize>>,
    accept: JoinHandle<()>,
}

impl Trap {
    async fn start() -> Trap {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind trap");
        let url = format!("http://{}", listener.local_addr().expect("trap addr"));
        let hits: Arc<Mutex<usize>> = Arc::default();
        let accept = tokio::spawn({
            let hits = hits.clone();
            async move {
                while let Ok((socket, _)) = listener.accept().await {
                    *hits.lock().unwrap() += 1;
                    drop(socket);
                }
            }
        });
        Trap { url, hits, accept }
    }

    fn hits(&self) -> usize {
        *self.hits.lock().unwrap()
    }
}

impl Drop for Trap {
    fn drop(&mut self) {
        self.accept.abort();
    }
}

/// A forward HTTP proxy on 127.0.0.1 that records the head (request line and headers) of
/// the first request on every connection, then relays the connection to `target` (the
/// simulator, which answers the absolute-form request line as an origin server would).
struct RecordingProxy {
    port: u16,
    heads: Arc<Mutex<Vec<String>>>,
    accept: JoinHandle<()>,
}

impl RecordingProxy {
    async fn start(target: u16) -> RecordingProxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind proxy");
        let port = listener.local_addr().expect("proxy addr").port();
        let heads: Arc<Mutex<Vec<String>>> = Arc::default();
        let accept = tokio::spawn({
            let heads = heads.clone();
            async move {
                while let Ok((mut client, _)) = listener.accept().await {
                    let heads = heads.clone();
                    tokio::spawn(async move {
                        let mut buf = Vec::new();
                        let mut chunk = [0u8; 4096];
                        // Bounded: a head larger than 64 KiB is not a request we send.
                        while !buf.windows(4).any(|w| w == b"\r\n\r\n") && buf.len() < 65536 {
                            match client.read(&mut chunk).await {
                                Ok(0) | Err(_) => return,
                                Ok(n) => buf.extend_from_slice(&chunk[..n]),
                            }
                        }
                        let end = buf
                            .windows(4)
                            .position(|w| w == b"\r\n\r\n")
                            .unwrap_or(buf.len());
                        heads
                            .lock()
                            .unwrap()
                            .push(String::from_utf8_lossy(&buf[..end]).into_owned());
                        let Ok(mut server) = TcpStream::connect(("127.0.0.1", target)).await else {
                            return;
                        };
                        if server.write_all(&buf).await.is_ok() {
                            let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                        }
                    });
                }
            }
        });
        RecordingProxy {
            port,
            heads,
            accept,
        }
    }

    fn heads(&self) -> Vec<String> {
        self.heads.lock().unwrap().clone()
    }
}

impl Drop for RecordingProxy {
    fn drop(&mut self) {
        self.accept.abort();
    }
}

/// Points every proxy variable reqwest reads at `url`, and lets nothing exempt loopback.
fn with_proxy_env(cmd: &mut std::process::Command, url: &str) {
    for var in [
        "HTTP_PROXY",
        "http_proxy",
        "HTTPS_PROXY",
        "https_proxy",
        "ALL_PROXY",
        "all_proxy",
    ] {
        cmd.env(var, url);
    }
    for var in ["NO_PROXY", "no_proxy", "REQUEST_METHOD"] {
        cmd.env_remove(var);
    }
}

fn sim_port(sim: &jira_mirror::simulator::Simulator) -> u16 {
    sim.base_url()
        .rsplit(':')
        .next()
        .and_then(|port| port.trim_end_matches('/').parse().ok())
        .expect("simulator URL has a port")
}

/// Runs `cmd` to completion off the runtime's worker threads.
async fn output(mut cmd: std::process::Command) -> std::process::Output {
    tokio::task::spawn_blocking(move || cmd.output().expect("binary runs"))
        .await
        .expect("join")
}

fn fast() -> MirrorOptions {
    MirrorOptions {
        max_retries: 1,
        sla: false,
        ..MirrorOptions::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn proxy_variables_in_the_environment_are_ignored() {
    let sim = simulator(3).await;
    let trap = Trap::start().await;
    let mirror = Mirror::with(&sim, fast());
    let mut cmd = mirror.command(&["check"]);
    with_proxy_env(&mut cmd, &trap.url);
    let out = output(cmd).await;
    assert!(
        out.status.success(),
        "check failed: {:?}\n{}\n{}",
        out.status,
        stdout(&out),
        stderr(&out)
    );
    assert_eq!(trap.hits(), 0, "a request went to the environment's proxy");
    assert!(
        sim.requests()
            .iter()
            .any(|r| r.path == "/rest/api/3/myself"),
        "the simulator was asked directly"
    );
    sim.shutdown().await;
}

#[cfg(unix)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_configured_proxy_carries_every_request_and_its_password_is_not_logged() {
    use std::os::unix::fs::PermissionsExt;

    let sim = simulator(3).await;
    let port = sim_port(&sim);
    let proxy = RecordingProxy::start(port).await;
    let trap = Trap::start().await;
    let password = "proxy-pass-5150";
    let mirror = Mirror::with(&sim, fast());
    let text = std::fs::read_to_string(&mirror.config_path).unwrap();
    let text = text.replacen(
        "jql = \"project = SUP\"\n",
        &format!(
            "jql = \"project = SUP\"\nproxy = \"http://proxy-user:{password}@127.0.0.1:{}\"\n",
            proxy.port
        ),
        1,
    );
    std::fs::write(&mirror.config_path, text).unwrap();
    std::fs::set_permissions(&mirror.config_path, std::fs::Permissions::from_mode(0o644)).unwrap();

    // The environment names another proxy: the configured one wins.
    let mut cmd = mirror.command(&["check"]);
    with_proxy_env(&mut cmd, &trap.url);
    let out = output(cmd).await;
    let (out_text, err_text) = (stdout(&out), stderr(&out));
    assert!(
        out.status.success(),
        "check failed: {:?}\n{out_text}\n{err_text}",
        out.status
    );
    assert_eq!(trap.hits(), 0);

    let heads = proxy.heads();
    assert!(!heads.is_empty(), "no request went through the proxy");
    let basic = base64::engine::general_purpose::STANDARD.encode(format!("proxy-user:{password}"));
    for head in &heads {
        let line = head.lines().next().unwrap_or("");
        // Absolute form: the request was addressed to a proxy, for the simulator.
        assert!(
            line.starts_with(&format!("GET http://127.0.0.1:{port}/rest/api/"))
                || line.starts_with(&format!("POST http://127.0.0.1:{port}/rest/api/")),
            "{line}"
        );
        assert!(
            head.lines()
                .any(|h| h.eq_ignore_ascii_case(&format!("proxy-authorization: Basic {basic}"))),
            "{head}"
        );
    }
    assert!(
        sim.requests()
            .iter()
            .any(|r| r.path == "/rest/api/3/myself")
    );

    // The password is written in a file others can read: warned, never quoted.
    assert!(
        err_text.contains("jira.proxy: written in") && err_text.contains("chmod 600"),
        "{err_text}"
    );
    assert!(!err_text.contains(password) && !out_text.contains(password));
    sim.shutdown().await;
}
