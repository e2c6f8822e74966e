//! The endpoints the mirror reads, and the paging each one needs:
//! enhanced search by `nextPageToken` (Cloud) or `startAt/total` (Data Center's
//! `/rest/api/2/search`), changelog and comments by `startAt/total`, JSM SLA by
//! `start/limit/isLastPage`. Every loop is bounded so a misbehaving server cannot keep us
//! paging forever.
//!
//! Paths come from [`JiraClient::api`]: `/rest/api/3` on Cloud, `/rest/api/2` on Data
//! Center. Data Center's search has no page tokens; its next `startAt` travels as the
//! [`SearchPage::next_page_token`] so every caller pages both the same way.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Value, json};

use super::client::JiraClient;
use super::deployment::Deployment;
use super::error::{Error, Result};

/// Offset pages fetched before we decide a server is looping (100 per page → a million items).
const MAX_PAGES: usize = 10_000;
/// Most ids `reconcileIssues` accepts in one search (Jira's documented limit).
pub(crate) const MAX_RECONCILE_IDS: usize = 50;
/// Page size for changelog and comment pages (Jira's documented maximum).
const PAGE: usize = 100;

/// A part of an issue Jira would not give (see [`JiraClient::complete_issue`]).
#[derive(Debug)]
pub struct PartError {
    /// `changelog` or `comments`.
    pub part: &'static str,
    /// Jira's answer.
    pub error: Error,
}

/// One page of `POST /rest/api/3/search/jql` (Cloud) or `POST /rest/api/2/search` (Data
/// Center).
#[derive(Debug, Clone)]
pub struct SearchPage {
    /// The issues of this page, as Jira sent them.
    pub issues: Vec<Value>,
    /// The token of the next page; `None` on the last page (absent, null, empty or `isLast`).
    /// On Data Center, the next page's `startAt` (`None` once `total` is reached).
    pub next_page_token: Option<String>,
}

impl JiraClient {
    /// `GET /rest/api/{3|2}/myself`: who these credentials are.
    pub async fn myself(&self) -> Result<Value> {
        self.get_json(&self.api("myself"), &[]).await
    }

    /// `GET /rest/api/2/serverInfo`: the site's version and `deploymentType` (Cloud,
    /// Server, DataCenter).
    pub async fn server_info(&self) -> Result<Value> {
        self.get_json("/rest/api/2/serverInfo", &[]).await
    }

    /// `GET /rest/api/{3|2}/field`: every field with its name and schema.
    pub async fn fields(&self) -> Result<Vec<Value>> {
        let path = self.api("field");
        let v = self.get_json(&path, &[]).await?;
        array(v, &path)
    }

    /// One page of enhanced search. `fields` e.g. `["*all"]`; `expand` e.g. `"changelog"`.
    pub async fn search_page(
        &self,
        jql: &str,
        next_page_token: Option<&str>,
        fields: &[&str],
        expand: Option<&str>,
        max_results: u32,
    ) -> Result<SearchPage> {
        if self.deployment() == Deployment::DataCenter {
            return self
                .offset_search_page(jql, next_page_token, fields, expand, max_results)
                .await;
        }
        let path = "/rest/api/3/search/jql";
        let mut body = json!({ "jql": jql, "maxResults": max_results, "fields": fields });
        if let Some(expand) = expand {
            body["expand"] = json!(expand);
        }
        if let Some(token) = next_page_token {
            body["nextPageToken"] = json!(token);
        }
        let mut v = self.post_json(path, &body).await?;
        let issues = take_issues(&mut v, path)?;
        let is_last = v["isLast"].as_bool().unwrap_or(false);
        let sent = next_page_token;
        let next_page_token = next_page_token_from(&v, is_last);
        if next_page_token.is_some() && next_page_token.as_deref() == sent {
            crate::json::drop_deep(Value::Array(issues));
            return Err(Error::Protocol {
                path: path.into(),
                message: "search returned the same nextPageToken again".into(),
            });
        }
        Ok(SearchPage {
            issues,
            next_page_token,
        })
    }

    /// One page of Data Center's `POST /rest/api/2/search`, from the position `start`
    /// names (`None`: the first page). The next page starts after this one's issues while
    /// `total` is not reached; its token is `<startAt>@<total of the first page>`.
    ///
    /// Offsets move under a listing when the result set changes: an issue that leaves it
    /// (deleted, moved out of the scope) pulls the issues behind it one place forward, and
    /// one of them would fall between two pages unseen. So a page whose `total` is smaller
    /// than the first page's is an error (the caller lists again later), and so is an empty
    /// page before `total`: a partial listing must never pass for a complete one. (Issues
    /// edited meanwhile are listed again rather than skipped: sweeps list newest first,
    /// backfills by creation.)
    async fn offset_search_page(
        &self,
        jql: &str,
        start: Option<&str>,
        fields: &[&str],
        expand: Option<&str>,
        max_results: u32,
    ) -> Result<SearchPage> {
        let path = "/rest/api/2/search";
        let protocol = |message: String| Error::Protocol {
            path: path.into(),
            message,
        };
        let (start_at, first_total): (u64, Option<u64>) = match start {
            None => (0, None),
            Some(token) => {
                let (at, total) = token.split_once('@').unwrap_or((token, ""));
                match (at.parse(), total.parse()) {
                    (Ok(at), Ok(total)) => (at, Some(total)),
                    _ => return Err(protocol(format!("{token:?} is not a page position"))),
                }
            }
        };
        let mut body = json!({
            "jql": jql,
            "startAt": start_at,
            "maxResults": max_results,
            "fields": fields,
        });
        if let Some(expand) = expand {
            body["expand"] = json!(expand.split(',').map(str::trim).collect::<Vec<_>>());
        }
        let mut v = self.post_json(path, &body).await?;
        let issues = take_issues(&mut v, path)?;
        let next = start_at + issues.len() as u64;
        let Some(total) = v["total"].as_u64() else {
            crate::json::drop_deep(Value::Array(issues));
            return Err(protocol("search answer has no `total`".into()));
        };
        let first_total = first_total.unwrap_or(total);
        if total < first_total {
            crate::json::drop_deep(Value::Array(issues));
            return Err(protocol(format!(
                "the result set shrank from {first_total} to {total} issues while it was paged \
                 (deleted or moved meanwhile), so an issue may have slipped between two pages; \
                 it is listed again by the next run"
            )));
        }
        if issues.is_empty() && start_at < total {
            return Err(protocol(format!(
                "an empty page at {start_at} of {total} issues"
            )));
        }
        Ok(SearchPage {
            next_page_token: (next < total).then(|| format!("{next}@{first_total}")),
            issues,
        })
    }

    /// Which of `ids` (at most [`MAX_RECONCILE_IDS`]) the scope JQL holds, asked with
    /// `reconcileIssues` (Cloud) so an issue created or moved a moment ago is not missed
    /// because the search index lags behind. Data Center's index is updated as the issue is
    /// saved and its search has no such option.
    pub(crate) async fn ids_in_scope(&self, scope: &str, ids: &[i64]) -> Result<BTreeSet<i64>> {
        let ids = &ids[..ids.len().min(MAX_RECONCILE_IDS)];
        if ids.is_empty() {
            return Ok(BTreeSet::new());
        }
        let jql = super::jql::scope_ids(scope, ids);
        let (path, v) = if self.deployment() == Deployment::DataCenter {
            let page = self
                .offset_search_page(&jql, None, &["id"], None, ids.len() as u32)
                .await?;
            ("/rest/api/2/search", json!({ "issues": page.issues }))
        } else {
            let path = "/rest/api/3/search/jql";
            let body = json!({
                "jql": jql,
                "maxResults": ids.len(),
                "fields": ["id"],
                "reconcileIssues": ids,
            });
            (path, self.post_json(path, &body).await?)
        };
        let Some(issues) = v["issues"].as_array() else {
            return Err(Error::Protocol {
                path: path.into(),
                message: "search answer has no `issues` array".into(),
            });
        };
        Ok(issues
            .iter()
            .filter_map(|i| match &i["id"] {
                Value::String(s) => s.parse().ok(),
                Value::Number(n) => n.as_i64(),
                _ => None,
            })
            .filter(|id| ids.contains(id))
            .collect())
    }

    /// `GET /rest/api/3/issue/{key}?expand=changelog` (all fields); `None` on 404. The answer's
    /// `key` may differ from the one asked for: Jira follows moved issues without a redirect.
    pub async fn get_issue(&self, key: &str) -> Result<Option<Value>> {
        let query = [
            ("fields", "*all".to_string()),
            ("expand", "changelog".to_string()),
        ];
        self.get_issue_with(key, &query).await
    }

    /// `GET /rest/api/3/issue/{key}?fields=<fields>` (e.g. `status,updated`): a light look at
    /// an issue, without changelog; `None` on 404. `key` may also be a numeric id, and like
    /// [`JiraClient::get_issue`] the answer's key may differ from the one asked for.
    pub(crate) async fn get_issue_fields(&self, key: &str, fields: &str) -> Result<Option<Value>> {
        self.get_issue_with(key, &[("fields", fields.to_string())])
            .await
    }

    async fn get_issue_with(&self, key: &str, query: &[(&str, String)]) -> Result<Option<Value>> {
        let path = self.api(&format!("issue/{key}"));
        match self.get_json(&path, query).await {
            Ok(v) => Ok(Some(v)),
            Err(Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Makes `issue` complete: every changelog history and every comment, paging the
    /// sub-resources whenever the embedded `total` exceeds what was embedded (or nothing was
    /// embedded). The changelog is stored newest first, like Jira's embedded page; comments
    /// oldest first, like Jira's comment pages.
    ///
    /// A sub-resource Jira refuses for this issue alone ([`Error::is_item_refusal`]: 403, a
    /// 4xx, an unreadable page) does not stop the issue: what was embedded is kept, and the
    /// part is returned as a [`PartError`] so the caller can record it. Any other error (Jira
    /// failing, wrong credentials, a 404: the issue is gone) is returned as is.
    pub async fn complete_issue(&self, issue: &mut Value) -> Result<Vec<PartError>> {
        let mut refused = Vec::new();
        let key = issue["key"].as_str().unwrap_or_default().to_string();
        if key.is_empty() {
            return Err(Error::Protocol {
                path: "issue".into(),
                message: "issue without a key".into(),
            });
        }

        let embedded = issue.get("changelog").and_then(|c| {
            let histories = c.get("histories")?.as_array()?;
            Some((histories.len(), c.get("total").and_then(Value::as_u64)))
        });
        let changelog_missing = match embedded {
            None => true,
            Some((have, total)) => total.is_some_and(|t| t as usize > have),
        };
        let paged = if changelog_missing {
            match self.changelog(&key).await {
                Ok(paged) => Some(paged),
                Err(error) if error.is_item_refusal() => {
                    refused.push(PartError {
                        part: "changelog",
                        error,
                    });
                    None
                }
                Err(e) => return Err(e),
            }
        } else {
            None
        };
        if let Some(paged) = paged {
            let mut by_id: BTreeMap<(u64, String), Value> = BTreeMap::new();
            let embedded_histories = issue
                .get_mut("changelog")
                .and_then(|c| c.get_mut("histories"))
                .map(Value::take);
            for h in embedded_histories
                .into_iter()
                .flat_map(|h| match h {
                    Value::Array(a) => a,
                    _ => Vec::new(),
                })
                .chain(paged)
            {
                by_id.insert(history_sort_key(&h), h);
            }
            let histories: Vec<Value> = by_id.into_values().rev().collect();
            let n = histories.len();
            issue["changelog"] =
                json!({ "startAt": 0, "maxResults": n, "total": n, "histories": histories });
        }

        if !issue["fields"].is_object() {
            return Err(Error::Protocol {
                path: format!("issue {key}"),
                message: "issue without `fields`".into(),
            });
        }
        let comments_missing = match issue["fields"].get("comment") {
            None | Some(Value::Null) => true,
            Some(c) => {
                let have = c["comments"].as_array().map_or(0, Vec::len);
                c["total"].as_u64().is_some_and(|t| t as usize > have) || !c["comments"].is_array()
            }
        };
        let comments = if comments_missing {
            match self.comments(&key).await {
                Ok(comments) => Some(comments),
                Err(error) if error.is_item_refusal() => {
                    refused.push(PartError {
                        part: "comments",
                        error,
                    });
                    None
                }
                Err(e) => return Err(e),
            }
        } else {
            None
        };
        if let Some(comments) = comments {
            replace_page(issue, "comment", "comments", comments);
        }

        // Jira embeds the first 20 worklogs. Without `fields.worklog` (time tracking off, or
        // the field not asked for) there is nothing to complete: the endpoint would refuse.
        let worklogs_missing = issue["fields"].get("worklog").is_some_and(|w| {
            let have = w["worklogs"].as_array().map_or(0, Vec::len);
            w["total"].as_u64().is_some_and(|t| t as usize > have)
        });
        if worklogs_missing {
            match self.worklogs(&key).await {
                Ok(worklogs) => replace_page(issue, "worklog", "worklogs", worklogs),
                Err(error) if error.is_item_refusal() => refused.push(PartError {
                    part: "worklogs",
                    error,
                }),
                Err(e) => return Err(e),
            }
        }
        Ok(refused)
    }

    /// Every project the account can browse (Cloud: `/project/search`, `startAt` pages
    /// until `isLast`; Data Center: `/project`, one array).
    pub async fn projects(&self) -> Result<Vec<Value>> {
        if self.deployment() == Deployment::DataCenter {
            let path = self.api("project");
            return array(self.get_json(&path, &[]).await?, &path);
        }
        self.offset_pages("/rest/api/3/project/search", "values", &[])
            .await
    }

    /// Every user the account may list (Cloud: `/users/search`; Data Center:
    /// `/user/search?username=.&includeInactive=true`, which matches every user, the
    /// deactivated too; plain arrays, `startAt` pages until one comes back short). Needs the
    /// *Browse users and groups* permission.
    pub async fn users(&self) -> Result<Vec<Value>> {
        const USERS_PAGE: usize = 1000;
        let (path, filter) = match self.deployment() {
            Deployment::Cloud => ("/rest/api/3/users/search", vec![]),
            Deployment::DataCenter => (
                "/rest/api/2/user/search",
                vec![
                    ("username", ".".to_string()),
                    ("includeInactive", "true".to_string()),
                ],
            ),
        };
        let mut out = Vec::new();
        for _ in 0..MAX_PAGES {
            let mut query = vec![
                ("startAt", out.len().to_string()),
                ("maxResults", USERS_PAGE.to_string()),
            ];
            query.extend(filter.iter().cloned());
            let batch = array(self.get_json(path, &query).await?, path)?;
            let got = batch.len();
            out.extend(batch);
            if got < USERS_PAGE {
                return Ok(out);
            }
        }
        Err(too_many_pages(path))
    }

    /// Every status (`/status`, one array).
    pub async fn statuses(&self) -> Result<Vec<Value>> {
        let path = self.api("status");
        array(self.get_json(&path, &[]).await?, &path)
    }

    /// Every priority (Cloud: `/priority/search`, `startAt` pages until `isLast`; Data
    /// Center: `/priority`, one array).
    pub async fn priorities(&self) -> Result<Vec<Value>> {
        if self.deployment() == Deployment::DataCenter {
            let path = self.api("priority");
            return array(self.get_json(&path, &[]).await?, &path);
        }
        self.offset_pages("/rest/api/3/priority/search", "values", &[])
            .await
    }

    /// Every worklog of `key`, oldest first (`/issue/{key}/worklog`).
    pub async fn worklogs(&self, key: &str) -> Result<Vec<Value>> {
        self.offset_pages(&self.api(&format!("issue/{key}/worklog")), "worklogs", &[])
            .await
    }

    /// Every changelog history of `key`, oldest first (`/issue/{key}/changelog`).
    pub async fn changelog(&self, key: &str) -> Result<Vec<Value>> {
        self.offset_pages(&self.api(&format!("issue/{key}/changelog")), "values", &[])
            .await
    }

    /// Every comment of `key`, oldest first (`/issue/{key}/comment`).
    pub async fn comments(&self, key: &str) -> Result<Vec<Value>> {
        self.offset_pages(
            &self.api(&format!("issue/{key}/comment")),
            "comments",
            &[("orderBy", "created".to_string())],
        )
        .await
    }

    /// Every issue of `jql` with `fields`, `page_size` at a time, handed to `each` page by page
    /// until the last page (short pages are normal). A token that comes back a second time or
    /// more than `max_pages` pages are errors: a partial listing must never pass for a
    /// complete one.
    pub(crate) async fn search_each(
        &self,
        jql: &str,
        fields: &[&str],
        page_size: u32,
        max_pages: usize,
        mut each: impl FnMut(&Value) -> Result<()>,
    ) -> Result<()> {
        let path = self.search_path();
        let mut seen = std::collections::HashSet::new();
        let mut token: Option<String> = None;
        for _ in 0..max_pages {
            let page = self
                .search_page(jql, token.as_deref(), fields, None, page_size)
                .await?;
            for issue in &page.issues {
                each(issue)?;
            }
            match page.next_page_token {
                None => return Ok(()),
                Some(next) if !seen.insert(next.clone()) => {
                    return Err(Error::Protocol {
                        path: path.into(),
                        message: "a nextPageToken came back a second time".into(),
                    });
                }
                Some(next) => token = Some(next),
            }
        }
        Err(Error::Protocol {
            path: path.into(),
            message: format!("more than {max_pages} pages; the server seems to loop"),
        })
    }

    /// The search endpoint of this deployment (for messages).
    pub(crate) fn search_path(&self) -> &'static str {
        match self.deployment() {
            Deployment::Cloud => "/rest/api/3/search/jql",
            Deployment::DataCenter => "/rest/api/2/search",
        }
    }

    /// `/issue/{key}/remotelink`: every remote link of the issue.
    pub async fn remote_links(&self, key: &str) -> Result<Vec<Value>> {
        let path = self.api(&format!("issue/{key}/remotelink"));
        let v = self.get_json(&path, &[]).await?;
        array(v, &path)
    }

    /// Every JSM SLA of `key` (`/rest/servicedeskapi/request/{key}/sla`), or `None` when the
    /// issue is not a service request (404). A 403 is an error ([`Error::Forbidden`]): the
    /// account is no agent of that service desk, or has no JSM licence, which an operator
    /// must hear about rather than find SLA columns quietly empty.
    pub async fn sla(&self, key: &str) -> Result<Option<Vec<Value>>> {
        let path = format!("/rest/servicedeskapi/request/{key}/sla");
        let mut values = Vec::new();
        let mut start = 0u64;
        for _ in 0..MAX_PAGES {
            let query = [("start", start.to_string()), ("limit", "50".to_string())];
            let mut page = match self.get_json(&path, &query).await {
                Ok(page) => page,
                Err(Error::NotFound { .. }) => return Ok(None),
                Err(e) => return Err(e),
            };
            let batch = match page.get_mut("values").map(Value::take) {
                Some(Value::Array(batch)) => batch,
                _ => {
                    return Err(Error::Protocol {
                        path,
                        message: "SLA page without `values`".into(),
                    });
                }
            };
            let size = batch.len() as u64;
            values.extend(batch);
            if page["isLastPage"].as_bool().unwrap_or(true) || size == 0 {
                return Ok(Some(values));
            }
            start += size;
        }
        Err(too_many_pages(&path))
    }

    /// Follows `startAt` pages of `path` until `isLast`, `total` or an empty page.
    async fn offset_pages(
        &self,
        path: &str,
        items: &str,
        extra: &[(&str, String)],
    ) -> Result<Vec<Value>> {
        // Items may nest deep (comment bodies): dropped stack-safely if paging fails.
        let mut out: Vec<crate::json::DeepValue> = Vec::new();
        for _ in 0..MAX_PAGES {
            let mut query = vec![
                ("startAt", out.len().to_string()),
                ("maxResults", PAGE.to_string()),
            ];
            query.extend(extra.iter().cloned());
            let mut page = self.get_json(path, &query).await?;
            let batch = match page.get_mut(items).map(Value::take) {
                Some(Value::Array(batch)) => batch,
                _ => {
                    return Err(Error::Protocol {
                        path: path.into(),
                        message: format!("page without `{items}`"),
                    });
                }
            };
            let got = batch.len();
            out.extend(batch.into_iter().map(crate::json::DeepValue::new));
            let total = page["total"].as_u64().map(|t| t as usize);
            let done = page["isLast"].as_bool().unwrap_or(false)
                || got == 0
                || total.is_some_and(|t| out.len() >= t);
            if done {
                return Ok(out
                    .into_iter()
                    .map(crate::json::DeepValue::into_inner)
                    .collect());
            }
        }
        Err(too_many_pages(path))
    }
}

/// The `issues` array of a search answer, taken out of it.
fn take_issues(answer: &mut Value, path: &str) -> Result<Vec<Value>> {
    match answer.get_mut("issues").map(Value::take) {
        Some(Value::Array(issues)) => Ok(issues),
        _ => Err(Error::Protocol {
            path: path.into(),
            message: "search answer has no `issues` array".into(),
        }),
    }
}

/// The next token, or `None` at the end: absent, null or empty token, or `isLast`.
fn next_page_token_from(page: &Value, is_last: bool) -> Option<String> {
    match page.get("nextPageToken") {
        Some(Value::String(t)) if !t.is_empty() && !is_last => Some(t.clone()),
        _ => None,
    }
}

/// Histories sort by numeric id (ids grow with time in Jira), then by the id text.
fn history_sort_key(h: &Value) -> (u64, String) {
    let id = match &h["id"] {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        _ => String::new(),
    };
    (id.parse().unwrap_or(0), id)
}

fn array(v: Value, path: &str) -> Result<Vec<Value>> {
    match v {
        Value::Array(a) => Ok(a),
        _ => Err(Error::Protocol {
            path: path.into(),
            message: "expected a JSON array".into(),
        }),
    }
}

/// Puts the complete list `items` in `fields.<field>.<list>` as one page holding them all
/// (`startAt` 0, `maxResults` = `total` = their number), keeping the object's other keys.
fn replace_page(issue: &mut Value, field: &str, list: &str, items: Vec<Value>) {
    let Some(fields) = issue.get_mut("fields").and_then(Value::as_object_mut) else {
        return;
    };
    let n = items.len();
    let mut page = match fields.remove(field) {
        Some(Value::Object(map)) => map,
        _ => Default::default(),
    };
    page.insert(list.into(), Value::Array(items));
    page.insert("startAt".into(), json!(0));
    page.insert("maxResults".into(), json!(n));
    page.insert("total".into(), json!(n));
    fields.insert(field.into(), Value::Object(page));
}

fn too_many_pages(path: &str) -> Error {
    Error::Protocol {
        path: path.into(),
        message: format!("more than {MAX_PAGES} pages; the server seems to loop"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::jira::{ClientOptions, Credentials, RequestBudget};
    use crate::simulator::{SimConfig, SimDeployment, Simulator};

    async fn data_center(issues: usize) -> (Simulator, JiraClient) {
        let sim = Simulator::start(SimConfig {
            issues,
            deployment: SimDeployment::DataCenter,
            time_zone: "Europe/Berlin".into(),
            ..SimConfig::default()
        })
        .await
        .unwrap();
        let client = JiraClient::new(
            &url::Url::parse(&sim.base_url()).unwrap(),
            Credentials::Bearer {
                token: sim.config().api_token.clone(),
            },
            RequestBudget::new(2, 1000.0),
            ClientOptions {
                deployment: Deployment::DataCenter,
                ..ClientOptions::default()
            },
        )
        .unwrap();
        (sim, client)
    }

    /// Data Center pages by `startAt` to `total`; an edit meanwhile (newest first) lists an
    /// issue twice rather than skipping one; a deletion meanwhile is an error, never a
    /// short listing passed off as complete.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn data_center_offsets_never_skip_an_issue_silently() {
        let (sim, client) = data_center(25).await;
        let jql =
            crate::jira::jql::updated_since("project = SUP", 0, client.jql_dates().await.unwrap());
        let keys = |page: &SearchPage| -> Vec<String> {
            page.issues
                .iter()
                .map(|i| i["key"].as_str().unwrap().to_string())
                .collect()
        };
        // Whole listing, 10 at a time: every issue once.
        let mut seen = Vec::new();
        let mut token = None;
        for _ in 0..10 {
            let page = client
                .search_page(&jql, token.as_deref(), &["updated"], None, 10)
                .await
                .unwrap();
            seen.extend(keys(&page));
            token = page.next_page_token;
            if token.is_none() {
                break;
            }
        }
        seen.sort();
        seen.dedup();
        assert_eq!(seen.len(), 25);

        // An issue of the first page edited while the listing runs: nothing is skipped.
        let first = client
            .search_page(&jql, None, &["updated"], None, 10)
            .await
            .unwrap();
        sim.touch(&keys(&first)[9]);
        let mut seen = keys(&first);
        let mut token = first.next_page_token;
        while let Some(t) = token {
            let page = client
                .search_page(&jql, Some(&t), &["updated"], None, 10)
                .await
                .unwrap();
            seen.extend(keys(&page));
            token = page.next_page_token;
        }
        seen.sort();
        seen.dedup();
        assert_eq!(seen.len(), 25, "no issue skipped");

        // One deleted while the listing runs: the next page says so.
        let first = client
            .search_page(&jql, None, &["updated"], None, 10)
            .await
            .unwrap();
        sim.delete_issue(&keys(&first)[0]);
        let err = client
            .search_page(
                &jql,
                first.next_page_token.as_deref(),
                &["updated"],
                None,
                10,
            )
            .await
            .unwrap_err();
        assert!(err.to_string().contains("shrank from 25 to 24"), "{err}");
        // A token that is no page position is refused.
        let err = client
            .search_page(&jql, Some("x"), &["updated"], None, 10)
            .await
            .unwrap_err();
        assert!(err.to_string().contains("not a page position"), "{err}");
        sim.shutdown().await;
    }
}
