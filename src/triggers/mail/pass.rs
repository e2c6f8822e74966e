//! One pass over the mailbox: read what is new, act on Jira notifications, acknowledge.
//!
//! The order is what keeps "nothing lost, nothing doubled" for mail: a message is read with
//! `BODY.PEEK[]` (never flagged by reading), its keys run through the pipeline and their
//! table rows are written, and only then is it flagged `\Seen`. A crash anywhere before the
//! flag leaves the mail unseen, and the next pass handles it again — once, since the pipeline
//! is idempotent and the flag is set right after. Mail the trigger will not act on is handled
//! by the configured policy with one log line, and never stops the pass.

use std::collections::BTreeSet;
use std::future::Future;
use std::time::Duration;

use indicatif::ProgressBar;

use super::extract::{self, ExtractOptions, Verdict};
use super::imap::{self, ImapSettings, Session};
use crate::config::{ImapConfig, RejectPolicy};
use crate::key::IssueKey;
use crate::pipeline::events::Audit;
use crate::pipeline::{self, Outcome, Pipeline};
use crate::state::State;
use crate::triggers::{Summary, process_keys};

/// Errors that stop a pass (the mailbox or the mirror is unusable); per-mail problems are
/// not errors.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// IMAP failed.
    #[error("mailbox: {0}")]
    Imap(#[from] imap::Error),
    /// The pipeline hit a fatal error (credentials, state database).
    #[error(transparent)]
    Pipeline(#[from] pipeline::Error),
    /// The state database failed.
    #[error(transparent)]
    State(#[from] crate::state::Error),
}

/// What a pass did.
#[derive(Debug, Default, Clone, PartialEq, Eq, serde::Serialize)]
pub struct MailSummary {
    /// Mails whose issues were processed and that were flagged `\Seen`.
    pub acknowledged: u64,
    /// Mails not acted on (sender, size, not Jira, malformed, no key in scope).
    pub rejected: u64,
    /// Mails left unseen because an issue they name failed (retried next pass).
    pub retry_later: u64,
    /// What happened to the issues.
    pub issues: Summary,
}

/// The connection settings of `[imap]`.
pub fn settings(config: &ImapConfig) -> ImapSettings {
    ImapSettings {
        host: config.host.clone(),
        port: config.port,
        security: config.security,
        username: config.username.clone(),
        password: config.password.expose().to_string(),
        mailbox: config.mailbox.clone(),
        ca_file: config.ca_file.clone(),
        timeout: Duration::from_secs(30),
    }
}

/// The project keys of the scope JQL (`project = A`, `project in (A, B)`), to ignore keys
/// of other projects in mail. Empty when the scope names no project (then every project's
/// keys are fetched, and Jira's scope decides).
pub fn scope_projects(jql: &str) -> Vec<String> {
    let re = regex::Regex::new(r"(?i)\bproject\s*(?:=\s*([A-Za-z][A-Za-z0-9_]*)|in\s*\(([^)]*)\))")
        .expect("static regex");
    let mut out = BTreeSet::new();
    for c in re.captures_iter(jql) {
        if let Some(one) = c.get(1) {
            out.insert(one.as_str().to_ascii_uppercase());
        }
        if let Some(list) = c.get(2) {
            for p in list.as_str().split(',') {
                let p = p.trim().trim_matches(|c| c == '"' || c == '\'');
                if !p.is_empty() {
                    out.insert(p.to_ascii_uppercase());
                }
            }
        }
    }
    out.into_iter().collect()
}

/// What a pass does with a Jira notification: make every issue it names durable, either
/// by running it through the pipeline now (the `mail` command) or by putting it on the
/// daemon's durable queue. The mail is acknowledged only when this says all are durable.
pub trait Sink {
    /// Makes the issues of `notification` durable; true when every one of them is (the mail
    /// may then be flagged `\Seen`), false when one failed and the mail must be read again.
    fn take(
        &self,
        notification: &extract::Notification,
        summary: &mut Summary,
        progress: &ProgressBar,
    ) -> impl Future<Output = Result<bool, Error>> + Send;

    /// Where a record of each mail acted on goes (`raw/events/`), if anywhere.
    fn audit(&self) -> Option<&Audit> {
        None
    }
}

/// The `mail` command's sink: each notification's issues run through the pipeline, and
/// their table rows are written, before the mail is acknowledged.
#[derive(Debug, Clone, Copy)]
pub struct ProcessNow<'a> {
    /// The pipeline.
    pub pipeline: &'a Pipeline,
    /// Projects in scope (empty: any).
    pub projects: &'a [String],
    /// Issues processed at once.
    pub parallel: usize,
}

impl Sink for ProcessNow<'_> {
    async fn take(
        &self,
        notification: &extract::Notification,
        summary: &mut Summary,
        progress: &ProgressBar,
    ) -> Result<bool, Error> {
        handle(
            self.pipeline,
            notification,
            self.projects,
            self.parallel,
            summary,
            progress,
        )
        .await
    }

    fn audit(&self) -> Option<&Audit> {
        Some(self.pipeline.audit())
    }
}

/// One pass: connect, handle every new mail, disconnect.
pub async fn pass(
    pipeline: &Pipeline,
    config: &ImapConfig,
    projects: &[String],
    parallel: usize,
    progress: &ProgressBar,
) -> Result<MailSummary, Error> {
    let mut session = Session::connect(&settings(config)).await?;
    let sink = ProcessNow {
        pipeline,
        projects,
        parallel,
    };
    let result = pass_on(
        pipeline.state(),
        &mut session,
        config,
        projects,
        &sink,
        progress,
    )
    .await;
    if let Err(e) = session.logout().await {
        tracing::debug!(error = %e, "IMAP logout failed.");
    }
    result
}

/// One pass on an open session (the watch loop keeps its session between passes); `sink`
/// decides what acting on a notification means.
pub async fn pass_on(
    state: &State,
    session: &mut Session,
    config: &ImapConfig,
    projects: &[String],
    sink: &impl Sink,
    progress: &ProgressBar,
) -> Result<MailSummary, Error> {
    let mailbox = config.mailbox.as_str();
    let validity = session.mailbox().uid_validity;
    let after_uid = match state.mail_cursor(mailbox)? {
        Some((v, last)) if v == validity => Some(last),
        Some((v, _)) => {
            tracing::warn!(
                mailbox,
                old = v,
                new = validity,
                "UIDVALIDITY changed: the mailbox was recreated; every unseen mail is examined again."
            );
            state.set_mail_cursor(mailbox, validity, 0)?;
            None
        }
        None => None,
    };
    let remembered: BTreeSet<u32> = state
        .mail_rejected(mailbox, validity)?
        .into_iter()
        .collect();
    let uids: Vec<u32> = session
        .candidates(after_uid)
        .await?
        .into_iter()
        .filter(|uid| !remembered.contains(uid))
        .collect();
    let mut summary = MailSummary::default();
    if uids.is_empty() {
        return Ok(summary);
    }
    let sizes: std::collections::HashMap<u32, u32> =
        session.sizes(&uids).await?.into_iter().collect();
    let options = ExtractOptions {
        projects,
        allowed_senders: &config.allowed_senders,
        max_bytes: usize::try_from(config.max_message_bytes).unwrap_or(usize::MAX),
    };
    // Everything at or below `handled` is done (acknowledged or rejected).
    let mut handled = after_uid.unwrap_or(0);
    let mut blocked = false;
    for uid in uids {
        let verdict = match sizes.get(&uid) {
            Some(&size) if u64::from(size) > config.max_message_bytes => Verdict::Rejected {
                reason: extract::Rejection::TooLarge {
                    bytes: size as usize,
                },
            },
            _ => match session.fetch(uid).await? {
                Some(mail) => extract::classify(&mail.raw, &options),
                None => continue, // expunged meanwhile
            },
        };
        let done = match verdict {
            Verdict::Rejected { reason } => {
                reject(session, state, config, validity, uid, &reason.to_string()).await?;
                summary.rejected += 1;
                true
            }
            Verdict::Jira(notification) => {
                let ok = sink
                    .take(&notification, &mut summary.issues, progress)
                    .await?;
                if ok {
                    if let Some(audit) = sink.audit() {
                        record(audit, config, validity, uid, &notification).await;
                    }
                    session.mark_seen(uid).await?;
                    summary.acknowledged += 1;
                    tracing::info!(uid, keys = ?notification.keys, ids = ?notification.issue_ids, "Mail handled.");
                } else {
                    summary.retry_later += 1;
                    tracing::warn!(
                        uid,
                        "Mail left unseen: an issue it names failed; retried next pass."
                    );
                }
                ok
            }
        };
        if done && !blocked {
            handled = handled.max(uid);
        } else if !done {
            blocked = true;
        }
    }
    state.set_mail_cursor(mailbox, validity, handled)?;
    Ok(summary)
}

/// Runs a notification's keys and ids through the pipeline and writes their rows; true when
/// every one of them is durably done.
async fn handle(
    pipeline: &Pipeline,
    notification: &extract::Notification,
    projects: &[String],
    parallel: usize,
    summary: &mut Summary,
    progress: &ProgressBar,
) -> Result<bool, Error> {
    let failed_before = summary.failed;
    let mut keys: BTreeSet<IssueKey> = notification.keys.clone();
    for id in &notification.issue_ids {
        match pipeline.process_id(*id, projects).await {
            Ok(Some(outcome)) => {
                summary.count(&outcome);
                crate::triggers::record_missing_parts(pipeline, &outcome)?;
                if let Outcome::Saved { key, .. } = outcome {
                    keys.remove(&key);
                }
            }
            Ok(None) => {}
            Err(e) if e.is_fatal() => return Err(e.into()),
            Err(e) => {
                tracing::warn!(issue_id = id, error = %e, "Issue named by mail failed.");
                summary.failed += 1;
            }
        }
    }
    process_keys(
        pipeline,
        keys.into_iter().collect(),
        parallel,
        summary,
        progress,
    )
    .await?;
    pipeline.apply_pending().await?;
    Ok(summary.failed == failed_before)
}

/// Writes the audit record of a mail acted on (`raw/events/<date>/…-mail-<validity>-<uid>.json`).
/// A failure is logged, not fatal: the issues are durable already and the mail is still
/// acknowledged.
async fn record(
    audit: &Audit,
    config: &ImapConfig,
    validity: u32,
    uid: u32,
    notification: &extract::Notification,
) {
    let at = chrono::Utc::now();
    let body = serde_json::json!({
        "source": "mail",
        "at": at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        "mailbox": config.mailbox,
        "uid_validity": validity,
        "uid": uid,
        "message_id": notification.message_id,
        "keys": notification.keys.iter().map(IssueKey::as_str).collect::<Vec<_>>(),
        "issue_ids": notification.issue_ids,
        "deletion": notification.deletion,
    });
    let audit = audit.clone();
    let id = format!("{validity}-{uid}");
    let written = tokio::task::spawn_blocking(move || {
        audit.write(at, "mail", &id, body.to_string().as_bytes())
    })
    .await;
    match written {
        Ok(Ok(_)) => {}
        Ok(Err(e)) => tracing::warn!(uid, error = %e, "Could not write the mail's audit record."),
        Err(e) => tracing::warn!(uid, error = %e, "Could not write the mail's audit record."),
    }
}

async fn reject(
    session: &mut Session,
    state: &State,
    config: &ImapConfig,
    validity: u32,
    uid: u32,
    reason: &str,
) -> Result<(), Error> {
    match &config.on_rejected {
        RejectPolicy::Leave => {
            state.record_mail_rejected(&config.mailbox, validity, uid, reason)?;
            tracing::warn!(uid, %reason, action = "left unseen", "Mail not acted on.");
        }
        RejectPolicy::MarkSeen => {
            session.mark_seen(uid).await?;
            tracing::warn!(uid, %reason, action = "marked seen", "Mail not acted on.");
        }
        RejectPolicy::Move(folder) => {
            session.move_to(uid, folder).await?;
            tracing::warn!(uid, %reason, action = "moved", folder = %folder, "Mail not acted on.");
        }
    }
    Ok(())
}
