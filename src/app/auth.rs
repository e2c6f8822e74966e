//! Which Jira the clients talk to and how they sign in, and `jira-mirror auth login`.
//!
//! The deployment comes from `[jira] deployment`, else from an Atlassian Cloud host name,
//! else from the site itself (`/rest/api/2/serverInfo`), remembered in `state.db` so later
//! commands (and `transform`, which needs no Jira) do not ask again. The credentials follow
//! from the configuration: `[oauth]` → the grant stored by `auth login`; no `email` → a
//! Data Center personal access token; else Basic.

use std::sync::Arc;

use anyhow::{Context as _, Result};
use url::Url;

use crate::config::{Config, OAuthConfig};
use crate::jira::oauth::{self, App, Grant, StoredGrant, TokenStore};
use crate::jira::{self, ClientOptions, Credentials, Deployment, JiraClient, RequestBudget};
use crate::state::State;

/// The `meta` row remembering a detected deployment: `<base_url> <deployment>`.
const DEPLOYMENT_META: &str = "jira.deployment";

/// The `meta` row holding the OAuth grant (JSON of [`StoredGrant`]).
const GRANT_META: &str = "oauth.grant";

/// Where the main account's requests go, as whom, and to which kind of Jira.
pub(super) struct Site {
    /// The site, or the OAuth gateway `…/ex/jira/{cloud id}/`.
    pub base_url: Url,
    /// How requests sign in.
    pub credentials: Credentials,
    /// Cloud or Data Center.
    pub deployment: Deployment,
    /// How the deployment was decided, for `check`.
    pub decided_by: &'static str,
}

/// The main account's [`Site`]: OAuth, a personal access token or Basic, on the deployment
/// the configuration names or the site reports.
pub(super) async fn main_site(
    config: &Config,
    state: &Arc<State>,
    options: &ClientOptions,
) -> Result<Site> {
    if let Some(oauth) = &config.oauth {
        let grant = Grant::load(
            oauth_app(oauth),
            http(options)?,
            Arc::new(StateTokens(state.clone())),
        )?
        .ok_or_else(|| {
            jira::Error::Setup(
                "[oauth] is configured but no grant is stored yet: run `jira-mirror auth \
                 login` once (it prints the address to approve the app at)"
                    .into(),
            )
        })?;
        return Ok(Site {
            base_url: grant.base_url()?,
            credentials: Credentials::OAuth(grant),
            deployment: Deployment::Cloud,
            decided_by: "OAuth is Jira Cloud only",
        });
    }
    let jira = &config.jira;
    let credentials = account_credentials(&jira.email, jira.api_token.expose());
    let (deployment, decided_by) =
        deployment(config, state, credentials.clone(), options.clone()).await?;
    if deployment == Deployment::Cloud && jira.email.is_empty() {
        return Err(jira::Error::Setup(
            "jira.email is required on Jira Cloud (with the API token in jira.api_token); \
             only Data Center signs in with a personal access token alone"
                .into(),
        )
        .into());
    }
    Ok(Site {
        base_url: jira.base_url.clone(),
        credentials,
        deployment,
        decided_by,
    })
}

/// Basic with an e-mail or user name; a personal access token (Bearer) without one.
pub(super) fn account_credentials(email: &str, token: &str) -> Credentials {
    if email.is_empty() {
        Credentials::Bearer {
            token: token.to_string(),
        }
    } else {
        Credentials::basic(email, token)
    }
}

/// The deployment and how it was decided: configured, a Cloud host, remembered from an
/// earlier answer of this site, or asked now.
async fn deployment(
    config: &Config,
    state: &State,
    credentials: Credentials,
    options: ClientOptions,
) -> Result<(Deployment, &'static str)> {
    let base = &config.jira.base_url;
    if let Some(d) = config.jira.deployment {
        return Ok((d, "set in [jira] deployment"));
    }
    if let Some(d) = base.host_str().and_then(Deployment::from_host) {
        return Ok((d, "an Atlassian Cloud host"));
    }
    let remembered = state.meta(DEPLOYMENT_META)?.and_then(|(value, _)| {
        let (url, d) = value.rsplit_once(' ')?;
        (url == base.as_str()).then(|| d.parse::<Deployment>().ok())?
    });
    if let Some(d) = remembered {
        return Ok((d, "detected from /rest/api/2/serverInfo earlier"));
    }
    let client = JiraClient::new(base, credentials, RequestBudget::new(1, 10.0), options)?;
    let info = client.server_info().await.with_context(|| {
        format!(
            "cannot tell whether {base} is Jira Cloud or Data Center (GET \
             /rest/api/2/serverInfo failed); set [jira] deployment = \"cloud\" or \
             \"data_center\""
        )
    })?;
    let Some(d) = Deployment::from_server_info(&info) else {
        return Err(jira::Error::Setup(format!(
            "{base}/rest/api/2/serverInfo names no known deploymentType ({}); set [jira] \
             deployment = \"cloud\" or \"data_center\"",
            info["deploymentType"]
        ))
        .into());
    };
    state.set_meta(DEPLOYMENT_META, &format!("{base} {d}"))?;
    tracing::info!(deployment = %d, version = info["version"].as_str().unwrap_or("?"), "Jira deployment detected.");
    Ok((d, "detected from /rest/api/2/serverInfo"))
}

/// The app of `[oauth]`.
pub(super) fn oauth_app(oauth: &OAuthConfig) -> App {
    App {
        client_id: oauth.client_id.clone(),
        client_secret: oauth.client_secret.expose().to_string(),
        redirect_uri: oauth.redirect_uri.clone(),
        scopes: oauth.scopes.clone(),
        auth_url: oauth.auth_url.clone(),
        api_url: oauth.api_url.clone(),
    }
}

fn http(options: &ClientOptions) -> Result<reqwest::Client> {
    Ok(jira::http_client(options)?)
}

/// The grant in `state.db`. Saving makes the database files owner-only first: they now hold
/// a credential.
pub(super) struct StateTokens(pub Arc<State>);

impl TokenStore for StateTokens {
    fn load(&self) -> Result<Option<StoredGrant>, String> {
        let Some((json, _)) = self.0.meta(GRANT_META).map_err(|e| e.to_string())? else {
            return Ok(None);
        };
        serde_json::from_str(&json).map(Some).map_err(|e| {
            format!(
                "the stored OAuth grant is unreadable ({e}); run `jira-mirror auth login` again"
            )
        })
    }

    fn save(&self, grant: &StoredGrant) -> Result<(), String> {
        self.0.restrict_to_owner().map_err(|e| e.to_string())?;
        let json = serde_json::to_string(grant).map_err(|e| e.to_string())?;
        self.0
            .set_meta(GRANT_META, &json)
            .map_err(|e| e.to_string())
    }
}

/// The stored grant, for `check` and `status`.
pub(super) fn stored_grant(state: &Arc<State>) -> Result<Option<StoredGrant>> {
    StateTokens(state.clone())
        .load()
        .map_err(|e| anyhow::anyhow!(e))
}

/// `jira-mirror auth login`: prints the consent address, reads back the code (or the whole
/// address the browser was sent to) with `read_line`, exchanges it, finds the site's cloud id,
/// stores the grant in `state.db` and proves it with `/myself`.
pub async fn login(
    config: &Config,
    read_line: impl FnOnce() -> std::io::Result<String> + Send,
) -> Result<()> {
    let Some(oauth) = &config.oauth else {
        return Err(jira::Error::Setup(
            "`auth login` needs an [oauth] section (client_id, client_secret, redirect_uri) in \
             the configuration; with an API token or a personal access token there is nothing \
             to log in to"
                .into(),
        )
        .into());
    };
    crate::store::archive::create_dir_durable(&config.data_dir)
        .with_context(|| format!("cannot create data_dir {}", config.data_dir.display()))?;
    let state = Arc::new(State::open(&config.state_path())?);
    let app = oauth_app(oauth);
    let options = client_options(config);
    let http = http(&options)?;
    let login_state = hex::encode(rand::random::<[u8; 16]>());
    let url = app.authorize_url(&login_state)?;
    println!(
        "1. Open this address in a browser, sign in to Atlassian and allow the app:\n\n   {url}\n\n\
         2. The browser is then sent to {} with `?code=…` (nothing needs to answer there;\n   \
         an error page is fine). Paste that whole address, or only the code, here:",
        oauth.redirect_uri
    );
    let line = read_line().context("cannot read the pasted code")?;
    let code = oauth::code_from_paste(&line, &login_state).map_err(jira::Error::Setup)?;
    let grant = app
        .exchange_code(&http, &code, &config.jira.base_url)
        .await?;
    let store = Arc::new(StateTokens(state.clone()));
    store.save(&grant).map_err(|e| anyhow::anyhow!(e))?;
    let live = Grant::load(app, http, store)?
        .ok_or_else(|| anyhow::anyhow!("the grant just stored cannot be read back"))?;
    let client = JiraClient::new(
        &live.base_url()?,
        Credentials::OAuth(live.clone()),
        RequestBudget::new(1, 10.0),
        options,
    )?;
    let me = client.myself().await?;
    println!(
        "ok: authorized as {} on {} (cloud id {}); the refresh token is stored in {} \
         (owner-only) and renewed on every use",
        me["displayName"].as_str().unwrap_or("?"),
        grant.site_url,
        grant.cloud_id,
        config.state_path().display()
    );
    Ok(())
}

/// The request options of `[jira]` (timeouts, retries, proxy).
pub(super) fn client_options(config: &Config) -> ClientOptions {
    ClientOptions {
        timeout: std::time::Duration::from_secs(config.jira.request_timeout_secs),
        max_retries: config.jira.max_retries,
        proxy: config
            .jira
            .proxy
            .as_ref()
            .map(|proxy| proxy.expose().clone()),
        ..ClientOptions::default()
    }
}

/// `check`'s line about the credentials: which kind, and when what expires.
pub(super) async fn describe(client: &JiraClient, state: &Arc<State>) -> Result<String> {
    let credentials = client.credentials();
    let mut line = format!("jira: auth {}", credentials.kind());
    if let Credentials::OAuth(grant) = credentials {
        line.push_str(&format!(
            " via app {}, cloud id {}",
            grant.client_id(),
            grant.cloud_id()
        ));
        if let Some(at) = grant.access_expires_at().await {
            line.push_str(&format!(
                "; access token valid until {} (renewed automatically)",
                at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
            ));
        }
        if let Some(stored) = stored_grant(state)? {
            let at = |ms: i64| {
                chrono::DateTime::from_timestamp_millis(ms)
                    .unwrap_or_default()
                    .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
            };
            let issued = at(stored.refreshed_at_ms);
            let lapses = at(stored.refreshed_at_ms + oauth::REFRESH_TOKEN_IDLE_DAYS * 86_400_000);
            line.push_str(&format!(
                "; refresh token issued {issued}, lapses if unused until {lapses}"
            ));
        }
    } else if let Credentials::Basic { user, .. } = credentials {
        line.push_str(&format!(" as {user}"));
    }
    Ok(line)
}
