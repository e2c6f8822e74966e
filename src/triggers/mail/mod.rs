//! The mailbox trigger: Jira notification e-mails read over IMAP become issue keys.
//!
//! Mail is only ever a hint: the keys it names are fetched from Jira like any other trigger's.

pub mod extract;
pub mod imap;
pub mod pass;
pub mod watch;
