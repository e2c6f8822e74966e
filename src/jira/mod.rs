//! The Jira side of the mirror: a polite HTTP client and the requests it knows how to make.
//!
//! Everything that talks to Jira goes through [`JiraClient`], which owns the three rules the
//! product promises operators (the "polite client"): a shared [`RequestBudget`]
//! (requests per second and concurrency across the site *and* the JSM gateway), `Retry-After`
//! honoured on 429/503, and exponential backoff with jitter for other transient failures —
//! while authentication failures stop at once instead of turning into a retry storm.
//!
//! The request shapes follow Jira's documented and observed behaviour (real payloads under
//! `tests/data/`, with their provenance): enhanced search pages end when
//! `nextPageToken` is absent, null or empty (or `isLast`), embedded changelogs and comments are
//! capped so [`JiraClient::complete_issue`] pages the rest, and JSM SLA pages use
//! `start/limit/isLastPage`.

mod auth;
mod budget;
mod client;
pub mod deployment;
mod error;
pub mod health;
pub mod jql;
pub mod oauth;
mod paging;

pub use auth::Credentials;
pub use budget::{RequestBudget, RequestStats};
pub(crate) use client::plain_http_client as http_client;
pub use client::{ClientOptions, Downloaded, JiraClient};
pub use deployment::Deployment;
pub use error::{Error, Result};
pub(crate) use paging::MAX_RECONCILE_IDS;
pub use paging::{PartError, SearchPage};
