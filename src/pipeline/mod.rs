//! The per-issue pipeline every trigger feeds: complete the issue (all changelog histories,
//! all comments, remote links), overlay JSM SLA figures, download attachments, save the raw
//! JSON atomically, and record the result in the state database.
//!
//! The order is what keeps "nothing lost, nothing doubled": attachments first (each file
//! fsynced and renamed, then their folder fsynced once), then the issue JSON (atomic rename),
//! then the state row. A crash anywhere leaves either the old saved issue or the new one, and
//! the next run redoes whatever the state does not yet record.
//!
//! What the mirror adds to Jira's issue JSON lives under one top-level key, [`OVERLAY_KEY`]
//! (`"mirror"`), documented in docs/ARCHITECTURE.md: fetch time, remote links, SLA values and
//! the fate of each attachment.

mod confirm;
pub mod distribution;
pub mod events;
pub mod queue;

use std::collections::HashSet;
use std::sync::Arc;

use serde_json::{Value, json};

use crate::jira::{self, JiraClient};
use crate::key::{InvalidKey, IssueKey};
use crate::scope::Scope;
use crate::state::{self, IssueDetails, SavedIssue, State};
use crate::store::archive::{self, RawStore, attachment_file_name};
use crate::store::lock::IssueLocks;
use crate::time::jira_time_ms;
use crate::transform::Transformer;
use confirm::Confirmer;
use events::Audit;

/// The top-level key of the saved issue JSON that holds what the mirror adds.
pub(crate) const OVERLAY_KEY: &str = "mirror";

/// Errors that stop one issue (recorded as a failure and retried later).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Jira failed.
    #[error(transparent)]
    Jira(#[from] jira::Error),
    /// The state database failed.
    #[error(transparent)]
    State(#[from] state::Error),
    /// Writing the Parquet tables failed.
    #[error("tables: {0}")]
    Transform(#[from] crate::transform::Error),
    /// Writing the raw store failed.
    #[error("raw store: {0}")]
    Io(#[from] std::io::Error),
    /// Jira sent an issue we cannot use.
    #[error("issue {issue}: {message}")]
    Invalid {
        /// Key or id, as far as known.
        issue: String,
        /// What is wrong.
        message: String,
    },
    /// A key that is not a Jira key.
    #[error(transparent)]
    Key(#[from] InvalidKey),
    /// Removing an issue would pass the cap of removals in 24 hours (`[run]
    /// max_deletions`): many issues disappearing at once is more likely a permission or scope
    /// change than real deletions, so the rest are kept (and recorded) until an operator looks.
    #[error(
        "{key} not removed: more than {cap} issues were removed in 24 hours ([run] max_deletions); kept, and retried later. If Jira really removed them, raise the cap or remove them with `fetch` after raising it"
    )]
    DeletionCapped {
        /// The issue kept.
        key: String,
        /// The cap.
        cap: u64,
    },
    /// Writing the tables panicked (a bug): the daemon stops rather than carry on.
    #[error("writing the tables panicked: {message}")]
    Panicked {
        /// The panic's message.
        message: String,
    },
}

impl Error {
    /// True when trying again later may succeed by itself (Jira failing or unreachable), as
    /// opposed to a problem of this issue's data.
    pub fn is_transient(&self) -> bool {
        match self {
            Error::Jira(e) => e.is_transient(),
            // The local disk (full, or a permission changed): not this issue's fault.
            Error::Io(_) => true,
            _ => false,
        }
    }

    /// True when a panic (a bug) is behind the error, here or in a transform thread.
    pub(crate) fn is_panic(&self) -> bool {
        matches!(
            self,
            Error::Panicked { .. } | Error::Transform(crate::transform::Error::Panicked { .. })
        )
    }

    /// True when writing the Parquet files failed (disk full, a permission error, a month that
    /// cannot be rebuilt), as opposed to the state database or a panic: the rows stay pending
    /// and a later write can succeed.
    pub(crate) fn is_table_write_failure(&self) -> bool {
        matches!(
            self,
            Error::Transform(
                crate::transform::Error::Parquet(_)
                    | crate::transform::Error::Lock(_)
                    | crate::transform::Error::Raw { .. }
                    | crate::transform::Error::Rows { .. }
            )
        )
    }

    /// True when the whole command must stop (wrong credentials, unusable state).
    pub(crate) fn is_fatal(&self) -> bool {
        match self {
            Error::Jira(e) => e.is_fatal(),
            Error::State(_) | Error::Transform(_) => true,
            _ => false,
        }
    }
}

/// Result alias for the pipeline.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// A part of an issue Jira refused while the rest of the issue was saved: an attachment's
/// content, the remote links, changelog or comment pages, the SLA figures.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct MissingPart {
    /// What is missing, e.g. `attachment 10001`, `remote links`, `comments`.
    pub part: String,
    /// Why, naming the request (`Jira refused … access to /rest/api/3/… (HTTP 403): …`).
    pub error: String,
}

impl MissingPart {
    fn new(part: impl Into<String>, error: &jira::Error) -> Self {
        MissingPart {
            part: part.into(),
            error: error.to_string(),
        }
    }

    /// One line for the failure record: every missing part with its reason.
    pub fn summary(parts: &[MissingPart]) -> String {
        let list: Vec<String> = parts
            .iter()
            .map(|p| format!("{}: {}", p.part, p.error))
            .collect();
        format!("saved without {}", list.join("; "))
    }
}

/// What happened to one issue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Saved (new or changed); `moved_from` is the old key of a moved issue.
    Saved {
        /// The key it is saved under.
        key: IssueKey,
        /// The key it had before, if Jira moved it.
        moved_from: Option<IssueKey>,
        /// Parts Jira refused (empty when the issue is complete). The issue is saved and in
        /// the tables without them; the caller records a failure so it is fetched again.
        missing: Vec<MissingPart>,
    },
    /// Already saved at the same `updated`: nothing fetched, nothing written.
    Unchanged(IssueKey),
    /// Jira answered 404: the local copy (if any) was removed.
    Deleted(IssueKey),
    /// Named by mail or a webhook, not held by the mirror, and not in the scope (its
    /// project is outside it, or Jira's scope search does not list it): nothing saved.
    OutOfScope(IssueKey),
}

/// Attachment download settings.
#[derive(Debug, Clone, Copy)]
pub struct AttachmentPolicy {
    /// Download files at all.
    pub download: bool,
    /// Skip (and record) files larger than this.
    pub max_bytes: u64,
}

/// The stages after a trigger, shared by every command.
#[derive(Debug, Clone)]
pub struct Pipeline {
    jira: JiraClient,
    sla: Option<JiraClient>,
    store: RawStore,
    state: Arc<State>,
    attachments: AttachmentPolicy,
    transformer: Arc<Transformer>,
    locks: IssueLocks,
    audit: Audit,
    max_attempts: i64,
    removals: Arc<Removals>,
    confirmer: Arc<Confirmer>,
    distribution: Option<distribution::Distribution>,
}

/// The removals of the last 24 hours, against the cap (see [`Error::DeletionCapped`]).
#[derive(Debug)]
struct Removals {
    cap: u64,
    recent: std::sync::Mutex<std::collections::VecDeque<std::time::Instant>>,
}

/// The window of the removal cap.
const REMOVAL_WINDOW: std::time::Duration = std::time::Duration::from_secs(24 * 3600);

impl Removals {
    /// Counts one removal if the cap allows it.
    fn take(&self) -> bool {
        let mut recent = self
            .recent
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        while recent.front().is_some_and(|t| t.elapsed() > REMOVAL_WINDOW) {
            recent.pop_front();
        }
        if recent.len() as u64 >= self.cap {
            return false;
        }
        recent.push_back(std::time::Instant::now());
        true
    }
}

/// Counted failures before a key is parked, unless [`Pipeline::with_max_attempts`] says
/// otherwise (`[run] max_attempts`).
pub(crate) const DEFAULT_MAX_ATTEMPTS: i64 = 5;

impl Pipeline {
    /// Builds the pipeline from its parts; `sla` is the `[jira_sla]` account, if configured;
    /// `scope` is `[jira] jql`, which issues named by mail or webhook must be in.
    pub fn new(
        jira: JiraClient,
        scope: Scope,
        sla: Option<JiraClient>,
        store: RawStore,
        state: Arc<State>,
        attachments: AttachmentPolicy,
        transformer: Arc<Transformer>,
    ) -> Self {
        let locks = IssueLocks::new(store.data_dir());
        let audit = Audit::new(store.data_dir());
        Pipeline {
            confirmer: Arc::new(Confirmer::new(jira.clone(), scope)),
            jira,
            sla,
            store,
            state,
            attachments,
            transformer,
            locks,
            audit,
            max_attempts: DEFAULT_MAX_ATTEMPTS,
            removals: Arc::new(Removals {
                cap: crate::config::DEFAULT_MAX_DELETIONS_FLOOR,
                recent: Default::default(),
            }),
            distribution: None,
        }
    }

    /// Keeps the distribution folder's attachment copies in line with each saved or removed
    /// issue (when it distributes attachments).
    pub(crate) fn with_distribution(
        mut self,
        distribution: Option<distribution::Distribution>,
    ) -> Self {
        self.distribution = distribution;
        self
    }

    /// Brings the distribution folder's copies of `key`'s attachments in line with the
    /// mirror's. A failure costs no mirrored data: it is logged, and the next start's seed
    /// copies what is missing.
    fn distribute_attachments(&self, key: &IssueKey) {
        let Some(distribution) = &self.distribution else {
            return;
        };
        if let Err(e) = distribution.sync_attachments(&self.store.attachments_dir(key), key) {
            tracing::warn!(%key, error = %e, dir = %distribution.dir.display(), "Attachments not copied to the distribution folder; the next start copies them.");
        }
    }

    /// Removes at most `cap` issues locally in 24 hours (see [`Error::DeletionCapped`]).
    pub(crate) fn with_deletion_cap(mut self, cap: u64) -> Self {
        self.removals = Arc::new(Removals {
            cap,
            recent: Default::default(),
        });
        self
    }

    /// Parks a key after `n` counted failures (at least 1).
    pub(crate) fn with_max_attempts(mut self, n: i64) -> Self {
        self.max_attempts = n.max(1);
        self
    }

    /// Counted failures before a key is parked.
    pub fn max_attempts(&self) -> i64 {
        self.max_attempts
    }

    /// The trigger audit log (`raw/events/`).
    pub fn audit(&self) -> &Audit {
        &self.audit
    }

    /// The transform stage.
    pub fn transformer(&self) -> &Arc<Transformer> {
        &self.transformer
    }

    /// Writes the Parquet rows of every issue saved, moved or deleted since the last call
    /// (and of any a crash left pending), on a blocking thread.
    pub async fn apply_pending(&self) -> Result<usize> {
        let transformer = self.transformer.clone();
        let applied = match tokio::task::spawn_blocking(move || transformer.apply_pending()).await {
            Ok(applied) => applied?,
            Err(e) if e.is_panic() => {
                let message = crate::panic_message(&*e.into_panic());
                return Err(Error::Panicked { message });
            }
            Err(e) => {
                return Err(Error::Invalid {
                    issue: "tables".into(),
                    message: format!("transform task failed: {e}"),
                });
            }
        };
        Ok(applied)
    }

    /// The Jira client.
    pub fn jira(&self) -> &JiraClient {
        &self.jira
    }

    /// The mirror's scope.
    pub fn scope(&self) -> &Scope {
        self.confirmer.scope()
    }

    /// Whether Jira's scope search lists the issue with id `id` (batched with other callers;
    /// sees through index lag).
    pub async fn in_scope(&self, id: i64) -> Result<bool> {
        Ok(self.confirmer.in_scope(id).await?)
    }

    /// The `[jira_sla]` (JSM) client, if configured.
    pub(crate) fn sla_client(&self) -> Option<&JiraClient> {
        self.sla.as_ref()
    }

    /// The request counters of every budget this pipeline draws on, as one line.
    pub(crate) fn request_summary(&self) -> String {
        let all: Vec<_> = self.request_stats().into_iter().map(|(_, s)| s).collect();
        crate::jira::RequestStats::summary_of(&all)
    }

    /// The request counters of every budget this pipeline draws on, by name: `jira` (the
    /// main account), `media` (attachment downloads, when they have their own budget) and
    /// `jira_sla` (the JSM account).
    pub(crate) fn request_stats(&self) -> Vec<(&'static str, &crate::jira::RequestStats)> {
        let mut all = vec![("jira", self.jira.stats())];
        all.extend(self.jira.download_stats().map(|s| ("media", s)));
        all.extend(self.sla.as_ref().map(|sla| ("jira_sla", sla.stats())));
        all
    }

    /// The state database.
    pub fn state(&self) -> &Arc<State> {
        &self.state
    }

    /// The raw store.
    pub fn store(&self) -> &RawStore {
        &self.store
    }

    /// Processes an issue as a search page listed it (all fields, embedded changelog). An
    /// issue already saved at the same `updated` is skipped without any request. The issue
    /// may nest arbitrarily deep: it is dropped stack-safely on every path.
    pub async fn process_listed(&self, issue: crate::json::DeepValue) -> Result<Outcome> {
        let meta = IssueMeta::of(&issue)?;
        let _guard = self.locks.lock(meta.key.as_str()).await?;
        let unchanged = self.state.issue_by_id(meta.id)?.is_some_and(|saved| {
            saved.issue_key == meta.key.as_str()
                && saved.updated_ms == meta.updated_ms
                && self.store.has_issue(&meta.key)
        });
        if unchanged {
            return Ok(Outcome::Unchanged(meta.key));
        }
        // A listing is not a fetch the queue may rely on (its time is the page's, not known
        // here), so no `fetched_ms`.
        self.save(issue, meta, None).await
    }

    /// Fetches `key` from Jira and saves it; a 404 removes the local copy.
    pub(crate) async fn process_key(&self, key: &IssueKey) -> Result<Outcome> {
        let _guard = self.locks.lock(key.as_str()).await?;
        self.fetch_and_save(key).await
    }

    /// Like [`Pipeline::process_key`], unless a fetch of `key` that started at or after
    /// `since_ms` (epoch ms) already saved it, in this process or another (`jira-mirror
    /// fetch` while the daemon runs): then nothing is fetched and the outcome is
    /// [`Outcome::Unchanged`]. The check happens under the issue's lock, so a fetch in
    /// progress elsewhere is waited for, then counted.
    pub(crate) async fn process_key_since(&self, key: &IssueKey, since_ms: i64) -> Result<Outcome> {
        let _guard = self.locks.lock(key.as_str()).await?;
        if self.fetched_since(key, since_ms)? {
            return Ok(Outcome::Unchanged(key.clone()));
        }
        self.fetch_and_save(key).await
    }

    /// Whether a fetch of `key` that started at or after `since_ms` saved it.
    fn fetched_since(&self, key: &IssueKey, since_ms: i64) -> Result<bool> {
        let fresh = self
            .state
            .fetched_ms(key.as_str())?
            .is_some_and(|fetched| fetched >= since_ms);
        Ok(fresh && self.store.has_issue(key))
    }

    /// Like [`Pipeline::process_key_since`] (or [`Pipeline::process_key`] without
    /// `since_ms`) for a key that mail, a webhook or a retry named:
    /// anyone who can send mail to the mailbox can name any key, so an issue the mirror does
    /// not hold yet is saved only when it is in the scope: its project is not ruled out by
    /// [`Scope::may_hold`] and Jira's scope search lists its id. Otherwise
    /// [`Outcome::OutOfScope`], nothing written. A key the mirror holds is fetched as usual
    /// (a 404 removes it, with the usual safeguards).
    pub(crate) async fn process_named(
        &self,
        key: &IssueKey,
        since_ms: Option<i64>,
    ) -> Result<Outcome> {
        let _guard = self.locks.lock(key.as_str()).await?;
        if self.store.has_issue(key) || self.state.issue_by_key(key.as_str())?.is_some() {
            if let Some(since_ms) = since_ms
                && self.fetched_since(key, since_ms)?
            {
                return Ok(Outcome::Unchanged(key.clone()));
            }
            return self.fetch_and_save(key).await;
        }
        if !self.scope().may_hold(key) {
            tracing::info!(%key, "Issue named outside the scope's projects; ignored.");
            return Ok(Outcome::OutOfScope(key.clone()));
        }
        let started = crate::time::now_ms();
        let Some(issue) = self.jira.get_issue(key.as_str()).await? else {
            // Nothing local to remove.
            return Ok(Outcome::Deleted(key.clone()));
        };
        let issue = crate::json::DeepValue::new(issue);
        let meta = IssueMeta::of(&issue)?;
        if !self.admits(&meta).await? {
            return Ok(Outcome::OutOfScope(meta.key));
        }
        self.save(issue, meta, Some(started)).await
    }

    /// Whether a fetched issue that an untrusted trigger named belongs in the mirror: held
    /// already (under any key), or in the scope by Jira's word.
    async fn admits(&self, meta: &IssueMeta) -> Result<bool> {
        if self.state.issue_by_id(meta.id)?.is_some() {
            return Ok(true);
        }
        let admitted = self.scope().may_hold(&meta.key) && self.confirmer.in_scope(meta.id).await?;
        if !admitted {
            tracing::info!(key = %meta.key, "Issue named by mail or webhook is outside the scope; ignored.");
        }
        Ok(admitted)
    }

    /// The body of [`Pipeline::process_key`]; the caller holds the issue's lock.
    async fn fetch_and_save(&self, key: &IssueKey) -> Result<Outcome> {
        let started = crate::time::now_ms();
        match self.jira.get_issue(key.as_str()).await? {
            Some(issue) => {
                let issue = crate::json::DeepValue::new(issue);
                let meta = IssueMeta::of(&issue)?;
                self.save(issue, meta, Some(started)).await
            }
            None => {
                self.remove_local(key).await?;
                Ok(Outcome::Deleted(key.clone()))
            }
        }
    }

    /// Fetches the issue with Jira id `id` (mail threading headers and webhooks name ids)
    /// and saves it if the mirror holds it or it is in the scope (as for
    /// [`Pipeline::process_named`]); a 404 removes the local copy of the issue with that id,
    /// if there is one. `None` when nothing was saved or removed (unknown id, or an issue
    /// outside the scope).
    pub(crate) async fn process_id(&self, id: i64) -> Result<Option<Outcome>> {
        let started = crate::time::now_ms();
        match self.jira.get_issue(&id.to_string()).await? {
            Some(issue) => {
                let issue = crate::json::DeepValue::new(issue);
                let meta = IssueMeta::of(&issue)?;
                if !self.admits(&meta).await? {
                    return Ok(None);
                }
                let _guard = self.locks.lock(meta.key.as_str()).await?;
                self.save(issue, meta, Some(started)).await.map(Some)
            }
            None => match self.state.issue_by_id(id)? {
                Some(saved) => {
                    let key = IssueKey::parse(&saved.issue_key)?;
                    self.delete_local(&key).await?;
                    Ok(Some(Outcome::Deleted(key)))
                }
                None => Ok(None),
            },
        }
    }

    /// Removes every local trace of `key` (raw JSON, attachments, state row; its table rows
    /// are marked for removal), under the issue's lock.
    pub(crate) async fn delete_local(&self, key: &IssueKey) -> Result<()> {
        let _guard = self.locks.lock(key.as_str()).await?;
        self.remove_local(key).await
    }

    /// The body of [`Pipeline::delete_local`]; the caller holds the issue's lock.
    ///
    /// Nothing is removed unless Jira accepts the credentials right now (a 404 while the
    /// account is refused, or behind a broken proxy, proves nothing) and the removal cap
    /// allows it. The files go to the quarantine folder, not away.
    async fn remove_local(&self, key: &IssueKey) -> Result<()> {
        if self.store.has_issue(key) || self.state.issue_by_key(key.as_str())?.is_some() {
            self.jira.confirm_account().await?;
            if !self.removals.take() {
                return Err(Error::DeletionCapped {
                    key: key.to_string(),
                    cap: self.removals.cap,
                });
            }
        }
        let created = self.created_ms(key, None)?;
        if let Some(ms) = created {
            self.transformer.mark(key.as_str(), ms)?;
        }
        self.store
            .quarantine_issue(key, chrono::Utc::now().date_naive())?;
        self.distribute_attachments(key);
        self.state.record_deleted(key.as_str())?;
        if let Some(ms) = created {
            // Again after the change (see `save`).
            self.transformer.mark(key.as_str(), ms)?;
        }
        tracing::info!(%key, "Issue removed upstream; local copy moved to quarantine/.");
        Ok(())
    }

    /// Applies what a poll learned about a saved issue whose `updated` did not change: the
    /// SLA overlay (`mirror.sla`), SLA custom field values and `fields.status`, atomically, and
    /// marks its table rows pending. Nothing is written when everything equals what is saved,
    /// nor when `write` is false (a dry run). True when the issue differs (and, when
    /// writing, was rewritten). The issue must be saved already.
    pub(crate) async fn refresh(
        &self,
        key: &IssueKey,
        fresh: Refresh,
        write: bool,
    ) -> Result<bool> {
        let _guard = self.locks.lock(key.as_str()).await?;
        let Some(issue) = self.store.load_issue(key)? else {
            return Err(Error::Invalid {
                issue: key.to_string(),
                message: "no saved copy to refresh".into(),
            });
        };
        let mut issue = crate::json::DeepValue::new(issue);
        let overlay = fresh
            .sla
            .map(sla_overlay)
            .filter(|o| issue[OVERLAY_KEY]["sla"] != *o);
        let status = fresh.status.filter(|s| issue["fields"]["status"] != *s);
        let fields: Vec<(String, Value)> = fresh
            .fields
            .into_iter()
            .filter(|(id, v)| issue["fields"].get(id.as_str()).unwrap_or(&Value::Null) != v)
            .collect();
        if overlay.is_none() && status.is_none() && fields.is_empty() {
            return Ok(false);
        }
        if !write {
            return Ok(true);
        }
        if let Some(overlay) = overlay {
            issue[OVERLAY_KEY]["sla"] = overlay;
        }
        if let Some(status) = status {
            issue["fields"]["status"] = status;
        }
        for (id, value) in fields {
            issue["fields"][id.as_str()] = value;
        }
        // Pending before and after the raw JSON changes, as in `save`.
        let created = self.created_ms(key, Some(&issue))?;
        if let Some(created) = created {
            self.transformer.mark(key.as_str(), created)?;
        }
        self.store.save_issue(key, &issue)?;
        if let Some(created) = created {
            self.transformer.mark(key.as_str(), created)?;
        }
        let (status_category, has_sla) = saved_status(&issue);
        self.state
            .set_issue_status(key.as_str(), status_category.as_deref(), has_sla)?;
        tracing::debug!(%key, "SLA figures and status refreshed.");
        Ok(true)
    }

    /// Reads the saved copy of `key` and records its status category and whether it has SLA
    /// data in the state (issues saved before schema 4 lack them). `None` when there is no
    /// saved copy.
    pub(crate) fn record_saved_status(&self, key: &IssueKey) -> Result<Option<SavedStatus>> {
        let saved = self.saved_status(key)?;
        if let Some(saved) = &saved {
            self.state.set_issue_status(
                key.as_str(),
                saved.status_category.as_deref(),
                saved.has_sla,
            )?;
        }
        Ok(saved)
    }

    /// The status category of the saved copy of `key` and whether it has SLA data, read from
    /// its JSON without recording anything. `None` when there is no saved copy.
    pub(crate) fn saved_status(&self, key: &IssueKey) -> Result<Option<SavedStatus>> {
        let Some(issue) = self.store.load_issue(key)? else {
            return Ok(None);
        };
        let issue = crate::json::DeepValue::new(issue);
        let (status_category, has_sla) = saved_status(&issue);
        Ok(Some(SavedStatus {
            status_category,
            has_sla,
        }))
    }

    /// The creation time of a saved issue: from the state, else from its JSON (`raw`, or the
    /// saved copy).
    fn created_ms(&self, key: &IssueKey, raw: Option<&Value>) -> Result<Option<i64>> {
        if let Some(ms) = self.state.created_ms(key.as_str())? {
            return Ok(Some(ms));
        }
        let created = |v: &Value| v["fields"]["created"].as_str().and_then(jira_time_ms);
        Ok(match raw {
            Some(v) => created(v),
            None => self
                .store
                .load_issue(key)
                .ok()
                .flatten()
                .map(crate::json::DeepValue::new)
                .as_deref()
                .and_then(created),
        })
    }

    async fn save(
        &self,
        mut issue: crate::json::DeepValue,
        meta: IssueMeta,
        fetched_ms: Option<i64>,
    ) -> Result<Outcome> {
        let key = meta.key.clone();
        let previous = self.state.issue_by_id(meta.id)?;
        // Under the issue's lock: a copy older than the saved one (a page listed before
        // another writer saved a newer version, a fetch that raced one) is never written.
        if let Some(saved) = &previous
            && saved.updated_ms > meta.updated_ms
            && IssueKey::parse(&saved.issue_key).is_ok_and(|k| self.store.has_issue(&k))
        {
            tracing::debug!(%key, saved = %saved.issue_key, "A copy older than the saved one; not written.");
            return Ok(Outcome::Unchanged(key));
        }
        // A part Jira refuses for this issue alone is left out and reported; anything else
        // (Jira failing, wrong credentials, the issue gone) stops the issue as before.
        let mut missing: Vec<MissingPart> = self
            .jira
            .complete_issue(&mut issue)
            .await?
            .into_iter()
            .map(|p| MissingPart::new(p.part, &p.error))
            .collect();
        // A known id under another key: Jira moved the issue. Its files follow it.
        let moved_from = match &previous {
            Some(prev) if prev.issue_key != key.as_str() => IssueKey::parse(&prev.issue_key).ok(),
            _ => None,
        };
        if let Some(old) = &moved_from {
            self.store.move_attachments(old, &key)?;
        }

        // The three parts draw on three budgets (the main account, the JSM account, the
        // media host): asked for at once, they overlap instead of queueing one behind another.
        let (remote_links, sla, attachments) = tokio::join!(
            self.remote_links_part(&key),
            self.sla_part(&key, &issue),
            self.sync_attachments(&key, &issue),
        );
        let (remote_links, sla, (attachments, refused)) = (remote_links?, sla?, attachments?);
        missing.extend(remote_links.1);
        missing.extend(sla.1);
        missing.extend(refused);
        let (remote_links, sla) = (remote_links.0, sla.0);
        issue[OVERLAY_KEY] = json!({
            "fetched_at": crate::time::ms_to_rfc3339(crate::time::now_ms()),
            "remote_links": remote_links,
            "sla": sla_overlay(sla),
            "attachments": attachments,
        });
        if !missing.is_empty() {
            issue[OVERLAY_KEY]["incomplete"] = json!(missing);
        }
        let (status_category, has_sla) = saved_status(&issue);
        // Pending before the raw JSON changes: a crash from here on is repaired at next start.
        if let Some(created) = meta.created_ms {
            self.transformer.mark(key.as_str(), created)?;
            if let Some(old) = &moved_from {
                self.transformer.mark(old.as_str(), created)?;
            }
        } else {
            tracing::warn!(%key, "Issue has no readable `created`; it cannot be placed in a month file.");
        }
        self.store.save_issue(&key, &issue)?;
        if let Some(old) = &moved_from {
            self.store.remove_issue(old)?;
            tracing::info!(from = %old, to = %key, "Issue moved; old key removed.");
            self.distribute_attachments(old);
        }
        self.distribute_attachments(&key);
        // And pending again once it has: a table writer running meanwhile (the daemon's)
        // may have applied the first mark before the new JSON was in place, and cleared it.
        if let Some(created) = meta.created_ms {
            self.transformer.mark(key.as_str(), created)?;
            if let Some(old) = &moved_from {
                self.transformer.mark(old.as_str(), created)?;
            }
        }
        self.state.record_saved_with(
            &SavedIssue {
                issue_id: meta.id,
                issue_key: key.to_string(),
                updated_ms: meta.updated_ms,
            },
            &IssueDetails {
                created_ms: meta.created_ms,
                status_category,
                has_sla,
                // An incomplete copy is no reason to skip the next fetch of a queued key.
                fetched_ms: fetched_ms.filter(|_| missing.is_empty()),
                incomplete: !missing.is_empty(),
            },
        )?;
        tracing::debug!(%key, "Issue saved.");
        Ok(Outcome::Saved {
            key,
            moved_from,
            missing,
        })
    }

    /// The issue's remote links, or `Null` and the refusal when Jira refuses them for this
    /// issue alone.
    async fn remote_links_part(&self, key: &IssueKey) -> Result<(Value, Option<MissingPart>)> {
        match self.jira.remote_links(key.as_str()).await {
            Ok(links) => Ok((Value::Array(links), None)),
            Err(e) if e.is_item_refusal() => {
                Ok((Value::Null, Some(MissingPart::new("remote links", &e))))
            }
            Err(e) => Err(e.into()),
        }
    }

    /// The issue's JSM SLAs when `[jira_sla]` is configured and the issue's project is a
    /// service desk (or says nothing of its type): only service requests have SLAs, so an
    /// issue of a software or business project costs no request.
    async fn sla_part(
        &self,
        key: &IssueKey,
        issue: &Value,
    ) -> Result<(Option<Vec<Value>>, Option<MissingPart>)> {
        let Some(client) = &self.sla else {
            return Ok((None, None));
        };
        if !may_have_sla(issue) {
            return Ok((None, None));
        }
        match client.sla(key.as_str()).await {
            Ok(sla) => Ok((sla, None)),
            Err(e) if e.is_item_refusal() => Ok((None, Some(MissingPart::new("SLA", &e)))),
            Err(e) => Err(e.into()),
        }
    }

    /// Downloads the issue's attachments that are not on disk yet (at once: the downloads
    /// budget bounds how many run), removes files of attachments that are gone, and returns
    /// one overlay entry per attachment with the parts to report missing. An attachment Jira
    /// refuses (401/403: `forbidden`; another 4xx: `failed`) or whose id is not an attachment
    /// id (`invalid_id`: never downloaded, never part of a path) is reported missing; one
    /// that is gone (404) is only marked `failed`.
    async fn sync_attachments(
        &self,
        key: &IssueKey,
        issue: &Value,
    ) -> Result<(Vec<Value>, Vec<MissingPart>)> {
        let mut missing = Vec::new();
        let listed = issue["fields"]["attachment"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        let previous = self.previous_attachments(key);
        let mut keep = HashSet::new();
        let mut out = Vec::with_capacity(listed.len());
        if !listed.is_empty() && self.attachments.download {
            archive::create_dir_durable(&self.store.attachments_dir(key))?;
        }
        // Whether a file was renamed into the folder by this call (see the end).
        let mut downloaded = false;
        // Files to download: (index of the entry in `out`, id, file name, path, size, the
        // name in Jira).
        let mut wanted = Vec::new();
        for a in &listed {
            let id = match &a["id"] {
                Value::String(s) => s.clone(),
                Value::Number(n) => n.to_string(),
                _ => continue,
            };
            let filename = a["filename"].as_str().unwrap_or("");
            let size = a["size"].as_u64();
            let mut entry = json!({ "id": id, "filename": filename, "size_bytes": size });
            if !is_attachment_id(&id) {
                let shown: String = id.chars().take(40).collect();
                let error = format!(
                    "attachment id {shown:?}{} is not a number of at most {MAX_ID_DIGITS} digits; not downloaded",
                    if shown.len() < id.len() { "…" } else { "" }
                );
                tracing::warn!(%key, %error, "Attachment with an invalid id.");
                entry["status"] = json!("invalid_id");
                entry["error"] = json!(error);
                missing.push(MissingPart {
                    part: format!("attachment {shown}"),
                    error,
                });
                out.push(entry);
                continue;
            }
            let file_name = attachment_file_name(&id, filename);
            if !self.attachments.download {
                entry["status"] = json!("not_downloaded");
            } else if size.is_some_and(|s| s > self.attachments.max_bytes) {
                entry["status"] = json!("skipped_too_large");
                tracing::info!(%key, attachment = %id, size, "Attachment over max_bytes skipped.");
            } else {
                let path = self.store.attachments_dir(key).join(&file_name);
                let reused = previous
                    .iter()
                    .find(|p| p["id"] == json!(id) && p["status"] == "downloaded")
                    .filter(|p| {
                        std::fs::metadata(&path)
                            .is_ok_and(|m| Some(m.len()) == p["size_bytes"].as_u64())
                    })
                    .cloned();
                match reused {
                    Some(p) => {
                        let written = p["size_bytes"].as_u64().unwrap_or(0);
                        mark_downloaded(&mut entry, key, &file_name, written, p["sha256"].clone());
                        keep.insert(file_name);
                    }
                    None => {
                        wanted.push((out.len(), id, file_name, path, size, filename.to_string()))
                    }
                }
            }
            out.push(entry);
        }
        let results =
            futures::future::join_all(wanted.iter().map(|(_, id, _, path, size, jira_name)| {
                self.jira.download_attachment(
                    id,
                    jira_name,
                    path,
                    *size,
                    self.attachments.max_bytes,
                )
            }))
            .await;
        for ((index, id, file_name, ..), result) in wanted.into_iter().zip(results) {
            let entry = &mut out[index];
            match result {
                Ok(d) => {
                    downloaded = true;
                    mark_downloaded(entry, key, &file_name, d.size, json!(d.sha256));
                    keep.insert(file_name);
                }
                Err(jira::Error::TooLarge { .. }) => {
                    entry["status"] = json!("skipped_too_large");
                    tracing::info!(%key, attachment = %id, "Attachment over max_bytes skipped.");
                }
                Err(e @ jira::Error::NotFound { .. }) => {
                    entry["status"] = json!("failed");
                    entry["error"] = json!(e.to_string());
                    tracing::warn!(%key, attachment = %id, error = %e, "Attachment gone upstream; not downloaded.");
                }
                // The media host stalls or trickles this file: the issue is saved without
                // it, and fetched again later like any missing part.
                Err(e @ jira::Error::DownloadDeadline { .. }) => {
                    entry["status"] = json!("failed");
                    entry["error"] = json!(e.to_string());
                    tracing::warn!(%key, attachment = %id, error = %e, "Attachment download too slow; the issue is saved without it.");
                    missing.push(MissingPart::new(format!("attachment {id}"), &e));
                }
                Err(e) if e.is_item_refusal() => {
                    let status = if matches!(e, jira::Error::Forbidden { .. }) {
                        "forbidden"
                    } else {
                        "failed"
                    };
                    entry["status"] = json!(status);
                    entry["error"] = json!(e.to_string());
                    tracing::warn!(%key, attachment = %id, error = %e, "Attachment refused; the issue is saved without it.");
                    missing.push(MissingPart::new(format!("attachment {id}"), &e));
                }
                Err(e) => return Err(e.into()),
            }
        }
        self.store.prune_attachments(key, &keep)?;
        // The downloads were renamed into the folder (each file fsynced first); one fsync of
        // the folder makes the renames durable before the issue JSON, written next, records
        // the files as downloaded. Once per issue rather than per file.
        if downloaded {
            archive::sync_dir(&self.store.attachments_dir(key))?;
        }
        Ok((out, missing))
    }

    fn previous_attachments(&self, key: &IssueKey) -> Vec<Value> {
        self.store
            .load_issue(key)
            .ok()
            .flatten()
            .map(crate::json::DeepValue::new)
            .and_then(|v| v[OVERLAY_KEY]["attachments"].as_array().cloned())
            .unwrap_or_default()
    }
}

/// Records in an attachment's overlay `entry` that its file is on disk.
fn mark_downloaded(entry: &mut Value, key: &IssueKey, file_name: &str, size: u64, sha256: Value) {
    entry["status"] = json!("downloaded");
    entry["size_bytes"] = json!(size);
    entry["sha256"] = sha256;
    entry["local_path"] = json!(RawStore::attachment_rel_path(key, file_name));
}

/// Whether an issue may have JSM SLAs: its project is a service desk, or the issue does not
/// say what its project is (then the SLA endpoint decides).
pub(crate) fn may_have_sla(issue: &Value) -> bool {
    match issue["fields"]["project"]["projectTypeKey"].as_str() {
        Some(kind) => kind == "service_desk",
        None => true,
    }
}

/// Longest attachment id accepted, in digits: Jira's ids are 64-bit numbers.
const MAX_ID_DIGITS: usize = 19;

/// Whether `id` is an attachment id we may request and use in a file name: 1 to
/// [`MAX_ID_DIGITS`] ASCII digits.
fn is_attachment_id(id: &str) -> bool {
    (1..=MAX_ID_DIGITS).contains(&id.len()) && id.bytes().all(|b| b.is_ascii_digit())
}

/// What the state keeps of a saved issue's status (see [`Pipeline::record_saved_status`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SavedStatus {
    /// `fields.status.statusCategory.key` (`new`, `indeterminate`, `done`).
    pub status_category: Option<String>,
    /// Whether the issue has SLA data: an SLA in the overlay, or an SLA custom field.
    pub has_sla: bool,
}

/// What a poll read of an issue Jira did not mark as changed (see [`Pipeline::refresh`]).
#[derive(Debug, Clone, Default)]
pub struct Refresh {
    /// The JSM account's `/sla` values: `None` when not asked, `Some(None)` when the issue
    /// is not a customer request (404).
    pub sla: Option<Option<Vec<Value>>>,
    /// `fields.status` as Jira answers it now.
    pub status: Option<Value>,
    /// SLA custom fields as Jira answers them now, by field id (a field Jira left out of
    /// its answer is not listed).
    pub fields: Vec<(String, Value)>,
}

/// The `mirror.sla` overlay for the values of `/rest/servicedeskapi/request/{key}/sla`.
fn sla_overlay(values: Option<Vec<Value>>) -> Value {
    values.map_or(
        Value::Null,
        |values| json!({ "source": "jsm", "values": values }),
    )
}

/// The status category and whether there is SLA data, from a saved issue's JSON.
fn saved_status(issue: &Value) -> (Option<String>, bool) {
    let category = issue["fields"]["status"]["statusCategory"]["key"]
        .as_str()
        .map(str::to_owned);
    let overlay = issue[OVERLAY_KEY]["sla"]["values"]
        .as_array()
        .is_some_and(|v| !v.is_empty());
    // SLA custom fields count too: without a JSM account they are the only SLA source.
    let fields = issue["fields"]
        .as_object()
        .is_some_and(|fields| fields.values().any(crate::transform::rows::looks_like_sla));
    (category, overlay || fields)
}

/// The identity of an issue as Jira sent it.
#[derive(Debug, Clone)]
struct IssueMeta {
    id: i64,
    key: IssueKey,
    updated_ms: i64,
    created_ms: Option<i64>,
}

impl IssueMeta {
    fn of(issue: &Value) -> Result<IssueMeta> {
        let label = issue["key"]
            .as_str()
            .unwrap_or("?")
            .chars()
            .take(40)
            .collect::<String>();
        let invalid = |message: &str| Error::Invalid {
            issue: label.clone(),
            message: message.to_string(),
        };
        let key = IssueKey::parse(issue["key"].as_str().ok_or_else(|| invalid("no key"))?)?;
        let id = match &issue["id"] {
            Value::String(s) => s.parse().ok(),
            Value::Number(n) => n.as_i64(),
            _ => None,
        }
        .ok_or_else(|| invalid("no numeric id"))?;
        let updated_ms = issue["fields"]["updated"]
            .as_str()
            .and_then(jira_time_ms)
            .ok_or_else(|| invalid("no readable `updated` field"))?;
        let created_ms = issue["fields"]["created"].as_str().and_then(jira_time_ms);
        Ok(IssueMeta {
            id,
            key,
            updated_ms,
            created_ms,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::jira::{ClientOptions, Credentials, RequestBudget};
    use crate::simulator::{SimConfig, Simulator};
    use crate::transform::fields::RowContext;
    use crate::transform::parquet::MonthStore;
    use archive::journal::{self, Step};

    /// A pipeline on a fresh mirror in `dir` against `sim`.
    fn pipeline(sim: &Simulator, dir: &std::path::Path) -> Pipeline {
        let c = sim.config();
        let jira = JiraClient::new(
            &url::Url::parse(&sim.base_url()).unwrap(),
            Credentials::basic(c.email.clone(), c.api_token.clone()),
            RequestBudget::new(4, 1000.0),
            ClientOptions::default(),
        )
        .unwrap();
        let store = RawStore::new(dir);
        store.ensure_dirs().unwrap();
        let state = Arc::new(State::open(&dir.join("state.db")).unwrap());
        let transformer = Arc::new(Transformer::new(
            store.clone(),
            MonthStore::new(dir.join("parquet"), None),
            state.clone(),
            RowContext {
                catalog: crate::transform::fields::FieldCatalog::empty(),
                fields: Default::default(),
                sla: Default::default(),
            },
        ));
        let policy = AttachmentPolicy {
            download: true,
            max_bytes: 1024 * 1024,
        };
        let scope = crate::scope::Scope::new("project = SUP");
        Pipeline::new(jira, scope, None, store, state, policy, transformer)
    }

    /// The crash-safety order of one save: every attachment renamed into its folder, then
    /// that folder fsynced, and only then the issue JSON that records them as downloaded.
    #[tokio::test]
    async fn the_attachment_folder_is_fsynced_after_the_downloads_and_before_the_json() {
        let sim = Simulator::start(SimConfig {
            issues: 1,
            ..SimConfig::default()
        })
        .await
        .unwrap();
        let dir = tempfile::tempdir().unwrap();
        let pipeline = pipeline(&sim, dir.path());
        journal::watch(dir.path());
        let key = IssueKey::parse(&sim.issue_keys()[0]).unwrap();
        let outcome = pipeline.process_key(&key).await.unwrap();
        assert!(matches!(outcome, Outcome::Saved { .. }), "{outcome:?}");

        let steps = journal::steps(dir.path());
        let folder = pipeline.store().attachments_dir(&key);
        let renamed: Vec<usize> = (0..steps.len())
            .filter(
                |&i| matches!(&steps[i], Step::Renamed(p) if p.parent() == Some(folder.as_path())),
            )
            .collect();
        // The first issue carries five small attachments (and one over max_bytes).
        assert_eq!(renamed.len(), 5, "{steps:?}");
        let json = pipeline.store().issue_path(&key);
        let written = steps
            .iter()
            .position(|s| *s == Step::Wrote(json.clone()))
            .expect("the issue JSON was written");
        let synced: Vec<usize> = (0..steps.len())
            .filter(|&i| steps[i] == Step::SyncDir(folder.clone()))
            .collect();
        assert_eq!(synced.len(), 1, "once per issue: {steps:?}");
        assert!(
            renamed.iter().all(|&r| r < synced[0]) && synced[0] < written,
            "renames, then the folder's fsync, then the JSON: {steps:?}"
        );
        // The new folder itself is durable in raw/attachments before any file lands in it.
        let created = steps
            .iter()
            .position(|s| *s == Step::SyncDir(pipeline.store().attachments_root()))
            .expect("raw/attachments fsynced after creating the issue's folder");
        assert!(created < renamed[0], "{steps:?}");

        // Saved again with nothing new to download: no rename, no fsync of the folder.
        sim.touch(key.as_str());
        let before = journal::steps(dir.path()).len();
        pipeline.process_key(&key).await.unwrap();
        let again = journal::steps(dir.path())[before..].to_vec();
        assert!(again.contains(&Step::Wrote(json)), "{again:?}");
        assert!(!again.contains(&Step::SyncDir(folder)), "{again:?}");
        sim.shutdown().await;
    }
}
