//! Helpers for serve tests: a fake upstream with named tokens, a proxy in front of it, and an HTTP client.

use std::time::Duration;

use serde_json::{Value, json};

use jbproxy::fake_upstream::{FakeOptions, FakeUpstream, mint_jwt};

use super::inproc::InProc;
use super::proxy::Proxy;

pub const KEY: &str = "sk-test-client-key-0123456789";

/// What serves the test: `jbproxy serve` as a process, or `server::run` in the test's runtime.
pub trait Served {
    fn url(&self, path: &str) -> String;
    fn logs(&self) -> String;
}

impl Served for Proxy {
    fn url(&self, path: &str) -> String {
        Proxy::url(self, path)
    }
    fn logs(&self) -> String {
        Proxy::logs(self)
    }
}

impl Served for InProc {
    fn url(&self, path: &str) -> String {
        InProc::url(self, path)
    }
    fn logs(&self) -> String {
        InProc::logs(self)
    }
}

/// A fake upstream plus a proxy configured with one token per name.
pub struct Setup<P = Proxy> {
    pub fake: FakeUpstream,
    pub proxy: P,
    pub client: reqwest::Client,
}

pub fn token_entries(names: &[&str]) -> Vec<Value> {
    names
        .iter()
        .map(|n| json!({"token": mint_jwt(n, Duration::from_secs(3600)), "name": n}))
        .collect()
}

/// The config for `names` against `fake`; `extra` keys are merged in.
pub fn config_for(fake: &FakeUpstream, names: &[&str], extra: Value) -> Value {
    let mut config = json!({
        "jetbrains_tokens": token_entries(names),
        "bearer_token": KEY,
        "upstream_url": fake.url(),
        "health_check_mode": "off",
        "watch_config": false,
        "server_host": "127.0.0.1",
        "shutdown_grace": "5s",
    });
    if let (Some(map), Value::Object(extra)) = (config.as_object_mut(), extra) {
        map.extend(extra);
    }
    config
}

impl Setup<InProc> {
    /// The proxy in this test's runtime (see `InProc`). Its client opens a connection per request: a pooled one
    /// would sit idle while a paused clock jumps past `client_idle_timeout`.
    pub async fn in_process(names: &[&str], extra: Value) -> Setup<InProc> {
        let fake = FakeUpstream::start(FakeOptions::default())
            .await
            .expect("fake upstream");
        let config = config_for(&fake, names, extra);
        let proxy = InProc::start(&config).await;
        let client = reqwest::Client::builder()
            .pool_max_idle_per_host(0)
            .build()
            .expect("client");
        Setup {
            fake,
            proxy,
            client,
        }
    }
}

impl Setup {
    pub async fn start(names: &[&str], extra: Value) -> Setup {
        Self::with_options(names, extra, FakeOptions::default()).await
    }

    pub async fn with_options(names: &[&str], extra: Value, options: FakeOptions) -> Setup {
        let fake = FakeUpstream::start(options).await.expect("fake upstream");
        let config = config_for(&fake, names, extra);
        let proxy = Proxy::start(&config, &[]);
        Setup {
            fake,
            proxy,
            client: reqwest::Client::new(),
        }
    }
}

impl<P: Served> Setup<P> {
    /// Opens `n` streaming requests and waits until the upstream has every one of them open.
    pub async fn open_streams(&self, n: usize) -> Vec<tokio::task::JoinHandle<String>> {
        let mut streams = Vec::new();
        for i in 0..n {
            let client = self.client.clone();
            let url = self.url("/v1/chat/completions");
            streams.push(tokio::spawn(async move {
                let response = client
                    .post(url)
                    .bearer_auth(KEY)
                    .json(&streaming(&format!("stream {i}")))
                    .send()
                    .await
                    .expect("send");
                assert_eq!(response.status(), 200);
                response
                    .text()
                    .await
                    .unwrap_or_else(|e| format!("BROKEN: {e}"))
            }));
        }
        assert!(
            super::eventually(Duration::from_secs(10), async || self.fake.active_streams()
                == n)
            .await,
            "only {} of {n} streams opened",
            self.fake.active_streams()
        );
        streams
    }

    pub fn url(&self, path: &str) -> String {
        self.proxy.url(path)
    }

    pub async fn chat(&self, body: Value) -> reqwest::Response {
        self.client
            .post(self.url("/v1/chat/completions"))
            .bearer_auth(KEY)
            .json(&body)
            .send()
            .await
            .expect("request")
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.client
            .get(self.url(path))
            .bearer_auth(KEY)
            .send()
            .await
            .expect("request")
    }
}

pub fn user(text: &str) -> Value {
    json!({"model": "gpt-4o", "messages": [{"role": "user", "content": text}]})
}

pub fn streaming(text: &str) -> Value {
    json!({"model": "gpt-4o", "stream": true, "messages": [{"role": "user", "content": text}]})
}

/// The `data:` payloads of an SSE body, in order.
pub fn sse_data(body: &str) -> Vec<String> {
    body.split("\n\n")
        .filter_map(|event| event.lines().find_map(|l| l.strip_prefix("data: ")))
        .map(str::to_string)
        .collect()
}

/// Concatenated `delta.content` of chunk payloads.
pub fn streamed_text(data: &[String]) -> String {
    data.iter()
        .filter_map(|d| serde_json::from_str::<Value>(d).ok())
        .filter_map(|v| {
            v["choices"][0]["delta"]["content"]
                .as_str()
                .map(str::to_string)
        })
        .collect()
}
