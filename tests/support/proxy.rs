//! A TCP forwarder on 127.0.0.1 whose connections a test can cut, to see how a client
//! survives a server that drops it (a restart, a NAT timeout, a failover).

use std::sync::{Arc, Mutex};

use tokio::net::{TcpListener, TcpStream};
use tokio::task::{AbortHandle, JoinHandle};

/// Forwards every connection on [`Proxy::port`] to the target port; stopped on drop.
pub struct Proxy {
    /// The port to connect to instead of the target.
    pub port: u16,
    live: Arc<Mutex<Vec<AbortHandle>>>,
    accept: JoinHandle<()>,
}

impl Proxy {
    /// Starts forwarding to `127.0.0.1:target`.
    pub async fn start(target: u16) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind proxy");
        let port = listener.local_addr().expect("proxy addr").port();
        let live: Arc<Mutex<Vec<AbortHandle>>> = Arc::default();
        let accept = tokio::spawn({
            let live = live.clone();
            async move {
                while let Ok((mut client, _)) = listener.accept().await {
                    let forward = tokio::spawn(async move {
                        if let Ok(mut server) = TcpStream::connect(("127.0.0.1", target)).await {
                            let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                        }
                    });
                    live.lock().unwrap().push(forward.abort_handle());
                }
            }
        });
        Proxy { port, live, accept }
    }

    /// Closes every open connection (both ends see the socket close); new ones still work.
    pub fn cut(&self) -> usize {
        let handles: Vec<AbortHandle> = std::mem::take(&mut *self.live.lock().unwrap());
        let open = handles.iter().filter(|h| !h.is_finished()).count();
        for h in handles {
            h.abort();
        }
        open
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.accept.abort();
        self.cut();
    }
}
