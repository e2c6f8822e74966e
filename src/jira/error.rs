//! Errors of the Jira client. Their messages name the request path and the cause, never a
//! credential: the `Authorization` header is the only place a token travels.

/// A failed Jira request, after whatever retries its kind allows.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// 401/403 on an account-level request (`/myself`, search, `/field`), or on any request
    /// while `/myself` is refused too: the credentials are wrong or revoked. Fatal: retrying
    /// would only hammer Jira.
    #[error("Jira refused the credentials of {account} (HTTP {status} on {path}): check {check}")]
    Auth {
        /// The account (email) that was refused; never the token.
        account: String,
        /// 401 or 403.
        status: u16,
        /// The request path.
        path: String,
        /// What the operator should check (depends on the kind of credentials).
        check: &'static str,
    },
    /// 401/403 on one issue's resource (an issue, an attachment's content, its remote links,
    /// changelog, comments or SLA) while the account itself is fine (`/myself` answers):
    /// that item is refused, nothing else. Not fatal, not worth retrying soon.
    #[error("Jira refused {account} access to {path} (HTTP {status}): {message}")]
    Forbidden {
        /// The account (email) that was refused; never the token.
        account: String,
        /// 401 or 403.
        status: u16,
        /// The request path.
        path: String,
        /// Jira's `errorMessages`, or the start of the body.
        message: String,
    },
    /// A 2xx answer whose body is not usable JSON, the same way twice (e.g. text with a lone
    /// UTF-16 surrogate escape): a property of the data, not a passing fault, so it is not
    /// retried further.
    #[error("unreadable JSON from {path}: {message}")]
    Body {
        /// The request path.
        path: String,
        /// The parser's message.
        message: String,
    },
    /// 404: the issue (or resource) does not exist or is not visible.
    #[error("not found: {path}")]
    NotFound {
        /// The request path.
        path: String,
    },
    /// A non-retryable HTTP status (most 4xx).
    #[error("HTTP {status} on {path}: {message}")]
    Status {
        /// The HTTP status.
        status: u16,
        /// The request path.
        path: String,
        /// Jira's `errorMessages`, or the start of the body.
        message: String,
    },
    /// Transient failures went on until the retry budget ran out.
    #[error("gave up on {path} after {attempts} attempts; last error: {last}")]
    Exhausted {
        /// The request path.
        path: String,
        /// How many attempts were made.
        attempts: u32,
        /// What the last attempt saw.
        last: String,
    },
    /// The response was not what the API documents (after retries for garbled bodies).
    #[error("unexpected response from {path}: {message}")]
    Protocol {
        /// The request path.
        path: String,
        /// What was wrong.
        message: String,
    },
    /// An attachment is larger than `attachments.max_bytes`.
    #[error("attachment {id} is larger than max_bytes ({limit} bytes)")]
    TooLarge {
        /// The attachment id.
        id: String,
        /// The configured limit.
        limit: u64,
    },
    /// An attachment download did not finish within its deadline (the request timeout plus
    /// its size at the minimum rate, see `budget::download_deadline`), on every attempt the
    /// retry policy allowed: the media host stalls or trickles this file. A failure of that
    /// attachment only.
    #[error(
        "attachment {id} was not downloaded within its deadline of {deadline_secs:.1} s (request timeout plus its size at {rate} KiB/s) in {attempts} attempts",
        rate = super::budget::MIN_DOWNLOAD_RATE / 1024
    )]
    DownloadDeadline {
        /// The attachment id.
        id: String,
        /// The deadline of the last attempt, in seconds.
        deadline_secs: f64,
        /// How many attempts were made.
        attempts: u32,
    },
    /// Local I/O while streaming an attachment to disk.
    #[error("writing {path}: {source}")]
    Io {
        /// The local file.
        path: String,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// The client could not be built (bad TLS setup, bad base URL).
    #[error("cannot set up the HTTP client: {0}")]
    Setup(String),
}

impl Clone for Error {
    /// A copy with the same meaning and message (an I/O error keeps its kind and text), so
    /// one failed request can answer every caller that was waiting on it.
    fn clone(&self) -> Self {
        match self {
            Error::Auth {
                account,
                status,
                path,
                check,
            } => Error::Auth {
                account: account.clone(),
                status: *status,
                path: path.clone(),
                check,
            },
            Error::Forbidden {
                account,
                status,
                path,
                message,
            } => Error::Forbidden {
                account: account.clone(),
                status: *status,
                path: path.clone(),
                message: message.clone(),
            },
            Error::Body { path, message } => Error::Body {
                path: path.clone(),
                message: message.clone(),
            },
            Error::NotFound { path } => Error::NotFound { path: path.clone() },
            Error::Status {
                status,
                path,
                message,
            } => Error::Status {
                status: *status,
                path: path.clone(),
                message: message.clone(),
            },
            Error::Exhausted {
                path,
                attempts,
                last,
            } => Error::Exhausted {
                path: path.clone(),
                attempts: *attempts,
                last: last.clone(),
            },
            Error::Protocol { path, message } => Error::Protocol {
                path: path.clone(),
                message: message.clone(),
            },
            Error::TooLarge { id, limit } => Error::TooLarge {
                id: id.clone(),
                limit: *limit,
            },
            Error::DownloadDeadline {
                id,
                deadline_secs,
                attempts,
            } => Error::DownloadDeadline {
                id: id.clone(),
                deadline_secs: *deadline_secs,
                attempts: *attempts,
            },
            Error::Io { path, source } => Error::Io {
                path: path.clone(),
                source: std::io::Error::new(source.kind(), source.to_string()),
            },
            Error::Setup(message) => Error::Setup(message.clone()),
        }
    }
}

impl Error {
    /// True when no further request to this account can succeed (wrong credentials): the
    /// command must stop with a clear message instead of moving on to the next issue.
    pub(crate) fn is_fatal(&self) -> bool {
        matches!(self, Error::Auth { .. } | Error::Setup(_))
    }

    /// True when the error is Jira's answer about this one resource (refused, a 4xx other
    /// than 404, a body that cannot be read or has the wrong shape): the rest of the issue it
    /// belongs to can still be mirrored, and trying again soon would get the same answer.
    pub(crate) fn is_item_refusal(&self) -> bool {
        matches!(
            self,
            Error::Forbidden { .. }
                | Error::Status { .. }
                | Error::Body { .. }
                | Error::Protocol { .. }
        )
    }

    /// True when Jira (or the way to it) was failing: server errors, timeouts or broken
    /// connections until the retries ran out. Worth trying again later by itself, unlike an
    /// answer about this very request (404, 403, 400, unreadable JSON), which would repeat.
    pub fn is_transient(&self) -> bool {
        matches!(self, Error::Exhausted { .. } | Error::Io { .. })
    }
}

/// Result alias for the Jira client.
pub type Result<T, E = Error> = std::result::Result<T, E>;
