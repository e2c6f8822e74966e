//! The commands, built from the configuration: open the state and raw store, build the Jira
//! clients over one shared request budget, run the trigger, print a summary, and choose the
//! exit status. `anyhow` lives here and in `main.rs` only; the modules below return typed
//! errors.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context as _, Result};
use indicatif::ProgressBar;
use serde_json::json;

use crate::cli::{Cli, Command};
use crate::config::{Config, ConfigError};
use crate::daemon::{self, DaemonOptions};
use crate::jira::{self, ClientOptions, JiraClient, RequestBudget};
use crate::job::{Finished, Report, RunRecord};
use crate::key::IssueKey;
use crate::pipeline::distribution::Distribution;
use crate::pipeline::{self, AttachmentPolicy, Pipeline};
use crate::progress::command_progress;
use crate::state::State;
use crate::store::archive::RawStore;
use crate::time::ms_to_rfc3339;
use crate::transform::Transformer;
use crate::transform::fields::FieldCatalog;
use crate::transform::fields::RowContext;
use crate::transform::parquet::{MonthStore, RowCounts};
use crate::triggers::backfill::{BackfillOptions, backfill, backfill_dry_run};
use crate::triggers::mail::pass as mail;
use crate::triggers::reconcile::{ReconcileOptions, reconcile};
use crate::triggers::sla_poll::{SlaPollOptions, poll_sla};
use crate::triggers::sweep::{SweepOptions, sweep};
use crate::triggers::{self, Summary};
use tokio_util::sync::CancellationToken;

pub mod auth;
#[cfg(feature = "simulator")]
mod demo;
mod status;

use status::{print_table_problems, status};

/// Exit statuses (the README's "Commands").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum Exit {
    /// Success.
    Ok = 0,
    /// Finished, but some issues failed (recorded, retried later).
    Partial = 1,
    /// Usage, configuration or credential error.
    Usage = 2,
}

/// The exit status for an error that stopped a command: 2 for configuration and credential
/// problems (the operator must change something), 1 otherwise.
pub fn exit_code_for(err: &anyhow::Error) -> Exit {
    for cause in err.chain() {
        if cause.downcast_ref::<ConfigError>().is_some()
            || cause
                .downcast_ref::<crate::store::lock::DaemonLockError>()
                .is_some()
        {
            return Exit::Usage;
        }
        if let Some(e) = cause.downcast_ref::<jira::Error>()
            && e.is_fatal()
        {
            return Exit::Usage;
        }
        // Mailbox login, TLS trust, a missing folder or an insecure host: the operator fixes
        // the configuration; a dropped connection is worth another try.
        if let Some(e) = cause.downcast_ref::<crate::triggers::mail::imap::Error>()
            && !e.is_transient()
        {
            return Exit::Usage;
        }
        if let Some(pipeline::Error::Jira(e)) = cause.downcast_ref::<pipeline::Error>()
            && e.is_fatal()
        {
            return Exit::Usage;
        }
        match cause.downcast_ref::<daemon::Error>() {
            // A schedule that does not parse, a metrics address taken or not ours: the
            // operator fixes the configuration (a restart would fail the same way).
            Some(daemon::Error::Schedule { .. } | daemon::Error::Metrics { .. }) => {
                return Exit::Usage;
            }
            Some(daemon::Error::Pipeline(pipeline::Error::Jira(e))) if e.is_fatal() => {
                return Exit::Usage;
            }
            _ => {}
        }
    }
    Exit::Partial
}

/// Runs the command line.
pub async fn run(cli: Cli) -> Result<Exit> {
    match cli.command {
        Command::Validate => validate(&cli.config),
        #[cfg(feature = "simulator")]
        Command::Demo {
            data_dir,
            issues,
            deployment,
        } => demo::demo(data_dir, issues, deployment).await,
        command => {
            let config = load_config(&cli.config)?;
            match command {
                Command::Run => {
                    // Before anything else: a second `run` on one data directory would
                    // process every key twice and race the first for the same files.
                    crate::store::archive::create_dir_durable(&config.data_dir).with_context(
                        || format!("cannot create data_dir {}", config.data_dir.display()),
                    )?;
                    let _daemon = crate::store::lock::lock_daemon(&config.data_dir)?;
                    let ctx = Context::build(config, None).await?;
                    ctx.daemon().await
                }
                Command::Sweep => {
                    let ctx = Context::build(config, None).await?;
                    ctx.sweep().await
                }
                Command::Backfill {
                    parallel,
                    since,
                    dry_run,
                } => {
                    let ctx = Context::build_for(config, parallel, dry_run).await?;
                    let since_ms = since.map(|d| {
                        d.and_hms_opt(0, 0, 0)
                            .unwrap_or_default()
                            .and_utc()
                            .timestamp_millis()
                    });
                    ctx.backfill(since_ms, dry_run).await
                }
                Command::Fetch { keys } => {
                    let keys = keys
                        .iter()
                        .map(|k| IssueKey::parse(k))
                        .collect::<Result<Vec<_>, _>>()?;
                    let ctx = Context::build(config, None).await?;
                    ctx.fetch(keys).await
                }
                Command::Mail => {
                    let ctx = Context::build(config, None).await?;
                    ctx.mail().await
                }
                Command::PollSla {
                    all,
                    parallel,
                    dry_run,
                } => {
                    let ctx = Context::build_for(config, parallel, dry_run).await?;
                    ctx.poll_sla(all, dry_run).await
                }
                Command::Reconcile { dry_run } => {
                    let ctx = Context::build_for(config, None, dry_run).await?;
                    ctx.reconcile(dry_run).await
                }
                Command::Transform { rebuild } => {
                    // A rebuild covers (and clears) every pending row: nothing to repair first.
                    let repair = if rebuild {
                        Repair::Skip
                    } else {
                        Repair::Pending
                    };
                    let ctx = Context::build_offline(config, repair).await?;
                    ctx.transform(rebuild).await
                }
                Command::Status { json } => status(&config, json),
                Command::Check => Context::build(config, None).await?.check().await,
                Command::Auth {
                    action: crate::cli::AuthCommand::Login,
                } => {
                    auth::login(&config, || {
                        let mut line = String::new();
                        std::io::stdin().read_line(&mut line).map(|_| line)
                    })
                    .await?;
                    Ok(Exit::Ok)
                }
                Command::Validate => unreachable!("handled above"),
                #[cfg(feature = "simulator")]
                Command::Demo { .. } => unreachable!("handled above"),
            }
        }
    }
}

fn load_config(path: &Path) -> Result<Config> {
    let config =
        Config::load(path).with_context(|| format!("invalid configuration {}", path.display()))?;
    for warning in &config.warnings {
        tracing::warn!("{warning}");
    }
    // Before the first file or folder is created (`run` makes its lock folder at once).
    crate::store::archive::set_modes(config.output);
    Ok(config)
}

fn validate(path: &Path) -> Result<Exit> {
    match Config::load(path) {
        Ok(config) => {
            for warning in &config.warnings {
                println!("warning: {warning}");
            }
            println!("{}: configuration is valid", path.display());
            Ok(Exit::Ok)
        }
        Err(e) => {
            eprintln!("{}: {} problem(s):", path.display(), e.problems().len());
            for problem in e.problems() {
                eprintln!("  {problem}");
            }
            Ok(Exit::Usage)
        }
    }
}

/// Whether opening the mirror first writes the table rows a crash left pending.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Repair {
    /// Write them (every command but `transform --rebuild` and dry runs).
    Pending,
    /// Leave them: the command rebuilds every month from raw JSON, which covers them, or is
    /// a dry run, which writes nothing (a crash's pending rows wait for the next command).
    Skip,
}

impl Repair {
    /// [`Repair::Skip`] for a dry run, else [`Repair::Pending`].
    pub fn unless(dry_run: bool) -> Repair {
        if dry_run {
            Repair::Skip
        } else {
            Repair::Pending
        }
    }
}

/// Everything a pull command needs, built once from the configuration.
pub struct Context {
    config: Config,
    pipeline: Pipeline,
    sla: Option<JiraClient>,
    parallel: usize,
    /// How the deployment was decided (for `check`).
    deployment_decided_by: &'static str,
}

impl Context {
    /// Opens the stores, builds the clients, loads the field catalogue and repairs table rows
    /// a crash left pending; `parallel` overrides `max_concurrency`.
    pub async fn build(config: Config, parallel: Option<usize>) -> Result<Context> {
        Self::build_with(config, parallel, FIELD_CATALOG_MAX_AGE_MS, Repair::Pending).await
    }

    /// The validated configuration.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The pipeline every trigger feeds.
    pub fn pipeline(&self) -> &Pipeline {
        &self.pipeline
    }

    /// Issues processed at once.
    pub fn parallel(&self) -> usize {
        self.parallel
    }

    /// Like [`Context::build`] for work that needs no Jira (`transform`): a cached field
    /// catalogue is used whatever its age; Jira is asked only when there is none. Pending
    /// rows are written first unless `repair` is [`Repair::Skip`].
    pub(crate) async fn build_offline(config: Config, repair: Repair) -> Result<Context> {
        Self::build_with(config, None, i64::MAX, repair).await
    }

    /// A context for a command that may be a dry run, with `--parallel` if given: a dry run
    /// leaves a crash's pending table rows for the next command ([`Repair::unless`]).
    pub(crate) async fn build_for(
        config: Config,
        parallel: Option<u16>,
        dry_run: bool,
    ) -> Result<Context> {
        Self::build_with(
            config,
            parallel.map(usize::from),
            FIELD_CATALOG_MAX_AGE_MS,
            Repair::unless(dry_run),
        )
        .await
    }

    async fn build_with(
        config: Config,
        parallel: Option<usize>,
        catalog_max_age_ms: i64,
        repair: Repair,
    ) -> Result<Context> {
        let parallel = parallel.unwrap_or(config.jira.max_concurrency).max(1);
        crate::store::archive::set_modes(config.output);
        crate::store::archive::create_dir_durable(&config.data_dir)
            .with_context(|| format!("cannot create data_dir {}", config.data_dir.display()))?;
        let store = RawStore::new(&config.data_dir);
        store.ensure_dirs().context("cannot create raw/ folders")?;
        let state = Arc::new(State::open(&config.state_path())?);
        let budget = RequestBudget::new(parallel, config.jira.max_requests_per_second);
        // Attachment bodies come from a media host with limits of its own: their own budget,
        // paced like the main account but with `[attachments] max_concurrency` slots.
        let downloads = RequestBudget::new(
            config.attachments.max_concurrency,
            config.jira.max_requests_per_second,
        );
        let options = auth::client_options(&config);
        let site = auth::main_site(&config, &state, &options).await?;
        let options = ClientOptions {
            deployment: site.deployment,
            ..options
        };
        let sla_options = options.clone();
        let options = ClientOptions {
            downloads: Some(downloads),
            ..options
        };
        let jira = JiraClient::new(&site.base_url, site.credentials, budget.clone(), options)?;
        let sla = match &config.jira_sla {
            Some(s) => Some(JiraClient::new(
                &s.base_url,
                auth::account_credentials(&s.email, s.api_token.expose()),
                // The JSM account is limited apart from the main one (Atlassian's API
                // gateway): a budget of its own, so SLA requests overlap with the rest.
                RequestBudget::new(s.max_concurrency, s.max_requests_per_second),
                sla_options,
            )?),
            None => None,
        };
        let attachments = AttachmentPolicy {
            download: config.attachments.download,
            max_bytes: config.attachments.max_bytes,
        };
        let catalog = field_catalog(&state, &jira, catalog_max_age_ms).await?;
        let transformer = Arc::new(Transformer::new(
            store.clone(),
            MonthStore::new(
                config.parquet_dir(),
                config.distribution.as_ref().map(|d| d.dir.clone()),
            ),
            state.clone(),
            RowContext {
                catalog,
                fields: config.fields.clone(),
                sla: config.sla.clone(),
            },
        ));
        match store.prune_quarantine(chrono::Utc::now().date_naive(), config.run.quarantine_days) {
            Ok(0) => {}
            Ok(n) => tracing::info!(folders = n, "Old quarantine folders removed."),
            Err(e) => tracing::warn!(error = %e, "Could not prune quarantine/."),
        }
        state.prune_runs(crate::time::now_ms(), crate::state::RUNS_KEPT_DAYS)?;
        let deletion_cap = config
            .run
            .deletion_cap(u64::try_from(state.issue_count()?).unwrap_or(0));
        let scope = crate::scope::Scope::new(&config.jira.jql);
        let pipeline = Pipeline::new(
            jira,
            scope,
            sla.clone(),
            store,
            state,
            attachments,
            transformer,
        )
        .with_max_attempts(config.run.max_attempts)
        .with_deletion_cap(deletion_cap)
        .with_distribution(distribution(&config));
        if repair == Repair::Pending {
            let repaired = pipeline.apply_pending().await?;
            if repaired > 0 {
                tracing::info!(
                    issues = repaired,
                    "Table rows left pending by an interrupted run were written."
                );
            }
            let transformer = pipeline.transformer().clone();
            let completed = tokio::task::spawn_blocking(move || transformer.complete_months())
                .await
                .map_err(|e| anyhow::anyhow!("the table writer panicked: {e}"))??;
            if completed > 0 {
                tracing::info!(
                    months = completed,
                    "Months missing a table's file (a table added by an upgrade) were written."
                );
            }
            // The reference tables, when a day has passed since they were written.
            crate::transform::reference::refresh_when_due(
                pipeline.jira(),
                pipeline.transformer().store(),
                pipeline.state(),
            )
            .await?;
            if let Some(distribution) = distribution(&config) {
                seed_distribution(distribution, config.data_dir.clone()).await;
            }
        }
        Ok(Context {
            config,
            pipeline,
            sla,
            parallel,
            deployment_decided_by: site.decided_by,
        })
    }

    /// `run`: the daemon until SIGINT/SIGTERM. The first signal drains (see [`daemon`]); a
    /// second exits at once (the next start repairs).
    async fn daemon(self) -> Result<Exit> {
        use tokio::signal::unix::{SignalKind, signal};
        let stop = CancellationToken::new();
        let mut terminate = signal(SignalKind::terminate()).context("cannot watch SIGTERM")?;
        let mut interrupt = signal(SignalKind::interrupt()).context("cannot watch SIGINT")?;
        tokio::spawn({
            let stop = stop.clone();
            async move {
                tokio::select! {
                    _ = terminate.recv() => {}
                    _ = interrupt.recv() => {}
                }
                tracing::info!("Signal received: shutting down (a second signal exits at once).");
                stop.cancel();
                tokio::select! {
                    _ = terminate.recv() => {}
                    _ = interrupt.recv() => {}
                }
                tracing::warn!("Second signal: exiting now; the next start repairs.");
                std::process::exit(130);
            }
        });
        let options = DaemonOptions {
            parallel: self.parallel,
            max_attempts: self.config.run.max_attempts,
            grace: Duration::from_secs(self.config.run.shutdown_grace_secs),
        };
        daemon::run(Arc::new(self.config), self.pipeline, options, stop).await?;
        Ok(Exit::Ok)
    }

    async fn sweep(&self) -> Result<Exit> {
        let options = SweepOptions {
            scope: self.config.jira.jql.clone(),
            overlap_ms: (self.config.sweep.overlap_secs as i64).saturating_mul(1000),
            parallel: self.parallel,
        };
        self.tracked("sweep", |progress| async move {
            sweep(&self.pipeline, &options, &progress).await
        })
        .await
    }

    async fn backfill(&self, created_since_ms: Option<i64>, dry_run: bool) -> Result<Exit> {
        let options = BackfillOptions {
            scope: self.config.jira.jql.clone(),
            created_since_ms,
            parallel: self.parallel,
        };
        if dry_run {
            return self
                .dry_run("backfill", |progress| async move {
                    backfill_dry_run(&self.pipeline, &options, &progress).await
                })
                .await;
        }
        self.tracked("backfill", |progress| async move {
            backfill(&self.pipeline, &options, &progress).await
        })
        .await
    }

    async fn fetch(&self, keys: Vec<IssueKey>) -> Result<Exit> {
        let started = crate::time::now_ms();
        self.tracked("fetch", |progress| async move {
            let mut summary = Summary::default();
            triggers::process_keys_since(
                &self.pipeline,
                keys,
                started,
                self.parallel,
                &mut summary,
                &progress,
            )
            .await?;
            self.pipeline.apply_pending().await?;
            Ok::<_, pipeline::Error>(summary)
        })
        .await
    }

    /// Runs a dry run's body with a progress spinner and prints its summary as
    /// `<command> --dry-run: …; nothing written`. No `runs` record: `status` must not show a
    /// dry run as the command's last run.
    async fn dry_run<T, E, F, Fut>(&self, command: &str, body: F) -> Result<Exit>
    where
        T: Report,
        E: Into<anyhow::Error>,
        F: FnOnce(ProgressBar) -> Fut,
        Fut: Future<Output = Result<T, E>>,
    {
        let progress = command_progress(command);
        let result = body(progress.clone()).await;
        progress.finish_and_clear();
        let done = result.map_err(Into::into)?;
        let stats = self.pipeline.request_summary();
        println!(
            "{command} --dry-run: {}; nothing written ({stats})",
            done.line()
        );
        Ok(if done.complete() {
            Exit::Ok
        } else {
            Exit::Partial
        })
    }

    /// Runs a command body with a progress spinner and a `runs` record, prints its summary.
    async fn tracked<T, E, F, Fut>(&self, command: &str, body: F) -> Result<Exit>
    where
        T: Report,
        E: Into<anyhow::Error> + std::fmt::Display,
        F: FnOnce(ProgressBar) -> Fut,
        Fut: Future<Output = Result<T, E>>,
    {
        let run = RunRecord::start(self.pipeline.state(), command)?;
        let progress = command_progress(command);
        let result = body(progress.clone()).await;
        progress.finish_and_clear();
        let stats = self.pipeline.request_summary();
        match result {
            Ok(done) => {
                let done = Finished::of(&done);
                run.finished(&done)?;
                println!("{command}: {} ({stats})", done.line);
                tracing::debug!(command, summary = %done.line, requests = %stats, "Command finished.");
                Ok(if done.complete {
                    Exit::Ok
                } else {
                    Exit::Partial
                })
            }
            Err(e) => {
                let _ = run.failed(&e);
                Err(e.into())
            }
        }
    }

    async fn mail(&self) -> Result<Exit> {
        let Some(imap) = &self.config.imap else {
            anyhow::bail!("the `mail` command needs an [imap] section in the configuration");
        };
        let projects = crate::jira::jql::scope_projects(&self.config.jira.jql);
        self.tracked("mail", |progress| async move {
            mail::pass(&self.pipeline, imap, &projects, self.parallel, &progress).await
        })
        .await
    }

    async fn poll_sla(&self, all: bool, dry_run: bool) -> Result<Exit> {
        let options = SlaPollOptions {
            parallel: self.parallel,
            all,
            dry_run,
        };
        if dry_run {
            return self
                .dry_run("poll-sla", |progress| async move {
                    poll_sla(&self.pipeline, options, &progress).await
                })
                .await;
        }
        self.tracked("poll-sla", |progress| async move {
            poll_sla(&self.pipeline, options, &progress).await
        })
        .await
    }

    async fn reconcile(&self, dry_run: bool) -> Result<Exit> {
        let options = ReconcileOptions {
            scope: self.config.jira.jql.clone(),
            parallel: self.parallel,
            dry_run,
        };
        if dry_run {
            return self
                .dry_run("reconcile", |progress| async move {
                    reconcile(&self.pipeline, &options, &progress).await
                })
                .await;
        }
        self.tracked("reconcile", |progress| async move {
            reconcile(&self.pipeline, &options, &progress).await
        })
        .await
    }

    async fn transform(&self, rebuild: bool) -> Result<Exit> {
        let transformer = self.pipeline.transformer().clone();
        let started = std::time::Instant::now();
        if rebuild {
            let parallel = std::thread::available_parallelism().map_or(1, usize::from);
            let progress = command_progress("transform --rebuild");
            let summary = tokio::task::spawn_blocking({
                let progress = progress.clone();
                move || transformer.rebuild_all_with_progress(parallel, &progress)
            })
            .await;
            progress.finish_and_clear();
            let summary = summary??;
            println!(
                "transform: rebuilt {} months from {} issues ({} left out) in {:.1} s",
                summary.months,
                summary.issues,
                summary.skipped,
                started.elapsed().as_secs_f64()
            );
        } else {
            let applied = self.pipeline.apply_pending().await?;
            println!("transform: {applied} pending issues written");
        }
        let transformer = self.pipeline.transformer().clone();
        let counts = tokio::task::spawn_blocking(move || transformer.row_counts()).await?;
        for (table, rows) in &counts.rows {
            println!("  {:<13} {rows} rows", table.name());
        }
        print_table_problems(&self.config, &counts, "  ");
        Ok(Exit::Ok)
    }

    async fn check(&self) -> Result<Exit> {
        let jira = self.pipeline.jira();
        let version = match jira.server_info().await {
            Ok(info) => format!(", Jira {}", info["version"].as_str().unwrap_or("?")),
            Err(_) => String::new(),
        };
        println!(
            "jira: deployment {} ({}{version})",
            jira.deployment(),
            self.deployment_decided_by
        );
        let me = jira.myself().await?;
        println!(
            "jira: ok, authenticated as {} at {}",
            who(&me, jira),
            jira.base_url()
        );
        println!("{}", auth::describe(jira, self.pipeline.state()).await?);
        if let crate::jira::jql::JqlDates::Local(zone) = jira.jql_dates().await? {
            println!("jira: JQL time bounds are written in the account's time zone, {zone}");
        }
        let query = crate::jira::jql::all(
            &self.config.jira.jql,
            None,
            crate::jira::jql::JqlDates::EpochMs,
        );
        let page = jira.search_page(&query, None, &["id"], None, 1).await?;
        println!(
            "jira: ok, the scope `{}` is valid JQL ({} on the first page)",
            self.config.jira.jql,
            if page.issues.is_empty() {
                "no issue"
            } else {
                "issues"
            }
        );
        match &self.sla {
            Some(sla) => {
                let me = sla.myself().await?;
                println!("jira_sla: ok, authenticated as {}", who(&me, sla));
                self.check_sla_read(sla, &query).await?;
            }
            None => println!("jira_sla: not configured (SLA columns come from SLA custom fields)"),
        }
        if let Some(imap) = &self.config.imap {
            let session =
                crate::triggers::mail::imap::Session::connect(&mail::settings(imap)).await?;
            let mailbox = session.mailbox();
            println!(
                "imap: ok, logged in as {} at {}:{} ({}), mailbox {} holds {} messages, IDLE {}",
                imap.username,
                imap.host,
                imap.port,
                imap.security,
                imap.mailbox,
                mailbox.exists,
                if session.supports_idle() {
                    "supported"
                } else {
                    "not offered (polling)"
                }
            );
            session.logout().await?;
        }
        Ok(Exit::Ok)
    }
}

impl Context {
    /// Reads the SLAs of one customer request in the scope with the JSM account: logging in
    /// proves little, as JSM answers 403 to an account without an agent licence or not in the
    /// service desk's agents, and that would otherwise show only as missing SLA figures.
    async fn check_sla_read(&self, sla: &JiraClient, scope: &str) -> Result<()> {
        const LOOK_AT: u32 = 50;
        let page = self
            .pipeline
            .jira()
            .search_page(scope, None, &["project"], None, LOOK_AT)
            .await?;
        let request = page.issues.iter().find(|issue| {
            issue["fields"]["project"]["projectTypeKey"].as_str() == Some("service_desk")
        });
        let Some(key) = request.and_then(|issue| issue["key"].as_str()) else {
            println!(
                "jira_sla: no issue of a service-desk project among the first {LOOK_AT} of the \
                 scope, so no SLA could be read to prove access"
            );
            return Ok(());
        };
        match sla.sla(key).await {
            Ok(Some(values)) => println!(
                "jira_sla: ok, read {} SLA(s) of {key} ({})",
                values.len(),
                values
                    .iter()
                    .filter_map(|v| v["name"].as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            Ok(None) => println!(
                "jira_sla: {key} answered 404 for its SLAs: it is not a customer request, or \
                 the account cannot see it"
            ),
            Err(e @ crate::jira::Error::Forbidden { .. }) => anyhow::bail!(
                "jira_sla: the account {} may not read the SLAs of {key}: {}. Jira Service \
                 Management shows SLAs only to agents: the account needs a Jira Service \
                 Management (agent) licence and must be among the agents of that service desk \
                 (Project settings → People, role Service Desk Team)",
                sla.account(),
                e.to_string().trim_end_matches('.')
            ),
            Err(e) => return Err(e.into()),
        }
        Ok(())
    }
}

/// `Display Name (e-mail)` of a `/myself` answer: the e-mail, else the Data Center user
/// name, else the account as the credentials name it.
fn who(me: &serde_json::Value, client: &JiraClient) -> String {
    format!(
        "{} ({})",
        me["displayName"].as_str().unwrap_or("?"),
        me["emailAddress"]
            .as_str()
            .or(me["name"].as_str())
            .map_or_else(|| client.account(), str::to_string)
    )
}

/// The distribution folder `[distribution]` names, if any.
fn distribution(config: &Config) -> Option<Distribution> {
    config.distribution.as_ref().map(|d| Distribution {
        dir: d.dir.clone(),
        attachments: d.attachments,
    })
}

/// Copies to the distribution folder what differs from the mirror (a folder configured
/// late, a copy that failed, attachments), under the tables lock. A failure is logged, not
/// fatal: the mirror itself is whole, and the next start tries again.
async fn seed_distribution(distribution: Distribution, data_dir: std::path::PathBuf) {
    let dir = distribution.dir.clone();
    let seeded = tokio::task::spawn_blocking(move || {
        let _tables = crate::store::lock::lock_tables(&data_dir)?;
        distribution.seed(&data_dir)
    })
    .await
    .unwrap_or_else(|e| Err(std::io::Error::other(e)));
    match seeded {
        Ok(s) if s.copied + s.removed > 0 => tracing::info!(
            copied = s.copied,
            removed = s.removed,
            dir = %dir.display(),
            "Distribution folder brought in line with the mirror."
        ),
        Ok(_) => {}
        Err(e) => tracing::warn!(
            error = %e,
            dir = %dir.display(),
            "The distribution folder could not be seeded; the next start tries again."
        ),
    }
}

/// How long the cached `/rest/api/3/field` answer is trusted.
const FIELD_CATALOG_MAX_AGE_MS: i64 = 24 * 3600 * 1000;

/// The field catalogue (custom field names and types): cached in the state database and
/// refreshed from Jira at most daily. If Jira cannot be reached the cache is used as is
/// (a first run without it gets an empty catalogue, so custom fields are keyed by id).
async fn field_catalog(state: &State, jira: &JiraClient, max_age_ms: i64) -> Result<FieldCatalog> {
    let cached = state.meta(crate::transform::fields::CATALOG_META)?;
    if let Some((json, stored)) = &cached
        && crate::time::now_ms().saturating_sub(*stored) < max_age_ms
        && let Ok(v) = crate::json::from_str(json).map(crate::json::DeepValue::new)
    {
        return Ok(FieldCatalog::from_json(&v));
    }
    match jira.fields().await {
        Ok(fields) => {
            let v = crate::json::DeepValue::new(serde_json::Value::Array(fields));
            state.set_meta(
                crate::transform::fields::CATALOG_META,
                &crate::json::to_string(&v)?,
            )?;
            Ok(FieldCatalog::from_json(&v))
        }
        Err(e) if e.is_fatal() => Err(e.into()),
        Err(e) => {
            tracing::warn!(error = %e, "Field catalogue could not be refreshed; using the cached one.");
            Ok(cached
                .and_then(|(json, _)| crate::json::from_str(&json).ok())
                .map(|v| FieldCatalog::from_json(&crate::json::DeepValue::new(v)))
                .unwrap_or_else(FieldCatalog::empty))
        }
    }
}
