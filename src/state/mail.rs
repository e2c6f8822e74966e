//! The mailbox trigger's memory: the UID cursor per mailbox, mails to retry with backoff,
//! and mails given up on, all tied to the mailbox's UIDVALIDITY.

use super::{Result, State};
use crate::time::now_ms;
use rusqlite::{OptionalExtension, params};

/// A mail in the mailbox trigger's retry set (see [`State::mail_retries`]).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct MailRetry {
    /// Its UID (under the UIDVALIDITY it was recorded with).
    pub uid: u32,
    /// Its `Message-ID`, as the notification gave it.
    pub message_id: Option<String>,
    /// Counted failed attempts (a failure caused by Jira failing is not counted).
    pub attempts: i64,
    /// The last error.
    pub last_error: String,
    /// When it is tried again, epoch ms.
    pub next_try_ms: i64,
}

impl State {
    /// The mailbox cursor: `(uid_validity, last_uid)`.
    pub(crate) fn mail_cursor(&self, mailbox: &str) -> Result<Option<(u32, u32)>> {
        self.with(|c| {
            c.query_row(
                "SELECT uid_validity, last_uid FROM mail_cursor WHERE mailbox = ?1",
                [mailbox],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()
        })
    }

    /// Stores the mailbox cursor (every mail at or below `last_uid` was acknowledged, rejected
    /// or is in the retry set); a new UIDVALIDITY forgets the old one's rejected UIDs and
    /// retry set.
    pub(crate) fn set_mail_cursor(
        &self,
        mailbox: &str,
        uid_validity: u32,
        last_uid: u32,
    ) -> Result<()> {
        self.with(|c| {
            let tx = c.transaction()?;
            tx.execute(
                "DELETE FROM mail_rejected WHERE mailbox = ?1 AND uid_validity <> ?2",
                params![mailbox, uid_validity],
            )?;
            tx.execute(
                "DELETE FROM mail_retry WHERE mailbox = ?1 AND uid_validity <> ?2",
                params![mailbox, uid_validity],
            )?;
            tx.execute(
                "INSERT INTO mail_cursor (mailbox, uid_validity, last_uid) VALUES (?1, ?2, ?3)
                 ON CONFLICT (mailbox) DO UPDATE SET uid_validity = excluded.uid_validity,
                   last_uid = excluded.last_uid",
                params![mailbox, uid_validity, last_uid],
            )?;
            tx.commit()
        })
    }

    /// Remembers a rejected (or given up) mail, so it is not examined again; it leaves the
    /// retry set.
    pub(crate) fn record_mail_rejected(
        &self,
        mailbox: &str,
        uid_validity: u32,
        uid: u32,
        reason: &str,
    ) -> Result<()> {
        self.with(|c| {
            let tx = c.transaction()?;
            tx.execute(
                "INSERT OR REPLACE INTO mail_rejected (mailbox, uid_validity, uid, reason, at_ms)
                 VALUES (?1, ?2, ?3, ?4, ?5)",
                params![mailbox, uid_validity, uid, reason, now_ms()],
            )?;
            tx.execute(
                "DELETE FROM mail_retry WHERE mailbox = ?1 AND uid_validity = ?2 AND uid = ?3",
                params![mailbox, uid_validity, uid],
            )?;
            tx.commit()
        })
    }

    /// The retry set of this mailbox and UIDVALIDITY: mails whose issues failed, by UID.
    pub(crate) fn mail_retries(&self, mailbox: &str, uid_validity: u32) -> Result<Vec<MailRetry>> {
        self.with(|c| {
            let mut stmt = c.prepare(
                "SELECT uid, message_id, attempts, last_error, next_try_ms FROM mail_retry
                 WHERE mailbox = ?1 AND uid_validity = ?2 ORDER BY uid",
            )?;
            stmt.query_map(params![mailbox, uid_validity], |r| {
                Ok(MailRetry {
                    uid: r.get(0)?,
                    message_id: r.get(1)?,
                    attempts: r.get(2)?,
                    last_error: r.get(3)?,
                    next_try_ms: r.get(4)?,
                })
            })?
            .collect()
        })
    }

    /// Puts a mail whose issues failed into the retry set, or updates its entry: `attempts`
    /// counted attempts so far, `error` the last error, tried again at `next_try_ms`.
    pub(crate) fn record_mail_retry(
        &self,
        mailbox: &str,
        uid_validity: u32,
        retry: &MailRetry,
    ) -> Result<()> {
        let now = now_ms();
        self.with(|c| {
            c.execute(
                "INSERT INTO mail_retry (mailbox, uid_validity, uid, message_id, attempts,
                   last_error, first_failed_ms, last_failed_ms, next_try_ms)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?7, ?8)
                 ON CONFLICT (mailbox, uid_validity, uid) DO UPDATE SET
                   message_id = COALESCE(excluded.message_id, message_id),
                   attempts = excluded.attempts, last_error = excluded.last_error,
                   last_failed_ms = excluded.last_failed_ms, next_try_ms = excluded.next_try_ms",
                params![
                    mailbox,
                    uid_validity,
                    retry.uid,
                    retry.message_id,
                    retry.attempts,
                    retry.last_error,
                    now,
                    retry.next_try_ms
                ],
            )
            .map(drop)
        })
    }

    /// Takes a mail out of the retry set (acknowledged, or gone from the mailbox).
    pub(crate) fn clear_mail_retry(
        &self,
        mailbox: &str,
        uid_validity: u32,
        uid: u32,
    ) -> Result<()> {
        self.with(|c| {
            c.execute(
                "DELETE FROM mail_retry WHERE mailbox = ?1 AND uid_validity = ?2 AND uid = ?3",
                params![mailbox, uid_validity, uid],
            )
            .map(drop)
        })
    }

    /// When the next mail of the retry set is due (epoch ms), if any waits.
    pub(crate) fn mail_next_retry_ms(
        &self,
        mailbox: &str,
        uid_validity: u32,
    ) -> Result<Option<i64>> {
        self.with(|c| {
            c.query_row(
                "SELECT MIN(next_try_ms) FROM mail_retry WHERE mailbox = ?1 AND uid_validity = ?2",
                params![mailbox, uid_validity],
                |r| r.get(0),
            )
        })
    }

    /// UIDs of rejected mail remembered for this mailbox and UIDVALIDITY.
    pub fn mail_rejected(&self, mailbox: &str, uid_validity: u32) -> Result<Vec<u32>> {
        self.with(|c| {
            let mut stmt = c.prepare(
                "SELECT uid FROM mail_rejected WHERE mailbox = ?1 AND uid_validity = ?2 ORDER BY uid",
            )?;
            stmt.query_map(params![mailbox, uid_validity], |r| r.get(0))?
                .collect()
        })
    }
}
