//! The end-to-end benchmark of issue 5: `cargo bench --bench proxy`. Starts the fake upstream (own process) and
//! the release `jbproxy serve` (child process), drives both with the in-repo load generator, and prints a Markdown
//! table of every figure through the proxy beside the same load sent straight to the fake (the floor).
//!
//! Options (after `--`): `--requests N` per scenario (default 3000), `--warmup N` (300), `--concurrency 1,16,64`,
//! `--only stream|plain|memory`, `--idle-streams N` (1000; 0 skips), `--memory 1x32,8x13` (the memory scenarios:
//! bodies × MB of tiny messages, sent at once to a fresh proxy; `none` skips), `--log LEVEL` (the proxy's RUST_LOG,
//! default its own default `info`), `--wrap "CMD ARGS"` to run the proxy under e.g. valgrind, `--no-direct`,
//! `--state redis` (the shared mode: a `redis-server` started for the run, the proxy's `state` pointing at it; the
//! `redis` column of BENCHMARKS.md).
//! Not part of `cargo test`: run without `--bench` (as `cargo test --all-targets` does) it only prints a notice.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod fake;
mod load;
mod memory;
mod procfs;

use std::fmt::Write as _;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use bytes::Bytes;
use reqwest::header::{HeaderMap, HeaderValue};
use serde_json::{Value, json};

use jbproxy::config::UpstreamApi;
use jbproxy::fake_upstream::mint_jwt;
use jbproxy::translate::openai::request::ChatRequest;

use fake::FakeProcess;
use load::{Expect, Job, Outcome, percentile};

const KEY: &str = "sk-bench-0123456789abcdef";
const TOKENS: usize = 8;
const CONTENT_EVENTS: usize = 20;
/// The default `grazie_agent`, sent by the direct load as the proxy sends it.
const AGENT: &str = r#"{"name":"aia:pycharm","version":"251.26094.80.5:251.26094.141"}"#;

struct Options {
    requests: usize,
    warmup: usize,
    concurrency: Vec<usize>,
    only: Option<String>,
    idle_streams: usize,
    log: Option<String>,
    wrap: Option<String>,
    direct: bool,
    memory: Vec<memory::Scenario>,
    /// The shared mode's Redis URL (`--state redis`), else memory mode.
    state_url: Option<String>,
}

/// `1x32,8x13` → one body of 32 MB, then eight of 13 MB at once; `none` → no memory scenario.
fn memory_scenarios(spec: &str) -> anyhow::Result<Vec<memory::Scenario>> {
    if spec == "none" {
        return Ok(Vec::new());
    }
    spec.split(',')
        .map(|one| {
            let (n, size) = one
                .split_once('x')
                .with_context(|| format!("--memory wants BODIESxMB, not {one}"))?;
            Ok(memory::Scenario {
                bodies: n.parse()?,
                bytes: size.parse::<usize>()? * 1_000_000,
            })
        })
        .collect()
}

fn options(args: &[String]) -> anyhow::Result<Options> {
    let mut o = Options {
        requests: 3000,
        warmup: 300,
        concurrency: vec![1, 16, 64],
        only: None,
        idle_streams: 1000,
        log: None,
        wrap: None,
        direct: true,
        memory: memory_scenarios("1x32,8x13")?,
        state_url: None,
    };
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        let mut value = || {
            it.next()
                .cloned()
                .with_context(|| format!("{arg} needs a value"))
        };
        match arg.as_str() {
            "--requests" => o.requests = value()?.parse()?,
            "--warmup" => o.warmup = value()?.parse()?,
            "--concurrency" => {
                o.concurrency = value()?
                    .split(',')
                    .map(str::parse)
                    .collect::<Result<_, _>>()?
            }
            "--only" => o.only = Some(value()?),
            "--idle-streams" => o.idle_streams = value()?.parse()?,
            "--log" => o.log = Some(value()?),
            "--wrap" => o.wrap = Some(value()?),
            "--no-direct" => o.direct = false,
            "--memory" => o.memory = memory_scenarios(&value()?)?,
            "--state" => match value()?.as_str() {
                "memory" => o.state_url = None,
                "redis" => o.state_url = Some(String::new()),
                other => anyhow::bail!("--state memory|redis, not {other}"),
            },
            // cargo bench's own flags.
            "--bench" => {}
            other => anyhow::bail!("unknown option {other}"),
        }
    }
    Ok(o)
}

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("--fake") {
        let events = args.get(1).context("--fake EVENTS DELAY_MS")?.parse()?;
        let delay = args.get(2).context("--fake EVENTS DELAY_MS")?.parse()?;
        return fake::serve(events, Duration::from_millis(delay));
    }
    if !args.iter().any(|a| a == "--bench") {
        println!(
            "proxy benchmark: run it with `cargo bench --bench proxy` (skipped under `cargo test`)"
        );
        return Ok(());
    }
    let mut o = options(&args)?;
    // Kept for the whole run; killed when dropped.
    let _redis = match o.state_url {
        Some(_) => {
            let (redis, url) = redis_server()?;
            o.state_url = Some(url);
            Some(redis)
        }
        None => None,
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(bench(o))
}

/// A `redis-server` on a free loopback port without persistence, for `--state redis`.
struct RedisProcess(Child);

impl Drop for RedisProcess {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn redis_server() -> anyhow::Result<(RedisProcess, String)> {
    let port = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port();
    let child = Command::new("redis-server")
        .args([
            "--port",
            &port.to_string(),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
        ])
        .stdout(Stdio::null())
        .spawn()
        .context("--state redis needs redis-server (apt-get install redis-server)")?;
    let redis = RedisProcess(child);
    let deadline = Instant::now() + Duration::from_secs(10);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        anyhow::ensure!(Instant::now() < deadline, "redis-server did not start");
        std::thread::sleep(Duration::from_millis(20));
    }
    Ok((redis, format!("redis://127.0.0.1:{port}")))
}

/// A running `jbproxy serve`; killed when dropped.
struct ProxyProcess {
    child: Child,
    url: String,
    _dir: tempfile::TempDir,
}

impl ProxyProcess {
    fn start(upstream_url: &str, tokens: &[String], o: &Options) -> anyhow::Result<ProxyProcess> {
        let dir = tempfile::tempdir()?;
        let port = std::net::TcpListener::bind("127.0.0.1:0")?
            .local_addr()?
            .port();
        let config = json!({
            "jetbrains_tokens": tokens.iter().enumerate()
                .map(|(i, t)| json!({"token": t, "name": format!("bench-{i}")})).collect::<Vec<_>>(),
            "bearer_token": KEY,
            "upstream_url": upstream_url,
            "health_check_mode": "off",
            "watch_config": false,
            "server_host": "127.0.0.1",
            "server_port": port,
        });
        let mut config = config;
        if let Some(url) = &o.state_url {
            config["state"] = json!({"backend": "redis", "url": url});
        }
        let path = dir.path().join("config.json");
        std::fs::write(&path, serde_json::to_string_pretty(&config)?)?;
        let exe = env!("CARGO_BIN_EXE_jbproxy");
        let mut words: Vec<String> = o
            .wrap
            .as_deref()
            .map(|w| w.split_whitespace().map(String::from).collect())
            .unwrap_or_default();
        words.extend([
            exe.to_string(),
            "--config".into(),
            path.display().to_string(),
            "serve".into(),
        ]);
        let mut cmd = Command::new(&words[0]);
        cmd.args(&words[1..]);
        for name in [
            "JWT_TOKENS",
            "JWT_TOKEN",
            "BEARER_TOKEN",
            "UPSTREAM_URL",
            "CONFIG_FILE",
            "RUST_LOG",
        ] {
            cmd.env_remove(name);
        }
        if let Some(level) = &o.log {
            cmd.env("RUST_LOG", level);
        }
        let mut child = cmd
            .current_dir(dir.path())
            .env("HOME", dir.path())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .context("spawn jbproxy")?;
        // The log is read (as a terminal or a log shipper would) and kept only for a failed start.
        let stderr = child.stderr.take().context("stderr")?;
        let log = Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
        let sink = Arc::clone(&log);
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                let mut log = sink.lock().unwrap_or_else(|e| e.into_inner());
                if log.len() < 50 {
                    log.push(line);
                }
            }
        });
        let deadline =
            Instant::now() + Duration::from_secs(if o.wrap.is_some() { 120 } else { 20 });
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            if Instant::now() > deadline || child.try_wait()?.is_some() {
                let _ = child.kill();
                anyhow::bail!(
                    "jbproxy did not start:\n{}",
                    log.lock().unwrap_or_else(|e| e.into_inner()).join("\n")
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Ok(ProxyProcess {
            child,
            url: format!("http://127.0.0.1:{port}"),
            _dir: dir,
        })
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Stops the proxy with SIGTERM (so a profiler wrapped around it writes its output), then waits.
    fn stop(mut self) {
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(self.pid().to_string())
            .status();
        let deadline = Instant::now() + Duration::from_secs(60);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for ProxyProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The OpenAI request the load sends through the proxy.
fn openai_body(stream: bool) -> Value {
    json!({"model": "gpt-4o", "stream": stream,
           "messages": [{"role": "user", "content": "Explain Rust's ownership model in one paragraph."}]})
}

fn proxy_job(proxy: &ProxyProcess, stream: bool) -> anyhow::Result<Job> {
    let mut headers = HeaderMap::new();
    headers.insert(
        "authorization",
        HeaderValue::from_str(&format!("Bearer {KEY}"))?,
    );
    headers.insert("content-type", HeaderValue::from_static("application/json"));
    Ok(Job {
        url: format!("{}/v1/chat/completions", proxy.url),
        variants: vec![(
            headers,
            Bytes::from(serde_json::to_vec(&openai_body(stream))?),
        )],
        expect: if stream { Expect::Done } else { Expect::Json },
    })
}

/// The same chat sent straight to the fake: the body the proxy would build, one variant per token.
fn direct_job(fake: &FakeProcess, tokens: &[String]) -> anyhow::Result<Job> {
    let bytes = serde_json::to_vec(&openai_body(true))?;
    let req = ChatRequest::parse(&bytes)?;
    let built = jbproxy::translate::grazie::build(
        &req.conversation,
        "openai-gpt-4o",
        &jbproxy::profiles::Capabilities::all(),
        UpstreamApi::V8,
    )?;
    let body = built.body;
    let variants = tokens
        .iter()
        .map(|jwt| {
            let mut h = HeaderMap::new();
            h.insert("grazie-authenticate-jwt", HeaderValue::from_str(jwt)?);
            h.insert("grazie-agent", HeaderValue::from_static(AGENT));
            h.insert("user-agent", HeaderValue::from_static("ktor-client"));
            h.insert("content-type", HeaderValue::from_static("application/json"));
            h.insert("accept", HeaderValue::from_static("text/event-stream"));
            Ok((h, body.clone()))
        })
        .collect::<anyhow::Result<_>>()?;
    Ok(Job {
        url: format!("{}{}", fake.url, built.path),
        variants,
        expect: Expect::UpstreamEnd,
    })
}

/// One measured run: the load's figures plus the CPU each process spent on it.
struct Measured {
    outcome: Outcome,
    proxy_cpu: Option<Duration>,
    /// The kernel's part of `proxy_cpu` (stime).
    proxy_sys: Option<Duration>,
    fake_cpu: Duration,
    loadgen_cpu: Duration,
    proxy_hwm: Option<u64>,
}

impl Measured {
    fn per_request(&self, cpu: Duration) -> Duration {
        cpu / u32::try_from(self.outcome.samples.len() + self.outcome.failed)
            .unwrap_or(u32::MAX)
            .max(1)
    }
    fn rps(&self) -> f64 {
        self.outcome.samples.len() as f64 / self.outcome.wall.as_secs_f64()
    }
    fn sorted(&self, f: impl Fn(&load::Sample) -> Duration) -> Vec<Duration> {
        let mut v: Vec<Duration> = self.outcome.samples.iter().map(f).collect();
        v.sort_unstable();
        v
    }
}

async fn measure(
    client: &reqwest::Client,
    job: &Arc<Job>,
    concurrency: usize,
    o: &Options,
    proxy: Option<u32>,
    fake: u32,
    ticks: u64,
) -> anyhow::Result<Measured> {
    // Warm-up: connections opened, caches and allocator pools filled; not counted.
    let warm = load::run(client, job, concurrency, o.warmup.max(concurrency)).await;
    let me = std::process::id();
    let p0 = proxy.map(|p| procfs::cpu_split(p, ticks)).transpose()?;
    let f0 = procfs::cpu_time(fake, ticks)?;
    let l0 = procfs::cpu_time(me, ticks)?;
    let mut outcome = load::run(client, job, concurrency, o.requests).await;
    let p1 = proxy.map(|p| procfs::cpu_split(p, ticks)).transpose()?;
    outcome.failed += warm.failed;
    outcome.errors.extend(warm.errors);
    Ok(Measured {
        proxy_cpu: p0
            .zip(p1)
            .map(|(a, b)| (b.0 + b.1).saturating_sub(a.0 + a.1)),
        proxy_sys: p0.zip(p1).map(|(a, b)| b.1.saturating_sub(a.1)),
        fake_cpu: procfs::cpu_time(fake, ticks)?.saturating_sub(f0),
        loadgen_cpu: procfs::cpu_time(me, ticks)?.saturating_sub(l0),
        proxy_hwm: proxy.map(|p| procfs::status_kb(p, "VmHWM")).transpose()?,
        outcome,
    })
}

fn ms(d: Duration) -> String {
    format!("{:.3}", d.as_secs_f64() * 1e3)
}

fn us(d: Duration) -> String {
    format!("{:.1}", d.as_secs_f64() * 1e6)
}

fn mb(bytes: u64) -> String {
    format!("{:.1}", bytes as f64 / 1048576.0)
}

/// `proxy − direct`, in ms, signed.
fn added(proxy: Duration, direct: Duration) -> String {
    format!("{:+.3}", (proxy.as_secs_f64() - direct.as_secs_f64()) * 1e3)
}

async fn bench(o: Options) -> anyhow::Result<()> {
    let ticks = procfs::clock_ticks()?;
    let tokens: Vec<String> = (0..TOKENS)
        .map(|i| mint_jwt(&format!("bench-{i}"), Duration::from_secs(24 * 3600)))
        .collect();
    let fake = FakeProcess::spawn(CONTENT_EVENTS, Duration::ZERO)?;
    let proxy = ProxyProcess::start(&fake.url, &tokens, &o)?;
    let client = load::client()?;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let idle_rss = procfs::status_kb(proxy.pid(), "VmRSS")?;

    let direct = Arc::new(direct_job(&fake, &tokens)?);
    let mut table = String::new();
    let mut failures = Vec::new();
    let mut total_failed = 0usize;
    let _ = writeln!(
        table,
        "| answer | c | req/s direct | req/s proxy | p50 direct | p50 proxy | p50 added | p99 direct | p99 proxy | p99 added | TTFB p50 direct / proxy | TTFB p99 direct / proxy | TTFB p99 added | proxy CPU/req (kernel part) | fake CPU/req (direct / via proxy) | loadgen CPU/req (direct / via proxy) | proxy peak RSS | failed |"
    );
    let _ = writeln!(
        table,
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
    );
    for (stream, name) in [(false, "plain"), (true, "stream")] {
        if o.only.as_deref().is_some_and(|only| only != name) {
            continue;
        }
        let via = Arc::new(proxy_job(&proxy, stream)?);
        for &c in &o.concurrency {
            eprintln!("{name} c={c}: direct…");
            let d = if o.direct {
                Some(measure(&client, &direct, c, &o, None, fake.pid(), ticks).await?)
            } else {
                None
            };
            eprintln!("{name} c={c}: through the proxy…");
            let p = measure(&client, &via, c, &o, Some(proxy.pid()), fake.pid(), ticks).await?;
            let failed = p.outcome.failed + d.as_ref().map_or(0, |d| d.outcome.failed);
            total_failed += failed;
            failures.extend(p.outcome.errors.iter().cloned());
            if let Some(d) = &d {
                failures.extend(d.outcome.errors.iter().cloned());
            }
            let (pt, pf) = (p.sorted(|s| s.total), p.sorted(|s| s.first_byte));
            let (dt, df) = d
                .as_ref()
                .map(|d| (d.sorted(|s| s.total), d.sorted(|s| s.first_byte)))
                .unwrap_or_default();
            let q = |v: &[Duration], pct| percentile(v, pct);
            let ttfb = |v: &[Duration], pct| if stream { ms(q(v, pct)) } else { "–".into() };
            let _ = writeln!(
                table,
                "| {name} | {c} | {:.0} | {:.0} | {} | {} | {} | {} | {} | {} | {} / {} | {} / {} | {} | {} µs ({}) | {} / {} µs | {} / {} µs | {} MB | {failed} |",
                d.as_ref().map_or(0.0, Measured::rps),
                p.rps(),
                ms(q(&dt, 50.0)),
                ms(q(&pt, 50.0)),
                added(q(&pt, 50.0), q(&dt, 50.0)),
                ms(q(&dt, 99.0)),
                ms(q(&pt, 99.0)),
                added(q(&pt, 99.0), q(&dt, 99.0)),
                ttfb(&df, 50.0),
                ttfb(&pf, 50.0),
                ttfb(&df, 99.0),
                ttfb(&pf, 99.0),
                if stream {
                    added(q(&pf, 99.0), q(&df, 99.0))
                } else {
                    "–".into()
                },
                us(p.per_request(p.proxy_cpu.unwrap_or_default())),
                us(p.per_request(p.proxy_sys.unwrap_or_default())),
                d.as_ref()
                    .map_or("–".into(), |d| us(d.per_request(d.fake_cpu))),
                us(p.per_request(p.fake_cpu)),
                d.as_ref()
                    .map_or("–".into(), |d| us(d.per_request(d.loadgen_cpu))),
                us(p.per_request(p.loadgen_cpu)),
                mb(p.proxy_hwm.unwrap_or_default()),
            );
        }
    }
    let after_rss = procfs::status_kb(proxy.pid(), "VmRSS")?;
    let peak_rss = procfs::status_kb(proxy.pid(), "VmHWM")?;
    proxy.stop();
    drop(fake);

    let mut memory = String::new();
    let _ = writeln!(memory, "| memory | proxy | target |\n|---|---:|---:|");
    let _ = writeln!(
        memory,
        "| RSS idle, after start | {} MB | ≤ 30 MB |",
        mb(idle_rss)
    );
    let _ = writeln!(
        memory,
        "| RSS idle, after all load | {} MB | ≤ 30 MB |",
        mb(after_rss)
    );
    let _ = writeln!(
        memory,
        "| peak RSS (VmHWM) under load | {} MB | |",
        mb(peak_rss)
    );
    if o.idle_streams > 0 && o.only.as_deref() != Some("memory") {
        let (rss, hwm, failed, errors) = idle_streams(&o, &tokens, &client).await?;
        total_failed += failed;
        failures.extend(errors);
        let _ = writeln!(
            memory,
            "| RSS with {} open idle streams (peak) | {} MB ({} MB) | ≤ 80 MB |",
            o.idle_streams,
            mb(rss),
            mb(hwm)
        );
    }

    let mut body_memory = String::new();
    if !o.memory.is_empty() && o.only.as_deref().is_none_or(|only| only == "memory") {
        let (table, failed) = memory::run(&o.memory, &tokens, &client, &o).await?;
        total_failed += failed;
        body_memory = table;
    }

    println!("\nMachine: {}", procfs::machine());
    println!(
        "Load: {} requests per cell after {} warm-up, {TOKENS} tokens, {CONTENT_EVENTS} content events per answer, \
proxy RUST_LOG={}, state: {}\n",
        o.requests,
        o.warmup,
        o.log.as_deref().unwrap_or("(unset: info)"),
        if o.state_url.is_some() {
            "redis"
        } else {
            "memory"
        }
    );
    println!("{table}");
    println!("{memory}");
    if !body_memory.is_empty() {
        println!("Large bodies of tiny messages (RSS of the proxy process):\n\n{body_memory}");
    }
    println!("Failed requests: {total_failed}");
    for err in failures.iter().take(10) {
        println!("  - {err}");
    }
    if total_failed > 0 {
        anyhow::bail!("{total_failed} requests failed");
    }
    Ok(())
}

/// A fresh proxy in front of a fake that pauses a minute between events; `n` streams are opened and held.
async fn idle_streams(
    o: &Options,
    tokens: &[String],
    client: &reqwest::Client,
) -> anyhow::Result<(u64, u64, usize, Vec<String>)> {
    eprintln!("{} idle streams…", o.idle_streams);
    let fake = FakeProcess::spawn(CONTENT_EVENTS, Duration::from_secs(60))?;
    let proxy = ProxyProcess::start(&fake.url, tokens, o)?;
    let job = Arc::new(proxy_job(&proxy, true)?);
    let (open, errors) =
        load::open_streams(client, &job, o.idle_streams, Duration::from_secs(30)).await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let rss = procfs::status_kb(proxy.pid(), "VmRSS")?;
    let hwm = procfs::status_kb(proxy.pid(), "VmHWM")?;
    drop(open);
    proxy.stop();
    Ok((rss, hwm, errors.len(), errors))
}
