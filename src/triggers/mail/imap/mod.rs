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
//!
//! `connect.rs` opens the connection (TCP, TLS, greeting, login), `wire.rs` is the stream
//! under async-imap (timeouts, the password swap), `session.rs` the commands the trigger sends.

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
pub(crate) const MAX_IDLE: Duration = Duration::from_secs(29 * 60);

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

mod connect;
mod session;
mod wire;

use connect::*;
pub use session::Session;
use session::*;
use wire::*;

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
