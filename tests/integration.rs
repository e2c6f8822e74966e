//! The one integration test binary: the real `jira-mirror` executable against the built-in
//! Jira simulator over loopback HTTP, driven the way an operator drives it.

#[path = "support/mod.rs"]
mod support;

mod cli;
mod concurrency;
mod daemon;
mod deletions;
mod deployments;
mod downloads;
mod isolation;
mod mail;
mod mail_imap;
mod maintenance;
mod output;
mod poison;
mod pull;
mod scope;
mod secrets;
mod tables;
mod throughput;
#[cfg(feature = "webhook")]
mod webhook;
