//! How a replica stays joined to the shared state: a subscription that went silent is noticed and replaced, the
//! start pass waits for the shared state, a request waiting for another replica's refresh waits on its own pool
//! rather than polling Redis, a reload's new tokens take the shared state, and a rotated refresh token Redis
//! would not keep is said.

use super::*;
use crate::common::redis::SilentRelay;

/// Replicas with a config each (the same Redis and fake), once all of them are in the cluster view.
async fn replicas_with(redis: RedisServer, fake: FakeUpstream, configs: &[Value]) -> Replicas {
    let proxies = configs.iter().map(|c| Proxy::start(c, &[])).collect();
    let r = Replicas {
        fake,
        redis,
        proxies,
        client: reqwest::Client::new(),
        config: configs[0].clone(),
    };
    r.wait_for_cluster(configs.len()).await;
    r
}

fn shared_config(fake: &FakeUpstream, url: &str, test: &str, tokens: Value, extra: Value) -> Value {
    let mut config = config_for(fake, &[], extra);
    config["jetbrains_tokens"] = tokens;
    config["state"] = json!({"backend": "redis", "url": url, "prefix": format!("{test}:")});
    config
}

fn redis_command<T: redis::FromRedisValue>(redis: &RedisServer, cmd: &redis::Cmd) -> T {
    let client = redis::Client::open(redis.url()).expect("redis url");
    let mut conn = client.get_connection().expect("redis connection");
    cmd.query(&mut conn).expect("redis command")
}

/// How many times Redis ran `command` since the last `CONFIG RESETSTAT`.
fn calls(redis: &RedisServer, command: &str) -> u64 {
    let info: String = redis_command(redis, redis::cmd("INFO").arg("commandstats"));
    parse_calls(&info, command)
}

fn parse_calls(info: &str, command: &str) -> u64 {
    info.lines()
        .find_map(|l| l.strip_prefix(&format!("cmdstat_{command}:calls=")))
        .and_then(|rest| rest.split(',').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or(0)
}

#[tokio::test]
async fn a_subscription_gone_silent_is_replaced_and_the_others_events_reach_the_replica_again() {
    let Some(redis) = RedisServer::start("silent") else {
        return;
    };
    let relay = SilentRelay::start(redis.port);
    let fake = FakeUpstream::start(FakeOptions::default())
        .await
        .expect("fake");
    let extra = json!({"load_balance_strategy": "round_robin"});
    let direct = shared_config(
        &fake,
        &redis.url(),
        "silent",
        tokens(&["a", "b"]),
        extra.clone(),
    );
    let mut relayed = direct.clone();
    relayed["state"]["url"] = json!(relay.url());
    let r = replicas_with(redis, fake, &[direct, relayed]).await;
    // Replica 1's subscription goes silent; its other connection still answers, so nothing fails loudly.
    assert_eq!(relay.mute_subscribers(), 1, "{}", r.logs());
    r.fake.set_behaviour("a", Behaviour::QuotaExhausted);
    r.chat_ok(0, "one").await;
    r.chat_ok(0, "two").await;
    assert_eq!(r.fake.chat_requests_for("a"), 1, "{}", r.logs());
    let marked = Instant::now();
    let heard = eventually(Duration::from_secs(10), async || {
        r.state_of(1, "a").await == "exhausted"
    })
    .await;
    assert!(heard, "replica 1 never heard:\n{}", r.logs());
    eprintln!(
        "heard through a new subscription after {:?}",
        marked.elapsed()
    );
    // The new subscription carries the next event as it comes.
    r.fake.set_behaviour("b", Behaviour::QuotaExhausted);
    r.fake.set_behaviour("a", Behaviour::Ok);
    let _ = r.chat(0, &user("three")).await;
    let heard = eventually(Duration::from_secs(2), async || {
        r.state_of(1, "b").await == "exhausted"
    })
    .await;
    assert!(heard, "replica 1 missed the next event:\n{}", r.logs());
}

#[tokio::test]
async fn a_replica_started_beside_another_takes_its_refreshed_jwt_instead_of_refreshing() {
    let Some(redis) = RedisServer::start("join") else {
        return;
    };
    let fake = FakeUpstream::start(FakeOptions::default())
        .await
        .expect("fake");
    fake.register_license("lic-r", "id-token-r", "r");
    // Expiring within the refresh-ahead window: the start pass refreshes it.
    let entries = json!([{
        "token": mint_jwt("r", Duration::from_secs(120)),
        "name": "r",
        "license_id": "lic-r",
        "authorization": "id-token-r",
    }]);
    let config = shared_config(&fake, &redis.url(), "join", entries, json!({}));
    let refreshes = |fake: &FakeUpstream| {
        fake.requests()
            .iter()
            .filter(|q| q.path.contains("provide-access"))
            .count()
    };
    let mut r = replicas_with(redis, fake, std::slice::from_ref(&config)).await;
    let first = eventually(Duration::from_secs(5), async || refreshes(&r.fake) == 1).await;
    assert!(first, "{}", r.logs());
    // A rolling deploy's next replica: it joins the shared state before its start pass.
    r.proxies.push(Proxy::start(&config, &[]));
    let adopted = eventually(Duration::from_secs(8), async || {
        r.proxies[1]
            .logs()
            .contains("JWT refreshed by another replica")
    })
    .await;
    assert!(adopted, "{}", r.logs());
    assert_eq!(refreshes(&r.fake), 1, "{}", r.logs());
    assert_eq!(r.state_of(1, "r").await, "healthy");
}

#[tokio::test]
async fn a_request_waiting_for_another_replicas_refresh_gets_its_jwt_without_polling_redis() {
    let Some(redis) = RedisServer::start("waiting") else {
        return;
    };
    let fake = FakeUpstream::start(FakeOptions::default())
        .await
        .expect("fake");
    fake.register_license("lic-r", "id-token-r", "r");
    let entries = json!([{
        "token": mint_jwt("r", Duration::from_secs(3600)),
        "name": "r",
        "license_id": "lic-r",
        "authorization": "id-token-r",
    }]);
    let config = shared_config(&fake, &redis.url(), "waiting", entries, json!({}));
    let r = replicas_with(redis, fake, std::slice::from_ref(&config)).await;
    let fp = r.token(0, "r").await["fingerprint"]
        .as_str()
        .expect("fingerprint")
        .to_string();
    // The test is the other replica: it holds the refresh lock, and publishes its JWT two seconds later.
    redis_command::<()>(
        &r.redis,
        redis::cmd("SET")
            .arg(format!("waiting:lock:refresh:{fp}"))
            .arg("other-replica")
            .arg("PX")
            .arg(30_000),
    );
    r.fake.set_behaviour("r", Behaviour::Unauthorized);
    redis_command::<()>(&r.redis, redis::cmd("CONFIG").arg("RESETSTAT"));
    let waiting = tokio::spawn(r.send(0, &user("waits")));
    tokio::time::sleep(Duration::from_secs(2)).await;
    let fresh = mint_jwt("r", Duration::from_secs(7200));
    r.fake.set_behaviour("r", Behaviour::Ok);
    redis_command::<()>(
        &r.redis,
        redis::cmd("SET")
            .arg(format!("waiting:jwt:{fp}"))
            .arg(&fresh)
            .arg("PX")
            .arg(3_600_000),
    );
    let looks = calls(&r.redis, "exists");
    redis_command::<()>(
        &r.redis,
        redis::cmd("PUBLISH")
            .arg("waiting:events")
            .arg(json!({"t": "jwt", "from": "other-replica", "fp": fp}).to_string()),
    );
    let response = tokio::time::timeout(Duration::from_secs(5), waiting)
        .await
        .expect("the waiting request ended")
        .expect("task")
        .expect("request");
    assert_eq!(response.status(), 200, "{}", r.logs());
    let logs = r.logs();
    assert!(logs.contains("JWT refreshed by another replica"), "{logs}");
    assert_eq!(
        r.fake
            .requests()
            .iter()
            .filter(|q| q.path.contains("provide-access"))
            .count(),
        0,
        "the replica took the other's JWT:\n{logs}"
    );
    // Over two seconds of waiting, Redis is looked at once a second at most (polling would be ~80 looks).
    assert!(looks <= 3, "{looks} lock checks while waiting");
}

#[tokio::test]
async fn a_token_added_by_a_reload_takes_the_state_the_replicas_share() {
    let Some(redis) = RedisServer::start("reload") else {
        return;
    };
    let fake = FakeUpstream::start(FakeOptions::default())
        .await
        .expect("fake");
    let both = tokens(&["a", "b"]);
    let extra = json!({"load_balance_strategy": "round_robin"});
    let full = shared_config(&fake, &redis.url(), "reload", both.clone(), extra.clone());
    let mut partial = full.clone();
    partial["jetbrains_tokens"] = json!([both[0].clone()]);
    let r = replicas_with(redis, fake, &[full.clone(), partial]).await;
    r.fake.set_behaviour("b", Behaviour::QuotaExhausted);
    r.chat_ok(0, "one").await;
    r.chat_ok(0, "two").await;
    assert_eq!(r.fake.chat_requests_for("b"), 1, "{}", r.logs());
    assert_eq!(r.state_of(0, "b").await, "exhausted");
    // Replica 1 did not have `b` when the others heard of it; a reload adds it.
    std::fs::write(
        r.proxies[1].dir.path().join("config.json"),
        serde_json::to_string_pretty(&full).expect("json"),
    )
    .expect("write config");
    assert_eq!(r.post(1, "/reload").await, 200, "{}", r.logs());
    let adopted = eventually(Duration::from_secs(3), async || {
        r.state_of(1, "b").await == "exhausted"
    })
    .await;
    assert!(
        adopted,
        "replica 1's b: {}\n{}",
        r.token(1, "b").await,
        r.logs()
    );
}

#[tokio::test]
async fn a_rotated_refresh_token_redis_refused_is_logged_and_shared_once_redis_takes_it() {
    let Some(redis) = RedisServer::start("unshared") else {
        return;
    };
    // A Redis user that may write every key of the shared state but the rotated refresh tokens.
    let mut acl = redis::cmd("ACL");
    acl.arg(&["SETUSER", "jb", "on", ">acl-pw", "+@all", "&*", "%R~*"][..]);
    for writable in [
        "token:*", "quota:*", "jwt:*", "lock:*", "replica*", "lease:*",
    ] {
        acl.arg(format!("~unshared:{writable}"));
    }
    redis_command::<()>(&redis, &acl);
    let fake = FakeUpstream::start(FakeOptions::default())
        .await
        .expect("fake");
    fake.register_account("rt-first", "lic-r", "r");
    let entries = json!([{
        "token": mint_jwt("r", Duration::from_secs(3600)),
        "name": "r",
        "license_id": "lic-r",
        "refresh_token": "rt-first",
    }]);
    let url = format!("redis://jb:acl-pw@127.0.0.1:{}", redis.port);
    let mut config = shared_config(&fake, &url, "unshared", entries, json!({}));
    config["oauth_url"] = json!(format!("{}/oauth2/token", fake.url()));
    let r = replicas_with(redis, fake, &[config]).await;
    r.fake.set_behaviour("r", Behaviour::Unauthorized);
    r.chat_ok(0, "rotates").await;
    let rotated = r.fake.current_refresh_token("r").expect("rotated");
    assert_ne!(rotated, "rt-first");
    let said = format!(
        "could not share the rotated refresh token {}",
        jbproxy::secret::fingerprint(&rotated)
    );
    let logged = eventually(Duration::from_secs(3), async || r.logs().contains(&said)).await;
    let logs = r.logs();
    assert!(logged, "{said}:\n{logs}");
    assert!(logs.contains("WARN"), "{logs}");
    assert!(!logs.contains(&rotated), "the token itself is never logged");

    // Once Redis takes the write, the kept token is shared: the other replicas' next refresh starts from it.
    let mut grant = redis::cmd("ACL");
    grant.arg(&["SETUSER", "jb", "~unshared:refresh_token:*"][..]);
    redis_command::<()>(&r.redis, &grant);
    let shared = eventually(Duration::from_secs(5), async || {
        let keys: Vec<String> =
            redis_command(&r.redis, redis::cmd("KEYS").arg("unshared:refresh_token:*"));
        keys.iter().any(|key| {
            redis_command::<Option<String>>(&r.redis, redis::cmd("GET").arg(key)).as_deref()
                == Some(rotated.as_str())
        })
    })
    .await;
    assert!(shared, "the kept token never reached Redis:\n{}", r.logs());
    assert!(
        r.logs().contains("shared the rotated refresh token"),
        "{}",
        r.logs()
    );
}
