//! The webhook receiver's deliveries, remembered so a redelivery is acknowledged once.

use super::{Result, State};
use rusqlite::params;

impl State {
    /// Whether a delivery under any of `identifiers` was acknowledged before (and not yet
    /// pruned).
    pub fn webhook_delivery_seen(&self, identifiers: &[&str]) -> Result<bool> {
        self.with(|c| {
            let mut stmt =
                c.prepare_cached("SELECT 1 FROM webhook_deliveries WHERE identifier = ?1")?;
            for identifier in identifiers {
                if stmt.exists([identifier])? {
                    return Ok(true);
                }
            }
            Ok(false)
        })
    }

    /// Remembers an acknowledged delivery under each of its `identifiers`, in one
    /// transaction; returns how many were not remembered before.
    pub fn record_webhook_delivery(&self, identifiers: &[&str], received_ms: i64) -> Result<usize> {
        self.with(|c| {
            let tx = c.transaction()?;
            let mut added = 0;
            for identifier in identifiers {
                added += tx.execute(
                    "INSERT INTO webhook_deliveries (identifier, received_ms) VALUES (?1, ?2)
                     ON CONFLICT (identifier) DO NOTHING",
                    params![identifier, received_ms],
                )?;
            }
            tx.commit()?;
            Ok(added)
        })
    }

    /// Forgets deliveries received before `before_ms`; returns how many.
    pub fn prune_webhook_deliveries(&self, before_ms: i64) -> Result<usize> {
        self.with(|c| {
            c.execute(
                "DELETE FROM webhook_deliveries WHERE received_ms < ?1",
                [before_ms],
            )
        })
    }

    /// Accepted deliveries still remembered (each has one body name), and when the latest was
    /// received, epoch ms.
    pub fn webhook_deliveries(&self) -> Result<(i64, Option<i64>)> {
        self.with(|c| {
            c.query_row(
                "SELECT count(*), max(received_ms) FROM webhook_deliveries
                 WHERE identifier LIKE 'body-sha256-%'",
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
        })
    }
}
