//! The audit log of triggers, `raw/events/<YYYY-MM-DD>/<HHMMSS.mmm>-<kind>-<identifier>.json`
//! (UTC dates and times), each file written atomically before its trigger is acknowledged:
//!
//! - `webhook`: the body of every accepted delivery exactly as received, named by its
//!   `X-Atlassian-Webhook-Identifier`. Refused deliveries (bad signature, too large, not
//!   understood) leave no file, and neither does a repeated delivery.
//! - `mail`: one small JSON record per Jira notification acted on (mailbox, UIDVALIDITY,
//!   UID, Message-ID, the keys and ids it named), named `<uidvalidity>-<uid>`. Not the mail
//!   itself: it is hostile input of up to `max_message_bytes`, and stays in the mailbox.
//!
//! Identifiers may come from a request header: only ASCII letters, digits, `-` and `_` of
//! them reach the file name (others become `_`, at most 80 characters), so they can never
//! name another folder. Day folders older than the retention are removed by [`Audit::prune`].

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Days, NaiveDate, Utc};

use crate::store::archive::write_atomic;

/// The audit folder `raw/events/` of one mirror.
#[derive(Debug, Clone)]
pub struct Audit {
    dir: PathBuf,
}

impl Audit {
    /// The audit folder of the mirror in `data_dir`.
    pub fn new(data_dir: &Path) -> Audit {
        Audit {
            dir: data_dir.join("raw").join("events"),
        }
    }

    /// Writes `body` of a `kind` event (`webhook`, `mail`) at `at` under `identifier`;
    /// returns the file.
    pub fn write(
        &self,
        at: DateTime<Utc>,
        kind: &'static str,
        identifier: &str,
        body: &[u8],
    ) -> io::Result<PathBuf> {
        let day = self.dir.join(at.format("%Y-%m-%d").to_string());
        let name = format!(
            "{}-{kind}-{}.json",
            at.format("%H%M%S%.3f"),
            sanitise(identifier)
        );
        let path = day.join(name);
        write_atomic(&path, body)?;
        Ok(path)
    }

    /// Removes the day folders dated before `today` minus `retention_days`; other entries
    /// of `raw/events/` are left alone. Returns how many folders went.
    pub(crate) fn prune(&self, today: NaiveDate, retention_days: u32) -> io::Result<usize> {
        let Some(oldest_kept) = today.checked_sub_days(Days::new(u64::from(retention_days))) else {
            return Ok(0);
        };
        let entries = match fs::read_dir(&self.dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(0),
            Err(e) => return Err(e),
        };
        let mut removed = 0;
        for entry in entries {
            let entry = entry?;
            let name = entry.file_name();
            let Some(date) = name
                .to_str()
                .and_then(|n| NaiveDate::parse_from_str(n, "%Y-%m-%d").ok())
            else {
                continue;
            };
            if date < oldest_kept && entry.file_type()?.is_dir() {
                fs::remove_dir_all(entry.path())?;
                removed += 1;
            }
        }
        Ok(removed)
    }
}

/// ASCII letters, digits, `-` and `_` kept, anything else `_`; at most 80 characters.
fn sanitise(identifier: &str) -> String {
    let safe: String = identifier
        .chars()
        .take(80)
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    if safe.is_empty() {
        "unknown".to_string()
    } else {
        safe
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deliveries_are_filed_by_day_under_a_safe_name() {
        let dir = tempfile::tempdir().unwrap();
        let audit = Audit::new(dir.path());
        let at = DateTime::parse_from_rfc3339("2026-03-04T05:06:07.089Z")
            .unwrap()
            .with_timezone(&Utc);
        let path = audit
            .write(at, "webhook", "../../etc/passwd", b"{}")
            .unwrap();
        assert_eq!(
            path,
            dir.path()
                .join("raw/events/2026-03-04/050607.089-webhook-______etc_passwd.json")
        );
        assert_eq!(fs::read(&path).unwrap(), b"{}");
        let uuid = "6f1e1d3a-0c7b-4a53-9d55-0e4f2d7c8b21";
        let path = audit.write(at, "webhook", uuid, b"[]").unwrap();
        assert!(path.ends_with(format!("050607.089-webhook-{uuid}.json")));
        assert!(
            audit
                .write(at, "webhook", "", b"")
                .unwrap()
                .ends_with("050607.089-webhook-unknown.json")
        );
        assert!(
            audit
                .write(at, "mail", "1700000000-42", b"{}")
                .unwrap()
                .ends_with("050607.089-mail-1700000000-42.json")
        );
    }

    #[test]
    fn old_days_are_pruned_and_nothing_else() {
        let dir = tempfile::tempdir().unwrap();
        let events = dir.path().join("raw/events");
        for name in [
            "2026-01-01",
            "2026-01-09",
            "2026-01-10",
            "2026-01-12",
            "notes",
        ] {
            fs::create_dir_all(events.join(name)).unwrap();
        }
        fs::write(events.join("2025-12-01"), b"a file, not a day folder").unwrap();
        let today = NaiveDate::from_ymd_opt(2026, 1, 12).unwrap();
        assert_eq!(Audit::new(dir.path()).prune(today, 2).unwrap(), 2);
        let mut left: Vec<String> = fs::read_dir(&events)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        left.sort();
        assert_eq!(left, ["2025-12-01", "2026-01-10", "2026-01-12", "notes"]);
        assert_eq!(
            Audit::new(&dir.path().join("none"))
                .prune(today, 2)
                .unwrap(),
            0
        );
    }
}
