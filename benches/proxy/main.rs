//! The end-to-end benchmark of issue 5: `cargo bench --bench proxy`. Starts the fake upstream (own process) and
//! the release `jbproxy serve` (child process), drives both with the in-repo load generator, and prints a Markdown
//! table of every figure through the proxy beside the same load sent straight to the fake and through nginx (the
//! floors).
//!
//! Options (after `--`): `--requests N` per scenario (default 5000), `--warmup N` (300), `--reps N` (3; each figure
//! is the median of the repetitions, the modes taking turns), `--concurrency 1,16,64`,
//! `--modes direct,nginx,jbproxy` (the default; nginx only when on PATH), `--also NAME="PATH [ENV=VALUE…]"` (one
//! more jbproxy row per cell: another binary, or the same with other environment, measured in the same run, e.g.
//! `--also "h2=$PWD/target/release/jbproxy UPSTREAM_HTTP=2"` for HTTP/2 to the fake; an absolute path, since the proxy
//! starts in a temp dir),
//! `--only stream|plain|memory`, `--idle-streams N` (1000; 0 skips), `--memory 1x32,8x13` (the memory scenarios:
//! bodies × MB of tiny messages, sent at once to a fresh proxy; `none` skips), `--log LEVEL` (the proxy's RUST_LOG,
//! default its own default `info`), `--wrap "CMD ARGS"` to run the proxy under e.g. valgrind, `--no-direct`,
//! `--state redis` (the shared mode: a `redis-server` started for the run, the proxy's `state` pointing at it; the
//! `redis` column of BENCHMARKS.md). Every CPU figure is also printed as a ratio to nginx's in the same run (issue
//! 16), and the issue's targets are judged at the end.
//! Not part of `cargo test`: run without `--bench` (as `cargo test --all-targets` does) it only prints a notice.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod fake;
mod load;
mod memory;
mod nginx;
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
    /// The modes measured, in order: `direct`, `nginx` (when on PATH), `jbproxy`.
    modes: Vec<String>,
    /// More jbproxy modes: a name and `PATH [ENV=VALUE…]` (another build, or the same one differently set).
    also: Vec<(String, String)>,
    reps: usize,
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
        requests: 5000,
        warmup: 300,
        concurrency: vec![1, 16, 64],
        only: None,
        idle_streams: 1000,
        log: None,
        wrap: None,
        modes: ["direct", "nginx", "jbproxy"].map(String::from).to_vec(),
        also: Vec::new(),
        reps: 3,
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
            "--no-direct" => o.modes.retain(|m| m != "direct"),
            "--modes" => o.modes = value()?.split(',').map(String::from).collect(),
            "--also" => {
                let v = value()?;
                let (name, spec) = v
                    .split_once('=')
                    .context("--also wants NAME=\"PATH [ENV=VALUE…]\"")?;
                o.also.push((name.to_string(), spec.to_string()));
            }
            "--reps" => o.reps = value()?.parse::<usize>()?.max(1),
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

/// Which jbproxy binary to start, and extra environment for it.
struct Launch {
    exe: String,
    env: Vec<(String, String)>,
}

impl Launch {
    /// `PATH [ENV=VALUE…]`.
    fn parse(spec: &str) -> anyhow::Result<Launch> {
        let mut words = spec.split_whitespace();
        let exe = words
            .next()
            .context("--also needs a binary path")?
            .to_string();
        let env = words
            .map(|w| {
                w.split_once('=')
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .with_context(|| format!("{w} is not ENV=VALUE"))
            })
            .collect::<anyhow::Result<_>>()?;
        Ok(Launch { exe, env })
    }
}

impl ProxyProcess {
    fn start(upstream_url: &str, tokens: &[String], o: &Options) -> anyhow::Result<ProxyProcess> {
        let this = Launch {
            exe: env!("CARGO_BIN_EXE_jbproxy").to_string(),
            env: Vec::new(),
        };
        Self::start_with(&this, upstream_url, tokens, o)
    }

    fn start_with(
        launch: &Launch,
        upstream_url: &str,
        tokens: &[String],
        o: &Options,
    ) -> anyhow::Result<ProxyProcess> {
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
        let exe = &launch.exe;
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
            "UPSTREAM_HTTP",
            "WORKER_THREADS",
            "CONFIG_FILE",
            "RUST_LOG",
        ] {
            cmd.env_remove(name);
        }
        if let Some(level) = &o.log {
            cmd.env("RUST_LOG", level);
        }
        cmd.envs(launch.env.iter().map(|(k, v)| (k, v)));
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
fn direct_job(fake_url: &str, tokens: &[String]) -> anyhow::Result<Job> {
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
        url: format!("{fake_url}{}", built.path),
        variants,
        expect: Expect::UpstreamEnd,
    })
}

/// One way the load reaches the fake: a mode of the report, one row per cell. `Direct` is the floor without any
/// proxy, `Nginx` the floor of a proxy that passes bytes through (issue 16), `Jbproxy` the proxy under test (more
/// than one with `--also`, e.g. an older binary, to compare two builds in one run).
enum Via {
    Direct,
    Nginx(nginx::NginxProcess),
    Jbproxy(ProxyProcess),
}

struct Mode {
    name: String,
    via: Via,
}

impl Mode {
    /// The process whose CPU and memory the mode is charged (none for the direct load).
    fn pid(&self) -> Option<u32> {
        match &self.via {
            Via::Direct => None,
            Via::Nginx(n) => Some(n.pid()),
            Via::Jbproxy(p) => Some(p.pid()),
        }
    }

    /// What this mode sends. The direct load and nginx carry the upstream's own request and answer (nginx
    /// translates nothing), so `stream` only matters to jbproxy.
    fn job(&self, stream: bool, direct: &Job, fake_url: &str) -> anyhow::Result<Arc<Job>> {
        Ok(Arc::new(match &self.via {
            Via::Direct => direct.clone(),
            Via::Nginx(n) => Job {
                url: direct.url.replacen(fake_url, &n.url, 1),
                ..direct.clone()
            },
            Via::Jbproxy(p) => proxy_job(p, stream)?,
        }))
    }

    fn is_proxy(&self) -> bool {
        matches!(self.via, Via::Jbproxy(_))
    }
}

/// One measured run: the load's figures plus the CPU each process spent on it.
struct Measured {
    outcome: Outcome,
    /// CPU of the mode's process (nanosecond resolution).
    cpu: Option<Duration>,
    /// The kernel's share of it (stime ÷ utime + stime, from 10 ms ticks).
    kernel_share: Option<f64>,
    fake_cpu: Duration,
    loadgen_cpu: Duration,
    hwm: Option<u64>,
}

impl Measured {
    fn requests(&self) -> u32 {
        u32::try_from(self.outcome.samples.len() + self.outcome.failed)
            .unwrap_or(u32::MAX)
            .max(1)
    }
    fn rps(&self) -> f64 {
        self.outcome.samples.len() as f64 / self.outcome.wall.as_secs_f64()
    }
    fn pct(&self, f: impl Fn(&load::Sample) -> Duration, p: f64) -> Duration {
        let mut v: Vec<Duration> = self.outcome.samples.iter().map(f).collect();
        v.sort_unstable();
        percentile(&v, p)
    }
}

async fn measure(
    client: &reqwest::Client,
    job: &Arc<Job>,
    concurrency: usize,
    o: &Options,
    pid: Option<u32>,
    fake: u32,
    ticks: u64,
) -> anyhow::Result<Measured> {
    // Warm-up: connections opened, caches and allocator pools filled; not counted.
    let warm = load::run(client, job, concurrency, o.warmup.max(concurrency)).await;
    let me = std::process::id();
    let p0 = pid
        .map(|p| Ok::<_, anyhow::Error>((procfs::cpu_precise(p)?, procfs::cpu_split(p, ticks)?)))
        .transpose()?;
    let f0 = procfs::cpu_precise(fake)?;
    let l0 = procfs::cpu_precise(me)?;
    let mut outcome = load::run(client, job, concurrency, o.requests).await;
    let p1 = pid
        .map(|p| Ok::<_, anyhow::Error>((procfs::cpu_precise(p)?, procfs::cpu_split(p, ticks)?)))
        .transpose()?;
    let fake_cpu = procfs::cpu_precise(fake)?.saturating_sub(f0);
    let loadgen_cpu = procfs::cpu_precise(me)?.saturating_sub(l0);
    outcome.failed += warm.failed;
    outcome.errors.extend(warm.errors);
    let split = p0.zip(p1).map(|((_, (u0, s0)), (_, (u1, s1)))| {
        let (user, sys) = (u1.saturating_sub(u0), s1.saturating_sub(s0));
        sys.as_secs_f64() / (user + sys).as_secs_f64().max(1e-9)
    });
    Ok(Measured {
        cpu: p0.zip(p1).map(|((a, _), (b, _))| b.saturating_sub(a)),
        kernel_share: split,
        fake_cpu,
        loadgen_cpu,
        hwm: pid.map(|p| procfs::status_kb(p, "VmHWM")).transpose()?,
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

/// `a − b`, in ms, signed.
fn added(a: Duration, b: Duration) -> String {
    format!("{:+.3}", (a.as_secs_f64() - b.as_secs_f64()) * 1e3)
}

/// The median of the repetitions' values (the upper one of an even count).
fn median<T: Copy + PartialOrd>(mut v: Vec<T>) -> T {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap_or(std::cmp::Ordering::Equal));
    v[v.len() / 2]
}

/// One row of the report: a mode's figures in one cell, each the median over the repetitions.
struct Row {
    rps: f64,
    p50: Duration,
    p99: Duration,
    ttfb99: Duration,
    cpu: Option<Duration>,
    kernel_share: Option<f64>,
    fake: Duration,
    loadgen: Duration,
    hwm: Option<u64>,
    failed: usize,
}

impl Row {
    fn of(reps: &[Measured]) -> Row {
        let m = |f: &dyn Fn(&Measured) -> Duration| median(reps.iter().map(f).collect());
        Row {
            rps: median(reps.iter().map(Measured::rps).collect()),
            p50: m(&|r| r.pct(|s| s.total, 50.0)),
            p99: m(&|r| r.pct(|s| s.total, 99.0)),
            ttfb99: m(&|r| r.pct(|s| s.first_byte, 99.0)),
            cpu: reps[0]
                .cpu
                .is_some()
                .then(|| m(&|r| r.cpu.unwrap_or_default() / r.requests())),
            kernel_share: reps[0]
                .kernel_share
                .is_some()
                .then(|| median(reps.iter().map(|r| r.kernel_share.unwrap_or(0.0)).collect())),
            fake: m(&|r| r.fake_cpu / r.requests()),
            loadgen: m(&|r| r.loadgen_cpu / r.requests()),
            hwm: reps.iter().filter_map(|r| r.hwm).max(),
            failed: reps.iter().map(|r| r.outcome.failed).sum(),
        }
    }
}

/// A target of issue 16 for one jbproxy mode, judged from the rows of one run.
struct Verdict {
    what: String,
    measured: String,
    met: bool,
}

/// One cell of the report (an answer kind at one concurrency): a row per mode.
struct Cell {
    answer: &'static str,
    c: usize,
    rows: Vec<(String, Row)>,
}

fn verdicts(cells: &[Cell], proxy: &str) -> Vec<Verdict> {
    let mut out = Vec::new();
    for Cell { answer, c, rows } in cells {
        let row = |name: &str| rows.iter().find(|(n, _)| n == name).map(|(_, r)| r);
        let (Some(p), Some(n)) = (row(proxy), row("nginx")) else {
            continue;
        };
        if let (Some(pc), Some(nc)) = (p.cpu, n.cpu) {
            let bound = if *c == 1 { 3.0 } else { 2.0 };
            let ratio = pc.as_secs_f64() / nc.as_secs_f64().max(1e-12);
            out.push(Verdict {
                what: format!("{answer} c={c}: CPU/request ≤ {bound}× nginx"),
                measured: format!("{} / {} µs = {ratio:.2}×", us(pc), us(nc)),
                met: ratio <= bound,
            });
        }
        if let Some(d) = row("direct") {
            if *c == 64 {
                let (pa, na) = (p.p99.saturating_sub(d.p99), n.p99.saturating_sub(d.p99));
                out.push(Verdict {
                    what: format!("{answer} c=64: added p99 ≤ nginx's + 1 ms"),
                    measured: format!("{} vs {} ms", added(p.p99, d.p99), added(n.p99, d.p99)),
                    met: pa <= na + Duration::from_millis(1),
                });
            }
            if *c == 1 && *answer == "stream" {
                out.push(Verdict {
                    what: "stream c=1: added TTFB p99 ≤ 1 ms".into(),
                    measured: format!("{} ms", added(p.ttfb99, d.ttfb99)),
                    met: p.ttfb99.saturating_sub(d.ttfb99) <= Duration::from_millis(1),
                });
            }
        }
        out.push(Verdict {
            what: format!("{answer} c={c}: no failure"),
            measured: format!("{} failed", p.failed),
            met: p.failed == 0,
        });
    }
    out
}

async fn bench(o: Options) -> anyhow::Result<()> {
    let ticks = procfs::clock_ticks()?;
    let tokens: Vec<String> = (0..TOKENS)
        .map(|i| mint_jwt(&format!("bench-{i}"), Duration::from_secs(24 * 3600)))
        .collect();
    let fake = FakeProcess::spawn(CONTENT_EVENTS, Duration::ZERO)?;
    let mut modes = Vec::new();
    for name in &o.modes {
        let via = match name.as_str() {
            "direct" => Via::Direct,
            "nginx" => match nginx::find() {
                Some(exe) => Via::Nginx(nginx::NginxProcess::start(&exe, &fake.url)?),
                None => {
                    eprintln!("no nginx on PATH (apt-get install nginx-light): no nginx rows");
                    continue;
                }
            },
            "jbproxy" => Via::Jbproxy(ProxyProcess::start(&fake.url, &tokens, &o)?),
            other => anyhow::bail!("unknown mode {other} (direct, nginx, jbproxy)"),
        };
        modes.push(Mode {
            name: name.clone(),
            via,
        });
    }
    for (name, spec) in &o.also {
        let launch = Launch::parse(spec)?;
        let proxy = ProxyProcess::start_with(&launch, &fake.url, &tokens, &o)?;
        modes.push(Mode {
            name: name.clone(),
            via: Via::Jbproxy(proxy),
        });
    }
    let client = load::client()?;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let idle_rss: Vec<(String, u64)> = modes
        .iter()
        .filter(|m| m.is_proxy())
        .filter_map(|m| Some((m.name.clone(), procfs::status_kb(m.pid()?, "VmRSS").ok()?)))
        .collect();

    let direct = direct_job(&fake.url, &tokens)?;
    let mut cells: Vec<Cell> = Vec::new();
    let mut failures = Vec::new();
    let mut total_failed = 0usize;
    for (stream, answer) in [(false, "plain"), (true, "stream")] {
        if o.only.as_deref().is_some_and(|only| only != answer) {
            continue;
        }
        let jobs = modes
            .iter()
            .map(|m| m.job(stream, &direct, &fake.url))
            .collect::<anyhow::Result<Vec<_>>>()?;
        for &c in &o.concurrency {
            let mut reps: Vec<Vec<Measured>> = modes.iter().map(|_| Vec::new()).collect();
            // The modes take turns within each repetition, so a change in the machine's load falls on all of them.
            for rep in 0..o.reps {
                for (i, mode) in modes.iter().enumerate() {
                    eprintln!("{answer} c={c} rep {}/{}: {}…", rep + 1, o.reps, mode.name);
                    let m =
                        measure(&client, &jobs[i], c, &o, mode.pid(), fake.pid(), ticks).await?;
                    total_failed += m.outcome.failed;
                    failures.extend(m.outcome.errors.iter().cloned());
                    reps[i].push(m);
                }
            }
            let rows = modes
                .iter()
                .zip(&reps)
                .map(|(m, r)| (m.name.clone(), Row::of(r)))
                .collect();
            cells.push(Cell { answer, c, rows });
        }
    }
    let mut table = String::new();
    let _ = writeln!(
        table,
        "| answer | c | via | req/s | p50 | p99 | p99 added | TTFB p99 | TTFB p99 added | CPU/req (kernel %) | CPU/event | CPU ÷ nginx | p99 added − nginx's | fake CPU/req | loadgen CPU/req | peak RSS | failed |"
    );
    let _ = writeln!(
        table,
        "|---|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
    );
    for Cell { answer, c, rows } in &cells {
        let find = |name: &str| rows.iter().find(|(n, _)| n == name).map(|(_, r)| r);
        let (d, n) = (find("direct"), find("nginx"));
        let stream = *answer == "stream";
        for (name, r) in rows {
            let vs_direct =
                |a: Duration, b: fn(&Row) -> Duration| d.map_or("–".into(), |d| added(a, b(d)));
            let _ = writeln!(
                table,
                "| {answer} | {c} | {name} | {:.0} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} µs | {} µs | {} | {} |",
                r.rps,
                ms(r.p50),
                ms(r.p99),
                vs_direct(r.p99, |d| d.p99),
                if stream { ms(r.ttfb99) } else { "–".into() },
                if stream {
                    vs_direct(r.ttfb99, |d| d.ttfb99)
                } else {
                    "–".into()
                },
                r.cpu.map_or("–".into(), |cpu| format!(
                    "{} µs ({:.0} %)",
                    us(cpu),
                    r.kernel_share.unwrap_or(0.0) * 100.0
                )),
                match (stream, r.cpu) {
                    (true, Some(cpu)) => format!("{} µs", us(cpu / CONTENT_EVENTS as u32)),
                    _ => "–".into(),
                },
                match (r.cpu, n.and_then(|n| n.cpu)) {
                    (Some(a), Some(b)) =>
                        format!("{:.2}×", a.as_secs_f64() / b.as_secs_f64().max(1e-12)),
                    _ => "–".into(),
                },
                match (d, n) {
                    (Some(d), Some(n)) => format!(
                        "{:+.3}",
                        ((r.p99.as_secs_f64() - d.p99.as_secs_f64())
                            - (n.p99.as_secs_f64() - d.p99.as_secs_f64()))
                            * 1e3
                    ),
                    _ => "–".into(),
                },
                us(r.fake),
                us(r.loadgen),
                r.hwm.map_or("–".into(), |h| format!("{} MB", mb(h))),
                r.failed,
            );
        }
    }
    let mut targets = String::new();
    for mode in modes.iter().filter(|m| m.is_proxy()) {
        let v = verdicts(&cells, &mode.name);
        if v.is_empty() {
            continue;
        }
        let _ = writeln!(
            targets,
            "| {} target (issue 16) | measured | met? |\n|---|---|---|",
            mode.name
        );
        for v in v {
            let _ = writeln!(
                targets,
                "| {} | {} | {} |",
                v.what,
                v.measured,
                if v.met { "yes" } else { "**no**" }
            );
        }
        targets.push('\n');
    }

    let mut memory = String::new();
    let _ = writeln!(memory, "| memory | proxy | target |\n|---|---:|---:|");
    for mode in modes.iter().filter(|m| m.is_proxy()) {
        let Some(pid) = mode.pid() else { continue };
        let idle = idle_rss
            .iter()
            .find(|(n, _)| *n == mode.name)
            .map_or(0, |(_, r)| *r);
        let _ = writeln!(
            memory,
            "| {}: RSS idle, after start | {} MB | ≤ 30 MB |",
            mode.name,
            mb(idle)
        );
        let _ = writeln!(
            memory,
            "| {}: RSS idle, after all load | {} MB | ≤ 30 MB |",
            mode.name,
            mb(procfs::status_kb(pid, "VmRSS")?)
        );
        let _ = writeln!(
            memory,
            "| {}: peak RSS (VmHWM) under load | {} MB | |",
            mode.name,
            mb(procfs::status_kb(pid, "VmHWM")?)
        );
    }
    for mode in modes {
        if let Via::Jbproxy(p) = mode.via {
            p.stop();
        }
    }
    drop(fake);
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
        "Load: {} requests per cell after {} warm-up, median of {} repetitions, {TOKENS} tokens, \
{CONTENT_EVENTS} content events per answer, proxy RUST_LOG={}, state: {}\n",
        o.requests,
        o.warmup,
        o.reps,
        o.log.as_deref().unwrap_or("(unset: info)"),
        if o.state_url.is_some() {
            "redis"
        } else {
            "memory"
        }
    );
    if !cells.is_empty() {
        println!("{table}");
        println!("{targets}");
    }
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
