//! Fetch one complete issue through the library API, against the built-in simulator.
//!
//! `cargo run --example fetch_one` starts the simulator on 127.0.0.1, asks for SUP-1 (250
//! changelog histories, 150 comments: more than Jira embeds), pages the rest, and prints
//! what came back.

use jira_mirror::jira::{ClientOptions, Credentials, JiraClient, RequestBudget};
use jira_mirror::simulator::{SimConfig, Simulator};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let sim = Simulator::start(SimConfig::default()).await?;
    let config = sim.config();
    let client = JiraClient::new(
        &sim.base_url().parse()?,
        Credentials::basic(config.email.clone(), config.api_token.clone()),
        RequestBudget::new(4, 20.0),
        ClientOptions::default(),
    )?;
    let mut issue = client
        .get_issue("SUP-1")
        .await?
        .ok_or_else(|| anyhow::anyhow!("SUP-1 not found"))?;
    let embedded = issue["changelog"]["histories"]
        .as_array()
        .map_or(0, Vec::len);
    client.complete_issue(&mut issue).await?;
    println!(
        "{}: {:?}\n  changelog: {} embedded, {} after paging\n  comments: {}\n  {}",
        issue["key"].as_str().unwrap_or("?"),
        issue["fields"]["summary"].as_str().unwrap_or(""),
        embedded,
        issue["changelog"]["histories"]
            .as_array()
            .map_or(0, Vec::len),
        issue["fields"]["comment"]["comments"]
            .as_array()
            .map_or(0, Vec::len),
        client.stats().summary()
    );
    sim.shutdown().await;
    Ok(())
}
