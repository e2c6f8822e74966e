//! End-to-end tests over HTTP with reqwest, one simulator per test: the harness here, the
//! tests by concern in `search` (JQL and paging), `resources` (an issue's sub-resources, SLAs,
//! attachments, fields), `site` (auth, faults, mutations, concurrency), `poison` and `dc` (a
//! Data Center site).

mod dc;
mod oauth;
mod poison;
mod resources;
mod search;
mod site;

use super::*;
use serde_json::{Value, json};
use std::collections::HashSet;

struct H {
    sim: Simulator,
    http: reqwest::Client,
    cfg: SimConfig,
}

impl H {
    async fn new(cfg: SimConfig) -> H {
        let sim = Simulator::start(cfg).await.expect("simulator starts");
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("client");
        let cfg = sim.config();
        H { sim, http, cfg }
    }

    fn url(&self, p: &str) -> String {
        format!("{}{p}", self.sim.base_url())
    }

    async fn get(&self, p: &str) -> reqwest::Response {
        self.http
            .get(self.url(p))
            .basic_auth(&self.cfg.email, Some(&self.cfg.api_token))
            .send()
            .await
            .unwrap()
    }

    async fn get_json(&self, p: &str) -> Value {
        let r = self.get(p).await;
        assert_eq!(r.status(), 200, "GET {p}");
        r.json().await.unwrap()
    }

    async fn search(&self, body: &Value) -> (u16, Value) {
        let r = self
            .http
            .post(self.url("/rest/api/3/search/jql"))
            .basic_auth(&self.cfg.email, Some(&self.cfg.api_token))
            .json(body)
            .send()
            .await
            .unwrap();
        let status = r.status().as_u16();
        (status, r.json().await.unwrap())
    }

    async fn search_keys(&self, jql: &str) -> Vec<String> {
        let (status, v) = self
            .search(&json!({"jql": jql, "maxResults": 5000, "fields": ["key"]}))
            .await;
        assert_eq!(status, 200, "{jql}: {v}");
        assert_eq!(v["isLast"], true);
        keys(&v)
    }
}

fn keys(page: &Value) -> Vec<String> {
    page["issues"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["key"].as_str().unwrap().to_string())
        .collect()
}

fn small() -> SimConfig {
    SimConfig {
        issues: 40,
        ..SimConfig::default()
    }
}

fn parse_jira_ms(s: &str) -> i64 {
    chrono::DateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S%.3f%z")
        .unwrap()
        .timestamp_millis()
}

/// The raw answer to a search (its body may not be JSON serde_json accepts).
async fn search_raw(h: &H, body: &Value) -> (u16, Vec<u8>) {
    let r = h
        .http
        .post(h.url("/rest/api/3/search/jql"))
        .basic_auth(&h.cfg.email, Some(&h.cfg.api_token))
        .json(body)
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.bytes().await.unwrap().to_vec())
}

async fn get_raw(h: &H, p: &str) -> (u16, Vec<u8>) {
    let r = h.get(p).await;
    (r.status().as_u16(), r.bytes().await.unwrap().to_vec())
}

fn assert_jira_403(status: u16, body: &[u8], what: &str) {
    assert_eq!(status, 403, "{what}");
    let v: Value = serde_json::from_slice(body).unwrap();
    assert!(v["errorMessages"][0].is_string(), "{what}: {v}");
    assert_eq!(v["errors"], json!({}), "{what}");
}
