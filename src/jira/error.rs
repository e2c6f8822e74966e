//! Errors of the Jira client. Their messages name the request path and the cause, never a
//! credential: the `Authorization` header is the only place a token travels.

/// A failed Jira request, after whatever retries its kind allows.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// 401/403: the account was refused. Fatal: retrying would only hammer Jira.
    #[error(
        "Jira refused the credentials of {account} (HTTP {status} on {path}): check the email and API token"
    )]
    Auth {
        /// The account (email) that was refused; never the token.
        account: String,
        /// 401 or 403.
        status: u16,
        /// The request path.
        path: String,
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

impl Error {
    /// True when no further request to this account can succeed (wrong credentials): the
    /// command must stop with a clear message instead of moving on to the next issue.
    pub fn is_fatal(&self) -> bool {
        matches!(self, Error::Auth { .. } | Error::Setup(_))
    }
}

/// Result alias for the Jira client.
pub type Result<T, E = Error> = std::result::Result<T, E>;
