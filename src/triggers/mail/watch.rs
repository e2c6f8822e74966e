//! The mailbox watch loop behind `run`: one session kept open, a pass whenever the server says
//! something changed, reconnect after any drop, until shutdown.
//!
//! - **IDLE when it can.** With `idle = true` and a server that offers IDLE (RFC 2177), the
//!   loop waits in IDLE and runs a pass as soon as the server announces news; each IDLE is
//!   re-issued after at most [`imap::MAX_IDLE`] (29 minutes), as the RFC asks, and a pass runs
//!   then too, which also catches anything a server failed to announce. Otherwise it polls every
//!   `poll_interval_secs`.
//! - **News during a pass is not lost.** Mail delivered after a pass's search but reported
//!   with it or during a later command of that pass (Dovecot answers `* SEARCH`, then
//!   `* n EXISTS`) would not be announced again by IDLE, so the loop asks the session
//!   ([`Session::has_news`]) and passes again instead of idling; news reported before the
//!   server accepts IDLE ends that IDLE at once.
//! - **Any drop is survivable.** A failed connect, login or command ends the session; the loop
//!   waits (exponential backoff with jitter from `backon`, 1 s doubling up to 5 minutes, reset
//!   by the next good pass) and reconnects. Problems an operator must fix (a wrong password, a
//!   missing folder) are retried the same way, at the slow end, and logged as errors, so the
//!   daemon's other triggers go on and the mailbox recovers once the server side is fixed.
//!   Only a fatal pipeline error (Jira credentials, the state database) ends the loop.
//! - **Shutdown is prompt.** The cancellation token interrupts IDLE, the poll wait and the
//!   backoff wait; a pass in progress finishes its current mail first, so nothing is left
//!   half-acknowledged (and an unacknowledged mail is simply read again next start).

use std::sync::Arc;
use std::time::Duration;

use backon::{BackoffBuilder, ExponentialBuilder};
use indicatif::ProgressBar;
use tokio_util::sync::CancellationToken;

use super::imap::{self, IdleOutcome, Session};
use super::pass::{self, Error, MailSummary, Sink};
use crate::config::ImapConfig;
use crate::jira::jql::scope_projects;
use crate::state::State;
use crate::time::now_ms;

/// The shortest wait for a mail of the retry set that is due.
const RETRY_MIN_WAIT: Duration = Duration::from_secs(1);

/// The shortest and longest wait before reconnecting.
const RECONNECT_MIN: Duration = Duration::from_secs(1);
const RECONNECT_MAX: Duration = Duration::from_secs(300);

/// How the loop waits for news.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WatchOptions {
    /// Use IDLE when the server offers it.
    pub idle: bool,
    /// Wait between passes when not idling.
    pub poll_interval: Duration,
    /// The longest single IDLE (capped at [`imap::MAX_IDLE`]).
    pub idle_timeout: Duration,
}

impl WatchOptions {
    /// The options `[imap]` asks for.
    pub fn from_config(config: &ImapConfig) -> Self {
        WatchOptions {
            idle: config.idle,
            poll_interval: Duration::from_secs(config.poll_interval_secs),
            idle_timeout: imap::MAX_IDLE,
        }
    }
}

/// [`watch`] of the mailbox `config` for the projects of the scope `jql`, as a future that
/// owns what it uses, ready to spawn: what `run` supervises, and what the tests and the
/// latency benchmark start the same way.
pub fn watch_task(
    state: Arc<State>,
    config: ImapConfig,
    jql: &str,
    sink: impl Sink + Send + Sync + 'static,
    options: WatchOptions,
    stop: CancellationToken,
    report: impl FnMut(&MailSummary) + Send + 'static,
) -> impl Future<Output = Result<(), Error>> + Send + 'static {
    let projects = scope_projects(jql);
    async move { watch(&state, &config, &projects, &sink, options, &stop, report).await }
}

/// Watches the mailbox until `stop` is cancelled, handing each notification to `sink` and
/// each pass's summary to `report`. Returns `Ok` on shutdown, `Err` only for a fatal
/// pipeline error.
pub async fn watch(
    state: &State,
    config: &ImapConfig,
    projects: &[String],
    sink: &impl Sink,
    options: WatchOptions,
    stop: &CancellationToken,
    mut report: impl FnMut(&MailSummary),
) -> Result<(), Error> {
    let settings = pass::settings(config);
    let progress = ProgressBar::hidden();
    let mut backoff = reconnect_policy();
    let mut failing_since: Option<std::time::Instant> = None;
    loop {
        if stop.is_cancelled() {
            return Ok(());
        }
        let connected = tokio::select! {
            connected = Session::connect(&settings) => connected,
            () = stop.cancelled() => return Ok(()),
        };
        let error = match connected {
            Ok(mut session) => {
                let ended = session_loop(
                    state,
                    &mut session,
                    config,
                    projects,
                    sink,
                    options,
                    stop,
                    &progress,
                    &mut report,
                    || {
                        backoff = reconnect_policy();
                        if let Some(since) = failing_since.take() {
                            tracing::info!(
                                server = %settings.server(),
                                down_secs = since.elapsed().as_secs(),
                                "Mailbox reachable again."
                            );
                        }
                    },
                )
                .await;
                match ended {
                    Ok(()) => {
                        if let Err(e) = session.logout().await {
                            tracing::debug!(error = %e, "IMAP logout failed.");
                        }
                        return Ok(());
                    }
                    Err(Error::Imap(e)) => e,
                    Err(fatal) => return Err(fatal),
                }
            }
            Err(e) => e,
        };
        failing_since.get_or_insert_with(std::time::Instant::now);
        let wait = backoff.next().unwrap_or(RECONNECT_MAX);
        if error.is_transient() {
            tracing::warn!(error = %error, retry_in_secs = wait.as_secs_f32(), "Mailbox connection lost; reconnecting.");
        } else {
            tracing::error!(error = %error, retry_in_secs = wait.as_secs_f32(), "Mailbox unusable; retrying.");
        }
        tokio::select! {
            () = tokio::time::sleep(wait) => {}
            () = stop.cancelled() => return Ok(()),
        }
    }
}

/// Passes and waits on one session until shutdown (`Ok`) or an error.
#[allow(clippy::too_many_arguments)]
async fn session_loop(
    state: &State,
    session: &mut Session,
    config: &ImapConfig,
    projects: &[String],
    sink: &impl Sink,
    options: WatchOptions,
    stop: &CancellationToken,
    progress: &ProgressBar,
    report: &mut impl FnMut(&MailSummary),
    mut healthy: impl FnMut(),
) -> Result<(), Error> {
    let idle = options.idle && session.supports_idle();
    if options.idle && !idle {
        tracing::info!(
            poll_secs = options.poll_interval.as_secs(),
            "The IMAP server does not offer IDLE; polling instead."
        );
    }
    loop {
        let mut summary = pass::pass_on(state, session, config, projects, sink, progress).await?;
        sink.after_pass(&mut summary, progress).await?;
        healthy();
        if summary != MailSummary::default() {
            report(&summary);
        }
        if stop.is_cancelled() {
            return Ok(());
        }
        if session.has_news() {
            continue;
        }
        // A mail in the retry set is tried again when it is due, even if the mailbox stays
        // quiet (at least a second from now, so a due mail cannot make the loop spin).
        let wait =
            match state.mail_next_retry_ms(&config.mailbox, session.mailbox().uid_validity)? {
                Some(due) => {
                    let ms = u64::try_from(due.saturating_sub(now_ms())).unwrap_or(0);
                    options
                        .idle_timeout
                        .min(Duration::from_millis(ms).max(RETRY_MIN_WAIT))
                }
                None => options.idle_timeout,
            };
        if idle {
            match session.idle(wait, stop.cancelled()).await? {
                IdleOutcome::NewData | IdleOutcome::Timeout => {}
                IdleOutcome::Stopped => return Ok(()),
            }
        } else {
            tokio::select! {
                () = tokio::time::sleep(options.poll_interval.min(wait)) => {}
                () = stop.cancelled() => return Ok(()),
            }
        }
    }
}

fn reconnect_policy() -> impl Iterator<Item = Duration> {
    ExponentialBuilder::default()
        .with_min_delay(RECONNECT_MIN)
        .with_max_delay(RECONNECT_MAX)
        .with_factor(2.0)
        .with_jitter()
        .without_max_times()
        .build()
}
