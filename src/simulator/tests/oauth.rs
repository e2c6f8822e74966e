//! OAuth 2.0 (3LO) on a Cloud site over HTTP: the code exchange, rotating refresh tokens,
//! accessible resources, the API gateway with its tokens, expiry and quota.

use super::*;

const REDIRECT: &str = "http://localhost:8765/callback";

fn with_oauth(oauth: SimOAuth) -> SimConfig {
    SimConfig {
        oauth: Some(oauth),
        ..small()
    }
}

impl H {
    /// `POST /oauth/token` with a JSON body.
    async fn token(&self, body: &Value) -> (u16, Value) {
        let r = self
            .http
            .post(self.url("/oauth/token"))
            .json(body)
            .send()
            .await
            .unwrap();
        let status = r.status().as_u16();
        (status, r.json().await.unwrap())
    }

    /// Exchanges a fresh consent code: `(access_token, refresh_token)`.
    async fn login(&self) -> (String, String) {
        let o = self.cfg.oauth.clone().unwrap();
        let code = self.sim.oauth_consent(REDIRECT);
        let (status, v) = self
            .token(&json!({
                "grant_type": "authorization_code",
                "client_id": o.client_id,
                "client_secret": o.client_secret,
                "code": code,
                "redirect_uri": REDIRECT,
            }))
            .await;
        assert_eq!(status, 200, "{v}");
        (
            v["access_token"].as_str().unwrap().to_string(),
            v["refresh_token"].as_str().unwrap().to_string(),
        )
    }

    /// A gateway GET of the site path `p` with `token`.
    async fn gateway(&self, p: &str, token: Option<&str>) -> reqwest::Response {
        let url = format!("{}{p}", self.sim.gateway_base_url().unwrap());
        let mut r = self.http.get(url);
        if let Some(t) = token {
            r = r.bearer_auth(t);
        }
        r.send().await.unwrap()
    }
}

#[tokio::test]
async fn code_exchange_and_rotating_refresh_tokens() {
    let h = H::new(with_oauth(SimOAuth::default())).await;
    let o = h.cfg.oauth.clone().unwrap();
    let code = h.sim.oauth_consent(REDIRECT);
    let exchange = json!({
        "grant_type": "authorization_code",
        "client_id": o.client_id,
        "client_secret": o.client_secret,
        "code": code,
        "redirect_uri": REDIRECT,
    });
    // A wrong secret: 401, and the code is still good.
    let mut wrong = exchange.clone();
    wrong["client_secret"] = json!("nope");
    let (status, v) = h.token(&wrong).await;
    assert_eq!(status, 401);
    assert_eq!(
        v,
        json!({"error": "access_denied", "error_description": "Unauthorized"})
    );
    let (status, v) = h.token(&exchange).await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["token_type"], "Bearer");
    assert_eq!(v["expires_in"], 3600);
    assert_eq!(
        v["scope"],
        "read:jira-work read:jira-user offline_access read:servicedesk-request"
    );
    let access = v["access_token"].as_str().unwrap().to_string();
    let refresh = v["refresh_token"].as_str().unwrap().to_string();
    assert!(access.len() >= 32 && refresh.len() >= 32 && access != refresh);
    // A code works once.
    let (status, v) = h.token(&exchange).await;
    assert_eq!(status, 403);
    assert_eq!(v["error"], "invalid_grant");
    // … and only for its redirect_uri.
    let mut elsewhere = exchange.clone();
    elsewhere["code"] = json!(h.sim.oauth_consent(REDIRECT));
    elsewhere["redirect_uri"] = json!("http://localhost:9999/other");
    assert_eq!(h.token(&elsewhere).await.0, 403);

    // Refresh (as a form, too): a new access token and a new refresh token; the old refresh
    // token is dead.
    let form = [
        ("grant_type", "refresh_token"),
        ("client_id", o.client_id.as_str()),
        ("client_secret", o.client_secret.as_str()),
        ("refresh_token", refresh.as_str()),
    ];
    let body = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(form)
        .finish();
    let r = h
        .http
        .post(h.url("/oauth/token"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let v: Value = r.json().await.unwrap();
    let access2 = v["access_token"].as_str().unwrap().to_string();
    let refresh2 = v["refresh_token"].as_str().unwrap().to_string();
    assert_ne!(access2, access);
    assert_ne!(refresh2, refresh);
    let reuse = json!({
        "grant_type": "refresh_token",
        "client_id": o.client_id,
        "client_secret": o.client_secret,
        "refresh_token": refresh,
    });
    let (status, v) = h.token(&reuse).await;
    assert_eq!(status, 403);
    assert_eq!(
        v,
        json!({"error": "unauthorized_client", "error_description": "refresh_token is invalid"})
    );
    let mut next = reuse.clone();
    next["refresh_token"] = json!(refresh2);
    let (status, _) = h.token(&next).await;
    assert_eq!(status, 200);
    let (status, v) = h
        .token(&json!({"grant_type": "password", "client_id": o.client_id}))
        .await;
    assert_eq!(status, 400);
    assert_eq!(v["error"], "unsupported_grant_type");
    // Every token request is recorded, without its secrets.
    assert_eq!(h.sim.oauth_token_requests(), 8);
    for r in h.sim.requests() {
        assert!(!r.body.contains(&o.client_secret), "{}", r.body);
        assert!(!r.body.contains(&refresh) && !r.body.contains(&refresh2));
        assert!(!r.body.contains(code.as_str()));
    }
    let first = &h.sim.requests()[0];
    assert_eq!(first.path, "/oauth/token");
    assert!(first.body.contains("authorization_code") && first.body.contains("<redacted>"));
    let form_rec = h
        .sim
        .requests()
        .into_iter()
        .find(|r| r.body.starts_with("grant_type=refresh_token"))
        .unwrap();
    assert!(
        form_rec.body.contains("client_secret=%3Credacted%3E"),
        "{}",
        form_rec.body
    );
    h.sim.shutdown().await;
}

#[tokio::test]
async fn accessible_resources_and_the_gateway() {
    let h = H::new(with_oauth(SimOAuth::default())).await;
    let (access, _) = h.login().await;
    let o = h.cfg.oauth.clone().unwrap();
    let r = h
        .http
        .get(h.url("/oauth/token/accessible-resources"))
        .bearer_auth(&access)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v[0]["id"], o.cloud_id.as_str());
    assert_eq!(v[0]["url"], h.sim.base_url());
    assert_eq!(v[0]["name"], "sim");
    assert!(
        v[0]["scopes"]
            .as_array()
            .unwrap()
            .contains(&json!("read:jira-work"))
    );
    assert!(v[0]["avatarUrl"].is_string());
    let r = h
        .http
        .get(h.url("/oauth/token/accessible-resources"))
        .bearer_auth("not-a-token")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);

    assert_eq!(
        h.sim.gateway_base_url().unwrap(),
        format!("{}/ex/jira/{}", h.sim.base_url(), o.cloud_id)
    );
    // With the token: the site, under the gateway's prefix.
    let r = h.gateway("/rest/api/3/myself", Some(&access)).await;
    assert_eq!(r.status(), 200);
    assert!(
        r.headers().get("x-ratelimit-limit").is_none(),
        "no quota, no headers"
    );
    let me: Value = r.json().await.unwrap();
    assert_eq!(me["emailAddress"], "mirror@example.com");
    let issue: Value = h
        .gateway("/rest/api/3/issue/SUP-2?fields=summary", Some(&access))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(issue["key"], "SUP-2");
    let r = h
        .http
        .post(format!(
            "{}/rest/api/3/search/jql",
            h.sim.gateway_base_url().unwrap()
        ))
        .bearer_auth(&access)
        .json(&json!({"jql": "project = SUP", "maxResults": 5}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let page: Value = r.json().await.unwrap();
    assert_eq!(page["issues"].as_array().unwrap().len(), 5);
    let sla = h
        .gateway("/rest/servicedeskapi/request/SUP-1/sla", Some(&access))
        .await;
    assert_eq!(sla.status(), 200);
    // Attachments: the 303 to the media host, as on the site.
    let atts: Value = h
        .gateway("/rest/api/3/issue/SUP-1?fields=attachment", Some(&access))
        .await
        .json()
        .await
        .unwrap();
    let id = atts["fields"]["attachment"][0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let r = h
        .gateway(
            &format!("/rest/api/3/attachment/content/{id}"),
            Some(&access),
        )
        .await;
    assert_eq!(r.status(), 303);
    assert!(
        r.headers()["location"]
            .to_str()
            .unwrap()
            .starts_with(&h.sim.media_base_url())
    );
    // Without a token, with basic auth, with a wrong cloud id, off the API: refused.
    let r = h.gateway("/rest/api/3/myself", None).await;
    assert_eq!(r.status(), 401);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["code"], 401);
    let r = h
        .http
        .get(format!(
            "{}/rest/api/3/myself",
            h.sim.gateway_base_url().unwrap()
        ))
        .basic_auth(&h.cfg.email, Some(&h.cfg.api_token))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    let r = h
        .http
        .get(h.url("/ex/jira/00000000-0000-0000-0000-000000000000/rest/api/3/myself"))
        .bearer_auth(&access)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    assert_eq!(
        h.gateway("/rest/api/3/nothing", Some(&access))
            .await
            .status(),
        404
    );
    // The access token is no site credential; basic auth on the site still works.
    let r = h
        .http
        .get(h.url("/rest/api/3/myself"))
        .bearer_auth(&access)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    assert_eq!(h.get("/rest/api/3/myself").await.status(), 200);
    // The record shows the gateway path and the token's account.
    let rec = h
        .sim
        .requests()
        .into_iter()
        .find(|r| r.path.ends_with("/rest/api/3/issue/SUP-2"))
        .unwrap();
    assert!(rec.path.starts_with("/ex/jira/"));
    assert_eq!(rec.query, "fields=summary");
    assert_eq!(rec.user.as_deref(), Some("mirror@example.com"));
    h.sim.shutdown().await;
}

#[tokio::test]
async fn expired_access_tokens_are_refused_until_refreshed() {
    let h = H::new(with_oauth(SimOAuth {
        access_token_ttl: std::time::Duration::from_millis(300),
        ..SimOAuth::default()
    }))
    .await;
    let o = h.cfg.oauth.clone().unwrap();
    let (access, refresh) = h.login().await;
    assert_eq!(
        h.gateway("/rest/api/3/myself", Some(&access))
            .await
            .status(),
        200
    );
    tokio::time::sleep(std::time::Duration::from_millis(400)).await;
    let r = h.gateway("/rest/api/3/myself", Some(&access)).await;
    assert_eq!(r.status(), 401);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v, json!({"code": 401, "message": "Unauthorized"}));
    let (status, v) = h
        .token(&json!({
            "grant_type": "refresh_token",
            "client_id": o.client_id,
            "client_secret": o.client_secret,
            "refresh_token": refresh,
        }))
        .await;
    assert_eq!(status, 200);
    assert_eq!(v["expires_in"], 0);
    let fresh = v["access_token"].as_str().unwrap().to_string();
    assert_eq!(
        h.gateway("/rest/api/3/myself", Some(&fresh)).await.status(),
        200
    );
    h.sim.shutdown().await;

    // expire_access_tokens: every token issued so far stops working at once.
    let h = H::new(with_oauth(SimOAuth::default())).await;
    let (a1, _) = h.login().await;
    let (a2, _) = h.login().await;
    for a in [&a1, &a2] {
        assert_eq!(h.gateway("/rest/api/3/myself", Some(a)).await.status(), 200);
    }
    h.sim.expire_access_tokens();
    for a in [&a1, &a2] {
        assert_eq!(h.gateway("/rest/api/3/myself", Some(a)).await.status(), 401);
    }
    let (a3, _) = h.login().await;
    assert_eq!(
        h.gateway("/rest/api/3/myself", Some(&a3)).await.status(),
        200
    );
    h.sim.shutdown().await;
}

#[tokio::test]
async fn rate_limit_headers_count_down_then_429() {
    let h = H::new(with_oauth(SimOAuth {
        quota: Some(10),
        ..SimOAuth::default()
    }))
    .await;
    let (access, _) = h.login().await;
    let header = |r: &reqwest::Response, n: &str| {
        r.headers().get(n).map(|v| v.to_str().unwrap().to_string())
    };
    let mut reset = None;
    for i in 1..=10u32 {
        let r = h.gateway("/rest/api/3/myself", Some(&access)).await;
        assert_eq!(r.status(), 200, "request {i}");
        assert_eq!(header(&r, "x-ratelimit-limit").as_deref(), Some("10"));
        let remaining = 10 - i;
        assert_eq!(
            header(&r, "x-ratelimit-remaining"),
            Some(remaining.to_string())
        );
        // Near the limit: less than 20% left.
        let near = header(&r, "x-ratelimit-nearlimit");
        assert_eq!(
            near.as_deref(),
            (remaining < 2).then_some("true"),
            "request {i}"
        );
        let this_reset = header(&r, "x-ratelimit-reset").unwrap();
        let parsed = chrono::NaiveDateTime::parse_from_str(&this_reset, "%Y-%m-%dT%H:%MZ").unwrap();
        let in_secs = parsed.and_utc().timestamp() - chrono::Utc::now().timestamp();
        assert!((3500..=3600).contains(&in_secs), "{this_reset}");
        assert!(reset.get_or_insert(this_reset.clone()) == &this_reset);
    }
    let r = h.gateway("/rest/api/3/myself", Some(&access)).await;
    assert_eq!(r.status(), 429);
    let retry: u64 = header(&r, "retry-after").unwrap().parse().unwrap();
    assert!((3500..=3600).contains(&retry), "{retry}");
    assert_eq!(
        header(&r, "ratelimit-reason").as_deref(),
        Some("jira-quota-tenant-based")
    );
    assert_eq!(header(&r, "x-ratelimit-remaining").as_deref(), Some("0"));
    assert_eq!(header(&r, "x-ratelimit-nearlimit").as_deref(), Some("true"));
    let rec = h.sim.requests().pop().unwrap();
    assert_eq!((rec.status, rec.retry_after_secs), (429, Some(retry)));
    assert!(rec.fault.is_none());
    // The token endpoint and the site itself are outside the gateway's quota; injected faults
    // spare the token endpoint.
    assert_eq!(h.get("/rest/api/3/myself").await.status(), 200);
    h.sim.set_faults(Faults {
        rate_429: 1.0,
        retry_after_secs: 2,
        ..Faults::default()
    });
    let (fresh, _) = h.login().await;
    assert_eq!(
        h.gateway("/rest/api/3/myself", Some(&fresh)).await.status(),
        429
    );
    h.sim.shutdown().await;
}

#[tokio::test]
async fn oauth_is_off_by_default_and_cloud_only() {
    let h = H::new(small()).await;
    assert!(h.sim.gateway_base_url().is_none());
    let r = h
        .http
        .post(h.url("/oauth/token"))
        .json(&json!({"grant_type": "refresh_token"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    assert_eq!(h.get("/oauth/token").await.status(), 404);
    h.sim.shutdown().await;
    let e = Simulator::start(SimConfig {
        deployment: SimDeployment::DataCenter,
        oauth: Some(SimOAuth::default()),
        ..small()
    })
    .await
    .unwrap_err();
    assert_eq!(e.kind(), std::io::ErrorKind::InvalidInput);
}
