//! The load generator: N concurrent keep-alive workers sending a fixed number of requests, timing each one's
//! first body byte and its end, and checking that every answer is complete. Runs on a single-threaded tokio
//! runtime so it takes one core at most and its own CPU cost per request can be reported beside the proxy's.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use reqwest::header::HeaderMap;

/// How a complete answer ends; an answer without it counts as failed.
#[derive(Clone, Copy, Debug)]
pub enum Expect {
    /// The upstream's own stream: `data: end`.
    UpstreamEnd,
    /// An OpenAI stream: `data: [DONE]`.
    Done,
    /// A JSON completion.
    Json,
}

impl Expect {
    fn complete(self, tail: &[u8]) -> bool {
        let tail = tail.trim_ascii_end();
        match self {
            Expect::UpstreamEnd => tail.ends_with(b"data: end"),
            Expect::Done => tail.ends_with(b"data: [DONE]"),
            Expect::Json => tail.ends_with(b"}"),
        }
    }
}

/// What to send: one of `variants` (headers and body) per request, in turn; the direct load rotates over the
/// tokens the way the proxy does.
#[derive(Clone)]
pub struct Job {
    pub url: String,
    pub variants: Vec<(HeaderMap, Bytes)>,
    pub expect: Expect,
}

/// One finished request.
#[derive(Clone, Copy)]
pub struct Sample {
    pub total: Duration,
    pub first_byte: Duration,
}

pub struct Outcome {
    pub samples: Vec<Sample>,
    pub failed: usize,
    /// The first few failures, for the report.
    pub errors: Vec<String>,
    pub wall: Duration,
}

/// The client every worker shares: HTTP/1.1 keep-alive, no proxy from the environment, no Nagle delay.
pub fn client() -> anyhow::Result<reqwest::Client> {
    Ok(reqwest::Client::builder()
        .http1_only()
        .no_proxy()
        .tcp_nodelay(true)
        .pool_max_idle_per_host(usize::MAX)
        .build()?)
}

/// Sends `total` requests from `concurrency` workers and waits for all of them.
pub async fn run(
    client: &reqwest::Client,
    job: &Arc<Job>,
    concurrency: usize,
    total: usize,
) -> Outcome {
    let next = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let mut workers = tokio::task::JoinSet::new();
    for _ in 0..concurrency {
        let (client, job, next) = (client.clone(), Arc::clone(job), Arc::clone(&next));
        workers.spawn(async move {
            let mut samples = Vec::with_capacity(total / concurrency + 1);
            let mut errors = Vec::new();
            loop {
                let seq = next.fetch_add(1, Ordering::Relaxed);
                if seq >= total {
                    break;
                }
                match one(&client, &job, seq).await {
                    Ok(sample) => samples.push(sample),
                    Err(err) => errors.push(err),
                }
            }
            (samples, errors)
        });
    }
    let mut outcome = Outcome {
        samples: Vec::with_capacity(total),
        failed: 0,
        errors: Vec::new(),
        wall: Duration::ZERO,
    };
    while let Some(joined) = workers.join_next().await {
        match joined {
            Ok((samples, errors)) => {
                outcome.samples.extend(samples);
                outcome.failed += errors.len();
                outcome.errors.extend(errors.into_iter().take(3));
            }
            Err(err) => {
                outcome.failed += 1;
                outcome.errors.push(format!("worker panicked: {err}"));
            }
        }
    }
    outcome.wall = started.elapsed();
    outcome
}

async fn one(client: &reqwest::Client, job: &Job, seq: usize) -> Result<Sample, String> {
    let (headers, body) = &job.variants[seq % job.variants.len()];
    let start = Instant::now();
    let mut response = client
        .post(&job.url)
        .headers(headers.clone())
        .body(body.clone())
        .send()
        .await
        .map_err(|e| format!("send: {e}"))?;
    if response.status() != 200 {
        let status = response.status();
        let text = response.text().await.unwrap_or_default();
        return Err(format!(
            "status {status}: {}",
            text.chars().take(200).collect::<String>()
        ));
    }
    let mut first_byte = None;
    // The last bytes seen: enough to find the end marker even when it straddles two chunks.
    let mut tail: Vec<u8> = Vec::with_capacity(64);
    while let Some(chunk) = response.chunk().await.map_err(|e| format!("body: {e}"))? {
        first_byte.get_or_insert_with(|| start.elapsed());
        tail.extend_from_slice(&chunk[chunk.len().saturating_sub(32)..]);
        if tail.len() > 32 {
            tail.drain(..tail.len() - 32);
        }
    }
    let total = start.elapsed();
    if !job.expect.complete(&tail) {
        return Err(format!(
            "incomplete answer, ends with {:?}",
            String::from_utf8_lossy(&tail)
        ));
    }
    Ok(Sample {
        total,
        first_byte: first_byte.unwrap_or(total),
    })
}

/// Opens `n` streams, each on its own connection, and waits for each one's first byte. Returns the open
/// responses (dropping them closes the streams) and the failures.
pub async fn open_streams(
    client: &reqwest::Client,
    job: &Arc<Job>,
    n: usize,
    timeout: Duration,
) -> (Vec<reqwest::Response>, Vec<String>) {
    let mut tasks = tokio::task::JoinSet::new();
    for seq in 0..n {
        let (client, job) = (client.clone(), Arc::clone(job));
        tasks.spawn(async move {
            let (headers, body) = &job.variants[seq % job.variants.len()];
            let opened = async {
                let mut response = client
                    .post(&job.url)
                    .headers(headers.clone())
                    .body(body.clone())
                    .send()
                    .await
                    .map_err(|e| format!("send: {e}"))?;
                if response.status() != 200 {
                    return Err(format!("status {}", response.status()));
                }
                match response.chunk().await {
                    Ok(Some(_)) => Ok(response),
                    Ok(None) => Err("stream ended at once".to_string()),
                    Err(e) => Err(format!("body: {e}")),
                }
            };
            tokio::time::timeout(timeout, opened)
                .await
                .unwrap_or_else(|_| Err("no first byte in time".into()))
        });
    }
    let mut open = Vec::with_capacity(n);
    let mut errors = Vec::new();
    while let Some(joined) = tasks.join_next().await {
        match joined {
            Ok(Ok(response)) => open.push(response),
            Ok(Err(err)) => errors.push(err),
            Err(err) => errors.push(format!("task: {err}")),
        }
    }
    (open, errors)
}

/// The p-th percentile (0–100) of sorted durations, nearest rank.
pub fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}
