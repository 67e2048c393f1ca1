//! Soak run (not part of CI): the release `jbproxy serve` in front of the in-process fake upstream under mixed load
//! for a long time, with 2 of 6 tokens failing in changing ways, clients leaving mid-stream, and a reload every few
//! seconds. Every few seconds it samples the server's RSS and open file descriptors; at the end it prints the
//! figures and fails (exit 1) on client-visible failures.
//!
//! ```text
//! cargo build --release && cargo run --release --example soak -- --minutes 30
//! ```
//! Options: `--minutes N` (default 30), `--concurrency N` (default 16), `--sample-secs N` (default 5),
//! `--bin PATH` (default `target/release/jbproxy`).

// The load's workers and the reload loop are this program's own tasks, awaited before it ends; clippy.toml's ban
// on bare spawns is about the server's background tasks.
#![allow(clippy::disallowed_methods)]

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use jbproxy::fake_upstream::{Behaviour, FakeOptions, FakeUpstream, mint_jwt};
use serde_json::json;

const KEY: &str = "sk-soak-client-key";

struct Args {
    minutes: f64,
    concurrency: usize,
    sample: Duration,
    bin: String,
}

fn args() -> Args {
    let mut args = Args {
        minutes: 30.0,
        concurrency: 16,
        sample: Duration::from_secs(5),
        bin: format!("{}/target/release/jbproxy", env!("CARGO_MANIFEST_DIR")),
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let value = it.next().unwrap_or_default();
        match flag.as_str() {
            "--minutes" => args.minutes = value.parse().unwrap_or(args.minutes),
            "--concurrency" => args.concurrency = value.parse().unwrap_or(args.concurrency),
            "--sample-secs" => args.sample = Duration::from_secs(value.parse().unwrap_or(5)),
            "--bin" => args.bin = value,
            other => eprintln!("ignoring unknown option {other}"),
        }
    }
    args
}

fn rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmRSS:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        })
        .unwrap_or(0)
}

fn open_fds(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd"))
        .map(|d| d.count())
        .unwrap_or(0)
}

#[derive(Default)]
struct Counters {
    ok: AtomicU64,
    failed: AtomicU64,
    abandoned: AtomicU64,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = args();
    let fake = Arc::new(
        FakeUpstream::start(FakeOptions {
            record_requests: false,
            spent_per_chat: 0.0,
            content_events: 8,
            ..FakeOptions::default()
        })
        .await?,
    );
    let names = ["g1", "g2", "g3", "g4", "f1", "f2"];
    let tokens: Vec<_> = names
        .iter()
        .map(|n| json!({"token": mint_jwt(n, Duration::from_secs(86_400)), "name": n}))
        .collect();
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("config.json");
    let config = |strategy: &str| {
        json!({
            "jetbrains_tokens": tokens, "bearer_token": KEY, "upstream_url": fake.url(),
            "health_check_mode": "quota", "health_check_interval": "2s", "watch_config": true,
            "server_host": "127.0.0.1", "server_port": 0, "load_balance_strategy": strategy,
            "request_timeout": "300ms", "first_byte_timeout": "300ms", "idle_timeout": "5s",
        })
        .to_string()
    };
    std::fs::write(&path, config("round_robin"))?;

    let mut child = Command::new(&args.bin)
        .args(["--config", &path.display().to_string(), "serve"])
        .env("RUST_LOG", "warn,jbproxy::server=info")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()?;
    let pid = child.id();
    let stderr = child
        .stderr
        .take()
        .ok_or_else(|| anyhow::anyhow!("no stderr"))?;
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if let Some(at) = line.find("listening on ") {
                let addr: String = line[at + 13..]
                    .chars()
                    .take_while(|c| !c.is_whitespace())
                    .collect();
                let _ = tx.send(addr);
            }
        }
    });
    let addr = rx.recv_timeout(Duration::from_secs(20))?;
    let base = format!("http://{addr}");
    println!(
        "soak: {} min, {} clients, server pid {pid} on {base}",
        args.minutes, args.concurrency
    );

    let stop = Arc::new(AtomicBool::new(false));
    let counters = Arc::new(Counters::default());
    let client = reqwest::Client::new();

    // Faults: the two failing tokens change behaviour every 200 ms.
    let faults = [
        Behaviour::Unauthorized,
        Behaviour::QuotaExhausted,
        Behaviour::RateLimited {
            retry_after_secs: Some(1),
        },
        Behaviour::ServerError,
        Behaviour::SlowHeaders(Duration::from_secs(2)),
        Behaviour::CutMidStream { after_events: 1 },
        Behaviour::Hang,
        Behaviour::Ok,
    ];
    {
        let fake = Arc::clone(&fake);
        let stop = Arc::clone(&stop);
        tokio::spawn(async move {
            let mut turn = 0;
            while !stop.load(Ordering::Relaxed) {
                fake.set_behaviour("f1", faults[turn % faults.len()].clone());
                fake.set_behaviour("f2", faults[(turn + 3) % faults.len()].clone());
                turn += 1;
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        });
    }
    // Reloads: every 5 s, alternating the admin endpoint, SIGHUP and a rewritten (watched) file.
    {
        let stop = Arc::clone(&stop);
        let client = client.clone();
        let base = base.clone();
        let path = path.clone();
        let configs = [config("round_robin"), config("least_inflight")];
        tokio::spawn(async move {
            let mut n = 0usize;
            while !stop.load(Ordering::Relaxed) {
                tokio::time::sleep(Duration::from_secs(5)).await;
                match n % 3 {
                    0 => {
                        let _ = client
                            .post(format!("{base}/reload"))
                            .bearer_auth(KEY)
                            .send()
                            .await;
                    }
                    1 => {
                        let _ = Command::new("kill")
                            .args(["-HUP", &pid.to_string()])
                            .status();
                    }
                    _ => {
                        let _ = std::fs::write(&path, &configs[n % 2]);
                    }
                }
                n += 1;
            }
        });
    }
    // Load: mixed streamed and collected answers; every 20th client leaves mid-stream.
    let mut workers = Vec::new();
    for w in 0..args.concurrency {
        let stop = Arc::clone(&stop);
        let counters = Arc::clone(&counters);
        let client = client.clone();
        let url = format!("{base}/v1/chat/completions");
        workers.push(tokio::spawn(async move {
            let mut i = 0u64;
            while !stop.load(Ordering::Relaxed) {
                i += 1;
                let stream = i.is_multiple_of(2);
                let text = format!("worker {w} request {i}");
                let body = json!({"model": "gpt-4o", "stream": stream,
                    "messages": [{"role": "user", "content": text}]});
                let sent = client.post(&url).bearer_auth(KEY).json(&body).send().await;
                let Ok(response) = sent else {
                    counters.failed.fetch_add(1, Ordering::Relaxed);
                    continue;
                };
                if response.status() != 200 {
                    counters.failed.fetch_add(1, Ordering::Relaxed);
                    continue;
                }
                if stream && i.is_multiple_of(20) {
                    let mut chunks = response.bytes_stream();
                    let _ = chunks.next().await;
                    counters.abandoned.fetch_add(1, Ordering::Relaxed);
                    continue;
                }
                match response.text().await {
                    // Streamed text is split across chunks, so a stream is judged by its end marker.
                    Ok(answer)
                        if (stream && answer.ends_with("data: [DONE]\n\n"))
                            || (!stream && answer.contains(&text)) =>
                    {
                        counters.ok.fetch_add(1, Ordering::Relaxed);
                    }
                    _ => {
                        counters.failed.fetch_add(1, Ordering::Relaxed);
                    }
                }
            }
        }));
    }

    let started = Instant::now();
    let total = Duration::from_secs_f64(args.minutes * 60.0);
    let mut samples: Vec<(u64, u64, usize)> = Vec::new();
    println!(
        "{:>7} {:>10} {:>6} {:>10} {:>8} {:>9}",
        "t(s)", "rss(KiB)", "fds", "ok", "failed", "abandoned"
    );
    while started.elapsed() < total {
        tokio::time::sleep(args.sample).await;
        let (rss, fds) = (rss_kib(pid), open_fds(pid));
        let t = started.elapsed().as_secs();
        samples.push((t, rss, fds));
        println!(
            "{t:>7} {rss:>10} {fds:>6} {:>10} {:>8} {:>9}",
            counters.ok.load(Ordering::Relaxed),
            counters.failed.load(Ordering::Relaxed),
            counters.abandoned.load(Ordering::Relaxed)
        );
    }
    stop.store(true, Ordering::Relaxed);
    for w in workers {
        let _ = w.await;
    }
    let _ = Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status();
    let status = child.wait()?;

    let rss: Vec<u64> = samples.iter().map(|s| s.1).collect();
    let fds: Vec<usize> = samples.iter().map(|s| s.2).collect();
    let tenth = (samples.len() / 10).max(1);
    let early = rss.iter().take(tenth).sum::<u64>() / tenth as u64;
    let late = rss.iter().rev().take(tenth).sum::<u64>() / tenth as u64;
    let ok = counters.ok.load(Ordering::Relaxed);
    let failed = counters.failed.load(Ordering::Relaxed);
    println!("---");
    println!(
        "requests: {ok} ok, {failed} failed, {} abandoned mid-stream on purpose ({:.0}/s)",
        counters.abandoned.load(Ordering::Relaxed),
        (ok + failed) as f64 / started.elapsed().as_secs_f64()
    );
    println!(
        "RSS KiB: first {} min {} max {} last {}; mean of first 10% {early}, of last 10% {late}",
        rss.first().unwrap_or(&0),
        rss.iter().min().unwrap_or(&0),
        rss.iter().max().unwrap_or(&0),
        rss.last().unwrap_or(&0)
    );
    println!(
        "open fds: first {} min {} max {} last {}",
        fds.first().unwrap_or(&0),
        fds.iter().min().unwrap_or(&0),
        fds.iter().max().unwrap_or(&0),
        fds.last().unwrap_or(&0)
    );
    println!("server exit: {status}");
    if failed > 0 || !status.success() {
        std::process::exit(1);
    }
    Ok(())
}
