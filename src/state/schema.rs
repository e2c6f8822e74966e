//! The schema: migrations keyed by SQLite's `user_version`, applied in order at open.

/// Each entry moves the schema from version `index` to `index + 1`.
pub(super) const MIGRATIONS: &[&str] = &[
    r#"
    CREATE TABLE meta (
        name  TEXT PRIMARY KEY,
        value TEXT NOT NULL
    );
    CREATE TABLE issues (
        issue_id    INTEGER PRIMARY KEY,
        issue_key   TEXT NOT NULL UNIQUE,
        updated_ms  INTEGER NOT NULL,
        created_ms  INTEGER,
        saved_at_ms INTEGER NOT NULL
    );
    CREATE TABLE failures (
        issue_key      TEXT PRIMARY KEY,
        attempts       INTEGER NOT NULL,
        last_error     TEXT NOT NULL,
        first_failed_ms INTEGER NOT NULL,
        last_failed_ms INTEGER NOT NULL
    );
    CREATE TABLE backfill (
        id              INTEGER PRIMARY KEY CHECK (id = 1),
        jql             TEXT NOT NULL,
        started_ms      INTEGER NOT NULL,
        next_page_token TEXT,
        pages_done      INTEGER NOT NULL DEFAULT 0,
        issues_saved    INTEGER NOT NULL DEFAULT 0,
        finished_ms     INTEGER
    );
    CREATE TABLE runs (
        id            INTEGER PRIMARY KEY AUTOINCREMENT,
        command       TEXT NOT NULL,
        started_ms    INTEGER NOT NULL,
        finished_ms   INTEGER,
        outcome       TEXT,
        issues_saved  INTEGER NOT NULL DEFAULT 0,
        issues_failed INTEGER NOT NULL DEFAULT 0,
        detail        TEXT
    );
"#,
    // 2: issues whose Parquet rows are not yet written (saved, moved or deleted), so a crash
    // between the raw save and the upsert is repaired at the next start. `seq` changes on
    // every mark, so a row re-marked while its change is applied is not cleared by mistake.
    r#"
    CREATE TABLE pending_rows (
        issue_key TEXT NOT NULL,
        month     TEXT NOT NULL,
        seq       INTEGER NOT NULL,
        PRIMARY KEY (issue_key, month)
    );
    CREATE INDEX issues_created ON issues (created_ms);
"#,
    // 3: the mailbox trigger: per mailbox, the UIDVALIDITY and the highest UID below which
    // every mail was handled; mail rejected and left unseen, so it is not examined again.
    r#"
    CREATE TABLE mail_cursor (
        mailbox      TEXT PRIMARY KEY,
        uid_validity INTEGER NOT NULL,
        last_uid     INTEGER NOT NULL
    );
    CREATE TABLE mail_rejected (
        mailbox      TEXT NOT NULL,
        uid_validity INTEGER NOT NULL,
        uid          INTEGER NOT NULL,
        reason       TEXT NOT NULL,
        at_ms        INTEGER NOT NULL,
        PRIMARY KEY (mailbox, uid_validity, uid)
    );
"#,
    // 4: the daemon. `queue` holds every key a trigger handed over and not yet processed
    // (durable, one row per key: coalescing). `running` marks keys being processed; `again`
    // says a trigger named the key meanwhile, so it is processed once more afterwards.
    // Failures can be parked (`parked_ms`) with the `updated` they failed at. `issues` learns
    // what SLA polling needs (status category, whether SLA data exists) and when the fetch
    // that saved it started (`fetched_ms`), so a queued key already fetched since it was
    // queued (by another process) is not fetched twice.
    r#"
    CREATE TABLE queue (
        issue_key     TEXT PRIMARY KEY,
        source        TEXT NOT NULL,
        enqueued_ms   INTEGER NOT NULL,
        not_before_ms INTEGER NOT NULL DEFAULT 0,
        running       INTEGER NOT NULL DEFAULT 0,
        again         INTEGER NOT NULL DEFAULT 0,
        updated_hint  INTEGER
    );
    CREATE INDEX queue_next ON queue (running, not_before_ms, enqueued_ms);
    ALTER TABLE failures ADD COLUMN parked_ms INTEGER;
    ALTER TABLE failures ADD COLUMN parked_updated_ms INTEGER;
    ALTER TABLE issues ADD COLUMN status_category TEXT;
    ALTER TABLE issues ADD COLUMN has_sla INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE issues ADD COLUMN fetched_ms INTEGER;
"#,
    // 5: the webhook receiver: the `X-Atlassian-Webhook-Identifier` of every delivery it
    // acknowledged (stable across Jira's retries), so a retried delivery is not queued again;
    // pruned after `[webhook] retention_days`.
    r#"
    CREATE TABLE webhook_deliveries (
        identifier  TEXT PRIMARY KEY,
        received_ms INTEGER NOT NULL
    );
    CREATE INDEX webhook_deliveries_received ON webhook_deliveries (received_ms);
"#,
    // 6: every command parks a key after `[run] max_attempts` counted failures (not only the
    // daemon), and a later sweep gives each parked key one more try: `parked_retried` says
    // that try was made (it is reset when the key is parked anew).
    r#"
    ALTER TABLE failures ADD COLUMN parked_retried INTEGER NOT NULL DEFAULT 0;
"#,
    // 7: the mailbox trigger's retry set: per mailbox and UIDVALIDITY, each mail whose issues
    // failed, with its counted attempts, last error and when it is tried again. The cursor
    // no longer waits for such a mail; a mail given up moves to `mail_rejected`.
    r#"
    CREATE TABLE mail_retry (
        mailbox         TEXT NOT NULL,
        uid_validity    INTEGER NOT NULL,
        uid             INTEGER NOT NULL,
        message_id      TEXT,
        attempts        INTEGER NOT NULL,
        last_error      TEXT NOT NULL,
        first_failed_ms INTEGER NOT NULL,
        last_failed_ms  INTEGER NOT NULL,
        next_try_ms     INTEGER NOT NULL,
        PRIMARY KEY (mailbox, uid_validity, uid)
    );
"#,
    // 8: `status` and the health endpoint read the latest run of each command; the daemon
    // records one per sweep (every minute by default), so `runs` is indexed and pruned
    // (`State::prune_runs`).
    r#"
    CREATE INDEX runs_command ON runs (command, id);
    CREATE INDEX runs_command_ok ON runs (command, finished_ms) WHERE outcome = 'ok';
"#,
    // 9: `has_sla` also counts SLA custom fields in the issue (without a JSM account they are
    // the only SLA source `poll-sla` can refresh): open issues recorded without SLA data are
    // classified again from their saved JSON at the next poll.
    r#"
    UPDATE issues SET status_category = NULL
     WHERE has_sla = 0 AND status_category IS NOT NULL AND status_category <> 'done';
"#,
];
