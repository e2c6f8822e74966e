//! How a [`JiraClient`](super::JiraClient) proves who it is: Basic (e-mail and API token on
//! Cloud, user name and password on Data Center), a Data Center personal access token sent
//! as `Authorization: Bearer`, or an OAuth 2.0 (3LO) grant whose access tokens are fetched
//! and refreshed as they expire ([`super::oauth`]).
//!
//! `Debug` never shows a secret, and neither does [`Credentials::account`], which names the
//! account in log lines and errors.

use std::fmt;
use std::sync::Arc;

use super::oauth::Grant;

/// The credentials of one account.
#[derive(Clone)]
pub enum Credentials {
    /// HTTP Basic: Cloud e-mail and API token, or Data Center user name and password.
    Basic {
        /// The e-mail address (Cloud) or user name (Data Center).
        user: String,
        /// The API token or password; only ever sent in the `Authorization` header.
        token: String,
    },
    /// A Data Center personal access token (`Authorization: Bearer`).
    Bearer {
        /// The token; only ever sent in the `Authorization` header.
        token: String,
    },
    /// An OAuth 2.0 (3LO) grant for Jira Cloud: short-lived access tokens as Bearer.
    OAuth(Arc<Grant>),
}

impl Credentials {
    /// Basic credentials: `user` (e-mail or user name) and `token`.
    pub fn basic(user: impl Into<String>, token: impl Into<String>) -> Self {
        Credentials::Basic {
            user: user.into(),
            token: token.into(),
        }
    }

    /// The account as errors and logs name it: the e-mail or user name, else what kind of
    /// credential it is. Never a secret.
    pub fn account(&self) -> String {
        match self {
            Credentials::Basic { user, .. } => user.clone(),
            Credentials::Bearer { .. } => "the personal access token".to_string(),
            Credentials::OAuth(grant) => format!("the OAuth app {}", grant.client_id()),
        }
    }

    /// Which credential an operator should check when Jira refuses it.
    pub(crate) fn what_to_check(&self) -> &'static str {
        match self {
            Credentials::Basic { .. } => "the email (user name) and API token",
            Credentials::Bearer { .. } => "the personal access token in api_token",
            Credentials::OAuth(_) => {
                "the OAuth grant (run `jira-mirror auth login` again if it was revoked)"
            }
        }
    }

    /// What kind of authentication this is, for `check`.
    pub fn kind(&self) -> &'static str {
        match self {
            Credentials::Basic { .. } => "basic (API token or password)",
            Credentials::Bearer { .. } => "personal access token (Bearer)",
            Credentials::OAuth(_) => "OAuth 2.0 (3LO)",
        }
    }
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Credentials::Basic { user, .. } => f
                .debug_struct("Basic")
                .field("user", user)
                .field("token", &"***")
                .finish(),
            Credentials::Bearer { .. } => f.debug_struct("Bearer").field("token", &"***").finish(),
            Credentials::OAuth(grant) => f.debug_tuple("OAuth").field(grant).finish(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_and_account_hide_the_secrets() {
        for c in [
            Credentials::basic("a@b.c", "s3cr3t"),
            Credentials::Bearer {
                token: "s3cr3t".into(),
            },
        ] {
            assert!(!format!("{c:?}").contains("s3cr3t"));
            assert!(!c.account().contains("s3cr3t"));
        }
        assert_eq!(Credentials::basic("a@b.c", "x").account(), "a@b.c");
    }
}
