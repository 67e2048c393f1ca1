//! The client side of the management API, for `jbproxy stats`: fetches a running server's `/stats`.

use std::time::Duration;

use anyhow::Context as _;
use serde_json::Value;

use crate::config::Config;

/// The server a config describes, as a base URL a client on this machine can reach.
pub fn default_url(config: &Config) -> String {
    let host = match config.start_up.server_host.as_str() {
        "0.0.0.0" | "" => "127.0.0.1".to_string(),
        "::" | "[::]" => "[::1]".to_string(),
        h if h.contains(':') && !h.starts_with('[') => format!("[{h}]"),
        h => h.to_string(),
    };
    format!("http://{host}:{}", config.start_up.server_port)
}

/// GET `{base}/stats` with the admin key.
pub async fn fetch_stats(base: &str, key: Option<&str>) -> anyhow::Result<Value> {
    fetch(base, "/stats", key).await
}

/// GET `{base}/stats?scope=cluster`: every replica sharing the pool's state.
pub async fn fetch_cluster_stats(base: &str, key: Option<&str>) -> anyhow::Result<Value> {
    fetch(base, "/stats?scope=cluster", key).await
}

async fn fetch(base: &str, path: &str, key: Option<&str>) -> anyhow::Result<Value> {
    let url = format!("{}{path}", base.trim_end_matches('/'));
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()?;
    let mut request = client.get(&url);
    if let Some(key) = key {
        request = request.bearer_auth(key);
    }
    let response = request.send().await.with_context(|| {
        format!("cannot reach {url}; is `jbproxy serve` running there? (set --url)")
    })?;
    match response.status().as_u16() {
        200 => response
            .json()
            .await
            .context("the server's /stats answer is not JSON"),
        401 => anyhow::bail!(
            "{url} refused the key (401); pass the admin_token (or bearer_token) with -k/--token"
        ),
        status => {
            // The server's own words say what is wrong (e.g. Redis unreachable for the cluster view).
            let message = response
                .json::<Value>()
                .await
                .ok()
                .and_then(|v| v["error"]["message"].as_str().map(str::to_string));
            match message {
                Some(message) => anyhow::bail!("{url} answered {status}: {message}"),
                None => anyhow::bail!("{url} answered {status}"),
            }
        }
    }
}
