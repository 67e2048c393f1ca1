//! The shared state's background task: connect to Redis (retrying with backoff while it is away), reconcile the
//! local mirror with what Redis holds, then until the connection fails: write and publish the pool's changes as
//! they come, apply what the other replicas publish, write the quota snapshots learned and this replica's leases
//! every tick and its heartbeat every second, and read the other replicas' leases into the pool. It reconciles
//! again when a reload brings a new pool, and reconnects when the subscription goes silent (its own pings do not
//! come back). Whatever fails, requests go on with the local mirror; one warning per outage.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use futures_util::StreamExt;
use redis::aio::MultiplexedConnection;
use secrecy::SecretString;
use tokio_util::sync::CancellationToken;

use super::{CONNECTED, Cluster, HEARTBEAT_EVERY, Message, REPLICA_TTL, TICK, UNREACHABLE, within};
use crate::pool::Pool;
use crate::pool::shared::{Change, QuotaRecord, newer};

const MAX_BACKOFF: Duration = Duration::from_secs(5);

/// How often a replica that heard nothing of its own on the channel lately publishes a ping to itself.
const PING_EVERY: Duration = Duration::from_secs(1);

/// A subscription that delivered none of this replica's own messages (pings included) for this long is taken for
/// dead, though its connection looks open (a Redis restart or a NAT that dropped it without a reset): the task
/// reconnects and reconciles, so the replica does not go on deaf to the others.
const SILENT_FOR: Duration = Duration::from_secs(3);

/// Runs until `stop` is cancelled. `pool` gives the pool in use now (a reload swaps it).
pub async fn run(cluster: Arc<Cluster>, pool: impl Fn() -> Arc<Pool>, stop: CancellationToken) {
    let Some(redis) = cluster.redis.as_ref() else {
        return;
    };
    let Some(mut changes) = cluster
        .changes
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .take()
    else {
        return;
    };
    crate::metrics::redis_errors_shown();
    let mut backoff = Duration::from_millis(100);
    let mut outages = 0u64;
    let mut ever_connected = false;
    loop {
        let outcome = match connect(&cluster, &redis.client).await {
            Ok((conn, events)) => {
                cluster.conn.store(Some(Arc::new(conn.clone())));
                cluster.status.store(CONNECTED, Ordering::Release);
                if outages > 0 {
                    tracing::warn!(
                        "state backend: Redis at {} answers again; reconciling",
                        redis.shown
                    );
                } else {
                    tracing::info!(replica = %cluster.replica, "state backend: sharing the pool through Redis at {}", redis.shown);
                }
                backoff = Duration::from_millis(100);
                ever_connected = true;
                outages = 0;
                let mut session = Session {
                    cluster: &cluster,
                    conn,
                    leases: HashMap::new(),
                    leases_written: ago(HEARTBEAT_EVERY),
                    heard: tokio::time::Instant::now(),
                    pinged: ago(PING_EVERY),
                };
                session.serve(&pool, &mut changes, events, &stop).await
            }
            Err(err) => Err(err),
        };
        cluster.conn.store(None);
        // The other replicas' leases can no longer be read: their last counts would weigh on `least_inflight`
        // for the whole outage.
        pool().set_remote_inflight(&HashMap::new());
        let Err(err) = outcome else {
            return; // stopped
        };
        cluster.status.store(UNREACHABLE, Ordering::Release);
        match outages {
            0 if !ever_connected => {
                tracing::error!(
                    "STATE BACKEND UNREACHABLE: Redis at {} does not answer ({err}). Serving with this replica's \
                     own pool state (memory mode) and retrying in the background; replicas do not share token \
                     state until it answers",
                    redis.shown
                );
            }
            0 => tracing::warn!(
                "state backend: lost Redis at {} ({err}); serving from the local pool state and reconnecting",
                redis.shown
            ),
            _ => tracing::debug!("state backend: Redis still unreachable: {err}"),
        }
        outages += 1;
        // Wait out the backoff; changes made meanwhile are in the pool and reconciled on reconnect.
        let until = tokio::time::sleep(backoff);
        tokio::pin!(until);
        loop {
            tokio::select! {
                () = stop.cancelled() => return,
                () = &mut until => break,
                change = changes.recv() => if change.is_none() { return },
            }
        }
        backoff = (backoff * 2).min(MAX_BACKOFF);
    }
}

async fn connect(
    cluster: &Cluster,
    client: &redis::Client,
) -> Result<(MultiplexedConnection, redis::aio::PubSubStream), redis::RedisError> {
    let config = redis::AsyncConnectionConfig::new()
        .set_connection_timeout(Some(super::COMMAND_TIMEOUT))
        .set_response_timeout(Some(super::COMMAND_TIMEOUT));
    let conn = within(client.get_multiplexed_async_connection_with_config(&config)).await?;
    let mut pubsub = within(client.get_async_pubsub()).await?;
    within(pubsub.subscribe(cluster.key("events"))).await?;
    Ok((conn, pubsub.into_on_message()))
}

/// One connected stretch: ends with `Ok` when stopped, `Err` when Redis failed.
struct Session<'a> {
    cluster: &'a Cluster,
    conn: MultiplexedConnection,
    /// The leases last written, to write only what changed (and at least every heartbeat).
    leases: HashMap<String, u32>,
    leases_written: tokio::time::Instant,
    /// When the subscription last delivered a message this replica sent (`SILENT_FOR`).
    heard: tokio::time::Instant,
    pinged: tokio::time::Instant,
}

impl Session<'_> {
    async fn serve(
        &mut self,
        pool: &impl Fn() -> Arc<Pool>,
        changes: &mut tokio::sync::mpsc::UnboundedReceiver<Change>,
        mut events: redis::aio::PubSubStream,
        stop: &CancellationToken,
    ) -> Result<(), redis::RedisError> {
        let mut reconciled = pool();
        self.reconcile(&reconciled).await?;
        self.cluster.joined.send_replace(true);
        let mut tick = tokio::time::interval(TICK);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut heartbeat = ago(HEARTBEAT_EVERY);
        loop {
            tokio::select! {
                () = stop.cancelled() => {
                    self.leave().await;
                    return Ok(());
                }
                change = changes.recv() => {
                    let Some(change) = change else { return Ok(()) };
                    // Whatever else came meanwhile goes in the same round trip.
                    let mut batch = vec![change];
                    while let Ok(more) = changes.try_recv() {
                        batch.push(more);
                    }
                    self.write(batch).await?;
                }
                message = events.next() => {
                    let Some(message) = message else {
                        return Err(lost("the subscription ended"));
                    };
                    self.apply(&pool(), &message).await?;
                }
                _ = tick.tick() => {
                    let pool = pool();
                    // A reload built a new pool: the tokens it added take the shared state too.
                    if !Arc::ptr_eq(&pool, &reconciled) {
                        self.reconcile(&pool).await?;
                        reconciled = Arc::clone(&pool);
                    }
                    self.listening().await?;
                    self.quotas(&pool).await?;
                    self.leases(&pool).await?;
                    if heartbeat.elapsed() >= HEARTBEAT_EVERY {
                        self.heartbeat(&pool).await?;
                        heartbeat = tokio::time::Instant::now();
                    }
                }
            }
        }
    }

    /// After a (re)connect: for each token, the record that should stand (`pool::shared::newer`) is taken here or
    /// written there.
    async fn reconcile(&mut self, pool: &Pool) -> Result<(), redis::RedisError> {
        let mut pipe = redis::pipe();
        for slot in pool.slots() {
            pipe.cmd("GET")
                .arg(self.cluster.key(&format!("token:{}", slot.fingerprint)));
        }
        for slot in pool.slots() {
            pipe.cmd("GET")
                .arg(self.cluster.key(&format!("quota:{}", slot.fingerprint)));
        }
        let mut remote: Vec<Option<String>> = within(pipe.query_async(&mut self.conn)).await?;
        let quotas = remote.split_off(pool.len().min(remote.len()));
        for (index, (slot, remote)) in pool.slots().iter().zip(quotas).enumerate() {
            let remote = remote.and_then(|text| serde_json::from_str::<QuotaRecord>(&text).ok());
            let local_at = pool.quota_record(index).map(|q| q.at_ms);
            match remote {
                Some(remote) if local_at.is_none_or(|at| at < remote.at_ms) => {
                    pool.adopt_quota(&slot.fingerprint, &remote);
                }
                Some(remote) if local_at == Some(remote.at_ms) => {}
                _ if local_at.is_some() => pool.reshare_quota(index),
                _ => {}
            }
        }
        let mut push = Vec::new();
        for (index, (slot, remote)) in pool.slots().iter().zip(remote).enumerate() {
            let Some(local) = pool.record(index) else {
                continue;
            };
            let remote = remote.and_then(|text| serde_json::from_str(&text).ok());
            match remote {
                Some(remote) if newer(&local, &remote) == &remote => {
                    if remote != local {
                        pool.adopt(&slot.fingerprint, &remote, "redis");
                    }
                }
                // A token nobody marked (never changed here either) needs no record.
                None if local.at_ms == 0 => {}
                _ => push.push(Change::Standing {
                    fingerprint: slot.fingerprint.clone(),
                    record: local,
                }),
            }
        }
        if !push.is_empty() {
            self.write(push).await?;
        }
        Ok(())
    }

    /// Whether the subscription still delivers: this replica's own messages come back to it, and when none did
    /// lately it pings itself. `Err` once it has been silent for `SILENT_FOR`.
    async fn listening(&mut self) -> Result<(), redis::RedisError> {
        if self.heard.elapsed() >= SILENT_FOR {
            return Err(lost(
                "the subscription went silent (this replica's own pings did not come back)",
            ));
        }
        if self.heard.elapsed() >= PING_EVERY && self.pinged.elapsed() >= PING_EVERY {
            let ping = Message::Ping {
                from: self.cluster.replica.clone(),
            };
            within(
                redis::cmd("PUBLISH")
                    .arg(self.cluster.key("events"))
                    .arg(serde_json::to_string(&ping).unwrap_or_default())
                    .query_async::<()>(&mut self.conn),
            )
            .await?;
            self.pinged = tokio::time::Instant::now();
        }
        Ok(())
    }

    /// Writes the changes' records and publishes them, in one pipeline.
    async fn write(&mut self, batch: Vec<Change>) -> Result<(), redis::RedisError> {
        let channel = self.cluster.key("events");
        let from = self.cluster.replica.clone();
        let mut pipe = redis::pipe();
        for change in batch {
            let message = match change {
                Change::Standing {
                    fingerprint,
                    record,
                } => {
                    let text = serde_json::to_string(&record).unwrap_or_default();
                    pipe.cmd("SET")
                        .arg(self.cluster.key(&format!("token:{fingerprint}")))
                        .arg(text)
                        .arg("EX")
                        .arg(RECORD_TTL_SECS)
                        .ignore();
                    Message::Standing {
                        from: from.clone(),
                        fp: fingerprint,
                        record,
                    }
                }
                Change::Operator {
                    fingerprint,
                    disabled,
                } => Message::Operator {
                    from: from.clone(),
                    fp: fingerprint,
                    disabled,
                },
                // Counts live in each replica's mirror, not in Redis: a message is all the others need.
                Change::Fault { fingerprint } => Message::Fault {
                    from: from.clone(),
                    fp: fingerprint,
                },
                Change::FaultsCleared { fingerprint } => Message::FaultsCleared {
                    from: from.clone(),
                    fp: fingerprint,
                },
            };
            let text = serde_json::to_string(&message).unwrap_or_default();
            pipe.cmd("PUBLISH").arg(&channel).arg(text).ignore();
        }
        within(pipe.query_async::<()>(&mut self.conn)).await
    }

    /// Writes and publishes the quota snapshots this replica learned since the last tick (a stream reports its
    /// quota with every answer: a tick's worth of them costs one write per token, not one per request).
    async fn quotas(&mut self, pool: &Pool) -> Result<(), redis::RedisError> {
        let learned = pool.unshared_quotas();
        if learned.is_empty() {
            return Ok(());
        }
        let channel = self.cluster.key("events");
        let mut pipe = redis::pipe();
        for (fp, quota) in learned {
            let text = serde_json::to_string(&quota).unwrap_or_default();
            pipe.cmd("EVAL")
                .arg(SET_IF_NEWER)
                .arg(1)
                .arg(self.cluster.key(&format!("quota:{fp}")))
                .arg(text)
                .arg(quota.at_ms)
                .arg(RECORD_TTL_SECS)
                .ignore();
            let message = Message::Quota {
                from: self.cluster.replica.clone(),
                fp,
                quota,
            };
            let text = serde_json::to_string(&message).unwrap_or_default();
            pipe.cmd("PUBLISH").arg(&channel).arg(text).ignore();
        }
        within(pipe.query_async::<()>(&mut self.conn)).await
    }

    /// Applies another replica's message to the pool (this replica's own come back too, and are skipped).
    async fn apply(&mut self, pool: &Pool, message: &redis::Msg) -> Result<(), redis::RedisError> {
        let Ok(text) = message.get_payload::<String>() else {
            return Ok(());
        };
        let Ok(message) = serde_json::from_str::<Message>(&text) else {
            tracing::debug!("state backend: ignored a message it does not know");
            return Ok(());
        };
        match message {
            Message::Standing { from, .. }
            | Message::Operator { from, .. }
            | Message::Jwt { from, .. }
            | Message::Quota { from, .. }
            | Message::Fault { from, .. }
            | Message::FaultsCleared { from, .. }
            | Message::Ping { from }
                if from == self.cluster.replica =>
            {
                self.heard = tokio::time::Instant::now();
            }
            Message::Ping { .. } => {}
            Message::Fault { fp, .. } => pool.adopt_fault(&fp),
            Message::FaultsCleared { fp, .. } => pool.adopt_faults_cleared(&fp),
            Message::Quota { fp, quota, .. } => {
                pool.adopt_quota(&fp, &quota);
            }
            Message::Standing { from, fp, record } => {
                pool.adopt(&fp, &record, &from);
            }
            Message::Operator { fp, disabled, .. } => pool.adopt_operator(&fp, disabled),
            Message::Jwt { fp, .. } => {
                let jwt: Option<String> = within(
                    redis::cmd("GET")
                        .arg(self.cluster.key(&format!("jwt:{fp}")))
                        .query_async(&mut self.conn),
                )
                .await?;
                if let Some(jwt) = jwt {
                    pool.adopt_jwt(&fp, SecretString::from(jwt));
                }
            }
        }
        Ok(())
    }

    /// Writes this replica's requests in flight per token (when they changed, and every heartbeat so the lease
    /// stays alive), then reads the other live replicas' into the pool.
    async fn leases(&mut self, pool: &Pool) -> Result<(), redis::RedisError> {
        let mine: HashMap<String, u32> = pool
            .slots()
            .iter()
            .filter(|s| s.inflight() > 0)
            .map(|s| (s.fingerprint.clone(), s.inflight()))
            .collect();
        let key = self.cluster.key(&format!("lease:{}", self.cluster.replica));
        let ttl_ms = REPLICA_TTL.as_millis() as u64;
        let now = crate::epoch::now_ms();
        let mut pipe = redis::pipe();
        if mine != self.leases || self.leases_written.elapsed() >= HEARTBEAT_EVERY {
            pipe.cmd("DEL").arg(&key).ignore();
            if !mine.is_empty() {
                pipe.cmd("HSET").arg(&key);
                for (fp, n) in &mine {
                    pipe.arg(fp).arg(n);
                }
                pipe.ignore();
                pipe.cmd("PEXPIRE").arg(&key).arg(ttl_ms).ignore();
            }
            self.leases = mine;
            self.leases_written = tokio::time::Instant::now();
        }
        pipe.cmd("ZRANGEBYSCORE")
            .arg(self.cluster.key("replicas"))
            .arg(now - ttl_ms as i64)
            .arg("+inf");
        let (others,): (Vec<String>,) = within(pipe.query_async(&mut self.conn)).await?;
        let others: Vec<String> = others
            .into_iter()
            .filter(|id| *id != self.cluster.replica)
            .collect();
        let mut counts: HashMap<String, u32> = HashMap::new();
        if !others.is_empty() {
            let mut pipe = redis::pipe();
            for id in &others {
                pipe.cmd("HGETALL")
                    .arg(self.cluster.key(&format!("lease:{id}")));
            }
            let leases: Vec<HashMap<String, u32>> =
                within(pipe.query_async(&mut self.conn)).await?;
            for lease in leases {
                for (fp, n) in lease {
                    *counts.entry(fp).or_default() += n;
                }
            }
        }
        pool.set_remote_inflight(&counts);
        Ok(())
    }

    /// This replica's heartbeat: its entry in `replicas` and its `replica:{id}` record (address, counters).
    async fn heartbeat(&mut self, pool: &Pool) -> Result<(), redis::RedisError> {
        let now = crate::epoch::now_ms();
        let ttl_ms = REPLICA_TTL.as_millis() as i64;
        let record = super::view::replica_record(self.cluster, pool, now);
        let mut pipe = redis::pipe();
        pipe.cmd("ZADD")
            .arg(self.cluster.key("replicas"))
            .arg(now)
            .arg(&self.cluster.replica)
            .ignore();
        // Replicas gone for a long while leave the set (the view filters the recently gone by score).
        pipe.cmd("ZREMRANGEBYSCORE")
            .arg(self.cluster.key("replicas"))
            .arg("-inf")
            .arg(now - 10 * ttl_ms)
            .ignore();
        pipe.cmd("SET")
            .arg(
                self.cluster
                    .key(&format!("replica:{}", self.cluster.replica)),
            )
            .arg(record.to_string())
            .arg("PX")
            .arg(ttl_ms)
            .ignore();
        within(pipe.query_async::<()>(&mut self.conn)).await
    }

    /// A clean stop: this replica leaves the cluster view and its leases go at once (best effort).
    async fn leave(&mut self) {
        let id = &self.cluster.replica;
        let mut pipe = redis::pipe();
        pipe.cmd("ZREM")
            .arg(self.cluster.key("replicas"))
            .arg(id)
            .ignore();
        pipe.cmd("DEL")
            .arg(self.cluster.key(&format!("replica:{id}")))
            .arg(self.cluster.key(&format!("lease:{id}")))
            .ignore();
        let _ = within(pipe.query_async::<()>(&mut self.conn)).await;
    }
}

/// A standing record outlives any until-time it holds (a year at most, `standing::later`) but not forever: a
/// token removed from every config should not leave its key behind.
const RECORD_TTL_SECS: u64 = 400 * 86_400;

/// Writes a record (ARGV[1]) unless the key holds a newer one (a larger `at_ms` than ARGV[2]): two replicas that
/// learn a token's quota within one tick leave the newer snapshot, whichever writes last. Expires after ARGV[3] s.
const SET_IF_NEWER: &str = "\
local held = redis.call('GET', KEYS[1])
if held then
  local ok, record = pcall(cjson.decode, held)
  if ok and type(record) == 'table' and tonumber(record.at_ms) and tonumber(record.at_ms) > tonumber(ARGV[2]) then
    return 0
  end
end
redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[3])
return 1";

/// A moment `d` ago (now, should the clock not go back that far).
fn ago(d: Duration) -> tokio::time::Instant {
    let now = tokio::time::Instant::now();
    now.checked_sub(d).unwrap_or(now)
}

fn lost(what: &'static str) -> redis::RedisError {
    redis::RedisError::from(std::io::Error::new(
        std::io::ErrorKind::ConnectionReset,
        what,
    ))
}
