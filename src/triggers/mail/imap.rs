//! The IMAP session behind the mailbox trigger: one authenticated connection to the watched
//! folder, built on `async-imap` over tokio, with only an outbound connection.
//!
//! Jira notification e-mails are only hints (the keys they name are fetched from Jira like any
//! other trigger's), so this module does the few things the trigger needs and nothing more:
//! list the UIDs worth looking at ([`Session::candidates`]), skip oversized mails without
//! downloading them ([`Session::sizes`]), read one mail without marking it read
//! ([`Session::fetch`] uses `BODY.PEEK[]`), mark or move it afterwards, and wait for new mail
//! with IDLE ([`Session::idle`]).
//!
//! Why it looks the way it does:
//! - **Every network wait is bounded.** The TCP stream sits in a wrapper that fails any read or
//!   write making no progress for [`ImapSettings::timeout`] (an inactivity timeout, so a large
//!   mail on a slow link still arrives while a dead connection is noticed). IDLE switches the
//!   read bound off and is bounded by its own timeout instead.
//! - **A broken connection is not reused.** After an I/O error or timeout the session cannot
//!   know where the server's response stream stands, so it drops the connection and every later
//!   call answers [`Error::Closed`]; the caller reconnects. A plain `NO`/`BAD` for one command
//!   keeps the session.
//! - **The password never leaves this module except towards the server.** async-imap logs every
//!   command it sends at `trace` level (through the `log` crate, which the tracing subscriber
//!   forwards), `LOGIN` included. So async-imap is handed a random placeholder, and the stream
//!   wrapper swaps in the real, quoted password on its way to the socket. Errors name the user
//!   and the server, never the password, and [`ImapSettings`] has a redacting `Debug`.
//! - **IDLE is re-issued.** RFC 2177 servers may drop a client idling for 30 minutes; async-imap
//!   resets its own IDLE timeout on every keep-alive (`* OK Still here`), so [`Session::idle`]
//!   enforces an overall deadline of at most [`MAX_IDLE`] itself.
//! - **Unencrypted IMAP only to loopback.** The config layer refuses `security = "none"` for
//!   other hosts; [`Session::connect`] refuses it again, and also when a loopback-looking name
//!   resolves elsewhere, before any byte is sent.

use std::fmt;
use std::future::Future;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use async_imap::error::Error as ImapError;
use async_imap::extensions::idle::IdleResponse;
use async_imap::imap_proto::{MailboxDatum, Response, Status};
use async_imap::types::{Capabilities, Capability, Fetch, Flag, UnsolicitedResponse};
use futures::TryStreamExt;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio::time::Sleep;
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;
use tokio_rustls::rustls;
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, ServerName};
use tracing::debug;

use crate::config::{ImapConfig, ImapSecurity};

/// The longest single IDLE: RFC 2177 asks clients to re-issue IDLE at least every 29 minutes,
/// so [`Session::idle`] never waits longer than this, whatever timeout it is given.
pub const MAX_IDLE: Duration = Duration::from_secs(29 * 60);

/// How many UIDs go into one `UID FETCH` command, to keep command lines short.
const UIDS_PER_COMMAND: usize = 500;

/// Everything needed to open a [`Session`].
#[derive(Clone)]
pub struct ImapSettings {
    /// Server host name or IP address (also the name checked against the TLS certificate).
    pub host: String,
    /// Server port.
    pub port: u16,
    /// Transport protection; `None` is only accepted for a loopback host.
    pub security: ImapSecurity,
    /// Login name.
    pub username: String,
    /// Login password. Never logged, never part of an error or of `Debug` output.
    pub password: String,
    /// Folder to select, e.g. `INBOX`, spelled as the server names it (hierarchy separator
    /// included; non-ASCII names in modified UTF-7, as IMAP4rev1 requires).
    pub mailbox: String,
    /// PEM file of extra CA certificates trusted besides the system's (a private CA).
    pub ca_file: Option<PathBuf>,
    /// Bound of every network wait: DNS, TCP connect, TLS handshake and each read or write
    /// that makes no progress (IDLE has its own timeout).
    pub timeout: Duration,
}

impl ImapSettings {
    /// Settings from the validated `[imap]` section. The CA file and the network timeout are
    /// separate because they do not come from that section (yet).
    pub fn from_config(config: &ImapConfig, ca_file: Option<PathBuf>, timeout: Duration) -> Self {
        ImapSettings {
            host: config.host.clone(),
            port: config.port,
            security: config.security,
            username: config.username.clone(),
            password: config.password.expose().to_owned(),
            mailbox: config.mailbox.clone(),
            ca_file,
            timeout,
        }
    }

    /// `host:port` (IPv6 addresses in brackets), as named in errors and logs.
    pub fn server(&self) -> String {
        server_label(&self.host, self.port)
    }
}

impl fmt::Debug for ImapSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ImapSettings")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("security", &self.security)
            .field("username", &self.username)
            .field("password", &"***")
            .field("mailbox", &self.mailbox)
            .field("ca_file", &self.ca_file)
            .field("timeout", &self.timeout)
            .finish()
    }
}

/// What can go wrong talking to the IMAP server. No variant ever contains the password.
///
/// [`Error::is_transient`] tells a reconnect-and-retry situation from a configuration problem.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// `security = "none"` towards a host that is not loopback: refused before connecting.
    #[error(
        "refusing unencrypted IMAP (security = \"none\") to {host}: only a loopback host may be \
         used without TLS"
    )]
    Insecure {
        /// The configured host (or the non-loopback address it resolved to).
        host: String,
    },
    /// DNS lookup or TCP connect failed.
    #[error("cannot connect to IMAP server {server}: {source}")]
    Connect {
        /// `host:port`.
        server: String,
        /// The underlying error.
        #[source]
        source: io::Error,
    },
    /// TLS could not be set up: CA file, certificate verification, handshake, STARTTLS refused.
    #[error("TLS with IMAP server {server} failed: {message}")]
    Tls {
        /// `host:port`.
        server: String,
        /// What failed, with a hint where one helps.
        message: String,
    },
    /// The server refused the login.
    #[error("IMAP server {server} refused the login of user {username:?}: {message}")]
    Auth {
        /// `host:port`.
        server: String,
        /// The login name (the password is never included).
        username: String,
        /// The server's reason.
        message: String,
    },
    /// The mailbox to watch, or a folder to move mail to, cannot be selected or used.
    #[error("IMAP server {server}: mailbox {mailbox:?}: {message}")]
    Mailbox {
        /// `host:port`.
        server: String,
        /// The mailbox or folder name.
        mailbox: String,
        /// The server's reason.
        message: String,
    },
    /// The server answered a command with `NO`/`BAD`, or something this client cannot use.
    #[error("IMAP server {server}: {command} failed: {message}")]
    Protocol {
        /// `host:port`.
        server: String,
        /// The IMAP command (or step) that failed.
        command: &'static str,
        /// The server's reason or what was unexpected.
        message: String,
    },
    /// The connection broke (reset, closed by the server, …).
    #[error("IMAP connection to {server} failed: {source}")]
    Io {
        /// `host:port`.
        server: String,
        /// The underlying error.
        #[source]
        source: io::Error,
    },
    /// The server did not answer within [`ImapSettings::timeout`].
    #[error("IMAP server {server} did not respond within {after:?} ({operation})")]
    Timeout {
        /// `host:port`.
        server: String,
        /// What was being waited for.
        operation: &'static str,
        /// The bound that passed.
        after: Duration,
    },
    /// An earlier I/O error or timeout left the connection unusable; connect again.
    #[error("IMAP connection to {server} was dropped after an earlier error; reconnect")]
    Closed {
        /// `host:port`.
        server: String,
    },
}

impl Error {
    /// Whether reconnecting later may help (network trouble, timeouts, a server hiccup), as
    /// opposed to a problem an operator must fix (credentials, TLS trust, mailbox name,
    /// `security = "none"` off loopback).
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            Error::Connect { .. }
                | Error::Io { .. }
                | Error::Timeout { .. }
                | Error::Closed { .. }
                | Error::Protocol { .. }
        )
    }
}

/// The selected mailbox as reported by `SELECT`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MailboxState {
    /// `UIDVALIDITY`: when it changes, every UID remembered from before is meaningless.
    pub uid_validity: u32,
    /// `UIDNEXT` at `SELECT` time (not updated afterwards), if the server sent it.
    pub uid_next: Option<u32>,
    /// Number of messages; kept up to date from the `EXISTS`/`EXPUNGE` responses seen since.
    pub exists: u32,
}

/// One downloaded mail.
#[derive(Clone, PartialEq, Eq)]
pub struct FetchedMail {
    /// Its UID in the selected mailbox.
    pub uid: u32,
    /// `RFC822.SIZE` as reported by the server.
    pub size: Option<u32>,
    /// The complete message (headers and body) exactly as stored.
    pub raw: Vec<u8>,
}

impl fmt::Debug for FetchedMail {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FetchedMail")
            .field("uid", &self.uid)
            .field("size", &self.size)
            .field("raw", &format_args!("<{} bytes>", self.raw.len()))
            .finish()
    }
}

/// Why [`Session::idle`] returned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IdleOutcome {
    /// The server reported a change (new mail, expunge, flag change): look again.
    NewData,
    /// The timeout passed without news.
    Timeout,
    /// The `stop` future resolved (shutdown).
    Stopped,
}

/// An authenticated IMAP connection with the watched mailbox selected.
pub struct Session {
    /// `None` once the connection is unusable (see [`Error::Closed`]) or while idling.
    imap: Option<ImapSession>,
    server: String,
    mailbox: String,
    state: MailboxState,
    caps: Caps,
    timeout: Duration,
    /// `exists` as the last [`Session::candidates`] searched it (as `SELECT` reported it
    /// before any search), to notice mail reported after that search, by a later command or
    /// before the server accepted IDLE, which no IDLE would announce again.
    exists_at_search: u32,
}

type ImapSession = async_imap::Session<Wire>;

/// The capabilities this client acts on.
#[derive(Debug, Clone, Copy, Default)]
struct Caps {
    idle: bool,
    moves: bool,
    uidplus: bool,
}

impl fmt::Debug for Session {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Session")
            .field("server", &self.server)
            .field("mailbox", &self.mailbox)
            .field("state", &self.state)
            .field("caps", &self.caps)
            .field("connected", &self.imap.is_some())
            .finish()
    }
}

impl Session {
    /// Connects (TCP, then implicit TLS, STARTTLS or nothing), logs in and selects the mailbox.
    ///
    /// `security = none` is refused unless the host is loopback and resolves only to loopback
    /// addresses. Certificates are checked against the system's CAs plus those in
    /// [`ImapSettings::ca_file`].
    pub async fn connect(settings: &ImapSettings) -> Result<Session, Error> {
        let server = settings.server();
        let plain = settings.security == ImapSecurity::None;
        if plain && !is_loopback_host(&settings.host) {
            return Err(Error::Insecure {
                host: settings.host.clone(),
            });
        }
        // Read the CA file before connecting, so a bad path is reported without network noise.
        let tls = if plain {
            None
        } else {
            Some(tls_connector(settings.ca_file.as_deref(), &server)?)
        };

        let tcp = open_tcp(settings, &server, plain).await?;
        let timed = Timed::new(tcp, settings.timeout);
        let wire = match (settings.security, tls) {
            (ImapSecurity::Tls, Some(tls)) => {
                let stream = handshake(&tls, settings, &server, timed).await?;
                Wire::new(Transport::Tls(Box::new(stream)))
            }
            (ImapSecurity::StartTls, Some(tls)) => {
                let mut client = async_imap::Client::new(Wire::new(Transport::Plain(timed)));
                greeting(&mut client, settings, &server).await?;
                if let Err(error) = client.run_command_and_check_ok("STARTTLS", None).await {
                    return Err(match error {
                        ImapError::No(m) | ImapError::Bad(m) => Error::Tls {
                            server,
                            message: format!("the server refused STARTTLS: {}", tidy(&m)),
                        },
                        other => classify(&server, "STARTTLS", other, settings.timeout),
                    });
                }
                // Anything the server sent after its OK is discarded with the plain stream: no
                // plaintext can be injected into the TLS session.
                let Transport::Plain(timed) = client.into_inner().transport else {
                    unreachable!("STARTTLS runs on the plain transport");
                };
                let stream = handshake(&tls, settings, &server, timed).await?;
                Wire::new(Transport::Tls(Box::new(stream)))
            }
            _ => Wire::new(Transport::Plain(timed)),
        };

        let mut client = async_imap::Client::new(wire);
        if settings.security != ImapSecurity::StartTls {
            greeting(&mut client, settings, &server).await?;
        }
        let mut imap = login(client, settings, &server).await?;

        let caps = match imap.capabilities().await {
            Ok(caps) => Caps::from(&caps),
            Err(error) => return Err(classify(&server, "CAPABILITY", error, settings.timeout)),
        };
        let selected = match imap.select(&settings.mailbox).await {
            Ok(mailbox) => mailbox,
            // e.g. no such mailbox
            Err(ImapError::No(m) | ImapError::Bad(m)) => {
                return Err(Error::Mailbox {
                    server,
                    mailbox: settings.mailbox.clone(),
                    message: tidy(&m),
                });
            }
            Err(ImapError::Validate(_)) => {
                return Err(Error::Mailbox {
                    server,
                    mailbox: settings.mailbox.clone(),
                    message: "the name contains a line break".to_owned(),
                });
            }
            Err(error) => return Err(classify(&server, "SELECT", error, settings.timeout)),
        };
        let Some(uid_validity) = selected.uid_validity else {
            return Err(Error::Protocol {
                server,
                command: "SELECT",
                message: "the server sent no UIDVALIDITY".to_owned(),
            });
        };
        let state = MailboxState {
            uid_validity,
            uid_next: selected.uid_next,
            exists: selected.exists,
        };
        debug!(
            server = %server,
            username = %settings.username,
            mailbox = %settings.mailbox,
            uid_validity,
            exists = state.exists,
            idle = caps.idle,
            "IMAP mailbox selected."
        );
        let mut session = Session {
            imap: Some(imap),
            server,
            mailbox: settings.mailbox.clone(),
            state,
            caps,
            timeout: settings.timeout,
            exists_at_search: state.exists,
        };
        session.absorb_unsolicited();
        Ok(session)
    }

    /// The selected mailbox: UIDVALIDITY, UIDNEXT at selection, current message count.
    pub fn mailbox(&self) -> &MailboxState {
        &self.state
    }

    /// Whether the server advertises IDLE (else [`Session::idle`] fails; poll instead).
    pub fn supports_idle(&self) -> bool {
        self.caps.idle
    }

    /// Whether the server reported more messages than the last [`Session::candidates`] saw:
    /// mail delivered after that search, announced during a later command, which an IDLE
    /// started now would not announce again.
    pub fn has_news(&mut self) -> bool {
        self.absorb_unsolicited();
        self.state.exists > self.exists_at_search
    }

    /// UIDs to look at, ascending and without duplicates: every unseen mail (`UID SEARCH
    /// UNSEEN`) plus every mail with a UID above `after_uid`, read or not, so that a
    /// notification someone else already opened is still seen. `None` means unseen mail only.
    pub async fn candidates(&mut self, after_uid: Option<u32>) -> Result<Vec<u32>, Error> {
        let imap = self.live()?;
        // A server may keep mail delivered since the last command out of this session's view
        // (Dovecot does) until a command lets it report it; NOOP is that command.
        if let Err(error) = imap.noop().await {
            return Err(self.fail("NOOP", error));
        }
        // The searches see the mailbox as of now. Mail reported during or after them (Dovecot
        // answers `* SEARCH` first, then `* n EXISTS` for mail delivered meanwhile) is news.
        self.absorb_unsolicited();
        let exists_before = self.state.exists;
        let imap = self.live()?;
        let unseen = match imap.uid_search("UNSEEN").await {
            Ok(uids) => uids,
            Err(error) => return Err(self.fail("UID SEARCH", error)),
        };
        let mut uids: Vec<u32> = unseen.into_iter().collect();
        if let Some(after) = after_uid.and_then(|uid| uid.checked_add(1)) {
            let imap = self.live()?;
            // `n:*` also matches the highest UID when that is below n (RFC 3501 6.4.8), hence
            // the filter; and a separate search so that filter cannot drop an unseen mail.
            match imap.uid_search(format!("UID {after}:*")).await {
                Ok(newer) => uids.extend(newer.into_iter().filter(|&uid| uid >= after)),
                Err(error) => return Err(self.fail("UID SEARCH", error)),
            }
        }
        uids.sort_unstable();
        uids.dedup();
        self.exists_at_search = exists_before;
        Ok(uids)
    }

    /// `RFC822.SIZE` of these UIDs as `(uid, bytes)`, ascending by UID, so oversized mail can be
    /// skipped without downloading it. UIDs that no longer exist are left out.
    pub async fn sizes(&mut self, uids: &[u32]) -> Result<Vec<(u32, u32)>, Error> {
        let mut wanted = uids.to_vec();
        wanted.sort_unstable();
        wanted.dedup();
        let mut sizes = Vec::with_capacity(wanted.len());
        for chunk in wanted.chunks(UIDS_PER_COMMAND) {
            let fetches = self.uid_fetch(&uid_set(chunk), "(UID RFC822.SIZE)").await?;
            sizes.extend(fetches.iter().filter_map(|fetch| {
                let uid = fetch.uid?;
                let size = fetch.size?;
                chunk.binary_search(&uid).is_ok().then_some((uid, size))
            }));
        }
        sizes.sort_unstable();
        sizes.dedup_by_key(|(uid, _)| *uid);
        Ok(sizes)
    }

    /// `UID FETCH <set> <query>`, every answer collected; unsolicited responses absorbed.
    async fn uid_fetch(&mut self, set: &str, query: &str) -> Result<Vec<Fetch>, Error> {
        let imap = self.live()?;
        let fetched = async {
            imap.uid_fetch(set, query)
                .await?
                .try_collect::<Vec<Fetch>>()
                .await
        }
        .await;
        match fetched {
            Ok(fetches) => {
                self.absorb_unsolicited();
                Ok(fetches)
            }
            Err(error) => Err(self.fail("UID FETCH", error)),
        }
    }

    /// Downloads one mail with `BODY.PEEK[]`, which leaves its `\Seen` flag alone. `None` if
    /// the UID no longer exists (moved or expunged meanwhile).
    pub async fn fetch(&mut self, uid: u32) -> Result<Option<FetchedMail>, Error> {
        let fetches = self
            .uid_fetch(&uid.to_string(), "(UID RFC822.SIZE BODY.PEEK[])")
            .await?;
        Ok(fetches
            .iter()
            .filter(|fetch| fetch.uid == Some(uid))
            .find_map(|fetch| {
                fetch.body().map(|body| FetchedMail {
                    uid,
                    size: fetch.size,
                    raw: body.to_vec(),
                })
            }))
    }

    /// Sets `\Seen` on one mail (`UID STORE +FLAGS.SILENT`). A vanished UID is not an error.
    pub async fn mark_seen(&mut self, uid: u32) -> Result<(), Error> {
        self.store(uid, "+FLAGS.SILENT (\\Seen)").await
    }

    /// Whether one mail has `\Seen`; `false` also when the UID no longer exists.
    pub async fn is_seen(&mut self, uid: u32) -> Result<bool, Error> {
        let fetches = self.uid_fetch(&uid.to_string(), "(UID FLAGS)").await?;
        Ok(fetches
            .iter()
            .filter(|fetch| fetch.uid == Some(uid))
            .any(|fetch| fetch.flags().any(|flag| flag == Flag::Seen)))
    }

    /// Moves one mail to `folder`, creating the folder first if the server refuses because it
    /// does not exist. Uses `UID MOVE` where supported, else `UID COPY`, `\Deleted` and
    /// `UID EXPUNGE` (or, without UIDPLUS, a plain `EXPUNGE`, which also removes other mail
    /// already marked `\Deleted` in the watched mailbox).
    pub async fn move_to(&mut self, uid: u32, folder: &str) -> Result<(), Error> {
        let uid_text = uid.to_string();
        let moves = self.caps.moves;
        let command = if moves { "UID MOVE" } else { "UID COPY" };
        let mut created = false;
        loop {
            let imap = self.live()?;
            let result = if moves {
                imap.uid_mv(&uid_text, folder).await
            } else {
                imap.uid_copy(&uid_text, folder).await
            };
            match result {
                Ok(()) => break,
                Err(ImapError::No(m) | ImapError::Bad(m)) if created => {
                    return Err(Error::Mailbox {
                        server: self.server.clone(),
                        mailbox: folder.to_owned(),
                        message: tidy(&m),
                    });
                }
                Err(ImapError::No(_)) => {
                    // Usually `[TRYCREATE]`: the folder does not exist yet. If creating fails
                    // because it does exist after all, the second attempt reports the reason.
                    let imap = self.live()?;
                    match imap.create(folder).await {
                        Ok(()) => debug!(server = %self.server, folder, "IMAP folder created."),
                        Err(ImapError::No(_) | ImapError::Bad(_)) => {}
                        Err(error) => return Err(self.fail("CREATE", error)),
                    }
                    created = true;
                }
                Err(ImapError::Validate(_)) => {
                    return Err(Error::Mailbox {
                        server: self.server.clone(),
                        mailbox: folder.to_owned(),
                        message: "the name contains a line break".to_owned(),
                    });
                }
                Err(error) => return Err(self.fail(command, error)),
            }
        }
        if !moves {
            self.store(uid, "+FLAGS.SILENT (\\Deleted)").await?;
            let uidplus = self.caps.uidplus;
            let imap = self.live()?;
            let expunged = async {
                if uidplus {
                    imap.uid_expunge(&uid_text)
                        .await?
                        .try_collect::<Vec<u32>>()
                        .await
                } else {
                    imap.expunge().await?.try_collect::<Vec<u32>>().await
                }
            }
            .await;
            if let Err(error) = expunged {
                return Err(self.fail(if uidplus { "UID EXPUNGE" } else { "EXPUNGE" }, error));
            }
        }
        self.absorb_unsolicited();
        Ok(())
    }

    /// Waits with IDLE until the server reports a change, `timeout` passes (at most
    /// [`MAX_IDLE`]) or `stop` resolves, then ends IDLE (`DONE`) so the session can be used
    /// again. Fails if the server lacks IDLE ([`Session::supports_idle`]).
    ///
    /// Dropping the returned future mid-IDLE leaves the connection idling: the session then
    /// answers [`Error::Closed`]. Pass a `stop` future instead to end early and cleanly.
    pub async fn idle(
        &mut self,
        timeout: Duration,
        stop: impl Future<Output = ()>,
    ) -> Result<IdleOutcome, Error> {
        if !self.caps.idle {
            return Err(Error::Protocol {
                server: self.server.clone(),
                command: "IDLE",
                message: "the server does not support IDLE; poll instead".to_owned(),
            });
        }
        let timeout = timeout.min(MAX_IDLE);
        self.live()?;
        let Some(imap) = self.imap.take() else {
            unreachable!("live() checked the connection");
        };
        // The handle owns the session; a second receiver reads what it queues aside.
        let unsolicited = imap.unsolicited_responses.clone();
        let mut handle = imap.idle();
        if let Err(error) = handle.init().await {
            return Err(classify(&self.server, "IDLE", error, self.timeout));
        }
        // News reported before the server accepted IDLE went to the unsolicited channel and
        // will not be announced again: end this IDLE at once.
        absorb(&mut self.state, || unsolicited.try_recv().ok());
        let reported = self.state.exists > self.exists_at_search;
        // Waiting for news is the point now; writes stay bounded.
        handle.as_mut().set_read_limit(None);

        let (outcome, news) = if reported {
            (IdleOutcome::NewData, None)
        } else {
            let (wait, interrupt) = handle.wait_with_timeout(timeout);
            tokio::pin!(wait);
            tokio::pin!(stop);
            let deadline = tokio::time::sleep(timeout);
            tokio::pin!(deadline);
            enum Woke {
                Wait(async_imap::error::Result<IdleResponse>),
                Stop,
                Deadline,
            }
            let woke = tokio::select! {
                response = &mut wait => Woke::Wait(response),
                () = &mut stop => Woke::Stop,
                () = &mut deadline => Woke::Deadline,
            };
            // Dropping the stop handle interrupts the wait, which then returns at once.
            let (reason, response) = match woke {
                Woke::Wait(response) => (None, response),
                Woke::Stop => {
                    drop(interrupt);
                    (Some(IdleOutcome::Stopped), wait.await)
                }
                Woke::Deadline => {
                    drop(interrupt);
                    (Some(IdleOutcome::Timeout), wait.await)
                }
            };
            match (reason, response) {
                (_, Err(error)) => return Err(classify(&self.server, "IDLE", error, self.timeout)),
                (Some(IdleOutcome::Stopped), Ok(_)) => (IdleOutcome::Stopped, None),
                (_, Ok(IdleResponse::NewData(data))) => (IdleOutcome::NewData, Some(data)),
                (Some(reason), Ok(_)) => (reason, None),
                (None, Ok(IdleResponse::Timeout)) => (IdleOutcome::Timeout, None),
                (None, Ok(IdleResponse::ManualInterrupt)) => (IdleOutcome::Stopped, None),
            }
        };
        if let Some(data) = &news {
            match data.parsed() {
                Response::Data {
                    status: Status::Bye,
                    outcome,
                } => {
                    return Err(Error::Io {
                        server: self.server.clone(),
                        source: io::Error::new(
                            io::ErrorKind::ConnectionAborted,
                            format!(
                                "the server ended the session during IDLE: {}",
                                outcome.information.as_deref().unwrap_or("BYE")
                            ),
                        ),
                    });
                }
                Response::MailboxData(MailboxDatum::Exists(n)) => self.state.exists = *n,
                Response::Expunge(_) => self.state.exists = self.state.exists.saturating_sub(1),
                _ => {}
            }
        }

        handle.as_mut().set_read_limit(Some(self.timeout));
        match handle.done().await {
            Ok(imap) => self.imap = Some(imap),
            Err(error) => return Err(classify(&self.server, "DONE", error, self.timeout)),
        }
        self.absorb_unsolicited();
        debug!(server = %self.server, outcome = ?outcome, "IMAP IDLE ended.");
        Ok(outcome)
    }

    /// Says goodbye (`LOGOUT`) and closes the connection. A session already dropped after an
    /// error just closes.
    pub async fn logout(mut self) -> Result<(), Error> {
        let Some(imap) = self.imap.as_mut() else {
            return Ok(());
        };
        imap.as_mut().reset_timers();
        match imap.logout().await {
            Ok(()) => Ok(()),
            Err(error) => Err(self.fail("LOGOUT", error)),
        }
    }

    /// `UID STORE <uid> <query>`, its (usually empty) responses consumed.
    async fn store(&mut self, uid: u32, query: &str) -> Result<(), Error> {
        let imap = self.live()?;
        let stored = async {
            imap.uid_store(uid.to_string(), query)
                .await?
                .try_collect::<Vec<Fetch>>()
                .await
        }
        .await;
        if let Err(error) = stored {
            return Err(self.fail("UID STORE", error));
        }
        self.absorb_unsolicited();
        Ok(())
    }

    /// The connection, its timers re-armed for a new operation, or [`Error::Closed`].
    fn live(&mut self) -> Result<&mut ImapSession, Error> {
        match self.imap.as_mut() {
            Some(imap) => {
                imap.as_mut().reset_timers();
                Ok(imap)
            }
            None => Err(Error::Closed {
                server: self.server.clone(),
            }),
        }
    }

    /// Turns an async-imap error into ours; anything but a plain `NO`/`BAD` answer drops the
    /// connection, whose response stream is then in an unknown state.
    fn fail(&mut self, command: &'static str, error: ImapError) -> Error {
        if !matches!(
            error,
            ImapError::No(_) | ImapError::Bad(_) | ImapError::Validate(_)
        ) {
            self.imap = None;
        }
        classify(&self.server, command, error, self.timeout)
    }

    /// Applies the `EXISTS`/`EXPUNGE` responses async-imap queued aside (it only `try_send`s
    /// to a bounded channel, so draining also keeps news from being lost to a full channel).
    fn absorb_unsolicited(&mut self) {
        if let Some(imap) = self.imap.as_ref() {
            absorb(&mut self.state, || {
                imap.unsolicited_responses.try_recv().ok()
            });
        }
    }
}

/// Applies queued `EXISTS`/`EXPUNGE` responses to the mailbox counts.
fn absorb(state: &mut MailboxState, mut next: impl FnMut() -> Option<UnsolicitedResponse>) {
    while let Some(response) = next() {
        match response {
            UnsolicitedResponse::Exists(n) => state.exists = n,
            UnsolicitedResponse::Expunge(_) => state.exists = state.exists.saturating_sub(1),
            _ => {}
        }
    }
}

impl From<&Capabilities> for Caps {
    fn from(caps: &Capabilities) -> Self {
        let has = |name: &str| {
            caps.iter()
                .any(|cap| matches!(cap, Capability::Atom(atom) if atom.eq_ignore_ascii_case(name)))
        };
        Caps {
            idle: has("IDLE"),
            moves: has("MOVE"),
            uidplus: has("UIDPLUS"),
        }
    }
}

/// Resolves the host and connects to the first address that answers, both within the timeout.
/// For `security = none` every resolved address must be loopback.
async fn open_tcp(
    settings: &ImapSettings,
    server: &str,
    loopback_only: bool,
) -> Result<TcpStream, Error> {
    let host = bare_host(&settings.host);
    let connect_error = |source: io::Error| Error::Connect {
        server: server.to_owned(),
        source,
    };
    let timed_out = |operation| Error::Timeout {
        server: server.to_owned(),
        operation,
        after: settings.timeout,
    };
    let addrs: Vec<SocketAddr> = tokio::time::timeout(
        settings.timeout,
        tokio::net::lookup_host((host, settings.port)),
    )
    .await
    .map_err(|_| timed_out("DNS lookup"))?
    .map_err(connect_error)?
    .collect();
    if loopback_only && let Some(addr) = addrs.iter().find(|addr| !is_loopback_ip(addr.ip())) {
        return Err(Error::Insecure {
            host: format!("{} (resolved to {})", settings.host, addr.ip()),
        });
    }
    let connect = async {
        let mut last = io::Error::new(io::ErrorKind::NotFound, "the host name has no address");
        for addr in &addrs {
            match TcpStream::connect(addr).await {
                Ok(stream) => return Ok(stream),
                Err(error) => last = error,
            }
        }
        Err(last)
    };
    let tcp = tokio::time::timeout(settings.timeout, connect)
        .await
        .map_err(|_| timed_out("TCP connect"))?
        .map_err(connect_error)?;
    // Commands are small and answered one at a time: do not let Nagle delay them.
    let _ = tcp.set_nodelay(true);
    Ok(tcp)
}

/// A TLS client trusting the platform's CAs plus those in `ca_file`.
fn tls_connector(ca_file: Option<&Path>, server: &str) -> Result<TlsConnector, Error> {
    let tls_error = |message: String| Error::Tls {
        server: server.to_owned(),
        message,
    };
    let mut extra_roots: Vec<CertificateDer<'static>> = Vec::new();
    if let Some(path) = ca_file {
        let certs = CertificateDer::pem_file_iter(path)
            .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
            .map_err(|error| {
                tls_error(format!("cannot read CA file {}: {error}", path.display()))
            })?;
        if certs.is_empty() {
            return Err(tls_error(format!(
                "CA file {} contains no PEM certificate",
                path.display()
            )));
        }
        extra_roots = certs;
    }
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let verifier =
        rustls_platform_verifier::Verifier::new_with_extra_roots(extra_roots, provider.clone())
            .map_err(|error| tls_error(format!("cannot set up certificate checks: {error}")))?;
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|error| tls_error(error.to_string()))?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(verifier))
        .with_no_client_auth();
    Ok(TlsConnector::from(Arc::new(config)))
}

/// The TLS handshake over the (timed) TCP stream, with errors an operator can act on.
async fn handshake(
    tls: &TlsConnector,
    settings: &ImapSettings,
    server: &str,
    timed: Timed,
) -> Result<TlsStream<Timed>, Error> {
    let tls_error = |message: String| Error::Tls {
        server: server.to_owned(),
        message,
    };
    let name = ServerName::try_from(bare_host(&settings.host).to_owned()).map_err(|_| {
        tls_error(format!(
            "{:?} is not a valid TLS server name",
            settings.host
        ))
    })?;
    match tls.connect(name, timed).await {
        Ok(stream) => Ok(stream),
        Err(error) if error.kind() == io::ErrorKind::TimedOut => Err(Error::Timeout {
            server: server.to_owned(),
            operation: "TLS handshake",
            after: settings.timeout,
        }),
        Err(error) => {
            let Some(tls) = error
                .get_ref()
                .and_then(|inner| inner.downcast_ref::<rustls::Error>())
            else {
                return Err(tls_error(format!("handshake failed: {error}")));
            };
            let hint = match tls {
                rustls::Error::InvalidCertificate(rustls::CertificateError::UnknownIssuer) => {
                    match &settings.ca_file {
                        None => {
                            " (a private CA? name its PEM file in the CA file setting)".to_owned()
                        }
                        Some(path) => format!(
                            " (neither a system CA nor one in {} signed it)",
                            path.display()
                        ),
                    }
                }
                rustls::Error::InvalidMessage(_) if settings.security == ImapSecurity::Tls => {
                    format!(
                        " (is port {} plain IMAP? use security = \"starttls\" there)",
                        settings.port
                    )
                }
                _ => String::new(),
            };
            Err(tls_error(format!("{tls}{hint}")))
        }
    }
}

/// Reads the server greeting, which must be `* OK`.
async fn greeting(
    client: &mut async_imap::Client<Wire>,
    settings: &ImapSettings,
    server: &str,
) -> Result<(), Error> {
    let response = match client.read_response().await {
        Ok(Some(response)) => response,
        Ok(None) => {
            return Err(Error::Io {
                server: server.to_owned(),
                source: io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "the server closed the connection before its greeting",
                ),
            });
        }
        Err(error) => {
            return Err(classify(
                server,
                "greeting",
                ImapError::Io(error),
                settings.timeout,
            ));
        }
    };
    let protocol = |message: String| Error::Protocol {
        server: server.to_owned(),
        command: "greeting",
        message,
    };
    match response.parsed() {
        Response::Data {
            status: Status::Ok, ..
        } => Ok(()),
        Response::Data {
            status: Status::Bye,
            outcome,
        } => Err(protocol(format!(
            "the server refused the connection: {}",
            outcome.information.as_deref().unwrap_or("BYE")
        ))),
        Response::Data {
            status: Status::PreAuth,
            ..
        } => Err(protocol(
            "the server pre-authenticated the connection; this client only logs in".to_owned(),
        )),
        other => Err(protocol(format!("unexpected greeting {other:?}"))),
    }
}

/// `LOGIN` with the password swapped in below async-imap (see the module docs).
async fn login(
    mut client: async_imap::Client<Wire>,
    settings: &ImapSettings,
    server: &str,
) -> Result<ImapSession, Error> {
    let auth_error = |message: &str| Error::Auth {
        server: server.to_owned(),
        username: settings.username.clone(),
        message: message.to_owned(),
    };
    if settings.password.contains(['\r', '\n', '\0']) {
        return Err(auth_error(
            "the password contains a line break or NUL, which IMAP LOGIN cannot send",
        ));
    }
    let placeholder = format!("jira-mirror-password-{:032x}", rand::random::<u128>());
    client.get_mut().rewrite = Some(LoginRewrite::new(&placeholder, &settings.password));
    let result = client.login(&settings.username, &placeholder).await;
    match result {
        Ok(mut imap) => {
            imap.as_mut().rewrite = None;
            debug!(server, username = %settings.username, "IMAP login accepted.");
            Ok(imap)
        }
        Err((error, mut client)) => {
            client.get_mut().rewrite = None;
            Err(match error {
                ImapError::No(m) | ImapError::Bad(m) => auth_error(&tidy(&m)),
                ImapError::Validate(_) => auth_error("the user name contains a line break"),
                other => classify(server, "LOGIN", other, settings.timeout),
            })
        }
    }
}

/// Maps an async-imap error to ours (without dropping anything: see [`Session::fail`]).
fn classify(server: &str, command: &'static str, error: ImapError, timeout: Duration) -> Error {
    let server = server.to_owned();
    match error {
        ImapError::Io(source) if source.kind() == io::ErrorKind::TimedOut => Error::Timeout {
            server,
            operation: command,
            after: timeout,
        },
        ImapError::Io(source) => Error::Io { server, source },
        ImapError::ConnectionLost => Error::Io {
            server,
            source: io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "the server closed the connection",
            ),
        },
        ImapError::No(m) | ImapError::Bad(m) => Error::Protocol {
            server,
            command,
            message: tidy(&m),
        },
        other => Error::Protocol {
            server,
            command,
            message: other.to_string(),
        },
    }
}

/// async-imap renders a `NO`/`BAD` answer as `code: Some(…), info: Some("…")` (or, for
/// `SELECT`, `outcome: Outcome { code: …, information: Some("…") }`); this turns it back into
/// what the server said, e.g. `[AUTHENTICATIONFAILED] Authentication failed.`.
fn tidy(message: &str) -> String {
    let text = ["info: Some(\"", "information: Some(\""]
        .iter()
        .find_map(|marker| {
            let start = message.find(marker)? + marker.len();
            let rest = &message[start..];
            Some(&rest[..rest.rfind("\")")?])
        })
        .map(|text| text.replace("\\\"", "\"").replace("\\\\", "\\"));
    let code = message
        .find("code: Some(")
        .map(|start| &message[start + "code: Some(".len()..])
        .and_then(|rest| rest.split([',', '(', ')', ' ']).next())
        .filter(|code| !code.is_empty());
    let code = match code {
        // `Other("AUTHENTICATIONFAILED", None)`: the atom is the interesting part.
        Some("Other") => message
            .split('"')
            .nth(1)
            .filter(|atom| atom.chars().all(|c| c.is_ascii_alphanumeric() || c == '-'))
            .map(str::to_owned),
        Some(code) => Some(code.to_ascii_uppercase()),
        None => None,
    };
    match (code, text) {
        (Some(code), Some(text)) => format!("[{code}] {text}"),
        (None, Some(text)) => text,
        _ => message.to_owned(),
    }
}

/// `1:3,7,9:10` from ascending UIDs.
fn uid_set(uids: &[u32]) -> String {
    let mut set = String::new();
    let mut i = 0;
    while i < uids.len() {
        let start = uids[i];
        let mut end = start;
        while i + 1 < uids.len() && uids[i + 1] == end + 1 {
            i += 1;
            end = uids[i];
        }
        if !set.is_empty() {
            set.push(',');
        }
        if start == end {
            set.push_str(&start.to_string());
        } else {
            set.push_str(&format!("{start}:{end}"));
        }
        i += 1;
    }
    set
}

fn server_label(host: &str, port: u16) -> String {
    if host.contains(':') && !host.starts_with('[') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    }
}

/// The host without IPv6 brackets or a trailing dot.
fn bare_host(host: &str) -> &str {
    let host = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    host.strip_suffix('.').unwrap_or(host)
}

/// `localhost`, or an address in 127.0.0.0/8 or `::1` (same rule as the config layer).
fn is_loopback_host(host: &str) -> bool {
    let host = bare_host(host);
    host.eq_ignore_ascii_case("localhost") || host.parse::<IpAddr>().is_ok_and(is_loopback_ip)
}

fn is_loopback_ip(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => v4.is_loopback(),
        IpAddr::V6(v6) => {
            v6.is_loopback() || v6.to_ipv4_mapped().is_some_and(|v4| v4.is_loopback())
        }
    }
}

/// The stream async-imap talks through: plain or TLS, plus the one-shot password rewrite.
struct Wire {
    transport: Transport,
    rewrite: Option<LoginRewrite>,
}

enum Transport {
    Plain(Timed),
    Tls(Box<TlsStream<Timed>>),
}

impl Wire {
    fn new(transport: Transport) -> Self {
        Wire {
            transport,
            rewrite: None,
        }
    }

    fn timed(&mut self) -> &mut Timed {
        match &mut self.transport {
            Transport::Plain(timed) => timed,
            Transport::Tls(tls) => tls.get_mut().0,
        }
    }

    /// Forgets timers left armed by an operation that was abandoned mid-wait.
    fn reset_timers(&mut self) {
        self.timed().reset();
    }

    /// `None` lifts the read bound (IDLE); writes stay bounded by the session timeout.
    fn set_read_limit(&mut self, limit: Option<Duration>) {
        let timed = self.timed();
        timed.read_limit = limit;
        timed.reset();
    }

    fn poll_write_transport(
        &mut self,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match &mut self.transport {
            Transport::Plain(timed) => Pin::new(timed).poll_write(cx, buf),
            Transport::Tls(tls) => Pin::new(tls.as_mut()).poll_write(cx, buf),
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
        match &mut self.get_mut().transport {
            Transport::Plain(timed) => Pin::new(timed).poll_read(cx, buf),
            Transport::Tls(tls) => Pin::new(tls.as_mut()).poll_read(cx, buf),
        }
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
                match this.poll_write_transport(cx, &pending.bytes[pending.written..]) {
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
        this.poll_write_transport(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match &mut self.get_mut().transport {
            Transport::Plain(timed) => Pin::new(timed).poll_flush(cx),
            Transport::Tls(tls) => Pin::new(tls.as_mut()).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match &mut self.get_mut().transport {
            Transport::Plain(timed) => Pin::new(timed).poll_shutdown(cx),
            Transport::Tls(tls) => Pin::new(tls.as_mut()).poll_shutdown(cx),
        }
    }
}

/// Replaces the quoted placeholder in the one write that carries `LOGIN` by the quoted
/// password.
struct LoginRewrite {
    /// `"placeholder"` as async-imap quotes it.
    needle: Vec<u8>,
    /// The password as an IMAP quoted string.
    quoted: Vec<u8>,
    pending: Option<PendingWrite>,
}

struct PendingWrite {
    bytes: Vec<u8>,
    written: usize,
    consumed: usize,
}

impl LoginRewrite {
    fn new(placeholder: &str, password: &str) -> Self {
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

    fn prepare(&mut self, buf: &[u8]) {
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
struct Timed {
    tcp: TcpStream,
    read_limit: Option<Duration>,
    write_limit: Duration,
    read_timer: Option<Pin<Box<Sleep>>>,
    write_timer: Option<Pin<Box<Sleep>>>,
}

impl Timed {
    fn new(tcp: TcpStream, limit: Duration) -> Self {
        Timed {
            tcp,
            read_limit: Some(limit),
            write_limit: limit,
            read_timer: None,
            write_timer: None,
        }
    }

    fn reset(&mut self) {
        self.read_timer = None;
        self.write_timer = None;
    }
}

/// Called when the inner stream is not ready: arms the timer on the first wait and fails once
/// it fires. Progress disarms it (see the callers).
fn bounded_wait<T>(
    timer: &mut Option<Pin<Box<Sleep>>>,
    limit: Option<Duration>,
    cx: &mut Context<'_>,
) -> Poll<io::Result<T>> {
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
        match Pin::new(&mut this.tcp).poll_read(cx, buf) {
            Poll::Ready(result) => {
                this.read_timer = None;
                Poll::Ready(result)
            }
            Poll::Pending => bounded_wait(&mut this.read_timer, this.read_limit, cx),
        }
    }
}

impl AsyncWrite for Timed {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        match Pin::new(&mut this.tcp).poll_write(cx, buf) {
            Poll::Ready(result) => {
                this.write_timer = None;
                Poll::Ready(result)
            }
            Poll::Pending => bounded_wait(&mut this.write_timer, Some(this.write_limit), cx),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        match Pin::new(&mut this.tcp).poll_flush(cx) {
            Poll::Ready(result) => {
                this.write_timer = None;
                Poll::Ready(result)
            }
            Poll::Pending => bounded_wait(&mut this.write_timer, Some(this.write_limit), cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        match Pin::new(&mut this.tcp).poll_shutdown(cx) {
            Poll::Ready(result) => {
                this.write_timer = None;
                Poll::Ready(result)
            }
            Poll::Pending => bounded_wait(&mut this.write_timer, Some(this.write_limit), cx),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uid_sets_collapse_runs() {
        assert_eq!(uid_set(&[1]), "1");
        assert_eq!(uid_set(&[1, 2, 3, 5, 7, 8, 10]), "1:3,5,7:8,10");
        assert_eq!(uid_set(&[]), "");
        assert_eq!(uid_set(&[u32::MAX - 1, u32::MAX]), "4294967294:4294967295");
    }

    #[test]
    fn server_answers_are_tidied() {
        assert_eq!(
            tidy(
                r#"code: Some(Other("AUTHENTICATIONFAILED", None)), info: Some("Authentication failed.")"#
            ),
            "[AUTHENTICATIONFAILED] Authentication failed."
        );
        assert_eq!(
            tidy(r#"code: Some(TryCreate), info: Some("Mailbox doesn't exist: \"Done\"")"#),
            r#"[TRYCREATE] Mailbox doesn't exist: "Done""#
        );
        assert_eq!(
            tidy(r#"code: None, info: Some("Mailbox doesn't exist: X")"#),
            "Mailbox doesn't exist: X"
        );
        assert_eq!(
            tidy(
                r#"outcome: Outcome { code: None, information: Some("Mailbox doesn't exist: J") }"#
            ),
            "Mailbox doesn't exist: J"
        );
        assert_eq!(tidy("something else"), "something else");
    }

    #[test]
    fn loopback_hosts() {
        for host in [
            "localhost",
            "LOCALHOST.",
            "127.0.0.1",
            "127.3.4.5",
            "::1",
            "[::1]",
        ] {
            assert!(is_loopback_host(host), "{host}");
        }
        for host in [
            "imap.example.org",
            "192.0.2.1",
            "::ffff:192.0.2.1",
            "localhost.evil",
        ] {
            assert!(!is_loopback_host(host), "{host}");
        }
        assert_eq!(server_label("::1", 143), "[::1]:143");
        assert_eq!(
            server_label("imap.example.org", 993),
            "imap.example.org:993"
        );
    }

    #[test]
    fn login_rewrite_swaps_the_quoted_placeholder() {
        let mut rewrite = LoginRewrite::new("ph-123", r#"p"w\d"#);
        rewrite.prepare(br#"LOGIN "user" "ph-123""#);
        let pending = rewrite.pending.expect("placeholder found");
        assert_eq!(pending.bytes, br#"LOGIN "user" "p\"w\\d""#);
        assert_eq!(pending.consumed, br#"LOGIN "user" "ph-123""#.len());

        let mut untouched = LoginRewrite::new("ph-123", "pw");
        untouched.prepare(b"a1 ");
        assert!(untouched.pending.is_none());
    }

    #[test]
    fn settings_debug_hides_the_password() {
        let settings = ImapSettings {
            host: "imap.example.org".into(),
            port: 993,
            security: ImapSecurity::Tls,
            username: "jira".into(),
            password: "hunter2-secret".into(),
            mailbox: "INBOX".into(),
            ca_file: None,
            timeout: Duration::from_secs(30),
        };
        let debug = format!("{settings:?}");
        assert!(!debug.contains("hunter2"), "{debug}");
        assert!(debug.contains("***"), "{debug}");
    }
}
