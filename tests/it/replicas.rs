//! Issue 15: N replicas share one token pool through a real Redis (`state.backend: redis`). Three `jbproxy serve`
//! processes against one fake upstream and one `redis-server` the test starts; the fake's call counts prove what
//! each replica did or did not send.

mod recovery;

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use jbproxy::fake_upstream::{Behaviour, FakeOptions, FakeUpstream, mint_jwt};

use crate::common::proxy::Proxy;
use crate::common::redis::RedisServer;
use crate::common::serve::{KEY, config_for, streaming, user};
use crate::common::{eventually, jbproxy, run};

struct Replicas {
    fake: FakeUpstream,
    redis: RedisServer,
    proxies: Vec<Proxy>,
    client: reqwest::Client,
    /// The replicas' config, to start one more.
    config: Value,
}

/// Three replicas sharing `redis`, each configured with `tokens` (entries) and `extra`.
async fn replicas(
    test: &str,
    tokens: Value,
    extra: Value,
    options: FakeOptions,
) -> Option<Replicas> {
    let redis = RedisServer::start(test)?;
    let fake = FakeUpstream::start(options).await.expect("fake upstream");
    let mut config = config_for(&fake, &[], extra);
    config["jetbrains_tokens"] = tokens;
    config["oauth_url"] = json!(format!("{}/oauth2/token", fake.url()));
    config["state"] = json!({"backend": "redis", "url": redis.url(), "prefix": format!("{test}:")});
    let proxies = (0..3).map(|_| Proxy::start(&config, &[])).collect();
    let r = Replicas {
        fake,
        redis,
        proxies,
        client: reqwest::Client::new(),
        config,
    };
    r.wait_for_cluster(3).await;
    Some(r)
}

fn tokens(names: &[&str]) -> Value {
    names
        .iter()
        .map(|n| json!({"token": mint_jwt(n, Duration::from_secs(3600)), "name": n}))
        .collect()
}

impl Replicas {
    async fn chat(&self, replica: usize, body: &Value) -> reqwest::Response {
        self.send(replica, body).await.expect("request")
    }

    /// The request as a future that borrows nothing, to run beside the test.
    fn send(
        &self,
        replica: usize,
        body: &Value,
    ) -> impl Future<Output = reqwest::Result<reqwest::Response>> + Send + use<> {
        self.client
            .post(self.proxies[replica].url("/v1/chat/completions"))
            .bearer_auth(KEY)
            .json(body)
            .send()
    }

    async fn chat_ok(&self, replica: usize, text: &str) {
        let response = self.chat(replica, &user(text)).await;
        let status = response.status();
        let body = response.text().await.unwrap_or_default();
        assert_eq!(
            status,
            200,
            "replica {replica}: {body}\n{}",
            self.proxies[replica].logs()
        );
    }

    async fn get(&self, replica: usize, path: &str) -> Value {
        self.client
            .get(self.proxies[replica].url(path))
            .bearer_auth(KEY)
            .send()
            .await
            .expect("request")
            .json()
            .await
            .expect("json")
    }

    async fn post(&self, replica: usize, path: &str) -> reqwest::StatusCode {
        self.client
            .post(self.proxies[replica].url(path))
            .bearer_auth(KEY)
            .send()
            .await
            .expect("request")
            .status()
    }

    /// Token `name` as replica `replica`'s `/stats` shows it.
    async fn token(&self, replica: usize, name: &str) -> Value {
        let stats = self.get(replica, "/stats").await;
        stats["tokens"]
            .as_array()
            .and_then(|ts| ts.iter().find(|t| t["name"] == name))
            .cloned()
            .unwrap_or_default()
    }

    /// How many quota calls (`quota/get`, the health check's) the fake has answered.
    fn quota_calls(&self) -> usize {
        self.fake
            .requests()
            .iter()
            .filter(|q| q.path.ends_with("/quota/get"))
            .count()
    }

    async fn state_of(&self, replica: usize, name: &str) -> String {
        let stats = self.get(replica, "/stats").await;
        stats["tokens"]
            .as_array()
            .and_then(|ts| ts.iter().find(|t| t["name"] == name))
            .map(|t| t["state"].as_str().unwrap_or_default().to_string())
            .unwrap_or_default()
    }

    /// Waits until every replica's cluster view names `n` replicas.
    async fn wait_for_cluster(&self, n: usize) {
        let formed = eventually(Duration::from_secs(10), async || {
            let mut all = true;
            for i in 0..self.proxies.len() {
                let view = self.get(i, "/stats?scope=cluster").await;
                all &= view["replicas"].as_array().map_or(0, Vec::len) == n;
            }
            all
        })
        .await;
        assert!(
            formed,
            "the cluster never showed {n} replicas:\n{}",
            self.proxies[0].logs()
        );
    }

    fn logs(&self) -> String {
        self.proxies
            .iter()
            .enumerate()
            .map(|(i, p)| format!("--- replica {i}\n{}", p.logs()))
            .collect()
    }
}

#[tokio::test]
async fn a_token_exhausted_via_one_replica_is_not_tried_by_the_others_and_stats_cluster_shows_three()
 {
    let Some(r) = replicas(
        "exhausted",
        tokens(&["a", "b"]),
        json!({"load_balance_strategy": "round_robin"}),
        FakeOptions::default(),
    )
    .await
    else {
        return;
    };
    r.fake.set_behaviour("a", Behaviour::QuotaExhausted);
    // Round robin on replica 0 reaches `a` within two requests; its 477 fails over to `b`.
    r.chat_ok(0, "one").await;
    r.chat_ok(0, "two").await;
    assert_eq!(r.fake.chat_requests_for("a"), 1, "{}", r.logs());
    let marked = Instant::now();
    for replica in 1..3 {
        let seen = eventually(Duration::from_secs(2), async || {
            r.state_of(replica, "a").await == "exhausted"
        })
        .await;
        assert!(seen, "replica {replica} never heard:\n{}", r.logs());
    }
    let propagated = marked.elapsed();
    eprintln!("exhaustion seen by both other replicas after {propagated:?}");
    assert!(propagated < Duration::from_millis(500), "{propagated:?}");
    for i in 0..10 {
        r.chat_ok(1 + i % 2, "after").await;
    }
    assert_eq!(
        r.fake.chat_requests_for("a"),
        1,
        "replicas 1 and 2 must not try the exhausted token"
    );
    assert_eq!(r.fake.chat_requests_for("b"), 12);

    // `jbproxy stats --cluster` shows the three replicas and the merged counters.
    let dir = crate::common::tempdir();
    let out = run(jbproxy(dir.path()).args([
        "stats",
        "--cluster",
        "--url",
        &r.proxies[1].addr.to_string(),
        "-k",
        KEY,
    ]));
    let text = out.all();
    for p in &r.proxies {
        assert!(
            text.contains(&p.addr.to_string()),
            "{} missing:\n{text}",
            p.addr
        );
    }
    assert!(text.contains("exhausted"), "{text}");
    // Counters travel with the heartbeats (every second), so the merged sums catch up within one.
    let b = |view: &Value| {
        view["tokens"]
            .as_array()
            .and_then(|ts| ts.iter().find(|t| t["name"] == "b"))
            .cloned()
            .unwrap_or_default()
    };
    let merged = eventually(Duration::from_secs(3), async || {
        b(&r.get(2, "/stats?scope=cluster").await)["successes"] == 12
    })
    .await;
    let view = r.get(2, "/stats?scope=cluster").await;
    assert!(merged, "{view:#}");
    assert_eq!(b(&view)["replicas"], 3);
    let health = r.get(0, "/health").await;
    assert_eq!(health["state"], "redis", "{health}");
}

#[tokio::test]
async fn a_quota_checked_on_one_replica_shows_on_every_replica_newest_first_without_their_calls() {
    let Some(mut r) = replicas(
        "quota",
        tokens(&["a", "b"]),
        json!({}),
        FakeOptions::default(),
    )
    .await
    else {
        return;
    };
    let until_ms = jbproxy::epoch::now_ms() + 86_400_000;
    r.fake.set_quota("a", 25.0, 100.0, until_ms);
    assert_eq!(r.quota_calls(), 0, "health checks are off");
    assert_eq!(r.post(0, "/tokens/a/check").await, 200);
    assert_eq!(r.quota_calls(), 1);
    let left = |t: &Value| t["quota"]["left"].as_f64();
    assert_eq!(left(&r.token(0, "a").await), Some(75.0));
    let checked = Instant::now();
    for replica in 1..3 {
        let seen = eventually(Duration::from_secs(2), async || {
            left(&r.token(replica, "a").await) == Some(75.0)
        })
        .await;
        assert!(seen, "replica {replica} never heard:\n{}", r.logs());
    }
    let propagated = checked.elapsed();
    eprintln!("quota seen by both other replicas after {propagated:?}");
    assert!(propagated < Duration::from_millis(500), "{propagated:?}");
    let a = r.token(2, "a").await;
    assert_eq!(a["quota"]["used"], 25.0, "{a}");
    assert_eq!(a["quota"]["maximum"], 100.0, "{a}");
    assert!(a["quota"]["resets_at"].is_string(), "{a}");
    assert_eq!(left(&r.token(1, "b").await), None, "b was never checked");

    // A later check on another replica is the newest snapshot: it replaces the first everywhere.
    r.fake.set_quota("a", 40.0, 100.0, until_ms);
    assert_eq!(r.post(1, "/tokens/a/check").await, 200);
    for replica in [0, 2] {
        let seen = eventually(Duration::from_secs(2), async || {
            left(&r.token(replica, "a").await) == Some(60.0)
        })
        .await;
        assert!(
            seen,
            "replica {replica} kept the older snapshot:\n{}",
            r.logs()
        );
    }

    // The cluster view and `stats --cluster` show it; a replica that starts now reads it from Redis.
    let view = r.get(2, "/stats?scope=cluster").await;
    let merged = view["tokens"]
        .as_array()
        .and_then(|ts| ts.iter().find(|t| t["name"] == "a"))
        .cloned()
        .unwrap_or_default();
    assert_eq!(left(&merged), Some(60.0), "{view:#}");
    let dir = crate::common::tempdir();
    let out = run(jbproxy(dir.path()).args([
        "stats",
        "--cluster",
        "--url",
        &r.proxies[2].addr.to_string(),
        "-k",
        KEY,
    ]));
    assert!(out.all().contains("60.0 / 100.0"), "{}", out.all());
    r.proxies.push(Proxy::start(&r.config, &[]));
    let joined = eventually(Duration::from_secs(5), async || {
        left(&r.token(3, "a").await) == Some(60.0)
    })
    .await;
    assert!(
        joined,
        "the new replica never read the snapshot:\n{}",
        r.logs()
    );
    assert_eq!(r.quota_calls(), 2, "only the two checks asked the upstream");

    // Redis keeps the newest snapshot, whichever replica writes last.
    let fp = r.token(0, "a").await["fingerprint"]
        .as_str()
        .expect("fingerprint")
        .to_string();
    let key = format!("quota:quota:{fp}");
    let mut redis = redis::Client::open(r.redis.url())
        .expect("url")
        .get_multiplexed_async_connection()
        .await
        .expect("redis");
    let held = async |redis: &mut redis::aio::MultiplexedConnection| -> Value {
        let text: String = redis::cmd("GET")
            .arg(&key)
            .query_async(redis)
            .await
            .expect("GET");
        serde_json::from_str(&text).expect("json")
    };
    assert_eq!(held(&mut redis).await["left"], 60.0);
    let newer = json!({"used": 95.0, "maximum": 100.0, "left": 5.0, "until_ms": until_ms,
        "at_ms": jbproxy::epoch::now_ms() + 60_000});
    let () = redis::cmd("SET")
        .arg(&key)
        .arg(newer.to_string())
        .query_async(&mut redis)
        .await
        .expect("SET");
    r.fake.set_quota("a", 10.0, 100.0, until_ms);
    assert_eq!(r.post(0, "/tokens/a/check").await, 200);
    // The message follows the write in one pipeline: once replica 1 has it, the write was tried.
    let told = eventually(Duration::from_secs(2), async || {
        left(&r.token(1, "a").await) == Some(90.0)
    })
    .await;
    assert!(told, "{}", r.logs());
    assert_eq!(
        held(&mut redis).await["left"],
        5.0,
        "an older snapshot replaced a newer one"
    );
}

#[tokio::test]
async fn three_faults_in_a_row_spread_over_three_replicas_eject_the_token_everywhere() {
    let entries = json!([
        {"token": mint_jwt("a", Duration::from_secs(3600)), "name": "a", "priority": 0},
        {"token": mint_jwt("b", Duration::from_secs(3600)), "name": "b", "priority": 1},
    ]);
    // Tiers: every request tries `a` first while it may serve, and fails over to `b`.
    let Some(r) = replicas(
        "faults",
        entries,
        json!({"priority_mode": "tiers"}),
        FakeOptions::default(),
    )
    .await
    else {
        return;
    };
    let faults = |t: &Value| t["consecutive_faults"].as_u64();
    let all_count = async |n: u64| {
        let counted = eventually(Duration::from_secs(2), async || {
            let mut all = true;
            for replica in 0..3 {
                all &= faults(&r.token(replica, "a").await) == Some(n);
            }
            all
        })
        .await;
        assert!(
            counted,
            "not every replica counts {n} faults:\n{}",
            r.logs()
        );
    };
    r.fake.set_behaviour("a", Behaviour::ServerError);
    r.chat_ok(0, "one").await;
    all_count(1).await;
    // A success on another replica ends the run everywhere.
    r.fake.set_behaviour("a", Behaviour::Ok);
    r.chat_ok(1, "fine").await;
    all_count(0).await;

    r.fake.set_behaviour("a", Behaviour::ServerError);
    r.chat_ok(0, "one").await;
    all_count(1).await;
    r.chat_ok(1, "two").await;
    all_count(2).await;
    r.chat_ok(2, "three").await;
    let third = Instant::now();
    for replica in 0..3 {
        let ejected = eventually(Duration::from_secs(2), async || {
            r.state_of(replica, "a").await == "ejected"
        })
        .await;
        assert!(ejected, "replica {replica} did not eject a:\n{}", r.logs());
    }
    eprintln!(
        "ejected on every replica {:?} after the third fault",
        third.elapsed()
    );
    assert_eq!(r.fake.chat_requests_for("a"), 5, "{}", r.logs());
    for i in 0..6 {
        r.chat_ok(i % 3, "after").await;
    }
    assert_eq!(
        r.fake.chat_requests_for("a"),
        5,
        "no replica tries the ejected token (for {:?} of its 5 s)",
        third.elapsed()
    );
}

#[tokio::test]
async fn a_401_on_one_replica_is_refreshed_once_for_every_replica() {
    let mut entries = tokens(&["b"]);
    entries.as_array_mut().expect("array").insert(
        0,
        json!({
            "token": mint_jwt("r", Duration::from_secs(3600)),
            "name": "r",
            "license_id": "lic-r",
            "authorization": "id-token-r",
        }),
    );
    let Some(r) = replicas(
        "refresh",
        entries,
        json!({"load_balance_strategy": "round_robin", "max_attempts": 3}),
        FakeOptions::default(),
    )
    .await
    else {
        return;
    };
    r.fake.register_license("lic-r", "id-token-r", "r");
    r.fake.set_behaviour("r", Behaviour::Unauthorized);
    let refreshes = || {
        r.fake
            .requests()
            .iter()
            .filter(|q| q.path.contains("provide-access"))
            .count()
    };
    // All three at once, several requests each: every replica meets the token; one refresh serves them all.
    let mut sent = Vec::new();
    for i in 0..12 {
        sent.push(r.send(i % 3, &user("hi")));
    }
    for response in futures_util::future::join_all(sent).await {
        assert_eq!(response.expect("request").status(), 200, "{}", r.logs());
    }
    for replica in 0..3 {
        let healthy = eventually(Duration::from_secs(3), async || {
            r.state_of(replica, "r").await == "healthy"
        })
        .await;
        assert!(healthy, "replica {replica}:\n{}", r.logs());
    }
    // Each replica now uses the refreshed JWT on `r`, without refreshing again.
    let before = r.fake.chat_requests_for("r");
    for i in 0..6 {
        r.chat_ok(i % 3, "again").await;
    }
    assert!(
        r.fake.chat_requests_for("r") >= before + 3,
        "r is used again"
    );
    assert_eq!(refreshes(), 1, "one refresh in total:\n{}", r.logs());
}

#[tokio::test]
async fn least_inflight_counts_the_other_replicas_requests() {
    let options = FakeOptions::default();
    let Some(r) = replicas(
        "inflight",
        tokens(&["a", "b"]),
        json!({"load_balance_strategy": "least_inflight"}),
        options,
    )
    .await
    else {
        return;
    };
    for name in ["a", "b"] {
        r.fake.set_behaviour(
            name,
            Behaviour::PauseBetweenEvents(Duration::from_millis(400)),
        );
    }
    // Replica 0 opens a long stream; once its lease is in Redis, replica 1's pick must take the other token,
    // although replica 1 itself has nothing in flight (each replica alone would pick the first token).
    let first = r.send(0, &streaming("long one"));
    let first = tokio::spawn(async move { first.await.expect("request").text().await });
    let leased = eventually(Duration::from_secs(3), async || {
        let view = r.get(1, "/stats?scope=cluster").await;
        view["replicas"]
            .as_array()
            .is_some_and(|rs| rs.iter().any(|x| x["inflight"] == 1))
    })
    .await;
    assert!(leased, "{}", r.logs());
    tokio::time::sleep(Duration::from_millis(300)).await;
    let second = r.chat(1, &streaming("long two")).await;
    assert_eq!(second.status(), 200);
    let _ = second.text().await;
    let _ = first.await;
    assert_eq!(
        (r.fake.chat_requests_for("a"), r.fake.chat_requests_for("b")),
        (1, 1),
        "the two replicas' requests went to different tokens:\n{}",
        r.logs()
    );
}

#[tokio::test]
async fn redis_killed_under_load_fails_no_request_and_state_reconciles_after_restart() {
    let Some(mut r) = replicas(
        "outage",
        tokens(&["a", "b", "c"]),
        json!({"load_balance_strategy": "round_robin"}),
        FakeOptions::default(),
    )
    .await
    else {
        return;
    };
    let client = r.client.clone();
    let urls: Vec<String> = r
        .proxies
        .iter()
        .map(|p| p.url("/v1/chat/completions"))
        .collect();
    let total = 2000;
    let done = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let load = {
        let done = std::sync::Arc::clone(&done);
        tokio::spawn(async move {
            let mut failures = Vec::new();
            let mut next = 0;
            let mut running = futures_util::stream::FuturesUnordered::new();
            use futures_util::StreamExt;
            while next < total || !running.is_empty() {
                while next < total && running.len() < 12 {
                    let body = if next % 2 == 0 {
                        user("x")
                    } else {
                        streaming("x")
                    };
                    let request = client
                        .post(&urls[next % 3])
                        .bearer_auth(KEY)
                        .json(&body)
                        .send();
                    running.push(async move {
                        match request.await {
                            Ok(resp) => {
                                let status = resp.status();
                                let text = resp.text().await.unwrap_or_default();
                                (status.as_u16(), text)
                            }
                            Err(err) => (0, err.to_string()),
                        }
                    });
                    next += 1;
                }
                if let Some((status, text)) = running.next().await {
                    done.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    if status != 200 || text.contains("stream_interrupted") {
                        failures.push(format!("{status}: {text}"));
                    }
                }
            }
            failures
        })
    };
    let started = Instant::now();
    while done.load(std::sync::atomic::Ordering::Relaxed) < total / 4 {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    r.redis.kill();
    let down = eventually(Duration::from_secs(5), async || {
        r.get(1, "/health").await["state"] == "redis: unreachable"
    })
    .await;
    assert!(down, "{}", r.logs());
    let failures = load.await.expect("load");
    eprintln!("{total} mixed requests in {:?}", started.elapsed());
    assert!(
        failures.is_empty(),
        "{} failed, e.g. {:?}",
        failures.len(),
        failures.first()
    );
    // While Redis is away, replica 0 finds `c` out of quota; replica 0 alone knows it.
    r.fake.set_behaviour("c", Behaviour::QuotaExhausted);
    // Make sure replica 0 met `c`; then `c` is fine again for anyone who tries, so only the shared record keeps
    // replicas 1 and 2 away from it.
    for _ in 0..3 {
        r.chat_ok(0, "find c").await;
    }
    assert_eq!(r.state_of(0, "c").await, "exhausted");
    for replica in 1..3 {
        assert_eq!(
            r.state_of(replica, "c").await,
            "healthy",
            "nothing shared while Redis is away"
        );
    }
    r.fake.set_behaviour("c", Behaviour::Ok);
    let warnings = r.proxies[1].logs().matches("lost Redis").count();
    assert_eq!(
        warnings,
        1,
        "one warning per outage:\n{}",
        r.proxies[1].logs()
    );

    r.redis.restart();
    for replica in 1..3 {
        let reconciled = eventually(Duration::from_secs(10), async || {
            r.state_of(replica, "c").await == "exhausted"
        })
        .await;
        assert!(
            reconciled,
            "replica {replica} never learnt of c:\n{}",
            r.logs()
        );
    }
    let health = r.get(2, "/health").await;
    assert_eq!(health["state"], "redis", "{health}");
    let metrics = r
        .client
        .get(r.proxies[1].url("/metrics"))
        .bearer_auth(KEY)
        .send()
        .await
        .expect("metrics")
        .text()
        .await
        .unwrap_or_default();
    let errors: f64 = metrics
        .lines()
        .find_map(|l| l.strip_prefix("jbproxy_redis_errors_total "))
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or(0.0);
    assert!(
        errors >= 1.0,
        "the outage's failed reconnects are counted:\n{metrics}"
    );
    let before = r.fake.chat_requests_for("c");
    for i in 0..6 {
        r.chat_ok(1 + i % 2, "after").await;
    }
    assert_eq!(
        r.fake.chat_requests_for("c"),
        before,
        "c stays out on every replica"
    );
}

#[tokio::test]
async fn a_killed_replicas_requests_in_flight_drain_within_the_ttl() {
    let Some(mut r) = replicas("drain", tokens(&["a"]), json!({}), FakeOptions::default()).await
    else {
        return;
    };
    r.fake.set_behaviour("a", Behaviour::Hang);
    let mut hanging = Vec::new();
    for _ in 0..3 {
        let request = r.send(0, &user("hang"));
        hanging.push(tokio::spawn(async move {
            let _ = request.await;
        }));
    }
    let inflight = |view: &Value| view["tokens"][0]["inflight"].as_u64().unwrap_or(0);
    let leased = eventually(Duration::from_secs(3), async || {
        inflight(&r.get(1, "/stats?scope=cluster").await) == 3
    })
    .await;
    assert!(leased, "{}", r.logs());
    let victim = r.proxies.remove(0);
    victim.signal("KILL");
    let killed = Instant::now();
    let drained = eventually(Duration::from_secs(6), async || {
        let view = r.get(1, "/stats?scope=cluster").await;
        inflight(&view) == 0 && view["replicas"].as_array().map_or(0, Vec::len) == 2
    })
    .await;
    eprintln!(
        "the killed replica's leases drained after {:?}",
        killed.elapsed()
    );
    assert!(drained, "{}", r.logs());
    assert!(killed.elapsed() <= jbproxy::cluster::REPLICA_TTL + Duration::from_secs(2));
    drop(victim);
    for h in hanging {
        h.abort();
    }
}

#[tokio::test]
async fn redis_down_at_start_serves_from_memory_then_joins() {
    let Some(mut redis) = RedisServer::start("down_at_start") else {
        return;
    };
    redis.kill();
    let fake = FakeUpstream::start(FakeOptions::default())
        .await
        .expect("fake");
    let mut config = config_for(&fake, &["a"], json!({}));
    config["state"] = json!({"url": redis.url()});
    let proxy = Proxy::start(&config, &[]);
    let client = reqwest::Client::new();
    let health = || async {
        client
            .get(proxy.url("/health"))
            .send()
            .await
            .expect("health")
            .json::<Value>()
            .await
            .expect("json")
    };
    let down = eventually(Duration::from_secs(5), async || {
        health().await["state"] == "redis: unreachable"
    })
    .await;
    assert!(down, "{}", proxy.logs());
    let response = client
        .post(proxy.url("/v1/chat/completions"))
        .bearer_auth(KEY)
        .json(&user("served anyway"))
        .send()
        .await
        .expect("chat");
    assert_eq!(response.status(), 200);
    redis.restart();
    let up = eventually(Duration::from_secs(10), async || {
        health().await["state"] == "redis"
    })
    .await;
    assert!(up, "{}", proxy.logs());
    let logs = proxy.logs();
    assert_eq!(
        logs.matches("STATE BACKEND UNREACHABLE").count(),
        1,
        "{logs}"
    );
    assert!(!logs.contains("lost Redis"), "{logs}");
}

#[tokio::test]
async fn a_refresh_token_rotated_on_one_replica_serves_the_next_refresh_on_another() {
    let entries = json!([{
        "token": mint_jwt("r", Duration::from_secs(3600)),
        "name": "r",
        "license_id": "lic-r",
        "refresh_token": "rt-first",
    }]);
    let Some(r) = replicas("rotation", entries, json!({}), FakeOptions::default()).await else {
        return;
    };
    r.fake.register_account("rt-first", "lic-r", "r");
    // Replica 0 refreshes: the account service rotates rt-first away.
    r.fake.set_behaviour("r", Behaviour::Unauthorized);
    r.chat_ok(0, "first refresh").await;
    assert_ne!(
        r.fake.current_refresh_token("r").as_deref(),
        Some("rt-first")
    );
    // Later replica 1 has to refresh; its own config and state file know only rt-first, which is spent.
    for replica in 1..3 {
        let adopted = eventually(Duration::from_secs(3), async || {
            r.state_of(replica, "r").await == "healthy"
        })
        .await;
        assert!(adopted, "{}", r.logs());
    }
    r.fake.set_behaviour("r", Behaviour::Unauthorized);
    r.chat_ok(1, "second refresh").await;
    let grants = r
        .fake
        .requests()
        .iter()
        .filter(|q| q.path == "/oauth2/token" && q.status == 200)
        .count();
    assert_eq!(
        grants,
        2,
        "each refresh started from the newest refresh token:\n{}",
        r.logs()
    );
}

/// The soak variant: three replicas under steady load for 10 minutes (`JBPROXY_SOAK_SECS` to change), Redis
/// killed and restarted every minute; not one request may fail. `cargo test --test it replicas_soak -- --ignored`.
#[tokio::test]
#[ignore = "runs 10 minutes"]
async fn replicas_soak_with_redis_restarts_every_minute() {
    let Some(mut r) = replicas(
        "soak",
        tokens(&["a", "b", "c"]),
        json!({"load_balance_strategy": "least_inflight"}),
        FakeOptions::default(),
    )
    .await
    else {
        return;
    };
    let secs: u64 = std::env::var("JBPROXY_SOAK_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(600);
    let stop = Instant::now() + Duration::from_secs(secs);
    let (mut sent, mut failed) = (0usize, Vec::new());
    // Every minute; a shorter run (to try the test) restarts four times.
    let every = Duration::from_secs(60).min(Duration::from_secs(secs) / 4);
    let mut next_restart = Instant::now() + every;
    let mut restarts = 0;
    while Instant::now() < stop {
        let batch: Vec<_> = (0..12)
            .map(|i| {
                let body = if i % 2 == 0 {
                    user("soak")
                } else {
                    streaming("soak")
                };
                r.send(i % 3, &body)
            })
            .collect();
        for response in futures_util::future::join_all(batch).await {
            sent += 1;
            match response {
                Ok(resp) if resp.status() == 200 => {
                    let text = resp.text().await.unwrap_or_default();
                    if text.contains("stream_interrupted") {
                        failed.push(text);
                    }
                }
                Ok(resp) => failed.push(resp.status().to_string()),
                Err(err) => failed.push(err.to_string()),
            }
        }
        if Instant::now() >= next_restart {
            r.redis.kill();
            tokio::time::sleep(Duration::from_secs(2)).await;
            r.redis.restart();
            restarts += 1;
            next_restart = Instant::now() + every;
        }
    }
    eprintln!(
        "soak: {sent} requests, {restarts} Redis restarts, {} failed",
        failed.len()
    );
    assert!(failed.is_empty(), "{:?}", &failed[..failed.len().min(5)]);
    r.wait_for_cluster(3).await;
}

#[test]
fn the_state_url_is_redacted_and_a_bad_one_is_named_without_its_password() {
    let dir = crate::common::tempdir();
    let shown = crate::common::effective(
        dir.path(),
        &["-c", &mint_jwt("a", Duration::from_secs(3600))],
        &[("STATE_URL", "rediss://jb:hunter2@redis.internal:6380/1")],
    );
    assert_eq!(
        shown["state"],
        json!({"backend": "redis", "url": "rediss://<redacted>@redis.internal:6380/1", "prefix": "jbproxy:"})
    );
    assert!(!shown.to_string().contains("hunter2"));
    let out = run(jbproxy(dir.path())
        .args([
            "print-config",
            "-c",
            &mint_jwt("a", Duration::from_secs(3600)),
        ])
        .env("STATE_URL", "http://jb:hunter2@redis.internal"));
    assert_eq!(out.code, Some(2), "{}", out.all());
    assert!(
        out.all().contains("STATE_URL") && out.all().contains("not a Redis URL"),
        "{}",
        out.all()
    );
    assert!(!out.all().contains("hunter2"), "{}", out.all());
}
