//! Listing a search and running what it lists: the loop behind `backfill` and `sweep`.
//!
//! Two halves run at once on one task. The *lister* asks Jira for page after page (each
//! page needs the previous one's `nextPageToken`) and stays about a page ahead of the
//! *workers*, which run the listed issues through the pipeline `parallel ×`
//! [`ISSUES_PER_SLOT`] at a time, with no barrier between pages. So the request slots stay
//! busy while the next page is on the wire, while the last issues of a page finish, and
//! while an issue's local work (parsing, writing, the state database) runs between its
//! requests; the request budget, not this loop, bounds what is on the wire.
//!
//! Pages are still *completed* in order: `page_done(next_token, saved)` (the backfill's
//! resume point) runs for a page only when every issue of it and of every page before it is
//! saved or durably recorded as failed, so a backfill killed at any instruction resumes at
//! the first unfinished page. A page that cannot be used is split ([`isolate_page`]) by the
//! lister, whose parts flow to the workers like any page.

use std::collections::{BTreeMap, VecDeque};

use indicatif::ProgressBar;
use serde_json::Value;
use tokio::sync::mpsc;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use super::{Summary, is_saved_at, listed_identity, record_issue_failure, settle};
use crate::jira::{self, jql};
use crate::json::DeepValue;
use crate::key::IssueKey;
use crate::pipeline::{self, Pipeline};

/// Issues per search page (Jira's maximum when all fields are requested).
pub(crate) const PAGE_SIZE: u32 = 100;

/// Issues per search when a page that could not be used is split (see [`isolate_page`]).
const SPLIT_SIZE: usize = 10;

/// Issues in progress per request slot: an issue holds a slot only while one of its
/// requests is on the wire, so one issue per slot would leave slots idle during each
/// issue's local work and while it waits on another budget (SLA, downloads).
pub(crate) const ISSUES_PER_SLOT: usize = 2;

/// What [`process_search`] lists.
#[derive(Debug, Clone)]
pub struct Search<'a> {
    /// The JQL.
    pub query: &'a str,
    /// The page to start at (a stored token when resuming), `None` for the first.
    pub token: Option<String>,
    /// Write the table rows after every page (otherwise the caller applies them at the end).
    pub tables_each_page: bool,
}

/// What the lister hands to the workers, in order.
enum Listed {
    /// A whole page: its issues and the token of the page after it.
    Page(Vec<Value>, Option<String>),
    /// Issues of the current page (a part of a split one).
    Issues(Vec<Value>),
    /// The current (split) page is complete; `next` is the token of the page after it.
    PageEnd(Option<String>),
}

/// Lists `search.query` page by page (all fields, embedded changelog) and runs every listed
/// issue through the pipeline, `parallel ×` [`ISSUES_PER_SLOT`] at a time across pages;
/// for each page in order, once all its issues are done, writes the table rows when
/// `search.tables_each_page` and calls `page_done(next_token, saved)`. A refused start
/// token (Jira's expire after 7 days: HTTP 400) restarts from the first page; issues saved
/// before cost no request when listed again. A page that cannot be used while Jira
/// otherwise answers is split ([`isolate_page`]), so one bad issue fails alone.
pub(crate) async fn process_search(
    pipeline: &Pipeline,
    search: Search<'_>,
    parallel: usize,
    summary: &mut Summary,
    progress: &ProgressBar,
    page_done: impl FnMut(Option<&str>, u64) -> Result<(), pipeline::Error>,
) -> Result<(), pipeline::Error> {
    // Room for one page: the lister asks for a page only once it has a slot for it, so the
    // next page is on its way (or waiting) while the workers run the current one.
    let (tx, rx) = mpsc::channel(1);
    let mut listed = Summary::default();
    // A listing that fails (Jira down, wrong credentials) stops the workers taking issues:
    // the ones not started are not done, so their pages are not either, and the next run
    // redoes them, instead of each going through its retries against a failing Jira.
    let listing_failed = CancellationToken::new();
    let lister = async {
        let listing = list(
            pipeline,
            search.query,
            search.token,
            tx,
            &mut listed,
            progress,
        )
        .await;
        if listing.is_err() {
            listing_failed.cancel();
        }
        listing
    };
    let workers = work(
        pipeline,
        rx,
        Workers {
            parallel,
            tables_each_page: search.tables_each_page,
            stop: &listing_failed,
        },
        summary,
        progress,
        page_done,
    );
    // The workers end when the lister has ended (its sender dropped) and every issue is
    // done, or at their first fatal error, which drops the receiver and so ends the lister.
    let (listing, working) = tokio::join!(lister, workers);
    summary.unchanged += listed.unchanged;
    summary.failed += listed.failed;
    working?;
    listing
}

/// The lister: sends every page's issues, then its end, until the last page. Returns early
/// (and fine) when the workers stopped.
async fn list(
    pipeline: &Pipeline,
    query: &str,
    mut token: Option<String>,
    tx: mpsc::Sender<Listed>,
    summary: &mut Summary,
    progress: &ProgressBar,
) -> Result<(), pipeline::Error> {
    let mut resumed = token.is_some();
    loop {
        // A page is asked for only when the channel has room for it: parsed issues are the
        // bulk of the memory, so at most the page being worked and the next one are held.
        let Ok(slot) = tx.reserve().await else {
            return Ok(());
        };
        let found = pipeline
            .jira()
            .search_page(
                query,
                token.as_deref(),
                &["*all"],
                Some("changelog"),
                PAGE_SIZE,
            )
            .await;
        let next = match found {
            Ok(page) => {
                slot.send(Listed::Page(page.issues, page.next_page_token.clone()));
                page.next_page_token
            }
            // A stored token Jira refuses, or a stored position the listing has moved away
            // from (Data Center: issues deleted since, see `offset_search_page`): the
            // listing starts over; what is saved already costs no fetch.
            Err(jira::Error::Status { status: 400, .. } | jira::Error::Protocol { .. })
                if resumed =>
            {
                tracing::warn!("Stored page token was refused; listing again from the first page.");
                token = None;
                resumed = false;
                continue;
            }
            Err(e) if e.is_fatal() => return Err(e.into()),
            Err(e) => {
                drop(slot);
                let page = PageRef {
                    query,
                    token: token.as_deref(),
                };
                let Some(next) = isolate_page(pipeline, page, e, &tx, summary, progress).await?
                else {
                    return Ok(());
                };
                if tx.send(Listed::PageEnd(next.clone())).await.is_err() {
                    return Ok(());
                }
                next
            }
        };
        resumed = false;
        match next {
            Some(next) => token = Some(next),
            None => return Ok(()),
        }
    }
}

/// How far a page has come at the workers.
#[derive(Default)]
struct PageProgress {
    /// Issues of the page not done yet.
    outstanding: usize,
    /// Issues of the page saved so far.
    saved: u64,
    /// Set when the lister ended the page: the next page's token.
    end: Option<Option<String>>,
}

/// How the workers run.
struct Workers<'a> {
    /// Requests at once (the main budget's slots); issues at once are
    /// [`ISSUES_PER_SLOT`] times that.
    parallel: usize,
    /// Write the table rows after every page.
    tables_each_page: bool,
    /// Cancelled when the listing failed: finish the running issues, start no more.
    stop: &'a CancellationToken,
}

/// The workers: run the listed issues, complete pages in order.
async fn work(
    pipeline: &Pipeline,
    mut rx: mpsc::Receiver<Listed>,
    how: Workers<'_>,
    summary: &mut Summary,
    progress: &ProgressBar,
    mut page_done: impl FnMut(Option<&str>, u64) -> Result<(), pipeline::Error>,
) -> Result<(), pipeline::Error> {
    let limit = how.parallel.max(1) * ISSUES_PER_SLOT;
    let mut waiting: VecDeque<(u64, Value)> = VecDeque::new();
    let mut pages: BTreeMap<u64, PageProgress> = BTreeMap::new();
    let mut receiving = 0u64;
    let mut listing = true;
    // Each issue is a task of its own, so one issue's blocking work (an fsync, a commit of
    // the state database) never holds up the others, and issues use every core. Dropping the
    // set (a fatal error) aborts what still runs, as dropping the futures did.
    let mut running = JoinSet::new();
    loop {
        while running.len() < limit
            && let Some((page, issue)) = waiting.pop_front()
        {
            let issue = DeepValue::new(issue);
            let pipeline = pipeline.clone();
            running.spawn(async move {
                let label = issue["key"].as_str().unwrap_or("?").to_string();
                (page, label, pipeline.process_listed(issue).await)
            });
        }
        while let Some(first) = pages.first_entry()
            && first.get().outstanding == 0
            && first.get().end.is_some()
        {
            let page = first.remove();
            if how.tables_each_page {
                pipeline.apply_pending().await?;
            }
            page_done(page.end.flatten().as_deref(), page.saved)?;
        }
        if !listing && waiting.is_empty() && running.is_empty() {
            return Ok(());
        }
        tokio::select! {
            Some(joined) = running.join_next(), if !running.is_empty() => {
                // A panic is a bug: it goes on unwinding, as it would have in this task.
                let (page, label, result) = joined.unwrap_or_else(|e| match e.try_into_panic() {
                    Ok(panic) => std::panic::resume_unwind(panic),
                    Err(e) => unreachable!("issue tasks are aborted only with the set: {e}"),
                });
                let saved_before = summary.saved;
                settle(pipeline, &label, result, summary, progress)?;
                if let Some(p) = pages.get_mut(&page) {
                    p.outstanding -= 1;
                    p.saved += summary.saved - saved_before;
                }
            }
            // The issues already running finish (they hold no failing listing up); the ones
            // waiting are dropped undone, so their pages never complete in this run.
            () = how.stop.cancelled(), if listing || !waiting.is_empty() => {
                listing = false;
                waiting.clear();
            }
            message = rx.recv(), if listing && waiting.len() < limit => match message {
                Some(Listed::Page(issues, next)) => {
                    let page = pages.entry(receiving).or_default();
                    page.outstanding += issues.len();
                    page.end = Some(next);
                    waiting.extend(issues.into_iter().map(|issue| (receiving, issue)));
                    receiving += 1;
                }
                Some(Listed::Issues(issues)) => {
                    pages.entry(receiving).or_default().outstanding += issues.len();
                    waiting.extend(issues.into_iter().map(|issue| (receiving, issue)));
                }
                Some(Listed::PageEnd(next)) => {
                    pages.entry(receiving).or_default().end = Some(next);
                    receiving += 1;
                }
                None => listing = false,
            },
            else => return Ok(()),
        }
    }
}

/// A search page: the query and the token that starts it.
#[derive(Debug, Clone, Copy)]
struct PageRef<'a> {
    query: &'a str,
    token: Option<&'a str>,
}

/// Handles a search page Jira could not deliver in one piece (`error`, after the client's
/// retries): an issue in it that Jira cannot render, or whose JSON cannot be read, must not
/// hold up every other issue, in this run or any later one.
///
/// If Jira does not answer `/myself` either (one attempt), it is failing as a whole and
/// `error` is returned: nothing to isolate. Otherwise the page is listed again with only
/// `key` and `updated` (no issue content), the issues that changed are asked for
/// [`SPLIT_SIZE`] at a time by key and sent to the workers, and the keys of a part that
/// still fails one by one ([`search_one`]), where only the bad issue fails (recorded
/// against its key). Returns the listing's next page token, or `None` when the workers
/// stopped.
async fn isolate_page(
    pipeline: &Pipeline,
    page: PageRef<'_>,
    error: jira::Error,
    tx: &mpsc::Sender<Listed>,
    summary: &mut Summary,
    progress: &ProgressBar,
) -> Result<Option<Option<String>>, pipeline::Error> {
    let jira = pipeline.jira();
    match jira.probe().await {
        Ok(()) => {}
        Err(e) if e.is_fatal() => return Err(e.into()),
        Err(_) => return Err(error.into()),
    }
    tracing::warn!(error = %error, "A search page could not be used; splitting it to find the issue behind it.");
    let light = jira
        .search_page(page.query, page.token, &["key", "updated"], None, PAGE_SIZE)
        .await?;
    let mut changed = Vec::new();
    for issue in &light.issues {
        match listed_identity(issue) {
            Some((key, id, updated)) => {
                if is_saved_at(pipeline, &key, id, updated)? {
                    summary.unchanged += 1;
                    progress.inc(1);
                } else {
                    changed.push(key);
                }
            }
            None => tracing::warn!("A search result without a readable key or id was skipped."),
        }
    }
    for part in changed.chunks(SPLIT_SIZE) {
        let query = jql::keys_in(part.iter().map(IssueKey::as_str));
        let found = jira
            .search_page(
                &query,
                None,
                &["*all"],
                Some("changelog"),
                SPLIT_SIZE as u32,
            )
            .await;
        match found {
            Ok(found) => {
                if tx.send(Listed::Issues(found.issues)).await.is_err() {
                    return Ok(None);
                }
            }
            Err(e) if e.is_fatal() => return Err(e.into()),
            Err(e) => {
                tracing::debug!(error = %e, keys = part.len(), "Part of a split page failed too; asking for its issues one by one.");
                for key in part {
                    if !search_one(pipeline, key, tx, summary, progress).await? {
                        return Ok(None);
                    }
                }
            }
        }
    }
    Ok(Some(light.next_page_token))
}

/// One issue of a split page, searched by its key alone (search, not `GET /issue`, so it
/// arrives as the page would have brought it) and sent to the workers. If even that fails,
/// this is the bad issue: its failure is recorded against its key. `false` when the workers
/// stopped.
async fn search_one(
    pipeline: &Pipeline,
    key: &IssueKey,
    tx: &mpsc::Sender<Listed>,
    summary: &mut Summary,
    progress: &ProgressBar,
) -> Result<bool, pipeline::Error> {
    let query = jql::keys_in([key.as_str()]);
    match pipeline
        .jira()
        .search_page(&query, None, &["*all"], Some("changelog"), 1)
        .await
    {
        Ok(found) => Ok(tx.send(Listed::Issues(found.issues)).await.is_ok()),
        Err(e) if e.is_fatal() => Err(e.into()),
        Err(e) => {
            summary.failed += 1;
            progress.inc(1);
            record_issue_failure(pipeline, key.as_str(), &e.into())?;
            Ok(true)
        }
    }
}
