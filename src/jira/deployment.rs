//! Which Jira the mirror talks to: Jira Cloud or Jira Data Center / Server.
//!
//! The two differ in every request the mirror makes, so the difference lives in one place:
//!
//! | | Cloud | Data Center |
//! |---|---|---|
//! | REST API | `/rest/api/3` (ADF bodies) | `/rest/api/2` (wiki-markup bodies) |
//! | search | `POST /search/jql`, `nextPageToken` | `POST /search`, `startAt`/`total` |
//! | JQL time bound | epoch milliseconds | `"yyyy/MM/dd HH:mm"` in the account's zone |
//! | attachment body | `/attachment/content/{id}` → 303 to a media host | `/secure/attachment/{id}/{name}` |
//! | users | `accountId` | `key` / `name` |
//! | projects, users, priorities | paged `…/search` endpoints | plain arrays |
//!
//! `[jira] deployment` names it; when left out, a site under `atlassian.net` or
//! `api.atlassian.com` is Cloud and any other asks `GET /rest/api/2/serverInfo`, which both
//! answer without credentials (`deploymentType`: `Cloud`, `Server` or `DataCenter`).

use std::fmt;
use std::str::FromStr;

use serde_json::Value;

/// Jira Cloud or Jira Data Center / Server.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Deployment {
    /// Jira Cloud (`*.atlassian.net`, or the OAuth gateway `api.atlassian.com`).
    #[default]
    Cloud,
    /// Jira Data Center or Jira Server (REST API 2).
    DataCenter,
}

impl Deployment {
    /// The REST API version the mirror uses there: 3 on Cloud (ADF), 2 on Data Center.
    pub fn api_version(self) -> u8 {
        match self {
            Deployment::Cloud => 3,
            Deployment::DataCenter => 2,
        }
    }

    /// `/rest/api/{2|3}/{tail}`.
    pub fn api(self, tail: &str) -> String {
        format!("/rest/api/{}/{tail}", self.api_version())
    }

    /// The deployment a site's host name proves without asking: Atlassian's Cloud domains.
    pub fn from_host(host: &str) -> Option<Deployment> {
        let host = host.trim_end_matches('.').to_ascii_lowercase();
        let cloud = ["atlassian.net", "jira.com", "api.atlassian.com"]
            .iter()
            .any(|domain| host == *domain || host.ends_with(&format!(".{domain}")));
        cloud.then_some(Deployment::Cloud)
    }

    /// The deployment a `/rest/api/2/serverInfo` answer names in `deploymentType`.
    pub fn from_server_info(info: &Value) -> Option<Deployment> {
        match info["deploymentType"].as_str()? {
            "Cloud" => Some(Deployment::Cloud),
            "Server" | "DataCenter" => Some(Deployment::DataCenter),
            _ => None,
        }
    }
}

impl fmt::Display for Deployment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Deployment::Cloud => "cloud",
            Deployment::DataCenter => "data_center",
        })
    }
}

impl FromStr for Deployment {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "cloud" => Ok(Deployment::Cloud),
            "data_center" => Ok(Deployment::DataCenter),
            other => Err(format!(
                "{other:?} is not a deployment; use \"cloud\" or \"data_center\""
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn cloud_hosts_are_known_without_asking() {
        for host in [
            "acme.atlassian.net",
            "ACME.Atlassian.NET.",
            "api.atlassian.com",
            "old.jira.com",
        ] {
            assert_eq!(
                Deployment::from_host(host),
                Some(Deployment::Cloud),
                "{host}"
            );
        }
        for host in [
            "jira.example.com",
            "atlassian.net.example.com",
            "notatlassian.net",
            "127.0.0.1",
        ] {
            assert_eq!(Deployment::from_host(host), None, "{host}");
        }
    }

    #[test]
    fn server_info_names_the_deployment() {
        let of = |t: &str| Deployment::from_server_info(&json!({ "deploymentType": t }));
        assert_eq!(of("Cloud"), Some(Deployment::Cloud));
        assert_eq!(of("DataCenter"), Some(Deployment::DataCenter));
        assert_eq!(of("Server"), Some(Deployment::DataCenter));
        assert_eq!(of("Mainframe"), None);
        assert_eq!(Deployment::from_server_info(&json!({})), None);
    }

    #[test]
    fn names_and_paths() {
        assert_eq!(
            "data_center".parse::<Deployment>(),
            Ok(Deployment::DataCenter)
        );
        assert_eq!(Deployment::DataCenter.to_string(), "data_center");
        assert!("Cloud".parse::<Deployment>().is_err());
        assert_eq!(Deployment::Cloud.api("myself"), "/rest/api/3/myself");
        assert_eq!(Deployment::DataCenter.api("field"), "/rest/api/2/field");
    }
}
