//! The stream async-imap talks through: plain or TLS under an inactivity timeout, and the
//! one write whose placeholder becomes the real password.

use super::*;

/// The stream async-imap talks through: plain or TLS, plus the one-shot password rewrite.
pub(super) struct Wire {
    pub(super) transport: Transport,
    pub(super) rewrite: Option<LoginRewrite>,
}

/// A stream async-imap can use, plain or TLS.
pub(super) trait Io: AsyncRead + AsyncWrite + Send + Unpin {}

impl<T: AsyncRead + AsyncWrite + Send + Unpin> Io for T {}

pub(super) enum Transport {
    Plain(Timed),
    Tls(Box<TlsStream<Timed>>),
}

impl Wire {
    pub(super) fn new(transport: Transport) -> Self {
        Wire {
            transport,
            rewrite: None,
        }
    }

    pub(super) fn timed(&mut self) -> &mut Timed {
        match &mut self.transport {
            Transport::Plain(timed) => timed,
            Transport::Tls(tls) => tls.get_mut().0,
        }
    }

    /// Forgets timers left armed by an operation that was abandoned mid-wait.
    pub(super) fn reset_timers(&mut self) {
        self.timed().reset();
    }

    /// `None` lifts the read bound (IDLE); writes stay bounded by the session timeout.
    pub(super) fn set_read_limit(&mut self, limit: Option<Duration>) {
        let timed = self.timed();
        timed.read_limit = limit;
        timed.reset();
    }

    /// The stream under the wire, plain or TLS: every poll goes through here.
    fn io(&mut self) -> Pin<&mut dyn Io> {
        match &mut self.transport {
            Transport::Plain(timed) => Pin::new(timed as &mut dyn Io),
            Transport::Tls(tls) => Pin::new(tls.as_mut() as &mut dyn Io),
        }
    }
}

impl fmt::Debug for Wire {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = match self.transport {
            Transport::Plain(_) => "plain",
            Transport::Tls(_) => "tls",
        };
        f.debug_struct("Wire")
            .field("transport", &kind)
            .finish_non_exhaustive()
    }
}

impl AsyncRead for Wire {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        self.get_mut().io().poll_read(cx, buf)
    }
}

impl AsyncWrite for Wire {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        if let Some(rewrite) = this.rewrite.as_mut()
            && rewrite.pending.is_none()
        {
            rewrite.prepare(buf);
        }
        if let Some(mut pending) = this.rewrite.as_mut().and_then(|r| r.pending.take()) {
            // The LOGIN line with the real password: write all of it, then report the caller's
            // (placeholder) bytes as consumed. write_all retries with the same buffer after
            // Pending, so keeping our own progress is enough.
            while pending.written < pending.bytes.len() {
                match this.io().poll_write(cx, &pending.bytes[pending.written..]) {
                    Poll::Ready(Ok(0)) => {
                        return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
                    }
                    Poll::Ready(Ok(n)) => pending.written += n,
                    Poll::Ready(Err(error)) => return Poll::Ready(Err(error)),
                    Poll::Pending => {
                        if let Some(rewrite) = this.rewrite.as_mut() {
                            rewrite.pending = Some(pending);
                        }
                        return Poll::Pending;
                    }
                }
            }
            this.rewrite = None;
            return Poll::Ready(Ok(pending.consumed));
        }
        this.io().poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.get_mut().io().poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.get_mut().io().poll_shutdown(cx)
    }
}

/// Replaces the quoted placeholder in the one write that carries `LOGIN` by the quoted
/// password.
pub(super) struct LoginRewrite {
    /// `"placeholder"` as async-imap quotes it.
    pub(super) needle: Vec<u8>,
    /// The password as an IMAP quoted string.
    pub(super) quoted: Vec<u8>,
    pub(super) pending: Option<PendingWrite>,
}

pub(super) struct PendingWrite {
    pub(super) bytes: Vec<u8>,
    pub(super) written: usize,
    pub(super) consumed: usize,
}

impl LoginRewrite {
    pub(super) fn new(placeholder: &str, password: &str) -> Self {
        LoginRewrite {
            needle: format!("\"{placeholder}\"").into_bytes(),
            quoted: format!(
                "\"{}\"",
                password.replace('\\', "\\\\").replace('"', "\\\"")
            )
            .into_bytes(),
            pending: None,
        }
    }

    pub(super) fn prepare(&mut self, buf: &[u8]) {
        let Some(at) = buf
            .windows(self.needle.len())
            .position(|window| window == self.needle.as_slice())
        else {
            return;
        };
        let mut bytes = Vec::with_capacity(buf.len() + self.quoted.len());
        bytes.extend_from_slice(&buf[..at]);
        bytes.extend_from_slice(&self.quoted);
        bytes.extend_from_slice(&buf[at + self.needle.len()..]);
        self.pending = Some(PendingWrite {
            bytes,
            written: 0,
            consumed: buf.len(),
        });
    }
}

/// A TCP stream that fails a read or write making no progress for its limit.
pub(super) struct Timed {
    pub(super) tcp: TcpStream,
    pub(super) read_limit: Option<Duration>,
    pub(super) write_limit: Duration,
    pub(super) read_timer: Option<Pin<Box<Sleep>>>,
    pub(super) write_timer: Option<Pin<Box<Sleep>>>,
}

impl Timed {
    pub(super) fn new(tcp: TcpStream, limit: Duration) -> Self {
        Timed {
            tcp,
            read_limit: Some(limit),
            write_limit: limit,
            read_timer: None,
            write_timer: None,
        }
    }

    pub(super) fn reset(&mut self) {
        self.read_timer = None;
        self.write_timer = None;
    }
}

/// Bounds one poll of the inner stream: progress (`Ready`) disarms `timer`; the first wait
/// arms it, and a wait past `limit` fails.
fn bounded<T>(
    polled: Poll<io::Result<T>>,
    timer: &mut Option<Pin<Box<Sleep>>>,
    limit: Option<Duration>,
    cx: &mut Context<'_>,
) -> Poll<io::Result<T>> {
    if polled.is_ready() {
        *timer = None;
        return polled;
    }
    let Some(limit) = limit else {
        return Poll::Pending;
    };
    let sleep = timer.get_or_insert_with(|| Box::pin(tokio::time::sleep(limit)));
    match sleep.as_mut().poll(cx) {
        Poll::Ready(()) => {
            *timer = None;
            Poll::Ready(Err(io::Error::new(
                io::ErrorKind::TimedOut,
                format!("no progress for {limit:?}"),
            )))
        }
        Poll::Pending => Poll::Pending,
    }
}

impl AsyncRead for Timed {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let polled = Pin::new(&mut this.tcp).poll_read(cx, buf);
        bounded(polled, &mut this.read_timer, this.read_limit, cx)
    }
}

impl AsyncWrite for Timed {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let polled = Pin::new(&mut this.tcp).poll_write(cx, buf);
        bounded(polled, &mut this.write_timer, Some(this.write_limit), cx)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let polled = Pin::new(&mut this.tcp).poll_flush(cx);
        bounded(polled, &mut this.write_timer, Some(this.write_limit), cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let polled = Pin::new(&mut this.tcp).poll_shutdown(cx);
        bounded(polled, &mut this.write_timer, Some(this.write_limit), cx)
    }
}
