//! The shared state's background task: connect to Redis (retrying with backoff while it is away), reconcile the
//! local mirror with what Redis holds, then until the connection fails: write and publish the pool's changes as
//! they come, apply what the other replicas publish, write the quota snapshots learned and this replica's leases
//! every tick and its heartbeat every second, and read the other replicas' leases into the pool. It reconciles
//! again when a reload brings a new pool, and reconnects when the subscription goes silent (its own pings do not
//! come back). Whatever fails, requests go on with the local mirror; one warning per outage.

mod presence;
mod state;

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use futures_util::StreamExt;
use redis::aio::MultiplexedConnection;
use tokio_util::sync::CancellationToken;

use super::{CONNECTED, Cluster, HEARTBEAT_EVERY, Message, TICK, UNREACHABLE, within};
use crate::pool::Pool;
use crate::pool::shared::Change;

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
        // No message is read while reconciling: the silence it took is not the subscription's.
        self.heard = tokio::time::Instant::now();
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
                        self.heard = tokio::time::Instant::now();
                        reconciled = Arc::clone(&pool);
                    }
                    self.listening().await?;
                    self.quotas(&pool).await?;
                    self.leases(&pool).await?;
                    if heartbeat.elapsed() >= HEARTBEAT_EVERY {
                        self.heartbeat(&pool).await?;
                        self.cluster.share_unshared(&mut self.conn).await;
                        heartbeat = tokio::time::Instant::now();
                    }
                }
            }
        }
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
}

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
