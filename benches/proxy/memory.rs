//! The memory scenario (issue 10, item 11): large request bodies made of many tiny messages, sent to a fresh proxy
//! a few at a time, and what they cost in resident memory per body byte, at the peak and after they are gone.

use std::fmt::Write as _;
use std::time::Duration;

use reqwest::header::{HeaderMap, HeaderValue};

use super::{KEY, Options, ProxyProcess, mb, procfs};
use crate::fake::FakeProcess;

/// One run: `bodies` requests of `bytes` each, all sent at once.
pub struct Scenario {
    pub bodies: usize,
    pub bytes: usize,
}

/// What one scenario measured.
struct Figures {
    before: u64,
    peak: u64,
    after: u64,
    statuses: Vec<u16>,
}

/// A chat request of about `bytes` bytes: `{"role":"user","content":"hi"}` repeated, the worst case for a
/// parser that keeps a tree of every message (each 31-byte message became about 900 bytes of `Value`).
pub fn tiny_messages(bytes: usize) -> Vec<u8> {
    const HEAD: &str = r#"{"model":"gpt-4o","stream":false,"messages":["#;
    const MESSAGE: &str = r#"{"role":"user","content":"hi"}"#;
    let mut body = String::with_capacity(bytes + MESSAGE.len() + 2);
    body.push_str(HEAD);
    body.push_str(MESSAGE);
    while body.len() + MESSAGE.len() + 3 <= bytes {
        body.push(',');
        body.push_str(MESSAGE);
    }
    body.push_str("]}");
    body.into_bytes()
}

/// Runs every scenario against its own fresh proxy (VmHWM is a high-water mark for the process's life) and returns
/// the report table.
pub async fn run(
    scenarios: &[Scenario],
    tokens: &[String],
    client: &reqwest::Client,
    o: &Options,
) -> anyhow::Result<(String, usize)> {
    let fake = FakeProcess::spawn(3, Duration::ZERO)?;
    let mut table = String::new();
    let _ = writeln!(
        table,
        "| bodies × size | RSS before | peak RSS (VmHWM) | peak added per body byte | RSS 2 s after | kept per body byte | statuses |\n|---|---:|---:|---:|---:|---:|---|"
    );
    let mut failed = 0;
    for scenario in scenarios {
        eprintln!(
            "memory: {} × {} MB…",
            scenario.bodies,
            scenario.bytes / 1_000_000
        );
        let proxy = ProxyProcess::start(&fake.url, tokens, o)?;
        let f = measure(&proxy, scenario, client).await?;
        proxy.stop();
        failed += f.statuses.iter().filter(|&&s| s != 200).count();
        let total = (scenario.bodies * scenario.bytes) as f64;
        let _ = writeln!(
            table,
            "| {} × {:.0} MB | {} MB | {} MB | {:.1} | {} MB | {:.1} | {:?} |",
            scenario.bodies,
            scenario.bytes as f64 / 1e6,
            mb(f.before),
            mb(f.peak),
            f.peak.saturating_sub(f.before) as f64 / total,
            mb(f.after),
            f.after.saturating_sub(f.before) as f64 / total,
            f.statuses,
        );
    }
    Ok((table, failed))
}

async fn measure(
    proxy: &ProxyProcess,
    scenario: &Scenario,
    client: &reqwest::Client,
) -> anyhow::Result<Figures> {
    let body = bytes::Bytes::from(tiny_messages(scenario.bytes));
    let mut headers = HeaderMap::new();
    headers.insert(
        "authorization",
        HeaderValue::from_str(&format!("Bearer {KEY}"))?,
    );
    headers.insert("content-type", HeaderValue::from_static("application/json"));
    tokio::time::sleep(Duration::from_millis(300)).await;
    let before = procfs::status_kb(proxy.pid(), "VmRSS")?;
    let url = format!("{}/v1/chat/completions", proxy.url);
    let sends = (0..scenario.bodies).map(|_| {
        let request = client
            .post(&url)
            .headers(headers.clone())
            .body(body.clone())
            .timeout(Duration::from_secs(300));
        async move {
            match request.send().await {
                Ok(response) => {
                    let status = response.status().as_u16();
                    let _ = response.bytes().await;
                    status
                }
                Err(_) => 0,
            }
        }
    });
    let statuses = futures_util::future::join_all(sends).await;
    let peak = procfs::status_kb(proxy.pid(), "VmHWM")?;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let after = procfs::status_kb(proxy.pid(), "VmRSS")?;
    Ok(Figures {
        before,
        peak,
        after,
        statuses,
    })
}
